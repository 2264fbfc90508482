/*
 * test_sysheap_slab.c - the BUDDY system heap's slabs (src/core/sysheap_slab.c,
 * docs/DESIGN.md "Slabs under BUDDY"): requests of 1025 bytes to 64 KiB
 * take a slot of their size class in a slab, one buddy block carved into
 * equal slots behind a header.
 *
 * Covered: the classes (usable size, rounding, alignment; a power-of-two
 * class keeps its own buddy block), the statistics (every slot a block,
 * free slots free bytes), a slab given back with its last slot, bad
 * pointers (a slab's own address, inside a slot, a slot freed twice) to
 * free, realloc and usable_size, a damaged header, realloc in and out of
 * the slabs, a model-based random sequence with validation, threads that
 * free each other's slots, fork, heap_mem_init, and a limit too small for
 * a slab. Slabs are on only without guards (hardening level 1): the cases
 * skip themselves from level 2, where every block carries a guard.
 *
 * Every case frees all it took, so the heap is empty between cases.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/errpolicy.h>
#include <gjbmem/sysheap.h>

#include "errno_asserts.h"
#include "levels.h"

#define KiB ((size_t)1024)
#define HDR 64u /* a slab's header: its first slot's offset */

static void slabs_only(void)
{
    if (GJBMEM_HARDENING >= 2) /* guards: no slabs (sysheap_state.h, gjb_slab_on) */
        skip();
}

/* The class size of a request of n bytes (1024 < n <= 64 KiB): 16 classes
 * per power of two, in 16-byte units. */
static size_t class_size(size_t n)
{
    size_t t = (n + 15) / 16 - 1;
    unsigned j = 0;
    while (t >> (j + 1))
        j++;
    return ((t >> (j - 4)) + 1) << (j - 4) << 4;
}

static bool pow2(size_t x)
{
    return (x & (x - 1)) == 0;
}

static struct gjbmem_sysheap_stats stats(void)
{
    struct gjbmem_sysheap_stats st;
    OK(gjbmem_sysheap_stats(&st));
    return st;
}

static void valid(void)
{
    errno = SENTINEL;
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(errno, SENTINEL);
}

static void paint(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 131u + i * 7u);
}

static bool painted(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 131u + i * 7u))
            return false;
    return true;
}

/* --- the error policy's hook ------------------------------------------------- */

static int hook_calls, hook_corrupt;
static const void *hook_addr;

static void hook(const struct gjbmem_error *e, void *arg)
{
    (void)arg;
    hook_calls++;
    hook_corrupt = e->corrupt;
    hook_addr = e->addr;
}

static int setup(void **state)
{
    (void)state;
    if (heap_mem_init(BUDDY_ALLOCATION) != 0)
        return -1;
    hook_calls = 0;
    return gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, NULL);
}

static int teardown(void **state)
{
    (void)state;
    (void)gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL);
    return heap_mem_init(FIRST_FIT_ALLOCATION); /* fails (EBUSY) if a block is left */
}

/* --- classes ------------------------------------------------------------------ */

static void classes_round_up_a_sixteenth(void **state)
{
    (void)state;
    slabs_only();
    static const size_t sizes[] = {1025, 1088, 1089, 1900, 4097, 4368, 5000, 11200, 11264,
                                   16385, 33000, 40000, 61441, 63000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i], c = class_size(n);
        assert_false(pow2(c));
        unsigned char *p = gjbmem_malloc(n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_int_equal(gjbmem_usable_size(p), c);
        assert_true(c >= n && (c - n) * 16 <= n + 16 * 16);
        paint(p, c, (unsigned)i);
        valid();
        assert_true(painted(p, c, (unsigned)i));
        OK(gjbmem_free(p));
    }
    valid();
}

/* A class that is a power of two is a buddy block's size: such a request
 * keeps its block, naturally aligned; so do requests outside the range. */
