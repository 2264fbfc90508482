/*
 * test_errpolicy.c - the error policies of partitions (mpart_set_error_policy)
 * and of the system heap (gjbmem_sysheap_set_error_policy), from
 * gjbmem/errpolicy.h: argument errors; the default (RETURN: fail, nothing
 * else); HOOK (one report per misuse with the right fields, the call still
 * failing as documented, no lock held while the hook runs); damaged metadata
 * (corrupt reports from mpart_validate, mpart_free, mpart_realloc and, for
 * BUDDY, an allocation meeting a damaged free-list link); LOG (the exact
 * line on stderr); ABORT (in forked children: SIGABRT after the log line,
 * nothing for good calls); the policy belonging to one partition; and the
 * system heap's reports (heap 0).
 *
 * The partition tests run twice: FIRST_FIT (mpart_create) and BUDDY
 * (mpart_create_ex). Damage is done only to partition buffers declared here,
 * and repaired before anything is asserted, so that a failing assertion
 * leaves a partition the teardown can delete. The system heap is damaged
 * only in forked children. Metadata and guard bytes are read and written
 * through meta_copy, so that GJBMEM_TOOLS builds (where valgrind and ASan
 * are told that memory is inaccessible) do not count the deliberate damage
 * as an error. broken_guard_is_reported runs at GJBMEM_HARDENING >= 2 only.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/errpolicy.h>
#include <gjbmem/mpart.h>
#include <gjbmem/posix.h>
#include <gjbmem/sysheap.h>

#if GJBMEM_TOOLS
#include <valgrind/memcheck.h>
#endif

#include "engine/buddy.h"
#include "errno_asserts.h"

#define GRAIN ((uintptr_t)_Alignof(max_align_t))

/* Partition memory (distinct buffers: partitions never overlap). Aligned so
 * that the heap descriptor sits at the buffer's start. */
static _Alignas(65536) char buf_a[65536];
static _Alignas(65536) char buf_b[65536];
static _Alignas(4096) char buf_c[16384];

static const int first_fit = FIRST_FIT_ALLOCATION, buddy = BUDDY_ALLOCATION;

static int policy_of(void **state)
{
    return *(const int *)*state;
}

/* --- partitions the current test owns ------------------------------------ */

static mpart_id live[8];
static int nlive;

static void valid(mpart_id mid)
{
    assert_int_equal(mpart_validate(mid), 0);
}

static mpart_id make(int policy, char *buf, size_t size)
{
    mpart_id mid = 0;
    if (policy == FIRST_FIT_ALLOCATION)
        OK(mpart_create(buf, size, &mid));
    else
        OK(mpart_create_ex(buf, size, policy, &mid));
    assert_true(mid != 0);
    assert_true(nlive < (int)(sizeof live / sizeof live[0]));
    live[nlive++] = mid;
    valid(mid);
    return mid;
}

static void drop(mpart_id mid)
{
    OK(mpart_delete(mid));
    for (int i = 0; i < nlive; i++)
        if (live[i] == mid)
            live[i] = live[--nlive];
}

static char *alloc_ok(mpart_id mid, size_t n)
{
    errno = SENTINEL;
    char *p = mpart_alloc(mid, n);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL);
    return p;
}

static void fill(char *p, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(seed + (int)i);
}

static void expect(const char *p, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal((unsigned char)p[i], (unsigned char)(char)(seed + (int)i));
}

/* --- the hook's records --------------------------------------------------- */

#define MAXREP 8

struct rec {
    int n;                        /* reports received */
    struct gjbmem_error e[MAXREP]; /* the first MAXREP of them */
    void *arg[MAXREP];            /* the arg each came with */
    long err_size[MAXREP];        /* size of the stderr file when it came (-1: not a file) */
};

static struct rec rec_a, rec_b, rec_s;
static const char *cur_bad; /* the bad pointer being tried, for failure messages */

static void hook(const struct gjbmem_error *e, void *arg)
{
    struct rec *r = arg;
    if (r->n < MAXREP) {
        struct stat st;
        r->e[r->n] = *e;
        r->arg[r->n] = arg;
        r->err_size[r->n] = fstat(2, &st) == 0 && S_ISREG(st.st_mode) ? (long)st.st_size : -1;
    }
    r->n++;
}

static void reset(struct rec *r)
{
    memset(r, 0, sizeof *r);
}

/* Report i of r (a record, or a copy of one: origin) is (heap, call,
 * error, corrupt, addr) and came with arg origin. */
static void report_is(const struct rec *r, const struct rec *origin, int i, unsigned long heap,
                      const char *call, int error, int corrupt, const void *addr)
{
    assert_true(i < r->n && i < MAXREP);
    assert_ptr_equal(r->arg[i], origin);
    assert_int_equal(r->e[i].heap, heap);
    assert_non_null(r->e[i].call);
    assert_string_equal(r->e[i].call, call);
    assert_int_equal(r->e[i].error, error);
    assert_int_equal(r->e[i].corrupt, corrupt);
    assert_ptr_equal(r->e[i].addr, addr);
}

/* r received exactly one report, (heap, call, ...); r is then cleared. */
static void one_report(struct rec *r, unsigned long heap, const char *call, int error, int corrupt,
                       const void *addr)
{
    assert_int_equal(r->n, 1);
    report_is(r, r, 0, heap, call, error, corrupt, addr);
    reset(r);
}

/* --- capturing stderr (file descriptor 2) --------------------------------- */

static int cap_saved = -1;
static FILE *cap_tmp;
static char cap_text[4096];

static void cap_begin(void)
{
    assert_int_equal(cap_saved, -1);
    fflush(stderr);
    cap_tmp = tmpfile();
    assert_non_null(cap_tmp);
    cap_saved = dup(2);
    assert_true(cap_saved >= 0);
    assert_true(dup2(fileno(cap_tmp), 2) == 2);
}

/* Restores stderr; returns what was written to it meanwhile. */
static const char *cap_end_quiet(void)
{
    cap_text[0] = 0;
    if (cap_saved < 0)
        return cap_text;
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    cap_saved = -1;
    ssize_t n = pread(fileno(cap_tmp), cap_text, sizeof cap_text - 1, 0);
    cap_text[n > 0 ? n : 0] = 0;
    fclose(cap_tmp);
    cap_tmp = NULL;
    return cap_text;
}

static const char *cap_end(void)
{
    assert_true(cap_saved >= 0);
    return cap_end_quiet();
}

static const char *line_for(const char *call, unsigned long mid, const void *addr, bool corrupt);

/* --- test fixtures ---------------------------------------------------------- */

static char *libc_block; /* a block of libc's malloc (a foreign pointer) */

static int teardown(void **state)
{
    (void)state;
    free(libc_block);
    libc_block = NULL;
    gjbmem_posix_set_isr(0);
    if (cur_bad) /* a test failed while trying this bad pointer */
        print_message("(failed at the bad pointer: %s)\n", cur_bad);
    cur_bad = NULL;
    if (cap_saved >= 0) { /* a failure while stderr was captured: show it */
        const char *t = cap_end_quiet();
        fputs(t, stderr);
    }
    (void)gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL);
    while (nlive > 0) {
        mpart_id mid = live[--nlive];
        (void)mpart_set_error_policy(mid, GJBMEM_ERR_RETURN, NULL, NULL);
        if (mpart_delete(mid) != 0) { /* a failed test left blocks: offer every unit */
            char *bufs[] = {buf_a, buf_b, buf_c};
            size_t sizes[] = {sizeof buf_a, sizeof buf_b, sizeof buf_c};
            for (int b = 0; b < 3; b++)
                for (size_t off = 0; off < sizes[b]; off += GRAIN)
                    (void)mpart_free(mid, bufs[b] + off);
            (void)mpart_delete(mid);
        }
    }
    reset(&rec_a);
    reset(&rec_b);
    reset(&rec_s);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    libc_block = malloc(64);
    if (!libc_block)
        return -1;
    reset(&rec_a);
    reset(&rec_b);
    reset(&rec_s);
    return 0;
}

/* --- bad pointers ----------------------------------------------------------- */

/* Bad pointers for one partition, each with what it is. */
struct bad {
    char *ptr[8];
    const char *what[8];
    int n;
};

static _Alignas(64) char static_area[128];

static void add_bad(struct bad *b, char *p, const char *what)
{
    b->ptr[b->n] = p;
    b->what[b->n] = what;
    b->n++;
}

