"""timeSVD++ kernels against slow plain-Python references (hypothesis draws sizes and seeds;
NumPy builds the data)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.timesvdpp import (TERMS, day_biases, day_bins, deviations,
                                      timesvdpp_epoch, timesvdpp_predict, user_day_table)


# ---------------------------------------------------------------------- data and references
def random_problem(seed, n_users, n_items, k, density, n_days, n_bins, drift=True,
                   dtype=np.float64):
    """CSR ratings by user with days, every parameter random, and a visiting order."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    _, items = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    nnz = len(items)
    days = rng.integers(0, n_days, size=nnz).astype(np.int64)
    rows = np.repeat(np.arange(n_users), np.diff(indptr))
    counts = np.maximum(np.diff(indptr), 1)
    means = np.bincount(rows, weights=days, minlength=n_users) / counts
    beta = float(rng.uniform(0.1, 1.0))
    table_indptr, table_days, slots = user_day_table(indptr, days)
    csr = (indptr, items.astype(np.int32), rng.integers(1, 6, size=nnz).astype(dtype),
           day_bins(days, n_bins, n_days), slots,
           deviations(days, means[rows], beta).astype(dtype))
    biases = (rng.normal(0, 0.2, n_users), rng.normal(0, 0.2, n_items),
              rng.normal(0, 0.1, n_users), rng.normal(0, 0.1, (n_items, n_bins)),
              rng.normal(0, 0.1, len(table_days)))
    factors = (rng.normal(0, 0.3, (n_users, k)), rng.normal(0, 0.3, (n_items, k)),
               rng.normal(0, 0.3, (n_items, k)),
               rng.normal(0, 0.1, (n_users, k if drift else 0)))
    biases = tuple(b.astype(dtype) for b in biases)
    factors = tuple(f.astype(dtype) for f in factors)
    user_order = rng.permutation(n_users).astype(np.int32)
    order = np.arange(nnz, dtype=np.int64)
    for u in range(n_users):
        lo, hi = indptr[u], indptr[u + 1]
        order[lo:hi] = lo + rng.permutation(hi - lo)
    rates = tuple(float(x) for x in rng.uniform(0.001, 0.05, len(TERMS)))
    regs = tuple(float(x) for x in rng.uniform(0.0, 0.2, len(TERMS)))
    mu = float(csr[2].mean()) if nnz else 3.0
    extra = dict(days=days, means=means, beta=beta, n_bins=n_bins, n_days=n_days,
                 table=(table_indptr, table_days))
    return csr, user_order, order, mu, biases, factors, rates, regs, extra


def literal_epoch(csr, user_order, order, mu, biases, factors, rates, regs):
    """The SGD step of every parameter, one rating at a time, as the equations read:
    z_u rebuilt from every y_j and every y_j updated at each rating."""
    indptr, indices, ratings, bins, slots, devs = csr
    bu, bi, al, bb, bd = biases
    P, Q, Y, A = factors
    lr = dict(zip(TERMS, rates))
    reg = dict(zip(TERMS, regs))
    drift = A.shape[1] == P.shape[1]
    sse = 0.0
    for u in user_order:
        lo, hi = indptr[u], indptr[u + 1]
        nu = indices[lo:hi]
        for t in range(lo, hi):
            p = order[t]
            i, b, s, dev = indices[p], bins[p], slots[p], devs[p]
            z = Y[nu].sum(axis=0) / np.sqrt(len(nu))
            pu_t = P[u] + z + (dev * A[u] if drift else 0.0)
            err = ratings[p] - (mu + bi[i] + bb[i, b] + bu[u] + al[u] * dev + bd[s]
                                + Q[i] @ pu_t)
            sse += err ** 2
            bu[u] += lr["user_bias"] * (err - reg["user_bias"] * bu[u])
            bi[i] += lr["item_bias"] * (err - reg["item_bias"] * bi[i])
            al[u] += lr["user_drift"] * (err * dev - reg["user_drift"] * al[u])
            bb[i, b] += lr["item_bin"] * (err - reg["item_bin"] * bb[i, b])
            bd[s] += lr["user_day"] * (err - reg["user_day"] * bd[s])
            pu, qi = P[u].copy(), Q[i].copy()
            P[u] += lr["factors"] * (err * qi - reg["factors"] * pu)
            if drift:
                A[u] += lr["factor_drift"] * (err * dev * qi - reg["factor_drift"] * A[u])
            Q[i] += lr["factors"] * (err * pu_t - reg["factors"] * qi)
            Y[nu] += lr["implicit"] * (err * qi / np.sqrt(len(nu)) - reg["implicit"] * Y[nu])
    return sse


