/*
 * progress.h - a progress bar on standard error, drawn only when standard
 * error is a terminal, at most ten times a second.
 */
#ifndef GJBMEM_TOOL_PROGRESS_H
#define GJBMEM_TOOL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct progress {
    bool on;
    char label[64];
    uint64_t last;   /* when it was last drawn (ns) */
    bool drawn;
};

/* Starts a bar named label (drawn only on a terminal, and never when quiet). */
void progress_start(struct progress *p, bool quiet, const char *label);
/* Shows done out of total. */
void progress_update(struct progress *p, size_t done, size_t total);
/* Clears the bar's line. */
void progress_end(struct progress *p);

#endif
