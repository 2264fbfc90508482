/*
 * svg.c - the pictures (svg.h).
 *
 * The heap map: the bytes from the partition's start to its peak
 * footprint, in ROWS_MAX rows of CELLS cells at most; each cell covers the
 * same power-of-two number of bytes (so a 1 GiB heap draws as well as an
 * 8 KiB one) and is coloured by the mix of what its bytes are: allocated
 * payload, free, or metadata (block headers and the heap's own structures,
 * i.e. every byte in no block). Neighbouring cells of the same colour are
 * drawn as one rectangle.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define WIDTH 960
#define LEFT 90                  /* room for row labels */
#define CELLS 256                /* cells per row */
#define CELL_W 3
#define ROWS_MAX 64
#define ROW_H 7
#define CHART_H 150
#define STRIP_H 60
#define SHADES 8                 /* steps of a mixed cell's colour */

static const unsigned rgb_alloc = 0x3b6fb6, rgb_free = 0xe4e4e4, rgb_meta = 0xe07b39;
static const char *const col_live = "#3b6fb6", *const col_blocks = "#2e9e5b",
                         *const col_extent = "#e07b39", *const col_frag = "#b03060";

/* "12.3 MiB" */
static const char *human(uint64_t v, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
    return buf;
}

static void text_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* --- the heap map -------------------------------------------------------- */

struct cell {
    uint64_t alloc, free_; /* bytes; the rest of the cell is metadata */
};

static void add_span(struct cell *c, size_t ncells, unsigned shift, uint64_t lo, uint64_t hi,
                     bool used)
{
    uint64_t span = (uint64_t)ncells << shift;
    if (hi > span)
        hi = span;
    while (lo < hi) {
        size_t i = (size_t)(lo >> shift);
        uint64_t end = ((uint64_t)i + 1) << shift, k = (hi < end ? hi : end) - lo;
        if (used)
            c[i].alloc += k;
        else
            c[i].free_ += k;
        lo += k;
    }
}

static unsigned mix(const struct cell *c, unsigned shift)
{
    double size = (double)((uint64_t)1 << shift);
    double fa = (double)c->alloc / size, ff = (double)c->free_ / size;
    /* quantised, so that like cells merge into one rectangle */
    fa = (double)(int)(fa * SHADES + 0.5) / SHADES;
    ff = (double)(int)(ff * SHADES + 0.5) / SHADES;
    if (fa + ff > 1)
        ff = 1 - fa;
    double fm = 1 - fa - ff;
    unsigned out = 0;
    for (int sh = 16; sh >= 0; sh -= 8) {
        double v = fa * ((rgb_alloc >> sh) & 255) + ff * ((rgb_free >> sh) & 255) +
                   fm * ((rgb_meta >> sh) & 255);
        out |= (unsigned)(v + 0.5) << sh;
    }
    return out;
}

/* Draws the map at y; returns its height. */
static int draw_map(FILE *f, const struct svg_panel *p, int y)
{
    uint64_t extent = p->r->footprint ? p->r->footprint : 1;
    unsigned shift = 4;
    while ((((uint64_t)CELLS * ROWS_MAX) << shift) < extent)
        shift++;
    size_t rows = (size_t)((extent + ((uint64_t)CELLS << shift) - 1) / ((uint64_t)CELLS << shift));
    size_t ncells = rows * CELLS;
    struct cell *c = calloc(ncells, sizeof *c);
    if (!c)
        return 0;
    for (size_t i = 0; i < p->nmap; i++) {
        const struct mpart_block *b = &p->map[i];
        uint64_t lo = (uint64_t)((uintptr_t)b->start - p->base);
        add_span(c, ncells, shift, lo + b->header, lo + b->size, b->used);
    }
    char h1[32], h2[32], h3[32];
    fprintf(f, "<text x='%d' y='%d' font-size='11'>heap at its peak footprint (after event %zu): "
            "%s, one cell = %s, one row = %s</text>\n", LEFT, y + 11, p->r->footprint_index,
            human(p->r->footprint, h1, sizeof h1), human((uint64_t)1 << shift, h2, sizeof h2),
            human((uint64_t)CELLS << shift, h3, sizeof h3));
    y += 18;
    for (size_t row = 0; row < rows; row++) {
        int ry = y + (int)row * ROW_H;
        if (row % 8 == 0 || row + 1 == rows)
            fprintf(f, "<text x='%d' y='%d' font-size='8' text-anchor='end'>%s</text>\n",
                    LEFT - 4, ry + ROW_H - 1,
                    human((uint64_t)row * ((uint64_t)CELLS << shift), h1, sizeof h1));
        for (size_t col = 0; col < CELLS;) {
            size_t i = row * CELLS + col, run = 1;
            uint64_t start = (uint64_t)i << shift;
            if (start >= extent)
                break;
            unsigned rgb = mix(&c[i], shift);
            while (col + run < CELLS && ((uint64_t)(i + run) << shift) < extent &&
                   mix(&c[i + run], shift) == rgb)
                run++;
            fprintf(f, "<rect x='%zu' y='%d' width='%zu' height='%d' fill='#%06x'/>\n",
                    LEFT + col * CELL_W, ry, run * CELL_W, ROW_H - 1, rgb);
            col += run;
        }
    }
    free(c);
    int ly = y + (int)rows * ROW_H + 12;
    const struct {
        unsigned rgb;
        const char *name;
    } legend[] = {{rgb_alloc, "allocated"}, {rgb_free, "free"},
                  {rgb_meta, "metadata (headers, heap structures)"}};
    for (int i = 0; i < 3; i++) {
        int lx = LEFT + i * 140;
        fprintf(f, "<rect x='%d' y='%d' width='10' height='10' fill='#%06x'/>"
                "<text x='%d' y='%d' font-size='10'>%s</text>\n",
                lx, ly - 9, legend[i].rgb, lx + 14, ly, legend[i].name);
    }
    return (int)rows * ROW_H + 18 + 20;
}

