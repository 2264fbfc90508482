/*
 * fuzz_vmm_args.c - libFuzzer target for the argument rules of the mapping
 * layer (<mman.h>, SPEC section 5, docs/MAPPING.md).
 *
 * The input is decoded into calls of gjbmem_mmap/mmap64, munmap, msync,
 * mprotect, mremap, mlock/munlock, mlockall/munlockall, posix_madvise,
 * shm_open and shm_unlink with arbitrary arguments, kept safe: mappings are
 * anonymous or of a temporary file / shared-memory object the target made
 * itself; munmap/mprotect/msync/mremap get ranges of the target's own
 * mappings (possibly reaching past them), unaligned addresses, ranges it
 * unmapped before, wild or overflowing ranges, and page-aligned memory the
 * layer does not own (a static buffer, a malloc'd buffer), which must be
 * refused. Each result is checked against the SPEC errno, and after every
 * call the registry statistics (gjbmem_vmm_stats) must equal those of a
 * model of the registry's records (a record per piece, split exactly where
 * a call cuts a mapping). Shared-memory names carry a per-process prefix
 * and are unlinked, like every mapping, at the end of each input.
 *
 * Built with AddressSanitizer, whose mlock family does nothing and returns
 * 0: the lock calls are checked for their argument rules and bookkeeping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GJBMEM_NO_STD_NAMES
#include <mman.h>
#include <gjbmem/vmm.h>

#define MAX_RECS 256
#define MAX_OPS 200
#define ERRNO_MARK 0x5a5a
#define NSHM 8

struct rec {
    uintptr_t lo, hi;
    int locked, shared_anon, file, ro_shared;
};

static struct rec recs[MAX_RECS];
static int nrecs;
static int lock_future;
static size_t shm_opened_model;
static int shm_base_known;
static size_t page;
static uintptr_t stale[16];
static unsigned nstale;
static int step;

static int fd_rw = -1, fd_ro = -1, fd_wo = -1, fd_dir = -1, fd_closed = -1;
static int shm_fd_rw = -1, shm_fd_ro = -1;
static char prefix[64];
static char tmpfile_path[128];
static int shm_exists[NSHM + 1];
static _Alignas(4096) unsigned char static_pages[3 * 4096];

static void dump_model(void);
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_vmm_args: step %d: check failed at line %d: %s\n  ",    \
                    step, __LINE__, #cond);                                               \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            dump_model();                                                                 \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

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

/* Allowed outcomes: bit 0 success, then errno bits. */
enum { A_OK = 1, A_EINVAL = 2, A_ENOTSUP = 4, A_ENOMEM = 8, A_EBADF = 16, A_EACCES = 32,
       A_ENODEV = 64, A_VPAGE = 128, A_EEXIST = 256, A_ENOENT = 512, A_ENAMETOOLONG = 1024,
       A_EPERM = 2048, A_EFAULT = 4096 };
static int err_bit(int e)
{
    switch (e) {
    case EINVAL: return A_EINVAL;
    case ENOTSUP: return A_ENOTSUP;
    case ENOMEM: return A_ENOMEM;
    case EBADF: return A_EBADF;
    case EACCES: return A_EACCES;
    case ENODEV: return A_ENODEV;
    case ERROR_VMM_VIRTUAL_PAGE: return A_VPAGE;
    case EEXIST: return A_EEXIST;
    case ENOENT: return A_ENOENT;
    case ENAMETOOLONG: return A_ENAMETOOLONG;
    case EPERM: return A_EPERM;
    case EFAULT: return A_EFAULT;
    default: return 1 << 20;
    }
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
    if (ok) {
        CHECK(allowed & A_OK, "%s succeeded; expected failure (mask %#x)", what, allowed);
        CHECK(e == ERRNO_MARK, "%s succeeded but changed errno to %d", what, e);
    } else {
        CHECK(e != ERRNO_MARK, "%s failed without setting errno", what);
        CHECK(err_bit(e) & allowed & ~A_OK, "%s failed with errno %d (%s); allowed mask %#x", what, e,
              strerror(e), allowed);
    }
}

