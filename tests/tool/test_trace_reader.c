/*
 * test_trace_reader.c - the trace reader (tools/trace/: gjbt_parse,
 * gjbt_load, gjbt_finish) on traces built in memory with the format's own
 * helpers (format.h): valid ones, whose parsed figures (events, calls per
 * opcode, ids, sizes, alignments, threads, peak live bytes and where it
 * was reached, calls refused when recorded, foreign pointers, inherited
 * blocks) are checked against what the records say; and damaged ones,
 * each refused with the message that names the damage: every truncation
 * and every single-byte change of a valid trace, bad headers, bad records,
 * ids that make no sense. Runs under valgrind in scripts/memcheck.sh.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "format.h"
#include "trace.h"

/* --- building traces ---------------------------------------------------- */

struct tb {
    unsigned char b[16384];
    size_t n;
    uint64_t calls, inherited; /* what END must count */
};

static void tb_byte(struct tb *t, unsigned char c)
{
    assert_true(t->n < sizeof t->b);
    t->b[t->n++] = c;
}

static void tb_varint(struct tb *t, uint64_t v)
{
    assert_true(t->n + GJBT_VARINT_MAX <= sizeof t->b);
    t->n += gjbt_put_varint(t->b + t->n, v);
}

/* The header: pointer size 8, session 77, pid 1234, ppid 1, page size. */
static void tb_header(struct tb *t, unsigned origin, uint64_t page, const char *cmd)
{
    memset(t, 0, sizeof *t);
    memcpy(t->b, GJBT_MAGIC, GJBT_MAGIC_LEN);
    t->n = GJBT_MAGIC_LEN;
    tb_byte(t, GJBT_VERSION);
    tb_varint(t, 8);
    tb_varint(t, 77);
    tb_varint(t, 1234);
    tb_varint(t, 1);
    tb_varint(t, origin);
    tb_varint(t, page);
    tb_varint(t, strlen(cmd));
    memcpy(t->b + t->n, cmd, strlen(cmd));
    t->n += strlen(cmd);
}

/* One record: opcode byte c (flags included), then nf varint fields. */
static void tb_rec(struct tb *t, unsigned c, const uint64_t *f, size_t nf)
{
    tb_byte(t, (unsigned char)c);
    for (size_t i = 0; i < nf; i++)
        tb_varint(t, f[i]);
    unsigned op = c & GJBT_OP_MASK;
    t->calls += op >= GJBT_MALLOC && op <= GJBT_USABLE_SIZE;
    t->inherited += op == GJBT_INHERIT;
}

#define REC(t, c, ...)                                                                   \
    tb_rec((t), (c), (const uint64_t[]){__VA_ARGS__},                                  \
           sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))
/* A record without fields (ISO C: no empty __VA_ARGS__, no empty array). */
#define REC0(t, c) tb_rec((t), (c), NULL, 0)

/* END with the given counts and the checksum of everything before it. */
static void tb_end_counts(struct tb *t, uint64_t calls, uint64_t inherited)
{
    uint32_t sum = gjbt_fnv(GJBT_FNV_INIT, t->b, t->n);
    tb_byte(t, GJBT_END);
    tb_varint(t, calls);
    tb_varint(t, inherited);
    for (int i = 0; i < 4; i++)
        tb_byte(t, (unsigned char)(sum >> (8 * i)));
}

static void tb_end(struct tb *t)
{
    tb_end_counts(t, t->calls, t->inherited);
}

/* --- checking ----------------------------------------------------------- */

static char err[512];

static void parse_ok(const struct tb *t, struct gjbt_trace *tr)
{
    err[0] = 0;
    int rc = gjbt_parse(t->b, t->n, tr, err, sizeof err);
    if (rc != 0)
        fail_msg("a valid trace was refused: %s", err);
}

/* buf must be refused with a message containing want (NULL: any). */
static void refused_buf(const unsigned char *buf, size_t len, const char *want)
{
    struct gjbt_trace tr;
    err[0] = 0;
    int rc = gjbt_parse(buf, len, &tr, err, sizeof err);
    if (rc != -1)
        fail_msg("a damaged trace of %zu bytes was accepted (expected: %s)", len,
                 want ? want : "any refusal");
    assert_null(tr.ev);
    assert_true(strlen(err) > 0);
    if (want && !strstr(err, want))
        fail_msg("message \"%s\" does not say \"%s\"", err, want);
    gjbt_release(&tr); /* harmless after a refusal */
}

static void refused(const struct tb *t, const char *want)
{
    refused_buf(t->b, t->n, want);
}

