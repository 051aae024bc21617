"""A binary image task with the sampler interface the training drivers read.

:func:`simulator.training.train_clean` / :func:`~simulator.training.train_adversarial` need
only ``problem.sample(n, rng) -> Batch(X, y)`` once ``train.feature_path`` is ``'off'`` (the
feature-coordinate path reads ``problem.M`` and ``problem.config.noise``, which images do not
have; :func:`simulator.realdata.experiment.real_train_config` always turns it off).
:func:`simulator.lower_bounds.linear.fit_linear` also reads ``problem.config.input_dim``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import Batch
from .loaders import ImageData


@dataclass(frozen=True)
class TaskInfo:
    """What drivers read from ``problem.config``: the input dimension (pixels)."""

    input_dim: int


class ImageTask:
    """Two groups of classes of an image data set, labelled −1 / +1, pixels scaled to [0, 1].

    Centring (``center=True``) subtracts the mean training image: a translation, so radii
    stay in pixel units, and the odd network f(−x) = −f(x) (no bias) then sees inputs
    symmetric about 0, as the synthetic model's are.

    Parameters
    ----------
    data : ImageData
    negative, positive : tuples of class indices labelled −1 and +1
    center : subtract the mean training image
    dtype : sample dtype (the network's)

    Attributes
    ----------
    X_train, y_train, X_test, y_test : ndarrays (n, input_dim) / (n,), scaled (and centred)
    mean_image : ndarray (input_dim,), subtracted from every input (zeros when not centred)
    """

    def __init__(self, data: ImageData, negative, positive, *, center=True, dtype=np.float32):
        negative, positive = tuple(int(c) for c in negative), tuple(int(c) for c in positive)
        n_classes = len(data.class_names)
        bad = [c for c in negative + positive if not 0 <= c < n_classes]
        if bad or not negative or not positive or set(negative) & set(positive):
            raise ValueError(f"The 'classes' parameter of ImageTask must name two disjoint, "
                             f"non-empty groups of classes in [0, {n_classes}). Got "
                             f"{list(negative)} vs {list(positive)} instead.")
        self.data_name = data.name
        self.negative, self.positive = negative, positive
        self.image_shape = data.image_shape
        self.class_names = data.class_names
        self.dtype = np.dtype(dtype)
        self.center = bool(center)

        def pick(X, y):
            keep = np.isin(y, negative + positive)
            return X[keep].astype(np.float64) / data.max_value, np.where(np.isin(y[keep], positive), 1.0, -1.0)

        Xtr, ytr = pick(data.X_train, data.y_train)
        Xte, yte = pick(data.X_test, data.y_test)
        self.mean_image = Xtr.mean(axis=0) if center else np.zeros(Xtr.shape[1])
        self.X_train = np.ascontiguousarray(Xtr - self.mean_image, dtype=self.dtype)
        self.X_test = np.ascontiguousarray(Xte - self.mean_image, dtype=self.dtype)
        self.y_train = ytr.astype(self.dtype)
        self.y_test = yte.astype(self.dtype)
        self.config = TaskInfo(input_dim=self.X_train.shape[1])

    @property
    def input_dim(self) -> int:
        return self.X_train.shape[1]

    @property
    def name(self) -> str:
        neg = "+".join(self.class_names[c] for c in self.negative)
        pos = "+".join(self.class_names[c] for c in self.positive)
        return f"{self.data_name}: {neg} (−1) vs {pos} (+1)"

    @property
    def label_direction(self) -> np.ndarray:
        """Difference of the class means (+1 minus −1), shape (input_dim,): the images'
        counterpart of M w*, the direction of the ensemble's dense attack."""
        pos = self.y_train > 0
        return (self.X_train[pos].mean(axis=0, dtype=np.float64)
                - self.X_train[~pos].mean(axis=0, dtype=np.float64))

    def sample(self, n: int, rng: np.random.Generator) -> Batch:
        """``n`` training images drawn uniformly (without replacement when n ≤ n_train).

        A fresh minibatch every call: the online setting of the drivers, over the finite set.
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"The 'n' parameter of ImageTask.sample must be an int in the range "
                             f"[1, inf). Got {n!r} instead.")
        N = len(self.y_train)
        idx = rng.choice(N, size=int(n), replace=n > N)
        return Batch(X=self.X_train[idx], y=self.y_train[idx], Z=None)

    def test_batch(self, n: int | None, rng: np.random.Generator | None = None) -> Batch:
        """The test split (all of it, or ``n`` images drawn without replacement)."""
        if n is None or n >= len(self.y_test):
            return Batch(X=self.X_test, y=self.y_test, Z=None)
        idx = np.sort(rng.choice(len(self.y_test), size=n, replace=False))
        return Batch(X=self.X_test[idx], y=self.y_test[idx], Z=None)

    def to_pixels(self, X: np.ndarray) -> np.ndarray:
        """Undo the centring: images in [0, 1] pixel units (for figures)."""
        return np.asarray(X, np.float64) + self.mean_image
