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
- :func:`global_temporal`: train < t1 <= validation < t2 <= test, one global clock for every
  user (LensKit's ``split_global_time``, cornac's ``TimestampSplit``); users and items unseen
  in train are dropped from test and counted.
- :func:`leave_one_out`: each user's last rating by time (or a random one) as test, the
  protocol of the NCF era (He et al. 2017).
- :func:`item_cold_start`: every rating of a random share of the items as test (new items).
- :func:`user_cold_start`: every rating of a random share of the users out of train; each
  such user's first ``n_given`` ratings are given to the model at test time (``Fold.given``).
- :func:`split_from_config`: any of the above from a dict, as read from a config file.

The exceptions to the exact partition: :func:`global_temporal` drops the test (and
validation) ratings of users and items unseen in train, and :func:`user_cold_start` moves
the given ratings to ``Fold.given`` (train, test and given then partition the ratings).
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
           "global_temporal", "leave_one_out", "item_cold_start", "user_cold_start",
           "split_from_config", "SPLIT_METHODS", "OFFICIAL_FOLDS"]


class _FoldFields(NamedTuple):
    name: str
    train: Dataset
    test: Dataset


class Fold(_FoldFields):
    """One train/test split; ``train`` and ``test`` share the id maps of the split data set.

    A named tuple ``(name, train, test)`` (so ``name, train, test = fold`` works), with three
    optional attributes that the splitters needing them fill (None otherwise):

    ``validation``
        An inner Fold for tuning, cut from the past of ``train`` (:func:`global_temporal`:
        fit on ``validation.train``, score on ``validation.test``, then refit on ``train``).
    ``given``
        Ratings of the test users that the model is given at test time and folds in without
        retraining (:func:`user_cold_start`); those users have no rating in ``train``.
    ``info``
        Counts to report next to the fold (e.g. ``unseen_users``, ``unseen_items``,
        ``dropped_ratings`` of :func:`global_temporal`); JSON-ready ints and strings.
    """

    validation: "Fold | None" = None
    given: Dataset | None = None
    info: dict | None = None

    def __new__(cls, name: str, train: Dataset, test: Dataset, validation=None, given=None,
                info=None):
        self = super().__new__(cls, name, train, test)
        self.validation, self.given, self.info = validation, given, info
        return self

    def _replace(self, **changes) -> "Fold":
        fields = {"name": self.name, "train": self.train, "test": self.test,
                  "validation": self.validation, "given": self.given, "info": self.info}
        fields.update(changes)
        return Fold(**fields)


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


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


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
        instead of random ones. Beware: the cut is per user, not global, so the training
        part holds other users' ratings made after a user's test ratings, and a model learns
        from the future it is asked to predict (popularity trends, items released later).
        Ji et al., "A Critical Study on Data Leakage in Recommender System Offline
        Evaluation" (ACM TOIS 2023) show this leak changes the order of models; use
        :func:`global_temporal` for a split without it.
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
    cut = _time_cut(ds, at, quantile, "temporal")
    return [_fold(f"temporal@{_iso(cut)}", ds, ds.timestamps >= cut)]


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


def _time_cut(ds: Dataset, at, quantile, what: str) -> float:
    """A cut in seconds since the epoch from ``at`` (seconds or a date) or a quantile."""
    if (at is None) == (quantile is None):
        raise ValueError(f"{what}: give exactly one of at and quantile")
    if quantile is not None:
        q = _check_fraction(quantile, "quantile" if what == "temporal" else f"{what} quantile")
        if ds.n_ratings == 0:
            raise ValueError(f"{what}: no ratings to take a quantile of")
        return float(np.quantile(ds.timestamps, q))
    if isinstance(at, (str, _dt.date, pd.Timestamp)):
        try:
            stamp = pd.Timestamp(at)
        except ValueError as exc:
            raise ValueError(f"{what}: {at!r} is not a date ({exc})") from None
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        return stamp.timestamp()
    if isinstance(at, (int, float, np.integer, np.floating)) and not isinstance(at, bool):
        return float(at)
    raise ValueError(f"{what}: at must be seconds since the epoch or a date, got {at!r}")


