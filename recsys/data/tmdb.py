"""TMDB movie metadata: loaders for the three formats people have, into one table.

- **TMDB 5000** (Kaggle ``tmdb/tmdb-movie-metadata``): ``tmdb_5000_movies.csv`` and, where
  present, ``tmdb_5000_credits.csv``; lists are JSON strings.
- **The Movies Dataset** (Kaggle ``rounakbanik/the-movies-dataset``): whichever of
  ``movies_metadata.csv``, ``keywords.csv``, ``credits.csv`` and ``links.csv`` the folder
  holds; lists are Python reprs, parsed by :func:`ast.literal_eval`.
- **The TMDB API's movie details** (``/movie/{id}?append_to_response=keywords,credits``): a
  folder of one ``.json`` file per movie, or a JSON-lines file with one movie per line.

Every loader returns a :class:`TmdbData`: the table (one row per TMDB id, the columns of
:data:`~recsys.data.tmdb_formats.COLUMNS`) and a :class:`TmdbReport` of what was read and
repaired: exact duplicate rows dropped (``keywords.csv`` repeats 987), ids whose repeats
differ (the first row kept), ``movies_metadata.csv`` rows whose ``id`` holds a date (a record
broken by an unquoted line break: rejoined to the line before where the field counts fit,
else skipped), zeros read as "unknown" (budget, revenue, runtime), and the links file's own
defects. Anything else malformed raises :class:`~recsys.errors.DataFormatError` naming the
file, the line and the field. TMDB's terms do not allow shipping the data, so
:func:`find_tmdb` looks for a local copy only.

>>> data = load_tmdb()                 # doctest: +SKIP  ($RECSYS_DATA/tmdb or <cache>/tmdb)
>>> print(data.report.describe())      # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from recsys.data.download import cache_dir
from recsys.data.tmdb_formats import (
    build_table, cast_names, check_width, csv_records, dedupe,
    director_names, empty_record, iter_json_lines, names, parse_date, parse_id, parse_imdb,
    parse_json, parse_literal, parse_number, parse_text, read_text,
)
from recsys.data.tmdb_join import merge_metadata, read_links
from recsys.data.tmdb_report import TmdbData, TmdbReport
from recsys.errors import DataFormatError, DataNotFoundError

__all__ = ["SOURCES", "TmdbData", "TmdbReport", "find_tmdb", "load_movies_dataset",
           "load_tmdb", "load_tmdb5000", "load_tmdb_api", "merge_metadata"]

#: The folder under ``$RECSYS_DATA`` or the cache that holds the TMDB files.
TMDB_FOLDER = "tmdb"
#: Source name -> the files (or folder) that show it is present, in merge priority order.
SOURCES = {
    "api": ("api", "api.jsonl"),
    "tmdb5000": ("tmdb_5000_movies.csv", "tmdb_5000_credits.csv"),
    "movies-dataset": ("movies_metadata.csv", "keywords.csv", "credits.csv"),
}
_WHERE = {
    "tmdb5000": "https://www.kaggle.com/datasets/tmdb/tmdb-movie-metadata",
    "movies-dataset": "https://www.kaggle.com/datasets/rounakbanik/the-movies-dataset",
    "api": "https://developer.themoviedb.org/reference/movie-details",
}
_NUMBERS = ("popularity", "vote_average", "vote_count", "budget", "revenue", "runtime")
_DATE_ID = re.compile(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*")


# ---------------------------------------------------------------------- CSV plumbing
def _csv_rows(path: Path, id_field: str, required: Sequence[str], report: TmdbReport,
              metadata: bool = False) -> list[tuple[int, int, dict]]:
    """``(id, line, {column: text})`` for each distinct id of a CSV file, duplicates
    dropped and counted in ``report``."""
    header, raw = csv_records(path, (id_field, *required))
    if metadata:
        raw = _repair_broken_records(path, header, raw, report)
    keyed = []
    for line, row in raw:
        check_width(path, header, line, row)
        record_id = parse_id(path, line, id_field, row[header.index(id_field)])
        keyed.append((record_id, line, tuple(row)))
    kept, exact, conflicting = dedupe(keyed)
    report.rows[path.name] = len(raw)
    report.duplicate_rows[path.name] = exact
    report.conflicting_ids[path.name] = tuple(conflicting)
    return [(key, line, dict(zip(header, row))) for key, line, row in kept]


def _repair_broken_records(path: Path, header: list[str], raw: list, report: TmdbReport):
    """Handle ``movies_metadata.csv``'s records broken in two by an unquoted line break: the
    tail's ``id`` column holds a date. Rejoin it to a short record just before it when the
    field counts add up to one record (the broken text field counted once), else skip it."""
    n, at = len(header), header.index("id")
    out, skipped, rejoined = [], [], []
    for line, row in raw:
        if len(row) > at and _DATE_ID.fullmatch(row[at]):
            skipped.append(line)
            if out and len(out[-1][1]) < n and len(out[-1][1]) + len(row) - 1 == n:
                head_line, head = out.pop()
                out.append((head_line, head[:-1] + [f"{head[-1]} {row[0]}"] + row[1:]))
                rejoined.append((head_line, line))
            continue
        out.append((line, row))
    if skipped:
        report.skipped_lines[path.name] = tuple(skipped)
        report.rejoined_lines[path.name] = tuple(rejoined)
    return out


def _movie_fields(path: Path, line: int, rec: dict, parse, zeros: dict) -> dict:
    """The scalar and genre fields of a TMDB 5000 or movies_metadata row."""
    date, year = parse_date(path, line, "release_date", rec["release_date"])
    out = {"title": parse_text(rec["title"]), "overview": parse_text(rec["overview"]),
           "genres": names(path, line, "genres", parse(path, line, "genres", rec["genres"])),
           "release_date": date, "year": year}
    for column in _NUMBERS:
        out[column] = parse_number(path, line, column, rec[column], zeros)
    return out


def _credits(path: Path, line: int, rec: dict, parse) -> dict:
    return {"cast": cast_names(path, line, "cast", parse(path, line, "cast", rec["cast"])),
            "directors": director_names(path, line, "crew",
                                        parse(path, line, "crew", rec["crew"]))}


def _finish(records: dict[int, dict], report: TmdbReport, path: Path) -> TmdbData:
    table = build_table(list(records.values()))
    report.n_movies = len(table)
    return TmdbData(table, report, path)


# ---------------------------------------------------------------------- the formats
def load_tmdb5000(folder: str | Path) -> TmdbData:
    """Load TMDB 5000: ``tmdb_5000_movies.csv`` and, where present, ``tmdb_5000_credits.csv``
    (cast in billing order, directors from the crew) from ``folder``.

    TMDB 5000 has no IMDb ids (``imdb_id`` is NA): the join to MovieLens goes by tmdbId.

    Raises
    ------
    DataNotFoundError
        The folder holds neither file.
    DataFormatError
        A malformed row (file, line, field).
    """
    folder = Path(folder)
    movies, credits = folder / "tmdb_5000_movies.csv", folder / "tmdb_5000_credits.csv"
    if not movies.is_file() and not credits.is_file():
        raise DataNotFoundError(f"{folder} holds neither {movies.name} nor {credits.name} "
                                f"(TMDB 5000, {_WHERE['tmdb5000']})")
    report = TmdbReport(sources=("tmdb5000",))
    records: dict[int, dict] = {}
    if movies.is_file():
        zeros: dict[str, int] = {}
        for key, line, rec in _csv_rows(movies, "id", ("title", "overview", "genres",
                                        "keywords", "release_date", *_NUMBERS), report):
            entry = records.setdefault(key, empty_record(key))
            entry.update(_movie_fields(movies, line, rec, parse_json, zeros))
            entry["keywords"] = names(movies, line, "keywords",
                                      parse_json(movies, line, "keywords", rec["keywords"]))
        report.zeros_unknown[movies.name] = zeros
    if credits.is_file():
        for key, line, rec in _csv_rows(credits, "movie_id", ("title", "cast", "crew"), report):
            entry = records.setdefault(key, empty_record(key))
            entry.update(_credits(credits, line, rec, parse_json))
            entry["title"] = entry["title"] or parse_text(rec["title"])
    return _finish(records, report, folder)


def load_movies_dataset(folder: str | Path) -> TmdbData:
    """Load The Movies Dataset from whichever of its files ``folder`` holds.

    ``movies_metadata.csv`` gives titles, overviews, genres, dates and numbers;
    ``keywords.csv`` the keywords; ``credits.csv`` the cast and directors; ``links.csv``
    (MovieLens' ``movieId,imdbId,tmdbId``) the IMDb id of movies that lack one (the first link
    of a tmdbId repeated). The table has a row for every id of any metadata file.

    Raises
    ------
    DataNotFoundError
        The folder holds none of the three metadata files.
    DataFormatError
        A malformed row (file, line, field).
    """
    folder = Path(folder)
    files = {name: folder / name for name in SOURCES["movies-dataset"]}
    if not any(p.is_file() for p in files.values()):
        raise DataNotFoundError(f"{folder} holds none of {', '.join(files)} (The Movies "
                                f"Dataset, {_WHERE['movies-dataset']})")
    report = TmdbReport(sources=("movies-dataset",))
    records: dict[int, dict] = {}
    meta = files["movies_metadata.csv"]
    if meta.is_file():
        zeros: dict[str, int] = {}
        for key, line, rec in _csv_rows(meta, "id", ("imdb_id", "title", "overview", "genres",
                                        "release_date", *_NUMBERS), report, metadata=True):
            entry = records.setdefault(key, empty_record(key))
            entry.update(_movie_fields(meta, line, rec, parse_literal, zeros))
            entry["imdb_id"] = parse_imdb(meta, line, "imdb_id", rec["imdb_id"])
        report.zeros_unknown[meta.name] = zeros
    path = files["keywords.csv"]
    if path.is_file():
        for key, line, rec in _csv_rows(path, "id", ("keywords",), report):
            records.setdefault(key, empty_record(key))["keywords"] = names(
                path, line, "keywords", parse_literal(path, line, "keywords", rec["keywords"]))
    path = files["credits.csv"]
    if path.is_file():
        for key, line, rec in _csv_rows(path, "id", ("cast", "crew"), report):
            records.setdefault(key, empty_record(key)).update(
                _credits(path, line, rec, parse_literal))
    if (folder / "links.csv").is_file():
        links, report.links = read_links(folder / "links.csv")
        first = links.dropna(subset=["tmdb_id"]).drop_duplicates("tmdb_id")
        for tmdb_id, imdb_id in zip(first["tmdb_id"], first["imdb_id"]):
            entry = records.get(int(tmdb_id))
            if entry is not None and entry["imdb_id"] is None and not pd.isna(imdb_id):
                entry["imdb_id"] = int(imdb_id)
    return _finish(records, report, folder)


def load_tmdb_api(path: str | Path) -> TmdbData:
    """Load TMDB API movie-details JSON: a folder of ``*.json`` files (one movie each, read in
    name order) or a JSON-lines file (one movie per line).

    Each object is what ``/movie/{id}?append_to_response=keywords,credits`` returns:
    ``id``, ``imdb_id``, ``title``, ``overview``, ``genres``, ``release_date``, the numbers,
    ``keywords`` (``{"keywords": [...]}``, or a plain list) and ``credits``
    (``{"cast": [...], "crew": [...]}``); the appended parts are optional.

    Raises
    ------
    DataNotFoundError
        The path does not exist, or the folder holds no ``.json`` file.
    DataFormatError
        Invalid JSON, or a field of the wrong type (file, line, field).
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise DataNotFoundError(f"{path} holds no .json file (TMDB API movie details)")
        objects = [(p, None, _json_file(p)) for p in files]
    elif path.is_file():
        objects = [(path, line, value) for line, value in iter_json_lines(path)]
    else:
        raise DataNotFoundError(f"{path} does not exist (TMDB API movie details: a folder of "
                                ".json files or a JSON-lines file)")
    report = TmdbReport(sources=("api",))
    zeros: dict[str, int] = {}
    keyed, source_of = [], {}
    for source, line, obj in objects:
        if not isinstance(obj, dict):
            raise DataFormatError(source, f"expected a JSON object, found "
                                  f"{type(obj).__name__}", line=line)
        key = parse_id(source, line, "id", obj.get("id"))
        source_of.setdefault(key, source)  # dedupe keeps the first object of an id
        keyed.append((key, line, obj))
    kept, exact, conflicting = dedupe(keyed)
    records = {key: _api_record(source_of[key], line, key, obj, zeros)
               for key, line, obj in kept}
    report.rows[path.name] = len(objects)
    report.duplicate_rows[path.name] = exact
    report.conflicting_ids[path.name] = tuple(conflicting)
    report.zeros_unknown[path.name] = zeros
    return _finish(records, report, path)


