/*
 * gjbext.h - GJB 7714 / SylixOS memory-management interface (gjbmem).
 *
 * The system heap (heap_mem_init, mem_*) and variable-size memory
 * partitions (mpart_*), with the types, constants and error codes of the
 * reference manual. Every function is thread-safe. On
 * failure a function returns -1 (or NULL) and sets errno; on success errno is
 * left unchanged. Time bounds are worst case, n = free blocks in the heap.
 */
#ifndef GJBEXT_H
#define GJBEXT_H

#include <errno.h>
#include <stddef.h>

#include <gjbmem/config.h>
#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Allocation policies (heap_mem_init flag; mpart_create_ex policy). */
#define FIRST_FIT_ALLOCATION 0
#define BUDDY_ALLOCATION 1

/* Error codes beyond <errno.h>, numbered as in SylixOS. */
#ifndef ERROR_KERNEL_HANDLE_NULL
#define ERROR_KERNEL_HANDLE_NULL 303 /* invalid handle (partition id) */
#define ERROR_KERNEL_IN_ISR 304      /* called from interrupt context */
#define ERROR_KERNEL_MEMORY 314      /* memory address error (overlap) */
#define ERROR_REGION_NULL 4001       /* bad control block (bad pointer) */
#define ERROR_REGION_SIZE 4002       /* region or request size error */
#define ERROR_REGION_ALIGN 4004      /* alignment error */
#define ERROR_VMM_VIRTUAL_PAGE 5503  /* virtual page error */
#endif

/* Heap and partition statistics; the two structures have the same layout.
 * segment: blocks in the heap (allocated and free); free: bytes in free
 * blocks available to allocation (headers excluded); used: every other
 * managed byte, so used + free = bytes under management; maxused: the
 * high-water mark of used. */
struct meminfo {
    unsigned long segment;
    size_t used;
    size_t maxused;
    size_t free;
};

struct partinfo {
    unsigned long segment;
    size_t used;
    size_t maxused;
    size_t free;
};

typedef unsigned long mpart_id;

/* --- The system heap ---------------------------------------------------- */

/* Selects the system heap's policy: FIRST_FIT_ALLOCATION (the default when
 * it is never called) or BUDDY_ALLOCATION. Returns 0; the same policy again
 * is a no-op. Errors: any other flag: -1 / EINVAL; a different policy while
 * blocks are allocated: -1 / EBUSY. O(regions). */
GJBMEM_API int heap_mem_init(int flag);

/* The largest block the system heap can hand out from the memory it holds
 * now (its largest free block; the heap may still grow, or serve a large
 * request with a direct mapping, within its limit), clamped to INT_MAX.
 * Never above mem_getinfo's free; gjbmem_malloc of that size succeeds. No
 * errors. O(1). */
GJBMEM_API int mem_findmax(void);

/* Copies the system heap's statistics into *info. The heap holds its first
 * region from the library's first use (on a host 4 MiB from the port, less
 * when the limit is lower), so a process that has not allocated yet reports
 * segment >= 1 and free > 0; used + free is the bytes the heap manages
 * (direct mappings are not counted: gjbmem_sysheap_stats). Errors: NULL info: -1 /
 * EINVAL; caller not in system context (as the port reports): -1 / EACCES.
 * O(1). */
GJBMEM_API int mem_getinfo(struct meminfo *info);

/* Prints, on standard output, the table of the SylixOS `free` command:
 * "heap show >>", a blank line, the header and its rule, then one row
 * "%-14s %8zuKB %8zuKB %8zuKB %7ld %3zd%%" (name, total, used and max used
 * in KiB, segments, used / (total / 100)) for the system heap ("system")
 * and for each live partition ("mpart 0x<id>"), a blank line, then the
 * system heap's host summary and the mapping layer's. No errors. Thread-safe
 * (each row is a snapshot under its heap's lock). O(partitions). */
GJBMEM_API void mem_show(void);

/* Sets how many partitions may be live at once (default MPART_MAX_PARTS).
 * Errors: max_parts < 1: EINVAL; max_parts > MPART_MAX_PARTS: ENOSPC;
 * max_parts below the number of live partitions: EBUSY. O(1). */
GJBMEM_API int mpart_module_init(int max_parts);

/* Creates a partition over [addr, addr+size) and stores its id in *mid. Any
 * alignment of addr is accepted. The memory belongs to the partition until
 * mpart_delete. Errors: NULL addr or mid, size 0, too small, or overlapping
 * memory already managed: EINVAL; table full: ENOSPC; interrupt context:
 * ERROR_KERNEL_IN_ISR. O(partitions x regions). */
