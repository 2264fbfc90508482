#!/usr/bin/env bash
# bench/mt.sh - times bench/bench_mt.c's multi-threaded and allocation-heavy
# workloads under six malloc implementations:
#   glibc             the C library's malloc (no LD_PRELOAD)
#   gjbmem-first-fit  LD_PRELOAD=libgjbmem-malloc.so GJBMEM_POLICY=first-fit
#   gjbmem-buddy      LD_PRELOAD=libgjbmem-malloc.so GJBMEM_POLICY=buddy
#   jemalloc          LD_PRELOAD=libjemalloc.so.2  (Debian libjemalloc2)
#   mimalloc          LD_PRELOAD=libmimalloc.so.2  (Debian libmimalloc2.0)
#   tcmalloc          LD_PRELOAD=libtcmalloc_minimal.so.4 (Debian libtcmalloc-minimal4)
# and reports, per workload and allocator, the median wall time (elapsed),
# user+sys CPU time and peak RSS from GNU time (/usr/bin/time -f
# '%e %U %S %M'), the median of the workload's own timing (bench_mt's
# seconds=, set-up and exit excluded, CLOCK_MONOTONIC), and the ratios of the
# first three to glibc's medians; then the threadloop speed-up from one
# thread to two, 2 * t1 / t2 (each thread does a fixed amount of work, so 2.0
# is perfect scaling), from the elapsed medians and from the workload's own.
#
# The workloads (bench_mt.c describes them):
#   threadloop-1  bench_mt threadloop 1 N_THREADLOOP   private windows, 1 thread
#   loop-1T       bench_mt loop N_LOOP                 the same loop in the main
#                                                      thread, no thread started
#                                                      (locks may be skipped)
#   threadloop-2  bench_mt threadloop 2 N_THREADLOOP   the same, 2 threads
#   server-2      bench_mt server 2 N_SERVER           cross-thread frees
#   prodcons      bench_mt prodcons N_PRODCONS         producer -> consumer
#   large         bench_mt large N_LARGE               256 KiB .. 4 MiB blocks
#   alloc-heavy   bench_mt alloc-heavy N_ALLOC_HEAVY   bignums + hash set
#
#   bench/mt.sh [OUTDIR]  (default: build-mtbench/results)
#   REPS=N      repetitions per (workload, allocator); default 5 (QUICK: 3)
#   QUICK=1     smaller N (about a quarter) and REPS=3, for trying the script
#   REV=HEAD    measure the library as committed at REV (git archive into
#               build-mtbench/src-REV, built in build-mtbench/rev-REV), not
#               the work tree; bench_mt is always this work tree's
#   N_THREADLOOP, N_LOOP, N_SERVER, N_PRODCONS, N_LARGE, N_ALLOC_HEAVY: the
#               workloads' sizes (defaults: 50000000 per thread, 50000000,
#               4000000 per thread, 1000000, 2000, 1000 rounds; each about
#               0.4-0.6 s under glibc on a 2-vCPU VM)
#
# Runs are interleaved: the repetition loop is outermost, then the workload,
# then the allocator (in an order rotated every repetition), so drifting load
# hits every allocator alike; hence medians. Before the measured runs, each
# workload runs once under glibc, unmeasured: its ops= and checksum= (which
# depend only on the arguments, not on the scheduling or the allocator) are
# the reference, and every measured run must print the same and exit 0, or it
# counts as a failure - reported, its output kept in OUTDIR/fail/, left out
# of the medians, and the script exits 1 at the end. Before that, the script
# checks that each preloaded library really serves bench_mt's malloc
# (LD_DEBUG=bindings; for gjbmem also its heap table, GJBMEM_SHOW=1, naming
# the policy asked for): OUTDIR/preload-check.txt.
#
# Output in OUTDIR: mt.txt (the table), raw.txt (one line per run),
# machine.txt (the machine, tools and library revision), preload-check.txt.
#
# Needs cmake, a C compiler and GNU time; missing GNU time, jemalloc,
# mimalloc or tcmalloc are installed with apt-get (without one of the three
# allocators the script goes on without it). Builds with -j2 at most.
set -euo pipefail

