/*
 * test_buddy_damage.c - BUDDY heaps with damaged metadata: out-of-band tags,
 * the list links kept in free blocks (a write after free), the list heads
 * and mask, and the region record. Every damage must be refused or reported
 * (GJB_E_CORRUPT, a refused allocation, a merge not done) without anything
 * written through it, and validate must say so; repairing the bytes makes
 * the heap whole again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buddy.h"
#include "engine/heap_ops.h"

#define ARENA (64 * 1024)
/* The smallest block (a unit: 32 bytes on LP64 and i386, 16 on 32-bit ARM)
 * and the granule (16, 8): the damage below is laid out in them. */
#define U GJB_BU
#define G GJB_G
#define IU ((intptr_t)GJB_BU) /* the same, for offsets */
#define IG ((intptr_t)GJB_G)

static _Alignas(65536) char arena[ARENA];
static _Alignas(64) char extra[256];
static _Alignas(16384) char second[16384]; /* a second region */

struct bnode {
    intptr_t next, prev;
};

static gjb_heap *fresh(void)
{
    gjb_heap *h;
    memset(arena, 0, sizeof arena);
    assert_int_equal(gjb_heap_init(arena, ARENA, GJB_BUDDY, 2, &h), GJB_OK);
    return h;
}

static unsigned char *tag_in(gjb_heap *h, const struct gjb_region *r, const void *p)
{
    return (unsigned char *)h + r->end + (size_t)((const char *)p - (char *)h - r->first) / GJB_BU;
}

static unsigned char *tag(gjb_heap *h, const void *p)
{
    return tag_in(h, &h->hot, p);
}

static struct bnode *node(void *p)
{
    return (struct bnode *)p;
}

static intptr_t off(gjb_heap *h, const void *p)
{
    return (const char *)p - (const char *)h;
}

static intptr_t *heads(gjb_heap *h)
{
    return h->lists; /* BUDDY's BD_ORDERS list heads */
}

static void *take(gjb_heap *h, size_t n)
{
    void *p;
    assert_int_equal(gjb_heap_alloc(h, n, &p), GJB_OK);
    return p;
}

static void corrupt(gjb_heap *h)
{
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
}

