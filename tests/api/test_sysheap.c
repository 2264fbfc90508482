/*
 * test_sysheap.c - the system heap against SPEC sections 2, 4 and 7:
 * heap_mem_init, mem_findmax, mem_getinfo, mem_show and the allocation
 * interface of <gjbmem/sysheap.h> (malloc, calloc, memalign, realloc, free,
 * usable_size, the limit, growth, direct mappings, added memory), fault
 * injection in the port's page supply, interrupt and user context, and the
 * boundary between the system heap and the partitions.
 *
 * The system heap is process-global: every test frees all it took (the
 * teardown frees whatever a failed test left), so that the next group can
 * switch policy. The allocation tests run twice, under FIRST_FIT and under
 * BUDDY (group setups call heap_mem_init). The groups that add memory to the
 * heap for good, and the regression group, run last.
 *
 * This program's own memory comes from glibc malloc; the system heap is only
 * reached through gjbmem_* calls.
 *
 * The last group, sysheap_regressions, holds one test per library bug found
 * while writing this file (each explained above it), now fixed. The last of
 * them would leave a block live for good if its bug came back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"

#include <gjbext.h>
#include <gjbmem/fault.h>
#include <gjbmem/posix.h>
#include <gjbmem/sysheap.h>
#include <gjbmem/vmm.h>

#include "errno_asserts.h"
#include "levels.h"
#include "show_text.h"
#include "sysheap_kept.h"
#include "wordsize.h"
#undef FAILS_NULL /* its own version below holds a block given by mistake */
#define GRAIN ((uintptr_t)_Alignof(max_align_t))
#define DIRECT GJBMEM_SYSHEAP_DIRECT
/* Bytes of a block's guard word from hardening level 2 (src/core/guard.h). */
#define GUARD (GJBMEM_HARDENING >= 2 ? sizeof(uintptr_t) : (size_t)0)
#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* For gjbmem_* allocating calls: a block given by mistake is held, so that
 * the teardown frees it and the next tests start from an empty heap. */
#define FAILS_NULL(call, err)                                                                     \
    do {                                                                                          \
        errno = 0;                                                                                \
        void *r_ = (call);                                                                        \
        if (r_)                                                                                   \
            hold_unexpected(r_);                                                                  \
        assert_null(r_);                                                                          \
        assert_int_equal(errno, (err));                                                           \
    } while (0)

static void hold_unexpected(void *p);

static size_t g_limit0; /* the limit the process started with */
static size_t g_page;

/* --- statistics and validation ------------------------------------------------ */

static struct gjbmem_sysheap_stats stats(void)
{
    struct gjbmem_sysheap_stats st;
    memset(&st, 0xab, sizeof st);
    OK(gjbmem_sysheap_stats(&st));
    return st;
}

static struct meminfo info(void)
{
    struct meminfo mi;
    memset(&mi, 0xab, sizeof mi);
    OK(mem_getinfo(&mi));
    assert_true(mi.maxused >= mi.used);
    return mi;
}

static void valid(void)
{
    errno = SENTINEL;
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(errno, SENTINEL);
}

static int findmax(void)
{
    errno = SENTINEL;
    int m = mem_findmax();
    assert_int_equal(errno, SENTINEL);
    assert_true(m >= 0);
    return m;
}

static size_t clamp_int(size_t v)
{
    return v > INT_MAX ? INT_MAX : v;
}

/* What mem_findmax says when the largest free block has `largest` payload
 * bytes: all of them, less the guard word from level 2. */
static size_t findmax_of(size_t largest)
{
    return clamp_int(largest > GUARD ? largest - GUARD : 0);
}

/* No block of the system heap is live: the state every test must leave. */
static void assert_empty(void)
{
    struct gjbmem_sysheap_stats st = stats();
    assert_int_equal(st.heap.alloc_blocks, 0);
    assert_int_equal(st.direct_blocks, 0);
    assert_int_equal(st.direct_bytes, 0);
    valid();
}

/* --- contents: dense for small blocks, sampled for large ones ----------------- */

static unsigned char pat(unsigned seed, size_t i)
{
    return (unsigned char)(seed * 167u + i * 31u + (i >> 9) + 1u);
}

/* Writes (or checks) the pattern of a block of n bytes, at the positions
 * below lim: every byte when n <= 4 KiB, else the first and last 512 bytes
 * and 8 bytes of every KiB. Returns false on the first mismatch. */
static bool touch(char *p, size_t n, unsigned seed, size_t lim, bool write)
{
    for (size_t i = 0; i < n && i < lim;) {
        if (write)
            p[i] = (char)pat(seed, i);
        else if ((unsigned char)p[i] != pat(seed, i))
            return false;
        if (n <= 4096 || i < 512 || i + 512 >= n || i % 1024 < 7) {
            i++;
        } else { /* on to the next KiB, or to the last 512 bytes */
            size_t next = (i | 1023) + 1;
            i = next < n - 512 ? next : n - 512;
        }
    }
    return true;
}

static void paint(void *p, size_t n, unsigned seed)
{
    touch(p, n, seed, n, true);
}

static void expect(const void *p, size_t n, unsigned seed)
{
    assert_true(touch((char *)p, n, seed, n, false));
}

