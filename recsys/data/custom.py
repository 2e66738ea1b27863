"""Data sets named by a path and a format rather than a registered release name: a copy of
a MovieLens release in any folder, a ratings file in any delimited layout, or implicit
feedback (who interacted with what, how often) for data without ratings.

:func:`load_path` is what a bench config's ``[[datasets]]`` entry with ``path`` and
``format`` reads (:mod:`recsys.bench.config`); the result is a plain
:class:`~recsys.dataset.Dataset`, so every model, split and metric takes it.

Formats (:data:`FORMATS`)
-------------------------
- ``"ml-100k"``: a folder laid out as ML-100K (``u.data``, ``u.item``, ...);
- ``"ml-1m"``: a folder of ``::``-separated ``.dat`` files (ML-1M, ML-10M);
- ``"ml-latest"``: a folder of the CSV releases (``ratings.csv``, ``movies.csv``, ...:
  ml-latest, ml-latest-small, ml-20m, ml-25m, ml-32m);
- ``"csv"``: one delimited ratings file: ``columns`` says which column holds the user, the
  item, the rating and (optionally) the timestamp, by header name or 0-based position;
  ``sep``, ``header``, ``rating_scale`` (required) and ``rating_step`` describe the rest;
- ``"implicit"``: one delimited file of interactions: user, item, an optional ``count``
  (the rating becomes the count: a confidence for iALS, a weight for the item-item
  models) and an optional timestamp; without a count every interaction has rating 1 (a
  repeated pair is then merged into one, counted). The scale is ``(1, largest count)``,
  and every interaction is relevant: top-N metrics only (a bench config with an implicit
  data set needs ``relevance_threshold <= 1`` and no rating metric).

A folder of a MovieLens format whose name is a registered release's (``ml-1m``,
``ml-10M100K``, ...) is checked against the release's published counts
(:mod:`recsys.data.releases`): a copy that differs gets a
:class:`~recsys.data.releases.ReleaseMismatchWarning` (``release`` names the release when the
folder is called something else). Every malformed line is a
:class:`~recsys.errors.DataFormatError` naming the file, the 1-based line and the field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from recsys.data.tables import FLOAT, INT, STR, read_table, row_lines
from recsys.errors import DataFormatError

__all__ = ["FORMATS", "MOVIELENS_FORMATS", "TableFormat", "load_path", "matching_release"]

#: The formats :func:`load_path` reads.
FORMATS = ("ml-100k", "ml-1m", "ml-latest", "csv", "implicit")
#: The folder formats, and the registry's name for each layout (``Release.format``).
MOVIELENS_FORMATS = {"ml-100k": "100k", "ml-1m": "dat", "ml-latest": "csv"}
#: Each MovieLens layout's scale and step when no registered release names the folder.
_LAYOUT_SCALE = {"100k": ((1.0, 5.0), 1.0), "dat": ((1.0, 5.0), 1.0), "csv": ((0.5, 5.0), 0.5)}
_FIELDS = {"csv": ("user", "item", "rating", "timestamp"),
           "implicit": ("user", "item", "count", "timestamp")}
_REQUIRED = {"csv": ("user", "item", "rating"), "implicit": ("user", "item")}
ID_TYPES = ("int", "str")


@dataclass(frozen=True)
class TableFormat:
    """How a ``"csv"`` or ``"implicit"`` file is laid out.

    Attributes
    ----------
    columns : mapping of field to str or int
        Where each field is: a header name, or a 0-based column position. Fields: ``user``,
        ``item``, ``rating`` (csv; required) or ``count`` (implicit; optional), and
        ``timestamp`` (optional, integer seconds). Default: each field's own name.
    sep : str
        The field separator (one character, or ``"::"``).
    header : bool
        Whether the first line names the columns (then names in ``columns`` refer to it).
    rating_scale : (float, float) or None
        The lowest and highest rating (csv: required); a rating outside is an error.
    rating_step : float or None
        Ratings must be ``low + k * step`` (e.g. 0.5 for half stars); None: any value.
    id_type : {"int", "str"}
        How user and item ids are read.
    """

    columns: Mapping[str, str | int] = field(default_factory=dict)
    sep: str = ","
    header: bool = True
    rating_scale: tuple[float, float] | None = None
    rating_step: float | None = None
    id_type: str = "int"


def matching_release(path: str | Path, format: str, release: str | None = None):
    """The registered :class:`~recsys.data.releases.Release` a folder of a MovieLens
    ``format`` is a copy of: ``release`` if given (ValueError if its layout is another),
    else the one whose name or zip folder is the folder's name, else None."""
    from recsys.data.releases import RELEASES, get_release

    layout = MOVIELENS_FORMATS[format]
    if release is not None:
        r = get_release(release)
        if r.format != layout:
            raise ValueError(f"release {release!r} is laid out as {r.format!r} files, not as "
                             f"format {format!r}")
        return r
    name = Path(path).name
    for r in RELEASES.values():
        if r.format == layout and name in (r.name, r.folder):
            return r
    return None


