/*
 * mpart.c - variable-size memory partitions (mpart_*): the partition table,
 * generational ids, one lock per partition, and the mapping of engine
 * status codes to the errno values of SPEC section 3.
 *
 * Id layout: (generation << 9) | (shared << 8) | (slot + 1). A slot's
 * generation changes when its partition is deleted, so stale ids are
 * refused; 0 is never an id. A slot keeps its live partition's id (0 while
 * free): a call checks its id with one comparison. The shared bit (set in
 * the ids of partitions in shared memory) keeps those off the hot paths of
 * private partitions at no cost: their slot index, read with the bit, is
 * out of range (private_slot_of), and a private id never equals a shared
 * partition's.
 *
 * Locking: the global lock guards the table and the ownership of memory
 * (create, addmem, delete, module_init; ownership.c decides what memory a
 * partition may take, and holds the lock order); a partition's own lock
 * guards its heap. Slot locks are made once and never destroyed, so a
 * caller holding a stale id may lock one safely.
 *
 * A partition in shared memory (mpart_shared.c) has a slot like any other,
 * with `sh` set: after the slot's lock, its calls take the partition's
 * process-shared lock too (gjb_shp_enter, which repairs the work of a
 * process that died holding it), and they reach the engine through its
 * out-of-line functions, whose stores keep their order (docs/SHARED.md).
 */
/* Partitions' heaps are read under their lock only: plain stores in the
 * engine's inline paths (heap_internal.h, gjb_put). */
#define GJB_LOCKED_READS 1

#include <errno.h>
#include <limits.h>

#include "gjbext.h"
#include "gjbmem/heap.h"
#include "gjbmem/port.h"
#include "api_internal.h"
#include "engine/compat.h"
#include "guard.h"
#include "mpart_shared.h"
#include "port_fast.h"

#define SLOT_BITS 8
#define SHARED_ID (1UL << SLOT_BITS) /* the id's shared bit */
_Static_assert(MPART_MAX_PARTS >= 1 && MPART_MAX_PARTS < (1 << SLOT_BITS),
               "MPART_MAX_PARTS must fit in the id's slot field");

struct slot {
    gjb_port_lock lock;
    gjb_heap *heap;         /* NULL while the slot is free */
    mpart_id id;            /* the partition's id; 0 while the slot is free */
    unsigned long gen;      /* the generation of the slot's next id */
    struct gjb_errpolicy pol; /* what a bad pointer or damage also does */
    struct gjb_shpart *sh;  /* a partition in shared memory: its header; else NULL */
    char pad[128 - GJB_PORT_LOCK_BYTES - 3 * sizeof(void *) - sizeof(mpart_id) -
             sizeof(struct gjb_errpolicy)];
};
_Static_assert(sizeof(struct slot) == 128, "a slot is 128 bytes: indexing by a shift");

static struct slot slots[MPART_MAX_PARTS];
static int max_parts = MPART_MAX_PARTS;
static int live_parts;

void gjb_mpart_init(void)
{
    for (int i = 0; i < MPART_MAX_PARTS; i++) {
        gjb_port_lock_init(&slots[i].lock);
        slots[i].gen = 1;
    }
}

/* The index of the slot mid names (its index bits, the shared bit
 * ignored); MPART_MAX_PARTS or more for a bad id. */
static GJB_ALWAYS_INLINE unsigned long slot_index(mpart_id mid)
{
    return (mid & (SHARED_ID - 1)) - 1;
}

/* The id of slot s's next partition (shared: in shared memory). */
static mpart_id next_id(const struct slot *s, bool shared)
{
    return (s->gen << (SLOT_BITS + 1)) | (shared ? SHARED_ID : 0) | (unsigned long)(s - slots + 1);
}

static int fail(int err)
{
    gjb_port_set_errno(err);
    return -1;
}

/* The slot an id names (locked), or NULL: a bad or stale id. */
static GJB_ALWAYS_INLINE struct slot *lock_slot_inline(mpart_id mid)
{
    unsigned long i = slot_index(mid);
    if (GJB_UNLIKELY(i >= MPART_MAX_PARTS))
        return NULL;
    struct slot *s = &slots[i];
    gjb_fast_lock(&s->lock);
    if (GJB_LIKELY(s->id == mid))
        return s;
    gjb_fast_unlock(&s->lock);
    return NULL;
}

/* Locks the partition named by mid and returns its slot, or NULL. In
 * interrupt context (isr: only the read-only calls get there) the lock is
 * tried, not waited for: a partition busy at that moment reads as
 * unavailable. */
static struct slot *lock_slot(mpart_id mid, bool isr)
{
    gjb_port_init_once(gjb_lib_init);
    if (!isr)
        return lock_slot_inline(mid);
    unsigned long i = slot_index(mid);
    if (i >= MPART_MAX_PARTS)
        return NULL;
    struct slot *s = &slots[i];
    if (!gjb_fast_try(&s->lock))
        return NULL; /* never wait in interrupt context */
    if (s->id != mid) { /* (a shared id, of a partition other processes use, never gets here) */
        gjb_fast_unlock(&s->lock);
        return NULL;
    }
    return s;
}

/* A slot's id changes under its lock (and, for a shared partition, its
 * shared lock); a call on a shared partition reads it under the shared
 * lock only: atomic stores and loads. */
static void set_id(struct slot *s, mpart_id id)
{
    __atomic_store_n(&s->id, id, __ATOMIC_RELEASE);
}

/* The slot a private partition's id mid names, or NULL: a shared
 * partition's id (its index read with the shared bit is out of range) or
 * a bad one. */
