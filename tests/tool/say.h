/*
 * say.h - output for the programs the tool tests record (tests/tool/):
 * one line "LABEL N" written with write(2). stdio is not used, because its
 * buffers come from malloc and would add calls the program does not count.
 */
#ifndef GJB_TOOL_SAY_H
#define GJB_TOOL_SAY_H

#include <string.h>
#include <unistd.h>

/* Writes "label n\n" (or "label\n" when n < 0) on descriptor fd. */
static inline void say(int fd, const char *label, long n)
{
    char b[128], d[24];
    size_t k = strlen(label), m = 0;
    if (k > sizeof b - sizeof d - 2)
        k = sizeof b - sizeof d - 2;
    memcpy(b, label, k);
    if (n >= 0) {
        b[k++] = ' ';
        do {
            d[m++] = (char)('0' + n % 10);
            n /= 10;
        } while (n);
        while (m)
            b[k++] = d[--m];
    }
    b[k++] = '\n';
    for (size_t off = 0; off < k;) {
        ssize_t w = write(fd, b + off, k - off);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

/* Stops the program (exit 99) with a message when cond is false: a program
 * whose C library did not behave as expected would count calls wrongly. */
#define EXPECT(cond)                                                                    \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            say(2, "unexpected: " #cond " at line", __LINE__);                          \
            _exit(99);                                                                  \
        }                                                                               \
    } while (0)

#endif
