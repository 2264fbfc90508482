/*
 * ffregion.c - the first-fit block layout of a region: laying out the block
 * area with its end sentinel and block-start bitmap, proving that a pointer
 * is an allocated block, and checking a region's blocks for validate.
 */
#include "gjbmem/config.h"
#include "heap_internal.h"

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

int gjb_ff_layout(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi)
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

void gjb_ff_add_area(gjb_heap *h, const struct gjb_region *r)
{
    size_t len = (size_t)(r->end - r->first);
    memset(gjb_bitmap(h, r), 0, bitmap_bytes(len / GJB_G));
    gjb_set_hdr(gjb_ptr(h, r->end), 0);
    gjb_bit_set(h, r, gjb_ptr(h, r->end));
    gjb_ff_add_block(h, r, gjb_ptr(h, r->first), len);
}

/* True when b (inside region r) heads a plausible block: a bitmap-proven
 * start whose size keeps the next block start inside the region. */
static bool sane_block(const gjb_heap *h, const struct gjb_region *r, const char *b, size_t s)
{
    intptr_t off = gjb_off(h, b);
    return s >= GJB_MIN_BLOCK && s % GJB_G == 0 && s <= (size_t)(r->end - off) &&
           gjb_bit_test(h, r, b + s);
}

int gjb_ff_check(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp)
{
    if ((uintptr_t)p % GJB_G)
        return GJB_E_BADPTR;
    char *b = (char *)p - GJB_W;
    const struct gjb_region *r = gjb_region_of(h, b);
    if (!r || (GJBMEM_HARDENING > 0 && !gjb_bit_test(h, r, b)))
        return GJB_E_BADPTR;
    size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
    if (hd & GJB_FREE)
        return GJB_E_BADPTR;
    if (GJBMEM_HARDENING == 0) { /* the header is trusted */
        *bp = b;
        *rp = r;
        return GJB_OK;
    }
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

static size_t popcount8(unsigned char c)
{
    size_t n = 0;
    for (; c; c &= (unsigned char)(c - 1))
        n++;
    return n;
}

bool gjb_ff_check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc)
{
    if ((r->end - r->first) % (intptr_t)GJB_G || ((uintptr_t)gjb_ptr(h, r->first) + GJB_W) % GJB_G)
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
            (*nfree)++;
            *free_bytes += s;
        } else {
            (*nalloc)++;
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
    return bits == blocks + 1; /* no start bit but at a block start */
}

char *gjb_ff_block_containing(const gjb_heap *h, const struct gjb_region *r, intptr_t off)
{
    size_t i = (size_t)(off - r->first) / GJB_G; /* header granule at or before off */
    const unsigned char *bm = gjb_bitmap(h, r);
    for (;; i--) {
        if ((bm[i >> 3] >> (i & 7)) & 1)
            return gjb_ptr(h, r->first + (intptr_t)(i * GJB_G));
        if (i == 0)
            return NULL;
    }
}
