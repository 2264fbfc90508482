/*
 * heap.c - what every policy shares: the region table, argument checks,
 * statistics, validation and the block walk; and the one place where the
 * engine picks the policy (a switch at the top of each operation). A policy
 * supplies its block layout, pointer proofs, placement, splitting and
 * merging: FIRST_FIT in firstfit.c, BUDDY in buddy.c.
 */
#include "heap_ops.h"

static inline bool is_buddy(const gjb_heap *h)
{
    return h->policy == GJB_BUDDY;
}

/* --- regions ------------------------------------------------------------ */

static int layout(const gjb_heap *h, int policy, struct gjb_region *r, uintptr_t area,
                  uintptr_t hi, size_t extra, intptr_t *extra_off)
{
    return policy == GJB_BUDDY ? gjb_bd_layout(h, r, area, hi, extra, extra_off)
                               : gjb_ff_layout(h, r, area, hi, extra, extra_off);
}

/* The largest block region r can ever hold. */
static size_t largest_block(const gjb_heap *h, const struct gjb_region *r)
{
    return is_buddy(h) ? gjb_bd_largest(h, r) : (size_t)(r->end - r->first);
}

/* Hands the laid-out block area of r to the policy and counts the region. */
static void commit_region(gjb_heap *h, const struct gjb_region *r)
{
    if (is_buddy(h))
        gjb_bd_add_area(h, r);
    else
        gjb_ff_add_area(h, r);
    size_t len = largest_block(h, r);
    h->total += (size_t)(r->hi - r->lo);
    h->free_floor += (size_t)(r->hi - r->lo); /* the high-water mark of used stays */
    if (len > h->max_block)
        h->max_block = len;
    gjb_note_used(h);
}

static bool range_ok(const void *mem, size_t size)
{
    return mem && size && (uintptr_t)mem <= UINTPTR_MAX - size;
}

/* True when [lo, lo + size) can be linked from the descriptor at base.
 * Links are intptr_t offsets, taken modulo the address space (on ILP32 a
 * region 3 GiB above the descriptor lies 1 GiB below it), and every region's
 * offsets must run up without changing sign: one may not straddle the
 * offset INTPTR_MAX (2 GiB past the descriptor on ILP32; a region that
 * straddled offset 0 would overlap the descriptor's own). */
static bool linkable(uintptr_t base, uintptr_t lo, size_t size)
{
    uintptr_t off = lo - base;
    return off > (uintptr_t)INTPTR_MAX || size <= (uintptr_t)INTPTR_MAX - off;
}

size_t gjb_descriptor_bytes(int policy)
{
    if (policy != GJB_BUDDY)
        return FF_QUICK_AT; /* where a heap's quick lists, if any, begin */
    return GJB_ROUND_UP(sizeof(gjb_heap) + BD_ORDERS * sizeof(intptr_t), BD_DESC_ALIGN);
}

/* Makes r the hot region. Its block area is read without the lock
 * (gjb_heap_hot): stored with atomic stores. */
static void set_hot(gjb_heap *h, const struct gjb_region *r)
{
    h->hot.lo = r->lo;
    h->hot.hi = r->hi;
    gjb_store_off(&h->hot.first, r->first);
    gjb_store_off(&h->hot.end, r->end);
    h->hot_span = (size_t)(r->end - r->first);
    if (is_buddy(h))
        h->hot_units = bd_units(r);
}

