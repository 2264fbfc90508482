/*
 * test_heap_model.c - model-based random test of the FIRST_FIT engine
 * (segregated first fit, src/engine/firstfit.c).
 *
 * A reference model keeps every region's blocks in one address-sorted array
 * (address, size, free, placed by memalign) and every size class's free
 * blocks in a plain array in list order, and applies the documented rules
 * with linear scans:
 *
 *  - a block of s bytes (header included, a multiple of G) is in exact class
 *    s / G below SMALL = 32 granules, else in large class
 *    32 + 8 * (log2(s) - log2(SMALL)) + (the three bits of s below its top bit);
 *    the smallest block is four words (header, two links, footer);
 *  - a block that becomes free, or the part of one that stays free, goes
 *    first in its class (exact classes: last in, first out), except in a
 *    large class when it is smaller than the class's first block: then it
 *    goes second (a large class keeps the larger block first);
 *  - alloc: need = max(round_up(size + W, G), MIN); the first block of need's
 *    own class if it fits (always, in an exact class), else the first block
 *    of the smallest non-empty class above; its front is allocated and the
 *    rest, if it can be a block, goes first in its class; TOOBIG above the
 *    largest block a region ever held, NOMEM when nothing fits;
 *  - memalign (align > G): the block alloc would pick, if an aligned payload
 *    fits in it at its start or at least MIN bytes in; otherwise the block
 *    alloc would pick for need + MIN + align - G; the gap in front becomes a
 *    free block (listed first), then the tail if it can be a block;
 *  - free: merge with the free neighbour after, then the one before; the
 *    result is listed;
 *  - realloc: shrink in place (a tail of MIN or more is freed and merged),
 *    grow into a free block after, grow over a free block before (and the
 *    one after) moving the contents down to the highest address that keeps
 *    the block's alignment, or allocate (memalign for a block memalign
 *    placed), copy and free the old block; a plain block of QLIMIT bytes
 *    or more (1 KiB on LP64, with or without quick lists) is then cut from
 *    the end of the free block alloc would pick (its front, if it can be a
 *    block, stays free and goes first in its class).
 *
 * With quick lists (GJB_QUICK, a first region of FF_QUICK_MIN bytes or
 * more; every layout runs without and with the flag):
 *
 *  - free of an allocated block of s < QLIMIT bytes (1 KiB on LP64: a
 *    quick list per granule count below 64) whose next block (in
 *    its region) is allocated or quick, and whose previous one is too (or
 *    the region starts there), while the lists have room (in all a block
 *    per FF_QUICK_PER bytes of the first region, at most FF_QUICK_CAP) and
 *    the heap has another allocated block:
 *    the block goes first on quick list s / G of level 0, unmerged (a
 *    block memalign placed: of the level of its payload, the largest
 *    k < QLEVELS it is aligned to G << k); it counts as free in the
 *    statistics and the walk, as allocated for merging and growing;
 *    a block memalign placed goes there beside free blocks too while more
 *    than a quarter of the heap's bytes are free (then only the region's
 *    end, the room and the last allocated block keep it off);
 *    otherwise the normal free, then a flush if no allocated block is left;
 *  - flush: level by level, the first block of the smallest non-empty
 *    quick list, again and again, is freed the normal way (merged, listed;
 *    no quick list, no nested flush, maxused unchanged);
 *  - alloc: a need < QLIMIT takes the first block of its quick list of
 *    level 0 if it has one; otherwise the normal alloc, and on NOMEM with a
 *    quick block somewhere a flush and the normal alloc once more; memalign
 *    (align > G) takes the first block among the first FF_QUICK_PROBE whose
 *    payload is aligned, on need's list of the lowest non-empty level at or
 *    above align's, then on its list of level 0, else the normal memalign,
 *    and flushes and retries the same way;
 *  - realloc that can grow in place neither way flushes first when a quick
 *    block exists, and tries once more; if it must still move, it moves
 *    with those rules and frees the old block the normal way (no quick
 *    list, no flush); max_alloc is also at least c * G - W for the largest
 *    non-empty quick list c.
 *
 * For every operation it predicts the status and the exact address; the
 * engine's statistics, quick mark, levels and room are compared after every
 * operation, and every 97 operations the block walk, gjb_heap_validate and
 * the engine's class and quick lists (read through firstfit.h, block by
 * block in list order) are compared with the model. Every payload carries
 * a pattern that is checked before the block is freed or resized. Hostile
 * pointers (interior, misaligned, free, quick, freed, foreign, random) must
 * be refused with nothing changed. With quick lists the heap is also
 * emptied, filled up and half freed every DRAIN operations.
 *
 * GJB_MODEL_OPS sets the operations per region layout (default 600000),
 * spread over SEEDS seeds; each layout runs twice (without and with
 * GJB_QUICK).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model_support.h"

#include "engine/firstfit.h" /* the class lists, compared with the model's */

#define W ((uintptr_t)sizeof(size_t))
#define G ((uintptr_t)_Alignof(max_align_t))
#define MIN ((4 * W + G - 1) & ~(G - 1)) /* header, two links, footer */
#define EXACT 32u                        /* exact classes */
#define SMALL (EXACT * G)                /* the first large block size */
#define QN (UINTPTR_MAX > 0xFFFFFFFFu ? 64u : 32u) /* quick lists: blocks below QN * G */
#define QLIMIT (QN * G)
#define QLEVELS 5u /* quick lists per size: plain, then by memalign's alignment */
#define SUB 8u                           /* large classes per power of two */
#define NCLASS (EXACT + SUB * 64)
#define MAXB 4096
#define MAXLIVE 512
#define MAXREG 4
#define SEEDS 8

/* --- the reference model ------------------------------------------------ */

struct mblk {
    uintptr_t h; /* header address */
    size_t s;    /* block size, header included */
    bool free, aligned;
    bool quick; /* on a quick list (not free: free counts only listed blocks) */
};

/* A class's free blocks in list order: the first one is the last entry. */
struct mclass {
    uintptr_t *a;
    size_t n, cap;
};

static struct mblk mb[MAXB];
static int nb;
static struct mclass cl[NCLASS];
static size_t max_block, total, failed, peak, maxused, max_align;

/* The quick lists, in the same order (ql[k][c]: level k, c granules), and
 * the blocks they may still take; qon: the heap has them. */
static struct mclass ql[QLEVELS][64];
static size_t qroom, qcap;
static bool qon;

/* What the random run went through (reported, and required to happen). */
struct cover {
    long own, above, whole, split, aligned_at_start, aligned_inside, slack_retry, merge_next,
        merge_prev, shrink, grow_right, grow_left, grow_left_gap, moves, moves_tail, nomem, toobig,
        hostile, badalign, second, own_too_small;
    /* quick lists: pushes (of large classes' sizes, of memalign's blocks
     * beside free blocks, memalign's merged for want of free memory), takes
     * (by alloc, by memalign, past the first block), refused for want of
     * room, flushes after a failed allocation / after the last free / before
     * a realloc that cannot grow in place moves its block, blocks
     * flushed, hostile pointers at quick blocks, max_alloc answered by a
     * quick block; memalign's blocks onto a level above 1, taken by
     * memalign from a level above its own, from level 0 */
    long quick_push, quick_push_large, quick_push_aside, quick_aside_tight, quick_take,
        quick_take_aligned, quick_take_deep, quick_full, flush_fail, flush_empty, flushed,
        hostile_quick, max_quick, quick_push_high, quick_take_higher, quick_take_plain,
        flush_grow;
};
static struct cover cov, cov_total;

