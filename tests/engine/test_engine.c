/*
 * test_engine.c - the heap engine called directly (gjb_heap_*): init and
 * add_region edge cases, pointer checks, damaged metadata (validate must
 * report GJB_E_CORRUPT, and never crash; free/realloc of a block whose
 * metadata is damaged must refuse and write nothing, checked byte for
 * byte), the walk, usable sizes and statistics.
 *
 * The damage is done through the engine's own layout (engine/heap_internal.h,
 * engine/firstfit.h), one field at a time, on a copy of a heap that
 * validates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>

#include "engine/heap_ops.h" /* firstfit.h, and the watched entry points */
#include "gjbext.h"

#define ARENA (64 * 1024)

/* An offset far outside any heap: 16 TiB on LP64, 1 GiB on ILP32 (where
 * 1 << 44 does not fit an intptr_t). */
#define FAR_OFF ((intptr_t)1 << (sizeof(intptr_t) == 8 ? 44 : 30))

static _Alignas(64) unsigned char arena[ARENA];
static _Alignas(64) unsigned char saved[ARENA];
static _Alignas(64) unsigned char damaged[ARENA];

/* --- helpers ------------------------------------------------------------ */

static char *hdr_of(void *payload)
{
    return (char *)payload - GJB_W;
}

static void snapshot(void)
{
    memcpy(saved, arena, ARENA);
}

static void restore(void)
{
    memcpy(arena, saved, ARENA);
}

static size_t hdr(const char *b)
{
    return gjb_word(b);
}

static void set_hdr(char *b, size_t v)
{
    gjb_set_word(b, v);
}

static size_t bsize(const char *b)
{
    return ff_size(b);
}

static bool is_free(const char *b)
{
    return (hdr(b) & FF_FREE) != 0;
}

static void set_flag(char *b, size_t f)
{
    set_hdr(b, hdr(b) | f);
}

static void clear_flag(char *b, size_t f)
{
    set_hdr(b, hdr(b) & ~f);
}

/* The region table, writable (for the damage). */
static struct gjb_region *table(gjb_heap *h)
{
    return (struct gjb_region *)gjb_regions(h);
}

/* The proof bit of the block whose header is at b (its payload's granule). */
static void proof_set(gjb_heap *h, const struct gjb_region *r, const char *b)
{
    ff_prove(h, r, gjb_off(h, b) + (intptr_t)GJB_W);
}

static void proof_clear(gjb_heap *h, const struct gjb_region *r, const char *b)
{
    size_t bit = ff_bit(r, gjb_off(h, b) + (intptr_t)GJB_W);
    ff_proof(h, r)[bit / FF_WBITS] &= ~((size_t)1 << (bit % FF_WBITS));
}

static intptr_t next_of(gjb_heap *h, intptr_t b)
{
    return ff_link(h, b, FF_NEXT);
}

static intptr_t prev_of(gjb_heap *h, intptr_t b)
{
    return ff_link(h, b, FF_PREV);
}

/* Granules of FIRST_FIT block area that fit in [area, hi) with the end
 * sentinel and the proof bitmap (one bit per granule, in whole words) after
 * them: the layout firstfit.h describes, computed independently. */
static size_t ff_area_bytes(uintptr_t area, uintptr_t hi)
{
    uintptr_t first = GJB_ROUND_UP(area + GJB_W, GJB_G) - GJB_W;
    size_t k = 0;
    for (;;) {
        /* a bit per granule and FF_PROOF_PAD more, always 0 */
        size_t n = k + 1, bitmap = (n + FF_PROOF_PAD + FF_WBITS - 1) / FF_WBITS * sizeof(size_t);
        if (GJB_ROUND_UP(first + n * GJB_G + GJB_W + bitmap, GJB_G) > hi)
            return k * GJB_G;
        k = n;
    }
}

/* The block area of the smallest FIRST_FIT heap or region: the layout asks
 * for FF_MIN + W + 2 granules after the first header's place (which is a
 * word below a granule). 3 granules on LP64: one block, too small to split
 * into two minimum blocks; 2 granules on ILP32, where a minimum block is a
 * single granule (16 bytes) and two of them would fit. */
static size_t smallest_area(void)
{
    uintptr_t first = GJB_G - GJB_W;
    return ff_area_bytes(first, first + FF_MIN + GJB_W + 2 * GJB_G);
}

/* The "rich" heap: two regions (the second one unaligned and below the
 * first), 42 blocks in the low region with every third one freed, so that
 * five exact classes hold free blocks; blocks 2 and 3 are allocated
 * neighbours, blocks 1 and 4 free. The low region, the smaller one, is
 * filled first: its block is in the smallest class that fits, and what is
 * left of it after each allocation goes back first in its class. */
#define NB 42
static void *blk[NB];

static gjb_heap *rich_heap(void)
{
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena + 16384, 16384, GJB_FIRST_FIT, 4, &h), GJB_OK);
    assert_int_equal(gjb_heap_add_region(h, arena + 4104, 8000), GJB_OK);
    assert_int_equal(h->nregions, 2);
    const struct gjb_region *t = gjb_regions(h);
    assert_ptr_not_equal(t, &h->hot); /* a table once there are two regions */
    assert_true(t[0].lo < t[1].lo);  /* kept sorted */
    assert_memory_equal(&t[1], &h->hot, sizeof h->hot);
    for (int i = 0; i < NB; i++) {
        assert_int_equal(gjb_heap_alloc(h, 40 + (size_t)(i % 5) * 24, &blk[i]), GJB_OK);
        assert_ptr_equal(gjb_region_at(h, gjb_off(h, hdr_of(blk[i]))), &t[0]);
        if (i)
            assert_ptr_equal(hdr_of(blk[i]), hdr_of(blk[i - 1]) + bsize(hdr_of(blk[i - 1])));
    }
    for (int i = 1; i < NB; i += 3)
        assert_int_equal(gjb_heap_free(h, blk[i]), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    assert_int_equal(h->segments - h->alloc_blocks, NB / 3 + 2); /* and the two regions' rests */
    snapshot();
    return h;
}

#define EXPECT_CORRUPT(h, mutation)                             \
    do {                                                        \
        restore();                                              \
        assert_int_equal(gjb_heap_validate(h), GJB_OK);         \
        mutation;                                               \
        assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);  \
    } while (0)

/* --- init and regions --------------------------------------------------- */

/* Bytes the smallest FIRST_FIT heap at arena + shift takes (found by trying). */
static size_t smallest_heap(size_t shift, unsigned max_regions)
{
    for (size_t size = 1; size <= 4096; size++) {
        gjb_heap *h;
        if (gjb_heap_init(arena + shift, size, GJB_FIRST_FIT, max_regions, &h) == GJB_OK)
            return size;
    }
    fail_msg("no heap up to 4096 bytes");
    return 0;
}

