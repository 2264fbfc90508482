/*
 * firstfit.h - the FIRST_FIT policy (private to the engine): segregated
 * first fit over size classes found through bitmaps, O(1) operations.
 *
 * Blocks. A block starts with a one-word header: its size (a multiple of
 * GJB_G, header included) or'ed with flags; its payload follows, aligned to
 * GJB_G. A free block holds the offsets of its class neighbours right after
 * its header (FF_NEXT, FF_PREV) and its size in its last word (the footer,
 * so that the block after it can find it): the smallest block is four
 * words, 32 bytes on LP64 and 16 on ILP32. The end sentinel is a header of
 * size 0 that reads as allocated, so nothing merges past a region's end.
 *
 * Classes. A block of s bytes is in exact class s / GJB_G while s < FF_SMALL
 * (512 bytes on LP64); their first blocks are the descriptor's `lists`, and
 * `small_map` has a bit per non-empty one. Above, each power of two is split
 * into FF_SUB large classes, kept in a table at the descriptor's `classes`
 * offset (which moves to a region added later when more classes are
 * needed): `nlarge` first-block offsets, then one byte per group of eight
 * classes with a bit per non-empty class; `map` has a bit per group with a
 * non-empty class. Finding the smallest non-empty class above another reads
 * at most one word, one byte and one word.
 *
 * Quick lists (Weinstock and Wulf's "quick fit", in front of the classes,
 * in a heap made with GJB_QUICK: docs/DESIGN.md, "Quick lists"). A free of a
 * block under FF_QUICK_LIMIT bytes whose block before is not free and whose
 * block after is allocated (or quick) may set it aside on a quick list of
 * its size (one per granule count, FF_QUICK_N, and per level of alignment
 * for the blocks memalign placed: FF_QUICK_LEVELS) instead of listing it: its
 * header gets FF_QUICK (free and aligned together, which no other block
 * has), it stays proved, and its neighbours keep seeing it allocated (no
 * footer, no FF_PREV_FREE after it), so nothing merges with it. A block
 * memalign placed may be set aside beside free blocks too (ff_free_aligned_in).
 * An allocation of its size takes it back first (from level 0; memalign:
 * the first of the first FF_QUICK_PROBE that is aligned enough on the
 * least aligned level that may hold one, then on level 0). It counts
 * as free in every statistic. The lists hold at most FF_QUICK_CAP blocks
 * (and one per FF_QUICK_PER bytes of the heap when it was made), so they
 * give their blocks back (merged, as a free would) in a bounded time: when
 * an allocation finds nothing else, and when the last allocated block is
 * freed (an empty heap is whole). A heap without quick lists has no room in
 * them and no mark: a free finds them full, an allocation empty.
 *
 * Proof. After each region's end sentinel a bitmap has one bit per granule
 * of the block area, set exactly where an allocated block's payload starts.
 * Free blocks splitting and merging never touch it: an allocation sets one
 * bit, a free clears one.
 */
#ifndef GJB_FIRSTFIT_H
#define GJB_FIRSTFIT_H

#include "heap_internal.h"

#define FF_FREE ((size_t)1)      /* this block is free */
#define FF_PREV_FREE ((size_t)2) /* the block before this one is free */
#define FF_ALIGNED ((size_t)4)   /* allocated block placed by memalign */
#define FF_FLAGS ((size_t)7)
#define FF_QUICK (FF_FREE | FF_ALIGNED) /* on a quick list: free, not merged */
_Static_assert(GJB_G >= 8, "three flag bits below the granule");

#define FF_MIN (4 * GJB_W) /* header, two links, footer */
_Static_assert(FF_MIN % GJB_G == 0 && FF_MIN <= 32, "the smallest block: whole granules, <= 32");

#define FF_EXACT 32u                /* exact classes: sizes below 32 granules */
#define FF_SMALL (FF_EXACT * GJB_G) /* 512 on LP64 */
#define FF_SUB_LOG2 3u              /* large classes per power of two: 8 */
#define FF_SUB (1u << FF_SUB_LOG2)
#define FF_GROUP 8u                 /* large classes per group (a byte of bits) */
_Static_assert(FF_EXACT <= 32, "small_map is 32 bits");

#define FF_QUICK_CAP ((uintptr_t)GJBMEM_FF_QUICK) /* blocks the quick lists hold at most */

/* Where a heap with quick lists keeps their first blocks: right after its
 * descriptor (FF_QUICK_AT is the descriptor's bytes: gjb_descriptor_bytes),
 * FF_QUICK_BYTES. A heap has them when it
 * asked (GJB_QUICK) and holds at least FF_QUICK_MIN bytes: a small heap
 * keeps its bytes for blocks (the manual's 8 KiB partition, over 90 %).
 * A first block is a 32-bit offset from the descriptor in granules
 * (ff_quick), half an intptr_t on LP64: the heads are fixed overhead of
 * every heap with quick lists, and half of them was the last 512 bytes git's
 * trace needed (docs/DESIGN.md, "Quick lists"). So a heap has quick lists
 * only while all its regions lie within FF_QUICK_REACH bytes of its
 * descriptor (ff_quick_reaches). */
#define FF_QUICK_AT GJB_ROUND_UP(sizeof(gjb_heap) + FF_EXACT * sizeof(intptr_t), GJB_G)
#if UINTPTR_MAX > 0xFFFFFFFFu
#define FF_QUICK_N 64u /* quick lists: one per block size below FF_QUICK_LIMIT */
#else
#define FF_QUICK_N 32u
#endif
#define FF_QUICK_LIMIT (FF_QUICK_N * GJB_G)
_Static_assert(FF_QUICK_N >= FF_EXACT, "the quick lists' sizes cover the exact classes'");
/* Quick lists by alignment: level 0 (the plain lists) holds every block
 * but those memalign placed, which go onto level k >= 1 when their payload
 * is aligned to GJB_G << k bytes (the last level: that or more).
 * Plain allocations take from level 0 only; memalign from the least
 * aligned level that is aligned enough. Level k's list of c granules
 * starts at ff_qhead(h, k * FF_QUICK_N + c) (0: empty); a byte per size
 * follows the heads (ff_quick_levels), bit k set while its list of level
 * k >= 1 has a block. */