static size_t block_size(size_t n)
{
    if (n > SIZE_MAX - W - G)
        return 0;
    size_t s = (n + W + G - 1) & ~(G - 1);
    return s < MIN ? MIN : s;
}

static unsigned floor_log2(size_t x)
{
    unsigned n = 0;
    while (x >>= 1)
        n++;
    return n;
}

static unsigned class_of(size_t s)
{
    if (s < SMALL)
        return (unsigned)(s / G);
    unsigned fl = floor_log2(s), base = floor_log2(SMALL);
    return EXACT + (fl - base) * SUB + (unsigned)((s >> (fl - 3)) & (SUB - 1));
}

static int slot_for(uintptr_t h)
{
    int lo = 0, hi = nb;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (mb[mid].h < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int find_block(uintptr_t h)
{
    int i = slot_for(h);
    return i < nb && mb[i].h == h ? i : -1;
}

static void insert_at(int i, struct mblk b)
{
    EXPECT(nb < MAXB, NULL);
    memmove(&mb[i + 1], &mb[i], (size_t)(nb - i) * sizeof mb[0]);
    mb[i] = b;
    nb++;
}

static void remove_at(int i)
{
    memmove(&mb[i], &mb[i + 1], (size_t)(nb - i - 1) * sizeof mb[0]);
    nb--;
}

static bool adjacent(int i, int j)
{
    return i >= 0 && j < nb && mb[i].h + mb[i].s == mb[j].h;
}

static int find_block(uintptr_t h);

/* Makes room in list c for one more block. */
static void make_room(struct mclass *c)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->a = realloc(c->a, c->cap * sizeof *c->a);
        EXPECT(c->a != NULL, NULL);
    }
}

/* Lists free block i in its class: first, or second in a large class
 * whose first block is larger. */
static void push(int i)
{
    EXPECT(mb[i].free && !mb[i].quick, NULL);
    struct mclass *c = &cl[class_of(mb[i].s)];
    make_room(c);
    int first = c->n ? find_block(c->a[c->n - 1]) : -1;
    if (mb[i].s >= SMALL && first >= 0 && mb[i].s < mb[first].s) { /* second */
        c->a[c->n] = c->a[c->n - 1];
        c->a[c->n - 1] = mb[i].h;
        cov.second++;
    } else {
        c->a[c->n] = mb[i].h;
    }
    c->n++;
}

/* Takes free block i out of its class. */
static void unlink_free(int i)
{
    struct mclass *c = &cl[class_of(mb[i].s)];
    for (size_t k = 0; k < c->n; k++)
        if (c->a[k] == mb[i].h) {
            memmove(&c->a[k], &c->a[k + 1], (c->n - k - 1) * sizeof c->a[0]);
            c->n--;
            return;
        }
    fail_ctx(__LINE__, "free block in its class", "%#jx size %zu", (uintmax_t)mb[i].h, mb[i].s);
}

/* The first block of class c (the block index), or -1. */
static int head_of(unsigned c)
{
    if (!cl[c].n)
        return -1;
    int i = find_block(cl[c].a[cl[c].n - 1]);
    EXPECT(i >= 0 && mb[i].free && class_of(mb[i].s) == c, "head of class %u", c);
    return i;
}

/* The block an allocation of need bytes takes (*cp: its class), or -1. */
static int find(size_t need, unsigned *cp)
{
    unsigned c = class_of(need);
    int i = head_of(c);
    if (i >= 0 && mb[i].s >= need) {
        *cp = c;
        cov.own++;
        return i;
    }
    EXPECT(i < 0 || c >= EXACT, "an exact class's head always fits");
    if (i >= 0)
        cov.own_too_small++;
    for (unsigned a = c + 1; a < NCLASS; a++)
        if (cl[a].n) {
            *cp = a;
            cov.above++;
            return head_of(a);
        }
    return -1;
}

/* The largest request the class lists would satisfy now: the first block
 * of the largest non-empty class, less its header. */
static size_t max_listed(void)
{
    for (unsigned c = NCLASS; c-- > 0;)
        if (cl[c].n)
            return mb[head_of(c)].s - W;
    return 0;
}

/* The same for the quick lists: a block of the largest non-empty one. */
static size_t max_quick(void)
{
    for (unsigned c = QN; c-- > 0;)
        for (unsigned k = 0; k < QLEVELS; k++)
            if (ql[k][c].n)
                return c * G - W;
    return 0;
}

/* The largest request alloc would satisfy now. */
static size_t max_alloc(void)
{
    size_t q = max_quick(), l = max_listed();
    return q > l ? q : l;
}

/* Free payload bytes: of listed and of quick blocks. */
static size_t free_payload(void)
{
    size_t f = 0;
    for (int i = 0; i < nb; i++)
        if (mb[i].free || mb[i].quick)
            f += mb[i].s - W;
    return f;
}

/* Allocated blocks (quick ones are not). */
static int allocated(void)
{
    int n = 0;
    for (int i = 0; i < nb; i++)
        n += !mb[i].free && !mb[i].quick;
    return n;
}

static void note_used(void)
{
    size_t u = total - free_payload();
    if (u > maxused)
        maxused = u;
}

/* Allocates the front need bytes of free block i, the first of class c;
 * returns the block's index. */
static int take(int i, unsigned c, size_t need)
{
    EQ(head_of(c), i);
    unlink_free(i);
    size_t rest = mb[i].s - need;
    mb[i].free = false;
    mb[i].aligned = false;
    if (rest >= MIN) {
        mb[i].s = need;
        insert_at(i + 1, (struct mblk){mb[i].h + need, rest, true, false, false});
        push(i + 1);
        cov.split++;
    } else {
        cov.whole++;
    }
    return i;
}

/* Allocates [at, at+need) from free block i, the first of class c, with a
 * free gap of at least MIN bytes in front; returns the block's index. */
static int carve_at(int i, unsigned c, uintptr_t at, size_t need)
{
    EQ(head_of(c), i);
    unlink_free(i);
    size_t lead = at - mb[i].h, rest = mb[i].s - lead - need;
    EXPECT(lead >= MIN, NULL);
    mb[i].s = lead;
    push(i);
    if (rest >= MIN) {
        insert_at(i + 1, (struct mblk){at, need, false, false, false});
        insert_at(i + 2, (struct mblk){at + need, rest, true, false, false});
        push(i + 2);
        cov.split++;
    } else {
        insert_at(i + 1, (struct mblk){at, need + rest, false, false, false});
        cov.whole++;
    }
    return i + 1;
}

/* Where an aligned payload of need bytes would have its header in free
 * block i: its start, or at least MIN bytes in; 0 when it does not fit. */
