/*
 * lib.c - the library's one-time initialisation: the partition table and
 * the system heap's settings.
 */
#include "api_internal.h"

void gjb_lib_init(void)
{
    gjb_mpart_init();
    gjb_sysheap_init();
}
