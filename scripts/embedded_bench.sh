#!/usr/bin/env bash
# Instructions per mpart_alloc + mpart_free pair and the worst single call,
# both policies (tests/bare/bench_ops.c): on the emulated Cortex-M4 (QEMU
# mps2-an386 with -icount shift=6: every instruction 64 ns of virtual time,
# read through the board's 25 MHz timer, calibrated by the program against
# a loop of known length), the library built at -Os and at -O2 with the
# test hooks' interrupt-masking locks; on RV32 (QEMU virt, -icount shift=7,
# its 10 MHz mtime, -Os, the hooks' locks without masking); and, with
# --host BUILD_DIR (a CMake
# build with libgjbmem.a), on the host under callgrind (pairs only).
#   [GJBMEM_SMALL_CODE=0|1] scripts/embedded_bench.sh [--host BUILD_DIR] [OUT]
#   (OUT: build-embedded/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
host=""
[ "${1:-}" = --host ] && { host=$2; shift 2; }
out=${1:-build-embedded/bench}
mkdir -p "$out"
lib=(src/engine/heap.c src/engine/firstfit.c src/engine/buddy.c
  src/core/mpart.c src/core/errpolicy.c src/core/ownership.c src/core/lib.c
  src/core/memshow.c src/core/strerror.c
  src/port/bare/port.c src/port/bare/sysheap.c src/port/bare/nommu.c src/port/bare/noshared.c)
inc=(-Itests/bare/include -Isrc/port/bare/include -Iinclude -Isrc -Isrc/port/bare)
# GJBMEM_SMALL_CODE=0|1 in the environment: that setting (else the bare port's default, 1)
[ -z "${GJBMEM_SMALL_CODE:-}" ] || inc+=("-DGJBMEM_SMALL_CODE=$GJBMEM_SMALL_CODE")
cpu=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft)
for opt in -Os -O2; do
  dir="$out/cortex-m4$opt"
  mkdir -p "$dir"
  objs=()
  for src in "${lib[@]}"; do
    obj="$dir/$(basename "$src" .c).o"
    arm-none-eabi-gcc -std=c11 "$opt" -ffreestanding -Wall -Wextra -Werror -DGJBMEM_HAVE_CONFIG_H \
      -ffunction-sections -fdata-sections "${cpu[@]}" "${inc[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
  done
  arm-none-eabi-gcc -std=c11 -Os -Wall -Wextra -Werror -DGJBMEM_HAVE_CONFIG_H "${cpu[@]}" "${inc[@]}" \
    -nostartfiles -T tests/bare/mps2.ld --specs=rdimon.specs -Wl,--gc-sections \
    tests/bare/bench_ops.c tests/bare/startup_m.c tests/bare/hooks.c "${objs[@]}" -o "$dir/bench.elf"
  echo "== Cortex-M4 (QEMU mps2-an386, -icount), library at $opt"
  timeout 600 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=6,sleep=off -kernel "$dir/bench.elf"
done
dir="$out/rv32imac-Os"
mkdir -p "$dir"
rv=(--specs=picolibc.specs -march=rv32imac -mabi=ilp32 -mcmodel=medany)
objs=()
for src in "${lib[@]}"; do
  obj="$dir/$(basename "$src" .c).o"
  riscv64-unknown-elf-gcc -std=c11 -Os -ffreestanding -Wall -Wextra -Werror -DGJBMEM_HAVE_CONFIG_H \
    -ffunction-sections -fdata-sections "${rv[@]}" "${inc[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done
riscv64-unknown-elf-gcc -std=c11 -Os -Wall -Wextra -Werror -DGJBMEM_HAVE_CONFIG_H "${rv[@]}" "${inc[@]}" \
  --oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x400000 \
  -Wl,--defsym=__ram=0x80400000 -Wl,--defsym=__ram_size=0x4000000 -Wl,--gc-sections \
  tests/bare/bench_ops.c tests/bare/hooks.c "${objs[@]}" -o "$dir/bench.elf"
echo "== RV32 (QEMU virt, -icount shift=7, 10 MHz mtime), library at -Os"
timeout 600 qemu-system-riscv32 -M virt -bios none -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -icount shift=7,sleep=off -kernel "$dir/bench.elf"
if [ -n "$host" ] && ! command -v valgrind >/dev/null; then
  echo "== host: skipped (no valgrind)"
elif [ -n "$host" ]; then
  echo "== host ($(uname -m), $host/libgjbmem.a, POSIX port), callgrind: instructions per pair"
  cc -std=c11 -O2 -Iinclude -I"$host/include" tests/bare/bench_ops.c "$host/libgjbmem.a" -lpthread \
    -o "$out/bench_host"
  rm -f "$out"/cg.out*
  valgrind --tool=callgrind --toggle-collect=bench_pairs --dump-after=bench_pairs \
    --callgrind-out-file="$out/cg.out" "$out/bench_host" >/dev/null 2>&1
  i=0
  for policy in FIRST_FIT BUDDY; do
    i=$((i + 1))
    total=$(awk '/^totals:/ {print $2}' "$out/cg.out.$i")
    awk -v p=$policy -v t="$total" 'BEGIN { printf "%s: %.1f instructions per mpart_alloc+mpart_free pair\n", p, t / 2000 }'
  done
fi
