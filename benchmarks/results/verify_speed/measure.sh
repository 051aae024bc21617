#!/bin/bash
# Exclusive measurements (the scaling study is paused by the caller). Each step logs to /work/meas/.
set -u
M=/work/meas; mkdir -p $M
HEAD=$(git -C /work/main rev-parse HEAD)
echo "HEAD $HEAD start $(date +%T)" >> $M/steps.txt
# A. README main command in a fresh clone of HEAD
rm -rf /tmp/final && mkdir -p /tmp/final && git clone -q /work/main /tmp/final/fpsim
cd /tmp/final/fpsim && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/fpsim verify --out runs/verify" > $M/A_default.log 2> $M/A_default.time
echo "A exit $? $(date +%T)" >> $M/steps.txt
# B. 1ae3f0c's verify, then HEAD's verify --regime legacy-2x, fresh clones, one after the other
rm -rf /tmp/cmp_old && git clone -q /work/main /tmp/cmp_old && cd /tmp/cmp_old && git checkout -q 1ae3f0c
cd /tmp/cmp_old && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . > /dev/null 2>&1 && .venv/bin/fpsim verify --out runs/verify --no-progress" > $M/B_old.log 2> $M/B_old.time
echo "B_old exit $? $(date +%T)" >> $M/steps.txt
cd /tmp/final/fpsim && /usr/bin/time -v .venv/bin/fpsim verify --regime legacy-2x --out runs/legacy --no-progress > $M/B_new.log 2> $M/B_new.time
echo "B_new exit $? $(date +%T)" >> $M/steps.txt
# C. fpsim train on its defaults, 3 times each: 1ae3f0c, HEAD
for i in 1 2 3; do
  for c in old new; do
    if [ $c = old ]; then D=/tmp/cmp_old; else D=/tmp/final/fpsim; fi
    cd $D && rm -rf runs/train_$i && .venv/bin/fpsim train --out runs/train_$i --no-progress > $M/C_${c}_$i.log 2>&1
    echo "C_${c}_$i exit $? $(date +%T)" >> $M/steps.txt
  done
done
echo "all done $(date +%T)" >> $M/steps.txt
