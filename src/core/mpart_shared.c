/*
 * mpart_shared.c - partitions in memory shared between processes
 * (docs/SHARED.md): the header that lives in that memory, its robust
 * process-shared lock and the recovery after a holder died, the table of
 * processes that have the partition open, and the calls mpart_create_shared,
 * mpart_open_shared, mpart_create_in, mpart_attach, mpart_close_shared,
 * mpart_to_offset, mpart_from_offset.
 *
 * Memory of a shared partition, at the same offsets in every process:
 *
 *   [header: magic ... lock, processes, name][heap: descriptor, blocks ...]
 *
 * The engine links everything by offsets from its descriptor, so each
 * process may map the memory at its own address. The header is untrusted
 * input: every field is checked before it is used, and the heap's
 * descriptor is checked to name nothing outside the memory
 * (gjb_heap_within) before the engine validates it.
 *
 * Lock order: the global lock, a slot's lock (mpart.c), the shared lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define GJBMEM_NO_STD_NAMES
#include <mman.h>

#include "gjbext.h"
#include "gjbmem/config.h"
#include "gjbmem/port.h"
#include "api_internal.h"
#include "mpart_shared.h"

#define SHM_MAGIC 0x676a6273u /* "gjbs" */
#define SHM_VERSION 4u /* 2: the heap keeps free_floor and hot_span; FIRST_FIT bitmaps padded;
                            3: BUDDY's descriptor rounded up to 64 bytes;
                            4: BUDDY keeps hot_units and no back link in a list's first
                               block; the heap counts segments, not free blocks */
#define SHM_PROCS 64u
#define SHM_NAME 264u /* "/" + NAME_MAX (255) + NUL, rounded */
#define SHM_ALIGN 64u /* the header's alignment, in every process */

enum { SHM_LIVE = 1, SHM_DAMAGED = 2, SHM_DELETED = 3 };

struct shm_proc {
    int32_t pid;   /* 0: a free entry */
    uint32_t opens;
};

/* The header at the start of the shared memory. Fixed-width fields, each
 * 64-bit one at a multiple of 8 (i386 would align it to 4 only): a 32-bit
 * and a 64-bit process see the same layout, and word_bytes tells them
 * apart (their heaps differ). */
struct shm_hdr {
    uint32_t magic;      /* SHM_MAGIC once the partition is made */
    uint32_t version;    /* SHM_VERSION */
    uint32_t hdr_bytes;  /* sizeof(struct shm_hdr) */
    uint16_t word_bytes; /* sizeof(size_t) of the processes that use it */
    uint16_t policy;     /* FIRST_FIT_ALLOCATION or BUDDY_ALLOCATION */
    uint64_t size;       /* bytes of the shared memory from the header on */
    uint64_t heap_off;   /* the heap's descriptor, from the header */
    uint64_t align;      /* BUDDY: every process sees the header at an address
                            a with a % align == residue (0: any address) */
    uint64_t residue;
    uint32_t state;      /* SHM_LIVE, SHM_DAMAGED, SHM_DELETED */
    uint32_t op;         /* the intent record: enum gjb_shp_op under way */
    uint32_t recoveries; /* times the lock's holder died holding it */
    uint32_t pad;        /* (i386 aligns uint64_t to 4: explicit padding) */
    uint64_t repaired;   /* ... of which while it wrote the heap (rebuilt) */
    gjb_port_shlock lock;
    struct shm_proc procs[SHM_PROCS];
    char name[SHM_NAME]; /* the shm_open name ("/x"), "" for memory of the caller's */
};
_Static_assert(offsetof(struct shm_hdr, repaired) == 64 && offsetof(struct shm_hdr, lock) == 80,
               "one header layout for 32- and 64-bit processes");
#define HDR_BYTES (((sizeof(struct shm_hdr) + SHM_ALIGN - 1) / SHM_ALIGN) * SHM_ALIGN)

/* This process's record of a shared partition. A call reads it without a
 * lock of the slot (mpart.c, enter_shared): a freed record keeps its last
 * header address, whose memory stays mapped (zeros once let go). */
