/*
 * sysheap_regions.c - the system heap's memory: regions taken from the host
 * as an arena grows (its first of GROW_MIN bytes, each later one at least
 * as large as all before it together, so SYS_REGIONS is never the limit;
 * each aligned to a chunk and tagged in the chunk map), regions the
 * integrator adds (to arena 0), the limit on what the heap takes from the
 * host, and heap_mem_init, which re-creates the arenas over their regions
 * with another policy.
 */
#include <errno.h>

#include "sysheap_state.h"
#include "gjbext.h"
#include "gjbmem/sysheap.h"

size_t gjb_sys_page_up(size_t n)
{
    size_t page = gjb_sys.page;
    return n > SIZE_MAX - page ? 0 : (n + page - 1) & ~(page - 1);
}

size_t gjb_sys_room(size_t reserve)
{
    size_t held = gjb_sys.port + reserve;
    return held >= gjb_sys.port && gjb_sys.limit > held
               ? (gjb_sys.limit - held) & ~(gjb_sys.page - 1)
               : 0;
}

/* Makes [mem, mem+size) a region of arena a (creating its heap); both
 * locks held. 0 or errno. */
static int adopt(struct gjb_arena *a, void *mem, size_t size, bool from_port)
{
    if (a->npieces == SYS_REGIONS)
        return ENOSPC;
    int st = gjb_chunk_mark(mem, size, (unsigned)(a - gjb_sys.arena) + 1);
    if (st)
        return st;
    gjb_heap *h = a->h;
    st = h ? gjb_heap_add_region(h, mem, size)
           : gjb_heap_init(mem, size, gjb_sys.policy, SYS_REGIONS, &h);
    if (st == GJB_OK)
        atomic_store_explicit(&a->h, h, memory_order_release); /* read without the lock */
    if (st != GJB_OK)
        return st == GJB_E_FULL ? ENOSPC : EINVAL;
    a->piece[a->npieces++] = (struct gjb_sys_piece){mem, size, from_port};
    a->regions += size;
    return 0;
}

/* want bytes of pages from the port starting at a chunk boundary (the
 * mapping is made a chunk larger and trimmed), or NULL. */
static void *chunk_pages(size_t want)
{
    void *mem;
    if (want > SIZE_MAX - GJB_CHUNK_BYTES || gjb_port_pages_get(want + GJB_CHUNK_BYTES, &mem) != 0)
        return NULL;
    uintptr_t p = (uintptr_t)mem, at = (p + GJB_CHUNK_BYTES - 1) & ~(uintptr_t)(GJB_CHUNK_BYTES - 1);
    size_t lead = at - p;
    if (lead)
        gjb_port_pages_put(mem, lead);
    gjb_port_pages_put((char *)at + want, GJB_CHUNK_BYTES - lead);
    return (void *)at;
}

/* The size of arena a's next region for a request of size bytes: twice
 * the request, at least GROW_MIN and all a has, in whole chunks where the
 * limit leaves room, else what it leaves; 0 when that is too little. */
static size_t region_size(const struct gjb_arena *a, size_t size)
{
    if (size > SIZE_MAX / 4)
        return 0;
    size_t want = 2 * size + size / 16 + (64u << 10), room = gjb_sys_room(0);
    want = want < GROW_MIN ? GROW_MIN : want;
    want = want < a->regions ? a->regions : want;
    want = (want + GJB_CHUNK_BYTES - 1) & ~(GJB_CHUNK_BYTES - 1);
    want = want > room ? room : want;
    return want > size ? want : 0;
}

int gjb_sys_grow(struct gjb_arena *a, size_t size)
{
    gjb_fast_lock_mt(&gjb_sys.lock); /* not gjb_sys_lock: start-up grows arena 0 */
    if (size <= SIZE_MAX / 4)
        gjb_sys_direct_trim(2 * size + GROW_MIN); /* kept direct mappings before the heap */
    size_t want = region_size(a, size);
    void *mem = want && a->npieces < SYS_REGIONS ? chunk_pages(want) : NULL;
    int err = mem ? adopt(a, mem, want, true) : ENOMEM;
    if (mem && err)
        gjb_port_pages_put(mem, want);
    if (!err)
        gjb_sys.port += want;
    gjb_fast_unlock_mt(&gjb_sys.lock);
    return err ? ENOMEM : 0;
}

int gjbmem_sysheap_set_limit(size_t bytes)
{
    gjb_sys_lock();
    if (bytes < gjb_sys.port)
        gjb_sys_direct_trim(SIZE_MAX); /* kept direct mappings go first */
    bool ok = bytes >= gjb_sys.port;
    if (ok)
        gjb_sys.limit = bytes;
    gjb_sys_unlock();
    if (!ok)
        gjb_port_set_errno(EINVAL);
    return ok ? 0 : -1;
}

/* True when [mem, mem+size) lies within the usable bytes of the block at
 * p of raw bytes (NULL: none), so not over its guard at hardening level 2+
 * nor past its end. */
static bool within(const char *p, size_t raw, const void *mem, size_t size)
{
    size_t n = p && raw && GJB_GUARDED ? gjb_guard_size(p, raw) : raw;
    size_t off = p ? (size_t)((const char *)mem - p) : 0;
    return p && n && n != SIZE_MAX && off < n && size <= n - off;
}

