/*
 * test_sysheap_cache.c - the system heap's thread caches
 * (gjbmem_malloc_cached, gjbmem_free_cached) in one thread: a freed small
 * block kept and handed back (same pointer, LIFO per block size, at most
 * 16 per size), kept blocks refused by every other call as already freed,
 * bad pointers refused with nothing written, direct mappings through the
 * cached calls, the statistics (kept blocks count as free), heap_mem_init
 * after the thread cached everything, a write after free over a kept
 * block, a block of an older region (the heap grew since it was
 * allocated) kept like any other with one thread and with more, and a
 * model-based random run mixing the cached and plain calls.
 *
 * The checks are bool functions (CK records the first failing line), so
 * that the same checks run in this process (FIRST_FIT) and in a forked
 * child whose library starts with GJBMEM_POLICY=buddy. The first tests
 * fork children before this process makes any gjbmem call, so that their
 * library starts fresh (a fresh first region: where blocks lie is known).
 * A child reports the failing line through a pipe.
 *
 * At hardening level 2 and above the cached calls are the plain ones: the
 * checks that need a cache are skipped there (CACHE_ON), the others run.
 */
#define _DEFAULT_SOURCE /* setenv */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/config.h>
#include <gjbmem/sysheap.h>

#include "errno_asserts.h"
#include "wordsize.h"

#define GRAIN ((size_t)_Alignof(max_align_t))
#define DIRECT GJBMEM_SYSHEAP_DIRECT
#define DEPTH 16                   /* most blocks kept per block size */
#define CACHE_MAX_BLOCK (64 * GRAIN) /* largest kept block, header included */
/* The cached calls keep blocks (below level 2, without tools). */
#define CACHE_ON (GJBMEM_HARDENING < 2 && !GJBMEM_TOOLS)

/* --- checks that record their first failure -------------------------------- */

struct verdict {
    int line; /* 0: passed */
    char what[240];
};
static struct verdict g_v;

#define CK(cond)                                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            int e_ = errno;                                                                        \
            if (!g_v.line) {                                                                       \
                g_v.line = __LINE__;                                                               \
                snprintf(g_v.what, sizeof g_v.what, "%s (errno %d)", #cond, e_);                   \
            }                                                                                      \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

/* Runs a check in this process: the cmocka test fails with its line. */
#define RUN(check)                                                                                 \
    do {                                                                                           \
        memset(&g_v, 0, sizeof g_v);                                                               \
        if (!(check))                                                                              \
            fail_msg("line %d: %s", g_v.line, g_v.what);                                           \
    } while (0)

/* Runs fn(arg) in a forked child with policy "buddy" or NULL (unset) in its
 * environment and fails with the child's verdict. Stdio is flushed first;
 * the child ends with exit (coverage counters written). */
static void in_child(bool (*fn)(int), int arg, const char *policy)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        alarm(120);
        if (policy)
            setenv("GJBMEM_POLICY", policy, 1);
        else
            unsetenv("GJBMEM_POLICY");
        memset(&g_v, 0, sizeof g_v);
        if (!fn(arg) && !g_v.line)
            g_v.line = -1;
        exit(write(fds[1], &g_v, sizeof g_v) == (ssize_t)sizeof g_v ? 0 : 3);
    }
    close(fds[1]);
    struct verdict v;
    size_t got = 0;
    for (ssize_t n; got < sizeof v && (n = read(fds[0], (char *)&v + got, sizeof v - got)) > 0;)
        got += (size_t)n;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("child killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(got, sizeof v);
    if (v.line)
        fail_msg("child (policy %s): line %d: %s", policy ? policy : "default", v.line, v.what);
}

/* --- helpers ---------------------------------------------------------------- */

static bool stats(struct gjbmem_sysheap_stats *st)
{
    memset(st, 0xab, sizeof *st);
    CK(gjbmem_sysheap_stats(st) == 0);
    CK(st->heap.used + st->heap.free == st->heap.total);
    CK(st->heap.segments == st->heap.alloc_blocks + st->heap.free_blocks);
    return true;
}

static bool valid(void)
{
    errno = SENTINEL;
    CK(gjbmem_sysheap_validate() == 0);
    CK(errno == SENTINEL);
    return true;
}

static unsigned char pat(unsigned tag, size_t i)
{
    return (unsigned char)(tag * 167u + i * 31u + (i >> 9) + 1u);
}

