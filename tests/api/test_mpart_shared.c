/*
 * test_mpart_shared.c - partitions in shared memory (docs/SHARED.md): the
 * calls of include/gjbmem/mpart.h, every refusal, the same memory seen at
 * two addresses in one process and in a child, the open count across
 * processes (delete refused while another process has it open), and
 * headers and metadata that are damaged, truncated, of another version or
 * hostile. The crash recovery and the stress test: tests/shm/.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "capture.h"

#include <pthread.h>

#include "gjbext.h"
#include "gjbmem/sysheap.h"
#include "gjbmem/config.h"
#include "engine/heap_internal.h" /* the descriptor's fields another process damages */
#include "gjbmem/port.h"
#include "gjbmem/posix.h"
#include "core/mpart_shared.h" /* gjb_shp_layout: where the lock lies */

#define SIZE (256u * 1024u)

static char name[64];

/* Shared partitions exist at hardening level 1 only (guard words hold
 * addresses): elsewhere every call is refused with ENOTSUP, which
 * shared_unavailable checks once. */
#define NEEDS_SHARING()                                                                            \
    do {                                                                                           \
        if (GJBMEM_HARDENING != 1)                                                                 \
            skip();                                                                                \
    } while (0)

static int setup(void **state)
{
    (void)state;
    snprintf(name, sizeof name, "/gjbmem-shp-%ld", (long)getpid());
    shm_unlink(name);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    shm_unlink(name);
    return 0;
}

/* A fresh MAP_SHARED mapping of a new memfd, and a second mapping of it. */
static char *two_views(size_t size, char **second)
{
    int fd = memfd_create("gjbmem-test", 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    char *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_ptr_not_equal(a, MAP_FAILED);
    assert_ptr_not_equal(b, MAP_FAILED);
    assert_ptr_not_equal(a, b);
    *second = b;
    return a;
}

static void shared_unavailable(void **state)
{
    (void)state;
    if (GJBMEM_HARDENING == 1)
        skip();
    mpart_id mid;
    char buf[4096];
    errno = 0;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &mid), -1);
    assert_int_equal(errno, ENOTSUP);
    assert_int_equal(mpart_create_in(buf, sizeof buf, FIRST_FIT_ALLOCATION, &mid), -1);
    assert_int_equal(errno, ENOTSUP);
}

static void show_err(void)
{
    gjbmem_mem_show_to(2);
}

/* Two ids of one named partition, each with its own mapping: a block
 * allocated through one is read, resized and freed through the other. */
static void named_two_mappings(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id a, b;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &a), 0);
    /* a free lock opens at once, whatever the wait is set to (odd settings:
     * the default, 5 s) */
    static const char *const waits[] = {"0", "", "99999999999", "86400001", "12"};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        setenv("GJBMEM_SHM_OPEN_WAIT_MS", waits[i], 1);
        assert_int_equal(mpart_open_shared(name, &b), 0);
        assert_int_equal(mpart_validate(b), 0);
        assert_int_equal(mpart_close_shared(b), 0);
    }
    setenv("GJBMEM_SHM_OPEN_WAIT_MS", "9x", 1); /* not a number: the default, 5 s */
    assert_int_equal(mpart_open_shared(name + 1, &b), 0); /* without the '/' too */
    unsetenv("GJBMEM_SHM_OPEN_WAIT_MS");
    assert_true(a != b);
    char *p = mpart_alloc(a, 100);
    assert_non_null(p);
    memset(p, 0x5a, 100);
    long off = mpart_to_offset(a, p);
    assert_true(off > 0);
    char *q = mpart_from_offset(b, off);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
    assert_int_equal(q[0], 0x5a);
    assert_int_equal(q[99], 0x5a);
    q = mpart_realloc(b, q, 5000);
    assert_non_null(q);
    assert_int_equal(q[99], 0x5a);
    char *r = mpart_memalign(b, 256, 64);
    assert_non_null(r);
    assert_int_equal(mpart_to_offset(b, r) % 256, 0); /* both mappings are page-aligned */
    assert_int_equal(mpart_validate(a), 0);
    assert_int_equal(mpart_free(b, q), 0);
    assert_int_equal(mpart_free(a, mpart_from_offset(a, mpart_to_offset(b, r))), 0);
    struct partinfo pa, pb;
    assert_int_equal(mpart_getinfo(a, &pa), 0);
    assert_int_equal(mpart_getinfo(b, &pb), 0);
    assert_memory_equal(&pa, &pb, sizeof pa);
    /* mem_show has a row for each id, the same figures in both */
    char *table = capture(2, show_err);
    char ra[32], rb[32];
    snprintf(ra, sizeof ra, "mpart 0x%lx ", (unsigned long)a);
    snprintf(rb, sizeof rb, "mpart 0x%lx ", (unsigned long)b);
    const char *la = strstr(table, ra), *lb = strstr(table, rb);
    assert_non_null(la);
    assert_non_null(lb);
    assert_int_equal(strcspn(la, "\n") - strlen(ra), strcspn(lb, "\n") - strlen(rb));
    assert_memory_equal(la + strlen(ra), lb + strlen(rb), strcspn(la, "\n") - strlen(ra));
    free(table);
    assert_int_equal(mpart_validate(b), 0);
    assert_int_equal(mpart_close_shared(b), 0);
    assert_null(mpart_alloc(b, 8));
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    assert_int_equal(mpart_delete(a), 0);
    assert_int_equal(shm_unlink(name), -1); /* delete unlinked it */
    assert_int_equal(errno, ENOENT);
}

