/*
 * replay.c - one replay of a trace into one target (replay.h).
 *
 * Every call of the trace is made again, in order, on one thread: malloc,
 * calloc (no zeroing), valloc and pvalloc as plain or aligned allocations
 * of the bytes asked for (0 bytes as 1: a partition refuses 0), realloc as
 * realloc, free as free. Calls that returned NULL in the recording, and
 * pointers the recorder did not know, are skipped. A realloc the target
 * refuses frees the old block (the program would have gone on without it).
 *
 * Footprint: the highest byte of any block ever allocated, counted from the
 * partition's first byte (so it includes the heap's descriptor); the same
 * for an allocator plugin, from its pool's first byte. For glibc:
 * the highest byte in use in its heap, counted from the heap's first byte
 * (the tool's own few blocks there included), plus the chunks it mapped on
 * their own (the extent over time is that high-water mark too).
 * Block bytes: usable size + header for a partition (a plugin: the header
 * it declares); the chunk size for glibc (read from the chunk's header
 * word, as glibc lays it out).
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gjbmem/mpart.h>

#include "replay.h"

const char *const rp_target_name[RP_TARGETS] = {"first-fit", "buddy", "glibc"};

/* --- pages --------------------------------------------------------------- */

static void *pages(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unpages(void *p, size_t n)
{
    if (p)
        munmap(p, n ? n : 1);
}

/* A power of two above twice the peak's live bytes and 32 bytes of slack per
 * live block: what one would provision, so that the footprint says where a
 * policy puts its blocks in a partition of a likely size (replay doubles it
 * while allocations fail). */
size_t rp_default_size(const struct gjbt_trace *t)
{
    uint64_t want = 2 * t->peak_live + 32 * (uint64_t)t->peak_blocks + ((uint64_t)1 << 16);
    size_t s = (size_t)1 << 16;
    while (s < want && s < ((size_t)1 << 40))
        s <<= 1;
    return s;
}

/* --- the live extent, for the picture over time --------------------------
 * Live block ends counted per bucket of 2^shift bytes; the extent is the end
 * of the highest non-empty bucket (exact to a bucket). */

#define EXTENT_BUCKETS 65536

struct extent {
    uint32_t *cnt;
    unsigned shift;
    size_t top; /* highest non-empty bucket + 1 */
};

static bool extent_init(struct extent *x, size_t size)
{
    x->shift = 4;
    while ((size >> x->shift) >= EXTENT_BUCKETS)
        x->shift++;
    x->top = 0;
    x->cnt = pages(EXTENT_BUCKETS * sizeof *x->cnt);
    return x->cnt != NULL;
}

static void extent_add(struct extent *x, uint64_t end)
{
    size_t b = (size_t)((end - 1) >> x->shift);
    if (b >= EXTENT_BUCKETS)
        b = EXTENT_BUCKETS - 1;
    x->cnt[b]++;
    if (b + 1 > x->top)
        x->top = b + 1;
}

static void extent_del(struct extent *x, uint64_t end)
{
    size_t b = (size_t)((end - 1) >> x->shift);
    if (b >= EXTENT_BUCKETS)
        b = EXTENT_BUCKETS - 1;
    x->cnt[b]--;
    while (x->top && !x->cnt[x->top - 1])
        x->top--;
}

/* --- the targets --------------------------------------------------------- */

struct target {
    int kind;
    mpart_id mid;
    const struct rp_plugin *pl; /* RP_PLUGIN */
    char *base;       /* partition, plugin: the pool's first byte */
    size_t size;      /* partition, plugin: the pool's bytes */
    size_t hdr;       /* partition, plugin: header bytes per block */
    bool broken;      /* plugin: it broke its contract (see run.r->error) */
    uintptr_t heap0;  /* glibc: its heap's first byte */
    uint64_t high;    /* glibc: highest byte in use in its heap, from heap0 */
    uint64_t mmapped; /* glibc: bytes of live chunks mapped on their own */
};

/* glibc's chunk header: the word before the payload holds the chunk's size
 * and flags. Under a sanitizer, malloc is the sanitizer's: no such word. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GLIBC_HEADERS 0
#else
#define GLIBC_HEADERS 1
#endif
#define GLIBC_IS_MMAPPED 2u

static size_t glibc_word(const void *p)
{
    size_t w = 0;
    if (GLIBC_HEADERS)
        memcpy(&w, (const char *)p - sizeof w, sizeof w);
    return w;
}

static size_t glibc_chunk(const void *p)
{
    return GLIBC_HEADERS ? glibc_word(p) & ~(size_t)7 : malloc_usable_size((void *)p) + sizeof(size_t);
}

/* align: the alignment the call asked for, 0 for none. gjbmem and glibc
 * align every block to 16 bytes; a plugin is told what was asked. */
static inline void *t_alloc(struct target *t, size_t size, size_t align)
{
    switch (t->kind) {
    case RP_GLIBC: return align > 16 ? memalign(align, size) : malloc(size);
    case RP_PLUGIN: return t->pl->alloc(size, align);
    default: return align > 16 ? mpart_memalign(t->mid, align, size) : mpart_alloc(t->mid, size);
    }
}

static inline void *t_realloc(struct target *t, void *p, size_t size)
{
    switch (t->kind) {
    case RP_GLIBC: return realloc(p, size);
    case RP_PLUGIN: return t->pl->realloc(p, size);
    default: return mpart_realloc(t->mid, p, size);
    }
}

static inline void t_free(struct target *t, void *p)
{
    switch (t->kind) {
    case RP_GLIBC: free(p); break;
    case RP_PLUGIN: t->pl->free(p); break;
    default: mpart_free(t->mid, p); break;
    }
}

static inline size_t t_usable(struct target *t, void *p)
{
    switch (t->kind) {
    case RP_GLIBC: return malloc_usable_size(p);
    case RP_PLUGIN: return t->pl->usable(p);
    default: return mpart_usable_size(t->mid, p);
    }
}

/* Bytes of the block at p, and where it ends (from the pool's start, or
 * for glibc, 0). */
static uint64_t t_block(struct target *t, void *p, uint64_t *end)
{
    if (t->kind == RP_GLIBC) {
        size_t c = glibc_chunk(p);
        *end = 0;
        return c;
    }
    size_t u = t_usable(t, p);
    *end = (uint64_t)((char *)p - t->base) + u;
    return u + t->hdr;
}

/* --- the replay state ---------------------------------------------------- */

struct run {
    const struct gjbt_trace *tr;
    const struct rp_opts *o;
    struct rp_result *r;
    struct target tg;
    void **obj;      /* by id: the block, or NULL */
    uint64_t *blk;   /* by id: its block bytes */
    uint64_t *end;   /* by id: where it ends (partitions) */
    uint64_t blocks; /* block bytes live now */
    uint64_t live;   /* requested bytes live now */
    uint64_t *reqsz; /* by id: requested bytes */
    uint32_t *ns;    /* per call, when timing */
    size_t nns;
    struct extent ext;
    size_t next_sample;
    double overhead; /* of one pair of clock reads */
};

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Median cost of two back-to-back clock reads, taken off every timing. */
static double clock_overhead(void)
{
    uint64_t d[201];
    for (int i = 0; i < 201; i++) {
        uint64_t a = now_ns();
        d[i] = now_ns() - a;
    }
    for (int i = 1; i < 201; i++)
        for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
            uint64_t x = d[j];
            d[j] = d[j - 1];
            d[j - 1] = x;
        }
    return (double)d[100];
}

