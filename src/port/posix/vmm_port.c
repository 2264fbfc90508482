/*
 * vmm_port.c - the host kernel's mmap family for the mapping layer
 * (src/vmm/). The only file that calls mmap, munmap, mremap, mprotect,
 * msync, mlock*, shm_open, fstat and posix_madvise; every call returns 0 or
 * an errno value and leaves errno as the caller had it.
 *
 * Also the pages of the system heap (pages_get/put, anonymous private
 * mappings), and, in builds with GJBMEM_FAULT_INJECTION=1 (the tests'
 * library; CMake option GJBMEM_FAULT_INJECTION for libgjbmem itself), the
 * fault injection of <gjbmem/fault.h>: vm_map (hence pages_get), a growing
 * vm_remap and shm_open ask fault_hit() first and return ENOMEM without
 * calling the host when it says so. Off, that is one atomic load; in other
 * builds fault_hit() is constant false and the functions of <gjbmem/fault.h>
 * do not exist.
 */
#define _GNU_SOURCE /* mremap, mmap64, MAP_ANONYMOUS */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gjbmem/port.h"

#ifndef GJBMEM_FAULT_INJECTION
#define GJBMEM_FAULT_INJECTION 0
#endif

/* --- Fault injection ---------------------------------------------------- */

#if GJBMEM_FAULT_INJECTION
#include "gjbmem/fault.h"

enum { FAULT_OFF, FAULT_AFTER, FAULT_RANDOM };

static atomic_uint fault_mode = FAULT_OFF;   /* FAULT_* */
static atomic_uint fault_left;               /* AFTER: calls still allowed */
static atomic_uint fault_permille;           /* RANDOM: failure rate */
static atomic_uint fault_seed;               /* RANDOM: sequence */
static atomic_ullong fault_index;            /* RANDOM: calls decided so far */
static atomic_ulong fault_failed;            /* injected failures */

/* splitmix64: a well-mixed value for call number i of sequence seed. */
static uint64_t fault_mix(uint64_t seed, uint64_t i)
{
    uint64_t z = (seed << 32 ^ seed) + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* True when this port call is to fail (and counts it). */
static bool fault_hit(void)
{
    unsigned mode = atomic_load_explicit(&fault_mode, memory_order_acquire);
    if (mode == FAULT_OFF)
        return false;
    bool fail;
    if (mode == FAULT_AFTER) {
        unsigned left = atomic_load_explicit(&fault_left, memory_order_relaxed);
        while (left > 0 && !atomic_compare_exchange_weak_explicit(
                               &fault_left, &left, left - 1,
                               memory_order_relaxed, memory_order_relaxed))
            ;
        fail = left == 0;
    } else {
        uint64_t i = atomic_fetch_add_explicit(&fault_index, 1, memory_order_relaxed);
        uint64_t seed = atomic_load_explicit(&fault_seed, memory_order_relaxed);
        unsigned pm = atomic_load_explicit(&fault_permille, memory_order_relaxed);
        fail = fault_mix(seed, i) % 1000 < pm;
    }
    if (fail)
        atomic_fetch_add_explicit(&fault_failed, 1, memory_order_relaxed);
    return fail;
}

void gjbmem_fault_after(unsigned n)
{
    atomic_store_explicit(&fault_mode, FAULT_OFF, memory_order_release);
    atomic_store_explicit(&fault_left, n, memory_order_relaxed);
    atomic_store_explicit(&fault_mode, FAULT_AFTER, memory_order_release);
}

int gjbmem_fault_random(unsigned permille, unsigned seed)
{
    if (permille > 1000) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    atomic_store_explicit(&fault_mode, FAULT_OFF, memory_order_release);
    atomic_store_explicit(&fault_permille, permille, memory_order_relaxed);
    atomic_store_explicit(&fault_seed, seed, memory_order_relaxed);
    atomic_store_explicit(&fault_index, 0, memory_order_relaxed);
    atomic_store_explicit(&fault_mode, FAULT_RANDOM, memory_order_release);
    return 0;
}

void gjbmem_fault_reset(void)
{
    atomic_store_explicit(&fault_mode, FAULT_OFF, memory_order_release);
    atomic_store_explicit(&fault_failed, 0, memory_order_relaxed);
}

unsigned long gjbmem_fault_count(void)
{
    return atomic_load_explicit(&fault_failed, memory_order_relaxed);
}
#else
static inline bool fault_hit(void)
{
    return false;
}
#endif

/* --- Host calls --------------------------------------------------------- */

/* Runs with errno saved: the host's code is returned, errno restored. */
#define HOST_CALL(expr_ok)            \
    do {                              \
        int saved_ = errno, err_ = 0; \
        if (!(expr_ok))               \
            err_ = errno;             \
        errno = saved_;               \
        return err_;                  \
    } while (0)

unsigned long gjb_port_page_size(void)
{
    long sz = sysconf(_SC_PAGESIZE);
    return sz > 0 ? (unsigned long)sz : 4096UL;
}

int gjb_port_file_info(int fd, struct gjb_port_file *out)
{
    int saved = errno;
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fstat(fd, &st) != 0) {
        int err = errno;
        errno = saved;
        return err;
    }
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    out->is_dir = S_ISDIR(st.st_mode);
    out->can_read = (fl & O_ACCMODE) == O_RDONLY || (fl & O_ACCMODE) == O_RDWR;
    out->can_write = (fl & O_ACCMODE) == O_WRONLY || (fl & O_ACCMODE) == O_RDWR;
    return 0;
}