def _json_file(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"not valid JSON ({exc.msg} at column {exc.colno})",
                              line=exc.lineno) from None


def _api_record(path: Path, line: int | None, key: int, obj: dict, zeros: dict) -> dict:
    """One movie-details object as a table record."""
    record = empty_record(key)
    for column in ("imdb_id", "title", "overview", "release_date"):
        value = obj.get(column)
        if value is not None and not isinstance(value, str):
            raise DataFormatError(path, f"expected text, found {type(value).__name__}",
                                  line=line, field=column)
    record["imdb_id"] = parse_imdb(path, line, "imdb_id", obj.get("imdb_id"))
    record["title"], record["overview"] = parse_text(obj.get("title")), parse_text(
        obj.get("overview"))
    record["release_date"], record["year"] = parse_date(path, line, "release_date",
                                                        obj.get("release_date"))
    record["genres"] = names(path, line, "genres", _given(obj, "genres", []))
    keywords = _given(obj, "keywords", [])
    if isinstance(keywords, dict):
        keywords = keywords.get("keywords", keywords.get("results", []))
    record["keywords"] = names(path, line, "keywords", keywords)
    credits = _given(obj, "credits", {})
    if not isinstance(credits, dict):
        raise DataFormatError(path, "expected an object with 'cast' and 'crew'", line=line,
                              field="credits")
    record["cast"] = cast_names(path, line, "credits.cast", _given(credits, "cast", []))
    record["directors"] = director_names(path, line, "credits.crew",
                                         _given(credits, "crew", []))
    for column in _NUMBERS:
        record[column] = parse_number(path, line, column, obj.get(column), zeros)
    return record


