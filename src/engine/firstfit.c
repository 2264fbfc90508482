/*
 * firstfit.c - the FIRST_FIT policy: segregated first fit (firstfit.h).
 *
 * An allocation of a block of `need` bytes takes the first block of its own
 * class if that block is large enough (always, in an exact class), else the
 * first block of the smallest non-empty class above, every block of which
 * is large enough; the rest of the block stays free when it can form a
 * block. A free merges at once with both neighbours. Every operation reads
 * a bounded number of words: no loop over blocks or lists.
 *
 * Inside a class, blocks are kept last in, first out (the order measured on
 * real programs' traces: docs/DESIGN.md).
 */
#include "firstfit.h"
#include "tools.h"

/* --- geometry ------------------------------------------------------------ */

size_t gjb_ff_block_size(size_t size)
{
    if (size > SIZE_MAX - GJB_W - GJB_G)
        return 0;
    size_t s = GJB_ROUND_UP(size + GJB_W, GJB_G);
    return s < FF_MIN ? FF_MIN : s;
}

size_t gjb_ff_usable(const char *b)
{
    return ff_size(b) - GJB_W;
}

bool gjb_ff_aligned(const char *b)
{
    return (gjb_word(b) & FF_ALIGNED) != 0;
}

void gjb_ff_mark_aligned(char *b)
{
    gjb_set_word(b, gjb_word(b) | FF_ALIGNED);
}

/* --- the table of large classes ----------------------------------------- */

static size_t table_bytes_for(unsigned nlarge)
{
    return GJB_ROUND_UP(nlarge * sizeof(intptr_t) + (nlarge + FF_GROUP - 1) / FF_GROUP, GJB_G);
}

/* Large classes a heap with blocks of up to `largest` bytes needs. */
static unsigned large_for(size_t largest)
{
    unsigned c = ff_class(largest < FF_MIN ? FF_MIN : largest & ~(GJB_G - 1));
    return c < FF_EXACT ? 0 : c - FF_EXACT + 1;
}

size_t gjb_ff_table_bytes(size_t largest)
{
    return table_bytes_for(large_for(largest));
}

void gjb_ff_tables_init(gjb_heap *h, intptr_t at, size_t largest)
{
    h->classes = at;
    h->nlarge = large_for(largest);
    memset(gjb_ptr(h, at), 0, table_bytes_for(h->nlarge));
}

size_t gjb_ff_table_growth(const gjb_heap *h, size_t largest)
{
    unsigned n = large_for(largest);
    return n > h->nlarge ? table_bytes_for(n) : 0;
}

void gjb_ff_tables_move(gjb_heap *h, intptr_t at, size_t largest)
{
    unsigned n = large_for(largest), old = h->nlarge;
    char *dst = gjb_ptr(h, at);
    memset(dst, 0, table_bytes_for(n));
    gjb_tool_take(ff_large(h), table_bytes_for(old)); /* metadata: ASan lets memcpy read it */
    memcpy(dst, ff_large(h), old * sizeof(intptr_t));
    memcpy(dst + n * sizeof(intptr_t), ff_groups(h), (old + FF_GROUP - 1) / FF_GROUP);
    gjb_tool_seal(ff_large(h), table_bytes_for(old));
    h->classes = at;
    h->nlarge = n;
}

/* --- the free lists ------------------------------------------------------ */

/* Makes [b, b+s) a free block of its own (not merged) and lists it. */
static void add_free(gjb_heap *h, intptr_t b, size_t s)
{
    char *p = gjb_ptr(h, b);
    gjb_set_word(p, s | FF_FREE);
    gjb_set_word(p + s - GJB_W, s);
    gjb_set_word(p + s, gjb_word(p + s) | FF_PREV_FREE);
    ff_push(h, b, s);
    h->free += s - GJB_W;
    h->segments++;
}

/* The smallest non-empty large class, or -1. */
static inline int first_large(const gjb_heap *h, uint64_t groups)
{
    if (!groups)
        return -1;
    unsigned g = gjb_ctz64(groups);
    return (int)(FF_EXACT + g * FF_GROUP + gjb_ctz32(ff_groups(h)[g]));
}

/* The smallest non-empty class above c, or -1. */
static int class_above(const gjb_heap *h, unsigned c)
{
    if (c + 1 < FF_EXACT) {
        uint32_t m = h->small_map & (~1u << c);
        if (m)
            return (int)gjb_ctz32(m);
        return first_large(h, h->map);
    }
    if (c < FF_EXACT)
        return first_large(h, h->map);
    unsigned k = c - FF_EXACT, g = k / FF_GROUP;
    unsigned m = ff_groups(h)[g] & (0xfeu << (k % FF_GROUP)) & 0xffu;
    if (m)
        return (int)(FF_EXACT + g * FF_GROUP + gjb_ctz32(m));
    return first_large(h, h->map & ~(((uint64_t)2 << g) - 1));
}

