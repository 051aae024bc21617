"""Files of ``fpsim real``: CSVs, the three figures and REPORT.md (no numerics here)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simulator.storage import write_csv  # noqa: E402
from .verify_report import SUMMARY_COLUMNS  # noqa: E402

MODEL_STYLE = {"clean": ("C3", "-"), "adversarial": ("C0", "-"), "linear_clean": ("C1", ":"),
               "linear_adversarial": ("C2", ":")}


def _style(model: str):
    for key in ("linear_adversarial", "linear_clean", "adversarial", "clean"):
        if model.startswith(key):
            return MODEL_STYLE[key]
    return ("grey", "-")


def neuron_grid(task, W_clean, W_adv, norm: str, path: Path, n_neurons: int = 16) -> Path:
    """The same neurons as images, clean beside adversarial (the paper's picture).

    Shows the ``n_neurons`` neurons of largest clean norm (those that carry the most of f);
    each image is scaled to its own largest |weight| (colour: blue +, red −)."""
    shape = task.image_shape
    if len(shape) == 3:  # RGB weights shown as their channel mean
        to_img = lambda w: w.reshape(shape).mean(axis=2)  # noqa: E731
    else:
        to_img = lambda w: w.reshape(shape)  # noqa: E731
    order = np.argsort(-np.linalg.norm(W_clean, axis=1))[:n_neurons]
    cols = 4  # neuron pairs per row
    rows = int(np.ceil(len(order) / cols))
    fig, axes = plt.subplots(rows, 2 * cols, figsize=(2 * cols * 1.3, rows * 1.45 + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    for k, i in enumerate(order):
        for j, (W, label) in enumerate(((W_clean, "clean"), (W_adv, "adv"))):
            ax = axes[k // cols, 2 * (k % cols) + j]
            img = to_img(np.asarray(W[i], np.float64))
            lim = np.abs(img).max() or 1.0
            ax.imshow(img, cmap="RdBu", vmin=-lim, vmax=lim)
            ax.set_title(f"#{i} {label}", fontsize=7)
    adv = "FGM ℓ2" if norm == "l2" else "FGSM ℓ∞"
    fig.suptitle(f"{task.name}\nhidden weights w_i as {shape[0]}×{shape[1]} images: clean-trained "
                 f"(left) beside {adv}-trained from it (right); blue > 0, red < 0, each image "
                 f"scaled to its own max |w|", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / (rows * 1.45 + 0.6)))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def robust_curves(results: pd.DataFrame, path: Path, check_eps: dict) -> Path:
    """Ensemble robust accuracy against ε per model (mean over seeds, band min–max), the
    networks' certified accuracy dashed; one panel per norm."""
    norms = list(dict.fromkeys(results.norm))
    fig, axes = plt.subplots(1, len(norms), figsize=(5.8 * len(norms), 4.2), squeeze=False)
    for ax, norm in zip(axes[0], norms):
        sub = results[results.norm == norm]
        models = ["clean", f"adversarial_{norm}", "linear_clean", f"linear_adversarial_{norm}"]
        for model in models:
            color, ls = _style(model)
            for attack, style, lab in (("ensemble", ls, "attack ensemble"),
                                       ("certified", "--", "certified")):
                g = sub[(sub.model == model) & (sub.attack == attack)]
                if g.empty or (attack == "certified" and model.startswith("linear")):
                    continue  # a linear model's certificate is exact: the same line
                m = g.groupby("eps").robust_acc.agg(["mean", "min", "max"]).reset_index()
                m = pd.concat([pd.DataFrame({"eps": [0.0], "mean": [g.clean_acc.mean()],
                                             "min": [g.clean_acc.min()], "max": [g.clean_acc.max()]}), m])
                ax.plot(m.eps, m["mean"], style, color=color, marker="o", ms=3,
                        label=f"{model} ({lab}{', exact' if model.startswith('linear') else ''})")
                ax.fill_between(m.eps, m["min"], m["max"], color=color, alpha=0.12, lw=0)
        ax.axvline(check_eps[norm], color="grey", lw=0.8, label="check radius ε")
        ax.set_xlabel(f"ε ({'ℓ2 norm' if norm == 'l2' else 'ℓ∞ norm'} of δ, pixel units of [0, 1] images)")
        ax.set_ylabel("robust accuracy (share of test images)")
        ax.set_title(f"{norm}: robust accuracy vs ε (mean over seeds; band min–max)", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=6.5, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def beta_scatter(neurons: pd.DataFrame, path: Path) -> Path:
    """Per neuron ‖β w_adv‖ against ‖v‖ (w_clean = β w_adv + v), one panel per norm."""
    norms = list(dict.fromkeys(neurons.norm))
    fig, axes = plt.subplots(1, len(norms), figsize=(5 * len(norms), 4.4), squeeze=False)
    for ax, norm in zip(axes[0], norms):
        g = neurons[neurons.norm == norm]
        above = (g.beta_ratio > 1).mean()
        ax.scatter(g.v_norm, g.beta_w_adv_norm, s=4, alpha=0.4, color="C0",
                   label=f"one neuron (all seeds); {above:.0%} above the diagonal")
        lim = float(max(g.v_norm.max(), g.beta_w_adv_norm.max())) * 1.05
        ax.plot([0, lim], [0, lim], "k--", lw=0.8, label="‖β w_adv‖ = ‖v‖")
        ax.set_xlim(0, lim), ax.set_ylim(0, lim)
        ax.set_xlabel("‖v‖ (weight-space ℓ2 norm)")
        ax.set_ylabel("‖β w_adv‖ (weight-space ℓ2 norm)")
        ax.set_title(f"{norm}: w_clean = β w_adv + v per neuron", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tables(runs) -> dict:
    """results / neurons / spectrum / per-seed summary as DataFrames."""
    results = pd.DataFrame([dict(seed=r.config.seed, **row) for r in runs for row in r.results])
    neurons = pd.concat([pd.DataFrame(r.neurons[n]).assign(seed=r.config.seed, norm=n)
                         for r in runs for n in r.neurons], ignore_index=True)
    spectrum = pd.DataFrame([{"seed": r.config.seed, "norm": n, "rank": k + 1, "singular_value": s}
                             for r in runs for n, sv in r.spectra.items() for k, s in enumerate(sv)])
    per_seed = pd.DataFrame([dict(seed=r.config.seed, norm=n, **s) for r in runs
                             for n, s in r.summary.items()])
    return {"results": results, "neurons": neurons, "update_spectrum": spectrum,
            "summary_per_seed": per_seed}


def write_real_outputs(folder: Path, runs: list, checks: list, info: dict) -> pd.DataFrame:
    """CSVs, figures and REPORT.md for finished runs (one per seed) and their checks."""
    folder = Path(folder)
    t = tables(runs)
    for name, df in t.items():
        write_csv(folder / f"{name}.csv", df)
    # the recorded initialisation and the trained weights, per seed (float32, compressed)
    np.savez_compressed(folder / "weights.npz", **{
        f"seed{r.config.seed}_{k}": np.asarray(W, np.float32) for r in runs
        for k, W in [("W_init", r.W_init), ("W_clean", r.W_clean)]
        + [(f"W_adv_{n}", r.W_adv[n]) for n in r.W_adv]})
    summary = pd.DataFrame([row for c in checks for row in c.summary_rows()], columns=SUMMARY_COLUMNS)
    write_csv(folder / "verdicts.csv", summary)
    cfg, task = runs[0].config, runs[0].task
    figs = {}
    check_eps = {n: cfg.check_eps(n) for n in cfg.norms}
    figs["Robust accuracy against ε"] = robust_curves(t["results"], folder / "robust_accuracy.png",
                                                      check_eps).name
    figs["Purification principle per neuron: ‖β w_adv‖ against ‖v‖"] = beta_scatter(
        t["neurons"], folder / "beta_scatter.png").name
    for n in cfg.norms:
        figs[f"Neurons, clean beside adversarial ({n}, seed {cfg.seed})"] = neuron_grid(
            task, runs[0].W_clean, runs[0].W_adv[n], n, folder / f"neuron_grid_{n}.png").name
    write_real_report(folder, summary, runs, figs, info)
    return summary


def _fmt(v):
    return "" if pd.isna(v) else f"{v:.3f}"


def write_real_report(folder: Path, summary: pd.DataFrame, runs, figures: dict, info: dict) -> Path:
    cfg, task = runs[0].config, runs[0].task
    lines = [
        "# fpsim real — feature purification on real images",
        "",
        f"Task **{task.name}**: {len(task.y_train)} training and {len(runs[0].results) and cfg.n_test or len(task.y_test)} "
        f"test images of {task.input_dim} pixels, scaled to [0, 1]"
        f"{', minus the mean training image' if cfg.center else ''}. Network: m = {cfg.width} "
        f"thresholded symmetric-ReLU neurons, θ = {cfg.threshold:g}, σ₀ = {cfg.init_scale:g}; "
        f"{cfg.clean_steps} clean steps (η = {cfg.step_size:g}, batch {cfg.batch_size}), then from "
        f"the clean weights {cfg.adv_steps} steps (η = {cfg.adv_step_size:g}) of "
        f"{'FGM at ℓ2 ε = ' if cfg.adv_attack == 'fgm' else 'PGD at ℓ2 ε = '}{cfg.train_eps_l2:g} and, "
        f"separately, {'FGSM' if cfg.adv_attack == 'fgm' else 'PGD'} at ℓ∞ ε = {cfg.train_eps_linf:g}. ε in pixel units, "
        f"each in its own norm; perturbations not clipped to [0, 1]. Seeds {[r.config.seed for r in runs]}.",
        "",
        "Robust accuracies are against the attack ensemble (FGM, PGD "
        f"{cfg.pgd_steps} steps × {cfg.pgd_restarts + 1} starts, the dense attack along the "
        "class-mean difference, the attack on each image's active atoms of the learned "
        "dictionary): upper bounds. `certified` figures are sound lower bounds (exact for "
        "linear models). Verdicts compare the mean over seeds with the criterion "
        "(theorems/common.py: CRITERIA).",
        "",
        "| norm | ε | model | quantity | measured | 95% CI | per seed | criterion | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for _, r in summary.iterrows():
        ci = "" if pd.isna(r.ci95_low) else f"[{_fmt(r.ci95_low)}, {_fmt(r.ci95_high)}]"
        verdict = {"PASS": "PASS", "FAIL": "**FAIL**"}.get(r.verdict, r.verdict.lower())
        lines.append(f"| {r.norm} | {r.tau:g} | {r.model} | {r.quantity} | {_fmt(r.measured)} | {ci} "
                     f"| {r.per_seed} | {r.criterion} | {verdict} |")
    lines += [""]
    for title, fname in figures.items():
        lines += [f"## {title}", "", f"![{title}]({fname})", ""]
    lines += ["## Files", "",
              "`results.csv` (seed, model, norm, ε, attack, clean and robust accuracy), "
              "`weights.npz` (per seed: W_init, W_clean, W_adv_<norm>), `neurons.csv` (per neuron: β, ‖β w_adv‖, ‖v‖, cosines with the init, "
              "dictionary purity, residual participation, label-mixture and off-dictionary "
              "shares), `update_spectrum.csv`, `summary_per_seed.csv`, `verdicts.csv`, `run.json`.",
              "", f"Wall time {info.get('seconds', 0):.0f} s; per-seed timings in `run.json`.", ""]
    path = Path(folder) / "REPORT.md"
    path.write_text("\n".join(lines))
    return path
