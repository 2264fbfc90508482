/*
 * records.c - the trace grammar: header fields and the fields of each
 * record type (format.h).
 */
#include <stdio.h>
#include <string.h>

#include "records.h"

long gjbt_parse_header(const unsigned char *buf, size_t len, struct gjbt_header *h, char *err,
                       size_t errlen)
{
    memset(h, 0, sizeof *h);
    if (len < GJBT_MAGIC_LEN || memcmp(buf, GJBT_MAGIC, GJBT_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "not a gjbmem trace (no %s signature at its start)", GJBT_MAGIC);
        return -1;
    }
    if (len == GJBT_MAGIC_LEN) {
        snprintf(err, errlen, "the trace is truncated: it ends inside its header");
        return -1;
    }
    h->version = buf[GJBT_MAGIC_LEN];
    if (h->version != GJBT_VERSION) {
        snprintf(err, errlen, "trace format version %u; this gjbmem reads version %u",
                 h->version, GJBT_VERSION);
        return -1;
    }
    const unsigned char *p = buf + GJBT_MAGIC_LEN + 1, *end = buf + len;
    uint64_t v[7];
    for (int i = 0; i < 7; i++) {
        if (gjbt_get_varint(&p, end, &v[i]) != 0) {
            snprintf(err, errlen, "the trace is truncated: it ends inside its header");
            return -1;
        }
    }
    h->session = v[1];
    h->pid = v[2];
    h->ppid = v[3];
    h->page_size = v[5];
    if ((v[0] != 4 && v[0] != 8) || v[4] > GJBT_ORIGIN_EXEC || v[5] < 256 || v[5] > (1u << 30) ||
        (v[5] & (v[5] - 1)) || v[6] >= sizeof h->command) {
        snprintf(err, errlen, "damaged header (pointer size %llu, origin %llu, page size %llu, "
                 "command length %llu)", (unsigned long long)v[0], (unsigned long long)v[4],
                 (unsigned long long)v[5], (unsigned long long)v[6]);
        return -1;
    }
    h->ptr_size = (unsigned)v[0];
    h->origin = (unsigned)v[4];
    if ((size_t)(end - p) < v[6]) {
        snprintf(err, errlen, "the trace is truncated: it ends inside its header");
        return -1;
    }
    memcpy(h->command, p, (size_t)v[6]);
    h->command[v[6]] = 0;
    for (size_t i = 0; i < v[6]; i++)
        if ((unsigned char)h->command[i] < 32 || h->command[i] == 127)
            h->command[i] = '?';
    return (long)(p - buf) + (long)v[6];
}

/* Fields of each opcode; FOREIGN drops the pointer field (index 0). */
static const unsigned char nfields[GJBT_PAD + 1] = {
    [GJBT_MALLOC] = 2, [GJBT_CALLOC] = 3, [GJBT_REALLOC] = 3, [GJBT_REALLOCARRAY] = 4,
    [GJBT_MEMALIGN] = 3, [GJBT_POSIX_MEMALIGN] = 3, [GJBT_ALIGNED_ALLOC] = 3,
    [GJBT_VALLOC] = 2, [GJBT_PVALLOC] = 2, [GJBT_FREE] = 1, [GJBT_USABLE_SIZE] = 1,
    [GJBT_THREAD] = 1, [GJBT_INHERIT] = 3, [GJBT_END] = 2, [GJBT_PAD] = 0};

static int bad(struct gjbt_raw *r, const char *why)
{
    r->why = why;
    return GJBT_REC_BAD;
}

int gjbt_next_record(const unsigned char **p, const unsigned char *end, struct gjbt_raw *r)
{
    memset(r, 0, sizeof *r);
    if (*p >= end)
        return GJBT_REC_SHORT;
    unsigned c = *(*p)++;
    r->op = c & GJBT_OP_MASK;
    r->flags = c & ~GJBT_OP_MASK;
    if (c == 0)
        return bad(r, "a zero byte where a record starts (an unfinished trace?)");
    if (r->op > GJBT_PAD || (c & 0x80))
        return bad(r, "unknown record type");
    bool may_be_foreign = r->op == GJBT_REALLOC || r->op == GJBT_REALLOCARRAY ||
                          r->op == GJBT_FREE || r->op == GJBT_USABLE_SIZE;
    if ((r->flags & GJBT_FOREIGN) && !may_be_foreign)
        return bad(r, "a foreign pointer on a record that takes none");
    unsigned first = (r->flags & GJBT_FOREIGN) ? 1 : 0;
    for (unsigned i = first; i < nfields[r->op]; i++) {
        const unsigned char *q = *p;
        if (gjbt_get_varint(p, end, &r->v[i]) != 0) {
            if (*p == end && end - q < GJBT_VARINT_MAX)
                return GJBT_REC_SHORT;
            return bad(r, "a number longer than 64 bits");
        }
    }
    if (r->op == GJBT_THREAD && (r->v[0] == 0 || r->v[0] > UINT32_MAX))
        return bad(r, "thread number out of range");
    if (r->op == GJBT_END) {
        if (end - *p < 4)
            return GJBT_REC_SHORT;
        r->sum = (uint32_t)(*p)[0] | (uint32_t)(*p)[1] << 8 | (uint32_t)(*p)[2] << 16 |
                 (uint32_t)(*p)[3] << 24;
        *p += 4;
    }
    return GJBT_REC_OK;
}
