#!/usr/bin/env bash
# bench/run.sh - builds bench_alloc (Release, -O2) and produces every figure of
# docs/BENCHMARKS.md: timing, footprint, callgrind instruction counts, worst
# case per operation, and a native single-step cross-check of those counts,
# for both policies (part/heap = FIRST_FIT, bpart/bheap = BUDDY), glibc, and
# jemalloc, mimalloc and tcmalloc (glibc's code path run with the library in
# LD_PRELOAD; the bench checks and prints where malloc then resolves:
# malloc-check.txt).
#
#   bench/run.sh [OUTDIR]        (default: build-bench/bench-results)
#   QUICK=1 bench/run.sh         (smaller runs, for trying the script)
#   REV=HEAD bench/run.sh        (measure the library as committed at REV,
#                                 not the work tree; this bench/ is used)
#   JOBS=1 bench/run.sh          (the exact-count runs one at a time;
#                                 default: nproc at a time)
#
# The timing runs first and alone. Everything after it (footprint, callgrind,
# trap-flag single stepping) counts bytes or instructions exactly, whatever
# else runs, so those runs go JOBS at a time. Measured on a 2-CPU VM that
# other builds kept at load 4-7: 21 minutes, 1,050 CPU-seconds in all (the
# timing about 150 of them), so about 11 minutes on an idle 2-CPU machine
# (an estimate); QUICK=1: 3.5 minutes on the same busy VM. Needs cmake, a C
# compiler and valgrind; jemalloc, mimalloc and tcmalloc come from the Debian
# packages libjemalloc2, libmimalloc2.0 and libtcmalloc-minimal4. Whatever is
# missing is installed with apt-get; without one of them the script goes on
# without that kind.
set -euo pipefail