def _iso(cut: float) -> str:
    return pd.Timestamp(cut, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")


def _seen(train_mask: np.ndarray, ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Bool masks (n_users,), (n_items,): who has a rating in ``train_mask``."""
    return (np.bincount(ds.users[train_mask], minlength=ds.n_users) > 0,
            np.bincount(ds.items[train_mask], minlength=ds.n_items) > 0)


def _unseen_counts(ds: Dataset, part: np.ndarray, train_mask: np.ndarray,
                   drop: bool) -> tuple[np.ndarray, dict]:
    """The ratings of ``part`` to keep (those whose user and item are seen in
    ``train_mask``, or all of them without ``drop``) and the counts: ratings dropped, and
    distinct users and items of ``part`` unseen in train."""
    users, items = _seen(train_mask, ds)
    known = users[ds.users] & items[ds.items]
    keep = part & known if drop else part.copy()
    counts = {"dropped_ratings": int((part & ~keep).sum()),
              "unseen_users": int(np.unique(ds.users[part & ~users[ds.users]]).size),
              "unseen_items": int(np.unique(ds.items[part & ~items[ds.items]]).size)}
    return keep, counts


def global_temporal(ds: Dataset, validation_at=None, test_at=None,
                    validation_quantile: float | None = None,
                    test_quantile: float | None = None,
                    drop_unseen: bool = True) -> list[Fold]:
    """Global temporal split with a validation cut: train < t1 <= validation < t2 <= test.

    One clock for every user, so nothing a model is trained on happens after anything it is
    tested on: the protocol of LensKit's ``split_global_time`` and cornac's
    ``TimestampSplit``, recommended by Ji et al. (ACM TOIS 2023) against the per-user
    "latest ratings" holdout (:func:`user_holdout` with ``by_time``), which leaks future
    data across users.

    Parameters
    ----------
    ds : Dataset
    validation_at, test_at : int, str, datetime or pandas Timestamp, optional
        The cuts t1 and t2, in seconds since the epoch or as dates (naive dates are UTC).
    validation_quantile, test_quantile : float in (0, 1), optional
        The cuts as quantiles of the timestamps instead (give one of ``*_at`` and
        ``*_quantile`` for each cut). t1 must be at or before t2; t1 = t2 means no
        validation ratings.
    drop_unseen : bool
        Leave out of test the ratings of users and items with no rating before t2 (a model
        cannot score them; counting them as misses would punish every model alike), and of
        validation those with none before t1. Default True. The counts go to ``info``.

    Returns
    -------
    list with one Fold, named ``"global_temporal@<t2, ISO date>"``:

    - ``train``: every rating before t2 (train and validation parts: the model that is
      tested is fitted on all the past);
    - ``test``: the ratings at or after t2 (of users and items seen before t2);
    - ``validation``: an inner Fold, train = ratings before t1, test = ratings in
      [t1, t2) of users and items seen before t1, for tuning on the past alone;
    - ``info``: ``t1``, ``t2`` (ISO dates), ``unseen_users`` and ``unseen_items`` (how
      many of the test period's users and items have no rating before t2),
      ``dropped_ratings`` (their test ratings, left out when ``drop_unseen``), and
      ``validation_unseen_users``, ``validation_unseen_items``,
      ``validation_dropped_ratings`` likewise for the validation period against t1.
    """
    drop_unseen = _check_bool(drop_unseen, "drop_unseen")
    t1 = _time_cut(ds, validation_at, validation_quantile, "global_temporal validation")
    t2 = _time_cut(ds, test_at, test_quantile, "global_temporal test")
    if t1 > t2:
        raise ValueError(f"global_temporal: the validation cut {_iso(t1)} is after the test "
                         f"cut {_iso(t2)}; train < t1 <= validation < t2 <= test")
    ts = ds.timestamps
    train, val, test = ts < t1, (ts >= t1) & (ts < t2), ts >= t2
    past = train | val
    if not train.any():
        raise ValueError(f"global_temporal: no rating before the validation cut {_iso(t1)}")
    if not test.any():
        raise ValueError(f"global_temporal: no rating at or after the test cut {_iso(t2)}")
    keep_test, counts = _unseen_counts(ds, test, past, drop_unseen)
    keep_val, val_counts = _unseen_counts(ds, val, train, drop_unseen)
    info = {"t1": _iso(t1), "t2": _iso(t2), **counts}
    info.update({f"validation_{k}": v for k, v in val_counts.items()})
    inner = Fold(f"global_temporal@{_iso(t1)}", ds.subset(train), ds.subset(keep_val))
    return [Fold(f"global_temporal@{_iso(t2)}", ds.subset(past), ds.subset(keep_test),
                 validation=inner, info=info)]


def leave_one_out(ds: Dataset, by: str = "time", min_train: int = 1, seed=0) -> list[Fold]:
    """Leave-one-out: one rating per user as test, the NCF-era protocol.

    He et al., "Neural Collaborative Filtering" (WWW 2017) hold out each user's latest
    interaction and rank it (often among 100 sampled negatives: see
    :mod:`recsys.sampled`). ``by="time"`` takes the latest rating (timestamp ties broken
    at random by the seed), ``by="random"`` a random one. Users with at most ``min_train``
    ratings stay entirely in train. The time variant has the cross-user leak of
    :func:`user_holdout` with ``by_time`` (see there).

    Returns a list with one Fold, named ``"leave_one_out"``: every user with more than
    ``min_train`` ratings has exactly one test rating.
    """
    if by not in ("time", "random"):
        raise ValueError(f"leave_one_out: by must be 'time' or 'random', got {by!r}")
    fold = user_holdout(ds, leave_k=1, by_time=by == "time", min_train=min_train,
                        seed=seed)[0]
    return [fold._replace(name="leave_one_out")]


def user_cold_start(ds: Dataset, test_fraction: float = 0.1, n_given: int = 5,
                    by_time: bool = False, seed=0) -> list[Fold]:
    """User cold start: a random share of the users is left out of train entirely.

    Each held-out user's ``n_given`` ratings (random ones, or their earliest with
    ``by_time``) are given to the model at test time, as a new user's first ratings: it
    scores them by folding those ratings in without retraining (a model's ``new_user``
    capability, :meth:`recsys.models.base.Recommender.recommend_new_user`); their other
    ratings are the test. The "given n" protocol of Kluver & Konstan 2014 ("Evaluating
    recommender behavior for new users", RecSys).

    Parameters
    ----------
    ds : Dataset
    test_fraction : float in (0, 1)
        ``round(test_fraction * n)`` of the ``n`` eligible users (those with more than
        ``n_given`` ratings) are held out (at least one).
    n_given : int >= 0
        Ratings given per held-out user.
    by_time : bool
        Give each user's earliest ratings (ties at random by the seed) instead of random ones.
    seed : int, Generator or None

    Returns
    -------
    list with one Fold, named ``"user_cold_start"``: ``train`` holds no rating of a
    held-out user, ``given`` their ``n_given`` given ratings, ``test`` the rest; the three
    partition the ratings.
    """
    fraction = _check_fraction(test_fraction, "test_fraction")
    n_given = _check_int(n_given, "n_given", 0)
    by_time = _check_bool(by_time, "by_time")
    rng = _rng(seed)
    pool = np.flatnonzero(ds.user_counts > n_given)
    if not len(pool):
        raise ValueError(f"user_cold_start: no user has more than n_given={n_given} ratings")
    n_test = min(max(int(round(fraction * len(pool))), 1), len(pool))
    held = np.zeros(ds.n_users, dtype=bool)
    held[rng.permutation(pool)[:n_test]] = True
    if held.sum() == np.count_nonzero(ds.user_counts):
        raise ValueError(f"user_cold_start: holding out {n_test} users leaves no rating to "
                         "train on")
    order = rng.permutation(ds.n_ratings)
    if by_time:
        order = order[np.argsort(ds.timestamps[order], kind="stable")]
    order = order[np.argsort(ds.users[order], kind="stable")]
    counts = ds.user_counts
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(ds.n_ratings, dtype=np.int64)
    rank[order] = np.arange(ds.n_ratings) - starts[ds.users[order]]
    of_held = held[ds.users]
    given = of_held & (rank < n_given)
    test = of_held & ~given
    return [Fold("user_cold_start", ds.subset(~of_held), ds.subset(test),
                 given=ds.subset(given),
                 info={"cold_users": int(held.sum()), "n_given": n_given})]


# ---------------------------------------------------------------------- from a config
#: Each split method of :func:`split_from_config` and the keys it takes besides ``method``.
SPLIT_METHODS = {
    "official": {"folds"},
    "holdout": {"test_fraction", "seed"},
    "kfold": {"n_folds", "seed"},
    "user_holdout": {"test_fraction", "leave_k", "by_time", "min_train", "seed"},
    "temporal": {"at", "quantile"},
    "global_temporal": {"validation_at", "test_at", "validation_quantile", "test_quantile",
                        "drop_unseen"},
    "leave_one_out": {"by", "min_train", "seed"},
    "item_cold_start": {"test_fraction", "seed"},
    "user_cold_start": {"test_fraction", "n_given", "by_time", "seed"},
}


def split_from_config(ds: Dataset, spec: dict, data_dir=None) -> list[Fold]:
    """Run the splitter a config dict describes.

    ``spec["method"]`` names the splitter; the other keys are its arguments::

        {"method": "official", "folds": ["u1", "u2"]}
        {"method": "holdout", "test_fraction": 0.1, "seed": 42}
        {"method": "kfold", "n_folds": 5, "seed": 0}
        {"method": "user_holdout", "leave_k": 1, "by_time": True}
        {"method": "temporal", "quantile": 0.8}
        {"method": "global_temporal", "validation_quantile": 0.8, "test_quantile": 0.9}
        {"method": "leave_one_out", "by": "time"}
        {"method": "item_cold_start", "test_fraction": 0.1, "seed": 0}
        {"method": "user_cold_start", "test_fraction": 0.1, "n_given": 5, "seed": 0}

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
    if method == "user_cold_start":
        return user_cold_start(ds, **args)
    if method == "global_temporal":
        return global_temporal(ds, **args)
    if method == "leave_one_out":
        return leave_one_out(ds, **args)
    return temporal(ds, **args)
