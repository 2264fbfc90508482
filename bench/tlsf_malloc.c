/*
 * tlsf_malloc.c - TLSF 3.1 as malloc, for bench/peers.sh (LD_PRELOAD with
 * bench_alloc's `preload` kind). TLSF's own tlsf.c and tlsf.h stay outside
 * this repository (GJBMEM_TLSF_DIR); this file is only the glue: one pool
 * of 4 GiB of reserved address space (pages arrive as they are touched),
 * no lock (the bench is single-threaded), TLSF's alignment as shipped (8
 * bytes on LP64). Not a malloc for programs: it is never freed to the
 * system and it is not thread-safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "tlsf.h"

static tlsf_t pool;

static tlsf_t get(void)
{
    if (!pool) {
        size_t n = (size_t)1 << 32;
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (m != MAP_FAILED)
            pool = tlsf_create_with_pool(m, n - 4096);
    }
    return pool;
}

void *malloc(size_t n)
{
    return get() ? tlsf_malloc(pool, n) : NULL;
}

void free(void *p)
{
    if (p)
        tlsf_free(pool, p);
}

void *calloc(size_t a, size_t b)
{
    if (b && a > SIZE_MAX / b)
        return NULL;
    void *p = malloc(a * b);
    if (p)
        memset(p, 0, a * b);
    return p;
}

void *realloc(void *p, size_t n)
{
    return get() ? tlsf_realloc(pool, p, n) : NULL;
}

void *memalign(size_t a, size_t n)
{
    return get() ? tlsf_memalign(pool, a, n) : NULL;
}

void *aligned_alloc(size_t a, size_t n)
{
    return memalign(a, n);
}

int posix_memalign(void **r, size_t a, size_t n)
{
    void *p = memalign(a, n);
    if (!p)
        return ENOMEM;
    *r = p;
    return 0;
}

size_t malloc_usable_size(void *p)
{
    return p ? tlsf_block_size(p) : 0;
}
