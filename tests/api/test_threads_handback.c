/*
 * test_threads_handback.c - blocks one thread frees that another thread's
 * arena gave (gjbmem_malloc_cached, gjbmem_free_cached): the freeing
 * thread's cache hands them back to that arena's list without its lock,
 * and the arena's thread takes them at its next miss.
 *   - the statistics count handed-back blocks as free, exactly; validate
 *     walks the lists; the owner's next request takes its list;
 *   - a block on a list is refused by gjbmem_free as already freed;
 *   - a write after free over a block on a list: validate reports it, and
 *     so does the request that takes the list (error hook), no crash, the
 *     block never given out;
 *   - a list holds a bounded number of blocks (a thread that only frees
 *     cannot park the heap there);
 *   - heap_mem_init and a child after fork give the lists back;
 *   - a full bin gives half its blocks back at once (the thread's own to
 *     its arena's engine);
 *   - a producer and a consumer pass blocks of random sizes for a while;
 *     then everything validates and nothing is lost (run under TSan too).
 * Each check runs in a forked child that starts the library fresh (this
 * process makes no gjbmem call): the child's exit status is the verdict.
 * At hardening level 2 and above there are no caches: skipped.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/config.h>
#include <gjbmem/sysheap.h>

#define CACHE_ON (GJBMEM_HARDENING < 2 && !GJBMEM_TOOLS)
#define SIZE 100        /* the requests of the hand-back checks */
#define N 200           /* blocks handed back: fewer than a list holds */
#define LIST_MAX 256    /* most blocks on a list before pushers drain it */
#define DEPTH 16        /* most blocks a bin keeps */

static int g_line; /* the child's first failing line */

#define CK(cond)                                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (!g_line) {                                                                         \
                g_line = __LINE__;                                                                 \
                fprintf(stderr, "line %d: %s (errno %d)\n", __LINE__, #cond, errno);               \
            }                                                                                      \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

/* Runs fn in a forked child (a fresh library) and fails with its verdict. */
static void in_child(bool (*fn)(void))
{
    if (!CACHE_ON)
        skip();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(300);
        exit(fn() ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st))
        fail_msg("child killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    assert_int_equal(WEXITSTATUS(st), 0);
}

static bool stats(struct gjbmem_sysheap_stats *st)
{
    CK(gjbmem_sysheap_stats(st) == 0);
    CK(st->heap.used + st->heap.free == st->heap.total);
    return true;
}

static struct gjbmem_error g_err; /* the last report of the error hook */
static int g_reports;

static void hook(const struct gjbmem_error *e, void *arg)
{
    (void)arg;
    g_err = *e;
    g_reports++;
}

/* --- a second thread that frees what the main thread gives it ------------- */

static pthread_barrier_t g_bar;
static void **g_ptrs;
static int g_n, g_freer_failed;

/* Waits for the main thread's blocks, frees them all, says so, then stays
 * (the process keeps two threads) until the main thread lets it go. */
static void *freer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&g_bar);
    for (int i = 0; i < g_n; i++)
        if (gjbmem_free_cached(g_ptrs[i]) != 0)
            g_freer_failed = 1;
    pthread_barrier_wait(&g_bar);
    pthread_barrier_wait(&g_bar);
    return NULL;
}

/* Starts the freer, allocates n blocks of SIZE bytes in this thread (each
 * filled with its index) and has the freer free them; s0 and s1: the
 * statistics before the allocations and after the frees. The freer waits
 * for handback_end. */
static bool handback(pthread_t *t, void **p, int n, struct gjbmem_sysheap_stats *s0,
                     struct gjbmem_sysheap_stats *s1)
{
    CK(pthread_barrier_init(&g_bar, NULL, 2) == 0);
    CK(pthread_create(t, NULL, freer, NULL) == 0);
    CK(stats(s0));
    for (int i = 0; i < n; i++) {
        CK((p[i] = gjbmem_malloc_cached(SIZE)) != NULL);
        memset(p[i], i & 0xff, SIZE);
    }
    g_ptrs = p;
    g_n = n;
    pthread_barrier_wait(&g_bar);
    pthread_barrier_wait(&g_bar);
    CK(!g_freer_failed);
    CK(stats(s1));
    return true;
}

static bool handback_end(pthread_t t)
{
    pthread_barrier_wait(&g_bar);
    CK(pthread_join(t, NULL) == 0);
    CK(pthread_barrier_destroy(&g_bar) == 0);
    return true;
}

