/*
 * shared.c - what the POSIX port gives heaps in memory shared between
 * processes: a process-shared, robust pthread mutex that lives in that
 * memory, process ids, a probe of mapped pages and the few descriptor calls
 * a shared-memory object needs. None of these touches errno.
 */
#define _GNU_SOURCE /* pthread_mutexattr_setrobust on older glibc */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gjbmem/port.h"

_Static_assert(sizeof(pthread_mutex_t) <= GJB_PORT_SHLOCK_BYTES, "gjb_port_shlock too small");
_Static_assert(_Alignof(pthread_mutex_t) <= 16, "gjb_port_shlock under-aligned");

static pthread_mutex_t *as_mutex(gjb_port_shlock *lock)
{
    return (pthread_mutex_t *)(void *)lock->opaque;
}

int gjb_port_shlock_init(gjb_port_shlock *lock)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc)
        return rc;
    rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(as_mutex(lock), &a);
    pthread_mutexattr_destroy(&a);
    return rc;
}

int gjb_port_shlock_take(gjb_port_shlock *lock)
{
    int rc = pthread_mutex_lock(as_mutex(lock));
    if (rc == EOWNERDEAD)
        return GJB_SHLOCK_OWNER_DIED;
    return rc;
}

int gjb_port_shlock_take_for(gjb_port_shlock *lock, unsigned ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    int rc = pthread_mutex_timedlock(as_mutex(lock), &t);
    if (rc == EOWNERDEAD)
        return GJB_SHLOCK_OWNER_DIED;
    return rc;
}

void gjb_port_shlock_consistent(gjb_port_shlock *lock)
{
    pthread_mutex_consistent(as_mutex(lock));
}

void gjb_port_shlock_release(gjb_port_shlock *lock)
{
    pthread_mutex_unlock(as_mutex(lock));
}

long gjb_port_pid(void)
{
    return (long)getpid();
}

bool gjb_port_pid_alive(long pid)
{
    if (pid <= 0 || pid > INT32_MAX)
        return false;
    int saved = errno;
    bool alive = kill((pid_t)pid, 0) == 0 || errno == EPERM;
    errno = saved;
    return alive;
}

/* Parses "lo-hi " (hexadecimal) at the start of a line of /proc/self/maps. */
static bool parse_range(const char *s, uintptr_t *lo, uintptr_t *hi)
{
    uintptr_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++, s++) {
        int digits = 0;
        for (;; s++, digits++) {
            char c = *s;
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
            if (d == 16)
                break;
            v[k] = v[k] * 16 + d;
        }
        if (!digits || *s != (k ? ' ' : '-'))
            return false;
    }
    *lo = v[0], *hi = v[1];
    return true;
}

bool gjb_port_mapping_of(const void *addr, void **lo, void **hi)
{
    int saved = errno;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    bool found = false;
    if (fd >= 0) {
        char buf[4096];
        size_t have = 0;
        for (;;) {
            ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
            if (n <= 0)
                break;
            have += (size_t)n;
            buf[have] = '\0';
            char *line = buf, *nl;
            while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
                uintptr_t a, b;
                if (!found && parse_range(line, &a, &b) && (uintptr_t)addr >= a &&
                    (uintptr_t)addr < b) {
                    *lo = (void *)a, *hi = (void *)b;
                    found = true;
                }
                line = nl + 1;
            }
            have -= (size_t)(line - buf); /* a line cut by the buffer: kept */
            memmove(buf, line, have);
            if (have == sizeof buf - 1)
                have = 0; /* a line longer than the buffer: not one of ours */
        }
        close(fd);
    }
    errno = saved;
    return found;
}

int gjb_port_fd_size(int fd, unsigned long long *size)
{
    struct stat st;
    int saved = errno, err = fstat(fd, &st) == 0 ? 0 : errno;
    errno = saved;
    if (!err)
        *size = st.st_size < 0 ? 0 : (unsigned long long)st.st_size;
    return err;
}

int gjb_port_fd_resize(int fd, unsigned long long size)
{
    if (size > (unsigned long long)INTMAX_MAX || (off_t)size < 0 ||
        (unsigned long long)(off_t)size != size)
        return EFBIG;
    int saved = errno, err = ftruncate(fd, (off_t)size) == 0 ? 0 : errno;
    errno = saved;
    return err;
}

void gjb_port_fd_close(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

int gjb_port_shm_map(int fd, unsigned long len, unsigned long align, unsigned long residue,
                     void **out)
{
    unsigned long page = (unsigned long)sysconf(_SC_PAGESIZE);
    int saved = errno, err = 0;
    if (align <= page) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        err = p == MAP_FAILED ? errno : 0;
        if (!err)
            *out = p;
        errno = saved;
        return err;
    }
    unsigned long span = (len + page - 1) & ~(page - 1);
    if (residue % page || residue >= align || span < len || span > (unsigned long)-1 - align)
        return EINVAL;
    /* reserve room for any alignment, map the object inside it, give back
     * the rest */
    char *room = mmap(NULL, span + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (room == MAP_FAILED) {
        err = errno;
        errno = saved;
        return err;
    }
    uintptr_t base = (uintptr_t)room, at = (base & ~(uintptr_t)(align - 1)) + residue;
    if (at < base)
        at += align;
    void *p = mmap((void *)at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        err = errno;
        munmap(room, span + align);
    } else {
        if (at > base)
            munmap(room, at - base);
        if (base + span + align > at + span)
            munmap((void *)(at + span), base + span + align - at - span);
        *out = p;
    }
    errno = saved;
    return err;
}
