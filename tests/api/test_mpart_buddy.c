/*
 * test_mpart_buddy.c - what only BUDDY partitions (mpart_create_ex(...,
 * BUDDY_ALLOCATION, ...)) do, against SPEC sections 2 and 3: the memory
 * carved into the largest aligned power-of-two blocks (the statistics,
 * findmaxfree and the smallest partition and region say so exactly),
 * power-of-two blocks aligned to their size (a 4096-byte block is
 * 4096-aligned), alignments up to 1 MiB, realloc in place over free upper
 * buddies and moving when one is taken, buddies merging when freed, and a
 * buddy partition beside a first-fit one. The contract both policies keep
 * is test_mpart.c's.
 *
 * The expected carving is computed here from the documented layout: the
 * descriptor at round_up(addr, 16) (struct gjb_heap and 48 list heads,
 * rounded to 64, a cache line), then the block area from first = round_up(area, 32)
 * holding (hi - first - tables) / 33 units of 32 bytes (a tag byte per
 * unit; tables: none for the first region, for an added one the region table
 * it carries, one record per region, rounded to 16, plus 16 to align it), cut
 * from the bottom into the largest block aligned (absolute address) at each
 * point. At hardening levels 2-3 a request of n takes the block for n and
 * its guard word (GUARD): fit(b), b less the guard, is the request that
 * exactly fills a block of b bytes.
 */
#define _GNU_SOURCE
#include "mpart_suite.h"

#include "engine/buddy.h" /* sizes of the descriptor, for the expected carving */

/* --- memory handed to partitions ---------------------------------------- */

static _Alignas(65536) char buf_a[65536];
static _Alignas(65536) char buf_b[65536];
static _Alignas(65536) char buf_c[65536];
static _Alignas(8192) char small_a[8192];
static _Alignas(8192) char small_b[8192];
static char *pool; /* 8 MiB aligned to 2 MiB (group setup) */
#define POOL_SIZE (8 * MIB)

/* The request that exactly fills a block of b bytes. */
static size_t fit(size_t b)
{
    return b - GUARD;
}

/* --- the expected carving ------------------------------------------------- */

struct carving {
    size_t blocks;  /* blocks the area is cut into */
    size_t bytes;   /* bytes of the block area */
    size_t largest; /* largest block */
    size_t pages;   /* 4096-byte blocks it can hand out at once */
};

static struct carving carve_area(uintptr_t first, uintptr_t end)
{
    struct carving c = {0, (size_t)(end - first), 0, 0};
    for (uintptr_t a = first; a < end;) {
        size_t s = BU;
        while (end - a >= 2 * s && a % (2 * s) == 0)
            s *= 2;
        c.blocks++;
        if (s > c.largest)
            c.largest = s;
        c.pages += s / 4096;
        a += s;
    }
    return c;
}

#define ROUND_G(x) (((x) + GRAIN - 1) & ~(GRAIN - 1))

/* The carving of a region ending at hi whose block area starts at or after
 * area, with `extra` bytes of tables after its tags. */
static struct carving carve_region(uintptr_t area, uintptr_t hi, size_t extra)
{
    uintptr_t first = (area + BU - 1) & ~(uintptr_t)(BU - 1);
    size_t tables = extra ? extra + GRAIN : 0;
    if (first >= hi || hi - first < tables + BU + 1)
        return (struct carving){0, 0, 0, 0};
    return carve_area(first, first + (hi - first - tables) / (BU + 1) * BU);
}

static size_t descriptor_bytes(void)
{
    return (sizeof(struct gjb_heap) + BD_ORDERS * sizeof(intptr_t) + 63) & ~(size_t)63;
}

/* The carving of a partition created over [addr, addr + size). */
static struct carving carve_partition(const char *addr, size_t size)
{
    uintptr_t d = ((uintptr_t)addr + GRAIN - 1) & ~(uintptr_t)(GRAIN - 1);
    return carve_region(d + descriptor_bytes(), (uintptr_t)addr + size, 0);
}

