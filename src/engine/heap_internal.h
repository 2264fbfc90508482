/*
 * heap_internal.h - what the engine's files share: the heap descriptor, the
 * region records and the offsets everything is linked by.
 *
 * A heap is one or more regions of memory. The descriptor sits at the start
 * of the first region; every link is an offset from it (0 = none), so the
 * heap works wherever its memory is mapped. A policy lays out each region's
 * block area [first, end) and keeps its metadata after `end`:
 *
 *   region 0:  [descriptor][policy tables][blocks ...][policy metadata]
 *   region k:  [blocks ...][policy metadata][tables moved here, if any]
 *
 * Tables that grow with the heap (the region table, FIRST_FIT's class
 * table) start in region 0 sized for what it holds and move into a region
 * added later when they need more room: a small heap pays only for what it
 * needs (the manual's 8 KiB partition keeps over 90 % as payload).
 */
#ifndef GJB_HEAP_INTERNAL_H
#define GJB_HEAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compat.h"
#include "config.h"
#include "gjbmem/heap.h"

#define GJB_G ((size_t)_Alignof(max_align_t)) /* granule: payload alignment */
#define GJB_G_LOG2 (GJB_G == 32 ? 5u : GJB_G == 16 ? 4u : GJB_G == 8 ? 3u : 2u)
#define GJB_W (sizeof(size_t))                /* a word: FIRST_FIT's header */
#define GJB_MAGIC 0x676a626dU

#define GJB_ROUND_UP(x, a) (((x) + (a) - 1) & ~((a) - 1))

_Static_assert((GJB_G & (GJB_G - 1)) == 0 && GJB_G >= GJB_W, "granule: a power of two >= a word");
_Static_assert(GJB_G == (size_t)1 << GJB_G_LOG2, "the granule's log2");
_Static_assert(sizeof(intptr_t) == sizeof(size_t), "offsets and sizes have one width");

/* A region, as offsets from the descriptor. */
struct gjb_region {
    intptr_t lo, hi;  /* the memory handed in: [lo, hi) */
    intptr_t first;   /* the block area: [first, end) */
    intptr_t end;     /* the policy's metadata follows */
};

struct gjb_heap {
    uint32_t magic;
    uint16_t policy;
    uint16_t max_regions;
    uint32_t nregions;
    uint32_t small_map;    /* FIRST_FIT: exact classes that are not empty */
    uint64_t map;          /* FIRST_FIT: groups of large classes with a block;
                              BUDDY: orders whose list is not empty */
    union {
        intptr_t classes;  /* FIRST_FIT: the table of large classes */
        size_t hot_units;  /* BUDDY: hot_span / GJB_BU, so that one compare
                              checks an offset's range and alignment
                              (gjb_ror; buddy.h, bd_hot_free) */
    };
    uint32_t nlarge;       /* FIRST_FIT: classes in it */
    uint32_t region_cap;   /* entries the region table has room for */
    intptr_t regions;      /* the region table (sorted by address) once there are
                              two regions; 0 before */
    struct gjb_region hot; /* a copy of the largest region's record (the lowest
                              of equals): the hot paths find its blocks without
                              a search; the descriptor's while there is one */
    size_t hot_span;       /* hot.end - hot.first, for the hot paths' range check */
    size_t total;          /* bytes handed to the heap */
    size_t free;           /* payload bytes of the free blocks (headers excluded) */
    size_t segments;       /* blocks, free ones (quick ones included) and
                              allocated ones: a call that takes or frees a
                              block whole changes only alloc_blocks */
    size_t alloc_blocks;
    size_t free_floor;     /* the least free ever was, raised with total when a
                              region is added: maxused is total - free_floor */
    size_t failed;
    size_t peak_request;
    size_t max_block;      /* largest block any region could hold */
    size_t max_align;      /* largest alignment memalign was asked for */
    intptr_t lists[];      /* first free block of each FIRST_FIT exact class
                              (the first two, which no block is small enough
                              for, hold the quick lists' map and room:
                              firstfit.h), or of each BUDDY order */
};

/* --- offsets ------------------------------------------------------------ */

static inline char *gjb_ptr(const gjb_heap *h, intptr_t off)
{
    return (char *)h + off;
}

static inline intptr_t gjb_off(const gjb_heap *h, const void *b)
{
    return (const char *)b - (const char *)h;
}

static inline size_t gjb_word(const char *b)
{
    size_t v;
    memcpy(&v, b, sizeof v);
    return v;
}

