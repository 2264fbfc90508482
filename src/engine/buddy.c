/*
 * buddy.c - the BUDDY policy: a binary buddy system.
 *
 * A block of order k is GJB_BU << k bytes and starts at an address that is
 * a multiple of its size, so its buddy is at (address ^ size). A region's
 * block area is carved into the largest such blocks that fit, in address
 * order. Blocks carry no header: every unit of GJB_BU bytes has a tag byte
 * after the block area (buddy.h), so a 4096-byte request gets
 * exactly a 4096-byte, 4096-aligned block, and a pointer is proven to be an
 * allocated block start from the tags alone.
 *
 * Free blocks of order k sit on doubly linked list k (last in, first out;
 * the links are offsets kept inside the free block; the first block's back
 * link is not kept, so that taking it writes nothing into the next one),
 * and bit k of `map`
 * is set while list k is not empty: an allocation finds its list with one
 * bit scan, splits at most log2(size) times, and a free merges at most as
 * often. The links inside free blocks are memory a buggy application can
 * overwrite after a free, so each one is checked against the tags before it
 * is followed; a damaged list is refused, never written through.
 */
#include "buddy.h"

static inline unsigned order_of(size_t block)
{
    size_t u = block / GJB_BU;
    return sizeof u <= sizeof(uint32_t) ? gjb_ctz32((uint32_t)u) : gjb_ctz64((uint64_t)u);
}

/* True when off is the start of a free block of order k (by its tag). */
static inline bool free_block_at(const gjb_heap *h, intptr_t off, unsigned k)
{
    const struct gjb_region *r = gjb_region_of(h, off);
    return r && (size_t)(off - r->first) % GJB_BU == 0 && *bd_tag(h, r, off) == bd_free_tag(k);
}

/* True when the links of free block off (order k) agree with their
 * neighbours on list k, so that unlinking it writes only into free blocks.
 * The first block of a list has no back link (buddy.h): unlinking it
 * writes its next offset into the head and nothing through it; its next
 * block must still be one of the list, as for an allocation
 * (gjb_bd_alloc). Out of line: only merging and resizing need it. */
static GJB_NOINLINE bool links_ok(const gjb_heap *h, intptr_t off, unsigned k)
{
    const struct bd_node *n = bd_node(h, off);
    if (bd_heads(h)[k] == off)
        return !n->next || free_block_at(h, n->next, k);
    if (n->next && (!free_block_at(h, n->next, k) || bd_node(h, n->next)->prev != off))
        return false;
    return free_block_at(h, n->prev, k) && bd_node(h, n->prev)->next == off;
}

/* Puts block b (order k) on list k and tags it free. The caller counts it.
 * The block it goes in front of gets its back link. */
static inline void push(gjb_heap *h, const struct gjb_region *r, char *b, unsigned k)
{
    intptr_t *head = bd_heads(h), off = gjb_off(h, b);
    GJB_STEP();
    bd_node(h, off)->next = head[k];
    if (head[k]) {
        GJB_STEP();
        bd_node(h, head[k])->prev = off;
    }
    head[k] = off;
    h->map |= 1ULL << k;
    bd_set_tag(bd_tag(h, r, off), bd_free_tag(k));
}

/* Takes free block off (order k, links checked) off its list; its tag and
 * the counters are the caller's to update. */
static void unlink_block(gjb_heap *h, intptr_t off, unsigned k)
{
    struct bd_node *n = bd_node(h, off);
    GJB_STEP();
    if (bd_heads(h)[k] == off) {
        bd_heads(h)[k] = n->next; /* the next block is first now: no back link */
    } else {
        bd_node(h, n->prev)->next = n->next;
        GJB_STEP();
        if (n->next)
            bd_node(h, n->next)->prev = n->prev;
    }
    if (!bd_heads(h)[k])
        h->map &= ~(1ULL << k);
}

/* Offset of the buddy of the block of s bytes at off (address ^ s). */
static inline intptr_t buddy_of(const gjb_heap *h, intptr_t off, size_t s)
{
    return ((uintptr_t)gjb_ptr(h, off) & s) ? off - (intptr_t)s : off + (intptr_t)s;
}

/* --- regions ------------------------------------------------------------ */

int gjb_bd_place(gjb_heap *h, size_t size, size_t align, void **out)
{
    size_t block = gjb_bd_block_for(size, align);
    if (!block || block > h->max_block)
        return GJB_E_TOOBIG;
    int st = gjb_bd_alloc(h, block, align > GJB_G, out);
    if (st == GJB_OK)
        gjb_note_used(h);
    return st;
}

size_t gjb_bd_block_for(size_t size, size_t align)
{
    size_t n = size > align ? size : align;
    if (n <= GJB_BU)
        return GJB_BU;
    if (n > SIZE_MAX / 2 + 1)
        return 0;
    return (size_t)1 << (gjb_log2(n - 1) + 1);
}

