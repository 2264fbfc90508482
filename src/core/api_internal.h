/*
 * api_internal.h - what the API layer's files (mpart.c, sysheap.c,
 * bigblock.c, memshow.c, lib.c) share, and what the mapping layer
 * registers with them (gjb_vmm_init). Not installed.
 */
#ifndef GJB_API_INTERNAL_H
#define GJB_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gjbmem/errpolicy.h"
#include "gjbmem/heap.h"

/* An object shared by the library's files but not exported from the shared
 * library (reached PC-relative, like a static one). */
#if defined(__GNUC__) || defined(__clang__)
#define GJB_INTERNAL __attribute__((visibility("hidden")))
#else
#define GJB_INTERNAL
#endif

/* The library's one initialisation (run through gjb_port_init_once): it
 * starts each part in turn (lib.c). */
void gjb_lib_init(void);
void gjb_mpart_init(void);
void gjb_sysheap_init(void);
void gjb_vmm_init(void); /* src/vmm/show.c: registers the mapping summary */

/* --- mem_show (memshow.c) */
struct gjb_line;
/* Fills line (textline.h) with one line of a part's summary. */
typedef void (*gjb_show_fn)(struct gjb_line *line);
/* Adds fn to the summaries mem_show prints after its table, in the order
 * registered (at most 4; the same fn once). Call it from the library's
 * initialisation only (no lock). */
void gjb_show_register(gjb_show_fn fn);

/* Calls fn for every live partition with its id and statistics, each taken
 * under the partition's lock (fn runs with no lock held). */
typedef void (*gjb_part_fn)(void *ctx, unsigned long mid, const struct gjbmem_heap_stats *st);
void gjb_mpart_each(gjb_part_fn fn, void *ctx);

/* --- which memory belongs to whom (ownership.c; lock order there). The
 * caller holds the global lock from the check until the memory is handed
 * over. O(partitions x regions + log regions of the system heap); for the
 * system heap also O(its direct mappings table). */
bool gjb_memory_free_for_partition(const void *mem, size_t size);
bool gjb_memory_free_for_sysheap(const void *mem, size_t size);

/* What ownership.c asks each side (neither calls anything else):
 * True when [mem, mem+size) overlaps a live partition's regions (mpart.c;
 * they change only under the global lock, which the caller holds). */
bool gjb_mpart_owns(const void *mem, size_t size);

/* How [mem, mem+size) meets the system heap's memory, its regions and its
 * direct mappings (sysheap_regions.c; takes the system heap's lock).
 * O(regions + mappings table), plus the guard check of the block it lies
 * in from hardening level 2. */
enum gjb_sys_overlap {
    GJB_SYS_NONE,  /* not at all */
    GJB_SYS_BLOCK, /* inside the usable bytes of one allocated block or direct mapping */
    GJB_SYS_OTHER  /* over free memory, metadata, several blocks or mappings, or past one */
};
enum gjb_sys_overlap gjb_sysheap_overlap(const void *mem, size_t size);

/* --- error policies (errpolicy.c) */
struct gjb_errpolicy {
    unsigned flags; /* GJBMEM_ERR_* */
    gjbmem_error_hook hook;
    void *arg;
};

/* True when flags and hook make a policy (known flags; a hook if asked). */
bool gjb_errpolicy_valid(unsigned flags, gjbmem_error_hook hook);
/* Carries out pol for e: log, hook, abort (as flagged). Call it with no
 * lock held, on a copy of the policy taken under the lock. */
void gjb_errpolicy_report(const struct gjb_errpolicy *pol, const struct gjbmem_error *e);

/* --- direct mappings of the system heap (bigblock.c): an open-addressing
 * hash table from address to length, kept in pages from the port. */
struct gjb_big {
    uintptr_t addr; /* 0: empty slot */
    size_t len;
};

struct gjb_bigtab {
    struct gjb_big *slot;
    size_t cap;   /* slots, a power of two (0 before the first insert) */
    size_t count; /* live entries */
    size_t bytes; /* sum of their lengths */
};

/* Records [p, p+len). 0, or ENOMEM when the table cannot grow. O(1)
 * amortised; growing re-hashes into new pages. *table_bytes changes by the
 * bytes of pages the table took or gave back. */
int gjb_big_put(struct gjb_bigtab *t, void *p, size_t len, long *table_bytes);
/* Bytes of pages the next gjb_big_put will take to grow the table, or 0. */
size_t gjb_big_growth(const struct gjb_bigtab *t);
/* True when [mem, mem+size) overlaps a recorded mapping. O(table). */
bool gjb_big_overlaps(const struct gjb_bigtab *t, const void *mem, size_t size);
/* The start of the recorded mapping that holds address mem, or NULL.
 * O(table). */
void *gjb_big_containing(const struct gjb_bigtab *t, const void *mem);
/* Length recorded for p, or 0. O(1) expected. */
size_t gjb_big_get(const struct gjb_bigtab *t, const void *p);
/* Forgets p (which must be recorded). O(1) expected. */
void gjb_big_del(struct gjb_bigtab *t, const void *p);
/* Pages the table itself holds. */
size_t gjb_big_table_bytes(const struct gjb_bigtab *t);
/* Rechecks count, bytes and the probe invariant. */
bool gjb_big_valid(const struct gjb_bigtab *t, unsigned long page);

#endif
