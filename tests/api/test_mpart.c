/*
 * test_mpart.c - the mpart_* contract of SPEC section 3 (and section 7's bad
 * input) that holds whatever the partition's policy: every test here runs
 * twice, on FIRST_FIT partitions (made by mpart_create) and on BUDDY ones
 * (mpart_create_ex), its name ending in the policy. Every row and error of
 * the table, errno checked after each call (and unchanged after each
 * success), misuse of every kind (NULL, 0, near-overflow sizes, foreign,
 * interior, freed and stale pointers, stale and never-issued ids,
 * overlapping memory, table limits, interrupt context), the realloc rules
 * both policies keep, findmaxfree as the largest request alloc satisfies,
 * the statistics, and random work checked throughout.
 *
 * What only one policy does (FIRST_FIT's placement, carving and in-place
 * growth; BUDDY's power-of-two carving) is in test_mpart_firstfit.c and
 * test_mpart_buddy.c. The sizes asked for fit both: a BUDDY partition of
 * 8 KiB holds blocks of at most 2 KiB (its descriptor at the start, a tag
 * byte per 32 bytes at the end); where the size that shows a rule depends
 * on the policy it is computed (maxfree, the blocks a partition holds).
 * Every test creates and deletes its own partitions; the teardown puts the
 * module back as it was.
 */
#define _GNU_SOURCE
#include "mpart_suite.h"

/* --- memory handed to partitions (distinct, so partitions never overlap) */

static _Alignas(8192) char buf_a[8192];
static _Alignas(8192) char buf_b[8192];
static _Alignas(8192) char buf_c[8192];
static _Alignas(32768) char big[32768];
static _Alignas(65536) char wide[65536];
static _Alignas(16) char tiny[MPART_MAX_PARTS + 1][1024];
static _Alignas(16) char chunks[GJBMEM_MAX_REGIONS + 1][1024 + 32 * GJBMEM_MAX_REGIONS];
static _Alignas(64) char not_a_partition[256];

/* The policy other than this test's. */
static int other_policy(void)
{
    return policy == FF ? BUDDY : FF;
}

/* Allocates blocks of size until ENOMEM, into held[0 .. cap). */
static size_t exhaust(mpart_id mid, size_t size, char **held, size_t cap)
{
    size_t n = 0;
    for (;;) {
        errno = 0;
        char *p = mpart_alloc(mid, size);
        if (!p) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        assert_true(n < cap);
        held[n++] = p;
    }
    valid(mid);
    return n;
}

/* === mpart_module_init ======================================================= */

static void test_module_init_bounds(void **state)
{
    (void)state;
    FAILS(mpart_module_init(0), EINVAL);
    FAILS(mpart_module_init(-1), EINVAL);
    FAILS(mpart_module_init(INT_MIN), EINVAL);
    FAILS(mpart_module_init(MPART_MAX_PARTS + 1), ENOSPC);
    FAILS(mpart_module_init(INT_MAX), ENOSPC);
    OK(mpart_module_init(1));
    OK(mpart_module_init(MPART_MAX_PARTS));
    OK(mpart_module_init(MPART_MAX_PARTS)); /* again: same result */

    /* A refused call leaves the limit as it was. */
    OK(mpart_module_init(2));
    FAILS(mpart_module_init(0), EINVAL);
    FAILS(mpart_module_init(MPART_MAX_PARTS + 1), ENOSPC);
    make(tiny[0], sizeof tiny[0]);
    make(tiny[1], sizeof tiny[1]);
    mpart_id mid = 0x5555;
    FAILS(create(tiny[2], sizeof tiny[2], policy, &mid), ENOSPC);
    FAILS(create(tiny[2], sizeof tiny[2], other_policy(), &mid), ENOSPC);
    assert_int_equal(mid, 0x5555);
}

static void test_module_init_limits_creates(void **state)
{
    (void)state;
    OK(mpart_module_init(3));
    mpart_id a = make(tiny[0], sizeof tiny[0]);
    make(tiny[1], sizeof tiny[1]);
    make(tiny[2], sizeof tiny[2]);
    mpart_id mid = 0x5555;
    FAILS(create(tiny[3], sizeof tiny[3], policy, &mid), ENOSPC);
    FAILS(create(tiny[4], sizeof tiny[4], policy, &mid), ENOSPC);
    assert_int_equal(mid, 0x5555);
    /* Deleting one makes room; the refused memory was not taken. */
    drop(a);
    make(tiny[3], sizeof tiny[3]);
    FAILS(create(tiny[4], sizeof tiny[4], policy, &mid), ENOSPC);
}

static void test_module_init_below_live(void **state)
{
    (void)state;
    mpart_id p[3];
    for (int i = 0; i < 3; i++)
        p[i] = make(tiny[i], sizeof tiny[i]);
    FAILS(mpart_module_init(2), EBUSY);
    FAILS(mpart_module_init(1), EBUSY);
    /* The limit is still MPART_MAX_PARTS: a fourth partition is fine. */
    mpart_id d = make(tiny[3], sizeof tiny[3]);
    OK(mpart_module_init(4)); /* exactly the live count */
    mpart_id mid = 0x5555;
    FAILS(create(tiny[4], sizeof tiny[4], policy, &mid), ENOSPC);
    for (int i = 0; i < 3; i++)
        drop(p[i]);
    drop(d);
    OK(mpart_module_init(1));
    make(tiny[0], sizeof tiny[0]);
    FAILS(create(tiny[1], sizeof tiny[1], policy, &mid), ENOSPC);
}

static void test_partition_table_full(void **state)
{
    (void)state;
    mpart_id ids[MPART_MAX_PARTS];
    for (int i = 0; i < MPART_MAX_PARTS; i++)
        ids[i] = make(tiny[i], sizeof tiny[i]);
    mpart_id mid = 0x5555;
    FAILS(create(tiny[MPART_MAX_PARTS], sizeof tiny[0], policy, &mid), ENOSPC);
    assert_int_equal(mid, 0x5555);
    for (int i = 0; i < MPART_MAX_PARTS; i++) {
        char *p = alloc_ok(ids[i], 100);
        assert_true(p >= tiny[i] && p < tiny[i] + sizeof tiny[i]);
        free_ok(ids[i], p);
    }
    drop(ids[7]);
    make(tiny[MPART_MAX_PARTS], sizeof tiny[0]);
}

/* === mpart_create ============================================================ */

static void test_create_bad_args(void **state)
{
    (void)state;
    mpart_id mid = 0x5555;
    FAILS(create(NULL, sizeof buf_a, policy, &mid), EINVAL);
    FAILS(create(buf_a, sizeof buf_a, policy, NULL), EINVAL);
    FAILS(create(buf_a, 0, policy, &mid), EINVAL);
    FAILS(create(NULL, 0, policy, NULL), EINVAL);
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 8, SIZE_MAX - 32,
                           SIZE_MAX - 4096, SIZE_MAX - (uintptr_t)buf_a + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        FAILS(create(buf_a, huge[i], policy, &mid), EINVAL);
    const size_t small[] = {1, 7, 8, 16, 32, 64};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        FAILS(create(buf_a, small[i], policy, &mid), EINVAL);
    assert_int_equal(mid, 0x5555);
    /* None of the refused calls took the memory. */
    mpart_id a = make(buf_a, sizeof buf_a);
    drop(a);
}

