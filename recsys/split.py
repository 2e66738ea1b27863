"""Seeded train/test splitters.

Every splitter returns a list of :class:`Fold` whose ``train`` and ``test`` are
``ds.subset(...)`` of the input: they share its id maps (``user_ids``, ``item_ids``), and
together they partition its ratings exactly, no rating lost or duplicated. Randomness comes from
one ``numpy.random.Generator`` made from ``seed`` (an int, a Generator, or None for fresh
entropy), so the same seed gives the same split.

- :func:`official_folds`: ML-100K's own u1..u5 (5-fold) and ua/ub (10 ratings per user in test).
- :func:`holdout`: one random fraction of the ratings as test.
- :func:`kfold`: k disjoint random test parts covering every rating.
- :func:`user_holdout`: per user, a fraction or k ratings (random or latest) as test.
- :func:`temporal`: one global time cut.
- :func:`item_cold_start`: every rating of a random share of the items as test (new items).
- :func:`split_from_config`: any of the above from a dict, as read from a config file.
"""

from __future__ import annotations

import datetime as _dt
from typing import NamedTuple

import numpy as np
import pandas as pd

from recsys.data.ml100k_folds import OFFICIAL_FOLDS
from recsys.dataset import Dataset
from recsys.validation import as_generator

__all__ = ["Fold", "official_folds", "holdout", "kfold", "user_holdout", "temporal",
           "item_cold_start", "split_from_config", "SPLIT_METHODS", "OFFICIAL_FOLDS"]


class Fold(NamedTuple):
    """One train/test split; ``train`` and ``test`` share the id maps of the split data set."""

    name: str
    train: Dataset
    test: Dataset


def _rng(seed) -> np.random.Generator:
    return as_generator(seed)  # int >= 0, Generator or None, as everywhere


def _fold(name: str, ds: Dataset, test_mask: np.ndarray) -> Fold:
    return Fold(name, ds.subset(~test_mask), ds.subset(test_mask))


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------- official ML-100K folds
def official_folds(ds: Dataset, data_dir=None,
                   names=("u1", "u2", "u3", "u4", "u5")) -> list[Fold]:
    """The official ML-100K splits, as subsets of ``ds`` (the full ml-100k Dataset).

    The split files are read by the data layer: ``ds``, ``data_dir`` and ``names`` (from
    ``"u1"``..``"u5"``, ``"ua"``, ``"ub"``) are those of
    :func:`recsys.data.ml100k_folds.read_official_folds`, which says what it raises (a missing
    file, a rating not in ``ds``: the file and the line). This function only cuts ``ds``.

    Returns
    -------
    list of Fold, one per name, named by it: ``train`` holds the ratings of ``<name>.base``,
    ``test`` those of ``<name>.test``.
    """
    from recsys.data.ml100k_folds import read_official_folds

    return [Fold(name, ds.subset(train), ds.subset(test))
            for name, train, test in read_official_folds(ds, data_dir, names)]


# ---------------------------------------------------------------------- random splits
def holdout(ds: Dataset, test_fraction: float = 0.2, seed=0) -> list[Fold]:
    """One random split: ``round(test_fraction * n_ratings)`` ratings drawn as test.

    Returns a list with one Fold named ``"holdout"``.
    """
    fraction = _check_fraction(test_fraction, "test_fraction")
    n_test = int(round(fraction * ds.n_ratings))
    test = np.zeros(ds.n_ratings, dtype=bool)
    test[_rng(seed).permutation(ds.n_ratings)[:n_test]] = True
    return [_fold("holdout", ds, test)]


def kfold(ds: Dataset, n_folds: int = 5, seed=0) -> list[Fold]:
    """K-fold over ratings: a random permutation cut into ``n_folds`` near-equal test parts.

    The test parts are disjoint and cover every rating; fold ``k``'s train is everything else.
    Folds are named ``"fold1"`` ... ``"fold<k>"``.
    """
    n_folds = _check_int(n_folds, "n_folds", 2)
    if n_folds > ds.n_ratings:
        raise ValueError(f"n_folds={n_folds} is more than the {ds.n_ratings} ratings")
    assignment = np.empty(ds.n_ratings, dtype=np.int64)
    for k, part in enumerate(np.array_split(_rng(seed).permutation(ds.n_ratings), n_folds)):
        assignment[part] = k
    return [_fold(f"fold{k + 1}", ds, assignment == k) for k in range(n_folds)]


