"""Shared machinery of the theorem checks: regimes, cached runs, per-seed statistics, verdicts.

Every check measures one or more *quantities* on several seeds and compares the mean over
seeds with a fixed criterion (``>=`` or ``<=`` a threshold).  The 95% confidence interval of
the mean (Student t over seeds, clipped to the quantity's range: see
:func:`confidence_interval`) is reported beside it but does not enter the verdict; a verdict
whose interval straddles its threshold is flagged ``MARGINAL``.  All thresholds live in
:data:`CRITERIA`; no check relaxes them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

# --------------------------------------------------------------------------------------
# Criteria: every pass threshold of every check, in one table
# --------------------------------------------------------------------------------------
CRITERIA = {
    "ideal_robust_acc": (">=", 0.95),
    "adv_clean_acc": (">=", 0.97),
    "adv_robust_acc": (">=", 0.90),
    "clean_clean_acc": (">=", 0.97),
    "clean_robust_acc": ("<=", 0.60),
    "lower_bound_robust_acc": ("<=", 0.60),
    "dense_mixture_reduction": (">=", 3.0),
    "share_beta_ratio_above_1": (">", 0.5),
    "median_abs_corr_init": ("<=", 0.2),
    "adv_certified_acc": (">=", 0.80),
    # purification_real (issue 15): on real images, at the check radius ε of each norm
    "real_robust_gain": (">=", 0.3),  # adversarial minus clean-trained robust accuracy
    "real_adv_clean_acc": (">=", 0.9),
    # low_rank_update: some r ≤ 4 within 0.03 of full adversarial training's robust accuracy
    "low_rank_robust_gap": ("<=", 0.03),
    "low_rank_clean_acc": (">=", 0.97),
}


def meets(value: float, op: str, threshold: float) -> bool:
    return {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold,
            "<": value < threshold}[op]


# Range of every quantity, by name prefix (first match wins): accuracies, shares, purities,
# correlations and energy shares lie in [0, 1]; the reduction factor is a ratio of positive
# medians.  A name matching no prefix is unbounded (its interval is not clipped).
QUANTITY_RANGES = (
    ("clean_acc", (0.0, 1.0)),
    ("robust_acc", (0.0, 1.0)),
    ("certified_acc", (0.0, 1.0)),
    ("median_dense_mixture_share", (0.0, 1.0)),
    ("share_", (0.0, 1.0)),
    ("median_abs_", (0.0, 1.0)),
    ("median_purity", (0.0, 1.0)),
    ("update_top", (0.0, 1.0)),
    ("dense_mixture_reduction", (0.0, math.inf)),
)

MARGINAL = "MARGINAL"


def quantity_range(name: str) -> tuple:
    """(low, high) that quantity ``name`` cannot leave (see :data:`QUANTITY_RANGES`)."""
    for prefix, bounds in QUANTITY_RANGES:
        if name.startswith(prefix):
            return bounds
    return (-math.inf, math.inf)


def confidence_interval(values, level=0.95, bounds=(-math.inf, math.inf)):
    """(low, high): the Student-t interval of the mean over seeds, clipped to ``bounds``.

    Why this method: the unit of replication is the seed (a new dictionary, initialisation,
    training run and test set), and most of the spread comes from training, so the
    interval must be over seeds.  A Wilson interval over the pooled test points would treat
    the test points as the only randomness and be far too narrow; a bootstrap over 3 seeds
    can only return values between the smallest and the largest seed and under-covers.
    The t interval can run outside the quantity's range (an accuracy of 1.054); clipping it
    to the range loses nothing, because the true mean lies inside the range, so the event
    "the interval holds the mean" and hence the coverage are unchanged.

    Parameters
    ----------
    values : per-seed values, shape (n_seeds,)
    level : coverage of the interval
    bounds : (low, high) range of the quantity (:func:`quantity_range`)

    Returns
    -------
    (low, high); (nan, nan) with one seed.
    """
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    low, high = bounds
    return float(max(v.mean() - half, low)), float(min(v.mean() + half, high))


def straddles(interval, threshold: float) -> bool:
    """True when the interval holds the threshold strictly inside: the verdict could go
    either way with other seeds."""
    lo, hi = interval
    return bool(lo < threshold < hi)  # False for (nan, nan)


@dataclass
class Quantity:
    """One measured quantity over seeds, with its criterion (None: reported only)."""

    name: str
    per_seed: list
    criterion: str | None = None  # key of CRITERIA
    model: str = ""

    @property
    def mean(self) -> float:
        return float(np.mean(self.per_seed))

    @property
    def verdict(self) -> str:
        if self.criterion is None:
            return "REPORT"
        op, thr = CRITERIA[self.criterion]
        return "PASS" if meets(self.mean, op, thr) else "FAIL"

    @property
    def interval(self) -> tuple:
        """95% interval of the mean over seeds, clipped to the quantity's range."""
        return confidence_interval(self.per_seed, bounds=quantity_range(self.name))

    @property
    def flag(self) -> str:
        """``MARGINAL`` when the interval straddles the criterion's threshold, else ''.

        The verdict stays the comparison of the mean with the threshold; the flag says
        that a PASS or FAIL this close is not settled by these seeds.
        """
        if self.criterion is None:
            return ""
        return MARGINAL if straddles(self.interval, CRITERIA[self.criterion][1]) else ""

    def criterion_text(self) -> str:
        if self.criterion is None:
            return ""
        op, thr = CRITERIA[self.criterion]
        return f"mean {op} {thr:g}"


