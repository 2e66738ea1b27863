"""Item metadata for serving: title, year and genres by raw item id, and title search.

A saved model (:meth:`recsys.models.base.Recommender.save`) holds the raw id maps but no
titles. The server gets them from a :class:`Catalogue`, which comes from one of

- a *sidecar* next to the model file, ``<model stem>.catalogue.json`` (see
  :func:`sidecar_path`), written by ``recsys serve --dataset NAME --algo NAME`` when it
  trains and saves a model, or by :meth:`Catalogue.save` yourself;
- a MovieLens release, :meth:`Catalogue.from_dataset` (``recsys serve --dataset NAME``);
- a data set's ``item_info`` frame, :meth:`Catalogue.from_frame`.

The sidecar is a JSON document::

    {"format": "recsys-catalogue", "format_version": 1, "dataset": "ml-latest-small",
     "items": [[1, "Toy Story (1995)", 1995, "Adventure|Animation|..."], ...]}

one ``[item_id, title, year or null, "|"-joined genres]`` row per item. It is written to a
temporary file and renamed (:func:`recsys.io.atomic_write`), so a reader never sees half a
file.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from pathlib import Path
from typing import Iterable, Mapping

from recsys.errors import RecsysError
from recsys.io import atomic_write_json

__all__ = ["Catalogue", "CatalogueError", "sidecar_path"]

FORMAT = "recsys-catalogue"
FORMAT_VERSION = 1


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
    """Titles, years and genres of items, by raw item id (an int, as in MovieLens).

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
    """

    def __init__(self, ids: Iterable[int], titles: Iterable[str], years: Iterable,
                 genres: Iterable, dataset: str | None = None):
        self.ids: list[int] = [int(i) for i in ids]
        self.titles: list[str] = [str(t) for t in titles]
        self.years: list[int | None] = [_year(y) for y in years]
        self.genres: list[list[str]] = [_genre_list(g) for g in genres]
        n = len(self.ids)
        if not (len(self.titles) == len(self.years) == len(self.genres) == n):
            raise CatalogueError("catalogue: ids, titles, years and genres differ in length")
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
    def from_frame(cls, item_info, dataset: str | None = None) -> "Catalogue":
        """From an ``item_info`` frame indexed by raw item id with ``title`` and optionally
        ``year`` and ``genres`` columns (:attr:`recsys.dataset.Dataset.item_info`)."""
        if "title" not in item_info.columns:
            raise CatalogueError("catalogue: item_info has no 'title' column")
        n = len(item_info)
        years = item_info["year"].tolist() if "year" in item_info.columns else [None] * n
        genres = item_info["genres"].tolist() if "genres" in item_info.columns else [""] * n
        return cls(item_info.index.tolist(), item_info["title"].tolist(), years, genres,
                   dataset)

    @classmethod
    def from_dataset(cls, name: str, data_dir: str | os.PathLike | None = None) -> "Catalogue":
        """The movie list of a MovieLens release found on disk (see
        :func:`recsys.data.load_movielens`)."""
        from recsys.data import load_movielens

        data = load_movielens(name, data_dir)
        if data.items is None:
            raise CatalogueError(f"catalogue: the {name} release has no item list")
        return cls.from_frame(data.items, dataset=name)

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
        if doc.get("format_version") != FORMAT_VERSION:
            raise CatalogueError(f"{path}: catalogue format version "
                                 f"{doc.get('format_version')} is not supported")
        rows = doc.get("items")
        if not isinstance(rows, list):
            raise CatalogueError(f"{path}: field 'items' must be a list")
        for line, row in enumerate(rows):
            if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], int)
                    and isinstance(row[1], str)):
                raise CatalogueError(f"{path}: items[{line}] is not "
                                     "[item_id, title, year, genres]")
        columns = list(zip(*rows)) if rows else [[], [], [], []]
        return cls(*columns, dataset=doc.get("dataset"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the catalogue as JSON to ``path``, atomically (:func:`recsys.io.atomic_write`:
        temporary file + rename, mode 0666 minus the umask)."""
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dataset": self.dataset,
            "items": [[i, t, y, "|".join(g)] for i, t, y, g in
                      zip(self.ids, self.titles, self.years, self.genres)],
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


def _genre_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(g) for g in value if str(g)]
    if isinstance(value, float) and math.isnan(value):
        return []
    return [g for g in str(value).split("|") if g]
