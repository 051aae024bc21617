"""Speed of the training and attack steps against the machine's limit and a PyTorch peer.

The measuring code behind ``fpsim bench`` and ``benchmarks/bench.py`` (issue 6); results
and how to read them are in ``benchmarks/RESULTS.md``.  One run measures, as medians of
repeated calls after at least 0.2 s of warm-up calls (so compilation is excluded), the
figures of one shape timed in turns (:func:`benchmarks.timing.time_interleaved`):

1. the clean training step and the FGM-ℓ2 adversarial training step at each input_dim d,
   width m = 3d, batch 512, float32 and float64; each also with every backward product
   forced through BLAS ("dense products");
2. numpy matmul of the step's products alone (X Wᵀ and Pᵀ X for the clean step; X Wᵀ,
   P W, X' Wᵀ and P'ᵀ X' for FGM): the machine's reference throughput.  A step's achieved
   GFLOP/s counts those products' flops (2·n·m·d each), so its fraction of the matmul
   throughput is matmul time / step time;
3. the same steps written plainly in PyTorch on the CPU (:mod:`benchmarks.torch_peer`,
   run in a child process with the same thread count), if torch is installed;
4. the PGD attack's evaluation throughput (samples × steps per second);
5. with σ = 0, clean training and clean evaluation in feature coordinates against the
   dense path at d = 1024, k = 16.

The steps are timed at a fixed share of active units (``ACTIVE_SHARE``): the threshold θ is
set so that this share of the pre-activations of the batch exceeds θ‖w_i‖.  The cost of
the backward products follows it, and the share of a network at initialisation varies
with d (11 % at d = 256, 0.1 % at d = 1024) while a trained network's stays at a few per
cent.  torch is never imported by this module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from simulator import (OMP_WAIT_POLICY_DEFAULTED, OPENBLAS_THREAD_TIMEOUT_APPLIED,
               OPENBLAS_THREAD_TIMEOUT_DEFAULTED)
from simulator.attacks import AttackSettings, pgd_attack
from simulator.config import DataConfig, NetworkConfig
from simulator.data import SparseCodingProblem
from simulator.feature_path import Codes, FeatureCoordinates, codes_decision_function
from simulator.network import (ThresholdNetwork, init_weights, logistic_step, margin_gradient,
                      thresholds)
from simulator.norms import steepest_step
from simulator.rng import stream
from simulator.threads import available_cores, thread_limit
from .timing import WARMUP_SECONDS, Timer
from simulator.training import adversarial_step, clean_step

# Share of active units at which steps are timed: a clean-trained network at the default
# regime has 4.8 % (d = 512, 600 steps), 11 % at d = 256, 3 % after FGM training.
ACTIVE_SHARE = 0.05
FGM_RADIUS = 0.15  # τ* of the default regime (ℓ2)
LEARNING_RATE = 1e-6  # tiny: the weights barely move across repeated steps
BUSY_LOAD = 0.5  # 1-minute load average above which timings are flagged as pessimistic
TARGETS = {  # issue 6
    "fraction_of_matmul": 0.75,  # float32 steps at d ≥ 512
    "speedup_vs_torch": 1.3,  # every step, every shape
    "feature_path_speedup": 5.0,  # σ = 0 clean step, d = 1024, k ≈ 16
}


@dataclass(frozen=True)
class BenchSizes:
    """The shapes one run measures."""

    input_dims: tuple = (256, 512, 1024)  # the sweep's range around the default d = 512
    width_factor: int = 3  # m = 3d, the default regime's width
    batch: int = 512  # the default training batch
    sparsity: float = 12.0  # k of the default regime
    noise: float = 0.1  # σ of the default regime
    dtypes: tuple = ("float32", "float64")  # the default (float32) and the reference
    feature_input_dim: int = 1024  # issue 6: the feature path at d = 1024, k ≈ 16
    feature_sparsity: float = 16.0
    eval_samples: int = 2048  # the default test-set size
    pgd_samples: int = 1024  # one evaluation batch
    pgd_steps: int = 10  # enough for a stable median; the default evaluation runs 30


FULL = BenchSizes()
QUICK = BenchSizes(input_dims=(24,), batch=32, sparsity=3.0, feature_input_dim=32,
                   feature_sparsity=4.0, eval_samples=64, pgd_samples=32, pgd_steps=3)


# ----------------------------------------------------------------------------------------
# The machine
# ----------------------------------------------------------------------------------------


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_description() -> dict:
    """CPU, cores, memory, Python, numpy and its BLAS, numba and its threading layer, torch.

    Call after a parallel kernel has run: numba reports its threading layer only then.
    """
    import numba
    from threadpoolctl import threadpool_info

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = None
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "blas": [{k: i.get(k) for k in ("internal_api", "version", "num_threads",
                                        "threading_layer", "architecture", "filepath")}
                 for i in threadpool_info()],
        "numba": numba.__version__,
        "numba_threading_layer": layer,
        "numba_num_threads": numba.get_num_threads(),
        "torch": _version("torch"),
        "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                                               "OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT",
                                               "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")},
        "omp_wait_policy_set_by_fpsim": OMP_WAIT_POLICY_DEFAULTED,
        "openblas_thread_timeout_set_by_fpsim": OPENBLAS_THREAD_TIMEOUT_DEFAULTED,
        "openblas_thread_timeout_in_effect": OPENBLAS_THREAD_TIMEOUT_APPLIED,
    }


# ----------------------------------------------------------------------------------------
# One shape: steps, their products, and the inputs of the torch peer
# ----------------------------------------------------------------------------------------


@dataclass
class StepCase:
    """Inputs of the steps at one shape, shared with the torch peer."""

    input_dim: int
    width: int
    batch: int
    dtype: str
    X: np.ndarray
    y: np.ndarray
    W: np.ndarray
    threshold: float

    @property
    def net(self) -> NetworkConfig:
        return NetworkConfig(width=self.width, threshold=self.threshold, dtype=self.dtype)


def threshold_for_active_share(W, X, share: float) -> float:
    """θ such that a share ``share`` of |⟨w_i, x_n⟩| exceeds θ‖w_i‖ on the batch X."""
    R = np.abs(X.astype(np.float64) @ W.astype(np.float64).T) / np.linalg.norm(W.astype(np.float64), axis=1)
    return float(np.quantile(R, 1.0 - share))


def step_case(d: int, dtype: str, sizes: BenchSizes, seed: int = 0) -> StepCase:
    """The batch, initial weights and threshold of the step benchmark at input_dim d."""
    m = sizes.width_factor * d
    data = DataConfig(input_dim=d, sparsity=min(sizes.sparsity, d), noise=sizes.noise)
    problem = SparseCodingProblem(data, stream(seed, "problem"), dtype=dtype)
    batch = problem.sample(sizes.batch, stream(seed, "train_data"))
    W = init_weights(NetworkConfig(width=m, dtype=dtype), d, stream(seed, "init"))
    theta = threshold_for_active_share(W, batch.X, ACTIVE_SHARE)
    return StepCase(d, m, sizes.batch, dtype, batch.X, batch.y, W, theta)


def _clean_step_dense(W, X, y, net, lr):
    """:func:`simulator.training.clean_step` with the backward product by BLAS."""
    b = thresholds(W, net.threshold_rule, net.threshold, net.fixed_bias)
    return logistic_step(W, b, X, y, lr, skip_inactive=False)


def _fgm_step_dense(W, X, y, net, lr, radius):
    """:func:`simulator.training.adversarial_step` (FGM-ℓ2) with every product by BLAS."""
    b = thresholds(W, net.threshold_rule, net.threshold, net.fixed_bias)
    _, G = margin_gradient(W, b, X, y, skip_inactive=False)
    Xa = X + steepest_step(G, radius, "l2")
    return logistic_step(W, b, Xa, y, lr, skip_inactive=False)


def measure_steps(case: StepCase, timer: Timer) -> dict:
    """Median seconds of the steps and of their products alone, at one shape."""
    X, y, net = case.X, case.y, case.net
    lr = case.W.dtype.type(LEARNING_RATE)
    W = case.W.copy()
    H = X @ W.T

    def products_clean():
        A = X @ W.T
        A.T @ X

    def products_fgm():
        A = X @ W.T
        G = A @ W
        Xa = X + G
        A = Xa @ W.T
        A.T @ Xa

    seconds = timer.each({
        "clean_step": lambda: clean_step(W, X, y, net, lr),
        "fgm_step": lambda: adversarial_step(W, X, y, net, lr, FGM_RADIUS, "l2"),
        "clean_step_dense_products": lambda: _clean_step_dense(W, X, y, net, lr),
        "fgm_step_dense_products": lambda: _fgm_step_dense(W, X, y, net, lr, FGM_RADIUS),
        "matmul_clean": products_clean,
        "matmul_fgm": products_fgm,
    })
    b = thresholds(case.W, net.threshold_rule, net.threshold, net.fixed_bias)
    return {"seconds": seconds, "active_share": float(np.mean(np.abs(H) > b))}


def step_figures(case: StepCase, seconds: dict, torch_seconds: dict | None) -> dict:
    """GFLOP/s, fractions of the matmul throughput and speed-ups over torch, at one shape."""
    n, m, d = case.batch, case.width, case.input_dim
    flops = {"clean": 4.0 * n * m * d, "fgm": 8.0 * n * m * d}
    kind = {"clean_step": "clean", "fgm_step": "fgm", "clean_step_dense_products": "clean",
            "fgm_step_dense_products": "fgm"}
    gflops = {"matmul": flops["clean"] / seconds["matmul_clean"] / 1e9,
              "matmul_fgm": flops["fgm"] / seconds["matmul_fgm"] / 1e9}
    fraction = {}
    for name, k in kind.items():
        gflops[name] = flops[k] / seconds[name] / 1e9
        fraction[name] = seconds[f"matmul_{k}"] / seconds[name]
    out = {"flops": flops, "gflops": gflops, "fraction_of_matmul": fraction}
    if torch_seconds:
        out["torch_seconds"] = torch_seconds
        gflops["torch_matmul"] = flops["clean"] / torch_seconds["matmul_clean"] / 1e9
        out["speedup_vs_torch"] = {name: torch_seconds[name] / seconds[name]
                                   for name in ("clean_step", "fgm_step") if name in torch_seconds}
    return out


# ----------------------------------------------------------------------------------------
# PGD evaluation and the feature-coordinate path
# ----------------------------------------------------------------------------------------


def measure_pgd(d: int, dtype: str, sizes: BenchSizes, timer: Timer, seed: int = 0) -> dict:
    """PGD-ℓ2 at τ = 0.15 against a purified network of width 3d: samples × steps per second.

    The network holds each feature's ideal neuron w*_j M_j three times, each copy with the
    initialisation's small noise: clean accuracy ≈ 1, so every sample is attacked for every
    step (PGD skips samples it has broken only between restarts; there is one start).
    """
    data = DataConfig(input_dim=d, sparsity=min(sizes.sparsity, d), noise=sizes.noise)
    problem = SparseCodingProblem(data, stream(seed, "problem"), dtype=dtype)
    test = problem.sample(sizes.pgd_samples, stream(seed, "test_data"))
    ideal = (problem.M * problem.w_star[None, :]).T.astype(np.float64)
    m = sizes.width_factor * d
    W = np.repeat(ideal, sizes.width_factor, axis=0)[:m]
    W += init_weights(NetworkConfig(width=m, dtype="float64"), d, stream(seed, "init"))
    model = ThresholdNetwork(W.astype(dtype), batch_size=sizes.pgd_samples)
    settings = AttackSettings(pgd_steps=sizes.pgd_steps, pgd_restarts=0, pgd_step_rel=0.1)
    attacked = int(np.sum(test.y * model.decision_function(test.X) > 0))
    seconds = timer(lambda: pgd_attack(model, test.X, test.y, FGM_RADIUS, "l2", settings,
                                       stream(seed, "attack")))
    return {"input_dim": d, "width": m, "dtype": dtype, "samples": sizes.pgd_samples,
            "samples_attacked": attacked, "steps": sizes.pgd_steps, "seconds": seconds,
            "sample_steps_per_second": attacked * sizes.pgd_steps / seconds}


def measure_feature_path(dtype: str, sizes: BenchSizes, timer: Timer, seed: int = 0) -> dict:
    """σ = 0: clean step and clean evaluation in feature coordinates against the dense path."""
    d, k = sizes.feature_input_dim, sizes.feature_sparsity
    m = sizes.width_factor * d
    data = DataConfig(input_dim=d, sparsity=min(k, d), noise=0.0)
    problem = SparseCodingProblem(data, stream(seed, "problem"), dtype=dtype)
    batch = problem.sample(sizes.batch, stream(seed, "train_data"))
    W = init_weights(NetworkConfig(width=m, dtype=dtype), d, stream(seed, "init"))
    net = NetworkConfig(width=m, dtype=dtype,
                        threshold=threshold_for_active_share(W, batch.X, ACTIVE_SHARE))
    lr = W.dtype.type(LEARNING_RATE)
    model = FeatureCoordinates(W, problem.M)
    W_dense = W.copy()
    rng_dense, rng_codes = stream(seed + 1, "train_data"), stream(seed + 1, "train_data")

    def dense_with_sampling():
        b = problem.sample(sizes.batch, rng_dense)
        clean_step(W_dense, b.X, b.y, net, lr)

    def features_with_sampling():
        b = problem.sample_codes(sizes.batch, rng_codes)
        model.clean_step(b.Z, b.y, net, lr)

    test = problem.sample(sizes.eval_samples, stream(seed, "test_data"))
    network = ThresholdNetwork.from_config(W, net, batch_size=sizes.eval_samples)
    codes = Codes.from_sparse(test.Z, dtype)
    b = model.thresholds(net)
    seconds = timer.each({
        "dense_step": lambda: clean_step(W_dense, batch.X, batch.y, net, lr),
        "feature_step": lambda: model.clean_step(batch.Z, batch.y, net, lr),
        "dense_step_with_sampling": dense_with_sampling,
        "feature_step_with_sampling": features_with_sampling,
        "dense_evaluation": lambda: network.decision_function(test.X),
        "feature_evaluation": lambda: codes_decision_function(model.Ct, b, codes),
        "to_feature_coordinates": lambda: FeatureCoordinates(W, problem.M),
    })
    return {
        "input_dim": d, "width": m, "sparsity": k, "batch": sizes.batch, "dtype": dtype,
        "eval_samples": sizes.eval_samples, "seconds": seconds,
        "speedup": {
            "step": seconds["dense_step"] / seconds["feature_step"],
            "step_with_sampling": seconds["dense_step_with_sampling"] / seconds["feature_step_with_sampling"],
            "evaluation": seconds["dense_evaluation"] / seconds["feature_evaluation"],
        },
    }


# ----------------------------------------------------------------------------------------
# The torch peer, in a child process
# ----------------------------------------------------------------------------------------


def run_torch_peer(cases: list, timer: Timer, threads: int) -> tuple[dict | None, str | None, list]:
    """Time the PyTorch steps on the same inputs in a child process.

    The child runs torch with the user's OMP_WAIT_POLICY, not the PASSIVE default fpsim sets
    for itself (a torch user runs with torch's defaults); torch and our kernels never share
    a process (nor an OpenMP runtime).

    Returns
    -------
    info : dict (torch version, threads, environment) or None
    reason : why torch was not measured, or None
    seconds : list of dicts, one per case (empty when not measured)
    """
    if importlib.util.find_spec("torch") is None:
        return None, "torch is not installed (pip install 'fpsim[bench]')", []
    with tempfile.TemporaryDirectory(prefix="fpsim-bench-") as tmp:
        manifest = []
        for i, c in enumerate(cases):
            path = Path(tmp) / f"case{i}.npz"
            np.savez(path, X=c.X, y=c.y, W=c.W)
            manifest.append({"path": str(path), "threshold": c.threshold, "dtype": c.dtype,
                             "lr": LEARNING_RATE, "radius": FGM_RADIUS})
        spec = Path(tmp) / "manifest.json"
        # the user's own OMP_WAIT_POLICY, or none: the child imports simulator (which would
        # default it to PASSIVE) and resets it before it imports torch
        policy = None if OMP_WAIT_POLICY_DEFAULTED else os.environ.get("OMP_WAIT_POLICY")
        spec.write_text(json.dumps({"cases": manifest, "repeats": timer.repeats,
                                    "warmup_seconds": timer.warmup_seconds, "threads": threads,
                                    "omp_wait_policy": policy}))
        proc = subprocess.run([sys.executable, "-m", "benchmarks.torch_peer", str(spec)],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return None, f"the torch peer failed (exit {proc.returncode}): {' | '.join(tail)}", []
    out = json.loads(proc.stdout)
    return out["info"], None, out["seconds"]


# ----------------------------------------------------------------------------------------
# The whole run
# ----------------------------------------------------------------------------------------


def _targets(steps: list, features: list) -> dict:
    big32 = [s for s in steps if s["input_dim"] >= 512 and s["dtype"] == "float32"]
    out = {}
    if big32:
        worst = min(min(s["fraction_of_matmul"]["clean_step"], s["fraction_of_matmul"]["fgm_step"])
                    for s in big32)
        out["fraction_of_matmul"] = {"criterion": f">= {TARGETS['fraction_of_matmul']} (float32, d >= 512)",
                                     "worst": worst, "met": worst >= TARGETS["fraction_of_matmul"]}
    speedups = [v for s in steps for v in s.get("speedup_vs_torch", {}).values()]
    if speedups:
        out["speedup_vs_torch"] = {"criterion": f">= {TARGETS['speedup_vs_torch']} (every step, every shape)",
                                   "worst": min(speedups),
                                   "met": min(speedups) >= TARGETS["speedup_vs_torch"]}
    if features:
        worst = min(f["speedup"]["step"] for f in features)
        out["feature_path_speedup"] = {"criterion": f">= {TARGETS['feature_path_speedup']} (clean step)",
                                       "worst": worst, "met": worst >= TARGETS["feature_path_speedup"]}
    return out


def run_bench(*, quick: bool = False, repeats: int = 10, threads: int | None = None,
              torch: bool = True, progress=None, warn=None, sizes: BenchSizes | None = None) -> dict:
    """Measure everything listed in the module docstring; return a JSON-ready dict.

    Parameters
    ----------
    quick : tiny shapes (for the test suite): the figures mean nothing.
    repeats : timed calls per figure (their median is reported), after warm-up calls for
        at least ``timing.WARMUP_SECONDS`` (one call with ``quick``).
    threads : threads for numba, BLAS and torch (None: all available cores).
    torch : measure the PyTorch peer when torch is installed.
    progress : optional callable(str) told what is being measured.
    warn : optional callable(str) told when the machine is busy before the run starts.
    sizes : the shapes, overriding ``quick`` (FULL or QUICK by default).
    """
    say = progress or (lambda _msg: None)
    sizes = sizes or (QUICK if quick else FULL)
    timer = Timer(repeats, 0.0 if quick else WARMUP_SECONDS)
    load = os.getloadavg()
    if load[0] > BUSY_LOAD and warn is not None:
        warn(f"the machine is busy before the benchmark (1-minute load average {load[0]:.2f} "
             f"> {BUSY_LOAD}): the timings will be pessimistic and noisy")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t0 = time.perf_counter()
    with thread_limit(threads) as n_threads:
        cases, steps = [], []
        for d in sizes.input_dims:
            for dtype in sizes.dtypes:
                say(f"training steps, d = {d}, {dtype}")
                case = step_case(d, dtype, sizes)
                cases.append(case)
                steps.append({"input_dim": d, "width": case.width, "batch": case.batch, "dtype": dtype,
                              "threshold": case.threshold, **measure_steps(case, timer)})
        pgd = []
        for d in sizes.input_dims:
            for dtype in sizes.dtypes:
                say(f"PGD evaluation, d = {d}, {dtype}")
                pgd.append(measure_pgd(d, dtype, sizes, timer))
        features = []
        for dtype in sizes.dtypes:
            say(f"feature path, d = {sizes.feature_input_dim}, {dtype}")
            features.append(measure_feature_path(dtype, sizes, timer))
        machine = machine_description()
    torch_info, torch_reason, torch_seconds = (None, "not requested (--no-torch)", [])
    if torch:
        say("PyTorch peer")
        torch_info, torch_reason, torch_seconds = run_torch_peer(cases, timer, n_threads)
    for i, (case, s) in enumerate(zip(cases, steps)):
        s.update(step_figures(case, s["seconds"], torch_seconds[i] if torch_seconds else None))
    return {
        "benchmark": "fpsim bench",
        "started": started,
        "seconds_total": time.perf_counter() - t0,
        "quick": quick,
        "repeats": repeats,
        "warmup_seconds": timer.warmup_seconds,
        "threads": n_threads,
        "load_average_before": list(load),
        "busy": load[0] > BUSY_LOAD,
        "machine": machine,
        "settings": {**asdict(sizes), "active_share": ACTIVE_SHARE, "fgm_radius": FGM_RADIUS,
                     "learning_rate": LEARNING_RATE, "busy_load": BUSY_LOAD},
        "steps": steps,
        "pgd": pgd,
        "feature_path": features,
        "torch": torch_info,
        "torch_reason": torch_reason,
        "targets": _targets(steps, features),
    }
