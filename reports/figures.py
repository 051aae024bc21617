"""Figures of the verification report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Panels of robust_accuracy.png: one per model family, so that no panel holds more than
# four lines.  Each entry: (panel title, models, reference line drawn in grey in the panel).
FAMILIES = (
    ("networks", ("ideal", "clean", "adversarial"), None),
    ("linear models", ("linear_oracle", "linear_clean", "linear_adv"), "adversarial"),
    ("polynomial kernels", ("poly2_clean", "poly2_adv", "poly3_clean", "poly3_adv"), "adversarial"),
    ("NTK of the network", ("ntk_clean", "ntk_adv"), "adversarial"),
)
# Line style says how a model was trained: solid adversarially, dashed cleanly, dotted not
# trained (the ideal network, the linear oracle); colour tells the models of a panel apart.
TRAINING_STYLE = {"adv": "-", "adversarial": "-", "clean": "--", "ideal": ":", "linear_oracle": ":"}
STYLE = {"ideal": ("k", ":"), "adversarial": ("C0", "-"), "clean": ("C3", "--")}


def _line_style(model: str) -> str:
    if model in TRAINING_STYLE:
        return TRAINING_STYLE[model]
    return TRAINING_STYLE.get(model.rsplit("_", 1)[-1], "-")


def robust_curves(results: pd.DataFrame, path: Path, tau_star: dict) -> Path:
    """Ensemble robust accuracy against τ: one row of panels per norm, one panel per family.

    Lines are means over seeds, bands min–max over seeds; solid = adversarially trained,
    dashed = clean-trained, dotted = not trained; in the lower-bound panels the
    adversarially trained network is repeated in grey for reference.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ens = results[results.attack == "ensemble"]
    norms = list(dict.fromkeys(ens.norm))
    present = set(ens.model)
    families = [(t, [m for m in ms if m in present], ref) for t, ms, ref in FAMILIES]
    families = [f for f in families if f[1]]
    known = {m for _, ms, _ in families for m in ms}
    others = sorted(present - known)
    if others:
        families.append(("other models", others, None))
    fig, axes = plt.subplots(len(norms), len(families), figsize=(4.2 * len(families), 3.6 * len(norms) + 1.4),
                             squeeze=False, sharey=True)

    def stats(g):
        return g.groupby("tau").robust_acc.agg(["mean", "min", "max"]).reset_index()

    for row, norm in enumerate(norms):
        sub = ens[ens.norm == norm]
        for col, (title, models, ref) in enumerate(families):
            ax = axes[row, col]
            if ref is not None and ref in present:
                m = stats(sub[sub.model == ref])
                ax.plot(m.tau, m["mean"], "-", color="0.6", lw=1.5, label=f"{ref} network (reference)")
            for j, model in enumerate(models):
                m = stats(sub[sub.model == model])
                color = STYLE.get(model, (f"C{j}", None))[0] if col == 0 else f"C{j}"
                # markers differ too: lines that coincide (the linear oracle and the clean
                # linear model) stay visible
                ax.plot(m.tau, m["mean"], _line_style(model), color=color, marker="osD^v"[j % 5],
                        ms=4 if j == 0 else 3, mfc="none" if j == 0 else color, label=model)
                ax.fill_between(m.tau, m["min"], m["max"], color=color, alpha=0.15, lw=0)
            if norm in tau_star:
                ax.axvline(tau_star[norm], color="k", lw=0.8, alpha=0.6)
            ax.set_title(f"{title} ({'ℓ2' if norm == 'l2' else 'ℓ∞'})", fontsize=10)
            ax.set_xlabel("τ (ℓ2 units; the ℓ∞ radius is τ/√d)" if norm == "linf" else "τ (ℓ2 radius)",
                          fontsize=8)
            if col == 0:
                ax.set_ylabel("robust accuracy\n(attack ensemble)")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
            if row == len(norms) - 1:  # one legend per family, under its column
                handles, labels = ax.get_legend_handles_labels()
                ax.legend(handles, labels, fontsize=7, loc="upper center",
                          bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    key = [Line2D([], [], color="k", ls="-", label="solid: adversarially trained"),
           Line2D([], [], color="k", ls="--", label="dashed: clean-trained"),
           Line2D([], [], color="k", ls=":", label="dotted: not trained (ideal, oracle)"),
           Patch(color="k", alpha=0.15, label="band: min–max over seeds (line: mean)"),
           Line2D([], [], color="k", lw=0.8, alpha=0.6, label="vertical line: τ* of the claims")]
    fig.suptitle("Robust accuracy against the radius τ, by model family", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.legend(handles=key, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def typical_neurons(C_clean: np.ndarray, w_star: np.ndarray, n_neurons: int = 4,
                    skip: int = 1) -> np.ndarray:
    """The ``n_neurons`` neurons whose clean dense-mixture share is closest to the median:
    typical neurons of the clean network, not its extremes."""
    from simulator.metrics import dense_mixture_share

    share = dense_mixture_share(C_clean, w_star, skip)
    return np.argsort(np.abs(share - np.median(share)), kind="stable")[:n_neurons]


def feature_profiles(C_clean: np.ndarray, C_adv: np.ndarray, w_star: np.ndarray, path: Path,
                     n_neurons: int = 4) -> Path:
    """Feature profiles c_i = Mᵀw_i of typical neurons before and after adversarial training.

    The neurons are those whose clean dense-mixture share is closest to the median
    (:func:`typical_neurons`).  Features are ordered with the neuron's own (largest, after
    adversarial training) feature first, then by w*: the dense mixture shows as a coherent
    offset of the remaining entries with the sign of w*.
    """
    from matplotlib.patches import Patch

    idx = typical_neurons(C_clean, w_star, n_neurons)
    fig, axes = plt.subplots(2, len(idx), figsize=(3.4 * len(idx), 5.4), squeeze=False, sharey="row")
    for col, i in enumerate(idx):
        top = int(np.abs(C_adv[i]).argmax())
        rest = np.array([j for j in np.argsort(-w_star, kind="stable") if j != top])
        order = np.concatenate([[top], rest])
        colours = np.where(w_star[order] > 0, "C0", "C3").astype(object)
        colours[0] = "k"
        for row, (C, name) in enumerate([(C_clean, "clean"), (C_adv, "adversarial")]):
            c = C[i, order] / np.linalg.norm(C[i])
            ax = axes[row, col]
            ax.bar(np.arange(c.size), c, width=1.0, color=list(colours))
            # one bar of 512 is under a pixel wide: draw the own feature as a stem with a dot
            ax.plot([0, 0], [0, c[0]], color="k", lw=1.5)
            ax.plot([0], [c[0]], "o", color="k", ms=4)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title(f"neuron {i}, {name}", fontsize=8)
            ax.set_xlim(-c.size // 40, c.size)
            ax.tick_params(labelsize=7)
            if row == 1:
                ax.set_xlabel("feature index j (own first, then w*_j = +1, then −1)", fontsize=7)
    axes[0, 0].set_ylabel("c_ij / ‖c_i‖  (clean)")
    axes[1, 0].set_ylabel("c_ij / ‖c_i‖  (adversarial)")
    key = [Patch(color="k", label="the neuron's own feature (largest after adversarial training)"),
           Patch(color="C0", label="w*_j = +1"), Patch(color="C3", label="w*_j = −1")]
    fig.suptitle(f"Feature profiles of {len(idx)} typical neurons (clean dense-mixture share closest "
                 "to the median),\nbefore (top) and after (bottom) adversarial training", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles=key, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def mixture_curves(curves: pd.DataFrame, path: Path) -> Path:
    """Median dense-mixture share over clean training, then adversarial training per norm.

    One line per seed and training norm (colour: norm; line style: seed).  The clean phase
    is shared by both norms (the same clean weights), so its lines coincide; the grey
    vertical line marks the switch to adversarial training.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    seeds = sorted(curves.seed.unique())
    dashes = ["-", "--", ":", "-."]
    switch = 0
    for (seed, norm), g in curves.groupby(["seed", "norm"]):
        clean = g[g.phase == "clean"]
        adv = g[g.phase == "adversarial"]
        offset = clean.step.max() if len(clean) else 0
        switch = max(switch, offset)
        ax.plot(np.r_[clean.step, adv.step + offset],
                np.r_[clean.median_dense_mixture_share, adv.median_dense_mixture_share],
                dashes[seeds.index(seed) % len(dashes)], color="C0" if norm == "l2" else "C1",
                alpha=0.8, label=f"seed {seed}, {'ℓ2' if norm == 'l2' else 'ℓ∞'} adversarial training")
    ax.axvline(switch, color="0.4", lw=1.2)
    low, top = ax.get_ylim()
    top = top + 0.08 * (top - low)  # room for the phase labels above the lines
    ax.set_ylim(low, top)
    ax.axvspan(switch, ax.get_xlim()[1], color="0.5", alpha=0.06, lw=0)
    ax.text(switch, top, " clean → adversarial training", va="top", ha="left", fontsize=8, color="0.3")
    ax.text(switch / 2, top, "clean training", va="top", ha="center", fontsize=8, color="0.3")
    ax.set_xlabel("training step (clean steps, then adversarial steps)")
    ax.set_ylabel("median dense-mixture share\n(over neurons)")
    ax.set_title("Dense mixtures grow in clean training and shrink in adversarial training\n"
                 "(both norms start from the same clean run: its lines coincide)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center right")
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
