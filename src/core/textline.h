/*
 * textline.h - one line of text built without stdio (src/core has none),
 * for mem_show's table (memshow.c) and the error policies' log line
 * (errpolicy.c). A line that would overflow is cut, never overrun.
 */
#ifndef GJB_TEXTLINE_H
#define GJB_TEXTLINE_H

#include <stdint.h>

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

/* Appends v in hexadecimal with a "0x" prefix. */
static inline void gjb_line_hex(struct gjb_line *l, uintmax_t v)
{
    static const char digits[] = "0123456789abcdef";
    char d[2 * sizeof v + 1];
    unsigned k = 0;
    do
        d[k++] = digits[v & 15];
    while ((v >>= 4) && k < sizeof d - 1);
    gjb_line_put(l, "0x");
    while (k) {
        char c[2] = {d[--k], 0};
        gjb_line_put(l, c);
    }
}

#endif
