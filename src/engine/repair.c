/*
 * repair.c - what a heap in memory shared between processes needs besides
 * the ordinary operations: a check that a descriptor read from that memory
 * names nothing outside it (gjb_heap_within), and the repair of a heap
 * whose last writer died in the middle of an operation (gjb_heap_repair).
 *
 * FIRST_FIT (below):
 * The repair trusts only what an operation on one block never changes for
 * another block: the proof bitmap and the headers of proved blocks. The
 * FIRST_FIT operations keep two rules (firstfit.c, firstfit.h): a block's
 * header is written before its proof bit is set, and its proof bit is
 * cleared before its header or a neighbour's changes for a free. So at any
 * instruction, a proved block of another caller has its own header and
 * bytes, and a proved block of the dead caller has a header that covers
 * only its own old bytes and free memory. The repair keeps each proved
 * block, in address order, that has a sane header and starts past the block
 * kept before it (a later, overlapping one can only be the dead caller's
 * half-made block: its bit is cleared), and rebuilds everything else: free
 * blocks for the gaps, the PREV_FREE flags, the end sentinels, the class
 * lists and the counters. What the dead caller was doing is then either
 * done or undone; at worst its own block is kept (a leak), never another's.
 *
 * BUDDY (buddy.c, gjb_bd_repair_region): the tags are the truth. An
 * allocated tag is written only on a block that was free and whole (an
 * allocation, after its split; a resize that grows, after it took its
 * buddies), and a free changes the tag before anything else of the block;
 * so at any instruction the allocated tags name blocks that do not overlap,
 * each with its own bytes. The repair keeps them, clears every other tag,
 * and carves what lies between into free blocks, lists and counters anew.
 * A write's order does not matter to it: it reads no link.
 */
#include "buddy.h"
#include "firstfit.h"

#if GJBMEM_STEP_HOOK
void (*volatile gjb_step_hook)(void);
#endif

/* True when [off, off + len) lies in [lo, hi) (offsets from a descriptor). */
static bool span_in(intptr_t off, size_t len, intptr_t lo, intptr_t hi)
{
    return off >= lo && off <= hi && len <= (size_t)(hi - off);
}

static bool region_in(const struct gjb_region *r, intptr_t lo, intptr_t hi)
{
    return span_in(r->lo, 0, lo, hi) && span_in(r->hi, 0, lo, hi) && r->lo <= r->first &&
           r->first <= r->end && r->end <= r->hi;
}

/* True when FIRST_FIT heap h's class table has a class for every block
 * region r can hold (a table sized for a smaller heap would be read past
 * its end by the lists' heads of the larger blocks). */
static bool classes_cover(const gjb_heap *h, const struct gjb_region *r)
{
    size_t len = (size_t)(r->end - r->first) & ~(GJB_G - 1);
    return len < FF_SMALL || ff_class(len) < FF_EXACT + h->nlarge;
}

