/*
 * bench_alloc.c - figures for gjbmem's allocators, both policies (FIRST_FIT
 * and BUDDY); a program that prints numbers, not a test.
 *
 * Allocator kinds; all of them see the same operation sequence (fixed seed):
 *   part     : a FIRST_FIT partition through the public API (mpart_create over
 *              a malloc'd buffer, mpart_alloc / mpart_free: lock + checks)
 *   heap     : the FIRST_FIT engine directly, as partitions make it
 *              (gjb_heap_init(..., GJB_FIRST_FIT | GJB_QUICK, 1) /
 *              gjb_heap_alloc / gjb_heap_free, no lock); GJBMEM_BENCH_NOQUICK=1
 *              in the environment: without GJB_QUICK
 *   bpart    : a BUDDY partition (mpart_create_ex(..., BUDDY_ALLOCATION, ...)),
 *              otherwise as part
 *   bheap    : the BUDDY engine directly (gjb_heap_init(..., GJB_BUDDY, 1))
 *   glibc    : malloc / free
 *   jemalloc, mimalloc, tcmalloc
 *            : malloc / free too, for a run with that library in LD_PRELOAD.
 *   preload  : malloc / free of whatever library LD_PRELOAD names (one path:
 *              bench/peers.sh's TLSF, for example).
 *              Every malloc-family kind first checks where malloc, free and
 *              aligned_alloc resolve (dladdr of dlsym(RTLD_DEFAULT, name)) and
 *              whether the library is in /proc/self/maps, prints the check
 *              ("# malloc check ...") and refuses to run when the functions
 *              are not in the named library (glibc: libc.so; preload: the
 *              LD_PRELOAD path).
 *
 * Buddy buffers: a buddy block is aligned to its size in absolute address,
 * so how the engine carves its block area into blocks depends on where the
 * buffer lies and on its size. For reproducible figures the buddy kinds get
 * a buffer placed (inside an mmap'd reservation) so that the engine's block
 * area starts at a multiple of a power of two >= the buffer size: an area of
 * u units of 32 bytes is then carved into the binary digits of u, largest
 * block first. In time, cg-steady, cg-perop and tf the area is one power-of-
 * two block, the smallest of at least 1.5 x the fill's block bytes (so it
 * does not depend on M). The first-fit kinds use a malloc'd buffer, as
 * before; the sequence's arrays are mmap'd so as not to disturb the malloc
 * heap of the malloc kinds.
 *
 * Workloads:
 *   small   : sizes uniform in [16, 512]
 *   mixed   : log-uniform in [16, 65536] (size = floor(16 * 4096^u), u uniform
 *             in [0,1))
 *   aligned : the sizes and victims of "small" (the very same sequence), and
 *             for each request an alignment drawn uniformly from {32, 64, 128,
 *             256} (a second random stream), allocated with mpart_memalign /
 *             gjb_heap_memalign / aligned_alloc (malloc kinds: the size rounded
 *             up to a multiple of the alignment, as C11 asks; the rounding is
 *             done in the bench loop, not counted as allocator cost)
 * A run fills N live blocks, then a steady phase of M pairs: free a uniformly
 * chosen live block, allocate a new random size in its slot. One byte is
 * written in every block after its allocation and read back before its free.
 *
 * Modes (see bench/run.sh, which drives all of them):
 *   bench_alloc time [--quick] [--kinds=A,A,...] [--workloads=W,W,...]
 *                                         throughput + latency (default kinds
 *                                         part,heap,bpart,bheap,glibc; default
 *                                         workloads small,mixed,aligned)
 *   bench_alloc footprint W N M [heap|bheap]
 *                                         smallest engine buffer (default heap
 *                                         = FIRST_FIT: bisection; bheap =
 *                                         BUDDY: exhaustive scan, see
 *                                         mode_footprint_buddy)
 *   bench_alloc cg-steady A W N M         fill, then one steady phase in the
 *                                         function steady_plain_<A> (W = small
 *                                         or mixed) or steady_aligned_<A> (W =
 *                                         aligned); run it under callgrind with
 *                                         --toggle-collect=steady_plain_*
 *                                         --toggle-collect=steady_aligned_*
 *   (GJB_BENCH_FF_BUFFER=BYTES in the environment: the first-fit kinds'
 *   heap has that size, mmap'd, instead of the size the workload needs)
 *   bench_alloc cg-perop A W N M          fill, then a steady phase with a
 *                                         CALLGRIND_DUMP_STATS after every
 *                                         alloc and free (run under callgrind
 *                                         with --collect-atstart=no and
 *                                         --toggle-collect on the allocator's
 *                                         alloc (or memalign) and free
 *                                         functions and on bench_noop): one
 *                                         dump per operation
 *   bench_alloc tf A W N K                native x86-64 trap-flag single
 *                                         stepping of the first K operations
 *                                         of the steady phase (cross-check of
 *                                         the callgrind per-operation counts)
 * A = part | heap | bpart | bheap | glibc | jemalloc | mimalloc | tcmalloc | preload,
 * W = small | mixed | aligned.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <gjbext.h>
#include <gjbmem/heap.h>

#ifdef HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#endif

#if defined(__x86_64__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

#define NOINLINE __attribute__((noinline))

static const uint64_t SEED = 0x676a626d656d2025ULL;
static const uint64_t SEED_ALIGN = 0x616c69676e6d656dULL; /* the aligned workload's alignments */

/* Smallest buddy block (2 * alignof(max_align_t); 32 on LP64, mpart.h). */
#define BUDDY_UNIT (2 * _Alignof(max_align_t))

/* --- helpers ------------------------------------------------------------ */

static void die(const char *msg)
{
    fprintf(stderr, "bench_alloc: %s\n", msg);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        die("out of memory (bench bookkeeping)");
    return p;
}

/* Bookkeeping whose size depends on M (the sequence) comes from mmap, not
 * malloc: it must not change the malloc heap that the malloc kinds measure
 * (their paths for aligned requests depend on addresses), so that a run of
 * M pairs and a run of fewer (tf, cg-perop) see the same heap. */
static void *xmap(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("out of memory (bench bookkeeping, mmap)");
    return p;
}