/* --- 4. damaged metadata -------------------------------------------------------- */

/* Reads or writes n bytes of the library's metadata, or of a block past
 * what was asked (a guard): memory that valgrind and ASan are told is
 * inaccessible in GJBMEM_TOOLS builds, touched here on purpose. */
#if defined(__SANITIZE_ADDRESS__)
#define NO_ASAN __attribute__((no_sanitize("address")))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_ASAN __attribute__((no_sanitize("address")))
#endif
#endif
#ifndef NO_ASAN
#define NO_ASAN
#endif

static NO_ASAN __attribute__((noinline)) void meta_copy(void *dst, const void *src, size_t n)
{
#if GJBMEM_TOOLS
    VALGRIND_DISABLE_ERROR_REPORTING;
#endif
    volatile unsigned char *d = dst;
    const volatile unsigned char *from = src;
    for (size_t i = 0; i < n; i++)
        d[i] = from[i];
#if GJBMEM_TOOLS
    VALGRIND_ENABLE_ERROR_REPORTING;
#endif
}

static void meta_set(void *dst, unsigned char c, size_t n)
{
    unsigned char buf[64];
    assert_true(n <= sizeof buf);
    memset(buf, c, n);
    meta_copy(dst, buf, n);
}

static unsigned char meta_byte(const void *src)
{
    unsigned char c;
    meta_copy(&c, src, 1);
    return c;
}

/* A piece of damage done to partition memory, and how to undo it. */
struct damage {
    void *where;
    size_t saved; /* the bytes there before (one word, or one byte for a tag) */
    size_t width;
    char *blocks[2]; /* blocks to free after the repair */
};

static void repair(struct damage *d)
{
    meta_copy(d->where, &d->saved, d->width);
}

static gjb_heap *heap_of(char *buf)
{
    gjb_heap *h = (gjb_heap *)(void *)buf; /* buf is aligned: the descriptor starts it */
    uint32_t magic;
    meta_copy(&magic, &h->magic, sizeof magic);
    assert_int_equal(magic, GJB_MAGIC);
    return h;
}

/* The buddy tag of the unit at p (first region). */
static unsigned char *tag_of(gjb_heap *h, const void *p)
{
    struct gjb_region r;
    meta_copy(&r, &h->hot, sizeof r);
    return (unsigned char *)h + r.end + (size_t)((const char *)p - (char *)h - r.first) / GJB_BU;
}

/* Damage that a pointer check meets: FIRST_FIT: the header word before
 * block p zeroed; BUDDY: p's tag set to an order beyond any block. */
static void damage_block(int policy, char *buf, char *p, struct damage *d)
{
    if (policy == FIRST_FIT_ALLOCATION) {
        d->where = p - GJB_W;
        d->width = sizeof(size_t);
    } else {
        d->where = tag_of(heap_of(buf), p);
        d->width = 1;
    }
    d->saved = 0;
    meta_copy(&d->saved, d->where, d->width);
    meta_set(d->where, policy == FIRST_FIT_ALLOCATION ? 0 : 0x3f, d->width);
}

/* A request that takes a 32-byte buddy block, with a guard word too. */
#define SMALL 16

/* BUDDY partition a (heap h): allocates the 32-byte blocks already free
 * (the carving may leave one at the low end of the block area), which stay
 * allocated, so that the next allocations of SMALL bytes split a larger
 * block into buddies. */
static void take_free_units(mpart_id a, gjb_heap *h)
{
    for (;;) {
        uint64_t map;
        meta_copy(&map, &h->map, sizeof map);
        if (!(map & 1))
            return;
        (void)alloc_ok(a, SMALL);
    }
}

/* BUDDY: frees x, a 32-byte block whose buddy stays allocated, so that x
 * heads the list of order 0, and writes over its forward link (a write
 * after free): the next allocation of SMALL bytes meets it. x and y are
 * buddies because x's allocation splits a larger block: the 32-byte blocks
 * already free (the carving may leave one at the low end of the block
 * area, listed first) are taken first and stay allocated. */
static void damage_buddy_link(mpart_id a, char *buf, struct damage *d)
{
    gjb_heap *h = heap_of(buf);
    take_free_units(a, h);
    char *x = alloc_ok(a, SMALL), *y = alloc_ok(a, SMALL);
    assert_ptr_equal(y, x + 32); /* buddies */
    OK(mpart_free(a, x));
    intptr_t head0; /* BUDDY's list heads are the descriptor's lists */
    meta_copy(&head0, &h->lists[0], sizeof head0);
    assert_int_equal(head0, x - (char *)h);
    assert_int_equal(meta_byte(tag_of(h, x)), BD_TAG_FREE | 1);
    valid(a);
    d->where = x; /* struct { intptr_t next, prev; } */
    d->width = sizeof(intptr_t);
    meta_copy(&d->saved, x, sizeof(intptr_t));
    intptr_t not_a_block = 8;
    meta_copy(x, &not_a_block, sizeof not_a_block);
    d->blocks[0] = y;
    d->blocks[1] = NULL;
}

/* --- 1. argument errors ------------------------------------------------------ */

static const mpart_id never_issued[] = {
    0, 1, 2, 0xff, 0x100, 0x12345, 0xdeadbeef, (mpart_id)LONG_MAX, ULONG_MAX - 1, ULONG_MAX,
    (mpart_id)1 << 9, (mpart_id)3 << 9, /* slot field 0 (ids name slot + 1) */
};

static void set_policy_argument_errors(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    char local[64];

    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK, hook, &rec_a));

    /* Unknown flag bits, alone or with known ones, with or without a hook. */
    const unsigned unknown[] = {0x8u, 0x10u, 0x80000000u, ~0u, GJBMEM_ERR_ALL + 1,
                                GJBMEM_ERR_HOOK | 0x8u, GJBMEM_ERR_LOG | 0x100u};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        FAILS(mpart_set_error_policy(a, unknown[i], hook, &rec_b), EINVAL);
        FAILS(mpart_set_error_policy(a, unknown[i], NULL, NULL), EINVAL);
    }
    /* HOOK without a hook. */
    FAILS(mpart_set_error_policy(a, GJBMEM_ERR_HOOK, NULL, &rec_b), EINVAL);
    FAILS(mpart_set_error_policy(a, GJBMEM_ERR_HOOK | GJBMEM_ERR_LOG, NULL, NULL), EINVAL);
    FAILS(mpart_set_error_policy(a, GJBMEM_ERR_ALL, NULL, NULL), EINVAL);

    /* Ids never issued, the right slot with another generation, a stale id. */
    for (size_t i = 0; i < sizeof never_issued / sizeof never_issued[0]; i++) {
        if (never_issued[i] == a)
            continue;
        FAILS(mpart_set_error_policy(never_issued[i], GJBMEM_ERR_HOOK, hook, &rec_b),
              ERROR_KERNEL_HANDLE_NULL);
        FAILS(mpart_set_error_policy(never_issued[i], GJBMEM_ERR_RETURN, NULL, NULL),
              ERROR_KERNEL_HANDLE_NULL);
    }
    FAILS(mpart_set_error_policy(a + 0x100, GJBMEM_ERR_RETURN, NULL, NULL),
          ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_set_error_policy(a - 0x100, GJBMEM_ERR_RETURN, NULL, NULL),
          ERROR_KERNEL_HANDLE_NULL);
    mpart_id gone = make(policy, buf_b, sizeof buf_b);
    OK(mpart_set_error_policy(gone, GJBMEM_ERR_HOOK, hook, &rec_b));
    drop(gone);
    FAILS(mpart_set_error_policy(gone, GJBMEM_ERR_HOOK, hook, &rec_b), ERROR_KERNEL_HANDLE_NULL);
    FAILS(mpart_set_error_policy(gone, GJBMEM_ERR_RETURN, NULL, NULL), ERROR_KERNEL_HANDLE_NULL);

    /* Interrupt context, with arguments that are otherwise right. */
    gjbmem_posix_set_isr(1);
    errno = 0;
    int rc = mpart_set_error_policy(a, GJBMEM_ERR_RETURN, NULL, NULL);
    int err = errno;
    errno = 0;
    int rc2 = mpart_set_error_policy(a, GJBMEM_ERR_LOG | GJBMEM_ERR_HOOK, hook, &rec_b);
    int err2 = errno;
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_KERNEL_IN_ISR);
    assert_int_equal(rc2, -1);
    assert_int_equal(err2, ERROR_KERNEL_IN_ISR);

    /* None of the failed calls changed a's policy: still HOOK to rec_a. */
    FAILS(mpart_free(a, local), ERROR_REGION_NULL);
    one_report(&rec_a, a, "mpart_free", ERROR_REGION_NULL, 0, local);
    assert_int_equal(rec_b.n, 0);

    /* Every known combination is accepted; RETURN ignores a hook given. */
    const unsigned good[] = {GJBMEM_ERR_RETURN, GJBMEM_ERR_LOG, GJBMEM_ERR_ABORT,
                             GJBMEM_ERR_LOG | GJBMEM_ERR_ABORT};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        OK(mpart_set_error_policy(a, good[i], NULL, NULL));
        OK(mpart_set_error_policy(a, good[i], hook, &rec_b));
    }
    OK(mpart_set_error_policy(a, GJBMEM_ERR_ALL, hook, &rec_b));
    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK | GJBMEM_ERR_ABORT, hook, &rec_b));
    OK(mpart_set_error_policy(a, GJBMEM_ERR_RETURN, hook, &rec_b));
    cap_begin();
    errno = 0;
    rc = mpart_free(a, local);
    err = errno;
    const char *out = cap_end();
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_REGION_NULL);
    assert_string_equal(out, "");
    assert_int_equal(rec_a.n, 0);
    assert_int_equal(rec_b.n, 0);
    valid(a);
}

