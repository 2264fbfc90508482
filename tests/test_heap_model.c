/*
 * test_heap_model.c - model-based random test of the FIRST_FIT engine.
 *
 * A reference model keeps the heap as a plain address-sorted array of
 * blocks and applies the documented placement rules with linear scans. For
 * every operation it predicts the status and the exact address the engine
 * must return; the engine's statistics are compared after every operation
 * and gjb_heap_validate runs after every batch. Every payload carries a
 * pattern that is checked before the block is freed or resized. Hostile
 * pointers (interior, stale, freed, misaligned, foreign) must be refused
 * without any change.
 *
 * GJB_MODEL_OPS sets the operations per region layout (default 600000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gjbmem/heap.h"

#define W sizeof(size_t)
#define G _Alignof(max_align_t)
#define MAXB 4096
#define MAXLIVE 512

static size_t min_block;

/* --- random numbers ---------------------------------------------------- */

static uint64_t rng;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t below(size_t n)
{
    return (size_t)(next_rand() % n);
}

/* --- the reference model ------------------------------------------------ */

struct mblk {
    uintptr_t h; /* header address */
    size_t s;    /* block size */
    bool free, aligned;
};

static struct mblk mb[MAXB];
static int nb;
static size_t max_block, failed;

static size_t block_size(size_t n)
{
    size_t s = (n + W + G - 1) & ~(G - 1);
    return s < min_block ? min_block : s;
}

static void insert_at(int i, struct mblk b)
{
    assert_true(nb < MAXB);
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

static int find_block(uintptr_t h)
{
    for (int i = 0; i < nb; i++)
        if (mb[i].h == h)
            return i;
    return -1;
}

static int first_fit(size_t need)
{
    for (int i = 0; i < nb; i++)
        if (mb[i].free && mb[i].s >= need)
            return i;
    return -1;
}

static uintptr_t aligned_spot(const struct mblk *b, size_t need, size_t align)
{
    uintptr_t p = (b->h + W + align - 1) & ~(uintptr_t)(align - 1);
    if (p - W != b->h && p - W - b->h < min_block)
        p = (b->h + W + min_block + align - 1) & ~(uintptr_t)(align - 1);
    return p - W - b->h + need <= b->s ? p - W : 0;
}

/* Marks block i free and merges it with free neighbours. */
static void model_release(int i)
{
    mb[i].free = true;
    mb[i].aligned = false;
    if (adjacent(i, i + 1) && mb[i + 1].free) {
        mb[i].s += mb[i + 1].s;
        remove_at(i + 1);
    }
    if (adjacent(i - 1, i) && mb[i - 1].free) {
        mb[i - 1].s += mb[i].s;
        remove_at(i);
    }
}

/* Allocates [at, at+need) from free block i; returns the block's index. */
static int model_carve(int i, uintptr_t at, size_t need, bool aligned)
{
    struct mblk b = mb[i];
    size_t lead = at - b.h, tail = b.s - lead - need;
    if (tail < min_block) {
        need += tail;
        tail = 0;
    }
    remove_at(i);
    int k = i;
    if (lead)
        insert_at(k++, (struct mblk){b.h, lead, true, false});
    insert_at(k, (struct mblk){at, need, false, aligned});
    if (tail)
        insert_at(k + 1, (struct mblk){at + need, tail, true, false});
    return k;
}

/* Predicts an allocation: returns the new block's index or -1 (status). */
static int model_alloc(size_t need, size_t align, int *status)
{
    int i = first_fit(need);
    uintptr_t at = i >= 0 ? mb[i].h : 0;
    if (align > G) {
        at = i >= 0 ? aligned_spot(&mb[i], need, align) : 0;
        if (!at) {
            i = first_fit(need + min_block + align - G);
            at = i >= 0 ? aligned_spot(&mb[i], need, align) : 0;
        }
    }
    if (!at) {
        *status = GJB_E_NOMEM;
        failed++;
        return -1;
    }
    *status = GJB_OK;
    return model_carve(i, at, need, align > G);
}

/* Cuts allocated block i down to need and frees the tail if it can. */
static void model_shrink(int i, size_t need)
{
    if (mb[i].s - need < min_block)
        return;
    struct mblk t = {mb[i].h + need, mb[i].s - need, false, false};
    mb[i].s = need;
    insert_at(i + 1, t);
    model_release(i + 1);
}

static size_t max_align; /* largest alignment memalign was asked for */

/* The alignment an aligned block keeps when it moves. */
static size_t kept_align(uintptr_t u)
{
    size_t natural = (size_t)(u & (~u + 1));
    return natural < max_align ? natural : max_align;
}

/* The engine's grow-left rule; returns the new index or -1. */
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
    if (at - p && at - p < min_block) {
        if ((p + W) & (align - 1))
            return -1;
        at = p;
    }
    bool aligned = mb[i].aligned;
    if (nfree)
        remove_at(i + 1);
    remove_at(i);
    int k = i - 1;
    if (at > p)
        mb[k++].s = at - p;
    else
        remove_at(k);
    insert_at(k, (struct mblk){at, end - at, false, aligned});
    model_shrink(k, need);
    return k;
}

