/*
 * bound_live.h - the live blocks of the worst-case tests (test_buddy_bound.c,
 * test_ff_bound.c): which blocks an attack holds and the bytes of their
 * blocks, and the random numbers of the random attacks. Define
 * BOUND_MAXLIVE (the most blocks live at once) before including it.
 */
#ifndef GJB_TEST_BOUND_LIVE_H
#define GJB_TEST_BOUND_LIVE_H

#include <stdint.h>

static char *live[BOUND_MAXLIVE];
static size_t live_block[BOUND_MAXLIVE];
static size_t nlive, live_bytes;

static void reset(void)
{
    nlive = 0;
    live_bytes = 0;
}

/* Allocates n bytes from mid, a block of `block` bytes by the test's
 * formula; false when the partition refused (ENOMEM). */
static bool take_block(mpart_id mid, size_t n, size_t block)
{
    char *p = mpart_alloc(mid, n);
    if (!p) {
        assert_int_equal(errno, ENOMEM);
        return false;
    }
    assert_true(nlive < BOUND_MAXLIVE);
    live[nlive] = p;
    live_block[nlive++] = block;
    live_bytes += block;
    return true;
}

/* Frees live block i. */
static void give(mpart_id mid, size_t i)
{
    assert_int_equal(mpart_free(mid, live[i]), 0);
    live_bytes -= live_block[i];
    live[i] = live[--nlive];
    live_block[i] = live_block[nlive];
}

static void free_all(mpart_id mid)
{
    while (nlive)
        give(mid, nlive - 1);
}

/* xorshift64: the random attacks' numbers (seeded by setting rng). */
static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#endif