static void power_of_two_classes_keep_their_block(void **state)
{
    (void)state;
    slabs_only();
    static const size_t sizes[] = {1024, 2048, 4000, 4096, 8100, 16384, 32768, 65536, 65537};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t block = 1;
        while (block < sizes[i])
            block *= 2;
        void *p = gjbmem_malloc(sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % block, 0);
        assert_int_equal(gjbmem_usable_size(p), block);
        OK(gjbmem_free(p));
    }
}

/* --- statistics, and a slab's life -------------------------------------------- */

/* Every slot is a block: in use an allocated one, free a free one; the slab
 * goes back to the arenas with its last slot, and the heap is as before. */
static void slots_count_as_blocks(void **state)
{
    (void)state;
    slabs_only();
    struct gjbmem_sysheap_stats before = stats();
    struct meminfo mi0;
    OK(mem_getinfo(&mi0));
    enum { N = 150 }; /* more than one slab of 4352-byte slots */
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = gjbmem_malloc(4300);
        assert_non_null(p[i]);
        struct gjbmem_sysheap_stats st = stats();
        assert_int_equal(st.heap.alloc_blocks, before.heap.alloc_blocks + (size_t)i + 1);
        assert_int_equal(st.heap.used + st.heap.free, st.heap.total);
    }
    struct meminfo mi;
    OK(mem_getinfo(&mi));
    assert_true(mi.used >= mi0.used + N * 4352);
    assert_true(mi.maxused >= mi.used);
    valid();
    for (int i = 0; i < N; i += 2) /* every other slot: the slabs stay */
        OK(gjbmem_free(p[i]));
    struct gjbmem_sysheap_stats half = stats();
    assert_int_equal(half.heap.alloc_blocks, before.heap.alloc_blocks + N / 2);
    valid();
    void *again = gjbmem_malloc(4300); /* a slot freed above */
    bool reused = false;
    for (int i = 0; i < N; i += 2)
        reused |= again == p[i];
    OK(gjbmem_free(again));
    assert_true(reused);
    for (int i = 1; i < N; i += 2)
        OK(gjbmem_free(p[i]));
    struct gjbmem_sysheap_stats after = stats();
    struct meminfo mi1;
    OK(mem_getinfo(&mi1));
    assert_int_equal(after.heap.alloc_blocks, before.heap.alloc_blocks);
    assert_int_equal(after.heap.free_blocks, before.heap.free_blocks);
    assert_int_equal(mi1.used, mi0.used);
    assert_int_equal(mi1.free, mi0.free);
    assert_int_equal(mi1.segment, mi0.segment);
    valid();
}

/* --- bad pointers ----------------------------------------------------------------- */

static void expect_refused(int rc, const void *p, int corrupt)
{
    assert_int_equal(rc, -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(hook_calls, 1);
    assert_int_equal(hook_corrupt, corrupt);
    assert_ptr_equal(hook_addr, p);
    hook_calls = 0;
}

static void bad_pointers_refused(void **state)
{
    (void)state;
    slabs_only();
    unsigned char *a = gjbmem_malloc(3000), *b = gjbmem_malloc(3000);
    assert_non_null(a);
    assert_non_null(b);
    paint(b, 3000, 9);
    unsigned char *base = a - HDR; /* a slab's first slot follows its header */
    assert_int_equal((uintptr_t)base % (64 * KiB), 0);
    unsigned char *inside[] = {base, a + 16, a + 3000, base + 8};
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        errno = 0;
        expect_refused(gjbmem_free(inside[i]), inside[i], 0);
        errno = SENTINEL;
        assert_int_equal(gjbmem_usable_size(inside[i]), 0);
        assert_int_equal(errno, SENTINEL);
        errno = 0;
        assert_null(gjbmem_realloc(inside[i], 100));
        expect_refused(-1, inside[i], 0);
    }
    errno = 0;
    assert_int_equal(gjbmem_free_cached(base), EINVAL); /* the replacement's free */
    hook_calls = 0;
    valid();
    OK(gjbmem_free(a));
    errno = 0;
    expect_refused(gjbmem_free(a), a, 0); /* twice */
    assert_int_equal(gjbmem_usable_size(a), 0);
    assert_true(painted(b, 3000, 9)); /* nothing else was touched */
    assert_int_equal(gjbmem_usable_size(b), class_size(3000));
    valid();
    OK(gjbmem_free(b));
    /* the slab went with its last slot: its address is nobody's now */
    errno = 0;
    expect_refused(gjbmem_free(b), b, 0);
    valid();
}

