#!/bin/sh
# Runs the cyclic_log example: 1,000 messages through a 4 KiB log file. The log must keep its
# size, end with the newest message, hold only recent ones, and in order.
set -eu
program=$1
log=$(mktemp "${TMPDIR:-/tmp}/mmipc-cyclic-log.XXXXXX")
trap 'rm -f "$log"' EXIT
out=$("$program" "$log" 4096 1000)
test "$(stat -c %s "$log")" -eq 4096 || { echo "log size changed"; exit 1; }
test "$(printf '%s\n' "$out" | tail -n 1)" = "message 1000" || { echo "newest missing"; exit 1; }
first=$(printf '%s\n' "$out" | head -n 1 | cut -d' ' -f2)
# About 4096 / 12 lines fit: the log is full of recent messages, and nothing older.
test "$first" -gt 600 || { echo "old message $first survived"; exit 1; }
test "$(printf '%s\n' "$out" | wc -c)" -gt $((4096 - 2 * 13)) || { echo "log not full"; exit 1; }
expected=$(seq "$first" 1000 | sed 's/^/message /')
test "$out" = "$expected" || { echo "messages out of order or missing"; exit 1; }
echo "cyclic log holds messages $first..1000"