T_START=$(date +%s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-bench
SRCROOT=$ROOT
REV=${REV:-}
OUT=${1:-$ROOT/build-bench/bench-results}
QUICK=${QUICK:-0}
JOBS=${JOBS:-$(nproc)}

if [ "$QUICK" = 1 ]; then
    M=50000       # steady pairs: timing, footprint, callgrind averages
    MWC=5000      # steady pairs measured one by one for the worst case (small)
    MWCX=2000     # ... (mixed, aligned)
    KTF=100       # operations single-stepped natively for the cross-check
    TIMEARG=--quick
else
    M=500000
    MWC=50000
    MWCX=20000
    KTF=400
    TIMEARG=
fi

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# --- tools and libraries ----------------------------------------------------
need=()
if ! command -v valgrind >/dev/null || [ ! -e /usr/include/valgrind/callgrind.h ]; then
    need+=(valgrind)
fi
alloc_libs ${need[@]+"${need[@]}"}  # LIB and PKG of jemalloc, mimalloc, tcmalloc
command -v valgrind >/dev/null || { log "valgrind is needed"; exit 1; }
PRELOADED=()   # the LD_PRELOAD kinds whose library is there
for lib in jemalloc mimalloc tcmalloc; do
    if [ -e "${LIB[$lib]}" ]; then
        PRELOADED+=("$lib")
    else
        log "no ${LIB[$lib]}: the $lib kind is left out"
    fi
done

# --- build -------------------------------------------------------------------
mkdir -p "$BUILD"
if [ -n "$REV" ]; then
    SRCROOT=$BUILD/src-$REV
    export_rev "$ROOT" "$REV" "$SRCROOT"
    BUILD=$BUILD/rev-$REV
fi
BIN=$BUILD/bench/bench_alloc

log "building $SRCROOT in $BUILD"
build_bench "$SRCROOT" "$BUILD"
NODEBUG=$BUILD/bench/bench_alloc.nodebug # the same code without DWARF, for callgrind

mkdir -p "$OUT"
SCRATCH=$(mktemp -d /dev/shm/gjbbench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
RES=$SCRATCH/res
mkdir -p "$RES"

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
    echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "cc: $(cc --version | head -1)"
    echo "glibc: $(ldd --version | head -1)"
    echo "valgrind: $(valgrind --version)"
    for lib in "${PRELOADED[@]}"; do
        echo "$lib: ${LIB[$lib]} ($(dpkg-query -W -f='${Package} ${Version}' "${PKG[$lib]}" 2>/dev/null || echo 'version unknown'))"
    done
    echo "flags: -O2 -g -DNDEBUG (CMAKE_BUILD_TYPE=Release, CMAKE_C_FLAGS_RELEASE overridden to -O2)"
    echo "M=$M MWC=$MWC MWCX=$MWCX KTF=$KTF JOBS=$JOBS"
} | tee "$OUT/machine.txt"

# --- timing (alone) -----------------------------------------------------------
log "timing (throughput + latency): part heap bpart bheap glibc"
timeout 1800 "$BIN" time $TIMEARG | tee "$OUT/time.txt"
for lib in "${PRELOADED[@]}"; do
    log "timing: $lib (LD_PRELOAD=${LIB[$lib]})"
    LD_PRELOAD=${LIB[$lib]} timeout 900 "$BIN" time $TIMEARG --kinds=$lib |
        tee "$OUT/time-$lib.txt"
done
T_TIMING=$(date +%s)

# --- the exact-count runs, JOBS at a time -------------------------------------
NAMES=()
# spawn NAME FUNCTION ARGS...: runs the function in the background (at most
# JOBS at once; set -e holds inside it), its output in $RES/NAME.log;
# $RES/NAME.done when it succeeded.
spawn() {
    local name=$1
    shift
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    # (not "f && touch": errexit would be off inside f)
    ( "$@" >"$RES/$name.log" 2>&1; touch "$RES/$name.done" ) &
    NAMES+=("$name")
}
join_all() {
    wait || true
    local bad=0
    for n in "${NAMES[@]}"; do
        if [ ! -e "$RES/$n.done" ]; then
            log "job $n failed:"
            tail -n 20 "$RES/$n.log" >&2
            bad=1
        fi
    done
    [ $bad = 0 ] || exit 1
    NAMES=()
}
# with_lib KIND CMD...: CMD with the kind's library preloaded (jemalloc, mimalloc)
with_lib() {
    local k=$1
    shift
    if [ -n "${LIB[$k]:-}" ]; then LD_PRELOAD=${LIB[$k]} "$@"; else "$@"; fi
}

# Allocator entry points as callgrind names them (glibc's and tcmalloc's
# aligned_alloc are aliases that callgrind reports as memalign).
fn_alloc() { # KIND WORKLOAD
    if [ "$2" = aligned ]; then
        case $1 in part | bpart) echo mpart_memalign ;; heap | bheap) echo gjb_heap_memalign ;;
            glibc | tcmalloc) echo memalign ;; *) echo aligned_alloc ;; esac
    else
        case $1 in part | bpart) echo mpart_alloc ;; heap | bheap) echo gjb_heap_alloc ;; *) echo malloc ;; esac
    fi
}
fn_free() { case $1 in part | bpart) echo mpart_free ;; heap | bheap) echo gjb_heap_free ;; *) echo free ;; esac; }
is_gjb() { case $1 in part | heap | bpart | bheap) return 0 ;; *) return 1 ;; esac; }

