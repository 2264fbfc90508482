/*
 * test_sysheap_env.c - the system heap's settings from the environment
 * (read once, at the library's first use, so this is a program of its
 * own), and validation of a damaged system heap.
 *
 * The first tests run their cases in forked children, each a process whose
 * library has not started yet (this process makes no gjbmem call before
 * they run): every value of GJBMEM_HEAP_LIMIT and GJBMEM_POLICY, and what
 * only a fresh system heap can show (no heap yet, the first direct
 * mapping's table refused by the host, all 64 regions in use, a policy
 * switch that the heap's memory cannot take). A child reports what it saw
 * through a pipe; this process checks it.
 */
#define _DEFAULT_SOURCE /* setenv, MAP_ANONYMOUS, MAP_NORESERVE */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <gjbext.h>
#include <gjbmem/config.h>
#include <gjbmem/fault.h>
#include <gjbmem/heap.h>
#include <gjbmem/sysheap.h>
#include <gjbmem/vmm.h>

#include "show_text.h"
#include "wordsize.h"

/* --- forked children ------------------------------------------------------- */

/* Runs fn(arg, out) in a forked child and copies the size bytes it leaves
 * in out back into out; the child must exit normally. (It ends with exit,
 * not _exit, so that a coverage build writes its counters; stdio is
 * flushed first, so that nothing buffered here is written twice.) */
static void in_child(void (*fn)(const void *arg, void *out), const void *arg, void *out,
                     size_t size)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        memset(out, 0, size);
        fn(arg, out);
        const char *p = out;
        for (size_t done = 0; done < size;) {
            ssize_t n = write(fds[1], p + done, size - done);
            if (n <= 0)
                exit(3);
            done += (size_t)n;
        }
        exit(0);
    }
    close(fds[1]);
    char *p = out;
    size_t got = 0;
    for (ssize_t n; got < size && (n = read(fds[0], p + got, size - got)) > 0;)
        got += (size_t)n;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(got, size);
}

/* --- GJBMEM_HEAP_LIMIT and GJBMEM_POLICY -------------------------------- */

struct env {
    const char *limit, *policy; /* NULL: unset */
};

/* Puts e's settings in the environment (a child's, before the library's
 * first use). */
static void set_env(const struct env *e)
{
    if (e->limit)
        setenv("GJBMEM_HEAP_LIMIT", e->limit, 1);
    else
        unsetenv("GJBMEM_HEAP_LIMIT");
    if (e->policy)
        setenv("GJBMEM_POLICY", e->policy, 1);
    else
        unsetenv("GJBMEM_POLICY");
}

struct settings {
    size_t limit;
    int policy;
    int rc;
};

static void read_settings(const void *arg, void *out)
{
    const struct env *e = arg;
    struct settings *s = out;
    set_env(e);
    struct gjbmem_sysheap_stats st;
    s->rc = gjbmem_sysheap_stats(&st);
    s->limit = st.limit;
    s->policy = st.policy;
}

static struct settings settings_with(const char *limit, const char *policy)
{
    struct env e = {limit, policy};
    struct settings s;
    in_child(read_settings, &e, &s, sizeof s);
    assert_int_equal(s.rc, 0);
    return s;
}

/* Every form GJBMEM_HEAP_LIMIT takes (bytes, K, M or G in either case),
 * the largest values that fit, and what is refused (the default then
 * holds: the host's memory). */
