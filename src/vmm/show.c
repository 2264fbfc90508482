/*
 * show.c - the mapping layer's summary: one line, printed by
 * gjbmem_vmm_show and, registered at the library's start, by mem_show.
 */
#include "core/api_internal.h"
#include "core/textline.h"
#include "gjbmem/vmm.h"
#include "vmm/registry.h"

/* "mappings: 2 live, 8192 bytes mapped, 0 bytes locked, 1 shared-memory
 * objects opened, 4096 bytes shared anonymous" */
static void summary(struct gjb_line *l)
{
    struct gjbmem_vmm_stats s;
    gjbmem_vmm_stats(&s);
    gjb_line_put(l, "mappings: ");
    gjb_line_dec(l, s.mappings);
    gjb_line_put(l, " live, ");
    gjb_line_dec(l, s.bytes_mapped);
    gjb_line_put(l, " bytes mapped, ");
    gjb_line_dec(l, s.bytes_locked);
    gjb_line_put(l, " bytes locked, ");
    gjb_line_dec(l, s.shm_opened);
    gjb_line_put(l, " shared-memory objects opened, ");
    gjb_line_dec(l, s.shared_anon_bytes);
    gjb_line_put(l, " bytes shared anonymous");
}

void gjb_vmm_init(void)
{
    gjb_show_register(summary);
}

int gjbmem_vmm_show(void)
{
    struct gjb_line l = {.n = 0};
    summary(&l);
    return gjb_line_emit(1, &l); /* errno: the host's, on an output error */
}
