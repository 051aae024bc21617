#!/bin/bash
# Exclusive measurements, this session. Logs to /work/meas2/.
set -u
M=/work/meas2
HEAD=$(git -C /work/main rev-parse HEAD)
echo "HEAD $HEAD start $(date +%T)" >> $M/steps.txt
# C. fpsim train on its defaults, 3 times each, interleaved: 1ae3f0c (the baseline), 01cf275 (last stop), HEAD
for c in 1ae3f0c 01cf275 $HEAD; do
  rm -rf /tmp/m2_$c && git clone -q /work/main /tmp/m2_$c && cd /tmp/m2_$c && git checkout -q $c \
    && python3 -m venv .venv && .venv/bin/pip install -q -e . > /dev/null 2>&1
done
for i in 1 2 3; do
  for c in 1ae3f0c 01cf275 $HEAD; do
    cd /tmp/m2_$c && rm -rf runs/train_$i && .venv/bin/fpsim train --out runs/train_$i --no-progress > $M/C_${c:0:7}_$i.log 2>&1
    echo "C_${c:0:7}_$i exit $? $(date +%T)" >> $M/steps.txt
  done
done
# A. README main command in a fresh clone of HEAD, exactly as written
rm -rf /tmp/m2_final && mkdir -p /tmp/m2_final && git clone -q /work/main /tmp/m2_final/fpsim
cd /tmp/m2_final/fpsim && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/fpsim verify --out runs/verify" > $M/A_default.log 2> $M/A_default.time
echo "A exit $? $(date +%T)" >> $M/steps.txt
# T. README test command in another fresh clone, CI=true
rm -rf /tmp/m2_test && git clone -q /work/main /tmp/m2_test
cd /tmp/m2_test && CI=true /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/fpsim data fetch fashion-mnist && .venv/bin/python -m pytest" > $M/T_tests.log 2> $M/T_tests.time
echo "T exit $? $(date +%T)" >> $M/steps.txt
# B. HEAD's verify on 1ae3f0c's regime (legacy-2x), in the main command's clone
cd /tmp/m2_final/fpsim && /usr/bin/time -v .venv/bin/fpsim verify --regime legacy-2x --out runs/legacy --no-progress > $M/B_new.log 2> $M/B_new.time
echo "B_new exit $? $(date +%T)" >> $M/steps.txt
echo "all done $(date +%T)" >> $M/steps.txt
