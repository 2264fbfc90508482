/*
 * heap_ops.h - the engine's two hottest operations, allocate and free, as
 * inline functions: heap.c makes gjb_heap_alloc and gjb_heap_free of them,
 * and the partition layer (src/core/mpart.c) calls them directly, saving a
 * call on every operation. Each picks the policy in one switch, like every
 * other operation in heap.c.
 */
#ifndef GJB_HEAP_OPS_H
#define GJB_HEAP_OPS_H

#include "buddy.h"
#include "firstfit.h"
#include "tools.h"

/* A failed allocation: counted when memory was short. */
static inline int gjb_refused(gjb_heap *h, int st)
{
    if (st == GJB_E_NOMEM || st == GJB_E_TOOBIG)
        h->failed++;
    return st;
}

/* BUDDY's allocate and free, out of line (heap.c): inlined beside
 * FIRST_FIT's, they would cost FIRST_FIT registers. */
int gjb_bd_alloc_entry(gjb_heap *h, size_t size, void **out);
int gjb_bd_free_entry(gjb_heap *h, void *p);

/* What every allocation does before the policy's own: the request's
 * statistics; false for a request of 0 bytes (GJB_E_INVAL). */
static GJB_ALWAYS_INLINE bool gjb_alloc_open(gjb_heap *h, size_t size)
{
    if (GJB_UNLIKELY(size == 0))
        return false;
    if (size > h->peak_request)
        h->peak_request = size;
    return true;
}

/* ... and after it (st: the policy's status): a refusal counted, the
 * tools' view of the block. One frame per policy, not one with the policy
 * as a parameter: at -O0 (coverage) the other policy's path would be
 * compiled into every copy, dead. */
static GJB_ALWAYS_INLINE int gjb_alloc_close(gjb_heap *h, size_t size, void **out, int st)
{
    if (GJB_UNLIKELY(st != GJB_OK))
        return gjb_refused(h, st);
    gjb_tool_alloc(h, *out, size);
    return GJB_OK;
}

/* The allocation after ff_quick_hit declined (heap.c): the exact class,
 * then the general way. */
int gjb_ff_alloc_unquick(gjb_heap *h, size_t size, void **out);

/* A FIRST_FIT allocation. Where quick lists may be, the quick hit alone is
 * inline, frame-free (its registers and a frame for the rest cost the
 * common case a few instructions), the rest out of line. */
static GJB_ALWAYS_INLINE int gjb_ff_alloc_frame(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
#ifndef GJB_NO_QUICK
    if (!GJBMEM_TOOLS && FF_QUICK_OK) {
        void *q = ff_quick_hit(h, size); /* size 0: none */
        if (GJB_UNLIKELY(!q))
            return gjb_ff_alloc_unquick(h, size, out);
        if (size > h->peak_request)
            h->peak_request = size;
        *out = q;
        return GJB_OK;
    }
#endif
    if (!gjb_alloc_open(h, size))
        return GJB_E_INVAL;
    return gjb_alloc_close(h, size, out, ff_alloc_fast(h, size, out));
}

/* gjb_ff_alloc_frame after ff_quick_hit and ff_exact_hit declined (for a
 * caller whose common path is the hits alone: mpart.c, heap.c): the general
 * allocation, without a second look at the exact class. */
static GJB_ALWAYS_INLINE int gjb_ff_alloc_declined(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (!gjb_alloc_open(h, size))
        return GJB_E_INVAL;
    int st = size - 1 >= FF_FAST_MAX ? gjb_ff_alloc(h, size, out)
                                     : gjb_ff_alloc_miss(h, ff_small_need(size), out);
    return gjb_alloc_close(h, size, out, st);
}

/* The same for BUDDY after bd_alloc_hit declined. */
static GJB_ALWAYS_INLINE int gjb_bd_alloc_declined(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (!gjb_alloc_open(h, size))
        return GJB_E_INVAL;
    return gjb_alloc_close(h, size, out, gjb_bd_place(h, size, GJB_G, out));
}

/* With a tool watching, out of line (heap.c): code inlined into a caller
 * (mpart.c, sysheap.c) would read the descriptor outside a GJB_TOOL_SCOPE
 * and, under ASan, from a file compiled with instrumentation. */
int gjb_heap_alloc_watched(gjb_heap *h, size_t size, void **out);

