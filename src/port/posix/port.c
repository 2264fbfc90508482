/*
 * port.c - the POSIX host port: locks (futex words on Linux, fast.h; pthread
 * mutexes elsewhere), a thread-local interrupt-context flag, errno, output,
 * pages, fork handlers.
 */
#define _GNU_SOURCE /* syscall */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gjbmem/port.h"
#include "gjbmem/posix.h"
#include "fast.h"

/* A lock that cannot be taken or released is a broken process: stop. */
static void check(int rc)
{
    if (rc != 0)
        abort();
}

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>

/* A futex call that leaves the caller's errno alone. */
static void futex(atomic_int *w, int op, int val)
{
    int saved = errno;
    long rc = syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
    if (rc < 0 && errno != EAGAIN && errno != EINTR)
        abort();
    errno = saved;
}

/* The contended path: spin a little (the lock is held for a short
 * while), then mark the word contended and sleep until a release wakes us.
 * No spinning without bound. */
void gjb_posix_lock_wait(atomic_int *w)
{
    for (int i = 0; i < 100; i++)
        if (!(atomic_load_explicit(w, memory_order_relaxed) & 1) &&
            !(atomic_fetch_or_explicit(w, 1, memory_order_acquire) & 1))
            return;
    /* taken with a waiter from here on (3), until the lock is let go */
    while (atomic_exchange_explicit(w, 3, memory_order_acquire) & 1)
        futex(w, FUTEX_WAIT, 3);
}

void gjb_posix_lock_wake(atomic_int *w)
{
    futex(w, FUTEX_WAKE, 1);
}

void gjb_port_lock_init(gjb_port_lock *lock)
{
    atomic_init(gjb_posix_word(lock), 0);
}

bool gjb_port_lock_try(gjb_port_lock *lock)
{
    return gjb_fast_try(lock);
}

void gjb_port_lock_take(gjb_port_lock *lock)
{
    gjb_fast_lock(lock);
}

void gjb_port_lock_release(gjb_port_lock *lock)
{
    gjb_fast_unlock(lock);
}
#else
_Static_assert(sizeof(pthread_mutex_t) <= GJB_PORT_LOCK_BYTES, "gjb_port_lock too small");
_Static_assert(_Alignof(pthread_mutex_t) <= 16, "gjb_port_lock under-aligned");

static pthread_mutex_t *as_mutex(gjb_port_lock *lock)
{
    return (pthread_mutex_t *)(void *)lock->opaque;
}

void gjb_port_lock_init(gjb_port_lock *lock)
{
    check(pthread_mutex_init(as_mutex(lock), NULL));
}

void gjb_port_lock_take(gjb_port_lock *lock)
{
    check(pthread_mutex_lock(as_mutex(lock)));
}

void gjb_port_lock_release(gjb_port_lock *lock)
{
    check(pthread_mutex_unlock(as_mutex(lock)));
}

bool gjb_port_lock_try(gjb_port_lock *lock)
{
    int rc = pthread_mutex_trylock(as_mutex(lock));
    if (rc != 0 && rc != EBUSY)
        abort();
    return rc == 0;
}
#endif

static pthread_mutex_t global = PTHREAD_MUTEX_INITIALIZER;

void gjb_port_global_lock(void)
{
    check(pthread_mutex_lock(&global));
}

