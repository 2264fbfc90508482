/*
 * test_vmm_shm.c - shm_open/shm_unlink (name rules, EEXIST, ENOENT, EACCES
 * as root and not, contents kept until unlinked, the layer's count of opened
 * objects) and posix_madvise (returns its error, never sets errno). Object
 * names carry the pid and are unlinked again.
 */
#include "vmm_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define GJBMEM_NO_STD_NAMES
#include <mman.h>

static char name[64];

static int setup(void **state)
{
    (void)state;
    snprintf(name, sizeof name, "/gjbmem_test_shm_%ld", (long)getpid());
    return 0;
}

static void names_are_checked(void **state)
{
    (void)state;
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    EXPECT_ERR(gjbmem_shm_open(NULL, O_RDWR, 0600), EINVAL);
    EXPECT_ERR(gjbmem_shm_open("", O_RDWR, 0600), EINVAL);
    EXPECT_ERR(gjbmem_shm_open("/", O_RDWR, 0600), EINVAL);
    EXPECT_ERR(gjbmem_shm_open("a/b", O_RDWR | O_CREAT, 0600), EINVAL);
    EXPECT_ERR(gjbmem_shm_open("/a/b", O_RDWR | O_CREAT, 0600), EINVAL);
    EXPECT_ERR(gjbmem_shm_open(longname, O_RDWR | O_CREAT, 0600), ENAMETOOLONG);
    EXPECT_ERR(gjbmem_shm_unlink(NULL), EINVAL);
    EXPECT_ERR(gjbmem_shm_unlink(""), EINVAL);
    EXPECT_ERR(gjbmem_shm_unlink("/x/y"), EINVAL);
    EXPECT_ERR(gjbmem_shm_unlink(longname), ENAMETOOLONG);
}

static void exists_and_missing(void **state)
{
    (void)state;
    size_t opened = vmm_now().shm_opened;
    errno = SENTINEL;
    int fd = gjbmem_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(vmm_now().shm_opened, opened + 1);
    EXPECT_ERR(gjbmem_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
    close(fd);
    EXPECT_OK(gjbmem_shm_unlink(name));
    EXPECT_ERR(gjbmem_shm_unlink(name), ENOENT);
    EXPECT_ERR(gjbmem_shm_open(name, O_RDWR, 0600), ENOENT);
    /* The manual's form: no leading slash. */
    int f2 = gjbmem_shm_open(name + 1, O_RDWR | O_CREAT, 0777);
    assert_true(f2 >= 0);
    close(f2);
    EXPECT_OK(gjbmem_shm_unlink(name + 1));
}

static int open_without_permission(void)
{
    if (getuid() == 0 && setuid(65534) != 0)
        return 2;
    errno = 0;
    if (gjbmem_shm_open(name, O_RDWR, 0) != -1)
        return 3;
    return errno == EACCES ? 0 : 4;
}

static void access_is_checked(void **state)
{
    (void)state;
    int fd = gjbmem_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0);
    assert_true(fd >= 0);
    close(fd);
    int rc = in_child(open_without_permission);
    EXPECT_OK(gjbmem_shm_unlink(name));
    assert_int_equal(rc, 0);
}

static void contents_persist_until_unlinked(void **state)
{
    (void)state;
    size_t pg = page_size();
    int fd = gjbmem_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)pg), 0);
    char *m = gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_ptr_not_equal(m, MAP_FAILED);
    strcpy(m, "kept");
    EXPECT_OK(gjbmem_msync(m, pg, MS_SYNC)); /* succeeds, nothing to do */
    EXPECT_OK(gjbmem_munmap(m, pg));
    close(fd);
    fd = gjbmem_shm_open(name, O_RDONLY, 0);
    assert_true(fd >= 0);
    m = gjbmem_mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
    assert_ptr_not_equal(m, MAP_FAILED);
    assert_string_equal(m, "kept");
    EXPECT_OK(gjbmem_munmap(m, pg));
    close(fd);
    EXPECT_OK(gjbmem_shm_unlink(name));
}

static void madvise_returns_its_error(void **state)
{
    (void)state;
    size_t pg = page_size();
    char *p = gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    int advice[] = {POSIX_MADV_NORMAL, POSIX_MADV_SEQUENTIAL, POSIX_MADV_RANDOM,
                    POSIX_MADV_WILLNEED, POSIX_MADV_DONTNEED};
    p[0] = 9;
    for (size_t i = 0; i < 5; i++) {
        errno = SENTINEL;
        assert_int_equal(gjbmem_posix_madvise(p, pg, advice[i]), 0);
        assert_int_equal(errno, SENTINEL);
    }
    assert_int_equal(p[0], 9); /* POSIX_MADV_DONTNEED keeps the data */
    errno = SENTINEL;
    assert_int_equal(gjbmem_posix_madvise(p, pg, 12345), EINVAL);
    assert_int_equal(gjbmem_posix_madvise(p, pg, -1), EINVAL);
    assert_int_equal(errno, SENTINEL);
    EXPECT_OK(gjbmem_munmap(p, pg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_are_checked),
        cmocka_unit_test(exists_and_missing),
        cmocka_unit_test(access_is_checked),
        cmocka_unit_test(contents_persist_until_unlinked),
        cmocka_unit_test(madvise_returns_its_error),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
