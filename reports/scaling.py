"""The scaling report of a sweep: critical radii, exponents, the adversarial − clean gap.

Writes into the sweep folder::

    scaling.csv     group columns, model, norm, d, seed, tau_c, censored
    exponents.csv   group columns, model, norm, exponent, ci_low, ci_high, n_points, ...
    gap.csv         group columns, norm, d, seed, tau, adversarial, clean, gap
    scaling.png     τ_c against d on log-log axes, with the fitted lines
    SCALING.md      the tables and the figure

The numerics are in :mod:`simulator.scaling`; this module only arranges and writes them.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simulator.sweeps.scaling import (LEFT, RIGHT, critical_radius, fit_exponent,  # noqa: E402
                               interpolate_accuracy, power_law)

from simulator import storage  # noqa: E402

STYLE = {"ideal": ("k", "--"), "adversarial": ("C0", "-"), "clean": ("C3", "-")}
FREE_COLOURS = tuple(f"C{j}" for j in range(10) if f"C{j}" not in ("C0", "C3"))
GAP_MODELS = ("adversarial", "clean")


def _groups(frame: pd.DataFrame, cols: list):
    """(key dict, sub-frame) per combination of ``cols`` (one group when cols is empty)."""
    if not cols:
        yield {}, frame
        return
    for key, sub in frame.groupby(cols, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(cols, key)), sub


def critical_table(results: pd.DataFrame, group_cols: list, level: float = 0.5,
                   attack: str = "ensemble") -> pd.DataFrame:
    """τ_c per (group, model, norm, d, seed): one row per accuracy curve of ``attack``."""
    ens = results[results.attack == attack]
    keys = list(group_cols) + ["model", "norm", "input_dim", "seed"]
    rows = []
    for key, g in ens.groupby(keys, sort=True, dropna=False):
        g = g.sort_values("tau")
        cr = critical_radius(g.tau.to_numpy(), g.robust_acc.to_numpy(), level)
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["d"] = int(row.pop("input_dim"))
        row.update(tau_c=cr.tau_c, censored=cr.censored)
        rows.append(row)
    cols = list(group_cols) + ["model", "norm", "d", "seed", "tau_c", "censored"]
    return pd.DataFrame(rows, columns=cols)


def exponent_table(crit: pd.DataFrame, group_cols: list) -> pd.DataFrame:
    """The log-log fit per (group, model, norm) over the uncensored points of every seed."""
    keys = list(group_cols) + ["model", "norm"]
    rows = []
    for key, g in crit.groupby(keys, sort=True, dropna=False):
        ok = g[g.censored == ""]
        fit = fit_exponent(ok.d.to_numpy(), ok.tau_c.to_numpy())
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(exponent=fit.exponent, ci_low=fit.ci_low, ci_high=fit.ci_high,
                   n_points=fit.n_points, n_censored=int((g.censored != "").sum()),
                   n_d=int(ok.d.nunique()), intercept=fit.intercept, stderr=fit.stderr)
        rows.append(row)
    cols = keys + ["exponent", "ci_low", "ci_high", "n_points", "n_censored", "n_d",
                   "intercept", "stderr"]
    return pd.DataFrame(rows, columns=cols)


def gap_table(results: pd.DataFrame, exponents: pd.DataFrame, group_cols: list,
              attack: str = "ensemble", reference: str = "clean") -> pd.DataFrame:
    """Robust accuracy adversarial − clean at the ``reference`` model's fitted τ_c(d).

    At each d the radius is τ_ref(d) = exp(a + b log d) from the reference model's fit, the
    scale at which that model breaks; each seed's accuracies are interpolated on its τ grid
    (nan where τ_ref lies outside it).
    """
    ens = results[(results.attack == attack) & results.model.isin(GAP_MODELS)]
    cols = list(group_cols) + ["norm", "d", "seed", "tau", *GAP_MODELS, "gap"]
    rows = []
    if ens.empty or not set(GAP_MODELS) <= set(ens.model):
        return pd.DataFrame(rows, columns=cols)
    for key, g in ens.groupby(list(group_cols) + ["norm"], sort=True, dropna=False):
        key = dict(zip(list(group_cols) + ["norm"], key if isinstance(key, tuple) else (key,)))
        sel = exponents
        for c, v in key.items():
            sel = sel[(sel[c] == v) | (sel[c].isna() & pd.isna(v))]
        sel = sel[sel.model == reference]
        if sel.empty:
            continue
        e = sel.iloc[0]
        for (d, seed), cell in g.groupby(["input_dim", "seed"], sort=True):
            tau = power_law(e.intercept, e.exponent, d)
            row = {**key, "d": int(d), "seed": seed, "tau": tau}
            for m in GAP_MODELS:
                c = cell[cell.model == m].sort_values("tau")
                row[m] = interpolate_accuracy(c.tau.to_numpy(), c.robust_acc.to_numpy(), tau)
            row["gap"] = row["adversarial"] - row["clean"]
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def scaling_figure(crit: pd.DataFrame, exps: pd.DataFrame, group_cols: list, path: Path,
                   level: float) -> Path:
    """τ_c against d (log-log), one panel per group × norm; per-seed points, means, fits."""
    panels = []
    for gkey, g in _groups(crit, group_cols):
        for norm in sorted(g.norm.unique()):
            panels.append((gkey, norm, g[g.norm == norm]))
    n = max(1, len(panels))
    ncols = min(n, 2)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 4.6 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (gkey, norm, sub) in zip(axes.flat, panels):
        k = 0  # models without a fixed style take the colours the fixed ones leave free
        for model, g in sub.groupby("model", sort=False):
            if model in STYLE:
                color, ls = STYLE[model]
            else:
                color, ls = FREE_COLOURS[k % len(FREE_COLOURS)], ("-", ":")[k // len(FREE_COLOURS) % 2]
                k += 1
            ok = g[g.censored == ""]
            ax.scatter(ok.d, ok.tau_c, s=12, color=color, alpha=0.35, lw=0)
            for cens, marker in ((LEFT, "v"), (RIGHT, "^")):
                c = g[g.censored == cens]
                if not c.empty:
                    ax.scatter(c.d, c.tau_c, s=22, marker=marker, facecolors="none",
                               edgecolors=color, alpha=0.6)
            mean = ok.groupby("d").tau_c.mean()
            ax.plot(mean.index, mean.values, "o", color=color, ms=5)
            e = exps[(exps.model == model) & (exps.norm == norm)]
            for c, v in gkey.items():
                e = e[e[c] == v]
            label = model
            if not e.empty and math.isfinite(e.iloc[0].exponent):
                r = e.iloc[0]
                ds = np.geomspace(sub.d.min(), sub.d.max(), 30)
                ax.plot(ds, [power_law(r.intercept, r.exponent, x) for x in ds], ls, color=color, lw=1.2)
                ci = (f" [{r.ci_low:.2f}, {r.ci_high:.2f}]" if math.isfinite(r.ci_low) else "")
                label = f"{model}: b = {r.exponent:.2f}{ci}"
            ax.plot([], [], ls, color=color, marker="o", ms=4, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ds = sorted(sub.d.unique())
        ax.set_xticks(ds)
        ax.set_xticklabels([str(d) for d in ds])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.3g"))
        ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%.3g"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xlabel("input dimension d")
        ax.set_ylabel(f"critical radius τ_c (robust acc < {level:g})"
                      + ("; ℓ∞ radius τ/√d" if norm == "linf" else ""))
        title = f"{norm}" + "".join(f", {c}={v}" for c, v in gkey.items())
        ax.set_title(title + ": τ_c vs d (▽ ≤, △ > : censored)", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Write a figure atomically (temporary file + rename) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.{digits}f}"
    return str(v)


def md_table(frame: pd.DataFrame, fmt=None) -> str:
    """A Markdown table of ``frame``, each value through ``fmt`` (default: 3 digits, '–' for none)."""
    fmt = fmt or _fmt
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "| " + " | ".join("---" for _ in frame.columns) + " |"]
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join(fmt(v) for v in r.values) + " |")
    return "\n".join(lines)


def scaling_markdown(crit, exps, gap, group_cols, level, attack, info: dict) -> str:
    """The SCALING.md section: how τ_c was measured, the exponents, τ_c by d, the gap."""
    out = ["# Scaling of the critical radius", ""]
    out += [f"Sweep `{info.get('out', '')}`: {info.get('n_ok', '?')} of {info.get('n_cells', '?')} "
            f"cells ok; grid file `{info.get('grid_file', '')}`.", ""]
    out += [f"τ_c(d) is the smallest τ at which the **{attack}** robust accuracy falls below "
            f"**{level:g}**, by linear interpolation between the two bracketing points of the τ "
            "grid, for each seed; seeds where the accuracy is below the level at the smallest τ "
            "(left-censored, τ_c ≤ τ_min) or never falls below it (right-censored, τ_c > τ_max) "
            "are left out of the fits and counted. The exponent b comes from a least-squares fit "
            "of log τ_c = a + b log d over every uncensored seed's point, with a 95% t-interval. "
            "τ is in ℓ2 units; the ℓ∞ ball has radius τ/√d.", ""]
    out += ["Orders of magnitude (docs/model.md): the ideal purified network's τ_c should not shrink "
            "with d (b ≈ 0); the linear oracle's shrinks like √(k/d), so b ≈ (c − 1)/2 when "
            "k = d^c; the clean network breaks at radii that shrink with d, and adversarial "
            "training should keep its τ_c near the ideal network's.", ""]
    if crit.empty:
        out += ["No ok cells with an ensemble accuracy curve: nothing to report.", ""]
        return "\n".join(out)
    out += ["## Exponents", ""]
    cols = list(group_cols) + ["model", "norm", "exponent", "ci_low", "ci_high", "n_points",
                               "n_censored", "n_d"]
    out += [md_table(exps[cols]), ""]
    out += ["## Critical radius by d (mean over uncensored seeds; censored / seeds)", ""]
    keys = list(group_cols) + ["model", "norm"]
    rows = []
    for key, g in crit.groupby(keys, sort=True, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for d, gd in g.groupby("d"):
            ok = gd[gd.censored == ""]
            mean = _fmt(float(ok.tau_c.mean())) if len(ok) else "–"
            row[f"d={d}"] = f"{mean} ({len(gd) - len(ok)}/{len(gd)})"
        rows.append(row)
    out += [md_table(pd.DataFrame(rows)), ""]
    out += ["## Robust-accuracy gap adversarial − clean", ""]
    if gap.empty:
        out += ["Needs the models 'adversarial' and 'clean' and a fit of the clean network's "
                "τ_c; not available in this sweep.", ""]
    else:
        out += ["At each d, at the radius τ_ref(d) = exp(a + b log d) where the fit says the "
                "**clean** network breaks (its accuracy ≈ the level there), each seed's "
                "ensemble robust accuracies are interpolated on its τ grid (– where τ_ref lies "
                "outside the grid). Mean ± standard deviation over seeds.", ""]
        keys = list(group_cols) + ["norm", "d"]
        rows = []
        for key, g in gap.groupby(keys, sort=True, dropna=False):
            row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
            row["tau_ref"] = float(g.tau.iloc[0])
            for m in (*GAP_MODELS, "gap"):
                v = g[m].dropna()
                row[m] = (f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1
                          else (f"{v.mean():.3f}" if len(v) else "–"))
            rows.append(row)
        out += [md_table(pd.DataFrame(rows)), ""]
    out += ["## Figure", "", "![critical radius against d](scaling.png)", ""]
    out += ["Files: `scaling.csv` (τ_c per seed), `exponents.csv`, `gap.csv`, `results.csv` "
            "(every robust accuracy), `cells/` (one record per cell).", ""]
    return "\n".join(out)


def write_scaling_report(out: Path, results: pd.DataFrame, group_cols: list, *,
                         level: float = 0.5, attack: str = "ensemble", info: dict | None = None) -> dict:
    """Compute and write scaling.csv, exponents.csv, gap.csv, scaling.png and SCALING.md."""
    out = Path(out)
    group_cols = [c for c in group_cols if c in results.columns]
    crit = critical_table(results, group_cols, level, attack)
    exps = exponent_table(crit, group_cols)
    gap = gap_table(results, exps, group_cols, attack)
    paths = {"scaling": out / "scaling.csv", "exponents": out / "exponents.csv",
             "gap": out / "gap.csv", "markdown": out / "SCALING.md"}
    storage.write_csv(paths["scaling"], crit)
    storage.write_csv(paths["exponents"], exps)
    storage.write_csv(paths["gap"], gap)
    if not crit.empty:
        paths["figure"] = scaling_figure(crit, exps, group_cols, out / "scaling.png", level)
    text = scaling_markdown(crit, exps, gap, group_cols, level, attack,
                            dict(info or {}, out=str(out)))
    tmp = paths["markdown"].with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(paths["markdown"])
    return {"critical": crit, "exponents": exps, "gap": gap, "paths": paths}


__all__ = ["critical_table", "exponent_table", "gap_table", "scaling_figure", "scaling_markdown",
           "write_scaling_report"]