static void xunmap(void *p, size_t n)
{
    if (p)
        munmap(p, n ? n : 1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* xoshiro256** seeded by splitmix64. */
struct rng {
    uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

__extension__ typedef unsigned __int128 u128; /* GCC and Clang on 64-bit targets */

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(((u128)rng_next(r) * n) >> 64);
}

static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* --- the operation sequence --------------------------------------------- */

enum workload { SMALL, MIXED, ALIGNED, NWL };
static const char *const wl_name[] = {"small", "mixed", "aligned"};

struct seq {
    enum workload w;
    size_t n, m;      /* live blocks, steady pairs */
    uint32_t *size;   /* n fill sizes, then m steady sizes */
    uint16_t *align;  /* aligned workload: the alignment of each request; else NULL */
    uint32_t *victim; /* m slots to free */
    size_t peak_live; /* max over time of the sum of live requested sizes */
};

static uint32_t draw_size(struct rng *r, enum workload w)
{
    if (w != MIXED) /* small, aligned */
        return 16 + (uint32_t)rng_below(r, 512 - 16 + 1);
    uint32_t s = (uint32_t)(16.0 * exp2(12.0 * rng_unit(r)));
    return s < 16 ? 16 : s > 65536 ? 65536 : s;
}

static void seq_make(struct seq *q, enum workload w, size_t n, size_t m)
{
    struct rng r, ra;
    rng_seed(&r, SEED);
    rng_seed(&ra, SEED_ALIGN);
    q->w = w;
    q->n = n;
    q->m = m;
    q->size = xmap((n + m) * sizeof *q->size);
    q->victim = xmap(m * sizeof *q->victim);
    q->align = NULL;
    size_t live = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        q->size[i] = draw_size(&r, w);
        live += q->size[i];
    }
    peak = live;
    uint32_t *cur = xmap(n * sizeof *cur);
    memcpy(cur, q->size, n * sizeof *cur);
    for (size_t i = 0; i < m; i++) {
        uint32_t v = (uint32_t)rng_below(&r, n);
        uint32_t s = draw_size(&r, w);
        q->victim[i] = v;
        q->size[n + i] = s;
        live = live - cur[v] + s;
        cur[v] = s;
        if (live > peak)
            peak = live;
    }
    xunmap(cur, n * sizeof *cur);
    q->peak_live = peak;
    if (w == ALIGNED) {
        q->align = xmap((n + m) * sizeof *q->align);
        for (size_t i = 0; i < n + m; i++)
            q->align[i] = (uint16_t)(32u << rng_below(&ra, 4));
    }
}

static size_t seq_align(const struct seq *q, size_t j)
{
    return q->align ? q->align[j] : 0;
}

/* Block geometry of a policy: the block a request of size bytes aligned to
 * align (0: plain) takes. */
struct geometry {
    bool buddy;
    size_t hdr, minb; /* first fit: header bytes, minimum block */
};

static size_t block_of(const struct geometry *g, size_t size, size_t align)
{
    if (g->buddy) { /* power of two >= max(size, align, 32), no header */
        size_t n = size > align ? size : align;
        return pow2_at_least(n < BUDDY_UNIT ? BUDDY_UNIT : n);
    }
    /* first fit: header, rounding to the granule, minimum block; an aligned
     * block is the same, the gap in front of it stays a free block */
    size_t gr = _Alignof(max_align_t), b = (size + g->hdr + gr - 1) & ~(gr - 1);
    return b < g->minb ? g->minb : b;
}

/* Peak of the sum of block sizes for a geometry: splits the footprint into
 * internal overhead and the rest. */
static size_t seq_peak_blocks(const struct seq *q, const struct geometry *g)
{
    size_t live = 0, peak;
    size_t *cur = xmap(q->n * sizeof *cur);
    for (size_t i = 0; i < q->n; i++) {
        cur[i] = block_of(g, q->size[i], seq_align(q, i));
        live += cur[i];
    }
    peak = live;
    for (size_t i = 0; i < q->m; i++) {
        uint32_t v = q->victim[i];
        size_t b = block_of(g, q->size[q->n + i], seq_align(q, q->n + i));
        live = live - cur[v] + b;
        cur[v] = b;
        if (live > peak)
            peak = live;
    }
    xunmap(cur, q->n * sizeof *cur);
    return peak;
}

/* Block bytes of the fill alone (the first N requests). */
static size_t seq_fill_blocks(const struct seq *q, const struct geometry *g)
{
    size_t sum = 0;
    for (size_t i = 0; i < q->n; i++)
        sum += block_of(g, q->size[i], seq_align(q, i));
    return sum;
}

static void seq_free(struct seq *q)
{
    xunmap(q->size, (q->n + q->m) * sizeof *q->size);
    xunmap(q->victim, q->m * sizeof *q->victim);
    if (q->align)
        xunmap(q->align, (q->n + q->m) * sizeof *q->align);
}

/* --- allocators --------------------------------------------------------- */

enum alloc_kind { PART, HEAP, BPART, BHEAP, GLIBC, JEMALLOC, MIMALLOC, TCMALLOC, PRELOAD, NALLOC };
static const char *const al_name[] = {"part", "heap", "bpart", "bheap", "glibc", "jemalloc",
                                      "mimalloc", "tcmalloc", "preload"};

static bool is_buddy(enum alloc_kind k)
{
    return k == BPART || k == BHEAP;
}

static bool is_partition(enum alloc_kind k)
{
    return k == PART || k == BPART;
}

static bool is_engine(enum alloc_kind k)
{
    return k == HEAP || k == BHEAP;
}

static bool is_malloc(enum alloc_kind k)
{
    return k == GLIBC || k == JEMALLOC || k == MIMALLOC || k == TCMALLOC || k == PRELOAD;
}

struct actx {
    mpart_id mid;
    gjb_heap *h;
    char *buf;
    size_t bufsize;
};

static inline void *part_alloc(struct actx *c, size_t n)
{
    return mpart_alloc(c->mid, n);
}

static inline void *part_memalign(struct actx *c, size_t a, size_t n)
{
    return mpart_memalign(c->mid, a, n);
}

static inline void part_free(struct actx *c, void *p)
{
    if (mpart_free(c->mid, p) != 0)
        die("mpart_free failed");
}

static inline void *heap_alloc(struct actx *c, size_t n)
{
    void *p;
    return gjb_heap_alloc(c->h, n, &p) == GJB_OK ? p : NULL;
}

static inline void *heap_memalign(struct actx *c, size_t a, size_t n)
{
    void *p;
    return gjb_heap_memalign(c->h, a, n, &p) == GJB_OK ? p : NULL;
}

static inline void heap_free(struct actx *c, void *p)
{
    if (gjb_heap_free(c->h, p) != GJB_OK)
        die("gjb_heap_free failed");
}

static inline void *glibc_alloc(struct actx *c, size_t n)
{
    (void)c;
    return malloc(n);
}

/* C11 aligned_alloc: the size a multiple of the alignment. */
static inline void *glibc_memalign(struct actx *c, size_t a, size_t n)
{
    (void)c;
    return aligned_alloc(a, (n + a - 1) & ~(a - 1));
}

static inline void glibc_free(struct actx *c, void *p)
{
    (void)c;
    free(p);
}

/* The buddy kinds and the preloaded mallocs call the same functions; their
 * own names only keep the steady loops apart (steady_plain_bpart, ...). */
#define bpart_alloc part_alloc
#define bpart_memalign part_memalign
#define bpart_free part_free
#define bheap_alloc heap_alloc
#define bheap_memalign heap_memalign
#define bheap_free heap_free
#define jemalloc_alloc glibc_alloc
#define jemalloc_memalign glibc_memalign
#define jemalloc_free glibc_free
#define mimalloc_alloc glibc_alloc
#define mimalloc_memalign glibc_memalign
#define mimalloc_free glibc_free
#define tcmalloc_alloc glibc_alloc
#define tcmalloc_memalign glibc_memalign
#define tcmalloc_free glibc_free
#define preload_alloc glibc_alloc
#define preload_memalign glibc_memalign
#define preload_free glibc_free

/* --- where malloc comes from (the LD_PRELOAD check) ---------------------- */

static bool maps_has(const char *lib)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    bool found = false;
    if (!f)
        return false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, lib) != NULL;
    fclose(f);
    return found;
}

/* Prints where malloc, free and aligned_alloc resolve and dies unless they
 * are all in the library the kind names. */
