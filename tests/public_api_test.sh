#!/usr/bin/env bash
# public_api_test.sh SOURCE_DIR BUILD_DIR
#
# What libgjbmem.so exports is what its installed headers declare, no more,
# no less. Installs the build into a temporary prefix, then:
#   1. lists the functions the installed libgjbmem.so exports (nm -D
#      --defined-only) and the functions the installed headers declare
#      (tests/public_api_decls.py: every declaration at file scope), and
#      fails on a function exported but declared nowhere (an internal one
#      leaking out) or declared but not exported (GJBMEM_API missing); the
#      library must export no data either;
#   2. checks that libgjbmem-malloc.so exports exactly the malloc family it
#      replaces (the list below);
#   3. checks that <gjbext.h> brings in neither <stdio.h>, <stdlib.h> nor the
#      engine's <gjbmem/heap.h>, and that every installed header compiles on
#      its own (-std=c11 -Wall -Wextra -pedantic -Werror).
#
# Environment: CC (default cc), CMAKE (default cmake), PYTHON (default
# python3), GJBMEM_SANITIZE (non-empty: skipped, exit 77, as the sanitizer
# runtimes add exports of their own). Exit status: 0 pass, 1 failure, 77 skip.
set -uo pipefail
# shellcheck source=tests/install_lib.sh
. "$(dirname "$0")/install_lib.sh"
PYTHON=${PYTHON:-python3}
for tool in "${CMAKE:-cmake}" "${CC:-cc}" "$PYTHON" nm; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done
install_setup public_api_test "$@"
inc=$prefix/include
lib=$(find "$prefix" -name 'libgjbmem.so' | head -n 1)
malloc_lib=$(find "$prefix" -name 'libgjbmem-malloc.so' | head -n 1)
[ -n "$lib" ] || die "libgjbmem.so not installed"
[ -f "$inc/gjbext.h" ] || die "gjbext.h not installed"

# Symbols nm -D lists that every shared object defines (linker-made).
linker_syms='^(_init|_fini|_edata|_end|__bss_start)$'

# --- 1. libgjbmem.so against the headers ------------------------------------
mapfile -t headers < <(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | sort)
"$PYTHON" "$src/tests/public_api_decls.py" "${headers[@]/#/$inc/}" | sort -u >"$tmp/declared" ||
  die "reading the declarations of the installed headers failed"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TWi]$/ { print $3 }' | grep -v -E "$linker_syms" |
  sort -u >"$tmp/exported"
nm -D --defined-only "$lib" | awk '$2 !~ /^[TWiA]$/ { print $3 }' | grep -v -E "$linker_syms" \
  >"$tmp/data" || true
echo "libgjbmem.so exports $(wc -l <"$tmp/exported") functions;" \
     "the installed headers (${#headers[@]}) declare $(wc -l <"$tmp/declared")"
[ -s "$tmp/declared" ] || fail "no declaration found in the installed headers"
extra=$(comm -23 "$tmp/exported" "$tmp/declared" | tr '\n' ' ')
missing=$(comm -13 "$tmp/exported" "$tmp/declared" | tr '\n' ' ')
[ -z "$extra" ] || fail "exported but declared in no installed header (internal): $extra"
[ -z "$missing" ] || fail "declared in an installed header but not exported: $missing"
[ ! -s "$tmp/data" ] || fail "data exported: $(tr '\n' ' ' <"$tmp/data")"

# --- 2. libgjbmem-malloc.so: the malloc family, nothing else -----------------
if [ -n "$malloc_lib" ]; then
  printf '%s\n' aligned_alloc calloc free malloc malloc_usable_size memalign posix_memalign \
    pvalloc realloc reallocarray valloc | sort >"$tmp/malloc_want"
  nm -D --defined-only "$malloc_lib" | awk '{ print $NF }' | grep -v -E "$linker_syms" |
    sort -u >"$tmp/malloc_got"
  if ! cmp -s "$tmp/malloc_want" "$tmp/malloc_got"; then
    fail "libgjbmem-malloc.so exports $(tr '\n' ' ' <"$tmp/malloc_got"), want $(tr '\n' ' ' <"$tmp/malloc_want")"
  else
    echo "libgjbmem-malloc.so exports the $(wc -l <"$tmp/malloc_got") functions of the malloc family"
  fi
fi

# --- 3. the headers themselves -----------------------------------------------
printf '#include <gjbext.h>\nint main(void) { return mpart_module_init(1); }\n' >"$tmp/only.c"
if "$CC" -std=c11 -I"$inc" -M "$tmp/only.c" >"$tmp/only.d" 2>"$tmp/only.log"; then
  for h in stdio.h stdlib.h gjbmem/heap.h; do
    grep -q "[/ ]$h\b" "$tmp/only.d" && fail "<gjbext.h> includes <$h>"
  done
else
  cat "$tmp/only.log" >&2
  fail "<gjbext.h> does not preprocess on its own"
fi
for h in "${headers[@]}"; do
  printf '#include <%s>\ntypedef int one_declaration; /* ISO C: no empty unit */\n' "$h" >"$tmp/one.c"
  "$CC" -std=c11 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/one.c" -o "$tmp/one.o" \
    2>"$tmp/one.log" || { cat "$tmp/one.log" >&2; fail "<$h> does not compile on its own"; }
done

install_verdict public_api_test
