/*
 * tcache.h - what the thread caches' two files share (sysheap_cache.c: the
 * caches; sysheap_handback.c: blocks handed back to their arena): the bins,
 * their tables, keeping a block. Internal.
 */
#ifndef GJB_TCACHE_H
#define GJB_TCACHE_H

#include "sysheap_state.h"

#define TC_G GJB_G          /* the engine's granule */
#define TC_BINS GJB_TC_BINS
#define TC_DEPTH 16u /* blocks kept per bin, bins up to TC_HALF */
#define TC_HALF 32u  /* larger blocks: TC_DEPTH / 2 per bin */
#define TC_MAX (TC_BINS * TC_G) /* requests above never have a bin */
#define TC_STEPS (TC_MAX / GJB_W + 1)

/* A request's bin by its size in words: the block size the policy gives
 * it, in granules (TC_BINS or more: none). Made once, with the first cache
 * (sysheap_cache.c). */
extern unsigned char gjb_tc_bin_of[2][TC_STEPS] GJB_INTERNAL; /* [buddy][ceil(size / word)] */
extern unsigned char gjb_tc_depth[TC_BINS] GJB_INTERNAL;     /* the most blocks a bin keeps */
extern const size_t gjb_tc_hdr[2] GJB_INTERNAL;               /* header bytes per block */

static inline unsigned tc_n(const struct gjb_tcache *tc, size_t b)
{
    return atomic_load_explicit(&tc->n[b], memory_order_relaxed);
}

static inline void tc_set_n(struct gjb_tcache *tc, size_t b, unsigned n)
{
    atomic_store_explicit(&tc->n[b], (unsigned char)n, memory_order_relaxed);
}

/* Keeps block p (block bytes with its header, a live block proved, not
 * kept already) when its bin has room: true when kept. Every request
 * gjb_tc_bin_of puts in the same bin fits it: the bin is the block's size
 * in granules, and a request's bin the size of the block the policy gives
 * it (the policy cannot change while a block is kept). */
static GJB_ALWAYS_INLINE bool tc_keep(struct gjb_tcache *tc, char *p, size_t block)
{
    size_t b = block / TC_G;
    if (b >= TC_BINS)
        return false;
    unsigned n = tc_n(tc, b);
    if (n >= gjb_tc_depth[b])
        return false;
    uintptr_t w[2] = {(uintptr_t)tc->head[b], gjb_tc_mark(p, tc->head[b])};
    memcpy(p, w, sizeof w);
    tc->head[b] = p;
    tc_set_n(tc, b, n + 1);
    return true;
}

/* Pushes q[0 .. k) (blocks of arena a, taken from tc's bin b) on a's list
 * of blocks handed back, without a lock: false, and nothing done, when the
 * list is full. */
bool gjb_handback_push(struct gjb_tcache *tc, struct gjb_arena *a, char **q, unsigned k,
                       size_t b);

/* Takes arena a's list: each block kept in tc (when not NULL and its bin
 * has room) or given to a's engine, under a's lock (held: the caller holds
 * it; else taken here when needed). Returns the first block that is not
 * whole, where the walk stopped (it and what follows stay allocated; report
 * it once no arena lock is held: gjb_tc_report), or NULL. */
void *gjb_handback_take(struct gjb_tcache *tc, struct gjb_arena *a, bool held);

#endif