/* A trace with one call of each kind, on two threads (the reference the
 * damage tests start from). Live bytes: 100, 200, 400 (realloc 1 to 300),
 * 450 (memalign: the peak, at event 3, 3 blocks), 350, 360, ... */
static void tb_sample(struct tb *t)
{
    tb_header(t, GJBT_ORIGIN_ROOT, 4096, "prog --flag");
    REC(t, GJBT_THREAD, 1);
    REC(t, GJBT_MALLOC, 100, 1);             /* 0 */
    REC(t, GJBT_CALLOC, 10, 10, 2);          /* 1 */
    REC(t, GJBT_REALLOC, 1, 300, 1);         /* 2 */
    REC(t, GJBT_MEMALIGN, 64, 50, 3);        /* 3: peak 450 */
    REC(t, GJBT_FREE, 2);                    /* 4 */
    REC(t, GJBT_USABLE_SIZE, 3);             /* 5 */
    REC(t, GJBT_THREAD, 2);
    REC(t, GJBT_POSIX_MEMALIGN, 4096, 10, 2); /* 6 */
    REC(t, GJBT_ALIGNED_ALLOC, 32, 64, 4);   /* 7 */
    REC(t, GJBT_VALLOC, 10, 5);              /* 8 */
    REC(t, GJBT_PVALLOC, 5000, 6);           /* 9: 8192 bytes */
    REC(t, GJBT_REALLOCARRAY, 4, 3, 7, 4);   /* 10: 21 bytes */
    REC(t, GJBT_THREAD, 1);
    for (uint64_t id = 1; id <= 6; id++)
        REC(t, GJBT_FREE, id);               /* 11..16 */
    tb_end(t);
}

/* --- valid traces -------------------------------------------------------- */

static void empty_trace_has_no_events(void **state)
{
    (void)state;
    struct tb t;
    struct gjbt_trace tr;
    tb_header(&t, GJBT_ORIGIN_EXEC, 65536, "a b\tc");
    tb_end(&t);
    parse_ok(&t, &tr);
    assert_int_equal(tr.hdr.version, 1);
    assert_int_equal(tr.hdr.ptr_size, 8);
    assert_int_equal(tr.hdr.session, 77);
    assert_int_equal(tr.hdr.pid, 1234);
    assert_int_equal(tr.hdr.ppid, 1);
    assert_int_equal(tr.hdr.origin, GJBT_ORIGIN_EXEC);
    assert_int_equal(tr.hdr.page_size, 65536);
    assert_string_equal(tr.hdr.command, "a b?c"); /* control characters shown as '?' */
    assert_int_equal(tr.nev, 0);
    assert_int_equal(tr.calls, 0);
    assert_int_equal(tr.inherited, 0);
    assert_int_equal(tr.max_id, 0);
    assert_int_equal(tr.peak_live, 0);
    assert_int_equal(tr.threads, 0);
    gjbt_release(&tr);
    assert_null(tr.ev);
}