# One steady-phase callgrind run: the line of callgrind.txt in $RES/cg.W.N.A,
# the per-function breakdown in $RES/cgf.W.N.A (gjbmem kinds).
cg_job() { # KIND WORKLOAD N
    local a=$1 w=$2 n=$3
    local f=$SCRATCH/cg.steady.$a.$n sf
    [ $w = small ] || f=$SCRATCH/cg.steady.$a.$w.$n
    sf=$(loop_fn $a $w)
    cg_steady "$NODEBUG" $a $w $n "$M" "$f" "${LIB[$a]:-}" >"$RES/cgout.$w.$n.$a" 2>/dev/null
    local incl excl total loop ia ifr
    incl=$(incl_costs "$f")
    excl=$(excl_costs "$f")
    total=$(echo "$incl" | awk -v f="$sf" 'index($2, f) == 1 { print $1; exit }')
    loop=$(echo "$excl" | awk -v f="$sf" 'index($2, f) == 1 { print $1; exit }')
    ia=$(echo "$incl" | awk -v f="$(fn_alloc $a $w)" '$2 == f { print $1; exit }')
    ifr=$(echo "$incl" | awk -v f="$(fn_free $a)" '$2 == f { print $1; exit }')
    [ -n "$total" ] && [ -n "$ia" ] && [ -n "$ifr" ] || { echo "cg $a $w $n: missing costs"; exit 1; }
    awk -v w=$w -v n=$n -v a=$a -v m="$M" -v t="$total" -v l="$loop" -v ia="$ia" -v ifr="$ifr" \
        'BEGIN { printf "%-6s %7d %-6s %12.1f %12.1f %12.1f %12.1f\n", w, n, a,
                 (t - l) / m, ia / m, ifr / m, t / m }' >"$RES/cg.$w.$n.$a"
    if is_gjb $a; then
        {
            echo "== $a $w N=$n: instructions per alloc+free pair, by function (M=$M)"
            echo "-- exclusive (self)"
            echo "$excl" | awk -v m="$M" -v f="$sf" 'index($2, f) != 1 && $2 != "PROGRAM" && $1 > 0 { printf "%10.1f  %s\n", $1 / m, $2 }'
            echo "-- inclusive"
            echo "$incl" | awk -v m="$M" -v f="$sf" 'index($2, f) != 1 && $1 / m >= 1 && $2 !~ /main|libc_start|0x0|below/ { printf "%10.1f  %s\n", $1 / m, $2 }'
            echo
        } >"$RES/cgf.$w.$n.$a"
    fi
    cp "$f" "$OUT/"
}

# Per source line (debug build, same code).
lines_job() { # KIND
    local a=$1
    timeout 900 valgrind --tool=callgrind --collect-atstart=no --toggle-collect="steady_plain_*" \
        --callgrind-out-file="$OUT/cg.lines.$a.10000" "$BIN" cg-steady $a small 10000 "$M" >/dev/null 2>&1
    callgrind_annotate --auto=yes --show-percs=no --context=1 --threshold=99 "$OUT/cg.lines.$a.10000" \
        >"$OUT/callgrind-lines-$a-10000.txt" 2>&1 ||
        callgrind_annotate --auto=yes --context=1 --threshold=99 "$OUT/cg.lines.$a.10000" \
            >"$OUT/callgrind-lines-$a-10000.txt"
}