T_START=$(date +%s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDTOP=$ROOT/build-mtbench
REV=${REV:-}
OUT=${1:-$ROOT/build-mtbench/results}
QUICK=${QUICK:-0}

if [ "$QUICK" = 1 ]; then
    REPS=${REPS:-3}
    : "${N_THREADLOOP:=12000000}" "${N_LOOP:=12000000}" "${N_SERVER:=1000000}" "${N_PRODCONS:=250000}"
    : "${N_LARGE:=500}" "${N_ALLOC_HEAVY:=250}"
else
    REPS=${REPS:-5}
    : "${N_THREADLOOP:=50000000}" "${N_LOOP:=50000000}" "${N_SERVER:=4000000}" "${N_PRODCONS:=1000000}"
    : "${N_LARGE:=2000}" "${N_ALLOC_HEAVY:=1000}"
fi
for v in REPS N_THREADLOOP N_LOOP N_SERVER N_PRODCONS N_LARGE N_ALLOC_HEAVY; do
    case ${!v} in
        '' | *[!0-9]* | 0) echo "$v must be a positive integer, not '${!v}'" >&2; exit 1 ;;
    esac
done

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

clean_env

# --- tools and libraries ----------------------------------------------------
time_and_libs  # GNUTIME; LIB and PKG of jemalloc, mimalloc, tcmalloc
for tool in cmake cc git; do
    command -v "$tool" >/dev/null 2>&1 || { log "'$tool' not found"; exit 1; }
done

# --- build -------------------------------------------------------------------
mkdir -p "$BUILDTOP"
BENCH=$BUILDTOP/bench_mt
log "building $BENCH"
cc -std=c11 -O2 -pthread -Wall -Wextra -o "$BENCH" "$ROOT/bench/bench_mt.c"

rev_source "$ROOT" "$REV" "$BUILDTOP"  # SRCROOT, BUILD, REVHASH
build_malloc_so "$SRCROOT" "$BUILD" 2  # SO

# The allocators, in table order, and their LD_PRELOAD and GJBMEM_POLICY.
alloc_table "$SO"  # ALLOCS, PRE, POLICY

# The workloads, in table order, and bench_mt's arguments for each.
WORKLOADS=(threadloop-1 loop-1T threadloop-2 server-2 prodcons large alloc-heavy)
declare -A ARGS=([threadloop-1]="threadloop 1 $N_THREADLOOP"
                 [loop-1T]="loop $N_LOOP"
                 [threadloop-2]="threadloop 2 $N_THREADLOOP"
                 [server-2]="server 2 $N_SERVER"
                 [prodcons]="prodcons $N_PRODCONS"
                 [large]="large $N_LARGE"
                 [alloc-heavy]="alloc-heavy $N_ALLOC_HEAVY")
declare -A THREADS=([threadloop-1]=1 [loop-1T]=1 [threadloop-2]=2 [server-2]=2 [prodcons]=2 [large]=1
                    [alloc-heavy]=1)

