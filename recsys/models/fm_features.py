"""Feature blocks of the Bayesian factorization machine, as relational design matrices.

A rating ``(u, i)`` is the FM row ``x = [x_user(u), x_item(i)]``: the concatenation of one
row of the *user relation* and one row of the *item relation* (Rendle, "Scaling Factorization
Machines to Relational Data", VLDB 2013). Each relation is a design matrix with one row per
user (item), shared by all their ratings, so its cost in a Gibbs sweep grows with the number of
users (items), not with the ratings (:mod:`recsys.kernels.bfm`). The blocks (column groups):

- ``"user"``: the user's one-hot column (user relation);
- ``"item"``: the item's one-hot column (item relation);
- ``"user_implicit"``: the items the user rated in the TRAINING data, each ``|N(u)|^-1/2``
  (SVD++'s implicit feedback, Koren 2008; user relation);
- ``"item_implicit"``: its flipped twin, the users who rated the item in the training data,
  each ``|N(i)|^-1/2`` (item relation).
- ``"user_side"``: what ``Dataset.user_info`` says of the user (ML-100K's ``u.user``): the age
  band (ML-1M's bands: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+), the gender, the
  occupation and the zip region (the code's first digit; "other" for a code that does not
  start with one), one-hot each, its own hyperprior group each (user relation);
- ``"item_side"``: the item's genres (multi-hot, :func:`recsys.features.genre_matrix`) and
  release year (one-hot, :func:`recsys.features.year_matrix`), a group each (item relation);
- ``"time"``: the one-hot of the rating's time bin (``time_bin_days`` days since the first
  training day: 1, day of rating; 7, week), a relation of its own (the third): a rating's
  row is ``[x_user(u), x_item(i), x_time(t)]``. One more key than the training period has
  bins stands for any time outside it (no row touches it: scored at its group's prior).

Strict protocol: the implicit sets come from the training ratings only (Rendle et al., "On the
Difficulty of Evaluating Baselines", 2019, also used the test pairs; we do not). Each block is
its own hyperprior group. The one-hot blocks are always present.

Global layout: relation 0 (users) owns columns ``[user one-hot | user_implicit | user_side]``,
relation 1 (items) ``[item one-hot | item_implicit | item_side]``, relation 2 (with "time")
``[time one-hot]``; global keys are users ``0..n_users-1``, then items, then time bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset

__all__ = ["BLOCKS", "FMDesign", "TimeAxis", "parse_blocks", "build_design",
           "relational_design", "multi_relational_design", "user_side_matrix",
           "item_side_matrix"]

#: Every block name, in the order of their hyperprior groups.
BLOCKS = ("user", "item", "user_implicit", "item_implicit", "user_side", "item_side", "time")
_REQUIRED = ("user", "item")
#: Lower edges of ML-1M's age bands (ML-100K's u.user gives ages in years).
AGE_BANDS = (0, 18, 25, 35, 45, 50, 56)
SECONDS_PER_DAY = 86400


def parse_blocks(blocks) -> tuple[str, ...]:
    """The block names of a ``blocks`` hyperparameter (comma-separated string), checked.

    ValueError for a non-string, an unknown or repeated name, or a list without "user" and
    "item" (the one-hot blocks are always used).
    """
    if not isinstance(blocks, str):
        raise ValueError(f"blocks must be a comma-separated string of {', '.join(BLOCKS)}; "
                         f"got {blocks!r}")
    names = tuple(name.strip() for name in blocks.split(",") if name.strip())
    unknown = [name for name in names if name not in BLOCKS]
    if unknown:
        raise ValueError(f"blocks: unknown block {unknown[0]!r}; known: {', '.join(BLOCKS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"blocks: a block is named twice in {blocks!r}")
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise ValueError(f"blocks must include {missing[0]!r} (the user and item one-hot "
                         f"blocks are always used); got {blocks!r}")
    return tuple(name for name in BLOCKS if name in names)


@dataclass(frozen=True)
class TimeAxis:
    """The time block's bins: ``bin = (day - day0) // bin_days`` (days since the epoch); bins
    ``0 .. n_bins - 1`` cover the training period, key ``n_bins`` any time outside it."""

    day0: int
    bin_days: int
    n_bins: int

    def bins(self, timestamps: np.ndarray) -> np.ndarray:
        """Time keys (int64) of timestamps in seconds; outside the period: ``n_bins``."""
        t = np.asarray(timestamps)
        if t.dtype.kind == "f":
            if not np.isfinite(t).all():
                raise ValueError("times must be finite timestamps in seconds")
            t = np.floor(t).astype(np.int64)
        days = t.astype(np.int64) // SECONDS_PER_DAY - self.day0
        b = np.floor_divide(days, self.bin_days)
        return np.where((days >= 0) & (b < self.n_bins), b, self.n_bins).astype(np.int64)


@dataclass(frozen=True)
class FMDesign:
    """The arrays :func:`recsys.kernels.bfm.gibbs_sweep` takes, and how to read them.

    ``row_order`` (int64 (n,)): the training ratings in the design's row order (by user, then
    item): row ``i`` is rating ``row_order[i]`` of the Dataset; ``row_keys`` (int32 (2, n)):
    user and item of each row; ``key_offset`` int64 (3,); ``key_count`` float64 (K,) rows per
    key; ``key_row_ptr``/``rows_by_key``/``other_keys``: the rows of each key and each row's
    key in the other relation (see ``gibbs_sweep``); ``key_indptr``/``key_cols``/``key_vals``:
    the stacked design rows (CSR by global key); ``col_indptr``/``col_keys``/``col_vals``: the
    same by column; ``relation_cols`` int64 (3,); ``col_group`` int32 (C,) (index into ``groups``);
    ``col_active`` bool (C,); ``group_size`` float64 (G,) active columns per group.
    """

    row_order: np.ndarray
    row_keys: np.ndarray
    key_offset: np.ndarray
    key_count: np.ndarray
    key_row_ptr: np.ndarray
    rows_by_key: np.ndarray
    other_keys: np.ndarray
    key_indptr: np.ndarray
    key_cols: np.ndarray
    key_vals: np.ndarray
    col_indptr: np.ndarray
    col_keys: np.ndarray
    col_vals: np.ndarray
    relation_cols: np.ndarray
    col_group: np.ndarray
    col_active: np.ndarray
    group_size: np.ndarray
    groups: tuple[str, ...]
    time_axis: TimeAxis | None = None

    @property
    def n_columns(self) -> int:
        return len(self.col_group)

    @property
    def n_keys(self) -> int:
        return len(self.key_count)

    def sweep_args(self) -> tuple:
        """The design's arguments of ``gibbs_sweep``, in order (the parameters follow)."""
        return (self.key_offset, self.key_count, self.key_row_ptr, self.rows_by_key,
                self.other_keys, self.col_indptr, self.col_keys, self.col_vals,
                self.relation_cols, self.col_group, self.col_active, self.group_size)