#define FF_QUICK_LEVELS 5u
#define FF_QUICK_HEADS (FF_QUICK_LEVELS * FF_QUICK_N)
#define FF_QUICK_BYTES GJB_ROUND_UP(FF_QUICK_HEADS * sizeof(int32_t) + FF_QUICK_N, GJB_G)
#define FF_QUICK_REACH ((intptr_t)((uintptr_t)INT32_MAX < (uintptr_t)INTPTR_MAX / GJB_G \
                                       ? (uintptr_t)INT32_MAX * GJB_G                   \
                                       : (uintptr_t)INTPTR_MAX))
_Static_assert(FF_QUICK_LEVELS <= 8, "a byte of levels per size");
#define FF_QUICK_MIN ((size_t)32768)
#define FF_QUICK_PER ((size_t)4096) /* heap bytes per block the lists may hold */

/* Free-block links, right after the header. */
#define FF_NEXT GJB_W
#define FF_PREV (2 * GJB_W)

/* Requests up to this size get an exact class. */
#define FF_FAST_MAX (FF_SMALL - GJB_W - GJB_G)
/* The quick blocks memalign looks at: the first ones of a list, for one
 * whose payload is aligned enough (with a single list per size, before the
 * levels, the aligned workload's pair: 3 blocks 291.9 instructions, 4
 * 291.1, 8 289.7 at M = 100,000). */
#define FF_QUICK_PROBE 4u
/* Requests up to this size may find a block on a quick list. */
#define FF_QUICK_FAST_MAX (FF_QUICK_LIMIT - GJB_W - GJB_G)

static inline size_t ff_size(const char *b)
{
    return gjb_word(b) & ~FF_FLAGS;
}

static inline intptr_t ff_link(const gjb_heap *h, intptr_t b, size_t which)
{
    return (intptr_t)gjb_word(gjb_ptr(h, b) + which);
}

static inline void ff_set_link(const gjb_heap *h, intptr_t b, size_t which, intptr_t v)
{
    gjb_set_word(gjb_ptr(h, b) + which, (size_t)v);
}

/* Class of a block of s bytes (a multiple of GJB_G, at least FF_MIN):
 * exact below FF_EXACT, large from there. */
static inline unsigned ff_class(size_t s)
{
    if (s < FF_SMALL)
        return (unsigned)(s / GJB_G);
    unsigned fl = gjb_log2(s), base = gjb_log2(FF_SMALL);
    return FF_EXACT + ((fl - base) << FF_SUB_LOG2) +
           (unsigned)((s >> (fl - FF_SUB_LOG2)) & (FF_SUB - 1));
}

/* Smallest block size of class c. */
static inline size_t ff_class_floor(unsigned c)
{
    if (c < FF_EXACT)
        return c * GJB_G;
    unsigned k = c - FF_EXACT, fl = gjb_log2(FF_SMALL) + (k >> FF_SUB_LOG2);
    return (size_t)(FF_SUB + (k & (FF_SUB - 1))) << (fl - FF_SUB_LOG2);
}

/* A header's block is free and listed in a class (not on a quick list). */
static inline bool ff_is_free(size_t hd)
{
    return (hd & FF_QUICK) == FF_FREE;
}

/* A header's block is on a quick list. */
static inline bool ff_is_quick(size_t hd)
{
    return (hd & FF_QUICK) == FF_QUICK;
}

/* The quick lists' first blocks (only in a heap that has them), each as
 * the offset of its payload from the descriptor in granules (a "quick
 * index": 0 for none). A block on a quick list holds the next one's quick
 * index as its link word too, so that a pop moves it to the head as it is.
 * (The classes' lists link block offsets instead: a block's offset is not a
 * whole number of granules, its payload's is.) */
static inline int32_t *ff_quick(const gjb_heap *h)
{
    return (int32_t *)(void *)(gjb_ptr(h, 0) + FF_QUICK_AT);
}

/* The block offset of quick index q (not 0). */
static GJB_ALWAYS_INLINE intptr_t ff_qblock(intptr_t q)
{
    return q * (intptr_t)GJB_G - (intptr_t)GJB_W;
}

/* The same where q may be 0 (the end of a list): 0 then. */
static inline intptr_t ff_qblock_or_0(intptr_t q)
{
    return q ? ff_qblock(q) : 0;
}

/* The quick index of block offset b: a block within FF_QUICK_REACH
 * (ff_quick_reaches). (The low 32 bits of the 64-bit unsigned shift of the
 * sign-extended offset are the index in two's complement, which int32_t
 * is, where the offset is negative too; a signed division would cost three
 * instructions more.) */
static GJB_ALWAYS_INLINE int32_t ff_qindex(intptr_t b)
{
    return (int32_t)(uint32_t)((uint64_t)(int64_t)(b + (intptr_t)GJB_W) >> GJB_G_LOG2);
}

/* The block offset of the first block of quick list i (k * FF_QUICK_N + c
 * for level k's list of c granules): 0 when it is empty. */
static inline intptr_t ff_qhead(const gjb_heap *h, unsigned i)
{
    return ff_qblock_or_0(ff_quick(h)[i]);
}

/* The quick index in the link word of the quick block at offset b, as
 * stored (validation checks that it is one: gjb_ff_validate_lists). */
static GJB_ALWAYS_INLINE intptr_t ff_qlink(const gjb_heap *h, intptr_t b)
{
    return (intptr_t)gjb_word(gjb_ptr(h, b) + FF_NEXT);
}

