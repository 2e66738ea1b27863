"""The SGD kernels against slow, obviously-correct NumPy loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from recsys.kernels.sgd import (mf_epoch, mf_epoch_hogwild, mf_epoch_strata,
                                mf_epoch_strata_serial, shuffle,
                                shuffle_blocks, shuffle_shards, stratify)
from recsys.kernels.splitmix import stream_seed
from recsys.threads import numba_threads


def reference_epoch(users, items, ratings, order, mu, P, Q, bu, bi, lr_b, lr_f, reg_b, reg_f,
                    update_bias):
    """Surprise's SVD inner loop in float64, one rating at a time."""
    P, Q, bu, bi = (np.array(a, dtype=np.float64) for a in (P, Q, bu, bi))
    loss = 0.0
    for t in order:
        u, i, r = users[t], items[t], float(ratings[t])
        err = r - (mu + bu[u] + bi[i] + P[u] @ Q[i])
        loss += err * err
        if update_bias:
            bu[u] += lr_b * (err - reg_b * bu[u])
            bi[i] += lr_b * (err - reg_b * bi[i])
        pu = P[u].copy()
        P[u] += lr_f * (err * Q[i] - reg_f * pu)
        Q[i] += lr_f * (err * pu - reg_f * Q[i])
    return P, Q, bu, bi, loss


