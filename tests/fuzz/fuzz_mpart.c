/*
 * fuzz_mpart.c - libFuzzer target for the partition API (mpart_*).
 *
 * The input is decoded into a sequence of partition operations (create over
 * slices of a static arena, overlapping ones included; addmem; alloc;
 * memalign; realloc; free; findmaxfree; getinfo; delete; module_init; a
 * one-shot "interrupt context" flag) with hostile arguments: foreign
 * pointers (stack, static, other partition), interior pointers, freed
 * pointers, random pointers inside the arena, wild pointers, huge sizes,
 * stale and random ids. Every result is checked against a reference model
 * (live partitions and their regions, live blocks and their contents, the
 * errno of SPEC section 3 for each misuse); mpart_validate and the
 * statistics are checked after every step. Any discrepancy calls abort()
 * after printing what differed. Exact addresses are not predicted.
 *
 * Every input ends by freeing every live block and deleting every
 * partition, so inputs are independent.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gjbext.h>
#include <gjbmem/mpart.h>
#include <gjbmem/posix.h>

#define ARENA_SIZE (64 * 1024)
#define MAX_BLOCKS 512
#define MAX_OPS 400
#define RING 32
#define ERRNO_MARK 0x5a5a

static _Alignas(4096) unsigned char arena[ARENA_SIZE];
static _Alignas(64) unsigned char foreign_static[256];

struct mpart_model {
    int live;
    mpart_id id;
    unsigned nregions;
    uintptr_t lo[GJBMEM_MAX_REGIONS], hi[GJBMEM_MAX_REGIONS];
    size_t maxused;
};

struct blk {
    unsigned char *p;
    size_t size;  /* requested size */
    size_t align; /* memalign alignment (> 16), or 0 */
    int part;     /* model partition index */
    unsigned seed;
};

static struct mpart_model parts[MPART_MAX_PARTS];
static struct blk blocks[MAX_BLOCKS];
static int nblocks;
static unsigned char *freed[RING];
static unsigned nfreed;
static mpart_id stale[RING];
static unsigned nstale;
static int model_max = MPART_MAX_PARTS;
static int exact_mode; /* see maxfree_of */
static unsigned seed_ctr;
static int step;

/* ---- input decoding ---- */
struct in { const uint8_t *d; size_t n, i; };
static unsigned u8(struct in *in) { return in->i < in->n ? in->d[in->i++] : 0; }
static unsigned u16(struct in *in) { unsigned a = u8(in); return a | (u8(in) << 8); }
static uint64_t u64(struct in *in)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)u8(in) << (8 * k);
    return v;
}

/* ---- failure reporting ---- */
#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_mpart: step %d: check failed at line %d: %s\n  ",   \
                    step, __LINE__, #cond);                                            \
            fprintf(stderr, __VA_ARGS__);                                              \
            fprintf(stderr, "\n");                                                     \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* errno sets: a bitmask over a small table of codes. */
enum { X_OK = 1, X_EINVAL = 2, X_ENOSPC = 4, X_EBUSY = 8, X_HANDLE = 16, X_ISR = 32,
       X_MEMORY = 64, X_RSIZE = 128, X_RALIGN = 256, X_ENOMEM = 512, X_RNULL = 1024 };
static int err_bit(int e)
{
    switch (e) {
    case EINVAL: return X_EINVAL;
    case ENOSPC: return X_ENOSPC;
    case EBUSY: return X_EBUSY;
    case ERROR_KERNEL_HANDLE_NULL: return X_HANDLE;
    case ERROR_KERNEL_IN_ISR: return X_ISR;
    case ERROR_KERNEL_MEMORY: return X_MEMORY;
    case ERROR_REGION_SIZE: return X_RSIZE;
    case ERROR_REGION_ALIGN: return X_RALIGN;
    case ENOMEM: return X_ENOMEM;
    case ERROR_REGION_NULL: return X_RNULL;
    default: return 1 << 20;
    }
}

