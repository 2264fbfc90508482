/*
 * test_threads_arenas.c - the system heap's arenas and thread caches with
 * several threads: each new thread gets an arena of its own (a region in a
 * chunk of its own), a block goes back to its arena whoever frees it, many
 * threads (more than the 8 arenas) at random, a thread's cache given back
 * at its exit, fork while other threads keep blocks in their caches, and
 * mem_findmax's answer served from another arena.
 *
 * Worker threads never call cmocka: they record the first failure with
 * CHECK (thread_harness.h) and the test thread fails after joining them.
 * The first test needs arenas no thread has had yet: it runs first.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/config.h>
#include <gjbmem/sysheap.h>

#include "thread_harness.h"

#define SENTINEL 7714
#define DIRECT GJBMEM_SYSHEAP_DIRECT
#define CHUNK_SHIFT 22 /* regions are aligned to 4 MiB chunks */
#define REGION ((size_t)4 << 20)
#define CACHE_ON (GJBMEM_HARDENING < 2 && !GJBMEM_TOOLS)

static int setup(void **state)
{
    (void)state;
    harness_start();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_report_time();
    return 0;
}

static struct gjbmem_sysheap_stats stats(void)
{
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(st.heap.used + st.heap.free, st.heap.total);
    return st;
}

static void valid(void)
{
    errno = SENTINEL;
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(errno, SENTINEL);
}

static unsigned char pat(unsigned tag, size_t i)
{
    return (unsigned char)(tag * 167u + i * 31u + 1u);
}

/* Writes or checks the pattern: every byte of the first 1 KiB, then the
 * last 64 bytes. */
static bool touch(unsigned char *p, size_t n, unsigned tag, bool write)
{
    for (size_t i = 0; i < n; i = i < 1024 || i + 64 >= n ? i + 1 : n - 64) {
        if (write)
            p[i] = pat(tag, i);
        else if (p[i] != pat(tag, i))
            return false;
    }
    return true;
}

/* Fills a block of n bytes with its own length (checked by any thread). */
static void stamp(unsigned char *p, size_t n)
{
    touch(p, n, (unsigned)n, true);
}

static uintptr_t chunk(const void *p)
{
    return (uintptr_t)p >> CHUNK_SHIFT;
}

static void join(pthread_t t)
{
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* --- a new thread, a new arena --------------------------------------------- */

struct first {
    void *p;
    size_t regions, port, total; /* just after its first allocation */
};

static void *first_alloc(void *arg)
{
    struct first *f = arg;
    f->p = gjbmem_malloc(100);
    struct gjbmem_sysheap_stats st;
    if (gjbmem_sysheap_stats(&st) == 0) {
        f->regions = st.heap.regions;
        f->port = st.port_bytes;
        f->total = st.heap.total;
    }
    return NULL;
}

/* The main thread has arena 0; each of two new threads gets a new arena: a
 * region of 4 MiB more, in a chunk of its own. Their blocks, freed by the
 * main thread, go back to their arenas. */
static void two_threads_get_different_arenas(void **state)
{
    (void)state;
    void *mine = gjbmem_malloc(100); /* arena 0 */
    assert_non_null(mine);
    struct gjbmem_sysheap_stats s0 = stats();
    struct first a = {0}, b = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, first_alloc, &a), 0);
    join(t);
    assert_int_equal(pthread_create(&t, NULL, first_alloc, &b), 0);
    join(t);
    assert_non_null(a.p);
    assert_non_null(b.p);
    assert_int_equal(a.regions, s0.heap.regions + 1);
    assert_int_equal(b.regions, s0.heap.regions + 2);
    assert_int_equal(a.total, s0.heap.total + REGION);
    assert_int_equal(b.total, s0.heap.total + 2 * REGION);
    assert_true(a.port >= s0.port_bytes + REGION);
    assert_true(b.port >= a.port + REGION);
    assert_true(chunk(a.p) != chunk(mine));
    assert_true(chunk(b.p) != chunk(mine));
    assert_true(chunk(a.p) != chunk(b.p));
    assert_int_equal(stats().heap.alloc_blocks, s0.heap.alloc_blocks + 2);
    assert_int_equal(gjbmem_free(a.p), 0);
    assert_int_equal(gjbmem_free_cached(b.p), 0);
    assert_int_equal(gjbmem_free(mine), 0);
    struct gjbmem_sysheap_stats s1 = stats();
    assert_int_equal(s1.heap.alloc_blocks, s0.heap.alloc_blocks - 1);
    assert_int_equal(s1.heap.regions, s0.heap.regions + 2); /* arenas keep their regions */
    valid();
}