static GJB_ALWAYS_INLINE struct slot *private_slot_of(mpart_id mid)
{
    unsigned long i = (mid & (2 * SHARED_ID - 1)) - 1;
    return GJB_LIKELY(i < MPART_MAX_PARTS) ? &slots[i] : NULL;
}

/* The record of the shared partition the shared id mid names, read
 * without the slot's lock (NULL: a private id, a bad one, or none in the
 * slot now; *sp: the slot). */
static GJB_ALWAYS_INLINE struct gjb_shpart *peek_shared(mpart_id mid, struct slot **sp)
{
    unsigned long i = slot_index(mid);
    if (!(mid & SHARED_ID) || i >= MPART_MAX_PARTS)
        return NULL;
    *sp = &slots[i];
    return __atomic_load_n(&slots[i].sh, __ATOMIC_ACQUIRE);
}

/* enter_shared's refusal: e from gjb_shp_enter, same when the slot still
 * held mid. */
static GJB_NOINLINE struct slot *shared_refused(struct gjb_shpart *sh, int e, bool same, int *err)
{
    if (!e)
        gjb_shp_leave(sh);
    *err = same ? e : ERROR_KERNEL_HANDLE_NULL;
    return NULL;
}

/* A call on a shared partition takes its shared lock only, not the slot's
 * (one lock per call: docs/SHARED.md, "Cost"), records op (gjb_shp_enter),
 * then checks under the lock that the slot still holds mid (closing clears
 * it under the shared lock, and what a late call may still lock after a
 * close stays mapped: zeros). The slot, or NULL with *err: a stale id, a
 * damaged or deleted partition. */
static GJB_ALWAYS_INLINE struct slot *enter_shared(struct slot *s, struct gjb_shpart *sh,
                                                  mpart_id mid, enum gjb_shp_op op, int *err)
{
    int e = gjb_shp_enter(sh, op);
    bool same = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE) == mid &&
                __atomic_load_n(&s->sh, __ATOMIC_ACQUIRE) == sh;
    if (GJB_LIKELY(!e && same))
        return s;
    return shared_refused(sh, e, same, err);
}

/* lock_slot, or for a shared partition its shared lock: the slot, or NULL
 * with *err the reason (a bad id, a damaged shared partition). In interrupt
 * context a shared partition is not reached (it may have to wait). */
static struct slot *lock_part(mpart_id mid, bool isr, int *err)
{
    *err = ERROR_KERNEL_HANDLE_NULL;
    if (!(mid & SHARED_ID))
        return lock_slot(mid, isr); /* a private id never names a shared partition */
    struct slot *s;
    struct gjb_shpart *sh = peek_shared(mid, &s);
    return sh && !isr ? enter_shared(s, sh, mid, GJB_SHP_NONE, err) : NULL;
}

/* lock_part for the calls that interrupt context may make. */
static struct slot *acquire(mpart_id mid, int *err)
{
    return lock_part(mid, gjb_fast_in_isr(), err);
}

static GJB_NOINLINE void release_shared(struct slot *s)
{
    gjb_shp_leave(s->sh);
}

static GJB_ALWAYS_INLINE void release(struct slot *s)
{
    if (GJB_UNLIKELY(s->sh != NULL)) {
        release_shared(s);
        return;
    }
    gjb_fast_unlock(&s->lock);
}

/* Carries out pol (a copy taken under the lock; none held now) when the
 * engine status st is a bad pointer or damage that call met. */
static void report(const struct gjb_errpolicy *pol, mpart_id mid, const char *call, int err,
                   int st, const void *addr)
{
    if (st != GJB_E_BADPTR && st != GJB_E_CORRUPT)
        return;
    struct gjbmem_error e = {mid, call, err, st == GJB_E_CORRUPT, addr};
    gjb_errpolicy_report(pol, &e);
}

/* For ownership.c. Region tables change only under the global lock, which
 * the caller holds. */
bool gjb_mpart_owns(const void *addr, size_t size)
{
    for (int i = 0; i < MPART_MAX_PARTS; i++) {
        const struct slot *s = &slots[i];
        if (s->sh ? gjb_shp_overlaps(s->sh, addr, size)
                  : s->heap && gjb_heap_overlaps(s->heap, addr, size))
            return true;
    }
    return false;
}

int mpart_module_init(int max)
{
    gjb_port_init_once(gjb_lib_init);
    if (max < 1)
        return fail(EINVAL);
    if (max > MPART_MAX_PARTS)
        return fail(ENOSPC);
    gjb_port_global_lock();
    int err = max < live_parts ? EBUSY : 0;
    if (!err)
        max_parts = max;
    gjb_port_global_unlock();
    return err ? fail(err) : 0;
}

int mpart_create_ex(char *addr, size_t size, int policy, mpart_id *mid)
{
    gjb_port_init_once(gjb_lib_init);
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    if (!addr || !mid || size == 0 ||
        (policy != FIRST_FIT_ALLOCATION && policy != BUDDY_ALLOCATION))
        return fail(EINVAL);
    int err = 0;
    gjb_port_global_lock();
    struct slot *s = NULL;
    for (int i = 0; i < MPART_MAX_PARTS && !s; i++)
        if (!slots[i].heap)
            s = &slots[i];
    gjb_heap *h = NULL;
    if (live_parts >= max_parts || !s)
        err = ENOSPC;
    else if (!gjb_memory_free_for_partition(addr, size) ||
             gjb_heap_init(addr, size,
                           policy == BUDDY_ALLOCATION ? GJB_BUDDY : GJB_FIRST_FIT | GJB_QUICK,
                           GJBMEM_MAX_REGIONS, &h) != GJB_OK)
        err = EINVAL;
    if (!err) {
        gjb_port_lock_take(&s->lock);
        s->heap = h;
        s->pol = (struct gjb_errpolicy){GJBMEM_ERR_RETURN, NULL, NULL};
        set_id(s, next_id(s, false));
        *mid = s->id;
        gjb_port_lock_release(&s->lock);
        live_parts++;
    }
    gjb_port_global_unlock();
    return err ? fail(err) : 0;
}

