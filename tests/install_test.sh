#!/usr/bin/env bash
# install_test.sh SOURCE_DIR BUILD_DIR
#
# Installs the build into a temporary prefix (cmake --install --prefix), then
# builds a small program against the installed headers and libraries using
# only what gjbmem.pc says: once against the shared library (run with
# LD_LIBRARY_PATH at the installed lib dir) and once statically against
# libgjbmem.a (pkg-config --static), and runs both.
#
# Environment: CC (default cc), CFLAGS (the build's C flags, e.g. -m32),
# CMAKE (default cmake), GJBMEM_SANITIZE (the
# build's sanitizers: when non-empty the installed library is instrumented
# and the test is skipped with exit status 77, CTest's SKIP_RETURN_CODE).
# Exit status: 0 pass, 1 failure, 77 skipped.
set -uo pipefail
# shellcheck source=tests/install_lib.sh
. "$(dirname "$0")/install_lib.sh"

for tool in "${CMAKE:-cmake}" "${CC:-cc}" pkg-config readelf; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found"
done
install_setup install_test "$@"

mapfile -t pcs < <(find "$prefix" -name gjbmem.pc -path '*/pkgconfig/*')
[ ${#pcs[@]} -eq 1 ] || die "expected one installed gjbmem.pc, found ${#pcs[@]}: ${pcs[*]:-none}"
pcdir=$(dirname "${pcs[0]}")
libdir=$(dirname "$pcdir")
echo "installed: ${pcs[0]#"$prefix"/}"

for f in gjbext.h gjbmem/config.h gjbmem/version.h gjbmem/heap.h gjbmem/mpart.h gjbmem/posix.h; do
  [ -f "$prefix/include/$f" ] || fail "header $f not installed under $prefix/include"
done
[ -z "$(find "$prefix" -name '*_internal.h')" ] || fail "private headers installed"
[ -f "$libdir/libgjbmem.a" ] || fail "libgjbmem.a not installed in $libdir"
[ -e "$libdir/libgjbmem.so" ] || fail "libgjbmem.so not installed in $libdir"
[ -n "$(find "$libdir" -maxdepth 1 -name 'libgjbmem.so.0*')" ] || fail "libgjbmem.so.0 (soname) not installed"

# --- gjbmem.pc -------------------------------------------------------------
export PKG_CONFIG_PATH=$pcdir
pc=(pkg-config)
pkg-config --exists gjbmem || die "pkg-config cannot find gjbmem in $pcdir"

want_version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
got_version=$(pkg-config --modversion gjbmem)
[ -z "$want_version" ] || [ "$got_version" = "$want_version" ] ||
  fail "gjbmem.pc version $got_version, project version $want_version"

# The .pc must describe where the files are now: after
# 'cmake --install --prefix P' its prefix must be P, not the configure-time
# CMAKE_INSTALL_PREFIX.
pc_prefix=$(pkg-config --variable=prefix gjbmem)
pc_libdir=$(pkg-config --variable=libdir gjbmem)
pc_incdir=$(pkg-config --variable=includedir gjbmem)
if [ "$(realpath -m "$pc_libdir")" != "$(realpath -m "$libdir")" ] ||
   [ ! -f "$pc_incdir/gjbext.h" ]; then
  fail "gjbmem.pc is not relocatable: installed with --prefix $prefix it says" \
       "prefix=$pc_prefix libdir=$pc_libdir includedir=$pc_incdir"
  # Go on with the prefix forced, to test the rest of the installation.
  pc=(pkg-config "--define-variable=prefix=$prefix")
fi

cflags=$("${pc[@]}" --cflags gjbmem) || die "pkg-config --cflags failed"
libs=$("${pc[@]}" --libs gjbmem) || die "pkg-config --libs failed"
static_libs=$("${pc[@]}" --static --libs gjbmem) || die "pkg-config --static --libs failed"
echo "cflags: $cflags"
echo "libs: $libs"
echo "static libs: $static_libs"
case " $static_libs " in
  *" -pthread "* | *" -lpthread "*) ;;
  *) fail "pkg-config --static --libs does not name the thread library" ;;
esac

