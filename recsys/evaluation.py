"""Evaluation routines: top-N ranking over a scoring function, and rating prediction.

:func:`evaluate_topn` scores users in batches, removes each user's training items, takes the
top k with :func:`recsys.topk.topk_rows` (a bounded heap per row, no full sort) and
computes every per-user metric for the whole batch at once with array operations. The
per-user values agree with the one-user functions of :mod:`recsys.metrics` (a test checks
this against a brute-force loop).

:func:`evaluate_ratings` compares a prediction function with the test ratings.

Ranking each test item among sampled negatives instead of the whole catalogue (the NCF
protocol), with Krichene & Rendle's correction, is :func:`recsys.sampled.evaluate_sampled`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from recsys.dataset import Dataset
from recsys.topk import topk_rows
from recsys.metrics import (_check_k, catalog_coverage, dcg_discounts, mae, mean_ci,
                            novelty, rmse)

__all__ = ["TopNResult", "RatingResult", "evaluate_topn", "evaluate_ratings", "rating_predictor",
           "item_popularity", "TOPN_METRICS"]

#: Metric names evaluate_topn understands, and the key each gets in the result.
TOPN_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit")


def _metric_key(name: str, k: int) -> str:
    return "mrr" if name == "mrr" else f"{name}@{k}"


@dataclass
class TopNResult:
    """What :func:`evaluate_topn` measured.

    Attributes
    ----------
    users : int64 ndarray, shape (n_evaluated,)
        Internal indices of the evaluated users (those with at least one relevant test item).
    per_user : dict[str, ndarray]
        Metric name (``"precision@10"``, ``"recall@10"``, ``"ndcg@10"``, ``"map@10"``,
        ``"mrr"``, ``"hit@10"``) -> float64 values aligned with ``users``.
    means : dict[str, float]
        Mean over the evaluated users (NaN when no user was evaluated).
    ci : dict[str, (float, float)]
        95% Student-t confidence interval of each mean (NaN with fewer than two users).
    recommended : int64 ndarray, shape (n_evaluated, k)
        Each evaluated user's top-k items, best first; -1 pads when fewer were eligible.
    coverage : float
        :func:`recsys.metrics.catalog_coverage` of ``recommended``.
    novelty : float
        :func:`recsys.metrics.novelty` of ``recommended`` with the training popularity.
    k : int
        The cutoff.
    """

    users: np.ndarray
    per_user: dict[str, np.ndarray]
    means: dict[str, float]
    ci: dict[str, tuple[float, float]]
    recommended: np.ndarray
    coverage: float
    novelty: float
    k: int = 10

    def by_user(self, metric: str) -> dict[int, float]:
        """``{user index: value}`` of one metric: the input of
        :func:`recsys.significance.compare_models`."""
        if metric not in self.per_user:
            raise KeyError(f"no metric {metric!r}; have {sorted(self.per_user)}")
        return dict(zip(self.users.tolist(), self.per_user[metric].tolist()))


@dataclass
class RatingResult:
    """What :func:`evaluate_ratings` measured.

    Attributes
    ----------
    rmse, mae : float
        Over all test ratings.
    per_user_rmse, per_user_mae : float64 ndarray, shape (n_test_users,)
        Aligned with ``users``.
    users : int64 ndarray
        Internal indices of the users with at least one test rating, ascending.
    predictions : float64 ndarray, shape (n_test_ratings,)
        The predictions, aligned with the test ratings (``test.users``, ``test.items``).
    """

    rmse: float
    mae: float
    per_user_rmse: np.ndarray
    per_user_mae: np.ndarray
    users: np.ndarray
    predictions: np.ndarray

    def by_user(self, metric: str = "rmse") -> dict[int, float]:
        """``{user index: per-user rmse or mae}`` for paired comparisons."""
        values = {"rmse": self.per_user_rmse, "mae": self.per_user_mae}[metric]
        return dict(zip(self.users.tolist(), values.tolist()))


def item_popularity(train: Dataset) -> np.ndarray:
    """Share of users who rated each item in ``train``: float64, shape (n_items,)."""
    return train.item_counts / max(train.n_users, 1)


# ---------------------------------------------------------------------- top-N
def evaluate_topn(
    score_fn: Callable[[np.ndarray], np.ndarray],
    train: Dataset,
    test: Dataset,
    k: int = 10,
    relevance_threshold: float | None = 4.0,
    graded: bool = False,
    metrics: Iterable[str] = TOPN_METRICS,
    users=None,
    batch_size: int = 1024,
    candidates="unrated",
) -> TopNResult:
    """Top-N evaluation of a scoring function against held-out ratings.

    For each batch of users: ``score_fn(batch)`` gives the (len(batch), n_items) scores;
    the user's training items (``train.csr``) are set to -inf; the top k of every row are
    taken with :func:`~recsys.topk.topk_rows`; the list is compared with the user's
    test items rated ``>= relevance_threshold``.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(users: int64 ndarray) -> ndarray (len(users), n_items)`` of float scores,
        higher is better (e.g. ``model.score_items``). The returned array is copied, never
        modified. NaN or -inf scores mark items that must not be recommended. Equal scores
        are ranked by ascending item index.
    train, test : Dataset
        With the same user and item id maps (as every splitter returns).
    k : int
        List length and metric cutoff.
    relevance_threshold : float or None
        Test ratings at or above it are relevant; None makes every test item relevant.
    graded : bool
        If True, NDCG uses the test rating of each relevant item as its gain (linear gain);
        the other metrics stay binary.
    metrics : iterable of str
        Any of ``"precision", "recall", "ndcg", "map", "mrr", "hit"``.
    users : int array, optional
        Internal user indices to evaluate (unique). Default: every user with a relevant
        test item.
    batch_size : int
        Users scored per call of ``score_fn``; bounds memory at batch_size x n_items scores.
    candidates : "unrated", "all" or bool ndarray (n_items,)
        ``"unrated"``: every item the user did not rate in train (the default protocol);
        ``"all"``: training items stay eligible; a mask: only those items, training items
        still excluded.

    Returns
    -------
    TopNResult

    Notes
    -----
    - Users with no relevant test item are skipped (recall, NDCG and AP are undefined for
      them, and counting them as 0 would punish every model alike); so are requested users
      in that situation. ``result.users`` lists who was evaluated.
    - ``precision@k`` divides by k even when fewer than k items were eligible; ``mrr`` is
      the reciprocal rank within the top k (0 beyond it); ``map@k`` divides by
      ``min(|relevant|, k)``. See :mod:`recsys.metrics` for each definition.
    - With no user to evaluate, means and intervals are NaN and ``recommended`` is empty.
    """
    k, batch_size, metrics = _check_topn_args(train, test, k, batch_size, metrics)
    n_users, n_items = train.n_users, train.n_items
    allowed = _candidate_mask(candidates, n_items)
    exclude_train = not (isinstance(candidates, str) and candidates == "all")
    rel_users, rel_keys, rel_gain, n_rel = _relevant_entries(test, relevance_threshold)

    eval_users = _users_to_evaluate(users, n_rel, n_users)
    disc = dcg_discounts(k)
    idcg = _ideal_dcg(rel_users, rel_gain if graded else None, n_rel, n_users, k, disc)

    n_eval = eval_users.size
    recommended = np.empty((n_eval, k), dtype=np.int64)
    values = {m: np.empty(n_eval, dtype=np.float64) for m in metrics}
    tr = train.csr
    for lo in range(0, n_eval, batch_size):
        ub = eval_users[lo:lo + batch_size]
        scores = _scores(score_fn, ub, n_items)
        if exclude_train:
            rows, cols = _rows_items(tr.indptr, tr.indices, ub)
            scores[rows, cols] = -np.inf
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        rec, _ = topk_rows(scores, k)
        recommended[lo:lo + ub.size] = rec
        _batch_metrics(rec, ub, rel_keys, rel_gain if graded else None, n_rel[ub], idcg[ub],
                       disc, n_items, k, {m: v[lo:lo + ub.size] for m, v in values.items()})

    per_user = {_metric_key(m, k): v for m, v in values.items()}
    means, ci = {}, {}
    for name, v in per_user.items():
        mean, lower, upper = mean_ci(v)
        means[name], ci[name] = mean, (lower, upper)
    pop = item_popularity(train)
    return TopNResult(
        users=eval_users, per_user=per_user, means=means, ci=ci, recommended=recommended,
        coverage=catalog_coverage(recommended, n_items),
        novelty=novelty(recommended, pop, n_users=max(n_users, 1)), k=k,
    )


def _check_topn_args(train, test, k, batch_size, metrics) -> tuple[int, int, tuple[str, ...]]:
    if not isinstance(train, Dataset) or not isinstance(test, Dataset):
        raise TypeError("train and test must be recsys Datasets")
    same_shape = (train.n_users, train.n_items) == (test.n_users, test.n_items)
    if not same_shape or not train.same_mapping(test):
        raise ValueError(
            f"train ({train.n_users} users, {train.n_items} items) and test ({test.n_users} "
            f"users, {test.n_items} items) do not share id maps; split one Dataset")
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in TOPN_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(TOPN_METRICS)}")
    return _check_k(k), _check_k(batch_size, "batch_size"), metrics


def _relevant_entries(test: Dataset, relevance_threshold: float | None):
    """The relevant test entries: their users, sorted keys ``user * n_items + item`` (CSR
    order is sorted), gains (the test ratings) and the count per user."""
    t, n_users = test.csr, test.n_users
    row_of = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(t.indptr))
    keep = np.ones(t.nnz, dtype=bool) if relevance_threshold is None else (
        t.data >= relevance_threshold)
    rel_users = row_of[keep]
    rel_keys = rel_users * test.n_items + t.indices[keep].astype(np.int64)
    rel_gain = t.data[keep].astype(np.float64)
    return rel_users, rel_keys, rel_gain, np.bincount(rel_users, minlength=n_users)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _candidate_mask(candidates, n_items: int) -> np.ndarray | None:
    if isinstance(candidates, str):
        if candidates not in ("unrated", "all"):
            raise ValueError(f"candidates must be 'unrated', 'all' or a bool mask, got "
                             f"{candidates!r}")
        return None
    mask = np.asarray(candidates)
    if mask.dtype != bool or mask.shape != (n_items,):
        raise ValueError(f"a candidates mask must be bool of shape ({n_items},), got "
                         f"{mask.dtype} {mask.shape}")
    return mask


def _users_to_evaluate(users, n_rel: np.ndarray, n_users: int) -> np.ndarray:
    if users is None:
        return np.flatnonzero(n_rel > 0).astype(np.int64)
    u = np.atleast_1d(np.asarray(users))
    if u.size == 0:
        return np.zeros(0, dtype=np.int64)
    if u.ndim != 1 or not np.issubdtype(u.dtype, np.integer):
        raise ValueError(f"users must be a 1-D array of internal user indices, got "
                         f"{u.dtype} {u.shape}")
    u = u.astype(np.int64)
    bad = np.flatnonzero((u < 0) | (u >= n_users))
    if bad.size:
        raise ValueError(f"user index {u[bad[0]]} is out of range [0, {n_users})")
    if np.unique(u).size != u.size:
        raise ValueError("users holds a user more than once")
    return u[n_rel[u] > 0]


def _ideal_dcg(rel_users, rel_gain, n_rel, n_users, k, disc) -> np.ndarray:
    """IDCG@k per user: the k largest gains, in descending order, discounted."""
    if rel_gain is None:
        cum = np.concatenate([[0.0], np.cumsum(disc)])
        return cum[np.minimum(n_rel, k)]
    order = np.lexsort((-rel_gain, rel_users))
    start = np.concatenate([[0], np.cumsum(n_rel)[:-1]])
    rank = np.arange(order.size) - start[rel_users[order]]
    top = rank < k
    return np.bincount(rel_users[order][top], weights=rel_gain[order][top] * disc[rank[top]],
                       minlength=n_users)


def _scores(score_fn, users: np.ndarray, n_items: int) -> np.ndarray:
    s = np.asarray(score_fn(users))
    if s.shape != (users.size, n_items):
        raise ValueError(f"score_fn returned shape {s.shape} for {users.size} users; expected "
                         f"({users.size}, {n_items})")
    dtype = s.dtype if s.dtype in (np.float32, np.float64) else np.float64
    # A copy: the exclusions below must not write into the model's own arrays.
    return np.array(s, dtype=dtype, order="C", copy=True)


def _rows_items(indptr, indices, users) -> tuple[np.ndarray, np.ndarray]:
    """(batch row, item) of every training rating of ``users``, without a Python loop."""
    starts = indptr[users].astype(np.int64)
    counts = indptr[users + 1].astype(np.int64) - starts
    rows = np.repeat(np.arange(users.size), counts)
    offsets = np.arange(counts.sum()) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return rows, indices[offsets]


def _batch_metrics(rec, users, rel_keys, rel_gain, n_rel, idcg, disc, n_items, k, out):
    valid = rec >= 0
    keys = users[:, None] * n_items + rec
    pos = np.searchsorted(rel_keys, keys)
    pos = np.minimum(pos, rel_keys.size - 1)
    hit = valid & (rel_keys[pos] == keys)
    n_hit = hit.sum(axis=1)
    if "precision" in out:
        out["precision"][:] = n_hit / k
    if "recall" in out:
        out["recall"][:] = n_hit / n_rel
    if "hit" in out:
        out["hit"][:] = n_hit > 0
    if "ndcg" in out:
        gain = hit.astype(np.float64) if rel_gain is None else np.where(hit, rel_gain[pos], 0.0)
        dcg = gain @ disc
        with np.errstate(invalid="ignore", divide="ignore"):
            out["ndcg"][:] = np.where(idcg > 0, dcg / idcg, 0.0)
    if "map" in out:
        prec = np.cumsum(hit, axis=1) / np.arange(1, k + 1)
        out["map"][:] = (prec * hit).sum(axis=1) / np.minimum(n_rel, k)
    if "mrr" in out:
        first = np.argmax(hit, axis=1)
        out["mrr"][:] = np.where(n_hit > 0, 1.0 / (first + 1), 0.0)


# ---------------------------------------------------------------------- rating prediction
def rating_predictor(model, test: Dataset) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The ``predict_fn`` of ``model`` for :func:`evaluate_ratings` on ``test``: its
    ``predict``, given the test ratings' timestamps when the model declares
    ``uses_timestamps`` (timeSVD++ scores a rating at its own day)."""
    if getattr(model, "uses_timestamps", False):
        times = test.timestamps

        def predict(users, items):
            return model.predict(users, items, times=times)
        return predict
    return model.predict


