/*
 * test_engine.c - the heap engine called directly (gjb_heap_*): init and
 * add_region edge cases, pointer checks, damaged metadata (validate must
 * report GJB_E_CORRUPT; free/realloc of a block whose metadata is damaged
 * must refuse and write nothing, checked byte for byte), the walk, usable
 * sizes and statistics.
 *
 * The damage is done through the engine's own layout (core/heap_internal.h),
 * one field at a time, on a copy of a heap that validates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>

#include "core/heap_internal.h"
#include "gjbext.h"

#define ARENA (64 * 1024)

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

static struct gjb_node *node_at(gjb_heap *h, intptr_t off)
{
    return gjb_node(h, off);
}

static size_t node_recompute(gjb_heap *h, intptr_t off)
{
    struct gjb_node *n = node_at(h, off);
    size_t m = gjb_size(gjb_ptr(h, off));
    if (n->link[0] && node_at(h, n->link[0])->max > m)
        m = node_at(h, n->link[0])->max;
    if (n->link[1] && node_at(h, n->link[1])->max > m)
        m = node_at(h, n->link[1])->max;
    return m;
}

static bool red(gjb_heap *h, intptr_t off)
{
    return off && (gjb_hdr(gjb_ptr(h, off)) & GJB_RED);
}

/* First node (pre-order) matching pred, or 0. */
static intptr_t find_node(gjb_heap *h, intptr_t off, bool (*pred)(gjb_heap *, intptr_t))
{
    if (!off)
        return 0;
    if (pred(h, off))
        return off;
    intptr_t f = find_node(h, node_at(h, off)->link[0], pred);
    return f ? f : find_node(h, node_at(h, off)->link[1], pred);
}

static bool is_red_leaf(gjb_heap *h, intptr_t off)
{
    struct gjb_node *n = node_at(h, off);
    return red(h, off) && !n->link[0] && !n->link[1];
}

static bool is_red_below_black_nonroot(gjb_heap *h, intptr_t off)
{
    struct gjb_node *n = node_at(h, off);
    return red(h, off) && n->parent && n->parent != h->root;
}

static bool has_free_link(gjb_heap *h, intptr_t off)
{
    struct gjb_node *n = node_at(h, off);
    return !n->link[0] || !n->link[1];
}

/* The "rich" heap: two regions (the second one unaligned and below the
 * first), 42 blocks in region 0 with every third one freed, so the tree has
 * a dozen nodes; blocks 2 and 3 are allocated neighbours, block 1 and 4 free. */
#define NB 42
static void *blk[NB];

static gjb_heap *rich_heap(void)
{
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena + 16384, 16384, GJB_FIRST_FIT, 4, &h), GJB_OK);
    assert_int_equal(gjb_heap_add_region(h, arena + 4104, 8000), GJB_OK);
    assert_int_equal(h->nregions, 2);
    assert_true(h->region[0].lo < h->region[1].lo); /* kept sorted */
    /* Region 0 (the low one, added second) is filled first: first fit. */
    for (int i = 0; i < NB; i++) {
        assert_int_equal(gjb_heap_alloc(h, 40 + (size_t)(i % 5) * 24, &blk[i]), GJB_OK);
        if (i)
            assert_true((char *)blk[i] > (char *)blk[i - 1]);
    }
    for (int i = 1; i < NB; i += 3)
        assert_int_equal(gjb_heap_free(h, blk[i]), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    assert_true(h->free_blocks >= NB / 3);
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
    assert_int_equal(gjb_heap_init(arena, 4096, 2, 1, &h), GJB_E_POLICY);
    assert_int_equal(gjb_heap_init(arena, 4096, -1, 1, &h), GJB_E_POLICY);
    /* Too small for the descriptor, or for its alignment. */
    assert_int_equal(gjb_heap_init(arena, 64, GJB_FIRST_FIT, 1, &h), GJB_E_SMALL);
    assert_int_equal(gjb_heap_init(arena + 1, 2, GJB_FIRST_FIT, 1, &h), GJB_E_SMALL);
    assert_int_equal(gjb_heap_init(arena, 4096, GJB_FIRST_FIT, 200, &h), GJB_E_SMALL);
    assert_null(h);
}

