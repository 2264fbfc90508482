/*
 * port.c - the POSIX host port: pthread locks, a thread-local interrupt
 * context flag, errno.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

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
