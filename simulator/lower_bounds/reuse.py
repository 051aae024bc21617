"""Reusing a clean fit as the first phase of an adversarial fit, with an identical result.

The polynomial machines and the NTK are trained adversarially *from their clean fit*, and the
clean fit does not depend on the norm of the adversarial ball.  A run that needs the clean
model and the adversarial models of both norms would repeat the same clean phase three
times.  Instead, the fit functions record, on every model they train, what determines its
clean phase — the problem, the state of the data generator when the fit started, the
arguments of the clean phase and (for the NTK) W0 — and accept the clean model back
(``clean=``): they check that the record matches what the clean phase would be now, then
skip it.  A mismatch raises rather than silently training something else.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np


def digest(*arrays) -> str:
    """A content hash of arrays (dtype, shape and bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def clean_record(problem, rng: np.random.Generator, **args) -> dict:
    """What determines a clean phase that starts now, drawing its data from ``rng``."""
    return {"problem": (problem.config, digest(problem.M, problem.w_star)),
            "rng_start": copy.deepcopy(rng.bit_generator.state), **args}


def check_clean(clean, record: dict, owner: str, model_type) -> None:
    """Raise ValueError unless ``clean`` was trained with exactly the clean phase ``record``."""
    got = getattr(clean, "clean_record", None)
    if not isinstance(clean, model_type) or got is None:
        raise ValueError(f"The 'clean' parameter of {owner} must be a {model_type.__name__} "
                         f"trained by {owner}. Got {type(clean).__name__} instead.")
    differ = sorted(k for k in record.keys() | got.keys() if record.get(k) != got.get(k))
    if differ:
        raise ValueError(f"The 'clean' parameter of {owner} must come from the clean phase this "
                         f"fit would run. Got a model whose clean phase differs in: "
                         f"{', '.join(differ)}.")
