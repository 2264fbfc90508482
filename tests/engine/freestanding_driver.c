/*
 * freestanding_driver.c - run by freestanding_test.sh against the engine
 * compiled with -DGJB_NO_BUILTINS (compat.h's portable fallbacks instead of
 * the compiler's builtins):
 *
 *  - the fallbacks (gjb_ctz64, gjb_log2_64, gjb_log2, gjb_popcount64) agree
 *    with plain loops on every single-bit value, every low mask and a few
 *    hundred thousand pseudo-random values;
 *  - both policies run a short random alloc / memalign / realloc / free
 *    sequence over three regions with gjb_heap_validate after each step,
 *    every payload's pattern intact, and end empty (one free block per
 *    FIRST_FIT region).
 *
 * Plain C (no cmocka): prints what failed and exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compat.h"
#include "gjbmem/heap.h"

#if GJB_HAVE_BUILTINS
#error "build this driver (and the engine it runs) with -DGJB_NO_BUILTINS"
#endif

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            if (++failures > 20)                                                                   \
                exit(1);                                                                           \
        }                                                                                          \
    } while (0)

static unsigned ref_ctz(uint64_t x)
{
    unsigned n = 0;
    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
}

static unsigned ref_log2(uint64_t x)
{
    unsigned n = 0;
    while (x >>= 1)
        n++;
    return n;
}

static unsigned ref_popcount(uint64_t x)
{
    unsigned n = 0;
    for (; x; x >>= 1)
        n += (unsigned)(x & 1);
    return n;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void check_bits(uint64_t x)
{
    if (x) {
        CHECK(gjb_ctz64(x) == ref_ctz(x), "ctz64(%#llx) = %u", (unsigned long long)x, gjb_ctz64(x));
        CHECK(gjb_log2_64(x) == ref_log2(x), "log2_64(%#llx) = %u", (unsigned long long)x,
              gjb_log2_64(x));
        if (x <= SIZE_MAX)
            CHECK(gjb_log2((size_t)x) == ref_log2(x), "log2(%#llx) = %u", (unsigned long long)x,
                  gjb_log2((size_t)x));
    }
    CHECK(gjb_popcount64(x) == ref_popcount(x), "popcount64(%#llx) = %u", (unsigned long long)x,
          gjb_popcount64(x));
}

static void compat_fallbacks(void)
{
    check_bits(0);
    for (unsigned i = 0; i < 64; i++) {
        uint64_t bit = (uint64_t)1 << i;
        check_bits(bit);
        check_bits(bit - 1);
        check_bits(bit | 1);
        check_bits(~(bit - 1));
        check_bits(~bit);
    }
    for (int i = 0; i < 300000; i++) {
        uint64_t x = next_rand();
        check_bits(x);
        check_bits(x >> (x % 64));
        check_bits(x << (x % 64));
    }
}

/* --- both policies, a short random run ---------------------------------- */

#define LIVE 64

struct live {
    unsigned char *p;
    size_t n;
    unsigned char tag;
};

static void fill(const struct live *l)
{
    memset(l->p, l->tag, l->n);
}

static int intact(const struct live *l)
{
    for (size_t k = 0; k < l->n; k++)
        if (l->p[k] != l->tag)
            return 0;
    return 1;
}

static int count_blocks(void *ctx, void *payload, size_t size, bool used)
{
    (void)payload, (void)size;
    size_t *c = ctx;
    c[used]++;
    return 0;
}

static _Alignas(4096) unsigned char arena[3][96 * 1024];

static void random_run(int policy)
{
    gjb_heap *h;
    CHECK(gjb_heap_init(arena[0] + 3, sizeof arena[0] - 3, policy, 3, &h) == GJB_OK, "init %d",
          policy);
    CHECK(gjb_heap_add_region(h, arena[2] + 40, sizeof arena[2] - 100) == GJB_OK, "region 2");
    CHECK(gjb_heap_add_region(h, arena[1], sizeof arena[1]) == GJB_OK, "region 1");
    struct live lv[LIVE];
    int n = 0;
    unsigned char tag = 1;
    for (int op = 0; op < 20000; op++) {
        uint64_t r = next_rand();
        size_t size = 1 + (size_t)(next_rand() % ((r >> 8) % 8 ? 400 : 9000));
        if (n < LIVE && r % 3 == 0) {
            void *p;
            size_t align = (size_t)1 << ((r >> 4) % 12);
            int st = (r >> 3) % 4 ? gjb_heap_alloc(h, size, &p)
                                  : gjb_heap_memalign(h, align, size, &p);
            CHECK(st == GJB_OK || st == GJB_E_NOMEM, "policy %d alloc status %d", policy, st);
            if (st == GJB_OK) {
                CHECK((uintptr_t)p % _Alignof(max_align_t) == 0, "alignment");
                CHECK((r >> 3) % 4 || (uintptr_t)p % align == 0, "memalign %zu", align);
                lv[n] = (struct live){p, size, tag++};
                fill(&lv[n++]);
            }
        } else if (n && r % 3 == 1) {
            int k = (int)(next_rand() % (uint64_t)n);
            void *p;
            CHECK(intact(&lv[k]), "pattern before realloc");
            int st = gjb_heap_realloc(h, lv[k].p, size, &p);
            CHECK(st == GJB_OK || st == GJB_E_NOMEM, "policy %d realloc status %d", policy, st);
            if (st == GJB_OK) {
                struct live moved = {p, size < lv[k].n ? size : lv[k].n, lv[k].tag};
                CHECK(intact(&moved), "pattern kept by realloc");
                lv[k].p = p;
                lv[k].n = size;
                fill(&lv[k]);
            }
        } else if (n) {
            int k = (int)(next_rand() % (uint64_t)n);
            CHECK(intact(&lv[k]), "pattern before free");
            CHECK(gjb_heap_free(h, lv[k].p) == GJB_OK, "free");
            CHECK(gjb_heap_free(h, lv[k].p) == GJB_E_BADPTR, "double free refused");
            lv[k] = lv[--n];
        }
        CHECK(gjb_heap_validate(h) == GJB_OK, "policy %d validate after op %d", policy, op);
        if (failures)
            return;
    }
    while (n)
        CHECK(gjb_heap_free(h, lv[--n].p) == GJB_OK, "final free");
    CHECK(gjb_heap_validate(h) == GJB_OK, "validate at the end");
    CHECK(gjb_heap_is_empty(h), "empty at the end");
    size_t count[2] = {0, 0};
    CHECK(gjb_heap_walk(h, count_blocks, count) == 0, "walk");
    CHECK(count[1] == 0, "no allocated block left");
    if (policy == GJB_FIRST_FIT)
        CHECK(count[0] == 3, "one free block per region, not %zu", count[0]);
}

int main(void)
{
    compat_fallbacks();
    random_run(GJB_FIRST_FIT);
    random_run(GJB_BUDDY);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("PASS: compat.h fallbacks and both policies without builtins\n");
    return 0;
}
