/*
 * fuzz_trace.c - libFuzzer target for the trace reader (tools/trace/,
 * docs/TRACES.md). Each input is read twice:
 *
 * 1. As it is: arbitrary bytes go to gjbt_parse, which must refuse them
 *    with a message or accept them, never crash, read out of bounds or
 *    leak.
 * 2. Finished, as `gjbmem record` finishes what a recording process left
 *    behind: the bytes are written to a memory file, gjbt_finish cuts them
 *    after their last whole record and appends the END record (its counts
 *    and checksum), and gjbt_load reads the file. Mutated inputs seldom
 *    carry a valid checksum, so this is how the fuzzer reaches the
 *    reader's second pass (ids, sizes, live bytes). A file gjbt_finish has
 *    just finished passes the first pass: it may be refused only for what
 *    its records mean (ids, sizes, inherited blocks out of place).
 *
 * An accepted trace is checked for what the reader promises about it
 * (abort() with a message when it does not hold): the events are the calls
 * and the inherited blocks, INHERIT events come first, every id lies
 * within max_id, the counts per opcode add up, the live bytes never go
 * above peak_live, which is first reached after event peak_index.
 *
 * Seeds (tests/fuzz/corpus/fuzz_trace/): traces `gjbmem record` wrote of
 * the programs of tests/tool/ (prog_calls 0 and 2, prog_fork's parent and
 * child, prog_exec ./prog_calls 0 before and after the exec, prog_ending
 * kill, prog_threads 2 6; run from their directory, so that the command
 * line holds no path), and damaged copies of calls-2 (cut in half, a
 * changed checksum byte, version 2, data after END, no END and zeros after
 * an unfinished record).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_trace: check failed: %s\n", what);
        abort();
    }
}

/* Replays the accepted trace's bookkeeping: live bytes per id. */
static void check_trace(const struct gjbt_trace *t)
{
    check(t->nev == t->calls + t->inherited, "nev == calls + inherited");
    check(t->nev == 0 || t->ev != NULL, "events present");
    size_t per_op = 0;
    for (unsigned op = 0; op <= GJBT_PAD; op++)
        per_op += t->ops[op];
    check(per_op == t->nev, "the counts per opcode add up to nev");
    check(t->ops[GJBT_INHERIT] == t->inherited, "INHERIT count");
    check(t->refused + t->foreign <= 2 * t->calls, "refused, foreign within the calls");
    check(t->hdr.origin <= GJBT_ORIGIN_EXEC, "origin");
    check(t->inherited == 0 || t->hdr.origin == GJBT_ORIGIN_FORK, "inherited only in fork children");
    check(strlen(t->hdr.command) < sizeof t->hdr.command, "command terminated");
    check(t->max_id <= t->nev, "ids below the number of events");
    uint64_t *live = calloc((size_t)t->max_id + 1, sizeof *live);
    unsigned char *on = calloc((size_t)t->max_id + 1, 1);
    check(live && on, "memory for the check");
    uint64_t total = 0, peak = 0;
    size_t blocks = 0;
    for (size_t i = 0; i < t->nev; i++) {
        const struct gjbt_event *e = &t->ev[i];
        check(e->op >= GJBT_MALLOC && e->op <= GJBT_INHERIT && e->op != GJBT_THREAD,
              "event opcode");
        check((e->op == GJBT_INHERIT) == (i < t->inherited), "INHERIT events first");
        check(e->id <= t->max_id && e->old <= t->max_id, "ids within max_id");
        check(e->thread >= 1 && (e->thread <= t->threads || (t->threads == 0 && e->thread == 1)),
              "thread numbers within threads");
        check(e->align_log <= 63, "alignment");
        if (e->old && (e->op == GJBT_FREE || e->id ||
                       ((e->op == GJBT_REALLOC || e->op == GJBT_REALLOCARRAY) && e->size == 0 &&
                        !(e->flags & GJBT_EV_OVERFLOW)))) {
            check(on[e->old], "a freed or resized block was live");
            if (e->op != GJBT_USABLE_SIZE) {
                on[e->old] = 0;
                total -= live[e->old];
                blocks--;
            }
        } else if (e->old) {
            check(on[e->old], "a named block is live");
        }
        if (e->id) {
            check(!on[e->id], "a new block takes a free id");
            check(!(e->flags & GJBT_EV_OVERFLOW), "no block from an overflowing size");
            on[e->id] = 1;
            live[e->id] = e->size;
            total += e->size;
            blocks++;
        }
        check(total <= t->peak_live, "live bytes within peak_live");
        if (total > peak) {
            peak = total;
            if (peak == t->peak_live) /* first reached here */
                check(i == t->peak_index && blocks == t->peak_blocks, "peak at peak_index");
        }
    }
    check(peak == t->peak_live, "peak_live is the peak");
    free(live);
    free(on);
}

/* 1: the input as it is. */
static void parse_as_is(const uint8_t *data, size_t size)
{
    struct gjbt_trace t;
    char err[256];
    err[0] = 0;
    int rc = gjbt_parse(data, size, &t, err, sizeof err);
    if (rc == 0) {
        check_trace(&t);
    } else {
        check(rc == -1, "gjbt_parse returns 0 or -1");
        check(err[0] != 0 && strlen(err) < sizeof err, "a message for a refused trace");
        check(t.ev == NULL, "no events kept after a refusal");
    }
    gjbt_release(&t);
    check(t.ev == NULL, "release");
}

/* What a finished file may still be refused for: its records' meaning. */
static bool meaning(const char *err)
{
    static const char *const why[] = {"which is not live", "which is live already",
                                      "which is out of range", "cannot have succeeded",
                                      "an inherited block"};
    for (size_t i = 0; i < sizeof why / sizeof *why; i++)
        if (strstr(err, why[i]))
            return true;
    return false;
}

/* 2: the input finished by gjbt_finish, then loaded. */
static void finish_and_load(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz_trace", MFD_CLOEXEC);
        check(fd >= 0, "memfd_create");
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    check(ftruncate(fd, 0) == 0, "ftruncate");
    check(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite");
    struct gjbt_finish_info in;
    char err[256];
    err[0] = 0;
    if (gjbt_finish(path, &in, err, sizeof err) != 0) {
        check(err[0] != 0, "a message when a file cannot be finished");
        return;
    }
    check(in.bytes <= size + 1 + 2 * GJBT_VARINT_MAX + 4, "finished length");
    check(lseek(fd, 0, SEEK_END) == (off_t)(in.was_finished ? (off_t)size : (off_t)in.bytes),
          "the file ends where gjbt_finish says");
    struct gjbt_trace t;
    int rc = gjbt_load(path, &t, err, sizeof err);
    if (rc == 0) {
        check_trace(&t);
        if (!in.was_finished)
            check(t.calls == in.events && t.inherited == in.inherited,
                  "the reader counts what gjbt_finish counted");
    } else if (!in.was_finished && !meaning(err)) {
        fprintf(stderr, "fuzz_trace: a file gjbt_finish finished is refused: %s\n", err);
        abort();
    }
    gjbt_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_as_is(data, size);
    finish_and_load(data, size);
    return 0;
}