static void init_rejects_bad_arguments(void **state)
{
    (void)state;
    gjb_heap *h = NULL;
    assert_int_equal(gjb_heap_init(NULL, 4096, GJB_FIRST_FIT, 1, &h), GJB_E_INVAL);
    assert_int_equal(gjb_heap_init(arena, 4096, GJB_FIRST_FIT, 1, NULL), GJB_E_INVAL);
    assert_int_equal(gjb_heap_init(arena, 0, GJB_FIRST_FIT, 1, &h), GJB_E_INVAL);
    assert_int_equal(gjb_heap_init(arena, 4096, GJB_FIRST_FIT, 0, &h), GJB_E_INVAL);
    assert_int_equal(gjb_heap_init(arena, 4096, GJB_FIRST_FIT, 65536, &h), GJB_E_INVAL);
    /* A range that wraps around the address space (never dereferenced). */
    assert_int_equal(gjb_heap_init((void *)(UINTPTR_MAX - 15), 4096, GJB_FIRST_FIT, 1, &h),
                     GJB_E_INVAL);
    /* Rounding the start up to a granule wraps past the address space's
     * end (never dereferenced). */
    h = NULL;
    assert_int_equal(gjb_heap_init((void *)(UINTPTR_MAX - 3), 2, GJB_FIRST_FIT, 1, &h),
                     GJB_E_SMALL);
    assert_int_equal(gjb_heap_init((void *)(UINTPTR_MAX - 3), 2, GJB_BUDDY, 1, &h), GJB_E_SMALL);
    assert_null(h);
    assert_int_equal(gjb_heap_init(arena, 4096, 2, 1, &h), GJB_E_POLICY);
    assert_int_equal(gjb_heap_init(arena, 4096, -1, 1, &h), GJB_E_POLICY);
    /* Too small for the descriptor, or for its alignment. */
    assert_int_equal(gjb_heap_init(arena, 64, GJB_FIRST_FIT, 1, &h), GJB_E_SMALL);
    assert_int_equal(gjb_heap_init(arena + 1, 2, GJB_FIRST_FIT, 1, &h), GJB_E_SMALL);
    /* The region table is not in the descriptor (it moves into a region
     * added later): the most regions a heap may have costs it nothing. */
    size_t least = smallest_heap(0, 1);
    assert_int_equal(smallest_heap(0, UINT16_MAX), least);
    h = NULL;
    assert_int_equal(gjb_heap_init(arena, least - 1, GJB_FIRST_FIT, 200, &h), GJB_E_SMALL);
    assert_null(h);
    assert_int_equal(gjb_heap_init(arena, least, GJB_FIRST_FIT, 200, &h), GJB_OK);
    assert_int_equal(h->max_regions, 200);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* Every size from nothing to 3 KiB, at an aligned and an unaligned start:
 * SMALL up to a threshold, a valid heap from there on, but for a short
 * window where the large-class table first appears (it is sized for the
 * memory handed in, so that a region as large can be added without moving
 * it: from FF_SMALL bytes on, a heap whose block area is still far below
 * FF_SMALL pays for one); the smallest heap holds one block of
 * smallest_area() bytes: on LP64 too small to split into two minimum
 * blocks. (The layout asks for FF_MIN + W + 2 granules after the first
 * header's place, so the smallest block area is 3 granules on LP64, not
 * FF_MIN, and 2 on ILP32.) */
static void init_size_sweep(void **state)
{
    (void)state;
    for (size_t shift = 0; shift < 16; shift += 5) {
        size_t threshold = 0;
        for (size_t size = 1; size <= 3072; size++) {
            gjb_heap *h = NULL;
            int rc = gjb_heap_init(arena + shift, size, GJB_FIRST_FIT, 1, &h);
            if (rc != GJB_OK) {
                assert_int_equal(rc, GJB_E_SMALL);
                if (threshold) { /* only where the large-class table appears */
                    assert_true(gjb_ff_table_bytes(size) > gjb_ff_table_bytes(threshold));
                    assert_true(size >= FF_SMALL &&
                                size < FF_SMALL + gjb_ff_table_bytes(size) + 2 * GJB_G);
                }
                continue;
            }
            if (!threshold) {
                threshold = size;
                size_t one = gjb_heap_max_alloc(h) + GJB_W;
                assert_int_equal(one, (size_t)(h->hot.end - h->hot.first));
                assert_int_equal(one, smallest_area()); /* in [FF_MIN, 2 * FF_MIN) on LP64 */
            }
            assert_true((uintptr_t)h % GJB_G == 0);
            assert_true((unsigned char *)h >= arena + shift);
            assert_int_equal(gjb_heap_validate(h), GJB_OK);
            struct gjbmem_heap_stats st;
            gjb_heap_get_stats(h, &st);
            assert_int_equal(st.total, size);
            assert_int_equal(st.used + st.free, size);
            assert_int_equal(st.segments, 1);
            assert_int_equal(st.largest_free, st.free);
            /* the sentinel and the proof bitmap stay inside the memory handed in */
            const struct gjb_region *r = &h->hot;
            size_t granules = (size_t)(r->end - r->first) / GJB_G;
            uintptr_t bitmap_end = (uintptr_t)ff_proof(h, r) +
                                   (granules + FF_WBITS - 1) / FF_WBITS * sizeof(size_t);
            assert_true(bitmap_end <= (uintptr_t)arena + shift + size);
            /* and the large-class table sits between the descriptor and the blocks */
            assert_true(h->classes >= (intptr_t)gjb_descriptor_bytes(GJB_FIRST_FIT));
            assert_true(h->classes + (intptr_t)(h->nlarge * sizeof(intptr_t)) <= r->first);
        }
        assert_true(threshold > gjb_descriptor_bytes(GJB_FIRST_FIT) + FF_MIN + GJB_W);
    }
}

static void add_region_edge_cases(void **state)
{
    (void)state;
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena + 8192, 4096, GJB_FIRST_FIT, 3, &h), GJB_OK);
    assert_int_equal(gjb_heap_add_region(h, NULL, 4096), GJB_E_INVAL);
    assert_int_equal(gjb_heap_add_region(h, arena, 0), GJB_E_INVAL);
    assert_int_equal(gjb_heap_add_region(h, (void *)(UINTPTR_MAX - 15), 4096), GJB_E_INVAL);
    /* in the address space, but its first block's place rounds up past the
     * end (never dereferenced) */
    assert_int_equal(gjb_heap_add_region(h, (void *)(UINTPTR_MAX - 3), 2), GJB_E_SMALL);
    /* overlaps: inside, straddling either edge, covering */
    assert_int_equal(gjb_heap_add_region(h, arena + 8192 + 100, 64), GJB_E_OVERLAP);
    assert_int_equal(gjb_heap_add_region(h, arena + 8000, 300), GJB_E_OVERLAP);
    assert_int_equal(gjb_heap_add_region(h, arena + 12287, 4096), GJB_E_OVERLAP);
    assert_int_equal(gjb_heap_add_region(h, arena, 32768), GJB_E_OVERLAP);
    assert_true(gjb_heap_overlaps(h, arena, SIZE_MAX)); /* end saturates */
    assert_false(gjb_heap_overlaps(h, arena, 8192));    /* touching is fine */
    assert_false(gjb_heap_overlaps(h, arena + 12288, 4096));
    /* too small for a sentinel, a bitmap and one block */
    assert_int_equal(gjb_heap_add_region(h, arena + 100, 8), GJB_E_SMALL);
    assert_int_equal(gjb_heap_add_region(h, arena + 100, 60), GJB_E_SMALL);
    assert_int_equal(h->nregions, 1);
    assert_int_equal(h->regions, 0); /* no table while there is one region */
    assert_int_equal(gjb_heap_validate(h), GJB_OK);

    /* The smallest region accepted holds one block of smallest_area() bytes
     * (and the region table it carries from now on). */
    size_t smallest = 0;
    for (size_t size = 1; size < 400 && !smallest; size++) {
        int rc = gjb_heap_add_region(h, arena + 1000 + 3, size);
        if (rc == GJB_OK)
            smallest = size;
        else
            assert_int_equal(rc, GJB_E_SMALL);
    }
    assert_true(smallest >= FF_MIN + GJB_W + 2 * sizeof(struct gjb_region));
    assert_int_equal(h->nregions, 2);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    const struct gjb_region *t = gjb_regions(h);
    /* one block, on LP64 no room for two (smallest_area) */
    assert_int_equal(t[0].end - t[0].first, (intptr_t)smallest_area());
    /* the table lives in the new region's memory, after its blocks */
    assert_true(h->regions >= t[0].end && h->regions + 2 * (intptr_t)sizeof *t <= t[0].hi);
    void *p;
    /* a block of that size: its own exact class holds the small region's block */
    assert_int_equal(gjb_heap_alloc(h, (size_t)(t[0].end - t[0].first) - GJB_W, &p), GJB_OK);
    assert_ptr_equal(hdr_of(p), gjb_ptr(h, t[0].first));
    assert_int_equal(gjb_heap_free(h, p), GJB_OK);

    /* Touching edges on both sides, then the table is full. */
    assert_int_equal(gjb_heap_add_region(h, arena + 12288, 4096), GJB_OK);
    assert_int_equal(gjb_heap_add_region(h, arena + 4096, 4096), GJB_E_FULL);
    assert_int_equal(gjb_heap_add_region(h, arena + 100, 8), GJB_E_SMALL); /* checked first */
    assert_int_equal(h->nregions, 3);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.regions, 3);
    assert_int_equal(st.total, 4096 + smallest + 4096);
}

/* The region table moves into an added region with room to double, so
 * that the regions after it need no room for it, however small; when the
 * memory cannot hold that room, it gets room for one more record. */
/* Memory that straddles the point INTPTR_MAX bytes past the descriptor
 * (where links, intptr_t offsets modulo the address space, change sign: 2 GiB
 * on ILP32) is refused before it is touched, reached from above and from
 * below; the heap is as it was. The addresses are never dereferenced. */
static void far_memory_is_refused(void **state)
{
    (void)state;
    for (int policy = GJB_FIRST_FIT; policy <= GJB_BUDDY; policy++) {
        gjb_heap *h;
        memset(arena, 0, ARENA);
        assert_int_equal(gjb_heap_init(arena, 16384, policy, 4, &h), GJB_OK);
        struct gjbmem_heap_stats before;
        gjb_heap_get_stats(h, &before);
        uintptr_t base = (uintptr_t)h, far = (uintptr_t)INTPTR_MAX;
        /* [base + far - 4096, + 8192) and, modulo the address space, the
         * same place reached downwards */
        void *above = (void *)(base + far - 4096), *below = (void *)(base - (far + 2) - 4096);
        if (base <= UINTPTR_MAX - far)
            assert_int_equal(gjb_heap_add_region(h, above, 8192), GJB_E_TOOBIG);
        if (base >= far + 2 + 4096)
            assert_int_equal(gjb_heap_add_region(h, below, 8192), GJB_E_TOOBIG);
        struct gjbmem_heap_stats after;
        gjb_heap_get_stats(h, &after);
        assert_int_equal(after.regions, before.regions);
        assert_int_equal(after.total, before.total);
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
    }
}

