/*
 * test_mpart_firstfit.c - what only FIRST_FIT partitions (mpart_create) do,
 * against SPEC sections 2 and 3: placement (the lowest free block that
 * holds the request, address order in a fresh partition), a header word
 * before every block and what a forged or damaged one gets, realloc growing
 * and shrinking in place, into a free left neighbour and around aligned
 * blocks, freed blocks merging with both neighbours, one free block per
 * fresh region, findmaxfree exactly the largest free payload (less the guard
 * at levels 2-3) and clamped to INT_MAX, and the statistics block by block.
 * The contract both policies keep is test_mpart.c's.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <sys/mman.h>

#include "mpart_suite.h"

static _Alignas(4096) char buf_a[8192];
static _Alignas(4096) char buf_b[8192];
static _Alignas(4096) char big[16384];
static _Alignas(8192) char page_pair[8192];

/* Allocates the block right after p (which must have a free right neighbour),
 * so that p cannot grow to the right, and gives back every other block taken
 * on the way. */
static char *pin_right(mpart_id mid, char *p)
{
    return take_block_at(mid, next_block(mid, p), 1);
}

/* === placement ================================================================ */

static void test_alloc_placement(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p[10];
    for (int i = 0; i < 10; i++) {
        p[i] = alloc_ok(a, 200);
        assert_true(p[i] >= buf_a && p[i] + 200 <= buf_a + sizeof buf_a);
        if (i)
            assert_true(p[i - 1] + 200 <= p[i]); /* fresh partition: in address order */
        fill(p[i], 200, (unsigned)i);
    }
    for (int i = 0; i < 10; i++)
        expect(p[i], 200, (unsigned)i);
    assert_int_equal(info(a).segment, 11);
    /* First fit: the lowest free block that holds the request. */
    free_ok(a, p[6]);
    free_ok(a, p[3]);
    assert_ptr_equal(alloc_ok(a, 200), p[3]);
    assert_ptr_equal(alloc_ok(a, 150), p[6]);
    for (int i = 0; i < 10; i++)
        free_ok(a, p[i]);
    assert_int_equal(info(a).segment, 1);
}

/* The first region is used up before the added one. */
static void test_addmem_first_region_first(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m0 = maxfree(a);
    OK(mpart_addmem(a, buf_b, 4096));
    struct partinfo p1 = info(a);
    assert_int_equal(p1.segment, 2); /* one free block per region */
    assert_int_equal(maxfree(a), m0); /* the first region is still the largest */
    char *p = alloc_ok(a, m0);
    assert_true(p >= buf_a && p < buf_a + sizeof buf_a);
    char *q = alloc_ok(a, 1000);
    assert_true(q >= buf_b && q + 1000 <= buf_b + 4096);
    free_ok(a, p);
    free_ok(a, q);
    same_blocks(p1, info(a));
}

/* === realloc in place ========================================================== */

static void test_realloc_grow_right_in_place(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 18);
    assert_ptr_equal(realloc_ok(a, p, 2000), p);
    expect(p, 100, 18);
    fill(p, 2000, 19);
    assert_int_equal(info(a).segment, 2);
    /* Grow over the whole free neighbour: no free block is left. */
    size_t all = block_bytes(a, p) + hdr_bytes(a) + maxfree(a);
    assert_ptr_equal(realloc_ok(a, p, all), p);
    expect(p, 2000, 19);
    assert_int_equal(maxfree(a), 0);
    struct partinfo pi = info(a);
    assert_int_equal(pi.segment, 1);
    assert_int_equal(pi.free, 0);
    FAILS_NULL(mpart_alloc(a, 1), ENOMEM);
    assert_ptr_equal(realloc_ok(a, p, 100), p);
    expect(p, 100, 19);
    assert_int_equal(info(a).segment, 2);
    free_ok(a, p);
}

static void test_realloc_shrink_in_place(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 4000);
    fill(p, 4000, 20);
    struct partinfo before = info(a);
    /* 101: a block with room to spare on every word size (100 fills one
     * exactly on 32-bit ARM: 4-byte header, 8-byte granule) */
    assert_ptr_equal(realloc_ok(a, p, 101), p);
    expect(p, 100, 20);
    struct partinfo after = info(a);
    assert_true(after.free > before.free);
    assert_int_equal(after.segment, 2); /* the cut-off tail merged with the free one */
    /* Shrinking by less than a block changes nothing but the usable size
     * (u: the most the block holds, its guard aside). */
    size_t u = block_bytes(a, p) - GUARD;
    assert_true(u - 1 >= 100);
    assert_ptr_equal(realloc_ok(a, p, u - 1), p);
    same_blocks(after, info(a));
    expect(p, 100, 20);
    /* With an allocated right neighbour the tail becomes a free block. */
    char *q = alloc_ok(a, 1000);
    char *g = alloc_ok(a, 100);
    fill(g, 100, 21);
    assert_ptr_equal(realloc_ok(a, q, 16), q);
    assert_int_equal(info(a).segment, 5);
    expect(g, 100, 21);
    free_ok(a, p);
    free_ok(a, q);
    free_ok(a, g);
    assert_int_equal(info(a).segment, 1);
}

