/*
 * gjbmem/fault.h - fault injection in the host port's page supply, for
 * tests.
 *
 * What fails: the calls through which the mapping layer (<mman.h>) takes
 * memory or objects from the host kernel, i.e. the port's
 *   gjb_port_vm_map    (every gjbmem_mmap / gjbmem_mmap64 that reaches the host),
 *   gjb_port_vm_remap  (every gjbmem_mremap that grows a mapping, in place
 *                       or moving; a shrink takes no pages and never fails),
 *   gjb_port_shm_open  (every gjbmem_shm_open with a valid name),
 *   gjb_port_pages_get (the system heap's pages, through gjb_port_vm_map).
 * An injected failure is decided before the host is called, so the host is
 * not touched, and the port returns ENOMEM exactly as it does for a real
 * refusal. The caller therefore sees:
 *   gjbmem_mmap, gjbmem_mmap64, gjbmem_mremap: MAP_FAILED, errno ENOMEM
 *     (SPEC section 5: "out of memory or mappings");
 *   gjbmem_shm_open: -1, errno ENOMEM (what the port reports; the host's
 *     open(2) under /dev/shm can answer ENOMEM too, "insufficient kernel
 *     memory"). No object is created.
 * Calls refused by the layer's own argument checks never reach the port and
 * are neither failed nor counted. munmap, mprotect, msync, the lock family,
 * posix_madvise and shm_unlink are never failed: they take no new memory.
 *
 * The system heap takes its pages through the same gjb_port_vm_map (a new
 * region when it grows, a direct mapping for a request of
 * GJBMEM_SYSHEAP_DIRECT bytes or more, a larger table of direct mappings):
 * an injected failure makes that allocation fail with NULL / ENOMEM, and
 * every block allocated before stays intact.
 *
 * Partitions (mpart_*) are not affected: they take no pages from the port
 * (their memory is always given by the application through mpart_create /
 * mpart_addmem).
 *
 * Only in builds that have it: the tests' own library (gjbmem_testlib), or
 * libgjbmem built with the CMake option GJBMEM_FAULT_INJECTION=ON, which
 * also installs this header. The default library has neither the functions
 * nor the checks. Cost where compiled in: when injection is off, each port
 * call above costs one atomic load (acquire); when it is on, one or two
 * more atomic operations. Thread-safe: every function may be called from any thread at
 * any time; all state is held in C11 atomics. With several threads calling
 * the port at once, which call fails is decided by the order in which they
 * reach the port.
 *
 * Meant for tests only; a production program never calls these.
 */
#ifndef GJBMEM_FAULT_H
#define GJBMEM_FAULT_H

#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* From now on the first n port calls above succeed (if the host agrees),
 * and the (n+1)-th and every later one fails, until gjbmem_fault_reset or
 * another gjbmem_fault_* setting. n = 0 fails every call. No errors. */
GJBMEM_API void gjbmem_fault_after(unsigned n);

/* From now on each port call above fails with probability permille/1000,
 * independently, from a pseudo-random sequence fixed by seed: the same seed
 * and the same sequence of calls fail the same calls. permille 0 never
 * fails, 1000 always fails. Returns 0, or -1 with errno EINVAL when
 * permille > 1000 (the setting is then left unchanged). */
GJBMEM_API int gjbmem_fault_random(unsigned permille, unsigned seed);

/* Turns injection off and sets the failure count back to 0. */
GJBMEM_API void gjbmem_fault_reset(void);

/* How many port calls have been failed by injection since the process
 * started or since the last gjbmem_fault_reset. */
GJBMEM_API unsigned long gjbmem_fault_count(void);

#ifdef __cplusplus
}
#endif

#endif