static void region_table_room(void **state)
{
    (void)state;
    gjb_heap *h;
    const size_t rec = sizeof(struct gjb_region);
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, 8192, GJB_FIRST_FIT, 12, &h), GJB_OK);
    assert_int_equal(h->region_cap, 1);
    unsigned char *at = arena + 8192;
    size_t with5 = 0, bare = 0, least = 0;
    assert_int_equal(gjb_heap_add_region(h, at, 4096), GJB_OK); /* region 2: room for 4 */
    assert_int_equal(h->region_cap, 4);
    intptr_t table_at = h->regions;
    assert_true(table_at >= gjb_off(h, at) && table_at + (intptr_t)(4 * rec) <= gjb_off(h, at + 4096));
    at += 4096;
    for (unsigned n = 3; n <= 4; n++) { /* regions 3 and 4: the table stays */
        for (size_t size = 1; size < 1024 && !bare; size++)
            if (gjb_heap_add_region(h, at, size) == GJB_OK)
                bare = size;
        /* one block, its sentinel, its bitmap word: no room for a record */
        assert_true(bare > 0 && bare < FF_MIN + GJB_W + 2 * GJB_G + rec);
        assert_int_equal(h->nregions, n);
        assert_int_equal(h->regions, table_at);
        assert_int_equal(h->region_cap, 4);
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
        at += bare + 64;
        least = bare;
        bare = 0;
    }
    /* region 5: the table moves; memory for 5 records but not for 8 */
    for (size_t size = 1; size < 2048 && !with5; size++)
        if (gjb_heap_add_region(h, at, size) == GJB_OK)
            with5 = size;
    assert_int_equal(h->nregions, 5);
    assert_int_equal(h->region_cap, 5);
    assert_true(h->regions >= gjb_off(h, at) && h->regions < gjb_off(h, at + with5));
    assert_true(with5 >= least + 5 * rec && with5 < least + 8 * rec);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    at += with5 + 64;
    /* region 6: room to double again, 10 records */
    assert_int_equal(gjb_heap_add_region(h, at, 4096), GJB_OK);
    assert_int_equal(h->region_cap, 10);
    table_at = h->regions;
    at += 4096;
    for (unsigned n = 7; n <= 10; n++, at += 512) {
        assert_int_equal(gjb_heap_add_region(h, at, 256), GJB_OK);
        assert_int_equal(h->regions, table_at);
    }
    /* region 11: at most max_regions (12) records */
    assert_int_equal(gjb_heap_add_region(h, at, 4096), GJB_OK);
    assert_int_equal(h->region_cap, 12);
    at += 4096;
    assert_int_equal(gjb_heap_add_region(h, at, 256), GJB_OK);
    assert_int_equal(gjb_heap_add_region(h, at + 512, 4096), GJB_E_FULL);
    assert_int_equal(h->nregions, 12);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    /* every region's blocks are reachable and sorted lookups find them */
    const struct gjb_region *t = gjb_regions(h);
    for (uint32_t i = 0; i < h->nregions; i++) {
        assert_ptr_equal(gjb_region_at(h, t[i].first), &t[i]);
        if (i)
            assert_true(t[i - 1].hi <= t[i].lo);
    }
    void *p[64];
    int n = 0;
    while (n < 64 && gjb_heap_alloc(h, 16, &p[n]) == GJB_OK)
        n++;
    assert_true(n < 64 || gjb_heap_validate(h) == GJB_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(gjb_heap_free(h, p[i]), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* The hot region, whose blocks the hot paths find without a search, is
 * the largest region (the lowest of equals), wherever the descriptor is;
 * blocks of every region are allocated and freed alike; validate checks
 * the choice. */
static void hot_region(void **state)
{
    (void)state;
    for (int policy = GJB_FIRST_FIT; policy <= GJB_BUDDY; policy++) {
        gjb_heap *h;
        memset(arena, 0, ARENA);
        assert_int_equal(gjb_heap_init(arena + 61440, 4096, policy, 8, &h), GJB_OK);
        struct gjb_region home = h->hot;
        assert_int_equal(gjb_heap_add_region(h, arena + 24576, 16384), GJB_OK); /* larger: hot */
        assert_int_equal(h->hot.lo, gjb_off(h, arena + 24576));
        assert_true(h->hot.end - h->hot.first > home.end - home.first);
        /* as much memory but no region table to carry (it has room for 4):
         * more blocks, hot; then an equal one lower down: the lower */
        assert_int_equal(gjb_heap_add_region(h, arena + 40960, 16384), GJB_OK);
        assert_int_equal(h->hot.lo, gjb_off(h, arena + 40960));
        assert_int_equal(gjb_heap_add_region(h, arena + 8192, 16384), GJB_OK);
        assert_int_equal(h->hot.lo, gjb_off(h, arena + 8192));
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
        /* every region's blocks: allocated until full, freed in a scattered order */
        void *p[2048];
        int n = 0;
        while (n < 2048 && gjb_heap_alloc(h, 40, &p[n]) == GJB_OK)
            n++;
        assert_true(n > 0 && n < 2048);
        bool seen[4] = {false};
        const struct gjb_region *t = gjb_regions(h);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 4; j++)
                seen[j] |= gjb_region_at(h, gjb_off(h, p[i])) == &t[j];
        assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
        for (int i = 0; i < n; i += 2)
            assert_int_equal(gjb_heap_free(h, p[i]), GJB_OK);
        for (int i = 1; i < n; i += 2)
            assert_int_equal(gjb_heap_free(h, p[i]), GJB_OK);
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
        struct gjbmem_heap_stats st;
        gjb_heap_get_stats(h, &st);
        assert_int_equal(st.alloc_blocks, 0);
        /* the hot record must be the largest region's, exactly */
        struct gjb_region keep = h->hot;
        h->hot = home; /* the descriptor's region, smaller */
        assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
        assert_int_equal(t[2].end - t[2].first, keep.end - keep.first);
        h->hot = t[2]; /* as large, but higher */
        assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
        h->hot = keep;
        h->hot.end -= (intptr_t)GJB_G;
        assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
        h->hot = keep;
        assert_int_equal(gjb_heap_validate(h), GJB_OK);
    }
}

/* A few free blocks in classes, as firstfit.h orders them (for predicting
 * placement in a handful of allocations): the first block of a class is
 * entry 0. */
#define SIM_CLASSES 160
static struct {
    intptr_t at[8];
    size_t size[8];
    int n;
} sim[SIM_CLASSES];

static void sim_reset(void)
{
    memset(sim, 0, sizeof sim);
}

static void sim_push(intptr_t at, size_t size)
{
    unsigned c = ff_class(size);
    assert_true(c < SIM_CLASSES && sim[c].n < 8);
    int pos = size >= FF_SMALL && sim[c].n && size < sim[c].size[0] ? 1 : 0;
    memmove(&sim[c].at[pos + 1], &sim[c].at[pos], (size_t)(sim[c].n - pos) * sizeof sim[c].at[0]);
    memmove(&sim[c].size[pos + 1], &sim[c].size[pos], (size_t)(sim[c].n - pos) * sizeof sim[c].size[0]);
    sim[c].at[pos] = at;
    sim[c].size[pos] = size;
    sim[c].n++;
}

/* The block an allocation of need bytes takes (0: none): its own class's
 * first block if it fits, else the first block of the smallest non-empty
 * class above; what it leaves is listed again. */
static intptr_t sim_take(size_t need)
{
    unsigned c = ff_class(need);
    if (!(sim[c].n && sim[c].size[0] >= need))
        for (c++; c < SIM_CLASSES && !sim[c].n; c++)
            ;
    if (c >= SIM_CLASSES)
        return 0;
    intptr_t at = sim[c].at[0];
    size_t size = sim[c].size[0];
    sim[c].n--;
    memmove(&sim[c].at[0], &sim[c].at[1], (size_t)sim[c].n * sizeof sim[c].at[0]);
    memmove(&sim[c].size[0], &sim[c].size[1], (size_t)sim[c].n * sizeof sim[c].size[0]);
    if (size - need >= FF_MIN)
        sim_push(at + (intptr_t)need, size - need);
    return at;
}

/* Regions added at descending addresses: the table stays sorted, every
 * region is found, and each allocation takes the block the policy says. */
static void regions_in_descending_order(void **state)
{
    (void)state;
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena + 49152, 4096, GJB_FIRST_FIT, 5, &h), GJB_OK);
    for (int k = 3; k >= 0; k--)
        assert_int_equal(gjb_heap_add_region(h, arena + (size_t)k * 12288 + 8, 4096), GJB_OK);
    assert_int_equal(h->nregions, 5);
    const struct gjb_region *t = gjb_regions(h);
    for (uint32_t i = 1; i < h->nregions; i++)
        assert_true(t[i - 1].hi <= t[i].lo);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);

    /* The classes as the policy keeps them, simulated: each region's block
     * listed as it was added (region 0, then the regions from the highest
     * address down); a block goes first in its class, but second in a large
     * class whose first block is larger. */
    sim_reset();
    sim_push(t[4].first, (size_t)(t[4].end - t[4].first));
    for (int i = 3; i >= 0; i--)
        sim_push(t[i].first, (size_t)(t[i].end - t[i].first));
    size_t need = gjb_ff_block_size(3000);
    void *p[5];
    for (int n = 0; n < 5; n++) {
        intptr_t at = sim_take(need);
        assert_true(at != 0);
        assert_int_equal(gjb_heap_alloc(h, 3000, &p[n]), GJB_OK);
        assert_ptr_equal(hdr_of(p[n]), gjb_ptr(h, at));
        assert_int_equal(gjb_heap_usable_size(h, p[n]), need - GJB_W);
    }
    assert_int_equal(sim_take(need), 0);
    /* what is left of each region is a block too small for another */
    void *q;
    assert_int_equal(gjb_heap_alloc(h, 3000, &q), GJB_E_NOMEM);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    for (int i = 4; i >= 0; i--)
        assert_int_equal(gjb_heap_free(h, p[i]), GJB_OK);
    assert_true(gjb_heap_is_empty(h));
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* A fresh one-region FIRST_FIT heap on the arena, with quick lists (the
 * calling test is skipped in a build without them). */
static gjb_heap *quick_heap(void)
{
    gjb_heap *h;
    if (!FF_QUICK_OK)
        skip();
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, ARENA, GJB_FIRST_FIT | GJB_QUICK, 1, &h), GJB_OK);
    return h;
}

/* The entries of a heap with quick lists (gjb_heap_alloc and gjb_heap_free
 * take the quick hit inline and everything else out of line): 0 bytes and
 * NULL refused there too; a request that a quick block of its size answers
 * counts in the statistics as any other (its peak request, its maxused). */
static void quick_heap_entries(void **state)
{
    (void)state;
    gjb_heap *h = quick_heap();
    void *p[3], *q;
    assert_int_equal(gjb_heap_alloc(h, 0, &q), GJB_E_INVAL);
    assert_int_equal(gjb_heap_free(h, NULL), GJB_E_INVAL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gjb_heap_alloc(h, 97, &p[i]), GJB_OK);
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    size_t maxused = st.maxused, u = gjb_heap_usable_size(h, p[1]);
    assert_int_equal(st.peak_request, 97);
    assert_true(u > 97); /* (104 on LP64, 100 with 4-byte words and 8-byte granules) */
    assert_int_equal(gjb_heap_free(h, p[1]), GJB_OK); /* onto its quick list */
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.segments, 4);                 /* not merged: 3 blocks and the tail */
    assert_int_equal(gjb_heap_alloc(h, u, &q), GJB_OK); /* the same block size */
    assert_ptr_equal(q, p[1]);
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.peak_request, u);
    assert_int_equal(st.maxused, maxused);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    /* a heap without quick lists refuses them the same way */
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, ARENA, GJB_FIRST_FIT, 1, &h), GJB_OK);
    assert_int_equal(gjb_heap_free(h, NULL), GJB_E_INVAL);
    assert_int_equal(gjb_heap_alloc(h, 0, &q), GJB_E_INVAL);
}

/* A quick list's first block and links are quick indices (the payload's
 * offset in granules: ff_quick). Validation refuses a link that is no
 * quick index (ff_qblock would overflow), one that leads nowhere, to an
 * allocated block or back to the list's own block, and a head as bad;
 * mended, the lists work on. */
static void quick_heap_validate_refuses_bad_quick_links(void **state)
{
    (void)state;
    gjb_heap *h = quick_heap();
    void *p[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(gjb_heap_alloc(h, 100, &p[i]), GJB_OK);
    assert_int_equal(gjb_heap_free(h, p[1]), GJB_OK);
    assert_int_equal(gjb_heap_free(h, p[2]), GJB_OK); /* the list: p[2], p[1] */
    unsigned c = (unsigned)(bsize(hdr_of(p[2])) / GJB_G);
    assert_int_equal(ff_qhead(h, c), gjb_off(h, hdr_of(p[2])));
    assert_int_equal(ff_qnext(h, ff_qhead(h, c)), gjb_off(h, hdr_of(p[1])));
    size_t *link = (size_t *)p[2];
    intptr_t own = (intptr_t)*link;
    assert_int_equal(own, gjb_off(h, p[1]) / (intptr_t)GJB_G);
    snapshot();
    EXPECT_CORRUPT(h, *link = (size_t)INTPTR_MAX);                       /* no quick index */
    EXPECT_CORRUPT(h, *link = (size_t)INTPTR_MIN);
    EXPECT_CORRUPT(h, *link = (size_t)(FF_QUICK_REACH / (intptr_t)GJB_G)); /* far away */
    EXPECT_CORRUPT(h, *link = (size_t)(gjb_off(h, p[0]) / (intptr_t)GJB_G)); /* allocated */
    EXPECT_CORRUPT(h, *link = (size_t)(gjb_off(h, p[2]) / (intptr_t)GJB_G)); /* itself */
    EXPECT_CORRUPT(h, *link = 1);                                        /* the descriptor */
    EXPECT_CORRUPT(h, ff_quick(h)[c] = INT32_MAX);                       /* the head */
    EXPECT_CORRUPT(h, ff_quick(h)[c] = INT32_MIN);
    EXPECT_CORRUPT(h, ff_quick(h)[1] = ff_quick(h)[c]);         /* a list of no block size */
    EXPECT_CORRUPT(h, (ff_quick(h)[c + 1] = ff_quick(h)[c], ff_quick(h)[c] = 0)); /* wrong size */
    EXPECT_CORRUPT(h, ff_quick_levels(h)[c] |= 1);              /* level 0 has no bit */
    EXPECT_CORRUPT(h, *ff_quick_room(h) = FF_QUICK_CAP + 1);    /* more room than there is */
    EXPECT_CORRUPT(h, *ff_quick_mark(h) = FF_QUICK_HAS + 1);
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    void *q;
    assert_int_equal(gjb_heap_alloc(h, 100, &q), GJB_OK);
    assert_ptr_equal(q, p[2]);
    assert_int_equal(gjb_heap_alloc(h, 100, &q), GJB_OK);
    assert_ptr_equal(q, p[1]);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    /* a heap without quick lists: its slots of the mark and the room are 0 */
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, ARENA, GJB_FIRST_FIT, 1, &h), GJB_OK);
    snapshot();
    EXPECT_CORRUPT(h, *ff_quick_room(h) = 1);
    EXPECT_CORRUPT(h, *ff_quick_mark(h) = FF_QUICK_HAS);
}