/* The carving of a region added over [addr, addr + size) that carries a
 * region table with room for `records` records (0: the table stays where
 * it is). The engine moves the table into the second region with room for
 * four, and keeps it there until a fifth region comes. */
static struct carving carve_added(const char *addr, size_t size, unsigned records)
{
    return carve_region((uintptr_t)addr, (uintptr_t)addr + size,
                        ROUND_G(records * sizeof(struct gjb_region)));
}

/* === creation ================================================================= */

/* A fresh partition: the memory is carved into the largest aligned
 * power-of-two blocks; the statistics and findmaxfree say so exactly. */
static void test_create_fresh_carving(void **state)
{
    (void)state;
    const struct {
        char *base;
        size_t size;
    } cases[] = {
        {buf_a, sizeof buf_a}, {buf_a + 1, 50000},    {buf_a + 17, 8192},  {buf_a + 4095, 4097},
        {small_a, 8192},       {small_a + 3, 5000},   {buf_b + 0x300, 30000}, {pool, 3 * MIB},
        {pool + 12345, 777777},
    };
    assert_int_equal(carve_partition(buf_a, sizeof buf_a).largest, 16 * KIB);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *base = cases[i].base;
        size_t size = cases[i].size;
        struct carving c = carve_partition(base, size);
        mpart_id mid = make(base, size);
        struct partinfo pi = info(mid);
        assert_int_equal(pi.segment, c.blocks);
        assert_int_equal(pi.free, c.bytes);
        assert_int_equal(pi.used + pi.free, size);
        assert_int_equal(pi.maxused, pi.used);
        size_t m = maxfree(mid);
        assert_int_equal(m, fit(c.largest));
        struct gjbmem_heap_stats st = stats(mid);
        assert_int_equal(st.free_blocks, c.blocks);
        assert_int_equal(st.alloc_blocks, 0);
        assert_int_equal(st.regions, 1);
        /* The largest block is the largest request ever possible. */
        FAILS_NULL(mpart_alloc(mid, m + 1), ERROR_REGION_SIZE);
        char *p = alloc_ok(mid, m);
        assert_true(p >= base && p + c.largest <= base + size);
        fill(p, m, (unsigned)i);
        expect(p, m, (unsigned)i);
        free_ok(mid, p);
        same_info(info(mid), (struct partinfo){pi.segment, pi.used, pi.used + c.largest, pi.free});
        drop(mid);
    }
}

/* The smallest partition: exactly the metadata and one 32-byte block (and
 * its tag byte); every smaller size was refused. */
static void test_create_smallest_is_one_block(void **state)
{
    (void)state;
    size_t size;
    mpart_id mid = create_smallest(small_a, 4096, BUDDY, &size);
    const size_t small[] = {1, 16, 64, 256, descriptor_bytes(), descriptor_bytes() + BU};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        assert_true(small[i] < size); /* refused with EINVAL by create_smallest */
    assert_int_equal(carve_partition(small_a, size).blocks, 1);
    assert_int_equal(carve_partition(small_a, size - 1).blocks, 0);
    struct partinfo pi = info(mid);
    assert_int_equal(pi.free, BU);
    assert_int_equal(maxfree(mid), fit(BU));
    FAILS_NULL(mpart_alloc(mid, fit(BU) + 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(mid, 2 * BU, 1), ERROR_REGION_SIZE);
    char *p = alloc_ok(mid, fit(BU));
    assert_true(p >= small_a && p + BU <= small_a + size);
    assert_int_equal(maxfree(mid), 0);
    free_ok(mid, p);
    drop(mid);
}

/* Taking the largest block until none is left takes each carved block. */
static void test_take_every_carved_block(void **state)
{
    (void)state;
    mpart_id a = make(small_a, sizeof small_a);
    char *blocks[512];
    size_t n = take_all(a, blocks, 512);
    struct carving c = carve_partition(small_a, sizeof small_a);
    assert_int_equal(n, c.blocks);
    while (n > 0)
        free_ok(a, blocks[--n]);
    assert_int_equal(maxfree(a), fit(c.largest));
}

/* === mpart_addmem ============================================================ */

/* The smallest region: one unit after the region table of two records it
 * would carry and a granule to align it. */
static void test_addmem_least(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    const size_t least = ROUND_G(2 * sizeof(struct gjb_region)) + GRAIN + BU + 1;
    FAILS(mpart_addmem(a, small_a, least - 1), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a + 1, least), ERROR_REGION_SIZE); /* 31 bytes to align */
    FAILS(mpart_addmem(a, small_a, BU), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a + 1, BU + 1), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a + 1, 2 * BU - 1), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a, 1), ERROR_REGION_SIZE);
    same_info(before, info(a));
    OK(mpart_addmem(a, small_a, least));
    struct partinfo pi = info(a);
    assert_int_equal(pi.segment, before.segment + 1);
    assert_int_equal(pi.free, before.free + BU);
    assert_int_equal(pi.used + pi.free, sizeof buf_a + least);
    valid(a);
}

