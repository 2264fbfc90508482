/*
 * gjbmem/sysheap.h - the system heap's allocation interface (our extension;
 * the documented calls are heap_mem_init and mem_* in <gjbext.h>).
 *
 * The system heap is one heap owned by the library, made of up to 8 arenas
 * (each an engine heap with its own lock: a thread allocates from one, a
 * block goes back to its own); its statistics are sums over them. On a host
 * it takes its memory from the port in regions (page mappings): the first
 * at the library's first use (4 MiB, or what the limit allows), an arena's
 * first when its first thread comes, more on demand up to a limit: the host's physical memory by default, GJBMEM_HEAP_LIMIT in the
 * environment (bytes, with an optional K, M or G suffix), or
 * gjbmem_sysheap_set_limit. Requests of GJBMEM_SYSHEAP_DIRECT bytes or more
 * get pages of their own (a direct mapping; when freed it is kept for the
 * next large requests, up to min(32 MiB, limit / 4) bytes and 16 mappings,
 * the oldest given back to the host first, all of them when the limit
 * needs the room);
 * they are not part of the heap's statistics (struct meminfo) and are
 * counted in struct gjbmem_sysheap_stats. GJBMEM_POLICY=first-fit|buddy in
 * the environment chooses the policy before the first allocation.
 *
 * With BUDDY (and no guard: hardening level 1) a request of 1,025 bytes to
 * 64 KiB whose size class (16 per power of two) is not a power of two takes
 * a slot in a slab: one buddy block carved into equal slots. Its usable
 * size is the class's (at most 1/16 above the request) and it is aligned
 * to alignof(max_align_t), not to its size; memalign never takes a slot.
 * In the statistics every slot is a block (a free one's bytes are free).
 * A slot costs O(1) and a lock of the slabs' own; a slab goes back to its
 * arena with its last slot (docs/DESIGN.md, "Slabs under BUDDY").
 *
 * Every call is thread-safe (the arena's lock; none in a process with one
 * thread) and fork-safe. In interrupt context
 * (as the port reports it) the allocating calls fail with
 * ERROR_KERNEL_IN_ISR. Pointers are aligned to alignof(max_align_t).
 */
#ifndef GJBMEM_SYSHEAP_H
#define GJBMEM_SYSHEAP_H

#include <stddef.h>

#include <gjbmem/errpolicy.h>
#include <gjbmem/stats.h>
#include <gjbmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Requests at least this large are served by direct page mappings. */
#define GJBMEM_SYSHEAP_DIRECT ((size_t)256 * 1024)

/* Allocates size bytes; size 0 gives a unique pointer to a minimal block.
 * Errors: NULL with errno ENOMEM (no memory within the limit, or size above
 * PTRDIFF_MAX, as glibc) or ERROR_KERNEL_IN_ISR. As mpart_alloc for the heap's policy (+ one page
 * mapping when the heap grows). */
GJBMEM_API void *gjbmem_malloc(size_t size);

/* Allocates n * size zeroed bytes. Errors: as gjbmem_malloc; n * size
 * overflows: ENOMEM. As gjbmem_malloc, + clearing. */
GJBMEM_API void *gjbmem_calloc(size_t n, size_t size);

/* Resizes p (NULL: gjbmem_malloc) keeping its contents up to the smaller
 * size; size 0 frees p and returns NULL. Errors (p then intact): ENOMEM;
 * p not a block of the system heap: EINVAL; ERROR_KERNEL_IN_ISR. */
GJBMEM_API void *gjbmem_realloc(void *p, size_t size);

/* Allocates size bytes aligned to align (a power of two). Errors: align 0
 * or not a power of two: EINVAL; otherwise as gjbmem_malloc. */
GJBMEM_API void *gjbmem_memalign(size_t align, size_t size);

/* Frees p (NULL: nothing). Returns 0 (errno left as it was), or -1 with
 * errno EINVAL when p is not an allocated block of the system heap (foreign,
 * interior, already freed: nothing is written), ERROR_KERNEL_IN_ISR in
 * interrupt context. */