static void sysheap_set_policy_argument_errors(void **state)
{
    (void)state;
    char local[64];
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, &rec_s));

    const unsigned unknown[] = {0x8u, 0x10u, 0x80000000u, ~0u, GJBMEM_ERR_ALL + 1,
                                GJBMEM_ERR_HOOK | 0x8u};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        FAILS(gjbmem_sysheap_set_error_policy(unknown[i], hook, &rec_b), EINVAL);
        FAILS(gjbmem_sysheap_set_error_policy(unknown[i], NULL, NULL), EINVAL);
    }
    FAILS(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, NULL, &rec_b), EINVAL);
    FAILS(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK | GJBMEM_ERR_LOG, NULL, NULL), EINVAL);
    FAILS(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_ALL, NULL, NULL), EINVAL);

    /* The failed calls left the policy alone. */
    FAILS(gjbmem_free(local), EINVAL);
    one_report(&rec_s, 0, "gjbmem_free", EINVAL, 0, local);
    assert_int_equal(rec_b.n, 0);

    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_LOG | GJBMEM_ERR_ABORT, NULL, NULL));
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_ALL, hook, &rec_b));
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, hook, &rec_b)); /* hook ignored */
    cap_begin();
    errno = 0;
    int rc = gjbmem_free(local);
    int err = errno;
    const char *out = cap_end();
    assert_int_equal(rc, -1);
    assert_int_equal(err, EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(rec_b.n, 0);
    assert_int_equal(rec_s.n, 0);
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL));
}

/* --- 2. the default policy ---------------------------------------------------- */

/* Bad pointers for partition a: a stack, a static and a malloc pointer, a
 * block of partition other, interior pointers of p, a freed block, a's own
 * descriptor. */
static void bad_pointers(struct bad *b, char *stack, char *heap, char *other, char *p,
                         char *freed, char *part_buf)
{
    b->n = 0;
    add_bad(b, stack, "stack");
    add_bad(b, static_area + 64, "static");
    add_bad(b, heap, "libc malloc");
    add_bad(b, other, "another partition's block");
    add_bad(b, p + GRAIN, "interior, aligned");
    add_bad(b, p + 1, "interior, unaligned");
    add_bad(b, freed, "already freed");
    add_bad(b, part_buf + GRAIN, "the partition's descriptor");
}

static void default_policy_only_fails(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    mpart_id b = make(policy, buf_b, sizeof buf_b);
    OK(mpart_set_error_policy(b, GJBMEM_ERR_HOOK, hook, &rec_b));
    _Alignas(16) char stack[64];
    char *heap = libc_block;
    char *p = alloc_ok(a, 100), *q = alloc_ok(a, 200), *gone = alloc_ok(a, 64);
    char *other = alloc_ok(b, 64);
    fill(p, 100, 1);
    fill(q, 200, 2);
    OK(mpart_free(a, gone));
    struct partinfo before, after;
    OK(mpart_getinfo(a, &before));

    struct bad bad;
    bad_pointers(&bad, stack, heap, other, p, gone, buf_a);
    int rc[8], err[8], rrc[8];
    void *rp[8];
    cap_begin();
    for (int i = 0; i < bad.n; i++) {
        errno = 0;
        rc[i] = mpart_free(a, bad.ptr[i]);
        err[i] = errno;
        errno = 0;
        rp[i] = mpart_realloc(a, bad.ptr[i], 32);
        rrc[i] = errno;
    }
    const char *out = cap_end();
    for (int i = 0; i < bad.n; i++)
        if (rc[i] != -1 || err[i] != ERROR_REGION_NULL || rp[i] || rrc[i] != EINVAL)
            fail_msg("bad pointer (%s): free %d errno %d, realloc %p errno %d", bad.what[i], rc[i],
                     err[i], rp[i], rrc[i]);
    assert_string_equal(out, ""); /* nothing printed */
    assert_int_equal(rec_b.n, 0); /* b's hook is b's only */
    assert_int_equal(rec_a.n, 0);
    OK(mpart_getinfo(a, &after));
    assert_int_equal(before.used, after.used);
    assert_int_equal(before.free, after.free);
    assert_int_equal(before.segment, after.segment);
    valid(a);
    valid(b);
    expect(p, 100, 1);
    expect(q, 200, 2);
    OK(mpart_free(a, p));
    OK(mpart_free(a, q));
    OK(mpart_free(b, other));
}

/* --- 3. HOOK -------------------------------------------------------------------- */

static void hook_reports_each_bad_free_once(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    mpart_id b = make(policy, buf_b, sizeof buf_b);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK, hook, &rec_a));
    OK(mpart_set_error_policy(b, GJBMEM_ERR_HOOK, hook, &rec_b));
    _Alignas(16) char stack[64];
    char *heap = libc_block;

    /* Good calls never report. */
    char *p = alloc_ok(a, 100), *q = alloc_ok(a, 200), *gone = alloc_ok(a, 64);
    char *m = mpart_memalign(a, 256, 40);
    assert_non_null(m);
    char *other = alloc_ok(b, 64);
    fill(p, 100, 3);
    fill(q, 200, 4);
    char *r = mpart_realloc(a, NULL, 50);
    assert_non_null(r);
    r = mpart_realloc(a, r, 500);
    assert_non_null(r);
    r = mpart_realloc(a, r, 20);
    assert_non_null(r);
    OK(mpart_free(a, r));
    OK(mpart_free(a, m));
    OK(mpart_free(a, gone));
    assert_true(mpart_usable_size(a, p) >= 100);
    struct partinfo before, after;
    OK(mpart_getinfo(a, &before));
    valid(a);
    assert_int_equal(rec_a.n, 0);

    /* Each bad free: one report, and the call fails as without a policy. */
    struct bad bad;
    bad_pointers(&bad, stack, heap, other, p, gone, buf_a);
    for (int i = 0; i < bad.n; i++) {
        cur_bad = bad.what[i];
        FAILS(mpart_free(a, bad.ptr[i]), ERROR_REGION_NULL);
        one_report(&rec_a, a, "mpart_free", ERROR_REGION_NULL, 0, bad.ptr[i]);
        FAILS_NULL(mpart_realloc(a, bad.ptr[i], 32), EINVAL);
        one_report(&rec_a, a, "mpart_realloc", EINVAL, 0, bad.ptr[i]);
    }
    cur_bad = NULL;
    assert_int_equal(rec_b.n, 0); /* never b's hook */
    valid(a);
    valid(b);
    OK(mpart_getinfo(a, &after));
    assert_int_equal(before.used, after.used);
    assert_int_equal(before.free, after.free);
    assert_int_equal(before.segment, after.segment);
    expect(p, 100, 3);
    expect(q, 200, 4);

    /* Errors that are no misuse never report. */
    FAILS(mpart_free(a, NULL), EINVAL);
    FAILS_NULL(mpart_alloc(a, 0), EINVAL);
    FAILS_NULL(mpart_alloc(a, SIZE_MAX / 2), ERROR_REGION_SIZE);
    FAILS_NULL(mpart_memalign(a, 3, 16), ERROR_REGION_ALIGN);
    FAILS_NULL(mpart_realloc(a, p, 0), EINVAL);
    FAILS_NULL(mpart_realloc(a, p, SIZE_MAX / 2), ERROR_REGION_SIZE);
    FAILS(mpart_free(a + 0x100, p), ERROR_KERNEL_HANDLE_NULL);
    char *hold[64]; /* take all but the last bytes: then ENOMEM */
    int nhold = 0;
    for (size_t most = 0; nhold < 64;) {
        OK(mpart_findmaxfree_size(a, &most));
        if (most < 64)
            break;
        hold[nhold++] = alloc_ok(a, most);
    }
    assert_true(nhold < 64);
    FAILS_NULL(mpart_alloc(a, 64), ENOMEM);
    FAILS_NULL(mpart_realloc(a, p, 4096), ENOMEM);
    while (nhold > 0)
        OK(mpart_free(a, hold[--nhold]));
    gjbmem_posix_set_isr(1);
    errno = 0;
    int rc = mpart_free(a, stack);
    int err = errno;
    errno = 0;
    void *rp = mpart_realloc(a, stack, 16);
    int rerr = errno;
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_KERNEL_IN_ISR);
    assert_null(rp);
    assert_int_equal(rerr, ERROR_KERNEL_IN_ISR);
    assert_int_equal(rec_a.n, 0);
    assert_int_equal(rec_b.n, 0);
    expect(p, 100, 3);

    OK(mpart_free(a, p));
    OK(mpart_free(a, q));
    OK(mpart_free(b, other));
    assert_int_equal(rec_a.n, 0);
    assert_int_equal(rec_b.n, 0);
    valid(a);
}

