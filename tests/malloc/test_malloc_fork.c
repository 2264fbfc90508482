/*
 * test_malloc_fork.c - fork where an allocator's fork handlers can deadlock
 * (issue 14), with the malloc replacement (libgjbmem-malloc.so) linked:
 *   - stdio_and_realloc: the main thread forks (600 times, or for 30 s
 *     once 20 forks are done: a busy machine is slow at this) while
 *     four threads use stdio and the heap: two read lines with getline
 *     (which holds its FILE's lock while it calls malloc and realloc), one
 *     writes with fprintf and reallocs, one flushes every stream with
 *     fflush(NULL) (which holds the stdio list lock while it waits for each
 *     FILE's lock). Each child allocates, frees and exits 0.
 *   - fork_in_signal_handler: a single-threaded process allocates and frees
 *     without pause while a timer's signal interrupts it; the handler forks
 *     (the child exits at once) and waits for the child. The interrupted
 *     code may hold the system heap's lock at that moment.
 * A deadlock is caught by alarm() (WATCHDOG): its SIGALRM ends the test as
 * a failure.
 * GJB_STRESS_SCALE (default 1) scales the counts. CTest runs it with
 * GJBMEM_POLICY=first-fit and =buddy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/sysheap.h"

#include "../thread_harness.h"

/* Seconds without progress that count as a deadlock: a whole test, and in
 * stdio_and_realloc each fork (re-armed before every one: on a busy machine,
 * two of these tests at once took 90 s, and 204 s under -m32). */
#define WATCHDOG 120

/* stdio_and_realloc forks for at most this long once it has forked
 * MIN_FORKS times. */
#define FORK_SECONDS 30
#define MIN_FORKS 20

/* ---- fork while other threads use stdio and the heap ---------------------- */

static char *g_text; /* lines of 1 to 4,000 characters, for getline */
static size_t g_text_len;

static void make_text(void)
{
    size_t cap = 1 << 20, n = 0;
    g_text = malloc(cap);
    assert_non_null(g_text);
    uint32_t x = 12345;
    while (n + 4002 < cap) {
        x = x * 1103515245u + 12345u;
        size_t len = 1 + (x >> 8) % 4000;
        memset(g_text + n, 'a' + (int)(x % 26), len);
        n += len;
        g_text[n++] = '\n';
    }
    g_text_len = n;
}

/* getline with a new buffer each time: malloc and realloc under the FILE's
 * lock. */
static void *reader(void *arg)
{
    (void)arg;
    FILE *f = fmemopen(g_text, g_text_len, "r");
    if (!f) {
        tfail(__LINE__, "fmemopen", NULL);
        return NULL;
    }
    while (!stopped()) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, f);
        free(line);
        if (n < 0)
            rewind(f);
    }
    fclose(f);
    return NULL;
}

/* fprintf to a stream of its own, and realloc in between. */
static void *writer(void *arg)
{
    (void)arg;
    FILE *f = tmpfile();
    if (!f) {
        tfail(__LINE__, "tmpfile", NULL);
        return NULL;
    }
    char *buf = NULL;
    for (unsigned i = 0; !stopped(); i++) {
        char *q = realloc(buf, 16 + i % 5000);
        if (!q) {
            tfail(__LINE__, "realloc", NULL);
            break;
        }
        buf = q;
        fprintf(f, "%u %s\n", i, i % 2 ? "odd" : "even");
        if (i % 1000 == 0)
            rewind(f);
    }
    free(buf);
    fclose(f);
    return NULL;
}

/* fflush(NULL): the stdio list lock, then each FILE's. */
static void *flusher(void *arg)
{
    (void)arg;
    while (!stopped())
        fflush(NULL);
    return NULL;
}

static void stdio_and_realloc(void **state)
{
    (void)state;
    harness_start();
    make_text();
    alarm(WATCHDOG);
    pthread_t t[4];
    void *(*fn[4])(void *) = {reader, reader, writer, flusher};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn[i], NULL), 0);
    /* iters(600) forks, or as many as FORK_SECONDS allow but at least
     * MIN_FORKS: with more runnable threads than cores each fork waits for
     * the threads that hold the locks it takes to be scheduled (a busy CI
     * machine took 600 s for what a quiet one does in 9 s). */
    long forks = iters(600), k = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (; k < forks && !stopped(); k++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (k >= MIN_FORKS && now.tv_sec - t0.tv_sec >= FORK_SECONDS)
            break;
        alarm(WATCHDOG); /* this fork and its child */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) { /* the child: the heap works, one thread or not */
            char *p = malloc(100), *q = realloc(p, 5000);
            free(q ? q : p);
            _exit(p && q ? 0 : 1);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    alarm(0);
    printf("    %ld forks\n", k);
    free(g_text);
    harness_report_time();
    if (atomic_load(&g_failed))
        fail_msg("%s", g_fail);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

/* ---- fork from a signal handler that interrupts allocations --------------- */

static volatile sig_atomic_t g_forks, g_bad_child;

static void fork_now(int sig)
{
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        g_bad_child = 1;
    g_forks++;
    errno = saved;
}

static void fork_in_signal_handler(void **state)
{
    (void)state;
    harness_start();
    alarm(WATCHDOG);
    struct sigaction sa = {0};
    sa.sa_handler = fork_now;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    timer_t tm;
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    assert_int_equal(timer_create(CLOCK_MONOTONIC, &ev, &tm), 0);
    struct itimerspec its = {{0, 200000}, {0, 200000}}; /* every 0.2 ms */
    assert_int_equal(timer_settime(tm, 0, &its, NULL), 0);
    long want = iters(200);
    void *keep[64] = {NULL};
    for (unsigned i = 0; g_forks < want; i++) {
        unsigned k = i % 64;
        free(keep[k]);
        keep[k] = malloc(16 + (i * 37) % 3000);
        if (!keep[k])
            break;
    }
    assert_int_equal(timer_delete(tm), 0);
    signal(SIGUSR1, SIG_IGN);
    alarm(0);
    for (unsigned k = 0; k < 64; k++)
        free(keep[k]);
    harness_report_time();
    assert_int_equal(g_bad_child, 0);
    assert_true(g_forks >= want);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

int main(void)
{
    /* The signal-handler case first: it needs a process with one thread. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fork_in_signal_handler),
        cmocka_unit_test(stdio_and_realloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