/* ---- the model of the registry ---- */
static int find_rec(uintptr_t a)
{
    for (int i = 0; i < nrecs; i++)
        if (recs[i].lo <= a && a < recs[i].hi)
            return i;
    return -1;
}
static void split_at(uintptr_t x)
{
    int i = find_rec(x);
    if (i < 0 || recs[i].lo == x)
        return;
    CHECK(nrecs < MAX_RECS, "model full");
    recs[nrecs] = recs[i];
    recs[nrecs].lo = x;
    recs[i].hi = x;
    nrecs++;
}
static void drop_rec(int i) { recs[i] = recs[--nrecs]; }
static int overlaps(uintptr_t a, uintptr_t b)
{
    for (int i = 0; i < nrecs; i++)
        if (recs[i].lo < b && a < recs[i].hi)
            return 1;
    return 0;
}
static int covered(uintptr_t a, uintptr_t b)
{
    while (a < b) {
        int i = find_rec(a);
        if (i < 0)
            return 0;
        a = recs[i].hi;
    }
    return 1;
}
static int round_len(size_t len, size_t *out)
{
    if (len > SIZE_MAX - (page - 1))
        return 0;
    *out = (len + page - 1) & ~(page - 1);
    return 1;
}
static void remember_stale(uintptr_t a) { stale[nstale++ % 16] = a; }

static void check_stats(void)
{
    struct gjbmem_vmm_stats st;
    errno = ERRNO_MARK;
    CHECK(gjbmem_vmm_stats(&st) == 0 && errno == ERRNO_MARK, "gjbmem_vmm_stats failed");
    size_t mapped = 0, locked = 0, sa = 0;
    for (int i = 0; i < nrecs; i++) {
        size_t l = recs[i].hi - recs[i].lo;
        mapped += l;
        if (recs[i].locked) locked += l;
        if (recs[i].shared_anon) sa += l;
    }
    if (!shm_base_known) {
        shm_opened_model = st.shm_opened;
        shm_base_known = 1;
    }
    CHECK(st.mappings == (size_t)nrecs && st.bytes_mapped == mapped && st.bytes_locked == locked &&
              st.shared_anon_bytes == sa && st.shm_opened == shm_opened_model,
          "registry stats (mappings %zu, mapped %zu, locked %zu, shared anon %zu, shm_opened %zu) "
          "!= model (%d, %zu, %zu, %zu, %zu)",
          st.mappings, st.bytes_mapped, st.bytes_locked, st.shared_anon_bytes, st.shm_opened, nrecs,
          mapped, locked, sa, shm_opened_model);
}

static void shm_name(int idx, int slash, char *buf, size_t cap);

/* On a failed check: show the model, and remove this process's
 * shared-memory objects (abort() skips the end-of-input cleanup). */
static void dump_model(void)
{
    for (int i = 0; i <= NSHM; i++) {
        char name[300];
        shm_name(i, 1, name, sizeof name);
        shm_unlink(name);
    }
    fprintf(stderr, "  model: %d records%s\n", nrecs, lock_future ? ", lock future" : "");
    for (int i = 0; i < nrecs; i++)
        fprintf(stderr, "    [%#lx, %#lx) %zu pages%s%s%s%s\n", (unsigned long)recs[i].lo,
                (unsigned long)recs[i].hi, (size_t)(recs[i].hi - recs[i].lo) / page,
                recs[i].locked ? " locked" : "", recs[i].shared_anon ? " shared-anon" : "",
                recs[i].file ? " file" : "", recs[i].ro_shared ? " read-only-shared" : "");
}

/* ---- one-time setup ---- */
static void setup(void)
{
    if (page)
        return;
    page = (size_t)sysconf(_SC_PAGESIZE);
    snprintf(prefix, sizeof prefix, "gjbfz%ld_", (long)getpid());
    snprintf(tmpfile_path, sizeof tmpfile_path, "/tmp/gjbfz_vmm_%ld", (long)getpid());
    fd_rw = open(tmpfile_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd_rw >= 0, "cannot create %s", tmpfile_path);
    CHECK(ftruncate(fd_rw, (off_t)(4 * page)) == 0, "ftruncate");
    fd_ro = open(tmpfile_path, O_RDONLY);
    fd_wo = open(tmpfile_path, O_WRONLY);
    unlink(tmpfile_path);
    fd_dir = open("/tmp", O_RDONLY | O_DIRECTORY);
    fd_closed = 1000; /* a descriptor number that is not open */
    while (fcntl(fd_closed, F_GETFD) != -1)
        fd_closed++;
    CHECK(fd_ro >= 0 && fd_wo >= 0 && fd_dir >= 0, "cannot open the test descriptors");
}

