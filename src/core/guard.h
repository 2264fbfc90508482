/*
 * guard.h - the one guard layer: the hardening levels above 1
 * (GJBMEM_HARDENING in config.h), applied by the API layer around the
 * engine, for partitions (mpart.c, through the gjb_guarded_* calls on one
 * heap) and for the system heap (sysheap.c, through the block steps
 * gjb_guard_need / gjb_guard_new / gjb_guard_size / gjb_guard_release, since
 * its blocks are heap blocks or direct mappings):
 *
 *   2  every block gets a guard: its bytes past the request hold
 *      GJB_GUARD_FILL, and its last word holds the request's size xor'ed
 *      with the block's address and a key. Free, realloc, usable size and
 *      validate check it: a block whose guard is broken is not freed or
 *      resized, and the call reports damage (ERROR_REGION_NULL and the
 *      error policy).
 *   3  also: new memory reads GJB_NEW_FILL, freed memory GJB_FREE_FILL.
 *
 * At level 1 the fill and guard functions are empty inlines and
 * the gjb_guarded_* calls are the engine's own.
 */
#ifndef GJB_GUARD_H
#define GJB_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/heap_ops.h"
#include "gjbmem/config.h"
#include "gjbmem/heap.h"

#define GJB_GUARDED (GJBMEM_HARDENING >= 2)
#define GJB_FILLED (GJBMEM_HARDENING >= 3)

#define GJB_GUARD_FILL 0xa5u /* between the request and the guard word */
#define GJB_NEW_FILL 0xcdu   /* level 3: a new block's bytes */
#define GJB_FREE_FILL 0xddu  /* level 3: a freed block's bytes */
#define GJB_GUARD_KEY ((uintptr_t)0x6a626d6775617264ULL)

/* Bytes a request of size needs with its guard: false on overflow. */
static inline bool gjb_guard_need(size_t size, size_t *need)
{
    size_t extra = GJB_GUARDED ? sizeof(uintptr_t) : 0;
    *need = size + extra;
    return size <= SIZE_MAX - extra;
}

/* Writes the guard of block p (usable bytes u) holding a request of size
 * (u >= gjb_guard_need(size)). */
static inline void gjb_guard_set(void *p, size_t u, size_t size)
{
    if (!GJB_GUARDED)
        return;
    unsigned char *b = p;
    uintptr_t w = (uintptr_t)size ^ (uintptr_t)p ^ GJB_GUARD_KEY;
    memset(b + size, GJB_GUARD_FILL, u - sizeof w - size);
    memcpy(b + u - sizeof w, &w, sizeof w);
}

/* The request size the guard of block p (usable bytes u) records, or
 * SIZE_MAX when the guard is broken. O(bytes past the request). */
static inline size_t gjb_guard_size(const void *p, size_t u)
{
    if (!GJB_GUARDED)
        return u;
    const unsigned char *b = p;
    uintptr_t w;
    if (u < sizeof w)
        return SIZE_MAX;
    memcpy(&w, b + u - sizeof w, sizeof w);
    size_t size = (size_t)(w ^ (uintptr_t)p ^ GJB_GUARD_KEY);
    if (size > u - sizeof w)
        return SIZE_MAX;
    for (size_t i = size; i < u - sizeof w; i++)
        if (b[i] != GJB_GUARD_FILL)
            return SIZE_MAX;
    return size;
}

/* Level 3: fills [p + from, p + to) of a block as new memory. */
static inline void gjb_fill_new(void *p, size_t from, size_t to)
{
    if (GJB_FILLED && to > from)
        memset((unsigned char *)p + from, GJB_NEW_FILL, to - from);
}

/* Level 3: fills the u usable bytes of block p, about to be freed. */
static inline void gjb_fill_free(void *p, size_t u)
{
    if (GJB_FILLED)
        memset(p, GJB_FREE_FILL, u);
}

/* A block p of u usable bytes now holds a request of size bytes, of which
 * the first old were there before (a resize; 0 for a new block): level 3
 * fills the rest of the request as new, level 2+ writes the guard. */
static inline void gjb_guard_new(void *p, size_t u, size_t old, size_t size)
{
    if (!GJB_GUARDED)
        return;
    gjb_fill_new(p, old, size);
    gjb_guard_set(p, u, size);
}

