"""fpsim's science: configs, the sparse-coding data model, the thresholded two-layer network,
clean and adversarial training, attacks, certification, lower-bound models and metrics.

numba kernels live in :mod:`simulator.kernels`; their plain-numpy twins in
:mod:`simulator.reference`.
"""