static void heap_limit_values(void **state)
{
    (void)state;
    size_t dflt = settings_with(NULL, NULL).limit;
    assert_true(dflt > 0);
    static const struct {
        const char *text;
        size_t bytes;
    } good[] = {
        {"0", 0},
        {"123", 123},
        {"4096", 4096},
        {"64k", (size_t)64 << 10},
        {"64K", (size_t)64 << 10},
        {"3m", (size_t)3 << 20},
        {"3M", (size_t)3 << 20},
        {"2g", (size_t)2 << 30},
        {"2G", (size_t)2 << 30},
        {"007K", (size_t)7 << 10},
#if SIZE_MAX == UINT64_MAX
        {"18446744073709551615", SIZE_MAX},    /* SIZE_MAX itself (LP64) */
        {"18446744073709551609", SIZE_MAX - 6},
        {"17179869183G", (size_t)17179869183 << 30}, /* the most G that fit */
        {"17592186044415M", (size_t)17592186044415 << 20},
        {"18014398509481983K", (size_t)18014398509481983 << 10},
#elif SIZE_MAX == UINT32_MAX
        {"4294967295", SIZE_MAX},              /* SIZE_MAX itself (ILP32) */
        {"4294967289", SIZE_MAX - 6},
        {"3G", (size_t)3 << 30},               /* the most G that fit */
        {"4095M", (size_t)4095 << 20},
        {"4194303K", (size_t)4194303 << 10},
#else
#error "the values here are for a 64-bit or a 32-bit size_t"
#endif
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct settings s = settings_with(good[i].text, NULL);
        if (s.limit != good[i].bytes)
            fail_msg("GJBMEM_HEAP_LIMIT=%s: limit %zu, expected %zu", good[i].text, s.limit,
                     good[i].bytes);
        assert_int_equal(s.policy, FIRST_FIT_ALLOCATION);
    }
    static const char *const bad[] = {
        "",                      /* nothing */
        " 64",                   /* leading space (below '0') */
        "-1", "+5",              /* signs */
        "abc", "K", "M1",        /* no digits first (above '9') */
        "64KB", "64kk", "1Gx",   /* junk after the suffix */
        "64x", "12 ", "1.5G", "0x100", "64T", "64b", /* junk after the digits */
#if SIZE_MAX == UINT64_MAX
        "18446744073709551616",  /* SIZE_MAX + 1 */
        "99999999999999999999999",
        "17179869184G",          /* 2^64 bytes */
        "17592186044416M",
        "18014398509481984K",
#else
        "4294967296",            /* SIZE_MAX + 1 */
        "99999999999999999999999",
        "18446744073709551615",  /* what a 64-bit size_t would take */
        "4G",                    /* 2^32 bytes */
        "4096M",
        "4194304K",
#endif
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct settings s = settings_with(bad[i], NULL);
        if (s.limit != dflt)
            fail_msg("GJBMEM_HEAP_LIMIT=\"%s\": limit %zu, expected the default %zu", bad[i],
                     s.limit, dflt);
    }
}

static void policy_values(void **state)
{
    (void)state;
    assert_int_equal(settings_with(NULL, NULL).policy, FIRST_FIT_ALLOCATION);
    assert_int_equal(settings_with(NULL, "buddy").policy, BUDDY_ALLOCATION);
    assert_int_equal(settings_with("1M", "buddy").policy, BUDDY_ALLOCATION);
    static const char *const first_fit[] = {"first-fit", "", "budd", "buddyx", "buddy ",
                                            "Buddy", "BUDDY", "xbuddy"};
    for (size_t i = 0; i < sizeof first_fit / sizeof first_fit[0]; i++)
        if (settings_with(NULL, first_fit[i]).policy != FIRST_FIT_ALLOCATION)
            fail_msg("GJBMEM_POLICY=\"%s\" is not FIRST_FIT", first_fit[i]);
}

/* --- a fresh system heap --------------------------------------------------- */

/* A fresh system heap (limit 16 MiB: a first region of 4 MiB, room for 12
 * more): its first direct mapping (5 MiB: more than the region holds),
 * whose table's first pages the host refuses, then granted. */
#define BIG ((size_t)5 << 20)
struct fresh {
    size_t foreign_usable, findmax, regions_before, port_before, free_before;
    int validate0, free_foreign, free_foreign_errno;
    int refused_null, refused_errno;
    unsigned long faults;
    size_t port_after_refusal, direct_after_refusal;
    int validate1;
    bool granted;
    size_t usable, port, direct_blocks, direct_bytes, regions, alloc_blocks;
    int validate2, free_rc;
    size_t port_after_free, direct_after_free, regions_after_free;
    int validate3;
};