static uintptr_t aligned_spot(int i, size_t need, size_t align)
{
    uintptr_t start = mb[i].h, p = (start + W + align - 1) & ~(uintptr_t)(align - 1);
    if (p - W != start && p - W - start < MIN)
        p = (start + W + MIN + align - 1) & ~(uintptr_t)(align - 1);
    return p - W - start + need <= mb[i].s ? p - W : 0;
}

/* A memalign of a block of need bytes (need <= max_block, align > G),
 * from the class lists alone. */
static int memalign_listed(size_t need, size_t align)
{
    unsigned c;
    int i = find(need, &c);
    uintptr_t at = i >= 0 ? aligned_spot(i, need, align) : 0;
    if (!at) {
        size_t slack = MIN + align - G;
        if (slack > max_block - need)
            return -1;
        cov.slack_retry++;
        i = find(need + slack, &c);
        at = i >= 0 ? aligned_spot(i, need, align) : 0;
        if (!at)
            return -1;
    }
    int k;
    if (at == mb[i].h) {
        k = take(i, c, need);
        cov.aligned_at_start++;
    } else {
        k = carve_at(i, c, at, need);
        cov.aligned_inside++;
    }
    mb[k].aligned = true;
    return k;
}

/* Frees allocated block i: merges it with its free neighbours and lists
 * the result. */
static void model_release(int i)
{
    EXPECT(!mb[i].free && !mb[i].quick, NULL);
    mb[i].free = true;
    mb[i].aligned = false;
    if (adjacent(i, i + 1) && mb[i + 1].free) {
        unlink_free(i + 1);
        mb[i].s += mb[i + 1].s;
        remove_at(i + 1);
        cov.merge_next++;
    }
    if (adjacent(i - 1, i) && mb[i - 1].free) {
        unlink_free(i - 1);
        mb[i - 1].s += mb[i].s;
        remove_at(i);
        i--;
        cov.merge_prev++;
    }
    push(i);
}

/* --- quick lists --------------------------------------------------------- */

/* The blocks the quick lists of a heap made with len bytes may hold. */
static size_t quick_cap(size_t len)
{
    size_t cap = len / FF_QUICK_PER;
    return cap > FF_QUICK_CAP ? FF_QUICK_CAP : cap; /* (not <: FF_QUICK_CAP may be 0) */
}

static bool quick_any(void)
{
    for (unsigned k = 0; k < QLEVELS; k++)
        for (unsigned c = 0; c < QN; c++)
            if (ql[k][c].n)
                return true;
    return false;
}

/* The level of a block memalign placed with its payload at u: the largest
 * k < QLEVELS with u aligned to G << k (1 or more: memalign aligns to more
 * than G). */
static unsigned quick_level(uintptr_t u)
{
    unsigned k = 0;
    while (k + 1 < QLEVELS && u % (G << (k + 1)) == 0)
        k++;
    return k;
}

/* Puts allocated block i first on its quick list: level 0, or its level
 * when memalign placed it. */
static void quick_push(int i)
{
    unsigned k = mb[i].aligned ? quick_level(mb[i].h + W) : 0;
    EXPECT(!mb[i].aligned || k >= 1, NULL);
    struct mclass *q = &ql[k][mb[i].s / G];
    make_room(q);
    q->a[q->n++] = mb[i].h;
    mb[i].quick = true;
    mb[i].aligned = false;
    qroom--;
    cov.quick_push++;
    cov.quick_push_large += mb[i].s >= SMALL; /* a size of the large classes */
    cov.quick_push_high += k > 1;
}

/* Takes the first block off quick list c of level k: allocated again; its
 * index. */
static int quick_pop(unsigned k, unsigned c)
{
    EXPECT(ql[k][c].n > 0, NULL);
    int i = find_block(ql[k][c].a[--ql[k][c].n]);
    EXPECT(i >= 0 && mb[i].quick && mb[i].s == c * G, "quick list %u of level %u", c, k);
    mb[i].quick = false;
    qroom++;
    return i;
}

/* Takes the j-th block (1: the first) off quick list c of level k:
 * allocated again; its index. */
static int quick_take(unsigned k, unsigned c, size_t j)
{
    struct mclass *q = &ql[k][c];
    uintptr_t a = q->a[q->n - j];
    memmove(&q->a[q->n - j], &q->a[q->n - j + 1], (j - 1) * sizeof q->a[0]);
    q->a[q->n - 1] = a; /* now first */
    return quick_pop(k, c);
}

/* Gives every quick block back, level by level, smallest size first:
 * freed the normal way. */
static void flush(void)
{
    for (unsigned k = 0; k < QLEVELS; k++)
        for (unsigned c = 0; c < QN; c++)
            while (ql[k][c].n) {
                model_release(quick_pop(k, c));
                cov.flushed++;
            }
}

/* Whether freeing allocated block i puts it on a quick list: small,
 * between two allocated or quick blocks (the one before may be the
 * region's start, not the one after), room left, and not the heap's last
 * allocated block. */
static bool goes_quick(int i)
{
    if (!qon || mb[i].s >= QLIMIT || !adjacent(i, i + 1))
        return false;
    bool beside_free = mb[i + 1].free || (adjacent(i - 1, i) && mb[i - 1].free);
    if (beside_free && (!mb[i].aligned || free_payload() <= total / 4)) {
        cov.quick_aside_tight += mb[i].aligned; /* (little free: merged at once) */
        return false;
    }
    if (!qroom) {
        cov.quick_full++;
        return false;
    }
    if (allocated() <= 1)
        return false;
    cov.quick_push_aside += beside_free; /* (memalign's block) */
    return true;
}

/* A free: onto a quick list, or merged and listed, and then, when no
 * allocated block is left, a flush. */
static void model_free(int i)
{
    if (goes_quick(i)) {
        quick_push(i);
        return;
    }
    model_release(i);
    if (!allocated() && quick_any()) {
        flush();
        cov.flush_empty++;
    }
}

/* An allocation of a block of need bytes (need <= max_block): its index,
 * or -1 (NOMEM). A small need takes from its quick list first; a failure
 * with quick blocks around flushes them and tries again. */
static int model_alloc(size_t need)
{
    if (need < QLIMIT && ql[0][need / G].n) {
        cov.quick_take++;
        return quick_pop(0, (unsigned)(need / G));
    }
    unsigned c;
    int i = find(need, &c);
    if (i < 0 && quick_any()) {
        flush();
        cov.flush_fail++;
        i = find(need, &c);
    }
    return i < 0 ? -1 : take(i, c, need);
}

/* The new home of a plain block realloc moves (need <= max_block): a need
 * of QLIMIT bytes or more takes the end of the block alloc would pick;
 * its index, or -1 (NOMEM). */
static int model_alloc_moved(size_t need)
{
    if (need < QLIMIT)
        return model_alloc(need);
    EXPECT(!quick_any(), NULL); /* (model_resize gave them back) */
    unsigned c;
    int i = find(need, &c);
    if (i < 0)
        return -1;
    if (mb[i].s - need < MIN)
        return take(i, c, need);
    cov.moves_tail++;
    return carve_at(i, c, mb[i].h + mb[i].s - need, need);
}

