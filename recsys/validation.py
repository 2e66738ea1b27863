"""Checks every model and routine shares: hyperparameter numbers, evaluation sets, seeds.

Seeds follow one convention everywhere (SPEC 7, as LensKit and scikit-learn): a ``seed``
argument is an ``int >= 0``, a :class:`numpy.random.Generator` (used as it is, so successive
calls draw on from its state), or ``None`` (fresh OS entropy); :func:`as_generator` turns it
into a Generator once, at the start of ``fit``.
"""

from __future__ import annotations

import numpy as np

from recsys.dataset import Dataset

__all__ = ["check_number", "check_choice", "check_seed", "as_generator", "eval_triples"]


def check_number(name: str, value, low: float, *, integer: bool = False,
                 strict: bool = False, high: float | None = None) -> None:
    """Raise ValueError unless ``value`` is a (integer) number >= ``low`` (> when strict)
    and, when ``high`` is given, <= ``high``. Booleans are refused."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, "
                         f"got {value!r}")
    if not np.isfinite(value) or value < low or (strict and value == low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    """Raise ValueError unless ``value`` is one of ``choices`` (listed in the message)."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; "
                         f"got {value!r}")


def check_seed(seed) -> None:
    """Raise ValueError unless ``seed`` is an int >= 0, a numpy Generator or None."""
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, a numpy.random.Generator or None, "
                         f"got {seed!r}")


def as_generator(seed) -> np.random.Generator:
    """The Generator a ``seed`` argument stands for (the same object when it is one)."""
    check_seed(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def eval_triples(train, eval_set):
    """(users, items, ratings) of ``eval_set`` for per-epoch RMSE, or None without one.

    ``eval_set`` must be a Dataset sharing ``train``'s id maps (as every split of
    :mod:`recsys.split` makes them).
    """
    if eval_set is None:
        return None
    if not isinstance(eval_set, Dataset):
        raise TypeError(f"eval_set must be a recsys Dataset, got {type(eval_set).__name__}")
    if not train.same_mapping(eval_set):
        raise ValueError("eval_set must share the training data's user and item id maps "
                         "(make both with recsys.split from one Dataset)")
    return eval_set.users, eval_set.items, eval_set.ratings