/* The block offset of the block after quick block b on its list: 0 at
 * the end. */
static inline intptr_t ff_qnext(const gjb_heap *h, intptr_t b)
{
    return ff_qblock_or_0(ff_qlink(h, b));
}

/* Whether the offsets [lo, hi) from a heap's descriptor all fit a quick
 * list's first block. */
static inline bool ff_quick_reaches(intptr_t lo, intptr_t hi)
{
    return lo >= -FF_QUICK_REACH && hi <= FF_QUICK_REACH;
}

/* Whether the heap has quick lists (FF_QUICK_HAS), and the number of
 * blocks they may still take: in the slots of the exact classes 0 and 1,
 * which no block is small enough for. Both 0: no quick lists. A target
 * whose smallest block is one granule (i386: 4-byte words, 16-byte
 * granules) has no slot for the room, and no quick lists. */
#define FF_QUICK_OK (GJBMEM_FF_QUICK > 0 && FF_MIN / GJB_G >= 2)
#define FF_QUICK_HAS ((uintptr_t)1)

/* Bits past a block area's proof bits, always 0 (proof_bytes, firstfit.c):
 * in a build with quick lists, one per quick list. */
#define FF_PROOF_PAD (FF_QUICK_OK ? FF_QUICK_N : 0u)

static inline uintptr_t *ff_quick_mark(const gjb_heap *h)
{
    return (uintptr_t *)(void *)(uintptr_t)&h->lists[0];
}

static inline uintptr_t *ff_quick_room(const gjb_heap *h)
{
    return (uintptr_t *)(void *)(uintptr_t)&h->lists[FF_QUICK_OK ? 1 : 0];
}

/* The room left on the quick lists (0 in a heap without them). */
static GJB_ALWAYS_INLINE uintptr_t ff_quick_left(const gjb_heap *h)
{
    return FF_QUICK_OK ? *ff_quick_room(h) : 0;
}

static GJB_ALWAYS_INLINE bool ff_has_quick(const gjb_heap *h)
{
    return FF_QUICK_OK && *ff_quick_mark(h);
}

/* Quick list c of level 0 has a block. */
static GJB_ALWAYS_INLINE bool ff_quick_any(const gjb_heap *h, unsigned c)
{
    return ff_has_quick(h) && ff_quick(h)[c];
}

/* Bit k of byte c: level k >= 1 has a block of c granules. */
static GJB_ALWAYS_INLINE unsigned char *ff_quick_levels(const gjb_heap *h)
{
    return (unsigned char *)(void *)(ff_quick(h) + FF_QUICK_HEADS);
}

/* The level of a payload memalign placed at p (aligned to more than a
 * granule: 1 or more). */
static GJB_ALWAYS_INLINE unsigned ff_quick_level(const char *p)
{
    return gjb_ctz64((uint64_t)(uintptr_t)p | ((uint64_t)GJB_G << (FF_QUICK_LEVELS - 1))) - GJB_G_LOG2;
}

/* The first level memalign looks at for an alignment (a power of two
 * above GJB_G). */
static GJB_ALWAYS_INLINE unsigned ff_quick_level_for(size_t align)
{
    return ff_quick_level((const char *)(uintptr_t)align);
}

static inline intptr_t *ff_large(const gjb_heap *h)
{
    return (intptr_t *)(void *)gjb_ptr(h, h->classes);
}

static inline unsigned char *ff_groups(const gjb_heap *h)
{
    return (unsigned char *)(ff_large(h) + h->nlarge);
}

/* Where class c keeps its first block. */
static inline intptr_t *ff_head(gjb_heap *h, unsigned c)
{
    return c < FF_EXACT ? &h->lists[c] : &ff_large(h)[c - FF_EXACT];
}

/* Class c is not empty any more / is empty now. */
static GJB_ALWAYS_INLINE void ff_mark(gjb_heap *h, unsigned c)
{
    if (c < FF_EXACT) {
        h->small_map |= 1u << c;
        return;
    }
    unsigned k = c - FF_EXACT;
    ff_groups(h)[k / FF_GROUP] |= (unsigned char)(1u << (k % FF_GROUP));
    h->map |= (uint64_t)1 << (k / FF_GROUP);
}

static GJB_ALWAYS_INLINE void ff_unmark(gjb_heap *h, unsigned c)
{
    if (c < FF_EXACT) {
        h->small_map &= ~(1u << c);
        return;
    }
    unsigned k = c - FF_EXACT;
    unsigned char *g = &ff_groups(h)[k / FF_GROUP];
    *g &= (unsigned char)~(1u << (k % FF_GROUP));
    if (!*g)
        h->map &= ~((uint64_t)1 << (k / FF_GROUP));
}

/* Lists free block b (s bytes) in the class whose first block is *head;
 * false when the class was empty (the caller marks it). The order inside a
 * class, measured on real programs' traces (docs/DESIGN.md): exact classes,
 * whose blocks are all alike, last in, first out; a large class keeps the
 * larger block first (b goes first when it is at least as large as the
 * first block, else second), so that its first block, the only one an
 * allocation looks at, fits more often. */
static GJB_ALWAYS_INLINE bool ff_link_in(gjb_heap *h, intptr_t *head, intptr_t b, size_t s)
{
    intptr_t first = *head;
    if (s >= FF_SMALL && first && s < ff_size(gjb_ptr(h, first))) {
        intptr_t second = ff_link(h, first, FF_NEXT);
        ff_set_link(h, b, FF_NEXT, second);
        ff_set_link(h, b, FF_PREV, first);
        ff_set_link(h, first, FF_NEXT, b);
        if (second)
            ff_set_link(h, second, FF_PREV, b);
        return true;
    }
    ff_set_link(h, b, FF_NEXT, first);
    ff_set_link(h, b, FF_PREV, 0);
    *head = b;
    if (!first)
        return false;
    ff_set_link(h, first, FF_PREV, b);
    return true;
}

