/*
 * registry.h - the table of live mappings made through the mapping layer.
 * Every function except gjb_vmm_lock/unlock expects the lock to be held.
 */
#ifndef GJB_VMM_REGISTRY_H
#define GJB_VMM_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gjb_vmm_rec {
    uintptr_t addr;               /* page-aligned start */
    size_t len;                   /* whole pages */
    int prot, flags;              /* as mapped / last mprotect */
    unsigned long long dev, ino;  /* file identity (file mappings) */
    long long off;                /* file offset of addr */
    bool used, file, shared, locked;
};

void gjb_vmm_lock(void);
void gjb_vmm_unlock(void);

size_t gjb_vmm_free_slots(void);
/* Adds a record (dropping stale ones it overlaps); ENOMEM when full. */
int gjb_vmm_add(const struct gjb_vmm_rec *rec);
/* The record holding address a, or NULL. */
struct gjb_vmm_rec *gjb_vmm_find(uintptr_t a);
/* Whether [a, b) meets any record / lies wholly in records. */
bool gjb_vmm_overlaps(uintptr_t a, uintptr_t b);
bool gjb_vmm_covered(uintptr_t a, uintptr_t b);
/* How many of a and b fall strictly inside a record (slots a split needs). */
size_t gjb_vmm_splits_needed(uintptr_t a, uintptr_t b);
/* Splits the record strictly containing x in two at x (needs a free slot). */
void gjb_vmm_split_at(uintptr_t x);
/* Next record lying wholly inside [a, b), from *cursor on; NULL at end. */
struct gjb_vmm_rec *gjb_vmm_next_in(uintptr_t a, uintptr_t b, size_t *cursor);
void gjb_vmm_drop(struct gjb_vmm_rec *rec);

/* MCL_FUTURE in force: new mappings are recorded as locked. */
extern bool gjb_vmm_lock_future;
/* Successful shm_open calls through the layer. */
extern size_t gjb_vmm_shm_opened;

/* Rounds len up to whole pages; false on overflow. */
bool gjb_vmm_round(size_t len, size_t *out);
/* The host page size. */
size_t gjb_vmm_page(void);

#endif