int mpart_create(char *addr, size_t size, mpart_id *mid)
{
    return mpart_create_ex(addr, size, FIRST_FIT_ALLOCATION, mid);
}

int mpart_delete(mpart_id mid)
{
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    gjb_port_global_lock();
    struct slot *s = lock_slot(mid, false);
    if (s && s->sh) { /* a shared partition: other processes have their say */
        gjb_fast_unlock(&s->lock);
        gjb_port_global_unlock();
        return gjb_shp_delete(mid);
    }
    int err = !s ? EINVAL : !gjb_heap_is_empty(s->heap) ? EBUSY : 0;
    if (s && !err) {
        gjb_heap_retire(s->heap);
        s->heap = NULL;
        set_id(s, 0);
        s->gen++;
        live_parts--;
    }
    if (s)
        release(s);
    gjb_port_global_unlock();
    return err ? fail(err) : 0;
}

int mpart_addmem(mpart_id mid, char *addr, size_t size)
{
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    if (!addr || size == 0)
        return fail(EINVAL);
    gjb_port_global_lock();
    int err;
    struct slot *s = lock_part(mid, false, &err);
    if (s) {
        if (s->sh && !gjb_shp_contains(s->sh, addr, size)) {
            err = EXDEV; /* not memory of the partition's shared object */
        } else if (!s->sh && !gjb_memory_free_for_partition(addr, size)) {
            err = ERROR_KERNEL_MEMORY;
        } else {
            if (s->sh)
                gjb_shp_intent(s->sh, GJB_SHP_ADDMEM);
            switch (gjb_heap_add_region(s->heap, addr, size)) {
            case GJB_OK: err = 0; break;
            case GJB_E_SMALL: err = ERROR_REGION_SIZE; break;
            case GJB_E_FULL: err = ENOSPC; break;
            case GJB_E_OVERLAP: err = ERROR_KERNEL_MEMORY; break;
            default: err = EINVAL; break;
            }
        }
        release(s);
    }
    gjb_port_global_unlock();
    return err ? fail(err) : 0;
}

/* errno for a failed allocation or resize. */
static int alloc_errno(int st)
{
    switch (st) {
    case GJB_E_TOOBIG: return ERROR_REGION_SIZE;
    case GJB_E_NOMEM: return ENOMEM;
    case GJB_E_ALIGN: return ERROR_REGION_ALIGN;
    default: return EINVAL; /* size 0, or not an allocated block */
    }
}

/* A call that failed under the lock of slot s with engine status st: the
 * lock goes, the error policy runs (bad pointers, damage), errno is set.
 * The id is the slot's, not passed down: the hot paths need not keep it. */
static GJB_NOINLINE int failed(struct slot *s, const char *call, int err, int st,
                               const void *addr)
{
    struct gjb_errpolicy pol = s->pol;
    mpart_id mid = s->id;
    release(s);
    report(&pol, mid, call, err, st, addr);
    return fail(err);
}

/* The slot of mid, locked, for a call that allocates or frees; NULL with
 * errno set when it may not (interrupt context, bad id). */
static GJB_NOINLINE struct slot *refuse_entry(void)
{
    gjb_port_set_errno(gjb_fast_in_isr() ? ERROR_KERNEL_IN_ISR : ERROR_KERNEL_HANDLE_NULL);
    return NULL;
}

/* enter for a shared partition's id mid, recording op: the slot, or NULL
 * with errno set. */
static GJB_ALWAYS_INLINE struct slot *enter_shared_id(mpart_id mid, enum gjb_shp_op op)
{
    struct slot *s;
    struct gjb_shpart *sh = peek_shared(mid, &s);
    if (GJB_UNLIKELY(!sh || gjb_fast_in_isr()))
        return refuse_entry();
    int err;
    if (GJB_LIKELY((s = enter_shared(s, sh, mid, op, &err)) != NULL))
        return s;
    gjb_port_set_errno(err);
    return NULL;
}

/* The slot for the allocating call that records op, locked; NULL with
 * errno set (interrupt context, bad id, damaged shared partition). */
static GJB_NOINLINE struct slot *enter_shared_for(mpart_id mid, enum gjb_shp_op op)
{
    return enter_shared_id(mid, op);
}

static GJB_ALWAYS_INLINE struct slot *enter(mpart_id mid, enum gjb_shp_op op)
{
    struct slot *s;
    if (GJB_UNLIKELY(mid & SHARED_ID))
        return enter_shared_for(mid, op);
    if (GJB_LIKELY(!gjb_fast_in_isr() && (s = lock_slot_inline(mid)) != NULL))
        return s; /* a private id never names a shared partition */
    return refuse_entry();
}

/* enter for the hot calls on slot s, which private_slot_of found for mid:
 * the private partition mid, locked, or NULL (errno set). */
