/*
 * test_mpart_quick.c - FIRST_FIT partitions of 32 KiB or more and their
 * quick lists (gjbmem/heap.h, GJB_QUICK; docs/DESIGN.md, "Quick lists"):
 * a small block freed between allocated ones is set aside unmerged and the
 * next allocation of its size takes it back; the statistics count it as
 * free; findmaxfree sees it, merged with its free neighbours first (it is
 * exact), largest_free as it is; a double free of it is refused; the lists give
 * their blocks back, merged, when an allocation finds nothing else and when
 * the partition becomes empty; a partition under 32 KiB has none; a block
 * memalign placed is set aside beside free blocks too (not when the free
 * block after it is damaged), onto a list of its size and alignment, and
 * memalign takes the least aligned block that is aligned enough (looking
 * past the first block of a list for one). The
 * engine's model test (tests/engine/test_heap_model.c) predicts every
 * address with them; this is the partition API's view.
 */
#define _GNU_SOURCE /* mmap's MAP_ANONYMOUS, MAP_FIXED_NOREPLACE */
#include "mpart_suite.h"
#include "levels.h"

#include <sys/mman.h>

#define QUICK_PART (64 * KIB)

/* Quick lists exist where the smallest block is at least two granules
 * (not on i386: 4-byte words, 16-byte granules) and the build keeps them. */
#define HAS_QUICK (GJBMEM_FF_QUICK > 0 && 4 * sizeof(size_t) >= 2 * GRAIN)

static _Alignas(4096) char buf_q[QUICK_PART];
static _Alignas(4096) char buf_small[16 * KIB];

/* Three blocks of n bytes in address order in a fresh partition. */
static void three(mpart_id a, size_t n, char *p[3])
{
    for (int i = 0; i < 3; i++) {
        p[i] = alloc_ok(a, n);
        if (i)
            assert_true(p[i - 1] < p[i]);
    }
}

/* The listed block whose payload is p: not used, n payload bytes. */
static void listed_free(mpart_id a, const char *p, size_t n)
{
    size_t i = block_index(a, p);
    assert_false(listed[i].used);
    assert_int_equal(listed[i].size - listed[i].header, n);
}

static void freed_block_is_taken_back_first(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3];
    three(a, 100, p);
    struct partinfo before = info(a);
    size_t payload = block_bytes(a, p[1]);
    free_ok(a, p[1]);
    struct partinfo after = info(a);
    assert_int_equal(after.segment, before.segment); /* not merged with anything */
    assert_int_equal(after.free, before.free + payload);
    assert_int_equal(after.used, before.used - payload);
    listed_free(a, p[1], payload);
    assert_ptr_equal(alloc_ok(a, 100), p[1]);
    assert_true(alloc_ok(a, 100) > p[2]); /* none left: from the tail */
}

static void neighbours_stay_apart_until_needed(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3];
    three(a, 200, p);
    size_t one = block_bytes(a, p[0]);
    free_ok(a, p[0]);
    free_ok(a, p[1]); /* both set aside: two free blocks side by side */
    listed_free(a, p[0], one);
    listed_free(a, p[1], one);
    /* The tail is the largest free block (largest_free leaves the lists as
     * they are); once it is taken, a request that only the two merged blocks
     * can hold merges them. */
    struct gjbmem_heap_stats st;
    OK(mpart_getstats(a, &st));
    char *tail = alloc_ok(a, st.largest_free - GUARD);
    assert_true(tail > p[2]);
    char *both = alloc_ok(a, 2 * one);
    assert_ptr_equal(both, p[0]);
    free_ok(a, both);
    free_ok(a, tail);
}

static void double_free_of_a_set_aside_block_is_refused(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3];
    three(a, 64, p);
    free_ok(a, p[1]);
    struct partinfo before = info(a);
    FAILS(mpart_free(a, p[1]), ERROR_REGION_NULL);
    FAILS(mpart_free(a, p[1] + GRAIN), ERROR_REGION_NULL);
    FAILS(mpart_realloc(a, p[1], 10) == NULL ? -1 : 0, EINVAL);
    same_info(before, info(a));
    errno = SENTINEL;
    assert_int_equal(mpart_usable_size(a, p[1]), 0);
    valid(a);
    assert_ptr_equal(alloc_ok(a, 64), p[1]); /* still good for its size */
}

