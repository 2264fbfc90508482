/*
 * heap_internal.h - the block vocabulary shared by the heap engine's files.
 *
 * Memory of one region:
 *
 *   [heap descriptor (first region only)] [pad] [block][block]...[block]
 *   [end sentinel word] [block-start bitmap] [pad]
 *
 * A block starts with a one-word header: its size (a multiple of GJB_G,
 * header included) or'ed with flags. Its payload follows the header and is
 * aligned to GJB_G. A free block also holds a tree node right after its
 * header and a footer (its size) in its last word, so that the block after
 * it can find it. The end sentinel is a header of size 0 that reads as
 * allocated, so no block ever merges past the end of its region.
 *
 * The bitmap has one bit per granule of the block area (and the sentinel):
 * set exactly where a block starts. It lets the engine prove that a pointer
 * it is handed is the start of a block without trusting anything the
 * application could have written.
 *
 * Every link is an offset from the heap descriptor (0 = none), so a heap
 * works at whatever address its memory is mapped.
 */
#ifndef GJB_HEAP_INTERNAL_H
#define GJB_HEAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gjbmem/heap.h"

#define GJB_G ((size_t)_Alignof(max_align_t)) /* granule, payload alignment */
#define GJB_W (sizeof(size_t))                /* header size */

#define GJB_FREE ((size_t)1)      /* this block is free */
#define GJB_PREV_FREE ((size_t)2) /* the block before this one is free */
#define GJB_RED ((size_t)4)       /* free block: red tree node */
#define GJB_ALIGNED ((size_t)4)   /* allocated block: placed by memalign */
#define GJB_FLAGS ((size_t)7)

#define GJB_MAGIC 0x676a626dU

/* Tree node kept in a free block's payload (see fftree.c). */
struct gjb_node {
    intptr_t parent;
    intptr_t link[2]; /* left (lower addresses), right */
    size_t max;       /* largest block size in this subtree */
};

#define GJB_ROUND_UP(x, a) (((x) + (a) - 1) & ~((a) - 1))
#define GJB_MIN_BLOCK GJB_ROUND_UP(2 * GJB_W + sizeof(struct gjb_node), GJB_G)

/* A region, as offsets from the heap descriptor. */
struct gjb_region {
    intptr_t lo, hi;    /* the memory handed in: [lo, hi) */
    intptr_t first;     /* header of the first block */
    intptr_t end;       /* the end sentinel; the bitmap follows it */
};

struct gjb_heap {
    uint32_t magic;
    uint16_t policy;
    uint16_t max_regions;
    uint32_t nregions;
    uint32_t hdr;           /* header bytes per block: GJB_W, or 0 (buddy) */
    intptr_t root;          /* first fit: the free-block tree */
    uint64_t bd_mask;       /* buddy: bit k set while free list k is non-empty */
    intptr_t bd_lists;      /* buddy: the GJB_BD_ORDERS list heads */
    size_t total;           /* bytes handed to the heap */
    size_t free_bytes;      /* sum of free block sizes, headers included */
    size_t free_blocks;
    size_t alloc_blocks;
    size_t maxused;
    size_t failed;
    size_t peak_request;
    size_t max_block;       /* largest block any region could hold */
    size_t max_align;       /* largest alignment memalign was asked for */
    struct gjb_region region[]; /* sorted by address */
};

/* --- offsets and headers ------------------------------------------------ */

static inline char *gjb_ptr(const gjb_heap *h, intptr_t off)
{
    return (char *)h + off;
}

static inline intptr_t gjb_off(const gjb_heap *h, const void *b)
{
    return (const char *)b - (const char *)h;
}

static inline size_t gjb_hdr(const char *b)
{
    size_t v;
    memcpy(&v, b, sizeof v);
    return v;
}

static inline void gjb_set_hdr(char *b, size_t v)
{
    memcpy(b, &v, sizeof v);
}

static inline size_t gjb_size(const char *b)
{
    return gjb_hdr(b) & ~GJB_FLAGS;
}

static inline bool gjb_is_free(const char *b)
{
    return (gjb_hdr(b) & GJB_FREE) != 0;
}

static inline void gjb_set_flag(char *b, size_t f)
{
    gjb_set_hdr(b, gjb_hdr(b) | f);
}

static inline void gjb_clear_flag(char *b, size_t f)
{
    gjb_set_hdr(b, gjb_hdr(b) & ~f);
}

/* Writes the footer of free block b of size s. */
static inline void gjb_set_footer(char *b, size_t s)
{
    gjb_set_hdr(b + s - GJB_W, s);
}

/* Free payload bytes: free block sizes less their headers. */
static inline size_t gjb_free_payload(const gjb_heap *h)
{
    return h->free_bytes - h->free_blocks * h->hdr;
}

static inline void gjb_note_used(gjb_heap *h)
{
    size_t used = h->total - gjb_free_payload(h);
    if (used > h->maxused)
        h->maxused = used;
}

/* The alignment an aligned block at payload p keeps when it is resized:
 * the largest power of two dividing p, but no more than any alignment the
 * heap was ever asked for (so at least the one this block was asked for). */
static inline size_t gjb_kept_align(const gjb_heap *h, const void *p)
{
    uintptr_t u = (uintptr_t)p;
    size_t natural = (size_t)(u & (~u + 1));
    return natural < h->max_align ? natural : h->max_align;
}

/* --- the block-start bitmap -------------------------------------------- */

static inline unsigned char *gjb_bitmap(const gjb_heap *h, const struct gjb_region *r)
{
    return (unsigned char *)gjb_ptr(h, r->end) + GJB_W;
}

static inline size_t gjb_bit(const struct gjb_region *r, intptr_t off)
{
    return (size_t)(off - r->first) / GJB_G;
}