int gjb_bd_layout(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi,
                  size_t extra, intptr_t *extra_off)
{
    uintptr_t first = GJB_ROUND_UP(area, GJB_BU);
    size_t tables = extra ? extra + GJB_G : 0; /* after the tags, rounded up to a granule */
    if (first < area || first >= hi || hi - first < tables + GJB_BU + 1)
        return GJB_E_SMALL;
    size_t units = ((size_t)(hi - first) - tables) / (GJB_BU + 1); /* tag + unit each */
    if (units == 0)
        return GJB_E_SMALL;
    r->first = (intptr_t)(first - (uintptr_t)h);
    r->end = r->first + (intptr_t)(units * GJB_BU);
    if (extra_off)
        *extra_off = (intptr_t)(GJB_ROUND_UP(first + units * GJB_BU + units, GJB_G) - (uintptr_t)h);
    return GJB_OK;
}

/* Order of the block a carving of [off, end) puts at off: the largest
 * that is aligned there and fits before end. */
static unsigned carve_order(const gjb_heap *h, intptr_t off, intptr_t end)
{
    uintptr_t a = (uintptr_t)gjb_ptr(h, off);
    size_t room = (size_t)(end - off);
    unsigned k = 0;
    while (k + 1 < BD_ORDERS && (room >> (k + 1)) >= GJB_BU && !(a & bd_size(k)))
        k++;
    return k;
}

/* Carves [from, to) of region r (tags zero) into the largest aligned
 * blocks that fit, in address order, and lists them as free blocks so
 * that each list's lowest block comes first: a new heap fills from its low
 * end. No two of them are free buddies of one order. */
static void carve(gjb_heap *h, const struct gjb_region *r, intptr_t from, intptr_t to)
{
    intptr_t at[2 * BD_ORDERS]; /* the carving rises and then falls in order */
    unsigned order[2 * BD_ORDERS], n = 0;
    for (intptr_t off = from; off < to && n < 2 * BD_ORDERS; n++) {
        order[n] = carve_order(h, off, to);
        at[n] = off;
        off += (intptr_t)bd_size(order[n]);
    }
    while (n--) {
        push(h, r, gjb_ptr(h, at[n]), order[n]);
        h->segments++;
        h->free += bd_size(order[n]);
    }
}

void gjb_bd_add_area(gjb_heap *h, const struct gjb_region *r)
{
    memset(bd_tag(h, r, r->first), 0, bd_units(r));
    carve(h, r, r->first, r->end);
}

size_t gjb_bd_largest(const gjb_heap *h, const struct gjb_region *r)
{
    size_t m = 0;
    for (intptr_t off = r->first; off < r->end;) {
        size_t s = bd_size(carve_order(h, off, r->end));
        if (s > m)
            m = s;
        off += (intptr_t)s;
    }
    return m;
}

/* --- pointer checks ----------------------------------------------------- */

/* Proves that p is an allocated block of h: *rp its region, *tp its tag. */
static inline int check(const gjb_heap *h, const void *p, const struct gjb_region **rp,
                        unsigned char **tp)
{
    intptr_t off = gjb_off(h, p);
    const struct gjb_region *r = gjb_region_of(h, off);
    if (!r || (size_t)(off - r->first) % GJB_BU)
        return GJB_E_BADPTR;
    unsigned char *t = bd_tag(h, r, off);
    if (*t == 0 || (*t & BD_TAG_FREE))
        return GJB_E_BADPTR;
    if (!bd_allocated_bytes(*t, (uintptr_t)p, (size_t)(r->end - off)))
        return GJB_E_CORRUPT;
    *rp = r;
    *tp = t;
    return GJB_OK;
}

int gjb_bd_check(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp)
{
    unsigned char *t;
    int st = check(h, p, rp, &t);
    if (st == GJB_OK)
        *bp = (char *)p;
    return st;
}

/* --- allocation and free ------------------------------------------------ */

/* Splits free block b of order j (already off its list) down to order k:
 * the upper halves go on their lists. */
static GJB_NOINLINE void split(gjb_heap *h, const struct gjb_region *r, char *b, unsigned j, unsigned k)
{
    h->segments += j - k;
    while (j > k) {
        j--;
        push(h, r, b + bd_size(j), j);
    }
}