/* Checks the first lim bytes of what was painted as a block of n bytes. */
static void expect_upto(const void *p, size_t n, unsigned seed, size_t lim)
{
    assert_true(touch((char *)p, n, seed, lim, false));
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

/* --- blocks the current test holds ----------------------------------------------- */

#define MAXHELD 32768
static struct held {
    char *p;
    size_t n;
    unsigned seed;
} held[MAXHELD];
static size_t nheld;
static unsigned next_seed = 1;

static struct held *hold(void *p, size_t n)
{
    assert_true(nheld < MAXHELD);
    struct held *h = &held[nheld++];
    *h = (struct held){p, n, next_seed++};
    paint(p, n, h->seed);
    return h;
}

/* Records a block whose contents the test looks after itself, so that the
 * teardown frees it should the test fail. */
static void track(void *p)
{
    assert_non_null(p);
    hold(p, 0);
}

static void hold_unexpected(void *p)
{
    if (nheld < MAXHELD)
        held[nheld++] = (struct held){p, 0, 0};
}

static size_t find_held(const void *p)
{
    for (size_t i = 0; i < nheld; i++)
        if (held[i].p == p)
            return i;
    fail_msg("%p is not held", p);
    return 0;
}

/* Forgets p without freeing it (it was freed or moved by the call tested). */
static void forget(const void *p)
{
    size_t i = find_held(p);
    held[i] = held[--nheld];
}

static void check_all_held(void)
{
    for (size_t i = 0; i < nheld; i++)
        expect(held[i].p, held[i].n, held[i].seed);
}

/* Checks the checks every successful allocation gets. */
static void good_block(const void *p, size_t n)
{
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal((uintptr_t)p % GRAIN, 0);
    assert_true(gjbmem_usable_size(p) >= n);
}

/* Holds the new block p of n bytes (held before it is checked, so that the
 * teardown frees it should a check fail) and paints it. */
static char *keep(void *p, size_t n)
{
    assert_non_null(p);
    int err = errno;
    struct held *h = hold(p, 0);
    errno = err;
    good_block(p, n);
    h->n = n;
    paint(p, n, h->seed);
    return p;
}

/* p was resized to q (non-NULL) of n bytes: q replaces p in the held list,
 * then is checked (its old contents up to n bytes) and repainted. */
static char *resized(void *p, void *q, size_t n)
{
    assert_non_null(q);
    int err = errno;
    size_t i = find_held(p);
    struct held old = held[i];
    held[i].p = q;
    held[i].n = 0;
    errno = err;
    good_block(q, n);
    expect_upto(q, old.n, old.seed, n);
    held[i].n = n;
    held[i].seed = next_seed++;
    paint(q, n, held[i].seed);
    return q;
}

static char *take(size_t n)
{
    errno = SENTINEL;
    return keep(gjbmem_malloc(n), n);
}

/* gjbmem_malloc that may fail with ENOMEM (NULL then). */
static char *try_take(size_t n)
{
    errno = SENTINEL;
    char *p = gjbmem_malloc(n);
    if (!p) {
        assert_int_equal(errno, ENOMEM);
        return NULL;
    }
    return keep(p, n);
}

static char *take_aligned(size_t align, size_t n)
{
    errno = SENTINEL;
    char *p = keep(gjbmem_memalign(align, n), n);
    assert_int_equal((uintptr_t)p % align, 0);
    return p;
}

/* Frees a held block after checking its contents. */
static void give(void *p)
{
    size_t i = find_held(p);
    expect(p, held[i].n, held[i].seed);
    OK(gjbmem_free(p));
    held[i] = held[--nheld];
    assert_int_equal(gjbmem_usable_size(p), 0);
}

/* Frees every held block (contents checked), newest first. */
static void give_all(void)
{
    while (nheld) {
        struct held h = held[--nheld];
        expect(h.p, h.n, h.seed);
        OK(gjbmem_free(h.p));
    }
}

/* Fills the heap: requests of size bytes until one is refused, then of half
 * that, and so on down to two words (16 bytes on LP64, 8 on ILP32: a request
 * that a minimum FIRST_FIT block, four words with its header and from level
 * 2 its guard word, holds); returns how many were taken. With the limit at
 * what the heap holds (or fault injection on) this leaves no free block that
 * can serve even malloc(1). */
static size_t fill_heap(size_t size)
{
    size_t n = 0;
    for (; size >= 2 * sizeof(size_t); size /= 2)
        while (try_take(size))
            n++;
    return n;
}

/* --- partitions the current test owns ----------------------------------------- */

static mpart_id parts[8];
static struct {
    char *mem;
    size_t size;
} part_area[8];
static int nparts;

static mpart_id make_part(void *mem, size_t size)
{
    mpart_id mid = 0;
    OK(mpart_create(mem, size, &mid));
    assert_true(mid != 0);
    assert_true(nparts < (int)(sizeof parts / sizeof parts[0]));
    part_area[nparts].mem = mem;
    part_area[nparts].size = size;
    parts[nparts++] = mid;
    return mid;
}

static void drop_part(mpart_id mid)
{
    OK(mpart_delete(mid));
    for (int i = 0; i < nparts; i++)
        if (parts[i] == mid) {
            --nparts;
            parts[i] = parts[nparts];
            part_area[i] = part_area[nparts];
        }
}

/* After a failed test: offers every granule of a partition's memory to
 * mpart_free (it refuses what is no live block), then deletes it. */
static void drop_part_anyway(int i)
{
    if (mpart_delete(parts[i]) != 0) {
        for (size_t off = 0; off < part_area[i].size; off += GRAIN)
            (void)mpart_free(parts[i], part_area[i].mem + off);
        (void)mpart_delete(parts[i]);
    }
}

/* --- fixtures ------------------------------------------------------------------ */

static int cleanup(void **state)
{
    (void)state;
    gjbmem_posix_set_isr(0);
    gjbmem_posix_set_user(0);
    gjbmem_fault_reset();
    while (nparts)
        drop_part_anyway(--nparts);
    while (nheld)
        (void)gjbmem_free(held[--nheld].p);
    (void)gjbmem_sysheap_set_limit(g_limit0);
    drop_kept(); /* the next test's limits count only what it holds */
    return 0;
}

static int use_first_fit(void **state)
{
    (void)state;
    if (heap_mem_init(FIRST_FIT_ALLOCATION) != 0)
        return -1;
    struct gjbmem_sysheap_stats st;
    return gjbmem_sysheap_stats(&st) == 0 && st.policy == FIRST_FIT_ALLOCATION ? 0 : -1;
}

static int use_buddy(void **state)
{
    (void)state;
    if (heap_mem_init(BUDDY_ALLOCATION) != 0)
        return -1;
    struct gjbmem_sysheap_stats st;
    return gjbmem_sysheap_stats(&st) == 0 && st.policy == BUDDY_ALLOCATION ? 0 : -1;
}

static void check_info(struct meminfo mi);

/* Memory that is no block of the system heap. */
static _Alignas(64) char not_heap[4096];

/* ============================================================================ */
/* heap_mem_init                                                                 */
/* ============================================================================ */

static void test_init_default_and_flags(void **state)
{
    (void)state;
    assert_empty();
    const char *env = getenv("GJBMEM_POLICY");
    if (!env) /* never called: FIRST_FIT */
        assert_int_equal(stats().policy, FIRST_FIT_ALLOCATION);
    OK(heap_mem_init(FIRST_FIT_ALLOCATION));
    OK(heap_mem_init(FIRST_FIT_ALLOCATION)); /* the same flag: a no-op */
    assert_int_equal(stats().policy, FIRST_FIT_ALLOCATION);

    static const int bad[] = {2, -1, 100, 3, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS(heap_mem_init(bad[i]), EINVAL);
        assert_int_equal(stats().policy, FIRST_FIT_ALLOCATION);
    }
    OK(heap_mem_init(BUDDY_ALLOCATION));
    OK(heap_mem_init(BUDDY_ALLOCATION));
    assert_int_equal(stats().policy, BUDDY_ALLOCATION);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS(heap_mem_init(bad[i]), EINVAL);
        assert_int_equal(stats().policy, BUDDY_ALLOCATION);
    }
    OK(heap_mem_init(FIRST_FIT_ALLOCATION));
    assert_empty();
}

/* Back and forth while empty, with the heap in use between the switches. */
static void test_init_switch_when_empty(void **state)
{
    (void)state;
    size_t regions = 0, total = 0;
    for (int round = 0; round < 6; round++) {
        int flag = round % 2 ? BUDDY_ALLOCATION : FIRST_FIT_ALLOCATION;
        OK(heap_mem_init(flag));
        struct gjbmem_sysheap_stats st = stats();
        assert_int_equal(st.policy, flag);
        valid();
        char *a = take(100), *b = take(5000), *c = take(40000);
        assert_int_equal(stats().heap.alloc_blocks, 3);
        give(b);
        give(a);
        give(c);
        assert_empty();
        assert_int_equal(stats().policy, flag);
        /* Switching keeps the heap's memory: no growth after the first round. */
        st = stats();
        if (round == 0) {
            regions = st.heap.regions;
            total = st.heap.total;
            assert_true(regions >= 1);
        }
        assert_int_equal(st.heap.regions, regions);
        assert_int_equal(st.heap.total, total);
        check_info(info());
    }
    OK(heap_mem_init(FIRST_FIT_ALLOCATION));
}

static void test_init_busy(void **state)
{
    (void)state;
    for (int from = 0; from < 2; from++) {
        int to = !from;
        OK(heap_mem_init(from));
        /* A live heap block. */
        char *p = take(300);
        FAILS(heap_mem_init(to), EBUSY);
        assert_int_equal(stats().policy, from);
        OK(heap_mem_init(from)); /* the same flag: still a no-op */
        assert_int_equal(errno, SENTINEL);
        expect(p, 300, held[find_held(p)].seed);
        assert_true(gjbmem_usable_size(p) >= 300);
        valid();
        give(p);

        /* Only a live direct mapping. */
        char *d = take(DIRECT);
        struct gjbmem_sysheap_stats st = stats();
        assert_int_equal(st.heap.alloc_blocks, 0);
        assert_int_equal(st.direct_blocks, 1);
        FAILS(heap_mem_init(to), EBUSY);
        assert_int_equal(stats().policy, from);
        valid();
        give(d);

        /* A refused switch changed nothing: now it succeeds. */
        OK(heap_mem_init(to));
        assert_int_equal(stats().policy, to);
        OK(heap_mem_init(from));
        assert_int_equal(stats().policy, from);
    }
    OK(heap_mem_init(FIRST_FIT_ALLOCATION));
    assert_empty();
}

static void test_init_buddy_blocks(void **state)
{
    (void)state;
    ONLY_AT_LEVEL_1(); /* usable sizes = BUDDY's power-of-two blocks */
    OK(heap_mem_init(BUDDY_ALLOCATION));
    char *p = take(4096);
    assert_int_equal((uintptr_t)p % 4096, 0);
    assert_int_equal(gjbmem_usable_size(p), 4096);
    char *q = take(8000); /* powers of two, no header */
    assert_int_equal((uintptr_t)q % 8192, 0);
    assert_int_equal(gjbmem_usable_size(q), 8192);
    /* 1 KiB to 64 KiB: a slot of a slab (16 classes per power of two),
     * unless the class is a power of two; memalign still aligns */
    char *slot = take(4097);
    assert_int_equal((uintptr_t)slot % 16, 0);
    assert_int_equal(gjbmem_usable_size(slot), 4352);
    char *m = gjbmem_memalign(8192, 4097);
    assert_non_null(m);
    assert_int_equal((uintptr_t)m % 8192, 0);
    assert_int_equal(gjbmem_usable_size(m), 8192);
    assert_int_equal(gjbmem_free(m), 0);
    char *r = take(1);
    assert_int_equal(gjbmem_usable_size(r), stats().heap.min_block);
    assert_int_equal(stats().heap.header_bytes, 0);
    valid();
    give(p);
    give(q);
    give(r);
    give(slot); /* (its slab goes with its last slot: nothing is left) */
    OK(heap_mem_init(FIRST_FIT_ALLOCATION));
    char *s = take(4096); /* first fit: one header word */
    assert_int_equal(stats().heap.header_bytes, sizeof(size_t));
    give(s);
    assert_empty();
}

/* ============================================================================ */
/* mem_findmax and the limit                                                     */
/* ============================================================================ */

/* mem_findmax is the heap's largest free block: the limit (room to grow or
 * map more) does not count, and it is never above mem_getinfo's free. */
