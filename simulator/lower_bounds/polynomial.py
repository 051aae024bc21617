"""Degree-p polynomial models as polynomial-kernel machines (docs/model.md, claim 3).

    f(x) = Σ_j α_j k(x_j, x),   k(x', x) = (c + ⟨x', x⟩/s)^p,

on a fixed set of centres x_j (the first clean training points).  Whatever α is, f is a
polynomial of degree p in x, so training α — cleanly or adversarially — explores degree-p
polynomials (those in the span of the centres' kernel functions).  The input gradient is
analytic:

    ∇_x f(x) = (p/s) Σ_j α_j (c + ⟨x_j, x⟩/s)^{p−1} x_j.

Training minimises the regularised logistic loss

    L(α) = mean_n softplus(−y_n f(x̃_n)) + (λ/2)·αᵀ K α,   K = k(C, C),

by damped Newton steps in α (the loss is convex in α because f is linear in α) over a
finite training set x_1..x_N whose first n_centres points are the centres.  Clean training
takes x̃_n = x_n.  Adversarial training alternates: FGM or PGD through the model's own input
gradient moves each training point to x̃_n = x_n + δ_n at the training radius, then one Newton
step on α descends the loss at the perturbed points, with a line search that re-attacks at
each trial α so that the attacked objective decreases monotonically.  The centres stay the
clean points, so f stays a polynomial of degree p.

Choices: s = E‖x‖² makes ⟨x, x'⟩/s of order 1 for x' = x and small otherwise, so no degree's
terms over- or underflow; c = 1 keeps every degree 0..p; λ·αᵀKα (the RKHS norm) keeps α
finite on separable data and makes Newton well posed.  The model class is the span of the
centres' kernel functions, not every degree-p polynomial: a trained model shows what this
training reaches (its robust accuracy is a lower bound on the best degree-p polynomial's, not
an upper bound), which is the claim's "whatever trains them" at one concrete trainer.

Training and every value the reports read work in float64; only the directions of the
evaluation PGD's iterates come from a float32 twin (:class:`Float32Steering`, about twice as
fast), and the float64 model decides every break.  For p ≤ 2 the model evaluates f and ∇f
through its expanded quadratic form a0 + ⟨g, x⟩ + xᵀQx (:meth:`PolynomialKernelModel.quadratic_form`: one
input_dim × input_dim product instead of two input_dim × n_centres ones); for p > 2 through
(batch_size × n_centres) kernel blocks.  Training holds the (n_train × n_centres) kernel at the
training points (twice during the adversarial line search, plus the kernel base at the clean
points for p > 2) and the n_centres × n_centres Newton system.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dsyrk
from threadpoolctl import threadpool_limits

from ..norms import project, steepest_step
from ..validation import Interval, check_param
from .linear import _check_norm, _check_radius, logistic_loss_and_slope
from .reuse import check_clean, clean_record


def kernel_base(X, C, offset: float, scale: float) -> np.ndarray:
    """B = c + X Cᵀ/s, shape (n_samples, n_centres): the kernel is B**p."""
    B = X @ C.T
    B *= B.dtype.type(1.0 / scale)  # keeps a float32 block float32
    B += B.dtype.type(offset)
    return B


class PolynomialKernelModel:
    """f(x) = Σ_j α_j (c + ⟨x_j, x⟩/s)^p, with the attack protocol of :mod:`simulator.network`.

    Parameters
    ----------
    centres : ndarray, shape (n_centres, input_dim)
    alpha : ndarray, shape (n_centres,)
    degree : int p ≥ 1
    offset : c ≥ 0 (with c > 0 every degree up to p is present)
    scale : s > 0
    batch_size : rows per kernel block in evaluation
    name : str

    Attributes
    ----------
    history : dict phase -> ndarray of the training objective at each Newton step
    seconds : wall time of training
    """

    def __init__(self, centres, alpha, *, degree: int, offset: float, scale: float,
                 batch_size: int = 1024, name: str = "poly"):
        C = np.ascontiguousarray(centres, dtype=np.float64)
        alpha = np.ascontiguousarray(alpha, dtype=np.float64)
        if C.ndim != 2 or alpha.shape != (C.shape[0],):
            raise ValueError(f"The 'centres' and 'alpha' parameters of PolynomialKernelModel must "
                             f"have shapes (n_centres, input_dim) and (n_centres,). Got "
                             f"{C.shape} and {alpha.shape} instead.")
        if not (np.all(np.isfinite(C)) and np.all(np.isfinite(alpha))):
            raise ValueError("The 'centres' and 'alpha' parameters of PolynomialKernelModel must "
                             "be finite. Got NaN or inf.")
        owner = "PolynomialKernelModel"
        degree = check_param(owner, "degree", degree, Interval("int", 1, None))
        scale = check_param(owner, "scale", scale, Interval("float", 0, None, closed="neither"))
        offset = check_param(owner, "offset", offset, Interval("float", 0, None))
        self.centres = C
        self.degree = int(degree)
        self.alpha = alpha
        self.offset = float(offset)
        self.scale = float(scale)
        self.batch_size = int(batch_size)
        self.name = name
        self.history: dict = {}
        self.seconds = 0.0

    @property
    def alpha(self) -> np.ndarray:
        """α, shape (n_centres,); read-only (assign a new array to change it)."""
        return self._alpha

    @alpha.setter
    def alpha(self, value):
        alpha = np.array(value, dtype=np.float64)  # a private copy: the quadratic form caches it
        if alpha.shape != (self.centres.shape[0],) or not np.all(np.isfinite(alpha)):
            raise ValueError(f"The 'alpha' parameter of PolynomialKernelModel must be a finite "
                             f"array of shape ({self.centres.shape[0]},). Got shape "
                             f"{alpha.shape} instead, or NaN or inf.")
        alpha.flags.writeable = False
        self._alpha = alpha
        self._form = None

    @property
    def input_dim(self) -> int:
        return self.centres.shape[1]

    def quadratic_form(self):
        """(a0, g, Q) with f(x) = a0 + ⟨g, x⟩ + xᵀQx, for degree p ≤ 2 (None for p > 2).

        Expanding (c + u_j)² = c² + 2c·u_j + u_j² with u_j = ⟨x_j, x⟩/s gives
        a0 = c²·Σα, g = (2c/s)·Cᵀα, Q = Cᵀ diag(α) C / s² (p = 1: a0 = c·Σα, g = Cᵀα/s,
        Q = 0).  The same polynomial, but evaluating it and its gradient g + 2Qx costs one
        (n × d) × (d × d) product instead of two (n × d) × (d × n_centres) ones.  Cached
        until α changes.
        """
        if self.degree > 2:
            return None
        if self._form is None:
            c, s, a, C = self.offset, self.scale, self._alpha, self.centres
            if self.degree == 1:
                self._form = (c * a.sum(), (C.T @ a) / s, None)
            else:
                Q = C.T @ (a[:, None] * C)
                Q = (Q + Q.T) * (0.5 / s ** 2)  # symmetric, so that ∇ xᵀQx = 2Qx exactly
                self._form = (c * c * a.sum(), (2.0 * c / s) * (C.T @ a), Q)
        return self._form

    def _coerce(self, X):
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (n_samples, {self.input_dim}). Got {X.shape}.")
        return X

    def kernel(self, X) -> np.ndarray:
        """k(X, C), shape (n_samples, n_centres) (one block: mind the memory)."""
        return kernel_base(self._coerce(X), self.centres, self.offset, self.scale) ** self.degree

    def decision_function(self, X) -> np.ndarray:
        """f(X), shape (n_samples,), float64."""
        X = self._coerce(X)
        form = self.quadratic_form()
        if form is not None:
            return _quadratic_values(X, form)[0]
        out = np.empty(X.shape[0])
        for s in range(0, X.shape[0], self.batch_size):
            B = kernel_base(X[s:s + self.batch_size], self.centres, self.offset, self.scale)
            out[s:s + self.batch_size] = (B ** self.degree) @ self.alpha
        return out

    def margin_gradient(self, X, y):
        """(f, ∇_x(−y f)) with shapes (n_samples,), (n_samples, input_dim)."""
        X = self._coerce(X)
        y = np.asarray(y, dtype=np.float64)
        form = self.quadratic_form()
        if form is not None:
            return _form_margin_gradient(X, y, form)
        # Σ_j B^{p−1}_j α_j x_j as one GEMM with the centres scaled by α (not the block)
        return _kernel_margin_gradient(X, y, self.centres, self.alpha,
                                       self.alpha[:, None] * self.centres, self.degree,
                                       self.offset, self.scale, self.batch_size)

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1.0, -1.0)

    def steering(self):
        """This model's f and ∇f in float32, for the directions of PGD's iterates (see
        :func:`simulator.attacks.pgd_attack`, which settles every decision in float64); the
        model itself when its parameters do not fit float32's range."""
        twin = Float32Steering(self)
        return twin if twin.fits else self


