/*
 * report.h - printing what a trace holds and what a replay measured, as
 * text for people and as JSON for scripts (sizes in bytes, as integers).
 */
#ifndef GJBMEM_TOOL_REPORT_H
#define GJBMEM_TOOL_REPORT_H

#include <stdio.h>

#include "../trace/trace.h"
#include "replay.h"

void report_trace_text(FILE *f, const char *path, const struct gjbt_trace *t);
/* The trace as a JSON object (no trailing newline). */
void report_trace_json(FILE *f, const char *path, const struct gjbt_trace *t);

/* Overhead over peak live bytes: all, geometry, fragmentation (fractions;
 * 0 when nothing was live). */
struct overhead {
    double all, geometry, fragmentation;
};
struct overhead report_overhead(const struct gjbt_trace *t, const struct rp_result *r);

/* Width of the first column of the results (at least 10). */
int report_name_width(const struct rp_result *r, int n);

void report_results_text(FILE *f, const struct gjbt_trace *t, const struct rp_result *r, int n);
/* The results as a JSON array (no trailing newline). */
void report_results_json(FILE *f, const struct gjbt_trace *t, const struct rp_result *r, int n);

#endif