static void every_call_is_parsed(void **state)
{
    (void)state;
    struct tb t;
    struct gjbt_trace tr;
    tb_sample(&t);
    parse_ok(&t, &tr);
    assert_string_equal(tr.hdr.command, "prog --flag");
    assert_int_equal(tr.nev, 17);
    assert_int_equal(tr.calls, 17);
    assert_int_equal(tr.inherited, 0);
    assert_int_equal(tr.threads, 2);
    assert_int_equal(tr.max_id, 6);
    assert_int_equal(tr.refused, 0);
    assert_int_equal(tr.foreign, 0);
    static const size_t per_op[GJBT_PAD + 1] = {
        [GJBT_MALLOC] = 1, [GJBT_CALLOC] = 1, [GJBT_REALLOC] = 1, [GJBT_REALLOCARRAY] = 1,
        [GJBT_MEMALIGN] = 1, [GJBT_POSIX_MEMALIGN] = 1, [GJBT_ALIGNED_ALLOC] = 1,
        [GJBT_VALLOC] = 1, [GJBT_PVALLOC] = 1, [GJBT_FREE] = 7, [GJBT_USABLE_SIZE] = 1};
    for (unsigned op = 0; op <= GJBT_PAD; op++)
        assert_int_equal(tr.ops[op], per_op[op]);
    /* Each event, normalised. */
    const struct gjbt_event *e = tr.ev;
    assert_int_equal(e[0].op, GJBT_MALLOC);
    assert_int_equal(e[0].size, 100);
    assert_int_equal(e[0].id, 1);
    assert_int_equal(e[0].old, 0);
    assert_int_equal(e[0].thread, 1);
    assert_int_equal(e[0].align_log, 0);
    assert_int_equal(e[1].size, 100); /* calloc: n * size */
    assert_int_equal(e[1].id, 2);
    assert_int_equal(e[2].op, GJBT_REALLOC);
    assert_int_equal(e[2].old, 1);
    assert_int_equal(e[2].id, 1);
    assert_int_equal(e[2].size, 300);
    assert_int_equal(e[3].align_log, 6);
    assert_int_equal(gjbt_align(&e[3]), 64);
    assert_int_equal(e[4].op, GJBT_FREE);
    assert_int_equal(e[4].old, 2);
    assert_int_equal(e[4].id, 0);
    assert_int_equal(e[5].op, GJBT_USABLE_SIZE);
    assert_int_equal(e[5].old, 3);
    assert_int_equal(e[6].thread, 2);
    assert_int_equal(e[6].align_log, 12);
    assert_int_equal(e[6].id, 2); /* id 2 again, once freed */
    assert_int_equal(e[7].align_log, 5);
    assert_int_equal(e[8].align_log, 12); /* valloc: the header's page size */
    assert_int_equal(e[8].size, 10);
    assert_int_equal(e[9].size, 8192); /* pvalloc: whole pages */
    assert_int_equal(e[9].align_log, 12);
    assert_int_equal(e[10].op, GJBT_REALLOCARRAY);
    assert_int_equal(e[10].old, 4);
    assert_int_equal(e[10].id, 4);
    assert_int_equal(e[10].size, 21);
    assert_int_equal(e[10].flags, 0);
    assert_int_equal(e[11].thread, 1);
    assert_int_equal(e[16].old, 6);
    /* Live bytes: 450 at event 3 (3 blocks), then 350 + 10 + 64 + 10 + 8192
     * = 8626 at event 9 (6 blocks); reallocarray 64 -> 21 lowers it. */
    assert_int_equal(tr.peak_live, 8626);
    assert_int_equal(tr.peak_index, 9);
    assert_int_equal(tr.peak_blocks, 6);
    gjbt_release(&tr);
    assert_null(tr.ev);
    assert_int_equal(tr.nev, 0);
}

/* Calls that failed when recorded (id 0), realloc(p, 0) freeing p, NULL
 * arguments, the peak before a failure. */
static void failed_calls_and_frees(void **state)
{
    (void)state;
    struct tb t;
    struct gjbt_trace tr;
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, 1000, 1);                     /* 0 */
    REC(&t, GJBT_MALLOC, UINT64_MAX / 2, 0);           /* 1: refused */
    REC(&t, GJBT_CALLOC, UINT64_MAX / 2, 4, 0);        /* 2: n * size overflows, refused */
    REC(&t, GJBT_REALLOCARRAY, 1, UINT64_MAX, 2, 0);   /* 3: overflows; block 1 intact */
    REC(&t, GJBT_POSIX_MEMALIGN, 3, 10, 0);            /* 4: bad alignment */
    REC(&t, GJBT_REALLOC, 0, 500, 2);                  /* 5: realloc(NULL, 500) */
    REC(&t, GJBT_REALLOC, 2, 1u << 30, 0);             /* 6: fails, block 2 intact */
    REC(&t, GJBT_REALLOC, 2, 0, 0);                    /* 7: realloc(p, 0) frees block 2 */
    REC(&t, GJBT_FREE, 0);                             /* 8: free(NULL) */
    REC(&t, GJBT_USABLE_SIZE, 0);                      /* 9: malloc_usable_size(NULL) */
    REC(&t, GJBT_PVALLOC, 0, 2);                       /* 10: one page */
    REC(&t, GJBT_PVALLOC, UINT64_MAX - 5, 0);          /* 11: rounding overflows */
    REC(&t, GJBT_MALLOC, 0, 3);                        /* 12: malloc(0) */
    REC(&t, GJBT_FREE, 1);                             /* 13 */
    REC(&t, GJBT_FREE, 2);                             /* 14 */
    REC(&t, GJBT_FREE, 3);                             /* 15 */
    tb_end(&t);
    parse_ok(&t, &tr);
    assert_int_equal(tr.nev, 16);
    assert_int_equal(tr.refused, 6); /* events 1, 2, 3, 4, 6, 11 */
    assert_int_equal(tr.max_id, 3);
    assert_true(tr.ev[2].flags & GJBT_EV_OVERFLOW);
    assert_true(tr.ev[3].flags & GJBT_EV_OVERFLOW);
    assert_true(tr.ev[11].flags & GJBT_EV_OVERFLOW);
    assert_false(tr.ev[0].flags & GJBT_EV_OVERFLOW);
    assert_int_equal(tr.ev[3].old, 1);
    assert_int_equal(tr.ev[3].id, 0);
    assert_int_equal(tr.ev[5].old, 0);
    assert_int_equal(tr.ev[7].old, 2);
    assert_int_equal(tr.ev[7].id, 0);
    assert_int_equal(tr.ev[10].size, 4096);
    /* 1000 + 500 = 1500 after event 5; block 2 freed at 7; 1000 + 4096. */
    assert_int_equal(tr.peak_live, 5096);
    assert_int_equal(tr.peak_index, 10);
    assert_int_equal(tr.peak_blocks, 2);
    gjbt_release(&tr);
}