/* Added regions are carved like the first; a larger one raises the largest
 * possible request; the regions never merge with each other. */
static void test_addmem_carving(void **state)
{
    (void)state;
    mpart_id a = make(small_a, sizeof small_a);
    struct carving c0 = carve_partition(small_a, sizeof small_a);
    size_t m0 = maxfree(a);
    assert_int_equal(m0, fit(c0.largest));
    FAILS_NULL(mpart_alloc(a, m0 + 1), ERROR_REGION_SIZE);

    /* A region whose start is not aligned: unequal blocks. */
    assert_int_equal(descriptor_bytes(), gjb_descriptor_bytes(GJB_BUDDY));
    struct carving c1 = carve_added(buf_a + 0x1234, 40000, 4);
    OK(mpart_addmem(a, buf_a + 0x1234, 40000));
    valid(a);
    struct partinfo pi = info(a);
    assert_int_equal(pi.segment, c0.blocks + c1.blocks);
    assert_int_equal(pi.free, c0.bytes + c1.bytes);
    assert_int_equal(pi.used + pi.free, sizeof small_a + 40000);
    assert_int_equal(pi.maxused, pi.used); /* the high-water mark follows */
    size_t lb = c0.largest > c1.largest ? c0.largest : c1.largest;
    size_t m1 = maxfree(a);
    assert_int_equal(m1, fit(lb));
    assert_true(m1 > m0);
    char *p = alloc_ok(a, m1); /* refused before the region came */
    assert_true(p >= buf_a && p + lb <= buf_a + 0x1234 + 40000);
    fill(p, m1, 3);

    /* A third region; p was a whole carved block, so no split so far. */
    struct carving c2 = carve_added(small_b, sizeof small_b, 0);
    OK(mpart_addmem(a, small_b, sizeof small_b));
    assert_int_equal(info(a).segment, c0.blocks + c1.blocks + c2.blocks);
    assert_int_equal(info(a).free, c0.bytes + c1.bytes + c2.bytes - lb);
    expect(p, m1, 3);
    free_ok(a, p);
    /* Everything free: each region back to its carving. */
    pi = info(a);
    assert_int_equal(pi.segment, c0.blocks + c1.blocks + c2.blocks);
    assert_int_equal(pi.free, c0.bytes + c1.bytes + c2.bytes);
}

/* === mpart_alloc and mpart_memalign ============================================ */

/* Power-of-two blocks, naturally aligned (alloc_ok checks the block and its
 * alignment). */