/* Every size from nothing to 3 KiB, at an aligned and an unaligned start:
 * SMALL up to a threshold, a valid heap from there on; the smallest heap
 * holds exactly one minimum block. */
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
                assert_int_equal(threshold, 0); /* no refusal above the threshold */
                continue;
            }
            if (!threshold) {
                threshold = size;
                assert_int_equal(gjb_heap_max_alloc(h), GJB_MIN_BLOCK - GJB_W);
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
            /* the bitmap and sentinel stay inside the memory handed in */
            const struct gjb_region *r = &h->region[0];
            assert_true((uintptr_t)gjb_bitmap(h, r) <= (uintptr_t)arena + shift + size);
        }
        assert_true(threshold > sizeof(gjb_heap) + sizeof(struct gjb_region));
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
    assert_int_equal(gjb_heap_validate(h), GJB_OK);

    /* The smallest region accepted holds exactly one minimum block. */
    size_t smallest = 0;
    for (size_t size = 1; size < 200 && !smallest; size++) {
        int rc = gjb_heap_add_region(h, arena + 1000 + 3, size);
        if (rc == GJB_OK)
            smallest = size;
        else
            assert_int_equal(rc, GJB_E_SMALL);
    }
    assert_true(smallest >= GJB_MIN_BLOCK + GJB_W);
    assert_int_equal(h->nregions, 2);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    void *p;
    assert_int_equal(gjb_heap_alloc(h, GJB_MIN_BLOCK - GJB_W, &p), GJB_OK);
    assert_ptr_equal(hdr_of(p), gjb_ptr(h, h->region[0].first)); /* the low region first */
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

/* Regions added at descending addresses: the table stays sorted, every
 * region is found, first fit goes by address. */
static void regions_in_descending_order(void **state)
{
    (void)state;
    gjb_heap *h;
    memset(arena, 0, ARENA);
    assert_int_equal(gjb_heap_init(arena + 49152, 4096, GJB_FIRST_FIT, 5, &h), GJB_OK);
    for (int k = 3; k >= 0; k--)
        assert_int_equal(gjb_heap_add_region(h, arena + (size_t)k * 12288 + 8, 4096), GJB_OK);
    assert_int_equal(h->nregions, 5);
    for (uint32_t i = 1; i < h->nregions; i++)
        assert_true(h->region[i - 1].hi <= h->region[i].lo);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    void *p[5];
    for (int i = 0; i < 5; i++) {
        assert_int_equal(gjb_heap_alloc(h, 3000, &p[i]), GJB_OK);
        assert_ptr_equal(hdr_of(p[i]), gjb_ptr(h, h->region[i].first));
        assert_int_equal(gjb_heap_usable_size(h, p[i]), GJB_ROUND_UP(3000 + GJB_W, GJB_G) - GJB_W);
    }
    void *q;
    assert_int_equal(gjb_heap_alloc(h, 3000, &q), GJB_E_NOMEM);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    for (int i = 4; i >= 0; i--)
        assert_int_equal(gjb_heap_free(h, p[i]), GJB_OK);
    assert_true(gjb_heap_is_empty(h));
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
    /* One free block: the whole block area less its header (DESIGN.md: 7736
     * bytes for an 8 KiB partition, from a 112-byte descriptor on LP64). */
    const size_t avail = (size_t)(h->region[0].end - h->region[0].first) - GJB_W;
    if (sizeof(void *) == 8 && GJB_G == 16)
        assert_int_equal(avail, 7736);
    assert_int_equal(st.free, avail);
    assert_int_equal(st.largest_free, avail);
    assert_int_equal(st.used, 8192 - avail);
    assert_int_equal(st.maxused, st.used);
    assert_int_equal(st.header_bytes, GJB_W);
    assert_int_equal(st.min_block, GJB_MIN_BLOCK);
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

    assert_int_equal(gjb_heap_realloc(h, NULL, 100, &p), GJB_OK); /* NULL: allocate */
    assert_int_equal(gjb_heap_usable_size(h, p), 104);
    assert_int_equal(gjb_heap_memalign(h, 8, 10, &q), GJB_OK); /* small alignment: plain */
    assert_int_equal((uintptr_t)q % GJB_G, 0);
    assert_ptr_equal(q, (char *)p + 112);
    assert_int_equal(gjb_heap_usable_size(h, q), GJB_MIN_BLOCK - GJB_W);
    gjb_heap_get_stats(h, &st);
    assert_int_equal(st.alloc_blocks, 2);
    assert_int_equal(st.free_blocks, 1);
    assert_int_equal(st.segments, 3);
    assert_int_equal(st.free, avail - 112 - GJB_MIN_BLOCK);
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
    _Alignas(16) char foreign[64];
    void *out;
    assert_int_equal(gjb_heap_free(h, NULL), GJB_E_INVAL);
    assert_int_equal(gjb_heap_usable_size(h, NULL), 0);
    void *bad[] = {
        (char *)blk[2] + 1,                        /* misaligned */
        (char *)blk[2] + 16,                       /* interior: no block starts there */
        foreign + 16,                              /* not in the heap */
        blk[1],                                    /* free block (double free) */
        arena + 16,                                /* before every region's blocks */
        gjb_ptr(h, h->region[0].end) + GJB_W,      /* the sentinel */
        gjb_ptr(h, h->region[1].end) + 4 * GJB_G,  /* the bitmap */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gjb_heap_free(h, bad[i]), GJB_E_BADPTR);
        assert_int_equal(gjb_heap_realloc(h, bad[i], 10, &out), GJB_E_BADPTR);
        assert_int_equal(gjb_heap_usable_size(h, bad[i]), 0);
    }
    assert_memory_equal(arena, saved, ARENA);
    assert_int_equal(gjb_heap_usable_size(h, blk[2]), GJB_ROUND_UP(40 + 48 + GJB_W, GJB_G) - GJB_W);
    assert_int_equal(gjb_heap_usable_size(h, blk[0]), GJB_MIN_BLOCK - GJB_W);
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

