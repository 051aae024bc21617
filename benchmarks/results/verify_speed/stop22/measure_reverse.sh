#!/bin/bash
# The same pair in the other order: HEAD's `fpsim verify --regime legacy-2x` first, then 1ae3f0c's
# `fpsim verify`; fresh clones, one after the other, nothing else running.
set -u
M=/work/s22/meas
HEAD=$(git -C /work/main rev-parse --short HEAD)
echo "reverse: HEAD $HEAD start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $M/steps.txt
rm -rf /tmp/cmp_new2 && git clone -q /work/main /tmp/cmp_new2 && cd /tmp/cmp_new2
cd /tmp/cmp_new2 && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . > /dev/null 2>&1 && .venv/bin/fpsim verify --regime legacy-2x --out runs/legacy --no-progress" > $M/R_new_$HEAD.log 2> $M/R_new_$HEAD.time
echo "R_new exit $? $(date +%T)" >> $M/steps.txt
rm -rf /tmp/cmp_old2 && git clone -q /work/main /tmp/cmp_old2 && cd /tmp/cmp_old2 && git checkout -q 1ae3f0c
cd /tmp/cmp_old2 && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . > /dev/null 2>&1 && .venv/bin/fpsim verify --out runs/verify --no-progress" > $M/R_old.log 2> $M/R_old.time
echo "R_old exit $? $(date +%T)" >> $M/steps.txt
