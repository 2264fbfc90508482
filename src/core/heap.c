/*
 * heap.c - what every policy shares: regions, pointer checks, statistics,
 * validation and the block walk. The policy supplies placement, splitting
 * and merging (firstfit.c).
 */
#include "heap_internal.h"

/* --- regions ------------------------------------------------------------ */

static size_t bitmap_bytes(size_t granules)
{
    return (granules + 1 + 7) / 8; /* one bit more, for the end sentinel */
}

/* Largest block area (in granules) that fits in avail bytes together with
 * its sentinel and bitmap. */
static size_t fit_granules(size_t avail)
{
    if (avail < GJB_W + 1)
        return 0;
    size_t a = avail - GJB_W - 1, d = 8 * GJB_G + 1;
    size_t k = (a / d) * 8 + ((a % d) * 8) / d; /* a*8/d without overflow */
    while (k && k * GJB_G + GJB_W + bitmap_bytes(k) > avail)
        k--;
    while ((k + 1) * GJB_G + GJB_W + bitmap_bytes(k + 1) <= avail)
        k++;
    return k;
}

/* Lays out the block area of [area, hi): fills r->first/end, or returns
 * SMALL. Writes nothing. */
static int layout_region(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi)
{
    uintptr_t first = GJB_ROUND_UP(area + GJB_W, GJB_G) - GJB_W;
    if (first >= hi || first < area)
        return GJB_E_SMALL;
    size_t len = fit_granules((size_t)(hi - first)) * GJB_G;
    if (len < GJB_MIN_BLOCK)
        return GJB_E_SMALL;
    r->first = (intptr_t)(first - (uintptr_t)h);
    r->end = r->first + (intptr_t)len;
    return GJB_OK;
}

/* Clears the bitmap, writes the sentinel and hands the area to the policy. */
static void commit_region(gjb_heap *h, const struct gjb_region *r)
{
    size_t len = (size_t)(r->end - r->first);
    memset(gjb_bitmap(h, r), 0, bitmap_bytes(len / GJB_G));
    gjb_set_hdr(gjb_ptr(h, r->end), 0);
    gjb_bit_set(h, r, gjb_ptr(h, r->end));
    gjb_ff_add_block(h, r, gjb_ptr(h, r->first), len);
    h->total += (size_t)(r->hi - r->lo);
    if (len > h->max_block)
        h->max_block = len;
    gjb_note_used(h);
}

static bool range_ok(const void *mem, size_t size)
{
    return mem && size && (uintptr_t)mem <= UINTPTR_MAX - size;
}

int gjb_heap_init(void *mem, size_t size, int policy, unsigned max_regions, gjb_heap **out)
{
    if (!out || !range_ok(mem, size) || max_regions == 0 || max_regions > UINT16_MAX)
        return GJB_E_INVAL;
    if (policy != GJB_FIRST_FIT)
        return GJB_E_POLICY;
    uintptr_t lo = (uintptr_t)mem, hi = lo + size;
    uintptr_t d = GJB_ROUND_UP(lo, GJB_G);
    size_t desc = sizeof(gjb_heap) + max_regions * sizeof(struct gjb_region);
    if (d < lo || d > hi || hi - d < desc)
        return GJB_E_SMALL;
    gjb_heap *h = (gjb_heap *)d;
    struct gjb_region r = {(intptr_t)(lo - d), (intptr_t)(hi - d), 0, 0};
    if (layout_region(h, &r, d + desc, hi) != GJB_OK)
        return GJB_E_SMALL;
    memset(h, 0, desc);
    h->magic = GJB_MAGIC;
    h->policy = (uint16_t)policy;
    h->max_regions = (uint16_t)max_regions;
    h->nregions = 1;
    h->region[0] = r;
    commit_region(h, &h->region[0]);
    *out = h;
    return GJB_OK;
}

bool gjb_heap_overlaps(const gjb_heap *h, const void *mem, size_t size)
{
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
    if (!range_ok(mem, size))
        return GJB_E_INVAL;
    if (gjb_heap_overlaps(h, mem, size))
        return GJB_E_OVERLAP;
    uintptr_t lo = (uintptr_t)mem;
    struct gjb_region r = {gjb_off(h, mem), gjb_off(h, (char *)mem + size), 0, 0};
    if (layout_region(h, &r, lo, lo + size) != GJB_OK)
        return GJB_E_SMALL;
    if (h->nregions == h->max_regions)
        return GJB_E_FULL;
    uint32_t i = h->nregions;
    while (i > 0 && h->region[i - 1].lo > r.lo) {
        h->region[i] = h->region[i - 1];
        i--;
    }
    h->region[i] = r;
    h->nregions++;
    commit_region(h, &h->region[i]);
    return GJB_OK;
}

/* --- pointer checks ----------------------------------------------------- */