GJBMEM_API int gjbmem_free(void *p);

/* gjbmem_malloc and gjbmem_free through the calling thread's cache (what
 * the malloc replacement calls): a freed block of up to 1024 bytes (LP64;
 * 64 granules with its header) is checked as gjbmem_free checks it (without
 * a lock while no other thread changes its arena), then kept, up to 16 per
 * block size and thread (8 above 512 bytes), and given to the thread's next
 * request of that size without a lock or a search; it coalesces when it
 * leaves the cache (its bin full, the thread's exit, heap_mem_init in the
 * thread, fork for the other threads). Kept blocks count as free in the
 * statistics but are allocated for the engine: they do not merge with
 * their neighbours while kept, so mem_findmax may be lower than after
 * gjbmem_free. gjbmem_malloc_cached: errors and cost as gjbmem_malloc
 * (O(1) without a lock when the cache has the block). gjbmem_free_cached
 * returns 0, or the error number gjbmem_free would set (EINVAL: no block
 * of the system heap, or a kept block freed again by any call;
 * ERROR_KERNEL_IN_ISR), and never changes errno (what free() needs); its
 * cost is gjbmem_free's, without the engine's merge when the block is
 * kept, and without a lock when it is kept and no other thread holds its
 * arena's lock meanwhile. At hardening level 2 and above, and with tools,
 * they do what gjbmem_malloc and gjbmem_free do. */
GJBMEM_API void *gjbmem_malloc_cached(size_t size);
GJBMEM_API int gjbmem_free_cached(void *p);

/* Usable bytes of block p (at least what was asked), 0 if p is not one. */
GJBMEM_API size_t gjbmem_usable_size(const void *p);

/* Sets the most bytes the system heap may take from the port (regions and
 * direct mappings together). Errors: below what it holds now: EINVAL. */
GJBMEM_API int gjbmem_sysheap_set_limit(size_t bytes);

/* Hands [mem, mem+size) to the system heap as a region (bare metal: the
 * integrator's memory; on a host it supplements the port's). Errors: NULL,
 * 0, too small, overlap with managed memory: EINVAL; region table full:
 * ENOSPC. */
GJBMEM_API int gjbmem_sysheap_add_memory(void *mem, size_t size);

struct gjbmem_sysheap_stats {
    struct gjbmem_heap_stats heap; /* the heap proper (what mem_getinfo reports) */
    int policy;                    /* FIRST_FIT_ALLOCATION or BUDDY_ALLOCATION */
    size_t limit;                  /* bytes it may take from the port */
    size_t port_bytes;             /* bytes it holds from the port now */
    size_t direct_blocks;          /* live direct mappings */
    size_t direct_bytes;           /* bytes in them */
};

/* Fills *st. Errors: NULL: EINVAL. O(1). */
GJBMEM_API int gjbmem_sysheap_stats(struct gjbmem_sysheap_stats *st);

/* mem_show() to stream 1 (stdout, what mem_show does) or 2 (stderr). */
GJBMEM_API void gjbmem_mem_show_to(int stream);

/* Checks every invariant of the system heap (gjb_heap_validate) and of its
 * direct mappings. 0, or -1 with errno ERROR_KERNEL_MEMORY. O(blocks). */
GJBMEM_API int gjbmem_sysheap_validate(void);

/* Sets what the system heap does, besides failing the call, when
 * gjbmem_free or gjbmem_realloc gets a pointer that is no block of it or
 * when damage is found (gjbmem_free, gjbmem_sysheap_validate): flags
 * GJBMEM_ERR_* of gjbmem/errpolicy.h; reports carry heap 0. The default is
 * GJBMEM_ERR_RETURN. Errors: unknown flags, or GJBMEM_ERR_HOOK without a
 * hook: EINVAL; ERROR_KERNEL_IN_ISR. O(1). */
GJBMEM_API int gjbmem_sysheap_set_error_policy(unsigned flags, gjbmem_error_hook hook, void *arg);

#ifdef __cplusplus
}
#endif

#endif
