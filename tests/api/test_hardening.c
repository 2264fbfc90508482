/*
 * test_hardening.c - what each hardening level (GJBMEM_HARDENING in
 * <gjbmem/config.h>, docs/RELIABILITY.md) promises, for partitions of both
 * policies (mpart_create = FIRST_FIT, mpart_create_ex BUDDY) and for the
 * system heap under both policies (heap_mem_init), its direct mappings
 * included. The assertions follow the level this file is built with:
 *
 *   every level  a random alloc/memalign/realloc/free sequence keeps every
 *                block's contents and ends with validate passing; writing all
 *                of a block's usable size harms nothing; realloc keeps the
 *                contents (grow and shrink, in place and moving); calloc
 *                zeroes; findmaxfree is exactly what an allocation gets;
 *                double frees (of a block still free or merged since),
 *                interior pointers, pointers to metadata and pointers outside
 *                every region of the heap are refused (the rest of the
 *                pointer checks is test_mpart's and test_sysheap's).
 *   1            usable sizes are the engine's block payloads.
 *   2, 3         usable size is exactly the request (malloc(0): 0); a write
 *                one byte past the request, or over the guard word, leaves the
 *                block allocated: free, realloc and usable size refuse it,
 *                validate fails, the error policy gets corrupt reports; once
 *                repaired, all works again. Below 2 the same writes land in the
 *                block's slack and harm nothing.
 *   3            new bytes read GJB_NEW_FILL (0xcd): alloc, memalign, the
 *                grown part of a realloc, direct mappings; the bytes of a freed
 *                partition block that the engine does not keep its own
 *                metadata in read GJB_FREE_FILL (0xdd).
 *
 * test_errpolicy's broken_guard_is_reported checks the exact reports and log
 * lines of a partition's broken guard; here: both guard positions, the
 * statistics, usable size, realloc in both directions, the repair, and the
 * system heap in this process (both policies and a direct mapping).
 *
 * Partition buffers are the test's own, so reading them after a free is
 * defined. Damage is done only inside a block's own bytes and repaired before
 * any assertion, so that a failing assertion leaves blocks the teardown can
 * free.
 */
#include <errno.h>
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

#include <gjbext.h>
#include <gjbmem/errpolicy.h>
#include <gjbmem/mpart.h>
#include <gjbmem/sysheap.h>

#include "core/guard.h"         /* GJB_GUARD_KEY, GJB_GUARD_FILL, GJB_NEW_FILL, GJB_FREE_FILL */
#include "engine/buddy.h"    /* GJB_W, GJB_G, GJB_BU: level 1 sizes */
#include "engine/firstfit.h" /* FF_MIN, FF_NEXT, FF_PREV, gjb_ff_block_size */
#include "errno_asserts.h"

#define LEVEL GJBMEM_HARDENING
#define DIRECT GJBMEM_SYSHEAP_DIRECT
#define WORD sizeof(uintptr_t)

static _Alignas(4096) char buf_a[256 * 1024];
static _Alignas(4096) char buf_b[16 * 1024];
static _Alignas(16) char not_managed[256]; /* memory no heap has */

static const int first_fit = FIRST_FIT_ALLOCATION, buddy = BUDDY_ALLOCATION;

static int policy_of(void **state)
{
    return *(const int *)*state;
}

/* --- contents -------------------------------------------------------------- */

static unsigned char pat(unsigned seed, size_t i)
{
    return (unsigned char)(seed * 131u + i * 7u + (i >> 8) + 1u);
}

static void fill(void *p, size_t n, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = pat(seed, i);
}

/* Index of the first byte of [p, p+n) that is not the pattern, or n. */
static size_t first_bad(const void *p, size_t n, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pat(seed, i))
            return i;
    return n;
}

#define expect_pattern(p, n, seed) assert_int_equal(first_bad((p), (n), (seed)), (n))

/* Index of the first byte of [p+from, p+to) that is not c, or to. */
static size_t first_not(const void *p, size_t from, size_t to, unsigned char c)
{
    const unsigned char *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i] != c)
            return i;
    return to;
}

#define expect_bytes(p, from, to, c) assert_int_equal(first_not((p), (from), (to), (c)), (to))

/* --- the error policy's reports ----------------------------------------------- */

static struct {
    int n, corrupt;      /* reports, and how many of them with corrupt == 1 */
    unsigned long heap;  /* of the last one */
    const void *addr;
} rep;

static void hook(const struct gjbmem_error *e, void *arg)
{
    (void)arg;
    rep.n++;
    rep.corrupt += e->corrupt == 1;
    rep.heap = e->heap;
    rep.addr = e->addr;
}

/* --- partitions and blocks the current test holds --------------------------- */

static mpart_id live[4];
static int nlive;

static struct held {
    mpart_id mid; /* 0: a system heap block */
    void *p;
} held[512];
static int nheld;

static void hold(mpart_id mid, void *p)
{
    assert_true(nheld < (int)(sizeof held / sizeof held[0]));
    held[nheld++] = (struct held){mid, p};
}

static void unhold(void *p)
{
    for (int i = 0; i < nheld; i++)
        if (held[i].p == p) {
            held[i] = held[--nheld];
            return;
        }
    fail_msg("block %p is not held", p);
}

static void rehold(void *old, void *p)
{
    for (int i = 0; i < nheld; i++)
        if (held[i].p == old) {
            held[i].p = p;
            return;
        }
    fail_msg("block %p is not held", old);
}

static void valid(mpart_id mid)
{
    errno = SENTINEL;
    assert_int_equal(mpart_validate(mid), 0);
    assert_int_equal(errno, SENTINEL);
}

