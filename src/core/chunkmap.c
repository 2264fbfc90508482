/*
 * chunkmap.c - which arena of the system heap holds an address: one byte
 * per chunk (GJB_CHUNK_BYTES) of the address space (and a bit per 64 KiB
 * of it that a slab holds: sysheap_slab.c), in a two-level table
 * whose leaves are pages from the port. Written under the system heap's
 * lock when a region joins an arena, read without a lock by free and
 * realloc (sysheap_state.h: gjb_chunk_get). A leaf, once there, stays for
 * the life of the process.
 */
#include <errno.h>

#include "sysheap_state.h"

_Atomic(gjb_chunk_leaf *) gjb_chunk_top[GJB_CHUNK_TOP];

/* The first leaves are static (a process's mappings and data lie in a few
 * spans of GJB_CHUNK_LEAF chunks: 16 GiB on LP64), the rest pages from the
 * port, counted against the limit. */
#define STATIC_LEAVES 4
static gjb_chunk_leaf pool[STATIC_LEAVES];
static unsigned pooled;   /* static leaves in use */
static size_t leaf_bytes; /* pages the other leaves hold */

/* The leaf of chunk index i, made when missing: NULL when the port has no
 * page for it (or the limit no room: *port counts what was taken). */
static gjb_chunk_leaf *leaf_of(size_t i, size_t *port)
{
    _Atomic(gjb_chunk_leaf *) *slot = &gjb_chunk_top[i >> GJB_CHUNK_LEAF_BITS];
    gjb_chunk_leaf *leaf = atomic_load_explicit(slot, memory_order_relaxed);
    if (leaf)
        return leaf;
    if (pooled < STATIC_LEAVES) {
        leaf = &pool[pooled++];
        atomic_store_explicit(slot, leaf, memory_order_release);
        return leaf;
    }
    void *mem;
    size_t len = gjb_sys_page_up(sizeof *leaf);
    if (len > gjb_sys_room(0) || gjb_port_pages_get(len, &mem) != 0)
        return NULL;
    leaf = mem; /* zero-filled by the host: no arena anywhere in it */
    atomic_store_explicit(slot, leaf, memory_order_release);
    leaf_bytes += len;
    *port += len;
    return leaf;
}

int gjb_chunk_mark(const void *mem, size_t size, unsigned tag)
{
    uint64_t lo = (uintptr_t)mem, hi = lo + size - 1;
    if (!size || hi < lo || hi >> GJB_CHUNK_ADDR_BITS)
        return EINVAL; /* wraps, or beyond what the map covers */
    for (size_t i = (size_t)(lo >> GJB_CHUNK_SHIFT); i <= (size_t)(hi >> GJB_CHUNK_SHIFT); i++)
        if (!leaf_of(i, &gjb_sys.port))
            return ENOMEM;
    for (size_t i = (size_t)(lo >> GJB_CHUNK_SHIFT); i <= (size_t)(hi >> GJB_CHUNK_SHIFT); i++) {
        gjb_chunk_leaf *leaf = atomic_load_explicit(&gjb_chunk_top[i >> GJB_CHUNK_LEAF_BITS],
                                                    memory_order_relaxed);
        _Atomic unsigned char *e = &leaf->tag[i & (GJB_CHUNK_LEAF - 1)];
        unsigned old = atomic_load_explicit(e, memory_order_relaxed);
        unsigned now = old == 0 || old == tag ? tag : GJB_CHUNK_MIXED;
        atomic_store_explicit(e, (unsigned char)now, memory_order_relaxed);
    }
    return 0;
}

bool gjb_chunk_mark_slab(const void *p, size_t bytes, bool on)
{
    size_t i;
    gjb_chunk_leaf *leaf = gjb_chunk_leaf_of(p, &i);
    unsigned g = (unsigned)((uintptr_t)p >> GJB_CHUNK_GRANULE_SHIFT) & 63;
    uint64_t bits = (((uint64_t)1 << (bytes >> GJB_CHUNK_GRANULE_SHIFT)) - 1) << g;
    if (!leaf)
        return false; /* (every region's chunks have a leaf) */
    if (on)
        atomic_fetch_or_explicit(&leaf->slab[i], bits, memory_order_release);
    else
        atomic_fetch_and_explicit(&leaf->slab[i], ~bits, memory_order_release);
    return true;
}

size_t gjb_chunk_bytes(void)
{
    return leaf_bytes;
}
