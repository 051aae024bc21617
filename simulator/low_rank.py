"""Low-rank adversarial training, W = W_clean + U Vᵀ, and its two references (issue 14).

A later version of the paper (MODEL.md, claim 4) reports that adversarial training can be
done through low-rank updates of the clean weights.  In this model the reason is sharp:
every clean neuron's dense mixture lies along the same direction M w*, so removing the
mixtures is, to first order, the rank-one change W_clean (I − u uᵀ), u = M w*/‖M w*‖.

Training
--------
The update is parametrised as U Vᵀ with U of shape (width, r) and V of shape (input_dim, r)
and trained by gradient on the same adversarial loss as full training: each step draws a
batch, perturbs it at the *current* W (FGM ℓ2, FGSM ℓ∞ or PGD:
:func:`~simulator.training.adversarial_examples`), recomputes the thresholds b_i = θ‖w_i‖ from the current W, and descends the mean logistic
loss at x + δ.  With G = ∇_W loss (b held fixed, as in full training) the factor gradients
are ∇_U = G V and ∇_V = Gᵀ U.

*Initialisation* (as in LoRA, Hu et al. 2021): U = 0 and V with random orthonormal columns
(Haar, from the QR of a Gaussian matrix).  U = 0 makes training start exactly at W_clean;
orthonormal V makes the first step −η G V Vᵀ the full step η G projected onto span(V): with
r = input_dim ≤ width it *is* the full step.  V then turns towards the top right singular
vectors of the adversarial gradients (∇_V = Gᵀ U = −η GᵀG V after one step: a power
iteration), which is how the rank-r update finds M w* (quick regime, seed 0: after FGM
training at r = 1 and r = 4, ‖P_span(V) u‖ = 0.998 for u = M w*/‖M w*‖).

*Step size rule*: η_t = η / (‖U‖₂² + ‖V‖₂²), η = ``train.adv_step_size``.  To first order a
factor step moves W by −η_t (G V Vᵀ + U Uᵀ G), whose norm is at most
η_t (‖V‖₂² + ‖U‖₂²)‖G‖ = η ‖G‖: never longer than the full-training step at the same η, so
the step size that is stable for full training is stable here.  A fixed η would not be:
plain gradient flow keeps VᵀV − UᵀU = I from the initialisation, so ‖V‖₂² = 1 + ‖U‖₂², and
once U carries the mixtures of ~width neurons (‖U‖₂ of several units) the effective step in
W along the top direction, η (‖U‖₂² + ‖V‖₂²), is tens of times the full one (measured:
quick regime, seed 0, r = 1, fixed η = 0.5: the update took over the network, clean
accuracy 0.31, median dense-mixture share 0.96).  At the start (U = 0, ‖V‖₂ = 1) η_t = η
exactly.  The price: directions of U Vᵀ far weaker than the top one move at about η_t,
slower than in full training (quick regime, r = 4: η_t fell to η/15, the three weaker
singular values of U Vᵀ stayed ≈ 1 against 7.2 for the top one; four times more steps did
not raise robust accuracy, 0.727 → 0.693).

Two routes compute (∇_U, ∇_V), equal up to rounding (``route``):

* ``"full"``: G by :func:`simulator.network.loss_and_gradient` (BLAS or the active-unit
  kernel), then the two thin products G V and Gᵀ U;
* ``"direct"``: the fused logistic backward kernel gives the coefficients P (n, width); then
  ∇_U = Pᵀ (X V) / n and ∇_V = Xᵀ (P U) / n, O(n·r·(width + input_dim)) instead of G's
  O(nnz(P)·input_dim).  Measured faster (``benchmarks/low_rank_gradient.py``), the default.

References
----------
* :func:`mixture_projection`: W_clean (I − u uᵀ), each neuron with its component along
  M w* removed (rank one, no training);
* :func:`best_rank_correction`: W_clean + the best rank-r approximation (truncated SVD,
  least squares in Frobenius norm) of W_adv − W_clean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .config import NetworkConfig, TrainConfig
from .kernels import network as K
from .network import loss_and_gradient, thresholds, weights_in_range
from .norms import radius_in_norm
from .training import (TrainResult, _BatchSource, _check_finite, _diverged, _is_snapshot_step,
                       adversarial_examples, loss_history)

ROUTES = ("direct", "full")
# 'normalised': η_t = η / (‖U‖₂² + ‖V‖₂²) (the default, module docstring); 'fixed': η_t = η
STEP_RULES = ("normalised", "fixed")


@dataclass
class LowRankResult(TrainResult):
    """A :class:`~simulator.training.TrainResult` whose W is W_clean + U Vᵀ.

    Attributes (besides W, losses, snapshots, seconds)
    ----------
    U : ndarray, shape (width, rank)
    V : ndarray, shape (input_dim, rank)
    step_sizes : ndarray, shape (steps,), the factor step size η_t of each step
    """

    U: np.ndarray | None = None
    V: np.ndarray | None = None
    step_sizes: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def factors(self) -> dict:
        """{'U': U, 'V': V}, for writers."""
        return {"U": self.U, "V": self.V}


def _check_rank(rank, shape) -> int:
    full = min(shape)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 1 <= rank <= full:
        raise ValueError(f"The 'rank' parameter of the low-rank update must be an int in the range "
                         f"[1, min(width, input_dim)={full}]. Got {rank!r} instead.")
    return int(rank)


def init_factors(W_clean: np.ndarray, rank: int, rng: np.random.Generator):
    """U = 0, V with Haar-random orthonormal columns (LoRA's start; see the module docstring).

    Parameters
    ----------
    W_clean : ndarray, shape (width, input_dim)
    rank : int in [1, min(width, input_dim)]
    rng : np.random.Generator

    Returns
    -------
    U : ndarray, shape (width, rank), zeros; V : ndarray, shape (input_dim, rank), VᵀV = I
    """
    m, d = W_clean.shape
    r = _check_rank(rank, (m, d))
    Q, R = np.linalg.qr(rng.standard_normal((d, r)))
    Q *= np.where(np.diag(R) < 0, -1.0, 1.0)  # sign fix: Haar-distributed columns
    return (np.zeros((m, r), dtype=W_clean.dtype),
            np.ascontiguousarray(Q, dtype=W_clean.dtype))


def compose(W_clean, U, V, out=None) -> np.ndarray:
    """W_clean + U Vᵀ, shape (width, input_dim), written to ``out`` when given."""
    out = np.matmul(U, V.T, out=out)
    out += W_clean
    return out


def factor_gradients(W, b, X, y, U, V, route="direct", kernels=K):
    """Mean logistic loss at (X, y) and its gradients in U and V, for W = W_clean + U Vᵀ.

    The thresholds b are held fixed (as in full training).  ∇_U = G V, ∇_V = Gᵀ U with
    G = ∇_W loss; ``route`` picks how they are computed (module docstring), same values up
    to rounding.

    Parameters
    ----------
    W : ndarray, shape (width, input_dim), equal to W_clean + U Vᵀ
    b : ndarray, shape (width,)
    X : ndarray, shape (n_samples, input_dim); y : ndarray, shape (n_samples,)
    U : ndarray, shape (width, rank); V : ndarray, shape (input_dim, rank)

    Returns
    -------
    loss : float; grad_U : ndarray (width, rank); grad_V : ndarray (input_dim, rank)
    """
    if route == "full":
        loss, G, _ = loss_and_gradient(W, b, X, y, kernels)
        return loss, G @ V, G.T @ U
    if route != "direct":
        raise ValueError(f"The 'route' parameter of factor_gradients must be one of {ROUTES}. "
                         f"Got {route!r} instead.")
    n = X.shape[0]
    P = X @ W.T
    f, loss, coef = np.empty(n), np.empty(n), np.empty(n)
    kernels.logistic_backward_inplace(P, b, y, f, loss, coef)  # P: the backward coefficients
    inv_n = W.dtype.type(1.0 / n)
    grad_U = P.T @ (X @ V)
    grad_U *= inv_n
    grad_V = X.T @ (P @ U)
    grad_V *= inv_n
    return float(loss.mean()), grad_U, grad_V


def factor_step_size(U, V, step_size, rule="normalised") -> float:
    """η_t = η / (‖U‖₂² + ‖V‖₂²) (spectral norms, from the rank × rank Gram matrices).

    ``rule='fixed'`` returns η itself (plain gradient descent on the factors), for comparison.
    """
    if rule == "fixed":
        return float(step_size)
    if rule != "normalised":
        raise ValueError(f"The 'rule' parameter of factor_step_size must be one of {STEP_RULES}. "
                         f"Got {rule!r} instead.")

    def top_eig(A):
        A = np.asarray(A, dtype=np.float64)
        return float(np.linalg.eigvalsh(A.T @ A)[-1]) if A.size else 0.0

    scale = top_eig(U) + top_eig(V)
    return float(step_size) / scale if scale > 0 else float(step_size)


def low_rank_step(W, W_clean, U, V, X, y, net_cfg: NetworkConfig, step_size, radius, norm,
                  attack="fgm", pgd_steps=5, rng=None, route="direct", kernels=K,
                  step_rule="normalised"):
    """One adversarial step on (U, V), in place; W (= W_clean + U Vᵀ on entry) is refreshed.

    Thresholds and the perturbation are computed at the current W; both factors move with
    gradients taken at the same point (a simultaneous step).

    Returns
    -------
    loss : float, mean loss at x + δ before the step; eta_t : float, the factor step size
    """
    b = thresholds(W, net_cfg.threshold_rule, net_cfg.threshold, net_cfg.fixed_bias, kernels)
    Xa = adversarial_examples(W, b, X, y, radius, norm, attack, pgd_steps, rng, kernels)
    loss, grad_U, grad_V = factor_gradients(W, b, Xa, y, U, V, route, kernels)
    eta_t = factor_step_size(U, V, step_size, step_rule)
    lr = W.dtype.type(eta_t)
    grad_U *= lr
    grad_V *= lr
    U -= grad_U
    V -= grad_V
    compose(W_clean, U, V, out=W)
    return loss, eta_t


def train_low_rank(W_start, problem, net_cfg: NetworkConfig, train_cfg: TrainConfig,
                   rng: np.random.Generator, attack_rng: np.random.Generator,
                   init_rng: np.random.Generator | None = None, route: str = "direct",
                   step_rule: str = "normalised") -> LowRankResult:
    """Adversarial training of a rank-``train_cfg.adv_rank`` update of W_start (not modified).

    Same batches, attack, radius, steps, snapshots and NaN guard as
    :func:`simulator.training.train_adversarial`; only the parametrisation differs.

    Parameters
    ----------
    W_start : ndarray, shape (width, input_dim), the clean weights W_clean
    rng : batches (the same stream as full adversarial training, so the two see the same data)
    attack_rng : PGD random starts
    init_rng : draws V; None spawns a child of ``rng`` (which leaves ``rng``'s own draws, the
        batches, unchanged)
    route : 'direct' or 'full', see :func:`factor_gradients`
    step_rule : 'normalised' (default) or 'fixed', see :func:`factor_step_size`
    """
    W_clean = np.array(W_start, dtype=net_cfg.dtype, order="C", copy=True)
    rank = _check_rank(train_cfg.adv_rank, W_clean.shape)
    if init_rng is None:
        init_rng = rng.spawn(1)[0]
    U, V = init_factors(W_clean, rank, init_rng)
    W = W_clean.copy()
    src = _BatchSource(problem, train_cfg.batch_size, train_cfg.train_size, rng)
    radius = radius_in_norm(train_cfg.adv_tau, train_cfg.adv_norm, W.shape[1])
    steps, every = train_cfg.adv_steps, train_cfg.snapshot_every
    losses, etas = loss_history(steps, every), loss_history(steps, every)
    result = LowRankResult(W=W, losses=losses, U=U, V=V, step_sizes=etas)
    t0 = time.perf_counter()
    for step in tqdm(range(steps), desc=f"rank-{rank} {train_cfg.adv_attack} training",
                     disable=not train_cfg.progress, leave=False, mininterval=1.0):
        if _is_snapshot_step(step, every):
            result.snapshots[step] = W.copy()
        X, y = src.next()
        try:
            with np.errstate(over="raise", invalid="raise"):
                losses[step], etas[step] = low_rank_step(
                    W, W_clean, U, V, X, y, net_cfg, train_cfg.adv_step_size, radius,
                    train_cfg.adv_norm, train_cfg.adv_attack, train_cfg.adv_pgd_steps, attack_rng,
                    route, step_rule=step_rule)
        except FloatingPointError as exc:
            raise _diverged(exc, "adversarial", step, train_cfg.adv_step_size) from None
        _check_finite(losses[step], lambda: (np.isfinite(U).all() and np.isfinite(V).all()
                                             and weights_in_range(W)),
                      "adversarial", step, train_cfg.adv_step_size)
    if every > 0:
        result.snapshots[steps] = W.copy()
    result.seconds = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------


def mixture_projection(W_clean: np.ndarray, label_direction: np.ndarray) -> np.ndarray:
    """W_clean (I − u uᵀ), u = M w*/‖M w*‖: every neuron's component along M w* removed.

    The rank-one, training-free counterpart of purification in this model.

    Parameters
    ----------
    W_clean : ndarray, shape (width, input_dim)
    label_direction : ndarray, shape (input_dim,), M w* (``problem.label_direction``)

    Returns
    -------
    ndarray, shape (width, input_dim), W_clean's dtype
    """
    u = np.asarray(label_direction, dtype=np.float64)
    nrm = np.linalg.norm(u)
    if not nrm > 0:
        raise ValueError("The 'label_direction' parameter of mixture_projection must be non-zero.")
    u = u / nrm
    W = np.asarray(W_clean, dtype=np.float64)
    return np.ascontiguousarray(W - np.outer(W @ u, u), dtype=W_clean.dtype)


def best_rank_correction(W_clean: np.ndarray, W_adv: np.ndarray, rank: int) -> np.ndarray:
    """W_clean + the best rank-r approximation of W_adv − W_clean (truncated SVD).

    By Eckart–Young this is the rank-r update closest to the full adversarial update in
    Frobenius norm (least squares): the best a rank-r change could do if it knew W_adv.

    Returns
    -------
    ndarray, shape (width, input_dim), W_clean's dtype
    """
    Wc = np.asarray(W_clean, dtype=np.float64)
    r = _check_rank(rank, Wc.shape)
    L, s, Rt = np.linalg.svd(np.asarray(W_adv, dtype=np.float64) - Wc, full_matrices=False)
    return np.ascontiguousarray(Wc + (L[:, :r] * s[:r]) @ Rt[:r], dtype=np.asarray(W_clean).dtype)