static void sys_valid(void)
{
    errno = SENTINEL;
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(errno, SENTINEL);
}

static mpart_id make(int policy, char *buf, size_t size)
{
    mpart_id mid = 0;
    if (policy == FIRST_FIT_ALLOCATION)
        OK(mpart_create(buf, size, &mid));
    else
        OK(mpart_create_ex(buf, size, policy, &mid));
    assert_true(nlive < (int)(sizeof live / sizeof live[0]));
    live[nlive++] = mid;
    OK(mpart_set_error_policy(mid, GJBMEM_ERR_HOOK, hook, NULL));
    valid(mid);
    return mid;
}

static struct gjbmem_heap_stats pstats(mpart_id mid)
{
    struct gjbmem_heap_stats st;
    OK(mpart_getstats(mid, &st));
    return st;
}

static struct gjbmem_sysheap_stats sstats(void)
{
    struct gjbmem_sysheap_stats st;
    OK(gjbmem_sysheap_stats(&st));
    return st;
}

static char *palloc(mpart_id mid, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_alloc(mid, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal((uintptr_t)p % GJB_G, 0);
    hold(mid, p);
    return p;
}

static char *pmemalign(mpart_id mid, size_t align, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_memalign(mid, align, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal((uintptr_t)p % align, 0);
    hold(mid, p);
    return p;
}

static char *prealloc(mpart_id mid, char *p, size_t n)
{
    errno = SENTINEL;
    char *r = mpart_realloc(mid, p, n);
    assert_non_null(r);
    assert_int_equal(errno, SENTINEL);
    rehold(p, r);
    return r;
}

static void pfree(mpart_id mid, char *p)
{
    OK(mpart_free(mid, p));
    unhold(p);
}

static char *salloc(size_t n)
{
    errno = SENTINEL;
    char *p = gjbmem_malloc(n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal((uintptr_t)p % GJB_G, 0);
    hold(0, p);
    return p;
}

static char *srealloc(char *p, size_t n)
{
    errno = SENTINEL;
    char *r = gjbmem_realloc(p, n);
    assert_non_null(r);
    assert_int_equal(errno, SENTINEL);
    rehold(p, r);
    return r;
}

static void sfree(char *p)
{
    OK(gjbmem_free(p));
    unhold(p);
}

/* The system heap with policy (no block of it is live here). */
static void sys_policy(int policy)
{
    OK(heap_mem_init(policy));
    assert_int_equal(sstats().policy, policy);
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL));
}

static int setup(void **state)
{
    (void)state;
    nlive = nheld = 0;
    memset(&rep, 0, sizeof rep);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = nheld - 1; i >= 0; i--)
        (void)(held[i].mid ? mpart_free(held[i].mid, held[i].p) : gjbmem_free(held[i].p));
    nheld = 0;
    int rc = 0;
    for (int i = 0; i < nlive; i++)
        if (mpart_delete(live[i]) != 0) {
            print_error("teardown: partition 0x%lx not deleted (errno %d)\n", live[i], errno);
            rc = -1;
        }
    nlive = 0;
    (void)gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL);
    (void)heap_mem_init(FIRST_FIT_ALLOCATION);
    return rc;
}

/* --- sizes ---------------------------------------------------------------------- */

/* A GJBMEM_TOOLS build (level 1) run under valgrind or ASan reports the
 * request as a partition block's usable size: true when u is that. */
static bool tool_view(size_t u, size_t n)
{
    return GJBMEM_TOOLS && u == n;
}

/* Usable size of a request of n bytes (n > 0) from a fresh spot of a
 * partition of policy, as the level promises: the request at levels 2-3, the
 * engine's block payload below (FIRST_FIT: a block of at least FF_MIN
 * bytes with a one-word header; BUDDY: a power of two of at least GJB_BU
 * bytes). */
static size_t usable_for(int policy, size_t n)
{
    if (LEVEL >= 2)
        return n;
    if (policy == FIRST_FIT_ALLOCATION)
        return gjb_ff_block_size(n) - GJB_W;
    size_t b = GJB_BU;
    while (b < n)
        b *= 2;
    return b;
}

/* Checks the usable size of partition block p holding a request of n. */
static size_t check_usable(mpart_id mid, int policy, const char *p, size_t n)
{
    errno = SENTINEL;
    size_t u = mpart_usable_size(mid, p);
    assert_int_equal(errno, SENTINEL);
    if (!tool_view(u, n))
        assert_int_equal(u, usable_for(policy, n));
    return u;
}

/* Checks the usable size of system-heap block p holding a request of n. */
static size_t check_sys_usable(const char *p, size_t n)
{
    size_t u = gjbmem_usable_size(p);
    if (LEVEL >= 2)
        assert_int_equal(u, n);
    else
        assert_true(u >= n && u >= 1);
    return u;
}

/* Levels 2-3: offset of the guard word of block p holding a request of n,
 * checking that every byte between the request and the word is the guard
 * fill. */
static size_t guard_word_at(const unsigned char *p, size_t n)
{
    uintptr_t w = (uintptr_t)n ^ (uintptr_t)p ^ GJB_GUARD_KEY;
    for (size_t off = n;; off++) {
        if (off % WORD == 0 && memcmp(p + off, &w, WORD) == 0)
            return off;
        if (p[off] != GJB_GUARD_FILL)
            fail_msg("byte %zu of block %p (request %zu) is 0x%02x: neither guard fill nor word",
                     off, (const void *)p, n, p[off]);
    }
}

