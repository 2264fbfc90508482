/*
 * test_threads.c - the mpart_* interface under concurrency: one partition
 * hammered by several threads, private partitions beside a thread that keeps
 * creating and deleting others, a partition deleted and recreated under a
 * user, the thread-local interrupt-context flag, per-thread errno, and
 * callers that sleep on a partition's lock and are woken.
 *
 * Worker threads never call cmocka (its assertions longjmp into the test's
 * own thread): they record the first failure in `g_fail` and set `g_stop`,
 * and the test thread fails with that message after joining them.
 *
 * Every scenario runs twice: on FIRST_FIT partitions (mpart_create) and, as
 * <name>_buddy, on BUDDY partitions (mpart_create_ex(..., BUDDY_ALLOCATION)).
 *
 * GJB_STRESS_SCALE (a positive number, default 1) scales every iteration
 * count, for longer soaks or quicker sanitizer runs.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/mpart.h"
#include "gjbmem/posix.h"
#include "thread_harness.h"

/* ---- harness (the shared part is in thread_harness.h) ------------------ */

/* The policy of every partition the current test creates; set before any
 * thread starts, read-only afterwards. */
static int g_policy = FIRST_FIT_ALLOCATION;

static int create(char *addr, size_t size, mpart_id *mid)
{
    return g_policy == FIRST_FIT_ALLOCATION ? mpart_create(addr, size, mid)
                                            : mpart_create_ex(addr, size, g_policy, mid);
}

static bool buddy(void)
{
    return g_policy == BUDDY_ALLOCATION;
}

static int reset_harness(void **state)
{
    (void)state;
    harness_start();
    g_policy = FIRST_FIT_ALLOCATION;
    return 0;
}

static int reset_harness_buddy(void **state)
{
    reset_harness(state);
    g_policy = BUDDY_ALLOCATION;
    return 0;
}

static int report_time(void **state)
{
    (void)state;
    harness_report_time();
    return 0;
}

/* A one-shot barrier that gives up once a thread has failed, so that a
 * failing thread never leaves the others waiting. */
struct gate {
    atomic_int arrived;
    int parties;
};

static void gate_init(struct gate *g, int parties)
{
    atomic_store(&g->arrived, 0);
    g->parties = parties;
}

static void gate_wait(struct gate *g)
{
    atomic_fetch_add(&g->arrived, 1);
    while (atomic_load(&g->arrived) < g->parties && !stopped())
        sched_yield();
}

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The byte pattern of a block: a function of its tag (thread, slot,
 * generation) and of the byte's index. */
static unsigned char pat(uint64_t v, size_t i)
{
    return (unsigned char)((v >> ((i & 7) * 8)) ^ (i >> 3) ^ (i >> 11));
}

static void fill(void *p, size_t n, uint64_t tag)
{
    uint64_t v = splitmix(tag);
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = pat(v, i);
}

/* Index of the first byte of [p, p+n) that breaks the pattern, or n. */
static size_t first_bad(const void *p, size_t n, uint64_t tag)
{
    uint64_t v = splitmix(tag);
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != pat(v, i))
            return i;
    return n;
}

static uint64_t make_tag(unsigned thread, unsigned slot, unsigned gen)
{
    return ((uint64_t)thread << 48) | ((uint64_t)slot << 32) | gen;
}

static void *xalloc(size_t size)
{
    void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);
    assert_non_null(p);
    return p;
}

/* A request size: mostly small, some medium, a few large. */
static size_t rnd_size(uint64_t *s, size_t large)
{
    uint64_t r = rnd(s) % 100;
    if (r < 70)
        return (size_t)(1 + rnd(s) % 256);
    if (r < 95)
        return (size_t)(257 + rnd(s) % 3840);
    return (size_t)(4097 + rnd(s) % (large - 4096)); /* < large */
}

static size_t rnd_align(uint64_t *s)
{
    static const size_t aligns[] = {4, 8, 16, 32, 64, 128, 256, 1024, 4096};
    return aligns[rnd(s) % (sizeof aligns / sizeof aligns[0])];
}

