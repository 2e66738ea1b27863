"""Joining TMDB metadata to MovieLens, and merging metadata tables.

MovieLens' ``links.csv`` (``movieId,imdbId,tmdbId``; also in a Dataset's ``item_info`` as
``imdb_id``/``tmdb_id``) is the bridge. :func:`join_movielens` matches each movie by its
tmdbId, falling back to its imdbId where the tmdbId is missing or unknown to the metadata,
and returns a :class:`TmdbJoin`: the per-movieId metadata and a :class:`Coverage` report.

>>> from recsys.data import load_dataset
>>> from recsys.data.tmdb import load_tmdb
>>> ds = load_dataset("ml-latest-small")
>>> joined = join_dataset(load_tmdb(), ds)
>>> print(joined.coverage.describe())               # doctest: +SKIP
>>> items = joined.aligned(ds.item_ids)              # one row per internal item index
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.tables import INT, NULLABLE_INT, read_table, row_lines
from recsys.data.tmdb_formats import COLUMNS, LIST_COLUMNS
from recsys.errors import DataFormatError

__all__ = ["Coverage", "LinksReport", "TmdbJoin", "join_dataset", "join_movielens",
           "merge_metadata", "read_links"]

_TEXT = ("title", "overview", "release_date")
#: The fields :class:`Coverage` counts: movies with a non-empty value.
COVERAGE_FIELDS = ("overview", "keywords", "genres", "cast", "directors", "year",
                   "popularity")


@dataclass(frozen=True)
class LinksReport:
    """What a MovieLens-format ``links.csv`` holds that a join must know about.

    ``n_repeated_tmdb_rows`` counts rows whose tmdbId an earlier row already has (The Movies
    Dataset's ``links.csv``: 30, over the 29 ids of ``repeated_tmdb_ids``).
    """

    path: str
    n_rows: int
    n_without_tmdb: int
    n_without_imdb: int
    n_repeated_tmdb_rows: int
    repeated_tmdb_ids: tuple[int, ...]

    def describe(self) -> str:
        return (f"{Path(self.path).name}: {self.n_rows:,} links, {self.n_without_tmdb:,} "
                f"without a tmdbId, {self.n_without_imdb:,} without an imdbId, "
                f"{self.n_repeated_tmdb_rows:,} rows repeating a tmdbId of an earlier row "
                f"({len(self.repeated_tmdb_ids):,} tmdbIds)")


def read_links(path: str | Path) -> tuple[pd.DataFrame, LinksReport]:
    """Read a MovieLens ``links.csv`` (``movieId,imdbId,tmdbId``; ids may be empty).

    Returns
    -------
    links : DataFrame
        Indexed by movieId (index name ``"item"``), columns ``imdb_id`` and ``tmdb_id``
        (nullable Int64), in file order.
    report : LinksReport

    Raises
    ------
    DataFormatError
        A malformed row, or a movieId listed twice (naming both lines).
    """
    path = Path(path)
    frame = read_table(path, (("item", INT), ("imdb_id", NULLABLE_INT),
                              ("tmdb_id", NULLABLE_INT)),
                       ",", header=("movieId", "imdbId", "tmdbId"), quoted=True)
    repeated = frame["item"].duplicated()
    if repeated.any():
        second = int(np.flatnonzero(repeated.to_numpy())[0])
        movie = int(frame["item"].iloc[second])
        first = int(np.flatnonzero(frame["item"].to_numpy() == movie)[0])
        lines = row_lines(path, [first, second], has_header=True)
        raise DataFormatError(path, f"movieId {movie} is listed twice (lines {lines[0]} and "
                              f"{lines[1]})", line=lines[1], field="movieId")
    tmdb = frame["tmdb_id"].dropna()
    again = tmdb[tmdb.duplicated()]
    report = LinksReport(str(path), len(frame), int(frame["tmdb_id"].isna().sum()),
                         int(frame["imdb_id"].isna().sum()), len(again),
                         tuple(sorted(int(v) for v in again.unique())))
    return frame.set_index("item"), report


@dataclass(frozen=True)
class Coverage:
    """How much of a MovieLens catalogue the TMDB metadata covers.

    Attributes
    ----------
    n_movies : int
        MovieLens movies joined (the links' rows).
    n_with_tmdb_id, n_with_imdb_id : int
        Movies whose link has a tmdbId / an imdbId.
    n_matched, n_by_tmdb, n_by_imdb : int
        Movies given a metadata row, in all / by tmdbId / by the imdbId fall-back.
    n_shared : int
        Matched movies whose metadata row another movie matched too (ml-latest-small's
        6003 and 144606 share tmdbId 4912).
    n_metadata, n_used : int
        Rows of the metadata table, and how many of them some movie matched.
    with_field : dict of str to int
        Movies with a non-empty value, per field of :data:`COVERAGE_FIELDS`, plus
        ``"overview+keywords"`` (both).
    """

    n_movies: int
    n_with_tmdb_id: int
    n_with_imdb_id: int
    n_matched: int
    n_by_tmdb: int
    n_by_imdb: int
    n_shared: int
    n_metadata: int
    n_used: int
    with_field: dict[str, int]

    def describe(self) -> str:
        """The coverage as lines of text, for ``recsys data info``."""
        def share(n: int) -> str:
            return f"{n:,} ({n / self.n_movies:.1%})" if self.n_movies else f"{n:,}"
        fields = ", ".join(f"{name} {share(n)}" for name, n in self.with_field.items())
        return "\n".join([
            f"TMDB coverage of {self.n_movies:,} movies ({self.n_with_tmdb_id:,} with a "
            f"tmdbId, {self.n_with_imdb_id:,} with an imdbId); metadata: "
            f"{self.n_metadata:,} TMDB rows, {self.n_used:,} used",
            f"  matched {share(self.n_matched)}: {self.n_by_tmdb:,} by tmdbId, "
            f"{self.n_by_imdb:,} by imdbId; {self.n_shared:,} share a TMDB row",
            f"  with {fields}",
        ])


@dataclass(frozen=True)
class TmdbJoin:
    """TMDB metadata per MovieLens movie.

    Attributes
    ----------
    items : DataFrame
        Indexed by movieId (index name ``"item"``), in the links' order; the metadata
        columns (``tmdb_id`` nullable Int64, NA where unmatched) plus ``matched_by``
        (``"tmdb"``, ``"imdb"`` or ``""``). Unmatched movies have empty tuples, None and NaN.
    coverage : Coverage
    """

    items: pd.DataFrame
    coverage: Coverage

    def aligned(self, item_ids) -> pd.DataFrame:
        """The rows of ``item_ids`` (a Dataset's ``item_ids``: row ``i`` is internal item
        ``i``), indexed by them; an id the links lack gets an empty row."""
        item_ids = np.asarray(item_ids)
        positions = self.items.index.get_indexer(item_ids)
        return _take_rows(self.items, positions, pd.Index(item_ids, name="item"))


def _metadata_table(metadata) -> pd.DataFrame:
    table = getattr(metadata, "table", metadata)  # a TmdbData, or its table
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a TMDB metadata table, got {type(table).__name__}")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"the metadata table has no column {missing[0]!r} (expected "
                         f"{', '.join(COLUMNS)})")
    repeated = table["tmdb_id"].duplicated()
    if repeated.any():
        raise ValueError(f"the metadata table lists tmdb_id "
                         f"{table['tmdb_id'][repeated].iloc[0]} twice")
    return table


def _take_rows(frame: pd.DataFrame, positions: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """``frame``'s rows at ``positions``; -1 gives a row with every field unknown."""
    out = frame.reset_index(drop=True).astype({"tmdb_id": "Int64"}).reindex(positions)
    out.index = index
    for name in LIST_COLUMNS + _TEXT:
        values = out[name].to_numpy(dtype=object).copy()
        for i in np.flatnonzero(out[name].isna().to_numpy()):
            values[i] = () if name in LIST_COLUMNS else None
        out[name] = values
    if "matched_by" in out.columns:
        out["matched_by"] = out["matched_by"].fillna("").to_numpy(dtype=object)
    return out


def _match(table: pd.DataFrame, links: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row of ``table`` for each link (-1 if none), and whether it came by imdbId."""
    tmdb = links["tmdb_id"].astype("Int64")
    has_tmdb = tmdb.notna().to_numpy()
    positions = np.full(len(links), -1, dtype=np.int64)
    ids = pd.Index(table["tmdb_id"].to_numpy(dtype=np.int64))
    positions[has_tmdb] = ids.get_indexer(tmdb[has_tmdb].to_numpy(dtype=np.int64))
    imdb_table = table["imdb_id"].astype("Int64")
    known = imdb_table.notna() & ~imdb_table.duplicated(keep=False)  # ambiguous ones: unused
    imdb_rows = np.flatnonzero(known.to_numpy())
    imdb_index = pd.Index(imdb_table[known].to_numpy(dtype=np.int64))
    imdb = links["imdb_id"].astype("Int64")
    need = (positions < 0) & imdb.notna().to_numpy()
    found = imdb_index.get_indexer(imdb[need].to_numpy(dtype=np.int64))
    by_imdb = np.zeros(len(links), dtype=bool)
    by_imdb[np.flatnonzero(need)[found >= 0]] = True
    positions[np.flatnonzero(need)[found >= 0]] = imdb_rows[found[found >= 0]]
    return positions, by_imdb


def _coverage(items: pd.DataFrame, links: pd.DataFrame, positions: np.ndarray,
              by_imdb: np.ndarray, n_metadata: int) -> Coverage:
    matched = positions >= 0
    used, counts = np.unique(positions[matched], return_counts=True)
    with_field = {}
    for name in COVERAGE_FIELDS:
        col = items[name]
        if name in LIST_COLUMNS:
            with_field[name] = int(col.map(len).to_numpy().astype(bool).sum())
        else:
            with_field[name] = int(col.notna().sum())
    both = items["overview"].notna().to_numpy() & items["keywords"].map(len).to_numpy(
        ).astype(bool)
    with_field["overview+keywords"] = int(both.sum())
    return Coverage(
        n_movies=len(links), n_with_tmdb_id=int(links["tmdb_id"].notna().sum()),
        n_with_imdb_id=int(links["imdb_id"].notna().sum()), n_matched=int(matched.sum()),
        n_by_tmdb=int((matched & ~by_imdb).sum()), n_by_imdb=int(by_imdb.sum()),
        n_shared=int(counts[counts > 1].sum()), n_metadata=n_metadata, n_used=len(used),
        with_field=with_field)


def join_movielens(metadata, links: pd.DataFrame) -> TmdbJoin:
    """Join a TMDB metadata table to MovieLens movies through their links.

    Parameters
    ----------
    metadata : DataFrame or TmdbData
        A table with the columns of :data:`~recsys.data.tmdb_formats.COLUMNS`, one row per
        tmdb_id (what :mod:`recsys.data.tmdb`'s loaders return).
    links : DataFrame
        Indexed by movieId, columns ``tmdb_id`` and ``imdb_id`` (nullable ints): what
        :func:`read_links` returns, or a Dataset's ``item_info``.

    Returns
    -------
    TmdbJoin
        Each movie matched by tmdbId; where that is missing or absent from the metadata, by
        imdbId (metadata rows sharing an imdbId are not used for it).
    """
    table = _metadata_table(metadata)
    missing = [c for c in ("tmdb_id", "imdb_id") if c not in links.columns]
    if missing:
        raise ValueError(f"the links have no {missing[0]!r} column: give a MovieLens "
                         "links.csv (read_links) or the item_info of a release with links")
    positions, by_imdb = _match(table, links)
    items = _take_rows(table, positions, pd.Index(links.index, name="item"))
    matched_by = np.where(positions < 0, "", np.where(by_imdb, "imdb", "tmdb"))
    items["matched_by"] = matched_by.astype(object)
    return TmdbJoin(items, _coverage(items, links, positions, by_imdb, len(table)))


def join_dataset(metadata, ds) -> TmdbJoin:
    """:func:`join_movielens` through a Dataset's ``item_info`` (its whole catalogue, rated
    or not); ``.aligned(ds.item_ids)`` gives one row per internal item.

    Raises
    ------
    ValueError
        The Dataset has no ``tmdb_id``/``imdb_id`` in ``item_info`` (ML-100K and ML-1M have
        no links.csv): read the links of a later release with :func:`read_links` instead.
    """
    info = ds.item_info
    if info is None or "tmdb_id" not in info.columns or "imdb_id" not in info.columns:
        raise ValueError(f"{ds.name or 'the dataset'} has no links (item_info lacks tmdb_id/"
                         "imdb_id): only releases with links.csv join to TMDB; or pass a "
                         "links table from read_links to join_movielens")
    return join_movielens(metadata, info)


def merge_metadata(*tables) -> pd.DataFrame:
    """One metadata table from several, one row per tmdb_id of any of them.

    For each movie and column, the first table with a known value wins (a non-empty tuple,
    a non-missing scalar): ``merge_metadata(tmdb5000, movies_dataset)`` keeps TMDB 5000's
    overviews and fills in The Movies Dataset's keywords where TMDB 5000 has none.
    """
    if not tables:
        raise ValueError("merge_metadata needs at least one table")
    frames = [_metadata_table(t) for t in tables]
    ids = pd.Index(np.unique(np.concatenate(
        [f["tmdb_id"].to_numpy(dtype=np.int64) for f in frames])), name="tmdb_id")
    aligned = [f.set_index("tmdb_id").reindex(ids) for f in frames]
    merged = {}
    for name in COLUMNS[1:]:
        column = aligned[0][name]
        for other in aligned[1:]:
            if name in LIST_COLUMNS:  # a reindexed row holds NaN, not a tuple
                unknown = column.map(lambda v: not isinstance(v, tuple) or not v)
            else:
                unknown = column.isna()
            column = column.mask(unknown.to_numpy(dtype=bool), other[name])
        merged[name] = column
    out = pd.DataFrame(merged).reset_index()
    return _take_rows(out, np.arange(len(out)), pd.RangeIndex(len(out))).astype(
        {"tmdb_id": np.int64})
