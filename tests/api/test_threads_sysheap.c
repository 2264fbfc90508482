/*
 * test_threads_sysheap.c - the system heap under concurrency: several
 * threads doing random gjbmem_malloc / calloc / realloc / memalign / free
 * (direct-mapping sizes included) with every block's contents checked, under
 * FIRST_FIT and under BUDDY, beside a thread that reads the statistics and
 * tries to switch the policy; the same with fault injection failing some of
 * the port's page requests; and fork from a multi-threaded process while the
 * other threads allocate, the child using the heap and exiting.
 *
 * Worker threads never call cmocka (its assertions longjmp into the test's
 * own thread): they record the first failure in g_fail and set g_stop, and
 * the test thread fails with that message after joining them.
 *
 * GJB_STRESS_SCALE (a positive number, default 1) scales every iteration
 * count, for longer soaks or quicker sanitizer and valgrind runs.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/fault.h"
#include "gjbmem/posix.h"
#include "thread_harness.h"
#include "gjbmem/sysheap.h"

#define SENTINEL 7714
#define GRAIN ((uintptr_t)_Alignof(max_align_t))
#define DIRECT GJBMEM_SYSHEAP_DIRECT
#define NWORKERS 6
#define NSLOTS 48

/* ---- harness (the shared part is in thread_harness.h) ------------------ */

static int reset_harness(void **state)
{
    (void)state;
    harness_start();
    gjbmem_fault_reset();
    return 0;
}

static int report_time(void **state)
{
    (void)state;
    gjbmem_fault_reset();
    harness_report_time();
    return 0;
}

/* ---- block contents ----------------------------------------------------- */

static unsigned char pat(unsigned tag, size_t i)
{
    return (unsigned char)(tag * 167u + i * 31u + (i >> 9) + 1u);
}

/* Writes or checks the pattern of a block of n bytes below lim: every byte
 * up to 1 KiB, beyond that the first and last 256 bytes and 4 bytes of
 * every KiB (of every 16 KiB beyond 64 KiB, to spare page faults). */
static bool touch(unsigned char *p, size_t n, unsigned tag, size_t lim, bool write)
{
    for (size_t i = 0; i < n && i < lim;) {
        if (write)
            p[i] = pat(tag, i);
        else if (p[i] != pat(tag, i))
            return false;
        size_t stride = n > 65536 ? 16384 : 1024;
        if (n <= 1024 || i < 256 || i + 256 >= n || i % stride < 3) {
            i++;
        } else {
            size_t next = (i | (stride - 1)) + 1;
            i = next < n - 256 ? next : n - 256;
        }
    }
    return true;
}

struct slot {
    unsigned char *p;
    size_t n;
    unsigned tag;
};

/* A random request size: mostly small, some medium, about 1% direct. */
static size_t pick_size(uint64_t *seed)
{
    uint64_t r = rnd(seed);
    unsigned k = (unsigned)(r % 1000);
    r >>= 10;
    if (k < 5)
        return DIRECT + (size_t)(r % (640 * 1024));
    if (k < 120)
        return 2048 + (size_t)(r % (62 * 1024));
    if (k < 130)
        return 0;
    return 1 + (size_t)(r % 2048);
}

struct worker {
    pthread_t th;
    int id;
    uint64_t seed;
    long iters;      /* operations; < 0: until g_stop */
    bool may_fail;   /* fault injection on: allocations may fail with ENOMEM */
    long ops, nulls; /* done, refused with ENOMEM */
    struct slot slot[NSLOTS];
};

static bool refused(struct worker *w)
{
    CHECKF(w->may_fail && errno == ENOMEM, "worker %d: an allocation failed", w->id);
    w->nulls++;
    return true;
}