/* Checks an outcome: ok says whether the call succeeded; e is errno after it. */
static unsigned long n_ok, n_err;
static void report_counts(void)
{
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_mpart: %lu calls succeeded, %lu refused as expected\n", n_ok, n_err);
}
/* FUZZ_TRACE=1 prints every checked call (to follow a failing input). */
static void trace(const char *what, int ok, int e)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_TRACE") != NULL;
    if (on)
        fprintf(stderr, "  [%d] %s -> %s %d\n", step, what, ok ? "ok" : "errno", ok ? 0 : e);
}
static void expect(const char *what, int ok, int e, int allowed)
{
    trace(what, ok, e);
    static int registered;
    if (!registered++)
        atexit(report_counts);
    ok ? n_ok++ : n_err++;
    if (ok) {
        CHECK(allowed & X_OK, "%s succeeded; expected failure (mask %#x)", what, allowed);
        CHECK(e == ERRNO_MARK, "%s succeeded but changed errno to %d", what, e);
    } else {
        CHECK(!(e == ERRNO_MARK), "%s failed without setting errno", what);
        CHECK(err_bit(e) & allowed & ~X_OK, "%s failed with errno %d (%s); allowed mask %#x",
              what, e, gjbmem_strerror(e), allowed);
    }
}

/* ---- model helpers ---- */
static unsigned char pat(unsigned seed, size_t i) { return (unsigned char)(seed * 131u + i * 31u + (i >> 8)); }
static void fill(unsigned char *p, size_t from, size_t to, unsigned seed)
{
    for (size_t i = from; i < to; i++)
        p[i] = pat(seed, i);
}
static void check_contents(const struct blk *b, size_t n, const char *when)
{
    for (size_t i = 0; i < n; i++)
        CHECK(b->p[i] == pat(b->seed, i), "block %p (size %zu, partition %d) byte %zu damaged %s: %#x != %#x",
              (void *)b->p, b->size, b->part, i, when, b->p[i], pat(b->seed, i));
}

static int find_block(const unsigned char *p)
{
    for (int i = 0; i < nblocks; i++)
        if (blocks[i].p == p)
            return i;
    return -1;
}
static int part_blocks(int pi)
{
    int c = 0;
    for (int i = 0; i < nblocks; i++)
        c += blocks[i].part == pi;
    return c;
}
static int live_parts(void)
{
    int c = 0;
    for (int i = 0; i < MPART_MAX_PARTS; i++)
        c += parts[i].live;
    return c;
}
static int part_of_id(mpart_id id)
{
    for (int i = 0; i < MPART_MAX_PARTS; i++)
        if (parts[i].live && parts[i].id == id)
            return i;
    return -1;
}
static int overlaps_managed(uintptr_t lo, uintptr_t hi)
{
    for (int i = 0; i < MPART_MAX_PARTS; i++)
        if (parts[i].live)
            for (unsigned r = 0; r < parts[i].nregions; r++)
                if (lo < parts[i].hi[r] && parts[i].lo[r] < hi)
                    return 1;
    return 0;
}
static void remember_freed(unsigned char *p) { freed[nfreed++ % RING] = p; }
static void remember_stale(mpart_id id) { stale[nstale++ % RING] = id; }
static void drop_block(int bi) { blocks[bi] = blocks[--nblocks]; }

/* A new block from the library: it must lie inside one region of its
 * partition, be aligned, not overlap any live block, and be usable. */
static void check_new_block(int pi, unsigned char *p, size_t size, size_t align)
{
    uintptr_t a = (uintptr_t)p;
    CHECK(a % 16 == 0, "block %p not 16-aligned", (void *)p);
    if (align > 16)
        CHECK(a % align == 0, "block %p not aligned to %zu", (void *)p, align);
    int inside = 0;
    for (unsigned r = 0; r < parts[pi].nregions; r++)
        if (a >= parts[pi].lo[r] && size <= parts[pi].hi[r] - a && a < parts[pi].hi[r])
            inside = 1;
    CHECK(inside, "block %p+%zu outside the regions of its partition", (void *)p, size);
    for (int i = 0; i < nblocks; i++)
        CHECK(a + size <= (uintptr_t)blocks[i].p || (uintptr_t)blocks[i].p + blocks[i].size <= a,
              "block %p+%zu overlaps live block %p+%zu", (void *)p, size, (void *)blocks[i].p,
              blocks[i].size);
    size_t us = mpart_usable_size(parts[pi].id, p);
    CHECK(us >= size, "usable size %zu < requested %zu", us, size);
}

