/*
 * mpart_suite.h - what the partition tests share (test_mpart.c, the contract
 * run under both policies, and test_mpart_firstfit.c / test_mpart_buddy.c,
 * what only one policy does): the partitions a test owns and the teardown
 * that deletes them, successful calls checked (errno untouched, alignment,
 * usable size, the partition still valid), statistics, contents, and what
 * the hardening level changes.
 *
 * Hardening (GJBMEM_HARDENING, seen through engine/config.h): at levels 2
 * and 3 every block carries a guard word (src/core/guard.h), so the engine
 * block behind a request of n holds n + GUARD bytes, the usable size is the
 * request itself and findmaxfree is the largest free payload less GUARD.
 * The engine's own view of a block (its payload, header and neighbours) is
 * read through mpart_blocks, the same at every level.
 *
 * Static data and static inline functions only.
 */
#ifndef GJB_MPART_SUITE_H
#define GJB_MPART_SUITE_H

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/config.h" /* GJBMEM_HARDENING as the library sees it */
#include <gjbext.h>
#include <gjbmem/posix.h>

#include "errno_asserts.h"

#define GRAIN ((size_t)_Alignof(max_align_t))
#define BU (2 * GRAIN) /* BUDDY's smallest block */
#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
/* Bytes the guard adds to every block's request (levels 2 and 3). */
#define GUARD (GJBMEM_HARDENING >= 2 ? sizeof(uintptr_t) : (size_t)0)

#define FF FIRST_FIT_ALLOCATION
#define BUDDY BUDDY_ALLOCATION

/* Ids that were never issued (checked against the live ones before use). */
static const mpart_id bad_ids[] = {
    0, 1, 2, 0xff, 0x100, 0x12345, 0xdeadbeef, (mpart_id)LONG_MAX, ULONG_MAX - 1, ULONG_MAX,
    (mpart_id)1 << 9, (mpart_id)3 << 9, /* slot field 0 (ids name slot + 1) */
};
#define NBAD (sizeof bad_ids / sizeof bad_ids[0])

/* The policy make() creates partitions with (the test's state). */
static int policy = FF;

/* --- partitions the current test owns ------------------------------------ */

static mpart_id live[MPART_MAX_PARTS + 1];
static int live_policy[MPART_MAX_PARTS + 1];
static int nlive;

static inline void valid(mpart_id mid)
{
    assert_int_equal(mpart_validate(mid), 0);
}

static inline bool is_live(mpart_id id)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == id)
            return true;
    return false;
}

static inline int policy_of(mpart_id mid)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == mid)
            return live_policy[i];
    fail_msg("partition %#lx is not one of the test's", mid);
    return -1;
}

static inline void track(mpart_id mid, int pol)
{
    assert_true(mid != 0);
    assert_false(is_live(mid));
    assert_true(nlive < (int)(sizeof live / sizeof live[0]));
    live_policy[nlive] = pol;
    live[nlive++] = mid;
    valid(mid);
}

/* mpart_create for FIRST_FIT (what it creates), mpart_create_ex otherwise. */
static inline int create(char *addr, size_t size, int pol, mpart_id *mid)
{
    if (pol == FF)
        return mpart_create(addr, size, mid);
    return mpart_create_ex(addr, size, pol, mid);
}

static inline struct partinfo info(mpart_id mid);

static inline mpart_id make_policy(void *addr, size_t size, int pol)
{
    mpart_id mid = 0;
    OK(create(addr, size, pol, &mid));
    track(mid, pol);
    if (pol == FF) /* a fresh FIRST_FIT heap: one free block per region */
        assert_int_equal(info(mid).segment, 1);
    return mid;
}

static inline mpart_id make(void *addr, size_t size)
{
    return make_policy(addr, size, policy);
}

static inline void drop(mpart_id mid)
{
    OK(mpart_delete(mid));
    for (int i = 0; i < nlive; i++)
        if (live[i] == mid) {
            live[i] = live[--nlive];
            live_policy[i] = live_policy[nlive];
        }
}

/* --- the engine's view of the blocks (mpart_blocks) ---------------------- */

enum { MAX_LISTED = 16384 };
static struct mpart_block listed[MAX_LISTED];

static inline size_t list_blocks(mpart_id mid)
{
    size_t n = 0;
    OK(mpart_blocks(mid, listed, MAX_LISTED, &n));
    assert_true(n <= MAX_LISTED);
    return n;
}

static inline char *payload_of(const struct mpart_block *b)
{
    return (char *)b->start + b->header;
}

/* The index in listed[] of the block whose payload is p (listed afresh). */
static inline size_t block_index(mpart_id mid, const char *p)
{
    size_t n = list_blocks(mid);
    for (size_t i = 0; i < n; i++)
        if (payload_of(&listed[i]) == p)
            return i;
    fail_msg("%p is no block of partition %#lx", (const void *)p, mid);
    return 0;
}