static void malloc_check(enum alloc_kind k)
{
    static const char *const fns[] = {"malloc", "free", "aligned_alloc"};
    const char *pre = getenv("LD_PRELOAD");
    /* preload: the last library LD_PRELOAD names (valgrind puts its own first) */
    const char *last = pre ? strrchr(pre, ':') : NULL;
    last = last ? last + 1 : pre && *pre ? pre : "(LD_PRELOAD unset)";
    const char *want = k == JEMALLOC   ? "libjemalloc"
                       : k == MIMALLOC ? "libmimalloc"
                       : k == TCMALLOC ? "libtcmalloc"
                       : k == PRELOAD  ? last
                                       : "libc.so";
    char where[3][512];
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        void *f = dlsym(RTLD_DEFAULT, fns[i]);
        Dl_info di;
        const char *lib = f && dladdr(f, &di) && di.dli_fname ? di.dli_fname : "(unresolved)";
        snprintf(where[i], sizeof where[i], "%s", lib);
        ok = ok && strstr(lib, want) != NULL;
    }
    bool mapped = maps_has(want);
    printf("# malloc check (%s): malloc -> %s, free -> %s, aligned_alloc -> %s "
           "(dladdr of dlsym(RTLD_DEFAULT, ...)); %s %s in /proc/self/maps; LD_PRELOAD=%s: %s\n",
           al_name[k], where[0], where[1], where[2], want, mapped ? "mapped" : "NOT mapped",
           pre ? pre : "(unset)", ok && mapped ? "OK" : "FAILED");
    fflush(stdout);
    if (!ok || !mapped) {
        fprintf(stderr, "bench_alloc: kind %s needs malloc from %s%s\n", al_name[k], want,
                k == GLIBC ? "" : " (run with LD_PRELOAD=/usr/lib/x86_64-linux-gnu/...so.2)");
        exit(2);
    }
}

/* --- buffers ------------------------------------------------------------ */

/* Bytes from a 32-aligned buffer to the first block of a BUDDY heap made
 * there with max_regions regions (descriptor, list heads, rounding). */
static int first_block(void *ctx, void *payload, size_t size, bool used)
{
    (void)size, (void)used;
    *(char **)ctx = payload;
    return 1;
}

static size_t buddy_lead(unsigned max_regions)
{
    static size_t known[2];
    size_t *kp = &known[max_regions != 1];
    if (*kp)
        return *kp;
    enum { S = 1 << 16 };
    char *s = aligned_alloc(4096, S), *first = NULL;
    gjb_heap *h;
    if (!s || gjb_heap_init(s, S, GJB_BUDDY, max_regions, &h) != GJB_OK)
        die("buddy_lead: gjb_heap_init");
    gjb_heap_walk(h, first_block, &first);
    if (!first || (size_t)(first - s) % BUDDY_UNIT)
        die("buddy_lead: unexpected layout");
    size_t d = (size_t)(first - s);
    free(s);
    return *kp = d;
}

/* An mmap'd reservation for buddy buffers: 2 * align bytes, align a power of
 * two >= the largest buffer placed in it. */
struct reservation {
    char *base;
    size_t len, align;
};

static void reserve(struct reservation *rv, size_t max_size)
{
    rv->align = pow2_at_least(max_size < 4096 ? 4096 : max_size);
    rv->len = 2 * rv->align;
    void *p = mmap(NULL, rv->len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        die("mmap of the buddy reservation failed");
    rv->base = p;
}

static void unreserve(struct reservation *rv)
{
    if (rv->base)
        munmap(rv->base, rv->len);
    rv->base = NULL;
}

/* The buffer inside rv whose BUDDY block area (heap with max_regions
 * regions) starts at a multiple of rv->align. */
static char *buddy_buffer(const struct reservation *rv, unsigned max_regions)
{
    size_t d = buddy_lead(max_regions);
    uintptr_t a = rv->align, b = (((uintptr_t)rv->base + d + a - 1) & ~(a - 1)) - d;
    return (char *)b;
}

static unsigned regions_of(enum alloc_kind k)
{
    return is_partition(k) ? GJBMEM_MAX_REGIONS : 1;
}

static size_t buddy_size_for(enum alloc_kind k, size_t units)
{
    return buddy_lead(regions_of(k)) + (BUDDY_UNIT + 1) * units;
}

/* Buffer for part/heap: generous, so that no allocation fails. The aligned
 * workload leaves gaps in front of aligned blocks: 2 * 256 more per block. */
static size_t buffer_for(const struct seq *q)
{
    return 2 * q->peak_live + (q->w == ALIGNED ? 64 + 512 : 64) * q->n + (1u << 20);
}

/* Block area of bpart/bheap, in units of 32 bytes: one power-of-two block
 * (the area is placed at a multiple of its size, see buddy_buffer), the
 * smallest of at least 1.5 x the block bytes of the fill. It depends on the
 * fill only, not on M: the carving, and so every later operation, is the same
 * for a run of M pairs and a shorter one (tf, cg-perop). */
static size_t buddy_units_for(const struct seq *q)
{
    struct geometry g = {true, 0, BUDDY_UNIT};
    size_t fb = seq_fill_blocks(q, &g);
    return pow2_at_least((fb + fb / 2 + BUDDY_UNIT - 1) / BUDDY_UNIT);
}

/* Buffer of a buddy kind whose block area holds exactly `units` units:
 * the descriptor and rounding in front, then per unit 32 bytes of block area
 * and one tag byte. */
static size_t buddy_size_for(enum alloc_kind k, size_t units);

/* The FIRST_FIT engine's policy argument: as partitions make their heaps,
 * with quick lists (GJBMEM_BENCH_NOQUICK=1: without). */
static int ff_policy(void)
{
    const char *e = getenv("GJBMEM_BENCH_NOQUICK");
    return e && *e == '1' ? GJB_FIRST_FIT : GJB_FIRST_FIT | GJB_QUICK;
}

static void actx_open(struct actx *c, enum alloc_kind k)
{
    if (k == PART || k == BPART) {
        if (mpart_create_ex(c->buf, c->bufsize,
                            k == BPART ? BUDDY_ALLOCATION : FIRST_FIT_ALLOCATION, &c->mid) != 0)
            die("mpart_create_ex failed");
    } else if (k == HEAP || k == BHEAP) {
        if (gjb_heap_init(c->buf, c->bufsize, k == BHEAP ? GJB_BUDDY : ff_policy(), 1, &c->h) !=
            GJB_OK)
            die("gjb_heap_init failed");
    }
}

static void actx_close(struct actx *c, enum alloc_kind k)
{
    if (is_partition(k) && mpart_delete(c->mid) != 0)
        die("mpart_delete failed (blocks left?)");
}

/* --- timers ------------------------------------------------------------- */

#ifdef HAVE_TSC
static inline uint64_t ticks(void)
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}
#define TIMER_NAME "rdtsc (lfence; rdtsc; lfence)"
#else
static inline uint64_t ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define TIMER_NAME "clock_gettime(CLOCK_MONOTONIC)"
#endif