static GJB_ALWAYS_INLINE struct slot *enter_private(struct slot *s, mpart_id mid)
{
    if (GJB_LIKELY(!gjb_fast_in_isr())) {
        gjb_fast_lock(&s->lock);
        if (GJB_LIKELY(s->id == mid))
            return s;
        gjb_fast_unlock(&s->lock);
    }
    return refuse_entry();
}

/* The allocating calls (call names which) on the locked slot s: resize
 * `old` (realloc), or allocate size bytes aligned to align (1 for a plain
 * allocation). */
static GJB_NOINLINE void *allocate_in(struct slot *s, const char *call, bool resize, char *old,
                                      size_t align, size_t size)
{
    void *p = NULL;
    int st;
    if (s->sh) /* the engine's own calls: stores in order (mpart_shared.h) */
        st = resize ? gjb_heap_realloc(s->heap, old, size, &p)
                    : gjb_heap_memalign(s->heap, align, size, &p);
    else
        st = resize ? gjb_guarded_realloc(s->heap, old, size, &p)
                    : gjb_guarded_memalign(s->heap, align, size, &p);
    if (st == GJB_OK) {
        release(s);
        return p;
    }
    failed(s, call, alloc_errno(st), st, old);
    return NULL;
}

static GJB_ALWAYS_INLINE void *allocate(const char *call, mpart_id mid, bool resize, char *old,
                                        size_t align, size_t size)
{
    struct slot *s = enter(mid, resize ? GJB_SHP_REALLOC : GJB_SHP_ALLOC);
    return s ? allocate_in(s, call, resize, old, align, size) : NULL;
}

/* mpart_alloc's way out when the engine refused (the slot is locked). */
static GJB_NOINLINE void *alloc_refused(struct slot *s, int st)
{
    failed(s, "mpart_alloc", alloc_errno(st), st, NULL);
    return NULL;
}

/* mpart_alloc for an id private_slot_of refused: a shared partition's, or
 * a bad one. */
static GJB_NOINLINE void *alloc_other(mpart_id mid, size_t size)
{
    struct slot *s = enter_shared_id(mid, GJB_SHP_ALLOC);
    if (!s)
        return NULL;
    void *p;
    int st = gjb_heap_alloc(s->heap, size, &p); /* out of line: stores in order */
    if (GJB_UNLIKELY(st != GJB_OK))
        return alloc_refused(s, st);
    gjb_shp_leave(s->sh);
    return p;
}

/* The common paths of mpart_alloc, mpart_free and mpart_memalign call
 * nothing but in tail position (a call that ends the function), so that
 * they need no frame: no callee-saved register pushed and popped on every
 * call. A step that declines hands over, by a tail call, to a function
 * that goes on from there: alloc_slow and free_slow when the lock is not
 * free at once (or in interrupt context, or for a stale id); the rest of
 * the policy's allocation or free when its inline half declines
 * (alloc_exact and alloc_declined; free_aligned, free_missed_at and
 * free_declined: the inline halves change nothing then), without a second
 * look at the list;
 * alloc_locked and free_locked, which do the whole call with the lock
 * held, for anything else. Each policy's half sits where it costs the
 * other nothing (the layouts measured: docs/BENCHMARKS.md, "Engine v2"):
 * FIRST_FIT's quick-list halves inline in mpart_alloc and mpart_free
 * (ff_quick_hit, ff_free_look: docs/DESIGN.md, "Quick lists"), its exact
 * class and its other frees out of line, so that their registers do not
 * weigh on the common case; BUDDY's calls in functions of their own
 * (alloc_buddy, free_buddy, memalign_buddy_locked), both entries picking
 * the policy under the lock, by the heap's (read before the lock, from a
 * copy in the slot, the BUDDY pair took 4 instructions more and FIRST_FIT's
 * 3: docs/BENCHMARKS.md, stop 34).
 * Tools, guards (levels 2, 3) and firmware built for size
 * (GJBMEM_SMALL_CODE: no engine code copied in here) take the whole calls. */
#define HOT_PATHS (!GJBMEM_TOOLS && !GJB_GUARDED && !GJB_SMALL_CODE)

/* mpart_alloc on the locked private slot s: the engine's whole
 * allocation. */
static GJB_NOINLINE void *alloc_locked(struct slot *s, size_t size)
{
    void *p;
    int st = gjb_guarded_alloc(s->heap, size, &p);
    if (GJB_UNLIKELY(st != GJB_OK))
        return alloc_refused(s, st);
    gjb_fast_unlock(&s->lock);
    return p;
}

/* The ends of the common paths: the lock released, a waiter (rare) woken
 * out of line. Inline at the ends of the two quick paths (release_return,
 * release_ok: 3 instructions per pair less than a tail call); one copy for
 * the others, reached by tail calls (unlock_return, unlock_ok), so that
 * its rare branch is one for the coverage figures too, not one per
 * caller. */
static GJB_NOINLINE void *wake_return(struct slot *s, void *p)
{
    gjb_fast_wake(&s->lock);
    return p;
}

static GJB_NOINLINE int wake_ok(struct slot *s)
{
    gjb_fast_wake(&s->lock);
    return 0;
}

static GJB_ALWAYS_INLINE void *release_return(struct slot *s, void *p)
{
    if (GJB_UNLIKELY(gjb_fast_release(&s->lock)))
        return wake_return(s, p);
    return p;
}

static GJB_ALWAYS_INLINE int release_ok(struct slot *s)
{
    if (GJB_UNLIKELY(gjb_fast_release(&s->lock)))
        return wake_ok(s);
    return 0;
}

static GJB_NOINLINE void *unlock_return(struct slot *s, void *p)
{
    return release_return(s, p);
}

