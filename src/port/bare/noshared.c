/*
 * noshared.c - partitions in memory shared between processes
 * (mpart_*_shared, mpart_create_in, mpart_attach, offsets) on a target
 * without processes: every such call fails with ENOSYS, and the hooks
 * mpart.c keeps for them (mpart_shared.h) are never reached, since no slot
 * ever holds a shared partition. The port's process-shared locks and
 * process calls (gjbmem/port.h) answer the same way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/mpart_shared.h"
#include "gjbmem/mpart.h"
#include "gjbmem/port.h"

static int nosys(void)
{
    gjb_port_set_errno(ENOSYS);
    return -1;
}

int mpart_create_shared(const char *name, size_t size, int policy, mpart_id *mid)
{
    (void)name, (void)size, (void)policy, (void)mid;
    return nosys();
}

int mpart_open_shared(const char *name, mpart_id *mid)
{
    (void)name, (void)mid;
    return nosys();
}

int mpart_create_in(void *addr, size_t size, int policy, mpart_id *mid)
{
    (void)addr, (void)size, (void)policy, (void)mid;
    return nosys();
}

int mpart_attach(void *addr, mpart_id *mid)
{
    (void)addr, (void)mid;
    return nosys();
}

int mpart_close_shared(mpart_id mid)
{
    (void)mid;
    return nosys();
}

long mpart_to_offset(mpart_id mid, const void *p)
{
    (void)mid, (void)p;
    return nosys();
}

void *mpart_from_offset(mpart_id mid, long off)
{
    (void)mid, (void)off;
    nosys();
    return NULL;
}

int mpart_peek_shared(const char *name, void *buf, size_t buflen, size_t *size,
                      struct gjbmem_heap_stats *st, struct mpart_block *out, size_t cap,
                      size_t *count)
{
    (void)name, (void)buf, (void)buflen, (void)size, (void)st, (void)out, (void)cap, (void)count;
    return nosys();
}

/* --- mpart_shared.h: no slot holds a shared partition here, so mpart.c
 * never calls these with a record; they answer as for a deleted one. */

int gjb_shp_enter(struct gjb_shpart *sh, enum gjb_shp_op op)
{
    (void)sh, (void)op;
    return EINVAL;
}

void gjb_shp_leave(struct gjb_shpart *sh)
{
    (void)sh;
}

void gjb_shp_intent(struct gjb_shpart *sh, enum gjb_shp_op op)
{
    (void)sh, (void)op;
}

bool gjb_shp_overlaps(const struct gjb_shpart *sh, const void *addr, size_t size)
{
    (void)sh, (void)addr, (void)size;
    return false;
}

bool gjb_shp_within(const struct gjb_shpart *sh)
{
    (void)sh;
    return false;
}

bool gjb_shp_contains(const struct gjb_shpart *sh, const void *addr, size_t size)
{
    (void)sh, (void)addr, (void)size;
    return false;
}

int gjb_shp_delete(mpart_id mid)
{
    (void)mid;
    return EINVAL;
}

void gjb_shp_layout(size_t *lock_off, size_t *lock_len, size_t *hdr_bytes)
{
    *lock_off = 0;
    *lock_len = 0;
    *hdr_bytes = 0;
}

/* --- gjbmem/port.h's process-shared locks and processes: none here. */

void gjb_port_shlock_init(gjb_port_shlock *lock)
{
    (void)lock;
}

int gjb_port_shlock_take(gjb_port_shlock *lock)
{
    (void)lock;
    return GJB_SHLOCK_OK;
}

int gjb_port_shlock_take_for(gjb_port_shlock *lock, unsigned ms)
{
    (void)lock, (void)ms;
    return GJB_SHLOCK_OK;
}

void gjb_port_shlock_consistent(gjb_port_shlock *lock)
{
    (void)lock;
}

void gjb_port_shlock_release(gjb_port_shlock *lock)
{
    (void)lock;
}

long gjb_port_pid(void)
{
    return 1; /* one program */
}

bool gjb_port_pid_alive(long pid)
{
    return pid == 1;
}

bool gjb_port_mapping_of(const void *addr, void **lo, void **hi)
{
    (void)addr, (void)lo, (void)hi;
    return false;
}

int gjb_port_fd_size(int fd, unsigned long long *size)
{
    (void)fd;
    *size = 0;
    return ENOSYS;
}

int gjb_port_fd_resize(int fd, unsigned long long size)
{
    (void)fd, (void)size;
    return ENOSYS;
}

void gjb_port_fd_close(int fd)
{
    (void)fd;
}

int gjb_port_fd_read(int fd, void *buf, unsigned long len, unsigned long long off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    return ENOSYS;
}

int gjb_port_shm_map(int fd, unsigned long len, unsigned long align, unsigned long residue,
                     void **out)
{
    (void)fd, (void)len, (void)align, (void)residue;
    *out = NULL;
    return ENOSYS;
}

int gjb_port_shm_retire(void *addr, unsigned long len)
{
    (void)addr, (void)len;
    return ENOSYS;
}
