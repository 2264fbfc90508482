/*
 * test_sysheap_env.c - the system heap's settings from the environment
 * (read once, at the library's first use, so this is a program of its
 * own), and validation of a damaged system heap.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/sysheap.h>

static void settings_from_environment(void **state)
{
    (void)state;
    /* Before any gjbmem call: the library initialises on first use. */
    assert_int_equal(setenv("GJBMEM_HEAP_LIMIT", "64m", 1), 0);
    assert_int_equal(setenv("GJBMEM_POLICY", "buddy", 1), 0);
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(st.limit, (size_t)64 << 20);
    assert_int_equal(st.policy, BUDDY_ALLOCATION);
    errno = 0;
    assert_int_equal(gjbmem_sysheap_stats(NULL), -1);
    assert_int_equal(errno, EINVAL);
    /* The limit holds: 64 MiB cannot be had, 1 MiB can. */
    errno = 0;
    assert_null(gjbmem_malloc((size_t)64 << 20));
    assert_int_equal(errno, ENOMEM);
    void *p = gjbmem_malloc((size_t)1 << 20);
    assert_non_null(p);
    assert_int_equal(gjbmem_free(p), 0);
}

/* A write after free into a BUDDY free block's links: validate says so,
 * and repairing the bytes makes the heap whole again. */
static void validate_reports_damage(void **state)
{
    (void)state;
    char *a = gjbmem_malloc(1000), *b = gjbmem_malloc(1000);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(gjbmem_free(a), 0);
    char saved[16];
    memcpy(saved, a, sizeof saved);
    memset(a, 0xa5, sizeof saved); /* the free block's list links */
    errno = 0;
    assert_int_equal(gjbmem_sysheap_validate(), -1);
    assert_int_equal(errno, ERROR_KERNEL_MEMORY);
    memcpy(a, saved, sizeof saved);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(gjbmem_free(b), 0);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_from_environment),
        cmocka_unit_test(validate_reports_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
