/*
 * record.c - libgjbmem-record.so, the recording library `gjbmem record`
 * preloads into a program: every call of the malloc family is passed to
 * glibc's own allocator, unchanged, and written to a trace (format.h,
 * docs/TRACES.md).
 *
 * - Order: one lock is held across the real call and the writing of its
 *   record, so the records are in an order in which the calls could have
 *   happened, and an address freed by one thread and reused by another is
 *   never confused (a free is written before the block is released).
 * - Objects are named by dense ids (addresses are not written): a hash table
 *   maps each live block to its id, size and alignment; freed ids are
 *   reused last in, first out.
 * - The trace is written through a shared mapping of the file, a window of
 *   GJBT_WINDOW bytes at a time, so every record is in the file the moment
 *   it is written: a program that ends by _exit, exec or a signal (even
 *   SIGKILL) loses nothing. `gjbmem record` finishes every file after the
 *   program has ended (END record, trailing zeros cut).
 * - Files: the first process image takes GJBMEM_RECORD_FILE itself
 *   (created with O_EXCL); a child made by fork and an image started by exec
 *   write FILE.<pid> (FILE.<pid>.2, ... if taken). A fork child's trace
 *   starts with INHERIT records for the blocks live at the fork.
 * - Nothing here allocates with malloc or writes to the program's
 *   descriptors or output; the trace descriptor is moved above
 *   GJBT_FD_FLOOR and closed on exec. When anything fails (no file, disk
 *   full), recording stops and the program goes on.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../trace/format.h"

#define EXPORT __attribute__((visibility("default")))
#define GJBT_WINDOW ((size_t)1 << 20)
#define GJBT_FD_FLOOR 700

/* glibc's own allocator, under the names it exports for exactly this use. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* The rest, looked up once (constructor); fallbacks before that. */
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static size_t (*real_usable_size)(void *);

EXPORT void *memalign(size_t align, size_t size);
EXPORT void *valloc(size_t size);
EXPORT void *pvalloc(size_t size);
EXPORT size_t malloc_usable_size(void *p);
EXPORT void *reallocarray(void *p, size_t n, size_t size);

/* --- state (all under `lock`) ------------------------------------------ */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int state;            /* 0 not started, 1 recording, -1 off */
static int fd = -1;
static unsigned char *win;   /* the mapped window of the file */
static uint64_t win_base;    /* its offset in the file */
static size_t pos;           /* next byte in the window */
static uint32_t sum;         /* checksum of every byte written */
static uint32_t last_thread; /* thread of the last record written */
static uint32_t threads;     /* threads seen */
static __thread uint32_t my_thread __attribute__((tls_model("initial-exec")));
static __thread bool busy __attribute__((tls_model("initial-exec")));

struct entry {
    uintptr_t addr; /* 0: empty */
    uint64_t size;
    uint32_t id;
    uint32_t align;
};

static struct entry *tab; /* open addressing, linear probing */
static size_t cap, live;
static uint32_t *ids;     /* freed ids, most recent last */
static size_t nids, ids_cap;
static uint32_t next_id = 1;

/* --- pages for the table and the id stack ------------------------------- */

