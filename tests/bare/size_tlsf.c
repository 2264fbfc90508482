/*
 * size_tlsf.c - the code-size program for TLSF 3.1 (scripts/embedded_size.sh
 * with GJBMEM_TLSF_DIR: TLSF's tlsf.c and tlsf.h, kept outside this
 * repository): the same calls as size_ours.c.
 */
#include "tlsf.h"
#include "size_harness.h"

static void *volatile size_harness_tlsf;

void size_harness_start(void)
{
#ifdef SIZE_CREATE
    size_harness_tlsf = tlsf_create_with_pool(size_harness_mem, sizeof size_harness_mem);
#endif
    tlsf_t t = size_harness_tlsf;
    void *a = tlsf_malloc(t, size_harness_n);
    void *b = tlsf_memalign(t, 64, size_harness_n);
    a = tlsf_realloc(t, a, size_harness_n * 3);
    tlsf_free(t, a);
    tlsf_free(t, b);
    size_harness_sink = a;
}

/* TLSF reports a bad pool with printf: a stand-in, left out of the sums. */
int printf(const char *fmt, ...);
int printf(const char *fmt, ...)
{
    (void)fmt;
    return 0;
}
