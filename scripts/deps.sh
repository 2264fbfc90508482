#!/usr/bin/env bash
# Installs what building and testing gjbmem needs, when it is missing (Debian).
set -euo pipefail
need=()
command -v cmake >/dev/null || need+=(cmake)
command -v cc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists cmocka 2>/dev/null || need+=(libcmocka-dev)
# tests/malloc/real_programs.sh runs these Debian programs under the malloc
# replacement: python3 (Debian's /usr/bin/python3, with its sqlite3 module),
# the sqlite3 CLI, awk (mawk), sort and cksum (coreutils).
[ -x /usr/bin/python3 ] || need+=(python3)
/usr/bin/python3 -c 'import sqlite3' 2>/dev/null || need+=(libpython3-stdlib)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v awk >/dev/null || need+=(mawk)
command -v sort >/dev/null && command -v cksum >/dev/null || need+=(coreutils)
# tests/tool/svg.sh renders the pictures of `gjbmem replay --svg` with
# rsvg-convert (librsvg2-bin).
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
[ "${GJBMEM_NEED_VALGRIND:-0}" = 1 ] && { command -v valgrind >/dev/null || need+=(valgrind); }
# scripts/test.sh's clang stage.
[ "${GJBMEM_NEED_CLANG:-0}" = 1 ] && { command -v clang >/dev/null || need+=(clang); }
# scripts/embedded.sh: cross compilers for Cortex-M (with newlib, for the
# semihosting start-up of the emulated board's tests) and RISC-V, and the
# QEMU system emulators the core tests run on.
# Installed without their recommended packages (QEMU's would bring a
# desktop's worth of codecs).
embedded=()
if [ "${GJBMEM_NEED_EMBEDDED:-0}" = 1 ]; then
  command -v arm-none-eabi-gcc >/dev/null || embedded+=(gcc-arm-none-eabi)
  [ -f /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/librdimon.a ] || embedded+=(libnewlib-arm-none-eabi)
  command -v riscv64-unknown-elf-gcc >/dev/null || embedded+=(gcc-riscv64-unknown-elf)
  [ -d /usr/lib/picolibc/riscv64-unknown-elf ] || embedded+=(picolibc-riscv64-unknown-elf)
  command -v qemu-system-arm >/dev/null || embedded+=(qemu-system-arm)
  command -v qemu-system-riscv32 >/dev/null || embedded+=(qemu-system-misc)
fi
# scripts/test.sh's 32-bit stage (-m32): the 32-bit C library and libgcc
# (gcc-multilib) and cmocka for i386 (libcmocka-dev:i386, Multi-Arch: same,
# beside the amd64 one), which needs the i386 architecture in dpkg.
add_i386=0
if [ "${GJBMEM_NEED_M32:-0}" = 1 ]; then
  m32_ok=0
  tmp=$(mktemp -d)
  printf 'int main(void) { return 0; }\n' >"$tmp/m.c"
  cc -m32 "$tmp/m.c" -o "$tmp/m" >/dev/null 2>&1 && m32_ok=1
  rm -rf "$tmp"
  [ $m32_ok = 1 ] || need+=(gcc-multilib)
  if [ ! -f /usr/lib/i386-linux-gnu/pkgconfig/cmocka.pc ]; then
    need+=(libcmocka-dev:i386)
    dpkg --print-foreign-architectures | grep -qx i386 || add_i386=1
  fi
fi
[ ${#need[@]} -eq 0 ] && [ ${#embedded[@]} -eq 0 ] && exit 0
echo "deps: installing ${need[*]} ${embedded[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
[ $add_i386 = 1 ] && $sudo dpkg --add-architecture i386
$sudo apt-get update -qq
[ ${#need[@]} -eq 0 ] || $sudo apt-get install -y -qq "${need[@]}" >/dev/null
[ ${#embedded[@]} -eq 0 ] || $sudo apt-get install -y -qq --no-install-recommends "${embedded[@]}" >/dev/null