int gjb_heap_init(void *mem, size_t size, int policy, unsigned max_regions, gjb_heap **out)
{
    GJB_TOOL_SCOPE();
    if (!out || !range_ok(mem, size) || max_regions == 0 || max_regions > UINT16_MAX)
        return GJB_E_INVAL;
    bool quick = (policy & GJB_QUICK) && FF_QUICK_OK && size >= FF_QUICK_MIN;
    policy &= ~GJB_QUICK;
    if (policy != GJB_FIRST_FIT && policy != GJB_BUDDY)
        return GJB_E_POLICY;
    quick = quick && policy == GJB_FIRST_FIT;
    uintptr_t lo = (uintptr_t)mem, hi = lo + size, d = GJB_ROUND_UP(lo, GJB_G);
    size_t desc = gjb_descriptor_bytes(policy);
    size_t quick_bytes = quick ? FF_QUICK_BYTES : 0;
    size_t tables = policy == GJB_BUDDY ? 0 : quick_bytes + gjb_ff_table_bytes(size);
    if (d < lo || d > hi || hi - d < desc + tables)
        return GJB_E_SMALL;
    if (hi - d > (uintptr_t)INTPTR_MAX) /* offsets from the descriptor: intptr_t */
        return GJB_E_TOOBIG;
    gjb_heap *h = (gjb_heap *)d;
    struct gjb_region r = {(intptr_t)(lo - d), (intptr_t)(hi - d), 0, 0};
    if (layout(h, policy, &r, d + desc + tables, hi, 0, NULL) != GJB_OK)
        return GJB_E_SMALL;
    gjb_tool_take(mem, size);
    memset(h, 0, desc);
    h->magic = GJB_MAGIC;
    h->policy = (uint16_t)policy;
    h->max_regions = (uint16_t)max_regions;
    h->nregions = 1;
    h->region_cap = 1;
    set_hot(h, &r);
    if (policy == GJB_FIRST_FIT) { /* [descriptor][quick lists][classes] */
        gjb_ff_quick_init(h, quick ? size : 0);
        gjb_ff_quick_reach(h, r.lo, r.hi);
        gjb_ff_tables_init(h, (intptr_t)(desc + quick_bytes), size);
    }
    commit_region(h, &h->hot);
    gjb_tool_heap_new(h, mem, size);
    *out = h;
    return GJB_OK;
}

bool gjb_heap_overlaps(const gjb_heap *h, const void *mem, size_t size)
{
    GJB_TOOL_SCOPE();
    uintptr_t lo = (uintptr_t)mem, hi = size > UINTPTR_MAX - lo ? UINTPTR_MAX : lo + size;
    const struct gjb_region *t = gjb_regions(h);
    for (uint32_t i = 0; i < h->nregions; i++)
        if (lo < (uintptr_t)gjb_ptr(h, t[i].hi) && (uintptr_t)gjb_ptr(h, t[i].lo) < hi)
            return true;
    return false;
}

/* Adds r to the region table, kept sorted by address: in place while it
 * has room, else copied first to offset at (in the new region's metadata),
 * with room for cap entries. */
static void insert_region(gjb_heap *h, const struct gjb_region *r, intptr_t at, uint32_t cap)
{
    const struct gjb_region *old = gjb_regions(h);
    uint32_t n = h->nregions, i = n;
    struct gjb_region *t = (struct gjb_region *)(void *)gjb_ptr(h, at ? at : h->regions);
    gjb_tool_take((void *)(uintptr_t)old, n * sizeof *t); /* metadata: ASan lets memcpy read it */
    gjb_tool_take(t, (n + 1) * sizeof *t);
    if (at) {
        memcpy(t, old, n * sizeof *t);
        gjb_tool_seal((void *)(uintptr_t)old, n * sizeof *t);
        h->regions = at;
        h->region_cap = cap;
    }
    while (i > 0 && t[i - 1].lo > r->lo) {
        t[i] = t[i - 1];
        i--;
    }
    t[i] = *r;
    gjb_tool_seal(t, (n + 1) * sizeof *t);
}

/* Bytes of region r's block area: the largest such region is the hot one. */
static size_t area(const struct gjb_region *r)
{
    return (size_t)(r->end - r->first);
}

/* Bytes of a region table of cap entries. */
static size_t table_bytes(uint32_t cap)
{
    return GJB_ROUND_UP(cap * sizeof(struct gjb_region), GJB_G);
}