/* True when b (inside region r) heads a plausible block: a bitmap-proven
 * start whose size keeps the next block start inside the region. */
static bool sane_block(const gjb_heap *h, const struct gjb_region *r, const char *b, size_t s)
{
    intptr_t off = gjb_off(h, b);
    return s >= GJB_MIN_BLOCK && s % GJB_G == 0 && s <= (size_t)(r->end - off) &&
           gjb_bit_test(h, r, b + s);
}

/* Proves that p is the payload of an allocated block of h and that the
 * metadata a free of it would rely on is intact. Writes nothing. */
static int check_ptr(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp)
{
    if ((uintptr_t)p % GJB_G)
        return GJB_E_BADPTR;
    char *b = (char *)p - GJB_W;
    const struct gjb_region *r = gjb_region_of(h, b);
    if (!r || !gjb_bit_test(h, r, b))
        return GJB_E_BADPTR;
    size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
    if (hd & GJB_FREE)
        return GJB_E_BADPTR;
    if (!sane_block(h, r, b, s))
        return GJB_E_CORRUPT;
    char *next = b + s;
    size_t nh = gjb_hdr(next);
    if ((nh & GJB_PREV_FREE) || ((nh & GJB_FREE) && !sane_block(h, r, next, nh & ~GJB_FLAGS)))
        return GJB_E_CORRUPT;
    if (hd & GJB_PREV_FREE) {
        size_t ps = gjb_hdr(b - GJB_W);
        if (ps > (size_t)(gjb_off(h, b) - r->first) || ps % GJB_G || ps < GJB_MIN_BLOCK)
            return GJB_E_CORRUPT;
        const char *prev = b - ps;
        if (!gjb_bit_test(h, r, prev) || gjb_hdr(prev) != (ps | GJB_FREE | (gjb_hdr(prev) & GJB_RED)))
            return GJB_E_CORRUPT;
    }
    *bp = b;
    *rp = r;
    return GJB_OK;
}

/* --- allocation --------------------------------------------------------- */

static int refuse(gjb_heap *h, int status)
{
    h->failed++;
    return status;
}

/* Block size for size bytes, or 0 if no region could ever hold it. */
static size_t need_for(gjb_heap *h, size_t size)
{
    if (size > h->peak_request)
        h->peak_request = size;
    size_t need = gjb_block_size(size);
    return need && need <= h->max_block ? need : 0;
}

static int alloc_aligned(gjb_heap *h, size_t align, size_t size, void **out)
{
    if (size == 0)
        return GJB_E_INVAL;
    if (align > h->max_align)
        h->max_align = align;
    size_t need = need_for(h, size);
    if (!need)
        return refuse(h, GJB_E_TOOBIG);
    char *b;
    if (gjb_ff_alloc(h, need, align, &b) != GJB_OK)
        return refuse(h, GJB_E_NOMEM);
    gjb_note_used(h);
    *out = b + GJB_W;
    return GJB_OK;
}

int gjb_heap_alloc(gjb_heap *h, size_t size, void **out)
{
    return alloc_aligned(h, GJB_G, size, out);
}

int gjb_heap_memalign(gjb_heap *h, size_t align, size_t size, void **out)
{
    if (align == 0 || (align & (align - 1)))
        return GJB_E_ALIGN;
    return alloc_aligned(h, align < GJB_G ? GJB_G : align, size, out);
}

int gjb_heap_free(gjb_heap *h, void *p)
{
    if (!p)
        return GJB_E_INVAL;
    char *b;
    const struct gjb_region *r;
    int st = check_ptr(h, p, &b, &r);
    if (st == GJB_OK)
        gjb_ff_free(h, r, b);
    return st;
}

int gjb_heap_realloc(gjb_heap *h, void *p, size_t size, void **out)
{
    if (!p)
        return gjb_heap_alloc(h, size, out);
    if (size == 0)
        return GJB_E_INVAL;
    char *b, *nb;
    const struct gjb_region *r;
    int st = check_ptr(h, p, &b, &r);
    if (st != GJB_OK)
        return st;
    size_t need = need_for(h, size);
    if (!need)
        return refuse(h, GJB_E_TOOBIG);
    size_t hd = gjb_hdr(b), old = (hd & ~GJB_FLAGS) - GJB_W;
    if (gjb_ff_resize(h, r, b, need, &nb) == GJB_OK) {
        gjb_note_used(h);
        *out = nb + GJB_W;
        return GJB_OK;
    }
    size_t align = (hd & GJB_ALIGNED) ? gjb_kept_align(h, p) : GJB_G;
    if (gjb_ff_alloc(h, need, align, &nb) != GJB_OK)
        return refuse(h, GJB_E_NOMEM);
    if (align > GJB_G)
        gjb_set_flag(nb, GJB_ALIGNED);
    memcpy(nb + GJB_W, p, old < size ? old : size);
    gjb_note_used(h);
    gjb_ff_free(h, r, b);
    *out = nb + GJB_W;
    return GJB_OK;
}

