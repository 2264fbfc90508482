/*
 * main.c - `gjbmem`, the command-line tool: record a program's allocations,
 * replay them on both policies, size a partition, draw the heap, show a
 * partition in shared memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gjbmem/version.h>

#include "cli.h"

static const char usage[] =
    "GJBMEM(1)\n"
    "\n"
    "NAME\n"
    "    gjbmem - which allocation policy, and how much memory, a program needs\n"
    "\n"
    "SYNOPSIS\n"
    "    gjbmem record -o FILE [--json] [--] PROGRAM [ARGS...]\n"
    "    gjbmem replay FILE [--policy first-fit|buddy|glibc|all|none] [--size BYTES]\n"
    "                       [--allocator PATH.so]... [--svg OUT] [--json] [--quiet]\n"
    "    gjbmem size FILE [--policy first-fit|buddy|all|none] [--allocator PATH.so]...\n"
    "                     [--precision BYTES] [--json]\n"
    "    gjbmem show --shm NAME [--svg OUT]\n"
    "    gjbmem COMMAND --help\n"
    "    gjbmem --version\n"
    "\n"
    "DESCRIPTION\n"
    "    record runs an unmodified program and writes every call it makes to the\n"
    "    malloc family into a trace (docs/TRACES.md). replay makes the same calls\n"
    "    again on gjbmem partitions of each policy and on glibc's malloc, and prints\n"
    "    the memory each needed and the time each call took. size finds the\n"
    "    smallest partition of each policy in which the whole trace runs without\n"
    "    one failed allocation. Both also take other allocators, built as plugins\n"
    "    (--allocator, tools/cli/gjbmem_plugin.h). show prints the statistics of a\n"
    "    partition in a named shared-memory object, read-only (docs/SHARED.md).\n"
    "\n"
    "EXIT STATUS\n"
    "    record: the program's own. replay, size: 0 when every allocation\n"
    "    succeeded (size: a size was found), 1 when one failed, 2 on errors\n"
    "    (bad arguments, an unreadable or damaged trace).\n";

_Noreturn void cli_help(const char *text)
{
    fputs(text, stdout);
    exit(EXIT_OK);
}

_Noreturn void cli_die(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gjbmem%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(EXIT_USAGE);
}

bool cli_bytes(const char *s, size_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    }
    if (end == s || *end || v > (SIZE_MAX >> shift))
        return false;
    *out = (size_t)v << shift;
    return true;
}

bool cli_policies(const char *s, bool want[RP_TARGETS])
{
    for (int i = 0; i < RP_TARGETS; i++)
        want[i] = false;
    if (strcmp(s, "none") == 0)
        return true;
    if (strcmp(s, "all") == 0) {
        for (int i = 0; i < RP_TARGETS; i++)
            want[i] = true;
        return true;
    }
    for (int i = 0; i < RP_TARGETS; i++)
        if (strcmp(s, rp_target_name[i]) == 0) {
            want[i] = true;
            return true;
        }
    return false;
}

void cli_allocator(const char *cmd, const char *path, struct rp_plugin *pl)
{
    char err[512];
    if (rp_plugin_load(path, pl, err, sizeof err) != 0)
        cli_die(cmd, "--allocator %s: %s", path, err);
}

void cli_load(const char *cmd, const char *path, struct gjbt_trace *t)
{
    char err[256];
    if (gjbt_load(path, t, err, sizeof err) != 0)
        cli_die(cmd, "%s: %s", path, err);
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 32)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        cli_die(NULL, "a command is needed: record, replay, size or show (gjbmem --help)");
    const char *c = argv[1];
    if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0 || strcmp(c, "help") == 0)
        cli_help(usage);
    if (strcmp(c, "--version") == 0) {
        printf("gjbmem %s\n", gjbmem_version());
        return EXIT_OK;
    }
    if (strcmp(c, "record") == 0)
        return cmd_record(argc - 1, argv + 1);
    if (strcmp(c, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(c, "size") == 0)
        return cmd_size(argc - 1, argv + 1);
    if (strcmp(c, "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    cli_die(NULL, "unknown command '%s': record, replay, size or show (gjbmem --help)", c);
}
