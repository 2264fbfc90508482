/*
 * shm_test.h - what the multi-process tests of tests/shm/ share: a
 * checksummed fill pattern, a small random generator, the scale setting
 * (GJB_STRESS_SCALE, which scripts/memcheck.sh lowers under valgrind) and
 * pipe messages.
 */
#ifndef GJB_SHM_TEST_H
#define GJB_SHM_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* xorshift64*: the tests' own, so a seed gives the same run anywhere. */
static inline uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Fills [p, p+n) with a pattern of seed whose first word records n and
 * seed (n >= 8): check() then needs only p. */
static inline void fill(unsigned char *p, size_t n, uint32_t seed)
{
    uint32_t head[2] = {(uint32_t)n, seed};
    memcpy(p, head, sizeof head);
    for (size_t i = sizeof head; i < n; i++)
        p[i] = (unsigned char)(seed + i * 131u);
}

/* True when block p still holds what fill() wrote (of at most max bytes). */
static inline int check(const unsigned char *p, size_t max)
{
    uint32_t head[2];
    memcpy(head, p, sizeof head);
    if (head[0] < sizeof head || head[0] > max)
        return 0;
    for (size_t i = sizeof head; i < head[0]; i++)
        if (p[i] != (unsigned char)(head[1] + i * 131u))
            return 0;
    return 1;
}

/* n scaled by GJB_STRESS_SCALE (at least 1). */
static inline long scaled(long n)
{
    const char *s = getenv("GJB_STRESS_SCALE");
    double f = s ? atof(s) : 1.0;
    long v = (long)((double)n * (f > 0 ? f : 1.0));
    return v < 1 ? 1 : v;
}

static inline int send_long(int fd, long v)
{
    return write(fd, &v, sizeof v) == (ssize_t)sizeof v ? 0 : -1;
}

static inline int recv_long(int fd, long *v)
{
    return read(fd, v, sizeof *v) == (ssize_t)sizeof *v ? 0 : -1;
}

#endif