/* A hook that uses the library on the partition it reports on, both from
 * its own thread and from another one (which would wait for ever, and so
 * time out, if a lock of the partition were still held). */
struct probe {
    mpart_id mid;
    int rc;
};
static struct probe probe; /* static: a thread that timed out may still write it */

static void *probe_main(void *arg)
{
    struct probe *pr = arg;
    struct partinfo pi;
    pr->rc = mpart_getinfo(pr->mid, &pi) == 0 ? 0 : 1;
    char *x = mpart_alloc(pr->mid, 24);
    if (!x || mpart_free(pr->mid, x) != 0)
        pr->rc |= 2;
    return NULL;
}

/* 0 when another thread could use mid (or the system heap, mid 0) at once;
 * -1 if it did not finish within 5 s. */
static void *sys_probe_main(void *arg)
{
    struct probe *pr = arg;
    void *x = gjbmem_malloc(24);
    pr->rc = x && gjbmem_free(x) == 0 ? 0 : 4;
    return NULL;
}

static int other_thread_can_use(mpart_id mid)
{
    pthread_t t;
    probe.mid = mid;
    probe.rc = -2;
    if (pthread_create(&t, NULL, mid ? probe_main : sys_probe_main, &probe) != 0)
        return -3;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
        pthread_detach(t);
        return -1;
    }
    return probe.rc;
}

struct reentry {
    int calls;
    int thread_rc;  /* other_thread_can_use */
    int validate;   /* mpart_validate from the hook (bad pointer reports only) */
    int getinfo;    /* mpart_getinfo from the hook */
    int alloc_free; /* 0: mpart_alloc + mpart_free from the hook worked */
};
static struct reentry reentry;

static void reentrant_hook(const struct gjbmem_error *e, void *arg)
{
    static int depth; /* a report from a call made here: counted only */
    struct reentry *r = arg;
    r->calls++;
    if (depth)
        return;
    depth++;
    r->thread_rc = other_thread_can_use(e->heap);
    if (r->thread_rc != 0) { /* a lock is held: calling from here would hang */
        r->getinfo = r->validate = r->alloc_free = -9;
    } else if (e->heap) {
        struct partinfo pi;
        r->getinfo = mpart_getinfo(e->heap, &pi);
        r->validate = e->corrupt ? 0 : mpart_validate(e->heap);
        char *x = mpart_alloc(e->heap, 40);
        r->alloc_free = x && mpart_free(e->heap, x) == 0 ? 0 : -1;
    } else {
        r->getinfo = 0;
        r->validate = gjbmem_sysheap_validate();
        void *x = gjbmem_malloc(40);
        r->alloc_free = x && gjbmem_free(x) == 0 ? 0 : -1;
    }
    depth--;
}

static void expect_reentry(int calls)
{
    assert_int_equal(reentry.calls, calls);
    assert_int_equal(reentry.thread_rc, 0);
    assert_int_equal(reentry.getinfo, 0);
    assert_int_equal(reentry.validate, 0);
    assert_int_equal(reentry.alloc_free, 0);
    memset(&reentry, 0x55, sizeof reentry);
    reentry.calls = 0;
}

static void hook_runs_without_lock(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK, reentrant_hook, &reentry));
    memset(&reentry, 0x55, sizeof reentry);
    reentry.calls = 0;
    char *p = alloc_ok(a, 64);
    FAILS(mpart_free(a, p + GRAIN), ERROR_REGION_NULL);
    expect_reentry(1);
    FAILS_NULL(mpart_realloc(a, p + GRAIN, 100), EINVAL);
    expect_reentry(1);
    OK(mpart_free(a, p));
    FAILS(mpart_free(a, p), ERROR_REGION_NULL);
    expect_reentry(1);
    valid(a);
    assert_int_equal(reentry.calls, 0);

    /* A damage report (validate, free) too. */
    char *q = alloc_ok(a, 64);
    struct damage d;
    damage_block(policy, buf_a, q, &d);
    errno = 0;
    int vrc = mpart_validate(a), verr = errno;
    struct reentry after_validate = reentry;
    memset(&reentry, 0x55, sizeof reentry);
    reentry.calls = 0;
    errno = 0;
    int frc = mpart_free(a, q), ferr = errno;
    struct reentry after_free = reentry;
    repair(&d);
    assert_int_equal(vrc, -1);
    assert_int_equal(verr, ERROR_KERNEL_MEMORY);
    assert_int_equal(frc, -1);
    assert_int_equal(ferr, ERROR_REGION_NULL);
    reentry = after_validate;
    expect_reentry(1);
    reentry = after_free;
    expect_reentry(1);
    valid(a);
    OK(mpart_free(a, q));
}

static void damaged_block_is_reported_as_corrupt(void **state)
{
    int policy = policy_of(state);
    mpart_id z = make(policy, buf_c, sizeof buf_c); /* a in another slot than the first */
    OK(mpart_set_error_policy(z, GJBMEM_ERR_HOOK, hook, &rec_b));
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK, hook, &rec_a));
    char *p = alloc_ok(a, 64), *g = alloc_ok(a, 64);
    fill(g, 64, 5);
    struct damage d;
    damage_block(policy, buf_a, p, &d);

    /* Calls first, repair, then the assertions (a failing one must leave a
     * partition the teardown can delete). */
    errno = 0;
    int vrc = mpart_validate(a), verr = errno;
    errno = 0;
    int frc = mpart_free(a, p), ferr = errno;
    errno = 0;
    void *rp = mpart_realloc(a, p, 1000);
    int rerr = errno;
    gjbmem_posix_set_isr(1); /* in interrupt context: no hook */
    errno = 0;
    int irc = mpart_validate(a), ierr = errno;
    gjbmem_posix_set_isr(0);
    struct rec got = rec_a;
    reset(&rec_a);
    repair(&d);

    assert_int_equal(vrc, -1);
    assert_int_equal(verr, ERROR_KERNEL_MEMORY);
    assert_int_equal(frc, -1);
    assert_int_equal(ferr, ERROR_REGION_NULL);
    assert_null(rp);
    assert_int_equal(rerr, EINVAL);
    assert_int_equal(irc, -1);
    assert_int_equal(ierr, ERROR_KERNEL_MEMORY);
    assert_int_equal(got.n, 3);
    report_is(&got, &rec_a, 0, a, "mpart_validate", ERROR_KERNEL_MEMORY, 1, NULL);
    report_is(&got, &rec_a, 1, a, "mpart_free", ERROR_REGION_NULL, 1, p);
    report_is(&got, &rec_a, 2, a, "mpart_realloc", EINVAL, 1, p);

    /* Repaired: whole again, nothing was written through the damage. */
    valid(a);
    expect(g, 64, 5);
    OK(mpart_free(a, p));
    OK(mpart_free(a, g));
    valid(a);
    valid(z);
    assert_int_equal(rec_a.n, 0);
    assert_int_equal(rec_b.n, 0);
}