static void test_create_smallest(void **state)
{
    (void)state;
    size_t size;
    mpart_id mid = create_smallest(buf_a, 4096, policy, &size);
    /* The smallest partition holds metadata and one minimum block. */
    struct partinfo pi = info(mid);
    assert_int_equal(pi.segment, 1);
    assert_int_equal(pi.used + pi.free, size);
    size_t m = maxfree(mid);
    assert_true(m >= 1);
    char *p = alloc_ok(mid, m);
    assert_true(p >= buf_a && p + m <= buf_a + size);
    FAILS_NULL(mpart_alloc(mid, 1), ENOMEM);
    free_ok(mid, p);
    drop(mid);
}

static void test_create_any_alignment(void **state)
{
    (void)state;
    const size_t offs[] = {1, 2, 3, 7, 8, 9, 15, 17};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        char *base = buf_a + offs[i];
        mpart_id mid = make(base, 4096);
        struct partinfo fresh = info(mid);
        assert_int_equal(fresh.used + fresh.free, 4096);
        char *p = alloc_ok(mid, 1000);
        assert_true(p >= base && p + 1000 <= base + 4096);
        char *q = memalign_ok(mid, 64, 500);
        assert_true(q >= base && q + 500 <= base + 4096);
        free_ok(mid, p);
        free_ok(mid, q);
        same_blocks(fresh, info(mid));
        drop(mid);
    }
}

static void test_create_overlap(void **state)
{
    (void)state;
    mpart_id a = make(big + 4096, 4096);
    char *p = alloc_ok(a, 1000);
    fill(p, 1000, 1);
    struct partinfo before = info(a);
    mpart_id mid = 0x5555;
    for (int k = 0; k < 2; k++) { /* a partition of either policy */
        int pol = k ? other_policy() : policy;
        FAILS(create(big + 4096, 4096, pol, &mid), EINVAL);       /* the same memory */
        FAILS(create(big + 4096 + 512, 1024, pol, &mid), EINVAL); /* inside */
        FAILS(create(big, sizeof big, pol, &mid), EINVAL);         /* containing */
        FAILS(create(big, 4097, pol, &mid), EINVAL);               /* last byte overlaps */
        FAILS(create(big + 8191, 4096, pol, &mid), EINVAL);        /* first byte overlaps */
        FAILS(create(p, 512, pol, &mid), EINVAL);                  /* a block of it */
    }
    assert_int_equal(mid, 0x5555);
    same_info(before, info(a));
    valid(a);
    expect(p, 1000, 1);

    /* Exactly touching edges is accepted on both sides. */
    mpart_id left = make(big, 4096);
    mpart_id right = make_policy(big + 8192, 4096, other_policy());
    size_t nl = maxfree(left) < 3000 ? maxfree(left) : 3000;
    size_t nr = maxfree(right) < 3000 ? maxfree(right) : 3000;
    char *l = alloc_ok(left, nl), *r = alloc_ok(right, nr);
    assert_true(l >= big && l + nl <= big + 4096);
    assert_true(r >= big + 8192 && r + nr <= big + 12288);
    fill(l, nl, 2);
    fill(r, nr, 3);
    expect(p, 1000, 1);

    /* Memory added to a partition is just as taken. */
    OK(mpart_addmem(a, buf_b, 4096));
    FAILS(create(buf_b + 100, 1024, policy, &mid), EINVAL);
    FAILS(create(buf_b + 4095, 1024, other_policy(), &mid), EINVAL);
    mpart_id after = make(buf_b + 4096, 4096);

    expect(l, nl, 2);
    expect(r, nr, 3);
    free_ok(a, p);
    free_ok(left, l);
    free_ok(right, r);
    drop(after);
    drop(left);
    drop(right);
    drop(a);
}

static void test_create_in_isr(void **state)
{
    (void)state;
    mpart_id mid = 0x5555;
    gjbmem_posix_set_isr(1);
    FAILS(create(buf_a, sizeof buf_a, policy, &mid), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    assert_int_equal(mid, 0x5555);
    mpart_id a = make(buf_a, sizeof buf_a); /* the memory was not taken */
    drop(a);
}

static void test_create_distinct_ids(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id b = make(buf_b, sizeof buf_b);
    mpart_id c = make_policy(buf_c, sizeof buf_c, other_policy());
    assert_true(a != b && b != c && a != c);
    char *pa = alloc_ok(a, 64), *pb = alloc_ok(b, 64), *pc = alloc_ok(c, 64);
    assert_true(pa >= buf_a && pa < buf_a + sizeof buf_a);
    assert_true(pb >= buf_b && pb < buf_b + sizeof buf_b);
    assert_true(pc >= buf_c && pc < buf_c + sizeof buf_c);
    free_ok(a, pa);
    free_ok(b, pb);
    free_ok(c, pc);
}

/* === mpart_delete ============================================================ */

static void test_delete_never_issued_ids(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS(mpart_delete(bad_ids[i]), EINVAL);
    valid(a);
    free_ok(a, alloc_ok(a, 10));
    drop(a);
}

static void refused_id(mpart_id id, char *some_block)
{
    expect_refused_id(id, some_block, buf_c, 4096);
}

static void test_bad_ids_everywhere(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 4);
    struct partinfo before = info(a);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            refused_id(bad_ids[i], p);
    same_info(before, info(a));
    expect(p, 100, 4);
    free_ok(a, p); /* still allocated: the refused frees did nothing */
    /* buf_c, offered to the refused addmem calls, is still free to use. */
    mpart_id c = make(buf_c, sizeof buf_c);
    drop(c);
    drop(a);
}

static void test_delete_stale_and_reused(void **state)
{
    (void)state;
    mpart_id old = make(buf_a, sizeof buf_a);
    drop(old);
    refused_id(old, buf_a + 64);

    /* The same memory (and, the table being empty, the same slot) again. */
    mpart_id b = make(buf_a, sizeof buf_a);
    assert_true(b != old);
    char *p = alloc_ok(b, 200);
    fill(p, 200, 5);
    struct partinfo before = info(b);
    refused_id(old, p);
    same_info(before, info(b));
    expect(p, 200, 5);
    free_ok(b, p);
    drop(b);

    mpart_id c = make(buf_b, sizeof buf_b);
    assert_true(c != old && c != b);
    refused_id(old, buf_b + 64);
    refused_id(b, buf_b + 64);
    valid(c);
    drop(c);
}

/* The id a free slot will issue next (its generation, one past the
 * deleted partition's) names no partition yet: refused by every call, and
 * it works only once that partition exists. */
static void test_next_id_refused_before_create(void **state)
{
    (void)state;
    mpart_id old = make(buf_a, sizeof buf_a);
    drop(old);
    mpart_id next = old + ((mpart_id)1 << 9); /* same slot, next generation */
    assert_false(is_live(next));
    refused_id(next, buf_a + 64);
    refused_id(next | ((mpart_id)1 << 8), buf_a + 64); /* ... with the shared bit */
    refused_id(old | ((mpart_id)1 << 8), buf_a + 64);

    mpart_id b = make(buf_a, sizeof buf_a); /* the table is empty: the same slot */
    assert_int_equal(b, next);
    char *p = alloc_ok(b, 100);
    refused_id(old, p);
    free_ok(b, p);
    valid(b);
    drop(b);
    refused_id(next, buf_a + 64);
}