/* shm names: index 0..NSHM-1 are short names, NSHM a 255-character one. */
static void shm_name(int idx, int slash, char *buf, size_t cap)
{
    if (idx < NSHM) {
        snprintf(buf, cap, "%s%s%d", slash ? "/" : "", prefix, idx);
    } else {
        int n = snprintf(buf, cap, "%s%s", slash ? "/" : "", prefix);
        size_t want = 255 + (slash ? 1 : 0);
        while ((size_t)n < want) buf[n++] = 'L';
        buf[n] = 0;
    }
}

/* ---- operations ---- */
static int pick_fd(struct in *in, int *kind)
{
    static const int kinds = 9;
    *kind = (int)(u8(in) % kinds);
    switch (*kind) {
    case 0: return fd_rw;
    case 1: return fd_ro;
    case 2: return fd_wo;
    case 3: return fd_dir;
    case 4: return fd_closed;
    case 5: return -1;
    case 6: return shm_fd_rw;
    case 7: return shm_fd_ro;
    default: return 1 << 20;
    }
}

static void op_mmap(struct in *in)
{
    static const int extra_flags[] = {0, 0, 0, 0, MAP_FIXED, MAP_FILE, MAP_NORESERVE, MAP_POPULATE,
                                      MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_HUGETLB,
                                      MAP_GROWSDOWN, MAP_STACK, MAP_NONBLOCK, MAP_32BIT,
                                      0x100000 /* MAP_FIXED_NOREPLACE */, 0x80000 /* MAP_SYNC */,
                                      0x4000000 /* MAP_UNINITIALIZED */, 0x40000000};
    unsigned k = u8(in);
    int kind_sel = u8(in) % 8;
    int flags = kind_sel < 3 ? MAP_PRIVATE : kind_sel < 6 ? MAP_SHARED
              : kind_sel == 6 ? 0 : MAP_SHARED | MAP_PRIVATE;
    int anon = (k & 1) || (k & 2);
    if (anon) flags |= MAP_ANONYMOUS;
    flags |= extra_flags[u8(in) % (sizeof extra_flags / sizeof *extra_flags)];
    int prot = (int)(u8(in) % 8);
    if (u8(in) % 16 == 0) prot |= (int)(1u << (3 + u8(in) % 28));
    size_t len;
    unsigned lsel = u8(in) % 10;
    if (lsel == 0) len = 0;
    else if (lsel == 1) len = SIZE_MAX - u8(in);
    else if (lsel == 2) len = (size_t)1 << (50 + u8(in) % 13);
    else if (lsel < 5) len = 1 + u16(in) % (4 * page);
    else len = page * (1 + u8(in) % 8);
    long long off = 0;
    unsigned osel = u8(in) % 8;
    if (osel == 1) off = (long long)page;
    else if (osel == 2) off = 1 + u16(in) % page;
    else if (osel == 3) off = -(long long)page;
    else if (osel == 4) off = (long long)page * (u8(in) % 8);
    void *addr = NULL;
    if (u8(in) % 12 == 0) addr = static_pages;
    int fdkind;
    int fd = pick_fd(in, &fdkind);
    int use64 = k & 4;

    /* expected outcome */
    int allowed = 0;
    int kindbits = flags & (MAP_SHARED | MAP_PRIVATE);
    int known = MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FILE | MAP_NORESERVE | MAP_POPULATE |
                MAP_DENYWRITE | MAP_EXECUTABLE;
    size_t rlen = 0;
    /* argument errors first (EINVAL), then MAP_FIXED (ENOTSUP, or EINVAL for
     * an unaligned address), then addr, then a length beyond rounding */
    if ((flags & ~known & ~MAP_FIXED) || len == 0 || (prot & ~7) ||
        (kindbits != MAP_SHARED && kindbits != MAP_PRIVATE) || off < 0 || off % (long long)page)
        allowed = A_EINVAL;
    else if (flags & MAP_FIXED)
        allowed = (uintptr_t)addr % page ? A_EINVAL : A_ENOTSUP;
    else if (addr)
        allowed = A_EINVAL;
    else if (!round_len(len, &rlen))
        allowed = A_ENOMEM;
    if (!allowed && !anon) {
        if (fdkind == 4 || fdkind == 5 || fdkind == 8 || (fdkind >= 6 && fd < 0)) allowed |= A_EBADF;
        else if (fdkind == 3) allowed |= A_ENODEV;
        else if (fdkind == 2) allowed |= A_EACCES;
        else if ((fdkind == 1 || fdkind == 7) && kindbits == MAP_SHARED && (prot & PROT_WRITE))
            allowed |= A_EACCES;
    }
    if (!allowed) {
        if (rlen >= ((size_t)1 << 47)) allowed = A_ENOMEM | A_OK;
        else allowed = A_OK;
        if (!anon && (prot & PROT_EXEC)) allowed |= A_EPERM | A_EACCES; /* a noexec mount */
    }
    errno = ERRNO_MARK;
    void *p = use64 ? gjbmem_mmap64(addr, len, prot, flags, fd, (gjbmem_off64_t)off)
                    : gjbmem_mmap(addr, len, prot, flags, fd, (off_t)off);
    int e = errno;
    char what[200];
    snprintf(what, sizeof what, "gjbmem_mmap%s(%p, %zu, prot %#x, flags %#x, fd kind %d, off %lld)",
             use64 ? "64" : "", addr, len, prot, flags, fdkind, off);
    CHECK(p != NULL, "%s returned NULL", what);
    expect(what, p != MAP_FAILED, e, allowed);
    if (p == MAP_FAILED)
        return;
    uintptr_t a = (uintptr_t)p;
    CHECK(a % page == 0, "%s returned unaligned %p", what, p);
    CHECK(!overlaps(a, a + rlen), "%s returned %p over a live mapping", what, p);
    if (nrecs == MAX_RECS) { /* keep the model bounded */
        CHECK(gjbmem_munmap(p, rlen) == 0, "unmapping a fresh mapping failed");
        return;
    }
    recs[nrecs++] = (struct rec){a, a + rlen, lock_future, anon && kindbits == MAP_SHARED, !anon,
                                 !anon && kindbits == MAP_SHARED && (fdkind == 1 || fdkind == 7)};
    if (anon && (prot & PROT_WRITE) && (prot & PROT_READ)) { /* the memory is there */
        ((volatile unsigned char *)p)[0] = 0xa5;
        ((volatile unsigned char *)p)[rlen - 1] = 0x5a;
    }
}