/* A write past the block before a slab breaks its header: the slab's slots
 * are refused as damage (nothing is written through it), validation fails,
 * another slab serves the class; once the header is whole again its slots
 * can be freed, and with the slab gone the heap validates. */
static void damaged_header_refused(void **state)
{
    (void)state;
    slabs_only();
    unsigned char *a = gjbmem_malloc(5000), *b = gjbmem_malloc(5000);
    assert_non_null(a);
    assert_non_null(b);
    unsigned char *base = a - HDR;
    uintptr_t *hdr = (uintptr_t *)(void *)base, saved = hdr[0];
    hdr[0] ^= 0x5a5a;
    errno = 0;
    expect_refused(gjbmem_free(b), b, 1);
    assert_int_equal(gjbmem_usable_size(b), 0);
    errno = 0;
    assert_null(gjbmem_realloc(b, 6000));
    expect_refused(-1, b, 1);
    errno = 0;
    assert_int_equal(gjbmem_sysheap_validate(), -1);
    hook_calls = 0;
    unsigned char *c = gjbmem_malloc(5000); /* not from the damaged slab */
    assert_non_null(c);
    assert_false(c >= base && c < base + 64 * KiB);
    hdr[0] = saved;
    OK(gjbmem_free(c));
    OK(gjbmem_free(b));
    OK(gjbmem_free(a));
    valid();
    assert_int_equal(hook_calls, 0);
}

/* Validation finds each kind of damage to a slab's header (its slot bits,
 * the bits past its last slot, its class, its list link) and nothing once
 * it is undone; a slot of a slab whose bits past the last slot are broken
 * is refused as damage. */
static void validation_sees_damage(void **state)
{
    (void)state;
    slabs_only();
    unsigned char *a = gjbmem_malloc(2500), *b = gjbmem_malloc(2500), *c = gjbmem_malloc(2500);
    unsigned char *other = gjbmem_malloc(9000); /* another class, another slab */
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(other);
    valid();
    /* the header: check, next, prev, class (32 bits), 32 unused, slot bits */
    unsigned char *base = a - HDR;
    uintptr_t *links = (uintptr_t *)(void *)base;
    uint32_t *cls_used = (uint32_t *)(void *)(base + 3 * sizeof(uintptr_t));
    unsigned char *live = base + 3 * sizeof(uintptr_t) + 8;
    struct {
        void *at;
        size_t bytes;
        uint64_t flip;
    } damage[] = {
        {live, 8, (uint64_t)1 << 10},         /* a free slot's bit: the sums disagree */
        {live, 8, (uint64_t)1 << 63},         /* past the last slot (of 25), a bit cleared */
        {&cls_used[0], 4, 1},                 /* another class: the check word disagrees */
        {&cls_used[0], 4, 0x1000},            /* no class */
        {&links[2], sizeof(uintptr_t), 0x40}, /* a back link on the list's first slab */
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        uint64_t v = 0;
        memcpy(&v, damage[i].at, damage[i].bytes);
        v ^= damage[i].flip;
        memcpy(damage[i].at, &v, damage[i].bytes);
        errno = 0;
        assert_int_equal(gjbmem_sysheap_validate(), -1);
        assert_int_equal(hook_calls, 1);
        hook_calls = 0;
        v ^= damage[i].flip;
        memcpy(damage[i].at, &v, damage[i].bytes);
        valid();
    }
    uint64_t bits;
    memcpy(&bits, live, 8);
    uint64_t cut = bits & ~((uint64_t)1 << 63);
    memcpy(live, &cut, 8);
    errno = 0;
    expect_refused(gjbmem_free(b), b, 1);
    memcpy(live, &bits, 8);
    /* another class (the first slab of its list): no slot is taken from it */
    cls_used[0] ^= 1;
    unsigned char *e = gjbmem_malloc(2500);
    assert_non_null(e);
    assert_false(e >= base && e < base + 64 * KiB);
    cls_used[0] ^= 1;
    OK(gjbmem_free(e));
    /* every slot's bit set: no slot is taken from it */
    uint64_t all = ~(uint64_t)0;
    memcpy(live, &all, 8);
    unsigned char *d = gjbmem_malloc(2500);
    assert_non_null(d);
    assert_false(d >= base && d < base + 64 * KiB);
    memcpy(live, &bits, 8);
    OK(gjbmem_free(d));
    OK(gjbmem_free(a));
    OK(gjbmem_free(b));
    OK(gjbmem_free(c));
    OK(gjbmem_free(other));
    valid();
}