/* Pointers the recorder did not know: their id is left out. */
static void foreign_pointers(void **state)
{
    (void)state;
    struct tb t;
    struct gjbt_trace tr;
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "");
    REC0(&t, GJBT_FREE | GJBT_FOREIGN);
    REC0(&t, GJBT_USABLE_SIZE | GJBT_FOREIGN);
    REC(&t, GJBT_REALLOC | GJBT_FOREIGN, 64, 1);        /* a new block 1 */
    REC(&t, GJBT_REALLOCARRAY | GJBT_FOREIGN, 2, 8, 2); /* a new block 2 */
    REC(&t, GJBT_FREE, 1);
    REC(&t, GJBT_FREE, 2);
    tb_end(&t);
    parse_ok(&t, &tr);
    assert_int_equal(tr.nev, 6);
    assert_int_equal(tr.foreign, 4);
    assert_int_equal(tr.max_id, 2);
    for (int i = 0; i < 4; i++) {
        assert_true(tr.ev[i].flags & GJBT_FOREIGN);
        assert_int_equal(tr.ev[i].old, 0);
    }
    assert_int_equal(tr.ev[2].id, 1);
    assert_int_equal(tr.ev[3].size, 16);
    assert_int_equal(tr.peak_live, 80);
    assert_int_equal(tr.peak_blocks, 2);
    assert_int_equal(tr.peak_index, 3);
    gjbt_release(&tr);
}

/* A fork child's trace: INHERIT records first; PAD records skipped. */
static void fork_child_inherits(void **state)
{
    (void)state;
    struct tb t;
    struct gjbt_trace tr;
    tb_header(&t, GJBT_ORIGIN_FORK, 16384, "child");
    REC(&t, GJBT_THREAD, 1);
    REC(&t, GJBT_INHERIT, 1, 100, 0);
    REC(&t, GJBT_INHERIT, 2, 4096, 4096);
    REC(&t, GJBT_INHERIT, 3, 7, 0);
    tb_byte(&t, GJBT_PAD);
    tb_byte(&t, GJBT_PAD);
    REC(&t, GJBT_FREE, 2);
    REC(&t, GJBT_MALLOC, 50, 2);
    tb_byte(&t, GJBT_PAD);
    tb_end(&t);
    parse_ok(&t, &tr);
    assert_int_equal(tr.hdr.origin, GJBT_ORIGIN_FORK);
    assert_int_equal(tr.nev, 5);
    assert_int_equal(tr.inherited, 3);
    assert_int_equal(tr.calls, 2);
    assert_int_equal(tr.ops[GJBT_INHERIT], 3);
    assert_int_equal(tr.ops[GJBT_PAD], 0);
    assert_int_equal(tr.ev[1].op, GJBT_INHERIT);
    assert_int_equal(tr.ev[1].id, 2);
    assert_int_equal(tr.ev[1].size, 4096);
    assert_int_equal(tr.ev[1].align_log, 12);
    assert_int_equal(tr.ev[3].op, GJBT_FREE);
    assert_int_equal(tr.peak_live, 4203);
    assert_int_equal(tr.peak_index, 2);
    assert_int_equal(tr.peak_blocks, 3);
    assert_int_equal(tr.max_id, 3);
    gjbt_release(&tr);
}

/* --- damaged traces ------------------------------------------------------ */

static void empty_and_foreign_files(void **state)
{
    (void)state;
    refused_buf((const unsigned char *)"", 0, "the file is empty");
    static const char text[] = "#!/bin/sh\necho not a trace\n";
    refused_buf((const unsigned char *)text, sizeof text - 1, "not a gjbmem trace");
    refused_buf((const unsigned char *)"GJBTRACX\1", 9, "not a gjbmem trace");
}

