#!/bin/bash
# Both README commands exactly as written, in a fresh clone, one after the other (stop 21).
cd /work/s21/readme/c
cmd1=$(sed -n 4p README.md); cmd2=$(sed -n 5p README.md)
echo "$cmd1" > /work/s21/readme_cmd1.txt; echo "$cmd2" > /work/s21/readme_cmd2.txt
s=$(date +%s)
/usr/bin/time -v bash -c "$cmd1" > /work/s21/readme_main.out 2> /work/s21/readme_main.err
echo "rc=$? wall_s=$(( $(date +%s) - s ))" > /work/s21/readme_main_time.txt
rm -rf .venv
s=$(date +%s)
CI=true /usr/bin/time -v bash -c "$cmd2" > /work/s21/readme_tests.out 2> /work/s21/readme_tests.err
echo "rc=$? wall_s=$(( $(date +%s) - s ))" > /work/s21/readme_tests_time.txt
