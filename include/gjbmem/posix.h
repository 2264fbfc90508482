/*
 * gjbmem/posix.h - controls of the POSIX host port.
 */
#ifndef GJBMEM_POSIX_H
#define GJBMEM_POSIX_H

#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks (non-zero) or unmarks (0) the calling thread as running in
 * interrupt context, as a signal handler or an emulated interrupt would be.
 * While marked, calls that may block or allocate fail with
 * ERROR_KERNEL_IN_ISR. Async-signal-safe; thread-local. */
GJBMEM_API void gjbmem_posix_set_isr(int in_isr);

/* Non-zero while the calling thread is marked as in interrupt context. */
GJBMEM_API int gjbmem_posix_in_isr(void);

/* Marks (non-zero) or unmarks (0) the calling thread as a user thread, not
 * a system thread: mem_getinfo then fails with EACCES. Thread-local. */
GJBMEM_API void gjbmem_posix_set_user(int user);

#ifdef __cplusplus
}
#endif

#endif