/* A plugin's block must lie in its pool, have the alignment asked for and
 * at least the bytes asked for; false (the replay stops) when it does not. */
static bool plugin_block_ok(struct run *u, void *p, uint64_t req, size_t align)
{
    const char *why = NULL;
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)u->tg.base;
    size_t usable = 0;
    if (a < lo || a - lo >= u->tg.size)
        why = "outside the pool";
    else if (align && a % align)
        why = "not aligned as asked";
    else if ((usable = t_usable(&u->tg, p)) < req || usable > u->tg.size - (a - lo))
        why = "whose usable size is smaller than asked or runs past the pool";
    if (!why)
        return true;
    snprintf(u->r->error, sizeof u->r->error,
             "the plugin returned a block %s (%p for %" PRIu64 " bytes, alignment %zu, usable "
             "%zu; the pool: %p, %zu bytes)", why, p, req, align, usable, (void *)u->tg.base,
             u->tg.size);
    u->tg.broken = true;
    return false;
}

static void note_block(struct run *u, uint32_t id, void *p, uint64_t req, size_t align)
{
    if (u->tg.kind == RP_PLUGIN && !plugin_block_ok(u, p, req, align))
        return;
    uint64_t end = 0, b = t_block(&u->tg, p, &end);
    u->obj[id] = p;
    u->blk[id] = b;
    u->reqsz[id] = req;
    u->blocks += b;
    u->live += req;
    if (u->tg.kind == RP_GLIBC) {
        if (glibc_word(p) & GLIBC_IS_MMAPPED) {
            u->tg.mmapped += b;
        } else if (GLIBC_HEADERS) {
            uint64_t e = (uint64_t)((uintptr_t)p + malloc_usable_size(p) - u->tg.heap0);
            if (e > u->tg.high)
                u->tg.high = e;
        }
        end = u->tg.high + u->tg.mmapped;
    } else if (u->o->samples) {
        extent_add(&u->ext, end);
    }
    u->end[id] = end;
    if (end > u->r->footprint)
        u->r->footprint = end; /* replay_loop notes the event */
}

