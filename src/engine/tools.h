/*
 * tools.h - describing the heap engine's blocks to valgrind memcheck and
 * AddressSanitizer, in builds with GJBMEM_TOOLS (CMake -DGJBMEM_TOOLS=ON).
 *
 * The picture both tools get: all memory of a heap's regions (descriptor,
 * headers, free blocks, bitmaps, tags, slack) is inaccessible, except the
 * first `size` bytes of each allocated block, size being what the caller
 * asked for. A user's overflow into a block's slack, a neighbour or the
 * metadata, and any access to a freed block, is then reported by the tool.
 *
 *   valgrind: each heap is a memory pool anchored at its descriptor
 *     (VALGRIND_CREATE_MEMPOOL); blocks are pool chunks (MEMPOOL_ALLOC, so
 *     a new block reads as undefined, MEMPOOL_FREE, MEMPOOL_CHANGE), the
 *     rest is NOACCESS. The engine's own accesses to that memory happen in
 *     the engine's public functions, each of which turns error reporting
 *     off for its duration (GJB_TOOL_SCOPE: VALGRIND_DISABLE_ERROR_REPORTING,
 *     which covers invalid reads and writes and uses of undefined values;
 *     memcheck reads NOACCESS bytes as defined, so nothing undefined leaks
 *     out of the engine). The requests cost a few instructions each when
 *     the program is not running under valgrind.
 *   AddressSanitizer (when the build uses it): the same memory is poisoned
 *     (__asan_poison_memory_region). The engine's files are compiled
 *     without ASan instrumentation (CMakeLists.txt: -fno-sanitize=address
 *     and GJBMEM_TOOLS_ASAN), so its own loads and stores are not checked;
 *     the libc calls it makes (memcpy, memmove, memset) are still checked
 *     by ASan's interceptors, so their ranges are unpoisoned first.
 *
 * With GJBMEM_TOOLS 0 every hook is an empty inline: the engine compiles to
 * the same code as without this file.
 */
#ifndef GJB_TOOLS_H
#define GJB_TOOLS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#if GJBMEM_TOOLS
#include <valgrind/memcheck.h>
#if defined(GJBMEM_TOOLS_ASAN) || defined(__SANITIZE_ADDRESS__)
#define GJB_TOOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GJB_TOOL_ASAN 1
#endif
#endif
#endif
#ifndef GJB_TOOL_ASAN
#define GJB_TOOL_ASAN 0
#endif
#if GJB_TOOL_ASAN
/* The functions, not the ASAN_*_MEMORY_REGION macros: those are no-ops in
 * files compiled without instrumentation, as the engine's are. */
#include <sanitizer/asan_interface.h>
#endif

#if GJBMEM_TOOLS

static inline int gjb_tool_quiet_(void)
{
    VALGRIND_DISABLE_ERROR_REPORTING;
    return 0;
}

static inline void gjb_tool_loud_(int *scope)
{
    (void)scope;
    VALGRIND_ENABLE_ERROR_REPORTING;
}

/* First statement of each public engine function: valgrind reports none of
 * the engine's own accesses until the function returns. */
#define GJB_TOOL_SCOPE() \
    int gjb_tool_scope_ __attribute__((cleanup(gjb_tool_loud_), unused)) = gjb_tool_quiet_()

