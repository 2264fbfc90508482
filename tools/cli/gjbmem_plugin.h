/*
 * gjbmem_plugin.h - the interface of an allocator plugin: a shared library
 * that `gjbmem replay --allocator PATH.so` and `gjbmem size --allocator
 * PATH.so` replay a trace into, beside gjbmem's own policies, so that any
 * pool-based allocator can be compared with them on the same calls.
 *
 * A plugin defines the functions below with C linkage and default
 * visibility (the tool finds them with dlsym). The tool loads it with
 * dlopen (RTLD_NOW | RTLD_LOCAL) and refuses a library that lacks one of
 * the required symbols. It is named in the output by its file name.
 *
 * The pool. For every replay the tool maps a fresh pool of `size` bytes,
 * its start aligned to a power of two at least `size` (and at least 4096),
 * as it does for a gjbmem partition, and calls init; the plugin builds its
 * heap in the pool (its control structures included) and serves every
 * block from it. After the replay the tool frees what is still live, calls
 * fini and unmaps the pool. One replay at a time, one thread.
 *
 * What is measured, as for a partition: the footprint is the highest byte
 * of any block ever allocated (up to its usable size), counted from the
 * pool's first byte; the block bytes behind the geometry figure are, per
 * live block, usable size + gjbmem_plugin_header. `gjbmem size` finds the
 * smallest pool in which the trace replays without a failed allocation.
 * A block outside the pool stops the tool with an error (exit status 2).
 */
#ifndef GJBMEM_PLUGIN_H
#define GJBMEM_PLUGIN_H

#include <stddef.h>

/* --- required ------------------------------------------------------------- */

/* Builds the heap in [pool, pool + size). Returns 0, or non-zero when the
 * allocator cannot use a pool of that size (too small or too large); the
 * tool then counts the size as one the trace does not fit in. */
int gjbmem_plugin_init(void *pool, size_t size);

/* A block of at least size bytes (size >= 1), aligned to align when align
 * is not 0 (a power of two: the alignment the program asked for with
 * memalign, posix_memalign, aligned_alloc, valloc or pvalloc), else to the
 * allocator's own alignment. NULL when it cannot. */
void *gjbmem_plugin_alloc(size_t size, size_t align);

/* Resizes block p (never NULL) to at least size bytes (size >= 1; the
 * tool replays realloc(p, 0) as a free). NULL when it cannot, p then
 * untouched (the tool frees it: the program would go on without it). */
void *gjbmem_plugin_realloc(void *p, size_t size);

/* Frees block p (never NULL). */
void gjbmem_plugin_free(void *p);

/* The usable bytes of block p (at least the size asked for). */
size_t gjbmem_plugin_usable(void *p);

/* Forgets the heap (the pool is unmapped after it). */
void gjbmem_plugin_fini(void);

/* --- optional -------------------------------------------------------------- */

/* Bytes of metadata each block carries besides its usable bytes (a header
 * word, say); 0 when absent. Only the geometry/fragmentation split of the
 * overhead depends on it, not the footprint. */
extern const size_t gjbmem_plugin_header;

#endif