static bool in_set(void *const *p, int n, const void *q)
{
    for (int i = 0; i < n; i++)
        if (p[i] == q)
            return true;
    return false;
}

/* --- the checks ---------------------------------------------------------- */

/* N blocks handed back: counted free one by one, exactly (usable bytes);
 * validate passes; the owner's next request takes its list: a block of
 * the set, and the rest merge in its heap. */
static bool check_counted_and_taken(void)
{
    pthread_t t;
    void *p[N];
    struct gjbmem_sysheap_stats s0, s1, s2;
    CK(handback(&t, p, N, &s0, &s1));
    size_t hdr = 2 * sizeof(void *); /* the most header bytes a kept block has */
    CK(s1.heap.alloc_blocks == s0.heap.alloc_blocks && s1.heap.total == s0.heap.total);
    CK(s1.heap.free_blocks >= s0.heap.free_blocks + N - 1); /* none merged */
    CK(s1.heap.free_blocks <= s0.heap.free_blocks + N + DEPTH);
    CK(s1.heap.used <= s0.heap.used + (N + DEPTH) * hdr); /* only their headers */
    CK(gjbmem_sysheap_validate() == 0);
    void *q = gjbmem_malloc_cached(SIZE);
    CK(q && in_set(p, N, q));
    CK(stats(&s2));
    CK(s2.heap.free_blocks + N / 2 < s1.heap.free_blocks); /* merged */
    CK(gjbmem_sysheap_validate() == 0);
    CK(gjbmem_free_cached(q) == 0);
    CK(handback_end(t));
    return gjbmem_sysheap_validate() == 0;
}

/* A block on a list freed again, resized or asked its size: refused as
 * already freed, the hook told, nothing written. */
static bool check_double_free_refused(void)
{
    pthread_t t;
    void *p[N];
    struct gjbmem_sysheap_stats s0, s1, s2;
    CK(handback(&t, p, N, &s0, &s1));
    unsigned char *x = p[N / 2]; /* on the list (the freer's bin keeps its first and last) */
    unsigned char before[SIZE];
    memcpy(before, x, SIZE);
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL) == 0);
    g_reports = 0;
    errno = 0;
    CK(gjbmem_free(x) == -1 && errno == EINVAL);
    CK(g_reports == 1 && g_err.addr == x && !g_err.corrupt);
    CK(gjbmem_free_cached(x) == EINVAL && g_reports == 2);
    errno = 0;
    CK(gjbmem_realloc(x, 10) == NULL && errno == EINVAL);
    CK(gjbmem_usable_size(x) == 0);
    CK(memcmp(before, x, SIZE) == 0);
    CK(stats(&s2));
    CK(s2.heap.free == s1.heap.free && s2.heap.free_blocks == s1.heap.free_blocks);
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL) == 0);
    CK(gjbmem_sysheap_validate() == 0);
    CK(handback_end(t));
    return gjbmem_sysheap_validate() == 0;
}

/* 2 * DEPTH requests of SIZE bytes (their blocks stored in p, then freed):
 * none gets x. */
static bool never_given(const unsigned char *x, void **p)
{
    for (int i = 0; i < 2 * DEPTH; i++)
        CK((p[i] = gjbmem_malloc_cached(SIZE)) != NULL && p[i] != (const void *)x);
    for (int i = 0; i < 2 * DEPTH; i++)
        CK(gjbmem_free_cached(p[i]) == 0);
    return true;
}

/* A write after free over a block on a list: the owner's next request
 * takes the list up to that block, reports it (hook) and gives a whole
 * block; the rest of the list stays allocated; the heap validates. */
static bool check_damage_at_take(void)
{
    pthread_t t;
    void *p[N];
    struct gjbmem_sysheap_stats s0, s1;
    CK(handback(&t, p, N, &s0, &s1));
    unsigned char *x = p[N / 2];
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL) == 0);
    g_reports = 0;
    memset(x, 0x5a, 3 * sizeof(void *)); /* the write after free */
    void *q = gjbmem_malloc_cached(SIZE);
    CK(q != NULL && q != (void *)x);
    CK(g_reports == 1 && g_err.corrupt && g_err.addr == x && g_err.error == ERROR_KERNEL_MEMORY);
    memset(q, 1, SIZE);
    CK(never_given(x, p)); /* none of the next requests gets it */
    CK(gjbmem_free_cached(q) == 0);
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL) == 0);
    CK(gjbmem_sysheap_validate() == 0);
    CK(handback_end(t));
    return gjbmem_sysheap_validate() == 0;
}

