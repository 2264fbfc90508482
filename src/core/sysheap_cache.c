/*
 * sysheap_cache.c - thread caches in front of the system heap, for the
 * malloc replacement (gjbmem_malloc_cached, gjbmem_free_cached).
 *
 * A thread's cache keeps freed blocks of each small block size (TC_BINS - 1
 * bins of TC_G-byte steps: 16 to 1024 bytes on LP64, header included; up
 * to TC_DEPTH blocks per bin up to 512 bytes, half as many above) and
 * hands them to the thread's next requests of that size without a lock.
 *
 * A kept block stays allocated in its arena's engine, and it is checked as
 * any free checks it before the cache takes it: its arena's engine proves
 * it (gjb_hot_block). That check needs no lock either (tc_peek): the arena
 * has a sequence count that every holder of its lock makes odd while it
 * holds it (gjb_arena_lock), the engine stores the words the check reads
 * (the proof bitmap, the headers a neighbour's change rewrites, the hot
 * region) atomically, and a check that saw the same even count before and
 * after its reads saw the heap as the lock would have shown it. Otherwise,
 * or when the hot region does not tell, the check runs under the lock,
 * which looks at every region of the arena (gjb_heap_block); in a process
 * with one thread the check without the lock looks at every region too.
 *
 * A kept block's first word links it to the next kept block and its second
 * holds a mark (gjb_tc_mark: a key, its address and the link combined);
 * every other path that takes a block back sees the mark (gjb_arena_raw)
 * and refuses it as a block already freed. Blocks leave a cache when a
 * request takes them, when their bin is full (half the bin: blocks of
 * another thread's arena go on that arena's list of blocks handed back,
 * without its lock, where that thread takes them at its next miss; the
 * thread's own to its engine), and all of them when the thread exits, when
 * heap_mem_init runs in the thread, and in a child after fork for the
 * threads that did not fork. A miss with nothing handed back takes the
 * arena's lock once for several blocks of the size (tc_refill).
 *
 * The statistics count kept blocks as free (gjbmem_sysheap_stats). The
 * registry of caches (for those sums and for fork) is a list under
 * gjb_sys.lock; a cache's bin counts are written by its thread only and
 * read with relaxed atomics.
 */
#include "tcache.h"
#include "gjbext.h"
#include "gjbmem/sysheap.h"

#define PEEK_WAIT 256u /* pauses a free waits for a lock-free proof */

unsigned char gjb_tc_bin_of[2][TC_STEPS];
unsigned char gjb_tc_depth[TC_BINS];
const size_t gjb_tc_hdr[2] = {GJB_W, 0};

_Static_assert(TC_DEPTH < 256 && FF_MIN >= 3 * sizeof(uintptr_t) + GJB_W &&
                   GJB_BU >= 3 * sizeof(uintptr_t),
               "a kept block holds a link and a mark, one handed back its bin too");

_Atomic bool gjb_tc_active;
uintptr_t gjb_tc_key;
static struct gjb_tcache *registry;

/* The calling thread's cache, or NULL before it has one. */
static GJB_ALWAYS_INLINE struct gjb_tcache *tc_mine(void)
{
    struct gjb_thread *th = gjb_thread();
    return GJB_LIKELY(th->cached) ? &th->tc : NULL;
}

/* The block size FIRST_FIT (buddy false) or BUDDY gives a request of size
 * bytes, for sizes below TC_MAX. */
static size_t block_for(bool buddy, size_t size)
{
    size_t block = buddy ? GJB_BU : FF_MIN;
    if (buddy)
        while (block < size)
            block <<= 1;
    else if (size + GJB_W > block)
        block = (size + GJB_W + TC_G - 1) & ~(TC_G - 1);
    return block;
}

static void tc_tables(void)
{
    for (int buddy = 0; buddy < 2; buddy++)
        for (size_t k = 1; k < TC_STEPS; k++) {
            size_t b = block_for(buddy, k * GJB_W) / TC_G;
            gjb_tc_bin_of[buddy][k] = (unsigned char)(b < TC_BINS ? b : TC_BINS);
        }
    for (size_t b = 1; b < TC_BINS; b++)
        gjb_tc_depth[b] = (unsigned char)(b <= TC_HALF ? TC_DEPTH : TC_DEPTH / 2);
}

/* Drops bin b, where kept block p is not whole (its blocks stay
 * allocated), and reports p. */