GJBMEM_API int mpart_create(char *addr, size_t size, mpart_id *mid);

/* Deletes an empty partition; its id becomes stale. Errors: bad or stale
 * mid: EINVAL; blocks still allocated: EBUSY (nothing changes); interrupt
 * context: ERROR_KERNEL_IN_ISR. O(1). */
GJBMEM_API int mpart_delete(mpart_id mid);

/* Adds [addr, addr+size) to the partition as a further region. Errors: NULL
 * addr or size 0: EINVAL; bad mid: ERROR_KERNEL_HANDLE_NULL; overlap with any
 * managed memory: ERROR_KERNEL_MEMORY; too small for one block (and, when
 * the partition's region table is full, for the bigger table it moves into
 * the new memory: 32 bytes per region on LP64, room to double, one more
 * record at the least): ERROR_REGION_SIZE; region table of the partition full (see
 * GJBMEM_MAX_REGIONS): ENOSPC; interrupt context: ERROR_KERNEL_IN_ISR.
 * O(partitions x regions). */
GJBMEM_API int mpart_addmem(mpart_id mid, char *addr, size_t size);

/* Allocates size bytes (aligned to alignof(max_align_t)): a FIRST_FIT
 * partition takes the first free block of the smallest size class that
 * holds them (segregated first fit, docs/DESIGN.md), a BUDDY partition the
 * smallest free power-of-two block. Errors: size 0: EINVAL; bad mid:
 * ERROR_KERNEL_HANDLE_NULL; larger than the partition could ever hold:
 * ERROR_REGION_SIZE; not enough free memory now: ENOMEM; interrupt context:
 * ERROR_KERNEL_IN_ISR. FIRST_FIT O(1), BUDDY O(log size). */
GJBMEM_API void *mpart_alloc(mpart_id mid, size_t size);

/* As mpart_alloc, aligned to alignment (any power of two). Errors as
 * mpart_alloc, plus alignment 0 or not a power of two: ERROR_REGION_ALIGN.
 * As mpart_alloc. */
GJBMEM_API void *mpart_memalign(mpart_id mid, size_t alignment, size_t size);

/* Resizes the block at addr, keeping its contents up to the smaller size and
 * its alignment. Grows into a free right neighbour or (moving the contents)
 * a free left neighbour, shrinks in place, and moves only when it must. NULL
 * addr behaves as mpart_alloc. Errors (the old block is then intact): size 0:
 * EINVAL; addr not an allocated block of this partition: EINVAL; bad mid:
 * ERROR_KERNEL_HANDLE_NULL; larger than the partition could ever hold:
 * ERROR_REGION_SIZE; cannot grow now: ENOMEM; interrupt context:
 * ERROR_KERNEL_IN_ISR. As mpart_alloc (+ O(log regions)), plus the copy;
 * a FIRST_FIT partition with quick lists that can grow the block in place
 * neither way first merges back the blocks they set aside (at most
 * GJBMEM_FF_QUICK merges) and tries again. */
GJBMEM_API void *mpart_realloc(mpart_id mid, char *addr, size_t size);

/* Frees the block at addr. The pointer is checked first (inside the
 * partition, at a block start, allocated); nothing is written otherwise.
 * Errors: NULL addr: EINVAL; foreign, interior or already freed pointer, or
 * a damaged block header: ERROR_REGION_NULL; bad mid:
 * ERROR_KERNEL_HANDLE_NULL; interrupt context: ERROR_KERNEL_IN_ISR. FIRST_FIT
 * O(1), BUDDY O(log size); a block outside the partition's largest region
 * adds O(log regions). */
GJBMEM_API int mpart_free(mpart_id mid, char *addr);

/* Returns the largest size mpart_alloc would now satisfy, clamped to
 * INT_MAX (mpart_findmaxfree_size gives the full value, and says what it
 * merges first). Errors: bad mid: -1 / ERROR_KERNEL_HANDLE_NULL. O(1). */
GJBMEM_API int mpart_findmaxfree(mpart_id mid);

/* Copies the partition's statistics into *pi. Errors: NULL pi: EINVAL; bad
 * mid: ERROR_KERNEL_HANDLE_NULL. O(1). */
GJBMEM_API int mpart_getinfo(mpart_id mid, struct partinfo *pi);

/* Text for an errno value, including the SylixOS codes above. Never NULL. */
GJBMEM_API const char *gjbmem_strerror(int err);

#ifdef __cplusplus
}
#endif

#include <gjbmem/mpart.h>

#endif /* GJBEXT_H */