struct gjb_shpart {
    bool used;
    struct shm_hdr *hdr;
    gjb_heap *heap;
    size_t size;         /* hdr->size when attached (hdr->size is not trusted later) */
    void *map;           /* what this process mapped for it (NULL: the caller's memory) */
    size_t map_len;
};

static struct gjb_shpart records[MPART_MAX_PARTS];

static int fail(int err)
{
    gjb_port_set_errno(err);
    return -1;
}

/* --- records (under the global lock) */

static struct gjb_shpart *record_new(void)
{
    struct gjb_shpart *r = NULL;
    gjb_port_global_lock();
    for (unsigned i = 0; i < MPART_MAX_PARTS && !r; i++)
        if (!records[i].used)
            r = &records[i];
    if (r)
        r->used = true;
    gjb_port_global_unlock();
    return r;
}

static void record_free(struct gjb_shpart *r)
{
    gjb_port_global_lock();
    r->used = false; /* hdr kept: see struct gjb_shpart */
    gjb_port_global_unlock();
}

/* --- the table of processes (under the shared lock) */

/* Forgets processes that no longer exist. */
static void purge(struct shm_hdr *h)
{
    for (unsigned i = 0; i < SHM_PROCS; i++)
        if (h->procs[i].pid && !gjb_port_pid_alive(h->procs[i].pid))
            h->procs[i] = (struct shm_proc){0, 0};
}

/* Counts one more open by this process: 0 or ENOSPC (table full). */
static int count_open(struct shm_hdr *h)
{
    int32_t me = (int32_t)gjb_port_pid();
    struct shm_proc *free_entry = NULL;
    purge(h);
    for (unsigned i = 0; i < SHM_PROCS; i++) {
        if (h->procs[i].pid == me) {
            h->procs[i].opens++;
            return 0;
        }
        if (!h->procs[i].pid && !free_entry)
            free_entry = &h->procs[i];
    }
    if (!free_entry)
        return ENOSPC;
    *free_entry = (struct shm_proc){me, 1};
    return 0;
}

/* Counts one open less by this process (none counted: nothing, e.g. a
 * child that inherited the id through fork). */
static void count_close(struct shm_hdr *h)
{
    int32_t me = (int32_t)gjb_port_pid();
    for (unsigned i = 0; i < SHM_PROCS; i++)
        if (h->procs[i].pid == me && --h->procs[i].opens == 0)
            h->procs[i].pid = 0;
}

/* True when a process other than this one has the partition open. */
static bool others_open(struct shm_hdr *h)
{
    int32_t me = (int32_t)gjb_port_pid();
    purge(h);
    for (unsigned i = 0; i < SHM_PROCS; i++)
        if (h->procs[i].pid && h->procs[i].pid != me)
            return true;
    return false;
}

/* --- the shared lock and recovery */

/* The holder of the lock died: finish or undo what it was doing to the
 * heap (gjb_heap_repair), or mark the partition damaged. The lock is held. */
static void recover(struct gjb_shpart *sp)
{
    struct shm_hdr *h = sp->hdr;
    h->recoveries++;
    purge(h);
    if (h->state == SHM_LIVE && h->op != GJB_SHP_NONE) {
        bool ok = gjb_heap_within(h, sp->size, sp->heap);
        if (ok && h->op != GJB_SHP_ADDMEM) {
            ok = gjb_heap_repair(sp->heap) == GJB_OK;
            h->repaired++;
        }
        if (!ok || gjb_heap_validate(sp->heap) != GJB_OK)
            h->state = SHM_DAMAGED;
    }
    h->op = GJB_SHP_NONE;
    gjb_port_shlock_consistent(&h->lock);
}

/* Takes the lock, recovering if its holder died. */
static void lock_raw(struct gjb_shpart *sp)
{
    if (gjb_port_shlock_take(&sp->hdr->lock) == GJB_SHLOCK_OWNER_DIED)
        recover(sp);
}

/* How long an open waits for the lock (GJBMEM_SHM_OPEN_WAIT_MS, default
 * 5 s): a holder stuck, or a lock another process spoilt, gives ETIMEDOUT
 * instead of an open that never returns. */