static void whole(gjb_heap *h)
{
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* Two one-unit blocks that are buddies (a lower, b upper), as the second of
 * two allocations pops the upper half the first one's split pushed. The
 * one-unit blocks already free (the carving may leave one at the low end of
 * the block area) are taken first and kept, so that the first allocation
 * splits. */
static void buddies(gjb_heap *h, char **a, char **b)
{
    while (h->map & 1)
        (void)take(h, U);
    *a = take(h, U);
    *b = take(h, U);
    assert_ptr_equal(*b, *a + U);
    assert_int_equal((uintptr_t)*a % (2 * U), 0);
}

static int count_blocks(void *ctx, void *payload, size_t size, bool used)
{
    (void)payload, (void)size, (void)used;
    (*(int *)ctx)++;
    return 0;
}

/* --- tags ------------------------------------------------------------- */

static void damaged_tags(void **state)
{
    (void)state;
    gjb_heap *h = fresh();
    char *a, *b;
    buddies(h, &a, &b);
    unsigned char t = *tag(h, a);

    *tag(h, a) = 0x3f; /* an order beyond any block */
    assert_int_equal(gjb_heap_free(h, a), GJB_E_CORRUPT);
    assert_int_equal(gjb_heap_usable_size(h, a), 0);
    corrupt(h);
    /* the first order no block can have here (ILP32: one whose size a size_t
     * cannot hold, below BD_ORDERS) */
    *tag(h, a) = (unsigned char)(BD_ORDER_END + 1);
    assert_int_equal(gjb_heap_free(h, a), GJB_E_CORRUPT);
    assert_int_equal(gjb_heap_usable_size(h, a), 0);
    assert_int_equal(gjb_heap_block(h, a), 0); /* (the system heap's caches' look) */
    corrupt(h);
    /* order 32: on ILP32 a shift by the word's width, which x86 reads as
     * no shift (a one-unit block) */
    *tag(h, a) = 33;
    assert_int_equal(gjb_heap_free(h, a), GJB_E_CORRUPT);
    assert_int_equal(gjb_heap_block(h, a), 0);
    corrupt(h);
    *tag(h, b) = 2; /* order 1 at an address aligned to one unit only */
    *tag(h, a) = t;
    assert_int_equal(gjb_heap_free(h, b), GJB_E_CORRUPT);
    corrupt(h);
    *tag(h, b) = t;
    whole(h);

    char *c = take(h, 2 * U); /* an interior unit with a tag */
    *tag(h, c + U) = 1;
    corrupt(h);
    *tag(h, c + U) = 0;
    whole(h);

    intptr_t f = heads(h)[gjb_ctz64(h->map)]; /* a free block */
    *tag(h, (char *)h + f) |= BD_TAG_ALIGNED;  /* a flag free blocks never have */
    corrupt(h);
    *tag(h, (char *)h + f) &= (unsigned char)~BD_TAG_ALIGNED;
    whole(h);

    char *first = (char *)h + h->hot.first; /* the walk stops at a missing tag */
    unsigned char ft = *tag(h, first);
    assert_ptr_equal(gjb_heap_block_of(h, first + 8), first); /* an allocated block */
    *tag(h, first) = 0;
    int n = 0;
    assert_int_equal(gjb_heap_walk(h, count_blocks, &n), 0);
    assert_int_equal(n, 0);
    assert_null(gjb_heap_block_of(h, first + 8)); /* no tag back to the area's start */
    corrupt(h);
    *tag(h, first) = 0x3f; /* allocated, of an order beyond any block */
    n = 0;
    assert_int_equal(gjb_heap_walk(h, count_blocks, &n), 0);
    assert_int_equal(n, 0);
    assert_null(gjb_heap_block_of(h, first + 8));
    assert_int_equal(gjb_heap_usable_size(h, first), 0);
    corrupt(h);
    *tag(h, first) = ft;
    whole(h);
    n = 0;
    assert_int_equal(gjb_heap_walk(h, count_blocks, &n), 0);
    assert_true(n > 4);
}

static void past_the_area(gjb_heap *h, const struct gjb_region *r, void **held, size_t n);

/* A block's tag says an order whose block is aligned at its address but
 * would run past the end of the block area: free (the fast path hands it
 * to the general one), realloc and usable size refuse it with CORRUPT and
 * write nothing; validate says so. */
static void tag_order_past_the_area(void **state)
{
    (void)state;
    gjb_heap *h = fresh();
    static void *held[ARENA / U];
    size_t n = 0;
    void *p;
    while (gjb_heap_alloc(h, U, &p) == GJB_OK) /* every unit a block of its own */
        held[n++] = p;
    assert_true(n > 1000);
    whole(h);
    past_the_area(h, &h->hot, held, n);
}

/* The same in a heap of two regions (the fast paths out of line, each
 * block's region searched), in the region added second. */
static void tag_order_past_the_area_of_a_second_region(void **state)
{
    (void)state;
    gjb_heap *h = fresh();
    memset(second, 0, sizeof second);
    assert_int_equal(gjb_heap_add_region(h, second, sizeof second), GJB_OK);
    static void *held[(ARENA + sizeof second) / U];
    size_t n = 0;
    void *p;
    while (gjb_heap_alloc(h, U, &p) == GJB_OK)
        held[n++] = p;
    assert_true(n > 1400);
    whole(h);
    const struct gjb_region *r = gjb_region_at(h, off(h, second + 4096));
    assert_non_null(r);
    assert_ptr_not_equal(r, gjb_region_at(h, h->hot.first));
    past_the_area(h, r, held, n);
}

/* A walker that sees no block run past `end` when it starts before it. */
struct end_walk {
    const char *end;
    size_t n;
};

static int before_end(void *ctx, void *payload, size_t size, bool used)
{
    struct end_walk *w = ctx;
    (void)used;
    const char *p = payload;
    assert_true(p >= w->end || size <= (size_t)(w->end - p));
    w->n++;
    return 0;
}

/* Region r's area holds only allocated one-unit blocks (held[0 .. n), freed
 * at the end): one near its end is given a larger order, then refused. */
static void past_the_area(gjb_heap *h, const struct gjb_region *r, void **held, size_t n)
{
    /* a unit near the end, aligned to a block larger than what is left */
    char *end = (char *)h + r->end, *victim = NULL;
    unsigned k = 0;
    for (char *u = end - U; !victim && u >= end - U * 64; u -= U)
        for (unsigned j = 1; j < 12 && !victim; j++)
            if ((uintptr_t)u % ((size_t)U << j) == 0 && ((size_t)U << j) > (size_t)(end - u)) {
                victim = u;
                k = j;
            }
    assert_non_null(victim);
    assert_int_equal(*tag_in(h, r, victim), 1); /* allocated, order 0 */
    *tag_in(h, r, victim) = (unsigned char)(k + 1);
    static unsigned char before[ARENA], before2[sizeof second];
    memcpy(before, arena, ARENA);
    memcpy(before2, second, sizeof second);
    assert_int_equal(gjb_heap_free(h, victim), GJB_E_CORRUPT);
    void *out = (void *)0x1;
    assert_int_equal(gjb_heap_realloc(h, victim, 16, &out), GJB_E_CORRUPT);
    assert_ptr_equal(out, (void *)0x1);
    assert_int_equal(gjb_heap_usable_size(h, victim), 0);
    struct end_walk w = {end, 0};
    assert_int_equal(gjb_heap_walk(h, before_end, &w), 0); /* it ends at the victim */
    assert_memory_equal(arena, before, ARENA);
    assert_memory_equal(second, before2, sizeof second);
    corrupt(h);
    *tag_in(h, r, victim) = 1;
    whole(h);
    /* a unit that is not aligned to the order its tag names */
    char *odd = victim - U;
    if ((uintptr_t)odd % (2 * U) == 0)
        odd -= U;
    assert_int_equal(*tag_in(h, r, odd), 1);
    *tag_in(h, r, odd) = 2; /* allocated, order 1 */
    assert_int_equal(gjb_heap_free(h, odd), GJB_E_CORRUPT);
    assert_int_equal(gjb_heap_usable_size(h, odd), 0);
    corrupt(h);
    *tag_in(h, r, odd) = 1;
    whole(h);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gjb_heap_free(h, held[i]), GJB_OK);
    whole(h);
}

