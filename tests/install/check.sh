#!/bin/sh
# Installs the build tree into a staging DESTDIR, moves the installed tree elsewhere (a
# relocated installation: nothing may point back at the prefix), then builds a C++ program
# against it twice, with CMake's find_package(mmipc) and with pkg-config given only
# PKG_CONFIG_PATH. Each build is in C++20 and in C++23: the package must not impose its own
# -std. Every installed header is compiled into the program too, so none may depend on a
# file that is not installed.
#   check.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
source=$2
stage=$(mktemp -d "${TMPDIR:-/tmp}/mmipc-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage/destdir" cmake --install "$build" >"$stage/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
root="$stage/relocated"
mv "$stage/destdir$prefix" "$root"
rm -rf "$stage/destdir"
test -f "$root/include/mmipc/mapping.hpp"
# Only the API is installed: none of the core's internal headers (src/*.hpp: ipc_args.hpp,
# retry.hpp, ...).
for header in "$source"/src/*.hpp; do
  if test -e "$root/include/mmipc/$(basename "$header")"; then
    echo "an internal header is installed: include/mmipc/$(basename "$header")" >&2
    exit 1
  fi
done
# The license goes with what is installed, and mmipc.pc names it.
cmp "$root/share/doc/mmipc/LICENSE" "$source/LICENSE"
grep -sqx 'License: BSD-2-Clause' "$root"/lib/pkgconfig/mmipc.pc "$root"/lib/*/pkgconfig/mmipc.pc

# One translation unit including every installed public header.
headers="$stage/all_headers.cpp"
for header in "$root"/include/mmipc/*.hpp; do
  echo "#include <mmipc/$(basename "$header")>"
done >"$headers"

# 21 bytes written cyclically into 16: the last 16 ("lled mmipc works") start at 21 % 16 = 5.
expected="workslled mmipc 
an empty semaphore: EBADF"

for std in 20 23; do
  cmake -S "$source/tests/install/consumer" -B "$stage/consumer$std" -DCMAKE_PREFIX_PATH="$root" \
    -DCMAKE_CXX_STANDARD=$std -DMMIPC_CONSUMER_EXTRA_SOURCE="$headers" >"$stage/configure.log"
  cmake --build "$stage/consumer$std" >"$stage/build.log"
  test "$("$stage/consumer$std/consumer")" = "$expected"
done

export PKG_CONFIG_PATH="$root/lib/pkgconfig:$root/lib/x86_64-linux-gnu/pkgconfig"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR 2>/dev/null || true
flags=$(pkg-config --cflags --libs mmipc)
case "$flags" in
  *-std=*) echo "pkg-config mmipc imposes a language standard: $flags" >&2; exit 1 ;;
  *"-I$root/"*) ;;
  *) echo "pkg-config mmipc does not point into the relocated tree $root: $flags" >&2; exit 1 ;;
esac
for std in 20 23; do
  # shellcheck disable=SC2086
  c++ -std=c++$std -DMMIPC_CONSUMER_STANDARD=$std -o "$stage/consumer-pc$std" \
    "$source/tests/install/consumer/main.cpp" "$headers" $flags
  test "$("$stage/consumer-pc$std")" = "$expected"
done
echo "find_package(mmipc) and pkg-config mmipc both build and run (C++20 and C++23) against" \
  "$prefix installed and moved to another directory"
