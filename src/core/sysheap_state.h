/*
 * sysheap_state.h - the system heap's state, and what its files share:
 *
 *   sysheap.c          the allocation interface of <gjbmem/sysheap.h>
 *                      (malloc ... free, the hot paths), the error policy
 *   sysheap_setup.c    start-up: settings from the environment, fork
 *                      handlers, the first region
 *   sysheap_regions.c  the heap's memory: regions from the host (growth),
 *                      memory added by the integrator, the limit,
 *                      heap_mem_init (the heap re-created over its regions)
 *   sysheap_direct.c   direct mappings for large requests (their table:
 *                      bigblock.c)
 *   sysheap_stats.c    mem_findmax, mem_getinfo, statistics, validation,
 *                      mem_show's summary line
 *
 * One engine heap with up to SYS_REGIONS regions; on a host each region is
 * a page mapping from the port. Everything taken from the port counts
 * against the limit. One lock, gjb_sys.lock, guards all of it; a function
 * here marked "lock held" expects it.
 */
#ifndef GJB_SYSHEAP_STATE_H
#define GJB_SYSHEAP_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "api_internal.h"
#include "guard.h"
#include "port_fast.h"
#include "gjbmem/heap.h"
#include "gjbmem/port.h"

#define SYS_REGIONS 64
#define GROW_MIN ((size_t)4 << 20) /* the first region, and the least growth */

struct gjb_sys_piece {
    void *mem;
    size_t size;
    bool from_port; /* else the integrator's (gjbmem_sysheap_add_memory) */
};

struct gjb_sys {
    gjb_port_lock lock;
    gjb_heap *h;     /* NULL until the heap has memory */
    int policy;      /* GJB_FIRST_FIT or GJB_BUDDY */
    size_t limit;    /* most bytes to take from the port */
    size_t port;     /* bytes held from the port: regions, direct, table */
    size_t regions;  /* bytes of all regions */
    size_t page;
    struct gjb_sys_piece piece[SYS_REGIONS];
    unsigned npieces;
    struct gjb_bigtab big;    /* the direct mappings */
    struct gjb_errpolicy pol; /* what a bad pointer or damage also does */
};

extern struct gjb_sys gjb_sys GJB_INTERNAL;

/* Takes the lock (starting the library first if need be). */
static inline void gjb_sys_lock(void)
{
    gjb_fast_init_once(gjb_lib_init);
    gjb_fast_lock(&gjb_sys.lock);
}

static inline void gjb_sys_unlock(void)
{
    gjb_fast_unlock(&gjb_sys.lock);
}

/* Bytes of block p (not NULL), guard included, lock held; 0 when p is no
 * block (neither the heap's nor a direct mapping). O(1) expected. */
static inline size_t gjb_sys_raw_usable(const void *p)
{
    size_t n = gjb_sys.h ? gjb_heap_usable_size(gjb_sys.h, p) : 0;
    return n ? n : gjb_big_get(&gjb_sys.big, p);
}

/* Usable size of p (not NULL), lock held: 0 when p is no block; SIZE_MAX
 * when its guard (hardening level 2+) is broken. */
static inline size_t gjb_sys_usable(const void *p)
{
    size_t n = gjb_sys_raw_usable(p);
    return GJB_GUARDED && n ? gjb_guard_size(p, n) : n;
}

/* --- sysheap_regions.c (lock held, except at start-up) */

/* Bytes the limit still allows, less reserve, in whole pages. */
size_t gjb_sys_room(size_t reserve);
/* n rounded up to whole pages; 0 on overflow. */
size_t gjb_sys_page_up(size_t n);
/* Takes a region from the port that can hold a request of size bytes:
 * 0 or ENOMEM. */
int gjb_sys_grow(size_t size);

/* --- sysheap_direct.c (lock held) */

/* A new direct mapping of size bytes aligned to align, or NULL (the limit,
 * the host, or the table refused). */
void *gjb_sys_direct_alloc(size_t align, size_t size);
/* Gives back direct mapping p of len bytes. */
void gjb_sys_direct_free(void *p, size_t len);
/* Grows direct mapping p (len bytes) to hold size bytes, moving its pages;
 * NULL when refused (p intact). */
void *gjb_sys_direct_resize(void *p, size_t len, size_t size);

/* --- sysheap.c */

/* Fails a call with err after carrying out the policy pol (a copy taken
 * under the lock, none held now) for pointer p. */
void gjb_sys_misuse(const struct gjb_errpolicy *pol, const char *call, int err, bool corrupt,
                    const void *p);

/* --- sysheap_stats.c */

/* mem_show's summary line of the system heap (registered at start-up). */
void gjb_sys_summary(struct gjb_line *l);

#endif