static void test_delete_busy(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 6);
    struct partinfo before = info(a);
    FAILS(mpart_delete(a), EBUSY);
    same_info(before, info(a));
    valid(a);
    /* The partition still works. */
    char *q = alloc_ok(a, 300);
    fill(q, 300, 7);
    expect(p, 100, 6);
    free_ok(a, p);
    FAILS(mpart_delete(a), EBUSY);
    expect(q, 300, 7);
    free_ok(a, q);

    /* A live block in an added region counts too: the largest blocks are
     * taken until one lies in the added region, the others given back. */
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    size_t m = maxfree(a);
    char *held[32], *r = NULL;
    size_t n = 0;
    while (!r) {
        char *x = alloc_ok(a, m);
        if (x >= buf_b && x < buf_b + sizeof buf_b)
            r = x;
        else {
            assert_true(n < 32);
            held[n++] = x;
        }
    }
    free_all(a, held, n);
    FAILS(mpart_delete(a), EBUSY);
    free_ok(a, r);
    drop(a);
    refused_id(a, r);
    /* The memory of the deleted partition's added region is free again. */
    mpart_id b = make(buf_b, sizeof buf_b);
    drop(b);
}

static void test_delete_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    gjbmem_posix_set_isr(1);
    FAILS(mpart_delete(a), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    valid(a);
    free_ok(a, alloc_ok(a, 32));
    drop(a);
}

/* === mpart_addmem ============================================================ */

static void test_addmem_bad_args(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    FAILS(mpart_addmem(a, NULL, 4096), EINVAL);
    FAILS(mpart_addmem(a, buf_b, 0), EINVAL);
    FAILS(mpart_addmem(a, NULL, 0), EINVAL);
    const size_t small[] = {1, 8, 16, 24, 32, 40};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        FAILS(mpart_addmem(a, buf_b, small[i]), ERROR_REGION_SIZE);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS(mpart_addmem(bad_ids[i], buf_b, sizeof buf_b), ERROR_KERNEL_HANDLE_NULL);
    /* Sizes that run past the end of the address space. */
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX - 32, SIZE_MAX - (uintptr_t)buf_b + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        assert_int_equal(mpart_addmem(a, buf_b, huge[i]), -1);
        assert_true(errno == EINVAL || errno == ERROR_KERNEL_MEMORY);
    }
    /* Memory in the address space whose end is past it. */
    FAILS(mpart_addmem(a, (void *)(UINTPTR_MAX - 4095), 8192), EINVAL);
    same_info(before, info(a));
    valid(a);
    OK(mpart_addmem(a, buf_b, sizeof buf_b)); /* nothing was taken */
    valid(a);
}

static void test_addmem_smallest(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *held[64];
    size_t nheld = take_all(a, held, 64); /* region 1 is full now */
    struct partinfo before = info(a);
    size_t size = 1;
    for (; size <= 1024; size++) {
        errno = 0;
        if (mpart_addmem(a, buf_b, size) == 0)
            break;
        assert_int_equal(errno, ERROR_REGION_SIZE);
        same_info(before, info(a));
    }
    assert_true(size <= 1024);
    valid(a);
    struct partinfo pi = info(a);
    assert_int_equal(pi.segment, before.segment + 1);
    assert_int_equal(pi.used + pi.free, sizeof buf_a + size);
    /* The smallest region holds one block. */
    size_t m = maxfree(a);
    assert_true(m >= 1);
    char *p = alloc_ok(a, m);
    assert_true(p >= buf_b && p + m <= buf_b + size);
    FAILS_NULL(mpart_alloc(a, 1), ENOMEM);
    free_ok(a, p);
    free_all(a, held, nheld);
}

static void test_addmem_overlap(void **state)
{
    (void)state;
    mpart_id a = make(big + 4096, 4096);
    mpart_id b = make_policy(buf_c, 4096, other_policy());
    struct partinfo before = info(a), before_b = info(b);
    FAILS(mpart_addmem(a, big + 4096, 4096), ERROR_KERNEL_MEMORY);       /* itself */
    FAILS(mpart_addmem(a, big + 4096 + 1024, 1024), ERROR_KERNEL_MEMORY); /* inside */
    FAILS(mpart_addmem(a, big, sizeof big), ERROR_KERNEL_MEMORY);         /* containing */
    FAILS(mpart_addmem(a, big, 4097), ERROR_KERNEL_MEMORY);               /* one byte */
    FAILS(mpart_addmem(a, big + 8191, 4096), ERROR_KERNEL_MEMORY);        /* one byte */
    FAILS(mpart_addmem(a, big + 4096, 1), ERROR_KERNEL_MEMORY);           /* its descriptor */
    FAILS(mpart_addmem(a, buf_c, 4096), ERROR_KERNEL_MEMORY);             /* partition b */
    FAILS(mpart_addmem(a, buf_c + 100, 200), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(a, buf_c + 4095, 1000), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(b, big + 4096 + 2000, 1000), ERROR_KERNEL_MEMORY); /* partition a */
    same_info(before, info(a));
    same_info(before_b, info(b));
    valid(a);
    valid(b);

    /* Exactly touching edges is accepted on both sides. */
    OK(mpart_addmem(a, big, 4096));
    OK(mpart_addmem(a, big + 8192, 4096));
    valid(a);
    struct partinfo pi = info(a);
    if (policy == FF) /* one free block per region */
        assert_int_equal(pi.segment, 3);
    assert_int_equal(stats(a).regions, 3);
    assert_int_equal(pi.used + pi.free, 3 * 4096);
    assert_true(pi.maxused >= pi.used);
    /* The added regions are now refused too, to a and to b. */
    FAILS(mpart_addmem(a, big + 4095, 2), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(a, big + 12287, 1000), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(b, big + 100, 1000), ERROR_KERNEL_MEMORY);
    mpart_id mid = 0x5555;
    FAILS(create(big + 9000, 1000, policy, &mid), EINVAL);
    OK(mpart_addmem(a, big + 12288, 4096)); /* touching the last one */
    struct partinfo four = info(a);

    /* Blocks come from every region and never overlap (a BUDDY region of
     * 4 KiB holds few 1 KiB blocks: 512-byte ones). */
    const size_t each = policy == FF ? 900 : 500;
    char *blocks[64];
    size_t n = exhaust(a, each, blocks, 64);
    int per_region[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        assert_true(blocks[i] >= big && blocks[i] + each <= big + 4 * 4096);
        fill(blocks[i], each, (unsigned)i);
    }
    for (size_t i = 0; i < n; i++) {
        expect(blocks[i], each, (unsigned)i);
        per_region[(blocks[i] - big) / 4096]++;
    }
    for (int i = 0; i < 4; i++)
        assert_true(per_region[i] >= 3);
    free_all(a, blocks, n);
    struct partinfo end = info(a);
    same_blocks(four, end);
    if (policy == FF)
        assert_int_equal(end.segment, 4);
}

static void test_addmem_region_table_full(void **state)
{
    (void)state;
    mpart_id a = make(chunks[0], sizeof chunks[0]);
    for (int i = 1; i < GJBMEM_MAX_REGIONS; i++)
        OK(mpart_addmem(a, chunks[i], sizeof chunks[i]));
    valid(a);
    struct partinfo before = info(a);
    if (policy == FF)
        assert_int_equal(before.segment, GJBMEM_MAX_REGIONS);
    FAILS(mpart_addmem(a, chunks[GJBMEM_MAX_REGIONS], sizeof chunks[0]), ENOSPC);
    same_info(before, info(a));
    assert_int_equal(stats(a).regions, GJBMEM_MAX_REGIONS);
    valid(a);
    /* Blocks come from every region; every one is freed back (BUDDY: of
     * 256 bytes with the guard, the smallest chunk holding few of 512). */
    char *blocks[256];
    size_t n = exhaust(a, 256 - GUARD, blocks, 256);
    bool from[GJBMEM_MAX_REGIONS] = {false};
    for (size_t i = 0; i < n; i++) {
        assert_true(blocks[i] >= chunks[0] && blocks[i] + 256 <= chunks[GJBMEM_MAX_REGIONS]);
        from[(size_t)(blocks[i] - chunks[0]) / sizeof chunks[0]] = true;
    }
    for (int i = 0; i < GJBMEM_MAX_REGIONS; i++)
        assert_true(from[i]);
    free_all(a, blocks, n);
    same_blocks(before, info(a));
    /* The refused memory was not taken. */
    mpart_id b = make(chunks[GJBMEM_MAX_REGIONS], sizeof chunks[0]);
    drop(b);
}

