/*
 * test_buddy_bound.c - the worst-case size of a BUDDY partition
 * (docs/PORTING.md, "How large a partition must be"): with blocks of BU..B
 * bytes (B = BU * 2^r) and at most R bytes of blocks live at once (R a
 * multiple of B), a binary buddy system never fails in (r + 1) * R bytes of
 * B-aligned blocks (D. E. Knuth, The Art of Computer Programming, vol. 1,
 * section 2.5, exercise 41). A partition of
 *     bytes(R, B) = D + G + BU + ceil(A / BU) * (BU + 1),
 *     A = (r + 1) * R + 2 * B        (block area; 2 * B: alignment at its ends)
 * (D the descriptor, G the granule, one tag byte per BU bytes) is tried:
 *   - Knuth's own attack, which needs (1 + r / 2) * R whatever the
 *     placement: it must succeed there, and fail with less (so the attack
 *     bites and the bound is not vacuous);
 *   - random attacks (sizes 1..B bytes, live blocks up to R): no allocation
 *     may fail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buddy.h" /* the descriptor's size, BU, G */
#include "gjbext.h"
#include "gjbmem/mpart.h"

#define R_LEVELS 6                      /* r: B = BU << r */
#define BLOCK_B ((size_t)GJB_BU << R_LEVELS)
#define LIVE_R (32 * BLOCK_B)           /* R: bytes of blocks live at most */
#define MAXLIVE (LIVE_R / GJB_BU)
/* Bytes the guard adds to every request (hardening levels 2 and 3): the
 * attacks ask for whole blocks less the guard. */
#define GUARD (GJBMEM_HARDENING >= 2 ? sizeof(uintptr_t) : (size_t)0)

static size_t descriptor(void)
{
    return gjb_descriptor_bytes(GJB_BUDDY);
}

/* The formula of docs/PORTING.md. */
static size_t bound_bytes(size_t r_bytes, size_t b_bytes, unsigned r)
{
    size_t area = (r + 1) * r_bytes + 2 * b_bytes;
    return descriptor() + GJB_G + GJB_BU + (area + GJB_BU - 1) / GJB_BU * (GJB_BU + 1);
}

/* Room for the bound with a misaligned start, and for the attacks. */
#define MEM_BYTES ((R_LEVELS + 2) * LIVE_R + 64 * BLOCK_B)
static _Alignas(65536) char mem[MEM_BYTES + 65536];
#define BOUND_MAXLIVE MAXLIVE
#include "bound_live.h"

/* The block a request of n bytes takes (a power of two, at least BU). */
static size_t block_of(size_t n)
{
    n += GUARD;
    size_t b = GJB_BU;
    while (b < n)
        b *= 2;
    return b;
}

/* Allocates n bytes; false when the partition refused (ENOMEM). */
static bool take(mpart_id mid, size_t n)
{
    return take_block(mid, n, block_of(n));
}

/* Knuth's attack: fill R with BU blocks; then for k = 1..r free every block
 * whose address is not a multiple of BU << k and fill up to R again with
 * blocks of BU << k. Returns false at the first refused allocation. */
static bool knuth_attack(mpart_id mid)
{
    reset();
    while (live_bytes + GJB_BU <= LIVE_R)
        if (!take(mid, GJB_BU - GUARD))
            return false;
    for (unsigned k = 1; k <= R_LEVELS; k++) {
        size_t unit = (size_t)GJB_BU << k;
        for (size_t i = 0; i < nlive;)
            if ((uintptr_t)live[i] % unit != 0)
                give(mid, i);
            else
                i++;
        while (live_bytes + unit <= LIVE_R)
            if (!take(mid, unit - GUARD))
                return false;
    }
    return true;
}

/* Random attacks: requests of 1..B bytes (small ones more often), frees
 * of random blocks, biased phases that favour one size class then another;
 * the live blocks never exceed R. Every allocation must succeed. */