static GJB_NOINLINE int unlock_ok(struct slot *s)
{
    return release_ok(s);
}

/* mpart_alloc on the locked private slot s once the inline half of its
 * heap h's policy (ff_exact_hit, bd_alloc_pick) declined: the general
 * allocation, without a second look at the list. */
static GJB_NOINLINE void *alloc_declined(struct slot *s, gjb_heap *h, size_t size)
{
    void *p;
    int st = h->policy == GJB_BUDDY ? gjb_bd_alloc_declined(h, size, &p)
                                    : gjb_ff_alloc_declined(h, size, &p);
    if (GJB_UNLIKELY(st != GJB_OK))
        return alloc_refused(s, st);
    return unlock_return(s, p);
}

/* mpart_alloc on the locked private slot s, which holds the FIRST_FIT
 * heap h, when the request's quick list had no block (ff_quick_hit): its
 * exact class (ff_exact_hit), else the general allocation. Out of line, so
 * that the registers of this half do not weigh on the first. */
static GJB_NOINLINE void *alloc_exact(struct slot *s, gjb_heap *h, size_t size)
{
    void *p = ff_exact_hit(h, size);
    if (GJB_UNLIKELY(!p))
        return alloc_declined(s, h, size);
    if (size > h->peak_request)
        h->peak_request = size;
    return unlock_return(s, p);
}

/* mpart_alloc when the lock was not free at once, or in interrupt context,
 * or for a stale id. */
static GJB_NOINLINE void *alloc_slow(struct slot *s, mpart_id mid, size_t size, bool locked)
{
    if (locked)
        gjb_fast_unlock(&s->lock);
    if (!(s = enter_private(s, mid)))
        return NULL;
    return alloc_locked(s, size);
}

/* The second half of memalign_buddy_locked: takes off (next after it on
 * list k), which bd_alloc_pick chose; the request's statistics are done.
 * (Out of line: inline, the aligned workload's pair took 3 instructions
 * more; mpart_alloc's alloc_buddy takes its block inline.) */
static GJB_NOINLINE void *take_buddy(struct slot *s, gjb_heap *h, intptr_t off, intptr_t next,
                                     unsigned k, bool aligned)
{
    return unlock_return(s, bd_alloc_take(h, k, off, next, bd_tag(h, &h->hot, off), aligned));
}

/* alloc_declined for a BUDDY request of order k (< BD_ORDER_END) whose
 * statistics are done: the general allocation of a block of that order,
 * which is what gjb_bd_place makes of the request's size (only the order
 * is passed: alloc_buddy then keeps one register less). Hot paths only:
 * no tool watches. */
static GJB_NOINLINE void *alloc_order_declined(struct slot *s, gjb_heap *h, unsigned k)
{
    void *p;
    int st = gjb_bd_place(h, bd_size(k), GJB_G, &p);
    if (GJB_UNLIKELY(st != GJB_OK))
        return alloc_refused(s, gjb_refused(h, st));
    return unlock_return(s, p);
}

/* mpart_alloc on the locked private slot s, which holds the BUDDY heap h.
 * The request's statistics first (a declined call does them again: the
 * same). */
static GJB_NOINLINE void *alloc_buddy(struct slot *s, gjb_heap *h, size_t size)
{
    if (size > h->peak_request)
        h->peak_request = size;
    unsigned k = bd_order_for(size); /* size 0: an order no block has */
    if (GJB_UNLIKELY(k >= BD_ORDER_END))
        return alloc_declined(s, h, size);
    intptr_t off, next;
    unsigned char *t = bd_alloc_pick(h, k, &off, &next);
    if (GJB_UNLIKELY(!t))
        return alloc_order_declined(s, h, k);
    return release_return(s, bd_alloc_take(h, k, off, next, t, false));
}

void *mpart_alloc(mpart_id mid, size_t size)
{
    struct slot *s = private_slot_of(mid);
    if (GJB_UNLIKELY(!s))
        return alloc_other(mid, size);
    if (GJB_UNLIKELY(gjb_fast_in_isr() || !gjb_fast_try(&s->lock)))
        return alloc_slow(s, mid, size, false);
    if (GJB_UNLIKELY(s->id != mid))
        return alloc_slow(s, mid, size, true);
    gjb_heap *h = s->heap;
    if (!HOT_PATHS)
        return alloc_locked(s, size);
    if (h->policy == GJB_BUDDY)
        return alloc_buddy(s, h, size);
    /* (a build without quick lists, firmware's: the exact class inline) */
    void *p = FF_QUICK_OK ? ff_quick_hit(h, size) : ff_exact_hit(h, size);
    if (GJB_UNLIKELY(!p)) /* (a request too large for an exact class goes on at once) */
        return FF_QUICK_OK && size - 1 < FF_FAST_MAX ? alloc_exact(s, h, size)
                                                     : alloc_declined(s, h, size);
    if (size > h->peak_request)
        h->peak_request = size;
    return release_return(s, p);
}

/* The statistics of a memalign request that the engine's memalign would
 * keep (gjb_heap_memalign's), for the paths that go around it. */
static GJB_ALWAYS_INLINE void note_memalign(gjb_heap *h, size_t align, size_t size)
{
    if (size > h->peak_request)
        h->peak_request = size;
    if (align > h->max_align)
        h->max_align = align;
}

/* mpart_memalign on the locked private slot s, which holds the BUDDY heap
 * h: a block of the order that holds both size and alignment, aligned to
 * that size like every BUDDY block (gjb_heap_memalign's placement). */
