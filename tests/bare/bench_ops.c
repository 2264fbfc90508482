/*
 * bench_ops.c - instructions per mpart_alloc + mpart_free pair and the
 * worst single call (alloc, free, memalign, realloc) through the partition
 * API, both policies, on the emulated Cortex-M4 and RV32 (scripts/embedded_bench.sh:
 * QEMU with -icount, where virtual time is a fixed number of nanoseconds per
 * instruction, read through the board's timer - mps2's 25 MHz CMSDK timer,
 * virt's 10 MHz mtime - and calibrated against a loop of a known
 * instruction count) and, built for the host,
 * under callgrind (the pairs only: callgrind counts the instructions of
 * bench_pairs exactly; the host has no per-call counter here).
 *
 * Workload: a partition of 64 KiB with 64 live blocks of 8..512 bytes;
 * pairs: PAIRS times alloc + free of sizes cycling through 8..512; worst:
 * OPS random calls (alloc 40%, free 40%, memalign 10% with 16..256
 * alignment, realloc 10%) on up to 128 live blocks of 1..2048 bytes, each
 * call timed alone, the timer's own cost (an empty measurement) taken off.
 */
#include <stdint.h>
#include <stdio.h>

#include "gjbext.h"

#define PAIRS 2000
#define OPS 20000
#define LIVE 128

/* The partition: 64 KiB aligned to its size, so that how BUDDY carves it
 * does not move with whatever else the program holds (the alignment taken
 * at run time: a 64 KiB-aligned section kept callgrind from the host's
 * figure). */
#define MEM (64 * 1024)
static _Alignas(16) char mem_raw[2 * MEM];
static void *live[LIVE];
static const size_t sizes[] = {8, 24, 40, 64, 100, 128, 200, 256, 320, 512, 16, 48, 80, 160, 384, 32};
static uint32_t rng = 12345;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

#if defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_7M__)
/* CMSDK APB timer 0 of the MPS2 boards: a 32-bit down counter at 25 MHz. */
#define TIMER0 ((volatile uint32_t *)0x40000000u)
static void clock_start(void)
{
    TIMER0[2] = 0xffffffffu; /* RELOAD */
    TIMER0[1] = 0xffffffffu; /* VALUE */
    TIMER0[0] = 1;           /* CTRL: enable */
}
static inline uint32_t ticks(void)
{
    return 0xffffffffu - TIMER0[1];
}
/* 1000 instructions: 500 times (subs, bne) minus the last branch's
 * difference; the loop is timed whole, so only the ratio matters. */
static uint32_t loop_ticks(uint32_t n)
{
    uint32_t t0 = ticks();
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n)::"cc");
    return ticks() - t0;
}
#define HAVE_CLOCK 1
#elif defined(__riscv) && __riscv_xlen == 32
/* QEMU virt's CLINT: mtime, a 64-bit up counter at 10 MHz (low word here;
 * machine mode, started without firmware). */
#define MTIME ((volatile uint32_t *)0x0200bff8u)
static void clock_start(void)
{
}
static inline uint32_t ticks(void)
{
    return *MTIME;
}
static uint32_t loop_ticks(uint32_t n)
{
    uint32_t t0 = ticks();
    __asm__ volatile("1: addi %0, %0, -1\n bnez %0, 1b" : "+r"(n));
    return ticks() - t0;
}
#define HAVE_CLOCK 1
#else
static void clock_start(void)
{
}
static inline uint32_t ticks(void)
{
    return 0;
}
static uint32_t loop_ticks(uint32_t n)
{
    return n;
}
#define HAVE_CLOCK 0
#endif

/* Instructions per tick, as a fraction: insns = ticks * num / den. */
static uint64_t num = 1, den = 1;
static uint32_t overhead; /* ticks of an empty measurement */

static void calibrate(void)
{
    clock_start();
    /* 2 instructions per round: 100000 rounds = 200000 instructions (the
     * few around them are what overhead takes off) */
    uint32_t t = loop_ticks(100000);
    num = 200000;
    den = t ? t : 1;
    uint32_t best = UINT32_MAX;
    for (int i = 0; i < 100; i++) {
        uint32_t t0 = ticks();
        uint32_t t1 = ticks();
        if (t1 - t0 < best)
            best = t1 - t0;
    }
    overhead = best;
}

