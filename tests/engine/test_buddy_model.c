/*
 * test_buddy_model.c - model-based random test of the BUDDY engine.
 *
 * A reference model keeps every region's blocks in one address-sorted array
 * and one LIFO array of free block addresses per order, and applies the
 * documented buddy rules with linear scans:
 *
 *  - a region's block area is [first = round_up(area, BU), + units of BU),
 *    units = (hi - first - tables) / (BU + 1), tables = extra + G when a
 *    region is added with extra bytes of tables after its tags (the granule
 *    aligns them), 0 otherwise (a tag byte per unit),
 *    carved from the bottom into the largest block that is aligned there
 *    (absolute address) and fits; the blocks are pushed in reverse address
 *    order, so that each list's lowest block comes first;
 *  - alloc/memalign: block = smallest power of two >= max(size, align, BU);
 *    TOOBIG above the largest block the carving ever produced; otherwise pop
 *    the head of the first non-empty list of that order or above and split,
 *    pushing the upper halves; NOMEM when every such list is empty;
 *  - free: merge with the buddy (address ^ size) while it is a whole free
 *    block of the same order inside the same region's block area, then push;
 *  - realloc: shrink in place (upper halves pushed, no merging), grow in
 *    place over free upper buddies, or allocate, copy, then free the old one.
 *
 * For every operation it predicts the status and the exact address; the
 * engine's statistics are compared after every operation, the block walk and
 * gjb_heap_validate after every batch. Every payload carries a pattern that
 * is checked before the block is freed or resized. Hostile pointers
 * (interior, misaligned, free, freed, foreign, metadata, random) must be
 * refused with nothing changed.
 *
 * GJB_MODEL_OPS sets the operations per region layout (default 600000, like the
 * FIRST_FIT model),
 * spread over SEEDS seeds.
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

#include "engine/buddy.h"

#define G ((uintptr_t)_Alignof(max_align_t))
#define BU (2 * G) /* smallest block */
#define ORDERS 48
#define ARENA ((size_t)1 << 20)
#define MAXB (ARENA / BU)
#define MAXLIVE 400
#define MAXREG 8
#define SEEDS 16
_Static_assert(ORDERS == BD_ORDERS && BU == GJB_BU && G == GJB_G, "the model's geometry is the engine's");

/* --- the reference model ------------------------------------------------ */

struct mreg {
    uintptr_t lo, hi;     /* memory handed in */
    uintptr_t first, end; /* block area */
};

struct mblk {
    uintptr_t a; /* address = payload */
    unsigned k;  /* order */
    bool free;
};

static struct mreg reg[MAXREG]; /* in the order added */
static int nreg;
static unsigned table_cap, max_regs; /* the engine's region table: its room, the limit */
static struct mblk *mb; /* all blocks of all regions, by address */
static int nb;
static uintptr_t *fl[ORDERS]; /* free lists: the head is the last entry */
static size_t fn[ORDERS], fcap[ORDERS];
static size_t max_block, total, failed, peak, maxused;

/* What the random run went through (reported, and required to happen). */
struct cover {
    long allocs, splits, frees, merges, shrinks, grows, moves, nomem, toobig, hostile, badalign;
};
static struct cover cov;

static size_t bsize(unsigned k)
{
    return (size_t)BU << k;
}

static unsigned order_of(size_t block)
{
    unsigned k = 0;
    while (bsize(k) < block)
        k++;
    return k;
}

/* Block for size bytes aligned to align; 0 when no power of two holds it. */
static size_t need_for(size_t size, size_t align)
{
    size_t n = size > align ? size : align;
    if (n > ((size_t)1 << (sizeof(size_t) * 8 - 1)))
        return 0;
    size_t b = BU;
    while (b < n)
        b <<= 1;
    return b;
}