/* A realloc that cannot grow in place because of a set-aside block after
 * it merges the lists' blocks back first and grows into it. */
static void realloc_grows_over_a_set_aside_block(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3];
    three(a, 100, p);
    memset(p[0], 0x5a, 100);
    free_ok(a, p[1]); /* set aside: reads as allocated beside p[0] */
    char *q = mpart_realloc(a, p[0], 180);
    assert_ptr_equal(q, p[0]); /* grown over p[1]'s block, in place */
    assert_true(mpart_usable_size(a, q) >= 180);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal((unsigned char)q[i], 0x5a);
    valid(a);
    free_ok(a, q);
    free_ok(a, p[2]);
    assert_int_equal(info(a).segment, 1);
}

static void findmaxfree_counts_set_aside_blocks(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3];
    three(a, 400, p);
    size_t max;
    OK(mpart_findmaxfree_size(a, &max));
    alloc_ok(a, max); /* the tail: nothing else is free */
    size_t payload = block_bytes(a, p[1]);
    free_ok(a, p[1]);
    OK(mpart_findmaxfree_size(a, &max));
    assert_int_equal(max, payload - GUARD);
    assert_ptr_equal(alloc_ok(a, max), p[1]);
    OK(mpart_findmaxfree_size(a, &max));
    assert_int_equal(max, 0);
}

/* findmaxfree is exact: it merges set-aside blocks first, as an allocation
 * that finds nothing else would (fuzz_mpart found it saying less than what
 * mpart_alloc then gave). largest_free does not merge them. */
static void findmaxfree_merges_set_aside_blocks_first(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3];
    three(a, 200, p);
    size_t one = block_bytes(a, p[0]);
    struct gjbmem_heap_stats st;
    OK(mpart_getstats(a, &st));
    alloc_ok(a, st.largest_free - GUARD); /* the tail: nothing else is free */
    free_ok(a, p[0]);
    free_ok(a, p[1]); /* both set aside, side by side */
    OK(mpart_getstats(a, &st));
    assert_int_equal(st.largest_free, one); /* each on its own (a block's payload) */
    size_t max;
    OK(mpart_findmaxfree_size(a, &max));
    assert_true(max >= 2 * one - GUARD); /* the two merged */
    listed_free(a, p[0], max + GUARD);
    OK(mpart_getstats(a, &st));
    assert_int_equal(st.largest_free - GUARD, max); /* the lists are empty now */
    errno = SENTINEL;
    assert_null(mpart_alloc(a, max + 1));
    assert_int_equal(errno, ENOMEM);
    assert_ptr_equal(alloc_ok(a, max), p[0]);
    OK(mpart_findmaxfree_size(a, &max));
    assert_int_equal(max, 0);
    valid(a);
}

static void an_empty_partition_is_whole_again(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    struct partinfo fresh = info(a);
    size_t max0, max;
    OK(mpart_findmaxfree_size(a, &max0));
    enum { N = 150 };
    char *p[N];
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = alloc_ok(a, 16 + (x >> 8) % 300);
    }
    for (int i = N; i > 1; i--) { /* free in a shuffled order */
        x = x * 1103515245u + 12345u;
        int j = (int)((x >> 8) % (uint32_t)i);
        char *t = p[j];
        p[j] = p[i - 1];
        p[i - 1] = t;
    }
    for (int i = 0; i < N; i++)
        free_ok(a, p[i]);
    struct partinfo now = info(a);
    assert_int_equal(now.segment, 1);
    assert_int_equal(now.free, fresh.free);
    OK(mpart_findmaxfree_size(a, &max));
    assert_int_equal(max, max0);
}

