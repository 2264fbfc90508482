/*
 * show.c - gjbmem_vmm_show: the mapping layer's summary on stdout.
 */
#include <stdio.h>

#include "gjbmem/vmm.h"

int gjbmem_vmm_show(void)
{
    struct gjbmem_vmm_stats s;
    gjbmem_vmm_stats(&s);
    int n = printf("mappings made through <mman.h>\n"
                   "  live mappings      %zu\n"
                   "  bytes mapped       %zu\n"
                   "  bytes locked       %zu\n"
                   "  shm objects opened %zu\n"
                   "  shared anonymous   %zu bytes\n",
                   s.mappings, s.bytes_mapped, s.bytes_locked, s.shm_opened,
                   s.shared_anon_bytes);
    return n < 0 ? -1 : 0;
}