static void test_findmax_held_memory(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats st = stats();
    int m = findmax();
    assert_true(m > 0);
    assert_int_equal((size_t)m, findmax_of(st.heap.largest_free));
    assert_true((size_t)m <= info().free);
    OK(gjbmem_sysheap_set_limit(SIZE_MAX));
    assert_int_equal(stats().limit, SIZE_MAX);
    assert_int_equal(findmax(), m);
    OK(gjbmem_sysheap_set_limit(g_limit0));
    assert_int_equal(stats().limit, g_limit0);
    assert_int_equal(findmax(), m);
}

static void test_set_limit_below_held(void **state)
{
    (void)state;
    take(64); /* the heap holds pages now */
    struct gjbmem_sysheap_stats st = stats();
    assert_true(st.port_bytes > 0);
    FAILS(gjbmem_sysheap_set_limit(st.port_bytes - 1), EINVAL);
    FAILS(gjbmem_sysheap_set_limit(0), EINVAL);
    FAILS(gjbmem_sysheap_set_limit(1), EINVAL);
    assert_int_equal(stats().limit, st.limit); /* unchanged */
    OK(gjbmem_sysheap_set_limit(st.port_bytes)); /* exactly what it holds */
    assert_int_equal(stats().limit, st.port_bytes);
    OK(gjbmem_sysheap_set_limit(g_limit0));
    give_all();
    assert_empty();
}

/* With the limit at what the heap holds, nothing can be taken from the host:
 * the heap's free blocks are all there is, so mem_findmax is its largest
 * free block; once that is below GJBMEM_SYSHEAP_DIRECT (so that a request
 * of that size is served by the heap) a request of that size succeeds and
 * one byte or one page more is refused. */
static void test_findmax_at_limit(void **state)
{
    (void)state;
    take(64);
    struct gjbmem_sysheap_stats st = stats();
    OK(gjbmem_sysheap_set_limit(st.port_bytes));
    assert_int_equal((size_t)findmax(), findmax_of(stats().heap.largest_free));

    /* Fill with 64 KiB blocks until refused (the heap cannot grow). */
    size_t n = 0;
    while (try_take(64 * KiB))
        n++;
    assert_true(n > 0);
    assert_int_equal(stats().port_bytes, st.port_bytes);
    st = stats();
    assert_true(st.heap.largest_free < 64 * KiB + GUARD);
    int m = findmax();
    assert_int_equal((size_t)m, findmax_of(st.heap.largest_free));
    if (m > 0) {
        char *q = take((size_t)m);
        give(q);
    }
    FAILS_NULL(gjbmem_malloc((size_t)m + 1), ENOMEM);
    FAILS_NULL(gjbmem_malloc((size_t)m + g_page), ENOMEM);
    FAILS_NULL(gjbmem_malloc(DIRECT), ENOMEM); /* no room for a direct mapping */
    assert_int_equal(findmax(), m);
    assert_true(stats().heap.failed >= st.heap.failed);

    /* Freeing a 64 KiB block makes a 64 KiB request possible again. */
    char *mid = held[nheld / 2].p;
    give(mid);
    m = findmax();
    assert_true(m >= (int)(64 * KiB));
    assert_int_equal((size_t)m, findmax_of(stats().heap.largest_free));
    char *q = take((size_t)m);
    FAILS_NULL(gjbmem_malloc(64 * KiB), ENOMEM);
    give(q);

    check_all_held();
    valid();
    give_all();
    OK(gjbmem_sysheap_set_limit(g_limit0));
    assert_empty();
}

/* ============================================================================ */
/* mem_getinfo                                                                   */
/* ============================================================================ */

static void check_info(struct meminfo mi)
{
    struct gjbmem_sysheap_stats st = stats();
    assert_int_equal(mi.used + mi.free, st.heap.total);
    assert_int_equal(mi.segment, st.heap.alloc_blocks + st.heap.free_blocks);
    assert_int_equal(mi.segment, st.heap.segments);
    assert_int_equal(mi.used, st.heap.used);
    assert_int_equal(mi.free, st.heap.free);
    assert_int_equal(mi.maxused, st.heap.maxused);
    assert_true(mi.maxused >= mi.used);
}

static void test_getinfo_errors(void **state)
{
    (void)state;
    FAILS(mem_getinfo(NULL), EINVAL);

    struct meminfo mi;
    memset(&mi, 0x5a, sizeof mi);
    gjbmem_posix_set_user(1);
    FAILS(mem_getinfo(&mi), EACCES);
    /* A user thread may still allocate. */
    char *p = take(100);
    gjbmem_posix_set_user(0);
    OK(mem_getinfo(&mi));

    memset(&mi, 0x5a, sizeof mi);
    gjbmem_posix_set_isr(1);
    FAILS(mem_getinfo(&mi), EACCES);
    gjbmem_posix_set_isr(0);
    struct meminfo again = info();
    check_info(again);
    give(p);
    assert_empty();
}

static void test_getinfo_numbers(void **state)
{
    (void)state;
    take(16); /* the heap exists */
    struct meminfo prev = info();
    check_info(prev);
    size_t sizes[] = {1, 17, 100, 1000, 4096, 10000, 65536, 200000, 5, 33333};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            take(sizes[i] + (size_t)round * 8);
            struct meminfo mi = info();
            check_info(mi);
            assert_true(mi.maxused >= prev.maxused); /* monotonic */
            assert_true(mi.used > prev.used);
            prev = mi;
        }
        /* Free every other block: used falls, maxused does not. */
        for (size_t i = 0; i < nheld; i += 2)
            give(held[i].p);
        struct meminfo mi = info();
        check_info(mi);
        assert_int_equal(mi.maxused, prev.maxused);
        assert_true(mi.used < prev.used);
        prev = mi;
    }

    /* Direct mappings are not in mem_getinfo. */
    struct meminfo before = info();
    struct gjbmem_sysheap_stats st = stats();
    char *d = take(DIRECT + 1);
    struct meminfo after = info();
    assert_memory_equal(&before, &after, sizeof before);
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.direct_blocks, st.direct_blocks + 1);
    assert_true(st2.direct_bytes >= st.direct_bytes + DIRECT + 1);
    assert_int_equal(st2.direct_bytes % g_page, 0);
    give(d);
    after = info();
    assert_memory_equal(&before, &after, sizeof before);

    give_all();
    struct meminfo end = info();
    check_info(end);
    assert_true(end.maxused >= prev.maxused);
    assert_empty();
}

/* ============================================================================ */
/* the allocation interface (run under both policies)                            */
/* ============================================================================ */

static void test_malloc_zero(void **state)
{
    (void)state;
    enum { N = 64 };
    char *p[N];
    for (int i = 0; i < N; i++) {
        errno = SENTINEL;
        p[i] = gjbmem_malloc(0);
        track(p[i]);
        assert_int_equal(errno, SENTINEL);
        assert_int_equal((uintptr_t)p[i] % GRAIN, 0);
        /* usable size: a byte at least, the request (0) from level 2 */
        assert_int_equal(gjbmem_usable_size(p[i]) > 0, !GUARD);
        for (int j = 0; j < i; j++)
            assert_true(p[i] != p[j]);
        if (!GUARD)
            p[i][0] = (char)i; /* the minimal block is writable */
    }
    valid();
    for (int i = 0; i < N; i++) {
        if (!GUARD)
            assert_int_equal(p[i][0], (char)i);
        give(p[i]);
    }
    /* realloc(NULL, 0) is malloc(0). */
    errno = SENTINEL;
    char *z = gjbmem_realloc(NULL, 0);
    track(z);
    good_block(z, 0);
    give(z);
    assert_empty();
}

static void test_sizes_and_alignment(void **state)
{
    (void)state;
    static const size_t sizes[] = {
        1, 2, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 129, 255, 256,
        257, 1000, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 65535, 65536, 65537,
        100000, DIRECT / 2, DIRECT - 17, DIRECT - 1, DIRECT, DIRECT + 1, DIRECT + 4096,
        1 * MiB, 3 * MiB + 5,
    };
    size_t nsizes = sizeof sizes / sizeof sizes[0];
    for (size_t i = 0; i < nsizes; i++)
        take(sizes[i]);
    size_t ndirect = 0;
    for (size_t i = 0; i < nsizes; i++)
        ndirect += sizes[i] + GUARD >= DIRECT; /* the guard word counts */
    assert_int_equal(ndirect, GUARD ? 6 : 5);
    struct gjbmem_sysheap_stats st = stats();
    assert_int_equal(st.direct_blocks, ndirect); /* DIRECT and above */
    assert_int_equal(st.heap.alloc_blocks, nsizes - ndirect);
    valid();
    check_all_held();
    /* Free in an interleaved order. */
    for (size_t i = 0; i < nheld;)
        give(held[i].p), i += 2;
    valid();
    check_all_held();
    give_all();
    assert_empty();
}