int gjb_heap_add_region(gjb_heap *h, void *mem, size_t size)
{
    GJB_TOOL_SCOPE();
    if (!range_ok(mem, size))
        return GJB_E_INVAL;
    if (gjb_heap_overlaps(h, mem, size))
        return GJB_E_OVERLAP;
    uintptr_t lo = (uintptr_t)mem;
    if (!linkable((uintptr_t)h, lo, size)) /* before any offset into it is computed */
        return GJB_E_TOOBIG;
    /* A full table moves to the new memory with room to double (so that
     * later regions, however small, rarely need room for it), or with room
     * for one more entry when the memory cannot hold that. */
    uint32_t n = h->nregions, cap = 0;
    if (n + 1 > h->region_cap) {
        cap = n < 2 ? 4 : 2 * n;
        cap = cap > h->max_regions ? h->max_regions : cap;
        cap = cap < n + 1 ? n + 1 : cap;
    }
    size_t classes = is_buddy(h) ? 0 : gjb_ff_table_growth(h, size);
    struct gjb_region r = {gjb_off(h, mem), gjb_off(h, (char *)mem + size), 0, 0};
    intptr_t extra = 0;
    int st = layout(h, h->policy, &r, lo, lo + size, table_bytes(cap) + classes, &extra);
    if (st != GJB_OK && cap > n + 1) {
        cap = n + 1;
        st = layout(h, h->policy, &r, lo, lo + size, table_bytes(cap) + classes, &extra);
    }
    if (st != GJB_OK)
        return GJB_E_SMALL;
    if (n == h->max_regions)
        return GJB_E_FULL;
    gjb_tool_take(mem, size);
    if (!is_buddy(h))
        gjb_ff_quick_reach(h, r.lo, r.hi);
    if (classes)
        gjb_ff_tables_move(h, extra + (intptr_t)table_bytes(cap), size);
    insert_region(h, &r, cap ? extra : 0, cap);
    h->nregions++;
    if (area(&r) > area(&h->hot) || (area(&r) == area(&h->hot) && r.lo < h->hot.lo))
        set_hot(h, &r);
    commit_region(h, gjb_region_at(h, r.first));
    gjb_tool_seal(mem, size);
    return GJB_OK;
}

void gjb_heap_retire(gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    if (!GJBMEM_TOOLS || !h)
        return;
    gjb_tool_heap_gone(h);
    const struct gjb_region *t = gjb_regions(h), *home = NULL;
    for (uint32_t i = 0; i < h->nregions; i++) /* the descriptor's region reopens last */
        if (!gjb_region_home(&t[i]))
            gjb_tool_region_gone(gjb_ptr(h, t[i].lo), (size_t)(t[i].hi - t[i].lo));
        else
            home = &t[i];
    gjb_tool_region_gone(gjb_ptr(h, home->lo), (size_t)(home->hi - home->lo));
}

/* --- pointer checks ----------------------------------------------------- */

/* Proves that p is an allocated block of h (*bp: its start, header
 * included) in region *rp. Writes nothing. */
static int check_ptr(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp)
{
    return is_buddy(h) ? gjb_bd_check(h, p, bp, rp) : gjb_ff_check(h, p, bp, rp);
}

/* Payload bytes of the allocated block b. */
static size_t usable(const gjb_heap *h, const struct gjb_region *r, const char *b)
{
    bool is_free;
    return is_buddy(h) ? gjb_bd_size(h, r, b, &is_free) : gjb_ff_usable(b);
}

/* Size of the block at b (header included) and whether it is free; 0 when
 * its metadata is damaged. */
static size_t block_at(const gjb_heap *h, const struct gjb_region *r, const char *b, bool *is_free)
{
    return is_buddy(h) ? gjb_bd_size(h, r, b, is_free) : gjb_ff_block_at(h, r, b, is_free);
}

