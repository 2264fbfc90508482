/*
 * sysheap_slab.c - slabs: how the BUDDY system heap serves requests of
 * SLAB_LO + 1 to SLAB_HI bytes (docs/DESIGN.md, "Slabs under BUDDY").
 *
 * A binary buddy block is a power of two: a request of 4.3 KB takes 8 KiB,
 * of 11 KB 16 KiB, and real programs allocate many such blocks (sqlite's
 * page cache, gawk's node pools), so the malloc replacement under BUDDY
 * needed 1.18 to 1.23 times glibc's peak memory. Here a request of that
 * range takes a slot of its size class (16 classes per power of two, at
 * most 1/17 rounding) in a slab: one buddy block of the arenas, of a power
 * of two from SLAB_MIN to SLAB_MAX bytes (the class's, chosen so that the
 * slots fill it but for 1/32 at most), carved into equal slots behind a
 * header. It is the same layering as an operating system's slab allocator
 * over its buddy page allocator; the engine's heaps (and so partitions)
 * stay pure buddy systems.
 *
 * A slab: its header (struct slab: a check word binding it to its address
 * and class, the links of its class's list of slabs with a free slot, a
 * bit per slot in use), then its slots. A slab lives while a slot is in
 * use: the free of its last slot gives its block back to the arenas. Every
 * slab is recorded in a table from its address to its size (the direct
 * mappings' kind: bigblock.c), in pages from the port, and its 64 KiB
 * granules are marked in the chunk map (chunkmap.c), which every path of a
 * pointer reads first, without a lock (gjb_slab_maybe): a pointer a slab
 * holds is the slabs' to decide, not the arenas' (for which a slab is one
 * block). It is a slot only when the table holds a slab at one of the five
 * addresses it can lie in, its offset is a slot's, and the slot's bit is
 * set; anything else (the slab's own address, a pointer inside a slot, a
 * slot freed already) is refused. A header whose check word does not match
 * (a write past the block before it) is damage: the slab is left alone and
 * reported.
 *
 * Cost: O(1) per call (a class from a few shifts, one bitmap word, five
 * table probes); a new slab is one arena allocation, an empty
 * one one free. Locks: slabs.lock guards everything here; it is taken
 * before gjb_sys.lock (the table's pages count against the limit) and never
 * while an arena's lock is held, nor is an arena's lock taken under it but
 * by validation (fork takes it first: sysheap_setup.c).
 */
#include "sysheap_state.h"
#include "gjbmem/sysheap.h"

#define SLAB_HDR 64u
#define SLAB_SLOTS 63u /* a slab's slots at most: a bit each in one word, and one past them */
#define SLAB_STEPS 16u /* classes per power of two */
#define SLAB_NCLS 96u  /* six powers of two: 1 KiB to 64 KiB */
_Static_assert(SLAB_LO == 1024 && SLAB_HI == 64 * 1024, "six powers of two of 16 classes");
_Static_assert((SLAB_MIN - SLAB_HDR) / (SLAB_LO + 64) <= SLAB_SLOTS,
               "the smallest class (1,088 bytes) fills the smallest slab with a word's slots");
_Static_assert(SLAB_MIN >= SLAB_HI && (SLAB_MIN & (SLAB_MIN - 1)) == 0, "a slab holds a slot");
_Static_assert(SLAB_MIN == (size_t)1 << GJB_CHUNK_GRANULE_SHIFT && SLAB_MAX < SLAB_MIN * 64 &&
                   SLAB_MAX <= GJB_CHUNK_BYTES,
               "a slab is whole granules of one chunk, fewer than 64");

struct slab {
    uintptr_t check;      /* slab_check(the slab's address, cls) */
    uintptr_t next, prev; /* the class's slabs with a free slot (0: none) */
    uint32_t cls, pad;
    uint64_t live; /* bit i: slot i in use; the bits past the last slot set (so the
                    * slab is full when all are, empty when only those are) */
};
_Static_assert(sizeof(struct slab) <= SLAB_HDR && SLAB_HDR % 16 == 0, "the slots stay aligned");

