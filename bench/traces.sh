#!/usr/bin/env bash
# bench/traces.sh - records the allocations of eight real programs into
# traces (`gjbmem record`), then measures every trace with `gjbmem size`
# and `gjbmem replay`: the smallest partition of each policy (and of each
# allocator plugin given) and its overhead over peak live bytes, the
# footprint split into geometry and fragmentation, glibc's replay, and the
# program's peak RSS in a plain run under glibc. Prints markdown tables.
#
#   bench/traces.sh [--reuse] [OUTDIR]   (results: default build-traces/results)
#   --reuse, REUSE=1  measure the traces already in TRACES; record nothing
#   TRACES=DIR        the traces (default build-traces/traces): NAME.gjbt,
#                     NAME.rss (peak RSS of the plain run, KiB), NAME.record.log
#   REV=COMMIT        measure with the gjbmem tool (engine) of COMMIT: git
#                     archive into build-traces/src-COMMIT, built in
#                     build-traces/rev-COMMIT (bench/lib.sh export_rev);
#                     without it, the work tree, built in build-traces/
#   ALLOCATORS="a.so b.so"  allocator plugins also measured (--allocator;
#                     tools/cli/gjbmem_plugin.h), if the tool has --allocator
#   PROGRAMS="..."    a subset of: python sqlite gcc perl jq git rg awk
#   WL_LINES (100000), WL_SQL_ROWS (20000), WL_PY_SCALE (1): input sizes
#
# The programs, their inputs generated (fixed generators, so every
# recording sees the same bytes: tests/programs/gen_data.py and
# bench/gen_trace_inputs.py, into build-traces/inputs/):
#   python  python3 tests/programs/stdlib_workload.py (PYTHONHASHSEED=0; its
#           last step runs 4 threads)          tests/programs/workloads.sh wl_python
#   sqlite  the sqlite3 CLI on workload.sql    wl_sqlite
#   gcc     gcc -O2 -c gen.c; the trace is cc1's (the driver and as write
#           theirs too: traces_report.py pick takes the program's own)
#   perl    a perl one-liner over records.csv (hashes of arrays, sorts)
#   jq      jq grouping data.json
#   git     git log -p --stat over a generated 300-commit repository
#   rg      ripgrep -j2 over a generated tree of 2,000 files: multi-threaded
#   awk     gawk over records.csv (wl_awk with WL_AWK=gawk: Debian's mawk
#           makes only ~3,000 calls, it allocates in its own pools)
# Missing programs are installed with apt-get (bench/lib.sh install_missing).
#
# For each trace: `gjbmem size --json` (first-fit, buddy, the plugins), then
# `gjbmem replay --json --size S` for each at its smallest partition S (at
# a larger size, BUDDY spreads its blocks over the whole partition and its
# footprint says little), and `gjbmem replay --json --policy glibc`.
# Results in OUTDIR: summary.md (the tables), machine.txt, and the JSON of
# every size and replay. The traces stay in TRACES for the next run:
#   REV=<new commit> bench/traces.sh --reuse   # the same traces, another engine
#
# Duration on a shared 2-vCPU VM: see docs/BENCHMARKS.md, "Real-program
# traces" (recording well under a minute, the whole run a few minutes).
set -euo pipefail

T_START=$(date +%s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDTOP=$ROOT/build-traces
REUSE=${REUSE:-0}
while [ $# -gt 0 ]; do
    case $1 in
        --reuse) REUSE=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "traces.sh: unknown option $1 (--help)" >&2; exit 2 ;;
        *) break ;;
    esac
done
OUT=${1:-$BUILDTOP/results}
TRACES=${TRACES:-$BUILDTOP/traces}
REV=${REV:-}
PROGRAMS=${PROGRAMS:-python sqlite gcc perl jq git rg awk}
: "${WL_LINES:=100000}" "${WL_SQL_ROWS:=20000}" "${WL_PY_SCALE:=1}" "${WL_AWK:=gawk}"
export WL_LINES WL_SQL_ROWS WL_PY_SCALE WL_AWK

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

clean_env

# --- programs -------------------------------------------------------------
GNUTIME=/usr/bin/time
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
REPORT=$ROOT/bench/traces_report.py
declare -A PKG=([$GNUTIME]=time [gawk]=gawk [rg]=ripgrep [jq]=jq [sqlite3]=sqlite3 [git]=git
                [perl]=perl [gcc]=gcc [cmake]=cmake [$PY]=python3)
need=()
for c in "${!PKG[@]}"; do
    command -v "$c" >/dev/null 2>&1 || need+=("${PKG[$c]}")
done
install_missing ${need[@]+"${need[@]}"}
for c in "${!PKG[@]}"; do
    command -v "$c" >/dev/null 2>&1 || { log "'$c' (package ${PKG[$c]}) is needed"; exit 1; }
done
# shellcheck source-path=SCRIPTDIR/.. source=tests/programs/workloads.sh
. "$ROOT/tests/programs/workloads.sh"

