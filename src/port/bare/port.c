/*
 * port.c - the bare-metal / RTOS port: locks, the interrupt-context flag,
 * errors and output go through the integrator's hooks (gjbmem_bare.h); the
 * default is single-threaded firmware (no locks). No libc: only the
 * freestanding headers and <errno.h>'s constants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "gjbmem/port.h"
#include "gjbmem_bare.h"


static struct gjb_bare_hooks hooks;
static int last_error;
static gjb_port_lock global;
static volatile int init_state; /* 0 not run, 1 running, 2 done */

int gjb_bare_set_hooks(const struct gjb_bare_hooks *h)
{
    if (!h) {
        hooks = (struct gjb_bare_hooks){0};
        return 0;
    }
    int locks = !!h->lock_init + !!h->lock_take + !!h->lock_release + !!h->lock_try;
    if (locks != 0 && locks != 4)
        return -1;
    hooks = *h;
    if (hooks.lock_init)
        hooks.lock_init(global.opaque);
    return 0;
}

int gjb_bare_errno(void)
{
    return last_error;
}

void gjb_bare_set_errno_value(int err)
{
    last_error = err;
}

void gjb_port_lock_init(gjb_port_lock *lock)
{
    if (hooks.lock_init)
        hooks.lock_init(lock->opaque);
}

void gjb_port_lock_take(gjb_port_lock *lock)
{
    if (hooks.lock_take)
        hooks.lock_take(lock->opaque);
}

void gjb_port_lock_release(gjb_port_lock *lock)
{
    if (hooks.lock_release)
        hooks.lock_release(lock->opaque);
}

bool gjb_port_lock_try(gjb_port_lock *lock)
{
    return hooks.lock_try ? hooks.lock_try(lock->opaque) : true;
}

void gjb_port_global_lock(void)
{
    gjb_port_lock_take(&global);
}

void gjb_port_global_unlock(void)
{
    gjb_port_lock_release(&global);
}

/* Runs init once, under the global lock (init takes no global lock). */
void gjb_port_init_once(void (*init)(void))
{
    if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2)
        return;
    gjb_port_global_lock();
    if (init_state == 0) {
        init_state = 1;
        init();
        __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
    }
    gjb_port_global_unlock();
}

bool gjb_port_in_isr(void)
{
    return hooks.in_isr ? hooks.in_isr() : false;
}

bool gjb_port_in_system_context(void)
{
    if (hooks.in_system_context)
        return hooks.in_system_context();
    return !gjb_port_in_isr();
}

/* One area: the port knows no threads (the bare system heap does not use
 * it; port.h's contract is kept for code that does). */
void *gjb_port_thread_area(void)
{
    static _Alignas(max_align_t) unsigned char area[GJB_PORT_THREAD_AREA];
    return area;
}

void gjb_port_at_thread_exit(void (*fn)(void *area))
{
    (void)fn; /* no threads exit here */
}

void gjb_port_thread_exit_arm(void)
{
}

void gjb_port_set_errno(int err)
{
    if (hooks.set_errno)
        hooks.set_errno(err);
    else
        last_error = err;
}

int gjb_port_write(int stream, const char *s, unsigned long n)
{
    return hooks.write ? hooks.write(stream, s, n) : 0;
}

void gjb_port_abort(void)
{
    if (hooks.abort)
        hooks.abort();
    for (;;) {
    }
}

const char *gjb_port_getenv(const char *name)
{
    (void)name; /* no environment: every setting is a build macro */
    return NULL;
}

/* No page supply: the system heap has the memory the integrator hands
 * over (gjbmem_sysheap_add_memory). */
int gjb_port_pages_get(unsigned long len, void **out)
{
    (void)len;
    *out = NULL;
    return ENOMEM;
}

void gjb_port_pages_put(void *p, unsigned long len)
{
    (void)p;
    (void)len;
}

unsigned long long gjb_port_memory_size(void)
{
    return 0;
}

void gjb_port_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    (void)prepare; /* no fork */
    (void)parent;
    (void)child;
}
