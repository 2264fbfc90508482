/*
 * test_mpart_api.c - the mpart_* interface against SPEC section 3: every row
 * and every error of the table, errno checked after each call (and unchanged
 * after each success), misuse of every kind (NULL, 0, near-overflow sizes,
 * foreign, interior and stale pointers, stale and never-issued ids,
 * overlapping memory, table limits, interrupt context), realloc semantics,
 * findmaxfree exactness and the partinfo statistics. Every test creates and
 * deletes its own partitions; the teardown puts the module back as it was.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/posix.h>

#include "errno_asserts.h"
#define GRAIN ((uintptr_t)_Alignof(max_align_t))

/* --- memory handed to partitions (distinct, so partitions never overlap) */

static _Alignas(4096) char buf_a[8192];
static _Alignas(4096) char buf_b[8192];
static _Alignas(4096) char buf_c[8192];
static _Alignas(4096) char big[16384];
static _Alignas(8192) char page_pair[8192];
static _Alignas(16) char tiny[MPART_MAX_PARTS + 1][1024];
static _Alignas(16) char chunks[GJBMEM_MAX_REGIONS + 1][1024 + 32 * GJBMEM_MAX_REGIONS];
static _Alignas(16) char not_a_partition[256];

/* Ids that were never issued (checked against the live ones before use). */
static const mpart_id bad_ids[] = {
    0, 1, 2, 0xff, 0x100, 0x12345, 0xdeadbeef, (mpart_id)LONG_MAX, ULONG_MAX - 1, ULONG_MAX,
};
#define NBAD (sizeof bad_ids / sizeof bad_ids[0])

/* --- partitions the current test owns ------------------------------------ */

static mpart_id live[MPART_MAX_PARTS + 1];
static int nlive;

static void valid(mpart_id mid)
{
    assert_int_equal(mpart_validate(mid), 0);
}

static mpart_id make(void *addr, size_t size)
{
    mpart_id mid = 0;
    OK(mpart_create(addr, size, &mid));
    assert_true(mid != 0);
    for (int i = 0; i < nlive; i++)
        assert_true(live[i] != mid);
    assert_true(nlive < (int)(sizeof live / sizeof live[0]));
    live[nlive++] = mid;
    valid(mid);
    return mid;
}

static void drop(mpart_id mid)
{
    OK(mpart_delete(mid));
    for (int i = 0; i < nlive; i++)
        if (live[i] == mid)
            live[i] = live[--nlive];
}

/* After a failed test: offers every granule of the test buffers to
 * mpart_free (the library refuses whatever is not a live block of mid), so
 * that the partition can be deleted and the next test starts clean. */
static void free_everything(mpart_id mid)
{
    const struct {
        char *base;
        size_t size;
    } areas[] = {
        {buf_a, sizeof buf_a},         {buf_b, sizeof buf_b},
        {buf_c, sizeof buf_c},         {big, sizeof big},
        {page_pair, sizeof page_pair}, {&tiny[0][0], sizeof tiny},
        {&chunks[0][0], sizeof chunks},
    };
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        for (size_t off = 0; off < areas[i].size; off += GRAIN)
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

static bool is_live(mpart_id id)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == id)
            return true;
    return false;
}

/* --- successful calls ------------------------------------------------------ */

