/*
 * test_vmm_header.c - <mman.h> in strict C11 (no _GNU_SOURCE): the
 * manual's constants exist, the standard names are object-like macros onto
 * the gjbmem_ functions (so `fp = mmap;` reaches the layer), and code that
 * saw only <sys/mman.h> before keeps the host's functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>

/* Taken before <mman.h>: the host's own functions. */
static void *(*const host_mmap)(void *, size_t, int, int, int, off_t) = mmap;
static int (*const host_munmap)(void *, size_t) = munmap;

#include <mman.h>
#include <gjbmem/vmm.h>

static void constants_exist(void **state)
{
    (void)state;
    assert_int_equal(MREMAP_MAYMOVE, 1);
    assert_int_equal(MREMAP_FIXED, 2);
    assert_int_equal(MAP_ANONYMOUS, MAP_ANON);
    assert_int_equal(ERROR_VMM_VIRTUAL_PAGE, 5503);
    assert_true(MS_SYNC != MS_ASYNC);
    assert_true(MCL_CURRENT != MCL_FUTURE);
}

static void names_reach_the_layer(void **state)
{
    (void)state;
    void *(*fp)(void *, size_t, int, int, int, off_t) = mmap;
    int (*up)(void *, size_t) = munmap;
    assert_true(fp == gjbmem_mmap);
    assert_true(up == gjbmem_munmap);
    assert_true(host_mmap != gjbmem_mmap);
    void *(*rp)(void *, size_t, size_t, int, ...) = mremap;
    assert_true(rp == gjbmem_mremap);
    int (*madv)(void *, size_t, int) = posix_madvise;
    assert_true(madv == gjbmem_posix_madvise);
    struct gjbmem_vmm_stats before, after;
    gjbmem_vmm_stats(&before);
    void *p = fp(NULL, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    gjbmem_vmm_stats(&after);
    assert_int_equal(after.mappings, before.mappings + 1);
    assert_int_equal(up(p, 1), 0);
    /* The host's mmap made outside the layer is not recorded. */
    void *h = host_mmap(NULL, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(h, MAP_FAILED);
    gjbmem_vmm_stats(&after);
    assert_int_equal(after.mappings, before.mappings);
    assert_int_equal(host_munmap(h, 1), 0);
    void *q = mmap64(NULL, 1, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(q, MAP_FAILED);
    assert_int_equal(munmap(q, 1), 0);
}

static void show_prints(void **state)
{
    (void)state;
    assert_int_equal(gjbmem_vmm_show(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(constants_exist),
        cmocka_unit_test(names_reach_the_layer),
        cmocka_unit_test(show_prints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
