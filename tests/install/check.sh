#!/bin/sh
# Installs the build tree into a staging DESTDIR, then builds a C++ program against it twice:
# with CMake's find_package(mmipc) and with pkg-config. Both must compile, link and run.
#   check.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
source=$2
stage=$(mktemp -d "${TMPDIR:-/tmp}/mmipc-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage" cmake --install "$build" >"$stage/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
root="$stage$prefix"
test -f "$root/include/mmipc/mapping.hpp"
# 21 bytes written cyclically into 16: the last 16 ("lled mmipc works") start at 21 % 16 = 5.
expected="workslled mmipc "

cmake -S "$source/tests/install/consumer" -B "$stage/consumer" -DCMAKE_PREFIX_PATH="$root" \
  >"$stage/configure.log"
cmake --build "$stage/consumer" >"$stage/build.log"
test "$("$stage/consumer/consumer")" = "$expected"

export PKG_CONFIG_PATH="$root/lib/pkgconfig:$root/lib/x86_64-linux-gnu/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$stage"
# shellcheck disable=SC2046
c++ -o "$stage/consumer-pc" "$source/tests/install/consumer/main.cpp" \
  $(pkg-config --cflags --libs mmipc)
test "$("$stage/consumer-pc")" = "$expected"
echo "find_package(mmipc) and pkg-config mmipc both build and run against $prefix"