/* gjb_sysheap_overlap for arena a (locked). */
static enum gjb_sys_overlap arena_overlap(const struct gjb_arena *a, const void *mem, size_t size)
{
    if (!a->h || !gjb_heap_overlaps(a->h, mem, size))
        return GJB_SYS_NONE;
    const char *b = gjb_heap_block_of(a->h, mem);
    return within(b, b ? gjb_arena_raw(a, b) : 0, mem, size) ? GJB_SYS_BLOCK : GJB_SYS_OTHER;
}

enum gjb_sys_overlap gjb_sysheap_overlap(const void *mem, size_t size)
{
    enum gjb_sys_overlap o = GJB_SYS_NONE;
    gjb_fast_init_once(gjb_lib_init);
    if (gjb_slab_maybe(mem)) /* (the arenas see the slab as one block) */
        return gjb_slab_holds(mem, size) ? GJB_SYS_BLOCK : GJB_SYS_OTHER;
    for (unsigned i = 0; i < SYS_ARENAS && o == GJB_SYS_NONE; i++) {
        struct gjb_arena *a = &gjb_sys.arena[i];
        gjb_arena_lock(a);
        o = arena_overlap(a, mem, size);
        gjb_arena_unlock(a);
    }
    if (o != GJB_SYS_NONE)
        return o;
    gjb_sys_lock();
    if (gjb_big_overlaps(&gjb_sys.big, mem, size)) {
        const char *b = gjb_big_containing(&gjb_sys.big, mem);
        o = within(b, b ? gjb_sys_direct_raw(b) : 0, mem, size) ? GJB_SYS_BLOCK : GJB_SYS_OTHER;
    }
    gjb_sys_unlock();
    return o;
}

int gjbmem_sysheap_add_memory(void *mem, size_t size)
{
    gjb_port_init_once(gjb_lib_init);
    gjb_port_global_lock(); /* held until the memory is the heap's: ownership.c */
    int err = !mem || !size || !gjb_memory_free_for_sysheap(mem, size) ? EINVAL : 0;
    if (!err) {
        struct gjb_arena *a = &gjb_sys.arena[0];
        gjb_arena_lock(a);
        gjb_sys_lock();
        err = adopt(a, mem, size, false);
        gjb_sys_unlock();
        gjb_arena_unlock(a);
    }
    gjb_port_global_unlock();
    if (err)
        gjb_port_set_errno(err);
    return err ? -1 : 0;
}

/* Re-creates arena a's heap over the same memory with policy (no block
 * live). */
static int rebuild(struct gjb_arena *a, int policy)
{
    if (!a->h)
        return 0;
    gjb_heap *h = NULL;
    gjb_heap_retire(a->h); /* for valgrind: the old heap's pool goes */
    const struct gjb_sys_piece *piece = a->piece;
    if (gjb_heap_init(piece[0].mem, piece[0].size, policy, SYS_REGIONS, &h) != GJB_OK)
        return ENOMEM;
    for (unsigned i = 1; i < a->npieces; i++)
        if (gjb_heap_add_region(h, piece[i].mem, piece[i].size) != GJB_OK)
            return ENOMEM;
    atomic_store_explicit(&a->h, h, memory_order_release);
    return 0;
}

/* True when no arena holds a block and no direct mapping is live (all
 * locked). An empty region is no block: a fresh heap switches policy. */
static bool all_empty(void)
{
    for (unsigned i = 0; i < SYS_ARENAS; i++)
        if (gjb_sys.arena[i].h && !gjb_heap_is_empty(gjb_sys.arena[i].h))
            return false;
    return gjb_sys.big.count == 0;
}

/* Re-creates every arena with policy (all locked): 0 or ENOMEM. */
static int rebuild_all(int policy)
{
    for (unsigned i = 0; i < SYS_ARENAS; i++)
        if (rebuild(&gjb_sys.arena[i], policy) != 0)
            return ENOMEM;
    return 0;
}

int heap_mem_init(int flag)
{
    if (flag != FIRST_FIT_ALLOCATION && flag != BUDDY_ALLOCATION) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    int policy = flag == BUDDY_ALLOCATION ? GJB_BUDDY : GJB_FIRST_FIT, err = 0;
    gjb_tc_flush_mine(); /* the calling thread's cached blocks are no live blocks */
    gjb_sys_lock_all();
    void *bad = NULL;
    for (unsigned i = 0; i < SYS_ARENAS; i++) { /* blocks handed back are free */
        void *b = gjb_tc_drain_remote(&gjb_sys.arena[i]);
        bad = bad ? bad : b;
    }
    if (policy != gjb_sys.policy) {
        if (!all_empty())
            err = EBUSY;
        else if ((err = rebuild_all(policy)) != 0)
            (void)rebuild_all(gjb_sys.policy); /* memory that fit one policy fits it again */
        if (!err) {
            gjb_sys.policy = policy;
            gjb_tc_policy(policy == GJB_BUDDY); /* every cache is empty now */
            gjb_slab_setup(policy);             /* and no slab is left */
        }
    }
    gjb_sys_unlock_all();
    if (bad)
        gjb_tc_report(bad);
    if (err)
        gjb_port_set_errno(err);
    return err ? -1 : 0;
}
