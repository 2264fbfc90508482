/*
 * gjbmem/stats.h - the extended statistics of a heap (struct
 * gjbmem_heap_stats), as mpart_getstats, gjbmem_sysheap_stats and the
 * engine's gjb_heap_get_stats report them. Included by gjbmem/mpart.h,
 * gjbmem/sysheap.h and gjbmem/heap.h.
 */
#ifndef GJBMEM_STATS_H
#define GJBMEM_STATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Extended statistics of a heap. total = used + free = bytes under
 * management; the first four fields are those of struct meminfo. */
struct gjbmem_heap_stats {
    size_t segments;     /* blocks, allocated and free */
    size_t used;         /* total - free */
    size_t maxused;      /* high-water mark of used */
    size_t free;         /* payload bytes in free blocks */
    size_t total;        /* bytes handed to the heap */
    size_t alloc_blocks; /* allocated blocks */
    size_t free_blocks;  /* free blocks */
    size_t largest_free; /* payload of the largest free block: a request up
                          * to it (less the guard word at hardening levels
                          * 2-3) succeeds now; mpart_findmaxfree and
                          * mem_findmax give the exact largest request */
    size_t regions;      /* regions */
    size_t failed;       /* allocations refused with NOMEM or TOOBIG */
    size_t peak_request; /* largest size ever requested */
    size_t header_bytes; /* overhead of an allocated block */
    size_t min_block;    /* smallest block (header included) */
};

#ifdef __cplusplus
}
#endif

#endif
