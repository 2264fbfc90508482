/*
 * sysheap.c - the system heap on bare metal: one engine heap on the memory
 * areas the integrator hands over (gjbmem_sysheap_add_memory; the first
 * makes the heap, later ones are regions), one lock (the port's), no
 * threads' caches, no page supply and no direct mappings. It implements
 * the calls of <gjbmem/sysheap.h> and the documented heap_mem_init and
 * mem_* (SPEC section 4) with the host's errors; what differs: before the
 * first area the heap is empty (mem_getinfo reports zeros, allocation
 * fails with ENOMEM), and the limit is the memory handed over.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "core/api_internal.h"
#include "gjbext.h"
#include "gjbmem/port.h"
#include "gjbmem/sysheap.h"
#include "gjbmem_bare.h"

struct area {
    void *mem;
    size_t size;
};

static struct {
    gjb_port_lock lock;
    gjb_heap *heap; /* NULL before the first area */
    int policy;
    unsigned areas;
    struct area area[GJBMEM_BARE_AREAS];
    size_t limit;
    struct gjb_errpolicy pol;
} sys;

#if GJBMEM_BARE_HEAP_BYTES > 0
static _Alignas(max_align_t) unsigned char static_area[GJBMEM_BARE_HEAP_BYTES];
#endif

static void sys_lock(void)
{
    gjb_port_lock_take(&sys.lock);
}

static void sys_unlock(void)
{
    gjb_port_lock_release(&sys.lock);
}

static int fail(int err)
{
    gjb_port_set_errno(err);
    return -1;
}

/* The area [mem, mem+size) becomes part of the heap (lock held). */
static int adopt(void *mem, size_t size)
{
    if (sys.areas == GJBMEM_BARE_AREAS)
        return ENOSPC;
    int st = sys.heap ? gjb_heap_add_region(sys.heap, mem, size)
                      : gjb_heap_init(mem, size, sys.policy, GJBMEM_BARE_AREAS, &sys.heap);
    if (st == GJB_E_FULL)
        return ENOSPC;
    if (st != GJB_OK)
        return EINVAL;
    sys.area[sys.areas++] = (struct area){mem, size};
    return 0;
}

void gjb_sysheap_init(void)
{
    gjb_port_lock_init(&sys.lock);
    sys.policy = FIRST_FIT_ALLOCATION;
    sys.limit = SIZE_MAX;
#if GJBMEM_BARE_HEAP_BYTES > 0
    adopt(static_area, sizeof static_area);
#endif
}

/* Whether [mem, mem+size) is inside the usable bytes of one allocated block. */
static bool within_block(const void *mem, size_t size)
{
    const char *b = gjb_heap_block_of(sys.heap, mem);
    if (!b)
        return false;
    size_t n = gjb_heap_usable_size(sys.heap, b);
    uintptr_t lo = (uintptr_t)b, a = (uintptr_t)mem;
    return a >= lo && size <= n && a - lo <= n - size;
}

enum gjb_sys_overlap gjb_sysheap_overlap(const void *mem, size_t size)
{
    gjb_port_init_once(gjb_lib_init);
    sys_lock();
    enum gjb_sys_overlap o = GJB_SYS_NONE;
    if (sys.heap && gjb_heap_overlaps(sys.heap, mem, size))
        o = within_block(mem, size) ? GJB_SYS_BLOCK : GJB_SYS_OTHER;
    sys_unlock();
    return o;
}

int gjbmem_sysheap_add_memory(void *mem, size_t size)
{
    gjb_port_init_once(gjb_lib_init);
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    gjb_port_global_lock(); /* held until the memory is the heap's: ownership.c */
    int err = !mem || !size || !gjb_memory_free_for_sysheap(mem, size) ? EINVAL : 0;
    if (!err) {
        sys_lock();
        err = adopt(mem, size);
        sys_unlock();
    }
    gjb_port_global_unlock();
    return err ? fail(err) : 0;
}

int heap_mem_init(int flag)
{
    gjb_port_init_once(gjb_lib_init);
    if (flag != FIRST_FIT_ALLOCATION && flag != BUDDY_ALLOCATION)
        return fail(EINVAL);
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    int err = 0;
    sys_lock();
    if (flag != sys.policy) {
        if (sys.heap && !gjb_heap_is_empty(sys.heap)) {
            err = EBUSY;
        } else {
            /* the same areas again, in the order they came, under the new
             * policy (an area too small for its layout is left out: the
             * statistics then show fewer bytes) */
            unsigned n = sys.areas;
            struct area a[GJBMEM_BARE_AREAS];
            memcpy(a, sys.area, sizeof a);
            gjb_heap_retire(sys.heap);
            sys.heap = NULL;
            sys.areas = 0;
            sys.policy = flag;
            for (unsigned i = 0; i < n; i++)
                adopt(a[i].mem, a[i].size);
        }
    }
    sys_unlock();
    return err ? fail(err) : 0;
}

/* The allocating calls' common refusals: 0 or an errno value. */
static int may_alloc(void)
{
    gjb_port_init_once(gjb_lib_init);
    return gjb_port_in_isr() ? ERROR_KERNEL_IN_ISR : 0;
}

void *gjbmem_memalign(size_t align, size_t size)
{
    int err = may_alloc();
    if (!err && (align == 0 || (align & (align - 1))))
        err = EINVAL;
    if (!err && size > PTRDIFF_MAX)
        err = ENOMEM;
    void *p = NULL;
    if (!err) {
        sys_lock();
        int st = !sys.heap ? GJB_E_NOMEM
                 : align <= _Alignof(max_align_t) ? gjb_heap_alloc(sys.heap, size ? size : 1, &p)
                 : gjb_heap_memalign(sys.heap, align, size ? size : 1, &p);
        sys_unlock();
        err = st == GJB_OK ? 0 : ENOMEM;
    }
    if (err) {
        fail(err);
        return NULL;
    }
    return p;
}

