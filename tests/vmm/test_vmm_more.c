/*
 * test_vmm_more.c - the mapping layer's remaining paths: lengths that
 * overflow when rounded, a registry too full to split or remap, mremap of
 * a file mapping, records made stale behind the layer's back, host refusals
 * passed on (msync EBUSY on a locked range), mlockall/munlockall in this
 * process's image (a child that returns through exit()), and
 * gjbmem_vmm_show on a failing stdout.
 */
#include "vmm_helpers.h"
#include "wordsize.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>

#define GJBMEM_NO_STD_NAMES
#include <mman.h>
#include <gjbext.h>

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static char *anon(size_t len)
{
    errno = SENTINEL;
    char *p = gjbmem_mmap(NULL, len, RW, ANON, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    assert_int_equal(errno, SENTINEL);
    return p;
}

/* Runs fn in a forked child that ends through exit() (so its coverage
 * counters and stdio are flushed); returns its exit status, -1 on a signal. */
static int in_child_exit(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exit(fn());
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The highest page-aligned address: nothing is mapped there. */
static char *top_page(void)
{
    return (char *)(UINTPTR_MAX & ~(uintptr_t)(page_size() - 1));
}

static void lengths_that_overflow(void **state)
{
    (void)state;
    size_t pg = page_size();
    char *p = anon(2 * pg);
    struct gjbmem_vmm_stats base = vmm_now();
    /* rounding len up to pages overflows */
    EXPECT_ERR(gjbmem_mlock(p, SIZE_MAX), ENOMEM);
    EXPECT_ERR(gjbmem_munlock(p, SIZE_MAX - 1), ENOMEM);
    EXPECT_ERR(gjbmem_mlock(p + pg - 1, SIZE_MAX - pg), ENOMEM); /* with the page offset */
    EXPECT_ERR(gjbmem_msync(p, SIZE_MAX, MS_SYNC), ENOMEM);
    EXPECT_ERR(gjbmem_mprotect(p, SIZE_MAX, PROT_READ), ENOMEM);
    EXPECT_ERR(gjbmem_munmap(p, SIZE_MAX), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mremap(p, SIZE_MAX, pg, 0), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mremap(p, pg, SIZE_MAX, MREMAP_MAYMOVE), ENOMEM);
    EXPECT_MAP_ERR(gjbmem_mremap(p, pg, pg, 0x40), EINVAL); /* unknown flag */
    /* the rounded range runs past the end of the address space */
    char *top = top_page();
    EXPECT_ERR(gjbmem_mlock(top, 2 * pg), ENOMEM);
    EXPECT_ERR(gjbmem_msync(top, 2 * pg, MS_SYNC), ENOMEM);
    EXPECT_ERR(gjbmem_mprotect(top, 2 * pg, PROT_READ), ENOMEM);
    EXPECT_ERR(gjbmem_munmap(top, 2 * pg), EINVAL);
    EXPECT_MAP_ERR(gjbmem_mremap(top, 2 * pg, pg, 0), EINVAL);
    /* nothing changed */
    struct gjbmem_vmm_stats now = vmm_now();
    assert_int_equal(now.mappings, base.mappings);
    assert_int_equal(now.bytes_locked, base.bytes_locked);
    p[0] = 1; /* still mapped and writable */
    EXPECT_OK(gjbmem_munmap(p, 2 * pg));
    assert_int_equal(vmm_now().mappings, base.mappings - 1);
}

/* With one free record left, splitting a mapping in two places (mlock of a
 * middle page) and mremap (which reserves three) fail with ENOMEM and leave
 * the registry as it was. */
static void full_registry_refuses_lock_and_remap(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats base = vmm_now();
    char *big = anon(3 * pg);
    size_t room = GJBMEM_VMM_MAX_MAPPINGS - base.mappings - 1;
    static char *pages[GJBMEM_VMM_MAX_MAPPINGS];
    for (size_t n = 0; n + 1 < room; n++)
        pages[n] = anon(pg);
    assert_int_equal(vmm_now().mappings, GJBMEM_VMM_MAX_MAPPINGS - 1);
    EXPECT_ERR(gjbmem_mlock(big + pg, pg), ENOMEM);
    EXPECT_ERR(gjbmem_munlock(big + pg, pg), ENOMEM);
    EXPECT_MAP_ERR(gjbmem_mremap(big, pg, 2 * pg, MREMAP_MAYMOVE), ENOMEM);
    EXPECT_MAP_ERR(gjbmem_mremap(pages[0], pg, pg, 0), ENOMEM);
    struct gjbmem_vmm_stats s = vmm_now();
    assert_int_equal(s.mappings, GJBMEM_VMM_MAX_MAPPINGS - 1);
    assert_int_equal(s.bytes_locked, base.bytes_locked);
    assert_true(pages_mapped(big, 3 * pg));
    for (size_t n = 0; n + 1 < room; n++)
        EXPECT_OK(gjbmem_munmap(pages[n], pg));
    EXPECT_OK(gjbmem_munmap(big, 3 * pg));
    s = vmm_now();
    assert_int_equal(s.mappings, base.mappings);
    assert_int_equal(s.bytes_mapped, base.bytes_mapped);
}

/* mremap of the tail of a file mapping (after a split): the new record keeps
 * the file's offset, so the contents seen there are the file's. A shared
 * file mapping never counts as shared anonymous memory. */
static void remap_a_file_mapping(void **state)
{
    (void)state;
    size_t pg = page_size();
    char path[64];
    int fd = temp_file(path, 4 * pg, 'a');
    assert_true(fd >= 0);
    for (int i = 0; i < 4; i++) {
        char c = (char)('0' + i);
        assert_int_equal(pwrite(fd, &c, 1, (off_t)((size_t)i * pg)), 1);
    }
    struct gjbmem_vmm_stats base = vmm_now();
    char *p = gjbmem_mmap(NULL, 3 * pg, RW, MAP_SHARED, fd, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    struct gjbmem_vmm_stats s = vmm_now();
    assert_int_equal(s.shared_anon_bytes, base.shared_anon_bytes);
    assert_int_equal(s.bytes_mapped, base.bytes_mapped + 3 * pg);
    /* split: the middle page goes, the file pieces 0 and 2 stay */
    EXPECT_OK(gjbmem_munmap(p + pg, pg));
    assert_int_equal(vmm_now().mappings, base.mappings + 2);
    assert_int_equal(p[2 * pg], '2');
    /* the tail piece (file offset 2 pages) grows by a page, may move */
    errno = SENTINEL;
    char *q = gjbmem_mremap(p + 2 * pg, pg, 2 * pg, MREMAP_MAYMOVE);
    assert_ptr_not_equal(q, MAP_FAILED);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(q[0], '2');
    assert_int_equal(q[pg], '3');
    s = vmm_now();
    assert_int_equal(s.mappings, base.mappings + 2);
    assert_int_equal(s.bytes_mapped, base.bytes_mapped + 3 * pg);
    q[pg + 1] = 'z'; /* written back through the shared mapping */
    EXPECT_OK(gjbmem_msync(q, 2 * pg, MS_SYNC));
    char c = 0;
    assert_int_equal(pread(fd, &c, 1, (off_t)(3 * pg + 1)), 1);
    assert_int_equal(c, 'z');
    EXPECT_OK(gjbmem_munmap(q, 2 * pg));
    EXPECT_OK(gjbmem_munmap(p, pg));
    assert_int_equal(vmm_now().mappings, base.mappings);
    close(fd);
    unlink(path);
}

/* Pages unmapped behind the layer's back (the host's munmap) and handed out
 * again: the new mapping replaces the stale record instead of doubling it. */
static void stale_records_are_replaced(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats base = vmm_now();
    int replaced = 0;
    for (int attempt = 0; attempt < 8 && !replaced; attempt++) {
        char *p = anon(4 * pg);
        assert_int_equal(munmap(p, 4 * pg), 0); /* the host's, not the layer's */
        assert_int_equal(vmm_now().mappings, base.mappings + 1);
        char *q = anon(4 * pg);
        if (q == p) {
            replaced = 1;
            struct gjbmem_vmm_stats s = vmm_now();
            assert_int_equal(s.mappings, base.mappings + 1);
            assert_int_equal(s.bytes_mapped, base.bytes_mapped + 4 * pg);
            EXPECT_OK(gjbmem_munmap(q, 4 * pg));
        } else {
            EXPECT_OK(gjbmem_munmap(q, 4 * pg));
            EXPECT_OK(gjbmem_munmap(p, 4 * pg)); /* drops the stale record */
        }
    }
    assert_true(replaced); /* Linux hands the same hole out again */
    assert_int_equal(vmm_now().mappings, base.mappings);
}

/* msync(MS_INVALIDATE) of a locked file range: the host says EBUSY and the
 * layer passes it on. */
static int msync_of_locked_range(void)
{
    size_t pg = page_size();
    char path[64];
    int fd = temp_file(path, 2 * pg, 'q');
    if (fd < 0)
        return 3;
    unlink(path);
    char *p = gjbmem_mmap(NULL, 2 * pg, RW, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 4;
    if (gjbmem_mlock(p, 2 * pg) != 0)
        return errno == EACCES ? 0 : 5; /* not allowed here: nothing to check */
    errno = 0;
    if (gjbmem_msync(p, 2 * pg, MS_INVALIDATE) != -1 || errno != EBUSY)
        return 6;
    if (gjbmem_msync(p, 2 * pg, MS_SYNC) != 0)
        return 7;
    if (gjbmem_munlock(p, 2 * pg) != 0 || vmm_now().bytes_locked != 0)
        return 8;
    if (gjbmem_msync(p, 2 * pg, MS_INVALIDATE) != 0)
        return 9;
    return gjbmem_munmap(p, 2 * pg) == 0 ? 0 : 10;
}

static void msync_passes_host_errors_on(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's mlock does nothing: the host never sees a lock */
#endif
    assert_int_equal(in_child_exit(msync_of_locked_range), 0);
}

/* mlockall(MCL_CURRENT | MCL_FUTURE) marks every record and the next one
 * locked; munlockall clears both. Where locking everything is refused, the
 * answer is EACCES and nothing is marked. */
static int lock_everything(void)
{
    size_t pg = page_size();
    char *p = gjbmem_mmap(NULL, 2 * pg, RW, ANON, -1, 0);
    if (p == MAP_FAILED)
        return 3;
    struct gjbmem_vmm_stats base = vmm_now();
    if (base.bytes_locked != 0)
        return 4;
    errno = SENTINEL;
    if (gjbmem_mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        if (errno != EACCES || vmm_now().bytes_locked != 0)
            return 5;
        printf("mlockall refused here (EACCES)\n");
        return 0;
    }
    if (errno != SENTINEL)
        return 6;
    struct gjbmem_vmm_stats s = vmm_now();
    if (s.bytes_locked != s.bytes_mapped || s.bytes_locked < 2 * pg)
        return 7;
    char *q = gjbmem_mmap(NULL, pg, RW, ANON, -1, 0); /* MCL_FUTURE */
    if (q == MAP_FAILED || vmm_now().bytes_locked != s.bytes_locked + pg)
        return 8;
    if (gjbmem_munlockall() != 0 || errno != SENTINEL)
        return 9;
    if (vmm_now().bytes_locked != 0)
        return 10;
    char *r = gjbmem_mmap(NULL, pg, RW, ANON, -1, 0); /* no longer locked */
    if (r == MAP_FAILED || vmm_now().bytes_locked != 0)
        return 11;
    /* MCL_CURRENT alone locks what is there, but not what comes */
    if (gjbmem_mlockall(MCL_CURRENT) != 0)
        return 12;
    char *t = gjbmem_mmap(NULL, pg, RW, ANON, -1, 0);
    s = vmm_now();
    if (t == MAP_FAILED || s.bytes_locked != s.bytes_mapped - pg)
        return 13;
    if (gjbmem_munlockall() != 0 || vmm_now().bytes_locked != 0)
        return 14;
    /* MCL_FUTURE alone marks nothing that is there, only what comes */
    if (gjbmem_mlockall(MCL_FUTURE) != 0 || vmm_now().bytes_locked != 0)
        return 15;
    char *u = gjbmem_mmap(NULL, pg, RW, ANON, -1, 0);
    if (u == MAP_FAILED || vmm_now().bytes_locked != pg)
        return 16;
    if (gjbmem_munlockall() != 0 || vmm_now().bytes_locked != 0)
        return 17;
    return 0;
}

static void mlockall_in_this_image(void **state)
{
    (void)state;
    assert_int_equal(in_child_exit(lock_everything), 0);
}

/* gjbmem_vmm_show: the summary on stdout, and -1 when stdout fails. */
static int show_to(const char *path)
{
    if (freopen(path, "w", stdout) == NULL)
        return 3;
    setvbuf(stdout, NULL, _IONBF, 0);
    return gjbmem_vmm_show() == 0 ? 0 : 1;
}

static int show_to_full(void)
{
    return show_to("/dev/full");
}

static int show_to_null(void)
{
    return show_to("/dev/null");
}

static void show_reports_output_errors(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    assert_int_equal(in_child_exit(show_to_full), 1);
    assert_int_equal(in_child_exit(show_to_null), 0);
}

/* shm names "." and ".." (with or without the leading slash) are refused
 * before the host is asked. */
static void shm_dot_names(void **state)
{
    (void)state;
    size_t opened = vmm_now().shm_opened;
    EXPECT_ERR(gjbmem_shm_open(".", O_RDWR | O_CREAT, 0600), EINVAL);
    EXPECT_ERR(gjbmem_shm_open("/..", O_RDWR | O_CREAT, 0600), EINVAL);
    EXPECT_ERR(gjbmem_shm_unlink(".."), EINVAL);
    EXPECT_ERR(gjbmem_shm_unlink("/."), EINVAL);
    assert_int_equal(vmm_now().shm_opened, opened);
}

/* Fuzzer finding (regression mremap-huge-einval): growing beyond what the
 * host can provide is ENOMEM, and the mapping is intact. */
static void remap_beyond_the_address_space(void **state)
{
    (void)state;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *a = gjbmem_mmap(NULL, 6 * pg, RW, ANON, -1, 0);
    assert_ptr_not_equal(a, MAP_FAILED);
    a[0] = 7;
    errno = 0;
#if GJB_TEST_LP64
    const size_t huge = (size_t)1 << 57;
#else
    const size_t huge = TOO_MUCH_FOR_ILP32;
#endif
    assert_ptr_equal(gjbmem_mremap(a, 6 * pg, huge, MREMAP_MAYMOVE), MAP_FAILED);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(a[0], 7);
    assert_int_equal(gjbmem_munmap(a, 6 * pg), 0);
}

/* Fuzzer finding (regression mremap-after-madvise-efault): advice on part of
 * a mapping splits the kernel's area; resizing the whole mapping still works
 * and keeps the contents. */
static void remap_after_partial_advice(void **state)
{
    (void)state;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *a = gjbmem_mmap(NULL, 7 * pg, RW, ANON, -1, 0);
    assert_ptr_not_equal(a, MAP_FAILED);
    for (size_t i = 0; i < 7; i++)
        a[i * pg] = (unsigned char)(i + 1);
    assert_int_equal(gjbmem_posix_madvise(a + 3 * pg, 4 * pg, POSIX_MADV_RANDOM), 0);
    unsigned char *b = gjbmem_mremap(a, 7 * pg, 8 * pg, MREMAP_MAYMOVE);
    assert_ptr_not_equal(b, MAP_FAILED);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(b[i * pg], i + 1);
    b[7 * pg] = 8;
    assert_int_equal(gjbmem_munmap(b, 8 * pg), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lengths_that_overflow),
        cmocka_unit_test(full_registry_refuses_lock_and_remap),
        cmocka_unit_test(remap_a_file_mapping),
        cmocka_unit_test(stale_records_are_replaced),
        cmocka_unit_test(msync_passes_host_errors_on),
        cmocka_unit_test(mlockall_in_this_image),
        cmocka_unit_test(show_reports_output_errors),
        cmocka_unit_test(shm_dot_names),
        cmocka_unit_test(remap_beyond_the_address_space),
        cmocka_unit_test(remap_after_partial_advice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
