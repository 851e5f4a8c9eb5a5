#!/bin/sh
# make install puts the mmipc tool where a user finds it: installs the build tree into a
# staging DESTDIR, then checks that the installed program answers --help, that man finds the
# installed page from the program's PATH entry (as `man mmipc` does for /usr/local/bin), and
# that bash-completion loads the installed completion on demand.
#   install_check.sh BUILD_DIR
set -eu
build=$1
stage=$(mktemp -d "${TMPDIR:-/tmp}/mmipc-cli-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage" cmake --install "$build" >"$stage/install.log"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
root=$stage$prefix
fail() { echo "install_check: $*" >&2; exit 1; }

[ -x "$root/bin/mmipc" ] || fail "no $root/bin/mmipc"
"$root/bin/mmipc" --help | grep -q '^Usage: mmipc mq ls \[--json\]$' || fail "mmipc --help"

page=$(PATH="$root/bin:/usr/bin:/bin" MANPATH= man -w mmipc 2>/dev/null) || fail "man -w mmipc finds nothing"
[ "$page" = "$root/share/man/man1/mmipc.1" ] || fail "man -w mmipc gives $page"
PATH="$root/bin:/usr/bin:/bin" MANPATH= MANWIDTH=80 man mmipc 2>/dev/null | grep -Eq 'mmipc +- +inspect, +create' ||
  fail "man mmipc does not show the page"

completion=$root/share/bash-completion/completions/mmipc
[ -f "$completion" ] || fail "no $completion"
if [ -f /usr/share/bash-completion/bash_completion ]; then
  # bash-completion looks in $XDG_DATA_DIRS (default /usr/local/share:/usr/share), under
  # bash-completion/completions: here the staged prefix stands for /usr/local.
  got=$(PATH="$root/bin:$PATH" XDG_DATA_DIRS="$root/share:/usr/share" bash -c '
    . /usr/share/bash-completion/bash_completion
    __load_completion mmipc || exit 1
    COMP_WORDS=(mmipc mq s); COMP_CWORD=2; COMP_LINE="mmipc mq s"; COMP_POINT=${#COMP_LINE}
    _mmipc; echo "${COMPREPLY[*]}"') || fail "bash-completion does not load $completion"
  [ "$got" = "send stat" ] || fail "completion of 'mmipc mq s' gives '$got'"
fi
echo "mmipc, its man page and its bash completion are installed where they are found"
