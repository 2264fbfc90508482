/*
 * test_tools.c - the blocks of partitions and of the system heap as
 * valgrind memcheck and AddressSanitizer see them in a GJBMEM_TOOLS build
 * (src/engine/tools.h). Run by tests/tools_reports.sh, one mode per process:
 *
 *   clean   legitimate work on both policies of both kinds of heap (alloc,
 *           memalign, calloc, realloc growing and shrinking, in place and
 *           moving, usable sizes, several regions, a partition inside a
 *           system-heap block, policy switches, statistics, validation,
 *           mem_show); the tool must report nothing. Contents are checked
 *           byte by byte, so memcheck also sees that realloc keeps them
 *           defined.
 *   reuse   the memory of deleted partitions used again by the program;
 *           nothing to report (needs mpart_delete to retire the heap).
 *   others  one bad access each, in the function of the same name
 *           (dashes for underscores); the tool must report it there.
 *
 * Without a tool watching, every mode exits 0 (the bad access lands in
 * memory the program does not use again before it exits).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gjbext.h>
#include <gjbmem/mpart.h>
#include <gjbmem/sysheap.h>

#define NOINLINE __attribute__((noinline))
#define KIB ((size_t)1024)

static _Alignas(64) char part_mem[64 * KIB];
static _Alignas(64) char part_more[32 * KIB];

static void die(const char *what)
{
    fprintf(stderr, "test_tools: %s\n", what);
    exit(2);
}

static mpart_id make_part(int policy)
{
    mpart_id mid;
    if (mpart_create_ex(part_mem, sizeof part_mem, policy, &mid) != 0)
        die("mpart_create_ex");
    return mid;
}

static void sys_policy(int policy)
{
    if (heap_mem_init(policy) != 0)
        die("heap_mem_init");
}

static char *need(void *p)
{
    if (!p)
        die("allocation failed");
    return p;
}

/* --- one bad access each ------------------------------------------------- */

NOINLINE static void part_ff_overflow(void)
{
    volatile char *p = need(mpart_alloc(make_part(FIRST_FIT_ALLOCATION), 24));
    p[24] = 1; /* inside the block's slack */
}

NOINLINE static void part_ff_uaf(void)
{
    mpart_id mid = make_part(FIRST_FIT_ALLOCATION);
    volatile char *p = need(mpart_alloc(mid, 24));
    mpart_free(mid, (char *)p);
    p[0] = 1;
}

NOINLINE static void part_ff_memalign_overflow(void)
{
    volatile char *p = need(mpart_memalign(make_part(FIRST_FIT_ALLOCATION), 256, 100));
    p[100] = 1;
}

NOINLINE static void part_ff_realloc_overflow(void)
{
    mpart_id mid = make_part(FIRST_FIT_ALLOCATION);
    char *p = need(mpart_alloc(mid, 200));
    memset(p, 1, 200);
    volatile char *q = need(mpart_realloc(mid, p, 40)); /* shrinks in place */
    q[40] = 1;
}

NOINLINE static void part_buddy_overflow(void)
{
    volatile char *p = need(mpart_alloc(make_part(BUDDY_ALLOCATION), 24));
    p[24] = 1; /* the block has 32 bytes */
}

NOINLINE static void part_buddy_uaf(void)
{
    mpart_id mid = make_part(BUDDY_ALLOCATION);
    volatile char *p = need(mpart_alloc(mid, 24));
    mpart_free(mid, (char *)p);
    p[8] = 1;
}

NOINLINE static void part_buddy_read_after_free(void)
{
    mpart_id mid = make_part(BUDDY_ALLOCATION);
    volatile char *p = need(mpart_alloc(mid, 100));
    mpart_free(mid, (char *)p);
    if (p[50] == 42)
        puts("?");
}

NOINLINE static void sys_ff_overflow(void)
{
    sys_policy(FIRST_FIT_ALLOCATION);
    volatile char *p = need(gjbmem_malloc(24));
    p[24] = 1;
}

NOINLINE static void sys_ff_uaf(void)
{
    sys_policy(FIRST_FIT_ALLOCATION);
    volatile char *p = need(gjbmem_malloc(24));
    gjbmem_free((char *)p);
    p[0] = 1;
}