static void test_calloc_zeroes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 16, 100, 1000, 4096, 30000, 100000, DIRECT - 1,
                                   DIRECT, DIRECT + 100, 2 * MiB};
    size_t nsizes = sizeof sizes / sizeof sizes[0];
    /* Dirty blocks of every size, then free them ... */
    char *dirty[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < nsizes; i++) {
        dirty[i] = gjbmem_malloc(sizes[i]);
        track(dirty[i]);
        memset(dirty[i], 0xa5, gjbmem_usable_size(dirty[i]));
    }
    for (size_t i = 0; i < nsizes; i++)
        give(dirty[i]);
    /* ... and calloc reuses the memory: zeroed all the same. */
    for (int round = 0; round < 2; round++) {
        char *c[sizeof sizes / sizeof sizes[0]];
        for (size_t i = 0; i < nsizes; i++) {
            errno = SENTINEL;
            c[i] = round ? gjbmem_calloc(sizes[i], 1) : gjbmem_calloc(1, sizes[i]);
            track(c[i]);
            good_block(c[i], sizes[i]);
            assert_true(all_zero(c[i], sizes[i]));
            memset(c[i], 0x5a, sizes[i]);
        }
        valid();
        for (size_t i = 0; i < nsizes; i++)
            give(c[i]);
    }
    /* The same block freed and calloc'ed again at once. */
    for (int i = 0; i < 20; i++) {
        size_t n = 24 + (size_t)i * 97;
        char *p = gjbmem_malloc(n);
        track(p);
        memset(p, 0xff, n);
        give(p);
        errno = SENTINEL;
        char *q = gjbmem_calloc(n / 8, 8);
        track(q);
        good_block(q, n / 8 * 8);
        assert_true(all_zero(q, n / 8 * 8));
        give(q);
    }
    /* Zero elements or zero size: a unique freeable pointer. */
    errno = SENTINEL;
    char *z1 = gjbmem_calloc(0, 100), *z2 = gjbmem_calloc(100, 0);
    track(z1);
    track(z2);
    good_block(z1, 0);
    good_block(z2, 0);
    assert_true(z1 != z2);
    give(z1);
    give(z2);

    /* Overflow of n * size. */
    struct gjbmem_sysheap_stats st = stats();
    FAILS_NULL(gjbmem_calloc(SIZE_MAX, 2), ENOMEM);
    FAILS_NULL(gjbmem_calloc(2, SIZE_MAX), ENOMEM);
    FAILS_NULL(gjbmem_calloc(SIZE_MAX / 2 + 1, 2), ENOMEM);
    FAILS_NULL(gjbmem_calloc((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)),
               ENOMEM);
    FAILS_NULL(gjbmem_calloc(SIZE_MAX, SIZE_MAX), ENOMEM);
    /* No overflow, just too much. */
    FAILS_NULL(gjbmem_calloc(TOO_MUCH, 1), ENOMEM);
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.port_bytes, st.port_bytes);
    assert_int_equal(st2.heap.total, st.heap.total);
    assert_empty();
}

static void test_malloc_too_big(void **state)
{
    (void)state;
    char *keep = take(1000);
    struct gjbmem_sysheap_stats st = stats();
    FAILS_NULL(gjbmem_malloc(SIZE_MAX), ENOMEM);
    FAILS_NULL(gjbmem_malloc(SIZE_MAX - g_page), ENOMEM);
    FAILS_NULL(gjbmem_malloc(TOO_MUCH), ENOMEM);
    if (st.limit < SIZE_MAX - 2 * g_page)
        FAILS_NULL(gjbmem_malloc(st.limit + g_page), ENOMEM);
    FAILS_NULL(gjbmem_memalign(64, SIZE_MAX), ENOMEM);
    FAILS_NULL(gjbmem_memalign(64, SIZE_MAX - 63), ENOMEM);
    /* A small request whose alignment is a quarter of the address space:
     * no region can be grown for it. */
    FAILS_NULL(gjbmem_memalign(SIZE_MAX / 4 + 1, 16), ENOMEM); /* 2^62 on LP64 */
    /* A direct mapping whose length plus alignment slack overflows. */
    FAILS_NULL(gjbmem_memalign(SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1), ENOMEM); /* 2^63 */
    /* A direct mapping whose length plus alignment slack is too much. On
     * ILP32 a 2 GiB-aligned DIRECT block can be had: there the length is
     * such that both take TOO_MUCH_FOR_ILP32. */
    FAILS_NULL(gjbmem_memalign(SIZE_MAX / 2 + 1,
                               GJB_TEST_LP64 ? DIRECT : TOO_MUCH_FOR_ILP32 - (SIZE_MAX / 2 + 1)),
               ENOMEM);
    FAILS_NULL(gjbmem_realloc(keep, SIZE_MAX), ENOMEM);
    FAILS_NULL(gjbmem_realloc(keep, TOO_MUCH), ENOMEM);
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.port_bytes, st.port_bytes);
    assert_int_equal(st2.heap.alloc_blocks, st.heap.alloc_blocks);
    assert_int_equal(st2.direct_blocks, st.direct_blocks);
    valid();
    give(keep);
    assert_empty();
}

static void test_memalign(void **state)
{
    (void)state;
    char *witness = take(777);
    static const size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 96, 100, 4095, 4097, SIZE_MAX,
                                 ((size_t)1 << 20) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS_NULL(gjbmem_memalign(bad[i], 100), EINVAL);
        FAILS_NULL(gjbmem_memalign(bad[i], DIRECT), EINVAL);
    }
    /* Small alignments still give the default one. */
    for (size_t a = 1; a < GRAIN; a *= 2)
        take_aligned(a, 10);
    /* 16 .. 1 MiB, with small, medium and direct-mapping sizes. */
    static const size_t sizes[] = {1, 100, 5000, 70000, DIRECT, DIRECT + 12345};
    for (size_t a = 16; a <= MiB; a *= 2)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            take_aligned(a, sizes[i]);
    take_aligned(2 * MiB, 3 * MiB);
    take_aligned(4 * MiB, DIRECT);
    valid();
    check_all_held();
    /* Free them in a mixed order. */
    for (size_t i = 1; i < nheld;)
        give(held[i].p), i += 3;
    valid();
    give_all();
    (void)witness;
    assert_empty();
}

static void test_realloc_in_heap(void **state)
{
    (void)state;
    char *left = take(64);
    errno = SENTINEL;
    char *p = keep(gjbmem_realloc(NULL, 100), 100); /* NULL: malloc */
    char *right = take(64);

    static const size_t steps[] = {5000, 50000, 10, 200, 4096, 1, 100000, 33};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        errno = SENTINEL;
        p = resized(p, gjbmem_realloc(p, steps[i]), steps[i]);
        expect(left, 64, held[find_held(left)].seed);
        expect(right, 64, held[find_held(right)].seed);
        valid();
    }
    /* A memalign'ed block keeps its contents too. */
    char *a = take_aligned(4096, 3000);
    errno = SENTINEL;
    resized(a, gjbmem_realloc(a, 9000), 9000);
    give_all();
    assert_empty();
}

static void test_realloc_direct(void **state)
{
    (void)state;
    size_t base = stats().direct_blocks;
    char *p = take(1000);

    /* heap -> direct */
    errno = SENTINEL;
    p = resized(p, gjbmem_realloc(p, 400 * KiB), 400 * KiB);
    assert_int_equal(stats().direct_blocks, base + 1);
    assert_int_equal(stats().heap.alloc_blocks, 0);

    /* direct -> direct, growing */
    errno = SENTINEL;
    p = resized(p, gjbmem_realloc(p, 3 * MiB), 3 * MiB);
    assert_int_equal(stats().direct_blocks, base + 1);
    assert_true(stats().direct_bytes >= 3 * MiB);

    /* direct -> direct, shrinking (still a direct-mapping size) */
    errno = SENTINEL;
    p = resized(p, gjbmem_realloc(p, DIRECT + 5), DIRECT + 5);
    assert_int_equal(stats().direct_blocks, base + 1);

    /* direct -> heap */
    errno = SENTINEL;
    p = resized(p, gjbmem_realloc(p, 5000), 5000);
    assert_int_equal(stats().direct_blocks, base);
    assert_int_equal(stats().heap.alloc_blocks, 1);
    valid();

    /* realloc(p, 0) frees p and returns NULL (errno untouched). */
    char *h = take(300), *k = take(DIRECT * 2);
    forget(h);
    forget(k);
    errno = SENTINEL;
    assert_null(gjbmem_realloc(h, 0));
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(gjbmem_usable_size(h), 0);
    FAILS(gjbmem_free(h), EINVAL); /* it is gone */
    errno = SENTINEL;
    assert_null(gjbmem_realloc(k, 0));
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(stats().direct_blocks, base);
    FAILS(gjbmem_free(k), EINVAL);
    valid();
    give_all();
    assert_empty();
}

