"""The sparse-coding data model x = M z + ξ, y = sign(⟨w*, z⟩) (MODEL.md, "Data").

A :class:`SparseCodingProblem` holds the fixed parts of the model (the dictionary M and the
label direction w*) and draws samples from them.  Sampling is exact: every z_j is non-zero
independently with probability k/D, and samples with |⟨w*, z⟩| < margin are redrawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.stats import ortho_group

from .config import DataConfig


@dataclass(frozen=True)
class Batch:
    """A batch of samples.

    Attributes
    ----------
    X : ndarray, shape (n_samples, input_dim)
    y : ndarray, shape (n_samples,), entries ±1 in the input dtype
    Z : scipy.sparse.csr_matrix, shape (n_samples, n_features)
        The hidden codes z (kept sparse: about k non-zeros per row).
    """

    X: np.ndarray
    y: np.ndarray
    Z: sp.csr_matrix

    def __len__(self) -> int:
        return self.X.shape[0]


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

    def _draw_codes(self, n: int, rng: np.random.Generator) -> sp.csr_matrix:
        cfg = self.config
        D = cfg.dictionary_size
        p = cfg.activation_prob
        rows, cols, vals = [], [], []
        need = n
        got = 0
        while need > 0:
            # draw a little more than needed: the rejection rate is small and known only
            # empirically, so loop until enough samples pass the margin
            m = max(int(need * 1.2) + 8, 16)
            mask = rng.random((m, D)) < p
            r, c = np.nonzero(mask)
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
        Z = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, D))
        Z.sort_indices()
        return Z

    def _draw_values(self, size: int, rng: np.random.Generator) -> np.ndarray:
        law = self.config.value_law
        sign = rng.choice(np.array([-1.0, 1.0]), size=size)
        if law == "sign":
            return sign
        if law == "uniform":  # magnitude uniform on [1/2, 1]: bounded away from 0
            return sign * rng.uniform(0.5, 1.0, size=size)
        return rng.standard_normal(size)  # 'gaussian'

    def sample(self, n: int, rng: np.random.Generator) -> Batch:
        """Draw ``n`` i.i.d. samples.

        Returns
        -------
        Batch with X (n, input_dim), y (n,), Z (n, n_features) sparse.
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"The 'n' parameter of SparseCodingProblem.sample must be an int "
                             f"in the range [1, inf). Got {n!r} instead.")
        Z = self._draw_codes(int(n), rng)
        X = np.asarray(Z @ self.M.T.astype(np.float64))
        if self.config.noise > 0:
            # drawn in the sample dtype: float32 draws are about twice as fast
            noise_dtype = np.float32 if self.dtype == np.float32 else np.float64
            xi = rng.standard_normal(X.shape, dtype=noise_dtype)
            xi *= noise_dtype(self.config.noise / np.sqrt(self.config.input_dim))
            X += xi
        y = np.sign(Z @ self.w_star.astype(np.float64))
        return Batch(X=np.ascontiguousarray(X, dtype=self.dtype),
                     y=np.ascontiguousarray(y, dtype=self.dtype), Z=Z)

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