/* --- mem_findmax from a thread whose arena is smaller ----------------------- */

struct findmax_run {
    int m;
    void *own, *q;
    size_t regions0, regions1, port0, port1;
    int errno_q;
};

static void *findmax_thread(void *arg)
{
    struct findmax_run *r = arg;
    r->own = gjbmem_malloc(200 * 1024); /* its arena: less free than a whole region */
    if (!r->own)
        return NULL;
    struct gjbmem_sysheap_stats st, saved;
    gjbmem_sysheap_stats(&saved);
    r->m = mem_findmax();
    r->regions0 = saved.heap.regions;
    r->port0 = saved.port_bytes;
    /* No growth, no direct mapping: only some arena's free memory can serve. */
    gjbmem_sysheap_set_limit(saved.port_bytes);
    errno = 0;
    r->q = gjbmem_malloc((size_t)r->m);
    r->errno_q = errno;
    gjbmem_sysheap_stats(&st);
    r->regions1 = st.heap.regions;
    r->port1 = st.port_bytes;
    gjbmem_sysheap_set_limit(saved.limit);
    return NULL;
}

/* mem_findmax is the largest free block of any arena: a thread whose own
 * arena has less gets it from another arena (not by growing). */
static void findmax_served_from_another_arena(void **state)
{
    (void)state;
    size_t limit = stats().limit;
    struct findmax_run r = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, findmax_thread, &r), 0);
    join(t);
    assert_non_null(r.own);
    assert_true((size_t)r.m > REGION - 200 * 1024); /* a whole free region somewhere */
    if (!r.q)
        fail_msg("gjbmem_malloc(mem_findmax() = %d) failed, errno %d", r.m, r.errno_q);
    assert_true(chunk(r.q) != chunk(r.own));
    assert_true(gjbmem_usable_size(r.q) >= (size_t)r.m);
    assert_int_equal(r.regions1, r.regions0);
    assert_int_equal(r.port1, r.port0);
    assert_int_equal(stats().limit, limit);
    memset(r.q, 0x11, (size_t)r.m);
    valid();
    assert_int_equal(gjbmem_free(r.q), 0);
    assert_int_equal(gjbmem_free(r.own), 0);
    valid();
}

/* --- blocks of one thread freed by another ---------------------------------- */

#define XN 64
struct handoff {
    unsigned char *p[XN];
    size_t n[XN];
    atomic_int ready, freed, go_on;
    size_t alloc_while_kept; /* the freeing thread's view before it exits */
};

static void *producer(void *arg)
{
    struct handoff *h = arg;
    for (int i = 0; i < XN; i++) {
        h->n[i] = 1 + (size_t)i * 37 % 700;
        h->p[i] = i % 2 ? gjbmem_malloc_cached(h->n[i]) : gjbmem_malloc(h->n[i]);
        if (!h->p[i]) {
            tfail(__LINE__, "allocation", NULL);
            break;
        }
        touch(h->p[i], h->n[i], (unsigned)i, true);
    }
    atomic_store_explicit(&h->ready, 1, memory_order_release);
    while (!atomic_load_explicit(&h->go_on, memory_order_acquire) && !stopped())
        sched_yield(); /* alive (its cache with it) until the main thread looked */
    return NULL;
}