/* The checks every allocation gets: alignment and usable size. */
static bool fresh(struct worker *w, struct slot *s, unsigned char *p, size_t n, size_t align)
{
    CHECKF(errno == SENTINEL, "worker %d: errno changed by a successful call", w->id);
    CHECKF((uintptr_t)p % GRAIN == 0, "worker %d: %p misaligned", w->id, (void *)p);
    CHECKF((uintptr_t)p % align == 0, "worker %d: %p not aligned to %zu", w->id, (void *)p,
           align);
    CHECKF(gjbmem_usable_size(p) >= n, "worker %d: usable size %zu < %zu", w->id,
           gjbmem_usable_size(p), n);
    s->p = p;
    s->n = n;
    s->tag = (unsigned)rnd(&w->seed);
    touch(p, n, s->tag, n, true);
    return true;
}

static bool drop(struct worker *w, struct slot *s)
{
    if (!s->p)
        return true;
    CHECKF(touch(s->p, s->n, s->tag, s->n, false), "worker %d: block %p (%zu bytes) damaged",
           w->id, (void *)s->p, s->n);
    errno = SENTINEL;
    CHECKF(gjbmem_free(s->p) == 0, "worker %d: free(%p)", w->id, (void *)s->p);
    CHECK(errno == SENTINEL);
    s->p = NULL;
    return true;
}

static bool one_op(struct worker *w)
{
    struct slot *s = &w->slot[rnd(&w->seed) % NSLOTS];
    unsigned op = (unsigned)(rnd(&w->seed) % 100);
    if (s->p && (op < 35 || op >= 75)) /* free, then maybe allocate anew */
        if (!drop(w, s))
            return false;
    if (op >= 75)
        return true;
    size_t n = pick_size(&w->seed);
    unsigned char *p;
    errno = SENTINEL;
    if (op < 20) {
        p = gjbmem_malloc(n);
        return p ? fresh(w, s, p, n, 1) : refused(w);
    }
    if (op < 30) {
        size_t k = 1 + rnd(&w->seed) % 8;
        p = gjbmem_calloc(k, n / k);
        if (!p)
            return refused(w);
        for (size_t i = 0; i < k * (n / k); i++)
            CHECKF(p[i] == 0, "worker %d: calloc byte %zu not zero", w->id, i);
        return fresh(w, s, p, k * (n / k), 1);
    }
    if (op < 35) {
        size_t align = (size_t)1 << (rnd(&w->seed) % 17); /* 1 .. 64 KiB */
        p = gjbmem_memalign(align, n);
        return p ? fresh(w, s, p, n, align) : refused(w);
    }
    /* realloc (s->p may be NULL: then it allocates) */
    if (op == 74 && s->p) { /* realloc(p, 0) frees */
        CHECKF(touch(s->p, s->n, s->tag, s->n, false), "worker %d: block damaged", w->id);
        CHECK(gjbmem_realloc(s->p, 0) == NULL);
        CHECK(errno == SENTINEL);
        s->p = NULL;
        return true;
    }
    if (n == 0)
        n = 1;
    p = gjbmem_realloc(s->p, n);
    if (!p) {
        if (!refused(w))
            return false;
        /* The old block is intact. */
        CHECKF(!s->p || touch(s->p, s->n, s->tag, s->n, false),
               "worker %d: block damaged by a refused realloc", w->id);
        return true;
    }
    if (s->p)
        CHECKF(touch(p, s->n, s->tag, n, false), "worker %d: realloc %zu -> %zu lost contents",
               w->id, s->n, n);
    return fresh(w, s, p, n, 1);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (long i = 0; (w->iters < 0 || i < w->iters) && !stopped(); i++) {
        if (!one_op(w))
            break;
        w->ops++;
    }
    for (int i = 0; i < NSLOTS; i++)
        if (!drop(w, &w->slot[i]))
            break;
    return NULL;
}

/* ---- the observer: statistics and policy switches during the run -------- */

struct observer {
    pthread_t th;
    int policy;
    atomic_int done;
    long rounds;
};