static void test_realloc_grow_left(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *x = alloc_ok(a, 256), *y = alloc_ok(a, 256), *z = alloc_ok(a, 256);
    fill(y, 256, 22);
    fill(z, 256, 23);
    free_ok(a, x);
    char *r = realloc_ok(a, y, 400);
    assert_true(r >= x && r < y); /* moved down into the free left neighbour */
    expect(r, 256, 22);
    expect(z, 256, 23);
    fill(r, 400, 24);
    free_ok(a, r);
    free_ok(a, z);
    assert_int_equal(info(a).segment, 1);

    /* Over both neighbours: b grows across free a and free c. */
    char *pa = alloc_ok(a, 300), *pb = alloc_ok(a, 300), *pc = alloc_ok(a, 300);
    char *pd = alloc_ok(a, 300);
    fill(pb, 300, 25);
    fill(pd, 300, 26);
    free_ok(a, pa);
    free_ok(a, pc);
    r = realloc_ok(a, pb, 800);
    assert_true(r >= pa && r < pb);
    expect(r, 300, 25);
    expect(pd, 300, 26);
    free_ok(a, r);
    free_ok(a, pd);
    assert_int_equal(info(a).segment, 1);
}

static void test_realloc_aligned_blocks(void **state)
{
    (void)state;
    mpart_id a = make(big, sizeof big);
    char *p = memalign_ok(a, 256, 1000);
    fill(p, 1000, 27);
    assert_ptr_equal(realloc_ok(a, p, 100), p); /* shrink in place */
    expect(p, 100, 27);
    assert_ptr_equal(realloc_ok(a, p, 2000), p); /* grow in place */
    expect(p, 100, 27);
    fill(p, 2000, 28);

    /* With the right neighbour taken, growing moves and keeps the alignment. */
    char *pin = pin_right(a, p);
    char *r = realloc_ok(a, p, 3000);
    assert_true(r != p);
    assert_int_equal((uintptr_t)r % 256, 0);
    expect(r, 2000, 28);
    free_ok(a, pin);
    free_ok(a, r);
    assert_int_equal(info(a).segment, 1);

    /* A free left neighbour: the block may move down, still aligned. */
    char *left = alloc_ok(a, 2000);
    char *q = memalign_ok(a, 64, 200);
    fill(q, 200, 29);
    pin = pin_right(a, q);
    free_ok(a, left);
    r = realloc_ok(a, q, 1500);
    assert_int_equal((uintptr_t)r % 64, 0);
    expect(r, 200, 29);
    free_ok(a, pin);
    free_ok(a, r);
    assert_int_equal(info(a).segment, 1);
}

/* A block memalign'd to 32 that happens to sit at a 4096-aligned address
 * must be able to move to any 32-aligned place when it cannot grow in
 * place: SPEC 3 gives ENOMEM only when it "cannot grow now". */
static void test_realloc_aligned_block_moves_when_room(void **state)
{
    (void)state;
    mpart_id a = make(page_pair, 6144);
    size_t hb = hdr_bytes(a);
    char *x = alloc_ok(a, 16);
    char *first_hdr = x - hb;
    free_ok(a, x);
    /* A filler that ends where a block's payload lands on page_pair + 4096
     * (its request less the guard, which the block holds too). */
    size_t filler_block = (size_t)((page_pair + 4096 - hb) - first_hdr);
    char *f = alloc_ok(a, filler_block - hb - GUARD);
    assert_ptr_equal(f, x);
    char *p = memalign_ok(a, 32, 64);
    assert_ptr_equal(p, page_pair + 4096);
    fill(p, 64, 30);
    char *g = alloc_ok(a, 64);
    assert_ptr_equal(g, next_block(a, p)); /* p cannot grow in place */
    assert_true(maxfree(a) >= 1024);       /* but there is room to move */
    char *r = realloc_ok(a, p, 512);
    assert_int_equal((uintptr_t)r % 32, 0);
    expect(r, 64, 30);
    free_ok(a, r);
    free_ok(a, g);
    free_ok(a, f);
}

/* === headers and merged blocks ================================================== */

static void test_free_forged_header(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 512);
    size_t hb = hdr_bytes(a);
    /* Inside p, a header that reads like an allocated 64-byte block. */
    size_t forged = 64;
    memcpy(p + 128 - hb, &forged, sizeof forged);
    struct partinfo before = info(a);
    FAILS(mpart_free(a, p + 128), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, p + 128, 16), EINVAL);
    same_info(before, info(a));
    valid(a);
    free_ok(a, p);
}

