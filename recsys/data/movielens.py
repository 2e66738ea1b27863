"""Parsers for every MovieLens file format, into one tidy schema.

Every release comes back as a :class:`MovieLensData`: a ratings frame with columns
``user, item, rating, timestamp`` (int64, int64, float32, int64) plus item, user and tag
metadata where the release has them. Each file goes through the strict reader of
:mod:`recsys.data.tables`, so a malformed file raises
:class:`~recsys.errors.DataFormatError` naming the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.duplicates import DUPLICATE_POLICIES, DuplicateReport, apply_duplicates
from recsys.data.tables import FLOAT, INT, NULLABLE_INT, STR, read_table
from recsys.errors import DataFormatError
from recsys.validation import check_choice

RATING_FIELDS = (("user", INT), ("item", INT), ("rating", FLOAT), ("timestamp", INT))
MOVIE_FIELDS = (("item", INT), ("title", STR), ("genres", STR))
TAG_FIELDS = (("user", INT), ("item", INT), ("tag", STR), ("timestamp", INT))

# u.genre of ML-100K, used when the file itself is absent.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

# Occupation codes of ML-1M's users.dat (its README).
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)

# Genre labels that mean "no genre": they become "".
_NO_GENRE = {"(no genres listed)", "unknown"}

# "Toy Story (1995)", "Babylon 5 (1994-1998)", "Title (1995) " -> the first year.
_YEAR_RE = r"\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$"


@dataclass
class MovieLensData:
    """One MovieLens release, parsed.

    Attributes
    ----------
    name : str
        Release name, e.g. ``"ml-100k"``.
    ratings : DataFrame
        Columns ``user`` (int64), ``item`` (int64), ``rating`` (float32, half stars kept),
        ``timestamp`` (int64, seconds since the Unix epoch), in file order.
    items : DataFrame or None
        Indexed by raw item id (index name ``"item"``). Columns ``title`` (as in the file),
        ``year`` (nullable Int64, from the title, else the release date), ``genres``
        (``"|"``-joined, ``""`` when none), ``tags`` (``"|"``-joined distinct tags, where the
        release has tags), ``imdb_id``/``tmdb_id`` (nullable Int64, where the release has
        ``links.csv``); ML-100K also ``release_date`` and ``imdb_url``.
    users : DataFrame or None
        Indexed by raw user id (index name ``"user"``); ML-100K and ML-1M only: ``age``,
        ``gender``, ``occupation``, ``zip``.
    tags : DataFrame or None
        The raw tag table: ``user, item, tag, timestamp``.
    rating_scale : (float, float)
        ``(1, 5)`` for ML-100K and ML-1M, ``(0.5, 5)`` for the others.
    path : Path
        The folder read.
    duplicates : DuplicateReport or None
        The (user, item) pairs the ratings file repeats and how they were merged (see
        :mod:`recsys.data.duplicates`); None when no pair repeats.
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame | None
    users: pd.DataFrame | None
    tags: pd.DataFrame | None
    rating_scale: tuple[float, float]
    path: Path
    duplicates: DuplicateReport | None = None

    def __repr__(self) -> str:
        parts = [f"{len(self.ratings)} ratings"]
        for label, frame in (("items", self.items), ("users", self.users), ("tags", self.tags)):
            if frame is not None:
                parts.append(f"{len(frame)} {label}")
        return f"MovieLensData({self.name!r}, {', '.join(parts)}, path={str(self.path)!r})"


# ---------------------------------------------------------------------- metadata helpers
def _year_from_titles(titles: pd.Series) -> pd.Series:
    years = titles.str.extract(_YEAR_RE, expand=False)
    return pd.to_numeric(years, errors="coerce").astype("Int64")


def _clean_genres(genres: pd.Series) -> pd.Series:
    """``"A|B"`` strings with the "no genre" labels removed."""
    def clean(value: str) -> str:
        if "|" not in value:
            return "" if value in _NO_GENRE else value
        return "|".join(g for g in value.split("|") if g and g not in _NO_GENRE)
    return genres.map(clean).astype(str)