static bool consume(struct handoff *h)
{
    while (!atomic_load_explicit(&h->ready, memory_order_acquire))
        if (stopped())
            return false;
        else
            sched_yield();
    for (int i = 0; i < XN; i++) {
        CHECKF(touch(h->p[i], h->n[i], (unsigned)i, false), "block %d", i);
        errno = SENTINEL;
        CHECK((i % 3 ? gjbmem_free_cached(h->p[i]) : gjbmem_free(h->p[i])) == 0);
        CHECK(errno == SENTINEL);
    }
    struct gjbmem_sysheap_stats st;
    CHECK(gjbmem_sysheap_stats(&st) == 0);
    h->alloc_while_kept = st.heap.alloc_blocks;
    CHECK(gjbmem_sysheap_validate() == 0);
    /* Freed again by this thread, kept in its cache or not: refused. */
    errno = 0;
    CHECK(gjbmem_free(h->p[1]) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(gjbmem_free_cached(h->p[2]) == EINVAL);
    atomic_store_explicit(&h->freed, 1, memory_order_release);
    while (!atomic_load_explicit(&h->go_on, memory_order_acquire) && !stopped())
        sched_yield(); /* keeps its cache until the main thread looked */
    return true;
}

static void *consumer(void *arg)
{
    if (!consume(arg))
        atomic_store(&((struct handoff *)arg)->freed, 1);
    return NULL;
}

/* Thread A's blocks (malloc and malloc_cached) checked and freed by thread
 * B (free and free_cached) while A lives: the statistics are back to the
 * start while B still keeps some in its cache, and after both exit. */
static void blocks_freed_by_another_thread(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats s0 = stats();
    static struct handoff h;
    memset(&h, 0, sizeof h);
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, producer, &h), 0);
    assert_int_equal(pthread_create(&b, NULL, consumer, &h), 0);
    while (!atomic_load_explicit(&h.freed, memory_order_acquire))
        sched_yield();
    if (!stopped()) {
        struct gjbmem_sysheap_stats s = stats();
        assert_int_equal(s.heap.alloc_blocks, s0.heap.alloc_blocks);
        valid();
        /* Blocks B keeps are refused here too. */
        errno = 0;
        assert_int_equal(gjbmem_free(h.p[4]), -1);
        assert_int_equal(errno, EINVAL);
        assert_int_equal(gjbmem_usable_size(h.p[4]), 0);
    }
    atomic_store_explicit(&h.go_on, 1, memory_order_release);
    join(a);
    join(b);
    assert_no_thread_failure();
    assert_int_equal(h.alloc_while_kept, s0.heap.alloc_blocks);
    struct gjbmem_sysheap_stats s1 = stats();
    assert_int_equal(s1.heap.alloc_blocks, s0.heap.alloc_blocks);
    assert_int_equal(s1.direct_blocks, s0.direct_blocks);
    valid();
}

/* --- a thread's cache at its exit -------------------------------------------- */

#define EN 120
struct exiting {
    void *p[EN];
    size_t alloc_kept, segments_kept; /* its view with its blocks kept */
    atomic_int kept, go_on;
};

static bool exiting_run(struct exiting *e)
{
    for (int i = 0; i < EN; i++)
        CHECK((e->p[i] = gjbmem_malloc_cached(16 + (size_t)(i % 6) * 64)) != NULL);
    for (int i = 0; i < EN; i++)
        CHECK(gjbmem_free_cached(e->p[i]) == 0);
    struct gjbmem_sysheap_stats st;
    CHECK(gjbmem_sysheap_stats(&st) == 0);
    e->alloc_kept = st.heap.alloc_blocks;
    e->segments_kept = st.heap.segments;
    CHECK(gjbmem_sysheap_validate() == 0);
    return true;
}

static void *exiting_thread(void *arg)
{
    struct exiting *e = arg;
    exiting_run(e);
    atomic_store_explicit(&e->kept, 1, memory_order_release);
    while (!atomic_load_explicit(&e->go_on, memory_order_acquire))
        sched_yield();
    return NULL; /* its cache gives everything back */
}

