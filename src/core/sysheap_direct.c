/*
 * sysheap_direct.c - the system heap's direct mappings: a request of
 * GJBMEM_SYSHEAP_DIRECT bytes or more gets pages of its own from the port,
 * recorded in a hash table (bigblock.c). They count against the limit but
 * not in the heap's statistics. Lock held in every function.
 *
 * A freed mapping is kept for reuse (a loop of large blocks then neither
 * maps nor faults in its pages again): up to KEEP_SLOTS ranges, oldest
 * first, adjacent ones merged, in all at most keep_cap() bytes (twice the
 * live direct mappings, at most KEEP_MAX); the oldest go back to the port
 * to make room. A request takes the smallest kept
 * range that holds it (all of it when at most twice the request, else its
 * head, the tail kept), or grows the largest shorter one in place or by
 * moving its pages (gjb_port_vm_remap). Kept ranges stay counted in
 * gjb_sys.port; they go back when the limit leaves too little room for a
 * request that giving them back lets through (gjb_sys_direct_trim).
 */
#include "sysheap_state.h"
#include "gjbmem/sysheap.h"

#define KEEP_SLOTS 16                /* kept ranges */
#define KEEP_MAX ((size_t)32 << 20) /* bytes: glibc's largest mmap threshold (64-bit) */

static struct {
    unsigned n;                                     /* kept mappings, oldest first */
    size_t bytes;                                   /* their bytes */
    struct { char *p; size_t len; } m[KEEP_SLOTS];
} kept;

/* Most bytes kept when a range of len bytes is: KEEP_MAX, no more than a
 * quarter of the limit (an integrator's small limit is for live memory),
 * and no more than twice the direct mappings still live, or len when that
 * is larger. A loop of large blocks reuses about what it holds live; a
 * program that holds few large blocks keeps little of what it left behind
 * (sqlite's peak RSS was 1.33x glibc's with up to KEEP_MAX kept:
 * docs/BENCHMARKS.md, "The kept mappings"). */
static size_t keep_cap(size_t len)
{
    size_t q = gjb_sys.limit / 4, cap = q < KEEP_MAX ? q : KEEP_MAX;
    size_t live = gjb_sys.big.bytes, want = live < cap / 2 ? 2 * live : cap;
    want = want > len ? want : len;
    return want < cap ? want : cap;
}

/* True when the limit leaves room for need more bytes, kept mappings
 * given back for it when that makes it so (only then). */
static bool room_for(size_t need)
{
    size_t room = gjb_sys_room(0);
    if (need > room && need <= room + kept.bytes) /* kept bytes count in port: no overflow */
        gjb_sys_direct_trim(need);
    return need <= gjb_sys_room(0);
}

/* Takes kept range i out of the array (its pages stay mapped). */
static void unkeep(unsigned i)
{
    kept.bytes -= kept.m[i].len;
    kept.n--;
    for (; i < kept.n; i++)
        kept.m[i] = kept.m[i + 1];
}

/* Gives the oldest kept range back to the port. */
static void evict_oldest(void)
{
    char *p = kept.m[0].p;
    size_t len = kept.m[0].len;
    unkeep(0);
    gjb_port_pages_put(p, len);
    gjb_sys.port -= len;
}

/* Keeps the pages [p, p+len) (out of the table, counted in port) for
 * reuse, merged with the kept ranges next to them, the oldest going to
 * make room; gives them back when they exceed the cap. */
static void keep(char *p, size_t len)
{
    for (unsigned i = 0; i < kept.n; i++)
        if (kept.m[i].p + kept.m[i].len == p || p + len == kept.m[i].p) {
            p = kept.m[i].p < p ? kept.m[i].p : p;
            len += kept.m[i].len;
            unkeep(i);
            i = (unsigned)-1; /* the merged range may touch another */
        }
    size_t cap = keep_cap(len);
    if (len > cap) {
        gjb_port_pages_put(p, len);
        gjb_sys.port -= len;
        return;
    }
    while (kept.n == KEEP_SLOTS || kept.bytes + len > cap)
        evict_oldest();
    kept.m[kept.n].p = p;
    kept.m[kept.n].len = len;
    kept.n++;
    kept.bytes += len;
}

/* The kept range to reuse for len bytes aligned to align (a power of
 * two): the smallest at least len bytes long whose address is aligned,
 * else (align <= page) the largest shorter one, to be grown; KEEP_SLOTS
 * when none. */
