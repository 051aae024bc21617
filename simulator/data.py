"""The sparse-coding data model x = M z + ξ, y = sign(⟨w*, z⟩) (docs/model.md, "Data").

A :class:`SparseCodingProblem` holds the fixed parts of the model (the dictionary M and the
label direction w*) and draws samples from them.  Sampling is exact: every z_j is non-zero
independently with probability k/D, and samples with |⟨w*, z⟩| < margin are redrawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.stats import ortho_group

from .config import ConfigError, DataConfig

# The margin rejection redraws codes until enough have |⟨w*, z⟩| ≥ margin.  Below this
# acceptance rate (estimated from at least MIN_DRAWS_FOR_RATE draws) a config is refused:
# at 1 % a batch already costs 100 draws per sample, and the samples that pass are the far
# tail of the code law, not the data model the defaults describe (at the defaults about
# 89 % pass: only ties are rejected).
MIN_ACCEPTANCE = 0.01
MIN_DRAWS_FOR_RATE = 1000
# Hard cap on redraw rounds.  Each round draws ≥ 1.2·(missing samples) + 8 codes, so at an
# acceptance rate ≥ MIN_ACCEPTANCE the missing count shrinks by ≥ 1.2 % a round and even
# 10¹⁰ samples need < 2500 rounds; the cap is only reached by a bug, never silently.
MAX_REDRAW_ROUNDS = 10_000


@dataclass(frozen=True)
class Batch:
    """A batch of samples.

    Attributes
    ----------
    X : ndarray, shape (n_samples, input_dim), or None from ``sample_codes``
    y : ndarray, shape (n_samples,), entries ±1 in the input dtype
    Z : scipy.sparse.csr_matrix, shape (n_samples, n_features)
        The hidden codes z (kept sparse: about k non-zeros per row).
    """

    X: np.ndarray | None
    y: np.ndarray
    Z: sp.csr_matrix

    def __len__(self) -> int:
        return self.y.shape[0]


class SparseCodingProblem:
    """Dictionary M, label direction w*, and a sampler of (x, y, z).

    Parameters
    ----------
    config : DataConfig
    rng : numpy.random.Generator
        Draws M and w* (the ``problem`` stream).
    dtype : numpy dtype of the samples (float64 or float32).
    """

    def __init__(self, config: DataConfig, rng: np.random.Generator, dtype=np.float64):
        self.config = config
        self.dtype = np.dtype(dtype)
        d, D = config.input_dim, config.dictionary_size
        if D == d:
            # Haar-random orthogonal dictionary (d = 1 is the sign ±1)
            M = ortho_group.rvs(d, random_state=rng) if d > 1 else rng.choice([-1.0, 1.0], (1, 1))
        else:
            # overcomplete, incoherent: unit-norm random columns
            M = rng.standard_normal((d, D))
            M /= np.linalg.norm(M, axis=0, keepdims=True)
        self.M = np.ascontiguousarray(M, dtype=self.dtype)
        self.w_star = rng.choice(np.array([-1.0, 1.0]), size=D).astype(self.dtype)

    @classmethod
    def from_arrays(cls, config: DataConfig, M: np.ndarray, w_star: np.ndarray, dtype=np.float64):
        """Rebuild a problem from saved M and w* (for example from ``weights.npz``)."""
        obj = cls.__new__(cls)
        obj.config = config
        obj.dtype = np.dtype(dtype)
        obj.M = np.ascontiguousarray(M, dtype=obj.dtype)
        obj.w_star = np.ascontiguousarray(w_star, dtype=obj.dtype)
        if obj.M.shape != (config.input_dim, config.dictionary_size):
            raise ValueError(f"M has shape {obj.M.shape}; the config needs "
                             f"{(config.input_dim, config.dictionary_size)}.")
        return obj

    # ------------------------------------------------------------------------------------
    @property
    def label_direction(self) -> np.ndarray:
        """M w* in input space, shape (input_dim,): the direction of the dense attack."""
        return self.M @ self.w_star

    def _active_positions(self, n_rows: int, rng: np.random.Generator):
        """Row and column of every non-zero of an (n_rows, D) i.i.d. Bernoulli(k/D) mask.

        Drawn as geometric gaps between successive non-zeros of the flattened mask: exactly
        the same law as one uniform per cell, at O(n_rows·k) draws instead of O(n_rows·D).
        """
        D = self.config.dictionary_size
        p = self.config.activation_prob
        total = n_rows * D
        if p >= 1.0:
            pos = np.arange(total)
        else:
            mean = total * p
            chunks, last = [], -1
            while last < total - 1:
                gaps = rng.geometric(p, size=int(mean + 6.0 * np.sqrt(mean) + 16))
                # a gap past the end ends the mask whatever its size; capping it keeps the
                # cumulative sum from wrapping round int64 when p is tiny (numpy saturates
                # such gaps at 2⁶³ − 1), which made ``last`` negative and the loop endless
                np.minimum(gaps, total + 1, out=gaps)
                pos = last + np.cumsum(gaps)
                chunks.append(pos)
                last = int(pos[-1])
            pos = np.concatenate(chunks)
            pos = pos[:np.searchsorted(pos, total)]
        return pos // D, pos % D

    def _draw_codes(self, n: int, rng: np.random.Generator) -> sp.csr_matrix:
        cfg = self.config
        D = cfg.dictionary_size
        rows, cols, vals = [], [], []
        need = n
        got = 0
        drawn = 0  # codes drawn so far, for the acceptance rate
        rounds = 0
        while need > 0:
            if drawn >= MIN_DRAWS_FOR_RATE and got < MIN_ACCEPTANCE * drawn:
                raise self._acceptance_error(got, drawn)
            if rounds >= MAX_REDRAW_ROUNDS:
                raise ConfigError(
                    f"The margin rejection of the data model gave {got} of {n} samples after "
                    f"{rounds} redraw rounds ({drawn} codes drawn, acceptance "
                    f"{got / max(drawn, 1):.3g}); the cap is {MAX_REDRAW_ROUNDS} rounds. Lower "
                    f"data.margin (got {cfg.margin!r}) or raise data.sparsity (got {cfg.sparsity!r}).")
            rounds += 1
            # draw a little more than needed: the rejection rate is small and known only
            # empirically, so loop until enough samples pass the margin
            m = max(int(need * 1.2) + 8, 16)
            r, c = self._active_positions(m, rng)
            v = self._draw_values(r.size, rng)
            s = np.bincount(r, weights=v * self.w_star[c], minlength=m)
            keep = np.abs(s) >= cfg.margin
            keep_idx = np.flatnonzero(keep)[:need]
            new_row = -np.ones(m, dtype=np.int64)
            new_row[keep_idx] = np.arange(got, got + keep_idx.size)
            sel = new_row[r] >= 0
            rows.append(new_row[r[sel]])
            cols.append(c[sel])
            vals.append(v[sel])
            got += keep_idx.size
            need -= keep_idx.size
            drawn += m
        Z = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, D))
        Z.sort_indices()
        return Z

    def _acceptance_error(self, got: int, drawn: int) -> ConfigError:
        """The refusal of a data model whose margin rejection accepts too few codes."""
        cfg = self.config
        p_empty = (1.0 - cfg.activation_prob) ** cfg.dictionary_size
        return ConfigError(
            f"The data model accepts too few codes: {got} of {drawn} drawn codes had "
            f"|⟨w*, z⟩| ≥ data.margin = {cfg.margin!r} (estimated acceptance rate "
            f"{got / drawn:.3g}; the limit is {MIN_ACCEPTANCE:g}). With data.sparsity = "
            f"{cfg.sparsity!r} a code has about {cfg.sparsity:g} active features (none with "
            f"probability {p_empty:.3g}) with values of the {cfg.value_law!r} law, so "
            f"|⟨w*, z⟩| rarely reaches the margin. Lower data.margin or raise data.sparsity.")

    def _draw_values(self, size: int, rng: np.random.Generator) -> np.ndarray:
        law = self.config.value_law
        sign = rng.choice(np.array([-1.0, 1.0]), size=size)
        if law == "sign":
            return sign
        if law == "uniform":  # magnitude uniform on [1/2, 1]: bounded away from 0
            return sign * rng.uniform(0.5, 1.0, size=size)
        return rng.standard_normal(size)  # 'gaussian'

    def _check_n(self, n, method: str) -> int:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"The 'n' parameter of SparseCodingProblem.{method} must be an int "
                             f"in the range [1, inf). Got {n!r} instead.")
        return int(n)

    def sample_codes(self, n: int, rng: np.random.Generator) -> Batch:
        """Draw ``n`` codes and labels without forming x (``X`` is None).

        Draws the same random numbers as :meth:`sample` up to the noise, so with σ = 0 the
        two give the same samples from the same generator state: the feature-coordinate
        path (x = M z exactly) trains on the very data the dense path would.
        """
        Z = self._draw_codes(self._check_n(n, "sample_codes"), rng)
        y = np.sign(Z @ self.w_star.astype(np.float64))
        return Batch(X=None, y=np.ascontiguousarray(y, dtype=self.dtype), Z=Z)

    def sample(self, n: int, rng: np.random.Generator) -> Batch:
        """Draw ``n`` i.i.d. samples.

        Returns
        -------
        Batch with X (n, input_dim), y (n,), Z (n, n_features) sparse.
        """
        Z = self._draw_codes(self._check_n(n, "sample"), rng)
        # x = M z in the sample dtype: k terms per entry, so float32 loses nothing that
        # the float32 network would keep, and the product is half the memory traffic
        X = np.asarray(Z.astype(self.dtype) @ self._MT)
        if self.config.noise > 0:
            xi = rng.standard_normal(X.shape, dtype=self.dtype)
            xi *= self.dtype.type(self.config.noise / np.sqrt(self.config.input_dim))
            X += xi
        y = np.sign(Z @ self.w_star.astype(np.float64))
        return Batch(X=np.ascontiguousarray(X, dtype=self.dtype),
                     y=np.ascontiguousarray(y, dtype=self.dtype), Z=Z)

    @property
    def _MT(self) -> np.ndarray:
        """Mᵀ, shape (n_features, input_dim), contiguous, cached (M never changes)."""
        MT = self.__dict__.get("_MT_cache")
        if MT is None:
            MT = self.__dict__["_MT_cache"] = np.ascontiguousarray(self.M.T)
        return MT

    def feature_coefficients(self, W: np.ndarray) -> np.ndarray:
        """Feature profiles c_i of the rows of W: Mᵀ w_i (D = d) or least squares (D > d).

        Parameters
        ----------
        W : ndarray, shape (width, input_dim)

        Returns
        -------
        C : ndarray, shape (width, n_features)
        """
        W = np.asarray(W, dtype=np.float64)
        M = self.M.astype(np.float64)
        if self.config.unitary:
            return W @ M
        # minimum-norm least-squares coefficients: c = Mᵀ (M Mᵀ)⁻¹ w
        return np.linalg.lstsq(M, W.T, rcond=None)[0].T