static unsigned open_wait_ms(void)
{
    const char *s = gjb_port_getenv("GJBMEM_SHM_OPEN_WAIT_MS");
    unsigned long v = 0;
    for (; s && *s >= '0' && *s <= '9' && v < 86400000UL; s++)
        v = v * 10 + (unsigned long)(*s - '0');
    return s && *s == '\0' && v ? (unsigned)v : 5000u;
}

/* lock_raw for an opener: ETIMEDOUT after open_wait_ms. */
static int lock_to_open(struct gjb_shpart *sp)
{
    int rc = gjb_port_shlock_take_for(&sp->hdr->lock, open_wait_ms());
    if (rc != GJB_SHLOCK_OWNER_DIED)
        return rc; /* 0 or ETIMEDOUT */
    recover(sp);
    return 0;
}

void gjb_shp_intent(struct gjb_shpart *sp, enum gjb_shp_op op)
{
    sp->hdr->op = op;
    /* the record is in memory before the engine's first store */
    atomic_signal_fence(memory_order_seq_cst);
}

int gjb_shp_enter(struct gjb_shpart *sp, enum gjb_shp_op op)
{
    lock_raw(sp);
    uint32_t state = sp->hdr->state;
    if (state == SHM_LIVE) {
        if (op != GJB_SHP_NONE)
            gjb_shp_intent(sp, op);
        return 0;
    }
    gjb_port_shlock_release(&sp->hdr->lock);
    return state == SHM_DAMAGED ? ENOTRECOVERABLE : EINVAL;
}

void gjb_shp_leave(struct gjb_shpart *sp)
{
    atomic_signal_fence(memory_order_seq_cst);
    sp->hdr->op = GJB_SHP_NONE;
    gjb_port_shlock_release(&sp->hdr->lock);
}

bool gjb_shp_overlaps(const struct gjb_shpart *sp, const void *addr, size_t size)
{
    uintptr_t lo = (uintptr_t)sp->hdr, a = (uintptr_t)addr;
    uintptr_t end = size > UINTPTR_MAX - a ? UINTPTR_MAX : a + size;
    return a < lo + sp->size && lo < end;
}

bool gjb_shp_contains(const struct gjb_shpart *sp, const void *addr, size_t size)
{
    uintptr_t lo = (uintptr_t)sp->hdr + HDR_BYTES, a = (uintptr_t)addr;
    return a >= lo && size <= sp->size - HDR_BYTES && a - lo <= sp->size - HDR_BYTES - size;
}

bool gjb_shp_within(const struct gjb_shpart *sp)
{
    return gjb_heap_within(sp->hdr, sp->size, sp->heap);
}

void gjb_shp_layout(size_t *lock_off, size_t *lock_len, size_t *hdr_bytes)
{
    *lock_off = offsetof(struct shm_hdr, lock);
    *lock_len = sizeof(gjb_port_shlock);
    *hdr_bytes = HDR_BYTES;
}

/* --- checking a header read from shared memory */

/* What a header promises, read once (another process may change the
 * memory under us: nothing is read from it twice). */
struct hdr_view {
    size_t size;       /* bytes of the partition's memory */
    size_t heap_off;   /* its descriptor */
};

/* The checks that need no lock: a header of this library's version, this
 * word size, a sane layout inside the len bytes this process can read. 0,
 * EINVAL, or ENOENT (deleted). Reads only the header, after checking that
 * it lies in len. */
static int header_ok(const struct shm_hdr *h, size_t len, struct hdr_view *v)
{
    struct shm_hdr c;
    if (len < HDR_BYTES)
        return EINVAL;
    memcpy(&c, h, offsetof(struct shm_hdr, lock));
    if (c.magic != SHM_MAGIC || c.version != SHM_VERSION || c.hdr_bytes != sizeof c ||
        c.word_bytes != sizeof(size_t) ||
        (c.policy != FIRST_FIT_ALLOCATION && c.policy != BUDDY_ALLOCATION))
        return EINVAL;
    if (c.size < HDR_BYTES || c.size > len || c.heap_off < HDR_BYTES || c.heap_off >= c.size ||
        c.heap_off % 16 || c.state < SHM_LIVE || c.state > SHM_DELETED || c.op >= GJB_SHP_OPS)
        return EINVAL;
    if (c.align ? (c.align & (c.align - 1)) || c.residue >= c.align ||
                      (uintptr_t)h % c.align != c.residue
                : c.residue != 0)
        return EINVAL; /* BUDDY: mapped where its blocks would not line up */
    v->size = (size_t)c.size;
    v->heap_off = (size_t)c.heap_off;
    return c.state == SHM_DELETED ? ENOENT : 0;
}