static char *alloc_ok(mpart_id mid, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_alloc(mid, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal((uintptr_t)p % GRAIN, 0);
    assert_true(mpart_usable_size(mid, p) >= n);
    valid(mid);
    return p;
}

static char *memalign_ok(mpart_id mid, size_t align, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_memalign(mid, align, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal((uintptr_t)p % align, 0);
    assert_int_equal((uintptr_t)p % GRAIN, 0);
    assert_true(mpart_usable_size(mid, p) >= n);
    valid(mid);
    return p;
}

static char *realloc_ok(mpart_id mid, char *p, size_t n)
{
    errno = SENTINEL;
    char *r = mpart_realloc(mid, p, n);
    assert_non_null(r);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal((uintptr_t)r % GRAIN, 0);
    assert_true(mpart_usable_size(mid, r) >= n);
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

static void same_info(struct partinfo a, struct partinfo b)
{
    assert_int_equal(a.segment, b.segment);
    assert_int_equal(a.used, b.used);
    assert_int_equal(a.maxused, b.maxused);
    assert_int_equal(a.free, b.free);
}

static int maxfree(mpart_id mid)
{
    errno = SENTINEL;
    int m = mpart_findmaxfree(mid);
    assert_true(m >= 0);
    assert_int_equal(errno, SENTINEL);
    size_t s = 0;
    OK(mpart_findmaxfree_size(mid, &s));
    assert_int_equal(s > INT_MAX ? INT_MAX : s, (size_t)m);
    return m;
}

static size_t hdr_bytes(mpart_id mid)
{
    struct gjbmem_heap_stats st;
    OK(mpart_getstats(mid, &st));
    return st.header_bytes;
}

/* The payload address of the block right after allocated block p. */
static char *next_block(mpart_id mid, char *p)
{
    return p + mpart_usable_size(mid, p) + hdr_bytes(mid);
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

/* Allocates the block right after p (which must have a free right neighbour),
 * so that p cannot grow to the right, and gives back every other block taken
 * on the way. */
static char *pin_right(mpart_id mid, char *p)
{
    enum { MAX_TAKEN = 2048 };
    static char *taken[MAX_TAKEN];
    char *want = next_block(mid, p), *pin = NULL;
    size_t n = 0;
    for (;;) {
        errno = 0;
        char *q = mpart_alloc(mid, 1);
        if (!q) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        if (q == want)
            pin = q;
        else {
            assert_true(n < MAX_TAKEN);
            taken[n++] = q;
        }
    }
    for (size_t i = 0; i < n; i++)
        OK(mpart_free(mid, taken[i]));
    valid(mid);
    assert_non_null(pin);
    return pin;
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
    FAILS(mpart_create(tiny[2], sizeof tiny[2], &mid), ENOSPC);
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
    FAILS(mpart_create(tiny[3], sizeof tiny[3], &mid), ENOSPC);
    FAILS(mpart_create(tiny[4], sizeof tiny[4], &mid), ENOSPC);
    assert_int_equal(mid, 0x5555);
    /* Deleting one makes room; the refused memory was not taken. */
    drop(a);
    make(tiny[3], sizeof tiny[3]);
    FAILS(mpart_create(tiny[4], sizeof tiny[4], &mid), ENOSPC);
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
    FAILS(mpart_create(tiny[4], sizeof tiny[4], &mid), ENOSPC);
    for (int i = 0; i < 3; i++)
        drop(p[i]);
    drop(d);
    OK(mpart_module_init(1));
    make(tiny[0], sizeof tiny[0]);
    FAILS(mpart_create(tiny[1], sizeof tiny[1], &mid), ENOSPC);
}

static void test_partition_table_full(void **state)
{
    (void)state;
    mpart_id ids[MPART_MAX_PARTS];
    for (int i = 0; i < MPART_MAX_PARTS; i++)
        ids[i] = make(tiny[i], sizeof tiny[i]);
    mpart_id mid = 0x5555;
    FAILS(mpart_create(tiny[MPART_MAX_PARTS], sizeof tiny[0], &mid), ENOSPC);
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
    FAILS(mpart_create(NULL, sizeof buf_a, &mid), EINVAL);
    FAILS(mpart_create(buf_a, sizeof buf_a, NULL), EINVAL);
    FAILS(mpart_create(buf_a, 0, &mid), EINVAL);
    FAILS(mpart_create(NULL, 0, NULL), EINVAL);
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 8, SIZE_MAX - 32,
                           SIZE_MAX - 4096, SIZE_MAX - (uintptr_t)buf_a + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++)
        FAILS(mpart_create(buf_a, huge[i], &mid), EINVAL);
    const size_t small[] = {1, 7, 8, 16, 32, 64};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        FAILS(mpart_create(buf_a, small[i], &mid), EINVAL);
    assert_int_equal(mid, 0x5555);
    /* None of the refused calls took the memory. */
    mpart_id a = make(buf_a, sizeof buf_a);
    drop(a);
}

static void test_create_smallest(void **state)
{
    (void)state;
    mpart_id mid = 0;
    size_t size = 1;
    for (; size <= 4096; size++) {
        errno = 0;
        if (mpart_create(buf_a, size, &mid) == 0)
            break;
        assert_int_equal(errno, EINVAL);
    }
    assert_true(size <= 4096);
    live[nlive++] = mid;
    valid(mid);
    /* The smallest partition holds metadata and one minimum block. */
    struct partinfo pi = info(mid);
    assert_int_equal(pi.segment, 1);
    assert_int_equal(pi.used + pi.free, size);
    int m = maxfree(mid);
    assert_true(m >= 1);
    char *p = alloc_ok(mid, (size_t)m);
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
        struct partinfo pi = info(mid);
        assert_int_equal(pi.used + pi.free, 4096);
        char *p = alloc_ok(mid, 1000);
        assert_true(p >= base && p + 1000 <= base + 4096);
        char *q = memalign_ok(mid, 64, 500);
        assert_true(q >= base && q + 500 <= base + 4096);
        free_ok(mid, p);
        free_ok(mid, q);
        assert_int_equal(info(mid).segment, 1);
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
    FAILS(mpart_create(big + 4096, 4096, &mid), EINVAL);       /* the same memory */
    FAILS(mpart_create(big + 4096 + 512, 1024, &mid), EINVAL); /* inside */
    FAILS(mpart_create(big, sizeof big, &mid), EINVAL);         /* containing */
    FAILS(mpart_create(big, 4097, &mid), EINVAL);               /* last byte overlaps */
    FAILS(mpart_create(big + 8191, 4096, &mid), EINVAL);        /* first byte overlaps */
    FAILS(mpart_create(p, 512, &mid), EINVAL);                  /* a block of it */
    assert_int_equal(mid, 0x5555);
    same_info(before, info(a));
    valid(a);
    expect(p, 1000, 1);

    /* Exactly touching edges is accepted on both sides. */
    mpart_id left = make(big, 4096);
    mpart_id right = make(big + 8192, 4096);
    char *l = alloc_ok(left, 3000), *r = alloc_ok(right, 3000);
    assert_true(l >= big && l + 3000 <= big + 4096);
    assert_true(r >= big + 8192 && r + 3000 <= big + 12288);
    fill(l, 3000, 2);
    fill(r, 3000, 3);
    expect(p, 1000, 1);

    /* Memory added to a partition is just as taken. */
    OK(mpart_addmem(a, buf_b, 4096));
    FAILS(mpart_create(buf_b + 100, 1024, &mid), EINVAL);
    FAILS(mpart_create(buf_b + 4095, 1024, &mid), EINVAL);
    mpart_id after = make(buf_b + 4096, 4096);

    expect(l, 3000, 2);
    expect(r, 3000, 3);
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
    FAILS(mpart_create(buf_a, sizeof buf_a, &mid), ERROR_KERNEL_IN_ISR);
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
    mpart_id c = make(buf_c, sizeof buf_c);
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
    FAILS(mpart_addmem(id, buf_c, 4096), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_findmaxfree(id), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_findmaxfree_size(id, &s), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_getinfo(id, &pi), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_validate(id), ERROR_KERNEL_HANDLE_NULL);
    assert_int_equal(s, 12345);
    assert_memory_equal(&pi, &untouched, sizeof pi);
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
            expect_refused_id(bad_ids[i], p);
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
    expect_refused_id(old, buf_a + 64);

    /* The same memory (and, the table being empty, the same slot) again. */
    mpart_id b = make(buf_a, sizeof buf_a);
    assert_true(b != old);
    char *p = alloc_ok(b, 200);
    fill(p, 200, 5);
    struct partinfo before = info(b);
    expect_refused_id(old, p);
    same_info(before, info(b));
    expect(p, 200, 5);
    free_ok(b, p);
    drop(b);

    mpart_id c = make(buf_b, sizeof buf_b);
    assert_true(c != old && c != b);
    expect_refused_id(old, buf_b + 64);
    expect_refused_id(b, buf_b + 64);
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
    mpart_id next = old + ((mpart_id)1 << 8); /* same slot, next generation */
    assert_false(is_live(next));
    expect_refused_id(next, buf_a + 64);

    mpart_id b = make(buf_a, sizeof buf_a); /* the table is empty: the same slot */
    assert_int_equal(b, next);
    char *p = alloc_ok(b, 100);
    expect_refused_id(old, p);
    free_ok(b, p);
    valid(b);
    drop(b);
    expect_refused_id(next, buf_a + 64);
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

    /* A live block in an added region counts too. */
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    char *r = alloc_ok(a, sizeof buf_a - 256); /* only the added region holds it */
    assert_true(r >= buf_b && r < buf_b + sizeof buf_b);
    FAILS(mpart_delete(a), EBUSY);
    free_ok(a, r);
    drop(a);
    expect_refused_id(a, r);
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
    char *first = alloc_ok(a, (size_t)maxfree(a)); /* region 1 is full now */
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
    int m = maxfree(a);
    assert_true(m >= 1);
    char *p = alloc_ok(a, (size_t)m);
    assert_true(p >= buf_b && p + m <= buf_b + size);
    FAILS_NULL(mpart_alloc(a, 1), ENOMEM);
    free_ok(a, p);
    free_ok(a, first);
}

static void test_addmem_overlap(void **state)
{
    (void)state;
    mpart_id a = make(big + 4096, 4096);
    mpart_id b = make(buf_c, 4096);
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
    assert_int_equal(pi.segment, 3);
    assert_int_equal(pi.used + pi.free, 3 * 4096);
    assert_true(pi.maxused >= pi.used);
    /* The added regions are now refused too, to a and to b. */
    FAILS(mpart_addmem(a, big + 4095, 2), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(a, big + 12287, 1000), ERROR_KERNEL_MEMORY);
    FAILS(mpart_addmem(b, big + 100, 1000), ERROR_KERNEL_MEMORY);
    mpart_id mid = 0x5555;
    FAILS(mpart_create(big + 9000, 1000, &mid), EINVAL);
    OK(mpart_addmem(a, big + 12288, 4096)); /* touching the last one */

    /* Blocks come from every region and never overlap. */
    char *blocks[64];
    int n = 0;
    for (;;) {
        errno = 0;
        char *p = mpart_alloc(a, 900);
        if (!p) {
            assert_int_equal(errno, ENOMEM);
            break;
        }
        assert_true(p >= big && p + 900 <= big + sizeof big);
        assert_true(n < 64);
        fill(p, 900, (unsigned)n);
        blocks[n++] = p;
    }
    int per_region[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        expect(blocks[i], 900, (unsigned)i);
        per_region[(blocks[i] - big) / 4096]++;
    }
    for (int i = 0; i < 4; i++)
        assert_true(per_region[i] >= 3);
    valid(a);
    for (int i = 0; i < n; i++)
        OK(mpart_free(a, blocks[i]));
    valid(a);
    assert_int_equal(info(a).segment, 4);
}

static void test_addmem_region_table_full(void **state)
{
    (void)state;
    mpart_id a = make(chunks[0], sizeof chunks[0]);
    for (int i = 1; i < GJBMEM_MAX_REGIONS; i++)
        OK(mpart_addmem(a, chunks[i], sizeof chunks[i]));
    valid(a);
    struct partinfo before = info(a);
    assert_int_equal(before.segment, GJBMEM_MAX_REGIONS);
    FAILS(mpart_addmem(a, chunks[GJBMEM_MAX_REGIONS], sizeof chunks[0]), ENOSPC);
    same_info(before, info(a));
    valid(a);
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
    int m0 = maxfree(a);
    OK(mpart_addmem(a, buf_b, 4096));
    valid(a);
    struct partinfo p1 = info(a);
    assert_int_equal(p1.segment, 2);
    assert_int_equal(p1.used + p1.free, sizeof buf_a + 4096);
    assert_true(p1.used > p0.used);     /* the new region's own metadata */
    assert_true(p1.maxused >= p1.used); /* the high-water mark follows */
    assert_int_equal(maxfree(a), m0);   /* the first region is still the largest */
    /* Once the first region is full, blocks come from the second. */
    char *p = alloc_ok(a, (size_t)m0);
    assert_true(p >= buf_a && p < buf_a + sizeof buf_a);
    char *q = alloc_ok(a, 1000);
    assert_true(q >= buf_b && q + 1000 <= buf_b + 4096);
    free_ok(a, p);
    free_ok(a, q);
    struct partinfo p2 = info(a);
    assert_int_equal(p2.segment, 2);
    assert_int_equal(p2.used, p1.used);
    assert_int_equal(p2.free, p1.free);
}

/* === mpart_alloc ============================================================= */

static const size_t too_big[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 7, SIZE_MAX - 8, SIZE_MAX - 15, SIZE_MAX - 16,
    SIZE_MAX - 24, SIZE_MAX - 31, SIZE_MAX - 32, SIZE_MAX - 64, SIZE_MAX / 2,
    SIZE_MAX / 2 + 1, (size_t)INT_MAX + 1, (size_t)1 << 20, sizeof buf_a + 1, sizeof buf_a,
};
#define NTOO_BIG (sizeof too_big / sizeof too_big[0])

static void test_alloc_bad_args(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_alloc(a, 0), EINVAL);
    for (size_t i = 0; i < NTOO_BIG; i++)
        FAILS_NULL(mpart_alloc(a, too_big[i]), ERROR_REGION_SIZE);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_alloc(bad_ids[i], 16), ERROR_KERNEL_HANDLE_NULL);
    same_info(before, info(a));
    valid(a);
}

static void test_alloc_enomem(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 4096);
    fill(p, 4096, 8);
    struct partinfo before = info(a);
    int m = maxfree(a);
    FAILS_NULL(mpart_alloc(a, (size_t)m + 1), ENOMEM);
    FAILS_NULL(mpart_alloc(a, 6000), ENOMEM); /* would fit the empty partition */
    same_info(before, info(a));
    valid(a);
    expect(p, 4096, 8);
    free_ok(a, p);
    free_ok(a, alloc_ok(a, 6000));
}

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
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS_NULL(mpart_memalign(bad_ids[i], 64, 16), ERROR_KERNEL_HANDLE_NULL);
    same_info(before, info(a));
    valid(a);

    char *p = alloc_ok(a, 4096);
    before = info(a);
    FAILS_NULL(mpart_memalign(a, 64, 5000), ENOMEM);
    FAILS_NULL(mpart_memalign(a, 4, (size_t)maxfree(a) + 1), ENOMEM);
    same_info(before, info(a));
    free_ok(a, p);
}

