"""Content-based filtering on item metadata: :class:`ContentKNN`.

Item vectors
------------
Built by :mod:`recsys.models.content_features` from ``Dataset.item_info``, from the source
``features`` names:

- ``"movielens"`` (default): genres multi-hot, release decade one-hot (the ``year`` column
  or the "(1995)" of the title), TF-IDF of the title words, TF-IDF of the tags (where
  ``item_info`` has a ``tags`` column; ML-100K has none): block weights ``genre_weight,
  decade_weight, title_weight, tag_weight``;
- ``"tmdb"``: the TMDB blocks of :func:`recsys.tmdb_features.tmdb_item_features` (overview
  TF-IDF, hashed keywords and cast/directors, TMDB genres, binned year and log popularity):
  weights ``overview_weight, keyword_weight, people_weight, tmdb_genre_weight,
  year_weight, popularity_weight``; ``keyword_idf=True`` weights each keyword by its IDF
  over the catalogue (rare keywords count more). The metadata comes from the ``tmdb_*`` columns of
  ``item_info`` (:func:`~recsys.models.content_features.with_tmdb`), else from the folder
  ``tmdb_dir`` (``None``: ``$RECSYS_DATA/tmdb``, then the cache), joined through the links;
- ``"both"``: the two side by side.

The vector of item ``i`` is ``x_i = normalise([w_1 b_1(i), w_2 b_2(i), ...])`` over the
blocks ``b`` (each a unit or zero row) with positive weight. The cosine of two items that
have every block is ``sum_b w_b^2 cos_b / sum_b w_b^2``: a weight ``w`` gives its block a
share ``w^2`` of the similarity. An item without metadata of the source has a zero vector:
it is nobody's neighbour and scores like an unknown item.

Similarity: the cosine of the item vectors, computed by the sparse top-k kernel
(:func:`recsys.similarity.similarity`), keeping the ``max_neighbors`` most similar
items of each item (all positive ones with ``None``), stored by descending similarity.
Only positive similarities are kept (the MovieLens vectors are non-negative; the
signed hashing of the TMDB keywords can make a few cosines negative), so every stored
similarity is in (0, 1].

Scores (``scoring``)
--------------------
A rating is centred on ``b_ui`` (``centering``): the user's mean training rating ``mean_u``
(``"mean"``, the default; ``mu`` for a user without ratings), or the baseline
``mu + b_u + b_i`` (``"baseline"``; user and item biases from
:class:`~recsys.models.baseline.Baseline`, an unrated item has ``b_i = 0``).

``"rating"`` (default; rating prediction, Surprise's KNNWithMeans / KNNBaseline aggregation
with a content similarity)::

    r_hat(u, i) = b_ui + sum_{j in N_k(u, i)} s(i, j) (r_uj - b_uj)
                         / sum_{j in N_k(u, i)} s(i, j)

so with ``centering="mean"``: ``r_hat = mean_u + sum s (r_uj - mean_u) / sum s``. Here
``N_k(u, i)`` are the (at most) ``k`` items most similar to ``i`` among the stored
neighbours of ``i`` that ``u`` rated (ties: the smaller item index) and ``s`` the cosine.
Without any such neighbour the estimate is ``b_ui``; an unknown user counts as a user
without ratings (``mu``, or ``mu + b_i``), an unknown item as ``b_i = 0``. The arithmetic is
the neighbourhood kernel of :mod:`recsys.kernels.knn`, shared with ItemKNN.

``"profile"`` (top-N; the classic content-based profile, Lops et al. 2011)::

    p_u = sum_{j rated by u} (r_uj - b_uj) x_j            (n_features,)
    score(u, i) = cos(p_u, x_i) = p_u . x_i / |p_u|       (x_i is a unit vector)

a ranking signal in [-1, 1] (``predicts_ratings`` is False): items like those the user
rated above their mean (baseline) rank high, items like those rated below it rank low. If
the centred profile is zero (one rating, or all ratings equal, with ``"mean"``) the
uncentred ``sum r_uj x_j`` is used, so that such a user still gets the items like the ones
they rated. An unknown user, or an item without metadata, scores 0.

Cold-start items
----------------
The feature matrix has a row for every item of the Dataset's id map (``item_ids``), rated or
not, so an item no one rated in train (e.g. only in the test part of a split) has a vector,
neighbours and a personalised score. Catalogue items listed in ``item_info`` but absent from
the id map have no internal index: pass the data set through :func:`with_catalogue` *before*
splitting to give them one.

Explanations
------------
``explain(user, item)`` names the user's rated items behind a score; :meth:`ContentKNN.
shared_features` says what two items have in common, from the keywords, tags and genres kept
with the model (``{"keywords": ["heist", "bank robbery"], "tags": [], "genres": ["Crime"]}``)
and :meth:`ContentKNN.describe_shared` as a sentence ("shares keywords: heist, bank robbery;
genres: Crime").
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.kernels import knn as knn_kernels
from recsys.similarity import csr_arrays, similarity
from recsys.threads import numba_threads
from recsys.models.base import Recommender
from recsys.models.content_features import (FEATURE_SOURCES, TMDB_WEIGHTS, ItemTerms,
                                            content_vectors, describe_shared, item_features,
                                            shared_terms, with_catalogue)
from recsys.models.registry import register
from recsys.validation import check_choice, check_number

__all__ = ["ContentKNN", "item_features", "with_catalogue"]

_SCORINGS = ("rating", "profile")
_CENTERINGS = ("mean", "baseline")
_ML_WEIGHTS = ("genre_weight", "decade_weight", "title_weight", "tag_weight")


@register
class ContentKNN(Recommender):
    """Content-based k-nearest-neighbour model over item metadata (module notes).

    Parameters
    ----------
    k : int, default 40
        ``scoring="rating"``: rated neighbours aggregated per prediction.
    max_neighbors : int or None, default None
        Most similar items kept per item in the stored similarity matrix (memory
        O(n_items * max_neighbors)). ``None`` keeps every positive similarity (all pairs:
        fine for a few thousand items). ``scoring="rating"`` looks for the user's ``k``
        rated neighbours only among these.
    scoring : {"rating", "profile"}, default "rating"
        Rating prediction by neighbours, or the top-N profile cosine.
    centering : {"mean", "baseline"}, default "mean"
        What a rating is centred on (module notes): the user's mean ``mean_u``, or the
        baseline ``b_ui = mu + b_u + b_i`` of :class:`recsys.models.baseline.Baseline` (ALS with
        Surprise's defaults: ``reg_user=15``, ``reg_item=10``, 10 epochs; an item without
        ratings has ``b_i = 0``). The baseline brings the items' average appeal, which pure
        content cannot know, into the estimate.
    features : {"movielens", "tmdb", "both"}, default "movielens"
        The metadata the item vectors come from (module notes).
    genre_weight, decade_weight, title_weight, tag_weight : float >= 0
        MovieLens block weights (defaults 1, 0.5, 0.5, 1); ignored by ``"tmdb"``.
    overview_weight, keyword_weight, people_weight, tmdb_genre_weight, year_weight, \
