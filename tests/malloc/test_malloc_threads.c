/*
 * test_malloc_threads.c - the malloc replacement (libgjbmem-malloc.so,
 * linked directly) under concurrency and fork:
 *   - several threads malloc / calloc / realloc / memalign / free at once,
 *     each block carrying a pattern checked before it is resized or freed;
 *   - blocks handed from the threads that allocate them to threads that
 *     free them (producer / consumer);
 *   - fork from a multi-threaded program while the other threads allocate:
 *     each child allocates, frees, validates the heap, starts a thread of
 *     its own, and exits 0 (a child that deadlocks is killed by alarm());
 *   - the system heap validates after every run and holds no more blocks
 *     than before it.
 *
 * Worker threads never call cmocka (its assertions longjmp into the test's
 * own thread): they record the first failure and set g_stop.
 * GJB_STRESS_SCALE (a positive number, default 1) scales the iteration
 * counts. CTest runs it with GJBMEM_POLICY=first-fit and =buddy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/sysheap.h"

#include "../thread_harness.h"

/* In a worker: records the failure (thread_harness.h) and leaves through
 * the worker's "out" label, which frees what it holds. */
#define TCHECK(c, ...)                                    \
    do {                                                  \
        if (!(c)) {                                       \
            tfail(__LINE__, #c, __VA_ARGS__);             \
            goto out;                                     \
        }                                                 \
    } while (0)

static size_t live_blocks(void)
{
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    return st.heap.alloc_blocks + st.direct_blocks;
}

static int check_heap(void **state)
{
    (void)state;
    if (gjbmem_sysheap_validate() != 0) {
        print_error("gjbmem_sysheap_validate failed (errno %d)\n", errno);
        return -1;
    }
    return 0;
}

/* Pattern of block (tag, size): every byte depends on both. */
static void stamp(unsigned char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(tag * 31u + i);
}

static int stamped(const unsigned char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(tag * 31u + i))
            return 0;
    return 1;
}

/* A random size: mostly small, some medium, a few direct mappings (1 in
 * 256: each is a mapping and an unmapping of the host, costly with many
 * threads). */
static size_t pick_size(uint64_t *s)
{
    uint64_t r = rnd(s);
    unsigned k = (unsigned)(r % 256);
    if (k == 0)
        return GJBMEM_SYSHEAP_DIRECT + (size_t)(r >> 20) % (1u << 19);
    if (k < 12)
        return 1024 + (size_t)(r >> 8) % 20000;
    return (size_t)(r >> 8) % 512;
}

/* ---- concurrent churn ----------------------------------------------------- */

#define SLOTS 256

struct churn_arg {
    unsigned id;
    long ops;
};

static void *churn_thread(void *argp)
{
    struct churn_arg *arg = argp;
    unsigned char *p[SLOTS] = {0};
    size_t sz[SLOTS] = {0};
    unsigned tag[SLOTS] = {0};
    uint64_t s = 0x9e3779b97f4a7c15ull * (arg->id + 1);
    unsigned next_tag = arg->id << 20;

    for (long op = 0; op < arg->ops && !stopped(); op++) {
        unsigned i = (unsigned)(rnd(&s) % SLOTS);
        if (p[i]) {
            TCHECK(stamped(p[i], sz[i], tag[i]), "thread %u slot %u size %zu corrupted", arg->id,
                   i, sz[i]);
        }
        switch (rnd(&s) % 6) {
        case 0: /* free */
            free(p[i]);
            p[i] = NULL;
            sz[i] = 0;
            break;
        case 1: { /* realloc, contents kept */
            size_t n = pick_size(&s);
            unsigned char *q = realloc(p[i], n ? n : 1);
            TCHECK(q != NULL, "realloc(%zu) failed", n);
            TCHECK((uintptr_t)q % 16 == 0, "realloc misaligned");
            size_t keep = sz[i] < n ? sz[i] : n;
            TCHECK(stamped(q, keep, tag[i]), "realloc lost contents (%zu -> %zu)", sz[i], n);
            p[i] = q;
            sz[i] = n;
            tag[i] = ++next_tag;
            stamp(q, n, tag[i]);
            break;
        }
        case 2: { /* calloc: zero */
            free(p[i]);
            size_t n = pick_size(&s);
            unsigned char *q = calloc(1, n);
            TCHECK(q != NULL, "calloc(%zu) failed", n);
            for (size_t k = 0; k < n; k++)
                TCHECK(q[k] == 0, "calloc(%zu) byte %zu not zero", n, k);
            p[i] = q;
            sz[i] = n;
            tag[i] = ++next_tag;
            stamp(q, n, tag[i]);
            break;
        }
        case 3: { /* aligned */
            free(p[i]);
            size_t a = (size_t)16 << (rnd(&s) % 9);
            size_t n = pick_size(&s);
            void *q = NULL;
            int rc = posix_memalign(&q, a, n);
            TCHECK(rc == 0, "posix_memalign(%zu, %zu) = %d", a, n, rc);
            TCHECK((uintptr_t)q % a == 0, "posix_memalign misaligned");
            p[i] = q;
            sz[i] = n;
            tag[i] = ++next_tag;
            stamp(q, n, tag[i]);
            break;
        }
        default: { /* malloc */
            free(p[i]);
            size_t n = pick_size(&s);
            unsigned char *q = malloc(n);
            TCHECK(q != NULL, "malloc(%zu) failed", n);
            TCHECK((uintptr_t)q % 16 == 0, "malloc misaligned");
            TCHECK(malloc_usable_size(q) >= n, "usable size too small");
            p[i] = q;
            sz[i] = n;
            tag[i] = ++next_tag;
            stamp(q, n, tag[i]);
            break;
        }
        }
    }
out:
    for (unsigned i = 0; i < SLOTS; i++) {
        if (p[i] && !stamped(p[i], sz[i], tag[i]))
            tfail(__LINE__, "final contents", "thread %u slot %u", arg->id, i);
        free(p[i]);
    }
    return NULL;
}