def _movies_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A movies table (``item, title, genres``) as the items frame: title, year, genres."""
    return pd.DataFrame({
        "title": table["title"].to_numpy(),
        "year": _year_from_titles(table["title"]).array,
        "genres": _clean_genres(table["genres"]).to_numpy(),
    }, index=pd.Index(table["item"].to_numpy(), name="item"))


def _attach_tags(items: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    distinct = tags.drop_duplicates(["item", "tag"])
    joined = distinct.groupby("item", sort=False)["tag"].agg("|".join)
    items["tags"] = joined.reindex(items.index).fillna("").astype(str)
    return items


def _attach_links(items: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    links = links.drop_duplicates("item").set_index("item")
    items["imdb_id"] = links["imdb_id"].reindex(items.index).astype("Int64")
    items["tmdb_id"] = links["tmdb_id"].reindex(items.index).astype("Int64")
    return items


# ---------------------------------------------------------------------- ratings files
def read_ratings(path: str | Path, sep: str, *, header: tuple[str, ...] | None = None,
                 rating_scale: tuple[float, float], rating_step: float | None = None,
                 duplicates: str = "error") -> tuple[pd.DataFrame, DuplicateReport | None]:
    """Read a ratings file of any release: the frame (``user, item, rating, timestamp``)
    and the report of the pairs it repeats (see :mod:`recsys.data.duplicates`).

    Raises DataFormatError for a malformed line, a rating off the scale or its step, a
    repeated (user, item) pair under ``duplicates="error"``, and a file with no ratings.
    """
    frame = read_table(path, RATING_FIELDS, sep, header=header, rating_scale=rating_scale,
                       rating_step=rating_step)
    if not len(frame):
        raise DataFormatError(path, "no ratings: the file holds its header only"
                              if header is not None else "no ratings: the file is empty")
    return apply_duplicates(frame, path, duplicates, header is not None)


# ---------------------------------------------------------------------- ML-100K
def read_ml100k_ratings(path: str | Path, duplicates: str = "error") -> pd.DataFrame:
    """Read one ML-100K ratings file (``u.data``, ``u1.base``, ``ua.test``, ...).

    Returns
    -------
    DataFrame with columns ``user, item, rating, timestamp`` (int64, int64, float32, int64).
    Raises DataFormatError naming the line of a malformed row, a rating that is not a whole
    number of stars in 1..5, or a repeated (user, item) pair (``duplicates``: see
    :func:`read_ratings`).
    """
    return read_ratings(path, "\t", rating_scale=(1.0, 5.0), rating_step=1.0,
                        duplicates=duplicates)[0]


def _read_ml100k_genres(folder: Path, encoding: str) -> list[str]:
    path = folder / "u.genre"
    if not path.is_file():
        return list(ML100K_GENRES)
    table = read_table(path, (("genre", STR), ("index", INT)), "|",
                       encoding=_encoding(path, encoding))
    return list(table.sort_values("index")["genre"])


def read_ml100k_items(folder: str | Path, encoding: str = "auto") -> pd.DataFrame:
    """Read ML-100K's ``u.item`` (``|``-separated, 19 genre flags).

    GroupLens' file is latin-1; ``encoding="auto"`` reads a copy re-encoded as UTF-8 as
    UTF-8 (the file decodes as UTF-8), else latin-1.
    """
    folder = Path(folder)
    genres = _read_ml100k_genres(folder, encoding)
    flag_names = [f"g{i}" for i in range(len(genres))]
    fields = ([("item", INT), ("title", STR), ("release_date", STR),
               ("video_release_date", STR), ("imdb_url", STR)]
              + [(name, INT) for name in flag_names])
    table = read_table(folder / "u.item", fields, "|",
                       encoding=_encoding(folder / "u.item", encoding))
    flags = table[flag_names].to_numpy()
    bad = np.flatnonzero(~np.isin(flags, (0, 1)).all(axis=1))
    if len(bad):
        raise DataFormatError(folder / "u.item", "genre flags must be 0 or 1",
                              line=int(bad[0]) + 1)
    keep = np.array([g not in _NO_GENRE for g in genres])
    names = np.array(genres, dtype=object)
    genre_strings = ["|".join(names[row & keep]) for row in flags.astype(bool)]
    titles = table["title"]
    year = _year_from_titles(titles)
    date_year = pd.to_numeric(
        table["release_date"].str.extract(r"(\d{4})\s*$", expand=False), errors="coerce"
    ).astype("Int64")
    items = pd.DataFrame({
        "title": titles.to_numpy(),
        "year": year.fillna(date_year).to_numpy(),
        "genres": pd.array(genre_strings, dtype=str),
        "release_date": table["release_date"].to_numpy(),
        "imdb_url": table["imdb_url"].to_numpy(),
    }, index=pd.Index(table["item"].to_numpy(), name="item"))
    items["year"] = items["year"].astype("Int64")
    return items


def read_ml100k_users(folder: str | Path, encoding: str = "auto") -> pd.DataFrame:
    """Read ML-100K's ``u.user``: age, gender, occupation, zip."""
    fields = (("user", INT), ("age", INT), ("gender", STR), ("occupation", STR), ("zip", STR))
    path = Path(folder) / "u.user"
    table = read_table(path, fields, "|", encoding=_encoding(path, encoding))
    return table.set_index("user")


