"""TimeBaseline and TimeSVDpp: conformance suite, the time axis, time-aware prediction,
fallbacks, history, determinism and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from model_conformance import ModelConformance, real_fold, small_ratings
from recsys.dataset import Dataset
from recsys.errors import ModelFileError
from recsys.models.base import Recommender
from recsys.models.timesvdpp import SECONDS_PER_DAY, TimeBaseline, TimeSVDpp
from recsys.threads import numba_threads

DAY = SECONDS_PER_DAY
T0 = 10_000 * DAY  # a day boundary

#: Time-term steps large enough for a small data set to move them (the BellKor defaults
#: are for Netflix's 100M ratings).
FAST_TIME = dict(lr_user_bias=0.01, lr_item_bias=0.01, lr_user_drift=0.005,
                 reg_user_drift=0.5, lr_item_bin=0.005, reg_item_bin=0.05, lr_user_day=0.01)

#: The defaults but for a bin-bias step that lets n_bins change the scores measurably.
CONFORMANCE_TIME = dict(lr_item_bin=0.001)


class TestTimeBaselineConformance(ModelConformance):
    varied_params = {"n_epochs": 4, "n_bins": 3, "beta": 0.8, "lr_user_bias": 0.03,
                     "lr_item_bias": 0.03, "lr_user_drift": 0.02, "lr_item_bin": 0.02,
                     "lr_user_day": 0.03, "reg_user_bias": 1.0, "reg_item_bias": 1.0,
                     "reg_user_drift": 5.0, "reg_item_bin": 1.0, "reg_user_day": 1.0,
                     "lr_decay": 0.7, "seed": 1}
    # Measured 0.8529 (seeds 0-2: 0.8528-0.8531), scored without times: each user at their
    # last training day. At the test ratings' own times: 0.8357.
    expected_rmse = (0.833, 0.863)

    def make_model(self, **overrides):
        return TimeBaseline(**{"n_epochs": 10, "seed": 0, **CONFORMANCE_TIME, **overrides})


class TestTimeSVDppConformance(ModelConformance):
    varied_params = {"n_factors": 3, "n_epochs": 4, "n_bins": 3, "beta": 0.8,
                     "lr_factors": 0.02, "reg_factors": 0.3, "reg_implicit": 0.5,
                     "lr_factor_drift": 0.01, "init_std": 0.3, "lr_user_drift": 0.02,
                     "lr_item_bin": 0.02, "lr_user_day": 0.03, "reg_user_drift": 5.0,
                     "reg_item_bin": 1.0, "reg_user_day": 1.0, "lr_decay": 0.7, "seed": 1}
    # Measured 0.8325 (seeds 0-2: 0.8325-0.8334), scored without times; SVDpp with the same
    # factors and epochs reaches 0.8285. At the test ratings' own times: see the test below.
    expected_rmse = (0.812, 0.843)

    def make_model(self, **overrides):
        return TimeSVDpp(**{"n_factors": 8, "n_epochs": 10, "seed": 0, **CONFORMANCE_TIME,
                            **overrides})


def test_reg_factor_drift_matters_when_the_drift_learns():
    data = small_ratings()
    users = np.arange(data.n_users)
    base = dict(n_factors=4, n_epochs=5, seed=0, lr_factor_drift=0.02, **FAST_TIME)
    a = TimeSVDpp(**base).fit(data).score_items(users)
    b = TimeSVDpp(**base, reg_factor_drift=2.0).fit(data).score_items(users)
    assert not np.allclose(a, b)


# ---------------------------------------------------------------------- small data with time
def timed_data(seed=0, n_users=30, n_items=20, n_days=60, day_effect=1.0, item_trend=1.0):
    """Ratings whose value depends on the day: a per-(user, day) offset and items whose
    bias rises linearly over the period. Every user rates on several days."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for d in rng.choice(n_days, 4, replace=False):
            offset = rng.normal(0, day_effect)
            for i in rng.choice(n_items, 5, replace=False):
                rows.append((u, i, d, offset))
    users, items, days, offsets = (np.array(c) for c in zip(*rows))
    item_bias = rng.normal(0, 0.5, n_items)
    trend = item_trend * (days / (n_days - 1) - 0.5) * np.sign(item_bias[items])
    ratings = 3 + item_bias[items] + trend + offsets + rng.normal(0, 0.1, len(users))
    ts = T0 + days * DAY + rng.integers(0, DAY, len(users))
    _, first = np.unique(users * n_items + items, return_index=True)
    ds = Dataset(users[first], items[first], ratings[first], ts[first], np.arange(n_users),
                 np.arange(n_items), (-5.0, 12.0))
    test = np.random.default_rng(seed + 1).random(ds.n_ratings) < 0.2
    return ds.subset(~test), ds.subset(test)


def rmse(model, data, times=True):
    pred = model.predict(data.users, data.items,
                         times=data.timestamps if times else None)
    return float(np.sqrt(np.mean((pred - data.ratings) ** 2)))


