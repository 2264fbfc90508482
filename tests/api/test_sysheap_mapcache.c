/*
 * test_sysheap_mapcache.c - the system heap's freed direct mappings kept
 * for reuse (src/core/sysheap_direct.c): a freed large block's pages come
 * back for the next large request (calloc still clears them), the kept
 * bytes stay within their bound and count in port_bytes, the limit (set,
 * or from GJBMEM_HEAP_LIMIT in a forked child) gets them back when a
 * request needs the room, realloc and memalign of direct blocks still
 * work. Every test starts with nothing kept and leaves the heap valid.
 */
#define _DEFAULT_SOURCE /* setenv */
#include <errno.h>
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

#include <gjbmem/sysheap.h>

#include "errno_asserts.h"
#include "sysheap_kept.h"
#include "wordsize.h"

#define DIRECT GJBMEM_SYSHEAP_DIRECT
#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)
#define KEPT_MAX (32 * MiB) /* the bound sysheap_direct.c keeps to */

static size_t g_limit0; /* the limit the process started with */

static struct gjbmem_sysheap_stats stats(void)
{
    struct gjbmem_sysheap_stats st;
    memset(&st, 0xab, sizeof st);
    OK(gjbmem_sysheap_stats(&st));
    return st;
}

static void valid(void)
{
    OK(gjbmem_sysheap_validate());
}

static void *take(size_t n)
{
    errno = SENTINEL;
    void *p = gjbmem_malloc(n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    return p;
}

static void give(void *p)
{
    OK(gjbmem_free(p));
}

/* Writes a pattern of seed over n bytes of p / checks it. */
static void paint(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i += 509)
        c[i] = (unsigned char)(i * 31 + seed);
    c[n - 1] = (unsigned char)seed;
}

/* The pattern's sampled bytes below n (a block painted longer, then cut). */
static void expect_upto(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i += 509)
        assert_int_equal(c[i], (unsigned char)(i * 31 + seed));
}

static void expect(const void *p, size_t n, unsigned seed)
{
    expect_upto(p, n - 1, seed);
    assert_int_equal(((const unsigned char *)p)[n - 1], (unsigned char)seed);
}

static int setup(void **state)
{
    (void)state;
    drop_kept();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)gjbmem_sysheap_set_limit(g_limit0);
    drop_kept();
    return 0;
}

/* A freed large block's mapping is kept (port_bytes unchanged, no direct
 * block live) and comes back for a request of the same size. */
static void test_reuse_same_size(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats st0 = stats();
    char *p = take(MiB);
    struct gjbmem_sysheap_stats st1 = stats();
    assert_int_equal(st1.direct_blocks, st0.direct_blocks + 1);
    size_t len = st1.direct_bytes - st0.direct_bytes;
    assert_true(len >= MiB);
    give(p);
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.direct_blocks, st0.direct_blocks);
    assert_int_equal(st2.direct_bytes, st0.direct_bytes);
    assert_int_equal(st2.port_bytes, st1.port_bytes); /* kept, still held */
    assert_int_equal(kept_bytes(), len);
    valid();

    char *q = take(MiB);
    assert_ptr_equal(q, p);
    struct gjbmem_sysheap_stats st3 = stats();
    assert_int_equal(st3.port_bytes, st1.port_bytes);
    assert_int_equal(st3.direct_blocks, st1.direct_blocks);
    assert_int_equal(st3.direct_bytes, st1.direct_bytes);
    assert_int_equal(kept_bytes(), 0);
    valid();

    /* A smaller request (more than half) takes the same range whole. */
    give(q);
    q = take(MiB - 200 * KiB);
    assert_ptr_equal(q, p);
    assert_true(gjbmem_usable_size(q) >= MiB - 200 * KiB);
    assert_int_equal(stats().port_bytes, st1.port_bytes);
    give(q);
    valid();
}

/* A range over twice a request's size gives it its head and keeps the
 * tail; the two merge again when the block is freed. */
static void test_split_and_merge(void **state)
{
    (void)state;
    char *p = take(4 * MiB);
    size_t port = stats().port_bytes;
    give(p);
    size_t k = kept_bytes();
    assert_true(k >= 4 * MiB);
    char *q = take(MiB);
    assert_ptr_equal(q, p);
    size_t used = stats().direct_bytes;
    assert_true(used >= MiB && used < 2 * MiB);
    assert_int_equal(kept_bytes(), k - used); /* the tail */
    assert_int_equal(stats().port_bytes, port);
    valid();
    give(q);
    assert_int_equal(kept_bytes(), k);
    q = take(4 * MiB); /* the merged range serves the first size again */
    assert_ptr_equal(q, p);
    assert_int_equal(stats().port_bytes, port);
    give(q);
    valid();
}

/* calloc of a reused range clears it (its old bytes are not the host's
 * zero pages). */
