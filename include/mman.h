/*
 * mman.h - the SylixOS / GJB 7714 mapping interface (mmap, munmap, msync,
 * mprotect, mremap, mlock*, shm_open, shm_unlink, posix_madvise) as the
 * manual's samples include it. Our functions carry the gjbmem_ prefix and
 * the POSIX prototypes; unless GJBMEM_NO_STD_NAMES is defined before this
 * header, each standard name is mapped onto ours by an object-like macro,
 * so `mmap(...)` and `fp = mmap;` both reach the layer. A program that
 * includes only <sys/mman.h> is not affected.
 *
 * All functions: a successful call leaves errno unchanged; on failure the
 * documented code is set (posix_madvise returns it instead). Cost: one host
 * system call plus a scan of the layer's registry of live mappings (at most
 * GJBMEM_VMM_MAX_MAPPINGS records, see <gjbmem/vmm.h>), under one lock.
 */
#ifndef GJBMEM_MMAN_H
#define GJBMEM_MMAN_H

/* The system headers come first, before any name is redefined below. */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>
#include <stddef.h>
#include <stdint.h>

#include <gjbmem/export.h>

/* Constants the manual uses, whether or not _GNU_SOURCE was defined. */
#ifndef MAP_ANONYMOUS
#if defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#elif defined(__MAP_ANONYMOUS) /* glibc's per-architecture value */
#define MAP_ANONYMOUS __MAP_ANONYMOUS
#elif defined(__linux__)
#define MAP_ANONYMOUS 0x20 /* Linux's generic value */
#endif
#endif
#ifndef MAP_ANON
#define MAP_ANON MAP_ANONYMOUS
#endif
#ifndef POSIX_MADV_NORMAL
#define POSIX_MADV_NORMAL 0
#define POSIX_MADV_RANDOM 1
#define POSIX_MADV_SEQUENTIAL 2
#define POSIX_MADV_WILLNEED 3
#define POSIX_MADV_DONTNEED 4
#endif
#ifndef MAP_FILE
#define MAP_FILE 0
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef ERROR_VMM_VIRTUAL_PAGE
#define ERROR_VMM_VIRTUAL_PAGE 5503 /* as in <gjbext.h> */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The 64-bit file offset of mmap64 (off64_t where the C library has it). */
#if defined(__USE_LARGEFILE64)
typedef off64_t gjbmem_off64_t;
#else
typedef int64_t gjbmem_off64_t;
#endif

/* Maps len bytes (rounded up to whole pages) of fd from off, or anonymous
 * memory with MAP_ANONYMOUS (fd ignored). addr must be NULL. Errors, the
 * argument errors first: EINVAL (len 0, not exactly one of
 * MAP_SHARED/MAP_PRIVATE, unknown prot/flags bits, off not page-aligned),
 * then ENOTSUP (MAP_FIXED; EINVAL when its addr is not page-aligned), then
 * EINVAL (addr not NULL),
 * EBADF, EACCES (fd not readable; MAP_SHARED+PROT_WRITE on a descriptor not
 * open for writing), ENODEV (a directory), ENOMEM. Returns MAP_FAILED. */
GJBMEM_API void *gjbmem_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
/* mmap with a 64-bit offset; same rules. */
GJBMEM_API void *gjbmem_mmap64(void *addr, size_t len, int prot, int flags, int fd,
                    gjbmem_off64_t off);
/* Resizes the mapping at addr from old_len to new_len bytes; grows in place
 * when possible, moves only with MREMAP_MAYMOVE. Errors: ENOTSUP
 * (MREMAP_FIXED), EINVAL (addr not page-aligned, old_len or new_len 0,
 * unknown flags, a range that is not inside one mapping made through this
 * layer), ENOMEM (cannot grow in place without MREMAP_MAYMOVE). Returns
 * MAP_FAILED. */
GJBMEM_API void *gjbmem_mremap(void *addr, size_t old_len, size_t new_len, int flags, ...);
/* Unmaps exactly the pages of [addr, addr+len) that belong to mappings made
 * through this layer (splitting them). Errors: EINVAL (addr not
 * page-aligned, len 0, the range holds no such mapping). */
GJBMEM_API int gjbmem_munmap(void *addr, size_t len);
/* Writes the pages of file mappings back (MS_SYNC: before returning).
 * Errors: EINVAL (addr not page-aligned, MS_SYNC with MS_ASYNC, unknown
 * flags), ENOMEM (range not wholly mapped through this layer). */
GJBMEM_API int gjbmem_msync(void *addr, size_t len, int flags);
/* Changes the protection of the pages. Errors: EINVAL (addr not
 * page-aligned, len 0), ENOTSUP (bits beyond read/write/exec), ENOMEM
 * (range not wholly mapped through this layer), ERROR_VMM_VIRTUAL_PAGE
 * (the host refused, e.g. write access to a read-only file). */
GJBMEM_API int gjbmem_mprotect(void *addr, size_t len, int prot);
/* Locks / unlocks the pages in memory. Errors: EACCES (no privilege or
 * over the lock limit), ENOMEM (range not mapped), EINVAL. */
GJBMEM_API int gjbmem_mlock(const void *addr, size_t len);
GJBMEM_API int gjbmem_munlock(const void *addr, size_t len);
/* Locks all current (MCL_CURRENT) and/or future (MCL_FUTURE) pages.
 * Errors: EINVAL (bad flags), EACCES (no privilege or over the limit). */
GJBMEM_API int gjbmem_mlockall(int flags);
GJBMEM_API int gjbmem_munlockall(void);
/* Opens (creates with O_CREAT) a shared-memory object, under /dev/shm on
 * Linux. Errors: EINVAL (NULL or empty name, a '/' after the first
 * character), ENAMETOOLONG, EEXIST, ENOENT, EACCES, as POSIX otherwise. */
GJBMEM_API int gjbmem_shm_open(const char *name, int oflag, mode_t mode);
/* Removes a shared-memory object; same name rules as gjbmem_shm_open. */
GJBMEM_API int gjbmem_shm_unlink(const char *name);
/* Advice on the use of [addr, addr+len). Returns 0 or an error number
 * (EINVAL for unknown advice); never sets errno. */
GJBMEM_API int gjbmem_posix_madvise(void *addr, size_t len, int advice);

#ifdef __cplusplus
}
#endif

#ifndef GJBMEM_NO_STD_NAMES
#undef mmap
#undef mmap64
#undef mremap
#undef munmap
#undef msync
#undef mprotect
#undef mlock
#undef munlock
#undef mlockall
#undef munlockall
#undef shm_open
#undef shm_unlink
#undef posix_madvise
#define mmap gjbmem_mmap
#define mmap64 gjbmem_mmap64
#define mremap gjbmem_mremap
#define munmap gjbmem_munmap
#define msync gjbmem_msync
#define mprotect gjbmem_mprotect
#define mlock gjbmem_mlock
#define munlock gjbmem_munlock
#define mlockall gjbmem_mlockall
#define munlockall gjbmem_munlockall
#define shm_open gjbmem_shm_open
#define shm_unlink gjbmem_shm_unlink
#define posix_madvise gjbmem_posix_madvise
#endif

#endif