/* The first block that can take need bytes, *cp its class; 0 if none: the
 * first block of need's own class if it is large enough, else the first of
 * the smallest non-empty class above, all of whose blocks are. */
static inline intptr_t find(gjb_heap *h, size_t need, unsigned *cp)
{
    unsigned c = ff_class(need);
    intptr_t b = *ff_head(h, c);
    if (b && (c < FF_EXACT || ff_size(gjb_ptr(h, b)) >= need)) {
        *cp = c;
        return b;
    }
    int above = class_above(h, c);
    if (above < 0)
        return 0;
    *cp = (unsigned)above;
    return *ff_head(h, (unsigned)above);
}

/* --- the proof bitmap ---------------------------------------------------- */

static inline void unprove(const gjb_heap *h, const struct gjb_region *r, intptr_t pay)
{
    size_t bit = ff_bit(r, pay), *w = &ff_proof(h, r)[bit / FF_WBITS];
    gjb_put(w, *w & ~((size_t)1 << (bit % FF_WBITS)));
}

/* --- quick lists -------------------------------------------------------- */

bool gjb_ff_quick_flush(gjb_heap *h)
{
    bool any = false;
    for (unsigned k = 0; ff_has_quick(h) && k < FF_QUICK_LEVELS; k++)
        for (unsigned c = FF_MIN / GJB_G; c < FF_QUICK_N; c++)
            for (intptr_t b; (b = ff_qhead(h, k * FF_QUICK_N + c)) != 0; any = true) {
                char *p = ff_quick_pop_at(h, b, c, k, 0);  /* allocated again, */
                gjb_ff_release(h, gjb_region_of(h, b), p); /* then freed and merged */
            }
    return any;
}

void gjb_ff_quick_init(gjb_heap *h, size_t heap_bytes)
{
    if (!FF_QUICK_OK)
        return;
    size_t cap = heap_bytes / FF_QUICK_PER;
    if (cap > FF_QUICK_CAP)
        cap = FF_QUICK_CAP;
    *ff_quick_mark(h) = cap ? FF_QUICK_HAS : 0;
    *ff_quick_room(h) = cap;
    if (cap)
        memset(ff_quick(h), 0, FF_QUICK_BYTES);
}

void gjb_ff_quick_reach(gjb_heap *h, intptr_t lo, intptr_t hi)
{
    if (!ff_has_quick(h) || ff_quick_reaches(lo, hi))
        return;
    gjb_ff_quick_flush(h);
    *ff_quick_mark(h) = 0;
    *ff_quick_room(h) = 0;
}

/* After a free that did not go on a quick list: an empty heap gives its
 * quick lists back, so that it is whole again. */
static void after_free(gjb_heap *h)
{
    if (GJB_UNLIKELY(!h->alloc_blocks))
        gjb_ff_quick_flush(h);
}

/* --- allocation ---------------------------------------------------------- */

/* gjb_ff_alloc after its quick list: the first class that fits (after a
 * flush when none does). */
static int alloc_listed(gjb_heap *h, size_t need, void **out)
{
    unsigned c;
    intptr_t b = find(h, need, &c);
    if (GJB_UNLIKELY(!b) && gjb_ff_quick_flush(h))
        b = find(h, need, &c);
    if (GJB_UNLIKELY(!b))
        return GJB_E_NOMEM;
    ff_take(h, b, c, need);
    gjb_note_used(h);
    *out = gjb_ptr(h, b) + GJB_W;
    return GJB_OK;
}

int gjb_ff_alloc(gjb_heap *h, size_t size, void **out)
{
    size_t need = gjb_ff_block_size(size);
    if (GJB_UNLIKELY(!need || need > h->max_block))
        return GJB_E_TOOBIG;
    if (need < FF_QUICK_LIMIT && ff_quick_any(h, (unsigned)(need / GJB_G))) {
        *out = ff_take_quick(h, (unsigned)(need / GJB_G));
        return GJB_OK;
    }
    return alloc_listed(h, need, out);
}

/* (Its callers looked at the request's quick list already.) */
int gjb_ff_alloc_miss(gjb_heap *h, size_t need, void **out)
{
    uint32_t above = h->small_map & (~1u << (need / GJB_G));
    unsigned c = above ? gjb_ctz32(above) : 0;
    intptr_t b = h->lists[c];
    if (!above || !b) /* (a class bit without a block: find() refuses it) */
        return GJB_UNLIKELY(need > h->max_block) ? GJB_E_TOOBIG : alloc_listed(h, need, out);
    ff_take(h, b, c, need);
    gjb_note_used(h);
    *out = gjb_ptr(h, b) + GJB_W;
    return GJB_OK;
}