/* A thread frees all its blocks into its cache and exits: after the join
 * alloc_blocks is what it was before the thread, and its blocks merged
 * (fewer segments than while they were kept). */
static void thread_exit_gives_cache_back(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats s0 = stats();
    static struct exiting e;
    memset(&e, 0, sizeof e);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, exiting_thread, &e), 0);
    while (!atomic_load_explicit(&e.kept, memory_order_acquire))
        sched_yield();
    errno = 0;
    int r = gjbmem_free(e.p[0]); /* kept in the thread's cache (its size's first) */
    int err = errno;
    atomic_store_explicit(&e.go_on, 1, memory_order_release);
    join(t);
    assert_no_thread_failure();
    assert_int_equal(r, -1);
    assert_int_equal(err, EINVAL);
    assert_int_equal(e.alloc_kept, s0.heap.alloc_blocks);
    struct gjbmem_sysheap_stats s1 = stats();
    assert_int_equal(s1.heap.alloc_blocks, s0.heap.alloc_blocks);
    if (CACHE_ON)
        assert_true(s1.heap.segments < e.segments_kept);
    valid();
    /* Given back: no longer a block, and not kept by anyone. */
    errno = 0;
    assert_int_equal(gjbmem_free(e.p[0]), -1);
    assert_int_equal(errno, EINVAL);
}

/* --- a free after the thread's exit handler ------------------------------------ */

static pthread_key_t late_key;
static _Atomic int late_rounds; /* written by the destructor, read after the join */

/* Runs on every destructor round (re-arming itself); on the last one, after
 * the library's own handler gave the cache back, it frees a block through
 * the cached call, as glibc's frees of a thread's buffers do after the
 * destructors. */
static void late_free(void *v)
{
    if (++late_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
        (void)pthread_setspecific(late_key, v);
        return;
    }
    (void)gjbmem_free_cached(v);
}

static void *late_thread(void *arg)
{
    (void)arg;
    void *p = gjbmem_malloc_cached(40), *q = gjbmem_malloc_cached(40);
    CHECK(p && q && gjbmem_free_cached(p) == 0); /* the thread has a cache */
    late_rounds = 0;
    CHECK(pthread_setspecific(late_key, q) == 0);
    return NULL;
}

static size_t late_alloc0; /* alloc_blocks before the two threads */

static void *plain_thread(void *arg)
{
    (void)arg;
    void *p = gjbmem_malloc_cached(40), *q = gjbmem_malloc_cached(40), *r = gjbmem_malloc_cached(40);
    CHECK(p && q && r && gjbmem_free_cached(p) == 0 && gjbmem_free_cached(q) == 0);
    CHECK(gjbmem_free_cached(r) == 0); /* kept: p's free made the cache */
    struct gjbmem_sysheap_stats st;
    CHECK(gjbmem_sysheap_stats(&st) == 0);
    CHECK(st.heap.alloc_blocks == late_alloc0); /* its kept blocks counted once */
    return NULL;
}

/* The block freed after the exit handler goes to the heap, and no cache is
 * left behind for a thread that is gone (a later thread, whose area may lie
 * where the first's did, keeps and gives back its blocks as any other). */
static void free_after_thread_exit_handler(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats s0 = stats();
    late_alloc0 = s0.heap.alloc_blocks;
    assert_int_equal(pthread_key_create(&late_key, late_free), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_thread, NULL), 0);
    join(t);
    assert_int_equal(late_rounds, PTHREAD_DESTRUCTOR_ITERATIONS);
    assert_int_equal(stats().heap.alloc_blocks, s0.heap.alloc_blocks);
    assert_int_equal(pthread_create(&t, NULL, plain_thread, NULL), 0);
    join(t);
    assert_no_thread_failure();
    assert_int_equal(stats().heap.alloc_blocks, s0.heap.alloc_blocks);
    valid();
    assert_int_equal(pthread_key_delete(late_key), 0);
}

/* --- frees without the lock while the arena changes ------------------------- */

