/*
 * demo_partition.c - the manual's partition scenario as one program: a
 * partition over a static 8 KiB buffer, 8 KiB of malloc'd memory added,
 * alloc 4 KiB, memalign(4, 4 KiB), realloc to 5 KiB, findmaxfree, getinfo,
 * free everything, delete. Prints every step and the partition's statistics
 * after it, checks every result, and exits non-zero on anything unexpected.
 */
#include <gjbext.h>
#include <gjbmem/sysheap.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KIB 1024u

static int failures;

/* Records and reports an unexpected result. */
static void check(int ok, const char *what)
{
    if (!ok) {
        printf("  UNEXPECTED: %s (errno %d: %s)\n", what, errno, gjbmem_strerror(errno));
        failures++;
    }
}

/* Prints the partition's statistics and checks the invariants that hold
 * after every step: used + free = bytes managed, maxused >= used. */
static struct partinfo show(mpart_id mid, size_t managed)
{
    struct partinfo pi = {0, 0, 0, 0};
    check(mpart_getinfo(mid, &pi) == 0, "mpart_getinfo");
    printf("  partinfo: segment %lu, used %zu, maxused %zu, free %zu\n", pi.segment, pi.used,
           pi.maxused, pi.free);
    check(pi.used + pi.free == managed, "used + free equals the bytes under management");
    check(pi.maxused >= pi.used, "maxused is at least used");
    check(mpart_validate(mid) == 0, "mpart_validate");
    return pi;
}

static void fill(char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(unsigned char)(seed + i * 7);
}

static int same(const char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (char)(unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

static _Alignas(16) char area[8 * KIB];

int main(void)
{
    mpart_id mid = 0;
    size_t managed = sizeof area;

    printf("1. mpart_create(static buffer %p, %zu)\n", (void *)area, sizeof area);
    check(mpart_create(area, sizeof area, &mid) == 0, "mpart_create");
    if (failures)
        return 1;
    struct partinfo pi = show(mid, managed);
    check(pi.segment == 1, "a fresh partition is one free block");

    char *add = malloc(8 * KIB);
    printf("2. mpart_addmem(malloc'd %p, %u)\n", (void *)add, 8 * KIB);
    check(add != NULL, "malloc");
    check(add && mpart_addmem(mid, add, 8 * KIB) == 0, "mpart_addmem");
    managed += 8 * KIB;
    pi = show(mid, managed);
    check(pi.segment == 2, "one free block per region");

    printf("3. mpart_alloc(4096)\n");
    char *p = mpart_alloc(mid, 4 * KIB);
    printf("  -> %p\n", (void *)p);
    check(p != NULL && (uintptr_t)p % _Alignof(max_align_t) == 0, "mpart_alloc(4 KiB)");
    if (p)
        fill(p, 4 * KIB, 0x11);
    pi = show(mid, managed);
    check(pi.segment == 3, "one allocated block more");

    printf("4. mpart_memalign(4, 4096)\n");
    char *q = mpart_memalign(mid, 4, 4 * KIB);
    printf("  -> %p\n", (void *)q);
    check(q != NULL && (uintptr_t)q % 4 == 0, "mpart_memalign(4, 4 KiB)");
    if (q)
        fill(q, 4 * KIB, 0x22);
    pi = show(mid, managed);

    printf("5. mpart_realloc(%p, 5120)\n", (void *)p);
    char *r = mpart_realloc(mid, p, 5 * KIB);
    printf("  -> %p (%s)\n", (void *)r, r == p ? "grown in place" : "moved");
    check(r != NULL, "mpart_realloc(5 KiB)");
    if (r) {
        check(same(r, 4 * KIB, 0x11), "realloc keeps the first 4 KiB");
        p = r;
    }
    check(!q || same(q, 4 * KIB, 0x22), "the aligned block is untouched");
    pi = show(mid, managed);

    printf("6. mpart_findmaxfree\n");
    int maxfree = mpart_findmaxfree(mid);
    printf("  -> %d bytes\n", maxfree);
    check(maxfree > 0, "mpart_findmaxfree");
    if (maxfree > 0) {
        char *m = mpart_alloc(mid, (size_t)maxfree);
        printf("  mpart_alloc(%d) -> %p, freed again (raises maxused)\n", maxfree, (void *)m);
        check(m != NULL, "mpart_alloc(findmaxfree) succeeds");
        check(!m || mpart_free(mid, m) == 0, "mpart_free(that block)");
    }
    pi = show(mid, managed);

    printf("7. mpart_getinfo\n");
    pi = show(mid, managed);
    size_t peak = pi.maxused;

    printf("8. mpart_free both blocks\n");
    check(mpart_free(mid, p) == 0, "mpart_free(realloc'd block)");
    check(!q || mpart_free(mid, q) == 0, "mpart_free(aligned block)");
    pi = show(mid, managed);
    check(pi.segment == 2, "everything merged back: one free block per region");
    check(pi.maxused == peak, "maxused keeps the high-water mark");

    printf("9. mpart_delete\n");
    check(mpart_delete(mid) == 0, "mpart_delete");
    check(mpart_getinfo(mid, &pi) == -1 && errno == ERROR_KERNEL_HANDLE_NULL,
          "the deleted partition's id is refused");
    free(add);

    printf("10. the system heap: heap_mem_init(BUDDY_ALLOCATION), a 4096-byte block, a BUDDY\n"
           "    partition beside it, mem_show\n");
    check(heap_mem_init(BUDDY_ALLOCATION) == 0, "heap_mem_init(BUDDY_ALLOCATION)");
    void *page = gjbmem_malloc(4096);
    check(page && ((uintptr_t)page & 4095) == 0 && gjbmem_usable_size(page) == 4096,
          "a 4096-byte request gets exactly a 4096-byte, 4096-aligned block");
    static char bmem[64 * 1024];
    mpart_id bid = 0;
    check(mpart_create_ex(bmem, sizeof bmem, BUDDY_ALLOCATION, &bid) == 0, "mpart_create_ex(BUDDY)");
    char *b = bid ? mpart_memalign(bid, 1024, 1000) : NULL;
    check(b && ((uintptr_t)b & 1023) == 0, "mpart_memalign(1024) on the BUDDY partition");
    mem_show();
    check(!b || mpart_free(bid, b) == 0, "mpart_free");
    check(!bid || mpart_delete(bid) == 0, "mpart_delete");
    check(gjbmem_free(page) == 0, "gjbmem_free");

    printf("%s\n", failures ? "demo FAILED" : "demo passed");
    return failures ? 1 : 0;
}
