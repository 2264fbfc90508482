/*
 * gjbmem/mpart.h - extensions to the mpart_* interface (included by gjbext.h).
 */
#ifndef GJBMEM_MPART_H
#define GJBMEM_MPART_H

#include <stddef.h>

#include <gjbext.h>
#include <gjbmem/errpolicy.h>
#include <gjbmem/stats.h>
#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a partition with the given policy: FIRST_FIT_ALLOCATION (what
 * mpart_create does) or BUDDY_ALLOCATION (binary buddy: power-of-two blocks
 * of at least 32 bytes on LP64, aligned to their size, no header; worst case
 * O(log size)). Other policies: EINVAL. Otherwise as mpart_create. */
GJBMEM_API int mpart_create_ex(char *addr, size_t size, int policy, mpart_id *mid);

/* Stores in *size the largest size mpart_alloc would now satisfy, without
 * the INT_MAX clamp of mpart_findmaxfree. Errors: NULL size: EINVAL; bad
 * mid: ERROR_KERNEL_HANDLE_NULL. O(1). */
GJBMEM_API int mpart_findmaxfree_size(mpart_id mid, size_t *size);

/* Copies the extended statistics (struct gjbmem_heap_stats) into *st.
 * Errors: NULL st: EINVAL; bad mid: ERROR_KERNEL_HANDLE_NULL. O(1). */
GJBMEM_API int mpart_getstats(mpart_id mid, struct gjbmem_heap_stats *st);

/* Walks the whole partition and checks every invariant of the heap engine.
 * Returns 0 when consistent. Errors: bad mid: ERROR_KERNEL_HANDLE_NULL;
 * damage found: ERROR_KERNEL_MEMORY. O(blocks). */
GJBMEM_API int mpart_validate(mpart_id mid);

/* Usable bytes of the allocated block at addr (at least what was asked).
 * Returns 0 and sets errno: bad mid: ERROR_KERNEL_HANDLE_NULL; addr not an
 * allocated block: ERROR_REGION_NULL. O(log regions). */
GJBMEM_API size_t mpart_usable_size(mpart_id mid, const void *addr);

/* Sets what partition mid does, besides failing the call, when it meets a
 * bad pointer (mpart_free, mpart_realloc) or finds damage (mpart_free,
 * mpart_realloc, mpart_validate; a BUDDY allocation that meets a damaged
 * free list; a broken guard): flags GJBMEM_ERR_* of gjbmem/errpolicy.h
 * (log, hook, abort; GJBMEM_ERR_RETURN, the default of a new partition,
 * only fails). The hook gets arg; it runs with no lock held. In interrupt
 * context only the abort applies. Errors: unknown flags, or GJBMEM_ERR_HOOK
 * without a hook: EINVAL; bad mid: ERROR_KERNEL_HANDLE_NULL;
 * ERROR_KERNEL_IN_ISR. O(1). */
GJBMEM_API int mpart_set_error_policy(mpart_id mid, unsigned flags, gjbmem_error_hook hook, void *arg);

/* One block of a partition, as mpart_blocks reports it. */
struct mpart_block {
    void *start;   /* its first byte (a header, if the policy has one) */
    size_t size;   /* its bytes, header included */
    size_t header; /* bytes before the payload */
    int used;      /* 1: allocated, 0: free */
};

/* Copies the blocks of partition mid (each region's in address order,
 * regions in address order) into out[0 .. cap) and stores in *count how
 * many there are (also when that is more than cap). Bytes of the
 * partition's memory in no block are its own metadata. Meant for tools that
 * draw or check a partition: get the count with mpart_getstats (segments)
 * or a first call with cap 0. Errors: NULL count, or NULL out with cap > 0:
 * EINVAL; bad mid: ERROR_KERNEL_HANDLE_NULL; ERROR_KERNEL_IN_ISR.
 * O(blocks), under the partition's lock. */
GJBMEM_API int mpart_blocks(mpart_id mid, struct mpart_block *out, size_t cap, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
