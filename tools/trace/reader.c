/*
 * reader.c - reads a trace and checks it whole before anything replays it:
 * the header, every record's shape, the END record's counts and checksum,
 * and that the ids make sense (a block is freed or resized only while it is
 * live, a new block never reuses a live id). Any failure is a message, never
 * a crash: the fuzzer fuzz_trace feeds it arbitrary bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records.h"
#include "trace.h"

/* Live bytes beyond this cannot be: the trace is damaged. */
#define LIVE_LIMIT ((uint64_t)1 << 62)
/* A successful call never had a larger alignment. */
#define ALIGN_LOG_LIMIT 47

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

bool gjbt_is_alloc(unsigned op)
{
    return op == GJBT_MALLOC || op == GJBT_CALLOC || (op >= GJBT_MEMALIGN && op <= GJBT_PVALLOC);
}

const char *gjbt_op_name(unsigned op)
{
    static const char *const names[] = {
        [GJBT_MALLOC] = "malloc",           [GJBT_CALLOC] = "calloc",
        [GJBT_REALLOC] = "realloc",         [GJBT_REALLOCARRAY] = "reallocarray",
        [GJBT_MEMALIGN] = "memalign",       [GJBT_POSIX_MEMALIGN] = "posix_memalign",
        [GJBT_ALIGNED_ALLOC] = "aligned_alloc", [GJBT_VALLOC] = "valloc",
        [GJBT_PVALLOC] = "pvalloc",         [GJBT_FREE] = "free",
        [GJBT_USABLE_SIZE] = "malloc_usable_size", [GJBT_THREAD] = "thread",
        [GJBT_INHERIT] = "inherit",         [GJBT_END] = "end",
        [GJBT_PAD] = "pad"};
    return op < sizeof names / sizeof *names && names[op] ? names[op] : "?";
}

/* --- big arrays from pages (not the malloc heap a glibc replay measures) */