/* Makes [p, p+n) inaccessible (a free block, slack, metadata). */
static inline void gjb_tool_seal(void *p, size_t n)
{
    if (!n)
        return;
    (void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
#if GJB_TOOL_ASAN
    __asan_poison_memory_region(p, n);
#endif
}

/* The engine takes [mem, mem+n) for a heap: ASan must let its memset and
 * stores through, even if an earlier heap there left it poisoned. */
static inline void gjb_tool_take(void *mem, size_t n)
{
    (void)mem, (void)n;
#if GJB_TOOL_ASAN
    __asan_unpoison_memory_region(mem, n);
#endif
}

/* Heap h was made in [mem, mem+n): a new pool (replacing any that an
 * earlier heap at the same address left behind), all of it sealed. */
static inline void gjb_tool_heap_new(const void *h, void *mem, size_t n)
{
    if (VALGRIND_MEMPOOL_EXISTS(h))
        VALGRIND_DESTROY_MEMPOOL(h);
    VALGRIND_CREATE_MEMPOOL(h, 0, 0);
    gjb_tool_seal(mem, n);
}

/* Heap h goes away: its pool is dropped (before its regions reopen). */
static inline void gjb_tool_heap_gone(const void *h)
{
    if (VALGRIND_MEMPOOL_EXISTS(h))
        VALGRIND_DESTROY_MEMPOOL(h);
}

/* [mem, mem+n) leaves the heap: accessible again, contents undefined. */
static inline void gjb_tool_region_gone(void *mem, size_t n)
{
    (void)VALGRIND_MAKE_MEM_UNDEFINED(mem, n);
#if GJB_TOOL_ASAN
    __asan_unpoison_memory_region(mem, n);
#endif
}

/* Block p of heap h was handed out for a request of size bytes: those
 * bytes become accessible (undefined for memcheck), the rest of the block
 * stays sealed. */
static inline void gjb_tool_alloc(const void *h, void *p, size_t size)
{
    VALGRIND_MEMPOOL_ALLOC(h, p, size);
#if GJB_TOOL_ASAN
    __asan_unpoison_memory_region(p, size);
#endif
}

/* Block p (usable bytes) of heap h was freed: all of it sealed. */
static inline void gjb_tool_free(const void *h, void *p, size_t usable)
{
    (void)usable;
    VALGRIND_MEMPOOL_FREE(h, p);
#if GJB_TOOL_ASAN
    __asan_poison_memory_region(p, usable);
#endif
}

/* Bytes of allocated block p (usable bytes) that its owner may access:
 * the size it asked for when a tool is watching, else usable. Call it in
 * a GJB_TOOL_SCOPE (memcheck's check reports nothing there). */
static inline size_t gjb_tool_kept(const void *p, size_t usable)
{
    size_t n = usable;
#if GJB_TOOL_ASAN
    const char *bad = __asan_region_is_poisoned((void *)(uintptr_t)p, usable);
    if (bad)
        n = (size_t)(bad - (const char *)p);
#endif
    uintptr_t a = VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, usable); /* 0 natively */
    if (a)
        n = (size_t)(a - (uintptr_t)p);
    return n;
}

/* Before the engine moves n bytes from src to dst inside its heap
 * (first fit's realloc growing down, dst < src): ASan must let memmove
 * through; memcheck must see the part of dst below src as addressable, or
 * the copy would not carry the bytes' definedness along. gjb_tool_resized
 * reseals what the block does not keep. */
static inline void gjb_tool_move(void *dst, const void *src, size_t n)
{
    char *d = dst;
    const char *s = src;
    if (d < s)
        (void)VALGRIND_MAKE_MEM_UNDEFINED(d, (size_t)(s - d) < n ? (size_t)(s - d) : n);
#if GJB_TOOL_ASAN
    __asan_unpoison_memory_region(dst, n);
    __asan_unpoison_memory_region((void *)(uintptr_t)src, n);
#endif
}

/* Block p (usable bytes, kept of them in use) of heap h was resized in
 * place to q (q <= p, the same block or one grown down over its free
 * neighbour; its contents moved along) with qusable bytes, for a request of
 * size: [q, q+size) accessible, with the kept bytes' state and the rest
 * undefined; everything else of both extents sealed. */
static inline void gjb_tool_resized(const void *h, void *p, size_t usable, size_t kept, void *q,
                                    size_t qusable, size_t size)
{
    char *end = (char *)p + usable > (char *)q + qusable ? (char *)p + usable : (char *)q + qusable;
    VALGRIND_MEMPOOL_CHANGE(h, p, q, size);
    if (size > kept)
        (void)VALGRIND_MAKE_MEM_UNDEFINED((char *)q + kept, size - kept);
#if GJB_TOOL_ASAN
    __asan_unpoison_memory_region(q, size);
#endif
    gjb_tool_seal((char *)q + size, (size_t)(end - ((char *)q + size)));
}

#else /* !GJBMEM_TOOLS: nothing at all */

#define GJB_TOOL_SCOPE() ((void)0)

static inline void gjb_tool_seal(void *p, size_t n) { (void)p, (void)n; }
static inline void gjb_tool_take(void *mem, size_t n) { (void)mem, (void)n; }
static inline void gjb_tool_heap_new(const void *h, void *mem, size_t n)
{
    (void)h, (void)mem, (void)n;
}
static inline void gjb_tool_heap_gone(const void *h) { (void)h; }
static inline void gjb_tool_region_gone(void *mem, size_t n) { (void)mem, (void)n; }
static inline void gjb_tool_alloc(const void *h, void *p, size_t size)
{
    (void)h, (void)p, (void)size;
}
static inline void gjb_tool_free(const void *h, void *p, size_t usable)
{
    (void)h, (void)p, (void)usable;
}
static inline size_t gjb_tool_kept(const void *p, size_t usable)
{
    (void)p;
    return usable;
}
static inline void gjb_tool_move(void *dst, const void *src, size_t n)
{
    (void)dst, (void)src, (void)n;
}
static inline void gjb_tool_resized(const void *h, void *p, size_t usable, size_t kept, void *q,
                                    size_t qusable, size_t size)
{
    (void)h, (void)p, (void)usable, (void)kept, (void)q, (void)qusable, (void)size;
}

#endif
#endif