static void buddy_damaged_link_found_by_validate(void **state)
{
    (void)state;
    mpart_id a = make(BUDDY_ALLOCATION, buf_a, sizeof buf_a);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK, hook, &rec_a));
    struct damage d;
    damage_buddy_link(a, buf_a, &d);
    errno = 0;
    int vrc = mpart_validate(a), verr = errno;
    struct rec got = rec_a;
    reset(&rec_a);
    repair(&d);
    assert_int_equal(vrc, -1);
    assert_int_equal(verr, ERROR_KERNEL_MEMORY);
    assert_int_equal(got.n, 1);
    report_is(&got, &rec_a, 0, a, "mpart_validate", ERROR_KERNEL_MEMORY, 1, NULL);
    valid(a);
    OK(mpart_free(a, d.blocks[0]));
    valid(a);
}

/*
 * An allocation that meets a damaged BUDDY free-list link reports the
 * damage: one report with call "mpart_alloc", corrupt 1, addr NULL, error
 * the errno the call fails with (not ENOMEM: plenty is free). (A regression
 * test: heap.c once turned the engine's GJB_E_CORRUPT into GJB_E_NOMEM, so
 * no policy ran.)
 */
/* An allocation (memalign: mpart_memalign with the list's block size as
 * the alignment) that meets a damaged link of BUDDY's list. */
static void buddy_damaged_link_case(bool memalign)
{
    mpart_id a = make(BUDDY_ALLOCATION, buf_a, sizeof buf_a);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK, hook, &rec_a));
    struct damage d;
    damage_buddy_link(a, buf_a, &d);
    errno = 0;
    void *p = memalign ? mpart_memalign(a, 2 * SMALL, SMALL) : mpart_alloc(a, SMALL);
    int err = errno;
    struct rec got = rec_a;
    reset(&rec_a);
    repair(&d);
    if (p) /* the damaged list was followed: hand the block back */
        (void)mpart_free(a, p);

    assert_null(p); /* refused: nothing taken from a damaged list */
    const char *call = memalign ? "mpart_memalign" : "mpart_alloc";
    print_message("%s meeting a damaged link: errno %d, %d report(s)\n", call, err, got.n);
    assert_int_equal(got.n, 1);
    report_is(&got, &rec_a, 0, a, call, err, 1, NULL);
    assert_true(err != ENOMEM); /* memory is there; the list is damaged */

    /* Repaired: the allocation now takes the head of the list. */
    valid(a);
    char *x = alloc_ok(a, SMALL);
    assert_ptr_equal(x, d.where);
    OK(mpart_free(a, x));
    OK(mpart_free(a, d.blocks[0]));
    valid(a);
}

static void buddy_alloc_reports_damaged_link(void **state)
{
    (void)state;
    buddy_damaged_link_case(false);
}

static void buddy_memalign_reports_damaged_link(void **state)
{
    (void)state;
    buddy_damaged_link_case(true);
}

/* BUDDY's allocations check the first two blocks of a list before taking
 * one: a head or link that is not on a unit, a unit whose tag is no free
 * block of the order, a next block that does not point back. Each is
 * refused by mpart_alloc and mpart_memalign (not as ENOMEM), nothing is
 * taken, and the list serves again once repaired. */
static void buddy_list_damage_is_refused(void **state)
{
    (void)state;
    mpart_id a = make(BUDDY_ALLOCATION, buf_a, sizeof buf_a);
    gjb_heap *h = heap_of(buf_a);
    take_free_units(a, h);
    char *x1 = alloc_ok(a, SMALL), *y1 = alloc_ok(a, SMALL);
    char *x2 = alloc_ok(a, SMALL), *y2 = alloc_ok(a, SMALL);
    assert_ptr_equal(y1, x1 + 32);
    assert_ptr_equal(y2, x2 + 32);
    OK(mpart_free(a, x1));
    OK(mpart_free(a, x2)); /* list 0: x2, then x1 */
    intptr_t ox1 = x1 - (char *)h, ox2 = x2 - (char *)h, oy1 = y1 - (char *)h,
             oy2 = y2 - (char *)h, head;
    meta_copy(&head, &h->lists[0], sizeof head);
    assert_int_equal(head, ox2);
    valid(a);
    const struct {
        void *where; /* a word: a list head or a block's next or prev link */
        intptr_t value;
    } cases[] = {
        {&h->lists[0], ox2 + (intptr_t)GJB_G}, /* head not on a unit */
        {&h->lists[0], oy1},                   /* head an allocated block */
        {x2, ox1 + (intptr_t)GJB_G},           /* next not on a unit */
        {x2, oy2},                             /* next an allocated block */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int memalign = 0; memalign < 2; memalign++) {
            intptr_t saved;
            meta_copy(&saved, cases[i].where, sizeof saved);
            meta_copy(cases[i].where, &cases[i].value, sizeof saved);
            errno = 0;
            void *p = memalign ? mpart_memalign(a, 32, SMALL) : mpart_alloc(a, SMALL);
            int err = errno;
            meta_copy(cases[i].where, &saved, sizeof saved);
            if (p) /* the damaged list was followed: hand the block back */
                (void)mpart_free(a, p);
            assert_null(p);
            assert_true(err != 0 && err != ENOMEM);
        }
    valid(a);
    /* x1's back link: validation sees it wrong while x1 is second; an
     * allocation does not read it (taking x2 makes x1 the first block,
     * whose back link is not kept) */
    intptr_t saved, zero = 0;
    meta_copy(&saved, x1 + sizeof(intptr_t), sizeof saved);
    meta_copy(x1 + sizeof(intptr_t), &zero, sizeof zero);
    errno = 0;
    assert_int_equal(mpart_validate(a), -1);
    assert_true(errno != 0 && errno != ENOMEM);
    assert_ptr_equal(alloc_ok(a, SMALL), x2);
    valid(a);
    meta_copy(x1 + sizeof(intptr_t), &saved, sizeof saved);
    assert_ptr_equal(alloc_ok(a, SMALL), x1);
    valid(a);
}

/* GJBMEM_HARDENING >= 2: a byte written past the request breaks the block's
 * guard; free, realloc and validate then report damage. Skipped below 2. */
static void broken_guard_is_reported(void **state)
{
    int policy = policy_of(state);
    if (GJBMEM_HARDENING < 2)
        skip();
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_HOOK | GJBMEM_ERR_LOG, hook, &rec_a));
    char *p = alloc_ok(a, 40), *g = alloc_ok(a, 40);
    fill(g, 40, 7);
    assert_int_equal(mpart_usable_size(a, p), 40);
    unsigned char saved = meta_byte(p + 40);
    meta_set(p + 40, 0, 1); /* one byte too far */
    cap_begin();
    errno = 0;
    int vrc = mpart_validate(a), verr = errno;
    errno = 0;
    int frc = mpart_free(a, p), ferr = errno;
    errno = 0;
    void *rp = mpart_realloc(a, p, 80);
    int rerr = errno;
    const char *out = cap_end();
    struct rec got = rec_a;
    reset(&rec_a);
    meta_copy(p + 40, &saved, 1);

    assert_int_equal(vrc, -1);
    assert_int_equal(verr, ERROR_KERNEL_MEMORY);
    assert_int_equal(frc, -1);
    assert_int_equal(ferr, ERROR_REGION_NULL);
    assert_null(rp);
    assert_int_equal(rerr, EINVAL);
    assert_int_equal(got.n, 3);
    report_is(&got, &rec_a, 0, a, "mpart_validate", ERROR_KERNEL_MEMORY, 1, NULL);
    report_is(&got, &rec_a, 1, a, "mpart_free", ERROR_REGION_NULL, 1, p);
    report_is(&got, &rec_a, 2, a, "mpart_realloc", EINVAL, 1, p);
    char want[768];
    snprintf(want, sizeof want, "%s", line_for("mpart_validate", a, NULL, true));
    strcat(want, line_for("mpart_free", a, p, true));
    strcat(want, line_for("mpart_realloc", a, p, true));
    assert_string_equal(out, want);
    valid(a);
    expect(g, 40, 7);
    OK(mpart_free(a, p));
    OK(mpart_free(a, g));
    assert_int_equal(rec_a.n, 0);
}

/* --- 5. LOG ---------------------------------------------------------------------- */