static GJB_NOINLINE void tc_damaged(struct gjb_tcache *tc, size_t b, const void *p)
{
    tc->head[b] = NULL;
    tc_set_n(tc, b, 0);
    gjb_tc_report(p);
}

void gjb_tc_report(const void *p)
{
    gjb_sys_lock();
    struct gjb_errpolicy pol = gjb_sys.pol;
    gjb_sys_unlock();
    struct gjbmem_error e = {0, "gjbmem_malloc_cached", ERROR_KERNEL_MEMORY, true, p};
    gjb_errpolicy_report(&pol, &e);
}

/* Takes the first block of bin b: NULL when the bin is empty, or when the
 * block is not whole (a write after free broke its mark; it stays first in
 * the bin). */
static GJB_ALWAYS_INLINE char *tc_pop_whole(struct gjb_tcache *tc, size_t b)
{
    char *p = tc->head[b];
    if (!p)
        return NULL;
    uintptr_t w[2];
    memcpy(w, p, sizeof w);
    if (GJB_UNLIKELY(w[1] != gjb_tc_mark(p, (char *)w[0])))
        return NULL;
    tc->head[b] = (char *)w[0];
    tc_set_n(tc, b, tc_n(tc, b) - 1);
    w[1] = 0; /* no mark: a live block again */
    memcpy(p + sizeof w[0], &w[1], sizeof w[1]);
    return p;
}

/* tc_pop_whole, and a block that is not whole reported (tc_damaged). */
static GJB_ALWAYS_INLINE char *tc_pop(struct gjb_tcache *tc, size_t b)
{
    char *p = tc_pop_whole(tc, b);
    if (GJB_UNLIKELY(!p && tc->head[b]))
        tc_damaged(tc, b, tc->head[b]);
    return p;
}

static void *tc_refill(struct gjb_tcache *tc, size_t b, size_t size);

/* gjbmem_malloc_cached when bin b (of the request's size) gave nothing:
 * its first block reported if it is broken, then refilled with more than
 * one thread, else the heap. */
static GJB_NOINLINE void *malloc_miss(struct gjb_tcache *tc, size_t b, size_t size)
{
    if (tc->head[b])
        tc_damaged(tc, b, tc->head[b]);
    if (!gjb_fast_single())
        return tc_refill(tc, b, size);
    return gjbmem_malloc(size);
}

static struct gjb_tcache *tc_create(void);

/* gjbmem_malloc_cached in a thread without a cache: one made now when the
 * process has more than one thread (a thread may allocate what others
 * free: it has nothing to keep of its own, but blocks come back to it). */
static GJB_NOINLINE void *malloc_first(size_t size)
{
    if (!gjb_fast_single() && !gjb_fast_in_isr() && tc_create())
        return gjbmem_malloc_cached(size);
    return gjbmem_malloc(size);
}

void *gjbmem_malloc_cached(size_t size)
{
    struct gjb_tcache *tc = tc_mine();
    if (GJB_UNLIKELY(tc == NULL))
        return malloc_first(size);
    if (size - 1 < TC_MAX - 1 && !gjb_fast_in_isr()) {
        const unsigned char *bins = atomic_load_explicit(&tc->bins, memory_order_relaxed);
        size_t b = bins[(size + GJB_W - 1) / GJB_W];
        if (b < TC_BINS) {
            char *p = tc_pop_whole(tc, b);
            return p ? p : malloc_miss(tc, b, size); /* tail calls: nothing saved */
        }
    }
    return gjbmem_malloc(size);
}

/* gjbmem_free_cached for what the inline path did not settle: a thread
 * without a cache, interrupt context, hardening 2+, another arena, a
 * direct mapping, a bad pointer. errno is kept. */
static GJB_NOINLINE int free_other(struct gjb_tcache *tc, void *p)
{
    if (!tc && p && !gjb_fast_in_isr())
        tc_create(); /* for the thread's next frees */
    int *e = &errno, saved = *e;
    int err = gjbmem_free(p) == 0 ? 0 : *e;
    *e = saved;
    return err;
}

/* The size of block p when arena a proves it, as under its lock, and it
 * is not kept already; read without the lock: 0 when a holder of the lock
 * changed the heap meanwhile (its sequence count), or, in a process with
 * more than one thread, when the hot region does not tell (the locked path
 * then decides). With one thread nothing changes meanwhile: every region
 * is looked at. */