void *gjb_heap_block_of(const gjb_heap *h, const void *mem)
{
    GJB_TOOL_SCOPE();
    intptr_t off = gjb_off(h, mem);
    const struct gjb_region *r = gjb_region_at(h, off);
    if (!r)
        return NULL;
    char *b = is_buddy(h) ? gjb_bd_block_containing(h, r, off) : gjb_ff_block_containing(h, r, off);
    bool is_free;
    size_t s = b ? block_at(h, r, b, &is_free) : 0, hdr = gjb_hdr_bytes(h);
    if (!s || is_free || off < gjb_off(h, b) + (intptr_t)hdr || off >= gjb_off(h, b) + (intptr_t)s)
        return NULL;
    return b + hdr;
}

/* --- allocation --------------------------------------------------------- */

/* BUDDY's allocation beyond the hot region's hit: the hit in whichever
 * region holds the list's first block, else the general allocation. One
 * copy, for both ways below. */
static GJB_NOINLINE int gjb_bd_alloc_beyond(gjb_heap *h, size_t size, void **out)
{
    return bd_alloc_fast(h, size, out);
}

/* gjb_bd_alloc_entry for what its hit does not take: out of line, so that
 * its registers and frame stay off the common path. */
static GJB_NOINLINE int gjb_bd_alloc_wide(gjb_heap *h, size_t size, void **out)
{
    if (!gjb_alloc_open(h, size))
        return GJB_E_INVAL;
    return gjb_alloc_close(h, size, out, gjb_bd_alloc_beyond(h, size, out));
}

/* The same once the request's order k (< BD_ORDER_END) is known and its
 * statistics are done (no tool watches): a block of that order, which is
 * what the request's size asks (only the order is passed: the entry then
 * keeps one register less). */
static GJB_NOINLINE int gjb_bd_alloc_order(gjb_heap *h, unsigned k, void **out)
{
    int st = gjb_bd_alloc_beyond(h, bd_size(k), out);
    return st == GJB_OK ? st : gjb_refused(h, st);
}

static GJB_ALWAYS_INLINE int bd_alloc_entry(gjb_heap *h, size_t size, void **out)
{
    unsigned k = bd_order_for(size); /* size 0: an order no block has */
    if (GJB_SMALL_CODE || GJBMEM_TOOLS || k >= BD_ORDER_END) /* (firmware built for size: one
                                  * copy of the hit; tools: gjb_alloc_close describes the block) */
        return gjb_bd_alloc_wide(h, size, out);
    if (size > h->peak_request)
        h->peak_request = size;
    intptr_t off, next;
    unsigned char *t = bd_alloc_pick(h, k, &off, &next); /* the hot region's */
    if (GJB_UNLIKELY(!t))
        return gjb_bd_alloc_order(h, k, out);
    *out = bd_alloc_take(h, k, off, next, t, false);
    return GJB_OK;
}

int gjb_bd_alloc_entry(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    return bd_alloc_entry(h, size, out);
}

/* gjb_bd_free_entry when the hot region's hit declined (NULL included):
 * the general free for the hot region's blocks (a merge, or a refusal:
 * the hit has looked at them already), another region's block by the
 * hit there first (bd_free_fast). */
static GJB_NOINLINE int gjb_bd_free_wide(gjb_heap *h, void *p)
{
    if (!p)
        return GJB_E_INVAL;
    if (GJB_SMALL_CODE || gjb_dist(gjb_off(h, p), h->hot.first) >= h->hot_span)
        return bd_free_fast(h, p);
    return gjb_bd_free(h, p);
}

int gjb_bd_free_entry(gjb_heap *h, void *p)
{
    if (GJB_SMALL_CODE)
        return gjb_bd_free_wide(h, p);
    if (GJB_LIKELY(bd_free_hit(h, p))) /* the hot region's */
        return GJB_OK;
    return gjb_bd_free_wide(h, p);
}

int gjb_ff_alloc_unquick(gjb_heap *h, size_t size, void **out)
{
    void *p = ff_exact_hit(h, size); /* size 0: none */
    if (!p)
        return gjb_ff_alloc_declined(h, size, out);
    gjb_alloc_open(h, size);
    *out = p;
    return GJB_OK;
}