/* A partition may lie inside one slot in use, not over two, nor over a
 * slab's header or a free slot (the arenas see the slab as one block). */
static void partitions_inside_a_slot_only(void **state)
{
    (void)state;
    slabs_only();
    unsigned char *a = gjbmem_malloc(5000), *b = gjbmem_malloc(5000);
    assert_non_null(a);
    assert_non_null(b);
    size_t slot = gjbmem_usable_size(a);
    mpart_id mid;
    OK(mpart_create((char *)a, slot, &mid));
    OK(mpart_delete(mid));
    errno = 0;
    assert_int_equal(mpart_create((char *)a, slot + 16, &mid), -1); /* into b's slot */
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(mpart_create((char *)a - HDR, 1024, &mid), -1); /* the header */
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(mpart_create((char *)b + slot, 1024, &mid), -1); /* a free slot */
    assert_int_equal(errno, EINVAL);
    OK(gjbmem_free(b));
    OK(gjbmem_free(a));
    valid();
}

/* --- realloc -------------------------------------------------------------------------- */

static void realloc_in_and_out(void **state)
{
    (void)state;
    slabs_only();
    unsigned char *p = gjbmem_malloc(3000);
    assert_non_null(p);
    paint(p, 3000, 1);
    errno = SENTINEL;
    assert_null(gjbmem_realloc(p, SIZE_MAX)); /* refused: the slot stays as it is */
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(hook_calls, 0);
    assert_true(painted(p, 3000, 1));
    assert_ptr_equal(gjbmem_realloc(p, 3070), p); /* the same class */
    assert_ptr_equal(gjbmem_realloc(p, 2000), p); /* half of it still takes a slot */
    unsigned char *q = gjbmem_realloc(p, 1000);   /* below the slabs: moved */
    assert_non_null(q);
    assert_true(painted(q, 1000, 1));
    unsigned char *r = gjbmem_realloc(q, 20000); /* back into a slab */
    assert_non_null(r);
    assert_int_equal(gjbmem_usable_size(r), class_size(20000));
    assert_true(painted(r, 1000, 1));
    paint(r, 20000, 2);
    unsigned char *s = gjbmem_realloc(r, 300 * KiB); /* a direct mapping */
    assert_non_null(s);
    assert_true(painted(s, 20000, 2));
    unsigned char *t = gjbmem_realloc(s, 40000);
    assert_non_null(t);
    assert_true(painted(t, 20000, 2));
    valid();
    errno = SENTINEL;
    assert_null(gjbmem_realloc(t, 0)); /* frees */
    assert_int_equal(stats().heap.alloc_blocks, 0);
    unsigned char *z = gjbmem_calloc(1, 7000); /* a slot: cleared */
    assert_non_null(z);
    for (size_t i = 0; i < 7000; i++)
        assert_int_equal(z[i], 0);
    OK(gjbmem_free(z));
    valid();
}

/* --- model-based random sequence ------------------------------------------------------ */

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

struct live {
    unsigned char *p;
    size_t n;
    unsigned seed;
};