/* Under the lock: the heap's metadata lies in the memory and validates.
 * 0, ENOTRECOVERABLE (marked damaged before), EINVAL (damaged now: nothing
 * is written). */
static int heap_ok(const struct gjb_shpart *sp)
{
    if (sp->hdr->state == SHM_DAMAGED)
        return ENOTRECOVERABLE;
    if (!gjb_heap_within(sp->hdr, sp->size, sp->heap) || gjb_heap_validate(sp->heap) != GJB_OK)
        return EINVAL;
    return 0;
}

/* Joins the shared partition whose header is at hdr (len bytes readable
 * from there; map/map_len: what this process mapped for it, unmapped on
 * failure by the caller): checks it, counts this process, gives it an id. */
static int join(struct shm_hdr *hdr, size_t len, void *map, size_t map_len, mpart_id *mid)
{
    struct hdr_view v;
    int err = header_ok(hdr, len, &v);
    if (err)
        return err;
    struct gjb_shpart *sp = record_new();
    if (!sp)
        return ENOSPC;
    *sp = (struct gjb_shpart){true, hdr, (gjb_heap *)(void *)((char *)hdr + v.heap_off), v.size,
                              map, map_len};
    err = lock_to_open(sp);
    if (!err) {
        err = heap_ok(sp);
        if (!err)
            err = count_open(hdr);
        gjb_port_shlock_release(&hdr->lock);
    }
    if (!err && (err = gjb_mpart_install(sp->heap, sp, mid)) != 0) {
        lock_raw(sp);
        count_close(hdr);
        gjb_port_shlock_release(&hdr->lock);
    }
    if (err)
        record_free(sp);
    return err;
}

/* --- making one */

/* The header's place in memory at addr: aligned to SHM_ALIGN. */
static struct shm_hdr *header_at(void *addr)
{
    uintptr_t a = ((uintptr_t)addr + SHM_ALIGN - 1) & ~(uintptr_t)(SHM_ALIGN - 1);
    return (struct shm_hdr *)a;
}

/* Makes a partition in the size bytes at hdr (aligned): 0 or an errno
 * value. The magic is written last: a process that dies before leaves
 * memory no one will open. */
static int make(struct shm_hdr *hdr, size_t size, int policy, const char *name)
{
    if (size < HDR_BYTES)
        return EINVAL;
    memset(hdr, 0, HDR_BYTES);
    gjb_heap *heap;
    if (gjb_heap_init((char *)hdr + HDR_BYTES, size - HDR_BYTES,
                      policy == BUDDY_ALLOCATION ? GJB_BUDDY : GJB_FIRST_FIT, GJBMEM_MAX_REGIONS,
                      &heap) != GJB_OK)
        return EINVAL;
    gjb_port_shlock_init(&hdr->lock);
    hdr->version = SHM_VERSION;
    hdr->hdr_bytes = sizeof *hdr;
    hdr->word_bytes = sizeof(size_t);
    hdr->policy = (uint16_t)policy;
    hdr->size = size;
    hdr->heap_off = (uint64_t)((char *)heap - (char *)hdr);
    if (policy == BUDDY_ALLOCATION) { /* blocks line up in every process: see align */
        uint64_t a = SHM_ALIGN;
        while (a * 2 <= size - HDR_BYTES)
            a *= 2;
        hdr->align = a;
        hdr->residue = (uintptr_t)hdr % a;
    }
    hdr->state = SHM_LIVE;
    if (name)
        memcpy(hdr->name, name, strlen(name) + 1);
    atomic_thread_fence(memory_order_release);
    hdr->magic = SHM_MAGIC;
    return 0;
}

