/*
 * buddy.h - the BUDDY policy's vocabulary (private to the engine): a binary
 * buddy system without headers.
 *
 * A block of order k is GJB_BU << k bytes and starts at an address that is
 * a multiple of its size, so its buddy is at (address ^ size). Every unit of
 * GJB_BU bytes of a region's block area has a tag byte after the area: 0
 * inside a block, otherwise order + 1, or'ed with BD_TAG_FREE for a free
 * block or with BD_TAG_ALIGNED for an allocated block memalign placed
 * (whose alignment realloc must keep). Free blocks of order k sit on doubly
 * linked list k (links: offsets inside the free block); the first block's
 * back link is not kept (it may name a block taken since), so that taking
 * the first block writes nothing into the next one; bit k of the
 * descriptor's `map` is set while list k is not empty; the list heads are
 * the descriptor's `lists`.
 */
#ifndef GJB_BUDDY_H
#define GJB_BUDDY_H

#include "heap_internal.h"

#define GJB_BU (2 * GJB_G) /* smallest block: 32 bytes on LP64 */
#define BD_BU_LOG2 (GJB_G_LOG2 + 1)
#define BD_ORDERS 48u       /* orders 0 .. 47 */
#define BD_TAG_FREE 0x80u
#define BD_TAG_ALIGNED 0x40u
#define BD_ORDER_MASK 0x3fu
_Static_assert(BD_ORDERS <= BD_ORDER_MASK && BD_ORDERS <= 64, "an order fits a tag and the map");

/* A BUDDY descriptor (with its list heads) ends on a 64-byte boundary, so
 * that no block shares a cache line with it, and so that the block area
 * does not begin with a lone smallest block where the descriptor ends
 * half-way through a line: on LP64, 544 bytes of descriptor put a 32-byte
 * block at 544, and that block alone made sqlite's trace need 2 KiB more
 * than the engine before issue 12 (docs/BENCHMARKS.md). */
#define BD_DESC_ALIGN 64u
_Static_assert(BD_DESC_ALIGN % GJB_BU == 0, "the block area starts on a unit");

static inline size_t bd_size(unsigned k)
{
    return GJB_BU << k;
}

/* (k < BD_ORDERS: the sum is the or, one instruction fewer) */
static inline unsigned char bd_free_tag(unsigned k)
{
    return (unsigned char)(BD_TAG_FREE + k + 1);
}

/* Stores a tag (a step of the crash tests: heap_internal.h, GJB_STEP). */
static inline void bd_set_tag(unsigned char *t, unsigned v)
{
    GJB_STEP();
    *t = (unsigned char)v;
}

static inline unsigned char *bd_tag(const gjb_heap *h, const struct gjb_region *r, intptr_t off)
{
    return (unsigned char *)gjb_ptr(h, r->end) + (size_t)(off - r->first) / GJB_BU;
}

/* Units in region r's block area: its blocks' smallest ones, and its tag
 * bytes. */
static inline size_t bd_units(const struct gjb_region *r)
{
    return (size_t)(r->end - r->first) / GJB_BU;
}

static inline intptr_t *bd_heads(const gjb_heap *h)
{
    return (intptr_t *)h->lists;
}

size_t gjb_bd_block_for(size_t size, size_t align);
int gjb_bd_place(gjb_heap *h, size_t size, size_t align, void **out);
int gjb_bd_layout(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi,
                  size_t extra, intptr_t *extra_off);
void gjb_bd_add_area(gjb_heap *h, const struct gjb_region *r);
size_t gjb_bd_largest(const gjb_heap *h, const struct gjb_region *r);
int gjb_bd_check(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp);
int gjb_bd_alloc(gjb_heap *h, size_t block, bool aligned, void **out);
int gjb_bd_free(gjb_heap *h, void *p);
void gjb_bd_release(gjb_heap *h, const struct gjb_region *r, char *b);
int gjb_bd_resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t block);
bool gjb_bd_aligned(const gjb_heap *h, const char *b);
size_t gjb_bd_size(const gjb_heap *h, const struct gjb_region *r, const char *b, bool *is_free);
size_t gjb_bd_max(const gjb_heap *h);
char *gjb_bd_block_containing(const gjb_heap *h, const struct gjb_region *r, intptr_t off);
bool gjb_bd_check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc);
/* Walks every list: its blocks (*count, their *bytes), at most `most` of
 * them (the free blocks the walk of the tags found: a list that holds more,
 * a cycle among them, is damage, however large the descriptor's counters
 * say the heap is). */
