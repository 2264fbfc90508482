/*
 * gjbmem/heap.h - the heap engine: one heap = one or more regions of memory,
 * one allocation policy. Freestanding (no OS, no libc allocation) and
 * position-independent: all metadata lives inside the managed memory and is
 * linked by offsets, so a heap may sit in memory mapped at different
 * addresses in different processes.
 *
 * The engine takes no locks: the caller serialises calls on one heap.
 * Functions return a gjb_status (0 on success). r = regions of the heap.
 * Costs: FIRST_FIT (segregated first fit) allocates, frees and resizes in
 * O(1), a fixed number of bitmap words and no loop over blocks or lists;
 * BUDDY in O(log size) (splitting down or merging up, at most one step per
 * order). A pointer outside the heap's largest region adds a binary search
 * of the region table, O(log r).
 */
#ifndef GJBMEM_HEAP_H
#define GJBMEM_HEAP_H

#include <stdbool.h>
#include <stddef.h>

#include <gjbmem/stats.h>
#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gjb_heap gjb_heap;

enum gjb_status {
    GJB_OK = 0,
    GJB_E_INVAL,   /* bad argument (NULL, size 0) */
    GJB_E_NOMEM,   /* no free block large enough now */
    GJB_E_TOOBIG,  /* larger than the heap could ever hold (or overflow) */
    GJB_E_ALIGN,   /* alignment 0 or not a power of two */
    GJB_E_BADPTR,  /* not an allocated block of this heap */
    GJB_E_OVERLAP, /* memory overlaps a region of the heap */
    GJB_E_SMALL,   /* memory too small for the metadata and one block */
    GJB_E_FULL,    /* region table full */
    GJB_E_POLICY,  /* unknown policy */
    GJB_E_CORRUPT  /* a block's metadata is damaged */
};

enum gjb_policy { GJB_FIRST_FIT = 0, GJB_BUDDY = 1 };

/* Or'ed into gjb_heap_init's policy: FIRST_FIT with quick lists, when the
 * heap holds at least 32 KiB (their heads take 64 words after the
 * descriptor) and the target's smallest block is two granules or more
 * (not i386 or RV32). A free of a block under 1 KiB (512 bytes where a
 * word is 32 bits) between two allocated blocks may then set it aside
 * unmerged on the quick list of its size, and an allocation of that block size
 * takes it back first (memalign too, when it is aligned enough): fewer
 * instructions per pair, the same statistics (a set-aside block counts as
 * free), another placement. The lists hold at most GJBMEM_FF_QUICK blocks
 * (1024 by default, 0 in the bare port's config.h: none) and one per 4 KiB
 * of the heap; they give their
 * blocks back, merged, when an allocation finds no other block and when a
 * realloc can grow its block in place neither way (that call then does up
 * to that many merges: still a bounded time), and when the last allocated
 * block is freed. Not for a heap that processes share
 * (gjb_heap_within refuses one). BUDDY, GJBMEM_FF_QUICK 0: ignored. */
#define GJB_QUICK 0x100

/* Turns [mem, mem+size) into a heap with policy (GJB_QUICK or'ed in, or
 * not) and room for max_regions regions (this one included); *out is the
 * heap, which sits inside mem. Errors: NULL mem/out, size 0, max_regions
 * 0: INVAL; unknown policy: POLICY; too small: SMALL; larger than INTPTR_MAX bytes (ILP32: 2 GiB):
 * TOOBIG. O(1) plus clearing the block bitmap. */
GJBMEM_API int gjb_heap_init(void *mem, size_t size, int policy, unsigned max_regions,
                  gjb_heap **out);

/* Adds [mem, mem+size) as a further region. Errors: NULL or size 0: INVAL;
 * overlap with a region of this heap: OVERLAP; too small: SMALL; table
 * full: FULL; memory that straddles the point INTPTR_MAX bytes past the
 * heap's descriptor (links are offsets, modulo the address space; on ILP32
 * 2 GiB past it): TOOBIG. Nothing is written on error. O(r) plus clearing
 * the bitmap. */
GJBMEM_API int gjb_heap_add_region(gjb_heap *h, void *mem, size_t size);

/* Gives heap h up: its memory goes back to the caller, to reuse or to make
 * a new heap in; h must not be used again. Call it before deleting the
 * owner of a heap or re-initialising its memory. It matters only in builds
 * with GJBMEM_TOOLS (the heap's valgrind pool is dropped and its regions
 * become accessible again); elsewhere it does nothing. NULL: nothing. O(r). */
GJBMEM_API void gjb_heap_retire(gjb_heap *h);

/* True when [mem, mem+size) overlaps memory of heap h. O(r). */
GJBMEM_API bool gjb_heap_overlaps(const gjb_heap *h, const void *mem, size_t size);

/* The payload start of the allocated block of h whose payload holds mem,
 * or NULL (its usable size: gjb_heap_usable_size). O(log r) plus a backward
 * scan of the block-start metadata (1 bit per 16 bytes, or 1 byte per 32
 * bytes for buddy) over that block. */
