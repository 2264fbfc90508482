/*
 * sysheap.c - the system heap: heap_mem_init, mem_findmax, mem_getinfo and
 * the allocation interface of <gjbmem/sysheap.h>.
 *
 * One engine heap with up to SYS_REGIONS regions. On a host the regions
 * are page mappings from the port: the first of GROW_MIN bytes (less when
 * the limit is lower) taken at the library's first use, so that a fresh
 * process already reports it; each later one at least as large as all
 * before it together (so 64 regions are never the limit), taken when an
 * allocation finds no room; the integrator may add memory of its own.
 * Requests of GJBMEM_SYSHEAP_DIRECT bytes or more get a direct mapping each, recorded in a hash table (bigblock.c), and go
 * back to the host when freed. Everything taken from the port counts
 * against the limit. One lock guards it all; fork handlers hold it across
 * fork so that the child inherits a consistent heap.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "api_internal.h"
#include "guard.h"
#include "port_fast.h"
#include "textline.h"
#include "gjbext.h"
#include "gjbmem/port.h"
#include "gjbmem/sysheap.h"

#define SYS_REGIONS 64
#define GROW_MIN ((size_t)4 << 20)

struct piece {
    void *mem;
    size_t size;
    bool from_port;
};

static struct {
    gjb_port_lock lock;
    gjb_heap *h;     /* NULL until the heap has memory */
    int policy;      /* GJB_FIRST_FIT or GJB_BUDDY */
    size_t limit;    /* most bytes to take from the port */
    size_t port;     /* bytes held from the port: regions, direct, table */
    size_t regions;  /* bytes of all regions */
    size_t page;
    struct piece piece[SYS_REGIONS];
    unsigned npieces;
    struct gjb_bigtab big;
    struct gjb_errpolicy pol; /* what a bad pointer or damage also does */
} sys;

