"""Projections and steepest-ascent steps onto ℓ2 / ℓ∞ balls, shared by training and attacks."""

from __future__ import annotations

import math

import numpy as np

NORMS = ("l2", "linf")


def radius_in_norm(tau: float, norm: str, input_dim: int) -> float:
    """The radius of the ball in its own norm for a radius τ given in ℓ2 units.

    The ℓ∞ ball of radius τ/√d is the counterpart of the ℓ2 ball of radius τ for dense
    directions (MODEL.md), so one τ grid serves both norms.
    """
    if norm == "l2":
        return float(tau)
    if norm == "linf":
        return float(tau) / math.sqrt(input_dim)
    raise ValueError(f"The 'norm' parameter must be one of {{'l2', 'linf'}}. Got {norm!r} instead.")


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
    raise ValueError(f"The 'norm' parameter must be one of {{'l2', 'linf'}}. Got {norm!r} instead.")


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
    raise ValueError(f"The 'norm' parameter must be one of {{'l2', 'linf'}}. Got {norm!r} instead.")


def random_in_ball(shape, radius: float, norm: str, rng: np.random.Generator, dtype) -> np.ndarray:
    """Uniform random points of the ball (used as PGD random starts)."""
    n, d = shape
    if norm == "l2":
        g = rng.standard_normal((n, d))
        g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-300)
        r = radius * rng.random(n) ** (1.0 / d)
        return (g * r[:, None]).astype(dtype)
    return rng.uniform(-radius, radius, size=(n, d)).astype(dtype)
