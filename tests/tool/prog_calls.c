/*
 * prog_calls.c - a program the tool tests record: single-threaded and
 * deterministic, it makes every call of the malloc family at least once,
 * the edge cases included (free(NULL), realloc(NULL, n), realloc(p, 0),
 * calloc and reallocarray overflowing, a failing malloc, posix_memalign
 * with bad alignments, pvalloc(0), malloc_usable_size(NULL)), then ROUNDS
 * rounds of mixed work (argument 1, default 16). It prints "calls N" on
 * stdout (every call it made: each is one record of its trace) and
 * "prog_calls done" on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "say.h"

static long calls;

#define KEEP 32

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 16;

    volatile size_t huge = SIZE_MAX / 2; /* volatile: no compile-time warning */
    void *a = malloc(100);
    void *z = malloc(0);
    void *c = calloc(10, 10);
    void *cbad = calloc(huge, 4);  /* n * size overflows */
    void *big = malloc(huge);      /* more than any heap */
    calls += 5;
    EXPECT(a && z && c && !cbad && !big);

    void *r = realloc(NULL, 50); /* as malloc */
    void *r2 = realloc(r, 5000);
    calls += 2;
    EXPECT(r && r2);
    errno = 0;
    void *r0 = realloc(r2, 0);   /* frees r2 (glibc returns NULL) */
    calls++;
    EXPECT(!r0);

    void *ra = reallocarray(NULL, 4, 8);
    calls++;
    EXPECT(ra);
    errno = 0;
    void *rbad = reallocarray(ra, huge, 4); /* overflows: ra is intact */
    calls++;
    EXPECT(!rbad && errno == ENOMEM);
    ra = reallocarray(ra, 16, 8);
    calls++;
    EXPECT(ra);

    void *m = memalign(64, 100);
    void *pm = NULL, *bad = NULL;
    int rc1 = posix_memalign(&pm, 256, 200);
    int rc2 = posix_memalign(&bad, 3, 10);  /* not a multiple of sizeof(void *) */
    int rc3 = posix_memalign(&bad, 24, 10); /* not a power of two */
    void *al = aligned_alloc(128, 256);
    void *v = valloc(100);
    void *pv = pvalloc(100);
    void *pv0 = pvalloc(0);
    calls += 8;
    EXPECT(m && ((uintptr_t)m & 63) == 0 && rc1 == 0 && ((uintptr_t)pm & 255) == 0);
    EXPECT(rc2 == EINVAL && rc3 == EINVAL && !bad);
    EXPECT(al && ((uintptr_t)al & 127) == 0 && v && pv && pv0);

    size_t u1 = malloc_usable_size(a);
    size_t u0 = malloc_usable_size(NULL);
    free(NULL);
    calls += 3;
    EXPECT(u1 >= 100 && u0 == 0);

    /* Mixed work, the same every run: sizes from a fixed LCG. */
    void *keep[KEEP] = {0};
    unsigned x = 12345;
    for (long i = 0; i < rounds; i++) {
        for (int k = 0; k < KEEP; k++) {
            x = x * 1103515245u + 12345u;
            size_t size = 1 + (x >> 16) % (k % 4 == 3 ? 3000 : 200);
            if (!keep[k]) {
                keep[k] = malloc(size);
                EXPECT(keep[k]);
            } else if (x & 0x100) {
                keep[k] = realloc(keep[k], size);
                EXPECT(keep[k]);
            } else {
                free(keep[k]);
                keep[k] = NULL;
            }
            calls++;
        }
    }
    for (int k = 0; k < KEEP; k++)
        if (keep[k]) {
            free(keep[k]);
            calls++;
        }

    void *blocks[] = {a, z, c, ra, m, pm, al, v, pv, pv0};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        free(blocks[i]);
    calls += (long)(sizeof blocks / sizeof *blocks);

    say(1, "calls", calls);
    say(2, "prog_calls done", -1);
    return 0;
}