class Float32Steering:
    """f and ∇_x(−y f) of a :class:`PolynomialKernelModel`, computed in float32.

    PGD spends nearly all of a polynomial model's evaluation in the two (batch × input_dim) ×
    (input_dim × n_centres) products of :meth:`PolynomialKernelModel.margin_gradient`
    (one for p ≤ 2), which OpenBLAS runs about twice as fast in float32.  The twin's values
    are within float32 rounding of the model's (relative ≈ 1e-6 of Σ|α_j| k(x_j, x)), which
    is enough to choose an ascent direction; it never decides whether a point is broken.
    """

    def __init__(self, model: PolynomialKernelModel):
        f32 = np.float32
        self.degree, self.input_dim = model.degree, model.input_dim
        self.offset, self.scale, self.batch_size = model.offset, model.scale, model.batch_size
        self.form = None
        form = model.quadratic_form()
        with np.errstate(over="ignore"):  # out of range: ``fits`` says so
            if form is not None:
                a0, g, Q = form
                self.form = (f32(a0), g.astype(f32), None if Q is None else Q.astype(f32))
                parts = [np.asarray(a0, f32), self.form[1]] + ([] if Q is None else [self.form[2]])
            else:
                self.centres = model.centres.astype(f32)
                self.alpha = model.alpha.astype(f32)
                self.weighted = (model.alpha[:, None] * model.centres).astype(f32)
                parts = [self.centres, self.alpha, self.weighted]
        self.fits = all(bool(np.isfinite(a).all()) for a in parts)

    def margin_gradient(self, X, y):
        """(f, ∇_x(−y f)) in float32, shapes (n_samples,), (n_samples, input_dim); inf or NaN
        where the values leave float32's range (PGD then takes the model's own)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._margin_gradient(X, y)

    def _margin_gradient(self, X, y):
        X = np.ascontiguousarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        if self.form is not None:
            return _form_margin_gradient(X, y, self.form)
        return _kernel_margin_gradient(X, y, self.centres, self.alpha, self.weighted,
                                       self.degree, self.offset, self.scale, self.batch_size)


def _form_margin_gradient(X, y, form):
    """(f, ∇_x(−y f)) from the quadratic form (a0, g, Q), in the dtype of X and the form."""
    f, G = _quadratic_values(X, form)  # G = X Q, the gradient's 2Qx part halved
    g = form[1]
    if G is None:
        G = np.repeat(g[None, :], X.shape[0], axis=0)
    else:
        G *= 2.0
        G += g[None, :]
    G *= -y[:, None]
    return f, G


def _kernel_margin_gradient(X, y, C, alpha, weighted, p, offset, scale, batch_size):
    """(f, ∇_x(−y f)) through (batch_size × n_centres) kernel blocks, in the dtype of the
    arrays; ``weighted`` = α_j·x_j, so that Σ_j B^{p−1}_j α_j x_j is one product."""
    f = np.empty(X.shape[0], dtype=X.dtype)
    G = np.empty_like(X)
    for s in range(0, X.shape[0], batch_size):
        sl = slice(s, s + batch_size)
        B = kernel_base(X[sl], C, offset, scale)
        Bp1 = B ** (p - 1)
        G[sl] = Bp1 @ weighted
        G[sl] *= (-(p / scale) * y[sl])[:, None]
        Bp1 *= B
        f[sl] = Bp1 @ alpha  # B^p α
    return f, G


# ----------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------


def _quadratic_values(X, form):
    """f(X) = a0 + X g + rowwise xᵀQx from the quadratic form (a0, g, Q), and X Q (None when
    Q is None, p = 1): the values and what the gradient g + 2Qx needs."""
    a0, g, Q = form
    f = X @ g
    f += a0
    if Q is None:
        return f, None
    XQ = X @ Q
    f += np.einsum("ij,ij->i", XQ, X)
    return f, XQ


def _objective(A, alpha, y, K, reg):
    """L(α) = mean softplus(−y Aα) + (λ/2) αᵀKα, and the per-sample slopes σ(−y f)."""
    u = -y * (A @ alpha)
    loss, slope = logistic_loss_and_slope(u)
    return float(loss.mean() + 0.5 * reg * alpha @ (K @ alpha)), slope


def _objective_from_values(f, alpha, y, K, reg):
    """L(α) from the model's values f = Aα at the points."""
    return float(np.logaddexp(0.0, -y * f).mean() + 0.5 * reg * alpha @ (K @ alpha))


