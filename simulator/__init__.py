"""fpsim's science: configs, the sparse-coding data model, the thresholded two-layer network,
clean and adversarial training, attacks, certification, lower-bound models and metrics.

numba kernels live in :mod:`simulator.kernels`; their plain-numpy twins in
:mod:`simulator.reference`.
"""

import os as _os

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