def load_ml100k(folder: str | Path, name: str = "ml-100k", *, encoding: str = "auto",
                duplicates: str = "error") -> MovieLensData:
    """Parse an ML-100K folder. ``u.data`` is required; ``u.item``/``u.user`` if present.

    ``encoding`` applies to ``u.item``, ``u.user`` and ``u.genre`` (``"auto"``: UTF-8 where
    the file decodes as UTF-8, else latin-1); ``duplicates``: see :func:`read_ratings`.
    """
    folder = Path(folder)
    ratings, report = read_ratings(folder / "u.data", "\t", rating_scale=(1.0, 5.0),
                                   rating_step=1.0, duplicates=duplicates)
    items = read_ml100k_items(folder, encoding) if (folder / "u.item").is_file() else None
    users = read_ml100k_users(folder, encoding) if (folder / "u.user").is_file() else None
    return MovieLensData(name, ratings, items, users, None, (1.0, 5.0), folder, report)


# ---------------------------------------------------------------------- ML-1M / ML-10M
def _encoding(path: Path, encoding: str) -> str:
    """``encoding``, or for ``"auto"`` UTF-8 if the file decodes as UTF-8, else latin-1."""
    if encoding != "auto":
        return encoding
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def load_dat(folder: str | Path, name: str, rating_scale: tuple[float, float],
             encoding: str, *, rating_step: float | None = None,
             duplicates: str = "error") -> MovieLensData:
    """Parse an ML-1M or ML-10M folder of ``::``-separated ``.dat`` files.

    ``encoding`` applies to the text files (``movies.dat``, ``users.dat``, ``tags.dat``);
    ``"auto"`` picks UTF-8 where the file decodes as UTF-8, else latin-1. ``rating_step``
    (1 for ML-1M, 0.5 for ML-10M) and ``duplicates``: see :func:`read_ratings`.
    """
    folder = Path(folder)
    ratings, report = read_ratings(folder / "ratings.dat", "::", rating_scale=rating_scale,
                                   rating_step=rating_step, duplicates=duplicates)
    items = users = tags = None
    if (folder / "movies.dat").is_file():
        table = read_table(folder / "movies.dat", MOVIE_FIELDS, "::",
                           encoding=_encoding(folder / "movies.dat", encoding))
        items = _movies_frame(table)
    if (folder / "users.dat").is_file():
        table = read_table(folder / "users.dat",
                           (("user", INT), ("gender", STR), ("age", INT), ("occupation", INT),
                            ("zip", STR)), "::", encoding=_encoding(folder / "users.dat",
                                                                      encoding))
        codes = table["occupation"].to_numpy()
        bad = np.flatnonzero((codes < 0) | (codes >= len(ML1M_OCCUPATIONS)))
        if len(bad):
            raise DataFormatError(folder / "users.dat",
                                  f"unknown occupation code {codes[bad[0]]}",
                                  line=int(bad[0]) + 1, field="occupation")
        users = pd.DataFrame({
            "age": table["age"].to_numpy(),
            "gender": table["gender"].to_numpy(),
            "occupation": np.asarray(ML1M_OCCUPATIONS, dtype=object)[codes],
            "zip": table["zip"].to_numpy(),
        }, index=pd.Index(table["user"].to_numpy(), name="user"))
        users["occupation"] = users["occupation"].astype(str)
    if (folder / "tags.dat").is_file():
        tags = read_table(folder / "tags.dat", TAG_FIELDS, "::",
                          encoding=_encoding(folder / "tags.dat", encoding))
        if items is not None:
            items = _attach_tags(items, tags)
    return MovieLensData(name, ratings, items, users, tags, rating_scale, folder, report)