def evaluate_ratings(predict_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
                     test: Dataset) -> RatingResult:
    """RMSE and MAE of ``predict_fn`` on every test rating, overall and per user.

    Parameters
    ----------
    predict_fn : callable
        ``predict_fn(users, items) -> ndarray (n,)``: predictions for internal index pairs
        (int64 arrays), e.g. ``model.predict``.
    test : Dataset

    Raises
    ------
    ValueError
        If ``test`` is empty, the predictions have the wrong shape, or a prediction is NaN
        or infinite (the message names the raw user and item ids).
    """
    if not isinstance(test, Dataset):
        raise TypeError("test must be a recsys Dataset")
    if test.n_ratings == 0:
        raise ValueError("the test set has no ratings")
    u = test.users.astype(np.int64)
    i = test.items.astype(np.int64)
    pred = np.asarray(predict_fn(u, i), dtype=np.float64)
    if pred.shape != u.shape:
        raise ValueError(f"predict_fn returned shape {pred.shape} for {u.size} pairs")
    bad = np.flatnonzero(~np.isfinite(pred))
    if bad.size:
        b = bad[0]
        raise ValueError(f"predict_fn returned {pred[b]} for user "
                         f"{_plain(test.user_ids[u[b]])!r}, item {_plain(test.item_ids[i[b]])!r}")
    truth = test.ratings.astype(np.float64)
    users, inv = np.unique(u, return_inverse=True)
    err = pred - truth
    cnt = np.bincount(inv, minlength=users.size)
    per_rmse = np.sqrt(np.bincount(inv, weights=err ** 2, minlength=users.size) / cnt)
    per_mae = np.bincount(inv, weights=np.abs(err), minlength=users.size) / cnt
    return RatingResult(rmse=rmse(truth, pred), mae=mae(truth, pred), per_user_rmse=per_rmse,
                        per_user_mae=per_mae, users=users, predictions=pred)