/* --- settings ----------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* "123", "64K", "512M", "2G" -> bytes; false when malformed or too big. */
static bool parse_size(const char *s, size_t *out)
{
    size_t v = 0;
    if (!s || *s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (SIZE_MAX - (size_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    unsigned shift = *s == 'K' || *s == 'k' ? 10 : *s == 'M' || *s == 'm' ? 20
                   : *s == 'G' || *s == 'g' ? 30 : 0;
    if (shift)
        s++;
    if (*s || (shift && v > SIZE_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}

static int grow(size_t size);
static void summary(struct gjb_line *l);

static void on_prepare(void)
{
    gjb_port_lock_take(&sys.lock);
}

static void on_parent(void)
{
    gjb_port_lock_release(&sys.lock);
}

static void on_child(void)
{
    gjb_port_lock_init(&sys.lock);
}

void gjb_sysheap_init(void)
{
    gjb_port_lock_init(&sys.lock);
    sys.page = gjb_port_page_size();
    const char *pol = gjb_port_getenv("GJBMEM_POLICY");
    sys.policy = pol && same(pol, "buddy") ? GJB_BUDDY : GJB_FIRST_FIT;
    unsigned long long mem = gjb_port_memory_size();
    sys.limit = mem > SIZE_MAX ? SIZE_MAX : (size_t)mem;
    size_t lim;
    if (parse_size(gjb_port_getenv("GJBMEM_HEAP_LIMIT"), &lim))
        sys.limit = lim;
    gjb_port_at_fork(on_prepare, on_parent, on_child);
    gjb_show_register(summary);
    (void)grow(0); /* the first region, when the limit and the host allow one */
}

static void lock(void)
{
    gjb_fast_init_once(gjb_lib_init);
    gjb_fast_lock(&sys.lock);
}

static void unlock(void)
{
    gjb_fast_unlock(&sys.lock);
}

/* --- growth ------------------------------------------------------------- */

static size_t page_up(size_t n)
{
    return n > SIZE_MAX - sys.page ? 0 : (n + sys.page - 1) & ~(sys.page - 1);
}

/* Bytes the limit still allows, less reserve, in whole pages. */
static size_t room(size_t reserve)
{
    size_t held = sys.port + reserve;
    return held >= sys.port && sys.limit > held ? (sys.limit - held) & ~(sys.page - 1) : 0;
}

/* Makes [mem, mem+size) a region of the heap (creating it). 0 or errno. */
static int adopt(void *mem, size_t size, bool from_port)
{
    if (sys.npieces == SYS_REGIONS)
        return ENOSPC;
    int st = sys.h ? gjb_heap_add_region(sys.h, mem, size)
                   : gjb_heap_init(mem, size, sys.policy, SYS_REGIONS, &sys.h);
    if (st != GJB_OK)
        return st == GJB_E_FULL ? ENOSPC : EINVAL;
    sys.piece[sys.npieces++] = (struct piece){mem, size, from_port};
    sys.regions += size;
    return 0;
}

/* Takes a region from the port that can hold a request of size bytes. */
static int grow(size_t size)
{
    if (size > SIZE_MAX / 4)
        return ENOMEM;
    size_t want = 2 * size + size / 16 + (64u << 10);
    if (want < GROW_MIN)
        want = GROW_MIN;
    if (want < sys.regions)
        want = sys.regions;
    want = page_up(want);
    if (want > room(0))
        want = room(0);
    void *mem;
    if (want <= size || sys.npieces == SYS_REGIONS || gjb_port_pages_get(want, &mem) != 0)
        return ENOMEM;
    int err = adopt(mem, want, true);
    if (err) {
        gjb_port_pages_put(mem, want);
        return ENOMEM;
    }
    sys.port += want;
    return 0;
}

/* --- allocation (lock held) -------------------------------------------- */

static int engine_alloc(size_t align, size_t size, void **p)
{
    if (!sys.h)
        return GJB_E_NOMEM;
    return align > 1 ? gjb_heap_memalign(sys.h, align, size, p)
                     : gjb_heap_alloc_inline(sys.h, size, p);
}

/* A direct mapping of size bytes aligned to align (at most a page, or the
 * mapping is trimmed from a larger one). */
static void *direct_alloc(size_t align, size_t size)
{
    size_t len = page_up(size), extra = align > sys.page ? align : 0;
    if (!len || len > SIZE_MAX - extra || len + extra > room(gjb_big_growth(&sys.big)))
        return NULL; /* the mapping and the table's growth must both fit the limit */
    void *mem;
    if (gjb_port_pages_get(len + extra, &mem) != 0)
        return NULL;
    char *p = mem;
    if (extra) {
        uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
        size_t lead = a - (uintptr_t)p;
        if (lead)
            gjb_port_pages_put(p, lead);
        if (extra - lead)
            gjb_port_pages_put((char *)a + len, extra - lead);
        p = (char *)a;
    }
    long grown = 0;
    if (gjb_big_put(&sys.big, p, len, &grown) != 0) {
        gjb_port_pages_put(p, len);
        return NULL;
    }
    sys.port += len + (size_t)grown;
    return p;
}

static void direct_free(void *p, size_t len)
{
    gjb_big_del(&sys.big, p);
    gjb_port_pages_put(p, len);
    sys.port -= len;
}

/* Grows direct mapping p (len bytes, size > len) to hold size bytes,
 * moving its pages rather than copying them; NULL when the limit or the
 * host says no (p is then intact). */
static void *direct_resize(void *p, size_t len, size_t size)
{
    size_t nlen = page_up(size);
    void *q;
    if (!nlen || nlen - len > room(0) || gjb_port_vm_remap(p, len, nlen, true, &q) != 0)
        return NULL;
    long table = 0;
    gjb_big_del(&sys.big, p);
    (void)gjb_big_put(&sys.big, q, nlen, &table); /* never grows: one entry out, one in */
    sys.port += nlen - len;
    return q;
}

static void *alloc_locked(size_t align, size_t size)
{
    if (size == 0)
        size = 1;
    void *p;
    bool big = size >= GJBMEM_SYSHEAP_DIRECT;
    if (big && (p = direct_alloc(align, size)) != NULL)
        return p; /* else the heap's free memory may still hold it, without growing */
    if (engine_alloc(align, size, &p) == GJB_OK)
        return p;
    if (!big && grow(size + (align > 1 ? align : 0)) == 0 && engine_alloc(align, size, &p) == GJB_OK)
        return p;
    return NULL;
}

/* Bytes of block p (not NULL) under the lock, guard included; 0 when p is
 * no block. */
static size_t raw_usable_locked(const void *p)
{
    size_t n = sys.h ? gjb_heap_usable_size(sys.h, p) : 0;
    return n ? n : gjb_big_get(&sys.big, p);
}

/* Usable size of p (not NULL) under the lock: 0 when p is no block;
 * SIZE_MAX when its guard (hardening level 2+) is broken. */
static size_t usable_locked(const void *p)
{
    size_t n = raw_usable_locked(p);
    return GJB_GUARDED && n ? gjb_guard_size(p, n) : n;
}

/* Allocates under the lock; if fresh is not NULL, *fresh tells whether the
 * block is a new direct mapping (zero-filled by the host). */
static void *allocate(size_t align, size_t size, bool *fresh)
{
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return NULL;
    }
    size_t need;
    bool ok = gjb_guard_need(size, &need);
    lock();
    void *p = ok ? alloc_locked(align, need) : NULL;
    if (fresh)
        *fresh = p && gjb_big_get(&sys.big, p) != 0;
    if (GJB_GUARDED && p) {
        gjb_fill_new(p, 0, size);
        gjb_guard_set(p, raw_usable_locked(p), size);
    }
    unlock();
    if (!p)
        gjb_port_set_errno(ENOMEM);
    return p;
}

/* The rest of a plain allocation of size bytes (0 < size < DIRECT) that the
 * heap could not hold (lock held, released here): growth. */
static GJB_NOINLINE void *alloc_grown(size_t size)
{
    void *p;
    if (grow(size) != 0 || engine_alloc(1, size, &p) != GJB_OK)
        p = NULL;
    unlock();
    if (!p)
        gjb_port_set_errno(ENOMEM);
    return p;
}

/* A plain allocation: the common case inline, a heap block (no guard) the
 * heap holds now; the rest as allocate does it, growth after the heap said
 * no. fresh as for allocate. */
static GJB_ALWAYS_INLINE void *allocate_plain(size_t size, bool *fresh)
{
    if (!GJB_GUARDED && GJB_LIKELY(size - 1 < GJBMEM_SYSHEAP_DIRECT - 1 && !gjb_fast_in_isr())) {
        void *p;
        if (fresh)
            *fresh = false; /* no direct mapping */
        lock();
        if (GJB_LIKELY(sys.h != NULL) && gjb_heap_alloc_inline(sys.h, size, &p) == GJB_OK) {
            unlock();
            return p;
        }
        return alloc_grown(size);
    }
    return allocate(1, size, fresh);
}

void *gjbmem_malloc(size_t size)
{
    return allocate_plain(size, NULL);
}

void *gjbmem_memalign(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1))) {
        gjb_port_set_errno(EINVAL);
        return NULL;
    }
    return allocate(align, size, NULL);
}

void *gjbmem_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        gjb_port_set_errno(ENOMEM);
        return NULL;
    }
    bool fresh;
    void *p = allocate_plain(n * size, &fresh);
    if (p && (!fresh || GJB_FILLED)) /* a new direct mapping comes zeroed */
        memset(p, 0, n * size);
    return p;
}