static void a_full_partition_merges_what_it_set_aside(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    enum { N = 1000 };
    static char *p[N];
    int n = 0;
    while (n < N && (p[n] = mpart_alloc(a, 48)) != NULL)
        n++;
    assert_true(n > 100 && n < N); /* full */
    for (int i = 1; i + 1 < n; i += 2) /* every other one, each between allocated ones */
        free_ok(a, p[i]);
    /* Nothing free holds 100 bytes until the set-aside blocks merge: they do
     * not (their neighbours are allocated), so the request fails, and the
     * partition is still whole and valid. */
    errno = SENTINEL;
    assert_null(mpart_alloc(a, 100));
    assert_int_equal(errno, ENOMEM);
    valid(a);
    for (int i = 0; i < n; i += 2) /* their neighbours go: now they can merge */
        free_ok(a, p[i]);
    if (n % 2 == 0)
        free_ok(a, p[n - 1]);
    struct partinfo now = info(a);
    assert_int_equal(now.segment, 1);
}

/* A partition without quick lists merges a freed block at once. */
static void merges_at_once(char *buf, size_t size)
{
    mpart_id a = make(buf, size);
    char *p[3];
    three(a, 100, p);
    struct partinfo before = info(a);
    free_ok(a, p[0]);
    free_ok(a, p[1]);
    assert_int_equal(info(a).segment, before.segment - 1); /* merged at once */
    assert_ptr_equal(alloc_ok(a, 200), p[0]);
}

static void a_small_partition_merges_at_once(void **state)
{
    (void)state;
    merges_at_once(buf_small, sizeof buf_small);
}

/* A build or target without quick lists (i386, GJBMEM_FF_QUICK 0). */
static void without_quick_lists_a_large_one_too(void **state)
{
    (void)state;
    merges_at_once(buf_q, sizeof buf_q);
}

static void memalign_takes_an_aligned_set_aside_block(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3];
    three(a, 100, p);
    char *q = memalign_ok(a, 64, 100);
    char *pin = alloc_ok(a, 100); /* after q: q is set aside when freed */
    assert_ptr_equal(next_block(a, q), pin);
    free_ok(a, q);
    char *r = memalign_ok(a, 64, 100); /* an aligned set-aside block of its size */
    assert_ptr_equal(r, q);
    char *s = realloc_ok(a, r, 300);
    assert_true(aligned_to(s, 64)); /* it kept its alignment */
    free_ok(a, s);
    free_ok(a, pin);
    for (int i = 0; i < 3; i++)
        free_ok(a, p[i]);
    assert_int_equal(info(a).segment, 1);
}

/* A block memalign placed is set aside beside free blocks too: the gap in
 * front of it and the rest after it stay free blocks, unmerged with it. */
static void memalign_blocks_are_set_aside_beside_free_blocks(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *pin = alloc_ok(a, 100);
    char *q = memalign_ok(a, 256, 100); /* the tail after it is free */
    size_t payload = block_bytes(a, q), tail = block_bytes(a, next_block(a, q));
    struct partinfo before = info(a);
    free_ok(a, q);
    listed_free(a, q, payload);
    assert_int_equal(block_bytes(a, next_block(a, q)), tail); /* not merged */
    assert_int_equal(info(a).segment, before.segment); /* (as freed_block_is_taken_back_first) */
    valid(a);
    assert_ptr_equal(memalign_ok(a, 256, 100), q);
    free_ok(a, q);
    free_ok(a, pin); /* the last one: the partition is whole again */
    assert_int_equal(info(a).segment, 1);
}

/* memalign(align, 100) until its payload is aligned to align but not to
 * 2 * align; the others stay allocated, in extra[] (*n of them). */
static char *memalign_exactly(mpart_id a, size_t align, char **extra, int *n)
{
    for (;;) {
        char *q = memalign_ok(a, align, 100);
        if (!aligned_to(q, 2 * align))
            return q;
        assert_true(*n < 16);
        extra[(*n)++] = q;
    }
}

