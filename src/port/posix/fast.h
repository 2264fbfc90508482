/*
 * fast.h - the POSIX port's calls on the library's hot paths, inline (the
 * API layer includes this through src/core/port_fast.h when the build names
 * it in GJBMEM_PORT_FAST): the light lock and the interrupt-context flag.
 *
 * On Linux a lock is a futex word: 0 free, 1 taken, 3 taken with a waiter
 * (bit 0: taken; bit 1: a waiter may sleep; "Futexes Are Tricky", U.
 * Drepper, mutex 3, with 3 for its 2). Uncontended, taking it is one atomic
 * bit set (lock bts: one instruction less than a compare-and-swap, which
 * needs its operands in registers) and releasing it one exchange, no
 * system call; a waiter spins briefly, then sleeps in the kernel (port.c).
 * A zeroed lock is free.
 * Elsewhere the locks are pthread mutexes, through port.c.
 */
#ifndef GJB_PORT_POSIX_FAST_H
#define GJB_PORT_POSIX_FAST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "gjbmem/port.h"

#define GJB_VISIBILITY_HIDDEN __attribute__((visibility("hidden")))

/* A pause in a short wait for another processor (port_fast.h). */
#if defined(__x86_64__) || defined(__i386__)
#define gjb_fast_relax() __asm__ __volatile__("pause")
#elif defined(__aarch64__)
#define gjb_fast_relax() __asm__ __volatile__("yield")
#endif

/* Set while the calling thread runs in (emulated) interrupt context. */
extern _Thread_local volatile int gjb_posix_isr __attribute__((tls_model("initial-exec")))
    GJB_VISIBILITY_HIDDEN;

static inline bool gjb_fast_in_isr(void)
{
    return gjb_posix_isr != 0;
}

/* The calling thread's area (gjb_port_thread_area). */
extern _Thread_local _Alignas(max_align_t) unsigned char
    gjb_posix_thread_area[GJB_PORT_THREAD_AREA] __attribute__((tls_model("initial-exec")))
    GJB_VISIBILITY_HIDDEN;

static inline void *gjb_fast_thread_area(void)
{
    void *p = gjb_posix_thread_area;
    /* Opaque to the optimiser: GCC 12 with -fsanitize=null tested stale
     * flags for the address of this thread-local array (a false report of a
     * null pointer). No instruction. */
    __asm__("" : "+r"(p));
    return p;
}

/* Set once the library's initialisation has run (port.c). */
extern _Atomic int gjb_posix_init_done GJB_VISIBILITY_HIDDEN;

static inline void gjb_fast_init_once(void (*init)(void))
{
    if (__builtin_expect(!atomic_load_explicit(&gjb_posix_init_done, memory_order_acquire), 0))
        gjb_port_init_once(init);
}

#if defined(__linux__)
_Static_assert(sizeof(atomic_int) <= GJB_PORT_LOCK_BYTES, "gjb_port_lock too small");

/* The contended halves (port.c). */
void gjb_posix_lock_wait(atomic_int *w) GJB_VISIBILITY_HIDDEN;
void gjb_posix_lock_wake(atomic_int *w) GJB_VISIBILITY_HIDDEN;

static inline atomic_int *gjb_posix_word(gjb_port_lock *lock)
{
    return (atomic_int *)(void *)lock->opaque;
}

static inline bool gjb_fast_try(gjb_port_lock *lock)
{
    return !(atomic_fetch_or_explicit(gjb_posix_word(lock), 1, memory_order_acquire) & 1);
}

static inline void gjb_fast_lock(gjb_port_lock *lock)
{
    if (__builtin_expect(!gjb_fast_try(lock), 0))
        gjb_posix_lock_wait(gjb_posix_word(lock));
}

/* gjb_fast_unlock in two halves, for a caller that must not call out on
 * its common path (mpart.c): gjb_fast_release lets the lock go and is true
 * when a waiter sleeps, which gjb_fast_wake then wakes. */
static inline bool gjb_fast_release(gjb_port_lock *lock)
{
    return __builtin_expect(
        (atomic_exchange_explicit(gjb_posix_word(lock), 0, memory_order_release) & 2) != 0, 0);
}

static inline void gjb_fast_wake(gjb_port_lock *lock)
{
    gjb_posix_lock_wake(gjb_posix_word(lock));
}

static inline void gjb_fast_unlock(gjb_port_lock *lock)
{
    if (gjb_fast_release(lock))
        gjb_fast_wake(lock);
}

/* glibc 2.32+: true while the process has one thread (weak: absent
 * elsewhere, where the locks are always taken). */
extern char __libc_single_threaded __attribute__((weak));

/* The system heap's locks: none taken in a process with one thread (a
 * signal handler that allocates is no more allowed there than in glibc's
 * malloc, which skips its locks the same way). Partitions keep the plain
 * ones: the check costs instructions that the partition figures count.
 * gjb_fast_single: the process has one thread (what the check reads).
 * gjb_fast_lock_mt: true when the lock was taken. */
static inline bool gjb_fast_single(void)
{
    return &__libc_single_threaded != NULL && __libc_single_threaded;
}

static inline bool gjb_fast_lock_mt(gjb_port_lock *lock)
{
    if (gjb_fast_single())
        return false;
    gjb_fast_lock(lock);
    return true;
}

/* Releases what gjb_fast_lock_mt took: a lock it skipped is 0 (free), and
 * stays so, whatever the process became since. */
static inline void gjb_fast_unlock_mt(gjb_port_lock *lock)
{
    if (atomic_load_explicit(gjb_posix_word(lock), memory_order_relaxed) != 0)
        gjb_fast_unlock(lock);
}

#define GJB_FAST_LOCKS 1
#endif /* elsewhere src/core/port_fast.h falls back on the pthread mutexes of port.c */

#endif