/* Bytes of the caller's mapping from hdr on (0: hdr is not mapped). The
 * header's own size is believed only up to there. */
static size_t mapped_after(const struct shm_hdr *hdr)
{
    void *lo, *hi;
    if (!gjb_port_mapping_of(hdr, &lo, &hi))
        return 0;
    return (size_t)((char *)hi - (const char *)hdr);
}

/* Refusals every maker and opener shares: 0 or an errno value. */
static int may_share(void)
{
    gjb_port_init_once(gjb_lib_init);
    if (gjb_port_in_isr())
        return ERROR_KERNEL_IN_ISR;
    return GJBMEM_HARDENING > 1 ? ENOTSUP : 0; /* guards hold addresses */
}

int mpart_create_in(void *addr, size_t size, int policy, mpart_id *mid)
{
    int err = may_share();
    if (err)
        return fail(err);
    if (!addr || !mid || (policy != FIRST_FIT_ALLOCATION && policy != BUDDY_ALLOCATION))
        return fail(EINVAL);
    struct shm_hdr *hdr = header_at(addr);
    size_t skip = (size_t)((char *)hdr - (char *)addr);
    if (size <= skip || size - skip > mapped_after(hdr))
        return fail(EINVAL); /* past the caller's mapping */
    size -= skip;
    gjb_port_global_lock();
    bool mine = gjb_memory_free_for_partition(hdr, size);
    gjb_port_global_unlock();
    if (!mine)
        return fail(EINVAL);
    err = make(hdr, size, policy, NULL);
    if (!err)
        err = join(hdr, size, NULL, 0, mid);
    return err ? fail(err) : 0;
}

int mpart_attach(void *addr, mpart_id *mid)
{
    int err = may_share();
    if (err)
        return fail(err);
    if (!addr || !mid)
        return fail(EINVAL);
    struct shm_hdr *hdr = header_at(addr);
    err = join(hdr, mapped_after(hdr), NULL, 0, mid); /* the header says how much is its */
    return err ? fail(err) : 0;
}

/* --- named shared-memory objects */

/* name as the host sees it ("/name") in buf: false when it cannot be one
 * (gjbmem_shm_open then gives the precise error). */
static bool host_name(const char *name, char buf[SHM_NAME])
{
    size_t n = name ? strlen(name) : 0;
    bool slash = n && name[0] == '/';
    if (!n || n + !slash + 1 > SHM_NAME)
        return false;
    buf[0] = '/';
    memcpy(buf + 1, name + slash, n - slash + 1);
    return true;
}

int mpart_create_shared(const char *name, size_t size, int policy, mpart_id *mid)
{
    int err = may_share();
    if (err)
        return fail(err);
    char host[SHM_NAME];
    if (!mid || (policy != FIRST_FIT_ALLOCATION && policy != BUDDY_ALLOCATION) ||
        size < HDR_BYTES || size > (size_t)INTPTR_MAX)
        return fail(EINVAL);
    int fd = gjbmem_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1; /* errno from the mapping layer: EINVAL, EEXIST, ... */
    if (!host_name(name, host))
        err = ENAMETOOLONG;
    void *p = NULL;
    if (!err)
        err = gjb_port_fd_resize(fd, size);
    if (!err)
        err = gjb_port_shm_map(fd, size, 0, 0, &p);
    gjb_port_fd_close(fd);
    if (!err && (err = make(p, size, policy, host)) == 0)
        err = join(p, size, p, size, mid);
    if (err) {
        if (p)
            gjb_port_vm_unmap(p, size);
        gjbmem_shm_unlink(name);
    }
    return err ? fail(err) : 0;
}

/* Maps the object behind fd (len bytes) where its header wants to be seen:
 * 0 or an errno value. */
static int map_object(int fd, size_t len, void **out)
{
    int err = gjb_port_shm_map(fd, len, 0, 0, out);
    if (err || len < HDR_BYTES)
        return err;
    const struct shm_hdr *h = *out;
    uint64_t align = h->align, residue = h->residue;
    if (align <= SHM_ALIGN || (align & (align - 1)) || residue >= align || align > len ||
        (uintptr_t)*out % align == residue)
        return 0; /* header_ok judges it */
    gjb_port_vm_unmap(*out, len);
    *out = NULL;
    return gjb_port_shm_map(fd, len, (unsigned long)align, (unsigned long)residue, out);
}