/* The same write after free found by validate first. */
static bool check_damage_at_validate(void)
{
    pthread_t t;
    void *p[N];
    struct gjbmem_sysheap_stats s0, s1;
    CK(handback(&t, p, N, &s0, &s1));
    unsigned char *x = p[N / 2];
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL) == 0);
    g_reports = 0;
    memset(x + sizeof(void *), 0, 2 * sizeof(void *));
    errno = 0;
    CK(gjbmem_sysheap_validate() == -1 && errno == ERROR_KERNEL_MEMORY);
    CK(g_reports == 1 && g_err.corrupt);
    CK(never_given(x, p));
    CK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL) == 0);
    CK(handback_end(t));
    return gjbmem_sysheap_validate() == 0;
}

/* 3 * LIST_MAX blocks handed back to an owner that takes none: at most
 * about LIST_MAX of them stay on the list (and a bin's worth in the
 * freer's cache), the others merge in the owner's heap. */
static bool check_list_bounded(void)
{
    enum { M = 3 * LIST_MAX };
    pthread_t t;
    static void *p[M];
    struct gjbmem_sysheap_stats s0, s1;
    CK(handback(&t, p, M, &s0, &s1));
    CK(s1.heap.alloc_blocks == s0.heap.alloc_blocks);
    CK(s1.heap.free_blocks <= s0.heap.free_blocks + LIST_MAX + 3 * DEPTH);
    CK(gjbmem_sysheap_validate() == 0);
    CK(handback_end(t));
    return gjbmem_sysheap_validate() == 0;
}

/* heap_mem_init gives the lists back: with the freer gone (its cache
 * given back at its exit) and the blocks on the owner's list, the policy
 * can change. */
static bool check_policy_switch_takes_lists(void)
{
    pthread_t t;
    void *p[N];
    struct gjbmem_sysheap_stats s0, s1, s2;
    CK(handback(&t, p, N, &s0, &s1));
    CK(handback_end(t));
    CK(stats(&s2));
    CK(s2.heap.free_blocks > s0.heap.free_blocks + N / 2); /* still on the list */
    int to = s2.policy == BUDDY_ALLOCATION ? FIRST_FIT_ALLOCATION : BUDDY_ALLOCATION;
    CK(heap_mem_init(to) == 0);
    CK(stats(&s2));
    CK(s2.policy == to && s2.heap.alloc_blocks == 0);
    return gjbmem_sysheap_validate() == 0;
}

/* A child forked while blocks are on a list: one thread, nobody to take
 * them: the child gives them to the heap at once. */
static bool check_fork_takes_lists(void)
{
    pthread_t t;
    void *p[N];
    struct gjbmem_sysheap_stats s0, s1;
    CK(handback(&t, p, N, &s0, &s1));
    pid_t pid = fork();
    CK(pid >= 0);
    if (pid == 0) {
        struct gjbmem_sysheap_stats c;
        bool ok = gjbmem_sysheap_stats(&c) == 0 &&
                  c.heap.free_blocks + N / 2 < s1.heap.free_blocks &&
                  c.heap.alloc_blocks == s1.heap.alloc_blocks && gjbmem_sysheap_validate() == 0;
        exit(ok ? 0 : 1);
    }
    int st = 0;
    CK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CK(handback_end(t));
    return gjbmem_sysheap_validate() == 0;
}

/* A thread that only waits (the process has two threads) until a byte
 * comes down the pipe. */
static void *sleeper(void *arg)
{
    char c;
    return read(*(int *)arg, &c, 1) == 1 ? NULL : arg;
}

/* With more than one thread, a full bin gives its 8 blocks kept last back
 * to the heap (here the thread's own arena: merged at once) and keeps the
 * 17th; the next requests get the 17th, then the 8 kept first. */