/* Index where a block at address a goes. */
static int slot_for(uintptr_t a)
{
    int lo = 0, hi = nb;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (mb[mid].a < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int find_block(uintptr_t a)
{
    int i = slot_for(a);
    return i < nb && mb[i].a == a ? i : -1;
}

static void insert_at(int i, struct mblk b)
{
    EXPECT(nb < (int)MAXB, NULL);
    memmove(&mb[i + 1], &mb[i], (size_t)(nb - i) * sizeof mb[0]);
    mb[i] = b;
    nb++;
}

static void remove_at(int i)
{
    memmove(&mb[i], &mb[i + 1], (size_t)(nb - i - 1) * sizeof mb[0]);
    nb--;
}

static void push(unsigned k, uintptr_t a)
{
    EXPECT(fn[k] < fcap[k], "order %u", k);
    fl[k][fn[k]++] = a;
}

static uintptr_t pop(unsigned k)
{
    return fl[k][--fn[k]];
}

static void unlink_free(unsigned k, uintptr_t a)
{
    for (size_t i = 0; i < fn[k]; i++)
        if (fl[k][i] == a) {
            memmove(&fl[k][i], &fl[k][i + 1], (fn[k] - i - 1) * sizeof fl[k][0]);
            fn[k]--;
            return;
        }
    fail_ctx(__LINE__, "free block on its list", "%#jx order %u", (uintmax_t)a, k);
}

/* The region whose block area holds a, or NULL. */
static const struct mreg *region_of(uintptr_t a)
{
    for (int i = 0; i < nreg; i++)
        if (a >= reg[i].first && a < reg[i].end)
            return &reg[i];
    return NULL;
}

/* Lays out a region over [lo, hi) whose block area starts at or after area,
 * with `extra` bytes of tables after its tags (and a granule to align them);
 * false when it cannot hold one block. */
static bool layout(struct mreg *r, uintptr_t lo, uintptr_t area, uintptr_t hi, size_t extra)
{
    uintptr_t first = (area + BU - 1) & ~(BU - 1);
    size_t tables = extra ? extra + G : 0;
    if (first >= hi || hi - first < tables + BU + 1)
        return false;
    size_t units = (hi - first - tables) / (BU + 1);
    if (units == 0)
        return false;
    *r = (struct mreg){lo, hi, first, first + units * BU};
    return true;
}

/* Carves a new region's block area, then pushes every block from the
 * highest to the lowest: each list's lowest block comes first. */
static void carve(const struct mreg *r)
{
    uintptr_t at[2 * ORDERS];
    unsigned ord[2 * ORDERS], n = 0;
    for (uintptr_t a = r->first; a < r->end; n++) {
        unsigned k = 0;
        while (k + 1 < ORDERS && r->end - a >= bsize(k + 1) && a % bsize(k + 1) == 0)
            k++;
        EXPECT(n < 2 * ORDERS, "the carving rises, then falls");
        insert_at(slot_for(a), (struct mblk){a, k, true});
        if (bsize(k) > max_block)
            max_block = bsize(k);
        at[n] = a;
        ord[n] = k;
        a += bsize(k);
    }
    while (n--)
        push(ord[n], at[n]);
    total += r->hi - r->lo;
}

static size_t used_now(void)
{
    size_t f = 0;
    for (int i = 0; i < nb; i++)
        if (mb[i].free)
            f += bsize(mb[i].k);
    return total - f;
}

static void note_used(void)
{
    size_t u = used_now();
    if (u > maxused)
        maxused = u;
}

/* Predicts an allocation of a block of need bytes: its address, or 0 with
 * *status NOMEM. */
static uintptr_t model_alloc(size_t need, int *status)
{
    unsigned k = order_of(need), j = k;
    while (j < ORDERS && fn[j] == 0)
        j++;
    if (j == ORDERS) {
        *status = GJB_E_NOMEM;
        failed++;
        cov.nomem++;
        return 0;
    }
    uintptr_t a = pop(j);
    int i = find_block(a);
    EXPECT(i >= 0 && mb[i].free && mb[i].k == j, "list head %#jx", (uintmax_t)a);
    mb[i] = (struct mblk){a, k, false};
    if (j > k)
        cov.splits++;
    for (unsigned o = k; o < j; o++) /* upper halves, in address order */
        insert_at(i + 1 + (int)(o - k), (struct mblk){a + bsize(o), o, true});
    while (j > k) {
        j--;
        push(j, a + bsize(j));
    }
    *status = GJB_OK;
    cov.allocs++;
    return a;
}

/* Frees allocated block i, merging it with its free buddies. */
static void model_release(int i)
{
    EXPECT(!mb[i].free, NULL);
    uintptr_t a = mb[i].a;
    unsigned k = mb[i].k;
    const struct mreg *r = region_of(a);
    remove_at(i);
    for (; k + 1 < ORDERS; k++) {
        size_t s = bsize(k);
        uintptr_t bud = a ^ s;
        if (bud < r->first || bud + s > r->end)
            break;
        int j = find_block(bud);
        if (j < 0 || !mb[j].free || mb[j].k != k)
            break;
        unlink_free(k, bud);
        remove_at(j);
        if (bud < a)
            a = bud;
        cov.merges++;
    }
    insert_at(slot_for(a), (struct mblk){a, k, true});
    push(k, a);
    cov.frees++;
}

/* Resizes allocated block i in place to a block of need bytes; false when
 * it must move. */
static bool model_resize(int i, size_t need)
{
    uintptr_t a = mb[i].a;
    unsigned k = mb[i].k, want = order_of(need);
    if (want <= k) {
        if (want < k)
            cov.shrinks++;
        mb[i].k = want;
        for (unsigned o = want; o < k; o++) /* upper halves, in address order */
            insert_at(i + 1 + (int)(o - want), (struct mblk){a + bsize(o), o, true});
        while (k > want) { /* pushed from the largest down */
            k--;
            push(k, a + bsize(k));
        }
        return true;
    }
    const struct mreg *r = region_of(a);
    if (a % bsize(want) || a + bsize(want) > r->end)
        return false;
    for (unsigned j = k; j < want; j++) {
        int b = find_block(a + bsize(j));
        if (b < 0 || !mb[b].free || mb[b].k != j)
            return false;
    }
    for (unsigned j = k; j < want; j++) {
        unlink_free(j, a + bsize(j));
        remove_at(find_block(a + bsize(j)));
    }
    mb[find_block(a)].k = want;
    cov.grows++;
    return true;
}

/* --- live blocks and their patterns ------------------------------------- */

struct live {
    unsigned char *p;
    size_t n;
    unsigned tag;
    bool aligned; /* placed by memalign with an alignment above G */
};

/* The largest alignment the heap was ever asked for (at least G). */
static size_t max_align;

/* The alignment a memalign'd block at p keeps when realloc moves it: the
 * largest power of two dividing p, capped at max_align. */
static size_t kept_align(uintptr_t p)
{
    size_t natural = (size_t)(p & (~p + 1));
    return natural < max_align ? natural : max_align;
}

#define FREED 16
static struct live lv[MAXLIVE];
static uintptr_t freed[FREED]; /* recently freed payloads */
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
    size_t fb = 0, ab = 0, fbytes = 0, big = 0;
    for (int i = 0; i < nb; i++) {
        if (mb[i].free) {
            fb++;
            fbytes += bsize(mb[i].k);
            if (bsize(mb[i].k) > big)
                big = bsize(mb[i].k);
        } else {
            ab++;
        }
    }
    EQ(st.free_blocks, fb);
    EQ(st.alloc_blocks, ab);
    EQ(st.segments, (size_t)nb);
    EQ(st.free, fbytes);
    EQ(st.total, total);
    EQ(st.used, total - fbytes);
    EQ(st.maxused, maxused);
    EQ(st.largest_free, big);
    EQ(gjb_heap_max_alloc(h), big);
    EQ(st.regions, (size_t)nreg);
    EQ(st.failed, failed);
    EQ(st.peak_request, peak);
    EQ(st.header_bytes, 0);
    EQ(st.min_block, BU);
    EQ(gjb_heap_is_empty(h), ab == 0);
}

struct walk_ctx {
    int i;
};

static int walk_check(void *ctx, void *payload, size_t size, bool used)
{
    struct walk_ctx *w = ctx;
    EXPECT(w->i < nb, NULL);
    EQ((uintptr_t)payload, mb[w->i].a);
    EQ(size, bsize(mb[w->i].k));
    EQ(used, !mb[w->i].free);
    w->i++;
    return 0;
}

static void check_all(const gjb_heap *h)
{
    EQ(gjb_heap_validate(h), GJB_OK);
    struct walk_ctx w = {0};
    EQ(gjb_heap_walk(h, walk_check, &w), 0);
    EQ(w.i, nb);
    /* The model's own books: lists and blocks agree. */
    size_t per_order[ORDERS] = {0};
    for (int i = 0; i < nb; i++) {
        if (i)
            EXPECT(mb[i - 1].a + bsize(mb[i - 1].k) <= mb[i].a, NULL);
        EQ(mb[i].a % bsize(mb[i].k), 0);
        if (mb[i].free)
            per_order[mb[i].k]++;
    }
    for (unsigned k = 0; k < ORDERS; k++)
        EQ(per_order[k], fn[k]);
    for (int k = 0; k < nlive; k++) {
        check_pattern(lv[k].p, lv[k].n, lv[k].tag);
        int i = find_block((uintptr_t)lv[k].p);
        EXPECT(i >= 0 && !mb[i].free, NULL);
        EQ(gjb_heap_usable_size(h, lv[k].p), bsize(mb[i].k));
    }
}

/* --- operations --------------------------------------------------------- */

static size_t random_size(void)
{
    switch (below(16)) {
    case 0: return 1 + below(8192);
    case 1: {
        size_t p2 = (size_t)1 << below(20);
        const size_t edge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 2,
                               max_block, max_block + 1, 2 * max_block, max_block - 1,
                               p2, p2 + 1, p2 - 1 + (p2 == 1), BU, BU + 1, 0};
        return edge[below(sizeof edge / sizeof edge[0])];
    }
    case 2: return 1 + below(max_block);
    case 3: return 1 + below(2 * max_block);
    default: return 1 + below(300);
    }
}