static void test_realloc_bad_pointer(void **state)
{
    (void)state;
    char *p = take(256);
    char *d = take(DIRECT + 100);
    char stack[64];
    char *libc = malloc(64);
    assert_non_null(libc);
    struct gjbmem_sysheap_stats st = stats();
    char *bad[] = {stack, libc, not_heap, not_heap + 16, p + 16, p + 1, p - sizeof(size_t),
                   p + 128, d + 16, d + g_page};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS_NULL(gjbmem_realloc(bad[i], 100), EINVAL);
        FAILS_NULL(gjbmem_realloc(bad[i], DIRECT * 2), EINVAL);
        check_all_held();
        assert_true(gjbmem_usable_size(p) >= 256);
    }
    /* A freed pointer. */
    char *gone = gjbmem_malloc(512);
    assert_non_null(gone);
    OK(gjbmem_free(gone));
    FAILS_NULL(gjbmem_realloc(gone, 100), EINVAL);
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.heap.alloc_blocks, st.heap.alloc_blocks);
    assert_int_equal(st2.direct_blocks, st.direct_blocks);
    valid();
    free(libc);
    give_all();
    assert_empty();
}

static void test_free_bad_pointer(void **state)
{
    (void)state;
    OK(gjbmem_free(NULL));
    /* A free that succeeds leaves errno as it was (the malloc replacement's
     * free relies on it): a heap block, a direct mapping, NULL. */
    char *q = gjbmem_malloc(100), *qd = gjbmem_malloc(DIRECT);
    assert_non_null(q);
    assert_non_null(qd);
    errno = 4321;
    assert_int_equal(gjbmem_free(q), 0);
    assert_int_equal(gjbmem_free(qd), 0);
    assert_int_equal(gjbmem_free(NULL), 0);
    assert_int_equal(errno, 4321);
    char *w1 = take(48); /* witnesses around the victims */
    char *p = take(256);
    char *w2 = take(48);
    char *d = take(DIRECT);
    char stack[64];
    char *libc = malloc(64);
    assert_non_null(libc);
    char *bad[] = {stack,   stack + 16, libc,     not_heap,     not_heap + 64,
                   p + 1,   p + 8,      p + 16,   p + 128,      p - sizeof(size_t),
                   d + 16,  d + 1,      d + g_page, (char *)(uintptr_t)16,
                   (char *)(UINTPTR_MAX - 15)};
    struct gjbmem_sysheap_stats st = stats();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS(gjbmem_free(bad[i]), EINVAL);
        valid();
        check_all_held();
    }
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.heap.alloc_blocks, st.heap.alloc_blocks);
    assert_int_equal(st2.direct_blocks, st.direct_blocks);
    assert_int_equal(st2.heap.free, st.heap.free);

    /* Double frees, of a heap block and of a direct mapping. */
    give(p);
    FAILS(gjbmem_free(p), EINVAL);
    valid();
    give(d);
    FAILS(gjbmem_free(d), EINVAL);
    valid();
    /* A pointer into freed-and-merged memory. */
    char *a = gjbmem_malloc(300), *b = gjbmem_malloc(300);
    assert_non_null(a);
    assert_non_null(b);
    OK(gjbmem_free(a));
    OK(gjbmem_free(b));
    FAILS(gjbmem_free(b), EINVAL);
    FAILS(gjbmem_free(a), EINVAL);
    FAILS(gjbmem_free(a + 64), EINVAL);
    valid();
    check_all_held();
    (void)w1;
    (void)w2;
    free(libc);
    give_all();
    assert_empty();
}

static void test_usable_size(void **state)
{
    (void)state;
    assert_int_equal(gjbmem_usable_size(NULL), 0);
    for (size_t n = 1; n < 70000; n = n * 3 + 1) {
        char *p = take(n);
        size_t u = gjbmem_usable_size(p);
        assert_true(u >= n);
        memset(p, 0x33, u); /* all of it is usable */
        assert_int_equal(gjbmem_usable_size(p + 16), 0);
        OK(gjbmem_free(p));
        forget(p);
        assert_int_equal(gjbmem_usable_size(p), 0);
    }
    char *d = take(DIRECT + 1);
    size_t u = gjbmem_usable_size(d);
    assert_true(u >= DIRECT + 1);
    if (GUARD) /* usable size = the request */
        assert_int_equal(u, DIRECT + 1);
    else
        assert_int_equal(u % g_page, 0);
    memset(d, 0x44, u);
    assert_int_equal(gjbmem_usable_size(d + g_page), 0);
    char stack[32];
    char *libc = malloc(32);
    assert_non_null(libc);
    assert_int_equal(gjbmem_usable_size(stack), 0);
    assert_int_equal(gjbmem_usable_size(libc), 0);
    assert_int_equal(gjbmem_usable_size(not_heap), 0);
    free(libc);
    OK(gjbmem_free(d));
    forget(d);
    assert_empty();
}

static int isr_hook_calls;

static void isr_hook(const struct gjbmem_error *e, void *arg)
{
    (void)e;
    (void)arg;
    isr_hook_calls++;
}

static void test_isr(void **state)
{
    (void)state;
    char *p = take(500);
    char *d = take(DIRECT);
    struct gjbmem_sysheap_stats st = stats();
    gjbmem_posix_set_isr(1);
    FAILS_NULL(gjbmem_malloc(16), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_malloc(0), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_malloc(DIRECT), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_calloc(4, 4), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_calloc(1, DIRECT), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_memalign(64, 100), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_memalign(4096, DIRECT), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_realloc(NULL, 100), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_realloc(p, 1000), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_realloc(p, 10), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_realloc(d, 3 * DIRECT), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(gjbmem_realloc(p, 0), ERROR_KERNEL_IN_ISR); /* would free */
    FAILS(gjbmem_free(p), ERROR_KERNEL_IN_ISR);
    FAILS(gjbmem_free(d), ERROR_KERNEL_IN_ISR);
    FAILS(mem_getinfo(&(struct meminfo){0}), EACCES);
    OK(gjbmem_free(NULL)); /* nothing to do */
    isr_hook_calls = 0;
    FAILS(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, isr_hook, NULL), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    /* the refused policy was not installed: a bad free calls no hook */
    FAILS(gjbmem_free(not_heap), EINVAL);
    assert_int_equal(isr_hook_calls, 0);
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.heap.alloc_blocks, st.heap.alloc_blocks);
    assert_int_equal(st2.direct_blocks, st.direct_blocks);
    assert_int_equal(st2.heap.used, st.heap.used);
    assert_true(gjbmem_usable_size(p) >= 500);
    valid();
    give_all(); /* checks the contents */
    assert_empty();
}

/* Many blocks: the heap takes further regions from the host. Each region
 * is capped by the limit (else each would be as large as all before it
 * together, and the heap of this long-running test process would double at
 * every step), so the limit is raised by 4 MiB before each step. */
static void test_growth(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats st0 = stats();
    unsigned rnd = 12345;
    size_t n = 0;
    for (int step = 0; step < 3; step++) {
        struct gjbmem_sysheap_stats before = stats();
        OK(gjbmem_sysheap_set_limit(before.port_bytes + 4 * MiB));
        while (stats().heap.regions == before.heap.regions) {
            rnd = rnd * 1103515245u + 12345u;
            take(16 * KiB + (rnd >> 8) % (112 * KiB));
            assert_true(++n < MAXHELD);
        }
        struct gjbmem_sysheap_stats after = stats();
        assert_int_equal(after.heap.regions, before.heap.regions + 1);
        assert_true(after.heap.total > before.heap.total);
        assert_true(after.heap.total <= before.heap.total + 4 * MiB);
        assert_true(after.port_bytes > before.port_bytes);
        assert_true(after.port_bytes <= after.limit);
    }
    struct gjbmem_sysheap_stats st = stats();
    assert_int_equal(st.heap.regions, st0.heap.regions + 3);
    assert_int_equal(st.heap.alloc_blocks, n);
    assert_int_equal(st.direct_blocks, 0);
    struct meminfo mi = info();
    assert_int_equal(mi.used + mi.free, st.heap.total);
    valid();
    check_all_held();
    /* Free every third block, then all. */
    for (size_t i = 0; i < nheld;)
        give(held[i].p), i += 3;
    valid();
    check_all_held();
    give_all();
    st = stats();
    assert_int_equal(st.heap.regions, st0.heap.regions + 3); /* regions are kept */
    OK(gjbmem_sysheap_set_limit(g_limit0));
    assert_empty();
}

/* A limit just above what the heap holds: allocations succeed until the
 * limit is reached, then fail with ENOMEM; nothing is damaged. */
