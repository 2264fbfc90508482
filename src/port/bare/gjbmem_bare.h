/*
 * gjbmem_bare.h - what a firmware integrator gives the bare-metal / RTOS
 * port (src/port/bare/): the lock and interrupt-context hooks, the error
 * and output sinks, and the memory of the system heap. Include it from the
 * firmware's start-up code; add src/port/bare/ to the include path.
 *
 * Without any hook the port is the single-threaded default: no locks, never
 * in interrupt context, errors kept in one variable (gjb_bare_errno), output
 * dropped, abort spins forever. docs/PORTING.md has the whole recipe.
 */
#ifndef GJBMEM_BARE_H
#define GJBMEM_BARE_H

#include <stdbool.h>
#include <stddef.h>

#include "gjbmem/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The integrator's hooks. Every pointer may be NULL (the default above is
 * used), except that the four lock hooks are given together or not at all.
 *
 * Locks: `lock` points at GJB_PORT_LOCK_BYTES (64) bytes, aligned to 16 and
 * zeroed, owned by the library for ever (a lock is never destroyed): the
 * hook keeps its lock there (a word for an interrupt mask, an RTOS mutex
 * handle, ...). lock_init runs once per lock, at the library's start-up or
 * when a partition slot is made, from thread context. lock_take and
 * lock_release run from thread context around every call on a heap (short
 * critical sections: a few hundred instructions at most, see PORTING.md);
 * a lock is never taken twice by one caller (no recursion is needed).
 * lock_try runs from interrupt context too (the read-only calls that
 * interrupt context may make): it must not wait; false when the lock is
 * held now.
 *
 * in_isr: true when the caller runs in interrupt context (then allocating
 * calls fail with ERROR_KERNEL_IN_ISR, SPEC section 3). Called on every
 * call; must be cheap and callable from anywhere (e.g. Cortex-M: IPSR != 0).
 * in_system_context: true when mem_getinfo is allowed (SPEC section 4);
 * NULL: !in_isr().
 *
 * set_errno: reports an error of the calling thread (an RTOS's errno);
 * NULL: the value is kept in one variable, read with gjb_bare_errno.
 * write: writes n bytes of mem_show output or of an error-policy log line
 * (stream 1 output, 2 errors) at once: 0, or -1 when refused; NULL: the
 * text is dropped. abort: stops the program (an error policy asked for it);
 * must not return; NULL: an endless loop. */
struct gjb_bare_hooks {
    void (*lock_init)(void *lock);
    void (*lock_take)(void *lock);
    void (*lock_release)(void *lock);
    bool (*lock_try)(void *lock);
    bool (*in_isr)(void);
    bool (*in_system_context)(void);
    void (*set_errno)(int err);
    int (*write)(int stream, const char *s, unsigned long n);
    void (*abort)(void);
};

/* Installs hooks (copied; NULL: back to the defaults). Call it once, before
 * any other call of the library, from thread context with interrupts that
 * use the library not yet running. Returns 0, or -1 when only some of the
 * four lock hooks are given (nothing changes). O(1). */
int gjb_bare_set_hooks(const struct gjb_bare_hooks *hooks);

/* The last error the library reported while no set_errno hook was
 * installed (0 before the first). One variable for the whole program: with
 * threads, install a set_errno hook instead. O(1). */
int gjb_bare_errno(void);

/* Sets the last error read by gjb_bare_errno (tests clear it with 0). */
void gjb_bare_set_errno_value(int err);

/* The system heap's memory: hand it over with gjbmem_sysheap_add_memory
 * (<gjbmem/sysheap.h>) - the first area makes the heap, later ones are
 * added regions, at most GJBMEM_BARE_AREAS in all (default 4). A build
 * that defines GJBMEM_BARE_HEAP_BYTES (default 0) gets a static area of
 * that many bytes (.bss) handed over at the library's first use. */
#ifndef GJBMEM_BARE_AREAS
#define GJBMEM_BARE_AREAS 4
#endif
#ifndef GJBMEM_BARE_HEAP_BYTES
#define GJBMEM_BARE_HEAP_BYTES 0
#endif

#ifdef __cplusplus
}
#endif

#endif
