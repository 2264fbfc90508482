/*
 * test_vmm_lock.c - mlock, munlock, mlockall, munlockall: success and the
 * registry's locked bytes, bad flags, unmapped ranges, and EACCES for a
 * missing privilege or a hit lock limit, forced in a forked child with
 * RLIMIT_MEMLOCK (and, when run as root, after dropping to uid 65534), so
 * the test means the same as root and as an ordinary user.
 */
#include "vmm_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>

#define GJBMEM_NO_STD_NAMES
#include <mman.h>

/* AddressSanitizer replaces the host's mlock family with calls that do
 * nothing and return 0, so the kernel's answers are only checked without
 * it. */
#if defined(__SANITIZE_ADDRESS__)
#define HOST_LOCKS_REAL 0
#else
#define HOST_LOCKS_REAL 1
#endif

static char *anon(size_t len)
{
    char *p = gjbmem_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    return p;
}

/* Whether this process may lock n pages (root, or the limit allows it). */
static int may_lock(size_t n)
{
    struct rlimit rl;
    return getuid() == 0 ||
           (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur >= n * page_size() * 4);
}

static void lock_and_unlock_pages(void **state)
{
    (void)state;
    if (!may_lock(3))
        skip();
    size_t pg = page_size();
    struct gjbmem_vmm_stats base = vmm_now();
    char *p = anon(3 * pg);
    EXPECT_OK(gjbmem_mlock(p + pg, pg));
    struct gjbmem_vmm_stats s = vmm_now();
    assert_int_equal(s.bytes_locked, base.bytes_locked + pg);
    assert_int_equal(s.mappings, base.mappings + 3);
    EXPECT_OK(gjbmem_mlock(p, 3 * pg));
    assert_int_equal(vmm_now().bytes_locked, base.bytes_locked + 3 * pg);
    EXPECT_OK(gjbmem_munlock(p, 3 * pg));
    assert_int_equal(vmm_now().bytes_locked, base.bytes_locked);
    EXPECT_OK(gjbmem_munmap(p, 3 * pg));
    if (HOST_LOCKS_REAL)
        EXPECT_ERR(gjbmem_mlock(p, pg), ENOMEM);
}

static void mlockall_flags(void **state)
{
    (void)state;
    EXPECT_ERR(gjbmem_mlockall(0), EINVAL);
    EXPECT_ERR(gjbmem_mlockall(0x100), EINVAL);
#ifdef MCL_ONFAULT
    EXPECT_ERR(gjbmem_mlockall(MCL_ONFAULT), EINVAL);
#endif
}

static void drop_privilege(void)
{
    if (getuid() == 0 && setuid(65534) != 0)
        _exit(2);
}

static int locks_without_privilege(void)
{
    struct rlimit zero = {0, 0};
    if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0)
        return 3;
    drop_privilege();
    char *p = gjbmem_mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 4;
    errno = 0;
    if (gjbmem_mlock(p, page_size()) != -1 || errno != EACCES)
        return 5;
    errno = 0;
    if (gjbmem_mlockall(MCL_CURRENT) != -1 || errno != EACCES)
        return 6;
    errno = 0;
    if (gjbmem_mlockall(MCL_FUTURE) != -1 || errno != EACCES)
        return 7;
    return vmm_now().bytes_locked == 0 ? 0 : 8;
}

static int locks_over_the_limit(void)
{
    size_t pg = page_size();
    struct rlimit one = {pg, pg};
    if (setrlimit(RLIMIT_MEMLOCK, &one) != 0)
        return 3;
    drop_privilege();
    char *p = gjbmem_mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 4;
    errno = 0;
    if (gjbmem_mlock(p, 8 * pg) != -1 || errno != EACCES)
        return 5;
    return vmm_now().bytes_locked == 0 ? 0 : 8;
}

static void eacces_without_privilege(void **state)
{
    (void)state;
    if (!HOST_LOCKS_REAL)
        skip();
    assert_int_equal(in_child(locks_without_privilege), 0);
}

static void eacces_over_the_limit(void **state)
{
    (void)state;
    if (!HOST_LOCKS_REAL)
        skip();
    assert_int_equal(in_child(locks_over_the_limit), 0);
}

/* MCL_FUTURE: the next mapping is recorded locked; munlockall clears it. */
static int lock_future(void)
{
    size_t pg = page_size();
    size_t base = vmm_now().bytes_locked;
    if (gjbmem_mlockall(MCL_FUTURE) != 0)
        return 3;
    char *p = gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 4;
    if (vmm_now().bytes_locked != base + pg)
        return 5;
    int saved = errno = SENTINEL;
    if (gjbmem_munlockall() != 0 || errno != saved)
        return 6;
    if (vmm_now().bytes_locked != 0)
        return 7;
    return gjbmem_munmap(p, pg) == 0 ? 0 : 8;
}

static void mlockall_future_and_munlockall(void **state)
{
    (void)state;
    if (!may_lock(1))
        skip();
    assert_int_equal(in_child(lock_future), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lock_and_unlock_pages),
        cmocka_unit_test(mlockall_flags),
        cmocka_unit_test(eacces_without_privilege),
        cmocka_unit_test(eacces_over_the_limit),
        cmocka_unit_test(mlockall_future_and_munlockall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
