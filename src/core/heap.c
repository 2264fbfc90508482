/*
 * heap.c - what every policy shares: the region table, argument checks,
 * statistics, validation and the block walk. A policy supplies the block
 * layout of a region, pointer proofs, placement, splitting and merging:
 * first fit (ffregion.c, firstfit.c, fftree.c) or buddy (buddy.c).
 */
#include "heap_internal.h"
#include "tools.h"

static inline bool is_buddy(const gjb_heap *h)
{
    return h->policy == GJB_BUDDY;
}

/* --- regions ------------------------------------------------------------ */

static int layout_region(const gjb_heap *h, int policy, struct gjb_region *r, uintptr_t area,
                         uintptr_t hi)
{
    return policy == GJB_BUDDY ? gjb_bd_layout(h, r, area, hi) : gjb_ff_layout(h, r, area, hi);
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
    if (len > h->max_block)
        h->max_block = len;
    gjb_note_used(h);
}

static bool range_ok(const void *mem, size_t size)
{
    return mem && size && (uintptr_t)mem <= UINTPTR_MAX - size;
}

static size_t descriptor_bytes(int policy, unsigned max_regions)
{
    return sizeof(gjb_heap) + max_regions * sizeof(struct gjb_region) +
           (policy == GJB_BUDDY ? GJB_BD_ORDERS * sizeof(intptr_t) : 0);
}

int gjb_heap_init(void *mem, size_t size, int policy, unsigned max_regions, gjb_heap **out)
{
    GJB_TOOL_SCOPE();
    if (!out || !range_ok(mem, size) || max_regions == 0 || max_regions > UINT16_MAX)
        return GJB_E_INVAL;
    if (policy != GJB_FIRST_FIT && policy != GJB_BUDDY)
        return GJB_E_POLICY;
    uintptr_t lo = (uintptr_t)mem, hi = lo + size;
    uintptr_t d = GJB_ROUND_UP(lo, GJB_G);
    size_t desc = descriptor_bytes(policy, max_regions);
    if (d < lo || d > hi || hi - d < desc)
        return GJB_E_SMALL;
    gjb_heap *h = (gjb_heap *)d;
    struct gjb_region r = {(intptr_t)(lo - d), (intptr_t)(hi - d), 0, 0};
    if (layout_region(h, policy, &r, d + desc, hi) != GJB_OK)
        return GJB_E_SMALL;
    gjb_tool_take(mem, size);
    memset(h, 0, desc);
    h->magic = GJB_MAGIC;
    h->policy = (uint16_t)policy;
    h->max_regions = (uint16_t)max_regions;
    h->hdr = policy == GJB_BUDDY ? 0 : GJB_W;
    h->bd_lists = policy == GJB_BUDDY ? (intptr_t)(desc - GJB_BD_ORDERS * sizeof(intptr_t)) : 0;
    h->nregions = 1;
    h->region[0] = r;
    commit_region(h, &h->region[0]);
    gjb_tool_heap_new(h, mem, size);
    *out = h;
    return GJB_OK;
}

bool gjb_heap_overlaps(const gjb_heap *h, const void *mem, size_t size)
{
    GJB_TOOL_SCOPE();
    uintptr_t lo = (uintptr_t)mem, hi = size > UINTPTR_MAX - lo ? UINTPTR_MAX : lo + size;
    for (uint32_t i = 0; i < h->nregions; i++) {
        uintptr_t rlo = (uintptr_t)gjb_ptr(h, h->region[i].lo);
        uintptr_t rhi = (uintptr_t)gjb_ptr(h, h->region[i].hi);
        if (lo < rhi && rlo < hi)
            return true;
    }
    return false;
}

int gjb_heap_add_region(gjb_heap *h, void *mem, size_t size)
{
    GJB_TOOL_SCOPE();
    if (!range_ok(mem, size))
        return GJB_E_INVAL;
    if (gjb_heap_overlaps(h, mem, size))
        return GJB_E_OVERLAP;
    uintptr_t lo = (uintptr_t)mem;
    struct gjb_region r = {gjb_off(h, mem), gjb_off(h, (char *)mem + size), 0, 0};
    if (layout_region(h, h->policy, &r, lo, lo + size) != GJB_OK)
        return GJB_E_SMALL;
    if (h->nregions == h->max_regions)
        return GJB_E_FULL;
    gjb_tool_take(mem, size);
    uint32_t i = h->nregions;
    while (i > 0 && h->region[i - 1].lo > r.lo) {
        h->region[i] = h->region[i - 1];
        i--;
    }
    h->region[i] = r;
    h->nregions++;
    commit_region(h, &h->region[i]);
    gjb_tool_seal(mem, size);
    return GJB_OK;
}

