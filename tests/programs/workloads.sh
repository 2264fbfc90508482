# shellcheck shell=bash
# workloads.sh - real, unmodified programs run over fixed generated data,
# for comparing malloc implementations. Source it from bash:
#
#   . tests/programs/workloads.sh
#   wl_prepare DATA                 # generate the inputs into DATA (once)
#   wl_run python "$so" DATA >out   # one workload, LD_PRELOAD=$so ("" = none)
#
# Workloads (WL_NAMES), each a function wl_NAME PRELOAD DATA that writes the
# program's deterministic result on stdout and the program's own stderr on
# stderr, and returns the program's exit status. Only the program under test
# runs with LD_PRELOAD=PRELOAD; the small post-processing steps (cksum, sort
# of a 50,000-line report) run without it.
#   python  python3 running stdlib_workload.py (json, re, collections,
#           sorting, strings, a 200,000-entry dict, sqlite3 module, pickle,
#           zlib, threads ...), PYTHONHASHSEED=0
#   sqlite  the sqlite3 CLI running DATA/workload.sql (~22,000 statements)
#           on a fresh database file DATA/wl.db
#   sort    GNU sort of DATA/records.csv (2,000,000 lines, 130 MB) on two
#           keys, two threads, a 256 MiB buffer; output checksummed
#   awk     awk word counts and group sums over DATA/records.csv
#
# Environment: WL_PYTHON (default /usr/bin/python3, else python3 on PATH),
# WL_AWK (default awk), WL_SQLITE (default sqlite3), WL_SORT (default sort),
# WL_LINES / WL_SQL_ROWS (data sizes, read by wl_prepare; defaults 2000000 /
# 20000), WL_PY_SCALE (stdlib_workload.py's scale, default 1).
#
# The functions set no shell options: call them where errexit does not apply
# (e.g. "wl_run ... || rc=$?"); a workload's status is the first non-zero
# status of its pipeline, the program's first.

WL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WL_NAMES="python sqlite sort awk"

if [ -z "${WL_PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then WL_PYTHON=/usr/bin/python3; else WL_PYTHON=python3; fi
fi
: "${WL_AWK:=awk}" "${WL_SQLITE:=sqlite3}" "${WL_SORT:=sort}"

# wl__with PRELOAD CMD... : CMD with LD_PRELOAD=PRELOAD, or without any.
wl__with() {
  local pre=$1
  shift
  if [ -n "$pre" ]; then
    env LD_PRELOAD="$pre" "$@"
  else
    env -u LD_PRELOAD "$@"
  fi
}

# wl__status STATUS...: the first non-zero status of a pipeline, else 0.
wl__status() {
  local st
  for st in "$@"; do
    [ "$st" -eq 0 ] || return "$st"
  done
  return 0
}

# wl_prepare DATA: generates records.csv and workload.sql into DATA unless
# they are there already for the same sizes.
wl_prepare() {
  local data=$1 lines=${WL_LINES:-2000000} rows=${WL_SQL_ROWS:-20000} stamp
  stamp="$lines $rows $(cksum <"$WL_DIR/gen_data.py")" || return
  mkdir -p "$data" || return
  if [ -f "$data/.stamp" ] && [ "$(cat "$data/.stamp")" = "$stamp" ]; then
    return 0
  fi
  rm -f "$data/.stamp"
  env -u LD_PRELOAD "$WL_PYTHON" "$WL_DIR/gen_data.py" "$data" "$lines" "$rows" || return
  printf '%s\n' "$stamp" >"$data/.stamp"
}

wl_python() {
  wl__with "$1" env PYTHONHASHSEED=0 "$WL_PYTHON" "$WL_DIR/stdlib_workload.py" "${WL_PY_SCALE:-1}"
}

wl_sqlite() {
  local db=$2/wl.db rc=0
  rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
  wl__with "$1" "$WL_SQLITE" "$db" <"$2/workload.sql" || rc=$?
  rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
  return $rc
}

wl_sort() {
  local tmp=$2/sort-tmp st
  mkdir -p "$tmp"
  wl__with "$1" env LC_ALL=C "$WL_SORT" -t, -k3,3 -k4,4nr --parallel=2 -S 256M -T "$tmp" \
    "$2/records.csv" | env -u LD_PRELOAD cksum
  st=("${PIPESTATUS[@]}")
  rm -rf "$tmp"
  wl__status "${st[@]}"
}

wl_awk() {
  # shellcheck disable=SC2016 # awk program
  wl__with "$1" env LC_ALL=C "$WL_AWK" -F, '
      { n[$2]++; s[$2] += $4; cn[$3]++; cs[$3] += $4; tot += $4
        nw = split($5, w, " "); for (i = 1; i <= nw; i++) wc[w[i]]++
        if (length($5) > maxlen) { maxlen = length($5); longest = $1 } }
      END {
        for (k in cs) printf "city %s %d %d\n", k, cn[k], cs[k]
        for (k in wc) printf "word %s %d\n", k, wc[k]
        for (k in n) printf "key %s %d %d\n", k, n[k], s[k]
        printf "total %d %d %d %s\n", NR, tot, maxlen, longest
      }' "$2/records.csv" | env -u LD_PRELOAD LC_ALL=C sort
  wl__status "${PIPESTATUS[@]}"
}

# wl_run NAME PRELOAD DATA
wl_run() {
  case " $WL_NAMES " in
    *" $1 "*) "wl_$1" "$2" "$3" ;;
    *) echo "wl_run: unknown workload '$1' (have: $WL_NAMES)" >&2; return 2 ;;
  esac
}
