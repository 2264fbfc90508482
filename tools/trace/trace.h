/*
 * trace.h - reading gjbmem traces (format.h, docs/TRACES.md) for the
 * `gjbmem` tool: a whole file checked and turned into an array of events,
 * and the finishing step `gjbmem record` applies to the files a recording
 * left behind.
 */
#ifndef GJBT_TRACE_H
#define GJBT_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format.h"

struct gjbt_header {
    unsigned version, ptr_size, origin;
    uint64_t session, pid, ppid, page_size;
    char command[256]; /* NUL-terminated */
};

/* One call of the malloc family (or an INHERIT record), normalised. */
struct gjbt_event {
    uint64_t size;     /* bytes asked for: n * size for calloc and reallocarray,
                          whole pages for pvalloc */
    uint32_t id;       /* the block the call made, 0: none (it returned NULL) */
    uint32_t old;      /* the block it named (realloc, free, usable size), 0: NULL */
    uint32_t thread;   /* the recording's thread number, 1 = the first */
    uint8_t op;        /* enum gjbt_op */
    uint8_t flags;     /* GJBT_FOREIGN, GJBT_EV_OVERFLOW */
    uint8_t align_log; /* log2 of the alignment asked for (0: the default) */
};

/* n * size overflowed (calloc, reallocarray): the call cannot succeed. */
#define GJBT_EV_OVERFLOW 0x01u

struct gjbt_trace {
    struct gjbt_header hdr;
    struct gjbt_event *ev; /* INHERIT events first, then the calls */
    size_t nev;            /* all of them */
    size_t inherited;      /* INHERIT events */
    size_t calls;          /* events of the malloc family (nev - inherited) */
    size_t threads;        /* highest thread number */
    uint32_t max_id;       /* highest object id */
    size_t ops[GJBT_PAD + 1]; /* events per opcode */
    size_t refused;        /* calls that returned NULL in the recording */
    size_t foreign;        /* calls naming a pointer the recorder did not know */
    uint64_t peak_live;    /* most requested bytes live at once */
    size_t peak_index;     /* first event after which peak_live was live */
    size_t peak_blocks;    /* blocks live then */
};

/* Reads and checks the trace in file path into *t. Returns 0, or -1 with a
 * message (what is wrong and at which byte) in err. Never crashes on any
 * input. */
int gjbt_load(const char *path, struct gjbt_trace *t, char *err, size_t errlen);

/* The same, for a trace held in memory (the fuzzer's entry point). */
int gjbt_parse(const unsigned char *buf, size_t len, struct gjbt_trace *t, char *err,
               size_t errlen);

void gjbt_release(struct gjbt_trace *t);

/* Alignment of event e in bytes (a power of two; 0 for the default). */
static inline uint64_t gjbt_align(const struct gjbt_event *e)
{
    return e->align_log ? (uint64_t)1 << e->align_log : 0;
}

/* True for the opcodes that allocate a new block (realloc aside). */
bool gjbt_is_alloc(unsigned op);

/* The call's name as a program writes it ("malloc", "free", ...). */
const char *gjbt_op_name(unsigned op);

/* What gjbt_finish found and did. */
struct gjbt_finish_info {
    struct gjbt_header hdr;
    uint64_t events, inherited, bytes;
    bool was_finished; /* it had its END record already */
};

/* Finishes a trace a recording process left behind: cuts it after its last
 * whole record and appends the END record (events, checksum). A file that
 * has one already is left alone. Returns 0, or -1 with a message in err. */
int gjbt_finish(const char *path, struct gjbt_finish_info *info, char *err, size_t errlen);

#endif
