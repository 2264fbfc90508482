/*
 * thread_harness.h - what the multi-threaded tests share: the first failure
 * of any thread, CHECK/CHECKF for worker functions returning bool, the
 * timer, GJB_STRESS_SCALE and a small random generator. Include once, after
 * <cmocka.h> and <gjbext.h>.
 */
#ifndef GJB_THREAD_HARNESS_H
#define GJB_THREAD_HARNESS_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gjbmem/posix.h>

static atomic_int g_stop;   /* set on the first failure (or to end a run): threads wind down */
static atomic_int g_failed; /* a failure was recorded in g_fail */
static char g_fail[512];
static struct timespec g_t0;

/* Records the first failure of any thread; later ones are dropped. */
static inline void tfail(int line, const char *expr, const char *fmt, ...)
{
    int saved = errno;
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_failed, &expected, 1)) {
        char extra[256] = "";
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(extra, sizeof extra, fmt, ap);
            va_end(ap);
        }
        snprintf(g_fail, sizeof g_fail, "line %d: check failed: %s (errno %d: %s) %s", line, expr,
                 saved, gjbmem_strerror(saved), extra);
    }
    atomic_store(&g_stop, 1);
}

/* In a function returning bool: fails the test unless cond holds. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            tfail(__LINE__, #cond, NULL);                                                          \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            tfail(__LINE__, #cond, __VA_ARGS__);                                                   \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

static inline bool stopped(void)
{
    return atomic_load_explicit(&g_stop, memory_order_relaxed) != 0;
}

/* Starts a test: timer, no failure, not in interrupt context. */
static inline void harness_start(void)
{
    clock_gettime(CLOCK_MONOTONIC, &g_t0);
    atomic_store(&g_stop, 0);
    atomic_store(&g_failed, 0);
    g_fail[0] = '\0';
    gjbmem_posix_set_isr(0);
}

/* Prints the seconds since harness_start. */
static inline void harness_report_time(void)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("    %.2f s\n", (double)(t1.tv_sec - g_t0.tv_sec) +
                                     (double)(t1.tv_nsec - g_t0.tv_nsec) / 1e9);
}

/* Fails the calling cmocka test if any thread recorded a failure. */
static inline void assert_no_thread_failure(void)
{
    if (atomic_load(&g_failed))
        fail_msg("%s", g_fail);
}

static inline double stress_scale(void)
{
    const char *s = getenv("GJB_STRESS_SCALE");
    if (!s || !*s)
        return 1.0;
    char *end;
    double v = strtod(s, &end);
    return (*end == '\0' && v > 0 && v < 1e6) ? v : 1.0;
}

/* base iterations scaled by GJB_STRESS_SCALE, at least 1. */
static inline long iters(long base)
{
    double n = (double)base * stress_scale();
    return n < 1 ? 1 : (long)n;
}

/* xorshift64* */
static inline uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

#endif