/* A block realloc moves, of FF_QUICK_LIMIT bytes or more, is cut from
 * the end of the free block found (gjb_ff_alloc_moved): the free front
 * stays before it, so that it can grow over it later in place (moving
 * down); a smaller block takes the front, as an allocation does. */
static void realloc_moves_a_large_block_to_the_end_of_its_free_block(void **state)
{
    (void)state;
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, ARENA, GJB_FIRST_FIT, 1, &h), GJB_OK);
    void *a, *pin, *small, *spin;
    assert_int_equal(gjb_heap_alloc(h, 1000, &a), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 100, &pin), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 40, &small), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 100, &spin), GJB_OK);
    memset(a, 0x5a, 1000);
    char *rest = hdr_of(spin) + bsize(hdr_of(spin)); /* the free rest */
    size_t rs = bsize(rest);
    assert_true(is_free(rest));
    void *b;
    assert_int_equal(gjb_heap_realloc(h, a, 4000, &b), GJB_OK); /* pin keeps it from growing */
    size_t need = gjb_ff_block_size(4000);
    assert_ptr_equal(hdr_of(b), rest + rs - need);              /* the end of the rest */
    assert_int_equal(bsize(rest), rs - need);                   /* its front still free */
    assert_true(is_free(rest));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(((unsigned char *)b)[i], 0x5a);
    void *c;
    assert_int_equal(gjb_heap_realloc(h, b, 8000, &c), GJB_OK); /* grows down, in place */
    assert_ptr_equal(hdr_of(c) + bsize(hdr_of(c)), rest + rs);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(((unsigned char *)c)[i], 0x5a);
    void *s2; /* a block the quick lists' sizes cover (on ILP32 too): */
    assert_int_equal(gjb_heap_realloc(h, small, FF_QUICK_LIMIT / 2, &s2), GJB_OK);
    assert_ptr_equal(hdr_of(s2), hdr_of(a)); /* the front of the first fit: a's old block */
    assert_true(is_free(hdr_of(s2) + bsize(hdr_of(s2))));
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* --- allocation arguments, statistics, usable size, walk ---------------- */

static void alloc_arguments_and_stats(void **state)
{
    (void)state;
    gjb_heap *h;
    void *p, *q;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, 8192, GJB_FIRST_FIT, 8, &h), GJB_OK);
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    /* One free block: the whole block area less its header. The area is
     * what follows the descriptor and the large-class table, less the end
     * sentinel and the proof bitmap; over 90 % of an 8 KiB heap. */
    const size_t avail = (size_t)(h->hot.end - h->hot.first) - GJB_W;
    uintptr_t area = (uintptr_t)arena + gjb_descriptor_bytes(GJB_FIRST_FIT) + gjb_ff_table_bytes(8192);
    assert_int_equal(avail + GJB_W, ff_area_bytes(area, (uintptr_t)arena + 8192));
    assert_true(avail * 10 > 8192 * 9);
    assert_int_equal(st.free, avail);
    assert_int_equal(st.largest_free, avail);
    assert_int_equal(st.used, 8192 - avail);
    assert_int_equal(st.maxused, st.used);
    assert_int_equal(st.header_bytes, GJB_W);
    assert_int_equal(st.min_block, FF_MIN);
    assert_true(gjb_heap_is_empty(h));

    assert_int_equal(gjb_heap_alloc(h, 0, &p), GJB_E_INVAL);
    assert_int_equal(gjb_heap_alloc(h, SIZE_MAX, &p), GJB_E_TOOBIG);
    assert_int_equal(gjb_heap_alloc(h, SIZE_MAX - 20, &p), GJB_E_TOOBIG);
    assert_int_equal(gjb_heap_alloc(h, avail + 1, &p), GJB_E_TOOBIG);
    assert_int_equal(gjb_heap_memalign(h, 0, 16, &p), GJB_E_ALIGN);
    assert_int_equal(gjb_heap_memalign(h, 24, 16, &p), GJB_E_ALIGN);
    assert_int_equal(gjb_heap_memalign(h, 64, 0, &p), GJB_E_INVAL);
    assert_int_equal(gjb_heap_memalign(h, 64, SIZE_MAX, &p), GJB_E_TOOBIG);
    assert_int_equal(gjb_heap_realloc(h, NULL, 0, &p), GJB_E_INVAL);
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.failed, 4); /* TOOBIG x4 count, INVAL/ALIGN do not */
    assert_int_equal(st.peak_request, SIZE_MAX);

    const size_t b100 = gjb_ff_block_size(100);
    assert_int_equal(b100, GJB_ROUND_UP(100 + GJB_W, GJB_G));
    assert_int_equal(gjb_heap_realloc(h, NULL, 100, &p), GJB_OK); /* NULL: allocate */
    assert_int_equal(gjb_heap_usable_size(h, p), b100 - GJB_W);
    assert_int_equal(gjb_heap_memalign(h, 8, 10, &q), GJB_OK); /* small alignment: plain */
    assert_int_equal((uintptr_t)q % GJB_G, 0);
    assert_ptr_equal(q, (char *)p + b100); /* the front of what the first one left */
    assert_int_equal(gjb_heap_usable_size(h, q), FF_MIN - GJB_W);
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.alloc_blocks, 2);
    assert_int_equal(st.free_blocks, 1);
    assert_int_equal(st.segments, 3);
    assert_int_equal(st.free, avail - b100 - FF_MIN);
    assert_int_equal(st.used + st.free, st.total);
    assert_int_equal(st.largest_free, gjb_heap_max_alloc(h));
    assert_false(gjb_heap_is_empty(h));

    assert_int_equal(gjb_heap_realloc(h, p, 0, &p), GJB_E_INVAL);
    assert_int_equal(gjb_heap_realloc(h, p, 100000, &q), GJB_E_TOOBIG);
    void *big;
    assert_int_equal(gjb_heap_alloc(h, st.largest_free, &big), GJB_OK);
    assert_int_equal(gjb_heap_max_alloc(h), 0);
    assert_int_equal(gjb_heap_alloc(h, 1, &q), GJB_E_NOMEM);
    assert_int_equal(gjb_heap_memalign(h, 256, 1, &q), GJB_E_NOMEM);
    memset(p, 0x5a, 100);
    assert_int_equal(gjb_heap_realloc(h, p, 200, &q), GJB_E_NOMEM); /* block intact */
    for (int i = 0; i < 100; i++)
        assert_int_equal(((unsigned char *)p)[i], 0x5a);
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.failed, 8);
    assert_int_equal(st.free, 0);
    assert_int_equal(st.maxused, st.total);
    assert_int_equal(gjb_heap_free(h, big), GJB_OK);
    assert_int_equal(gjb_heap_free(h, p), GJB_OK);
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.maxused, st.total); /* high-water mark stays */
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

static void pointer_checks(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    const struct gjb_region *t = gjb_regions(h);
    _Alignas(16) char foreign[64];
    void *out;
    assert_int_equal(gjb_heap_free(h, NULL), GJB_E_INVAL);
    assert_int_equal(gjb_heap_usable_size(h, NULL), 0);
    void *bad[] = {
        (char *)blk[2] + 1,                     /* misaligned */
        (char *)blk[2] + 16,                    /* interior: no block starts there */
        foreign + 16,                           /* not in the heap */
        blk[1],                                 /* free block (double free) */
        arena + 16,                             /* before every region's blocks */
        gjb_ptr(h, t[0].end) + GJB_W,           /* the sentinel */
        gjb_ptr(h, t[1].end) + 4 * GJB_G,       /* the proof bitmap */
        gjb_ptr(h, h->classes) + GJB_W,         /* the large-class table */
        gjb_ptr(h, h->regions) + GJB_W,         /* the region table */
        (char *)h + GJB_W,                      /* the descriptor */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gjb_heap_free(h, bad[i]), GJB_E_BADPTR);
        assert_int_equal(gjb_heap_realloc(h, bad[i], 10, &out), GJB_E_BADPTR);
        assert_int_equal(gjb_heap_usable_size(h, bad[i]), 0);
    }
    assert_memory_equal(arena, saved, ARENA);
    assert_int_equal(gjb_heap_usable_size(h, blk[2]), gjb_ff_block_size(40 + 48) - GJB_W);
    assert_int_equal(gjb_heap_usable_size(h, blk[0]), gjb_ff_block_size(40) - GJB_W);
}

struct walk_ctx {
    size_t blocks, used, free_bytes, stop_after;
    void *last;
};

static int walker(void *ctx, void *payload, size_t size, bool used)
{
    struct walk_ctx *w = ctx;
    assert_true(w->last == NULL || (char *)payload > (char *)w->last);
    w->last = payload;
    w->blocks++;
    if (used)
        w->used++;
    else
        w->free_bytes += size;
    return w->blocks == w->stop_after ? 77 : 0;
}

static void walk_all_and_stop_early(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    struct walk_ctx w = {0, 0, 0, 0, NULL};
    assert_int_equal(gjb_heap_walk(h, walker, &w), 0);
    assert_int_equal(w.blocks, st.segments);
    assert_int_equal(w.used, st.alloc_blocks);
    assert_int_equal(w.free_bytes, st.free);
    struct walk_ctx e = {0, 0, 0, 5, NULL};
    assert_int_equal(gjb_heap_walk(h, walker, &e), 77);
    assert_int_equal(e.blocks, 5);
    assert_ptr_equal(e.last, blk[4]);
    /* stop in the second region */
    struct walk_ctx s = {0, 0, 0, st.segments, NULL};
    assert_int_equal(gjb_heap_walk(h, walker, &s), 77);
    assert_int_equal(s.blocks, st.segments);
}

/* A walker that sees only blocks inside the arena. */
static int inside(void *ctx, void *payload, size_t size, bool used)
{
    (void)used;
    assert_true((unsigned char *)payload >= arena && size <= ARENA &&
                (unsigned char *)payload + size <= arena + ARENA);
    ++*(size_t *)ctx;
    return 0;
}

/* A header whose size runs past its region's end (or wraps the walk's
 * offset around) ends the walk there: no block past the region is
 * reported, nothing outside it read. */
static void walk_stops_at_a_size_past_its_region(void **state)
{
    (void)state;
    static const size_t sizes[] = {(size_t)1 << (sizeof(size_t) * 8 - 2), SIZE_MAX & ~(size_t)15,
                                   (size_t)ARENA};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        gjb_heap *h = rich_heap();
        size_t all = 0, n = 0;
        assert_int_equal(gjb_heap_walk(h, inside, &all), 0);
        set_hdr(hdr_of(blk[2]), sizes[i]); /* allocated, that large */
        assert_int_equal(gjb_heap_walk(h, inside, &n), 0);
        assert_int_equal(n, 2); /* the blocks before it */
        assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    }
}

/* --- damaged metadata: validate --------------------------------------- */