static void test_addmem_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    gjbmem_posix_set_isr(1);
    FAILS(mpart_addmem(a, buf_b, sizeof buf_b), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    valid(a);
}

static void test_addmem_statistics(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo p0 = info(a);
    size_t m0 = maxfree(a);
    OK(mpart_addmem(a, buf_b, 4096));
    valid(a);
    struct partinfo p1 = info(a);
    assert_int_equal(stats(a).regions, 2);
    assert_true(p1.segment > p0.segment);
    assert_int_equal(p1.used + p1.free, sizeof buf_a + 4096);
    assert_true(p1.used > p0.used);     /* the new region's own metadata */
    assert_true(p1.maxused >= p1.used); /* the high-water mark follows */
    assert_int_equal(maxfree(a), m0);   /* the first region still holds the largest */
    /* A block in each region, given back: the statistics as they were. */
    char *held[64];
    size_t n = take_all(a, held, 64);
    bool in_a = false, in_b = false;
    for (size_t i = 0; i < n; i++) {
        in_a |= held[i] >= buf_a && held[i] < buf_a + sizeof buf_a;
        in_b |= held[i] >= buf_b && held[i] + 1 <= buf_b + 4096;
    }
    assert_true(in_a && in_b);
    free_all(a, held, n);
    struct partinfo p2 = info(a);
    assert_int_equal(p2.segment, p1.segment);
    assert_int_equal(p2.used, p1.used);
    assert_int_equal(p2.free, p1.free);
}

/* === mpart_alloc ============================================================= */

static const size_t too_big[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 7, SIZE_MAX - 8, SIZE_MAX - 15, SIZE_MAX - 16,
    SIZE_MAX - 24, SIZE_MAX - 31, SIZE_MAX - 32, SIZE_MAX - 64, SIZE_MAX / 2,
    SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 2, (size_t)INT_MAX + 1, (size_t)1 << 20, sizeof buf_a + 1,
    sizeof buf_a,
};
#define NTOO_BIG (sizeof too_big / sizeof too_big[0])

static void test_alloc_bad_args(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m = maxfree(a);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_alloc(a, 0), EINVAL);
    for (size_t i = 0; i < NTOO_BIG; i++)
        FAILS_NULL(mpart_alloc(a, too_big[i]), ERROR_REGION_SIZE);
    /* Even the empty partition cannot hold one byte more than findmaxfree. */
    FAILS_NULL(mpart_alloc(a, m + 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_alloc(a, 2 * m), ERROR_REGION_SIZE);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_alloc(bad_ids[i], 16), ERROR_KERNEL_HANDLE_NULL);
    same_info(before, info(a));
    /* Refused as too big: counted, but for the sizes the guard's word makes
     * overflow (levels 2-3), refused before the heap sees them. */
    size_t counted = 2;
    for (size_t i = 0; i < NTOO_BIG; i++)
        counted += too_big[i] <= SIZE_MAX - GUARD;
    assert_int_equal(stats(a).failed, counted);
    valid(a);
}

/* ENOMEM: what an empty partition would hold, refused while its memory is
 * taken; nothing changes and the blocks keep their contents. */
static void test_alloc_enomem(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo fresh = info(a);
    size_t m = maxfree(a);
    /* Half the largest block taken, then every other block of its size
     * (FIRST_FIT: none is left): 2/3 of it is refused though the empty
     * partition would hold it, and so are m and findmaxfree + 1. */
    char *p = alloc_ok(a, m / 2);
    fill(p, m / 2, 8);
    char *held[64];
    size_t n = exhaust(a, m, held, 64);
    for (size_t i = 0; i < n; i++)
        fill(held[i], 64, 40 + (unsigned)i);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_alloc(a, m / 3 * 2), ENOMEM);
    FAILS_NULL(mpart_alloc(a, m), ENOMEM);
    FAILS_NULL(mpart_alloc(a, maxfree(a) + 1), ENOMEM);
    same_info(before, info(a));
    valid(a);
    expect(p, m / 2, 8);
    for (size_t i = 0; i < n; i++)
        expect(held[i], 64, 40 + (unsigned)i);
    free_ok(a, p);
    free_all(a, held, n);
    same_blocks(fresh, info(a));
    free_ok(a, alloc_ok(a, m / 3 * 2));
    free_ok(a, alloc_ok(a, m));
}

static void test_alloc_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    gjbmem_posix_set_isr(1);
    FAILS_NULL(mpart_alloc(a, 16), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    free_ok(a, alloc_ok(a, 16));
}

/* === mpart_memalign ========================================================== */

static void test_memalign_bad_args(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m = maxfree(a);
    struct partinfo before = info(a);
    const size_t bad_align[] = {0, 3, 5, 6, 7, 12, 24, 48, 100, 4097,
                                SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++)
        FAILS_NULL(mpart_memalign(a, bad_align[i], 64), ERROR_REGION_ALIGN);
    FAILS_NULL(mpart_memalign(a, 16, 0), EINVAL);
    FAILS_NULL(mpart_memalign(a, 4, 0), EINVAL);
    for (size_t i = 0; i < NTOO_BIG; i++) {
        FAILS_NULL(mpart_memalign(a, 16, too_big[i]), ERROR_REGION_SIZE);
        FAILS_NULL(mpart_memalign(a, 4096, too_big[i]), ERROR_REGION_SIZE);
    }
    FAILS_NULL(mpart_memalign(a, 16, m + 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(a, 64, SIZE_MAX), ERROR_REGION_SIZE);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_memalign(bad_ids[i], 64, 16), ERROR_KERNEL_HANDLE_NULL);
    same_info(before, info(a));
    valid(a);

    /* ENOMEM: half the largest block taken, then every other of its size
     * (FIRST_FIT: none is left), so that no free block holds 2/3 of it. */
    char *p = alloc_ok(a, m / 2);
    char *held[64];
    size_t n = exhaust(a, m, held, 64);
    before = info(a);
    FAILS_NULL(mpart_memalign(a, 64, m / 3 * 2), ENOMEM);
    FAILS_NULL(mpart_memalign(a, 64, m), ENOMEM);
    FAILS_NULL(mpart_memalign(a, 4, maxfree(a) + 1), ENOMEM);
    same_info(before, info(a));
    free_all(a, held, n);
    free_ok(a, p);
}

static void test_memalign_every_power_of_two(void **state)
{
    (void)state;
    mpart_id a = make(big, sizeof big);
    struct partinfo fresh = info(a);
    char *p[14];
    int n = 0;
    for (size_t align = 1; align <= 4096; align <<= 1, n++) {
        p[n] = memalign_ok(a, align, 100);
        assert_true(p[n] >= big && p[n] + 100 <= big + sizeof big);
        fill(p[n], 100, (unsigned)n);
    }
    for (int i = 0; i < n; i++)
        expect(p[i], 100, (unsigned)i);
    for (int i = 0; i < n; i++)
        free_ok(a, p[i]);
    same_blocks(fresh, info(a));
    /* The manual's sample: alignment 4, 4 KiB. */
    char *q = memalign_ok(a, 4, 4096);
    fill(q, 4096, 9);
    expect(q, 4096, 9);
    free_ok(a, q);
}

