#!/usr/bin/env bash
# bench/run.sh - builds bench_alloc (Release, -O2) and produces every figure of
# docs/BENCHMARKS.md: timing, footprint, callgrind instruction counts, worst
# case per operation, and a native single-step cross-check of those counts.
#
#   bench/run.sh [OUTDIR]        (default: build-bench/bench-results)
#   QUICK=1 bench/run.sh         (smaller runs, for trying the script)
#   REV=HEAD bench/run.sh        (measure the library as committed at REV,
#                                 not the work tree; this bench/ is used)
#
# Takes about 8 minutes on a 2-CPU machine. Needs cmake, a C compiler and
# valgrind (installed with apt-get when missing).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-bench
SRCROOT=$ROOT
REV=${REV:-}
OUT=${1:-$ROOT/build-bench/bench-results}
QUICK=${QUICK:-0}

if [ "$QUICK" = 1 ]; then
    M=50000       # steady pairs: timing, footprint, callgrind averages
    MWC=5000      # steady pairs measured one by one for the worst case (small)
    MWCX=2000     # ... (mixed)
    KTF=100       # operations single-stepped natively for the cross-check
    TIMEARG=--quick
else
    M=500000
    MWC=100000
    MWCX=30000
    KTF=400
    TIMEARG=
fi

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

if ! command -v valgrind >/dev/null || [ ! -e /usr/include/valgrind/callgrind.h ]; then
    log "installing valgrind"
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi

mkdir -p "$BUILD"
if [ -n "$REV" ]; then
    SRCROOT=$BUILD/src-$REV
    rm -rf "$SRCROOT" && mkdir -p "$SRCROOT"
    git -C "$ROOT" archive "$REV" | tar -x -C "$SRCROOT"
    rm -rf "$SRCROOT/bench" && cp -r "$ROOT/bench" "$SRCROOT/bench"
    BUILD=$BUILD/rev-$REV
fi
BIN=$BUILD/bench/bench_alloc

log "building $SRCROOT in $BUILD"
cmake -S "$SRCROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGJBMEM_TESTS=OFF \
    -DGJBMEM_EXAMPLES=OFF "-DCMAKE_C_FLAGS_RELEASE=-O2 -g -DNDEBUG" >/dev/null
cmake --build "$BUILD" -j2 --target bench_alloc >/dev/null
# Same code without DWARF, for callgrind: with debug info callgrind splits a
# function's cost by source file (inlined header code), which blurs the
# per-function inclusive figures.
NODEBUG=$BUILD/bench/bench_alloc.nodebug
objcopy --strip-debug "$BIN" "$NODEBUG"

mkdir -p "$OUT"
SCRATCH=$(mktemp -d /dev/shm/gjbbench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# --- the machine ----------------------------------------------------------
{
    echo "date: $(date -u +%FT%TZ)"
    if [ -n "$REV" ]; then
        echo "library: git $REV = $(git -C "$ROOT" rev-parse --short "$REV")"
    else
        echo "library: work tree at git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes in src/include')"
    fi
    echo "sources: sha1 of src/ and include/ files: $(cd "$SRCROOT" && find src include -type f | sort | xargs sha1sum | sha1sum | cut -c1-12)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "mem: $(grep MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')"
    echo "kernel: $(uname -r)"
    echo "cc: $(cc --version | head -1)"
    echo "glibc: $(ldd --version | head -1)"
    echo "valgrind: $(valgrind --version)"
    echo "flags: -O2 -g -DNDEBUG (CMAKE_BUILD_TYPE=Release, CMAKE_C_FLAGS_RELEASE overridden to -O2)"
    echo "M=$M MWC=$MWC MWCX=$MWCX KTF=$KTF"
} | tee "$OUT/machine.txt"

# --- timing ---------------------------------------------------------------
log "timing (throughput + latency)"
timeout 900 "$BIN" time $TIMEARG | tee "$OUT/time.txt"

# --- footprint ------------------------------------------------------------
log "footprint (bisection on the engine buffer size)"
: >"$OUT/footprint.txt"
for w in small mixed; do
    timeout 900 "$BIN" footprint $w 10000 "$M" | tee -a "$OUT/footprint.txt"
    timeout 900 "$BIN" footprint $w 10000 0 | tee -a "$OUT/footprint.txt"   # the fill alone
done

# --- callgrind: instructions per alloc+free pair, steady phase -------------
fn_alloc() { case $1 in part) echo mpart_alloc ;; heap) echo gjb_heap_alloc ;; glibc) echo malloc ;; esac; }
fn_free() { case $1 in part) echo mpart_free ;; heap) echo gjb_heap_free ;; glibc) echo free ;; esac; }

