/*
 * sysheap.c - the system heap's allocation interface (<gjbmem/sysheap.h>):
 * gjbmem_malloc, calloc, memalign, realloc, free, usable_size and the error
 * policy. gjbmem_malloc and gjbmem_free inline their common case (a block
 * of the calling thread's arena, or of the arena the chunk map names; no
 * guard) and leave the rest to out-of-line functions: other arenas, growth,
 * direct mappings, guards (hardening level 2+), bad pointers. The heap's
 * memory, arenas, start-up and statistics are in the other files
 * sysheap_state.h lists.
 */
#include <errno.h>
#include <string.h>

#include "sysheap_state.h"
#include "gjbext.h"
#include "gjbmem/sysheap.h"

struct gjb_sys gjb_sys;

/* Bytes a request of size takes with its guard (at least 1); false for one
 * no block of the system heap may have: beyond PTRDIFF_MAX (glibc refuses
 * those too, so that the difference of two pointers into a block is
 * defined), or one the guard would overflow. */
static bool request_bytes(size_t size, size_t *need)
{
    if (size > PTRDIFF_MAX || !gjb_guard_need(size, need))
        return false;
    *need += *need == 0;
    return true;
}

void gjb_sys_misuse(const char *call, int err, bool corrupt, const void *p)
{
    gjb_sys_lock();
    struct gjb_errpolicy pol = gjb_sys.pol;
    gjb_sys_unlock();
    struct gjbmem_error e = {0, call, err, corrupt, p};
    gjb_errpolicy_report(&pol, &e);
    gjb_port_set_errno(err);
}

/* --- allocation ---------------------------------------------------------- */

/* A block of need bytes aligned to align from arena a (locked), without
 * growing, its guard made for a request of size bytes: GJB_OK or the
 * engine's refusal. */
static int arena_alloc(struct gjb_arena *a, size_t align, size_t need, size_t size, void **p)
{
    if (!a->h)
        return GJB_E_NOMEM;
    int st = align > 1 ? gjb_heap_memalign(a->h, align, need, p)
                       : gjb_heap_alloc_inline(a->h, need, p);
    if (GJB_GUARDED && st == GJB_OK)
        gjb_guard_new(*p, gjb_arena_raw(a, *p), 0, size);
    return st;
}

/* arena_alloc on arena a, locking it. */
static bool arena_try(struct gjb_arena *a, size_t align, size_t need, size_t size, void **p)
{
    gjb_arena_lock(a);
    int st = arena_alloc(a, align, need, size, p);
    gjb_arena_unlock(a);
    return st == GJB_OK;
}

/* A heap block after the calling thread's arena a said no: from another
 * arena's free memory, else (grow) from a grown. NULL when none. */
static void *heap_alloc_other(struct gjb_arena *a, size_t align, size_t need, size_t size, bool grow)
{
    void *p;
    for (unsigned i = 0; i < SYS_ARENAS; i++)
        if (&gjb_sys.arena[i] != a && arena_try(&gjb_sys.arena[i], align, need, size, &p))
            return p;
    if (!grow)
        return NULL;
    gjb_arena_lock(a);
    int st = gjb_sys_grow(a, need + (align > 1 ? align : 0));
    if (st == 0)
        st = arena_alloc(a, align, need, size, &p);
    gjb_arena_unlock(a);
    return st == GJB_OK ? p : NULL;
}

/* A direct mapping for a request of size bytes (need with its guard). */
static void *direct_alloc(size_t align, size_t need, size_t size, bool *fresh)
{
    gjb_sys_lock();
    void *p = gjb_sys_direct_alloc(align, need, fresh);
    if (GJB_GUARDED && p)
        gjb_guard_new(p, gjb_sys_direct_raw(p), 0, size);
    gjb_sys_unlock();
    return p;
}

/* Allocates size bytes aligned to align; if fresh is not NULL, *fresh
 * tells whether the block is new pages from the host (zero-filled). */