/* Where the header of an aligned payload of need bytes would start in free
 * block b: at b, or at least FF_MIN bytes in (the gap stays a free block);
 * 0 when it does not fit in b. */
static intptr_t aligned_spot(const gjb_heap *h, intptr_t b, size_t need, size_t align)
{
    uintptr_t start = (uintptr_t)gjb_ptr(h, b);
    uintptr_t p = GJB_ROUND_UP(start + GJB_W, align);
    if (p - GJB_W != start && p - GJB_W - start < FF_MIN)
        p = GJB_ROUND_UP(start + GJB_W + FF_MIN, align);
    size_t lead = (size_t)(p - GJB_W - start);
    return lead + need <= ff_size(gjb_ptr(h, b)) ? b + (intptr_t)lead : 0;
}

/* Allocates [at, at+need) from b, which heads class c: the gap in front of
 * `at` (at least FF_MIN bytes) stays free, and so does the tail if it can
 * form a block. */
static void carve_at(gjb_heap *h, intptr_t b, unsigned c, intptr_t at, size_t need)
{
    char *p = gjb_ptr(h, b), *a = gjb_ptr(h, at);
    size_t s = ff_size(p), lead = (size_t)(at - b), rest = s - lead - need;
    ff_pop(h, b, c);
    gjb_set_word(p, lead | FF_FREE);
    gjb_set_word(a - GJB_W, lead);
    ff_push(h, b, lead);
    if (rest >= FF_MIN) {
        gjb_set_word(a + need, rest | FF_FREE);
        gjb_set_word(a + need + rest - GJB_W, rest);
        ff_push(h, at + (intptr_t)need, rest);
        h->segments++;
        h->free -= GJB_W;
    } else {
        need += rest;
        gjb_set_word(a + need, gjb_word(a + need) & ~FF_PREV_FREE);
    }
    gjb_set_word(a, need | FF_PREV_FREE);
    h->free -= need;
    ff_prove(h, gjb_region_of(h, at), at + (intptr_t)GJB_W);
    h->alloc_blocks++;
    h->segments++;
}

int gjb_ff_alloc_moved(gjb_heap *h, size_t size, void **out)
{
    size_t need = gjb_ff_block_size(size); /* (the caller checked it fits) */
    if (need < FF_QUICK_LIMIT)
        return gjb_ff_alloc(h, size, out);
    /* (no flush when nothing fits: gjb_ff_resize gave the quick lists' blocks
     * back before the caller came here) */
    unsigned c;
    intptr_t b = find(h, need, &c), at = b;
    if (!b)
        return GJB_E_NOMEM;
    size_t lead = ff_size(gjb_ptr(h, b)) - need;
    if (lead >= FF_MIN)
        carve_at(h, b, c, at += (intptr_t)lead, need);
    else
        ff_take(h, b, c, need);
    gjb_note_used(h);
    *out = gjb_ptr(h, at) + GJB_W;
    return GJB_OK;
}

/* The first of the first FF_QUICK_PROBE blocks of quick list c of level
 * k whose payload is aligned to align (a power of two), taken off the
 * list: allocated again, marked as memalign's; its payload, or NULL
 * (nothing changed) when none is. */
static char *quick_probe(gjb_heap *h, unsigned c, unsigned k, size_t align)
{
    intptr_t prev = 0, b = ff_qhead(h, k * FF_QUICK_N + c);
    for (unsigned i = 0; i < FF_QUICK_PROBE && b; i++, prev = b, b = ff_qnext(h, b)) {
        if ((uintptr_t)(gjb_ptr(h, b) + GJB_W) & (align - 1))
            continue;
        char *p;
        if (prev) {
            ff_set_link(h, prev, FF_NEXT, ff_link(h, b, FF_NEXT));
            p = ff_quick_retake(h, gjb_ptr(h, b), c, FF_ALIGNED);
        } else {
            p = ff_quick_pop_at(h, b, c, k, FF_ALIGNED);
        }
        gjb_note_used(h);
        return p + GJB_W;
    }
    return NULL;
}

/* A quick block of c granules for memalign: from the least aligned level
 * that is aligned enough, up; its payload, or NULL (nothing changed). */
static char *quick_aligned(gjb_heap *h, unsigned c, size_t align)
{
    unsigned k = ff_quick_level_for(align), m = (unsigned)ff_quick_levels(h)[c] >> k;
    char *p = m ? quick_probe(h, c, k + gjb_ctz32(m), align) : NULL;
    return p || !ff_quick(h)[c] ? p : quick_probe(h, c, 0, align);
}