#define FREE0 ((unsigned char)(BD_TAG_FREE | 1)) /* tag of a free one-unit block */

static void unmerged_buddies(void **state)
{
    (void)state;
    gjb_heap *h = fresh();
    char *a, *b;
    buddies(h, &a, &b);
    assert_int_equal(gjb_heap_free(h, a), GJB_OK); /* b allocated: no merge */
    whole(h);
    unsigned char t = *tag(h, b);
    *tag(h, b) = FREE0; /* b reads free beside its free buddy */
    corrupt(h);
    *tag(h, b) = t;
    whole(h);
}

/* --- links in free blocks ------------------------------------------------ */

/* List 0 = c -> a: two free one-unit blocks whose buddies b and d are held. */
static gjb_heap *two_on_list0(char **a, char **b, char **c, char **d)
{
    gjb_heap *h = fresh();
    buddies(h, a, b);
    buddies(h, c, d);
    assert_int_equal(gjb_heap_free(h, *a), GJB_OK);
    assert_int_equal(gjb_heap_free(h, *c), GJB_OK);
    assert_int_equal(heads(h)[0], off(h, *c));
    assert_int_equal(node(*c)->next, off(h, *a));
    whole(h);
    return h;
}

static void damaged_list_refuses_allocation(void **state)
{
    (void)state;
    char *a, *b, *c, *d;
    gjb_heap *h = two_on_list0(&a, &b, &c, &d);
    void *p = (void *)0x1;
    struct gjbmem_heap_stats st;

    intptr_t saved = node(c)->next;
    node(c)->next = 8; /* not a block */
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    assert_ptr_equal(p, (void *)0x1);
    corrupt(h);
    node(c)->next = (intptr_t)1 << (sizeof(intptr_t) == 8 ? 46 : 30); /* far outside */
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    corrupt(h);
    node(c)->next = off(h, c) + IG; /* inside the heap, not a unit */
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    corrupt(h);
    /* A unit, but no free block of order 0: an allocated block, and the
     * head of another order's list. Refused, nothing written through it. */
    static unsigned char before[ARENA];
    intptr_t other = heads(h)[gjb_ctz64(h->map & ~1ULL)];
    assert_true(other != 0);
    const intptr_t not_free0[] = {off(h, d), off(h, b), other};
    for (size_t i = 0; i < sizeof not_free0 / sizeof not_free0[0]; i++) {
        node(c)->next = not_free0[i];
        memcpy(before, arena, ARENA);
        assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
        assert_ptr_equal(p, (void *)0x1);
        assert_memory_equal(arena, before, ARENA);
        corrupt(h);
    }
    node(c)->next = saved;

    /* a does not point back at c: validation sees it. An allocation does
     * not read it: taking c makes a the first block, whose back link is
     * not kept (below). */
    saved = node(a)->prev;
    node(a)->prev = 0;
    corrupt(h);
    node(a)->prev = saved;

    *tag(h, c) = (unsigned char)(BD_TAG_FREE | 2); /* the head's tag says order 1 */
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    corrupt(h);
    *tag(h, c) = FREE0;

    intptr_t head = heads(h)[0];
    heads(h)[0] = -(intptr_t)ARENA; /* outside every region */
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    corrupt(h);
    /* Far outside any mapping: refused before anything is read through it
     * (reading the block's links there would crash). */
    heads(h)[0] = (intptr_t)1 << (sizeof(intptr_t) == 8 ? 46 : 30);
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    assert_int_equal(gjb_heap_memalign(h, U, U, &p), GJB_E_CORRUPT);
    corrupt(h);
    heads(h)[0] = head + IG; /* inside the heap, not a unit */
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    corrupt(h);
    heads(h)[0] = head;

    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.failed, 0); /* damage is no failed allocation */
    whole(h);
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_OK);
    assert_ptr_equal(p, c);
    whole(h);
}