static GJB_NOINLINE void *memalign_buddy_locked(struct slot *s, gjb_heap *h, size_t align,
                                                size_t size)
{
    if (GJB_UNLIKELY(align <= GJB_G || (align & (align - 1)) || size == 0))
        return allocate_in(s, "mpart_memalign", false, NULL, align, size);
    note_memalign(h, align, size);
    unsigned k = bd_order_for(size > align ? size : align);
    intptr_t off, next;
    unsigned char *t = bd_alloc_pick(h, k, &off, &next);
    if (GJB_UNLIKELY(!t))
        return allocate_in(s, "mpart_memalign", false, NULL, align, size);
    return take_buddy(s, h, off, next, k, true);
}

/* mpart_memalign's whole call (allocate), out of line for
 * mpart_memalign, which must not have its frame. */
static GJB_NOINLINE void *memalign_whole(mpart_id mid, size_t align, size_t size)
{
    return allocate("mpart_memalign", mid, false, NULL, align, size);
}

/* mpart_memalign on the locked private slot s, which holds the FIRST_FIT
 * heap h: the engine's memalign (a quick block first when it is aligned
 * enough), without the layers of the whole call. */
static GJB_NOINLINE void *memalign_first_fit_locked(struct slot *s, gjb_heap *h, size_t align,
                                                    size_t size)
{
    void *p;
    int st;
    if (GJB_LIKELY(align > GJB_G && !(align & (align - 1)) && size != 0)) {
        note_memalign(h, align, size); /* gjb_heap_memalign's steps, a call less */
        st = gjb_ff_memalign(h, align, size, &p);
        if (GJB_UNLIKELY(st != GJB_OK))
            gjb_refused(h, st);
    } else {
        st = gjb_heap_memalign(h, align, size, &p);
    }
    if (GJB_UNLIKELY(st != GJB_OK)) {
        failed(s, "mpart_memalign", alloc_errno(st), st, NULL);
        return NULL;
    }
    return unlock_return(s, p);
}

/* mpart_memalign when the lock was not free at once, or in interrupt
 * context, or for a stale id (locked: the lock is held, and released). */
static GJB_NOINLINE void *memalign_slow(struct slot *s, mpart_id mid, size_t align, size_t size,
                                        bool locked)
{
    if (locked)
        gjb_fast_unlock(&s->lock);
    return memalign_whole(mid, align, size);
}

void *mpart_memalign(mpart_id mid, size_t alignment, size_t size)
{
    struct slot *s = private_slot_of(mid);
    if (!HOT_PATHS || GJB_UNLIKELY(!s))
        return memalign_whole(mid, alignment, size);
    if (GJB_UNLIKELY(gjb_fast_in_isr() || !gjb_fast_try(&s->lock)))
        return memalign_slow(s, mid, alignment, size, false);
    if (GJB_UNLIKELY(s->id != mid))
        return memalign_slow(s, mid, alignment, size, true);
    gjb_heap *h = s->heap;
    if (h->policy == GJB_BUDDY)
        return memalign_buddy_locked(s, h, alignment, size);
    void *p = FF_QUICK_OK ? ff_quick_aligned_hit(h, alignment, size) : NULL;
    if (!p)
        return memalign_first_fit_locked(s, h, alignment, size);
    note_memalign(h, alignment, size);
    return release_return(s, p);
}

void *mpart_realloc(mpart_id mid, char *addr, size_t size)
{
    return allocate("mpart_realloc", mid, true, addr, 0, size);
}

/* mpart_free's way out when the engine refused (the slot is locked). */
static GJB_NOINLINE int free_refused(struct slot *s, int st, const void *addr)
{
    return failed(s, "mpart_free", st == GJB_E_INVAL ? EINVAL : ERROR_REGION_NULL, st, addr);
}

/* mpart_free for an id private_slot_of refused: a shared partition's, or
 * a bad one. */
static GJB_NOINLINE int free_other(mpart_id mid, char *addr)
{
    struct slot *s = enter_shared_id(mid, GJB_SHP_FREE);
    if (!s)
        return -1;
    int st = gjb_heap_free(s->heap, addr); /* out of line: stores in order */
    if (GJB_UNLIKELY(st != GJB_OK))
        return free_refused(s, st, addr);
    gjb_shp_leave(s->sh);
    return 0;
}

/* mpart_free on the locked private slot s: the engine's whole free. */
static GJB_ALWAYS_INLINE int free_whole(struct slot *s, char *addr)
{
    int st = gjb_guarded_free(s->heap, addr);
    if (GJB_UNLIKELY(st != GJB_OK))
        return free_refused(s, st, addr);
    gjb_fast_unlock(&s->lock);
    return 0;
}

static GJB_NOINLINE int free_locked(struct slot *s, char *addr)
{
    return free_whole(s, addr);
}

/* mpart_free when the lock was not free at once, or in interrupt context,
 * or for a stale id. */
static GJB_NOINLINE int free_slow(struct slot *s, mpart_id mid, char *addr, bool locked)
{
    if (locked)
        gjb_fast_unlock(&s->lock);
    if (!(s = enter_private(s, mid)))
        return -1;
    return free_locked(s, addr);
}

/* mpart_free's way on when the policy's hit (bd_free_hit, ff_free_look)
 * declined: the general free (a merge, another region's block, or a
 * refusal it tells apart). */
static GJB_NOINLINE int free_declined(struct slot *s, gjb_heap *h, char *addr)
{
    int st = !addr                    ? GJB_E_INVAL
             : h->policy == GJB_BUDDY ? gjb_bd_free(h, addr)
                                      : gjb_ff_free_other(h, addr);
    if (GJB_UNLIKELY(st != GJB_OK))
        return free_refused(s, st, addr);
    return unlock_ok(s);
}