static GJB_ALWAYS_INLINE size_t tc_peek(struct gjb_arena *a, const void *p)
{
    gjb_heap *h = atomic_load_explicit(&a->h, memory_order_acquire);
    if (!h)
        return 0;
    if (gjb_fast_single()) { /* no other thread: nothing changes meanwhile */
        size_t block = gjb_heap_block(h, p); /* any region: as the lock sees it */
        return block && !gjb_tc_marked(p) ? block : 0;
    }
    unsigned s = atomic_load_explicit(&a->seq, memory_order_acquire);
    if (s & 1)
        return 0;
    struct gjb_region r = gjb_heap_hot(h); /* acquire loads: the count is read after */
    if (atomic_load_explicit(&a->seq, memory_order_relaxed) != s)
        return 0; /* r may mix two regions: not to be followed */
    size_t block = gjb_hot_block(h, &r, p, false);
    if (!block || gjb_tc_marked(p))
        return 0;
    return atomic_load_explicit(&a->seq, memory_order_relaxed) == s ? block : 0;
}

/* gjbmem_free_cached under arena a's lock: the block proved again, kept
 * or given to the engine; anything else goes to free_other. */
static GJB_NOINLINE int free_locked(struct gjb_tcache *tc, struct gjb_arena *a, void *p)
{
    bool done = false;
    gjb_arena_lock(a);
    size_t block = a->h ? gjb_heap_block(a->h, p) : 0;
    if (block && !gjb_tc_marked(p))
        done = tc_keep(tc, p, block) || gjb_heap_free_inline(a->h, p) == GJB_OK;
    gjb_arena_unlock(a);
    return done ? 0 : free_other(tc, p); /* decided there */
}

/* A request of size bytes whose bin b is empty, in a process with more
 * than one thread: the thread's arena gives its block and up to half a
 * bin more of the same size, under one lock; the cache keeps the others.
 * A thread that allocates what others free takes its arena's lock once
 * per several requests. */
static GJB_NOINLINE void *tc_refill(struct gjb_tcache *tc, size_t b, size_t size)
{
    struct gjb_arena *a = gjb_sys_mine();
    void *p = NULL, *q;
    bool back = atomic_load_explicit(&a->remote, memory_order_relaxed) != NULL;
    void *bad = gjb_handback_take(tc, a, false);
    if (tc->head[b] || bad) { /* one came back */
        if (bad)
            gjb_tc_report(bad);
        return gjbmem_malloc_cached(size);
    }
    /* more of the same size, unless blocks come back: they would fill the
     * bins that blocks coming back should find room in */
    gjb_arena_lock(a); /* the engine's calls out of line: a slow path */
    if (a->h && gjb_heap_alloc(a->h, size, &p) == GJB_OK && !back)
        for (unsigned k = gjb_tc_depth[b] / 2u; k > 1; k--) {
            if (gjb_heap_alloc(a->h, size, &q) != GJB_OK)
                break;
            size_t u = gjb_heap_usable_size(a->h, q);
            if (!u || !tc_keep(tc, q, u + gjb_tc_hdr[gjb_sys.policy == GJB_BUDDY])) {
                /* a block the engine made larger than the bin */
                (void)gjb_heap_free(a->h, q);
                break;
            }
        }
    gjb_arena_unlock(a);
    return p ? p : gjbmem_malloc(size);
}

/* Makes room in bin b, full: half its blocks go back, each run of blocks
 * of one arena at once: another thread's arena gets them on its list of
 * blocks handed back (gjb_handback_push, no lock), the thread's own arena (or a
 * full list) takes them into its engine under one lock. A thread that
 * frees what another allocates leaves that arena's lock alone. */
static GJB_NOINLINE void tc_spill(struct gjb_tcache *tc, size_t b)
{
    char *q[TC_DEPTH / 2];
    unsigned n = 0;
    while (n < gjb_tc_depth[b] / 2u && (q[n] = tc_pop(tc, b)) != NULL)
        n++; /* outside the locks: tc_pop may report damage */
    for (unsigned i = 0, j; i < n; i = j) {
        unsigned t = gjb_chunk_get(q[i]);
        for (j = i + 1; j < n && gjb_chunk_get(q[j]) == t; j++)
            ;
        struct gjb_arena *a = &gjb_sys.arena[t - 1];
        if (a != gjb_thread()->arena && gjb_handback_push(tc, a, q + i, j - i, b))
            continue;
        gjb_arena_lock(a);
        void *bad = gjb_tc_drain_remote(a);
        for (unsigned k = i; k < j; k++)
            (void)gjb_heap_free(a->h, q[k]);
        gjb_arena_unlock(a);
        if (bad)
            gjb_tc_report(bad);
    }
}

