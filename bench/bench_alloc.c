/*
 * bench_alloc.c - figures for gjbmem's first-fit allocator (a program that
 * prints numbers; not a test).
 *
 * Three allocators see the same operation sequence (fixed seed):
 *   part  : a FIRST_FIT partition through the public API (mpart_create over
 *           a malloc'd buffer, mpart_alloc / mpart_free: lock + checks)
 *   heap  : the engine directly (gjb_heap_init / gjb_heap_alloc /
 *           gjb_heap_free, no lock)
 *   glibc : malloc / free
 *
 * Workloads: "small" = sizes uniform in [16, 512]; "mixed" = log-uniform in
 * [16, 65536] (size = floor(16 * 4096^u), u uniform in [0,1)). A run fills
 * N live blocks, then a steady phase of M pairs: free a uniformly chosen
 * live block, allocate a new random size in its slot. One byte is written
 * in every block after its allocation and read back before its free.
 *
 * Modes (see bench/run.sh, which drives all of them):
 *   bench_alloc time [--quick]            throughput + latency, all configs
 *   bench_alloc footprint W N M           smallest engine buffer, bisection
 *   bench_alloc cg-steady A W N M         fill, then one steady phase in the
 *                                         function steady_plain_<A> (run it
 *                                         under callgrind with
 *                                         --toggle-collect=steady_plain_*)
 *   bench_alloc cg-perop A W N M          fill, then a steady phase with a
 *                                         CALLGRIND_DUMP_STATS after every
 *                                         alloc and free (run under callgrind
 *                                         with --collect-atstart=no and
 *                                         --toggle-collect on the allocator's
 *                                         alloc and free functions and on
 *                                         bench_noop): one dump per operation
 *   bench_alloc tf A W N K                native x86-64 trap-flag single
 *                                         stepping of the first K operations
 *                                         of the steady phase (cross-check of
 *                                         the callgrind per-operation counts)
 * A = part | heap | glibc, W = small | mixed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* --- the operation sequence --------------------------------------------- */

enum workload { SMALL, MIXED };
static const char *const wl_name[] = {"small", "mixed"};

struct seq {
    size_t n, m;      /* live blocks, steady pairs */
    uint32_t *size;   /* n fill sizes, then m steady sizes */
    uint32_t *victim; /* m slots to free */
    size_t peak_live; /* max over time of the sum of live requested sizes */
};

static uint32_t draw_size(struct rng *r, enum workload w)
{
    if (w == SMALL)
        return 16 + (uint32_t)rng_below(r, 512 - 16 + 1);
    uint32_t s = (uint32_t)(16.0 * exp2(12.0 * rng_unit(r)));
    return s < 16 ? 16 : s > 65536 ? 65536 : s;
}

static void seq_make(struct seq *q, enum workload w, size_t n, size_t m)
{
    struct rng r;
    rng_seed(&r, SEED);
    q->n = n;
    q->m = m;
    q->size = xmalloc((n + m) * sizeof *q->size);
    q->victim = xmalloc((m ? m : 1) * sizeof *q->victim);
    size_t live = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        q->size[i] = draw_size(&r, w);
        live += q->size[i];
    }
    peak = live;
    uint32_t *cur = xmalloc(n * sizeof *cur);
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
    free(cur);
    q->peak_live = peak;
}

/* Peak of the sum of block sizes (header + rounding + minimum block), for the
 * engine's block geometry: splits the footprint into internal overhead and
 * the rest. */
static size_t seq_peak_blocks(const struct seq *q, size_t hdr, size_t minb)
{
    size_t g = _Alignof(max_align_t);
#define BLK(s) ((((size_t)(s) + hdr + g - 1) & ~(g - 1)) < minb ? minb : (((size_t)(s) + hdr + g - 1) & ~(g - 1)))
    size_t live = 0, peak;
    uint32_t *cur = xmalloc(q->n * sizeof *cur);
    for (size_t i = 0; i < q->n; i++) {
        cur[i] = q->size[i];
        live += BLK(cur[i]);
    }
    peak = live;
    for (size_t i = 0; i < q->m; i++) {
        uint32_t v = q->victim[i], s = q->size[q->n + i];
        live = live - BLK(cur[v]) + BLK(s);
        cur[v] = s;
        if (live > peak)
            peak = live;
    }
#undef BLK
    free(cur);
    return peak;
}

