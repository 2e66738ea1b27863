"""Sampled ranking next to full ranking, with the correction of Krichene & Rendle (KDD 2020).

The NCF-era protocol (He et al. 2017) ranks each held-out item among ``m`` sampled
irrelevant items (often 100) instead of the whole catalogue. Krichene & Rendle, "On Sampled
Metrics for Item Recommendation" (KDD 2020), show that the sampled metrics are inconsistent
with the full ones (they can reverse the order of two models, even in expectation) and
propose corrected estimators. This module measures, for every relevant test item, its
**full rank** ``r`` among all the user's candidate items and its **sampled rank** ``r~``
among ``m`` negatives drawn from them, and reports three versions of HR@k and NDCG@k:

- ``full_*``: the metric of the full rank (what sampling tries to estimate);
- ``sampled_*``: the metric of the sampled rank (what papers using the protocol report);
- ``corrected_*``: the bias-variance corrected metric of Krichene & Rendle.

Item-wise metrics
    With one relevant item at rank ``r``: ``HR@k = [r <= k]``, ``NDCG@k = [r <= k] /
    log2(r + 1)``. A user with several relevant test items gets the mean over them, each
    ranked on its own among the user's negatives (the other relevant items are not
    candidates), as Krichene & Rendle define metrics of a set of relevant items. Under
    leave-one-out this is the usual full-ranking HR and NDCG.

Negatives
    The candidate negatives of user ``u`` are the items ``u`` rated neither in train nor in
    test (within ``candidates`` when given), ``N_u`` of them. For each relevant item,
    ``min(m, N_u)`` of them are drawn without replacement (as in NCF; ``replace=True``
    draws with replacement), uniformly or with probability proportional to the training
    popularity (``sampling="popularity"``, the successive sampling of the Gumbel top-m
    trick). The draws depend only on the data and the seed, never on the scores, so every
    model is ranked against the same negatives.

The correction (bias-variance estimator)
    Under uniform sampling, the number of sampled negatives above an item at full rank
    ``r`` follows a known law: ``P(r~ = j + 1 | r) = Hypergeom(N, r - 1, m)(j)`` without
    replacement, ``Binomial(m, (r - 1) / N)(j)`` with. Krichene & Rendle replace the metric
    ``M(r~)`` of the sampled rank by a value ``x_{r~}`` chosen to minimise, over the true
    ranks weighted by ``w_r`` (uniform, ``1 / N``), the squared bias plus ``gamma`` times
    the variance::

        x = argmin_x  sum_r w_r [ (E[x_{r~} | r] - M(r))^2 + gamma Var[x_{r~} | r] ]

    With ``A[r, j] = P(r~ = j + 1 | r)``, ``W = diag(w)`` and ``c = A^T w``, setting the
    gradient to zero gives their closed form::

        x = [ (1 - gamma) A^T W A + gamma diag(c) ]^{-1} A^T W M

    ``gamma = 0`` is their minimal-bias estimator (least squares), ``gamma = 1`` the
    posterior mean ``E[M(R) | r~]`` under the uniform prior; the default 0.1 is a
    bias-variance trade-off between them, of the kind they recommend. One table serves
    every user: it is built for ``N`` = the mean ``N_u`` of the ranked items (rounded), an
    approximation where pool sizes differ (users rate different numbers of items; exact
    when they are equal). The correction assumes uniform sampling, so with
    ``sampling="popularity"`` the ``corrected_*`` values are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.stats

from recsys.dataset import Dataset
from recsys.metrics import _check_k, mean_ci
from recsys.validation import as_generator

__all__ = ["SampledResult", "evaluate_sampled", "sampled_rank_law", "corrected_metric",
           "rank_metric", "SAMPLINGS", "SAMPLED_METRICS"]

SAMPLINGS = ("uniform", "popularity")
#: The metrics of every rank: HR@k and NDCG@k.
SAMPLED_METRICS = ("hit", "ndcg")
#: The three versions of each.
VERSIONS = ("full", "sampled", "corrected")


@dataclass
class SampledResult:
    """What :func:`evaluate_sampled` measured.

    Attributes
    ----------
    users : int64 (n_evaluated,)
        Users with at least one relevant test item.
    per_user : dict[str, float64 ndarray]
        ``"full_hit@10"``, ``"sampled_hit@10"``, ``"corrected_hit@10"``, the same for
        ``ndcg@10``: per user, the mean over their relevant items; aligned with ``users``.
    means, ci : dict
        Mean over users and its 95% Student-t interval.
    full_ranks, sampled_ranks : int64 (n_ranked,)
        Every ranked (user, item) pair's ranks, 1 = best; ``pair_users`` says whose.
    pair_users : int64 (n_ranked,)
    n_pool : int
        The ``N`` of the correction table (mean pool size, rounded).
    k, n_negatives, sampling, gamma
        The settings.
    """

    users: np.ndarray
    per_user: dict[str, np.ndarray]
    means: dict[str, float]
    ci: dict[str, tuple[float, float]]
    full_ranks: np.ndarray
    sampled_ranks: np.ndarray
    pair_users: np.ndarray
    n_pool: int
    k: int
    n_negatives: int
    sampling: str
    gamma: float


def rank_metric(name: str, ranks, k: int) -> np.ndarray:
    """HR@k (``"hit"``) or NDCG@k (``"ndcg"``) of one relevant item at each 1-based rank."""
    r = np.asarray(ranks, dtype=np.float64)
    top = r <= k
    if name == "hit":
        return top.astype(np.float64)
    if name == "ndcg":
        return np.where(top, 1.0 / np.log2(r + 1.0), 0.0)
    raise ValueError(f"unknown sampled metric {name!r}; choose from {list(SAMPLED_METRICS)}")


def sampled_rank_law(n_pool: int, m: int, replace: bool = False) -> np.ndarray:
    """``A[r - 1, j] = P(r~ = j + 1 | r)``, shape (n_pool + 1, m + 1): the law of the sampled
    rank of an item at full rank ``r`` (1..n_pool + 1) when ``m`` of the ``n_pool``
    negatives are drawn uniformly (without replacement: hypergeometric; with: binomial)."""
    n_pool = _check_k(n_pool, "n_pool")
    m = _check_k(m, "m")
    if not replace and m > n_pool:
        raise ValueError(f"cannot draw m={m} of {n_pool} negatives without replacement")
    above = np.arange(n_pool + 1)[:, None]   # r - 1 negatives above the item
    j = np.arange(m + 1)[None, :]
    if replace:
        return scipy.stats.binom.pmf(j, m, above / n_pool)
    return scipy.stats.hypergeom.pmf(j, n_pool, above, m)


def corrected_metric(name: str, k: int, n_pool: int, m: int, gamma: float = 0.1,
                     replace: bool = False) -> np.ndarray:
    """The bias-variance corrected value ``x[j]`` of the metric at sampled rank ``j + 1``
    (Krichene & Rendle 2020; the equation is in the module docstring), float64 (m + 1,)."""
    if isinstance(gamma, bool) or not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    a = sampled_rank_law(n_pool, m, replace)
    w = np.full(a.shape[0], 1.0 / a.shape[0])
    target = rank_metric(name, np.arange(1, a.shape[0] + 1), k)
    c = a.T @ w
    lhs = (1.0 - gamma) * (a.T * w) @ a + gamma * np.diag(c)
    rhs = (a.T * w) @ target
    if gamma > 0 and np.all(c > 0):
        return np.linalg.solve(lhs, rhs)
    return np.linalg.lstsq(lhs, rhs, rcond=None)[0]


def _check_args(train, test, n_negatives, sampling, gamma, candidates):
    if not isinstance(train, Dataset) or not isinstance(test, Dataset):
        raise TypeError("train and test must be recsys Datasets")
    if not train.same_mapping(test):
        raise ValueError("train and test do not share id maps; split one Dataset")
    n_negatives = _check_k(n_negatives, "n_negatives")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {list(SAMPLINGS)}, got {sampling!r}")
    if isinstance(gamma, bool) or not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    allowed = np.ones(train.n_items, dtype=bool)
    if candidates is not None and not isinstance(candidates, str):
        mask = np.asarray(candidates)
        if mask.dtype != bool or mask.shape != (train.n_items,):
            raise ValueError(f"a candidates mask must be bool of shape ({train.n_items},), "
                             f"got {mask.dtype} {mask.shape}")
        allowed = mask
    elif candidates not in (None, "unrated"):
        raise ValueError(f"candidates must be 'unrated' or a bool mask, got {candidates!r}")
    return n_negatives, allowed


def _draw(rng, pool: np.ndarray, weights: np.ndarray | None, n_rows: int, m: int,
          replace: bool) -> np.ndarray:
    """(n_rows, m) draws from ``pool``: uniform or weighted, with or without replacement."""
    if replace:
        p = None if weights is None else weights / weights.sum()
        return pool[rng.choice(pool.size, size=(n_rows, m), replace=True, p=p)]
    keys = rng.random((n_rows, pool.size))
    if weights is not None:  # Gumbel top-m: successive sampling proportional to weights
        with np.errstate(divide="ignore"):
            keys = np.log(weights)[None, :] - np.log(-np.log(keys))
        keys = -keys
    idx = np.argpartition(keys, m - 1, axis=1)[:, :m] if m < pool.size else \
        np.broadcast_to(np.arange(pool.size), (n_rows, pool.size))
    return pool[idx]


def _above(scores: np.ndarray, items: np.ndarray, others: np.ndarray) -> np.ndarray:
    """How many of ``others`` (rows aligned with ``items``) rank above each item: a higher
    score, or an equal one at a lower index (the ascending-index tie-break of top-N)."""
    s = scores[items][:, None]
    o = scores[others]
    return ((o > s) | ((o == s) & (others < items[:, None]))).sum(axis=1)


def evaluate_sampled(score_fn: Callable[[np.ndarray], np.ndarray], train: Dataset,
                     test: Dataset, k: int = 10, n_negatives: int = 100,
                     sampling: str = "uniform", replace: bool = False, gamma: float = 0.1,
                     relevance_threshold: float | None = 4.0, seed=0, candidates=None,
                     batch_size: int = 256) -> SampledResult:
    """Full, sampled and corrected HR@k and NDCG@k of a scoring function (module docstring).

    Parameters
    ----------
    score_fn : callable
        ``score_fn(users) -> (len(users), n_items)`` scores, higher is better (e.g.
        ``model.score_items``); NaN is treated as -inf.
    train, test : Dataset
        Sharing id maps. Relevant: test ratings ``>= relevance_threshold`` (None: all).
    k : int
        The cut-off.
    n_negatives : int
        ``m``, negatives per ranked item (fewer for a user with fewer candidates).
    sampling : "uniform" or "popularity"
    replace : bool
        Draw with replacement (Krichene & Rendle's analysis) or without (NCF's practice).
    gamma : float in [0, 1]
        The bias-variance trade-off of the correction.
    seed : int, Generator or None
        The negatives' draws.
    candidates : None, "unrated" or bool mask (n_items,)
        Restrict the negatives (and the full ranking) to these items.

    Returns
    -------
    SampledResult

    Raises
    ------
    ValueError
        Bad arguments (each named), popularity sampling when no item has a training rating,
        scores of the wrong shape.
    """
    k = _check_k(k)
    m, allowed = _check_args(train, test, n_negatives, sampling, gamma, candidates)
    batch_size = _check_k(batch_size, "batch_size")
    rng = as_generator(seed)
    weights = None
    if sampling == "popularity":
        weights = train.item_counts.astype(np.float64)
        if not (weights[allowed] > 0).any():
            raise ValueError("popularity sampling: no candidate item has a training rating")
    tr, te = train.csr, test.csr
    rel = np.ones(te.nnz, dtype=bool) if relevance_threshold is None else (
        te.data >= relevance_threshold)
    row_of = np.repeat(np.arange(test.n_users, dtype=np.int64), np.diff(te.indptr))
    n_rel = np.bincount(row_of[rel], minlength=test.n_users)
    users = np.flatnonzero(n_rel > 0).astype(np.int64)

    pair_users, full, sampled, pools = [], [], [], []
    for lo in range(0, users.size, batch_size):
        ub = users[lo:lo + batch_size]
        s_all = np.asarray(score_fn(ub), dtype=np.float64)
        if s_all.shape != (ub.size, train.n_items):
            raise ValueError(f"score_fn returned shape {s_all.shape} for {ub.size} users; "
                             f"expected ({ub.size}, {train.n_items})")
        for row, u in enumerate(ub):
            scores = np.where(np.isnan(s_all[row]), -np.inf, s_all[row])
            t_items = te.indices[te.indptr[u]:te.indptr[u + 1]]
            items = t_items[rel[te.indptr[u]:te.indptr[u + 1]]].astype(np.int64)
            ok = allowed.copy()
            ok[tr.indices[tr.indptr[u]:tr.indptr[u + 1]]] = False
            ok[t_items] = False
            pool = np.flatnonzero(ok)
            if pool.size == 0:  # nothing to rank against: rank 1 in both
                full.append(np.ones(items.size, np.int64))
                sampled.append(np.ones(items.size, np.int64))
            else:
                w = None
                if weights is not None:
                    w = weights[pool]
                    if not (w > 0).any():
                        w = np.ones(pool.size)
                full.append(1 + _above(scores, items, np.broadcast_to(pool, (items.size,
                                                                             pool.size))))
                mu = m if replace else min(m, pool.size)
                if w is not None and not replace:
                    mu = min(mu, int((w > 0).sum()))
                neg = _draw(rng, pool, w, items.size, mu, replace)
                sampled.append(1 + _above(scores, items, neg))
            pools.append(np.full(items.size, pool.size, dtype=np.int64))
            pair_users.append(np.full(items.size, u, dtype=np.int64))

    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64))
    pair_users, full, sampled, pools = cat(pair_users), cat(full), cat(sampled), cat(pools)
    n_pool = int(round(pools.mean())) if pools.size else 0
    per_pair = {}
    for name in SAMPLED_METRICS:
        per_pair[f"full_{name}@{k}"] = rank_metric(name, full, k)
        per_pair[f"sampled_{name}@{k}"] = rank_metric(name, sampled, k)
        if sampling == "uniform" and n_pool >= 1 and pools.size:
            mm = m if replace else min(m, n_pool)
            table = corrected_metric(name, k, n_pool, mm, gamma, replace)
            per_pair[f"corrected_{name}@{k}"] = table[np.minimum(sampled, mm + 1) - 1]
        else:
            per_pair[f"corrected_{name}@{k}"] = np.full(full.size, np.nan)
    inv = np.searchsorted(users, pair_users)
    counts = np.bincount(inv, minlength=users.size).astype(np.float64)
    per_user, means, ci = {}, {}, {}
    for key, v in per_pair.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            per_user[key] = np.bincount(inv, weights=v, minlength=users.size) / counts
        if np.isnan(per_user[key]).any():
            means[key], ci[key] = float("nan"), (float("nan"), float("nan"))
        else:
            mean, lower, upper = mean_ci(per_user[key])
            means[key], ci[key] = mean, (lower, upper)
    return SampledResult(users=users, per_user=per_user, means=means, ci=ci,
                         full_ranks=full, sampled_ranks=sampled, pair_users=pair_users,
                         n_pool=n_pool, k=k, n_negatives=m, sampling=sampling,
                         gamma=float(gamma))