/* gjb_heap_alloc_inline (heap_ops.h) with BUDDY's half inline too: its
 * hit keeps no register across a call, so it costs FIRST_FIT's nothing
 * here, and saves BUDDY's engine pair a jump and a move (stop 34). */
int gjb_heap_alloc(gjb_heap *h, size_t size, void **out)
{
    if (GJBMEM_TOOLS)
        return gjb_heap_alloc_watched(h, size, out);
    if (h->policy == GJB_BUDDY)
        return bd_alloc_entry(h, size, out);
    return gjb_ff_alloc_frame(h, size, out);
}

int gjb_heap_alloc_watched(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (h->policy == GJB_BUDDY)
        return gjb_bd_alloc_entry(h, size, out);
    return gjb_ff_alloc_frame(h, size, out);
}

int gjb_heap_memalign(gjb_heap *h, size_t align, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (align == 0 || (align & (align - 1)))
        return GJB_E_ALIGN;
    if (align <= GJB_G)
        return gjb_heap_alloc(h, size, out);
    if (size == 0)
        return GJB_E_INVAL;
    if (size > h->peak_request)
        h->peak_request = size;
    if (align > h->max_align)
        h->max_align = align;
    int st = is_buddy(h) ? gjb_bd_place(h, size, align, out) : gjb_ff_memalign(h, align, size, out);
    if (st != GJB_OK)
        return gjb_refused(h, st);
    gjb_tool_alloc(h, *out, size);
    return GJB_OK;
}

/* Frees the proved block b (region r). */
static void release(gjb_heap *h, const struct gjb_region *r, char *b)
{
    if (is_buddy(h))
        gjb_bd_release(h, r, b);
    else
        gjb_ff_release(h, r, b);
}

int gjb_heap_free(gjb_heap *h, void *p)
{
    return gjb_heap_free_inline(h, p);
}

int gjb_heap_free_watched(gjb_heap *h, void *p)
{
    GJB_TOOL_SCOPE();
    if (!p)
        return GJB_E_INVAL;
    char *b;
    const struct gjb_region *r;
    int st = check_ptr(h, p, &b, &r);
    if (st == GJB_OK) {
        size_t n = usable(h, r, b);
        release(h, r, b);
        gjb_tool_free(h, p, n);
    }
    return st;
}

/* Resizes block b in place to a block of need bytes when the policy can;
 * *nb is its (new) start. */
static int resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t need, char **nb)
{
    *nb = b;
    return is_buddy(h) ? gjb_bd_resize(h, r, b, need) : gjb_ff_resize(h, r, b, need, nb);
}

/* The alignment a block moved by realloc must keep: GJB_G, or for a block
 * memalign placed, what gjb_kept_align says (a buddy block may have been
 * shrunk in place below the alignment it was asked for). */
static size_t moved_align(const gjb_heap *h, const char *b, const void *p)
{
    bool aligned = is_buddy(h) ? gjb_bd_aligned(h, b) : gjb_ff_aligned(b);
    return aligned ? gjb_kept_align(h, p) : GJB_G;
}

/* Allocates the new home of a block that moves (no counting of a refusal
 * here: the caller does it). */
static int place(gjb_heap *h, size_t size, size_t align, void **out)
{
    if (is_buddy(h))
        return gjb_bd_place(h, size, align, out);
    return align > GJB_G ? gjb_ff_memalign(h, align, size, out) : gjb_ff_alloc_moved(h, size, out);
}

