"""Figures of the verification report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

STYLE = {"ideal": ("k", "--"), "adversarial": ("C0", "-"), "clean": ("C3", "-")}


def robust_curves(results: pd.DataFrame, path: Path, tau_star: dict) -> Path:
    """Ensemble robust accuracy against τ per model (mean over seeds), one panel per norm."""
    ens = results[results.attack == "ensemble"]
    norms = list(dict.fromkeys(ens.norm))
    fig, axes = plt.subplots(1, len(norms), figsize=(5.5 * len(norms), 4), squeeze=False)
    # one colour per model in every panel, the band in its line's colour; the lower-bound
    # models (dotted) take tab20's colours, which the three networks' styles do not use
    free = iter([c for i, c in enumerate(plt.get_cmap("tab20").colors) if i not in (0, 1, 6, 7)])
    colours = {}
    for ax, norm in zip(axes[0], norms):
        sub = ens[ens.norm == norm]
        for model, g in sub.groupby("model", sort=False):
            m = g.groupby("tau").robust_acc.agg(["mean", "min", "max"]).reset_index()
            if model not in colours:
                colours[model] = STYLE.get(model, (next(free, "grey"), ":"))
            color, ls = colours[model]
            ax.plot(m.tau, m["mean"], ls, color=color, marker="o", ms=3, label=model)
            ax.fill_between(m.tau, m["min"], m["max"], color=color, alpha=0.12, lw=0)
        if norm in tau_star:
            ax.axvline(tau_star[norm], color="grey", lw=0.8, label="τ*")
        ax.set_xlabel("τ (ℓ2 units; ℓ∞ radius is τ/√d)" if norm == "linf" else "τ (ℓ2 radius)")
        ax.set_ylabel("robust accuracy (attack ensemble)")
        ax.set_title(f"{norm}: robust accuracy vs radius")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    # one legend beside the panels, not over the curves
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def feature_profiles(C_clean: np.ndarray, C_adv: np.ndarray, w_star: np.ndarray, path: Path,
                     n_neurons: int = 4) -> Path:
    """Feature profiles c_i = Mᵀw_i of a few neurons before and after adversarial training.

    Features are ordered with the neuron's own (largest) feature first, then by w*: the
    dense mixture shows as a coherent offset of the remaining entries with the sign of w*.
    """
    norms = np.linalg.norm(C_adv, axis=1)
    idx = np.argsort(-norms)[:n_neurons]
    fig, axes = plt.subplots(2, len(idx), figsize=(3.2 * len(idx), 4.8), squeeze=False, sharey="row")
    for col, i in enumerate(idx):
        top = int(np.abs(C_adv[i]).argmax())
        rest = np.array([j for j in np.argsort(-w_star, kind="stable") if j != top])
        order = np.concatenate([[top], rest])
        for row, (C, name) in enumerate([(C_clean, "clean"), (C_adv, "adversarial")]):
            c = C[i, order] / np.linalg.norm(C[i])
            ax = axes[row, col]
            ax.bar(np.arange(c.size), c, width=1.0, color=np.where(w_star[order] > 0, "C0", "C3"))
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title(f"neuron {i}, {name}", fontsize=8)
            ax.set_xticks([])
    axes[0, 0].set_ylabel("c_ij / ‖c_i‖ (clean)")
    axes[1, 0].set_ylabel("c_ij / ‖c_i‖ (adversarial)")
    fig.suptitle("feature profiles: own feature first, then features with w*_j = +1 (blue), −1 (red)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def mixture_curves(curves: pd.DataFrame, path: Path) -> Path:
    """Median dense-mixture share over the course of clean then adversarial training."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for (seed, norm), g in curves.groupby(["seed", "norm"]):
        clean = g[g.phase == "clean"]
        adv = g[g.phase == "adversarial"]
        offset = clean.step.max() if len(clean) else 0
        ax.plot(np.r_[clean.step, adv.step + offset],
                np.r_[clean.median_dense_mixture_share, adv.median_dense_mixture_share],
                color="C0" if norm == "l2" else "C1", alpha=0.7,
                label=f"{norm}" if seed == curves.seed.min() else None)
        ax.axvline(offset, color="grey", lw=0.5)
    ax.set_xlabel("training step (clean, then adversarial)")
    ax.set_ylabel("median dense-mixture share")
    ax.set_title("dense mixtures grow in clean training, vanish in adversarial training", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def low_rank_robustness(details: pd.DataFrame, path: Path) -> Path:
    """Robust accuracy at τ* against the rank r of the adversarial update, one panel per norm.

    ``details``: the rows of the ``low_rank_update`` check (columns seed, norm, tau, model,
    kind, rank, robust_acc_ensemble).  Rank-r training and the best rank-r correction are
    drawn against r (mean over seeds, band min–max); full adversarial training, the mixture
    projection and the clean network as horizontal lines (mean over seeds).
    """
    norms = list(dict.fromkeys(details.norm))
    fig, axes = plt.subplots(1, len(norms), figsize=(5.5 * len(norms), 4), squeeze=False)
    for ax, norm in zip(axes[0], norms):
        sub = details[details.norm == norm]
        for kind, colour, ls, label in (
                ("low_rank", "C0", "-", "rank-r adversarial training (band: min–max over seeds)"),
                ("best_rank", "C2", "--", "best rank-r correction, SVD of W_adv − W_clean (band: min–max)")):
            g = sub[sub.kind == kind].groupby("rank").robust_acc_ensemble.agg(["mean", "min", "max"])
            if g.empty:
                continue
            ax.plot(g.index, g["mean"], ls, color=colour, marker="o", ms=4, label=label)
            ax.fill_between(g.index, g["min"], g["max"], color=colour, alpha=0.15, lw=0)
        for kind, colour, ls, label in (("full", "k", "-", "full adversarial training (mean over seeds)"),
                                        ("projection", "C1", "-.", "mixture projection W_clean(I − uuᵀ)"),
                                        ("clean", "C3", ":", "clean network")):
            v = sub[sub.kind == kind].robust_acc_ensemble
            if len(v):
                ax.axhline(v.mean(), color=colour, ls=ls, lw=1.2, label=label)
        ranks = sorted(sub[sub.kind == "low_rank"]["rank"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks, [str(r) for r in ranks])
        ax.set_xlabel("rank r of the update U Vᵀ (log scale)")
        ax.set_ylabel("robust accuracy at τ* (attack ensemble)")
        tau = sub.tau.iloc[0]
        radius = f"τ* = {tau:g}" + ("/√d" if norm == "linf" else "")
        ax.set_title(f"{norm}: robust accuracy vs rank of the update ({radius}, "
                     f"{sub.seed.nunique()} seed(s))", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