static void test_memalign_every_power_of_two(void **state)
{
    (void)state;
    mpart_id a = make(big, sizeof big);
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
    assert_int_equal(info(a).segment, 1);
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
    int cap = mpart_findmaxfree(a); /* what an empty partition could ever hold */
    char *p = realloc_ok(a, NULL, 100);
    assert_true(p >= buf_a && p + 100 <= buf_a + sizeof buf_a);
    assert_int_equal(info(a).segment, 2);
    fill(p, 100, 10);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_realloc(a, NULL, 0), EINVAL);
    FAILS_NULL(mpart_realloc(a, NULL, SIZE_MAX), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, NULL, SIZE_MAX - 8), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_realloc(a, NULL, (size_t)cap - 50), ENOMEM); /* it could, not now */
    same_info(before, info(a));
    expect(p, 100, 10);
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

/* Pointers that are not allocated blocks of partition a (whose block p is
 * live and whose memory starts at base). */
static size_t foreign_pointers(char **out, char *p, char *base, size_t size, char *other,
                               char *stack, char *heap)
{
    size_t n = 0;
    out[n++] = stack;
    out[n++] = heap;
    out[n++] = not_a_partition;
    out[n++] = not_a_partition + 16;
    out[n++] = other;                   /* a block of another partition */
    out[n++] = base;                    /* the partition's descriptor */
    out[n++] = base + 16;
    out[n++] = base + size - 16;        /* its bitmap, at the end */
    out[n++] = base + size;             /* one past its end */
    out[n++] = p - 16;                  /* before the block */
    out[n++] = p + 1;                   /* interior */
    out[n++] = p + 8;
    out[n++] = p + 16;
    out[n++] = p + 64;
    out[n++] = (char *)(uintptr_t)GRAIN; /* a small non-NULL address */
    return n;
}

