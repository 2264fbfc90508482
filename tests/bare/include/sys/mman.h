/*
 * sys/mman.h for the tests on emulated boards (newlib has none): what the
 * API tests name. mmap answers MAP_FAILED, as the mapping layer does on a
 * target without an MMU (the tests that need it skip themselves).
 */
#ifndef GJB_BARE_SYS_MMAN_H
#define GJB_BARE_SYS_MMAN_H
#include <stddef.h>
#include <sys/types.h>
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20
#define MAP_NORESERVE 0x4000
#define MAP_FAILED ((void *)-1)
static inline void *mmap(void *a, size_t n, int p, int f, int fd, off_t o)
{
    (void)a, (void)n, (void)p, (void)f, (void)fd, (void)o;
    return MAP_FAILED;
}
static inline int munmap(void *a, size_t n)
{
    (void)a, (void)n;
    return -1;
}
#endif
