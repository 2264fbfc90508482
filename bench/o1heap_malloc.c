/*
 * o1heap_malloc.c - o1heap (Pavel Kirienko's constant-time allocator) as
 * malloc, for bench/cg_pairs.sh (LD_PRELOAD with bench_alloc's `preload`
 * kind), as tlsf_malloc.c does for TLSF. o1heap's own o1heap.c and o1heap.h
 * stay outside this repository (GJBMEM_O1HEAP_DIR); this file is only the
 * glue: one arena of 4 GiB of reserved address space (pages arrive as they
 * are touched), no lock (the bench is single-threaded), o1heap's alignment
 * (four pointers: 32 bytes on LP64). o1heap has no realloc, memalign or
 * usable size: realloc copies what the fragment header says the block
 * holds, the aligned calls fail. Not a malloc for programs: it is never
 * freed to the system and it is not thread-safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "o1heap.h"

static O1HeapInstance *heap;

static O1HeapInstance *get(void)
{
    if (!heap) {
        size_t n = (size_t)1 << 32;
        void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (m != MAP_FAILED)
            heap = o1heapInit(m, n - 4096);
    }
    return heap;
}

void *malloc(size_t n)
{
    return get() ? o1heapAllocate(heap, n) : NULL;
}

void free(void *p)
{
    if (p)
        o1heapFree(heap, p);
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

/* A block's bytes: its fragment's size (the third word of the fragment
 * header in front of it, o1heap 2.x) less the header. */
size_t malloc_usable_size(void *p)
{
    return p ? ((size_t *)(void *)((char *)p - O1HEAP_ALIGNMENT))[2] - O1HEAP_ALIGNMENT : 0;
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    void *q = malloc(n);
    if (q) {
        size_t old = malloc_usable_size(p);
        memcpy(q, p, old < n ? old : n);
        free(p);
    }
    return q;
}

void *memalign(size_t a, size_t n)
{
    (void)a;
    (void)n;
    errno = ENOMEM;
    return NULL;
}

void *aligned_alloc(size_t a, size_t n)
{
    return memalign(a, n);
}

int posix_memalign(void **r, size_t a, size_t n)
{
    (void)r;
    return memalign(a, n) ? 0 : ENOMEM;
}
