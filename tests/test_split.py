"""Splitters: exact partitions, disjoint covering folds, per-user guarantees, determinism,
and the official ML-100K folds on the real files."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from recsys.dataset import Dataset
from recsys.errors import DataFormatError, DataNotFoundError
from recsys.split import (
    Fold, holdout, item_cold_start, kfold, official_folds, split_from_config, temporal,
    user_holdout,
)


def random_dataset(seed: int, n_users: int, n_items: int, density: float,
                   n_times: int = 20) -> Dataset:
    """Distinct (user, item) pairs in random order; timestamps with ties."""
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    order = rng.permutation(len(users))
    users, items = users[order], items[order]
    ratings = rng.integers(1, 6, len(users))
    timestamps = 1_000_000 + 86_400 * rng.integers(0, n_times, len(users))
    return Dataset(users, items, ratings, timestamps, np.arange(n_users) + 1,
                   np.arange(n_items) * 2 + 1, (1.0, 5.0), name="random")


def keys(ds: Dataset) -> np.ndarray:
    """One int64 per rating, unique within a data set built by random_dataset."""
    return ds.users.astype(np.int64) * ds.n_items + ds.items


def rows(*parts: Dataset) -> np.ndarray:
    """All (user, item, rating, timestamp) rows of the parts, sorted: a multiset as an array."""
    table = np.concatenate([
        np.column_stack([p.users, p.items, p.ratings, p.timestamps]).astype(np.float64)
        for p in parts
    ])
    return table[np.lexsort(table.T[::-1])]


def assert_partition(ds: Dataset, fold: Fold) -> None:
    """train and test share ds's id maps and partition its ratings exactly."""
    assert isinstance(fold, Fold)
    for part in (fold.train, fold.test):
        assert part.user_ids is ds.user_ids and part.item_ids is ds.item_ids
        assert part.rating_scale == ds.rating_scale
    assert fold.train.n_ratings + fold.test.n_ratings == ds.n_ratings
    np.testing.assert_array_equal(rows(fold.train, fold.test), rows(ds))
    assert not np.intersect1d(keys(fold.train), keys(fold.test)).size


def same_split(a: list[Fold], b: list[Fold]) -> bool:
    return all(
        x.name == y.name and np.array_equal(keys(x.test), keys(y.test))
        and np.array_equal(keys(x.train), keys(y.train))
        for x, y in zip(a, b, strict=True)
    )


data = dict(seed=st.integers(0, 2**32 - 1), n_users=st.integers(1, 20),
            n_items=st.integers(1, 20), density=st.floats(0.05, 0.8))


# ---------------------------------------------------------------------- holdout / kfold
@settings(deadline=None, max_examples=50)
@given(**data, fraction=st.floats(0.01, 0.99), split_seed=st.integers(0, 1000))
def test_holdout_partitions(seed, n_users, n_items, density, fraction, split_seed):
    ds = random_dataset(seed, n_users, n_items, density)
    folds = holdout(ds, fraction, seed=split_seed)
    assert len(folds) == 1 and folds[0].name == "holdout"
    assert_partition(ds, folds[0])
    assert folds[0].test.n_ratings == round(fraction * ds.n_ratings)
    assert same_split(folds, holdout(ds, fraction, seed=split_seed))


@settings(deadline=None, max_examples=50)
@given(**data, n_folds=st.integers(2, 7), split_seed=st.integers(0, 1000))
def test_kfold_disjoint_and_covering(seed, n_users, n_items, density, n_folds, split_seed):
    ds = random_dataset(seed, n_users, n_items, density)
    if ds.n_ratings < n_folds:
        with pytest.raises(ValueError, match="n_folds"):
            kfold(ds, n_folds, seed=split_seed)
        return
    folds = kfold(ds, n_folds, seed=split_seed)
    assert [f.name for f in folds] == [f"fold{k + 1}" for k in range(n_folds)]
    tested = Counter()
    for fold in folds:
        assert_partition(ds, fold)
        tested.update(keys(fold.test).tolist())
    assert tested == Counter(keys(ds).tolist())  # every rating tested exactly once
    sizes = [f.test.n_ratings for f in folds]
    assert max(sizes) - min(sizes) <= 1
    assert same_split(folds, kfold(ds, n_folds, seed=split_seed))


