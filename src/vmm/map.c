/*
 * map.c - mmap, mmap64 and munmap of the mapping layer: the argument rules
 * of SPEC section 5, then the host call through the port, then the
 * registry. No system call here.
 */
#define _GNU_SOURCE /* the host's full set of MAP_* names */
#define GJBMEM_NO_STD_NAMES
#include <errno.h>
#include <mman.h>
#include <stdint.h>

#include "gjbmem/port.h"
#include "vmm/registry.h"

#define PROT_KNOWN (PROT_READ | PROT_WRITE | PROT_EXEC)

/* Flags accepted besides MAP_SHARED/MAP_PRIVATE/MAP_ANONYMOUS: hints the
 * host honours or ignores without changing where the mapping goes. */
#define MAP_HINTS (MAP_FILE | HINT_NORESERVE | HINT_POPULATE | HINT_DENYWRITE | HINT_EXECUTABLE)
#ifdef MAP_NORESERVE
#define HINT_NORESERVE MAP_NORESERVE
#else
#define HINT_NORESERVE 0
#endif
#ifdef MAP_POPULATE
#define HINT_POPULATE MAP_POPULATE
#else
#define HINT_POPULATE 0
#endif
#ifdef MAP_DENYWRITE
#define HINT_DENYWRITE MAP_DENYWRITE
#else
#define HINT_DENYWRITE 0
#endif
#ifdef MAP_EXECUTABLE
#define HINT_EXECUTABLE MAP_EXECUTABLE
#else
#define HINT_EXECUTABLE 0
#endif

static void *map_fail(int err)
{
    gjb_port_set_errno(err);
    return MAP_FAILED;
}

/* The argument rules of SPEC section 5, argument errors first (EINVAL, as
 * POSIX orders them): only a request that is otherwise valid hears that
 * MAP_FIXED is not supported (ENOTSUP), and a MAP_FIXED address that is not
 * page-aligned is an argument error. */
static int check_map_args(void *addr, size_t len, int prot, int flags, long long off)
{
    int kind = flags & (MAP_SHARED | MAP_PRIVATE);
    if (flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_HINTS))
        return EINVAL;
    if (len == 0 || (prot & ~PROT_KNOWN) != 0)
        return EINVAL;
    if (kind != MAP_SHARED && kind != MAP_PRIVATE)
        return EINVAL;
    if (off < 0 || (unsigned long long)off % gjb_vmm_page() != 0)
        return EINVAL;
    if (flags & MAP_FIXED)
        return (uintptr_t)addr % gjb_vmm_page() != 0 ? EINVAL : ENOTSUP;
    return addr != NULL ? EINVAL : 0;
}

/* Fills the file part of the record, with the access rules of SPEC §5. */
static int check_file(int fd, int prot, int flags, struct gjb_vmm_rec *rec)
{
    struct gjb_port_file info;
    int err = gjb_port_file_info(fd, &info);
    if (err != 0)
        return err;
    if (info.is_dir)
        return ENODEV;
    if (!info.can_read)
        return EACCES;
    if ((flags & MAP_SHARED) && (prot & PROT_WRITE) && !info.can_write)
        return EACCES;
    rec->file = true;
    rec->dev = info.dev;
    rec->ino = info.ino;
    return 0;
}

static int map_locked(struct gjb_vmm_rec *rec, int fd)
{
    void *p;
    if (gjb_vmm_free_slots() == 0)
        return ENOMEM;
    int err = gjb_port_vm_map(&p, rec->len, rec->prot, rec->flags, fd, rec->off);
    if (err != 0)
        return err;
    rec->addr = (uintptr_t)p;
    rec->locked = gjb_vmm_lock_future;
    return gjb_vmm_add(rec); /* cannot fail: a slot was free */
}

static void *do_map(void *addr, size_t len, int prot, int flags, int fd, long long off)
{
    struct gjb_vmm_rec rec = {0};
    int err = check_map_args(addr, len, prot, flags, off);
    if (err != 0)
        return map_fail(err);
    if (!gjb_vmm_round(len, &rec.len))
        return map_fail(ENOMEM);
    if (!(flags & MAP_ANONYMOUS)) {
        err = check_file(fd, prot, flags, &rec);
        if (err != 0)
            return map_fail(err);
        rec.off = off;
    } else {
        fd = -1;
    }
    rec.prot = prot;
    rec.flags = flags;
    rec.shared = (flags & MAP_SHARED) != 0;
    gjb_vmm_lock();
    err = map_locked(&rec, fd);
    gjb_vmm_unlock();
    return err != 0 ? map_fail(err) : (void *)rec.addr;
}

void *gjbmem_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return do_map(addr, len, prot, flags, fd, (long long)off);
}

void *gjbmem_mmap64(void *addr, size_t len, int prot, int flags, int fd,
                    gjbmem_off64_t off)
{
    return do_map(addr, len, prot, flags, fd, (long long)off);
}

/* Unmaps the layer's pages in [a, b): split at both ends, then drop. */
static int unmap_locked(uintptr_t a, uintptr_t b)
{
    if (!gjb_vmm_overlaps(a, b))
        return EINVAL;
    if (gjb_vmm_splits_needed(a, b) > gjb_vmm_free_slots())
        return ENOMEM;
    gjb_vmm_split_at(a);
    gjb_vmm_split_at(b);
    size_t cursor = 0;
    struct gjb_vmm_rec *r;
    while ((r = gjb_vmm_next_in(a, b, &cursor)) != NULL) {
        int err = gjb_port_vm_unmap((void *)r->addr, r->len);
        if (err != 0)
            return err;
        gjb_vmm_drop(r);
    }
    return 0;
}

int gjbmem_munmap(void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr;
    size_t rlen;
    if (a % gjb_vmm_page() != 0 || len == 0 || !gjb_vmm_round(len, &rlen) ||
        rlen > UINTPTR_MAX - a) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    gjb_vmm_lock();
    int err = unmap_locked(a, a + rlen);
    gjb_vmm_unlock();
    if (err != 0) {
        gjb_port_set_errno(err);
        return -1;
    }
    return 0;
}