static void test_limit(void **state)
{
    (void)state;
    take(100);
    struct gjbmem_sysheap_stats st = stats();
    size_t limit = st.port_bytes + 1 * MiB;
    OK(gjbmem_sysheap_set_limit(limit));
    unsigned rnd = 777;
    size_t n = 0;
    for (;;) {
        rnd = rnd * 1103515245u + 12345u;
        if (!try_take(1 + (rnd >> 8) % (100 * KiB)))
            break;
        assert_true(++n < 20000);
    }
    assert_true(n > 0);
    n += fill_heap(64 * KiB);
    st = stats();
    assert_true(st.port_bytes <= limit);
    assert_int_equal(st.limit, limit);
    FAILS_NULL(gjbmem_malloc(1), ENOMEM);
    FAILS_NULL(gjbmem_malloc(0), ENOMEM);
    FAILS_NULL(gjbmem_calloc(1, 64), ENOMEM);
    FAILS_NULL(gjbmem_memalign(256, 64), ENOMEM);
    FAILS_NULL(gjbmem_malloc(DIRECT), ENOMEM);
    FAILS_NULL(gjbmem_malloc(limit), ENOMEM);
    /* realloc that must grow fails and keeps the block. */
    struct held *h = &held[0];
    char *before = h->p;
    FAILS_NULL(gjbmem_realloc(h->p, h->n + 200 * KiB), ENOMEM);
    FAILS_NULL(gjbmem_realloc(h->p, DIRECT * 2), ENOMEM);
    assert_ptr_equal(h->p, before);
    assert_true(gjbmem_usable_size(h->p) >= h->n);
    check_all_held();
    valid();
    assert_int_equal(stats().port_bytes, st.port_bytes);

    /* Freeing makes room again, within the limit. */
    give_all();
    assert_empty();
    take(50 * KiB);
    give_all();
    OK(gjbmem_sysheap_set_limit(g_limit0));
    /* A direct mapping is possible again. */
    take(DIRECT);
    give_all();
    assert_empty();
}

/* A large calloc the host refuses a mapping for, served by the heap's
 * free memory instead, is cleared all the same (the refused mapping had
 * said "new pages, zero already"). */
static void test_calloc_refused_mapping_clears(void **state)
{
    (void)state;
    enum { PIECES = 12 };
    size_t piece = 64 * KiB;
    char *p[PIECES];
    for (int i = 0; i < PIECES; i++) { /* side by side in the heap */
        p[i] = gjbmem_malloc(piece);
        assert_non_null(p[i]);
        memset(p[i], 0xA5, piece);
    }
    for (int i = 0; i < PIECES; i++)
        assert_int_equal(gjbmem_free(p[i]), 0);
    gjbmem_fault_after(0); /* no mapping: the heap's free memory only */
    size_t n = DIRECT + 1000;
    unsigned char *q = gjbmem_calloc(1, n);
    gjbmem_fault_reset();
    assert_non_null(q); /* the freed pieces merged hold it */
    assert_int_equal(stats().direct_blocks, 0);
    for (size_t i = 0; i < n; i++)
        if (q[i] != 0)
            fail_msg("byte %zu of the calloc'ed block is %#x, not 0", i, q[i]);
    assert_int_equal(gjbmem_free(q), 0);
    valid();
}

/* Fault injection: every page request of the port fails. */
static void test_fault_injection(void **state)
{
    (void)state;
    take(64);
    struct gjbmem_sysheap_stats st = stats();
    gjbmem_fault_after(0);
    unsigned long f0 = gjbmem_fault_count();
    size_t n = 0;
    while (try_take(64 * KiB))
        assert_true(++n < 20000);
    assert_true(gjbmem_fault_count() > f0); /* the heap asked for pages, was refused */
    n += fill_heap(32 * KiB);
    assert_int_equal(stats().port_bytes, st.port_bytes);
    FAILS_NULL(gjbmem_malloc(64 * KiB), ENOMEM);
    FAILS_NULL(gjbmem_malloc(DIRECT), ENOMEM);
    FAILS_NULL(gjbmem_malloc(4 * MiB), ENOMEM);
    FAILS_NULL(gjbmem_calloc(1, 2 * DIRECT), ENOMEM);
    FAILS_NULL(gjbmem_memalign(MiB, 2 * MiB), ENOMEM);
    FAILS_NULL(gjbmem_memalign(4096, 100 * KiB), ENOMEM);
    struct held *h = &held[nheld / 2];
    char *before = h->p;
    FAILS_NULL(gjbmem_realloc(h->p, 200 * KiB), ENOMEM);
    FAILS_NULL(gjbmem_realloc(h->p, MiB), ENOMEM);
    assert_ptr_equal(h->p, before);
    assert_int_equal(stats().direct_blocks, 0);
    assert_int_equal(stats().port_bytes, st.port_bytes);
    check_all_held();
    valid();

    gjbmem_fault_reset();
    assert_int_equal(gjbmem_fault_count(), 0);
    /* The same requests succeed now (the limit keeps the new region small:
     * the direct mappings first, then growth takes what is left). */
    OK(gjbmem_sysheap_set_limit(stats().port_bytes + 6 * MiB));
    char *d = take(DIRECT);
    char *e = take_aligned(MiB, 2 * MiB);
    char *a = take(64 * KiB);
    errno = SENTINEL;
    resized(h->p, gjbmem_realloc(h->p, 200 * KiB), 200 * KiB);
    assert_true(stats().port_bytes > st.port_bytes);
    (void)a;
    (void)d;
    (void)e;
    check_all_held();
    valid();
    give_all();
    assert_empty();
}

/* A direct mapping that cannot grow: the host refuses the pages (fault
 * injection: neither moving its pages nor a new mapping), the limit leaves
 * no room, or the size rounds past the address space. Each time the call
 * fails with ENOMEM and the block stays where it was, whole; then it grows. */
static void test_direct_resize_refused(void **state)
{
    (void)state;
    char *d = take(DIRECT + 100);
    size_t u = gjbmem_usable_size(d);
    struct gjbmem_sysheap_stats st = stats();
    size_t more = st.heap.largest_free + DIRECT; /* the heap cannot take it either */

    gjbmem_fault_after(0);
    FAILS_NULL(gjbmem_realloc(d, more), ENOMEM);
    assert_true(gjbmem_fault_count() >= 2); /* the move, then a new mapping */
    gjbmem_fault_reset();
    assert_int_equal(gjbmem_usable_size(d), u);
    check_all_held();

    /* at the limit */
    OK(gjbmem_sysheap_set_limit(st.port_bytes));
    FAILS_NULL(gjbmem_realloc(d, more), ENOMEM);
    OK(gjbmem_sysheap_set_limit(g_limit0));
    assert_int_equal(gjbmem_usable_size(d), u);

    FAILS_NULL(gjbmem_realloc(d, SIZE_MAX - 10), ENOMEM);
    FAILS_NULL(gjbmem_realloc(d, SIZE_MAX - g_page + 2), ENOMEM);
    assert_int_equal(gjbmem_usable_size(d), u);

    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.port_bytes, st.port_bytes);
    assert_int_equal(st2.direct_blocks, st.direct_blocks);
    assert_int_equal(st2.direct_bytes, st.direct_bytes);
    check_all_held();
    valid();

    errno = SENTINEL;
    d = resized(d, gjbmem_realloc(d, more), more);
    assert_int_equal(stats().direct_blocks, st.direct_blocks);
    valid();
    give_all();
    assert_empty();
}

/* With the heap full and the limit a few pages above what it holds, a
 * request a little smaller than those pages takes them as a new region
 * (the region fits the limit) but the region, less its metadata, cannot
 * hold it: malloc and realloc fail with ENOMEM; the region stays and
 * serves smaller requests without taking more from the host. */
static void test_grown_region_too_small(void **state)
{
    (void)state;
    char *small = take(64);
    OK(gjbmem_sysheap_set_limit(stats().port_bytes));
    fill_heap(64 * KiB);
    size_t req = 4 * g_page - 16;
    assert_true(req < DIRECT);
    FAILS_NULL(gjbmem_malloc(req), ENOMEM); /* full, no room to grow */

    struct gjbmem_sysheap_stats st = stats();
    OK(gjbmem_sysheap_set_limit(st.port_bytes + 4 * g_page));
    FAILS_NULL(gjbmem_malloc(req), ENOMEM);
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.heap.regions, st.heap.regions + 1);
    assert_int_equal(st2.port_bytes, st.port_bytes + 4 * g_page);
    assert_int_equal(st2.heap.total, st.heap.total + 4 * g_page);
    assert_int_equal(st2.heap.alloc_blocks, st.heap.alloc_blocks);
    valid();
    take(1000); /* from the new region */
    assert_int_equal(stats().port_bytes, st2.port_bytes);

    /* realloc: the same, through a block that must move */
    OK(gjbmem_sysheap_set_limit(st2.port_bytes + 4 * g_page));
    FAILS_NULL(gjbmem_realloc(small, req), ENOMEM);
    struct gjbmem_sysheap_stats st3 = stats();
    assert_int_equal(st3.heap.regions, st2.heap.regions + 1);
    assert_int_equal(st3.port_bytes, st2.port_bytes + 4 * g_page);
    assert_true(gjbmem_usable_size(small) >= 64);
    check_all_held();
    valid();
    give_all();
    OK(gjbmem_sysheap_set_limit(g_limit0));
    assert_empty();
}