# --- the tool -------------------------------------------------------------
rev_source "$ROOT" "$REV" "$BUILDTOP"  # SRCROOT, BUILD, REVHASH
log "building the gjbmem tool from $SRCROOT in $BUILD"
cmake_build "$SRCROOT" "$BUILD" 2 gjbmem -DGJBMEM_BENCH=OFF
GJBMEM=$BUILD/gjbmem
[ -x "$GJBMEM" ] || { log "no $GJBMEM after the build"; exit 1; }

ALLOC_ARGS=()
ALLOC_NAMES=()
for a in ${ALLOCATORS:-}; do
    [ -f "$a" ] || { log "ALLOCATORS: no file $a"; exit 1; }
    ALLOC_ARGS+=(--allocator "$(cd "$(dirname "$a")" && pwd)/$(basename "$a")")
    ALLOC_NAMES+=("$(basename "$a")")
done
if [ ${#ALLOC_ARGS[@]} -gt 0 ] && ! "$GJBMEM" replay --help | grep -q -- --allocator; then
    log "this gjbmem has no --allocator: ALLOCATORS left out"
    ALLOC_ARGS=()
    ALLOC_NAMES=()
fi

# --- the programs, recorded or timed --------------------------------------
IN=$BUILDTOP/inputs
WLDATA=$IN/wl-$WL_LINES-$WL_SQL_ROWS
SCRATCH=$(mktemp -d /tmp/gjbtraces.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT

# Every program runs through wl__with (workloads.sh's, replaced): recorded
# into $TR_FILE (MODE=record, gjbmem's JSON and the program's stderr in
# $TR_LOG) or under GNU time, its peak RSS into $TR_RSS (MODE=rss).
MODE=record
TR_FILE=$SCRATCH/t.gjbt TR_LOG=$SCRATCH/t.log TR_RSS=$SCRATCH/t.rss # never /dev/null
wl__with() {
    shift
    if [ "$MODE" = record ]; then
        "$GJBMEM" record -o "$TR_FILE" --json -- "$@" 2>"$TR_LOG"
    else
        "$GNUTIME" -o "$TR_RSS" -f %M env -u LD_PRELOAD "$@"
    fi
}
GIT=(env GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git)
# shellcheck disable=SC2016 # perl and jq programs
tr_perl() {
    wl__with "" env LC_ALL=C perl -F, -lane '$n{$F[1]}++; $s{$F[2]} .= substr($F[4], 0, 3);
        push @{$w{$F[2]}}, $F[3];
        END { for (sort keys %w) { my @a = sort { $a <=> $b } @{$w{$_}};
                print "$_ $a[0] $a[-1] ", scalar @a, " ", length $s{$_} }
              print scalar keys %n }' "$WLDATA/records.csv"
}
tr_jq() {
    wl__with "" jq '[.[] | select(.amount > 100)] | group_by(.city)
        | map({city: .[0].city, n: length, total: (map(.amount) | add),
               users: (map(.user) | unique | length), tags: (map(.tags[]) | unique)})' "$IN/data.json"
}
tr_gcc() { wl__with "" gcc -O2 -c "$IN/gen.c" -o "$SCRATCH/gen.o"; }
tr_git() { wl__with "" "${GIT[@]}" -C "$IN/repo" log -p --stat --no-color main; }
tr_rg() { wl__with "" rg -j2 --no-config -c 'w0[0-4][0-9] w1[0-9]{2}' "$IN/tree"; }
tr_run() {
    case $1 in
        python | sqlite | awk) wl_run "$1" "" "$WLDATA" ;;
        gcc | perl | jq | git | rg) "tr_$1" ;;
        *) log "unknown program '$1' (python sqlite gcc perl jq git rg awk)"; return 2 ;;
    esac
}
declare -A PICK=([python]='python*' [sqlite]=sqlite3 [gcc]=cc1 [perl]=perl [jq]=jq [git]=git
                 [rg]=rg [awk]='*awk')

prepare_inputs() {
    local stamp
    stamp=$(cksum <"$ROOT/bench/gen_trace_inputs.py")
    if [ ! -f "$IN/.stamp" ] || [ "$(cat "$IN/.stamp")" != "$stamp" ]; then
        log "generating the inputs in $IN"
        rm -rf "$IN/tree" "$IN/repo"
        "$PY" "$ROOT/bench/gen_trace_inputs.py" "$IN"
        "${GIT[@]}" init -q -b main "$IN/repo"
        "${GIT[@]}" -C "$IN/repo" fast-import --quiet <"$IN/repo.fi"
        echo "$stamp" >"$IN/.stamp"
    fi
    wl_prepare "$WLDATA"
}

record_one() { # NAME
    local dir=$TRACES/rec-$1 rc=0 t0 path
    rm -rf "$dir" && mkdir -p "$dir"
    MODE=record TR_FILE=$dir/t.gjbt TR_LOG=$TRACES/$1.record.log
    t0=$(date +%s.%N)
    tr_run "$1" >/dev/null || rc=$?
    [ "$rc" -eq 0 ] || { log "FAIL: $1 exited $rc while recorded:"; tail -5 "$TR_LOG" >&2; exit 1; }
    path=$("$PY" "$REPORT" pick "$TR_LOG" "${PICK[$1]}")
    mv "$path" "$TRACES/$1.gjbt"
    rm -rf "$dir"
    log "  $1: recorded in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s:" \
        "$(basename "$path") -> $TRACES/$1.gjbt ($(stat -c %s "$TRACES/$1.gjbt") bytes)"
    MODE=rss TR_RSS=$TRACES/$1.rss
    rc=0
    tr_run "$1" >/dev/null 2>"$SCRATCH/err" || rc=$?
    [ "$rc" -eq 0 ] || { log "FAIL: $1 exited $rc in the plain run:"; tail -5 "$SCRATCH/err" >&2; exit 1; }
}

