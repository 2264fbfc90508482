/*
 * mpart_shared.h - partitions in memory shared between processes: what
 * mpart.c (the partition table) and mpart_shared.c (the shared header, its
 * robust lock, recovery, the mpart_*_shared calls) ask of each other. Not
 * installed.
 *
 * A shared partition has a slot in each process's table like any other;
 * its `sh` is this process's record of the shared memory (below), which
 * points at the header that lives in the memory itself.
 */
#ifndef GJB_MPART_SHARED_H
#define GJB_MPART_SHARED_H

#include <stdbool.h>
#include <stddef.h>

#include "gjbext.h"
#include "gjbmem/heap.h"

struct gjb_shpart; /* this process's record of one shared partition */

/* The operation a holder of the shared lock is doing (the intent record
 * that recovery reads when the holder died). */
enum gjb_shp_op {
    GJB_SHP_NONE = 0, /* between operations, or one that writes nothing */
    GJB_SHP_ALLOC,    /* mpart_alloc, mpart_memalign */
    GJB_SHP_FREE,
    GJB_SHP_REALLOC,
    GJB_SHP_ADDMEM,
    GJB_SHP_OPS
};

/* Takes the shared lock of sh and, for an op other than GJB_SHP_NONE,
 * records that op is about to write the heap (gjb_shp_intent). When the
 * lock's last holder died holding it, repairs the heap first (or marks it
 * damaged). 0, or with the lock not held: ENOTRECOVERABLE (damaged),
 * EINVAL (deleted by another process). */
int gjb_shp_enter(struct gjb_shpart *sh, enum gjb_shp_op op);
/* Ends the intent record and lets the shared lock go. */
void gjb_shp_leave(struct gjb_shpart *sh);
/* Records that op is about to write the heap (the lock is held). */
void gjb_shp_intent(struct gjb_shpart *sh, enum gjb_shp_op op);
/* True when [addr, addr+size) overlaps the shared memory this process
 * mapped or attached for sh / lies in it (not in its header). O(1). */
bool gjb_shp_overlaps(const struct gjb_shpart *sh, const void *addr, size_t size);
bool gjb_shp_contains(const struct gjb_shpart *sh, const void *addr, size_t size);
/* True when sh's heap descriptor and every region and table it names still
 * lie inside the shared memory (gjb_heap_within), as they did at the open:
 * checked before the engine reads through them where another process may
 * have rewritten them since (mpart_validate, mpart_blocks). The lock is
 * held. O(regions). */
bool gjb_shp_within(const struct gjb_shpart *sh);
/* mpart_delete of a shared partition (mpart.c holds no lock). */
int gjb_shp_delete(mpart_id mid);

/* For tests and the fuzz target: where the header's lock lies (the port's
 * gjb_port_shlock) and the header's bytes. */
void gjb_shp_layout(size_t *lock_off, size_t *lock_len, size_t *hdr_bytes);

/* --- what mpart.c offers mpart_shared.c */

/* Gives sh (whose heap is h) a slot and an id: 0 or ENOSPC. */
int gjb_mpart_install(gjb_heap *h, struct gjb_shpart *sh, mpart_id *mid);
/* Under the global lock and the slot's lock, calls check(sh, h, ctx): when
 * it returns 0 the slot is emptied (the id goes stale) and *sh is set.
 * Returns check's value, or EINVAL for an id that names no shared
 * partition. */
typedef int (*gjb_shp_check_fn)(struct gjb_shpart *sh, gjb_heap *h, void *ctx);
int gjb_mpart_uninstall(mpart_id mid, gjb_shp_check_fn check, void *ctx, struct gjb_shpart **sh);
/* The record of the shared partition mid (its heap in *h), or NULL: not a
 * live id, or a private partition (*h then set for a live one). */
struct gjb_shpart *gjb_mpart_shared_of(mpart_id mid, gjb_heap **h);
/* Copies h's blocks (header bytes each: the policy's) into out[0 .. cap),
 * as mpart_blocks reports them; returns how many there are. O(blocks). */
size_t gjb_mpart_list_blocks(const gjb_heap *h, size_t header, struct mpart_block *out, size_t cap);

#endif
