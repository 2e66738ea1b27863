"""Item metadata for serving: title, year, genres (and TMDB details) by raw item id, and
title search.

A saved model (:meth:`recsys.models.base.Recommender.save`) holds the raw id maps but no
titles. The server gets them from a :class:`Catalogue`, which comes from one of

- a *sidecar* next to the model file, ``<model stem>.catalogue.json`` (see
  :func:`sidecar_path`), written by ``recsys serve --dataset NAME --algo NAME`` when it
  trains and saves a model, or by :meth:`Catalogue.save` yourself;
- a MovieLens release, :meth:`Catalogue.from_dataset` (``recsys serve --dataset NAME``,
  with ``metadata="tmdb"`` (``--metadata tmdb``) the TMDB details joined in);
- a data set's ``item_info`` frame, :meth:`Catalogue.from_frame`.

The sidecar is a JSON document::

    {"format": "recsys-catalogue", "format_version": 1, "dataset": "ml-latest-small",
     "items": [[1, "Toy Story (1995)", 1995, "Adventure|Animation|..."], ...]}

one ``[item_id, title, year or null, "|"-joined genres]`` row per item. Version 2 (written
only when some item has TMDB details; version 1 files still load) lets a row carry a fifth
element, the item's details, any of::

    {"tmdb_id": 862, "overview": "Led by Woody, ...", "tmdb_genres": ["Animation", ...],
     "keywords": ["toy", "friendship", ...]}

(the keywords all of them, in TMDB's order). It is written to a temporary file and renamed
(:func:`recsys.io.atomic_write`), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from contextlib import suppress
from pathlib import Path
from typing import Iterable, Mapping

from recsys.errors import RecsysError
from recsys.io import atomic_write_json

__all__ = ["Catalogue", "CatalogueError", "sidecar_path"]

FORMAT = "recsys-catalogue"
#: The version written when some item has details; a catalogue without any is written as
#: version 1, which older recsys versions read too.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
#: The fields of an item's details and their JSON types (str, or a list of str).
DETAIL_FIELDS = {"tmdb_id": int, "overview": str, "tmdb_genres": list, "keywords": list}


class CatalogueError(RecsysError, ValueError):
    """A catalogue file is missing, malformed, or of an unsupported version."""


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """The catalogue file that belongs to a model file: ``model.npz -> model.catalogue.json``."""
    p = Path(model_path)
    return p.with_name(p.stem + ".catalogue.json")


def fold_text(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` used for matching titles."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


class Catalogue:
    """Titles, years and genres of items, by raw item id (an int, as in MovieLens), and
    optionally each item's TMDB details.

    Parameters
    ----------
    ids : iterable of int
        Raw item ids, unique.
    titles : iterable of str
    years : iterable of int or None
    genres : iterable of str or list of str
        ``"|"``-joined genre names (as :func:`recsys.data.load_dataset` gives them), or lists.
    dataset : str, optional
        Name of the data set the catalogue describes (shown by ``GET /health``).
    details : iterable of dict or None, optional
        Per item, its TMDB details (the keys of :data:`DETAIL_FIELDS`, each optional), or
        None / ``{}`` for an item without any.
    """

    def __init__(self, ids: Iterable[int], titles: Iterable[str], years: Iterable,
                 genres: Iterable, dataset: str | None = None, details: Iterable | None = None):
        self.ids: list[int] = [int(i) for i in ids]
        self.titles: list[str] = [str(t) for t in titles]
        self.years: list[int | None] = [_year(y) for y in years]
        self.genres: list[list[str]] = [_genre_list(g) for g in genres]
        n = len(self.ids)
        self.details: list[dict] = ([_details(d) for d in details] if details is not None
                                    else [{} for _ in range(n)])
        if not (len(self.titles) == len(self.years) == len(self.genres) == len(self.details)
                == n):
            raise CatalogueError("catalogue: ids, titles, years, genres and details differ in "
                                 "length")
        self.dataset = dataset
        self._row = {item: row for row, item in enumerate(self.ids)}
        if len(self._row) != n:
            seen: set[int] = set()
            dup = next(i for i in self.ids if i in seen or seen.add(i))
            raise CatalogueError(f"catalogue: item id {dup} is listed twice")
        self._folded = [fold_text(t) for t in self.titles]
        self._order: list[int] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(cls, item_info, dataset: str | None = None, metadata=None) -> "Catalogue":
        """From an ``item_info`` frame indexed by raw item id with ``title`` and optionally
        ``year`` and ``genres`` columns (:attr:`recsys.dataset.Dataset.item_info`).

        ``metadata``: TMDB metadata joined to those items (a
        :class:`~recsys.data.tmdb_join.TmdbJoin`, or its ``items`` frame indexed by item
        id): each item it has data for gets its details, and TMDB's release year where
        ``item_info`` has none."""
        if "title" not in item_info.columns:
            raise CatalogueError("catalogue: item_info has no 'title' column")
        n = len(item_info)
        years = item_info["year"].tolist() if "year" in item_info.columns else [None] * n
        genres = item_info["genres"].tolist() if "genres" in item_info.columns else [""] * n
        details = None
        if metadata is not None:
            years, details = _tmdb_details(item_info.index, years, metadata)
        return cls(item_info.index.tolist(), item_info["title"].tolist(), years, genres,
                   dataset, details)

    @classmethod
    def from_dataset(cls, name: str, data_dir: str | os.PathLike | None = None,
                     metadata: str | None = None, metadata_dir=None) -> "Catalogue":
        """The movie list of a MovieLens release found on disk (see
        :func:`recsys.data.load_movielens`); with ``metadata="tmdb"`` the TMDB details
        joined through its links (:func:`recsys.metadata.load_metadata`: the files looked
        for in ``metadata_dir``, default ``data_dir``, alone where given, else in
        ``$RECSYS_DATA/tmdb`` and the cache)."""
        from recsys.data import load_movielens

        data = load_movielens(name, data_dir)
        if data.items is None:
            raise CatalogueError(f"catalogue: the {name} release has no item list")
        joined = None
        if metadata is not None:
            from recsys.dataset import Dataset
            from recsys.metadata import load_metadata

            where = metadata_dir if metadata_dir is not None else data_dir
            joined = load_metadata(metadata, Dataset.from_movielens(data), where).joined
        return cls.from_frame(data.items, dataset=name, metadata=joined)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Catalogue":
        """Read a catalogue JSON file written by :meth:`save`."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CatalogueError(f"{path}: no such catalogue file") from None
        except (OSError, ValueError) as exc:
            raise CatalogueError(f"{path}: cannot read catalogue ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CatalogueError(f"{path}: not a recsys catalogue file")
        version = doc.get("format_version")
        if version not in READABLE_VERSIONS:
            raise CatalogueError(f"{path}: catalogue format version {version} is not "
                                 f"supported (this recsys reads versions "
                                 f"{', '.join(map(str, READABLE_VERSIONS))})")
        rows = doc.get("items")
        if not isinstance(rows, list):
            raise CatalogueError(f"{path}: field 'items' must be a list")
        details = []
        for line, row in enumerate(rows):
            widths = (4, 5) if version >= 2 else (4,)
            if not (isinstance(row, list) and len(row) in widths and isinstance(row[0], int)
                    and isinstance(row[1], str)):
                raise CatalogueError(f"{path}: items[{line}] is not [item_id, title, year, "
                                     "genres" + (", details]" if version >= 2 else "]"))
            details.append(_read_details(path, line, row[4]) if len(row) == 5 else {})
        columns = list(zip(*[row[:4] for row in rows])) if rows else [[], [], [], []]
        return cls(*columns, dataset=doc.get("dataset"), details=details)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the catalogue as JSON to ``path``, atomically (:func:`recsys.io.atomic_write`:
        temporary file + rename, mode 0666 minus the umask). Version 1 when no item has
        details, else version 2 (a fifth element in the rows of items that have some)."""
        rows = [[i, t, y, "|".join(g)] + ([d] if d else []) for i, t, y, g, d in
                zip(self.ids, self.titles, self.years, self.genres, self.details)]
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION if self.has_details else 1,
            "dataset": self.dataset,
            "items": rows,
        }
        return atomic_write_json(path, doc, ensure_ascii=False)

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id) -> bool:
        return item_id in self._row

    def get(self, item_id: int) -> tuple[str, int | None, list[str]] | None:
        """``(title, year, genres)`` of ``item_id``, or None if the catalogue lacks it."""
        row = self._row.get(item_id)
        if row is None:
            return None
        return self.titles[row], self.years[row], self.genres[row]

    def detail(self, item_id: int) -> dict:
        """The TMDB details of ``item_id`` (keys of :data:`DETAIL_FIELDS`); ``{}`` for an item
        without any or not in the catalogue."""
        row = self._row.get(item_id)
        return self.details[row] if row is not None else {}

    @property
    def has_details(self) -> bool:
        """Whether any item has TMDB details."""
        return any(self.details)

    def rank_by(self, weight: Mapping[int, float]) -> None:
        """Order search results by descending ``weight[item_id]`` (e.g. the number of
        ratings; 0 for an item not in the mapping), ties in catalogue order."""
        self._order = sorted(range(len(self.ids)), key=lambda r: -weight.get(self.ids[r], 0))

    def search(self, query: str) -> list[int]:
        """Raw ids of the items whose title contains ``query``, case- and accent-insensitive
        with whitespace collapsed. Titles that start with the query come first, then the
        rest; within each group the order of :meth:`rank_by` (catalogue order without it).
        An empty query matches every item."""
        q = fold_text(query)
        order = self._order if self._order is not None else range(len(self.ids))
        if not q:
            return [self.ids[r] for r in order]
        folded = self._folded
        hits = [r for r in order if q in folded[r]]
        first = [self.ids[r] for r in hits if folded[r].startswith(q)]
        rest = [self.ids[r] for r in hits if not folded[r].startswith(q)]
        return first + rest


def _year(value) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, float) and math.isnan(value):
            return None
        return int(value)
    except (TypeError, ValueError):
        return None  # pandas NA and friends


def _text(value) -> str | None:
    """A non-blank str, else None (pandas writes NaN for a missing text)."""
    return value.strip() or None if isinstance(value, str) else None


def _names(value) -> list[str]:
    if not isinstance(value, (list, tuple)):
        return []  # NaN, None: unknown
    return [str(v) for v in value if isinstance(v, str) and v.strip()]


def _details(value) -> dict:
    """An item's details with the empty fields left out (None or {} for none)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CatalogueError(f"catalogue: item details must be a dict, got "
                             f"{type(value).__name__}")
    unknown = sorted(set(value) - set(DETAIL_FIELDS))
    if unknown:
        raise CatalogueError(f"catalogue: unknown item detail {unknown[0]!r} (known: "
                             f"{', '.join(DETAIL_FIELDS)})")
    out: dict = {}
    tmdb_id = value.get("tmdb_id")
    if tmdb_id is not None and not (isinstance(tmdb_id, float) and math.isnan(tmdb_id)):
        with suppress(TypeError, ValueError):  # pandas NA: unknown
            out["tmdb_id"] = int(tmdb_id)
    overview = _text(value.get("overview"))
    if overview:
        out["overview"] = overview
    for name in ("tmdb_genres", "keywords"):
        names = _names(value.get(name))
        if names:
            out[name] = names
    return out


