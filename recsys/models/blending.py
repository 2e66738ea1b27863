"""Blend weights fitted on validation data, for :class:`~recsys.models.hybrid.Hybrid`.

Two fits, one for each kind of member:

- rating members (:func:`rating_weights`): the weights minimise the squared error of the
  blend on the validation ratings subject to ``w >= 0, sum w = 1``
  (:func:`simplex_least_squares`, exact). Every single member is a feasible point, so the
  blend's validation RMSE is never above the best member's;
- ranking members (:func:`ranking_weights`): the weights maximise the validation NDCG@10 of
  the blend (:func:`recsys.evaluation.evaluate_topn`) over a simplex grid
  (:func:`simplex_grid`).

Both take member scores as arrays and the validation data as Datasets: which members, which
pairs and which users are the caller's choice.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from recsys.dataset import Dataset
from recsys.evaluation import evaluate_topn

__all__ = ["MAX_LSQ_MEMBERS", "simplex_least_squares", "simplex_grid", "spread",
           "rating_weights", "ranking_weights"]

#: Most columns :func:`simplex_least_squares` takes (it enumerates ``2^M`` supports).
MAX_LSQ_MEMBERS = 12


def simplex_least_squares(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``argmin_w |y - P w|^2`` subject to ``w >= 0`` and ``sum w = 1``, exactly.

    For every support ``S`` (subset of the columns) the equality-constrained problem is solved
    through its KKT system ``[[G_SS, 1], [1^T, 0]] [w; l] = [b_S; 1]`` (``G = P^T P``,
    ``b = P^T y``); the best feasible (non-negative) solution over all supports is the optimum
    of the convex problem. Cost: ``2^M`` solves of size ``M``, after one ``O(n M^2)`` Gram.

    Parameters
    ----------
    P : float ndarray (n, M), M <= 12
    y : float ndarray (n,)

    Returns
    -------
    float64 ndarray (M,), non-negative, summing to 1.
    """
    P = np.asarray(P, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    M = P.shape[1]
    if not 1 <= M <= MAX_LSQ_MEMBERS:
        raise ValueError(f"simplex_least_squares takes 1 to {MAX_LSQ_MEMBERS} columns, got {M}")
    G, b = P.T @ P, P.T @ y
    best, best_sse = None, 0.0
    for size in range(1, M + 1):
        for support in combinations(range(M), size):
            s = list(support)
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = G[np.ix_(s, s)]
            kkt[:size, size] = kkt[size, :size] = 1.0
            rhs = np.append(b[s], 1.0)
            w_s = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:size]
            if (w_s < -1e-10).any() or not np.isfinite(w_s).all():
                continue
            w = np.zeros(M)
            w[s] = np.maximum(w_s, 0.0)
            w /= w.sum()
            sse = float(w @ G @ w - 2 * b @ w)  # |y - Pw|^2 minus the constant |y|^2
            if best is None or sse < best_sse - 1e-12 * max(1.0, abs(best_sse)):
                best, best_sse = w, sse
    return best


def simplex_grid(M: int) -> np.ndarray:
    """Points of the simplex whose coordinates are multiples of ``1/steps``: float64
    (n_points, M), with ``steps`` 10 for two or three members, 5 for four or five, else 2."""
    steps = 10 if M <= 3 else (5 if M <= 5 else 2)
    points = []

    def rec(prefix, left, slots):
        if slots == 1:
            points.append(prefix + [left])
            return
        for v in range(left + 1):
            rec(prefix + [v], left - v, slots - 1)

    rec([], steps, M)
    return np.array(points, dtype=np.float64) / steps


def spread(scores: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the finite scores (0 and 1 when undefined; a zero
    deviation counts as 1)."""
    finite = scores[np.isfinite(scores)]
    if not finite.size:
        return 0.0, 1.0
    sd = float(finite.std())
    return float(finite.mean()), (sd if sd > 0 else 1.0)


def rating_weights(P: np.ndarray, y: np.ndarray,
                   rating_scale: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Simplex weights of least squared error for rating members.

    Parameters
    ----------
    P : float64 (n, M)
        Each member's predictions (clipped to the scale) for the n validation ratings.
    y : float (n,)
        The validation ratings.
    rating_scale : (float, float)
        The blend is clipped to it for its RMSE.

    Returns
    -------
    weights : float64 (M,), non-negative, summing to 1
    rmse : float64 (M + 1,)
        Validation RMSE of each member and, last, of the blend.
    """
    y = np.asarray(y, dtype=np.float64)
    w = simplex_least_squares(P, y)
    blend = np.clip(P @ w, *rating_scale)
    rmses = [np.sqrt(np.mean((P[:, j] - y) ** 2)) for j in range(P.shape[1])]
    return w, np.array(rmses + [np.sqrt(np.mean((blend - y) ** 2))])


def ranking_weights(rows: list[np.ndarray], users: np.ndarray, train: Dataset,
                    validation: Dataset, threshold: float | None,
                    override: tuple[int, np.ndarray] | None = None,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`simplex_grid` point whose blend has the best validation NDCG@10.

    Parameters
    ----------
    rows : list of M float64 ndarrays (len(users), n_items)
        Each member's scores for ``users``, on comparable scales (standardised).
    users : int64 (n,)
        The validation users the rows belong to (unique), the ones evaluated.
    train, validation : Dataset
        The members' training data (its items are excluded from the lists) and the held-out
        ratings, with the same id maps.
    threshold : float or None
        Validation ratings at or above it are relevant (None: all).
    override : (member index, bool ndarray (n_items,)), optional
        Columns where that member's scores replace the blend's (the hybrid's switch model on
        cold items).

    Returns
    -------
    weights : float64 (M,), a grid point
    ndcg : float64 (M + 1,)
        Validation NDCG@10 of each member alone and, last, of the chosen blend.
    """
    position = np.full(train.n_users, -1, dtype=np.int64)
    position[users] = np.arange(len(users))
    grid = simplex_grid(len(rows))
    ndcg = np.empty(len(grid))
    for g, w in enumerate(grid):
        blend = sum(w[j] * rows[j] for j in range(len(rows)) if w[j] > 0)
        if override is not None:
            j, columns = override
            blend[:, columns] = rows[j][:, columns]
        result = evaluate_topn(lambda u, b=blend: b[position[u]], train, validation, k=10,
                               relevance_threshold=threshold, users=users, metrics=("ndcg",))
        ndcg[g] = result.means["ndcg@10"]
    best = int(np.argmax(ndcg))
    singles = [ndcg[int(np.flatnonzero(grid[:, j] == 1.0)[0])] for j in range(len(rows))]
    return grid[best], np.array(singles + [ndcg[best]])
