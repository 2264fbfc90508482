/*
 * test_mpart_buddy.c - the mpart_* interface on BUDDY partitions
 * (mpart_create_ex(..., BUDDY_ALLOCATION, ...)) against SPEC section 3:
 * creation and the policy argument, every error row of the table for
 * alloc/memalign/realloc/free/findmaxfree/getinfo/addmem/delete, errno
 * checked after each call (and unchanged after each success), power-of-two
 * blocks aligned to their size (a 4096-byte request gets exactly a 4096-byte,
 * 4096-aligned block), alignments up to 1 MiB, realloc in place and moving,
 * findmaxfree against the carving of the memory, hostile pointers, and a
 * buddy partition beside a first-fit one.
 *
 * The expected carving is computed here from the documented layout: the
 * descriptor at round_up(addr, 16) (struct gjb_heap and 48 list heads,
 * rounded to 16), then the block area from first = round_up(area, 32)
 * holding (hi - first - tables) / 33 units of 32 bytes (a tag byte per
 * unit; tables: none for the first region, for an added one the region table
 * it carries, one record per region, rounded to 16, plus 16 to align it), cut from the bottom into the largest block aligned
 * (absolute address) at each point.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buddy.h" /* sizes of the descriptor, for the expected carving */
#include <gjbext.h>
#include <gjbmem/posix.h>

#include "errno_asserts.h"
#define BU ((size_t)2 * _Alignof(max_align_t))
#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

/* --- memory handed to partitions ---------------------------------------- */

static _Alignas(65536) char buf_a[65536];
static _Alignas(65536) char buf_b[65536];
static _Alignas(65536) char buf_c[65536];
static _Alignas(8192) char small_a[8192];
static _Alignas(8192) char small_b[8192];
static _Alignas(64) char chunks[GJBMEM_MAX_REGIONS + 1][2048];
static _Alignas(64) char not_a_partition[256];
static char *pool; /* 8 MiB aligned to 2 MiB (group setup) */
#define POOL_SIZE (8 * MIB)

/* Ids that were never issued (checked against the live ones before use). */
static const mpart_id bad_ids[] = {
    0, 1, 2, 0xff, 0x100, 0x12345, 0xdeadbeef, (mpart_id)LONG_MAX, ULONG_MAX - 1, ULONG_MAX,
};
#define NBAD (sizeof bad_ids / sizeof bad_ids[0])

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

#define G ((size_t)_Alignof(max_align_t))
#define ROUND_G(x) (((x) + G - 1) & ~(G - 1))

/* The carving of a region ending at hi whose block area starts at or after
 * area, with `extra` bytes of tables after its tags. */
static struct carving carve_region(uintptr_t area, uintptr_t hi, size_t extra)
{
    uintptr_t first = (area + BU - 1) & ~(uintptr_t)(BU - 1);
    size_t tables = extra ? extra + G : 0;
    if (first >= hi || hi - first < tables + BU + 1)
        return (struct carving){0, 0, 0, 0};
    return carve_area(first, first + (hi - first - tables) / (BU + 1) * BU);
}

static size_t descriptor_bytes(void)
{
    return ROUND_G(sizeof(struct gjb_heap) + BD_ORDERS * sizeof(intptr_t));
}

/* The carving of a partition created over [addr, addr + size). */
static struct carving carve_partition(const char *addr, size_t size)
{
    uintptr_t d = ((uintptr_t)addr + 15) & ~(uintptr_t)15;
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

static size_t block_for(size_t size, size_t align)
{
    size_t n = size > align ? size : align, b = BU;
    while (b < n)
        b *= 2;
    return b;
}

static bool aligned_to(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* --- partitions the current test owns ------------------------------------ */

static mpart_id live[MPART_MAX_PARTS + 1];
static int nlive;

static void valid(mpart_id mid)
{
    assert_int_equal(mpart_validate(mid), 0);
}

static void track(mpart_id mid)
{
    assert_true(mid != 0);
    for (int i = 0; i < nlive; i++)
        assert_true(live[i] != mid);
    assert_true(nlive < (int)(sizeof live / sizeof live[0]));
    live[nlive++] = mid;
    valid(mid);
}

static mpart_id make_policy(void *addr, size_t size, int policy)
{
    mpart_id mid = 0;
    OK(mpart_create_ex(addr, size, policy, &mid));
    track(mid);
    return mid;
}

static mpart_id make(void *addr, size_t size)
{
    return make_policy(addr, size, BUDDY_ALLOCATION);
}

static void drop(mpart_id mid)
{
    OK(mpart_delete(mid));
    for (int i = 0; i < nlive; i++)
        if (live[i] == mid)
            live[i] = live[--nlive];
}

static bool is_live(mpart_id id)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == id)
            return true;
    return false;
}

/* After a failed test: offers every unit of the test buffers to mpart_free
 * (the library refuses whatever is not a live block of mid), so that the
 * partition can be deleted and the next test starts clean. */
static void free_everything(mpart_id mid)
{
    const struct {
        char *base;
        size_t size;
    } areas[] = {
        {buf_a, sizeof buf_a},     {buf_b, sizeof buf_b},     {buf_c, sizeof buf_c},
        {small_a, sizeof small_a}, {small_b, sizeof small_b}, {&chunks[0][0], sizeof chunks},
        {pool, POOL_SIZE},
    };
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        for (size_t off = 0; off < areas[i].size; off += 16)
            (void)mpart_free(mid, areas[i].base + off);
}

static int teardown(void **state)
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

/* A block of a buddy partition: usable size exactly the block for (n, align),
 * aligned to that block size. */
static void is_block(mpart_id mid, const char *p, size_t n, size_t align)
{
    size_t b = block_for(n, align);
    errno = SENTINEL;
    assert_int_equal(mpart_usable_size(mid, p), b);
    assert_int_equal(errno, SENTINEL);
    assert_true(aligned_to(p, b));
}