def formula(users, items, days, mu, biases, factors, extra):
    """r_hat(u, i, t) term by term, with the table as a dict and the bins by their formula."""
    bu, bi, al, bb, bd = biases
    V, Q, A = factors
    table_indptr, table_days = extra["table"]
    lookup = {(u, int(table_days[s])): s for u in range(len(bu))
              for s in range(table_indptr[u], table_indptr[u + 1])}
    n_bins, n_days = extra["n_bins"], extra["n_days"]
    out = []
    for u, i, d in zip(users, items, days):
        s = mu
        dev = 0.0
        if u >= 0:
            delta = d - extra["means"][u]
            dev = np.sign(delta) * abs(delta) ** extra["beta"]
            s += bu[u] + al[u] * dev + (bd[lookup[(u, d)]] if (u, d) in lookup else 0.0)
        if i >= 0:
            s += bi[i] + bb[i, min(max(d * n_bins // n_days, 0), n_bins - 1)]
        if u >= 0 and i >= 0:
            s += Q[i] @ (V[u] + (dev * A[u] if A.shape[1] else 0.0))
        out.append(s)
    return np.array(out)


def copies(problem):
    csr, user_order, order, mu, biases, factors, rates, regs, _ = problem
    return (csr, user_order, order, mu, tuple(b.copy() for b in biases),
            tuple(f.copy() for f in factors), rates, regs)


sizes = dict(seed=st.integers(0, 2**32 - 1), n_users=st.integers(1, 6),
             n_items=st.integers(1, 7), k=st.integers(0, 4),
             density=st.sampled_from([0.0, 0.3, 0.7, 1.0]), n_days=st.integers(1, 40),
             n_bins=st.integers(1, 8), drift=st.booleans())


# ---------------------------------------------------------------------- training
@settings(deadline=None, max_examples=40)
@given(**sizes)
def test_epoch_matches_literal_per_rating_loop(seed, n_users, n_items, k, density, n_days,
                                               n_bins, drift):
    problem = random_problem(seed, n_users, n_items, k, density, n_days, n_bins, drift)
    got = copies(problem)
    ref = copies(problem)
    sse = timesvdpp_epoch(*got)
    ref_sse = literal_epoch(*ref)
    np.testing.assert_allclose(sse, ref_sse, rtol=1e-9, atol=1e-11)
    for name, a, b in zip(("bu", "bi", "alpha", "bin", "day"), got[4], ref[4]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=name)
    for name, a, b in zip(("p", "q", "y", "a"), got[5], ref[5]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=name)


def test_epoch_without_ratings_changes_nothing_and_float32_follows_float64():
    empty = random_problem(0, 3, 4, 2, 0.0, 5, 2)
    got = copies(empty)
    assert timesvdpp_epoch(*got) == 0.0
    for a, b in zip(got[4] + got[5], empty[4] + empty[5]):
        np.testing.assert_array_equal(a, b)
    p64 = random_problem(3, 6, 7, 3, 0.7, 30, 4)
    p32 = random_problem(3, 6, 7, 3, 0.7, 30, 4, dtype=np.float32)
    a, b = copies(p64), copies(p32)
    rates32 = tuple(np.float32(r) for r in p32[6])
    regs32 = tuple(np.float32(r) for r in p32[7])
    timesvdpp_epoch(*a)
    timesvdpp_epoch(*b[:3], np.float32(b[3]), b[4], b[5], rates32, regs32)
    for x, y in zip(a[4] + a[5], b[4] + b[5]):
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, x, rtol=1e-4, atol=1e-5)


def test_zero_learning_rate_freezes_its_term():
    problem = random_problem(5, 5, 6, 2, 1.0, 20, 3)
    csr, user_order, order, mu, biases, factors, rates, regs, _ = problem
    rates = tuple(0.0 if t in ("user_drift", "item_bin", "user_day") else r
                  for t, r in zip(TERMS, rates))
    got = copies((csr, user_order, order, mu, biases, factors, rates, regs, None))
    timesvdpp_epoch(*got)
    for j in (2, 3):
        np.testing.assert_array_equal(got[4][j], biases[j])
    # The day biases shrink by nothing and move by nothing either.
    np.testing.assert_array_equal(got[4][4], biases[4])
    assert not np.array_equal(got[4][0], biases[0])


# ---------------------------------------------------------------------- prediction
@settings(deadline=None, max_examples=40)
@given(**sizes)
def test_predict_matches_formula(seed, n_users, n_items, k, density, n_days, n_bins, drift):
    problem = random_problem(seed, n_users, n_items, k, density, n_days, n_bins, drift)
    _, _, _, mu, biases, factors, _, _, extra = problem
    rng = np.random.default_rng(seed + 1)
    n = 30
    users = rng.integers(-1, n_users, n).astype(np.int64)     # -1: unknown
    items = rng.integers(-1, n_items, n).astype(np.int64)
    days = rng.integers(-5, n_days + 5, n).astype(np.int64)   # outside the period too
    # Half the pairs on a day the user rated (a table hit).
    tp, td = extra["table"]
    for j in range(0, n, 2):
        u = users[j]
        if u >= 0 and tp[u + 1] > tp[u]:
            days[j] = td[rng.integers(tp[u], tp[u + 1])]
    vectors = (factors[0], factors[1], factors[3])
    out = np.empty(n)
    timesvdpp_predict(users, items, days, mu, biases, vectors, extra["table"],
                      (extra["means"], extra["beta"], n_bins, n_days), out)
    np.testing.assert_allclose(out, formula(users, items, days, mu, biases, vectors, extra),
                               rtol=1e-12, atol=1e-12)


def test_predict_unknown_sides_fall_back_exactly():
    _, _, _, mu, biases, factors, _, _, extra = random_problem(1, 3, 3, 2, 1.0, 10, 2)
    bu, bi, al, bb, bd = biases
    users = np.array([-1, -1, 0], dtype=np.int64)
    items = np.array([-1, 1, -1], dtype=np.int64)
    day = int(extra["table"][1][0])  # user 0's first training day
    out = np.empty(3)
    timesvdpp_predict(users, items, np.full(3, day, dtype=np.int64), mu, biases,
                      (factors[0], factors[1], factors[3]), extra["table"],
                      (extra["means"], extra["beta"], 2, 10), out)
    dev = deviations(np.array([day]), extra["means"][:1], extra["beta"])[0]
    assert out[0] == mu
    np.testing.assert_allclose(out[1], mu + bi[1] + bb[1, day * 2 // 10])
    np.testing.assert_allclose(out[2], mu + bu[0] + al[0] * dev + bd[0])


# ---------------------------------------------------------------------- time features
@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 50),
       beta=st.floats(0.0, 2.0))
def test_deviation_is_its_definition(seed, n, beta):
    rng = np.random.default_rng(seed)
    days = rng.integers(-300, 300, n).astype(np.int64)
    means = rng.uniform(-300, 300, n)
    means[: n // 3] = days[: n // 3]  # ties: dev = 0
    delta = days - means
    np.testing.assert_allclose(deviations(days, means, beta),
                               np.sign(delta) * np.abs(delta) ** beta, rtol=1e-12, atol=0)
    assert (deviations(days[: n // 3], means[: n // 3], beta) == 0).all()


def test_deviation_explicit_values():
    got = deviations(np.array([10, 0, 2, 5]), np.array([1.0, 1.0, 2.0, 5.5]), 0.5)
    np.testing.assert_allclose(got, [3.0, -1.0, 0.0, -np.sqrt(0.5)])


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(1, 8), n_days=st.integers(1, 9),
       density=st.sampled_from([0.0, 0.4, 1.0]))
def test_user_day_table_and_day_biases_match_a_dict(seed, n_users, n_days, density):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, n_users) * (rng.random(n_users) < density)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    days = rng.integers(0, n_days, indptr[-1]).astype(np.int64)
    table_indptr, table_days, slots = user_day_table(indptr, days)
    for u in range(n_users):
        row = days[indptr[u]:indptr[u + 1]]
        np.testing.assert_array_equal(table_days[table_indptr[u]:table_indptr[u + 1]],
                                      np.unique(row))
        for p in range(indptr[u], indptr[u + 1]):
            assert table_indptr[u] <= slots[p] < table_indptr[u + 1]
            assert table_days[slots[p]] == days[p]
    values = rng.normal(size=len(table_days))
    users = rng.integers(-1, n_users, 40).astype(np.int64)
    query = rng.integers(-2, n_days + 2, 40).astype(np.int64)
    lookup = {(u, int(table_days[s])): values[s] for u in range(n_users)
              for s in range(table_indptr[u], table_indptr[u + 1])}
    expected = [lookup.get((int(u), int(d)), 0.0) for u, d in zip(users, query)]
    np.testing.assert_array_equal(day_biases(table_indptr, table_days, values, users, query),
                                  expected)


@settings(deadline=None, max_examples=30)
@given(n_days=st.integers(1, 400), n_bins=st.integers(1, 50))
def test_day_bins_cut_the_period_evenly_and_clamp(n_days, n_bins):
    days = np.arange(-3, n_days + 3, dtype=np.int64)
    got = day_bins(days, n_bins, n_days)
    expected = np.clip(np.floor(days * n_bins / n_days), 0, n_bins - 1)
    np.testing.assert_array_equal(got, expected)
    inside = got[3:-3]
    assert inside[0] == 0 and (np.diff(inside) >= 0).all()
    # Every bin holds at least one day when there are at least as many days as bins.
    if n_bins <= n_days:
        np.testing.assert_array_equal(np.unique(inside), np.arange(n_bins))
