#!/usr/bin/env bash
# The heap engine (src/engine/heap.c, firstfit.c, buddy.c, repair.c) must build
# freestanding and call nothing but memcpy/memmove/memset (docs/DESIGN.md).
# Three builds of it:
#   1. as it is (compiler builtins through compat.h);
#   2. with -DGJB_NO_BUILTINS (compat.h's portable fallbacks); these objects
#      are then linked with tests/engine/freestanding_driver.c, which checks the
#      fallbacks against plain loops and runs both policies through a short
#      random sequence with validation after every step;
#   3. with -m32 (ILP32: one-word headers of 4 bytes, 16-byte minimum
#      FIRST_FIT block), with and without builtins, when the compiler can
#      target it. Where the 32-bit C library's headers are not installed the
#      engine is compiled against a stub <string.h> declaring memcpy,
#      memmove, memset and memcmp (what a bare-metal C library provides). A
#      compiler that cannot target 32-bit at all skips this part with a
#      message.
# The compiler's own runtime helpers are allowed in the builtin builds
# (libgcc's __*di2: __popcountdi2 for a 64-bit population count without
# -mpopcnt, __ctzdi2 for a 64-bit bit scan on 32-bit targets): a
# freestanding program links libgcc anyway. The builds without builtins
# must not need them.
# Usage: freestanding_test.sh <source dir> <binary dir> (CC from the environment)
set -euo pipefail
src=$1 bin=$2
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gjbmem-free.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
engine=(heap firstfit buddy repair)
flags=(-std=c11 -O2 -ffreestanding -fno-builtin -Wall -Wextra -Werror
       -I"$src/include" -I"$bin/include" -I"$src/src")
failed=0

# compile <out dir> <extra flags...>: the engine's files into <out dir>.
compile() {
  local out=$1; shift
  mkdir -p "$out"
  for f in "${engine[@]}"; do
    "$cc" "${flags[@]}" "$@" -c "$src/src/engine/$f.c" -o "$out/$f.o"
  done
}

# check_calls <label> <out dir> [<extra allowed regex>]: what the objects
# call from outside must be memcpy/memmove/memset (or match the extra regex).
check_calls() {
  local label=$1 out=$2 extra=${3:-}
  nm "$out"/*.o | awk '$1 == "U" { print $2 }' | sort -u >"$out/used"
  nm "$out"/*.o | awk 'NF == 3 && $2 ~ /^[TDBR]$/ { print $3 }' | sort -u >"$out/defined"
  local undefined bad
  undefined=$(comm -23 "$out/used" "$out/defined" | tr '\n' ' ')
  echo "$label: the engine calls ${undefined:-nothing}"
  bad=$(comm -23 "$out/used" "$out/defined" | grep -v -x -E 'memcpy|memmove|memset' || true)
  if [ -n "$extra" ]; then
    bad=$(printf '%s\n' "$bad" | grep -v -x -E "$extra" || true)
  fi
  if [ -n "$bad" ]; then
    echo "FAIL ($label): the engine calls outside memcpy/memmove/memset: $(echo $bad)"
    failed=1
  fi
}

libgcc='__[a-z]+[sdt]i[0-9]'

echo "== 1. as configured"
compile "$tmp/std"
check_calls "builtins" "$tmp/std" "$libgcc"

echo "== 2. -DGJB_NO_BUILTINS (compat.h's fallbacks), then run"
compile "$tmp/nobuiltins" -DGJB_NO_BUILTINS
check_calls "no builtins" "$tmp/nobuiltins"
"$cc" -std=c11 -O2 -Wall -Wextra -Werror -DGJB_NO_BUILTINS \
  -I"$src/include" -I"$bin/include" -I"$src/src" \
  "$src/tests/engine/freestanding_driver.c" "$tmp/nobuiltins"/*.o -o "$tmp/driver"
if ! "$tmp/driver"; then
  echo "FAIL: the engine built without builtins does not work"
  failed=1
fi

echo "== 3. -m32"
printf '#include <stddef.h>\n#include <stdint.h>\nint x[sizeof(size_t) == 4 ? 1 : -1];\n' >"$tmp/probe.c"
printf '#include <string.h>\nint y;\n' >"$tmp/probe_string.c"
if ! "$cc" -m32 -ffreestanding -c "$tmp/probe.c" -o "$tmp/probe.o" 2>/dev/null; then
  echo "SKIP: $cc cannot compile for -m32 here; the 32-bit build is not checked"
else
  stub=()
  if ! "$cc" -m32 -ffreestanding -c "$tmp/probe_string.c" -o "$tmp/probe_string.o" 2>/dev/null; then
    echo "(no 32-bit C library headers: compiling against a stub <string.h>)"
    mkdir -p "$tmp/stub"
    cat >"$tmp/stub/string.h" <<'EOF'
#ifndef STUB_STRING_H
#define STUB_STRING_H
#include <stddef.h>
void *memcpy(void *restrict, const void *restrict, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
#endif
EOF
    stub=(-I"$tmp/stub")
  fi
  compile "$tmp/m32" -m32 -fno-pic "${stub[@]}"
  check_calls "-m32" "$tmp/m32" "$libgcc"
  compile "$tmp/m32nb" -m32 -fno-pic -DGJB_NO_BUILTINS "${stub[@]}"
  check_calls "-m32 no builtins" "$tmp/m32nb"
fi

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "PASS: the engine is freestanding"