static void test_free_damaged_header(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 256);
    char *g = alloc_ok(a, 64);
    fill(g, 64, 36);
    size_t hb = hdr_bytes(a), saved;
    memcpy(&saved, p - hb, sizeof saved);
    struct partinfo before = info(a);
    const size_t damage[] = {0, saved | 1, saved + 4096, SIZE_MAX & ~(size_t)7, 16};
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        memcpy(p - hb, &damage[i], sizeof damage[i]);
        FAILS(mpart_free(a, p), ERROR_REGION_NULL);
        FAILS_NULL(mpart_realloc(a, p, 1000), EINVAL);
        same_info(before, info(a));
        expect(g, 64, 36);
    }
    memcpy(p - hb, &saved, sizeof saved);
    valid(a);
    free_ok(a, p);
    free_ok(a, g);
}

static void test_free_after_merge(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    /* a then b: b merges into free a. */
    char *pa = alloc_ok(a, 128), *pb = alloc_ok(a, 128), *pc = alloc_ok(a, 128);
    fill(pc, 128, 38);
    free_ok(a, pa);
    free_ok(a, pb);
    struct partinfo before = info(a);
    FAILS(mpart_free(a, pb), ERROR_REGION_NULL);
    FAILS(mpart_free(a, pa), ERROR_REGION_NULL);
    same_info(before, info(a));
    valid(a);
    /* The merged memory is handed out again; the old b lies inside it. */
    char *x = alloc_ok(a, 200);
    assert_ptr_equal(x, pa);
    fill(x, 200, 39);
    before = info(a);
    FAILS(mpart_free(a, pb), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, pb, 16), EINVAL);
    same_info(before, info(a));
    expect(x, 200, 39);
    free_ok(a, x);

    /* e then d: free e's block moves down into d's. */
    char *pd = alloc_ok(a, 128), *pe = alloc_ok(a, 128);
    assert_ptr_equal(pd, pa);
    free_ok(a, pe);
    free_ok(a, pd);
    before = info(a);
    FAILS(mpart_free(a, pe), ERROR_REGION_NULL);
    FAILS(mpart_free(a, pd), ERROR_REGION_NULL);
    same_info(before, info(a));
    valid(a);
    expect(pc, 128, 38);
    free_ok(a, pc);
    assert_int_equal(info(a).segment, 1);
}

/* === findmaxfree ================================================================ */

/* A fresh partition is one free block: findmaxfree is its payload (less the
 * guard), and taking it leaves nothing. */
static void test_findmaxfree_fresh(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m = maxfree(a);
    struct partinfo pi = info(a);
    assert_int_equal(pi.segment, 1);
    assert_int_equal(m, max_for(pi.free)); /* one free block */
    /* Even the empty partition cannot hold one byte more. */
    FAILS_NULL(mpart_alloc(a, m + 1), ERROR_REGION_SIZE);
    char *p = alloc_ok(a, m);
    assert_int_equal(maxfree(a), 0);
    FAILS_NULL(mpart_alloc(a, 1), ENOMEM);
    free_ok(a, p);
    assert_int_equal(maxfree(a), m);
}

/* After any first allocation, findmaxfree is exactly the largest size that
 * mpart_alloc satisfies: one byte more fails with ENOMEM. */
static void test_findmaxfree_exact(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    const size_t first[] = {1, 15, 16, 17, 40, 100, 1000, 4095, 7000};
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
        char *p = alloc_ok(a, first[i]);
        size_t m = maxfree(a);
        assert_true(m > 0);
        FAILS_NULL(mpart_alloc(a, m + 1), ENOMEM);
        char *q = alloc_ok(a, m);
        free_ok(a, q);
        free_ok(a, p);
    }
    /* Fragmented: the largest hole is in the middle. */
    char *b[6];
    const size_t sizes[6] = {100, 2000, 100, 500, 100, 1};
    for (int i = 0; i < 6; i++)
        b[i] = alloc_ok(a, sizes[i]);
    char *tail = alloc_ok(a, maxfree(a)); /* no free tail */
    free_ok(a, b[1]);
    free_ok(a, b[3]);
    size_t m = maxfree(a);
    assert_true(m >= 2000 && m < 2100);
    FAILS_NULL(mpart_alloc(a, m + 1), ENOMEM);
    char *q = alloc_ok(a, m);
    assert_ptr_equal(q, b[1]);
    assert_true(maxfree(a) >= 500 && maxfree(a) < 600);
    free_ok(a, q);
    for (int i = 0; i < 6; i++)
        if (i != 1 && i != 3)
            free_ok(a, b[i]);
    free_ok(a, tail);
    assert_int_equal(info(a).segment, 1);
}