/* An allocation in a heap of both regions (arena, second) with a damaged
 * free list: refused as CORRUPT, *out and both regions untouched. */
static void alloc_refused_writes_nothing(gjb_heap *h)
{
    static unsigned char before[ARENA], before2[sizeof second];
    void *p = (void *)0x1;
    memcpy(before, arena, ARENA);
    memcpy(before2, second, sizeof second);
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_E_CORRUPT);
    assert_ptr_equal(p, (void *)0x1);
    assert_memory_equal(arena, before, ARENA);
    assert_memory_equal(second, before2, sizeof second);
    corrupt(h);
}

/* The same damage in a heap of two regions, where an allocation finds the
 * region of the list's first block and of its next block by a search: a
 * head or link in no region, inside a region but not on a unit, or on a
 * unit that is no free block of the order. Refused, nothing written. */
static void damaged_list_in_a_heap_of_two_regions(void **state)
{
    (void)state;
    gjb_heap *h = fresh();
    memset(second, 0, sizeof second);
    assert_int_equal(gjb_heap_add_region(h, second, sizeof second), GJB_OK);
    assert_int_equal(h->nregions, 2);
    char *a, *b, *c, *d;
    buddies(h, &a, &b);
    buddies(h, &c, &d);
    assert_int_equal(gjb_heap_free(h, a), GJB_OK);
    assert_int_equal(gjb_heap_free(h, c), GJB_OK);
    assert_int_equal(heads(h)[0], off(h, c));
    assert_int_equal(node(c)->next, off(h, a));
    whole(h);

    intptr_t head = heads(h)[0], next = node(c)->next;
    /* just below region 0's memory (no block area ends there), far away,
     * inside a unit */
    const intptr_t below = h->hot.lo - IU, far = (intptr_t)1 << (sizeof(intptr_t) == 8 ? 46 : 30);
    assert_null(gjb_region_at(h, below));
    const intptr_t bad_heads[] = {below, far, head + IG};
    for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
        heads(h)[0] = bad_heads[i];
        alloc_refused_writes_nothing(h);
    }
    heads(h)[0] = head;
    const intptr_t bad_next[] = {8, below, far, off(h, c) + IG, off(h, d), off(h, b)};
    for (size_t i = 0; i < sizeof bad_next / sizeof bad_next[0]; i++) {
        node(c)->next = bad_next[i];
        alloc_refused_writes_nothing(h);
    }
    node(c)->next = next;
    /* and a free of what is no block: in no region, inside a unit */
    assert_int_equal(gjb_heap_free(h, extra), GJB_E_BADPTR);
    assert_int_equal(gjb_heap_free(h, b + G), GJB_E_BADPTR);
    whole(h);
    void *p;
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_OK);
    assert_ptr_equal(p, c);
    whole(h);
}