#define RING 64
#define BIGS 48
struct race {
    _Atomic(unsigned char *) ring[RING]; /* blocks from the changer to the freer */
    size_t n[RING];                     /* their sizes, written before the slot */
    atomic_int done;
    long rounds;
    size_t regions_before, regions_after; /* the changer's view of the heap */
};

/* A block into ring slot k once the freer has emptied it. */
static bool race_put(struct race *r, unsigned k, unsigned char *p, size_t n)
{
    while (atomic_load_explicit(&r->ring[k], memory_order_acquire) != NULL)
        if (stopped())
            return false;
        else
            sched_yield();
    r->n[k] = n;
    atomic_store_explicit(&r->ring[k], p, memory_order_release);
    return true;
}

/* The changer: its arena's engine at work all the time (small blocks
 * allocated without the cache for the freer; large ones allocated, resized
 * and freed, a window that widens so that the arena grows new regions, and
 * with them a new hot region). */
static bool race_change(struct race *r)
{
    unsigned char *big[BIGS] = {0};
    size_t bign[BIGS] = {0};
    uint64_t seed = 77;
    struct gjbmem_sysheap_stats st;
    CHECK(gjbmem_sysheap_stats(&st) == 0);
    r->regions_before = st.heap.regions;
    for (long i = 0; i < r->rounds && !stopped(); i++) {
        size_t n = 16 + (size_t)(rnd(&seed) % 600);
        unsigned char *p = gjbmem_malloc(n);
        CHECK(p != NULL);
        stamp(p, n);
        if (!race_put(r, (unsigned)(i % RING), p, n))
            return false;
        unsigned k = (unsigned)(rnd(&seed) % (1 + (uint64_t)i * BIGS / (uint64_t)r->rounds));
        if (big[k]) {
            CHECK(touch(big[k], bign[k], (unsigned)bign[k], false));
            if (rnd(&seed) % 3 == 0) {
                size_t m = 64 * 1024 + (size_t)(rnd(&seed) % (DIRECT - 80 * 1024));
                unsigned char *q = gjbmem_realloc(big[k], m);
                CHECK(q != NULL);
                big[k] = q;
                bign[k] = m;
                stamp(q, m);
                continue;
            }
            CHECK(gjbmem_free(big[k]) == 0);
        }
        bign[k] = 64 * 1024 + (size_t)(rnd(&seed) % (DIRECT - 80 * 1024));
        CHECK((big[k] = gjbmem_malloc(bign[k])) != NULL);
        stamp(big[k], bign[k]);
    }
    CHECK(gjbmem_sysheap_stats(&st) == 0);
    r->regions_after = st.heap.regions;
    for (unsigned k = 0; k < BIGS; k++)
        CHECK(!big[k] || gjbmem_free(big[k]) == 0);
    return true;
}

static void *race_changer(void *arg)
{
    struct race *r = arg;
    race_change(r);
    atomic_store_explicit(&r->done, 1, memory_order_release);
    return NULL;
}

/* The freer: frees the changer's blocks with gjbmem_free_cached (proved
 * without the arena's lock while the changer holds it), and takes some of
 * them back from its cache. */
static bool race_free(struct race *r)
{
    unsigned char *mine[8] = {0};
    size_t minen[8] = {0};
    for (unsigned k = 0, idle = 0;; k = (k + 1) % RING) {
        unsigned char *p = atomic_load_explicit(&r->ring[k], memory_order_acquire);
        if (!p) {
            if (atomic_load_explicit(&r->done, memory_order_acquire) && ++idle > RING)
                break;
            continue;
        }
        idle = 0;
        size_t n = r->n[k];
        atomic_store_explicit(&r->ring[k], NULL, memory_order_release); /* the slot is free again */
        CHECKF(touch(p, n, (unsigned)n, false), "block of %zu damaged", n);
        errno = SENTINEL;
        CHECK(gjbmem_free_cached(p) == 0 && errno == SENTINEL);
        unsigned j = k % 8;
        if (mine[j]) {
            CHECK(touch(mine[j], minen[j], (unsigned)minen[j], false));
            CHECK(gjbmem_free_cached(mine[j]) == 0);
        }
        minen[j] = n;
        CHECK((mine[j] = gjbmem_malloc_cached(n)) != NULL); /* often the block just kept */
        stamp(mine[j], n);
    }
    for (unsigned j = 0; j < 8; j++)
        CHECK(!mine[j] || gjbmem_free_cached(mine[j]) == 0);
    return true;
}