static void test_findmaxfree_clamped_to_int_max(void **state)
{
    (void)state;
    if (sizeof(size_t) < 8)
        skip();
    size_t size = (size_t)3 << 30;
    char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        skip();
    mpart_id a = make(mem, size);
    assert_int_equal(mpart_findmaxfree(a), INT_MAX);
    size_t s = maxfree(a);
    assert_true(s > (size_t)INT_MAX && s < size);
    char *p = alloc_ok(a, (size_t)INT_MAX + 1);
    assert_true(p >= mem && p + (size_t)INT_MAX + 1 <= mem + size);
    free_ok(a, p);
    p = alloc_ok(a, s);
    assert_int_equal(maxfree(a), 0);
    free_ok(a, p);
    drop(a);
    assert_int_equal(munmap(mem, size), 0);
}

/* === statistics and blocks ======================================================= */

static void test_getinfo_tracks_blocks(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t hb = hdr_bytes(a), total = sizeof buf_a;
    struct partinfo p0 = info(a);
    assert_int_equal(p0.free, maxfree(a) + GUARD);
    char *p = alloc_ok(a, 100);
    struct partinfo p1 = info(a);
    assert_int_equal(p1.segment, 2);
    assert_int_equal(p1.used + p1.free, total);
    assert_int_equal(p0.free - p1.free, block_bytes(a, p) + hb);
    assert_int_equal(p1.maxused, p1.used);
    char *q = alloc_ok(a, 200), *r = alloc_ok(a, 300);
    struct partinfo p3 = info(a);
    assert_int_equal(p3.segment, 4);
    assert_int_equal(p3.used + p3.free, total);
    assert_int_equal(p3.maxused, p3.used);
    size_t peak = p3.used, q_block = block_bytes(a, q) + hb;
    free_ok(a, q); /* p, free, r, free tail */
    struct partinfo p4 = info(a);
    assert_int_equal(p4.segment, 4);
    assert_int_equal(p4.used + p4.free, total);
    assert_int_equal(p4.maxused, peak);
    assert_int_equal(p4.free - p3.free, q_block - hb); /* a new free block: its payload */
    free_ok(a, r); /* merges with both neighbours */
    struct partinfo p5 = info(a);
    assert_int_equal(p5.segment, 2);
    assert_int_equal(p5.used, p1.used);
    assert_int_equal(p5.free, p1.free);
    free_ok(a, p);
    struct partinfo p6 = info(a);
    assert_int_equal(p6.segment, 1);
    assert_int_equal(p6.used, p0.used);
    assert_int_equal(p6.free, p0.free);
    assert_int_equal(p6.maxused, peak); /* the high-water mark stays */
    free_ok(a, alloc_ok(a, 16));
    assert_int_equal(info(a).maxused, peak);
}

static void test_blocks_layout(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100), *q = alloc_ok(a, 300), *r = alloc_ok(a, 50);
    free_ok(a, q); /* allocated, free, allocated, then the free rest */
    struct partinfo pi = info(a);
    struct mpart_block out[8];
    size_t m = 0;
    OK(mpart_blocks(a, out, 8, &m));
    assert_int_equal(m, 4);
    char *const payload[4] = {p, q, r, NULL};
    size_t free_bytes = 0, total = 0;
    for (size_t i = 0; i < m; i++) {
        assert_int_equal(out[i].header, sizeof(size_t)); /* one header word */
        assert_int_equal(out[i].used, i % 2 == 0 && i < 3);
        if (payload[i])
            assert_ptr_equal((char *)out[i].start + out[i].header, payload[i]);
        if (i) /* one region: each block starts where the one before ends */
            assert_ptr_equal((char *)out[i - 1].start + out[i - 1].size, out[i].start);
        if (out[i].used)
            assert_true(out[i].size - out[i].header >= mpart_usable_size(a, payload[i]) + GUARD);
        else
            free_bytes += out[i].size - out[i].header;
        total += out[i].size;
    }
    assert_int_equal(free_bytes, pi.free);
    assert_true(total < sizeof buf_a); /* the rest is metadata */
    free_ok(a, p);
    free_ok(a, r);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    policy = FF;
    const struct CMUnitTest tests[] = {
        T(test_alloc_placement),
        T(test_addmem_first_region_first),
        T(test_realloc_grow_right_in_place),
        T(test_realloc_shrink_in_place),
        T(test_realloc_grow_left),
        T(test_realloc_aligned_blocks),
        T(test_realloc_aligned_block_moves_when_room),
        T(test_free_forged_header),
        T(test_free_damaged_header),
        T(test_free_after_merge),
        T(test_findmaxfree_fresh),
        T(test_findmaxfree_exact),
        T(test_findmaxfree_clamped_to_int_max),
        T(test_getinfo_tracks_blocks),
        T(test_blocks_layout),
    };
    return cmocka_run_group_tests_name("mpart_firstfit", tests, NULL, NULL);
}
