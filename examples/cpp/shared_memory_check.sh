#!/bin/sh
# Runs the shared_memory example on an object named after this process: the death of a
# holder must be reported to the next locker, and 4 processes adding 1000 times each under
# the lock must leave 4000. The object, its semaphore and its lock object must be gone after.
set -eu
program=$1
name=mmipc-example-shm-$$
trap 'rm -f "/dev/shm/$name" "/dev/shm/sem.$name" "/dev/shm/$name.lck"' EXIT
out=$("$program" "/$name" 4 1000)
expected="the previous holder died holding the lock
counter: 4000 (4 processes x 1000 rounds)"
test "$out" = "$expected" || { printf 'got:\n%s\n' "$out"; exit 1; }
for left in "/dev/shm/$name" "/dev/shm/sem.$name" "/dev/shm/$name.lck"; do
  test ! -e "$left" || { echo "$left was left behind"; exit 1; }
done
echo "no addition lost, the dead holder reported"