/* A range for munmap/mprotect/msync/mremap/mlock/madvise. kind reports
 * whether it is page-aligned memory the layer does not own (2), near the
 * target's mappings (1) or wild (0). */
static void pick_range(struct in *in, uintptr_t *a, size_t *len, int for_lock)
{
    unsigned k = u8(in) % 12;
    if (k < 6 && nrecs) {
        struct rec *r = &recs[u8(in) % nrecs];
        long dp = (long)(u8(in) % 8) - 2;
        if (k < 3) dp = 0;
        *a = r->lo + (uintptr_t)(dp * (long)page);
        if (k == 5 && !for_lock) *a += 1 + u16(in) % (page - 1);
        unsigned ls = u8(in) % 6;
        size_t rl = r->hi - r->lo;
        if (ls == 0) *len = rl;
        else if (ls == 1) *len = 0;
        else if (ls == 2) *len = 1 + u16(in) % (rl + 2 * page);
        else *len = page * (u8(in) % 10);
        if (for_lock && *len == 0 && (u8(in) & 1)) *len = rl;
        return;
    }
    if (for_lock) { /* the lock calls reach the host: stay in our memory */
        if (nrecs) {
            struct rec *r = &recs[u8(in) % nrecs];
            *a = r->lo + u16(in) % (r->hi - r->lo);
            *len = u16(in) % (r->hi - *a + 1);
        } else {
            *a = (uintptr_t)static_pages + u16(in) % sizeof static_pages;
            *len = u16(in) % ((uintptr_t)static_pages + sizeof static_pages - *a + 1);
        }
        if (k == 11) *len = SIZE_MAX - u8(in);
        return;
    }
    switch (k) {
    case 6: *a = (uintptr_t)static_pages + page * (u8(in) % 3); *len = page * (1 + u8(in) % 2); break;
    case 7: *a = nstale ? stale[u8(in) % (nstale < 16 ? nstale : 16)] : (uintptr_t)static_pages;
            *len = page * (1 + u8(in) % 4); break;
    case 8: *a = 0; *len = page * (u8(in) % 4); break;
    case 9: *a = (UINTPTR_MAX & ~(uintptr_t)(page - 1)) - page * (u8(in) % 4); *len = page * (1 + u8(in) % 8); break;
    case 10: *a = nrecs ? recs[u8(in) % nrecs].lo : (uintptr_t)static_pages; *len = SIZE_MAX - u8(in); break;
    default: *a = (uintptr_t)u64(in) & ~(uintptr_t)(page - 1); *len = page; /* high half: never ours */
             *a |= (uintptr_t)1 << 63; break;
    }
}