static void test_realloc_foreign_pointers(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id b = make(buf_b, sizeof buf_b);
    char *p = alloc_ok(a, 256), *q = alloc_ok(b, 256);
    fill(p, 256, 13);
    fill(q, 256, 14);
    char *free_tail = next_block(a, p); /* the payload of the free block after p */
    _Alignas(16) char stack[64];
    char *heap = malloc(256);
    assert_non_null(heap);
    char *bad[32];
    size_t n = foreign_pointers(bad, p, buf_a, sizeof buf_a, q, stack, heap);
    bad[n++] = free_tail;
    char *r = alloc_ok(a, 64);
    free_ok(a, r);
    bad[n++] = r; /* a freed block */
    struct partinfo ia = info(a), ib = info(b);
    for (size_t i = 0; i < n; i++) {
        FAILS_NULL(mpart_realloc(a, bad[i], 64), EINVAL);
        FAILS_NULL(mpart_realloc(a, bad[i], 4000), EINVAL);
    }
    same_info(ia, info(a));
    same_info(ib, info(b));
    valid(a);
    valid(b);
    expect(p, 256, 13);
    expect(q, 256, 14);
    free(heap);
    free_ok(a, p);
    free_ok(b, q);
}

static void test_realloc_too_big(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100);
    fill(p, 100, 15);
    struct partinfo before = info(a);
    for (size_t i = 0; i < NTOO_BIG; i++)
        FAILS_NULL(mpart_realloc(a, p, too_big[i]), ERROR_REGION_SIZE);
    same_info(before, info(a));
    valid(a);
    expect(p, 100, 15);
    free_ok(a, p);
}