static void test_calloc_clears_reused(void **state)
{
    (void)state;
    size_t n = 2 * MiB + 12345;
    unsigned char *p = take(n);
    memset(p, 0xA5, n);
    give(p);
    errno = SENTINEL;
    unsigned char *q = gjbmem_calloc(1, n);
    assert_non_null(q);
    assert_int_equal(errno, SENTINEL);
    assert_ptr_equal(q, p); /* reused: else this would prove nothing */
    for (size_t i = 0; i < n; i++)
        if (q[i] != 0)
            fail_msg("byte %zu of the reused block is %#x, not 0", i, q[i]);
    give(q);

    /* A grown range too: its old pages are not zero either. */
    p = take(DIRECT);
    memset(p, 0x5A, DIRECT);
    give(p);
    q = gjbmem_calloc(3, DIRECT);
    assert_non_null(q);
    for (size_t i = 0; i < 3 * DIRECT; i++)
        if (q[i] != 0)
            fail_msg("byte %zu of the grown block is %#x, not 0", i, q[i]);
    give(q);
    valid();
}

/* However many blocks of whatever sizes are freed, the kept bytes stay
 * within the bound: port_bytes exceeds what is live by at most that. */
static void test_kept_bounded(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats st0 = stats(); /* nothing kept, no direct block */
    enum { N = 48 };
    void *p[N];
    unsigned rnd = 12345;
    for (int i = 0; i < N; i++) {
        rnd = rnd * 1103515245u + 12345u;
        size_t n = DIRECT + (rnd >> 8) % (6 * MiB);
        p[i] = take(n);
        paint(p[i], n, (unsigned)i);
    }
    size_t table = 64 * KiB; /* the table of direct mappings may have grown */
    for (int i = 0; i < N; i++) {
        give(p[(i * 7) % N]);
        struct gjbmem_sysheap_stats st = stats();
        size_t k = kept_bytes();
        assert_true(k <= KEPT_MAX);
        assert_true(st.port_bytes >= st0.port_bytes + st.direct_bytes + k);
        assert_true(st.port_bytes <= st0.port_bytes + st.direct_bytes + k + table);
        assert_true(st.port_bytes - st.direct_bytes <= st0.port_bytes + KEPT_MAX + table);
    }
    assert_int_equal(stats().direct_blocks, 0);
    assert_true(kept_bytes() > 0);
    valid();

    /* A mapping above the bound is given back at once. */
    size_t before = stats().port_bytes;
    void *big = take(KEPT_MAX + MiB);
    give(big);
    assert_true(stats().port_bytes <= before);
    assert_true(kept_bytes() <= KEPT_MAX);
    valid();
}

/* The kept bytes follow the direct mappings still live: at most twice
 * them, or the range just freed (merged with the kept ranges it touches)
 * when it is larger; the oldest ranges go first. Where the host puts the
 * mappings (side by side or not) decides what merges: both cases are
 * checked as they come. */
static void test_kept_follows_live(void **state)
{
    (void)state;
    char *x = take(4 * MiB), *s = take(MiB), *y = take(MiB);
    size_t before = stats().direct_bytes;
    give(x); /* 2 MiB live: up to 4 MiB kept, x itself */
    size_t lx = before - stats().direct_bytes;
    assert_int_equal(kept_bytes(), lx);
    before = stats().direct_bytes;
    give(y); /* 1 MiB live (s): up to 2 MiB, or y's range merged with x's */
    size_t ly = before - stats().direct_bytes;
    if (x + lx == y || y + ly == x) {
        assert_int_equal(kept_bytes(), lx + ly); /* the merged range, whole */
    } else {
        assert_int_equal(kept_bytes(), ly); /* x went, the oldest */
        char *z = take(MiB);                /* y's range again */
        assert_ptr_equal(z, y);
        assert_int_equal(kept_bytes(), 0);
        give(z);
    }
    before = stats().direct_bytes;
    give(s); /* nothing live: at most what touches s, merged with it */
    size_t ls = before - stats().direct_bytes;
    assert_true(kept_bytes() >= ls && kept_bytes() <= ls + lx + ly);
    valid();
}

/* A limit that leaves too little room for a new mapping: kept ranges go
 * back to make it, and the request succeeds within the limit. */
static void test_limit_takes_kept_back(void **state)
{
    (void)state;
    char *a = take(MiB), *s = take(2 * MiB), *b = take(2 * MiB);
    give(a);
    give(b); /* two ranges kept (s, live, allows twice its size), s between them */
    size_t k = kept_bytes();
    assert_true(k >= 3 * MiB);
    size_t port = stats().port_bytes;
    size_t limit = port + MiB / 2;
    OK(gjbmem_sysheap_set_limit(limit));
    /* Beyond what giving them back would allow: refused, nothing given. */
    FAILS_NULL(gjbmem_malloc(k + MiB), ENOMEM);
    assert_int_equal(kept_bytes(), k);
    assert_int_equal(stats().port_bytes, port);
    /* Within it: more than any kept range, or one grown, can hold. */
    char *c = take(k);
    paint(c, k, 9);
    assert_int_equal(kept_bytes(), 0);
    assert_true(stats().port_bytes <= limit);
    valid();
    give(c);
    give(s);
    OK(gjbmem_sysheap_set_limit(g_limit0));
    valid();
}

