/*
 * memshow.c - mem_show: the table of the SylixOS `free` command (its
 * RegionShow layout: sizes in KiB) for the system heap and every live
 * partition, then the summaries registered with gjb_show_register (the
 * system heap's host memory, the mapping layer's records). Every line is
 * made by textline.h and leaves through gjb_line_emit.
 */
#include "gjbext.h" /* mem_show */
#include "api_internal.h"
#include "gjbmem/sysheap.h"
#include "textline.h"

#define SUMMARIES 4

static gjb_show_fn summaries[SUMMARIES];

void gjb_show_register(gjb_show_fn fn)
{
    for (int i = 0; i < SUMMARIES; i++)
        if (!summaries[i] || summaries[i] == fn) {
            summaries[i] = fn;
            return;
        }
}

/* " %8zuKB": bytes in KiB. */
static void kib(struct gjb_line *l, size_t bytes)
{
    gjb_line_put(l, " ");
    gjb_line_uint(l, bytes / 1024, 10, 8);
    gjb_line_put(l, "KB");
}

/* One row, printf("%-14s %8zuKB %8zuKB %8zuKB %7ld %3zd%%\n", name, total / 1024,
 * used / 1024, maxused / 1024, segments, used / (total / 100)), the name
 * followed by id in hexadecimal unless id is 0. */
static void row(int stream, const char *name, unsigned long id,
                const struct gjbmem_heap_stats *st)
{
    struct gjb_line l = {.n = 0};
    gjb_line_put(&l, name);
    if (id) {
        gjb_line_put(&l, " ");
        gjb_line_hex(&l, id);
    }
    gjb_line_pad(&l, 0, 14);
    kib(&l, st->total);
    kib(&l, st->used);
    kib(&l, st->maxused);
    gjb_line_put(&l, " ");
    gjb_line_uint(&l, st->segments, 10, 7);
    gjb_line_put(&l, " ");
    gjb_line_uint(&l, st->total / 100 ? st->used / (st->total / 100) : 0, 10, 3);
    gjb_line_put(&l, "%");
    gjb_line_emit(stream, &l);
}

static void part_row(void *ctx, unsigned long mid, const struct gjbmem_heap_stats *st)
{
    row(*(int *)ctx, "mpart", mid, st);
}

static void text(int stream, const char *s)
{
    struct gjb_line l = {.n = 0};
    gjb_line_put(&l, s);
    gjb_line_emit(stream, &l);
}

void gjbmem_mem_show_to(int stream)
{
    struct gjbmem_sysheap_stats ss;
    gjbmem_sysheap_stats(&ss); /* first: the library starts */
    text(stream, "heap show >>");
    text(stream, "");
    /* the last column as SPEC section 4 names it (SylixOS's source: USED) */
    text(stream, "     HEAP         TOTAL      USED     MAX USED  SEGMENT USED%");
    text(stream, "-------------- ---------- ---------- ---------- ------- -----");
    row(stream, "system", 0, &ss.heap);
    gjb_mpart_each(part_row, &stream);
    text(stream, "");
    for (int i = 0; i < SUMMARIES && summaries[i]; i++) {
        struct gjb_line l = {.n = 0};
        summaries[i](&l);
        gjb_line_emit(stream, &l);
    }
}

void mem_show(void)
{
    gjbmem_mem_show_to(1);
}