static double ns_per_tick = 1.0;
static uint64_t timer_overhead; /* ticks, median of back-to-back reads */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void timer_calibrate(void)
{
#ifdef HAVE_TSC
    double t0 = now_s();
    uint64_t k0 = __rdtsc();
    while (now_s() - t0 < 0.2)
        ;
    double t1 = now_s();
    uint64_t k1 = __rdtsc();
    ns_per_tick = (t1 - t0) * 1e9 / (double)(k1 - k0);
#endif
    enum { K = 200001 };
    uint32_t *d = xmalloc(K * sizeof *d);
    for (int i = 0; i < K; i++) {
        uint64_t a = ticks(), b = ticks();
        d[i] = (uint32_t)(b - a);
    }
    qsort(d, K, sizeof *d, cmp_u32);
    timer_overhead = d[K / 2];
    free(d);
}

/* --- the phases --------------------------------------------------------- */

static void *kind_alloc(struct actx *c, enum alloc_kind k, size_t n, size_t align)
{
    if (align) {
        if (is_partition(k))
            return part_memalign(c, align, n);
        if (is_engine(k))
            return heap_memalign(c, align, n);
        return glibc_memalign(c, align, n);
    }
    if (is_partition(k))
        return part_alloc(c, n);
    if (is_engine(k))
        return heap_alloc(c, n);
    return glibc_alloc(c, n);
}

static void kind_free(struct actx *c, enum alloc_kind k, void *p)
{
    if (is_partition(k))
        part_free(c, p);
    else if (is_engine(k))
        heap_free(c, p);
    else
        glibc_free(c, p);
}

static int fill(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot)
{
    for (size_t i = 0; i < q->n; i++) {
        char *p = kind_alloc(c, k, q->size[i], seq_align(q, i));
        if (!p)
            return -1;
        p[0] = (char)i;
        slot[i] = p;
    }
    return 0;
}

static void free_all(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot)
{
    for (size_t i = 0; i < q->n; i++)
        kind_free(c, k, slot[i]);
}

static volatile unsigned sink;

/* The allocation of steady pair i: plain or aligned. */
#define ALLOC_PLAIN(TAG, c, q, j) TAG##_alloc(c, (q)->size[j])
#define ALLOC_ALIGNED(TAG, c, q, j) TAG##_memalign(c, (q)->align[j], (q)->size[j])

#define FOR_KINDS(X, ...)                                                     \
    X(part, __VA_ARGS__)                                                      \
    X(heap, __VA_ARGS__)                                                      \
    X(bpart, __VA_ARGS__)                                                     \
    X(bheap, __VA_ARGS__) X(glibc, __VA_ARGS__) X(jemalloc, __VA_ARGS__)        \
    X(mimalloc, __VA_ARGS__) X(tcmalloc, __VA_ARGS__) X(preload, __VA_ARGS__)

/* Plain steady phase: returns the number of failed allocations (stops at the
 * first). One copy per allocator and workload type so the calls are direct:
 * steady_plain_<kind> (small, mixed), steady_aligned_<kind> (aligned). */
#define STEADY_PLAIN(TAG, NAME, ALLOC)                                        \
    static NOINLINE size_t NAME##_##TAG(struct actx *c, const struct seq *q, char **slot) \
    {                                                                         \
        unsigned acc = 0;                                                     \
        for (size_t i = 0; i < q->m; i++) {                                   \
            uint32_t v = q->victim[i];                                        \
            char *p = slot[v];                                                \
            acc += (unsigned char)p[0];                                       \
            TAG##_free(c, p);                                                 \
            p = ALLOC(TAG, c, q, q->n + i);                                   \
            if (!p) {                                                         \
                slot[v] = NULL;                                               \
                sink = acc;                                                   \
                return 1;                                                     \
            }                                                                 \
            p[0] = (char)i;                                                   \
            slot[v] = p;                                                      \
        }                                                                     \
        sink = acc;                                                           \
        return 0;                                                             \
    }
FOR_KINDS(STEADY_PLAIN, steady_plain, ALLOC_PLAIN)
FOR_KINDS(STEADY_PLAIN, steady_aligned, ALLOC_ALIGNED)

/* Timed steady phase: ticks of every free and alloc. */
#define STEADY_TIMED(TAG, NAME, ALLOC)                                        \
    static NOINLINE void NAME##_##TAG(struct actx *c, const struct seq *q, char **slot, \
                                      uint32_t *lf, uint32_t *la)             \
    {                                                                         \
        unsigned acc = 0;                                                     \
        for (size_t i = 0; i < q->m; i++) {                                   \
            uint32_t v = q->victim[i];                                        \
            char *p = slot[v];                                                \
            acc += (unsigned char)p[0];                                       \
            uint64_t t0 = ticks();                                            \
            TAG##_free(c, p);                                                 \
            uint64_t t1 = ticks();                                            \
            p = ALLOC(TAG, c, q, q->n + i);                                   \
            uint64_t t2 = ticks();                                            \
            if (!p)                                                           \
                die("allocation failed in the timed steady phase");          \
            p[0] = (char)i;                                                   \
            slot[v] = p;                                                      \
            lf[i] = (uint32_t)(t1 - t0);                                      \
            la[i] = (uint32_t)(t2 - t1);                                      \
        }                                                                     \
        sink = acc;                                                           \
    }
FOR_KINDS(STEADY_TIMED, steady_timed, ALLOC_PLAIN)
FOR_KINDS(STEADY_TIMED, steady_timed_aligned, ALLOC_ALIGNED)

typedef size_t (*steady_fn)(struct actx *, const struct seq *, char **);
typedef void (*timed_fn)(struct actx *, const struct seq *, char **, uint32_t *, uint32_t *);

#define TAB_ENTRY(TAG, NAME) NAME##_##TAG,
static const steady_fn steady_plain_tab[2][NALLOC] = {{FOR_KINDS(TAB_ENTRY, steady_plain)},
                                                      {FOR_KINDS(TAB_ENTRY, steady_aligned)}};
static const timed_fn steady_timed_tab[2][NALLOC] = {
    {FOR_KINDS(TAB_ENTRY, steady_timed)}, {FOR_KINDS(TAB_ENTRY, steady_timed_aligned)}};

static size_t steady_plain(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot)
{
    return steady_plain_tab[q->align != NULL][k](c, q, slot);
}

static void steady_timed(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot,
                         uint32_t *lf, uint32_t *la)
{
    steady_timed_tab[q->align != NULL][k](c, q, slot, lf, la);
}

/* Buffers of one configuration: a malloc'd one shared by the first-fit
 * kinds, a reservation shared by the buddy kinds (each kind's buffer placed
 * in it by buddy_buffer). */
struct bufs {
    char *ff;
    size_t ff_size;
    bool ff_mapped; /* GJB_BENCH_FF_BUFFER: mmap'd, of that size */
    struct reservation bd;
    size_t bd_units;
};

static void bufs_open(struct bufs *b, const struct seq *q, const bool *kinds)
{
    memset(b, 0, sizeof *b);
    if (kinds[PART] || kinds[HEAP]) {
        /* GJB_BENCH_FF_BUFFER=BYTES: the first-fit kinds' heap that large
         * (e.g. 1073741824: the worst single operation in a 1 GiB heap) */
        const char *e = getenv("GJB_BENCH_FF_BUFFER");
        b->ff_mapped = e && *e;
        b->ff_size = b->ff_mapped ? (size_t)strtoull(e, NULL, 0) : buffer_for(q);
        b->ff = b->ff_mapped ? xmap(b->ff_size) : xmalloc(b->ff_size);
    }
    if (kinds[BPART] || kinds[BHEAP]) {
        b->bd_units = buddy_units_for(q);
        reserve(&b->bd, buddy_size_for(BPART, b->bd_units) > buddy_size_for(BHEAP, b->bd_units)
                            ? buddy_size_for(BPART, b->bd_units)
                            : buddy_size_for(BHEAP, b->bd_units));
    }
}