static void *race_freer(void *arg)
{
    race_free(arg);
    return NULL;
}

/* One thread frees, through its cache, the blocks another thread allocates
 * from its arena, while that thread's engine splits, merges, resizes and
 * grows the arena (its hot region changes): every block's contents hold,
 * and afterwards the heap validates and holds what it held before. Under
 * ThreadSanitizer: the lock-free proof reads nothing that the lock's
 * holder writes without an atomic store. Both policies (heap_mem_init
 * switches: no block is live). */
static void race_with(int policy)
{
    errno = SENTINEL;
    assert_int_equal(heap_mem_init(policy), 0);
    struct gjbmem_sysheap_stats s0 = stats();
    assert_int_equal(s0.policy, policy);
    static struct race r;
    memset(&r, 0, sizeof r);
    r.rounds = iters(30000);
    pthread_t c, f;
    assert_int_equal(pthread_create(&c, NULL, race_changer, &r), 0);
    assert_int_equal(pthread_create(&f, NULL, race_freer, &r), 0);
    join(c);
    join(f);
    assert_no_thread_failure();
    if (r.rounds >= 20000)
        assert_true(r.regions_after >= r.regions_before + 2); /* the arena grew */
    struct gjbmem_sysheap_stats s1 = stats();
    assert_int_equal(s1.heap.alloc_blocks, s0.heap.alloc_blocks);
    assert_int_equal(s1.direct_blocks, s0.direct_blocks);
    valid();
}

static void cached_frees_race_the_arena(void **state)
{
    (void)state;
    int policy = stats().policy;
    race_with(BUDDY_ALLOCATION);
    race_with(FIRST_FIT_ALLOCATION);
    assert_int_equal(heap_mem_init(policy), 0);
}

/* --- many threads at random -------------------------------------------------- */

#define NTHREADS 12
#define NSLOTS 32
#define MAILBOX 16
static _Atomic(unsigned char *) g_mail[MAILBOX]; /* blocks handed between threads */
static size_t g_mail_n[MAILBOX]; /* their sizes, written by the slot's holder */
static unsigned char g_busy;
#define MAIL_BUSY (&g_busy) /* a slot taken by a thread */

struct rworker {
    pthread_t th;
    int id;
    uint64_t seed;
    long iters;
    unsigned char *p[NSLOTS];
    size_t n[NSLOTS];
};

static size_t rsize(uint64_t *s)
{
    uint64_t r = rnd(s);
    if (r % 400 == 0)
        return DIRECT + (size_t)(r >> 24) % 65536;
    return 1 + (size_t)(r >> 16) % 3000;
}

static bool rfree(struct rworker *w, unsigned char *p, size_t n, bool cached)
{
    CHECKF(touch(p, n, (unsigned)n, false), "worker %d: block of %zu damaged", w->id, n);
    errno = SENTINEL;
    CHECKF((cached ? gjbmem_free_cached(p) : gjbmem_free(p)) == 0, "worker %d: free", w->id);
    CHECK(errno == SENTINEL);
    return true;
}

