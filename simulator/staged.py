"""Staged robust accuracy: certify first, attack the rest, settle the undecided exactly.

Serves issue 13 and the robust accuracy of MODEL.md ("What is measured"). Each sample goes
through the stages in order, each stage seeing only the samples still undecided:

    clean correctness -> certifier -> one-shot attacks (FGM, dense, features) -> PGD -> exact

A sample the certifier proves robust survives every attack, so it is not attacked and each
per-attack row stays what it was: the whole table is identical to
:func:`simulator.attacks.robust_accuracy_table` on the same generator (PGD still draws the
random starts of skipped samples, so every other sample gets the same ones). A sample is skipped only when its certified margin exceeds a bound on the model's own
floating-point error (``float_error_bound``): the attacks evaluate the model in its dtype
(float32 by default), and "proven robust in exact arithmetic" must imply "no attack finds a
negative float margin".

The exact stage (:mod:`simulator.certification.bab`) runs at the radii asked for, on the samples
that are correct, not certified and not broken by the ensemble, and adds an ``exact`` row: the share
proven robust (certified or decided robust), with ``n_undecided`` samples counted neither way
and ``robust_acc_upper``, the share not proven broken.
"""

from __future__ import annotations

import time

import numpy as np

from .attacks import AttackSettings, robust_accuracy_table
from .certification.bab import (DEFAULT_MAX_UNSTABLE, DEFAULT_TIME_LIMIT, ROUNDING_RTOL,
                                 decide_samples)
from .certification.relaxation import certified_margins
from .network import ThresholdNetwork
from .norms import dual_norms