static void *allocate(size_t align, size_t size, bool *fresh)
{
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return NULL;
    }
    size_t need;
    void *p = NULL;
    bool f = false, big = false;
    if (request_bytes(size, &need)) {
        big = need >= GJBMEM_SYSHEAP_DIRECT;
        if (big) /* else the heap's free memory may still hold it, without growing */
            p = direct_alloc(align, need, size, &f);
        struct gjb_arena *a = p ? NULL : gjb_sys_mine();
        if (a && !arena_try(a, align, need, size, &p))
            p = heap_alloc_other(a, align, need, size, !big);
    }
    if (fresh)
        *fresh = f;
    if (!p)
        gjb_port_set_errno(ENOMEM);
    return p;
}

/* The rest of a plain allocation of size bytes (0 < size < DIRECT, no
 * guard) that the calling thread's arena a could not hold now. */
static GJB_NOINLINE void *alloc_more(struct gjb_arena *a, size_t size)
{
    void *p = heap_alloc_other(a, 1, size, size, true);
    if (!p)
        gjb_port_set_errno(ENOMEM);
    return p;
}

void *gjb_sys_heap_block(size_t size)
{
    struct gjb_arena *a = gjb_sys_mine();
    void *p;
    if (arena_try(a, size, size, size, &p))
        return p;
    return heap_alloc_other(a, size, size, size, true);
}

/* A plain allocation: the common case inline, a block (no guard) the
 * calling thread's arena holds now; the rest as allocate does it. fresh as
 * for allocate. */
static GJB_ALWAYS_INLINE void *allocate_plain(size_t size, bool *fresh)
{
    if (!GJB_GUARDED && GJB_LIKELY(size - 1 < GJBMEM_SYSHEAP_DIRECT - 1 && !gjb_fast_in_isr())) {
        if (fresh)
            *fresh = false; /* no direct mapping */
        if (GJB_UNLIKELY(gjb_slab_range(size)) && gjb_slab_on()) {
            void *q = gjb_slab_alloc(size); /* else a block of its own */
            if (q)
                return q;
        }
        struct gjb_arena *a = gjb_sys_mine();
        void *p;
        gjb_arena_lock(a);
        if (GJB_LIKELY(a->h != NULL) && gjb_heap_alloc_inline(a->h, size, &p) == GJB_OK) {
            gjb_arena_unlock(a);
            return p;
        }
        gjb_arena_unlock(a);
        return alloc_more(a, size);
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
    if (p && (!fresh || GJB_FILLED)) /* new pages from the host come zeroed */
        memset(p, 0, n * size);
    return p;
}

/* --- free ----------------------------------------------------------------- */

/* The rest of a free that no arena took (st: the last engine's answer): a
 * direct mapping, or a bad pointer the error policy reports for call. */
static GJB_NOINLINE int free_refused(void *p, int st, const char *call)
{
    gjb_sys_lock();
    size_t len = gjb_sys_direct_raw(p);
    bool ok = len && gjb_guard_release(p, len);
    if (ok)
        gjb_sys_direct_free(p, len);
    gjb_sys_unlock();
    if (ok)
        return 0;
    gjb_sys_misuse(call, EINVAL, st == GJB_E_CORRUPT || len, p);
    return -1;
}

/* Frees p in arena a (locked): the engine's answer, GJB_E_CORRUPT for a
 * broken guard (the block stays as it is). */
static int arena_free(struct gjb_arena *a, void *p, size_t raw)
{
    if (raw && !gjb_guard_release(p, raw))
        return GJB_E_CORRUPT;
    return a->h ? gjb_heap_free_inline(a->h, p) : GJB_E_BADPTR;
}

/* gjbmem_free, for call (the name a report gives): the arena the chunk map
 * names frees p (in a chunk several arenas share, the one holding it);
 * what none takes goes to free_refused. */
static int free_call(void *p, const char *call)
{
    if (!p)
        return 0;
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return -1;
    }
    enum gjb_slab_what w = gjb_slab_maybe(p) ? gjb_slab_free(p) : GJB_SLAB_NONE;
    if (w != GJB_SLAB_NONE) { /* (a slab's own block is the slabs' too, not the arenas') */
        if (w == GJB_SLAB_OK)
            return 0;
        gjb_sys_misuse(call, EINVAL, w == GJB_SLAB_DAMAGED, p);
        return -1;
    }
    unsigned lo, hi = gjb_sys_candidates(p, &lo);
    bool mixed = hi - lo > 1;
    int st = GJB_E_BADPTR;
    for (unsigned i = lo; i < hi; i++) {
        struct gjb_arena *a = &gjb_sys.arena[i];
        gjb_arena_lock(a);
        size_t raw = a->h ? gjb_heap_usable_size(a->h, p) : 0;
        bool kept = raw && gjb_tc_kept(p, raw), here = raw || !mixed;
        if (here) /* no block (raw 0): the engine refuses it, and says how */
            st = kept ? GJB_E_BADPTR : arena_free(a, p, raw);
        gjb_arena_unlock(a);
        if (here)
            break;
    }
    return st == GJB_OK ? 0 : free_refused(p, st, call);
}