static void test_alloc_block_sizes(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo fresh = info(a);
    const size_t sizes[] = {1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
                            255, 256, 257, 1000, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = alloc_ok(a, sizes[i]);
        fill(p, sizes[i], (unsigned)i);
        struct partinfo pi = info(a);
        assert_int_equal(fresh.free - pi.free, block_for(sizes[i] + GUARD, 1));
        assert_int_equal(pi.used + pi.free, sizeof buf_a);
        expect(p, sizes[i], (unsigned)i);
        free_ok(a, p);
        same_blocks(info(a), fresh);
    }
    /* Requests that fill 4096-byte blocks: 4096-aligned, until ENOMEM, as
     * many as the carving holds; no two overlap. */
    char *p[16];
    int n = 0;
    for (;;) {
        errno = SENTINEL;
        char *q = mpart_alloc(a, fit(4096));
        if (!q) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        assert_int_equal(errno, SENTINEL);
        assert_int_equal((uintptr_t)q % 4096, 0);
        holds(a, q, fit(4096), 1);
        assert_int_equal(block_bytes(a, q), 4096);
        assert_true(q >= buf_a && q + 4096 <= buf_a + sizeof buf_a);
        assert_true(n < 16);
        fill(q, fit(4096), 100 + (unsigned)n);
        p[n++] = q;
    }
    assert_int_equal((size_t)n, carve_partition(buf_a, sizeof buf_a).pages);
    for (int i = 0; i < n; i++) {
        expect(p[i], fit(4096), 100 + (unsigned)i);
        for (int j = 0; j < i; j++)
            assert_true(p[j] + 4096 <= p[i] || p[i] + 4096 <= p[j]);
    }
    for (int i = 0; i < n; i++)
        free_ok(a, p[i]);
    same_blocks(info(a), fresh);
}

/* An alignment is a block size: larger than any block is too big, and the
 * largest blocks taken leave none of that alignment. */