NOINLINE static void sys_buddy_overflow(void)
{
    sys_policy(BUDDY_ALLOCATION);
    volatile char *p = need(gjbmem_malloc(24));
    p[24] = 1;
}

NOINLINE static void sys_buddy_uaf(void)
{
    sys_policy(BUDDY_ALLOCATION);
    volatile char *p = need(gjbmem_malloc(24));
    gjbmem_free((char *)p);
    p[0] = 1;
}

NOINLINE static void sys_buddy_realloc_stale(void)
{
    sys_policy(BUDDY_ALLOCATION);
    char *p = need(gjbmem_malloc(24));
    char *next = need(gjbmem_malloc(24)); /* p's buddy: p cannot grow in place */
    memset(p, 1, 24);
    char *q = need(gjbmem_realloc(p, 3000));
    if (q == p)
        die("realloc did not move");
    ((volatile char *)p)[0] = 1; /* the old block */
    gjbmem_free(next);
}

/* --- clean: legitimate work, nothing to report --------------------------- */

struct ops {
    const char *name;
    void *(*alloc)(size_t);
    void *(*memalign)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*free)(void *);
    size_t (*usable)(const void *);
    int (*validate)(void);
    size_t big; /* largest request to try */
};

static mpart_id cur;
static void *p_alloc(size_t n) { return mpart_alloc(cur, n); }
static void *p_memalign(size_t a, size_t n) { return mpart_memalign(cur, a, n); }
static void *p_realloc(void *p, size_t n) { return mpart_realloc(cur, p, n); }
static int p_free(void *p) { return mpart_free(cur, p); }
static size_t p_usable(const void *p) { return mpart_usable_size(cur, p); }
static int p_validate(void) { return mpart_validate(cur); }
static int s_free(void *p) { return gjbmem_free(p); }
static void *s_calloc(size_t n) { return gjbmem_calloc(1, n); }

static const struct ops part_ops = {"partition", p_alloc, p_memalign, p_realloc, p_free,
                                    p_usable, p_validate, 12 * KIB};
static const struct ops sys_ops = {"system heap", gjbmem_malloc, gjbmem_memalign, gjbmem_realloc,
                                   s_free, gjbmem_usable_size, gjbmem_sysheap_validate,
                                   300 * KIB}; /* past GJBMEM_SYSHEAP_DIRECT */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static unsigned char pat(unsigned tag, size_t i)
{
    return (unsigned char)(tag * 31u + i * 7u + (i >> 8));
}

struct blk {
    unsigned char *p;
    size_t n;
    unsigned tag;
};

static void fill(struct blk *b)
{
    for (size_t i = 0; i < b->n; i++)
        b->p[i] = pat(b->tag, i);
}

/* Reads the first n bytes: memcheck complains if any is undefined. */
static void check(const struct ops *o, const struct blk *b, size_t n, const char *when)
{
    for (size_t i = 0; i < n; i++)
        if (b->p[i] != pat(b->tag, i)) {
            fprintf(stderr, "%s: byte %zu of %zu changed %s\n", o->name, i, b->n, when);
            exit(1);
        }
}

static size_t some_size(const struct ops *o)
{
    unsigned k = rnd(100);
    if (k < 70)
        return 1 + rnd(300);
    if (k < 95)
        return 1 + rnd(3000);
    return 1 + rnd((unsigned)o->big);
}

/* Resizes b to n bytes, checks what it kept and fills the rest. */
static void resize(const struct ops *o, struct blk *b, size_t n)
{
    unsigned char *q = o->realloc(b->p, n);
    if (!q) {
        check(o, b, b->n, "by a failed realloc");
        return;
    }
    size_t kept = b->n < n ? b->n : n;
    b->p = q;
    b->n = n;
    check(o, b, kept, "by realloc");
    fill(b);
}