struct slab_class {
    uint32_t size;  /* a slot's bytes */
    uint32_t slots; /* slots of a slab */
    size_t bytes;   /* a slab's */
};

static struct {
    gjb_port_lock lock;
    struct gjb_bigtab tab; /* slab address -> its bytes */
    uintptr_t avail[SLAB_NCLS];
    struct gjb_slab_sums sums;
    struct slab_class cls[SLAB_NCLS];
    uintptr_t key;
} slabs;

_Atomic bool gjb_slabs_on;

/* The class of a request of size bytes (SLAB_LO < size <= SLAB_HI). */
static unsigned class_of(size_t size)
{
    size_t t = (size + 15) / 16 - 1; /* 16-byte units, less one: 64 .. 4095 */
    unsigned j = gjb_log2(t);
    return (j - 6) * SLAB_STEPS + (unsigned)((t >> (j - 4)) & (SLAB_STEPS - 1));
}

static uintptr_t slab_check(uintptr_t base, unsigned cls)
{
    return (base ^ slabs.key) + cls;
}

static void classes_init(void)
{
    for (unsigned c = 0; c < SLAB_NCLS; c++) {
        unsigned j = 6 + c / SLAB_STEPS;
        size_t size = (size_t)(SLAB_STEPS + c % SLAB_STEPS + 1) << (j - 4) << 4;
        size_t bytes = SLAB_MIN;
        /* larger slabs while the slots leave more than 1/32 of it unused */
        while (bytes < SLAB_MAX && (bytes - SLAB_HDR) % size * 32 > bytes &&
               (2 * bytes - SLAB_HDR) / size <= SLAB_SLOTS)
            bytes *= 2;
        /* a power of two: its own buddy block wastes nothing, and in a slab
         * the header would cost it a slot */
        size_t slots = size & (size - 1) ? (bytes - SLAB_HDR) / size : 0;
        slabs.cls[c] = (struct slab_class){(uint32_t)size, (uint32_t)slots, bytes};
    }
}

void gjb_slab_setup(int policy)
{
    if (!slabs.cls[0].size) {
        classes_init();
        slabs.key = (uintptr_t)0x9E3779B97F4A7C15ULL ^ (uintptr_t)&slabs;
    }
    /* (guards and the tools' reports see every request's own block) */
    atomic_store_explicit(&gjb_slabs_on, !GJB_GUARDED && !GJBMEM_TOOLS && policy == GJB_BUDDY,
                          memory_order_relaxed);
}

void gjb_slab_lock(void)
{
    gjb_fast_lock_mt(&slabs.lock);
}

void gjb_slab_unlock(void)
{
    gjb_fast_unlock_mt(&slabs.lock);
}

void gjb_slab_lock_init(void)
{
    gjb_port_lock_init(&slabs.lock);
}

/* --- finding a slab (lock held) ----------------------------------------- */

/* The bits of a slab of `slots` slots (< 64) past its last slot. */
static uint64_t tail_bits(unsigned slots)
{
    return ~(uint64_t)0 << slots;
}

/* Slots in use in slab s (of class k). */
static unsigned slots_used(const struct slab *s, const struct slab_class *k)
{
    return gjb_popcount64(s->live & ~tail_bits(k->slots));
}

static bool slab_full(const struct slab *s)
{
    return !~s->live;
}

/* The slab at base, which the table records as `bytes` long, when its
 * header is whole; NULL and *damaged set otherwise. */
static struct slab *slab_whole(uintptr_t base, size_t bytes, bool *damaged)
{
    const struct slab *s = (const struct slab *)base;
    unsigned c = s->cls;
    if (c >= SLAB_NCLS || slabs.cls[c].bytes != bytes || s->check != slab_check(base, c) ||
        s->live != (s->live | tail_bits(slabs.cls[c].slots))) {
        *damaged = true;
        return NULL;
    }
    return (struct slab *)base;
}

/* The slab at base when the table holds one there and its header is whole;
 * *damaged when the table holds one whose header is not. */
static struct slab *slab_at(uintptr_t base, bool *damaged)
{
    size_t bytes = gjb_big_get(&slabs.tab, (const void *)base);
    return bytes ? slab_whole(base, bytes, damaged) : NULL;
}