static void wrong_version(void **state)
{
    (void)state;
    struct tb t;
    for (unsigned v = 0; v < 256; v += 85) { /* 0, 85, 170, 255 */
        tb_sample(&t);
        t.b[GJBT_MAGIC_LEN] = (unsigned char)v;
        char want[64];
        snprintf(want, sizeof want, "trace format version %u", v);
        refused(&t, want);
    }
    tb_sample(&t);
    t.b[GJBT_MAGIC_LEN] = 2;
    refused(&t, "this gjbmem reads version 1");
}

static void damaged_headers(void **state)
{
    (void)state;
    struct tb t;
    struct {
        uint64_t ptr, origin, page;
        const char *cmd;
    } bad[] = {{5, 0, 4096, "x"}, {0, 0, 4096, "x"}, {8, 3, 4096, "x"}, {8, 0, 100, "x"},
               {8, 0, 3000, "x"}, {8, 0, (uint64_t)1 << 31, "x"}, {8, 0, 0, "x"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&t, 0, sizeof t);
        memcpy(t.b, GJBT_MAGIC, GJBT_MAGIC_LEN);
        t.n = GJBT_MAGIC_LEN;
        tb_byte(&t, GJBT_VERSION);
        tb_varint(&t, bad[i].ptr);
        tb_varint(&t, 1);
        tb_varint(&t, 2);
        tb_varint(&t, 3);
        tb_varint(&t, bad[i].origin);
        tb_varint(&t, bad[i].page);
        tb_varint(&t, 1);
        tb_byte(&t, 'x');
        tb_end(&t);
        refused(&t, "damaged header");
    }
    /* A command of 256 bytes or more. */
    char cmd[300];
    memset(cmd, 'c', sizeof cmd - 1);
    cmd[sizeof cmd - 1] = 0;
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, cmd);
    tb_end(&t);
    refused(&t, "command length 299");
    cmd[255] = 0; /* 255 bytes: the longest there may be */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, cmd);
    tb_end(&t);
    struct gjbt_trace tr;
    parse_ok(&t, &tr);
    assert_int_equal(strlen(tr.hdr.command), 255);
    gjbt_release(&tr);
}

/* Every prefix of a valid trace is refused: "truncated" from the end of
 * the signature on (shorter: not a trace; nothing: empty). */
static void every_truncation_is_refused(void **state)
{
    (void)state;
    struct tb t;
    tb_sample(&t);
    for (size_t len = 0; len < t.n; len++) {
        /* A copy of exactly len bytes, so that a read past it is caught
         * (valgrind, ASan). */
        unsigned char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, t.b, len);
        refused_buf(copy, len,
                    len == 0 ? "the file is empty"
                    : len < GJBT_MAGIC_LEN ? "not a gjbmem trace"
                                           : "the trace is truncated");
        free(copy);
    }
}

/* Every single-byte change of a valid trace is refused: the checksum
 * covers every byte before END, END's own bytes are checked against the
 * counts and the checksum, and nothing may follow it. */
static void every_byte_change_is_refused(void **state)
{
    (void)state;
    static const unsigned char flips[] = {0x01, 0x80, 0xff, 0x40, 0x0e};
    struct tb t;
    tb_sample(&t);
    unsigned char *copy = malloc(t.n);
    assert_non_null(copy);
    for (size_t at = 0; at < t.n; at++) {
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(copy, t.b, t.n);
            copy[at] ^= flips[k];
            refused_buf(copy, t.n, NULL);
        }
    }
    free(copy);
}

static void end_record_checked(void **state)
{
    (void)state;
    struct tb t;
    /* Counts that disagree with the records. */
    tb_sample(&t);
    size_t end_at = t.n - 7; /* END, 2 one-byte counts, 4 checksum bytes */
    assert_int_equal(t.b[end_at], GJBT_END);
    t.n = end_at;
    tb_end_counts(&t, t.calls + 1, 0);
    refused(&t, "the END record counts 18 events and 0 inherited blocks, the file holds 17 and 0");
    t.n = end_at;
    tb_end_counts(&t, t.calls, 1);
    refused(&t, "END record counts");
    /* A wrong checksum. */
    tb_sample(&t);
    t.b[t.n - 1] ^= 0x10;
    refused(&t, "checksum mismatch");
    /* Anything after END. */
    tb_sample(&t);
    tb_byte(&t, GJBT_PAD);
    refused(&t, "data after the END record");
    tb_sample(&t);
    size_t n = t.n;
    memcpy(t.b + n, t.b, n); /* the whole trace twice */
    t.n = 2 * n;
    refused(&t, "data after the END record");
    /* No END at all. */
    tb_sample(&t);
    t.n -= 7;
    refused(&t, "the trace is truncated: it ends at byte");
}