static void record_live(void *p, size_t n, bool aligned)
{
    EXPECT(nlive < MAXLIVE, NULL);
    lv[nlive] = (struct live){p, n, next_tag++, aligned};
    fill(&lv[nlive++]);
}

static void op_alloc(gjb_heap *h)
{
    if (nlive == MAXLIVE)
        return;
    size_t n = random_size(), align = G;
    int how = (int)below(8); /* 0-1 memalign, 2 realloc(NULL), else alloc */
    if (how <= 1) {
        align = (size_t)1 << below(17); /* 1 .. 64 KiB */
        if (below(24) == 0) {
            const size_t bad[] = {0, 3, 48, 4097, SIZE_MAX, ((size_t)1 << 20) + 16};
            align = bad[below(6)];
        } else if (below(64) == 0) {
            align = (size_t)1 << (sizeof(size_t) * 8 - 1 - below(3)); /* huge */
        }
    }
    void *p = (void *)0x1;
    int st = how <= 1 ? gjb_heap_memalign(h, align, n, &p)
             : how == 2 ? gjb_heap_realloc(h, NULL, n, &p)
                        : gjb_heap_alloc(h, n, &p);
    int want;
    uintptr_t at = 0;
    if (how <= 1 && (align == 0 || (align & (align - 1)))) {
        want = GJB_E_ALIGN;
        cov.badalign++;
    } else if (n == 0) {
        want = GJB_E_INVAL;
    } else {
        if (n > peak)
            peak = n;
        if (how != 2 && (align < G ? G : align) > max_align)
            max_align = align < G ? G : align;
        size_t need = need_for(n, align < G ? G : align);
        if (!need || need > max_block) {
            want = GJB_E_TOOBIG;
            failed++;
            cov.toobig++;
        } else {
            at = model_alloc(need, &want);
            if (at)
                note_used();
        }
    }
    EQ(st, want);
    if (st != GJB_OK) {
        EQ((uintptr_t)p, 0x1); /* *out untouched */
        return;
    }
    EQ((uintptr_t)p, at);
    EQ((uintptr_t)p % align, 0);
    EQ(gjb_heap_usable_size(h, p), need_for(n, align < G ? G : align));
    record_live(p, n, how <= 1 && align > G);
}