int gjb_bd_alloc(gjb_heap *h, size_t block, bool aligned, void **out)
{
    unsigned k = order_of(block);
    uint64_t m = h->map >> k;
    if (!m)
        return GJB_E_NOMEM;
    unsigned j = k + gjb_ctz64(m);
    intptr_t *head = bd_heads(h), off = head[j];
    const struct gjb_region *r = gjb_region_of(h, off);
    if (!r || (size_t)(off - r->first) % GJB_BU) /* the head must be a unit's start */
        return GJB_E_CORRUPT;
    unsigned char *t = bd_tag(h, r, off);
    intptr_t next = bd_node(h, off)->next;
    if (*t != bd_free_tag(j) || (next && !free_block_at(h, next, j)))
        return GJB_E_CORRUPT; /* a damaged list is refused, never followed */
    head[j] = next; /* (first now: its back link is not kept) */
    GJB_STEP();
    if (!next)
        h->map &= ~(1ULL << j);
    if (j > k)
        split(h, r, gjb_ptr(h, off), j, k);
    bd_set_tag(t, (k + 1) | (aligned ? BD_TAG_ALIGNED : 0));
    h->alloc_blocks++;
    h->free -= bd_size(k);
    *out = gjb_ptr(h, off);
    return GJB_OK;
}

/* Frees the block of order k at off (tag *t) and merges it with its buddy
 * as long as that is free and whole. Inlined into both callers: it is the
 * whole common path of a free. */
static GJB_ALWAYS_INLINE void release(gjb_heap *h, const struct gjb_region *r,
                                                          intptr_t off, unsigned char *t)
{
    unsigned k = (*t & BD_ORDER_MASK) - 1;

    bd_set_tag(t, 0);
    h->alloc_blocks--;
    h->free += bd_size(k);
    for (; k + 1 < BD_ORDERS; k++) {
        size_t s = bd_size(k);
        intptr_t bud = buddy_of(h, off, s);
        if (bud < r->first || bud > r->end - (intptr_t)s)
            break;
        unsigned char *bt = bd_tag(h, r, bud);
        if (*bt != bd_free_tag(k) || !links_ok(h, bud, k))
            break;
        unlink_block(h, bud, k);
        h->segments--;
        bd_set_tag(bt, 0);
        if (bud < off)
            off = bud;
    }
    push(h, r, gjb_ptr(h, off), k);
}

void gjb_bd_release(gjb_heap *h, const struct gjb_region *r, char *b)
{
    intptr_t off = gjb_off(h, b);
    release(h, r, off, bd_tag(h, r, off));
}

int gjb_bd_free(gjb_heap *h, void *p)
{
    const struct gjb_region *r;
    unsigned char *t;
    int st = check(h, p, &r, &t);
    if (st == GJB_OK)
        release(h, r, gjb_off(h, p), t);
    return st;
}

/* True when block off of order k can grow in place to order want: it is
 * the lower buddy at every order up to want, and each upper buddy is free
 * with intact links. */
static bool can_grow(const gjb_heap *h, const struct gjb_region *r, intptr_t off, unsigned k,
                     unsigned want)
{
    if (((uintptr_t)gjb_ptr(h, off) & (bd_size(want) - 1)) || bd_size(want) > (size_t)(r->end - off))
        return false;
    for (unsigned j = k; j < want; j++) {
        intptr_t bud = off + (intptr_t)bd_size(j);
        if (*bd_tag(h, r, bud) != bd_free_tag(j) || !links_ok(h, bud, j))
            return false;
    }
    return true;
}

int gjb_bd_resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t block)
{
    intptr_t off = gjb_off(h, b);
    unsigned char *t = bd_tag(h, r, off);
    unsigned k = (*t & BD_ORDER_MASK) - 1, want = order_of(block);

    if (want <= k) {
        while (k > want) {
            k--;
            push(h, r, b + bd_size(k), k);
            h->segments++;
            h->free += bd_size(k);
        }
    } else if (can_grow(h, r, off, k, want)) {
        for (; k < want; k++) {
            intptr_t bud = off + (intptr_t)bd_size(k);
            unlink_block(h, bud, k);
            bd_set_tag(bd_tag(h, r, bud), 0);
            h->segments--;
            h->free -= bd_size(k);
        }
    } else {
        return GJB_E_NOMEM;
    }
    bd_set_tag(t, (want + 1) | (*t & BD_TAG_ALIGNED));
    return GJB_OK;
}

/* --- queries and validation ------------------------------------------- */

size_t gjb_bd_size(const gjb_heap *h, const struct gjb_region *r, const char *b, bool *is_free)
{
    unsigned t = *bd_tag(h, r, gjb_off(h, b)), k = (t & BD_ORDER_MASK) - 1;
    *is_free = (t & BD_TAG_FREE) != 0;
    return t && k < BD_ORDER_END ? bd_size(k) : 0;
}

size_t gjb_bd_max(const gjb_heap *h)
{
    return h->map ? bd_size(gjb_log2_64(h->map)) : 0;
}

/* Checks one block: tag, alignment, room, interior tags, and (for a free
 * block) that its buddy is not a free block of the same order. */
