/*
 * size_harness.h - what the code-size programs (size_ours.c, size_tlsf.c)
 * share: an entry point without a C library, and the three memory
 * functions, so that the linked program holds only the allocator under
 * measurement and these few symbols (named size_harness_*, memcpy, memset,
 * memmove: scripts/embedded_size.sh leaves them out of the sums).
 */
#ifndef GJB_SIZE_HARNESS_H
#define GJB_SIZE_HARNESS_H

#include <stddef.h>

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *a = d;
    const unsigned char *b = s;
    while (n--)
        *a++ = *b++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *a = d;
    const unsigned char *b = s;
    if (a < b)
        while (n--)
            *a++ = *b++;
    else
        while (n--)
            a[n] = b[n];
    return d;
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *a = d;
    while (n--)
        *a++ = (unsigned char)c;
    return d;
}

/* Values the optimiser cannot see through. */
static void *volatile size_harness_sink;
static volatile size_t size_harness_n = 100;
__attribute__((unused)) static _Alignas(16) char size_harness_mem[16384];

void size_harness_start(void);

#endif