static void bufs_close(struct bufs *b)
{
    if (b->ff_mapped)
        xunmap(b->ff, b->ff_size);
    else
        free(b->ff);
    unreserve(&b->bd);
}

static void actx_buffer(struct actx *c, enum alloc_kind k, const struct bufs *b)
{
    memset(c, 0, sizeof *c);
    if (is_buddy(k)) {
        c->buf = buddy_buffer(&b->bd, regions_of(k));
        c->bufsize = buddy_size_for(k, b->bd_units);
    } else if (!is_malloc(k)) {
        c->buf = b->ff;
        c->bufsize = b->ff_size;
    }
}

/* --- mode: time --------------------------------------------------------- */

struct pct {
    double p50, p99, p9999, max; /* ns */
};

static double tick_ns(uint32_t t)
{
    return t > timer_overhead ? (double)(t - timer_overhead) * ns_per_tick : 0.0;
}

static struct pct percentiles(uint32_t *d, size_t n)
{
    qsort(d, n, sizeof *d, cmp_u32);
    struct pct p;
    p.p50 = tick_ns(d[(size_t)(0.50 * (double)(n - 1))]);
    p.p99 = tick_ns(d[(size_t)(0.99 * (double)(n - 1))]);
    p.p9999 = tick_ns(d[(size_t)(0.9999 * (double)(n - 1))]);
    p.max = tick_ns(d[n - 1]);
    return p;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

enum { MAXREP = 15 };

struct result {
    double mops[MAXREP];       /* million operations (alloc or free) per second */
    struct pct fr[MAXREP], al[MAXREP];
    double mops_med;
    struct pct fr_med, al_med;
    size_t free_blocks; /* part/heap/bpart/bheap: free blocks after the steady phase */
};

static struct pct pct_median(struct pct *v, int n)
{
    double a[MAXREP];
    struct pct m;
#define MED(F)                       \
    for (int i = 0; i < n; i++)      \
        a[i] = v[i].F;               \
    m.F = median(a, n);
    MED(p50) MED(p99) MED(p9999) MED(max)
#undef MED
    return m;
}

/* The machine's own interruptions: a loop that only reads the timer sees
 * gaps when the CPU is taken away (interrupts, hypervisor, other tenants).
 * They set the latency tail of anything that runs long enough. */
static void noise_probe(const char *when)
{
    uint64_t gap = (uint64_t)(2000.0 / ns_per_tick), n = 0, lost = 0, mx = 0;
    double t0 = now_s();
    uint64_t prev = ticks(), start = prev;
    while (now_s() - t0 < 1.0) {
        for (int i = 0; i < 1000; i++) {
            uint64_t t = ticks();
            if (t - prev > gap) {
                n++;
                lost += t - prev;
                if (t - prev > mx)
                    mx = t - prev;
            }
            prev = t;
        }
    }
    double span = (double)(prev - start);
    printf("# noise %s: a timer-only loop lost the CPU %llu times in 1 s for > 2 us (%.1f%% of "
           "the time, mean %.1f us, longest %.0f us)\n",
           when, (unsigned long long)n, 100.0 * (double)lost / span,
           n ? (double)lost * ns_per_tick / 1e3 / (double)n : 0.0, (double)mx * ns_per_tick / 1e3);
}

static void mode_time(int quick, const bool *kinds, const bool *wls)
{
    const size_t ns[2] = {10000, 100000};
    const size_t m = quick ? 50000 : 500000;
    const int rt = quick ? 3 : 5, rl = quick ? 1 : 3;

    for (int k = 0; k < NALLOC; k++)
        if (kinds[k] && is_malloc((enum alloc_kind)k))
            malloc_check((enum alloc_kind)k);
    timer_calibrate();
    printf("# timer: %s, %.4f ns/tick, overhead %llu ticks (%.1f ns) subtracted from every "
           "latency sample\n",
           TIMER_NAME, ns_per_tick, (unsigned long long)timer_overhead,
           (double)timer_overhead * ns_per_tick);
    printf("# steady phase M = %zu pairs (free + alloc) per run; throughput: median of %d runs; "
           "latency: median over %d runs of each run's percentile\n", m, rt, rl);
    printf("# op = one alloc or one free call; Mops/s = 2*M / steady-phase seconds\n");
    printf("# kinds:");
    for (int k = 0; k < NALLOC; k++)
        if (kinds[k])
            printf(" %s", al_name[k]);
    printf("; bpart/bheap: block area = one power-of-two block at a multiple of its size\n");
    noise_probe("before");
    printf("\n");
    printf("%-6s %7s %-6s %9s %9s | %-28s | %-28s | %s\n", "", "", "", "Mops/s", "vs glibc",
           "alloc ns p50/p99/p99.99/max", "free ns p50/p99/p99.99/max", "free blocks");
    fflush(stdout);

    for (int w = 0; w < NWL; w++) {
        if (!wls[w])
            continue;
        for (int ni = 0; ni < 2; ni++) {
            struct seq q;
            seq_make(&q, (enum workload)w, ns[ni], m);
            struct bufs b;
            bufs_open(&b, &q, kinds);
            struct actx c;
            char **slot = xmalloc(q.n * sizeof *slot);
            uint32_t *lf = xmalloc(m * sizeof *lf), *la = xmalloc(m * sizeof *la);
            static struct result res[NALLOC];
            memset(res, 0, sizeof res);

            for (int r = 0; r < rt; r++) {
                for (int k = 0; k < NALLOC; k++) {
                    if (!kinds[k])
                        continue;
                    actx_buffer(&c, (enum alloc_kind)k, &b);
                    actx_open(&c, (enum alloc_kind)k);
                    if (fill(&c, (enum alloc_kind)k, &q, slot))
                        die("fill failed");
                    double t0 = now_s();
                    if (steady_plain(&c, (enum alloc_kind)k, &q, slot))
                        die("allocation failed in the steady phase");
                    double t = now_s() - t0;
                    res[k].mops[r] = 2.0 * (double)m / t / 1e6;
                    if (is_engine((enum alloc_kind)k)) {
                        struct gjbmem_heap_stats st;
                        if (r == 0 && gjb_heap_validate(c.h) != GJB_OK)
                            die("gjb_heap_validate failed after the steady phase");
                        gjb_heap_get_stats(c.h, &st);
                        res[k].free_blocks = st.free_blocks;
                    } else if (is_partition((enum alloc_kind)k)) {
                        struct gjbmem_heap_stats st;
                        if (r == 0 && mpart_validate(c.mid) != 0)
                            die("mpart_validate failed after the steady phase");
                        mpart_getstats(c.mid, &st);
                        res[k].free_blocks = st.free_blocks;
                    }
                    free_all(&c, (enum alloc_kind)k, &q, slot);
                    actx_close(&c, (enum alloc_kind)k);
                }
            }
            for (int r = 0; r < rl; r++) {
                for (int k = 0; k < NALLOC; k++) {
                    if (!kinds[k])
                        continue;
                    actx_buffer(&c, (enum alloc_kind)k, &b);
                    actx_open(&c, (enum alloc_kind)k);
                    if (fill(&c, (enum alloc_kind)k, &q, slot))
                        die("fill failed");
                    steady_timed(&c, (enum alloc_kind)k, &q, slot, lf, la);
                    res[k].fr[r] = percentiles(lf, m);
                    res[k].al[r] = percentiles(la, m);
                    free_all(&c, (enum alloc_kind)k, &q, slot);
                    actx_close(&c, (enum alloc_kind)k);
                }
            }
            for (int k = 0; k < NALLOC; k++) {
                if (!kinds[k])
                    continue;
                res[k].mops_med = median(res[k].mops, rt);
                res[k].fr_med = pct_median(res[k].fr, rl);
                res[k].al_med = pct_median(res[k].al, rl);
            }
            for (int k = 0; k < NALLOC; k++) {
                if (!kinds[k])
                    continue;
                struct result *x = &res[k];
                char fb[32] = "-", vs[32] = "        -";
                if (!is_malloc((enum alloc_kind)k))
                    snprintf(fb, sizeof fb, "%zu", x->free_blocks);
                if (kinds[GLIBC])
                    snprintf(vs, sizeof vs, "%8.2fx", x->mops_med / res[GLIBC].mops_med);
                printf("%-6s %7zu %-6s %9.2f %s | %5.0f %6.0f %7.0f %8.0f | %5.0f %6.0f %7.0f "
                       "%8.0f | %s\n",
                       wl_name[w], q.n, al_name[k], x->mops_med, vs, x->al_med.p50,
                       x->al_med.p99, x->al_med.p9999, x->al_med.max, x->fr_med.p50,
                       x->fr_med.p99, x->fr_med.p9999, x->fr_med.max, fb);
            }
            printf("%-6s %7zu %-6s runs Mops/s:", wl_name[w], q.n, "");
            for (int k = 0; k < NALLOC; k++) {
                if (!kinds[k])
                    continue;
                printf(" %s", al_name[k]);
                for (int r = 0; r < rt; r++)
                    printf("%s%.2f", r ? "," : "=", res[k].mops[r]);
            }
            printf("\n");
            fflush(stdout);
            free(lf);
            free(la);
            free(slot);
            bufs_close(&b);
            seq_free(&q);
        }
    }
    noise_probe("after");
}

/* --- mode: footprint ----------------------------------------------------- */

/* True when the whole sequence runs on an engine heap (policy) of `size`
 * bytes at `buf` without a failed allocation. */
static int runs_in(enum alloc_kind k, char *buf, size_t size, const struct seq *q, char **slot)
{
    struct actx c = {0};
    c.buf = buf;
    c.bufsize = size;
    if (gjb_heap_init(buf, size, k == BHEAP ? GJB_BUDDY : ff_policy(), 1, &c.h) != GJB_OK)
        return 0;
    for (size_t i = 0; i < q->n; i++) {
        char *p = kind_alloc(&c, k, q->size[i], seq_align(q, i));
        if (!p)
            return 0;
        p[0] = (char)i;
        slot[i] = p;
    }
    return steady_plain(&c, k, q, slot) == 0;
}

static void print_footprint(const char *policy, const struct seq *q, size_t min_buffer,
                            size_t pb, const char *search)
{
    printf("footprint %s N=%zu M=%zu%s: min_buffer=%zu peak_live=%zu ratio=%.4f "
           "peak_block_bytes=%zu (blocks/live=%.4f, buffer/blocks=%.4f) %s\n",
           wl_name[q->w], q->n, q->m, policy, min_buffer, q->peak_live,
           (double)min_buffer / (double)q->peak_live, pb, (double)pb / (double)q->peak_live,
           (double)min_buffer / (double)pb, search);
}

/* Candidates below bisection's answer that the FIRST_FIT footprint tries
 * (mode_footprint_ff), one per granule (FF_SCAN_STEP bytes: the engine's
 * alignment). */
#define FF_SCAN_MAX 10000u
#define FF_SCAN_STEP ((size_t)_Alignof(max_align_t))

/* FIRST_FIT: bisection on the buffer size, then a scan below its answer. */
static void mode_footprint_ff(const struct seq *q, char **slot)
{
    size_t hi = q->peak_live + q->peak_live / 8;
    char *buf;
    for (;;) {
        buf = xmalloc(hi);
        if (runs_in(HEAP, buf, hi, q, slot))
            break;
        free(buf);
        hi *= 2;
    }
    size_t lo = q->peak_live; /* a heap of exactly the live bytes cannot hold them */
    if (runs_in(HEAP, buf, lo, q, slot))
        die("footprint: ran in peak_live bytes?");
    /* Bisection first: it finds a size that completes, hi, an upper bound
     * of the minimum. Success is not monotonic in the size, though: a
     * larger buffer changes the last (highest) free block, and its class,
     * which decides some allocations, and in a heap with quick lists it
     * changes their room (a block per FF_QUICK_PER bytes) and so which
     * blocks are set aside; a set-aside block is given back only when an
     * allocation fails. On small / 10,000 / 500,000 pairs bisection stopped
     * at 1.0940 times the peak of live bytes where a buffer of 1.0896 times
     * completes (git 01c85a9). So the sizes below hi are then tried too,
     * smallest first, every granule from the peak of block bytes (no smaller
     * buffer can hold the live blocks), when there are at most FF_SCAN_MAX of
     * them (small: about 6,000 candidates, 25 s; a failing run stops at its
     * first failed allocation); the first that completes is the minimum,
     * exact to a granule. Aligned (42,000 candidates, 4 min) and mixed
     * (575,000) keep bisection's answer, an upper bound. Every trial uses
     * the same buffer (same address): the aligned workload's placement
     * depends on it modulo 256. */
    int trials = 0;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (runs_in(HEAP, buf, mid, q, slot))
            hi = mid;
        else
            lo = mid;
        trials++;
    }
    struct gjbmem_heap_stats st;
    gjb_heap *h;
    if (gjb_heap_init(buf, hi, ff_policy(), 1, &h) != GJB_OK)
        die("footprint: init");
    gjb_heap_get_stats(h, &st);
    struct geometry g = {false, st.header_bytes, st.min_block};
    size_t pb = seq_peak_blocks(q, &g);
    char search[96];
    size_t bisected = hi, scanned = 0;
    if (pb < hi && (hi - pb) / FF_SCAN_STEP <= FF_SCAN_MAX) {
        for (size_t z = pb; z < hi; z += FF_SCAN_STEP, scanned++)
            if (runs_in(HEAP, buf, z, q, slot)) {
                hi = z;
                break;
            }
        snprintf(search, sizeof search, "bisection_trials=%d (found %zu) scan_trials=%zu", trials,
                 bisected, scanned);
    } else {
        snprintf(search, sizeof search, "bisection_trials=%d (an upper bound: no scan)", trials);
    }
    print_footprint("", q, hi, pb, search);
    free(buf);
}

