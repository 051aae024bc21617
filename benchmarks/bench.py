"""Speed of the training and attack steps: the same run as ``fpsim bench`` (issue 6).

    python benchmarks/bench.py [--out FILE] [--quick] [--repeats N] [--threads N] [--no-torch]

The measuring code is benchmarks/speed.py (and benchmarks/torch_peer.py for the PyTorch peer,
``pip install -e '.[bench]'``); results and how to read them: benchmarks/RESULTS.md.  Prints
one JSON object.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
