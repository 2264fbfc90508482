/*
 * test_ff_bound.c - the worst-case size of a FIRST_FIT partition
 * (docs/PORTING.md, "How large a partition must be"). With b(s) the bytes
 * of the block a request of s bytes takes, M the peak of the live blocks'
 * bytes and C the class bound of the largest block (a free block of at
 * least C bytes always satisfies it), an allocation never fails in a
 * one-region partition whose block area holds
 *     A >= M + (floor(M / m) + 1) * (C + m)        (m: the smallest block)
 * bytes: when one fails, no free block has C bytes; free blocks are never
 * neighbours (coalescing is immediate), so there are at most one more of
 * them than live blocks, which are at most M / m, and each live block
 * holds less than m bytes more than b(s) (a tail too small to be a block
 * stays with it).
 * The partition is tried at the bound against:
 *   - a doubling attack: fill with blocks of one size, free every other
 *     one (in address order), fill again with blocks twice as large, which
 *     none of the holes can take, and so on up to the largest block;
 *   - a growing attack: requests that each outgrow every hole before them,
 *     each followed by a small block that stays when they are freed;
 *   - random attacks.
 * No allocation may fail. And the doubling attack must fail where its
 * need exceeds the block area (so the attacks bite: the test can fail).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/firstfit.h" /* FF_MIN, the classes, GJB_W, GJB_G */
#include "gjbext.h"
#include "gjbmem/mpart.h"

/* Bytes the guard adds to every request (hardening levels 2 and 3). */
#define GUARD (GJBMEM_HARDENING >= 2 ? sizeof(uintptr_t) : (size_t)0)
#define LARGEST ((size_t)1024)        /* n: the largest request */
#define LIVE_M ((size_t)16 << 10)     /* M: block bytes live at most */
#define MAXLIVE (LIVE_M / FF_MIN)
#define MEM_BYTES ((size_t)2 << 20)
#define BOUND_MAXLIVE MAXLIVE
#include "bound_live.h"

static _Alignas(64) char mem[MEM_BYTES];

/* b(s): the block a request of s bytes takes. */
static size_t block_of(size_t s)
{
    return gjb_ff_block_size(s + GUARD);
}

/* C: a free block of this many bytes satisfies any request whose block
 * is `need` bytes (an exact class below FF_SMALL; above, every block of the
 * classes above need's own). */
static size_t class_bound(size_t need)
{
    return need < FF_SMALL ? need : ff_class_floor(ff_class(need) + 1);
}

/* The formula of docs/PORTING.md: the block area that never fails. */
static size_t bound_area(size_t m_bytes, size_t largest)
{
    return m_bytes + (m_bytes / FF_MIN + 1) * (class_bound(block_of(largest)) + FF_MIN);
}

/* The block area of an empty partition: its one free block. */
static size_t area_of(mpart_id mid)
{
    struct partinfo pi;
    assert_int_equal(mpart_getinfo(mid, &pi), 0);
    assert_int_equal(pi.segment, 1);
    return pi.free + GJB_W;
}

/* A partition at `at` whose block area is at least `area` bytes (and less
 * than area + 1 KiB more than that). */
static mpart_id make(char *at, size_t area)
{
    mpart_id mid;
    size_t bytes = area;
    for (;;) {
        assert_true(at + bytes <= mem + MEM_BYTES);
        assert_int_equal(mpart_create(at, bytes, &mid), 0);
        size_t got = area_of(mid);
        if (got >= area) {
            assert_true(got < area + 1024);
            return mid;
        }
        assert_int_equal(mpart_delete(mid), 0);
        bytes += area - got;
    }
}

/* Allocates s bytes; false when the partition refused (ENOMEM). */
static bool take(mpart_id mid, size_t s)
{
    size_t b = block_of(s);
    if (!take_block(mid, s, b))
        return false;
    if (GUARD == 0) { /* (with a guard, the usable size is the request's) */
        size_t got = mpart_usable_size(mid, live[nlive - 1]) + GJB_W;
        assert_true(got >= b && got < b + FF_MIN); /* the formula's b(s), and a tail */
    }
    assert_true(live_bytes <= LIVE_M);
    return true;
}

static int by_address(const void *a, const void *b)
{
    const size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return live[i] < live[j] ? -1 : live[i] > live[j];
}

/* Frees every other live block in address order (the 2nd, 4th, ...). */
static void free_every_other(mpart_id mid)
{
    size_t order[MAXLIVE], n = nlive;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort(order, n, sizeof order[0], by_address);
    char *victim[MAXLIVE];
    size_t nv = 0;
    for (size_t i = 1; i < n; i += 2)
        victim[nv++] = live[order[i]];
    for (size_t v = 0; v < nv; v++)
        for (size_t i = 0; i < nlive; i++)
            if (live[i] == victim[v]) {
                give(mid, i);
                break;
            }
}

/* The request whose block is `block` bytes. */
static size_t request_for(size_t block)
{
    return block - GJB_W - GUARD;
}

/* The doubling attack; false at the first refused allocation. */
static bool doubling_attack(mpart_id mid)
{
    reset();
    for (size_t b = FF_MIN; b <= block_of(LARGEST); b *= 2) {
        while (live_bytes + b <= LIVE_M)
            if (!take(mid, request_for(b)))
                return false;
        free_every_other(mid);
    }
    return true;
}

/* The growing attack: requests one granule larger each than the one
 * before (so that no hole another left can take them), each followed by a
 * pin of the smallest block; when M is reached, the requests are freed
 * and the pins stay, holding the holes apart. */
