"""The :class:`Dataset`: a ratings table over contiguous user and item indices.

Raw ids (the numbers in the MovieLens files) are translated only here, at the edge.
Inside the package everything is an int32 index in ``[0, n_users)`` or ``[0, n_items)``.
"""

from __future__ import annotations

from functools import cached_property
import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.errors import DataFormatError, UnknownIdError

RATING_COLUMNS = ("user", "item", "rating", "timestamp")


class Dataset:
    """Ratings as COO arrays over contiguous indices, with id maps and metadata.

    Parameters
    ----------
    users, items : ndarray of int32, shape (n_ratings,)
        Internal user and item index of each rating.
    ratings : ndarray of float32, shape (n_ratings,)
    timestamps : ndarray of int64, shape (n_ratings,)
        Seconds since the Unix epoch (0 where the source has none).
    user_ids, item_ids : ndarray, shape (n_users,), (n_items,)
        Raw id of each internal index: ``user_ids[u]`` is the raw id of user ``u``.
    rating_scale : (float, float)
        Lowest and highest possible rating; predictions are clipped to it.
    item_info : DataFrame, optional
        Item metadata indexed by raw item id (``title``, ``year``, ``genres``, ...). It may
        list catalogue items that no one rated; those have no internal index.
    user_info : DataFrame, optional
        User metadata indexed by raw user id, where the release has it.
    name : str
        The data set's name, e.g. ``"ml-100k"``.

    Notes
    -----
    Splits made by :mod:`recsys.split` share ``user_ids`` and ``item_ids`` with the data set
    they came from, so a user or item may have no rating in a train part; its count is 0 and
    its mean falls back to the global mean.
    """

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        timestamps: np.ndarray | None,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        rating_scale: tuple[float, float] | None = None,
        item_info: pd.DataFrame | None = None,
        user_info: pd.DataFrame | None = None,
        name: str = "",
    ):
        self.users = np.ascontiguousarray(users, dtype=np.int32)
        self.items = np.ascontiguousarray(items, dtype=np.int32)
        self.ratings = np.ascontiguousarray(ratings, dtype=np.float32)
        n = len(self.users)
        if timestamps is None:
            timestamps = np.zeros(n, dtype=np.int64)
        self.timestamps = np.ascontiguousarray(timestamps, dtype=np.int64)
        if not (len(self.items) == len(self.ratings) == len(self.timestamps) == n):
            raise ValueError(
                "users, items, ratings and timestamps must have the same length, got "
                f"{n}, {len(self.items)}, {len(self.ratings)}, {len(self.timestamps)}"
            )
        self.user_ids = np.asarray(user_ids)
        self.item_ids = np.asarray(item_ids)
        if n:
            if self.users.min() < 0 or self.users.max() >= len(self.user_ids):
                raise ValueError("user index out of range of user_ids")
            if self.items.min() < 0 or self.items.max() >= len(self.item_ids):
                raise ValueError("item index out of range of item_ids")
        if rating_scale is None:
            rating_scale = (
                (float(self.ratings.min()), float(self.ratings.max())) if n else (0.0, 1.0)
            )
        self.rating_scale = (float(rating_scale[0]), float(rating_scale[1]))
        self.item_info = item_info
        self.user_info = user_info
        self.name = name

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        rating_scale: tuple[float, float] | None = None,
        item_info: pd.DataFrame | None = None,
        user_info: pd.DataFrame | None = None,
        name: str = "",
        user_ids: np.ndarray | None = None,
        item_ids: np.ndarray | None = None,
    ) -> "Dataset":
        """Build a Dataset from a frame with columns ``user, item, rating[, timestamp]``.

        Raw ids are mapped to indices in sorted order of the raw ids, unless ``user_ids`` /
        ``item_ids`` are given, in which case those mappings are used and an id outside them
        raises :class:`~recsys.errors.UnknownIdError`.
        """
        missing = [c for c in ("user", "item", "rating") if c not in frame.columns]
        if missing:
            raise DataFormatError("<frame>", f"missing column(s) {missing}")
        if user_ids is None:
            user_codes, user_ids = _factorize(frame["user"].to_numpy())
        else:
            user_codes = _lookup(user_ids, frame["user"].to_numpy(), "user")
        if item_ids is None:
            item_codes, item_ids = _factorize(frame["item"].to_numpy())
        else:
            item_codes = _lookup(item_ids, frame["item"].to_numpy(), "item")
        ratings = pd.to_numeric(frame["rating"], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(ratings))
        if len(bad):
            raise DataFormatError(
                "<frame>", f"non-numeric rating {frame['rating'].iloc[bad[0]]!r}",
                line=int(bad[0]) + 1, field="rating",
            )
        ts = frame["timestamp"].to_numpy() if "timestamp" in frame.columns else None
        return cls(user_codes, item_codes, ratings, ts, user_ids, item_ids,
                   rating_scale, item_info, user_info, name)

    @classmethod
    def from_movielens(cls, data) -> "Dataset":
        """Build a Dataset from a :class:`recsys.data.MovieLensData` returned by a loader."""
        return cls.from_frame(
            data.ratings, rating_scale=data.rating_scale, item_info=data.items,
            user_info=data.users, name=data.name,
        )

    def subset(self, selection: np.ndarray) -> "Dataset":
        """The ratings picked by ``selection`` (bool mask or index array), same id maps."""
        sel = np.asarray(selection)
        if sel.dtype != bool:
            sel = sel.astype(np.int64, copy=False)
        return Dataset(
            self.users[sel], self.items[sel], self.ratings[sel], self.timestamps[sel],
            self.user_ids, self.item_ids, self.rating_scale, self.item_info,
            self.user_info, self.name,
        )

    def with_ratings(self, ratings: np.ndarray) -> "Dataset":
        """The same (user, item, timestamp) triples with other rating values."""
        return Dataset(
            self.users, self.items, ratings, self.timestamps, self.user_ids, self.item_ids,
            self.rating_scale, self.item_info, self.user_info, self.name,
        )

    # ------------------------------------------------------------------ sizes and stats
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    def __len__(self) -> int:
        return self.n_ratings

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n_users={self.n_users}, n_items={self.n_items}, "
                f"n_ratings={self.n_ratings}, rating_scale={self.rating_scale})")

    @cached_property
    def global_mean(self) -> float:
        """Mean rating, float64; the midpoint of the scale if there are no ratings."""
        if self.n_ratings == 0:
            return float(sum(self.rating_scale) / 2)
        return float(self.ratings.mean(dtype=np.float64))

    @cached_property
    def user_counts(self) -> np.ndarray:
        """Ratings per user, int64, shape (n_users,)."""
        return _chunked_bincount(self.users, self.n_users)

    @cached_property
    def item_counts(self) -> np.ndarray:
        """Ratings per item, int64, shape (n_items,)."""
        return _chunked_bincount(self.items, self.n_items)

    @cached_property
    def user_means(self) -> np.ndarray:
        """Mean rating per user, float64, shape (n_users,); the global mean where count is 0."""
        return _group_mean(self.users, self.ratings, self.n_users, self.user_counts,
                           self.global_mean)

    @cached_property
    def item_means(self) -> np.ndarray:
        """Mean rating per item, float64, shape (n_items,); the global mean where count is 0."""
        return _group_mean(self.items, self.ratings, self.n_items, self.item_counts,
                           self.global_mean)

    # ------------------------------------------------------------------ sparse views
    @cached_property
    def csr(self) -> sp.csr_matrix:
        """Ratings by user: CSR, shape (n_users, n_items), float32, sorted column indices.

        Raises DataFormatError if a (user, item) pair occurs twice, since summing the two
        ratings would silently corrupt every model built on the matrix.
        """
        m = sp.csr_matrix(
            (self.ratings, (self.users, self.items)), shape=(self.n_users, self.n_items),
            dtype=np.float32,
        )
        m.sum_duplicates()
        if m.nnz != self.n_ratings:
            self._raise_duplicate()
        m.sort_indices()
        return m

    @cached_property
    def csr_by_item(self) -> sp.csr_matrix:
        """Ratings by item: CSR, shape (n_items, n_users), float32 (the transpose of ``csr``)."""
        m = self.csr.T.tocsr()
        m.sort_indices()
        return m

    @property
    def csc(self) -> sp.csc_matrix:
        """Ratings by item as CSC, shape (n_users, n_items): columns are items."""
        return self.csr_by_item.T

    def _raise_duplicate(self):
        key = self.users.astype(np.int64) * self.n_items + self.items
        order = np.argsort(key, kind="stable")
        dup = order[1:][np.diff(key[order]) == 0][0]
        raise DataFormatError(
            self.name or "<dataset>",
            f"user {self.user_ids[self.users[dup]]!r} rated item "
            f"{self.item_ids[self.items[dup]]!r} more than once",
        )

    # ------------------------------------------------------------------ id mapping
    @cached_property
    def _user_index(self) -> pd.Index:
        return pd.Index(self.user_ids)

    @cached_property
    def _item_index(self) -> pd.Index:
        return pd.Index(self.item_ids)

    def user_index(self, raw_ids) -> np.ndarray:
        """Internal indices (int32) of raw user ids; raises UnknownIdError for an unknown id."""
        return _lookup(self._user_index, raw_ids, "user")

    def item_index(self, raw_ids) -> np.ndarray:
        """Internal indices (int32) of raw item ids; raises UnknownIdError for an unknown id."""
        return _lookup(self._item_index, raw_ids, "item")

    def user_index_or_missing(self, raw_ids) -> np.ndarray:
        """Internal indices (int64) of raw user ids, -1 where the id is unknown."""
        return self._user_index.get_indexer(np.atleast_1d(np.asarray(raw_ids))).astype(np.int64)

    def item_index_or_missing(self, raw_ids) -> np.ndarray:
        """Internal indices (int64) of raw item ids, -1 where the id is unknown."""
        return self._item_index.get_indexer(np.atleast_1d(np.asarray(raw_ids))).astype(np.int64)

    def user_id(self, index):
        """Raw id(s) of internal user index(es)."""
        return self.user_ids[index]

    def item_id(self, index):
        """Raw id(s) of internal item index(es)."""
        return self.item_ids[index]

    # ------------------------------------------------------------------ access
    def user_items(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Item indices (int32) and ratings (float32) of internal user ``user``."""
        m = self.csr
        lo, hi = m.indptr[user], m.indptr[user + 1]
        return m.indices[lo:hi], m.data[lo:hi]

    def to_frame(self, raw_ids: bool = True) -> pd.DataFrame:
        """The ratings as a frame with columns ``user, item, rating, timestamp``."""
        return pd.DataFrame({
            "user": self.user_ids[self.users] if raw_ids else self.users,
            "item": self.item_ids[self.items] if raw_ids else self.items,
            "rating": self.ratings,
            "timestamp": self.timestamps,
        })

    def same_mapping(self, other: "Dataset") -> bool:
        """True if ``other`` uses the same user and item id maps (e.g. train and test)."""
        return (
            (self.user_ids is other.user_ids or np.array_equal(self.user_ids, other.user_ids))
            and (self.item_ids is other.item_ids or np.array_equal(self.item_ids, other.item_ids))
        )


def _factorize(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(raw, sort=True)
    return codes.astype(np.int32), np.asarray(uniques)


def _lookup(index, raw_ids, kind: str) -> np.ndarray:
    if not isinstance(index, pd.Index):
        index = pd.Index(np.asarray(index))
    raw = np.atleast_1d(np.asarray(raw_ids))
    codes = index.get_indexer(raw)
    if (codes < 0).any():
        raise UnknownIdError(kind, _plain(raw[np.flatnonzero(codes < 0)[0]]))
    return codes.astype(np.int32)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


#: Entries per np.bincount call in :func:`_chunked_bincount`.
_BINCOUNT_CHUNK = 1 << 20


def _chunked_bincount(index: np.ndarray, n: int, weights: np.ndarray | None = None):
    """``np.bincount(index, weights, minlength=n)`` (indices in ``[0, n)``), a chunk at a time:
    bincount casts the whole of an int32 index to int64 and float32 weights to float64, a
    transient of 8 bytes a rating each (at 100M ratings, 0.7x the rating arrays: what put
    ALS's peak over 3x in benchmarks/scale.py)."""
    out = np.zeros(n, dtype=np.int64 if weights is None else np.float64)
    for lo in range(0, len(index), _BINCOUNT_CHUNK):
        hi = lo + _BINCOUNT_CHUNK
        out += np.bincount(index[lo:hi], None if weights is None else weights[lo:hi],
                           minlength=n)
    return out


def _group_mean(index, values, n, counts, fallback) -> np.ndarray:
    sums = _chunked_bincount(index, n, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    means[counts == 0] = fallback
    return means

