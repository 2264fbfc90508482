/*
 * shared.c - what the POSIX port gives heaps in memory shared between
 * processes: a process-shared, robust lock that lives in that memory
 * (below), process ids, a probe of mapped pages and the few descriptor calls
 * a shared-memory object needs. None of these touches errno.
 */
#define _GNU_SOURCE /* syscall */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gjbmem/port.h"

/* The lock: one word in the shared memory, 0 when free, else the pid of
 * the process that holds it, with CONTENDED set once someone waits. Taken
 * with one compare-and-swap, released with one exchange (a futex wake only
 * after contention): what a light lock costs, where a robust pthread mutex
 * costs half as much again (glibc keeps its robust list on every lock and
 * unlock; docs/SHARED.md, "Cost"). Robust by the waiters: one that finds
 * the holder's process gone (kill(pid, 0): ESRCH) takes the lock over and
 * reports GJB_SHLOCK_OWNER_DIED; waiters sleep at most 10 ms at a time, so
 * a holder that died without waking anyone is noticed. A pid reused by a new
 * process before anyone noticed the death keeps the lock held until that
 * process exits (pids are reused only after the whole pid range). */
#define CONTENDED ((uint32_t)1 << 31)

static _Atomic uint32_t *word_of(gjb_port_shlock *lock)
{
    return (_Atomic uint32_t *)(void *)lock->opaque;
}

/* This process's pid, cached; a fork child refreshes it (atfork handler). */
static _Atomic uint32_t my_pid;

static void forget_pid(void)
{
    atomic_store_explicit(&my_pid, 0, memory_order_relaxed);
}

__attribute__((constructor)) static void register_pid_reset(void)
{
    pthread_atfork(NULL, NULL, forget_pid);
}

static uint32_t me(void)
{
    uint32_t p = atomic_load_explicit(&my_pid, memory_order_relaxed);
    if (!p) {
        p = (uint32_t)getpid();
        atomic_store_explicit(&my_pid, p, memory_order_relaxed);
    }
    return p;
}

void gjb_port_shlock_init(gjb_port_shlock *lock)
{
    memset(lock->opaque, 0, sizeof lock->opaque);
    atomic_init(word_of(lock), 0);
}

/* Sleeps while the word still reads w: at most ms milliseconds. */
static void wait_on(_Atomic uint32_t *word, uint32_t w, long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    int saved = errno;
    syscall(SYS_futex, word, FUTEX_WAIT, w, &t, NULL, 0); /* shared: no FUTEX_PRIVATE_FLAG */
    errno = saved;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* The contended path: ms < 0 waits for ever. */
static int take_slow(gjb_port_shlock *lock, long ms)
{
    _Atomic uint32_t *word = word_of(lock);
    uint32_t self = me() | CONTENDED; /* after contention, a release wakes */
    double end = ms < 0 ? 0 : now_ms() + (double)ms;
    for (;;) {
        uint32_t w = atomic_load_explicit(word, memory_order_relaxed);
        if (w == 0) {
            if (atomic_compare_exchange_weak_explicit(word, &w, self, memory_order_acquire,
                                                      memory_order_relaxed))
                return GJB_SHLOCK_OK;
            continue;
        }
        if (!gjb_port_pid_alive((long)(w & ~CONTENDED))) {
            if (atomic_compare_exchange_strong_explicit(word, &w, self, memory_order_acquire,
                                                        memory_order_relaxed))
                return GJB_SHLOCK_OWNER_DIED;
            continue;
        }
        if (!(w & CONTENDED) &&
            !atomic_compare_exchange_weak_explicit(word, &w, w | CONTENDED,
                                                   memory_order_relaxed, memory_order_relaxed))
            continue;
        long nap = 10;
        if (ms >= 0) {
            double left = end - now_ms();
            if (left <= 0)
                return ETIMEDOUT;
            nap = left < 10 ? (long)left + 1 : 10;
        }
        wait_on(word, w | CONTENDED, nap);
    }
}

int gjb_port_shlock_take(gjb_port_shlock *lock)
{
    uint32_t z = 0;
    if (atomic_compare_exchange_strong_explicit(word_of(lock), &z, me(), memory_order_acquire,
                                                memory_order_relaxed))
        return GJB_SHLOCK_OK;
    return take_slow(lock, -1);
}

int gjb_port_shlock_take_for(gjb_port_shlock *lock, unsigned ms)
{
    uint32_t z = 0;
    if (atomic_compare_exchange_strong_explicit(word_of(lock), &z, me(), memory_order_acquire,
                                                memory_order_relaxed))
        return GJB_SHLOCK_OK;
    return take_slow(lock, (long)ms);
}

void gjb_port_shlock_consistent(gjb_port_shlock *lock)
{
    (void)lock; /* the waiter that took it over holds it as its own already */
}

void gjb_port_shlock_release(gjb_port_shlock *lock)
{
    _Atomic uint32_t *word = word_of(lock);
    if (atomic_exchange_explicit(word, 0, memory_order_release) & CONTENDED) {
        int saved = errno;
        syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
        errno = saved;
    }
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

int gjb_port_fd_read(int fd, void *buf, unsigned long len, unsigned long long off)
{
    const unsigned long long off_max = ((unsigned long long)1 << (8 * sizeof(off_t) - 1)) - 1;
    int saved = errno, err = 0;
    for (unsigned long done = 0; !err && done < len;) {
        if (off > off_max || done > off_max - off) {
            err = EFBIG;
            break;
        }
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n > 0)
            done += (unsigned long)n;
        else if (n == 0)
            err = EAGAIN; /* the object ends sooner: it shrank */
        else if (errno != EINTR)
            err = errno;
    }
    errno = saved;
    return err;
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

int gjb_port_shm_retire(void *addr, unsigned long len)
{
    int saved = errno, err = 0;
    if (mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
        MAP_FAILED)
        err = errno;
    errno = saved;
    return err;
}