/* Puts free block b (s bytes) in its class. */
static GJB_ALWAYS_INLINE void ff_push(gjb_heap *h, intptr_t b, size_t s)
{
    unsigned c = ff_class(s);
    if (!ff_link_in(h, ff_head(h, c), b, s))
        ff_mark(h, c);
}

/* Takes b, the first block of class c, out of it. */
static GJB_ALWAYS_INLINE void ff_pop(gjb_heap *h, intptr_t b, unsigned c)
{
    intptr_t next = ff_link(h, b, FF_NEXT);
    *ff_head(h, c) = next;
    if (next)
        ff_set_link(h, next, FF_PREV, 0);
    else
        ff_unmark(h, c);
}

/* Takes free block b (s bytes) out of its class. */
static GJB_ALWAYS_INLINE void ff_unlink(gjb_heap *h, intptr_t b, size_t s)
{
    intptr_t next = ff_link(h, b, FF_NEXT), prev = ff_link(h, b, FF_PREV);
    if (next)
        ff_set_link(h, next, FF_PREV, prev);
    if (prev) {
        ff_set_link(h, prev, FF_NEXT, next);
        return;
    }
    unsigned c = ff_class(s);
    *ff_head(h, c) = next;
    if (!next)
        ff_unmark(h, c);
}

/* --- the proof bitmap ---------------------------------------------------- */

#define FF_WBITS (8 * sizeof(size_t))

/* The proof bitmap of region r: after its end sentinel. */
static inline size_t *ff_proof(const gjb_heap *h, const struct gjb_region *r)
{
    return (size_t *)(void *)(gjb_ptr(h, r->end) + GJB_W);
}

/* Bit of the payload at offset pay (in region r). */
static inline size_t ff_bit(const struct gjb_region *r, intptr_t pay)
{
    return (size_t)(pay - r->first - (intptr_t)GJB_W) / GJB_G;
}

/* True when bit `bit` of proof bitmap w is set. */
static GJB_ALWAYS_INLINE bool ff_bit_set(const size_t *w, size_t bit)
{
    return (w[bit / FF_WBITS] >> (bit % FF_WBITS)) & 1;
}

static inline bool ff_proved(const gjb_heap *h, const struct gjb_region *r, size_t bit)
{
    return ff_bit_set(ff_proof(h, r), bit);
}

/* ff_proved for a reader without the lock (gjb_hot_block). */
static inline bool ff_proved_shared(const gjb_heap *h, const struct gjb_region *r, size_t bit)
{
    return (gjb_load_word(&ff_proof(h, r)[bit / FF_WBITS]) >> (bit % FF_WBITS)) & 1;
}

static GJB_ALWAYS_INLINE void ff_prove(const gjb_heap *h, const struct gjb_region *r, intptr_t pay)
{
    size_t bit = ff_bit(r, pay), *w = &ff_proof(h, r)[bit / FF_WBITS];
    gjb_put(w, *w | (size_t)1 << (bit % FF_WBITS));
}

/* --- the general functions (firstfit.c) --------------------------------- */

size_t gjb_ff_table_bytes(size_t largest);
void gjb_ff_tables_init(gjb_heap *h, intptr_t at, size_t largest);
size_t gjb_ff_table_growth(const gjb_heap *h, size_t largest);
void gjb_ff_tables_move(gjb_heap *h, intptr_t at, size_t largest);
int gjb_ff_layout(const gjb_heap *h, struct gjb_region *r, uintptr_t area, uintptr_t hi,
                  size_t extra, intptr_t *extra_off);
void gjb_ff_add_area(gjb_heap *h, const struct gjb_region *r);
size_t gjb_ff_block_size(size_t size);
bool gjb_ff_quick_flush(gjb_heap *h);
void gjb_ff_quick_init(gjb_heap *h, size_t heap_bytes);
/* Before a region of offsets [lo, hi) joins h, and for its first region
 * once it is made: when a quick index could not reach it
 * (ff_quick_reaches), h gives its quick lists back (a flush: at most
 * FF_QUICK_CAP merges) and has none from then on. */
void gjb_ff_quick_reach(gjb_heap *h, intptr_t lo, intptr_t hi);
int gjb_ff_alloc(gjb_heap *h, size_t size, void **out);
int gjb_ff_memalign(gjb_heap *h, size_t align, size_t size, void **out);
int gjb_ff_check(const gjb_heap *h, const void *p, char **bp, const struct gjb_region **rp);
int gjb_ff_free(gjb_heap *h, void *p);
void gjb_ff_release(gjb_heap *h, const struct gjb_region *r, char *b);
/* The new home of a block realloc moves (size bytes, no alignment beyond
 * GJB_G, its block within max_block): gjb_ff_alloc's block, but a block
 * too large for the quick lists (FF_QUICK_LIMIT bytes or more, which is
 * past the exact classes) is cut from the END of the free block found,
 * whose front stays free (listed). A block that grew by realloc tends to
 * grow again: there it can grow over that front (grow_left) while other
 * allocations cut the front's far end, instead of ending up right behind it
 * (docs/DESIGN.md, "Where realloc moves a block"). O(1), as gjb_ff_alloc. */
int gjb_ff_alloc_moved(gjb_heap *h, size_t size, void **out);
int gjb_ff_resize(gjb_heap *h, const struct gjb_region *r, char *b, size_t need, char **out);
size_t gjb_ff_usable(const char *b);
bool gjb_ff_aligned(const char *b);
size_t gjb_ff_max(const gjb_heap *h);
char *gjb_ff_block_containing(const gjb_heap *h, const struct gjb_region *r, intptr_t off);
size_t gjb_ff_block_at(const gjb_heap *h, const struct gjb_region *r, const char *b, bool *is_free);
bool gjb_ff_check_region(const gjb_heap *h, const struct gjb_region *r, size_t *nfree,
                         size_t *free_bytes, size_t *nalloc);
