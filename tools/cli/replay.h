/*
 * replay.h - replaying a trace, single-threaded and in event order, into a
 * gjbmem partition of either policy, into glibc's malloc (in a child
 * process, so that its heap starts clean) or into an allocator plugin's
 * pool (gjbmem_plugin.h), with the figures the tool prints.
 */
#ifndef GJBMEM_TOOL_REPLAY_H
#define GJBMEM_TOOL_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gjbext.h>

#include "../trace/trace.h"
#include "plugin.h"
#include "progress.h"

/* The built-in targets (RP_TARGETS of them: --policy), and an allocator
 * plugin (--allocator; rp_opts.plugin says which). */
enum rp_target { RP_FIRST_FIT = 0, RP_BUDDY = 1, RP_GLIBC = 2, RP_TARGETS, RP_PLUGIN = RP_TARGETS };

/* The built-in targets' names on the command line and in the output. */
extern const char *const rp_target_name[RP_TARGETS];

/* The state of the heap after one event, for the picture over time. */
struct rp_sample {
    size_t event;
    uint64_t live;   /* requested bytes live */
    uint64_t blocks; /* bytes of the blocks holding them */
    uint64_t extent; /* from the partition's start to the end of its highest live block */
};

struct rp_opts {
    size_t size;          /* partition or pool bytes (not glibc) */
    bool timing;          /* time every call */
    bool stop_on_failure; /* give up at the first failed allocation */
    size_t until;         /* replay events [0, until) only; 0: all */
    struct rp_sample *samples; /* if not NULL: nsamples of them, evenly spaced */
    size_t nsamples;
    /* If not NULL: the partition's blocks after the last event replayed
     * (malloc'd, *nmap of them; base and size of the partition with them). */
    struct mpart_block **map;
    size_t *nmap;
    uintptr_t *map_base;
    struct progress *prog;
    const struct rp_plugin *plugin; /* RP_PLUGIN: the allocator */
};

struct rp_result {
    int target;
    char name[64];           /* the policy, or the plugin's file name */
    const char *library;     /* RP_PLUGIN: the plugin's path as given, else NULL */
    size_t size;             /* partition or pool bytes (0 for glibc) */
    uint64_t replayed;       /* calls replayed */
    uint64_t failed;         /* allocations the target refused */
    uint64_t footprint;      /* highest byte in use, from the partition's start */
    size_t footprint_index;  /* first event after which it was reached */
    uint64_t blocks_at_peak; /* block bytes live when the trace's live bytes peaked */
    size_t header, min_block;
    bool timed;
    double ns_p50, ns_p99, ns_p9999, ns_max, ns_mean;
    char error[320];         /* set when the replay could not be set up or went wrong */
};

/* Replays trace t into target. Returns 0 (r filled; r->failed may be
 * non-zero); -1 with r->error set when the replay could not be set up (no
 * memory; a partition or plugin pool of that size refused); -2 with
 * r->error set when a plugin broke its contract (a block outside its
 * pool): no size will do. */
int rp_run(const struct gjbt_trace *t, int target, const struct rp_opts *o, struct rp_result *r);

/* A partition size that should hold trace t with room to spare. */
size_t rp_default_size(const struct gjbt_trace *t);

#endif