static unsigned pick(size_t align, size_t len)
{
    unsigned fit = KEEP_SLOTS, grow = KEEP_SLOTS;
    for (unsigned i = 0; i < kept.n; i++) {
        size_t l = kept.m[i].len;
        if (l >= len && (uintptr_t)kept.m[i].p % align == 0 &&
            (fit == KEEP_SLOTS || l < kept.m[fit].len))
            fit = i;
        else if (l < len && align <= gjb_sys.page && (grow == KEEP_SLOTS || l > kept.m[grow].len))
            grow = i;
    }
    return fit != KEEP_SLOTS ? fit : grow;
}

/* A kept range for len bytes (align as for pick), out of the array, its
 * length into *mlen (len, or all of it when at most twice len); NULL when
 * none fits (or the limit or the host refuses a growth). A range more than
 * twice len long (and by a direct request's worth) keeps its tail. */
static char *reuse(size_t align, size_t len, size_t *mlen)
{
    unsigned i = pick(align, len);
    if (i == KEEP_SLOTS)
        return NULL;
    char *p = kept.m[i].p;
    size_t l = kept.m[i].len;
    void *q;
    if (l < len && (len - l > gjb_sys_room(gjb_big_growth(&gjb_sys.big)) ||
                    gjb_port_vm_remap(p, l, len, true, &q) != 0))
        return NULL; /* it stays kept */
    unkeep(i);
    if (l < len) { /* grown: its touched pages come along */
        gjb_sys.port += len - l;
        p = q;
    } else if (l - len >= GJBMEM_SYSHEAP_DIRECT && l / 2 > len) {
        keep(p + len, l - len); /* its tail split off, still kept */
    } else {
        len = l; /* a little longer than asked: all of it */
    }
    *mlen = len;
    return p;
}

/* New pages for len bytes aligned to align (extra: align when above a
 * page), counted in port; NULL when the limit or the host refuses. */
static char *map_new(size_t align, size_t len, size_t extra)
{
    size_t need = len + extra + gjb_big_growth(&gjb_sys.big);
    void *mem;
    if (!room_for(need) || gjb_port_pages_get(len + extra, &mem) != 0)
        return NULL; /* the mapping and the table's growth must both fit the limit */
    char *p = mem;
    if (extra) { /* aligned above a page: trimmed from a larger mapping */
        uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
        size_t lead = a - (uintptr_t)p;
        if (lead)
            gjb_port_pages_put(p, lead);
        if (extra - lead)
            gjb_port_pages_put((char *)a + len, extra - lead);
        p = (char *)a;
    }
    gjb_sys.port += len;
    return p;
}

void *gjb_sys_direct_alloc(size_t align, size_t size, bool *fresh)
{
    size_t len = gjb_sys_page_up(size), extra = align > gjb_sys.page ? align : 0;
    size_t table = gjb_big_growth(&gjb_sys.big);
    if (!len || len > SIZE_MAX - extra - table || !room_for(table))
        return NULL; /* the table's growth must fit the limit, whatever the mapping */
    char *p = reuse(align, len, &len);
    bool mapped = !p;
    if (!p && !(p = map_new(align, len, extra)))
        return NULL;
    long grown = 0;
    if (gjb_big_put(&gjb_sys.big, p, len, &grown) != 0) {
        keep(p, len);
        return NULL;
    }
    gjb_sys.port += (size_t)grown;
    *fresh = mapped; /* only with a mapping: NULL leaves it as it was */
    return p;
}

void gjb_sys_direct_free(void *p, size_t len)
{
    gjb_big_del(&gjb_sys.big, p);
    keep(p, len);
}

void *gjb_sys_direct_resize(void *p, size_t len, size_t size)
{
    size_t nlen = gjb_sys_page_up(size);
    void *q;
    if (!nlen || !room_for(nlen - len) || gjb_port_vm_remap(p, len, nlen, true, &q) != 0)
        return NULL;
    long table = 0;
    gjb_big_del(&gjb_sys.big, p);
    (void)gjb_big_put(&gjb_sys.big, q, nlen, &table); /* never grows: one entry out, one in */
    gjb_sys.port += nlen - len;
    return q;
}

size_t gjb_sys_direct_kept(void)
{
    return kept.bytes;
}

void gjb_sys_direct_trim(size_t need)
{
    while (kept.n && gjb_sys_room(0) < need)
        evict_oldest();
}
