/*
 * cmd_replay.c - `gjbmem replay FILE`: the trace's calls made again on a
 * partition of each policy, on glibc and on allocator plugins, with the
 * memory and time each needed; --svg draws the heaps.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "svg.h"

static const char help[] =
    "GJBMEM-REPLAY(1)\n"
    "\n"
    "NAME\n"
    "    gjbmem replay - replay a trace on gjbmem's policies, glibc and other\n"
    "    allocators\n"
    "\n"
    "SYNOPSIS\n"
    "    gjbmem replay FILE [--policy first-fit|buddy|glibc|all|none] [--size BYTES]\n"
    "                       [--allocator PATH.so]... [--svg OUT] [--json] [--quiet]\n"
    "\n"
    "DESCRIPTION\n"
    "    Makes every call of the trace FILE again, in the recorded order on one\n"
    "    thread, on a partition of each chosen policy (mpart_create_ex) and on\n"
    "    glibc's malloc (in a child process, as a reference), then on each\n"
    "    allocator plugin given. calloc is replayed without zeroing, a call of 0\n"
    "    bytes asks for 1, and calls that failed when they were recorded are\n"
    "    skipped. For each it prints:\n"
    "\n"
    "    partition      the partition's bytes (a plugin: its pool's); its memory\n"
    "                   starts at an address aligned to a power of two at least\n"
    "                   its size\n"
    "    footprint      the highest byte ever in use, counted from the\n"
    "                   partition's (pool's) first byte (glibc: heap growth plus\n"
    "                   chunks it mapped on their own)\n"
    "    overhead       footprint / peak live bytes - 1, split into\n"
    "    geometry       block bytes live at the moment of peak live bytes (the\n"
    "                   headers, rounding and minimum blocks the policy needs;\n"
    "                   a plugin's headers are the bytes it declares) / peak\n"
    "                   live - 1, and\n"
    "    fragment       fragmentation: the rest of the overhead\n"
    "    failed         allocations the policy refused\n"
    "    ns per call    p50, p99, p99.99 and max of each call's time (the cost\n"
    "                   of reading the clock taken off)\n"
    "\n"
    "OPTIONS\n"
    "    --policy P     first-fit, buddy, glibc, all (the default) or none (only\n"
    "                   the allocators given with --allocator)\n"
    "    --allocator PATH.so\n"
    "                   also replay into the allocator built as the plugin\n"
    "                   PATH.so (tools/cli/gjbmem_plugin.h; docs/TRACES.md,\n"
    "                   \"Replaying into another allocator\"): it gets a pool of\n"
    "                   the partition's size and builds its heap there, and is\n"
    "                   named by its file name. Repeat for more (up to 8). A\n"
    "                   library without the plugin's functions is refused\n"
    "    --size BYTES   the partition's size (suffixes K, M, G). Without it each\n"
    "                   policy (plugin) gets a partition (pool) large enough for\n"
    "                   the trace: one from the trace's peak, doubled until\n"
    "                   nothing fails\n"
    "    --svg OUT      also draw, into the SVG file OUT, each partition's heap at\n"
    "                   its peak footprint (allocated, free and metadata bytes)\n"
    "                   and live bytes, block bytes and extent over time\n"
    "    --json         the same figures as one JSON object on stdout\n"
    "    --quiet        no progress bar (there is none unless stderr is a terminal)\n"
    "    -h, --help     this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 when every allocation succeeded, 1 when one failed, 2 on errors (bad\n"
    "    arguments; a missing, truncated, damaged or unknown-version trace; a\n"
    "    library that is not an allocator plugin, or a plugin returning a block\n"
    "    outside its pool, misaligned or smaller than asked).\n"
    "\n"
    "EXAMPLES\n"
    "    gjbmem replay py.gjbt --policy all --svg py.svg\n"
    "    gjbmem replay py.gjbt --allocator ./mypool.so --json\n";

static const char *CMD = "replay";

#define SAMPLES 600
#define AUTO_SIZE_LIMIT ((size_t)1 << 40)
#define JOBS (RP_TARGETS + RP_PLUGINS_MAX)

struct job {
    struct rp_result r;
    struct rp_sample samples[SAMPLES];
    struct mpart_block *map;
    size_t nmap;
    uintptr_t base;
};

/* Replays t into target (RP_PLUGIN: into pl); without a size given, grows
 * the partition until nothing fails. */
