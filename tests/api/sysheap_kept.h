/*
 * sysheap_kept.h - for the system heap's tests: the freed direct mappings
 * the heap keeps for reuse (src/core/sysheap_direct.c), which no public
 * call reports or gives back. Through the library's internal header, with
 * the POSIX port's inline lock, as the library is built.
 */
#ifndef TEST_SYSHEAP_KEPT_H
#define TEST_SYSHEAP_KEPT_H

#ifndef GJBMEM_PORT_FAST
#define GJBMEM_PORT_FAST "port/posix/fast.h"
#endif
#include "core/sysheap_state.h"

/* Bytes of freed direct mappings kept now (counted in port_bytes). */
static inline size_t kept_bytes(void)
{
    gjb_sys_lock();
    size_t n = gjb_sys_direct_kept();
    gjb_sys_unlock();
    return n;
}

/* Gives every kept mapping back to the host, so that a test starts with
 * port_bytes counting only what is live. */
static inline void drop_kept(void)
{
    gjb_sys_lock();
    gjb_sys_direct_trim(SIZE_MAX);
    gjb_sys_unlock();
}

#endif
