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

static GJB_ALWAYS_INLINE int gjb_ff_alloc_frame(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (!gjb_alloc_open(h, size))
        return GJB_E_INVAL;
    return gjb_alloc_close(h, size, out, ff_alloc_fast(h, size, out));
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
    if (GJB_UNLIKELY(!p))
        return GJB_E_INVAL;
    return h->policy == GJB_BUDDY ? gjb_bd_free_entry(h, p) : ff_free_fast(h, p);
}

#endif