static bool growing_attack(mpart_id mid)
{
    reset();
    char *req[MAXLIVE];
    size_t nreq = 0;
    for (size_t b = 2 * FF_MIN; b <= block_of(LARGEST); b += GJB_G) {
        if (live_bytes + b + FF_MIN > LIVE_M) {
            for (size_t r = 0; r < nreq; r++)
                for (size_t i = 0; i < nlive; i++)
                    if (live[i] == req[r]) {
                        give(mid, i);
                        break;
                    }
            nreq = 0;
        }
        if (!take(mid, request_for(b)))
            return false;
        req[nreq++] = live[nlive - 1];
        if (!take(mid, request_for(FF_MIN)))
            return false;
    }
    return true;
}

/* Random requests of 1..n bytes (phases favour small, middle or large
 * ones), frees of random blocks; the live blocks never exceed M. */
static void random_attack(mpart_id mid, unsigned long ops)
{
    reset();
    for (unsigned long i = 0; i < ops; i++) {
        unsigned phase = (unsigned)((i / 4000) % 3);
        size_t top = phase == 0 ? 64 : phase == 1 ? LARGEST / 4 : LARGEST;
        size_t s = 1 + (size_t)(next() % top);
        bool alloc = nlive == 0 || next() % 100 < 55;
        if (alloc && live_bytes + block_of(s) <= LIVE_M) {
            if (!take(mid, s))
                fail_msg("op %lu: %lu bytes refused with %lu of %lu live", i, (unsigned long)s,
                         (unsigned long)live_bytes, (unsigned long)LIVE_M);
        } else if (nlive) {
            give(mid, (size_t)(next() % nlive));
        }
    }
    free_all(mid);
}

static void block_area_is_what_it_says(void **state)
{
    (void)state;
    mpart_id mid = make(mem, 64 << 10);
    size_t area = area_of(mid);
    /* the whole area is one block: its request fits, one granule more not */
    char *p = mpart_alloc(mid, request_for(area));
    assert_non_null(p);
    assert_int_equal(mpart_free(mid, p), 0);
    assert_null(mpart_alloc(mid, request_for(area) + GJB_G));
    assert_int_equal(mpart_delete(mid), 0);
}

static void bound_holds_against_the_attacks(void **state)
{
    (void)state;
    size_t area = bound_area(LIVE_M, LARGEST);
    print_message("FIRST_FIT bound: m %lu, n %lu (block %lu, class bound %lu), M %lu: "
                  "block area %lu\n",
                  (unsigned long)FF_MIN, (unsigned long)LARGEST,
                  (unsigned long)block_of(LARGEST),
                  (unsigned long)class_bound(block_of(LARGEST)), (unsigned long)LIVE_M,
                  (unsigned long)area);
    mpart_id mid = make(mem + GJB_G, area);
    assert_true(doubling_attack(mid));
    free_all(mid);
    assert_true(growing_attack(mid));
    free_all(mid);
    assert_int_equal(mpart_validate(mid), 0);
    assert_int_equal(mpart_delete(mid), 0);
}

static void bound_holds_against_random_attacks(void **state)
{
    (void)state;
    size_t area = bound_area(LIVE_M, LARGEST);
    for (unsigned seed = 1; seed <= 4; seed++) {
        rng = 88172645463325252ull * seed;
        mpart_id mid = make(mem + seed * GJB_G, area);
        random_attack(mid, 60000);
        assert_int_equal(mpart_validate(mid), 0);
        assert_int_equal(mpart_delete(mid), 0);
    }
}

/* The doubling attack's first round leaves M / 2 live in holes of the
 * smallest block that the second round cannot use: it needs M * 3 / 2 of
 * block area. With M * 5 / 4 it must fail, with the bound it must not. */
static void doubling_attack_bites(void **state)
{
    (void)state;
    mpart_id mid = make(mem, LIVE_M + LIVE_M / 4);
    assert_false(doubling_attack(mid));
    free_all(mid);
    assert_int_equal(mpart_validate(mid), 0);
    assert_int_equal(mpart_delete(mid), 0);
}

/* The smallest block area (to 1 KiB) in which an attack succeeds: more
 * than M (it bites), no more than the bound (which it must not break). */
static size_t area_needed(bool (*attack)(mpart_id))
{
    size_t lo = LIVE_M, hi = bound_area(LIVE_M, LARGEST);
    while (hi - lo > 1024) {
        size_t mid_area = lo + (hi - lo) / 2;
        mpart_id mid = make(mem, mid_area);
        bool ok = attack(mid);
        free_all(mid);
        assert_int_equal(mpart_validate(mid), 0);
        assert_int_equal(mpart_delete(mid), 0);
        if (ok)
            hi = mid_area;
        else
            lo = mid_area;
    }
    return hi;
}

static void what_the_attacks_need(void **state)
{
    (void)state;
    size_t doubling = area_needed(doubling_attack), growing = area_needed(growing_attack);
    size_t bound = bound_area(LIVE_M, LARGEST);
    /* (ratios in hundredths: the boards' printf may have no floating point) */
    print_message("block area the attacks need with M %lu: doubling %lu (%lu/100 M), growing %lu "
                  "(%lu/100 M); the bound %lu (%lu/100 M)\n",
                  (unsigned long)LIVE_M, (unsigned long)doubling,
                  (unsigned long)(doubling * 100 / LIVE_M), (unsigned long)growing,
                  (unsigned long)(growing * 100 / LIVE_M), (unsigned long)bound,
                  (unsigned long)(bound * 100 / LIVE_M));
    assert_true(doubling > LIVE_M + LIVE_M / 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(block_area_is_what_it_says),
        cmocka_unit_test(bound_holds_against_the_attacks),
        cmocka_unit_test(bound_holds_against_random_attacks),
        cmocka_unit_test(doubling_attack_bites),
        cmocka_unit_test(what_the_attacks_need),
    };
    return cmocka_run_group_tests_name("ff_bound", tests, NULL, NULL);
}