static void validate_detects_header_damage(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    EXPECT_CORRUPT(h, h->magic ^= 1);
    EXPECT_CORRUPT(h, h->policy = 1);
    EXPECT_CORRUPT(h, h->policy = 7);
    EXPECT_CORRUPT(h, h->nregions = 0);
    EXPECT_CORRUPT(h, h->nregions = 1);
    EXPECT_CORRUPT(h, h->nregions = h->max_regions + 1u);
    EXPECT_CORRUPT(h, h->alloc_blocks++);
    EXPECT_CORRUPT(h, h->segments++);
    EXPECT_CORRUPT(h, h->segments = h->alloc_blocks); /* no free block, fewer than the lists hold */
    EXPECT_CORRUPT(h, h->segments = 0);               /* fewer than the allocated ones */
    EXPECT_CORRUPT(h, h->free += GJB_G);
    EXPECT_CORRUPT(h, h->total += 1);
    EXPECT_CORRUPT(h, h->max_block += GJB_G);
    EXPECT_CORRUPT(h, h->free_floor = h->total); /* maxused 0 */
    EXPECT_CORRUPT(h, h->hot_span -= GJB_G);
    assert_int_equal(gjb_heap_validate(NULL), GJB_E_CORRUPT);
    /* regions out of order */
    restore();
    struct gjb_region *t = table(h), tmp = t[0];
    t[0] = t[1];
    t[1] = tmp;
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    /* region records */
    struct gjb_region *r = &table(h)[0];
    EXPECT_CORRUPT(h, r->hi = r->lo);
    EXPECT_CORRUPT(h, r->first = r->lo - (intptr_t)GJB_G);
    EXPECT_CORRUPT(h, r->first = r->end);
    EXPECT_CORRUPT(h, r->end -= (intptr_t)GJB_W);
    EXPECT_CORRUPT(h, (r->first += (intptr_t)GJB_W, r->end += (intptr_t)GJB_W));
    EXPECT_CORRUPT(h, r->hi = r->end + (intptr_t)GJB_W); /* bitmap beyond the region */
    /* region 0's record in the descriptor and its copy in the table */
    EXPECT_CORRUPT(h, h->hot.end -= (intptr_t)GJB_G);
    EXPECT_CORRUPT(h, table(h)[1].hi += (intptr_t)GJB_G);
    EXPECT_CORRUPT(h, h->hot.lo += (intptr_t)GJB_G);
    EXPECT_CORRUPT(h, h->hot.first += (intptr_t)GJB_G); /* only its first block differs */
    EXPECT_CORRUPT(h, r->end = r->hi + (intptr_t)GJB_G);  /* blocks past the region's end */
    /* the region table's offset */
    EXPECT_CORRUPT(h, h->regions = 0);
    EXPECT_CORRUPT(h, h->regions += (intptr_t)GJB_G);
    EXPECT_CORRUPT(h, h->regions = h->hot.end + (intptr_t)GJB_W); /* region 0's bitmap */
    /* the table's room: fewer records than regions, more than the heap may
     * have, or reaching past its region's end */
    assert_int_equal(h->region_cap, 4);
    EXPECT_CORRUPT(h, h->region_cap = 1);
    EXPECT_CORRUPT(h, h->region_cap = 0);
    EXPECT_CORRUPT(h, h->region_cap = 5);
    EXPECT_CORRUPT(h, (h->max_regions = 64, h->region_cap = 64));
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* The large-class table: its offset and size are checked against the
 * regions' metadata before anything is read through them. */
static void validate_detects_class_table_damage(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    assert_true(h->nlarge > 0);
    assert_true(h->map != 0); /* both regions' rests are in large classes */
    const intptr_t far = FAR_OFF;
    EXPECT_CORRUPT(h, h->classes = far);                       /* far outside the heap */
    EXPECT_CORRUPT(h, h->classes = -far);
    EXPECT_CORRUPT(h, h->classes = h->hot.hi + (intptr_t)GJB_G); /* just past region 0 */
    EXPECT_CORRUPT(h, h->classes = h->hot.hi - (intptr_t)GJB_W); /* runs past region 0 */
    EXPECT_CORRUPT(h, h->classes += (intptr_t)GJB_G);           /* shifted */
    EXPECT_CORRUPT(h, h->classes = h->hot.end + (intptr_t)GJB_W); /* region 0's bitmap */
    EXPECT_CORRUPT(h, h->classes = h->hot.first + (intptr_t)GJB_W); /* inside a block */
    EXPECT_CORRUPT(h, h->nlarge = 0);                           /* listed blocks lost */
    EXPECT_CORRUPT(h, h->nlarge += 1);
    EXPECT_CORRUPT(h, h->nlarge -= 1);
    EXPECT_CORRUPT(h, h->nlarge = UINT32_MAX);
    EXPECT_CORRUPT(h, h->nlarge = 1u << 28);
    EXPECT_CORRUPT(h, (h->classes = far, h->nlarge = UINT32_MAX));
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);

    /* More large classes than any heap has (up to SIZE_MAX bytes), the
     * table placed where that many fit in the metadata: a large region's
     * proof bitmap. Refused before any class is read. */
    static _Alignas(64) unsigned char mib[1 << 20];
    gjb_heap *big;
    assert_int_equal(gjb_heap_init(mib, sizeof mib, GJB_FIRST_FIT, 1, &big), GJB_OK);
    assert_int_equal(gjb_heap_validate(big), GJB_OK);
    unsigned most = 0; /* large classes of blocks up to SIZE_MAX: FF_SUB per power of two */
    for (size_t s = FF_SMALL; s; s <<= 1)
        most += FF_SUB;
    size_t bitmap = (size_t)(big->hot.hi - big->hot.end) - GJB_W;
    assert_true((most + 1) * sizeof(intptr_t) + (most + 1 + FF_GROUP - 1) / FF_GROUP <= bitmap);
    intptr_t classes = big->classes;
    uint32_t nlarge = big->nlarge;
    big->classes = big->hot.end + (intptr_t)GJB_W;
    big->nlarge = most + 1;
    assert_int_equal(gjb_heap_validate(big), GJB_E_CORRUPT);
    big->classes = classes;
    big->nlarge = nlarge;
    assert_int_equal(gjb_heap_validate(big), GJB_OK);
}