/* The blocks memalign placed go onto lists by their alignment: memalign
 * takes the least aligned set-aside block of its size that is aligned
 * enough, and a plain allocation none of them. */
static void memalign_takes_the_least_aligned_block_that_will_do(void **state)
{
    (void)state;
    ONLY_AT_LEVEL_1(); /* the blocks' alignments follow their sizes, which guards change */
    mpart_id a = make(buf_q, sizeof buf_q);
    char *pin = alloc_ok(a, 100), *extra[16];
    int n = 0;
    char *q32 = memalign_exactly(a, 32, extra, &n), *q64 = memalign_exactly(a, 64, extra, &n);
    char *q256 = memalign_ok(a, 256, 100);
    char *last = alloc_ok(a, 100);
    free_ok(a, q256);
    free_ok(a, q64);
    free_ok(a, q32);
    char *plain = alloc_ok(a, 100); /* not from memalign's lists */
    assert_true(plain != q32 && plain != q64 && plain != q256);
    assert_ptr_equal(memalign_ok(a, 64, 100), q64);
    assert_ptr_equal(memalign_ok(a, 32, 100), q32);
    assert_ptr_equal(memalign_ok(a, 32, 100), q256); /* the only one left: more than enough */
    valid(a);
    free_ok(a, q32);
    free_ok(a, q64);
    free_ok(a, q256);
    free_ok(a, plain);
    free_ok(a, last);
    free_ok(a, pin);
    while (n)
        free_ok(a, extra[--n]);
    assert_int_equal(info(a).segment, 1);
}

/* memalign looks past the first set-aside block of its list for one
 * aligned enough: here two plain blocks, the first on the list not aligned
 * to 32. */
static void memalign_looks_past_the_first_set_aside_block(void **state)
{
    (void)state;
    ONLY_AT_LEVEL_1(); /* 100-byte blocks alternate in alignment: 112 bytes without a guard */
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[6];
    for (int i = 0; i < 6; i++)
        p[i] = alloc_ok(a, 100);
    char *on32 = NULL, *off32 = NULL; /* two of p[1..4], set aside when freed */
    for (int i = 1; i < 5; i++)
        if (aligned_to(p[i], 32) ? !on32 : !off32)
            *(aligned_to(p[i], 32) ? &on32 : &off32) = p[i];
    assert_non_null(on32);
    assert_non_null(off32);
    free_ok(a, on32);
    free_ok(a, off32); /* the first on the list */
    assert_ptr_equal(memalign_ok(a, 32, 100), on32);
    assert_ptr_equal(alloc_ok(a, 100), off32);
    valid(a);
    for (int i = 0; i < 6; i++)
        free_ok(a, p[i]);
    assert_int_equal(info(a).segment, 1);
}

/* A block memalign placed whose next block, a free one, is damaged (its
 * footer no longer matches its size) is refused, not set aside: nothing
 * changes, and the block frees once the damage is mended. */
static void memalign_block_before_a_damaged_free_block_is_refused(void **state)
{
    (void)state;
    mpart_id a = make(buf_q, sizeof buf_q);
    char *pin = alloc_ok(a, 100);
    char *q = memalign_ok(a, 256, 100);
    char *n = next_block(a, q); /* the free tail */
    size_t *hd = (size_t *)(void *)(n - sizeof(size_t)), saved = *hd;
    size_t *ft = hd + 64 / sizeof(size_t) - 1, saved_ft = *ft;
    struct partinfo before = info(a);
    const size_t bad[] = {
        (saved & 7u) | 64u,                  /* a size its footer does not repeat */
        (saved & 7u) | 16u,                  /* smaller than any block */
        (saved & 7u) | (SIZE_MAX & ~(size_t)15), /* past the region's end */
        (saved & 7u) | ((saved & ~(size_t)7) + 8u), /* not whole granules */
        saved | 2u,                          /* it says q is free */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        *hd = bad[i];
        *ft = 48;
        FAILS(mpart_free(a, q), ERROR_REGION_NULL);
        *hd = saved;
        *ft = saved_ft;
        same_info(before, info(a));
        valid(a);
    }
    free_ok(a, q);
    free_ok(a, pin);
    assert_int_equal(info(a).segment, 1);
}