static const char *line_for(const char *call, unsigned long mid, const void *addr, bool corrupt)
{
    static char line[256];
    int n = snprintf(line, sizeof line, "gjbmem: %s: ", call);
    n += mid ? snprintf(line + n, sizeof line - (size_t)n, "partition 0x%lx", mid)
             : snprintf(line + n, sizeof line - (size_t)n, "system heap");
    if (addr)
        n += snprintf(line + n, sizeof line - (size_t)n, ": %s 0x%lx", corrupt ? "block" : "pointer",
                      (unsigned long)(uintptr_t)addr);
    snprintf(line + n, sizeof line - (size_t)n, ": %s\n",
             corrupt ? "damaged heap metadata or guard" : "not an allocated block");
    return line;
}

static void log_writes_one_line(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_LOG, NULL, NULL));
    _Alignas(16) char stack[64];
    char *p = alloc_ok(a, 64), *g = alloc_ok(a, 64);

    /* A bad free: exactly one line. */
    cap_begin();
    errno = 0;
    int rc = mpart_free(a, stack), err = errno;
    const char *out = cap_end();
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_REGION_NULL);
    char want[256];
    snprintf(want, sizeof want,
             "gjbmem: mpart_free: partition 0x%lx: pointer 0x%lx: not an allocated block\n", a,
             (unsigned long)(uintptr_t)stack);
    assert_string_equal(out, want);
    assert_string_equal(want, line_for("mpart_free", a, stack, false));

    /* An interior pointer, a double free, a bad realloc: one line each. */
    char *gone = alloc_ok(a, 64);
    OK(mpart_free(a, gone));
    cap_begin();
    errno = 0;
    int rc1 = mpart_free(a, p + GRAIN), err1 = errno;
    errno = 0;
    int rc2 = mpart_free(a, gone), err2 = errno;
    errno = 0;
    void *rp = mpart_realloc(a, gone, 10);
    int err3 = errno;
    out = cap_end();
    assert_int_equal(rc1, -1);
    assert_int_equal(err1, ERROR_REGION_NULL);
    assert_int_equal(rc2, -1);
    assert_int_equal(err2, ERROR_REGION_NULL);
    assert_null(rp);
    assert_int_equal(err3, EINVAL);
    char three[768];
    snprintf(three, sizeof three, "%s", line_for("mpart_free", a, p + GRAIN, false));
    strcat(three, line_for("mpart_free", a, gone, false));
    strcat(three, line_for("mpart_realloc", a, gone, false));
    assert_string_equal(out, three);

    /* Good calls and errors that are no misuse: nothing. */
    cap_begin();
    char *r = mpart_alloc(a, 100);
    int frc = r ? mpart_free(a, r) : -2;
    int nrc = mpart_free(a, NULL);
    void *zp = mpart_alloc(a, 0);
    int vrc = mpart_validate(a);
    out = cap_end();
    assert_non_null(r);
    assert_int_equal(frc, 0);
    assert_int_equal(nrc, -1);
    assert_null(zp);
    assert_int_equal(vrc, 0);
    assert_string_equal(out, "");

    /* LOG and HOOK: the line is written before the hook runs. */
    OK(mpart_set_error_policy(a, GJBMEM_ERR_LOG | GJBMEM_ERR_HOOK, hook, &rec_a));
    cap_begin();
    errno = 0;
    rc = mpart_free(a, stack + 16);
    err = errno;
    out = cap_end();
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_REGION_NULL);
    assert_string_equal(out, line_for("mpart_free", a, stack + 16, false));
    assert_int_equal(rec_a.err_size[0], (long)strlen(out));
    one_report(&rec_a, a, "mpart_free", ERROR_REGION_NULL, 0, stack + 16);

    /* Damage: validate's line has no pointer; a free that meets a damaged
     * block names it; in interrupt context nothing is written. */
    OK(mpart_set_error_policy(a, GJBMEM_ERR_LOG, NULL, NULL));
    struct damage d;
    damage_block(policy, buf_a, p, &d);
    cap_begin();
    int v1 = mpart_validate(a);
    int f1 = mpart_free(a, p);
    gjbmem_posix_set_isr(1);
    int v2 = mpart_validate(a);
    gjbmem_posix_set_isr(0);
    out = cap_end();
    repair(&d);
    assert_int_equal(v1, -1);
    assert_int_equal(f1, -1);
    assert_int_equal(v2, -1);
    snprintf(want, sizeof want, "gjbmem: mpart_validate: partition 0x%lx: damaged heap metadata or guard\n",
             a);
    strcat(want, line_for("mpart_free", a, p, true));
    assert_string_equal(out, want);
    valid(a);
    OK(mpart_free(a, p));
    OK(mpart_free(a, g));
    assert_int_equal(rec_a.n, 0);
}

/* --- 6. ABORT (forked children) ------------------------------------------------ */

struct child {
    int status;
    char out[1024]; /* what it wrote to stderr */
};

/* Runs fn in a child whose stderr is a pipe; waits for it. */
static void run_child(void (*fn)(void *), void *arg, struct child *c)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        close(fds[0]);
        if (dup2(fds[1], 2) != 2)
            _exit(90);
        close(fds[1]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fds[0], c->out + n, sizeof c->out - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == sizeof c->out - 1)
            break;
    }
    c->out[n] = 0;
    close(fds[0]);
    pid_t w;
    while ((w = waitpid(pid, &c->status, 0)) < 0 && errno == EINTR)
        ;
    assert_int_equal(w, pid);
}

static void expect_abort(const struct child *c)
{
    assert_true(WIFSIGNALED(c->status));
    assert_int_equal(WTERMSIG(c->status), SIGABRT);
}

static void expect_exit(const struct child *c, int code)
{
    if (WIFSIGNALED(c->status))
        print_message("child killed by signal %d\n", WTERMSIG(c->status));
    assert_true(WIFEXITED(c->status));
    assert_int_equal(WEXITSTATUS(c->status), code);
}

struct child_args {
    int policy;
    mpart_id mid;
    char *ptr;
    char *buf;
};

static void child_bad_free(void *arg)
{
    struct child_args *ca = arg;
    if (mpart_set_error_policy(ca->mid, GJBMEM_ERR_LOG | GJBMEM_ERR_ABORT, NULL, NULL) != 0)
        _exit(10);
    (void)mpart_free(ca->mid, ca->ptr);
    _exit(11); /* not reached: the policy stops the program */
}

static void child_bad_realloc(void *arg)
{
    struct child_args *ca = arg;
    if (mpart_set_error_policy(ca->mid, GJBMEM_ERR_ABORT, NULL, NULL) != 0)
        _exit(10);
    (void)mpart_realloc(ca->mid, ca->ptr, 16);
    _exit(11);
}

/* Only ABORT, and nothing but good calls and errors that are no misuse. */
static void child_good_calls(void *arg)
{
    struct child_args *ca = arg;
    if (mpart_set_error_policy(ca->mid, GJBMEM_ERR_ABORT, NULL, NULL) != 0)
        _exit(10);
    char *p = mpart_alloc(ca->mid, 100);
    if (!p)
        _exit(12);
    char *q = mpart_realloc(ca->mid, p, 300);
    if (!q)
        _exit(13);
    if (mpart_free(ca->mid, q) != 0)
        _exit(14);
    if (mpart_free(ca->mid, NULL) != -1 || errno != EINVAL)
        _exit(15);
    if (mpart_alloc(ca->mid, 0) || errno != EINVAL)
        _exit(16);
    if (mpart_alloc(ca->mid, SIZE_MAX / 2) || errno != ERROR_REGION_SIZE)
        _exit(17);
    if (mpart_validate(ca->mid) != 0)
        _exit(18);
    gjbmem_posix_set_isr(1); /* refused in interrupt context: no misuse */
    if (mpart_free(ca->mid, ca->ptr) != -1 || errno != ERROR_KERNEL_IN_ISR)
        _exit(19);
    gjbmem_posix_set_isr(0);
    _exit(0);
}

/* LOG and ABORT, damage found by validate in interrupt context: only the
 * abort applies. */
static void child_isr_validate(void *arg)
{
    struct child_args *ca = arg;
    if (mpart_set_error_policy(ca->mid, GJBMEM_ERR_LOG | GJBMEM_ERR_ABORT, NULL, NULL) != 0)
        _exit(10);
    if (ca->policy == FIRST_FIT_ALLOCATION)
        meta_set(ca->ptr - GJB_W, 0, GJB_W);
    else
        meta_set(tag_of((gjb_heap *)(void *)ca->buf, ca->ptr), 0x3f, 1);
    gjbmem_posix_set_isr(1);
    (void)mpart_validate(ca->mid);
    _exit(11);
}

