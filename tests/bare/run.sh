#!/usr/bin/env bash
# The core tests on an emulated Cortex-M board: each engine and partition
# test program (both policies, the model-based random tests included) and
# the bare port's own test, built unchanged for Cortex-M4 against newlib
# with tests/bare's cmocka shim, start-up code and hooks, and run on QEMU's
# mps2-an386 (Cortex-M4) with semihosting (output on the console, main's status as the
# exit status). Then the bare port's test on RV32 (QEMU virt board,
# picolibc's semihosting) when the toolchain and emulator are there.
#   tests/bare/run.sh [OUT]   (OUT: build-embedded)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-embedded}/qemu
mkdir -p "$out"
# GJBMEM_BARE_TESTS: a space-separated list of test sources to run instead.
# Not here: test_buddy_damage.c, whose damage is laid out for the hosts'
# 16-byte granule (32-byte BUDDY units) in its literals; Cortex-M's is 8.
tests=(tests/engine/test_engine.c tests/engine/test_heap_model.c tests/engine/test_buddy_model.c
  tests/engine/test_repair.c
  tests/api/test_mpart_firstfit.c tests/api/test_mpart_buddy.c tests/api/test_mpart.c
  tests/bare/test_bare_port.c)

[ -n "${GJBMEM_BARE_TESTS:-}" ] && read -r -a tests <<<"$GJBMEM_BARE_TESTS"
lib=(src/engine/heap.c src/engine/firstfit.c src/engine/buddy.c src/engine/repair.c
  src/core/mpart.c src/core/errpolicy.c src/core/ownership.c src/core/lib.c
  src/core/memshow.c src/core/strerror.c
  src/port/bare/port.c src/port/bare/sysheap.c src/port/bare/nommu.c src/port/bare/noshared.c)
harness=(tests/bare/startup_m.c tests/bare/cmocka.c tests/bare/hooks.c)
cc=arm-none-eabi-gcc
cpu=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft)
inc=(-Itests/bare/include -Isrc/port/bare/include -Iinclude -Isrc -Isrc/port/bare -Itests
  -Itests/engine -Itests/api)
flags=(-std=c11 -Os -g -Wall -Wextra -Werror -DGJBMEM_HAVE_CONFIG_H -ffunction-sections
  -fdata-sections)
# The library as a firmware gets it (freestanding), once.
objs=()
mkdir -p "$out/lib"
for src in "${lib[@]}" "${harness[@]}"; do
  obj="$out/lib/$(basename "$src" .c).o"
  extra=()
  case $src in src/*) extra=(-ffreestanding) ;; esac
  "$cc" "${flags[@]}" "${extra[@]}" "${cpu[@]}" "${inc[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done
failed=0
passed=0
for src in "${tests[@]}"; do
  name=$(basename "$src" .c)
  elf="$out/$name.elf"
  "$cc" "${flags[@]}" "${cpu[@]}" "${inc[@]}" -nostartfiles -T tests/bare/mps2.ld \
    --specs=rdimon.specs -Wl,--gc-sections "$src" "${objs[@]}" -o "$elf"
  start=$(date +%s)
  set +e
  timeout 900 qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -serial none -semihosting-config enable=on,target=native -kernel "$elf" >"$out/$name.log" 2>&1
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]' "$out/$name.log" | tr "\n" " " || true)
  if [ $rc = 0 ]; then
    passed=$((passed + 1))
    echo "PASS cortex-m4 $name (${secs}s): $summary"
  else
    failed=$((failed + 1))
    echo "FAIL cortex-m4 $name (status $rc, ${secs}s): $summary"
    tail -20 "$out/$name.log"
  fi
done
echo "qemu: $passed passed, $failed failed"
[ $failed = 0 ]