/* Frees p, which the heap refused (st), under the lock: 0 when it is a
 * direct mapping, else EINVAL (*corrupt set when the engine found damage on
 * the way). */
static int free_direct_locked(void *p, int st, bool *corrupt)
{
    *corrupt = st == GJB_E_CORRUPT;
    size_t len = gjb_big_get(&sys.big, p);
    if (!len)
        return EINVAL;
    direct_free(p, len);
    return 0;
}

/* Frees p under the lock: 0, or EINVAL when p is no block of the heap
 * (*corrupt set when the engine found damage on the way). */
static int free_locked(void *p, bool *corrupt)
{
    int st = sys.h ? gjb_heap_free_inline(sys.h, p) : GJB_E_BADPTR;
    return st == GJB_OK ? 0 : free_direct_locked(p, st, corrupt);
}

/* Fails a call with err after carrying out the policy (pol: a copy taken
 * under the lock, none held now) for pointer p. */
static void misuse(const struct gjb_errpolicy *pol, const char *call, int err, bool corrupt,
                   const void *p)
{
    struct gjbmem_error e = {0, call, err, corrupt, p};
    gjb_errpolicy_report(pol, &e);
    gjb_port_set_errno(err);
}

/* The end of a free of p under the lock (err: 0 or its errno; corrupt:
 * damage found): the lock goes; a failure runs the error policy for call
 * (the name a report gives) and returns -1. */
