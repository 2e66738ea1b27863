"""MovieLens data: loaders for every release format, the official ML-100K split files, a
local-first downloader, and a synthetic generator.

- :mod:`recsys.data.tables`: the strict delimited-file reader (errors name file and line);
- :mod:`recsys.data.movielens`: every release format into one schema, ``load_dataset``;
- :mod:`recsys.data.duplicates`: the policy for (user, item) pairs rated twice;
- :mod:`recsys.data.ml100k_folds`: which ratings ML-100K's ``u1.base`` ... ``ub.test`` hold;
- :mod:`recsys.data.releases`, :mod:`recsys.data.download`: where a release comes from;
- :mod:`recsys.data.synthetic`: seeded synthetic rating sets;
- :mod:`recsys.data.tmdb`, :mod:`recsys.data.tmdb_join`: TMDB movie metadata (TMDB 5000, The
  Movies Dataset, the TMDB API's JSON), found locally only, and its join to MovieLens.

>>> from recsys.data import load_dataset
>>> ds = load_dataset("ml-latest-small")       # ships with the package; no network
>>> joined = join_dataset(load_tmdb(), ds)     # doctest: +SKIP  ($RECSYS_DATA/tmdb)
>>> print(joined.coverage.describe())          # doctest: +SKIP
"""

from recsys.data.download import cache_dir, check_release_folder, download, find_release
from recsys.data.duplicates import DUPLICATE_POLICIES, DuplicateReport
from recsys.data.ml100k_folds import OFFICIAL_FOLDS, read_official_folds
from recsys.data.movielens import (
    MovieLensData,
    load_dataset,
    load_movielens,
    read_ml100k_ratings,
)
from recsys.data.releases import RELEASES, Release, ReleaseMismatchWarning, get_release
from recsys.data.tmdb import SOURCES as TMDB_SOURCES
from recsys.data.tmdb import TmdbData, TmdbReport, find_tmdb, load_tmdb
from recsys.data.tmdb_join import (
    Coverage,
    LinksReport,
    TmdbJoin,
    join_dataset,
    join_movielens,
    read_links,
)

__all__ = [
    "Coverage",
    "DUPLICATE_POLICIES",
    "DuplicateReport",
    "LinksReport",
    "MovieLensData",
    "OFFICIAL_FOLDS",
    "RELEASES",
    "Release",
    "ReleaseMismatchWarning",
    "TMDB_SOURCES",
    "TmdbData",
    "TmdbJoin",
    "TmdbReport",
    "cache_dir",
    "check_release_folder",
    "download",
    "find_release",
    "find_tmdb",
    "get_release",
    "join_dataset",
    "join_movielens",
    "load_dataset",
    "load_movielens",
    "load_tmdb",
    "read_links",
    "read_ml100k_ratings",
    "read_official_folds",
]