/* Memalign above a page takes a kept range only when it is aligned, else
 * new pages (made room for by giving the kept ones back at the limit). */
static void test_memalign_large(void **state)
{
    (void)state;
    char *p = gjbmem_memalign(MiB, MiB);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % MiB, 0);
    paint(p, MiB, 3);
    size_t port = stats().port_bytes;
    give(p);
    char *q = gjbmem_memalign(MiB, MiB);
    assert_ptr_equal(q, p); /* the kept range is aligned */
    assert_int_equal(stats().port_bytes, port);
    give(q);
    for (size_t align = 2 * MiB; align <= 8 * MiB; align *= 2) {
        q = gjbmem_memalign(align, 3 * MiB);
        assert_non_null(q);
        assert_int_equal((uintptr_t)q % align, 0);
        paint(q, 3 * MiB, 4);
        expect(q, 3 * MiB, 4);
        give(q);
        valid();
    }
    assert_true(kept_bytes() <= KEPT_MAX);
    valid();
}

/* realloc of direct blocks, reused ones among them: contents kept through
 * growth (pages moved), a small shrink (in place), a move to the heap. */
static void test_realloc_direct(void **state)
{
    (void)state;
    char *p = take(MiB);
    give(p);
    char *q = take(MiB);
    assert_ptr_equal(q, p); /* reused */
    paint(q, MiB, 5);
    errno = SENTINEL;
    char *r = gjbmem_realloc(q, 5 * MiB);
    assert_non_null(r);
    assert_int_equal(errno, SENTINEL);
    expect(r, MiB, 5); /* its last byte too */
    paint(r, 5 * MiB, 6);
    char *s = gjbmem_realloc(r, 4 * MiB);
    assert_ptr_equal(s, r); /* shrinks a little in place */
    expect_upto(s, 4 * MiB, 6);
    size_t direct = stats().direct_blocks;
    char *t = gjbmem_realloc(s, 100 * KiB); /* to the heap */
    assert_non_null(t);
    assert_int_equal(stats().direct_blocks, direct - 1);
    expect_upto(t, 100 * KiB, 6);
    assert_true(kept_bytes() > 0);
    char *u = gjbmem_realloc(t, 3 * MiB); /* back to a (kept) direct range */
    assert_non_null(u);
    expect_upto(u, 100 * KiB, 6);
    give(u);
    valid();
}

/* --- GJBMEM_HEAP_LIMIT, in a forked child ------------------------------- */

struct limit_report {
    size_t limit, kept, kept_after, port_after;
    int aligned, got, valid;
};

/* In a child whose library has not started: a 16 MiB limit keeps at most
 * a quarter of it; a memalign that needs the kept bytes' room gets it. */
static void limit_child(struct limit_report *r)
{
    setenv("GJBMEM_HEAP_LIMIT", "16M", 1);
    void *p = gjbmem_malloc(3 * MiB);
    gjbmem_free(p);
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    r->limit = st.limit;
    r->kept = kept_bytes();
    size_t align = 2 * MiB, room = st.limit - st.port_bytes;
    size_t n = (room + r->kept / 2 - align) & ~(64 * KiB - 1);
    char *q = n > room ? NULL : gjbmem_memalign(align, n); /* needs n + align > room */
    r->got = q != NULL;
    r->aligned = q && (uintptr_t)q % align == 0;
    r->kept_after = kept_bytes();
    gjbmem_sysheap_stats(&st);
    r->port_after = st.port_bytes;
    r->valid = gjbmem_sysheap_validate() == 0;
    gjbmem_free(q);
}

static void test_env_limit(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct limit_report r;
        memset(&r, 0, sizeof r);
        close(fds[0]);
        limit_child(&r);
        exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 3);
    }
    close(fds[1]);
    struct limit_report r;
    assert_int_equal(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(r.limit, 16 * MiB);
    assert_true(r.kept >= 3 * MiB && r.kept <= 4 * MiB); /* kept, within limit / 4 */
    assert_true(r.got);
    assert_true(r.aligned);
    assert_true(r.kept_after < r.kept); /* given back for the room */
    assert_true(r.port_after <= r.limit);
    assert_true(r.valid);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_reuse_same_size),   T(test_split_and_merge),      T(test_calloc_clears_reused),
        T(test_kept_bounded),      T(test_kept_follows_live),    T(test_limit_takes_kept_back),
        T(test_memalign_large),
        T(test_realloc_direct),
    };
    const struct CMUnitTest child[] = {cmocka_unit_test(test_env_limit)};
    /* first: the forked child, before this process starts the library */
    int failed = cmocka_run_group_tests_name("sysheap_mapcache_env", child, NULL, NULL);
    g_limit0 = stats().limit;
    return failed + cmocka_run_group_tests_name("sysheap_mapcache", tests, NULL, NULL);
}