static int live_block(const struct live *l)
{
    int i = find_block((uintptr_t)l->p);
    EXPECT(i >= 0 && !mb[i].free, "live block %p", (void *)l->p);
    return i;
}

static void forget_live(int k)
{
    freed[below(FREED)] = (uintptr_t)lv[k].p;
    lv[k] = lv[--nlive];
}

static void op_free(gjb_heap *h)
{
    if (!nlive)
        return;
    int k = (int)below((size_t)nlive);
    check_pattern(lv[k].p, lv[k].n, lv[k].tag);
    model_release(live_block(&lv[k]));
    EQ(gjb_heap_free(h, lv[k].p), GJB_OK);
    forget_live(k);
}

static void op_realloc(gjb_heap *h)
{
    if (!nlive)
        return;
    int k = (int)below((size_t)nlive);
    struct live *l = &lv[k];
    int i = live_block(l);
    size_t cur = bsize(mb[i].k), n;
    switch (below(6)) {
    case 0: n = 1 + below(cur); break;                   /* within the block */
    case 1: n = cur + 1 + below(cur); break;             /* one order up */
    case 2: n = 1 + below(4 * cur); break;               /* up to two orders up */
    case 3: n = below(8) ? 1 + below(cur / 2 + 1) : 0; break; /* shrink, or size 0 */
    default: n = random_size(); break;
    }
    check_pattern(l->p, l->n, l->tag);
    void *p = (void *)0x1;
    int st = gjb_heap_realloc(h, l->p, n, &p);
    int want = GJB_OK;
    uintptr_t expect = 0;
    size_t need = need_for(n, G);
    if (n == 0) {
        want = GJB_E_INVAL;
    } else {
        if (n > peak)
            peak = n;
        if (!need || need > max_block) {
            want = GJB_E_TOOBIG;
            failed++;
            cov.toobig++;
        } else if (model_resize(i, need)) {
            expect = (uintptr_t)l->p;
            note_used();
        } else {
            /* A moved memalign'd block keeps its alignment (kept_align). */
            if (l->aligned)
                need = need_for(n, kept_align((uintptr_t)l->p));
            if (!need || need > max_block) {
                want = GJB_E_NOMEM;
                failed++;
                cov.nomem++;
            } else {
                expect = model_alloc(need, &want);
            }
            if (expect) {
                note_used(); /* both blocks held at this moment */
                model_release(find_block((uintptr_t)l->p));
                cov.moves++;
            }
        }
    }
    EQ(st, want);
    if (st != GJB_OK) {
        EQ((uintptr_t)p, 0x1); /* *out untouched */
        check_pattern(l->p, l->n, l->tag);
        return;
    }
    EQ((uintptr_t)p, expect);
    size_t keep = n < l->n ? n : l->n;
    check_pattern(p, keep, l->tag);
    EQ(gjb_heap_usable_size(h, p), need);
    if ((uintptr_t)p != (uintptr_t)l->p)
        freed[below(FREED)] = (uintptr_t)l->p;
    l->p = p;
    l->n = n;
    fill(l);
}