/* Random requests of 1 byte to 128 KiB (half of them in the slabs' range),
 * freed, reallocated and checked against the model of what each block
 * holds; the heap validates every 64 steps and the counts agree. */
static void random_against_a_model(void **state)
{
    (void)state;
    slabs_only();
    enum { LIVE = 400, STEPS = 20000 };
    static struct live m[LIVE];
    size_t base_blocks = stats().heap.alloc_blocks, nlive = 0;
    for (unsigned step = 0; step < STEPS; step++) {
        unsigned i = (unsigned)(next_rand() % LIVE);
        uint64_t r = next_rand();
        size_t n = r & 1 ? 1025 + (size_t)(r >> 8) % (64 * KiB - 1024)
                         : 1 + (size_t)(r >> 8) % (128 * KiB);
        if (!m[i].p) {
            m[i].p = gjbmem_malloc(n);
            assert_non_null(m[i].p);
            m[i].n = n;
            m[i].seed = step;
            paint(m[i].p, n, step);
            nlive++;
        } else if (r & 2) {
            assert_true(painted(m[i].p, m[i].n, m[i].seed));
            unsigned char *q = gjbmem_realloc(m[i].p, n);
            assert_non_null(q);
            assert_true(painted(q, n < m[i].n ? n : m[i].n, m[i].seed));
            m[i].p = q;
            m[i].n = n;
            m[i].seed = step;
            paint(q, n, step);
        } else {
            assert_true(painted(m[i].p, m[i].n, m[i].seed));
            assert_true(gjbmem_usable_size(m[i].p) >= m[i].n);
            OK(gjbmem_free(m[i].p));
            m[i].p = NULL;
            nlive--;
        }
        if (step % 64 == 0) {
            valid();
            assert_int_equal(stats().heap.alloc_blocks + stats().direct_blocks, base_blocks + nlive);
        }
    }
    for (unsigned i = 0; i < LIVE; i++)
        if (m[i].p) {
            assert_true(painted(m[i].p, m[i].n, m[i].seed));
            OK(gjbmem_free(m[i].p));
            m[i].p = NULL;
        }
    valid();
    assert_int_equal(stats().heap.alloc_blocks, base_blocks);
}

/* --- threads and fork ------------------------------------------------------------------ */

enum { T_ROUNDS = 3000, T_SLOTS = 64 };
static void *volatile handed[2][T_SLOTS];

/* Thread k allocates slots and frees those thread 1 - k left in its array. */
static void *worker(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    uint64_t x = 88172645463325252ULL + k;
    for (unsigned r = 0; r < T_ROUNDS; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned i = (unsigned)(x % T_SLOTS);
        void *mine = gjbmem_malloc(1100 + (size_t)(x >> 20) % 30000);
        if (!mine)
            return (void *)1;
        void *old = __atomic_exchange_n(&handed[k][i], mine, __ATOMIC_ACQ_REL);
        void *theirs = __atomic_exchange_n(&handed[1 - k][i], NULL, __ATOMIC_ACQ_REL);
        if ((old && gjbmem_free(old) != 0) || (theirs && gjbmem_free_cached(theirs) != 0))
            return (void *)2;
    }
    return NULL;
}

static void threads_free_each_others_slots(void **state)
{
    (void)state;
    slabs_only();
    pthread_t t[2];
    for (uintptr_t k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, worker, (void *)k), 0);
    for (int k = 0; k < 2; k++) {
        void *rc;
        assert_int_equal(pthread_join(t[k], &rc), 0);
        assert_null(rc);
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < T_SLOTS; i++)
            if (handed[k][i]) {
                OK(gjbmem_free(handed[k][i]));
                handed[k][i] = NULL;
            }
    valid();
    assert_int_equal(hook_calls, 0);
}

/* A child frees the parent's slots and makes new ones; the parent's are
 * untouched. */