/* The same as gjb_bd_validate_lists: every class and quick list, at most
 * `most` blocks. */
int gjb_ff_validate_lists(const gjb_heap *h, size_t most, size_t *count, size_t *bytes);

/* --- the hot paths, inlined into heap.c -------------------------------- *
 * The common cases in a few dozen instructions: a small request whose own
 * (exact) class has a block, and a free with no free neighbour to merge.
 * Everything else goes to the general functions. */

/* Allocates the front `need` bytes of b, the first block of class c: the
 * rest stays free when it can form a block. */
static GJB_ALWAYS_INLINE void ff_take(gjb_heap *h, intptr_t b, unsigned c, size_t need)
{
    char *p = gjb_ptr(h, b);
    size_t s = c < FF_EXACT ? c * GJB_G : ff_size(p), rest = s - need;
    ff_pop(h, b, c);
    if (rest >= FF_MIN) {
        char *t = p + need;
        gjb_set_word(t, rest | FF_FREE);
        gjb_set_word(t + rest - GJB_W, rest);
        ff_push(h, b + (intptr_t)need, rest);
        h->free -= need;
        h->segments++;
    } else {
        need = s;
        gjb_set_word(p + s, gjb_word(p + s) & ~FF_PREV_FREE);
        h->free -= s - GJB_W;
    }
    gjb_set_word(p, need);
    ff_prove(h, gjb_region_of(h, b), b + (intptr_t)GJB_W);
    h->alloc_blocks++;
}

/* The out-of-line halves of the hot paths (firstfit.c): a small request
 * (its block: need bytes) whose quick list and exact class are empty; a
 * free whose neighbours need merging, after
 * ff_free_fast checked everything (hd: b's header, nh: the next header). */
int gjb_ff_alloc_miss(gjb_heap *h, size_t need, void **out);
int gjb_ff_free_merge(gjb_heap *h, const struct gjb_region *r, intptr_t b, size_t hd, size_t nh);
int gjb_ff_free_other(gjb_heap *h, void *p);
/* The free of payload p of the hot region's area after ff_free_look said
 * FF_LOOK_MISS or FF_LOOK_ALIGNED (d, hd: its offset and header; aligned:
 * the look said FF_LOOK_ALIGNED, and the block is first set aside if it
 * can be: ff_free_aligned): a proved block with a sane size freed and
 * merged without a second proof (gjb_ff_free_merge checks its
 * neighbours); anything else by gjb_ff_free_other. */
int gjb_ff_free_declined(gjb_heap *h, void *p, size_t d, size_t hd, bool aligned);
void gjb_ff_list_freed(gjb_heap *h, intptr_t b, size_t s);

/* The need (block bytes) of a small request of size bytes. */
static GJB_ALWAYS_INLINE size_t ff_small_need(size_t size)
{
    size_t need = GJB_ROUND_UP(size + GJB_W, GJB_G);
    return need < FF_MIN ? FF_MIN : need;
}

/* The block of `need` bytes (ff_small_need) that is first in its exact
 * class c, allocated. */
static GJB_ALWAYS_INLINE void *ff_take_exact(gjb_heap *h, intptr_t b, size_t need, unsigned c)
{
    char *p = gjb_ptr(h, b); /* an exact class: the block has need bytes */
    intptr_t next = ff_link(h, b, FF_NEXT);
    h->lists[c] = next;
    if (next)
        ff_set_link(h, next, FF_PREV, 0);
    else
        h->small_map &= ~(1u << c);
    gjb_set_word(p + need, gjb_word(p + need) & ~FF_PREV_FREE);
    gjb_set_word(p, need);
    h->free -= need - GJB_W;
    h->alloc_blocks++;
    ff_prove(h, gjb_region_of(h, b), b + (intptr_t)GJB_W);
    gjb_note_used(h);
    return p + GJB_W;
}

/* Quick block b (payload p), just taken off list c: allocated again (it
 * is still proved; its header loses the mark but for `keep`: FF_ALIGNED
 * when memalign takes it, else 0); p. */
static GJB_ALWAYS_INLINE char *ff_quick_retake(gjb_heap *h, char *p, unsigned c, size_t keep)
{
    ++*ff_quick_room(h);
    gjb_set_word(p, gjb_word(p) ^ (FF_QUICK & ~keep));
    h->free -= c * GJB_G - GJB_W;
    h->alloc_blocks++;
    return p;
}

/* Takes b, the first block of quick list c of level k, off it: allocated
 * again (keep: ff_quick_retake's). An emptied list of level 1 or above
 * loses its bit (level 0 has none: the mask is then all ones, and a pop
 * of level 0 pays nothing for it). */
static GJB_ALWAYS_INLINE char *ff_quick_pop_at(gjb_heap *h, intptr_t b, unsigned c, unsigned k,
                                               size_t keep)
{
    intptr_t next = ff_qlink(h, b);
    ff_quick(h)[k * FF_QUICK_N + c] = (int32_t)next;
    if (!next)
        ff_quick_levels(h)[c] &= (unsigned char)~((1u << k) & ~1u);
    return ff_quick_retake(h, gjb_ptr(h, b), c, keep);
}

/* The same on level 0, for an allocation. */
static GJB_ALWAYS_INLINE char *ff_quick_pop(gjb_heap *h, intptr_t b, unsigned c)
{
    return ff_quick_pop_at(h, b, c, 0, 0);
}

/* The first block of quick list c, allocated: its payload. */
static GJB_ALWAYS_INLINE void *ff_take_quick(gjb_heap *h, unsigned c)
{
    char *p = ff_quick_pop(h, ff_qblock(ff_quick(h)[c]), c);
    gjb_note_used(h);
    return p + GJB_W;
}