static void static_pages_intact(void)
{
    volatile unsigned char *s = static_pages;
    for (size_t i = 0; i < sizeof static_pages; i += page)
        CHECK(s[i] == (unsigned char)(i / page + 1), "static page %zu damaged or gone", i / page);
}

static void op_munmap(struct in *in)
{
    uintptr_t a;
    size_t len, rlen = 0;
    pick_range(in, &a, &len, 0);
    int allowed;
    if (a % page || len == 0 || !round_len(len, &rlen) || rlen > UINTPTR_MAX - a)
        allowed = A_EINVAL;
    else if (!overlaps(a, a + rlen))
        allowed = A_EINVAL;
    else
        allowed = A_OK;
    errno = ERRNO_MARK;
    int r = gjbmem_munmap((void *)a, len);
    int e = errno;
    char what[96];
    snprintf(what, sizeof what, "gjbmem_munmap(%#lx, %zu)", (unsigned long)a, len);
    expect(what, r == 0, e, allowed);
    if (r == 0) {
        split_at(a);
        split_at(a + rlen);
        for (int i = nrecs - 1; i >= 0; i--)
            if (a <= recs[i].lo && recs[i].hi <= a + rlen) {
                remember_stale(recs[i].lo);
                drop_rec(i);
            }
    }
    static_pages_intact();
}

static void op_mprotect(struct in *in)
{
    uintptr_t a;
    size_t len, rlen = 0;
    pick_range(in, &a, &len, 0);
    int prot = (int)(u8(in) % 8);
    if (u8(in) % 8 == 0) prot |= (int)(1u << (3 + u8(in) % 28));
    int allowed = 0;
    if (a % page || len == 0) allowed |= A_EINVAL;
    if (prot & ~7) allowed |= A_ENOTSUP;
    if (!allowed) {
        if (!round_len(len, &rlen) || rlen > UINTPTR_MAX - a || !covered(a, a + rlen)) {
            allowed = A_ENOMEM;
        } else {
            allowed = A_OK;
            for (int i = 0; i < nrecs; i++)
                if (recs[i].lo < a + rlen && a < recs[i].hi) {
                    if (recs[i].ro_shared && (prot & PROT_WRITE)) allowed = A_VPAGE;
                    else if (recs[i].file && (prot & PROT_EXEC)) allowed |= A_VPAGE;
                }
        }
    }
    errno = ERRNO_MARK;
    int r = gjbmem_mprotect((void *)a, len, prot);
    int e = errno;
    char what[96];
    snprintf(what, sizeof what, "gjbmem_mprotect(%#lx, %zu, %#x)", (unsigned long)a, len, prot);
    expect(what, r == 0, e, allowed);
    if (r == 0) {
        split_at(a);
        split_at(a + rlen);
    }
    static_pages_intact();
}

static void op_msync(struct in *in)
{
    uintptr_t a;
    size_t len, rlen = 0;
    pick_range(in, &a, &len, 0);
    static const int fl[] = {MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE,
                             MS_ASYNC | MS_INVALIDATE, MS_SYNC | MS_ASYNC, 0, 8, 0x100, -1};
    int flags = fl[u8(in) % 10];
    int allowed = 0;
    if (a % page || (flags & ~(MS_SYNC | MS_ASYNC | MS_INVALIDATE)) ||
        ((flags & MS_SYNC) && (flags & MS_ASYNC)))
        allowed = A_EINVAL;
    else if (!round_len(len, &rlen) || rlen > UINTPTR_MAX - a)
        allowed = A_ENOMEM;
    else if (rlen == 0)
        allowed = A_OK | A_ENOMEM;
    else
        allowed = covered(a, a + rlen) ? A_OK : A_ENOMEM;
    errno = ERRNO_MARK;
    int r = gjbmem_msync((void *)a, len, flags);
    int e = errno;
    char what[96];
    snprintf(what, sizeof what, "gjbmem_msync(%#lx, %zu, %#x)", (unsigned long)a, len, flags);
    expect(what, r == 0, e, allowed);
}