static void test_memalign_alignment_is_block(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m = maxfree(a), b = m + GUARD; /* the largest block */
    struct partinfo before = info(a);
    FAILS_NULL(mpart_memalign(a, 2 * b, 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(a, SIZE_MAX / 2 + 1, 1), ERROR_REGION_SIZE);
    same_info(before, info(a));
    char *big[8];
    int n = 0;
    while (n < 8 && (big[n] = mpart_memalign(a, b, 1)) != NULL)
        n++;
    assert_true(n >= 1 && n < 8);
    before = info(a);
    FAILS_NULL(mpart_memalign(a, b, 1), ENOMEM);
    FAILS_NULL(mpart_memalign(a, 64, m), ENOMEM);
    same_info(before, info(a));
    for (int i = 0; i < n; i++) {
        assert_true(aligned_to(big[i], b));
        free_ok(a, big[i]);
    }
}

/* Every power of two up to 1 MiB, over a partition large enough to hold a
 * 1 MiB block. */
static void test_memalign_up_to_1mib(void **state)
{
    (void)state;
    mpart_id a = make(pool, 4 * MIB);
    assert_true(maxfree(a) >= fit(MIB));
    char *p[21];
    int n = 0;
    for (size_t align = 1; align <= MIB; align <<= 1, n++) {
        size_t size = 100 + (size_t)n;
        p[n] = memalign_ok(a, align, size); /* the block for (size, align) */
        assert_true(p[n] >= pool && p[n] + size <= pool + 4 * MIB);
        fill(p[n], size, (unsigned)n);
    }
    for (int i = 0; i < n; i++)
        expect(p[i], 100 + (size_t)i, (unsigned)i);
    for (int i = 0; i < n; i++)
        free_ok(a, p[i]);
    /* Both 1 MiB blocks at once, then none. */
    char *x = memalign_ok(a, MIB, fit(MIB)), *y = memalign_ok(a, MIB, 1);
    assert_true(x != y);
    FAILS_NULL(mpart_memalign(a, MIB, 1), ENOMEM);
    FAILS_NULL(mpart_memalign(a, 2 * MIB, 1), ERROR_REGION_SIZE);
    free_ok(a, x);
    free_ok(a, y);
    /* The manual's sample: alignment 4, 4 KiB. */
    char *q = memalign_ok(a, 4, 4096);
    assert_int_equal(mpart_usable_size(a, q), 4096);
    free_ok(a, q);
    struct carving c = carve_partition(pool, 4 * MIB);
    assert_int_equal(info(a).segment, c.blocks);
    assert_int_equal(info(a).free, c.bytes);
}

/* === mpart_realloc =========================================================== */

/* NULL is mpart_alloc; shrinking stays in place; growing stays in place
 * while the upper buddies are free and moves (contents kept, aligned to the
 * new size) when one is taken. */
static void test_realloc_in_place_and_moving(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo fresh = info(a);
    char *p = realloc_ok(a, NULL, 100);
    fill(p, 100, 6);
    /* Shrink: same address, the upper halves become free. */
    struct partinfo before = info(a);
    char *r = realloc_ok(a, p, 40);
    assert_ptr_equal(r, p);
    expect(p, 40, 6);
    assert_int_equal(info(a).free, before.free + 64);
    assert_int_equal(info(a).segment, before.segment + 1);
    /* Same block size: nothing changes. */
    before = info(a);
    assert_ptr_equal(realloc_ok(a, p, fit(64)), p);
    same_info(before, info(a));
    /* Grow back over the free upper half, then further. */
    fill(p, fit(64), 7);
    assert_ptr_equal(realloc_ok(a, p, fit(128)), p);
    expect(p, fit(64), 7);
    assert_int_equal(info(a).segment, before.segment - 1);
    fill(p, fit(128), 8);

    /* Take the upper buddy: growing must move. */
    char *pin = take_block_at(a, p + 128, fit(128));
    fill(pin, fit(128), 9);
    r = realloc_ok(a, p, 200);
    assert_true(r != p);
    expect(r, fit(128), 8);
    expect(pin, fit(128), 9);
    /* The old block is free again (a realloc to its old place is refused). */
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    fill(r, 200, 10);
    /* A large block shrinks in place, then grows back over its free upper
     * half. */
    char *big = memalign_ok(a, 8192, fit(4096)); /* an 8 KiB block */
    fill(big, fit(4096), 11);
    assert_ptr_equal(realloc_ok(a, big, fit(4096)), big);
    expect(big, fit(4096), 11);
    assert_ptr_equal(realloc_ok(a, big, fit(8192)), big);
    expect(big, fit(4096), 11);
    /* Shrinking a large block frees its upper halves for others. */
    assert_ptr_equal(realloc_ok(a, big, 100), big);
    expect(big, 100, 11);
    char *in_upper = take_block_at(a, big + 4096, fit(4096));
    free_ok(a, in_upper);
    free_ok(a, big);
    free_ok(a, r);
    free_ok(a, pin);
    struct partinfo end = info(a);
    assert_int_equal(end.segment, fresh.segment);
    assert_int_equal(end.free, fresh.free);
}

/* SPEC 3: mpart_realloc keeps an aligned block's alignment. A memalign'd
 * block shrunk in place below its alignment, then grown while its upper
 * buddy is taken, moves to a block aligned only to its new size.
 * (A regression test: the engine once lost the alignment here.) */
static void test_realloc_shrunk_aligned_block_keeps_alignment(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = memalign_ok(a, 4096, 100); /* a 4096-byte block */
    fill(p, 100, 12);
    assert_ptr_equal(realloc_ok(a, p, 40), p);     /* shrinks in place to 64 bytes */
    char *q = take_block_at(a, p + 64, fit(64));   /* its upper buddy */
    char *r = realloc_ok(a, p, 100);              /* must move */
    expect(r, 40, 12);
    bool kept = aligned_to(r, 4096);
    free_ok(a, r);
    free_ok(a, q);
    assert_true(kept);
}

/* === mpart_free ============================================================== */

/* Two buddies freed merge; neither address is a block then, and once the
 * merged block is handed out whole its upper address is interior. */
static void test_free_merged_buddies(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, fit(4096));
    fill(p, fit(4096), 13);
    const size_t interior[] = {1, 16, BU, 64, 2048, 4064};
    for (size_t i = 0; i < sizeof interior / sizeof interior[0]; i++) {
        FAILS(mpart_free(a, p + interior[i]), ERROR_REGION_NULL);
        errno = 0;
        assert_int_equal(mpart_usable_size(a, p + interior[i]), 0);
        assert_int_equal(errno, ERROR_REGION_NULL);
    }
    /* x is the lower half of a block of two units: the first free unit may
     * be one the carving left alone, whose buddy is no block. */
    char *pair = alloc_ok(a, fit(2 * BU));
    free_ok(a, pair);
    char *x = take_block_at(a, pair, fit(BU));
    char *y = take_block_at(a, (char *)((uintptr_t)x ^ BU), fit(BU));
    fill(y, fit(BU), 16);
    free_ok(a, x);
    FAILS(mpart_free(a, x), ERROR_REGION_NULL);
    expect(y, fit(BU), 16);
    free_ok(a, y);
    struct partinfo ia = info(a);
    FAILS(mpart_free(a, x), ERROR_REGION_NULL);
    FAILS(mpart_free(a, y), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, x, 16), EINVAL);
    FAILS_NULL(mpart_realloc(a, y, 16), EINVAL);
    same_info(ia, info(a));
    char *lo = x < y ? x : y, *hi = x < y ? y : x;
    char *z = take_block_at(a, lo, fit(2 * BU));
    fill(z, fit(2 * BU), 17);
    ia = info(a);
    FAILS(mpart_free(a, hi), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, hi, 16), EINVAL);
    same_info(ia, info(a));
    expect(z, fit(2 * BU), 17);
    expect(p, fit(4096), 13);
    free_ok(a, z);
    free_ok(a, p);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    valid(a);
}