/* The payload bytes of the engine block at p (its request and guard). */
static inline size_t block_bytes(mpart_id mid, const char *p)
{
    size_t i = block_index(mid, p);
    return listed[i].size - listed[i].header;
}

/* The payload address of the block right after block p (same region). */
static inline char *next_block(mpart_id mid, const char *p)
{
    size_t i = block_index(mid, p), n = list_blocks(mid);
    assert_true(i + 1 < n);
    assert_ptr_equal(listed[i + 1].start, (const char *)listed[i].start + listed[i].size);
    return payload_of(&listed[i + 1]);
}

/* After a failed test: frees every allocated block mid lists, so that the
 * partition can be deleted and the next test starts clean. */
static inline void free_everything(mpart_id mid)
{
    size_t n = 0;
    if (mpart_blocks(mid, listed, MAX_LISTED, &n) != 0)
        return;
    static char *used[MAX_LISTED];
    size_t k = 0;
    for (size_t i = 0; i < n && i < MAX_LISTED; i++)
        if (listed[i].used)
            used[k++] = payload_of(&listed[i]);
    for (size_t i = 0; i < k; i++)
        (void)mpart_free(mid, used[i]);
}

static inline int teardown(void **state)
{
    (void)state;
    gjbmem_posix_set_isr(0);
    while (nlive > 0) {
        mpart_id mid = live[--nlive];
        if (mpart_delete(mid) != 0) {
            free_everything(mid);
            (void)mpart_delete(mid);
        }
    }
    (void)mpart_module_init(MPART_MAX_PARTS);
    return 0;
}

/* --- successful calls ------------------------------------------------------ */

/* BUDDY's block for a request of size bytes aligned to align (no guard). */
static inline size_t block_for(size_t size, size_t align)
{
    size_t n = size > align ? size : align, b = BU;
    while (b < n)
        b *= 2;
    return b;
}