static bool observe(struct observer *o, size_t *last_maxused)
{
    struct meminfo mi;
    errno = SENTINEL;
    CHECK(mem_getinfo(&mi) == 0);
    CHECK(errno == SENTINEL);
    CHECK(mi.maxused >= mi.used);
    CHECKF(mi.maxused >= *last_maxused, "maxused fell from %zu to %zu", *last_maxused,
           mi.maxused);
    *last_maxused = mi.maxused;

    struct gjbmem_sysheap_stats st;
    CHECK(gjbmem_sysheap_stats(&st) == 0);
    CHECK(st.heap.used + st.heap.free == st.heap.total);
    CHECK(st.heap.segments == st.heap.alloc_blocks + st.heap.free_blocks);
    CHECK(st.policy == o->policy);
    CHECK(mem_findmax() >= 0);

    /* Holding a block of its own, a switch must be refused. */
    void *mine = gjbmem_malloc(64);
    CHECK(mine != NULL);
    errno = 0;
    CHECK(heap_mem_init(!o->policy) == -1);
    CHECK(errno == EBUSY);
    errno = SENTINEL;
    CHECK(heap_mem_init(o->policy) == 0);
    CHECK(errno == SENTINEL);
    CHECK(gjbmem_free(mine) == 0);
    if (o->rounds % 64 == 0)
        CHECK(gjbmem_sysheap_validate() == 0);
    return true;
}

static void *observer_main(void *arg)
{
    struct observer *o = arg;
    size_t last = 0;
    do { /* at least once, however quick the workers are */
        if (!observe(o, &last))
            break;
        o->rounds++;
        sched_yield();
    } while (!atomic_load(&o->done) && !stopped());
    return NULL;
}

/* ---- the runs ------------------------------------------------------------ */

static void heap_is_empty(void)
{
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(st.heap.alloc_blocks, 0);
    assert_int_equal(st.direct_blocks, 0);
}

static void run_random(int policy, bool faults)
{
    assert_int_equal(heap_mem_init(policy), 0);
    heap_is_empty();
    if (faults)
        assert_int_equal(gjbmem_fault_random(100, 7714), 0);
    static struct worker w[NWORKERS];
    struct observer o = {.policy = policy};
    atomic_init(&o.done, 0);
    for (int i = 0; i < NWORKERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].seed = UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1) + (uint64_t)policy;
        w[i].iters = iters(faults ? 6000 : 12000);
        w[i].may_fail = faults;
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    assert_int_equal(pthread_create(&o.th, NULL, observer_main, &o), 0);
    long ops = 0, nulls = 0;
    for (int i = 0; i < NWORKERS; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        ops += w[i].ops;
        nulls += w[i].nulls;
    }
    atomic_store(&o.done, 1);
    assert_int_equal(pthread_join(o.th, NULL), 0);
    unsigned long injected = gjbmem_fault_count();
    gjbmem_fault_reset();
    assert_no_thread_failure();
    assert_int_equal(ops, NWORKERS * iters(faults ? 6000 : 12000));
    assert_true(o.rounds > 0);
    if (!faults)
        assert_int_equal(nulls, 0);
    print_message("    %ld operations, %ld refused, %lu page requests failed, %ld observer "
                  "rounds\n",
                  ops, nulls, injected, o.rounds);
    heap_is_empty();
    assert_int_equal(heap_mem_init(FIRST_FIT_ALLOCATION), 0);
}

static void test_random_first_fit(void **state)
{
    (void)state;
    run_random(FIRST_FIT_ALLOCATION, false);
}

static void test_random_buddy(void **state)
{
    (void)state;
    run_random(BUDDY_ALLOCATION, false);
}

/* Some of the port's page requests fail: growth and direct mappings may be
 * refused with ENOMEM; nothing else changes. */
static void test_random_with_faults(void **state)
{
    (void)state;
    run_random(FIRST_FIT_ALLOCATION, true);
    run_random(BUDDY_ALLOCATION, true);
}

/* ---- fork ----------------------------------------------------------------- */

/* In the child: only gjbmem_* calls and _exit. Returns 0 or the number of
 * the check that failed. */
