/*
 * sysheap_stats.c - what the system heap reports: mem_findmax,
 * mem_getinfo, gjbmem_sysheap_stats, gjbmem_sysheap_validate, mem_show's
 * summary line.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "sysheap_state.h"
#include "gjbext.h"
#include "gjbmem/sysheap.h"
#include "textline.h"

int mem_findmax(void)
{
    size_t m = 0;
    gjb_fast_init_once(gjb_lib_init);
    for (unsigned i = 0; i < SYS_ARENAS; i++) {
        struct gjb_arena *a = &gjb_sys.arena[i];
        gjb_arena_lock(a);
        size_t n = a->h ? gjb_guarded_max(a->h) : 0;
        gjb_arena_unlock(a);
        m = n > m ? n : m;
    }
    return m > INT_MAX ? INT_MAX : (int)m;
}

int mem_getinfo(struct meminfo *info)
{
    if (!info) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    if (!gjb_port_in_system_context()) {
        gjb_port_set_errno(EACCES);
        return -1;
    }
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    info->segment = st.heap.segments;
    info->used = st.heap.used;
    info->maxused = st.heap.maxused;
    info->free = st.heap.free;
    return 0;
}

/* Adds the statistics of one arena's heap to *sum: counters add up, the
 * largest block and request are the largest of any arena. */
static void add_stats(struct gjbmem_heap_stats *sum, const struct gjbmem_heap_stats *s)
{
    sum->segments += s->segments;
    sum->used += s->used;
    sum->maxused += s->maxused;
    sum->free += s->free;
    sum->total += s->total;
    sum->alloc_blocks += s->alloc_blocks;
    sum->free_blocks += s->free_blocks;
    sum->regions += s->regions;
    sum->failed += s->failed;
    sum->largest_free = s->largest_free > sum->largest_free ? s->largest_free : sum->largest_free;
    sum->peak_request = s->peak_request > sum->peak_request ? s->peak_request : sum->peak_request;
    sum->header_bytes = s->header_bytes;
    sum->min_block = s->min_block;
}

int gjbmem_sysheap_stats(struct gjbmem_sysheap_stats *st)
{
    if (!st) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    memset(&st->heap, 0, sizeof st->heap);
    gjb_fast_init_once(gjb_lib_init);
    gjb_slab_lock(); /* (the slabs still while the arenas are read) */
    for (unsigned i = 0; i < SYS_ARENAS; i++) {
        struct gjb_arena *a = &gjb_sys.arena[i];
        struct gjbmem_heap_stats one;
        gjb_arena_lock(a);
        if (a->h)
            gjb_heap_get_stats(a->h, &one);
        gjb_arena_unlock(a);
        if (a->h)
            add_stats(&st->heap, &one);
    }
    struct gjb_slab_sums sl;
    gjb_slab_sums(&sl); /* a slab's slots count as blocks, its free ones as free */
    gjb_slab_unlock();
    st->heap.used -= sl.free_bytes;
    st->heap.free += sl.free_bytes;
    st->heap.alloc_blocks += sl.used_slots - sl.slabs;
    st->heap.free_blocks += sl.slots - sl.used_slots;
    st->heap.segments += sl.slots - sl.slabs;
    size_t kept, kept_bytes;
    gjb_sys_lock();
    gjb_tc_totals(&kept, &kept_bytes); /* blocks in thread caches count as free */
    st->heap.used -= kept_bytes;
    st->heap.free += kept_bytes;
    st->heap.alloc_blocks -= kept;
    st->heap.free_blocks += kept;
    st->policy = gjb_sys.policy == GJB_BUDDY ? BUDDY_ALLOCATION : FIRST_FIT_ALLOCATION;
    st->limit = gjb_sys.limit;
    st->port_bytes = gjb_sys.port;
    st->direct_blocks = gjb_sys.big.count;
    st->direct_bytes = gjb_sys.big.bytes;
    gjb_sys_unlock();
    return 0;
}

/* Hardening level 2+: every direct mapping's guard is whole. */
static bool direct_guards_ok(void)
{
    for (size_t i = 0; GJB_GUARDED && i < gjb_sys.big.cap; i++) {
        const struct gjb_big *e = &gjb_sys.big.slot[i];
        if (e->addr && gjb_guard_size((const void *)e->addr, e->len) == SIZE_MAX)
            return false;
    }
    return true;
}

/* Every arena's heap validates (each under its lock). */
static bool arenas_ok(void)
{
    bool ok = true;
    for (unsigned i = 0; i < SYS_ARENAS; i++) {
        struct gjb_arena *a = &gjb_sys.arena[i];
        gjb_arena_lock(a);
        ok = ok && (!a->h || gjb_guarded_validate(a->h) == GJB_OK) && gjb_tc_remote_ok(a);
        gjb_arena_unlock(a);
    }
    return ok;
}

/* Bytes the system heap should hold from the port (lock held; regions are
 * added with both locks held, so this lock alone keeps them still). */
static size_t port_expected(void)
{
    size_t port = gjb_big_table_bytes(&gjb_sys.big) + gjb_sys.big.bytes + gjb_chunk_bytes() +
                  gjb_sys_direct_kept() + gjb_slab_table_bytes();
    for (unsigned i = 0; i < SYS_ARENAS; i++)
        for (unsigned k = 0; k < gjb_sys.arena[i].npieces; k++)
            port += gjb_sys.arena[i].piece[k].from_port ? gjb_sys.arena[i].piece[k].size : 0;
    return port;
}

int gjbmem_sysheap_validate(void)
{
    bool ok = arenas_ok() && gjb_tc_check_mine() && gjb_slab_validate();
    gjb_sys_lock();
    ok = ok && gjb_big_valid(&gjb_sys.big, gjb_sys.page) && port_expected() == gjb_sys.port &&
         direct_guards_ok();
    gjb_sys_unlock();
    if (!ok)
        gjb_sys_misuse("gjbmem_sysheap_validate", ERROR_KERNEL_MEMORY, true, NULL);
    return ok ? 0 : -1;
}

/* "system heap: 0 direct mappings of 0 bytes; 4194304 bytes from the host,
 * limit 8388608; policy FIRST_FIT" */
void gjb_sys_summary(struct gjb_line *l)
{
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    gjb_line_put(l, "system heap: ");
    gjb_line_dec(l, st.direct_blocks);
    gjb_line_put(l, " direct mappings of ");
    gjb_line_dec(l, st.direct_bytes);
    gjb_line_put(l, " bytes; ");
    gjb_line_dec(l, st.port_bytes);
    gjb_line_put(l, " bytes from the host, limit ");
    gjb_line_dec(l, st.limit);
    gjb_line_put(l, st.policy == BUDDY_ALLOCATION ? "; policy BUDDY" : "; policy FIRST_FIT");
}