/* Memory added beyond a quick index's reach (32 GiB from the partition's
 * descriptor on LP64: a list's first block is 32 bits of granules) takes
 * the quick lists away: the block set aside is merged back at once, and
 * from then on a freed block merges at once, as in a partition without
 * them. Memory within reach leaves them. (Skipped where no memory can be
 * mapped that far away.) */
static void memory_out_of_reach_ends_the_quick_lists(void **state)
{
    (void)state;
#if UINTPTR_MAX > 0xFFFFFFFFu && defined(__linux__) && defined(MAP_FIXED_NOREPLACE)
    size_t far = (size_t)64 << 30;
    uintptr_t at = ((uintptr_t)buf_q + far) & ~(uintptr_t)4095;
    char *m = mmap((void *)at, 64 * KIB, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED || (uintptr_t)m != at)
        skip();
    static _Alignas(4096) char near[16 * KIB];
    mpart_id a = make(buf_q, sizeof buf_q);
    char *p[3], *q[3];
    three(a, 100, p);
    free_ok(a, p[1]); /* set aside */
    assert_int_equal(mpart_addmem(a, near, sizeof near), 0); /* within reach */
    struct partinfo before = info(a);
    free_ok(a, p[0]);
    assert_int_equal(info(a).segment, before.segment); /* set aside too: not merged */
    assert_ptr_equal(alloc_ok(a, 100), p[0]);
    assert_int_equal(mpart_addmem(a, m, 64 * KIB), 0); /* out of reach */
    before = info(a);
    free_ok(a, p[0]);
    assert_int_equal(info(a).segment, before.segment - 1); /* merged with p[1] */
    assert_ptr_equal(alloc_ok(a, 200), p[0]);
    three(a, 100, q); /* no quick list: q[0] is listed, q[1] merges with it */
    before = info(a);
    free_ok(a, q[0]);
    free_ok(a, q[1]);
    assert_int_equal(info(a).segment, before.segment - 1);
    valid(a);
    free_everything(a);
    drop(a);
    munmap(m, 64 * KIB);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest without[] = {
        cmocka_unit_test_teardown(a_small_partition_merges_at_once, teardown),
        cmocka_unit_test_teardown(without_quick_lists_a_large_one_too, teardown),
    };
    if (!HAS_QUICK)
        return cmocka_run_group_tests(without, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(freed_block_is_taken_back_first, teardown),
        cmocka_unit_test_teardown(neighbours_stay_apart_until_needed, teardown),
        cmocka_unit_test_teardown(double_free_of_a_set_aside_block_is_refused, teardown),
        cmocka_unit_test_teardown(realloc_grows_over_a_set_aside_block, teardown),
        cmocka_unit_test_teardown(findmaxfree_counts_set_aside_blocks, teardown),
        cmocka_unit_test_teardown(findmaxfree_merges_set_aside_blocks_first, teardown),
        cmocka_unit_test_teardown(an_empty_partition_is_whole_again, teardown),
        cmocka_unit_test_teardown(a_full_partition_merges_what_it_set_aside, teardown),
        cmocka_unit_test_teardown(a_small_partition_merges_at_once, teardown),
        cmocka_unit_test_teardown(memalign_takes_an_aligned_set_aside_block, teardown),
        cmocka_unit_test_teardown(memalign_blocks_are_set_aside_beside_free_blocks, teardown),
        cmocka_unit_test_teardown(memalign_takes_the_least_aligned_block_that_will_do, teardown),
        cmocka_unit_test_teardown(memalign_looks_past_the_first_set_aside_block, teardown),
        cmocka_unit_test_teardown(memalign_block_before_a_damaged_free_block_is_refused, teardown),
        cmocka_unit_test_teardown(memory_out_of_reach_ends_the_quick_lists, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