def newton_direction(A, alpha, y, K, reg, jitter):
    """The Newton direction of L(α) = mean softplus(−y Aα) + (λ/2) αᵀKα at fixed points.

    Parameters
    ----------
    A : ndarray, shape (n_samples, n_centres), the kernel at the (possibly perturbed) points
    alpha : ndarray, shape (n_centres,)
    y : ndarray, shape (n_samples,)
    K : ndarray, shape (n_centres, n_centres), the kernel between the centres
    reg : λ > 0
    jitter : added to the Hessian's diagonal (K is positive semi-definite only)

    Returns
    -------
    direction (step is α − t·direction), L(α), the directional slope ⟨∇L, direction⟩ ≥ 0
    """
    n = A.shape[0]
    value, slope = _objective(A, alpha, y, K, reg)
    grad = A.T @ (-y * slope) / n + reg * (K @ alpha)
    curv = slope * (1.0 - slope) / n  # softplus'' = σ(1 − σ)
    # H = Aᵀ diag(curv) A by a symmetric rank-k update: half the work of a GEMM.  Only the
    # upper triangle is formed, and the Cholesky factorisation reads only that triangle.
    As = A * np.sqrt(curv)[:, None]
    H = dsyrk(1.0, As.T, trans=0, lower=0)  # As.T is Fortran-ordered: no copy
    del As
    H += reg * K
    H.flat[::H.shape[0] + 1] += jitter
    direction = solve_newton_system(H, grad)
    return direction, value, float(grad @ direction)


