/*
 * test_vmm_args.c - the argument rules of SPEC section 5 for mmap, mmap64,
 * munmap, msync, mprotect and mremap: every listed error code, errno left
 * alone on success, and the registry following every successful call.
 */
#include "vmm_helpers.h"
#include "wordsize.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define GJBMEM_NO_STD_NAMES
#include <mman.h>
#include <gjbext.h>

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void *anon(size_t len)
{
    errno = SENTINEL;
    void *p = gjbmem_mmap(NULL, len, RW, ANON, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    assert_int_equal(errno, SENTINEL);
    return p;
}

static void mmap_rejects_bad_arguments(void **state)
{
    (void)state;
    size_t pg = page_size();
    char dummy;
    EXPECT_MAP_ERR(gjbmem_mmap(&dummy, pg, RW, ANON, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, ANON | MAP_FIXED, -1, 0), ENOTSUP);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, 0, RW, ANON, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, MAP_ANONYMOUS, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                   EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW | 0x1000, ANON, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, ANON | 0x40000, -1, 0), EINVAL); /* MAP_HUGETLB */
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, ANON, -1, 100), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, ANON, -1, -(off_t)pg), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, SIZE_MAX, RW, ANON, -1, 0), ENOMEM);
#if GJB_TEST_LP64
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, SIZE_MAX / 2, RW, ANON, -1, 0), ENOMEM);
#else /* SIZE_MAX / 2 (2 GiB) can be granted there */
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, TOO_MUCH_FOR_ILP32, RW, ANON, -1, 0), ENOMEM);
#endif
    EXPECT_MAP_ERR(gjbmem_mmap64(NULL, pg, RW, ANON, -1, 1), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap64(NULL, pg, RW, ANON | MAP_FIXED, -1, 0), ENOTSUP);
}

/* Argument errors come before ENOTSUP (POSIX): only an otherwise valid
 * MAP_FIXED request hears that it is not supported. */
