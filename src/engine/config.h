/*
 * config.h - the engine's build settings, with their defaults, so that the
 * engine compiles without CMake: a build that has gjbmem/config.h (CMake
 * generates it) defines GJBMEM_HAVE_CONFIG_H and gets its values.
 */
#ifndef GJB_ENGINE_CONFIG_H
#define GJB_ENGINE_CONFIG_H

#ifdef GJBMEM_HAVE_CONFIG_H
#include "gjbmem/config.h"
#endif

/* 1 (default): every pointer is proved an allocated block before it is
 * used; 2, 3: the API layer adds guards and fills (docs/RELIABILITY.md).
 * The proof is part of the engine's contract (gjbmem/heap.h): there is no
 * level without it. */
#ifndef GJBMEM_HARDENING
#define GJBMEM_HARDENING 1
#endif
#if GJBMEM_HARDENING < 1 || GJBMEM_HARDENING > 3
#error "GJBMEM_HARDENING must be 1, 2 or 3"
#endif

/* FIRST_FIT's quick lists (firstfit.h, GJB_QUICK in gjbmem/heap.h): how
 * many small blocks a heap's frees may set aside unmerged, all lists
 * together, for the next allocations of their sizes. 0: none. */
#ifndef GJBMEM_FF_QUICK
#define GJBMEM_FF_QUICK 1024
#endif
#if GJBMEM_FF_QUICK < 0 || GJBMEM_FF_QUICK > 65536
#error "GJBMEM_FF_QUICK must be 0 to 65536"
#endif

/* 1: blocks are described to valgrind and AddressSanitizer (tools.h). */
#ifndef GJBMEM_TOOLS
#define GJBMEM_TOOLS 0
#endif

/* Test builds of the engine only (tests/shm/): a hook before every block or
 * bitmap word the engine stores (heap_internal.h, gjb_step_hook). */
#ifndef GJBMEM_STEP_HOOK
#define GJBMEM_STEP_HOOK 0
#endif

#endif
