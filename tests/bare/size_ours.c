/*
 * size_ours.c - the code-size program for gjbmem (scripts/embedded_size.sh):
 * the partition API's allocation paths, alloc, free, memalign and realloc,
 * and with SIZE_CREATE mpart_create too (TLSF: tlsf_create_with_pool).
 * Linked with --gc-sections, it holds what those calls can reach and no
 * more (validation and statistics calls are never reached).
 */
#include "gjbext.h"
#include "size_harness.h"

static volatile mpart_id size_harness_id;

void size_harness_start(void)
{
#ifdef SIZE_CREATE
    mpart_id id;
    mpart_create(size_harness_mem, sizeof size_harness_mem, &id);
    size_harness_id = id;
#endif
    void *a = mpart_alloc(size_harness_id, size_harness_n);
    void *b = mpart_memalign(size_harness_id, 64, size_harness_n);
    a = mpart_realloc(size_harness_id, a, size_harness_n * 3);
    mpart_free(size_harness_id, a);
    mpart_free(size_harness_id, b);
    size_harness_sink = a;
}