/* Room under the limit for direct mappings, less or more than the heap's
 * largest free block: mem_findmax is that block either way (never above
 * mem_getinfo's free), and a request of that size succeeds. */
static void test_findmax_larger_of_block_and_room(void **state)
{
    (void)state;
    take(64);
    struct gjbmem_sysheap_stats st = stats();
    size_t largest = st.heap.largest_free;
    assert_true(largest > 2 * DIRECT); /* a region of 4 MiB or more, nearly empty */
    size_t limits[] = {st.port_bytes + 2 * DIRECT, st.port_bytes + largest + 4 * DIRECT};
    for (int i = 0; i < 2; i++) {
        OK(gjbmem_sysheap_set_limit(limits[i]));
        int m = findmax();
        assert_int_equal((size_t)m, findmax_of(largest));
        assert_true((size_t)m <= info().free);
        char *p = take((size_t)m);
        give(p);
    }
    OK(gjbmem_sysheap_set_limit(g_limit0));
    give_all();
    assert_empty();
}

/* ============================================================================ */
/* partitions and the system heap                                                */
/* ============================================================================ */

static void test_mpart_over_sysheap(void **state)
{
    (void)state;
    /* Memory malloc'ed from the system heap may hold a partition (the
     * manual's samples do this), a heap block and a direct mapping alike. */
    static const size_t sizes[] = {64 * KiB, 2 * MiB};
    for (size_t i = 0; i < 2; i++) {
        char *mem = gjbmem_malloc(sizes[i]);
        track(mem);
        mpart_id mid = make_part(mem, sizes[i]);
        char *b = mpart_alloc(mid, 1000);
        assert_non_null(b);
        assert_true(b >= mem && b + 1000 <= mem + sizes[i]);
        memset(b, 0x77, 1000);
        /* A partition's block is not a system heap block. */
        FAILS(gjbmem_free(b), EINVAL);
        FAILS_NULL(gjbmem_realloc(b, 2000), EINVAL);
        assert_int_equal(gjbmem_usable_size(b), 0);
        struct partinfo pi;
        OK(mpart_getinfo(mid, &pi));
        assert_true(pi.used + pi.free <= sizes[i]);
        assert_int_equal(mpart_validate(mid), 0);
        valid();
        OK(mpart_free(mid, b));
        drop_part(mid);
        give(mem);
    }
    valid();

    /* The heap's own memory may not: free memory ... */
    char *a = gjbmem_malloc(4096), *b = gjbmem_malloc(4096);
    assert_non_null(a);
    track(b);
    OK(gjbmem_free(a));
    mpart_id mid = 0x5555;
    FAILS(mpart_create(a, 1024, &mid), EINVAL);
    FAILS(mpart_create(a + 64, 1024, &mid), EINVAL);
    /* ... the header in front of a live block, a range running past its
     * end into the next block or metadata ... */
    FAILS(mpart_create(b - 16, 1024, &mid), EINVAL);
    FAILS(mpart_create(b, gjbmem_usable_size(b) + 64, &mid), EINVAL);
    FAILS(mpart_create(b + 1024, gjbmem_usable_size(b), &mid), EINVAL);
    assert_int_equal(mid, 0x5555);
    /* ... but the payload of the live block is fine. */
    mid = make_part(b, gjbmem_usable_size(b));
    drop_part(mid);
    give(b);
    /* A direct mapping: only within its usable bytes, not past its end nor
     * over the mapping next to it. */
    char *d1 = gjbmem_malloc(DIRECT), *d2 = gjbmem_malloc(DIRECT);
    track(d1);
    track(d2);
    size_t du = gjbmem_usable_size(d1);
    mid = 0x5555;
    FAILS(mpart_create(d1 + du - 4096, 8192, &mid), EINVAL);
    FAILS(mpart_create(d1 - 4096, 8192, &mid), EINVAL); /* from before it */
    char *lo = d1 < d2 ? d1 : d2, *hi = d1 < d2 ? d2 : d1;
    if (lo + gjbmem_usable_size(lo) == hi) /* the host placed them side by side */
        FAILS(mpart_create(lo, 2 * du, &mid), EINVAL);
    assert_int_equal(mid, 0x5555);
    mid = make_part(d1 + 4096, du - 4096);
    drop_part(mid);
    give(d1);
    give(d2);
    /* Just past a freed block, inside the region. */
    char *c = gjbmem_malloc(2000);
    assert_non_null(c);
    size_t cu = gjbmem_usable_size(c);
    OK(gjbmem_free(c));
    FAILS(mpart_create(c + cu, 512, &mid), EINVAL);
    FAILS(mpart_create(c + cu + 64, 512, &mid), EINVAL);
    valid();
    assert_empty();
}

/* ============================================================================ */
/* mem_show                                                                      */
/* ============================================================================ */

static void show_out(void)
{
    mem_show();
}

static void show_err(void)
{
    gjbmem_mem_show_to(2);
}

/* mem_show's text is exactly the SylixOS table of the present state. */
static void check_show(const char *text)
{
    struct show_text want;
    assert_string_equal(text, show_expected(&want, parts, nparts));
}

static _Alignas(64) char show_part_mem[3][16384];

static void test_mem_show(void **state)
{
    (void)state;
    /* Nothing live but the heap itself. */
    char *out = capture(1, show_out);
    check_show(out);
    free(out);

    char *blocks[] = {take(100), take(5000), take(DIRECT + 3)};
    mpart_id m1 = make_part(show_part_mem[0], sizeof show_part_mem[0]);
    mpart_id m2 = make_part(show_part_mem[1], sizeof show_part_mem[1]);
    char *pmem = gjbmem_malloc(32 * KiB); /* the partition writes in it */
    track(pmem);
    mpart_id m3 = make_part(pmem, 32 * KiB);
    void *x = mpart_alloc(m1, 1000), *y = mpart_alloc(m3, 3000);
    assert_non_null(x);
    assert_non_null(y);

    out = capture(1, show_out);
    char *err = capture(2, show_err);
    assert_string_equal(out, err); /* the same table on either stream */
    check_show(out);
    free(out);
    free(err);

    /* After a partition goes, its row goes. */
    OK(mpart_free(m1, x));
    drop_part(m1);
    out = capture(1, show_out);
    char gone[32];
    snprintf(gone, sizeof gone, "mpart 0x%lx ", m1);
    assert_null(strstr(out, gone));
    check_show(out);
    free(out);

    OK(mpart_free(m3, y));
    drop_part(m3);
    drop_part(m2);
    give(pmem);
    (void)blocks;
    give_all();
    assert_empty();
}

/* ============================================================================ */
/* gjbmem_sysheap_add_memory (the heap keeps it: these run last)                 */
/* ============================================================================ */

static _Alignas(64) char part_mem[64 * 1024];
static _Alignas(4096) char extra_mem[512 * 1024]; /* the heap's for good */

static void test_add_memory_refused(void **state)
{
    (void)state;
    take(64);
    struct gjbmem_sysheap_stats st = stats();
    FAILS(gjbmem_sysheap_add_memory(NULL, 0), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(NULL, 4096), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(extra_mem, 0), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(extra_mem, 16), EINVAL); /* too small */
    FAILS(gjbmem_sysheap_add_memory((void *)(UINTPTR_MAX - 4095), 8192), EINVAL); /* wraps */

    /* Memory of a live partition. */
    mpart_id mid = make_part(part_mem, sizeof part_mem);
    FAILS(gjbmem_sysheap_add_memory(part_mem, sizeof part_mem), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(part_mem + 1000, 8192), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(part_mem + sizeof part_mem - 64, 8192), EINVAL);
    FAILS(gjbmem_sysheap_add_memory((void *)((uintptr_t)part_mem - 64), 8192), EINVAL);

    /* The heap's own memory: a block, and a free range. */
    char *b = take(8192);
    FAILS(gjbmem_sysheap_add_memory(b, 8192), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(b + 4096, 8192), EINVAL);
    char *f = gjbmem_malloc(8192);
    assert_non_null(f);
    OK(gjbmem_free(f));
    FAILS(gjbmem_sysheap_add_memory(f, 8192), EINVAL);

    /* A live direct mapping, with others below and above it (whichever
     * way the host placed them), and a range into its first page. */
    char *dm[3] = {take(DIRECT), take(DIRECT), take(DIRECT)};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (dm[j] < dm[i]) {
                char *t = dm[i];
                dm[i] = dm[j];
                dm[j] = t;
            }
    FAILS(gjbmem_sysheap_add_memory(dm[1], DIRECT), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(dm[1] - g_page, 2 * g_page), EINVAL);
    check_all_held();

    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.heap.regions, st.heap.regions);
    assert_int_equal(st2.heap.total, st.heap.total);
    assert_int_equal(mpart_validate(mid), 0);
    drop_part(mid);
    valid();
    give_all();
    assert_empty();
}

