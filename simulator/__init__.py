"""fpsim's science: configs, the sparse-coding data model, the thresholded two-layer network,
clean and adversarial training, attacks, certification, lower-bound models and metrics.

numba kernels live in :mod:`simulator.kernels`; their plain-numpy twins in
:mod:`simulator.reference`.
"""

import os as _os
import sys as _sys

# Within every training step numba's threads (the OpenMP layer) and OpenBLAS's threads take
# turns on the same cores.  By default an idle OpenMP thread keeps spinning for a while, and
# on 2 cores that spinning starved the BLAS calls between the kernels (small steps ran 3×
# slower).  A PASSIVE wait policy puts idle OpenMP threads to sleep at once; the cost is a
# wake-up of a few microseconds per parallel kernel.  We keep the OpenMP layer rather than
# numba's 'workqueue' layer, which also avoids the clash but aborts the process when two
# Python threads run parallel kernels at once.  The policy is read when the OpenMP runtime
# loads (numba's first parallel kernel), so it is set here, on the first import of the
# package; a value set by the user wins.
OMP_WAIT_POLICY_DEFAULTED = "OMP_WAIT_POLICY" not in _os.environ
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The same clash from OpenBLAS's side: after each BLAS call its idle threads keep polling
# (sched_yield) for 2**28 CPU cycles, about 0.1 s, before they sleep, while our kernels run
# between the BLAS calls of every step.  2**16 cycles (about 25 µs) made the dense steps
# 5–15 % faster at d = 512–1024, and σ = 0 steps right after BLAS work 2× faster (measured
# with OPENBLAS_THREAD_TIMEOUT from 4 to 30).  OpenBLAS reads it when it loads, that is on
# numpy's first import: it takes effect only when fpsim is imported before numpy (as the
# fpsim command does).  A value set by the user wins.
OPENBLAS_THREAD_TIMEOUT_DEFAULTED = "OPENBLAS_THREAD_TIMEOUT" not in _os.environ
# whether the loaded OpenBLAS runs with the value in the environment
OPENBLAS_THREAD_TIMEOUT_APPLIED = (not OPENBLAS_THREAD_TIMEOUT_DEFAULTED
                                   or "numpy" not in _sys.modules)
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