int gjb_bd_validate_lists(const gjb_heap *h, size_t most, size_t *count, size_t *bytes);
/* Rebuilds region r of a heap whose lists and counters were emptied
 * (gjb_heap_repair): keeps every block an allocated tag names, in address
 * order, and carves the rest into free blocks; false when r is not laid
 * out as a region (nothing written then). */
bool gjb_bd_repair_region(gjb_heap *h, const struct gjb_region *r);

/* --- the hot paths, inlined into heap_ops.h ------------------------------ *
 * An allocation that finds a block of its own order, a free whose buddy is
 * not a free block of the same order (inline in a one-region heap; out of
 * line, after a search of the region table, in a heap of several).
 * Everything else (splitting, merging, other regions, anything a check
 * refuses) goes to the general functions, which also tell a bad pointer
 * from damage. */

struct bd_node {
    intptr_t next, prev;
};

static inline struct bd_node *bd_node(const gjb_heap *h, intptr_t off)
{
    return (struct bd_node *)(void *)gjb_ptr(h, off);
}

/* Which regions the hot paths look at. The frame-free paths look at the
 * hot region only (a copy of the largest region's record in the
 * descriptor): a block of another region, or a list whose first blocks
 * are there, goes the general way; searching the region table inline cost
 * every one of their calls its frame. Out of line, the engine's entries
 * (gjb_heap_alloc, gjb_heap_free: the system heap, which grows by regions)
 * search it: bd_alloc_pick_wide, bd_free_fast (docs/DESIGN.md, "The hot
 * region"). */

/* The first order no block can have here: BD_ORDERS, or on ILP32 the
 * first whose size a size_t cannot hold (bd_size would shift past its
 * width). A tag naming it or a later one is damage; the hot allocations
 * send such an order (size 0's among them: below) the way of the
 * request's size. */
#define BD_FIT_ORDERS (8u * (unsigned)sizeof(size_t) - BD_BU_LOG2)
#define BD_ORDER_END (BD_ORDERS < BD_FIT_ORDERS ? BD_ORDERS : BD_FIT_ORDERS)

/* The bytes of the allocated block whose tag is t, at address a with room
 * bytes from a to its area's end: its order's size when t names an
 * allocated block of an order a block can have (< BD_ORDER_END), aligned
 * at a and fitting the room; 0 for anything else (a free block, a unit
 * inside one, damage). The one answer of every reader that proves a block
 * by its tag (buddy.c: pointer checks, repair; heap_ops.h: gjb_hot_block). */
static inline size_t bd_allocated_bytes(unsigned t, uintptr_t a, size_t room)
{
    unsigned k = (t & BD_ORDER_MASK) - 1; /* a unit inside a block (0): no order */
    if ((t & BD_TAG_FREE) || k >= BD_ORDER_END)
        return 0;
    size_t s = bd_size(k);
    return (a & (s - 1)) || s > room ? 0 : s;
}

/* Order of the smallest block that holds size bytes; for size 0 (size - 1
 * wraps) and sizes beyond any block, an order no block has: BD_ORDERS or
 * more on LP64, BD_FIT_ORDERS (a block of 4 GiB or more) on ILP32. */
static GJB_ALWAYS_INLINE unsigned bd_order_for(size_t size)
{
    return gjb_log2((size - 1) | (GJB_BU - 1)) + 1 - gjb_log2(GJB_BU);
}

/* The tag of the unit at offset off of whichever region holds it, else
 * NULL. (A region gjb_region_of finds holds off in its block area.) */
static GJB_ALWAYS_INLINE unsigned char *bd_unit_tag(const gjb_heap *h, intptr_t off)
{
    const struct gjb_region *r = gjb_region_of(h, off);
    if (!r)
        return NULL;
    size_t d = gjb_dist(off, r->first); /* off: a link, perhaps damaged */
    if (d % GJB_BU)
        return NULL;
    return (unsigned char *)gjb_ptr(h, r->end) + d / GJB_BU;
}

