/*
 * lib.c - the library's one-time initialisation: the partition table, the
 * system heap (its settings and first region), and the summaries mem_show
 * prints (the system heap's, then the mapping layer's).
 */
#include "api_internal.h"

void gjb_lib_init(void)
{
    gjb_mpart_init();
    gjb_sysheap_init();
    gjb_vmm_init();
}
