#!/usr/bin/env bash
# Checks what valgrind memcheck or AddressSanitizer reports for each mode of
# test_tools (a GJBMEM_TOOLS build; see tests/test_tools.c).
#
# Usage: tools_reports.sh valgrind|asan <test_tools> [mode...]
#   valgrind: a build without ASan, each mode run under
#             valgrind --tool=memcheck --error-exitcode=99
#   asan:     a build with -DGJBMEM_SANITIZE=address,undefined, run directly
# Without modes: clean, reuse and every bad mode (test_tools list).
#
# A bad mode passes when the tool stops it with exactly one report, an
# invalid write (or read, for the *-read-* modes) of one byte whose first
# stack frame is the test_tools function named after the mode; memcheck:
# "Invalid write of size 1" and exit 99, ERROR SUMMARY 1 error; ASan:
# "use-after-poison", WRITE/READ of size 1, exit status not 0. clean and
# reuse pass when the program exits 0 and the tool reports nothing (memcheck
# also checks for definite leaks).
set -uo pipefail
kind=${1:?kind: valgrind or asan} exe=${2:?test_tools executable}
shift 2
if [ $# -gt 0 ]; then
  modes=("$@")
else
  mapfile -t bad < <("$exe" list)
  modes=(clean reuse "${bad[@]}")
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gjbmem-tools.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset GJBMEM_POLICY GJBMEM_HEAP_LIMIT GJBMEM_SHOW

run() { # mode, clean(0/1): runs test_tools under the tool, output in $log, status in $rc
  local mode=$1 good=$2
  case $kind in
    valgrind)
      local leaks=(--leak-check=no)
      [ "$good" = 1 ] && leaks=(--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)
      valgrind --tool=memcheck --error-exitcode=99 "${leaks[@]}" --num-callers=20 "$exe" "$mode" \
        >"$log" 2>&1
      ;;
    asan)
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$exe" "$mode" >"$log" 2>&1
      ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
  rc=$?
}

failed=0
for mode in "${modes[@]}"; do
  log=$tmp/$mode.log
  why=
  case $mode in
    clean|reuse)
      run "$mode" 1
      [ "$rc" -eq 0 ] || why="exit status $rc"
      if [ "$kind" = valgrind ]; then
        grep -q 'ERROR SUMMARY: 0 errors' "$log" || why="$why; memcheck reported errors"
      else
        ! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' "$log" ||
          why="$why; a sanitizer reported"
      fi
      ;;
    *)
      func=${mode//-/_}
      access="write"
      [[ $mode == *-read-* ]] && access="read"
      run "$mode" 0
      if [ "$kind" = valgrind ]; then
        [ "$rc" -eq 99 ] || why="exit status $rc, not 99"
        # the report's first frame: "==pid==    at 0x...: <func> (test_tools.c:line)"
        grep -A1 -E "Invalid $access of size 1" "$log" |
          grep -q -E "at 0x[0-9A-F]+: $func \(([^ ]*/)?test_tools\.c:" ||
          why="$why; no invalid $access reported in $func"
        grep -q 'ERROR SUMMARY: 1 errors from 1 contexts' "$log" || why="$why; not exactly one error"
      else
        [ "$rc" -ne 0 ] || why="exit status 0"
        grep -q 'ERROR: AddressSanitizer: use-after-poison' "$log" || why="$why; no use-after-poison"
        grep -q -E "${access^^} of size 1 at" "$log" || why="$why; no ${access^^} of size 1"
        grep -A1 -E "${access^^} of size 1 at" "$log" | grep -q -E "#0 0x[0-9a-f]+ in $func .*test_tools\.c:" ||
          why="$why; first frame not $func"
      fi
      ;;
  esac
  why=${why#; }
  if [ -z "$why" ]; then
    echo "ok   $mode ($kind)"
  else
    echo "FAIL $mode ($kind): $why"
    sed 's/^/    | /' "$log" | head -60
    failed=$((failed + 1))
  fi
done
echo "tools_reports ($kind): ${#modes[@]} mode(s), $failed failed"
[ "$failed" -eq 0 ]