static void fresh_direct_mapping(const void *arg, void *out)
{
    (void)arg;
    struct fresh *f = out;
    setenv("GJBMEM_HEAP_LIMIT", "16M", 1);
    unsetenv("GJBMEM_POLICY");
    int local = 0;
    struct gjbmem_sysheap_stats st;
    /* The first region and nothing in it: a foreign pointer is no block,
     * the largest request is the region's free block. */
    f->foreign_usable = gjbmem_usable_size(&local);
    f->validate0 = gjbmem_sysheap_validate();
    f->findmax = (size_t)mem_findmax();
    errno = 0;
    f->free_foreign = gjbmem_free(&local);
    f->free_foreign_errno = errno;
    gjbmem_sysheap_stats(&st);
    f->regions_before = st.heap.regions;
    f->port_before = st.port_bytes;
    f->free_before = st.heap.free;

    gjbmem_fault_after(1); /* the mapping is granted, the table's pages are not */
    errno = 0;
    void *d = gjbmem_malloc(BIG);
    f->refused_null = d == NULL;
    f->refused_errno = errno;
    f->faults = gjbmem_fault_count();
    gjbmem_fault_reset();
    gjbmem_sysheap_stats(&st);
    f->port_after_refusal = st.port_bytes;
    f->direct_after_refusal = st.direct_blocks;
    f->validate1 = gjbmem_sysheap_validate();

    d = gjbmem_malloc(BIG);
    f->granted = d != NULL;
    if (!d)
        return;
    f->usable = gjbmem_usable_size(d);
    memset(d, 0x5a, BIG);
    gjbmem_sysheap_stats(&st);
    f->port = st.port_bytes;
    f->direct_blocks = st.direct_blocks;
    f->direct_bytes = st.direct_bytes;
    f->regions = st.heap.regions;
    f->alloc_blocks = st.heap.alloc_blocks;
    f->validate2 = gjbmem_sysheap_validate();
    f->free_rc = gjbmem_free(d);
    gjbmem_sysheap_stats(&st);
    f->port_after_free = st.port_bytes;
    f->direct_after_free = st.direct_blocks;
    f->regions_after_free = st.heap.regions;
    f->validate3 = gjbmem_sysheap_validate();
}

static void fresh_heap_and_first_direct_mapping(void **state)
{
    (void)state;
    struct fresh f;
    in_child(fresh_direct_mapping, NULL, &f, sizeof f);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), table = 256 * 2 * sizeof(void *);
    size_t region = (size_t)4 << 20;
    assert_int_equal(f.foreign_usable, 0);
    assert_int_equal(f.validate0, 0);
    size_t guard = GJBMEM_HARDENING >= 2 ? sizeof(uintptr_t) : 0; /* the guard word */
    assert_true(f.findmax > 0 && f.findmax + guard <= f.free_before);
    assert_true(f.findmax > region - region / 16); /* the region's one free block */
    assert_int_equal(f.free_foreign, -1);
    assert_int_equal(f.free_foreign_errno, EINVAL);
    assert_int_equal(f.regions_before, 1);
    assert_int_equal(f.port_before, region);
    /* refused: the mapping went back, nothing more is counted */
    assert_true(f.refused_null);
    assert_int_equal(f.refused_errno, ENOMEM);
    assert_int_equal(f.faults, 1);
    assert_int_equal(f.port_after_refusal, region);
    assert_int_equal(f.direct_after_refusal, 0);
    assert_int_equal(f.validate1, 0);
    /* granted: a mapping and the table; the region holds no block */
    assert_true(f.granted);
    assert_true(f.usable >= BIG);
    assert_int_equal(f.direct_blocks, 1);
    assert_true(f.direct_bytes >= BIG && f.direct_bytes % page == 0);
    assert_int_equal(f.port, region + f.direct_bytes + table);
    assert_int_equal(f.regions, 1);
    assert_int_equal(f.alloc_blocks, 0);
    assert_int_equal(f.validate2, 0);
    /* freed: the table stays */
    assert_int_equal(f.free_rc, 0);
    assert_int_equal(f.port_after_free, region + table);
    assert_int_equal(f.direct_after_free, 0);
    assert_int_equal(f.regions_after_free, 1);
    assert_int_equal(f.validate3, 0);
}