static inline bool aligned_to(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* Block p of mid holds a request of n aligned to align: usable size n at
 * levels 2-3 (at least n, the whole payload, at level 1); a BUDDY block is
 * exactly the power of two for n and its guard, aligned to its size. */
static inline void holds(mpart_id mid, const char *p, size_t n, size_t align)
{
    errno = SENTINEL;
    size_t u = mpart_usable_size(mid, p);
    assert_int_equal(errno, SENTINEL);
    size_t b = block_bytes(mid, p);
    if (GUARD)
        assert_int_equal(u, n);
    else
        assert_int_equal(u, b);
    assert_true(b >= n + GUARD);
    if (policy_of(mid) == BUDDY) {
        assert_int_equal(b, block_for(n + GUARD, align));
        assert_true(aligned_to(p, b));
    }
}

static inline char *alloc_ok(mpart_id mid, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_alloc(mid, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_true(aligned_to(p, GRAIN));
    holds(mid, p, n, 1);
    valid(mid);
    return p;
}

static inline char *memalign_ok(mpart_id mid, size_t align, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_memalign(mid, align, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_true(aligned_to(p, align));
    assert_true(aligned_to(p, GRAIN));
    holds(mid, p, n, align);
    valid(mid);
    return p;
}

/* A BUDDY block that moves may get a larger block than n needs (a
 * memalign'd block keeps its alignment); in place it is exactly n's. */
static inline char *realloc_ok(mpart_id mid, char *p, size_t n)
{
    errno = SENTINEL;
    char *r = mpart_realloc(mid, p, n);
    assert_non_null(r);
    assert_int_equal(errno, SENTINEL);
    assert_true(aligned_to(r, GRAIN));
    if (policy_of(mid) == BUDDY && r != p && p) {
        size_t b = block_bytes(mid, r);
        assert_true(b >= block_for(n + GUARD, 1) && (b & (b - 1)) == 0 && aligned_to(r, b));
        errno = SENTINEL;
        size_t u = mpart_usable_size(mid, r);
        assert_int_equal(errno, SENTINEL);
        assert_int_equal(u, GUARD ? n : b);
    } else {
        holds(mid, r, n, 1);
    }
    valid(mid);
    return r;
}

static inline void free_ok(mpart_id mid, char *p)
{
    OK(mpart_free(mid, p));
    valid(mid);
}

/* --- statistics ------------------------------------------------------------ */

static inline struct partinfo info(mpart_id mid)
{
    struct partinfo pi;
    memset(&pi, 0xab, sizeof pi);
    OK(mpart_getinfo(mid, &pi));
    assert_true(pi.maxused >= pi.used);
    return pi;
}

static inline void same_info(struct partinfo a, struct partinfo b)
{
    assert_int_equal(a.segment, b.segment);
    assert_int_equal(a.used, b.used);
    assert_int_equal(a.maxused, b.maxused);
    assert_int_equal(a.free, b.free);
}

/* The same blocks and free bytes (the high-water mark may differ). */
static inline void same_blocks(struct partinfo a, struct partinfo b)
{
    assert_int_equal(a.segment, b.segment);
    assert_int_equal(a.used, b.used);
    assert_int_equal(a.free, b.free);
}

static inline struct gjbmem_heap_stats stats(mpart_id mid)
{
    struct gjbmem_heap_stats st;
    OK(mpart_getstats(mid, &st));
    return st;
}

static inline size_t hdr_bytes(mpart_id mid)
{
    return stats(mid).header_bytes;
}

/* mpart_findmaxfree_size, checked against mpart_findmaxfree (the same,
 * clamped to INT_MAX); for BUDDY the largest free block less the guard. */
static inline size_t maxfree(mpart_id mid)
{
    errno = SENTINEL;
    int m = mpart_findmaxfree(mid);
    assert_true(m >= 0);
    assert_int_equal(errno, SENTINEL);
    size_t s = 0;
    OK(mpart_findmaxfree_size(mid, &s));
    assert_int_equal(s > INT_MAX ? INT_MAX : s, (size_t)m);
    if (policy_of(mid) == BUDDY && s) {
        size_t b = s + GUARD;
        assert_true((b & (b - 1)) == 0); /* a power of two */
    }
    return s;
}

/* The findmaxfree of a partition whose largest free payload is b bytes. */
static inline size_t max_for(size_t b)
{
    return b > GUARD ? b - GUARD : 0;
}

/* --- contents ---------------------------------------------------------------- */

static inline unsigned char pattern(unsigned tag, size_t i)
{
    return (unsigned char)(tag * 31u + i * 7u + (i >> 8));
}

static inline void fill(char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)pattern(tag, i);
}

static inline void expect(const char *p, size_t n, unsigned tag)
{
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if ((unsigned char)p[i] != pattern(tag, i))
            bad = i;
    assert_int_equal(bad, n);
}

/* --- shared steps ------------------------------------------------------------ */

/* Takes blocks of size bytes until it gets the one at target (which must be
 * free, or inside a free block), gives back every other, returns it. */
static inline char *take_block_at(mpart_id mid, char *target, size_t size)
{
    enum { MAX_TAKEN = 4096 };
    static char *taken[MAX_TAKEN];
    size_t n = 0;
    char *got = NULL;
    while (!got) {
        errno = 0;
        char *q = mpart_alloc(mid, size);
        if (!q) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        if (q == target)
            got = q;
        else {
            assert_true(n < MAX_TAKEN);
            taken[n++] = q;
        }
    }
    for (size_t i = 0; i < n; i++)
        OK(mpart_free(mid, taken[i]));
    valid(mid);
    assert_ptr_equal(got, target);
    return got;
}

/* Takes the largest free block until none is left. */
static inline size_t take_all(mpart_id mid, char **held, size_t cap)
{
    size_t n = 0;
    for (size_t m; (m = maxfree(mid)) != 0;) {
        assert_true(n < cap);
        held[n++] = alloc_ok(mid, m);
    }
    assert_int_equal(info(mid).free, 0);
    FAILS_NULL(mpart_alloc(mid, 1), ENOMEM);
    return n;
}

static inline void free_all(mpart_id mid, char **held, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_ok(mid, held[i]);
}

/* Every call refuses the id: ERROR_KERNEL_HANDLE_NULL, EINVAL for delete;
 * spare is memory no partition holds (offered to mpart_addmem). */
static inline void expect_refused_id(mpart_id id, char *some_block, char *spare, size_t spare_size)
{
    struct partinfo pi;
    memset(&pi, 0x5a, sizeof pi);
    struct partinfo untouched = pi;
    size_t s = 12345;
    FAILS(mpart_delete(id), EINVAL);
    FAILS_NULL(mpart_alloc(id, 16), ERROR_KERNEL_HANDLE_NULL);
    FAILS_NULL(mpart_memalign(id, 64, 16), ERROR_KERNEL_HANDLE_NULL);
    FAILS_NULL(mpart_realloc(id, NULL, 16), ERROR_KERNEL_HANDLE_NULL);
    FAILS_NULL(mpart_realloc(id, some_block, 16), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_free(id, some_block), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_addmem(id, spare, spare_size), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_findmaxfree(id), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_findmaxfree_size(id, &s), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_getinfo(id, &pi), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_validate(id), ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    assert_int_equal(mpart_usable_size(id, some_block), 0);
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    assert_int_equal(s, 12345);
    assert_memory_equal(&pi, &untouched, sizeof pi);
}

/* The smallest size mpart_create accepts at addr under pol (every smaller
 * one refused with EINVAL); the partition is created and tracked. */
static inline mpart_id create_smallest(char *addr, size_t limit, int pol, size_t *size)
{
    mpart_id mid = 0;
    size_t n = 1;
    for (; n <= limit; n++) {
        errno = 0;
        if (create(addr, n, pol, &mid) == 0)
            break;
        assert_int_equal(errno, EINVAL);
    }
    assert_true(n <= limit);
    track(mid, pol);
    *size = n;
    return mid;
}

#endif