int mpart_open_shared(const char *name, mpart_id *mid)
{
    int err = may_share();
    if (err)
        return fail(err);
    if (!mid)
        return fail(EINVAL);
    int fd = gjbmem_shm_open(name, O_RDWR, 0);
    if (fd < 0)
        return -1; /* errno from the mapping layer: EINVAL, ENOENT, EACCES, ... */
    unsigned long long size = 0;
    void *p = NULL;
    err = gjb_port_fd_size(fd, &size);
    if (!err && (size < HDR_BYTES || size > (size_t)INTPTR_MAX))
        err = EINVAL;
    if (!err)
        err = map_object(fd, (size_t)size, &p);
    gjb_port_fd_close(fd);
    if (!err && (err = join(p, (size_t)size, p, (size_t)size, mid)) != 0)
        gjb_port_vm_unmap(p, (size_t)size);
    return err ? fail(err) : 0;
}

/* --- letting go */

/* Under the slot's lock: one open less; the shared lock stays held (the
 * slot is emptied under it). */
static int close_check(struct gjb_shpart *sp, gjb_heap *h, void *ctx)
{
    (void)h, (void)ctx;
    lock_raw(sp);
    count_close(sp->hdr);
    return 0;
}

/* Lets go of what this process mapped for sp (private zeros stay in its
 * place: a call late to see the close finds a free lock and a stale id
 * there) and frees the record. */
static void let_go(struct gjb_shpart *sp)
{
    if (sp->map)
        gjb_port_shm_retire(sp->map, sp->map_len);
    record_free(sp);
}

int mpart_close_shared(mpart_id mid)
{
    if (gjb_port_in_isr())
        return fail(ERROR_KERNEL_IN_ISR);
    struct gjb_shpart *sp;
    int err = gjb_mpart_uninstall(mid, close_check, NULL, &sp);
    if (err)
        return fail(err);
    let_go(sp);
    return 0;
}

static int delete_check(struct gjb_shpart *sp, gjb_heap *h, void *ctx)
{
    lock_raw(sp);
    struct shm_hdr *hdr = sp->hdr;
    int err = 0;
    if (others_open(hdr) || (hdr->state == SHM_LIVE && !gjb_heap_is_empty(h)))
        err = EBUSY;
    if (!err) { /* the shared lock stays held: the slot is emptied under it */
        memcpy(ctx, hdr->name, SHM_NAME);
        ((char *)ctx)[SHM_NAME - 1] = '\0';
        hdr->state = SHM_DELETED;
        count_close(hdr);
    } else {
        gjb_port_shlock_release(&hdr->lock);
    }
    return err;
}

int gjb_shp_delete(mpart_id mid)
{
    char name[SHM_NAME];
    struct gjb_shpart *sp;
    int err = gjb_mpart_uninstall(mid, delete_check, name, &sp);
    if (err)
        return fail(err);
    if (name[0])
        gjbmem_shm_unlink(name);
    let_go(sp);
    return 0;
}

/* --- handing blocks between processes */

long mpart_to_offset(mpart_id mid, const void *p)
{
    gjb_heap *h = NULL;
    struct gjb_shpart *sp = gjb_mpart_shared_of(mid, &h);
    if (!sp)
        return fail(h ? EINVAL : ERROR_KERNEL_HANDLE_NULL);
    uintptr_t lo = (uintptr_t)sp->heap, a = (uintptr_t)p, base = (uintptr_t)sp->hdr;
    if (!p || a < lo || a - base >= sp->size || a - base > (uintptr_t)LONG_MAX)
        return fail(EINVAL);
    return (long)(a - base);
}