def solve_newton_system(H, grad):
    """H⁻¹ grad by Cholesky, reading only H's upper triangle, with BLAS on one thread.

    OpenBLAS's threaded Cholesky (potrf) is far slower than its serial one at the sizes of
    the Newton system: at n_centres = 1536 on a shared two-core machine, 1.15 CPU-s and
    2.4 s wall with two threads against 0.045 CPU-s and 0.09 s wall with one (its threads
    wait on each other at every block).  The serial factor also does not depend on the
    run's thread count (the threaded one differs from it in the last bits).

    Parameters
    ----------
    H : ndarray, shape (n, n), symmetric positive definite (upper triangle read)
    grad : ndarray, shape (n,)

    Returns
    -------
    ndarray, shape (n,)
    """
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            return scipy.linalg.cho_solve(
                scipy.linalg.cho_factor(H, lower=False, check_finite=False), grad,
                check_finite=False)
        except np.linalg.LinAlgError:  # pragma: no cover - the jitter keeps H positive definite
            H = np.triu(H) + np.triu(H, 1).T
            return np.linalg.lstsq(H, grad, rcond=None)[0]


def _backtrack(objective, alpha, direction, value, slope, max_halvings=30):
    """Armijo backtracking: the largest t = 2^-j with objective(α − t·d) ≤ L − 1e-4·t·slope.

    ``objective(α_new, t)`` returns (value, extra); returns (α_new, value_new, extra), or None
    when no step decreases the objective (converged, or the direction is not a descent
    direction).
    """
    t = 1.0
    for _ in range(max_halvings):
        new = alpha - t * direction
        new_value, extra = objective(new, t)
        if new_value <= value - 1e-4 * t * slope:
            return new, new_value, extra
        t *= 0.5
    return None


def newton_step(A, alpha, y, K, reg, jitter):
    """One damped Newton step on L(α) at fixed points (the clean fit).

    Returns
    -------
    alpha_new, objective before, objective after
    """
    direction, value, slope = newton_direction(A, alpha, y, K, reg, jitter)
    found = _backtrack(lambda a, t: _objective(A, a, y, K, reg), alpha, direction, value,
                       slope)
    if found is None:
        return alpha, value, value
    return found[0], value, found[1]


