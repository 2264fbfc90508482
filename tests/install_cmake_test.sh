#!/usr/bin/env bash
# install_cmake_test.sh SOURCE_DIR BUILD_DIR
#
# Installs the build into a temporary prefix (cmake --install --prefix), then
# configures, builds and runs a small CMake project that finds the library
# only through find_package(gjbmem CONFIG) with CMAKE_PREFIX_PATH at the
# prefix: a program linked with gjbmem::gjbmem_shared (it must need
# libgjbmem.so.0 from the prefix), one with gjbmem::gjbmem (the static
# library: no libgjbmem.so), and one with gjbmem::malloc (malloc must come
# from libgjbmem-malloc.so). Also: a version the package does not satisfy is
# refused, and the imported targets carry the include directory.
#
# Environment: CC (default cc), CFLAGS (the build's C flags, e.g. -m32),
# CMAKE (default cmake), GJBMEM_SANITIZE (non-empty: skipped with exit
# status 77, the installed library is instrumented).
# Exit status: 0 pass, 1 failure, 77 skipped.
set -uo pipefail
# shellcheck source=tests/install_lib.sh
. "$(dirname "$0")/install_lib.sh"
CFLAGS=${CFLAGS:-}
install_setup install_cmake_test "$@"
config=$(find "$prefix" -name gjbmemConfig.cmake)
[ -n "$config" ] || die "gjbmemConfig.cmake not installed"
[ -f "$(dirname "$config")/gjbmemConfigVersion.cmake" ] || fail "gjbmemConfigVersion.cmake not installed"
echo "installed: ${config#"$prefix"/}"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")

mkdir -p "$tmp/app"
cat >"$tmp/app/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(gjbmem_consumer C)
find_package(gjbmem $version REQUIRED CONFIG)
if(NOT gjbmem_VERSION VERSION_EQUAL "$version")
  message(FATAL_ERROR "gjbmem_VERSION \${gjbmem_VERSION}, want $version")
endif()
add_executable(app_shared app.c)
target_link_libraries(app_shared PRIVATE gjbmem::gjbmem_shared)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE gjbmem::gjbmem)
add_executable(app_malloc app_malloc.c)
target_link_libraries(app_malloc PRIVATE gjbmem::malloc gjbmem::gjbmem_shared)
EOF
cat >"$tmp/app/app.c" <<'EOF'
#include <gjbext.h>
#include <gjbmem/version.h>

#include <stdio.h>
#include <string.h>

static _Alignas(64) char mem[16 * 1024];

int main(void)
{
    mpart_id mid;
    if (strcmp(gjbmem_version(), GJBMEM_VERSION) != 0)
        return 1;
    if (mpart_create(mem, sizeof mem, &mid) != 0)
        return 2;
    char *p = mpart_alloc(mid, 100);
    if (p == NULL || mpart_free(mid, p) != 0 || mpart_delete(mid) != 0)
        return 3;
    printf("app: ok %s\n", gjbmem_version());
    return 0;
}
EOF
cat >"$tmp/app/app_malloc.c" <<'EOF'
#include <gjbmem/sysheap.h>

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    struct gjbmem_sysheap_stats before, after;
    if (gjbmem_sysheap_stats(&before) != 0)
        return 1;
    void *volatile p = malloc(1000); /* volatile: the call stays */
    if (p == NULL || gjbmem_sysheap_stats(&after) != 0)
        return 2;
    if (after.heap.alloc_blocks != before.heap.alloc_blocks + 1)
        return 3; /* not from the system heap */
    free(p);
    printf("app_malloc: ok\n");
    return 0;
}
EOF

if ! "$CMAKE" -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" >"$tmp/configure.log" 2>&1; then
  cat "$tmp/configure.log" >&2
  die "configuring a project with find_package(gjbmem) failed"
fi
if ! "$CMAKE" --build "$tmp/app/build" >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log" >&2
  die "building against the imported targets failed"
fi
bin=$tmp/app/build
readelf -d "$bin/app_shared" | grep -q 'NEEDED.*libgjbmem\.so\.0' ||
  fail "app_shared (gjbmem::gjbmem_shared) does not depend on libgjbmem.so.0"
resolved=$(env -u LD_LIBRARY_PATH ldd "$bin/app_shared" 2>/dev/null | awk '/libgjbmem\.so/ {print $3}')
case "$(realpath -m "${resolved:-none}")" in
  "$(realpath -m "$prefix")"/*) ;;
  *) fail "app_shared finds libgjbmem at '${resolved:-nothing}', not under $prefix" ;;
esac
! readelf -d "$bin/app_static" | grep -q 'NEEDED.*libgjbmem' ||
  fail "app_static (gjbmem::gjbmem) depends on libgjbmem.so"
for app in app_shared app_static app_malloc; do
  if out=$(env -u LD_LIBRARY_PATH "$bin/$app" 2>&1); then
    echo "$app: $out"
  else
    fail "$app failed (status $?): $out"
  fi
done

# A version the package does not have is refused.
sed -i "s/find_package(gjbmem $version /find_package(gjbmem 99.0 /" "$tmp/app/CMakeLists.txt"
if "$CMAKE" -S "$tmp/app" -B "$tmp/app/build99" -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_C_COMPILER="$CC" >"$tmp/configure99.log" 2>&1; then
  fail "find_package(gjbmem 99.0) accepted version $version"
fi

install_verdict install_cmake_test