/* Writes (or checks) the pattern of a block of n bytes at p, at the
 * positions below lim: every byte when n <= 4 KiB, beyond that the first
 * and last 512 bytes and 8 bytes of every KiB. */
static bool touch_upto(unsigned char *p, size_t n, unsigned tag, size_t lim, bool write)
{
    for (size_t i = 0; i < n && i < lim;) {
        if (write)
            p[i] = pat(tag, i);
        else if (p[i] != pat(tag, i))
            return false;
        if (n <= 4096 || i < 512 || i + 512 >= n || i % 1024 < 7) {
            i++;
        } else {
            size_t next = (i | 1023) + 1;
            i = next < n - 512 ? next : n - 512;
        }
    }
    return true;
}

static bool touch(unsigned char *p, size_t n, unsigned tag, bool write)
{
    return touch_upto(p, n, tag, n, write);
}

static void *cmalloc(size_t n, unsigned tag)
{
    errno = SENTINEL;
    unsigned char *p = gjbmem_malloc_cached(n);
    if (p && errno == SENTINEL && (uintptr_t)p % GRAIN == 0 && gjbmem_usable_size(p) >= n) {
        touch(p, n, tag, true);
        return p;
    }
    return NULL; /* the caller's CK fails (a block given wrongly is left live) */
}

/* gjbmem_free_cached(p) succeeds and leaves errno alone. */
static bool cfree(void *p)
{
    errno = SENTINEL;
    CK(gjbmem_free_cached(p) == 0);
    CK(errno == SENTINEL);
    return true;
}

/* Makes the calling thread's cache (its first free_cached creates it and
 * frees that block to the heap) and empties the bin of requests of n
 * bytes (at most DEPTH kept: DEPTH requests take them all). */
static bool empty_bin(size_t n)
{
    void *t[DEPTH];
    void *w = gjbmem_malloc_cached(1);
    CK(w && cfree(w));
    for (int i = 0; i < DEPTH; i++)
        CK((t[i] = gjbmem_malloc_cached(n)) != NULL);
    for (int i = 0; i < DEPTH; i++)
        CK(gjbmem_free(t[i]) == 0);
    return true;
}

static struct gjbmem_error g_err; /* the last report of the error hook */
static int g_reports;

static void hook(const struct gjbmem_error *e, void *arg)
{
    (void)arg;
    g_err = *e;
    g_reports++;
}

/* --- the checks -------------------------------------------------------------- */

/* A block freed through the cache serves the next request of its size (the
 * same pointer), and every request of its bin: up to its usable size, not
 * one byte more. */
static bool check_reuse(int unused)
{
    (void)unused;
    struct gjbmem_sysheap_stats st;
    CK(stats(&st));
    size_t hdr = st.heap.header_bytes;
    for (size_t n = 1; n <= 4 * CACHE_MAX_BLOCK / 3; n += n < 64 ? 1 : 7) {
        CK(empty_bin(n));
        unsigned char *p = cmalloc(n, (unsigned)n);
        CK(p != NULL);
        size_t u = gjbmem_usable_size(p);
        bool kept = u + hdr <= CACHE_MAX_BLOCK;
        CK(cfree(p));
        unsigned char *q = cmalloc(n, 1);
        CK(q != NULL);
        if (kept)
            CK(q == p);
        CK(cfree(q));
        if (!kept)
            continue;
        q = cmalloc(u, 2); /* the most its block holds: the same bin */
        CK(q == p);
        CK(cfree(q));
        q = cmalloc(u + 1, 3); /* one more: a larger block */
        CK(q != NULL && q != p);
        CK(gjbmem_usable_size(q) >= u + 1);
        CK(gjbmem_free(q) == 0);
        CK((q = gjbmem_malloc_cached(n)) == p);
        CK(gjbmem_free(q) == 0);
    }
    return valid();
}

/* Blocks of one size come back last freed first; another size's bin is
 * apart. */
