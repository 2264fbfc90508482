/*
 * compat.h - what the engine needs from the compiler, with a portable
 * fallback for each: bit scans, branch hints, inlining, atomic words. The
 * engine uses no compiler builtin except through this file; build with
 * -DGJB_NO_BUILTINS to check that the fallbacks compile and work.
 */
#ifndef GJB_COMPAT_H
#define GJB_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h" /* GJBMEM_SMALL_CODE may come from gjbmem/config.h */

#if (defined(__GNUC__) || defined(__clang__)) && !defined(GJB_NO_BUILTINS)
#define GJB_HAVE_BUILTINS 1
#else
#define GJB_HAVE_BUILTINS 0
#endif

/* GJBMEM_SMALL_CODE=1: code size first (docs/PORTING.md, section 3). */
#if defined(GJBMEM_SMALL_CODE) && GJBMEM_SMALL_CODE
#define GJB_SMALL_CODE 1
#else
#define GJB_SMALL_CODE 0
#endif

#if GJB_HAVE_BUILTINS
#define GJB_LIKELY(x) __builtin_expect(!!(x), 1)
#define GJB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GJB_NOINLINE __attribute__((noinline))
#if GJB_SMALL_CODE
/* Firmware built for size (docs/PORTING.md): the compiler decides what
 * to inline, so the hot paths are not copied into every caller. */
#define GJB_ALWAYS_INLINE inline
#else
#define GJB_ALWAYS_INLINE inline __attribute__((always_inline))
#endif
/* A compiler barrier: what the code after it reads from memory it reads
 * again, instead of keeping it in registers across it (fewer registers on
 * a path that must not save any). No instruction. */
#define GJB_RELOAD() __asm__("" ::: "memory")
#else
#define GJB_LIKELY(x) (x)
#define GJB_UNLIKELY(x) (x)
#define GJB_NOINLINE
#define GJB_ALWAYS_INLINE inline
#define GJB_RELOAD() ((void)0)
#endif

/* Atomic loads (acquire) and stores (relaxed) of a word, an offset and a
 * byte: for the words a reader without the heap's lock may read
 * (gjb_hot_block) while a holder of the lock writes them. Aligned. On the
 * hosts we know they are plain moves (x86) or a move with a load barrier;
 * the fallback is a volatile access, one move of an aligned word with the
 * compilers we know. */
#if GJB_HAVE_BUILTINS
static inline size_t gjb_load_word(const size_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void gjb_store_word(size_t *p, size_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline intptr_t gjb_load_off(const intptr_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void gjb_store_off(intptr_t *p, intptr_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline unsigned char gjb_load_byte(const unsigned char *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
#else
static inline size_t gjb_load_word(const size_t *p)
{
    return *(const volatile size_t *)p;
}
static inline void gjb_store_word(size_t *p, size_t v)
{
    *(volatile size_t *)p = v;
}
static inline intptr_t gjb_load_off(const intptr_t *p)
{
    return *(const volatile intptr_t *)p;
}
static inline void gjb_store_off(intptr_t *p, intptr_t v)
{
    *(volatile intptr_t *)p = v;
}
static inline unsigned char gjb_load_byte(const unsigned char *p)
{
    return *(const volatile unsigned char *)p;
}
#endif

/* Index of the lowest set bit of x (x != 0). */
static inline unsigned gjb_ctz64(uint64_t x)
{
#if GJB_HAVE_BUILTINS
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    if (!(x & 0xffffffffu)) { n += 32; x >>= 32; }
    if (!(x & 0xffffu)) { n += 16; x >>= 16; }
    if (!(x & 0xffu)) { n += 8; x >>= 8; }
    if (!(x & 0xfu)) { n += 4; x >>= 4; }
    if (!(x & 0x3u)) { n += 2; x >>= 2; }
    return n + (unsigned)((x & 1u) ^ 1u);
#endif
}

/* The same for a 32-bit x (x != 0): on a 32-bit target one or two
 * instructions where the 64-bit scan calls a libgcc helper. */
static inline unsigned gjb_ctz32(uint32_t x)
{
#if GJB_HAVE_BUILTINS
    if (sizeof(unsigned) >= sizeof(uint32_t))
        return (unsigned)__builtin_ctz((unsigned)x);
#endif
    return gjb_ctz64(x);
}

/* Index of the highest set bit of x (x != 0): floor(log2(x)). With the
 * builtins, 63 ^ clz rather than 63 - clz (the same for 0..63): GCC makes
 * the first one instruction on x86 (bsr), the second three. */
static inline unsigned gjb_log2_64(uint64_t x)
{
#if GJB_HAVE_BUILTINS
    return 63u ^ (unsigned)__builtin_clzll(x);
#else
    unsigned n = 0;
    if (x >> 32) { n += 32; x >>= 32; }
    if (x >> 16) { n += 16; x >>= 16; }
    if (x >> 8) { n += 8; x >>= 8; }
    if (x >> 4) { n += 4; x >>= 4; }
    if (x >> 2) { n += 2; x >>= 2; }
    return n + (unsigned)(x >> 1);
#endif
}

/* floor(log2(x)) of a size (x != 0), at the width of size_t. */
static inline unsigned gjb_log2(size_t x)
{
#if GJB_HAVE_BUILTINS
    if (sizeof(size_t) == sizeof(unsigned long))
        return (unsigned)(8 * sizeof(unsigned long) - 1) ^
               (unsigned)__builtin_clzl((unsigned long)x);
#endif
    return gjb_log2_64((uint64_t)x);
}

/* Number of set bits of x. */
static inline unsigned gjb_popcount64(uint64_t x)
{
#if GJB_HAVE_BUILTINS
    return (unsigned)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

#endif