static char *alloc_ok(mpart_id mid, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_alloc(mid, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    is_block(mid, p, n, 1);
    valid(mid);
    return p;
}

static char *memalign_ok(mpart_id mid, size_t align, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_memalign(mid, align, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_true(aligned_to(p, align));
    is_block(mid, p, n, align);
    valid(mid);
    return p;
}

static char *realloc_ok(mpart_id mid, char *p, size_t n)
{
    errno = SENTINEL;
    char *r = mpart_realloc(mid, p, n);
    assert_non_null(r);
    assert_int_equal(errno, SENTINEL);
    if (r == p) {
        is_block(mid, r, n, 1);
    } else {
        /* Moved: a memalign'd block may get a larger block, to keep its
         * alignment; any block is aligned to its own size. */
        size_t b = mpart_usable_size(mid, r);
        assert_true(b >= block_for(n, 1) && (b & (b - 1)) == 0 && aligned_to(r, b));
    }
    valid(mid);
    return r;
}

static void free_ok(mpart_id mid, char *p)
{
    OK(mpart_free(mid, p));
    valid(mid);
}

static struct partinfo info(mpart_id mid)
{
    struct partinfo pi;
    memset(&pi, 0xab, sizeof pi);
    OK(mpart_getinfo(mid, &pi));
    assert_true(pi.maxused >= pi.used);
    return pi;
}

static struct gjbmem_heap_stats stats(mpart_id mid)
{
    struct gjbmem_heap_stats st;
    OK(mpart_getstats(mid, &st));
    return st;
}

static void same_info(struct partinfo a, struct partinfo b)
{
    assert_int_equal(a.segment, b.segment);
    assert_int_equal(a.used, b.used);
    assert_int_equal(a.maxused, b.maxused);
    assert_int_equal(a.free, b.free);
}

/* The same blocks and free bytes (the high-water mark may differ). */
static void same_blocks(struct partinfo a, struct partinfo b)
{
    assert_int_equal(a.segment, b.segment);
    assert_int_equal(a.used, b.used);
    assert_int_equal(a.free, b.free);
}

static size_t maxfree(mpart_id mid)
{
    errno = SENTINEL;
    int m = mpart_findmaxfree(mid);
    assert_true(m >= 0);
    assert_int_equal(errno, SENTINEL);
    size_t s = 0;
    OK(mpart_findmaxfree_size(mid, &s));
    assert_int_equal(s > INT_MAX ? INT_MAX : s, (size_t)m);
    assert_true(s == 0 || (s & (s - 1)) == 0); /* a power of two */
    return s;
}

/* Takes blocks of size bytes until it gets the one at target (which must be
 * free, or inside a free block), gives back every other, returns it. */
static char *take_block_at(mpart_id mid, char *target, size_t size)
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

/* --- contents ---------------------------------------------------------------- */

static unsigned char pattern(unsigned tag, size_t i)
{
    return (unsigned char)(tag * 31u + i * 7u + (i >> 8));
}

static void fill(char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)pattern(tag, i);
}

static void expect(const char *p, size_t n, unsigned tag)
{
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if ((unsigned char)p[i] != pattern(tag, i))
            bad = i;
    assert_int_equal(bad, n);
}

/* === creation ================================================================= */

static void test_create_ex_policy(void **state)
{
    (void)state;
    const int bad_policy[] = {2, -1, 3, 255, INT_MAX, INT_MIN};
    mpart_id mid = 0x5555;
    for (size_t i = 0; i < sizeof bad_policy / sizeof bad_policy[0]; i++)
        FAILS(mpart_create_ex(buf_a, sizeof buf_a, bad_policy[i], &mid), EINVAL);
    assert_int_equal(mid, 0x5555);
    /* The refused calls took nothing: both policies accept the memory. */
    mpart_id b = make(buf_a, sizeof buf_a);
    struct gjbmem_heap_stats st = stats(b);
    assert_int_equal(st.header_bytes, 0);
    assert_int_equal(st.min_block, BU);
    drop(b);
    mpart_id f = make_policy(buf_a, sizeof buf_a, FIRST_FIT_ALLOCATION);
    assert_true(stats(f).header_bytes > 0);
    drop(f);
    /* mpart_create is first fit. */
    OK(mpart_create(buf_a, sizeof buf_a, &mid));
    track(mid);
    assert_true(stats(mid).header_bytes > 0);
    drop(mid);
}

static void test_create_ex_bad_args(void **state)
{
    (void)state;
    mpart_id mid = 0x5555;
    FAILS(mpart_create_ex(NULL, sizeof buf_a, BUDDY_ALLOCATION, &mid), EINVAL);
    FAILS(mpart_create_ex(buf_a, sizeof buf_a, BUDDY_ALLOCATION, NULL), EINVAL);
    FAILS(mpart_create_ex(buf_a, 0, BUDDY_ALLOCATION, &mid), EINVAL);
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 32, SIZE_MAX - (uintptr_t)buf_a + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        FAILS(mpart_create_ex(buf_a, huge[i], BUDDY_ALLOCATION, &mid), EINVAL);
    const size_t small[] = {1, 16, 64, 256, descriptor_bytes(), descriptor_bytes() + 32};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        FAILS(mpart_create_ex(buf_a, small[i], BUDDY_ALLOCATION, &mid), EINVAL);
    gjbmem_posix_set_isr(1);
    FAILS(mpart_create_ex(buf_a, sizeof buf_a, BUDDY_ALLOCATION, &mid), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    assert_int_equal(mid, 0x5555);

    /* Overlap with a live partition of either policy. */
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id f = make_policy(buf_b, sizeof buf_b, FIRST_FIT_ALLOCATION);
    FAILS(mpart_create_ex(buf_a, sizeof buf_a, BUDDY_ALLOCATION, &mid), EINVAL);
    FAILS(mpart_create_ex(buf_a + 4096, 4096, BUDDY_ALLOCATION, &mid), EINVAL);
    FAILS(mpart_create_ex(buf_b + 100, 4096, BUDDY_ALLOCATION, &mid), EINVAL);
    FAILS(mpart_create_ex(buf_a + sizeof buf_a - 1, 8192, BUDDY_ALLOCATION, &mid), EINVAL);
    FAILS(mpart_create_ex(buf_b + 100, 4096, FIRST_FIT_ALLOCATION, &mid), EINVAL);
    FAILS(mpart_create_ex(buf_a + 100, 4096, FIRST_FIT_ALLOCATION, &mid), EINVAL);
    assert_int_equal(mid, 0x5555);

    /* A full table. */
    OK(mpart_module_init(3));
    mpart_id c = make(buf_c, sizeof buf_c);
    FAILS(mpart_create_ex(small_a, sizeof small_a, BUDDY_ALLOCATION, &mid), ENOSPC);
    assert_int_equal(mid, 0x5555);
    drop(c);
    drop(f);
    drop(a);
    mpart_id s = make(small_a, sizeof small_a); /* the refused memory was not taken */
    drop(s);
}

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
        assert_int_equal(maxfree(mid), c.largest);
        struct gjbmem_heap_stats st = stats(mid);
        assert_int_equal(st.free_blocks, c.blocks);
        assert_int_equal(st.alloc_blocks, 0);
        assert_int_equal(st.regions, 1);
        /* The largest block is the largest request ever possible. */
        FAILS_NULL(mpart_alloc(mid, c.largest + 1), ERROR_REGION_SIZE);
        char *p = alloc_ok(mid, c.largest);
        assert_true(p >= base && p + c.largest <= base + size);
        fill(p, c.largest, (unsigned)i);
        expect(p, c.largest, (unsigned)i);
        free_ok(mid, p);
        same_info(info(mid), (struct partinfo){pi.segment, pi.used, pi.used + c.largest, pi.free});
        drop(mid);
    }
}