def _implicit(m: sp.csr_matrix) -> sp.csr_matrix:
    # Each row's nonzeros set to |row|^-1/2 (rows without any stay empty).
    counts = np.diff(m.indptr)
    vals = np.repeat(1.0 / np.sqrt(np.maximum(counts, 1)), counts)
    return sp.csr_matrix((vals, m.indices, m.indptr), shape=m.shape)


def _rows_of_keys(row_keys: np.ndarray, n_keys: tuple[int, ...]):
    """(key_row_ptr int64 (K + 1,), rows_by_key int32 (R n,), other_keys int32 (R n, R - 1)):
    for each relation b the rows sorted by their key in it (stable), the relations stacked,
    and each listed row's global keys in relations (b + 1) % R, ..., (b + R - 1) % R (the
    previous relation last, as :func:`recsys.kernels.bfm.gibbs_sweep` reads them)."""
    n_rel = len(n_keys)
    offsets = np.concatenate([[0], np.cumsum(n_keys)])
    orders = [np.argsort(row_keys[b], kind="stable") for b in range(n_rel)]
    counts = np.concatenate([np.bincount(row_keys[b], minlength=n_keys[b])
                             for b in range(n_rel)])
    key_row_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows_by_key = np.concatenate(orders).astype(np.int32)
    other_keys = np.concatenate([
        np.stack([row_keys[(b + 1 + m) % n_rel, orders[b]] + offsets[(b + 1 + m) % n_rel]
                  for m in range(n_rel - 1)], axis=1) for b in range(n_rel)])
    return key_row_ptr, rows_by_key, np.ascontiguousarray(other_keys, dtype=np.int32)


def _one_hot(codes: np.ndarray, n: int | None = None) -> sp.csr_matrix:
    """Rows with one 1 at ``codes[r]`` (a code < 0: an empty row)."""
    codes = np.asarray(codes, dtype=np.int64)
    n = int(codes.max()) + 1 if n is None else n
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix((np.ones(len(rows)), (rows, codes[rows])),
                         shape=(len(codes), max(n, 1)))


