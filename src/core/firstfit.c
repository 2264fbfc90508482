/*
 * firstfit.c - the FIRST_FIT policy: address-ordered first fit.
 *
 * An allocation takes the front of the lowest-addressed free block that can
 * hold it; the rest of that block stays free at the same place in address
 * order. Free merges at once with both neighbours. Every operation is a
 * bounded number of tree operations, each O(log n).
 *
 * Aligned requests: the lowest block that fits at all is tried first; if
 * the alignment does not fit in it, the lowest block large enough to fit it
 * at any address (need + alignment + a minimum block) is taken. A gap left
 * in front of an aligned block stays free when it can hold a block.
 */
#include "heap_internal.h"
#include "tools.h"

void gjb_ff_add_block(gjb_heap *h, const struct gjb_region *r, char *b, size_t s)
{
    gjb_set_hdr(b, s | GJB_FREE);
    gjb_set_footer(b, s);
    gjb_bit_set(h, r, b);
    gjb_set_flag(b + s, GJB_PREV_FREE);
    gjb_tree_insert(h, b);
    h->free_bytes += s;
    h->free_blocks++;
}

/* Where an aligned payload of need bytes would start in free block b (its
 * header address), or NULL when it does not fit there. */
static char *aligned_spot(char *b, size_t need, size_t align)
{
    uintptr_t start = (uintptr_t)b;
    uintptr_t p = GJB_ROUND_UP(start + GJB_W, align);
    if (p - GJB_W != start && p - GJB_W - start < GJB_MIN_BLOCK)
        p = GJB_ROUND_UP(start + GJB_W + GJB_MIN_BLOCK, align);
    if (p - GJB_W - start + need > gjb_size(b))
        return NULL;
    return b + (p - GJB_W - start);
}

/* Allocates [at, at+need) from free block b: what lies before `at` stays
 * free in b's place, what lies after becomes a free block if it can. */
static void carve(gjb_heap *h, char *b, char *at, size_t need)
{
    const struct gjb_region *r = gjb_region_of(h, b);
    size_t s = gjb_size(b), lead = (size_t)(at - b), tail = s - lead - need;
    char *t;

    if (tail < GJB_MIN_BLOCK) {
        need += tail;
        tail = 0;
    }
    t = at + need;
    if (lead == 0 && tail) { /* the common case: b moves up past `need` */
        gjb_tree_move(h, b, t, tail);
        gjb_set_footer(t, tail);
        gjb_bit_set(h, r, t);
        h->free_bytes -= need;
    } else if (lead == 0) {
        gjb_tree_remove(h, b);
        gjb_clear_flag(t, GJB_PREV_FREE);
        h->free_bytes -= s;
        h->free_blocks--;
    } else {
        gjb_tree_resized(h, b, lead);
        gjb_set_footer(b, lead);
        gjb_bit_set(h, r, at);
        h->free_bytes -= s - lead;
        if (tail) {
            gjb_set_hdr(t, tail | GJB_FREE);
            gjb_set_footer(t, tail);
            gjb_bit_set(h, r, t);
            gjb_tree_insert(h, t);
            h->free_bytes += tail;
            h->free_blocks++;
        } else {
            gjb_clear_flag(t, GJB_PREV_FREE);
        }
    }
    gjb_set_hdr(at, need | (lead ? GJB_PREV_FREE : 0));
    h->alloc_blocks++;
}

int gjb_ff_alloc(gjb_heap *h, size_t need, size_t align, char **out)
{
    char *b = gjb_tree_first_fit(h, need), *at = b;

    if (align > GJB_G) {
        at = b ? aligned_spot(b, need, align) : NULL;
        if (!at) {
            size_t slack = GJB_MIN_BLOCK + align - GJB_G;
            if (need > SIZE_MAX - slack)
                return GJB_E_NOMEM;
            b = gjb_tree_first_fit(h, need + slack);
            at = b ? aligned_spot(b, need, align) : NULL;
        }
    }
    if (!at)
        return GJB_E_NOMEM;
    carve(h, b, at, need);
    if (align > GJB_G)
        gjb_set_flag(at, GJB_ALIGNED);
    *out = at;
    return GJB_OK;
}