static void test_add_memory_static(void **state)
{
    (void)state;
    take(64);
    struct gjbmem_sysheap_stats st = stats();
    OK(gjbmem_sysheap_add_memory(extra_mem, sizeof extra_mem));
    struct gjbmem_sysheap_stats st2 = stats();
    assert_int_equal(st2.heap.regions, st.heap.regions + 1);
    assert_int_equal(st2.heap.total, st.heap.total + sizeof extra_mem);
    assert_int_equal(st2.port_bytes, st.port_bytes); /* not from the host */
    check_info(info());
    valid();
    /* Twice: overlap. */
    FAILS(gjbmem_sysheap_add_memory(extra_mem, sizeof extra_mem), EINVAL);
    FAILS(gjbmem_sysheap_add_memory(extra_mem + 4096, 4096), EINVAL);
    /* Its free memory is the heap's: no partition over it. */
    mpart_id mid = 0x5555;
    FAILS(mpart_create(extra_mem + sizeof extra_mem / 2, 4096, &mid), EINVAL);
    assert_int_equal(mid, 0x5555);
    give_all();

    /* Under either policy, with growth forbidden, blocks come from it. */
    for (int policy = 0; policy < 2; policy++) {
        OK(heap_mem_init(policy));
        valid();
        OK(gjbmem_sysheap_set_limit(stats().port_bytes));
        fill_heap(128 * KiB);
        size_t inside = 0;
        for (size_t i = 0; i < nheld; i++)
            if (held[i].p >= extra_mem && held[i].p < extra_mem + sizeof extra_mem) {
                assert_true(held[i].p + held[i].n <= extra_mem + sizeof extra_mem);
                inside++;
            }
        assert_true(inside > 0);
        check_all_held();
        valid();
        give_all();
        OK(gjbmem_sysheap_set_limit(g_limit0));
        assert_empty();
    }
    OK(heap_mem_init(FIRST_FIT_ALLOCATION));
    /* The heap still grows from the host. */
    take(3 * MiB);
    take(100);
    give_all();
    assert_empty();
}

/* ============================================================================ */
/* regressions: bugs found while writing this file, fixed (see each note)                                            */
/* ============================================================================ */

/* mem_findmax promises "the largest block the system heap could hand out
 * now". With the limit at what the heap holds, it reports the heap's largest
 * free block (several MiB on a fresh region), but every request of
 * GJBMEM_SYSHEAP_DIRECT bytes or more goes to a direct mapping, which the
 * limit forbids: gjbmem_malloc(mem_findmax()) fails with ENOMEM. */
static void test_bug_findmax_is_allocatable(void **state)
{
    (void)state;
    take(64);
    OK(gjbmem_sysheap_set_limit(stats().port_bytes));
    struct gjbmem_sysheap_stats st = stats();
    int m = findmax();
    assert_int_equal((size_t)m, findmax_of(st.heap.largest_free));
    assert_true((size_t)m >= DIRECT); /* the precondition of the bug */
    errno = SENTINEL;
    char *p = gjbmem_malloc((size_t)m);
    if (!p)
        fail_msg("mem_findmax() = %d (largest free block) but gjbmem_malloc(%d) fails, errno %d",
                 m, m, errno);
    hold(p, (size_t)m);
    give_all();
    OK(gjbmem_sysheap_set_limit(g_limit0));
    assert_empty();
}

/* mem_findmax with a little room left under the limit (less than
 * GJBMEM_SYSHEAP_DIRECT): as documented in gjbext.h, room that only a new
 * region could use is not counted, so mem_findmax is the heap's largest free
 * block, and a request of that size succeeds (it never over-promises). */
static void test_findmax_ignores_small_room(void **state)
{
    (void)state;
    take(64);
    OK(gjbmem_sysheap_set_limit(stats().port_bytes));
    fill_heap(64 * KiB);
    OK(gjbmem_sysheap_set_limit(stats().port_bytes + 200 * KiB));
    int m = findmax();
    assert_int_equal((size_t)m, findmax_of(stats().heap.largest_free));
    if (m > 0) {
        errno = SENTINEL;
        char *p = gjbmem_malloc((size_t)m);
        if (!p)
            fail_msg("mem_findmax() = %d but gjbmem_malloc(%d) fails, errno %d", m, m, errno);
        hold(p, (size_t)m);
    }
    give_all();
    OK(gjbmem_sysheap_set_limit(g_limit0));
    assert_empty();
}

/* The direct-mapping table's pages are counted in port_bytes but not checked
 * against the limit: with the limit at exactly GJBMEM_SYSHEAP_DIRECT bytes
 * more than held, a direct mapping of that size is granted even when
 * recording it makes the table grow (at 192 live mappings for 256 slots),
 * and port_bytes ends above the limit. The mappings are never touched, so
 * they cost address space only. */
static void test_bug_direct_table_within_limit(void **state)
{
    (void)state;
    size_t n = 0, port = 0, limit = 0;
    bool over = false;
    while (n < 520 && !over) {
        OK(gjbmem_sysheap_set_limit(stats().port_bytes + DIRECT));
        errno = SENTINEL;
        char *p = gjbmem_malloc(DIRECT);
        if (!p)
            break;
        track(p); /* untouched: address space only */
        n++;
        struct gjbmem_sysheap_stats st = stats();
        over = st.port_bytes > st.limit;
        port = st.port_bytes;
        limit = st.limit;
    }
    OK(gjbmem_sysheap_set_limit(g_limit0));
    give_all();
    assert_true(n > 0);
    if (over)
        fail_msg("port_bytes %zu > limit %zu after direct mapping #%zu", port, limit, n);
    assert_empty();
}

/* gjbmem_sysheap_add_memory refuses a block of the heap (EINVAL: overlap)
 * but accepts a live direct mapping of the system heap, which then is both a
 * block and a region: freeing the block would unmap the region under the
 * heap. Runs last: on failure the mapping must stay (the heap owns it now),
 * so the heap is never empty again. */
static void test_bug_add_memory_direct_block(void **state)
{
    (void)state;
    char *d = take(MiB);
    errno = 0;
    int rc = gjbmem_sysheap_add_memory(d, MiB);
    if (rc == 0) {
        forget(d); /* the heap manages it now: never free it */
        fail_msg("gjbmem_sysheap_add_memory accepted a live direct mapping of the system heap");
    }
    assert_int_equal(rc, -1);
    assert_int_equal(errno, EINVAL);
    give_all();
    assert_empty();
}

int main(void)
{
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    struct gjbmem_sysheap_stats st;
    if (gjbmem_sysheap_stats(&st) != 0)
        return 1;
    g_limit0 = st.limit;

#define T(f) cmocka_unit_test_teardown(f, cleanup)
    const struct CMUnitTest policy_tests[] = {
        T(test_init_default_and_flags), T(test_init_switch_when_empty),
        T(test_init_busy),              T(test_init_buddy_blocks),
        T(test_findmax_held_memory),    T(test_set_limit_below_held),
        T(test_findmax_at_limit),       T(test_getinfo_errors),
        T(test_getinfo_numbers),
    };
    const struct CMUnitTest alloc_tests[] = {
        T(test_malloc_zero),         T(test_sizes_and_alignment), T(test_calloc_zeroes),
        T(test_malloc_too_big),      T(test_memalign),            T(test_realloc_in_heap),
        T(test_realloc_direct),      T(test_realloc_bad_pointer), T(test_free_bad_pointer),
        T(test_usable_size),         T(test_isr),                 T(test_limit),
        T(test_fault_injection),     T(test_calloc_refused_mapping_clears),
        T(test_growth),              T(test_findmax_at_limit),
        T(test_getinfo_numbers),     T(test_mpart_over_sysheap),  T(test_mem_show),
        T(test_direct_resize_refused), T(test_grown_region_too_small),
        T(test_findmax_larger_of_block_and_room),
    };
    const struct CMUnitTest add_tests[] = {
        T(test_add_memory_refused),
        T(test_add_memory_static),
    };
    const struct CMUnitTest bug_tests[] = {
        T(test_bug_findmax_is_allocatable),
        T(test_findmax_ignores_small_room),
        T(test_bug_direct_table_within_limit),
        T(test_bug_add_memory_direct_block), /* last: may leave a block for good */
    };
#undef T
    int failed = 0;
    failed += cmocka_run_group_tests_name("sysheap_policy_and_statistics", policy_tests, NULL,
                                          NULL);
    failed += cmocka_run_group_tests_name("sysheap_first_fit", alloc_tests, use_first_fit, NULL);
    failed += cmocka_run_group_tests_name("sysheap_buddy", alloc_tests, use_buddy, NULL);
    failed += cmocka_run_group_tests_name("sysheap_add_memory", add_tests, use_first_fit, NULL);
    failed += cmocka_run_group_tests_name("sysheap_regressions", bug_tests, use_first_fit, NULL);
    return failed ? 1 : 0;
}