static void test_create_smallest(void **state)
{
    (void)state;
    mpart_id mid = 0;
    size_t size = 1;
    for (; size <= 4096; size++) {
        errno = 0;
        if (mpart_create_ex(small_a, size, BUDDY_ALLOCATION, &mid) == 0)
            break;
        assert_int_equal(errno, EINVAL);
    }
    assert_true(size <= 4096);
    track(mid);
    /* Exactly the metadata and one 32-byte block (and its tag byte). */
    assert_int_equal(carve_partition(small_a, size).blocks, 1);
    assert_int_equal(carve_partition(small_a, size - 1).blocks, 0);
    struct partinfo pi = info(mid);
    assert_int_equal(pi.segment, 1);
    assert_int_equal(pi.free, BU);
    assert_int_equal(pi.used + pi.free, size);
    assert_int_equal(maxfree(mid), BU);
    FAILS_NULL(mpart_alloc(mid, BU + 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(mid, 2 * BU, 1), ERROR_REGION_SIZE);
    char *p = alloc_ok(mid, BU);
    assert_true(p >= small_a && p + BU <= small_a + size);
    FAILS_NULL(mpart_alloc(mid, 1), ENOMEM);
    assert_int_equal(maxfree(mid), 0);
    free_ok(mid, p);
    drop(mid);
}

/* === mpart_delete ============================================================ */

/* Every call refuses the id: ERROR_KERNEL_HANDLE_NULL, EINVAL for delete. */
static void expect_refused_id(mpart_id id, char *some_block)
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
    FAILS(mpart_addmem(id, small_b, sizeof small_b), ERROR_KERNEL_HANDLE_NULL);
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

static void test_delete(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 1);
    struct partinfo before = info(a);
    /* Busy: nothing changes. */
    FAILS(mpart_delete(a), EBUSY);
    same_info(before, info(a));
    /* Interrupt context. */
    gjbmem_posix_set_isr(1);
    FAILS(mpart_delete(a), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    /* Never-issued ids are refused by every call, the live block untouched. */
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            expect_refused_id(bad_ids[i], p);
    same_info(before, info(a));
    expect(p, 100, 1);
    /* A live block in an added region counts too. */
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    free_ok(a, p);
    /* buf_a holds two 16 KiB blocks: one of three is in buf_b. */
    assert_int_equal(carve_partition(buf_a, sizeof buf_a).largest, 16 * KIB);
    char *q[3];
    int in_b = -1;
    for (int i = 0; i < 3; i++) {
        q[i] = alloc_ok(a, 16 * KIB);
        if (q[i] >= buf_b && q[i] < buf_b + sizeof buf_b)
            in_b = i;
    }
    assert_true(in_b >= 0);
    for (int i = 0; i < 3; i++)
        if (i != in_b)
            free_ok(a, q[i]);
    FAILS(mpart_delete(a), EBUSY);
    free_ok(a, q[in_b]);
    drop(a);
    /* Stale id: refused everywhere, even once the slot is reused. */
    expect_refused_id(a, p);
    mpart_id b = make(buf_a, sizeof buf_a);
    assert_true(b != a);
    char *x = alloc_ok(b, 64);
    fill(x, 64, 2);
    expect_refused_id(a, x);
    expect(x, 64, 2);
    free_ok(b, x);
    /* The memory of the deleted partition's added region is free again. */
    mpart_id c = make(buf_b, sizeof buf_b);
    drop(c);
    drop(b);
}

/* === mpart_addmem ============================================================ */

static void test_addmem_errors(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id f = make_policy(buf_b, sizeof buf_b, FIRST_FIT_ALLOCATION);
    struct partinfo before = info(a), before_f = info(f);
    FAILS(mpart_addmem(a, NULL, 4096), EINVAL);
    FAILS(mpart_addmem(a, small_a, 0), EINVAL);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS(mpart_addmem(bad_ids[i], small_a, sizeof small_a), ERROR_KERNEL_HANDLE_NULL);
    /* Overlap: itself, its descriptor, another partition (first fit). */
    FAILS(mpart_addmem(a, buf_a, sizeof buf_a), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(a, buf_a, 1), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(a, buf_a + sizeof buf_a - 1, 4096), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(a, buf_b + 100, 4096), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(f, buf_a + 100, 4096), ERROR_KERNEL_MEMORY);
    /* Too small for one block (32 bytes and its tag byte, after the region
     * table of two records the region would carry, and a granule to align
     * it). */
    const size_t least = ROUND_G(2 * sizeof(struct gjb_region)) + G + BU + 1;
    FAILS(mpart_addmem(a, small_a, least - 1), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a + 1, least), ERROR_REGION_SIZE); /* 31 bytes to align */
    FAILS(mpart_addmem(a, small_a, BU), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a + 1, BU + 1), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a + 1, 2 * BU - 1), ERROR_REGION_SIZE);
    FAILS(mpart_addmem(a, small_a, 1), ERROR_REGION_SIZE);
    /* Interrupt context. */
    gjbmem_posix_set_isr(1);
    FAILS(mpart_addmem(a, small_a, sizeof small_a), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    same_info(before_f, info(f));
    valid(a);
    valid(f);
    /* The smallest region: one unit. */
    OK(mpart_addmem(a, small_a, least));
    struct partinfo pi = info(a);
    assert_int_equal(pi.segment, before.segment + 1);
    assert_int_equal(pi.free, before.free + BU);
    assert_int_equal(pi.used + pi.free, sizeof buf_a + least);
    valid(a);
    drop(f);
}

