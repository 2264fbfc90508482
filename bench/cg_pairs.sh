#!/bin/bash
# bench/cg_pairs.sh REV [OUT] - instructions per alloc+free pair of commit REV,
# as the callgrind step of bench/run.sh computes them (the same build, run and
# costs, from bench/lib.sh; M = 500,000, N = 10,000), for part, heap, bpart,
# bheap and glibc on the small and aligned workloads. One line per case:
#   REV KIND WORKLOAD PER_PAIR
# Takes under a minute. Needs valgrind (bench/run.sh installs it).
#   KINDS="part heap"  WORKLOADS="small mixed"  M=200000: other cases, pairs
#   BENCH_CMAKE_ARGS="-DGJBMEM_HARDENING=2": a build option (bench/lib.sh)
#   KINDS="... tlsf" with GJBMEM_TLSF_DIR (a directory with TLSF 3.1's tlsf.c
#   and tlsf.h, kept outside this repository): TLSF as malloc
#   (bench/tlsf_malloc.c, no lock) through bench_alloc's preload kind
#   KINDS="... o1heap" with GJBMEM_O1HEAP_DIR (o1heap.c and o1heap.h, kept
#   outside too): o1heap the same way (bench/o1heap_malloc.c; small and
#   mixed only: it has no memalign)
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
    kind=$a pre=
    if [ "$a" = tlsf ]; then
        : "${GJBMEM_TLSF_DIR:?KINDS=tlsf needs GJBMEM_TLSF_DIR}"
        kind=preload pre=$OUT/tlsf_malloc.so
        [ -e "$pre" ] || cc -O2 -fPIC -shared -DNDEBUG -I"$GJBMEM_TLSF_DIR" "$ROOT/bench/tlsf_malloc.c" \
            "$GJBMEM_TLSF_DIR/tlsf.c" -o "$pre"
    elif [ "$a" = o1heap ]; then
        : "${GJBMEM_O1HEAP_DIR:?KINDS=o1heap needs GJBMEM_O1HEAP_DIR}"
        kind=preload pre=$OUT/o1heap_malloc.so
        [ -e "$pre" ] || cc -O2 -fPIC -shared -DNDEBUG -I"$GJBMEM_O1HEAP_DIR" \
            "$ROOT/bench/o1heap_malloc.c" "$GJBMEM_O1HEAP_DIR/o1heap.c" -o "$pre"
    fi
    for w in ${WORKLOADS:-small aligned}; do
        f=$OUT/cg.$a.$w
        loop=$(loop_fn $kind $w)
        cg_steady "$OUT/build/bench/bench_alloc.nodebug" $kind $w 10000 $M "$f" $pre >/dev/null 2>&1
        total=$(incl_costs "$f" | awk -v f="$loop" '$2 == f { print $1; exit }')
        self=$(excl_costs "$f" | awk -v f="$loop" '$2 == f { print $1; exit }')
        awk -v r="$REV" -v a=$a -v w=$w -v t="$total" -v l="$self" -v m=$M \
            'BEGIN { printf "%s %-6s %-8s %8.1f\n", r, a, w, (t - l) / m }'
    done
done