/* Memory the hostile pointers aim at. */
static unsigned char *arena;
static gjb_heap *foreign;   /* another buddy heap in the arena */
static void *foreign_block; /* one of its blocks */

/* A pointer that is not an allocated block start must be refused, and
 * nothing may change. */
static void op_hostile(gjb_heap *h)
{
    uintptr_t p;
    switch (below(8)) {
    case 0: /* interior or misaligned pointer into a live block */
        if (!nlive)
            return;
        p = (uintptr_t)lv[below((size_t)nlive)].p;
        p += below(2) ? 1 + below(BU - 1) : BU * (1 + below(8));
        break;
    case 1: { /* the start of a free block */
        int i = (int)below((size_t)nb);
        while (i < nb && !mb[i].free)
            i++;
        if (i == nb)
            return;
        p = mb[i].a;
        break;
    }
    case 2: /* anywhere in the arena */
        p = (uintptr_t)arena + below(ARENA);
        break;
    case 3: /* anywhere in the arena, on a unit boundary */
        p = ((uintptr_t)arena + below(ARENA)) & ~(BU - 1);
        break;
    case 4: { /* metadata: the descriptor, the tags, the pad of a region */
        const struct mreg *r = &reg[below((size_t)nreg)];
        size_t k = below(3);
        p = k == 0 ? (uintptr_t)h : k == 1 ? r->end + below(r->hi - r->end) : r->lo;
        break;
    }
    case 5: /* outside: static data, a block of another heap */
        p = below(2) ? (uintptr_t)&rng : (uintptr_t)foreign_block;
        break;
    case 6: /* just past a region */
        p = reg[below((size_t)nreg)].hi + BU * below(4);
        break;
    default: /* a freed payload: a double free, maybe after a merge */
        p = freed[below(FREED)];
        if (!p)
            return;
        break;
    }
    int i = find_block(p);
    if (i >= 0 && !mb[i].free)
        return; /* that is a valid block after all */
    struct gjbmem_heap_stats before, after;
    gjb_heap_get_stats(h, &before);
    void *out = (void *)0x1;
    int st;
    switch (below(3)) {
    case 0: st = gjb_heap_free(h, (void *)p); break;
    case 1: st = gjb_heap_realloc(h, (void *)p, 1 + below(4 * BU), &out); break;
    default: {
        size_t n = random_size();
        st = gjb_heap_realloc(h, (void *)p, n ? n : 1, &out); /* checked before the size */
        break;
    }
    }
    EXPECT(st == GJB_E_BADPTR, "pointer %#jx (status %d)", (uintmax_t)p, st);
    EQ((uintptr_t)out, 0x1);
    EQ(gjb_heap_usable_size(h, (void *)p), 0);
    gjb_heap_get_stats(h, &after);
    EXPECT(memcmp(&before, &after, sizeof before) == 0, NULL);
    cov.hostile++;
}