/* The tag of the free block of order k at offset off of the hot region
 * (a link, perhaps damaged), else NULL: off outside the hot area or not on
 * a unit (one compare: the rotation moves a remainder into the top bits),
 * or no free block of that order there. */
static GJB_ALWAYS_INLINE unsigned char *bd_hot_free(const gjb_heap *h, intptr_t off, unsigned k)
{
    size_t u = gjb_ror(gjb_dist(off, h->hot.first), BD_BU_LOG2);
    if (GJB_UNLIKELY(u >= h->hot_units))
        return NULL;
    unsigned char *t = (unsigned char *)gjb_ptr(h, h->hot.end) + u;
    return GJB_LIKELY(*t == bd_free_tag(k)) ? t : NULL;
}

/* The common case of an allocation, in two halves for a caller that must
 * not call out on its common path (and may put a function boundary between
 * them, so that the registers of one do not add to the other's). The
 * first: the block a request of order k takes, the first of its list (its
 * offset in *op, the block after it in *np), by its tag; NULL (nothing
 * changed) when there is none in the hot region, or a check refuses the
 * list, which gjb_bd_place then reports. k >= BD_ORDER_END: NULL. An empty
 * list needs no test of the map: its head, 0, is no unit of the hot
 * region. The hot region's bounds are read again for the next block
 * (GJB_RELOAD): held in registers, they cost both BUDDY pairs a stack
 * frame (docs/BENCHMARKS.md, stop 34). */
static GJB_ALWAYS_INLINE unsigned char *bd_alloc_pick(const gjb_heap *h, unsigned k,
                                                      intptr_t *op, intptr_t *np)
{
    if (GJB_UNLIKELY(k >= BD_ORDER_END))
        return NULL;
    intptr_t off = h->lists[k]; /* 0 (an empty list): no unit of the hot region */
    unsigned char *t = bd_hot_free(h, off, k);
    if (GJB_UNLIKELY(!t))
        return NULL;
    GJB_RELOAD();
    intptr_t next = bd_node(h, off)->next;
    if (next && GJB_UNLIKELY(!bd_hot_free(h, next, k)))
        return NULL;
    *op = off;
    *np = next;
    return t;
}

/* The same for the engine's entries: the list's first blocks in whichever
 * regions hold them. */
static GJB_ALWAYS_INLINE unsigned char *bd_alloc_pick_wide(const gjb_heap *h, unsigned k,
                                                           intptr_t *op, intptr_t *np)
{
    if (GJB_UNLIKELY(k >= BD_ORDER_END || !((h->map >> k) & 1)))
        return NULL;
    unsigned char ft = bd_free_tag(k);
    intptr_t off = h->lists[k];
    unsigned char *t = bd_unit_tag(h, off); /* before off's links are read */
    if (GJB_UNLIKELY(!t || *t != ft))
        return NULL;
    intptr_t next = bd_node(h, off)->next;
    if (next) {
        const unsigned char *nt = bd_unit_tag(h, next);
        if (GJB_UNLIKELY(!nt || *nt != ft))
            return NULL;
    }
    *op = off;
    *np = next;
    return t;
}

/* The second: takes off, which bd_alloc_pick chose (t: its tag, next: its
 * *np), allocated (aligned: memalign placed it, whose alignment realloc
 * keeps). Every block is aligned to its size. */
static GJB_ALWAYS_INLINE void *bd_alloc_take(gjb_heap *h, unsigned k, intptr_t off, intptr_t next,
                                             unsigned char *t, bool aligned)
{
    GJB_STEP();
    if (!next)
        h->map &= ~((uint64_t)1 << k);
    h->lists[k] = next; /* (first now: its back link is not kept) */
    /* k + 1: the free tag without its flag (one instruction; no branch) */
    bd_set_tag(t, (*t & ~BD_TAG_FREE) | (unsigned)aligned * BD_TAG_ALIGNED);
    h->alloc_blocks++;
    h->free += ((size_t)0 - GJB_BU) << k; /* less bd_size(k): no copy of it to subtract */
    gjb_note_used(h);
    return gjb_ptr(h, off);
}