static void forget_block(struct run *u, uint32_t id)
{
    void *p = u->obj[id];
    u->blocks -= u->blk[id];
    u->live -= u->reqsz[id];
    if (u->tg.kind == RP_GLIBC) {
        if (glibc_word(p) & GLIBC_IS_MMAPPED)
            u->tg.mmapped -= u->blk[id];
    } else if (u->o->samples) {
        extent_del(&u->ext, u->end[id]);
    }
    u->obj[id] = NULL;
}

static void failed(struct run *u)
{
    u->r->failed++;
}

/* Replays event e. Returns the nanoseconds its call took (when timed), or
 * -1 when nothing was called. */
static double step(struct run *u, const struct gjbt_event *e, bool timed)
{
    uint64_t t0 = 0, t1 = 0;
    size_t size = e->size ? (size_t)e->size : 1, align = (size_t)gjbt_align(e);
    void *p = NULL;
    switch (e->op) {
    case GJBT_FREE:
        if (!e->old || !u->obj[e->old])
            return -1;
        p = u->obj[e->old];
        forget_block(u, e->old);
        t0 = timed ? now_ns() : 0;
        t_free(&u->tg, p);
        t1 = timed ? now_ns() : 0;
        break;
    case GJBT_USABLE_SIZE:
        if (!e->old || !u->obj[e->old])
            return -1;
        t0 = timed ? now_ns() : 0;
        (void)t_usable(&u->tg, u->obj[e->old]);
        t1 = timed ? now_ns() : 0;
        break;
    case GJBT_REALLOC:
    case GJBT_REALLOCARRAY: {
        void *old = e->old ? u->obj[e->old] : NULL;
        if (!e->id && !(old && e->size == 0 && !(e->flags & GJBT_EV_OVERFLOW)))
            return -1; /* refused in the recording */
        if (old)
            forget_block(u, e->old);
        t0 = timed ? now_ns() : 0;
        if (!e->id) {
            t_free(&u->tg, old); /* realloc(p, 0) */
        } else if (old) {
            p = t_realloc(&u->tg, old, size);
        } else {
            p = t_alloc(&u->tg, size, 0);
        }
        t1 = timed ? now_ns() : 0;
        if (e->id && !p) {
            failed(u);
            if (old)
                t_free(&u->tg, old);
        } else if (p) {
            note_block(u, e->id, p, e->size, 0);
        }
        break;
    }
    default: /* the allocating calls */
        if (!e->id)
            return -1;
        t0 = timed ? now_ns() : 0;
        p = t_alloc(&u->tg, size, align);
        t1 = timed ? now_ns() : 0;
        if (p)
            note_block(u, e->id, p, e->size, align);
        else
            failed(u);
        break;
    }
    double d = (double)(t1 - t0) - u->overhead;
    return d < 0 ? 0 : d;
}

