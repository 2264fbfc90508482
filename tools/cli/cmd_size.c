/*
 * cmd_size.c - `gjbmem size FILE`: the smallest partition of each policy
 * (or pool of each allocator plugin) in which the whole trace replays
 * without one failed allocation.
 *
 * Whether a trace fits is not monotonic in the partition's size. BUDDY
 * carves a region whose size is not a power of two into the largest aligned
 * power-of-two blocks, and its tag table at the region's end grows with it,
 * so a few bytes more can turn three blocks into a different set of blocks;
 * with other blocks free, later requests split and merge differently and
 * can fail where the smaller partition got through. Segregated fit is less
 * sensitive, but which free block a request takes also depends on the
 * blocks the region starts with. So the search does not trust a bisection
 * alone: it bisects to a size S that works with S - precision failing, then
 * tries the WINDOW sizes below S - precision, one precision step apart; when
 * one works, it continues below that one. The answer always replays without
 * a failure, and the size one precision step below it fails.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static const char help[] =
    "GJBMEM-SIZE(1)\n"
    "\n"
    "NAME\n"
    "    gjbmem size - the smallest partition a trace runs in, per policy\n"
    "\n"
    "SYNOPSIS\n"
    "    gjbmem size FILE [--policy first-fit|buddy|all|none] [--allocator PATH.so]...\n"
    "                     [--precision BYTES] [--window N] [--json] [--quiet]\n"
    "\n"
    "DESCRIPTION\n"
    "    Finds, for each policy, the smallest partition (mpart_create_ex over\n"
    "    memory aligned to a power of two at least its size, as replay uses) in\n"
    "    which every allocation of the trace FILE succeeds, to the precision\n"
    "    stated, and prints it beside the trace's peak live bytes. The size found\n"
    "    replays without a failure; one precision step less fails. With\n"
    "    --allocator, the same for the pool an allocator plugin builds its heap in.\n"
    "\n"
    "    Fitting is not monotonic in the size (BUDDY above all: a slightly larger\n"
    "    region is carved into other power-of-two blocks, and requests split and\n"
    "    merge differently). The search bisects, then tries the N sizes below the\n"
    "    boundary it found and goes on below any that works.\n"
    "\n"
    "OPTIONS\n"
    "    --policy P        first-fit, buddy, all (the default: both) or none (only\n"
    "                      the allocators given with --allocator)\n"
    "    --allocator PATH.so\n"
    "                      also size the pool of the allocator built as the plugin\n"
    "                      PATH.so (tools/cli/gjbmem_plugin.h; docs/TRACES.md,\n"
    "                      \"Replaying into another allocator\"), named by its file\n"
    "                      name; a pool it refuses to start in counts as too small\n"
    "                      (or too large). Repeat for more (up to 8)\n"
    "    --precision BYTES the step of the search (default: the power of two\n"
    "                      nearest peak live / 4096, at least 16)\n"
    "    --window N        sizes tried below the boundary (default 16)\n"
    "    --json            the figures as one JSON object on stdout\n"
    "    --quiet           no progress bar (there is none unless stderr is a terminal)\n"
    "    -h, --help        this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 when a size was found for every policy, 1 when none was (a request\n"
    "    larger than any partition of up to 1 TiB), 2 on errors (a library that\n"
    "    is not an allocator plugin, or a plugin returning a block outside its\n"
    "    pool, misaligned or smaller than asked, among them).\n"
    "\n"
    "EXAMPLE\n"
    "    gjbmem size py.gjbt --policy first-fit --precision 64\n";

static const char *CMD = "size";

#define SIZE_LIMIT ((size_t)1 << 40)
#define SEARCHES (RP_GLIBC + RP_PLUGINS_MAX)

struct search {
    const struct gjbt_trace *t;
    int target;
    const struct rp_plugin *pl; /* RP_PLUGIN */
    const char *name;
    size_t step, replays, found;
    bool quiet;
};

/* True when the trace replays in size bytes without a failed allocation. */
static bool fits(struct search *s, size_t size)
{
    struct progress pg;
    char label[96];
    snprintf(label, sizeof label, "size %s %zu", s->name, size);
    progress_start(&pg, s->quiet, label);
    struct rp_opts o = {.size = size, .stop_on_failure = true, .prog = &pg, .plugin = s->pl};
    struct rp_result r;
    int rc = rp_run(s->t, s->target, &o, &r);
    progress_end(&pg);
    s->replays++;
    if (rc == -2) /* a plugin broke its contract: no size is right */
        cli_die(CMD, "%s: %s", s->name, r.error);
    return rc == 0 && r.failed == 0; /* a partition too small to create does not fit */
}

