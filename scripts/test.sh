#!/usr/bin/env bash
# Builds and runs every test three times: a -Werror build (GCC, with the
# strict warnings of GJBMEM_WERROR), an AddressSanitizer +
# UndefinedBehaviorSanitizer build, and a ThreadSanitizer build for the
# multi-threaded tests; the tests again built with Clang and as a 32-bit
# (-m32) program, both -Werror; then every test under
# valgrind memcheck, two GJBMEM_TOOLS builds (blocks described to valgrind
# and to ASan: tests/tools_reports.sh), builds at hardening levels 2 and
# 3, a coverage build that checks the thresholds, a bounded libFuzzer run of each fuzz target
# (scripts/fuzz.sh --ci), the embedded builds and the core tests on emulated
# boards (scripts/embedded.sh); last, that /dev/null is still the device.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

# stage TITLE: how long the stage before took, then the next one's title.
began=
stage() {
  [ -z "$began" ] || echo "   (the stage took $((SECONDS - began)) s; $((SECONDS / 60)) min in all)"
  began=$SECONDS
  echo "== $*"
}

build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGJBMEM_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

stage "build (GCC, -Werror with the strict warnings of GJBMEM_WERROR) and test"
build build
ctest --test-dir build --output-on-failure -j "$jobs"

stage "AddressSanitizer + UndefinedBehaviorSanitizer"
build build-asan -DGJBMEM_SANITIZE=address,undefined -DGJBMEM_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

stage "ThreadSanitizer (multi-threaded tests)"
build build-tsan -DGJBMEM_SANITIZE=thread -DGJBMEM_BENCH=OFF -DGJBMEM_EXAMPLES=OFF
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -L threads -j "$jobs"

stage "Clang (-Werror, strict warnings): build and test"
# Without real_programs (Debian programs under the malloc replacement, ~1 min;
# the GCC stages run it) and the benchmarks.
GJBMEM_NEED_CLANG=1 scripts/deps.sh
CC=clang build build-clang -DGJBMEM_BENCH=OFF
ctest --test-dir build-clang --output-on-failure -j "$jobs" -E '^real_programs$'

stage "32-bit (-m32, -Werror, strict warnings): build and test"
# ILP32: 4-byte size_t and pointers, the engine's 16-byte minimum block. Every
# test program is built and run there too: values that depend on the word
# size are computed, and the few cases that hold only with a 64-bit size_t
# are skipped (ONLY_ON_LP64, tests/wordsize.h). The gjbmem tool (64-bit
# traces) and the benchmarks are left out, and real_programs (64-bit Debian
# programs cannot preload a 32-bit library) skips itself. cmocka and pkg-config's files for
# i386 come from libcmocka-dev:i386 (scripts/deps.sh).
GJBMEM_NEED_M32=1 scripts/deps.sh
PKG_CONFIG_LIBDIR=/usr/lib/i386-linux-gnu/pkgconfig:/usr/share/pkgconfig \
  build build-m32 -DCMAKE_C_FLAGS=-m32 -DGJBMEM_BENCH=OFF -DGJBMEM_TOOL=OFF
ctest --test-dir build-m32 --output-on-failure -j "$jobs"

stage "valgrind memcheck (every test, shortened random runs)"
scripts/memcheck.sh

stage "GJBMEM_TOOLS: partition and system-heap blocks reported by memcheck and ASan (label tools)"
GJBMEM_NEED_VALGRIND=1 scripts/deps.sh # <valgrind/memcheck.h>
tools() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGJBMEM_WERROR=ON -DGJBMEM_TOOLS=ON \
    -DGJBMEM_BENCH=OFF -DGJBMEM_EXAMPLES=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" --target test_tools
  ctest --test-dir "$dir" --output-on-failure -L tools
}
tools build-tools
tools build-tools-asan -DGJBMEM_SANITIZE=address,undefined

stage "hardening levels 2 and 3: every test again (but real_programs)"
# Every stage above builds level 1 (the default). A test, or a case of one,
# that holds only at some levels says so itself and is skipped elsewhere
# (tests/levels.h). Left out here: real_programs (Debian programs under the
# malloc replacement, 65-80 s a level; the GCC stage runs it, and the
# malloc tests run the replacement at every level), to keep CI near 25 min.
for level in 2 3; do
  build "build-hard$level" -DGJBMEM_HARDENING=$level -DGJBMEM_BENCH=OFF -DGJBMEM_EXAMPLES=OFF
  ctest --test-dir "build-hard$level" --output-on-failure -j "$jobs" -E '^real_programs$'
done

stage "line and branch coverage of src/ (src/core, src/vmm, src/engine >= 95% lines, 90% branches)"
scripts/coverage.sh

stage "fuzzing: regression inputs, then each target for a bounded time"
scripts/fuzz.sh --ci

stage "embedded: Cortex-M4, RV32, RV64 freestanding builds and size table; core tests under QEMU"
# scripts/embedded.sh installs the cross compilers and QEMU (deps.sh,
# GJBMEM_NEED_EMBEDDED), builds the engine, partitions and bare port with
# -ffreestanding -Werror -Os for each target, prints text/data/bss, checks
# the objects' outside symbols, then runs the engine and partition tests
# on QEMU's mps2-an386 (Cortex-M4) and virt (RV32) boards (tests/bare/run.sh).
scripts/embedded.sh build-embedded
scripts/embedded_size.sh build-embedded/size
scripts/embedded_bench.sh --host build build-embedded/bench

# Run as root (CI is), a tool that removes and rewrites its output file turns
# /dev/null into a regular file and breaks every later command quietly; gcovr 5
# did (scripts/coverage.sh now writes its reports to files of its own).
[ -c /dev/null ] || { echo "FAIL: /dev/null is no longer a character device" >&2; exit 1; }
stage "all stages passed"
