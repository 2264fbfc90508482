/*
 * lock.c - mlock, munlock, mlockall and munlockall of the mapping layer:
 * the host locks the pages; the registry records which of the layer's
 * mappings are locked. No system call here.
 */
#define _GNU_SOURCE
#define GJBMEM_NO_STD_NAMES
#include <errno.h>
#include <mman.h>

#include "gjbmem/port.h"
#include "vmm/registry.h"

#ifdef MCL_ONFAULT
#define MCL_KNOWN (MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)
#else
#define MCL_KNOWN (MCL_CURRENT | MCL_FUTURE)
#endif

static int fail(int err)
{
    gjb_port_set_errno(err);
    return -1;
}

/* Marks the layer's pages in [a, b) (whole pages around the range). */
static void mark_locked(uintptr_t a, uintptr_t b, bool locked)
{
    gjb_vmm_split_at(a);
    gjb_vmm_split_at(b);
    size_t cursor = 0;
    struct gjb_vmm_rec *r;
    while ((r = gjb_vmm_next_in(a, b, &cursor)) != NULL)
        r->locked = locked;
}

static int lock_range(const void *addr, size_t len, bool lock)
{
    size_t page = gjb_vmm_page();
    uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    size_t span;
    if (len > SIZE_MAX - page || !gjb_vmm_round(len + ((uintptr_t)addr - a), &span) ||
        span > UINTPTR_MAX - a)
        return fail(ENOMEM);
    gjb_vmm_lock();
    int err = gjb_vmm_splits_needed(a, a + span) > gjb_vmm_free_slots() ? ENOMEM : 0;
    if (err == 0)
        err = lock ? gjb_port_vm_lock(addr, len) : gjb_port_vm_unlock(addr, len);
    if (err == 0)
        mark_locked(a, a + span, lock);
    gjb_vmm_unlock();
    return err != 0 ? fail(err) : 0;
}

int gjbmem_mlock(const void *addr, size_t len)
{
    return lock_range(addr, len, true);
}

int gjbmem_munlock(const void *addr, size_t len)
{
    return lock_range(addr, len, false);
}

int gjbmem_mlockall(int flags)
{
    if (flags == 0 || (flags & ~MCL_KNOWN) || !(flags & (MCL_CURRENT | MCL_FUTURE)))
        return fail(EINVAL);
    gjb_vmm_lock();
    int err = gjb_port_vm_lockall(flags);
    if (err == 0) {
        if (flags & MCL_CURRENT)
            mark_locked(0, UINTPTR_MAX, true);
        if (flags & MCL_FUTURE)
            gjb_vmm_lock_future = true;
    }
    gjb_vmm_unlock();
    return err != 0 ? fail(err) : 0;
}

int gjbmem_munlockall(void)
{
    gjb_vmm_lock();
    int err = gjb_port_vm_unlockall();
    if (err == 0) {
        mark_locked(0, UINTPTR_MAX, false);
        gjb_vmm_lock_future = false;
    }
    gjb_vmm_unlock();
    return err != 0 ? fail(err) : 0;
}
