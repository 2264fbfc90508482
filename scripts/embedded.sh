#!/usr/bin/env bash
# Builds the engine, the partition API and the bare-metal port for embedded
# targets with -ffreestanding -Wall -Wextra -Werror -Os (and the strict set of
# GJBMEM_WERROR: -Wconversion -Wsign-conversion -Wshadow -Wcast-align -Wundef
# -pedantic): Cortex-M4
# (arm-none-eabi-gcc) and RV32 / RV64 (riscv64-unknown-elf-gcc); prints the
# size table (text, data, bss per object file and total) and checks with nm
# that the objects need nothing from outside but memcpy, memset, memmove and
# the compiler's own helpers (libgcc). Then, unless --build-only, runs the
# core tests on emulated boards (tests/bare/run.sh) and builds and runs the
# CMake firmware project of tests/bare/firmware.
#   scripts/embedded.sh [--build-only] [OUT]   (OUT: build-embedded)
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
[ "${1:-}" = --build-only ] && { build_only=1; shift; }
out=${1:-build-embedded}
GJBMEM_NEED_EMBEDDED=1 scripts/deps.sh
mkdir -p "$out"

# What a firmware compiles (docs/PORTING.md lists the same files).
sources=(src/engine/heap.c src/engine/firstfit.c src/engine/buddy.c
  src/core/mpart.c src/core/errpolicy.c src/core/ownership.c src/core/lib.c
  src/core/memshow.c src/core/strerror.c
  src/port/bare/port.c src/port/bare/sysheap.c src/port/bare/nommu.c src/port/bare/noshared.c)
common=(-std=c11 -Os -ffreestanding -Wall -Wextra -Werror -Wconversion -Wsign-conversion -Wshadow
  -Wcast-align -Wundef -pedantic -ffunction-sections -fdata-sections
  -DGJBMEM_HAVE_CONFIG_H -Isrc/port/bare/include -Iinclude -Isrc -Isrc/port/bare)
# name compiler flags...
targets=(
  "cortex-m4|arm-none-eabi-gcc|-mcpu=cortex-m4 -mthumb -mfloat-abi=soft"
  "rv32imac|riscv64-unknown-elf-gcc|--specs=picolibc.specs -march=rv32imac -mabi=ilp32"
  "rv64imac|riscv64-unknown-elf-gcc|--specs=picolibc.specs -march=rv64imac -mabi=lp64 -mcmodel=medany")
# The libgcc helpers the objects may call (64-bit bit counts and divisions
# on 32-bit targets).
helpers='^(__aeabi_[a-z0-9]+|__(ctz|clz|popcount|ffs)[sdt]i2|__u?(div|mod)[sd]i3|__udivmoddi4|__mul[sd]i3|__(ashl|ashr|lshr)[sd]i3)$'

status=0
for t in "${targets[@]}"; do
  IFS='|' read -r name cc flags <<<"$t"
  dir="$out/$name"
  mkdir -p "$dir"
  objs=()
  for src in "${sources[@]}"; do
    obj="$dir/$(basename "$src" .c).o"
    # shellcheck disable=SC2086
    "$cc" "${common[@]}" $flags -c "$src" -o "$obj"
    objs+=("$obj")
  done
  size=${cc%-gcc}-size
  nm=${cc%-gcc}-nm
  echo "== $name ($cc $flags -Os -ffreestanding): text, data, bss per object file"
  "$size" -t "${objs[@]}" | sed "s|$dir/||"
  # Undefined symbols that no object defines.
  defined=$("$nm" -g --defined-only "${objs[@]}" | awk 'NF==3 {print $3}' | sort -u)
  undefined=$("$nm" -u "${objs[@]}" | awk 'NF==2 {print $2}' | sort -u)
  outside=$(comm -23 <(echo "$undefined") <(echo "$defined"))
  libc=$(echo "$outside" | grep -E '^(memcpy|memset|memmove)$' | tr '\n' ' ' || true)
  libgcc=$(echo "$outside" | grep -E "$helpers" | tr '\n' ' ' || true)
  other=$(echo "$outside" | grep -vE "^(memcpy|memset|memmove)$" | grep -vE "$helpers" | grep . || true)
  echo "   from the C library: ${libc:-none}; from libgcc: ${libgcc:-none}"
  if [ -n "$other" ]; then
    echo "FAIL: $name objects need symbols from outside:" $other >&2
    status=1
  fi
done
[ $status = 0 ] || exit 1
echo "== embedded builds: the objects need only memcpy, memset, memmove and libgcc"
[ $build_only = 1 ] && exit 0
tests/bare/run.sh "$out"
echo "== a firmware project with CMake (tests/bare/firmware, docs/PORTING.md), on mps2-an386"
cmake -S tests/bare/firmware -B "$out/firmware" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/tests/bare/firmware/cortex-m4.cmake" >/dev/null
cmake --build "$out/firmware" -j 2 >/dev/null
timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "$out/firmware/firmware.elf"