static void bad_records(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    tb_byte(&t, 0);
    tb_end(&t);
    refused(&t, "a zero byte where a record starts");
    static const unsigned char unknown[] = {16, 63, 0x80 | GJBT_MALLOC, 0xff};
    for (size_t i = 0; i < sizeof unknown; i++) {
        tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
        tb_byte(&t, unknown[i]);
        tb_end(&t);
        refused(&t, "unknown record type");
    }
    static const unsigned ptrless[] = {GJBT_MALLOC, GJBT_CALLOC, GJBT_MEMALIGN,
                                       GJBT_POSIX_MEMALIGN, GJBT_ALIGNED_ALLOC, GJBT_VALLOC,
                                       GJBT_PVALLOC, GJBT_THREAD, GJBT_INHERIT, GJBT_END,
                                       GJBT_PAD};
    for (size_t i = 0; i < sizeof ptrless / sizeof *ptrless; i++) {
        tb_header(&t, GJBT_ORIGIN_FORK, 4096, "x");
        REC(&t, ptrless[i] | GJBT_FOREIGN, 1, 1, 1);
        tb_end(&t);
        refused(&t, "a foreign pointer on a record that takes none");
    }
    /* A number of 11 bytes, and one of 10 whose last byte is too big. */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    tb_byte(&t, GJBT_MALLOC);
    for (int i = 0; i < 10; i++)
        tb_byte(&t, 0x80);
    tb_byte(&t, 0);
    tb_byte(&t, 1);
    tb_end(&t);
    refused(&t, "a number longer than 64 bits");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    tb_byte(&t, GJBT_MALLOC);
    for (int i = 0; i < 9; i++)
        tb_byte(&t, 0xff);
    tb_byte(&t, 0x02);
    tb_byte(&t, 1);
    tb_end(&t);
    refused(&t, "a number longer than 64 bits");
    /* The largest number there is reads fine (and cannot be allocated). */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, UINT64_MAX, 0);
    tb_end(&t);
    struct gjbt_trace tr;
    parse_ok(&t, &tr);
    assert_int_equal(tr.ev[0].size, UINT64_MAX);
    assert_int_equal(tr.refused, 1);
    gjbt_release(&tr);
    /* Thread numbers: 0 and beyond 32 bits are refused. */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_THREAD, 0);
    tb_end(&t);
    refused(&t, "thread number out of range");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_THREAD, (uint64_t)UINT32_MAX + 1);
    tb_end(&t);
    refused(&t, "thread number out of range");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_THREAD, UINT32_MAX);
    REC(&t, GJBT_MALLOC, 1, 1);
    tb_end(&t);
    parse_ok(&t, &tr);
    assert_int_equal(tr.threads, UINT32_MAX);
    assert_int_equal(tr.ev[0].thread, UINT32_MAX);
    gjbt_release(&tr);
}