static unsigned long insns(uint64_t t)
{
    return (unsigned long)((t * num + den / 2) / den);
}

static void fill(mpart_id mid)
{
    for (int i = 0; i < 64; i++)
        live[i] = mpart_alloc(mid, sizes[i % 16]);
}

static void drain(mpart_id mid)
{
    for (int i = 0; i < LIVE; i++)
        if (live[i]) {
            mpart_free(mid, live[i]);
            live[i] = NULL;
        }
}

__attribute__((noinline)) void bench_pairs(mpart_id mid);
__attribute__((noinline)) void bench_pairs(mpart_id mid)
{
    for (int i = 0; i < PAIRS; i++) {
        void *p = mpart_alloc(mid, sizes[i % 16]);
        mpart_free(mid, p);
    }
}

struct worst {
    uint32_t alloc, free, memalign, realloc;
};

static void note(uint32_t *w, uint32_t t0, uint32_t t1)
{
    uint32_t d = t1 - t0;
    d = d > overhead ? d - overhead : 0;
    if (d > *w)
        *w = d;
}

static void bench_worst(mpart_id mid, struct worst *w)
{
    for (int i = 0; i < OPS; i++) {
        int k = (int)(next() % LIVE);
        unsigned what = next() % 10;
        size_t n = 1 + next() % 2048;
        uint32_t t0, t1;
        if (!live[k] && what < 8) {
            t0 = ticks();
            void *p = mpart_alloc(mid, n);
            t1 = ticks();
            note(&w->alloc, t0, t1);
            live[k] = p;
        } else if (!live[k]) {
            size_t a = (size_t)16 << (next() % 5);
            t0 = ticks();
            void *p = mpart_memalign(mid, a, n);
            t1 = ticks();
            note(&w->memalign, t0, t1);
            live[k] = p;
        } else if (what < 8) {
            t0 = ticks();
            mpart_free(mid, live[k]);
            t1 = ticks();
            note(&w->free, t0, t1);
            live[k] = NULL;
        } else {
            t0 = ticks();
            void *p = mpart_realloc(mid, live[k], n);
            t1 = ticks();
            note(&w->realloc, t0, t1);
            if (p)
                live[k] = p;
        }
    }
}

static int run(const char *name, int policy)
{
    mpart_id mid;
    char *mem = (char *)(((uintptr_t)mem_raw + MEM - 1) & ~(uintptr_t)(MEM - 1));
    if (mpart_create_ex(mem, MEM, policy, &mid) != 0)
        return 1;
    fill(mid);
    uint32_t t0 = ticks();
    bench_pairs(mid);
    uint32_t t1 = ticks();
    drain(mid);
    struct worst w = {0, 0, 0, 0};
    bench_worst(mid, &w);
    drain(mid);
    if (mpart_validate(mid) != 0 || mpart_delete(mid) != 0)
        return 1;
    if (HAVE_CLOCK) {
        uint64_t pair10 = (uint64_t)(t1 - t0) * num * 10 / den / PAIRS;
        printf("%s: %lu.%lu instructions per mpart_alloc+mpart_free pair; worst single call: "
               "alloc %lu, free %lu, memalign %lu, realloc %lu\n",
               name, (unsigned long)(pair10 / 10), (unsigned long)(pair10 % 10), insns(w.alloc),
               insns(w.free), insns(w.memalign), insns(w.realloc));
    }
    return 0;
}

int main(void)
{
    calibrate();
    if (HAVE_CLOCK)
        printf("calibration: %lu ticks per 200000 instructions, %lu ticks per empty measurement\n",
               (unsigned long)den, (unsigned long)overhead);
    int rc = run("FIRST_FIT", FIRST_FIT_ALLOCATION);
    rc |= run("BUDDY", BUDDY_ALLOCATION);
    return rc;
}