/* --- damaged metadata: validate --------------------------------------- */

static void validate_detects_header_damage(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    EXPECT_CORRUPT(h, h->magic ^= 1);
    EXPECT_CORRUPT(h, h->policy = 1);
    EXPECT_CORRUPT(h, h->nregions = 0);
    EXPECT_CORRUPT(h, h->nregions = h->max_regions + 1u);
    EXPECT_CORRUPT(h, h->alloc_blocks++);
    EXPECT_CORRUPT(h, h->free_blocks++);
    EXPECT_CORRUPT(h, h->free_bytes += GJB_G);
    EXPECT_CORRUPT(h, h->total += 1);
    EXPECT_CORRUPT(h, h->max_block += GJB_G);
    EXPECT_CORRUPT(h, h->maxused = 0);
    assert_int_equal(gjb_heap_validate(NULL), GJB_E_CORRUPT);
    /* regions out of order */
    restore();
    struct gjb_region tmp = h->region[0];
    h->region[0] = h->region[1];
    h->region[1] = tmp;
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    /* region records */
    struct gjb_region *r = &h->region[0];
    EXPECT_CORRUPT(h, r->hi = r->lo);
    EXPECT_CORRUPT(h, r->first = r->lo - (intptr_t)GJB_G);
    EXPECT_CORRUPT(h, r->first = r->end);
    EXPECT_CORRUPT(h, r->end -= (intptr_t)GJB_W);
    EXPECT_CORRUPT(h, (r->first += (intptr_t)GJB_W, r->end += (intptr_t)GJB_W));
    EXPECT_CORRUPT(h, r->hi = r->end + (intptr_t)GJB_W); /* bitmap beyond the region */
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

static void validate_detects_block_damage(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    const struct gjb_region *r = &h->region[0];
    char *a = hdr_of(blk[2]);  /* allocated, its predecessor is free */
    char *c = hdr_of(blk[3]);  /* allocated, after an allocated block */
    char *f = hdr_of(blk[1]);  /* free */
    size_t sa = gjb_size(a), sf = gjb_size(f);
    char *end = gjb_ptr(h, r->end);
    assert_false(gjb_is_free(a));
    assert_true(gjb_hdr(a) & GJB_PREV_FREE);
    assert_true(gjb_is_free(f));

    EXPECT_CORRUPT(h, gjb_set_hdr(a, 32 | (gjb_hdr(a) & GJB_FLAGS)));      /* too small */
    EXPECT_CORRUPT(h, gjb_set_hdr(a, gjb_hdr(a) + 8));                     /* unaligned size */
    EXPECT_CORRUPT(h, gjb_set_hdr(a, (SIZE_MAX & ~(size_t)15) | GJB_PREV_FREE)); /* past end */
    EXPECT_CORRUPT(h, gjb_set_hdr(c, gjb_hdr(c) + GJB_G));                 /* next bit missing */
    EXPECT_CORRUPT(h, gjb_bit_clear(h, r, a));                             /* no start bit */
    EXPECT_CORRUPT(h, gjb_clear_flag(a, GJB_PREV_FREE));                   /* flag vs neighbour */
    EXPECT_CORRUPT(h, gjb_set_flag(c, GJB_PREV_FREE));
    EXPECT_CORRUPT(h, gjb_set_flag(a, GJB_FREE));                          /* two free in a row */
    EXPECT_CORRUPT(h, gjb_set_hdr(f + sf - GJB_W, sf + GJB_G));            /* footer */
    EXPECT_CORRUPT(h, gjb_set_hdr(end, gjb_hdr(end) ^ GJB_PREV_FREE));     /* sentinel */
    EXPECT_CORRUPT(h, gjb_set_hdr(end, GJB_G | gjb_hdr(end)));
    EXPECT_CORRUPT(h, gjb_bit_clear(h, r, end));                           /* sentinel bit */
    EXPECT_CORRUPT(h, gjb_bit_set(h, r, a + GJB_G));                       /* stray bit */
    EXPECT_CORRUPT(h, gjb_bit_set(h, r, a + sa - GJB_G));
    /* the same in the second region (the one holding the descriptor) */
    const struct gjb_region *r1 = &h->region[1];
    char *first1 = gjb_ptr(h, r1->first);
    EXPECT_CORRUPT(h, gjb_bit_set(h, r1, first1 + GJB_G));
    EXPECT_CORRUPT(h, gjb_set_hdr(first1 + gjb_size(first1) - GJB_W, 0));
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

static void validate_detects_tree_damage(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    const struct gjb_region *r = &h->region[0];
    intptr_t root = h->root;
    assert_true(root != 0);
    struct gjb_node *rn = node_at(h, root);
    assert_true(rn->link[0] && rn->link[1]);
    intptr_t rl = node_at(h, root)->link[0];
    intptr_t rd = find_node(h, root, is_red_below_black_nonroot);
    intptr_t leaf = find_node(h, root, is_red_leaf);
    intptr_t open = find_node(h, root, has_free_link);
    assert_true(rd != 0);
    assert_true(leaf != 0);
    assert_true(open != 0);
    struct gjb_node *on = node_at(h, open);
    int side = on->link[0] != 0; /* an empty link of `open` */
    intptr_t alloc_off = gjb_off(h, hdr_of(blk[2]));

    EXPECT_CORRUPT(h, gjb_set_flag(gjb_ptr(h, root), GJB_RED));                /* red root */
    EXPECT_CORRUPT(h, node_at(h, rl)->parent = rl);                            /* parent link */
    EXPECT_CORRUPT(h, rn->max += GJB_G);                                       /* subtree max */
    EXPECT_CORRUPT(h, node_at(h, rl)->max -= GJB_G);
    EXPECT_CORRUPT(h, gjb_set_flag(gjb_ptr(h, node_at(h, rd)->parent), GJB_RED)); /* red-red */
    EXPECT_CORRUPT(h, gjb_clear_flag(gjb_ptr(h, leaf), GJB_RED));              /* black height */
    EXPECT_CORRUPT(h, (rn->link[0] = rn->link[1], rn->link[1] = rl));          /* order */
    EXPECT_CORRUPT(h, on->link[side] = alloc_off);                             /* allocated */
    EXPECT_CORRUPT(h, on->link[side] = alloc_off + (intptr_t)GJB_G);           /* no block */
    EXPECT_CORRUPT(h, on->link[side] = r->end + 4096);                         /* no region */
    EXPECT_CORRUPT(h, h->root = rl);                                           /* lost nodes */
    /* A red leaf taken out of the tree, maxima repaired: the tree is a
     * valid red-black tree, but it misses a free block. */
    restore();
    intptr_t parent = node_at(h, leaf)->parent;
    struct gjb_node *pn = node_at(h, parent);
    pn->link[pn->link[1] == leaf] = 0;
    for (intptr_t up = parent; up; up = node_at(h, up)->parent)
        node_at(h, up)->max = node_recompute(h, up);
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    restore();
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
}

static int collect_free(void *ctx, void *payload, size_t size, bool used)
{
    (void)size;
    if (!used) {
        intptr_t **o = ctx;
        *(*o)++ = (intptr_t)hdr_of(payload);
    }
    return 0;
}

/* A tree deeper than any red-black tree can be (a chain of 140 nodes with
 * consistent links and maxima) is refused, not recursed into forever. */
static void validate_refuses_a_degenerate_chain(void **state)
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
    static intptr_t addr[N];
    intptr_t *cur = addr;
    assert_int_equal(gjb_heap_walk(h, collect_free, &cur), 0);
    size_t n = (size_t)(cur - addr);
    assert_int_equal(n, h->free_blocks);
    assert_true(n > 130);
    /* Right-leaning chain in address order, all black. */
    size_t m = 0;
    for (size_t i = n; i-- > 0;) {
        char *b = (char *)addr[i];
        struct gjb_node *nd = node_at(h, gjb_off(h, b));
        nd->parent = i ? gjb_off(h, (char *)addr[i - 1]) : 0;
        nd->link[0] = 0;
        nd->link[1] = i + 1 < n ? gjb_off(h, (char *)addr[i + 1]) : 0;
        if (gjb_size(b) > m)
            m = gjb_size(b);
        nd->max = m;
        gjb_clear_flag(b, GJB_RED);
    }
    h->root = gjb_off(h, (char *)addr[0]);
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
    /* Still a search tree: first fit answers from it (and never loops). */
    void *q;
    assert_int_equal(gjb_heap_alloc(h, 40, &q), GJB_OK);
    assert_ptr_equal(q, p[0]);
}

/* A stale subtree maximum promises a block the tree does not hold: first
 * fit runs off the tree and the allocation fails instead of looping. */
static void first_fit_on_a_stale_maximum(void **state)
{
    (void)state;
    gjb_heap *h = rich_heap();
    void *whole; /* takes the untouched region: the largest block is now smaller */
    assert_int_equal(gjb_heap_alloc(h, gjb_heap_max_alloc(h), &whole), GJB_OK);
    size_t largest = gjb_tree_max(h);
    assert_true(largest + 4 * GJB_G <= h->max_block);
    node_at(h, h->root)->max = h->max_block;
    void *q;
    size_t before = h->failed;
    assert_int_equal(gjb_heap_alloc(h, largest + GJB_G, &q), GJB_E_NOMEM);
    assert_int_equal(h->failed, before + 1);
    assert_int_equal(gjb_heap_validate(h), GJB_E_CORRUPT);
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
    char *b = hdr_of(blk[2]);  /* allocated; free before it, allocated after */
    char *c = hdr_of(blk[3]);  /* allocated; allocated before, free after */
    char *f = hdr_of(blk[1]);  /* free, before b */
    char *g = hdr_of(blk[4]);  /* free, after c */
    size_t sc = gjb_size(c), sf = gjb_size(f);
    assert_ptr_equal(f + sf, b);
    assert_ptr_equal(b + gjb_size(b), c);
    assert_ptr_equal(c + sc, g);
    assert_true(gjb_is_free(g));

    /* its own header */
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(c, gjb_hdr(c) + 8));
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(c, 32 | (gjb_hdr(c) & GJB_FLAGS)));
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(c, SIZE_MAX & ~(size_t)15));
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(c, gjb_hdr(c) + GJB_G));
    /* the next block's header */
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(g, gjb_hdr(g) + 8));
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(g, (gjb_hdr(g) & GJB_FLAGS) | 32));
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(g, (gjb_hdr(g) & GJB_FLAGS) | (SIZE_MAX & ~(size_t)15)));
    EXPECT_REFUSED(h, blk[3], gjb_set_hdr(g, gjb_hdr(g) + GJB_G));
    EXPECT_REFUSED(h, blk[2], gjb_set_flag(c, GJB_PREV_FREE));
    /* the footer of the free block before it */
    EXPECT_REFUSED(h, blk[2], gjb_set_hdr(b - GJB_W, SIZE_MAX & ~(size_t)15));
    EXPECT_REFUSED(h, blk[2], gjb_set_hdr(b - GJB_W, sf + 8));
    EXPECT_REFUSED(h, blk[2], gjb_set_hdr(b - GJB_W, 32));
    EXPECT_REFUSED(h, blk[2], gjb_set_hdr(b - GJB_W, sf + GJB_G)); /* no block starts there */
    EXPECT_REFUSED(h, blk[2], gjb_set_hdr(b - GJB_W, sf - GJB_G));
    /* the free block before it */
    EXPECT_REFUSED(h, blk[2], gjb_set_hdr(f, gjb_hdr(f) + GJB_G));
    EXPECT_REFUSED(h, blk[2], gjb_clear_flag(f, GJB_FREE));
    EXPECT_REFUSED(h, blk[2], gjb_set_flag(f, GJB_PREV_FREE));

    /* Undamaged, both are freed and merge with their free neighbours. */
    restore();
    assert_int_equal(gjb_heap_free(h, blk[2]), GJB_OK);
    assert_int_equal(gjb_heap_free(h, blk[3]), GJB_OK);
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    assert_int_equal(gjb_size(f), sf + gjb_size(b) + sc + gjb_size(g));
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
        cmocka_unit_test(regions_in_descending_order),
        cmocka_unit_test(alloc_arguments_and_stats),
        cmocka_unit_test(pointer_checks),
        cmocka_unit_test(walk_all_and_stop_early),
        cmocka_unit_test(validate_detects_header_damage),
        cmocka_unit_test(validate_detects_block_damage),
        cmocka_unit_test(validate_detects_tree_damage),
        cmocka_unit_test(validate_refuses_a_degenerate_chain),
        cmocka_unit_test(first_fit_on_a_stale_maximum),
        cmocka_unit_test(free_refuses_damaged_blocks),
        cmocka_unit_test(strerror_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