/* ================================================================================ */
/* every level                                                                       */
/* ================================================================================ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t below(size_t n)
{
    return (size_t)(rnd() % n);
}

static size_t random_size(void)
{
    switch (below(8)) {
    case 0: return 1 + below(16);
    case 1: return 4000 + below(8000);
    default: return 1 + below(600);
    }
}

/* A random sequence of alloc, memalign, realloc and free. Every block is
 * written over its whole usable size and checked before each change; realloc
 * keeps the smaller request's bytes; the heap is validated as it goes and all
 * merges back at the end. */
static void random_sequence(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    struct gjbmem_heap_stats fresh = pstats(a);
    enum { SLOTS = 64, OPS = 6000 };
    struct {
        char *p;
        size_t n, u; /* request, usable size (all written) */
        unsigned seed;
        bool aligned; /* placed by memalign */
    } s[SLOTS] = {{0}};
    rng_state = UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)policy;
    size_t done = 0, refused = 0;
    for (int op = 0; op < OPS; op++) {
        int i = (int)below(SLOTS);
        unsigned seed = (unsigned)op;
        if (s[i].p) {
            expect_pattern(s[i].p, s[i].u, s[i].seed);
            size_t u = mpart_usable_size(a, s[i].p);
            assert_int_equal(u, s[i].u);
            if (LEVEL >= 2 || tool_view(u, s[i].n)) {
                check_usable(a, policy, s[i].p, s[i].n);
            } else {
                /* FIRST_FIT keeps a cut-off smaller than a block with the
                 * block; a memalign'd BUDDY block is as large as its
                 * alignment (or, moved, what keeps it) */
                size_t want = usable_for(policy, s[i].n);
                assert_true(u >= want);
                if (policy == FIRST_FIT_ALLOCATION)
                    assert_true(u < want + FF_MIN);
                else if (!s[i].aligned)
                    assert_int_equal(u, want);
            }
        }
        if (!s[i].p) {
            size_t n = random_size(), align = below(4) ? 0 : (size_t)16 << below(6);
            errno = 0;
            char *p = align ? mpart_memalign(a, align, n) : mpart_alloc(a, n);
            if (!p) {
                assert_int_equal(errno, ENOMEM);
                refused++;
                continue;
            }
            if (align)
                assert_int_equal((uintptr_t)p % align, 0);
            hold(a, p);
            size_t u = mpart_usable_size(a, p);
            fill(p, u, seed);
            s[i].p = p, s[i].n = n, s[i].u = u, s[i].seed = seed, s[i].aligned = align != 0;
        } else if (below(2)) {
            size_t n = random_size(), keep = n < s[i].n ? n : s[i].n;
            errno = 0;
            char *r = mpart_realloc(a, s[i].p, n);
            if (!r) {
                assert_int_equal(errno, ENOMEM);
                expect_pattern(s[i].p, s[i].u, s[i].seed); /* left alone */
                refused++;
                continue;
            }
            rehold(s[i].p, r);
            expect_pattern(r, keep, s[i].seed);
            size_t u = mpart_usable_size(a, r);
            fill(r, u, seed);
            s[i].p = r, s[i].n = n, s[i].u = u, s[i].seed = seed;
        } else {
            pfree(a, s[i].p);
            s[i].p = NULL;
        }
        done++;
        if (op % 500 == 0)
            valid(a);
    }
    assert_true(done > OPS / 2);
    valid(a);
    for (int i = 0; i < SLOTS; i++)
        if (s[i].p) {
            expect_pattern(s[i].p, s[i].u, s[i].seed);
            pfree(a, s[i].p);
        }
    valid(a);
    assert_int_equal(pstats(a).alloc_blocks, 0);
    assert_int_equal(pstats(a).free_blocks, fresh.free_blocks); /* all merged again */
    assert_int_equal(pstats(a).free, fresh.free);
    assert_int_equal(rep.n, 0);
    assert_true(refused < OPS / 10);
}

/* Usable sizes 1..300 and some large ones, and through memalign: as the level
 * promises, and every usable byte may be written (0xff, the worst case for a
 * guard) without harm to the block, its neighbours or the heap. */
static void usable_size_is_writable(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    static const size_t large[] = {1000, 1023, 1024, 1025, 4088, 4096, 4097, 10000, 20000, 32760};
    for (size_t n = 1; n <= 300 + sizeof large / sizeof large[0]; n++) {
        size_t req = n <= 300 ? n : large[n - 301];
        char *lo = palloc(a, 64), *p = palloc(a, req), *hi = palloc(a, 64);
        fill(lo, 64, 1);
        fill(hi, 64, 2);
        size_t u = check_usable(a, policy, p, req);
        memset(p, 0xff, u);
        valid(a);
        expect_pattern(lo, 64, 1);
        expect_pattern(hi, 64, 2);
        assert_int_equal(check_usable(a, policy, p, req), u);
        pfree(a, p);
        pfree(a, lo);
        pfree(a, hi);
    }
    static const size_t aligns[] = {1, 16, 32, 64, 256, 4096};
    static const size_t sizes[] = {1, 33, 100, 1000, 5000};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            char *p = pmemalign(a, aligns[i], sizes[j]);
            errno = SENTINEL;
            size_t u = mpart_usable_size(a, p);
            assert_int_equal(errno, SENTINEL);
            if (LEVEL >= 2)
                assert_int_equal(u, sizes[j]);
            else if (!tool_view(u, sizes[j])) /* a memalign'd BUDDY block: its alignment */
                assert_true(u >= usable_for(policy, sizes[j]));
            memset(p, 0xff, u);
            valid(a);
            pfree(a, p);
        }
    valid(a);
    assert_int_equal(rep.n, 0);
}