/* The first of the first FF_QUICK_PROBE blocks of quick list c of level k
 * whose payload is aligned to align, taken; its index, or -1. */
static int quick_probe(unsigned k, unsigned c, size_t align)
{
    struct mclass *q = &ql[k][c];
    for (size_t j = 1; j <= q->n && j <= FF_QUICK_PROBE; j++)
        if ((q->a[q->n - j] + W) % align == 0) {
            int i = quick_take(k, c, j);
            mb[i].aligned = true;
            cov.quick_take_aligned++;
            cov.quick_take_deep += j > 1;
            return i;
        }
    return -1;
}

/* A memalign (align > G): from the quick lists of need's size, the first
 * aligned block among the first FF_QUICK_PROBE of the lowest non-empty
 * level at or above align's own (align = G << level, the last level for
 * more), then the same on level 0; else from the class lists; a failure
 * with quick blocks around flushes them and tries again. */
static int model_memalign(size_t need, size_t align)
{
    unsigned c = (unsigned)(need / G), own = quick_level(align);
    int i = -1;
    for (unsigned k = own; need < QLIMIT && k < QLEVELS; k++)
        if (ql[k][c].n) {
            i = quick_probe(k, c, align);
            cov.quick_take_higher += i >= 0 && k > own;
            break;
        }
    if (i < 0 && need < QLIMIT && ql[0][c].n) {
        i = quick_probe(0, c, align);
        cov.quick_take_plain += i >= 0;
    }
    if (i >= 0)
        return i;
    int k = memalign_listed(need, align);
    if (k < 0 && quick_any()) {
        flush();
        cov.flush_fail++;
        k = memalign_listed(need, align);
    }
    return k;
}

/* --- resizing ------------------------------------------------------------ */

/* Cuts allocated block i down to need and frees the tail if it can. */
static void model_shrink(int i, size_t need)
{
    if (mb[i].s - need < MIN)
        return;
    insert_at(i + 1, (struct mblk){mb[i].h + need, mb[i].s - need, false, false, false});
    mb[i].s = need;
    model_release(i + 1);
    cov.shrink++;
}

/* The alignment an aligned block keeps when it moves or grows left. */
static size_t kept_align(uintptr_t u)
{
    size_t natural = (size_t)(u & (~u + 1));
    return natural < max_align ? natural : max_align;
}

/* Grows allocated block i into its free right neighbour. */
static void model_grow_right(int i, size_t need)
{
    size_t rest = mb[i].s + mb[i + 1].s - need;
    unlink_free(i + 1);
    if (rest >= MIN) {
        mb[i + 1].h = mb[i].h + need;
        mb[i + 1].s = rest;
        mb[i].s = need;
        push(i + 1);
    } else {
        mb[i].s += mb[i + 1].s;
        remove_at(i + 1);
    }
    cov.grow_right++;
}

/* Grows allocated block i over its free left neighbour (and its free right
 * one); returns the new index or -1. */
static int model_grow_left(int i, size_t need)
{
    if (!(adjacent(i - 1, i) && mb[i - 1].free))
        return -1;
    bool nfree = adjacent(i, i + 1) && mb[i + 1].free;
    uintptr_t p = mb[i - 1].h, end = mb[i].h + mb[i].s + (nfree ? mb[i + 1].s : 0);
    size_t align = mb[i].aligned ? kept_align(mb[i].h + W) : G;
    if (end - p < need)
        return -1;
    uintptr_t at = ((end - need + W) & ~(uintptr_t)(align - 1)) - W;
    if (at < p)
        return -1;
    size_t gap = at - p;
    if (gap && gap < MIN) {
        if ((p + W) & (align - 1))
            return -1;
        gap = 0;
    }
    bool aligned = mb[i].aligned;
    if (nfree) {
        unlink_free(i + 1);
        remove_at(i + 1);
    }
    unlink_free(i - 1);
    remove_at(i);
    int k = i - 1;
    if (gap) {
        mb[k].s = gap;
        push(k);
        k++;
        insert_at(k, (struct mblk){p + gap, end - p - gap, false, aligned, false});
        cov.grow_left_gap++;
    } else {
        mb[k] = (struct mblk){p, end - p, false, aligned, false};
    }
    cov.grow_left++;
    model_shrink(k, need);
    return k;
}

/* Predicts a resize in place; returns the index or -1 if it must move.
 * When it can grow in place neither way and quick blocks exist, they are
 * flushed and it tries once more. */
static int model_resize(int i, size_t need)
{
    if (need <= mb[i].s) {
        model_shrink(i, need);
        return i;
    }
    if (adjacent(i, i + 1) && mb[i + 1].free && mb[i].s + mb[i + 1].s >= need) {
        model_grow_right(i, need);
        return i;
    }
    int k = model_grow_left(i, need);
    if (k >= 0 || !quick_any())
        return k;
    uintptr_t h = mb[i].h;
    flush();
    cov.flush_grow++;
    return model_resize(find_block(h), need);
}

/* --- live blocks and their patterns ------------------------------------- */

struct live {
    unsigned char *p;
    size_t n;
    unsigned tag;
};

#define FREED 16
static struct live lv[MAXLIVE];
static void *freed[FREED]; /* recently freed payloads */
static int nlive;
static unsigned next_tag;

static void fill(struct live *l)
{
    for (size_t k = 0; k < l->n; k++)
        l->p[k] = pat(l->tag, k);
}

/* --- comparing engine and model ----------------------------------------- */

static void compare_stats(const gjb_heap *h)
{
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    size_t fb = 0, ab = 0, fp = free_payload();
    for (int i = 0; i < nb; i++) {
        if (mb[i].free || mb[i].quick)
            fb++;
        else
            ab++;
    }
    EQ(*ff_quick_mark(h), qon ? FF_QUICK_HAS : 0);
    for (unsigned c = 0; qon && c < QN; c++) {
        unsigned levels = 0;
        for (unsigned k = 1; k < QLEVELS; k++)
            levels |= (unsigned)(ql[k][c].n > 0) << k;
        EQ(ff_quick_levels(h)[c], levels);
    }
    EQ(ff_quick_left(h), qroom);
    if (max_quick() > max_listed())
        cov.max_quick++;
    EQ(st.free_blocks, fb);
    EQ(st.alloc_blocks, ab);
    EQ(st.segments, (size_t)nb);
    EQ(st.free, fp);
    EQ(st.total, total);
    EQ(st.used, total - fp);
    EQ(st.maxused, maxused);
    EQ(st.largest_free, max_alloc());
    EQ(gjb_heap_max_alloc(h), max_alloc());
    EQ(st.failed, failed);
    EQ(st.peak_request, peak);
    EQ(st.header_bytes, W);
    EQ(st.min_block, MIN);
    EQ(gjb_heap_is_empty(h), ab == 0);
}

struct walk_ctx {
    int i;
};

