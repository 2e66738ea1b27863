"""Preprocessing of a :class:`~recsys.dataset.Dataset`: filtering, k-core, centering, binarizing.

Every function returns a new Dataset and leaves its input untouched. The filters
(:func:`filter_min_ratings`, :func:`k_core`) end with :func:`compact`, so their result has new,
smaller id maps; :func:`center` and :func:`binarize` keep the id maps of their input, so their
results can be split, or compared with the input, index for index.

Item features (genre multi-hot, TF-IDF, decade one-hot) live in :mod:`recsys.features`.
"""

from __future__ import annotations

import numpy as np

from recsys.dataset import Dataset

__all__ = ["compact", "filter_min_ratings", "k_core", "center", "binarize"]


def compact(ds: Dataset) -> Dataset:
    """Drop users and items with no rating and re-index the rest contiguously.

    The surviving users and items keep their relative order, so ``user_ids`` and ``item_ids``
    stay sorted if they were. ``item_info`` and ``user_info`` are kept whole (they may list
    entities without an internal index). If nothing is dropped, ``ds`` itself is returned.

    Parameters
    ----------
    ds : Dataset

    Returns
    -------
    Dataset
        Same ratings (same order), ``n_users`` = number of users with at least one rating,
        ``n_items`` likewise.
    """
    keep_users = np.flatnonzero(ds.user_counts > 0)
    keep_items = np.flatnonzero(ds.item_counts > 0)
    if len(keep_users) == ds.n_users and len(keep_items) == ds.n_items:
        return ds
    new_user = np.full(ds.n_users, -1, dtype=np.int32)
    new_user[keep_users] = np.arange(len(keep_users), dtype=np.int32)
    new_item = np.full(ds.n_items, -1, dtype=np.int32)
    new_item[keep_items] = np.arange(len(keep_items), dtype=np.int32)
    return Dataset(
        new_user[ds.users], new_item[ds.items], ds.ratings, ds.timestamps,
        ds.user_ids[keep_users], ds.item_ids[keep_items], ds.rating_scale,
        ds.item_info, ds.user_info, ds.name,
    )


def _check_threshold(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _keep_mask(users, items, n_users, n_items, min_user, min_item) -> np.ndarray:
    user_counts = np.bincount(users, minlength=n_users)
    item_counts = np.bincount(items, minlength=n_items)
    return (user_counts[users] >= min_user) & (item_counts[items] >= min_item)


def filter_min_ratings(ds: Dataset, min_user_ratings: int = 1,
                       min_item_ratings: int = 1) -> Dataset:
    """One filtering pass: keep the ratings of users and items with enough ratings, compact.

    Both counts are taken on the input, so after the pass some user or item may have fewer
    ratings than the threshold (dropping an item lowers its raters' counts); use
    :func:`k_core` for a result that satisfies both thresholds.

    Parameters
    ----------
    ds : Dataset
    min_user_ratings, min_item_ratings : int, >= 0
        A rating is kept when its user has at least ``min_user_ratings`` ratings and its item at
        least ``min_item_ratings`` ratings in ``ds``.

    Returns
    -------
    Dataset
        Compacted (new id maps).
    """
    min_user = _check_threshold(min_user_ratings, "min_user_ratings")
    min_item = _check_threshold(min_item_ratings, "min_item_ratings")
    keep = _keep_mask(ds.users, ds.items, ds.n_users, ds.n_items, min_user, min_item)
    return compact(ds if keep.all() else ds.subset(keep))


def k_core(ds: Dataset, min_user_ratings: int, min_item_ratings: int,
           max_iter: int = 100) -> Dataset:
    """Iterated filtering to a fixed point: the largest sub-matrix satisfying both thresholds.

    Repeats the pass of :func:`filter_min_ratings` until no rating is dropped. Every pass
    removes at least one rating or stops, and the result does not depend on the order of
    removal (the k-core is unique), so this is the (min_user, min_item)-core of the
    bipartite rating graph. Compacted at the end.

    Parameters
    ----------
    ds : Dataset
    min_user_ratings, min_item_ratings : int, >= 0
    max_iter : int
        Most passes to run; a RuntimeError says so if the fixed point is not reached (real
        data sets converge in a handful of passes).

    Returns
    -------
    Dataset
        Every user has at least ``min_user_ratings`` and every item at least
        ``min_item_ratings`` ratings; possibly empty.
    """
    min_user = _check_threshold(min_user_ratings, "min_user_ratings")
    min_item = _check_threshold(min_item_ratings, "min_item_ratings")
    kept = np.arange(ds.n_ratings, dtype=np.int64)
    for _ in range(max_iter):
        keep = _keep_mask(ds.users[kept], ds.items[kept], ds.n_users, ds.n_items,
                          min_user, min_item)
        if keep.all():
            break
        kept = kept[keep]
    else:
        raise RuntimeError(
            f"k_core({min_user}, {min_item}) did not reach a fixed point in max_iter={max_iter} "
            "passes; raise max_iter"
        )
    return compact(ds if len(kept) == ds.n_ratings else ds.subset(kept))


def center(ds: Dataset, by: str = "user") -> tuple[Dataset, np.ndarray]:
    """Subtract each user's (or item's) mean rating.

    Parameters
    ----------
    ds : Dataset
    by : {"user", "item"}

    Returns
    -------
    centered : Dataset
        Same id maps and (user, item, timestamp) triples; ``rating = r - mean[user]`` (or
        ``mean[item]``), computed in float64 and stored as float32. Its ``rating_scale`` is
        ``(lo - hi, hi - lo)``, the range a centered rating can take.
    means : ndarray of float64, shape (n_users,) or (n_items,)
        The means subtracted (``ds.user_means`` / ``ds.item_means``): the global mean for a
        user or item with no rating. Add them back to undo the centering.
    """
    if by == "user":
        means, index = ds.user_means, ds.users
    elif by == "item":
        means, index = ds.item_means, ds.items
    else:
        raise ValueError(f"center: by must be 'user' or 'item', got {by!r}")
    means = np.array(means, dtype=np.float64)  # a copy: ds caches its own
    centered = ds.ratings.astype(np.float64) - means[index]
    lo, hi = ds.rating_scale
    return Dataset(
        ds.users, ds.items, centered, ds.timestamps, ds.user_ids, ds.item_ids,
        (lo - hi, hi - lo), ds.item_info, ds.user_info, ds.name,
    ), means


def binarize(ds: Dataset, threshold: float) -> Dataset:
    """Implicit feedback: keep the ratings ``>= threshold``, each with value 1.0.

    The comparison is made in float32, the dtype of the ratings, so ``threshold=3.5`` keeps
    exactly the ratings 3.5 and up. The id maps are unchanged (users or items whose ratings are
    all below the threshold keep an index with no interaction; :func:`compact` drops them).
    The result's ``rating_scale`` is ``(0.0, 1.0)``.
    """
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"binarize: threshold must be finite, got {threshold!r}")
    keep = ds.ratings >= np.float32(threshold)
    return Dataset(
        ds.users[keep], ds.items[keep], np.ones(int(keep.sum()), dtype=np.float32),
        ds.timestamps[keep], ds.user_ids, ds.item_ids, (0.0, 1.0),
        ds.item_info, ds.user_info, ds.name,
    )