/* A block of a fresh partition that can grow in place up to 2000 bytes under
 * either policy, its first 100 bytes holding pattern seed: a 4088-byte block
 * shrunk in place to 100 (FIRST_FIT: the cut-off tail merges with the free
 * rest right after it; BUDDY: its buddies of every order up to 2048 are free,
 * each the last one pushed on its list, so the next block of that order). */
static char *shrunk_block(mpart_id mid, unsigned seed)
{
    char *p = palloc(mid, 4088);
    fill(p, 100, seed);
    char *s = prealloc(mid, p, 100);
    assert_ptr_equal(s, p);
    expect_pattern(s, 100, seed);
    return s;
}

/* Realloc: shrink and grow in place, grow moving (the neighbour taken),
 * shrink in place again; contents kept, usable size as promised after each,
 * every usable byte writable. */
static void realloc_keeps_contents(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    char *p = shrunk_block(a, 3);
    check_usable(a, policy, p, 100);
    char *r = prealloc(a, p, 200); /* grow in place */
    assert_ptr_equal(r, p);
    expect_pattern(r, 100, 3);
    check_usable(a, policy, r, 200);
    fill(r, 200, 4);
    char *pin = palloc(a, 200); /* FIRST_FIT: right after r; BUDDY: r's buddy */
    size_t need = 200 + (LEVEL >= 2 ? WORD : 0); /* the block r now is */
    assert_ptr_equal(pin, r + (policy == FIRST_FIT_ALLOCATION ? gjb_ff_block_size(need) : 256));
    fill(pin, 200, 5);
    char *m = prealloc(a, r, 3000); /* grow, moving */
    assert_true(m != r);
    expect_pattern(m, 200, 4);
    size_t u = check_usable(a, policy, m, 3000);
    memset(m + 200, 0xee, u - 200);
    fill(m, 200, 4);
    char *s = prealloc(a, m, 50); /* shrink in place */
    assert_ptr_equal(s, m);
    expect_pattern(s, 50, 4);
    u = check_usable(a, policy, s, 50);
    memset(s + 50, 0xff, u - 50);
    s = prealloc(a, s, 49); /* by less than a block: in place as well */
    assert_ptr_equal(s, m);
    expect_pattern(s, 49, 4);
    check_usable(a, policy, s, 49);
    expect_pattern(pin, 200, 5);
    valid(a);
    /* A memalign'd block through realloc: alignment and contents kept. */
    char *q = pmemalign(a, 256, 300);
    fill(q, 300, 6);
    char *q2 = prealloc(a, q, 6000);
    assert_int_equal((uintptr_t)q2 % 256, 0);
    expect_pattern(q2, 300, 6);
    errno = SENTINEL;
    size_t uq = mpart_usable_size(a, q2);
    assert_int_equal(errno, SENTINEL);
    if (LEVEL >= 2)
        assert_int_equal(uq, 6000);
    else if (!tool_view(uq, 6000))
        assert_true(uq >= usable_for(policy, 6000));
    memset(q2, 0xff, uq);
    valid(a);
    pfree(a, q2);
    pfree(a, s);
    pfree(a, pin);
    valid(a);
    assert_int_equal(pstats(a).alloc_blocks, 0);
    assert_int_equal(rep.n, 0);
}

/* mpart_findmaxfree_size is exactly the largest request that succeeds. */
static void findmaxfree_is_exact(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    for (int round = 0; round < 3; round++) {
        size_t m = 0;
        OK(mpart_findmaxfree_size(a, &m));
        assert_true(m > 0);
        errno = 0;
        assert_null(mpart_alloc(a, m + 1));
        assert_true(errno == ENOMEM || errno == ERROR_REGION_SIZE);
        char *p = palloc(a, m);
        check_usable(a, policy, p, m);
        memset(p, 0xff, mpart_usable_size(a, p));
        valid(a);
        pfree(a, p);
        palloc(a, 5000 + (size_t)round * 7000); /* something smaller stays */
    }
    valid(a);
}

/* A double free of a block that is still free (no neighbour merged with it)
 * and pointers outside every region of the partition are refused at every
 * level; after a merge too. */
static void double_free_and_foreign_refused(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    mpart_id b = make(policy, buf_b, sizeof buf_b);
    char *p = palloc(a, 64), *q = palloc(a, 64), *other = palloc(b, 64);
    fill(q, 64, 7);
    pfree(a, p); /* FIRST_FIT: the first block; BUDDY: q is its buddy; no merge */
    struct gjbmem_heap_stats st = pstats(a);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, p, 100), EINVAL);
    errno = SENTINEL;
    assert_int_equal(mpart_usable_size(a, p), 0);
    assert_int_equal(errno, ERROR_REGION_NULL);

    _Alignas(16) char stack[64];
    char *libc = malloc(64);
    assert_non_null(libc);
    char *foreign[] = {stack, not_managed, libc, other, buf_b + sizeof buf_b / 2};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        FAILS(mpart_free(a, foreign[i]), ERROR_REGION_NULL);
        FAILS_NULL(mpart_realloc(a, foreign[i], 10), EINVAL);
        errno = SENTINEL;
        assert_int_equal(mpart_usable_size(a, foreign[i]), 0);
        assert_int_equal(errno, ERROR_REGION_NULL);
    }
    free(libc);
    assert_int_equal(pstats(a).alloc_blocks, st.alloc_blocks);
    assert_int_equal(pstats(a).free_blocks, st.free_blocks);
    valid(a);
    valid(b);
    expect_pattern(q, 64, 7);
    assert_int_equal(rep.n, 2 * 1 + 2 * (int)(sizeof foreign / sizeof foreign[0]));
    assert_int_equal(rep.corrupt, 0);

    /* After a merge: q's block is now part of the free block p heads. */
    pfree(a, q);
    FAILS(mpart_free(a, q), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, q, 10), EINVAL);
    valid(a);
    assert_int_equal(pstats(a).alloc_blocks, 0);

    /* The system heap, same policy: foreign pointers, and a double free of a
     * block that stays free on its own (FIRST_FIT: s is carved from the front
     * of a free block, whose left neighbour is allocated, and t follows it;
     * BUDDY: t is s's buddy). */
    sys_policy(policy);
    char *s = salloc(100), *t = salloc(100);
    sfree(s);
    memset(&rep, 0, sizeof rep);
    char *sfor[] = {stack, not_managed, other};
    for (size_t i = 0; i < sizeof sfor / sizeof sfor[0]; i++) {
        FAILS(gjbmem_free(sfor[i]), EINVAL);
        FAILS_NULL(gjbmem_realloc(sfor[i], 10), EINVAL);
        assert_int_equal(gjbmem_usable_size(sfor[i]), 0);
    }
    FAILS(gjbmem_free(s), EINVAL);
    assert_int_equal(rep.n, 2 * (int)(sizeof sfor / sizeof sfor[0]) + 1);
    assert_int_equal(rep.corrupt, 0);
    sfree(t);
    sys_valid();
}