static void abort_policy_stops_the_program(void **state)
{
    int policy = policy_of(state);
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    _Alignas(16) char stack[64];
    char *p = alloc_ok(a, 64);
    struct child_args ca = {policy, a, stack, buf_a};
    struct child c;

    run_child(child_bad_free, &ca, &c);
    expect_abort(&c);
    assert_string_equal(c.out, line_for("mpart_free", a, stack, false));

    ca.ptr = p + GRAIN;
    run_child(child_bad_free, &ca, &c);
    expect_abort(&c);
    assert_string_equal(c.out, line_for("mpart_free", a, p + GRAIN, false));

    run_child(child_bad_realloc, &ca, &c); /* ABORT without LOG: silent */
    expect_abort(&c);
    assert_string_equal(c.out, "");

    ca.ptr = stack;
    run_child(child_good_calls, &ca, &c);
    expect_exit(&c, 0);
    assert_string_equal(c.out, "");

    ca.ptr = p;
    run_child(child_isr_validate, &ca, &c);
    expect_abort(&c);
    assert_string_equal(c.out, "");

    /* The parent's partition kept its own (default) policy. */
    cap_begin();
    errno = 0;
    int rc = mpart_free(a, stack), err = errno;
    const char *out = cap_end();
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_REGION_NULL);
    assert_string_equal(out, "");
    valid(a);
    OK(mpart_free(a, p));
}

/* --- 7. the policy belongs to the partition -------------------------------------- */

static void policy_belongs_to_partition(void **state)
{
    int policy = policy_of(state);
    int other_policy = policy == FIRST_FIT_ALLOCATION ? BUDDY_ALLOCATION : FIRST_FIT_ALLOCATION;
    _Alignas(16) char stack[64];

    /* Deleted with its partition: a new partition in the same slot starts
     * with RETURN. */
    mpart_id a = make(policy, buf_a, sizeof buf_a);
    OK(mpart_set_error_policy(a, GJBMEM_ERR_LOG | GJBMEM_ERR_HOOK, hook, &rec_a));
    drop(a);
    mpart_id n = make(policy, buf_a, sizeof buf_a);
    assert_int_equal(n & 0xff, a & 0xff); /* the same slot ... */
    assert_true(n != a);                  /* ... a new id */
    cap_begin();
    errno = 0;
    int rc = mpart_free(n, stack), err = errno;
    errno = 0;
    void *rp = mpart_realloc(n, stack, 8);
    int rerr = errno;
    const char *out = cap_end();
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_REGION_NULL);
    assert_null(rp);
    assert_int_equal(rerr, EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(rec_a.n, 0);
    FAILS(mpart_set_error_policy(a, GJBMEM_ERR_RETURN, NULL, NULL), ERROR_KERNEL_HANDLE_NULL);

    /* Three partitions, three policies: HOOK, LOG, RETURN. */
    mpart_id b = make(other_policy, buf_b, sizeof buf_b);
    mpart_id c = make(policy, buf_c, sizeof buf_c);
    OK(mpart_set_error_policy(n, GJBMEM_ERR_HOOK, hook, &rec_a));
    OK(mpart_set_error_policy(b, GJBMEM_ERR_LOG, NULL, NULL));
    char *pn = alloc_ok(n, 64), *pb = alloc_ok(b, 64), *pc = alloc_ok(c, 64);

    cap_begin();
    int r1 = mpart_free(n, pb); /* b's block freed through n */
    int r2 = mpart_free(b, pn);
    int r3 = mpart_free(c, pn);
    int r4 = mpart_free(c, pb);
    out = cap_end();
    assert_int_equal(r1, -1);
    assert_int_equal(r2, -1);
    assert_int_equal(r3, -1);
    assert_int_equal(r4, -1);
    assert_string_equal(out, line_for("mpart_free", b, pn, false));
    one_report(&rec_a, n, "mpart_free", ERROR_REGION_NULL, 0, pb);

    /* Changing one leaves the others. */
    OK(mpart_set_error_policy(c, GJBMEM_ERR_HOOK, hook, &rec_b));
    OK(mpart_set_error_policy(n, GJBMEM_ERR_RETURN, NULL, NULL));
    cap_begin();
    r1 = mpart_free(n, pc);
    r2 = mpart_free(b, pc);
    r3 = mpart_free(c, pn);
    void *q1 = mpart_realloc(n, pc, 8);
    void *q2 = mpart_realloc(b, pc, 8);
    void *q3 = mpart_realloc(c, pb, 8);
    out = cap_end();
    assert_int_equal(r1, -1);
    assert_int_equal(r2, -1);
    assert_int_equal(r3, -1);
    assert_null(q1);
    assert_null(q2);
    assert_null(q3);
    char want[512];
    snprintf(want, sizeof want, "%s", line_for("mpart_free", b, pc, false));
    strcat(want, line_for("mpart_realloc", b, pc, false));
    assert_string_equal(out, want);
    assert_int_equal(rec_a.n, 0);
    assert_int_equal(rec_b.n, 2);
    report_is(&rec_b, &rec_b, 0, c, "mpart_free", ERROR_REGION_NULL, 0, pn);
    report_is(&rec_b, &rec_b, 1, c, "mpart_realloc", EINVAL, 0, pb);
    reset(&rec_b);

    OK(mpart_free(n, pn));
    OK(mpart_free(b, pb));
    OK(mpart_free(c, pc));
    valid(n);
    valid(b);
    valid(c);
    assert_int_equal(rec_a.n, 0);
    assert_int_equal(rec_b.n, 0);
}

/* --- 8. the system heap --------------------------------------------------------- */

static void sysheap_hook_reports_bad_pointers(void **state)
{
    (void)state;
    mpart_id a = make(FIRST_FIT_ALLOCATION, buf_a, sizeof buf_a);
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, hook, &rec_s));
    _Alignas(16) char stack[64];
    char *heap = libc_block;
    char *pa = alloc_ok(a, 64);

    /* Good calls: no report. */
    char *p = gjbmem_malloc(100), *q = gjbmem_calloc(4, 50);
    assert_non_null(p);
    assert_non_null(q);
    fill(p, 100, 6);
    char *r = gjbmem_realloc(NULL, 30);
    assert_non_null(r);
    r = gjbmem_realloc(r, 3000);
    assert_non_null(r);
    OK(gjbmem_free(r));
    char *gone = gjbmem_malloc(64);
    assert_non_null(gone);
    OK(gjbmem_free(gone));
    OK(gjbmem_free(NULL));
    OK(gjbmem_sysheap_validate());
    assert_int_equal(rec_s.n, 0);

    /* Bad frees: one report each, heap 0, EINVAL. */
    char *bad[] = {stack, heap, pa, p + GRAIN, p + 1, gone, static_area};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FAILS(gjbmem_free(bad[i]), EINVAL);
        one_report(&rec_s, 0, "gjbmem_free", EINVAL, 0, bad[i]);
    }
    /* Bad reallocs (foreign, interior): one report each. */
    char *badr[] = {stack, heap, pa, p + GRAIN};
    for (size_t i = 0; i < sizeof badr / sizeof badr[0]; i++) {
        FAILS_NULL(gjbmem_realloc(badr[i], 32), EINVAL);
        one_report(&rec_s, 0, "gjbmem_realloc", EINVAL, 0, badr[i]);
    }
    /* No misuse, no report: NULL, interrupt context, too much. */
    OK(gjbmem_free(NULL));
    gjbmem_posix_set_isr(1);
    errno = 0;
    int rc = gjbmem_free(stack), err = errno;
    errno = 0;
    void *rp = gjbmem_realloc(stack, 16);
    int rerr = errno;
    gjbmem_posix_set_isr(0);
    assert_int_equal(rc, -1);
    assert_int_equal(err, ERROR_KERNEL_IN_ISR);
    assert_null(rp);
    assert_int_equal(rerr, ERROR_KERNEL_IN_ISR);
    errno = 0;
    rp = gjbmem_malloc(SIZE_MAX - 4096);
    assert_null(rp);
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    rp = gjbmem_realloc(p, SIZE_MAX - 4096);
    assert_null(rp);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(rec_s.n, 0);
    assert_int_equal(rec_a.n, 0);
    expect(p, 100, 6);
    OK(gjbmem_sysheap_validate());
    valid(a);

    /* LOG: the system heap's line. */
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_LOG, NULL, NULL));
    cap_begin();
    errno = 0;
    rc = gjbmem_free(stack);
    err = errno;
    errno = 0;
    rp = gjbmem_realloc(p + GRAIN, 10);
    rerr = errno;
    const char *out = cap_end();
    assert_int_equal(rc, -1);
    assert_int_equal(err, EINVAL);
    assert_null(rp);
    assert_int_equal(rerr, EINVAL);
    char want[512];
    snprintf(want, sizeof want,
             "gjbmem: gjbmem_free: system heap: pointer 0x%lx: not an allocated block\n",
             (unsigned long)(uintptr_t)stack);
    strcat(want, line_for("gjbmem_realloc", 0, p + GRAIN, false));
    assert_string_equal(out, want);

    /* Back to RETURN: quiet. */
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL));
    cap_begin();
    rc = gjbmem_free(stack);
    out = cap_end();
    assert_int_equal(rc, -1);
    assert_string_equal(out, "");
    assert_int_equal(rec_s.n, 0);

    OK(gjbmem_free(p));
    OK(gjbmem_free(q));
    OK(mpart_free(a, pa));
    OK(gjbmem_sysheap_validate());
}