def user_holdout(ds: Dataset, test_fraction: float | None = None, leave_k: int | None = None,
                 by_time: bool = False, min_train: int = 1, seed=0) -> list[Fold]:
    """Per-user holdout: from each user, a fraction or ``leave_k`` of their ratings as test.

    Parameters
    ----------
    ds : Dataset
    test_fraction : float in (0, 1), optional
        Each user puts ``round(test_fraction * n_u)`` of their ``n_u`` ratings in test.
    leave_k : int >= 1, optional
        Each user puts ``leave_k`` ratings in test (leave-one-out with 1). Give exactly one of
        ``test_fraction`` and ``leave_k``.
    by_time : bool
        Test takes each user's latest ratings (ties in timestamp broken at random by the seed)
        instead of random ones.
    min_train : int >= 0
        Every user keeps at least ``min_train`` ratings in train: a user's test count is capped
        at ``n_u - min_train``, so users with ``n_u <= min_train`` are entirely in train.
    seed : int, Generator or None

    Returns
    -------
    list with one Fold, named ``"user_holdout"``.
    """
    if (test_fraction is None) == (leave_k is None):
        raise ValueError("user_holdout: give exactly one of test_fraction and leave_k")
    min_train = _check_int(min_train, "min_train", 0)
    counts = ds.user_counts
    if leave_k is not None:
        n_test = np.full(ds.n_users, _check_int(leave_k, "leave_k", 1), dtype=np.int64)
    else:
        fraction = _check_fraction(test_fraction, "test_fraction")
        n_test = np.round(fraction * counts).astype(np.int64)
    n_test = np.minimum(n_test, np.maximum(counts - min_train, 0))

    # Order each user's ratings, test takes the first n_test[u]: a random permutation, then
    # stable sorts (latest first if by_time, then by user), so ties stay in random order.
    # Two stable argsorts are several times faster than one lexsort over three keys.
    order = _rng(seed).permutation(ds.n_ratings)
    if by_time:
        order = order[np.argsort(-ds.timestamps[order], kind="stable")]
    order = order[np.argsort(ds.users[order], kind="stable")]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_users = ds.users[order]
    rank = np.arange(ds.n_ratings) - starts[sorted_users]
    test = np.zeros(ds.n_ratings, dtype=bool)
    test[order[rank < n_test[sorted_users]]] = True
    return [_fold("user_holdout", ds, test)]


