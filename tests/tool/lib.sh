# lib.sh - what the tool tests (tests/tool/*.sh) share; sourced, not run.
#
# Environment (set by tests/tool/CMakeLists.txt):
#   GJBMEM             the gjbmem executable
#   GJB_TOOL_BIN       the directory holding the prog_* programs
#   GJB_TOOL_COVERAGE  1 in a coverage build: a recorded process that exits
#                      normally also has libgcov's own calls in its trace
# Each script works in a scratch directory of its own (removed on exit)
# and stops at the first failed assertion with "FAIL: ..." on stderr.
set -eu

: "${GJBMEM:?GJBMEM: the gjbmem executable}"
: "${GJB_TOOL_BIN:?GJB_TOOL_BIN: the directory of the prog_* programs}"
COVERAGE=${GJB_TOOL_COVERAGE:-0}
# Debian's python3 (scripts/deps.sh installs it): quick to start, unlike a
# version manager's shim that may come first in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gjbmem-tool.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
ulimit -c 0 # the programs that die of SIGSEGV or SIGABRT leave no core

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  echo "ok: $*"
}

# prog NAME: the path of test program NAME.
prog() {
  echo "$GJB_TOOL_BIN/$1"
}

# run OUT CMD [ARGS...]: runs the command with stdout in OUT.out and stderr
# in OUT.err; its exit status, as a shell sees it (128 + signal when a
# signal ended it), is left in $rc.
run() {
  local out=$1
  shift
  rc=0
  "$@" >"$out.out" 2>"$out.err" || rc=$?
}

# expect_rc WANT WHAT: $rc must be WANT (run's OUT.err is shown if not).
expect_rc() {
  [ "$rc" = "$1" ] || fail "$2: exit status $rc, expected $1${3:+ (stderr: $(head -c 600 "$3"))}"
}

# json_ok FILE WHAT: FILE must hold one valid JSON document.
json_ok() {
  "$PY" -m json.tool "$1" >/dev/null 2>"$1.jsonerr" ||
    fail "$2: not valid JSON ($(cat "$1.jsonerr")): $(head -c 600 "$1")"
}

# jget FILE EXPR: prints the Python expression EXPR evaluated over d, the
# JSON document in FILE (lists are printed one item a line).
jget() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
if isinstance(v, (list, tuple)):
    for x in v:
        print(x)
else:
    print(v)
EOF
}

# said FILE LABEL: the number a program printed as "LABEL N" in FILE.
said() {
  local n
  n=$(sed -n "s/^$2 \\([0-9][0-9]*\\)\$/\\1/p" "$1")
  [ -n "$n" ] || fail "no '$2 N' line in $1: $(head -c 300 "$1")"
  echo "$n"
}

# record NAME PROGRAM [ARGS...]: records test program PROGRAM into
# NAME.gjbt with --json; the program's stdout is NAME.out, its stderr
# NAME.err without the last line, which is record's JSON summary, kept in
# NAME.rec.json (checked to parse). $rc: record's exit status.
record() {
  local name=$1 p=$2
  shift 2
  run "$name.raw" "$GJBMEM" record -o "$name.gjbt" --json -- "$(prog "$p")" "$@"
  mv "$name.raw.out" "$name.out"
  tail -n 1 "$name.raw.err" >"$name.rec.json"
  sed '$d' "$name.raw.err" >"$name.err"
  json_ok "$name.rec.json" "record --json of $p $*"
}

# replay_json TRACE OUT [ARGS...]: replays TRACE with --json into OUT
# (checked to parse); it must exit 0.
replay_json() {
  local trace=$1 out=$2
  shift 2
  run "$out.run" "$GJBMEM" replay "$trace" --json --quiet "$@"
  expect_rc 0 "replay $trace $*" "$out.run.err"
  mv "$out.run.out" "$out"
  json_ok "$out" "replay --json of $trace $*"
}

# same_calls WHAT EVENTS CALLS [exited]: a trace's EVENTS must equal the
# CALLS its program made. "exited" marks a process that ended normally: in
# a coverage build libgcov's dump at its exit adds calls, so EVENTS >= CALLS
# is all that can be asserted there.
same_calls() {
  if [ "$COVERAGE" = 1 ] && [ "${4:-}" = exited ]; then
    [ "$2" -ge "$3" ] || fail "$1: $2 events recorded, the program made $3 calls (coverage build)"
    return 0
  fi
  [ "$2" = "$3" ] || fail "$1: $2 events recorded, the program made $3 calls"
}