static void run_churn(unsigned nthreads, long ops)
{
    pthread_t th[16];
    struct churn_arg args[16];
    harness_start();
    for (unsigned t = 0; t < nthreads; t++) {
        args[t].id = t;
        args[t].ops = ops;
        assert_int_equal(pthread_create(&th[t], NULL, churn_thread, &args[t]), 0);
    }
    for (unsigned t = 0; t < nthreads; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_no_thread_failure();
}

static void threads_churn(void **state)
{
    (void)state;
    size_t before = live_blocks();
    run_churn(4, iters(30000));
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    run_churn(8, iters(8000));
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    /* The threads' blocks are all freed; what may remain is the C
     * library's per-thread data kept with its cache of thread stacks (the
     * DTV, calloc'd when a thread starts): a few blocks per cached stack. */
    size_t after = live_blocks();
    if (after > before + 32)
        fail_msg("%zu blocks before, %zu after", before, after);
}

/* ---- producer / consumer -------------------------------------------------- */

#define RING 1024

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *item[RING];
    size_t size[RING];
    unsigned tag[RING];
    unsigned head, tail;
    int producers_left;
} q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *producer(void *argp)
{
    unsigned id = (unsigned)(uintptr_t)argp;
    uint64_t s = 0xdeadbeefull + id;
    long n = iters(20000);
    for (long k = 0; k < n && !stopped(); k++) {
        size_t sz = pick_size(&s);
        unsigned tag = (id << 24) | (unsigned)k;
        unsigned char *p = (k & 3) == 0 ? aligned_alloc(64, sz) : malloc(sz);
        if (!p) {
            tfail(__LINE__, "producer allocation", "size %zu", sz);
            break;
        }
        stamp(p, sz, tag);
        pthread_mutex_lock(&q.mu);
        while (q.head - q.tail == RING && !stopped())
            pthread_cond_wait(&q.cv, &q.mu);
        q.item[q.head % RING] = p;
        q.size[q.head % RING] = sz;
        q.tag[q.head % RING] = tag;
        q.head++;
        pthread_cond_broadcast(&q.cv);
        pthread_mutex_unlock(&q.mu);
    }
    pthread_mutex_lock(&q.mu);
    q.producers_left--;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    return NULL;
}

static void *consumer(void *argp)
{
    (void)argp;
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (q.head == q.tail && q.producers_left > 0)
            pthread_cond_wait(&q.cv, &q.mu);
        if (q.head == q.tail) {
            pthread_mutex_unlock(&q.mu);
            return NULL;
        }
        unsigned char *p = q.item[q.tail % RING];
        size_t sz = q.size[q.tail % RING];
        unsigned tag = q.tag[q.tail % RING];
        q.tail++;
        pthread_cond_broadcast(&q.cv);
        pthread_mutex_unlock(&q.mu);
        if (!stamped(p, sz, tag))
            tfail(__LINE__, "handed-over block intact", "size %zu tag %x", sz, tag);
        if (tag & 1) { /* some are resized by the consumer before free */
            p = realloc(p, sz / 2 + 1);
            if (!p || !stamped(p, sz / 2 < sz ? sz / 2 : sz, tag))
                tfail(__LINE__, "consumer realloc", "size %zu", sz);
        }
        free(p);
    }
}

