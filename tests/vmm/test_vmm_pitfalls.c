/*
 * test_vmm_pitfalls.c - the three pitfalls of spec/mmap-munmap-linux.zh.txt:
 * munmap with a shorter length unmaps exactly the pages it covers (the rest
 * stays usable and recorded, a hole in the middle leaves two records, nothing
 * leaks); munmap of a range that is not mapped is refused; a file whose
 * length is not a page multiple maps with the tail of its last page zeroed.
 */
#include "vmm_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define GJBMEM_NO_STD_NAMES
#include <mman.h>

#define RW (PROT_READ | PROT_WRITE)

static char *anon(size_t len)
{
    char *p = gjbmem_mmap(NULL, len, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    memset(p, 0x5a, len);
    return p;
}

static void shorter_length_unmaps_exactly_its_pages(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats base = vmm_now();
    char *p = anon(4 * pg);
    EXPECT_OK(gjbmem_munmap(p, 2 * pg));
    assert_false(pages_mapped(p, pg));
    assert_false(pages_mapped(p + pg, pg));
    assert_true(pages_mapped(p + 2 * pg, 2 * pg));
    assert_int_equal(p[2 * pg], 0x5a);
    p[4 * pg - 1] = 1;
    struct gjbmem_vmm_stats s = vmm_now();
    assert_int_equal(s.mappings, base.mappings + 1);
    assert_int_equal(s.bytes_mapped, base.bytes_mapped + 2 * pg);
    /* A length that ends inside a page unmaps that whole page. */
    EXPECT_OK(gjbmem_munmap(p + 2 * pg, pg + 1));
    assert_int_equal(vmm_now().bytes_mapped, base.bytes_mapped);
    assert_false(pages_mapped(p + 3 * pg, pg));
    s = vmm_now();
    assert_int_equal(s.mappings, base.mappings);
}

static void hole_in_the_middle_leaves_two_records(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats base = vmm_now();
    char *p = anon(3 * pg);
    EXPECT_OK(gjbmem_munmap(p + pg, pg));
    struct gjbmem_vmm_stats s = vmm_now();
    assert_int_equal(s.mappings, base.mappings + 2);
    assert_int_equal(s.bytes_mapped, base.bytes_mapped + 2 * pg);
    assert_false(pages_mapped(p + pg, pg));
    assert_int_equal(p[0], 0x5a);
    assert_int_equal(p[2 * pg], 0x5a);
    /* Unmapping over the hole takes both pieces, and only them. */
    EXPECT_OK(gjbmem_munmap(p, 3 * pg));
    s = vmm_now();
    assert_int_equal(s.mappings, base.mappings);
    assert_int_equal(s.bytes_mapped, base.bytes_mapped);
}

static void repeated_partial_unmaps_do_not_leak(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats base = vmm_now();
    for (int round = 0; round < 200; round++) {
        char *p = anon(8 * pg);
        for (size_t i = 0; i < 8; i++)
            EXPECT_OK(gjbmem_munmap(p + ((i * 3) % 8) * pg, pg));
        assert_false(pages_mapped(p, pg));
    }
    struct gjbmem_vmm_stats s = vmm_now();
    assert_int_equal(s.mappings, base.mappings);
    assert_int_equal(s.bytes_mapped, base.bytes_mapped);
}

static void unmapped_range_is_refused(void **state)
{
    (void)state;
    size_t pg = page_size();
    char *p = anon(pg);
    EXPECT_OK(gjbmem_munmap(p, pg));
    EXPECT_ERR(gjbmem_munmap(p, pg), EINVAL);
    static _Alignas(65536) char data[65536];
    EXPECT_ERR(gjbmem_munmap(data, pg), EINVAL);
    data[0] = 1; /* still ours */
}

static void file_tail_reads_as_zeros(void **state)
{
    (void)state;
    size_t pg = page_size();
    size_t sizes[] = {100, pg + 904};
    for (size_t k = 0; k < 2; k++) {
        char path[64];
        int fd = temp_file(path, sizes[k], 'f');
        assert_true(fd >= 0);
        size_t whole = (sizes[k] + pg - 1) / pg * pg;
        unsigned char *m = gjbmem_mmap(NULL, sizes[k], PROT_READ, MAP_SHARED, fd, 0);
        assert_ptr_not_equal(m, MAP_FAILED);
        for (size_t i = 0; i < whole; i++)
            assert_int_equal(m[i], i < sizes[k] ? 'f' : 0);
        EXPECT_OK(gjbmem_munmap(m, sizes[k]));
        close(fd);
        unlink(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shorter_length_unmaps_exactly_its_pages),
        cmocka_unit_test(hole_in_the_middle_leaves_two_records),
        cmocka_unit_test(repeated_partial_unmaps_do_not_leak),
        cmocka_unit_test(unmapped_range_is_refused),
        cmocka_unit_test(file_tail_reads_as_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