/* A file whose heaps never have quick lists (the system heap's:
 * sysheap_state.h) defines GJB_NO_QUICK before its includes: the hot paths
 * copied into it (ff_alloc_fast, ff_free_in) leave the lists out, code and
 * branches. */

/* A small request's block from its quick list, or NULL (nothing changed).
 * Its class is need / GJB_G without ff_small_need's floor (classes 0 and 1
 * have no quick list), then with it for the smallest requests. */
static GJB_ALWAYS_INLINE void *ff_take_quick_for(gjb_heap *h, size_t size)
{
    unsigned c = (unsigned)((size + GJB_W + GJB_G - 1) / GJB_G);
    if (GJB_LIKELY(ff_quick_any(h, c)))
        return ff_take_quick(h, c);
    if (GJB_UNLIKELY(c < FF_MIN / GJB_G) && ff_quick_any(h, FF_MIN / GJB_G))
        return ff_take_quick(h, FF_MIN / GJB_G);
    return NULL;
}

/* The hits of ff_alloc_fast alone, for a caller that must not call out on its
 * common path, in two halves that it may place apart: the block of a
 * request from its quick list (ff_quick_hit), or from its exact class
 * (ff_exact_hit, once the first declined); NULL (nothing changed) when
 * there is none. */
static GJB_ALWAYS_INLINE void *ff_quick_hit(gjb_heap *h, size_t size)
{
    if (GJB_UNLIKELY(size - 1 >= FF_QUICK_FAST_MAX))
        return NULL;
    return ff_take_quick_for(h, size);
}

/* The same for memalign (align > GJB_G, a power of two): the first block
 * of the request's quick list on the lowest non-empty level at or above
 * the alignment's (ff_quick_levels) when its payload is aligned enough,
 * marked as memalign's; NULL (nothing changed) otherwise, and for an
 * alignment memalign would refuse or not need. The engine's memalign then
 * looks further (gjb_ff_memalign). The caller does the request's
 * statistics (gjb_heap_memalign's). */
static GJB_ALWAYS_INLINE void *ff_quick_aligned_hit(gjb_heap *h, size_t align, size_t size)
{
    if (GJB_UNLIKELY(size - 1 >= FF_QUICK_FAST_MAX || align <= GJB_G || (align & (align - 1)) ||
                     !ff_has_quick(h)))
        return NULL;
    /* (no floor at FF_MIN: the byte of a size below it is 0, and the engine
     * takes such a request) */
    unsigned c = (unsigned)((size + GJB_W + GJB_G - 1) / GJB_G);
    unsigned k = ff_quick_level_for(align), m = (unsigned)ff_quick_levels(h)[c] >> k;
    if (!m)
        return NULL;
    k += gjb_ctz32(m);
    intptr_t b = ff_qblock(ff_quick(h)[k * FF_QUICK_N + c]);
    char *p = gjb_ptr(h, b) + GJB_W;
    if ((uintptr_t)p & (align - 1))
        return NULL;
    ff_quick_pop_at(h, b, c, k, FF_ALIGNED);
    gjb_note_used(h);
    return p;
}

static GJB_ALWAYS_INLINE void *ff_exact_hit(gjb_heap *h, size_t size)
{
    if (GJB_UNLIKELY(size - 1 >= FF_FAST_MAX))
        return NULL;
    size_t need = ff_small_need(size);
    unsigned c = (unsigned)(need / GJB_G);
    intptr_t b = h->lists[c];
    return GJB_LIKELY(b != 0) ? ff_take_exact(h, b, need, c) : NULL;
}

/* A small request from its quick list or its own exact class; anything
 * else goes out of line. */
static GJB_ALWAYS_INLINE int ff_alloc_fast(gjb_heap *h, size_t size, void **out)
{
#ifndef GJB_NO_QUICK
    void *q = FF_QUICK_OK ? ff_quick_hit(h, size) : NULL;
    if (GJB_LIKELY(q != NULL)) {
        *out = q;
        return GJB_OK;
    }
#endif
    if (GJB_UNLIKELY(size - 1 >= FF_FAST_MAX))
        return gjb_ff_alloc(h, size, out);
    size_t need = ff_small_need(size);
    unsigned c = (unsigned)(need / GJB_G);
    intptr_t b = h->lists[c];
    if (GJB_UNLIKELY(!b))
        return gjb_ff_alloc_miss(h, need, out);
    *out = ff_take_exact(h, b, need, c);
    return GJB_OK;
}

/* Puts the allocated block of payload p (header hd, c granules) first on
 * quick list i (ff_qhead): it stays proved and unmerged,
 * its header marked FF_QUICK (which covers FF_ALIGNED: a block memalign
 * placed loses it when it is taken again). */
static GJB_ALWAYS_INLINE void ff_quick_link(gjb_heap *h, char *p, size_t hd, unsigned c,
                                            unsigned i)
{
    gjb_set_word(p - GJB_W, hd | FF_QUICK);
    gjb_set_word(p, (size_t)(intptr_t)ff_quick(h)[i]); /* (0 while the list is empty) */
    ff_quick(h)[i] = ff_qindex(gjb_off(h, p) - (intptr_t)GJB_W);
    --*ff_quick_room(h);
    h->alloc_blocks--;
    h->free += c * GJB_G - GJB_W;
}

/* The same for a block memalign placed: onto the list of its level. */
static GJB_ALWAYS_INLINE void ff_quick_link_aligned(gjb_heap *h, char *p, size_t hd, unsigned c)
{
    unsigned k = ff_quick_level(p);
    ff_quick_levels(h)[c] |= (unsigned char)(1u << k);
    ff_quick_link(h, p, hd, c, k * FF_QUICK_N + c);
}

