# Demo: mmipc - the posixipc demo's queue server answered from the shell
#
# The Tcl server of the posixipc demonstration (examples/tcl/posixipc-server.tcl) reads one
# request per line from a queue and writes one reply line to another. Here the shell is its
# client: mmipc creates the queues, sends a request and receives the reply, and lists the
# queues. Runs on its own too, with mmipc on the PATH and the posixipc package installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mmipc=${MMIPC_BUILD_DIR:+$MMIPC_BUILD_DIR/bin/}mmipc
tclsh=$(command -v tclsh8.6 || command -v tclsh)
tag=$$
requests=/demo-requests-$tag
replies=/demo-replies-$tag
board=/demo-board-$tag

# Shows a command as typed (mmipc for its path), then runs it, its output indented.
run() {
  local shown=$1
  shift
  printf '  $ %s\n' "$shown"
  "$@" 2>&1 | sed 's/^/    /'
}

server=
# Removes what this demonstration made, whatever stopped it (each name on its own: rm removes
# nothing when one of its names is missing).
cleanup() {
  [[ -z $server ]] || kill "$server" 2>/dev/null || true
  for queue in "$requests" "$replies"; do "$mmipc" mq rm "$queue" 2>/dev/null || true; done
  "$mmipc" shm rm "$board" 2>/dev/null || true
}
trap cleanup EXIT
"$mmipc" mq create "$requests" --maxmsg 4 --msgsize 256 --mode 600
"$mmipc" mq create "$replies" --maxmsg 4 --msgsize 256 --mode 600
"$mmipc" shm create "$board" --size 256 --mode 600
"$tclsh" "$here/../tcl/posixipc-server.tcl" "$requests" "$replies" "$board" &
server=$!
echo "queues made by mmipc; Tcl server $server started on them"

# The server reads with gets, so a request carries its newline ($'...\n'); each reply is a
# line too, whose newline $(...) drops.
echo "the shell asks the Tcl server once:"
run "mmipc mq send $requests \$'add 2 3 37\\n'" "$mmipc" mq send "$requests" $'add 2 3 37\n'
run "reply=\$(mmipc mq recv $replies); echo \"\$reply\"" \
  bash -c 'reply=$("$0" mq recv "$1" --timeout 30) && echo "$reply"' "$mmipc" "$replies"

echo "the queues, as mmipc mq ls lists them (both empty again):"
if "$mmipc" mq ls >/dev/null 2>&1; then
  run "mmipc mq ls | grep $tag" bash -c '"$0" mq ls | grep -- "-$1 "' "$mmipc" "$tag"
else
  # /dev/mqueue is not mounted here: mq ls says so. Mounting it on the system is left to
  # its administrator; as root, a private mount namespace shows the same queues without
  # changing anything outside this demonstration.
  run "mmipc mq ls" "$mmipc" mq ls || true
  if [[ $(id -u) -eq 0 ]] && unshare -m true 2>/dev/null; then
    echo "  (as root, in a private mount namespace with the mqueue file system mounted:)"
    unshare -m bash -c 'd=$(mktemp -d) && mount -t mqueue none "$d" && "$0" mq ls; s=$?; umount "$d"; rmdir "$d"; exit $s' \
      "$mmipc" | grep -E -- "-$tag " | sed 's/^/    /'
  fi
fi

run "mmipc mq send $requests \$'bye\\n'" "$mmipc" mq send "$requests" $'bye\n'
run "echo \"\$(mmipc mq recv $replies)\"" bash -c 'reply=$("$0" mq recv "$1" --timeout 30) && echo "$reply"' \
  "$mmipc" "$replies"
wait "$server"
trap - EXIT
cleanup
echo "server ended; queues and shared memory removed"