static void op_mremap(struct in *in)
{
    uintptr_t a;
    size_t old, rold = 0;
    pick_range(in, &a, &old, 0);
    size_t nl;
    unsigned s = u8(in) % 8;
    if (s == 0) nl = 0;
    else if (s == 1) nl = SIZE_MAX - u8(in);
    else if (s == 2) nl = (size_t)1 << (47 + u8(in) % 16);
    else if (s < 5) nl = 1 + u16(in) % (8 * page);
    else nl = page * (1 + u8(in) % 8);
    static const int fl[] = {0, MREMAP_MAYMOVE, MREMAP_MAYMOVE, MREMAP_FIXED,
                             MREMAP_FIXED | MREMAP_MAYMOVE, 4, 8, 0x100};
    int flags = fl[u8(in) % 8];
    size_t rnl = 0;
    int allowed = 0, in_one = 0;
    if (flags & MREMAP_FIXED)
        allowed = A_ENOTSUP;
    else if ((flags & ~MREMAP_MAYMOVE) || a % page || old == 0 || nl == 0 || !round_len(old, &rold) ||
             rold > UINTPTR_MAX - a)
        allowed = A_EINVAL;
    else if (!round_len(nl, &rnl))
        allowed = A_ENOMEM;
    else {
        int i = find_rec(a);
        if (i < 0 || rold > recs[i].hi - a) {
            allowed = A_EINVAL; /* not inside one record */
        } else {
            in_one = 1;
            if (rnl <= rold) allowed = A_OK;
            else if ((flags & MREMAP_MAYMOVE) && rnl < ((size_t)1 << 40)) allowed = A_OK;
            else allowed = A_OK | A_ENOMEM;
        }
    }
    errno = ERRNO_MARK;
    void *p = gjbmem_mremap((void *)a, old, nl, flags);
    int e = errno;
    char what[128];
    snprintf(what, sizeof what, "gjbmem_mremap(%#lx, %zu, %zu, %#x)", (unsigned long)a, old, nl, flags);
    expect(what, p != MAP_FAILED, e, allowed);
    if (p == MAP_FAILED || !in_one)
        return;
    uintptr_t na = (uintptr_t)p;
    CHECK(na % page == 0, "%s returned unaligned %p", what, p);
    if (!(flags & MREMAP_MAYMOVE))
        CHECK(na == a, "%s moved the mapping without MREMAP_MAYMOVE", what);
    int i = find_rec(a);
    struct rec moved = recs[i];
    split_at(a);
    split_at(a + rold);
    i = find_rec(a);
    CHECK(recs[i].lo == a && recs[i].hi == a + rold, "model split");
    drop_rec(i);
    if (na != a) remember_stale(a);
    CHECK(!overlaps(na, na + rnl), "%s returned %p over another live mapping", what, p);
    moved.lo = na;
    moved.hi = na + rnl;
    CHECK(nrecs < MAX_RECS, "model full");
    recs[nrecs++] = moved;
}

static void op_lock(struct in *in, int lock)
{
    uintptr_t addr;
    size_t len, span = 0;
    pick_range(in, &addr, &len, 1);
    uintptr_t a = addr & ~(uintptr_t)(page - 1);
    int allowed;
    int ovf = len > SIZE_MAX - page || !round_len(len + (addr - a), &span) || span > UINTPTR_MAX - a;
    if (ovf)
        allowed = A_ENOMEM;
    else
        allowed = covered(a, a + span) ? A_OK | A_EACCES : A_OK | A_ENOMEM | A_EACCES;
    errno = ERRNO_MARK;
    int r = lock ? gjbmem_mlock((void *)addr, len) : gjbmem_munlock((void *)addr, len);
    int e = errno;
    char what[96];
    snprintf(what, sizeof what, "gjbmem_%s(%#lx, %zu)", lock ? "mlock" : "munlock", (unsigned long)addr, len);
    expect(what, r == 0, e, allowed);
    if (r == 0) {
        split_at(a);
        split_at(a + span);
        for (int i = 0; i < nrecs; i++)
            if (a <= recs[i].lo && recs[i].hi <= a + span)
                recs[i].locked = lock;
    }
}