int gjb_ff_memalign(gjb_heap *h, size_t align, size_t size, void **out)
{
    size_t need = gjb_ff_block_size(size);
    if (!need || need > h->max_block)
        return GJB_E_TOOBIG;
    unsigned c = (unsigned)(need / GJB_G);
    char *q = need < FF_QUICK_LIMIT && ff_has_quick(h) ? quick_aligned(h, c, align) : NULL;
    if (q) {
        *out = q;
        return GJB_OK;
    }
    intptr_t b = find(h, need, &c), at = b ? aligned_spot(h, b, need, align) : 0;
    if (!at) { /* a block with room for any misalignment always fits */
        size_t slack = FF_MIN + align - GJB_G;
        if (need > h->max_block || slack > h->max_block - need ||
            !(b = find(h, need + slack, &c)))
            return gjb_ff_quick_flush(h) ? gjb_ff_memalign(h, align, size, out) /* once */
                                         : GJB_E_NOMEM;
        at = aligned_spot(h, b, need, align);
        if (!at)
            return GJB_E_NOMEM;
    }
    if (at == b)
        ff_take(h, b, c, need);
    else
        carve_at(h, b, c, at, need);
    gjb_ff_mark_aligned(gjb_ptr(h, at));
    gjb_note_used(h);
    *out = gjb_ptr(h, at) + GJB_W;
    return GJB_OK;
}

/* --- free ---------------------------------------------------------------- */

/* gjb_ff_release with b's header hd and the next block's nh read. */
static GJB_ALWAYS_INLINE void release(gjb_heap *h, const struct gjb_region *r, char *b, size_t hd,
                                      size_t nh)
{
    unprove(h, r, gjb_off(h, b) + (intptr_t)GJB_W);
    size_t s = hd & ~FF_FLAGS;
    char *n = b + s;
    h->alloc_blocks--;
    h->free += s - GJB_W;
    if (ff_is_free(nh)) { /* merge the next block: one header less */
        size_t ns = nh & ~FF_FLAGS;
        ff_unlink(h, gjb_off(h, n), ns);
        s += ns;
        h->free += GJB_W;
        h->segments--;
    } else {
        gjb_set_word(n, nh | FF_PREV_FREE);
    }
    if (hd & FF_PREV_FREE) { /* merge into the block before */
        size_t ps = gjb_word(b - GJB_W);
        b -= ps;
        ff_unlink(h, gjb_off(h, b), ps);
        s += ps;
        h->free += GJB_W;
        h->segments--;
    }
    gjb_set_word(b, s | FF_FREE);
    gjb_set_word(b + s - GJB_W, s);
    ff_push(h, gjb_off(h, b), s);
}

/* Frees the proved, allocated block b (region r): clears its proof bit,
 * merges it with its free neighbours and lists the result. */
void gjb_ff_release(gjb_heap *h, const struct gjb_region *r, char *b)
{
    size_t hd = gjb_word(b);
    release(h, r, b, hd, gjb_word(b + (hd & ~FF_FLAGS)));
}

/* True when the metadata free() will rely on for block b (header hd, in
 * region r) is whole: its size keeps it in the region, the next block does
 * not think b free, a free block before it matches its footer. Reads only. */
static inline bool sane(const gjb_heap *h, const struct gjb_region *r, const char *b, size_t hd)
{
    size_t s = hd & ~FF_FLAGS;
    intptr_t off = gjb_off(h, b);
    if ((hd & FF_FREE) || s < FF_MIN || s % GJB_G || s > (size_t)(r->end - off))
        return false;
    const char *n = b + s;
    size_t nh = gjb_word(n), ns = nh & ~FF_FLAGS;
    if (nh & FF_PREV_FREE)
        return false;
    if (ff_is_free(nh)) { /* a free block after it: whole, its footer agrees */
        if (ns < FF_MIN || ns % GJB_G || ns > (size_t)(r->end - off) - s ||
            gjb_word(n + ns - GJB_W) != ns)
            return false;
    } else if (n != gjb_ptr(h, r->end) && !ff_proved(h, r, ff_bit(r, gjb_off(h, n) + (intptr_t)GJB_W))) {
        return false; /* the size does not end at a block */
    }
    if (!(hd & FF_PREV_FREE))
        return true;
    size_t ps = gjb_word(b - GJB_W);
    return ps >= FF_MIN && ps % GJB_G == 0 && ps <= (size_t)(off - r->first) &&
           gjb_word(b - ps) == (ps | FF_FREE);
}

int gjb_ff_check(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp)
{
    intptr_t off = gjb_off(h, p) - (intptr_t)GJB_W;
    const struct gjb_region *r = gjb_region_of(h, off);
    size_t d = r ? (size_t)(off - r->first) : 0;
    if (!r || d % GJB_G)
        return GJB_E_BADPTR;
    char *b = (char *)p - GJB_W;
    size_t hd = gjb_word(b);
    if (!ff_proved(h, r, d / GJB_G) || ff_is_quick(hd)) /* (quick: freed already) */
        return GJB_E_BADPTR;
    if (!sane(h, r, b, hd))
        return GJB_E_CORRUPT;
    *bp = b;
    *rp = r;
    return GJB_OK;
}