static void damaged_links_stop_a_merge(void **state)
{
    (void)state;
    char *a, *b, *c, *d;
    gjb_heap *h = two_on_list0(&a, &b, &c, &d);
    node(a)->prev = 8; /* a's link back to c damaged */
    assert_int_equal(gjb_heap_free(h, b), GJB_OK); /* freed, not merged with a */
    assert_int_equal(*tag(h, b), FREE0);
    corrupt(h);

    h = two_on_list0(&a, &b, &c, &d);
    node(c)->next = off(h, d); /* c no longer leads to a */
    assert_int_equal(gjb_heap_free(h, b), GJB_OK);
    assert_int_equal(*tag(h, a), FREE0);
    corrupt(h);

    h = two_on_list0(&a, &b, &c, &d);
    node(c)->next = 8; /* the head's forward link damaged: d's buddy c stays */
    assert_int_equal(gjb_heap_free(h, d), GJB_OK);
    assert_int_equal(*tag(h, c), FREE0);
    corrupt(h);

    /* The first block (c) is unlinked without writing into its next one
     * (a), which becomes the first: a's back link is not read, and not
     * kept once a is first. */
    h = two_on_list0(&a, &b, &c, &d);
    node(a)->prev = 8;
    assert_int_equal(gjb_heap_free(h, d), GJB_OK); /* merged with c */
    assert_int_equal(*tag(h, c), (unsigned char)(BD_TAG_FREE | 2));
    assert_int_equal(*tag(h, d), 0);
    assert_int_equal(heads(h)[0], off(h, a));
    assert_int_equal(node(a)->prev, 8);
    whole(h);
}

/* Taking the first block of a list writes nothing into the next one (its
 * back link is left as it was: the first block's is not kept), and a
 * block pushed in front of the first gives it its back link again. */
static void taking_the_first_block_writes_nothing_into_the_next(void **state)
{
    (void)state;
    char *a, *b, *c, *d;
    gjb_heap *h = two_on_list0(&a, &b, &c, &d);
    struct bnode before = *node(a);
    void *p;
    assert_int_equal(gjb_heap_alloc(h, U, &p), GJB_OK);
    assert_ptr_equal(p, c);
    assert_memory_equal(node(a), &before, sizeof before);
    assert_int_equal(heads(h)[0], off(h, a));
    whole(h);
    node(a)->prev = 8; /* the first block's back link: not read */
    whole(h);
    assert_int_equal(gjb_heap_free(h, c), GJB_OK); /* d allocated: no merge */
    assert_int_equal(heads(h)[0], off(h, c));
    assert_int_equal(node(a)->prev, off(h, c));
    whole(h);
}

/* List 0 = e -> c -> a, the buddies b, d, f held: unlinking c (its buddy
 * d freed) writes into a and e, so both of c's links must agree with
 * them; either damaged, d is freed without a merge. */
static void damaged_middle_links_stop_a_merge(void **state)
{
    (void)state;
    for (int damage = 0; damage < 2; damage++) {
        char *a, *b, *c, *d, *e, *f;
        gjb_heap *h = fresh();
        buddies(h, &a, &b);
        buddies(h, &c, &d);
        buddies(h, &e, &f);
        assert_int_equal(gjb_heap_free(h, a), GJB_OK);
        assert_int_equal(gjb_heap_free(h, c), GJB_OK);
        assert_int_equal(gjb_heap_free(h, e), GJB_OK);
        assert_int_equal(heads(h)[0], off(h, e));
        assert_int_equal(node(c)->next, off(h, a));
        assert_int_equal(node(c)->prev, off(h, e));
        whole(h);
        if (damage)
            node(a)->prev = off(h, e); /* c's next block does not point back at c */
        else
            node(c)->next = off(h, f); /* c's next block an allocated one */
        assert_int_equal(gjb_heap_free(h, d), GJB_OK);
        assert_int_equal(*tag(h, c), FREE0); /* not merged */
        assert_int_equal(*tag(h, d), FREE0);
        corrupt(h);
    }
}

/* List 0 = c -> a, and a's next link back to c: a cycle through the
 * first block, whose back link is not kept, so that no back link gives it
 * away. With the descriptor's block count raised too (free blocks =
 * segments - allocated ones), validation must still end: it counts the
 * listed blocks against the free blocks its walk of the tags found. */
static void a_cycle_through_the_first_block_ends_validation(void **state)
{
    (void)state;
    char *a, *b, *c, *d;
    gjb_heap *h = two_on_list0(&a, &b, &c, &d);
    size_t segments = h->segments;
    node(a)->next = off(h, c);
    node(c)->prev = off(h, a);
    corrupt(h);
    h->segments = SIZE_MAX / 2;
    corrupt(h); /* (before: a walk of about SIZE_MAX / 2 steps) */
    h->segments = segments;
    node(a)->next = 0;
    whole(h);
}

