"""The evaluation attack ensemble and robust accuracy (docs/model.md, "What is measured").

Attacks work on any model that offers ``decision_function(X)`` and ``margin_gradient(X, y)``
(see :mod:`simulator.network`).  A sample counts as robust at radius τ only if it is
classified correctly at x and survives every attack of the ensemble; every perturbation
lies inside its ball.  Robust accuracy from attacks is an upper bound on the true one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .norms import project, random_in_ball, steepest_step

ATTACKS = ("fgm", "pgd", "dense", "features")


@dataclass(frozen=True)
class AttackSettings:
    """PGD settings of the ensemble (see :class:`~simulator.config.EvalConfig`)."""

    pgd_steps: int = 30
    pgd_restarts: int = 2
    pgd_step_rel: float = 0.1


def _margin(model, X, y):
    return y * model.decision_function(X)


def fgm_attack(model, X, y, radius, norm):
    """One steepest-ascent step of size ``radius`` on −y f: δ, shape (n_samples, input_dim)."""
    _, G = model.margin_gradient(X, y)
    return steepest_step(G, radius, norm)


def pgd_attack(model, X, y, radius, norm, settings: AttackSettings, rng, frozen=None,
               stop_when_broken=False):
    """Projected steepest ascent on −y f, from x and from ``pgd_restarts`` random starts.

    ``frozen`` (optional bool array, n_samples) marks samples proven robust: they are not
    attacked (their margin is reported as +inf) but still draw their random starts, so that
    the random stream, and with it every other sample's attack, is what it would be without
    the mark.

    ``stop_when_broken``: a sample leaves the attack at the first iterate with y f ≤ 0 (its
    δ is a counterexample; robust-accuracy tables need nothing more).  Every other sample's
    iterates and the random stream are unchanged — bit for bit when the model's evaluation of a
    sample does not depend on the rest of the batch (the network's, see
    :func:`simulator.network.rowwise_pre_activations`).  Its broken samples then report that
    first non-positive margin instead of the smallest one.  A sample whose step leaves its δ
    unchanged bit for bit (a fixed point of the projected step, common at an ℓ∞ corner) would
    repeat that iterate to the end of the start: it leaves the start then, with the model's
    margin at δ that the end of the start would give it.

    A model may offer ``steering()``: a cheaper twin of itself (the polynomial models' float32
    one) whose ``margin_gradient`` gives the iterates' directions (the model's own where the
    twin's values are not finite, e.g. beyond float32's range).  Whether a sample is broken
    is then still the model's own decision: an iterate whose twin margin is ≤ 0 is evaluated
    by ``model.decision_function``, and only that value can end the sample's attack or make
    its best margin ≤ 0, so every counterexample is one of the model itself.

    Returns
    -------
    best_margin : ndarray (n_samples,), the smallest y f(x + δ) seen at any iterate (with
        ``stop_when_broken``: for broken samples, the first one ≤ 0; with a steering twin,
        a positive value may be the twin's)
    best_delta : ndarray (n_samples, input_dim), the δ that reached it
    """
    steer = model.steering() if hasattr(model, "steering") else model
    frozen = np.zeros(X.shape[0], dtype=bool) if frozen is None else np.asarray(frozen, bool)
    best = np.full(X.shape[0], np.inf)
    live = np.flatnonzero(~frozen)
    best[live] = _margin(model, X[live], y[live])
    best_delta = np.zeros_like(X)
    step = settings.pgd_step_rel * radius
    for restart in range(settings.pgd_restarts + 1):
        todo = np.flatnonzero(best > 0)  # only samples not yet broken
        if todo.size == 0 or settings.pgd_steps == 0:
            break
        if restart == 0:
            delta = np.zeros((todo.size, X.shape[1]), dtype=X.dtype)
        else:
            delta = random_in_ball((todo.size, X.shape[1]), radius, norm, rng, X.dtype)
        delta = delta[~frozen[todo]]
        todo = todo[~frozen[todo]]
        if todo.size == 0:
            continue
        Xs, ys = X[todo], y[todo]
        for _ in range(settings.pgd_steps):
            f, G = steer.margin_gradient(Xs + delta, ys)
            if steer is not model and not (np.isfinite(f).all() and np.isfinite(G).all()):
                f, G = model.margin_gradient(Xs + delta, ys)  # the twin's dtype overflowed
            m = ys * f
            if steer is not model:  # the model itself decides where the twin sees a break
                low = np.flatnonzero(m <= 0)
                if low.size:
                    m = m.astype(np.float64)
                    m[low] = _margin(model, Xs[low] + delta[low], ys[low])
            better = m < best[todo]
            best[todo[better]] = m[better]
            best_delta[todo[better]] = delta[better]
            if stop_when_broken and not (m > 0).all():
                keep = m > 0
                todo, Xs, ys, delta, G = todo[keep], Xs[keep], ys[keep], delta[keep], G[keep]
                if todo.size == 0:
                    break
            before = delta.copy() if stop_when_broken else None
            delta += steepest_step(G, step, norm)
            project(delta, radius, norm)
            if stop_when_broken:
                # A sample whose step leaves δ unchanged (bit for bit: e.g. an ℓ∞ corner where
                # sign(G) no longer changes) would repeat the same iterate to the end of this
                # start: it gets its end-of-start evaluation now and leaves.
                fixed = (delta == before).all(axis=1)
                if fixed.any():
                    _settle(model, Xs[fixed], ys[fixed], delta[fixed], todo[fixed], best,
                            best_delta)
                    keep = ~fixed
                    todo, Xs, ys, delta = todo[keep], Xs[keep], ys[keep], delta[keep]
                    if todo.size == 0:
                        break
        if todo.size == 0:
            continue
        _settle(model, Xs, ys, delta, todo, best, best_delta)
    return best, best_delta


def _settle(model, Xs, ys, delta, todo, best, best_delta):
    """The end of one start for samples ``todo``: the model's own margin at their last iterate."""
    m = _margin(model, Xs + delta, ys)
    better = m < best[todo]
    best[todo[better]] = m[better]
    best_delta[todo[better]] = delta[better]


def dense_attack(problem, X, y, radius, norm):
    """δ = −y·τ·M w*/‖M w*‖ (ℓ2) or −y·τ∞·sign(M w*) (ℓ∞): the attack on dense mixtures."""
    u = problem.label_direction.astype(np.float64)
    if norm == "l2":
        u = radius * u / np.linalg.norm(u)
    else:
        u = radius * np.sign(u)
    return (-y[:, None] * u[None, :]).astype(X.dtype)


def feature_attack(problem, Z, X, y, radius, norm):
    """An attack aimed at each sample's active features.

    Direction −y Σ_{j active} w*_j M_j: it lowers every active feature that supports the
    label and strengthens every one that opposes it, each by the same amount — the best
    linear attack on the ideal purified network.  Scaled to the boundary of the ball.
    """
    S = Z.copy()
    S.data = np.ones_like(S.data)  # indicator of the active set
    U = np.asarray(S.multiply(problem.w_star.astype(np.float64)[None, :]) @ problem.M.T.astype(np.float64))
    U *= -y[:, None]
    return steepest_step(U, radius, norm).astype(X.dtype)


def robust_accuracy_table(model, problem, batch, radii, norm, settings: AttackSettings, rng,
                          standalone_radii=None, certified=None, return_stages=False):
    """Robust accuracy against each attack and the ensemble, for ascending radii.

    A sample broken at some radius is broken at every larger one (its δ lies in the larger
    ball too), so the ensemble's robust accuracy never rises with the radius.  PGD, the
    only expensive attack, runs only on the samples the ensemble still needs: correct, not
    broken at a smaller radius, and not broken by the one-shot attacks at this radius.  Its
    own robust accuracy (PGD on every correct sample) is measured only at
    ``standalone_radii``.

    Parameters
    ----------
    model : object with decision_function / margin_gradient
    problem : SparseCodingProblem (for the dense and feature attacks)
    batch : Batch, the test set
    radii : ascending sequence of radii in ``norm``
    standalone_radii : radii (members of ``radii``) with a stand-alone ``pgd`` row;
        None means every radius.
    certified : optional bool array (n_radii, n_samples) of samples proven robust at each
        radius (by a margin above the model's floating-point error, see
        :mod:`simulator.staged`). No attack runs on them: every attack fails there, so each
        row is unchanged; PGD still draws their random starts, so the table is identical to
        the one without ``certified`` on the same generator, random restarts included.
    return_stages : also return, per radius, a dict of the samples left after the one-shot
        attacks (``oneshot``) and after the whole ensemble (``ensemble``), bool arrays
        (n_samples,), and the seconds spent on each (``seconds_oneshot``, ``seconds_pgd``).

    Returns
    -------
    clean_acc : float
    rows : list of dict(radius, attack, robust_acc); the ``pgd`` row only at standalone radii
    stages : list of dict, one per radius (only with ``return_stages``)
    """
    radii = [float(r) for r in radii]
    if any(b <= a for a, b in zip(radii, radii[1:])):
        raise ValueError(f"The 'radii' parameter of robust_accuracy_table must be strictly "
                         f"ascending. Got {radii} instead.")
    standalone = set(radii) if standalone_radii is None else {float(r) for r in standalone_radii}
    X, y = batch.X, batch.y
    correct = _margin(model, X, y) > 0
    clean_acc = float(correct.mean())
    if certified is not None:
        certified = np.asarray(certified, dtype=bool)
        if certified.shape != (len(radii), X.shape[0]):
            raise ValueError(f"The 'certified' parameter of robust_accuracy_table must have shape "
                             f"(n_radii, n_samples) = {(len(radii), X.shape[0])}. "
                             f"Got shape {certified.shape} instead.")
    alive = correct.copy()  # survived the ensemble at every radius so far
    rows, stages = [], []
    for k, radius in enumerate(radii):
        survived = {}
        t0 = time.perf_counter()
        if radius == 0:
            for a in ATTACKS:
                survived[a] = correct.copy()
            cheap = correct.copy()
            t1 = time.perf_counter()
        else:
            # Samples proven robust survive every attack: only the others are attacked.
            proven = correct & certified[k] if certified is not None else np.zeros_like(correct)
            todo = np.flatnonzero(correct & ~proven)
            Xt, yt = X[todo], y[todo]
            for a, delta in (("fgm", lambda: fgm_attack(model, Xt, yt, radius, norm)),
                             ("dense", lambda: dense_attack(problem, Xt, yt, radius, norm)),
                             ("features", lambda: feature_attack(problem, batch.Z[todo], Xt, yt,
                                                                 radius, norm))):
                survived[a] = proven.copy()
                if todo.size:
                    survived[a][todo] = _margin(model, Xt + delta(), yt) > 0
            cheap = alive & survived["fgm"] & survived["dense"] & survived["features"]
            t1 = time.perf_counter()
            target = correct if radius in standalone else cheap
            idx = np.flatnonzero(target)
            pgd_ok = np.zeros_like(correct)
            if idx.size:
                # Proven samples are frozen, not dropped: they keep their share of the random
                # starts, so every other sample is attacked exactly as without certification.
                m_pgd, _ = pgd_attack(model, X[idx], y[idx], radius, norm, settings, rng,
                                      frozen=proven[idx], stop_when_broken=True)
                pgd_ok[idx] = m_pgd > 0
            survived["pgd"] = pgd_ok
        ens = alive.copy()
        for a in ATTACKS:
            ens &= survived[a]
        alive = ens
        for a in ATTACKS:
            if a != "pgd" or radius in standalone:
                rows.append({"radius": radius, "attack": a, "robust_acc": float(survived[a].mean())})
        rows.append({"radius": radius, "attack": "ensemble", "robust_acc": float(ens.mean())})
        stages.append({"oneshot": cheap, "ensemble": ens, "seconds_oneshot": t1 - t0,
                       "seconds_pgd": time.perf_counter() - t1})
    if return_stages:
        return clean_acc, rows, stages
    return clean_acc, rows