void gjb_ff_list_freed(gjb_heap *h, intptr_t b, size_t s)
{
    ff_push(h, b, s);
    after_free(h);
}

/* What ff_free_fast left to check when a neighbour of b is free (it proved
 * b, its header's flags and size): the next block is free and whole (its
 * footer agrees), or allocated and proved, or the sentinel; a free block
 * before b matches its footer. Then b is freed and merged. */
int gjb_ff_free_merge(gjb_heap *h, const struct gjb_region *r, intptr_t b, size_t hd, size_t nh)
{
    char *bp = gjb_ptr(h, b);
    size_t s = hd & ~FF_FLAGS, room = (size_t)(r->end - b) - s, ns = nh & ~FF_FLAGS;
    if (nh & FF_PREV_FREE)
        return GJB_E_CORRUPT;
    if (ff_is_free(nh)) {
        if (ns < FF_MIN || ns % GJB_G || ns > room || gjb_word(bp + s + ns - GJB_W) != ns)
            return GJB_E_CORRUPT;
    } else if (room && !ff_proved(h, r, ff_bit(r, b + (intptr_t)(s + GJB_W)))) {
        return GJB_E_CORRUPT;
    }
    if (hd & FF_PREV_FREE) {
        size_t ps = gjb_word(bp - GJB_W);
        if (ps < FF_MIN || ps % GJB_G || ps > (size_t)(b - r->first) ||
            gjb_word(bp - ps) != (ps | FF_FREE))
            return GJB_E_CORRUPT;
    }
    if (FF_QUICK_OK) /* a copy of release here: the worst free 10 instructions shorter */
        release(h, r, bp, hd, nh);
    else /* (a firmware build: one copy, 0.8 KiB less on Cortex-M4) */
        gjb_ff_release(h, r, bp);
    after_free(h);
    return GJB_OK;
}

int gjb_ff_free_declined(gjb_heap *h, void *p, size_t d, size_t hd, bool aligned)
{
    if (aligned && ff_free_aligned(h, p, d, hd))
        return GJB_OK;
    return ff_free_missed_at(h, p, d, hd);
}

/* A free outside the hot region: found by a search of the region table,
 * then the same fast path. */
int gjb_ff_free_other(gjb_heap *h, void *p)
{
    intptr_t b = gjb_off(h, p) - (intptr_t)GJB_W;
    const struct gjb_region *r = gjb_region_at(h, b);
    if (!r || (size_t)(b - r->first) % GJB_G)
        return gjb_ff_free(h, p);
    return ff_free_in(h, p, r, b, (size_t)(b - r->first));
}

int gjb_ff_free(gjb_heap *h, void *p)
{
    char *b;
    const struct gjb_region *r;
    int st = gjb_ff_check(h, p, &b, &r);
    if (GJB_UNLIKELY(st != GJB_OK))
        return st;
    gjb_ff_release(h, r, b);
    after_free(h);
    return GJB_OK;
}

/* --- resizing in place ---------------------------------------------------- */

/* Cuts allocated block b down to need bytes; the tail, if it can be a
 * block, is freed (and merged with a free block after it). */
static void shrink(gjb_heap *h, const struct gjb_region *r, char *b, size_t need)
{
    size_t hd = gjb_word(b), s = hd & ~FF_FLAGS;
    if (s - need < FF_MIN)
        return;
    gjb_set_word(b, need | (hd & FF_FLAGS));
    gjb_set_word(b + need, s - need);
    h->alloc_blocks++; /* the tail, until release() frees it */
    h->segments++;
    gjb_ff_release(h, r, b + need);
}

/* Grows allocated block b into its free right neighbour (s + ns >= need). */
static void grow_right(gjb_heap *h, char *b, size_t need)
{
    size_t hd = gjb_word(b), s = hd & ~FF_FLAGS;
    char *n = b + s;
    size_t ns = ff_size(n), rest = s + ns - need;
    ff_unlink(h, gjb_off(h, n), ns);
    h->free -= ns - GJB_W;
    h->segments--;
    if (rest >= FF_MIN) {
        s = need;
        gjb_set_word(b + s, rest | FF_FREE);
        gjb_set_word(b + s + rest - GJB_W, rest);
        ff_push(h, gjb_off(h, b + s), rest);
        h->free += rest - GJB_W;
        h->segments++;
    } else {
        s += ns;
        gjb_set_word(b + s, gjb_word(b + s) & ~FF_PREV_FREE);
    }
    gjb_set_word(b, s | (hd & FF_FLAGS));
}

/* Grows allocated block b over its free left neighbour (and its free right
 * neighbour, if any), moving the contents down to the highest address that
 * keeps its alignment. Returns the block's new start, or NULL. */