static int walk_check(void *ctx, void *payload, size_t size, bool used)
{
    struct walk_ctx *w = ctx;
    EXPECT(w->i < nb, NULL);
    EQ((uintptr_t)payload, mb[w->i].h + W);
    EQ(size, mb[w->i].s - W);
    EQ(used, !mb[w->i].free && !mb[w->i].quick);
    w->i++;
    return 0;
}

/* One of the engine's lists (class or quick list c), block by block,
 * against the model's m. */
static void compare_list(const gjb_heap *h, const struct mclass *m, unsigned c, intptr_t first,
                         bool quick)
{
    size_t n = 0;
    for (intptr_t b = first; b; b = quick ? ff_qnext(h, b) : ff_link(h, b, FF_NEXT), n++) {
        EXPECT(n < m->n, "list %u: the engine lists more than %zu blocks", c, m->n);
        EQ((uintptr_t)gjb_ptr(h, b), m->a[m->n - 1 - n]);
    }
    EQ(n, m->n);
}

/* The class lists, and the quick lists (mark, room and levels:
 * compare_stats). The slots of the exact classes below MIN hold the quick
 * lists' mark and room. */
static void compare_lists(const gjb_heap *h)
{
    for (unsigned c = MIN / G; c < EXACT; c++)
        compare_list(h, &cl[c], c, h->lists[c], false);
    for (unsigned c = 0; c < MIN / G; c++)
        for (unsigned k = 0; k < QLEVELS; k++)
            EQ(cl[c].n + ql[k][c].n, 0);
    for (unsigned k = 0; qon && k < QLEVELS; k++)
        for (unsigned c = 0; c < QN; c++)
            compare_list(h, &ql[k][c], c, ff_qhead(h, k * FF_QUICK_N + c), true);
    for (unsigned k = 0; k < h->nlarge; k++)
        compare_list(h, &cl[EXACT + k], EXACT + k, ff_large(h)[k], false);
    for (unsigned c = EXACT + h->nlarge; c < NCLASS; c++)
        EQ(cl[c].n, 0);
    for (int i = 0; i < nb; i++)
        if (mb[i].free)
            EQ(ff_class(mb[i].s), class_of(mb[i].s)); /* the same numbering */
}

static void check_all(const gjb_heap *h)
{
    EQ(gjb_heap_validate(h), GJB_OK);
    struct walk_ctx w = {0};
    EQ(gjb_heap_walk(h, walk_check, &w), 0);
    EQ(w.i, nb);
    compare_lists(h);
    for (int i = 1; i < nb; i++)
        EXPECT(mb[i - 1].h + mb[i - 1].s <= mb[i].h, NULL);
    for (int k = 0; k < nlive; k++) {
        check_pattern(lv[k].p, lv[k].n, lv[k].tag);
        int i = find_block((uintptr_t)lv[k].p - W);
        EXPECT(i >= 0 && !mb[i].free && !mb[i].quick, NULL);
        EQ(gjb_heap_usable_size(h, lv[k].p), mb[i].s - W);
    }
}

/* Adopts into the model the free block of a region just made (the engine
 * shows it; the model does not cover it yet), and lists it. */
static int adopt_cb(void *ctx, void *payload, size_t size, bool used)
{
    (void)ctx;
    uintptr_t h = (uintptr_t)payload - W;
    if (find_block(h) < 0) {
        EXPECT(!used, NULL);
        int i = slot_for(h);
        insert_at(i, (struct mblk){h, size + W, true, false, false});
        push(i);
        if (size + W > max_block)
            max_block = size + W;
    }
    return 0;
}

static void adopt_region(gjb_heap *h, size_t len)
{
    int before = nb;
    gjb_heap_walk(h, adopt_cb, NULL);
    EQ(nb, before + 1); /* a fresh region is one free block */
    total += len;
    note_used();
}

/* --- operations --------------------------------------------------------- */

static size_t random_size(void)
{
    switch (below(16)) {
    case 0: return 1 + below(4096);
    case 1: {
        const size_t edge[] = {SIZE_MAX, SIZE_MAX - W, SIZE_MAX - G - W, max_block,
                               max_block - W + 1, max_block - W, 0};
        return below(4) ? 1 + below(16) : edge[below(7)];
    }
    case 2: return SMALL - 2 * G + below(4 * G); /* the last exact and first large classes */
    case 3: return 1 + below(max_block / 3);
    case 4: return QLIMIT - 2 * G + below(4 * G); /* the last quick lists and beyond */
    case 5: /* quick lists of large classes' sizes (none where QLIMIT is SMALL: ILP32) */
        return QLIMIT > SMALL ? SMALL + below(QLIMIT - SMALL) : 1 + below(300);
    default: return 1 + below(300);
    }
}

static void record_live(void *p, size_t n)
{
    EXPECT(nlive < MAXLIVE, NULL);
    lv[nlive] = (struct live){p, n, next_tag++};
    fill(&lv[nlive++]);
}

/* An allocation of n bytes: how 0-1 memalign (align), 2 realloc(NULL),
 * else alloc; false when it is refused. */
static bool alloc_n(gjb_heap *h, int how, size_t n, size_t align)
{
    void *p = (void *)0x1;
    int st = how <= 1 ? gjb_heap_memalign(h, align, n, &p)
             : how == 2 ? gjb_heap_realloc(h, NULL, n, &p)
                        : gjb_heap_alloc(h, n, &p);
    int want = GJB_OK, i = -1;
    size_t need = block_size(n);
    if (how <= 1 && (align == 0 || (align & (align - 1)))) {
        want = GJB_E_ALIGN;
        cov.badalign++;
    } else if (n == 0) {
        want = GJB_E_INVAL;
    } else {
        if (n > peak)
            peak = n;
        if (how <= 1 && align > G && align > max_align)
            max_align = align;
        if (!need || need > max_block) {
            want = GJB_E_TOOBIG;
            failed++;
            cov.toobig++;
        } else {
            i = how <= 1 && align > G ? model_memalign(need, align) : model_alloc(need);
            if (i < 0) {
                want = GJB_E_NOMEM;
                failed++;
                cov.nomem++;
            } else {
                note_used();
            }
        }
    }
    EQ(st, want);
    if (st != GJB_OK) {
        EQ((uintptr_t)p, 0x1); /* *out untouched */
        return false;
    }
    EQ((uintptr_t)p, mb[i].h + W);
    EQ((uintptr_t)p % (align > G ? align : G), 0);
    record_live(p, n);
    return true;
}

static void op_alloc(gjb_heap *h)
{
    if (nlive == MAXLIVE)
        return;
    size_t n = random_size(), align = G;
    int how = (int)below(8); /* 0-1 memalign, 2 realloc(NULL), else alloc */
    if (how <= 1) {
        align = (size_t)1 << below(13);
        if (below(20) == 0)
            align = below(2) ? 0 : align * 3; /* not a power of two */
    }
    alloc_n(h, how, n, align);
}

static int live_index(const void *p)
{
    int i = find_block((uintptr_t)p - W);
    EXPECT(i >= 0 && !mb[i].free && !mb[i].quick, "live block %p", p);
    return i;
}

