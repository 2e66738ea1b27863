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

Strict protocol: the implicit sets come from the training ratings only (Rendle et al., "On the
Difficulty of Evaluating Baselines", 2019, also used the test pairs; we do not). Each block is
its own hyperprior group. The one-hot blocks are always present.

Global layout: relation 0 (users) owns columns ``[user one-hot | user_implicit]``, relation 1
(items) ``[item one-hot | item_implicit]``; global keys are users ``0..n_users-1`` then items
``n_users..n_users+n_items-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset

__all__ = ["BLOCKS", "FMDesign", "parse_blocks", "build_design", "relational_design"]

#: Every block name, in the order of their hyperprior groups.
BLOCKS = ("user", "item", "user_implicit", "item_implicit")
_REQUIRED = ("user", "item")


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


def build_design(train: Dataset, blocks: tuple[str, ...]) -> FMDesign:
    """The relational design of ``train`` with the blocks named (see :func:`parse_blocks`);
    its rows are the training ratings sorted by user, then item."""
    n_users, n_items = train.n_users, train.n_items
    by_user = train.csr  # (n_users, n_items), the training ratings
    user_parts = [(sp.identity(n_users, format="csr"), "user")]
    item_parts = [(sp.identity(n_items, format="csr"), "item")]
    if "user_implicit" in blocks:
        user_parts.append((_implicit(by_user), "user_implicit"))
    if "item_implicit" in blocks:
        item_parts.append((_implicit(by_user.T.tocsr()), "item_implicit"))
    groups = tuple(name for name in BLOCKS if name in blocks)
    col_group = np.concatenate([np.full(m.shape[1], groups.index(name), dtype=np.int32)
                                for parts in (user_parts, item_parts) for m, name in parts])
    row_order = np.lexsort((train.items, train.users))
    return relational_design(train.users[row_order], train.items[row_order],
                             sp.hstack([m for m, _ in user_parts], format="csr"),
                             sp.hstack([m for m, _ in item_parts], format="csr"),
                             col_group, groups, row_order)


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