void gjb_heap_retire(gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    if (!GJBMEM_TOOLS || !h)
        return;
    gjb_tool_heap_gone(h);
    uint32_t home = 0; /* the region holding the descriptor reopens last */
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *r = &h->region[i];
        if (r->lo <= 0 && r->hi > 0)
            home = i;
        else
            gjb_tool_region_gone(gjb_ptr(h, r->lo), (size_t)(r->hi - r->lo));
    }
    gjb_tool_region_gone(gjb_ptr(h, h->region[home].lo),
                         (size_t)(h->region[home].hi - h->region[home].lo));
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
    return is_buddy(h) ? gjb_bd_size(h, r, b, &is_free) : gjb_size(b) - GJB_W;
}

/* Size of the block at b (header included) and whether it is free; 0 when
 * its metadata is damaged. */
static size_t block_at(const gjb_heap *h, const struct gjb_region *r, const char *b, bool *is_free)
{
    if (is_buddy(h))
        return gjb_bd_size(h, r, b, is_free);
    *is_free = gjb_is_free(b);
    return gjb_size(b);
}

void *gjb_heap_block_of(const gjb_heap *h, const void *mem)
{
    GJB_TOOL_SCOPE();
    const struct gjb_region *r = gjb_region_of(h, mem);
    if (!r)
        return NULL;
    intptr_t off = gjb_off(h, mem);
    char *b = is_buddy(h) ? gjb_bd_block_containing(h, r, off) : gjb_ff_block_containing(h, r, off);
    bool is_free;
    size_t s = b ? block_at(h, r, b, &is_free) : 0;
    if (!s || is_free || off < gjb_off(h, b) + (intptr_t)h->hdr)
        return NULL;
    return b + h->hdr;
}

/* --- allocation --------------------------------------------------------- */

static int refuse(gjb_heap *h, int status)
{
    h->failed++;
    return status;
}

/* Block size the policy needs for size bytes aligned to align, or 0 if no
 * region could ever hold it. */
static size_t need_for(gjb_heap *h, size_t size, size_t align)
{
    if (size > h->peak_request)
        h->peak_request = size;
    size_t need = is_buddy(h) ? gjb_bd_block_for(size, align) : gjb_block_size(size);
    return need && need <= h->max_block ? need : 0;
}

/* Places a block of need bytes (aligned to align); *b is its start. A
 * failure counts as a refused allocation (NOMEM), except a damaged free
 * list met on the way (CORRUPT), which is reported as such. */
static int place(gjb_heap *h, size_t need, size_t align, char **b)
{
    int st = is_buddy(h) ? gjb_bd_alloc(h, need, align > GJB_G, b) : gjb_ff_alloc(h, need, align, b);
    return st == GJB_OK || st == GJB_E_CORRUPT ? st : refuse(h, GJB_E_NOMEM);
}

static int alloc_aligned(gjb_heap *h, size_t align, size_t size, void **out)
{
    if (size == 0)
        return GJB_E_INVAL;
    if (align > h->max_align)
        h->max_align = align;
    size_t need = need_for(h, size, align);
    if (!need)
        return refuse(h, GJB_E_TOOBIG);
    char *b;
    int st = place(h, need, align, &b);
    if (st != GJB_OK)
        return st;
    gjb_note_used(h);
    *out = b + h->hdr;
    gjb_tool_alloc(h, *out, size);
    return GJB_OK;
}

int gjb_heap_alloc(gjb_heap *h, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    return alloc_aligned(h, GJB_G, size, out);
}

int gjb_heap_memalign(gjb_heap *h, size_t align, size_t size, void **out)
{
    GJB_TOOL_SCOPE();
    if (align == 0 || (align & (align - 1)))
        return GJB_E_ALIGN;
    return alloc_aligned(h, align < GJB_G ? GJB_G : align, size, out);
}

static void release(gjb_heap *h, const struct gjb_region *r, char *b)
{
    if (is_buddy(h))
        gjb_bd_free(h, r, b);
    else
        gjb_ff_free(h, r, b);
}

int gjb_heap_free(gjb_heap *h, void *p)
{
    GJB_TOOL_SCOPE();
    if (!p)
        return GJB_E_INVAL;
    if (is_buddy(h) && !GJBMEM_TOOLS)
        return gjb_bd_free_ptr(h, p); /* the same check, one region lookup */
    char *b;
    const struct gjb_region *r;
    int st = check_ptr(h, p, &b, &r);
    if (st == GJB_OK) {
        size_t n = GJBMEM_TOOLS ? usable(h, r, b) : 0;
        release(h, r, b);
        gjb_tool_free(h, p, n);
    }
    return st;
}