def perturb_points(model: PolynomialKernelModel, X, y, radius, norm, steps):
    """Training-time attack: ``steps`` projected steepest-ascent steps on −y f from δ = 0.

    One step is FGM (a step of the full radius); more steps use Madry et al.'s step
    2.5·r/steps, as in :func:`simulator.training.adversarial_examples`.  Unlike the
    evaluation PGD this keeps perturbing samples that are already misclassified (their loss
    still grows).
    """
    if radius == 0 or steps == 0:
        return X
    step = radius if steps == 1 else 2.5 * radius / steps
    delta = np.zeros_like(X)
    for _ in range(steps):
        _, G = model.margin_gradient(X + delta, y)
        delta += steepest_step(G, step, norm)
        project(delta, radius, norm)
    return X + delta


def _adversarial_rounds(model, X, y, K, reg, jitter, Bp1, *, radius, norm, rounds,
                        attack_steps):
    """Attack-then-Newton rounds from ``model``'s α (see :func:`fit_polynomial`).

    R(α) is the regularised loss at the training attack's points for α.  Each round takes the
    Newton direction of the loss at the current attack points (Danskin: there the fixed-point
    gradient is the robust one) and a line search that re-attacks at every trial α, so that R
    itself decreases monotonically (a full Newton step at fixed points overshoots once the
    points move).

    With FGM (``attack_steps`` = 1) the attack starts at the clean points, where the input
    gradient ∇f(X; α) is linear in α: the line search's trial α − t·d takes
    ∇f(X; α) − t·∇f(X; d), one product per round instead of one per trial.  For p ≤ 2 the
    quadratic form gives values and gradients, and the kernel at the attack points, which
    the Newton step needs, is formed only for the accepted α.  For p > 2 ``Bp1`` (the kernel
    base at X to the power p − 1; FGM only) gives the gradients, and the kernel at the attack
    points gives the values.

    Returns
    -------
    alpha, the list of R before each round and at the end
    """
    C, p, c, s = model.centres, model.degree, model.offset, model.scale
    kw = dict(degree=p, offset=c, scale=s, batch_size=model.batch_size)
    fgm = attack_steps == 1

    def clean_gradient(a):
        """∇_x f(X; a), shape (n_train, input_dim): linear in a."""
        if p > 2:
            return (p / s) * (Bp1 @ (a[:, None] * C))
        return -PolynomialKernelModel(C, a, **kw).margin_gradient(X, np.ones_like(y))[1]

    def attacked(a, grad_at_x=None):
        """R(a) and (its attack points, their kernel block or None, ∇f(X; a) or None)."""
        trial = PolynomialKernelModel(C, a, **kw)
        if fgm:
            delta = steepest_step(-y[:, None] * grad_at_x, radius, norm)
            Xa = X + project(delta, radius, norm)  # a no-op but for rounding, as in perturb_points
        else:
            Xa = perturb_points(trial, X, y, radius, norm, attack_steps)
        if trial.quadratic_form() is not None:  # the kernel block only once accepted
            return (_objective_from_values(trial.decision_function(Xa), a, y, K, reg),
                    (Xa, None, grad_at_x))
        A_a = kernel_base(Xa, C, c, s) ** p
        return _objective(A_a, a, y, K, reg)[0], (Xa, A_a, grad_at_x)

    alpha = model.alpha
    value, points = attacked(alpha, clean_gradient(alpha) if fgm else None)
    history = []
    for _ in range(rounds):
        history.append(value)
        Xa, A, grad_alpha = points
        if A is None:
            A = kernel_base(Xa, C, c, s) ** p
        direction, _, slope = newton_direction(A, alpha, y, K, reg, jitter)
        del A
        grad_dir = clean_gradient(direction) if fgm else None

        def at_step(a, t):
            return attacked(a, grad_alpha - t * grad_dir if fgm else None)

        found = _backtrack(at_step, alpha, direction, value, slope, max_halvings=8)
        if found is None:
            break
        alpha, value, points = found
    history.append(value)
    return alpha, history