static void *pages(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void stop(void)
{
    state = -1;
}

/* --- writing ------------------------------------------------------------ */

/* Maps the next window of the file (growing the file to cover it). */
static bool next_window(void)
{
    uint64_t base = win ? win_base + GJBT_WINDOW : 0;
    if (win)
        munmap(win, GJBT_WINDOW);
    win = NULL;
    if (ftruncate(fd, (off_t)(base + GJBT_WINDOW)) != 0)
        return false;
    void *m = mmap(NULL, GJBT_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
    if (m == MAP_FAILED)
        return false;
    win = m;
    win_base = base;
    pos = 0;
    return true;
}

/* Writes n bytes of the header at the start of the first window. */
static void emit_raw(const unsigned char *b, size_t n)
{
    sum = gjbt_fnv(sum, b, n);
    memcpy(win + pos, b, n);
    pos += n;
}

/* Writes one record (n <= sizeof struct rec) inside one window: a window
 * too full for it is filled with PAD bytes first. The opcode byte goes in
 * last, so a process killed meanwhile leaves a zero there. */
static void emit(const unsigned char *b, size_t n)
{
    if (state <= 0)
        return;
    if (pos + n > GJBT_WINDOW) {
        memset(win + pos, GJBT_PAD, GJBT_WINDOW - pos);
        sum = gjbt_fnv(sum, win + pos, GJBT_WINDOW - pos);
        pos = GJBT_WINDOW;
        if (!next_window()) {
            stop();
            return;
        }
    }
    sum = gjbt_fnv(sum, b, n);
    memcpy(win + pos + 1, b + 1, n - 1);
    atomic_signal_fence(memory_order_seq_cst);
    win[pos] = b[0];
    pos += n;
}

/* A record under construction: at most an opcode and five varints. */
struct rec {
    unsigned char b[1 + 5 * GJBT_VARINT_MAX];
    size_t n;
};

static void put(struct rec *r, uint64_t v)
{
    r->n += gjbt_put_varint(r->b + r->n, v);
}

/* Starts a record of op, first naming the calling thread if it changed. */
static void begin(struct rec *r, unsigned op)
{
    if (!my_thread)
        my_thread = ++threads;
    if (my_thread != last_thread) {
        struct rec t = {{GJBT_THREAD}, 1};
        put(&t, my_thread);
        emit(t.b, t.n);
        last_thread = my_thread;
    }
    r->b[0] = (unsigned char)op;
    r->n = 1;
}

static void finish(struct rec *r)
{
    emit(r->b, r->n);
}

/* --- the object table --------------------------------------------------- */

static size_t slot_of(uintptr_t a)
{
    uint64_t x = (uint64_t)a >> 4;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 20) & (cap - 1);
}

static struct entry *find(uintptr_t a)
{
    if (!cap)
        return NULL;
    for (size_t i = slot_of(a);; i = (i + 1) & (cap - 1)) {
        if (tab[i].addr == a)
            return &tab[i];
        if (!tab[i].addr)
            return NULL;
    }
}

static void place(struct entry e)
{
    size_t i = slot_of(e.addr);
    while (tab[i].addr)
        i = (i + 1) & (cap - 1);
    tab[i] = e;
}

static bool grow_table(void)
{
    size_t ncap = cap ? cap * 2 : 4096, ocap = cap;
    struct entry *old = tab, *n = pages(ncap * sizeof *n);
    if (!n)
        return false;
    tab = n;
    cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].addr)
            place(old[i]);
    if (old)
        munmap(old, ocap * sizeof *old);
    return true;
}

/* Removes entry e (backward-shift deletion keeps every probe chain whole). */
static void remove_entry(struct entry *e)
{
    size_t i = (size_t)(e - tab);
    live--;
    for (size_t j = (i + 1) & (cap - 1);; j = (j + 1) & (cap - 1)) {
        if (!tab[j].addr)
            break;
        size_t home = slot_of(tab[j].addr);
        /* tab[j] may move to i when i lies cyclically in [home, j) */
        if (((j - home) & (cap - 1)) >= ((j - i) & (cap - 1))) {
            tab[i] = tab[j];
            i = j;
        }
    }
    tab[i].addr = 0;
}

static bool push_id(uint32_t id)
{
    if (nids == ids_cap) {
        size_t ncap = ids_cap ? ids_cap * 2 : 4096;
        uint32_t *n = pages(ncap * sizeof *n);
        if (!n)
            return false;
        if (ids) {
            memcpy(n, ids, nids * sizeof *n);
            munmap(ids, ids_cap * sizeof *ids);
        }
        ids = n;
        ids_cap = ncap;
    }
    ids[nids++] = id;
    return true;
}

/* The id of a new block p (size bytes, aligned to align), or 0 for NULL. A
 * block the table still holds at p was released behind the recorder's back
 * (glibc's own internals): its id stays in use, as a block never freed. */