# callgrind_annotate output -> "cost name" per function (entries split by
# source file, if any, merged for exclusive costs; inclusive costs from the
# function's own entry, the one naming its object file).
excl_costs() {
    callgrind_annotate --auto=no --threshold=100 "$1" |
        awk '/^ *[0-9][0-9,]* \(/ { c = $1; gsub(",", "", c); n = $0; sub(/^[^)]*\) +/, "", n);
               sub(/ \[[^]]*\]$/, "", n); sub(/^.*:/, "", n); s[n] += c }
             END { for (n in s) print s[n], n }' | sort -k1,1nr
}
incl_costs() {
    callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$1" |
        awk '/^ *[0-9][0-9,]* \(/ && / \[[^]]*\]$/ { c = $1; gsub(",", "", c); n = $0;
               sub(/^[^)]*\) +/, "", n); sub(/ \[[^]]*\]$/, "", n); sub(/^.*:/, "", n); print c, n }'
}

log "callgrind, steady phase"
{
    echo "# instructions per steady-phase pair (one free + one alloc), callgrind, M=$M pairs"
    echo "# alloc+free = everything the steady loop called (for glibc: + 2 PLT jumps); alloc, free ="
    echo "# inclusive cost of the allocator's entry points; loop = the whole steady loop per pair"
    printf '%-6s %7s %-6s %12s %12s %12s %12s\n' workload N alloc "alloc+free" alloc free loop
} >"$OUT/callgrind.txt"
for n in 10000 100000; do
    for a in part heap glibc; do
        f=$SCRATCH/cg.steady.$a.$n
        timeout 900 valgrind --tool=callgrind --collect-atstart=no --toggle-collect="steady_plain_*" \
            --callgrind-out-file="$f" "$NODEBUG" cg-steady $a small $n "$M" >/dev/null 2>&1
        incl=$(incl_costs "$f")
        excl=$(excl_costs "$f")
        total=$(echo "$incl" | awk -v f="steady_plain_$a" 'index($2, f) == 1 { print $1; exit }')
        loop=$(echo "$excl" | awk -v f="steady_plain_$a" 'index($2, f) == 1 { print $1; exit }')
        ia=$(echo "$incl" | awk -v f="$(fn_alloc $a)" '$2 == f { print $1; exit }')
        ifr=$(echo "$incl" | awk -v f="$(fn_free $a)" '$2 == f { print $1; exit }')
        awk -v n=$n -v a=$a -v m="$M" -v t="$total" -v l="$loop" -v ia="$ia" -v ifr="$ifr" \
            'BEGIN { printf "%-6s %7d %-6s %12.1f %12.1f %12.1f %12.1f\n", "small", n, a,
                     (t - l) / m, ia / m, ifr / m, t / m }' | tee -a "$OUT/callgrind.txt"
        if [ $a != glibc ]; then
            {
                echo "== $a small N=$n: instructions per alloc+free pair, by function (M=$M)"
                echo "-- exclusive (self)"
                echo "$excl" | awk -v m="$M" -v f="steady_plain_$a" 'index($2, f) != 1 && $2 != "PROGRAM" && $1 > 0 { printf "%10.1f  %s\n", $1 / m, $2 }'
                echo "-- inclusive"
                echo "$incl" | awk -v m="$M" -v f="steady_plain_$a" 'index($2, f) != 1 && $1 / m >= 1 && $2 !~ /main|libc_start|0x0|below/ { printf "%10.1f  %s\n", $1 / m, $2 }'
                echo
            } >>"$OUT/callgrind-functions.txt.new"
        fi
        cp "$f" "$OUT/" 2>/dev/null || true
    done
done
mv "$OUT/callgrind-functions.txt.new" "$OUT/callgrind-functions.txt"

# Per source line, for the partition on small/10000 (debug build, same code).
timeout 900 valgrind --tool=callgrind --collect-atstart=no --toggle-collect="steady_plain_*" \
    --callgrind-out-file="$OUT/cg.lines.part.10000" "$BIN" cg-steady part small 10000 "$M" >/dev/null 2>&1