def test_seed_changes_the_split():
    ds = random_dataset(0, 30, 30, 0.3)
    assert not same_split(holdout(ds, 0.2, seed=0), holdout(ds, 0.2, seed=1))
    assert not same_split(kfold(ds, 5, seed=0), kfold(ds, 5, seed=1))
    assert not same_split(user_holdout(ds, leave_k=2, seed=0), user_holdout(ds, leave_k=2, seed=1))
    # A Generator is accepted as the seed too.
    assert same_split(holdout(ds, 0.2, seed=np.random.default_rng(5)), holdout(ds, 0.2, seed=5))


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.2", None])
def test_holdout_rejects_bad_fraction(bad):
    with pytest.raises(ValueError, match="test_fraction"):
        holdout(random_dataset(0, 5, 5, 0.5), bad)


def test_kfold_rejects_one_fold():
    with pytest.raises(ValueError, match="n_folds"):
        kfold(random_dataset(0, 5, 5, 0.5), 1)


# ---------------------------------------------------------------------- per-user
@settings(deadline=None, max_examples=60)
@given(**data, leave_k=st.integers(1, 4), min_train=st.integers(0, 3), by_time=st.booleans(),
       split_seed=st.integers(0, 1000))
def test_user_holdout_leave_k(seed, n_users, n_items, density, leave_k, min_train, by_time,
                              split_seed):
    ds = random_dataset(seed, n_users, n_items, density)
    (fold,) = user_holdout(ds, leave_k=leave_k, by_time=by_time, min_train=min_train,
                           seed=split_seed)
    assert fold.name == "user_holdout"
    assert_partition(ds, fold)
    counts, n_train, n_test = ds.user_counts, fold.train.user_counts, fold.test.user_counts
    np.testing.assert_array_equal(n_test, np.minimum(leave_k, np.maximum(counts - min_train, 0)))
    # Every user keeps min_train ratings in train (all of them if they have no more).
    np.testing.assert_array_equal(n_train, np.where(counts > min_train,
                                                    np.maximum(counts - leave_k, min_train),
                                                    counts))
    if by_time:
        assert_test_is_latest(fold)
    again = user_holdout(ds, leave_k=leave_k, by_time=by_time, min_train=min_train,
                         seed=split_seed)
    assert same_split([fold], again)


def assert_test_is_latest(fold: Fold) -> None:
    for u in np.unique(fold.test.users):
        latest_train = fold.train.timestamps[fold.train.users == u]
        if len(latest_train):
            assert fold.test.timestamps[fold.test.users == u].min() >= latest_train.max()


@settings(deadline=None, max_examples=50)
@given(**data, fraction=st.floats(0.05, 0.95), by_time=st.booleans(),
       split_seed=st.integers(0, 1000))
def test_user_holdout_fraction(seed, n_users, n_items, density, fraction, by_time, split_seed):
    ds = random_dataset(seed, n_users, n_items, density)
    (fold,) = user_holdout(ds, test_fraction=fraction, by_time=by_time, seed=split_seed)
    assert_partition(ds, fold)
    counts = ds.user_counts
    expected = np.minimum(np.round(fraction * counts), np.maximum(counts - 1, 0))
    np.testing.assert_array_equal(fold.test.user_counts, expected)
    assert (fold.train.user_counts[counts >= 1] >= 1).all()
    if by_time:
        assert_test_is_latest(fold)


def test_user_holdout_by_time_by_hand():
    # User 1: timestamps 5, 9, 7 -> leave-1-out by time tests the rating at 9.
    ds = Dataset([0, 0, 0, 1], [0, 1, 2, 0], [1, 2, 3, 4], [5, 9, 7, 1], [1, 2], [1, 2, 3])
    (fold,) = user_holdout(ds, leave_k=1, by_time=True)
    assert fold.test.timestamps.tolist() == [9]  # user 2 has 1 rating: stays in train
    assert sorted(fold.train.timestamps.tolist()) == [1, 5, 7]


def test_user_holdout_needs_exactly_one_size():
    ds = random_dataset(0, 5, 5, 0.5)
    with pytest.raises(ValueError, match="exactly one"):
        user_holdout(ds)
    with pytest.raises(ValueError, match="exactly one"):
        user_holdout(ds, test_fraction=0.2, leave_k=1)
    with pytest.raises(ValueError, match="leave_k"):
        user_holdout(ds, leave_k=0)