static void test_memalign_impossible_alignment(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    /* No address of a user-space buffer is aligned to the top bit. */
    size_t align = (size_t)1 << (sizeof(size_t) * CHAR_BIT - 1);
    errno = 0;
    assert_null(mpart_memalign(a, align, 64));
    assert_true(errno == ENOMEM || errno == ERROR_REGION_SIZE);
    same_info(before, info(a));
    valid(a);
}

static void test_memalign_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    gjbmem_posix_set_isr(1);
    FAILS_NULL(mpart_memalign(a, 64, 16), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    free_ok(a, memalign_ok(a, 64, 16));
}

/* === mpart_realloc =========================================================== */

static void test_realloc_null_is_alloc(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t cap = maxfree(a); /* what an empty partition could ever hold */
    char *p = realloc_ok(a, NULL, 100);
    assert_true(p >= buf_a && p + 100 <= buf_a + sizeof buf_a);
    if (policy == FF) /* the block and the free rest */
        assert_int_equal(info(a).segment, 2);
    fill(p, 100, 10);
    /* What could hold cap - 50 is taken. */
    char *held[8];
    size_t n = exhaust(a, cap - 50, held, 8);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_realloc(a, NULL, 0), EINVAL);
    FAILS_NULL(mpart_realloc(a, NULL, SIZE_MAX), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, NULL, SIZE_MAX - 8), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, NULL, cap + 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, NULL, cap - 50), ENOMEM); /* it could, not now */
    same_info(before, info(a));
    expect(p, 100, 10);
    free_all(a, held, n);
    free_ok(a, p);
}

static void test_realloc_size_zero_keeps_block(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 11);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_realloc(a, p, 0), EINVAL);
    same_info(before, info(a));
    valid(a);
    expect(p, 100, 11);
    free_ok(a, p);
}

static void test_realloc_bad_mid(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 12);
    struct partinfo before = info(a);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_realloc(bad_ids[i], p, 200), ERROR_KERNEL_HANDLE_NULL);
    same_info(before, info(a));
    expect(p, 100, 12);
    free_ok(a, p);
}

/* Pointers that are not allocated blocks of partition a (whose block p of
 * 256 bytes is live and whose memory is [base, base + size)), besides the
 * free block after p and a freed one. */
static size_t foreign_pointers(char **out, char *p, char *base, size_t size, char *other,
                               char *stack, char *heap)
{
    size_t n = 0;
    out[n++] = stack;
    out[n++] = heap;
    out[n++] = not_a_partition;
    out[n++] = not_a_partition + 16;
    out[n++] = other;            /* a block of another partition */
    out[n++] = base;             /* the partition's descriptor */
    out[n++] = base + 16;
    out[n++] = base + 32;
    out[n++] = base + 512;
    out[n++] = base + size - 33; /* its bitmap or tags, at the end */
    out[n++] = base + size - 32;
    out[n++] = base + size - 16;
    out[n++] = base + size;      /* one past its end */
    out[n++] = p - 16;           /* before the block */
    out[n++] = p + 1;            /* interior */
    out[n++] = p + 8;
    out[n++] = p + 16;
    out[n++] = p + BU;
    out[n++] = p + 64;
    out[n++] = p + 128;
    out[n++] = p + 255;
    out[n++] = (char *)(uintptr_t)GRAIN; /* small non-NULL addresses */
    out[n++] = (char *)(uintptr_t)BU;
    return n;
}

/* Partition a with live blocks p (256 bytes) and g (64) and partition b
 * with q; bad[] holds what is no allocated block of a: foreign_pointers,
 * the free block after g, interior pointers of g and a freed block. */
struct hostile {
    mpart_id a, b;
    char *p, *q, *g, *heap;
    char *bad[40];
    size_t n;
    struct partinfo ia, ib;
};

static void hostile_setup(struct hostile *h, char *stack)
{
    h->a = make(buf_a, sizeof buf_a);
    h->b = make(buf_b, sizeof buf_b);
    h->p = alloc_ok(h->a, 256);
    h->q = alloc_ok(h->b, 256);
    h->g = alloc_ok(h->a, 64);
    fill(h->p, 256, 33);
    fill(h->q, 256, 34);
    fill(h->g, 64, 35);
    h->heap = malloc(256);
    assert_non_null(h->heap);
    h->n = foreign_pointers(h->bad, h->p, buf_a, sizeof buf_a, h->q, stack, h->heap);
    h->bad[h->n++] = next_block(h->a, h->g); /* the free block after g */
    h->bad[h->n++] = h->g + 8;
    h->bad[h->n++] = h->g + 32;
    char *r = alloc_ok(h->a, 64);
    free_ok(h->a, r);
    h->bad[h->n++] = r; /* a freed block */
    /* Where the descriptor is small (BUDDY on 32-bit ARM), base + 512 may be
     * p itself: no live block counts as a bad pointer. */
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->bad[i] != h->p && h->bad[i] != h->g)
            h->bad[k++] = h->bad[i];
    h->n = k;
    h->ia = info(h->a);
    h->ib = info(h->b);
}

/* Nothing changed; the blocks are given back. */
static void hostile_done(struct hostile *h)
{
    same_info(h->ia, info(h->a));
    same_info(h->ib, info(h->b));
    valid(h->a);
    valid(h->b);
    expect(h->p, 256, 33);
    expect(h->q, 256, 34);
    expect(h->g, 64, 35);
    free(h->heap);
    free_ok(h->a, h->p);
    free_ok(h->a, h->g);
    free_ok(h->b, h->q);
}

static void test_realloc_foreign_pointers(void **state)
{
    (void)state;
    _Alignas(64) char stack[64];
    struct hostile h;
    hostile_setup(&h, stack);
    for (size_t i = 0; i < h.n; i++) {
        FAILS_NULL(mpart_realloc(h.a, h.bad[i], 64), EINVAL);
        FAILS_NULL(mpart_realloc(h.a, h.bad[i], 4000), EINVAL);
        FAILS_NULL(mpart_realloc(h.a, h.bad[i], SIZE_MAX), EINVAL); /* checked before the size */
    }
    hostile_done(&h);
}

static void test_realloc_too_big(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t m = maxfree(a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 15);
    struct partinfo before = info(a);
    for (size_t i = 0; i < NTOO_BIG; i++)
        FAILS_NULL(mpart_realloc(a, p, too_big[i]), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, p, m + 1), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, p, 2 * m), ERROR_REGION_SIZE);
    same_info(before, info(a));
    valid(a);
    expect(p, 100, 15);
    free_ok(a, p);
}

static void test_realloc_enomem_keeps_block(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo fresh = info(a);
    char *p = alloc_ok(a, 200);
    fill(p, 200, 16);
    size_t m = maxfree(a);
    char *held[64];
    size_t n = exhaust(a, m, held, 64); /* p cannot grow in place, nor move */
    assert_true(n >= 1);
    fill(held[0], 1000, 17);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_realloc(a, p, m), ENOMEM);
    FAILS_NULL(mpart_realloc(a, p, block_bytes(a, p) + maxfree(a) + 1), ENOMEM);
    FAILS_NULL(mpart_realloc(a, NULL, m), ENOMEM);
    same_info(before, info(a));
    valid(a);
    expect(p, 200, 16);
    expect(held[0], 1000, 17);
    free_ok(a, p); /* still freeable */
    free_all(a, held, n);
    same_blocks(fresh, info(a));
}