static void validate_detects_block_damage(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    const struct gjb_region *r = &gjb_regions(h)[0];
    char *a = hdr_of(blk[2]); /* allocated, its predecessor is free */
    char *c = hdr_of(blk[3]); /* allocated, after an allocated block */
    char *f = hdr_of(blk[1]); /* free */
    size_t sa = bsize(a), sf = bsize(f);
    char *end = gjb_ptr(h, r->end);
    assert_false(is_free(a));
    assert_true(hdr(a) & FF_PREV_FREE);
    assert_true(is_free(f));

    EXPECT_CORRUPT(h, set_hdr(a, (FF_MIN - GJB_G) | (hdr(a) & FF_FLAGS))); /* too small */
    EXPECT_CORRUPT(h, set_hdr(a, hdr(a) + 8));                             /* unaligned size */
    EXPECT_CORRUPT(h, set_hdr(a, (SIZE_MAX & ~(size_t)15) | FF_PREV_FREE)); /* past end */
    EXPECT_CORRUPT(h, set_hdr(c, hdr(c) + GJB_G));                         /* no block after */
    EXPECT_CORRUPT(h, proof_clear(h, r, a));                               /* no proof bit */
    EXPECT_CORRUPT(h, clear_flag(a, FF_PREV_FREE));                        /* flag vs neighbour */
    EXPECT_CORRUPT(h, set_flag(c, FF_PREV_FREE));
    EXPECT_CORRUPT(h, set_flag(a, FF_FREE));                               /* two free in a row */
    EXPECT_CORRUPT(h, set_flag(f, FF_ALIGNED));                            /* a free block aligned */
    EXPECT_CORRUPT(h, set_hdr(f + sf - GJB_W, sf + GJB_G));                /* footer */
    EXPECT_CORRUPT(h, set_hdr(end, hdr(end) ^ FF_PREV_FREE));              /* sentinel */
    EXPECT_CORRUPT(h, set_hdr(end, GJB_G | hdr(end)));
    EXPECT_CORRUPT(h, proof_set(h, r, f));                                 /* a free block proved */
    EXPECT_CORRUPT(h, proof_set(h, r, a + GJB_G));                         /* stray bits */
    EXPECT_CORRUPT(h, proof_set(h, r, a + sa - GJB_G));
    /* a bit in the bitmap's last word, past the block area */
    size_t granules = (size_t)(r->end - r->first) / GJB_G;
    assert_true(granules % FF_WBITS != 0);
    EXPECT_CORRUPT(h, proof_set(h, r, end));
    /* the same in the second region (the one holding the descriptor) */
    const struct gjb_region *r1 = &gjb_regions(h)[1];
    char *first1 = gjb_ptr(h, r1->first);
    assert_true(is_free(first1));
    EXPECT_CORRUPT(h, proof_set(h, r1, first1 + GJB_G));
    EXPECT_CORRUPT(h, proof_set(h, r1, first1));
    EXPECT_CORRUPT(h, set_hdr(first1 + bsize(first1) - GJB_W, 0));
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* The class of free block b, the head of its list. */
static intptr_t *head_of(gjb_heap *h, intptr_t b)
{
    return ff_head(h, ff_class(bsize(gjb_ptr(h, b))));
}

/* An exact class (other than skip's) with no block, above the minimum. */
static unsigned empty_exact_class(gjb_heap *h, unsigned skip)
{
    for (unsigned c = FF_MIN / GJB_G; c < FF_EXACT; c++)
        if (!h->lists[c] && c != skip)
            return c;
    fail_msg("no empty exact class");
    return 0;
}

static void validate_detects_list_damage(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    const struct gjb_region *r = &gjb_regions(h)[0];
    /* the class of blk[10] (48-byte blocks): blk[40] -> blk[25] -> blk[10] */
    intptr_t b10 = gjb_off(h, hdr_of(blk[10])), b25 = gjb_off(h, hdr_of(blk[25]));
    intptr_t b40 = gjb_off(h, hdr_of(blk[40]));
    unsigned cA = ff_class(bsize(hdr_of(blk[10])));
    assert_true(cA < FF_EXACT);
    assert_int_equal(h->lists[cA], b40);
    assert_int_equal(next_of(h, b40), b25);
    assert_int_equal(next_of(h, b25), b10);
    assert_int_equal(next_of(h, b10), 0);
    assert_int_equal(prev_of(h, b25), b40);
    intptr_t alloc_off = gjb_off(h, hdr_of(blk[2]));
    unsigned cE = empty_exact_class(h, 0);

    EXPECT_CORRUPT(h, ff_set_link(h, b40, FF_NEXT, alloc_off));          /* an allocated block */
    EXPECT_CORRUPT(h, ff_set_link(h, b40, FF_NEXT, alloc_off + (intptr_t)GJB_G)); /* no block */
    EXPECT_CORRUPT(h, ff_set_link(h, b40, FF_NEXT, r->end + 4096));      /* no region */
    EXPECT_CORRUPT(h, ff_set_link(h, b40, FF_NEXT, FAR_OFF));          /* far away */
    EXPECT_CORRUPT(h, ff_set_link(h, b40, FF_NEXT, b40 + 1));            /* not on a granule */
    EXPECT_CORRUPT(h, ff_set_link(h, b25, FF_PREV, b10));                /* back link */
    EXPECT_CORRUPT(h, ff_set_link(h, b40, FF_PREV, b25));                /* the first has none */
    EXPECT_CORRUPT(h, ff_set_link(h, b10, FF_NEXT, b40));                /* a cycle */
    EXPECT_CORRUPT(h, ff_set_link(h, b25, FF_NEXT, b25));                /* a block on itself */
    EXPECT_CORRUPT(h, h->lists[cA] = b25);                               /* first block lost */
    EXPECT_CORRUPT(h, h->lists[cA] = 0);
    EXPECT_CORRUPT(h, h->small_map &= ~(1u << cA));                      /* class bits */
    EXPECT_CORRUPT(h, h->small_map |= 1u << cE);
    EXPECT_CORRUPT(h, h->small_map |= 1u);                               /* below the minimum */
    EXPECT_CORRUPT(h, (h->lists[1] = b40, h->small_map |= 2u));
    /* A free block in the wrong class, its links and bits consistent. */
    EXPECT_CORRUPT(h, (ff_set_link(h, b25, FF_NEXT, 0), ff_set_link(h, b10, FF_PREV, 0),
                       h->lists[cE] = b10, h->small_map |= 1u << cE));
    /* A link into a live block's payload, whose bytes there read as the
     * header of a free block too small, or running past the region's end. */
    intptr_t forged = gjb_off(h, hdr_of(blk[2])) + (intptr_t)(2 * GJB_G);
    assert_int_equal((forged - r->first) % (intptr_t)GJB_G, 0);
    assert_true(forged + 3 * (intptr_t)GJB_W <= gjb_off(h, blk[2]) + (intptr_t)bsize(hdr_of(blk[2])) - (intptr_t)GJB_W);
    EXPECT_CORRUPT(h, (set_hdr(gjb_ptr(h, forged), (FF_MIN - GJB_G) | FF_FREE),
                       ff_set_link(h, b40, FF_NEXT, forged)));
    EXPECT_CORRUPT(h, (set_hdr(gjb_ptr(h, forged), (size_t)(r->end - forged + (intptr_t)GJB_G) | FF_FREE),
                       ff_set_link(h, b40, FF_NEXT, forged)));
    /* A block taken out of its list, the list consistent: a free block
     * no list holds. */
    EXPECT_CORRUPT(h, (ff_set_link(h, b40, FF_NEXT, b10), ff_set_link(h, b10, FF_PREV, b40)));

    /* Large classes: the rest of the low region, alone in its class. */
    char *last = hdr_of(blk[NB - 1]);
    intptr_t rest = gjb_off(h, last + bsize(last));
    assert_true(is_free(gjb_ptr(h, rest)));
    unsigned cL = ff_class(bsize(gjb_ptr(h, rest)));
    assert_true(cL >= FF_EXACT);
    unsigned k = cL - FF_EXACT;
    assert_int_equal(*head_of(h, rest), rest);
    assert_int_equal(next_of(h, rest), 0);
    unsigned char *groups = ff_groups(h);
    assert_true(k + 1 < h->nlarge);
    assert_int_equal(ff_large(h)[k + 1], 0);
    EXPECT_CORRUPT(h, groups[k / FF_GROUP] &= (unsigned char)~(1u << (k % FF_GROUP)));
    EXPECT_CORRUPT(h, h->map &= ~((uint64_t)1 << (k / FF_GROUP)));
    EXPECT_CORRUPT(h, groups[(k + 1) / FF_GROUP] |= (unsigned char)(1u << ((k + 1) % FF_GROUP)));
    EXPECT_CORRUPT(h, h->map |= (uint64_t)1 << 63);                    /* no such group */
    EXPECT_CORRUPT(h, ff_large(h)[k] = 0);
    /* in the class above its own, bits and links consistent */
    EXPECT_CORRUPT(h, (ff_large(h)[k + 1] = rest, ff_large(h)[k] = 0,
                       groups[(k + 1) / FF_GROUP] |= (unsigned char)(1u << ((k + 1) % FF_GROUP)),
                       groups[k / FF_GROUP] &= (unsigned char)~(1u << (k % FF_GROUP)),
                       h->map |= (uint64_t)1 << ((k + 1) / FF_GROUP)));
    /* The large class's block replaced by a forged one in a live payload:
     * of the same class, links and bits consistent, as many blocks listed
     * as there are free ones, but not the same bytes. */
    size_t real = bsize(gjb_ptr(h, rest)), lo = ff_class_floor(cL), hi = ff_class_floor(cL + 1);
    size_t other = real == lo ? hi - GJB_G : lo;
    assert_int_equal(ff_class(other), cL);
    assert_true(other != real && (intptr_t)other <= r->end - forged);
    EXPECT_CORRUPT(h, (set_hdr(gjb_ptr(h, forged), other | FF_FREE),
                       ff_set_link(h, forged, FF_NEXT, 0), ff_set_link(h, forged, FF_PREV, 0),
                       ff_large(h)[k] = forged));
    restore();
    /* a bit past the last class in the last group byte */
    if (h->nlarge % FF_GROUP) {
        unsigned last_k = h->nlarge;
        EXPECT_CORRUPT(h, groups[(last_k - 1) / FF_GROUP] |= (unsigned char)(1u << (last_k % FF_GROUP)));
    }
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* A list longer than the heap has free blocks (a cycle through 140 blocks)
 * is refused, not walked forever; allocation still answers from it (it
 * reads the first block only) and never loops. */
static void validate_refuses_a_cyclic_list(void **state)
{
    (void)state;
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, 32768, GJB_FIRST_FIT, 1, &h), GJB_OK);
    enum { N = 280 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(gjb_heap_alloc(h, 40, &p[i]), GJB_OK);
    for (int i = 0; i < N; i += 2)
        assert_int_equal(gjb_heap_free(h, p[i]), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    unsigned c = ff_class(gjb_ff_block_size(40));
    intptr_t first = h->lists[c], b = first;
    size_t n = 1;
    while (next_of(h, b)) {
        b = next_of(h, b);
        n++;
    }
    assert_int_equal(n, N / 2);
    assert_int_equal(first, gjb_off(h, hdr_of(p[N - 2]))); /* last in, first out */
    ff_set_link(h, b, FF_NEXT, first); /* the last one leads back to the first */
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    void *q;
    assert_int_equal(gjb_heap_alloc(h, 40, &q), GJB_OK);
    assert_ptr_equal(q, p[N - 2]);
}

/* Compares the arena with `damaged` but for the descriptor's failed,
 * peak_request and max_align (which a refused allocation may move). */
static void unchanged_but_counters(gjb_heap *h)
{
    const gjb_heap *was = (const gjb_heap *)(const void *)(damaged + ((unsigned char *)h - arena));
    size_t failed = h->failed, peak = h->peak_request, align = h->max_align;
    h->failed = was->failed;
    h->peak_request = was->peak_request;
    h->max_align = was->max_align;
    assert_memory_equal(arena, damaged, ARENA);
    h->failed = failed;
    h->peak_request = peak;
    h->max_align = align;
}

/* A class bit with no block behind it (a stale bitmap): the allocation
 * that finds it fails and counts as failed, instead of taking a block at
 * offset 0 (the descriptor) or looping; validate says CORRUPT. */
static void allocation_on_a_stale_class_bit(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    void *q;
    /* an exact class: a request whose own class is empty, above every exact
     * class that holds blocks */
    unsigned top = 0;
    for (unsigned c = 0; c < FF_EXACT; c++)
        if (h->lists[c])
            top = c;
    assert_true(top + 2 < FF_EXACT);
    size_t size = (top + 1) * GJB_G - GJB_W; /* a block of class top + 1 */
    assert_int_equal(ff_class(gjb_ff_block_size(size)), top + 1);
    h->small_map |= 1u << (FF_EXACT - 1);
    memcpy(damaged, arena, ARENA);
    size_t before = h->failed;
    assert_int_equal(gjb_heap_alloc(h, size, &q), GJB_E_NOMEM);
    assert_int_equal(h->failed, before + 1);
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    unchanged_but_counters(h); /* nothing else written */

    /* a large class above every class that holds blocks */
    restore();
    void *whole; /* takes the untouched region: the largest block is now smaller */
    assert_int_equal(gjb_heap_alloc(h, gjb_heap_max_alloc(h), &whole), GJB_OK);
    size_t largest = gjb_heap_max_alloc(h);
    assert_true(largest + 4 * GJB_G <= h->max_block);
    unsigned kmax = ff_class(h->max_block) - FF_EXACT;
    assert_true(kmax < h->nlarge && ff_large(h)[kmax] == 0);
    ff_groups(h)[kmax / FF_GROUP] |= (unsigned char)(1u << (kmax % FF_GROUP));
    h->map |= (uint64_t)1 << (kmax / FF_GROUP);
    memcpy(damaged, arena, ARENA);
    before = h->failed;
    assert_int_equal(gjb_heap_alloc(h, largest + GJB_G, &q), GJB_E_NOMEM);
    /* an alignment the largest block's payload does not have: memalign
     * looks further up, and meets the stale bit too */
    uintptr_t pay = (uintptr_t)gjb_ptr(h, *ff_head(h, ff_class(largest + GJB_W))) + GJB_W;
    assert_int_equal(gjb_heap_memalign(h, (size_t)(pay & (~pay + 1)) << 1, largest, &q), GJB_E_NOMEM);
    assert_int_equal(h->failed, before + 2);
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    unchanged_but_counters(h);
}

/* --- damaged metadata: free and realloc write nothing ------------------ */

/* Applies the damage, then expects free, realloc and usable_size of p to
 * refuse with CORRUPT without changing a byte of the arena. */
static void expect_refused(gjb_heap *h, void *p)
{
    void *out = NULL;
    memcpy(damaged, arena, ARENA);
    assert_int_equal(gjb_heap_free(h, p), GJB_E_CORRUPT);
    assert_memory_equal(arena, damaged, ARENA);
    assert_int_equal(gjb_heap_realloc(h, p, 8, &out), GJB_E_CORRUPT);
    assert_int_equal(gjb_heap_realloc(h, p, 4000, &out), GJB_E_CORRUPT);
    assert_null(out);
    assert_memory_equal(arena, damaged, ARENA);
    assert_int_equal(gjb_heap_usable_size(h, p), 0);
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
}

#define EXPECT_REFUSED(h, p, mutation) \
    do {                               \
        restore();                     \
        mutation;                      \
        expect_refused(h, p);          \
    } while (0)

static void free_refuses_damaged_blocks(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    char *b = hdr_of(blk[2]); /* allocated; free before it, allocated after */
    char *c = hdr_of(blk[3]); /* allocated; allocated before, free after */
    char *f = hdr_of(blk[1]); /* free, before b */
    char *g = hdr_of(blk[4]); /* free, after c */
    char *e = hdr_of(blk[5]); /* allocated, after g */
    size_t sb = bsize(b), sc = bsize(c), sf = bsize(f), sg = bsize(g);
    const size_t tiny = FF_MIN - GJB_G; /* a size below the smallest block */
    assert_ptr_equal(f + sf, b);
    assert_ptr_equal(b + sb, c);
    assert_ptr_equal(c + sc, g);
    assert_ptr_equal(g + sg, e);
    assert_true(is_free(g));
    assert_true(bsize(e) > GJB_G);

    /* its own header */
    EXPECT_REFUSED(h, blk[3], set_hdr(c, hdr(c) + 8));
    EXPECT_REFUSED(h, blk[3], set_hdr(c, tiny | (hdr(c) & FF_FLAGS)));
    EXPECT_REFUSED(h, blk[3], set_hdr(c, SIZE_MAX & ~(size_t)15));
    EXPECT_REFUSED(h, blk[3], set_hdr(c, hdr(c) + GJB_G));           /* into the free block g */
    EXPECT_REFUSED(h, blk[3], set_hdr(c, hdr(c) + sg + GJB_G));      /* inside the block after g */
    EXPECT_REFUSED(h, blk[3], set_hdr(c, hdr(c) - GJB_G));           /* short of g */
    EXPECT_REFUSED(h, blk[2], set_hdr(b, hdr(b) + GJB_G));           /* inside c, allocated */
    EXPECT_REFUSED(h, blk[2], set_hdr(b, hdr(b) + sc - GJB_G));      /* c's last granule */
    EXPECT_REFUSED(h, blk[3], set_flag(c, FF_FREE));                 /* reads free */
    /* the next block's header */
    EXPECT_REFUSED(h, blk[3], set_hdr(g, hdr(g) + 8));
    EXPECT_REFUSED(h, blk[3], set_hdr(g, (hdr(g) & FF_FLAGS) | tiny));
    EXPECT_REFUSED(h, blk[3], set_hdr(g, (hdr(g) & FF_FLAGS) | (SIZE_MAX & ~(size_t)15)));
    EXPECT_REFUSED(h, blk[3], set_hdr(g, hdr(g) + GJB_G));
    EXPECT_REFUSED(h, blk[3], set_hdr(g + sg - GJB_W, sg - GJB_G));  /* its footer */
    EXPECT_REFUSED(h, blk[2], set_flag(c, FF_PREV_FREE));
    /* the footer of the free block before it */
    EXPECT_REFUSED(h, blk[2], set_hdr(b - GJB_W, SIZE_MAX & ~(size_t)15));
    EXPECT_REFUSED(h, blk[2], set_hdr(b - GJB_W, sf + 8));
    EXPECT_REFUSED(h, blk[2], set_hdr(b - GJB_W, tiny));
    EXPECT_REFUSED(h, blk[2], set_hdr(b - GJB_W, sf + GJB_G)); /* no block starts there */
    EXPECT_REFUSED(h, blk[2], set_hdr(b - GJB_W, sf - GJB_G));
    /* the free block before it */
    EXPECT_REFUSED(h, blk[2], set_hdr(f, hdr(f) + GJB_G));
    EXPECT_REFUSED(h, blk[2], clear_flag(f, FF_FREE));
    EXPECT_REFUSED(h, blk[2], set_flag(f, FF_PREV_FREE));

    /* Undamaged, both are freed and merge with their free neighbours. */
    restore();
    assert_int_equal(gjb_heap_free(h, blk[2]), GJB_OK);
    assert_int_equal(gjb_heap_free(h, blk[3]), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    assert_int_equal(bsize(f), sf + sb + sc + sg);
    assert_int_equal(*head_of(h, gjb_off(h, f)), gjb_off(h, f)); /* first in its class */
}

/* A heap of one region (where ff_free_fast's path is inline, region 0
 * without a search): A, B, C, D allocated in a row, then the free rest. */
static gjb_heap *one_region(void **a, void **b, void **c, void **d)
{
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena, 16384, GJB_FIRST_FIT, 1, &h), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 100, a), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 200, b), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 100, c), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 100, d), GJB_OK);
    assert_ptr_equal(hdr_of(*b), hdr_of(*a) + bsize(hdr_of(*a)));
    assert_ptr_equal(hdr_of(*c), hdr_of(*b) + bsize(hdr_of(*b)));
    assert_ptr_equal(hdr_of(*d), hdr_of(*c) + bsize(hdr_of(*c)));
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    snapshot();
    return h;
}

