/*
 * shm.c - shm_open and shm_unlink of the mapping layer: the name rules of
 * SPEC section 5 (the host sees "/name"), then the host call. No system
 * call here.
 */
#define GJBMEM_NO_STD_NAMES
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <mman.h>

#include "gjbmem/port.h"
#include "vmm/registry.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

/* Copies name as "/name" into buf; 0 or EINVAL/ENAMETOOLONG. */
static int host_name(const char *name, char buf[NAME_MAX + 2])
{
    if (name == NULL)
        return EINVAL;
    const char *base = name[0] == '/' ? name + 1 : name;
    if (base[0] == '\0' || strchr(base, '/') != NULL)
        return EINVAL;
    size_t n = strlen(base);
    if (n > NAME_MAX)
        return ENAMETOOLONG;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return EINVAL;
    buf[0] = '/';
    memcpy(buf + 1, base, n + 1);
    return 0;
}

int gjbmem_shm_open(const char *name, int oflag, mode_t mode)
{
    char buf[NAME_MAX + 2];
    int fd = -1;
    int err = host_name(name, buf);
    if (err == 0)
        err = gjb_port_shm_open(buf, oflag, (unsigned)mode, &fd);
    if (err != 0) {
        gjb_port_set_errno(err);
        return -1;
    }
    gjb_vmm_lock();
    gjb_vmm_shm_opened++;
    gjb_vmm_unlock();
    return fd;
}

int gjbmem_shm_unlink(const char *name)
{
    char buf[NAME_MAX + 2];
    int err = host_name(name, buf);
    if (err == 0)
        err = gjb_port_shm_unlink(buf);
    if (err != 0) {
        gjb_port_set_errno(err);
        return -1;
    }
    return 0;
}