static void cross_thread_free(void **state)
{
    (void)state;
    size_t before = live_blocks();
    harness_start();
    pthread_t pr[3], co[2];
    q.head = q.tail = 0;
    q.producers_left = 3;
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&pr[i], NULL, producer, (void *)(uintptr_t)i), 0);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&co[i], NULL, consumer, NULL), 0);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(pthread_join(pr[i], NULL), 0);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_join(co[i], NULL), 0);
    assert_no_thread_failure();
    assert_int_equal(q.head, q.tail);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    size_t after = live_blocks();
    if (after > before + 32) /* see threads_churn */
        fail_msg("%zu blocks before, %zu after", before, after);
}

/* ---- fork while other threads allocate ------------------------------------ */

static void *child_thread(void *argp)
{
    (void)argp;
    for (int k = 0; k < 2000; k++) {
        void *p = malloc((size_t)(k % 700) + 1);
        if (!p)
            return (void *)1;
        memset(p, k, (size_t)(k % 700) + 1);
        free(p);
    }
    return NULL;
}

/* The child: returns its exit status. */
static int child_work(unsigned seed)
{
    uint64_t s = 0x1234567ull + seed;
    unsigned char *p[64] = {0};
    size_t sz[64] = {0};
    for (int k = 0; k < 1500; k++) {
        unsigned i = (unsigned)(rnd(&s) % 64);
        if (p[i] && !stamped(p[i], sz[i], i))
            return 2;
        size_t n = pick_size(&s);
        unsigned char *q2 = realloc(p[i], n ? n : 1);
        if (!q2)
            return 3;
        size_t keep = sz[i] < n ? sz[i] : n;
        if (p[i] && !stamped(q2, keep, i))
            return 4;
        p[i] = q2;
        sz[i] = n;
        stamp(q2, n, i);
    }
    for (unsigned i = 0; i < 64; i++)
        free(p[i]);
    char *s1 = strdup("after fork");
    if (!s1 || strcmp(s1, "after fork") != 0)
        return 5;
    free(s1);
    /* The child is single-threaded now; it can start threads of its own. */
    pthread_t t;
    void *res = (void *)1;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, &res) != 0 ||
        res != NULL)
        return 6;
    if (gjbmem_sysheap_validate() != 0)
        return 7;
    return 0;
}

static void *busy_thread(void *argp)
{
    struct churn_arg *arg = argp;
    uint64_t s = 0xabcdefull * (arg->id + 3);
    void *keep[32] = {0};
    while (!stopped()) {
        unsigned i = (unsigned)(rnd(&s) % 32);
        free(keep[i]);
        size_t n = pick_size(&s);
        keep[i] = (rnd(&s) & 1) ? malloc(n) : realloc(NULL, n);
        if (!keep[i]) {
            tfail(__LINE__, "busy thread allocation", "size %zu", n);
            break;
        }
        memset(keep[i], 0x5c, n);
    }
    for (unsigned i = 0; i < 32; i++)
        free(keep[i]);
    return NULL;
}

static void fork_while_threads_allocate(void **state)
{
    (void)state;
    harness_start();
    enum { BUSY = 3 };
    pthread_t th[BUSY];
    struct churn_arg args[BUSY];
    for (unsigned t = 0; t < BUSY; t++) {
        args[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, busy_thread, &args[t]), 0);
    }
    long forks = iters(30);
    int bad = 0, bad_status = 0;
    for (long k = 0; k < forks; k++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(30); /* a deadlocked child dies instead of hanging */
            _exit(child_work((unsigned)k));
        }
        if (pid < 0) {
            bad++;
            bad_status = -errno;
            break;
        }
        int st = 0;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            bad++;
            bad_status = st;
        }
        /* The parent keeps allocating between forks too. */
        void *p = malloc((size_t)k * 100 + 1);
        free(p);
    }
    atomic_store(&g_stop, 1);
    for (unsigned t = 0; t < BUSY; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    if (bad)
        fail_msg("%d of %ld children failed (last wait status 0x%x)", bad, forks, bad_status);
    assert_no_thread_failure();
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(threads_churn, check_heap),
        cmocka_unit_test_teardown(cross_thread_free, check_heap),
        cmocka_unit_test_teardown(fork_while_threads_allocate, check_heap),
    };
    return cmocka_run_group_tests(tests, NULL, check_heap);
}