/* gjbmem_free_cached for block p of arena a, proved (block bytes), that
 * its bin has no room for: kept after the bin gave half its blocks back
 * (tc_spill, with more than one thread: with one there is no lock to
 * spare); else, and for a block too large for a bin, to a's engine (which
 * proves it again). */
static GJB_NOINLINE int free_unkept(struct gjb_tcache *tc, struct gjb_arena *a, void *p,
                                    size_t block)
{
    if (block / TC_G < TC_BINS && !gjb_fast_single()) {
        tc_spill(tc, block / TC_G);
        if (tc_keep(tc, p, block))
            return 0;
    }
    gjb_arena_lock(a);
    int st = gjb_heap_free_inline(a->h, p);
    gjb_arena_unlock(a);
    return st == GJB_OK ? 0 : free_other(tc, p);
}

/* Block p of arena a, proved (block bytes): kept, or free_unkept. */
static GJB_ALWAYS_INLINE int tc_take(struct gjb_tcache *tc, struct gjb_arena *a, void *p,
                                     size_t block)
{
    if (tc_keep(tc, p, block))
        return 0;
    return free_unkept(tc, a, p, block); /* a tail call: the path above saves nothing */
}

/* gjbmem_free_cached for a block that tc_peek did not prove in the
 * thread's own arena: the chunk map names its arena. */
static GJB_NOINLINE int free_elsewhere(struct gjb_tcache *tc, void *p)
{
    unsigned t = gjb_chunk_get(p);
    if (t - 1 >= SYS_ARENAS)
        return free_other(tc, p);
    struct gjb_arena *a = &gjb_sys.arena[t - 1];
    /* When a holder of the lock changed the heap meanwhile: it holds it a
     * short while (a thread that allocates what this one frees takes it
     * once per several requests); wait for it, a little, and prove again
     * rather than queue for the lock it will want again. */
    unsigned s = atomic_load_explicit(&a->seq, memory_order_relaxed), k = 0;
    size_t block;
    while ((block = tc_peek(a, p)) == 0 && k++ < PEEK_WAIT) {
        unsigned now = atomic_load_explicit(&a->seq, memory_order_relaxed);
        if (now == s && !(now & 1))
            break; /* nothing changed: the locked path decides */
        for (; (now & 1) && k < PEEK_WAIT; k++) {
            gjb_fast_relax();
            now = atomic_load_explicit(&a->seq, memory_order_relaxed);
        }
        s = now;
    }
    return block ? tc_take(tc, a, p, block) : free_locked(tc, a, p);
}

int gjbmem_free_cached(void *p)
{
    struct gjb_thread *th = gjb_thread();
    struct gjb_tcache *tc = &th->tc;
    if (GJB_UNLIKELY(!th->cached || GJB_GUARDED || gjb_fast_in_isr() || gjb_slab_maybe(p)))
        return free_other(th->cached ? tc : NULL, p); /* (a slab's address: gjbmem_free decides) */
    /* most blocks a thread frees are its own arena's: no chunk map */
    size_t block = th->arena ? tc_peek(th->arena, p) : 0;
    if (GJB_UNLIKELY(block == 0))
        return free_elsewhere(tc, p);
    return tc_take(tc, th->arena, p, block);
}

/* Gives every kept block of tc back to its arena's engine (a block that is
 * not whole stays allocated: tc_pop reports it). */
static void tc_flush(struct gjb_tcache *tc)
{
    for (size_t b = 1; b < TC_BINS; b++) {
        char *p;
        while ((p = tc_pop(tc, b)) != NULL) {
            struct gjb_arena *a = &gjb_sys.arena[gjb_chunk_get(p) - 1];
            gjb_arena_lock(a);
            (void)gjb_heap_free_inline(a->h, p);
            gjb_arena_unlock(a);
        }
    }
}

/* True when p (kept in bin b) is a live block of its arena and marked. */
static bool tc_whole(const char *p)
{
    unsigned t = gjb_chunk_get(p);
    if (t - 1 >= SYS_ARENAS)
        return false;
    struct gjb_arena *a = &gjb_sys.arena[t - 1];
    gjb_arena_lock(a);
    size_t u = a->h ? gjb_heap_usable_size(a->h, p) : 0;
    gjb_arena_unlock(a);
    return u && gjb_tc_kept(p, u);
}