def _categories(values) -> np.ndarray:
    """Integer codes of the values (None: -1), in sorted order of the distinct values."""
    present = sorted({v for v in values if v is not None})
    index = {v: c for c, v in enumerate(present)}
    return np.array([index[v] if v is not None else -1 for v in values], dtype=np.int64)


def user_side_matrix(ds: Dataset) -> list[tuple[sp.csr_matrix, str]]:
    """The "user_side" block: ``[(matrix (n_users, c), group name), ...]`` for the columns
    of ``ds.user_info`` it knows (age, gender, occupation, zip), each one-hot; a user missing
    from ``user_info`` (or a missing field) gets an empty row. ValueError when the Dataset
    has no ``user_info`` or none of those columns."""
    import pandas as pd

    info = ds.user_info
    known = [c for c in ("age", "gender", "occupation", "zip")
             if info is not None and c in info.columns]
    if not known:
        raise ValueError(f"blocks 'user_side' needs user_info with age, gender, occupation "
                         f"or zip columns (ML-100K's u.user); "
                         f"{ds.name or 'this data set'} has "
                         f"{'no user_info' if info is None else 'columns ' + str(list(info.columns))}")
    if info.index.has_duplicates:
        dup = info.index[info.index.duplicated()][0]
        raise ValueError(f"{ds.name or 'dataset'}: user_info lists user id {dup!r} twice")
    rows = info.reindex(pd.Index(ds.user_ids))
    parts = []
    for column in known:
        values = [None if (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)))
                  else v for v in rows[column].astype(object).tolist()]
        if column == "age":
            try:
                ages = [None if v is None else float(v) for v in values]
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{ds.name or 'dataset'}: user_info age must be a number "
                                 f"({exc})") from None
            codes = np.array([-1 if a is None else int(np.searchsorted(AGE_BANDS, a, "right")) - 1
                              for a in ages])
            parts.append((_one_hot(codes, len(AGE_BANDS)), "user_age"))
            continue
        if column == "zip":
            values = [None if v is None else (str(v).strip()[:1] if str(v).strip()[:1].isdigit()
                                              else "other") for v in values]
        codes = _categories([None if v is None else str(v) for v in values])
        parts.append((_one_hot(codes), f"user_{column}"))
    return parts


def item_side_matrix(ds: Dataset) -> list[tuple[sp.csr_matrix, str]]:
    """The "item_side" block: ``[(genre multi-hot, "item_genre"), (release-year one-hot,
    "item_year")]`` (whichever ``ds.item_info`` has). ValueError when it has neither."""
    from recsys.features import genre_matrix, year_matrix

    parts = []
    genres, _ = genre_matrix(ds)
    if genres.shape[1]:
        parts.append((genres.astype(np.float64).tocsr(), "item_genre"))
    years = year_matrix(ds, by="year")
    if years.shape[1]:
        parts.append((years.astype(np.float64).tocsr(), "item_year"))
    if not parts:
        raise ValueError(f"blocks 'item_side' needs item_info with genres or release years; "
                         f"{ds.name or 'this data set'} has none")
    return parts


