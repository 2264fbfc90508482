#!/bin/bash
# bench/cg_pairs.sh REV [OUT] - instructions per alloc+free pair of commit REV,
# as the callgrind step of bench/run.sh computes them (the same build, run and
# costs, from bench/lib.sh; M = 500,000, N = 10,000), for part, heap, bpart,
# bheap and glibc on the small and aligned workloads. One line per case:
#   REV KIND WORKLOAD PER_PAIR
# Takes under a minute. Needs valgrind (bench/run.sh installs it).
#   KINDS="part heap"  WORKLOADS="small mixed"  M=200000: other cases, pairs
#   BENCH_CMAKE_ARGS="-DGJBMEM_HARDENING=2": a build option (bench/lib.sh)
set -euo pipefail
REV=${1:?usage: bench/cg_pairs.sh REV [OUT]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-$ROOT/build-bench/cg-pairs-$REV}
M=${M:-500000}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

export_rev "$ROOT" "$REV" "$OUT/src"
build_bench "$OUT/src" "$OUT/build"
for a in ${KINDS:-part heap bpart bheap glibc}; do
    for w in ${WORKLOADS:-small aligned}; do
        f=$OUT/cg.$a.$w
        loop=$(loop_fn $a $w)
        cg_steady "$OUT/build/bench/bench_alloc.nodebug" $a $w 10000 $M "$f" >/dev/null 2>&1
        total=$(incl_costs "$f" | awk -v f="$loop" '$2 == f { print $1; exit }')
        self=$(excl_costs "$f" | awk -v f="$loop" '$2 == f { print $1; exit }')
        awk -v r="$REV" -v a=$a -v w=$w -v t="$total" -v l="$self" -v m=$M \
            'BEGIN { printf "%s %-6s %-8s %8.1f\n", r, a, w, (t - l) / m }'
    done
done