static bool rstep(struct rworker *w)
{
    unsigned k = (unsigned)(rnd(&w->seed) % NSLOTS), op = (unsigned)(rnd(&w->seed) % 10);
    if (op == 9) { /* swap a block with the mailbox: another thread frees it */
        unsigned m = (unsigned)(rnd(&w->seed) % MAILBOX);
        unsigned char *mine = w->p[k];
        if (!mine)
            return true;
        unsigned char *got = atomic_exchange(&g_mail[m], MAIL_BUSY); /* the slot is ours */
        if (got == MAIL_BUSY)
            return true; /* another thread's for now */
        if (got)
            CHECK(rfree(w, got, g_mail_n[m], rnd(&w->seed) % 2));
        g_mail_n[m] = w->n[k];
        atomic_store(&g_mail[m], mine);
        w->p[k] = NULL;
        return true;
    }
    if (w->p[k]) {
        if (op < 6)
            return rfree(w, w->p[k], w->n[k], op % 2) && ((w->p[k] = NULL), true);
        size_t n = rsize(&w->seed);
        size_t old = w->n[k], kept = old < n ? old : n;
        CHECKF(touch(w->p[k], old, (unsigned)old, false), "worker %d: block damaged", w->id);
        errno = SENTINEL;
        unsigned char *q = gjbmem_realloc(w->p[k], n);
        CHECKF(q != NULL && errno == SENTINEL, "worker %d: realloc to %zu", w->id, n);
        for (size_t i = 0; i < kept && i < 1024; i++)
            CHECKF(q[i] == pat((unsigned)old, i), "worker %d: realloc lost byte %zu", w->id, i);
        w->p[k] = q;
        w->n[k] = n;
        stamp(q, n);
        return true;
    }
    size_t n = rsize(&w->seed);
    errno = SENTINEL;
    unsigned char *p = op < 5 ? gjbmem_malloc_cached(n) : gjbmem_malloc(n);
    CHECKF(p != NULL && errno == SENTINEL, "worker %d: malloc(%zu)", w->id, n);
    CHECK(gjbmem_usable_size(p) >= n);
    stamp(p, n);
    w->p[k] = p;
    w->n[k] = n;
    return true;
}

static void *rworker_main(void *arg)
{
    struct rworker *w = arg;
    for (long i = 0; i < w->iters && !stopped(); i++)
        if (!rstep(w))
            break;
    for (int k = 0; k < NSLOTS; k++)
        if (w->p[k] && !rfree(w, w->p[k], w->n[k], k % 2))
            break;
    return NULL;
}

/* More threads than arenas allocate, resize, free (plain and cached) and
 * hand blocks to each other at random: every block's contents hold, and
 * after the join the heap validates and holds what it held before. */