/* The slab whose block holds p (not its address: a slab's address is no
 * slot), or NULL; *damaged as for slab_at. */
static struct slab *slab_holding(const void *p, bool *damaged)
{
    uintptr_t a = (uintptr_t)p;
    for (size_t bytes = SLAB_MIN; bytes <= SLAB_MAX; bytes *= 2) {
        uintptr_t base = a & ~(uintptr_t)(bytes - 1);
        /* (a slab of another size there does not reach p) */
        if (base && base != a && gjb_big_get(&slabs.tab, (const void *)base) == bytes)
            return slab_whole(base, bytes, damaged);
    }
    return NULL;
}

/* The slot of slab s that holds p (SIZE_MAX for none: the header, past
 * the last slot), and p's offset into it in *in. */
static size_t slot_holding(const struct slab *s, const void *p, size_t *in)
{
    const struct slab_class *k = &slabs.cls[s->cls];
    size_t off = (size_t)((uintptr_t)p - (uintptr_t)s) - SLAB_HDR; /* (the header: wraps) */
    *in = off % k->size;
    return off / k->size < k->slots ? off / k->size : SIZE_MAX;
}

static bool slot_live(const struct slab *s, size_t i)
{
    return (s->live >> i) & 1;
}

/* What p is (lock held): a slot in use (*sp, *ip), or not. */
static enum gjb_slab_what find(const void *p, struct slab **sp, size_t *ip)
{
    bool damaged = false;
    struct slab *s = slab_holding(p, &damaged);
    if (damaged)
        return GJB_SLAB_DAMAGED;
    if (!s) {
        bool held = gjb_big_get(&slabs.tab, p) != 0; /* a slab's own address */
        return held ? GJB_SLAB_BAD : GJB_SLAB_NONE;
    }
    size_t in, i = slot_holding(s, p, &in);
    if (i == SIZE_MAX || in || !slot_live(s, i)) /* (no slot's start, or a free one) */
        return GJB_SLAB_BAD;
    *sp = s;
    *ip = i;
    return GJB_SLAB_OK;
}

/* --- the lists of slabs with a free slot (lock held) --------------------- */

/* The slab a list link names, when it is whole; NULL otherwise. */
static struct slab *linked(uintptr_t b)
{
    bool damaged = false;
    return slab_at(b, &damaged);
}

/* Puts s first on its class's list. A first slab that is not whole drops
 * the list (nothing is written through it; the free slots of the slabs on
 * it stay unused). */
static void avail_push(struct slab *s)
{
    uintptr_t *head = &slabs.avail[s->cls];
    struct slab *first = *head ? linked(*head) : NULL;
    if (first && (first->cls != s->cls || first->prev))
        first = NULL;
    s->prev = 0;
    s->next = first ? *head : 0;
    if (first)
        first->prev = (uintptr_t)s;
    *head = (uintptr_t)s;
}

/* Takes s off its class's list when it is on it (the list's head, or its
 * previous slab, a whole slab of its class, links to it). When what
 * follows it is not a whole slab of the class that links back, the list
 * ends before s instead (nothing is written through a broken header; the
 * free slots of the slabs cut off stay unused). */
static void avail_drop(struct slab *s)
{
    uintptr_t me = (uintptr_t)s, *head = &slabs.avail[s->cls];
    struct slab *prev = s->prev ? linked(s->prev) : NULL, *next = s->next ? linked(s->next) : NULL;
    bool at_head = *head == me; /* (whatever its back link says) */
    bool after_prev = prev && prev->cls == s->cls && prev->next == me;
    bool to_next = !s->next || (next && next->cls == s->cls && next->prev == me);
    uintptr_t *into = at_head ? head : after_prev ? &prev->next : NULL;
    if (into)
        *into = to_next ? s->next : 0;
    if (into && to_next && next)
        next->prev = s->prev;
    s->next = s->prev = 0;
}

/* The first slab of class c's list (whole, of the class, with a free
 * slot; else the list is dropped), or NULL. */
