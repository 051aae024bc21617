"""The PyTorch peer of the training steps, timed in a child process by :mod:`benchmarks.speed`.

    python -m benchmarks.torch_peer MANIFEST.json

The steps are written plainly, as a PyTorch user would: forward H = X Wᵀ, the thresholded
symmetric ReLU with b = θ‖w_i‖ detached, the mean logistic loss, autograd for the weight
gradient; FGM-ℓ2 takes the input gradient by autograd, δ = τ g/‖g‖, then the clean step at
x + δ.  Same inputs, dtype and thread count as ours.  Prints one JSON object
``{"info": {...}, "seconds": [{...} per case]}``.

torch is a benchmark-only extra (``pip install 'fpsim[bench]'``): it is imported here, in
``main``, and nowhere else in fpsim.  Importing this module loads neither numba nor OpenMP,
so ``main`` can still set torch's OMP_WAIT_POLICY.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from .timing import Timer


def make_steps(torch, X, y, W0, theta: float, lr: float, radius: float) -> dict:
    """The clean step, the FGM step and the clean step's matrix products alone, as closures."""
    F = torch.nn.functional
    W = W0.clone().requires_grad_(True)

    def mean_loss(Xb):
        b = theta * W.detach().norm(dim=1)
        H = Xb @ W.T
        f = (torch.relu(H - b) - torch.relu(-H - b)).sum(dim=1)
        return F.softplus(-y * f).mean()

    def descend(loss):
        W.grad = None
        loss.backward()
        with torch.no_grad():
            W.sub_(lr * W.grad)

    def clean_step():
        descend(mean_loss(X))

    def fgm_step():
        Xr = X.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(mean_loss(Xr), Xr)
        delta = radius * g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)
        descend(mean_loss(X + delta))

    def products_clean():
        with torch.no_grad():
            A = X @ W.T
            A.T @ X

    return {"clean_step": clean_step, "fgm_step": fgm_step, "matmul_clean": products_clean}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as fh:
        spec = json.load(fh)
    if spec.get("omp_wait_policy") is None:
        os.environ.pop("OMP_WAIT_POLICY", None)  # torch's own default
    else:
        os.environ["OMP_WAIT_POLICY"] = spec["omp_wait_policy"]
    import torch

    torch.set_num_threads(int(spec["threads"]))
    seconds = []
    for case in spec["cases"]:
        with np.load(case["path"]) as arrs:
            X, y, W = (torch.from_numpy(arrs[k].copy()) for k in ("X", "y", "W"))
        steps = make_steps(torch, X, y, W, case["threshold"], case["lr"], case["radius"])
        seconds.append(Timer(spec["repeats"], spec["warmup_seconds"]).each(steps))
    config = torch.__config__.show().splitlines()
    info = {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": next((line.strip(" -") for line in config
                      if "Math Kernel Library" in line or "OpenBLAS" in line), None),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    json.dump({"info": info, "seconds": seconds}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