static void op_lockall(struct in *in)
{
    unsigned k = u8(in) % 10;
    errno = ERRNO_MARK;
    if (k >= 8) {
        int r = gjbmem_munlockall();
        int e = errno;
        expect("gjbmem_munlockall()", r == 0, e, A_OK | A_EACCES);
        if (r == 0) {
            for (int i = 0; i < nrecs; i++) recs[i].locked = 0;
            lock_future = 0;
        }
        return;
    }
    static const int fl[] = {0, MCL_CURRENT, MCL_FUTURE, MCL_CURRENT | MCL_FUTURE, MCL_ONFAULT,
                             MCL_CURRENT | MCL_ONFAULT, 8, 0x40};
    int flags = fl[k];
    int good = (flags & (MCL_CURRENT | MCL_FUTURE)) && !(flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT));
    int r = gjbmem_mlockall(flags);
    int e = errno;
    char what[64];
    snprintf(what, sizeof what, "gjbmem_mlockall(%#x)", flags);
    expect(what, r == 0, e, good ? A_OK | A_EACCES : A_EINVAL);
    if (r == 0) {
        if (flags & MCL_CURRENT)
            for (int i = 0; i < nrecs; i++) recs[i].locked = 1;
        if (flags & MCL_FUTURE)
            lock_future = 1;
    }
}

static void op_madvise(struct in *in)
{
    unsigned k = u8(in);
    int advice = (int)(k % 12) - 2; /* -2 .. 9 */
    if (advice == 9) advice = 100;
    uintptr_t a = (uintptr_t)static_pages;
    size_t len = page;
    if (nrecs) {
        struct rec *r = &recs[u8(in) % nrecs];
        a = r->lo + page * (u8(in) % ((r->hi - r->lo) / page));
        len = r->hi - a;
    }
    int known = advice >= 0 && advice <= 4;
    errno = ERRNO_MARK;
    int r = gjbmem_posix_madvise((void *)a, len, advice);
    char what[96];
    snprintf(what, sizeof what, "gjbmem_posix_madvise(%#lx, %zu, %d) [returns %d]", (unsigned long)a, len,
             advice, r);
    trace(what, 1, 0);
    CHECK(errno == ERRNO_MARK, "posix_madvise(advice %d) set errno to %d", advice, errno);
    CHECK(known ? r == 0 : r == EINVAL, "posix_madvise(%#lx, %zu, %d) returned %d", (unsigned long)a, len,
          advice, r);
}

