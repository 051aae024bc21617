"""Independent, named random streams derived from one seed.

Each stream is ``np.random.default_rng([seed, STREAM_ID])``: adding a stream never shifts
the numbers drawn by the others, and no code touches numpy's global random state.
"""

from __future__ import annotations

import numpy as np

STREAMS = {
    "problem": 1,  # the dictionary M and the label direction w*
    "init": 2,  # the network's initial weights
    "train_data": 3,  # clean-training batches / the finite training set
    "adv_data": 4,  # adversarial-training batches
    "test_data": 5,  # the test set
    "attack": 6,  # random starts of attacks, during training and evaluation
    "lower_bounds": 7,  # lower-bound models (their own inits and data)
    "monitor_data": 8,  # the held-out set a stopping rule watches (simulator.stopping)
}


def stream(seed: int, name: str) -> np.random.Generator:
    """Return the generator of the named stream for ``seed``."""
    if not isinstance(name, str) or name not in STREAMS:
        from .validation import OneOf, check_param

        check_param("stream", "name", name, OneOf(tuple(STREAMS)))
    return np.random.default_rng([int(seed), STREAMS[name]])
