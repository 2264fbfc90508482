/*
 * gjbmem/port.h - what the library needs from the platform. One file under
 * src/port/<platform>/ implements all of it; nothing else in the library
 * knows which OS it runs on.
 */
#ifndef GJBMEM_PORT_H
#define GJBMEM_PORT_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage for one lock; the port casts it to its own lock type. */
#define GJB_PORT_LOCK_BYTES 64
typedef struct gjb_port_lock {
    _Alignas(16) unsigned char opaque[GJB_PORT_LOCK_BYTES];
} gjb_port_lock;

/* Prepares a lock for use; a lock is never destroyed. */
void gjb_port_lock_init(gjb_port_lock *lock);
void gjb_port_lock_take(gjb_port_lock *lock);
void gjb_port_lock_release(gjb_port_lock *lock);
/* Takes the lock if it is free now; false (without waiting) otherwise. */
bool gjb_port_lock_try(gjb_port_lock *lock);

/* The library's one global lock (partition table, region ownership). */
void gjb_port_global_lock(void);
void gjb_port_global_unlock(void);

/* Runs the library's initialisation function exactly once per process,
 * before any caller returns (one once-flag: always pass the same init). */
void gjb_port_init_once(void (*init)(void));

/* True when the caller runs in interrupt context (where blocking calls and
 * allocation are refused). */
bool gjb_port_in_isr(void);

/* Reports an error to the calling thread (errno on POSIX). */
void gjb_port_set_errno(int err);

#ifdef __cplusplus
}
#endif

#endif