/* Bisects between lo (does not fit) and hi (fits) to one step apart. */
static size_t bisect(struct search *s, size_t lo, size_t hi)
{
    while (hi - lo > s->step) {
        size_t mid = lo + (hi - lo) / 2 / s->step * s->step;
        if (fits(s, mid))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* The smallest size found, or 0 when even SIZE_LIMIT does not fit. Sizes
 * are multiples of the step; 0 stands for "known not to fit". */
static size_t search(struct search *s, unsigned window)
{
    size_t step = s->step, hi = (rp_default_size(s->t) + step - 1) / step * step;
    while (!fits(s, hi)) {
        if (hi >= SIZE_LIMIT)
            return 0;
        hi *= 2;
    }
    size_t lo = s->t->peak_live / step * step;
    if (lo >= hi || (lo && fits(s, lo)))
        lo = 0;
    size_t best = bisect(s, lo, hi); /* fits; best - step does not */
    for (unsigned k = 2; k <= window + 1 && best >= (size_t)(k + 1) * step; k++) {
        size_t cand = best - (size_t)k * step;
        if (!fits(s, cand))
            continue;
        size_t below = cand - step; /* a smaller size works: how far down? */
        while (below >= step && fits(s, below))
            below -= step;
        best = below + step;
        k = 1; /* a fresh window below the new answer */
    }
    return best;
}

static size_t default_step(const struct gjbt_trace *t)
{
    size_t step = 16;
    while (step * 2 * 4096 <= t->peak_live)
        step *= 2;
    return step;
}

static void print_json(const char *path, const struct gjbt_trace *t, const struct search *s,
                       int n)
{
    printf("{\"trace\": ");
    report_trace_json(stdout, path, t);
    printf(", \"sizes\": [");
    for (int i = 0; i < n; i++) {
        printf("%s{\"policy\": ", i ? ", " : "");
        cli_json_string(stdout, s[i].name);
        printf(", \"smallest_bytes\": %zu, \"precision_bytes\": %zu, "
               "\"peak_live_bytes\": %llu, \"ratio\": %.6f, \"replays\": %zu",
               s[i].found, s[i].step, (unsigned long long)t->peak_live,
               t->peak_live ? (double)s[i].found / (double)t->peak_live : 0.0, s[i].replays);
        if (s[i].pl) {
            printf(", \"library\": ");
            cli_json_string(stdout, s[i].pl->path);
        }
        printf("}");
    }
    printf("]}\n");
}

static void print_text(const char *path, const struct gjbt_trace *t, const struct search *s,
                       int n, size_t step)
{
    int w = 10;
    for (int i = 0; i < n; i++)
        if ((int)strlen(s[i].name) > w)
            w = (int)strlen(s[i].name);
    report_trace_text(stdout, path, t);
    printf("\n%-*s %20s %10s %14s %8s %8s\n", w, "policy", "smallest partition", "precision",
           "peak live", "ratio", "replays");
    for (int i = 0; i < n; i++) {
        if (!s[i].found) {
            printf("%-*s %20s\n", w, s[i].name, "none up to 1 TiB");
            continue;
        }
        printf("%-*s %20zu %10s %14llu %8.4f %8zu\n", w, s[i].name, s[i].found, "",
               (unsigned long long)t->peak_live,
               t->peak_live ? (double)s[i].found / (double)t->peak_live : 0.0, s[i].replays);
    }
    for (int i = 0; i < n; i++)
        if (s[i].pl)
            printf("%s: allocator plugin %s (smallest partition: its pool)\n", s[i].name,
                   s[i].pl->path);
    printf("\nprecision: %zu bytes (each size replays without a failure; one step less fails)\n",
           step);
}

int cmd_size(int argc, char **argv)
{
    static const struct option opts[] = {{"policy", required_argument, NULL, 'p'},
                                         {"allocator", required_argument, NULL, 'a'},
                                         {"precision", required_argument, NULL, 'r'},
                                         {"window", required_argument, NULL, 'w'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool want[RP_TARGETS] = {true, true, false}, json = false, quiet = false;
    static struct rp_plugin plugins[RP_PLUGINS_MAX];
    int nplugins = 0;
    size_t step = 0, window = 16;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!cli_policies(optarg, want))
                cli_die(CMD, "--policy %s: first-fit, buddy, all or none", optarg);
            if (strcmp(optarg, "glibc") == 0)
                cli_die(CMD, "--policy glibc: glibc has no partition to size");
            want[RP_GLIBC] = false;
            break;
        case 'a':
            if (nplugins == RP_PLUGINS_MAX)
                cli_die(CMD, "--allocator: at most %d of them", RP_PLUGINS_MAX);
            cli_allocator(CMD, optarg, &plugins[nplugins++]);
            break;
        case 'r':
            if (!cli_bytes(optarg, &step) || step == 0 || step > SIZE_LIMIT / 2)
                cli_die(CMD, "--precision %s: a number of bytes up to 512G (K, M, G suffixes)",
                        optarg);
            break;
        case 'w':
            if (!cli_bytes(optarg, &window) || window > 100000)
                cli_die(CMD, "--window %s: a count up to 100000", optarg);
            break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'h': cli_help(help);
        default: cli_die(CMD, "bad option (gjbmem size --help)");
        }
    }
    if (optind != argc - 1)
        cli_die(CMD, "one trace file is needed (gjbmem size --help)");
    if (!want[RP_FIRST_FIT] && !want[RP_BUDDY] && !nplugins)
        cli_die(CMD, "--policy none: nothing to size without --allocator");
    const char *path = argv[optind];
    struct gjbt_trace t;
    cli_load(CMD, path, &t);
    if (!step)
        step = default_step(&t);
    struct search s[SEARCHES];
    int n = 0;
    bool none = false;
    for (int k = 0; k < RP_GLIBC + nplugins; k++) {
        const struct rp_plugin *pl = k < RP_GLIBC ? NULL : &plugins[k - RP_GLIBC];
        if (!pl && !want[k])
            continue;
        s[n] = (struct search){.t = &t, .target = pl ? RP_PLUGIN : k, .pl = pl,
                               .name = pl ? pl->name : rp_target_name[k], .step = step,
                               .quiet = quiet};
        s[n].found = search(&s[n], (unsigned)window);
        none |= s[n].found == 0;
        n++;
    }
    if (json)
        print_json(path, &t, s, n);
    else
        print_text(path, &t, s, n, step);
    for (int i = 0; i < nplugins; i++)
        rp_plugin_unload(&plugins[i]);
    gjbt_release(&t);
    return none ? EXIT_FAILED : EXIT_OK;
}
