/*
 * main.c - the firmware of tests/bare/firmware: what docs/PORTING.md's
 * start-up step does (hooks, an area for the system heap), then a
 * partition of each policy and mem_show through the write hook. Exit
 * status 0 when every call did what it should.
 */
#include <stdbool.h>
#include <stdio.h>

#include "gjbext.h"
#include "gjbmem/mpart.h"
#include "gjbmem/sysheap.h"
#include "gjbmem_bare.h"

static char heap_area[32 * 1024] __attribute__((aligned(8)));
static char part_area[16 * 1024] __attribute__((aligned(8)));
static char buddy_area[16 * 1024] __attribute__((aligned(8)));

static int console(int stream, const char *s, unsigned long n)
{
    (void)stream;
    return fwrite(s, 1, n, stdout) == n ? 0 : -1;
}

int main(void)
{
    static const struct gjb_bare_hooks hooks = {.write = console};
    int bad = 0;
    bad |= gjb_bare_set_hooks(&hooks) != 0;
    bad |= gjbmem_sysheap_add_memory(heap_area, sizeof heap_area) != 0;
    char *p = gjbmem_malloc(100);
    bad |= p == NULL;
    mpart_id ff, bd;
    bad |= mpart_create(part_area, sizeof part_area, &ff) != 0;
    bad |= mpart_create_ex(buddy_area, sizeof buddy_area, BUDDY_ALLOCATION, &bd) != 0;
    void *a = mpart_alloc(ff, 200), *b = mpart_memalign(bd, 64, 50);
    bad |= a == NULL || b == NULL || ((unsigned long)b & 63) != 0;
    mem_show();
    bad |= mpart_free(ff, a) != 0 || mpart_free(bd, b) != 0 || gjbmem_free(p) != 0;
    bad |= mpart_delete(ff) != 0 || mpart_delete(bd) != 0;
    puts(bad ? "firmware: FAIL" : "firmware: ok");
    return bad;
}
