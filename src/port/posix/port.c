/*
 * port.c - the POSIX host port: pthread locks, a thread-local interrupt
 * context flag, errno.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gjbmem/port.h"
#include "gjbmem/posix.h"

_Static_assert(sizeof(pthread_mutex_t) <= GJB_PORT_LOCK_BYTES, "gjb_port_lock too small");
_Static_assert(_Alignof(pthread_mutex_t) <= 16, "gjb_port_lock under-aligned");

static pthread_mutex_t *as_mutex(gjb_port_lock *lock)
{
    return (pthread_mutex_t *)(void *)lock->opaque;
}

/* A lock that cannot be taken or released is a broken process: stop. */
static void check(int rc)
{
    if (rc != 0)
        abort();
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
static _Atomic int init_done; /* fast path: no call once initialised */

void gjb_port_init_once(void (*init)(void))
{
    if (atomic_load_explicit(&init_done, memory_order_acquire))
        return;
    check(pthread_once(&once, init));
    atomic_store_explicit(&init_done, 1, memory_order_release);
}

static _Thread_local volatile int in_isr __attribute__((tls_model("initial-exec")));

void gjbmem_posix_set_isr(int on)
{
    in_isr = on != 0;
}

int gjbmem_posix_in_isr(void)
{
    return in_isr;
}

bool gjb_port_in_isr(void)
{
    return in_isr != 0;
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
    return !in_isr && !is_user;
}

void gjb_port_write(int stream, const char *s, unsigned long n)
{
    FILE *f = stream == 2 ? stderr : stdout;
    fwrite(s, 1, n, f);
    fflush(f);
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
 * inside the library's first allocation). */
static void (*fork_prepare)(void), (*fork_parent)(void), (*fork_child)(void);

void gjb_port_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    fork_prepare = prepare;
    fork_parent = parent;
    fork_child = child;
}

static void on_prepare(void)
{
    if (fork_prepare)
        fork_prepare();
}

static void on_parent(void)
{
    if (fork_parent)
        fork_parent();
}

static void on_child(void)
{
    if (fork_child)
        fork_child();
}

__attribute__((constructor)) static void register_fork_handlers(void)
{
    check(pthread_atfork(on_prepare, on_parent, on_child));
}
