/*
 * sync.c - msync, mprotect and posix_madvise of the mapping layer. No
 * system call here.
 */
#define _GNU_SOURCE
#define GJBMEM_NO_STD_NAMES
#include <errno.h>
#include <mman.h>

#include "gjbmem/port.h"
#include "vmm/registry.h"

static int fail(int err)
{
    gjb_port_set_errno(err);
    return -1;
}

/* Only file mappings have anything to write back. */
static int sync_locked(uintptr_t a, uintptr_t b, int flags)
{
    if (!gjb_vmm_covered(a, b))
        return ENOMEM;
    for (uintptr_t at = a; at < b;) {
        const struct gjb_vmm_rec *r = gjb_vmm_find(at);
        uintptr_t end = r->addr + r->len < b ? r->addr + r->len : b;
        if (r->file) {
            int err = gjb_port_vm_sync((void *)at, end - at, flags);
            if (err != 0)
                return err;
        }
        at = end;
    }
    return 0;
}

int gjbmem_msync(void *addr, size_t len, int flags)
{
    uintptr_t a = (uintptr_t)addr;
    size_t rlen;
    if (a % gjb_vmm_page() != 0 || (flags & ~(MS_SYNC | MS_ASYNC | MS_INVALIDATE)) ||
        ((flags & MS_SYNC) && (flags & MS_ASYNC)))
        return fail(EINVAL);
    if (!gjb_vmm_round(len, &rlen) || rlen > UINTPTR_MAX - a)
        return fail(ENOMEM);
    gjb_vmm_lock();
    int err = sync_locked(a, a + rlen, flags);
    gjb_vmm_unlock();
    return err != 0 ? fail(err) : 0;
}

static int protect_locked(uintptr_t a, uintptr_t b, int prot)
{
    if (!gjb_vmm_covered(a, b))
        return ENOMEM;
    if (gjb_vmm_splits_needed(a, b) > gjb_vmm_free_slots())
        return ENOMEM;
    if (gjb_port_vm_protect((void *)a, b - a, prot) != 0)
        return ERROR_VMM_VIRTUAL_PAGE;
    gjb_vmm_split_at(a);
    gjb_vmm_split_at(b);
    size_t cursor = 0;
    struct gjb_vmm_rec *r;
    while ((r = gjb_vmm_next_in(a, b, &cursor)) != NULL)
        r->prot = prot;
    return 0;
}

int gjbmem_mprotect(void *addr, size_t len, int prot)
{
    uintptr_t a = (uintptr_t)addr;
    size_t rlen;
    if (a % gjb_vmm_page() != 0 || len == 0)
        return fail(EINVAL);
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
        return fail(ENOTSUP);
    if (!gjb_vmm_round(len, &rlen) || rlen > UINTPTR_MAX - a)
        return fail(ENOMEM);
    gjb_vmm_lock();
    int err = protect_locked(a, a + rlen, prot);
    gjb_vmm_unlock();
    return err != 0 ? fail(err) : 0;
}

int gjbmem_posix_madvise(void *addr, size_t len, int advice)
{
    switch (advice) {
    case POSIX_MADV_NORMAL:
    case POSIX_MADV_SEQUENTIAL:
    case POSIX_MADV_RANDOM:
    case POSIX_MADV_WILLNEED:
    case POSIX_MADV_DONTNEED:
        return gjb_port_vm_advise(addr, len, advice);
    default:
        return EINVAL;
    }
}