static void op_shm(struct in *in)
{
    unsigned k = u8(in);
    int idx = (int)(u8(in) % (NSHM + 1));
    char name[600];
    int expect_name = 0; /* 0 valid, else the errno bit */
    switch (k % 12) {
    case 0: strcpy(name, ""); expect_name = A_EINVAL; break;
    case 1: strcpy(name, "/"); expect_name = A_EINVAL; break;
    case 2: strcpy(name, (k & 16) ? "/." : "."); expect_name = A_EINVAL; break;
    case 3: strcpy(name, (k & 16) ? "/.." : ".."); expect_name = A_EINVAL; break;
    case 4: snprintf(name, sizeof name, "%s%s/%d", (k & 16) ? "/" : "", prefix, idx); expect_name = A_EINVAL; break;
    case 5: snprintf(name, sizeof name, "//%s%d", prefix, idx); expect_name = A_EINVAL; break;
    case 6: { /* 256 characters or more */
        int n = snprintf(name, sizeof name, "%s%s", (k & 16) ? "/" : "", prefix);
        size_t want = 256 + (k & 16 ? 1 : 0) + (k >> 5);
        while ((size_t)n < want) name[n++] = 'x';
        name[n] = 0;
        expect_name = A_ENAMETOOLONG;
        break;
    }
    case 7: name[0] = 0; expect_name = -1; break; /* NULL */
    default: shm_name(idx, k & 16, name, sizeof name); break;
    }
    const char *np = expect_name == -1 ? NULL : name;
    if (expect_name == -1) expect_name = A_EINVAL;
    int unlink_op = (k >> 6) == 3;
    errno = ERRNO_MARK;
    if (unlink_op) {
        int r = gjbmem_shm_unlink(np);
        int e = errno;
        int allowed = expect_name ? expect_name : shm_exists[idx] ? A_OK : A_ENOENT;
        char what[64];
        snprintf(what, sizeof what, "gjbmem_shm_unlink(name kind %u, idx %d)", k % 12, idx);
        expect(what, r == 0, e, allowed);
        if (r == 0) shm_exists[idx] = 0;
        return;
    }
    static const int of[] = {O_RDWR | O_CREAT, O_RDWR | O_CREAT | O_EXCL, O_RDONLY, O_RDWR,
                             O_RDONLY | O_CREAT, O_RDWR | O_CREAT | O_TRUNC};
    int oflag = of[u8(in) % 6];
    mode_t mode = (k & 32) ? 0600 : 0;
    int fd = gjbmem_shm_open(np, oflag, mode);
    int e = errno;
    int allowed;
    if (expect_name) allowed = expect_name;
    else if (shm_exists[idx]) allowed = (oflag & O_EXCL) ? A_EEXIST : A_OK;
    else allowed = (oflag & O_CREAT) ? A_OK : A_ENOENT;
    if (allowed & A_OK) allowed |= A_EACCES; /* mode 0 objects, when not root */
    char what[96];
    snprintf(what, sizeof what, "gjbmem_shm_open(name kind %u, idx %d, %#x)", k % 12, idx, oflag);
    expect(what, fd >= 0, e, allowed);
    if (fd < 0) return;
    shm_opened_model++;
    shm_exists[idx] = 1;
    if ((oflag & O_ACCMODE) == O_RDWR) {
        if (ftruncate(fd, (off_t)(2 * page)) != 0) { /* keep it mappable */ }
        if (shm_fd_rw >= 0) close(shm_fd_rw);
        shm_fd_rw = fd;
    } else {
        if (shm_fd_ro >= 0) close(shm_fd_ro);
        shm_fd_ro = fd;
    }
}

static void reset(void)
{
    errno = ERRNO_MARK;
    if (lock_future || nrecs) {
        CHECK(gjbmem_munlockall() == 0, "munlockall failed: %d", errno);
        for (int i = 0; i < nrecs; i++) recs[i].locked = 0;
        lock_future = 0;
        check_stats();
    }
    while (nrecs) {
        struct rec r = recs[nrecs - 1];
        int rr = gjbmem_munmap((void *)r.lo, r.hi - r.lo);
        CHECK(rr == 0, "final munmap(%#lx, %zu) failed: errno %d", (unsigned long)r.lo,
              (size_t)(r.hi - r.lo), errno);
        nrecs--;
        check_stats();
    }
    for (int i = 0; i <= NSHM; i++)
        if (shm_exists[i]) {
            char name[300];
            shm_name(i, 0, name, sizeof name);
            CHECK(gjbmem_shm_unlink(name) == 0, "final shm_unlink(%s) failed: errno %d", name, errno);
            shm_exists[i] = 0;
        }
    if (shm_fd_rw >= 0) close(shm_fd_rw);
    if (shm_fd_ro >= 0) close(shm_fd_ro);
    shm_fd_rw = shm_fd_ro = -1;
    nstale = 0;
    check_stats();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    for (size_t i = 0; i < sizeof static_pages; i += page)
        static_pages[i] = (unsigned char)(i / page + 1);
    check_stats();
    struct in in = {data, size, 0};
    for (step = 0; step < MAX_OPS && in.i < in.n; step++) {
        unsigned op = u8(&in);
        switch (op % 14) {
        case 0: case 1: case 2: op_mmap(&in); break;
        case 3: case 4: op_munmap(&in); break;
        case 5: op_mprotect(&in); break;
        case 6: op_msync(&in); break;
        case 7: case 8: op_mremap(&in); break;
        case 9: op_lock(&in, 1); break;
        case 10: op_lock(&in, 0); break;
        case 11: op_lockall(&in); break;
        case 12: op_madvise(&in); break;
        default: op_shm(&in); break;
        }
        check_stats();
    }
    reset();
    return 0;
}