def problem(seed, n_users, n_items, n_ratings, k, dtype):
    """Random ratings (repeats allowed, so neighbours often share a user or an item)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_ratings).astype(np.int32)
    items = rng.integers(0, n_items, n_ratings).astype(np.int32)
    ratings = rng.integers(1, 6, n_ratings).astype(dtype)
    P = rng.normal(0, 0.3, (n_users, k)).astype(dtype)
    Q = rng.normal(0, 0.3, (n_items, k)).astype(dtype)
    bu = rng.normal(0, 0.2, n_users).astype(dtype)
    bi = rng.normal(0, 0.2, n_items).astype(dtype)
    return users, items, ratings, P, Q, bu, bi, rng


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**31), n_users=st.integers(1, 9), n_items=st.integers(1, 9),
       n_ratings=st.integers(0, 120), k=st.integers(1, 37),
       dtype=st.sampled_from([np.float32, np.float64]), update_bias=st.booleans(),
       lr=st.floats(0.001, 0.05), reg=st.floats(0.0, 0.5))
def test_mf_epoch_equals_reference_loop(seed, n_users, n_items, n_ratings, k, dtype,
                                        update_bias, lr, reg):
    users, items, ratings, P, Q, bu, bi, rng = problem(seed, n_users, n_items, n_ratings, k,
                                                       dtype)
    # int32 orders with float32 (what the model passes), int64 with float64 (> 2**31 ratings).
    order = rng.permutation(n_ratings).astype(np.int32 if dtype == np.float32 else np.int64)
    mu = 3.3
    ref = reference_epoch(users, items, ratings, order, mu, P, Q, bu, bi, lr, 2 * lr, reg,
                          reg / 2, update_bias)
    c = dtype  # scalars in the arrays' dtype, as the model passes them
    loss = mf_epoch(users, items, ratings, order, 0, n_ratings, c(mu), P, Q, bu, bi, c(lr),
                    c(2 * lr), c(reg), c(reg / 2), update_bias)
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for got, want in zip((P, Q, bu, bi), ref[:4]):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert loss == pytest.approx(ref[4], rel=tol, abs=tol)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31), n_ratings=st.integers(0, 60), start=st.integers(0, 60),
       stop=st.integers(0, 60))
def test_mf_epoch_visits_only_its_slice(seed, n_ratings, start, stop):
    users, items, ratings, P, Q, bu, bi, rng = problem(seed, 4, 5, n_ratings, 6, np.float64)
    order = rng.permutation(n_ratings)
    start, stop = min(start, n_ratings), min(stop, n_ratings)
    ref = reference_epoch(users, items, ratings, order[start:stop], 3.0, P, Q, bu, bi, 0.01,
                          0.01, 0.02, 0.02, True)
    mf_epoch(users, items, ratings, order, start, stop, 3.0, P, Q, bu, bi, 0.01, 0.01, 0.02,
             0.02, True)
    for got, want in zip((P, Q, bu, bi), ref[:4]):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_mf_epoch_with_repeated_and_alternating_rows():
    # Explicit cases for the pairing of neighbours: same user, same item, both, neither.
    users = np.array([0, 0, 1, 1, 2, 0, 2, 2, 3, 3], dtype=np.int32)
    items = np.array([0, 1, 1, 1, 2, 2, 0, 3, 0, 3], dtype=np.int32)
    ratings = np.linspace(1, 5, 10)
    rng = np.random.default_rng(0)
    P, Q = rng.normal(0, 0.3, (4, 8)), rng.normal(0, 0.3, (4, 8))
    bu, bi = np.zeros(4), np.zeros(4)
    for order in (np.arange(10), np.arange(10)[::-1].copy(), np.array([0] * 5 + [9] * 5)):
        ref = reference_epoch(users, items, ratings, order, 3.0, P, Q, bu, bi, 0.05, 0.05,
                              0.1, 0.1, True)
        p, q, b_u, b_i = P.copy(), Q.copy(), bu.copy(), bi.copy()
        mf_epoch(users, items, ratings, order, 0, len(order), 3.0, p, q, b_u, b_i, 0.05,
                 0.05, 0.1, 0.1, True)
        for got, want in zip((p, q, b_u, b_i), ref[:4]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**31), n_ratings=st.integers(0, 200),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_hogwild_with_one_shard_is_the_serial_epoch(seed, n_ratings, dtype):
    users, items, ratings, P, Q, bu, bi, rng = problem(seed, 7, 11, n_ratings, 16, dtype)
    order = rng.permutation(n_ratings).astype(np.int32)
    c = dtype
    args = (c(3.5),)
    serial = [a.copy() for a in (P, Q, bu, bi)]
    loss_s = mf_epoch(users, items, ratings, order, 0, n_ratings, *args, *serial, c(0.01),
                      c(0.01), c(0.05), c(0.05), True)
    loss_h = mf_epoch_hogwild(users, items, ratings, order, 1, *args, P, Q, bu, bi, c(0.01),
                              c(0.01), c(0.05), c(0.05), True)
    for got, want in zip((P, Q, bu, bi), serial):
        np.testing.assert_array_equal(got, want)
    assert loss_h == loss_s


def test_hogwild_shards_cover_every_rating_once():
    # With lr = 0 nothing moves, so the summed loss is exactly the loss of every rating in
    # order, whatever the shard count and timing.
    users, items, ratings, P, Q, bu, bi, rng = problem(1, 30, 40, 1001, 8, np.float64)
    order = rng.permutation(1001).astype(np.int32)
    ref = reference_epoch(users, items, ratings, order, 3.0, P, Q, bu, bi, 0.0, 0.0, 0.0,
                          0.0, True)[4]
    for shards in (1, 2, 3, 7):
        loss = mf_epoch_hogwild(users, items, ratings, order, shards, 3.0, P, Q, bu, bi, 0.0,
                                0.0, 0.0, 0.0, True)
        assert loss == pytest.approx(ref, rel=1e-12)


def test_shuffle_depends_on_the_seed():
    a, b = np.arange(1000), np.arange(1000)
    shuffle(a, 1)
    shuffle(b, 2)
    assert not np.array_equal(a, b)
    c = np.arange(1000)
    shuffle(c, 1)
    np.testing.assert_array_equal(a, c)


def test_one_rating_many_epochs_fits_it():
    # A single rating with no regularization is fit exactly.
    users = np.zeros(1, np.int32)
    items = np.zeros(1, np.int32)
    ratings = np.array([4.5])
    P, Q = np.full((1, 3), 0.1), np.full((1, 3), 0.1)
    bu, bi = np.zeros(1), np.zeros(1)
    order = np.zeros(1, np.int64)
    for _ in range(500):
        mf_epoch(users, items, ratings, order, 0, 1, 3.0, P, Q, bu, bi, 0.05, 0.05, 0.0, 0.0,
                 True)
    assert 3.0 + bu[0] + bi[0] + P[0] @ Q[0] == pytest.approx(4.5, abs=1e-6)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**63 - 1), n=st.integers(0, 200), shards=st.integers(1, 5))
def test_shuffle_shards_permutes_within_shards(seed, n, shards):
    order = np.random.default_rng(0).permutation(n).astype(np.int32)
    before = order.copy()
    shuffle_shards(order, shards, seed)
    for s in range(shards):
        lo, hi = s * n // shards, (s + 1) * n // shards
        np.testing.assert_array_equal(np.sort(order[lo:hi]), np.sort(before[lo:hi]))
        one = before[lo:hi].copy()
        shuffle(one, np.uint64(stream_seed(seed, s)))
        np.testing.assert_array_equal(order[lo:hi], one)


def reference_stratify(users, items, user_group, item_group, g):
    """Blocks by a stable sort on (stratum, user group); offsets by counting."""
    b = user_group[users]
    key = ((item_group[items] - b) % g) * g + b
    order = np.argsort(key, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(key, minlength=g * g))])
    return order, offsets


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**31), n_users=st.integers(1, 12), n_items=st.integers(1, 12),
       n_ratings=st.integers(0, 150), g=st.integers(1, 5))
def test_stratify_equals_a_stable_sort_by_block(seed, n_users, n_items, n_ratings, g):
    users, items, *_, rng = problem(seed, n_users, n_items, n_ratings, 1, np.float32)
    user_group = rng.integers(0, g, n_users)
    item_group = rng.integers(0, g, n_items)
    order = np.empty(n_ratings, dtype=np.int32)
    offsets = stratify(users, items, user_group, item_group, g, order)
    want_order, want_offsets = reference_stratify(users, items, user_group, item_group, g)
    np.testing.assert_array_equal(order, want_order)
    np.testing.assert_array_equal(offsets, want_offsets)
    # The blocks of one stratum share no user group and no item group.
    for s in range(g):
        blocks = [order[offsets[s * g + b]:offsets[s * g + b + 1]] for b in range(g)]
        for b, block in enumerate(blocks):
            assert set(user_group[users[block]]) <= {b}
            assert set(item_group[items[block]]) <= {(b + s) % g}


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31), n_users=st.integers(1, 15), n_items=st.integers(1, 15),
       n_ratings=st.integers(0, 200), k=st.integers(1, 20), g=st.integers(1, 4),
       dtype=st.sampled_from([np.float32, np.float64]), threads=st.sampled_from([1, 2]),
       reshuffle=st.booleans())
def test_strata_epoch_is_the_serial_epoch_over_the_blocks_in_order(
        seed, n_users, n_items, n_ratings, k, g, dtype, threads, reshuffle):
    users, items, ratings, P, Q, bu, bi, rng = problem(seed, n_users, n_items, n_ratings, k,
                                                       dtype)
    order = np.empty(n_ratings, dtype=np.int32)
    offsets = stratify(users, items, rng.integers(0, g, n_users), rng.integers(0, g, n_items),
                       g, order)
    shuffled = order.copy()
    if reshuffle:
        shuffle_blocks(shuffled, offsets, seed)  # what the epoch does to each block first
    strata = rng.permutation(g).astype(np.int64)
    walk = np.concatenate([shuffled[offsets[s * g]:offsets[(s + 1) * g]] for s in strata]
                          ).astype(np.int32)
    c = dtype
    hyper = (c(0.02), c(0.03), c(0.05), c(0.1), True)
    serial = [a.copy() for a in (P, Q, bu, bi)]
    loss_s = mf_epoch(users, items, ratings, walk, 0, n_ratings, c(3.2), *serial, *hyper)
    start = [a.copy() for a in (P, Q, bu, bi)]
    order0 = order.copy()
    with numba_threads(threads):
        loss = mf_epoch_strata(users, items, ratings, order, offsets, strata, reshuffle, seed,
                               c(3.2), P, Q, bu, bi, *hyper)
    np.testing.assert_array_equal(order, shuffled)
    for got, want in zip((P, Q, bu, bi), serial):
        np.testing.assert_array_equal(got, want)  # bit for bit, whatever the threads
    assert loss == pytest.approx(loss_s, rel=1e-9, abs=1e-12)
    # the one-thread variant without a parallel region: the same, bit for bit
    loss_1 = mf_epoch_strata_serial(users, items, ratings, order0, offsets, strata, reshuffle,
                                    seed, c(3.2), *start, *hyper)
    np.testing.assert_array_equal(order0, shuffled)
    for got, want in zip(start, (P, Q, bu, bi)):
        np.testing.assert_array_equal(got, want)
    assert loss_1 == loss
    # (mf_epoch itself is checked against reference_epoch above.)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**63 - 1), sizes=st.lists(st.integers(0, 40), max_size=6))
def test_shuffle_blocks_permutes_within_blocks(seed, sizes):
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    before = np.random.default_rng(0).permutation(int(offsets[-1])).astype(np.int32)
    order = before.copy()
    shuffle_blocks(order, offsets, seed)
    for j in range(len(sizes)):
        lo, hi = offsets[j], offsets[j + 1]
        np.testing.assert_array_equal(np.sort(order[lo:hi]), np.sort(before[lo:hi]))
        one = before[lo:hi].copy()
        shuffle(one, np.uint64(stream_seed(seed, j)))
        np.testing.assert_array_equal(order[lo:hi], one)
    again = before.copy()
    with numba_threads(1):
        shuffle_blocks(again, offsets, seed)
    np.testing.assert_array_equal(again, order)
