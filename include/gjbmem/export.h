/*
 * gjbmem/export.h - GJBMEM_API marks the functions libgjbmem exports.
 *
 * The library is compiled with hidden visibility (-fvisibility=hidden):
 * only the functions declared with GJBMEM_API in the installed headers are
 * in libgjbmem.so's dynamic symbol table; everything else is internal. The
 * test public_api compares the two lists.
 */
#ifndef GJBMEM_EXPORT_H
#define GJBMEM_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define GJBMEM_API __attribute__((visibility("default")))
#else
#define GJBMEM_API
#endif

#endif
