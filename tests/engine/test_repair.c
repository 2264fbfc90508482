/*
 * test_repair.c - src/engine/repair.c alone: gjb_heap_within on hostile
 * descriptors, and gjb_heap_repair on the states an operation leaves when
 * its process dies between two stores (made here by hand; the kills
 * themselves are tests/shm/test_shm_crash.c): a proved block whose header
 * still says free, a block shrunk before its tail was freed, an overlapping
 * proved block (a grow to the left under way), class lists and counters
 * left half-updated, an aligned block, two regions; and what it refuses
 * (a gap too small to be a block, a bitmap outside the region, an unknown
 * policy, a layout whose rebuilds would overlap). BUDDY: the states
 * between a tag's and a link's store (a shrink
 * that gave back halves before its tag changed, a merge under way, a
 * half-made allocation, scrambled lists), arbitrary tags, refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/heap_ops.h" /* firstfit.h and buddy.h: the block layouts */

#define ARENA (64 * 1024)
#define NB 24

static _Alignas(64) unsigned char arena[ARENA];
static void *blk[NB];
static size_t len[NB];

static char *hdr_of(void *p)
{
    return (char *)p - GJB_W;
}

static void proof(gjb_heap *h, void *p, bool on)
{
    const struct gjb_region *r = gjb_region_at(h, gjb_off(h, hdr_of(p)));
    assert_non_null(r);
    size_t bit = ff_bit(r, gjb_off(h, p)), *w = &ff_proof(h, r)[bit / FF_WBITS];
    size_t m = (size_t)1 << (bit % FF_WBITS);
    *w = on ? *w | m : *w & ~m;
}

/* A two-region heap of the policy with NB blocks (every third freed),
 * each filled with its index. */
static gjb_heap *blocks_of(int policy)
{
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, 40000, policy, 4, &h), GJB_OK);
    assert_int_equal(gjb_heap_add_region(h, arena + 40960, 20000), GJB_OK);
    for (int i = 0; i < NB; i++) {
        len[i] = 24 + (size_t)i * 40;
        assert_int_equal(i % 7 == 6 ? gjb_heap_memalign(h, 256, len[i], &blk[i])
                                    : gjb_heap_alloc(h, len[i], &blk[i]),
                         GJB_OK);
        memset(blk[i], i, len[i]);
    }
    for (int i = 0; i < NB; i += 3) {
        assert_int_equal(gjb_heap_free(h, blk[i]), GJB_OK);
        blk[i] = NULL;
    }
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    return h;
}