static void test_realloc_enomem_keeps_block(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 2000);
    char *g = alloc_ok(a, 3000); /* right after p: p cannot grow in place */
    fill(p, 2000, 16);
    fill(g, 3000, 17);
    struct partinfo before = info(a);
    FAILS_NULL(mpart_realloc(a, p, 5000), ENOMEM);
    FAILS_NULL(mpart_realloc(a, p, (size_t)maxfree(a) + 2000), ENOMEM);
    same_info(before, info(a));
    valid(a);
    expect(p, 2000, 16);
    expect(g, 3000, 17);
    free_ok(a, p); /* still freeable */
    free_ok(a, g);
    assert_int_equal(info(a).segment, 1);
}

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
    size_t all = mpart_usable_size(a, p) + hdr_bytes(a) + (size_t)maxfree(a);
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
    assert_ptr_equal(realloc_ok(a, p, 100), p);
    expect(p, 100, 20);
    struct partinfo after = info(a);
    assert_true(after.free > before.free);
    assert_int_equal(after.segment, 2); /* the cut-off tail merged with the free one */
    /* Shrinking by less than a block changes nothing but the usable size. */
    size_t u = mpart_usable_size(a, p);
    assert_ptr_equal(realloc_ok(a, p, u - 1), p);
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
    /* A filler that ends where a block's payload lands on page_pair + 4096. */
    size_t filler_block = (size_t)((page_pair + 4096 - hb) - first_hdr);
    char *f = alloc_ok(a, filler_block - hb);
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