/* Frees live block k. */
static void free_live(gjb_heap *h, int k)
{
    check_pattern(lv[k].p, lv[k].n, lv[k].tag);
    model_free(live_index(lv[k].p));
    EQ(gjb_heap_free(h, lv[k].p), GJB_OK);
    freed[below(FREED)] = lv[k].p;
    lv[k] = lv[--nlive];
}

static void op_free(gjb_heap *h)
{
    if (nlive)
        free_live(h, (int)below((size_t)nlive));
}

static void op_realloc(gjb_heap *h)
{
    if (!nlive)
        return;
    int k = (int)below((size_t)nlive);
    struct live *l = &lv[k];
    int i = live_index(l->p);
    size_t cur = mb[i].s - W, n;
    switch (below(6)) {
    case 0: n = 1 + below(cur); break;                        /* within the block */
    case 1: n = cur + 1 + below(cur); break;                  /* up to twice */
    case 2: n = 1 + below(4 * cur); break;                    /* up to four times */
    case 3: n = below(8) ? 1 + below(cur / 2 + 1) : 0; break; /* shrink, or size 0 */
    default: n = random_size(); break;
    }
    check_pattern(l->p, l->n, l->tag);
    void *p = (void *)0x1;
    int st = gjb_heap_realloc(h, l->p, n, &p);
    int want = GJB_OK;
    bool was_aligned = mb[i].aligned;
    size_t need = block_size(n);
    uintptr_t expect = 0;
    if (n == 0) {
        want = GJB_E_INVAL;
    } else {
        if (n > peak)
            peak = n;
        if (!need || need > max_block) {
            want = GJB_E_TOOBIG;
            failed++;
            cov.toobig++;
        } else {
            size_t align = was_aligned ? kept_align((uintptr_t)l->p) : G;
            int j = model_resize(i, need);
            if (j >= 0) {
                expect = mb[j].h;
                note_used();
            } else {
                j = align > G ? model_memalign(need, align) : model_alloc_moved(need);
                if (j < 0) {
                    want = GJB_E_NOMEM;
                    failed++;
                    cov.nomem++;
                } else {
                    expect = mb[j].h;
                    note_used(); /* both blocks held at this moment */
                    model_release(live_index(l->p));
                    cov.moves++;
                }
            }
        }
    }
    EQ(st, want);
    if (st != GJB_OK) {
        EQ((uintptr_t)p, 0x1); /* *out untouched */
        check_pattern(l->p, l->n, l->tag);
        return;
    }
    EQ((uintptr_t)p, expect + W);
    size_t keep = n < l->n ? n : l->n;
    check_pattern(p, keep, l->tag);
    if (was_aligned) /* an aligned block keeps (at least) its alignment */
        EQ((uintptr_t)p % kept_align((uintptr_t)l->p), 0);
    EQ(mb[live_index(p)].aligned, was_aligned);
    if (p != l->p)
        freed[below(FREED)] = l->p;
    l->p = p;
    l->n = n;
    fill(l);
}

static unsigned char *arena_lo;
static size_t arena_span;

/* A pointer that is not an allocated block start must be refused, and
 * nothing may change. */
static void op_hostile(gjb_heap *h)
{
    uintptr_t p;
    switch (below(6)) {
    case 0: /* interior or misaligned pointer into a live block */
        if (!nlive)
            return;
        p = (uintptr_t)lv[below((size_t)nlive)].p + (below(2) ? 1 + below(G - 1) : G * (1 + below(4)));
        break;
    case 1: { /* the payload of a free (or quick) block */
        int i = (int)below((size_t)nb);
        while (i < nb && !mb[i].free && !mb[i].quick)
            i++;
        if (i == nb)
            return;
        p = mb[i].h + W;
        break;
    }
    case 2: /* anywhere in the arena */
        p = (uintptr_t)arena_lo + below(arena_span);
        break;
    case 3: /* anywhere in the arena, on a granule */
        p = ((uintptr_t)arena_lo + below(arena_span)) & ~(G - 1);
        break;
    case 4: /* outside */
        p = below(2) ? (uintptr_t)&rng : (uintptr_t)arena_lo + arena_span + G * below(64);
        break;
    default: /* a freed payload: a double free, maybe after a merge */
        p = (uintptr_t)freed[below(FREED)];
        if (!p)
            return;
        break;
    }
    int i = find_block(p - W);
    if (i >= 0 && !mb[i].free && !mb[i].quick)
        return; /* that is a valid block after all */
    struct gjbmem_heap_stats before, after;
    gjb_heap_get_stats(h, &before);
    uintptr_t before_mark = *ff_quick_mark(h), before_room = ff_quick_left(h);
    unsigned char before_levels[64] = {0};
    if (qon)
        memcpy(before_levels, ff_quick_levels(h), QN);
    void *out = (void *)0x1;
    int st = below(2) ? gjb_heap_free(h, (void *)p)
                      : gjb_heap_realloc(h, (void *)p, 1 + below(4 * SMALL), &out);
    EXPECT(st == GJB_E_BADPTR, "pointer %#jx (status %d)", (uintmax_t)p, st);
    EQ((uintptr_t)out, 0x1);
    EQ(gjb_heap_usable_size(h, (void *)p), 0);
    gjb_heap_get_stats(h, &after);
    EXPECT(memcmp(&before, &after, sizeof before) == 0, NULL);
    EQ(*ff_quick_mark(h), before_mark);
    EQ(ff_quick_left(h), before_room);
    EXPECT(!qon || memcmp(before_levels, ff_quick_levels(h), QN) == 0, NULL);
    cov.hostile++;
    if (i >= 0 && mb[i].quick)
        cov.hostile_quick++;
}

/* Cheap queries that must match the model at any moment. */
static void op_query(gjb_heap *h)
{
    if (nlive) {
        const struct live *l = &lv[below((size_t)nlive)];
        const struct mblk *b = &mb[live_index(l->p)];
        EQ(gjb_heap_usable_size(h, l->p), b->s - W);
        /* every byte of a payload belongs to its block */
        EQ((uintptr_t)gjb_heap_block_of(h, (char *)l->p + below(b->s - W)), (uintptr_t)l->p);
    }
    int i = (int)below((size_t)nb);
    if (mb[i].free || mb[i].quick) /* no byte of a free block belongs to an allocated one */
        EQ((uintptr_t)gjb_heap_block_of(h, (char *)mb[i].h + below(mb[i].s)), 0);
    EQ(gjb_heap_usable_size(h, NULL), 0);
    EQ(gjb_heap_free(h, NULL), GJB_E_INVAL);
    void *out = (void *)0x1;
    EQ(gjb_heap_alloc(h, 0, &out), GJB_E_INVAL);
    EQ(gjb_heap_memalign(h, 64, 0, &out), GJB_E_INVAL);
    EQ(gjb_heap_realloc(h, NULL, 0, &out), GJB_E_INVAL);
    EQ((uintptr_t)out, 0x1);
}

/* Frees every live block, in random order, comparing as it goes (the
 * last free of a heap with quick blocks flushes them). */
static void drain(gjb_heap *h)
{
    while (nlive) {
        op_free(h);
        compare_stats(h);
    }
    check_all(h);
}