@pytest.mark.parametrize("cls", [TimeBaseline, TimeSVDpp])
def test_time_effects_are_learned_and_used_at_the_rating_time(cls):
    train, test = timed_data()
    params = dict(n_epochs=60, seed=0, lr_user_bias=0.02, lr_item_bias=0.02,
                  lr_user_day=0.05, reg_user_day=0.01, lr_item_bin=0.02, reg_item_bin=0.01,
                  n_bins=6)
    if cls is TimeSVDpp:
        params.update(n_factors=2, init_std=0.01)
    model = cls(**params).fit(train)
    still = cls(**{**params, "lr_user_day": 0.0, "lr_item_bin": 0.0}).fit(train)
    # With the times the day offsets and the item trend are predicted; "now" cannot.
    assert rmse(model, test) < 0.75 * rmse(still, test)
    assert rmse(model, test) < 0.75 * rmse(model, test, times=False)
    assert np.abs(model.user_day_bias_).max() > 0.5
    assert not still.user_day_bias_.any() and not still.item_bin_bias_.any()


def test_time_axis_days_means_and_table():
    train, _ = timed_data()
    m = TimeBaseline(n_epochs=1, seed=0).fit(train)
    days = train.timestamps // DAY - T0 // DAY
    assert m.day0_ == days.min() + T0 // DAY and m.n_days_ == days.max() - days.min() + 1
    for u in (0, 7):
        mine = days[train.users == u] - days.min()
        assert m.user_mean_day_[u] == pytest.approx(mine.mean())
        lo, hi = m.user_day_indptr_[u], m.user_day_indptr_[u + 1]
        np.testing.assert_array_equal(m.user_days_[lo:hi], np.unique(mine))
    assert m.item_bin_bias_.shape == (train.n_items, 30)


@pytest.mark.parametrize("cls", [TimeBaseline, TimeSVDpp])
def test_predict_without_times_is_each_users_last_training_day(cls):
    train, test = timed_data()
    m = cls(n_epochs=5, seed=0, lr_factor_drift=0.01, **FAST_TIME) if cls is TimeSVDpp else (
        cls(n_epochs=5, seed=0, **FAST_TIME))
    m.fit(train)
    last_day = np.array([train.timestamps[train.users == u].max() // DAY
                         for u in range(train.n_users)])
    users = np.append(test.users, -1)
    items = np.append(test.items, 0)
    times = np.append(last_day[test.users] * DAY + 123, (m.day0_ + m.n_days_ - 1) * DAY)
    np.testing.assert_allclose(m.predict(users, items), m.predict(users, items, times=times),
                               rtol=1e-12)
    dense = m.score_items(np.arange(train.n_users))
    u = np.repeat(np.arange(train.n_users), train.n_items)
    i = np.tile(np.arange(train.n_items), train.n_users)
    np.testing.assert_allclose(dense.ravel(), m._score_at(u, i, last_day[u] - m.day0_),
                               rtol=1e-6)


def test_predict_times_forms():
    train, test = timed_data()
    m = TimeSVDpp(n_factors=3, n_epochs=5, seed=0, **FAST_TIME).fit(train)
    # Float seconds floor to the same day as integers.
    np.testing.assert_array_equal(
        m.predict(test.users, test.items, times=test.timestamps),
        m.predict(test.users, test.items, times=test.timestamps.astype(np.float64) + 0.5))
    raw = m.predict(test.user_ids[test.users], test.item_ids[test.items], raw=True,
                    times=test.timestamps)
    np.testing.assert_array_equal(raw, m.predict(test.users, test.items,
                                                 times=test.timestamps))
    with pytest.raises(ValueError, match="same length"):
        m.predict(test.users, test.items, times=test.timestamps[:3])
    with pytest.raises(ValueError, match="finite"):
        m.predict([0], [0], times=[np.nan])


@pytest.mark.parametrize("cls", [TimeBaseline, TimeSVDpp])
def test_fallbacks_unknown_user_item_and_day(cls):
    train, _ = timed_data()
    m = cls(n_epochs=5, seed=0, **FAST_TIME).fit(train)
    mu = m.global_mean_
    u = 3
    day = int(m.user_days_[m.user_day_indptr_[u]])
    t = (m.day0_ + day) * DAY
    unseen = (m.day0_ + m.n_days_ + 50) * DAY  # after the period, not in the table
    dev = lambda d: np.sign(d - m.user_mean_day_[u]) * abs(d - m.user_mean_day_[u]) ** 0.4
    pred = m.predict([u, u, -1, 10**6], [-1, -1, 2, -1], raw=False,
                     times=[t, unseen, t, t])
    np.testing.assert_allclose(pred[0], mu + m.user_bias_[u] + m.user_drift_[u] * dev(day)
                               + m.user_day_bias_[m.user_day_indptr_[u]], rtol=1e-6)
    np.testing.assert_allclose(pred[1], mu + m.user_bias_[u]
                               + m.user_drift_[u] * dev(m.n_days_ + 50), rtol=1e-6)
    b = day * 30 // m.n_days_
    np.testing.assert_allclose(pred[2], mu + m.item_bias_[2] + m.item_bin_bias_[2, b],
                               rtol=1e-6)
    assert pred[3] == pytest.approx(mu)