static void many_threads_random(void **state)
{
    (void)state;
    struct gjbmem_sysheap_stats s0 = stats();
    static struct rworker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].seed = UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1);
        w[i].iters = iters(20000);
        assert_int_equal(pthread_create(&w[i].th, NULL, rworker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        join(w[i].th);
    assert_no_thread_failure();
    for (int m = 0; m < MAILBOX; m++) {
        unsigned char *p = atomic_exchange(&g_mail[m], NULL);
        if (p) {
            assert_true(touch(p, g_mail_n[m], (unsigned)g_mail_n[m], false));
            assert_int_equal(gjbmem_free(p), 0);
        }
    }
    struct gjbmem_sysheap_stats s1 = stats();
    assert_int_equal(s1.heap.alloc_blocks, s0.heap.alloc_blocks);
    assert_int_equal(s1.direct_blocks, s0.direct_blocks);
    assert_true(s1.heap.regions >= 8); /* every arena in use */
    valid();
}

/* --- fork while other threads keep blocks in their caches -------------------- */

#define FKEEP 40
struct keeper {
    pthread_t th;
    void *p[FKEEP];
    atomic_int *ready, *stop;
};

static bool keep_blocks(struct keeper *k)
{
    for (int i = 0; i < FKEEP; i++)
        CHECK((k->p[i] = gjbmem_malloc_cached(8 + (size_t)(i % 5) * 100)) != NULL);
    for (int i = 0; i < FKEEP; i++)
        CHECK(gjbmem_free_cached(k->p[i]) == 0);
    return true;
}

static void *keeper_main(void *arg)
{
    struct keeper *k = arg;
    keep_blocks(k);
    atomic_fetch_add(k->ready, 1);
    while (!atomic_load(k->stop))
        sched_yield();
    return NULL;
}

/* In the child: only gjbmem calls. 0 or the failed check's number. */
static int fork_child(void **held, int nheld, size_t alloc0)
{
    if (gjbmem_sysheap_validate() != 0)
        return 1;
    struct gjbmem_sysheap_stats st;
    if (gjbmem_sysheap_stats(&st) != 0 || st.heap.alloc_blocks != alloc0 + (size_t)nheld)
        return 2;
    for (int i = 0; i < nheld; i++)
        if (gjbmem_free(held[i]) != 0)
            return 3;
    if (gjbmem_sysheap_stats(&st) != 0 || st.heap.alloc_blocks != alloc0)
        return 4;
    /* No block is left in the engine (the other threads' cached blocks were
     * given back; this thread's are given back by heap_mem_init): the
     * policy may switch. */
    int other = st.policy == BUDDY_ALLOCATION ? FIRST_FIT_ALLOCATION : BUDDY_ALLOCATION;
    if (heap_mem_init(other) != 0)
        return 5;
    void *p = gjbmem_malloc_cached(100);
    if (!p || gjbmem_free_cached(p) != 0)
        return 6;
    if (heap_mem_init(st.policy) != 0 || gjbmem_sysheap_validate() != 0)
        return 7;
    return 0;
}

static void fork_while_threads_keep_blocks(void **state)
{
    (void)state;
    enum { KEEPERS = 3, HELD = 5 };
    struct gjbmem_sysheap_stats s0 = stats();
    assert_int_equal(s0.heap.alloc_blocks, 0); /* the child switches the policy */
    assert_int_equal(s0.direct_blocks, 0);
    static struct keeper k[KEEPERS];
    atomic_int ready = 0, stop = 0;
    for (int i = 0; i < KEEPERS; i++) {
        memset(k[i].p, 0, sizeof k[i].p);
        k[i].ready = &ready;
        k[i].stop = &stop;
        assert_int_equal(pthread_create(&k[i].th, NULL, keeper_main, &k[i]), 0);
    }
    while (atomic_load(&ready) < KEEPERS)
        sched_yield();
    void *held[HELD]; /* this thread's live blocks, and some of its own kept */
    for (int i = 0; i < HELD; i++)
        assert_non_null(held[i] = gjbmem_malloc(50 + (size_t)i * 300));
    void *own = gjbmem_malloc_cached(64);
    assert_non_null(own);
    assert_int_equal(gjbmem_free_cached(own), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);
        _exit(fork_child(held, HELD, s0.heap.alloc_blocks));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    atomic_store(&stop, 1);
    for (int i = 0; i < KEEPERS; i++)
        join(k[i].th);
    assert_no_thread_failure();
    if (!WIFEXITED(status))
        fail_msg("child killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (WEXITSTATUS(status))
        fail_msg("child failed check %d", WEXITSTATUS(status));
    for (int i = 0; i < HELD; i++)
        assert_int_equal(gjbmem_free(held[i]), 0);
    struct gjbmem_sysheap_stats s1 = stats();
    assert_int_equal(s1.heap.alloc_blocks, s0.heap.alloc_blocks);
    valid();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: the arenas after arena 0 are new */
        cmocka_unit_test_setup_teardown(two_threads_get_different_arenas, setup, teardown),
        cmocka_unit_test_setup_teardown(findmax_served_from_another_arena, setup, teardown),
        cmocka_unit_test_setup_teardown(blocks_freed_by_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(thread_exit_gives_cache_back, setup, teardown),
        cmocka_unit_test_setup_teardown(free_after_thread_exit_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(cached_frees_race_the_arena, setup, teardown),
        cmocka_unit_test_setup_teardown(many_threads_random, setup, teardown),
        cmocka_unit_test_setup_teardown(fork_while_threads_keep_blocks, setup, teardown),
    };
    return cmocka_run_group_tests_name("threads_arenas", tests, NULL, NULL);
}