/* Ids that make no sense, with the byte of the record named. */
static void ids_must_make_sense(void **state)
{
    (void)state;
    struct tb t;
    char want[128];
    /* free of a block never made */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, 10, 1);
    size_t at = t.n;
    REC(&t, GJBT_FREE, 2);
    tb_end(&t);
    snprintf(want, sizeof want, "byte %zu: free names block 2, which is not live", at);
    refused(&t, want);
    /* a double free */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, 10, 1);
    REC(&t, GJBT_FREE, 1);
    REC(&t, GJBT_FREE, 1);
    tb_end(&t);
    refused(&t, "free names block 1, which is not live");
    /* realloc, reallocarray and malloc_usable_size of a freed block */
    static const unsigned users[] = {GJBT_REALLOC, GJBT_REALLOCARRAY, GJBT_USABLE_SIZE};
    for (size_t i = 0; i < 3; i++) {
        tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
        REC(&t, GJBT_MALLOC, 10, 1);
        REC(&t, GJBT_FREE, 1);
        if (users[i] == GJBT_REALLOC)
            REC(&t, GJBT_REALLOC, 1, 20, 1);
        else if (users[i] == GJBT_REALLOCARRAY)
            REC(&t, GJBT_REALLOCARRAY, 1, 2, 20, 1);
        else
            REC(&t, GJBT_USABLE_SIZE, 1);
        tb_end(&t);
        snprintf(want, sizeof want, "%s names block 1, which is not live", gjbt_op_name(users[i]));
        refused(&t, want);
    }
    /* a new block taking a live id */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, 10, 1);
    REC(&t, GJBT_CALLOC, 1, 10, 1);
    tb_end(&t);
    refused(&t, "calloc makes block 1, which is live already");
    /* an id beyond what the events could have handed out */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, 10, 3);
    REC(&t, GJBT_FREE, 3);
    tb_end(&t);
    refused(&t, "malloc makes block 3, which is out of range");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, 10, UINT64_MAX);
    tb_end(&t);
    refused(&t, "out of range");
    /* successful calls that cannot have succeeded */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_CALLOC, UINT64_MAX / 2, 3, 1);
    tb_end(&t);
    refused(&t, "cannot have succeeded");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, ((uint64_t)1 << 62) + 1, 1);
    tb_end(&t);
    refused(&t, "cannot have succeeded");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MALLOC, (uint64_t)1 << 61, 1);
    REC(&t, GJBT_MALLOC, (uint64_t)1 << 61, 2);
    REC(&t, GJBT_MALLOC, 1, 3); /* live bytes beyond 2^62 */
    tb_end(&t);
    refused(&t, "malloc of 1 bytes (alignment 0) cannot have succeeded");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_MEMALIGN, (uint64_t)1 << 48, 10, 1);
    tb_end(&t);
    refused(&t, "cannot have succeeded");
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_PVALLOC, UINT64_MAX - 5, 1);
    tb_end(&t);
    refused(&t, "cannot have succeeded");
    /* the largest alignment there may be */
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_ALIGNED_ALLOC, (uint64_t)1 << 47, 10, 1);
    tb_end(&t);
    struct gjbt_trace tr;
    parse_ok(&t, &tr);
    assert_int_equal(tr.ev[0].align_log, 47);
    gjbt_release(&tr);
}

static void inherited_blocks_only_first_in_fork_children(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, GJBT_ORIGIN_ROOT, 4096, "x");
    REC(&t, GJBT_INHERIT, 1, 10, 0);
    tb_end(&t);
    refused(&t, "an inherited block in a trace that is no fork child's");
    tb_header(&t, GJBT_ORIGIN_EXEC, 4096, "x");
    REC(&t, GJBT_INHERIT, 1, 10, 0);
    tb_end(&t);
    refused(&t, "no fork child's");
    tb_header(&t, GJBT_ORIGIN_FORK, 4096, "x");
    REC(&t, GJBT_INHERIT, 1, 10, 0);
    REC(&t, GJBT_MALLOC, 10, 2);
    REC(&t, GJBT_INHERIT, 3, 10, 0);
    tb_end(&t);
    refused(&t, "an inherited block after the first call");
    tb_header(&t, GJBT_ORIGIN_FORK, 4096, "x");
    REC(&t, GJBT_INHERIT, 1, 10, 0);
    REC(&t, GJBT_INHERIT, 1, 10, 0);
    tb_end(&t);
    refused(&t, "inherit makes block 1, which is live already");
}

/* --- files: gjbt_load and gjbt_finish ------------------------------------ */

static char dir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gjbt-reader.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    char path[400];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(dir);
}

static void write_file(const char *path, const void *buf, size_t len)
{
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(f >= 0);
    assert_int_equal(write(f, buf, len), (ssize_t)len);
    assert_int_equal(close(f), 0);
}