static void test_realloc_across_regions(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, 4096);
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    char *p = alloc_ok(a, 3000);
    fill(p, 3000, 31);
    /* 6000 bytes fit only in the 8 KiB region. */
    char *r = realloc_ok(a, p, 6000);
    assert_true(r >= buf_b && r + 6000 <= buf_b + sizeof buf_b);
    expect(r, 3000, 31);
    free_ok(a, r);
    assert_int_equal(info(a).segment, 2);
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
 * call leaves the statistics alone, and the heap validates throughout. */
struct slot {
    char *p;
    size_t size, align;
    unsigned tag;
};

static uint64_t rng_state = 12345;

static unsigned long rng(void)
{
    rng_state = rng_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (unsigned long)(rng_state >> 33); /* 31 bits */
}

static void random_step(mpart_id a, struct slot *s, unsigned tag)
{
    struct partinfo before = info(a);
    size_t size = 1 + rng() % 2500;
    errno = 0;
    if (!s->p) {
        size_t align = (rng() % 3 == 0) ? (size_t)1 << (rng() % 9) : 0;
        char *p = align ? mpart_memalign(a, align, size) : mpart_alloc(a, size);
        if (!p) {
            assert_int_equal(errno, ENOMEM);
            same_info(before, info(a));
            return;
        }
        *s = (struct slot){p, size, align ? align : 1, tag};
        fill(p, size, tag);
    } else if (rng() % 3 == 0) {
        free_ok(a, s->p);
        s->p = NULL;
    } else {
        char *r = mpart_realloc(a, s->p, size);
        if (!r) {
            assert_int_equal(errno, ENOMEM);
            same_info(before, info(a));
            expect(s->p, s->size, s->tag);
            return;
        }
        assert_int_equal((uintptr_t)r % s->align, 0);
        expect(r, s->size < size ? s->size : size, s->tag);
        *s = (struct slot){r, size, s->align, tag};
        fill(r, size, tag);
    }
}

