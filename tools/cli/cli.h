/*
 * cli.h - what the `gjbmem` subcommands share: errors, numbers with
 * suffixes, the policy list, loading a trace, JSON strings.
 */
#ifndef GJBMEM_TOOL_CLI_H
#define GJBMEM_TOOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../trace/trace.h"
#include "replay.h"

/* Exit statuses of every subcommand (record: the program's own). */
#define EXIT_OK 0
#define EXIT_FAILED 1 /* replay/size: an allocation failed, or no size found */
#define EXIT_USAGE 2  /* bad arguments, unreadable or damaged trace, other errors */

/* Prints "gjbmem <cmd>: <message>" on stderr and exits with EXIT_USAGE. */
_Noreturn void cli_die(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Bytes from "123", "64K", "16M", "2G" (powers of 1024); false if bad. */
bool cli_bytes(const char *s, size_t *out);

/* Targets from "first-fit", "buddy", "glibc", "all" (first-fit, buddy
 * and glibc) or "none" (only the --allocator plugins): sets want[RP_*];
 * false if unknown. */
bool cli_policies(const char *s, bool want[RP_TARGETS]);

/* Loads the allocator plugin at path (--allocator) into *pl, or dies with
 * exit status 2 saying why. */
void cli_allocator(const char *cmd, const char *path, struct rp_plugin *pl);

/* Loads the trace at path or dies with the reader's message. */
void cli_load(const char *cmd, const char *path, struct gjbt_trace *t);

/* Writes s as a JSON string (quotes and escapes). */
void cli_json_string(FILE *f, const char *s);

/* Prints help text (a man-style page) and exits 0. */
_Noreturn void cli_help(const char *text);

/* The subcommands. */
int cmd_record(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_size(int argc, char **argv);
int cmd_show(int argc, char **argv);

#endif
