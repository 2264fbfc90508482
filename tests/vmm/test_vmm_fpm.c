/*
 * test_vmm_fpm.c - the fpm_shm_alloc/fpm_shm_free pair of
 * spec/fpm-shm.zh.md, kept as written (zlog becomes fprintf): shared
 * anonymous memory written by a forked child is read by the parent, and the
 * layer's running total of shared anonymous bytes (gjbmem_vmm_stats) moves
 * with the sample's own fpm_shm_size.
 */
#include "vmm_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <mman.h>

#define zlog(level, ...) fprintf(stderr, __VA_ARGS__)

static size_t fpm_shm_size = 0;

static void *fpm_shm_alloc(size_t size)
{
    void *mem;

    mem = mmap(0, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_SHARED, -1, 0);

#ifdef MAP_FAILED
    if (mem == MAP_FAILED) {
        zlog(ZLOG_SYSERROR, "unable to allocate %zu bytes in shared memory: %s", size, strerror(errno));
        return NULL;
    }
#endif

    if (!mem) {
        zlog(ZLOG_SYSERROR, "unable to allocate %zu bytes in shared memory", size);
        return NULL;
    }

    fpm_shm_size += size;
    return mem;
}

static int fpm_shm_free(void *mem, size_t size)
{
    if (!mem) {
        zlog(ZLOG_ERROR, "mem is NULL");
        return 0;
    }

    if (munmap(mem, size) == -1) {
        zlog(ZLOG_SYSERROR, "Unable to free shm");
        return 0;
    }

    if (fpm_shm_size - size > 0) {
        fpm_shm_size -= size;
    } else {
        fpm_shm_size = 0;
    }

    return 1;
}

static void shared_anonymous_memory_crosses_fork(void **state)
{
    (void)state;
    size_t pg = page_size();
    size_t base = vmm_now().shared_anon_bytes;
    int *a = fpm_shm_alloc(2 * pg);
    char *b = fpm_shm_alloc(pg);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(vmm_now().shared_anon_bytes - base, fpm_shm_size);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (size_t i = 0; i < 2 * pg / sizeof(int); i++)
            a[i] = (int)i * 3;
        strcpy(b, "written by the child");
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (size_t i = 0; i < 2 * pg / sizeof(int); i++)
        assert_int_equal(a[i], (int)i * 3);
    assert_string_equal(b, "written by the child");
    assert_int_equal(fpm_shm_free(b, pg), 1);
    assert_int_equal(vmm_now().shared_anon_bytes - base, fpm_shm_size);
    assert_int_equal(fpm_shm_free(a, 2 * pg), 1);
    assert_int_equal(fpm_shm_size, 0);
    assert_int_equal(vmm_now().shared_anon_bytes, base);
    assert_int_equal(fpm_shm_free(NULL, pg), 0);
}

/* Private anonymous and file mappings are not part of the total. */
static void total_counts_only_shared_anonymous(void **state)
{
    (void)state;
    size_t pg = page_size();
    size_t base = vmm_now().shared_anon_bytes;
    void *p = mmap(0, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    assert_int_equal(vmm_now().shared_anon_bytes, base);
    assert_int_equal(munmap(p, pg), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_anonymous_memory_crosses_fork),
        cmocka_unit_test(total_counts_only_shared_anonymous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
