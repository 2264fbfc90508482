/*
 * format.h - the gjbmem trace format, version 1 (docs/TRACES.md): the
 * constants, the varint coding and the checksum shared by the recording
 * library (tools/record/) and the reader (tools/trace/reader.c).
 *
 * A trace is a header, then records, then one END record. Every integer is
 * an unsigned LEB128 varint unless said otherwise. A record starts with one
 * byte: the opcode (GJBT_OP_MASK bits) or'ed with GJBT_FOREIGN. Byte 0 never
 * starts a record: a recording process that ends without closing its trace
 * leaves zero bytes after its last record, which `gjbmem record` removes
 * when it finishes the file. The recorder writes a record's opcode byte last
 * and never lets a record cross a window of the file (it fills the window's
 * end with PAD bytes), so a process killed while writing leaves a zero where
 * its unfinished record would start.
 */
#ifndef GJBT_FORMAT_H
#define GJBT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define GJBT_MAGIC "GJBTRACE"
#define GJBT_MAGIC_LEN 8
#define GJBT_VERSION 1

/* What started the process a trace describes (header field `origin`). */
enum gjbt_origin {
    GJBT_ORIGIN_ROOT = 0, /* the program `gjbmem record` started */
    GJBT_ORIGIN_FORK = 1, /* a child made by fork: INHERIT records come first */
    GJBT_ORIGIN_EXEC = 2  /* a new image started by exec in a recorded process */
};

/* Record opcodes. "id" is an object id: 1, 2, ... handed out as blocks are
 * allocated, the most recently freed id first (so ids stay below the peak
 * number of live blocks); 0 stands for NULL (an argument) or for a call
 * that returned NULL (a result). */
enum gjbt_op {
    GJBT_MALLOC = 1,         /* size, id */
    GJBT_CALLOC = 2,         /* n, size, id */
    GJBT_REALLOC = 3,        /* old id, size, new id */
    GJBT_REALLOCARRAY = 4,   /* old id, n, size, new id */
    GJBT_MEMALIGN = 5,       /* align, size, id */
    GJBT_POSIX_MEMALIGN = 6, /* align, size, id */
    GJBT_ALIGNED_ALLOC = 7,  /* align, size, id */
    GJBT_VALLOC = 8,         /* size, id (aligned to the header's page size) */
    GJBT_PVALLOC = 9,        /* size, id (size rounded up to whole pages) */
    GJBT_FREE = 10,          /* id */
    GJBT_USABLE_SIZE = 11,   /* id (malloc_usable_size) */
    GJBT_THREAD = 12,        /* thread: the records after it come from this thread */
    GJBT_INHERIT = 13,       /* id, size, align: a block live in the parent at fork */
    GJBT_END = 14,           /* events, inherited, then 4 bytes: checksum (LE) */
    GJBT_PAD = 15            /* one byte, nothing else: filler, skipped by readers */
};

#define GJBT_OP_MASK 0x3fu
/* The pointer argument (free, realloc, malloc_usable_size) was no block the
 * recorder knew: its id is left out. */
#define GJBT_FOREIGN 0x40u

/* Largest encoded varint (a 64-bit value). */
#define GJBT_VARINT_MAX 10

/* Writes v at p; returns the bytes written (1..10). */
static inline size_t gjbt_put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Reads a varint from [*p, end) into *v and advances *p. 0 on success, -1
 * when the input ends inside it or it does not fit 64 bits. */
static inline int gjbt_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; *p < end; shift += 7) {
        unsigned char c = *(*p)++;
        if (shift == 63 && c > 1)
            return -1;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
        if (shift == 63)
            return -1;
    }
    return -1;
}

/* FNV-1a, 32 bits: the END record's checksum over every byte before it. */
#define GJBT_FNV_INIT 0x811c9dc5u

static inline uint32_t gjbt_fnv(uint32_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x01000193u;
    return h;
}

#endif
