# shellcheck shell=bash
# install_lib.sh - what the tests that install the build share (sourced by
# install_test.sh, install_cmake_test.sh and public_api_test.sh): their two
# arguments, the skip in sanitizer builds, fail/die and the final verdict,
# and the installation of the build into a temporary prefix.
#
#   install_setup NAME SOURCE_DIR BUILD_DIR
#     sets src, build, CC (default cc), CMAKE (default cmake), tmp (removed
#     at exit) and prefix, then installs the build there; exits 77 (CTest's
#     "skipped") when GJBMEM_SANITIZE is set: the installed library would be
#     instrumented.
#   fail MESSAGE      counts a failure and goes on
#   die MESSAGE       fails at once
#   install_verdict NAME   exits 1 when anything failed, else 0

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
die() {
  echo "FAIL: $*" >&2
  exit 1
}

install_setup() {
  local name=$1
  shift
  if [ $# -ne 2 ]; then
    echo "usage: $name SOURCE_DIR BUILD_DIR" >&2
    exit 1
  fi
  src=$1
  build=$2
  CC=${CC:-cc}
  CMAKE=${CMAKE:-cmake}
  if [ -n "${GJBMEM_SANITIZE:-}" ]; then
    echo "SKIP: sanitizer build (GJBMEM_SANITIZE=$GJBMEM_SANITIZE): the installed library is instrumented"
    exit 77
  fi
  [ -f "$build/CMakeCache.txt" ] || die "$build is not a configured build directory"
  [ -f "$src/include/gjbext.h" ] || die "$src is not the gjbmem source directory"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/gjbmem-$name.XXXXXX") || die "mktemp failed"
  trap 'rm -rf "$tmp"' EXIT
  prefix=$tmp/prefix
  unset DESTDIR PKG_CONFIG_SYSROOT_DIR
  if ! "$CMAKE" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    die "cmake --install $build --prefix $prefix failed"
  fi
}

install_verdict() {
  if [ "$failures" -ne 0 ]; then
    echo "$1: $failures failure(s)" >&2
    exit 1
  fi
  echo "$1: all checks passed"
  exit 0
}