static bool aligned_to(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

#define MAXALIGN ((size_t)_Alignof(max_align_t))

/* A block a thread owns. */
struct blk {
    char *p;
    size_t size;  /* bytes asked for and filled */
    size_t align; /* alignment asked for */
    uint64_t tag;
};

/* Checks a block's whole pattern and that the partition still knows it. */
static bool blk_intact(mpart_id mid, const struct blk *b)
{
    size_t bad = first_bad(b->p, b->size, b->tag);
    CHECKF(bad == b->size, "block %p size %zu tag %" PRIx64 " damaged at byte %zu", (void *)b->p,
           b->size, b->tag, bad);
    CHECK(aligned_to(b->p, b->align));
    size_t usable = mpart_usable_size(mid, b->p);
    CHECKF(usable >= b->size, "usable %zu < size %zu", usable, b->size);
    return true;
}

/* Frees a block after checking it; errno must stay untouched. */
static bool blk_free(mpart_id mid, struct blk *b)
{
    if (!blk_intact(mid, b))
        return false;
    errno = 4242;
    CHECK(mpart_free(mid, b->p) == 0);
    CHECK(errno == 4242);
    b->p = NULL;
    return true;
}

/* ---- (a) many threads, one partition ----------------------------------- */

#define A_THREADS 6
#define A_SLOTS 48
#define A_REGIONS 3

struct a_ctx {
    mpart_id mid;
    unsigned id;
    long iters;
    size_t maxfree; /* the largest block the empty partition held */
    struct gate *start;
    /* results */
    long allocs, reallocs, frees, nomem, moved;
};

static bool a_alloc(struct a_ctx *c, uint64_t *rs, struct blk *b, unsigned slot, unsigned gen)
{
    size_t size = rnd_size(rs, 32768);
    bool use_align = rnd(rs) % 10 < 4;
    size_t align = use_align ? rnd_align(rs) : MAXALIGN;
    errno = 4242;
    char *p = use_align ? mpart_memalign(c->mid, align, size) : mpart_alloc(c->mid, size);
    if (!p) {
        /* The only acceptable failure: the other threads hold the memory. */
        CHECKF(errno == ENOMEM, "size %zu align %zu", size, align);
        c->nomem++;
        return true;
    }
    CHECK(errno == 4242);
    CHECKF(aligned_to(p, align < MAXALIGN ? MAXALIGN : align), "p %p align %zu", (void *)p, align);
    b->p = p;
    b->size = size;
    b->align = align;
    b->tag = make_tag(c->id, slot, gen);
    fill(p, size, b->tag);
    c->allocs++;
    return true;
}

static bool a_realloc(struct a_ctx *c, uint64_t *rs, struct blk *b, unsigned slot, unsigned gen)
{
    if (!blk_intact(c->mid, b))
        return false;
    size_t size = rnd(rs) % 4 == 0 ? rnd_size(rs, 32768) : (size_t)(1 + rnd(rs) % (2 * b->size + 64));
    if (size > 65536)
        size = 65536;
    errno = 4242;
    char *p = mpart_realloc(c->mid, b->p, size);
    if (!p) {
        /* Too big for any block the partition has (with a guard word at
         * hardening level 2, 64 KiB needs a BUDDY block of 128 KiB), or
         * the other threads hold the memory. */
        int want = size > c->maxfree ? ERROR_REGION_SIZE : ENOMEM;
        CHECKF(errno == want, "realloc %zu -> %zu (largest %zu)", b->size, size, c->maxfree);
        c->nomem++;
        /* On failure the old block is intact. */
        return blk_intact(c->mid, b);
    }
    CHECK(errno == 4242);
    CHECKF(aligned_to(p, b->align < MAXALIGN ? MAXALIGN : b->align), "realloc lost alignment %zu",
           b->align);
    size_t keep = size < b->size ? size : b->size;
    size_t bad = first_bad(p, keep, b->tag);
    CHECKF(bad == keep, "realloc %zu -> %zu (moved %d) lost byte %zu", b->size, size, p != b->p,
           bad);
    CHECK(mpart_usable_size(c->mid, p) >= size);
    if (p != b->p)
        c->moved++;
    b->p = p;
    b->size = size;
    b->tag = make_tag(c->id, slot, gen);
    fill(p, size, b->tag);
    c->reallocs++;
    return true;
}

static bool a_run(struct a_ctx *c)
{
    struct blk blks[A_SLOTS] = {{0}};
    uint64_t rs = splitmix(0xa000 + c->id) | 1;
    unsigned gen = 0;

    gate_wait(c->start);
    for (long i = 0; i < c->iters && !stopped(); i++) {
        unsigned slot = (unsigned)(rnd(&rs) % A_SLOTS);
        struct blk *b = &blks[slot];
        gen++;
        if (!b->p) {
            if (!a_alloc(c, &rs, b, slot, gen))
                return false;
        } else if (rnd(&rs) % 2) {
            if (!a_realloc(c, &rs, b, slot, gen))
                return false;
        } else {
            if (!blk_free(c->mid, b))
                return false;
            c->frees++;
        }
        if (i % 512 == 511) {
            errno = 4242;
            CHECK(mpart_validate(c->mid) == 0);
            CHECK(errno == 4242);
        }
    }
    for (unsigned s = 0; s < A_SLOTS; s++)
        if (blks[s].p && !blk_free(c->mid, &blks[s]))
            return false;
    return true;
}

static void *a_thread(void *arg)
{
    a_run(arg);
    return NULL;
}

static void test_one_partition_many_threads(void **state)
{
    (void)state;
    static const size_t sizes[A_REGIONS] = {256 << 10, 128 << 10, 64 << 10};
    char *mem[A_REGIONS];
    mpart_id mid = 0;

    for (int r = 0; r < A_REGIONS; r++)
        mem[r] = xalloc(sizes[r]);
    assert_int_equal(create(mem[0], sizes[0], &mid), 0);
    for (int r = 1; r < A_REGIONS; r++)
        assert_int_equal(mpart_addmem(mid, mem[r], sizes[r]), 0);

    struct partinfo before, after;
    assert_int_equal(mpart_getinfo(mid, &before), 0);
    /* One free block per region; buddy carves each into power-of-two blocks. */
    if (buddy())
        assert_true(before.segment >= A_REGIONS);
    else
        assert_int_equal(before.segment, A_REGIONS);
    int maxfree_before = mpart_findmaxfree(mid);
    assert_true(maxfree_before > 0);

    struct gate start;
    gate_init(&start, A_THREADS);
    struct a_ctx ctx[A_THREADS];
    pthread_t th[A_THREADS];
    for (unsigned t = 0; t < A_THREADS; t++) {
        ctx[t] = (struct a_ctx){.mid = mid, .id = t + 1, .iters = iters(30000),
                                .maxfree = (size_t)maxfree_before, .start = &start};
        assert_int_equal(pthread_create(&th[t], NULL, a_thread, &ctx[t]), 0);
    }
    for (unsigned t = 0; t < A_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_no_thread_failure();

    long allocs = 0, reallocs = 0, frees = 0, nomem = 0, moved = 0;
    for (unsigned t = 0; t < A_THREADS; t++) {
        allocs += ctx[t].allocs;
        reallocs += ctx[t].reallocs;
        frees += ctx[t].frees;
        nomem += ctx[t].nomem;
        moved += ctx[t].moved;
        assert_true(ctx[t].allocs > 0);
    }
    print_message("    %ld allocs, %ld reallocs (%ld moved), %ld frees, %ld ENOMEM\n", allocs,
                  reallocs, moved, frees, nomem);
    /* The partition is large enough that most requests succeed. */
    assert_true(nomem * 4 < allocs + reallocs);

    /* Everything is back: the blocks of the fresh partition, same counters. */
    assert_int_equal(mpart_validate(mid), 0);
    assert_int_equal(mpart_getinfo(mid, &after), 0);
    assert_int_equal(after.segment, before.segment);
    assert_int_equal(after.free, before.free);
    assert_int_equal(after.used, before.used);
    assert_true(after.maxused > before.used);
    assert_int_equal(after.used + after.free, before.used + before.free);
    assert_int_equal(mpart_findmaxfree(mid), maxfree_before);
    struct gjbmem_heap_stats st;
    assert_int_equal(mpart_getstats(mid, &st), 0);
    assert_int_equal(st.alloc_blocks, 0);
    assert_int_equal(st.free_blocks, before.segment);
    assert_int_equal(st.regions, A_REGIONS);
    assert_int_equal(mpart_delete(mid), 0);
    for (int r = 0; r < A_REGIONS; r++)
        free(mem[r]);
}

/* ---- (b) private partitions beside a create/delete churn --------------- */

#define B_WORKERS 4
#define B_CHURN_BUFS 3
/* 32 live blocks of at most 8 KiB always fit in a worker's partition: in
 * 128 KiB with first fit; with buddy each block lies in one 8 KiB-aligned
 * chunk of the block area, so 33 whole chunks leave one free (384 KiB). */
#define B_PART_SIZE ((size_t)(buddy() ? 384 : 128) << 10)
#define B_GRAVE 4096

struct b_shared {
    struct gate created;        /* workers' partitions exist: churn may start */
    struct gate done;           /* all operations over: workers may delete */
    char *worker_mem[B_WORKERS];
    /* ids the churn thread has deleted (published in order) */
    mpart_id grave[B_GRAVE];
    atomic_int ngrave;
};

struct b_ctx {
    struct b_shared *sh;
    unsigned id;
    long iters;
    mpart_id mid;
    long stale_checked;
    /* the churn thread */
    mpart_id *all_ids;
    long nids, creates, overlap_refusals;
};

/* Every call on a deleted id is refused, and says so. */
static bool b_check_stale(mpart_id dead, char *some_mem)
{
    struct partinfo pi;
    size_t sz;
    errno = 0;
    CHECKF(mpart_alloc(dead, 16) == NULL && errno == ERROR_KERNEL_HANDLE_NULL, "id %#lx", dead);
    errno = 0;
    CHECK(mpart_memalign(dead, 64, 16) == NULL && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_realloc(dead, NULL, 16) == NULL && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_free(dead, some_mem) == -1 && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_findmaxfree(dead) == -1 && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_findmaxfree_size(dead, &sz) == -1 && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_getinfo(dead, &pi) == -1 && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_validate(dead) == -1 && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_usable_size(dead, some_mem) == 0 && errno == ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    CHECK(mpart_delete(dead) == -1 && errno == EINVAL);
    return true;
}

static bool b_worker(struct b_ctx *c)
{
    struct b_shared *sh = c->sh;
    char *mem = sh->worker_mem[c->id];
    bool ok = create(mem, B_PART_SIZE, &c->mid) == 0;
    struct partinfo fresh;
    ok = ok && mpart_getinfo(c->mid, &fresh) == 0;
    gate_wait(&sh->created);
    CHECK(ok);

    struct blk blks[32] = {{0}};
    uint64_t rs = splitmix(0xb000 + c->id) | 1;
    unsigned gen = 0;
    for (long i = 0; i < c->iters && !stopped(); i++) {
        unsigned slot = (unsigned)(rnd(&rs) % 32);
        struct blk *b = &blks[slot];
        if (b->p) {
            if (!blk_free(c->mid, b))
                return false;
        } else {
            size_t size = rnd_size(&rs, 8192);
            errno = 4242;
            b->p = mpart_alloc(c->mid, size);
            /* 32 blocks of at most 8 KiB always fit (B_PART_SIZE). */
            CHECKF(b->p != NULL, "size %zu", size);
            CHECK(errno == 4242);
            b->size = size;
            b->align = MAXALIGN;
            b->tag = make_tag(c->id, slot, ++gen);
            fill(b->p, size, b->tag);
        }
        if (i % 64 == 0) {
            /* Try an id the churn thread deleted. */
            int n = atomic_load(&sh->ngrave);
            if (n > 0) {
                mpart_id dead = sh->grave[rnd(&rs) % (uint64_t)n];
                if (!b_check_stale(dead, blks[slot].p ? blks[slot].p : mem + 64))
                    return false;
                c->stale_checked++;
            }
            CHECK(mpart_validate(c->mid) == 0);
        }
    }
    for (unsigned s = 0; s < 32; s++)
        if (blks[s].p && !blk_free(c->mid, &blks[s]))
            return false;
    struct partinfo pi;
    CHECK(mpart_getinfo(c->mid, &pi) == 0 && pi.segment == fresh.segment);
    CHECK(pi.free == fresh.free && pi.used == fresh.used);
    CHECK(mpart_validate(c->mid) == 0);
    return true;
}

static void *b_worker_thread(void *arg)
{
    struct b_ctx *c = arg;
    bool ok = b_worker(c);
    gate_wait(&c->sh->done);
    if (ok && c->mid) {
        /* Deletes run concurrently with the other workers' deletes. */
        errno = 4242;
        if (mpart_delete(c->mid) != 0 || errno != 4242)
            tfail(__LINE__, "mpart_delete(own partition) == 0", NULL);
        else if (!b_check_stale(c->mid, c->sh->worker_mem[c->id] + 64))
            return NULL;
    }
    return NULL;
}

static bool b_churn(struct b_ctx *c)
{
    struct b_shared *sh = c->sh;
    char *bufs[B_CHURN_BUFS];
    mpart_id live[B_CHURN_BUFS] = {0};
    uint64_t rs = 0xc0ffee;

    for (int i = 0; i < B_CHURN_BUFS; i++)
        bufs[i] = (char *)aligned_alloc(64, B_PART_SIZE / 4);
    gate_wait(&sh->created);
    bool ok = true;
    for (int i = 0; i < B_CHURN_BUFS; i++)
        if (!bufs[i])
            ok = false;
    for (long i = 0; ok && i < c->iters && !stopped(); i++) {
        int k = (int)(rnd(&rs) % B_CHURN_BUFS);
        if (!live[k]) {
            mpart_id m = 0;
            errno = 4242;
            if (create(bufs[k], B_PART_SIZE / 4, &m) != 0 || errno != 4242 || m == 0) {
                tfail(__LINE__, "mpart_create(churn buffer) == 0", NULL);
                ok = false;
                break;
            }
            live[k] = m;
            c->all_ids[c->nids++] = m;
            c->creates++;
            /* A new partition over a live one's memory is refused... */
            int other = (k + 1) % B_CHURN_BUFS;
            mpart_id m2 = 0;
            errno = 0;
            if (create(bufs[k] + 128, 4096, &m2) != -1 || errno != EINVAL) {
                tfail(__LINE__, "create over a live partition refused with EINVAL", NULL);
                ok = false;
                break;
            }
            /* ...and so is one over a worker's partition, live throughout. */
            unsigned w = (unsigned)(rnd(&rs) % B_WORKERS);
            errno = 0;
            if (create(sh->worker_mem[w] + 1000, 8192, &m2) != -1 || errno != EINVAL) {
                tfail(__LINE__, "create over a worker partition refused with EINVAL", NULL);
                ok = false;
                break;
            }
            errno = 0;
            if (mpart_addmem(m, sh->worker_mem[w] + 4096, 4096) != -1 ||
                errno != ERROR_KERNEL_MEMORY) {
                tfail(__LINE__, "addmem of a worker's memory refused", NULL);
                ok = false;
                break;
            }
            if (live[other]) {
                errno = 0;
                if (mpart_addmem(m, bufs[other] + 256, 4096) != -1 ||
                    errno != ERROR_KERNEL_MEMORY) {
                    tfail(__LINE__, "addmem of another partition's memory refused", NULL);
                    ok = false;
                    break;
                }
            }
            c->overlap_refusals++;
            /* Use it a little. */
            char *p = mpart_alloc(m, 100 + (size_t)(rnd(&rs) % 1000));
            if (!p) {
                tfail(__LINE__, "mpart_alloc(fresh churn partition)", NULL);
                ok = false;
                break;
            }
            errno = 0;
            if (mpart_delete(m) != -1 || errno != EBUSY) {
                tfail(__LINE__, "delete of a non-empty partition gives EBUSY", NULL);
                ok = false;
                break;
            }
            if (mpart_free(m, p) != 0) {
                tfail(__LINE__, "mpart_free(churn block) == 0", NULL);
                ok = false;
                break;
            }
        } else {
            errno = 4242;
            if (mpart_delete(live[k]) != 0 || errno != 4242) {
                tfail(__LINE__, "mpart_delete(empty churn partition) == 0", NULL);
                ok = false;
                break;
            }
            int n = atomic_load(&sh->ngrave);
            if (n < B_GRAVE) {
                sh->grave[n] = live[k];
                atomic_store(&sh->ngrave, n + 1); /* publishes grave[n] */
            }
            live[k] = 0;
        }
    }
    for (int k = 0; k < B_CHURN_BUFS; k++)
        if (live[k] && mpart_delete(live[k]) != 0) {
            tfail(__LINE__, "final mpart_delete(churn partition) == 0", NULL);
            ok = false;
        }
    for (int i = 0; i < B_CHURN_BUFS; i++)
        free(bufs[i]);
    return ok;
}

static void *b_churn_thread(void *arg)
{
    struct b_ctx *c = arg;
    b_churn(c);
    gate_wait(&c->sh->done);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    mpart_id x = *(const mpart_id *)a, y = *(const mpart_id *)b;
    return (x > y) - (x < y);
}

static void test_private_partitions_and_churn(void **state)
{
    (void)state;
    static struct b_shared sh; /* large: not on the stack */
    memset(&sh, 0, sizeof sh);
    gate_init(&sh.created, B_WORKERS + 1);
    gate_init(&sh.done, B_WORKERS + 1);
    for (int w = 0; w < B_WORKERS; w++)
        sh.worker_mem[w] = xalloc(B_PART_SIZE);

    long churn_iters = iters(4000);
    struct b_ctx ctx[B_WORKERS + 1];
    pthread_t th[B_WORKERS + 1];
    for (unsigned t = 0; t < B_WORKERS; t++) {
        ctx[t] = (struct b_ctx){.sh = &sh, .id = t, .iters = iters(30000)};
        assert_int_equal(pthread_create(&th[t], NULL, b_worker_thread, &ctx[t]), 0);
    }
    mpart_id *all_ids = calloc((size_t)churn_iters + 1, sizeof *all_ids);
    assert_non_null(all_ids);
    ctx[B_WORKERS] = (struct b_ctx){.sh = &sh, .id = B_WORKERS, .iters = churn_iters,
                                    .all_ids = all_ids};
    assert_int_equal(pthread_create(&th[B_WORKERS], NULL, b_churn_thread, &ctx[B_WORKERS]), 0);
    for (unsigned t = 0; t <= B_WORKERS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_no_thread_failure();

    struct b_ctx *churn = &ctx[B_WORKERS];
    long stale = 0;
    for (unsigned t = 0; t < B_WORKERS; t++)
        stale += ctx[t].stale_checked;
    print_message("    churn: %ld creates, %d deleted ids published; workers tried %ld stale ids\n",
                  churn->creates, atomic_load(&sh.ngrave), stale);
    assert_true(churn->creates > 0);
    assert_true(atomic_load(&sh.ngrave) > 0);

    /* Ids are generational: no id was ever handed out twice. */
    qsort(all_ids, (size_t)churn->nids, sizeof *all_ids, cmp_id);
    for (long i = 1; i < churn->nids; i++)
        assert_true(all_ids[i] != all_ids[i - 1]);
    /* Every id ever deleted, and the workers' own, stay refused. */
    for (int i = 0; i < atomic_load(&sh.ngrave); i++) {
        errno = 0;
        assert_int_equal(mpart_findmaxfree(sh.grave[i]), -1);
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    }
    for (unsigned t = 0; t < B_WORKERS; t++) {
        struct partinfo pi;
        errno = 0;
        assert_int_equal(mpart_getinfo(ctx[t].mid, &pi), -1);
        assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    }
    /* All the memory is free again: a partition can be made over it. */
    for (int w = 0; w < B_WORKERS; w++) {
        mpart_id m;
        assert_int_equal(create(sh.worker_mem[w], B_PART_SIZE, &m), 0);
        assert_int_equal(mpart_delete(m), 0);
        free(sh.worker_mem[w]);
    }
    free(all_ids);
}

/* ---- (c) a partition deleted and recreated under its users ------------- */

#define C_USERS 2
#define C_SIZE (64 << 10)

struct c_shared {
    char *mem;
    atomic_ulong current; /* the live partition's id (or a just-deleted one) */
    atomic_int users_left;
    struct gate start;
};

struct c_ctx {
    struct c_shared *sh;
    unsigned id;
    long iters;
    long ok_ops, stale_ops;
    /* the deleter */
    long deletes, busy;
};

static bool c_user(struct c_ctx *c)
{
    struct c_shared *sh = c->sh;
    uint64_t rs = splitmix(0xc000 + c->id) | 1;
    gate_wait(&sh->start);
    /* iters counts the operations that found the partition live. */
    for (long i = 0; c->ok_ops < c->iters && !stopped(); i++) {
        mpart_id id = atomic_load(&sh->current);
        size_t size = 1 + (size_t)(rnd(&rs) % 2048);
        bool aligned = rnd(&rs) % 4 == 0;
        errno = 0;
        char *p = aligned ? mpart_memalign(id, 256, size) : mpart_alloc(id, size);
        if (!p) {
            /* The partition went away under us: refused, cleanly. */
            CHECKF(errno == ERROR_KERNEL_HANDLE_NULL, "alloc on id %#lx", id);
            c->stale_ops++;
            sched_yield();
            continue;
        }
        CHECK(errno == 0);
        CHECK(p >= sh->mem && p + size <= sh->mem + C_SIZE);
        uint64_t tag = make_tag(c->id, 0, (unsigned)i);
        fill(p, size, tag);
        /* While we hold a block the partition cannot be deleted: every call
         * on this id succeeds. */
        struct partinfo pi;
        CHECK(mpart_getinfo(id, &pi) == 0 && pi.segment >= 2);
        if (rnd(&rs) % 2) {
            size_t ns = 1 + (size_t)(rnd(&rs) % 4096);
            char *q = mpart_realloc(id, p, ns);
            if (q) {
                size_t keep = ns < size ? ns : size;
                CHECK(first_bad(q, keep, tag) == keep);
                CHECK(!aligned || aligned_to(q, 256));
                CHECK(q >= sh->mem && q + ns <= sh->mem + C_SIZE);
                p = q;
                size = ns;
                fill(p, size, tag);
            } else {
                CHECK(errno == ENOMEM);
            }
        }
        CHECKF(first_bad(p, size, tag) == size, "block of id %#lx damaged", id);
        CHECK(mpart_validate(id) == 0);
        CHECK(mpart_free(id, p) == 0);
        c->ok_ops++;
        /* Holding nothing: give the deleter a window. */
        if (i % 4 == 0)
            sched_yield();
    }
    return true;
}

static void *c_user_thread(void *arg)
{
    struct c_ctx *c = arg;
    c_user(c);
    atomic_fetch_sub(&c->sh->users_left, 1);
    return NULL;
}

static bool c_deleter(struct c_ctx *c)
{
    struct c_shared *sh = c->sh;
    gate_wait(&sh->start);
    for (;;) {
        bool last = atomic_load(&sh->users_left) == 0 || stopped();
        mpart_id id = atomic_load(&sh->current);
        errno = 0;
        int rc = mpart_delete(id);
        if (rc != 0) {
            /* Only ever refused because a user holds a block, and never
             * once the users are gone. */
            CHECKF(errno == EBUSY && !last, "delete %#lx rc %d", id, rc);
            c->busy++;
            sched_yield();
            continue;
        }
        c->deletes++;
        errno = 0;
        CHECK(mpart_delete(id) == -1 && errno == EINVAL);
        errno = 0;
        CHECK(mpart_alloc(id, 8) == NULL && errno == ERROR_KERNEL_HANDLE_NULL);
        if (last)
            return true;
        /* Now and then leave the stale id published for a moment: users
         * that pick it up must be refused. */
        if (c->deletes % 2)
            sched_yield();
        mpart_id nid = 0;
        CHECK(create(sh->mem, C_SIZE, &nid) == 0);
        CHECK(nid != id && nid != 0);
        atomic_store(&sh->current, nid);
        sched_yield(); /* let the users at it */
    }
}

static void *c_deleter_thread(void *arg)
{
    c_deleter(arg);
    return NULL;
}

static void test_delete_recreate_under_use(void **state)
{
    (void)state;
    struct c_shared sh;
    sh.mem = xalloc(C_SIZE);
    mpart_id first;
    assert_int_equal(create(sh.mem, C_SIZE, &first), 0);
    atomic_store(&sh.current, first);
    atomic_store(&sh.users_left, C_USERS);
    gate_init(&sh.start, C_USERS + 1);

    struct c_ctx ctx[C_USERS + 1];
    pthread_t th[C_USERS + 1];
    for (unsigned t = 0; t < C_USERS; t++) {
        ctx[t] = (struct c_ctx){.sh = &sh, .id = t + 1, .iters = iters(10000)};
        assert_int_equal(pthread_create(&th[t], NULL, c_user_thread, &ctx[t]), 0);
    }
    ctx[C_USERS] = (struct c_ctx){.sh = &sh, .id = 0};
    assert_int_equal(pthread_create(&th[C_USERS], NULL, c_deleter_thread, &ctx[C_USERS]), 0);
    for (unsigned t = 0; t <= C_USERS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_no_thread_failure();

    long ok = 0, stale = 0;
    for (unsigned t = 0; t < C_USERS; t++) {
        ok += ctx[t].ok_ops;
        stale += ctx[t].stale_ops;
        assert_true(ctx[t].ok_ops > 0);
    }
    print_message("    %ld deletes (%ld EBUSY), users: %ld ops on a live partition, %ld refused\n",
                  ctx[C_USERS].deletes, ctx[C_USERS].busy, ok, stale);
    /* The deleter's last delete (after the users left) always succeeds. */
    assert_true(ctx[C_USERS].deletes >= 1);
    /* Nothing is live over the memory now: the first id and the last are
     * both stale, and the memory can host a partition again. */
    errno = 0;
    assert_int_equal(mpart_validate(first), -1);
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    errno = 0;
    assert_int_equal(mpart_validate(atomic_load(&sh.current)), -1);
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    mpart_id m;
    assert_int_equal(create(sh.mem, C_SIZE, &m), 0);
    assert_int_equal(mpart_validate(m), 0);
    assert_int_equal(mpart_delete(m), 0);
    free(sh.mem);
}

/* ---- (d) the interrupt-context flag is per thread ---------------------- */

#define D_OTHERS 3

struct d_shared {
    mpart_id mid;
    char *held;     /* a block the test thread allocated */
    char *spare;    /* memory no partition owns */
    struct gate isr_on, others_done;
};

struct d_ctx {
    struct d_shared *sh;
    unsigned id;
    long iters;
    long refused, succeeded;
};

static bool d_isr(struct d_ctx *c)
{
    struct d_shared *sh = c->sh;
    gjbmem_posix_set_isr(1);
    CHECK(gjbmem_posix_in_isr() != 0);
    gate_wait(&sh->isr_on);
    for (long i = 0; i < c->iters && !stopped(); i++) {
        mpart_id m = 0;
        errno = 0;
        CHECK(mpart_alloc(sh->mid, 32) == NULL && errno == ERROR_KERNEL_IN_ISR);
        errno = 0;
        CHECK(mpart_memalign(sh->mid, 64, 32) == NULL && errno == ERROR_KERNEL_IN_ISR);
        errno = 0;
        CHECK(mpart_realloc(sh->mid, NULL, 32) == NULL && errno == ERROR_KERNEL_IN_ISR);
        errno = 0;
        CHECK(mpart_realloc(sh->mid, sh->held, 4096) == NULL && errno == ERROR_KERNEL_IN_ISR);
        errno = 0;
        CHECK(mpart_free(sh->mid, sh->held) == -1 && errno == ERROR_KERNEL_IN_ISR);
        errno = 0;
        CHECK(create(sh->spare, 8192, &m) == -1 && errno == ERROR_KERNEL_IN_ISR);
        errno = 0;
        CHECK(mpart_addmem(sh->mid, sh->spare, 8192) == -1 && errno == ERROR_KERNEL_IN_ISR);
        errno = 0;
        CHECK(mpart_delete(sh->mid) == -1 && errno == ERROR_KERNEL_IN_ISR);
        c->refused += 8;
        if (i % 16 == 0)
            sched_yield();
    }
    /* Stay "in the interrupt" until the other threads are done. */
    gate_wait(&sh->others_done);
    CHECK(gjbmem_posix_in_isr() != 0);
    gjbmem_posix_set_isr(0);
    CHECK(gjbmem_posix_in_isr() == 0);
    /* Out of the interrupt, the same thread succeeds. */
    char *p = mpart_alloc(sh->mid, 32);
    CHECK(p != NULL);
    CHECK(mpart_free(sh->mid, p) == 0);
    c->succeeded++;
    return true;
}

static void *d_isr_thread(void *arg)
{
    d_isr(arg);
    return NULL;
}

static bool d_other(struct d_ctx *c)
{
    struct d_shared *sh = c->sh;
    uint64_t rs = splitmix(0xd000 + c->id) | 1;
    gate_wait(&sh->isr_on);
    CHECK(gjbmem_posix_in_isr() == 0);
    for (long i = 0; i < c->iters && !stopped(); i++) {
        size_t size = 1 + (size_t)(rnd(&rs) % 512);
        errno = 4242;
        char *p = mpart_alloc(sh->mid, size);
        CHECK(p != NULL && errno == 4242);
        uint64_t tag = make_tag(c->id, 0, (unsigned)i);
        fill(p, size, tag);
        char *q = mpart_realloc(sh->mid, p, size * 2);
        CHECK(q != NULL && errno == 4242);
        CHECK(first_bad(q, size, tag) == size);
        CHECK(mpart_free(sh->mid, q) == 0 && errno == 4242);
        CHECK(gjbmem_posix_in_isr() == 0);
        c->succeeded++;
    }
    return true;
}

static void *d_other_thread(void *arg)
{
    struct d_ctx *c = arg;
    d_other(c);
    gate_wait(&c->sh->others_done);
    return NULL;
}

static void test_isr_flag_is_thread_local(void **state)
{
    (void)state;
    struct d_shared sh;
    char *mem = xalloc(256 << 10);
    sh.spare = xalloc(8192);
    assert_int_equal(create(mem, 256 << 10, &sh.mid), 0);
    sh.held = mpart_alloc(sh.mid, 100);
    assert_non_null(sh.held);
    fill(sh.held, 100, 0xd1d1);
    gate_init(&sh.isr_on, D_OTHERS + 1);
    gate_init(&sh.others_done, D_OTHERS + 1);

    struct d_ctx ctx[D_OTHERS + 1];
    pthread_t th[D_OTHERS + 1];
    ctx[0] = (struct d_ctx){.sh = &sh, .id = 0, .iters = iters(20000)};
    assert_int_equal(pthread_create(&th[0], NULL, d_isr_thread, &ctx[0]), 0);
    for (unsigned t = 1; t <= D_OTHERS; t++) {
        ctx[t] = (struct d_ctx){.sh = &sh, .id = t, .iters = iters(20000)};
        assert_int_equal(pthread_create(&th[t], NULL, d_other_thread, &ctx[t]), 0);
    }
    for (unsigned t = 0; t <= D_OTHERS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_no_thread_failure();

    assert_true(ctx[0].refused > 0);
    assert_int_equal(ctx[0].succeeded, 1);
    for (unsigned t = 1; t <= D_OTHERS; t++)
        assert_int_equal(ctx[t].succeeded, ctx[t].iters);
    /* The test thread was never marked; nothing the refused calls named was
     * touched: the held block is intact, the spare memory unowned. */
    assert_int_equal(gjbmem_posix_in_isr(), 0);
    assert_int_equal(first_bad(sh.held, 100, 0xd1d1), 100);
    assert_true(mpart_usable_size(sh.mid, sh.held) >= 100);
    struct gjbmem_heap_stats st;
    assert_int_equal(mpart_getstats(sh.mid, &st), 0);
    assert_int_equal(st.regions, 1);
    assert_int_equal(st.alloc_blocks, 1);
    assert_int_equal(mpart_validate(sh.mid), 0);
    assert_int_equal(mpart_free(sh.mid, sh.held), 0);
    assert_int_equal(mpart_delete(sh.mid), 0);
    mpart_id m;
    assert_int_equal(create(sh.spare, 8192, &m), 0);
    assert_int_equal(mpart_delete(m), 0);
    free(sh.spare);
    free(mem);
}

/* ---- (e) errno is per thread and unchanged on success ------------------ */

#define E_GOOD 3
#define E_BAD 2

struct e_shared {
    mpart_id shared_mid;
    struct gate start;
};

struct e_ctx {
    struct e_shared *sh;
    unsigned id;
    long iters;
    long calls;
    char *mem;
};

/* Only successful calls, errno preset to a value unique to the thread. */
static bool e_good(struct e_ctx *c)
{
    struct e_shared *sh = c->sh;
    const int mine = 10000 + (int)c->id;
    uint64_t rs = splitmix(0xe000 + c->id) | 1;
    gate_wait(&sh->start);
    errno = mine;
    for (long i = 0; i < c->iters && !stopped(); i++) {
        mpart_id own = 0;
        struct partinfo pi;
        size_t sz;
        CHECK(create(c->mem, 64 << 10, &own) == 0);
        CHECK(errno == mine);
        CHECK(mpart_addmem(own, c->mem + (64 << 10), 32 << 10) == 0);
        CHECK(errno == mine);
        mpart_id mids[2] = {own, sh->shared_mid};
        for (int k = 0; k < 2; k++) {
            mpart_id m = mids[k];
            char *p = mpart_alloc(m, 1 + (size_t)(rnd(&rs) % 1000));
            CHECK(p != NULL && errno == mine);
            char *q = mpart_memalign(m, 128, 200);
            CHECK(q != NULL && errno == mine);
            p = mpart_realloc(m, p, 3000);
            CHECK(p != NULL && errno == mine);
            char *r = mpart_realloc(m, NULL, 10);
            CHECK(r != NULL && errno == mine);
            CHECK(mpart_findmaxfree(m) > 0 && errno == mine);
            CHECK(mpart_findmaxfree_size(m, &sz) == 0 && errno == mine);
            CHECK(mpart_getinfo(m, &pi) == 0 && errno == mine);
            CHECK(mpart_usable_size(m, q) >= 200 && errno == mine);
            CHECK(mpart_validate(m) == 0 && errno == mine);
            CHECK(mpart_free(m, r) == 0 && errno == mine);
            CHECK(mpart_free(m, q) == 0 && errno == mine);
            CHECK(mpart_free(m, p) == 0 && errno == mine);
            c->calls += 12;
        }
        CHECK(mpart_delete(own) == 0);
        CHECK(errno == mine);
        c->calls += 3;
    }
    return true;
}

/* Only failing calls; each sets the expected code in this thread. */
static bool e_bad(struct e_ctx *c)
{
    struct e_shared *sh = c->sh;
    mpart_id m = sh->shared_mid;
    char local[64];
    gate_wait(&sh->start);
    for (long i = 0; i < c->iters && !stopped(); i++) {
        errno = 0;
        CHECK(mpart_alloc(m, 0) == NULL && errno == EINVAL);
        errno = 0;
        CHECK(mpart_alloc(0, 16) == NULL && errno == ERROR_KERNEL_HANDLE_NULL);
        errno = 0;
        CHECK(mpart_memalign(m, 48, 16) == NULL && errno == ERROR_REGION_ALIGN);
        errno = 0;
        CHECK(mpart_free(m, local + 16) == -1 && errno == ERROR_REGION_NULL);
        errno = 0;
        CHECK(mpart_free(m, NULL) == -1 && errno == EINVAL);
        errno = 0;
        CHECK(mpart_alloc(m, SIZE_MAX / 2) == NULL && errno == ERROR_REGION_SIZE);
        errno = 0;
        CHECK(mpart_getinfo(m, NULL) == -1 && errno == EINVAL);
        errno = 0;
        CHECK(mpart_delete(0) == -1 && errno == EINVAL);
        c->calls += 8;
    }
    return true;
}

static void *e_good_thread(void *arg)
{
    e_good(arg);
    return NULL;
}

static void *e_bad_thread(void *arg)
{
    e_bad(arg);
    return NULL;
}

static void test_errno_per_thread(void **state)
{
    (void)state;
    struct e_shared sh;
    char *mem = xalloc(512 << 10);
    assert_int_equal(create(mem, 512 << 10, &sh.shared_mid), 0);
    struct partinfo fresh;
    assert_int_equal(mpart_getinfo(sh.shared_mid, &fresh), 0);
    gate_init(&sh.start, E_GOOD + E_BAD);

    struct e_ctx ctx[E_GOOD + E_BAD];
    pthread_t th[E_GOOD + E_BAD];
    for (unsigned t = 0; t < E_GOOD + E_BAD; t++) {
        bool good = t < E_GOOD;
        ctx[t] = (struct e_ctx){.sh = &sh, .id = t, .iters = iters(good ? 3000 : 20000),
                                .mem = good ? xalloc(96 << 10) : NULL};
        assert_int_equal(
            pthread_create(&th[t], NULL, good ? e_good_thread : e_bad_thread, &ctx[t]), 0);
    }
    for (unsigned t = 0; t < E_GOOD + E_BAD; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_no_thread_failure();
    for (unsigned t = 0; t < E_GOOD + E_BAD; t++) {
        assert_true(ctx[t].calls > 0);
        free(ctx[t].mem);
    }
    /* The test thread's errno is its own too. */
    errno = 777;
    struct partinfo pi;
    assert_int_equal(mpart_getinfo(sh.shared_mid, &pi), 0);
    assert_int_equal(errno, 777);
    assert_int_equal(pi.segment, fresh.segment);
    assert_int_equal(pi.free, fresh.free);
    assert_int_equal(mpart_validate(sh.shared_mid), 0);
    assert_int_equal(mpart_delete(sh.shared_mid), 0);
    free(mem);
}

/* --- F: callers that must sleep on a partition's lock ----------------- *
 * One thread holds the lock for long stretches (mpart_validate over many
 * blocks) while two others allocate and free: they find the lock taken,
 * sleep in the kernel, and are woken by whoever releases it. Every call
 * succeeds, every block keeps its contents, and the partition ends as it
 * began. */

#define F_FILL 6000    /* blocks that make a validation long */
#define F_PAIRS 4000   /* alloc+free pairs per worker (GJB_STRESS_SCALE scales it) */

struct f_ctx {
    mpart_id mid;
    long pairs; /* per worker */
    atomic_int done;
    int failures;
};

static void *f_validator(void *arg)
{
    struct f_ctx *c = arg;
    while (atomic_load(&c->done) < 2)
        if (mpart_validate(c->mid) != 0)
            __atomic_fetch_add(&c->failures, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *f_worker(void *arg)
{
    struct f_ctx *c = arg;
    for (long i = 0; i < c->pairs; i++) {
        size_t n = 16 + (size_t)(i * 37) % 200;
        unsigned char *p = mpart_alloc(c->mid, n);
        if (!p) {
            __atomic_fetch_add(&c->failures, 1, __ATOMIC_RELAXED);
            continue;
        }
        memset(p, (int)(i & 0xff), n);
        if (p[n - 1] != (unsigned char)(i & 0xff) || mpart_free(c->mid, (char *)p) != 0)
            __atomic_fetch_add(&c->failures, 1, __ATOMIC_RELAXED);
    }
    atomic_fetch_add(&c->done, 1);
    return NULL;
}

static void test_waiters_woken(void **state)
{
    (void)state;
    size_t size = 2u << 20;
    char *mem = xalloc(size);
    struct f_ctx c = {.pairs = iters(F_PAIRS)};
    assert_int_equal(create(mem, size, &c.mid), 0);
    static char *fill_blocks[F_FILL];
    for (int i = 0; i < F_FILL; i++)
        assert_non_null(fill_blocks[i] = mpart_alloc(c.mid, 24));
    struct partinfo before, after;
    assert_int_equal(mpart_getinfo(c.mid, &before), 0);
    pthread_t v, w[2];
    assert_int_equal(pthread_create(&v, NULL, f_validator, &c), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&w[i], NULL, f_worker, &c), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(w[i], NULL);
    pthread_join(v, NULL);
    assert_int_equal(c.failures, 0);
    assert_int_equal(mpart_validate(c.mid), 0);
    assert_int_equal(mpart_getinfo(c.mid, &after), 0);
    assert_int_equal(after.used, before.used);
    assert_int_equal(after.free, before.free);
    for (int i = 0; i < F_FILL; i++)
        assert_int_equal(mpart_free(c.mid, fill_blocks[i]), 0);
    assert_int_equal(mpart_delete(c.mid), 0);
    free(mem);
}

/* A scenario on first-fit partitions, and again on buddy ones. */
#define BOTH_POLICIES(f)                                                                           \
    cmocka_unit_test_setup_teardown(f, reset_harness, report_time),                                \
        {#f "_buddy", f, reset_harness_buddy, report_time, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_POLICIES(test_one_partition_many_threads),
        BOTH_POLICIES(test_private_partitions_and_churn),
        BOTH_POLICIES(test_delete_recreate_under_use),
        BOTH_POLICIES(test_isr_flag_is_thread_local),
        BOTH_POLICIES(test_errno_per_thread),
        BOTH_POLICIES(test_waiters_woken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