def fit_polynomial(problem, *, degree: int, n_centres: int, n_train: int | None = None,
                   offset: float, scale: float | None, reg: float, newton_steps: int,
                   radius: float = 0.0, norm: str = "l2",
                   adv_rounds: int = 0, attack_steps: int = 1, rng: np.random.Generator,
                   batch_size: int = 1024, name: str | None = None,
                   clean: PolynomialKernelModel | None = None) -> PolynomialKernelModel:
    """Fit a degree-p polynomial-kernel model, cleanly and then (optionally) adversarially.

    Parameters
    ----------
    problem : SparseCodingProblem
    degree : p
    n_centres : number of centres: the first ``n_centres`` clean training points
    n_train : number of training points (≥ n_centres; None means n_centres).  More training
        points than centres estimate the loss better at a cost linear in n_train, while the
        Newton system stays n_centres × n_centres.
    offset : c
    scale : s; None uses E‖x‖² = k + σ², so that ⟨x, x⟩/s ≈ 1 and every degree contributes
    reg : λ of the RKHS penalty (λ/2) αᵀKα
    newton_steps : Newton steps of clean training (from α = 0)
    radius, norm : adversarial training ball (radius in ``norm``); 0 disables
    adv_rounds : alternations after the clean fit: attack the training points, then one
        Newton step whose line search re-attacks at each trial α (stops early when no step
        lowers the attacked objective)
    attack_steps : steepest-ascent steps of the training attack (1 = FGM)
    rng : draws the training points
    clean : optional, a model this function trained from the same problem, generator state
        and clean-phase arguments (degree, n_centres, n_train, offset, scale, reg,
        newton_steps; any radius).  Its clean α is taken instead of repeating the Newton
        steps, so the result is identical (see :mod:`simulator.lower_bounds.reuse`).

    Returns
    -------
    PolynomialKernelModel with ``history['clean']`` the objective before each clean Newton
    step and ``history['adversarial']`` the attacked objective R(α) before each round and at
    the end.
    """
    radius = _check_radius(radius, "fit_polynomial")
    _check_norm(norm, "fit_polynomial")
    cfg = problem.config
    if scale is None:
        scale = cfg.sparsity * (1.0 if cfg.value_law != "uniform" else 7.0 / 12.0) + cfg.noise ** 2
    n_train = n_centres if n_train is None else int(n_train)
    if n_train < n_centres:
        raise ValueError(f"The 'n_train' parameter of fit_polynomial must be an int in the range "
                         f"[n_centres={n_centres}, inf) or None. Got {n_train!r} instead.")
    t0 = time.perf_counter()
    record = clean_record(problem, rng, degree=degree, n_centres=n_centres, n_train=n_train,
                          offset=offset, scale=scale, reg=reg, newton_steps=newton_steps)
    if clean is not None:
        check_clean(clean, record, "fit_polynomial", PolynomialKernelModel)
    batch = problem.sample(n_train, rng)
    X = np.ascontiguousarray(batch.X, dtype=np.float64)
    y = np.ascontiguousarray(batch.y, dtype=np.float64)
    C = X[:n_centres]
    base = kernel_base(X, C, offset, scale)  # at the clean points (p > 2: FGM's gradients)
    K = base[:n_centres] ** degree
    # relative jitter: makes the Newton system positive definite without moving the solution
    jitter = 1e-10 * float(np.mean(np.diag(K)))
    if clean is None:
        A = base ** degree
        alpha = np.zeros(n_centres)
        clean_values = []
        for _ in range(newton_steps):
            alpha, before, after = newton_step(A, alpha, y, K, reg, jitter)
            clean_values.append(before)
            if before - after <= 1e-10 * before:  # converged: Newton is quadratic near the optimum
                break
        del A
        clean_values = np.array(clean_values)
        clean_seconds = time.perf_counter() - t0
    else:
        alpha, clean_values = clean.clean_alpha.copy(), clean.history["clean"]
        clean_seconds = clean.clean_seconds
    clean_alpha = alpha.copy()
    t_adv = time.perf_counter()
    model = PolynomialKernelModel(C, alpha, degree=degree, offset=offset, scale=scale,
                                  batch_size=batch_size, name=name or f"poly{degree}")
    adv = []
    if radius > 0 and adv_rounds > 0:
        Bp1 = base ** (degree - 1) if (attack_steps == 1 and degree > 2) else None
        del base
        alpha, adv = _adversarial_rounds(model, X, y, K, reg, jitter, Bp1, radius=radius,
                                         norm=norm, rounds=adv_rounds, attack_steps=attack_steps)
        model.alpha = alpha
    if not np.all(np.isfinite(model.alpha)):
        raise FloatingPointError("fit_polynomial diverged: α is not finite; raise reg.")
    model.history = {"clean": clean_values, "adversarial": np.asarray(adv, dtype=float)}
    model.clean_record, model.clean_alpha, model.clean_seconds = record, clean_alpha, clean_seconds
    model.seconds = clean_seconds + (time.perf_counter() - t_adv)
    return model