/* BUDDY: where a block goes depends on the free lists' order (last in,
 * first out) and on which buddies are whole, and a larger block area is
 * carved differently (u units of 32 bytes at a 2^k boundary become the
 * binary digits of u), so a larger buffer can send the sequence down a
 * different path. Success is then not monotonic in the size, and it is not
 * in fact: on small / 10,000 / 500,000 pairs, 62 of the 3,000 unit counts
 * just above the minimum fail, all within 142 units of it; on aligned 135,
 * within 249. Bisection would only find some size where success flips. Instead, every candidate is run, smallest first, and the first that
 * succeeds is the minimum:
 *   - the behaviour depends only on the unit count u (the buffer is placed so
 *     that the block area starts at a 2^k boundary above every candidate; a
 *     buffer of D + 33u bytes, D the descriptor and rounding in front, holds
 *     exactly u units: 32 bytes of block area + 1 tag byte each);
 *   - no u below ceil(peak buddy block bytes / 32) can succeed (the live
 *     blocks must fit in the area at the peak), so the scan starts there;
 *   - a failing run stops at its first failed allocation, most of them early
 *     (small: about 600 candidates in 5 s; mixed: about 23,000 in 4 min).
 * The scan is exhaustive, so the minimum is exact for this placement. The
 * line also gives how many of the ABOVE unit counts just above the minimum
 * fail, as a measure of the non-monotonicity. */
