"""MovieLens data: loaders for every release format, the official ML-100K split files, a
local-first downloader, and a synthetic generator.

- :mod:`recsys.data.tables`: the strict delimited-file reader (errors name file and line);
- :mod:`recsys.data.movielens`: every release format into one schema, ``load_dataset``;
- :mod:`recsys.data.duplicates`: the policy for (user, item) pairs rated twice;
- :mod:`recsys.data.ml100k_folds`: which ratings ML-100K's ``u1.base`` ... ``ub.test`` hold;
- :mod:`recsys.data.releases`, :mod:`recsys.data.download`: where a release comes from;
- :mod:`recsys.data.synthetic`: seeded synthetic rating sets.

>>> from recsys.data import load_dataset
>>> ds = load_dataset("ml-latest-small")       # ships with the package; no network
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

__all__ = [
    "DUPLICATE_POLICIES",
    "DuplicateReport",
    "MovieLensData",
    "OFFICIAL_FOLDS",
    "RELEASES",
    "Release",
    "ReleaseMismatchWarning",
    "cache_dir",
    "check_release_folder",
    "download",
    "find_release",
    "get_release",
    "load_dataset",
    "load_movielens",
    "read_ml100k_ratings",
    "read_official_folds",
]