/* The system heap: usable sizes (1..300, large, around the direct threshold,
 * memalign), every usable byte writable, realloc across the heap and direct
 * mappings keeping the contents, malloc(0), calloc zeroing. */
static void sys_usable_and_realloc(void **state)
{
    sys_policy(policy_of(state));
    for (size_t n = 1; n <= 300; n++) {
        char *p = salloc(n);
        memset(p, 0xff, check_sys_usable(p, n));
        sfree(p);
    }
    static const size_t large[] = {1000, 4096, 65536, 100000, DIRECT - WORD - 1, DIRECT - WORD,
                                   DIRECT - 1, DIRECT, DIRECT + 1, DIRECT + 4096 - WORD,
                                   (size_t)1 << 20 | 3};
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
        char *p = salloc(large[i]);
        memset(p, 0xff, check_sys_usable(p, large[i]));
        sys_valid();
        sfree(p);
    }
    char *m = gjbmem_memalign(4096, 5000);
    assert_non_null(m);
    hold(0, m);
    assert_int_equal((uintptr_t)m % 4096, 0);
    memset(m, 0xff, check_sys_usable(m, 5000));
    sfree(m);

    /* Realloc through every kind of move, contents checked. */
    static const size_t steps[] = {100, 200, 50, 49, 3000, DIRECT + 10, DIRECT * 3, DIRECT * 2,
                                   DIRECT / 2 - 100, 70000, 1};
    char *p = salloc(10);
    size_t n = 10;
    fill(p, n, 8);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        p = srealloc(p, steps[i]);
        expect_pattern(p, n < steps[i] ? n : steps[i], 8);
        n = steps[i];
        size_t u = check_sys_usable(p, n);
        memset(p, 0xff, u);
        fill(p, n, 8);
        sys_valid();
    }
    sfree(p);

    /* malloc(0): a unique block, usable size 0 at levels 2-3. */
    char *z = salloc(0), *z2 = salloc(0);
    assert_true(z != z2);
    size_t uz = gjbmem_usable_size(z);
    if (LEVEL >= 2)
        assert_int_equal(uz, 0);
    else
        assert_true(uz >= 1);
    memset(z, 0xff, uz);
    sys_valid();
    sfree(z);
    z2 = srealloc(z2, 10);
    check_sys_usable(z2, 10);
    fill(z2, 10, 9);
    z2 = srealloc(z2, 1);
    expect_pattern(z2, 1, 9);
    errno = SENTINEL;
    assert_null(gjbmem_realloc(z2, 0)); /* frees */
    assert_int_equal(errno, SENTINEL);
    unhold(z2);
    assert_int_equal(sstats().heap.alloc_blocks, 0);

    /* calloc zeroes, also over memory just dirtied (and, at level 3, filled). */
    static const size_t csz[] = {1, 100, 4000, DIRECT + 100};
    for (size_t i = 0; i < sizeof csz / sizeof csz[0]; i++) {
        char *d = salloc(csz[i]);
        memset(d, 0x77, csz[i]);
        sfree(d);
        errno = SENTINEL;
        char *c = gjbmem_calloc(1, csz[i]);
        assert_non_null(c);
        assert_int_equal(errno, SENTINEL);
        hold(0, c);
        expect_bytes(c, 0, csz[i], 0);
        check_sys_usable(c, csz[i]);
        sfree(c);
    }
    sys_valid();
    assert_int_equal(sstats().heap.alloc_blocks, 0);
    assert_int_equal(sstats().direct_blocks, 0);
    assert_int_equal(rep.n, 0);
}

/* ================================================================================ */
/* every level: the pointer checks                                                   */
/* ================================================================================ */

/* Interior pointers and pointers at metadata inside a region are refused. */
static void interior_pointers_refused(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    char *p = palloc(a, 200), *g = palloc(a, 200);
    fill(p, 200, 10);
    fill(g, 200, 11);
    char *bad[] = {p + GJB_G, p + 64, p + 1, buf_a, buf_a + sizeof buf_a - 64};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS(mpart_free(a, bad[i]), ERROR_REGION_NULL);
        FAILS_NULL(mpart_realloc(a, bad[i], 10), EINVAL);
        errno = SENTINEL;
        assert_int_equal(mpart_usable_size(a, bad[i]), 0);
        assert_int_equal(errno, ERROR_REGION_NULL);
    }
    assert_int_equal(rep.n, 2 * (int)(sizeof bad / sizeof bad[0]));
    assert_int_equal(pstats(a).alloc_blocks, 2);
    valid(a);
    expect_pattern(p, 200, 10);
    expect_pattern(g, 200, 11);

    sys_policy(FIRST_FIT_ALLOCATION);
    char *s = salloc(300), *d = salloc(DIRECT + 10);
    FAILS(gjbmem_free(s + GJB_G), EINVAL);
    FAILS(gjbmem_free(d + 4096), EINVAL);
    FAILS_NULL(gjbmem_realloc(s + 32, 10), EINVAL);
    assert_int_equal(gjbmem_usable_size(d + GJB_G), 0);
    assert_int_equal(sstats().heap.alloc_blocks, 1);
    assert_int_equal(sstats().direct_blocks, 1);
    sfree(s);
    sfree(d);
    sys_valid();
}