static struct slab *avail_first(unsigned c)
{
    struct slab *s = slabs.avail[c] ? linked(slabs.avail[c]) : NULL;
    if (s && s->cls == c && !slab_full(s))
        return s;
    slabs.avail[c] = 0;
    return NULL;
}

/* --- allocation ------------------------------------------------------------ */

/* Takes the lowest free slot of s (not full). */
static void *slot_take(struct slab *s)
{
    const struct slab_class *k = &slabs.cls[s->cls];
    unsigned i = gjb_ctz64(~s->live); /* (its list holds no full slab: avail_first) */
    s->live |= (uint64_t)1 << i;
    slabs.sums.used_slots++;
    slabs.sums.free_bytes -= k->size;
    if (slab_full(s))
        avail_drop(s);
    return (char *)s + SLAB_HDR + (size_t)i * k->size;
}

/* Makes block b (class c's bytes) a slab and records it; false when the
 * table cannot grow (lock held). */
static bool slab_new(void *b, unsigned c)
{
    if (!gjb_chunk_mark_slab(b, slabs.cls[c].bytes, true))
        return false;
    gjb_sys_lock();
    size_t growth = gjb_big_growth(&slabs.tab);
    long grown = 0;
    bool ok = gjb_sys.policy == GJB_BUDDY && /* (heap_mem_init may have switched meanwhile) */
              growth <= gjb_sys_room(0) && gjb_big_put(&slabs.tab, b, slabs.cls[c].bytes, &grown) == 0;
    gjb_sys.port += (size_t)grown;
    gjb_sys_unlock();
    if (!ok) {
        (void)gjb_chunk_mark_slab(b, slabs.cls[c].bytes, false);
        return false;
    }
    struct slab *s = b;
    *s = (struct slab){slab_check((uintptr_t)b, c), 0, 0, c, 0, 0};
    const struct slab_class *k = &slabs.cls[c];
    s->live = tail_bits(k->slots); /* no slot there: never free */
    avail_push(s);
    slabs.sums.slots += k->slots;
    slabs.sums.free_bytes += (size_t)k->slots * k->size;
    return true;
}

bool gjb_slab_takes(size_t size)
{
    return slabs.cls[class_of(size)].slots != 0;
}

void *gjb_slab_alloc(size_t size)
{
    unsigned c = class_of(size);
    if (!slabs.cls[c].slots)
        return NULL;
    gjb_slab_lock();
    struct slab *s = avail_first(c);
    void *p = s ? slot_take(s) : NULL;
    gjb_slab_unlock();
    if (p)
        return p;
    void *b = gjb_sys_heap_block(slabs.cls[c].bytes);
    if (!b)
        return NULL; /* the caller tries a block of the request's own size */
    gjb_slab_lock();
    if (slab_new(b, c))
        p = slot_take((struct slab *)b);
    gjb_slab_unlock();
    if (!p)
        (void)gjbmem_free(b);
    return p;
}

/* --- the other calls ------------------------------------------------------- */

/* Unmakes empty slab s (off its list, the table and the chunk map): its
 * block, for the caller to give back once the lock is released. */
static void *slab_end(struct slab *s)
{
    const struct slab_class *k = &slabs.cls[s->cls];
    slabs.sums.slots -= k->slots;
    slabs.sums.free_bytes -= (size_t)k->slots * k->size;
    avail_drop(s);
    gjb_big_del(&slabs.tab, s);
    (void)gjb_chunk_mark_slab(s, k->bytes, false);
    s->check = 0;
    return s;
}

enum gjb_slab_what gjb_slab_free(void *p)
{
    struct slab *s = NULL;
    size_t i = 0;
    void *empty = NULL;
    gjb_slab_lock();
    enum gjb_slab_what w = find(p, &s, &i);
    if (w == GJB_SLAB_OK) {
        const struct slab_class *k = &slabs.cls[s->cls];
        if (slab_full(s))
            avail_push(s);
        s->live &= ~((uint64_t)1 << i);
        slabs.sums.used_slots--;
        slabs.sums.free_bytes += k->size;
        if (s->live == tail_bits(k->slots))
            empty = slab_end(s);
    }
    gjb_slab_unlock();
    if (empty)
        (void)gjbmem_free(empty); /* out of the table: an arena's block again */
    return w;
}

