"""Rank fusion of top-N recommenders: :class:`RankFusion`.

With fitted members ``m = 0 .. M-1`` and weights ``w_m`` (non-negative, summing to 1)::

    score(u, i) = sum_m w_m f(m, u, i)

where ``f`` turns member ``m``'s scores of user ``u`` into a value comparable across members:

- ``"rrf"`` (reciprocal rank fusion, Cormack, Clarke & Buettcher, SIGIR 2009):
  ``f = 1 / (rrf_k + rank)``, with ``rank`` 1-based among the items the user did not rate in
  training (rated items rank after every unrated one, in the member's order);
- ``"borda"``: ``f = 1 - (rank - 1) / n_items`` (a linear Borda count);
- ``"zscore"``: the score standardised over the user's unrated items,
  ``(s - mean) / sd`` (CombSUM of normalised scores, Fox & Shaw 1994, with a z-score).

Ties in a member's scores rank by ascending item index (as the top-N lists do).

Weights
-------
Given ``weights`` are normalised to sum to 1. With ``weights=None`` they are fitted on a
validation split carved from the training data (:func:`recsys.split.holdout`,
``validation_fraction`` of the ratings, ``seed``): every member is fitted on the rest, and a
coordinate search on the simplex maximises the validation NDCG@10 of the fusion (relevant =
validation ratings >= 4 where the rating scale reaches 4, else every validation rating): it
starts from the best of the single members and the uniform weights, then changes one weight
at a time (multiplied by 0, 0.5, 0.7, 1.4 or 2, or raised from 0 to 0.1 or 0.3 of the total)
and keeps a change when the NDCG@10 rises by more than 1e-5, until no change does (at most
``max_rounds`` rounds). Every single member is a candidate, so the fusion's validation
NDCG@10 is never below the best member's. The members are then refitted on all of the
training data; ``validation_scores_`` keeps the validation NDCG@10 of each member and, last,
of the fusion.

Members, persistence and parameter reporting are :class:`~recsys.models.hybrid.Hybrid`'s
(members are specs or models, saved in one ``.npz`` under ``m<index>__``); there is no
switching rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys.dataset import Dataset
from recsys.evaluation import evaluate_topn
from recsys.models.hybrid import Hybrid, member_new_scores, member_rows
from recsys.models.registry import register
from recsys.split import holdout
from recsys.threads import numba_threads, threads_for
from recsys.validation import as_generator, check_choice, check_number

__all__ = ["RankFusion", "fuse_rows"]

METHODS = ("rrf", "borda", "zscore")
_FACTORS = (0.0, 0.5, 0.7, 1.4, 2.0)
_RAISES = (0.1, 0.3)
_MIN_GAIN = 1e-5


def fuse_rows(scores: np.ndarray, seen: np.ndarray, method: str, rrf_k: float
              ) -> np.ndarray:
    """One member's score rows as the fusion's values ``f`` (module notes).

    Parameters
    ----------
    scores : float64 (n, n_items)
        The member's scores of n users.
    seen : bool (n, n_items)
        The items each user rated in training: ranked after every other item, and left
        out of the z-score's mean and deviation.
    method : {"rrf", "borda", "zscore"}
    rrf_k : float
        The constant of reciprocal rank fusion.

    Returns
    -------
    float64 (n, n_items). For "zscore", 0 where a user's unrated scores are all equal (and
    for rated items, -inf-safe: a non-finite score counts as the lowest).
    """
    s = np.array(scores, dtype=np.float64)
    s[~np.isfinite(s)] = -np.inf
    n, n_items = s.shape
    if method == "zscore":
        free = ~seen & np.isfinite(s)
        count = free.sum(axis=1)
        filled = np.where(free, s, 0.0)
        mean = filled.sum(axis=1) / np.maximum(count, 1)
        dev = np.where(free, s - mean[:, None], 0.0)
        sd = np.sqrt((dev ** 2).sum(axis=1) / np.maximum(count, 1))
        sd[sd <= 0] = 1.0
        out = (s - mean[:, None]) / sd[:, None]
        low = np.where(free, out, np.inf).min(axis=1, initial=np.inf)
        low[~np.isfinite(low)] = 0.0
        out[~free] = low[np.nonzero(~free)[0]] - 1.0  # below every unrated item
        return out
    # Rank: unrated items by descending score (ties by index), then the rated ones in the
    # same order (two stable sorts: by score, then by rated-or-not).
    by_score = np.argsort(-s, axis=1, kind="stable")
    order = np.take_along_axis(
        by_score, np.argsort(np.take_along_axis(seen, by_score, axis=1), axis=1, kind="stable"),
        axis=1)
    ranks = np.empty((n, n_items), dtype=np.float64)
    np.put_along_axis(ranks, order, np.arange(1, n_items + 1, dtype=np.float64)[None, :]
                      .repeat(n, axis=0), axis=1)
    if method == "rrf":
        return 1.0 / (float(rrf_k) + ranks)
    return 1.0 - (ranks - 1.0) / n_items


@register
class RankFusion(Hybrid):
    """Weighted fusion of the rankings of top-N recommenders (module notes).

    Parameters
    ----------
    models : list of Recommender or spec dicts
        The members, unfitted (cloned; a spec is ``{"class": "EASE", "params": {...}}``).
    weights : list of float or None, default None
        Fusion weights (non-negative, positive sum), or None to fit them on a validation
        split carved from the training data.
    method : {"rrf", "borda", "zscore"}, default "rrf"
        How a member's scores become comparable values.
    rrf_k : float, default 60
        The constant of reciprocal rank fusion (Cormack et al. use 60).
    validation_fraction : float, default 0.2
        Share of the training ratings held out to fit the weights.
    max_rounds : int, default 4
        Rounds of the coordinate search.
    seed : int, numpy Generator or None, default 0
        Seeds the validation split.

    Attributes
    ----------
    members_ : list of Recommender
        The members fitted on all of the training data.
    weights_ : float64 (M,)
    validation_scores_ : float64 (M + 1,)
        Validation NDCG@10 of each member and, last, of the fusion; NaN when the weights
        were given.

    Notes
    -----
    Scores rank items and are not ratings. A user unknown to the training data gets each
    member's own fallback row (nothing counts as rated). ``recommend_new_user`` fuses the
    members' new-user rows (the given items count as rated) when every member of positive
    weight can score a new user.
    """

    _fitted_arrays = ("weights_", "validation_scores_")
    _nan_allowed = ("validation_scores_",)

    def __init__(self, models, weights=None, method: str = "rrf", rrf_k: float = 60.0,
                 validation_fraction: float = 0.2, max_rounds: int = 4,
                 seed: int | np.random.Generator | None = 0):
        self.models = models
        self.weights = weights
        self.method = method
        self.rrf_k = rrf_k
        self.validation_fraction = validation_fraction
        self.max_rounds = max_rounds
        self.seed = seed

    predicts_ratings = False

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        check_choice("method", self.method, METHODS)
        check_number("rrf_k", self.rrf_k, 0.0)
        check_number("validation_fraction", self.validation_fraction, 0.0, strict=True)
        if self.validation_fraction >= 1:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction}")
        check_number("max_rounds", self.max_rounds, 0, integer=True)

    def _fit(self, train: Dataset) -> None:
        members = self._prototypes()
        self._check_params()
        n = len(members)
        scores = np.full(n + 1, np.nan)
        if self.weights is not None:
            weights = self._given_weights(n)
        elif n == 1:
            weights = np.ones(1)
        else:
            fold = holdout(train, self.validation_fraction, seed=as_generator(self.seed))[0]
            fitted = [m.clone().fit(fold.train) for m in members]
            weights, scores = self._search(fitted, fold.train, fold.test)
        self.members_ = [m.clone().fit(train) for m in members]
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.validation_scores_ = scores
        self.switch_index_ = -1
        self._prepare()

    def _search(self, fitted, part: Dataset, val: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """The coordinate search of the module notes: (weights, validation NDCG@10 of each
        member and of the fusion)."""
        threshold = 4.0 if part.rating_scale[1] >= 4.0 else None
        rel = val.ratings >= threshold if threshold is not None else np.ones(val.n_ratings, bool)
        users = np.unique(val.users[rel]).astype(np.int64)
        if not len(users):
            raise ValueError("RankFusion: the validation split has no relevant rating to fit "
                             "the weights on; pass weights= or a larger validation_fraction")
        seen = _seen_rows(part, users)
        rows = [fuse_rows(member_rows(m, users), seen, self.method, self.rrf_k)
                for m in fitted]
        position = np.full(part.n_users, -1, dtype=np.int64)
        position[users] = np.arange(len(users))
        cache: dict[tuple, float] = {}

        def ndcg(w: np.ndarray) -> float:
            key = tuple(np.round(w, 12))
            if key not in cache:
                blend = sum(w[j] * rows[j] for j in range(len(rows)) if w[j] > 0)
                res = evaluate_topn(lambda u, b=blend: b[position[u]], part, val, k=10,
                                    relevance_threshold=threshold, users=users,
                                    metrics=("ndcg",))
                cache[key] = float(res.means["ndcg@10"])
            return cache[key]

        with numba_threads(threads_for(len(users) * part.n_items * 10)):  # the top-10 lists
            return self._coordinate_search(len(rows), ndcg)

    def _coordinate_search(self, M: int, ndcg) -> tuple[np.ndarray, np.ndarray]:
        singles = [ndcg(np.eye(M)[j]) for j in range(M)]
        best = np.eye(M)[int(np.argmax(singles))]
        if ndcg(np.full(M, 1.0 / M)) > ndcg(best):
            best = np.full(M, 1.0 / M)
        for _ in range(int(self.max_rounds)):
            improved = False
            for j in range(M):
                for w in _moves(best, j):
                    if ndcg(w) > ndcg(best) + _MIN_GAIN:
                        best, improved = w, True
            if not improved:
                break
        return best, np.array(singles + [ndcg(best)])

    # ------------------------------------------------------------------ scoring
    def _fused(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        seen = np.zeros((len(users), self.n_items_), dtype=bool)
        known = users >= 0
        if known.any():
            seen[known] = _seen_rows_csr(self.seen_indptr_, self.seen_indices_,
                                         users[known], self.n_items_)
        out = np.zeros((len(users), self.n_items_), dtype=np.float64)
        for j, w in enumerate(self.weights_):
            if w > 0:
                out += w * fuse_rows(member_rows(self.members_[j], users), seen, self.method,
                                     self.rrf_k)
        return out

    def _score_users(self, users):
        return self._fused(users)

    def _score(self, users, items):
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        uniq, inverse = np.unique(users, return_inverse=True)
        rows = self._fused(uniq)
        out = rows[inverse, np.maximum(items, 0)]
        if (items < 0).any():  # an unknown item: below every known one
            out[items < 0] = rows.min() - 1.0
        return out

    @property
    def capabilities(self) -> frozenset[str]:
        """``"new_user"`` when every member of positive weight (before fit: every member)
        can score a new user; nothing else."""
        members = self.__dict__.get("members_")
        if members is None:
            able = all(m.supports_new_user for m in self._new_members())
        else:
            able = all(m.supports_new_user for m, w in zip(members, self.weights_) if w > 0)
        return frozenset({"new_user"}) if able else frozenset()

    def _score_new_user(self, items, ratings):
        seen = np.zeros((1, self.n_items_), dtype=bool)
        seen[0, np.asarray(items, dtype=np.int64)] = True
        out = np.zeros(self.n_items_)
        for j, w in enumerate(self.weights_):
            if w > 0:
                row = member_new_scores(self.members_[j], items, ratings)[None, :]
                out += w * fuse_rows(row, seen, self.method, self.rrf_k)[0]
        return out

    def _extra_meta(self) -> dict[str, Any]:
        return {"switch_index_": -1, "members": [m._meta() for m in self.members_]}


def _moves(w: np.ndarray, j: int) -> list[np.ndarray]:
    """Neighbours of ``w`` on the simplex that change weight ``j`` (module notes)."""
    out = []
    if w[j] > 0:
        for f in _FACTORS:
            v = w.copy()
            v[j] *= f
            if v.sum() > 0 and f != 1.0:
                out.append(v / v.sum())
    else:
        for share in _RAISES:
            v = w * (1.0 - share)
            v[j] = share
            out.append(v)
    return out


def _seen_rows(ds: Dataset, users: np.ndarray) -> np.ndarray:
    m = ds.csr
    return _seen_rows_csr(m.indptr, m.indices, users, ds.n_items)


def _seen_rows_csr(indptr, indices, users: np.ndarray, n_items: int) -> np.ndarray:
    """Bool (len(users), n_items): the items each user rated in training."""
    out = np.zeros((len(users), n_items), dtype=bool)
    for r, u in enumerate(users):
        out[r, indices[indptr[u]:indptr[u + 1]]] = True
    return out