# Worst case: callgrind dump after every operation; the line of worstcase.txt
# in $RES/wc.W.N.A, the first KTF operations (10,000 live) in perop-head files.
# WORKLOAD small1g: small, in a 1 GiB heap (first-fit kinds).
perop_job() { # KIND WORKLOAD N PAIRS
    local a=$1 w=$2 n=$3 mw=$4 wl=$2 ffbuf=
    [ "$w" = small1g ] && { wl=small; ffbuf=$((1 << 30)); }
    local d=$SCRATCH/perop.$a.$w.$n t=$SCRATCH/perop.$a.$w.$n.txt
    rm -rf "$d" && mkdir -p "$d"
    GJB_BENCH_FF_BUFFER=$ffbuf with_lib $a timeout 1800 valgrind --tool=callgrind \
        --collect-atstart=no --toggle-collect=bench_noop \
        --toggle-collect="$(fn_alloc $a $wl)" --toggle-collect="$(fn_free $a)" \
        --dump-line=no --dump-instr=no --callgrind-out-file="$d/cg" \
        "$BIN" cg-perop $a $wl $n "$mw" >/dev/null 2>&1
    # part 1 = the one-instruction calibration call; then free, alloc, ...
    find "$d" -name 'cg.*' -print0 | xargs -0 grep -H '^summary:' |
        awk '{ k = $1; sub(/.*\./, "", k); sub(/:summary:$/, "", k); print k, $2 }' |
        sort -n >"$t.raw"
    rm -rf "$d"
    local cal ops zero
    cal=$(awk '$1 == 1 { print $2 }' "$t.raw")
    [ "$cal" = 1 ] || { echo "calibration part is $cal, expected 1"; exit 1; }
    ops=$(awk '$1 > 1' "$t.raw" | wc -l)
    [ "$ops" = $((2 * mw)) ] || { echo "$ops operations dumped, expected $((2 * mw))"; exit 1; }
    zero=$(awk '$1 > 1 && $2 == 0' "$t.raw" | wc -l)
    [ "$zero" = 0 ] || { echo "$zero operations counted 0 instructions (toggle names?)"; exit 1; }
    awk '$1 > 1 { j = $1 - 2; print j, (j % 2 ? "alloc" : "free"), $2 }' "$t.raw" >"$t"
    p9999() { awk -v t=$1 '$2 == t { print $3 }' "$t" | sort -n |
        awk '{ v[NR] = $1 } END { i = int(0.9999 * (NR - 1)) + 1; print v[i] }'; }
    local pa pf
    pa=$(p9999 alloc)
    pf=$(p9999 free)
    awk -v w=$w -v n=$n -v a=$a -v pa="$pa" -v pf="$pf" '
        { s[$2] += $3; c[$2]++; if ($3 > mx[$2]) mx[$2] = $3 }
        END { printf "%-6s %7d %-6s %10d %10d %10.1f %10.1f %10d %10d\n", w, n, a,
              mx["alloc"], mx["free"], s["alloc"] / c["alloc"], s["free"] / c["free"], pa, pf }' \
        "$t" >"$RES/wc.$w.$n.$a"
    if [ $n = 10000 ] && [ $w = small ]; then
        head -n "$KTF" "$t" >"$OUT/perop-head.$a.txt"
    elif [ $n = 10000 ] && [ $w = aligned ]; then
        head -n "$KTF" "$t" >"$OUT/perop-head-aligned.$a.txt"
    fi
    rm -f "$t" "$t.raw"
}

# Native trap-flag single stepping of the first KTF operations.
tf_job() { # KIND WORKLOAD
    timeout 900 "$BIN" tf $1 $2 10000 "$KTF" | grep -v '^#' | head -n "$KTF" >"$RES/tf.$2.$1"
}

footprint_job() { # NAME WORKLOAD PAIRS [bheap]
    local name=$1
    shift
    timeout 1200 "$BIN" footprint $1 10000 "$2" ${3:-} >"$RES/fp.$name"
}

GJB_KINDS="part heap bpart bheap"
CG_KINDS="part heap bpart bheap glibc ${PRELOADED[*]}"
log "exact counts, $JOBS at a time: worst case (one callgrind dump per operation, $MWC pairs," \
    "$MWCX for mixed and aligned), callgrind steady phase, footprint, single-step cross-check"
# longest first
for n in 10000 100000; do
    for a in part heap bpart bheap glibc; do
        spawn wc.small.$n.$a perop_job $a small $n "$MWC"
    done
done
for a in part heap bpart bheap glibc; do
    spawn wc.aligned.10000.$a perop_job $a aligned 10000 "$MWCX"
done
for a in part heap; do
    spawn wc.small1g.10000.$a perop_job $a small1g 10000 "$MWC"
done
for n in 10000 100000; do
    for a in part heap bpart bheap glibc; do
        spawn wc.mixed.$n.$a perop_job $a mixed $n "$MWCX"
    done
done
for a in $CG_KINDS; do
    spawn cg.small.10000.$a cg_job $a small 10000
    spawn cg.aligned.10000.$a cg_job $a aligned 10000
done
for a in part heap bpart bheap glibc; do
    spawn cg.small.100000.$a cg_job $a small 100000
    spawn cg.mixed.10000.$a cg_job $a mixed 10000
done
spawn lines.part lines_job part
spawn lines.bheap lines_job bheap
FP_NAMES=()
for w in small mixed aligned; do
    for kind in heap bheap; do
        # buddy on mixed: an exhaustive scan of about 23,000 buffer sizes
        # (4 minutes); run `bench_alloc footprint mixed 10000 500000 bheap` by hand
        [ $kind = bheap ] && [ $w = mixed ] && continue
        spawn fp.$w.$kind.M footprint_job $w.$kind.M $w "$M" $kind
        spawn fp.$w.$kind.0 footprint_job $w.$kind.0 $w 0 $kind
        FP_NAMES+=("$w.$kind.M" "$w.$kind.0")
    done