/* === buddy and first fit side by side ======================================== */

static void test_side_by_side(void **state)
{
    (void)state;
    /* A first-fit partition and a buddy one. */
    mpart_id f = make_policy(buf_b, sizeof buf_b, FF);
    mpart_id b = make(buf_c, sizeof buf_c);
    mpart_id mid = 0x5555;
    FAILS(mpart_create_ex(buf_b + sizeof buf_b - 16, 64, BUDDY, &mid), EINVAL);
    FAILS(mpart_addmem(f, buf_c, 4096), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(b, buf_b + 4096, 4096), ERROR_KERNEL_MEMORY);

    /* The same requests, each policy its own way. */
    char *fp = alloc_ok(f, 4096), *bp = alloc_ok(b, 4096);
    assert_int_equal(mpart_usable_size(b, bp), 4096);
    assert_int_equal((uintptr_t)bp % 4096, 0);
    assert_true(fp >= buf_b && fp + 4096 <= buf_b + sizeof buf_b);
    assert_true(bp >= buf_c && bp + 4096 <= buf_c + sizeof buf_c);
    fill(fp, 4096, 17);
    fill(bp, 4096, 18);
    char *fa = memalign_ok(f, 1024, 100), *ba = memalign_ok(b, 1024, 100);
    assert_int_equal(block_bytes(b, ba), 1024);
    assert_true(stats(f).header_bytes > 0);

    /* Neither takes the other's blocks. */
    FAILS(mpart_free(f, bp), ERROR_REGION_NULL);
    FAILS(mpart_free(b, fp), ERROR_REGION_NULL);
    FAILS(mpart_free(f, ba), ERROR_REGION_NULL);
    FAILS(mpart_free(b, fa), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(f, bp, 10), EINVAL);
    FAILS_NULL(mpart_realloc(b, fp, 10), EINVAL);
    valid(f);
    valid(b);
    expect(fp, 4096, 17);
    expect(bp, 4096, 18);

    /* Interleaved work on both. */
    char *fr = realloc_ok(f, fp, 9000), *br = realloc_ok(b, bp, 9000);
    expect(fr, 4096, 17);
    expect(br, 4096, 18);
    assert_int_equal(block_bytes(b, br), 16384);
    assert_int_equal((uintptr_t)br % 16384, 0);
    free_ok(f, fr);
    free_ok(f, fa);
    free_ok(b, br);
    free_ok(b, ba);
    assert_int_equal(info(f).segment, 1);
    assert_int_equal(info(b).segment, carve_partition(buf_c, sizeof buf_c).blocks);
    drop(b);
    drop(f);
    /* Each policy over the other's memory, now that both are gone. */
    f = make_policy(buf_c, sizeof buf_c, FF);
    b = make(buf_b, sizeof buf_b);
    free_ok(b, alloc_ok(b, 100));
    drop(f);
    drop(b);
}

