/*
 * sysheap.c - the system heap's allocation interface (<gjbmem/sysheap.h>):
 * gjbmem_malloc, calloc, memalign, realloc, free, usable_size and the error
 * policy. gjbmem_malloc and gjbmem_free inline their common case (a heap
 * block, no guard) and leave the rest to out-of-line functions: growth,
 * direct mappings, guards (hardening level 2+), bad pointers. The heap's
 * memory, start-up and statistics are in the other sysheap_*.c files
 * (sysheap_state.h lists them).
 */
#include <errno.h>
#include <string.h>

#include "sysheap_state.h"
#include "gjbext.h"
#include "gjbmem/sysheap.h"

struct gjb_sys gjb_sys;

/* --- allocation (lock held) -------------------------------------------- */

/* Bytes a request of size takes with its guard; false for one no block of
 * the system heap may have: beyond PTRDIFF_MAX (glibc refuses those too, so
 * that the difference of two pointers into a block is defined), or one the
 * guard would overflow. */
static bool request_bytes(size_t size, size_t *need)
{
    return size <= PTRDIFF_MAX && gjb_guard_need(size, need);
}

static int engine_alloc(size_t align, size_t size, void **p)
{
    if (!gjb_sys.h)
        return GJB_E_NOMEM;
    return align > 1 ? gjb_heap_memalign(gjb_sys.h, align, size, p)
                     : gjb_heap_alloc_inline(gjb_sys.h, size, p);
}

static void *alloc_locked(size_t align, size_t size)
{
    if (size == 0)
        size = 1;
    void *p;
    bool big = size >= GJBMEM_SYSHEAP_DIRECT;
    if (big && (p = gjb_sys_direct_alloc(align, size)) != NULL)
        return p; /* else the heap's free memory may still hold it, without growing */
    if (engine_alloc(align, size, &p) == GJB_OK)
        return p;
    if (!big && gjb_sys_grow(size + (align > 1 ? align : 0)) == 0 &&
        engine_alloc(align, size, &p) == GJB_OK)
        return p;
    return NULL;
}

/* Allocates under the lock; if fresh is not NULL, *fresh tells whether the
 * block is a new direct mapping (zero-filled by the host). */
static void *allocate(size_t align, size_t size, bool *fresh)
{
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return NULL;
    }
    size_t need;
    bool ok = request_bytes(size, &need);
    gjb_sys_lock();
    void *p = ok ? alloc_locked(align, need) : NULL;
    if (fresh)
        *fresh = p && gjb_big_get(&gjb_sys.big, p) != 0;
    if (GJB_GUARDED && p)
        gjb_guard_new(p, gjb_sys_raw_usable(p), 0, size);
    gjb_sys_unlock();
    if (!p)
        gjb_port_set_errno(ENOMEM);
    return p;
}

/* The rest of a plain allocation of size bytes (0 < size < DIRECT) that the
 * heap could not hold (lock held, released here): growth. */
static GJB_NOINLINE void *alloc_grown(size_t size)
{
    void *p;
    if (gjb_sys_grow(size) != 0 || engine_alloc(1, size, &p) != GJB_OK)
        p = NULL;
    gjb_sys_unlock();
    if (!p)
        gjb_port_set_errno(ENOMEM);
    return p;
}

/* A plain allocation: the common case inline, a heap block (no guard) the
 * heap holds now; the rest as allocate does it, growth after the heap said
 * no. fresh as for allocate. */
static GJB_ALWAYS_INLINE void *allocate_plain(size_t size, bool *fresh)
{
    if (!GJB_GUARDED && GJB_LIKELY(size - 1 < GJBMEM_SYSHEAP_DIRECT - 1 && !gjb_fast_in_isr())) {
        void *p;
        if (fresh)
            *fresh = false; /* no direct mapping */
        gjb_sys_lock();
        if (GJB_LIKELY(gjb_sys.h != NULL) && gjb_heap_alloc_inline(gjb_sys.h, size, &p) == GJB_OK) {
            gjb_sys_unlock();
            return p;
        }
        return alloc_grown(size);
    }
    return allocate(1, size, fresh);
}

void *gjbmem_malloc(size_t size)
{
    return allocate_plain(size, NULL);
}

void *gjbmem_memalign(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1))) {
        gjb_port_set_errno(EINVAL);
        return NULL;
    }
    return allocate(align, size, NULL);
}

void *gjbmem_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        gjb_port_set_errno(ENOMEM);
        return NULL;
    }
    bool fresh;
    void *p = allocate_plain(n * size, &fresh);
    if (p && (!fresh || GJB_FILLED)) /* a new direct mapping comes zeroed */
        memset(p, 0, n * size);
    return p;
}

/* Frees p, which the heap refused (st), under the lock: 0 when it is a
 * direct mapping, else EINVAL (*corrupt set when the engine found damage on
 * the way). */
static int free_direct_locked(void *p, int st, bool *corrupt)
{
    *corrupt = st == GJB_E_CORRUPT;
    size_t len = gjb_big_get(&gjb_sys.big, p);
    if (!len)
        return EINVAL;
    gjb_sys_direct_free(p, len);
    return 0;
}

/* Frees p under the lock: 0, or EINVAL when p is no block of the heap
 * (*corrupt set when the engine found damage on the way). */
static int free_locked(void *p, bool *corrupt)
{
    int st = gjb_sys.h ? gjb_heap_free_inline(gjb_sys.h, p) : GJB_E_BADPTR;
    return st == GJB_OK ? 0 : free_direct_locked(p, st, corrupt);
}

/* Fails a call with err after carrying out the policy (pol: a copy taken
 * under the lock, none held now) for pointer p. */