popularity_weight : float >= 0
        TMDB block weights (defaults 1, 1, 0.5, 0.5, 0.25, 0.25, those of
        :data:`recsys.tmdb_features.DEFAULT_WEIGHTS`); ignored by ``"movielens"``. The
        weights the source uses must not all be zero.
    keyword_idf : bool, default False
        ``"tmdb"``/``"both"``: weight each TMDB keyword by its smooth IDF over the items of
        the id map that have keywords (:func:`recsys.tmdb_features.keyword_idf`), so a rare
        keyword counts more in a similarity than a common one; False: each counts 1.
    tmdb_dir : str or None, default None
        ``"tmdb"``/``"both"``: the folder to read TMDB from. ``None`` uses the Dataset's
        ``tmdb_*`` columns (:func:`~recsys.models.content_features.with_tmdb`) where it has
        them, else :func:`recsys.data.tmdb.find_tmdb`'s places.

    Attributes
    ----------
    feature_indptr_, feature_indices_, feature_data_ : int64, int32, float32
        The item vectors, CSR (n_items, n_features), unit rows (see :attr:`features_`).
    feature_names_ : str ndarray (n_features,)
    similarity_indptr_, similarity_indices_, similarity_data_ : int64, int32, float32
        Item-item cosine, CSR (n_items, n_items), rows by descending similarity (empty
        with ``scoring="profile"``, which does not use it).
    user_offset_, item_offset_ : float64 (n_users,), (n_items,)
        The centre of a rating is ``b_ui = mu + user_offset_[u] + item_offset_[i]``:
        ``mean_u - mu`` and 0 (``"mean"``; 0 for a user without ratings), or the biases.
    term_indptr_, term_indices_, term_names_ : int64, int32, str
        Each item's keywords, tags and genres (:class:`~recsys.models.content_features.
        ItemTerms`), for :meth:`shared_features`.

    Notes
    -----
    Needs ``item_info``: fitting on a Dataset without it raises ValueError.
    ``explain`` names the user's rated items behind a score with their additive share of it:
    ``s(i, j) (r_uj - b_uj) / sum s`` (rating: the shares add up to ``r_hat - b_ui``) or
    ``c_uj x_j . x_i / |p_u|`` (profile: they add up to the score).
    """

    capabilities = frozenset({"new_user", "similar_items", "explain", "shared_features"})

    _fitted_arrays = ("feature_indptr_", "feature_indices_", "feature_data_",
                      "feature_names_", "similarity_indptr_", "similarity_indices_",
                      "similarity_data_", "user_offset_", "item_offset_", "term_indptr_",
                      "term_indices_", "term_names_")
    _array_shapes = {"term_indptr_": ("items+1",), "term_indices_": ("terms_nnz",),
                     "feature_indptr_": ("items+1",), "feature_indices_": ("features_nnz",),
                     "feature_data_": ("features_nnz",), "similarity_indptr_": ("items+1",),
                     "similarity_indices_": ("nnz",), "similarity_data_": ("nnz",),
                     "user_offset_": ("users",), "item_offset_": ("items",)}

    #: Baseline ALS settings for ``centering="baseline"`` (Surprise's defaults).
    BASELINE = {"method": "als", "reg_user": 15.0, "reg_item": 10.0, "n_epochs": 10}

    def __init__(self, k: int = 40, max_neighbors: int | None = None, scoring: str = "rating",
                 centering: str = "mean", features: str = "movielens",
                 genre_weight: float = 1.0, decade_weight: float = 0.5,
                 title_weight: float = 0.5, tag_weight: float = 1.0,
                 overview_weight: float = 1.0, keyword_weight: float = 1.0,
                 people_weight: float = 0.5, tmdb_genre_weight: float = 0.5,
                 year_weight: float = 0.25, popularity_weight: float = 0.25,
                 keyword_idf: bool = False, tmdb_dir: str | None = None):
        self.k = k
        self.max_neighbors = max_neighbors
        self.scoring = scoring
        self.centering = centering
        self.features = features
        self.genre_weight = genre_weight
        self.decade_weight = decade_weight
        self.title_weight = title_weight
        self.tag_weight = tag_weight
        self.overview_weight = overview_weight
        self.keyword_weight = keyword_weight
        self.people_weight = people_weight
        self.tmdb_genre_weight = tmdb_genre_weight
        self.year_weight = year_weight
        self.popularity_weight = popularity_weight
        self.keyword_idf = keyword_idf
        self.tmdb_dir = tmdb_dir

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        check_number("k", self.k, 1, integer=True)
        if self.max_neighbors is not None:
            check_number("max_neighbors", self.max_neighbors, 1, integer=True)
        check_choice("scoring", self.scoring, _SCORINGS)
        check_choice("centering", self.centering, _CENTERINGS)
        check_choice("features", self.features, FEATURE_SOURCES)
        used = [n for n in _ML_WEIGHTS if self.features != "tmdb"] + [
            n for n in TMDB_WEIGHTS if self.features != "movielens"]
        for name in (*_ML_WEIGHTS, *TMDB_WEIGHTS):
            check_number(name, getattr(self, name), 0.0)
        if not any(getattr(self, n) > 0 for n in used):
            raise ValueError(f"features={self.features!r}: at least one of {', '.join(used)} "
                             "must be > 0")
        if not isinstance(self.keyword_idf, (bool, np.bool_)):
            raise ValueError(f"keyword_idf must be True or False, got {self.keyword_idf!r}")
        if self.tmdb_dir is not None and not isinstance(self.tmdb_dir, str):
            raise ValueError(f"tmdb_dir must be a folder name (str) or None, got "
                             f"{self.tmdb_dir!r}")

    def _fit(self, train: Dataset) -> None:
        self._check_params()
        if train.item_info is None:
            raise ValueError(
                f"ContentKNN needs item metadata, but data set {train.name or '<unnamed>'!r} "
                "has no item_info (load it with recsys.data, or pass item_info= to Dataset)")
        x, names, terms = content_vectors(
            train, self.features, {n: getattr(self, n) for n in _ML_WEIGHTS},
            {block: getattr(self, n) for n, block in TMDB_WEIGHTS.items()}, self.tmdb_dir,
            bool(self.keyword_idf))
        if x.nnz == 0:
            raise ValueError(
                f"data set {train.name or '<unnamed>'!r}: item_info gives no feature for any "
                f"item (features={self.features!r}: no metadata of that source for the "
                "items in its id map)")
        self.feature_indptr_, self.feature_indices_, self.feature_data_ = csr_arrays(x)
        self.feature_names_ = np.array(names, dtype=str)
        self.term_indptr_, self.term_indices_, self.term_names_ = terms
        # The profile scores use the vectors alone: no item-item matrix to compute or store.
        sims = (similarity(x, "cosine", k=self.max_neighbors, positive_only=True)
                if self.scoring == "rating" else sp.csr_matrix((x.shape[0], x.shape[0]),
                                                               dtype=np.float32))
        self.similarity_indptr_, self.similarity_indices_, self.similarity_data_ = \
            csr_arrays(sims)
        if self.centering == "baseline":
            from recsys.models.baseline import Baseline

            base = Baseline(**self.BASELINE).fit(train)
            self.global_mean_ = float(base.global_mean_)
            self.user_offset_ = base.user_bias_.astype(np.float64)
            self.item_offset_ = base.item_bias_.astype(np.float64)
        else:
            self.user_offset_ = np.asarray(train.user_means, dtype=np.float64) - \
                self.global_mean_
            self.item_offset_ = np.zeros(train.n_items)

    # ------------------------------------------------------------------ views
    @property
    def features_(self) -> sp.csr_matrix:
        """The item vectors, CSR float32 (n_items, n_features), unit (or zero) rows."""
        return sp.csr_matrix((self.feature_data_, self.feature_indices_, self.feature_indptr_),
                             shape=(self.n_items_, len(self.feature_names_)))

    @property
    def similarity_(self) -> sp.csr_matrix:
        """Item-item cosine as stored: CSR float32 (n_items, n_items), rows by descending
        similarity (``has_sorted_indices`` is False)."""
        m = sp.csr_matrix((self.similarity_data_, self.similarity_indices_,
                           self.similarity_indptr_), shape=(self.n_items_, self.n_items_))
        m.has_sorted_indices = False
        return m

    def _offsets(self, users: np.ndarray) -> np.ndarray:
        """``user_offset_`` per user (0 for an unknown one), float64."""
        return np.where(users >= 0, self.user_offset_[np.maximum(users, 0)], 0.0)

    def _rows(self, users: np.ndarray) -> sp.csr_matrix:
        """Training ratings of ``users`` (an empty row for -1), CSR float32."""
        users = np.asarray(users, dtype=np.int64)
        known = users >= 0
        safe = np.where(known, users, 0)
        ptr = self.seen_indptr_
        counts = np.where(known, ptr[safe + 1] - ptr[safe], 0)
        out_ptr = np.zeros(len(users) + 1, dtype=np.int64)
        np.cumsum(counts, out=out_ptr[1:])
        pos = np.repeat(ptr[safe] - out_ptr[:-1], counts) + np.arange(out_ptr[-1])
        return sp.csr_matrix((self.seen_ratings_[pos], self.seen_indices_[pos], out_ptr),
                             shape=(len(users), self.n_items_))

    # ------------------------------------------------------------------ rating scores
    def _rating_rows(self, rows: sp.csr_matrix, offsets: np.ndarray) -> np.ndarray:
        out = np.empty((rows.shape[0], self.n_items_), dtype=np.float64)
        if rows.shape[0] == 0:
            return out
        with numba_threads(None) as threads:
            knn_kernels.knn_score_rows(
                *csr_arrays(rows), np.ascontiguousarray(offsets, dtype=np.float64),
                self.similarity_indptr_, self.similarity_indices_, self.similarity_data_,
                np.asarray(self.item_offset_, dtype=np.float64), float(self.global_mean_),
                int(self.k), 1, knn_kernels.CENTRED, max(1, min(rows.shape[0], threads)), out)
        return out

    def _rating_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(len(users), dtype=np.float64)
        if not len(users):
            return out
        order = np.argsort(users, kind="stable")
        starts = np.flatnonzero(np.diff(users[order])) + 1
        group_ptr = np.concatenate([[0], starts, [len(users)]]).astype(np.int64)
        with numba_threads(None) as threads:
            knn_kernels.knn_predict_pairs(
                np.ascontiguousarray(items, dtype=np.int64),
                np.ascontiguousarray(users, dtype=np.int64), order.astype(np.int64),
                group_ptr, self.similarity_indptr_, self.similarity_indices_,
                self.similarity_data_, self.seen_indptr_, self.seen_indices_,
                self.seen_ratings_, np.asarray(self.item_offset_, dtype=np.float64),
                np.asarray(self.user_offset_, dtype=np.float64), float(self.global_mean_),
                int(self.k), 1, knn_kernels.CENTRED, max(1, min(len(group_ptr) - 1, threads)),
                out)
        return out

    # ------------------------------------------------------------------ profile scores
    def _profiles(self, rows: sp.csr_matrix, offsets: np.ndarray):
        """User profiles ``p_u`` (len(rows), n_features) float64, their norms, and which rows
        fell back to the uncentred profile. ``offsets``: each row's user offset."""
        x = self.features_.astype(np.float64)
        r = sp.csr_matrix(rows, dtype=np.float64)
        centred = r.copy()
        centred.data -= (self.global_mean_ + np.repeat(offsets, np.diff(r.indptr))
                         + self.item_offset_[r.indices])
        p = np.asarray((centred @ x).todense()).reshape(rows.shape[0], x.shape[1])
        norms = np.linalg.norm(p, axis=1)
        flat = (norms == 0) & (np.diff(r.indptr) > 0)
        if flat.any():
            p[flat] = np.asarray((r[flat] @ x).todense())
            norms[flat] = np.linalg.norm(p[flat], axis=1)
        return p, norms, flat

    def _profile_rows(self, rows: sp.csr_matrix, offsets: np.ndarray) -> np.ndarray:
        p, norms, _ = self._profiles(rows, offsets)
        x = self.features_.astype(np.float64)
        scores = np.asarray(x @ p.T).T
        return np.divide(scores, norms[:, None], out=np.zeros_like(scores),
                         where=norms[:, None] > 0)

    # ------------------------------------------------------------------ contract
    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        """True for ``scoring="rating"``; the profile cosine is a ranking signal."""
        return self.scoring == "rating"

    def _score(self, users, items):
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if self.scoring == "rating":
            return self._rating_pairs(users, items)
        out = np.zeros(len(users), dtype=np.float64)
        uniq, pos = np.unique(users, return_inverse=True)
        p, norms, _ = self._profiles(self._rows(uniq), self._offsets(uniq))
        ok = (items >= 0) & (norms[pos] > 0)
        if ok.any():
            x = self.features_[items[ok]]
            row = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
            terms = x.data.astype(np.float64) * p[pos[ok][row], x.indices]
            dots = np.bincount(row, weights=terms, minlength=x.shape[0])
            out[ok] = dots / norms[pos[ok]]
        return out

    def _score_users(self, users):
        users = np.asarray(users, dtype=np.int64)
        rows, offsets = self._rows(users), self._offsets(users)
        if self.scoring == "rating":
            return self._rating_rows(rows, offsets)
        return self._profile_rows(rows, offsets)

    def _new_row(self, items, ratings) -> sp.csr_matrix:
        items = np.asarray(items, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float64)
        if len(items) and (items.min() < 0 or items.max() >= self.n_items_):
            raise ValueError(f"item index out of range [0, {self.n_items_})")
        order = np.argsort(items, kind="stable")
        items, ratings = items[order], ratings[order]
        if len(items) and (np.diff(items) == 0).any():
            raise ValueError(f"item {int(items[np.flatnonzero(np.diff(items) == 0)[0]])} is "
                             "rated twice")
        return sp.csr_matrix((ratings.astype(np.float32), items.astype(np.int32),
                              np.array([0, len(items)], dtype=np.int64)),
                             shape=(1, self.n_items_))

    def _score_new_user(self, items, ratings):
        """Scores of every item for a user given only their ratings (no retraining): the
        same formulas, with the user's offset from these ratings: their mean minus ``mu``
        (``"mean"``), or one ALS step for the bias, ``sum (r - mu - b_i) / (15 + n)``."""
        row = self._new_row(items, ratings)
        r = row.data.astype(np.float64)
        if not row.nnz:
            offset = 0.0
        elif self.centering == "mean":
            offset = float(r.mean()) - self.global_mean_
        else:
            resid = r - self.global_mean_ - self.item_offset_[row.indices]
            offset = float(resid.sum() / (self.BASELINE["reg_user"] + row.nnz))
        if self.scoring == "rating":
            return self._rating_rows(row, np.array([offset]))[0]
        return self._profile_rows(row, np.array([offset]))[0]

    def _similar_items(self, item):
        """Cosine of every item's vector with ``item``'s (all items, not only the stored
        neighbours)."""
        x = self.features_.astype(np.float64)
        return np.asarray(x @ x[item].T.toarray()).ravel()

    def _explain(self, user, item, n):
        """The user's rated items behind the score of ``item``, largest contribution first
        (see the class notes). Empty for an unknown user or item, or a fallback estimate."""
        empty = (np.empty(0, np.int64), np.empty(0))
        if user < 0 or item < 0:
            return empty
        lo, hi = self.seen_indptr_[user], self.seen_indptr_[user + 1]
        rated = self.seen_indices_[lo:hi].astype(np.int64)
        ratings = self.seen_ratings_[lo:hi].astype(np.float64)
        centre = self.global_mean_ + self.user_offset_[user] + self.item_offset_[rated]
        if self.scoring == "rating":
            slo, shi = self.similarity_indptr_[item], self.similarity_indptr_[item + 1]
            nbrs = self.similarity_indices_[slo:shi].astype(np.int64)
            sims = self.similarity_data_[slo:shi].astype(np.float64)
            pos = np.minimum(np.searchsorted(rated, nbrs), max(len(rated) - 1, 0))
            hit = rated[pos] == nbrs if len(rated) else np.zeros(len(nbrs), bool)
            pos = pos[hit][: self.k]
            if not len(pos):
                return empty
            nbrs, sims = nbrs[hit][: self.k], sims[hit][: self.k]
            contrib = sims * (ratings[pos] - centre[pos]) / sims.sum()
        else:
            _, norms, flat = self._profiles(self._rows(np.array([user])),
                                            self._offsets(np.array([user])))
            if norms[0] == 0:
                return empty
            x = self.features_.astype(np.float64)
            dots = np.asarray(x[rated] @ x[item].T.toarray()).ravel()
            weights = ratings if flat[0] else ratings - centre  # uncentred fallback (notes)
            nbrs, contrib = rated, weights * dots / norms[0]
        order = np.argsort(-contrib, kind="stable")[:n]
        return nbrs[order], contrib[order]

    # ------------------------------------------------------------------ what items share
    def _shared_features(self, i: int, j: int) -> dict[str, list[str]]:
        """What items ``i`` and ``j`` have in common (the ``"shared_features"`` capability
        behind :meth:`shared_features`): ``{"keywords": [...], "tags": [...], "genres":
        [...]}``, the groups the features use, each in ``i``'s order (TMDB keywords and
        genres, MovieLens tags and genres)."""
        return shared_terms(ItemTerms(self.term_indptr_, self.term_indices_,
                                      self.term_names_), i, j)

    def describe_shared(self, item, other, raw: bool = False, limit: int = 5) -> str:
        """:meth:`shared_features` as a sentence: ``"shares keywords: heist, bank robbery;
        genres: Crime"`` (at most ``limit`` terms a group), ``""`` when they share none."""
        return describe_shared(self.shared_features(item, other, raw), limit)