/* === lists across regions ===================================================== */

/* The fast paths look at the hot region (the largest) only: a free list
 * whose first block, or whose second, lies in another region, and a block
 * of another region freed, go the general way and come out the same. */
static void test_lists_across_regions(void **state)
{
    (void)state;
    static char *blk[(sizeof buf_a + sizeof small_a) / BU];
    mpart_id a = make(buf_a, sizeof buf_a); /* hot: the larger region */
    OK(mpart_addmem(a, small_a, sizeof small_a));
    size_t n = 0;
    char *p;
    while ((p = mpart_alloc(a, fit(BU))) != NULL)
        blk[n++] = p;
    assert_true(n > 4);
    /* two blocks of each region that are not buddies of each other (so
     * freeing them merges nothing: every other unit is taken) */
    char *in_a[2] = {NULL, NULL}, *in_b[2] = {NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        bool small = blk[i] >= small_a && blk[i] < small_a + sizeof small_a;
        char **pair = small ? in_b : in_a;
        if (!pair[0])
            pair[0] = blk[i];
        else if (!pair[1] && (uintptr_t)blk[i] / (2 * BU) != (uintptr_t)pair[0] / (2 * BU))
            pair[1] = blk[i];
    }
    assert_non_null(in_a[1]);
    assert_non_null(in_b[1]);
    struct partinfo full = info(a);
    /* the first block of the list in the other region, the second in the
     * hot one: both come back, last freed first */
    free_ok(a, in_a[0]);
    free_ok(a, in_b[0]); /* a block of the other region freed */
    assert_ptr_equal(alloc_ok(a, fit(BU)), in_b[0]);
    assert_ptr_equal(alloc_ok(a, fit(BU)), in_a[0]);
    /* the first in the hot region, the second in the other */
    free_ok(a, in_b[1]);
    free_ok(a, in_a[1]);
    assert_ptr_equal(alloc_ok(a, fit(BU)), in_a[1]);
    assert_ptr_equal(alloc_ok(a, fit(BU)), in_b[1]);
    /* the same through memalign (the blocks are aligned to their size) */
    free_ok(a, in_a[0]);
    free_ok(a, in_b[0]);
    assert_ptr_equal(memalign_ok(a, BU, fit(BU)), in_b[0]);
    assert_ptr_equal(memalign_ok(a, BU, fit(BU)), in_a[0]);
    same_blocks(full, info(a));
    valid(a);
    assert_null(mpart_alloc(a, fit(BU)));
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

static int group_setup(void **state)
{
    (void)state;
    policy = BUDDY;
    pool = aligned_alloc(2 * MIB, POOL_SIZE);
    return pool ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(pool);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_create_fresh_carving),
        T(test_create_smallest_is_one_block),
        T(test_take_every_carved_block),
        T(test_addmem_least),
        T(test_addmem_carving),
        T(test_alloc_block_sizes),
        T(test_memalign_alignment_is_block),
        T(test_memalign_up_to_1mib),
        T(test_realloc_in_place_and_moving),
        T(test_realloc_shrunk_aligned_block_keeps_alignment),
        T(test_free_merged_buddies),
        T(test_side_by_side),
        T(test_lists_across_regions),
    };
    return cmocka_run_group_tests_name("mpart_buddy", tests, group_setup, group_teardown);
}