/* A block of the first region grows to the size only the added one holds. */
static void test_realloc_across_regions(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, 4096);
    size_t m1 = maxfree(a);
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    struct partinfo fresh = info(a);
    size_t m2 = maxfree(a);
    assert_true(m2 > m1);
    char *p = alloc_ok(a, m1 - 100);
    fill(p, m1 - 100, 31);
    char *r = realloc_ok(a, p, m2);
    assert_true(r >= buf_b && r + m2 <= buf_b + sizeof buf_b);
    expect(r, m1 - 100, 31);
    free_ok(a, r);
    same_blocks(fresh, info(a));
}

static void test_realloc_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 32);
    struct partinfo before = info(a);
    gjbmem_posix_set_isr(1);
    FAILS_NULL(mpart_realloc(a, p, 200), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(mpart_realloc(a, p, 50), ERROR_KERNEL_IN_ISR);
    FAILS_NULL(mpart_realloc(a, NULL, 50), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    expect(p, 100, 32);
    free_ok(a, p);
}

/* Random allocations, aligned allocations, reallocs and frees over two
 * regions; every live block keeps its contents and alignment, every refused
 * call leaves the statistics alone, and the heap validates throughout. A
 * BUDDY block is the power of two for its request (a moved memalign'd one
 * at least its alignment) and stays in place when it shrinks. */
struct slot {
    char *p;
    size_t size, align;
    unsigned tag;
};

struct random_run {
    char *mem1, *mem2;
    size_t size1, size2;
    size_t most;       /* largest request */
    unsigned aligns;   /* alignments 1 << (0 .. aligns - 1) */
    unsigned steps;
};

static uint64_t rng_state = 12345;

static unsigned long rng(void)
{
    rng_state = rng_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (unsigned long)(rng_state >> 33); /* 31 bits */
}

static void random_realloc(mpart_id a, struct slot *s, size_t size, unsigned tag)
{
    struct partinfo before = info(a);
    size_t old_block = block_bytes(a, s->p);
    errno = 0;
    char *r = mpart_realloc(a, s->p, size);
    if (!r) {
        assert_int_equal(errno, ENOMEM);
        same_info(before, info(a));
        expect(s->p, s->size, s->tag);
        return;
    }
    assert_true(aligned_to(r, s->align)); /* alignment kept, always */
    if (policy_of(a) == BUDDY) {
        size_t b = block_bytes(a, r);
        if (r == s->p || s->align <= 16)
            assert_int_equal(b, block_for(size + GUARD, 1));
        else /* moved memalign'd block: a block of at least its alignment */
            assert_true(b >= block_for(size + GUARD, s->align) && (b & (b - 1)) == 0 &&
                        aligned_to(r, b));
        if (block_for(size + GUARD, 1) <= old_block)
            assert_ptr_equal(r, s->p); /* shrinks stay in place */
    }
    expect(r, s->size < size ? s->size : size, s->tag);
    *s = (struct slot){r, size, s->align, tag};
    fill(r, size, tag);
}

static void random_step(mpart_id a, const struct random_run *run, struct slot *s, unsigned tag)
{
    struct partinfo before = info(a);
    size_t size = 1 + rng() % run->most;
    errno = 0;
    if (!s->p) {
        size_t align = (rng() % 3 == 0) ? (size_t)1 << (rng() % run->aligns) : 0;
        char *p = align ? mpart_memalign(a, align, size) : mpart_alloc(a, size);
        if (!p) {
            assert_int_equal(errno, ENOMEM);
            same_info(before, info(a));
            return;
        }
        holds(a, p, size, align ? align : 1);
        assert_true(aligned_to(p, align ? align : 1));
        *s = (struct slot){p, size, align ? align : 1, tag};
        fill(p, size, tag);
    } else if (rng() % 3 == 0) {
        expect(s->p, s->size, s->tag);
        free_ok(a, s->p);
        s->p = NULL;
    } else {
        expect(s->p, s->size, s->tag);
        random_realloc(a, s, size, tag);
    }
}

static void test_realloc_random_contents(void **state)
{
    (void)state;
    /* FIRST_FIT as ever; BUDDY with larger blocks and alignments up to
     * 16 KiB, over memory that holds them. */
    const struct random_run runs[2] = {
        {big, buf_c, 16384, sizeof buf_c, 2500, 9, 3000},
        {wide, buf_c + 3, sizeof wide, sizeof buf_c - 3, 6000, 15, 4000},
    };
    const struct random_run *run = &runs[policy == BUDDY];
    enum { SLOTS = 12 };
    struct slot slots[SLOTS];
    memset(slots, 0, sizeof slots);
    mpart_id a = make(run->mem1, run->size1);
    OK(mpart_addmem(a, run->mem2, run->size2));
    struct partinfo fresh = info(a);
    for (unsigned i = 0; i < run->steps; i++) {
        random_step(a, run, &slots[rng() % SLOTS], i);
        valid(a);
        if (i % 64 == 0)
            for (int k = 0; k < SLOTS; k++)
                if (slots[k].p)
                    expect(slots[k].p, slots[k].size, slots[k].tag);
    }
    for (int k = 0; k < SLOTS; k++)
        if (slots[k].p) {
            expect(slots[k].p, slots[k].size, slots[k].tag);
            free_ok(a, slots[k].p);
        }
    struct partinfo pi = info(a);
    same_blocks(fresh, pi);
    if (policy == FF)
        assert_int_equal(pi.segment, 2);
    assert_int_equal(pi.used + pi.free, run->size1 + run->size2);
    assert_true(pi.maxused > fresh.used);
}

/* === mpart_free ============================================================== */

static void test_free_null_and_bad_mid(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id b = make(buf_b, sizeof buf_b);
    mpart_id c = make_policy(buf_c, sizeof buf_c, other_policy());
    char *p = alloc_ok(a, 100), *q = alloc_ok(c, 100);
    struct partinfo ia = info(a), ib = info(b), ic = info(c);
    FAILS(mpart_free(a, NULL), EINVAL);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS(mpart_free(bad_ids[i], p), ERROR_KERNEL_HANDLE_NULL);
    /* A block of another partition, of either policy, both ways. */
    FAILS(mpart_free(b, p), ERROR_REGION_NULL);
    FAILS(mpart_free(c, p), ERROR_REGION_NULL);
    FAILS(mpart_free(a, q), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(c, p, 10), EINVAL);
    FAILS_NULL(mpart_realloc(a, q, 10), EINVAL);
    same_info(ia, info(a));
    same_info(ib, info(b));
    same_info(ic, info(c));
    assert_true(mpart_usable_size(a, p) >= 100); /* still allocated */
    free_ok(a, p);
    free_ok(c, q);
}

static void test_free_foreign_pointers(void **state)
{
    (void)state;
    _Alignas(64) char stack[64];
    struct hostile h;
    hostile_setup(&h, stack);
    for (size_t i = 0; i < h.n; i++) {
        FAILS(mpart_free(h.a, h.bad[i]), ERROR_REGION_NULL);
        errno = 0;
        assert_int_equal(mpart_usable_size(h.a, h.bad[i]), 0);
        assert_int_equal(errno, ERROR_REGION_NULL);
    }
    hostile_done(&h);
}

static void test_double_free(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo fresh = info(a);
    char *p = alloc_ok(a, 100), *g = alloc_ok(a, 100);
    fill(g, 100, 37);
    free_ok(a, p);
    struct partinfo before = info(a);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    FAILS_NULL(mpart_realloc(a, p, 16), EINVAL);
    same_info(before, info(a));
    valid(a);
    expect(g, 100, 37);
    /* The last block merges with the free rest when freed. */
    free_ok(a, g);
    before = info(a);
    same_blocks(fresh, before);
    FAILS(mpart_free(a, g), ERROR_REGION_NULL);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    same_info(before, info(a));
    valid(a);
}

static void test_free_in_added_region(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, 4096);
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    struct partinfo fresh = info(a);
    size_t m = maxfree(a);
    char *p = alloc_ok(a, m); /* only the added region holds it */
    assert_true(p >= buf_b && p + m <= buf_b + sizeof buf_b);
    char *q = alloc_ok(a, 100);
    FAILS(mpart_free(a, p + 16), ERROR_REGION_NULL);
    free_ok(a, p);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    free_ok(a, q);
    same_blocks(fresh, info(a));
}