static void check_partition(int pi)
{
    struct mpart_model *m = &parts[pi];
    errno = ERRNO_MARK;
    int v = mpart_validate(m->id);
    CHECK(v == 0, "mpart_validate(partition %d) = %d errno %d", pi, v, errno);
    struct gjbmem_heap_stats st;
    CHECK(mpart_getstats(m->id, &st) == 0, "getstats failed errno %d", errno);
    size_t raw = 0;
    for (unsigned r = 0; r < m->nregions; r++)
        raw += m->hi[r] - m->lo[r];
    CHECK(st.alloc_blocks == (size_t)part_blocks(pi), "alloc_blocks %zu, model %d", st.alloc_blocks,
          part_blocks(pi));
    CHECK(st.regions == m->nregions, "regions %zu, model %u", st.regions, m->nregions);
    CHECK(st.used + st.free == st.total, "used %zu + free %zu != total %zu", st.used, st.free, st.total);
    CHECK(st.total <= raw, "total %zu > bytes handed %zu", st.total, raw);
    CHECK(st.segments == st.alloc_blocks + st.free_blocks, "segments %zu != %zu + %zu", st.segments,
          st.alloc_blocks, st.free_blocks);
    CHECK(st.maxused >= st.used && st.maxused >= m->maxused, "maxused %zu (was %zu) used %zu",
          st.maxused, m->maxused, st.used);
    m->maxused = st.maxused;
    if (exact_mode) { /* (it would empty the quick lists after every step) */
        size_t mf;
        CHECK(mpart_findmaxfree_size(m->id, &mf) == 0 && mf >= st.largest_free,
              "findmaxfree_size %zu < largest_free %zu", mf, st.largest_free);
        CHECK(mpart_getstats(m->id, &st) == 0 && mf == st.largest_free, /* the lists are empty now */
              "findmaxfree_size %zu != largest_free %zu after it", mf, st.largest_free);
    }
    CHECK(errno == ERRNO_MARK, "errno changed by successful queries: %d", errno);
}

static void check_all_contents(const char *when)
{
    for (int i = 0; i < nblocks; i++)
        check_contents(&blocks[i], blocks[i].size, when);
}

/* ---- argument pickers ---- */
static const size_t huge_sizes[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 7, SIZE_MAX - 8, SIZE_MAX - 15, SIZE_MAX - 16,
    SIZE_MAX - 47, SIZE_MAX - 4095, SIZE_MAX / 2, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX,
    (size_t)INT_MAX, (size_t)INT_MAX + 1, (size_t)UINT_MAX, (size_t)UINT_MAX + 1,
    ARENA_SIZE, ARENA_SIZE + 1, (size_t)1 << 40};

static size_t pick_size(struct in *in)
{
    unsigned k = u8(in);
    switch (k % 8) {
    case 0: return 0;
    case 1: case 2: case 3: return u8(in);
    case 4: case 5: return u16(in) % 4096;
    case 6: return u16(in) % (ARENA_SIZE + 64);
    default: return huge_sizes[u8(in) % (sizeof huge_sizes / sizeof *huge_sizes)];
    }
}

static size_t pick_align(struct in *in)
{
    static const size_t al[] = {0, 1, 2, 3, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 1024,
                                4096, 8192, 1u << 16, 1u << 20, (size_t)1 << 31,
                                (size_t)1 << 63, SIZE_MAX, SIZE_MAX - 1, 17};
    unsigned k = u8(in);
    if (k >= 200)
        return u16(in);
    return al[k % (sizeof al / sizeof *al)];
}

/* Returns a model partition index (>= 0) and its id, or -1 and a bad id. */
static int pick_id(struct in *in, mpart_id *id)
{
    unsigned k = u8(in);
    if (k < 200) { /* a live partition when there is one */
        int n = live_parts();
        if (n) {
            int want = (int)(k % (unsigned)n);
            for (int i = 0; i < MPART_MAX_PARTS; i++)
                if (parts[i].live && want-- == 0) {
                    *id = parts[i].id;
                    return i;
                }
        }
        k = 200 + k % 5;
    }
    switch (k % 6) {
    case 0: *id = 0; break;
    case 1: *id = nstale ? stale[u8(in) % (nstale < RING ? nstale : RING)] : 0x100 | 1; break;
    case 2: *id = (mpart_id)u64(in); break;
    case 3: *id = (mpart_id)(0x100u | (u8(in) % 256u)); break;      /* generation 1, any slot */
    case 4: { /* a live id with its generation or slot changed */
        mpart_id b = 0;
        for (int i = 0; i < MPART_MAX_PARTS; i++)
            if (parts[i].live) b = parts[i].id;
        *id = b ? (b ^ ((mpart_id)1 << (8 + u8(in) % 40))) : ~(mpart_id)0;
        break;
    }
    default: *id = ~(mpart_id)0 - u8(in); break;
    }
    int pi = part_of_id(*id);
    return pi; /* may turn out live (the model decides) */
}

