"""BayesianFM's side-feature and time blocks: the designs against materialised FM rows, the
sampler on them, scoring at a rating's time against each sample's own FM, fold-in, save and
load, and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from model_conformance import small_ratings
from recsys.dataset import Dataset
from recsys.evaluation import rating_predictor
from recsys.models.bfm import BayesianFM, _Chain, fold_in_scores
from recsys.models.fm_features import (AGE_BANDS, build_design, item_side_matrix,
                                       parse_blocks, user_side_matrix)

ALL = "user,item,user_implicit,item_implicit,user_side,item_side,time"
DAY = 86400


def side_data(seed=0, n_users=30, n_items=24, days=12) -> Dataset:
    """small_ratings with u.user / u.item-like metadata and timestamps over ``days`` days
    (one user without user_info, one item without genres or year)."""
    ds = small_ratings(seed=seed, n_users=n_users, n_items=n_items)
    rng = np.random.default_rng(seed)
    ages = rng.choice([12, 18, 24, 30, 44, 49, 55, 70], n_users)
    users = pd.DataFrame({"age": ages, "gender": rng.choice(["M", "F"], n_users),
                          "occupation": rng.choice(["writer", "other", "doctor"], n_users),
                          "zip": rng.choice(["85711", "94043", "T8H1N", "0213"], n_users)},
                         index=pd.Index(ds.user_ids, name="user")).iloc[1:]
    genres = ["|".join(rng.choice(["Action", "Comedy", "Drama"], rng.integers(1, 3),
                                  replace=False)) for _ in range(n_items)]
    items = pd.DataFrame({"title": [f"t{i}" for i in range(n_items)],
                          "year": rng.choice([1990, 1995, 1997], n_items).astype(float),
                          "genres": genres}, index=pd.Index(ds.item_ids, name="item"))
    items.iloc[0, 1:] = [np.nan, None]
    ts = 10**9 + rng.integers(0, days * DAY, len(ds.ratings))
    return Dataset(ds.users, ds.items, ds.ratings, ts, ds.user_ids, ds.item_ids,
                   ds.rating_scale, item_info=items, user_info=users, name="side")


def dense_rows(design) -> np.ndarray:
    """Every training row's FM features written out: the concatenation of its key's row in
    each relation (from the stacked CSR)."""
    stacked = sp.csr_matrix((design.key_vals, design.key_cols, design.key_indptr),
                            shape=(design.n_keys, design.n_columns)).toarray()
    parts = []
    for b in range(len(design.key_offset) - 1):
        lo, hi = design.relation_cols[b], design.relation_cols[b + 1]
        parts.append(stacked[design.key_offset[b] + design.row_keys[b], lo:hi])
    return np.hstack(parts)


def fm_dense(X, w0, w, V):
    q = X @ V.T
    return w0 + X @ w + 0.5 * ((q ** 2).sum(axis=1) - (X ** 2) @ (V ** 2).sum(axis=0))


# ---------------------------------------------------------------------- features
def test_user_side_features_are_one_hot_bands_and_categories():
    ds = side_data()
    parts = dict((name, m.toarray()) for m, name in user_side_matrix(ds))
    assert list(parts) == ["user_age", "user_gender", "user_occupation", "user_zip"]
    info = ds.user_info
    for u, raw in enumerate(ds.user_ids):
        if raw not in info.index:  # the user without user_info: empty rows
            assert all(not m[u].any() for m in parts.values())
            continue
        row = info.loc[raw]
        band = max(b for b, lo in enumerate(AGE_BANDS) if row["age"] >= lo)
        assert parts["user_age"][u].tolist() == [float(b == band) for b in range(7)]
        assert parts["user_gender"][u].sum() == 1
        genders = sorted(info["gender"].unique())
        assert parts["user_gender"][u, genders.index(row["gender"])] == 1
        regions = sorted({z[0] if z[0].isdigit() else "other" for z in info["zip"]})
        region = row["zip"][0] if row["zip"][0].isdigit() else "other"
        assert parts["user_zip"][u, regions.index(region)] == 1


def test_item_side_features_are_genres_and_years():
    ds = side_data()
    parts = dict((name, m.toarray()) for m, name in item_side_matrix(ds))
    assert list(parts) == ["item_genre", "item_year"]
    assert not parts["item_genre"][0].any() and not parts["item_year"][0].any()
    for i in range(1, ds.n_items):
        assert parts["item_genre"][i].sum() == len(ds.item_info["genres"].iloc[i].split("|"))
        assert parts["item_year"][i].sum() == 1


def test_the_design_of_every_block_is_the_materialised_rows():
    ds = side_data()
    design = build_design(ds, parse_blocks(ALL))
    X = dense_rows(design)
    o = design.row_order
    bins = (ds.timestamps[o] // DAY) - ds.timestamps.min() // DAY
    nu, ni = ds.n_users, ds.n_items
    r = (ds.csr > 0).astype(float).toarray()
    user_side = np.hstack([m.toarray() for m, _ in user_side_matrix(ds)])
    item_side = np.hstack([m.toarray() for m, _ in item_side_matrix(ds)])
    expected = np.hstack([
        np.eye(nu)[ds.users[o]], (r / np.sqrt(r.sum(1, keepdims=True)))[ds.users[o]],
        user_side[ds.users[o]],
        np.eye(ni)[ds.items[o]], (r.T / np.sqrt(r.T.sum(1, keepdims=True)))[ds.items[o]],
        item_side[ds.items[o]],
        np.eye(design.time_axis.n_bins + 1)[bins]])
    np.testing.assert_allclose(X, expected)
    assert design.time_axis.n_bins == bins.max() + 1 and len(design.key_offset) == 4
    assert design.groups == ("user", "item", "user_implicit", "item_implicit", "user_age",
                             "user_gender", "user_occupation", "user_zip", "item_genre",
                             "item_year", "time")
    # The time key past the period has no row, so its one-hot column is inactive.
    assert not design.col_active[-1] and design.col_active[design.relation_cols[2]]
    # Weeks: seven days a bin.
    weeks = build_design(ds, parse_blocks("user,item,time"), time_bin_days=7).time_axis
    assert weeks.n_bins == bins.max() // 7 + 1


def test_sweeps_on_every_block_keep_the_residuals_of_the_materialised_fm():
    ds = side_data()
    design = build_design(ds, parse_blocks(ALL))
    X = dense_rows(design)
    y = ds.ratings[design.row_order].astype(float)
    chain = _Chain(design, y, 3, 0.1, np.random.default_rng(0))
    for _ in range(4):
        chain.sweep()
    np.testing.assert_allclose(chain.e, y - fm_dense(X, chain.scalars[0], chain.w, chain.V),
                               atol=1e-9)


# ---------------------------------------------------------------------- scoring
def split(ds, seed=0):
    test = np.random.default_rng(seed).random(len(ds.ratings)) < 0.15
    return ds.subset(~test), ds.subset(test)


def test_scores_at_a_time_are_the_mean_of_each_samples_fm_at_that_time():
    train, test = split(side_data())
    m = BayesianFM(rank=3, n_samples=30, burn_in=10, blocks=ALL, seed=0)
    m.fit(train, eval_set=test)
    # The tracker averages each kept sample's fm_rows at the test rating's time key.
    timed = m.predict(test.users, test.items, times=test.timestamps)
    rmse = np.sqrt(np.mean((timed - test.ratings) ** 2))
    assert m.history_["eval_rmse"][-1] == pytest.approx(rmse, rel=1e-5)
    # The evaluation passes the times; a time outside the period is the default time.
    np.testing.assert_array_equal(rating_predictor(m, test)(test.users, test.items), timed)
    later = np.full(len(test.users), train.timestamps.max() + 400 * DAY)
    np.testing.assert_allclose(m.predict(test.users, test.items, times=later),
                               m.predict(test.users, test.items), rtol=1e-6)
    before = np.full(len(test.users), train.timestamps.min() - 2 * DAY)
    np.testing.assert_allclose(m.predict(test.users, test.items, times=before),
                               m.predict(test.users, test.items), rtol=1e-6)
    assert not np.allclose(timed, m.predict(test.users, test.items))
    # Unknown users and items (index out of range) at a time: their stand-ins, and at a
    # time outside the period the same as without times.
    odd_u, odd_i = np.array([train.n_users + 3, 0, train.n_users + 3]), np.array([0, 10**6, 10**6])
    t_in = np.full(3, test.timestamps[0])
    assert np.isfinite(m.predict(odd_u, odd_i, times=t_in)).all()
    np.testing.assert_allclose(m.predict(odd_u, odd_i, times=later[:3]),
                               m.predict(odd_u, odd_i), rtol=1e-6)
    # Each pair at its time equals the slow per-pair sum of the stacked terms.
    u, i = test.users[:5].astype(np.int64), test.items[:5].astype(np.int64)
    b = m._time_axis().bins(test.timestamps[:5])
    c, c0 = m.time_factors_[b].astype(float), m.time_factors_[m.time_n_bins_].astype(float)
    slow = (m.predict(u, i) + m.time_bias_[b] - m.time_bias_[m.time_n_bins_]
            + np.einsum("nk,nk->n", m.user_factors_[u] + m.item_factors_[i], c - c0))
    np.testing.assert_allclose(m.predict(u, i, times=test.timestamps[:5]),
                               np.clip(slow, *m.rating_scale_), rtol=1e-6)
    with pytest.raises(ValueError, match="same length"):
        m.predict(test.users, test.items, times=test.timestamps[:-1])


def test_a_model_without_the_time_block_ignores_times():
    train, test = split(side_data())
    m = BayesianFM(rank=2, n_samples=8, blocks="user,item,user_side", seed=0).fit(train)
    np.testing.assert_array_equal(m.predict(test.users, test.items, times=test.timestamps),
                                  m.predict(test.users, test.items))
    assert m.time_factors_.shape == (0, 8 * 2)


def test_an_unrated_user_is_scored_with_its_side_features():
    ds = side_data()
    keep = ds.users != 3
    train = ds.subset(keep)
    m = BayesianFM(rank=2, n_samples=20, burn_in=5, blocks="user,item,user_side",
                   seed=0).fit(train)
    # User 3 has no rating but has user_info: its scores differ from an unknown user's.
    assert not np.allclose(m.score_items([3])[0], m.score_items([-1])[0])
    # ... and equal a user with the same side features, the one-hot at its group's prior.
    twin = m.user_factors_[3]
    assert np.isfinite(twin).all() and not np.allclose(twin, m.unseen_user_factors_)


def test_fold_in_with_the_time_and_side_blocks():
    train, _ = split(side_data(), seed=1)
    user = int(np.argmax(train.user_counts))
    for blocks, floor in [("user,item,user_implicit,user_side", 0.99), (ALL, 0.95)]:
        m = BayesianFM(rank=3, n_samples=60, burn_in=20, blocks=blocks, seed=0).fit(train)
        items, ratings = m.user_history(user)
        folded = fold_in_scores(m, items.astype(np.int64), ratings.astype(float))
        own = m.score_items([user])[0]
        # A training user's own ratings folded in (without the user's side features, and
        # at the default time rather than at their own days) give scores close to the
        # user's own: measured correlation 0.992 and 0.965 (the time terms of the days
        # the ratings were given are what the fold-in cannot know).
        assert np.corrcoef(folded, own)[0, 1] > floor
        np.testing.assert_allclose(fold_in_scores(m, items[:0], ratings[:0]),
                                   m.score_items([-1])[0], rtol=1e-6)


def test_fold_in_at_the_default_time_is_the_per_sample_regression():
    # The slow per-sample regression (test_models_bfm.slow_fold_in) on items whose factors
    # are b(i) + c(t0): the time block is folded into the item side at the default time.
    from test_models_bfm import slow_fold_in

    train, _ = split(side_data(), seed=2)
    m = BayesianFM(rank=2, n_samples=6, burn_in=3, blocks=ALL, seed=0).fit(train)
    items, ratings = np.array([0, 3, 5, 9]), np.array([5.0, 1.0, 4.0, 2.5])
    shifted = BayesianFM(rank=2)
    shifted.__dict__.update(m.__dict__)
    shifted.item_factors_ = m.item_factors_ + m.time_factors_[m.time_n_bins_]
    np.testing.assert_allclose(fold_in_scores(m, items, ratings),
                               slow_fold_in(shifted, items, ratings), rtol=1e-6)


def test_save_and_load_keep_the_time_scores(tmp_path):
    train, test = split(side_data())
    m = BayesianFM(rank=2, n_samples=10, burn_in=2, blocks=ALL, time_bin_days=3,
                   seed=0).fit(train)
    m.save(tmp_path / "m.npz")
    back = BayesianFM.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.predict(test.users, test.items, times=test.timestamps),
                                  m.predict(test.users, test.items, times=test.timestamps))
    assert back.time_n_bins_ == m.time_n_bins_ and back.time_bin_days == 3


# ---------------------------------------------------------------------- errors
def test_side_blocks_without_metadata_name_the_problem():
    ds = small_ratings()
    with pytest.raises(ValueError, match="user_side.*user_info"):
        BayesianFM(n_samples=2, blocks="user,item,user_side").fit(ds)
    with pytest.raises(ValueError, match="item_side.*genres"):
        BayesianFM(n_samples=2, blocks="user,item,item_side").fit(ds)
    with pytest.raises(ValueError, match="time_bin_days"):
        BayesianFM(n_samples=2, time_bin_days=0).fit(ds)