static void sample(struct run *u, size_t i)
{
    struct rp_sample *s = &u->o->samples[u->next_sample++];
    s->event = i;
    s->live = u->live;
    s->blocks = u->blocks;
    s->extent = u->tg.kind == RP_GLIBC ? u->tg.high + u->tg.mmapped
                                       : (uint64_t)u->ext.top << u->ext.shift;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void percentiles(struct run *u)
{
    struct rp_result *r = u->r;
    if (!u->nns)
        return;
    double sum = 0;
    for (size_t i = 0; i < u->nns; i++)
        sum += u->ns[i];
    qsort(u->ns, u->nns, sizeof *u->ns, cmp_u32);
    r->ns_mean = sum / (double)u->nns;
    r->ns_p50 = u->ns[(u->nns - 1) / 2];
    r->ns_p99 = u->ns[(size_t)((double)(u->nns - 1) * 0.99)];
    r->ns_p9999 = u->ns[(size_t)((double)(u->nns - 1) * 0.9999)];
    r->ns_max = u->ns[u->nns - 1];
    r->timed = true;
}

/* The whole replay loop (in this process). */
static void replay_loop(struct run *u)
{
    const struct gjbt_trace *t = u->tr;
    const struct rp_opts *o = u->o;
    size_t n = o->until && o->until < t->nev ? o->until : t->nev;
    for (size_t i = 0; i < n; i++) {
        const struct gjbt_event *e = &t->ev[i];
        bool call = e->op != GJBT_INHERIT;
        uint64_t fp = u->r->footprint;
        double d = call ? step(u, e, o->timing) : -1;
        if (!call && e->id) { /* an inherited block: allocated untimed */
            size_t align = (size_t)gjbt_align(e);
            void *p = t_alloc(&u->tg, e->size ? (size_t)e->size : 1, align);
            if (p)
                note_block(u, e->id, p, e->size, align);
            else
                failed(u);
        }
        if (u->r->footprint != fp)
            u->r->footprint_index = i;
        if (call && d >= 0) {
            u->r->replayed++;
            if (o->timing)
                u->ns[u->nns++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        }
        if (i == t->peak_index)
            u->r->blocks_at_peak = u->blocks;
        if (o->samples && u->next_sample < o->nsamples &&
            i + 1 >= (u->next_sample + 1) * t->nev / o->nsamples)
            sample(u, i);
        if (o->prog && (i & 0xfff) == 0)
            progress_update(o->prog, i, t->nev);
        if ((o->stop_on_failure && u->r->failed) || u->tg.broken)
            break;
    }
}

/* Frees what is still live (not timed). */
static void free_all(struct run *u)
{
    for (uint32_t id = 1; id <= u->tr->max_id; id++)
        if (u->obj[id]) {
            t_free(&u->tg, u->obj[id]);
            u->obj[id] = NULL;
        }
}

static bool run_alloc(struct run *u)
{
    size_t ids = (size_t)u->tr->max_id + 1;
    u->obj = pages(ids * sizeof *u->obj);
    u->blk = pages(ids * sizeof *u->blk);
    u->end = pages(ids * sizeof *u->end);
    u->reqsz = pages(ids * sizeof *u->reqsz);
    u->ns = u->o->timing ? pages(u->tr->nev * sizeof *u->ns) : NULL;
    if (u->o->samples && !extent_init(&u->ext, u->o->size ? u->o->size : ((size_t)1 << 40)))
        return false;
    return u->obj && u->blk && u->end && u->reqsz && (!u->o->timing || u->ns);
}

static void run_release(struct run *u)
{
    size_t ids = (size_t)u->tr->max_id + 1;
    unpages(u->obj, ids * sizeof *u->obj);
    unpages(u->blk, ids * sizeof *u->blk);
    unpages(u->end, ids * sizeof *u->end);
    unpages(u->reqsz, ids * sizeof *u->reqsz);
    unpages(u->ns, u->tr->nev * sizeof *u->ns);
    unpages(u->ext.cnt, EXTENT_BUCKETS * sizeof *u->ext.cnt);
}

/* Copies the partition's blocks for the heap map. */
static void take_map(struct run *u)
{
    const struct rp_opts *o = u->o;
    size_t n = 0;
    *o->map = NULL;
    *o->nmap = 0;
    *o->map_base = (uintptr_t)u->tg.base;
    if (mpart_blocks(u->tg.mid, NULL, 0, &n) != 0)
        return;
    struct mpart_block *b = malloc((n ? n : 1) * sizeof *b);
    if (b && mpart_blocks(u->tg.mid, b, n, &n) == 0) {
        *o->map = b;
        *o->nmap = n;
    } else {
        free(b);
    }
}

/* Makes the heap in the pool at u->tg.base: a partition of the policy, or
 * the plugin's. 0, or -1 with u->r->error set. */
static int pool_open(struct run *u)
{
    struct target *t = &u->tg;
    if (t->kind == RP_PLUGIN) {
        if (t->pl->init(t->base, t->size) != 0) {
            snprintf(u->r->error, sizeof u->r->error,
                     "gjbmem_plugin_init refused a pool of %zu bytes", t->size);
            return -1;
        }
        t->hdr = t->pl->header;
        u->r->header = t->pl->header;
        return 0;
    }
    int pol = t->kind == RP_BUDDY ? BUDDY_ALLOCATION : FIRST_FIT_ALLOCATION;
    struct gjbmem_heap_stats st;
    if (mpart_create_ex(t->base, t->size, pol, &t->mid) != 0) {
        snprintf(u->r->error, sizeof u->r->error, "mpart_create_ex(%zu bytes): %s", t->size,
                 gjbmem_strerror(errno));
        return -1;
    }
    mpart_getstats(t->mid, &st);
    t->hdr = st.header_bytes;
    u->r->header = st.header_bytes;
    u->r->min_block = st.min_block;
    return 0;
}

static void pool_close(struct run *u)
{
    if (u->tg.kind == RP_PLUGIN)
        u->tg.pl->fini();
    else
        mpart_delete(u->tg.mid);
}

/* A replay into a pool (a partition, or a plugin's heap): the memory is
 * aligned to a power of two at least its size, so every replay lays the
 * heap out alike (the best case for BUDDY). */
static int run_pool(struct run *u)
{
    size_t size = u->o->size, align = 4096;
    while (align < size && align < ((size_t)1 << 40))
        align <<= 1;
    size_t maplen = size + align;
    char *m = pages(maplen);
    if (!m) {
        snprintf(u->r->error, sizeof u->r->error, "cannot map %zu bytes", maplen);
        return -1;
    }
    u->tg.base = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
    u->tg.size = size;
    if (pool_open(u) != 0) {
        unpages(m, maplen);
        return -1;
    }
    replay_loop(u);
    if (u->o->map && u->tg.kind != RP_PLUGIN)
        take_map(u);
    free_all(u);
    pool_close(u);
    unpages(m, maplen);
    return u->tg.broken ? -2 : 0;
}

/* A glibc replay, in a child so that glibc's heap starts clean; the result
 * comes back through a pipe. */
static int run_glibc(struct run *u)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(u->r->error, sizeof u->r->error, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(u->r->error, sizeof u->r->error, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        struct mallinfo2 mi = mallinfo2(); /* the main heap: [sbrk(0) - arena, sbrk(0)) */
        u->tg.heap0 = (uintptr_t)sbrk(0) - mi.arena;
        replay_loop(u);
        percentiles(u);
        ssize_t w = write(fds[1], u->r, sizeof *u->r);
        if (u->o->samples)
            w += write(fds[1], u->o->samples, u->o->nsamples * sizeof *u->o->samples);
        _exit(w > 0 ? 0 : 1);
    }
    close(fds[1]);
    size_t want = sizeof *u->r, got = 0;
    char *dst = (char *)u->r;
    int rc = 0;
    for (int part = 0; part < 2 && rc == 0; part++) {
        while (got < want) {
            ssize_t k = read(fds[0], dst + got, want - got);
            if (k <= 0) {
                rc = -1;
                break;
            }
            got += (size_t)k;
        }
        if (!u->o->samples)
            break;
        dst = (char *)u->o->samples;
        want = u->o->nsamples * sizeof *u->o->samples;
        got = 0;
    }
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(u->r->error, sizeof u->r->error, "the glibc replay failed");
        return -1;
    }
    return 0;
}

int rp_run(const struct gjbt_trace *t, int target, const struct rp_opts *o, struct rp_result *r)
{
    struct run u;
    memset(&u, 0, sizeof u);
    memset(r, 0, sizeof *r);
    u.tr = t;
    u.o = o;
    u.r = r;
    u.tg.kind = target;
    u.tg.pl = o->plugin;
    r->target = target;
    if (target == RP_PLUGIN) {
        snprintf(r->name, sizeof r->name, "%s", o->plugin->name);
        r->library = o->plugin->path;
    } else {
        snprintf(r->name, sizeof r->name, "%s", rp_target_name[target]);
    }
    r->size = target == RP_GLIBC ? 0 : o->size;
    if (!run_alloc(&u)) {
        run_release(&u);
        snprintf(r->error, sizeof r->error, "out of memory for the replay's tables");
        return -1;
    }
    if (o->timing)
        u.overhead = clock_overhead();
    int rc = target == RP_GLIBC ? run_glibc(&u) : run_pool(&u);
    if (rc == 0 && target != RP_GLIBC)
        percentiles(&u);
    run_release(&u);
    if (o->prog)
        progress_update(o->prog, t->nev, t->nev);
    return rc;
}
