"""The data of a benchmark run: loading each ``[[datasets]]`` entry (a release, a synthetic
set, with its metadata joined), locating them before the run, the folds of each
``[[splits]]`` entry, and what their top-N lists rank."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["SHUFFLE_SEED", "candidates", "check_split_seeds", "fold_digest",
           "join_benchmark_metadata", "load_benchmark_dataset", "load_with_metadata",
           "locate_datasets", "make_folds", "shuffle_generator", "shuffle_items"]

#: ``[[splits]] seed = "shuffle_items"``: the split draws from the generator that permuted the
#: data set's item indices, after the permutation (one seed for the whole protocol, as
#: ``benchmarks/tmdb_cold_start.py`` draws its shuffle and its held-out items).
SHUFFLE_SEED = "shuffle_items"


def load_benchmark_dataset(spec, data_dir=None):
    """The Dataset of a config's ``[[datasets]]`` entry: synthetic, a named release, or a
    path in a format (:func:`recsys.data.custom.load_path`, named by the entry's label)."""
    if spec.path is not None:
        from recsys.data.custom import TableFormat, load_path

        table = TableFormat(**spec.table) if spec.table is not None else None
        return load_path(spec.path, spec.format, label=spec.name, table=table,
                         release=spec.release)
    if spec.synthetic is not None:
        from recsys.data.synthetic import generate

        kwargs = dict(spec.synthetic)
        if isinstance(kwargs.get("rating_scale"), list):
            kwargs["rating_scale"] = tuple(kwargs["rating_scale"])
        kwargs.setdefault("name", spec.name)
        return generate(**kwargs)
    from recsys.data import load_dataset

    return load_dataset(spec.name, data_dir=data_dir)


def join_benchmark_metadata(ds, spec, data_dir=None):
    """``ds`` with the metadata of its ``[[datasets]]`` entry joined into ``item_info``
    (:func:`recsys.models.content_features.with_tmdb`: what ``ContentKNN(features="tmdb")``
    and the ``among`` of a cold-start split read), and the header's record of it: where the
    files were found and the coverage (:func:`recsys.metadata.load_metadata`)."""
    from recsys.metadata import load_metadata
    from recsys.models.content_features import with_tmdb

    meta = load_metadata(spec.metadata, ds, data_dir)
    coverage = meta.joined.coverage
    entry = {"dataset": spec.name, "metadata": spec.metadata, "folder": str(meta.folder),
             "sources": list(meta.data.report.sources), "n_movies": coverage.n_movies,
             "n_matched": coverage.n_matched, "with_field": dict(coverage.with_field)}
    return with_tmdb(ds, meta.data), entry


def fold_digest(fold) -> str:
    """A short hash of a fold's test (user, item) pairs and train size, for the header."""
    import hashlib

    h = hashlib.sha1()
    h.update(np.int64(fold.train.n_ratings).tobytes())
    h.update(np.ascontiguousarray(fold.test.users).tobytes())
    h.update(np.ascontiguousarray(fold.test.items).tobytes())
    return h.hexdigest()[:12]


def load_with_metadata(spec, data_dir=None):
    """``(ds, metadata entry or None)``: :func:`load_benchmark_dataset`, then
    :func:`join_benchmark_metadata` where the entry names metadata, then
    :func:`shuffle_items` where it gives a seed."""
    ds, entry = load_benchmark_dataset(spec, data_dir), None
    if spec.metadata is not None:
        ds, entry = join_benchmark_metadata(ds, spec, data_dir)
    if spec.shuffle_items is not None:
        ds = shuffle_items(ds, spec.shuffle_items)
    return ds, entry


def shuffle_items(ds, seed):
    """The same ratings, raw ids and metadata with the item indices in a seeded random order
    (new index ``k`` is old item ``order[k]``). Top-N lists rank equal scores by ascending
    index; in MovieLens' order, which follows the catalogue's age and through it popularity,
    a model that scores every held-out item alike (a floor on cold items) would get an NDCG
    from the tie-break alone."""
    from recsys.dataset import Dataset
    from recsys.validation import as_generator

    order = as_generator(seed).permutation(ds.n_items)  # what shuffle_generator replays
    new_index = np.empty_like(order)
    new_index[order] = np.arange(len(order))
    return Dataset(ds.users, new_index[ds.items], ds.ratings, ds.timestamps, ds.user_ids,
                   ds.item_ids[order], ds.rating_scale, ds.item_info, ds.user_info, ds.name)


def shuffle_generator(seed, n_items: int):
    """The generator :func:`shuffle_items` drew its permutation of ``n_items`` from, in the
    state the permutation left it: what a split with ``seed = "shuffle_items"`` draws from."""
    from recsys.validation import as_generator

    rng = as_generator(seed)
    rng.permutation(n_items)
    return rng


def check_split_seeds(config) -> None:
    """ConfigError (naming the file and the split's key) for a split with ``seed =
    "shuffle_items"`` that runs on a data set without ``shuffle_items``."""
    from recsys.bench.config import ConfigError

    for j, sspec in enumerate(config.splits):
        if sspec.spec.get("seed") != SHUFFLE_SEED:
            continue
        for dspec in config.datasets:
            if sspec.datasets is not None and dspec.name not in sspec.datasets:
                continue
            if dspec.shuffle_items is None:
                raise ConfigError(config.source, f"splits[{j}].seed",
                                  f"seed = {SHUFFLE_SEED!r} draws from the generator of the "
                                  f"data set's shuffle_items, but data set {dspec.name!r} has "
                                  f"no shuffle_items: give it one, or give the split an "
                                  f"integer seed")


def locate_datasets(config, data_dir) -> None:
    """Find every named data set, and the metadata files of those that join some, before
    the run (DataNotFoundError naming the places searched, DataFormatError for a folder of
    another release); parsing comes later. Also checks the splits' ``seed =
    "shuffle_items"`` (:func:`check_split_seeds`)."""
    from recsys.data import find_release, find_tmdb

    from recsys.errors import DataNotFoundError

    check_split_seeds(config)
    for dspec in config.datasets:
        if dspec.path is not None:
            if not Path(dspec.path).exists():
                raise DataNotFoundError(f"{config.source}: data set {dspec.name!r}: no file "
                                        f"or folder {dspec.path} (format {dspec.format})")
        elif dspec.synthetic is None:
            find_release(dspec.name, data_dir)
        if dspec.metadata is not None:
            find_tmdb(data_dir)


def make_folds(ds, sspec, data_dir, dataset=None) -> list:
    """The folds of a ``[[splits]]`` entry (a :class:`~recsys.bench.config.SplitSpec`) on
    ``ds``: :func:`recsys.split.split_from_config`, or with ``among`` the item cold start
    among the items that have the metadata (:func:`recsys.models.content_features.has_tmdb`,
    read from the columns :func:`join_benchmark_metadata` added).

    ``dataset``: the ``[[datasets]]`` entry ``ds`` came from, needed by a split whose seed is
    ``"shuffle_items"`` (:data:`SHUFFLE_SEED`): it draws from :func:`shuffle_generator`."""
    from recsys.split import item_cold_start, split_from_config

    spec = dict(sspec.spec)
    if spec.get("seed") == SHUFFLE_SEED:
        if dataset is None or dataset.shuffle_items is None:
            name = dataset.name if dataset is not None else ds.name
            raise ValueError(f"split {sspec.name!r}: seed = {SHUFFLE_SEED!r} needs the data "
                             f"set's shuffle_items, and data set {name!r} has none")
        spec["seed"] = shuffle_generator(dataset.shuffle_items, ds.n_items)
    if sspec.among is not None:  # the config allows it for item_cold_start alone
        from recsys.models.content_features import has_tmdb

        args = {k: v for k, v in spec.items() if k != "method"}
        folds = item_cold_start(ds, among=has_tmdb(ds), **args)
    else:
        folds = split_from_config(ds, spec, data_dir=data_dir)
    if not folds:
        raise ValueError("the splitter returned no folds")
    return folds


def candidates(sspec, fold):
    """What the top-N lists of ``fold`` rank (:func:`recsys.evaluation.evaluate_topn`'s
    ``candidates``): ``"unrated"``, or with ``candidates = "test_items"`` the mask of the
    items in the fold's test part."""
    if sspec.candidates != "test_items":
        return "unrated"
    mask = np.zeros(fold.train.n_items, dtype=bool)
    mask[np.unique(fold.test.items)] = True
    return mask