static void named_refusals(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id a, b;
    errno = 0;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_shared(name, SIZE, 7, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_shared(name, 100, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_shared(name, 1200, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL); /* the header fits, the heap does not */
    assert_int_equal(mpart_create_shared(name, (size_t)INTPTR_MAX + 1, BUDDY_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_shared(name, SIZE_MAX, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_open_shared(name, &a), -1);
    assert_int_equal(errno, ENOENT); /* and nothing was left behind */
    assert_int_equal(mpart_create_shared(NULL, SIZE, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_shared("a/b", SIZE, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_shared("", SIZE, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(mpart_create_shared(longname, SIZE, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(mpart_open_shared(name, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_open_shared(NULL, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_shared(name, SIZE, BUDDY_ALLOCATION, &a), 0);
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &b), -1);
    assert_int_equal(errno, EEXIST);
    /* addmem: only memory of the same object, which the heap holds */
    static char outside[4096];
    assert_int_equal(mpart_addmem(a, outside, sizeof outside), -1);
    assert_int_equal(errno, EXDEV);
    char *p = mpart_alloc(a, 64);
    assert_non_null(p);
    assert_int_equal(mpart_addmem(a, p, 64), -1);
    assert_int_equal(errno, ERROR_KERNEL_MEMORY);
    /* delete with a block allocated */
    assert_int_equal(mpart_delete(a), -1);
    assert_int_equal(errno, EBUSY);
    /* the id without its shared bit (mpart.c: the id layout) names nothing */
    mpart_id unshared = a & ~((mpart_id)1 << 8);
    assert_null(mpart_alloc(unshared, 64));
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    assert_int_equal(mpart_free(unshared, p), -1);
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    assert_null(mpart_realloc(unshared, p, 64));
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    assert_int_equal(mpart_validate(unshared), -1);
    assert_int_equal(mpart_usable_size(unshared, p), 0);
    /* ids with the shared bit that name no slot (index 0 or past the table) */
    static const mpart_id bad_shared[] = {0x100, 0x1ff, 0x1c0, ((mpart_id)7 << 9) | 0x1ff};
    for (size_t i = 0; i < sizeof bad_shared / sizeof bad_shared[0]; i++) {
        mpart_id bad = bad_shared[i];
        struct partinfo info;
        size_t most;
        assert_null(mpart_alloc(bad, 64));
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
        assert_int_equal(mpart_free(bad, p), -1);
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
        assert_null(mpart_memalign(bad, 64, 64));
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
        assert_int_equal(mpart_validate(bad), -1);
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
        assert_int_equal(mpart_getinfo(bad, &info), -1);
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
        assert_int_equal(mpart_findmaxfree_size(bad, &most), -1);
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    }
    /* the engine's refusals on a shared partition */
    assert_null(mpart_alloc(a, SIZE_MAX / 2));
    assert_int_equal(errno, ERROR_REGION_SIZE);
    assert_null(mpart_alloc(a, 0));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_free(a, p + 8), -1); /* not a block's start */
    assert_int_equal(errno, ERROR_REGION_NULL);
    assert_int_equal(mpart_free(a, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_validate(a), 0);
    assert_int_equal(mpart_free(a, p), 0);
    /* offsets */
    assert_int_equal(mpart_to_offset(a, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_to_offset(a, outside), -1);
    assert_int_equal(errno, EINVAL);
    assert_null(mpart_from_offset(a, -1));
    assert_int_equal(errno, EINVAL);
    assert_null(mpart_from_offset(a, 0)); /* the header */
    assert_int_equal(errno, EINVAL);
    assert_null(mpart_from_offset(a, (long)SIZE));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_to_offset(0, outside), -1);
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    assert_null(mpart_from_offset(0, 4096));
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    /* calls that want a shared partition, given a private one */
    mpart_id priv;
    assert_int_equal(mpart_create(outside, sizeof outside, &priv), 0);
    assert_int_equal(mpart_close_shared(priv), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_to_offset(priv, outside + 64), -1);
    assert_int_equal(errno, EINVAL);
    assert_null(mpart_from_offset(priv, 64));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_delete(priv), 0);
    assert_int_equal(mpart_close_shared(0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_delete(a), 0);
    assert_int_equal(mpart_close_shared(a), -1); /* stale */
    assert_int_equal(errno, EINVAL);
}

/* mpart_create_in over one mapping, mpart_attach over another of the same
 * memory: different addresses in one process. */
static void attach_at_another_address(void **state)
{
    (void)state;
    NEEDS_SHARING();
    char *second, *first = two_views(SIZE, &second);
    mpart_id a, b;
    errno = 0;
    assert_int_equal(mpart_create_in(NULL, SIZE, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_in(first, SIZE, FIRST_FIT_ALLOCATION, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_in(first, SIZE, 9, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_in(first, 10, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_in(first, SIZE * 64, FIRST_FIT_ALLOCATION, &a), -1);
    assert_int_equal(errno, EINVAL); /* not all mapped */
    assert_int_equal(mpart_attach(second, &b), -1);
    assert_int_equal(errno, EINVAL); /* nothing there yet */
    assert_int_equal(mpart_create_in(first + 8, SIZE - 8, FIRST_FIT_ALLOCATION, &a), 0);
    assert_int_equal(mpart_create_in(first, SIZE, FIRST_FIT_ALLOCATION, &b), -1);
    assert_int_equal(errno, EINVAL); /* already a partition's */
    char buf[64];
    mpart_id priv;
    assert_int_equal(mpart_create(first + 4096, 4096, &priv), -1); /* nor a private one's */
    assert_int_equal(mpart_create(buf, 0, &priv), -1);
    assert_int_equal(mpart_attach(NULL, &b), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_attach(second, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_attach(second + 8, &b), 0);
    void *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = mpart_alloc(i % 2 ? a : b, (size_t)(16 + 40 * i));
        assert_non_null(blocks[i]);
        memset(blocks[i], i, (size_t)(16 + 40 * i));
    }
    for (int i = 0; i < 64; i++) {
        mpart_id other = i % 2 ? b : a;
        unsigned char *q = mpart_from_offset(other, mpart_to_offset(i % 2 ? a : b, blocks[i]));
        assert_non_null(q);
        assert_int_equal(q[0], i);
        assert_int_equal(q[15 + 40 * i], i);
        assert_int_equal(mpart_free(other, (char *)q), 0);
    }
    assert_int_equal(mpart_validate(a), 0);
    assert_int_equal(mpart_validate(b), 0);
    /* one process, two ids: delete needs no other process */
    assert_int_equal(mpart_delete(b), 0);
    assert_null(mpart_alloc(a, 8)); /* deleted under a's feet */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_close_shared(a), 0);
    assert_int_equal(mpart_attach(first + 8, &a), -1);
    assert_int_equal(errno, ENOENT);
    munmap(first, SIZE);
    munmap(second, SIZE);
}

/* A BUDDY partition opened at a second mapping: the library maps it where
 * its blocks line up. */
static void buddy_lines_up(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id a, b;
    assert_int_equal(mpart_create_shared(name, SIZE, BUDDY_ALLOCATION, &a), 0);
    assert_int_equal(mpart_open_shared(name, &b), 0);
    char *p = mpart_memalign(a, 4096, 3000);
    assert_non_null(p);
    char *q = mpart_from_offset(b, mpart_to_offset(a, p));
    assert_int_equal((uintptr_t)q % 4096, 0);
    assert_int_equal(mpart_free(b, q), 0);
    assert_int_equal(mpart_validate(a), 0);
    assert_int_equal(mpart_close_shared(b), 0);
    assert_int_equal(mpart_delete(a), 0);
}

static int post(int fd, long v)
{
    return write(fd, &v, sizeof v) == (ssize_t)sizeof v ? 0 : -1;
}

static long take(int fd)
{
    long v = -1;
    return read(fd, &v, sizeof v) == (ssize_t)sizeof v ? v : -1;
}

/* Child of forked_processes: opens the partition itself (its own mapping),
 * allocates a block, fills it, hands its offset over, waits, and exits
 * without closing (its count goes when it is gone). */
static int child_side(int to_parent, int from_parent, bool by_name, char *inherited)
{
    mpart_id m;
    if ((by_name ? mpart_open_shared(name, &m) : mpart_attach(inherited, &m)) != 0)
        return 10;
    char *p = mpart_alloc(m, 1000);
    if (!p)
        return 11;
    memset(p, 0x77, 1000);
    if (post(to_parent, mpart_to_offset(m, p)) || take(from_parent) != 1)
        return 12;
    return mpart_validate(m) == 0 ? 0 : 13;
}

static void forked(bool by_name)
{
    mpart_id m;
    char *mem = NULL;
    if (by_name) {
        assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    } else {
        mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_ptr_not_equal(mem, MAP_FAILED);
        assert_int_equal(mpart_create_in(mem, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    }
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_side(up[1], down[0], by_name, mem));
    long off = take(up[0]);
    assert_true(off > 0);
    unsigned char *p = mpart_from_offset(m, off);
    assert_non_null(p);
    assert_int_equal(p[0], 0x77);
    assert_int_equal(p[999], 0x77);
    assert_int_equal(mpart_free(m, (char *)p), 0);
    errno = 0;
    assert_int_equal(mpart_delete(m), -1); /* the child has it open */
    assert_int_equal(errno, EBUSY);
    assert_int_equal(post(down[1], 1), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(mpart_validate(m), 0);
    assert_int_equal(mpart_delete(m), 0); /* the child is gone */
    close(up[0]), close(up[1]), close(down[0]), close(down[1]);
    if (mem)
        munmap(mem, SIZE);
}

static void forked_by_name(void **state)
{
    (void)state;
    NEEDS_SHARING();
    forked(true);
}

static void forked_anonymous(void **state)
{
    (void)state;
    NEEDS_SHARING();
    forked(false);
}

/* --- untrusted memory */

/* Writes bytes into the object `name` at off. */
static void poke(long off, const void *bytes, size_t n)
{
    int fd = shm_open(name, O_RDWR, 0);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

static void peek(long off, void *bytes, size_t n)
{
    int fd = shm_open(name, O_RDONLY, 0);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

static void expect_open_refused(int err)
{
    mpart_id m;
    errno = 0;
    assert_int_equal(mpart_open_shared(name, &m), -1);
    assert_int_equal(errno, err);
}

/* A partition made and let go (its name stays). */
static void make_closed(void)
{
    mpart_id m;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    assert_non_null(mpart_alloc(m, 300));
    assert_int_equal(mpart_close_shared(m), 0);
}

static void damaged_headers(void **state)
{
    (void)state;
    NEEDS_SHARING();
    static const size_t fields[] = {0, 4, 8, 12, 14, 16, 24, 32, 40, 48};
    uint32_t junk = 0xdeadbeefu;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        make_closed();
        uint32_t old;
        peek((long)fields[i], &old, sizeof old);
        poke((long)fields[i], &junk, sizeof junk);
        expect_open_refused(EINVAL);
        poke((long)fields[i], &old, sizeof old);
        mpart_id m;
        assert_int_equal(mpart_open_shared(name, &m), 0); /* restored: opens again */
        assert_int_equal(mpart_validate(m), 0);
        assert_int_equal(mpart_close_shared(m), 0);
        assert_int_equal(shm_unlink(name), 0);
    }
    /* an object too short for the header, and one shorter than it says */
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 100), 0);
    expect_open_refused(EINVAL);
    close(fd);
    shm_unlink(name);
    make_closed();
    fd = shm_open(name, O_RDWR, 0);
    assert_int_equal(ftruncate(fd, SIZE / 2), 0);
    close(fd);
    expect_open_refused(EINVAL);
    shm_unlink(name);
    /* zeros, and random bytes */
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_int_equal(ftruncate(fd, SIZE), 0);
    close(fd);
    expect_open_refused(EINVAL);
    unsigned char noise[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
    poke(0, noise, sizeof noise);
    expect_open_refused(EINVAL);
    shm_unlink(name);
}

/* Damage past the header: the heap's descriptor and blocks. Found when
 * opened, nothing written. */
static void damaged_metadata(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id m;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    long heap = mpart_to_offset(m, mpart_alloc(m, 16)) - 8; /* a block's header */
    assert_int_equal(mpart_close_shared(m), 0);
    unsigned char before[SIZE / 4], after[SIZE / 4];
    long spots[] = {heap, heap - 512, heap - 400, heap - 300, heap - 200, heap + 8, heap + 40};
    int refused = 0;
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        uint64_t old, bad = 0x7ffffffffff0ULL;
        peek(spots[i], &old, sizeof old);
        poke(spots[i], &bad, sizeof bad);
        peek(0, before, sizeof before);
        int rc = mpart_open_shared(name, &m);
        if (rc == 0) { /* a word the heap does not read when valid */
            assert_int_equal(mpart_validate(m), 0);
            assert_int_equal(mpart_close_shared(m), 0);
        } else {
            assert_int_equal(errno, EINVAL);
            refused++;
            peek(0, after, sizeof after);
            assert_memory_equal(before, after, sizeof before); /* nothing written */
        }
        poke(spots[i], &old, sizeof old);
    }
    assert_true(refused >= 3); /* the block's header, its size, the descriptor */
    assert_int_equal(mpart_open_shared(name, &m), 0);
    assert_int_equal(mpart_validate(m), 0);
    /* a deleted partition is not opened again */
    assert_int_equal(mpart_close_shared(m), 0);
    assert_int_equal(mpart_open_shared(name, &m), 0);
    char *p = mpart_from_offset(m, heap + 8);
    assert_int_equal(mpart_free(m, p), 0);
    int again = shm_open(name, O_RDWR, 0); /* keep the name for a moment */
    assert_int_equal(mpart_delete(m), 0);
    close(again);
    expect_open_refused(ENOENT);
}


/* --- looking from outside, interrupt context, full tables */

/* Another process rewrites the descriptor of an open partition: its region
 * table far outside the memory. mpart_validate reports damage and
 * mpart_blocks refuses, without reading through it (before, both read the
 * table wherever it said); mended, both work again. */
static void damaged_descriptor_of_an_open_partition(void **state)
{
    (void)state;
    NEEDS_SHARING();
    for (int policy = FIRST_FIT_ALLOCATION; policy <= BUDDY_ALLOCATION; policy++) {
        mpart_id m;
        assert_int_equal(mpart_create_shared(name, SIZE, policy, &m), 0);
        char *p = mpart_alloc(m, 100);
        assert_non_null(p);
        uint64_t heap;
        peek(24, &heap, sizeof heap); /* the header's heap_off (mpart_shared.c) */
        long at = (long)heap + (long)offsetof(struct gjb_heap, regions);
        long n_at = (long)heap + (long)offsetof(struct gjb_heap, nregions);
        long cap_at = (long)heap + (long)offsetof(struct gjb_heap, region_cap);
        intptr_t regions, far = (intptr_t)1 << (sizeof(intptr_t) == 8 ? 40 : 29);
        uint32_t nregions, cap, two = 2;
        peek(at, &regions, sizeof regions);
        peek(n_at, &nregions, sizeof nregions);
        peek(cap_at, &cap, sizeof cap);
        poke(at, &far, sizeof far);
        poke(n_at, &two, sizeof two);
        poke(cap_at, &two, sizeof two);
        errno = 0;
        assert_int_equal(mpart_validate(m), -1);
        assert_int_equal(errno, ERROR_KERNEL_MEMORY);
        struct mpart_block b[8];
        size_t count = 77;
        errno = 0;
        assert_int_equal(mpart_blocks(m, b, 8, &count), -1);
        assert_int_equal(errno, ERROR_KERNEL_MEMORY);
        assert_int_equal(count, 77);
        poke(at, &regions, sizeof regions);
        poke(n_at, &nregions, sizeof nregions);
        poke(cap_at, &cap, sizeof cap);
        assert_int_equal(mpart_validate(m), 0);
        assert_int_equal(mpart_blocks(m, b, 8, &count), 0);
        assert_true(count >= 2);
        assert_int_equal(mpart_free(m, p), 0);
        assert_int_equal(mpart_delete(m), 0);
    }
}

static void peek_from_outside(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id m;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    for (int i = 0; i < 5; i++)
        assert_non_null(mpart_alloc(m, 100));
    size_t size = 0, count = 0;
    struct gjbmem_heap_stats st, mine;
    static char buf[SIZE + 4096];
    struct mpart_block list[16];
    errno = 0;
    assert_int_equal(mpart_peek_shared(name, buf, sizeof buf, NULL, &st, list, 16, &count), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_peek_shared(name, buf, sizeof buf, &size, NULL, list, 16, &count), -1);
    assert_int_equal(mpart_peek_shared(name, buf, sizeof buf, &size, &st, list, 16, NULL), -1);
    assert_int_equal(mpart_peek_shared(name, buf, sizeof buf, &size, &st, NULL, 16, &count), -1);
    assert_int_equal(mpart_peek_shared(name, NULL, 10, &size, &st, list, 16, &count), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_peek_shared(name, NULL, 0, &size, &st, NULL, 0, &count), -1);
    assert_int_equal(errno, ERANGE);
    assert_int_equal(size, SIZE);
    assert_int_equal(mpart_peek_shared(name, buf, size, &size, &st, list, 2, &count), 0);
    assert_int_equal(count, 6); /* five blocks and the free rest, two of them copied */
    assert_int_equal(mpart_getstats(m, &mine), 0);
    assert_int_equal(st.alloc_blocks, mine.alloc_blocks);
    assert_int_equal(st.free, mine.free);
    assert_true(list[0].used && (char *)list[0].start >= buf && (char *)list[0].start < buf + SIZE);
    /* marked damaged, then damaged metadata (never consistent) */
    uint32_t damaged = 2, live = 1;
    poke(48, &damaged, sizeof damaged);
    assert_int_equal(mpart_peek_shared(name, buf, size, &size, &st, list, 16, &count), -1);
    assert_int_equal(errno, ENOTRECOVERABLE);
    poke(48, &live, sizeof live);
    char *p = mpart_alloc(m, 100);
    uint64_t bad = 3, old;
    long off = mpart_to_offset(m, p) - 8;
    peek(off, &old, sizeof old);
    poke(off, &bad, sizeof bad);
    assert_int_equal(mpart_peek_shared(name, buf, size, &size, &st, list, 16, &count), -1);
    assert_int_equal(errno, EAGAIN);
    poke(off, &old, sizeof old);
    assert_int_equal(mpart_close_shared(m), 0);
    /* no such object, a short one, junk */
    assert_int_equal(mpart_peek_shared("/gjbmem-none", buf, size, &size, &st, list, 16, &count), -1);
    assert_int_equal(errno, ENOENT);
    int fd = shm_open(name, O_RDWR, 0);
    assert_int_equal(ftruncate(fd, 100), 0);
    assert_int_equal(mpart_peek_shared(name, buf, size, &size, &st, list, 16, &count), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(ftruncate(fd, SIZE), 0); /* the header's first 100 bytes, zeros after */
    assert_int_equal(mpart_peek_shared(name, buf, size, &size, &st, list, 16, &count), -1);
    assert_int_equal(errno, EAGAIN); /* a header, no heap: never consistent */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(ftruncate(fd, SIZE), 0); /* all zeros */
    close(fd);
    assert_int_equal(mpart_peek_shared(name, buf, size, &size, &st, list, 16, &count), -1);
    assert_int_equal(errno, EINVAL);
    shm_unlink(name);
    /* BUDDY: the copy lies where its blocks line up (room for that) */
    assert_int_equal(mpart_create_shared(name, SIZE, BUDDY_ALLOCATION, &m), 0);
    assert_non_null(mpart_alloc(m, 1000));
    assert_int_equal(mpart_peek_shared(name, NULL, 0, &size, &st, NULL, 0, &count), -1);
    assert_true(size > SIZE);
    char *big = malloc(size);
    assert_non_null(big);
    assert_int_equal(mpart_peek_shared(name, big, size, &size, &st, list, 16, &count), 0);
    assert_int_equal(st.alloc_blocks, 1);
    free(big);
    assert_int_equal(mpart_delete(m), -1); /* its block */
    assert_int_equal(errno, EBUSY);
    assert_int_equal(mpart_close_shared(m), 0);
}

/* Another process shrinks the object and grows it back, again and again,
 * while it is looked at from outside: each look reads the object (a short
 * read: it tries again) and never touches a page the object no longer has
 * (before, it mapped and copied it: SIGBUS). Nothing else counts here: the
 * heap past the first page is zeros once it has been shrunk. */
static void peek_while_the_object_shrinks(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id m;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = shm_open(name, O_RDWR, 0);
        for (int i = 0; fd >= 0 && i < 20000; i++)
            if (ftruncate(fd, i % 2 ? SIZE : 4096) != 0)
                break;
        _exit(0);
    }
    static char buf[SIZE + 4096];
    struct gjbmem_heap_stats st;
    struct mpart_block list[4];
    size_t size, count;
    int looks = 0, unexpected = 0, status;
    do { /* (at least one look, however soon the child is done) */
        errno = 0;
        int rc = mpart_peek_shared(name, buf, sizeof buf, &size, &st, list, 4, &count);
        unexpected += rc != 0 && errno != EAGAIN && errno != EINVAL && errno != ERANGE;
        looks++;
    } while (waitpid(child, &status, WNOHANG) == 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(looks > 0);
    assert_int_equal(unexpected, 0);
    int fd = shm_open(name, O_RDWR, 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, SIZE), 0);
    close(fd);
    assert_int_equal(mpart_close_shared(m), 0); /* (the name goes in teardown) */
}

static void interrupt_context_refused(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id m;
    char buf[8192];
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    gjbmem_posix_set_isr(1);
    errno = 0;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), -1);
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    assert_int_equal(mpart_open_shared(name, &m), -1);
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    assert_int_equal(mpart_create_in(buf, sizeof buf, FIRST_FIT_ALLOCATION, &m), -1);
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    assert_int_equal(mpart_attach(buf, &m), -1);
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    assert_int_equal(mpart_close_shared(m), -1);
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    struct partinfo pi;
    assert_int_equal(mpart_getinfo(m, &pi), -1); /* a shared partition never waits there */
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    gjbmem_posix_set_isr(0);
    assert_int_equal(mpart_delete(m), 0);
}

static void tables_full(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id m, other;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    assert_int_equal(mpart_module_init(1), 0);
    errno = 0;
    assert_int_equal(mpart_open_shared(name, &other), -1);
    assert_int_equal(errno, ENOSPC);
    shm_unlink("/gjbmem-second");
    assert_int_equal(mpart_create_shared("/gjbmem-second", SIZE, FIRST_FIT_ALLOCATION, &other), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(shm_unlink("/gjbmem-second"), -1); /* nothing left behind */
    assert_int_equal(mpart_module_init(MPART_MAX_PARTS), 0);
    /* the table of processes: every entry taken by a live process */
    struct {
        int32_t pid, opens;
    } procs[64];
    size_t lock_off, lock_len, hdr_bytes;
    gjb_shp_layout(&lock_off, &lock_len, &hdr_bytes);
    long at = (long)(lock_off + lock_len), parent = (long)getppid();
    peek(at, procs, sizeof procs);
    for (int i = 0; i < 64; i++)
        procs[i].pid = (int32_t)parent, procs[i].opens = 1;
    poke(at, procs, sizeof procs);
    assert_int_equal(mpart_open_shared(name, &other), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(mpart_delete(m), -1); /* and they have it open */
    assert_int_equal(errno, EBUSY);
    memset(procs, 0, sizeof procs);
    poke(at, procs, sizeof procs);
    assert_int_equal(mpart_delete(m), 0);
}

/* --- a process that dies holding the lock (taken by hand here: the kills
 * inside operations are tests/shm/test_shm_crash.c) */

/* Forks a child that takes the lock of the partition in mem, sets the
 * intent record to op, optionally spoils 8 bytes at spoil, and dies. */
static void die_holding(char *mem, uint32_t op, long spoil)
{
    size_t lock_off, lock_len, hdr_bytes;
    gjb_shp_layout(&lock_off, &lock_len, &hdr_bytes);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (gjb_port_shlock_take((gjb_port_shlock *)(void *)(mem + lock_off)) != GJB_SHLOCK_OK)
            _exit(1);
        memcpy(mem + 52, &op, sizeof op);
        if (spoil)
            memset(mem + spoil, 0x33, 8);
        raise(SIGKILL);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
}

static void recovery_paths(void **state)
{
    (void)state;
    NEEDS_SHARING();
    char *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(mem, MAP_FAILED);
    mpart_id m, again;
    assert_int_equal(mpart_create_in(mem, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    char *p = mpart_alloc(m, 300);
    assert_non_null(p);
    for (uint32_t op = 0; op <= 4; op++) { /* none, alloc, free, realloc, addmem */
        die_holding(mem, op, 0);
        assert_int_equal(mpart_validate(m), 0);
    }
    die_holding(mem, 2, 0); /* found by an opener */
    assert_int_equal(mpart_attach(mem, &again), 0);
    assert_int_equal(mpart_close_shared(again), 0);
    die_holding(mem, 2, 0); /* ... and by one that lets go */
    assert_int_equal(mpart_close_shared(m), 0);
    assert_int_equal(mpart_attach(mem, &m), 0);
    /* the descriptor's magic spoilt: beyond repair */
    size_t lock_off, lock_len, hdr_bytes;
    gjb_shp_layout(&lock_off, &lock_len, &hdr_bytes);
    die_holding(mem, 2, (long)hdr_bytes); /* the heap's descriptor follows the header */
    errno = 0;
    assert_int_equal(mpart_free(m, p), -1);
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_int_equal(mpart_delete(m), 0); /* damaged: with its block */
    /* BUDDY: validated, not repaired; ADDMEM likewise */
    assert_int_equal(mpart_create_in(mem, SIZE, BUDDY_ALLOCATION, &m), 0);
    assert_non_null(mpart_alloc(m, 300));
    die_holding(mem, 1, 0);
    assert_int_equal(mpart_validate(m), 0);
    struct partinfo pi;
    assert_int_equal(mpart_getinfo(m, &pi), 0);
    assert_int_equal(mpart_close_shared(m), 0);
    munmap(mem, SIZE);
}

/* Offsets and addmem at the partition's edges; attach and create at
 * addresses that are not mapped. */
static void edges(void **state)
{
    (void)state;
    NEEDS_SHARING();
    char *second, *first = two_views(SIZE, &second);
    mpart_id m, priv;
    errno = 0;
    assert_int_equal(mpart_create_in(first + 8, 40, FIRST_FIT_ALLOCATION, &m), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_attach((void *)(uintptr_t)4096, &m), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create_in(first, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    assert_int_equal(mpart_to_offset(m, first), -1); /* the header */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_to_offset(m, first + SIZE), -1);
    assert_int_equal(errno, EINVAL);
    assert_true(mpart_to_offset(m, first + SIZE - 1) > 0);
    assert_int_equal(mpart_addmem(m, first + 64, 64), -1); /* inside the header */
    assert_int_equal(errno, EXDEV);
    assert_int_equal(mpart_addmem(m, first + 4096, SIZE), -1); /* past the end */
    assert_int_equal(errno, EXDEV);
    assert_int_equal(mpart_create(first + 4096, SIZE_MAX, &priv), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_delete(m), 0);
    munmap(first, SIZE);
    munmap(second, SIZE);
}

/* A holder that never lets go: an open gives up (ETIMEDOUT) instead of
 * waiting for ever. */
static void stuck_holder_times_out(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id m;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &m), 0);
    char *mem = mpart_from_offset(m, 0 + 4096);
    assert_non_null(mem);
    mem -= 4096; /* the header */
    size_t lock_off, lock_len, hdr_bytes;
    gjb_shp_layout(&lock_off, &lock_len, &hdr_bytes);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        gjb_port_shlock *lock = (gjb_port_shlock *)(void *)(mem + lock_off);
        if (gjb_port_shlock_take(lock) != GJB_SHLOCK_OK || write(up[1], "x", 1) != 1 ||
            read(down[0], &c, 1) != 1)
            _exit(1);
        gjb_port_shlock_release(lock);
        _exit(0);
    }
    char c;
    assert_int_equal(read(up[0], &c, 1), 1);
    setenv("GJBMEM_SHM_OPEN_WAIT_MS", "200", 1);
    mpart_id other;
    errno = 0;
    assert_int_equal(mpart_open_shared(name, &other), -1);
    assert_int_equal(errno, ETIMEDOUT);
    unsetenv("GJBMEM_SHM_OPEN_WAIT_MS");
    assert_int_equal(write(down[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(mpart_open_shared(name, &other), 0);
    assert_int_equal(mpart_close_shared(other), 0);
    assert_int_equal(mpart_delete(m), 0);
    close(up[0]), close(up[1]), close(down[0]), close(down[1]);
}

/* Threads of one process on one shared partition, through two ids (two
 * mappings): the shared lock alone keeps them apart. */
struct worker {
    mpart_id m;
    int rc;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char *mine[16] = {0};
    for (int i = 0; i < 20000 && !w->rc; i++) {
        int k = i % 16;
        if (mine[k]) {
            if (mine[k][0] != (char)k || mpart_free(w->m, mine[k]) != 0)
                w->rc = 1;
            mine[k] = NULL;
        } else if ((mine[k] = mpart_alloc(w->m, (size_t)(16 + 8 * i % 300))) != NULL) {
            mine[k][0] = (char)k;
        }
    }
    for (int k = 0; k < 16; k++)
        if (mine[k] && mpart_free(w->m, mine[k]) != 0)
            w->rc = 2;
    return NULL;
}

static void threads_share_one_partition(void **state)
{
    (void)state;
    NEEDS_SHARING();
    mpart_id a, b;
    assert_int_equal(mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &a), 0);
    assert_int_equal(mpart_open_shared(name, &b), 0);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){i % 2 ? a : b, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].rc, 0);
    }
    assert_int_equal(mpart_validate(a), 0);
    struct gjbmem_heap_stats st;
    assert_int_equal(mpart_getstats(b, &st), 0);
    assert_int_equal(st.alloc_blocks, 0);
    assert_int_equal(mpart_close_shared(b), 0);
    assert_int_equal(mpart_delete(a), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(shared_unavailable, setup, teardown),
        cmocka_unit_test_setup_teardown(named_two_mappings, setup, teardown),
        cmocka_unit_test_setup_teardown(named_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(attach_at_another_address, setup, teardown),
        cmocka_unit_test_setup_teardown(buddy_lines_up, setup, teardown),
        cmocka_unit_test_setup_teardown(forked_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(forked_anonymous, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_descriptor_of_an_open_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(peek_from_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(peek_while_the_object_shrinks, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupt_context_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(tables_full, setup, teardown),
        cmocka_unit_test_setup_teardown(recovery_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(edges, setup, teardown),
        cmocka_unit_test_setup_teardown(stuck_holder_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(threads_share_one_partition, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
