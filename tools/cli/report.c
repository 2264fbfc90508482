/*
 * report.c - text and JSON output of the replay and size commands.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static const char *const origin_name[] = {"the program recorded", "a fork child",
                                          "an exec'd image"};

void report_trace_text(FILE *f, const char *path, const struct gjbt_trace *t)
{
    fprintf(f, "trace       %s\n", path);
    fprintf(f, "program     %s (pid %" PRIu64 ", %s, %zu thread%s)\n", t->hdr.command,
            t->hdr.pid, origin_name[t->hdr.origin], t->threads, t->threads == 1 ? "" : "s");
    fprintf(f, "events      %zu calls:", t->calls);
    const char *sep = " ";
    for (unsigned op = GJBT_MALLOC; op <= GJBT_USABLE_SIZE; op++)
        if (t->ops[op]) {
            fprintf(f, "%s%s %zu", sep, gjbt_op_name(op), t->ops[op]);
            sep = ", ";
        }
    fprintf(f, "\n");
    if (t->inherited)
        fprintf(f, "inherited   %zu blocks live at the fork\n", t->inherited);
    if (t->refused || t->foreign)
        fprintf(f, "skipped     %zu calls that failed when recorded, %zu naming pointers the "
                "recorder did not know\n", t->refused, t->foreign);
    fprintf(f, "peak live   %" PRIu64 " bytes in %zu blocks (after event %zu)\n", t->peak_live,
            t->peak_blocks, t->peak_index);
}

void report_trace_json(FILE *f, const char *path, const struct gjbt_trace *t)
{
    static const char *const origin[] = {"root", "fork", "exec"};
    fprintf(f, "{\"path\": ");
    cli_json_string(f, path);
    fprintf(f, ", \"command\": ");
    cli_json_string(f, t->hdr.command);
    fprintf(f, ", \"pid\": %" PRIu64 ", \"origin\": \"%s\", \"threads\": %zu, \"events\": %zu, "
            "\"inherited\": %zu, \"refused_when_recorded\": %zu, \"foreign\": %zu, \"calls\": {",
            t->hdr.pid, origin[t->hdr.origin], t->threads, t->calls, t->inherited, t->refused,
            t->foreign);
    const char *sep = "";
    for (unsigned op = GJBT_MALLOC; op <= GJBT_USABLE_SIZE; op++) {
        fprintf(f, "%s\"%s\": %zu", sep, gjbt_op_name(op), t->ops[op]);
        sep = ", ";
    }
    fprintf(f, "}, \"peak_live_bytes\": %" PRIu64 ", \"peak_live_blocks\": %zu, "
            "\"peak_event\": %zu}", t->peak_live, t->peak_blocks, t->peak_index);
}

struct overhead report_overhead(const struct gjbt_trace *t, const struct rp_result *r)
{
    struct overhead o = {0, 0, 0};
    if (!t->peak_live)
        return o;
    double live = (double)t->peak_live;
    o.all = (double)r->footprint / live - 1;
    o.geometry = (double)r->blocks_at_peak / live - 1;
    o.fragmentation = o.all - o.geometry;
    return o;
}

/* Width of the first column: "policy", or the longest name in r. */
int report_name_width(const struct rp_result *r, int n)
{
    int w = 10;
    for (int i = 0; i < n; i++)
        if ((int)strlen(r[i].name) > w)
            w = (int)strlen(r[i].name);
    return w;
}

void report_results_text(FILE *f, const struct gjbt_trace *t, const struct rp_result *r, int n)
{
    int w = report_name_width(r, n);
    fprintf(f, "\n%-*s %12s %12s %9s %9s %9s %7s   %s\n", w, "policy", "partition", "footprint",
            "overhead", "geometry", "fragment", "failed", "ns per call: p50 p99 p99.99 max");
    for (int i = 0; i < n; i++) {
        struct overhead o = report_overhead(t, &r[i]);
        char part[24];
        if (r[i].target == RP_GLIBC)
            snprintf(part, sizeof part, "-");
        else
            snprintf(part, sizeof part, "%zu", r[i].size);
        fprintf(f, "%-*s %12s %12" PRIu64 " %8.2f%% %8.2f%% %8.2f%% %7" PRIu64, w, r[i].name,
                part, r[i].footprint, 100 * o.all, 100 * o.geometry, 100 * o.fragmentation,
                r[i].failed);
        if (r[i].timed)
            fprintf(f, "   %.0f %.0f %.0f %.0f", r[i].ns_p50, r[i].ns_p99, r[i].ns_p9999,
                    r[i].ns_max);
        fprintf(f, "\n");
    }
    fprintf(f, "\noverhead = footprint / peak live - 1 = geometry (headers, rounding, minimum\n"
               "block: block bytes live at the peak / peak live - 1) + fragmentation (the rest)\n");
    for (int i = 0; i < n; i++)
        if (r[i].library)
            fprintf(f, "%s: allocator plugin %s (partition: the pool it was given)\n", r[i].name,
                    r[i].library);
}

void report_results_json(FILE *f, const struct gjbt_trace *t, const struct rp_result *r, int n)
{
    fprintf(f, "[");
    for (int i = 0; i < n; i++) {
        struct overhead o = report_overhead(t, &r[i]);
        fprintf(f, "%s{\"policy\": \"%s\", \"partition_bytes\": %zu, \"replayed\": %" PRIu64
                ", \"failed\": %" PRIu64 ", \"footprint_bytes\": %" PRIu64
                ", \"footprint_event\": %zu, \"blocks_at_peak_bytes\": %" PRIu64
                ", \"overhead\": %.6f, \"geometry\": %.6f, \"fragmentation\": %.6f"
                ", \"header_bytes\": %zu, \"min_block_bytes\": %zu",
                i ? ", " : "", r[i].name, r[i].size, r[i].replayed,
                r[i].failed, r[i].footprint, r[i].footprint_index, r[i].blocks_at_peak, o.all,
                o.geometry, o.fragmentation, r[i].header, r[i].min_block);
        if (r[i].library) {
            fprintf(f, ", \"library\": ");
            cli_json_string(f, r[i].library);
        }
        if (r[i].timed)
            fprintf(f, ", \"ns_per_call\": {\"p50\": %.0f, \"p99\": %.0f, \"p99_99\": %.0f, "
                    "\"max\": %.0f, \"mean\": %.1f}", r[i].ns_p50, r[i].ns_p99, r[i].ns_p9999,
                    r[i].ns_max, r[i].ns_mean);
        fprintf(f, "}");
    }
    fprintf(f, "]");
}