/* In a one-region heap a free first takes the inline path, which hands
 * anything unusual to the general functions (a neighbour to merge with:
 * gjb_ff_free_merge; damage: gjb_ff_free). Damage found on either way is
 * refused with CORRUPT and nothing written: its own size past the region's
 * end or into the next block; the next block's header saying it is free;
 * a free next block whose size or footer is damaged; a free block before
 * it whose footer is damaged. */
static void fast_free_refuses_damaged_neighbours(void **state)
{
    (void)state;
    void *a, *b, *c, *d;
    gjb_heap *h = one_region(&a, &b, &c, &d);
    char *ha = hdr_of(a), *hb = hdr_of(b), *hc = hdr_of(c);
    size_t sa = bsize(ha), sb = bsize(hb), sc = bsize(hc);
    const size_t tiny = FF_MIN - GJB_G, huge = SIZE_MAX & ~(GJB_G - 1); /* whole granules */

    /* all four allocated */
    EXPECT_REFUSED(h, a, set_hdr(ha, huge));                            /* past the end */
    EXPECT_REFUSED(h, a, set_hdr(ha, (size_t)(h->hot.end - gjb_off(h, ha)) + GJB_G));
    EXPECT_REFUSED(h, a, set_hdr(ha, sa + GJB_G));                      /* into B */
    EXPECT_REFUSED(h, a, set_flag(hb, FF_PREV_FREE));                   /* B says A is free */

    /* B free: A's next block and C's previous one */
    restore();
    assert_int_equal(gjb_heap_free(h, b), GJB_OK);
    assert_true(is_free(hb));
    assert_true(hdr(hc) & FF_PREV_FREE);
    snapshot();
    EXPECT_REFUSED(h, a, set_hdr(hb + sb - GJB_W, sb + GJB_G));         /* B's footer */
    EXPECT_REFUSED(h, a, set_hdr(hb, tiny | FF_FREE));                  /* B's size */
    EXPECT_REFUSED(h, a, set_hdr(hb, (sb + 8) | FF_FREE));
    EXPECT_REFUSED(h, a, set_hdr(hb, huge | FF_FREE));
    EXPECT_REFUSED(h, a, set_hdr(hb, ((size_t)(h->hot.end - gjb_off(h, hb)) + GJB_G) | FF_FREE));
    EXPECT_REFUSED(h, a, set_hdr(hb, (sb + GJB_G) | FF_FREE));
    EXPECT_REFUSED(h, c, set_hdr(hc - GJB_W, tiny));                    /* B's footer, from C */
    EXPECT_REFUSED(h, c, set_hdr(hc - GJB_W, sb + 8));
    EXPECT_REFUSED(h, c, set_hdr(hc - GJB_W, huge));
    EXPECT_REFUSED(h, c, set_hdr(hc - GJB_W, (size_t)(hc - gjb_ptr(h, h->hot.first)) + GJB_G));
    EXPECT_REFUSED(h, c, set_hdr(hc - GJB_W, sb - GJB_G));              /* no header there */
    EXPECT_REFUSED(h, c, set_hdr(hc, hdr(hc) + GJB_G));                 /* C's size into D */

    /* Undamaged: A merges with B, C with both, D with all and the rest. */
    restore();
    assert_int_equal(gjb_heap_free(h, a), GJB_OK);
    assert_true(is_free(ha));
    assert_int_equal(bsize(ha), sa + sb);
    assert_int_equal(gjb_heap_free(h, c), GJB_OK);
    assert_int_equal(bsize(ha), sa + sb + sc);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    assert_int_equal(gjb_heap_free(h, d), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.alloc_blocks, 0);
    assert_int_equal(st.free_blocks, 1);
}

/* A heap with quick lists sets a block memalign placed aside beside free
 * blocks (the gap in front of it, the rest after it) and memalign takes it
 * back; the free block after it is checked first: damaged (its size, its
 * footer, its flags), the free is refused with CORRUPT and nothing
 * written. */
static void quick_heap_sets_memalign_blocks_aside(void **state)
{
    (void)state;
    gjb_heap *h = quick_heap();
    void *a, *q, *again;
    assert_int_equal(gjb_heap_alloc(h, 100, &a), GJB_OK);
    assert_int_equal(gjb_heap_memalign(h, 256, 100, &q), GJB_OK);
    char *hq = hdr_of(q), *n = hq + bsize(hq); /* the free rest of the region */
    size_t sn = bsize(n);
    const size_t tiny = FF_MIN - GJB_G, huge = SIZE_MAX & ~(GJB_G - 1);
    assert_true(is_free(n) && n + sn < gjb_ptr(h, h->hot.end) + 1);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    snapshot();
    EXPECT_REFUSED(h, q, set_hdr(n, (sn + 8) | FF_FREE));       /* its size */
    EXPECT_REFUSED(h, q, set_hdr(n, tiny | FF_FREE));
    EXPECT_REFUSED(h, q, set_hdr(n, huge | FF_FREE));
    EXPECT_REFUSED(h, q, set_hdr(n, (sn - GJB_G) | FF_FREE));    /* its footer disagrees */
    EXPECT_REFUSED(h, q, set_hdr(n + sn - GJB_W, sn + GJB_G));   /* its footer */
    EXPECT_REFUSED(h, q, set_flag(n, FF_PREV_FREE));             /* it says q is free */
    /* Undamaged: set aside, not merged, and taken back by memalign. */
    restore();
    assert_int_equal(gjb_heap_free(h, q), GJB_OK);
    assert_true(ff_is_quick(hdr(hq)));
    assert_int_equal(bsize(n), sn);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    assert_int_equal(gjb_heap_memalign(h, 256, 100, &again), GJB_OK);
    assert_ptr_equal(again, q);
    assert_int_equal(gjb_heap_free(h, q), GJB_OK);
    assert_int_equal(gjb_heap_free(h, a), GJB_OK); /* the last: whole again */
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.free_blocks, 1);
}

/* A block memalign placed goes onto the quick list of its size at the
 * level of its payload's alignment, and the level's bit says so;
 * validation checks the lists against the bits and each block's level:
 * a bit without its list, a list without its bit, a list at another level
 * are CORRUPT. */