/* --- the system heap tried as a new user would (issue 13) ---------------- */

/* What a process that has not allocated sees at the library's first use,
 * under each policy and limit. */
struct first_use {
    int getinfo_rc;
    struct meminfo mi;
    size_t total, port, regions, alloc_blocks;
    int findmax, malloc_ok, free_rc;
    int same_policy, other_policy, other_policy_errno, back;
};

static void first_use(const void *arg, void *out)
{
    const struct env *e = arg;
    struct first_use *r = out;
    set_env(e);
    r->getinfo_rc = mem_getinfo(&r->mi); /* the library's first call */
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    r->total = st.heap.total;
    r->port = st.port_bytes;
    r->regions = st.heap.regions;
    r->alloc_blocks = st.heap.alloc_blocks;
    r->findmax = mem_findmax();
    void *p = gjbmem_malloc((size_t)r->findmax);
    r->malloc_ok = p != NULL;
    r->free_rc = gjbmem_free(p);
    /* The empty first region is no allocated block: switching works. */
    int flag = st.policy;
    int other = flag == BUDDY_ALLOCATION ? FIRST_FIT_ALLOCATION : BUDDY_ALLOCATION;
    r->same_policy = heap_mem_init(flag);
    errno = 0;
    r->other_policy = heap_mem_init(other);
    r->other_policy_errno = errno;
    r->back = heap_mem_init(flag);
}

static struct first_use first_use_with(const char *limit, const char *policy)
{
    struct env e = {limit, policy};
    struct first_use r;
    in_child(first_use, &e, &r, sizeof r);
    return r;
}

/* SPEC 4: a fresh process reports its first region (segment >= 1, free > 0,
 * used + free = the bytes managed); mem_findmax is at most free and can be
 * had; heap_mem_init may still switch. A limit below 4 MiB makes a smaller
 * first region; a limit below a page (or 0) none. */
