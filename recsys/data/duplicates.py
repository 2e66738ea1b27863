"""Ratings files that rate one (user, item) pair more than once, and what to do about it.

No MovieLens release repeats a pair, so a repeat means a damaged or concatenated copy. The
loaders take an explicit policy, ``duplicates=``:

- ``"error"`` (the default): :class:`~recsys.errors.DataFormatError` naming the file, the
  line of the first repeat and the line it repeats;
- ``"last"``: keep the last rating of each pair (its value and timestamp), where it stands;
- ``"mean"``: one rating per pair, the mean of its ratings, where the pair first occurs, with
  the timestamp of its last rating.

Either way the loaded data records a :class:`DuplicateReport` (``MovieLensData.duplicates``)
that ``recsys data info`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.errors import DataFormatError
from recsys.validation import check_choice

__all__ = ["DUPLICATE_POLICIES", "DuplicateReport", "apply_duplicates", "pair_keys"]

DUPLICATE_POLICIES = ("error", "last", "mean")


@dataclass(frozen=True)
class DuplicateReport:
    """What a ratings file repeats.

    Attributes
    ----------
    path : str
        The ratings file.
    n_repeats : int
        Ratings that repeat an earlier (user, item) pair (the rows a policy merges away).
    n_pairs : int
        Distinct pairs rated more than once.
    line, first_line : int
        The line of the first repeat and the line of the rating it repeats.
    user, item : int
        That pair's raw ids.
    policy : str
        What the loader did: ``"last"`` or ``"mean"``.
    """

    path: str
    n_repeats: int
    n_pairs: int
    line: int
    first_line: int
    user: int
    item: int
    policy: str

    def describe(self) -> str:
        """One line: how many, where the first is, and what was done."""
        return (f"{self.n_repeats} rating(s) repeat an earlier (user, item) pair "
                f"({self.n_pairs} pair(s)); the first: {Path(self.path).name} line {self.line}, "
                f"user {self.user} item {self.item}, first rated on line {self.first_line}; "
                f"merged with duplicates={self.policy!r}")


def pair_keys(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """One int64 per (user, item) pair, equal exactly when both ids are equal."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if len(users) and users.min() >= 0 and items.min() >= 0 \
            and users.max() < 2**31 and items.max() < 2**32:
        return (users << 32) | items
    user_codes, _ = pd.factorize(users)
    item_codes, uniques = pd.factorize(items)
    return user_codes.astype(np.int64) * max(len(uniques), 1) + item_codes


def apply_duplicates(ratings: pd.DataFrame, path, policy: str, has_header: bool
                     ) -> tuple[pd.DataFrame, DuplicateReport | None]:
    """``ratings`` (in file order) with repeated pairs handled by ``policy``.

    Returns the frame (unchanged when no pair repeats) and the report (None then).
    Raises DataFormatError under ``"error"`` when a pair repeats.
    """
    from recsys.data.tables import row_lines

    check_choice("duplicates", policy, DUPLICATE_POLICIES)
    users, items = ratings["user"].to_numpy(), ratings["item"].to_numpy()
    ordered = pair_keys(users, items)
    ordered.sort()  # in place; a sort is 15x faster than hashing 25M keys
    if not (ordered[1:] == ordered[:-1]).any():
        return ratings, None
    del ordered
    keys = pd.Series(pair_keys(users, items))
    repeat = keys.duplicated(keep="first").to_numpy()
    row = int(np.flatnonzero(repeat)[0])
    first = int(np.flatnonzero(keys.to_numpy()[:row] == keys.iat[row])[0])
    line, first_line = row_lines(path, [row, first], has_header)
    user, item = int(ratings["user"].iat[row]), int(ratings["item"].iat[row])
    n_repeats = int(repeat.sum())
    n_pairs = int(keys[repeat].nunique())
    if policy == "error":
        raise DataFormatError(
            path, f"user {user} rated item {item} again (first on line {first_line}); "
            f"{n_repeats} rating(s) repeat an earlier (user, item) pair. Load with "
            "duplicates='last' or 'mean' to merge them", line=line)
    report = DuplicateReport(str(path), n_repeats, n_pairs, line, first_line, user, item,
                             policy)
    if policy == "last":
        keep = ~keys.duplicated(keep="last").to_numpy()
        return ratings[keep].reset_index(drop=True), report
    groups = ratings.groupby(keys.to_numpy(), sort=False)  # groups in first-seen order
    out = ratings[~repeat].reset_index(drop=True)
    out["rating"] = groups["rating"].mean().to_numpy().astype(np.float32)
    out["timestamp"] = groups["timestamp"].last().to_numpy().astype(np.int64)
    return out, report