int gjbmem_free(void *p)
{
    /* The common case inline: a block of the arena the chunk map names (no
     * guard to check first). */
    if (!GJB_GUARDED && GJB_LIKELY(p != NULL && !gjb_fast_in_isr()) &&
        !atomic_load_explicit(&gjb_tc_active, memory_order_relaxed) && /* no cache to look at */
        !gjb_slab_maybe(p)) {
        unsigned t = gjb_chunk_get(p);
        if (GJB_LIKELY(t - 1 < SYS_ARENAS)) {
            struct gjb_arena *a = &gjb_sys.arena[t - 1];
            gjb_arena_lock(a);
            int st = GJB_LIKELY(a->h != NULL) ? gjb_heap_free_inline(a->h, p) : GJB_E_BADPTR;
            gjb_arena_unlock(a);
            return GJB_LIKELY(st == GJB_OK) ? 0 : free_refused(p, st, "gjbmem_free");
        }
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

/* --- sizes and realloc ---------------------------------------------------- */

/* Usable size of a block of raw bytes at p: SIZE_MAX when its guard
 * (hardening level 2+) is broken; 0 when raw is. */
static size_t guarded(const void *p, size_t raw)
{
    return GJB_GUARDED && raw ? gjb_guard_size(p, raw) : raw;
}

size_t gjbmem_usable_size(const void *p)
{
    if (!p)
        return 0;
    size_t n = 0;
    enum gjb_slab_what w = gjb_slab_maybe(p) ? gjb_slab_size(p, &n) : GJB_SLAB_NONE;
    if (w != GJB_SLAB_NONE)
        return w == GJB_SLAB_OK ? n : 0;
    struct gjb_arena *a = gjb_sys_owner(p, &n);
    if (a) {
        n = guarded(p, n);
        gjb_arena_unlock(a);
    } else {
        gjb_sys_lock();
        n = guarded(p, gjb_sys_direct_raw(p));
        gjb_sys_unlock();
    }
    return n == SIZE_MAX ? 0 : n;
}

/* A realloc that found p (old usable bytes) cannot stay: a new block,
 * old bytes copied, p freed. NULL (ENOMEM) leaves p alone. */
static void *move(void *p, size_t old, size_t size)
{
    void *q = allocate_plain(size, NULL);
    if (q) {
        memcpy(q, p, old < size ? old : size);
        free_call(p, "gjbmem_realloc");
    }
    return q;
}

/* Fails a realloc of p: EINVAL through the error policy for a pointer that
 * is no block (broken: its guard is), ENOMEM otherwise. */
static void *realloc_failed(const void *p, int err, bool broken)
{
    if (err == EINVAL)
        gjb_sys_misuse("gjbmem_realloc", err, broken, p);
    else
        gjb_port_set_errno(err);
    return NULL;
}

/* Resizes heap block p (raw bytes) of arena a (locked; released here) to
 * size bytes (need with the guard; ok: the request is possible): in its arena when
 * it fits there (growing the arena), else moved. */
static void *realloc_heap(struct gjb_arena *a, void *p, size_t raw, size_t size, size_t need,
                          bool ok)
{
    size_t old = guarded(p, raw);
    void *q = NULL;
    if (old != SIZE_MAX && ok && need < GJBMEM_SYSHEAP_DIRECT &&
        (gjb_heap_realloc(a->h, p, need, &q) == GJB_OK ||
         (gjb_sys_grow(a, need) == 0 && gjb_heap_realloc(a->h, p, need, &q) == GJB_OK))) {
        if (GJB_GUARDED)
            gjb_guard_new(q, gjb_arena_raw(a, q), old, size);
    } else {
        q = NULL;
    }
    gjb_arena_unlock(a);
    if (q)
        return q;
    if (old == SIZE_MAX || !ok)
        return realloc_failed(p, old == SIZE_MAX ? EINVAL : ENOMEM, true);
    return move(p, old, size);
}

/* Resizes p, if it is a direct mapping, to size bytes (need, ok as for
 * realloc_heap): its pages kept when it shrinks a little, moved by the
 * host when it grows, else copied to a new block. */
static void *realloc_direct(void *p, size_t size, size_t need, bool ok)
{
    gjb_sys_lock();
    size_t len = gjb_sys_direct_raw(p), old = guarded(p, len);
    void *q = NULL;
    if (len && old != SIZE_MAX && ok) {
        if (need >= GJBMEM_SYSHEAP_DIRECT / 2 && need <= len)
            q = p; /* a direct mapping keeps its pages when it shrinks a little */
        else if (need >= GJBMEM_SYSHEAP_DIRECT)
            q = gjb_sys_direct_resize(p, len, need);
        if (GJB_GUARDED && q)
            gjb_guard_new(q, gjb_sys_direct_raw(q), old, size);
    }
    gjb_sys_unlock();
    if (q)
        return q;
    if (!len || old == SIZE_MAX || !ok)
        return realloc_failed(p, !len || old == SIZE_MAX ? EINVAL : ENOMEM, len != 0);
    return move(p, old, size);
}

/* Resizes p, which the slabs know (w: gjb_slab_size's answer, old: the
 * slot's bytes), to size bytes (ok as for realloc_heap): the slot kept
 * while the request still takes a slot of at most twice its size, else
 * moved. */
static void *realloc_slab(void *p, enum gjb_slab_what w, size_t old, size_t size, bool ok)
{
    if (w != GJB_SLAB_OK)
        return realloc_failed(p, EINVAL, w == GJB_SLAB_DAMAGED);
    if (!ok)
        return realloc_failed(p, ENOMEM, false);
    if (size <= old && gjb_slab_range(size) && size > old / 2)
        return p;
    return move(p, old, size);
}

/* The common case of a realloc (no guard): p a block of the arena the
 * chunk map names (proved inline), resized in that arena without growing
 * it. NULL for anything else, which the general path
 * decides. */
static void *realloc_hot(void *p, size_t need)
{
    unsigned t = gjb_chunk_get(p);
    if (GJB_GUARDED || t - 1 >= SYS_ARENAS)
        return NULL;
    struct gjb_arena *a = &gjb_sys.arena[t - 1];
    void *q = NULL;
    gjb_arena_lock(a);
    size_t block = a->h ? gjb_heap_block(a->h, p) : 0;
    if (block && !gjb_tc_kept(p, block) && gjb_heap_realloc(a->h, p, need, &q) != GJB_OK)
        q = NULL;
    gjb_arena_unlock(a);
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
    size_t need = 0, raw = 0;
    bool ok = request_bytes(size, &need);
    bool to_slab = ok && gjb_slab_range(size) && gjb_slab_on() && gjb_slab_takes(size);
    bool in_slab = gjb_slab_maybe(p);
    void *q = ok && need < GJBMEM_SYSHEAP_DIRECT && !to_slab && !in_slab ? realloc_hot(p, need) : NULL;
    if (q)
        return q;
    enum gjb_slab_what w = in_slab ? gjb_slab_size(p, &raw) : GJB_SLAB_NONE;
    if (w != GJB_SLAB_NONE)
        return realloc_slab(p, w, raw, size, ok);
    struct gjb_arena *a = gjb_sys_owner(p, &raw);
    if (a && to_slab) { /* a block whose new size takes a slot: moved into one */
        gjb_arena_unlock(a);
        return move(p, raw, size);
    }
    return a ? realloc_heap(a, p, raw, size, need, ok) : realloc_direct(p, size, need, ok);
}
