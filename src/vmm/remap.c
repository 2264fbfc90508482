/*
 * remap.c - mremap of the mapping layer: resizes a mapping (or the head of
 * one) made through the layer, in place when the host can, moved only with
 * MREMAP_MAYMOVE; the registry follows. No system call here.
 */
#define _GNU_SOURCE
#define GJBMEM_NO_STD_NAMES
#include <errno.h>
#include <mman.h>

#include "gjbmem/port.h"
#include "vmm/registry.h"

static void *remap_fail(int err)
{
    gjb_port_set_errno(err);
    return MAP_FAILED;
}

/* [a, a+old) must lie in one record; its pieces outside stay recorded. */
static int remap_locked(uintptr_t a, size_t old, size_t new_len, bool may_move,
                        void **out)
{
    struct gjb_vmm_rec *r = gjb_vmm_find(a);
    if (r == NULL || old > r->addr + r->len - a)
        return EINVAL;
    /* Worst case: a split at each end and one record for the result. */
    if (gjb_vmm_free_slots() < 3)
        return ENOMEM;
    struct gjb_vmm_rec moved = *r;
    if (moved.file)
        moved.off += (long long)(a - r->addr);
    int err = gjb_port_vm_remap((void *)a, old, new_len, may_move, out);
    if (err == EINVAL) /* the arguments passed our rules: the host cannot */
        err = ENOMEM;  /* provide new_len (e.g. beyond its address space) */
    if (err != 0)
        return err;
    gjb_vmm_split_at(a);
    gjb_vmm_split_at(a + old);
    size_t cursor = 0;
    struct gjb_vmm_rec *piece = gjb_vmm_next_in(a, a + old, &cursor);
    if (piece != NULL)
        gjb_vmm_drop(piece);
    moved.addr = (uintptr_t)*out;
    moved.len = new_len;
    return gjb_vmm_add(&moved);
}

void *gjbmem_mremap(void *addr, size_t old_len, size_t new_len, int flags, ...)
{
    uintptr_t a = (uintptr_t)addr;
    size_t old, nl;
    if (flags & MREMAP_FIXED)
        return remap_fail(ENOTSUP);
    if ((flags & ~MREMAP_MAYMOVE) != 0 || a % gjb_vmm_page() != 0 ||
        old_len == 0 || new_len == 0)
        return remap_fail(EINVAL);
    if (!gjb_vmm_round(old_len, &old) || old > UINTPTR_MAX - a)
        return remap_fail(EINVAL);
    if (!gjb_vmm_round(new_len, &nl))
        return remap_fail(ENOMEM);
    void *out = NULL;
    gjb_vmm_lock();
    int err = remap_locked(a, old, nl, (flags & MREMAP_MAYMOVE) != 0, &out);
    gjb_vmm_unlock();
    return err != 0 ? remap_fail(err) : out;
}