void gjb_ff_free(gjb_heap *h, const struct gjb_region *r, char *b)
{
    size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
    char *next = b + s;
    size_t ns = gjb_is_free(next) ? gjb_size(next) : 0;

    h->alloc_blocks--;
    h->free_bytes += s;
    if (hd & GJB_PREV_FREE) { /* grow the block before over b (and next) */
        char *p = b - gjb_hdr(b - GJB_W);
        gjb_bit_clear(h, r, b);
        if (ns) {
            gjb_tree_remove(h, next);
            gjb_bit_clear(h, r, next);
            h->free_blocks--;
        } else {
            gjb_set_flag(next, GJB_PREV_FREE);
        }
        size_t ps = gjb_size(p) + s + ns;
        gjb_tree_resized(h, p, ps);
        gjb_set_footer(p, ps);
    } else if (ns) { /* next's node moves down to b */
        gjb_tree_move(h, next, b, s + ns);
        gjb_bit_clear(h, r, next);
        gjb_set_footer(b, s + ns);
    } else {
        gjb_set_hdr(b, s | GJB_FREE);
        gjb_set_footer(b, s);
        gjb_set_flag(next, GJB_PREV_FREE);
        gjb_tree_insert(h, b);
        h->free_blocks++;
    }
}

/* Cuts allocated block b down to need bytes and frees the tail, if the tail
 * can be a block. */
static void shrink(gjb_heap *h, const struct gjb_region *r, char *b, size_t need)
{
    size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
    if (s - need < GJB_MIN_BLOCK)
        return;
    gjb_set_hdr(b, need | (hd & GJB_FLAGS));
    gjb_set_hdr(b + need, s - need);
    gjb_bit_set(h, r, b + need);
    h->alloc_blocks++;
    gjb_ff_free(h, r, b + need);
}

/* Grows allocated block b into its free right neighbour (s + ns >= need). */
static void grow_right(gjb_heap *h, const struct gjb_region *r, char *b, size_t need)
{
    size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
    char *next = b + s;
    size_t ns = gjb_size(next), rest = s + ns - need;

    gjb_bit_clear(h, r, next);
    if (rest >= GJB_MIN_BLOCK) {
        gjb_tree_move(h, next, b + need, rest);
        gjb_set_footer(b + need, rest);
        gjb_bit_set(h, r, b + need);
        h->free_bytes -= ns - rest;
        s = need;
    } else {
        gjb_tree_remove(h, next);
        gjb_clear_flag(next + ns, GJB_PREV_FREE);
        h->free_bytes -= ns;
        h->free_blocks--;
        s += ns;
    }
    gjb_set_hdr(b, s | (hd & GJB_FLAGS));
}

/* Grows allocated block b over its free left neighbour (and its free right
 * neighbour, if any), moving the contents down. Returns the block's new
 * header, or NULL if it cannot. */
static char *grow_left(gjb_heap *h, const struct gjb_region *r, char *b, size_t need)
{
    size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
    char *p = b - gjb_hdr(b - GJB_W), *next = b + s;
    size_t ps = gjb_size(p), ns = gjb_is_free(next) ? gjb_size(next) : 0;
    size_t align = (hd & GJB_ALIGNED) ? gjb_kept_align(h, b + GJB_W) : GJB_G;
    char *end = next + ns;

    if (ps + s + ns < need)
        return NULL;
    uintptr_t at = (((uintptr_t)(end - need) + GJB_W) & ~(uintptr_t)(align - 1)) - GJB_W;
    if (at < (uintptr_t)p)
        return NULL;
    size_t gap = (size_t)(at - (uintptr_t)p);
    if (gap && gap < GJB_MIN_BLOCK) {
        if (((uintptr_t)p + GJB_W) & (align - 1))
            return NULL;
        gap = 0;
    }
    char *nb = p + gap;

    if (ns) {
        gjb_tree_remove(h, next);
        gjb_bit_clear(h, r, next);
        gjb_clear_flag(end, GJB_PREV_FREE);
        h->free_bytes -= ns;
        h->free_blocks--;
    }
    if (gap) {
        gjb_tree_resized(h, p, gap);
        gjb_set_footer(p, gap);
        gjb_bit_set(h, r, nb);
        h->free_bytes -= ps - gap;
    } else {
        gjb_tree_remove(h, p);
        h->free_bytes -= ps;
        h->free_blocks--;
    }
    gjb_bit_clear(h, r, b);
    gjb_tool_move(nb + GJB_W, b + GJB_W, s - GJB_W);
    memmove(nb + GJB_W, b + GJB_W, s - GJB_W);
    gjb_set_hdr(nb, (size_t)(end - nb) | (hd & GJB_ALIGNED) | (gap ? GJB_PREV_FREE : 0));
    shrink(h, r, nb, need);
    return nb;
}

int gjb_ff_resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t need, char **out)
{
    size_t hd = gjb_hdr(b), s = hd & ~GJB_FLAGS;
    char *next = b + s;

    *out = b;
    if (need <= s) {
        shrink(h, r, b, need);
        return GJB_OK;
    }
    if (gjb_is_free(next) && s + gjb_size(next) >= need) {
        grow_right(h, r, b, need);
        return GJB_OK;
    }
    if ((hd & GJB_PREV_FREE) && (*out = grow_left(h, r, b, need)) != NULL)
        return GJB_OK;
    *out = b;
    return GJB_E_NOMEM;
}