void gjb_port_global_unlock(void)
{
    check(pthread_mutex_unlock(&global));
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
_Atomic int gjb_posix_init_done; /* fast.h: no call once initialised */

void gjb_port_init_once(void (*init)(void))
{
    if (atomic_load_explicit(&gjb_posix_init_done, memory_order_acquire))
        return;
    check(pthread_once(&once, init));
    atomic_store_explicit(&gjb_posix_init_done, 1, memory_order_release);
}

_Thread_local volatile int gjb_posix_isr __attribute__((tls_model("initial-exec")));

void gjbmem_posix_set_isr(int on)
{
    gjb_posix_isr = on != 0;
}

int gjbmem_posix_in_isr(void)
{
    return gjb_posix_isr;
}

bool gjb_port_in_isr(void)
{
    return gjb_fast_in_isr();
}

_Thread_local _Alignas(max_align_t) unsigned char
    gjb_posix_thread_area[GJB_PORT_THREAD_AREA] __attribute__((tls_model("initial-exec")));

void *gjb_port_thread_area(void)
{
    return gjb_fast_thread_area();
}

/* Thread exit: a key whose destructor runs fn with the thread's area, made
 * at the first arming (a constructor may run too late: another library's
 * constructor may allocate first, and key 0 is someone else's). */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static void (*exit_fn)(void *);

static void on_thread_exit(void *area)
{
    if (exit_fn)
        exit_fn(area);
}

static void make_exit_key(void)
{
    check(pthread_key_create(&exit_key, on_thread_exit));
}

void gjb_port_at_thread_exit(void (*fn)(void *area))
{
    exit_fn = fn;
}

void gjb_port_thread_exit_arm(void)
{
    check(pthread_once(&exit_key_once, make_exit_key));
    (void)pthread_setspecific(exit_key, gjb_fast_thread_area());
}

void gjb_port_set_errno(int err)
{
    errno = err;
}

static _Thread_local volatile int is_user __attribute__((tls_model("initial-exec")));

void gjbmem_posix_set_user(int user)
{
    is_user = user != 0;
}

bool gjb_port_in_system_context(void)
{
    return !gjb_posix_isr && !is_user;
}

int gjb_port_write(int stream, const char *s, unsigned long n)
{
    FILE *f = stream == 2 ? stderr : stdout;
    bool ok = fwrite(s, 1, n, f) == n;
    return fflush(f) == 0 && ok ? 0 : -1;
}

_Noreturn void gjb_port_abort(void)
{
    abort();
}

const char *gjb_port_getenv(const char *name)
{
    return getenv(name);
}

unsigned long long gjb_port_memory_size(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0)
        return (unsigned long long)-1;
    return (unsigned long long)pages * (unsigned long long)size;
}

/* Fork handlers: stored here and registered with pthread_atfork once, when
 * the library is loaded (pthread_atfork may allocate, so it must not run
 * inside the library's first allocation).
 *
 * Around them, two rules glibc's own malloc follows (its fork takes its
 * allocator's locks only in a process with several threads, and after its
 * stdio list lock):
 *   - In a process with one thread nothing is locked: a fork from a signal
 *     handler that interrupted an allocation must not wait for the lock the
 *     interrupted code holds (that code resumes, in parent and child, and
 *     releases it).
 *   - Otherwise glibc's stdio list lock is taken before the library's
 *     locks. A thread holding a FILE's lock may wait in realloc for the
 *     system heap's lock, and fflush(NULL) holds the list lock while it
 *     waits for that FILE: a prepare handler that held the heap's lock and
 *     then waited in fork for the list lock would close the circle. The list
 *     lock is recursive, so fork takes it again; the parent handler gives
 *     back this handler's hold, and in the child glibc resets the lock.
 * Where the C library lacks __libc_single_threaded (not glibc, or glibc
 * before 2.32, which takes its list lock only in a process with several
 * threads and would leave a single-threaded child's held) neither rule
 * applies: the library's handlers run as they are. */
static void (*fork_prepare)(void), (*fork_parent)(void), (*fork_child)(void);

extern char __libc_single_threaded __attribute__((weak));
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));

static _Thread_local bool fork_held; /* this thread's prepare handler took the locks */

void gjb_port_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    fork_prepare = prepare;
    fork_parent = parent;
    fork_child = child;
}

static _Thread_local bool fork_listed; /* ... and glibc's list lock */

static void on_prepare(void)
{
    bool glibc = &__libc_single_threaded != NULL;
    fork_held = !(glibc && __libc_single_threaded);
    fork_listed = fork_held && glibc && _IO_list_lock && _IO_list_unlock;
    if (fork_listed)
        _IO_list_lock();
    if (fork_held && fork_prepare)
        fork_prepare();
}

static void on_parent(void)
{
    if (fork_held && fork_parent)
        fork_parent();
    if (fork_listed)
        _IO_list_unlock();
}

static void on_child(void)
{
    if (fork_held && fork_child)
        fork_child();
}

__attribute__((constructor)) static void register_fork_handlers(void)
{
    check(pthread_atfork(on_prepare, on_parent, on_child));
}