size_t gjb_heap_usable_size(const gjb_heap *h, const void *p)
{
    char *b;
    const struct gjb_region *r;
    if (!p || check_ptr(h, p, &b, &r) != GJB_OK)
        return 0;
    return gjb_size(b) - GJB_W;
}

/* --- statistics --------------------------------------------------------- */

size_t gjb_heap_max_alloc(const gjb_heap *h)
{
    size_t m = gjb_tree_max(h);
    return m ? m - GJB_W : 0;
}

bool gjb_heap_is_empty(const gjb_heap *h)
{
    return h->alloc_blocks == 0;
}

void gjb_heap_get_stats(const gjb_heap *h, struct gjbmem_heap_stats *st)
{
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
    st->header_bytes = GJB_W;
    st->min_block = GJB_MIN_BLOCK;
}

/* --- the block walk and validation ------------------------------------- */

int gjb_heap_walk(const gjb_heap *h, gjb_walk_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *r = &h->region[i];
        for (char *b = gjb_ptr(h, r->first), *end = gjb_ptr(h, r->end); b < end;
             b += gjb_size(b)) {
            int rc = fn(ctx, b + GJB_W, gjb_size(b) - GJB_W, !gjb_is_free(b));
            if (rc)
                return rc;
        }
    }
    return 0;
}

struct census {
    size_t alloc, free, free_bytes, total, max_block;
};

static size_t popcount8(unsigned char c)
{
    size_t n = 0;
    for (; c; c &= (unsigned char)(c - 1))
        n++;
    return n;
}

/* Checks one region's blocks, flags, footers and bitmap. */
static bool check_region(const gjb_heap *h, const struct gjb_region *r, struct census *c)
{
    if (r->lo >= r->hi || r->first < r->lo || r->first >= r->end ||
        (r->end - r->first) % (intptr_t)GJB_G || ((uintptr_t)gjb_ptr(h, r->first) + GJB_W) % GJB_G)
        return false;
    size_t len = (size_t)(r->end - r->first), blocks = 0;
    if ((uintptr_t)gjb_bitmap(h, r) + bitmap_bytes(len / GJB_G) > (uintptr_t)gjb_ptr(h, r->hi))
        return false;
    bool prev_free = false;
    char *b = gjb_ptr(h, r->first), *end = gjb_ptr(h, r->end);
    while (b < end) {
        size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
        bool is_free = hd & GJB_FREE;
        if (s < GJB_MIN_BLOCK || s % GJB_G || s > (size_t)(end - b) || !gjb_bit_test(h, r, b) ||
            ((hd & GJB_PREV_FREE) != 0) != prev_free || (is_free && prev_free))
            return false;
        if (is_free) {
            if (gjb_hdr(b + s - GJB_W) != s)
                return false;
            c->free++;
            c->free_bytes += s;
        } else {
            c->alloc++;
        }
        prev_free = is_free;
        blocks++;
        b += s;
    }
    if (gjb_hdr(end) != (prev_free ? GJB_PREV_FREE : 0) || !gjb_bit_test(h, r, end))
        return false;
    size_t bits = 0;
    const unsigned char *bm = gjb_bitmap(h, r);
    for (size_t i = 0; i < bitmap_bytes(len / GJB_G); i++)
        bits += popcount8(bm[i]);
    if (bits != blocks + 1) /* a start bit anywhere but at a block start */
        return false;
    c->total += (size_t)(r->hi - r->lo);
    if (len > c->max_block)
        c->max_block = len;
    return true;
}

int gjb_heap_validate(const gjb_heap *h)
{
    if (!h || h->magic != GJB_MAGIC || h->policy != GJB_FIRST_FIT || h->nregions == 0 ||
        h->nregions > h->max_regions)
        return GJB_E_CORRUPT;
    struct census c = {0, 0, 0, 0, 0};
    for (uint32_t i = 0; i < h->nregions; i++) {
        if (i && h->region[i].lo < h->region[i - 1].hi)
            return GJB_E_CORRUPT; /* unsorted or overlapping */
        if (!check_region(h, &h->region[i], &c))
            return GJB_E_CORRUPT;
    }
    size_t tree_count, tree_bytes;
    if (gjb_tree_validate(h, &tree_count, &tree_bytes) != GJB_OK || tree_count != c.free ||
        tree_bytes != c.free_bytes)
        return GJB_E_CORRUPT;
    if (c.alloc != h->alloc_blocks || c.free != h->free_blocks || c.free_bytes != h->free_bytes ||
        c.total != h->total || c.max_block != h->max_block ||
        h->total - gjb_free_payload(h) > h->maxused)
        return GJB_E_CORRUPT;
    return GJB_OK;
}