static void test_realloc_random_contents(void **state)
{
    (void)state;
    enum { SLOTS = 12, STEPS = 3000 };
    struct slot slots[SLOTS];
    memset(slots, 0, sizeof slots);
    mpart_id a = make(big, sizeof big);
    OK(mpart_addmem(a, buf_c, sizeof buf_c));
    for (unsigned i = 0; i < STEPS; i++) {
        random_step(a, &slots[rng() % SLOTS], i);
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
    assert_int_equal(pi.segment, 2);
    assert_int_equal(pi.used + pi.free, sizeof big + sizeof buf_c);
}

/* === mpart_free ============================================================== */

static void test_free_null_and_bad_mid(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id b = make(buf_b, sizeof buf_b);
    char *p = alloc_ok(a, 100);
    struct partinfo ia = info(a), ib = info(b);
    FAILS(mpart_free(a, NULL), EINVAL);
    for (size_t i = 0; i < NBAD; i++)
        if (!is_live(bad_ids[i]))
            FAILS(mpart_free(bad_ids[i], p), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_free(b, p), ERROR_REGION_NULL); /* a block of another partition */
    same_info(ia, info(a));
    same_info(ib, info(b));
    assert_true(mpart_usable_size(a, p) >= 100); /* still allocated */
    free_ok(a, p);
}

static void test_free_foreign_pointers(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    mpart_id b = make(buf_b, sizeof buf_b);
    char *p = alloc_ok(a, 256), *q = alloc_ok(b, 256);
    char *g = alloc_ok(a, 64);
    fill(p, 256, 33);
    fill(q, 256, 34);
    fill(g, 64, 35);
    _Alignas(16) char stack[64];
    char *heap = malloc(256);
    assert_non_null(heap);
    char *bad[32];
    size_t n = foreign_pointers(bad, p, buf_a, sizeof buf_a, q, stack, heap);
    bad[n++] = next_block(a, g); /* the free block after g */
    struct partinfo ia = info(a), ib = info(b);
    for (size_t i = 0; i < n; i++)
        FAILS(mpart_free(a, bad[i]), ERROR_REGION_NULL);
    same_info(ia, info(a));
    same_info(ib, info(b));
    valid(a);
    valid(b);
    expect(p, 256, 33);
    expect(q, 256, 34);
    expect(g, 64, 35);
    free(heap);
    free_ok(a, p);
    free_ok(a, g);
    free_ok(b, q);
}

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

static void test_double_free(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100), *g = alloc_ok(a, 100);
    fill(g, 100, 37);
    free_ok(a, p);
    struct partinfo before = info(a);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    same_info(before, info(a));
    valid(a);
    /* The last block merges with the free tail when freed. */
    free_ok(a, g);
    before = info(a);
    assert_int_equal(before.segment, 1);
    FAILS(mpart_free(a, g), ERROR_REGION_NULL);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    same_info(before, info(a));
    valid(a);
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

static void test_free_in_added_region(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, 4096);
    OK(mpart_addmem(a, buf_b, sizeof buf_b));
    char *p = alloc_ok(a, 6000); /* only the added region holds it */
    assert_true(p >= buf_b && p + 6000 <= buf_b + sizeof buf_b);
    char *q = alloc_ok(a, 100);
    FAILS(mpart_free(a, p + 16), ERROR_REGION_NULL);
    free_ok(a, p);
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    free_ok(a, q);
    assert_int_equal(info(a).segment, 2);
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

static void test_findmaxfree_fresh(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    int m = maxfree(a);
    struct partinfo pi = info(a);
    assert_int_equal((size_t)m, pi.free); /* one free block */
    /* Even the empty partition cannot hold one byte more. */
    FAILS_NULL(mpart_alloc(a, (size_t)m + 1), ERROR_REGION_SIZE);
    char *p = alloc_ok(a, (size_t)m);
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
        int m = maxfree(a);
        assert_true(m > 0);
        FAILS_NULL(mpart_alloc(a, (size_t)m + 1), ENOMEM);
        char *q = alloc_ok(a, (size_t)m);
        free_ok(a, q);
        free_ok(a, p);
    }
    /* Fragmented: the largest hole is in the middle. */
    char *b[6];
    const size_t sizes[6] = {100, 2000, 100, 500, 100, 1};
    for (int i = 0; i < 6; i++)
        b[i] = alloc_ok(a, sizes[i]);
    char *tail = alloc_ok(a, (size_t)maxfree(a)); /* no free tail */
    free_ok(a, b[1]);
    free_ok(a, b[3]);
    int m = maxfree(a);
    assert_true((size_t)m >= 2000 && (size_t)m < 2100);
    FAILS_NULL(mpart_alloc(a, (size_t)m + 1), ENOMEM);
    char *q = alloc_ok(a, (size_t)m);
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
    assert_int_equal(maxfree(a), INT_MAX);
    size_t s = 0;
    OK(mpart_findmaxfree_size(a, &s));
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
    assert_int_equal(pi.segment, 1);
    assert_int_equal(pi.used + pi.free, sizeof buf_a);
    assert_true(pi.used > 0); /* the partition's own metadata */
    assert_int_equal(pi.maxused, pi.used);
    assert_int_equal(pi.free, (size_t)maxfree(a));
}