def test_unrated_user_and_item_have_no_time_terms():
    data = small_ratings()
    ds = Dataset(data.users, data.items, data.ratings, data.timestamps, np.arange(41) + 100,
                 np.arange(31) + 1000, data.rating_scale)
    m = TimeSVDpp(n_factors=4, n_epochs=5, seed=0, **FAST_TIME).fit(ds)
    assert not m.user_factors_[40].any() and not m.item_factors_[30].any()
    assert m.user_bias_[40] == m.user_drift_[40] == 0 and not m.item_bin_bias_[30].any()
    assert m.user_day_indptr_[41] == m.user_day_indptr_[40]
    assert np.isfinite(m.user_mean_day_).all()
    np.testing.assert_allclose(m.predict([40], [30]), [ds.global_mean])


def test_history_with_eval_set_uses_the_eval_times():
    train, test = timed_data()
    m = TimeSVDpp(n_factors=2, n_epochs=6, seed=0, **FAST_TIME).fit(train, eval_set=test)
    assert len(m.history_["train_rmse"]) == len(m.history_["eval_rmse"]) == 6
    assert m.history_["eval_rmse"][-1] == pytest.approx(rmse(m, test), rel=1e-6)
    assert m.history_["eval_rmse"][-1] < m.history_["eval_rmse"][0]
    assert TimeBaseline(n_epochs=2, seed=0).fit(train).history_["eval_rmse"] == []


def test_same_seed_bit_identical_on_any_thread_count():
    data = small_ratings()
    with numba_threads(1):
        a = TimeSVDpp(n_factors=4, n_epochs=4, seed=7, **FAST_TIME).fit(data)
    with numba_threads(2):
        b = TimeSVDpp(n_factors=4, n_epochs=4, seed=7, **FAST_TIME).fit(data)
    c = TimeSVDpp(n_factors=4, n_epochs=4, seed=8, **FAST_TIME).fit(data)
    for name in TimeSVDpp._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.user_factors_.dtype == np.float32
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_save_load_keeps_the_time_axis(tmp_path):
    train, test = timed_data()
    m = TimeSVDpp(n_factors=3, n_epochs=4, seed=0, lr_factor_drift=0.01, **FAST_TIME).fit(train)
    loaded = Recommender.load(m.save(tmp_path / "m.npz"))
    assert (loaded.day0_, loaded.n_days_) == (m.day0_, m.n_days_)
    assert loaded.history_ == m.history_
    np.testing.assert_array_equal(loaded.predict(test.users, test.items, times=test.timestamps),
                                  m.predict(test.users, test.items, times=test.timestamps))


def test_load_refuses_bins_that_disagree_with_n_bins(tmp_path):
    m = TimeBaseline(n_epochs=1, seed=0).fit(small_ratings())
    m.item_bin_bias_ = m.item_bin_bias_[:, :5]
    with pytest.raises(ModelFileError, match="n_bins"):
        Recommender.load(m.save(tmp_path / "m.npz"))


def test_new_user_fold_in_uses_the_item_biases_of_now():
    train, _ = timed_data()
    for cls in (TimeBaseline, TimeSVDpp):
        m = cls(n_epochs=5, seed=0, **FAST_TIME).fit(train)
        items, ratings = m.user_history(0)
        b, v = m.fold_in(items, ratings)
        now = m.item_bias_ + m.item_bin_bias_[:, (m.n_days_ - 1) * 30 // m.n_days_]
        q = getattr(m, "item_factors_", np.zeros((m.n_items_, 0)))
        got, scores = m.recommend_new_user(items, ratings, k=m.n_items_, exclude_rated=False)
        np.testing.assert_allclose(scores, np.sort(m.global_mean_ + b + now + q @ v)[::-1],
                                   rtol=1e-6)
        assert m.fold_in(items[:0], ratings[:0])[0] == 0.0


def test_bad_hyperparameters_are_refused():
    data = small_ratings()
    with pytest.raises(ValueError, match="n_bins"):
        TimeBaseline(n_bins=0).fit(data)
    with pytest.raises(ValueError, match="beta"):
        TimeSVDpp(beta=-1.0).fit(data)
    with pytest.raises(ValueError, match="dtype"):
        TimeSVDpp(dtype="float16").fit(data)


@pytest.mark.realdata
def test_times_help_on_the_real_fold():
    # ml-latest-small spans 1996-2018: the time terms have something to learn there.
    train, test = real_fold()
    m = TestTimeSVDppConformance().make_model().fit(train)
    with_times = rmse(m, test)
    assert with_times < rmse(m, test, times=False) - 0.01
    # Measured 0.8170 (seeds 0-2: 0.8170-0.8183); SVDpp with the same factors and epochs
    # reaches 0.8285, so this range also says timeSVD++ beats it.
    assert 0.797 <= with_times <= 0.827