static void mmap_argument_errors_before_enotsup(void **state)
{
    (void)state;
    size_t pg = page_size();
    static _Alignas(65536) char spot[65536];
    char *aligned = spot + pg - (uintptr_t)spot % pg, *odd = aligned + 1;
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, ~0, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(odd, pg, RW, MAP_FIXED | MAP_ANONYMOUS, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(odd, pg, RW, ANON | MAP_FIXED, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(aligned, 0, RW, ANON | MAP_FIXED, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(aligned, pg, RW | 0x1000, ANON | MAP_FIXED, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(aligned, pg, RW, ANON | MAP_FIXED, -1, 1), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(aligned, pg, RW, ANON | MAP_FIXED | 0x40000, -1, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mmap(aligned, pg, RW, ANON | MAP_FIXED, -1, 0), ENOTSUP);
    EXPECT_MAP_ERR(gjbmem_mmap64(aligned, pg, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                   ENOTSUP);
    EXPECT_MAP_ERR(gjbmem_mmap(aligned, pg, RW, ANON, -1, 0), EINVAL); /* addr, no MAP_FIXED */
}

static void mmap_checks_the_descriptor(void **state)
{
    (void)state;
    size_t pg = page_size();
    char path[64];
    int fd = temp_file(path, pg, 'x');
    assert_true(fd >= 0);
    int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY), dir = open("/tmp", O_RDONLY);
    assert_true(ro >= 0 && wo >= 0 && dir >= 0);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_SHARED, -1, 0), EBADF);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_SHARED, 100000, 0), EBADF);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_PRIVATE, wo, 0), EACCES);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, MAP_SHARED, ro, 0), EACCES);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_SHARED, dir, 0), ENODEV);
    /* Allowed: private copy-on-write of a read-only descriptor, and an
     * anonymous mapping whatever the fd says. */
    errno = SENTINEL;
    char *p = gjbmem_mmap(NULL, pg, RW, MAP_PRIVATE, ro, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(p[0], 'x');
    p[0] = 'y';
    EXPECT_OK(gjbmem_munmap(p, pg));
    char *q = gjbmem_mmap(NULL, pg, RW, ANON, 12345, 0);
    assert_ptr_not_equal(q, MAP_FAILED);
    EXPECT_OK(gjbmem_munmap(q, pg));
    char *r = gjbmem_mmap64(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
    assert_ptr_not_equal(r, MAP_FAILED);
    assert_int_equal(r[pg - 1], 'x');
    EXPECT_OK(gjbmem_munmap(r, pg));
    close(ro), close(wo), close(dir), close(fd);
    unlink(path);
}

static void mmap_rounds_and_records(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats before = vmm_now();
    char *p = anon(pg + 1);
    assert_true(pages_mapped(p, 2 * pg));
    p[2 * pg - 1] = 1; /* the rounded-up page is usable */
    struct gjbmem_vmm_stats mid = vmm_now();
    assert_int_equal(mid.mappings, before.mappings + 1);
    assert_int_equal(mid.bytes_mapped, before.bytes_mapped + 2 * pg);
    EXPECT_OK(gjbmem_munmap(p, pg + 1));
    struct gjbmem_vmm_stats after = vmm_now();
    assert_int_equal(after.mappings, before.mappings);
    assert_int_equal(after.bytes_mapped, before.bytes_mapped);
    assert_int_equal(gjbmem_vmm_stats(NULL), -1);
}

static void munmap_rejects_bad_arguments(void **state)
{
    (void)state;
    size_t pg = page_size();
    char *p = anon(pg);
    EXPECT_ERR(gjbmem_munmap(p + 1, pg), EINVAL);
    EXPECT_ERR(gjbmem_munmap(p, 0), EINVAL);
    EXPECT_ERR(gjbmem_munmap(p, SIZE_MAX), EINVAL);
    /* Memory the layer did not map is never unmapped by it. */
    char *host = mmap(NULL, pg, RW, ANON, -1, 0);
    assert_ptr_not_equal(host, MAP_FAILED);
    EXPECT_ERR(gjbmem_munmap(host, pg), EINVAL);
    host[0] = 5;
    assert_true(pages_mapped(host, pg));
    assert_int_equal(munmap(host, pg), 0);
    EXPECT_OK(gjbmem_munmap(p, pg));
    EXPECT_ERR(gjbmem_munmap(p, pg), EINVAL);
}

static void msync_rejects_bad_arguments(void **state)
{
    (void)state;
    size_t pg = page_size();
    char *p = anon(2 * pg);
    EXPECT_ERR(gjbmem_msync(p + 1, pg, MS_SYNC), EINVAL);
    EXPECT_ERR(gjbmem_msync(p, pg, MS_SYNC | MS_ASYNC), EINVAL);
    EXPECT_ERR(gjbmem_msync(p, pg, 0x100), EINVAL);
    EXPECT_ERR(gjbmem_msync(p, 3 * pg, MS_SYNC), ENOMEM);
    EXPECT_OK(gjbmem_msync(p, 2 * pg, MS_SYNC));
    EXPECT_OK(gjbmem_msync(p, pg, MS_ASYNC | MS_INVALIDATE));
    EXPECT_OK(gjbmem_munmap(p, 2 * pg));
    EXPECT_ERR(gjbmem_msync(p, pg, MS_SYNC), ENOMEM);
}

static void mprotect_rules(void **state)
{
    (void)state;
    size_t pg = page_size();
    char *p = anon(3 * pg);
    EXPECT_ERR(gjbmem_mprotect(p + 1, pg, PROT_READ), EINVAL);
    EXPECT_ERR(gjbmem_mprotect(p, 0, PROT_READ), EINVAL);
    EXPECT_ERR(gjbmem_mprotect(p, pg, PROT_READ | 0x1000), ENOTSUP);
    EXPECT_ERR(gjbmem_mprotect(p, 4 * pg, PROT_READ), ENOMEM);
    struct gjbmem_vmm_stats before = vmm_now();
    EXPECT_OK(gjbmem_mprotect(p + pg, pg, PROT_READ)); /* splits in three */
    assert_int_equal(vmm_now().mappings, before.mappings + 2);
    EXPECT_OK(gjbmem_mprotect(p + pg, pg, RW));
    p[pg] = 7;
    EXPECT_OK(gjbmem_munmap(p, 3 * pg));
    assert_int_equal(vmm_now().mappings, before.mappings - 1);
    /* The host refuses write access to a file opened read-only. */
    char path[64];
    int fd = temp_file(path, pg, 'r');
    int ro = open(path, O_RDONLY);
    char *f = gjbmem_mmap(NULL, pg, PROT_READ, MAP_SHARED, ro, 0);
    assert_ptr_not_equal(f, MAP_FAILED);
    EXPECT_ERR(gjbmem_mprotect(f, pg, RW), ERROR_VMM_VIRTUAL_PAGE);
    EXPECT_OK(gjbmem_munmap(f, pg));
    close(ro), close(fd);
    unlink(path);
}

static void mremap_rules(void **state)
{
    (void)state;
    size_t pg = page_size();
    char *p = anon(3 * pg);
    EXPECT_MAP_ERR(gjbmem_mremap(p, pg, 2 * pg, MREMAP_FIXED, (void *)0), ENOTSUP);
    EXPECT_MAP_ERR(gjbmem_mremap(p + 1, pg, 2 * pg, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mremap(p, pg, 0, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mremap(p, 0, pg, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mremap(p, 4 * pg, 5 * pg, MREMAP_MAYMOVE), EINVAL);
    /* The page after the head is mapped: no room to grow in place. */
    EXPECT_MAP_ERR(gjbmem_mremap(p, pg, 2 * pg, 0), ENOMEM);
    struct gjbmem_vmm_stats before = vmm_now();
    p[0] = 42;
    errno = SENTINEL;
    char *q = gjbmem_mremap(p, pg, 2 * pg, MREMAP_MAYMOVE);
    assert_ptr_not_equal(q, MAP_FAILED);
    assert_int_equal(errno, SENTINEL);
    assert_ptr_not_equal(q, p);
    assert_int_equal(q[0], 42);
    q[2 * pg - 1] = 1;
    struct gjbmem_vmm_stats mid = vmm_now();
    assert_int_equal(mid.mappings, before.mappings + 1);
    assert_int_equal(mid.bytes_mapped, before.bytes_mapped + pg);
    /* Shrinking stays in place. */
    char *s = gjbmem_mremap(q, 2 * pg, pg, 0);
    assert_ptr_equal(s, q);
    EXPECT_OK(gjbmem_munmap(s, pg));
    EXPECT_OK(gjbmem_munmap(p + pg, 2 * pg));
    assert_int_equal(vmm_now().bytes_mapped, before.bytes_mapped - 3 * pg);
    char *host = mmap(NULL, pg, RW, ANON, -1, 0);
    EXPECT_MAP_ERR(gjbmem_mremap(host, pg, 2 * pg, MREMAP_MAYMOVE), EINVAL);
    munmap(host, pg);
}

/* A full registry refuses new mappings and splits, and nothing leaks. */
static void full_registry_gives_enomem(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats base = vmm_now();
    size_t room = GJBMEM_VMM_MAX_MAPPINGS - base.mappings;
    char *big = anon(3 * pg);
    static char *pages[GJBMEM_VMM_MAX_MAPPINGS];
    size_t n = 0;
    for (; n < room - 1; n++)
        pages[n] = anon(pg);
    assert_int_equal(vmm_now().mappings, GJBMEM_VMM_MAX_MAPPINGS);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, RW, ANON, -1, 0), ENOMEM);
    EXPECT_ERR(gjbmem_munmap(big + pg, pg), ENOMEM);    /* would need a split */
    EXPECT_ERR(gjbmem_mprotect(big + pg, pg, PROT_READ), ENOMEM);
    assert_true(pages_mapped(big, 3 * pg));
    EXPECT_OK(gjbmem_munmap(pages[0], pg));
    EXPECT_OK(gjbmem_munmap(big + 2 * pg, pg));         /* one split: fits */
    for (n = 1; n < room - 1; n++)
        EXPECT_OK(gjbmem_munmap(pages[n], pg));
    EXPECT_OK(gjbmem_munmap(big, 2 * pg));
    struct gjbmem_vmm_stats after = vmm_now();
    assert_int_equal(after.mappings, base.mappings);
    assert_int_equal(after.bytes_mapped, base.bytes_mapped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mmap_rejects_bad_arguments),
        cmocka_unit_test(mmap_argument_errors_before_enotsup),
        cmocka_unit_test(mmap_checks_the_descriptor),
        cmocka_unit_test(mmap_rounds_and_records),
        cmocka_unit_test(munmap_rejects_bad_arguments),
        cmocka_unit_test(msync_rejects_bad_arguments),
        cmocka_unit_test(mprotect_rules),
        cmocka_unit_test(mremap_rules),
        cmocka_unit_test(full_registry_gives_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