static void seq_free(struct seq *q)
{
    free(q->size);
    free(q->victim);
}

/* --- allocators --------------------------------------------------------- */

enum alloc_kind { PART, HEAP, GLIBC, NALLOC };
static const char *const al_name[] = {"part", "heap", "glibc"};

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

static inline void glibc_free(struct actx *c, void *p)
{
    (void)c;
    free(p);
}

static void actx_open(struct actx *c, enum alloc_kind k)
{
    if (k == PART) {
        if (mpart_create(c->buf, c->bufsize, &c->mid) != 0)
            die("mpart_create failed");
    } else if (k == HEAP) {
        if (gjb_heap_init(c->buf, c->bufsize, GJB_FIRST_FIT, 1, &c->h) != GJB_OK)
            die("gjb_heap_init failed");
    }
}

static void actx_close(struct actx *c, enum alloc_kind k)
{
    if (k == PART && mpart_delete(c->mid) != 0)
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

static int fill(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot)
{
    for (size_t i = 0; i < q->n; i++) {
        char *p = k == PART ? part_alloc(c, q->size[i])
                : k == HEAP ? heap_alloc(c, q->size[i])
                            : glibc_alloc(c, q->size[i]);
        if (!p)
            return -1;
        p[0] = (char)i;
        slot[i] = p;
    }
    return 0;
}

static void free_all(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot)
{
    for (size_t i = 0; i < q->n; i++) {
        if (k == PART)
            part_free(c, slot[i]);
        else if (k == HEAP)
            heap_free(c, slot[i]);
        else
            glibc_free(c, slot[i]);
    }
}

static volatile unsigned sink;

/* Plain steady phase: returns the number of failed allocations (stops at the
 * first). One copy per allocator so the calls are direct. */
#define STEADY_PLAIN(TAG)                                                     \
    static NOINLINE size_t steady_plain_##TAG(struct actx *c, const struct seq *q, \
                                              char **slot)                    \
    {                                                                         \
        unsigned acc = 0;                                                     \
        for (size_t i = 0; i < q->m; i++) {                                   \
            uint32_t v = q->victim[i];                                        \
            char *p = slot[v];                                                \
            acc += (unsigned char)p[0];                                       \
            TAG##_free(c, p);                                                 \
            p = TAG##_alloc(c, q->size[q->n + i]);                            \
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
STEADY_PLAIN(part)
STEADY_PLAIN(heap)
STEADY_PLAIN(glibc)

/* Timed steady phase: ticks of every free and alloc. */
#define STEADY_TIMED(TAG)                                                     \
    static NOINLINE void steady_timed_##TAG(struct actx *c, const struct seq *q, \
                                            char **slot, uint32_t *lf, uint32_t *la) \
    {                                                                         \
        unsigned acc = 0;                                                     \
        for (size_t i = 0; i < q->m; i++) {                                   \
            uint32_t v = q->victim[i];                                        \
            char *p = slot[v];                                                \
            acc += (unsigned char)p[0];                                       \
            uint64_t t0 = ticks();                                            \
            TAG##_free(c, p);                                                 \
            uint64_t t1 = ticks();                                            \
            p = TAG##_alloc(c, q->size[q->n + i]);                            \
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
STEADY_TIMED(part)
STEADY_TIMED(heap)
STEADY_TIMED(glibc)

static size_t steady_plain(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot)
{
    return k == PART ? steady_plain_part(c, q, slot)
         : k == HEAP ? steady_plain_heap(c, q, slot)
                     : steady_plain_glibc(c, q, slot);
}

static void steady_timed(struct actx *c, enum alloc_kind k, const struct seq *q, char **slot,
                         uint32_t *lf, uint32_t *la)
{
    if (k == PART)
        steady_timed_part(c, q, slot, lf, la);
    else if (k == HEAP)
        steady_timed_heap(c, q, slot, lf, la);
    else
        steady_timed_glibc(c, q, slot, lf, la);
}

/* Buffer for part/heap: generous, so that no allocation fails. */
static size_t buffer_for(const struct seq *q)
{
    return 2 * q->peak_live + 64 * q->n + (1u << 20);
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
    size_t free_blocks; /* part/heap: free blocks after the steady phase */
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

static void mode_time(int quick)
{
    const size_t ns[2] = {10000, 100000};
    const size_t m = quick ? 50000 : 500000;
    const int rt = quick ? 3 : 5, rl = quick ? 1 : 3;

    timer_calibrate();
    printf("# timer: %s, %.4f ns/tick, overhead %llu ticks (%.1f ns) subtracted from every "
           "latency sample\n",
           TIMER_NAME, ns_per_tick, (unsigned long long)timer_overhead,
           (double)timer_overhead * ns_per_tick);
    printf("# steady phase M = %zu pairs (free + alloc) per run; throughput: median of %d runs; "
           "latency: median over %d runs of each run's percentile\n", m, rt, rl);
    printf("# op = one alloc or one free call; Mops/s = 2*M / steady-phase seconds\n");
    noise_probe("before");
    printf("\n");
    printf("%-6s %7s %-6s %9s %9s | %-28s | %-28s | %s\n", "", "", "", "Mops/s", "vs glibc",
           "alloc ns p50/p99/p99.99/max", "free ns p50/p99/p99.99/max", "free blocks");
    fflush(stdout);

    for (int w = 0; w < 2; w++) {
        for (int ni = 0; ni < 2; ni++) {
            struct seq q;
            seq_make(&q, (enum workload)w, ns[ni], m);
            struct actx c = {0};
            c.bufsize = buffer_for(&q);
            c.buf = xmalloc(c.bufsize);
            char **slot = xmalloc(q.n * sizeof *slot);
            uint32_t *lf = xmalloc(m * sizeof *lf), *la = xmalloc(m * sizeof *la);
            static struct result res[NALLOC];
            memset(res, 0, sizeof res);

            for (int r = 0; r < rt; r++) {
                for (int k = 0; k < NALLOC; k++) {
                    actx_open(&c, (enum alloc_kind)k);
                    if (fill(&c, (enum alloc_kind)k, &q, slot))
                        die("fill failed");
                    double t0 = now_s();
                    if (steady_plain(&c, (enum alloc_kind)k, &q, slot))
                        die("allocation failed in the steady phase");
                    double t = now_s() - t0;
                    res[k].mops[r] = 2.0 * (double)m / t / 1e6;
                    if (k == HEAP) {
                        struct gjbmem_heap_stats st;
                        if (r == 0 && gjb_heap_validate(c.h) != GJB_OK)
                            die("gjb_heap_validate failed after the steady phase");
                        gjb_heap_get_stats(c.h, &st);
                        res[k].free_blocks = st.free_blocks;
                    } else if (k == PART) {
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
                res[k].mops_med = median(res[k].mops, rt);
                res[k].fr_med = pct_median(res[k].fr, rl);
                res[k].al_med = pct_median(res[k].al, rl);
            }
            for (int k = 0; k < NALLOC; k++) {
                struct result *x = &res[k];
                char fb[32] = "-";
                if (k != GLIBC)
                    snprintf(fb, sizeof fb, "%zu", x->free_blocks);
                printf("%-6s %7zu %-6s %9.2f %8.2fx | %5.0f %6.0f %7.0f %8.0f | %5.0f %6.0f %7.0f "
                       "%8.0f | %s\n",
                       wl_name[w], q.n, al_name[k], x->mops_med,
                       x->mops_med / res[GLIBC].mops_med, x->al_med.p50, x->al_med.p99,
                       x->al_med.p9999, x->al_med.max, x->fr_med.p50, x->fr_med.p99,
                       x->fr_med.p9999, x->fr_med.max, fb);
            }
            printf("%-6s %7zu %-6s runs Mops/s:", wl_name[w], q.n, "");
            for (int k = 0; k < NALLOC; k++) {
                printf(" %s", al_name[k]);
                for (int r = 0; r < rt; r++)
                    printf("%s%.2f", r ? "," : "=", res[k].mops[r]);
            }
            printf("\n");
            fflush(stdout);
            free(lf);
            free(la);
            free(slot);
            free(c.buf);
            seq_free(&q);
        }
    }
    noise_probe("after");
}

/* --- mode: footprint ----------------------------------------------------- */

/* True when the whole sequence runs on an engine heap of `size` bytes at
 * `buf` without a failed allocation. */
static int runs_in(char *buf, size_t size, const struct seq *q, char **slot)
{
    struct actx c = {0};
    c.buf = buf;
    c.bufsize = size;
    if (gjb_heap_init(buf, size, GJB_FIRST_FIT, 1, &c.h) != GJB_OK)
        return 0;
    for (size_t i = 0; i < q->n; i++) {
        char *p = heap_alloc(&c, q->size[i]);
        if (!p)
            return 0;
        p[0] = (char)i;
        slot[i] = p;
    }
    return steady_plain_heap(&c, q, slot) == 0;
}

static void mode_footprint(enum workload w, size_t n, size_t m)
{
    struct seq q;
    seq_make(&q, w, n, m);
    char **slot = xmalloc(n * sizeof *slot);
    size_t hi = q.peak_live + q.peak_live / 8;
    char *buf;
    for (;;) {
        buf = xmalloc(hi);
        if (runs_in(buf, hi, &q, slot))
            break;
        free(buf);
        hi *= 2;
    }
    size_t lo = q.peak_live; /* a heap of exactly the live bytes cannot hold them */
    if (runs_in(buf, lo, &q, slot))
        die("footprint: ran in peak_live bytes?");
    /* First fit over the same sequence places every block at the same offset
     * whatever the buffer size, as long as nothing fails, so success is
     * monotonic in the size and bisection finds the exact minimum. */
    int trials = 0;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (runs_in(buf, mid, &q, slot))
            hi = mid;
        else
            lo = mid;
        trials++;
    }
    struct gjbmem_heap_stats st;
    gjb_heap *h;
    if (gjb_heap_init(buf, hi, GJB_FIRST_FIT, 1, &h) != GJB_OK)
        die("footprint: init");
    gjb_heap_get_stats(h, &st);
    size_t pb = seq_peak_blocks(&q, st.header_bytes, st.min_block);
    printf("footprint %s N=%zu M=%zu: min_buffer=%zu peak_live=%zu ratio=%.4f "
           "peak_block_bytes=%zu (blocks/live=%.4f, buffer/blocks=%.4f) bisection_trials=%d\n",
           wl_name[w], n, m, hi, q.peak_live, (double)hi / (double)q.peak_live, pb,
           (double)pb / (double)q.peak_live, (double)hi / (double)pb, trials);
    free(buf);
    free(slot);
    seq_free(&q);
}

/* --- modes: callgrind ---------------------------------------------------- */

/* One instruction (ret): the per-operation callgrind dump and the trap-flag
 * count are both calibrated on it. */
extern long bench_noop(long a, long b, long c);
__asm__(".text\n.globl bench_noop\n.type bench_noop,@function\nbench_noop:\n\tret\n"
        ".size bench_noop, .-bench_noop\n");

static void setup_run(enum alloc_kind k, enum workload w, size_t n, size_t m, struct seq *q,
                      struct actx *c, char ***slot)
{
    seq_make(q, w, n, m);
    memset(c, 0, sizeof *c);
    if (k != GLIBC) {
        c->bufsize = buffer_for(q);
        c->buf = xmalloc(c->bufsize);
    }
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
#define PEROP(TAG)                                                            \
    static NOINLINE void steady_perop_##TAG(struct actx *c, const struct seq *q, char **slot) \
    {                                                                         \
        for (size_t i = 0; i < q->m; i++) {                                   \
            uint32_t v = q->victim[i];                                        \
            char *p = slot[v];                                                \
            sink += (unsigned char)p[0];                                      \
            TAG##_free(c, p);                                                 \
            CALLGRIND_DUMP_STATS;                                             \
            p = TAG##_alloc(c, q->size[q->n + i]);                            \
            CALLGRIND_DUMP_STATS;                                             \
            if (!p)                                                           \
                die("allocation failed in the steady phase");                \
            p[0] = (char)i;                                                   \
            slot[v] = p;                                                      \
        }                                                                     \
    }
PEROP(part)
PEROP(heap)
PEROP(glibc)
#endif

static void mode_cg_perop(enum alloc_kind k, enum workload w, size_t n, size_t m)
{
#ifdef HAVE_CALLGRIND_H
    struct seq q;
    struct actx c;
    char **slot;
    setup_run(k, w, n, m, &q, &c, &slot);
    long (*volatile noop)(long, long, long) = bench_noop;
    CALLGRIND_ZERO_STATS;
    noop(1, 2, 3);
    CALLGRIND_DUMP_STATS; /* part 1: the calibration, expected 1 instruction */
    if (k == PART)
        steady_perop_part(&c, &q, slot);
    else if (k == HEAP)
        steady_perop_heap(&c, &q, slot);
    else
        steady_perop_glibc(&c, &q, slot);
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

typedef long (*fn3)(long, long, long);

static NOINLINE uint64_t stepped_call(fn3 f, long a, long b, long c, long *ret)
{
    fn3 volatile fv = f;
    uint64_t s0 = steps;
    TF_ON();
    long r = fv(a, b, c);
    TF_OFF();
    *ret = r;
    return steps - s0;
}

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
    uint64_t base = stepped_call(bench_noop, 0, 0, 0, &ret);
    for (int i = 0; i < 3; i++)
        if (stepped_call(bench_noop, 0, 0, 0, &ret) != base)
            die("tf: unstable calibration");
    uint64_t cal = base - 1; /* bench_noop is one instruction */
    fn3 fa, ff;
    long ctx;
    if (k == PART) {
        fa = (fn3)(void (*)(void))mpart_alloc;
        ff = (fn3)(void (*)(void))mpart_free;
        ctx = (long)c.mid;
    } else if (k == HEAP) {
        fa = (fn3)(void (*)(void))gjb_heap_alloc;
        ff = (fn3)(void (*)(void))gjb_heap_free;
        ctx = (long)c.h;
    } else {
        fa = (fn3)(void (*)(void))malloc;
        ff = (fn3)(void (*)(void))free;
        ctx = 0;
    }
    printf("# tf %s %s N=%zu: calibration %llu steps for a 1-instruction call\n", al_name[k],
           wl_name[w], n, (unsigned long long)base);
    for (size_t i = 0; i < m; i++) {
        uint32_t v = q.victim[i];
        char *p = slot[v];
        uint64_t sf, sa_;
        if (k == GLIBC)
            sf = stepped_call(ff, (long)p, 0, 0, &ret);
        else
            sf = stepped_call(ff, ctx, (long)p, 0, &ret);
        void *np = NULL;
        long sz = (long)q.size[n + i];
        if (k == PART) {
            sa_ = stepped_call(fa, ctx, sz, 0, &ret);
            np = (void *)ret;
        } else if (k == HEAP) {
            sa_ = stepped_call(fa, ctx, sz, (long)&np, &ret);
        } else {
            sa_ = stepped_call(fa, sz, 0, 0, &ret);
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
    die("allocator: part | heap | glibc");
    return PART;
}

static enum workload parse_wl(const char *s)
{
    if (!strcmp(s, "small"))
        return SMALL;
    if (!strcmp(s, "mixed"))
        return MIXED;
    die("workload: small | mixed");
    return SMALL;
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
        mode_time(argc >= 3 && !strcmp(argv[2], "--quick"));
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "footprint")) {
        mode_footprint(parse_wl(argv[2]), parse_n(argv[3]), parse_n0(argv[4]));
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
            "usage: bench_alloc time [--quick]\n"
            "       bench_alloc footprint small|mixed N M\n"
            "       bench_alloc cg-steady part|heap|glibc small|mixed N M\n"
            "       bench_alloc cg-perop  part|heap|glibc small|mixed N M\n"
            "       bench_alloc tf        part|heap|glibc small|mixed N OPS\n");
    return 2;
}