enum gjb_slab_what gjb_slab_size(const void *p, size_t *size)
{
    struct slab *s = NULL;
    size_t i = 0;
    gjb_slab_lock();
    enum gjb_slab_what w = find(p, &s, &i);
    if (w == GJB_SLAB_OK)
        *size = slabs.cls[s->cls].size;
    gjb_slab_unlock();
    return w;
}

bool gjb_slab_holds(const void *mem, size_t size)
{
    bool damaged = false, in = false;
    gjb_slab_lock();
    struct slab *s = slab_holding(mem, &damaged);
    if (s) {
        size_t off, i = slot_holding(s, mem, &off);
        in = i != SIZE_MAX && slot_live(s, i) && size <= slabs.cls[s->cls].size - off;
    }
    gjb_slab_unlock();
    return in;
}

size_t gjb_slab_table_bytes(void)
{
    return gjb_big_table_bytes(&slabs.tab);
}

/* --- validation ------------------------------------------------------------ */

/* Slab s (at base, bytes long) is whole: its header, its bits, and its
 * block a live block of the arenas of that size (the lock held; arena
 * locks taken, each alone). */
static bool slab_ok(uintptr_t base, size_t bytes, size_t *nonfull)
{
    bool damaged = false;
    const struct slab *s = slab_whole(base, bytes, &damaged);
    if (!s)
        return false;
    const struct slab_class *k = &slabs.cls[s->cls];
    unsigned used = slots_used(s, k);
    bool unmarked = false; /* a granule the chunk map does not give the slab */
    for (size_t off = 0; off < bytes; off += SLAB_MIN)
        unmarked |= !gjb_chunk_slab((const char *)base + off);
    size_t raw = 0; /* (0 when no arena holds it) */
    struct gjb_arena *a = gjb_sys_owner((const void *)base, &raw);
    if (a)
        gjb_arena_unlock(a);
    *nonfull += !slab_full(s);
    return (used != 0) & !unmarked & (raw >= bytes); /* (its tail bits: slab_whole) */
}

/* The sums agree with the slabs. */
static bool sums_ok(void)
{
    struct gjb_slab_sums t = {0};
    for (size_t i = 0; i < slabs.tab.cap; i++) {
        uintptr_t b = slabs.tab.slot[i].addr;
        const struct slab *s = b ? linked(b) : NULL;
        if (s) {
            const struct slab_class *k = &slabs.cls[s->cls];
            t.slots += k->slots;
            t.used_slots += slots_used(s, k);
            t.free_bytes += (size_t)(k->slots - slots_used(s, k)) * k->size;
        }
    }
    return memcmp(&t, &slabs.sums, sizeof t) == 0; /* (sums.slabs: 0, the table counts them) */
}

/* Class c's list: whole slabs of the class with a free slot, linked both
 * ways, at most `most` of them; their number in *n. */
static bool list_ok(unsigned c, size_t most, size_t *n)
{
    uintptr_t prev = 0;
    for (uintptr_t b = slabs.avail[c]; b; b = linked(b)->next) {
        const struct slab *s = linked(b);
        if (!s || s->cls != c || s->prev != prev || slab_full(s) || ++*n > most)
            return false;
        prev = b;
    }
    return true;
}

bool gjb_slab_validate(void)
{
    gjb_slab_lock();
    bool ok = gjb_big_valid(&slabs.tab, SLAB_MIN);
    size_t nonfull = 0, listed = 0;
    for (size_t i = 0; ok && i < slabs.tab.cap; i++) {
        const struct gjb_big *e = &slabs.tab.slot[i];
        ok = !e->addr || slab_ok(e->addr, e->len, &nonfull);
    }
    for (unsigned c = 0; ok && c < SLAB_NCLS; c++)
        ok = list_ok(c, nonfull, &listed);
    ok = ok && listed == nonfull && sums_ok();
    gjb_slab_unlock();
    return ok;
}

void gjb_slab_sums(struct gjb_slab_sums *sums)
{
    *sums = slabs.sums;
    sums->slabs = slabs.tab.count;
}