void *gjbmem_malloc(size_t size)
{
    return gjbmem_memalign(_Alignof(max_align_t), size);
}

void *gjbmem_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        fail(ENOMEM);
        return NULL;
    }
    void *p = gjbmem_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

/* The error policy's report for p (lock not held). */
static void report(const struct gjb_errpolicy *pol, const char *call, int err, int st,
                   const void *p)
{
    if (pol->flags == GJBMEM_ERR_RETURN)
        return;
    struct gjbmem_error e = {0, call, err, st == GJB_E_CORRUPT, p};
    gjb_errpolicy_report(pol, &e);
}

int gjbmem_free(void *p)
{
    if (!p)
        return 0;
    int err = may_alloc();
    if (err)
        return fail(err);
    sys_lock();
    int st = sys.heap ? gjb_heap_free(sys.heap, p) : GJB_E_BADPTR;
    struct gjb_errpolicy pol = sys.pol;
    sys_unlock();
    if (st == GJB_OK)
        return 0;
    report(&pol, "gjbmem_free", EINVAL, st, p);
    return fail(EINVAL);
}

void *gjbmem_realloc(void *p, size_t size)
{
    if (!p)
        return gjbmem_malloc(size);
    if (!size) {
        gjbmem_free(p);
        return NULL;
    }
    int err = may_alloc();
    if (!err && size > PTRDIFF_MAX)
        err = ENOMEM;
    void *q = NULL;
    int st = GJB_OK;
    struct gjb_errpolicy pol = {0, NULL, NULL};
    if (!err) {
        sys_lock();
        st = sys.heap ? gjb_heap_realloc(sys.heap, p, size, &q) : GJB_E_BADPTR;
        pol = sys.pol;
        sys_unlock();
        err = st == GJB_OK                                 ? 0
              : st == GJB_E_BADPTR || st == GJB_E_CORRUPT ? EINVAL
                                                          : ENOMEM;
    }
    if (err == EINVAL)
        report(&pol, "gjbmem_realloc", err, st, p);
    if (err) {
        fail(err);
        return NULL;
    }
    return q;
}

void *gjbmem_malloc_cached(size_t size)
{
    return gjbmem_malloc(size); /* no threads' caches here */
}

int gjbmem_free_cached(void *p)
{
    if (!p)
        return 0;
    int err = may_alloc();
    if (err)
        return err;
    sys_lock();
    int st = sys.heap ? gjb_heap_free(sys.heap, p) : GJB_E_BADPTR;
    sys_unlock();
    return st == GJB_OK ? 0 : EINVAL;
}

size_t gjbmem_usable_size(const void *p)
{
    gjb_port_init_once(gjb_lib_init);
    sys_lock();
    size_t n = sys.heap && p ? gjb_heap_usable_size(sys.heap, p) : 0;
    sys_unlock();
    return n;
}

/* The bytes handed over (lock held). */
static size_t held(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < sys.areas; i++)
        n += sys.area[i].size;
    return n;
}

int gjbmem_sysheap_set_limit(size_t bytes)
{
    gjb_port_init_once(gjb_lib_init);
    sys_lock();
    int err = bytes < held() ? EINVAL : 0;
    if (!err)
        sys.limit = bytes; /* no page supply: recorded, nothing else to bound */
    sys_unlock();
    return err ? fail(err) : 0;
}

int gjbmem_sysheap_stats(struct gjbmem_sysheap_stats *st)
{
    gjb_port_init_once(gjb_lib_init);
    if (!st)
        return fail(EINVAL);
    *st = (struct gjbmem_sysheap_stats){0};
    sys_lock();
    if (sys.heap)
        gjb_heap_get_stats(sys.heap, &st->heap);
    st->policy = sys.policy;
    st->limit = sys.limit;
    sys_unlock();
    return 0;
}

int gjbmem_sysheap_validate(void)
{
    gjb_port_init_once(gjb_lib_init);
    sys_lock();
    int st = sys.heap ? gjb_heap_validate(sys.heap) : GJB_OK;
    struct gjb_errpolicy pol = sys.pol;
    sys_unlock();
    if (st == GJB_OK)
        return 0;
    report(&pol, "gjbmem_sysheap_validate", ERROR_KERNEL_MEMORY, GJB_E_CORRUPT, NULL);
    return fail(ERROR_KERNEL_MEMORY);
}

int gjbmem_sysheap_set_error_policy(unsigned flags, gjbmem_error_hook hook, void *arg)
{
    gjb_port_init_once(gjb_lib_init);
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    if (!gjb_errpolicy_valid(flags, hook))
        return fail(EINVAL);
    sys_lock();
    sys.pol = (struct gjb_errpolicy){flags, hook, arg};
    sys_unlock();
    return 0;
}

int mem_findmax(void)
{
    gjb_port_init_once(gjb_lib_init);
    sys_lock();
    size_t n = sys.heap ? gjb_heap_max_alloc(sys.heap) : 0;
    sys_unlock();
    return n > INT_MAX ? INT_MAX : (int)n;
}

int mem_getinfo(struct meminfo *info)
{
    gjb_port_init_once(gjb_lib_init);
    if (!info)
        return fail(EINVAL);
    if (!gjb_port_in_system_context())
        return fail(EACCES);
    struct gjbmem_heap_stats st = {0};
    sys_lock();
    if (sys.heap)
        gjb_heap_get_stats(sys.heap, &st);
    sys_unlock();
    info->segment = st.segments;
    info->used = st.used;
    info->maxused = st.maxused;
    info->free = st.free;
    return 0;
}
