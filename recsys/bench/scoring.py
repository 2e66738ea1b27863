"""What a benchmark cell measures beyond the plain rating and top-N metrics: the protocols and
metrics of issue 14, kept apart from :mod:`recsys.bench.cell` so the cell stays a schedule.

- :func:`unsupported_reason`: why a model cannot run on a fold's protocol (a user cold start
  needs the new-user fold-in capability), or None.
- :func:`fold_in_scorer`: the scoring and prediction functions of a user cold-start fold: each
  cold user's scores come from ``model.recommend_new_user`` with their given ratings.
- :func:`beyond_accuracy_values`: the opt-in list metrics of :mod:`recsys.beyond_accuracy`
  on an evaluation's top-k lists.
- :func:`sampled_values`: :func:`recsys.sampled.evaluate_sampled` with a split's settings.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

__all__ = ["unsupported_reason", "fold_in_scorer", "beyond_accuracy_values", "sampled_values",
           "split_spec"]


def split_spec(config, split: str):
    """The :class:`~recsys.bench.config.SplitSpec` of the split named ``split``, or None."""
    return next((s for s in config.splits if s.name == split), None)


def unsupported_reason(make: Callable[[], Any], fold, label: str | None = None) -> str | None:
    """Why the model ``make()`` builds cannot be scored on ``fold``, or None if it can.

    A user cold-start fold (``fold.given`` set) scores each test user from the ratings they
    were given, folded in without retraining: only models that declare the ``new_user``
    capability (``supports_new_user``) can; the others are reported as unsupported, not run.
    """
    if getattr(fold, "given", None) is None:
        return None
    model = make()
    if getattr(model, "supports_new_user", False):
        return None
    return (f"{label or type(model).__name__} cannot fold in a new user (no new_user "
            "capability), which the user cold-start protocol needs")


def fold_in_scorer(model, fold):
    """``(score_fn, predict_fn)`` for a user cold-start fold.

    Each test user's ``fold.given`` ratings go to ``model.recommend_new_user`` (all items
    asked for, the given ones excluded), once, on the first call; ``score_fn(users)`` returns
    their rows, ``predict_fn(users, items)`` the scores of the pairs clipped to the rating
    scale (a rating model's fold-in score is its predicted rating). The given items score
    -inf, so a top-N list never holds them.
    """
    given, n_items = fold.given, fold.train.n_items
    users = np.unique(fold.test.users).astype(np.int64)
    cache: dict[str, np.ndarray] = {}

    def matrix() -> np.ndarray:
        if "scores" not in cache:
            g = given.csr
            out = np.full((users.size, n_items), -np.inf)
            for r, u in enumerate(users):
                lo, hi = g.indptr[u], g.indptr[u + 1]
                top, scores = model.recommend_new_user(g.indices[lo:hi].astype(np.int64),
                                                       g.data[lo:hi].astype(np.float64),
                                                       k=n_items, exclude_rated=True)
                ok = top >= 0
                out[r, top[ok]] = scores[ok]
            cache["scores"] = out
        return cache["scores"]

    def rows_of(us: np.ndarray) -> np.ndarray:
        us = np.asarray(us, dtype=np.int64)
        pos = np.searchsorted(users, us)
        if pos.size and (pos.max() >= users.size or np.any(users[np.minimum(
                pos, users.size - 1)] != us)):
            raise ValueError("a user asked for is not a cold test user of this fold")
        return pos

    def score_fn(us):
        return matrix()[rows_of(us)]

    def predict_fn(us, items):
        lo, hi = fold.train.rating_scale
        return np.clip(matrix()[rows_of(us), np.asarray(items, dtype=np.int64)], lo, hi)

    return score_fn, predict_fn


def beyond_accuracy_values(names, result, fold, candidates, k: int,
                           relevance_threshold: float | None = 4.0
                           ) -> tuple[dict[str, tuple], list[str]]:
    """The list metrics ``names`` (of :data:`recsys.bench.config.BEYOND_ACCURACY_METRICS`)
    of a :class:`~recsys.evaluation.TopNResult` on ``fold``.

    Returns ``({name: (mean or None, users or None, per-user values or None)}, notes)``:
    per-user values are those of the users whose list has a value (finite), ``gini`` has
    none (one value for all lists); a metric the data set cannot give (no genres in
    ``item_info``) has mean None and a note saying why.
    """
    from recsys import beyond_accuracy as ba

    rec, users, train = result.recommended, result.users, fold.train
    given = getattr(fold, "given", None)
    out: dict[str, tuple] = {}
    notes: list[str] = []
    genres = content = None

    def need_genres():
        nonlocal genres
        if genres is None:
            from recsys.features import genre_matrix

            if train.item_info is None or "genres" not in train.item_info.columns:
                raise LookupError("the data set has no item genres (item_info.genres)")
            genres = genre_matrix(train)[0]
        return genres

    def history() -> sp.csr_matrix:
        source = given if given is not None else train
        return source.csr[users]

    for name in names:
        try:
            if name == "gini":
                out[name] = (ba.exposure_gini(rec, train.n_items), None, None)
                continue
            if name == "ild_genres":
                values = ba.feature_ild(rec, need_genres())
            elif name == "ild_content":
                if content is None:
                    from recsys.models.content_features import item_features

                    if train.item_info is None:
                        raise LookupError("the data set has no item metadata (item_info)")
                    content = item_features(train)[0]
                values = ba.feature_ild(rec, content)
            elif name == "arp":
                values = ba.average_recommendation_popularity(rec, train.item_counts)
            elif name == "aplt":
                values = ba.long_tail_share(rec, train.item_counts)
            elif name == "serendipity":
                mask = None if isinstance(candidates, str) else candidates
                expected = ba.popularity_baseline(train, users, k, mask)
                values = ba.serendipity(rec, _relevant(fold.test, users, relevance_threshold),
                                        expected)
            elif name == "calibration":
                values = ba.calibration_kl(rec, history(), need_genres())
            else:
                raise ValueError(f"unknown beyond-accuracy metric {name!r}")
        except LookupError as exc:
            out[name] = (None, None, None)
            notes.append(f"{name}: {exc}")
            continue
        keep = np.isfinite(values)
        mean = float(values[keep].mean()) if keep.any() else None
        out[name] = (mean, users[keep], values[keep])
    return out, notes


def _relevant(test, users: np.ndarray, threshold) -> sp.csr_matrix:
    """(len(users), n_items) bool: each user's relevant test items (rated >= ``threshold``;
    every test item when None), as the evaluation counted them."""
    t = test.csr[users]
    keep = np.ones(t.nnz, bool) if threshold is None else t.data >= threshold
    rows = np.repeat(np.arange(users.size), np.diff(t.indptr))[keep]
    return sp.csr_matrix((np.ones(rows.size, bool), (rows, t.indices[keep])),
                         shape=(users.size, test.n_items))


def sampled_values(score_fn, fold, config, candidates, settings: dict):
    """:func:`recsys.sampled.evaluate_sampled` on ``fold`` with a split's ``sampled``
    settings, the config's cut-off and relevance threshold and the split's candidates."""
    from recsys.sampled import evaluate_sampled

    mask = None if isinstance(candidates, str) else candidates
    return evaluate_sampled(score_fn, fold.train, fold.test, k=config.k,
                            n_negatives=settings["n_negatives"], sampling=settings["sampling"],
                            replace=settings["replace"], gamma=settings["gamma"],
                            relevance_threshold=config.relevance_threshold,
                            seed=settings["seed"], candidates=mask)