# ---------------------------------------------------------------------- temporal
@settings(deadline=None, max_examples=40)
@given(**data, quantile=st.floats(0.05, 0.95))
def test_temporal_quantile(seed, n_users, n_items, density, quantile):
    ds = random_dataset(seed, n_users, n_items, density)
    if ds.n_ratings == 0:
        with pytest.raises(ValueError, match="no ratings"):
            temporal(ds, quantile=quantile)
        return
    (fold,) = temporal(ds, quantile=quantile)
    assert_partition(ds, fold)
    cut = np.quantile(ds.timestamps, quantile)
    assert (fold.test.timestamps >= cut).all() and (fold.train.timestamps < cut).all()
    assert fold.train.n_ratings <= np.ceil(quantile * ds.n_ratings)


def test_temporal_at_accepts_seconds_and_dates():
    ds = random_dataset(1, 20, 20, 0.5)
    at = 1_000_000 + 86_400 * 10
    (fold,) = temporal(ds, at=at)
    assert_partition(ds, fold)
    assert (fold.test.timestamps >= at).all() and (fold.train.timestamps < at).all()
    date = pd.Timestamp(at, unit="s").isoformat()  # naive: read as UTC
    (again,) = temporal(ds, at=date)
    assert same_split([fold], [again])
    assert fold.name == again.name == "temporal@1970-01-22T13:46:40"
    with pytest.raises(ValueError, match="exactly one"):
        temporal(ds, at=at, quantile=0.5)
    with pytest.raises(ValueError, match="at must be"):
        temporal(ds, at=[1])


# ---------------------------------------------------------------------- item cold start
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_items=st.integers(3, 30),
       fraction=st.floats(0.05, 0.6), masked=st.booleans())
def test_item_cold_start_holds_out_every_rating_of_its_items(seed, n_items, fraction, masked):
    ds = random_dataset(seed, 12, n_items, 0.4)
    rated = ds.item_counts > 0
    among = np.random.default_rng(seed).random(n_items) < 0.7 if masked else None
    pool = rated & (among if masked else True)
    if pool.sum() == 0 or (pool.sum() == rated.sum() and round(fraction * pool.sum()) >=
                           pool.sum()):
        with pytest.raises(ValueError, match="item_cold_start"):
            item_cold_start(ds, fraction, among=among, seed=seed)
        return
    fold = item_cold_start(ds, fraction, among=among, seed=seed)[0]
    assert fold.name == "item_cold_start"
    assert_partition(ds, fold)
    held = np.unique(fold.test.items)
    # Every rating of a held-out item is in test, none in train; held items are eligible.
    assert not np.isin(fold.train.items, held).any()
    assert (fold.test.item_counts[held] == ds.item_counts[held]).all()
    assert pool[held].all()
    assert len(held) == min(max(round(fraction * pool.sum()), 1), pool.sum())
    assert same_split([fold], item_cold_start(ds, fraction, among=among, seed=seed))


def test_item_cold_start_draws_differ_by_seed_and_cover_the_pool():
    ds = random_dataset(1, 30, 40, 0.3)
    draws = [frozenset(np.unique(item_cold_start(ds, 0.1, seed=s)[0].test.items).tolist())
             for s in range(200)]
    assert len(set(draws)) > 150
    assert set().union(*draws) == set(np.flatnonzero(ds.item_counts > 0).tolist())


def test_item_cold_start_bad_arguments():
    ds = random_dataset(2, 10, 10, 0.5)
    with pytest.raises(ValueError, match="among must be a bool array of shape \\(10,\\)"):
        item_cold_start(ds, 0.1, among=np.ones(9, dtype=bool))
    with pytest.raises(ValueError, match="among must be a bool"):
        item_cold_start(ds, 0.1, among=np.ones(10))
    with pytest.raises(ValueError, match="no eligible item"):
        item_cold_start(ds, 0.1, among=np.zeros(10, dtype=bool))
    with pytest.raises(ValueError, match="test_fraction"):
        item_cold_start(ds, 1.0)


