"""Install and verify offline data with the ordinary package client (no URL downloads).

Fashion-MNIST ships as the Debian package ``dataset-fashion-mnist``.  ``apt-get download``
fetches the .deb into a temporary folder (no root needed once the package lists exist) and
``dpkg -x`` unpacks it into the data folder; the idx files land in
``DEST/usr/share/datasets/fashion-mnist``, where :func:`~simulator.realdata.loaders.find_fashion_mnist`
looks.  Verification reads the files back and checks what the data set's authors publish:
60,000 + 10,000 images of 28×28, the first ten training labels, the mean training pixel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .loaders import FASHION_MNIST_FILES, DataMissingError, find_fashion_mnist, read_idx

DEBIAN_PACKAGE = "dataset-fashion-mnist"
# facts of the published data set (zalandoresearch/fashion-mnist)
EXPECTED = {
    "train_images": (60000, 28, 28),
    "train_labels": (60000,),
    "test_images": (10000, 28, 28),
    "test_labels": (10000,),
}
FIRST_TRAIN_LABELS = (9, 0, 0, 3, 0, 2, 7, 2, 5, 5)
TRAIN_PIXEL_MEAN = 0.2860  # mean of the training images scaled to [0, 1] (0.28604 measured)
TRAIN_PIXEL_MEAN_TOL = 5e-4


class FetchError(RuntimeError):
    """The package client failed; the message carries its output."""


def verify_fashion_mnist(folder: str | Path) -> dict:
    """Read the four idx files in ``folder`` and check shapes, counts, first labels and mean.

    Returns
    -------
    dict of the measured facts (shapes, first labels, pixel mean, label counts)

    Raises
    ------
    ValueError naming the first fact that does not match.
    """
    folder = Path(folder)
    a = {k: read_idx(folder / f) for k, f in FASHION_MNIST_FILES.items()}
    for k, shape in EXPECTED.items():
        if a[k].shape != shape:
            raise ValueError(f"Fashion-MNIST {FASHION_MNIST_FILES[k]} in {folder} has shape "
                             f"{a[k].shape}; expected {shape}.")
    first = tuple(int(v) for v in a["train_labels"][:10])
    if first != FIRST_TRAIN_LABELS:
        raise ValueError(f"Fashion-MNIST's first training labels are {first}; expected "
                         f"{FIRST_TRAIN_LABELS}.")
    mean = float(a["train_images"].mean(dtype=np.float64) / 255.0)
    if abs(mean - TRAIN_PIXEL_MEAN) > TRAIN_PIXEL_MEAN_TOL:
        raise ValueError(f"Fashion-MNIST's mean training pixel is {mean:.5f}; expected "
                         f"{TRAIN_PIXEL_MEAN} ± {TRAIN_PIXEL_MEAN_TOL}.")
    counts = {k: np.bincount(a[k], minlength=10).tolist() for k in ("train_labels", "test_labels")}
    if any(c != [len(a[k]) // 10] * 10 for k, c in counts.items()):
        raise ValueError(f"Fashion-MNIST's classes are not balanced: {counts}.")
    return {"folder": str(folder), "shapes": {k: list(v.shape) for k, v in a.items()},
            "first_train_labels": list(first), "train_pixel_mean": mean, "label_counts": counts}


def _run(cmd, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def fetch_fashion_mnist(dest: str | Path, *, force: bool = False, log=print) -> dict:
    """Make Fashion-MNIST available under ``dest`` and verify it.

    Uses the copy already found (``dest``, $FPSIM_DATA, ~/.cache/fpsim or the system-wide
    package) unless ``force``; otherwise ``apt-get download dataset-fashion-mnist`` then
    ``dpkg -x`` into ``dest``.  When the download fails for want of package lists and we run
    as root (CI), runs ``apt-get update`` once and retries.

    Returns
    -------
    dict from :func:`verify_fashion_mnist`, plus ``"fetched"``: whether the package was
    downloaded now.
    """
    dest = Path(dest)
    found = None if force else find_fashion_mnist(dest)
    if found is not None:
        log(f"Fashion-MNIST found in {found}")
        return verify_fashion_mnist(found) | {"fetched": False}
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise FetchError(f"`{tool}` is not on PATH: fpsim data fetch fashion-mnist needs "
                             f"Debian's package tools (apt-get download, dpkg -x).")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fpsim-fetch-") as tmp:
        log(f"apt-get download {DEBIAN_PACKAGE}")
        r = _run(["apt-get", "download", DEBIAN_PACKAGE], cwd=tmp)
        if r.returncode != 0 and hasattr(os, "geteuid") and os.geteuid() == 0:
            log("apt-get download failed; running apt-get update once and retrying")
            _run(["apt-get", "update"])
            r = _run(["apt-get", "download", DEBIAN_PACKAGE], cwd=tmp)
        debs = sorted(Path(tmp).glob(f"{DEBIAN_PACKAGE}_*.deb"))
        if r.returncode != 0 or not debs:
            raise FetchError(f"`apt-get download {DEBIAN_PACKAGE}` failed (exit {r.returncode}): "
                             f"{(r.stderr or r.stdout).strip()[-500:]} — run `apt-get update` "
                             f"(as root) first if the package lists are missing.")
        log(f"dpkg -x {debs[0].name} {dest}")
        r = _run(["dpkg", "-x", str(debs[0]), str(dest)])
        if r.returncode != 0:
            raise FetchError(f"`dpkg -x` failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
    found = find_fashion_mnist(dest)
    if found is None:
        raise DataMissingError(f"{DEBIAN_PACKAGE} unpacked into {dest} but its idx files are not "
                               f"where expected ({dest}/usr/share/datasets/fashion-mnist).")
    return verify_fashion_mnist(found) | {"fetched": True}