static GJB_ALWAYS_INLINE int gjb_heap_alloc_inline(gjb_heap *h, size_t size, void **out)
{
    if (GJBMEM_TOOLS)
        return gjb_heap_alloc_watched(h, size, out);
    if (h->policy == GJB_BUDDY)
        return gjb_bd_alloc_entry(h, size, out);
    return gjb_ff_alloc_frame(h, size, out);
}

/* With a tool watching, the freed block's size must be known first. */
int gjb_heap_free_watched(gjb_heap *h, void *p);

static GJB_ALWAYS_INLINE int gjb_heap_free_inline(gjb_heap *h, void *p)
{
    if (GJBMEM_TOOLS)
        return gjb_heap_free_watched(h, p);
    return h->policy == GJB_BUDDY ? gjb_bd_free_entry(h, p) : ff_free_entry(h, p);
}

/* The hot region's block area as a reader without h's lock sees it:
 * acquire loads (gjb_load_off), for gjb_heap_add_region changes it under
 * the lock. */
static GJB_ALWAYS_INLINE struct gjb_region gjb_heap_hot(const gjb_heap *h)
{
    struct gjb_region r = {0, 0, gjb_load_off(&h->hot.first), gjb_load_off(&h->hot.end)};
    return r;
}

/* The size (header included) of p when it is an allocated block of region
 * r (h's hot region, as gjb_heap_hot read it), proved as a free proves it
 * (FIRST_FIT: its bit and a header of an allocated block of a possible
 * size; BUDDY: its tag and alignment); 0 for anything else, about which
 * gjb_heap_usable_size decides (other regions, bad pointers, damage).
 * Reads only, with acquire loads of the words a holder of the lock may
 * write meanwhile; O(1), inline. A caller without the lock (the system
 * heap's thread caches) must make sure that no holder of the lock changed
 * the heap while it read r and while it read the block (a sequence count:
 * sysheap_cache.c) and passes locked false; then the answer is the one
 * the lock would have given, but for a next block's footer, which only a
 * holder of the lock reads. */
static GJB_ALWAYS_INLINE size_t gjb_hot_block(const gjb_heap *h, const struct gjb_region *r,
                                              const void *p, bool locked)
{
    size_t len = (size_t)(r->end - r->first);
    if (GJBMEM_TOOLS)
        return 0;
    if (h->policy == GJB_BUDDY) {
        intptr_t off = gjb_off(h, p);
        size_t d = (size_t)(off - r->first);
        if (d >= len || d % GJB_BU)
            return 0;
        return bd_allocated_bytes(gjb_load_byte(bd_tag(h, r, off)), (uintptr_t)p, len - d);
    }
    intptr_t b = gjb_off(h, p) - (intptr_t)GJB_W;
    size_t d = (size_t)(b - r->first);
    if (d >= len || d % GJB_G || !ff_proved_shared(h, r, d / GJB_G))
        return 0;
    size_t hd = gjb_word_shared((const char *)p - GJB_W), s = hd & ~FF_FLAGS;
    if ((hd & FF_FREE) || s < FF_MIN || s % GJB_G || s > len - d)
        return 0;
    /* the next block is proved too (or it is the end), or a free block (its
     * header; with the lock its footer too): a damaged size that lands
     * inside a block is refused, as free refuses it. (Without the lock the
     * footer is not read: the block may be allocated meanwhile, and the
     * footer's word written by its user.) */
    if (s == len - d || ff_proved_shared(h, r, (d + s) / GJB_G))
        return s;
    const char *n = (const char *)p - GJB_W + s;
    size_t nh = gjb_word_shared(n), ns = nh & ~FF_FLAGS;
    if ((nh & (FF_FREE | FF_PREV_FREE)) != FF_FREE || ns < FF_MIN || ns % GJB_G ||
        ns > len - d - s || (locked && gjb_word(n + ns - GJB_W) != ns))
        return 0;
    return s;
}

/* gjb_hot_block for a block of any region of h, with the lock held (or no
 * other thread in the process): the hot region by two compares, another by
 * the region table's search (gjb_region_of). */
static GJB_ALWAYS_INLINE size_t gjb_heap_block(const gjb_heap *h, const void *p)
{
    if (GJBMEM_TOOLS) /* (as gjb_hot_block: nothing read outside a tool's scope) */
        return 0;
    const struct gjb_region *r = gjb_region_of(h, gjb_off(h, p));
    return r ? gjb_hot_block(h, r, p, true) : 0;
}

#endif
