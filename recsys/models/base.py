"""The estimator contract every model follows, and its persistence.

A model stores hyperparameters in ``__init__`` only. ``fit(train) -> self`` learns arrays whose
names end in ``_`` (``user_factors_``, ``item_bias_``). Subclasses implement

- ``_fit(train)``: learn from a :class:`~recsys.dataset.Dataset` (internal indices);
- ``_score(users, items)``: raw scores (unclipped) for internal index pairs, where ``-1`` means
  an unknown user or item and the model must fall back to its best estimate;
- optionally ``_score_users(users)``: the dense (len(users), n_items) score matrix used by
  ``recommend``; the default calls ``_score`` on every pair. Override it with a vectorised
  version (e.g. ``user_factors_[users] @ item_factors_.T``).

Optional capabilities, each declared in the class's ``capabilities`` set (callers ask
``model.capabilities`` or ``supports_*``; the public method raises UnsupportedError when the
capability is not declared):

- ``"new_user"``, hook ``_score_new_user(items, ratings)``: scores (n_items,) for a user who is
  not in the training data, from their ratings (internal item indices, float ratings),
  without retraining (for MF: solve the user's regularized least squares against the fixed
  item factors); public method ``recommend_new_user``;
- ``"similar_items"``, hook ``_similar_items(item)``: similarity (n_items,) of every item to
  ``item``; public method ``similar_items``;
- ``"explain"``, hook ``_explain(user, item, n)``: (contributing item indices, contributions)
  for a score; public method ``explain``;
- ``"shared_features"``, hook ``_shared_features(i, j)``: what two items have in common, as
  ``{group: [terms]}`` (a content model: ``{"keywords": [...], "genres": [...]}``); public
  method ``shared_features`` (a server asks before saying "shares keywords: ...");

and list their learned array names in ``_fitted_arrays`` so ``save``/``load`` find them.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.errors import ModelFileError, NotFittedError, UnknownIdError, UnsupportedError
from recsys.io import atomic_write, jsonable
from recsys.topk import topk_rows
from recsys.models import persistence, registry
from recsys.validation import check_number

from recsys.models.persistence import FORMAT_VERSION, META_KEY as _META_KEY

#: Every capability a model can declare (see the module docstring).
CAPABILITIES = frozenset({"new_user", "similar_items", "explain", "shared_features"})


class Recommender:
    """Base class: the uniform estimator API (fit / predict / recommend / save / load)."""

    #: Names of the learned arrays (ending in ``_``) that ``save`` writes.
    _fitted_arrays: ClassVar[tuple[str, ...]] = ()
    #: Shapes of learned arrays, checked by ``load``: a name per axis, ``"users"``/``"items"``
    #: (the id maps' lengths), ``"users+1"``/``"items+1"``, or a letter that must be the same
    #: size in every array that uses it (e.g. ``"k"`` for the factors).
    _array_shapes: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Learned float arrays that may hold NaN (``load`` refuses NaN and inf everywhere else).
    _nan_allowed: ClassVar[tuple[str, ...]] = ()
    #: True for models whose scores are predicted ratings (clipped to the scale).
    predicts_ratings: ClassVar[bool] = True
    #: True for models whose ``predict`` takes ``times=`` (seconds, aligned with the pairs);
    #: the evaluation passes the test ratings' timestamps (``evaluation.rating_predictor``).
    uses_timestamps: ClassVar[bool] = False
    #: What the model can do beyond predict/recommend: a subset of :data:`CAPABILITIES`.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("capabilities")
        if isinstance(declared, (set, frozenset)) and not declared <= CAPABILITIES:
            raise TypeError(f"{cls.__name__} declares unknown capabilities "
                            f"{sorted(declared - CAPABILITIES)}; known: {sorted(CAPABILITIES)}")

    @property
    def supports_new_user(self) -> bool:
        """Whether :meth:`recommend_new_user` works (fold-in without retraining)."""
        return "new_user" in self.capabilities

    @property
    def supports_similar_items(self) -> bool:
        """Whether :meth:`similar_items` works."""
        return "similar_items" in self.capabilities

    @property
    def supports_explain(self) -> bool:
        """Whether :meth:`explain` works."""
        return "explain" in self.capabilities

    @property
    def supports_shared_features(self) -> bool:
        """Whether :meth:`shared_features` works."""
        return "shared_features" in self.capabilities

    def _require(self, capability: str, what: str) -> None:
        if capability not in self.capabilities:
            raise UnsupportedError(f"{type(self).__name__} {what}")

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Recommender":
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__} has no hyperparameter {name!r}; "
                                 f"valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def clone(self, **overrides) -> "Recommender":
        """A new unfitted model with the same hyperparameters, some overridden."""
        params = self.get_params()
        params.update(overrides)
        return type(self)(**params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Dataset, **fit_options) -> "Recommender":
        """Learn from ``train`` and return ``self``.

        ``fit_options`` go to the model's ``_fit``; epoch-based models accept
        ``eval_set=Dataset`` and record per-epoch RMSE in ``history_``.
        """
        if not isinstance(train, Dataset):
            raise TypeError(f"fit expects a recsys Dataset, got {type(train).__name__}")
        if train.n_ratings == 0:
            raise ValueError(f"cannot fit {type(self).__name__} on an empty Dataset "
                             f"({train.name or 'unnamed'}: no ratings)")
        self._remember(train)
        self._fit(train, **fit_options)
        return self

    def _remember(self, train: Dataset) -> None:
        # What predict/recommend/save need from the training data.
        self.user_ids_ = train.user_ids
        self.item_ids_ = train.item_ids
        self.rating_scale_ = train.rating_scale
        self.global_mean_ = train.global_mean
        m = train.csr
        # Shared with the Dataset's cached CSR where the dtype already fits (read-only use):
        # a copy would cost 8 bytes per rating on every fit.
        self.seen_indptr_ = m.indptr.astype(np.int64, copy=False)
        self.seen_indices_ = m.indices.astype(np.int32, copy=False)
        self.seen_ratings_ = m.data.astype(np.float32, copy=False)
        self.n_users_ = train.n_users
        self.n_items_ = train.n_items

    def _fit(self, train: Dataset, **fit_options) -> None:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(train) first")

    @property
    def seen_(self) -> sp.csr_matrix:
        """Training ratings, CSR (n_users, n_items) float32, column indices sorted per row."""
        self._check_fitted()
        return sp.csr_matrix(
            (self.seen_ratings_, self.seen_indices_, self.seen_indptr_),
            shape=(self.n_users_, self.n_items_),
        )

    def user_history(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """The training interactions of one user (internal index): (items int32, ratings
        float32), items ascending. Views of the stored matrix: do not write to them."""
        self._check_fitted()
        user = int(user)
        if not 0 <= user < self.n_users_:
            raise IndexError(f"user index {user} is out of range 0..{self.n_users_ - 1}")
        lo, hi = self.seen_indptr_[user], self.seen_indptr_[user + 1]
        return self.seen_indices_[lo:hi], self.seen_ratings_[lo:hi]

    def item_counts(self) -> np.ndarray:
        """Number of training interactions of each item, int64 (n_items,)."""
        self._check_fitted()
        return np.bincount(self.seen_indices_, minlength=self.n_items_).astype(np.int64)

    # ------------------------------------------------------------------ prediction
    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        n = self.n_items_
        u = np.repeat(users.astype(np.int64), n)
        i = np.tile(np.arange(n, dtype=np.int64), len(users))
        return self._score(u, i).reshape(len(users), n)

    def score_items(self, users) -> np.ndarray:
        """Scores of every item for internal user indices: float ndarray (len(users), n_items).

        Unclipped and unfiltered (seen items are not removed); higher is better. This is the
        scoring function the top-N evaluation routine takes.
        """
        self._check_fitted()
        u = self._to_internal(users, "user", raw=False)
        return np.asarray(self._score_users(u))

    def _score_new_user(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} cannot fold in a new user")

    def _similar_items(self, item: int) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no item-item similarity")

    def _explain(self, user: int, item: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} cannot explain its scores")

    def recommend_new_user(self, items, ratings, k: int = 10, raw: bool = False,
                           exclude_rated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items for a user not in the training data, given their ratings.

        ``items`` are internal indices (raw ids with ``raw=True``; unknown raw ids raise
        UnknownIdError); ``ratings`` float ratings on the model's scale (a NaN or a rating
        outside the scale raises ValueError naming the item). No retraining. Returns (items,
        scores) of shape (min(k, n_items),), padded with -1 / -inf.
        """
        self._check_fitted()
        self._require("new_user", "cannot fold in a new user")
        items = np.atleast_1d(np.asarray(items))
        ratings = np.atleast_1d(np.asarray(ratings, dtype=np.float64))
        if raw:
            idx = self._to_internal(items, "item", raw=True)
            if (idx < 0).any():
                bad = items[np.flatnonzero(idx < 0)[0]]
                raise UnknownIdError("item", bad.item() if hasattr(bad, "item") else bad)
            items = idx
        items = items.astype(np.int64)
        if items.shape != ratings.shape:
            raise ValueError("items and ratings must have the same length")
        self._check_new_ratings(items, ratings, raw)
        scores = np.array(self._score_new_user(items, ratings), dtype=np.float64)
        if exclude_rated:
            scores[items] = -np.inf
        return self._top(scores[None, :], k, raw, scalar=True)

    def _check_new_ratings(self, items: np.ndarray, ratings: np.ndarray, raw: bool) -> None:
        lo, hi = self.rating_scale_
        bad = np.flatnonzero(~((ratings >= lo) & (ratings <= hi)))  # NaN fails both
        if bad.size:
            j = int(bad[0])
            item = self.item_ids_[items[j]] if raw else items[j]
            raise ValueError(f"rating {float(ratings[j])!r} of item {jsonable(item)!r} is not a "
                             f"rating on the model's scale [{lo}, {hi}]")
        out = items[(items < 0) | (items >= self.n_items_)]
        if out.size:
            raise ValueError(f"item index {int(out[0])} is out of range 0..{self.n_items_ - 1}")

    def similar_items(self, item, k: int = 10, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The k items most similar to ``item`` (itself excluded), best first."""
        self._check_fitted()
        self._require("similar_items", "has no item-item similarity")
        i = self._to_internal(item, "item", raw)[0]
        if i < 0:
            raise UnknownIdError("item", item)
        sims = np.array(self._similar_items(int(i)), dtype=np.float64)
        sims[i] = -np.inf
        return self._top(sims[None, :], k, raw, scalar=True)

    def explain(self, user, item, n: int = 3, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The user's training items that contributed most to the score of ``item``."""
        self._check_fitted()
        self._require("explain", "cannot explain its scores")
        n = _check_k(n, "n")
        u = self._to_internal(user, "user", raw)[0]
        i = self._to_internal(item, "item", raw)[0]
        idx, contrib = self._explain(int(u), int(i), n)
        idx = np.asarray(idx, dtype=np.int64)
        if raw:
            idx = self.item_ids_[idx]
        return idx, np.asarray(contrib, dtype=np.float64)

    def shared_features(self, item, other, raw: bool = False) -> dict[str, list[str]]:
        """What ``item`` and ``other`` have in common, ``{group: [terms]}`` (internal
        indices, or raw ids with ``raw=True``; an unknown one raises UnknownIdError)."""
        self._check_fitted()
        self._require("shared_features", "cannot say what two items share")
        pair = []
        for x in (item, other):
            i = int(self._to_internal(x, "item", raw)[0])
            if i < 0:
                raise UnknownIdError("item", x)
            pair.append(i)
        return self._shared_features(*pair)

    def _to_internal(self, ids, kind: str, raw: bool) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(ids))
        n = self.n_users_ if kind == "user" else self.n_items_
        if raw:
            mapping = self.user_ids_ if kind == "user" else self.item_ids_
            index = getattr(self, f"_{kind}_index", None)
            if index is None:
                import pandas as pd
                index = pd.Index(mapping)
                setattr(self, f"_{kind}_index", index)
            return index.get_indexer(ids).astype(np.int64)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"internal {kind} indices must be integers, got {ids.dtype}")
        out = ids.astype(np.int64)
        out[(out < 0) | (out >= n)] = -1
        return out

    def predict(self, users, items, raw: bool = False) -> np.ndarray:
        """Predicted scores for (user, item) pairs, float64, shape (n,).

        ``users``/``items`` are internal indices, or raw ids when ``raw=True``. An unknown
        user or item (a raw id not seen in training, or an index out of range) does not raise:
        the model falls back to its best estimate (see the model's docstring; typically item
        bias, then user bias, then the global mean). Rating models clip to the rating scale.
        """
        self._check_fitted()
        u = self._to_internal(users, "user", raw)
        i = self._to_internal(items, "item", raw)
        if u.shape != i.shape:
            raise ValueError(f"users and items must have the same length, got {u.shape} "
                             f"and {i.shape}")
        scores = np.asarray(self._score(u, i), dtype=np.float64)
        if self.predicts_ratings:
            scores = np.clip(scores, *self.rating_scale_)
        return scores

    def recommend(self, users, k: int = 10, exclude_seen: bool = True, raw: bool = False,
                  candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items for each user, best first.

        Parameters
        ----------
        users : int or array of ints
            Internal user indices (raw ids with ``raw=True``).
        k : int
        exclude_seen : bool
            Leave out the items each user rated in training.
        candidates : bool array, shape (n_items,), optional
            Only these items may be recommended.

        Returns
        -------
        items : int64 ndarray, shape (n_users, k') (shape (k',) for a scalar user) with
            k' = min(k, number of candidate items); internal indices (raw ids with
            ``raw=True``); -1 pads a row where fewer than k' items are eligible.
        scores : float64 ndarray, same shape; -inf pads.
        """
        self._check_fitted()
        k = _check_k(k)
        scalar = np.ndim(users) == 0
        u = self._to_internal(users, "user", raw)
        scores = np.array(self._score_users(u), dtype=np.float64)
        if exclude_seen:
            for row, user in enumerate(u):
                if user >= 0:
                    lo, hi = self.seen_indptr_[user], self.seen_indptr_[user + 1]
                    scores[row, self.seen_indices_[lo:hi]] = -np.inf
        n_candidates = self.n_items_
        if candidates is not None:
            mask = np.asarray(candidates, dtype=bool)
            if mask.shape != (self.n_items_,):
                raise ValueError(f"candidates must be a bool array of shape ({self.n_items_},), "
                                 f"got shape {mask.shape}")
            scores[:, ~mask] = -np.inf
            n_candidates = int(mask.sum())
        return self._top(scores, min(k, max(n_candidates, 1)), raw, scalar)

    def _top(self, scores: np.ndarray, k: int, raw: bool, scalar: bool):
        """Top ``min(k, n_items)`` of each row (no list is wider than the catalogue)."""
        k = min(_check_k(k), scores.shape[1])
        idx, val = topk_rows(scores, k)
        if raw:
            idx = np.where(idx >= 0, self.item_ids_[np.maximum(idx, 0)], -1)
        if scalar:
            return idx[0], val[0]
        return idx, val

    # ------------------------------------------------------------------ persistence
    def _meta(self) -> dict[str, Any]:
        return {
            "format": "recsys-model",
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": jsonable(self._saved_params()),
            "rating_scale": list(self.rating_scale_),
            "global_mean": self.global_mean_,
            "extra": jsonable(self._extra_meta()),
        }

    def _saved_params(self) -> dict[str, Any]:
        # A Generator seed cannot be written: the fitted arrays are saved, and the loaded
        # model's seed is None (a refit draws fresh entropy), as the docs of save say.
        params = self.get_params()
        if isinstance(params.get("seed"), np.random.Generator):
            params["seed"] = None
        return params

    def _extra_meta(self) -> dict[str, Any]:
        """Scalars a subclass learns besides arrays (JSON-serialisable)."""
        return {}

    def _load_extra_meta(self, extra: dict[str, Any]) -> None:
        for k, v in extra.items():
            setattr(self, k, v)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to ``path`` (a ``.npz`` file), atomically.

        The file holds the learned arrays, the raw id maps and the training matrix (for
        ``exclude_seen``), plus a JSON document (key ``__meta__``) with the class name,
        hyperparameters and format version. Nothing is pickled. A ``seed`` that is a
        numpy Generator is saved as None.
        """
        self._check_fitted()
        path = Path(path)
        arrays = {name: np.asarray(getattr(self, name)) for name in self._fitted_arrays}
        arrays.update(
            user_ids_=_id_array(self.user_ids_, "user"), item_ids_=_id_array(self.item_ids_, "item"),
            seen_indptr_=self.seen_indptr_, seen_indices_=self.seen_indices_,
            seen_ratings_=self.seen_ratings_,
        )
        meta = json.dumps(self._meta(), allow_nan=False).encode("utf-8")
        arrays[_META_KEY] = np.frombuffer(meta, dtype=np.uint8)
        return atomic_write(path, lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recommender":
        """Read a model written by :meth:`save`.

        Raises ModelFileError, naming the file and the field, for a truncated, foreign or
        inconsistent file (see :mod:`recsys.models.persistence` for every check).
        """
        path = Path(path)
        where = f"{path}: "
        meta, arrays = persistence.read_model_file(path)
        target = persistence.model_class_of(meta, where)
        if cls is not Recommender and not issubclass(target, cls):
            raise ModelFileError(f"{path}: holds a {target.__name__}, not a {cls.__name__}")
        model = persistence.build_from_meta(target, meta, where)
        persistence.check_arrays(model, arrays, where)
        for key, value in arrays.items():
            setattr(model, key, value)
        model.n_users_ = len(model.user_ids_)
        model.n_items_ = len(model.item_ids_)
        try:
            model._load_extra_meta(meta.get("extra", {}))
        except ModelFileError as exc:  # a part's own check (a Hybrid member): add the file
            raise ModelFileError(f"{where}{exc}") from None
        return model


def _check_k(k, name: str = "k") -> int:
    """``k`` as an int >= 1; ValueError for anything else (2.5, "5", True are refused)."""
    check_number(name, k, 1, integer=True)
    return int(k)


def _id_array(ids: np.ndarray, kind: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.dtype == object:
        ids = ids.astype(str)
    return ids
