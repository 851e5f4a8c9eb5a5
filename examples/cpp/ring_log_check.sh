#!/bin/sh
# Runs the ring_log example: 3 writer processes, 1000 records each, into a 64 KiB log, with a
# follower. The follower must account for every record (seen or missed) up to the last; the
# log must hold the newest records, consecutive, whole, and each writer's in its own order.
set -eu
program=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/mmipc-ring-log.XXXXXX")
trap 'rm -rf "$dir"' EXIT
out=$("$program" "$dir/app.log" 3 1000)
test ! -e "$dir/app.log" || { echo "the log file was left behind"; exit 1; }
printf '%s\n' "$out" | awk '
  NR == 1 {
    if ($1 != "follower:" || $3 + $5 != 3000 || $8 != 3000) { print "follower: " $0; bad = 1 }
    next
  }
  NR == 2 { gsub(";", ""); held = $2; first = $4; last = $6; dropped = $8; next }
  {
    if ($1 != first + NR - 3) { print "not consecutive at " $0; bad = 1 }
    if (NF != 5 || $2 != "writer" || $4 != "record") { print "not a whole record: " $0; bad = 1 }
    if (($3 in seen) && $5 <= seen[$3]) { print "out of order: " $0; bad = 1 }
    seen[$3] = $5
  }
  END {
    if (last != 3000 || NR - 2 != held || held + dropped != 3000 || held < 100) {
      print "held " held " records, " first " to " last ", dropped " dropped ", listed " NR - 2
      bad = 1
    }
    exit bad
  }' || exit 1
echo "$(printf '%s\n' "$out" | head -n 2 | tr '\n' ' ')"