static void test_addmem_table_full(void **state)
{
    (void)state;
    mpart_id a = make(chunks[0], sizeof chunks[0]);
    for (int i = 1; i < GJBMEM_MAX_REGIONS; i++)
        OK(mpart_addmem(a, chunks[i], sizeof chunks[i]));
    valid(a);
    struct partinfo before = info(a);
    FAILS(mpart_addmem(a, chunks[GJBMEM_MAX_REGIONS], sizeof chunks[0]), ENOSPC);
    same_info(before, info(a));
    assert_int_equal(stats(a).regions, GJBMEM_MAX_REGIONS);
    valid(a);
    /* Blocks come from every region; every one is freed back. */
    char *blocks[256];
    size_t n = 0;
    for (;;) {
        errno = 0;
        char *p = mpart_alloc(a, 256);
        if (!p) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        assert_true(p >= chunks[0] && p + 256 <= chunks[GJBMEM_MAX_REGIONS]);
        assert_true(n < 256);
        blocks[n++] = p;
    }
    assert_true(n >= GJBMEM_MAX_REGIONS);
    for (size_t i = 0; i < n; i++)
        OK(mpart_free(a, blocks[i]));
    valid(a);
    same_blocks(before, info(a));
    /* The refused memory was not taken. */
    mpart_id b = make(chunks[GJBMEM_MAX_REGIONS], sizeof chunks[0]);
    drop(b);
}

/* Added regions are carved like the first; a larger one raises the largest
 * possible request; the regions never merge with each other. */
static void test_addmem_carving(void **state)
{
    (void)state;
    mpart_id a = make(small_a, sizeof small_a);
    struct carving c0 = carve_partition(small_a, sizeof small_a);
    size_t m0 = maxfree(a);
    assert_int_equal(m0, c0.largest);
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
    size_t m1 = maxfree(a);
    assert_int_equal(m1, c0.largest > c1.largest ? c0.largest : c1.largest);
    assert_true(m1 > m0);
    char *p = alloc_ok(a, m1); /* refused before the region came */
    assert_true(p >= buf_a && p + m1 <= buf_a + 0x1234 + 40000);
    fill(p, m1, 3);

    /* A third region; p was a whole carved block, so no split so far. */
    struct carving c2 = carve_added(small_b, sizeof small_b, 0);
    OK(mpart_addmem(a, small_b, sizeof small_b));
    assert_int_equal(info(a).segment, c0.blocks + c1.blocks + c2.blocks);
    assert_int_equal(info(a).free, c0.bytes + c1.bytes + c2.bytes - m1);
    expect(p, m1, 3);
    free_ok(a, p);
    /* Everything free: each region back to its carving. */
    pi = info(a);
    assert_int_equal(pi.segment, c0.blocks + c1.blocks + c2.blocks);
    assert_int_equal(pi.free, c0.bytes + c1.bytes + c2.bytes);
}

/* === mpart_alloc ============================================================= */

static void test_alloc_errors(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m = maxfree(a);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_alloc(a, 0), EINVAL);
    const size_t too_big[] = {SIZE_MAX,     SIZE_MAX - 1,     SIZE_MAX - 31, SIZE_MAX / 2,
                              SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 2, (size_t)INT_MAX + 1,
                              sizeof buf_a, m + 1,             2 * m};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++)
        FAILS_NULL(mpart_alloc(a, too_big[i]), ERROR_REGION_SIZE);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_alloc(bad_ids[i], 16), ERROR_KERNEL_HANDLE_NULL);
    gjbmem_posix_set_isr(1);
    FAILS_NULL(mpart_alloc(a, 16), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    struct gjbmem_heap_stats st = stats(a);
    assert_int_equal(st.failed, sizeof too_big / sizeof too_big[0]); /* TOOBIG counts */
    valid(a);

    /* ENOMEM: every block of the largest size taken; the size would fit an
     * empty partition. */
    char *big[8];
    int n = 0;
    for (;;) {
        errno = 0;
        char *p = mpart_alloc(a, m);
        if (!p) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        assert_true(n < 8);
        big[n++] = p;
    }
    assert_true(n >= 1);
    before = info(a);
    FAILS_NULL(mpart_alloc(a, m), ENOMEM);
    FAILS_NULL(mpart_alloc(a, maxfree(a) + 1), ENOMEM);
    same_info(before, info(a));
    valid(a);
    for (int i = 0; i < n; i++)
        free_ok(a, big[i]);
}