static inline bool gjb_bit_test(const gjb_heap *h, const struct gjb_region *r, const char *b)
{
    size_t i = gjb_bit(r, gjb_off(h, b));
    return (gjb_bitmap(h, r)[i >> 3] >> (i & 7)) & 1;
}

static inline void gjb_bit_set(const gjb_heap *h, const struct gjb_region *r, const char *b)
{
    size_t i = gjb_bit(r, gjb_off(h, b));
    gjb_bitmap(h, r)[i >> 3] |= (unsigned char)(1u << (i & 7));
}

static inline void gjb_bit_clear(const gjb_heap *h, const struct gjb_region *r, const char *b)
{
    size_t i = gjb_bit(r, gjb_off(h, b));
    gjb_bitmap(h, r)[i >> 3] &= (unsigned char)~(1u << (i & 7));
}

/* --- shared engine services (heap.c) ------------------------------------ */

/* The region whose block area holds offset off, or NULL. O(log r). */
static inline const struct gjb_region *gjb_region_at(const gjb_heap *h, intptr_t off)
{
    uint32_t lo = 0, hi = h->nregions; /* the last region starting <= off */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (h->region[mid].first <= off)
            lo = mid;
        else
            hi = mid;
    }
    const struct gjb_region *r = &h->region[lo];
    return off >= r->first && off < r->end ? r : NULL;
}

/* The region whose block area holds address b, or NULL. O(log r). */
static inline const struct gjb_region *gjb_region_of(const gjb_heap *h, const void *b)
{
    return gjb_region_at(h, gjb_off(h, b));
}

/* Block size for a request of size bytes, or 0 on overflow. */
static inline size_t gjb_block_size(size_t size)
{
    if (size > SIZE_MAX - GJB_W - GJB_G)
        return 0;
    size_t s = GJB_ROUND_UP(size + GJB_W, GJB_G);
    return s < GJB_MIN_BLOCK ? GJB_MIN_BLOCK : s;
}

/* --- first-fit policy (firstfit.c) -------------------------------------- */

int gjb_ff_layout(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi);
void gjb_ff_add_area(gjb_heap *h, const struct gjb_region *r);
bool gjb_ff_check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc);
char *gjb_ff_block_containing(const gjb_heap *h, const struct gjb_region *r, intptr_t off);
int gjb_ff_check(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp);
void gjb_ff_add_block(gjb_heap *h, const struct gjb_region *r, char *b, size_t s);
int gjb_ff_alloc(gjb_heap *h, size_t need, size_t align, char **out);
void gjb_ff_free(gjb_heap *h, const struct gjb_region *r, char *b);
int gjb_ff_resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t need, char **out);
int gjb_ff_validate(const gjb_heap *h);

/* --- the address-ordered free-block tree (fftree.c) --------------------- */

static inline struct gjb_node *gjb_node(const gjb_heap *h, intptr_t off)
{
    return (struct gjb_node *)(void *)(gjb_ptr(h, off) + GJB_W);
}

void gjb_tree_insert(gjb_heap *h, char *b);
void gjb_tree_remove(gjb_heap *h, char *b);
void gjb_tree_move(gjb_heap *h, char *from, char *to, size_t new_size);
void gjb_tree_resized(gjb_heap *h, char *b, size_t new_size);
char *gjb_tree_first_fit(const gjb_heap *h, size_t need);
size_t gjb_tree_max(const gjb_heap *h);
int gjb_tree_validate(const gjb_heap *h, size_t *count, size_t *bytes);

/* --- buddy policy (buddy.c) --------------------------------------------- */

#define GJB_BU (2 * GJB_G)  /* smallest buddy block; blocks are GJB_BU << order */
#define GJB_BD_ORDERS 48    /* orders 0 .. 47 */

/* Buddy tag of a block-area unit (one byte per GJB_BU bytes, kept at the
 * region's end): 0 inside a block, otherwise order + 1, or'ed with
 * GJB_TAG_FREE for a free block, or with GJB_TAG_ALIGNED for an allocated
 * block memalign placed (whose alignment realloc must keep). */
#define GJB_TAG_FREE 0x80u
#define GJB_TAG_ALIGNED 0x40u /* allocated block placed by memalign */

/* Buddy block for size bytes aligned to align: the smallest power of two
 * that holds both, at least GJB_BU; 0 on overflow. */
static inline size_t gjb_bd_block_for(size_t size, size_t align)
{
    size_t n = size > align ? size : align;
    if (n <= GJB_BU)
        return GJB_BU;
    if (n > SIZE_MAX / 2 + 1)
        return 0;
    return (size_t)1 << (64 - __builtin_clzll((unsigned long long)(n - 1)));
}

int gjb_bd_layout(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi);
size_t gjb_bd_meta_bytes(const struct gjb_region *r);
void gjb_bd_add_area(gjb_heap *h, const struct gjb_region *r);
size_t gjb_bd_largest(const gjb_heap *h, const struct gjb_region *r);
char *gjb_bd_block_containing(const gjb_heap *h, const struct gjb_region *r, intptr_t off);
int gjb_bd_check(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp);
int gjb_bd_alloc(gjb_heap *h, size_t block, bool aligned, char **out);
bool gjb_bd_aligned(const gjb_heap *h, const char *b);
void gjb_bd_free(gjb_heap *h, const struct gjb_region *r, char *b);
int gjb_bd_free_ptr(gjb_heap *h, void *p);
int gjb_bd_resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t block);
size_t gjb_bd_size(const gjb_heap *h, const struct gjb_region *r, const char *b, bool *is_free);
size_t gjb_bd_max(const gjb_heap *h);
bool gjb_bd_check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc);
int gjb_bd_validate_lists(const gjb_heap *h, size_t *count, size_t *bytes);

#endif