/* ================================================================================ */
/* levels 2-3: guards (below 2 the same writes land in slack and harm nothing)       */
/* ================================================================================ */

enum { ONE_BYTE, GUARD_WORD };

struct damage {
    unsigned char *at;
    unsigned char saved[WORD];
    size_t len;
};

/* Writes past the request n of block p (usable size u): one byte at p + n
 * (ONE_BYTE), or over the guard word (GUARD_WORD; below level 2, where u > n:
 * the last word of the block, or what of it lies past the request). */
static void overflow(unsigned char *p, size_t n, size_t u, int kind, struct damage *d)
{
    if (kind == ONE_BYTE) {
        d->at = p + n;
        d->len = 1;
    } else if (LEVEL >= 2) {
        d->at = p + guard_word_at(p, n);
        d->len = WORD;
    } else {
        size_t from = u - WORD > n ? u - WORD : n;
        d->at = p + from;
        d->len = u - from;
    }
    memcpy(d->saved, d->at, d->len);
    static const char text[] = "OVERFLOW"; /* no byte 0: each byte changes */
    for (size_t i = 0; i < d->len; i++)
        d->at[i] = (unsigned char)(d->saved[i] ^ (unsigned char)text[i % 8]);
}

static void repair(const struct damage *d)
{
    memcpy(d->at, d->saved, d->len);
}

/* Requests whose guard has fill bytes before the word and whose guard word
 * follows the request at once, for both policies, small and large. */
static const size_t guard_sizes[] = {24, 32, 33, 40, 56, 100, 1000, 4088};

static void partition_overflow(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    for (size_t i = 0; i < sizeof guard_sizes / sizeof guard_sizes[0]; i++)
        for (int kind = ONE_BYTE; kind <= GUARD_WORD; kind++) {
            size_t n = guard_sizes[i];
            char *p = palloc(a, n), *g = palloc(a, n);
            fill(p, n, 12);
            fill(g, n, 13);
            size_t u = check_usable(a, policy, p, n);
            if (LEVEL < 2 && u == n) {
                /* no slack after this request: nothing to overflow into */
                pfree(a, p);
                pfree(a, g);
                continue;
            }
            struct gjbmem_heap_stats before = pstats(a);
            memset(&rep, 0, sizeof rep);
            struct damage d;
            overflow((unsigned char *)p, n, u, kind, &d);

            /* Calls first, repair, then assertions. */
            errno = SENTINEL;
            size_t un = mpart_usable_size(a, p);
            int uerr = errno;
            errno = SENTINEL;
            int vrc = mpart_validate(a), verr = errno;
            errno = SENTINEL;
            int frc = mpart_free(a, p), ferr = errno;
            struct gjbmem_heap_stats after = pstats(a);
            char *grown = NULL, *shrunk = NULL;
            int gerr = SENTINEL, serr = SENTINEL;
            if (frc != 0) {
                errno = SENTINEL;
                grown = mpart_realloc(a, p, 2 * n);
                gerr = errno;
                errno = SENTINEL;
                shrunk = mpart_realloc(a, p, n / 2);
                serr = errno;
            } else {
                unhold(p);
            }
            size_t bad_contents = frc != 0 ? first_bad(p, n, 12) : n;
            int reports = rep.n, corrupt = rep.corrupt;
            const void *addr = rep.addr;
            if (frc != 0) /* else the bytes are the engine's now */
                repair(&d);
            if (grown)
                rehold(p, grown);
            if (shrunk)
                rehold(grown ? grown : p, shrunk);

            if (LEVEL >= 2) {
                assert_int_equal(un, 0);
                assert_int_equal(uerr, ERROR_REGION_NULL);
                assert_int_equal(vrc, -1);
                assert_int_equal(verr, ERROR_KERNEL_MEMORY);
                assert_int_equal(frc, -1);
                assert_int_equal(ferr, ERROR_REGION_NULL);
                assert_int_equal(after.alloc_blocks, before.alloc_blocks); /* not freed */
                assert_int_equal(after.free, before.free);
                assert_null(grown);
                assert_int_equal(gerr, EINVAL);
                assert_null(shrunk);
                assert_int_equal(serr, EINVAL);
                assert_int_equal(bad_contents, n); /* left alone */
                assert_int_equal(reports, 4);      /* validate, free, 2 x realloc */
                assert_int_equal(corrupt, 4);
                assert_ptr_equal(addr, p);
                /* Repaired: whole again. */
                check_usable(a, policy, p, n);
                valid(a);
                expect_pattern(p, n, 12);
                pfree(a, p);
                assert_int_equal(pstats(a).alloc_blocks, before.alloc_blocks - 1);
            } else {
                assert_int_equal(un, u);
                assert_int_equal(uerr, SENTINEL);
                assert_int_equal(vrc, 0);
                assert_int_equal(verr, SENTINEL);
                assert_int_equal(frc, 0);
                assert_int_equal(ferr, SENTINEL);
                assert_int_equal(after.alloc_blocks, before.alloc_blocks - 1);
                assert_int_equal(reports, 0);
            }
            expect_pattern(g, n, 13);
            pfree(a, g);
            valid(a);
        }
    assert_int_equal(pstats(a).alloc_blocks, 0);
}

