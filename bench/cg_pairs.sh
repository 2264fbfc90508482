#!/bin/bash
# bench/cg_pairs.sh REV [OUT] - instructions per alloc+free pair of commit REV,
# exactly as the callgrind step of bench/run.sh computes them (same flags,
# stripped binary, toggles, M = 500,000, N = 10,000), for part, heap, bpart,
# bheap and glibc on the small and aligned workloads. One line per case:
#   REV KIND WORKLOAD PER_PAIR
# Takes under a minute. Needs valgrind (bench/run.sh installs it).
set -euo pipefail
REV=${1:?usage: bench/cg_pairs.sh REV [OUT]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-$ROOT/build-bench/cg-pairs-$REV}
M=500000
SRC=$OUT/src
BUILD=$OUT/build

rm -rf "$SRC"
mkdir -p "$SRC"
git -C "$ROOT" archive "$REV" | tar -x -C "$SRC"
rm -rf "$SRC/bench"
cp -r "$ROOT/bench" "$SRC/bench" # the current bench, as bench/run.sh does
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGJBMEM_TESTS=OFF -DGJBMEM_EXAMPLES=OFF \
    "-DCMAKE_C_FLAGS_RELEASE=-O2 -g -DNDEBUG" >/dev/null
cmake --build "$BUILD" -j2 --target bench_alloc >/dev/null
BIN=$BUILD/bench/bench_alloc.nodebug
objcopy --strip-debug "$BUILD/bench/bench_alloc" "$BIN"

# Cost of the callgrind_annotate entry naming function $2 in file $1
# (inclusive with --inclusive=yes), summed over its entries.
cost() {
    callgrind_annotate --auto=no --threshold=100 ${3:-} "$1" |
        awk -v f="$2" '/^ *[0-9][0-9,]* \(/ && index($0, f) { c = $1; gsub(",", "", c); s += c }
                       END { print s + 0 }'
}

for a in part heap bpart bheap glibc; do
    for w in small aligned; do
        loop=steady_plain_$a
        [ $w = aligned ] && loop=steady_aligned_$a
        f=$OUT/cg.$a.$w
        valgrind --tool=callgrind --collect-atstart=no --toggle-collect="steady_plain_*" \
            --toggle-collect="steady_aligned_*" --callgrind-out-file="$f" \
            "$BIN" cg-steady $a $w 10000 $M >/dev/null 2>&1
        total=$(cost "$f" "$loop" --inclusive=yes)
        self=$(cost "$f" "$loop")
        awk -v r="$REV" -v a=$a -v w=$w -v t="$total" -v l="$self" -v m=$M \
            'BEGIN { printf "%s %-6s %-8s %8.1f\n", r, a, w, (t - l) / m }'
    done
done