static unsigned char *pick_ptr(struct in *in, unsigned char *stackbuf)
{
    unsigned k = u8(in);
    switch (k % 12) {
    case 0: case 1: case 2: case 3: /* a live block */
        if (nblocks) return blocks[u16(in) % nblocks].p;
        return NULL;
    case 4: { /* interior or header of a live block */
        if (!nblocks) return arena + 16;
        struct blk *b = &blocks[u16(in) % nblocks];
        static const long d[] = {1, 8, 15, 16, 32, 48, -8, -16, -1, 4};
        unsigned j = u8(in);
        long off = j < 200 ? d[j % 10] : (long)(1 + u16(in) % (b->size ? b->size : 1));
        return b->p + off;
    }
    case 5: return nfreed ? freed[u8(in) % (nfreed < RING ? nfreed : RING)] : NULL;
    case 6: return stackbuf + (u8(in) % 4) * 16;
    case 7: return foreign_static + (u8(in) % 8) * 16;
    case 8: return arena + u16(in) % ARENA_SIZE;
    case 9: return arena + (u16(in) % ARENA_SIZE & ~(size_t)15);
    case 10: return NULL;
    default: {
        static const uintptr_t w[] = {16, 4096, UINTPTR_MAX - 15, UINTPTR_MAX / 2 & ~(uintptr_t)15};
        return (unsigned char *)w[u8(in) % 4];
    }
    }
}

/* ---- operations ---- */
static int isr_next;

static void op_create(struct in *in)
{
    unsigned k = u8(in);
    unsigned char *addr;
    size_t size;
    int wrap = 0, nulladdr = 0, nullmid = 0;
    switch (k % 8) {
    case 0: case 1: case 2: { /* a fresh slice */
        size_t off = u16(in) % ARENA_SIZE;
        size = u16(in) % (ARENA_SIZE - off + 1);
        addr = arena + off;
        break;
    }
    case 3: { /* a small slice */
        size_t off = u16(in) % (ARENA_SIZE - 1200);
        size = u16(in) % 1200;
        addr = arena + off;
        break;
    }
    case 4: { /* overlapping a live region, or touching it */
        size_t off = u16(in) % ARENA_SIZE;
        for (int i = 0; i < MPART_MAX_PARTS; i++)
            if (parts[i].live) {
                unsigned r = u8(in) % parts[i].nregions;
                long delta = (long)(int8_t)u8(in);
                uintptr_t base = (u8(in) & 1) ? parts[i].hi[r] : parts[i].lo[r];
                long o = (long)(base - (uintptr_t)arena) + delta;
                if (o >= 0 && o < ARENA_SIZE)
                    off = (size_t)o;
                break;
            }
        size = u16(in) % (ARENA_SIZE - off + 1);
        addr = arena + off;
        break;
    }
    case 5: /* wrapping around the address space */
        addr = arena + u16(in) % ARENA_SIZE;
        size = (k & 16) ? SIZE_MAX : UINTPTR_MAX - (uintptr_t)addr + 1 + u8(in);
        wrap = 1;
        break;
    case 6:
        addr = NULL; nulladdr = 1;
        size = u16(in);
        break;
    default:
        addr = arena + u16(in) % ARENA_SIZE;
        size = u16(in) % (ARENA_SIZE - (size_t)(addr - arena) + 1);
        nullmid = 1;
        break;
    }
    int isr = isr_next;
    mpart_id mid = 0;
    errno = ERRNO_MARK;
    int r = mpart_create((char *)addr, size, nullmid ? NULL : &mid);
    int e = errno;
    int allowed;
    int live = live_parts();
    if (isr) {
        allowed = X_ISR;
    } else if (nulladdr || nullmid || size == 0 || wrap) {
        allowed = X_EINVAL;
        if (!nulladdr && !nullmid && size && live >= model_max)
            allowed |= X_ENOSPC;
    } else {
        int ov = overlaps_managed((uintptr_t)addr, (uintptr_t)addr + size);
        allowed = 0;
        if (live >= model_max)
            allowed |= X_ENOSPC;
        if (ov || size < 392)
            allowed |= X_EINVAL;
        if (!allowed)
            allowed = size >= 1024 ? X_OK : X_OK | X_EINVAL;
    }
    char what[128];
    snprintf(what, sizeof what, "mpart_create(arena+%td, %zu)", addr ? addr - arena : -1, size);
    expect(what, r == 0, e, allowed);
    if (r == 0) {
        CHECK(mid != 0 && part_of_id(mid) < 0, "create gave id %#lx (0 or already live)", mid);
        for (unsigned i = 0; i < RING && i < nstale; i++)
            CHECK(stale[i] != mid, "create reused stale id %#lx", mid);
        int pi = -1;
        for (int i = 0; i < MPART_MAX_PARTS && pi < 0; i++)
            if (!parts[i].live) pi = i;
        CHECK(pi >= 0, "model table full");
        parts[pi] = (struct mpart_model){1, mid, 1, {(uintptr_t)addr}, {(uintptr_t)addr + size}, 0};
        struct gjbmem_heap_stats st;
        CHECK(mpart_getstats(mid, &st) == 0 && st.alloc_blocks == 0 && st.regions == 1,
              "fresh partition stats wrong");
        CHECK(mpart_findmaxfree(mid) > 0 || size < 1024, "fresh partition of %zu bytes has no room", size);
    }
}