/* Either, by the header's FF_ALIGNED. */
static GJB_ALWAYS_INLINE void ff_quick_push(gjb_heap *h, char *p, size_t hd, unsigned c)
{
    if (hd & FF_ALIGNED)
        ff_quick_link_aligned(h, p, hd, c);
    else
        ff_quick_link(h, p, hd, c, c);
}

/* Whether a block memalign placed may be set aside beside free blocks:
 * while more than a quarter of the heap's bytes are free (merging it at
 * once keeps a heap that runs short of memory whole). */
static GJB_ALWAYS_INLINE bool ff_aside_room(const gjb_heap *h)
{
    return h->free > h->total / 4;
}

/* True when the block after the block at bp (s bytes, in region r, room
 * bytes between its end and the region's end: not 0), whose header is nh,
 * is where bp's size says a block starts: a proved block or a whole free
 * block (its footer agrees); and it does not think bp free. Reads only. */
static GJB_ALWAYS_INLINE bool ff_next_ok(const gjb_heap *h, const struct gjb_region *r,
                                         const char *bp, size_t s, size_t nh, size_t room)
{
    size_t ns = nh & ~FF_FLAGS;
    if (nh & FF_PREV_FREE)
        return false;
    if (ff_is_free(nh))
        return ns >= FF_MIN && ns % GJB_G == 0 && ns <= room && gjb_word(bp + s + ns - GJB_W) == ns;
    return ff_proved(h, r, ff_bit(r, gjb_off(h, bp) + (intptr_t)(s + GJB_W)));
}

/* What ff_free_look found. */
enum ff_look {
    FF_LOOK_HIT,     /* the block went onto its quick list */
    FF_LOOK_ALIGNED, /* a block memalign placed (not free, its size a whole
                      * number of granules): ff_free_aligned; *dp, *hdp set */
    FF_LOOK_MISS,    /* any other payload address of the hot region's area
                      * (*dp, *hdp set) that does not go onto a quick list */
    FF_LOOK_OTHER, /* not in the hot region's area (NULL included) */
};

/* The free of payload p when its block goes on a quick list of level 0: an
 * allocated, proved block of the hot region that memalign did not place,
 * under FF_QUICK_LIMIT bytes, after a block that is not free and before a
 * proved one (the bits past the area's end are 0: proof_bytes), not the
 * heap's last allocated block, while the lists have room. FF_LOOK_HIT when
 * it went onto its list; otherwise nothing changed: FF_LOOK_ALIGNED for a
 * block memalign placed (its level's list is chosen out of line),
 * FF_LOOK_MISS for any other block of the hot region's area (for both, the
 * block's offset into the area in *dp, its header in *hdp), FF_LOOK_OTHER
 * outside it. */
static GJB_ALWAYS_INLINE enum ff_look ff_free_look(gjb_heap *h, char *p, size_t *dp, size_t *hdp)
{
    size_t d = (size_t)(gjb_off(h, p) - (intptr_t)GJB_W - h->hot.first);
    if (GJB_UNLIKELY(d >= h->hot_span || d % GJB_G))
        return FF_LOOK_OTHER;
    size_t hd = gjb_word(p - GJB_W), s = hd & ~FF_FLAGS;
    const size_t *proof = ff_proof(h, &h->hot);
    *dp = d;
    *hdp = hd;
    if (GJB_UNLIKELY(hd & (FF_FREE | FF_PREV_FREE | FF_ALIGNED | ((GJB_G - 1) & ~FF_FLAGS))))
        return (hd & (FF_FREE | FF_ALIGNED | ((GJB_G - 1) & ~FF_FLAGS))) == FF_ALIGNED
                   ? FF_LOOK_ALIGNED
                   : FF_LOOK_MISS;
    if (GJB_UNLIKELY(s - FF_MIN >= FF_QUICK_LIMIT - FF_MIN || !ff_quick_left(h) ||
                     h->alloc_blocks == 1 || !ff_bit_set(proof, d / GJB_G) ||
                     !ff_bit_set(proof, (d + s) / GJB_G)))
        return FF_LOOK_MISS;
    ff_quick_link(h, p, hd, (unsigned)(s / GJB_G), (unsigned)(s / GJB_G));
    return FF_LOOK_HIT;
}

/* The free of payload p, a proved block memalign placed (header hd: not
 * free, its size whole granules) at offset d into the block area of region
 * r (area bytes): onto its level's quick list by ff_free_look's other
 * rules, beside free blocks too while ff_aside_room (the block after it
 * proved, or a whole free block: ff_next_ok). True when it went; false,
 * nothing changed, otherwise. After ff_free_look said FF_LOOK_ALIGNED
 * (ff_free_aligned), and from ff_free_in. */
static GJB_ALWAYS_INLINE bool ff_free_aligned_in(gjb_heap *h, const struct gjb_region *r,
                                                 size_t area, char *p, size_t d, size_t hd)
{
    size_t s = hd & ~FF_FLAGS;
    if (s - FF_MIN >= FF_QUICK_LIMIT - FF_MIN || !ff_quick_left(h) || h->alloc_blocks == 1 ||
        !ff_bit_set(ff_proof(h, r), d / GJB_G))
        return false;
    char *bp = p - GJB_W;
    bool beside_free = hd & FF_PREV_FREE;
    if (!ff_bit_set(ff_proof(h, r), (d + s) / GJB_G)) { /* a free block after it? */
        if (s >= area - d) /* (the region's end, or a size past it) */
            return false;
        size_t nh = gjb_word(bp + s);
        if (!ff_is_free(nh) || !ff_next_ok(h, r, bp, s, nh, area - d - s))
            return false;
        beside_free = true;
    }
    if (beside_free && !ff_aside_room(h))
        return false;
    ff_quick_link_aligned(h, p, hd, (unsigned)(s / GJB_G));
    return true;
}

