"""The report of a scaling study (``fpsim scaling``): every claim's quantity against d.

Reads the sweep folder's records and writes beside them::

    claims_points.csv     quantity, d, seed, value (one point per cell)
    claims_by_d.csv       quantity, d, n_seeds, mean, ci_low, ci_high (95%, clipped to range)
    claims_verdicts.csv   quantity, claim, criterion, value at the largest d, slope in log d
                          with its 95% CI, direction, verdict, reason
    steps.csv             d, seed, steps each phase used, why it stopped
    claims/<quantity>.png one figure per quantity
    SCALING_CLAIMS.md     the verdict table, the steps each d used, the figures

The statistics and verdicts come from :mod:`theorems.asymptotics`; this module only reads,
arranges and draws.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from simulator import storage  # noqa: E402
from simulator.config import ConfigError  # noqa: E402
from theorems.asymptotics import assess, claim_quantities  # noqa: E402
from theorems.common import CRITERIA  # noqa: E402

from .scaling import md_table, save_figure  # noqa: E402

RATIO_QUANTITIES = ("dense_mixture_reduction",)  # ratios (×); every other quantity is a share


def _close(a, b) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def _value(rec: dict, q) -> float:
    """The quantity ``q`` in one cell record (nan when the cell did not measure it)."""
    cfg = rec["config"]["train"]
    if q.source == "summary":
        v = rec.get("summary", {}).get(q.field)
        return float(v) if isinstance(v, (int, float)) else math.nan
    rows = [r for r in rec["rows"] if r["model"] == q.field]
    if not rows:
        return math.nan
    if q.source == "clean":
        return float(rows[0]["clean_acc"])
    # the claim's radius: trained and tested at the same τ, in the training norm
    for r in rows:
        if r["attack"] == "ensemble" and r["norm"] == cfg["adv_norm"] and _close(r["tau"], cfg["adv_tau"]):
            return float(r["robust_acc"])
    return math.nan


def claim_points(records: list) -> tuple[pd.DataFrame, list]:
    """(points frame: quantity, d, seed, value; the quantities measured) from ok records."""
    ok = [r for r in records if r and r.get("status") == "ok"]
    row_models = list(dict.fromkeys(row["model"] for r in ok for row in r["rows"]))
    quantities = claim_quantities(row_models)
    pts = []
    for rec in ok:
        d, seed = int(rec["params"]["input_dim"]), rec["params"]["seed"]
        for q in quantities:
            pts.append({"quantity": q.key, "d": d, "seed": seed, "value": _value(rec, q)})
    frame = pd.DataFrame(pts, columns=["quantity", "d", "seed", "value"])
    measured = set(frame.dropna(subset=["value"]).quantity) if len(frame) else set()
    return frame, [q for q in quantities if q.key in measured]


def steps_table(records: list) -> pd.DataFrame:
    """Steps each phase used, per cell (d, seed), and why it stopped (under a rule)."""
    rows = []
    for rec in records:
        if not rec or rec.get("status") != "ok":
            continue
        s = rec.get("summary", {})
        rows.append({"d": int(rec["params"]["input_dim"]), "seed": rec["params"]["seed"],
                     "steps_clean": s.get("steps_clean"), "stop_clean": s.get("stop_reason_clean", "fixed"),
                     "steps_adversarial": s.get("steps_adversarial"),
                     "stop_adversarial": s.get("stop_reason_adversarial", "fixed"),
                     "seconds": rec.get("timings", {}).get("wall")})
    return pd.DataFrame(rows, columns=["d", "seed", "steps_clean", "stop_clean", "steps_adversarial",
                                       "stop_adversarial", "seconds"]).sort_values(["d", "seed"])


def _unit(key: str) -> str:
    return "ratio (×)" if key in RATIO_QUANTITIES else "fraction (0–1)"


def claim_figure(q, pts: pd.DataFrame, result: dict, path: Path, radius: str = "") -> Path:
    """Quantity against d (log axis): seeds, mean with 95% CI bars, the fitted trend, the threshold."""
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    ax.scatter(pts.d, pts.value, s=14, color="C0", alpha=0.35, lw=0, label="one seed")
    per_d = pd.DataFrame(result["per_d"])
    lo = (per_d["mean"] - per_d.ci_low).fillna(0).clip(lower=0)
    hi = (per_d.ci_high - per_d["mean"]).fillna(0).clip(lower=0)
    ax.errorbar(per_d.d, per_d["mean"], yerr=[lo, hi], fmt="o", color="C0", capsize=4,
                label="mean over seeds, 95% CI")
    t = result["trend"]
    if math.isfinite(t.slope):
        ds = np.geomspace(per_d.d.min(), per_d.d.max(), 40)
        ci = f" [{t.ci_low:.3g}, {t.ci_high:.3g}]" if t.has_interval else " (no CI: < 3 points)"
        ax.plot(ds, [t.predict(x) for x in ds], "-", color="C1",
                label=f"fit a + b·ln d: b = {t.slope:.3g}{ci}")
    if q.criterion is not None:
        op, thr = CRITERIA[q.criterion]
        ax.axhline(thr, color="C3", ls="--", lw=1, label=f"criterion: {op} {thr:g}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(per_d.d))
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%d"))
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel("input dimension d (log scale)")
    ax.set_ylabel(f"{q.key} [{_unit(q.key)}]")
    v = result["verdict"]
    ax.set_title(f"{q.label}{radius}\n{q.claim}: asymptotic verdict {v.verdict}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _md(frame: pd.DataFrame) -> str:
    return md_table(frame, _fmt)


def write_claims_report(out: Path, records: list, info: dict | None = None) -> dict:
    """Compute and write every file of the module docstring into ``out``; returns the frames."""
    out = Path(out)
    info = dict(info or {})
    pts, quantities = claim_points(records)
    if not quantities:
        raise ConfigError(f"{str(out)!r} has no ok cell with a claim quantity: nothing to report.")
    by_d, verdicts, figures = [], [], {}
    trained_at = sorted({(r["config"]["train"]["adv_tau"], r["config"]["train"]["adv_norm"])
                         for r in records if r and r.get("status") == "ok"})
    if len(trained_at) == 1:
        radius = " (τ = {:g}, {})".format(*trained_at[0])
    elif not trained_at:
        radius = ""
    else:  # τ follows d: name each d's radius
        taus = sorted({(r["config"]["data"]["input_dim"], r["config"]["train"]["adv_tau"])
                       for r in records if r and r.get("status") == "ok"})
        radius = ("\n(τ trained and tested at: " + ", ".join(f"{t:g}" for _, t in taus)
                  + f" for d = {', '.join(str(d) for d, _ in taus)})")
    for q in quantities:
        sub = pts[pts.quantity == q.key].dropna(subset=["value"])
        res = assess(q, sub.d.to_numpy(), sub.value.to_numpy())
        for row in res["per_d"]:
            by_d.append({"quantity": q.key, **row})
        t, v = res["trend"], res["verdict"]
        last = res["per_d"][-1]
        crit = "" if q.criterion is None else f"{CRITERIA[q.criterion][0]} {CRITERIA[q.criterion][1]:g}"
        verdicts.append({"claim": q.claim, "quantity": q.key, "criterion": crit,
                         "d_max": last["d"], "value_d_max": last["mean"],
                         "ci_low_d_max": last["ci_low"], "ci_high_d_max": last["ci_high"],
                         "slope_log_d": t.slope, "slope_ci_low": t.ci_low, "slope_ci_high": t.ci_high,
                         "n_points": t.n_points, "direction": v.direction, "verdict": v.verdict,
                         "marginal": "MARGINAL" if res["marginal"] else "", "d_reach": v.d_reach,
                         "reason": v.reason})
        figures[q.key] = claim_figure(q, sub, res, out / "claims" / f"{q.key}.png",
                                      radius if q.source == "robust" else "")
    by_d = pd.DataFrame(by_d)
    verdicts = pd.DataFrame(verdicts)
    steps = steps_table(records)
    storage.write_csv(out / "claims_points.csv", pts)
    storage.write_csv(out / "claims_by_d.csv", by_d)
    storage.write_csv(out / "claims_verdicts.csv", verdicts)
    storage.write_csv(out / "steps.csv", steps)
    text = claims_markdown(quantities, by_d, verdicts, steps, figures, out, info)
    tmp = out / "SCALING_CLAIMS.md.tmp"
    tmp.write_text(text)
    tmp.replace(out / "SCALING_CLAIMS.md")
    return {"points": pts, "by_d": by_d, "verdicts": verdicts, "steps": steps,
            "markdown": out / "SCALING_CLAIMS.md", "figures": figures}


def _stamp(text: str):
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _session_lines(sessions: list) -> list:
    """One line per run of the study (sweep.json's sessions): when, how long, on what."""
    if not sessions:
        return []
    lines = ["Runs of this study (from `sweep.json`; an interrupted run is resumed by the next):", ""]
    for s in sessions:
        start, end = _stamp(s.get("started_at")), _stamp(s.get("finished_at"))
        wall = f"{(end - start).total_seconds() / 60:.1f} min" if start and end else "unfinished"
        commit = (s.get("code") or {}).get("commit") or "?"
        dirty = " (dirty)" if (s.get("code") or {}).get("dirty") else ""
        lines.append(f"- {s.get('started_at', '?')}: {wall} wall, {s.get('status', '?')}, "
                     f"{len(s.get('executed', []))} of {len(s.get('to_run', []))} cells run "
                     f"({s.get('skipped', 0)} already done), {s.get('executor', '?')} with "
                     f"{s.get('workers', '?')} worker(s) × {s.get('threads', '?')} thread(s), "
                     f"commit {commit[:12]}{dirty}")
    return lines + [""]


def claims_markdown(quantities, by_d, verdicts, steps, figures, out, info) -> str:
    lines = ["# Every claim across d", ""]
    lines += [f"Study `{out}`: {info.get('n_ok', '?')} of {info.get('n_cells', '?')} cells ok; grid "
              f"`{info.get('grid_file', '')}` (its text: `grid.toml` here). Each claim is measured at the training radius "
              "(trained and tested at the same τ, in the training norm), ensemble robust accuracy "
              "(an upper bound on the true one).", ""]
    lines += ["Value at each d: mean over seeds with its 95% t-interval, clipped to the "
              "quantity's range. Trend: value = a + b·ln d, least squares over every (d, seed) "
              "point, 95% t-interval on b. Verdict (theorems/asymptotics.py): **HOLDS** — met at "
              "the largest d and b not significantly moving away; **HOLDS IN THE LIMIT** — not "
              "met at the largest d, but b's interval lies wholly on the side of the criterion; "
              "**DOES NOT** — moving away or flat. REPORT: no criterion (trend only). MARGINAL: "
              "the interval at the largest d straddles the threshold.", ""]
    lines += _session_lines(info.get("sessions", []))
    table = verdicts[["claim", "quantity", "criterion", "d_max", "value_d_max", "slope_log_d",
                      "slope_ci_low", "slope_ci_high", "verdict", "marginal", "d_reach"]].copy()
    table = table.rename(columns={"d_reach": "fit meets criterion at d ≈"})
    lines += ["## Verdicts", "", _md(table), "",
              "'fit meets criterion at d ≈': where the fitted line a + b·ln d crosses the "
              "threshold beyond the largest d (–: never ahead of the data, or beyond e^700) — "
              "for a claim met but drifting away, where it would stop being met; for one not met "
              "but moving toward it, where it would be met. An extrapolation of a straight line in "
              "ln d, not a measurement.", ""]
    lines += ["## Value by d (mean [95% CI])", ""]
    rows = []
    for q in quantities:
        sub = by_d[by_d.quantity == q.key]
        row = {"quantity": q.key}
        for _, r in sub.iterrows():
            ci = "" if not math.isfinite(r.ci_low) else f" [{r.ci_low:.3f}, {r.ci_high:.3f}]"
            row[f"d={int(r.d)}"] = f"{r['mean']:.3f}{ci}"
        rows.append(row)
    lines += [_md(pd.DataFrame(rows)), ""]
    lines += ["## Steps each d used", ""]
    if steps.empty:
        lines += ["No ok cells.", ""]
    else:
        g = steps.groupby("d")
        st = pd.DataFrame({
            "d": list(g.groups),
            "cells": g.size().to_numpy(),
            "clean steps (min–max)": [f"{int(s.min())}–{int(s.max())}" for _, s in g.steps_clean],
            "clean stopped by": [", ".join(sorted(set(s))) for _, s in g.stop_clean],
            "FGM steps (min–max)": [f"{int(s.min())}–{int(s.max())}" for _, s in g.steps_adversarial],
            "FGM stopped by": [", ".join(sorted(set(s))) for _, s in g.stop_adversarial],
            "seconds per cell (mean)": [f"{s.mean():.0f}" for _, s in g.seconds],
        })
        lines += [_md(st), "", "'plateau': the stopping rule stopped the phase; 'max_steps': it "
                  "reached its cap (a cap reached at the largest d means the budget may still bend "
                  "the trend); 'fixed': no rule.", ""]
    lines += ["## Figures", ""]
    for q in quantities:
        lines += [f"![{q.label}](claims/{q.key}.png)", ""]
    lines += ["Files: `claims_verdicts.csv`, `claims_by_d.csv`, `claims_points.csv`, `steps.csv`, "
              "`cells/` (one record per cell, with the stopping rule's window history).", ""]
    return "\n".join(lines)


__all__ = ["claim_points", "steps_table", "claim_figure", "write_claims_report"]