static void random_attack(mpart_id mid, unsigned long ops)
{
    reset();
    for (unsigned long i = 0; i < ops; i++) {
        unsigned phase = (unsigned)((i / 5000) % (R_LEVELS + 2));
        size_t n;
        size_t half = ((size_t)GJB_BU << phase) / 2;
        if (phase <= R_LEVELS && next() % 4 != 0)
            n = half + 1 + (size_t)(next() % half);
        else
            n = 1 + (size_t)(next() % BLOCK_B);
        if (n > BLOCK_B - GUARD)
            n = BLOCK_B - GUARD;
        bool alloc = nlive == 0 || next() % 100 < 55;
        if (alloc && live_bytes + block_of(n) <= LIVE_R) {
            if (!take(mid, n))
                fail_msg("op %lu: %lu bytes refused with %lu of %lu live", i, (unsigned long)n,
                         (unsigned long)live_bytes, (unsigned long)LIVE_R);
        } else if (nlive) {
            give(mid, (size_t)(next() % nlive));
        }
    }
    free_all(mid);
}

static mpart_id make(char *at, size_t bytes)
{
    mpart_id mid;
    assert_int_equal(mpart_create_ex(at, bytes, BUDDY_ALLOCATION, &mid), 0);
    return mid;
}

static void bound_holds_against_knuths_attack(void **state)
{
    (void)state;
    size_t bytes = bound_bytes(LIVE_R, BLOCK_B, R_LEVELS);
    assert_true(bytes + GJB_G <= MEM_BYTES);
    print_message("BUDDY bound: BU %lu, B %lu, R %lu: %lu bytes (descriptor %lu)\n",
                  (unsigned long)GJB_BU, (unsigned long)BLOCK_B, (unsigned long)LIVE_R,
                  (unsigned long)bytes, (unsigned long)descriptor());
    /* at a start aligned to the granule only, and at one aligned to B */
    char *starts[] = {mem + GJB_G, mem};
    for (size_t s = 0; s < 2; s++) {
        mpart_id mid = make(starts[s], bytes);
        assert_true(knuth_attack(mid));
        free_all(mid);
        assert_int_equal(mpart_validate(mid), 0);
        assert_int_equal(mpart_delete(mid), 0);
    }
}

/* Knuth's attack needs (1 + r/2) * R of fresh B-aligned memory, whatever
 * the placement: with a block area of B less it must fail. */
static void attack_fails_below_its_need(void **state)
{
    (void)state;
    size_t need = (2 + R_LEVELS) * LIVE_R / 2;
    /* the block area starts B-aligned: the descriptor and slack before it */
    size_t head = descriptor() + GJB_G + GJB_BU;
    size_t lead = (head + BLOCK_B - 1) / BLOCK_B * BLOCK_B; /* block area at mem + lead */
    char *at = mem + lead - head + GJB_G;                   /* rounds up to mem + lead */
    size_t area = need - BLOCK_B;
    size_t bytes = (size_t)(mem + lead - at) + area / GJB_BU * (GJB_BU + 1);
    mpart_id mid = make(at, bytes);
    struct partinfo pi;
    assert_int_equal(mpart_getinfo(mid, &pi), 0);
    assert_true(pi.free >= area - BLOCK_B && pi.free <= area + BLOCK_B);
    assert_false(knuth_attack(mid));
    free_all(mid);
    assert_int_equal(mpart_delete(mid), 0);
    /* and with the need itself (plus the slack) it succeeds */
    mid = make(at, bytes + 2 * BLOCK_B / GJB_BU * (GJB_BU + 1));
    assert_true(knuth_attack(mid));
    free_all(mid);
    assert_int_equal(mpart_delete(mid), 0);
}

static void bound_holds_against_random_attacks(void **state)
{
    (void)state;
    size_t bytes = bound_bytes(LIVE_R, BLOCK_B, R_LEVELS);
    for (unsigned seed = 1; seed <= 4; seed++) {
        rng = 88172645463325252ull * seed;
        mpart_id mid = make(mem + seed * GJB_G, bytes);
        random_attack(mid, 60000);
        assert_int_equal(mpart_validate(mid), 0);
        assert_int_equal(mpart_delete(mid), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bound_holds_against_knuths_attack),
        cmocka_unit_test(attack_fails_below_its_need),
        cmocka_unit_test(bound_holds_against_random_attacks),
    };
    return cmocka_run_group_tests_name("buddy_bound", tests, NULL, NULL);
}