/* mpart_free's way on when ff_free_look declined a block of the hot
 * region's area (d, hd: its offset and header): freed and merged without
 * a second look at where it is (ff_free_missed_at), or refused. Out of
 * line, so that the registers of this half do not weigh on the first. */
static GJB_NOINLINE int free_missed_at(struct slot *s, gjb_heap *h, char *addr, size_t d,
                                       size_t hd)
{
    int st = ff_free_missed_at(h, addr, d, hd);
    if (GJB_UNLIKELY(st != GJB_OK))
        return free_refused(s, st, addr);
    return unlock_ok(s);
}

/* mpart_free's way on when ff_free_look found a block memalign placed
 * (d, hd: its offset and header): onto the quick list of its level
 * (ff_free_aligned), else as free_missed_at. */
static GJB_NOINLINE int free_aligned(struct slot *s, gjb_heap *h, char *addr, size_t d,
                                     size_t hd)
{
    if (GJB_LIKELY(ff_free_aligned(h, addr, d, hd)))
        return release_ok(s);
    return free_missed_at(s, h, addr, d, hd);
}

/* mpart_free's entry on slot s: true with s locked and holding mid; else
 * false with *ret what the slow way (free_slow: a busy lock, interrupt
 * context, a stale id) returned. */
static GJB_ALWAYS_INLINE bool free_enter(struct slot *s, mpart_id mid, char *addr, int *ret)
{
    if (GJB_UNLIKELY(gjb_fast_in_isr() || !gjb_fast_try(&s->lock)))
        *ret = free_slow(s, mid, addr, false);
    else if (GJB_UNLIKELY(s->id != mid))
        *ret = free_slow(s, mid, addr, true);
    else
        return true;
    return false;
}

/* mpart_free on the locked private slot s, which holds the BUDDY heap h,
 * in a function of its own (bd_free_hit: the hot region only). */
static GJB_NOINLINE int free_buddy(struct slot *s, gjb_heap *h, char *addr)
{
    if (GJB_LIKELY(bd_free_hit(h, addr)))
        return release_ok(s);
    return free_declined(s, h, addr);
}

/* mpart_free: the lock and the id, then the policy's half. FIRST_FIT's
 * frame-free half is inline (ff_free_look: a block onto a quick list); a
 * block of the hot region that does not go onto one is freed without
 * looking for its region again (free_aligned, free_missed_at), anything
 * else gets the engine's general free (free_declined). */
int mpart_free(mpart_id mid, char *addr)
{
    struct slot *s = private_slot_of(mid);
    if (GJB_UNLIKELY(!s))
        return free_other(mid, addr);
    int ret;
    if (GJB_UNLIKELY(!free_enter(s, mid, addr, &ret)))
        return ret;
    if (!HOT_PATHS)
        return free_locked(s, addr);
    gjb_heap *h = s->heap;
    if (h->policy == GJB_BUDDY)
        return free_buddy(s, h, addr);
    size_t d, hd;
    enum ff_look look = ff_free_look(h, addr, &d, &hd);
    if (GJB_LIKELY(look == FF_LOOK_HIT))
        return release_ok(s);
    if (look == FF_LOOK_ALIGNED)
        return free_aligned(s, h, addr, d, hd);
    if (look == FF_LOOK_OTHER) /* another region's block, NULL, or a foreign pointer */
        return free_declined(s, h, addr);
    return free_missed_at(s, h, addr, d, hd);
}

int mpart_set_error_policy(mpart_id mid, unsigned flags, gjbmem_error_hook hook, void *arg)
{
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    if (!gjb_errpolicy_valid(flags, hook))
        return fail(EINVAL);
    int err;
    struct slot *s = lock_part(mid, false, &err);
    if (!s)
        return fail(err);
    s->pol = (struct gjb_errpolicy){flags, hook, arg};
    release(s);
    return 0;
}

int mpart_findmaxfree_size(mpart_id mid, size_t *size)
{
    if (!size)
        return fail(EINVAL);
    int err;
    struct slot *s = acquire(mid, &err);
    if (!s)
        return fail(err);
    gjb_heap_settle(s->heap); /* exact: what set-aside blocks merge into counts */
    *size = gjb_guarded_max(s->heap);
    release(s);
    return 0;
}

int mpart_findmaxfree(mpart_id mid)
{
    size_t m;
    if (mpart_findmaxfree_size(mid, &m) != 0)
        return -1;
    return m > INT_MAX ? INT_MAX : (int)m;
}

int mpart_getstats(mpart_id mid, struct gjbmem_heap_stats *st)
{
    if (!st)
        return fail(EINVAL);
    int err;
    struct slot *s = acquire(mid, &err);
    if (!s)
        return fail(err);
    gjb_heap_get_stats(s->heap, st);
    release(s);
    return 0;
}

int mpart_getinfo(mpart_id mid, struct partinfo *pi)
{
    struct gjbmem_heap_stats st;
    if (!pi)
        return fail(EINVAL);
    if (mpart_getstats(mid, &st) != 0)
        return -1;
    pi->segment = st.segments;
    pi->used = st.used;
    pi->maxused = st.maxused;
    pi->free = st.free;
    return 0;
}

/* Validates the heap of locked slot s (gjb_guarded_validate), a shared
 * partition's descriptor first: another process may have pointed it
 * outside the memory since the open. */