static int free_done(void *p, const char *call, int err, bool corrupt)
{
    if (GJB_LIKELY(!err)) {
        unlock();
        return 0;
    }
    struct gjb_errpolicy pol = sys.pol;
    unlock();
    misuse(&pol, call, err, corrupt, p);
    return -1;
}

/* gjbmem_free, for call (the name a report gives). */
static int free_call(void *p, const char *call)
{
    if (!p)
        return 0;
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return -1;
    }
    bool corrupt = false;
    int err = 0;
    lock();
    size_t u = GJB_GUARDED ? raw_usable_locked(p) : 0;
    if (u && gjb_guard_size(p, u) == SIZE_MAX) {
        err = EINVAL; /* a broken guard: the block stays as it is */
        corrupt = true;
    } else {
        gjb_fill_free(p, u);
        err = free_locked(p, &corrupt);
    }
    return free_done(p, call, err, corrupt);
}

/* The rest of a free the heap refused (st; lock held, released here): a
 * direct mapping, or a bad pointer reported by the error policy. */
static GJB_NOINLINE int free_refused(void *p, int st)
{
    bool corrupt = false;
    int err = free_direct_locked(p, st, &corrupt);
    return free_done(p, "gjbmem_free", err, corrupt);
}

int gjbmem_free(void *p)
{
    /* The common case inline: a heap block (no guard to check first). */
    if (!GJB_GUARDED && GJB_LIKELY(p != NULL && !gjb_fast_in_isr())) {
        lock();
        int st = GJB_LIKELY(sys.h != NULL) ? gjb_heap_free_inline(sys.h, p) : GJB_E_BADPTR;
        if (GJB_LIKELY(st == GJB_OK)) {
            unlock();
            return 0;
        }
        return free_refused(p, st);
    }
    return free_call(p, "gjbmem_free");
}

int gjbmem_sysheap_set_error_policy(unsigned flags, gjbmem_error_hook hook, void *arg)
{
    if (gjb_port_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return -1;
    }
    if (!gjb_errpolicy_valid(flags, hook)) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    lock();
    sys.pol = (struct gjb_errpolicy){flags, hook, arg};
    unlock();
    return 0;
}

size_t gjbmem_usable_size(const void *p)
{
    if (!p)
        return 0;
    lock();
    size_t n = usable_locked(p);
    unlock();
    return n == SIZE_MAX ? 0 : n;
}

/* Resizes block p (holding old bytes) to need bytes under the lock: the
 * new pointer, or NULL (ENOMEM). */
static void *resize_locked(void *p, size_t old, size_t need)
{
    size_t len = gjb_big_get(&sys.big, p);
    void *q;
    if (!len && need < GJBMEM_SYSHEAP_DIRECT) {
        if (gjb_heap_realloc(sys.h, p, need, &q) == GJB_OK)
            return q;
        if (grow(need) == 0 && gjb_heap_realloc(sys.h, p, need, &q) == GJB_OK)
            return q;
        return NULL;
    }
    if (len && need >= GJBMEM_SYSHEAP_DIRECT / 2 && need <= len)
        return p; /* a direct mapping keeps its pages when it shrinks a little */
    if (len && need >= GJBMEM_SYSHEAP_DIRECT && (q = direct_resize(p, len, need)) != NULL)
        return q;
    q = alloc_locked(1, need);
    if (!q)
        return NULL;
    memcpy(q, p, old < need ? old : need);
    bool corrupt;
    free_locked(p, &corrupt);
    return q;
}

