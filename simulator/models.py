"""The registry of model kinds: every model fpsim trains or evaluates, listed once.

Each :class:`ModelKind` says which family it belongs to (the network of docs/model.md, or a
lower-bound model of claim 3), which network training phases it needs, the names its result
rows carry, and how it is certified.  Grids, sweep cells, the pipeline and the theorem checks
read this table; nothing else lists model names.

=================  ===========  ==========================================================
kind               rows         model
=================  ===========  ==========================================================
``ideal``          ideal        one neuron per feature, w_j = w*_j·M_j (the reference)
``clean``          clean        the network after clean training
``adversarial``    adversarial  the network after FGM/PGD training from the clean weights
``linear``         linear_*     logistic regression, clean and exact-robust training
``linear_oracle``  linear_oracle  w = M w*, the best linear classifier (not trained)
``poly2/poly3``    poly2_*, …   degree-2/3 polynomial-kernel machines, clean and adversarial
``poly``           poly_*       the same with degree ``LowerBoundConfig.poly_degree``
``ntk``            ntk_*        the network linearised at its initialisation, clean and FGM
=================  ===========  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rng import STREAMS


@dataclass(frozen=True)
class ModelKind:
    """One kind of model.

    Attributes
    ----------
    kind : the name used in grids, cells and :func:`simulator.pipeline.build_models`
    family : 'network' (the paper's network) or 'lower_bound' (claim 3)
    needs : network training phases this kind needs ('clean', 'adversarial')
    rows : names of its evaluated models (a lower-bound kind trained both ways gives two)
    certifier : 'relaxation' (sound lower bound, :mod:`simulator.certification`), 'exact'
        (closed form: linear models) or None
    """

    kind: str
    family: str
    needs: tuple = ()
    rows: tuple = ()
    certifier: str | None = None


MODEL_KINDS = {k.kind: k for k in (
    ModelKind("ideal", "network", (), ("ideal",), "relaxation"),
    ModelKind("clean", "network", ("clean",), ("clean",), "relaxation"),
    ModelKind("adversarial", "network", ("clean", "adversarial"), ("adversarial",), "relaxation"),
    ModelKind("linear", "lower_bound", (), ("linear_clean", "linear_adv"), "exact"),
    ModelKind("linear_oracle", "lower_bound", (), ("linear_oracle",), "exact"),
    ModelKind("poly2", "lower_bound", (), ("poly2_clean", "poly2_adv")),
    ModelKind("poly3", "lower_bound", (), ("poly3_clean", "poly3_adv")),
    ModelKind("ntk", "lower_bound", (), ("ntk_clean", "ntk_adv")),
    # degree LowerBoundConfig.poly_degree (poly2/poly3 fix it)
    ModelKind("poly", "lower_bound", (), ("poly_clean", "poly_adv")),
)}

NETWORK_MODELS = tuple(k for k, v in MODEL_KINDS.items() if v.family == "network")
LOWER_BOUND_MODELS = tuple(k for k, v in MODEL_KINDS.items() if v.family == "lower_bound")
MODELS = NETWORK_MODELS + LOWER_BOUND_MODELS

# Sub-stream of ``attack`` per evaluated row model (sweep cells): append only, never renumber,
# so that a model's results do not depend on which other models a cell evaluates.
EVAL_IDS = {
    "ideal": 1, "clean": 2, "adversarial": 3, "linear_oracle": 4,
    "linear_clean": 5, "linear_adv": 6, "poly2_clean": 7, "poly2_adv": 8,
    "poly3_clean": 9, "poly3_adv": 10, "ntk_clean": 11, "ntk_adv": 12,
    "poly_clean": 13, "poly_adv": 14,
}


def kind_of_row(name: str) -> ModelKind:
    """The kind that produces the row model ``name`` (e.g. 'poly2_adv' -> poly2)."""
    for k in MODEL_KINDS.values():
        if name in k.rows:
            return k
    raise KeyError(name)


def row_names(kinds) -> list[str]:
    """The model names in the rows of ``kinds``, in order."""
    return [name for k in kinds for name in MODEL_KINDS[k].rows]


def needed_phases(kinds) -> tuple:
    """The network training phases that ``kinds`` need, in training order."""
    need = {p for k in kinds for p in MODEL_KINDS[k].needs}
    return tuple(p for p in ("clean", "adversarial") if p in need)


def per_model_attack_rng(seed: int, name: str) -> np.random.Generator:
    """The attack generator of one evaluated model: ``[seed, attack, model id]``."""
    return np.random.default_rng([int(seed), STREAMS["attack"], EVAL_IDS[name]])