def time_axis(train: Dataset, bin_days: int) -> TimeAxis:
    """The time bins of the training period (:class:`TimeAxis`)."""
    days = train.timestamps // SECONDS_PER_DAY
    day0 = int(days.min()) if len(days) else 0
    n_bins = int((days.max() - day0) // bin_days) + 1 if len(days) else 1
    return TimeAxis(day0=day0, bin_days=int(bin_days), n_bins=n_bins)


def _block_of(group: str) -> str:
    # A side block's groups are "user_age", "item_genre", ...
    if group in BLOCKS:
        return group
    return "user_side" if group.startswith("user_") else "item_side"


def build_design(train: Dataset, blocks: tuple[str, ...], time_bin_days: int = 1) -> FMDesign:
    """The relational design of ``train`` with the blocks named (see :func:`parse_blocks`);
    its rows are the training ratings sorted by user, then item. ``time_bin_days``: the
    width of the "time" block's bins."""
    n_users, n_items = train.n_users, train.n_items
    by_user = train.csr  # (n_users, n_items), the training ratings
    user_parts = [(sp.identity(n_users, format="csr"), "user")]
    item_parts = [(sp.identity(n_items, format="csr"), "item")]
    if "user_implicit" in blocks:
        user_parts.append((_implicit(by_user), "user_implicit"))
    if "item_implicit" in blocks:
        item_parts.append((_implicit(by_user.T.tocsr()), "item_implicit"))
    if "user_side" in blocks:
        user_parts += user_side_matrix(train)
    if "item_side" in blocks:
        item_parts += item_side_matrix(train)
    relations = [user_parts, item_parts]
    row_order = np.lexsort((train.items, train.users))
    keys = [train.users[row_order], train.items[row_order]]
    axis = None
    if "time" in blocks:
        axis = time_axis(train, time_bin_days)
        relations.append([(sp.identity(axis.n_bins + 1, format="csr"), "time")])
        keys.append(axis.bins(train.timestamps[row_order]))
    # Groups in BLOCKS order (a side block's groups where the block is), so that a design
    # without the new blocks keeps its groups and the sampler's draws.
    named = list(dict.fromkeys(name for parts in relations for _, name in parts))
    groups = tuple(sorted(named, key=lambda name: (BLOCKS.index(_block_of(name)),
                                                   named.index(name))))
    col_group = np.concatenate([np.full(m.shape[1], groups.index(name), dtype=np.int32)
                                for parts in relations for m, name in parts])
    design = multi_relational_design(keys, [sp.hstack([m for m, _ in parts], format="csr")
                                            for parts in relations],
                                     col_group, groups, row_order)
    if axis is None:
        return design
    from dataclasses import replace
    return replace(design, time_axis=axis)


def relational_design(users: np.ndarray, items: np.ndarray, user_rel: sp.spmatrix,
                      item_rel: sp.spmatrix, col_group: np.ndarray, groups: tuple[str, ...],
                      row_order: np.ndarray | None = None) -> FMDesign:
    """The design of rows ``[user_rel[users[i]], item_rel[items[i]]]``, any relation matrices.

    users, items : int (n,), the rows' keys; user_rel : (n_users, C0); item_rel : (n_items,
    C1); col_group : int (C0 + C1,), the group of each column (index into ``groups``);
    row_order : int (n,), recorded as :attr:`FMDesign.row_order` (default: 0..n-1).
    """
    return multi_relational_design([users, items], [user_rel, item_rel], col_group, groups,
                                   row_order)


def multi_relational_design(keys: list, relations: list, col_group: np.ndarray,
                            groups: tuple[str, ...],
                            row_order: np.ndarray | None = None) -> FMDesign:
    """The design of rows ``[B_0[keys[0][i]], ..., B_{R-1}[keys[R-1][i]]]``, R >= 2
    relation matrices ``relations`` (``B_b`` of shape (n_keys_b, C_b)), ``keys`` their rows'
    keys (int (n,) each); col_group : int (sum C_b,); as :func:`relational_design`."""
    if len(keys) != len(relations) or len(keys) < 2:
        raise ValueError("a relational design needs the same number (>= 2) of key arrays "
                         "and relation matrices")
    sizes = tuple(int(m.shape[0]) for m in relations)
    widths = [int(m.shape[1]) for m in relations]
    # One block-diagonal matrix: global keys (relation by relation) by global columns.
    stacked = sp.block_diag(relations, format="csr").astype(np.float64)
    stacked.sort_indices()
    row_keys = np.ascontiguousarray(np.vstack(keys), dtype=np.int32)
    key_count = np.concatenate([np.bincount(row_keys[b], minlength=sizes[b])
                                for b in range(len(sizes))]).astype(np.float64)
    by_col = stacked.tocsc()
    by_col.sort_indices()
    # A column is active when some row has it: a key with rows holds it (not as a zero).
    weight = np.asarray(by_col.multiply(by_col).T @ key_count).ravel()
    col_active = weight > 0
    col_group = np.asarray(col_group, dtype=np.int32)
    group_size = np.bincount(col_group[col_active], minlength=len(groups)).astype(np.float64)
    key_row_ptr, rows_by_key, other_keys = _rows_of_keys(row_keys, sizes)
    if row_order is None:
        row_order = np.arange(row_keys.shape[1])
    return FMDesign(
        row_order=np.asarray(row_order, dtype=np.int64),
        row_keys=row_keys,
        key_offset=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        key_count=key_count,
        key_row_ptr=key_row_ptr,
        rows_by_key=rows_by_key,
        other_keys=other_keys,
        key_indptr=stacked.indptr.astype(np.int64),
        key_cols=stacked.indices.astype(np.int32),
        key_vals=np.ascontiguousarray(stacked.data, dtype=np.float64),
        col_indptr=by_col.indptr.astype(np.int64),
        col_keys=by_col.indices.astype(np.int32),
        col_vals=np.ascontiguousarray(by_col.data, dtype=np.float64),
        relation_cols=np.concatenate([[0], np.cumsum(widths)]).astype(np.int64),
        col_group=col_group,
        col_active=col_active,
        group_size=group_size,
        groups=groups,
    )