static void op_addmem(struct in *in)
{
    mpart_id id;
    int pi = pick_id(in, &id);
    unsigned k = u8(in);
    unsigned char *addr;
    size_t size;
    int wrap = 0;
    if (k % 8 == 6) {
        addr = NULL;
        size = u16(in);
    } else if (k % 8 == 7) {
        addr = arena + u16(in) % ARENA_SIZE;
        size = (k & 16) ? SIZE_MAX : UINTPTR_MAX - (uintptr_t)addr + 1 + u8(in);
        wrap = 1;
    } else {
        size_t off = u16(in) % ARENA_SIZE;
        size = (k % 8 < 3) ? u16(in) % 400 : u16(in) % (ARENA_SIZE - off + 1);
        if (off + size > ARENA_SIZE)
            size = ARENA_SIZE - off;
        addr = arena + off;
    }
    int isr = isr_next;
    errno = ERRNO_MARK;
    int r = mpart_addmem(id, (char *)addr, size);
    int e = errno;
    int allowed;
    if (isr) {
        allowed = X_ISR;
    } else if (!addr || size == 0) {
        allowed = X_EINVAL;
    } else if (pi < 0) {
        allowed = X_HANDLE;
    } else if (wrap) {
        allowed = X_EINVAL | X_MEMORY | X_RSIZE;
    } else {
        allowed = 0;
        if (overlaps_managed((uintptr_t)addr, (uintptr_t)addr + size))
            allowed |= X_MEMORY;
        if (size < 48)
            allowed |= X_RSIZE;
        if (parts[pi].nregions == GJBMEM_MAX_REGIONS)
            allowed |= X_ENOSPC;
        /* the memory also carries the region table when it moves: room
         * for one more record than now at the least */
        size_t table = ((size_t)parts[pi].nregions + 1) * 4 * sizeof(void *) + 16;
        if (!allowed)
            allowed = size >= 256 + table ? X_OK : X_OK | X_RSIZE;
        else if (allowed & X_ENOSPC) /* table full: smaller memory may be refused first */
            allowed |= X_RSIZE;
    }
    char what[128];
    snprintf(what, sizeof what, "mpart_addmem(%#lx, arena+%td, %zu)", id, addr ? addr - arena : -1, size);
    expect(what, r == 0, e, allowed);
    if (r == 0) {
        struct mpart_model *m = &parts[pi];
        m->lo[m->nregions] = (uintptr_t)addr;
        m->hi[m->nregions] = (uintptr_t)addr + size;
        m->nregions++;
    }
}

static void new_block(int pi, unsigned char *p, size_t size, size_t align)
{
    check_new_block(pi, p, size, align);
    if (nblocks == MAX_BLOCKS) { /* keep the model bounded: give it back */
        errno = ERRNO_MARK;
        CHECK(mpart_free(parts[pi].id, (char *)p) == 0, "free of a fresh block failed: %d", errno);
        return;
    }
    struct blk *b = &blocks[nblocks++];
    *b = (struct blk){p, size, align > 16 ? align : 0, pi, ++seed_ctr};
    fill(p, 0, size, b->seed);
}