/* Resizes block b in place when the policy can; *nb is its (new) start. */
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
    bool aligned = is_buddy(h) ? gjb_bd_aligned(h, b) : (gjb_hdr(b) & GJB_ALIGNED) != 0;
    return aligned ? gjb_kept_align(h, p) : GJB_G;
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
    size_t align = moved_align(h, b, p), need = need_for(h, size, GJB_G);
    if (!need)
        return refuse(h, GJB_E_TOOBIG);
    size_t old = usable(h, r, b), kept = gjb_tool_kept(p, old);
    if (resize(h, r, b, need, &nb) == GJB_OK) {
        gjb_note_used(h);
        *out = nb + h->hdr;
        if (GJBMEM_TOOLS)
            gjb_tool_resized(h, p, old, kept, *out, usable(h, r, nb), size);
        return GJB_OK;
    }
    if (is_buddy(h) && (need = gjb_bd_block_for(size, align)) > h->max_block)
        return refuse(h, GJB_E_NOMEM);
    if ((st = place(h, need, align, &nb)) != GJB_OK)
        return st;
    if (align > GJB_G && !is_buddy(h))
        gjb_set_flag(nb, GJB_ALIGNED);
    gjb_tool_alloc(h, nb + h->hdr, size);
    memcpy(nb + h->hdr, p, kept < size ? kept : size);
    gjb_note_used(h);
    release(h, r, b);
    gjb_tool_free(h, p, old);
    *out = nb + h->hdr;
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
    if (is_buddy(h))
        return gjb_bd_max(h);
    size_t m = gjb_tree_max(h);
    return m ? m - GJB_W : 0;
}

bool gjb_heap_is_empty(const gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    return h->alloc_blocks == 0;
}

void gjb_heap_get_stats(const gjb_heap *h, struct gjbmem_heap_stats *st)
{
    GJB_TOOL_SCOPE();
    st->free = gjb_free_payload(h);
    st->used = h->total - st->free;
    st->maxused = h->maxused;
    st->total = h->total;
    st->alloc_blocks = h->alloc_blocks;
    st->free_blocks = h->free_blocks;
    st->segments = h->alloc_blocks + h->free_blocks;
    st->largest_free = gjb_heap_max_alloc(h);
    st->regions = h->nregions;
    st->failed = h->failed;
    st->peak_request = h->peak_request;
    st->header_bytes = h->hdr;
    st->min_block = is_buddy(h) ? GJB_BU : GJB_MIN_BLOCK;
}

/* --- the block walk and validation ------------------------------------- */


int gjb_heap_walk(const gjb_heap *h, gjb_walk_fn fn, void *ctx)
{
    GJB_TOOL_SCOPE();
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *r = &h->region[i];
        for (char *b = gjb_ptr(h, r->first), *end = gjb_ptr(h, r->end); b < end;) {
            bool is_free;
            size_t s = block_at(h, r, b, &is_free);
            if (s == 0)
                return 0; /* damaged: validate says where */
            int rc = fn(ctx, b + h->hdr, s - h->hdr, !is_free);
            if (rc)
                return rc;
            b += s;
        }
    }
    return 0;
}

/* Checks a region's bounds, then its blocks through the policy. */
static bool check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc)
{
    if (r->lo >= r->hi || r->first < r->lo || r->first >= r->end || r->end > r->hi)
        return false;
    return is_buddy(h) ? gjb_bd_check_region(h, r, nfree, free_bytes, nalloc)
                       : gjb_ff_check_region(h, r, nfree, free_bytes, nalloc);
}

int gjb_heap_validate(const gjb_heap *h)
{
    GJB_TOOL_SCOPE();
    if (!h || h->magic != GJB_MAGIC || (h->policy != GJB_FIRST_FIT && h->policy != GJB_BUDDY) ||
        h->nregions == 0 || h->nregions > h->max_regions ||
        h->hdr != (is_buddy(h) ? 0 : GJB_W) ||
        h->bd_lists != (is_buddy(h) ? (intptr_t)(descriptor_bytes(GJB_BUDDY, h->max_regions) -
                                                  GJB_BD_ORDERS * sizeof(intptr_t))
                                    : 0))
        return GJB_E_CORRUPT;
    size_t nfree = 0, free_bytes = 0, nalloc = 0, total = 0, max_block = 0;
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *r = &h->region[i];
        if ((i && r->lo < h->region[i - 1].hi) || !check_region(h, r, &nfree, &free_bytes, &nalloc))
            return GJB_E_CORRUPT; /* unsorted, overlapping or damaged */
        total += (size_t)(r->hi - r->lo);
        if (largest_block(h, r) > max_block)
            max_block = largest_block(h, r);
    }
    size_t idx_count, idx_bytes;
    int st = is_buddy(h) ? gjb_bd_validate_lists(h, &idx_count, &idx_bytes)
                         : gjb_tree_validate(h, &idx_count, &idx_bytes);
    if (st != GJB_OK || idx_count != nfree || idx_bytes != free_bytes)
        return GJB_E_CORRUPT;
    if (nalloc != h->alloc_blocks || nfree != h->free_blocks || free_bytes != h->free_bytes ||
        total != h->total || max_block != h->max_block ||
        h->total - gjb_free_payload(h) > h->maxused)
        return GJB_E_CORRUPT;
    return GJB_OK;
}