static void mode_footprint_buddy(const struct seq *q, char **slot)
{
    struct geometry g = {true, 0, BUDDY_UNIT};
    size_t pb = seq_peak_blocks(q, &g), d = buddy_lead(1);
    size_t u_lo = (pb + BUDDY_UNIT - 1) / BUDDY_UNIT;
    /* reserve room for up to 4 x the lower bound; die if that is not enough */
    size_t u_max = 4 * u_lo + 1024, maxsize = d + (BUDDY_UNIT + 1) * u_max;
    struct reservation rv;
    reserve(&rv, maxsize);
    char *buf = buddy_buffer(&rv, 1);
    size_t u = u_lo, trials = 0;
    double t0 = now_s();
    for (;; u++, trials++) {
        if (u > u_max)
            die("footprint buddy: no success within 4 x the lower bound");
        if (runs_in(BHEAP, buf, d + (BUDDY_UNIT + 1) * u, q, slot))
            break;
    }
    trials++;
    size_t min_buffer = d + (BUDDY_UNIT + 1) * u;
    double t_scan = now_s() - t0;
    /* the same sequence on a buffer one byte smaller must fail */
    if (runs_in(BHEAP, buf, min_buffer - 1, q, slot))
        die("footprint buddy: ran in one byte less");
    enum { ABOVE = 200 };
    size_t fail_above = 0;
    for (size_t v = u + 1; v <= u + ABOVE; v++)
        fail_above += !runs_in(BHEAP, buf, d + (BUDDY_UNIT + 1) * v, q, slot);
    char search[320];
    snprintf(search, sizeof search,
             "area_units=%zu (lower bound %zu, 32 B each) placement=block area at a 2^%d "
             "boundary search=exhaustive_scan_from_lower_bound trials=%zu (%.1f s) "
             "failing_in_next_%d_units=%zu",
             u, u_lo, __builtin_ctzll((unsigned long long)rv.align), trials, t_scan, (int)ABOVE,
             fail_above);
    print_footprint(" buddy", q, min_buffer, pb, search);
    unreserve(&rv);
}

static void mode_footprint(enum alloc_kind k, enum workload w, size_t n, size_t m)
{
    struct seq q;
    seq_make(&q, w, n, m);
    char **slot = xmalloc(n * sizeof *slot);
    if (k == HEAP)
        mode_footprint_ff(&q, slot);
    else if (k == BHEAP)
        mode_footprint_buddy(&q, slot);
    else
        die("footprint: allocator heap | bheap");
    free(slot);
    seq_free(&q);
}

/* --- modes: callgrind ---------------------------------------------------- */

/* One instruction (ret): the per-operation callgrind dump and the trap-flag
 * count are both calibrated on it. */
extern long bench_noop(long a, long b, long c, long d);
__asm__(".text\n.globl bench_noop\n.type bench_noop,@function\nbench_noop:\n\tret\n"
        ".size bench_noop, .-bench_noop\n");

static struct bufs run_bufs; /* the buffers of setup_run's run (kept to the end) */

static void setup_run(enum alloc_kind k, enum workload w, size_t n, size_t m, struct seq *q,
                      struct actx *c, char ***slot)
{
    if (is_malloc(k))
        malloc_check(k);
    seq_make(q, w, n, m);
    bool kinds[NALLOC] = {false};
    kinds[k] = true;
    bufs_open(&run_bufs, q, kinds);
    actx_buffer(c, k, &run_bufs);
    *slot = xmalloc(n * sizeof **slot);
    actx_open(c, k);
    if (fill(c, k, q, *slot))
        die("fill failed");
}

static void mode_cg_steady(enum alloc_kind k, enum workload w, size_t n, size_t m)
{
    struct seq q;
    struct actx c;
    char **slot;
    setup_run(k, w, n, m, &q, &c, &slot);
    if (steady_plain(&c, k, &q, slot))
        die("allocation failed in the steady phase");
    printf("cg-steady %s %s N=%zu M=%zu done\n", al_name[k], wl_name[w], n, m);
}

#ifdef HAVE_CALLGRIND_H
#define PEROP(TAG, NAME, ALLOC)                                               \
    static NOINLINE void NAME##_##TAG(struct actx *c, const struct seq *q, char **slot) \
    {                                                                         \
        for (size_t i = 0; i < q->m; i++) {                                   \
            uint32_t v = q->victim[i];                                        \
            char *p = slot[v];                                                \
            sink += (unsigned char)p[0];                                      \
            TAG##_free(c, p);                                                 \
            CALLGRIND_DUMP_STATS;                                             \
            p = ALLOC(TAG, c, q, q->n + i);                                   \
            CALLGRIND_DUMP_STATS;                                             \
            if (!p)                                                           \
                die("allocation failed in the steady phase");                \
            p[0] = (char)i;                                                   \
            slot[v] = p;                                                      \
        }                                                                     \
    }
FOR_KINDS(PEROP, steady_perop, ALLOC_PLAIN)
FOR_KINDS(PEROP, steady_perop_aligned, ALLOC_ALIGNED)
typedef void (*perop_fn)(struct actx *, const struct seq *, char **);
static const perop_fn perop_tab[2][NALLOC] = {{FOR_KINDS(TAB_ENTRY, steady_perop)},
                                              {FOR_KINDS(TAB_ENTRY, steady_perop_aligned)}};
#endif

static void mode_cg_perop(enum alloc_kind k, enum workload w, size_t n, size_t m)
{
#ifdef HAVE_CALLGRIND_H
    struct seq q;
    struct actx c;
    char **slot;
    setup_run(k, w, n, m, &q, &c, &slot);
    long (*volatile noop)(long, long, long, long) = bench_noop;
    CALLGRIND_ZERO_STATS;
    noop(1, 2, 3, 4);
    CALLGRIND_DUMP_STATS; /* part 1: the calibration, expected 1 instruction */
    perop_tab[q.align != NULL][k](&c, &q, slot);
    printf("cg-perop %s %s N=%zu M=%zu done\n", al_name[k], wl_name[w], n, m);
#else
    (void)k, (void)w, (void)n, (void)m;
    die("built without <valgrind/callgrind.h>");
#endif
}

/* --- mode: trap-flag single stepping ------------------------------------ */

#ifdef HAVE_TSC
static volatile uint64_t steps;

static void on_trap(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    steps++;
}

