"""A dense-mixture measure that needs no w*: neurons coded in a dictionary learned from images.

The synthetic model measures each neuron against the known dictionary M (feature profile
c_i = Mᵀ w_i).  Real images have no known M, so we learn one from the training images
(scikit-learn's :class:`~sklearn.decomposition.MiniBatchDictionaryLearning`: unit-norm atoms
whose sparse combinations rebuild the images) and code each neuron in it:

* c_i : least-squares coefficients of w_i on the atoms (the atoms are fewer than the pixels,
  so they are unique), shape (n_atoms,);
* purity max_j |c_ij| / ‖c_i‖ and the participation ratio of the residual c_i⁽⁻ˢ⁾ (its s
  largest entries zeroed), as :mod:`simulator.metrics` defines them for the synthetic model;
* label-mixture share |⟨c_i⁽⁻ˢ⁾, c_μ⟩| / (‖c_μ‖·‖c_i‖) with c_μ the coefficients of the
  class-mean difference: the counterpart of the dense-mixture share with M w* replaced by
  the data's own label direction;
* off-dictionary share ‖w_i − Σ_j c_ij a_j‖ / ‖w_i‖: the part of the neuron outside the span
  of every image feature learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import participation_ratio, purity, residual


@dataclass(frozen=True)
class Dictionary:
    """Learned atoms and what the ensemble's feature attack needs from them.

    Attributes
    ----------
    atoms : ndarray (n_atoms, input_dim), unit rows
    label_coefficients : ndarray (n_atoms,), least-squares coefficients of the label direction
    label_direction_vector : ndarray (input_dim,), class-mean difference
    n_nonzero : atoms per image in the sparse codes of test images (feature attack)
    """

    atoms: np.ndarray
    label_coefficients: np.ndarray
    label_direction_vector: np.ndarray
    n_nonzero: int

    # -- the three names robust_accuracy_table reads from its ``problem`` argument --------
    @property
    def M(self) -> np.ndarray:
        """Atoms as columns, shape (input_dim, n_atoms)."""
        return self.atoms.T

    @property
    def w_star(self) -> np.ndarray:
        """sign of each atom's label coefficient, shape (n_atoms,): which way an atom votes."""
        s = np.sign(self.label_coefficients)
        return np.where(s == 0, 1.0, s)

    @property
    def label_direction(self) -> np.ndarray:
        return self.label_direction_vector

    def coefficients(self, W: np.ndarray) -> np.ndarray:
        """Least-squares coefficients of the rows of W on the atoms, shape (n_rows, n_atoms)."""
        return np.linalg.lstsq(self.atoms.T, np.asarray(W, np.float64).T, rcond=None)[0].T

    def codes(self, X: np.ndarray):
        """Sparse codes (OMP, ``n_nonzero`` atoms) of the images X, as a CSR matrix
        (n_samples, n_atoms): the 'active features' of each test image."""
        import scipy.sparse as sp
        from sklearn.decomposition import sparse_encode

        C = sparse_encode(np.asarray(X, np.float64), self.atoms, algorithm="omp",
                          n_nonzero_coefs=self.n_nonzero)
        return sp.csr_matrix(C)


def fit_dictionary(X: np.ndarray, label_direction: np.ndarray, *, n_atoms: int, alpha: float,
                   n_nonzero: int, max_images: int, rng: np.random.Generator,
                   max_iter: int = 20) -> Dictionary:
    """Learn unit-norm atoms from (at most ``max_images``) training images.

    Parameters
    ----------
    X : ndarray (n_images, input_dim), the (centred) training images
    label_direction : ndarray (input_dim,), class-mean difference
    n_atoms, alpha : size of the dictionary and the ℓ1 weight of the sparse codes
    n_nonzero : atoms per test image in the feature attack's codes
    max_images : subsample size (the fit is O(images · atoms · pixels) per pass)
    rng : draws the subsample and the learner's seed
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning

    X = np.asarray(X, np.float64)
    if len(X) > max_images:
        X = X[np.sort(rng.choice(len(X), size=max_images, replace=False))]
    learner = MiniBatchDictionaryLearning(
        n_components=n_atoms, alpha=alpha, batch_size=256, max_iter=max_iter,
        random_state=int(rng.integers(2**31 - 1)), transform_algorithm="omp")
    atoms = learner.fit(X).components_.astype(np.float64)
    atoms /= np.maximum(np.linalg.norm(atoms, axis=1, keepdims=True), 1e-300)
    u = np.asarray(label_direction, np.float64)
    cu = np.linalg.lstsq(atoms.T, u, rcond=None)[0]
    return Dictionary(atoms=atoms, label_coefficients=cu, label_direction_vector=u,
                      n_nonzero=int(n_nonzero))


def dictionary_neuron_table(dictionary: Dictionary, W: np.ndarray, skip: int = 1) -> dict:
    """Per-neuron measures of one weight matrix in the learned dictionary (columns of arrays)."""
    W = np.asarray(W, np.float64)
    C = dictionary.coefficients(W)
    R = residual(C, skip)
    cu = dictionary.label_coefficients
    norm_c = np.linalg.norm(C, axis=1)
    label_share = np.abs(R @ cu) / np.maximum(np.linalg.norm(cu) * norm_c, 1e-300)
    off = np.linalg.norm(W - C @ dictionary.atoms, axis=1) / np.maximum(np.linalg.norm(W, axis=1), 1e-300)
    return {
        "top_atom": np.abs(C).argmax(axis=1),
        "purity": purity(C),
        "residual_participation": participation_ratio(R),
        "label_mixture_share": label_share,
        "off_dictionary_share": off,
    }