GJBMEM_API void *gjb_heap_block_of(const gjb_heap *h, const void *mem);

/* Allocates size bytes aligned to alignof(max_align_t). Errors: size 0:
 * INVAL; too large ever: TOOBIG; not now: NOMEM; a damaged free list met
 * (buddy): CORRUPT. FIRST_FIT O(1), BUDDY O(log size). */
GJBMEM_API int gjb_heap_alloc(gjb_heap *h, size_t size, void **out);

/* Allocates size bytes aligned to align (a power of two). Errors: as
 * gjb_heap_alloc, plus ALIGN. As gjb_heap_alloc. */
GJBMEM_API int gjb_heap_memalign(gjb_heap *h, size_t align, size_t size, void **out);

/* Resizes the block p (NULL: allocate). Errors: size 0: INVAL; p not an
 * allocated block: BADPTR; damaged: CORRUPT; TOOBIG; NOMEM. On error the
 * block is intact. As gjb_heap_alloc (+ O(log r)), plus the copy. */
GJBMEM_API int gjb_heap_realloc(gjb_heap *h, void *p, size_t size, void **out);

/* Frees p. Errors: NULL: INVAL; not an allocated block: BADPTR; its header
 * or a neighbour's damaged: CORRUPT. Nothing is written on error. FIRST_FIT
 * O(1), BUDDY O(log size), + O(log r). */
GJBMEM_API int gjb_heap_free(gjb_heap *h, void *p);

/* Usable size of the allocated block p, or 0 if p is not one. O(log r). */
GJBMEM_API size_t gjb_heap_usable_size(const gjb_heap *h, const void *p);

/* Payload of the largest free block (0 if none): gjb_heap_alloc satisfies
 * any size up to it. Blocks a FIRST_FIT heap set aside on its quick lists
 * count as free blocks; an allocation that finds nothing else merges them
 * first, so it may satisfy a larger size. After gjb_heap_settle the answer
 * is exact. O(1). */
GJBMEM_API size_t gjb_heap_max_alloc(const gjb_heap *h);

/* Gives the blocks a FIRST_FIT heap set aside on its quick lists back,
 * merged with their free neighbours, as an allocation that finds no other
 * block does. Addresses of later allocations may change; nothing else a
 * caller sees does. No-op for BUDDY and heaps without quick lists.
 * O(GJBMEM_FF_QUICK) merges at most. */
GJBMEM_API void gjb_heap_settle(gjb_heap *h);

/* True while the heap has no allocated block. O(1). */
GJBMEM_API bool gjb_heap_is_empty(const gjb_heap *h);

/* Fills *st. O(1). */
GJBMEM_API void gjb_heap_get_stats(const gjb_heap *h, struct gjbmem_heap_stats *st);

/* Re-derives every invariant by walking all regions, blocks and the free
 * index, and compares the counters. Returns OK or CORRUPT. O(blocks). */
GJBMEM_API int gjb_heap_validate(const gjb_heap *h);

/* Calls fn for every block in address order within each region: payload
 * address, usable payload size, allocated or not. Stops early when fn
 * returns non-zero and returns that value. A block whose metadata is
 * damaged (no size, or one past its region's end) ends the walk there:
 * 0 (gjb_heap_validate tells damage apart). O(blocks). */
typedef int (*gjb_walk_fn)(void *ctx, void *payload, size_t size, bool used);
GJBMEM_API int gjb_heap_walk(const gjb_heap *h, gjb_walk_fn fn, void *ctx);

/* --- Heaps in memory shared between processes (src/engine/repair.c) --- */

/* True when the descriptor h and every region and table it names lie in
 * [mem, mem+size), h has no quick lists, and (FIRST_FIT) its class table
 * has a class for the largest block of every region: for a heap found in memory
 * that another process may have written, checked before anything else
 * reads it (gjb_heap_validate then checks the rest, inside the regions). Reads only inside [mem, mem+size)
 * (h itself first: it must lie there, aligned). O(r). */
GJBMEM_API bool gjb_heap_within(const void *mem, size_t size, const gjb_heap *h);

/* Rebuilds a heap whose last writer died in the middle of an operation,
 * from its proved blocks (FIRST_FIT) or allocated tags (BUDDY): every
 * allocated block of another writer is kept as it was (header and bytes);
 * the dead writer's operation is completed or undone (at worst its own
 * block stays allocated); free blocks, lists and counters are rebuilt.
 * Call gjb_heap_within first and gjb_heap_validate after. Errors: an
 * unknown policy: POLICY; damage beyond what a dead writer leaves:
 * CORRUPT (the heap must not be used). O(region bytes / 16 + blocks) for
 * FIRST_FIT, O(region bytes / 32 + blocks) for BUDDY. Thread rules: the
 * caller holds the heap's lock. */
GJBMEM_API int gjb_heap_repair(gjb_heap *h);

#ifdef __cplusplus
}
#endif

#endif