/* The same for the system heap: heap blocks under the policy, and direct
 * mappings (one with fill before the word, one whose word follows the
 * request: its usable size ends a page). */
static void sys_overflow(void **state)
{
    sys_policy(policy_of(state));
    static const size_t direct_sizes[] = {DIRECT + 100, DIRECT + 4096 - WORD};
    size_t nsizes = sizeof guard_sizes / sizeof guard_sizes[0];
    for (size_t i = 0; i < nsizes + 2; i++)
        for (int kind = ONE_BYTE; kind <= GUARD_WORD; kind++) {
            size_t n = i < nsizes ? guard_sizes[i] : direct_sizes[i - nsizes];
            char *p = salloc(n), *g = salloc(64);
            fill(p, n, 14);
            fill(g, 64, 15);
            size_t u = check_sys_usable(p, n);
            if (LEVEL < 2 && u == n) {
                sfree(p);
                sfree(g);
                continue;
            }
            struct gjbmem_sysheap_stats before = sstats();
            memset(&rep, 0, sizeof rep);
            struct damage d;
            overflow((unsigned char *)p, n, u, kind, &d);

            size_t un = gjbmem_usable_size(p);
            errno = SENTINEL;
            int vrc = gjbmem_sysheap_validate(), verr = errno;
            errno = SENTINEL;
            int frc = gjbmem_free(p), ferr = errno;
            struct gjbmem_sysheap_stats after = sstats();
            char *grown = NULL, *shrunk = NULL;
            int gerr = SENTINEL, serr = SENTINEL;
            if (frc != 0) {
                errno = SENTINEL;
                grown = gjbmem_realloc(p, 2 * n);
                gerr = errno;
                errno = SENTINEL;
                shrunk = gjbmem_realloc(p, n / 2);
                serr = errno;
            } else {
                unhold(p);
            }
            size_t bad_contents = frc != 0 ? first_bad(p, n, 14) : n;
            int reports = rep.n, corrupt = rep.corrupt;
            unsigned long heap = rep.heap;
            const void *addr = rep.addr;
            if (frc != 0) /* else p is gone (a direct mapping: unmapped) */
                repair(&d);
            if (grown)
                rehold(p, grown);
            if (shrunk)
                rehold(grown ? grown : p, shrunk);

            if (LEVEL >= 2) {
                assert_int_equal(un, 0);
                /* validate checks direct mappings' guards too */
                assert_int_equal(vrc, -1);
                assert_int_equal(verr, ERROR_KERNEL_MEMORY);
                assert_int_equal(frc, -1);
                assert_int_equal(ferr, EINVAL);
                assert_int_equal(after.heap.alloc_blocks, before.heap.alloc_blocks);
                assert_int_equal(after.direct_blocks, before.direct_blocks);
                assert_int_equal(after.direct_bytes, before.direct_bytes);
                assert_null(grown);
                assert_int_equal(gerr, EINVAL);
                assert_null(shrunk);
                assert_int_equal(serr, EINVAL);
                assert_int_equal(bad_contents, n);
                assert_int_equal(reports, 4); /* validate, free, 2 x realloc */
                assert_int_equal(corrupt, reports);
                assert_int_equal(heap, 0);
                assert_ptr_equal(addr, p);
                check_sys_usable(p, n);
                sys_valid();
                expect_pattern(p, n, 14);
                sfree(p);
                assert_int_equal(sstats().heap.alloc_blocks + sstats().direct_blocks,
                                 before.heap.alloc_blocks + before.direct_blocks - 1);
            } else {
                assert_int_equal(un, u);
                assert_int_equal(vrc, 0);
                assert_int_equal(verr, SENTINEL);
                assert_int_equal(frc, 0);
                assert_int_equal(ferr, SENTINEL);
                assert_int_equal(after.heap.alloc_blocks + after.direct_blocks,
                                 before.heap.alloc_blocks + before.direct_blocks - 1);
                assert_int_equal(reports, 0);
            }
            expect_pattern(g, 64, 15);
            sfree(g);
            sys_valid();
        }
    assert_int_equal(sstats().heap.alloc_blocks, 0);
    assert_int_equal(sstats().direct_blocks, 0);
}

/* ================================================================================ */
/* level 3: fill patterns                                                            */
/* ================================================================================ */

/* New bytes read GJB_NEW_FILL: alloc and memalign over memory dirtied just
 * before, the grown part of a realloc in place and moving. */
static void partition_new_fill(void **state)
{
    int policy = policy_of(state);
    if (LEVEL < 3)
        skip();
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    char *d = palloc(a, 8000);
    memset(d, 0x11, 8000);
    pfree(a, d);
    char *p = palloc(a, 3000);
    expect_bytes(p, 0, 3000, GJB_NEW_FILL);
    char *m = pmemalign(a, 1024, 1000);
    expect_bytes(m, 0, 1000, GJB_NEW_FILL);
    pfree(a, m);
    pfree(a, p);

    p = shrunk_block(a, 16);
    char *r = prealloc(a, p, 400); /* in place */
    assert_ptr_equal(r, p);
    expect_pattern(r, 100, 16);
    expect_bytes(r, 100, 400, GJB_NEW_FILL);
    char *pin = palloc(a, 400);
    memset(pin, 0x22, 400);
    r = prealloc(a, r, 2000); /* moves */
    assert_true(r != p);
    expect_pattern(r, 100, 16);
    expect_bytes(r, 100, 400, GJB_NEW_FILL); /* realloc keeps these as they were */
    expect_bytes(r, 400, 2000, GJB_NEW_FILL);
    r = prealloc(a, r, 50);
    r = prealloc(a, r, 60); /* regrown: the 10 bytes read as new again */
    expect_pattern(r, 50, 16);
    expect_bytes(r, 50, 60, GJB_NEW_FILL);
    pfree(a, r);
    pfree(a, pin);
    valid(a);
}

