"""Purification metrics (docs/model.md, "What is measured"; the paper's claim 4).

All per-neuron quantities use the feature profile c_i = Mᵀ w_i (least-squares coefficients
when D > d).
"""

from __future__ import annotations

import numpy as np


def _safe_div(a, b):
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def purity(C: np.ndarray) -> np.ndarray:
    """max_j |c_ij| / ‖c_i‖, shape (width,)."""
    return _safe_div(np.abs(C).max(axis=1), np.linalg.norm(C, axis=1))


def residual(C: np.ndarray, skip: int) -> np.ndarray:
    """c_i with its ``skip`` largest entries in magnitude set to zero, shape (width, D)."""
    R = np.array(C, dtype=np.float64, copy=True)
    if skip > 0:
        k = min(skip, R.shape[1])
        idx = np.argpartition(-np.abs(R), k - 1, axis=1)[:, :k]
        np.put_along_axis(R, idx, 0.0, axis=1)
    return R


def dense_mixture_share(C: np.ndarray, w_star: np.ndarray, skip: int = 1) -> np.ndarray:
    """|⟨c_i⁽⁻ˢ⁾, w*⟩| / (‖w*‖·‖c_i‖), shape (width,): the paper's dense mixture."""
    R = residual(C, skip)
    num = np.abs(R @ np.asarray(w_star, dtype=np.float64))
    den = np.linalg.norm(w_star) * np.linalg.norm(C, axis=1)
    return _safe_div(num, den)


def participation_ratio(R: np.ndarray) -> np.ndarray:
    """(Σ c²)² / Σ c⁴ per row: an effective number of features, shape (width,)."""
    s2 = (R ** 2).sum(axis=1)
    s4 = (R ** 4).sum(axis=1)
    return _safe_div(s2 ** 2, s4)


def cosine_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Cosine between matching rows of A and B, shape (width,)."""
    num = np.einsum("ij,ij->i", A, B, dtype=np.float64)
    den = np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)
    return _safe_div(num, den)


def clean_adv_decomposition(W_clean: np.ndarray, W_adv: np.ndarray):
    """w_clean = β w_adv + v per neuron, β by least squares.

    Returns
    -------
    beta : (width,); ratio : ‖β w_adv‖ / ‖v‖, (width,) (inf where v = 0)
    """
    Wc = np.asarray(W_clean, dtype=np.float64)
    Wa = np.asarray(W_adv, dtype=np.float64)
    aa = np.einsum("ij,ij->i", Wa, Wa)
    beta = _safe_div(np.einsum("ij,ij->i", Wc, Wa), aa)
    V = Wc - beta[:, None] * Wa
    num = np.abs(beta) * np.sqrt(aa)
    den = np.linalg.norm(V, axis=1)
    ratio = np.divide(num, den, out=np.full_like(num, np.inf), where=den > 0)
    return beta, ratio


def update_spectrum(W_clean: np.ndarray, W_adv: np.ndarray) -> np.ndarray:
    """Singular values of W_adv − W_clean, descending."""
    return np.linalg.svd(np.asarray(W_adv, np.float64) - np.asarray(W_clean, np.float64),
                         compute_uv=False)


def top_energy_share(singular_values: np.ndarray, r: int) -> float:
    """Share of Σσ² carried by the r largest singular values."""
    e = np.asarray(singular_values, dtype=np.float64) ** 2
    tot = e.sum()
    return float(e[:r].sum() / tot) if tot > 0 else 0.0


def neuron_table(problem, W, W_init=None, skip: int = 1) -> dict:
    """Per-neuron metrics of one weight matrix, as columns (dict of arrays)."""
    C = problem.feature_coefficients(W)
    R = residual(C, skip)
    out = {
        "neuron": np.arange(W.shape[0]),
        "norm": np.linalg.norm(np.asarray(W, np.float64), axis=1),
        "top_feature": np.abs(C).argmax(axis=1),
        "purity": purity(C),
        "dense_mixture_share": dense_mixture_share(C, problem.w_star, skip),
        "residual_participation": participation_ratio(R),
    }
    if W_init is not None:
        out["corr_init"] = cosine_rows(np.asarray(W, np.float64), np.asarray(W_init, np.float64))
    return out


def purification_measures(problem, W_init, W_clean, W_adv, skip: int = 1, top_rank: int = 5):
    """Per-neuron table of both networks, the update spectrum and the scalar summary.

    Returns
    -------
    neurons : dict of column arrays (clean_*, adv_*, beta, beta_ratio)
    spectrum : singular values of W_adv − W_clean
    summary : dict of scalar figures (medians, reduction, shares, correlations, energy)
    """
    nc = neuron_table(problem, W_clean, W_init, skip)
    na = neuron_table(problem, W_adv, W_init, skip)
    beta, ratio = clean_adv_decomposition(W_clean, W_adv)
    spectrum = update_spectrum(W_clean, W_adv)
    neurons = {"neuron": nc["neuron"]}
    neurons.update({f"clean_{k}": v for k, v in nc.items() if k != "neuron"})
    neurons.update({f"adv_{k}": v for k, v in na.items() if k != "neuron"})
    neurons["beta"], neurons["beta_ratio"] = beta, ratio
    ideal_W = (problem.M * problem.w_star[None, :]).T  # the ideal network's weights
    ideal_share = dense_mixture_share(problem.feature_coefficients(ideal_W), problem.w_star, skip)
    med_c = float(np.median(nc["dense_mixture_share"]))
    med_a = float(np.median(na["dense_mixture_share"]))
    summary = {
        "median_dense_mixture_share_clean": med_c,
        "median_dense_mixture_share_adversarial": med_a,
        "median_dense_mixture_share_ideal": float(np.median(ideal_share)),
        "dense_mixture_reduction": med_c / med_a if med_a > 0 else float("inf"),
        "median_purity_clean": float(np.median(nc["purity"])),
        "median_purity_adversarial": float(np.median(na["purity"])),
        "share_beta_ratio_above_1": float(np.mean(ratio > 1)),
        "median_abs_corr_init_clean": float(np.median(np.abs(nc["corr_init"]))),
        "median_abs_corr_init_adversarial": float(np.median(np.abs(na["corr_init"]))),
        "update_top_energy_share": top_energy_share(spectrum, top_rank),
        "update_top1_energy_share": top_energy_share(spectrum, 1),
        "corr_clean_adv_median": float(np.median(np.abs(cosine_rows(W_clean, W_adv)))),
        # "purifies instead of learning new features": the neuron keeps its strongest feature
        "share_same_top_feature": float(np.mean(nc["top_feature"] == na["top_feature"])),
    }
    return neurons, spectrum, summary
