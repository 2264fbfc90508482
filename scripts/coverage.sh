#!/usr/bin/env bash
# Line and branch coverage of src/ by the CTest suite.
#
# Configures a separate build (build-cov/, -O0 --coverage, no benchmarks),
# runs every CTest test there, then runs gcovr over src/:
#   - a text summary per file on stdout, and reports under build-cov/coverage/
#     (coverage.txt, coverage-branches.txt, index.html);
#   - the thresholds: src/core, src/vmm and src/engine (the heap engine, which
#     moved out of src/core with engine v2) each need >= 95 % of lines and
#     >= 90 % of branches. Below that the script prints the short files of the
#     directory and exits 1. src/port is reported but has no threshold.
#
# gcovr is installed with apt-get (Debian package gcovr) when missing.
# Environment: GJB_MODEL_OPS / GJB_STRESS_SCALE are passed through to the
# tests (defaults here keep the run short; coverage does not need the
# full-length randomised runs). COV_LINE / COV_BRANCH override the thresholds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)
dir=build-cov
out=$dir/coverage
line_min=${COV_LINE:-95}
branch_min=${COV_BRANCH:-90}

need_pkg() { # command, package
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "== installing $2 (apt-get)"
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
need_pkg gcovr gcovr

echo "== configure and build ($dir, --coverage -O0)"
# -fprofile-update=atomic: test_threads runs the library on several threads,
# and plain counters would race (gcov then reports negative counts, which
# gcovr refuses to parse).
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DGJBMEM_BENCH=OFF \
  -DCMAKE_C_FLAGS="--coverage -O0 -fprofile-update=atomic" -DCMAKE_EXE_LINKER_FLAGS=--coverage \
  -DCMAKE_SHARED_LINKER_FLAGS=--coverage >/dev/null
cmake --build "$dir" -j "$jobs" >/dev/null

echo "== run the tests"
# Counters from an earlier run would add up: start from zero.
find "$dir" -name '*.gcda' -delete
# install_pkgconfig and install_cmake are left out: they link programs
# against the installed static library through pkg-config or CMake, and an
# instrumented libgjbmem.a needs libgcov, which neither (rightly) lists;
# they test packaging, not src/ (public_api likewise).
GJB_MODEL_OPS=${GJB_MODEL_OPS:-40000} GJB_STRESS_SCALE=${GJB_STRESS_SCALE:-0.3} \
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" -E '^(install_pkgconfig|install_cmake|public_api)$'

mkdir -p "$out"
# Only the library's objects (its object libraries, which the shared, the
# static and the tests' library share): the tests, examples and the
# install/freestanding scratch builds compile no src/ file that the library
# does not. Not the tests' second compilation of vmm_port.c, with fault
# injection (tests/CMakeFiles/gjbmem_hostvm_fault.dir): gcovr cannot merge two
# builds of one file whose functions sit on different lines (src/port has no
# threshold; what the injected faults exercise in src/core and src/vmm is
# counted in gjbmem_api's objects, which the tests' library shares).
gcov_args=(--root "$root" "$dir/CMakeFiles/gjbmem_engine.dir" "$dir/CMakeFiles/gjbmem_api.dir"
           "$dir/CMakeFiles/gjbmem_hostvm.dir")

echo "== coverage of src/ (lines)"
gcovr "${gcov_args[@]}" --filter 'src/' --txt "$out/coverage.txt" --html-details "$out/index.html" \
  --print-summary >/dev/null
cat "$out/coverage.txt"
echo "== coverage of src/ (branches)"
gcovr "${gcov_args[@]}" --filter 'src/' --branches --txt "$out/coverage-branches.txt" >/dev/null
cat "$out/coverage-branches.txt"

status=0
for d in src/core src/vmm src/engine; do
  # Per-directory totals: gcovr's own thresholds over a filter of the directory.
  # The report goes to a file of ours, never /dev/null: gcovr 5 removes the
  # output file after checking that it can write it (as root, the device).
  summary=$(gcovr "${gcov_args[@]}" --filter "$d/" --print-summary --txt "$out/${d//\//-}.txt" \
    --fail-under-line "$line_min" --fail-under-branch "$branch_min" 2>&1) && rc=0 || rc=$?
  lines=$(printf '%s\n' "$summary" | sed -n 's/^lines: *//p')
  branches=$(printf '%s\n' "$summary" | sed -n 's/^branches: *//p')
  if [ "$rc" -eq 0 ]; then
    echo "== $d: lines $lines, branches $branches: ok (>= $line_min % / $branch_min %)"
    continue
  fi
  status=1
  echo "== $d: lines $lines, branches $branches: BELOW the thresholds ($line_min % / $branch_min %)" >&2
  # Which files are short (per-file figures from the JSON summary).
  gcovr "${gcov_args[@]}" --filter "$d/" --json-summary 2>/dev/null |
    python3 -c '
import json, sys
lmin, bmin = float(sys.argv[1]), float(sys.argv[2])
for f in json.load(sys.stdin)["files"]:
    lp = f.get("line_percent") or 0.0
    bp = f.get("branch_percent")
    bp = 100.0 if bp is None else bp
    if lp < lmin or bp < bmin:
        print("   short: %-28s lines %5.1f %% (%d/%d)  branches %5.1f %% (%d/%d)" % (
            f["filename"], lp, f["line_covered"], f["line_total"], bp,
            f["branch_covered"], f["branch_total"]))
' "$line_min" "$branch_min" >&2
done
echo "== reports: $out/coverage.txt, $out/coverage-branches.txt, $out/index.html"
exit "$status"