/* Cheap queries that must match the model at any moment. */
static void op_query(gjb_heap *h)
{
    if (nlive) {
        const struct live *l = &lv[below((size_t)nlive)];
        EQ(gjb_heap_usable_size(h, l->p), bsize(mb[live_block(l)].k));
    }
    EQ(gjb_heap_usable_size(h, NULL), 0);
    EQ(gjb_heap_free(h, NULL), GJB_E_INVAL);
    void *out = (void *)0x1;
    EQ(gjb_heap_alloc(h, 0, &out), GJB_E_INVAL);
    EQ(gjb_heap_memalign(h, 64, 0, &out), GJB_E_INVAL);
    EQ(gjb_heap_realloc(h, NULL, 0, &out), GJB_E_INVAL);
    EQ((uintptr_t)out, 0x1);
}

static void run_ops(gjb_heap *h, long ops)
{
    for (cur_op = 0; cur_op < ops; cur_op++) {
        size_t r = below(100);
        if (r < 38)
            op_alloc(h);
        else if (r < 68)
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

static void reset_model(void)
{
    nb = nreg = nlive = 0;
    table_cap = 1;
    for (unsigned k = 0; k < ORDERS; k++)
        fn[k] = 0;
    max_block = total = failed = peak = maxused = 0;
    max_align = G;
    memset(freed, 0, sizeof freed);
}

/* The engine's region table must be exactly the model's layout. */
static void compare_regions(const gjb_heap *h)
{
    EQ(h->nregions, (uint32_t)nreg);
    const struct gjb_region *t = gjb_regions(h);
    if (nreg == 1)
        EQ((uintptr_t)t, (uintptr_t)&h->hot); /* no table before a second region */
    for (uint32_t i = 0; i < h->nregions; i++) {
        const struct gjb_region *er = &t[i];
        const struct mreg *m = region_of((uintptr_t)gjb_ptr(h, er->first));
        EXPECT(m != NULL, "region %u", i);
        EQ((uintptr_t)gjb_ptr(h, er->lo), m->lo);
        EQ((uintptr_t)gjb_ptr(h, er->hi), m->hi);
        EQ((uintptr_t)gjb_ptr(h, er->first), m->first);
        EQ((uintptr_t)gjb_ptr(h, er->end), m->end);
        if (i)
            EXPECT(t[i - 1].hi <= er->lo, "region table sorted");
    }
}

struct layout {
    const char *name;
    size_t init_off, init_len; /* where gjb_heap_init goes, in the arena */
    unsigned max_regions;
    size_t more[MAXREG][2];    /* regions added afterwards (off, len) */
    bool shuffle;              /* add them in a random order */
    bool fill_table;           /* the table ends up full */
};

/* The descriptor: the heap's record, its region 0 and the list heads,
 * rounded up to a cache line (64 bytes). */
static size_t descriptor_bytes(void)
{
    return (sizeof(struct gjb_heap) + ORDERS * sizeof(intptr_t) + 63) & ~(size_t)63;
}

/* Bytes of a region table with room for n records. */
static size_t table_bytes(unsigned n)
{
    return ((size_t)n * sizeof(struct gjb_region) + G - 1) & ~(G - 1);
}

/* The room a table moved into the next added region gets (heap.c): twice
 * the regions (4 for the first move), at most max_regs, at least one more
 * than now. */
static unsigned grown_cap(void)
{
    unsigned n = (unsigned)nreg, c = n < 2 ? 4 : 2 * n;
    c = c > max_regs ? max_regs : c;
    return c < n + 1 ? n + 1 : c;
}

/* The least table room the next added region must carry: none while the
 * table has room for it, else one more record than now. */
static size_t least_table(void)
{
    return (unsigned)nreg + 1 <= table_cap ? 0 : table_bytes((unsigned)nreg + 1);
}

/* Refused regions: nothing changes. */
static void refused_regions(gjb_heap *h, const struct layout *L)
{
    struct gjbmem_heap_stats before, after;
    gjb_heap_get_stats(h, &before);
    for (int i = 0; i < nreg; i++) {
        const struct mreg *r = &reg[i];
        EQ(gjb_heap_add_region(h, (void *)r->lo, r->hi - r->lo), GJB_E_OVERLAP);
        EQ(gjb_heap_add_region(h, (void *)(r->hi - 1), 4096), GJB_E_OVERLAP);
        EQ(gjb_heap_add_region(h, (void *)(r->lo - 1), 2), GJB_E_OVERLAP);
        EQ(gjb_heap_add_region(h, (void *)(r->first + BU), BU * 3), GJB_E_OVERLAP);
    }
    /* Free memory too small for one block (the last 64 KiB of the arena
     * belong to no layout). */
    unsigned char *spare = arena + ARENA - 65536;
    EQ(gjb_heap_add_region(h, spare, BU), GJB_E_SMALL);
    EQ(gjb_heap_add_region(h, spare + 1, BU + 1), GJB_E_SMALL);
    EQ(gjb_heap_add_region(h, spare, 1), GJB_E_SMALL);
    /* one byte short of a unit after the region table it would carry */
    EQ(gjb_heap_add_region(h, spare, least_table() + (least_table() ? G : 0) + BU), GJB_E_SMALL);
    EQ(gjb_heap_add_region(h, NULL, 4096), GJB_E_INVAL);
    EQ(gjb_heap_add_region(h, spare, 0), GJB_E_INVAL);
    if (L->fill_table)
        EQ(gjb_heap_add_region(h, spare, 4096), GJB_E_FULL);
    gjb_heap_get_stats(h, &after);
    EXPECT(memcmp(&before, &after, sizeof before) == 0, NULL);
}

static void add_region(gjb_heap *h, size_t off, size_t len)
{
    EXPECT(nreg < MAXREG, NULL);
    uintptr_t lo = (uintptr_t)arena + off;
    struct mreg r;
    /* the table in place while it has room; else moved here, with room to
     * grow, or with one more record when the memory cannot hold that */
    unsigned cap = (unsigned)nreg + 1 <= table_cap ? 0 : grown_cap();
    bool fits = layout(&r, lo, lo, lo + len, table_bytes(cap));
    if (!fits && cap > (unsigned)nreg + 1) {
        cap = (unsigned)nreg + 1;
        fits = layout(&r, lo, lo, lo + len, table_bytes(cap));
    }
    int st = gjb_heap_add_region(h, (void *)lo, len);
    EQ(st, fits ? GJB_OK : GJB_E_SMALL);
    if (!fits)
        return;
    if (cap) {
        table_cap = cap;
        EQ(h->region_cap, cap);
    }
    reg[nreg++] = r;
    carve(&r);
    note_used();
}

static struct cover cov_total;

static void run_layout(const struct layout *L)
{
    long ops = ops_per_layout();
    cur_layout = L->name;
    memset(&cov_total, 0, sizeof cov_total);
    for (cur_seed = 1; cur_seed <= SEEDS; cur_seed++) {
        cur_op = -1;
        rng = 0x9e3779b97f4a7c15ULL * (uint64_t)cur_seed + (uint64_t)L->init_len;
        reset_model();
        memset(&cov, 0, sizeof cov);
        /* Memory the engine does not own reads like free tags of small
         * orders, so that a tag read past a region's tag array misbehaves. */
        memset(arena, 0x80 | (int)(1 + cur_seed % 8), ARENA - 65536);

        /* The first region: the descriptor, then the block area. */
        gjb_heap *h = NULL;
        unsigned char *lo = arena + L->init_off;
        EQ(gjb_heap_init(lo, L->init_len, GJB_BUDDY, L->max_regions, &h), GJB_OK);
        max_regs = L->max_regions;
        uintptr_t d = ((uintptr_t)lo + G - 1) & ~(G - 1); /* the granule: 8 on 32-bit ARM */
        EQ((uintptr_t)h, d);
        struct mreg r0;
        EQ(descriptor_bytes(), gjb_descriptor_bytes(GJB_BUDDY));
        EXPECT(layout(&r0, (uintptr_t)lo, d + descriptor_bytes(), (uintptr_t)lo + L->init_len, 0),
               NULL);
        reg[nreg++] = r0;
        carve(&r0);
        note_used();
        compare_regions(h);
        compare_stats(h);

        /* The others, in the listed or a shuffled order. */
        int order[MAXREG], n = 0;
        while (n < MAXREG && L->more[n][1])
            order[n] = n, n++;
        for (int i = n - 1; L->shuffle && i > 0; i--) {
            int j = (int)below((size_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < n; i++) {
            add_region(h, L->more[order[i]][0], L->more[order[i]][1]);
            compare_regions(h);
            compare_stats(h);
        }
        refused_regions(h, L);
        check_all(h);
        struct mblk *carved = malloc((size_t)nb * sizeof *carved);
        assert_non_null(carved);
        memcpy(carved, mb, (size_t)nb * sizeof *carved);
        int ncarved = nb;

        run_ops(h, ops / SEEDS);

        /* Everything freed: every region is back to its carving. */
        EQ(nb, ncarved);
        for (int i = 0; i < nb; i++) {
            EQ(mb[i].a, carved[i].a);
            EQ(mb[i].k, carved[i].k);
            EXPECT(mb[i].free, NULL);
        }
        free(carved);
        EXPECT(gjb_heap_is_empty(h), NULL);

        long *dst = &cov_total.allocs, *src = &cov.allocs;
        for (size_t i = 0; i < sizeof cov / sizeof(long); i++)
            dst[i] += src[i];
    }
    cur_op = -1;
    const struct cover *c = &cov_total;
    print_message("    %-18s max block %6zu: %ld allocs (%ld split), %ld frees (%ld merges), "
                  "%ld shrinks, %ld grows in place, %ld moves, %ld NOMEM, %ld TOOBIG, "
                  "%ld ALIGN, %ld hostile\n",
                  L->name, max_block, c->allocs, c->splits, c->frees, c->merges, c->shrinks,
                  c->grows, c->moves, c->nomem, c->toobig, c->badalign, c->hostile);
    /* Every kind of outcome happened (a run of at least 1000 operations per
     * layout is long enough for that). */
    if (ops >= 1000)
        EXPECT(c->splits > 0 && c->merges > 0 && c->shrinks > 0 && c->grows > 0 && c->moves > 0 &&
                   c->nomem > 0 && c->toobig > 0 && c->badalign > 0 && c->hostile > 0,
               "coverage");
}

static void test_one_region(void **state)
{
    (void)state;
    run_layout(&(struct layout){"one_region", 64, 256 * 1024 - 64, 1, {{0}}, false, true});
}

static void test_one_region_odd(void **state)
{
    (void)state;
    run_layout(&(struct layout){"one_region_odd", 0x7003, 100000, 2, {{0}}, false, false});
}

/* Regions below and above the first one, unaligned, two of them touching,
 * one starting on a 512 KiB boundary; added in a different order per seed. */
static void test_regions_shuffled(void **state)
{
    (void)state;
    run_layout(&(struct layout){"regions_shuffled", 0x50005, 0x9001, 8,
                                {{0x1011, 30000},
                                 {0x60000, 0x8000},
                                 {0x68000, 0x5555},
                                 {0x80000, 0x50000},
                                 {0x20009, 0x10003},
                                 {0x3ff01, 4321}},
                                true, false});
}

/* A small first region and tiny ones (a single unit or a few, after the
 * region table each added region carries: 7 records when added last): the
 * lists mix blocks of every region; the table ends up full. */
static void test_tiny_regions(void **state)
{
    (void)state;
    run_layout(&(struct layout){"tiny_regions", 0x90001, 1400, 7,
                                {{0x91003, 310},
                                 {0x92000, 305},
                                 {0x93011, 400},
                                 {0x94020, 340},
                                 {0x95007, 500},
                                 {0x96000, 900}},
                                true, true});
}

static void test_tiny_heap(void **state)
{
    (void)state;
    run_layout(&(struct layout){"tiny_heap", 17, 2500, 1, {{0}}, false, true});
}

static int setup(void **state)
{
    (void)state;
    arena = aligned_alloc(ARENA, ARENA); /* carving depends on absolute alignment */
    mb = malloc(MAXB * sizeof *mb);
    if (!arena || !mb)
        return -1;
    for (unsigned k = 0; k < ORDERS; k++) {
        fcap[k] = MAXB >> k;
        fl[k] = fcap[k] ? malloc(fcap[k] * sizeof *fl[k]) : NULL;
        if (fcap[k] && !fl[k])
            return -1;
    }
    /* Another buddy heap in the arena's spare tail, with one live block. */
    unsigned char *spare = arena + ARENA - 65536;
    if (gjb_heap_init(spare + 32768, 32768, GJB_BUDDY, 1, &foreign) != GJB_OK ||
        gjb_heap_alloc(foreign, 100, &foreign_block) != GJB_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(arena);
    free(mb);
    for (unsigned k = 0; k < ORDERS; k++)
        free(fl[k]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_region),
        cmocka_unit_test(test_one_region_odd),
        cmocka_unit_test(test_regions_shuffled),
        cmocka_unit_test(test_tiny_regions),
        cmocka_unit_test(test_tiny_heap),
    };
    return cmocka_run_group_tests_name("buddy_model", tests, setup, teardown);
}
