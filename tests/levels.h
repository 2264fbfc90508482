/*
 * levels.h - a test case that holds only at some hardening levels
 * (GJBMEM_HARDENING, docs/RELIABILITY.md) says so with one of these at its
 * start, with the reason in a comment, and cmocka reports it skipped at the
 * other levels. scripts/test.sh runs every test at every level and leaves
 * nothing out by name.
 */
#ifndef GJB_TEST_LEVELS_H
#define GJB_TEST_LEVELS_H

#include "gjbmem/config.h"

/* Level 1 only: the case asserts the engine's own block sizes (from level 2
 * every block also carries a guard word and its usable size is the
 * request). */
#define ONLY_AT_LEVEL_1()                                                                          \
    do {                                                                                           \
        if (GJBMEM_HARDENING != 1)                                                                 \
            skip();                                                                                \
    } while (0)

#endif
