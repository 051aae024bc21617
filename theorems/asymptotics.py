"""Asymptotic verdicts: does each claim hold as d grows, or only at one size?

The paper states its claims for d → ∞ (docs/model.md).  A scaling study (``fpsim scaling``)
measures every claim's quantity at several d over seeds; this module turns those numbers into
a verdict, with the thresholds of :data:`theorems.common.CRITERIA` (no new threshold):

* the value at each d: the mean over seeds with its 95% t-interval, clipped to the
  quantity's range (:func:`theorems.common.confidence_interval`);
* the trend: value = a + b·log d by least squares over every (d, seed) point, with a 95%
  t-interval on the slope b (n − 2 degrees of freedom);
* the verdict (:func:`asymptotic_verdict`), with "toward" meaning the direction in which the
  criterion is met (up for ``>=``, down for ``<=``):

  - **HOLDS**: the criterion is met by the mean at the largest d, and the slope is not
    significantly moving away (its interval does not lie wholly on the away side);
  - **HOLDS IN THE LIMIT**: not met at the largest d, but the slope's interval lies wholly
    on the toward side (excludes 0);
  - **DOES NOT**: otherwise — moving away significantly, or flat (an interval holding 0)
    while not met.

  A quantity without a criterion gets ``REPORT`` (trend only).  Fewer than 3 points or 2
  distinct d give no slope interval: then no trend is significant and the verdict rests on
  the largest d alone (said in ``reason``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .common import CRITERIA, confidence_interval, meets, quantity_range, straddles

HOLDS, HOLDS_IN_LIMIT, DOES_NOT, REPORT = "HOLDS", "HOLDS IN THE LIMIT", "DOES NOT", "REPORT"
VERDICTS = (HOLDS, HOLDS_IN_LIMIT, DOES_NOT, REPORT)


@dataclass(frozen=True)
class ClaimQuantity:
    """One quantity of a claim measured in each cell of a scaling study.

    Attributes
    ----------
    key : the quantity's name (its range comes from :func:`theorems.common.quantity_range`)
    label : plain words for tables and figure titles
    claim : the verify check it belongs to (:data:`theorems.CHECKS`)
    source : 'robust' (ensemble robust accuracy at the training radius, in the training norm),
        'clean' (clean accuracy) or 'summary' (a cell summary figure)
    field : the model row name ('robust' / 'clean') or the summary key
    criterion : key of CRITERIA, or None (reported with its trend, no verdict)
    """

    key: str
    label: str
    claim: str
    source: str
    field: str
    criterion: str | None


# The quantities of fgm_robust, clean_not_robust and purification; the lower-bound models'
# robust accuracies are added per model row by :func:`claim_quantities`.
NETWORK_QUANTITIES = (
    ClaimQuantity("robust_acc_ideal", "ideal network, robust accuracy at τ", "fgm_robust",
                  "robust", "ideal", "ideal_robust_acc"),
    ClaimQuantity("robust_acc_adversarial", "FGM-trained network, robust accuracy at τ",
                  "fgm_robust", "robust", "adversarial", "adv_robust_acc"),
    ClaimQuantity("clean_acc_adversarial", "FGM-trained network, clean accuracy", "fgm_robust",
                  "clean", "adversarial", "adv_clean_acc"),
    ClaimQuantity("clean_acc_clean", "clean-trained network, clean accuracy", "clean_not_robust",
                  "clean", "clean", "clean_clean_acc"),
    ClaimQuantity("robust_acc_clean", "clean-trained network, robust accuracy at τ",
                  "clean_not_robust", "robust", "clean", "clean_robust_acc"),
    ClaimQuantity("share_beta_ratio_above_1", "share of neurons with ‖β w_adv‖ > ‖v‖",
                  "purification", "summary", "share_beta_ratio_above_1", "share_beta_ratio_above_1"),
    ClaimQuantity("median_abs_corr_init_clean", "median |cos(w_clean, w_init)|", "purification",
                  "summary", "median_abs_corr_init_clean", "median_abs_corr_init"),
    ClaimQuantity("median_abs_corr_init_adversarial", "median |cos(w_adv, w_init)|",
                  "purification", "summary", "median_abs_corr_init_adversarial",
                  "median_abs_corr_init"),
    ClaimQuantity("dense_mixture_reduction", "dense-mixture reduction (clean / adversarial median)",
                  "purification", "summary", "dense_mixture_reduction", "dense_mixture_reduction"),
    ClaimQuantity("median_purity_clean", "median purity, clean-trained neurons", "purification",
                  "summary", "median_purity_clean", None),
    ClaimQuantity("median_purity_adversarial", "median purity, FGM-trained neurons",
                  "purification", "summary", "median_purity_adversarial", None),
    ClaimQuantity("update_top_energy_share", "top-r energy share of W_adv − W_clean",
                  "purification", "summary", "update_top_energy_share", None),
)

LOWER_BOUND_CLAIMS = {"linear": "linear_lower_bound", "linear_oracle": "linear_lower_bound",
                      "poly2": "polynomial_lower_bound", "poly3": "polynomial_lower_bound",
                      "poly": "polynomial_lower_bound", "ntk": "ntk_lower_bound"}


def claim_quantities(row_models) -> list[ClaimQuantity]:
    """The network quantities, then the robust accuracy at τ of each lower-bound row model
    among ``row_models`` (e.g. 'poly2_adv'), each against ``lower_bound_robust_acc``."""
    from simulator.models import kind_of_row

    out = list(NETWORK_QUANTITIES)
    for name in row_models:
        try:
            kind = kind_of_row(name)
        except KeyError:
            continue
        if kind.family == "lower_bound":
            out.append(ClaimQuantity(f"robust_acc_{name}", f"{name}, robust accuracy at τ",
                                     LOWER_BOUND_CLAIMS.get(kind.kind, "lower_bounds"), "robust",
                                     name, "lower_bound_robust_acc"))
    return out


@dataclass(frozen=True)
class Trend:
    """value = intercept + slope·log d, least squares over every (d, seed) point.

    ``ci_low``/``ci_high``: the 95% t-interval on the slope (nan with < 3 points or < 2 d).
    """

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    stderr: float
    n_points: int
    n_d: int

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)

    def predict(self, d) -> float:
        return self.intercept + self.slope * math.log(d)


def fit_log_trend(d, values, level: float = 0.95) -> Trend:
    """Fit value = a + b log d over every finite point; t-interval on b.

    Parameters
    ----------
    d : input dimension of each point, shape (n_points,) (seeds at one d are separate points)
    values : the quantity at each point, shape (n_points,)
    """
    d = np.asarray(d, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(d) & np.isfinite(v) & (d > 0)
    x, y = np.log(d[keep]), v[keep]
    n, n_d = int(x.size), int(np.unique(x).size)
    nan = float("nan")
    if n < 2 or n_d < 2:
        return Trend(nan, nan, nan, nan, nan, n, n_d)
    fit = stats.linregress(x, y)
    if n < 3:
        return Trend(float(fit.slope), float(fit.intercept), nan, nan, nan, n, n_d)
    half = float(stats.t.ppf(0.5 + level / 2, n - 2)) * float(fit.stderr)
    return Trend(float(fit.slope), float(fit.intercept), float(fit.slope - half),
                 float(fit.slope + half), float(fit.stderr), n, n_d)


def toward_sign(op: str) -> int:
    """+1 when larger values meet the criterion (``>=``, ``>``), −1 otherwise."""
    return 1 if op in (">=", ">") else -1


@dataclass(frozen=True)
class AsymptoticVerdict:
    """The verdict of one quantity, and why.

    Attributes
    ----------
    verdict : one of :data:`VERDICTS`
    met_at_largest : whether the mean at the largest d meets the criterion
    direction : 'toward', 'away' (slope interval wholly on that side), 'flat' (interval holds
        0) or 'unknown' (no interval)
    reason : one sentence
    d_reach : where the fitted line meets the threshold (nan when it never does ahead)
    """

    verdict: str
    met_at_largest: bool
    direction: str
    reason: str
    d_reach: float = float("nan")


def asymptotic_verdict(mean_at_largest: float, largest_d: float, trend: Trend,
                       criterion: str | None) -> AsymptoticVerdict:
    """The asymptotic verdict of one quantity (module docstring); a pure function.

    Parameters
    ----------
    mean_at_largest : mean over seeds at the largest d
    largest_d : that d
    trend : :func:`fit_log_trend` over every d
    criterion : key of CRITERIA, or None (verdict REPORT)
    """
    significant = trend.has_interval and (trend.ci_low > 0 or trend.ci_high < 0)
    if criterion is None:  # no side to move toward: say which way it moves
        direction = ("unknown" if not trend.has_interval else
                     ("up" if trend.slope > 0 else "down") if significant else "flat")
        return AsymptoticVerdict(REPORT, False, direction, "no criterion: trend reported")
    op, thr = CRITERIA[criterion]
    if not trend.has_interval:
        direction = "unknown"
    elif significant:
        direction = "toward" if (trend.slope > 0) == (toward_sign(op) > 0) else "away"
    else:
        direction = "flat"
    met = bool(math.isfinite(mean_at_largest) and meets(mean_at_largest, op, thr))
    d_reach = float("nan")
    if math.isfinite(trend.slope) and trend.slope != 0:
        log_dr = (thr - trend.intercept) / trend.slope
        if math.log(largest_d) < log_dr < 700:  # ahead of the data; beyond e^700 is never
            d_reach = math.exp(log_dr)
    at = f"mean {mean_at_largest:.3g} at d = {largest_d:g} {'meets' if met else 'misses'} {op} {thr:g}"
    if direction == "unknown":
        note = "; no slope interval (fewer than 3 points or 2 d): the largest d decides"
        return AsymptoticVerdict(HOLDS if met else DOES_NOT, met, direction, at + note, d_reach)
    slope = f"slope {trend.slope:.3g} per log d, 95% CI [{trend.ci_low:.3g}, {trend.ci_high:.3g}]"
    if met and direction != "away":
        return AsymptoticVerdict(HOLDS, met, direction, f"{at}; {slope} ({direction})", d_reach)
    if not met and direction == "toward":
        reach = f"; the fit reaches {thr:g} near d ≈ {d_reach:.3g}" if math.isfinite(d_reach) else ""
        return AsymptoticVerdict(HOLDS_IN_LIMIT, met, direction, f"{at}; {slope} toward the "
                                 f"criterion{reach}", d_reach)
    why = "moving away" if direction == "away" else "flat"
    return AsymptoticVerdict(DOES_NOT, met, direction, f"{at}; {slope}: {why}", d_reach)


def per_d_summary(d, values, name: str) -> list[dict]:
    """Mean and 95% interval over seeds at each d, clipped to the range of quantity ``name``.

    Returns
    -------
    list of dict(d, n_seeds, mean, ci_low, ci_high), ascending d
    """
    d = np.asarray(d, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    out = []
    for dv in np.unique(d[np.isfinite(d)]):
        vals = v[(d == dv) & np.isfinite(v)]
        lo, hi = confidence_interval(vals, bounds=quantity_range(name)) if vals.size else (math.nan, math.nan)
        out.append({"d": int(dv), "n_seeds": int(vals.size),
                    "mean": float(vals.mean()) if vals.size else math.nan,
                    "ci_low": lo, "ci_high": hi})
    return out


def assess(quantity: ClaimQuantity, d, values) -> dict:
    """Per-d summary, trend and verdict of one quantity from its (d, value) points.

    Returns
    -------
    dict with 'per_d' (:func:`per_d_summary`), 'trend' (:class:`Trend`), 'verdict'
    (:class:`AsymptoticVerdict`) and 'marginal' (the interval at the largest d straddles the
    threshold: the verdict at that d is not settled by these seeds)
    """
    per_d = per_d_summary(d, values, quantity.key)
    trend = fit_log_trend(d, values)
    last = per_d[-1] if per_d else {"d": math.nan, "mean": math.nan, "ci_low": math.nan,
                                    "ci_high": math.nan}
    verdict = asymptotic_verdict(last["mean"], last["d"], trend, quantity.criterion)
    marginal = (quantity.criterion is not None
                and straddles((last["ci_low"], last["ci_high"]), CRITERIA[quantity.criterion][1]))
    return {"per_d": per_d, "trend": trend, "verdict": verdict, "marginal": bool(marginal)}