@dataclass
class CheckResult:
    """The outcome of one claim's check for one norm."""

    claim: str
    norm: str
    tau: float
    seeds: list
    quantities: list = field(default_factory=list)
    details: pd.DataFrame | None = None
    seconds: float = 0.0
    notes: str = ""

    @property
    def verdict(self) -> str:
        v = [q.verdict for q in self.quantities if q.verdict != "REPORT"]
        return "FAIL" if "FAIL" in v else "PASS"

    def summary_rows(self) -> list:
        rows = []
        for q in self.quantities:
            lo, hi = q.interval
            rows.append({
                "claim": self.claim, "norm": self.norm, "tau": self.tau, "model": q.model,
                "quantity": q.name, "measured": q.mean, "ci95_low": lo, "ci95_high": hi,
                "per_seed": ";".join(f"{v:.4g}" for v in q.per_seed),
                "criterion": q.criterion_text(), "verdict": q.verdict, "flag": q.flag,
            })
        return rows

    def write_csv(self, folder) -> Path:
        """The per-seed details as ``<claim>_<norm>.csv`` in ``folder`` (written atomically)."""
        from simulator.storage import write_csv

        path = Path(folder) / f"{self.claim}_{self.norm}.csv"
        if self.details is not None:
            write_csv(path, self.details)
        return path

    def print(self, file=sys.stdout) -> None:
        print(f"[{self.verdict}] {self.claim} ({self.norm}, τ = {self.tau:g}, seeds {self.seeds}, "
              f"{self.seconds:.0f} s)", file=file)
        for r in self.summary_rows():
            ci = "" if math.isnan(r["ci95_low"]) else f"  95% CI [{r['ci95_low']:.3f}, {r['ci95_high']:.3f}]"
            flag = f"  {r['flag']}" if r["flag"] else ""
            print(f"    {r['verdict']:6s} {r['model']:>14s} {r['quantity']:<36s} {r['measured']:.4f}"
                  f"{ci}  {r['criterion']}{flag}", file=file)
        if self.notes:
            print(f"    note: {self.notes}", file=file)


def overall_verdict(rows) -> str:
    """One line for the top of a report: the overall verdict and what decides it.

    Parameters
    ----------
    rows : summary rows (dicts, or a DataFrame's records) with keys claim, norm, model,
        quantity, measured, criterion, verdict and flag (as :meth:`CheckResult.summary_rows`)

    Returns
    -------
    "PASS: all N criteria pass" or "FAIL: F of N criteria fail (…)", followed by the
    criteria flagged MARGINAL, if any.  ``REPORT`` rows (no criterion) are not counted.
    """
    rows = [r for r in rows if r["verdict"] in ("PASS", "FAIL")]

    def name(r):
        return (f"{r['claim']} [{r['norm']}] {r['model']} {r['quantity']} = "
                f"{r['measured']:.3f} ({r['criterion']})")

    if not rows:
        return "NO VERDICT: no criterion was checked"
    failed = [r for r in rows if r["verdict"] == "FAIL"]
    marginal = [r for r in rows if r.get("flag") == MARGINAL]
    if failed:
        line = (f"FAIL: {len(failed)} of {len(rows)} criteria fail ("
                + "; ".join(name(r) + (f" {MARGINAL}" if r.get("flag") == MARGINAL else "")
                            for r in failed) + ")")
    else:
        line = f"PASS: all {len(rows)} criteria pass"
    if marginal:
        line += (f"; {len(marginal)} {MARGINAL} (95% interval straddles the threshold): "
                 + "; ".join(f"{name(r)} {r['verdict']}" for r in marginal))
    return line


def robust_at(results: list, model: str, norm: str, tau: float, attack: str = "ensemble") -> float:
    for r in results:
        if (r["model"] == model and r["norm"] == norm and r["attack"] == attack
                and math.isclose(r["tau"], tau, rel_tol=1e-9, abs_tol=1e-12)):
            return r["robust_acc"]
    raise KeyError(f"no result for {model} {norm} τ={tau} {attack}")


def clean_of(results: list, model: str) -> float:
    for r in results:
        if r["model"] == model:
            return r["clean_acc"]
    raise KeyError(model)


def script_main(module_name: str, run_fn, argv=None) -> int:
    """``python -m theorems.<module> [--quick] [--out DIR] [--seeds N]``."""
    from simulator.pipeline import RunCache

    from .regime import regime_for

    ap = argparse.ArgumentParser(prog=f"python -m theorems.{module_name}")
    ap.add_argument("--quick", action="store_true", help="the small regime (minutes)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--norm", choices=["l2", "linf", "both"], default="both")
    ap.add_argument("--out", type=Path, default=None, help="folder for the check's CSV")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        print(f"The '--seeds' option must be an int in the range [1, inf). Got {args.seeds} instead.",
              file=sys.stderr)
        return 2
    regime = regime_for(args.quick)
    norms = ["l2", "linf"] if args.norm == "both" else [args.norm]
    fail = False
    cache = RunCache()  # the clean training of a seed serves both norms
    for norm in norms:
        t = time.perf_counter()
        res = run_fn(regime, seeds=list(range(args.seeds)), norm=norm, cache=cache)
        res.seconds = time.perf_counter() - t
        res.print()
        fail |= res.verdict == "FAIL"
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            res.write_csv(args.out)
    return 1 if fail else 0
