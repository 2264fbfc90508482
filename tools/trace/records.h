/*
 * records.h - the grammar of a trace (format.h): the header and one record
 * at a time, shared by the reader and the finishing step. Bounds-checked
 * everywhere: these functions see hostile bytes.
 */
#ifndef GJBT_RECORDS_H
#define GJBT_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

/* A record as written: opcode, flags, its varint fields in order (an
 * absent FOREIGN pointer reads as 0), and END's checksum. */
struct gjbt_raw {
    unsigned op, flags;
    uint64_t v[4];
    uint32_t sum;
    const char *why; /* GJBT_REC_BAD: what is wrong */
};

enum { GJBT_REC_OK = 0, GJBT_REC_SHORT = -1, GJBT_REC_BAD = -2 };

/* Parses the header at buf; returns its length, or -1 with a message. */
long gjbt_parse_header(const unsigned char *buf, size_t len, struct gjbt_header *h, char *err,
                       size_t errlen);

/* Parses the record at *p (advancing *p past it): GJBT_REC_OK, _SHORT when
 * [*p, end) ends inside it, or _BAD (r->why says why). */
int gjbt_next_record(const unsigned char **p, const unsigned char *end, struct gjbt_raw *r);

#endif
