#!/usr/bin/env bash
# The core tests on emulated boards: each engine and partition test program
# (both policies, the model-based random tests included) and the bare
# port's own test, built unchanged against the target's C library with
# tests/bare's cmocka shim and hooks, with the library compiled as a
# firmware gets it (freestanding), run under QEMU with semihosting (output
# on the console, main's status as QEMU's exit status): on Cortex-M4 (board
# mps2-an386, newlib) and on RV32 (board virt, picolibc; GJBMEM_BARE_RV32=0
# leaves it out).
#   tests/bare/run.sh [OUT]   (OUT: build-embedded)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-embedded}/qemu
mkdir -p "$out"
# GJBMEM_BARE_TESTS: a space-separated list of test sources to run instead.
tests=(tests/engine/test_engine.c tests/engine/test_heap_model.c tests/engine/test_buddy_model.c
  tests/engine/test_buddy_damage.c tests/engine/test_repair.c
  tests/api/test_mpart_firstfit.c tests/api/test_mpart_buddy.c tests/api/test_mpart.c
  tests/api/test_buddy_bound.c tests/api/test_ff_bound.c tests/bare/test_bare_port.c)

[ -n "${GJBMEM_BARE_TESTS:-}" ] && read -r -a tests <<<"$GJBMEM_BARE_TESTS"
lib=(src/engine/heap.c src/engine/firstfit.c src/engine/buddy.c src/engine/repair.c
  src/core/mpart.c src/core/errpolicy.c src/core/ownership.c src/core/lib.c
  src/core/memshow.c src/core/strerror.c
  src/port/bare/port.c src/port/bare/sysheap.c src/port/bare/nommu.c src/port/bare/noshared.c)
inc=(-Itests/bare/include -Isrc/port/bare/include -Iinclude -Isrc -Isrc/port/bare -Itests
  -Itests/engine -Itests/api)
flags=(-std=c11 -Os -g -Wall -Wextra -Werror -DGJBMEM_HAVE_CONFIG_H -ffunction-sections
  -fdata-sections)
# board cc "cpu flags" "link flags" "harness sources" qemu...: builds the
# library (freestanding, as a firmware gets it) and each test, runs each;
# one PASS or FAIL line per test. The boards run side by side (two jobs).
board() {
  local name=$1 cc=$2 cpu=$3 ldflags=$4 harness=$5
  shift 5
  local dir="$out/$name" objs=() src obj extra
  mkdir -p "$dir/lib"
  # shellcheck disable=SC2086
  for src in "${lib[@]}" $harness; do
    obj="$dir/lib/$(basename "$src" .c).o"
    extra=()
    case $src in src/*) extra=(-ffreestanding) ;; esac
    "$cc" "${flags[@]}" "${extra[@]}" $cpu "${inc[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
  done
  for src in "${tests[@]}"; do
    local t elf start rc secs summary
    t=$(basename "$src" .c)
    elf="$dir/$t.elf"
    # shellcheck disable=SC2086
    "$cc" "${flags[@]}" $cpu "${inc[@]}" $ldflags -Wl,--gc-sections "$src" "${objs[@]}" -o "$elf"
    start=$(date +%s)
    set +e
    timeout 900 "$@" -nographic -monitor none -serial none \
      -semihosting-config enable=on,target=native -kernel "$elf" >"$dir/$t.log" 2>&1
    rc=$?
    set -e
    secs=$(( $(date +%s) - start ))
    summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]' "$dir/$t.log" | tr "\n" " " || true)
    if [ $rc = 0 ]; then
      echo "PASS $name $t (${secs}s): $summary"
    else
      echo "FAIL $name $t (status $rc, ${secs}s): $summary"
      tail -20 "$dir/$t.log"
    fi
  done
}

# Cortex-M4: newlib (librdimon: semihosting), our start-up and linker script.
board cortex-m4 arm-none-eabi-gcc "-mcpu=cortex-m4 -mthumb -mfloat-abi=soft" \
  "-nostartfiles -T tests/bare/mps2.ld --specs=rdimon.specs" \
  "tests/bare/startup_m.c tests/bare/cmocka.c tests/bare/hooks.c" \
  qemu-system-arm -M mps2-an386 >"$out/cortex-m4.out" 2>&1 &
jobs_=("$!")
# RV32: picolibc's start-up for semihosting (its default one loops after
# main), QEMU's virt board (RAM at 0x80000000, started there without
# firmware).
if [ "${GJBMEM_BARE_RV32:-1}" = 1 ]; then
  board rv32imac riscv64-unknown-elf-gcc \
    "--specs=picolibc.specs -march=rv32imac -mabi=ilp32 -mcmodel=medany" \
    "--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x400000 -Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x4000000 -Wl,--defsym=__stack_size=0x10000" \
    "tests/bare/cmocka.c tests/bare/hooks.c" \
    qemu-system-riscv32 -M virt -bios none >"$out/rv32imac.out" 2>&1 &
  jobs_+=("$!")
else
  : >"$out/rv32imac.out"
fi
status=0
for j in "${jobs_[@]}"; do
  wait "$j" || status=1 # a build error
done
cat "$out/cortex-m4.out" "$out/rv32imac.out"
passed=$(cat "$out/cortex-m4.out" "$out/rv32imac.out" | grep -c '^PASS ' || true)
failed=$(cat "$out/cortex-m4.out" "$out/rv32imac.out" | grep -c '^FAIL ' || true)
echo "qemu: $passed passed, $failed failed"
[ "$status" = 0 ] && [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