/* Power-of-two blocks, naturally aligned, usable size exactly the block. */
static void test_alloc_block_sizes(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo fresh = info(a);
    const size_t sizes[] = {1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
                            255, 256, 257, 1000, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = alloc_ok(a, sizes[i]); /* checks usable size and alignment */
        fill(p, sizes[i], (unsigned)i);
        struct partinfo pi = info(a);
        assert_int_equal(fresh.free - pi.free, block_for(sizes[i], 1));
        assert_int_equal(pi.used + pi.free, sizeof buf_a);
        expect(p, sizes[i], (unsigned)i);
        free_ok(a, p);
        same_blocks(info(a), fresh);
    }
    /* 4096-byte requests: exactly 4096 bytes, 4096-aligned, until ENOMEM;
     * no two overlap. */
    char *p[16];
    int n = 0;
    for (;;) {
        errno = SENTINEL;
        char *q = mpart_alloc(a, 4096);
        if (!q) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        assert_int_equal(errno, SENTINEL);
        assert_int_equal((uintptr_t)q % 4096, 0);
        assert_int_equal(mpart_usable_size(a, q), 4096);
        assert_true(q >= buf_a && q + 4096 <= buf_a + sizeof buf_a);
        assert_true(n < 16);
        fill(q, 4096, 100 + (unsigned)n);
        p[n++] = q;
    }
    /* As many as the carving holds. */
    assert_int_equal((size_t)n, carve_partition(buf_a, sizeof buf_a).pages);
    for (int i = 0; i < n; i++) {
        expect(p[i], 4096, 100 + (unsigned)i);
        for (int j = 0; j < i; j++)
            assert_true(p[j] + 4096 <= p[i] || p[i] + 4096 <= p[j]);
    }
    for (int i = 0; i < n; i++)
        free_ok(a, p[i]);
    same_blocks(info(a), fresh);
}

/* === mpart_memalign ========================================================== */