static void replay_one(const struct gjbt_trace *t, int target, const struct rp_plugin *pl,
                       size_t size, bool svg, bool quiet, struct job *j)
{
    const char *name = pl ? pl->name : rp_target_name[target];
    bool fixed = size != 0;
    if (!fixed)
        size = rp_default_size(t);
    for (;;) {
        struct progress pg;
        char label[96];
        snprintf(label, sizeof label, "replay %s", name);
        progress_start(&pg, quiet, label);
        struct rp_opts o = {.size = size, .timing = true, .samples = svg ? j->samples : NULL,
                            .nsamples = SAMPLES, .prog = &pg, .plugin = pl};
        int rc = rp_run(t, target, &o, &j->r);
        progress_end(&pg);
        if (rc != 0)
            cli_die(CMD, "%s: %s", name, j->r.error);
        if (fixed || target == RP_GLIBC || !j->r.failed || size >= AUTO_SIZE_LIMIT)
            break;
        size *= 2;
    }
    if (svg && target != RP_GLIBC) { /* the heap at its peak footprint */
        struct rp_result again;
        struct rp_opts o = {.size = size, .until = j->r.footprint_index + 1, .map = &j->map,
                            .nmap = &j->nmap, .map_base = &j->base, .plugin = pl};
        if (rp_run(t, target, &o, &again) != 0)
            cli_die(CMD, "%s: %s", name, again.error);
    }
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {{"policy", required_argument, NULL, 'p'},
                                         {"allocator", required_argument, NULL, 'a'},
                                         {"size", required_argument, NULL, 's'},
                                         {"svg", required_argument, NULL, 'g'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool want[RP_TARGETS] = {true, true, true}, json = false, quiet = false;
    static struct rp_plugin plugins[RP_PLUGINS_MAX];
    int nplugins = 0;
    size_t size = 0;
    const char *svg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!cli_policies(optarg, want))
                cli_die(CMD, "--policy %s: first-fit, buddy, glibc, all or none", optarg);
            break;
        case 'a':
            if (nplugins == RP_PLUGINS_MAX)
                cli_die(CMD, "--allocator: at most %d of them", RP_PLUGINS_MAX);
            cli_allocator(CMD, optarg, &plugins[nplugins++]);
            break;
        case 's':
            if (!cli_bytes(optarg, &size) || size == 0)
                cli_die(CMD, "--size %s: a number of bytes (K, M, G suffixes)", optarg);
            break;
        case 'g': svg = optarg; break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'h': cli_help(help);
        default: cli_die(CMD, "bad option (gjbmem replay --help)");
        }
    }
    if (optind != argc - 1)
        cli_die(CMD, "one trace file is needed (gjbmem replay --help)");
    if (!want[RP_FIRST_FIT] && !want[RP_BUDDY] && !want[RP_GLIBC] && !nplugins)
        cli_die(CMD, "--policy none: nothing to replay without --allocator");
    const char *path = argv[optind];
    struct gjbt_trace t;
    cli_load(CMD, path, &t);
    static struct job jobs[JOBS];
    static struct rp_result res[JOBS];
    struct svg_panel panels[JOBS];
    int n = 0;
    bool any_failed = false;
    for (int k = 0; k < RP_TARGETS + nplugins; k++) {
        int target = k < RP_TARGETS ? k : RP_PLUGIN;
        const struct rp_plugin *pl = k < RP_TARGETS ? NULL : &plugins[k - RP_TARGETS];
        if (!pl && !want[target])
            continue;
        struct job *j = &jobs[k];
        replay_one(&t, target, pl, size, svg != NULL, quiet, j);
        res[n] = j->r;
        panels[n] = (struct svg_panel){&j->r, j->samples, SAMPLES, j->map, j->nmap, j->base};
        any_failed |= j->r.failed != 0;
        n++;
    }
    if (json) {
        printf("{\"trace\": ");
        report_trace_json(stdout, path, &t);
        printf(", \"results\": ");
        report_results_json(stdout, &t, res, n);
        printf("}\n");
    } else {
        report_trace_text(stdout, path, &t);
        report_results_text(stdout, &t, res, n);
    }
    if (svg) {
        char err[160];
        if (svg_write(svg, path, &t, panels, n, err, sizeof err) != 0)
            cli_die(CMD, "%s: %s", svg, err);
        if (!json)
            printf("picture     %s\n", svg);
    }
    for (int i = 0; i < JOBS; i++)
        free(jobs[i].map);
    for (int i = 0; i < nplugins; i++)
        rp_plugin_unload(&plugins[i]);
    gjbt_release(&t);
    return any_failed ? EXIT_FAILED : EXIT_OK;
}