def load_path(path: str | Path, format: str, *, label: str | None = None,
              table: TableFormat | None = None, release: str | None = None,
              duplicates: str = "error"):
    """The :class:`~recsys.dataset.Dataset` at ``path`` in ``format`` (module notes).

    Parameters
    ----------
    path : path
        A release folder (the MovieLens formats) or a file (``"csv"``, ``"implicit"``).
    format : one of :data:`FORMATS`
    label : str, optional
        The Dataset's name (what the bench tables say); default the file or folder name.
    table : TableFormat, optional
        The layout of a ``"csv"`` or ``"implicit"`` file (``"csv"`` needs its
        ``rating_scale``); ignored by the folder formats.
    release : str, optional
        The registered release a folder copies, when its name does not say it.
    duplicates : {"error", "last", "mean"}
        A (user, item) pair rated twice: refused, last kept, or averaged
        (:mod:`recsys.data.duplicates`). Implicit data without counts merges them (counted).

    Raises
    ------
    DataFormatError
        Naming the file, line and field of a malformed line; a missing file or column.
    ValueError
        An unknown format, or options that do not fit it.

    Warns
    -----
    ReleaseMismatchWarning
        A copy of a registered release whose counts differ from the published ones.
    """
    from recsys.dataset import Dataset

    if format not in FORMATS:
        raise ValueError(f"unknown data format {format!r}; valid: {', '.join(FORMATS)}")
    path = Path(path)
    name = label or path.name
    if format in MOVIELENS_FORMATS:
        return Dataset.from_movielens(_load_folder(path, format, name, release, duplicates))
    if not path.is_file():
        raise DataFormatError(path, "missing file" if not path.is_dir() else
                              f"is a folder; format {format!r} reads one file (give the "
                              f"file's path, or a folder format: ml-100k, ml-1m, ml-latest)")
    table = table or TableFormat()
    frame, scale = _read_interactions(path, format, table, duplicates)
    return Dataset.from_frame(frame, rating_scale=scale, name=name)


def _load_folder(path: Path, format: str, name: str, release: str | None, duplicates: str):
    from recsys.data.movielens import _check_counts, load_csv, load_dat, load_ml100k

    if not path.is_dir():
        raise DataFormatError(path, f"not a folder: format {format!r} reads a release folder"
                              if path.exists() else "no such folder")
    found = matching_release(path, format, release)
    layout = MOVIELENS_FORMATS[format]
    scale, step = ((found.rating_scale, found.rating_step) if found is not None
                   else _LAYOUT_SCALE[layout])
    encoding = found.encoding if found is not None else "auto"
    if layout == "100k":
        data = load_ml100k(path, name, encoding=encoding, duplicates=duplicates)
    elif layout == "dat":
        data = load_dat(path, name, scale, encoding, rating_step=step, duplicates=duplicates)
    else:
        data = load_csv(path, name, scale, rating_step=step, duplicates=duplicates)
    if found is not None:
        _check_counts(found, data)
    return data


# ---------------------------------------------------------------------- one file
def _header(path: Path, sep: str) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        line = fh.readline().rstrip("\r\n")
    if not line:
        raise DataFormatError(path, "the file is empty, or its first line is", line=1)
    if len(sep) == 1:
        return next(csv.reader([line], delimiter=sep))
    return line.split(sep)