# ---------------------------------------------------------------------- CSV releases
def load_csv(folder: str | Path, name: str, rating_scale: tuple[float, float] = (0.5, 5.0),
             *, rating_step: float | None = 0.5, duplicates: str = "error") -> MovieLensData:
    """Parse an ML-20M/25M/32M or ml-latest(-small) folder of CSV files with headers.

    ``rating_step`` (half stars) and ``duplicates``: see :func:`read_ratings`.
    """
    folder = Path(folder)
    ratings, report = read_ratings(folder / "ratings.csv", ",",
                                   header=("userId", "movieId", "rating", "timestamp"),
                                   rating_scale=rating_scale, rating_step=rating_step,
                                   duplicates=duplicates)
    items = tags = None
    if (folder / "movies.csv").is_file():
        table = read_table(folder / "movies.csv", MOVIE_FIELDS, ",",
                           header=("movieId", "title", "genres"), quoted=True)
        items = _movies_frame(table)
    if (folder / "tags.csv").is_file():
        tags = read_table(folder / "tags.csv", TAG_FIELDS, ",",
                          header=("userId", "movieId", "tag", "timestamp"), quoted=True)
        if items is not None:
            items = _attach_tags(items, tags)
    if items is not None and (folder / "links.csv").is_file():
        links = read_table(folder / "links.csv",
                           (("item", INT), ("imdb_id", NULLABLE_INT), ("tmdb_id", NULLABLE_INT)),
                           ",", header=("movieId", "imdbId", "tmdbId"), quoted=True)
        items = _attach_links(items, links)
    return MovieLensData(name, ratings, items, None, tags, rating_scale, folder, report)


# ---------------------------------------------------------------------- entry points
def load_movielens(name: str, data_dir: str | Path | None = None, download: bool = False,
                   *, duplicates: str = "error") -> MovieLensData:
    """Load a MovieLens release, local copy first.

    Parameters
    ----------
    name : str
        ``"ml-100k"``, ``"ml-1m"``, ``"ml-10m"``, ``"ml-20m"``, ``"ml-25m"``, ``"ml-32m"``,
        ``"ml-latest-small"`` or ``"ml-latest"``.
    data_dir : path, optional
        The release folder itself, or a folder holding ``<name>/``; when given, the release
        is read from there or not at all. See :func:`recsys.data.find_release` for the
        places searched without it.
    download : bool
        If no local copy exists, download it from GroupLens: into the cache, or into
        ``data_dir/<name>`` when ``data_dir`` is given.
    duplicates : {"error", "last", "mean"}
        What to do with a (user, item) pair rated more than once (see
        :mod:`recsys.data.duplicates`): refuse the file (default), keep the last rating, or
        average them. ``MovieLensData.duplicates`` reports what was merged.

    Raises
    ------
    DataNotFoundError
        No local copy (and ``download`` is False), naming every place searched.
    DataFormatError
        A file is malformed, naming the file and line; the folder holds another release.

    Warns
    -----
    ReleaseMismatchWarning
        The copy's ratings, users or items differ from the release's published counts.
    """
    from recsys.data.download import download as fetch, find_release
    from recsys.data.releases import get_release
    from recsys.errors import DataNotFoundError

    check_choice("duplicates", duplicates, DUPLICATE_POLICIES)  # before any file is read
    release = get_release(name)
    try:
        folder = find_release(name, data_dir)
    except DataNotFoundError:
        if not download or (data_dir is not None and Path(data_dir).is_file()):
            raise
        folder = fetch(name, cache=data_dir)
    if release.format == "100k":
        data = load_ml100k(folder, name, encoding=release.encoding, duplicates=duplicates)
    elif release.format == "dat":
        data = load_dat(folder, name, release.rating_scale, release.encoding,
                        rating_step=release.rating_step, duplicates=duplicates)
    else:
        data = load_csv(folder, name, release.rating_scale, rating_step=release.rating_step,
                        duplicates=duplicates)
    _check_counts(release, data)
    return data


def _check_counts(release, data: MovieLensData) -> None:
    """Warn when the copy's counts differ from the release's published ones."""
    import warnings

    from recsys.data.releases import ReleaseMismatchWarning

    expected = release.counts
    if not expected:
        return
    r = data.ratings
    n_repeats = data.duplicates.n_repeats if data.duplicates is not None else 0
    found = {"ratings": len(r) + n_repeats, "users": int(r["user"].nunique()),
             "items": int(r["item"].nunique())}
    if all(found[k] == v for k, v in expected.items()):
        return
    have = ", ".join(f"{found[k]:,} {k}" for k in expected)
    want = ", ".join(f"{v:,} {k}" for k, v in expected.items())
    warnings.warn(f"{release.name} at {data.path}: this copy has {have}; the published "
                  f"{release.name} has {want}. It is incomplete, filtered or another release.",
                  ReleaseMismatchWarning, stacklevel=3)


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = False,
                 *, duplicates: str = "error"):
    """Load a release as a :class:`recsys.dataset.Dataset` (see :func:`load_movielens`)."""
    from recsys.dataset import Dataset

    return Dataset.from_movielens(load_movielens(name, data_dir, download,
                                                 duplicates=duplicates))
