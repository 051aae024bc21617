"""Argument validation for public functions, in the spirit of scikit-learn's ``validate_params``.

Configs check their fields against a constraint table (:mod:`simulator.config`); public
functions use the same constraint objects (``Interval``, ``OneOf``, ``TupleOf``, ``bool``) and
the same message, which names the parameter, its owner, the allowed set and the value
received::

    The 'norm' parameter of certified_margin must be one of {'l2', 'linf'}. Got 'l1' instead.

Two forms: :func:`validate_params` decorates a function with a table of its parameters (for
functions that are not on a hot path), :func:`check_param` checks one value where it is used.
Errors are :class:`~simulator.config.ConfigError` (a ``ValueError``); the command line turns
them into exit code 2.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping

from .config import ConfigError, Interval, OneOf, TupleOf, _check

__all__ = ["ConfigError", "Interval", "OneOf", "TupleOf", "check_param", "validate_params",
           "RADIUS", "POSITIVE_RADIUS", "SEED"]

# constraints shared by many functions
RADIUS = Interval("float", 0, None)  # a ball radius, in its own norm
POSITIVE_RADIUS = Interval("float", 0, None, closed="neither")
SEED = Interval("int", 0, None)


def check_param(owner: str, name: str, value: Any, constraint) -> Any:
    """Check ``value`` against ``constraint`` and return it normalised (ints, floats, tuples).

    Raises
    ------
    ConfigError naming ``name``, ``owner``, the allowed set and ``value``.
    """
    return _check(owner, name, value, constraint, None)


def validate_params(constraints: Mapping[str, Any], *, owner: str | None = None) -> Callable:
    """Decorator: check the named parameters of every call against ``constraints``.

    Parameters
    ----------
    constraints : parameter name -> constraint; parameters not listed are passed through
    owner : the name in error messages (default: the function's name)
    """
    def decorate(fn):
        sig = inspect.signature(fn)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:  # a programming error, caught at import
            raise TypeError(f"validate_params: {fn.__name__} has no parameter(s) {sorted(unknown)}")
        who = owner or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            for name, c in constraints.items():
                if name in bound.arguments:
                    bound.arguments[name] = check_param(who, name, bound.arguments[name], c)
            return fn(*bound.args, **bound.kwargs)

        wrapper.parameter_constraints = dict(constraints)
        return wrapper

    return decorate