int gjb_port_vm_map(void **out, unsigned long len, int prot, int flags, int fd,
                    long long off)
{
    if (fault_hit())
        return ENOMEM;
    int saved = errno, err = 0;
#if defined(__GLIBC__)
    void *p = mmap64(NULL, len, prot, flags, fd, (off64_t)off);
#else
    void *p = (off > (long long)INT32_MAX && sizeof(off_t) < 8)
                  ? (errno = EOVERFLOW, MAP_FAILED)
                  : mmap(NULL, len, prot, flags, fd, (off_t)off);
#endif
    if (p == MAP_FAILED)
        err = errno;
    else
        *out = p;
    errno = saved;
    return err;
}

int gjb_port_vm_unmap(void *addr, unsigned long len)
{
    HOST_CALL(munmap(addr, len) == 0);
}

/* Linux resizes only a range within one of its own areas (VMAs). Advice on
 * part of a mapping (MADV_RANDOM, MADV_SEQUENTIAL) splits the area without
 * the layer knowing, and mremap then fails with EFAULT: reset the advice
 * over the range, which lets the kernel merge the pieces back, and retry. */
int gjb_port_vm_remap(void *addr, unsigned long old_len, unsigned long new_len,
                      bool may_move, void **out)
{
    if (new_len > old_len && fault_hit()) /* only a growth asks for pages */
        return ENOMEM;
    int saved = errno, err = 0, flags = may_move ? MREMAP_MAYMOVE : 0;
    void *p = mremap(addr, old_len, new_len, flags);
    if (p == MAP_FAILED && errno == EFAULT && madvise(addr, old_len, MADV_NORMAL) == 0)
        p = mremap(addr, old_len, new_len, flags);
    if (p == MAP_FAILED)
        err = errno;
    else
        *out = p;
    errno = saved;
    return err;
}

int gjb_port_vm_protect(void *addr, unsigned long len, int prot)
{
    HOST_CALL(mprotect(addr, len, prot) == 0);
}

int gjb_port_vm_sync(void *addr, unsigned long len, int flags)
{
    HOST_CALL(msync(addr, len, flags) == 0);
}

/* True when every page of the range is mapped (mincore fails otherwise). */
static bool range_mapped(const void *addr, unsigned long len)
{
    unsigned long page = gjb_port_page_size();
    uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    unsigned long span = (unsigned long)((uintptr_t)addr - start) + len;
    unsigned char vec[64];
    while (span > 0) {
        unsigned long chunk = span < 64 * page ? span : 64 * page;
        if (mincore((void *)start, chunk, vec) != 0)
            return false;
        start += chunk;
        span -= chunk;
    }
    return true;
}

/* EPERM (no privilege), EAGAIN and ENOMEM on mapped pages (lock limit)
 * become EACCES, the manual's code; ENOMEM on unmapped pages stays. */
static int lock_error(int err, const void *addr, unsigned long len)
{
    if (err == EPERM || err == EAGAIN)
        return EACCES;
    if (err == ENOMEM && (addr == NULL || range_mapped(addr, len)))
        return EACCES;
    return err;
}

int gjb_port_vm_lock(const void *addr, unsigned long len)
{
    int saved = errno, err = 0;
    if (mlock(addr, len) != 0)
        err = lock_error(errno, addr, len);
    errno = saved;
    return err;
}

int gjb_port_vm_unlock(const void *addr, unsigned long len)
{
    int saved = errno, err = 0;
    if (munlock(addr, len) != 0)
        err = lock_error(errno, addr, len);
    errno = saved;
    return err;
}

int gjb_port_vm_lockall(int flags)
{
    int saved = errno, err = 0;
    if (mlockall(flags) != 0)
        err = lock_error(errno, NULL, 0);
    errno = saved;
    return err;
}

int gjb_port_vm_unlockall(void)
{
    HOST_CALL(munlockall() == 0);
}

int gjb_port_vm_advise(void *addr, unsigned long len, int advice)
{
    return posix_madvise(addr, len, advice);
}

int gjb_port_shm_open(const char *name, int oflag, unsigned mode, int *fd)
{
    if (fault_hit())
        return ENOMEM;
    int saved = errno, err = 0;
    int f = shm_open(name, oflag, (mode_t)mode);
    if (f == -1)
        err = errno;
    else
        *fd = f;
    errno = saved;
    return err;
}

int gjb_port_shm_unlink(const char *name)
{
    HOST_CALL(shm_unlink(name) == 0);
}

/* --- Pages for the system heap ------------------------------------------ */

int gjb_port_pages_get(unsigned long len, void **out)
{
    return gjb_port_vm_map(out, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

void gjb_port_pages_put(void *p, unsigned long len)
{
    (void)gjb_port_vm_unmap(p, len);
}
