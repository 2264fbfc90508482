/*
 * vmm_helpers.h - shared by the mapping-layer tests: temporary files that
 * are removed again, page size, registry deltas, mapped-ness of pages.
 */
#ifndef VMM_HELPERS_H
#define VMM_HELPERS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gjbmem/vmm.h>

#define SENTINEL 7714 /* errno value a successful call must leave alone */

/* cmocka checks: failure with code / success with errno untouched. */
#define EXPECT_MAP_ERR(call, code)                 \
    do {                                           \
        errno = SENTINEL;                          \
        assert_ptr_equal((call), MAP_FAILED);      \
        assert_int_equal(errno, (code));           \
    } while (0)
#define EXPECT_ERR(call, code)                     \
    do {                                           \
        errno = SENTINEL;                          \
        assert_int_equal((call), -1);              \
        assert_int_equal(errno, (code));           \
    } while (0)
#define EXPECT_OK(call)                            \
    do {                                           \
        errno = SENTINEL;                          \
        assert_int_equal((call), 0);               \
        assert_int_equal(errno, SENTINEL);         \
    } while (0)

static inline size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* A new temporary file of len bytes (pattern byte fill), opened O_RDWR;
 * its name goes to path (unlinked by the caller with unlink(path)). */
static inline int temp_file(char path[64], size_t len, int fill)
{
    snprintf(path, 64, "/tmp/gjbmem_vmm_%ld_XXXXXX", (long)getpid());
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    char buf[512];
    memset(buf, fill, sizeof buf);
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof buf ? len - done : sizeof buf;
        if (write(fd, buf, n) != (ssize_t)n)
            return -1;
        done += n;
    }
    return fd;
}

/* True when every page of [p, p+len) is mapped in this process. */
static inline int pages_mapped(void *p, size_t len)
{
    unsigned char vec[256];
    int saved = errno;
    int ok = len / page_size() <= sizeof vec && mincore(p, len, vec) == 0;
    errno = saved;
    return ok;
}

static inline struct gjbmem_vmm_stats vmm_now(void)
{
    struct gjbmem_vmm_stats s;
    gjbmem_vmm_stats(&s);
    return s;
}

/* Runs fn in a forked child; returns its exit status (or -1 on a signal). */
static inline int in_child(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
