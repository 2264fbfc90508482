/*
 * version.c - the library's version, as its build's headers state it.
 */
#include "gjbmem/version.h"

const char *gjbmem_version(void)
{
    return GJBMEM_VERSION;
}
