#!/bin/sh
# Installs the build tree into a staging DESTDIR and loads the installed Tcl packages into
# every tclsh the build made them for, with nothing but the installed Tcl directory on
# TCLLIBPATH. Checks TEA's layout: each package folder holds one pkgIndex.tcl and one binary
# per Tcl (libmmap1.2.so for 8.6, libtcl9mmap1.2.so for 9), and each interpreter loads its
# own from there.
#   tcl_packages.sh BUILD_DIR TCLSH...
set -eu
build=$1
shift
stage=$(mktemp -d "${TMPDIR:-/tmp}/mmipc-tcl-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage" cmake --install "$build" >"$stage/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
tcldir=$(sed -n 's/^MMIPC_TCL_INSTALL_DIR:PATH=//p' "$build/CMakeCache.txt")
case $tcldir in /*) root="$stage$tcldir" ;; *) root="$stage$prefix/$tcldir" ;; esac

expected_mmap="pkgIndex.tcl"
expected_posixipc="pkgIndex.tcl"
for tclsh in "$@"; do
  major=$(echo 'puts [lindex [split [info tclversion] .] 0]' | "$tclsh")
  file_prefix=""
  [ "$major" = 8 ] || file_prefix="tcl$major"
  expected_mmap="$expected_mmap lib${file_prefix}mmap1.2.so"
  expected_posixipc="$expected_posixipc lib${file_prefix}posixipc1.1.so"
  # What the user's one-liner prints, then where each binary came from.
  got=$(echo 'puts [package require mmap]; puts [package require posixipc]
    foreach p {mmap posixipc} {puts [lindex [package ifneeded $p [package provide $p]] 1]}' |
    TCLLIBPATH="$root" "$tclsh")
  want="1.2
1.1
$root/mmap1.2/lib${file_prefix}mmap1.2.so
$root/posixipc1.1/lib${file_prefix}posixipc1.1.so"
  if [ "$got" != "$want" ]; then
    printf '%s: expected\n%s\ngot\n%s\n' "$tclsh" "$want" "$got" >&2
    exit 1
  fi
  echo "$tclsh (Tcl $major): mmap 1.2 and posixipc 1.1 load from $root"
  # Installed for real, the directory must be one this tclsh searches by itself (README).
  if [ "$prefix" = /usr/local ] && [ "$tcldir" = lib/tcltk ]; then
    if ! echo 'puts [expr {"/usr/local/lib/tcltk" in $auto_path}]' | env -u TCLLIBPATH "$tclsh" |
      grep -qx 1; then
      echo "$tclsh does not search /usr/local/lib/tcltk: make install would not be found" >&2
      exit 1
    fi
  fi
done

sorted() { for word in "$@"; do echo "$word"; done | sort | tr '\n' ' '; }
# shellcheck disable=SC2086
for package in mmap1.2 posixipc1.1; do
  case $package in mmap*) want=$(sorted $expected_mmap) ;; *) want=$(sorted $expected_posixipc) ;; esac
  got=$(sorted $(ls "$root/$package"))
  if [ "$got" != "$want" ]; then
    echo "$root/$package holds: $got; expected: $want" >&2
    exit 1
  fi
done
echo "one package folder per package, one pkgIndex.tcl, one binary per Tcl"