static uint32_t new_id(void *p, uint64_t size, size_t align)
{
    if (!p || state <= 0)
        return 0;
    if ((live + 1) * 2 > cap && !grow_table()) {
        stop();
        return 0;
    }
    struct entry *e = find((uintptr_t)p);
    if (e)
        remove_entry(e);
    uint32_t id = nids ? ids[--nids] : next_id++;
    place((struct entry){(uintptr_t)p, size, id, (uint32_t)align});
    live++;
    return id;
}

/* Forgets block p; its id, or 0 when p is unknown (*foreign set if p is
 * not NULL). */
static uint32_t drop_id(void *p, bool *foreign)
{
    struct entry *e = p ? find((uintptr_t)p) : NULL;
    *foreign = p && !e;
    if (!e)
        return 0;
    uint32_t id = e->id;
    remove_entry(e);
    if (!push_id(id))
        stop();
    return id;
}

static uint32_t peek_id(void *p, bool *foreign)
{
    struct entry *e = p ? find((uintptr_t)p) : NULL;
    *foreign = p && !e;
    return e ? e->id : 0;
}

/* --- starting a trace --------------------------------------------------- */

static size_t fmt_uint(char *b, unsigned long v)
{
    char t[24];
    size_t n = 0, k = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        b[k++] = t[--n];
    return k;
}

/* Opens this process's trace file: the name itself for the first image,
 * else name.<pid>[.<k>]; never an existing file. */
static int open_trace(const char *name, bool may_take_name, int *origin)
{
    char path[4096];
    size_t len = strlen(name);
    if (len + 48 > sizeof path)
        return -1;
    memcpy(path, name, len);
    int flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
    if (may_take_name) {
        path[len] = 0;
        int f = open(path, flags, 0644);
        if (f >= 0 || errno != EEXIST) {
            *origin = GJBT_ORIGIN_ROOT;
            return f;
        }
        *origin = GJBT_ORIGIN_EXEC;
    }
    for (unsigned long k = 1; k < 1000; k++) {
        size_t n = len;
        path[n++] = '.';
        n += fmt_uint(path + n, (unsigned long)getpid());
        if (k > 1) {
            path[n++] = '.';
            n += fmt_uint(path + n, k);
        }
        path[n] = 0;
        int f = open(path, flags, 0644);
        if (f >= 0 || errno != EEXIST)
            return f;
    }
    return -1;
}