static void sysheap_hook_runs_without_lock(void **state)
{
    (void)state;
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK, reentrant_hook, &reentry));
    memset(&reentry, 0x55, sizeof reentry);
    reentry.calls = 0;
    _Alignas(16) char stack[64];
    FAILS(gjbmem_free(stack), EINVAL);
    expect_reentry(1);
    FAILS_NULL(gjbmem_realloc(stack, 100), EINVAL);
    expect_reentry(1);
    OK(gjbmem_sysheap_set_error_policy(GJBMEM_ERR_RETURN, NULL, NULL));
    OK(gjbmem_sysheap_validate());
}

/* True when report i of rec_s is (0, call, error, corrupt, addr). */
static bool sys_report_is(int i, const char *call, int error, int corrupt, const void *addr)
{
    const struct gjbmem_error *e = &rec_s.e[i];
    return i < rec_s.n && i < MAXREP && rec_s.arg[i] == &rec_s && e->heap == 0 && e->call &&
           !strcmp(e->call, call) && e->error == error && e->corrupt == corrupt && e->addr == addr;
}

/* In a child: a damaged header in the system heap (FIRST_FIT) met by
 * gjbmem_free and gjbmem_sysheap_validate; with GJBMEM_HARDENING >= 2 also
 * a broken guard met by gjbmem_free and gjbmem_realloc. Exit code: 0, or
 * the number of the first check that failed. Its last line on stderr
 * names the blocks: "p=<hex> q=<hex>". */
static void child_sysheap_damage(void *arg)
{
    (void)arg;
    if (heap_mem_init(FIRST_FIT_ALLOCATION) != 0)
        _exit(20);
    if (gjbmem_sysheap_set_error_policy(GJBMEM_ERR_HOOK | GJBMEM_ERR_LOG, hook, &rec_s) != 0)
        _exit(21);
    char *p = gjbmem_malloc(100), *g = gjbmem_malloc(100), *q = gjbmem_malloc(40);
    if (!p || !g || !q)
        _exit(22);
    size_t saved;
    meta_copy(&saved, p - GJB_W, sizeof saved);
    meta_set(p - GJB_W, 0, GJB_W);
    errno = 0;
    int frc = gjbmem_free(p), ferr = errno;
    errno = 0;
    int vrc = gjbmem_sysheap_validate(), verr = errno;
    meta_copy(p - GJB_W, &saved, sizeof saved);
    if (frc != -1 || ferr != EINVAL)
        _exit(23);
    if (vrc != -1 || verr != ERROR_KERNEL_MEMORY)
        _exit(24);
    if (rec_s.n != 2)
        _exit(25);
    if (!sys_report_is(0, "gjbmem_free", EINVAL, 1, p))
        _exit(26);
    if (!sys_report_is(1, "gjbmem_sysheap_validate", ERROR_KERNEL_MEMORY, 1, NULL))
        _exit(27);
    if (gjbmem_sysheap_validate() != 0)
        _exit(28);
    if (GJBMEM_HARDENING >= 2) {
        reset(&rec_s);
        unsigned char keep = meta_byte(q + 40);
        meta_set(q + 40, 0, 1); /* one byte too far */
        errno = 0;
        frc = gjbmem_free(q);
        ferr = errno;
        errno = 0;
        void *rp = gjbmem_realloc(q, 80);
        int rerr = errno;
        meta_copy(q + 40, &keep, 1);
        if (frc != -1 || ferr != EINVAL || rp || rerr != EINVAL)
            _exit(30);
        if (rec_s.n != 2 || !sys_report_is(0, "gjbmem_free", EINVAL, 1, q) ||
            !sys_report_is(1, "gjbmem_realloc", EINVAL, 1, q))
            _exit(31);
    }
    if (gjbmem_free(p) != 0 || gjbmem_free(g) != 0 || gjbmem_free(q) != 0 ||
        gjbmem_sysheap_validate() != 0)
        _exit(32);
    static char note[64];
    int n = snprintf(note, sizeof note, "p=%lx q=%lx\n", (unsigned long)(uintptr_t)p,
                     (unsigned long)(uintptr_t)q);
    if (write(2, note, (size_t)n) != n)
        _exit(33);
    _exit(0);
}

static void sysheap_damage_in_child(void **state)
{
    (void)state;
    struct child c;
    run_child(child_sysheap_damage, NULL, &c);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
        print_message("child output: %s", c.out);
    expect_exit(&c, 0);
    const char *note = strstr(c.out, "p=");
    assert_non_null(note);
    unsigned long p = 0, q = 0;
    assert_int_equal(sscanf(note, "p=%lx q=%lx", &p, &q), 2);
    char want[1024];
    snprintf(want, sizeof want, "%s", line_for("gjbmem_free", 0, (void *)(uintptr_t)p, true));
    strcat(want, "gjbmem: gjbmem_sysheap_validate: system heap: damaged heap metadata or guard\n");
    if (GJBMEM_HARDENING >= 2) {
        strcat(want, line_for("gjbmem_free", 0, (void *)(uintptr_t)q, true));
        strcat(want, line_for("gjbmem_realloc", 0, (void *)(uintptr_t)q, true));
    }
    snprintf(want + strlen(want), sizeof want - strlen(want), "p=%lx q=%lx\n", p, q);
    assert_string_equal(c.out, want);
    /* The parent's system heap was not touched. */
    OK(gjbmem_sysheap_validate());
}

static void sysheap_abort_in_child_fn(void *arg)
{
    char *bad = arg;
    if (gjbmem_sysheap_set_error_policy(GJBMEM_ERR_LOG | GJBMEM_ERR_ABORT, NULL, NULL) != 0)
        _exit(10);
    void *p = gjbmem_malloc(10);
    if (!p || gjbmem_free(p) != 0 || gjbmem_free(NULL) != 0)
        _exit(12);
    (void)gjbmem_free(bad);
    _exit(11);
}

static void sysheap_abort_in_child(void **state)
{
    (void)state;
    _Alignas(16) char stack[64];
    struct child c;
    run_child(sysheap_abort_in_child_fn, stack, &c);
    expect_abort(&c);
    assert_string_equal(c.out, line_for("gjbmem_free", 0, stack, false));
}

/* --------------------------------------------------------------------------------- */

#define BOTH(fn)                                                                                  \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&first_fit),           \
        cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&buddy)
#define ONE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(set_policy_argument_errors),
        ONE(sysheap_set_policy_argument_errors),
        BOTH(default_policy_only_fails),
        BOTH(hook_reports_each_bad_free_once),
        BOTH(hook_runs_without_lock),
        BOTH(damaged_block_is_reported_as_corrupt),
        ONE(buddy_damaged_link_found_by_validate),
        BOTH(broken_guard_is_reported),
        BOTH(log_writes_one_line),
        BOTH(abort_policy_stops_the_program),
        BOTH(policy_belongs_to_partition),
        ONE(sysheap_hook_reports_bad_pointers),
        ONE(sysheap_hook_runs_without_lock),
        ONE(sysheap_damage_in_child),
        ONE(sysheap_abort_in_child),
        ONE(buddy_alloc_reports_damaged_link),
        ONE(buddy_memalign_reports_damaged_link),
        ONE(buddy_list_damage_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