static void damaged_links_stop_growing_in_place(void **state)
{
    (void)state;
    gjb_heap *h = fresh();
    char *a, *b;
    buddies(h, &a, &b);
    assert_int_equal(gjb_heap_free(h, b), GJB_OK);
    memset(a, 0x5a, U);
    node(b)->next = 8; /* b is the first block: its next one must be a block of its list */
    void *p;
    assert_int_equal(gjb_heap_realloc(h, a, 2 * U, &p), GJB_OK);
    assert_ptr_not_equal(p, a); /* moved instead of taking b */
    for (size_t i = 0; i < U; i++)
        assert_int_equal(((unsigned char *)p)[i], 0x5a);
    assert_int_equal(*tag(h, b), FREE0);
}

/* --- list heads, mask, region record, layout ---------------------------- */

static void damaged_descriptor(void **state)
{
    (void)state;
    char *a, *b, *c, *d;
    gjb_heap *h = two_on_list0(&a, &b, &c, &d);

    uint64_t mask = h->map;
    h->map |= 1ULL << 40; /* list 40 is empty */
    corrupt(h);
    h->map = mask | (1ULL << BD_ORDERS); /* no such order */
    corrupt(h);
    h->map = mask;
    whole(h);
    /* the hot region's span in units, which the hot paths trust */
    h->hot_units++;
    corrupt(h);
    h->hot_units -= 2;
    corrupt(h);
    h->hot_units++;
    whole(h);
    /* fields only FIRST_FIT uses */
    h->nlarge = 1;
    corrupt(h);
    h->nlarge = 0;
    h->small_map = 4;
    corrupt(h);
    h->small_map = 0;
    whole(h);

    intptr_t saved = node(a)->prev;
    node(a)->prev = off(h, d); /* a's back link names the wrong block */
    corrupt(h);
    node(a)->prev = saved;
    whole(h);

    h->hot.end -= IG; /* the block area no longer a whole number of units */
    corrupt(h);
    h->hot.end += IG;
    whole(h);
    h->hot.first += IG; /* the block area no longer starts on a unit */
    corrupt(h);
    h->hot.first -= IG;
    whole(h);
    intptr_t hi = h->hot.hi;
    h->hot.hi = h->hot.end + 1; /* the tags run past the region */
    corrupt(h);
    h->hot.hi = h->hot.end - IU; /* the blocks too */
    corrupt(h);
    h->hot.hi = hi;
    whole(h);
    size_t segments = h->segments;
    h->segments = h->alloc_blocks; /* fewer free blocks than the lists hold */
    corrupt(h);
    h->segments = h->alloc_blocks - 1; /* fewer blocks than the allocated ones */
    corrupt(h);
    h->segments = segments;
    whole(h);

    /* A region whose area rounds up past its end, and one too small for a
     * unit and its tag. */
    assert_int_equal(gjb_heap_add_region(h, extra + 1, 20), GJB_E_SMALL);
    assert_int_equal(gjb_heap_add_region(h, extra, U), GJB_E_SMALL);
    /* one whose first unit's place rounds up past the address space's end
     * (never dereferenced) */
    assert_int_equal(gjb_heap_add_region(h, (void *)(UINTPTR_MAX - 3), 2), GJB_E_SMALL);
    assert_int_equal(h->nregions, 1);
    whole(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(damaged_tags),
        cmocka_unit_test(tag_order_past_the_area),
        cmocka_unit_test(tag_order_past_the_area_of_a_second_region),
        cmocka_unit_test(unmerged_buddies),
        cmocka_unit_test(damaged_list_refuses_allocation),
        cmocka_unit_test(damaged_list_in_a_heap_of_two_regions),
        cmocka_unit_test(damaged_links_stop_a_merge),
        cmocka_unit_test(taking_the_first_block_writes_nothing_into_the_next),
        cmocka_unit_test(damaged_middle_links_stop_a_merge),
        cmocka_unit_test(a_cycle_through_the_first_block_ends_validation),
        cmocka_unit_test(damaged_links_stop_growing_in_place),
        cmocka_unit_test(damaged_descriptor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