bool gjb_heap_within(const void *mem, size_t size, const gjb_heap *h)
{
    uintptr_t lo = (uintptr_t)mem, d = (uintptr_t)h;
    if (!mem || !h || size > (size_t)INTPTR_MAX || lo > UINTPTR_MAX - size || d < lo ||
        d % GJB_G || lo + size - d < sizeof(gjb_heap))
        return false;
    intptr_t mlo = -(intptr_t)(d - lo), mhi = (intptr_t)(lo + size - d);
    if (h->policy != GJB_FIRST_FIT && h->policy != GJB_BUDDY)
        return false;
    if (!span_in(0, gjb_descriptor_bytes(h->policy), mlo, mhi))
        return false;
    if (h->nregions == 0 || h->nregions > h->region_cap || h->region_cap > h->max_regions ||
        !region_in(&h->hot, mlo, mhi) || h->hot_span != (size_t)(h->hot.end - h->hot.first))
        return false;
    if (h->regions) {
        if (!span_in(h->regions, h->region_cap * sizeof(struct gjb_region), mlo, mhi) ||
            h->regions % (intptr_t)_Alignof(struct gjb_region))
            return false;
        const struct gjb_region *t = gjb_regions(h);
        for (uint32_t i = 0; i < h->nregions; i++)
            if (!region_in(&t[i], mlo, mhi))
                return false;
    } else if (h->nregions != 1) {
        return false;
    }
    if (h->policy == GJB_BUDDY)
        return h->hot_units == bd_units(&h->hot); /* the hot paths' bound */
    size_t groups = ((size_t)h->nlarge + FF_GROUP - 1) / FF_GROUP;
    if (ff_has_quick(h) || h->nlarge > 64 * FF_GROUP || h->classes % (intptr_t)sizeof(intptr_t) ||
        !span_in(h->classes, h->nlarge * sizeof(intptr_t) + groups, mlo, mhi))
        return false;
    const struct gjb_region *t = gjb_regions(h);
    for (uint32_t i = 0; i < h->nregions; i++)
        if (!classes_cover(h, &t[i]))
            return false;
    return classes_cover(h, &h->hot);
}

/* Makes [b, b + s) a free block after an allocated one (or the region's
 * start) and lists it. */
static void free_gap(gjb_heap *h, intptr_t b, size_t s)
{
    char *p = gjb_ptr(h, b);
    gjb_set_word(p, s | FF_FREE);
    gjb_set_word(p + s - GJB_W, s);
    ff_push(h, b, s);
    h->free += s - GJB_W;
    h->segments++;
}

/* Ends the stretch [*cur, to) of region r as a free block (if not empty);
 * false when it is too small to be one. */
static bool close_gap(gjb_heap *h, intptr_t *cur, intptr_t to, bool *prev_free)
{
    size_t gap = (size_t)(to - *cur);
    *prev_free = gap != 0;
    if (!gap)
        return true;
    if (gap < FF_MIN)
        return false;
    free_gap(h, *cur, gap);
    *cur = to;
    return true;
}

/* Rebuilds region r from its proved blocks (see the top of the file). */
static bool repair_region(gjb_heap *h, const struct gjb_region *r)
{
    size_t len = (size_t)(r->end - r->first), bits = len / GJB_G, *w = ff_proof(h, r);
    size_t words = (bits + FF_WBITS - 1) / FF_WBITS;
    if (len % GJB_G || (size_t)(r->hi - r->end) < GJB_W ||
        words > ((size_t)(r->hi - r->end) - GJB_W) / sizeof(size_t))
        return false; /* the sentinel and the bitmap must lie in the region */
    intptr_t cur = r->first;
    bool prev_free = false;
    for (size_t i = 0; i < bits; i++) {
        size_t m = (size_t)1 << (i % FF_WBITS), *word = &w[i / FF_WBITS];
        if (!(*word & m))
            continue;
        intptr_t b = r->first + (intptr_t)(i * GJB_G);
        size_t hd = gjb_word(gjb_ptr(h, b)), s = hd & ~FF_FLAGS;
        if (b < cur || (hd & FF_FREE) || s < FF_MIN || s % GJB_G || s > (size_t)(r->end - b)) {
            gjb_put(word, *word & ~m); /* the dead caller's half-made block */
            continue;
        }
        if (!close_gap(h, &cur, b, &prev_free))
            return false;
        gjb_set_word(gjb_ptr(h, b), s | (hd & FF_ALIGNED) | (prev_free ? FF_PREV_FREE : 0));
        h->alloc_blocks++;
        h->segments++;
        cur = b + (intptr_t)s;
        prev_free = false;
    }
    if (!close_gap(h, &cur, r->end, &prev_free))
        return false;
    gjb_set_word(gjb_ptr(h, r->end), prev_free ? FF_PREV_FREE : 0);
    return true;
}