/* The same, FIRST_FIT, a block of its second region allocated and freed. */
static gjb_heap *heap_with_blocks(void)
{
    gjb_heap *h = blocks_of(GJB_FIRST_FIT);
    void *far;
    assert_int_equal(gjb_heap_alloc(h, 15000, &far), GJB_OK); /* the second region */
    assert_int_equal(gjb_heap_free(h, far), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    return h;
}

/* Every live block is allocated, where it was, with its bytes. */
static void blocks_intact(gjb_heap *h)
{
    for (int i = 0; i < NB; i++) {
        if (!blk[i])
            continue;
        assert_true(gjb_heap_usable_size(h, blk[i]) >= len[i]);
        for (size_t k = 0; k < len[i]; k++)
            assert_int_equal(((unsigned char *)blk[i])[k], i);
    }
}

static void repaired_and_intact(gjb_heap *h)
{
    assert_int_equal(gjb_heap_repair(h), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    blocks_intact(h);
    assert_int_equal(gjb_heap_repair(h), GJB_OK); /* idempotent */
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* The repair of a heap no one damaged: the same blocks, counts and bytes. */
static void repaired_the_same(gjb_heap *h)
{
    struct gjbmem_heap_stats before, after;
    gjb_heap_get_stats(h, &before);
    repaired_and_intact(h);
    gjb_heap_get_stats(h, &after);
    assert_int_equal(before.alloc_blocks, after.alloc_blocks);
    assert_int_equal(before.free_blocks, after.free_blocks);
    assert_int_equal(before.free, after.free);
}

static void repair_of_a_whole_heap_changes_nothing(void **state)
{
    (void)state;
    gjb_heap *h = heap_with_blocks();
    repaired_the_same(h);
    assert_true(gjb_ff_aligned(hdr_of(blk[13]))); /* memalign's flag kept */
}

/* Lists, maps and counters half-updated: rebuilt from the blocks. */
static void lists_and_counters_rebuilt(void **state)
{
    (void)state;
    gjb_heap *h = heap_with_blocks();
    memset(h->lists, 0x5a, FF_EXACT * sizeof(intptr_t));
    h->small_map = 0xffffffffu;
    h->map = 0;
    h->free = 1;
    h->segments = 99;
    h->alloc_blocks = 0;
    ff_large(h)[0] = 12345;
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    repaired_and_intact(h);
}

/* An allocation that set its proof bit while the header still said free:
 * never (the header comes first), but a bit over a free block's header is
 * dropped all the same; and an allocation that wrote its header but not
 * yet its bit is free again. */
static void half_made_allocations_dropped(void **state)
{
    (void)state;
    gjb_heap *h = heap_with_blocks();
    void *ghost;
    assert_int_equal(gjb_heap_alloc(h, 40, &ghost), GJB_OK);
    assert_int_equal(gjb_heap_free(h, ghost), GJB_OK);
    proof(h, ghost, true); /* a proved block whose header says free */
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    repaired_and_intact(h);
    assert_int_equal(gjb_heap_usable_size(h, ghost), 0);
    /* header written, bit not yet: the block is free after the repair */
    assert_int_equal(gjb_heap_alloc(h, 40, &ghost), GJB_OK);
    proof(h, ghost, false);
    repaired_and_intact(h);
    assert_int_equal(gjb_heap_usable_size(h, ghost), 0);
}

/* A shrink that wrote the smaller header before it freed the tail. */
static void shrink_under_way(void **state)
{
    (void)state;
    gjb_heap *h = heap_with_blocks();
    char *b = hdr_of(blk[23]);
    size_t hd = gjb_word(b), s = hd & ~FF_FLAGS;
    assert_true(s >= 2 * FF_MIN + GJB_G);
    gjb_set_word(b, (s - FF_MIN) | (hd & FF_FLAGS));
    len[23] = s - FF_MIN - GJB_W;
    repaired_and_intact(h);
    assert_int_equal(gjb_heap_usable_size(h, blk[23]), s - FF_MIN - GJB_W);
}

/* A grow to the left: the new, lower block proved with its header, the old
 * one not yet unproved. The old one (inside the new) is dropped. */
static void overlapping_block_dropped(void **state)
{
    (void)state;
    gjb_heap *h = heap_with_blocks();
    char *b = hdr_of(blk[4]);
    assert_null(blk[3]); /* freed: a free block before blk[4] */
    assert_true(gjb_word(b) & FF_PREV_FREE);
    char *p = b - gjb_word(b - GJB_W);
    size_t s = ff_size(b) + ff_size(p);
    gjb_set_word(p, s);
    proof(h, p + GJB_W, true);
    void *old = blk[4];
    blk[4] = p + GJB_W;
    len[4] = 0;
    assert_int_equal(gjb_heap_repair(h), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    assert_int_equal(gjb_heap_usable_size(h, old), 0);
    assert_int_equal(gjb_heap_usable_size(h, blk[4]), s - GJB_W);
    blocks_intact(h);
}

/* What the repair cannot mend: it says so and the heap must not be used. */
static void refusals(void **state)
{
    (void)state;
    assert_int_equal(gjb_heap_repair(NULL), GJB_E_CORRUPT);
    gjb_heap *h = heap_with_blocks();
    h->magic ^= 1;
    assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
    h->magic ^= 1;
    /* a gap smaller than a block between two proved blocks (where a block
     * is more than one granule: LP64) */
    char *b = hdr_of(blk[1]);
    size_t hd = gjb_word(b);
    gjb_set_word(b, ((hd & ~FF_FLAGS) - GJB_G) | (hd & FF_FLAGS));
    assert_int_equal(gjb_heap_repair(h), FF_MIN > GJB_G ? GJB_E_CORRUPT : GJB_OK);
    /* a region whose bitmap would lie outside it */
    h = heap_with_blocks();
    struct gjb_region *t = (struct gjb_region *)gjb_regions(h);
    intptr_t hi = t[0].hi;
    t[0].hi = t[0].end + (intptr_t)GJB_W;
    assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
    t[0].hi = t[0].end;
    assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
    t[0].hi = hi;
    /* a gap at a region's end smaller than a block */
    h = heap_with_blocks();
    void *last;
    size_t room = gjb_heap_max_alloc(h);
    assert_int_equal(gjb_heap_alloc(h, room, &last), GJB_OK);
    b = hdr_of(last);
    gjb_set_word(b, gjb_word(b) - GJB_G);
    assert_int_equal(gjb_heap_repair(h), FF_MIN > GJB_G ? GJB_E_CORRUPT : GJB_OK);
    /* an unknown policy */
    h = heap_with_blocks();
    h->policy = 7;
    assert_int_equal(gjb_heap_repair(h), GJB_E_POLICY);
}

/* --- BUDDY */

static gjb_heap *buddy_with_blocks(void)
{
    return blocks_of(GJB_BUDDY);
}

/* The tag of block p. */
static unsigned char *tag_of(gjb_heap *h, const void *p)
{
    intptr_t off = gjb_off(h, p);
    const struct gjb_region *r = gjb_region_at(h, off);
    assert_non_null(r);
    return bd_tag(h, r, off);
}

static void buddy_repair_changes_nothing(void **state)
{
    (void)state;
    gjb_heap *h = buddy_with_blocks();
    repaired_the_same(h);
    assert_true(gjb_bd_aligned(h, blk[13])); /* memalign's mark kept */
}

/* Lists, map and counters scrambled: rebuilt from the tags. */
static void buddy_lists_and_counters_rebuilt(void **state)
{
    (void)state;
    gjb_heap *h = buddy_with_blocks();
    memset(bd_heads(h), 0x5a, BD_ORDERS * sizeof(intptr_t));
    h->map = 0x1234;
    h->free = 1;
    h->segments = 99;
    h->alloc_blocks = 0;
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    repaired_and_intact(h);
}

/* The states a dead caller leaves between two stores. */
static void buddy_half_done_operations(void **state)
{
    (void)state;
    gjb_heap *h = buddy_with_blocks();
    /* a shrink that gave back its upper half before its tag changed */
    unsigned char *t = tag_of(h, blk[23]);
    unsigned k = (*t & BD_ORDER_MASK) - 1;
    assert_true(k >= 1);
    t[bd_size(k - 1) / GJB_BU] = bd_free_tag(k - 1);
    repaired_and_intact(h);
    assert_int_equal(gjb_heap_usable_size(h, blk[23]), bd_size(k)); /* as before the shrink */
    /* a free that changed the tag (to 0: a merge under way) and no more */
    void *gone = blk[22];
    *tag_of(h, gone) = 0;
    blk[22] = NULL;
    repaired_and_intact(h);
    assert_int_equal(gjb_heap_usable_size(h, gone), 0);
    /* two free buddies not yet merged */
    void *a, *b;
    assert_int_equal(gjb_heap_alloc(h, 32, &a), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 32, &b), GJB_OK);
    unsigned char *ta = tag_of(h, a), *tb = tag_of(h, b);
    *ta = *tb = bd_free_tag(0);
    repaired_and_intact(h);
    assert_int_equal(gjb_heap_usable_size(h, a), 0);
    assert_int_equal(gjb_heap_usable_size(h, b), 0);
    /* a split under way: a free block's tag gone, its halves not yet tagged */
    assert_int_equal(gjb_heap_alloc(h, 1000, &a), GJB_OK);
    assert_int_equal(gjb_heap_free(h, a), GJB_OK);
    *tag_of(h, a) = 0;
    repaired_and_intact(h);
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    size_t live = 0;
    for (int i = 0; i < NB; i++)
        live += blk[i] != NULL;
    assert_int_equal(st.alloc_blocks, live); /* nothing leaked */
}

/* Arbitrary tags (a hostile writer): the repair keeps what they name as
 * allocated blocks that fit, validates, and writes only inside the heap's
 * regions. */
static void buddy_arbitrary_tags(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 200; round++) {
        gjb_heap *h = buddy_with_blocks();
        memset(arena + 40000, 0xa5, 960); /* between the regions */
        memset(arena + 60960, 0xa5, ARENA - 60960);
        const struct gjb_region *t = gjb_regions(h);
        for (uint32_t i = 0; i < h->nregions; i++) {
            unsigned char *tag = bd_tag(h, &t[i], t[i].first);
            size_t units = (size_t)(t[i].end - t[i].first) / GJB_BU;
            for (size_t u = 0; u < units; u++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                if (x % 4 == 0)
                    tag[u] = (unsigned char)(x >> 24);
            }
        }
        assert_int_equal(gjb_heap_repair(h), GJB_OK);
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
        for (size_t i = 40000; i < 40960; i++)
            assert_int_equal(arena[i], 0xa5);
        for (size_t i = 60960; i < ARENA; i++)
            assert_int_equal(arena[i], 0xa5);
    }
}

/* A layout no heap makes (memory another process wrote): two regions on
 * the same bytes, or a region over the region table. Refused before
 * anything is written: the rebuild of one would write over what the other
 * reads. */
static void overlapping_layout_refused(int policy)
{
    static unsigned char before[ARENA];
    gjb_heap *h = blocks_of(policy);
    struct gjb_region *t = (struct gjb_region *)gjb_regions(h);
    t[1] = t[0];
    memcpy(before, arena, ARENA);
    assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
    assert_memory_equal(before, arena, ARENA);
    h = blocks_of(policy);
    t = (struct gjb_region *)gjb_regions(h);
    h->regions = t[1].first; /* the table, read from the second region's blocks */
    memcpy((char *)h + t[1].first, t, 2 * sizeof *t);
    memcpy(before, arena, ARENA);
    assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
    assert_memory_equal(before, arena, ARENA);
}

static void overlapping_layouts_refused(void **state)
{
    (void)state;
    overlapping_layout_refused(GJB_FIRST_FIT);
    overlapping_layout_refused(GJB_BUDDY);
}

/* The tables a rebuild clears and reads over the descriptor or each other
 * (a hostile writer's layout, which gjb_heap_within accepts): the class
 * table over the descriptor's `regions` field, whose clearing made the
 * descriptor's counters the region table's last entries, so that the
 * rebuild wrote at an offset the writer chose, outside the memory.
 * Refused before anything is written. */
static void tables_over_the_descriptor_refused(void **state)
{
    (void)state;
    static unsigned char before[ARENA];
    static volatile size_t victim; /* outside the arena */
    for (int variant = 0; variant < 3; variant++) {
        gjb_heap *h;
        memset(arena, 0, ARENA);
        assert_int_equal(gjb_heap_init(arena, ARENA, GJB_FIRST_FIT, 3, &h), GJB_OK);
        intptr_t tab = 4096;
        struct gjb_region *t = (struct gjb_region *)(void *)gjb_ptr(h, tab);
        for (int i = 0; i < 3; i++) {
            t[i].lo = 8192 * (i + 1);
            t[i].first = t[i].lo + 8;
            t[i].end = t[i].first + 64;
            t[i].hi = t[i].end + 256;
        }
        h->nregions = h->region_cap = 3;
        h->regions = tab;
        h->hot.lo = 32768;
        h->hot.first = h->hot.end = 32768 + 8;
        h->hot.hi = h->hot.end + 256;
        h->hot_span = 0;
        h->nlarge = 1;
        h->lists[0] = h->lists[1] = 0; /* no quick lists */
        intptr_t voff = (intptr_t)((const char *)&victim - (const char *)h);
        h->total = 1024;
        h->failed = (size_t)voff; /* what would be the table's last entry */
        h->peak_request = (size_t)voff;
        h->free_floor = (size_t)voff + 64;
        if (variant == 0) { /* the class table over the descriptor's `regions` */
            h->classes = (intptr_t)offsetof(struct gjb_heap, regions);
        } else if (variant == 1) { /* the region table (the same records) in the
                                    * descriptor's list heads, which the rebuild clears */
            h->classes = 2048;
            h->regions = (intptr_t)offsetof(struct gjb_heap, lists) + 4 * (intptr_t)sizeof(intptr_t);
            memcpy(gjb_ptr(h, h->regions), t, 3 * sizeof *t);
        } else { /* the class table over the region table */
            h->classes = tab + (intptr_t)sizeof *t;
        }
        assert_true(gjb_heap_within(arena, ARENA, h));
        victim = 0x41;
        memcpy(before, arena, ARENA);
        assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
        assert_memory_equal(before, arena, ARENA);
        assert_int_equal(victim, 0x41);
    }
}

/* A region laid out as no region is: refused, nothing written. */
static void buddy_refusals(void **state)
{
    (void)state;
    gjb_heap *h = buddy_with_blocks();
    struct gjb_region *t = (struct gjb_region *)gjb_regions(h);
    t[1].end += 8; /* not a whole unit */
    assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
    h = buddy_with_blocks();
    t = (struct gjb_region *)gjb_regions(h);
    t[0].hi = t[0].end + 4; /* the tags past the region */
    assert_int_equal(gjb_heap_repair(h), GJB_E_CORRUPT);
}

/* gjb_heap_within: the descriptor and everything it names in the memory. */
static void within_checks_every_offset(void **state)
{
    (void)state;
    gjb_heap *h = heap_with_blocks();
    assert_true(gjb_heap_within(arena, ARENA, h));
    assert_false(gjb_heap_within(NULL, ARENA, h));
    assert_false(gjb_heap_within(arena, ARENA, NULL));
    assert_false(gjb_heap_within(arena, (size_t)INTPTR_MAX + 1, h));
    assert_false(gjb_heap_within(arena + 64, ARENA - 64, h)); /* h before the memory */
    assert_false(gjb_heap_within(arena, 100, h));              /* the descriptor past it */
    assert_false(gjb_heap_within(arena, 60000, h));            /* the second region past it */
    assert_false(gjb_heap_within(arena, ARENA, (gjb_heap *)(void *)(arena + 8)));
#define EXPECT_OUTSIDE(mutation)                                                                   \
    do {                                                                                           \
        unsigned char keep[ARENA];                                                                 \
        memcpy(keep, arena, ARENA);                                                                \
        mutation;                                                                                  \
        assert_false(gjb_heap_within(arena, ARENA, h));                                            \
        memcpy(arena, keep, ARENA);                                                                \
    } while (0)
    struct gjb_region *t = (struct gjb_region *)gjb_regions(h);
    EXPECT_OUTSIDE(h->policy = 9);
    EXPECT_OUTSIDE(h->nregions = 0);
    EXPECT_OUTSIDE(h->nregions = h->region_cap + 1);
    EXPECT_OUTSIDE(h->region_cap = (uint32_t)h->max_regions + 1);
    EXPECT_OUTSIDE(h->hot.hi = (intptr_t)ARENA * 4);
    EXPECT_OUTSIDE(h->hot.lo = -(intptr_t)ARENA);
    EXPECT_OUTSIDE(h->hot.first = h->hot.lo - 16);
    EXPECT_OUTSIDE(h->hot.end = h->hot.hi + 16);
    EXPECT_OUTSIDE(h->hot_span += 16); /* the hot paths' range check would read past the area */
    EXPECT_OUTSIDE(h->regions = (intptr_t)ARENA);
    EXPECT_OUTSIDE(h->regions += 2);
    EXPECT_OUTSIDE(t[0].hi = (intptr_t)ARENA * 2);
    EXPECT_OUTSIDE(t[1].lo = -(intptr_t)ARENA * 2);
    EXPECT_OUTSIDE((h->regions = 0, h->nregions = 2));
    EXPECT_OUTSIDE(h->classes = (intptr_t)ARENA);
    EXPECT_OUTSIDE(h->classes += 2);
    EXPECT_OUTSIDE(h->nlarge = 100000);
    EXPECT_OUTSIDE(h->nlarge -= 1); /* a class table with no class for the largest blocks */
    EXPECT_OUTSIDE(h->nlarge = 0);
    assert_true(gjb_heap_within(arena, ARENA, h));
    /* a one-region heap, and BUDDY */
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, 32768, GJB_BUDDY, 4, &h), GJB_OK);
    assert_true(gjb_heap_within(arena, 32768, h));
    EXPECT_OUTSIDE(h->nregions = 2);
    /* the hot paths' range check in units would read tags past the area */
    EXPECT_OUTSIDE(h->hot_units += 1);
    EXPECT_OUTSIDE(h->hot_units = SIZE_MAX);
    assert_true(gjb_heap_within(arena, 32768, h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(repair_of_a_whole_heap_changes_nothing),
        cmocka_unit_test(lists_and_counters_rebuilt),
        cmocka_unit_test(half_made_allocations_dropped),
        cmocka_unit_test(shrink_under_way),
        cmocka_unit_test(overlapping_block_dropped),
        cmocka_unit_test(refusals),
        cmocka_unit_test(within_checks_every_offset),
        cmocka_unit_test(buddy_repair_changes_nothing),
        cmocka_unit_test(buddy_lists_and_counters_rebuilt),
        cmocka_unit_test(buddy_half_done_operations),
        cmocka_unit_test(buddy_arbitrary_tags),
        cmocka_unit_test(buddy_refusals),
        cmocka_unit_test(overlapping_layouts_refused),
        cmocka_unit_test(tables_over_the_descriptor_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
