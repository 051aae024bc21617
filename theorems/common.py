"""Shared machinery of the theorem checks: regimes, cached runs, per-seed statistics, verdicts.

Every check measures one or more *quantities* on several seeds and compares the mean over
seeds with a fixed criterion (``>=`` or ``<=`` a threshold).  The 95% confidence interval of
the mean (Student t over seeds) is reported beside it but does not enter the verdict.  All
thresholds live in :data:`CRITERIA`; no check relaxes them.
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
    "baseline_robust_acc": ("<=", 0.60),
    "dense_mixture_reduction": (">=", 3.0),
    "share_beta_ratio_above_1": (">", 0.5),
    "median_abs_corr_init": ("<=", 0.2),
    "adv_certified_acc": (">=", 0.80),
    # low_rank_update: some r ≤ 4 within 0.03 of full adversarial training's robust accuracy
    "low_rank_robust_gap": ("<=", 0.03),
    "low_rank_clean_acc": (">=", 0.97),
}


def meets(value: float, op: str, threshold: float) -> bool:
    return {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold,
            "<": value < threshold}[op]


def confidence_interval(values, level=0.95):
    """(low, high) of the mean; (nan, nan) with one seed."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean() - half), float(v.mean() + half)


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
            lo, hi = confidence_interval(q.per_seed)
            rows.append({
                "claim": self.claim, "norm": self.norm, "tau": self.tau, "model": q.model,
                "quantity": q.name, "measured": q.mean, "ci95_low": lo, "ci95_high": hi,
                "per_seed": ";".join(f"{v:.4g}" for v in q.per_seed),
                "criterion": q.criterion_text(), "verdict": q.verdict,
            })
        return rows

    def print(self, file=sys.stdout) -> None:
        print(f"[{self.verdict}] {self.claim} ({self.norm}, τ = {self.tau:g}, seeds {self.seeds}, "
              f"{self.seconds:.0f} s)", file=file)
        for r in self.summary_rows():
            ci = "" if math.isnan(r["ci95_low"]) else f"  95% CI [{r['ci95_low']:.3f}, {r['ci95_high']:.3f}]"
            print(f"    {r['verdict']:6s} {r['model']:>14s} {r['quantity']:<36s} {r['measured']:.4f}"
                  f"{ci}  {r['criterion']}", file=file)
        if self.notes:
            print(f"    note: {self.notes}", file=file)


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
    from reports.verify_report import write_check_csv

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
    for norm in norms:
        t = time.perf_counter()
        res = run_fn(regime, seeds=list(range(args.seeds)), norm=norm)
        res.seconds = time.perf_counter() - t
        res.print()
        fail |= res.verdict == "FAIL"
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            write_check_csv(args.out, res)
    return 1 if fail else 0
