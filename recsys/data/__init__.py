"""MovieLens data: loaders for every release format, a local-first downloader, and a
synthetic generator.

>>> from recsys.data import load_dataset
>>> ds = load_dataset("ml-latest-small")       # ships with the repository; no network
"""

from recsys.data.download import cache_dir, download, find_release
from recsys.data.movielens import (
    MovieLensData,
    load_dataset,
    load_movielens,
    read_ml100k_ratings,
)
from recsys.data.releases import RELEASES, Release, get_release

__all__ = [
    "MovieLensData",
    "RELEASES",
    "Release",
    "cache_dir",
    "download",
    "find_release",
    "get_release",
    "load_dataset",
    "load_movielens",
    "read_ml100k_ratings",
]
