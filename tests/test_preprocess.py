"""Preprocessing: compact, one-pass filter, k-core, centering, binarization, against references."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from recsys.dataset import Dataset
from recsys.preprocess import binarize, center, compact, filter_min_ratings, k_core


def random_dataset(seed: int, n_users: int, n_items: int, density: float,
                   half_stars: bool = False) -> Dataset:
    """Random ratings on distinct (user, item) pairs; some users/items have none."""
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    order = rng.permutation(len(users))
    users, items = users[order], items[order]
    step = 0.5 if half_stars else 1.0
    lo = 0.5 if half_stars else 1.0
    ratings = lo + step * rng.integers(0, int((5 - lo) / step) + 1, len(users))
    timestamps = rng.integers(0, 50, len(users))
    info = pd.DataFrame({"title": [f"t{j}" for j in range(n_items)]},
                        index=np.arange(n_items) * 7 + 1)
    return Dataset(users, items, ratings, timestamps, np.arange(n_users) * 3 + 100,
                   np.arange(n_items) * 7 + 1, (lo, 5.0), item_info=info, name="random")


def raw_triples(ds: Dataset) -> list[tuple]:
    frame = ds.to_frame()
    return list(zip(frame["user"].tolist(), frame["item"].tolist(), frame["rating"].tolist(),
                    frame["timestamp"].tolist()))


def kcore_reference(triples, min_user, min_item):
    """Slow, obviously correct: drop offending ratings until nothing changes."""
    kept = list(triples)
    while True:
        user_count = Counter(t[0] for t in kept)
        item_count = Counter(t[1] for t in kept)
        nxt = [t for t in kept if user_count[t[0]] >= min_user and item_count[t[1]] >= min_item]
        if len(nxt) == len(kept):
            return kept
        kept = nxt


def assert_compact(ds: Dataset):
    assert (ds.user_counts > 0).all()
    assert (ds.item_counts > 0).all()


sizes = dict(seed=st.integers(0, 2**32 - 1), n_users=st.integers(1, 25),
             n_items=st.integers(1, 25), density=st.floats(0.0, 0.7))


# ---------------------------------------------------------------------- compact
@settings(deadline=None, max_examples=40)
@given(**sizes)
def test_compact_keeps_every_rating_and_drops_unrated(seed, n_users, n_items, density):
    ds = random_dataset(seed, n_users, n_items, density)
    out = compact(ds)
    assert raw_triples(out) == raw_triples(ds)
    assert_compact(out)
    assert out.n_users == len(set(ds.users.tolist()))
    assert out.n_items == len(set(ds.items.tolist()))
    # Raw ids keep their order, and the metadata is carried over whole.
    assert list(out.user_ids) == sorted(set(ds.user_ids[ds.users].tolist()))
    assert list(out.item_ids) == sorted(set(ds.item_ids[ds.items].tolist()))
    assert out.item_info is ds.item_info
    assert out.name == ds.name and out.rating_scale == ds.rating_scale


def test_compact_of_compact_data_is_identity():
    ds = compact(random_dataset(0, 10, 10, 0.5))
    assert compact(ds) is ds


def test_compact_of_empty_dataset():
    ds = random_dataset(0, 4, 4, 0.0)
    out = compact(ds)
    assert out.n_users == out.n_items == out.n_ratings == 0


# ---------------------------------------------------------------------- filters
@settings(deadline=None, max_examples=40)
@given(**sizes, min_user=st.integers(0, 6), min_item=st.integers(0, 6))
def test_filter_min_ratings_is_one_pass(seed, n_users, n_items, density, min_user, min_item):
    ds = random_dataset(seed, n_users, n_items, density)
    triples = raw_triples(ds)
    user_count = Counter(t[0] for t in triples)
    item_count = Counter(t[1] for t in triples)
    expected = [t for t in triples if user_count[t[0]] >= min_user
                and item_count[t[1]] >= min_item]
    out = filter_min_ratings(ds, min_user, min_item)
    assert raw_triples(out) == expected
    assert_compact(out)


@settings(deadline=None, max_examples=60)
@given(**sizes, min_user=st.integers(0, 8), min_item=st.integers(0, 8))
def test_k_core_equals_reference_and_is_a_fixed_point(seed, n_users, n_items, density,
                                                       min_user, min_item):
    ds = random_dataset(seed, n_users, n_items, density)
    out = k_core(ds, min_user, min_item)
    assert raw_triples(out) == kcore_reference(raw_triples(ds), min_user, min_item)
    assert_compact(out)
    if out.n_ratings:
        assert out.user_counts.min() >= min_user
        assert out.item_counts.min() >= min_item
    # A fixed point: filtering again changes nothing.
    again = k_core(out, min_user, min_item)
    assert raw_triples(again) == raw_triples(out)
    assert np.array_equal(again.user_ids, out.user_ids)


def test_k_core_small_example_by_hand():
    # User 10 rated items 5, 6, 7; user 11 rated item 5; user 12 rated items 5, 6.
    users = [0, 0, 0, 1, 2, 2]
    items = [0, 1, 2, 0, 0, 1]
    ds = Dataset(users, items, np.ones(6), None, np.array([10, 11, 12]), np.array([5, 6, 7]))
    # (2, 2)-core: user 11 and item 7 go; the rest is a 2x2 block.
    out = k_core(ds, 2, 2)
    assert list(out.user_ids) == [10, 12]
    assert list(out.item_ids) == [5, 6]
    assert out.n_ratings == 4
    # One pass keeps user 10's ratings on items 5 and 6, but then user 10 has only 2 < 3:
    # the fixed point of (3, 2) is empty.
    assert filter_min_ratings(ds, 3, 2).n_ratings == 2
    assert k_core(ds, 3, 2).n_ratings == 0
    assert k_core(ds, 3, 1).n_ratings == 3


def test_k_core_max_iter_is_reported():
    # A chain that unravels one rating per pass: user i rated items i and i+1.
    n = 6
    users = np.repeat(np.arange(n), 2)[1:]
    items = (np.arange(2 * n) // 2 + np.arange(2 * n) % 2)[1:]
    ds = Dataset(users, items, np.ones(len(users)), None, np.arange(n), np.arange(n + 1))
    with pytest.raises(RuntimeError, match="max_iter=1"):
        k_core(ds, 2, 2, max_iter=1)
    assert k_core(ds, 2, 2).n_ratings == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_filters_reject_bad_thresholds(bad):
    ds = random_dataset(0, 5, 5, 0.5)
    with pytest.raises(ValueError, match="min_user_ratings"):
        k_core(ds, bad, 1)
    with pytest.raises(ValueError, match="min_item_ratings"):
        filter_min_ratings(ds, 1, bad)


# ---------------------------------------------------------------------- centering
@settings(deadline=None, max_examples=40)
@given(**sizes, by=st.sampled_from(["user", "item"]), half=st.booleans())
def test_center_against_reference(seed, n_users, n_items, density, by, half):
    ds = random_dataset(seed, n_users, n_items, density, half_stars=half)
    out, means = center(ds, by=by)
    keys = ds.users if by == "user" else ds.items
    n = ds.n_users if by == "user" else ds.n_items
    global_mean = (float(np.mean(ds.ratings.astype(np.float64))) if ds.n_ratings
                   else sum(ds.rating_scale) / 2)
    expected_means = []
    for k in range(n):
        mine = [float(r) for key, r in zip(keys, ds.ratings) if key == k]
        expected_means.append(sum(mine) / len(mine) if mine else global_mean)
    assert means.dtype == np.float64 and means.shape == (n,)
    np.testing.assert_allclose(means, expected_means, rtol=1e-12, atol=1e-12)
    expected = [float(r) - expected_means[k] for k, r in zip(keys, ds.ratings)]
    np.testing.assert_allclose(out.ratings, expected, atol=1e-6)
    assert out.same_mapping(ds)
    assert np.array_equal(out.users, ds.users) and np.array_equal(out.items, ds.items)
    lo, hi = ds.rating_scale
    assert out.rating_scale == (lo - hi, hi - lo)
    # Undoing the centering gives the ratings back.
    np.testing.assert_allclose(out.ratings + means[keys], ds.ratings, atol=1e-5)


def test_center_zero_means_per_user():
    ds = random_dataset(3, 20, 30, 0.4)
    out, _ = center(ds, "user")
    sums = np.bincount(out.users, weights=out.ratings, minlength=out.n_users)
    np.testing.assert_allclose(sums, 0.0, atol=1e-4)


def test_center_rejects_unknown_axis():
    with pytest.raises(ValueError, match="'user' or 'item'"):
        center(random_dataset(0, 3, 3, 0.5), by="users")


# ---------------------------------------------------------------------- binarization
@settings(deadline=None, max_examples=40)
@given(**sizes, threshold=st.sampled_from([0.5, 1.0, 3.0, 3.5, 4.0, 5.0, 5.5]))
def test_binarize_against_reference(seed, n_users, n_items, density, threshold):
    ds = random_dataset(seed, n_users, n_items, density, half_stars=True)
    out = binarize(ds, threshold)
    expected = [(u, i, 1.0, t) for (u, i, r, t) in raw_triples(ds) if r >= threshold]
    assert raw_triples(out) == expected
    assert out.same_mapping(ds)
    assert out.rating_scale == (0.0, 1.0)
    assert out.ratings.dtype == np.float32


def test_binarize_threshold_is_inclusive_and_checked():
    ds = Dataset([0, 0, 1], [0, 1, 1], [3.5, 3.4, 4.0], None, [1, 2], [1, 2])
    assert binarize(ds, 3.5).n_ratings == 2
    with pytest.raises(ValueError, match="finite"):
        binarize(ds, float("nan"))
