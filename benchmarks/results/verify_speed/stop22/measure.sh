#!/bin/bash
# Issue 13's verify target: 1ae3f0c's `fpsim verify` then HEAD's `fpsim verify --regime legacy-2x`,
# fresh clones, one after the other, nothing else running.
set -u
M=/work/s22/meas
HEAD=$(git -C /work/main rev-parse --short HEAD)
echo "HEAD $HEAD start $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> $M/steps.txt
rm -rf /tmp/cmp_old && git clone -q /work/main /tmp/cmp_old && cd /tmp/cmp_old && git checkout -q 1ae3f0c
cd /tmp/cmp_old && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . > /dev/null 2>&1 && .venv/bin/fpsim verify --out runs/verify --no-progress" > $M/B_old.log 2> $M/B_old.time
echo "B_old exit $? $(date +%T)" >> $M/steps.txt
rm -rf /tmp/cmp_new && git clone -q /work/main /tmp/cmp_new && cd /tmp/cmp_new
cd /tmp/cmp_new && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . > /dev/null 2>&1 && .venv/bin/fpsim verify --regime legacy-2x --out runs/legacy --no-progress" > $M/B_new_$HEAD.log 2> $M/B_new_$HEAD.time
echo "B_new exit $? $(date +%T)" >> $M/steps.txt