static bool check_full_bin_gives_half_back(void)
{
    int fds[2];
    pthread_t t;
    CK(pipe(fds) == 0);
    CK(pthread_create(&t, NULL, sleeper, &fds[0]) == 0);
    void *w = gjbmem_malloc_cached(1); /* the thread's cache (another bin) */
    CK(w && gjbmem_free_cached(w) == 0);
    void *a[DEPTH + 1];
    for (int i = 0; i <= DEPTH; i++)
        CK((a[i] = gjbmem_malloc(SIZE)) != NULL); /* none kept of this size */
    struct gjbmem_sysheap_stats s0, s1, s2;
    CK(stats(&s0));
    for (int i = 0; i < DEPTH; i++)
        CK(gjbmem_free_cached(a[i]) == 0);
    CK(stats(&s1));
    CK(s1.heap.segments == s0.heap.segments); /* kept: none merged */
    CK(gjbmem_free_cached(a[DEPTH]) == 0);
    CK(stats(&s2));
    CK(s2.heap.alloc_blocks == s0.heap.alloc_blocks - DEPTH - 1);
    CK(s2.heap.segments < s1.heap.segments); /* the 8 given back merged */
    CK(gjbmem_sysheap_validate() == 0);
    CK(gjbmem_malloc_cached(SIZE) == a[DEPTH]);
    for (int i = DEPTH / 2 - 1; i >= 0; i--)
        CK(gjbmem_malloc_cached(SIZE) == a[i]);
    CK(gjbmem_free(a[DEPTH]) == 0);
    for (int i = 0; i < DEPTH / 2; i++)
        CK(gjbmem_free(a[i]) == 0);
    CK(write(fds[1], "x", 1) == 1);
    void *r;
    CK(pthread_join(t, &r) == 0 && r == NULL);
    close(fds[0]);
    close(fds[1]);
    return gjbmem_sysheap_validate() == 0;
}

/* --- a producer and a consumer -------------------------------------------- */

enum { RING = 256, PASSES = 200000 };
static void *_Atomic g_ring[RING];
static int g_bad;

static void *consumer(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < PASSES; i++) {
        unsigned char *b;
        while ((b = atomic_exchange(&g_ring[i % RING], NULL)) == NULL)
            sched_yield();
        size_t n = b[0] ? b[0] : 1;
        if (b[n - 1] != (unsigned char)n || gjbmem_free_cached(b) != 0)
            g_bad = 1;
    }
    return NULL;
}

/* Blocks of 1 to 255 bytes (the first and last byte hold the size) go
 * from the main thread to a consumer that checks and frees them; every
 * 1,000 blocks the main thread also validates. At the end, once the
 * caches and lists are given back, the heap is as before. */
static bool check_producer_consumer(void)
{
    struct gjbmem_sysheap_stats s0, s1;
    pthread_t t;
    CK(pthread_create(&t, NULL, consumer, NULL) == 0);
    CK(stats(&s0));
    uint32_t x = 7;
    for (unsigned i = 0; i < PASSES; i++) {
        x = x * 1103515245u + 12345u;
        size_t n = 1 + (x >> 16) % 255;
        unsigned char *b = gjbmem_malloc_cached(n);
        CK(b != NULL);
        b[0] = b[n - 1] = (unsigned char)n;
        while (atomic_load(&g_ring[i % RING]) != NULL)
            sched_yield();
        atomic_store(&g_ring[i % RING], b);
        if (i % 1000 == 0)
            CK(gjbmem_sysheap_validate() == 0);
    }
    CK(pthread_join(t, NULL) == 0); /* its cache given back */
    CK(!g_bad);
    CK(heap_mem_init(s0.policy) == 0); /* this thread's cache and the lists given back */
    CK(stats(&s1));
    CK(s1.heap.alloc_blocks == s0.heap.alloc_blocks && s1.heap.free_blocks == s0.heap.free_blocks);
    CK(s1.heap.used == s0.heap.used);
    return gjbmem_sysheap_validate() == 0;
}

#define CHILD_TEST(name, check)                                                                    \
    static void name(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        in_child(check);                                                                           \
    }

CHILD_TEST(handed_back_blocks_counted_and_taken, check_counted_and_taken)
CHILD_TEST(block_on_list_refused_as_freed, check_double_free_refused)
CHILD_TEST(write_after_free_on_list_found_at_take, check_damage_at_take)
CHILD_TEST(write_after_free_on_list_found_by_validate, check_damage_at_validate)
CHILD_TEST(list_length_bounded, check_list_bounded)
CHILD_TEST(heap_mem_init_takes_lists, check_policy_switch_takes_lists)
CHILD_TEST(fork_child_takes_lists, check_fork_takes_lists)
CHILD_TEST(full_bin_gives_half_back, check_full_bin_gives_half_back)
CHILD_TEST(producer_consumer, check_producer_consumer)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handed_back_blocks_counted_and_taken),
        cmocka_unit_test(block_on_list_refused_as_freed),
        cmocka_unit_test(write_after_free_on_list_found_at_take),
        cmocka_unit_test(write_after_free_on_list_found_by_validate),
        cmocka_unit_test(list_length_bounded),
        cmocka_unit_test(heap_mem_init_takes_lists),
        cmocka_unit_test(fork_child_takes_lists),
        cmocka_unit_test(full_bin_gives_half_back),
        cmocka_unit_test(producer_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