static void fork_child_uses_the_slabs(void **state)
{
    (void)state;
    slabs_only();
    unsigned char *p = gjbmem_malloc(6000);
    assert_non_null(p);
    paint(p, 6000, 5);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int bad = gjbmem_free(p) != 0;
        void *q = gjbmem_malloc(6000), *r = gjbmem_malloc(9000);
        bad |= !q || !r || gjbmem_sysheap_validate() != 0;
        bad |= gjbmem_free(q) != 0 || gjbmem_free(r) != 0 || gjbmem_sysheap_validate() != 0;
        _exit(bad);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(painted(p, 6000, 5));
    OK(gjbmem_free(p));
    valid();
}

/* --- policy and limit ----------------------------------------------------------------- */

/* A live slot is a live block: heap_mem_init refuses to switch; once it is
 * freed the slab is gone and FIRST_FIT has no slabs. */
static void heap_mem_init_sees_slots(void **state)
{
    (void)state;
    slabs_only();
    void *p = gjbmem_malloc(5000);
    assert_non_null(p);
    errno = 0;
    assert_int_equal(heap_mem_init(FIRST_FIT_ALLOCATION), -1);
    assert_int_equal(errno, EBUSY);
    OK(gjbmem_free(p));
    OK(heap_mem_init(FIRST_FIT_ALLOCATION));
    void *q = gjbmem_malloc(5000); /* a block with its header word */
    assert_non_null(q);
    assert_true(gjbmem_usable_size(q) < 5000 + 32);
    OK(gjbmem_free(q));
    OK(heap_mem_init(BUDDY_ALLOCATION));
    void *r = gjbmem_malloc(5000);
    assert_non_null(r);
    assert_int_equal(gjbmem_usable_size(r), class_size(5000));
    OK(gjbmem_free(r));
    valid();
}

/* A limit that leaves no room for a slab: a request of the range gets a
 * buddy block of its own. In a child, whose heap cannot grow: every free
 * block of 64 KiB or more is taken, then one 64 KiB block given back; a
 * request whose class has 1 MiB slabs (40,000 bytes: 40,960-byte slots)
 * takes that block. */
static void no_room_for_a_slab(void **state)
{
    (void)state;
    slabs_only();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct gjbmem_sysheap_stats st;
        int bad = gjbmem_sysheap_stats(&st) != 0 || gjbmem_sysheap_set_limit(st.port_bytes) != 0;
        enum { MAX = 4096 };
        static void *held[MAX];
        static const size_t fill[] = {200 * KiB, 100 * KiB, 64 * KiB}; /* no slab's */
        int n = 0;
        for (size_t f = 0; f < 3; f++)
            while (n < MAX && (held[n] = gjbmem_malloc(fill[f])) != NULL)
                n++;
        bad |= n == 0 || n == MAX || gjbmem_usable_size(held[n - 1]) != 64 * KiB;
        bad |= gjbmem_free(held[--n]) != 0;
        void *p = gjbmem_malloc(40000);
        bad |= !p || p != held[n] || gjbmem_usable_size(p) != 64 * KiB;
        bad |= gjbmem_sysheap_validate() != 0 || gjbmem_free(p) != 0;
        while (n > 0)
            bad |= gjbmem_free(held[--n]) != 0;
        bad |= gjbmem_sysheap_validate() != 0;
        _exit(bad);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(classes_round_up_a_sixteenth, setup, teardown),
        cmocka_unit_test_setup_teardown(power_of_two_classes_keep_their_block, setup, teardown),
        cmocka_unit_test_setup_teardown(slots_count_as_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_pointers_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_header_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(validation_sees_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(partitions_inside_a_slot_only, setup, teardown),
        cmocka_unit_test_setup_teardown(realloc_in_and_out, setup, teardown),
        cmocka_unit_test_setup_teardown(random_against_a_model, setup, teardown),
        cmocka_unit_test_setup_teardown(threads_free_each_others_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(fork_child_uses_the_slabs, setup, teardown),
        cmocka_unit_test_setup_teardown(heap_mem_init_sees_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(no_room_for_a_slab, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