static void quick_heap_lists_memalign_blocks_by_alignment(void **state)
{
    (void)state;
    gjb_heap *h = quick_heap();
    void *a, *q, *z;
    assert_int_equal(gjb_heap_alloc(h, 100, &a), GJB_OK);
    assert_int_equal(gjb_heap_memalign(h, 4 * GJB_G, 100, &q), GJB_OK);
    assert_int_equal(gjb_heap_alloc(h, 100, &z), GJB_OK);
    assert_int_equal(gjb_heap_free(h, q), GJB_OK);
    unsigned c = (unsigned)(bsize(hdr_of(q)) / GJB_G), k = ff_quick_level(q);
    assert_true(k >= 2 && k < FF_QUICK_LEVELS);
    unsigned char *lv = &ff_quick_levels(h)[c];
    int32_t *head = &ff_quick(h)[k * FF_QUICK_N + c], *other = &ff_quick(h)[FF_QUICK_N + c];
    assert_int_equal(*lv, 1u << k);
    assert_ptr_equal(gjb_ptr(h, ff_qhead(h, k * FF_QUICK_N + c)) + GJB_W, q);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    *lv = 0; /* the list without its bit */
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    *lv = (unsigned char)(3u << k); /* and a bit without a list */
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    *lv = 2; /* the block at level 1, which is not its own */
    *other = *head;
    *head = 0;
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    *head = *other; /* mended */
    *other = 0;
    *lv = (unsigned char)(1u << k);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    void *again;
    assert_int_equal(gjb_heap_memalign(h, 2 * GJB_G, 100, &again), GJB_OK);
    assert_ptr_equal(again, q); /* the only set-aside block of its size */
    assert_int_equal(*lv, 0);
    assert_int_equal(gjb_heap_free(h, again), GJB_OK);
    assert_int_equal(gjb_heap_free(h, z), GJB_OK);
    assert_int_equal(gjb_heap_free(h, a), GJB_OK); /* the last: whole again */
    assert_int_equal(*lv, 0);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* The same in a region other than the hot one (the free takes the
 * region table's way, ff_free_in): damage to the free block after the
 * block memalign placed is refused there too; undamaged, the block is
 * set aside. */
static void quick_heap_sets_memalign_blocks_aside_in_another_region(void **state)
{
    (void)state;
    if (!FF_QUICK_OK)
        skip();
    gjb_heap *h;
    void *big, *q;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena + 24576, ARENA - 24576, GJB_FIRST_FIT | GJB_QUICK, 2, &h),
                     GJB_OK);
    assert_int_equal(gjb_heap_add_region(h, arena + 4096, 16384), GJB_OK);
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    assert_int_equal(gjb_heap_alloc(h, st.largest_free, &big), GJB_OK); /* the hot region's rest */
    assert_int_equal(gjb_heap_memalign(h, 256, 100, &q), GJB_OK);
    const struct gjb_region *r = gjb_region_at(h, gjb_off(h, hdr_of(q)));
    assert_non_null(r);
    assert_true(r->lo != h->hot.lo); /* not the hot region */
    char *hq = hdr_of(q), *n = hq + bsize(hq);
    size_t sn = bsize(n);
    const size_t tiny = FF_MIN - GJB_G, huge = SIZE_MAX & ~(GJB_G - 1);
    assert_true(is_free(n));
    snapshot();
    EXPECT_REFUSED(h, q, set_hdr(n, (sn + 8) | FF_FREE));
    EXPECT_REFUSED(h, q, set_hdr(n, tiny | FF_FREE));
    EXPECT_REFUSED(h, q, set_hdr(n, huge | FF_FREE));
    EXPECT_REFUSED(h, q, set_hdr(n + sn - GJB_W, sn + GJB_G));
    EXPECT_REFUSED(h, q, set_flag(n, FF_PREV_FREE));
    restore();
    assert_int_equal(gjb_heap_free(h, q), GJB_OK);
    assert_true(ff_is_quick(hdr(hq)));
    assert_int_equal(bsize(n), sn);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* Region 0's own record damaged in a heap of one region (where it is the
 * whole region table): its memory must surround the descriptor. */
static void validate_detects_region_zero_damage(void **state)
{
    (void)state;
    void *a, *b, *c, *d;
    gjb_heap *h = one_region(&a, &b, &c, &d);
    struct gjb_region r0 = h->hot;
    const intptr_t G = (intptr_t)GJB_G;
    EXPECT_CORRUPT(h, h->hot.lo = G);                           /* starts after the descriptor */
    EXPECT_CORRUPT(h, h->hot = ((struct gjb_region){-8 * G, 0, -8 * G, -4 * G})); /* ends at it */
    EXPECT_CORRUPT(h, h->hot.end = h->hot.hi + G);
    EXPECT_CORRUPT(h, h->hot.hi = h->hot.end + (intptr_t)GJB_W); /* the proof bitmap outside */
    EXPECT_CORRUPT(h, h->segments = h->alloc_blocks);
    restore();
    assert_memory_equal(&h->hot, &r0, sizeof r0);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

/* gjb_heap_block_of: the payload of an allocated block for any byte of it;
 * NULL for a header, a free block, metadata and memory outside. */
static void block_of_payloads_only(void **state)
{
    (void)state;
    void *a, *b, *c, *d;
    gjb_heap *h = one_region(&a, &b, &c, &d);
    assert_int_equal(gjb_heap_free(h, b), GJB_OK);
    assert_ptr_equal(gjb_heap_block_of(h, a), a);
    assert_ptr_equal(gjb_heap_block_of(h, (char *)a + 99), a);
    assert_ptr_equal(gjb_heap_block_of(h, c), c);
    assert_null(gjb_heap_block_of(h, hdr_of(a)));
    assert_null(gjb_heap_block_of(h, (char *)c - 1)); /* C's header */
    assert_null(gjb_heap_block_of(h, b));             /* free */
    assert_null(gjb_heap_block_of(h, (char *)b + 50));
    assert_null(gjb_heap_block_of(h, (char *)h + GJB_W)); /* the descriptor */
    assert_null(gjb_heap_block_of(h, arena + 20000));      /* outside */
}

/* The entry points a GJBMEM_TOOLS build calls instead of the inline ones
 * (heap_ops.h): with no tool watching they must do exactly what
 * gjb_heap_alloc and gjb_heap_free do, under either policy, for good and
 * bad requests alike. Two identical heaps, one driven through each. */
static void watched_entry_points_match_plain_ones(void **state)
{
    (void)state;
    /* aligned alike: BUDDY carves by absolute address */
    static _Alignas(32768) unsigned char plain[32768], other[32768];
    for (int policy = GJB_FIRST_FIT; policy <= GJB_BUDDY; policy++) {
        gjb_heap *h, *w;
        memset(plain, 0, sizeof plain);
        memset(other, 0, sizeof other);
        assert_int_equal(gjb_heap_init(plain, sizeof plain, policy, 1, &h), GJB_OK);
        assert_int_equal(gjb_heap_init(other, sizeof other, policy, 1, &w), GJB_OK);
        const ptrdiff_t shift = other - plain;
        static const size_t sizes[] = {24, 40, 24, 500, 24, 40, 3000, 100000, 0, 40, 24};
        void *p[sizeof sizes / sizeof sizes[0]], *q[sizeof sizes / sizeof sizes[0]];
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            p[i] = q[i] = NULL;
            int rp = gjb_heap_alloc(h, sizes[i], &p[i]);
            int rq = gjb_heap_alloc_watched(w, sizes[i], &q[i]);
            assert_int_equal(rq, rp);
            if (rp == GJB_OK)
                assert_ptr_equal((char *)q[i] - shift, p[i]);
            else
                assert_null(q[i]);
            if (i == 3) /* a free block of that size first in its class */
                for (int k = 0; k < 2; k++) {
                    void **x = k ? &q[1] : &p[1];
                    assert_int_equal(k ? gjb_heap_free_watched(w, *x) : gjb_heap_free(h, *x),
                                     GJB_OK);
                    *x = NULL;
                }
        }
        /* bad frees: NULL, interior, foreign, double */
        assert_int_equal(gjb_heap_free_watched(w, NULL), gjb_heap_free(h, NULL));
        assert_int_equal(gjb_heap_free_watched(w, (char *)q[0] + 16), GJB_E_BADPTR);
        assert_int_equal(gjb_heap_free(h, (char *)p[0] + 16), GJB_E_BADPTR);
        assert_int_equal(gjb_heap_free_watched(w, plain + 4096), GJB_E_BADPTR);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (p[i]) {
                assert_int_equal(gjb_heap_free_watched(w, q[i]), GJB_OK);
                assert_int_equal(gjb_heap_free(h, p[i]), GJB_OK);
                assert_int_equal(gjb_heap_free_watched(w, q[i]), gjb_heap_free(h, p[i]));
            }
        struct gjbmem_heap_stats sh, sw;
        gjb_heap_get_stats(h, &sh);
        gjb_heap_get_stats(w, &sw);
        assert_memory_equal(&sh, &sw, sizeof sh);
        assert_int_equal(sh.alloc_blocks, 0);
        assert_true(sh.failed > 0); /* the 100000-byte request */
        assert_int_equal(gjb_heap_validate(w), GJB_OK);
        /* the same bytes but for links: those are offsets, so equal too */
        assert_memory_equal(plain, other, sizeof plain);
    }
}

/* --- gjbmem_strerror (src/core/strerror.c) ------------------------------ */

static void strerror_texts(void **state)
{
    (void)state;
    static const struct { int err; const char *text; } known[] = {
        {0, "success"},
        {ERROR_KERNEL_HANDLE_NULL, "invalid handle"},
        {ERROR_KERNEL_IN_ISR, "called from interrupt context"},
        {ERROR_KERNEL_MEMORY, "memory address error"},
        {ERROR_REGION_NULL, "bad memory control block"},
        {ERROR_REGION_SIZE, "region size error"},
        {ERROR_REGION_ALIGN, "region alignment error"},
        {ERROR_VMM_VIRTUAL_PAGE, "virtual page error"},
        {EINVAL, "invalid argument"},
        {ENOMEM, "out of memory"},
        {ENOSPC, "no space left (table full)"},
        {EBUSY, "resource busy"},
        {EACCES, "permission denied"},
        {ENOTSUP, "operation not supported"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_string_equal(gjbmem_strerror(known[i].err), known[i].text);
    assert_string_equal(gjbmem_strerror(-1), "unknown error");
    assert_string_equal(gjbmem_strerror(ERANGE), "unknown error");
    assert_string_equal(gjbmem_strerror(4003), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_rejects_bad_arguments),
        cmocka_unit_test(init_size_sweep),
        cmocka_unit_test(add_region_edge_cases),
        cmocka_unit_test(far_memory_is_refused),
        cmocka_unit_test(region_table_room),
        cmocka_unit_test(hot_region),
        cmocka_unit_test(regions_in_descending_order),
        cmocka_unit_test(quick_heap_entries),
        cmocka_unit_test(quick_heap_validate_refuses_bad_quick_links),
        cmocka_unit_test(realloc_moves_a_large_block_to_the_end_of_its_free_block),
        cmocka_unit_test(quick_heap_sets_memalign_blocks_aside),
        cmocka_unit_test(quick_heap_lists_memalign_blocks_by_alignment),
        cmocka_unit_test(quick_heap_sets_memalign_blocks_aside_in_another_region),
        cmocka_unit_test(alloc_arguments_and_stats),
        cmocka_unit_test(pointer_checks),
        cmocka_unit_test(walk_all_and_stop_early),
        cmocka_unit_test(walk_stops_at_a_size_past_its_region),
        cmocka_unit_test(validate_detects_header_damage),
        cmocka_unit_test(validate_detects_class_table_damage),
        cmocka_unit_test(validate_detects_block_damage),
        cmocka_unit_test(validate_detects_list_damage),
        cmocka_unit_test(validate_refuses_a_cyclic_list),
        cmocka_unit_test(allocation_on_a_stale_class_bit),
        cmocka_unit_test(free_refuses_damaged_blocks),
        cmocka_unit_test(fast_free_refuses_damaged_neighbours),
        cmocka_unit_test(validate_detects_region_zero_damage),
        cmocka_unit_test(block_of_payloads_only),
        cmocka_unit_test(watched_entry_points_match_plain_ones),
        cmocka_unit_test(strerror_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