done
for w in small aligned; do
    for a in part heap bpart bheap glibc; do
        spawn tf.$w.$a tf_job $a $w
    done
done
join_all
T_EXACT=$(date +%s)

# --- assembling the files -----------------------------------------------------
{
    echo "# instructions per steady-phase pair (one free + one alloc), callgrind, M=$M pairs"
    echo "# alloc+free = everything the steady loop called (for the malloc kinds: + 2 PLT jumps);"
    echo "# alloc, free = inclusive cost of the allocator's entry points (aligned: mpart_memalign,"
    echo "# gjb_heap_memalign, aligned_alloc = glibc's memalign); loop = the whole steady loop per pair"
    printf '%-6s %7s %-6s %12s %12s %12s %12s\n' workload N alloc "alloc+free" alloc free loop
    for wn in small.10000 small.100000 mixed.10000 aligned.10000; do
        for a in $CG_KINDS; do
            [ -e "$RES/cg.$wn.$a" ] && cat "$RES/cg.$wn.$a"
        done
    done
} >"$OUT/callgrind.txt"
for wn in small.10000 small.100000 mixed.10000 aligned.10000; do
    for a in $GJB_KINDS; do
        cat "$RES/cgf.$wn.$a"
    done
done >"$OUT/callgrind-functions.txt"
cat "$RES"/cgout.* | grep '^# malloc check' | sort -u >"$OUT/malloc-check.txt" || true
grep -h '^# malloc check' "$OUT"/time*.txt >>"$OUT/malloc-check.txt" 2>/dev/null || true
{
    echo "# instructions of single operations in the steady phase (callgrind, one dump per operation;"
    echo "# first $MWC pairs of the steady phase for small, $MWCX for mixed and aligned)"
    printf '%-6s %7s %-6s %10s %10s %10s %10s %10s %10s\n' workload N alloc alloc_max free_max \
        alloc_mean free_mean alloc_p9999 free_p9999
    for wn in small.10000 small.100000 mixed.10000 mixed.100000 aligned.10000; do
        for a in part heap bpart bheap glibc; do
            cat "$RES/wc.$wn.$a"
        done
    done
    cat "$RES/wc.small1g.10000.part" "$RES/wc.small1g.10000.heap"
} >"$OUT/worstcase.txt"
for n in "${FP_NAMES[@]}"; do cat "$RES/fp.$n"; done >"$OUT/footprint.txt"
: >"$OUT/crosscheck.txt"
for w in small aligned; do
    for a in part heap bpart bheap glibc; do
        head=$OUT/perop-head.$a.txt
        [ $w = aligned ] && head=$OUT/perop-head-aligned.$a.txt
        same=$(paste -d' ' "$RES/tf.$w.$a" "$head" | awk '$3 == $6' | wc -l)
        echo "$a $w N=10000: $same of $KTF operations have the same instruction count natively (single step) and under callgrind"
    done
done >>"$OUT/crosscheck.txt"
cat "$OUT/malloc-check.txt" "$OUT/footprint.txt" "$OUT/callgrind.txt" "$OUT/worstcase.txt" \
    "$OUT/crosscheck.txt"