mkdir -p "$OUT"
rm -rf "$OUT/fail"
SCRATCH=$(mktemp -d /tmp/gjbmtbench.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

# --- the machine ----------------------------------------------------------
{
    describe_library "$ROOT" "$REV" "$REVHASH" "$SO" "$BUILD"
    echo "bench_mt: $BENCH (cc -std=c11 -O2 -pthread, from $ROOT/bench/bench_mt.c)"
    describe_machine
    echo "time: $GNUTIME ($(pkgver time))"
    echo "REPS=$REPS QUICK=$QUICK N_THREADLOOP=$N_THREADLOOP N_LOOP=$N_LOOP N_SERVER=$N_SERVER N_PRODCONS=$N_PRODCONS N_LARGE=$N_LARGE N_ALLOC_HEAVY=$N_ALLOC_HEAVY"
} | tee "$OUT/machine.txt"

# --- one timed run -------------------------------------------------------------
# Runs bench_mt with ARGS (split at spaces) under allocator A, stdout to
# $SCRATCH/out, stderr to $SCRATCH/err, GNU time's "%e %U %S %M" to
# $SCRATCH/time (never /dev/null: it is removed first); returns its status.
run_one() { # A ARGS
    local a=$1 pre=${PRE[$1]} env_args=()
    [ -z "${POLICY[$a]:-}" ] || env_args=(GJBMEM_POLICY="${POLICY[$a]}")
    if [ -n "$pre" ]; then
        env_args=(LD_PRELOAD="$pre" "${env_args[@]}")
    else
        env_args=(-u LD_PRELOAD "${env_args[@]}")
    fi
    rm -f "$SCRATCH/time"
    # shellcheck disable=SC2086 # the words of ARGS
    "$GNUTIME" -o "$SCRATCH/time" -f '%e %U %S %M' env "${env_args[@]}" "$BENCH" $2 \
        >"$SCRATCH/out" 2>"$SCRATCH/err"
}
# The ops= and checksum= fields of bench_mt's line in FILE (the reference).
result_key() { sed -n 's/^workload=.* ops=\([0-9]*\) checksum=\([0-9a-f]*\)$/ops=\1 checksum=\2/p' "$1"; }
loop_secs() { sed -n 's/^workload=.* seconds=\([0-9.]*\) .*$/\1/p' "$1"; }

# --- is malloc really the one asked for? --------------------------------------
{
    echo "# which library serves bench_mt's malloc (LD_DEBUG=bindings)"
    fails=0
    for a in "${ALLOCS[@]}"; do
        lib=${PRE[$a]}
        [ -n "$lib" ] || continue
        report_binding "$a" "$lib" "$BENCH" large 1 || fails=$((fails + 1))
        if [ -n "${POLICY[$a]:-}" ]; then
            report_policy "$a" "$lib" "${POLICY[$a]}" "$BENCH" large 1 || fails=$((fails + 1))
        fi
    done
    echo "failures: $fails"
} >"$OUT/preload-check.txt"
preload_verdict "$OUT/preload-check.txt"

# --- warm-up and reference results --------------------------------------------
declare -A REF
for w in "${WORKLOADS[@]}"; do
    rc=0
    run_one glibc "${ARGS[$w]}" || rc=$?
    REF[$w]=$(result_key "$SCRATCH/out")
    if [ "$rc" -ne 0 ] || [ -z "${REF[$w]}" ]; then
        log "FAIL: $w (bench_mt ${ARGS[$w]}) under glibc exited $rc:"
        head -5 "$SCRATCH/out" "$SCRATCH/err" >&2
        exit 1
    fi
    log "warm-up: $w under glibc (unmeasured): $(tail -1 "$SCRATCH/time") ${REF[$w]}"
done

# --- the measured runs --------------------------------------------------------
RAW=$OUT/raw.txt
echo "# rep workload allocator elapsed_s user_s sys_s maxrss_KiB loop_s status" >"$RAW"
NA=${#ALLOCS[@]}
FAILS=0
total=$((REPS * NA * ${#WORKLOADS[@]}))
done_runs=0
for ((rep = 1; rep <= REPS; rep++)); do
    for w in "${WORKLOADS[@]}"; do
        for ((i = 0; i < NA; i++)); do
            a=${ALLOCS[$(((i + rep - 1) % NA))]}
            rc=0
            run_one "$a" "${ARGS[$w]}" || rc=$?
            t=$(tail -1 "$SCRATCH/time" 2>/dev/null || true)
            loop=$(loop_secs "$SCRATCH/out")
            status=ok
            if [ "$rc" -ne 0 ]; then
                status=exit$rc
            elif [ "$(result_key "$SCRATCH/out")" != "${REF[$w]}" ]; then
                status="diff"
            elif ! [[ $t =~ ^[0-9.]+\ [0-9.]+\ [0-9.]+\ [0-9]+$ ]] || [ -z "$loop" ]; then
                status=notime
            fi
            if [ "$status" != ok ]; then
                FAILS=$((FAILS + 1))
                f=$OUT/fail/$w.$a.rep$rep
                keep_failure "$SCRATCH" "$f"
                log "FAIL: $w under $a (rep $rep): $status (reference ${REF[$w]}); kept in $f.{out,err}"
                head -5 "$SCRATCH/out" "$SCRATCH/err" >&2
            elif [ -s "$SCRATCH/err" ]; then
                log "note: $w under $a wrote to stderr: $(head -c 200 "$SCRATCH/err")"
            fi
            [ -n "$t" ] || t="- - - -"
            done_runs=$((done_runs + 1))
            record_run "$RAW" "$done_runs/$total" "$rep" "$w" "$a" "$t ${loop:--} $status"
        done
    done
done

# --- summary ----------------------------------------------------------------
metric() {  # WORKLOAD ALLOC WHAT: el (elapsed), cpu (user+sys), rss (KiB), loop
    awk -v w="$1" -v a="$2" -v what="$3" '$2 == w && $3 == a && $9 == "ok" {
        if (what == "el") print $4; else if (what == "cpu") print $5 + $6
        else if (what == "rss") print $7; else print $8 }' "$RAW" | median
}
spread() {  # WORKLOAD ALLOC: (max - min) / median of the elapsed times, in %
    awk -v w="$1" -v a="$2" '$2 == w && $3 == a && $9 == "ok" { print $4 }' "$RAW" | spread_pct
}
{
    echo "bench_mt: medians of $REPS interleaved runs (only runs with glibc's ops and checksum and status 0)"
    echo "elapsed_s, user+sys_s, rss_KiB: GNU time; loop_s: bench_mt's own timing of the workload;"
    echo "x_* = median / glibc's median; spread = (max - min) / median of the elapsed times"
    echo "sizes: N_THREADLOOP=$N_THREADLOOP N_LOOP=$N_LOOP N_SERVER=$N_SERVER N_PRODCONS=$N_PRODCONS N_LARGE=$N_LARGE N_ALLOC_HEAVY=$N_ALLOC_HEAVY"
    echo "library: $(sed -n 's/^library: //p' "$OUT/machine.txt"); $(nproc) CPUs; load before: $(sed -n 's/^load before the run: //p' "$OUT/machine.txt")"
    echo
    printf '%-12s %-3s %-17s %4s %9s %6s %10s %9s %7s %9s %7s %7s\n' \
        workload thr allocator runs elapsed_s spread user+sys_s rss_KiB loop_s x_elapsed x_cpu x_rss
    for w in "${WORKLOADS[@]}"; do
        g_el=$(metric "$w" glibc el); g_cpu=$(metric "$w" glibc cpu); g_rss=$(metric "$w" glibc rss)
        for a in "${ALLOCS[@]}"; do
            n=$(awk -v w="$w" -v a="$a" '$2 == w && $3 == a && $9 == "ok"' "$RAW" | wc -l)
            awk -v w="$w" -v thr="${THREADS[$w]}" -v a="$a" -v n="$n/$REPS" -v sp="$(spread "$w" "$a")" \
                -v el="$(metric "$w" "$a" el)" -v cpu="$(metric "$w" "$a" cpu)" \
                -v rss="$(metric "$w" "$a" rss)" -v loop="$(metric "$w" "$a" loop)" \
                -v gel="$g_el" -v gcpu="$g_cpu" -v grss="$g_rss" '
                function ratio(x, g) { return (x == "nan" || g == "nan" || g + 0 == 0) ? "nan" : x / g }
                function fmt(x, f) { return x == "nan" ? "-" : sprintf(f, x) }
                BEGIN {
                    printf "%-12s %-3s %-17s %4s %9s %6s %10s %9s %7s %9s %7s %7s\n", w, thr, a, n,
                        fmt(el, "%.2f"), sp, fmt(cpu, "%.2f"), fmt(rss, "%.0f"), fmt(loop, "%.3f"),
                        fmt(ratio(el, gel), "%.2f"), fmt(ratio(cpu, gcpu), "%.2f"),
                        fmt(ratio(rss, grss), "%.2f")
                }'
        done
    done
    echo
    echo "threadloop speed-up from 1 to 2 threads, 2 * t1 / t2 (2.00 = perfect scaling on $(nproc) CPUs):"
    printf '%-17s %12s %12s\n' allocator from_elapsed from_loop_s
    for a in "${ALLOCS[@]}"; do
        awk -v a="$a" -v e1="$(metric threadloop-1 "$a" el)" -v e2="$(metric threadloop-2 "$a" el)" \
            -v l1="$(metric threadloop-1 "$a" loop)" -v l2="$(metric threadloop-2 "$a" loop)" '
            function su(t1, t2) { return (t1 == "nan" || t2 == "nan" || t2 + 0 == 0) ? "-" : sprintf("%.2f", 2 * t1 / t2) }
            BEGIN { printf "%-17s %12s %12s\n", a, su(e1, e2), su(l1, l2) }'
    done
    echo
    echo "failed runs: $FAILS"
} >"$OUT/mt.txt"

if [ ! -c /dev/null ]; then
    log "WARNING: /dev/null is no longer a character device (restore: rm -f /dev/null && mknod -m 666 /dev/null c 1 3)"
fi

finish_run "$OUT" mt.txt mt.txt "$T_START"
if [ "$FAILS" -ne 0 ]; then
    log "FAIL: $FAILS run(s) failed (exit status, or ops/checksum differing from glibc's): see $OUT/fail/ and $RAW"
    exit 1
fi
