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

/* A BUDDY block for size bytes aligned to align. */
static inline int gjb_bd_place(gjb_heap *h, size_t size, size_t align, void **out)
{
    size_t block = gjb_bd_block_for(size, align);
    if (!block || block > h->max_block)
        return GJB_E_TOOBIG;
    int st = gjb_bd_alloc(h, block, align > GJB_G, out);
    if (st == GJB_OK)
        gjb_note_used(h);
    return st;
}

static GJB_ALWAYS_INLINE int gjb_heap_alloc_inline(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (GJB_UNLIKELY(size == 0))
        return GJB_E_INVAL;
    if (size > h->peak_request)
        h->peak_request = size;
    int st = h->policy == GJB_BUDDY ? gjb_bd_place(h, size, GJB_G, out)
                                    : ff_alloc_fast(h, size, out);
    if (GJB_UNLIKELY(st != GJB_OK))
        return gjb_refused(h, st);
    gjb_tool_alloc(h, *out, size);
    return GJB_OK;
}

/* With a tool watching, the freed block's size must be known first. */
int gjb_heap_free_watched(gjb_heap *h, void *p);

static GJB_ALWAYS_INLINE int gjb_heap_free_inline(gjb_heap *h, void *p)
{
    if (GJBMEM_TOOLS)
        return gjb_heap_free_watched(h, p);
    if (GJB_UNLIKELY(!p))
        return GJB_E_INVAL;
    return h->policy == GJB_BUDDY ? gjb_bd_free(h, p) : ff_free_fast(h, p);
}

#endif