def _read_details(path: Path, line: int, value) -> dict:
    """Row ``line``'s details as the file holds them, each field of its JSON type."""
    where = f"{path}: items[{line}][4]"
    if not isinstance(value, dict):
        raise CatalogueError(f"{where}: expected an object of item details")
    for name, item in value.items():
        kind = DETAIL_FIELDS.get(name)
        if kind is None:
            raise CatalogueError(f"{where}: unknown field {name!r} (known: "
                                 f"{', '.join(DETAIL_FIELDS)})")
        ok = (isinstance(item, kind) and not isinstance(item, bool)
              and (kind is not list or all(isinstance(v, str) for v in item)))
        if not ok:
            expected = {int: "an integer", str: "text", list: "a list of text"}[kind]
            raise CatalogueError(f"{where}.{name}: expected {expected}")
    return _details(value)


def _tmdb_details(index, years: list, metadata) -> tuple[list, list[dict]]:
    """Years filled from TMDB where unknown, and each item's details, from a TmdbJoin (or
    its ``items`` frame) reindexed to ``index``."""
    frame = metadata if hasattr(metadata, "reindex") else metadata.items  # a TmdbJoin
    items = frame.reindex(index)
    tmdb_years = items["year"].tolist() if "year" in items.columns else [None] * len(index)
    years = [y if _year(y) is not None else t for y, t in zip(years, tmdb_years)]
    details = [{"tmdb_id": t, "overview": o, "tmdb_genres": g, "keywords": k}
               for t, o, g, k in zip(items["tmdb_id"].tolist(), items["overview"].tolist(),
                                     items["genres"].tolist(), items["keywords"].tolist())]
    return years, details


def _genre_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(g) for g in value if str(g)]
    if isinstance(value, float) and math.isnan(value):
        return []
    return [g for g in str(value).split("|") if g]