void gjb_sys_misuse(const struct gjb_errpolicy *pol, const char *call, int err, bool corrupt,
                   const void *p)
{
    struct gjbmem_error e = {0, call, err, corrupt, p};
    gjb_errpolicy_report(pol, &e);
    gjb_port_set_errno(err);
}

/* The end of a free of p under the lock (err: 0 or its errno; corrupt:
 * damage found): the lock goes; a failure runs the error policy for call
 * (the name a report gives) and returns -1. */
static int free_done(void *p, const char *call, int err, bool corrupt)
{
    if (GJB_LIKELY(!err)) {
        gjb_sys_unlock();
        return 0;
    }
    struct gjb_errpolicy pol = gjb_sys.pol;
    gjb_sys_unlock();
    gjb_sys_misuse(&pol, call, err, corrupt, p);
    return -1;
}

/* gjbmem_free, for call (the name a report gives). */
static int free_call(void *p, const char *call)
{
    if (!p)
        return 0;
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return -1;
    }
    bool corrupt = false;
    int err = 0;
    gjb_sys_lock();
    size_t u = GJB_GUARDED ? gjb_sys_raw_usable(p) : 0;
    if (!gjb_guard_release(p, u)) {
        err = EINVAL; /* a broken guard: the block stays as it is */
        corrupt = true;
    } else {
        err = free_locked(p, &corrupt);
    }
    return free_done(p, call, err, corrupt);
}

/* The rest of a free the heap refused (st; lock held, released here): a
 * direct mapping, or a bad pointer reported by the error policy. */
static GJB_NOINLINE int free_refused(void *p, int st)
{
    bool corrupt = false;
    int err = free_direct_locked(p, st, &corrupt);
    return free_done(p, "gjbmem_free", err, corrupt);
}

int gjbmem_free(void *p)
{
    /* The common case inline: a heap block (no guard to check first). */
    if (!GJB_GUARDED && GJB_LIKELY(p != NULL && !gjb_fast_in_isr())) {
        gjb_sys_lock();
        int st = GJB_LIKELY(gjb_sys.h != NULL) ? gjb_heap_free_inline(gjb_sys.h, p) : GJB_E_BADPTR;
        if (GJB_LIKELY(st == GJB_OK)) {
            gjb_sys_unlock();
            return 0;
        }
        return free_refused(p, st);
    }
    return free_call(p, "gjbmem_free");
}

int gjbmem_sysheap_set_error_policy(unsigned flags, gjbmem_error_hook hook, void *arg)
{
    if (gjb_port_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return -1;
    }
    if (!gjb_errpolicy_valid(flags, hook)) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    gjb_sys_lock();
    gjb_sys.pol = (struct gjb_errpolicy){flags, hook, arg};
    gjb_sys_unlock();
    return 0;
}

size_t gjbmem_usable_size(const void *p)
{
    if (!p)
        return 0;
    gjb_sys_lock();
    size_t n = gjb_sys_usable(p);
    gjb_sys_unlock();
    return n == SIZE_MAX ? 0 : n;
}

/* Resizes block p (holding old bytes) to need bytes under the lock: the
 * new pointer, or NULL (ENOMEM). */
static void *resize_locked(void *p, size_t old, size_t need)
{
    size_t len = gjb_big_get(&gjb_sys.big, p);
    void *q;
    if (!len && need < GJBMEM_SYSHEAP_DIRECT) {
        if (gjb_heap_realloc(gjb_sys.h, p, need, &q) == GJB_OK)
            return q;
        if (gjb_sys_grow(need) == 0 && gjb_heap_realloc(gjb_sys.h, p, need, &q) == GJB_OK)
            return q;
        return NULL;
    }
    if (len && need >= GJBMEM_SYSHEAP_DIRECT / 2 && need <= len)
        return p; /* a direct mapping keeps its pages when it shrinks a little */
    if (len && need >= GJBMEM_SYSHEAP_DIRECT && (q = gjb_sys_direct_resize(p, len, need)) != NULL)
        return q;
    q = alloc_locked(1, need);
    if (!q)
        return NULL;
    memcpy(q, p, old < need ? old : need);
    bool corrupt;
    free_locked(p, &corrupt);
    return q;
}

/* Resizes a block under the lock: the new pointer, or NULL with *err
 * (*corrupt: p's guard is broken). */
static void *realloc_locked(void *p, size_t size, int *err, bool *corrupt)
{
    size_t raw = gjb_sys_raw_usable(p), need;
    size_t old = GJB_GUARDED && raw ? gjb_guard_size(p, raw) : raw; /* may be 0 */
    if (!raw || old == SIZE_MAX) {
        *corrupt = raw != 0;
        *err = EINVAL;
        return NULL;
    }
    void *q = request_bytes(size, &need) ? resize_locked(p, old, need) : NULL;
    if (!q) {
        *err = ENOMEM;
        return NULL;
    }
    if (GJB_GUARDED)
        gjb_guard_new(q, gjb_sys_raw_usable(q), old, size);
    return q;
}

void *gjbmem_realloc(void *p, size_t size)
{
    if (!p)
        return gjbmem_malloc(size);
    if (size == 0) {
        free_call(p, "gjbmem_realloc");
        return NULL;
    }
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return NULL;
    }
    int err = 0;
    bool corrupt = false;
    gjb_sys_lock();
    void *q = realloc_locked(p, size, &err, &corrupt);
    struct gjb_errpolicy pol = gjb_sys.pol;
    gjb_sys_unlock();
    if (q)
        return q;
    if (err == EINVAL)
        gjb_sys_misuse(&pol, "gjbmem_realloc", err, corrupt, p);
    else
        gjb_port_set_errno(err);
    return NULL;
}