static bool check_lifo(int unused)
{
    (void)unused;
    enum { K = 6 };
    CK(empty_bin(64));
    CK(empty_bin(300));
    void *a[K], *b[K];
    for (int i = 0; i < K; i++) {
        CK((a[i] = cmalloc(64, 1)) != NULL);
        CK((b[i] = cmalloc(300, 2)) != NULL);
    }
    for (int i = 0; i < K; i++) {
        CK(cfree(a[i]));
        CK(cfree(b[K - 1 - i]));
    }
    for (int i = K - 1; i >= 0; i--)
        CK(gjbmem_malloc_cached(64) == a[i]);
    for (int i = 0; i < K; i++)
        CK(gjbmem_malloc_cached(300) == b[i]);
    for (int i = 0; i < K; i++) {
        CK(gjbmem_free(a[i]) == 0);
        CK(gjbmem_free(b[i]) == 0);
    }
    return valid();
}

/* In a fresh heap: 17 blocks of one size, one after the other before the
 * heap's free rest. The first 16 freed are kept: the statistics count
 * exactly their usable bytes free and none merged; the 17th goes to the
 * heap and merges with the free rest beside it (in a process with one
 * thread: with more, a full bin gives half its blocks back first,
 * test_threads_handback.c). */
static bool check_seventeenth(int unused)
{
    (void)unused;
    enum { N = DEPTH + 1 };
    void *w = gjbmem_malloc_cached(1); /* the thread's cache */
    CK(w && cfree(w));
    void *a[N];
    for (int i = 0; i < N; i++)
        CK((a[i] = cmalloc(100, 4)) != NULL);
    size_t u = gjbmem_usable_size(a[0]);
    struct gjbmem_sysheap_stats s0, s1, s2;
    CK(stats(&s0));
    for (int i = 0; i < DEPTH; i++)
        CK(cfree(a[i]));
    CK(stats(&s1));
    CK(s1.heap.alloc_blocks == s0.heap.alloc_blocks - DEPTH);
    CK(s1.heap.free_blocks == s0.heap.free_blocks + DEPTH);
    CK(s1.heap.segments == s0.heap.segments); /* kept: none merged */
    CK(s1.heap.free == s0.heap.free + DEPTH * u);
    CK(s1.heap.used == s0.heap.used - DEPTH * u);
    CK(cfree(a[DEPTH]));
    CK(stats(&s2));
    CK(s2.heap.alloc_blocks == s0.heap.alloc_blocks - N);
    CK(s2.heap.segments < s1.heap.segments); /* the 17th merged: not kept */
    CK(s2.heap.free >= s1.heap.free + u);
    CK(s2.heap.free_blocks <= s0.heap.free_blocks + DEPTH);
    CK(valid());
    for (int i = DEPTH - 1; i >= 0; i--)
        CK(gjbmem_malloc_cached(100) == a[i]);
    for (int i = 0; i < DEPTH; i++)
        CK(gjbmem_free(a[i]) == 0);
    CK(stats(&s2));
    CK(s2.heap.alloc_blocks == s0.heap.alloc_blocks - N);
    return valid();
}

/* A kept block freed again by any call, resized, or asked its size: refused
 * as already freed (EINVAL, the error hook told), nothing written, the
 * statistics unchanged; the block is still kept and serves the next
 * request. */
static bool check_kept_block_refused(int unused)
{
    (void)unused;
    CK(empty_bin(100));
    unsigned char *p = cmalloc(100, 5);
    CK(p != NULL);
    size_t u = gjbmem_usable_size(p);
    CK(cfree(p));
    unsigned char snap[2048];
    CK(u <= sizeof snap);
    memcpy(snap, p, u);
    struct gjbmem_sysheap_stats s0, s1;
    CK(stats(&s0));
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL) == 0);
    g_reports = 0;
    errno = SENTINEL;
    CK(gjbmem_free_cached(p) == EINVAL && errno == SENTINEL);
    CK(g_reports == 1 && g_err.addr == p && g_err.error == EINVAL && !g_err.corrupt);
    errno = 0;
    CK(gjbmem_free(p) == -1 && errno == EINVAL);
    errno = 0;
    CK(gjbmem_realloc(p, 200) == NULL && errno == EINVAL);
    errno = 0;
    CK(gjbmem_realloc(p, 50) == NULL && errno == EINVAL);
    CK(g_reports == 4 && g_err.addr == p);
    CK(gjbmem_usable_size(p) == 0);
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL) == 0);
    CK(memcmp(snap, p, u) == 0);
    CK(stats(&s1));
    CK(s1.heap.alloc_blocks == s0.heap.alloc_blocks && s1.heap.free == s0.heap.free);
    CK(s1.heap.segments == s0.heap.segments);
    CK(valid());
    if (CACHE_ON) /* still kept: the next request of its size gets it */
        CK(gjbmem_malloc_cached(100) == p);
    else
        CK((p = gjbmem_malloc_cached(100)) != NULL);
    CK(gjbmem_usable_size(p) == u);
    CK(gjbmem_free_cached(p) == 0);
    return valid();
}