/* Allocates small blocks, about total / (MAXLIVE - 32) bytes each, until
 * the heap refuses one (it is full) or MAXLIVE blocks live. */
static void fill_up(gjb_heap *h)
{
    size_t base = total / (MAXLIVE - 32), top = SMALL - W - G; /* need < SMALL */
    base = base < 2 * G ? 2 * G : base > top ? top : base;
    while (nlive < MAXLIVE) {
        size_t n = base / 2 + 1 + below(base);
        if (!alloc_n(h, 3, n < top ? n : top, G))
            break;
        compare_stats(h);
    }
    compare_stats(h);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return (x > y) - (x < y);
}

/* Frees every other live block in address order, from the second: each
 * lies between two blocks that stay allocated (when it has both). */
static void free_alternate(gjb_heap *h)
{
    void *p[MAXLIVE];
    int n = nlive;
    for (int k = 0; k < n; k++)
        p[k] = lv[k].p;
    qsort(p, (size_t)n, sizeof p[0], by_address);
    for (int k = 1; k < n; k += 2) {
        int j = 0;
        while (lv[j].p != p[k])
            j++;
        free_live(h, j);
        compare_stats(h);
    }
    check_all(h);
}

/* With quick lists, every DRAIN operations the heap is emptied (the quick
 * lists flushed), filled up with small blocks and every other block freed:
 * the quick lists fill up, in a full heap, and the random operations go on
 * from there. */
#define DRAIN 1999

static void run_ops(gjb_heap *h, long ops)
{
    for (cur_op = 0; cur_op < ops; cur_op++) {
        if (qon && cur_op % DRAIN == DRAIN - 1) {
            drain(h);
            fill_up(h);
            free_alternate(h);
        }
        size_t r = below(100);
        if (r < 40)
            op_alloc(h);
        else if (r < 72)
            op_free(h);
        else if (r < 90)
            op_realloc(h);
        else if (r < 97)
            op_hostile(h);
        else
            op_query(h);
        compare_stats(h);
        if (cur_op % 97 == 0)
            check_all(h);
    }
    check_all(h);
    while (nlive)
        op_free(h);
    compare_stats(h);
    check_all(h);
}

/* --- region layouts ----------------------------------------------------- */

static _Alignas(4096) unsigned char arena[1 << 20];

static void reset_model(void)
{
    nb = nlive = 0;
    for (unsigned c = 0; c < NCLASS; c++)
        cl[c].n = 0;
    for (unsigned k = 0; k < QLEVELS; k++)
        for (unsigned c = 0; c < QN; c++)
            ql[k][c].n = 0;
    qroom = qcap;
    max_block = total = failed = peak = maxused = max_align = 0;
    memset(freed, 0, sizeof freed);
}

struct layout {
    const char *name;
    size_t first_off, first_len; /* where gjb_heap_init goes, in arena */
    size_t more[MAXREG - 1][2];  /* regions added afterwards (off, len) */
};

/* Runs layout L, with GJB_QUICK when quick says so (the heap has quick
 * lists when its first region is large enough). */
static void run_layout(const struct layout *L, bool quick)
{
    static char name[64];
    snprintf(name, sizeof name, "%s%s", L->name, quick ? "+quick" : "");
    cur_layout = name;
    arena_lo = arena;
    arena_span = sizeof arena;
    qon = quick && FF_QUICK_OK && L->first_len >= FF_QUICK_MIN;
    qcap = qon ? quick_cap(L->first_len) : 0;
    long ops = ops_per_layout();
    if (quick && !qon && ops > 4000)
        ops = 4000; /* the flag is ignored: the run without it says the rest */
    memset(&cov_total, 0, sizeof cov_total);
    for (cur_seed = 1; cur_seed <= SEEDS; cur_seed++) {
        cur_op = -1;
        rng = 0x9e3779b97f4a7c15ULL * (uint64_t)cur_seed + (uint64_t)L->first_len;
        reset_model();
        memset(&cov, 0, sizeof cov);
        memset(arena, 0xa5, sizeof arena);
        gjb_heap *h;
        unsigned char *lo = arena + L->first_off;
        EQ(gjb_heap_init(lo, L->first_len, GJB_FIRST_FIT | (quick ? GJB_QUICK : 0), MAXREG, &h),
           GJB_OK);
        adopt_region(h, L->first_len);
        compare_stats(h);
        for (int r = 0; r < MAXREG - 1 && L->more[r][1]; r++) {
            EQ(gjb_heap_add_region(h, arena + L->more[r][0], L->more[r][1]), GJB_OK);
            adopt_region(h, L->more[r][1]);
            compare_stats(h);
        }
        check_all(h);
        int nregions = nb;

        run_ops(h, ops / SEEDS);

        EQ(nb, nregions); /* every region back to one free block */
        for (int i = 0; i < nb; i++)
            EXPECT(mb[i].free, NULL);
        EXPECT(gjb_heap_is_empty(h), NULL);
        EQ(qroom, qcap); /* the quick lists empty */

        long *dst = &cov_total.own, *src = &cov.own;
        for (size_t i = 0; i < sizeof cov / sizeof(long); i++)
            dst[i] += src[i];
    }
    cur_op = -1;
    const struct cover *c = &cov_total;
    print_message("    %-28s max block %6zu: own class %ld, class above %ld, split %ld, whole %ld, "
                  "memalign at start %ld / inside %ld / retried %ld, merges %ld+%ld, "
                  "shrinks %ld, grows right %ld / left %ld (gap %ld), moves %ld (to a block's "
                  "end %ld), NOMEM %ld, "
                  "TOOBIG %ld, ALIGN %ld, hostile %ld, listed second %ld, own class's first "
                  "too small %ld\n",
                  L->name, max_block, c->own, c->above, c->split, c->whole, c->aligned_at_start,
                  c->aligned_inside, c->slack_retry, c->merge_next, c->merge_prev, c->shrink,
                  c->grow_right, c->grow_left, c->grow_left_gap, c->moves, c->moves_tail, c->nomem,
                  c->toobig,
                  c->badalign, c->hostile, c->second, c->own_too_small);
    if (quick)
        print_message("    %-28s quick lists of %lu blocks: pushes %ld (of large classes' sizes "
                      "%ld, memalign's beside free blocks %ld, not when little is free %ld, "
                      "onto a level above 1 %ld), takes %ld (memalign %ld, not the first block "
                      "%ld, from a level above its own %ld, from level 0 %ld), refused full "
                      "%ld, flushes after a failure %ld / after the last free %ld / before "
                      "a move %ld, blocks flushed %ld, hostile at quick blocks %ld, max_alloc "
                      "from a quick block %ld\n",
                      name, (unsigned long)qcap, c->quick_push, c->quick_push_large,
                      c->quick_push_aside, c->quick_aside_tight, c->quick_push_high,
                      c->quick_take, c->quick_take_aligned, c->quick_take_deep,
                      c->quick_take_higher, c->quick_take_plain, c->quick_full, c->flush_fail,
                      c->flush_empty, c->flush_grow, c->flushed, c->hostile_quick, c->max_quick);
    if (quick && !qon) /* the flag is ignored */
        EXPECT(c->quick_push + c->quick_take + c->quick_take_aligned + c->flush_fail +
                       c->flush_empty + c->flush_grow ==
                   0,
               NULL);
    /* Every kind of outcome happened (a run of 20000 operations per layout
     * is long enough for that). */
    if (ops >= 20000)
        EXPECT(c->own > 0 && c->above > 0 && c->split > 0 && c->whole > 0 &&
                   c->aligned_at_start > 0 && c->aligned_inside > 0 && c->slack_retry > 0 &&
                   c->merge_next > 0 && c->merge_prev > 0 && c->shrink > 0 && c->grow_right > 0 &&
                   c->grow_left > 0 && c->moves > 0 && c->moves_tail > 0 && c->nomem > 0 &&
                   c->toobig > 0 &&
                   c->badalign > 0 && c->hostile > 0 && c->second > 0 && c->own_too_small > 0,
               "coverage");
    /* (On ILP32, whose quick blocks are under 256 bytes, the largest free
     * block of a nearly full heap is seldom one of them: max_quick is
     * asked of LP64 only. memalign taking a block past a list's first is
     * rare, since a realloc that cannot grow flushes the lists: about 10 in
     * 600,000 operations; it is asked of the full runs only, and
     * test_mpart_quick's memalign_looks_past_the_first_set_aside_block
     * takes that path on purpose.) */
    if (ops >= 20000 && qon)
        EXPECT(c->quick_push > 0 && c->quick_take > 0 && c->quick_take_aligned > 0 &&
                   c->quick_push_aside > 0 && c->quick_aside_tight > 0 &&
                   (c->quick_take_deep > 0 || ops < 200000) && c->quick_push_high > 0 &&
                   c->quick_take_higher > 0 && c->quick_take_plain > 0 &&
                   (c->quick_push_large > 0 || QLIMIT <= SMALL) &&
                   c->quick_full > 0 && c->flush_fail > 0 && c->flush_empty > 0 &&
                   c->flush_grow > 0 && c->flushed > 0 && c->hostile_quick > 0 &&
                   (c->max_quick > 0 || sizeof(size_t) < 8),
               "quick coverage");
}

