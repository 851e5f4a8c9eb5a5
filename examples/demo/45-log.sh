# Demo: mmipc log - two writers and a follower on one ring log, one writer killed with kill -9
#
# A ring log is one file of fixed size that always holds the newest records. Here two
# processes append to one 64 KiB log while a third follows it (`mmipc log tail -f`): writer A
# is a shell loop running `mmipc log append` once per record, writer B a single
# `mmipc log append` fed as fast as it can take lines, so the log wraps many times over.
# B is killed with kill -9, most likely in the middle of an append; A carries on. Then the
# log is read back with `mmipc log cat`: every record whole, each writer's in order, none
# twice (a record B was appending when it died is simply not there). Runs on its own too,
# with mmipc on the PATH.
set -euo pipefail
mmipc=${MMIPC_BUILD_DIR:+$MMIPC_BUILD_DIR/bin/}mmipc
own_dir=
if [[ -z ${MMIPC_DEMO_DIR-} ]]; then
  own_dir=$(mktemp -d "${TMPDIR:-/tmp}/mmipc-log-demo.XXXXXX")
fi
dir=${MMIPC_DEMO_DIR:-$own_dir}
cd "$dir"
log=app.log

# Shows a command as typed (mmipc for its path), then runs it, its output indented.
run() {
  local shown=$1
  shift
  printf '  $ %s\n' "$shown"
  "$@" 2>&1 | sed 's/^/    /'
}

follower= feeder= writer_b=
cleanup() {
  for pid in $follower $writer_b $feeder; do kill -9 "$pid" 2>/dev/null || true; done
  rm -f "$log" "$dir/followed" "$dir/b-in" "$dir/read-back"
  [[ -z $own_dir ]] || rm -rf "$own_dir"
}
trap cleanup EXIT

run "mmipc log create app.log --size 64K" "$mmipc" log create "$log" --size 64K
"$mmipc" log tail "$log" -n 0 -f >"$dir/followed" &
follower=$!
echo "follower $follower: mmipc log tail app.log -n 0 -f"

# Writer B: one process appending each line of its standard input (a FIFO), as fast as it
# can: faster than it appends, so it is killed most likely in the middle of an append.
mkfifo "$dir/b-in"
"$mmipc" log append "$log" <"$dir/b-in" &
writer_b=$!
{ seq 1 1000000000 | sed 's/^/B /'; } >"$dir/b-in" 2>/dev/null &
feeder=$!
echo "writer B $writer_b: mmipc log append app.log < lines \"B 1\", \"B 2\", ..."
# B is at work once its first records are in.
for _ in $(seq 200); do
  [[ $("$mmipc" log stat "$log" | sed -n 's/^records: //p') -gt 0 ]] && break
  sleep 0.05
done

# Writer A: a record at a time, one process each.
echo "writer A: mmipc log append app.log \"A \$i\", for i in 1..40"
for i in $(seq 1 20); do "$mmipc" log append "$log" "A $i"; done
kill -9 "$writer_b"
wait "$writer_b" 2>/dev/null || true
echo "writer B $writer_b killed with kill -9 while appending"
writer_b=
for i in $(seq 21 40); do "$mmipc" log append "$log" "A $i"; done
kill "$feeder" 2>/dev/null || true
wait "$feeder" 2>/dev/null || true
feeder=
# The follower has seen the last record when its last line is A's last one.
for _ in $(seq 200); do [[ $(tail -n 1 "$dir/followed") == "A 40" ]] && break; sleep 0.05; done
kill "$follower"
wait "$follower" 2>/dev/null || true
follower=
echo "the follower printed $(wc -l <"$dir/followed") records as they came (it is overtaken" \
  "when B writes faster than it reads: the log keeps only the newest)"

echo "the log read back:"
run "mmipc log cat app.log --seq | tail -n 3" bash -c '"$0" log cat "$1" --seq | tail -n 3' \
  "$mmipc" "$log"
run "mmipc log stat app.log" "$mmipc" log stat "$log"
if [[ $("$mmipc" log stat "$log" | sed -n 's/^repaired: //p') != 0 ]]; then
  echo "repaired: B died holding the writers' lock; the next append (A's) repaired the log," \
    "and the record B was writing is simply not there"
else
  echo "repaired: 0: B died between two appends this time (it is killed at a random instant)"
fi

# Every record whole; each writer's numbers consecutive (only the oldest are ever dropped, so
# what is kept of a writer has no gap), none twice.
"$mmipc" log cat "$log" >"$dir/read-back"
awk '!/^[AB] [0-9]+$/ { print "torn or foreign record: " $0; exit 1 }
     ($1 in last) && $2 != last[$1] + 1 { print $1 " out of order: " last[$1] " then " $2; exit 1 }
     { last[$1] = $2 + 0 }' "$dir/read-back"
grep -q '^A 40$' "$dir/read-back"
# The follower may have been overtaken (gaps), but never shows a torn record or one twice.
awk '!/^[AB] [0-9]+$/ { print "follower saw a torn record: " $0; exit 1 }
     ($1 in last) && $2 + 0 <= last[$1] { print "follower saw " $0 " twice or out of order"; exit 1 }
     { last[$1] = $2 + 0 }' "$dir/followed"
echo "read back intact: every record whole, each writer's in order, none twice"
