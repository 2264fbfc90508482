/*
 * svg.h - the pictures of `gjbmem replay --svg`: for each policy the heap
 * at its peak footprint (allocated, free and metadata bytes, one row per
 * stretch of memory, scaled to fit any heap) and the heap over time (live
 * bytes, block bytes, extent; fragmentation).
 */
#ifndef GJBMEM_TOOL_SVG_H
#define GJBMEM_TOOL_SVG_H

#include <stddef.h>
#include <stdint.h>

#include <gjbmem/mpart.h>

#include "../trace/trace.h"
#include "replay.h"

struct svg_panel {
    const struct rp_result *r;
    const struct rp_sample *samples; /* over time */
    size_t nsamples;
    const struct mpart_block *map;   /* the heap at its peak (NULL: none, glibc) */
    size_t nmap;
    uintptr_t base;                  /* the partition's first byte */
};

/* Writes the picture of n panels to path. 0, or -1 with a message. */
int svg_write(const char *path, const char *trace_path, const struct gjbt_trace *t,
              const struct svg_panel *p, int n, char *err, size_t errlen);

#endif
