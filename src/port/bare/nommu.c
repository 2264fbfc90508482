/*
 * nommu.c - the mapping layer on a target without an MMU or processes, as
 * SylixOS answers there: every mapping call (mmap, munmap, msync, mprotect,
 * mremap, mlock*, shm_open, shm_unlink) fails with ENOSYS, posix_madvise
 * returns ENOSYS, and nothing else changes. The port's host-memory and
 * shared-memory hooks (gjbmem/port.h) answer the same way, so code that
 * reaches them learns the target has none. mem_show's last line says so.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h> /* off_t, mode_t: the toolchain's C library headers */

#include "core/api_internal.h"
#include "core/textline.h"
#include "gjbmem/port.h"
#include "gjbmem/vmm.h"

/* The prototypes of <mman.h> (which needs the host's <sys/mman.h>). */
void *gjbmem_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *gjbmem_mmap64(void *addr, size_t len, int prot, int flags, int fd, long long off);
void *gjbmem_mremap(void *addr, size_t old_len, size_t new_len, int flags, ...);
int gjbmem_munmap(void *addr, size_t len);
int gjbmem_msync(void *addr, size_t len, int flags);
int gjbmem_mprotect(void *addr, size_t len, int prot);
int gjbmem_mlock(const void *addr, size_t len);
int gjbmem_munlock(const void *addr, size_t len);
int gjbmem_mlockall(int flags);
int gjbmem_munlockall(void);
int gjbmem_shm_open(const char *name, int oflag, mode_t mode);
int gjbmem_shm_unlink(const char *name);
int gjbmem_posix_madvise(void *addr, size_t len, int advice);

#define GJB_MAP_FAILED ((void *)-1)

static int nosys(void)
{
    gjb_port_set_errno(ENOSYS);
    return -1;
}

void *gjbmem_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    (void)addr, (void)len, (void)prot, (void)flags, (void)fd, (void)off;
    nosys();
    return GJB_MAP_FAILED;
}

void *gjbmem_mmap64(void *addr, size_t len, int prot, int flags, int fd, long long off)
{
    (void)addr, (void)len, (void)prot, (void)flags, (void)fd, (void)off;
    nosys();
    return GJB_MAP_FAILED;
}

void *gjbmem_mremap(void *addr, size_t old_len, size_t new_len, int flags, ...)
{
    (void)addr, (void)old_len, (void)new_len, (void)flags;
    nosys();
    return GJB_MAP_FAILED;
}

int gjbmem_munmap(void *addr, size_t len)
{
    (void)addr, (void)len;
    return nosys();
}

int gjbmem_msync(void *addr, size_t len, int flags)
{
    (void)addr, (void)len, (void)flags;
    return nosys();
}

int gjbmem_mprotect(void *addr, size_t len, int prot)
{
    (void)addr, (void)len, (void)prot;
    return nosys();
}

int gjbmem_mlock(const void *addr, size_t len)
{
    (void)addr, (void)len;
    return nosys();
}

int gjbmem_munlock(const void *addr, size_t len)
{
    (void)addr, (void)len;
    return nosys();
}

int gjbmem_mlockall(int flags)
{
    (void)flags;
    return nosys();
}

int gjbmem_munlockall(void)
{
    return nosys();
}

int gjbmem_shm_open(const char *name, int oflag, mode_t mode)
{
    (void)name, (void)oflag, (void)mode;
    return nosys();
}

int gjbmem_shm_unlink(const char *name)
{
    (void)name;
    return nosys();
}

int gjbmem_posix_madvise(void *addr, size_t len, int advice)
{
    (void)addr, (void)len, (void)advice;
    return ENOSYS; /* returned, errno untouched (POSIX) */
}

int gjbmem_vmm_stats(struct gjbmem_vmm_stats *st)
{
    if (!st)
        return nosys();
    *st = (struct gjbmem_vmm_stats){0};
    return 0;
}

static void summary(struct gjb_line *l)
{
    gjb_line_put(l, "mappings: none (no MMU: the mapping calls answer ENOSYS)");
}

void gjb_vmm_init(void)
{
    gjb_show_register(summary);
}

int gjbmem_vmm_show(void)
{
    struct gjb_line l = {.n = 0};
    summary(&l);
    return gjb_line_emit(1, &l);
}

/* --- gjbmem/port.h's host-memory and shared-memory hooks: none here. */

unsigned long gjb_port_page_size(void)
{
    return 4096; /* only a unit for the callers' rounding */
}

int gjb_port_file_info(int fd, struct gjb_port_file *out)
{
    (void)fd, (void)out;
    return ENOSYS;
}

int gjb_port_vm_map(void **out, unsigned long len, int prot, int flags, int fd, long long off)
{
    (void)len, (void)prot, (void)flags, (void)fd, (void)off;
    *out = NULL;
    return ENOSYS;
}

int gjb_port_vm_unmap(void *addr, unsigned long len)
{
    (void)addr, (void)len;
    return ENOSYS;
}

int gjb_port_vm_remap(void *addr, unsigned long old_len, unsigned long new_len, bool may_move,
                      void **out)
{
    (void)addr, (void)old_len, (void)new_len, (void)may_move;
    *out = NULL;
    return ENOSYS;
}

int gjb_port_vm_protect(void *addr, unsigned long len, int prot)
{
    (void)addr, (void)len, (void)prot;
    return ENOSYS;
}

int gjb_port_vm_sync(void *addr, unsigned long len, int flags)
{
    (void)addr, (void)len, (void)flags;
    return ENOSYS;
}

int gjb_port_vm_lock(const void *addr, unsigned long len)
{
    (void)addr, (void)len;
    return ENOSYS;
}

int gjb_port_vm_unlock(const void *addr, unsigned long len)
{
    (void)addr, (void)len;
    return ENOSYS;
}

int gjb_port_vm_lockall(int flags)
{
    (void)flags;
    return ENOSYS;
}

int gjb_port_vm_unlockall(void)
{
    return ENOSYS;
}

int gjb_port_vm_advise(void *addr, unsigned long len, int advice)
{
    (void)addr, (void)len, (void)advice;
    return ENOSYS;
}

int gjb_port_shm_open(const char *name, int oflag, unsigned mode, int *fd)
{
    (void)name, (void)oflag, (void)mode;
    *fd = -1;
    return ENOSYS;
}

int gjb_port_shm_unlink(const char *name)
{
    (void)name;
    return ENOSYS;
}
