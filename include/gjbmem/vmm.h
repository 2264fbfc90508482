/*
 * gjbmem/vmm.h - extensions of the mapping layer (<mman.h>): the summary of
 * the mappings made through it.
 */
#ifndef GJBMEM_VMM_H
#define GJBMEM_VMM_H

#include <stddef.h>

#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most live mapping records at once; a mapping split by a partial munmap,
 * mprotect or mlock counts once per piece. Beyond it: ENOMEM. */
#define GJBMEM_VMM_MAX_MAPPINGS 4096

struct gjbmem_vmm_stats {
    size_t mappings;          /* live mapping records */
    size_t bytes_mapped;      /* bytes in them (whole pages) */
    size_t bytes_locked;      /* bytes of them locked in memory */
    size_t shm_opened;        /* successful shm_open calls so far */
    size_t shared_anon_bytes; /* bytes mapped MAP_SHARED|MAP_ANONYMOUS now:
                                 the running total of fpm_shm_alloc/free */
};

/* Fills *st with a consistent snapshot; 0, or -1 with EINVAL for NULL. */
GJBMEM_API int gjbmem_vmm_stats(struct gjbmem_vmm_stats *st);

/* Prints the summary above to stdout as one line, the one mem_show ends
 * with ("mappings: 2 live, 8192 bytes mapped, 0 bytes locked, 1
 * shared-memory objects opened, 4096 bytes shared anonymous"); 0, or -1
 * with errno on an output error. Thread-safe. O(GJBMEM_VMM_MAX_MAPPINGS). */
GJBMEM_API int gjbmem_vmm_show(void);

#ifdef __cplusplus
}
#endif

#endif
