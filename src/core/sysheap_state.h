/*
 * sysheap_state.h - the system heap's state, and what its files share:
 *
 *   sysheap.c          the allocation interface of <gjbmem/sysheap.h>
 *                      (malloc ... free, the hot paths), the error policy
 *   sysheap_arenas.c   arenas: which one a thread allocates from, which one
 *                      holds a block, all of them locked at once
 *   chunkmap.c         the map from an address to the arena holding it
 *   sysheap_cache.c    thread caches (gjbmem_malloc_cached and
 *                      gjbmem_free_cached, the malloc replacement's calls)
 *   sysheap_setup.c    start-up: settings from the environment, fork
 *                      handlers, the first region
 *   sysheap_regions.c  the heap's memory: regions from the host (growth),
 *                      memory added by the integrator, the limit,
 *                      heap_mem_init (the arenas re-created over their
 *                      regions)
 *   sysheap_direct.c   direct mappings for large requests (their table:
 *                      bigblock.c)
 *   sysheap_stats.c    mem_findmax, mem_getinfo, statistics, validation,
 *                      mem_show's summary line
 *
 * The system heap is up to SYS_ARENAS arenas: each an engine heap with its
 * own light lock and up to SYS_REGIONS regions. A thread allocates from
 * one arena (the first thread from arena 0, later ones round the others);
 * a block goes back to the arena that holds it, whoever frees it. The
 * statistics are sums over the arenas: together they are the one system
 * heap of the manual. On a host each region is a page mapping from the
 * port, aligned to a chunk (GJB_CHUNK_BYTES), so that the chunk map tells
 * a block's arena from its address without a lock.
 *
 * Locks: an arena's lock guards its heap and regions; gjb_sys.lock guards
 * the rest (limit, bytes from the port, direct mappings, chunk map writes,
 * policy, error policy). Order: arenas (by index), then gjb_sys.lock. A
 * function marked "lock held" expects gjb_sys.lock; "arena locked" its
 * arena's lock.
 */
#ifndef GJB_SYSHEAP_STATE_H
#define GJB_SYSHEAP_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The system heap's heaps have no quick lists (it has caches of its own):
 * the engine's hot paths copied in here leave them out (firstfit.h). */
#define GJB_NO_QUICK 1

#include "api_internal.h"
#include "guard.h"
#include "port_fast.h"
#include "gjbmem/heap.h"
#include "gjbmem/port.h"

#define SYS_ARENAS 8
#define SYS_REGIONS 64
#define GROW_MIN ((size_t)4 << 20) /* an arena's first region, and its least growth */

struct gjb_sys_piece {
    void *mem;
    size_t size;
    bool from_port; /* else the integrator's (gjbmem_sysheap_add_memory) */
};

#if defined(__SANITIZE_THREAD__)
#define GJB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GJB_TSAN 1
#endif
#endif
#ifndef GJB_TSAN
#define GJB_TSAN 0
#endif

struct gjb_arena {
    /* One cache line for what a holder of the lock writes: the sequence
     * count, then the lock (a futex word, or a mutex of 40 bytes at most:
     * the line ends in the lock's unused bytes). */
    _Alignas(64) _Atomic unsigned seq; /* odd while a holder of the lock may
                                          change the heap (gjb_arena_lock) */
    gjb_port_lock lock;
    /* Kept blocks other threads' caches hand back (sysheap_handback.c):
     * pushed without the lock, taken under it. */
    _Alignas(64) _Atomic(char *) remote;
    _Atomic size_t remote_n, remote_bytes; /* its blocks, their usable bytes */
    _Alignas(64) _Atomic(gjb_heap *) h; /* NULL until the arena has memory */
    size_t regions;  /* bytes of all its regions */
    unsigned npieces;
    struct gjb_sys_piece piece[SYS_REGIONS];
};

struct gjb_sys {
    struct gjb_arena arena[SYS_ARENAS];
    _Alignas(64) gjb_port_lock lock;
    _Atomic unsigned next;    /* arenas handed to threads so far */
    int policy;               /* GJB_FIRST_FIT or GJB_BUDDY */
    size_t limit;             /* most bytes to take from the port */
    size_t port;              /* bytes held from the port: regions, direct, tables */
    size_t page;
    struct gjb_bigtab big;    /* the direct mappings */
    struct gjb_errpolicy pol; /* what a bad pointer or damage also does */
};