/* The largest size mpart_alloc must satisfy in partition pi. An input of
 * even length asks mpart_findmaxfree_size, which is exact but gives the
 * quick lists' blocks back first (so that the next allocation never takes
 * one); an odd one reads largest_free, which leaves them and is only a
 * lower bound: a larger request may succeed once they merge. */
static size_t maxfree_of(int pi)
{
    size_t mf = 0;
    struct gjbmem_heap_stats st;
    if (pi >= 0 && exact_mode)
        CHECK(mpart_findmaxfree_size(parts[pi].id, &mf) == 0, "findmaxfree_size failed");
    else if (pi >= 0) {
        CHECK(mpart_getstats(parts[pi].id, &st) == 0, "getstats failed");
        mf = st.largest_free;
    }
    return mf;
}
/* What a request over maxfree_of(pi) may give in a partition with blocks. */
static int beyond_maxfree(int pi)
{
    return part_blocks(pi) == 0 ? X_RSIZE : exact_mode ? X_ENOMEM | X_RSIZE : X_OK | X_ENOMEM | X_RSIZE;
}
static size_t total_of(int pi)
{
    struct gjbmem_heap_stats st;
    CHECK(mpart_getstats(parts[pi].id, &st) == 0, "getstats failed");
    return st.total;
}

static void op_alloc(struct in *in, int aligned)
{
    mpart_id id;
    int pi = pick_id(in, &id);
    size_t align = aligned ? pick_align(in) : 1;
    size_t size = pick_size(in);
    int isr = isr_next;
    size_t mf = pi >= 0 ? maxfree_of(pi) : 0;
    size_t total = pi >= 0 ? total_of(pi) : 0;
    errno = ERRNO_MARK;
    void *p = aligned ? mpart_memalign(id, align, size) : mpart_alloc(id, size);
    int e = errno;
    int allowed;
    int badalign = align == 0 || (align & (align - 1));
    if (isr) {
        allowed = X_ISR;
    } else if (pi < 0) {
        allowed = X_HANDLE;
    } else if (badalign) {
        allowed = X_RALIGN;
        if (size == 0) allowed |= X_EINVAL;
        if (size > total) allowed |= X_RSIZE;
    } else if (size == 0) {
        allowed = X_EINVAL;
    } else if (size > total) {
        allowed = X_RSIZE;
    } else if (align <= 16 || (mf >= size && mf - size >= align + 64)) {
        allowed = size <= mf ? X_OK : beyond_maxfree(pi);
    } else {
        allowed = X_OK | X_ENOMEM | X_RSIZE;
        if (part_blocks(pi) == 0 && size > mf)
            allowed = X_RSIZE;
    }
    char what[128];
    snprintf(what, sizeof what, "mpart_%s(%#lx, align %zu, size %zu) [maxfree %zu total %zu]",
             aligned ? "memalign" : "alloc", id, align, size, mf, total);
    expect(what, p != NULL, e, allowed);
    if (p)
        new_block(pi, p, size, aligned ? align : 0);
}

static void op_realloc(struct in *in, unsigned char *stackbuf)
{
    mpart_id id;
    int pi = pick_id(in, &id);
    unsigned char *old = pick_ptr(in, stackbuf);
    size_t size = pick_size(in);
    if (u8(in) < 64 && nblocks) { /* a block of a nearby size */
        int bi = find_block(old);
        if (bi >= 0) size = blocks[bi].size + (size_t)(int8_t)u8(in);
    }
    int isr = isr_next;
    int bi = find_block(old);
    int mine = bi >= 0 && blocks[bi].part == pi && pi >= 0;
    size_t mf = pi >= 0 ? maxfree_of(pi) : 0;
    size_t total = pi >= 0 ? total_of(pi) : 0;
    if (bi >= 0)
        check_contents(&blocks[bi], blocks[bi].size, "before realloc");
    errno = ERRNO_MARK;
    unsigned char *p = mpart_realloc(id, (char *)old, size);
    int e = errno;
    int allowed;
    if (isr) {
        allowed = X_ISR;
    } else if (pi < 0) {
        allowed = X_HANDLE;
    } else if (old == NULL) {
        allowed = size == 0 ? X_EINVAL : size > total ? X_RSIZE : size <= mf ? X_OK
                : beyond_maxfree(pi);
    } else if (!mine) {
        allowed = X_EINVAL;
        if (size > total) allowed |= X_RSIZE;
    } else if (size == 0) {
        allowed = X_EINVAL;
    } else if (size > total) {
        allowed = X_RSIZE;
    } else if (size <= blocks[bi].size || (!blocks[bi].align && size <= mf)) {
        allowed = X_OK;
    } else {
        allowed = X_OK | X_ENOMEM | X_RSIZE;
    }
    char what[160];
    snprintf(what, sizeof what, "mpart_realloc(%#lx, %p [%s], %zu) [maxfree %zu total %zu]", id,
             (void *)old, mine ? "live block" : bi >= 0 ? "block of another partition" : "not a block",
             size, mf, total);
    expect(what, p != NULL, e, allowed);
    if (old == NULL) {
        if (p) new_block(pi, p, size, 0);
        return;
    }
    if (p) {
        struct blk b = blocks[bi];
        size_t keep = b.size < size ? b.size : size;
        drop_block(bi);
        b.p = p;
        check_contents(&b, keep, "after realloc (contents not kept)");
        check_new_block(pi, p, size, b.align);
        fill(p, keep, size, b.seed);
        b.size = size;
        blocks[nblocks++] = b;
        if (p != old) remember_freed(old);
    } else {
        check_all_contents("after a refused realloc");
    }
}