/* The command line, NULs turned into spaces, at most sizeof buf - 1 bytes. */
static size_t command_line(char *buf, size_t cap_)
{
    int f = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 0;
    ssize_t n = read(f, buf, cap_ - 1);
    close(f);
    if (n <= 0)
        return 0;
    while (n > 0 && buf[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    return (size_t)n;
}

static void write_header(int origin)
{
    unsigned char h[GJBT_MAGIC_LEN + 1 + 7 * GJBT_VARINT_MAX + 256];
    size_t n = GJBT_MAGIC_LEN;
    memcpy(h, GJBT_MAGIC, GJBT_MAGIC_LEN);
    h[n++] = GJBT_VERSION;
    const char *s = getenv("GJBMEM_RECORD_SESSION");
    n += gjbt_put_varint(h + n, sizeof(void *));
    n += gjbt_put_varint(h + n, s ? strtoull(s, NULL, 10) : 0);
    n += gjbt_put_varint(h + n, (uint64_t)getpid());
    n += gjbt_put_varint(h + n, (uint64_t)getppid());
    n += gjbt_put_varint(h + n, (uint64_t)origin);
    n += gjbt_put_varint(h + n, (uint64_t)sysconf(_SC_PAGESIZE));
    char cmd[256];
    size_t len = command_line(cmd, sizeof cmd);
    n += gjbt_put_varint(h + n, len);
    memcpy(h + n, cmd, len);
    emit_raw(h, n + len);
}

/* Opens a new trace for this process (under the lock). */
static void start(bool forked)
{
    const char *name = getenv("GJBMEM_RECORD_FILE");
    int origin = GJBT_ORIGIN_FORK;
    int f = name && *name ? open_trace(name, !forked, &origin) : -1;
    if (f >= 0) {
        fd = fcntl(f, F_DUPFD_CLOEXEC, GJBT_FD_FLOOR);
        close(f);
    }
    /* A shared lock for as long as the process lives: `gjbmem record`
     * waits for it before it finishes the file. */
    if (f < 0 || fd < 0 || flock(fd, LOCK_SH) != 0) {
        stop();
        return;
    }
    state = 1;
    win = NULL;
    sum = GJBT_FNV_INIT;
    last_thread = 0;
    if (!next_window()) {
        stop();
        return;
    }
    write_header(origin);
}

/* --- entry and exit of every wrapper ------------------------------------ */

/* Takes the lock and returns true when this call is to be recorded. */
/* A call made while this thread is already inside a wrapper (a signal
 * handler's, or the recorder's own) goes to glibc unrecorded. */
static bool enter(void)
{
    if (state < 0 || busy)
        return false;
    busy = true;
    pthread_mutex_lock(&lock);
    if (state == 0)
        start(false);
    if (state < 0) {
        pthread_mutex_unlock(&lock);
        busy = false;
        return false;
    }
    return true;
}

static void leave(void)
{
    pthread_mutex_unlock(&lock);
    busy = false;
}

/* Writes op, its arguments (a..b: nargs of them) and the new block's id. */
static void rec_alloc(unsigned op, int nargs, uint64_t a, uint64_t b, void *p, uint64_t size,
                      size_t align)
{
    struct rec r;
    begin(&r, op);
    if (nargs > 0)
        put(&r, a);
    if (nargs > 1)
        put(&r, b);
    put(&r, new_id(p, size, align));
    finish(&r);
}

/* --- the malloc family -------------------------------------------------- */

EXPORT void *malloc(size_t size)
{
    if (!enter())
        return __libc_malloc(size);
    void *p = __libc_malloc(size);
    rec_alloc(GJBT_MALLOC, 1, size, 0, p, size, 0);
    leave();
    return p;
}

EXPORT void *calloc(size_t n, size_t size)
{
    if (!enter())
        return __libc_calloc(n, size);
    void *p = __libc_calloc(n, size);
    rec_alloc(GJBT_CALLOC, 2, n, size, p, (uint64_t)n * size, 0);
    leave();
    return p;
}

/* realloc and reallocarray: old block p, new size n * size, result q. */
static void rec_realloc(unsigned op, void *p, size_t n, size_t size, void *q)
{
    struct rec r;
    bool foreign;
    uint32_t old;
    size_t total;
    bool overflow = __builtin_mul_overflow(n, size, &total);
    if (q || (p && total == 0 && !overflow))
        old = drop_id(p, &foreign); /* moved, or freed as realloc(p, 0) does */
    else
        old = peek_id(p, &foreign); /* failed: p is intact */
    begin(&r, op | (foreign ? GJBT_FOREIGN : 0));
    if (!foreign)
        put(&r, old);
    if (op == GJBT_REALLOCARRAY)
        put(&r, n);
    put(&r, size);
    put(&r, new_id(q, total, 0));
    finish(&r);
}

EXPORT void *realloc(void *p, size_t size)
{
    if (!enter())
        return __libc_realloc(p, size);
    void *q = __libc_realloc(p, size);
    rec_realloc(GJBT_REALLOC, p, 1, size, q);
    leave();
    return q;
}

static void *reallocarray_real(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, total);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    if (!enter())
        return reallocarray_real(p, n, size);
    void *q = reallocarray_real(p, n, size);
    rec_realloc(GJBT_REALLOCARRAY, p, n, size, q);
    leave();
    return q;
}

EXPORT void *memalign(size_t align, size_t size)
{
    if (!enter())
        return __libc_memalign(align, size);
    void *p = __libc_memalign(align, size);
    rec_alloc(GJBT_MEMALIGN, 2, align, size, p, size, align);
    leave();
    return p;
}

static int posix_memalign_real(void **out, size_t align, size_t size)
{
    if (real_posix_memalign)
        return real_posix_memalign(out, align, size);
    if (align % sizeof(void *) || (align & (align - 1)) || align == 0)
        return EINVAL;
    int saved = errno;
    void *p = __libc_memalign(align, size);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (!enter())
        return posix_memalign_real(out, align, size);
    void *p = NULL;
    int rc = posix_memalign_real(&p, align, size);
    if (rc == 0)
        *out = p;
    rec_alloc(GJBT_POSIX_MEMALIGN, 2, align, size, rc == 0 ? p : NULL, size, align);
    leave();
    return rc;
}

static void *aligned_alloc_real(size_t align, size_t size)
{
    return real_aligned_alloc ? real_aligned_alloc(align, size) : __libc_memalign(align, size);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (!enter())
        return aligned_alloc_real(align, size);
    void *p = aligned_alloc_real(align, size);
    rec_alloc(GJBT_ALIGNED_ALLOC, 2, align, size, p, size, align);
    leave();
    return p;
}

EXPORT void *valloc(size_t size)
{
    if (!enter())
        return __libc_valloc(size);
    void *p = __libc_valloc(size);
    rec_alloc(GJBT_VALLOC, 1, size, 0, p, size, (size_t)sysconf(_SC_PAGESIZE));
    leave();
    return p;
}

EXPORT void *pvalloc(size_t size)
{
    if (!enter())
        return __libc_pvalloc(size);
    void *p = __libc_pvalloc(size);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    rec_alloc(GJBT_PVALLOC, 1, size, 0, p, size ? (size + page - 1) / page * page : page, page);
    leave();
    return p;
}

/* free, malloc_usable_size: one pointer argument. */
static void rec_ptr(unsigned op, uint32_t id, bool foreign)
{
    struct rec r;
    begin(&r, op | (foreign ? GJBT_FOREIGN : 0));
    if (!foreign)
        put(&r, id);
    finish(&r);
}

EXPORT void free(void *p)
{
    if (!enter()) {
        __libc_free(p);
        return;
    }
    bool foreign;
    uint32_t id = drop_id(p, &foreign); /* written before the block is released */
    rec_ptr(GJBT_FREE, id, foreign);
    __libc_free(p);
    leave();
}

static size_t usable_real(void *p)
{
    return real_usable_size ? real_usable_size(p) : 0;
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (!enter())
        return usable_real(p);
    bool foreign;
    uint32_t id = peek_id(p, &foreign);
    rec_ptr(GJBT_USABLE_SIZE, id, foreign);
    size_t n = usable_real(p);
    leave();
    return n;
}

/* --- fork and start-up -------------------------------------------------- */

static void before_fork(void)
{
    pthread_mutex_lock(&lock);
}

static void parent_after_fork(void)
{
    pthread_mutex_unlock(&lock);
}

/* The child writes a trace of its own, which starts with the blocks it
 * inherited, renumbered 1, 2, ... (so its ids stay dense). The parent's
 * window and descriptor are let go of here. */
static void child_after_fork(void)
{
    if (state > 0) {
        munmap(win, GJBT_WINDOW);
        close(fd);
        fd = -1;
        start(true);
        my_thread = threads = 1;
        nids = 0;
        next_id = 1;
        for (size_t i = 0; state > 0 && i < cap; i++) {
            if (!tab[i].addr)
                continue;
            struct rec r;
            tab[i].id = next_id++;
            begin(&r, GJBT_INHERIT);
            put(&r, tab[i].id);
            put(&r, tab[i].size);
            put(&r, tab[i].align);
            finish(&r);
        }
    }
    pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void record_init(void)
{
    busy = true; /* dlsym may allocate: not the program's calls */
    /* dlsym's object pointer copied into each function pointer (ISO C has
     * no conversion between the two; POSIX makes the bytes the same). */
    void *sym = dlsym(RTLD_NEXT, "posix_memalign");
    memcpy(&real_posix_memalign, &sym, sizeof sym);
    sym = dlsym(RTLD_NEXT, "aligned_alloc");
    memcpy(&real_aligned_alloc, &sym, sizeof sym);
    sym = dlsym(RTLD_NEXT, "malloc_usable_size");
    memcpy(&real_usable_size, &sym, sizeof sym);
    busy = false;
    pthread_atfork(before_fork, parent_after_fork, child_after_fork);
}