/* The end (an offset) of what the rebuild of region r writes, from its
 * block area's start: the blocks, then FIRST_FIT's end sentinel and proof
 * bitmap or BUDDY's tags. */
static intptr_t rebuilt_end(const gjb_heap *h, const struct gjb_region *r)
{
    size_t len = (size_t)(r->end - r->first);
    if (h->policy == GJB_BUDDY)
        return r->end + (intptr_t)(len / GJB_BU);
    size_t words = (len / GJB_G + FF_WBITS - 1) / FF_WBITS;
    return r->end + (intptr_t)(GJB_W + words * sizeof(size_t));
}

static bool apart(intptr_t a, intptr_t b, intptr_t c, intptr_t d)
{
    return b <= c || d <= a;
}

/* True when what the rebuild of each region writes lies apart from every
 * other region's, from the descriptor and from the tables it reads (the
 * region table, FIRST_FIT's class table), and those tables lie apart from
 * the descriptor and from each other: the rebuild of one region never
 * writes over what another's reads, and clearing the lists, the counters
 * and the class table never changes the region table the rebuild then
 * follows. A layout the heap made always is; a hostile one (memory another
 * process wrote) may not be. O(r^2). */
static bool rebuilt_apart(const gjb_heap *h)
{
    const struct gjb_region *t = gjb_regions(h);
    intptr_t desc = (intptr_t)gjb_descriptor_bytes(h->policy);
    intptr_t tab = h->regions, tab_end = tab + (intptr_t)(h->region_cap * sizeof *t);
    bool ff = h->policy == GJB_FIRST_FIT; /* (BUDDY has no class table) */
    intptr_t cls = ff ? h->classes : 0;
    intptr_t cls_end = ff ? cls + (intptr_t)(h->nlarge * sizeof(intptr_t) +
                                             (h->nlarge + FF_GROUP - 1) / FF_GROUP)
                          : 0;
    if (!apart(cls, cls_end, 0, desc) ||
        (tab && (!apart(tab, tab_end, 0, desc) || !apart(tab, tab_end, cls, cls_end))))
        return false;
    for (uint32_t i = 0; i < h->nregions; i++) {
        intptr_t lo = t[i].first, hi = rebuilt_end(h, &t[i]);
        if (hi > t[i].hi || !apart(lo, hi, 0, desc) || (tab && !apart(lo, hi, tab, tab_end)) ||
            !apart(lo, hi, cls, cls_end))
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (!apart(lo, hi, t[j].first, rebuilt_end(h, &t[j])))
                return false;
    }
    return true;
}

int gjb_heap_repair(gjb_heap *h)
{
    if (!h || h->magic != GJB_MAGIC)
        return GJB_E_CORRUPT;
    if (h->policy != GJB_FIRST_FIT && h->policy != GJB_BUDDY)
        return GJB_E_POLICY;
    if (!rebuilt_apart(h))
        return GJB_E_CORRUPT; /* nothing written */
    bool ff = h->policy == GJB_FIRST_FIT;
    if (ff) {
        memset(h->lists, 0, FF_EXACT * sizeof(intptr_t));
        gjb_ff_quick_init(h, 0); /* a shared heap has none (gjb_heap_within) */
        memset(ff_large(h), 0,
               h->nlarge * sizeof(intptr_t) + (h->nlarge + FF_GROUP - 1) / FF_GROUP);
        h->small_map = 0;
    } else {
        memset(bd_heads(h), 0, BD_ORDERS * sizeof(intptr_t));
    }
    h->map = 0;
    h->free = h->segments = h->alloc_blocks = 0;
    const struct gjb_region *t = gjb_regions(h);
    for (uint32_t i = 0; i < h->nregions; i++) {
        struct gjb_region r = t[i];
        if (!(ff ? repair_region(h, &r) : gjb_bd_repair_region(h, &r)))
            return GJB_E_CORRUPT;
    }
    gjb_note_used(h);
    return GJB_OK;
}