/* Pointers that are no block (interior, misaligned, the stack, glibc's
 * heap, inside a direct mapping) are refused by gjbmem_free_cached with
 * EINVAL and nothing is written; NULL is a no-op. */
static bool check_bad_pointers_refused(int unused)
{
    (void)unused;
    unsigned char *p = cmalloc(200, 6), *d = cmalloc(DIRECT + 4096, 7);
    CK(p && d);
    unsigned char local[64], *g = malloc(64);
    CK(g != NULL);
    touch(local, sizeof local, 8, true);
    touch(g, 64, 9, true);
    struct gjbmem_sysheap_stats s0, s1;
    CK(stats(&s0));
    void *bad[] = {p + GRAIN, p + 1, p + 100, local, local + 16, g, d + 4096, d + GRAIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = SENTINEL;
        CK(gjbmem_free_cached(bad[i]) == EINVAL);
        CK(errno == SENTINEL); /* errno is never changed */
    }
    CK(touch(p, 200, 6, false));
    CK(touch(d, DIRECT + 4096, 7, false));
    CK(touch(local, sizeof local, 8, false));
    CK(touch(g, 64, 9, false));
    CK(stats(&s1));
    CK(s1.heap.alloc_blocks == s0.heap.alloc_blocks && s1.heap.free == s0.heap.free);
    CK(s1.direct_blocks == s0.direct_blocks);
    errno = SENTINEL;
    CK(gjbmem_free_cached(NULL) == 0 && errno == SENTINEL);
    CK(valid());
    free(g);
    CK(cfree(p) && cfree(d));
    return valid();
}

/* Requests of GJBMEM_SYSHEAP_DIRECT bytes and more through the cached
 * calls: direct mappings, counted and given back; one freed twice is
 * refused. */
static bool check_direct_mappings(int unused)
{
    (void)unused;
    struct gjbmem_sysheap_stats s0, s1;
    CK(stats(&s0));
    static const size_t sizes[] = {DIRECT, DIRECT + 1, DIRECT * 3 + 100};
    unsigned char *p[3];
    for (int i = 0; i < 3; i++)
        CK((p[i] = cmalloc(sizes[i], 10u + (unsigned)i)) != NULL);
    CK(stats(&s1));
    CK(s1.direct_blocks == s0.direct_blocks + 3);
    CK(s1.direct_bytes >= s0.direct_bytes + sizes[0] + sizes[1] + sizes[2]);
    CK(s1.heap.alloc_blocks == s0.heap.alloc_blocks);
    unsigned char *q = gjbmem_realloc(p[0], DIRECT * 2);
    CK(q != NULL && touch(q, sizes[0], 10, false));
    p[0] = q;
    for (int i = 0; i < 3; i++) {
        CK(touch(p[i], sizes[i], 10u + (unsigned)i, false));
        CK(cfree(p[i]));
    }
    CK(stats(&s1));
    CK(s1.direct_blocks == s0.direct_blocks && s1.direct_bytes == s0.direct_bytes);
    errno = 0;
    CK(gjbmem_free_cached(p[1]) == EINVAL);
    return valid();
}

/* alloc_blocks counts the blocks given out (from the cache or not), used +
 * free stays the total; a kept block moves exactly its usable bytes from
 * used to free, and merges with nothing. */