/* Block p of u usable bytes (0: not known to be a block, nothing done) is
 * about to be freed: false when its guard is broken (it must stay as it
 * is); else true, its bytes filled as freed at level 3. */
static inline bool gjb_guard_release(void *p, size_t u)
{
    if (!GJB_GUARDED || !u)
        return true;
    if (gjb_guard_size(p, u) == SIZE_MAX)
        return false;
    gjb_fill_free(p, u);
    return true;
}

/* --- one heap's calls with guards (the plain engine calls at level 1) */

/* gjb_heap_memalign, the block guarded (and filled at level 3). */
static inline int gjb_guarded_memalign(gjb_heap *h, size_t align, size_t size, void **out)
{
    size_t need;
    if (!gjb_guard_need(size, &need))
        return GJB_E_TOOBIG;
    int st = gjb_heap_memalign(h, align, size ? need : 0, out);
    if (GJB_GUARDED && st == GJB_OK)
        gjb_guard_new(*out, gjb_heap_usable_size(h, *out), 0, size);
    return st;
}

/* gjb_heap_alloc, the block guarded (and filled at level 3). */
static GJB_ALWAYS_INLINE int gjb_guarded_alloc(gjb_heap *h, size_t size, void **out)
{
    if (!GJB_GUARDED)
        return gjb_heap_alloc_inline(h, size, out);
    return gjb_guarded_memalign(h, 1, size, out);
}

/* gjb_heap_free; a block whose guard is broken is refused with CORRUPT. */
static GJB_ALWAYS_INLINE int gjb_guarded_free(gjb_heap *h, void *p)
{
    size_t u = GJB_GUARDED && p ? gjb_heap_usable_size(h, p) : 0;
    if (!gjb_guard_release(p, u))
        return GJB_E_CORRUPT;
    return gjb_heap_free_inline(h, p);
}

/* gjb_heap_realloc with guards: the old guard is checked (CORRUPT when
 * broken), the new one written; at level 3 the grown part reads as new. */
static inline int gjb_guarded_realloc(gjb_heap *h, void *p, size_t size, void **out)
{
    if (!GJB_GUARDED)
        return gjb_heap_realloc(h, p, size, out);
    if (!p)
        return gjb_guarded_memalign(h, 1, size, out);
    size_t u = size ? gjb_heap_usable_size(h, p) : 0;
    if (!u)
        return gjb_heap_realloc(h, p, size, out); /* INVAL, BADPTR or CORRUPT */
    size_t old = gjb_guard_size(p, u), need;
    if (old == SIZE_MAX)
        return GJB_E_CORRUPT;
    if (!gjb_guard_need(size, &need))
        return GJB_E_TOOBIG;
    int st = gjb_heap_realloc(h, p, need, out);
    if (st == GJB_OK)
        gjb_guard_new(*out, gjb_heap_usable_size(h, *out), old, size);
    return st;
}

/* Usable bytes of block p: what was asked for, at levels 2-3 (so that
 * writing up to it never breaks the guard); 0 when p is no block or its
 * guard is broken. */
static inline size_t gjb_guarded_usable(const gjb_heap *h, const void *p)
{
    size_t u = gjb_heap_usable_size(h, p);
    if (!GJB_GUARDED || !u)
        return u;
    size_t size = gjb_guard_size(p, u);
    return size == SIZE_MAX ? 0 : size;
}

/* Largest request gjb_guarded_memalign(h, 1, ...) would satisfy now. */
static inline size_t gjb_guarded_max(const gjb_heap *h)
{
    size_t m = gjb_heap_max_alloc(h);
    if (!GJB_GUARDED)
        return m;
    return m > sizeof(uintptr_t) ? m - sizeof(uintptr_t) : 0;
}

static inline int gjb_guard_walk_fn(void *ctx, void *payload, size_t size, bool used)
{
    (void)ctx;
    return used && gjb_guard_size(payload, size) == SIZE_MAX;
}

/* gjb_heap_validate, then every allocated block's guard. O(bytes). */
static inline int gjb_guarded_validate(const gjb_heap *h)
{
    int st = gjb_heap_validate(h);
    if (GJB_GUARDED && st == GJB_OK && gjb_heap_walk(h, gjb_guard_walk_fn, NULL))
        st = GJB_E_CORRUPT;
    return st;
}

#endif
