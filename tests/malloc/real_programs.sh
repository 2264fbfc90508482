#!/usr/bin/env bash
# real_programs.sh LIBGJBMEM_MALLOC_SO
#
# Runs real, unmodified programs from Debian packages with the malloc
# replacement preloaded (LD_PRELOAD=LIBGJBMEM_MALLOC_SO), once per system
# heap policy (GJBMEM_POLICY=first-fit and =buddy), and compares their
# output with a plain run of the same program (the C library's malloc):
#   python   python3 over tests/programs/stdlib_workload.py
#   sqlite   the sqlite3 CLI over ~22,000 generated statements
#   sort     GNU sort over a generated 2,000,000-line file (two threads)
#   awk      awk word counts and group sums over the same file
# The workloads and their data generator live in tests/programs/
# (workloads.sh, gen_data.py), shared with the benchmarks.
#
# A preloaded run passes when the program exits 0 (with GJBMEM_VALIDATE=1,
# a system heap found damaged at exit aborts it), its output equals the
# plain run's, and its stderr holds the system heap's table ("heap show >>",
# printed at exit because GJBMEM_SHOW=1) naming the policy asked for, which
# shows the replacement really served the program. Timings are printed.
#
# Exit status: 0 pass, 1 failure, 77 skipped (CTest's SKIP_RETURN_CODE):
# in sanitizer builds (GJBMEM_SANITIZE non-empty: ASan/TSan replace malloc
# themselves), and when the dynamic loader cannot preload the library. A
# missing program (python3, sqlite3) is a failure: scripts/deps.sh installs
# them. Environment: see tests/programs/workloads.sh (WL_LINES, ...);
# TMPDIR for the scratch directory (removed on exit).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 LIBGJBMEM_MALLOC_SO" >&2
  exit 1
fi
if [ -n "${GJBMEM_SANITIZE:-}" ]; then
  echo "SKIP: sanitizer build (GJBMEM_SANITIZE=$GJBMEM_SANITIZE): its runtime replaces malloc"
  exit 77
fi
so=$(realpath "$1")
[ -f "$so" ] || { echo "FAIL: $so not found" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../programs/workloads.sh
. "$here/../programs/workloads.sh"

for tool in "$WL_PYTHON" "$WL_SQLITE" "$WL_SORT" "$WL_AWK" cksum cmp; do
  command -v "$tool" >/dev/null 2>&1 ||
    { echo "FAIL: '$tool' not found (scripts/deps.sh installs what the tests need)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gjbmem-real.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Can the loader preload it at all? (A library it refuses is a skip; one it
# loads that then misbehaves is a failure.)
probe_rc=0
env LD_PRELOAD="$so" GJBMEM_SHOW=1 true 2>"$tmp/probe.err" || probe_rc=$?
if grep -q "cannot be preloaded" "$tmp/probe.err"; then
  echo "SKIP: the dynamic loader cannot preload $so:"
  cat "$tmp/probe.err"
  exit 77
fi
if [ "$probe_rc" -ne 0 ] || ! grep -q "heap show >>" "$tmp/probe.err"; then
  echo "FAIL: 'LD_PRELOAD=$so GJBMEM_SHOW=1 true' exited $probe_rc without the heap table:" >&2
  cat "$tmp/probe.err" >&2
  exit 1
fi

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

start=$(now)
data=$tmp/data
t0=$(now)
wl_prepare "$data"
echo "data: $(wc -l <"$data/records.csv") lines of records.csv, $(wc -l <"$data/workload.sql")" \
  "lines of workload.sql, generated in $(secs "$t0" "$(now)") s"

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

printf '%-8s %10s %10s %10s\n' workload plain first-fit buddy
for w in $WL_NAMES; do
  times=()
  rc=0
  t0=$(now)
  wl_run "$w" "" "$data" >"$tmp/$w.plain" 2>"$tmp/$w.plain.err" || rc=$?
  times+=("$(secs "$t0" "$(now)")")
  if [ "$rc" -ne 0 ] || [ ! -s "$tmp/$w.plain" ]; then
    fail "$w: the plain run exited $rc (output $(wc -c <"$tmp/$w.plain") bytes):"
    head -20 "$tmp/$w.plain.err" >&2
    continue
  fi
  for policy in first-fit buddy; do
    out=$tmp/$w.$policy
    rc=0
    t0=$(now)
    GJBMEM_POLICY=$policy GJBMEM_SHOW=1 GJBMEM_VALIDATE=1 wl_run "$w" "$so" "$data" >"$out" 2>"$out.err" || rc=$?
    times+=("$(secs "$t0" "$(now)")")
    if [ "$rc" -ne 0 ]; then
      fail "$w ($policy): exited $rc; stderr:"
      head -40 "$out.err" >&2
    elif ! cmp -s "$tmp/$w.plain" "$out"; then
      fail "$w ($policy): output differs from the plain run:"
      diff "$tmp/$w.plain" "$out" | head -20 >&2 || true
    elif ! grep -q "heap show >>" "$out.err"; then
      fail "$w ($policy): no 'heap show >>' on stderr: the replacement was not in use"
      head -20 "$out.err" >&2
    else
      want=FIRST_FIT
      [ "$policy" = buddy ] && want=BUDDY
      if ! grep -qi "policy $want" "$out.err"; then
        fail "$w ($policy): the heap table does not name policy $want:"
        grep -A6 "heap show >>" "$out.err" | head -8 >&2
      fi
    fi
  done
  printf '%-8s %9ss %9ss %9ss\n' "$w" "${times[@]}"
done

echo "real_programs: $(secs "$start" "$(now)") s in all"
if [ "$failures" -ne 0 ]; then
  echo "real_programs: $failures failure(s)" >&2
  exit 1
fi
echo "real_programs: ok"