static char *grow_left(gjb_heap *h, const struct gjb_region *r, char *b, size_t need)
{
    size_t hd = gjb_word(b), s = hd & ~FF_FLAGS;
    char *p = b - gjb_word(b - GJB_W), *n = b + s;
    size_t ps = ff_size(p), ns = ff_is_free(gjb_word(n)) ? ff_size(n) : 0;
    size_t align = (hd & FF_ALIGNED) ? gjb_kept_align(h, b + GJB_W) : GJB_G;
    char *end = n + ns;
    if (ps + s + ns < need)
        return NULL;
    uintptr_t at = (((uintptr_t)(end - need) + GJB_W) & ~(uintptr_t)(align - 1)) - GJB_W;
    if (at < (uintptr_t)p)
        return NULL;
    size_t gap = (size_t)(at - (uintptr_t)p);
    if (gap && gap < FF_MIN) {
        if (((uintptr_t)p + GJB_W) & (align - 1))
            return NULL;
        gap = 0;
    }
    char *nb = p + gap;
    if (ns) {
        ff_unlink(h, gjb_off(h, n), ns);
        h->free -= ns - GJB_W;
        h->segments--;
    }
    ff_unlink(h, gjb_off(h, p), ps);
    h->free -= ps - GJB_W;
    h->segments--;
    unprove(h, r, gjb_off(h, b) + (intptr_t)GJB_W);
    gjb_tool_move(nb + GJB_W, b + GJB_W, s - GJB_W);
    memmove(nb + GJB_W, b + GJB_W, s - GJB_W);
    if (gap)
        add_free(h, gjb_off(h, p), gap);
    gjb_set_word(nb, (size_t)(end - nb) | (hd & FF_ALIGNED) | (gap ? FF_PREV_FREE : 0));
    gjb_set_word(end, gjb_word(end) & ~FF_PREV_FREE);
    ff_prove(h, r, gjb_off(h, nb) + (intptr_t)GJB_W);
    shrink(h, r, nb, need);
    return nb;
}

int gjb_ff_resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t need, char **out)
{
    size_t hd = gjb_word(b), s = hd & ~FF_FLAGS;
    char *n = b + s;
    *out = b;
    if (need <= s) {
        shrink(h, r, b, need);
        return GJB_OK;
    }
    if (ff_is_free(gjb_word(n)) && s + ff_size(n) >= need) {
        grow_right(h, b, need);
        return GJB_OK;
    }
    if ((hd & FF_PREV_FREE) && (*out = grow_left(h, r, b, need)) != NULL)
        return GJB_OK;
    *out = b;
    /* the blocks set aside may be what keeps it from growing: they go back
     * (merged), once, before the caller moves it (docs/DESIGN.md) */
    if (FF_QUICK_OK && gjb_ff_quick_flush(h))
        return gjb_ff_resize(h, r, b, need, out);
    return GJB_E_NOMEM;
}

/* --- queries ------------------------------------------------------------- */

size_t gjb_ff_max(const gjb_heap *h)
{
    unsigned c;
    size_t best = 0;
    if (h->map) {
        unsigned g = gjb_log2_64(h->map);
        c = FF_EXACT + g * FF_GROUP + gjb_log2_64(ff_groups(h)[g]);
        best = ff_size(gjb_ptr(h, *ff_head((gjb_heap *)h, c))) - GJB_W;
    } else if (h->small_map) {
        c = gjb_log2_64(h->small_map);
        best = ff_size(gjb_ptr(h, *ff_head((gjb_heap *)h, c))) - GJB_W;
    }
    /* a quick block fits a request of its size: the largest size with one,
     * at level 0 or (its byte of levels) above */
    for (unsigned q = FF_QUICK_N; ff_has_quick(h) && q-- > FF_MIN / GJB_G;)
        if (ff_quick(h)[q] || ff_quick_levels(h)[q])
            return q * GJB_G - GJB_W > best ? q * GJB_G - GJB_W : best;
    return best;
}

char *gjb_ff_block_containing(const gjb_heap *h, const struct gjb_region *r, intptr_t off)
{
    if (off < r->first + (intptr_t)GJB_W)
        return NULL;
    size_t bit = ff_bit(r, off), i = bit / FF_WBITS; /* the payload start at or before off */
    const size_t *w = ff_proof(h, r);
    size_t m = w[i] & (((size_t)2 << (bit % FF_WBITS)) - 1); /* bits <= bit (2 << 63 wraps to 0) */
    while (!m) {
        if (i == 0)
            return NULL;
        m = w[--i];
    }
    size_t found = i * FF_WBITS + gjb_log2(m);
    return gjb_ptr(h, r->first + (intptr_t)(found * GJB_G));
}

