#!/bin/bash
# The τ ∝ 1/√k scaling study (grid committed before running), fresh clone, 2 cores (stop 20).
cd /work/s20/study2
start=$(date +%s)
/usr/bin/time -v .venv/bin/fpsim scaling --grid benchmarks/grids/scaling_claims_tau_sqrt_k.toml --out runs/scaling-tau --workers 2 > /work/s20/study2.out 2> /work/s20/study2.err
rc=$?
end=$(date +%s)
echo "rc=$rc study_s=$((end-start)) commit=$(git rev-parse HEAD)" > /work/s20/study2_time.txt