/* Freed partition blocks read GJB_FREE_FILL except the engine's own words:
 * FIRST_FIT keeps a header before the payload, its class links in its first
 * two words (FF_NEXT, FF_PREV after the header) and a footer in its last
 * word; BUDDY keeps its links in the first 2 words. Freed with no free
 * neighbour, merging with the free block before it, and with the one after
 * it. */
static void partition_free_fill(void **state)
{
    int policy = policy_of(state);
    if (LEVEL < 3)
        skip();
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    enum { N = 4096 };
    size_t head = policy == FIRST_FIT_ALLOCATION ? FF_PREV + sizeof(intptr_t) - GJB_W
                                                 : 2 * sizeof(intptr_t);
    char *b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = palloc(a, N);
        memset(b[i], 0x11, N);
    }
    pfree(a, b[1]); /* neighbours allocated */
    expect_bytes(b[1], head, N - WORD, GJB_FREE_FILL);
    pfree(a, b[2]); /* FIRST_FIT: merges with b[1] before it; BUDDY: b[3] is its buddy */
    expect_bytes(b[2], policy == FIRST_FIT_ALLOCATION ? 0 : head, N - WORD, GJB_FREE_FILL);
    expect_bytes(b[1], head, N - WORD, GJB_FREE_FILL);
    pfree(a, b[0]); /* merges with b[1] after it (its buddy) */
    expect_bytes(b[0], head, N - WORD, GJB_FREE_FILL);
    pfree(a, b[3]);
    expect_bytes(b[3], 0, N - WORD, GJB_FREE_FILL); /* merged into a block before it */
    valid(a);
    assert_int_equal(pstats(a).alloc_blocks, 0);
}

/* The system heap: malloc, memalign, direct mappings and the grown part of a
 * realloc (in the heap, heap to direct, direct to direct) read GJB_NEW_FILL;
 * calloc still zeroes (sys_usable_and_realloc checks it at every level). */
static void sys_new_fill(void **state)
{
    sys_policy(policy_of(state));
    if (LEVEL < 3)
        skip();
    char *d = salloc(6000);
    memset(d, 0x11, 6000);
    sfree(d);
    char *p = salloc(6000);
    expect_bytes(p, 0, 6000, GJB_NEW_FILL);
    char *m = gjbmem_memalign(512, 700);
    assert_non_null(m);
    hold(0, m);
    expect_bytes(m, 0, 700, GJB_NEW_FILL);
    char *big = salloc(DIRECT + 3000);
    expect_bytes(big, 0, DIRECT + 3000, GJB_NEW_FILL);
    sfree(big);
    char *c = gjbmem_calloc(4, DIRECT);
    assert_non_null(c);
    hold(0, c);
    expect_bytes(c, 0, 4 * DIRECT, 0);
    sfree(c);

    fill(p, 6000, 17);
    size_t n = 6000;
    static const size_t steps[] = {6100, 90000, DIRECT + 5, 3 * DIRECT};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        p = srealloc(p, steps[i]);
        expect_pattern(p, n, 17);
        expect_bytes(p, n, steps[i], GJB_NEW_FILL);
        fill(p, steps[i], 17);
        n = steps[i];
    }
    sfree(p);
    sfree(m);
    sys_valid();
}

/* Regressions: a partition may be made in a system-heap block's requested
 * bytes but never over its guard (levels 2-3: the guard starts right after
 * the request); mem_findmax never promises more than an allocation gets,
 * also when a direct mapping is the largest thing the limit allows. */
static void sys_block_limits(void **state)
{
    sys_policy(policy_of(state));
    char *b = salloc(4096);
    size_t u = gjbmem_usable_size(b);
    assert_true(u >= 4096);
    mpart_id mid;
    errno = SENTINEL;
    assert_int_equal(mpart_create(b, u + 64, &mid), -1);
    assert_int_equal(errno, EINVAL);
    OK(mpart_create(b, u, &mid));
    OK(mpart_delete(mid));
    sfree(b);
    sys_valid();

    struct gjbmem_sysheap_stats st = sstats();
    OK(gjbmem_sysheap_set_limit(st.port_bytes + 16 * 1024 * 1024));
    int m = mem_findmax();
    assert_true(m > 0);
    char *p = salloc((size_t)m);
    sfree(p);
    OK(gjbmem_sysheap_set_limit(SIZE_MAX));
    sys_valid();
}

/* -------------------------------------------------------------------------------- */

#define BOTH(fn)                                                                                  \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&first_fit),           \
        cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&buddy)

int main(void)
{
    print_message("GJBMEM_HARDENING=%d\n", LEVEL);
    const struct CMUnitTest tests[] = {
        BOTH(random_sequence),
        BOTH(sys_block_limits),
        BOTH(usable_size_is_writable),
        BOTH(realloc_keeps_contents),
        BOTH(findmaxfree_is_exact),
        BOTH(double_free_and_foreign_refused),
        BOTH(sys_usable_and_realloc),
        BOTH(interior_pointers_refused),
        BOTH(partition_overflow),
        BOTH(sys_overflow),
        BOTH(partition_new_fill),
        BOTH(partition_free_fill),
        BOTH(sys_new_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
