/*
 * gjbmem/port.h - what the library needs from the platform. One file under
 * src/port/<platform>/ implements all of it; nothing else in the library
 * knows which OS it runs on.
 */
#ifndef GJBMEM_PORT_H
#define GJBMEM_PORT_H

#include <stdbool.h>

#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage for one lock; the port casts it to its own lock type. */
#define GJB_PORT_LOCK_BYTES 64
typedef struct gjb_port_lock {
    _Alignas(16) unsigned char opaque[GJB_PORT_LOCK_BYTES];
} gjb_port_lock;

/* Prepares a lock for use; a lock is never destroyed. */
GJBMEM_API void gjb_port_lock_init(gjb_port_lock *lock);
GJBMEM_API void gjb_port_lock_take(gjb_port_lock *lock);
GJBMEM_API void gjb_port_lock_release(gjb_port_lock *lock);
/* Takes the lock if it is free now; false (without waiting) otherwise. */
GJBMEM_API bool gjb_port_lock_try(gjb_port_lock *lock);

/* The library's one global lock (partition table, region ownership). */
GJBMEM_API void gjb_port_global_lock(void);
GJBMEM_API void gjb_port_global_unlock(void);

/* Runs the library's initialisation function exactly once per process,
 * before any caller returns (one once-flag: always pass the same init). */
GJBMEM_API void gjb_port_init_once(void (*init)(void));

/* True when the caller runs in interrupt context (where blocking calls and
 * allocation are refused). */
GJBMEM_API bool gjb_port_in_isr(void);

/* GJB_PORT_THREAD_AREA zeroed bytes private to the calling thread,
 * aligned to max_align_t, that live as long as the thread (the system heap
 * keeps the thread's arena and cache there). A port without threads has
 * one static area. */
#define GJB_PORT_THREAD_AREA 1024
GJBMEM_API void *gjb_port_thread_area(void);

/* fn, given once at start-up, runs with a thread's area when a thread that
 * called gjb_port_thread_exit_arm exits. A port without threads never
 * calls it. */
GJBMEM_API void gjb_port_at_thread_exit(void (*fn)(void *area));
GJBMEM_API void gjb_port_thread_exit_arm(void);

/* Reports an error to the calling thread (errno on POSIX). */
GJBMEM_API void gjb_port_set_errno(int err);

/* True when the caller runs in system context (where mem_getinfo is
 * allowed): not in interrupt context and not marked as a user thread. */
GJBMEM_API bool gjb_port_in_system_context(void);

/* Writes n bytes of text to stream 1 (standard output) or 2 (errors), at
 * once (unbuffered): 0, or -1 when the stream refused them. */
GJBMEM_API int gjb_port_write(int stream, const char *s, unsigned long n);

/* Stops the program at once (an error policy asked for it). Never returns. */
GJBMEM_API void gjb_port_abort(void);

/* The value of configuration setting name (the environment on POSIX), or
 * NULL. Never allocates. */
GJBMEM_API const char *gjb_port_getenv(const char *name);

/* --- Pages for the system heap. */

/* Maps len bytes (a multiple of the page size) of zero-filled, readable and
 * writable memory aligned to a page: 0, or ENOMEM (also when fault
 * injection, a test facility, says so: <gjbmem/fault.h>). */
GJBMEM_API int gjb_port_pages_get(unsigned long len, void **out);
/* Gives back pages from gjb_port_pages_get (or a part of them). */
GJBMEM_API void gjb_port_pages_put(void *p, unsigned long len);
/* Bytes of memory the host has (the system heap's default limit). */
GJBMEM_API unsigned long long gjb_port_memory_size(void);

/* Registers fork handlers: prepare runs in the parent before fork, parent
 * after it in the parent, child in the child. One set; never allocates. A
 * port may skip them where no lock can be held by another thread (the POSIX
 * port on glibc: in a process with one thread) and may order them after the
 * C library's own locks (the POSIX port: glibc's stdio list lock first). */
GJBMEM_API void gjb_port_at_fork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* --- Host virtual memory, behind the mapping layer (src/vmm/). Each call
 * returns 0 or an errno value and never touches errno. prot, flags and
 * advice values are the host's <sys/mman.h> ones. */

/* What the layer needs to know about a descriptor it is asked to map. */
struct gjb_port_file {
    unsigned long long dev, ino;
    bool is_dir, can_read, can_write;
};

GJBMEM_API unsigned long gjb_port_page_size(void);
GJBMEM_API int gjb_port_file_info(int fd, struct gjb_port_file *out); /* EBADF */
GJBMEM_API int gjb_port_vm_map(void **out, unsigned long len, int prot, int flags, int fd,
                    long long off);