static bool check_stats_counting(int unused)
{
    (void)unused;
    enum { N = 48 };
    static const size_t sizes[] = {1, 24, 48, 100, 250, 400, 496, 900};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        CK(empty_bin(sizes[k]));
    struct gjbmem_sysheap_stats s0, s, t;
    CK(stats(&s0));
    void *p[N];
    for (int i = 0; i < N; i++) {
        CK((p[i] = cmalloc(sizes[i % 8], (unsigned)i)) != NULL);
        CK(stats(&s));
        CK(s.heap.alloc_blocks == s0.heap.alloc_blocks + (size_t)i + 1);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            size_t u = gjbmem_usable_size(p[i]);
            bool kept = CACHE_ON && u + s.heap.header_bytes <= CACHE_MAX_BLOCK;
            CK(cfree(p[i]));
            CK(stats(&t));
            CK(t.heap.alloc_blocks == s0.heap.alloc_blocks + (size_t)(N - i - 1));
            if (kept) {
                CK(t.heap.free == s.heap.free + u && t.heap.used == s.heap.used - u);
                CK(t.heap.segments == s.heap.segments);
            }
            s = t;
        }
        for (int i = 0; i < N; i++) /* again, now mostly from the cache */
            CK((p[i] = cmalloc(sizes[i % 8], (unsigned)i)) != NULL);
        CK(stats(&s));
        CK(s.heap.alloc_blocks == s0.heap.alloc_blocks + N);
    }
    for (int i = 0; i < N; i++)
        CK(cfree(p[i]));
    CK(stats(&s));
    CK(s.heap.alloc_blocks == s0.heap.alloc_blocks);
    struct meminfo mi;
    CK(mem_getinfo(&mi) == 0);
    CK(mi.used == s.heap.used && mi.free == s.heap.free && mi.maxused >= mi.used);
    return valid();
}

/* A thread that freed all its blocks into its cache may switch the policy:
 * heap_mem_init gives its cache back first. With a block live: EBUSY. */
static bool check_policy_switch_after_caching(int unused)
{
    (void)unused;
    struct gjbmem_sysheap_stats st;
    CK(stats(&st));
    CK(st.heap.alloc_blocks == 0 && st.direct_blocks == 0);
    int from = st.policy, to = from == BUDDY_ALLOCATION ? FIRST_FIT_ALLOCATION : BUDDY_ALLOCATION;
    void *p[40];
    for (int i = 0; i < 40; i++)
        CK((p[i] = cmalloc(1 + (size_t)i * 11, (unsigned)i)) != NULL);
    for (int i = 0; i < 40; i++)
        CK(cfree(p[i]));
    void *live = gjbmem_malloc(10);
    CK(live != NULL);
    errno = 0;
    CK(heap_mem_init(to) == -1 && errno == EBUSY);
    CK(gjbmem_free(live) == 0);
    for (int i = 0; i < 40; i++)
        CK((p[i] = cmalloc(1 + (size_t)i * 11, (unsigned)i)) != NULL);
    for (int i = 0; i < 40; i++)
        CK(cfree(p[i]));
    errno = SENTINEL;
    CK(heap_mem_init(to) == 0 && errno == SENTINEL);
    CK(stats(&st));
    CK(st.policy == to && st.heap.alloc_blocks == 0);
    CK(valid());
    for (int i = 0; i < 40; i++) /* the cache under the new policy */
        CK((p[i] = cmalloc(1 + (size_t)i * 11, (unsigned)i)) != NULL);
    for (int i = 0; i < 40; i++)
        CK(touch(p[i], 1 + (size_t)i * 11, (unsigned)i, false) && cfree(p[i]));
    void *q = cmalloc(77, 1);
    CK(q && cfree(q));
    if (CACHE_ON)
        CK(gjbmem_malloc_cached(77) == q);
    else
        CK((q = gjbmem_malloc_cached(77)) != NULL);
    CK(cfree(q));
    CK(valid());
    CK(heap_mem_init(from) == 0);
    CK(stats(&st));
    CK(st.policy == from && st.heap.alloc_blocks == 0);
    return valid();
}

/* A write after free over a kept block's first 16 bytes: validate reports
 * damage; the next request of its size does not get it (a distinct, whole
 * block from the heap) and the error hook hears of it (corrupt). */