bool gjb_tc_check_mine(void)
{
    const struct gjb_tcache *tc = tc_mine();
    for (size_t b = 1; tc && b < TC_BINS; b++) {
        unsigned n = 0;
        for (const char *p = tc->head[b]; p; n++) {
            if (n >= tc_n(tc, b) || !tc_whole(p))
                return false;
            uintptr_t next;
            memcpy(&next, p, sizeof next);
            p = (const char *)next;
        }
        if (n != tc_n(tc, b))
            return false;
    }
    return true;
}

/* The calling thread's new cache (in the thread's area from the port, in
 * the registry), or NULL where there are no caches. */
static struct gjb_tcache *tc_create(void)
{
    struct gjb_thread *th = gjb_thread();
    if (GJB_GUARDED || GJBMEM_TOOLS || th->gone)
        return NULL; /* guards and tools see every request; a thread past its
                        exit handler would leave its cache behind */
    struct gjb_tcache *tc = &th->tc;
    gjb_sys_lock();
    if (!gjb_tc_key) { /* the address of the first cache: differs between runs */
        gjb_tc_key = ((uintptr_t)tc * (uintptr_t)0x9E3779B97F4A7C15ULL) | 1;
        tc_tables();
    }
    bool buddy = gjb_sys.policy == GJB_BUDDY;
    atomic_store_explicit(&tc->bins, gjb_tc_bin_of[buddy], memory_order_relaxed);
    tc->next = registry;
    if (registry)
        registry->prev = tc;
    registry = tc;
    atomic_store_explicit(&gjb_tc_active, true, memory_order_release);
    gjb_sys_unlock();
    th->cached = true;
    gjb_port_thread_exit_arm();
    return tc;
}

/* Takes tc out of the registry and gives it and its blocks back. */
static void tc_destroy(struct gjb_tcache *tc)
{
    tc_flush(tc);
    gjb_sys_lock();
    if (tc->prev)
        tc->prev->next = tc->next;
    else
        registry = tc->next;
    if (tc->next)
        tc->next->prev = tc->prev;
    gjb_sys_unlock();
    memset(tc, 0, sizeof *tc);
}

void gjb_tc_thread_exit(void *area)
{
    struct gjb_thread *th = area;
    if (th->cached)
        tc_destroy(&th->tc);
    th->cached = false;
    th->gone = true;
}

void gjb_tc_flush_mine(void)
{
    struct gjb_tcache *tc = tc_mine();
    if (tc)
        tc_flush(tc);
}

void gjb_tc_policy(bool buddy)
{
    for (struct gjb_tcache *tc = registry; tc; tc = tc->next)
        atomic_store_explicit(&tc->bins, gjb_tc_bin_of[buddy], memory_order_relaxed);
}

void gjb_tc_totals(size_t *blocks, size_t *bytes)
{
    *blocks = *bytes = 0;
    for (const struct gjb_tcache *tc = registry; tc; tc = tc->next) {
        bool buddy = atomic_load_explicit(&tc->bins, memory_order_relaxed) == gjb_tc_bin_of[1];
        size_t hdr = gjb_tc_hdr[buddy];
        for (size_t b = 1; b < TC_BINS; b++) {
            *blocks += tc_n(tc, b);
            *bytes += tc_n(tc, b) * (b * TC_G - hdr);
        }
    }
    for (unsigned i = 0; i < SYS_ARENAS; i++) {
        *blocks += atomic_load_explicit(&gjb_sys.arena[i].remote_n, memory_order_relaxed);
        *bytes += atomic_load_explicit(&gjb_sys.arena[i].remote_bytes, memory_order_relaxed);
    }
}

void gjb_tc_after_fork(void)
{
    struct gjb_tcache *mine = tc_mine();
    gjb_sys_lock();
    struct gjb_tcache *tc = registry;
    gjb_sys_unlock();
    while (tc) {
        struct gjb_tcache *next = tc->next;
        if (tc != mine)
            tc_destroy(tc); /* its thread is not in the child */
        tc = next;
    }
    for (unsigned i = 0; i < SYS_ARENAS; i++) { /* one thread: nobody would take them */
        struct gjb_arena *a = &gjb_sys.arena[i];
        gjb_arena_lock(a);
        void *bad = gjb_handback_take(NULL, a, true);
        gjb_arena_unlock(a);
        if (bad)
            gjb_tc_report(bad);
    }
}
