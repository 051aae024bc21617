#!/bin/bash
# Both README commands exactly as written (lines 4-5), fresh clone of the final HEAD, one after the other.
cd /tmp/tmp.Qyz9ge2iYo/c
cmd1=$(sed -n 4p README.md); cmd2=$(sed -n 5p README.md)
s=$(date +%s); /usr/bin/time -v bash -c "$cmd1" > /work/s21/final_main.out 2> /work/s21/final_main.err; echo "rc=$? wall_s=$(( $(date +%s) - s ))" > /work/s21/final_main_time.txt
rm -rf .venv
s=$(date +%s); CI=true /usr/bin/time -v bash -c "$cmd2" > /work/s21/final_tests.out 2> /work/s21/final_tests.err; echo "rc=$? wall_s=$(( $(date +%s) - s ))" > /work/s21/final_tests_time.txt
