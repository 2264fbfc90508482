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
 * linked list k (links: offsets inside the free block); bit k of the
 * descriptor's `map` is set while list k is not empty; the list heads are
 * the descriptor's `lists`.
 */
#ifndef GJB_BUDDY_H
#define GJB_BUDDY_H

#include "heap_internal.h"

#define GJB_BU (2 * GJB_G) /* smallest block: 32 bytes on LP64 */
#define BD_ORDERS 48u       /* orders 0 .. 47 */
#define BD_TAG_FREE 0x80u
#define BD_TAG_ALIGNED 0x40u
#define BD_ORDER_MASK 0x3fu
_Static_assert(BD_ORDERS <= BD_ORDER_MASK && BD_ORDERS <= 64, "an order fits a tag and the map");

static inline size_t bd_size(unsigned k)
{
    return GJB_BU << k;
}

static inline unsigned char bd_free_tag(unsigned k)
{
    return (unsigned char)(BD_TAG_FREE | (k + 1));
}

static inline unsigned char *bd_tag(const gjb_heap *h, const struct gjb_region *r, intptr_t off)
{
    return (unsigned char *)gjb_ptr(h, r->end) + (size_t)(off - r->first) / GJB_BU;
}

static inline intptr_t *bd_heads(const gjb_heap *h)
{
    return (intptr_t *)h->lists;
}

size_t gjb_bd_block_for(size_t size, size_t align);
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
int gjb_bd_validate_lists(const gjb_heap *h, size_t *count, size_t *bytes);

#endif
