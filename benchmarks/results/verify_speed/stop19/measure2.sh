#!/bin/bash
# Second measurement, this session, after the fused certifier kernel. Logs to /work/meas2/.
set -u
M=/work/meas2
HEAD=$(git -C /work/main rev-parse HEAD)
echo "HEAD $HEAD start $(date +%T)" >> $M/steps2.txt
rm -rf /tmp/m3_head && git clone -q /work/main /tmp/m3_head && cd /tmp/m3_head && python3 -m venv .venv && .venv/bin/pip install -q -e . > /dev/null 2>&1
for i in 1 2 3; do
  for D in /tmp/m2_1ae3f0c /tmp/m3_head; do
    cd $D && rm -rf runs/train2_$i && .venv/bin/fpsim train --out runs/train2_$i --no-progress > $M/C2_$(basename $D)_$i.log 2>&1
    echo "C2_$(basename $D)_$i exit $? $(date +%T)" >> $M/steps2.txt
  done
done
rm -rf /tmp/m3_final && mkdir -p /tmp/m3_final && git clone -q /work/main /tmp/m3_final/fpsim
cd /tmp/m3_final/fpsim && /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/fpsim verify --out runs/verify" > $M/A2_default.log 2> $M/A2_default.time
echo "A2 exit $? $(date +%T)" >> $M/steps2.txt
rm -rf /tmp/m3_test && git clone -q /work/main /tmp/m3_test
cd /tmp/m3_test && CI=true /usr/bin/time -v bash -c "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/fpsim data fetch fashion-mnist && .venv/bin/python -m pytest" > $M/T2_tests.log 2> $M/T2_tests.time
echo "T2 exit $? $(date +%T)" >> $M/steps2.txt
echo "all done $(date +%T)" >> $M/steps2.txt
