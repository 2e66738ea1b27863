"""A weighted and switching hybrid of any recommenders: :class:`Hybrid`.

Blend
-----
With fitted members ``m = 0 .. M-1``, weights ``w_m`` (non-negative, summing to 1), offsets
``a_m`` and scales ``c_m``::

    score(u, i) = sum_m w_m z_m(u, i),    z_m = (s_m(u, i) - a_m) / c_m

where ``s_m`` is member ``m``'s score, clipped to the rating scale when the member predicts
ratings. When every member predicts ratings, ``a = 0`` and ``c = 1``: the blend is a convex
combination of predicted ratings (``predicts_ratings`` is True). Otherwise (a ranking member
among them) ``a_m`` and ``c_m`` are the mean and standard deviation of member ``m``'s scores
over (a sample of) the training users' score rows, so that members on different scales
blend sensibly, and the blend is a ranking signal (``predicts_ratings`` is False).

Switching
---------
One member, the *switch model* (``switch_model``: its index; by default the first
:class:`~recsys.models.content.ContentKNN` among the members, none if there is none), takes
over alone, ``score(u, i) = z_sw(u, i)``, for

- cold items: an item with no training rating (or unknown), which collaborative members can
  only score by a fallback, and
- cold users: a user with fewer than ``switch_min_ratings`` training ratings (or unknown).

With ``ContentKNN(features="tmdb")`` as the switch model a new movie gets a personal score
from its TMDB keywords, overview and genres (``benchmarks/tmdb_cold_start.py``).

Both rules are what the switch is for, and both have a price that
``benchmarks/content_hybrid_accuracy.py`` measures on ML-100K: in a ranking blend cold items
compete with warm ones on the standardised scale and take top-N slots (on u1 with ItemKNN-sum
at weight 1 they filled 23% of the top-10 lists and precision@10 fell from 0.315 to 0.278),
and a content model with three ratings of a user predicts worse than a collaborative model
that knows the items' average appeal (cold-user RMSE 1.15 against 1.05 with
``switch_min_ratings=0``). Point ``switch_model`` at a collaborative member, or set
``switch_min_ratings=0``, to turn either off.

Weights
-------
Given ``weights`` are normalised to sum to 1. With ``weights=None`` (and more than one
member) they are fitted on validation data (:mod:`recsys.models.blending`): held-out ratings
passed as ``fit(train, validation=...)`` (a Dataset with ``train``'s id maps, e.g. the test
part of a :mod:`recsys.split` fold of the data ``train`` came from), or else a part carved
from the training data (:func:`recsys.split.holdout` with ``validation_fraction`` and
``seed``). Every member is fitted on the training part, scored on the validation ratings, and

- rating members: the weights minimise the squared error of the blend on the validation
  ratings subject to ``w >= 0, sum w = 1`` (simplex-constrained least squares, solved exactly
  by enumerating the supports: at most 12 members). Every single member is a feasible point,
  so the blend's validation RMSE is never above the best member's;
- ranking members: the weights maximise validation NDCG@10 (relevant = validation ratings
  >= 4 where the scale reaches 4, else all) over a simplex grid (steps of 0.1 for two or
  three members, coarser for more).

Validation pairs (users) that the switching rule hands to the switch model are left out of the
fit (unless that leaves none), since the blend does not score them. With a carved validation
part the members are then refitted on all of the training data (with ``validation=`` they
already are). ``validation_scores_`` keeps the validation RMSE (or NDCG@10) of each member and
of the blend.

Persistence
-----------
One ``.npz``: the hybrid's own arrays, plus each member's learned arrays under the key prefix
``m<index>__`` (``m0__feature_data_``); each member's JSON document (class, hyperparameters,
scalars) sits in the hybrid's. Members share the hybrid's id maps and training matrix, which
are stored once. Nested hybrids work the same way (``m1__m0__...``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys.dataset import Dataset
from recsys.errors import ModelFileError, UnsupportedError
from recsys.models import persistence
from recsys.models.base import Recommender
from recsys.models.blending import (MAX_LSQ_MEMBERS, ranking_weights, rating_weights,
                                    simplex_least_squares, spread)
from recsys.models.registry import build_model, model_spec, register
from recsys.split import holdout
from recsys.validation import as_generator, check_number

__all__ = ["Hybrid", "model_spec", "simplex_least_squares"]

_SHARED = ("user_ids_", "item_ids_", "seen_indptr_", "seen_indices_", "seen_ratings_")
_SCALE_SAMPLE = 1000


@register
class Hybrid(Recommender):
    """Weighted blend of recommenders with a switching rule for cold items and users
    (module notes).

    Parameters
    ----------
    models : list of Recommender or spec dicts
        The members, unfitted (they are cloned; the objects passed are never fitted). A spec
        is ``{"class": "ContentKNN", "params": {...}}``, as in config files.
        :meth:`get_params` reports every member as a spec, so hyperparameters compare and
        serialise as plain data.
    weights : list of float or None, default None
        Blend weights (non-negative, positive sum; normalised to sum 1), or None to fit them
        on a validation split.
    switch_min_ratings : int, default 5
        Users with fewer training ratings are scored by the switch model alone (0: never).
    switch_model : int or None, default None
        Index of the switch model among ``models``; None takes the first ContentKNN, or
        disables switching when there is none.
    validation_fraction : float, default 0.1
        Share of the training ratings held out to fit the weights (``weights=None``).
    seed : int, numpy Generator or None, default 0
        Seeds the validation split and the user samples (weights, score scales).

    Attributes
    ----------
    members_ : list of Recommender
        The members fitted on all of the training data.
    weights_ : float64 (M,)
    offsets_, scales_ : float64 (M,)
        ``a_m`` and ``c_m`` of the module notes (0 and 1 for rating blends).
    validation_scores_ : float64 (M + 1,)
        Validation RMSE (rating members) or NDCG@10 (ranking members) of each member and,
        last, of the blend; NaN when the weights were given.
    switch_index_ : int
        The switch model's index, -1 without switching.

    Notes
    -----
    ``explain``, ``similar_items`` and ``recommend_new_user`` delegate: ``explain`` to the
    switch model for a switched pair, otherwise to the member with the largest weight that
    can explain (members of weight 0 are skipped); ``similar_items`` to the member with the
    largest weight that has an item similarity; ``recommend_new_user`` blends the members
    that can fold in a user (weights renormalised over them), or uses the switch model alone
    for fewer than ``switch_min_ratings`` ratings and for cold items. :attr:`capabilities`
    says which of the three a fitted hybrid can do this way.
    """

    _fitted_arrays = ("weights_", "offsets_", "scales_", "validation_scores_")
    _nan_allowed = ("validation_scores_",)  # NaN when the weights were given

    def __init__(self, models, weights=None, switch_min_ratings: int = 5,
                 switch_model: int | None = None, validation_fraction: float = 0.1,
                 seed: int | np.random.Generator | None = 0):
        self.models = models
        self.weights = weights
        self.switch_min_ratings = switch_min_ratings
        self.switch_model = switch_model
        self.validation_fraction = validation_fraction
        self.seed = seed

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params["models"] = [model_spec(m) for m in self.models]
        if self.weights is not None:
            params["weights"] = [float(w) for w in self.weights]
        return params

    def _prototypes(self) -> list[Recommender]:
        if isinstance(self.models, (str, bytes, dict)) or not hasattr(self.models, "__iter__"):
            raise TypeError(f"models must be a list of Recommenders or specs, got "
                            f"{type(self.models).__name__}")
        members = self._new_members()
        if not members:
            raise ValueError("a Hybrid needs at least one model")
        return members

    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        members = self.__dict__.get("members_")
        if members is None:
            members = self._prototypes()
        return all(m.predicts_ratings for m in members)

    def _switch_of(self, members: list[Recommender]) -> int:
        if self.switch_model is None:
            from recsys.models.content import ContentKNN
            return next((j for j, m in enumerate(members) if isinstance(m, ContentKNN)), -1)
        check_number("switch_model", self.switch_model, 0, integer=True)
        if self.switch_model >= len(members):
            raise ValueError(f"switch_model={self.switch_model} is not the index of one of the "
                             f"{len(members)} models")
        return int(self.switch_model)

    def _given_weights(self, n: int) -> np.ndarray:
        w = np.asarray(self.weights, dtype=np.float64).ravel()
        if w.shape != (n,):
            raise ValueError(f"weights has {w.size} entries for {n} models")
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got "
                             f"{list(self.weights)}")
        return w / w.sum()

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        check_number("switch_min_ratings", self.switch_min_ratings, 0, integer=True)
        check_number("validation_fraction", self.validation_fraction, 0.0, strict=True)
        if self.validation_fraction >= 1:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction}")

    def _fit(self, train: Dataset, validation: Dataset | None = None) -> None:
        """Fit the members and, with ``weights=None``, the weights (module notes): on
        ``validation`` (held-out ratings with ``train``'s id maps) where given."""
        members = self._prototypes()
        self._check_params()
        rng = as_generator(self.seed)
        sw = self._switch_of(members)
        rating = all(m.predicts_ratings for m in members)
        n = len(members)
        scores, fitted = np.full(n + 1, np.nan), None
        if self.weights is not None:
            weights = self._given_weights(n)
        elif n == 1:
            weights = np.ones(1)
        else:
            if rating and n > MAX_LSQ_MEMBERS:
                raise ValueError(f"fitting weights takes at most {MAX_LSQ_MEMBERS} models; "
                                 "pass weights= for more")
            part, held_out = self._validation_parts(train, validation, rng)
            fitted = [m.clone().fit(part) for m in members]
            fit_weights = self._rating_weights if rating else self._ranking_weights
            weights, scores = fit_weights(fitted, part, held_out, sw, rng)
        if fitted is None or validation is None:
            fitted = [m.clone().fit(train) for m in members]
        self.members_ = fitted
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.validation_scores_ = scores
        self.switch_index_ = sw
        if rating:
            self.offsets_, self.scales_ = np.zeros(n), np.ones(n)
        else:
            self.offsets_, self.scales_ = _standardisers(self.members_, train.n_users, rng)
        self._prepare()

    def _validation_parts(self, train: Dataset, validation: Dataset | None,
                          rng: np.random.Generator) -> tuple[Dataset, Dataset]:
        """(the members' training data, the held-out ratings) of the weight fit."""
        if validation is None:
            fold = holdout(train, self.validation_fraction, seed=rng)[0]
            return fold.train, fold.test
        if not isinstance(validation, Dataset):
            raise TypeError(f"validation must be a recsys Dataset, got "
                            f"{type(validation).__name__}")
        if not train.same_mapping(validation):
            raise ValueError("validation must share the training data's user and item id maps "
                             "(make both with recsys.split from one Dataset)")
        if not validation.n_ratings:
            raise ValueError("validation has no ratings")
        return train, validation

    def _prepare(self) -> None:
        """Derived state (counts for switching; the member arrays that ``save`` writes)."""
        self._user_counts = np.diff(self.seen_indptr_)
        self._item_counts = np.bincount(self.seen_indices_, minlength=self.n_items_)
        names = list(type(self)._fitted_arrays)
        for j, m in enumerate(self.members_):
            for name in m._fitted_arrays:
                setattr(self, f"m{j}__{name}", getattr(m, name))
                names.append(f"m{j}__{name}")
        self._fitted_arrays = tuple(names)

    def _cold_users(self, users, user_counts) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return (users < 0) | (user_counts[np.maximum(users, 0)] < self.switch_min_ratings)

    @staticmethod
    def _cold_items(items, item_counts) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        return (items < 0) | (item_counts[np.maximum(items, 0)] == 0)

    def _switched(self, users, items, user_counts, item_counts, sw) -> np.ndarray:
        """Which (user, item) pairs the switch model scores alone."""
        if sw < 0:
            return np.zeros(len(users), dtype=bool)
        return self._cold_users(users, user_counts) | self._cold_items(items, item_counts)

    def _rating_weights(self, fitted, part: Dataset, val: Dataset, sw, rng):
        """:func:`~recsys.models.blending.rating_weights` on the validation pairs the blend
        scores (all of them if the switch takes every one)."""
        P = np.column_stack([_member_pairs(m, val.users, val.items) for m in fitted])
        keep = ~self._switched(val.users, val.items, part.user_counts, part.item_counts, sw)
        if not keep.any():
            keep[:] = True
        return rating_weights(P[keep], val.ratings[keep], part.rating_scale)

    def _ranking_weights(self, fitted, part: Dataset, val: Dataset, sw, rng):
        """:func:`~recsys.models.blending.ranking_weights` over (a sample of) the validation
        users with a relevant rating, leaving out those the switch takes (unless all are),
        with each member's rows standardised and the switch model's cold-item columns."""
        threshold = 4.0 if part.rating_scale[1] >= 4.0 else None
        rel = val.ratings >= threshold if threshold is not None else np.ones(val.n_ratings, bool)
        users = np.unique(val.users[rel])
        if len(users) > _SCALE_SAMPLE:
            users = np.sort(rng.choice(users, _SCALE_SAMPLE, replace=False))
        if sw >= 0:
            warm = ~self._cold_users(users, part.user_counts)
            if warm.any():
                users = users[warm]
        rows = [member_rows(m, users) for m in fitted]
        for r in rows:
            offset, scale = spread(r)
            r -= offset
            r /= scale
        override = None if sw < 0 else (
            sw, self._cold_items(np.arange(part.n_items), part.item_counts))
        return ranking_weights(rows, users, part, val, threshold, override)

    # ------------------------------------------------------------------ scoring
    def _score(self, users, items):
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = np.zeros(len(users), dtype=np.float64)
        for j, w in enumerate(self.weights_):
            if w > 0:
                out += w * self._z(j, _member_pairs(self.members_[j], users, items))
        sw = self.switch_index_
        mask = self._switched(users, items, self._user_counts, self._item_counts, sw)
        if mask.any():
            out[mask] = self._z(sw, _member_pairs(self.members_[sw], users[mask], items[mask]))
        return out

    def _z(self, j: int, scores: np.ndarray) -> np.ndarray:
        """Member ``j``'s scores on the blend's scale, ``(s - a_j) / c_j``."""
        return (scores - self.offsets_[j]) / self.scales_[j]

    def _score_users(self, users):
        users = np.asarray(users, dtype=np.int64)
        out = np.zeros((len(users), self.n_items_), dtype=np.float64)
        sw = self.switch_index_
        own = None  # the switch model's rows, divided by its scale
        for j, w in enumerate(self.weights_):
            if w > 0:
                rows = self._z(j, member_rows(self.members_[j], users))
                out += w * rows
                if j == sw:
                    own = rows
        if sw < 0:
            return out
        cold_users = self._cold_users(users, self._user_counts)
        cold_items = self._cold_items(np.arange(self.n_items_), self._item_counts)
        if own is None and (cold_users.any() or cold_items.any()):
            pick = users if cold_items.any() else users[cold_users]
            own = self._z(sw, member_rows(self.members_[sw], pick))
            if not cold_items.any():
                out[cold_users] = own
                return out
        if own is not None:
            out[:, cold_items] = own[:, cold_items]
            out[cold_users] = own[cold_users]
        return out

    def _new_members(self) -> list[Recommender]:
        """Unfitted members built from ``models`` (specs through the registry)."""
        members = []
        for j, m in enumerate(self.models):
            try:
                members.append(build_model(m))
            except ValueError as exc:
                raise ValueError(f"Hybrid member {j}: {exc}".replace(
                    "unknown model", "unknown model class", 1)) from None
        return members

    @property
    def capabilities(self) -> frozenset[str]:
        """What the hybrid can do by delegating (class notes).

        Fitted: what a member of positive weight can do; ``"new_user"`` also needs the switch
        model to fold in users (it scores those with few ratings, and the cold items).
        Before fit, what any member can do.
        """
        members = self.__dict__.get("members_")
        if members is None:
            return frozenset().union(*(m.capabilities for m in self._new_members()))
        caps = frozenset().union(*(members[j].capabilities for j in self._order()))
        sw = self.switch_index_
        if sw >= 0 and not members[sw].supports_new_user:
            caps -= {"new_user"}
        if self._sharing_member() is not None:  # what two items share needs no weight
            caps |= {"shared_features"}
        return caps

    def _order(self, capability: str | None = None) -> list[int]:
        """Member indices by descending weight (weight 0 left out), ties by index; only the
        members with ``capability`` when one is named."""
        order = np.argsort(-self.weights_, kind="stable")
        return [int(j) for j in order if self.weights_[j] > 0 and (
            capability is None or capability in self.members_[j].capabilities)]

    def _explain(self, user, item, n):
        sw = self.switch_index_
        able = self._order("explain")
        if self._switched(np.array([user]), np.array([item]), self._user_counts,
                          self._item_counts, sw)[0] and self.members_[sw].supports_explain:
            able = [sw]
        return self.members_[able[0]]._explain(user, item, n)

    def _similar_items(self, item):
        return self.members_[self._order("similar_items")[0]]._similar_items(item)

    def _sharing_member(self) -> Recommender | None:
        """The member that says what two items share: the switch model, else the first
        that declares ``"shared_features"`` (whatever its weight: the terms are metadata)."""
        order = [self.switch_index_] if self.switch_index_ >= 0 else []
        for j in order + list(range(len(self.members_))):
            if self.members_[j].supports_shared_features:
                return self.members_[j]
        return None

    def _shared_features(self, i: int, j: int) -> dict[str, list[str]]:
        return self._sharing_member()._shared_features(i, j)

    def _score_new_user(self, items, ratings):
        sw = self.switch_index_
        if sw >= 0 and len(items) < self.switch_min_ratings:
            return self._z(sw, member_new_scores(self.members_[sw], items, ratings))
        total, weight = np.zeros(self.n_items_), 0.0
        for j in self._order("new_user"):
            total += self.weights_[j] * self._z(j, member_new_scores(self.members_[j], items, ratings))
            weight += self.weights_[j]
        total /= weight
        if sw >= 0:
            cold = self._item_counts == 0
            if cold.any():
                own = self._z(sw, member_new_scores(self.members_[sw], items, ratings))
                total[cold] = own[cold]
        return total

    # ------------------------------------------------------------------ persistence
    def _extra_meta(self) -> dict[str, Any]:
        return {"switch_index_": int(self.switch_index_),
                "members": [m._meta() for m in self.members_]}

    def _load_extra_meta(self, extra: dict[str, Any]) -> None:
        extra = dict(extra)
        metas = extra.pop("members", None)
        super()._load_extra_meta(extra)
        if not isinstance(metas, list) or "switch_index_" not in extra:
            raise ModelFileError("a Hybrid model file without its members' descriptions")
        if len(metas) != len(self.weights_):
            raise ModelFileError(f"a Hybrid model file with {len(metas)} member descriptions "
                                 f"for {len(self.weights_)} weights")
        self.members_ = [self._load_member(j, meta) for j, meta in enumerate(metas)]
        self._prepare()

    def _load_member(self, j: int, meta: dict[str, Any]) -> Recommender:
        """Member ``j`` from its description and its ``m{j}__`` arrays, checked as
        ``Recommender.load`` checks a whole file; it shares the hybrid's id maps and training
        matrix (stored once)."""
        where = f"Hybrid member {j}: "
        if not isinstance(meta, dict):
            raise ModelFileError(f"{where}the description is a {type(meta).__name__}, not a "
                                 "JSON object")
        prefix = f"m{j}__"
        arrays = {k[len(prefix):]: v for k, v in vars(self).items() if k.startswith(prefix)}
        arrays.update({name: getattr(self, name) for name in _SHARED})
        cls = persistence.model_class_of(meta, where)
        model = persistence.build_from_meta(cls, meta, f"{where}({cls.__name__}) ")
        persistence.check_arrays(model, arrays, f"{where}({cls.__name__}) ")
        vars(model).update(arrays, n_users_=self.n_users_, n_items_=self.n_items_)
        model._load_extra_meta(meta.get("extra", {}))
        return model


def _member_pairs(m: Recommender, users, items) -> np.ndarray:
    s = np.asarray(m._score(np.asarray(users, np.int64), np.asarray(items, np.int64)),
                   dtype=np.float64)
    return np.clip(s, *m.rating_scale_) if m.predicts_ratings else s


def member_rows(m: Recommender, users) -> np.ndarray:
    """A fitted member's scores (len(users), n_items), clipped to the scale if it rates."""
    s = np.array(m._score_users(np.asarray(users, np.int64)), dtype=np.float64)
    return np.clip(s, *m.rating_scale_) if m.predicts_ratings else s


def member_new_scores(m: Recommender, items, ratings) -> np.ndarray:
    """A fitted member's scores (n_items,) for a new user with these ratings, clipped likewise."""
    s = np.array(m._score_new_user(items, ratings), dtype=np.float64)
    return np.clip(s, *m.rating_scale_) if m.predicts_ratings else s


def _standardisers(members, n_users: int, rng: np.random.Generator):
    """Offsets and scales (M,) of the members over (a sample of) the training users."""
    users = np.arange(n_users, dtype=np.int64)
    if n_users > _SCALE_SAMPLE:
        users = np.sort(rng.choice(n_users, _SCALE_SAMPLE, replace=False))
    spreads = [spread(member_rows(m, users)) for m in members]
    return (np.array([a for a, _ in spreads]), np.array([c for _, c in spreads]))
