#!/bin/sh
# Runs the message_queue example on a queue named after this process: the worker must take
# the jobs highest priority first, stop at the empty message, and find the queue empty after.
set -eu
program=$1
out=$("$program" "/mmipc-example-mq-$$")
expected="job: answer the customer (priority 9)
job: order paper (priority 5)
job: write the report (priority 0)
no more jobs"
test "$out" = "$expected" || { printf 'got:\n%s\n' "$out"; exit 1; }
echo "the worker took the jobs by priority"