static void churn(const struct ops *o, unsigned ops)
{
    enum { SLOTS = 48 };
    struct blk s[SLOTS] = {{0}};
    for (unsigned k = 0; k < ops; k++) {
        struct blk *b = &s[rnd(SLOTS)];
        if (!b->p) {
            b->n = some_size(o);
            b->tag = k;
            unsigned how = rnd(10);
            b->p = how < 2 ? o->memalign((size_t)1 << (4 + rnd(9)), b->n)
                 : how < 3 && o == &sys_ops ? s_calloc(b->n)
                 : o->alloc(b->n);
            if (b->p && how == 2 && o == &sys_ops)
                for (size_t i = 0; i < b->n; i++)
                    if (b->p[i])
                        die("calloc not zeroed");
            if (b->p)
                fill(b);
        } else if (rnd(3) == 0) {
            size_t n = rnd(2) ? b->n + 1 + rnd(600) : rnd(4) ? 1 + rnd((unsigned)b->n) : some_size(o);
            resize(o, b, n);
        } else if (rnd(8) == 0) {
            size_t u = o->usable(b->p); /* the whole usable size may be used */
            if (u < b->n)
                die("usable size below the request");
            check(o, b, b->n, "before usable");
            memset(b->p, 0x5a, u);
            b->p[u - 1] ^= 1;
            fill(b);
        } else {
            check(o, b, b->n, "before free");
            if (o->free(b->p) != 0)
                die("free refused a block");
            b->p = NULL;
        }
        if (k % 512 == 0 && o->validate() != 0)
            die("validate failed");
    }
    for (unsigned i = 0; i < SLOTS; i++)
        if (s[i].p) {
            check(o, &s[i], s[i].n, "at the end");
            if (o->free(s[i].p) != 0)
                die("free refused a block");
        }
    if (o->validate() != 0)
        die("validate failed");
}

/* The realloc paths one by one, odd sizes (partial granules for ASan). */
static void realloc_paths(const struct ops *o)
{
    struct blk a = {o->alloc(61), 61, 1}, b = {o->alloc(61), 61, 2}, c = {o->alloc(61), 61, 3};
    if (!a.p || !b.p || !c.p)
        die("allocation failed");
    fill(&a), fill(&b), fill(&c);
    check(o, &a, a.n, "a");
    o->free(a.p); /* b's left neighbour is free, its right one is not */
    resize(o, &b, 117);  /* first fit: grows down over a, moving the bytes */
    resize(o, &b, 29);   /* shrinks in place */
    resize(o, &b, 2000); /* moves, or grows into free memory */
    check(o, &c, c.n, "c");
    o->free(c.p);        /* free memory after b */
    resize(o, &b, 2600); /* grows in place into it (or moves) */
    resize(o, &b, 13);
    o->free(b.p);
    struct blk m = {o->memalign(512, 333), 333, 4};
    if (!m.p)
        die("memalign failed");
    fill(&m);
    resize(o, &m, 1000);
    resize(o, &m, 100);
    if ((uintptr_t)m.p % 16)
        die("misaligned");
    o->free(m.p);
}

static void exercise(const struct ops *o, unsigned ops)
{
    realloc_paths(o);
    churn(o, ops);
}

static void partitions(unsigned ops)
{
    for (int policy = FIRST_FIT_ALLOCATION; policy <= BUDDY_ALLOCATION; policy++) {
        cur = make_part(policy);
        exercise(&part_ops, ops);
        if (mpart_addmem(cur, part_more, sizeof part_more) != 0)
            die("mpart_addmem");
        exercise(&part_ops, ops);
        struct partinfo pi;
        size_t max;
        if (mpart_getinfo(cur, &pi) != 0 || mpart_findmaxfree_size(cur, &max) != 0 ||
            mpart_findmaxfree(cur) < 0)
            die("partition statistics");
        if (mpart_delete(cur) != 0)
            die("mpart_delete");

        /* a buffer from the C library's malloc */
        char *mem = malloc(40 * KIB);
        if (!mem || mpart_create_ex(mem, 40 * KIB, policy, &cur) != 0)
            die("partition in malloc'd memory");
        exercise(&part_ops, ops / 2);
        if (mpart_delete(cur) != 0)
            die("mpart_delete");
        free(mem);

        /* a partition inside a block of the system heap */
        char *blk = need(gjbmem_malloc(48 * KIB));
        if (mpart_create_ex(blk, 48 * KIB, policy, &cur) != 0)
            die("partition in a system-heap block");
        exercise(&part_ops, ops / 2);
        if (mpart_delete(cur) != 0)
            die("mpart_delete");
        gjbmem_free(blk);
    }
}