static bool check_write_after_free(int unused)
{
    (void)unused;
    CK(empty_bin(100));
    unsigned char *keep = cmalloc(100, 1), *p = cmalloc(100, 2);
    CK(keep && p);
    /* the requests of p's bin: the heap may have given p a larger block
     * than 100 bytes need (a free block taken whole), which another bin
     * keeps */
    size_t n = gjbmem_usable_size(p);
    CK(cfree(p));
    CK(valid());
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL) == 0);
    g_reports = 0;
    memset(p, 0x5a, 16); /* the write after free */
    errno = 0;
    CK(gjbmem_sysheap_validate() == -1 && errno == ERROR_KERNEL_MEMORY);
    CK(g_reports == 1 && g_err.corrupt && g_err.error == ERROR_KERNEL_MEMORY);
    errno = SENTINEL;
    unsigned char *q = gjbmem_malloc_cached(n);
    CK(q != NULL && errno == SENTINEL);
    CK(q != p && q != keep);
    CK(gjbmem_usable_size(q) >= n);
    CK(g_reports == 2 && g_err.corrupt && g_err.addr == p);
    CK(g_err.call && strcmp(g_err.call, "gjbmem_malloc_cached") == 0);
    touch(q, n, 3, true);
    CK(touch(keep, 100, 1, false));
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL) == 0);
    /* The damaged block left the cache (left allocated): the cache and the
     * heap are whole again. */
    CK(valid());
    CK(cfree(q) && cfree(keep));
    return valid();
}

/* FIRST_FIT: a block whose header was overwritten with a larger size that
 * lands inside the next block (an overflow from the block before) is not
 * kept: gjbmem_free_cached refuses it as gjbmem_free does (damage, through
 * the error policy), and no later request gets it. With its header
 * mended, it is freed as any block. */
static bool check_damaged_size_not_kept(int unused)
{
    (void)unused;
    struct gjbmem_sysheap_stats st;
    CK(stats(&st));
    if (st.policy != FIRST_FIT_ALLOCATION)
        return true; /* BUDDY keeps no size in the block */
    CK(empty_bin(100));
    unsigned char *a = gjbmem_malloc(100), *b = gjbmem_malloc(100);
    CK(a && b);
    size_t hdr, s = (size_t)(b - a); /* a's block, when b follows it */
    memcpy(&hdr, a - sizeof hdr, sizeof hdr);
    CK(b > a && (hdr & ~(size_t)7) == s); /* neighbours, in this child's fresh heap */
    memset(b, 0, 64);
    size_t bad = (hdr & 7) | (s + 2 * GRAIN); /* ends inside b */
    memcpy(a - sizeof bad, &bad, sizeof bad);
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL) == 0);
    g_reports = 0;
    errno = SENTINEL;
    int err = gjbmem_free_cached(a);
    CK(err != 0 && errno == SENTINEL);
    CK(g_reports == 1 && g_err.corrupt && g_err.addr == a);
    void *q[DEPTH];
    for (int i = 0; i < DEPTH; i++) { /* a's bin and the damaged size's: never a */
        CK((q[i] = gjbmem_malloc_cached(i % 2 ? 100 : s + 2 * GRAIN - GRAIN)) != NULL);
        CK(q[i] != a);
    }
    for (int i = 0; i < DEPTH; i++)
        CK(cfree(q[i]));
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL) == 0);
    memcpy(a - sizeof hdr, &hdr, sizeof hdr); /* mended */
    CK(valid());
    CK(cfree(a) && cfree(b));
    return valid();
}

/* --- the model-based random run ---------------------------------------------- */

#define SLOTS 64
struct mslot {
    unsigned char *p;
    size_t n;
    unsigned tag;
};

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

static size_t rsize(uint64_t *s)
{
    uint64_t r = rnd(s);
    if (r % 500 == 0)
        return DIRECT + (size_t)(r >> 20) % (300 * 1024);
    return 1 + (size_t)(r >> 12) % 2000;
}

/* Random malloc_cached / free_cached / realloc / free on random sizes,
 * every block's pattern checked when it is freed or resized; every 97
 * steps validate and the live count (heap blocks plus direct mappings)
 * against the model. */