# --- summary ------------------------------------------------------------------
T_END=$(date +%s)
{
    echo
    echo "== summary ($OUT)"
    echo "instructions per alloc+free pair (callgrind, steady phase, M=$M; callgrind.txt):"
    awk '!/^#/ && NF == 7 && $1 != "workload" { v[$3, $1 "/" $2] = $4; if (!($3 in seen)) { seen[$3] = 1; k[++nk] = $3 } }
         END { printf "  %-9s %12s %12s %12s %12s\n", "kind", "small/10000", "small/100000", "mixed/10000", "aligned/10000"
               for (i = 1; i <= nk; i++) { printf "  %-9s", k[i]
                   split("small/10000 small/100000 mixed/10000 aligned/10000", c, " ")
                   for (j = 1; j <= 4; j++) printf " %12s", ((k[i], c[j]) in v) ? v[k[i], c[j]] : "-"
                   printf "\n" } }' "$OUT/callgrind.txt"
    echo "footprint, N=10000: min buffer / peak live, fill + $M pairs (fill only) (footprint.txt):"
    awk '/^footprint/ { w = $2; m = $4; sub(/M=/, "", m); m = m + 0; kind = ($5 == "buddy:") ? "bheap" : "heap"
                        for (i = 1; i <= NF; i++) if ($i ~ /^ratio=/) { r = $i; sub(/ratio=/, "", r) }
                        if (m) full[kind, w] = r; else fill[kind, w] = r }
         END { printf "  %-9s %18s %18s %18s\n", "kind", "small", "mixed", "aligned"
               split("heap bheap", ks, " "); split("small mixed aligned", ws, " ")
               for (i = 1; i <= 2; i++) { printf "  %-9s", ks[i]
                   for (j = 1; j <= 3; j++) printf " %18s", ((ks[i], ws[j]) in full) ? full[ks[i], ws[j]] " (" fill[ks[i], ws[j]] ")" : "-"
                   printf "\n" } }' "$OUT/footprint.txt"
    echo "throughput, Mops/s (median of runs; time*.txt; jemalloc/mimalloc/tcmalloc in their own process):"
    cat "$OUT/time.txt" "$OUT"/time-*.txt 2>/dev/null | awk '$4 ~ /^[0-9.]+$/ && $2 ~ /^[0-9]+$/ && $3 != "runs" {
             v[$3, $1 "/" $2] = $4; if (!($3 in seen)) { seen[$3] = 1; k[++nk] = $3 } }
         END { split("small/10000 small/100000 mixed/10000 mixed/100000 aligned/10000 aligned/100000", c, " ")
               printf "  %-9s", "kind"; for (j = 1; j <= 6; j++) printf " %14s", c[j]; printf "\n"
               for (i = 1; i <= nk; i++) { printf "  %-9s", k[i]
                   for (j = 1; j <= 6; j++) {
                       s = "-"
                       if ((k[i], c[j]) in v) { s = v[k[i], c[j]]; if (("glibc", c[j]) in v) s = sprintf("%s (%.2fx)", s, v[k[i], c[j]] / v["glibc", c[j]]) }
                       printf " %14s", s }
                   printf "\n" } }'
    echo "worst single operation, instructions, alloc max / free max (worstcase.txt):"
    awk '!/^#/ && NF == 9 && $1 != "workload" { v[$3, $1 "/" $2] = $4 "/" $5; if (!($3 in seen)) { seen[$3] = 1; k[++nk] = $3 } }
         END { split("small/10000 small/100000 mixed/10000 mixed/100000 aligned/10000", c, " ")
               printf "  %-9s", "kind"; for (j = 1; j <= 5; j++) printf " %13s", c[j]; printf "\n"
               for (i = 1; i <= nk; i++) { printf "  %-9s", k[i]
                   for (j = 1; j <= 5; j++) printf " %13s", ((k[i], c[j]) in v) ? v[k[i], c[j]] : "-"
                   printf "\n" } }' "$OUT/worstcase.txt"
    echo "cross-check (crosscheck.txt): $(awk '{ s += $4; t += $6 } END { printf "%d of %d single-stepped operations match callgrind", s, t }' "$OUT/crosscheck.txt")"
    echo "malloc check (malloc-check.txt): $(awk '{ k = $4; sub(/\):?/, "", k); sub(/\(/, "", k); print k ": " $NF }' "$OUT/malloc-check.txt" | sort -u | paste -sd, - | sed 's/,/, /g')"
    echo "time: $((T_END - T_START)) s in all (build and timing $((T_TIMING - T_START)) s, exact counts $((T_EXACT - T_TIMING)) s with JOBS=$JOBS); load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/summary.txt"

log "done: results in $OUT"