def _positions(path: Path, format: str, table: TableFormat) -> tuple[dict[str, int], int]:
    """Each field's 0-based column and the number of columns, from ``table.columns``."""
    fields = _FIELDS[format]
    unknown = [k for k in table.columns if k not in fields]
    if unknown:
        raise ValueError(f"columns: unknown field {unknown[0]!r} for format {format!r}; "
                         f"valid: {', '.join(fields)}")
    names = _header(path, table.sep) if table.header else None
    wanted = dict(table.columns) or {}
    if not table.columns:  # defaults: the fields' own names where the header has them
        if names is None:
            wanted = {f: j for j, f in enumerate(_REQUIRED[format])}
        else:
            wanted = {f: f for f in fields if f in names}
    positions = {}
    for name, where in wanted.items():
        if isinstance(where, bool) or not isinstance(where, (int, str)):
            raise ValueError(f"columns.{name}: expected a column name or a 0-based position, "
                             f"got {where!r}")
        if isinstance(where, str):
            if names is None:
                raise ValueError(f"columns.{name} = {where!r} names a column, but header = "
                                 "false: give its 0-based position")
            if where not in names:
                raise DataFormatError(path, f"no column {where!r} for the {name} (columns."
                                      f"{name}); the header has {names}", line=1)
            positions[name] = names.index(where)
        else:
            positions[name] = where
    missing = [f for f in _REQUIRED[format] if f not in positions]
    if missing:
        raise DataFormatError(path, f"no {missing[0]} column: name it in columns."
                              f"{missing[0]}" + (f" (the header has {names})" if names else ""),
                              line=1 if names else None)
    # Without a header the first line tells how many columns every line has.
    n_columns = len(names if names is not None else _header(path, table.sep))
    for name, j in positions.items():
        if not 0 <= j < n_columns:
            raise ValueError(f"columns.{name} = {j}: the file has {n_columns} columns")
    if len(set(positions.values())) < len(positions):
        raise ValueError(f"columns: two fields share one column ({positions})")
    return positions, n_columns


def _read_interactions(path: Path, format: str, table: TableFormat, duplicates: str):
    from recsys.data.duplicates import apply_duplicates

    if table.id_type not in ID_TYPES:
        raise ValueError(f"id_type must be one of {ID_TYPES}, got {table.id_type!r}")
    if format == "csv" and table.rating_scale is None:
        raise ValueError("format 'csv' needs rating_scale = [lowest, highest]")
    positions, n_columns = _positions(path, format, table)
    role = {j: name for name, j in positions.items()}
    id_kind = INT if table.id_type == "int" else STR
    kinds = {"user": id_kind, "item": id_kind, "rating": FLOAT, "count": FLOAT,
             "timestamp": INT}
    fields = [(role[j], kinds[role[j]]) if j in role else (f"column {j}", STR)
              for j in range(n_columns)]
    header = tuple(_header(path, table.sep)) if table.header else None
    scale = tuple(float(x) for x in table.rating_scale) if table.rating_scale else None
    frame = read_table(path, fields, table.sep, header=header, quoted=True,
                       rating_scale=scale if format == "csv" else None,
                       rating_step=table.rating_step if format == "csv" else None)
    if not len(frame):
        raise DataFormatError(path, "no rows: the file holds its header only"
                              if header else "no rows: the file is empty")
    out = pd.DataFrame({"user": frame["user"], "item": frame["item"]})
    if format == "implicit":
        if "count" in frame:
            counts = frame["count"].to_numpy(dtype=np.float64)
            bad = np.flatnonzero(~(counts > 0))
            if len(bad):
                line = row_lines(path, bad[:1], header is not None)[0]
                raise DataFormatError(path, f"a count must be > 0, found {counts[bad[0]]:g}",
                                      line=line, field="count")
            out["rating"] = counts
        else:
            out["rating"] = 1.0
    else:
        out["rating"] = frame["rating"]
    if "timestamp" in frame:
        out["timestamp"] = frame["timestamp"]
    if format == "implicit" and "count" not in frame:
        out = _count_repeats(out)
    elif table.id_type == "int":
        out, _ = apply_duplicates(out, path, duplicates, header is not None)
    else:  # the duplicate policy works on integer ids: apply it to codes of the strings
        users, user_names = pd.factorize(out["user"])
        items, item_names = pd.factorize(out["item"])
        coded, _ = apply_duplicates(out.assign(user=users, item=items), path, duplicates,
                                    header is not None)
        out = coded.assign(user=np.asarray(user_names)[coded["user"].to_numpy()],
                           item=np.asarray(item_names)[coded["item"].to_numpy()])
    if format == "implicit":
        scale = (1.0, max(1.0, float(out["rating"].max())))
    return out, scale


def _count_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item): the rating the number of times the pair occurs, the
    timestamp its last occurrence's."""
    agg: dict[str, Any] = {"rating": ("rating", "size")}
    if "timestamp" in frame:
        agg["timestamp"] = ("timestamp", "max")
    out = frame.groupby(["user", "item"], sort=False, as_index=False).agg(**agg)
    out["rating"] = out["rating"].astype(np.float64)
    return out