static void op_free(struct in *in, unsigned char *stackbuf)
{
    mpart_id id;
    int pi = pick_id(in, &id);
    unsigned char *p = pick_ptr(in, stackbuf);
    int isr = isr_next;
    int bi = find_block(p);
    int mine = bi >= 0 && pi >= 0 && blocks[bi].part == pi;
    if (bi >= 0)
        check_contents(&blocks[bi], blocks[bi].size, "before free");
    if (pi >= 0 && p && !isr) { /* the same pointer check, read-only */
        errno = ERRNO_MARK;
        size_t us = mpart_usable_size(id, p);
        if (mine)
            CHECK(us >= blocks[bi].size && errno == ERRNO_MARK, "usable_size of a live block: %zu", us);
        else
            CHECK(us == 0 && errno == ERROR_REGION_NULL,
                  "mpart_usable_size(%#lx, %p) of a pointer that is not a live block: %zu, errno %d", id,
                  (void *)p, us, errno);
    }
    errno = ERRNO_MARK;
    int r = mpart_free(id, (char *)p);
    int e = errno;
    int allowed = isr ? X_ISR : pi < 0 ? X_HANDLE : !p ? X_EINVAL : mine ? X_OK : X_RNULL;
    char what[160];
    snprintf(what, sizeof what, "mpart_free(%#lx, %p [%s])", id, (void *)p,
             mine ? "live block" : bi >= 0 ? "block of another partition" : "not a block");
    expect(what, r == 0, e, allowed);
    if (r == 0) {
        drop_block(bi);
        remember_freed(p);
    } else {
        check_all_contents("after a refused free");
    }
}

static void op_delete(struct in *in)
{
    mpart_id id;
    int pi = pick_id(in, &id);
    int isr = isr_next;
    errno = ERRNO_MARK;
    int r = mpart_delete(id);
    int e = errno;
    int allowed = isr ? X_ISR : pi < 0 ? X_EINVAL : part_blocks(pi) ? X_EBUSY : X_OK;
    char what[64];
    snprintf(what, sizeof what, "mpart_delete(%#lx)", id);
    expect(what, r == 0, e, allowed);
    if (r == 0) {
        parts[pi].live = 0;
        remember_stale(id);
        errno = ERRNO_MARK;
        CHECK(mpart_findmaxfree(id) == -1 && errno == ERROR_KERNEL_HANDLE_NULL,
              "deleted id %#lx still accepted", id);
    }
}

static void op_query(struct in *in, int getinfo)
{
    mpart_id id;
    int pi = pick_id(in, &id);
    int nullpi = getinfo && u8(in) % 8 == 0;
    errno = ERRNO_MARK;
    char what[64];
    if (getinfo) {
        struct partinfo info;
        int r = mpart_getinfo(id, nullpi ? NULL : &info);
        int e = errno;
        snprintf(what, sizeof what, "mpart_getinfo(%#lx, %s)", id, nullpi ? "NULL" : "&pi");
        expect(what, r == 0, e, nullpi ? (pi < 0 ? X_EINVAL | X_HANDLE : X_EINVAL) : pi < 0 ? X_HANDLE : X_OK);
        if (r == 0) {
            struct gjbmem_heap_stats st;
            CHECK(mpart_getstats(id, &st) == 0, "getstats failed");
            CHECK(info.segment == st.segments && info.used == st.used && info.maxused == st.maxused &&
                      info.free == st.free,
                  "getinfo disagrees with getstats");
        }
    } else {
        int r = mpart_findmaxfree(id);
        int e = errno;
        snprintf(what, sizeof what, "mpart_findmaxfree(%#lx)", id);
        expect(what, r >= 0, e, pi < 0 ? X_HANDLE : X_OK);
        if (r < 0)
            CHECK(r == -1, "findmaxfree returned %d", r);
        if (r >= 0) {
            size_t mf = 0;
            CHECK(mpart_findmaxfree_size(id, &mf) == 0, "findmaxfree_size failed");
            CHECK((size_t)r == (mf > INT_MAX ? INT_MAX : mf), "findmaxfree %d != %zu", r, mf);
        }
    }
}

