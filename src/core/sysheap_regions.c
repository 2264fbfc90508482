/*
 * sysheap_regions.c - the system heap's memory: regions taken from the host
 * as it grows (the first at start-up of GROW_MIN bytes, each later one at
 * least as large as all before it together, so SYS_REGIONS is never the
 * limit), regions the integrator adds, the limit on what it takes from the
 * host, and heap_mem_init, which re-creates the heap over its regions with
 * another policy.
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

/* Makes [mem, mem+size) a region of the heap (creating it). 0 or errno. */
static int adopt(void *mem, size_t size, bool from_port)
{
    if (gjb_sys.npieces == SYS_REGIONS)
        return ENOSPC;
    int st = gjb_sys.h ? gjb_heap_add_region(gjb_sys.h, mem, size)
                       : gjb_heap_init(mem, size, gjb_sys.policy, SYS_REGIONS, &gjb_sys.h);
    if (st != GJB_OK)
        return st == GJB_E_FULL ? ENOSPC : EINVAL;
    gjb_sys.piece[gjb_sys.npieces++] = (struct gjb_sys_piece){mem, size, from_port};
    gjb_sys.regions += size;
    return 0;
}

int gjb_sys_grow(size_t size)
{
    if (size > SIZE_MAX / 4)
        return ENOMEM;
    size_t want = 2 * size + size / 16 + (64u << 10);
    if (want < GROW_MIN)
        want = GROW_MIN;
    if (want < gjb_sys.regions)
        want = gjb_sys.regions;
    want = gjb_sys_page_up(want);
    if (want > gjb_sys_room(0))
        want = gjb_sys_room(0);
    void *mem;
    if (want <= size || gjb_sys.npieces == SYS_REGIONS || gjb_port_pages_get(want, &mem) != 0)
        return ENOMEM;
    int err = adopt(mem, want, true);
    if (err) {
        gjb_port_pages_put(mem, want);
        return ENOMEM;
    }
    gjb_sys.port += want;
    return 0;
}

int gjbmem_sysheap_set_limit(size_t bytes)
{
    gjb_sys_lock();
    bool ok = bytes >= gjb_sys.port;
    if (ok)
        gjb_sys.limit = bytes;
    gjb_sys_unlock();
    if (!ok)
        gjb_port_set_errno(EINVAL);
    return ok ? 0 : -1;
}

/* True when [mem, mem+size) lies within the usable bytes of block p (a
 * heap block or a direct mapping; NULL: none), so not over its guard at
 * hardening level 2+ nor past its end. */
static bool within(const char *p, const void *mem, size_t size)
{
    size_t n = p ? gjb_sys_usable(p) : 0;
    size_t off = p ? (size_t)((const char *)mem - p) : 0;
    return p && n != SIZE_MAX && off < n && size <= n - off;
}

enum gjb_sys_overlap gjb_sysheap_overlap(const void *mem, size_t size)
{
    gjb_sys_lock();
    enum gjb_sys_overlap o = GJB_SYS_NONE;
    if (gjb_sys.h && gjb_heap_overlaps(gjb_sys.h, mem, size))
        o = within(gjb_heap_block_of(gjb_sys.h, mem), mem, size) ? GJB_SYS_BLOCK : GJB_SYS_OTHER;
    else if (gjb_big_overlaps(&gjb_sys.big, mem, size))
        o = within(gjb_big_containing(&gjb_sys.big, mem), mem, size) ? GJB_SYS_BLOCK
                                                                     : GJB_SYS_OTHER;
    gjb_sys_unlock();
    return o;
}

int gjbmem_sysheap_add_memory(void *mem, size_t size)
{
    gjb_port_init_once(gjb_lib_init);
    gjb_port_global_lock(); /* held until the memory is the heap's: ownership.c */
    int err = !mem || !size || !gjb_memory_free_for_sysheap(mem, size) ? EINVAL : 0;
    if (!err) {
        gjb_sys_lock();
        err = adopt(mem, size, false);
        gjb_sys_unlock();
    }
    gjb_port_global_unlock();
    if (err)
        gjb_port_set_errno(err);
    return err ? -1 : 0;
}

/* Re-creates the heap over the same memory with policy (no block live). */
static int rebuild(int policy)
{
    gjb_heap *h = NULL;
    if (gjb_sys.h)
        gjb_heap_retire(gjb_sys.h); /* for valgrind: the old heap's pool goes */
    const struct gjb_sys_piece *piece = gjb_sys.piece;
    if (gjb_heap_init(piece[0].mem, piece[0].size, policy, SYS_REGIONS, &h) != GJB_OK)
        return ENOMEM;
    for (unsigned i = 1; i < gjb_sys.npieces; i++)
        if (gjb_heap_add_region(h, piece[i].mem, piece[i].size) != GJB_OK)
            return ENOMEM;
    gjb_sys.h = h;
    return 0;
}

int heap_mem_init(int flag)
{
    if (flag != FIRST_FIT_ALLOCATION && flag != BUDDY_ALLOCATION) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    int policy = flag == BUDDY_ALLOCATION ? GJB_BUDDY : GJB_FIRST_FIT, err = 0;
    gjb_sys_lock();
    if (policy != gjb_sys.policy) {
        if ((gjb_sys.h && !gjb_heap_is_empty(gjb_sys.h)) || gjb_sys.big.count)
            err = EBUSY; /* an empty region is no block: a fresh heap switches */
        else if (gjb_sys.h && (err = rebuild(policy)) != 0)
            (void)rebuild(gjb_sys.policy); /* memory that fit one policy fits it again */
        if (!err)
            gjb_sys.policy = policy;
    }
    gjb_sys_unlock();
    if (err)
        gjb_port_set_errno(err);
    return err ? -1 : 0;
}
