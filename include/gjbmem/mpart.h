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
 * the INT_MAX clamp of mpart_findmaxfree. A FIRST_FIT partition first gives
 * the blocks its quick lists set aside back, merged, so that the answer is
 * exact (gjb_heap_settle); its largest_free statistic does not, and may be
 * smaller until then. Errors: NULL size: EINVAL; bad mid:
 * ERROR_KERNEL_HANDLE_NULL. O(1): at most GJBMEM_FF_QUICK merges. */
GJBMEM_API int mpart_findmaxfree_size(mpart_id mid, size_t *size);

/* Copies the extended statistics (struct gjbmem_heap_stats) into *st.
 * Errors: NULL st: EINVAL; bad mid: ERROR_KERNEL_HANDLE_NULL. O(1). */
GJBMEM_API int mpart_getstats(mpart_id mid, struct gjbmem_heap_stats *st);

/* Walks the whole partition and checks every invariant of the heap engine
 * (a shared partition's: first that its descriptor still names only its
 * own memory). Returns 0 when consistent. Errors: bad mid:
 * ERROR_KERNEL_HANDLE_NULL; damage found: ERROR_KERNEL_MEMORY. O(blocks). */
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
 * EINVAL; bad mid: ERROR_KERNEL_HANDLE_NULL; ERROR_KERNEL_IN_ISR; a shared
 * partition whose metadata another process damaged (it is validated
 * first; the error policy runs): ERROR_KERNEL_MEMORY. O(blocks), under the
 * partition's lock; a shared partition's validation first, as
 * mpart_validate's. */
GJBMEM_API int mpart_blocks(mpart_id mid, struct mpart_block *out, size_t cap, size_t *count);


/* --- Partitions in shared memory (docs/SHARED.md) ------------------------
 * A partition may live in memory shared between processes, each mapping it
 * at its own address: each process gets its own id for it and uses the
 * ordinary mpart_* calls. Its lock lives in that memory and is
 * process-shared and robust: a process that dies holding it does not block
 * the others; the next caller repairs the partition (the dead process's
 * operation is completed or undone, no other block is touched) or, when it
 * cannot, marks it damaged, after which every call on it fails with
 * ENOTRECOVERABLE and writes nothing. The memory is untrusted: opening
 * checks the header and every offset of the heap's metadata, then validates
 * it (O(blocks)). Not available at hardening levels 2-3 (ENOTSUP: guard
 * words hold addresses) nor in interrupt context (ERROR_KERNEL_IN_ISR).
 * A block's address is its own to each process: hand blocks over as
 * offsets (mpart_to_offset, mpart_from_offset). Alignments up to the page
 * size hold in every process (larger ones only where the mappings agree). */

/* Creates a named shared-memory object (shm_open rules: "name" or "/name")
 * of size bytes holding a new partition with policy, maps it and stores
 * this process's id in *mid. Errors: NULL mid, unknown policy, a size too
 * small for the header, the heap's metadata and one block: EINVAL; the
 * name exists: EEXIST; a bad name: EINVAL / ENAMETOOLONG; the host's
 * refusals (EACCES, ENOMEM, ...); partition table full: ENOSPC. O(size /
 * page) to clear the heap's bitmap. */
GJBMEM_API int mpart_create_shared(const char *name, size_t size, int policy, mpart_id *mid);

/* Maps the named shared partition and stores this process's id in *mid.
 * Errors: NULL mid: EINVAL; no such name: ENOENT; not a partition of this
 * library version and word size, or a damaged header or metadata: EINVAL
 * (nothing is written); marked damaged: ENOTRECOVERABLE; deleted: ENOENT;
 * 64 processes have it open: ENOSPC; table full: ENOSPC; its lock stayed
 * held for 5 s (a stuck holder, or a lock another process spoilt; the wait
 * is GJBMEM_SHM_OPEN_WAIT_MS milliseconds when set): ETIMEDOUT. O(blocks). */
GJBMEM_API int mpart_open_shared(const char *name, mpart_id *mid);

/* As mpart_create_shared and mpart_open_shared over memory the caller
 * already shares (a MAP_SHARED mapping, e.g. MAP_SHARED|MAP_ANONYMOUS made
 * before fork, or an object mapped at another address in another process):
 * [addr, addr+size) must be mapped; the header starts at addr rounded up to
 * 64 bytes, and mpart_attach must be given the same place of the memory.
 * Nothing is unmapped by close or delete. A BUDDY partition must be seen at
 * addresses that agree modulo its largest block (a mapping inherited
 * through fork always does; else EINVAL). Errors as above, plus memory not
 * mapped or already managed: EINVAL. */
GJBMEM_API int mpart_create_in(void *addr, size_t size, int policy, mpart_id *mid);
GJBMEM_API int mpart_attach(void *addr, mpart_id *mid);

/* This process lets go of shared partition mid: its id becomes stale, what
 * mpart_create_shared / mpart_open_shared mapped is unmapped; the partition
 * and its blocks live on for the other processes. mpart_delete instead
 * destroys it (and unlinks its name), only when no other process has it
 * open and no block is allocated: EBUSY otherwise (a partition marked
 * damaged may be deleted with blocks). Errors: an id that names no shared
 * partition: EINVAL. O(1). */
GJBMEM_API int mpart_close_shared(mpart_id mid);

/* The offset of address p inside shared partition mid, the same in every
 * process, and back. Errors: p or off outside the partition's heap, or mid
 * a private partition: -1 / NULL with EINVAL; bad mid:
 * ERROR_KERNEL_HANDLE_NULL. O(1); no lock. */
GJBMEM_API long mpart_to_offset(mpart_id mid, const void *p);
GJBMEM_API void *mpart_from_offset(mpart_id mid, long off);

/* Looks at the named shared partition from outside, writing nothing to it
 * (what `gjbmem show --shm NAME` prints): the object is read (not mapped:
 * an object another process shrinks meanwhile reads short) into buf
 * (buflen bytes; *size is set to the bytes needed, so
 * a first call may pass buflen 0), the copy is checked and validated, and
 * its statistics go to *st and its blocks, as mpart_blocks gives them but
 * inside the copy, to out[0 .. cap) (*count: how many there are). A copy
 * torn by a writer fails validation, or reads short, and is taken again
 * (up to 100 times).
 * Errors: NULL size, st or count, NULL out with cap, NULL buf with buflen:
 * EINVAL; buflen too small: ERANGE; no such name: ENOENT; not a partition,
 * or a damaged header: EINVAL; marked damaged: ENOTRECOVERABLE; never
 * found consistent: EAGAIN; the host's refusals (EACCES, ...). O(size +
 * blocks) per try. */
GJBMEM_API int mpart_peek_shared(const char *name, void *buf, size_t buflen, size_t *size,
                                 struct gjbmem_heap_stats *st, struct mpart_block *out,
                                 size_t cap, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
