/*
 * model_support.h - what the two model-based tests (test_heap_model.c,
 * test_buddy_model.c) share: the failure context of their checks (layout,
 * seed and operation in every message), their random numbers, the pattern
 * every payload carries, and the number of operations per region layout.
 * Static definitions: each test includes it once, after <cmocka.h>.
 */
#ifndef GJB_MODEL_SUPPORT_H
#define GJB_MODEL_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* --- failure context ---------------------------------------------------- */

static const char *cur_layout = "";
static long cur_seed, cur_op;

static void fail_ctx(int line, const char *what, const char *fmt, ...)
{
    char extra[256] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    fail_msg("layout %s seed %ld op %ld, line %d: %s %s", cur_layout, cur_seed, cur_op, line,
             what, extra);
}

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_ctx(__LINE__, #cond, __VA_ARGS__);                                                \
    } while (0)

#define EQ(a, b)                                                                                   \
    do {                                                                                           \
        uintmax_t a_ = (uintmax_t)(a), b_ = (uintmax_t)(b);                                        \
        if (a_ != b_)                                                                              \
            fail_ctx(__LINE__, #a " == " #b, "(%#jx != %#jx)", a_, b_);                            \
    } while (0)

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

/* --- payload patterns --------------------------------------------------- */

static unsigned char pat(unsigned tag, size_t k)
{
    return (unsigned char)(tag * 131u + k * 7u + (k >> 8));
}

static void check_pattern(const unsigned char *p, size_t n, unsigned tag)
{
    for (size_t k = 0; k < n; k++)
        if (p[k] != pat(tag, k))
            fail_ctx(__LINE__, "pattern intact", "byte %zu of %zu at %p (tag %u)", k, n,
                     (const void *)p, tag);
}

/* GJB_MODEL_OPS in the environment: operations per region layout. */
static long ops_per_layout(void)
{
    const char *e = getenv("GJB_MODEL_OPS");
    long n = e ? atol(e) : 600000;
    return n > 0 ? n : 600000;
}

#endif