static int child_work(unsigned char **mine, const size_t *mine_n, int nmine)
{
    for (int i = 0; i < nmine; i++) {
        if (!touch(mine[i], mine_n[i], (unsigned)i + 100, mine_n[i], false))
            return 10;
        if (gjbmem_free(mine[i]) != 0)
            return 11;
    }
    static const size_t sizes[] = {1, 24, 100, 1000, 5000, 70000, DIRECT, DIRECT + 5000};
    unsigned char *p[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        p[i] = i % 2 ? gjbmem_calloc(1, sizes[i]) : gjbmem_memalign(64, sizes[i]);
        if (!p[i] || (uintptr_t)p[i] % GRAIN)
            return 20;
        touch(p[i], sizes[i], (unsigned)i, sizes[i], true);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *q = gjbmem_realloc(p[i], sizes[i] * 2 + 10);
        if (!q)
            return 30;
        if (!touch(q, sizes[i], (unsigned)i, sizes[i], false))
            return 31;
        p[i] = q;
    }
    if (gjbmem_sysheap_validate() != 0)
        return 40;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (gjbmem_free(p[i]) != 0)
            return 50;
    struct meminfo mi;
    if (mem_getinfo(&mi) != 0 || mi.maxused < mi.used)
        return 60;
    if (gjbmem_sysheap_validate() != 0)
        return 70;
    return 0;
}

/* Waits for the child, at most about a minute (a child that deadlocks on a
 * lock held across fork is killed). Returns its status; *hung when killed. */
static int wait_child(pid_t pid, bool *hung)
{
    int status = 0;
    *hung = false;
    for (long waited_ms = 0;; waited_ms++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (waited_ms >= 60000) {
            *hung = true;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return status;
        }
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
}

static void test_fork_while_allocating(void **state)
{
    (void)state;
    enum { FORKERS = 4, MINE = 6 };
    static struct worker w[FORKERS];
    for (int i = 0; i < FORKERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].seed = UINT64_C(0xC0FFEE) * (uint64_t)(i + 3);
        w[i].iters = -1; /* until stopped */
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    long forks = iters(12);
    if (forks < 2)
        forks = 2;
    int bad_status = 0, bad_child = -1;
    bool hung = false;
    for (long f = 0; f < forks && !stopped(); f++) {
        /* Blocks of the forking thread, for the child to check and free. */
        unsigned char *mine[MINE];
        size_t mine_n[MINE];
        for (int i = 0; i < MINE; i++) {
            mine_n[i] = i == MINE - 1 ? DIRECT + 100 : (size_t)100 << i;
            mine[i] = gjbmem_malloc(mine_n[i]);
            assert_non_null(mine[i]);
            touch(mine[i], mine_n[i], (unsigned)i + 100, mine_n[i], true);
        }
        struct timespec nap = {0, 2000000L + 1000000L * (f % 5)};
        nanosleep(&nap, NULL); /* let the others get busy */
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(child_work(mine, mine_n, MINE));
        int status = wait_child(pid, &hung);
        if (hung || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            bad_status = status;
            bad_child = (int)f;
            break;
        }
        /* The parent's blocks are untouched by what the child did. */
        for (int i = 0; i < MINE; i++) {
            assert_true(touch(mine[i], mine_n[i], (unsigned)i + 100, mine_n[i], false));
            assert_int_equal(gjbmem_free(mine[i]), 0);
        }
    }
    atomic_store(&g_stop, 1);
    long ops = 0;
    for (int i = 0; i < FORKERS; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        ops += w[i].ops;
    }
    assert_no_thread_failure();
    if (hung)
        fail_msg("child %d hung for a minute (a lock held across fork?)", bad_child);
    if (bad_child >= 0)
        fail_msg("child %d: %s %d", bad_child,
                 WIFEXITED(bad_status) ? "exit status" : "killed by signal",
                 WIFEXITED(bad_status) ? WEXITSTATUS(bad_status) : WTERMSIG(bad_status));
    assert_true(ops > 0);
    print_message("    %ld forks, %ld operations meanwhile\n", forks, ops);
    heap_is_empty();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_first_fit, reset_harness, report_time),
        cmocka_unit_test_setup_teardown(test_random_buddy, reset_harness, report_time),
        cmocka_unit_test_setup_teardown(test_random_with_faults, reset_harness, report_time),
        cmocka_unit_test_setup_teardown(test_fork_while_allocating, reset_harness, report_time),
    };
    return cmocka_run_group_tests_name("threads_sysheap", tests, NULL, NULL);
}