/* Resizes a block under the lock: the new pointer, or NULL with *err
 * (*corrupt: p's guard is broken). */
static void *realloc_locked(void *p, size_t size, int *err, bool *corrupt)
{
    size_t raw = raw_usable_locked(p), need;
    size_t old = GJB_GUARDED && raw ? gjb_guard_size(p, raw) : raw; /* may be 0 */
    if (!raw || old == SIZE_MAX) {
        *corrupt = raw != 0;
        *err = EINVAL;
        return NULL;
    }
    void *q = gjb_guard_need(size, &need) ? resize_locked(p, old, need) : NULL;
    if (!q) {
        *err = ENOMEM;
        return NULL;
    }
    if (GJB_GUARDED) {
        gjb_fill_new(q, old, size);
        gjb_guard_set(q, raw_usable_locked(q), size);
    }
    return q;
}

void *gjbmem_realloc(void *p, size_t size)
{
    if (!p)
        return gjbmem_malloc(size);
    if (size == 0) {
        free_call(p, "gjbmem_realloc");
        return NULL;
    }
    if (gjb_fast_in_isr()) {
        gjb_port_set_errno(ERROR_KERNEL_IN_ISR);
        return NULL;
    }
    int err = 0;
    bool corrupt = false;
    lock();
    void *q = realloc_locked(p, size, &err, &corrupt);
    struct gjb_errpolicy pol = sys.pol;
    unlock();
    if (q)
        return q;
    if (err == EINVAL)
        misuse(&pol, "gjbmem_realloc", err, corrupt, p);
    else
        gjb_port_set_errno(err);
    return NULL;
}

/* --- settings and statistics ------------------------------------------- */

int gjbmem_sysheap_set_limit(size_t bytes)
{
    lock();
    bool ok = bytes >= sys.port;
    if (ok)
        sys.limit = bytes;
    unlock();
    if (!ok)
        gjb_port_set_errno(EINVAL);
    return ok ? 0 : -1;
}

int gjbmem_sysheap_add_memory(void *mem, size_t size)
{
    gjb_port_init_once(gjb_lib_init);
    gjb_port_global_lock(); /* lock order: global (partitions), then the heap's */
    bool taken = !mem || !size || gjb_mpart_owns(mem, size);
    lock();
    int err = taken || gjb_big_overlaps(&sys.big, mem, size) ? EINVAL : adopt(mem, size, false);
    unlock();
    gjb_port_global_unlock();
    if (err)
        gjb_port_set_errno(err);
    return err ? -1 : 0;
}

/* Re-creates the heap over the same memory with policy (no block live). */
static int rebuild(int policy)
{
    gjb_heap *h = NULL;
    if (sys.h)
        gjb_heap_retire(sys.h); /* for valgrind: the old heap's pool goes */
    if (gjb_heap_init(sys.piece[0].mem, sys.piece[0].size, policy, SYS_REGIONS, &h) != GJB_OK)
        return ENOMEM;
    for (unsigned i = 1; i < sys.npieces; i++)
        if (gjb_heap_add_region(h, sys.piece[i].mem, sys.piece[i].size) != GJB_OK)
            return ENOMEM;
    sys.h = h;
    return 0;
}

int heap_mem_init(int flag)
{
    if (flag != FIRST_FIT_ALLOCATION && flag != BUDDY_ALLOCATION) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    int policy = flag == BUDDY_ALLOCATION ? GJB_BUDDY : GJB_FIRST_FIT, err = 0;
    lock();
    if (policy != sys.policy) {
        if ((sys.h && !gjb_heap_is_empty(sys.h)) || sys.big.count)
            err = EBUSY;
        else if (sys.h && (err = rebuild(policy)) != 0)
            (void)rebuild(sys.policy); /* memory that fit one policy fits it again */
        if (!err)
            sys.policy = policy;
    }
    unlock();
    if (err)
        gjb_port_set_errno(err);
    return err ? -1 : 0;
}

