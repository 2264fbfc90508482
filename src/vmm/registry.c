/*
 * registry.c - the registry of live mappings made through the mapping
 * layer: a fixed table of GJBMEM_VMM_MAX_MAPPINGS records under the
 * library's global lock, and the statistics computed from it.
 */
#include <errno.h>

#include "gjbmem/port.h"
#include "gjbmem/vmm.h"
#include "vmm/registry.h"

static struct gjb_vmm_rec table[GJBMEM_VMM_MAX_MAPPINGS];
static size_t live;
bool gjb_vmm_lock_future;
size_t gjb_vmm_shm_opened;

void gjb_vmm_lock(void)
{
    gjb_port_global_lock();
}

void gjb_vmm_unlock(void)
{
    gjb_port_global_unlock();
}

size_t gjb_vmm_page(void)
{
    return (size_t)gjb_port_page_size();
}

bool gjb_vmm_round(size_t len, size_t *out)
{
    size_t page = gjb_vmm_page();
    if (len > SIZE_MAX - (page - 1))
        return false;
    *out = (len + page - 1) & ~(page - 1);
    return true;
}

size_t gjb_vmm_free_slots(void)
{
    return GJBMEM_VMM_MAX_MAPPINGS - live;
}

static uintptr_t end_of(const struct gjb_vmm_rec *r)
{
    return r->addr + r->len;
}

void gjb_vmm_drop(struct gjb_vmm_rec *rec)
{
    rec->used = false;
    live--;
}

static struct gjb_vmm_rec *free_slot(void)
{
    for (size_t i = 0; i < GJBMEM_VMM_MAX_MAPPINGS; i++)
        if (!table[i].used)
            return &table[i];
    return NULL;
}

int gjb_vmm_add(const struct gjb_vmm_rec *rec)
{
    /* The host handed these pages out, so any record over them is stale
     * (unmapped behind the layer's back). */
    for (size_t i = 0; i < GJBMEM_VMM_MAX_MAPPINGS; i++)
        if (table[i].used && table[i].addr < end_of(rec) && rec->addr < end_of(&table[i]))
            gjb_vmm_drop(&table[i]);
    struct gjb_vmm_rec *slot = free_slot();
    if (slot == NULL)
        return ENOMEM;
    *slot = *rec;
    slot->used = true;
    live++;
    return 0;
}

struct gjb_vmm_rec *gjb_vmm_find(uintptr_t a)
{
    for (size_t i = 0; i < GJBMEM_VMM_MAX_MAPPINGS; i++)
        if (table[i].used && table[i].addr <= a && a < end_of(&table[i]))
            return &table[i];
    return NULL;
}

bool gjb_vmm_overlaps(uintptr_t a, uintptr_t b)
{
    for (size_t i = 0; i < GJBMEM_VMM_MAX_MAPPINGS; i++)
        if (table[i].used && table[i].addr < b && a < end_of(&table[i]))
            return true;
    return false;
}

bool gjb_vmm_covered(uintptr_t a, uintptr_t b)
{
    while (a < b) {
        const struct gjb_vmm_rec *r = gjb_vmm_find(a);
        if (r == NULL)
            return false;
        a = end_of(r);
    }
    return true;
}

static bool strictly_inside(uintptr_t x)
{
    const struct gjb_vmm_rec *r = gjb_vmm_find(x);
    return r != NULL && r->addr != x;
}

size_t gjb_vmm_splits_needed(uintptr_t a, uintptr_t b)
{
    return (size_t)strictly_inside(a) + (size_t)strictly_inside(b);
}

void gjb_vmm_split_at(uintptr_t x)
{
    struct gjb_vmm_rec *r = gjb_vmm_find(x);
    if (r == NULL || r->addr == x)
        return;
    struct gjb_vmm_rec *tail = free_slot();
    if (tail == NULL)
        return; /* callers reserve the slots first */
    size_t head_len = x - r->addr;
    *tail = *r;
    tail->addr = x;
    tail->len = r->len - head_len;
    if (tail->file)
        tail->off += (long long)head_len;
    r->len = head_len;
    live++;
}

struct gjb_vmm_rec *gjb_vmm_next_in(uintptr_t a, uintptr_t b, size_t *cursor)
{
    for (; *cursor < GJBMEM_VMM_MAX_MAPPINGS; (*cursor)++) {
        struct gjb_vmm_rec *r = &table[*cursor];
        if (r->used && a <= r->addr && end_of(r) <= b) {
            (*cursor)++;
            return r;
        }
    }
    return NULL;
}

int gjbmem_vmm_stats(struct gjbmem_vmm_stats *st)
{
    if (st == NULL) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    struct gjbmem_vmm_stats s = {0};
    gjb_vmm_lock();
    for (size_t i = 0; i < GJBMEM_VMM_MAX_MAPPINGS; i++) {
        const struct gjb_vmm_rec *r = &table[i];
        if (!r->used)
            continue;
        s.mappings++;
        s.bytes_mapped += r->len;
        if (r->locked)
            s.bytes_locked += r->len;
        if (!r->file && r->shared)
            s.shared_anon_bytes += r->len;
    }
    s.shm_opened = gjb_vmm_shm_opened;
    gjb_vmm_unlock();
    *st = s;
    return 0;
}