measure_one() { # NAME
    local t=$TRACES/$1.gjbt rc=0 s n i
    "$GJBMEM" size --quiet --json "$t" ${ALLOC_ARGS[@]+"${ALLOC_ARGS[@]}"} >"$OUT/$1.size.json" || rc=$?
    [ "$rc" -le 1 ] || { log "FAIL: gjbmem size $t exited $rc"; exit 1; }
    local targets=(first-fit buddy ${ALLOC_NAMES[@]+"${ALLOC_NAMES[@]}"})
    for ((i = 0; i < ${#targets[@]}; i++)); do
        n=${targets[$i]}
        s=$("$PY" "$REPORT" smallest "$OUT/$1.size.json" "$n")
        [ "$s" != 0 ] || { log "  $1 $n: no size found"; continue; }
        local how=(--policy "$n")
        [ "$i" -lt 2 ] || how=(--policy none "${ALLOC_ARGS[$((2 * (i - 2)))]}" "${ALLOC_ARGS[$((2 * (i - 2) + 1))]}")
        rc=0
        "$GJBMEM" replay --quiet --json --size "$s" "${how[@]}" "$t" >"$OUT/$1.replay-$n.json" || rc=$?
        [ "$rc" -le 1 ] || { log "FAIL: gjbmem replay $t ($n) exited $rc"; exit 1; }
    done
    "$GJBMEM" replay --quiet --json --policy glibc "$t" >"$OUT/$1.replay-glibc.json"
}

# --- the run ----------------------------------------------------------------
mkdir -p "$TRACES" "$OUT"
rm -f "$OUT"/*.size.json "$OUT"/*.replay-*.json "$OUT/summary.md" "$OUT/machine.txt"
if [ "$REUSE" != 1 ]; then
    prepare_inputs
    T_REC=$(date +%s)
    log "recording $PROGRAMS into $TRACES"
    for p in $PROGRAMS; do
        record_one "$p"
    done
    REC_S="$(($(date +%s) - T_REC)) s"
    log "recording and plain runs: $REC_S"
else
    for p in $PROGRAMS; do
        [ -f "$TRACES/$p.gjbt" ] || { log "--reuse: no $TRACES/$p.gjbt"; exit 1; }
    done
    REC_S=reused
fi

# The version of the Debian package PACKAGE ('?' if dpkg does not know it).
debver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
{
    echo "date: $(date -u +%FT%TZ)"
    if [ -n "$REV" ]; then
        echo "tool: git $REV = $(git -C "$ROOT" rev-parse --short "$REVHASH") ($GJBMEM)"
    else
        dirty=
        [ -z "$(git -C "$ROOT" status --porcelain -- src include tools CMakeLists.txt 2>/dev/null)" ] ||
            dirty=' + uncommitted changes'
        echo "tool: work tree at git $(git -C "$ROOT" rev-parse --short HEAD)$dirty ($GJBMEM)"
    fi
    for a in ${ALLOC_ARGS[@]+"${ALLOC_ARGS[@]}"}; do
        [ "$a" = --allocator ] || echo "allocator plugin: $a (sha1 $(sha1sum "$a" | cut -c1-12))"
    done
    echo "traces: $TRACES (recording: $REC_S)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "load before measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "kernel: $(uname -r); glibc: $(ldd --version | head -1)"
    echo "programs: python3 $(debver python3), sqlite3 $(debver sqlite3), gcc $(debver gcc-12)," \
        "perl $(debver perl), jq $(debver jq), git $(debver git), ripgrep $(debver ripgrep)," \
        "gawk $(debver gawk), time $(debver time)"
    echo "inputs: WL_LINES=$WL_LINES WL_SQL_ROWS=$WL_SQL_ROWS WL_PY_SCALE=$WL_PY_SCALE WL_AWK=$WL_AWK"
} >"$OUT/machine.txt"

for p in $PROGRAMS; do
    t0=$(date +%s)
    measure_one "$p"
    log "  $p: measured in $(($(date +%s) - t0)) s"
done
# shellcheck disable=SC2086 # the program names
"$PY" "$REPORT" table "$OUT" "$TRACES" $PROGRAMS >"$OUT/summary.md"

T_END=$(date +%s)
echo "duration: $(((T_END - T_START) / 60)) min $(((T_END - T_START) % 60)) s" >>"$OUT/machine.txt"
cat "$OUT/machine.txt"
echo
cat "$OUT/summary.md"
log "done in $(((T_END - T_START) / 60)) min $(((T_END - T_START) % 60)) s; results in $OUT"
