"""Synthetic generator: exact counts, no repeated pairs, determinism, power law, CSV export."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.data import load_movielens
from recsys.data.synthetic import (
    _alias_table, _sample_items_kernel, _user_counts, generate, to_movielens_csv,
)


@st.composite
def _shapes(draw):
    n_users = draw(st.integers(1, 60))
    n_items = draw(st.integers(1, 80))
    n_ratings = draw(st.integers(0, n_users * n_items))
    return n_users, n_items, n_ratings


@settings(deadline=None, max_examples=60)
@given(shape=_shapes(), seed=st.integers(0, 2**32 - 1),
       item_exponent=st.sampled_from([0.0, 0.7, 1.0, 2.0]),
       user_exponent=st.sampled_from([0.0, 1.0, 1.5]),
       step=st.sampled_from([0.0, 0.5, 1.0]))
def test_counts_unique_in_range_deterministic(shape, seed, item_exponent, user_exponent,
                                              step):
    n_users, n_items, n_ratings = shape
    kw = dict(item_exponent=item_exponent, user_exponent=user_exponent, rating_step=step,
              rating_scale=(0.5, 5.0), seed=seed)
    ds = generate(n_users, n_items, n_ratings, **kw)
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (n_users, n_items, n_ratings)
    key = ds.users.astype(np.int64) * n_items + ds.items
    assert len(np.unique(key)) == n_ratings                      # no repeated pair
    if n_ratings:
        assert 0 <= ds.users.min() and ds.users.max() < n_users
        assert 0 <= ds.items.min() and ds.items.max() < n_items
        assert ds.ratings.min() >= 0.5 and ds.ratings.max() <= 5.0
        if step:
            k = (ds.ratings - 0.5) / step
            assert np.allclose(k, np.round(k), atol=1e-4)
    assert ds.csr.nnz == n_ratings                               # the CSR accepts it
    again = generate(n_users, n_items, n_ratings, **kw)
    assert np.array_equal(ds.users, again.users) and np.array_equal(ds.items, again.items)
    assert np.array_equal(ds.ratings, again.ratings)
    assert np.array_equal(ds.timestamps, again.timestamps)


@settings(deadline=None, max_examples=40)
@given(n_items=st.integers(1, 200), exponent=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
       seed=st.integers(0, 1000))
def test_user_counts_exact_and_capped(n_items, exponent, seed):
    rng = np.random.default_rng(seed)
    n_users = int(rng.integers(1, 50))
    n_ratings = int(rng.integers(0, n_users * n_items + 1))
    w = 1.0 / np.arange(1, n_users + 1) ** exponent
    counts = _user_counts(n_ratings, n_items, w / w.sum())
    assert counts.sum() == n_ratings
    assert counts.min() >= 0 and counts.max() <= n_items
    # more weight never means fewer ratings (up to the rounding of one)
    assert np.all(np.diff(counts) <= 1)


@settings(deadline=None, max_examples=30)
@given(n_items=st.integers(1, 300), seed=st.integers(0, 1000))
def test_alias_table_matches_probabilities(n_items, seed):
    # Oracle: the probability of item i under the alias table, summed exactly.
    rng = np.random.default_rng(seed)
    p = rng.random(n_items) ** 3 + 1e-6
    p /= p.sum()
    prob, alias = _alias_table(p)
    implied = prob / n_items
    np.add.at(implied, alias, (1 - prob) / n_items)
    assert np.allclose(implied, p, atol=1e-9)


@settings(deadline=None, max_examples=30)
@given(n_users=st.integers(1, 30), n_items=st.integers(1, 60), seed=st.integers(0, 10**6))
def test_kernel_distinct_sorted_items(n_users, n_items, seed):
    # Oracle: plain NumPy checks of every user's slice.
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, n_items + 1, size=n_users)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    p = 1.0 / np.arange(1, n_items + 1) ** 1.2
    p /= p.sum()
    prob, alias = _alias_table(p)
    out = np.full(offsets[-1], -1, dtype=np.int32)
    _sample_items_kernel(counts.astype(np.int64), offsets, prob, alias.astype(np.int32),
                         np.log(p), seed, out)
    for u in range(n_users):
        part = out[offsets[u]:offsets[u + 1]]
        assert len(part) == counts[u]
        assert np.array_equal(part, np.unique(part))             # distinct and sorted
        assert part.min(initial=0) >= 0 and part.max(initial=0) < n_items


@nb.njit
def _numba_global_draw(seed):
    # Seeds Numba's global generator (the state the sampler must not read or move) and draws.
    if seed >= 0:
        np.random.seed(seed)
    return np.random.random()


def test_kernel_seed_alone_fixes_the_items_and_global_state_is_untouched():
    n_users, n_items = 40, 90
    counts = np.random.default_rng(1).integers(0, n_items + 1, size=n_users).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    p = 1.0 / np.arange(1, n_items + 1) ** 1.1
    p /= p.sum()
    prob, alias = _alias_table(p)
    runs = []
    for global_seed in (0, 12345):
        _numba_global_draw(global_seed)          # whatever Numba's global state is ...
        out = np.empty(offsets[-1], dtype=np.int32)
        _sample_items_kernel(counts, offsets, prob, alias.astype(np.int32), np.log(p), 99,
                             out)
        runs.append(out)
        # ... the sampler neither reads nor advances it.
        after = _numba_global_draw(-1)
        assert after == _expected_second_draw(global_seed)
    np.testing.assert_array_equal(runs[0], runs[1])  # same seed, same items
    other = np.empty(offsets[-1], dtype=np.int32)
    _sample_items_kernel(counts, offsets, prob, alias.astype(np.int32), np.log(p), 100, other)
    assert not np.array_equal(runs[0], other)


def _expected_second_draw(global_seed):
    _numba_global_draw(global_seed)
    return _numba_global_draw(-1)


def test_generate_same_seed_same_data_whatever_the_global_random_state():
    np.random.seed(5)
    _numba_global_draw(5)
    a = generate(70, 50, 900, seed=11)
    np.random.seed(6)
    _numba_global_draw(6)
    b = generate(70, 50, 900, seed=11)
    for name in ("users", "items", "ratings", "timestamps"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = generate(70, 50, 900, seed=np.random.default_rng(11))
    np.testing.assert_array_equal(a.items, c.items)


def test_kernel_follows_popularity():
    # Light users: item i is drawn in proportion to p_i; compare inclusion counts with
    # the exact without-replacement expectation from NumPy's own sampler.
    n_users, n_items, k = 4000, 50, 3
    p = 1.0 / np.arange(1, n_items + 1)
    p /= p.sum()
    prob, alias = _alias_table(p)
    counts = np.full(n_users, k, dtype=np.int64)
    offsets = np.arange(n_users + 1, dtype=np.int64) * k
    out = np.empty(n_users * k, dtype=np.int32)
    _sample_items_kernel(counts, offsets, prob, alias.astype(np.int32), np.log(p), 7, out)
    ours = np.bincount(out, minlength=n_items) / n_users
    rng = np.random.default_rng(7)
    ref = np.bincount(np.concatenate([rng.choice(n_items, k, replace=False, p=p)
                                      for _ in range(n_users)]), minlength=n_items) / n_users
    assert np.abs(ours - ref).max() < 0.05
    assert ours[0] > 0.4 and ours[-10:].mean() < 0.06


def test_power_law_and_signal():
    ds = generate(2000, 1000, 60_000, seed=3, noise=0.3)
    ic = np.sort(ds.item_counts)[::-1]
    uc = np.sort(ds.user_counts)[::-1]
    assert ic[:200].sum() > 0.5 * ds.n_ratings                   # 20% of items, > half
    assert uc[:400].sum() > 0.5 * ds.n_ratings
    assert len(np.unique(ds.ratings)) == 9                       # 1, 1.5, ..., 5
    flat = generate(2000, 1000, 60_000, seed=3, item_exponent=0.0, user_exponent=0.0)
    assert np.sort(flat.item_counts)[::-1][:200].sum() < 0.3 * flat.n_ratings
    # the user biases carry signal: user means spread well beyond what noise alone gives
    assert ds.user_means[ds.user_counts >= 20].std() > 0.2


def test_different_seeds_differ_and_errors():
    a, b = generate(50, 40, 500, seed=1), generate(50, 40, 500, seed=2)
    assert not np.array_equal(a.items, b.items)
    with pytest.raises(ValueError, match="exceeds"):
        generate(3, 3, 10)
    with pytest.raises(ValueError, match="rating_scale"):
        generate(3, 3, 1, rating_scale=(5, 1))


# A 5,000-rating file named ml-25m is expected to differ from the published release.
@pytest.mark.filterwarnings("ignore::recsys.data.releases.ReleaseMismatchWarning")
def test_to_movielens_csv_round_trip(tmp_path):
    ds = generate(300, 200, 5_000, seed=0)
    path = to_movielens_csv(ds, tmp_path / "ml-25m")
    assert path.name == "ratings.csv"
    assert path.read_text().splitlines()[:2][0] == "userId,movieId,rating,timestamp"
    back = load_movielens("ml-25m", data_dir=tmp_path / "ml-25m").ratings
    assert np.array_equal(back["user"].to_numpy(), ds.user_ids[ds.users])
    assert np.array_equal(back["item"].to_numpy(), ds.item_ids[ds.items])
    assert np.array_equal(back["rating"].to_numpy(), ds.ratings)
    assert np.array_equal(back["timestamp"].to_numpy(), ds.timestamps)
    assert ",3.5," in path.read_text() or ",4.0," in path.read_text()


def test_generate_from_options_parses_like_the_cli():
    from recsys.data.synthetic import generate_from_options

    ds = generate_from_options(["n_users=30", "n_items=1_000", "n_ratings=200", "seed=7",
                                "rating_scale=0.5,5", "noise=0.2", "name=tiny"])
    want = generate(30, 1000, 200, seed=7, rating_scale=(0.5, 5.0), noise=0.2)
    assert np.array_equal(ds.ratings, want.ratings) and ds.name == "tiny"
    assert ds.rating_scale == (0.5, 5.0)
    same = generate_from_options({"n_users": 30, "n_items": 1000, "n_ratings": 200,
                                  "seed": 7, "rating_scale": (0.5, 5.0), "noise": 0.2})
    assert np.array_equal(same.items, ds.items)
    for bad, message in ((["n_users=3", "n_items=3"], "needs n_ratings"),
                         (["n_users"], "expected KEY=VALUE"),
                         (["users=3"], "no such parameter"),
                         (["n_users=three", "n_items=3", "n_ratings=1"], "not a number"),
                         (["rating_scale=1", "n_users=3", "n_items=3", "n_ratings=1"],
                          "expected LO,HI")):
        with pytest.raises(ValueError, match=message):
            generate_from_options(bad)


def test_no_timestamps_leaves_every_other_array_unchanged():
    with_times = generate(50, 30, 400, seed=9)
    without = generate(50, 30, 400, seed=9, timestamps=False)
    for name in ("users", "items", "ratings"):
        assert np.array_equal(getattr(with_times, name), getattr(without, name))
    assert not without.timestamps.any() and with_times.timestamps.min() > 0