static bool check_block(const gjb_heap *h, const struct gjb_region *r, intptr_t off, size_t *sz)
{
    unsigned t = *bd_tag(h, r, off), k = (t & BD_ORDER_MASK) - 1;
    bool bad_bits = (t & BD_TAG_FREE) ? (t & BD_TAG_ALIGNED) != 0
                                       : (t & ~(BD_TAG_ALIGNED | BD_ORDER_MASK)) != 0;
    if (t == 0 || bad_bits || k >= BD_ORDER_END)
        return false;
    size_t s = bd_size(k);
    if (((uintptr_t)gjb_ptr(h, off) & (s - 1)) || s > (size_t)(r->end - off))
        return false;
    for (size_t u = 1; u < s / GJB_BU; u++)
        if (*bd_tag(h, r, off + (intptr_t)(u * GJB_BU)))
            return false;
    if (t & BD_TAG_FREE) {
        intptr_t bud = buddy_of(h, off, s);
        if (bud >= r->first && bud <= r->end - (intptr_t)s && *bd_tag(h, r, bud) == t)
            return false; /* two free buddies left unmerged */
    }
    *sz = s;
    return true;
}

/* True when region r's block area and tags are laid out as
 * gjb_bd_layout leaves them: aligned units, the tags inside the region. */
static bool region_sane(const gjb_heap *h, const struct gjb_region *r)
{
    return ((uintptr_t)gjb_ptr(h, r->first)) % GJB_BU == 0 &&
           (r->end - r->first) % (intptr_t)GJB_BU == 0 &&
           (uintptr_t)bd_tag(h, r, r->end) <= (uintptr_t)gjb_ptr(h, r->hi);
}

bool gjb_bd_check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc)
{
    if (!region_sane(h, r))
        return false;
    for (intptr_t off = r->first; off < r->end;) {
        size_t s;
        if (!check_block(h, r, off, &s))
            return false;
        if (*bd_tag(h, r, off) & BD_TAG_FREE) {
            (*nfree)++;
            *free_bytes += s;
        } else {
            (*nalloc)++;
        }
        off += (intptr_t)s;
    }
    return true;
}

int gjb_bd_validate_lists(const gjb_heap *h, size_t most, size_t *count, size_t *bytes)
{
    *count = *bytes = 0;
    for (unsigned k = 0; k < BD_ORDERS; k++) {
        intptr_t prev = 0, off = bd_heads(h)[k];
        if (((h->map >> k) & 1) != (off != 0))
            return GJB_E_CORRUPT;
        for (; off; prev = off, off = bd_node(h, off)->next) {
            if (*count >= most || !free_block_at(h, off, k) ||
                (prev && bd_node(h, off)->prev != prev)) /* (the first has no back link) */
                return GJB_E_CORRUPT;
            (*count)++;
            *bytes += bd_size(k);
        }
    }
    return (h->map >> BD_ORDERS) ? GJB_E_CORRUPT : GJB_OK;
}

char *gjb_bd_block_containing(const gjb_heap *h, const struct gjb_region *r, intptr_t off)
{
    size_t u = (size_t)(off - r->first) / GJB_BU;
    const unsigned char *t = bd_tag(h, r, r->first);
    for (; !t[u]; u--)
        if (u == 0)
            return NULL;
    return gjb_ptr(h, r->first + (intptr_t)(u * GJB_BU));
}

bool gjb_bd_aligned(const gjb_heap *h, const char *b)
{
    const struct gjb_region *r = gjb_region_at(h, gjb_off(h, b));
    return r && (*bd_tag(h, r, gjb_off(h, b)) & BD_TAG_ALIGNED);
}

/* --- repair (src/engine/repair.c) --------------------------------------- */

/* The size of the allocated block whose tag is at off, when that tag is
 * one an allocation or resize leaves (an order that fits at off), else 0. */
static size_t kept_size(const gjb_heap *h, const struct gjb_region *r, intptr_t off)
{
    return bd_allocated_bytes(*bd_tag(h, r, off), (uintptr_t)gjb_ptr(h, off),
                              (size_t)(r->end - off));
}

bool gjb_bd_repair_region(gjb_heap *h, const struct gjb_region *r)
{
    if (!region_sane(h, r))
        return false;
    unsigned char *t = bd_tag(h, r, r->first);
    size_t units = bd_units(r);
    intptr_t gap = r->first; /* where the free stretch before u began */
    for (size_t u = 0; u < units;) {
        intptr_t off = r->first + (intptr_t)(u * GJB_BU);
        size_t s = kept_size(h, r, off);
        if (!s) {
            t[u++] = 0; /* free, or the dead caller's half-made block */
            continue;
        }
        carve(h, r, gap, off);
        h->alloc_blocks++;
        h->segments++;
        memset(t + u + 1, 0, s / GJB_BU - 1); /* a shrink's halves not yet given back */
        u += s / GJB_BU;
        gap = off + (intptr_t)s;
    }
    carve(h, r, gap, r->end);
    return true;
}
