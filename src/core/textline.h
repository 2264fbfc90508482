/*
 * textline.h - the library's one text formatter: a line built without
 * stdio (the library prints nothing through printf), for mem_show's table
 * (memshow.c), the mapping layer's summary (src/vmm/show.c) and the error
 * policies' log line (errpolicy.c). A line that would overflow is cut,
 * never overrun. gjb_line_emit is the way a line leaves the library
 * (through the port); only the malloc replacement's last words before an
 * abort are written directly, so that nothing of the library runs then. All functions are O(length) and thread-safe (the
 * line is the caller's).
 */
#ifndef GJB_TEXTLINE_H
#define GJB_TEXTLINE_H

#include <stdint.h>

#include "gjbmem/port.h"

struct gjb_line {
    char buf[200];
    unsigned n;
};

/* Appends s. */
static inline void gjb_line_put(struct gjb_line *l, const char *s)
{
    while (*s && l->n < sizeof l->buf - 1)
        l->buf[l->n++] = *s++;
}

/* Appends spaces until the text from column start on is width wide
 * (printf's "%-*s" for the text put since start). */
static inline void gjb_line_pad(struct gjb_line *l, unsigned start, unsigned width)
{
    while (l->n - start < width && l->n < sizeof l->buf - 1)
        l->buf[l->n++] = ' ';
}

/* Appends v in base 10 or 16 (lower case), right-aligned in width columns
 * (printf's "%*ju" / "%*jx"). */
static inline void gjb_line_uint(struct gjb_line *l, uintmax_t v, unsigned base, unsigned width)
{
    static const char digits[] = "0123456789abcdef";
    char d[3 * sizeof v + 1];
    unsigned k = 0;
    do
        d[k++] = digits[v % base];
    while ((v /= base) && k < sizeof d);
    for (unsigned i = k; i < width; i++)
        gjb_line_put(l, " ");
    while (k) {
        char c[2] = {d[--k], 0};
        gjb_line_put(l, c);
    }
}

/* Appends v in decimal (printf's "%ju"). */
static inline void gjb_line_dec(struct gjb_line *l, uintmax_t v)
{
    gjb_line_uint(l, v, 10, 0);
}

/* Appends v in hexadecimal with a "0x" prefix (printf's "%#jx", but 0 is
 * "0x0"). */
static inline void gjb_line_hex(struct gjb_line *l, uintmax_t v)
{
    gjb_line_put(l, "0x");
    gjb_line_uint(l, v, 16, 0);
}

/* Ends the line with "\n", writes it to stream (1 standard output, 2
 * errors) through the port and empties it: 0, or -1 on an output error. */
static inline int gjb_line_emit(int stream, struct gjb_line *l)
{
    l->buf[l->n++] = '\n'; /* put leaves room for it */
    int rc = gjb_port_write(stream, l->buf, l->n);
    l->n = 0;
    return rc;
}

#endif
