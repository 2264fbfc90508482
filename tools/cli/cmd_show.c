/*
 * cmd_show.c - `gjbmem show --shm NAME [--svg OUT]`: the statistics of a
 * partition in a named shared-memory object, looked at from outside and
 * read-only (mpart_peek_shared: a checked copy), in the layout of
 * mem_show; with --svg, its heap map (one bar per stretch of memory,
 * allocated and free blocks and metadata).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gjbext.h>

#include "cli.h"

static const char usage[] =
    "GJBMEM-SHOW(1)\n"
    "\n"
    "NAME\n"
    "    gjbmem show - a partition in shared memory, seen from outside\n"
    "\n"
    "SYNOPSIS\n"
    "    gjbmem show --shm NAME [--svg OUT]\n"
    "\n"
    "DESCRIPTION\n"
    "    Opens the named shared-memory object NAME (as mpart_create_shared made\n"
    "    it) read-only, copies and checks it, and prints its statistics in the\n"
    "    layout of mem_show (heap show >>: total, used, max used, segments,\n"
    "    used%), then its blocks and free bytes. Nothing is written to the\n"
    "    object; the processes using it are not stopped (a copy torn by a\n"
    "    writer is taken again). --svg OUT also draws its heap map.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 when shown; 2 on errors (no such object, not a partition, damaged).\n";

/* Writes the heap map: the blocks in address order, each a bar as long as
 * its share of the memory, wrapped over rows. */
static int write_svg(const char *path, const char *name, const struct mpart_block *b, size_t n,
                     const struct gjbmem_heap_stats *st)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const double width = 1000.0, row_h = 24.0;
    const int rows = 16;
    double per_row = (double)st->total / rows, scale = width / per_row;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\">\n",
            width + 20, rows * (row_h + 4) + 50);
    fprintf(f, "<text x=\"10\" y=\"20\" font-family=\"sans-serif\" font-size=\"14\">");
    fprintf(f, "%s: %zu bytes, %zu allocated blocks, %zu free blocks (green: allocated, "
               "grey: free, white: metadata)</text>\n",
            name, st->total, st->alloc_blocks, st->free_blocks);
    const char *base = n ? (const char *)b[0].start : NULL;
    for (size_t i = 0; i < n; i++) {
        double x = (double)((const char *)b[i].start - base), len = (double)b[i].size;
        while (len > 0) { /* a block may span rows */
            int r = (int)(x / per_row);
            double in = x - r * per_row, part = len < per_row - in ? len : per_row - in;
            if (r >= rows)
                break;
            fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.0f\" "
                       "fill=\"%s\" stroke=\"#333\" stroke-width=\"0.2\"/>\n",
                    10 + in * scale, 40 + r * (row_h + 4), part * scale, row_h,
                    b[i].used ? "#4a4" : "#ccc");
            x += part, len -= part;
        }
    }
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

/* The row of mem_show for the partition. */
static void print_row(const char *name, const struct gjbmem_heap_stats *st)
{
    printf("heap show >>\n\n");
    printf("     HEAP         TOTAL      USED     MAX USED  SEGMENT USED%%\n");
    printf("-------------- ---------- ---------- ---------- ------- -----\n");
    printf("%-14.14s %8zuKB %8zuKB %8zuKB %7ld %3zu%%\n", name, st->total / 1024,
           st->used / 1024, st->maxused / 1024, (long)st->segments,
           st->total / 100 ? st->used / (st->total / 100) : 0);
    printf("\nblocks: %zu allocated, %zu free; free bytes %zu, largest free %zu; "
           "peak request %zu, failed allocations %zu\n",
           st->alloc_blocks, st->free_blocks, st->free, st->largest_free, st->peak_request,
           st->failed);
}

int cmd_show(int argc, char **argv)
{
    const char *shm = NULL, *svg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            cli_help(usage);
        else if (strcmp(argv[i], "--shm") == 0 && i + 1 < argc)
            shm = argv[++i];
        else if (strcmp(argv[i], "--svg") == 0 && i + 1 < argc)
            svg = argv[++i];
        else
            cli_die("show", "unknown argument '%s' (gjbmem show --help)", argv[i]);
    }
    if (!shm)
        cli_die("show", "--shm NAME is needed (gjbmem show --help)");
    size_t size = 0, count = 0;
    struct gjbmem_heap_stats st;
    if (mpart_peek_shared(shm, NULL, 0, &size, &st, NULL, 0, &count) != 0 && errno != ERANGE)
        cli_die("show", "%s: %s", shm, gjbmem_strerror(errno));
    void *buf = malloc(size);
    if (!buf)
        cli_die("show", "out of memory");
    struct mpart_block *blocks = NULL;
    for (size_t cap = 1024;; cap = count) { /* until the list holds every block */
        free(blocks);
        blocks = malloc(cap * sizeof *blocks);
        if (!blocks)
            cli_die("show", "out of memory");
        if (mpart_peek_shared(shm, buf, size, &size, &st, blocks, cap, &count) != 0)
            cli_die("show", "%s: %s", shm, gjbmem_strerror(errno));
        if (count <= cap)
            break;
    }
    print_row(shm, &st);
    if (svg && write_svg(svg, shm, blocks, count, &st) != 0)
        cli_die("show", "cannot write %s", svg);
    free(blocks);
    free(buf);
    return EXIT_OK;
}