size_t gjb_ff_block_at(const gjb_heap *h, const struct gjb_region *r, const char *b, bool *is_free)
{
    (void)h, (void)r;
    *is_free = (gjb_word(b) & FF_FREE) != 0;
    return ff_size(b);
}

/* --- regions ------------------------------------------------------------- */

/* The bitmap of a block area of `granules` granules: a bit per granule,
 * and FF_PROOF_PAD more that are always 0, so that ff_free_look may test
 * the bit of the block after a block of less than FF_QUICK_LIMIT bytes
 * without first checking that it is inside the area (past its end it is 0:
 * the same answer as for the end sentinel). */
static size_t proof_bytes(size_t granules)
{
    return (granules + FF_PROOF_PAD + FF_WBITS - 1) / FF_WBITS * sizeof(size_t);
}

/* The top of region memory a block area of k granules starting at `first`
 * needs, with its sentinel, bitmap and `extra` table bytes (at *tab). */
static uintptr_t top_for(uintptr_t first, size_t k, size_t extra, uintptr_t *tab)
{
    uintptr_t meta = first + k * GJB_G + GJB_W;
    *tab = GJB_ROUND_UP(meta + proof_bytes(k), GJB_G);
    return *tab + extra;
}

int gjb_ff_layout(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi,
                  size_t extra, intptr_t *extra_off)
{
    uintptr_t first = GJB_ROUND_UP(area + GJB_W, GJB_G) - GJB_W, tab;
    if (first < area || first >= hi || hi - first < FF_MIN + GJB_W + extra + 2 * GJB_G)
        return GJB_E_SMALL;
    size_t avail = (size_t)(hi - first) - GJB_W - extra - GJB_G;
    size_t k = (size_t)((avail / (8 * GJB_G + 1)) * 8); /* about avail*8 / (8G+1), low */
    while (top_for(first, k + 1, extra, &tab) <= hi)
        k++;
    while (k && top_for(first, k, extra, &tab) > hi)
        k--;
    if (k * GJB_G < FF_MIN)
        return GJB_E_SMALL;
    top_for(first, k, extra, &tab);
    r->first = (intptr_t)(first - (uintptr_t)h);
    r->end = r->first + (intptr_t)(k * GJB_G);
    if (extra_off)
        *extra_off = (intptr_t)(tab - (uintptr_t)h);
    return GJB_OK;
}

void gjb_ff_add_area(gjb_heap *h, const struct gjb_region *r)
{
    size_t len = (size_t)(r->end - r->first);
    memset(ff_proof(h, r), 0, proof_bytes(len / GJB_G));
    gjb_set_word(gjb_ptr(h, r->end), 0); /* the sentinel: size 0, allocated */
    add_free(h, r->first, len);
}

/* --- validation ---------------------------------------------------------- */

bool gjb_ff_check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc)
{
    size_t len = (size_t)(r->end - r->first), bits = 0, allocs = 0;
    if (len % GJB_G || ((uintptr_t)gjb_ptr(h, r->first) + GJB_W) % GJB_G ||
        (uintptr_t)ff_proof(h, r) + proof_bytes(len / GJB_G) > (uintptr_t)gjb_ptr(h, r->hi))
        return false;
    bool prev_free = false;
    size_t quick = 0;
    for (intptr_t off = r->first; off < r->end;) {
        const char *b = gjb_ptr(h, off);
        size_t hd = gjb_word(b), s = hd & ~FF_FLAGS;
        bool is_free = ff_is_free(hd), is_quick = ff_is_quick(hd);
        if (s < FF_MIN || s % GJB_G || s > (size_t)(r->end - off) ||
            ((hd & FF_PREV_FREE) != 0) != prev_free || (is_free && prev_free) ||
            (is_quick && (!ff_has_quick(h) || s >= FF_QUICK_LIMIT)) ||
            ff_proved(h, r, ff_bit(r, off + (intptr_t)GJB_W)) == is_free)
            return false;
        if (is_free && gjb_word(b + s - GJB_W) != s)
            return false;
        if (is_free || is_quick) { /* quick blocks count as free */
            (*nfree)++;
            *free_bytes += s;
            quick += is_quick;
        } else {
            allocs++;
        }
        prev_free = is_free;
        off += (intptr_t)s;
    }
    if (gjb_word(gjb_ptr(h, r->end)) != (prev_free ? FF_PREV_FREE : 0))
        return false;
    const size_t *w = ff_proof(h, r);
    for (size_t i = 0; i < proof_bytes(len / GJB_G) / sizeof(size_t); i++)
        bits += gjb_popcount64((uint64_t)w[i]);
    *nalloc += allocs;
    return bits == allocs + quick; /* no proof bit but at an allocated or quick block */
}