extern struct gjb_sys gjb_sys GJB_INTERNAL;

/* Takes gjb_sys.lock (starting the library first if need be). */
static inline void gjb_sys_lock(void)
{
    gjb_fast_init_once(gjb_lib_init);
    gjb_fast_lock_mt(&gjb_sys.lock);
}

static inline void gjb_sys_unlock(void)
{
    gjb_fast_unlock_mt(&gjb_sys.lock);
}

/* Takes arena a's lock. Its sequence count turns odd until
 * gjb_arena_unlock: a reader without the lock (the thread caches' free)
 * that reads the same even count before and after its reads saw no
 * change. In a process with one thread neither is needed
 * (gjb_fast_lock_mt). */
static GJB_ALWAYS_INLINE void gjb_arena_lock(struct gjb_arena *a)
{
    if (!gjb_fast_lock_mt(&a->lock))
        return;
    unsigned s = atomic_load_explicit(&a->seq, memory_order_relaxed);
#if GJB_TSAN /* which does not model fences: an exchange orders the same */
    atomic_exchange_explicit(&a->seq, s + 1, memory_order_acq_rel);
#else
    atomic_store_explicit(&a->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* before the heap's stores */
#endif
}

static GJB_ALWAYS_INLINE void gjb_arena_unlock(struct gjb_arena *a)
{
    unsigned s = atomic_load_explicit(&a->seq, memory_order_relaxed);
    if (s & 1)
        atomic_store_explicit(&a->seq, s + 1, memory_order_release);
    gjb_fast_unlock_mt(&a->lock);
}

/* --- chunkmap.c */

#define GJB_CHUNK_SHIFT 22 /* 4 MiB */
#define GJB_CHUNK_BYTES ((size_t)1 << GJB_CHUNK_SHIFT)
#if UINTPTR_MAX > 0xFFFFFFFFu
#define GJB_CHUNK_ADDR_BITS 48 /* user addresses a host hands out */
#define GJB_CHUNK_LEAF_BITS 12
#else
#define GJB_CHUNK_ADDR_BITS 32
#define GJB_CHUNK_LEAF_BITS 10
#endif
#define GJB_CHUNK_LEAF ((size_t)1 << GJB_CHUNK_LEAF_BITS)
#define GJB_CHUNK_TOP ((size_t)1 << (GJB_CHUNK_ADDR_BITS - GJB_CHUNK_SHIFT - GJB_CHUNK_LEAF_BITS))
#define GJB_CHUNK_MIXED 255u /* regions of several arenas share the chunk */
_Static_assert(SYS_ARENAS < GJB_CHUNK_MIXED, "an arena's tag fits a byte");

/* A leaf: per chunk, its arena's tag, and a bit per 64 KiB of it that a
 * slab holds (sysheap_slab.c: set while the slab lives). */
typedef struct {
    _Atomic unsigned char tag[GJB_CHUNK_LEAF];
    _Atomic uint64_t slab[GJB_CHUNK_LEAF];
} gjb_chunk_leaf;
#define GJB_CHUNK_GRANULE_SHIFT 16 /* 64 KiB: SLAB_MIN */
_Static_assert(GJB_CHUNK_SHIFT - GJB_CHUNK_GRANULE_SHIFT == 6, "a chunk's granules: 64 bits");
extern _Atomic(gjb_chunk_leaf *) gjb_chunk_top[GJB_CHUNK_TOP] GJB_INTERNAL;

/* The leaf of the chunk holding p (NULL: none), and the chunk's index in
 * it in *i. Without a lock. */
static inline gjb_chunk_leaf *gjb_chunk_leaf_of(const void *p, size_t *i)
{
    uint64_t a = (uintptr_t)p;
    if (a >> GJB_CHUNK_ADDR_BITS)
        return NULL;
    size_t c = (size_t)(a >> GJB_CHUNK_SHIFT);
    *i = c & (GJB_CHUNK_LEAF - 1);
    return atomic_load_explicit(&gjb_chunk_top[c >> GJB_CHUNK_LEAF_BITS], memory_order_acquire);
}

/* The tag of the chunk holding p, without a lock: 0 (no arena), 1 + the
 * arena's index, or GJB_CHUNK_MIXED. A hint: the arena's engine decides. */
static inline unsigned gjb_chunk_get(const void *p)
{
    size_t i;
    gjb_chunk_leaf *leaf = gjb_chunk_leaf_of(p, &i);
    return leaf ? atomic_load_explicit(&leaf->tag[i], memory_order_relaxed) : 0;
}

/* True when a slab holds p, without a lock (a hint: the slabs' table
 * decides; a slab's bits are set before any of its slots is handed out). */
static inline bool gjb_chunk_slab(const void *p)
{
    size_t i;
    gjb_chunk_leaf *leaf = gjb_chunk_leaf_of(p, &i);
    return leaf && (atomic_load_explicit(&leaf->slab[i], memory_order_acquire) >>
                    (((uintptr_t)p >> GJB_CHUNK_GRANULE_SHIFT) & 63)) & 1;
}

/* Sets (on) or clears the bits of [p, p + bytes), a slab within one chunk
 * (slabs.lock held): false when the chunk has no leaf (an arena's region
 * always has). */
bool gjb_chunk_mark_slab(const void *p, size_t bytes, bool on);

/* Tags the chunks of [mem, mem+size) with tag (lock held): 0; EINVAL when
 * the range wraps or lies beyond the map; ENOMEM when a leaf could not be
 * had (pages taken count in gjb_sys.port). */
int gjb_chunk_mark(const void *mem, size_t size, unsigned tag);
/* Bytes of pages the map holds. */
size_t gjb_chunk_bytes(void);

/* --- the calling thread's state, in its area from the port */

#define GJB_TC_BINS 65u /* bins 1..64: blocks of 1..64 granules */

/* A thread cache (sysheap_cache.c). */
struct gjb_tcache {
    struct gjb_tcache *prev, *next;       /* the registry (gjb_sys.lock) */
    _Atomic(const unsigned char *) bins;  /* a request's bin, by the policy (heap_mem_init
                                             sets it, bins empty): sysheap_cache.c */
    _Atomic unsigned char n[GJB_TC_BINS]; /* blocks per bin (read by the statistics) */
    char *head[GJB_TC_BINS];
};

struct gjb_thread {
    struct gjb_arena *arena; /* the thread's arena; NULL before its first allocation */
    bool cached;    /* tc is in use (in the registry) */
    bool gone;      /* the thread's exit handler has run: no cache again */
    struct gjb_tcache tc;
};
_Static_assert(sizeof(struct gjb_thread) <= GJB_PORT_THREAD_AREA, "fits the thread's area");

static inline struct gjb_thread *gjb_thread(void)
{
    return gjb_fast_thread_area();
}

/* --- sysheap_arenas.c */

/* The calling thread's arena (one is chosen at its first call). */
struct gjb_arena *gjb_sys_assign(void);

static GJB_ALWAYS_INLINE struct gjb_arena *gjb_sys_mine(void)
{
    struct gjb_arena *a = gjb_thread()->arena;
    return GJB_LIKELY(a != NULL) ? a : gjb_sys_assign();
}

/* The arenas that may hold p, by the chunk map: indexes [*lo, hi) (one,
 * all of them for a chunk several share, none for no arena's chunk). */
static inline unsigned gjb_sys_candidates(const void *p, unsigned *lo)
{
    unsigned t = gjb_chunk_get(p);
    *lo = t == GJB_CHUNK_MIXED ? 0 : t - 1;
    return t == GJB_CHUNK_MIXED ? SYS_ARENAS : t - 1 < SYS_ARENAS ? t : 0;
}

/* The arena holding heap block p, locked, and p's bytes (gjb_arena_raw) in
 * *raw; NULL when no arena holds it (a direct mapping, or no block). */
struct gjb_arena *gjb_sys_owner(const void *p, size_t *raw);
/* Takes / releases every arena's lock, then gjb_sys.lock / in reverse. */
void gjb_sys_lock_all(void);
void gjb_sys_unlock_all(void);

/* --- sysheap_cache.c: the malloc replacement's thread caches */

/* Set once a thread has a cache: from then on every path that takes a
 * block back checks that it is not kept in one (gjb_tc_kept). */
extern _Atomic bool gjb_tc_active GJB_INTERNAL;
extern uintptr_t gjb_tc_key GJB_INTERNAL;

/* The mark of a kept block p whose first word links to next: binds the
 * link to the block, so that a write after free into either word is seen
 * before the link is followed. */
static inline uintptr_t gjb_tc_mark(const void *p, const void *next)
{
    return gjb_tc_key ^ (uintptr_t)p ^ (uintptr_t)next;
}

/* True when live block p (at least two words) holds a kept block's mark. */
static inline bool gjb_tc_marked(const void *p)
{
    uintptr_t w[2];
    memcpy(w, p, sizeof w);
    return w[1] == gjb_tc_mark(p, (const void *)w[0]);
}

/* True when heap block p (usable bytes u, a live block of its arena's
 * engine) is kept in a thread cache: caches exist, and it is marked. */
static inline bool gjb_tc_kept(const void *p, size_t u)
{
    return atomic_load_explicit(&gjb_tc_active, memory_order_acquire) &&
           u >= 2 * sizeof(uintptr_t) && gjb_tc_marked(p);
}

/* Gives back every block the calling thread's cache keeps (before
 * heap_mem_init looks for live blocks). */
void gjb_tc_flush_mine(void);
/* True when every block the calling thread's cache keeps is whole (its
 * mark) and a live block of its arena. O(kept blocks). */
bool gjb_tc_check_mine(void);
/* Every cache follows the policy (heap_mem_init, all locks held). */
void gjb_tc_policy(bool buddy);
/* Blocks and usable bytes kept in all threads' caches (lock held). */
void gjb_tc_totals(size_t *blocks, size_t *bytes);
/* In a child after fork (single-threaded, locks new): the caches of the
 * other threads of the parent give their blocks back. */
void gjb_tc_after_fork(void);

/* Gives every block other threads handed back to arena a (locked) to its
 * engine; returns a block found broken (the rest of the list stays
 * allocated; report it once the lock is released), or NULL. */
void *gjb_tc_drain_remote(struct gjb_arena *a);

/* True when every block on arena a's list (a locked) is whole and a live
 * block of a, and the list holds no more blocks than its count. */
bool gjb_tc_remote_ok(struct gjb_arena *a);

/* Reports kept block p, found not whole, through the system heap's error
 * policy (no arena lock held; errno is left alone). */
void gjb_tc_report(const void *p);
/* At a thread's exit (area: its gjb_thread): its cache gives everything
 * back. */
void gjb_tc_thread_exit(void *area);

/* Bytes of heap block p in arena a (a locked), guard included; 0 when it
 * is not a live block of a (none, or kept in a thread cache). */
static inline size_t gjb_arena_raw(const struct gjb_arena *a, const void *p)
{
    size_t u = a->h ? gjb_heap_usable_size(a->h, p) : 0;
    return u && gjb_tc_kept(p, u) ? 0 : u;
}

/* --- sysheap_regions.c */

/* Bytes the limit still allows, less reserve, in whole pages (lock held). */
size_t gjb_sys_room(size_t reserve);
/* n rounded up to whole pages; 0 on overflow. */
size_t gjb_sys_page_up(size_t n);
/* Gives arena a (locked) a region from the port that can hold a request of
 * size bytes: 0 or ENOMEM. Takes gjb_sys.lock. */
int gjb_sys_grow(struct gjb_arena *a, size_t size);

/* --- sysheap_direct.c (lock held) */

/* A direct mapping of size bytes aligned to align, or NULL (the limit, the
 * host, or the table refused); *fresh, written only when a mapping is
 * returned: it is new pages from the host (zeroed). */
void *gjb_sys_direct_alloc(size_t align, size_t size, bool *fresh);
/* Gives back direct mapping p of len bytes. */
void gjb_sys_direct_free(void *p, size_t len);
/* Grows direct mapping p (len bytes) to hold size bytes, moving its pages;
 * NULL when refused (p intact). */
void *gjb_sys_direct_resize(void *p, size_t len, size_t size);
/* Bytes of freed direct mappings kept for reuse (held from the port). */
size_t gjb_sys_direct_kept(void);
/* Gives kept mappings back to the port until the limit leaves room for
 * need more bytes (or none is kept). */
void gjb_sys_direct_trim(size_t need);
/* Usable bytes of direct mapping p, guard included; 0 when p is none. */
static inline size_t gjb_sys_direct_raw(const void *p)
{
    return gjb_big_get(&gjb_sys.big, p);
}

/* --- sysheap.c */

/* Fails a call with err after carrying out the error policy (a copy taken
 * under the lock; none held now) for pointer p. */
void gjb_sys_misuse(const char *call, int err, bool corrupt, const void *p);

/* --- sysheap_slab.c: the BUDDY system heap's slabs */

#define SLAB_LO 1024u                 /* requests above this ... */
#define SLAB_HI (64u * 1024u)         /* ... up to this take a slab's slot */
#define SLAB_MIN ((size_t)64 << 10)   /* a slab's bytes: its class's, */
#define SLAB_MAX ((size_t)1 << 20)    /* a power of two in [SLAB_MIN, SLAB_MAX] */

/* Set while requests of the slabs' range go to slabs: the policy is BUDDY
 * and blocks have no guard (gjb_slab_setup). */
extern _Atomic bool gjb_slabs_on GJB_INTERNAL;

static GJB_ALWAYS_INLINE bool gjb_slab_on(void)
{
    return !GJB_GUARDED && atomic_load_explicit(&gjb_slabs_on, memory_order_relaxed);
}

/* A request of size bytes takes a slot (when slabs are on). */
static GJB_ALWAYS_INLINE bool gjb_slab_range(size_t size)
{
    return size - (SLAB_LO + 1) < SLAB_HI - SLAB_LO;
}

/* A slab holds p (gjb_chunk_slab), with slabs on: the slabs decide what
 * p is (gjb_slab_free, gjb_slab_size), not the arenas, which see a slab as
 * one of their blocks: every path of a pointer asks this first. */
static GJB_ALWAYS_INLINE bool gjb_slab_maybe(const void *p)
{
    return gjb_slab_on() && gjb_chunk_slab(p);
}

/* What a pointer is to the slabs. */
enum gjb_slab_what {
    GJB_SLAB_NONE,    /* in no slab: the arenas' or the direct mappings' to decide */
    GJB_SLAB_OK,      /* a slot in use */
    GJB_SLAB_BAD,     /* in a slab, no slot in use: a slab's address, inside a slot, freed */
    GJB_SLAB_DAMAGED, /* in a slab whose header is damaged */
};

/* Turns slabs on for policy BUDDY (without guards or GJBMEM_TOOLS), off
 * otherwise (start-up; heap_mem_init, every arena locked and no slab: a
 * slab made meanwhile checks the policy under gjb_sys.lock). */
void gjb_slab_setup(int policy);
/* slabs.lock: taken before gjb_sys.lock, never under an arena's. */
void gjb_slab_lock(void);
void gjb_slab_unlock(void);
void gjb_slab_lock_init(void);
/* A slot for a request of size bytes (gjb_slab_range), or NULL (the
 * caller gives the request a block of its own) when its class is a power
 * of two, which a buddy block fits exactly, or no slab could be made. */
void *gjb_slab_alloc(size_t size);
/* A request of size bytes (gjb_slab_range) takes a slot: its class is no
 * power of two. */
bool gjb_slab_takes(size_t size);
/* Frees slot p (GJB_SLAB_OK); anything else is left alone. */
enum gjb_slab_what gjb_slab_free(void *p);
/* The bytes of slot p in *size (GJB_SLAB_OK). */
enum gjb_slab_what gjb_slab_size(const void *p, size_t *size);
/* [mem, mem+size), mem in a slab (gjb_slab_maybe), lies within the bytes
 * of one slot in use (what may hold a partition: ownership.c). */
bool gjb_slab_holds(const void *mem, size_t size);
/* Pages the slabs' table holds (counted in gjb_sys.port). */
size_t gjb_slab_table_bytes(void);
/* Every slab is whole, a live block of the arenas, on its class's list
 * when a slot is free. Takes arena locks. */
bool gjb_slab_validate(void);
/* What the statistics count as blocks: every slot, in use or free (slabs.lock
 * held). */
struct gjb_slab_sums {
    size_t slabs;      /* their blocks, allocated blocks of the arenas */
    size_t slots;      /* their slots */
    size_t used_slots; /* slots in use */
    size_t free_bytes; /* bytes of the free slots */
};
void gjb_slab_sums(struct gjb_slab_sums *sums);

/* --- sysheap.c: a block for a slab */

/* A block of the arenas (never a direct mapping) of size bytes aligned to
 * size, growing an arena if need be; NULL when none. No lock held. */
void *gjb_sys_heap_block(size_t size);

/* --- sysheap_stats.c */

/* mem_show's summary line of the system heap (registered at start-up). */
void gjb_sys_summary(struct gjb_line *l);

#endif