def float_error_bound(W, b, X, radius, norm, dtype):
    """Bound on the rounding error of y f(x + delta) evaluated in ``dtype``, any delta in the ball.

    The network computes h_i = <w_i, x + delta> (input_dim products and sums), soft(h_i, b_i)
    and the sum over width neurons, plus the rounding of x + delta itself: with
    n = input_dim + width + 2 and u the unit roundoff, every such evaluation is within
    gamma_n * sum_i (|w_i| . |x + delta| + b_i), gamma_n = n u / (1 - n u), of the exact value
    (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), whatever the summation order;
    and |w_i| . |x + delta| <= |w_i| . |x| + radius ||w_i||_*.

    Parameters
    ----------
    W : ndarray, shape (width, input_dim)
    b : ndarray, shape (width,)
    X : ndarray, shape (n_samples, input_dim)
    radius : float
    norm : {"l2", "linf"}
    dtype : numpy dtype of the model's evaluation

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[1] + W.shape[0] + 2
    u = np.finfo(dtype).eps / 2
    gamma = n * u / (1 - n * u)
    absW = np.abs(W)
    size = np.abs(np.asarray(X, dtype=np.float64)) @ absW.sum(axis=0)
    size += radius * dual_norms(W, norm).sum() + np.asarray(b, dtype=np.float64).sum()
    # The certified margin itself carries float64 rounding of the same terms.
    return (gamma + ROUNDING_RTOL) * size


def staged_robust_accuracy_table(model, problem, batch, radii, norm, settings: AttackSettings,
                                 rng, standalone_radii=None, *, exact_radii=(),
                                 time_limit=DEFAULT_TIME_LIMIT,
                                 max_unstable=DEFAULT_MAX_UNSTABLE):
    """Robust accuracy by stages: the rows of ``robust_accuracy_table`` plus certified and exact.

    Parameters
    ----------
    model, problem, batch, radii, norm, settings, rng, standalone_radii
        As in :func:`simulator.attacks.robust_accuracy_table` (radii strictly ascending).
    exact_radii : sequence of radii (members of ``radii``) where the exact stage runs.
        Only for a :class:`~simulator.network.ThresholdNetwork`; other models get no
        certified or exact rows and the plain attack table.
    time_limit : float
        Seconds per sample for the exact stage.
    max_unstable : int
        Samples with more unstable neurons are left undecided by the exact stage.

    Returns
    -------
    clean_acc : float
    rows : list of dict(radius, attack, robust_acc); ``certified`` rows at every radius (over the
        envelope: certified at r if certified at some r' >= r, as the pipeline reports them);
        ``exact`` rows at ``exact_radii`` with ``n_undecided`` and ``robust_acc_upper``
    stages : list of dict per radius: ``radius``; samples handled by each stage (``n``,
        ``n_correct``, ``n_certified``, ``n_after_oneshot``, ``n_after_pgd``, and at exact radii
        ``n_exact_robust``, ``n_exact_broken``, ``n_undecided``); seconds per stage; at exact radii
        ``decisions`` (dict sample index -> :class:`simulator.certification.bab.Decision`)
    """
    radii = [float(r) for r in radii]
    exact_set = {float(r) for r in exact_radii}
    if not exact_set <= set(radii):
        raise ValueError(f"The 'exact_radii' parameter of staged_robust_accuracy_table must be "
                         f"a subset of radii {radii}. Got {sorted(exact_set)} instead.")
    if not isinstance(model, ThresholdNetwork):
        clean_acc, rows = robust_accuracy_table(model, problem, batch, radii, norm, settings, rng,
                                                standalone_radii)
        return clean_acc, rows, []
    X, y = batch.X, batch.y
    W = np.asarray(model.W, dtype=np.float64)
    b = np.asarray(model.b, dtype=np.float64)
    t0 = time.perf_counter()
    margins = certified_margins(W, b, X, y, radii, norm)
    # A sample certified at a larger radius is certified at every smaller one.
    envelope = np.maximum.accumulate(margins[::-1], axis=0)[::-1]
    skip = np.array([envelope[k] > float_error_bound(W, b, X, r, norm, model.W.dtype)
                     for k, r in enumerate(radii)])
    seconds_certify = (time.perf_counter() - t0) / max(len(radii), 1)
    clean_acc, rows, stages = robust_accuracy_table(
        model, problem, batch, radii, norm, settings, rng, standalone_radii, certified=skip,
        return_stages=True)
    correct = y * model.decision_function(X) > 0
    out_rows, out_stages = [], []
    broken_before = np.zeros(X.shape[0], dtype=bool)  # proven broken by the exact stage
    for k, radius in enumerate(radii):
        certified = envelope[k] > 0
        stage = stages[k]
        info = {"radius": radius, "n": int(X.shape[0]), "n_correct": int(correct.sum()),
                "n_certified": int(certified.sum()),
                "n_after_oneshot": int((stage["oneshot"] & ~skip[k]).sum()),
                "n_after_pgd": int((stage["ensemble"] & ~certified).sum()),
                "seconds_certify": seconds_certify, "seconds_oneshot": stage["seconds_oneshot"],
                "seconds_pgd": stage["seconds_pgd"]}
        out_rows += [r for r in rows if r["radius"] == radius]
        out_rows.append({"radius": radius, "attack": "certified",
                         "robust_acc": float(certified.mean())})
        if radius in exact_set:
            t1 = time.perf_counter()
            todo = np.flatnonzero(stage["ensemble"] & ~certified & ~broken_before)
            decisions = dict(zip(todo.tolist(), decide_samples(
                W, b, X[todo], y[todo], radius, norm, time_limit=time_limit,
                max_unstable=max_unstable))) if todo.size else {}
            robust = certified.copy()  # proven in exact arithmetic, whatever float32 says
            undecided = np.zeros_like(robust)
            for n, decision in decisions.items():
                robust[n] = decision.status == "robust"
                undecided[n] = decision.status == "undecided"
                broken_before[n] |= decision.status == "broken"
            out_rows.append({"radius": radius, "attack": "exact",
                             "robust_acc": float(robust.mean()),
                             "robust_acc_upper": float((robust | undecided).mean()),
                             "n_undecided": int(undecided.sum())})
            status = [d.status for d in decisions.values()]
            info.update({"n_exact_robust": status.count("robust"),
                         "n_exact_broken": status.count("broken"),
                         "n_undecided": int(undecided.sum()),
                         "seconds_exact": time.perf_counter() - t1, "decisions": decisions})
        out_stages.append(info)
    return clean_acc, out_rows, out_stages
