/*
 * test_overhead.c - the fixed overhead of a heap fits small partitions
 * (issue 12): a fresh FIRST_FIT partition keeps at least 90 % of the
 * manual's 8 KiB as payload and at least 98.5 % of 1 MiB, in free bytes
 * (mpart_getinfo) and in the largest block one allocation can take
 * (mpart_findmaxfree, then mpart_alloc of exactly that). Also for memory
 * that is not aligned, and the same figures from the engine itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/mpart.h>

#include "engine/heap_internal.h"

static _Alignas(4096) char small_buf[8192 + 64];

/* The partition's payload over sz bytes at p: free bytes, then the largest
 * allocation, which must succeed. */
static void check_partition(char *p, size_t sz, double min_share)
{
    mpart_id mid;
    assert_int_equal(mpart_create(p, sz, &mid), 0);
    struct partinfo pi;
    assert_int_equal(mpart_getinfo(mid, &pi), 0);
    print_message("%zu bytes at +%zu: free %zu (%.2f %%), segment %lu\n", sz,
                  (size_t)((uintptr_t)p % 64), pi.free, 100.0 * (double)pi.free / (double)sz,
                  pi.segment);
    assert_true((double)pi.free >= min_share * (double)sz);
    assert_int_equal(pi.used + pi.free, sz);
    size_t max;
    assert_int_equal(mpart_findmaxfree_size(mid, &max), 0);
    assert_true((double)max >= min_share * (double)sz);
    char *b = mpart_alloc(mid, max);
    assert_non_null(b);
    memset(b, 0x5a, max);
    assert_null(mpart_alloc(mid, 1)); /* all of it was in that block */
    assert_int_equal(mpart_validate(mid), 0);
    assert_int_equal(mpart_free(mid, b), 0);
    assert_int_equal(mpart_delete(mid), 0);
}

static void manual_8k_keeps_90_percent(void **state)
{
    (void)state;
    for (size_t shift = 0; shift < 64; shift += 8) /* any alignment of the memory */
        check_partition(small_buf + shift, 8192, 0.90);
}

static void one_mib_keeps_98_5_percent(void **state)
{
    (void)state;
    char *big = malloc((1u << 20) + 64);
    assert_non_null(big);
    check_partition(big, 1u << 20, 0.985);
    check_partition(big + 8, 1u << 20, 0.985);
    free(big);
}

/* The engine's own statistics agree: free payload and the header per block. */
static void engine_figures(void **state)
{
    (void)state;
    gjb_heap *h;
    assert_int_equal(gjb_heap_init(small_buf, 8192, GJB_FIRST_FIT, 1, &h), GJB_OK);
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    assert_true((double)st.free >= 0.90 * 8192);
    assert_int_equal(st.header_bytes, sizeof(size_t));
    assert_true(st.min_block <= (sizeof(void *) == 8 ? 32u : 16u));
    assert_int_equal(st.largest_free, st.free); /* one free block: all of it */
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manual_8k_keeps_90_percent),
        cmocka_unit_test(one_mib_keeps_98_5_percent),
        cmocka_unit_test(engine_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
