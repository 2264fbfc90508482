/*
 * size_floor.c - a floor under issue 16's size target (scripts/embedded_size.sh
 * with GJBMEM_TLSF_DIR): TLSF 3.1's allocator with the least the partition
 * contract (SPEC section 3) asks of mpart_alloc, mpart_memalign,
 * mpart_realloc and mpart_free, written as small as this file could make
 * it, and the same calls as size_ours.c.
 *
 * What it keeps of the contract: generational ids checked by one compare,
 * the interrupt-context refusal, the partition's lock (hooks that an
 * integrator provides), the errno of every refusal, sizes that could never
 * fit and overflowing ones told apart from a full partition, alignments
 * checked, realloc's NULL and 0 rules with the old block kept on failure,
 * a pointer proof (a bit per allocated block start, so that foreign,
 * interior and double-freed pointers are refused before anything is
 * written), the used / free / maxused bytes, failed allocations and the
 * peak request.
 * What it leaves out, so that the real minimum is larger: partitions of
 * more than one region (mpart_addmem: a region lookup), the exact block
 * count (`segment`: TLSF does not say when it splits or merges), realloc
 * keeping a memalign block's alignment, and any check of the metadata
 * around a block. The port hooks are the harness's (left out of the sums).
 */
#include <stdbool.h>
#include <stdint.h>

#include "size_harness.h"
#include "tlsf.h"

enum { E_NOMEM = 12, E_INVAL = 22, HANDLE_NULL = 303, IN_ISR = 304,
       REGION_NULL = 4001, REGION_SIZE = 4002, REGION_ALIGN = 4004 };
enum { SLOTS = 8, GRAIN = sizeof(void *) };

struct part {
    unsigned long id; /* 0: a free slot; the generation above the slot bits */
    tlsf_t t;
    char *base;       /* the pool; the proof has a bit per GRAIN bytes of it */
    size_t span, free, maxused, failed, peak;
    unsigned lock;
    unsigned proof[sizeof size_harness_mem / GRAIN / 32];
};

static struct part size_floor_parts[SLOTS];
int size_floor_errno;

/* The port's hooks, stand-ins the optimiser cannot see through. */
static volatile int size_harness_isr;
__attribute__((noinline)) int size_harness_in_isr(void) { return size_harness_isr; }
__attribute__((noinline)) void size_harness_lock(unsigned *l) { *(volatile unsigned *)l = 1; }
__attribute__((noinline)) void size_harness_unlock(unsigned *l) { *(volatile unsigned *)l = 0; }

static void *fail(int e)
{
    size_floor_errno = e;
    return NULL;
}

/* The slot of id, locked; NULL (errno set) when the id is stale or we are
 * in an interrupt. */
static struct part *enter(unsigned long id)
{
    if (size_harness_in_isr())
        return fail(IN_ISR);
    struct part *s = &size_floor_parts[id % SLOTS];
    if (!id || s->id != id)
        return fail(HANDLE_NULL);
    size_harness_lock(&s->lock);
    return s;
}

static void *leave(struct part *s, void *r, int e)
{
    size_harness_unlock(&s->lock);
    return r ? r : fail(e);
}

/* Proof bit operations: op 0 tests, 1 sets, 2 clears. p must be in the pool. */
static bool proof(struct part *s, void *p, int op)
{
    size_t g = (size_t)((char *)p - s->base) / GRAIN;
    unsigned *w = &s->proof[g / 32], m = 1u << (g % 32);
    bool was = *w & m;
    if (op == 1)
        *w |= m;
    else if (op == 2)
        *w &= ~m;
    return was;
}

/* A pointer of this partition's that is an allocated block's start. */
static bool proved(struct part *s, void *p)
{
    size_t d = (size_t)((char *)p - s->base);
    return d < s->span && d % GRAIN == 0 && proof(s, p, 0);
}

static void took(struct part *s, void *p)
{
    proof(s, p, 1);
    s->free -= tlsf_block_size(p);
    size_t used = s->span - s->free;
    if (used > s->maxused)
        s->maxused = used;
}

static void gave(struct part *s, void *p)
{
    proof(s, p, 2);
    s->free += tlsf_block_size(p);
}

/* Size checks shared by alloc and memalign; 0 when the request may go on. */
static int too_big(struct part *s, size_t size, size_t align)
{
    if (!size)
        return E_INVAL;
    if (size > s->peak)
        s->peak = size;
    return size > s->span || align > s->span - size ? REGION_SIZE : 0;
}

static void *allocate(struct part *s, size_t align, size_t size)
{
    int e = too_big(s, size, align);
    void *p = e ? NULL : align ? tlsf_memalign(s->t, align, size) : tlsf_malloc(s->t, size);
    if (p)
        took(s, p);
    else if (!e)
        s->failed++, e = E_NOMEM;
    return leave(s, p, e);
}

void *mpart_alloc(unsigned long id, size_t size);
void *mpart_alloc(unsigned long id, size_t size)
{
    struct part *s = enter(id);
    return s ? allocate(s, 0, size) : NULL;
}

void *mpart_memalign(unsigned long id, size_t align, size_t size);
void *mpart_memalign(unsigned long id, size_t align, size_t size)
{
    if (!align || (align & (align - 1)))
        return fail(REGION_ALIGN);
    struct part *s = enter(id);
    return s ? allocate(s, align, size) : NULL;
}

void *mpart_realloc(unsigned long id, void *p, size_t size);
void *mpart_realloc(unsigned long id, void *p, size_t size)
{
    struct part *s = enter(id);
    if (!s || !p)
        return s ? allocate(s, 0, size) : NULL;
    int e = !proved(s, p) ? E_INVAL : too_big(s, size, 0);
    if (e)
        return leave(s, NULL, e);
    gave(s, p);
    void *q = tlsf_realloc(s->t, p, size);
    took(s, q ? q : p); /* on failure TLSF keeps the old block */
    return leave(s, q, E_NOMEM);
}

int mpart_free(unsigned long id, void *p);
int mpart_free(unsigned long id, void *p)
{
    if (!p)
        return fail(E_INVAL), -1;
    struct part *s = enter(id);
    if (!s)
        return -1;
    if (!proved(s, p))
        return leave(s, NULL, REGION_NULL), -1;
    gave(s, p);
    tlsf_free(s->t, p);
    leave(s, p, 0);
    return 0;
}

static volatile unsigned long size_harness_id = 1;

void size_harness_start(void)
{
#ifdef SIZE_CREATE
    struct part *s = &size_floor_parts[1];
    s->t = tlsf_create_with_pool(size_harness_mem, sizeof size_harness_mem);
    s->base = size_harness_mem;
    s->span = s->free = sizeof size_harness_mem;
    s->id = 1;
#endif
    unsigned long id = size_harness_id;
    void *a = mpart_alloc(id, size_harness_n);
    void *b = mpart_memalign(id, 64, size_harness_n);
    a = mpart_realloc(id, a, size_harness_n * 3);
    mpart_free(id, a);
    mpart_free(id, b);
    size_harness_sink = a;
}

/* TLSF reports a bad pool with printf: a stand-in, left out of the sums. */
int printf(const char *fmt, ...);
int printf(const char *fmt, ...)
{
    (void)fmt;
    return 0;
}