static void first_region_at_first_use(void **state)
{
    (void)state;
    static const struct {
        const char *limit, *policy;
        size_t region;
    } cases[] = {
        {NULL, NULL, (size_t)4 << 20},
        {NULL, "buddy", (size_t)4 << 20},
        {"1M", NULL, (size_t)1 << 20},
        {"100K", "buddy", (size_t)100 << 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct first_use r = first_use_with(cases[i].limit, cases[i].policy);
        assert_int_equal(r.getinfo_rc, 0);
        assert_true(r.mi.segment >= 1); /* FIRST_FIT: one free block; BUDDY: a few */
        if (!cases[i].policy)
            assert_int_equal(r.mi.segment, 1);
        assert_true(r.mi.free > 0);
        assert_int_equal(r.mi.used + r.mi.free, r.total);
        assert_int_equal(r.mi.maxused, r.mi.used); /* the heap's own metadata */
        assert_int_equal(r.total, cases[i].region);
        assert_int_equal(r.port, cases[i].region);
        assert_int_equal(r.regions, 1);
        assert_int_equal(r.alloc_blocks, 0);
        assert_true(r.findmax > 0);
        assert_true((size_t)r.findmax <= r.mi.free);
        assert_true(r.malloc_ok);
        assert_int_equal(r.free_rc, 0);
        assert_int_equal(r.same_policy, 0);
        assert_int_equal(r.other_policy, 0);
        assert_int_equal(r.back, 0);
    }
    /* No room for a page: no region, nothing to report but zeros. */
    struct first_use r = first_use_with("0", NULL);
    assert_int_equal(r.getinfo_rc, 0);
    assert_int_equal(r.mi.segment, 0);
    assert_int_equal(r.mi.free, 0);
    assert_int_equal(r.regions, 0);
    assert_int_equal(r.findmax, 0);
    assert_false(r.malloc_ok); /* gjbmem_malloc(0): a minimal block, no memory */
    assert_int_equal(r.other_policy, 0);
}

/* mem_show's exact text in a fresh process: the SylixOS table (known
 * figures: a 4096 KiB system heap of one segment, and a 16 KiB partition),
 * then the summaries. */
struct show_result {
    char got[4096], want[4096];
};

static _Alignas(64) char show_mem[16 * 1024];

static void show_fresh(const void *arg, void *out)
{
    (void)arg;
    struct show_result *r = out;
    unsetenv("GJBMEM_HEAP_LIMIT");
    unsetenv("GJBMEM_POLICY");
    FILE *tmp = tmpfile();
    mpart_id mid;
    if (!tmp || mpart_create(show_mem, sizeof show_mem, &mid) != 0 || !mpart_alloc(mid, 3000))
        return;
    fflush(stdout);
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    mem_show();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    size_t n = fread(r->got, 1, sizeof r->got - 1, tmp);
    r->got[n] = 0;
    fclose(tmp);
    struct show_text t;
    const char *want = show_expected(&t, &mid, 1);
    size_t k = strlen(want) < sizeof r->want ? strlen(want) : sizeof r->want - 1;
    memcpy(r->want, want, k);
}

static void mem_show_exact_text(void **state)
{
    (void)state;
    struct show_result r;
    in_child(show_fresh, NULL, &r, sizeof r);
    assert_string_equal(r.got, r.want);
    /* The figures printf cannot get wrong: the heap's 4 MiB in one segment,
     * the partition's 16 KiB (less its metadata), 3000 bytes used in 2. */
    assert_non_null(strstr(r.got, SHOW_HEAD "system             4096KB "));
    const char *row = strstr(r.got, "\nmpart 0x");
    assert_non_null(row);
    unsigned long total, used, maxused, seg, pct;
    assert_int_equal(sscanf(row, "\nmpart 0x%*x %luKB %luKB %luKB %lu %lu%%", &total, &used,
                            &maxused, &seg, &pct),
                     5);
    assert_true(total >= 15 && total <= 16);
    assert_true(used >= 2 && used <= 3);
    assert_int_equal(seg, 2);
    assert_non_null(strstr(r.got, "       1   0%\nmpart 0x"));
}

/* Memory added by the integrator larger than INT_MAX: mem_findmax is
 * clamped to INT_MAX, still not above free, and can be had. LP64 only: on
 * ILP32 the engine reaches a region through intptr_t offsets from the heap's
 * descriptor, which span 2 GiB, so no block can exceed INT_MAX there (and a
 * region of more than 2 GiB is not supported). */
static void findmax_clamp(const void *arg, void *out)
{
    (void)arg;
    int *r = out;
    unsetenv("GJBMEM_HEAP_LIMIT");
    unsetenv("GJBMEM_POLICY");
    size_t size = (size_t)INT_MAX + ((size_t)64 << 20);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    struct meminfo mi;
    if (mem == MAP_FAILED || gjbmem_sysheap_add_memory(mem, size) != 0 || mem_getinfo(&mi))
        return;
    r[0] = 1;
    r[1] = mem_findmax();
    r[2] = mi.free > (size_t)INT_MAX;
    void *p = gjbmem_malloc((size_t)r[1]);
    r[3] = p != NULL && gjbmem_free(p) == 0;
}

static void findmax_clamped_to_int_max(void **state)
{
    (void)state;
    ONLY_ON_LP64(); /* no block above INT_MAX on ILP32 (above) */
    int r[4];
    in_child(findmax_clamp, NULL, r, sizeof r);
    if (!r[0])
        skip(); /* the host would not map that much address space */
    assert_int_equal(r[1], INT_MAX);
    assert_true(r[2]);
    assert_true(r[3]);
}

/* All 64 regions from memory handed in (none from the host: limit 0, as
 * on bare metal): a 65th is refused with ENOSPC, and a request no region
 * can hold fails instead of growing; the heap still serves what fits. */
#define PIECES 64
#define PIECE (16 * 1024)
static _Alignas(64) char pieces[PIECES + 1][PIECE];

struct full_table {
    int added, add_extra, add_extra_errno, regions;
    size_t port, total;
    int big_null, big_errno;
    bool small_ok, small_inside;
    int free_rc, validate;
    size_t port_end;
};

static void all_regions_in_use(const void *arg, void *out)
{
    (void)arg;
    struct full_table *r = out;
    setenv("GJBMEM_HEAP_LIMIT", "0", 1);
    unsetenv("GJBMEM_POLICY");
    for (int i = 0; i < PIECES; i++)
        r->added += gjbmem_sysheap_add_memory(pieces[i], PIECE) == 0;
    errno = 0;
    r->add_extra = gjbmem_sysheap_add_memory(pieces[PIECES], PIECE);
    r->add_extra_errno = errno;
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    r->regions = (int)st.heap.regions;
    r->port = st.port_bytes;
    r->total = st.heap.total;
    errno = 0;
    void *big = gjbmem_malloc(4 * PIECE); /* more than any region, less than a direct mapping */
    r->big_null = big == NULL;
    r->big_errno = errno;
    char *small = gjbmem_malloc(100);
    r->small_ok = small != NULL;
    r->small_inside = small >= pieces[0] && small < pieces[PIECES];
    r->free_rc = gjbmem_free(small);
    r->validate = gjbmem_sysheap_validate();
    gjbmem_sysheap_stats(&st);
    r->port_end = st.port_bytes;
}

static void sixty_four_regions(void **state)
{
    (void)state;
    struct full_table r;
    in_child(all_regions_in_use, NULL, &r, sizeof r);
    assert_int_equal(r.added, PIECES);
    assert_int_equal(r.add_extra, -1);
    assert_int_equal(r.add_extra_errno, ENOSPC);
    assert_int_equal(r.regions, PIECES);
    assert_int_equal(r.total, (size_t)PIECES * PIECE);
    assert_int_equal(r.port, 0);
    assert_true(r.big_null);
    assert_int_equal(r.big_errno, ENOMEM);
    assert_true(r.small_ok);
    assert_true(r.small_inside);
    assert_int_equal(r.free_rc, 0);
    assert_int_equal(r.validate, 0);
    assert_int_equal(r.port_end, 0); /* the host was never asked */
}

/* heap_mem_init re-creates the heap over the same memory; memory that holds
 * a FIRST_FIT heap but not a BUDDY one (the first region, or one added
 * later) makes the switch fail with ENOMEM and leaves the FIRST_FIT heap as
 * it was. The sizes are found with the engine: the smallest that FIRST_FIT
 * takes and BUDDY refuses, at the same address. */
static _Alignas(4096) char small_mem[4096];
static _Alignas(4096) char scratch_a[65536], scratch_b[65536];

struct switch_refused {
    size_t size;
    int added, switched, switch_errno, policy, regions, validate;
    bool served, inside;
    int free_rc, back_and_forth;
};

/* The smallest size at small_mem + off that one policy accepts and the
 * other refuses, as a first region (init) or as an added one; 0 if none. */
static size_t ff_only_size(bool added, size_t off)
{
    for (size_t n = 1; n < sizeof small_mem - off; n++) {
        gjb_heap *ff, *bd;
        int a, b;
        if (added) {
            if (gjb_heap_init(scratch_a, sizeof scratch_a, GJB_FIRST_FIT, 64, &ff) != GJB_OK ||
                gjb_heap_init(scratch_b, sizeof scratch_b, GJB_BUDDY, 64, &bd) != GJB_OK)
                return 0;
            a = gjb_heap_add_region(ff, small_mem + off, n);
            b = gjb_heap_add_region(bd, small_mem + off, n);
        } else {
            a = gjb_heap_init(small_mem + off, n, GJB_FIRST_FIT, 64, &ff);
            b = gjb_heap_init(small_mem + off, n, GJB_BUDDY, 64, &bd);
        }
        if (a == GJB_OK && b == GJB_E_SMALL)
            return n;
    }
    return 0;
}

static void switch_over(const void *arg, void *out)
{
    bool added = *(const bool *)arg;
    struct switch_refused *s = out;
    if (added) /* a first region from the host */
        unsetenv("GJBMEM_HEAP_LIMIT");
    else /* none: the small memory is the heap's first region */
        setenv("GJBMEM_HEAP_LIMIT", "0", 1);
    unsetenv("GJBMEM_POLICY");
    size_t off = 0;
    while (off < 64 && !(s->size = ff_only_size(added, off)))
        off += 8;
    if (!s->size)
        return;
    s->added = gjbmem_sysheap_add_memory(small_mem + off, s->size);
    errno = 0;
    s->switched = heap_mem_init(BUDDY_ALLOCATION);
    s->switch_errno = errno;
    struct gjbmem_sysheap_stats st;
    gjbmem_sysheap_stats(&st);
    s->policy = st.policy;
    s->regions = (int)st.heap.regions;
    s->validate = gjbmem_sysheap_validate();
    char *p = gjbmem_malloc(16);
    s->served = p != NULL;
    s->inside = p >= small_mem && p < small_mem + sizeof small_mem;
    s->free_rc = gjbmem_free(p);
    s->back_and_forth = heap_mem_init(FIRST_FIT_ALLOCATION); /* the same policy: a no-op */
}

static void policy_switch_refused_by_the_memory(void **state)
{
    (void)state;
    for (int added = 0; added < 2; added++) {
        bool arg = added;
        struct switch_refused s;
        in_child(switch_over, &arg, &s, sizeof s);
        assert_true(s.size > 0);
        assert_int_equal(s.added, 0);
        assert_int_equal(s.switched, -1);
        assert_int_equal(s.switch_errno, ENOMEM);
        assert_int_equal(s.policy, FIRST_FIT_ALLOCATION);
        assert_int_equal(s.regions, added ? 2 : 1);
        assert_int_equal(s.validate, 0);
        assert_true(s.served);
        if (!added)
            assert_true(s.inside); /* the only region */
        assert_int_equal(s.free_rc, 0);
        assert_int_equal(s.back_and_forth, 0);
    }
}

static void settings_from_environment(void **state)
{
    (void)state;
    /* Before any gjbmem call: the library initialises on first use. */
    assert_int_equal(setenv("GJBMEM_HEAP_LIMIT", "64m", 1), 0);
    assert_int_equal(setenv("GJBMEM_POLICY", "buddy", 1), 0);
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(st.limit, (size_t)64 << 20);
    assert_int_equal(st.policy, BUDDY_ALLOCATION);
    errno = 0;
    assert_int_equal(gjbmem_sysheap_stats(NULL), -1);
    assert_int_equal(errno, EINVAL);
    /* The limit holds: 64 MiB cannot be had, 1 MiB can. */
    errno = 0;
    assert_null(gjbmem_malloc((size_t)64 << 20));
    assert_int_equal(errno, ENOMEM);
    void *p = gjbmem_malloc((size_t)1 << 20);
    assert_non_null(p);
    assert_int_equal(gjbmem_free(p), 0);
}

/* A write after free into a BUDDY free block's links: validate says so,
 * and repairing the bytes makes the heap whole again. */
static void validate_reports_damage(void **state)
{
    (void)state;
    char *a = gjbmem_malloc(1000), *b = gjbmem_malloc(1000);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(gjbmem_free(a), 0);
    char saved[16];
    memcpy(saved, a, sizeof saved);
    memset(a, 0xa5, sizeof saved); /* the free block's list links */
    errno = 0;
    assert_int_equal(gjbmem_sysheap_validate(), -1);
    assert_int_equal(errno, ERROR_KERNEL_MEMORY);
    memcpy(a, saved, sizeof saved);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(gjbmem_free(b), 0);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: forked children whose library has not started */
        cmocka_unit_test(heap_limit_values),
        cmocka_unit_test(policy_values),
        cmocka_unit_test(fresh_heap_and_first_direct_mapping),
        cmocka_unit_test(first_region_at_first_use),
        cmocka_unit_test(mem_show_exact_text),
        cmocka_unit_test(findmax_clamped_to_int_max),
        cmocka_unit_test(sixty_four_regions),
        cmocka_unit_test(policy_switch_refused_by_the_memory),
        cmocka_unit_test(settings_from_environment),
        cmocka_unit_test(validate_reports_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