GJBMEM_API int gjb_port_vm_unmap(void *addr, unsigned long len);
/* Resizes [addr, addr+old); moves the pages only when may_move. */
GJBMEM_API int gjb_port_vm_remap(void *addr, unsigned long old_len, unsigned long new_len,
                      bool may_move, void **out);
GJBMEM_API int gjb_port_vm_protect(void *addr, unsigned long len, int prot);
GJBMEM_API int gjb_port_vm_sync(void *addr, unsigned long len, int flags);
/* Lock calls: a lack of privilege or a hit lock limit comes back as EACCES. */
GJBMEM_API int gjb_port_vm_lock(const void *addr, unsigned long len);
GJBMEM_API int gjb_port_vm_unlock(const void *addr, unsigned long len);
GJBMEM_API int gjb_port_vm_lockall(int flags);
GJBMEM_API int gjb_port_vm_unlockall(void);
GJBMEM_API int gjb_port_vm_advise(void *addr, unsigned long len, int advice);
/* name has been checked: one leading '/', no other '/', not too long. */
GJBMEM_API int gjb_port_shm_open(const char *name, int oflag, unsigned mode, int *fd);
GJBMEM_API int gjb_port_shm_unlink(const char *name);

/* --- Heaps in memory shared between processes (src/port/posix/shared.c). */

/* Storage for a process-shared, robust lock that lives in shared memory. */
#define GJB_PORT_SHLOCK_BYTES 64
typedef struct gjb_port_shlock {
    _Alignas(16) unsigned char opaque[GJB_PORT_SHLOCK_BYTES];
} gjb_port_shlock;

/* What gjb_port_shlock_take reports. */
#define GJB_SHLOCK_OK 0
#define GJB_SHLOCK_OWNER_DIED 1 /* taken; its last holder died holding it */

/* Makes lock a free process-shared, robust lock (all zero bytes are one
 * too). */
GJBMEM_API void gjb_port_shlock_init(gjb_port_shlock *lock);
/* Takes the lock: GJB_SHLOCK_OK, or GJB_SHLOCK_OWNER_DIED (taken; its
 * holder's process died holding it: the caller repairs what it guards,
 * then calls gjb_port_shlock_consistent). */
GJBMEM_API int gjb_port_shlock_take(gjb_port_shlock *lock);
/* As gjb_port_shlock_take, waiting at most ms milliseconds: ETIMEDOUT
 * when the lock stayed held that long. */
GJBMEM_API int gjb_port_shlock_take_for(gjb_port_shlock *lock, unsigned ms);
/* After GJB_SHLOCK_OWNER_DIED: the lock is usable again. */
GJBMEM_API void gjb_port_shlock_consistent(gjb_port_shlock *lock);
GJBMEM_API void gjb_port_shlock_release(gjb_port_shlock *lock);

/* The calling process's id; whether process pid still exists. */
GJBMEM_API long gjb_port_pid(void);
GJBMEM_API bool gjb_port_pid_alive(long pid);
/* The one mapping of this process that holds addr: its bounds [*lo, *hi);
 * false when addr is not mapped (or the port cannot tell). */
GJBMEM_API bool gjb_port_mapping_of(const void *addr, void **lo, void **hi);
/* Size of the object behind descriptor fd; sets it; closes fd. 0 or an
 * errno value. */
GJBMEM_API int gjb_port_fd_size(int fd, unsigned long long *size);
GJBMEM_API int gjb_port_fd_resize(int fd, unsigned long long size);
GJBMEM_API void gjb_port_fd_close(int fd);
/* Reads len bytes at offset off of the object behind fd into buf: 0, EAGAIN
 * when the object ends before them (it shrank), or an errno value. A
 * read, not a mapping: an object another process shrinks meanwhile is a
 * short read, not a fault. */
GJBMEM_API int gjb_port_fd_read(int fd, void *buf, unsigned long len, unsigned long long off);
/* Maps len bytes of the object behind fd, shared, readable and writable,
 * at an address a with a % align == residue (align a power of two; 0 or
 * at most a page: any page). 0 or an errno value. Undone with
 * gjb_port_vm_unmap. */
GJBMEM_API int gjb_port_shm_map(int fd, unsigned long len, unsigned long align,
                                unsigned long residue, void **out);
/* Replaces the shared mapping [addr, addr+len) by private zero pages: the
 * object is let go, the addresses stay taken (a thread of this process late
 * to see the partition closed reads zeros there, not a fault). 0 or an
 * errno value. */
GJBMEM_API int gjb_port_shm_retire(void *addr, unsigned long len);

#ifdef __cplusplus
}
#endif

#endif
