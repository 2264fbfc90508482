/*
 * memshow.c - mem_show: the SylixOS `free` table of the system heap and of
 * every live partition, then the mapping layer's summary. Formats its own
 * numbers (no stdio in src/core) and writes through the port.
 */
#include "api_internal.h"
#include "gjbext.h"
#include "gjbmem/port.h"
#include "gjbmem/sysheap.h"
#include "gjbmem/vmm.h"
#include "textline.h"

/* Appends v right-aligned in width columns (a leading space first). */
static void num(struct gjb_line *l, unsigned long long v, unsigned width, const char *suffix)
{
    char d[24];
    unsigned k = 0;
    do
        d[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < sizeof d);
    gjb_line_put(l, " ");
    for (unsigned i = k; i < width; i++)
        gjb_line_put(l, " ");
    while (k) {
        char c[2] = {d[--k], 0};
        gjb_line_put(l, c);
    }
    gjb_line_put(l, suffix);
}

/* The name column: name (and id, unless 0), then padding to 16 characters. */
static void name(struct gjb_line *l, const char *s, unsigned long long id)
{
    unsigned start = l->n;
    gjb_line_put(l, s);
    if (id) {
        gjb_line_put(l, " ");
        gjb_line_hex(l, id);
    }
    while (l->n - start < 16)
        gjb_line_put(l, " ");
}

static void emit(int stream, struct gjb_line *l)
{
    gjb_line_put(l, "\n");
    gjb_port_write(stream, l->buf, l->n);
    l->n = 0;
}

static void row(int stream, const char *label, unsigned long long id,
                const struct gjbmem_heap_stats *st)
{
    struct gjb_line l = {.n = 0};
    name(&l, label, id);
    num(&l, st->total, 10, "");
    num(&l, st->used, 10, "");
    num(&l, st->maxused, 10, "");
    num(&l, st->segments, 8, "");
    num(&l, st->total ? (unsigned long long)(st->used / (st->total / 100 ? st->total / 100 : 1)) : 0,
        4, "%");
    emit(stream, &l);
}

static void part_row(void *ctx, unsigned long mid, const struct gjbmem_heap_stats *st)
{
    row(*(int *)ctx, "mpart", mid, st);
}

void gjbmem_mem_show_to(int stream)
{
    static const char head[] =
        "heap show >>\n"
        "      HEAP           TOTAL       USED   MAX USED  SEGMENT USED%\n"
        "---------------- ---------- ---------- ---------- -------- -----\n";
    gjb_port_write(stream, head, sizeof head - 1);
    struct gjbmem_sysheap_stats ss;
    gjbmem_sysheap_stats(&ss);
    row(stream, "system", 0, &ss.heap);
    gjb_mpart_each(part_row, &stream);

    struct gjbmem_vmm_stats vs;
    struct gjb_line l = {.n = 0};
    gjb_line_put(&l, "system heap:");
    num(&l, ss.direct_blocks, 0, " direct mappings of");
    num(&l, ss.direct_bytes, 0, " bytes;");
    num(&l, ss.port_bytes, 0, " bytes from the host, limit");
    num(&l, ss.limit, 0, ss.policy == BUDDY_ALLOCATION ? "; policy BUDDY" : "; policy FIRST_FIT");
    emit(stream, &l);
    gjbmem_vmm_stats(&vs);
    gjb_line_put(&l, "mappings:");
    num(&l, vs.mappings, 0, " live,");
    num(&l, vs.bytes_mapped, 0, " bytes mapped,");
    num(&l, vs.bytes_locked, 0, " bytes locked,");
    num(&l, vs.shm_opened, 0, " shared-memory objects opened,");
    num(&l, vs.shared_anon_bytes, 0, " bytes shared anonymous");
    emit(stream, &l);
}

void mem_show(void)
{
    gjbmem_mem_show_to(1);
}