callgrind_annotate --auto=yes --show-percs=no --context=1 --threshold=99 "$OUT/cg.lines.part.10000" \
    >"$OUT/callgrind-lines-part-10000.txt" 2>&1 ||
    callgrind_annotate --auto=yes --context=1 --threshold=99 "$OUT/cg.lines.part.10000" \
        >"$OUT/callgrind-lines-part-10000.txt"

# --- worst case: callgrind dump after every operation ---------------------
log "worst case, one callgrind dump per operation ($MWC pairs per run, $MWCX for mixed)"
{
    echo "# instructions of single operations in the steady phase (callgrind, one dump per operation;"
    echo "# first $MWC pairs of the steady phase for small, $MWCX for mixed)"
    printf '%-6s %7s %-6s %10s %10s %10s %10s %10s %10s\n' workload N alloc alloc_max free_max \
        alloc_mean free_mean alloc_p9999 free_p9999
} >"$OUT/worstcase.txt"
for w in small mixed; do
    mw=$MWC
    [ $w = mixed ] && mw=$MWCX
    for n in 10000 100000; do
        for a in part heap glibc; do
            d=$SCRATCH/perop
            rm -rf "$d" && mkdir -p "$d"
            timeout 900 valgrind --tool=callgrind --collect-atstart=no --toggle-collect=bench_noop \
                --toggle-collect="$(fn_alloc $a)" --toggle-collect="$(fn_free $a)" \
                --dump-line=no --dump-instr=no --callgrind-out-file="$d/cg" \
                "$BIN" cg-perop $a $w $n "$mw" >/dev/null 2>&1
            # part 1 = the one-instruction calibration call; then free, alloc, ...
            find "$d" -name 'cg.*' -print0 | xargs -0 grep -H '^summary:' |
                awk '{ k = $1; sub(/.*\./, "", k); sub(/:summary:$/, "", k); print k, $2 }' |
                sort -n >"$SCRATCH/perop.txt"
            cal=$(awk '$1 == 1 { print $2 }' "$SCRATCH/perop.txt")
            [ "$cal" = 1 ] || { log "calibration part is $cal, expected 1"; exit 1; }
            ops=$(awk '$1 > 1' "$SCRATCH/perop.txt" | wc -l)
            [ "$ops" = $((2 * mw)) ] || { log "$ops operations dumped, expected $((2 * mw))"; exit 1; }
            awk '$1 > 1 { j = $1 - 2; print j, (j % 2 ? "alloc" : "free"), $2 }' "$SCRATCH/perop.txt" \
                >"$SCRATCH/perop.$a.$w.$n"
            p9999() { awk -v t=$1 '$2 == t { print $3 }' "$SCRATCH/perop.$a.$w.$n" | sort -n |
                awk '{ v[NR] = $1 } END { i = int(0.9999 * (NR - 1)) + 1; print v[i] }'; }
            pa=$(p9999 alloc)
            pf=$(p9999 free)
            awk -v w=$w -v n=$n -v a=$a -v pa="$pa" -v pf="$pf" '
                { s[$2] += $3; c[$2]++; if ($3 > mx[$2]) mx[$2] = $3 }
                END { printf "%-6s %7d %-6s %10d %10d %10.1f %10.1f %10d %10d\n", w, n, a,
                      mx["alloc"], mx["free"], s["alloc"] / c["alloc"], s["free"] / c["free"], pa, pf }' \
                "$SCRATCH/perop.$a.$w.$n" | tee -a "$OUT/worstcase.txt"
            if [ $w = small ] && [ $n = 10000 ]; then
                head -n "$KTF" "$SCRATCH/perop.$a.$w.$n" >"$OUT/perop-head.$a.txt"
            fi
            rm -f "$SCRATCH/perop.$a.$w.$n"
        done
    done
done
rm -rf "$SCRATCH/perop"

# --- cross-check: native trap-flag single stepping of the first KTF ops -----
log "cross-check: native single-step counts vs callgrind per-operation counts"
: >"$OUT/crosscheck.txt"
for a in part heap glibc; do
    timeout 900 "$BIN" tf $a small 10000 "$KTF" | grep -v '^#' | head -n "$KTF" >"$SCRATCH/tf.$a"
    same=$(paste -d' ' "$SCRATCH/tf.$a" "$OUT/perop-head.$a.txt" | awk '$3 == $6' | wc -l)
    echo "$a small N=10000: $same of $KTF operations have the same instruction count natively (single step) and under callgrind" |
        tee -a "$OUT/crosscheck.txt"
done

log "done: results in $OUT"
