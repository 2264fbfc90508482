/*
 * test_vmm_xproc.c - two processes, each with its own mapping: a shm_open
 * object and a MAP_SHARED file mapping. The writes of one are seen by the
 * other while both are mapped (hand-over through pipes, no timing), and
 * after msync(MS_SYNC) a plain read() of the file sees them.
 */
#include "vmm_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <mman.h> /* standard names -> gjbmem_ */

static char shm_name[64], file_path[64];

/* Maps the object: the shm one when path is NULL. */
static char *map_object(const char *path, int *fd)
{
    *fd = path ? open(path, O_RDWR) : shm_open(shm_name, O_RDWR, 0);
    if (*fd < 0)
        return MAP_FAILED;
    return mmap(NULL, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
}

static int wait_byte(int fd)
{
    char c;
    return read(fd, &c, 1) == 1 ? 0 : -1;
}

static int post_byte(int fd)
{
    return write(fd, "x", 1) == 1 ? 0 : -1;
}

/* Child: writes "child", syncs, tells the parent, waits, checks "parent". */
static int child_side(const char *path, int to_parent, int from_parent)
{
    int fd;
    char *m = map_object(path, &fd);
    if (m == MAP_FAILED)
        return 10;
    strcpy(m, "child");
    if (msync(m, page_size(), MS_SYNC) != 0)
        return 11;
    if (post_byte(to_parent) || wait_byte(from_parent))
        return 12;
    int ok = strcmp(m + 100, "parent") == 0;
    munmap(m, page_size());
    close(fd);
    return ok ? 0 : 13;
}

static void exchange(const char *path)
{
    int fd;
    char *m = map_object(path, &fd);
    assert_ptr_not_equal(m, MAP_FAILED);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        munmap(m, page_size()); /* the child uses a mapping of its own */
        close(up[0]), close(down[1]);
        _exit(child_side(path, up[1], down[0]));
    }
    close(up[1]), close(down[0]); /* a dead peer then reads as EOF */
    assert_int_equal(wait_byte(up[0]), 0);
    assert_string_equal(m, "child");
    char buf[8] = {0};
    assert_int_equal(pread(fd, buf, 5, 0), 5);
    assert_string_equal(buf, "child");
    strcpy(m + 100, "parent");
    assert_int_equal(msync(m, page_size(), MS_SYNC), 0);
    assert_int_equal(post_byte(down[1]), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(pread(fd, buf, 7, 100), 7);
    assert_string_equal(buf, "parent");
    assert_int_equal(munmap(m, page_size()), 0);
    close(fd);
    close(up[0]), close(down[1]);
}

static void shm_object_between_processes(void **state)
{
    (void)state;
    snprintf(shm_name, sizeof shm_name, "/gjbmem_test_xproc_%ld", (long)getpid());
    int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)page_size()), 0);
    close(fd);
    exchange(NULL);
    assert_int_equal(shm_unlink(shm_name), 0);
}

static void shared_file_between_processes(void **state)
{
    (void)state;
    int fd = temp_file(file_path, page_size(), 0);
    assert_true(fd >= 0);
    close(fd);
    exchange(file_path);
    unlink(file_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shm_object_between_processes),
        cmocka_unit_test(shared_file_between_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