static void test_memalign_errors(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m = maxfree(a);
    struct partinfo before = info(a);
    const size_t bad_align[] = {0, 3, 5, 6, 12, 24, 48, 100, 4097, SIZE_MAX, SIZE_MAX / 2,
                                SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++)
        FAILS_NULL(mpart_memalign(a, bad_align[i], 64), ERROR_REGION_ALIGN);
    FAILS_NULL(mpart_memalign(a, 16, 0), EINVAL);
    FAILS_NULL(mpart_memalign(a, 4, 0), EINVAL);
    /* Larger than any block, by size or by alignment. */
    FAILS_NULL(mpart_memalign(a, 16, m + 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(a, 2 * m, 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(a, SIZE_MAX / 2 + 1, 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(a, 64, SIZE_MAX), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(a, 4096, SIZE_MAX / 2 + 2), ERROR_REGION_SIZE);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_memalign(bad_ids[i], 64, 16), ERROR_KERNEL_HANDLE_NULL);
    gjbmem_posix_set_isr(1);
    FAILS_NULL(mpart_memalign(a, 64, 16), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    valid(a);
    /* ENOMEM: the largest blocks taken. */
    char *big[8];
    int n = 0;
    while (n < 8 && (big[n] = mpart_memalign(a, m, 1)) != NULL)
        n++;
    assert_true(n >= 1 && n < 8);
    before = info(a);
    FAILS_NULL(mpart_memalign(a, m, 1), ENOMEM);
    FAILS_NULL(mpart_memalign(a, 64, m), ENOMEM);
    same_info(before, info(a));
    for (int i = 0; i < n; i++) {
        assert_true(aligned_to(big[i], m));
        free_ok(a, big[i]);
    }
}

/* Every power of two up to 1 MiB, over a partition large enough to hold a
 * 1 MiB block. */
static void test_memalign_up_to_1mib(void **state)
{
    (void)state;
    mpart_id a = make(pool, 4 * MIB);
    assert_true(maxfree(a) >= MIB);
    char *p[21];
    int n = 0;
    for (size_t align = 1; align <= MIB; align <<= 1, n++) {
        size_t size = 100 + (size_t)n;
        p[n] = memalign_ok(a, align, size); /* usable: block_for(size, align) */
        assert_true(p[n] >= pool && p[n] + size <= pool + 4 * MIB);
        fill(p[n], size, (unsigned)n);
    }
    for (int i = 0; i < n; i++)
        expect(p[i], 100 + (size_t)i, (unsigned)i);
    for (int i = 0; i < n; i++)
        free_ok(a, p[i]);
    /* Both 1 MiB blocks at once, then none. */
    char *x = memalign_ok(a, MIB, MIB), *y = memalign_ok(a, MIB, 1);
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

static void test_realloc_errors(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id b = make(buf_b, sizeof buf_b);
    char *p = alloc_ok(a, 256), *q = alloc_ok(b, 256);
    fill(p, 256, 4);
    fill(q, 256, 5);
    size_t m = maxfree(a);
    _Alignas(64) char stack[64];
    char *heap = malloc(256);
    assert_non_null(heap);
    char *freed = alloc_ok(a, 64);
    free_ok(a, freed);
    struct partinfo ia = info(a), ib = info(b);
    /* Size 0: refused, the block kept. */
    FAILS_NULL(mpart_realloc(a, p, 0), EINVAL);
    FAILS_NULL(mpart_realloc(a, NULL, 0), EINVAL);
    /* Not an allocated block of a. */
    char *bad[] = {stack, heap, not_a_partition, q, buf_a, buf_a + 32, buf_a + sizeof buf_a - 32,
                   buf_a + sizeof buf_a, p + 1, p + 16, p + BU, p + 128, p + 255, freed,
                   p + 256 /* the next block, free */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS_NULL(mpart_realloc(a, bad[i], 64), EINVAL);
        FAILS_NULL(mpart_realloc(a, bad[i], SIZE_MAX), EINVAL); /* checked before the size */
    }
    /* Bad ids. */
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_realloc(bad_ids[i], p, 200), ERROR_KERNEL_HANDLE_NULL);
    /* Larger than any block. */
    const size_t too_big[] = {m + 1, 2 * m, SIZE_MAX, SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++)
        FAILS_NULL(mpart_realloc(a, p, too_big[i]), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, NULL, m + 1), ERROR_REGION_SIZE);
    /* Interrupt context. */
    gjbmem_posix_set_isr(1);
    FAILS_NULL(mpart_realloc(a, p, 200), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(mpart_realloc(a, p, 50), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(mpart_realloc(a, NULL, 50), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(ia, info(a));
    same_info(ib, info(b));
    valid(a);
    valid(b);
    expect(p, 256, 4);
    expect(q, 256, 5);
    assert_int_equal(mpart_usable_size(a, p), 256);

    /* ENOMEM: no block of the size is free; the old block is kept. */
    char *big[8];
    int n = 0;
    while (n < 8 && (big[n] = mpart_alloc(a, m)) != NULL)
        n++;
    assert_true(n >= 1 && n < 8);
    ia = info(a);
    FAILS_NULL(mpart_realloc(a, p, m), ENOMEM);
    FAILS_NULL(mpart_realloc(a, NULL, m), ENOMEM);
    same_info(ia, info(a));
    expect(p, 256, 4);
    for (int i = 0; i < n; i++)
        free_ok(a, big[i]);
    free(heap);
    free_ok(a, p);
    free_ok(b, q);
}

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
    assert_ptr_equal(realloc_ok(a, p, 64), p);
    same_info(before, info(a));
    /* Grow back over the free upper half, then further. */
    fill(p, 64, 7);
    assert_ptr_equal(realloc_ok(a, p, 128), p);
    expect(p, 64, 7);
    assert_int_equal(info(a).segment, before.segment - 1);
    fill(p, 128, 8);

    /* Take the upper buddy: growing must move. */
    char *pin = take_block_at(a, p + 128, 128);
    fill(pin, 128, 9);
    r = realloc_ok(a, p, 200);
    assert_true(r != p);
    expect(r, 128, 8);
    expect(pin, 128, 9);
    /* The old block is free again (a realloc to its old place is refused). */
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    fill(r, 200, 10);
    /* A large block shrinks in place, then grows back over its free upper
     * half. */
    char *big = memalign_ok(a, 8192, 4096); /* an 8 KiB block */
    fill(big, 4096, 11);
    assert_ptr_equal(realloc_ok(a, big, 4096), big);
    expect(big, 4096, 11);
    assert_ptr_equal(realloc_ok(a, big, 8192), big);
    expect(big, 4096, 11);
    /* Shrinking a large block frees its upper halves for others. */
    assert_ptr_equal(realloc_ok(a, big, 100), big);
    expect(big, 100, 11);
    char *in_upper = take_block_at(a, big + 4096, 4096);
    free_ok(a, in_upper);
    free_ok(a, big);
    free_ok(a, r);
    free_ok(a, pin);
    struct partinfo end = info(a);
    assert_int_equal(end.segment, fresh.segment);
    assert_int_equal(end.free, fresh.free);
}

/* Contents and alignment through a random sequence of reallocs, over two
 * regions. A block is always aligned to its own size; a memalign'd block
 * keeps its alignment while it is at least that large. */
static void test_realloc_random(void **state)
{
    (void)state;
    enum { SLOTS = 12, STEPS = 4000 };
    struct {
        char *p;
        size_t size, align;
        unsigned tag;
    } s[SLOTS];
    memset(s, 0, sizeof s);
    mpart_id a = make(buf_a, sizeof buf_a);
    OK(mpart_addmem(a, buf_c + 3, sizeof buf_c - 3));
    struct partinfo fresh = info(a);
    uint64_t x = 88172645463325252ULL;
    for (unsigned step = 0; step < STEPS; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x % SLOTS);
        size_t size = 1 + (size_t)((x >> 8) % 6000);
        struct partinfo before = info(a);
        errno = 0;
        if (!s[k].p) {
            size_t align = (x >> 40) % 3 == 0 ? (size_t)1 << ((x >> 44) % 15) : 0;
            char *p = align ? mpart_memalign(a, align, size) : mpart_alloc(a, size);
            if (!p) {
                assert_true(errno == ENOMEM);
                same_info(before, info(a));
                continue;
            }
            is_block(a, p, size, align ? align : 1);
            s[k].p = p;
            s[k].size = size;
            s[k].align = align ? align : 1;
            s[k].tag = step;
            fill(p, size, step);
        } else if ((x >> 50) % 3 == 0) {
            expect(s[k].p, s[k].size, s[k].tag);
            free_ok(a, s[k].p);
            s[k].p = NULL;
        } else {
            expect(s[k].p, s[k].size, s[k].tag);
            size_t old_block = mpart_usable_size(a, s[k].p);
            char *r = mpart_realloc(a, s[k].p, size);
            if (!r) {
                assert_true(errno == ENOMEM);
                same_info(before, info(a));
                expect(s[k].p, s[k].size, s[k].tag);
                continue;
            }
            if (r == s[k].p || s[k].align <= 16)
                is_block(a, r, size, 1);
            else { /* moved memalign'd block: a block of at least its alignment */
                size_t b = mpart_usable_size(a, r);
                assert_true(b >= block_for(size, s[k].align) && (b & (b - 1)) == 0 &&
                            aligned_to(r, b));
            }
            if (block_for(size, 1) <= old_block)
                assert_ptr_equal(r, s[k].p); /* shrinks stay in place */
            assert_true(aligned_to(r, s[k].align)); /* alignment kept, always */
            expect(r, s[k].size < size ? s[k].size : size, s[k].tag);
            s[k].p = r;
            s[k].size = size;
            s[k].tag = step;
            fill(r, size, step);
        }
        valid(a);
    }
    for (int k = 0; k < SLOTS; k++)
        if (s[k].p) {
            expect(s[k].p, s[k].size, s[k].tag);
            free_ok(a, s[k].p);
        }
    struct partinfo end = info(a);
    assert_int_equal(end.segment, fresh.segment);
    assert_int_equal(end.free, fresh.free);
    assert_true(end.maxused > fresh.used);
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
    assert_ptr_equal(realloc_ok(a, p, 40), p); /* shrinks in place to 64 bytes */
    char *q = take_block_at(a, p + 64, 64);   /* its upper buddy */
    char *r = realloc_ok(a, p, 100);          /* must move */
    expect(r, 40, 12);
    bool kept = aligned_to(r, 4096);
    free_ok(a, r);
    free_ok(a, q);
    assert_true(kept);
}

/* === mpart_free ============================================================== */

static void test_free_errors(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id b = make(buf_b, sizeof buf_b);
    mpart_id f = make_policy(small_a, sizeof small_a, FIRST_FIT_ALLOCATION);
    char *p = alloc_ok(a, 4096), *g = alloc_ok(a, 64);
    char *q = alloc_ok(b, 256);
    char *fp = mpart_alloc(f, 256);
    assert_non_null(fp);
    fill(p, 4096, 13);
    fill(g, 64, 14);
    fill(q, 256, 15);
    _Alignas(64) char stack[64];
    char *heap = malloc(256);
    assert_non_null(heap);
    struct partinfo ia = info(a), ib = info(b), iff = info(f);

    FAILS(mpart_free(a, NULL), EINVAL);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS(mpart_free(bad_ids[i], p), ERROR_KERNEL_HANDLE_NULL);
    char *bad[] = {stack,        heap,         not_a_partition,
                   q,            fp,           buf_a, /* descriptor */
                   buf_a + 512,  buf_a + sizeof buf_a - 1 - 32, /* the tags */
                   buf_a + sizeof buf_a,        (char *)(uintptr_t)BU,
                   p + 1,        p + 16,       p + BU, p + 64, p + 2048, p + 4064,
                   g + 8,        g + 32,       g + 64 /* end of the block area */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS(mpart_free(a, bad[i]), ERROR_REGION_NULL);
        errno = 0;
        assert_int_equal(mpart_usable_size(a, bad[i]), 0);
        assert_int_equal(errno, ERROR_REGION_NULL);
    }
    /* Each partition refuses the other's block. */
    FAILS(mpart_free(b, p), ERROR_REGION_NULL);
    FAILS(mpart_free(f, p), ERROR_REGION_NULL);
    FAILS(mpart_free(a, fp), ERROR_REGION_NULL);
    gjbmem_posix_set_isr(1);
    FAILS(mpart_free(a, p), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(ia, info(a));
    same_info(ib, info(b));
    same_info(iff, info(f));
    valid(a);
    valid(b);
    valid(f);
    expect(p, 4096, 13);
    expect(g, 64, 14);
    expect(q, 256, 15);
    free(heap);

    /* Double free. */
    free_ok(a, g);
    ia = info(a);
    FAILS(mpart_free(a, g), ERROR_REGION_NULL);
    same_info(ia, info(a));
    /* Two buddies freed: they merge; neither address is a block now. (x is
     * the lower half of a block of two units: the first free unit may be one
     * the carving left alone, whose buddy is no block.) */
    char *pair = alloc_ok(a, 2 * BU);
    free_ok(a, pair);
    char *x = take_block_at(a, pair, BU);
    char *y = take_block_at(a, (char *)((uintptr_t)x ^ BU), BU);
    fill(y, BU, 16);
    free_ok(a, x);
    FAILS(mpart_free(a, x), ERROR_REGION_NULL);
    expect(y, BU, 16);
    free_ok(a, y);
    ia = info(a);
    FAILS(mpart_free(a, x), ERROR_REGION_NULL);
    FAILS(mpart_free(a, y), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, x, 16), EINVAL);
    FAILS_NULL(mpart_realloc(a, y, 16), EINVAL);
    same_info(ia, info(a));
    /* The merged block handed out whole: the upper address is interior. */
    char *lo = x < y ? x : y, *hi = x < y ? y : x;
    char *z = take_block_at(a, lo, 2 * BU);
    fill(z, 2 * BU, 17);
    ia = info(a);
    FAILS(mpart_free(a, hi), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, hi, 16), EINVAL);
    same_info(ia, info(a));
    expect(z, 2 * BU, 17);
    expect(p, 4096, 13);
    free_ok(a, z);
    free_ok(a, p);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    valid(a);
    free_ok(b, q);
    OK(mpart_free(f, fp));
    drop(f);
}

/* === mpart_findmaxfree and mpart_getinfo ===================================== */

static void test_findmaxfree(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i])) {
            size_t s = 777;
            FAILS(mpart_findmaxfree(bad_ids[i]), ERROR_KERNEL_HANDLE_NULL);
            FAILS(mpart_findmaxfree_size(bad_ids[i], &s), ERROR_KERNEL_HANDLE_NULL);
            assert_int_equal(s, 777);
        }
    FAILS(mpart_findmaxfree_size(a, NULL), EINVAL);

    /* Always the largest free power-of-two block: alloc(m) succeeds and
     * takes one; alloc(m + 1) fails. */
    char *held[64];
    int n = 0;
    const size_t sizes[] = {1, 100, 5000, 33, 16384, 700, 1, 2049, 64, 9000, 31, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = mpart_alloc(a, sizes[i]);
        if (p)
            held[n++] = p;
        size_t m = maxfree(a);
        if (m == 0)
            break;
        errno = 0;
        assert_null(mpart_alloc(a, m + 1));
        assert_true(errno == ENOMEM || errno == ERROR_REGION_SIZE);
        char *q = alloc_ok(a, m);
        assert_int_equal(mpart_usable_size(a, q), m);
        free_ok(a, q);
        assert_int_equal(maxfree(a), m);
    }
    while (n > 0)
        free_ok(a, held[--n]);
    assert_int_equal(maxfree(a), carve_partition(buf_a, sizeof buf_a).largest);
}