def temporal(ds: Dataset, at=None, quantile: float | None = None) -> list[Fold]:
    """Global time split: test holds the ratings with ``timestamp >= at``.

    Parameters
    ----------
    ds : Dataset
    at : int, str, datetime or pandas Timestamp, optional
        The cut, in seconds since the epoch, or a date (naive dates are UTC).
    quantile : float in (0, 1), optional
        Cut at this quantile of the timestamps (linear interpolation), so about
        ``1 - quantile`` of the ratings are test (more where timestamps tie at the cut).
        Give exactly one of ``at`` and ``quantile``.

    Returns
    -------
    list with one Fold, named ``"temporal@<cut, ISO date>"``.
    """
    if (at is None) == (quantile is None):
        raise ValueError("temporal: give exactly one of at and quantile")
    if quantile is not None:
        q = _check_fraction(quantile, "quantile")
        if ds.n_ratings == 0:
            raise ValueError("temporal: no ratings to take a quantile of")
        cut = float(np.quantile(ds.timestamps, q))
    elif isinstance(at, (str, _dt.date, pd.Timestamp)):
        stamp = pd.Timestamp(at)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        cut = stamp.timestamp()
    elif isinstance(at, (int, float, np.integer, np.floating)) and not isinstance(at, bool):
        cut = float(at)
    else:
        raise ValueError(f"temporal: at must be seconds since the epoch or a date, got {at!r}")
    when = pd.Timestamp(cut, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
    return [_fold(f"temporal@{when}", ds, ds.timestamps >= cut)]


def item_cold_start(ds: Dataset, test_fraction: float = 0.1, among=None,
                    seed=0) -> list[Fold]:
    """Item cold start: every rating of a random share of the items as test.

    The protocol of Schein et al. 2002 ("Methods and metrics for cold-start
    recommendations", SIGIR) and Gantner et al. 2010 ("Learning attribute-to-feature
    mappings for cold-start recommendations", ICDM): the test items have no rating at all
    in train, so only a model that knows something else about them (their metadata) can
    tell them apart.

    Parameters
    ----------
    ds : Dataset
    test_fraction : float in (0, 1)
        ``round(test_fraction * n)`` of the ``n`` eligible items go to test (at least one).
    among : bool ndarray (n_items,), optional
        Only these items are eligible (e.g. those with metadata: ``has_tmdb(ds)``). Items
        without a rating are never drawn, since they would add nothing to test. Default:
        every rated item.
    seed : int, Generator or None

    Returns
    -------
    list with one Fold, named ``"item_cold_start"``: ``test`` holds every rating of the
    drawn items, ``train`` every other rating. The drawn items are
    ``np.unique(fold.test.items)``.
    """
    fraction = _check_fraction(test_fraction, "test_fraction")
    eligible = ds.item_counts > 0
    if among is not None:
        mask = np.asarray(among)
        if mask.dtype != bool or mask.shape != (ds.n_items,):
            raise ValueError(f"among must be a bool array of shape ({ds.n_items},), got "
                             f"{mask.dtype} {mask.shape}")
        eligible &= mask
    pool = np.flatnonzero(eligible)
    if not len(pool):
        raise ValueError("item_cold_start: no eligible item (rated and in among) to hold out")
    n_test = min(max(int(round(fraction * len(pool))), 1), len(pool))
    held = np.zeros(ds.n_items, dtype=bool)
    held[_rng(seed).permutation(pool)[:n_test]] = True
    if held.sum() == len(np.flatnonzero(ds.item_counts > 0)):
        raise ValueError(f"item_cold_start: holding out {n_test} items leaves no rating "
                         "to train on")
    return [_fold("item_cold_start", ds, held[ds.items])]


# ---------------------------------------------------------------------- from a config
#: Each split method of :func:`split_from_config` and the keys it takes besides ``method``.
SPLIT_METHODS = {
    "official": {"folds"},
    "holdout": {"test_fraction", "seed"},
    "kfold": {"n_folds", "seed"},
    "user_holdout": {"test_fraction", "leave_k", "by_time", "min_train", "seed"},
    "temporal": {"at", "quantile"},
    "item_cold_start": {"test_fraction", "seed"},
}


def split_from_config(ds: Dataset, spec: dict, data_dir=None) -> list[Fold]:
    """Run the splitter a config dict describes.

    ``spec["method"]`` names the splitter; the other keys are its arguments::

        {"method": "official", "folds": ["u1", "u2"]}
        {"method": "holdout", "test_fraction": 0.1, "seed": 42}
        {"method": "kfold", "n_folds": 5, "seed": 0}
        {"method": "user_holdout", "leave_k": 1, "by_time": True}
        {"method": "temporal", "quantile": 0.8}
        {"method": "item_cold_start", "test_fraction": 0.1, "seed": 0}

    An unknown method or key raises ValueError naming it. ``data_dir`` is used by "official".
    """
    if not isinstance(spec, dict):
        raise ValueError(f"split spec must be a dict, got {type(spec).__name__}")
    if "method" not in spec:
        raise ValueError(f"split spec has no 'method' key (one of {sorted(SPLIT_METHODS)}): "
                         f"{spec!r}")
    method = spec["method"]
    if method not in SPLIT_METHODS:
        raise ValueError(f"unknown split method {method!r}; choose from {sorted(SPLIT_METHODS)}")
    args = {k: v for k, v in spec.items() if k != "method"}
    unknown = sorted(set(args) - SPLIT_METHODS[method])
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} for split method {method!r}; valid keys: "
                         f"{sorted(SPLIT_METHODS[method])}")
    if method == "official":
        folds = args.get("folds", ("u1", "u2", "u3", "u4", "u5"))
        return official_folds(ds, data_dir=data_dir, names=tuple(
            [folds] if isinstance(folds, str) else folds))
    if method == "holdout":
        return holdout(ds, **args)
    if method == "kfold":
        return kfold(ds, **args)
    if method == "user_holdout":
        return user_holdout(ds, **args)
    if method == "item_cold_start":
        return item_cold_start(ds, **args)
    return temporal(ds, **args)