/* The model's geometry is the engine's. */
static void geometry(void **state)
{
    (void)state;
    assert_int_equal(MIN, FF_MIN);
    assert_int_equal(SMALL, FF_SMALL);
    assert_int_equal(QLIMIT, FF_QUICK_LIMIT);
    assert_int_equal(QLEVELS, FF_QUICK_LEVELS);
    assert_int_equal(SUB, FF_SUB);
    assert_int_equal(W, GJB_W);
    assert_int_equal(G, GJB_G);
    if (sizeof(size_t) == 8)
        assert_true(MIN <= 32); /* SPEC.md section 2 */
    for (size_t s = MIN; s < ((size_t)1 << 24); s += G)
        if (class_of(s) != ff_class(s) || ff_class_floor(class_of(s)) > s ||
            ff_class_floor(class_of(s) + 1) <= s)
            fail_msg("class of %zu: model %u, engine %u", s, class_of(s), ff_class(s));
    assert_int_equal(block_size(1), gjb_ff_block_size(1));
    assert_int_equal(block_size(SIZE_MAX - W - G + 1), 0);
    assert_int_equal(gjb_ff_block_size(SIZE_MAX - W - G + 1), 0);
}

/* Every layout runs twice: without and with GJB_QUICK (*state, set by
 * BOTH below). */
static bool quick_of(void **state)
{
    return *state != NULL;
}

static void test_one_region(void **state)
{
    run_layout(&(struct layout){"one_region", 64, 96 * 1024, {{0}}}, quick_of(state));
}

static void test_regions_ascending(void **state)
{
    run_layout(&(struct layout){"regions_ascending", 3, 24 * 1024,
                                {{40000, 32 * 1024}, {100001, 20000}, {0}}},
               quick_of(state));
}

/* Regions added below the first one, unaligned, the last the largest (the
 * table of large classes moves into it). */
static void test_regions_descending_unaligned(void **state)
{
    run_layout(&(struct layout){"regions_descending", 600005, 16 * 1024,
                                {{300007, 16 * 1024}, {9, 30000}, {0}}},
               quick_of(state));
}

/* A small first region, then four times larger ones: the large-class
 * table grows twice. */
static void test_regions_growing(void **state)
{
    run_layout(&(struct layout){"regions_growing", 500000, 3000,
                                {{200000, 12000}, {4000, 48000}, {700001, 190000}}},
               quick_of(state));
}

static void test_tiny_heap(void **state)
{
    run_layout(&(struct layout){"tiny_heap", 17, 2500, {{0}}}, quick_of(state));
}

/* A first region of exactly FF_QUICK_MIN bytes, unaligned (the smallest
 * heap with quick lists), a smaller one below and a four times larger one
 * above (the hot region and the large-class table move): quick blocks in
 * every region. */
static void test_regions_quick(void **state)
{
    run_layout(&(struct layout){"regions_quick", 250001, FF_QUICK_MIN,
                                {{7, 20000}, {400003, 4 * FF_QUICK_MIN}, {0}}},
               quick_of(state));
}

/* GJB_QUICK gives quick lists to a heap of FF_QUICK_MIN bytes (room for
 * a block per FF_QUICK_PER bytes, at most FF_QUICK_CAP), none to a smaller
 * one. */
static void quick_threshold(void **state)
{
    (void)state;
    gjb_heap *h;
    const size_t lens[] = {FF_QUICK_MIN - G, FF_QUICK_MIN, FF_QUICK_MIN + FF_QUICK_PER - G,
                           FF_QUICK_MIN + FF_QUICK_PER, sizeof arena - 64};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t len = lens[k];
        assert_int_equal(gjb_heap_init(arena + 64, len, GJB_FIRST_FIT | GJB_QUICK, 1, &h), GJB_OK);
        assert_int_equal(ff_quick_left(h), len >= FF_QUICK_MIN && FF_QUICK_OK ? quick_cap(len) : 0);
        assert_int_equal(*ff_quick_mark(h), ff_quick_left(h) ? FF_QUICK_HAS : 0);
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
    }
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned c = 0; c < NCLASS; c++)
        free(cl[c].a);
    for (unsigned k = 0; k < QLEVELS; k++)
        for (unsigned c = 0; c < QN; c++)
            free(ql[k][c].a);
    return 0;
}

/* Test f without, then with GJB_QUICK. */
#define BOTH(f) {#f, f, NULL, NULL, NULL}, {#f "_quick", f, NULL, NULL, &quick_flag}

int main(void)
{
    static int quick_flag;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(geometry),
        cmocka_unit_test(quick_threshold),
        BOTH(test_one_region),
        BOTH(test_regions_ascending),
        BOTH(test_regions_descending_unaligned),
        BOTH(test_regions_growing),
        BOTH(test_tiny_heap),
        BOTH(test_regions_quick),
    };
    return cmocka_run_group_tests_name("heap_model", tests, NULL, teardown);
}
