"""Scaling laws from a sweep over d: the critical radius τ_c(d) and its log-log exponent.

The paper states its claims as d → ∞ (docs/model.md); at finite sizes we measure, for each model,
the radius at which it stops being robust and how that radius moves with d:

* τ_c = the smallest τ at which the ensemble robust accuracy falls below a level (0.5 by
  default), by linear interpolation between the two bracketing points of the τ grid.  When
  the accuracy is below the level already at the smallest τ, τ_c is *left-censored* (τ_c ≤
  τ_min); when it never falls below, *right-censored* (τ_c > τ_max).
* log τ_c = a + b·log d, fitted over every seed's uncensored point (ordinary least squares),
  with a t-interval on the exponent b.

docs/model.md, "Orders of magnitude": the ideal purified network's radius does not shrink with d,
the linear oracle's shrinks like √(k/d); the clean network's weakness grows with d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEFT, RIGHT = "left", "right"  # censoring: τ_c ≤ τ_min, or τ_c > τ_max


@dataclass(frozen=True)
class CriticalRadius:
    """τ_c of one accuracy curve.

    Attributes
    ----------
    tau_c : float, the interpolated crossing; τ_min when left-censored, τ_max when
        right-censored, nan when the curve has no finite point
    censored : '' (a crossing inside the grid), 'left' or 'right'
    """

    tau_c: float
    censored: str = ""


def critical_radius(taus, robust_acc, level: float = 0.5) -> CriticalRadius:
    """The smallest τ at which ``robust_acc`` falls below ``level``.

    Parameters
    ----------
    taus : sequence of radii, strictly increasing
    robust_acc : sequence of accuracies at those radii (non-finite entries are dropped)
    level : accuracy level in (0, 1]

    Returns
    -------
    CriticalRadius
    """
    taus = np.asarray(taus, dtype=np.float64)
    acc = np.asarray(robust_acc, dtype=np.float64)
    if taus.shape != acc.shape or taus.ndim != 1:
        raise ValueError(f"The 'taus' and 'robust_acc' parameters of critical_radius must be 1-d "
                         f"arrays of one length. Got shapes {taus.shape} and {acc.shape} instead.")
    if not (isinstance(level, (int, float)) and 0 < level <= 1):
        raise ValueError(f"The 'level' parameter of critical_radius must be a float in the range "
                         f"(0, 1]. Got {level!r} instead.")
    keep = np.isfinite(taus) & np.isfinite(acc)
    taus, acc = taus[keep], acc[keep]
    if taus.size == 0:
        return CriticalRadius(float("nan"), "")
    if np.any(np.diff(taus) <= 0):
        raise ValueError(f"The 'taus' parameter of critical_radius must be strictly increasing. "
                         f"Got {taus.tolist()} instead.")
    below = np.flatnonzero(acc < level)
    if below.size == 0:
        return CriticalRadius(float(taus[-1]), RIGHT)
    i = int(below[0])
    if i == 0:
        return CriticalRadius(float(taus[0]), LEFT)
    t0, t1, a0, a1 = taus[i - 1], taus[i], acc[i - 1], acc[i]  # a0 ≥ level > a1
    return CriticalRadius(float(t0 + (a0 - level) * (t1 - t0) / (a0 - a1)), "")


def interpolate_accuracy(taus, robust_acc, tau: float) -> float:
    """Robust accuracy at ``tau`` by linear interpolation on the grid; nan outside it."""
    taus = np.asarray(taus, dtype=np.float64)
    acc = np.asarray(robust_acc, dtype=np.float64)
    if not np.isfinite(tau) or taus.size == 0 or tau < taus[0] or tau > taus[-1]:
        return float("nan")
    return float(np.interp(tau, taus, acc))


@dataclass(frozen=True)
class ExponentFit:
    """log τ_c = intercept + exponent · log d, with a confidence interval on the exponent.

    Attributes
    ----------
    exponent, intercept : the least-squares fit (nan with fewer than 2 distinct d)
    ci_low, ci_high : the t-interval on the exponent (nan with fewer than 3 points)
    stderr : standard error of the exponent
    n_points : points used
    """

    exponent: float
    intercept: float
    ci_low: float
    ci_high: float
    stderr: float
    n_points: int

    def predict(self, d) -> float:
        """The fitted τ_c at ``d``."""
        return power_law(self.intercept, self.exponent, d)


def fit_exponent(d, tau_c, confidence: float = 0.95) -> ExponentFit:
    """Fit log τ_c = a + b log d by least squares over every point; t-interval on b.

    Parameters
    ----------
    d : input dimensions, one per point (seeds at one d are separate points)
    tau_c : critical radii, positive; non-finite or non-positive points are dropped
    confidence : level of the interval on b
    """
    from scipy import stats

    d = np.asarray(d, dtype=np.float64)
    tau_c = np.asarray(tau_c, dtype=np.float64)
    keep = np.isfinite(d) & np.isfinite(tau_c) & (d > 0) & (tau_c > 0)
    x, y = np.log(d[keep]), np.log(tau_c[keep])
    n = int(x.size)
    nan = float("nan")
    if n < 2 or np.unique(x).size < 2:
        return ExponentFit(nan, nan, nan, nan, nan, n)
    fit = stats.linregress(x, y)
    if n < 3:
        return ExponentFit(float(fit.slope), float(fit.intercept), nan, nan, nan, n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 2)) * float(fit.stderr)
    return ExponentFit(float(fit.slope), float(fit.intercept), float(fit.slope - half),
                       float(fit.slope + half), float(fit.stderr), n)


def power_law(intercept: float, exponent: float, d: float) -> float:
    """exp(a + b log d): the fitted τ_c at ``d``; nan when the fit is undefined."""
    if not (math.isfinite(intercept) and math.isfinite(exponent)):
        return float("nan")
    return math.exp(intercept + exponent * math.log(d))