int mem_findmax(void)
{
    lock();
    size_t m = sys.h ? gjb_guarded_max(sys.h) : 0;
    unlock();
    return m > INT_MAX ? INT_MAX : (int)m;
}

bool gjb_sysheap_conflicts(const void *mem, size_t size)
{
    lock();
    bool bad = false;
    if (sys.h && gjb_heap_overlaps(sys.h, mem, size)) {
        /* only inside the usable bytes of one allocated block (not over
         * its guard, at hardening level 2+) */
        const char *p = gjb_heap_block_of(sys.h, mem);
        size_t n = p ? usable_locked(p) : 0;
        size_t off = p ? (size_t)((const char *)mem - p) : 0;
        bad = !p || n == SIZE_MAX || off >= n || size > n - off;
    }
    unlock();
    return bad;
}

int mem_getinfo(struct meminfo *info)
{
    if (!info) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    if (!gjb_port_in_system_context()) {
        gjb_port_set_errno(EACCES);
        return -1;
    }
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    info->segment = st.heap.segments;
    info->used = st.heap.used;
    info->maxused = st.heap.maxused;
    info->free = st.heap.free;
    return 0;
}

int gjbmem_sysheap_stats(struct gjbmem_sysheap_stats *st)
{
    if (!st) {
        gjb_port_set_errno(EINVAL);
        return -1;
    }
    lock();
    if (sys.h)
        gjb_heap_get_stats(sys.h, &st->heap);
    else
        memset(&st->heap, 0, sizeof st->heap);
    st->policy = sys.policy == GJB_BUDDY ? BUDDY_ALLOCATION : FIRST_FIT_ALLOCATION;
    st->limit = sys.limit;
    st->port_bytes = sys.port;
    st->direct_blocks = sys.big.count;
    st->direct_bytes = sys.big.bytes;
    unlock();
    return 0;
}

/* Hardening level 2+: every direct mapping's guard is whole. */
static bool direct_guards_ok(void)
{
    for (size_t i = 0; GJB_GUARDED && i < sys.big.cap; i++) {
        const struct gjb_big *e = &sys.big.slot[i];
        if (e->addr && gjb_guard_size((const void *)e->addr, e->len) == SIZE_MAX)
            return false;
    }
    return true;
}

int gjbmem_sysheap_validate(void)
{
    lock();
    size_t port = gjb_big_table_bytes(&sys.big) + sys.big.bytes;
    for (unsigned i = 0; i < sys.npieces; i++)
        port += sys.piece[i].from_port ? sys.piece[i].size : 0;
    bool ok = (!sys.h || gjb_guarded_validate(sys.h) == GJB_OK) &&
              gjb_big_valid(&sys.big, sys.page) && port == sys.port && direct_guards_ok();
    struct gjb_errpolicy pol = sys.pol;
    unlock();
    if (!ok)
        misuse(&pol, "gjbmem_sysheap_validate", ERROR_KERNEL_MEMORY, true, NULL);
    return ok ? 0 : -1;
}

/* mem_show's line: "system heap: 0 direct mappings of 0 bytes; 4194304 bytes
 * from the host, limit 8388608; policy FIRST_FIT" */
static void summary(struct gjb_line *l)
{
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    gjb_line_put(l, "system heap: ");
    gjb_line_dec(l, st.direct_blocks);
    gjb_line_put(l, " direct mappings of ");
    gjb_line_dec(l, st.direct_bytes);
    gjb_line_put(l, " bytes; ");
    gjb_line_dec(l, st.port_bytes);
    gjb_line_put(l, " bytes from the host, limit ");
    gjb_line_dec(l, st.limit);
    gjb_line_put(l, st.policy == BUDDY_ALLOCATION ? "; policy BUDDY" : "; policy FIRST_FIT");
}