static void test_findmaxfree_none_left(void **state)
{
    (void)state;
    mpart_id a = make(small_a, sizeof small_a);
    char *blocks[512];
    int n = 0;
    for (;;) {
        size_t m = maxfree(a);
        if (!m)
            break;
        assert_true(n < 512);
        blocks[n++] = alloc_ok(a, m);
    }
    assert_int_equal(info(a).free, 0);
    FAILS_NULL(mpart_alloc(a, 1), ENOMEM);
    /* The carving: one block per carved block, largest first. */
    struct carving c = carve_partition(small_a, sizeof small_a);
    assert_int_equal((size_t)n, c.blocks);
    while (n > 0)
        free_ok(a, blocks[--n]);
    assert_int_equal(maxfree(a), c.largest);
}

static void test_getinfo(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    FAILS(mpart_getinfo(a, NULL), EINVAL);
    FAILS(mpart_getstats(a, NULL), EINVAL);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i])) {
            struct partinfo pi, untouched;
            memset(&pi, 0x5a, sizeof pi);
            untouched = pi;
            FAILS(mpart_getinfo(bad_ids[i], &pi), ERROR_KERNEL_HANDLE_NULL);
            assert_memory_equal(&pi, &untouched, sizeof pi);
        }
    /* Blocks, free bytes and the high-water mark, exactly. */
    struct partinfo p0 = info(a);
    char *p = alloc_ok(a, 100); /* 128 */
    struct partinfo p1 = info(a);
    assert_int_equal(p0.free - p1.free, 128);
    assert_int_equal(p1.used - p0.used, 128);
    assert_int_equal(p1.maxused, p1.used);
    char *q = alloc_ok(a, 3000); /* 4096 */
    struct partinfo p2 = info(a);
    assert_int_equal(p1.free - p2.free, 4096);
    assert_int_equal(p2.maxused, p2.used);
    free_ok(a, q);
    struct partinfo p3 = info(a);
    assert_int_equal(p3.free, p1.free);
    assert_int_equal(p3.segment, p1.segment);
    assert_int_equal(p3.maxused, p2.used);
    free_ok(a, p);
    struct partinfo p4 = info(a);
    assert_int_equal(p4.segment, p0.segment);
    assert_int_equal(p4.free, p0.free);
    assert_int_equal(p4.used, p0.used);
    assert_int_equal(p4.maxused, p2.used);
    /* The statistics of the extension agree. */
    struct gjbmem_heap_stats st = stats(a);
    assert_int_equal(st.segments, p4.segment);
    assert_int_equal(st.free, p4.free);
    assert_int_equal(st.used, p4.used);
    assert_int_equal(st.maxused, p4.maxused);
    assert_int_equal(st.total, sizeof buf_a);
    assert_int_equal(st.largest_free, maxfree(a));
    assert_int_equal(st.peak_request, 3000);
    /* Interrupt context: allowed, read-only. */
    gjbmem_posix_set_isr(1);
    struct partinfo pi;
    errno = SENTINEL;
    int rc = mpart_getinfo(a, &pi);
    int m = mpart_findmaxfree(a);
    int e = errno;
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, 0);
    assert_int_equal((size_t)m, maxfree(a));
    assert_int_equal(e, SENTINEL);
    same_info(pi, p4);
}