static void test_free_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    struct partinfo before = info(a);
    gjbmem_posix_set_isr(1);
    FAILS(mpart_free(a, p), ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    same_info(before, info(a));
    free_ok(a, p);
}

/* === mpart_findmaxfree ======================================================= */

static void test_findmaxfree_bad_args(void **state)
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
    valid(a);
}

/* Always the largest request mpart_alloc satisfies: alloc(m) succeeds,
 * alloc(m + 1) fails (ENOMEM, or ERROR_REGION_SIZE when even the empty
 * partition could not hold it), whatever is allocated. */
static void test_findmaxfree_is_largest_request(void **state)
{
    (void)state;
    mpart_id a = make(big, sizeof big);
    size_t fresh = maxfree(a);
    FAILS_NULL(mpart_alloc(a, fresh + 1), ERROR_REGION_SIZE);
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
        free_ok(a, q);
        assert_int_equal(maxfree(a), m);
    }
    while (n > 0)
        free_ok(a, held[--n]);
    assert_int_equal(maxfree(a), fresh);
}

/* Taking the largest free block until there is none. */
static void test_findmaxfree_none_left(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo fresh = info(a);
    size_t m = maxfree(a);
    char *held[512];
    size_t n = take_all(a, held, 512);
    assert_int_equal(maxfree(a), 0);
    while (n > 0)
        free_ok(a, held[--n]);
    assert_int_equal(maxfree(a), m);
    same_blocks(fresh, info(a));
}

/* === mpart_getinfo =========================================================== */

static void test_getinfo_bad_args(void **state)
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
}

static void test_getinfo_fresh(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo pi = info(a);
    assert_true(pi.segment >= 1);
    assert_int_equal(pi.used + pi.free, sizeof buf_a);
    assert_true(pi.used > 0); /* the partition's own metadata */
    assert_int_equal(pi.maxused, pi.used);
    assert_true(maxfree(a) + GUARD <= pi.free);
}

/* Blocks, free bytes and the high-water mark, exactly (a block's bytes and
 * its header), and the extension's statistics agree with getinfo. */
static void test_getinfo_and_getstats(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t hb = hdr_bytes(a);
    struct partinfo p0 = info(a);
    char *p = alloc_ok(a, 100); /* BUDDY: a block of 128 bytes */
    struct partinfo p1 = info(a);
    size_t pb = block_bytes(a, p) + hb;
    assert_int_equal(p1.used + p1.free, sizeof buf_a);
    assert_int_equal(p1.maxused, p1.used);
    assert_int_equal(p0.free - p1.free, pb);
    assert_int_equal(p1.used - p0.used, pb);
    char *q = alloc_ok(a, 1500); /* BUDDY: 2048 */
    struct partinfo p2 = info(a);
    size_t qb = block_bytes(a, q) + hb;
    assert_int_equal(p1.free - p2.free, qb);
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
    assert_int_equal(p4.maxused, p2.used); /* the high-water mark stays */
    assert_int_equal(p4.maxused, p0.used + pb + qb);
    free_ok(a, alloc_ok(a, 16));
    assert_int_equal(info(a).maxused, p2.used);
    struct gjbmem_heap_stats st = stats(a);
    assert_int_equal(st.segments, p4.segment);
    assert_int_equal(st.free, p4.free);
    assert_int_equal(st.used, p4.used);
    assert_int_equal(st.maxused, p4.maxused);
    assert_int_equal(st.total, sizeof buf_a);
    assert_int_equal(st.largest_free, maxfree(a) + GUARD);
    assert_int_equal(st.peak_request, 1500 + GUARD);
    assert_int_equal(st.regions, 1);
    assert_int_equal(st.alloc_blocks, 0);
    assert_int_equal(st.free_blocks, p4.segment);
}

static void test_getinfo_and_findmaxfree_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    size_t m = maxfree(a);
    /* The table lists no interrupt-context error for these two. */
    gjbmem_posix_set_isr(1);
    struct partinfo pi;
    errno = SENTINEL;
    int rc = mpart_getinfo(a, &pi);
    int m2 = mpart_findmaxfree(a);
    int e = errno;
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, 0);
    assert_int_equal(m2, m);
    assert_int_equal(e, SENTINEL);
    same_info(before, pi);

    /* In interrupt context the partition's lock is tried, not waited for:
     * ids never issued, one of a deleted partition, and a stale one whose
     * slot holds a newer partition are refused the same way. */
    mpart_id gone = make(buf_b, sizeof buf_b);
    drop(gone);
    mpart_id stale = make(buf_b, sizeof buf_b);
    drop(stale);
    mpart_id now = make(buf_c, sizeof buf_c); /* takes the freed slot */
    mpart_id refused[NBAD + 2];
    size_t nref = 0;
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            refused[nref++] = bad_ids[i];
    refused[nref++] = gone;
    refused[nref++] = stale;
    for (size_t i = 0; i < nref; i++) {
        assert_false(is_live(refused[i]));
        gjbmem_posix_set_isr(1);
        errno = SENTINEL;
        int r1 = mpart_getinfo(refused[i], &pi);
        int e1 = errno;
        errno = SENTINEL;
        int r2 = mpart_findmaxfree(refused[i]);
        int e2 = errno;
        gjbmem_posix_set_isr(0);
        assert_int_equal(r1, -1);
        assert_int_equal(e1, ERROR_KERNEL_HANDLE_NULL);
        assert_int_equal(r2, -1);
        assert_int_equal(e2, ERROR_KERNEL_HANDLE_NULL);
    }
    struct partinfo fresh = info(now);
    gjbmem_posix_set_isr(1);
    rc = mpart_getinfo(now, &pi);
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, 0);
    same_info(fresh, pi);
    /* and once its slot is empty */
    drop(now);
    gjbmem_posix_set_isr(1);
    errno = SENTINEL;
    rc = mpart_getinfo(now, &pi);
    e = errno;
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, -1);
    assert_int_equal(e, ERROR_KERNEL_HANDLE_NULL);
    same_info(before, info(a));
}

/* === mpart_blocks ============================================================ */

/* The count, a partial copy and the errors (the layout of the blocks is
 * each policy's: test_mpart_firstfit.c, test_mpart_buddy.c). */
