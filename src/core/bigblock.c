/*
 * bigblock.c - the system heap's direct mappings: an open-addressing hash
 * table (linear probing, deletion by backward shift) from a mapping's
 * address to its length. It lives in pages from the port, so recording a
 * mapping never calls an allocator, and a pointer is recognised as a
 * direct mapping without reading anything in front of it.
 */
#include <errno.h>

#include "api_internal.h"
#include "gjbmem/port.h"

#define MIN_CAP 256

static size_t home(uintptr_t a, size_t cap)
{
    uint64_t x = (uint64_t)a >> 12;
    x *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(x >> 32) & (cap - 1);
}

static void place(struct gjb_big *slot, size_t cap, uintptr_t a, size_t len)
{
    size_t i = home(a, cap);
    while (slot[i].addr)
        i = (i + 1) & (cap - 1);
    slot[i].addr = a;
    slot[i].len = len;
}

/* Moves every entry into a table of cap slots. */
static int rehash(struct gjb_bigtab *t, size_t cap, long *table_bytes)
{
    void *mem;
    if (cap > SIZE_MAX / sizeof(struct gjb_big) || gjb_port_pages_get(cap * sizeof(struct gjb_big), &mem))
        return ENOMEM;
    struct gjb_big *slot = mem;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].addr)
            place(slot, cap, t->slot[i].addr, t->slot[i].len);
    if (t->slot)
        gjb_port_pages_put(t->slot, t->cap * sizeof(struct gjb_big));
    *table_bytes += (long)(cap * sizeof(struct gjb_big)) - (long)(t->cap * sizeof(struct gjb_big));
    t->slot = slot;
    t->cap = cap;
    return 0;
}

size_t gjb_big_growth(const struct gjb_bigtab *t)
{
    if ((t->count + 1) * 4 <= t->cap * 3)
        return 0;
    size_t cap = t->cap ? t->cap * 2 : MIN_CAP;
    return (cap - t->cap) * sizeof(struct gjb_big);
}

bool gjb_big_overlaps(const struct gjb_bigtab *t, const void *mem, size_t size)
{
    uintptr_t lo = (uintptr_t)mem, hi = size > UINTPTR_MAX - lo ? UINTPTR_MAX : lo + size;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].addr && lo < t->slot[i].addr + t->slot[i].len && t->slot[i].addr < hi)
            return true;
    return false;
}

void *gjb_big_containing(const struct gjb_bigtab *t, const void *mem)
{
    uintptr_t a = (uintptr_t)mem;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].addr && t->slot[i].addr <= a && a - t->slot[i].addr < t->slot[i].len)
            return (void *)t->slot[i].addr;
    return NULL;
}

int gjb_big_put(struct gjb_bigtab *t, void *p, size_t len, long *table_bytes)
{
    if ((t->count + 1) * 4 > t->cap * 3) {
        int err = rehash(t, t->cap ? t->cap * 2 : MIN_CAP, table_bytes);
        if (err)
            return err;
    }
    place(t->slot, t->cap, (uintptr_t)p, len);
    t->count++;
    t->bytes += len;
    return 0;
}

static size_t find(const struct gjb_bigtab *t, uintptr_t a)
{
    if (!t->cap || !a)
        return SIZE_MAX;
    for (size_t i = home(a, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slot[i].addr == a)
            return i;
        if (!t->slot[i].addr)
            return SIZE_MAX;
    }
}

size_t gjb_big_get(const struct gjb_bigtab *t, const void *p)
{
    size_t i = find(t, (uintptr_t)p);
    return i == SIZE_MAX ? 0 : t->slot[i].len;
}

void gjb_big_del(struct gjb_bigtab *t, const void *p)
{
    size_t i = find(t, (uintptr_t)p), mask = t->cap - 1;
    if (i == SIZE_MAX)
        return;
    t->count--;
    t->bytes -= t->slot[i].len;
    t->slot[i].addr = 0;
    /* Backward shift: pull up every later entry of the run whose home does
     * not lie cyclically in (i, j]. */
    for (size_t j = (i + 1) & mask; t->slot[j].addr; j = (j + 1) & mask) {
        size_t h = home(t->slot[j].addr, t->cap);
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            t->slot[i] = t->slot[j];
            t->slot[j].addr = 0;
            i = j;
        }
    }
}

size_t gjb_big_table_bytes(const struct gjb_bigtab *t)
{
    return t->cap * sizeof(struct gjb_big);
}

bool gjb_big_valid(const struct gjb_bigtab *t, unsigned long page)
{
    size_t count = 0, bytes = 0;
    for (size_t i = 0; i < t->cap; i++) {
        uintptr_t a = t->slot[i].addr;
        if (!a)
            continue;
        if (a % page || t->slot[i].len == 0 || t->slot[i].len % page || find(t, a) != i)
            return false;
        count++;
        bytes += t->slot[i].len;
    }
    return count == t->count && bytes == t->bytes && count * 4 <= t->cap * 3 + 3;
}