# ---------------------------------------------------------------------- config
def test_split_from_config_matches_direct_calls():
    ds = random_dataset(2, 15, 15, 0.5)
    cases = [
        ({"method": "holdout", "test_fraction": 0.1, "seed": 42}, holdout(ds, 0.1, seed=42)),
        ({"method": "kfold", "n_folds": 3, "seed": 0}, kfold(ds, 3, seed=0)),
        ({"method": "user_holdout", "leave_k": 1, "by_time": True},
         user_holdout(ds, leave_k=1, by_time=True)),
        ({"method": "temporal", "quantile": 0.8}, temporal(ds, quantile=0.8)),
        ({"method": "item_cold_start", "test_fraction": 0.2, "seed": 3},
         item_cold_start(ds, 0.2, seed=3)),
    ]
    for spec, expected in cases:
        assert same_split(split_from_config(ds, spec), expected)


@pytest.mark.parametrize("spec, message", [
    ({"method": "holdout", "test_fraction": 0.1, "sed": 1}, "'sed'"),
    ({"method": "kfold", "folds": 5}, "'folds'"),
    ({"method": "bootstrap"}, "'bootstrap'"),
    ({"test_fraction": 0.1}, "'method'"),
])
def test_split_from_config_names_the_bad_key(spec, message):
    with pytest.raises(ValueError, match=message):
        split_from_config(random_dataset(0, 5, 5, 0.5), spec)


# ---------------------------------------------------------------------- official ML-100K folds
@pytest.fixture(scope="module")
def ml100k(real_data_dir):
    from recsys.data import load_dataset

    return load_dataset("ml-100k", real_data_dir)


def test_official_u_folds(ml100k, real_data_dir):
    folds = official_folds(ml100k, real_data_dir)
    assert [f.name for f in folds] == ["u1", "u2", "u3", "u4", "u5"]
    for fold in folds:
        assert fold.train.n_ratings == 80_000 and fold.test.n_ratings == 20_000
        assert_partition(ml100k, fold)
    # The tests are disjoint and cover u.data: together they are u.data, once.
    np.testing.assert_array_equal(rows(*(f.test for f in folds)), rows(ml100k))


def test_official_fold_matches_the_file(ml100k, ml100k_dir):
    from recsys.data import read_ml100k_ratings

    (u1,) = official_folds(ml100k, ml100k_dir, names=["u1"])
    test = read_ml100k_ratings(ml100k_dir / "u1.test")
    expected = sorted(zip(test["user"], test["item"], test["rating"], test["timestamp"]))
    frame = u1.test.to_frame()
    got = sorted(zip(frame["user"], frame["item"], frame["rating"], frame["timestamp"]))
    assert got == expected


def test_official_ua_ub(ml100k, real_data_dir):
    folds = split_from_config(ml100k, {"method": "official", "folds": ["ua", "ub"]},
                              data_dir=real_data_dir)
    for fold in folds:
        assert_partition(ml100k, fold)
        assert (fold.test.user_counts == 10).all()  # ua/ub: 10 ratings per user in test
        assert fold.train.n_ratings == 90_570


def test_official_folds_missing_files_are_named(tmp_path, ml100k_dir):
    from recsys.data import load_dataset

    shutil.copy(ml100k_dir / "u.data", tmp_path / "u.data")
    ds = load_dataset("ml-100k", tmp_path)
    with pytest.raises(DataNotFoundError, match="u1.base"):
        official_folds(ds, tmp_path)
    with pytest.raises(ValueError, match="u9"):
        official_folds(ds, tmp_path, names=["u9"])


def test_official_folds_refuse_a_filtered_dataset(ml100k, real_data_dir):
    from recsys.preprocess import k_core

    with pytest.raises(DataFormatError, match="full ml-100k"):
        official_folds(k_core(ml100k, 50, 50), real_data_dir, names=["u1"])


def test_split_does_no_file_io():
    # The official folds' files are read by the data layer; the splitters only cut Datasets.
    import ast
    import inspect

    import recsys.split

    tree = ast.parse(inspect.getsource(recsys.split))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"os", "io", "csv", "pathlib", "tempfile", "recsys.data.movielens",
                           "recsys.data.download"}, imported
    calls = {n.func.id for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "open" not in calls
