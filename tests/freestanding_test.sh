#!/usr/bin/env bash
# The heap engine (src/core/heap.c, ffregion.c, firstfit.c, fftree.c, buddy.c) must build
# freestanding and call nothing but memcpy/memmove/memset.
# Usage: freestanding_test.sh <source dir> <binary dir> (CC from the environment)
set -euo pipefail
src=$1 bin=$2
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gjbmem-free.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for f in heap ffregion firstfit fftree buddy; do
  "$cc" -std=c11 -O2 -ffreestanding -fno-builtin -Wall -Wextra -Werror \
    -I"$src/include" -I"$bin/include" -I"$src/src" -c "$src/src/core/$f.c" -o "$tmp/$f.o"
done
nm "$tmp"/*.o | awk '$1 == "U" { print $2 }' | sort -u >"$tmp/used"
nm "$tmp"/*.o | awk 'NF == 3 && $2 ~ /^[TDBR]$/ { print $3 }' | sort -u >"$tmp/defined"
undefined=$(comm -23 "$tmp/used" "$tmp/defined" | tr '\n' ' ')
echo "engine calls: ${undefined:-nothing}"
bad=$(comm -23 "$tmp/used" "$tmp/defined" | grep -v -x -E 'memcpy|memmove|memset' || true)
if [ -n "$bad" ]; then
  echo "FAIL: the engine calls outside <string.h>: $bad"
  exit 1
fi
echo "PASS: the engine is freestanding"