/* The same in the hot region, after ff_free_look said FF_LOOK_ALIGNED for
 * payload p (d, hd). */
static GJB_ALWAYS_INLINE bool ff_free_aligned(gjb_heap *h, char *p, size_t d, size_t hd)
{
    return ff_free_aligned_in(h, &h->hot, h->hot_span, p, d, hd);
}

/* gjb_ff_free_declined's merging half, inline for a caller that must go
 * on after it (mpart.c). */
static GJB_ALWAYS_INLINE int ff_free_missed_at(gjb_heap *h, void *p, size_t d, size_t hd)
{
    size_t s = hd & ~FF_FLAGS;
    intptr_t b = h->hot.first + (intptr_t)d;
    if (GJB_LIKELY(!(hd & (FF_FREE | ((GJB_G - 1) & ~FF_FLAGS))) &&
                   ff_bit_set(ff_proof(h, &h->hot), d / GJB_G) && s >= FF_MIN &&
                   s <= h->hot_span - d))
        return gjb_ff_free_merge(h, &h->hot, b, hd, gjb_word(gjb_ptr(h, b) + s));
    return gjb_ff_free_other(h, p);
}

/* A free of the block b (payload p) at offset d into region r's block area:
 * onto its quick list (ff_free_look's rule), or freed in place when both
 * neighbours are allocated; anything else goes out of line:
 * gjb_ff_free_merge when a neighbour is free, gjb_ff_free otherwise (which
 * tells a bad pointer from damage). */
static GJB_ALWAYS_INLINE int ff_free_in(gjb_heap *h, void *p, const struct gjb_region *r,
                                        intptr_t b, size_t d)
{
    size_t room = (size_t)(r->end - b);
    char *bp = gjb_ptr(h, b);
    size_t hd = gjb_word(bp), s = hd & ~FF_FLAGS;
    size_t *w = &ff_proof(h, r)[d / (GJB_G * FF_WBITS)];
    size_t m = (size_t)1 << (d / GJB_G % FF_WBITS);
    if (GJB_UNLIKELY(!(*w & m) || (hd & FF_FREE) || s < FF_MIN ||
                     s % GJB_G || s > room))
        return gjb_ff_free(h, p);
    /* the next block, if allocated (or quick), must be proved too (or be
     * the sentinel): a damaged size that lands inside a block is refused */
#ifndef GJB_NO_QUICK
    if (ff_quick_left(h) && s < FF_QUICK_LIMIT && !(hd & FF_PREV_FREE) &&
        h->alloc_blocks != 1 && s != room && ff_bit_set(ff_proof(h, r), (d + s) / GJB_G)) {
        ff_quick_push(h, (char *)p, hd, (unsigned)(s / GJB_G));
        return GJB_OK;
    }
#endif
    size_t nh = gjb_word(bp + s);
    if (GJB_UNLIKELY((nh & (FF_FREE | FF_PREV_FREE)) || (hd & FF_PREV_FREE))) {
#ifndef GJB_NO_QUICK
        if ((hd & FF_ALIGNED) && ff_free_aligned_in(h, r, room + d, (char *)p, d, hd))
            return GJB_OK;
#endif
        return gjb_ff_free_merge(h, r, b, hd, nh);
    }
    if (GJB_UNLIKELY(s != room && !ff_bit_set(ff_proof(h, r), (d + s) / GJB_G)))
        return gjb_ff_free(h, p);
    gjb_put(w, *w & ~m);
    gjb_set_word(bp + s, nh | FF_PREV_FREE);
    gjb_set_word(bp, s | FF_FREE);
    gjb_set_word(bp + s - GJB_W, s);
    h->free += s - GJB_W;
    if (GJB_UNLIKELY(!--h->alloc_blocks) || GJB_UNLIKELY(s >= FF_SMALL)) {
        gjb_ff_list_freed(h, b, s);
        return GJB_OK;
    }
    unsigned c = (unsigned)(s / GJB_G);
    if (!ff_link_in(h, &h->lists[c], b, s))
        h->small_map |= 1u << c;
    return GJB_OK;
}

/* A free (p not NULL): the hot region's blocks inline, the other regions'
 * after a search of the region table (gjb_ff_free_other). */
static GJB_ALWAYS_INLINE int ff_free_fast(gjb_heap *h, void *p)
{
    intptr_t b = gjb_off(h, p) - (intptr_t)GJB_W;
    size_t d = (size_t)(b - h->hot.first);
    if (GJB_UNLIKELY(d >= h->hot_span || d % GJB_G))
        return gjb_ff_free_other(h, p);
    return ff_free_in(h, p, &h->hot, b, d);
}

/* gjb_heap_free's FIRST_FIT half: NULL refused (GJB_E_INVAL). In a heap
 * whose quick lists have room, only ff_free_look is inline (then
 * gjb_ff_free_declined, or gjb_ff_free_other outside the hot region): with
 * the in-place free beside it, its registers cost the common case a stack
 * frame. */
static GJB_ALWAYS_INLINE int ff_free_entry(gjb_heap *h, void *p)
{
#ifndef GJB_NO_QUICK
    if (ff_quick_left(h)) {
        size_t d, hd;
        enum ff_look look = ff_free_look(h, (char *)p, &d, &hd);
        if (GJB_LIKELY(look == FF_LOOK_HIT))
            return GJB_OK;
        if (look == FF_LOOK_OTHER) /* (NULL is not in the hot region: no area holds address 0) */
            return p ? gjb_ff_free_other(h, p) : GJB_E_INVAL;
        return gjb_ff_free_declined(h, p, d, hd, look == FF_LOOK_ALIGNED);
    }
#endif
    if (GJB_UNLIKELY(!p))
        return GJB_E_INVAL;
    return ff_free_fast(h, p);
}

#endif