static bool check_model_random(int steps)
{
    static struct mslot m[SLOTS];
    memset(m, 0, sizeof m);
    uint64_t seed = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(unsigned)steps;
    struct gjbmem_sysheap_stats s0, st;
    CK(stats(&s0));
    size_t live = 0;
    for (int step = 0; step < steps; step++) {
        struct mslot *s = &m[rnd(&seed) % SLOTS];
        unsigned op = (unsigned)(rnd(&seed) % 4);
        if (!s->p) {
            size_t n = rsize(&seed);
            unsigned tag = (unsigned)rnd(&seed);
            if (op == 3) { /* realloc(NULL, n) */
                errno = SENTINEL;
                s->p = gjbmem_realloc(NULL, n);
                CK(s->p && errno == SENTINEL && gjbmem_usable_size(s->p) >= n);
                touch(s->p, n, tag, true);
            } else {
                CK((s->p = cmalloc(n, tag)) != NULL);
            }
            s->n = n;
            s->tag = tag;
            live++;
        } else if (op == 0 || op == 1) {
            CK(touch(s->p, s->n, s->tag, false));
            if (op == 0)
                CK(cfree(s->p));
            else
                CK(gjbmem_free(s->p) == 0);
            s->p = NULL;
            live--;
        } else {
            size_t n = rsize(&seed);
            CK(touch(s->p, s->n, s->tag, false));
            errno = SENTINEL;
            unsigned char *q = gjbmem_realloc(s->p, n);
            CK(q && errno == SENTINEL && gjbmem_usable_size(q) >= n);
            CK(touch_upto(q, s->n, s->tag, n, false)); /* what was kept */
            s->p = q;
            s->n = n;
            s->tag = (unsigned)rnd(&seed);
            touch(q, n, s->tag, true);
        }
        if (step % 97 == 0 || step == steps - 1) {
            CK(valid());
            CK(stats(&st));
            CK(st.heap.alloc_blocks + st.direct_blocks ==
               s0.heap.alloc_blocks + s0.direct_blocks + live);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (m[i].p) {
            CK(touch(m[i].p, m[i].n, m[i].tag, false));
            CK(i % 2 ? cfree(m[i].p) : gjbmem_free(m[i].p) == 0);
            m[i].p = NULL;
        }
    CK(stats(&st));
    CK(st.heap.alloc_blocks == s0.heap.alloc_blocks && st.direct_blocks == s0.direct_blocks);
    return valid();
}

/* Every check in turn (a fresh heap: check_seventeenth first). */
static bool check_all(int steps)
{
    if (CACHE_ON) {
        CK(check_seventeenth(0));
        CK(check_reuse(0));
        CK(check_lifo(0));
    }
    CK(check_kept_block_refused(0));
    CK(check_bad_pointers_refused(0));
    CK(check_direct_mappings(0));
    CK(check_stats_counting(0));
    CK(check_model_random(steps));
    if (CACHE_ON)
        CK(check_write_after_free(0)); /* last: leaves the damaged block allocated */
    return true;
}

/* A block of an older region (the heap grew since it was allocated: not
 * the hot region) freed through the cache: proved as any other, without
 * the lock in a process with one thread and under it with more (threads:
 * a thread started and joined first), kept and served back to requests up
 * to its usable size; freed again or by an interior pointer it is refused
 * with nothing changed, and realloc within its block keeps it in place. */
static void *idle(void *arg)
{
    return arg;
}

static bool check_older_region(int threads)
{
    pthread_t t;
    if (threads)
        CK(pthread_create(&t, NULL, idle, NULL) == 0 && pthread_join(t, NULL) == 0);
    CK(empty_bin(100));
    unsigned char *a = cmalloc(100, 7), *r = cmalloc(200, 8);
    CK(a != NULL && r != NULL);
    size_t u = gjbmem_usable_size(a);
    struct gjbmem_sysheap_stats s0, s1;
    CK(stats(&s0));
    enum { FILL = 4096 };
    static void *fill[FILL]; /* blocks too large for a bin, until the heap grows */
    size_t n = 0;
    do {
        CK(n < FILL && (fill[n] = gjbmem_malloc(3000)) != NULL);
        n++;
        CK(stats(&s1));
    } while (s1.port_bytes == s0.port_bytes);
    CK(s1.direct_blocks == s0.direct_blocks); /* it grew by a region */
    CK(cfree(a));
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL) == 0);
    g_reports = 0;
    errno = SENTINEL;
    CK(gjbmem_free_cached(a) == EINVAL && errno == SENTINEL); /* kept: freed already */
    CK(gjbmem_free_cached(a + GRAIN) == EINVAL && errno == SENTINEL); /* interior */
    CK(g_reports == 2 && g_err.addr == a + GRAIN);
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL) == 0);
    CK(valid());
    if (CACHE_ON) {
        CK(gjbmem_malloc_cached(u) == a); /* the most its block holds */
        CK(cfree(a));
        unsigned char *b = cmalloc(u + 1, 9); /* one more: another block */
        CK(b != NULL && b != a);
        CK(cfree(b));
    }
    CK((a = cmalloc(100, 10)) != NULL && gjbmem_usable_size(a) == u);
    CK(gjbmem_realloc(r, 150) == r && touch(r, 150, 8, false));
    CK(cfree(a) && cfree(r));
    while (n)
        CK(gjbmem_free(fill[--n]) == 0);
    return valid();
}

