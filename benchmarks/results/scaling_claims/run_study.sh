#!/bin/bash
# Full default scaling study, end to end, fresh clone, 2 cores (stop 20).
cd /work/s20/study
start=$(date +%s)
python3 -m venv .venv && .venv/bin/pip install -q -e . > /work/s20/study_install.log 2>&1
inst=$(date +%s)
/usr/bin/time -v .venv/bin/fpsim scaling --out runs/scaling-claims --workers 2 > /work/s20/study.out 2> /work/s20/study.err
rc=$?
end=$(date +%s)
echo "rc=$rc install_s=$((inst-start)) study_s=$((end-inst)) total_s=$((end-start)) commit=$(git rev-parse HEAD)" > /work/s20/study_time.txt
