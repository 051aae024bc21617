"""The norms of the attack balls, in one place: their names, dual norms, radii, projections and
steepest-ascent steps, shared by training, attacks, certification and the lower-bound models.

The ℓ2 ball of radius τ and the ℓ∞ ball of radius τ/√d are counterparts for dense directions
(docs/model.md), so radii are given in ℓ2 units and converted by :func:`radius_in_norm`.  The dual
norm ‖·‖_* (ℓ2 → ℓ2, ℓ∞ → ℓ1) is what a linear function loses over the ball:
min over ‖δ‖ ≤ r of ⟨w, δ⟩ = −r‖w‖_*.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import OneOf, check_param

NORMS = ("l2", "linf")
NORM = OneOf(NORMS)  # the constraint of every 'norm' parameter


def dual_norms(A, norm: str) -> np.ndarray:
    """‖a‖_* of each row of A (shape (n, input_dim)): ‖a‖₂ for ℓ2, ‖a‖₁ for ℓ∞."""
    check_param("dual_norms", "norm", norm, NORM)
    A = np.asarray(A, dtype=np.float64)
    if norm == "l2":
        return np.sqrt(np.einsum("ij,ij->i", A, A))
    return np.abs(A).sum(axis=1)


def dual_norm(w, norm: str) -> float:
    """‖w‖_* of one vector (shape (input_dim,))."""
    check_param("dual_norm", "norm", norm, NORM)
    w = np.asarray(w, dtype=np.float64)
    return float(np.sqrt(w @ w)) if norm == "l2" else float(np.abs(w).sum())


def dual_norm_subgradient(w: np.ndarray, norm: str) -> np.ndarray:
    """A subgradient of ‖w‖_*: w/‖w‖₂ (0 at w = 0) for ℓ2, sign(w) for ℓ∞."""
    check_param("dual_norm_subgradient", "norm", norm, NORM)
    if norm == "l2":
        n = np.sqrt(w @ w)
        return w / n if n > 0 else np.zeros_like(w)
    return np.sign(w)


def radius_in_norm(tau: float, norm: str, input_dim: int) -> float:
    """The radius of the ball in its own norm for a radius τ given in ℓ2 units.

    The ℓ∞ ball of radius τ/√d is the counterpart of the ℓ2 ball of radius τ for dense
    directions (docs/model.md), so one τ grid serves both norms.
    """
    if norm == "l2":
        return float(tau)
    if norm == "linf":
        return float(tau) / math.sqrt(input_dim)
    raise check_error("radius_in_norm", norm)


def steepest_step(G: np.ndarray, radius: float, norm: str) -> np.ndarray:
    """The point of the ball that maximises ⟨G_n, δ_n⟩ per row: the FGM perturbation.

    ℓ2: δ = r·g/‖g‖₂ (δ = 0 where g = 0); ℓ∞: δ = r·sign(g).

    Parameters
    ----------
    G : ndarray, shape (n_samples, input_dim)
    """
    if norm == "l2":
        nrm = np.sqrt(np.einsum("ij,ij->i", G, G, dtype=np.float64))
        scale = np.divide(radius, nrm, out=np.zeros_like(nrm), where=nrm > 0)
        return G * scale[:, None].astype(G.dtype)
    if norm == "linf":
        return np.sign(G) * G.dtype.type(radius)
    raise check_error("steepest_step", norm)


def project(delta: np.ndarray, radius: float, norm: str) -> np.ndarray:
    """Project each row of δ onto the ball of the given radius (in place; returns δ)."""
    if norm == "l2":
        nrm = np.sqrt(np.einsum("ij,ij->i", delta, delta, dtype=np.float64))
        over = nrm > radius
        if np.any(over):
            delta[over] *= (radius / nrm[over])[:, None].astype(delta.dtype)
        return delta
    if norm == "linf":
        np.clip(delta, -radius, radius, out=delta)
        return delta
    raise check_error("project", norm)


def check_error(owner: str, norm):
    """The error for a bad ``norm`` (the hot paths test the norm first, and check only then)."""
    try:
        check_param(owner, "norm", norm, NORM)
    except ValueError as exc:
        return exc
    raise AssertionError(f"{norm!r} is a valid norm")  # pragma: no cover - programming error


def random_in_ball(shape, radius: float, norm: str, rng: np.random.Generator, dtype) -> np.ndarray:
    """Uniform random points of the ball (used as PGD random starts)."""
    n, d = shape
    check_param("random_in_ball", "norm", norm, NORM)
    if norm == "l2":
        g = rng.standard_normal((n, d))
        g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-300)
        r = radius * rng.random(n) ** (1.0 / d)
        return (g * r[:, None]).astype(dtype)
    return rng.uniform(-radius, radius, size=(n, d)).astype(dtype)
