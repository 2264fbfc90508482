#!/usr/bin/env bash
# Code size of the allocation paths at -Os on Cortex-M4 and RV32: a program
# that calls only mpart_alloc, mpart_free, mpart_memalign and mpart_realloc
# (tests/bare/size_ours.c), linked without a C library with
# -ffunction-sections -fdata-sections --gc-sections, so that it holds what
# those calls can reach; the sizes of its functions (nm -S) are summed,
# leaving out the harness (its entry and memcpy/memset/memmove) and
# listing libgcc's helpers apart. "+create" adds mpart_create. BUDDY's
# functions (gjb_bd_* in the engine; mpart.c's alloc_buddy, take_buddy,
# memalign_buddy_locked, free_buddy: a "buddy" word in the name) are
# reached through the same calls (the policy is chosen at run time) and
# are shown apart: FIRST_FIT's paths are the rest.
# With GJBMEM_TLSF_DIR (a directory with TLSF 3.1's tlsf.c and tlsf.h, kept
# outside this repository) TLSF is built the same way (with -DNDEBUG, its
# release build: its asserts are its validation) and measured beside it
# (tests/bare/size_tlsf.c), and so is a floor: TLSF with the least the
# partition contract asks of the same calls (tests/bare/size_floor.c; "the
# contract" is its size less TLSF's).
#   scripts/embedded_size.sh [OUT]   (OUT: build-embedded/size)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-embedded/size}
mkdir -p "$out"
sources=(src/engine/heap.c src/engine/firstfit.c src/engine/buddy.c
  src/core/mpart.c src/core/errpolicy.c src/core/ownership.c src/core/lib.c
  src/core/memshow.c src/core/strerror.c
  src/port/bare/port.c src/port/bare/sysheap.c src/port/bare/nommu.c src/port/bare/noshared.c)
common=(-std=c11 -Os -ffreestanding -Wall -Wextra -Werror -ffunction-sections -fdata-sections)
ours=(-DGJBMEM_HAVE_CONFIG_H -Isrc/port/bare/include -Iinclude -Isrc -Isrc/port/bare)
# GJBMEM_SMALL_CODE=0|1 in the environment: that setting (else the bare port's default, 1)
[ -z "${GJBMEM_SMALL_CODE:-}" ] || ours+=("-DGJBMEM_SMALL_CODE=$GJBMEM_SMALL_CODE")
link=(-nostdlib -nostartfiles -Wl,--gc-sections -Wl,-e,size_harness_start)
helpers='^(__aeabi_[a-z0-9_]+|__(ctz|clz|popcount|ffs)[sdt]i2|__u?(div|mod)[sd]i3|__udivmoddi4|__mul[sd]i3|__(ashl|ashr|lshr)[sd]i3|__gnu_[a-z_]+)$'
targets=(
  "cortex-m4|arm-none-eabi-gcc|-mcpu=cortex-m4 -mthumb -mfloat-abi=soft"
  "rv32imac|riscv64-unknown-elf-gcc|--specs=picolibc.specs -march=rv32imac -mabi=ilp32")

# elf nm: "code rodata buddy libgcc" byte sums of the program's symbols.
sums() {
  "$2" -S --size-sort -t d "$1" | awk -v helpers="$helpers" '
    NF == 4 {
      size = $2 + 0; type = $3; name = $4
      if (name ~ /^size_harness_/ || name ~ /^(memcpy|memset|memmove|printf)$/) next
      if (name ~ helpers) { lib += size; next }
      if (type ~ /[tTwW]/) { code += size; if (name ~ /^gjb_bd_|(^|_)buddy(_|$)/) bd += size }
      else if (type ~ /[rR]/) ro += size
    }
    END { printf "%d %d %d %d\n", code, ro, bd, lib }'
}

printf '%-10s %-22s %8s %8s %8s %8s\n' target program code rodata "of it BD" libgcc
for t in "${targets[@]}"; do
  IFS='|' read -r name cc flags <<<"$t"
  nm=${cc%-gcc}-nm
  dir="$out/$name"
  mkdir -p "$dir"
  objs=()
  for src in "${sources[@]}"; do
    obj="$dir/$(basename "$src" .c).o"
    # shellcheck disable=SC2086
    "$cc" "${common[@]}" "${ours[@]}" $flags -c "$src" -o "$obj"
    objs+=("$obj")
  done
  for create in "" -DSIZE_CREATE; do
    label=${create:+"+create"}
    # shellcheck disable=SC2086
    "$cc" "${common[@]}" "${ours[@]}" $flags $create "${link[@]}" -Itests/bare \
      tests/bare/size_ours.c "${objs[@]}" -lgcc -Wl,-Map="$dir/ours$label.map" -o "$dir/ours$label.elf"
    read -r code ro bd lib < <(sums "$dir/ours$label.elf" "$nm")
    printf '%-10s %-22s %8d %8d %8d %8d\n' "$name" "gjbmem$label" "$code" "$ro" "$bd" "$lib"
    printf '%-10s %-22s %8d\n' "$name" "gjbmem FIRST_FIT$label" $((code - bd))
    echo "           by object (harness included): $(python3 scripts/mapsizes.py "$dir/ours$label.map")"
    if [ -n "${GJBMEM_TLSF_DIR:-}" ]; then
      # shellcheck disable=SC2086
      "$cc" "${common[@]}" -Wno-error $flags $create -DNDEBUG "${link[@]}" -Itests/bare \
        -I"$GJBMEM_TLSF_DIR" tests/bare/size_tlsf.c "$GJBMEM_TLSF_DIR/tlsf.c" -lgcc \
        -o "$dir/tlsf$label.elf"
      read -r code ro bd lib < <(sums "$dir/tlsf$label.elf" "$nm")
      printf '%-10s %-22s %8d %8d %8s %8d\n' "$name" "TLSF 3.1$label" "$code" "$ro" - "$lib"
      tlsf=$code
      # shellcheck disable=SC2086
      "$cc" "${common[@]}" $flags $create -DNDEBUG -Itests/bare -I"$GJBMEM_TLSF_DIR" \
        -c tests/bare/size_floor.c -o "$dir/floor$label.o"
      # shellcheck disable=SC2086
      "$cc" "${common[@]}" -Wno-error $flags -DNDEBUG "${link[@]}" -I"$GJBMEM_TLSF_DIR" \
        "$dir/floor$label.o" "$GJBMEM_TLSF_DIR/tlsf.c" -lgcc -o "$dir/floor$label.elf"
      read -r code ro bd lib < <(sums "$dir/floor$label.elf" "$nm")
      printf '%-10s %-22s %8d %8d %8s %8d   (the contract: %d)\n' "$name" "TLSF + contract$label" \
        "$code" "$ro" - "$lib" $((code - tlsf))
    fi
  done
done
