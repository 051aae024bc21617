#!/bin/bash
# Both README commands exactly as written (lines 4-5), fresh clone of the final HEAD, one after the other.
cd /tmp/tmp.4u2KDQWXPh/c
cmd1=$(sed -n 4p README.md); cmd2=$(sed -n 5p README.md)
s=$(date +%s); /usr/bin/time -v bash -c "$cmd1" > /work/s22/readme/main.out 2> /work/s22/readme/main.err; echo "rc=$? wall_s=$(( $(date +%s) - s ))" > /work/s22/readme/main_time.txt
rm -rf .venv
s=$(date +%s); CI=true /usr/bin/time -v bash -c "$cmd2" > /work/s22/readme/tests.out 2> /work/s22/readme/tests.err; echo "rc=$? wall_s=$(( $(date +%s) - s ))" > /work/s22/readme/tests_time.txt