/* True when b is a free block of a region of h, of class c. */
static bool listed_ok(const gjb_heap *h, intptr_t b, unsigned c)
{
    const struct gjb_region *r = gjb_region_at(h, b);
    if (!r || (b - r->first) % (intptr_t)GJB_G)
        return false;
    size_t hd = gjb_word(gjb_ptr(h, b)), s = hd & ~FF_FLAGS;
    return ff_is_free(hd) && s >= FF_MIN && s <= (size_t)(r->end - b) && ff_class(s) == c;
}

/* Walks class c's list: its blocks, their links, their class; *count
 * reaching `most` is damage. */
static int check_class(const gjb_heap *h, unsigned c, intptr_t first, size_t most, size_t *count,
                       size_t *bytes)
{
    intptr_t prev = 0;
    for (intptr_t b = first; b; prev = b, b = ff_link(h, b, FF_NEXT)) {
        if (*count >= most || !listed_ok(h, b, c) || ff_link(h, b, FF_PREV) != prev)
            return GJB_E_CORRUPT;
        (*count)++;
        *bytes += ff_size(gjb_ptr(h, b));
    }
    return GJB_OK;
}

/* Walks the quick lists: their mark and room, their blocks (quick, of
 * their class, at their level), no more than FF_QUICK_CAP - room. */
static int check_quick(const gjb_heap *h, size_t most, size_t *count, size_t *bytes)
{
    uintptr_t room = ff_quick_left(h), n = 0;
    if (!ff_has_quick(h))
        return !h->lists[0] && !room ? GJB_OK : GJB_E_CORRUPT;
    if (room > FF_QUICK_CAP || *ff_quick_mark(h) != FF_QUICK_HAS)
        return GJB_E_CORRUPT;
    for (unsigned c = 0; c < FF_QUICK_N; c++)
        if (ff_quick_levels(h)[c] & ~((1u << FF_QUICK_LEVELS) - 2u)) /* (levels 1 and up) */
            return GJB_E_CORRUPT;
    for (unsigned i = 0; i < FF_QUICK_HEADS; i++) {
        unsigned c = i % FF_QUICK_N, k = i / FF_QUICK_N;
        if (k && ((ff_quick_levels(h)[c] >> k) & 1) != (ff_quick(h)[i] != 0))
            return GJB_E_CORRUPT;
        for (intptr_t q = ff_quick(h)[i], b; q; q = ff_qlink(h, b), n++) {
            if (q < -FF_QUICK_REACH / (intptr_t)GJB_G || q > FF_QUICK_REACH / (intptr_t)GJB_G)
                return GJB_E_CORRUPT; /* (no quick index: ff_qblock would overflow) */
            b = ff_qblock(q);
            const struct gjb_region *r = gjb_region_at(h, b);
            if (c < FF_MIN / GJB_G || !r || /* (a quick index is on a granule) */
                n >= FF_QUICK_CAP - room || *count >= most ||
                (k && ff_quick_level(gjb_ptr(h, b) + GJB_W) != k))
                return GJB_E_CORRUPT;
            size_t hd = gjb_word(gjb_ptr(h, b));
            if (!ff_is_quick(hd) || (hd & ~FF_FLAGS) != c * GJB_G)
                return GJB_E_CORRUPT;
            (*count)++;
            *bytes += c * GJB_G;
        }
    }
    return GJB_OK;
}

int gjb_ff_validate_lists(const gjb_heap *h, size_t most, size_t *count, size_t *bytes)
{
    const intptr_t *large = ff_large(h);
    const unsigned char *groups = ff_groups(h);
    unsigned ngroups = (h->nlarge + FF_GROUP - 1) / FF_GROUP;
    *count = *bytes = 0;
    if (h->nlarge > large_for(SIZE_MAX) || (ngroups < 64 && (h->map >> ngroups)) ||
        (h->small_map & ((1u << (FF_MIN / GJB_G)) - 1)))
        return GJB_E_CORRUPT;
    for (unsigned c = FF_MIN / GJB_G; c < FF_EXACT; c++)
        if (((h->small_map >> c) & 1) != (h->lists[c] != 0) ||
            check_class(h, c, h->lists[c], most, count, bytes) != GJB_OK)
            return GJB_E_CORRUPT;
    if (check_quick(h, most, count, bytes) != GJB_OK)
        return GJB_E_CORRUPT;
    for (unsigned k = 0; k < h->nlarge; k++)
        if (((groups[k / FF_GROUP] >> (k % FF_GROUP)) & 1) != (large[k] != 0) ||
            check_class(h, FF_EXACT + k, large[k], most, count, bytes) != GJB_OK)
            return GJB_E_CORRUPT;
    for (unsigned g = 0; g < ngroups; g++) {
        unsigned used = groups[g], valid = h->nlarge - g * FF_GROUP;
        if ((valid < FF_GROUP && (used >> valid)) || ((h->map >> g) & 1) != (used != 0))
            return GJB_E_CORRUPT;
    }
    return GJB_OK;
}
