"""The split files ML-100K ships (``u1.base`` / ``u1.test`` ... ``ub.test``), read against the
full data set: which of its ratings each file holds.

:func:`read_official_folds` returns row positions; :func:`recsys.split.official_folds` turns
them into folds. A file that does not fit the data set raises
:class:`~recsys.errors.DataFormatError` naming the file and the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys.dataset import Dataset
from recsys.errors import DataFormatError, DataNotFoundError

__all__ = ["OFFICIAL_FOLDS", "read_official_folds"]

#: The split files ML-100K ships: name -> (train file, test file).
OFFICIAL_FOLDS = {name: (f"{name}.base", f"{name}.test")
                  for name in ("u1", "u2", "u3", "u4", "u5", "ua", "ub")}


def read_official_folds(ds: Dataset, data_dir=None, names=("u1", "u2", "u3", "u4", "u5")
                        ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Where the ratings of each official split file are in ``ds``.

    Parameters
    ----------
    ds : Dataset
        ML-100K as loaded by ``recsys.data.load_dataset("ml-100k")``; every rating of the split
        files must be in it (a filtered data set does not fit the official folds).
    data_dir : path, optional
        Where to look for the release, as for :func:`recsys.data.find_release`.
    names : str or sequence of {"u1", ..., "u5", "ua", "ub"}

    Returns
    -------
    list of ``(name, train_rows, test_rows)``, one per name: int64 positions into ``ds``'s
    ratings of ``<name>.base`` and of ``<name>.test``.

    Raises
    ------
    ValueError
        An unknown fold name.
    DataNotFoundError
        A split file is missing, naming it.
    DataFormatError
        A rating of a file is not in ``ds`` as written there, naming the file and line.
    """
    from recsys.data.download import find_release
    from recsys.data.movielens import read_ml100k_ratings

    if isinstance(names, str):
        names = (names,)
    unknown = [n for n in names if n not in OFFICIAL_FOLDS]
    if unknown:
        raise ValueError(f"unknown official fold(s) {unknown}; ML-100K has "
                         f"{list(OFFICIAL_FOLDS)}")
    root = Path(find_release("ml-100k", data_dir))
    paths = {n: [root / f for f in OFFICIAL_FOLDS[n]] for n in names}
    missing = [str(p) for ps in paths.values() for p in ps if not p.is_file()]
    if missing:
        raise DataNotFoundError(
            f"official ML-100K split file(s) missing: {', '.join(missing)}; the complete "
            "ml-100k release (from https://grouplens.org/datasets/movielens/100k/) has them"
        )
    out = []
    for name in names:
        base, test = (_rows_in(ds, p, read_ml100k_ratings(p)) for p in paths[name])
        out.append((name, base, test))
    return out


def _rows_in(ds: Dataset, path: Path, frame: pd.DataFrame) -> np.ndarray:
    """Positions in ``ds`` of the (user, item) pairs of a split file, checked rating by rating."""
    users = ds.user_index_or_missing(frame["user"].to_numpy())
    items = ds.item_index_or_missing(frame["item"].to_numpy())
    bad = np.flatnonzero((users < 0) | (items < 0))
    if len(bad):
        line = int(bad[0])
        raise DataFormatError(
            path, f"user {frame['user'].iloc[line]!r} / item {frame['item'].iloc[line]!r} is not "
            f"in the data set {ds.name!r}; official_folds needs the full ml-100k Dataset",
            line=line + 1,
        )
    if ds.n_ratings == 0:
        raise DataFormatError(path, f"the data set {ds.name!r} has no ratings; official_folds "
                              "needs the full ml-100k Dataset")
    ds_key = ds.users.astype(np.int64) * ds.n_items + ds.items
    order = np.argsort(ds_key, kind="stable")
    key = users * ds.n_items + items
    pos = np.searchsorted(ds_key[order], key)
    pos = np.minimum(pos, len(order) - 1)
    rows = order[pos]
    bad = np.flatnonzero(ds_key[rows] != key)
    if len(bad) == 0:
        bad = np.flatnonzero(ds.ratings[rows] != frame["rating"].to_numpy(dtype=np.float32))
    if len(bad):
        line = int(bad[0])
        raise DataFormatError(
            path, f"rating of user {frame['user'].iloc[line]!r} on item "
            f"{frame['item'].iloc[line]!r} is not in the data set {ds.name!r} as written "
            "here; official_folds needs the full ml-100k Dataset", line=line + 1,
        )
    if len(np.unique(rows)) != len(rows):
        raise DataFormatError(path, "a (user, item) pair occurs twice")
    return rows