int gjb_heap_realloc(gjb_heap *h, void *p, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (!p)
        return gjb_heap_alloc(h, size, out);
    if (size == 0)
        return GJB_E_INVAL;
    char *b, *nb;
    const struct gjb_region *r;
    int st = check_ptr(h, p, &b, &r);
    if (st != GJB_OK)
        return st;
    if (size > h->peak_request)
        h->peak_request = size;
    size_t align = moved_align(h, b, p);
    size_t need = is_buddy(h) ? gjb_bd_block_for(size, GJB_G) : gjb_ff_block_size(size);
    if (!need || need > h->max_block)
        return gjb_refused(h, GJB_E_TOOBIG);
    size_t old = usable(h, r, b), kept = gjb_tool_kept(p, old);
    if (resize(h, r, b, need, &nb) == GJB_OK) {
        gjb_note_used(h);
        *out = nb + gjb_hdr_bytes(h);
        if (GJBMEM_TOOLS)
            gjb_tool_resized(h, p, old, kept, *out, usable(h, r, nb), size);
        return GJB_OK;
    }
    void *q;
    if ((st = place(h, size, align, &q)) != GJB_OK)
        return gjb_refused(h, st == GJB_E_TOOBIG ? GJB_E_NOMEM : st);
    gjb_tool_alloc(h, q, size);
    memcpy(q, p, kept < size ? kept : size);
    release(h, r, b);
    gjb_tool_free(h, p, old);
    *out = q;
    return GJB_OK;
}

size_t gjb_heap_usable_size(const gjb_heap *h, const void *p)
{
    GJB_TOOL_SCOPE();
    char *b;
    const struct gjb_region *r;
    if (!p || check_ptr(h, p, &b, &r) != GJB_OK)
        return 0;
    return gjb_tool_kept(p, usable(h, r, b)); /* with a tool watching: the request */
}

/* --- statistics --------------------------------------------------------- */

size_t gjb_heap_max_alloc(const gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    return is_buddy(h) ? gjb_bd_max(h) : gjb_ff_max(h);
}

void gjb_heap_settle(gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    if (!is_buddy(h) && ff_has_quick(h))
        gjb_ff_quick_flush(h);
}

bool gjb_heap_is_empty(const gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    return h->alloc_blocks == 0;
}

void gjb_heap_get_stats(const gjb_heap *h, struct gjbmem_heap_stats *st)
{
    GJB_TOOL_SCOPE();
    st->free = h->free;
    st->used = h->total - st->free;
    st->maxused = h->total - h->free_floor;
    st->total = h->total;
    st->alloc_blocks = h->alloc_blocks;
    st->free_blocks = gjb_free_blocks(h);
    st->segments = h->segments;
    st->largest_free = gjb_heap_max_alloc(h);
    st->regions = h->nregions;
    st->failed = h->failed;
    st->peak_request = h->peak_request;
    st->header_bytes = gjb_hdr_bytes(h);
    st->min_block = is_buddy(h) ? GJB_BU : FF_MIN;
}

/* --- the block walk and validation ------------------------------------- */

int gjb_heap_walk(const gjb_heap *h, gjb_walk_fn fn, void *ctx)
{
    GJB_TOOL_SCOPE();
    const struct gjb_region *t = gjb_regions(h);
    size_t hdr = gjb_hdr_bytes(h);
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *r = &t[i];
        for (intptr_t off = r->first; off < r->end;) {
            bool is_free;
            char *b = gjb_ptr(h, off);
            size_t s = block_at(h, r, b, &is_free);
            if (s == 0 || s > (size_t)(r->end - off))
                return 0; /* damaged (a size past the region's end: the walk's
                           * offset would leave it): validate says where */
            int rc = fn(ctx, b + hdr, s - hdr, !is_free);
            if (rc)
                return rc;
            off += (intptr_t)s;
        }
    }
    return 0;
}

/* True when [off, off+len) lies in the metadata of one of the n regions
 * of t: after a block area, or before the first block of the descriptor's
 * region. */
static bool in_metadata(const struct gjb_region *t, uint32_t n, intptr_t off, size_t len)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct gjb_region *r = &t[i];
        if (off >= r->end && off <= r->hi && len <= (size_t)(r->hi - off))
            return true;
        if (gjb_region_home(r) && off >= 0 && off <= r->first && len <= (size_t)(r->first - off))
            return true;
    }
    return false;
}