/* Both halves, in whichever region holds the list's first block: the block, or NULL
 * (nothing changed). */
static GJB_ALWAYS_INLINE void *bd_alloc_hit(gjb_heap *h, size_t size, bool aligned)
{
    unsigned k = bd_order_for(size);
    intptr_t off, next;
    unsigned char *t = bd_alloc_pick_wide(h, k, &off, &next);
    return t ? bd_alloc_take(h, k, off, next, t, aligned) : NULL;
}

static GJB_ALWAYS_INLINE int bd_alloc_fast(gjb_heap *h, size_t size, void **out)
{
    void *p = bd_alloc_hit(h, size, false);
    if (GJB_UNLIKELY(!p))
        return gjb_bd_place(h, size, GJB_G, out); /* it reports damage */
    *out = p;
    return GJB_OK;
}

/* The common case of a free, for a caller that must not call out on its
 * common path: p (at offset off) a block of region r, whose block area
 * has *units units, and whose buddy is not a free block of its order;
 * false (nothing changed) for anything else, NULL included, which
 * gjb_bd_free then does or refuses. *units is read where it is used, after
 * compiler barriers (GJB_RELOAD): held in registers, it and the area's
 * bounds cost BUDDY's frees saved registers (docs/BENCHMARKS.md, stop 34). */
static GJB_ALWAYS_INLINE bool bd_free_in(gjb_heap *h, void *p, intptr_t off,
                                         const struct gjb_region *r, const size_t *units)
{
    /* u: the block's unit; outside the area or off a unit: past *units */
    size_t u = gjb_ror(gjb_dist(off, r->first), BD_BU_LOG2);
    if (GJB_UNLIKELY(u >= *units))
        return false;
    GJB_RELOAD();
    unsigned char *t = (unsigned char *)gjb_ptr(h, r->end) + u;
    unsigned k = (*t & ~BD_TAG_ALIGNED) - 1u; /* free, or no order: k >= BD_ORDER_END */
    if (GJB_UNLIKELY(k >= BD_ORDER_END))
        return false;
    size_t s = bd_size(k), n = (size_t)1 << k; /* only now: no shift past any block */
    if (GJB_UNLIKELY((uintptr_t)p & (s - 1)))
        return false;
    size_t e = u + n; /* the block's end (no overflow: u < units, n <= 2^47) */
    if (GJB_UNLIKELY(e > *units))
        return false;
    GJB_RELOAD();
    /* The buddy's tag, when the buddy starts in the area: n units after
     * t or before it. A buddy that would run past the area's end reads as
     * free only where tags are damaged: gjb_bd_free, which then does the
     * free, checks that. */
    if (GJB_UNLIKELY(((uintptr_t)p & s) ? u >= n && t[-(intptr_t)n] == bd_free_tag(k)
                                        : e < *units && t[n] == bd_free_tag(k)))
        return false; /* it merges */
    bd_set_tag(t, bd_free_tag(k));
    intptr_t first = h->lists[k];
    GJB_STEP();
    bd_node(h, off)->next = first;
    GJB_STEP();
    if (first)
        bd_node(h, first)->prev = off;
    else
        h->map |= (uint64_t)1 << k;
    h->lists[k] = off;
    h->alloc_blocks--;
    h->free += s;
    return true;
}

/* The same in the hot region. */
static GJB_ALWAYS_INLINE bool bd_free_hit(gjb_heap *h, void *p)
{
    return bd_free_in(h, p, gjb_off(h, p), &h->hot, &h->hot_units);
}

/* A free (p not NULL): the hit in whichever region holds p, else the
 * general free. */
static GJB_ALWAYS_INLINE int bd_free_fast(gjb_heap *h, void *p)
{
    intptr_t off = gjb_off(h, p);
    const struct gjb_region *r = gjb_region_of(h, off);
    size_t units = r ? bd_units(r) : 0;
    return GJB_LIKELY(bd_free_in(h, p, off, r ? r : &h->hot, &units)) ? GJB_OK
                                                                       : gjb_bd_free(h, p);
}

#endif