void *mpart_from_offset(mpart_id mid, long off)
{
    gjb_heap *h = NULL;
    struct gjb_shpart *sp = gjb_mpart_shared_of(mid, &h);
    if (!sp) {
        fail(h ? EINVAL : ERROR_KERNEL_HANDLE_NULL);
        return NULL;
    }
    size_t lo = (size_t)((char *)sp->heap - (char *)sp->hdr);
    if (off < 0 || (unsigned long)off < lo || (unsigned long)off >= sp->size) {
        fail(EINVAL);
        return NULL;
    }
    return (char *)sp->hdr + off;
}

/* --- looking from outside, read-only */

/* Checks the image copied into buf (len bytes) and describes it. */
static int peek_image(void *buf, size_t len, struct gjbmem_heap_stats *st,
                      struct mpart_block *out, size_t cap, size_t *count)
{
    struct hdr_view v;
    int err = header_ok(buf, len, &v);
    if (err)
        return err;
    gjb_heap *h = (gjb_heap *)(void *)((char *)buf + v.heap_off);
    if (((struct shm_hdr *)buf)->state == SHM_DAMAGED)
        return ENOTRECOVERABLE;
    if (!gjb_heap_within(buf, v.size, h) || gjb_heap_validate(h) != GJB_OK)
        return EAGAIN; /* torn by a writer, or damaged: the caller may try again */
    gjb_heap_get_stats(h, st);
    *count = gjb_mpart_list_blocks(h, st->header_bytes, out, cap);
    return 0;
}

/* Where in buf a copy of the image at p goes so that a BUDDY heap's
 * blocks line up as in the memory (hdr->align), and the room that needs. */
static size_t copy_slack(const struct shm_hdr *p, size_t len, uintptr_t buf, size_t *at)
{
    uint64_t align = p->align, residue = p->residue;
    *at = 0;
    if (align <= SHM_ALIGN || (align & (align - 1)) || residue >= align || align > len)
        return 0; /* none, or a header that header_ok refuses */
    *at = (size_t)((residue - buf) & (align - 1));
    return (size_t)align;
}

/* One look at the object behind fd: its size, its header, then all of it
 * read (not mapped: an object shrunk meanwhile reads short, it does not
 * fault) into buf and checked. EAGAIN when another process changed it
 * meanwhile (a torn copy, a short read, a size that changed under a copy
 * whose header refused it): the caller looks again. */
static int peek_once(int fd, void *buf, size_t buflen, size_t *size,
                     struct gjbmem_heap_stats *st, struct mpart_block *out, size_t cap,
                     size_t *count)
{
    unsigned long long len = 0, now = 0;
    struct shm_hdr head;
    int err = gjb_port_fd_size(fd, &len);
    if (!err && (len < HDR_BYTES || len > (size_t)INTPTR_MAX / 2))
        err = EINVAL;
    if (!err)
        err = gjb_port_fd_read(fd, &head, sizeof head, 0);
    size_t at = 0;
    if (!err) {
        *size = (size_t)len + copy_slack(&head, (size_t)len, (uintptr_t)buf, &at);
        err = buflen < *size ? ERANGE : 0;
    }
    if (!err) {
        void *copy = (char *)buf + at; /* nothing another process writes moves it */
        err = gjb_port_fd_read(fd, copy, (unsigned long)len, 0);
        if (!err)
            err = peek_image(copy, (size_t)len, st, out, cap, count);
    }
    if (err == EINVAL && gjb_port_fd_size(fd, &now) == 0 && now != len)
        err = EAGAIN;
    return err;
}

int mpart_peek_shared(const char *name, void *buf, size_t buflen, size_t *size,
                      struct gjbmem_heap_stats *st, struct mpart_block *out, size_t cap,
                      size_t *count)
{
    gjb_port_init_once(gjb_lib_init);
    if (!size || !st || !count || (!out && cap) || (!buf && buflen))
        return fail(EINVAL);
    int fd = gjbmem_shm_open(name, O_RDONLY, 0);
    if (fd < 0)
        return -1;
    int err = EAGAIN;
    for (int tries = 0; err == EAGAIN && tries < 100; tries++)
        err = peek_once(fd, buf, buflen, size, st, out, cap, count);
    gjb_port_fd_close(fd);
    return err ? fail(err) : 0;
}