/* Checks the region table: sorted, disjoint, sane bounds, one region
 * holding the descriptor before its blocks, the hot one the first of the
 * largest. */
static bool regions_ok(const gjb_heap *h, const struct gjb_region *t)
{
    unsigned homes = 0;
    const struct gjb_region *largest = NULL;
    size_t desc = gjb_descriptor_bytes(h->policy);
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *r = &t[i];
        if (r->lo >= r->hi || r->first < r->lo || r->first >= r->end || r->end > r->hi ||
            (i && r->lo < t[i - 1].hi))
            return false;
        if (gjb_region_home(r) && (homes++ || r->first < (intptr_t)desc))
            return false; /* a second one, or blocks over the descriptor */
        if (!largest || area(r) > area(largest))
            largest = r;
    }
    const struct gjb_region *hot = &h->hot;
    /* (not memcmp: the engine calls only memcpy/memmove/memset) */
    return homes && hot->lo == largest->lo && hot->hi == largest->hi &&
           hot->first == largest->first && hot->end == largest->end &&
           h->hot_span == (size_t)(hot->end - hot->first);
}

int gjb_heap_validate(const gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    if (!h || h->magic != GJB_MAGIC || (h->policy != GJB_FIRST_FIT && h->policy != GJB_BUDDY) ||
        h->nregions == 0 || h->nregions > h->region_cap || h->region_cap > h->max_regions ||
        (h->nregions == 1) != !h->regions || (!h->regions && h->region_cap != 1))
        return GJB_E_CORRUPT;
    const struct gjb_region *t = &h->hot;
    if (h->regions) { /* the table's room, every entry of it, is metadata */
        size_t room = h->region_cap * sizeof *t;
        if (!in_metadata(&h->hot, 1, h->regions, room) &&
            !in_metadata(gjb_regions(h), h->nregions, h->regions, room))
            return GJB_E_CORRUPT;
        t = gjb_regions(h);
    }
    size_t tables = h->nlarge * sizeof(intptr_t) + (h->nlarge + FF_GROUP - 1) / FF_GROUP;
    if (!regions_ok(h, t) || (is_buddy(h) && (h->hot_units != bd_units(&h->hot) || h->nlarge || h->small_map)) ||
        (!is_buddy(h) && !in_metadata(t, h->nregions, h->classes, tables)) ||
        (!is_buddy(h) && ff_has_quick(h) &&
         !in_metadata(t, h->nregions, (intptr_t)FF_QUICK_AT, FF_QUICK_BYTES)))
        return GJB_E_CORRUPT;
    size_t nfree = 0, free_bytes = 0, nalloc = 0, total = 0, max_block = 0;
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *r = &t[i];
        bool ok = is_buddy(h) ? gjb_bd_check_region(h, r, &nfree, &free_bytes, &nalloc)
                              : gjb_ff_check_region(h, r, &nfree, &free_bytes, &nalloc);
        if (!ok)
            return GJB_E_CORRUPT;
        total += (size_t)(r->hi - r->lo);
        if (largest_block(h, r) > max_block)
            max_block = largest_block(h, r);
    }
    size_t idx_count, idx_bytes;
    int st = is_buddy(h) ? gjb_bd_validate_lists(h, nfree, &idx_count, &idx_bytes)
                         : gjb_ff_validate_lists(h, nfree, &idx_count, &idx_bytes);
    if (st != GJB_OK || idx_count != nfree || idx_bytes != free_bytes)
        return GJB_E_CORRUPT;
    if (nalloc != h->alloc_blocks || h->segments < nalloc || nfree != gjb_free_blocks(h) ||
        free_bytes - nfree * gjb_hdr_bytes(h) != h->free || total != h->total ||
        max_block != h->max_block || h->free > h->total || h->free < h->free_floor ||
        h->free_floor > h->total)
        return GJB_E_CORRUPT;
    return GJB_OK;
}