/* === buddy and first fit side by side ======================================== */

static void test_side_by_side(void **state)
{
    (void)state;
    /* A first-fit partition and a buddy one. */
    mpart_id f = make_policy(buf_b, sizeof buf_b, FIRST_FIT_ALLOCATION);
    mpart_id b = make(buf_c, sizeof buf_c);
    mpart_id mid = 0x5555;
    FAILS(mpart_create_ex(buf_b + sizeof buf_b - 16, 64, BUDDY_ALLOCATION, &mid), EINVAL);
    FAILS(mpart_addmem(f, buf_c, 4096), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(b, buf_b + 4096, 4096), ERROR_KERNEL_MEMORY);

    /* The same requests, each policy its own way. */
    char *fp = mpart_alloc(f, 4096), *bp = alloc_ok(b, 4096);
    assert_non_null(fp);
    assert_true(mpart_usable_size(f, fp) >= 4096);
    assert_int_equal(mpart_usable_size(b, bp), 4096);
    assert_int_equal((uintptr_t)bp % 4096, 0);
    assert_true(fp >= buf_b && fp + 4096 <= buf_b + sizeof buf_b);
    assert_true(bp >= buf_c && bp + 4096 <= buf_c + sizeof buf_c);
    fill(fp, 4096, 17);
    fill(bp, 4096, 18);
    char *fa = mpart_memalign(f, 1024, 100), *ba = memalign_ok(b, 1024, 100);
    assert_non_null(fa);
    assert_true(aligned_to(fa, 1024) && aligned_to(ba, 1024));
    assert_int_equal(mpart_usable_size(b, ba), 1024);
    assert_true(stats(f).header_bytes > 0);
    assert_int_equal(stats(b).header_bytes, 0);

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
    char *fr = mpart_realloc(f, fp, 9000), *br = realloc_ok(b, bp, 9000);
    assert_non_null(fr);
    expect(fr, 4096, 17);
    expect(br, 4096, 18);
    assert_int_equal(mpart_usable_size(b, br), 16384);
    assert_int_equal((uintptr_t)br % 16384, 0);
    OK(mpart_free(f, fr));
    OK(mpart_free(f, fa));
    free_ok(b, br);
    free_ok(b, ba);
    valid(f);
    assert_int_equal(info(f).segment, 1);
    assert_int_equal(info(b).segment, carve_partition(buf_c, sizeof buf_c).blocks);
    drop(b);
    drop(f);
    /* Each policy over the other's memory, now that both are gone. */
    f = make_policy(buf_c, sizeof buf_c, FIRST_FIT_ALLOCATION);
    b = make(buf_b, sizeof buf_b);
    free_ok(b, alloc_ok(b, 100));
    drop(f);
    drop(b);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

static int group_setup(void **state)
{
    (void)state;
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
        T(test_create_ex_policy),
        T(test_create_ex_bad_args),
        T(test_create_fresh_carving),
        T(test_create_smallest),
        T(test_delete),
        T(test_addmem_errors),
        T(test_addmem_table_full),
        T(test_addmem_carving),
        T(test_alloc_errors),
        T(test_alloc_block_sizes),
        T(test_memalign_errors),
        T(test_memalign_up_to_1mib),
        T(test_realloc_errors),
        T(test_realloc_in_place_and_moving),
        T(test_realloc_random),
        T(test_realloc_shrunk_aligned_block_keeps_alignment),
        T(test_free_errors),
        T(test_findmaxfree),
        T(test_findmaxfree_none_left),
        T(test_getinfo),
        T(test_side_by_side),
    };
    return cmocka_run_group_tests_name("mpart_buddy", tests, group_setup, group_teardown);
}