static void system_heap(unsigned ops)
{
    const int order[] = {FIRST_FIT_ALLOCATION, BUDDY_ALLOCATION, FIRST_FIT_ALLOCATION};
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++) {
        sys_policy(order[i]); /* the heap is empty: rebuilt over the same memory */
        exercise(&sys_ops, ops);
        struct meminfo mi;
        struct gjbmem_sysheap_stats st;
        if (mem_getinfo(&mi) != 0 || gjbmem_sysheap_stats(&st) != 0 || mem_findmax() < 0)
            die("system heap statistics");
        if (st.policy != order[i])
            die("policy not switched");
    }
}

static int clean(void)
{
    partitions(1500);
    system_heap(2500);
    cur = make_part(FIRST_FIT_ALLOCATION);
    char *p = need(mpart_alloc(cur, 100));
    char *q = need(gjbmem_malloc(100));
    mem_show(); /* walks every heap */
    mpart_free(cur, p);
    gjbmem_free(q);
    if (mpart_delete(cur) != 0)
        die("mpart_delete");
    puts("clean: done");
    return 0;
}

/* --- reuse: memory of deleted partitions ---------------------------------- */

static unsigned sum(const char *m, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += (unsigned char)m[i];
    return s;
}

static int reuse(void)
{
    for (int policy = FIRST_FIT_ALLOCATION; policy <= BUDDY_ALLOCATION; policy++) {
        cur = make_part(policy);
        char *p = need(mpart_alloc(cur, 500));
        memset(p, 1, 500);
        mpart_free(cur, p);
        if (mpart_delete(cur) != 0)
            die("mpart_delete");
        memset(part_mem, policy, sizeof part_mem); /* the program's memory again */
        if (sum(part_mem, sizeof part_mem) != (unsigned)policy * sizeof part_mem)
            die("sum");
    }
    char *blk = need(gjbmem_malloc(16 * KIB));
    if (mpart_create(blk, 16 * KIB, &cur) != 0)
        die("mpart_create");
    if (mpart_delete(cur) != 0)
        die("mpart_delete");
    memset(blk, 7, 16 * KIB); /* still the program's system-heap block */
    if (sum(blk, 16 * KIB) != 7u * 16 * KIB)
        die("sum");
    gjbmem_free(blk);
    puts("reuse: done");
    return 0;
}

/* --- modes ------------------------------------------------------------------ */

static const struct {
    const char *name;
    void (*fn)(void);
} bad[] = {
    {"part-ff-overflow", part_ff_overflow},
    {"part-ff-uaf", part_ff_uaf},
    {"part-ff-memalign-overflow", part_ff_memalign_overflow},
    {"part-ff-realloc-overflow", part_ff_realloc_overflow},
    {"part-buddy-overflow", part_buddy_overflow},
    {"part-buddy-uaf", part_buddy_uaf},
    {"part-buddy-read-after-free", part_buddy_read_after_free},
    {"sys-ff-overflow", sys_ff_overflow},
    {"sys-ff-uaf", sys_ff_uaf},
    {"sys-buddy-overflow", sys_buddy_overflow},
    {"sys-buddy-uaf", sys_buddy_uaf},
    {"sys-buddy-realloc-stale", sys_buddy_realloc_stale},
};

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "clean"))
        return clean();
    if (!strcmp(mode, "reuse"))
        return reuse();
    if (!strcmp(mode, "list")) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            puts(bad[i].name);
        return 0;
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!strcmp(mode, bad[i].name)) {
            bad[i].fn();
            printf("%s: not stopped\n", mode);
            return 0;
        }
    fprintf(stderr, "usage: test_tools clean|reuse|list|<bad mode from list>\n");
    return 2;
}
