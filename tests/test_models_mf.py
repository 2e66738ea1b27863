"""FunkSVD: conformance, recovery of a low-rank matrix, determinism, the strata, single-thread
and Hogwild modes, early stopping, fold-in and item similarity."""

from __future__ import annotations

import os
import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from model_conformance import ModelConformance, small_ratings
from recsys.data.synthetic import generate
from recsys.dataset import Dataset
from recsys.models import Recommender
from recsys.models.mf import FunkSVD, _balanced_groups, numba_threads


def low_rank(seed=0, n_users=60, n_items=40, rank=3, density=0.6, test_fraction=0.1):
    """Noiseless rank-`rank` ratings around 3, split into train and test."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 1, (n_users, rank))
    Q = rng.normal(0, 1, (n_items, rank))
    full = 3 + 0.7 * P @ Q.T / np.sqrt(rank)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    ds = Dataset(users, items, full[users, items], None, np.arange(n_users),
                 np.arange(n_items), (float(full.min()) - 1, float(full.max()) + 1))
    mask = rng.random(len(users)) < test_fraction
    return ds.subset(~mask), ds.subset(mask)


def rmse(model, test):
    pred = model.predict(test.users, test.items)
    return float(np.sqrt(np.mean((pred - test.ratings) ** 2)))


class TestFunkSVD(ModelConformance):
    varied_params = {"n_factors": 3, "n_epochs": 2, "learning_rate": 0.02, "reg_factors": 0.5,
                     "reg_bias": 0.5, "init_mean": 0.1, "init_std": 0.3, "biased": False,
                     "lr_decay": 0.5, "early_stopping": True, "shuffle": False,
                     "parallel": False, "n_strata": 3, "seed": 1}
    expected_rmse = (0.822, 0.853)  # measured 0.8422

    def make_model(self, **overrides):
        return FunkSVD(**{"n_factors": 8, "n_epochs": 5, "seed": 0, **overrides})


class TestFunkSVDEarlyStopping(ModelConformance):
    varied_params = {"validation_fraction": 0.3}
    expected_rmse = (0.815, 0.846)  # measured 0.8354

    def make_model(self, **overrides):
        return FunkSVD(**{"n_factors": 4, "n_epochs": 8, "learning_rate": 0.02,
                          "early_stopping": True, "seed": 0, **overrides})


class TestFunkSVDSingleThread(ModelConformance):
    varied_params = {"shuffle": False, "seed": 1}
    expected_rmse = (0.822, 0.853)  # measured 0.8423

    def make_model(self, **overrides):
        return FunkSVD(**{"n_factors": 8, "n_epochs": 5, "parallel": False, "seed": 0,
                          **overrides})


class TestFunkSVDFloat64(ModelConformance):
    varied_params = {"n_factors": 3, "seed": 1}
    expected_rmse = (0.822, 0.852)  # measured 0.8420

    def make_model(self, **overrides):
        return FunkSVD(**{"n_factors": 8, "n_epochs": 5, "dtype": "float64", **overrides})


@settings(deadline=None, max_examples=4)
@given(seed=st.integers(0, 2**31), dtype=st.sampled_from(["float32", "float64"]))
def test_recovers_a_noiseless_low_rank_matrix(seed, dtype):
    train, test = low_rank(seed)
    model = FunkSVD(n_factors=3, n_epochs=300, learning_rate=0.02, reg_factors=0.0,
                    reg_bias=0.0, dtype=dtype, seed=seed).fit(train, eval_set=test)
    assert rmse(model, test) < 0.01
    assert model.history_["train_rmse"][-1] < 0.01
    assert model.history_["train_rmse"][-1] < 0.05 * model.history_["train_rmse"][0]


def test_arrays_dtype_and_layout():
    ds = small_ratings()
    for dtype in ("float32", "float64"):
        m = FunkSVD(n_factors=4, n_epochs=2, dtype=dtype).fit(ds)
        for name in FunkSVD._fitted_arrays:
            a = getattr(m, name)
            assert a.dtype == np.dtype(dtype) and a.flags.c_contiguous, name
        assert m.user_factors_.shape == (ds.n_users, 4)
        assert m.item_factors_.shape == (ds.n_items, 4)


def test_same_seed_gives_bit_identical_arrays():
    ds = small_ratings()
    a = FunkSVD(n_factors=6, n_epochs=4, seed=7).fit(ds)
    b = FunkSVD(n_factors=6, n_epochs=4, seed=7).fit(ds)
    for name in FunkSVD._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.history_ == b.history_


def test_hogwild_with_one_thread_equals_the_deterministic_mode():
    ds = small_ratings()
    a = FunkSVD(n_factors=6, n_epochs=4, seed=3, parallel=False).fit(ds)
    b = FunkSVD(n_factors=6, n_epochs=4, seed=3, parallel=True, n_threads=1).fit(ds)
    for name in FunkSVD._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_strata_gives_the_same_arrays_on_any_number_of_threads():
    ds = small_ratings(n_users=60, n_items=50)
    kw = dict(n_factors=6, n_epochs=4, seed=3, parallel="strata", n_strata=4)
    one = FunkSVD(**kw, n_threads=1).fit(ds)
    two = FunkSVD(**kw, n_threads=min(2, numba.config.NUMBA_NUM_THREADS)).fit(ds)
    serial = FunkSVD(n_factors=6, n_epochs=4, seed=3, parallel=False).fit(ds)
    for name in FunkSVD._fitted_arrays:
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    assert not np.array_equal(one.user_factors_, serial.user_factors_)  # another order


def test_single_thread_mode_recovers_a_noiseless_low_rank_matrix():
    train, test = low_rank(2, n_users=120, n_items=80)
    kw = dict(n_factors=3, n_epochs=150, learning_rate=0.02, reg_factors=0.0, reg_bias=0.0)
    model = FunkSVD(**kw, parallel=False).fit(train)
    assert rmse(model, test) < 0.02


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 60), groups=st.integers(1, 7))
def test_balanced_groups_split_the_counts_evenly(seed, n, groups):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 20, n)
    got = _balanced_groups(counts, groups, np.random.default_rng(seed))
    again = _balanced_groups(counts, groups, np.random.default_rng(seed))
    np.testing.assert_array_equal(got, again)
    assert got.shape == (n,) and (n == 0 or (got.min() >= 0 and got.max() < groups))
    totals = np.bincount(got, weights=counts, minlength=groups)
    # Each cut falls inside one row, so a group misses its share by less than the largest row.
    largest = counts.max(initial=0)
    assert np.all(np.abs(totals - counts.sum() / groups) <= largest + 1e-9)


def test_hogwild_on_two_threads_reaches_a_similar_rmse():
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    train, test = low_rank(1, n_users=120, n_items=80)
    kw = dict(n_factors=3, n_epochs=150, learning_rate=0.02, reg_factors=0.0, reg_bias=0.0)
    serial = rmse(FunkSVD(**kw, parallel=False).fit(train), test)
    before = numba.get_num_threads()
    hog = rmse(FunkSVD(**kw, parallel=True, n_threads=threads).fit(train), test)
    assert numba.get_num_threads() == before
    assert hog < 0.02 and serial < 0.02


def test_thread_count_is_restored_after_an_error():
    before = numba.get_num_threads()
    with pytest.raises(RuntimeError):
        with numba_threads(1) as n:
            assert n == 1 == numba.get_num_threads()
            raise RuntimeError("boom")
    assert numba.get_num_threads() == before


def test_lr_decay_zero_freezes_after_the_first_epoch():
    ds = small_ratings()
    a = FunkSVD(n_factors=4, n_epochs=5, lr_decay=0.0, shuffle=False).fit(ds)
    b = FunkSVD(n_factors=4, n_epochs=1, shuffle=False).fit(ds)
    for name in FunkSVD._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_unbiased_model_learns_no_biases():
    m = FunkSVD(n_factors=4, n_epochs=3, biased=False).fit(small_ratings())
    assert not m.user_bias_.any() and not m.item_bias_.any()


def test_history_and_eval_set(tmp_path):
    train, test = low_rank(2)
    m = FunkSVD(n_factors=3, n_epochs=7, learning_rate=0.01).fit(train, eval_set=test)
    assert len(m.history_["train_rmse"]) == len(m.history_["eval_rmse"]) == 7
    assert m.history_["eval_rmse"][-1] == pytest.approx(rmse(m, test), rel=1e-5)
    assert m.history_["train_rmse"][-1] < m.history_["train_rmse"][0]
    assert m.best_epoch_ == 7
    loaded = Recommender.load(m.save(tmp_path / "m.npz"))
    assert loaded.history_ == m.history_ and loaded.best_epoch_ == 7


def test_early_stopping_keeps_the_best_epoch():
    # A learning rate far too high makes validation RMSE rise after an early minimum.
    train, test = low_rank(3)
    m = FunkSVD(n_factors=20, n_epochs=60, learning_rate=0.05, reg_factors=0.0,
                init_std=0.5, early_stopping=True, patience=3, seed=0).fit(train)
    val = m.history_["val_rmse"]
    assert m.best_epoch_ == int(np.argmin(val)) + 1
    assert len(val) == m.n_epochs_run_
    if m.n_epochs_run_ < 60:  # stopped: exactly `patience` epochs without improvement
        assert m.n_epochs_run_ - m.best_epoch_ == 3
    # The kept parameters are the best epoch's: refitting for best_epoch_ epochs without
    # early stopping but on the same split reproduces the validation RMSE.
    again = FunkSVD(n_factors=20, n_epochs=m.best_epoch_, learning_rate=0.05,
                    reg_factors=0.0, init_std=0.5, early_stopping=True, patience=10**6,
                    seed=0).fit(train)
    assert again.history_["val_rmse"][-1] == pytest.approx(min(val), rel=1e-6)
    for name in FunkSVD._fitted_arrays:
        np.testing.assert_array_equal(getattr(again, name), getattr(m, name))


@pytest.mark.parametrize("patience", [1, 2])
def test_patience_stops_training(patience):
    # Noisy ratings, 30 unregularised factors: validation RMSE flattens out early.
    ds = small_ratings(seed=4, n_users=60, n_items=40)
    m = FunkSVD(n_factors=30, n_epochs=200, learning_rate=0.05, reg_factors=0.0,
                reg_bias=0.0, init_std=0.3, early_stopping=True, validation_fraction=0.2,
                patience=patience, seed=1).fit(ds)
    assert m.n_epochs_run_ < 200
    assert m.n_epochs_run_ - m.best_epoch_ == patience
    val = m.history_["val_rmse"]
    assert min(val[m.best_epoch_:]) >= val[m.best_epoch_ - 1]


def test_untrained_rows_score_as_unknown():
    ds = small_ratings()
    train = ds.subset((ds.users != 0) & (ds.items != 0))  # user 0 and item 0: no ratings
    m = FunkSVD(n_factors=4, n_epochs=3).fit(train)
    assert not m.user_factors_[0].any() and m.user_bias_[0] == 0
    assert not m.item_factors_[0].any() and m.item_bias_[0] == 0
    np.testing.assert_allclose(m.predict([0, 5], [3, 0]), m.predict([-1, 5], [3, -1]),
                               rtol=1e-12)


def test_unknown_fallbacks():
    m = FunkSVD(n_factors=4, n_epochs=3).fit(small_ratings())
    mu, bu, bi = m.global_mean_, m.user_bias_, m.item_bias_
    got = m._score(np.array([2, -1, 2, -1]), np.array([3, 3, -1, -1]))
    full = mu + bu[2] + bi[3] + float(m.user_factors_[2] @ m.item_factors_[3])
    np.testing.assert_allclose(got, [full, mu + bi[3], mu + bu[2], mu], rtol=1e-5)
    scores = m._score_users(np.array([-1, 2]))
    np.testing.assert_allclose(scores[0], mu + bi, rtol=1e-6)


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 12), biased=st.booleans())
def test_fold_in_solves_the_regularised_least_squares(seed, n, biased):
    ds = small_ratings()
    m = FunkSVD(n_factors=5, n_epochs=3, biased=biased, reg_factors=0.05,
                reg_bias=0.02).fit(ds)
    rng = np.random.default_rng(seed)
    items = rng.choice(ds.n_items, n, replace=False)
    ratings = rng.integers(1, 6, n).astype(np.float64)
    b, p = m.fold_in(items, ratings)
    # Reference: ridge as ordinary least squares on an augmented system.
    Q = m.item_factors_[items].astype(np.float64)
    y = ratings - m.global_mean_ - m.item_bias_[items]
    A = np.hstack([np.ones((n, 1)), Q]) if biased else Q
    reg = np.r_[[0.02] if biased else [], np.full(5, 0.05)] * n
    A_aug = np.vstack([A, np.diag(np.sqrt(reg))])
    y_aug = np.r_[y, np.zeros(len(reg))]
    x = np.linalg.lstsq(A_aug, y_aug, rcond=None)[0] if n else np.zeros(len(reg))
    np.testing.assert_allclose(np.r_[b, p] if biased else p, x, rtol=1e-6, atol=1e-8)
    if not biased:
        assert b == 0.0
    scores = m._score_new_user(items, ratings)
    np.testing.assert_allclose(scores, m.global_mean_ + b + m.item_bias_
                               + m.item_factors_.astype(np.float64) @ p, rtol=1e-6)


def test_fold_in_of_a_training_user_ranks_like_the_trained_user():
    train, _ = low_rank(5, n_users=80, n_items=50, density=0.8)
    m = FunkSVD(n_factors=3, n_epochs=200, learning_rate=0.02, reg_factors=0.001,
                reg_bias=0.001).fit(train)
    items, ratings = train.user_items(7)
    folded = m._score_new_user(items.astype(np.int64), ratings)
    trained = m.score_items([7])[0]
    assert np.corrcoef(folded, trained)[0, 1] > 0.99
    rec, _ = m.recommend_new_user(items, ratings, k=5)
    assert not set(rec) & set(items)


def test_similar_items_is_cosine_of_item_factors():
    m = FunkSVD(n_factors=4, n_epochs=3).fit(small_ratings())
    Q = m.item_factors_.astype(np.float64)
    sims = m._similar_items(2)
    want = Q @ Q[2] / (np.linalg.norm(Q, axis=1) * np.linalg.norm(Q[2]))
    np.testing.assert_allclose(sims, want, rtol=1e-6)
    assert sims[2] == pytest.approx(1.0)
    items, scores = m.similar_items(2, k=3)
    assert 2 not in items and (np.diff(scores) <= 0).all()
    m.item_factors_[5] = 0
    assert m._similar_items(5)[3] == 0 and np.isfinite(m._similar_items(5)).all()


@pytest.mark.parametrize("bad", [
    {"n_factors": 0}, {"n_epochs": -1}, {"learning_rate": 0.0}, {"reg_factors": -0.1},
    {"dtype": "float16"}, {"validation_fraction": 1.0, "early_stopping": True},
    {"patience": 0}, {"n_threads": 0, "parallel": True}, {"seed": -3}, {"n_factors": 2.5},
    {"parallel": "locks"}, {"parallel": 1}, {"n_strata": 0}, {"n_strata": 5000},
])
def test_bad_hyperparameters_are_named(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        FunkSVD(**bad).fit(small_ratings())


def test_eval_set_must_share_id_maps():
    ds = small_ratings()
    other = Dataset(ds.users, ds.items, ds.ratings, None, ds.user_ids + 1, ds.item_ids)
    with pytest.raises(ValueError, match="id maps"):
        FunkSVD(n_epochs=1).fit(ds, eval_set=other)


def test_strata_threads_follow_the_work_and_the_free_cores(monkeypatch):
    import recsys.models.mf as mf
    from recsys.threads import free_cores

    assert 1 <= free_cores() <= (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                 else os.cpu_count())
    assert mf.strata_threads(mf._STRATA_MIN_WORK - 1) == 1
    monkeypatch.setattr(mf, "free_cores", lambda: 1)
    assert mf.strata_threads(10**9) == 1
    monkeypatch.setattr(mf, "free_cores", lambda: 4096)
    assert mf.strata_threads(10**9) == numba.get_num_threads()


def test_strata_default_threads_do_not_change_the_result(monkeypatch):
    import recsys.models.mf as mf

    ds = generate(60, 40, 2000, seed=4)
    kw = dict(n_factors=8, n_epochs=3, n_strata=3, seed=1)
    monkeypatch.setattr(mf, "_STRATA_MIN_WORK", 0)
    monkeypatch.setattr(mf, "free_cores", lambda: 1)  # busy machine: the serial kernel
    busy = FunkSVD(**kw).fit(ds)
    monkeypatch.setattr(mf, "free_cores", lambda: 2)
    idle = FunkSVD(**kw).fit(ds)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(busy, name), getattr(idle, name))
    assert busy.history_ == idle.history_


def test_faster_kernel_tries_both_then_keeps_the_faster_and_probes():
    from recsys.threads import FasterKernel

    def run(chooser, parallel_s, serial_s, epochs):
        for _ in range(epochs):
            p = chooser.next()
            chooser.record(p, parallel_s if p else serial_s)
        return chooser.chosen

    slow_parallel = run(FasterKernel(probe_every=8), 2.0, 1.0, 20)
    assert slow_parallel[:2] == [True, False]
    assert [i for i, p in enumerate(slow_parallel) if p] == [0, 8, 16]  # the probes
    fast_parallel = run(FasterKernel(probe_every=8), 1.0, 2.0, 20)
    assert [i for i, p in enumerate(fast_parallel) if not p] == [1, 8, 16]
    assert run(FasterKernel(parallel_ok=False), 1.0, 2.0, 5) == [False] * 5
    assert run(FasterKernel(adaptive=False), 2.0, 1.0, 5) == [True] * 5
    # the load moves: the last time of each counts
    c = FasterKernel(probe_every=4)
    for s in (1.0, 2.0, 1.0, 1.0):  # parallel, serial, parallel, parallel
        c.record(c.next(), s)
    assert c.chosen == [True, False, True, True]
    c.record(c.next(), 0.5)          # epoch 4: the probe of the serial kernel, now faster
    assert c.chosen[-1] is False and c.next() is False


def test_strata_default_picks_threads_per_epoch_without_changing_the_result(monkeypatch,
                                                                           tmp_path):
    import recsys.models.mf as mf

    ds = generate(60, 40, 2000, seed=4)
    kw = dict(n_factors=8, n_epochs=10, n_strata=3, seed=1)
    monkeypatch.setattr(mf, "_STRATA_MIN_WORK", 0)
    monkeypatch.setattr(mf, "free_cores", lambda: 2)
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    auto = FunkSVD(**kw).fit(ds)
    fixed = FunkSVD(**kw, n_threads=1).fit(ds)
    assert len(auto.epoch_threads_) == 10 and set(auto.epoch_threads_) <= {1, threads}
    if threads > 1:
        assert auto.epoch_threads_[:2] == [threads, 1]  # both measured first
    assert fixed.epoch_threads_ == [1] * 10
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(auto, name), getattr(fixed, name))
    assert FunkSVD(**kw, n_threads=threads).fit(ds).epoch_threads_ == [threads] * 10
    assert FunkSVD(**kw, parallel=False).fit(ds).epoch_threads_ == [1] * 10
    auto.save(tmp_path / "m.npz")
    assert FunkSVD.load(tmp_path / "m.npz").epoch_threads_ == auto.epoch_threads_