/* Sets / clears EFLAGS.TF; the red zone is stepped over. */
#define TF_ON()                                                                \
    __asm__ volatile("lea -128(%%rsp),%%rsp\n\tpushfq\n\torq $0x100,(%%rsp)\n\tpopfq\n\t" \
                     "lea 128(%%rsp),%%rsp" ::: "memory", "cc")
#define TF_OFF()                                                               \
    __asm__ volatile("lea -128(%%rsp),%%rsp\n\tpushfq\n\tandq $-257,(%%rsp)\n\tpopfq\n\t" \
                     "lea 128(%%rsp),%%rsp" ::: "memory", "cc")

typedef long (*fn4)(long, long, long, long);

static NOINLINE uint64_t stepped_call(fn4 f, long a, long b, long c, long d, long *ret)
{
    fn4 volatile fv = f;
    uint64_t s0 = steps;
    TF_ON();
    long r = fv(a, b, c, d);
    TF_OFF();
    *ret = r;
    return steps - s0;
}

#define AS_FN4(f) ((fn4)(void (*)(void))(f))

static void mode_tf(enum alloc_kind k, enum workload w, size_t n, size_t count)
{
    struct seq q;
    struct actx c;
    char **slot;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);
    size_t m = (count + 1) / 2;
    setup_run(k, w, n, m, &q, &c, &slot);
    long ret;
    uint64_t base = stepped_call(bench_noop, 0, 0, 0, 0, &ret);
    for (int i = 0; i < 3; i++)
        if (stepped_call(bench_noop, 0, 0, 0, 0, &ret) != base)
            die("tf: unstable calibration");
    uint64_t cal = base - 1; /* bench_noop is one instruction */
    bool al = q.align != NULL;
    fn4 fa, ff;
    long ctx;
    if (is_partition(k)) {
        fa = al ? AS_FN4(mpart_memalign) : AS_FN4(mpart_alloc);
        ff = AS_FN4(mpart_free);
        ctx = (long)c.mid;
    } else if (is_engine(k)) {
        fa = al ? AS_FN4(gjb_heap_memalign) : AS_FN4(gjb_heap_alloc);
        ff = AS_FN4(gjb_heap_free);
        ctx = (long)c.h;
    } else {
        fa = al ? AS_FN4(aligned_alloc) : AS_FN4(malloc);
        ff = AS_FN4(free);
        ctx = 0;
    }
    printf("# tf %s %s N=%zu: calibration %llu steps for a 1-instruction call\n", al_name[k],
           wl_name[w], n, (unsigned long long)base);
    for (size_t i = 0; i < m; i++) {
        uint32_t v = q.victim[i];
        char *p = slot[v];
        uint64_t sf, sa_;
        if (is_malloc(k))
            sf = stepped_call(ff, (long)p, 0, 0, 0, &ret);
        else
            sf = stepped_call(ff, ctx, (long)p, 0, 0, &ret);
        void *np = NULL;
        long sz = (long)q.size[n + i], a = (long)seq_align(&q, n + i);
        if (is_partition(k)) {
            sa_ = al ? stepped_call(fa, ctx, a, sz, 0, &ret) : stepped_call(fa, ctx, sz, 0, 0, &ret);
            np = (void *)ret;
        } else if (is_engine(k)) {
            sa_ = al ? stepped_call(fa, ctx, a, sz, (long)&np, &ret)
                     : stepped_call(fa, ctx, sz, (long)&np, 0, &ret);
        } else {
            sa_ = al ? stepped_call(fa, a, (sz + a - 1) & ~(a - 1), 0, 0, &ret)
                     : stepped_call(fa, sz, 0, 0, 0, &ret);
            np = (void *)ret;
        }
        if (!np)
            die("tf: allocation failed");
        ((char *)np)[0] = 1;
        slot[v] = np;
        printf("%zu free %llu\n%zu alloc %llu\n", 2 * i, (unsigned long long)(sf - cal), 2 * i + 1,
               (unsigned long long)(sa_ - cal));
    }
}
#endif

/* --- main ---------------------------------------------------------------- */

static enum alloc_kind parse_alloc(const char *s)
{
    for (int k = 0; k < NALLOC; k++)
        if (!strcmp(s, al_name[k]))
            return (enum alloc_kind)k;
    die("allocator: part | heap | bpart | bheap | glibc | jemalloc | mimalloc | tcmalloc | preload");
    return PART;
}

static enum workload parse_wl(const char *s)
{
    for (int w = 0; w < NWL; w++)
        if (!strcmp(s, wl_name[w]))
            return (enum workload)w;
    die("workload: small | mixed | aligned");
    return SMALL;
}

/* "a,b,c" -> flags, through parse(name) */
static void parse_list(const char *s, bool *flags, int n, int (*parse)(const char *))
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", s);
    memset(flags, 0, (size_t)n * sizeof *flags);
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
        flags[parse(t)] = true;
}

static int parse_alloc_int(const char *s)
{
    return (int)parse_alloc(s);
}

static int parse_wl_int(const char *s)
{
    return (int)parse_wl(s);
}

static size_t parse_n0(const char *s)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno || *e)
        die("bad number");
    return (size_t)v;
}

static size_t parse_n(const char *s)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno || *e || v == 0)
        die("bad number");
    return (size_t)v;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "time")) {
        bool kinds[NALLOC] = {[PART] = true, [HEAP] = true, [BPART] = true, [BHEAP] = true,
                              [GLIBC] = true};
        bool wls[NWL] = {true, true, true};
        int quick = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--quick"))
                quick = 1;
            else if (!strncmp(argv[i], "--kinds=", 8))
                parse_list(argv[i] + 8, kinds, NALLOC, parse_alloc_int);
            else if (!strncmp(argv[i], "--workloads=", 12))
                parse_list(argv[i] + 12, wls, NWL, parse_wl_int);
            else
                die("time: --quick | --kinds=A,... | --workloads=W,...");
        }
        mode_time(quick, kinds, wls);
        return 0;
    }
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "footprint")) {
        mode_footprint(argc == 6 ? parse_alloc(argv[5]) : HEAP, parse_wl(argv[2]),
                       parse_n(argv[3]), parse_n0(argv[4]));
        return 0;
    }
    if (argc == 6 && !strcmp(argv[1], "cg-steady")) {
        mode_cg_steady(parse_alloc(argv[2]), parse_wl(argv[3]), parse_n(argv[4]),
                       parse_n(argv[5]));
        return 0;
    }
    if (argc == 6 && !strcmp(argv[1], "cg-perop")) {
        mode_cg_perop(parse_alloc(argv[2]), parse_wl(argv[3]), parse_n(argv[4]),
                      parse_n(argv[5]));
        return 0;
    }
#ifdef HAVE_TSC
    if (argc == 6 && !strcmp(argv[1], "tf")) {
        mode_tf(parse_alloc(argv[2]), parse_wl(argv[3]), parse_n(argv[4]), parse_n(argv[5]));
        return 0;
    }
#endif
    fprintf(stderr,
            "usage: bench_alloc time [--quick] [--kinds=A,...] [--workloads=W,...]\n"
            "       bench_alloc footprint W N M [heap|bheap]\n"
            "       bench_alloc cg-steady A W N M\n"
            "       bench_alloc cg-perop  A W N M\n"
            "       bench_alloc tf        A W N OPS\n"
            "  A = part|heap|bpart|bheap|glibc|jemalloc|mimalloc|tcmalloc|preload, W = small|mixed|aligned\n");
    return 2;
}
