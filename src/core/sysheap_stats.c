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
    gjb_sys_lock();
    size_t m = gjb_sys.h ? gjb_guarded_max(gjb_sys.h) : 0;
    gjb_sys_unlock();
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

int gjbmem_sysheap_stats(struct gjbmem_sysheap_stats *st)
{
    if (!st) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    gjb_sys_lock();
    if (gjb_sys.h)
        gjb_heap_get_stats(gjb_sys.h, &st->heap);
    else
        memset(&st->heap, 0, sizeof st->heap);
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

int gjbmem_sysheap_validate(void)
{
    gjb_sys_lock();
    size_t port = gjb_big_table_bytes(&gjb_sys.big) + gjb_sys.big.bytes;
    for (unsigned i = 0; i < gjb_sys.npieces; i++)
        port += gjb_sys.piece[i].from_port ? gjb_sys.piece[i].size : 0;
    bool ok = (!gjb_sys.h || gjb_guarded_validate(gjb_sys.h) == GJB_OK) &&
              gjb_big_valid(&gjb_sys.big, gjb_sys.page) && port == gjb_sys.port &&
              direct_guards_ok();
    struct gjb_errpolicy pol = gjb_sys.pol;
    gjb_sys_unlock();
    if (!ok)
        gjb_sys_misuse(&pol, "gjbmem_sysheap_validate", ERROR_KERNEL_MEMORY, true, NULL);
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
