/*
 * wordsize.h - a test case that holds only with a 64-bit size_t says so
 * with ONLY_ON_LP64() at its start, with the reason in a comment, and
 * cmocka reports it skipped on ILP32 targets (scripts/test.sh's -m32
 * stage). Only for what has no sound 32-bit equivalent (a request that
 * must fail but that a 32-bit process can be granted, an address above
 * 4 GiB): a value that merely depends on the word size is computed instead
 * (sizeof(size_t), GJB_W, GJB_G, FF_MIN), and a size that cannot fit the
 * 32-bit address space replaces one that cannot fit the 64-bit one.
 */
#ifndef GJB_TEST_WORDSIZE_H
#define GJB_TEST_WORDSIZE_H

#include <stdint.h>

#define GJB_TEST_LP64 (SIZE_MAX > UINT32_MAX)

/* The rest of the case runs only where size_t has 64 bits (at its start, or
 * before the part that needs it: what ran before stays checked). */
#define ONLY_ON_LP64()                                                                             \
    do {                                                                                           \
        if (!GJB_TEST_LP64)                                                                        \
            skip();                                                                                \
    } while (0)

/* On ILP32, a length that no arithmetic of the library overflows (rounding
 * up to pages, a block header, alignment slack: anything below 1 MiB) but
 * that no 32-bit process can be granted: 4 GiB less 1 MiB, while its
 * program, libraries and stack take more than 1 MiB of the same 4 GiB. The
 * 32-bit stand-in for the LP64 cases' SIZE_MAX / 2 or 2^57 bytes, of which
 * a 32-bit process may well be granted the first (2 GiB). */
#define TOO_MUCH_FOR_ILP32 (SIZE_MAX - ((size_t)1 << 20) + 1)

/* A request that overflows nothing but is more than any process can get:
 * SIZE_MAX / 2 on LP64, TOO_MUCH_FOR_ILP32 on ILP32. */
#define TOO_MUCH (GJB_TEST_LP64 ? SIZE_MAX / 2 : TOO_MUCH_FOR_ILP32)

#endif