def _given(obj: dict, key: str, default):
    """``obj[key]``, or ``default`` where the key is absent or null (not where it is empty
    or of the wrong type: the parser reports those)."""
    value = obj.get(key)
    return default if value is None else value


# ---------------------------------------------------------------------- finding and merging
def find_tmdb(data_dir: str | Path | None = None) -> Path:
    """The folder holding TMDB files on this machine; no network (TMDB's terms do not allow
    shipping or mirroring the data, so there is no download).

    The same local-first rule as the MovieLens releases: with ``data_dir``, only there (the
    folder itself or its ``tmdb/``); without it ``$RECSYS_DATA/tmdb``, then
    ``<cache>/tmdb`` (:func:`recsys.data.download.cache_dir`). A folder counts if it holds a
    file of one of :data:`SOURCES` (``links.csv`` alone does not).

    Raises
    ------
    DataNotFoundError
        Naming every folder tried, the files looked for and where to get them.
    """
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if root.is_file():
            raise DataNotFoundError(f"the TMDB data folder given, {root}, is a file: give the "
                                    "folder that holds the TMDB files")
        tried = [root, root / TMDB_FOLDER]
    else:
        env = os.environ.get("RECSYS_DATA")
        tried = ([Path(env).expanduser() / TMDB_FOLDER] if env else []) + [
            cache_dir() / TMDB_FOLDER]
    for folder in tried:
        if _sources_in(folder):
            return folder
    wanted = ", ".join(name for files in SOURCES.values() for name in files)
    lines = ["TMDB metadata not found. Looked for any of " + wanted + " in:"]
    lines += [f"  - {p}" for p in tried]
    lines += [f"Get {source} from {url}" for source, url in _WHERE.items()]
    lines.append("and put its files in one of those folders (or pass data_dir / --data-dir); "
                 "TMDB's terms do not allow recsys to ship or download them.")
    raise DataNotFoundError("\n".join(lines))


