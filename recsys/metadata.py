"""Item metadata from outside MovieLens, for the commands: ``--metadata tmdb``.

:func:`load_metadata` finds and loads the TMDB files (:func:`recsys.data.tmdb.find_tmdb`:
the folder given alone, else ``$RECSYS_DATA/tmdb``, then ``<cache>/tmdb``; never the
network) and joins them to a Dataset through its links
(:func:`recsys.data.tmdb_join.join_dataset`). ``recsys data info``, ``recsys eda``,
``recsys serve`` and ``recsys bench`` all go through it, so they find the same files and
refuse the same things: a data set without links (ML-100K, ML-1M) is a
:class:`MetadataError` before any TMDB file is read, a missing folder a
:class:`~recsys.errors.DataNotFoundError` naming the folders tried.

>>> from recsys.data import load_dataset
>>> ds = load_dataset("ml-latest-small")
>>> meta = load_metadata("tmdb", ds, by_source=True)     # doctest: +SKIP
>>> meta.by_source["tmdb5000"].with_field["overview"]    # doctest: +SKIP
3537
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recsys.dataset import Dataset
from recsys.errors import RecsysError

__all__ = ["METADATA", "LoadedMetadata", "MetadataError", "check_joinable", "load_metadata",
           "links_defects", "name_problem"]

#: The metadata sources ``--metadata`` accepts.
METADATA = ("tmdb",)


class MetadataError(RecsysError, ValueError):
    """Metadata that cannot be joined to this data set, or an unknown metadata source."""


@dataclass
class LoadedMetadata:
    """TMDB metadata loaded for one Dataset.

    Attributes
    ----------
    name : str
        The source (``"tmdb"``).
    folder : Path
        Where the files were found.
    data : TmdbData
        Every format found there, merged (:func:`recsys.data.tmdb.load_tmdb`).
    joined : TmdbJoin
        The join to the Dataset's whole catalogue (``item_info``), with its coverage.
    by_source : dict of str to Coverage
        With ``by_source=True``: the coverage each format gives alone (TMDB 5000's overviews,
        The Movies Dataset's keywords), in :data:`~recsys.data.tmdb.SOURCES` order.
    """

    name: str
    folder: Path
    data: object
    joined: object
    by_source: dict = field(default_factory=dict)


def check_joinable(ds: Dataset, name: str = "tmdb") -> None:
    """Raise :class:`MetadataError` unless ``name`` is a known source and ``ds`` has the
    links TMDB joins through (``item_info`` with ``tmdb_id`` and ``imdb_id``)."""
    if name not in METADATA:
        raise MetadataError(f"unknown metadata {name!r}; available: {', '.join(METADATA)}")
    info = ds.item_info
    if info is None or "tmdb_id" not in info.columns or "imdb_id" not in info.columns:
        raise MetadataError(
            f"{ds.name or 'this data set'} has no links (no links.csv with tmdbId/imdbId), so "
            "TMDB metadata cannot be joined to it; use a release that has them "
            "(ml-20m, ml-25m, ml-32m, ml-latest-small, ml-latest)")


def name_problem(name: str, dataset: str, synthetic: bool = False) -> str | None:
    """Why metadata ``name`` cannot be joined to the data set named ``dataset``, as far as
    the names tell before anything is read (an unknown source, a synthetic set, a release
    without links.csv), or None; a config checks it (:mod:`recsys.bench.config`)."""
    from recsys.data import RELEASES

    if name not in METADATA:
        return f"unknown metadata {name!r}; valid: {list(METADATA)}"
    if synthetic:
        return "a synthetic data set has no links to join metadata through"
    release = RELEASES.get(dataset)
    if release is not None and release.format != "csv":
        return (f"{dataset} has no links.csv to join {name} through (the releases in CSV "
                "format have one)")
    return None


def load_metadata(name: str, ds: Dataset, data_dir=None, by_source: bool = False
                  ) -> LoadedMetadata:
    """Find, load and join metadata ``name`` to ``ds``.

    Parameters
    ----------
    name : {"tmdb"}
    ds : Dataset
        A release with links.
    data_dir : path, optional
        The folder holding the TMDB files, or a folder holding ``tmdb/``: searched alone.
    by_source : bool
        Also measure the coverage of each format alone (reads each once; the merged table
        comes from the same reads).

    Raises
    ------
    MetadataError
        ``ds`` has no links, or ``name`` is unknown (before any file is read).
    DataNotFoundError
        No TMDB files where they were looked for (the folders tried are named).
    DataFormatError
        A malformed TMDB file (file, line, field).
    """
    from recsys.data.tmdb import find_tmdb, load_tmdb
    from recsys.data.tmdb_join import join_dataset

    check_joinable(ds, name)
    folder = find_tmdb(data_dir)
    if not by_source:
        data = load_tmdb(folder)
        return LoadedMetadata(name, folder, data, join_dataset(data, ds))
    data, parts = _load_each(folder)
    coverage = {source: join_dataset(part, ds).coverage for source, part in parts.items()}
    return LoadedMetadata(name, folder, data, join_dataset(data, ds), coverage)


def _load_each(folder: Path):
    """Each format of ``folder`` loaded alone, and their merge (as :func:`load_tmdb` merges:
    the first format of :data:`SOURCES` with a value wins)."""
    from recsys.data.tmdb import SOURCES, TmdbData, load_tmdb, merge_metadata

    present = [s for s, files in SOURCES.items() if any((folder / f).exists() for f in files)]
    parts = {source: load_tmdb(folder, sources=[source]) for source in present}
    loaded = list(parts.values())
    if len(loaded) == 1:
        return loaded[0], parts
    report = loaded[0].report
    for other in loaded[1:]:
        report = report.merged(other.report)
    table = merge_metadata(*[d.table for d in loaded])
    report.n_movies = len(table)
    return TmdbData(table, report, folder), parts


def links_defects(ds: Dataset) -> dict:
    """What the Dataset's own links hold that a join must know: movies without a tmdbId or
    imdbId, and tmdbIds given to more than one movie (ml-latest-small: 8 without a tmdbId;
    4912 for movies 6003 and 144606). ``{"n_movies", "n_without_tmdb", "n_without_imdb",
    "repeated_tmdb": {tmdb_id: [movieId, ...]}}``."""
    info = ds.item_info
    tmdb = info["tmdb_id"]
    repeated = tmdb[tmdb.notna() & tmdb.duplicated(keep=False)]
    groups: dict[int, list[int]] = {}
    for movie, tmdb_id in zip(repeated.index.tolist(), repeated.tolist()):
        groups.setdefault(int(tmdb_id), []).append(int(movie))
    return {"n_movies": len(info), "n_without_tmdb": int(tmdb.isna().sum()),
            "n_without_imdb": int(info["imdb_id"].isna().sum()), "repeated_tmdb": groups}