static int validated(const struct slot *s)
{
    return s->sh && !gjb_shp_within(s->sh) ? GJB_E_CORRUPT : gjb_guarded_validate(s->heap);
}

int mpart_validate(mpart_id mid)
{
    int err;
    struct slot *s = acquire(mid, &err);
    if (!s)
        return fail(err);
    int st = validated(s);
    struct gjb_errpolicy pol = s->pol;
    release(s);
    if (st == GJB_OK)
        return 0;
    report(&pol, mid, "mpart_validate", ERROR_KERNEL_MEMORY, GJB_E_CORRUPT, NULL);
    return fail(ERROR_KERNEL_MEMORY);
}

size_t mpart_usable_size(mpart_id mid, const void *addr)
{
    int err;
    struct slot *s = acquire(mid, &err);
    if (!s) {
        gjb_port_set_errno(err);
        return 0;
    }
    size_t n = gjb_guarded_usable(s->heap, addr);
    release(s);
    if (!n)
        gjb_port_set_errno(ERROR_REGION_NULL);
    return n;
}

struct block_list {
    struct mpart_block *out;
    size_t cap, n, hdr;
};

static int list_block(void *ctx, void *payload, size_t size, bool used)
{
    struct block_list *l = ctx;
    if (l->n < l->cap)
        l->out[l->n] = (struct mpart_block){(char *)payload - l->hdr, size + l->hdr, l->hdr, used};
    l->n++;
    return 0;
}

size_t gjb_mpart_list_blocks(const gjb_heap *h, size_t header, struct mpart_block *out, size_t cap)
{
    struct block_list l = {out, cap, 0, header};
    gjb_heap_walk(h, list_block, &l);
    return l.n;
}

int mpart_blocks(mpart_id mid, struct mpart_block *out, size_t cap, size_t *count)
{
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    if (!count || (!out && cap))
        return fail(EINVAL);
    int err;
    struct slot *s = lock_part(mid, false, &err);
    if (!s)
        return fail(err);
    if (s->sh && validated(s) != GJB_OK) {
        struct gjb_errpolicy pol = s->pol;
        release(s); /* another process damaged it: its blocks are not walked */
        report(&pol, mid, "mpart_blocks", ERROR_KERNEL_MEMORY, GJB_E_CORRUPT, NULL);
        return fail(ERROR_KERNEL_MEMORY);
    }
    struct gjbmem_heap_stats st;
    gjb_heap_get_stats(s->heap, &st);
    size_t n = gjb_mpart_list_blocks(s->heap, st.header_bytes, out, cap);
    release(s);
    *count = n;
    return 0;
}

void gjb_mpart_each(gjb_part_fn fn, void *ctx)
{
    gjb_port_init_once(gjb_lib_init);
    for (int i = 0; i < MPART_MAX_PARTS; i++) {
        struct slot *s = &slots[i];
        struct gjbmem_heap_stats st;
        gjb_port_lock_take(&s->lock);
        bool live = s->heap != NULL && (!s->sh || gjb_shp_enter(s->sh, GJB_SHP_NONE) == 0);
        unsigned long mid = s->id;
        if (live)
            gjb_heap_get_stats(s->heap, &st);
        if (live && s->sh)
            gjb_shp_leave(s->sh);
        gjb_port_lock_release(&s->lock);
        if (live)
            fn(ctx, mid, &st);
    }
}

/* --- slots of partitions in shared memory (mpart_shared.c) */

int gjb_mpart_install(gjb_heap *h, struct gjb_shpart *sh, mpart_id *mid)
{
    gjb_port_init_once(gjb_lib_init);
    int err = ENOSPC;
    gjb_port_global_lock();
    struct slot *s = NULL;
    for (int i = 0; i < MPART_MAX_PARTS && !s; i++)
        if (!slots[i].heap)
            s = &slots[i];
    if (s && live_parts < max_parts) {
        gjb_port_lock_take(&s->lock);
        s->heap = h;
        s->pol = (struct gjb_errpolicy){GJBMEM_ERR_RETURN, NULL, NULL};
        __atomic_store_n(&s->sh, sh, __ATOMIC_RELEASE); /* before the id: peek_shared */
        set_id(s, next_id(s, true));
        *mid = s->id;
        gjb_port_lock_release(&s->lock);
        live_parts++;
        err = 0;
    }
    gjb_port_global_unlock();
    return err;
}

int gjb_mpart_uninstall(mpart_id mid, gjb_shp_check_fn check, void *ctx, struct gjb_shpart **sh)
{
    gjb_port_init_once(gjb_lib_init);
    gjb_port_global_lock();
    struct slot *s = lock_slot(mid, false);
    int err = !s || !s->sh ? EINVAL : check(s->sh, s->heap, ctx);
    if (!err) { /* check holds the shared lock: no call is inside; late ones see the id go */
        *sh = s->sh;
        s->heap = NULL;
        set_id(s, 0);
        __atomic_store_n(&s->sh, NULL, __ATOMIC_RELEASE);
        s->gen++;
        live_parts--;
        gjb_shp_leave(*sh);
    }
    if (s)
        gjb_fast_unlock(&s->lock);
    gjb_port_global_unlock();
    return err;
}

struct gjb_shpart *gjb_mpart_shared_of(mpart_id mid, gjb_heap **h)
{
    gjb_port_init_once(gjb_lib_init);
    struct slot *s = lock_slot(mid, false);
    if (!s)
        return NULL;
    struct gjb_shpart *sh = s->sh;
    *h = s->heap;
    gjb_fast_unlock(&s->lock);
    return sh;
}
