/*
 * port_fast.h - the port calls the API layer's hot paths make (a light
 * lock, the interrupt-context flag): the port's own inline versions when the
 * build names its fast header (GJBMEM_PORT_FAST, e.g. the POSIX port's
 * src/port/posix/fast.h), else the out-of-line functions of gjbmem/port.h.
 */
#ifndef GJB_PORT_FAST_H
#define GJB_PORT_FAST_H

#include <stdbool.h>

#include "gjbmem/port.h"

#ifdef GJBMEM_PORT_FAST
#include GJBMEM_PORT_FAST
#else
#define gjb_fast_in_isr gjb_port_in_isr
#define gjb_fast_init_once gjb_port_init_once
#define gjb_fast_thread_area gjb_port_thread_area
#endif

/* A pause in a short wait for another processor (a port without one: none). */
#ifndef gjb_fast_relax
#define gjb_fast_relax() ((void)0)
#endif

/* A port whose fast header has no inline locks (GJB_FAST_LOCKS) gets the
 * out-of-line ones. */
#ifndef GJB_FAST_LOCKS
#define gjb_fast_try gjb_port_lock_try
#define gjb_fast_lock gjb_port_lock_take
#define gjb_fast_unlock gjb_port_lock_release
#define gjb_fast_unlock_mt gjb_port_lock_release
/* gjb_fast_unlock in two halves (see the POSIX port's fast.h): the port's
 * release wakes a waiter itself. */
static inline bool gjb_fast_release(gjb_port_lock *lock)
{
    gjb_port_lock_release(lock);
    return false;
}

static inline void gjb_fast_wake(gjb_port_lock *lock)
{
    (void)lock;
}

/* Whether the process has one thread is not known here: false. */
static inline bool gjb_fast_single(void)
{
    return false;
}

/* Takes the lock (always, here): true. */
static inline bool gjb_fast_lock_mt(gjb_port_lock *lock)
{
    gjb_port_lock_take(lock);
    return true;
}
#endif

#endif