/* --- the tests ---------------------------------------------------------------- */

/* First (this process has made no gjbmem call yet): children whose library
 * starts fresh, under each policy. */
static void fresh_first_fit_all_checks(void **state)
{
    (void)state;
    in_child(check_all, 5000, NULL);
}

static void fresh_buddy_from_environment_all_checks(void **state)
{
    (void)state;
    in_child(check_all, 5000, "buddy");
}

static void skip_without_cache(void)
{
    if (!CACHE_ON) /* level 2+ (or tools): the cached calls are the plain ones */
        skip();
}

static void reuse_returns_same_pointer(void **state)
{
    (void)state;
    skip_without_cache();
    RUN(check_reuse(0));
}

static void lifo_per_bin(void **state)
{
    (void)state;
    skip_without_cache();
    RUN(check_lifo(0));
}

static void kept_block_refused_by_every_call(void **state)
{
    (void)state;
    RUN(check_kept_block_refused(0));
}

static void interior_and_foreign_pointers_refused(void **state)
{
    (void)state;
    RUN(check_bad_pointers_refused(0));
}

static void direct_mappings_through_cached_calls(void **state)
{
    (void)state;
    RUN(check_direct_mappings(0));
}

static void stats_count_kept_blocks_as_free(void **state)
{
    (void)state;
    RUN(check_stats_counting(0));
}

static void model_random_first_fit(void **state)
{
    (void)state;
    RUN(check_model_random(20000));
}

static void policy_switch_after_freeing_into_cache(void **state)
{
    (void)state;
    in_child(check_policy_switch_after_caching, 0, NULL);
}

static void write_after_free_over_kept_block(void **state)
{
    (void)state;
    skip_without_cache();
    in_child(check_write_after_free, 0, NULL);
}

static void older_region_one_thread(void **state)
{
    (void)state;
    in_child(check_older_region, 0, NULL);
}

static void older_region_threads(void **state)
{
    (void)state;
    in_child(check_older_region, 1, NULL);
}

static void older_region_buddy(void **state)
{
    (void)state;
    in_child(check_older_region, 0, "buddy");
}

static void older_region_buddy_threads(void **state)
{
    (void)state;
    in_child(check_older_region, 1, "buddy");
}

static void damaged_size_not_kept(void **state)
{
    (void)state;
    skip_without_cache();
    in_child(check_damaged_size_not_kept, 0, NULL);
}

static void seventeenth_block_goes_to_heap_buddy(void **state)
{
    (void)state;
    skip_without_cache();
    in_child(check_seventeenth, 0, "buddy"); /* a fresh heap: no gjbmem call here yet */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: forked children whose library has not started */
        cmocka_unit_test(seventeenth_block_goes_to_heap_buddy),
        cmocka_unit_test(older_region_buddy),
        cmocka_unit_test(older_region_buddy_threads),
        cmocka_unit_test(older_region_one_thread),
        cmocka_unit_test(older_region_threads),
        cmocka_unit_test(fresh_first_fit_all_checks),
        cmocka_unit_test(fresh_buddy_from_environment_all_checks),
        /* then this process's own heap (FIRST_FIT) */
        cmocka_unit_test(reuse_returns_same_pointer),
        cmocka_unit_test(damaged_size_not_kept),
        cmocka_unit_test(lifo_per_bin),
        cmocka_unit_test(kept_block_refused_by_every_call),
        cmocka_unit_test(interior_and_foreign_pointers_refused),
        cmocka_unit_test(direct_mappings_through_cached_calls),
        cmocka_unit_test(stats_count_kept_blocks_as_free),
        cmocka_unit_test(model_random_first_fit),
        cmocka_unit_test(policy_switch_after_freeing_into_cache),
        cmocka_unit_test(write_after_free_over_kept_block),
    };
    return cmocka_run_group_tests_name("sysheap_cache", tests, NULL, NULL);
}