static size_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static void load_files(void **state)
{
    (void)state;
    char path[128];
    struct gjbt_trace tr;
    struct tb t;
    tb_sample(&t);
    snprintf(path, sizeof path, "%s/ok.gjbt", dir);
    write_file(path, t.b, t.n);
    assert_int_equal(gjbt_load(path, &tr, err, sizeof err), 0);
    assert_int_equal(tr.nev, 17);
    assert_int_equal(tr.peak_live, 8626);
    gjbt_release(&tr);
    snprintf(path, sizeof path, "%s/empty.gjbt", dir);
    write_file(path, "", 0);
    assert_int_equal(gjbt_load(path, &tr, err, sizeof err), -1);
    assert_non_null(strstr(err, "the file is empty"));
    snprintf(path, sizeof path, "%s/missing.gjbt", dir);
    assert_int_equal(gjbt_load(path, &tr, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(gjbt_load(dir, &tr, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(gjbt_load("/dev/null", &tr, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    snprintf(path, sizeof path, "%s/cut.gjbt", dir);
    write_file(path, t.b, t.n - 3);
    assert_int_equal(gjbt_load(path, &tr, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));
}

/* What a recording process leaves: records, then zero bytes (the rest of
 * its window), perhaps an unfinished record (its opcode byte still zero). */
static void finish_cuts_and_ends(void **state)
{
    (void)state;
    char path[128];
    struct tb t;
    struct gjbt_finish_info in;
    struct gjbt_trace tr;
    tb_sample(&t);
    size_t whole = t.n - 7; /* without END */
    memcpy(t.b + whole, "\0\x05\x02", 3); /* an unfinished malloc(5) -> 2 */
    memset(t.b + whole + 3, 0, 4096);
    snprintf(path, sizeof path, "%s/left.gjbt", dir);
    write_file(path, t.b, whole + 3 + 4096);
    assert_int_equal(gjbt_finish(path, &in, err, sizeof err), 0);
    assert_false(in.was_finished);
    assert_int_equal(in.events, 17);
    assert_int_equal(in.inherited, 0);
    assert_int_equal(in.hdr.pid, 1234);
    assert_int_equal(in.bytes, whole + 7);
    assert_int_equal(file_size(path), whole + 7);
    assert_int_equal(gjbt_load(path, &tr, err, sizeof err), 0);
    assert_int_equal(tr.nev, 17);
    gjbt_release(&tr);
    /* Finishing again leaves the file alone. */
    assert_int_equal(gjbt_finish(path, &in, err, sizeof err), 0);
    assert_true(in.was_finished);
    assert_int_equal(in.events, 17);
    assert_int_equal(file_size(path), whole + 7);
    /* A fork child's, ending right after its records (no zeros). */
    tb_header(&t, GJBT_ORIGIN_FORK, 4096, "c");
    REC(&t, GJBT_INHERIT, 1, 10, 0);
    REC(&t, GJBT_INHERIT, 2, 10, 0);
    REC(&t, GJBT_FREE, 1);
    snprintf(path, sizeof path, "%s/child.gjbt", dir);
    write_file(path, t.b, t.n);
    assert_int_equal(gjbt_finish(path, &in, err, sizeof err), 0);
    assert_int_equal(in.events, 1);
    assert_int_equal(in.inherited, 2);
    assert_int_equal(gjbt_load(path, &tr, err, sizeof err), 0);
    assert_int_equal(tr.inherited, 2);
    assert_int_equal(tr.calls, 1);
    gjbt_release(&tr);
    /* Not a trace, or empty: refused, left alone. */
    snprintf(path, sizeof path, "%s/text", dir);
    write_file(path, "hello\n", 6);
    assert_int_equal(gjbt_finish(path, &in, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a gjbmem trace"));
    assert_int_equal(file_size(path), 6);
    snprintf(path, sizeof path, "%s/nothing", dir);
    write_file(path, "", 0);
    assert_int_equal(gjbt_finish(path, &in, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(gjbt_finish(path, &in, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

static void op_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "?", "malloc", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign",
        "aligned_alloc", "valloc", "pvalloc", "free", "malloc_usable_size", "thread",
        "inherit", "end", "pad", "?"};
    for (unsigned op = 0; op < sizeof names / sizeof *names; op++)
        assert_string_equal(gjbt_op_name(op), names[op]);
    assert_string_equal(gjbt_op_name(1000), "?");
    for (unsigned op = 0; op <= GJBT_PAD + 1; op++) {
        bool alloc = op == GJBT_MALLOC || op == GJBT_CALLOC || op == GJBT_MEMALIGN ||
                     op == GJBT_POSIX_MEMALIGN || op == GJBT_ALIGNED_ALLOC ||
                     op == GJBT_VALLOC || op == GJBT_PVALLOC;
        assert_int_equal(gjbt_is_alloc(op), alloc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_trace_has_no_events),
        cmocka_unit_test(every_call_is_parsed),
        cmocka_unit_test(failed_calls_and_frees),
        cmocka_unit_test(foreign_pointers),
        cmocka_unit_test(fork_child_inherits),
        cmocka_unit_test(empty_and_foreign_files),
        cmocka_unit_test(wrong_version),
        cmocka_unit_test(damaged_headers),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(every_byte_change_is_refused),
        cmocka_unit_test(end_record_checked),
        cmocka_unit_test(bad_records),
        cmocka_unit_test(ids_must_make_sense),
        cmocka_unit_test(inherited_blocks_only_first_in_fork_children),
        cmocka_unit_test(load_files),
        cmocka_unit_test(finish_cuts_and_ends),
        cmocka_unit_test(op_names),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