static void *pages(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void pages_free(void *p, size_t n)
{
    if (p)
        munmap(p, n ? n : 1);
}

/* --- the second pass: normalise and check the ids ---------------------- */

struct idstate {
    uint64_t *size; /* requested bytes of each live id; UINT64_MAX: not live */
    uint32_t max;   /* ids above this are refused */
    uint64_t live;
    size_t blocks;
};

static bool id_live(const struct idstate *s, uint64_t id)
{
    return id >= 1 && id <= s->max && s->size[id] != UINT64_MAX;
}

static uint8_t align_log_of(uint64_t a)
{
    uint8_t k = 0;
    while (k < 63 && ((uint64_t)1 << k) < a)
        k++;
    return k;
}

/* Turns raw record r (at byte off) into event e and applies it to the live
 * set. */
static int apply(struct gjbt_trace *t, struct idstate *s, const struct gjbt_raw *r, size_t off,
                 struct gjbt_event *e, char *err, size_t errlen)
{
    unsigned op = r->op;
    uint64_t kill = 0, make = 0, size = 0, align = 0;
    *e = (struct gjbt_event){0, 0, 0, 0, (uint8_t)op, (uint8_t)(r->flags & GJBT_FOREIGN), 0};
    switch (op) {
    case GJBT_MALLOC: size = r->v[0]; make = r->v[1]; break;
    case GJBT_CALLOC:
    case GJBT_REALLOCARRAY: {
        unsigned i = op == GJBT_CALLOC ? 0 : 1;
        if (__builtin_mul_overflow(r->v[i], r->v[i + 1], &size))
            e->flags |= GJBT_EV_OVERFLOW;
        make = r->v[i + 2];
        if (op == GJBT_REALLOCARRAY)
            kill = r->v[0];
        break;
    }
    case GJBT_REALLOC: kill = r->v[0]; size = r->v[1]; make = r->v[2]; break;
    case GJBT_MEMALIGN:
    case GJBT_POSIX_MEMALIGN:
    case GJBT_ALIGNED_ALLOC: align = r->v[0]; size = r->v[1]; make = r->v[2]; break;
    case GJBT_VALLOC: size = r->v[0]; make = r->v[1]; align = t->hdr.page_size; break;
    case GJBT_PVALLOC:
        size = r->v[0] ? (r->v[0] + t->hdr.page_size - 1) / t->hdr.page_size * t->hdr.page_size
                       : t->hdr.page_size;
        if (size < r->v[0])
            e->flags |= GJBT_EV_OVERFLOW;
        make = r->v[1];
        align = t->hdr.page_size;
        break;
    case GJBT_FREE:
    case GJBT_USABLE_SIZE: kill = r->v[0]; break;
    case GJBT_INHERIT: make = r->v[0]; size = r->v[1]; align = r->v[2]; break;
    }
    if (kill && !id_live(s, kill))
        return fail(err, errlen, "byte %zu: %s names block %llu, which is not live", off,
                    gjbt_op_name(op), (unsigned long long)kill);
    bool resize = op == GJBT_REALLOC || op == GJBT_REALLOCARRAY;
    bool frees = op == GJBT_FREE || (resize && (make || (size == 0 && !(e->flags & GJBT_EV_OVERFLOW))));
    if (kill && frees) {
        s->live -= s->size[kill];
        s->size[kill] = UINT64_MAX;
        s->blocks--;
    }
    if (make) {
        if (make > s->max || s->size[make] != UINT64_MAX)
            return fail(err, errlen, "byte %zu: %s makes block %llu, which is %s", off,
                        gjbt_op_name(op), (unsigned long long)make,
                        make > s->max ? "out of range" : "live already");
        if (e->flags & GJBT_EV_OVERFLOW || size > LIVE_LIMIT - s->live ||
            align_log_of(align) > ALIGN_LOG_LIMIT)
            return fail(err, errlen, "byte %zu: %s of %llu bytes (alignment %llu) cannot have "
                        "succeeded", off, gjbt_op_name(op), (unsigned long long)size,
                        (unsigned long long)align);
        s->size[make] = size;
        s->live += size;
        s->blocks++;
        if (make > t->max_id)
            t->max_id = (uint32_t)make;
    } else if (gjbt_is_alloc(op) || (resize && (size || (e->flags & GJBT_EV_OVERFLOW)))) {
        t->refused++;
    }
    e->size = size;
    e->id = (uint32_t)make;
    e->old = (uint32_t)kill;
    e->align_log = align > 1 ? align_log_of(align) : 0;
    return 0;
}

/* --- the first pass: shape, counts, checksum ---------------------------- */

struct shape {
    size_t header_len, nev, end_off;
};

static int check_shape(const unsigned char *buf, size_t len, struct gjbt_trace *t,
                       struct shape *sh, char *err, size_t errlen)
{
    if (len == 0)
        return fail(err, errlen, "the file is empty");
    long hl = gjbt_parse_header(buf, len, &t->hdr, err, errlen);
    if (hl < 0)
        return -1;
    const unsigned char *p = buf + hl, *end = buf + len;
    uint64_t calls = 0, inherited = 0;
    for (;;) {
        size_t off = (size_t)(p - buf);
        struct gjbt_raw r;
        if (p == end)
            return fail(err, errlen, "the trace is truncated: it ends at byte %zu without its "
                        "END record", off);
        int rc = gjbt_next_record(&p, end, &r);
        if (rc == GJBT_REC_SHORT)
            return fail(err, errlen, "the trace is truncated: the record at byte %zu is cut off",
                        off);
        if (rc == GJBT_REC_BAD)
            return fail(err, errlen, "byte %zu: %s", off, r.why);
        if (r.op == GJBT_END) {
            uint32_t sum = gjbt_fnv(GJBT_FNV_INIT, buf, off);
            if (r.v[0] != calls || r.v[1] != inherited)
                return fail(err, errlen, "the END record counts %llu events and %llu inherited "
                            "blocks, the file holds %llu and %llu: it is damaged",
                            (unsigned long long)r.v[0], (unsigned long long)r.v[1],
                            (unsigned long long)calls, (unsigned long long)inherited);
            if (r.sum != sum)
                return fail(err, errlen, "checksum mismatch (recorded %08x, computed %08x): the "
                            "file is damaged", r.sum, sum);
            if (p != end)
                return fail(err, errlen, "byte %zu: data after the END record", (size_t)(p - buf));
            sh->end_off = off;
            break;
        }
        if (r.op == GJBT_INHERIT && (calls || t->hdr.origin != GJBT_ORIGIN_FORK))
            return fail(err, errlen, "byte %zu: an inherited block %s", off,
                        calls ? "after the first call" : "in a trace that is no fork child's");
        calls += r.op <= GJBT_USABLE_SIZE;
        inherited += r.op == GJBT_INHERIT;
    }
    sh->header_len = (size_t)hl;
    sh->nev = (size_t)(calls + inherited);
    return 0;
}

void gjbt_release(struct gjbt_trace *t)
{
    pages_free(t->ev, t->nev * sizeof *t->ev);
    t->ev = NULL;
    t->nev = 0;
}

int gjbt_parse(const unsigned char *buf, size_t len, struct gjbt_trace *t, char *err,
               size_t errlen)
{
    struct shape sh = {0, 0, 0};
    memset(t, 0, sizeof *t);
    if (check_shape(buf, len, t, &sh, err, errlen) != 0)
        return -1;
    struct idstate s = {NULL, (uint32_t)(sh.nev < UINT32_MAX ? sh.nev : UINT32_MAX - 1), 0, 0};
    size_t idbytes = ((size_t)s.max + 1) * sizeof *s.size;
    t->ev = pages(sh.nev * sizeof *t->ev);
    s.size = pages(idbytes);
    if (!t->ev || !s.size) {
        pages_free(s.size, idbytes);
        gjbt_release(t);
        return fail(err, errlen, "out of memory for %zu events", sh.nev);
    }
    memset(s.size, 0xff, idbytes);
    const unsigned char *p = buf + sh.header_len;
    uint32_t thread = 1;
    int rc = 0;
    while (rc == 0 && (size_t)(p - buf) < sh.end_off) {
        size_t off = (size_t)(p - buf);
        struct gjbt_raw r;
        gjbt_next_record(&p, buf + len, &r); /* the first pass proved it whole */
        if (r.op == GJBT_THREAD) {
            thread = (uint32_t)r.v[0];
            if (thread > t->threads)
                t->threads = thread;
            continue;
        }
        if (r.op == GJBT_PAD)
            continue;
        struct gjbt_event *e = &t->ev[t->nev];
        rc = apply(t, &s, &r, off, e, err, errlen);
        e->thread = thread;
        t->nev++;
        t->ops[r.op]++;
        t->foreign += (r.flags & GJBT_FOREIGN) != 0;
        t->inherited += r.op == GJBT_INHERIT;
        if (s.live > t->peak_live) {
            t->peak_live = s.live;
            t->peak_index = t->nev - 1;
            t->peak_blocks = s.blocks;
        }
    }
    pages_free(s.size, idbytes);
    t->nev = sh.nev; /* what the first pass counted (the same on success) */
    t->calls = t->nev - t->inherited;
    if (rc != 0)
        gjbt_release(t);
    return rc;
}

int gjbt_load(const char *path, struct gjbt_trace *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return fail(err, errlen, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return fail(err, errlen, "not a regular file");
    }
    size_t len = (size_t)st.st_size;
    void *m = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, f, 0) : NULL;
    close(f);
    if (m == MAP_FAILED)
        return fail(err, errlen, "cannot map: %s", strerror(errno));
    int rc = gjbt_parse(m, len, t, err, errlen);
    if (m)
        munmap(m, len);
    return rc;
}
