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


# ----------------------------------------------------------------------------------------
# The public API, loaded lazily (PEP 562): ``import simulator as fp`` imports nothing heavy,
# so a sweep worker can pin its threads before numba and numpy load; ``fp.RunConfig`` and the
# other names below import their module on first use.
# ----------------------------------------------------------------------------------------
_PUBLIC = {
    # configs
    "DataConfig": "config", "NetworkConfig": "config", "TrainConfig": "config",
    "EvalConfig": "config", "RunConfig": "config", "ConfigError": "config",
    "load_run_config": "config", "LowerBoundConfig": "lower_bounds",
    # the data model and the network
    "SparseCodingProblem": "data", "Batch": "data",
    "ThresholdNetwork": "network", "ideal_network": "network", "init_weights": "network",
    # training
    "train_clean": "training", "train_adversarial": "training",
    "TrainingDivergedError": "training",
    # the run path
    "run_networks": "pipeline", "train_networks": "pipeline", "build_models": "pipeline",
    "draw_test_set": "pipeline", "evaluate": "pipeline", "RunCache": "pipeline",
    "Trained": "pipeline", "RunResult": "pipeline",
    # attacks and certification
    "AttackSettings": "attacks", "robust_accuracy_table": "attacks", "fgm_attack": "attacks",
    "pgd_attack": "attacks", "dense_attack": "attacks", "feature_attack": "attacks",
    "certified_margin": "certification.relaxation",
    # lower-bound models (claim 3)
    "fit_lower_bound": "lower_bounds", "LinearModel": "lower_bounds",
    "PolynomialKernelModel": "lower_bounds", "NTKModel": "lower_bounds",
    # metrics of purification
    "purification_measures": "metrics", "dense_mixture_share": "metrics", "purity": "metrics",
    # registries and helpers
    "MODEL_KINDS": "models", "NORMS": "norms", "radius_in_norm": "norms", "stream": "rng",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