# --- the program -----------------------------------------------------------
cat >"$tmp/app.c" <<'EOF'
#include <gjbext.h>
#include <gjbmem/posix.h>
#include <gjbmem/version.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHECK(c)                                                        \
    do {                                                                \
        if (!(c)) {                                                     \
            fprintf(stderr, "app: line %d: %s failed (errno %d: %s)\n", \
                    __LINE__, #c, errno, gjbmem_strerror(errno));       \
            return 1;                                                   \
        }                                                               \
    } while (0)

static _Alignas(64) char mem[64 * 1024];

int main(void)
{
    mpart_id mid = 0;
    struct partinfo pi;

    CHECK(strcmp(gjbmem_version(), GJBMEM_VERSION) == 0);
    CHECK(mpart_create(mem, sizeof mem, &mid) == 0);
    char *p = mpart_alloc(mid, 100);
    CHECK(p != NULL && p >= mem && p < mem + sizeof mem);
    memset(p, 0x5a, 100);
    char *q = mpart_memalign(mid, 256, 200);
    CHECK(q != NULL && (uintptr_t)q % 256 == 0);
    p = mpart_realloc(mid, p, 5000);
    CHECK(p != NULL);
    for (int i = 0; i < 100; i++)
        CHECK(p[i] == 0x5a);
    CHECK(mpart_getinfo(mid, &pi) == 0 && pi.segment >= 3);
    CHECK(pi.used + pi.free <= sizeof mem && pi.maxused >= pi.used);

    gjbmem_posix_set_isr(1);
    errno = 0;
    CHECK(mpart_alloc(mid, 10) == NULL && errno == ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);

    CHECK(mpart_free(mid, q) == 0);
    CHECK(mpart_free(mid, p) == 0);
    errno = 0;
    CHECK(mpart_free(mid, p) == -1 && errno == ERROR_REGION_NULL);
    CHECK(mpart_getinfo(mid, &pi) == 0 && pi.segment == 1);
    CHECK(mpart_validate(mid) == 0);
    CHECK(mpart_findmaxfree(mid) > 60 * 1024);
    CHECK(mpart_delete(mid) == 0);
    errno = 0;
    CHECK(mpart_alloc(mid, 10) == NULL && errno == ERROR_KERNEL_HANDLE_NULL);
    printf("app: ok (%s)\n", gjbmem_strerror(ERROR_KERNEL_HANDLE_NULL));
    return 0;
}
EOF

# shellcheck disable=SC2206 # CFLAGS is a list of words
std_flags=(-std=c11 -Wall -Wextra -Werror ${CFLAGS:-})

# Shared: built with pkg-config --cflags --libs, run from the installed lib dir.
# shellcheck disable=SC2086 # pkg-config output is a list of words
if "$CC" "${std_flags[@]}" "$tmp/app.c" -o "$tmp/app_shared" $cflags $libs 2>"$tmp/cc_shared.log"; then
  readelf -d "$tmp/app_shared" | grep -q 'NEEDED.*libgjbmem\.so\.0' ||
    fail "app_shared does not depend on libgjbmem.so.0"
  resolved=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/app_shared" 2>/dev/null | awk '/libgjbmem/ {print $3}')
  if [ -z "$resolved" ] || [ "$(realpath -m "$resolved")" != "$(realpath -m "$libdir/libgjbmem.so.0")" ]; then
    fail "app_shared resolves libgjbmem to '${resolved:-nothing}', not $libdir"
  fi
  if out=$(LD_LIBRARY_PATH=$libdir "$tmp/app_shared" 2>&1); then
    echo "shared: $out"
  else
    fail "app_shared failed: $out"
  fi
else
  cat "$tmp/cc_shared.log" >&2
  fail "compiling against the installed shared library failed"
fi

# Static: pkg-config --static, with libgjbmem.a chosen over libgjbmem.so.
static_link=${static_libs//-lgjbmem/-l:libgjbmem.a}
# shellcheck disable=SC2086
if "$CC" "${std_flags[@]}" "$tmp/app.c" -o "$tmp/app_static" $cflags $static_link 2>"$tmp/cc_static.log"; then
  if readelf -d "$tmp/app_static" | grep -q 'NEEDED.*libgjbmem'; then
    fail "app_static still depends on libgjbmem.so"
  fi
  if out=$(env -u LD_LIBRARY_PATH "$tmp/app_static" 2>&1); then
    echo "static: $out"
  else
    fail "app_static failed: $out"
  fi
else
  cat "$tmp/cc_static.log" >&2
  fail "linking statically against the installed libgjbmem.a failed"
fi

install_verdict install_test