static void test_getinfo_tracks_blocks(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    size_t hb = hdr_bytes(a), total = sizeof buf_a;
    struct partinfo p0 = info(a);
    char *p = alloc_ok(a, 100);
    struct partinfo p1 = info(a);
    assert_int_equal(p1.segment, 2);
    assert_int_equal(p1.used + p1.free, total);
    assert_int_equal(p0.free - p1.free, mpart_usable_size(a, p) + hb);
    assert_int_equal(p1.maxused, p1.used);
    char *q = alloc_ok(a, 200), *r = alloc_ok(a, 300);
    struct partinfo p3 = info(a);
    assert_int_equal(p3.segment, 4);
    assert_int_equal(p3.used + p3.free, total);
    assert_int_equal(p3.maxused, p3.used);
    size_t peak = p3.used, q_block = mpart_usable_size(a, q) + hb;
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

static void test_getinfo_and_findmaxfree_in_isr(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    struct partinfo before = info(a);
    int m = maxfree(a);
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

static void test_blocks(void **state)
{
    (void)state;
    mpart_id a = make(buf_a, sizeof buf_a);
    char *p = alloc_ok(a, 100), *q = alloc_ok(a, 300), *r = alloc_ok(a, 50);
    free_ok(a, q); /* allocated, free, allocated, then the free rest */
    struct partinfo pi = info(a);
    size_t n = 12345;
    OK(mpart_blocks(a, NULL, 0, &n)); /* only the count */
    assert_int_equal(n, pi.segment);
    assert_int_equal(n, 4);

    struct mpart_block out[8], untouched;
    memset(out, 0x5a, sizeof out);
    memset(&untouched, 0x5a, sizeof untouched);
    size_t m = 0;
    OK(mpart_blocks(a, out, 8, &m));
    assert_int_equal(m, 4);
    char *const payload[4] = {p, q, r, NULL};
    size_t free_bytes = 0, total = 0;
    for (size_t i = 0; i < m; i++) {
        assert_int_equal(out[i].header, sizeof(size_t)); /* FIRST_FIT: one header word */
        assert_int_equal(out[i].used, i % 2 == 0 && i < 3);
        if (payload[i])
            assert_ptr_equal((char *)out[i].start + out[i].header, payload[i]);
        if (i) /* one region: each block starts where the one before ends */
            assert_ptr_equal((char *)out[i - 1].start + out[i - 1].size, out[i].start);
        if (out[i].used)
            assert_true(out[i].size - out[i].header >= mpart_usable_size(a, payload[i]));
        else
            free_bytes += out[i].size - out[i].header;
        total += out[i].size;
    }
    assert_int_equal(free_bytes, pi.free);
    assert_true(total < sizeof buf_a); /* the rest is metadata */
    for (size_t i = m; i < 8; i++)
        assert_memory_equal(&out[i], &untouched, sizeof untouched);

    /* Fewer places than blocks: those filled, the count still whole. */
    struct mpart_block all[4];
    memcpy(all, out, sizeof all);
    memset(out, 0x5a, sizeof out);
    OK(mpart_blocks(a, out, 2, &m));
    assert_int_equal(m, 4);
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

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_module_init_bounds),
        T(test_module_init_limits_creates),
        T(test_module_init_below_live),
        T(test_partition_table_full),
        T(test_create_bad_args),
        T(test_create_smallest),
        T(test_create_any_alignment),
        T(test_create_overlap),
        T(test_create_in_isr),
        T(test_create_distinct_ids),
        T(test_delete_never_issued_ids),
        T(test_bad_ids_everywhere),
        T(test_delete_stale_and_reused),
        T(test_next_id_refused_before_create),
        T(test_delete_busy),
        T(test_delete_in_isr),
        T(test_addmem_bad_args),
        T(test_addmem_smallest),
        T(test_addmem_overlap),
        T(test_addmem_region_table_full),
        T(test_addmem_in_isr),
        T(test_addmem_statistics),
        T(test_alloc_bad_args),
        T(test_alloc_enomem),
        T(test_alloc_placement),
        T(test_alloc_in_isr),
        T(test_memalign_bad_args),
        T(test_memalign_every_power_of_two),
        T(test_memalign_impossible_alignment),
        T(test_memalign_in_isr),
        T(test_realloc_null_is_alloc),
        T(test_realloc_size_zero_keeps_block),
        T(test_realloc_bad_mid),
        T(test_realloc_foreign_pointers),
        T(test_realloc_too_big),
        T(test_realloc_enomem_keeps_block),
        T(test_realloc_grow_right_in_place),
        T(test_realloc_shrink_in_place),
        T(test_realloc_grow_left),
        T(test_realloc_aligned_blocks),
        T(test_realloc_aligned_block_moves_when_room),
        T(test_realloc_across_regions),
        T(test_realloc_in_isr),
        T(test_realloc_random_contents),
        T(test_free_null_and_bad_mid),
        T(test_free_foreign_pointers),
        T(test_free_forged_header),
        T(test_free_damaged_header),
        T(test_double_free),
        T(test_free_after_merge),
        T(test_free_in_added_region),
        T(test_free_in_isr),
        T(test_findmaxfree_bad_args),
        T(test_findmaxfree_fresh),
        T(test_findmaxfree_exact),
        T(test_findmaxfree_clamped_to_int_max),
        T(test_getinfo_bad_args),
        T(test_getinfo_fresh),
        T(test_getinfo_tracks_blocks),
        T(test_getinfo_and_findmaxfree_in_isr),
        T(test_blocks),
    };
    return cmocka_run_group_tests_name("mpart_api", tests, NULL, NULL);
}