/* --- over time ----------------------------------------------------------- */

static void polyline(FILE *f, const struct svg_panel *p, const struct gjbt_trace *t, int y,
                     int h, double ymax, int which, const char *colour)
{
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.2' points='", colour);
    for (size_t i = 0; i < p->nsamples; i++) {
        const struct rp_sample *s = &p->samples[i];
        double v;
        switch (which) {
        case 0: v = (double)s->live; break;
        case 1: v = (double)s->blocks; break;
        case 2: v = (double)s->extent; break;
        default: v = s->extent ? 100.0 * (double)(s->extent - (s->extent > s->blocks ? s->blocks
                                                                                     : s->extent)) /
                                     (double)s->extent
                               : 0;
        }
        double x = LEFT + (double)(WIDTH - LEFT - 20) * (double)(s->event + 1) /
                              (double)(t->nev ? t->nev : 1);
        fprintf(f, "%.1f,%.1f ", x, y + h - (ymax > 0 ? v / ymax : 0) * h);
    }
    fprintf(f, "'/>\n");
}

static void axes(FILE *f, int y, int h, const char *top, const char *label)
{
    int w = WIDTH - LEFT - 20;
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#999'/>\n", LEFT,
            y, w, h);
    fprintf(f, "<text x='%d' y='%d' font-size='9' text-anchor='end'>%s</text>\n", LEFT - 4,
            y + 9, top);
    fprintf(f, "<text x='%d' y='%d' font-size='9' text-anchor='end'>0</text>\n", LEFT - 4, y + h);
    fprintf(f, "<text x='%d' y='%d' font-size='10'>%s</text>\n", LEFT, y - 4, label);
}

/* Draws the charts over time at y; returns their height. */
static int draw_time(FILE *f, const struct svg_panel *p, const struct gjbt_trace *t, int y)
{
    if (!p->nsamples)
        return 0;
    double ymax = 1;
    for (size_t i = 0; i < p->nsamples; i++) {
        const struct rp_sample *s = &p->samples[i];
        if ((double)s->extent > ymax)
            ymax = (double)s->extent;
        if ((double)s->blocks > ymax)
            ymax = (double)s->blocks;
    }
    char h1[32];
    y += 14;
    axes(f, y, CHART_H, human((uint64_t)ymax, h1, sizeof h1),
         "over the events: live bytes (blue), block bytes (green), extent: start to highest "
         "live block (orange)");
    polyline(f, p, t, y, CHART_H, ymax, 2, col_extent);
    polyline(f, p, t, y, CHART_H, ymax, 1, col_blocks);
    polyline(f, p, t, y, CHART_H, ymax, 0, col_live);
    int y2 = y + CHART_H + 24;
    axes(f, y2, STRIP_H, "100%",
         "fragmentation: share of the extent not in live blocks (metadata included)");
    polyline(f, p, t, y2, STRIP_H, 100, 3, col_frag);
    fprintf(f, "<text x='%d' y='%d' font-size='9'>event 0</text>"
            "<text x='%d' y='%d' font-size='9' text-anchor='end'>event %zu</text>\n",
            LEFT, y2 + STRIP_H + 11, WIDTH - 20, y2 + STRIP_H + 11, t->nev);
    return 14 + CHART_H + 24 + STRIP_H + 20;
}

/* Height of a panel, for the document's size: drawn once into /dev/null. */
static int panel(FILE *f, const struct svg_panel *p, const struct gjbt_trace *t, int y)
{
    char h1[32], h2[32];
    int y0 = y;
    fprintf(f, "<text x='10' y='%d' font-size='14' font-weight='bold'>", y + 14);
    text_escaped(f, p->r->name); /* a plugin's file name */
    fprintf(f, "</text>");
    if (p->r->target == RP_GLIBC)
        fprintf(f, "<text x='%d' y='%d' font-size='11'>glibc malloc (reference): footprint %s"
                "</text>\n", LEFT, y + 14, human(p->r->footprint, h1, sizeof h1));
    else
        fprintf(f, "<text x='%d' y='%d' font-size='11'>%s of %s: footprint %s, %" PRIu64
                " failed allocations</text>\n", LEFT, y + 14,
                p->r->target == RP_PLUGIN ? "allocator plugin, pool" : "partition",
                human(p->r->size, h1, sizeof h1), human(p->r->footprint, h2, sizeof h2),
                p->r->failed);
    y += 24;
    if (p->map)
        y += draw_map(f, p, y);
    y += draw_time(f, p, t, y);
    return y - y0 + 16;
}

int svg_write(const char *path, const char *trace_path, const struct gjbt_trace *t,
              const struct svg_panel *p, int n, char *err, size_t errlen)
{
    FILE *null = fopen("/dev/null", "w");
    int height = 40;
    for (int i = 0; null && i < n; i++)
        height += panel(null, &p[i], t, 0);
    if (null)
        fclose(null);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return -1;
    }
    fprintf(f, "<?xml version='1.0' encoding='UTF-8'?>\n"
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "viewBox='0 0 %d %d' font-family='sans-serif'>\n"
            "<rect width='100%%' height='100%%' fill='white'/>\n", WIDTH, height, WIDTH, height);
    fprintf(f, "<text x='10' y='20' font-size='15'>gjbmem replay of ");
    text_escaped(f, trace_path);
    fprintf(f, " (");
    text_escaped(f, t->hdr.command);
    fprintf(f, ")</text>\n");
    int y = 36;
    for (int i = 0; i < n; i++)
        y += panel(f, &p[i], t, y);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}