/* Stores word v at p (aligned). The system heap's heaps are read without
 * their lock (gjb_hot_block): their words are stored atomically (relaxed:
 * a plain move on the hosts we know, but one the compiler may not tear,
 * merge or fold). A file whose heaps are only ever read under their lock
 * (the partitions: mpart.c) defines GJB_LOCKED_READS before its includes;
 * its inline copies of the hot paths then store plainly, and the compiler
 * may fold a load, an operation and the store into one instruction. */
#if GJBMEM_STEP_HOOK
/* Test builds only (tests/shm/): called before every word the engine
 * stores into a block or a bitmap, so that a test can stop a process at
 * any of them (src/engine/repair.c defines it). */
extern void (*volatile gjb_step_hook)(void);
#define GJB_STEP()                                                                                 \
    do {                                                                                           \
        if (gjb_step_hook)                                                                         \
            gjb_step_hook();                                                                       \
    } while (0)
#else
#define GJB_STEP() ((void)0)
#endif

static inline void gjb_put(size_t *p, size_t v)
{
    GJB_STEP();
#ifdef GJB_LOCKED_READS
    *p = v;
#else
    gjb_store_word(p, v);
#endif
}

/* Stores a word of a block: header, footer, link (gjb_put). */
static inline void gjb_set_word(char *b, size_t v)
{
    gjb_put((size_t *)(void *)b, v);
}

/* Reads a word that a holder of the lock may store meanwhile (the caller
 * has no lock: gjb_hot_block). */
static inline size_t gjb_word_shared(const char *b)
{
    return gjb_load_word((const size_t *)(const void *)b);
}

/* Header bytes an allocated block of this heap carries. */
static inline size_t gjb_hdr_bytes(const gjb_heap *h)
{
    return h->policy == GJB_BUDDY ? 0 : GJB_W;
}

/* Records a new high-water mark of used (total - free) if there is one. */
static inline void gjb_note_used(gjb_heap *h)
{
    if (h->free < h->free_floor)
        h->free_floor = h->free;
}

/* The alignment an aligned block at payload p keeps when it is resized:
 * the largest power of two dividing p, but no more than any alignment the
 * heap was ever asked for (so at least the one this block was asked for). */
static inline size_t gjb_kept_align(const gjb_heap *h, const void *p)
{
    uintptr_t u = (uintptr_t)p;
    size_t natural = (size_t)(u & (~u + 1));
    return natural < h->max_align ? natural : h->max_align;
}

/* --- regions ------------------------------------------------------------ */

static inline const struct gjb_region *gjb_regions(const gjb_heap *h)
{
    return h->regions ? (const struct gjb_region *)(const void *)gjb_ptr(h, h->regions) : &h->hot;
}

/* The region whose block area holds offset off, or NULL. O(log r). */
static inline const struct gjb_region *gjb_region_at(const gjb_heap *h, intptr_t off)
{
    const struct gjb_region *t = gjb_regions(h);
    uint32_t lo = 0, hi = h->nregions; /* the last region starting <= off */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (t[mid].first <= off)
            lo = mid;
        else
            hi = mid;
    }
    return off >= t[lo].first && off < t[lo].end ? &t[lo] : NULL;
}

/* Free blocks (quick ones included): the blocks less the allocated ones. */
static inline size_t gjb_free_blocks(const gjb_heap *h)
{
    return h->segments - h->alloc_blocks;
}

/* x rotated right by n bits (0 < n < the width of size_t). */
static inline size_t gjb_ror(size_t x, unsigned n)
{
    return (x >> n) | (x << (sizeof(size_t) * 8 - n));
}

/* off - base as an unsigned distance, for any two offsets (one read from
 * damaged or hostile memory included: a signed difference could
 * overflow); an offset below base comes out larger than any area. */
static inline size_t gjb_dist(intptr_t off, intptr_t base)
{
    return (size_t)((uintptr_t)off - (uintptr_t)base);
}

/* The region whose block area holds offset off, or NULL: the hot region
 * by two compares, the others by gjb_region_at's search, inline too (out
 * of line it measured 8-9 instructions per pair more: docs/DESIGN.md). */
static GJB_ALWAYS_INLINE const struct gjb_region *gjb_region_of(const gjb_heap *h, intptr_t off)
{
    if (GJB_LIKELY(gjb_dist(off, h->hot.first) < h->hot_span))
        return &h->hot;
    return gjb_region_at(h, off);
}

/* True when region r holds the descriptor (at offset 0, before its blocks). */
static inline bool gjb_region_home(const struct gjb_region *r)
{
    return r->lo <= 0 && r->first > 0;
}

/* Bytes of a descriptor of the policy, with its lists. */
size_t gjb_descriptor_bytes(int policy);

#endif
