/*
 * hooks.c - the bare port's hooks as a Cortex-M firmware would give them,
 * for the tests on the emulated board: locks that mask interrupts (PRIMASK,
 * the state before saved in the lock and restored on release; they nest in
 * order, as the library takes them), the interrupt-context flag the tests
 * set (gjbmem_posix_set_isr, as on a POSIX host), errno, and output on the
 * semihosting console. Installed before main; at exit, a check that every
 * lock taken was released (status 98 otherwise).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gjbmem/posix.h"
#include "gjbmem_bare.h"

extern struct gjb_bare_hooks gjb_test_hooks;

struct mask_lock {
    unsigned held;  /* 1 while taken */
    unsigned saved; /* PRIMASK before the take */
};

static volatile int isr, user;
static long takes, releases;

static unsigned primask_disable(void)
{
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_6M__)
    unsigned m;
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(m)::"memory");
    return m;
#else
    return 0;
#endif
}

static void primask_restore(unsigned m)
{
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_6M__)
    __asm__ volatile("msr primask, %0" ::"r"(m) : "memory");
#else
    (void)m;
#endif
}

static void lock_init(void *lock)
{
    struct mask_lock *l = lock;
    l->held = 0;
}

static void lock_take(void *lock)
{
    struct mask_lock *l = lock;
    unsigned m = primask_disable();
    if (l->held) { /* a second take would deadlock on a real target */
        fprintf(stderr, "FAIL: lock %p taken twice\n", lock);
        _exit(97);
    }
    l->held = 1;
    l->saved = m;
    takes++;
}

static void lock_release(void *lock)
{
    struct mask_lock *l = lock;
    if (!l->held) {
        fprintf(stderr, "FAIL: lock %p released while free\n", lock);
        _exit(97);
    }
    l->held = 0;
    releases++;
    primask_restore(l->saved);
}

static bool lock_try(void *lock)
{
    struct mask_lock *l = lock;
    if (l->held)
        return false;
    lock_take(lock);
    return true;
}

static bool in_isr(void)
{
    return isr != 0;
}

static bool in_system_context(void)
{
    return !isr && !user;
}

static void set_errno(int err)
{
    errno = err;
}

static int write_text(int stream, const char *s, unsigned long n)
{
    FILE *f = stream == 2 ? stderr : stdout;
    return fwrite(s, 1, n, f) == n && fflush(f) == 0 ? 0 : -1;
}

void gjbmem_posix_set_isr(int in)
{
    isr = in;
}

void gjbmem_posix_set_user(int u)
{
    user = u;
}

static void check_locks(void)
{
    if (takes != releases) {
        fprintf(stderr, "FAIL: %ld lock takes, %ld releases\n", takes, releases);
        fflush(stderr);
        _exit(98);
    }
    printf("locks: %ld taken and released\n", takes);
}

/* The hooks installed (tests/bare/test_bare_port.c swaps some). */
struct gjb_bare_hooks gjb_test_hooks = {lock_init, lock_take, lock_release, lock_try, in_isr,
                                        in_system_context, set_errno, write_text, abort};

__attribute__((constructor)) static void install(void)
{
    _Static_assert(sizeof(struct mask_lock) <= GJB_PORT_LOCK_BYTES, "lock storage");
    if (gjb_bare_set_hooks(&gjb_test_hooks) != 0)
        _exit(96);
    atexit(check_locks);
}