/* Predicts a resize in place; returns the index or -1 if it must move. */
static int model_resize(int i, size_t need)
{
    if (need <= mb[i].s) {
        model_shrink(i, need);
        return i;
    }
    if (adjacent(i, i + 1) && mb[i + 1].free && mb[i].s + mb[i + 1].s >= need) {
        size_t rest = mb[i].s + mb[i + 1].s - need;
        if (rest >= min_block) {
            mb[i + 1].h = mb[i].h + need;
            mb[i + 1].s = rest;
            mb[i].s = need;
        } else {
            mb[i].s += mb[i + 1].s;
            remove_at(i + 1);
        }
        return i;
    }
    return model_grow_left(i, need);
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

static unsigned char pat(unsigned tag, size_t k)
{
    return (unsigned char)(tag * 131u + k * 7u + (k >> 8));
}

static void fill(struct live *l)
{
    for (size_t k = 0; k < l->n; k++)
        l->p[k] = pat(l->tag, k);
}

static void check_pattern(const unsigned char *p, size_t n, unsigned tag)
{
    for (size_t k = 0; k < n; k++)
        if (p[k] != pat(tag, k))
            fail_msg("pattern damaged at byte %zu of %zu (tag %u)", k, n, tag);
}

/* --- comparing engine and model ----------------------------------------- */

static void compare_stats(const gjb_heap *h)
{
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(h, &st);
    size_t fb = 0, ab = 0, fp = 0, big = 0;
    for (int i = 0; i < nb; i++) {
        if (mb[i].free) {
            fb++;
            fp += mb[i].s - W;
            if (mb[i].s - W > big)
                big = mb[i].s - W;
        } else {
            ab++;
        }
    }
    assert_int_equal(st.free_blocks, fb);
    assert_int_equal(st.alloc_blocks, ab);
    assert_int_equal(st.segments, (size_t)nb);
    assert_int_equal(st.free, fp);
    assert_int_equal(st.used, st.total - fp);
    assert_int_equal(st.largest_free, big);
    assert_int_equal(gjb_heap_max_alloc(h), big);
    assert_int_equal(st.failed, failed);
    assert_true(st.maxused >= st.used);
}

struct walk_ctx {
    int i;
};

static int walk_check(void *ctx, void *payload, size_t size, bool used)
{
    struct walk_ctx *w = ctx;
    assert_true(w->i < nb);
    assert_ptr_equal((uintptr_t)payload, mb[w->i].h + W);
    assert_int_equal(size, mb[w->i].s - W);
    assert_int_equal(used, !mb[w->i].free);
    w->i++;
    return 0;
}

static void check_all(const gjb_heap *h)
{
    assert_int_equal(gjb_heap_validate(h), GJB_OK);
    struct walk_ctx w = {0};
    assert_int_equal(gjb_heap_walk(h, walk_check, &w), 0);
    assert_int_equal(w.i, nb);
    for (int k = 0; k < nlive; k++)
        check_pattern(lv[k].p, lv[k].n, lv[k].tag);
}

/* Adopts into the model the free blocks the engine shows that the model
 * does not cover yet (a region just added). */
static int adopt_cb(void *ctx, void *payload, size_t size, bool used)
{
    (void)ctx;
    uintptr_t h = (uintptr_t)payload - W;
    if (find_block(h) < 0) {
        assert_false(used);
        int i = 0;
        while (i < nb && mb[i].h < h)
            i++;
        insert_at(i, (struct mblk){h, size + W, true, false});
        if (size + W > max_block)
            max_block = size + W;
    }
    return 0;
}

static void adopt_regions(gjb_heap *h)
{
    gjb_heap_walk(h, adopt_cb, NULL);
}

/* --- operations --------------------------------------------------------- */

static size_t random_size(void)
{
    switch (below(16)) {
    case 0: return 1 + below(4096);
    case 1: {
        const size_t edge[] = {SIZE_MAX, SIZE_MAX - W, SIZE_MAX - G - W, max_block, max_block - W + 1, 0};
        return below(4) ? 1 + below(16) : edge[below(6)];
    }
    default: return 1 + below(300);
    }
}

static void op_alloc(gjb_heap *h)
{
    if (nlive == MAXLIVE)
        return;
    size_t n = random_size(), align = G;
    bool use_memalign = below(4) == 0;
    if (use_memalign) {
        align = (size_t)1 << below(13);
        if (below(20) == 0)
            align = below(2) ? 0 : align * 3; /* not a power of two */
    }
    void *p = NULL;
    int st = use_memalign ? gjb_heap_memalign(h, align, n, &p) : gjb_heap_alloc(h, n, &p);
    int want;
    int i = -1;
    size_t need = n <= SIZE_MAX - W - G ? block_size(n) : 0;
    if (use_memalign && (align == 0 || (align & (align - 1))))
        want = GJB_E_ALIGN;
    else if (n == 0)
        want = GJB_E_INVAL;
    else if ((max_align = align > max_align ? align : max_align), !need || need > max_block) {
        want = GJB_E_TOOBIG;
        failed++;
    } else {
        i = model_alloc(need, align < G ? G : align, &want);
    }
    assert_int_equal(st, want);
    if (st != GJB_OK)
        return;
    assert_ptr_equal((uintptr_t)p, mb[i].h + W);
    if (align > G)
        assert_int_equal((uintptr_t)p % align, 0);
    lv[nlive] = (struct live){p, n, next_tag++};
    fill(&lv[nlive++]);
}

static int live_index(uintptr_t h)
{
    int i = find_block(h);
    assert_true(i >= 0 && !mb[i].free);
    return i;
}

static void op_free(gjb_heap *h)
{
    if (!nlive)
        return;
    int k = (int)below((size_t)nlive);
    check_pattern(lv[k].p, lv[k].n, lv[k].tag);
    model_release(live_index((uintptr_t)lv[k].p - W));
    assert_int_equal(gjb_heap_free(h, lv[k].p), GJB_OK);
    freed[below(FREED)] = lv[k].p;
    lv[k] = lv[--nlive];
}

static void op_realloc(gjb_heap *h)
{
    if (!nlive)
        return;
    int k = (int)below((size_t)nlive);
    size_t n = random_size();
    struct live *l = &lv[k];
    check_pattern(l->p, l->n, l->tag);
    void *p = NULL;
    int st = gjb_heap_realloc(h, l->p, n, &p);
    int i = live_index((uintptr_t)l->p - W), want = GJB_OK;
    bool was_aligned = mb[i].aligned;
    size_t need = n <= SIZE_MAX - W - G ? block_size(n) : 0;
    uintptr_t expect = 0;
    if (n == 0) {
        want = GJB_E_INVAL;
    } else if (!need || need > max_block) {
        want = GJB_E_TOOBIG;
        failed++;
    } else {
        bool aligned = mb[i].aligned;
        size_t align = aligned ? kept_align((uintptr_t)l->p) : G;
        int j = model_resize(i, need);
        if (j < 0) {
            j = model_alloc(need, align, &want);
            if (j >= 0) {
                expect = mb[j].h;
                model_release(live_index((uintptr_t)l->p - W));
            }
        } else {
            expect = mb[j].h;
        }
    }
    assert_int_equal(st, want);
    if (st != GJB_OK) {
        check_pattern(l->p, l->n, l->tag);
        return;
    }
    assert_ptr_equal((uintptr_t)p, expect + W);
    size_t keep = n < l->n ? n : l->n;
    check_pattern(p, keep, l->tag);
    if (was_aligned) /* an aligned block keeps (at least) its alignment */
        assert_int_equal((uintptr_t)p % kept_align((uintptr_t)l->p), 0);
    if (p != l->p)
        freed[below(FREED)] = l->p;
    l->p = p;
    l->n = n;
    fill(l);
}

/* A pointer that is not an allocated block start must be refused. */
static void op_hostile(gjb_heap *h, const unsigned char *lo, size_t span)
{
    uintptr_t p;
    switch (below(5)) {
    case 0: /* interior or misaligned pointer into a live block */
        if (!nlive)
            return;
        p = (uintptr_t)lv[below((size_t)nlive)].p + (below(2) ? 1 + below(15) : G * (1 + below(4)));
        break;
    case 1: /* the payload of a free block */
        p = 0;
        for (int i = 0; i < nb && !p; i++)
            if (mb[i].free && below(4) == 0)
                p = mb[i].h + W;
        if (!p)
            return;
        break;
    case 2: /* anywhere in the heap's memory */
        p = (uintptr_t)lo + below(span);
        break;
    case 3: /* outside */
        p = below(2) ? (uintptr_t)&rng : (uintptr_t)lo + span + G * below(64);
        break;
    default: /* a freed payload: a double free, maybe after a merge */
        p = (uintptr_t)freed[below(FREED)];
        if (!p)
            return;
        break;
    }
    int i = find_block(p - W);
    if (i >= 0 && !mb[i].free)
        return; /* that is a valid block after all */
    void *out = NULL;
    int st = below(2) ? gjb_heap_free(h, (void *)p) : gjb_heap_realloc(h, (void *)p, 1 + below(64), &out);
    assert_int_equal(st, GJB_E_BADPTR);
    assert_int_equal(gjb_heap_usable_size(h, (void *)p), 0);
}

static void run_ops(gjb_heap *h, const unsigned char *lo, size_t span, long ops)
{
    for (long k = 0; k < ops; k++) {
        size_t r = below(100);
        if (r < 40)
            op_alloc(h);
        else if (r < 75)
            op_free(h);
        else if (r < 92)
            op_realloc(h);
        else
            op_hostile(h, lo, span);
        compare_stats(h);
        if (k % 97 == 0)
            check_all(h);
    }
    while (nlive)
        op_free(h);
    check_all(h);
    for (int i = 0; i < nb; i++)
        assert_true(mb[i].free); /* every region back to one free block */
}

/* --- region layouts ----------------------------------------------------- */

static _Alignas(4096) unsigned char arena[1 << 20];

static long ops_per_layout(void)
{
    const char *e = getenv("GJB_MODEL_OPS");
    long n = e ? atol(e) : 600000;
    return n > 0 ? n : 600000;
}

static void reset_model(void)
{
    nb = 0;
    nlive = 0;
    max_block = 0;
    max_align = 0;
    failed = 0;
}

struct layout {
    size_t first_off, first_len;  /* where gjb_heap_init goes, in arena */
    size_t more[3][2];            /* regions added afterwards (off, len) */
};

static void run_layout(const struct layout *L)
{
    long total = ops_per_layout(), seeds = 8;
    for (long seed = 1; seed <= seeds; seed++) {
        rng = 0x9e3779b97f4a7c15ULL * (uint64_t)seed + (uint64_t)L->first_len;
        reset_model();
        memset(arena, 0xa5, sizeof arena);
        gjb_heap *h;
        unsigned char *lo = arena + L->first_off;
        assert_int_equal(gjb_heap_init(lo, L->first_len, GJB_FIRST_FIT, 4, &h), GJB_OK);
        adopt_regions(h);
        for (int r = 0; r < 3 && L->more[r][1]; r++) {
            assert_int_equal(gjb_heap_add_region(h, arena + L->more[r][0], L->more[r][1]), GJB_OK);
            adopt_regions(h);
        }
        struct gjbmem_heap_stats st;
        gjb_heap_get_stats(h, &st);
        assert_int_equal(st.min_block, (6 * W + G - 1) & ~(G - 1)); /* header, node, footer */
        check_all(h);
        run_ops(h, arena, sizeof arena, total / seeds);
    }
}

static void test_one_region(void **state)
{
    (void)state;
    run_layout(&(struct layout){64, 96 * 1024, {{0}}});
}

static void test_regions_ascending(void **state)
{
    (void)state;
    run_layout(&(struct layout){3, 24 * 1024, {{40000, 32 * 1024}, {100001, 20000}, {0}}});
}

static void test_regions_descending_unaligned(void **state)
{
    (void)state;
    run_layout(&(struct layout){600005, 16 * 1024, {{300007, 16 * 1024}, {9, 30000}, {0}}});
}

static void test_tiny_heap(void **state)
{
    (void)state;
    run_layout(&(struct layout){17, 2500, {{0}}});
}

int main(void)
{
    min_block = (6 * W + G - 1) & ~(G - 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_region),
        cmocka_unit_test(test_regions_ascending),
        cmocka_unit_test(test_regions_descending_unaligned),
        cmocka_unit_test(test_tiny_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