static void op_module_init(struct in *in)
{
    int max = (int)(u8(in) % 48) - 2;
    if (max == -2) max = INT_MIN;
    if (max == 45) max = INT_MAX;
    errno = ERRNO_MARK;
    int r = mpart_module_init(max);
    int e = errno;
    int allowed = max < 1 ? X_EINVAL : max > MPART_MAX_PARTS ? X_ENOSPC : max < live_parts() ? X_EBUSY : X_OK;
    char what[64];
    snprintf(what, sizeof what, "mpart_module_init(%d) [live %d]", max, live_parts());
    expect(what, r == 0, e, allowed);
    if (r == 0)
        model_max = max;
}

static void reset(void)
{
    gjbmem_posix_set_isr(0);
    isr_next = 0;
    check_all_contents("at the end of the input");
    while (nblocks) {
        struct blk *b = &blocks[nblocks - 1];
        errno = ERRNO_MARK;
        int r = mpart_free(parts[b->part].id, (char *)b->p);
        CHECK(r == 0, "final free of %p failed: errno %d", (void *)b->p, errno);
        nblocks--;
    }
    for (int i = 0; i < MPART_MAX_PARTS; i++)
        if (parts[i].live) {
            check_partition(i);
            struct gjbmem_heap_stats st;
            CHECK(mpart_getstats(parts[i].id, &st) == 0 && st.free_blocks == st.regions,
                  "empty partition has %zu free blocks in %zu regions (not coalesced)", st.free_blocks,
                  st.regions);
            errno = ERRNO_MARK;
            CHECK(mpart_delete(parts[i].id) == 0, "final delete failed: errno %d", errno);
            parts[i].live = 0;
        }
    CHECK(mpart_module_init(MPART_MAX_PARTS) == 0, "module_init reset failed");
    model_max = MPART_MAX_PARTS;
    nfreed = nstale = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size, 0};
    exact_mode = size % 2 == 0;
    _Alignas(64) unsigned char stackbuf[128];
    memset(stackbuf, 0xcd, sizeof stackbuf);
    memset(foreign_static, 0xee, sizeof foreign_static);
    for (step = 0; step < MAX_OPS && in.i < in.n; step++) {
        unsigned op = u8(&in);
        isr_next = op >= 0xf8; /* the rare "interrupt context" variant of the next call */
        if (isr_next)
            op = u8(&in);
        gjbmem_posix_set_isr(isr_next);
        switch (op % 16) {
        case 0: case 1: op_create(&in); break;
        case 2: op_addmem(&in); break;
        case 3: case 4: case 5: op_alloc(&in, 0); break;
        case 6: case 7: op_alloc(&in, 1); break;
        case 8: case 9: op_realloc(&in, stackbuf); break;
        case 10: case 11: case 12: op_free(&in, stackbuf); break;
        case 13: op_query(&in, op & 16); break;
        case 14: op_delete(&in); break;
        default:
            if (op & 32) op_module_init(&in);
            else op_query(&in, 1);
            break;
        }
        gjbmem_posix_set_isr(0);
        isr_next = 0;
        for (size_t i = 0; i < sizeof stackbuf; i++) /* foreign memory is never written */
            CHECK(stackbuf[i] == 0xcd, "stack buffer byte %zu written", i);
        for (size_t i = 0; i < sizeof foreign_static; i++)
            CHECK(foreign_static[i] == 0xee, "static buffer byte %zu written", i);
        for (int i = 0; i < MPART_MAX_PARTS; i++)
            if (parts[i].live)
                check_partition(i);
    }
    reset();
    return 0;
}
