"""The protocols of issue 14: global temporal split with a validation cut, leave-one-out,
user cold start (given n). Invariants under hypothesis: no leakage across the time cuts,
sizes, the partition (up to the counted drops), same seed same split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from recsys.dataset import Dataset
from recsys.split import (global_temporal, leave_one_out, split_from_config,
                          user_cold_start, user_holdout)
from test_split import data, keys, random_dataset, rows


# ---------------------------------------------------------------------- global temporal
@settings(deadline=None, max_examples=40)
@given(**data, q1=st.floats(0.1, 0.9), gap=st.floats(0.0, 0.5))
def test_global_temporal_no_future_in_train(seed, n_users, n_items, density, q1, gap):
    ds = random_dataset(seed, n_users, n_items, density, n_times=30)
    q2 = min(q1 + gap, 0.95)
    if ds.n_ratings == 0:
        with pytest.raises(ValueError, match="no ratings"):
            global_temporal(ds, validation_quantile=q1, test_quantile=q2)
        return
    t1, t2 = np.quantile(ds.timestamps, q1), np.quantile(ds.timestamps, q2)
    ts = ds.timestamps
    if not (ts < t1).any() or not (ts >= t2).any():
        with pytest.raises(ValueError, match="global_temporal"):
            global_temporal(ds, validation_quantile=q1, test_quantile=q2)
        return
    (fold,) = global_temporal(ds, validation_quantile=q1, test_quantile=q2)
    inner = fold.validation
    # Time order: train < t1 <= validation < t2 <= test, and train is train+validation.
    assert inner.train.timestamps.max() < t1 <= (inner.test.timestamps.min()
                                                 if inner.test.n_ratings else np.inf)
    assert fold.train.timestamps.max() < t2
    if fold.test.n_ratings:
        assert fold.test.timestamps.min() >= t2
    if inner.test.n_ratings:
        assert inner.test.timestamps.max() < t2
    np.testing.assert_array_equal(rows(fold.train), rows(ds.subset(ts < t2)))
    np.testing.assert_array_equal(rows(inner.train), rows(ds.subset(ts < t1)))
    # Unseen users and items are gone from test, and the drop is counted exactly.
    seen_u = np.isin(fold.test.users, fold.train.users)
    seen_i = np.isin(fold.test.items, fold.train.items)
    assert seen_u.all() and seen_i.all()
    assert np.isin(inner.test.users, inner.train.users).all()
    assert np.isin(inner.test.items, inner.train.items).all()
    future = ts >= t2
    assert fold.test.n_ratings + fold.info["dropped_ratings"] == future.sum()
    past_users = set(ds.users[ts < t2].tolist())
    assert fold.info["unseen_users"] == len(set(ds.users[future].tolist()) - past_users)
    past_items = set(ds.items[ts < t2].tolist())
    assert fold.info["unseen_items"] == len(set(ds.items[future].tolist()) - past_items)
    val = (ts >= t1) & (ts < t2)
    assert (inner.test.n_ratings + fold.info["validation_dropped_ratings"]) == val.sum()
    # Without the drop, test is every future rating.
    (raw,) = global_temporal(ds, validation_quantile=q1, test_quantile=q2, drop_unseen=False)
    assert raw.test.n_ratings == future.sum() and raw.info["dropped_ratings"] == 0


def test_global_temporal_counts_a_new_user_and_item():
    # user 2 and item 3 appear only after the test cut.
    ds = Dataset([0, 1, 0, 1, 0, 2, 1], [0, 1, 1, 2, 2, 0, 3], [4, 3, 5, 2, 1, 4, 5],
                 [1, 2, 3, 4, 10, 11, 12], np.arange(3), np.arange(4), (1.0, 5.0))
    (fold,) = global_temporal(ds, validation_at=3, test_at=10)
    assert fold.train.n_ratings == 4 and fold.validation.train.n_ratings == 2
    assert fold.test.n_ratings == 1  # (0, 2) only
    assert fold.info["dropped_ratings"] == 2
    assert fold.info["unseen_users"] == 1 and fold.info["unseen_items"] == 1
    # validation [3, 10): (0, 1) at 3 has user 0 and item 1 in train; (1, 2) at 4 has item 2
    # unseen before t1.
    assert fold.validation.test.n_ratings == 1 and fold.info["validation_unseen_items"] == 1
    assert fold.name == "global_temporal@1970-01-01T00:00:10"


def test_global_temporal_errors():
    ds = random_dataset(0, 10, 10, 0.5)
    with pytest.raises(ValueError, match="exactly one"):
        global_temporal(ds, validation_at=5, validation_quantile=0.5, test_quantile=0.9)
    with pytest.raises(ValueError, match="after the test cut"):
        global_temporal(ds, validation_quantile=0.9, test_quantile=0.5)
    with pytest.raises(ValueError, match="not a date"):
        global_temporal(ds, validation_at="yesterday-ish", test_quantile=0.9)
    with pytest.raises(ValueError, match="drop_unseen"):
        global_temporal(ds, validation_quantile=0.5, test_quantile=0.9, drop_unseen="yes")


def test_global_temporal_accepts_dates():
    ds = random_dataset(1, 10, 10, 0.5)
    a = global_temporal(ds, validation_at="1970-01-16", test_at="1970-01-22")[0]
    b = global_temporal(ds, validation_at=15 * 86400, test_at=21 * 86400)[0]
    assert np.array_equal(keys(a.test), keys(b.test))


def test_user_holdout_by_time_leaks_and_global_does_not():
    """The leak the docstring describes: with the per-user cut, train holds ratings made
    after some test rating; with the global cut it never does."""
    ds = random_dataset(3, 30, 30, 0.3, n_times=50)
    f = user_holdout(ds, leave_k=2, by_time=True, seed=0)[0]
    assert f.train.timestamps.max() > f.test.timestamps.min()
    g = global_temporal(ds, validation_quantile=0.6, test_quantile=0.8)[0]
    assert g.train.timestamps.max() < g.test.timestamps.min()


# ---------------------------------------------------------------------- leave-one-out
@settings(deadline=None, max_examples=40)
@given(**data, by=st.sampled_from(["time", "random"]), split_seed=st.integers(0, 100),
       min_train=st.integers(0, 3))
def test_leave_one_out(seed, n_users, n_items, density, by, split_seed, min_train):
    ds = random_dataset(seed, n_users, n_items, density)
    (fold,) = leave_one_out(ds, by=by, min_train=min_train, seed=split_seed)
    assert fold.name == "leave_one_out"
    np.testing.assert_array_equal(rows(fold.train, fold.test), rows(ds))
    per_user = np.bincount(fold.test.users, minlength=ds.n_users)
    np.testing.assert_array_equal(per_user, (ds.user_counts > min_train).astype(int))
    if by == "time":  # the held-out rating is the user's latest
        for u, t in zip(fold.test.users, fold.test.timestamps):
            assert t >= fold.train.timestamps[fold.train.users == u].max(initial=-1)
    again = leave_one_out(ds, by=by, min_train=min_train, seed=split_seed)[0]
    assert np.array_equal(keys(again.test), keys(fold.test))


def test_leave_one_out_random_varies_with_seed_and_rejects_bad_by():
    ds = random_dataset(0, 30, 30, 0.4)
    a = leave_one_out(ds, by="random", seed=0)[0]
    b = leave_one_out(ds, by="random", seed=1)[0]
    assert not np.array_equal(keys(a.test), keys(b.test))
    with pytest.raises(ValueError, match="by must be"):
        leave_one_out(ds, by="latest")


# ---------------------------------------------------------------------- user cold start
@settings(deadline=None, max_examples=40)
@given(**data, fraction=st.floats(0.05, 0.6), n_given=st.integers(0, 4),
       by_time=st.booleans(), split_seed=st.integers(0, 100))
def test_user_cold_start(seed, n_users, n_items, density, fraction, n_given, by_time,
                         split_seed):
    ds = random_dataset(seed, n_users, n_items, density)
    eligible = np.flatnonzero(ds.user_counts > n_given)
    try:
        (fold,) = user_cold_start(ds, fraction, n_given, by_time=by_time, seed=split_seed)
    except ValueError as exc:
        assert "user_cold_start" in str(exc)
        n_held = min(max(round(fraction * len(eligible)), 1), len(eligible))
        assert len(eligible) == 0 or n_held == np.count_nonzero(ds.user_counts)
        return
    held = np.unique(np.concatenate([fold.test.users, fold.given.users]))
    assert len(held) == fold.info["cold_users"]
    assert len(held) == min(max(round(fraction * len(eligible)), 1), len(eligible))
    assert np.isin(held, eligible).all()
    assert not np.isin(fold.train.users, held).any()  # no rating of a cold user in train
    np.testing.assert_array_equal(rows(fold.train, fold.test, fold.given), rows(ds))
    np.testing.assert_array_equal(np.bincount(fold.given.users, minlength=ds.n_users)[held],
                                  np.full(len(held), n_given))
    assert (np.bincount(fold.test.users, minlength=ds.n_users)[held] >= 1).all()
    if by_time:  # the given ratings are the user's earliest
        for u in held:
            g = fold.given.timestamps[fold.given.users == u]
            t = fold.test.timestamps[fold.test.users == u]
            assert g.max(initial=-1) <= t.min()
    again = user_cold_start(ds, fraction, n_given, by_time=by_time, seed=split_seed)[0]
    assert np.array_equal(keys(again.given), keys(fold.given))


def test_user_cold_start_seeds_and_errors():
    ds = random_dataset(0, 40, 30, 0.3)
    a = user_cold_start(ds, 0.2, 2, seed=0)[0]
    b = user_cold_start(ds, 0.2, 2, seed=1)[0]
    assert not np.array_equal(np.unique(a.test.users), np.unique(b.test.users))
    with pytest.raises(ValueError, match="n_given"):
        user_cold_start(ds, 0.2, -1)
    with pytest.raises(ValueError, match="more than n_given"):
        user_cold_start(ds, 0.2, 1000)
    with pytest.raises(ValueError, match="by_time"):
        user_cold_start(ds, 0.2, 2, by_time=1)


def test_protocols_from_config():
    ds = random_dataset(2, 30, 30, 0.4)
    for spec, direct in [
        ({"method": "global_temporal", "validation_quantile": 0.6, "test_quantile": 0.8},
         global_temporal(ds, validation_quantile=0.6, test_quantile=0.8)),
        ({"method": "leave_one_out", "by": "random", "seed": 3},
         leave_one_out(ds, by="random", seed=3)),
        ({"method": "user_cold_start", "test_fraction": 0.2, "n_given": 3, "seed": 4},
         user_cold_start(ds, 0.2, 3, seed=4)),
    ]:
        got = split_from_config(ds, spec)
        assert [f.name for f in got] == [f.name for f in direct]
        assert np.array_equal(keys(got[0].test), keys(direct[0].test))
    with pytest.raises(ValueError, match="unknown key 'n_given'"):
        split_from_config(ds, {"method": "leave_one_out", "n_given": 3})


def test_fold_stays_a_three_tuple_and_pickles_its_extras():
    import pickle

    ds = random_dataset(4, 20, 20, 0.4, n_times=30)
    (fold,) = global_temporal(ds, validation_quantile=0.6, test_quantile=0.8)
    name, train, test = fold  # existing callers unpack (name, train, test)
    assert name == fold.name and train is fold.train and len(fold) == 3
    again = pickle.loads(pickle.dumps(fold))  # a fold travels to worker processes
    assert again.info == fold.info and again.validation.name == fold.validation.name
    (cold,) = user_cold_start(ds, 0.2, 2)
    assert pickle.loads(pickle.dumps(cold)).given.n_ratings == cold.given.n_ratings
    moved = cold._replace(name="renamed")
    assert moved.name == "renamed" and moved.given is cold.given
    assert holdout_fold_has_no_extras(ds)


def holdout_fold_has_no_extras(ds) -> bool:
    from recsys.split import holdout

    f = holdout(ds, 0.2)[0]
    return f.validation is None and f.given is None and f.info is None