def _sources_in(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return [source for source, files in SOURCES.items()
            if any((folder / name).exists() for name in files)]


def load_tmdb(data_dir: str | Path | None = None,
              sources: Sequence[str] | None = None) -> TmdbData:
    """Load every TMDB format found (see :func:`find_tmdb`) and merge them into one table.

    Parameters
    ----------
    data_dir : path, optional
        The folder holding the files (else ``$RECSYS_DATA/tmdb``, then the cache).
    sources : sequence of {"api", "tmdb5000", "movies-dataset"}, optional
        Which formats to read; all those present by default. Where two give a field for the
        same movie, the first in :data:`SOURCES` order wins (API, TMDB 5000, The Movies
        Dataset), see :func:`~recsys.data.tmdb_join.merge_metadata`.
    """
    folder = find_tmdb(data_dir)
    present = _sources_in(folder)
    if sources is not None:
        if isinstance(sources, str) or not sources:
            raise ValueError(f"sources must be a non-empty list of {', '.join(SOURCES)}; "
                             f"got {sources!r}")
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown TMDB source {unknown[0]!r}; choose from "
                             f"{', '.join(SOURCES)}")
        absent = [s for s in sources if s not in present]
        if absent:
            raise DataNotFoundError(f"{folder} holds no {absent[0]} files (looked for "
                                    f"{', '.join(SOURCES[absent[0]])})")
        present = [s for s in SOURCES if s in sources]
    loaded = [_load_source(folder, source) for source in present]
    table = merge_metadata(*[d.table for d in loaded]) if len(loaded) > 1 else loaded[0].table
    report = loaded[0].report
    for other in loaded[1:]:
        report = report.merged(other.report)
    report.n_movies = len(table)
    return TmdbData(table, report, folder)


def _load_source(folder: Path, source: str) -> TmdbData:
    if source == "tmdb5000":
        return load_tmdb5000(folder)
    if source == "movies-dataset":
        return load_movies_dataset(folder)
    api = folder / "api"
    return load_tmdb_api(api if api.is_dir() else folder / "api.jsonl")