static void test_blocks_count_and_errors(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100), *q = alloc_ok(a, 300), *r = alloc_ok(a, 50);
    free_ok(a, q);
    struct partinfo pi = info(a);
    size_t n = 12345;
    OK(mpart_blocks(a, NULL, 0, &n)); /* only the count */
    assert_int_equal(n, pi.segment);

    struct mpart_block out[64], untouched;
    assert_true(n < 64);
    memset(out, 0x5a, sizeof out);
    memset(&untouched, 0x5a, sizeof untouched);
    size_t m = 0;
    OK(mpart_blocks(a, out, 64, &m));
    assert_int_equal(m, n);
    size_t used = 0, free_bytes = 0;
    for (size_t i = 0; i < m; i++) {
        if (out[i].used)
            used++;
        else
            free_bytes += out[i].size - out[i].header;
    }
    assert_int_equal(used, 2);
    assert_int_equal(free_bytes, pi.free);
    for (size_t i = m; i < 64; i++)
        assert_memory_equal(&out[i], &untouched, sizeof untouched);

    /* Fewer places than blocks: those filled, the count still whole. */
    struct mpart_block all[2];
    memcpy(all, out, sizeof all);
    memset(out, 0x5a, sizeof out);
    OK(mpart_blocks(a, out, 2, &m));
    assert_int_equal(m, n);
    assert_memory_equal(out, all, 2 * sizeof out[0]);
    assert_memory_equal(&out[2], &untouched, sizeof untouched);

    /* Errors. */
    memset(out, 0x5a, sizeof out);
    m = 777;
    FAILS(mpart_blocks(a, out, 8, NULL), EINVAL);
    FAILS(mpart_blocks(a, NULL, 1, &m), EINVAL);
    FAILS(mpart_blocks(a, NULL, 0, NULL), EINVAL);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS(mpart_blocks(bad_ids[i], out, 8, &m), ERROR_KERNEL_HANDLE_NULL);
    gjbmem_posix_set_isr(1);
    errno = 0;
    int rc = mpart_blocks(a, out, 8, &m);
    int e = errno;
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, -1);
    assert_int_equal(e, ERROR_KERNEL_IN_ISR);
    assert_int_equal(m, 777);
    assert_memory_equal(&out[0], &untouched, sizeof untouched);
    same_info(pi, info(a));
    free_ok(a, p);
    free_ok(a, r);
    drop(a);
}

/* === tests run once =========================================================== */

/* mpart_create_ex's policy argument; mpart_create makes FIRST_FIT. */
static void test_create_ex_policy(void **state)
{
    (void)state;
    const int bad_policy[] = {2, -1, 3, 255, INT_MAX, INT_MIN};
    mpart_id mid = 0x5555;
    for (size_t i = 0; i < sizeof bad_policy / sizeof bad_policy[0]; i++)
        FAILS(mpart_create_ex(buf_a, sizeof buf_a, bad_policy[i], &mid), EINVAL);
    assert_int_equal(mid, 0x5555);
    /* The refused calls took nothing: both policies accept the memory. */
    mpart_id b = make_policy(buf_a, sizeof buf_a, BUDDY);
    struct gjbmem_heap_stats st = stats(b);
    assert_int_equal(st.header_bytes, 0);
    assert_int_equal(st.min_block, BU);
    drop(b);
    mpart_id f = 0;
    OK(mpart_create_ex(buf_a, sizeof buf_a, FF, &f));
    track(f, FF);
    assert_true(stats(f).header_bytes > 0);
    drop(f);
    OK(mpart_create(buf_a, sizeof buf_a, &mid)); /* mpart_create is first fit */
    track(mid, FF);
    assert_true(stats(mid).header_bytes > 0);
    drop(mid);
}

/* cmocka state: the policy the test runs under. */
static int with_policy(void **state)
{
    policy = *(const int *)*state;
    return 0;
}

static const int policy_ff = FF, policy_buddy = BUDDY;

#define BOTH(f)                                                                                   \
    cmocka_unit_test_prestate_setup_teardown(f##_FIRST_FIT, with_policy, teardown,               \
                                             (void *)&policy_ff),                                 \
        cmocka_unit_test_prestate_setup_teardown(f##_BUDDY, with_policy, teardown,               \
                                                 (void *)&policy_buddy)

/* Each test under a name that carries its policy. */
#define POLICY_NAMES(f)                                                                           \
    static void f##_FIRST_FIT(void **state)                                                       \
    {                                                                                             \
        f(state);                                                                                 \
    }                                                                                             \
    static void f##_BUDDY(void **state)                                                           \
    {                                                                                             \
        f(state);                                                                                 \
    }

#define SUITE(X)                                                                                  \
    X(test_module_init_bounds)                                                                    \
    X(test_module_init_limits_creates)                                                            \
    X(test_module_init_below_live)                                                                \
    X(test_partition_table_full)                                                                  \
    X(test_create_bad_args)                                                                       \
    X(test_create_smallest)                                                                       \
    X(test_create_any_alignment)                                                                  \
    X(test_create_overlap)                                                                        \
    X(test_create_in_isr)                                                                         \
    X(test_create_distinct_ids)                                                                   \
    X(test_delete_never_issued_ids)                                                               \
    X(test_bad_ids_everywhere)                                                                    \
    X(test_delete_stale_and_reused)                                                               \
    X(test_next_id_refused_before_create)                                                         \
    X(test_delete_busy)                                                                           \
    X(test_delete_in_isr)                                                                         \
    X(test_addmem_bad_args)                                                                       \
    X(test_addmem_smallest)                                                                       \
    X(test_addmem_overlap)                                                                        \
    X(test_addmem_region_table_full)                                                              \
    X(test_addmem_in_isr)                                                                         \
    X(test_addmem_statistics)                                                                     \
    X(test_alloc_bad_args)                                                                        \
    X(test_alloc_enomem)                                                                          \
    X(test_alloc_in_isr)                                                                          \
    X(test_memalign_bad_args)                                                                     \
    X(test_memalign_every_power_of_two)                                                           \
    X(test_memalign_impossible_alignment)                                                         \
    X(test_memalign_in_isr)                                                                       \
    X(test_realloc_null_is_alloc)                                                                 \
    X(test_realloc_size_zero_keeps_block)                                                         \
    X(test_realloc_bad_mid)                                                                       \
    X(test_realloc_foreign_pointers)                                                              \
    X(test_realloc_too_big)                                                                       \
    X(test_realloc_enomem_keeps_block)                                                            \
    X(test_realloc_across_regions)                                                                \
    X(test_realloc_in_isr)                                                                        \
    X(test_realloc_random_contents)                                                               \
    X(test_free_null_and_bad_mid)                                                                 \
    X(test_free_foreign_pointers)                                                                 \
    X(test_double_free)                                                                           \
    X(test_free_in_added_region)                                                                  \
    X(test_free_in_isr)                                                                           \
    X(test_findmaxfree_bad_args)                                                                  \
    X(test_findmaxfree_is_largest_request)                                                        \
    X(test_findmaxfree_none_left)                                                                 \
    X(test_getinfo_bad_args)                                                                      \
    X(test_getinfo_fresh)                                                                         \
    X(test_getinfo_and_getstats)                                                                  \
    X(test_getinfo_and_findmaxfree_in_isr)                                                        \
    X(test_blocks_count_and_errors)

SUITE(POLICY_NAMES)

#define ENTRY(f) BOTH(f),

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_create_ex_policy, teardown),
        SUITE(ENTRY)
    };
    return cmocka_run_group_tests_name("mpart", tests, NULL, NULL);
}
