"""The sparse similarity kernel against a slow, obviously correct dense NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st
from sklearn.metrics.pairwise import cosine_similarity

from recsys.similarity import METRICS, similarity

ALL_METRICS = sorted(METRICS)


# ---------------------------------------------------------------------------------- reference
def make_matrix(seed: int, n: int, m: int, density: float, integer: bool, n_empty: int,
                p_zero: float = 0.0):
    """A random sparse (n, m) float32 matrix; ``n_empty`` rows have no entries at all.

    Returns (csr, values, mask) with ``values`` dense float64 (0 where not stored).
    """
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    mask[rng.permutation(n)[:n_empty]] = False
    if integer:  # few levels make ties and zero variances frequent
        vals = rng.integers(1, 6, size=(n, m)).astype(np.float64)
    else:
        vals = rng.normal(size=(n, m)).astype(np.float32).astype(np.float64)
    vals[rng.random((n, m)) < p_zero] = 0.0  # stored zeros stay stored entries
    vals = np.where(mask, vals, 0.0)
    rows, cols = np.nonzero(mask)
    csr = sp.csr_matrix((vals[rows, cols].astype(np.float32), (rows, cols)), shape=(n, m))
    return csr, vals, mask


def reference(vals, mask, metric, shrinkage=None, min_support=1, baseline=None):
    """Dense (n, n) similarity by the definitions, pair by pair (diagonal 0)."""
    n, m = mask.shape
    x = vals.astype(np.float64).copy()
    if metric == "adjusted_cosine":
        for c in range(m):
            if mask[:, c].any():
                x[mask[:, c], c] -= x[mask[:, c], c].mean()
    if metric == "pearson_baseline":
        mu, rb, cb = baseline
        x = np.where(mask, x - (mu + rb[:, None] + cb[None, :]), 0.0)
        shrinkage = 100.0 if shrinkage is None else shrinkage
        min_support = max(2, min_support)
    shrinkage = 0.0 if shrinkage is None else shrinkage
    out = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            common = mask[a] & mask[b]
            cnt = int(common.sum())
            if cnt == 0 or cnt < min_support:
                continue
            xa, xb = x[a, common], x[b, common]
            if metric in ("cosine", "adjusted_cosine"):
                den = np.linalg.norm(x[a]) * np.linalg.norm(x[b])
                s = x[a] @ x[b] / den if den > 0 else 0.0
            elif metric in ("cosine_corated", "pearson_baseline"):
                den = np.sqrt((xa @ xa) * (xb @ xb))
                s = xa @ xb / den if den > 0 else 0.0
            elif metric == "pearson":
                da, db = xa - xa.mean(), xb - xb.mean()
                den = np.sqrt((da @ da) * (db @ db))
                s = da @ db / den if den > 1e-12 else 0.0
            elif metric == "msd":
                s = 1.0 / (1.0 + np.mean((xa - xb) ** 2))
            else:
                raise AssertionError(metric)
            s = min(1.0, max(-1.0, s))
            if shrinkage:
                o = 1 if metric == "pearson_baseline" else 0
                s *= (cnt - o) / (cnt - o + shrinkage)
            out[a, b] = s
    return out


def random_baseline(seed, n, m):
    rng = np.random.default_rng(seed + 1)
    return (3.0 + rng.normal(scale=0.2), rng.normal(scale=0.5, size=n),
            rng.normal(scale=0.5, size=m))


def reference_topk_row(row: np.ndarray, k: int, positive_only: bool):
    """Stable sort of the nonzero entries by descending value: ties keep the smaller column."""
    cand = [j for j in range(len(row)) if row[j] != 0 and (row[j] > 0 or not positive_only)]
    cand = sorted(cand, key=lambda j: -float(row[j]))[:k]
    return np.array(cand, dtype=np.int64), row[cand]


matrices = dict(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    m=st.integers(1, 15),
    density=st.sampled_from([0.1, 0.3, 0.6, 1.0]),
    integer=st.booleans(),
    n_empty=st.integers(0, 2),
)


# ---------------------------------------------------------------------------------- dense mode
@pytest.mark.parametrize("metric", ALL_METRICS)
@settings(deadline=None, max_examples=15)
@given(shrinkage=st.sampled_from([None, 0.0, 3.0, 25.0]),
       min_support=st.integers(1, 3), p_zero=st.sampled_from([0.0, 0.2]), **matrices)
def test_dense_mode_matches_reference(metric, shrinkage, min_support, p_zero, seed, n, m,
                                      density, integer, n_empty):
    csr, vals, mask = make_matrix(seed, n, m, density, integer, n_empty, p_zero)
    base = random_baseline(seed, n, m) if metric == "pearson_baseline" else None
    got = similarity(csr, metric, dense=True, shrinkage=shrinkage, min_support=min_support,
                     baseline=base)
    want = reference(vals, mask, metric, shrinkage, min_support, base)
    assert got.dtype == np.float32 and got.shape == (n, n)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    # Symmetric before pruning, finite, in range; rows with no entries give 0.
    np.testing.assert_array_equal(got, got.T)
    assert np.isfinite(got).all()
    assert got.min() >= METRICS[metric].lower - 1e-7 and got.max() <= 1.0
    empty = ~mask.any(axis=1)
    assert (got[empty] == 0).all() and (got[:, empty] == 0).all()
    # The sparse all-pairs output holds the same numbers.
    sparse = similarity(csr, metric, shrinkage=shrinkage, min_support=min_support,
                        baseline=base)
    np.testing.assert_array_equal(sparse.toarray(), got)
    assert not (sparse.data == 0).any()
    for a in range(n):  # each row stored best first, ties by ascending column
        want_idx, want_val = reference_topk_row(got[a], n, False)
        np.testing.assert_array_equal(sparse.indices[sparse.indptr[a]:sparse.indptr[a + 1]],
                                      want_idx)


def test_all_zero_matrix_and_stored_zero_rows_give_zero_not_nan():
    for metric in ALL_METRICS:
        base = (0.0, np.zeros(4), np.zeros(3))
        empty = sp.csr_matrix((4, 3), dtype=np.float32)
        assert (similarity(empty, metric, dense=True, baseline=base) == 0).all()
        assert similarity(empty, metric, k=2, baseline=base).nnz == 0
        # Rows 0 and 1 store only zeros: cosine-type similarities are undefined -> 0.
        zeros = sp.csr_matrix((np.r_[np.zeros(6), [1, 2, 3, 2, 1]].astype(np.float32),
                               np.r_[0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1].astype(np.int32),
                               np.array([0, 3, 6, 9, 11])), shape=(4, 3))
        got = similarity(zeros, metric, dense=True, baseline=base, include_self=True)
        assert np.isfinite(got).all(), metric
        # msd of two all-zero rows is a perfect match (1); adjusted_cosine re-centres them.
        if metric not in ("msd", "adjusted_cosine"):
            assert (got[:2] == 0).all() and (got[:, :2] == 0).all(), metric


@pytest.mark.parametrize("metric", ["cosine_corated", "pearson", "pearson_baseline", "msd"])
@pytest.mark.parametrize("min_support", [1, 3])
def test_co_rated_metrics_equal_surprise(metric, min_support):
    """Surprise's own Cython similarities as a second oracle (diagonal aside)."""
    from surprise import similarities as surprise_sim

    csr, _, _ = make_matrix(5, 30, 40, 0.3, True, 2)
    coo = csr.tocoo()
    yr = {c: [] for c in range(csr.shape[1])}
    for r, c, v in zip(coo.row, coo.col, coo.data):
        yr[int(c)].append((int(r), float(v)))
    n = csr.shape[0]
    if metric == "pearson_baseline":
        mu, rb, cb = random_baseline(5, *csr.shape)
        want = surprise_sim.pearson_baseline(n, yr, min_support, mu, rb, cb, 100.0)
        got = similarity(csr, metric, dense=True, min_support=min_support,
                         baseline=(mu, rb, cb))
    else:
        name = "cosine" if metric == "cosine_corated" else metric
        want = getattr(surprise_sim, name)(n, yr, min_support)
        got = similarity(csr, metric, dense=True, min_support=min_support)
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_cosine_equals_scikit_learn_on_larger_input():
    csr, _, _ = make_matrix(7, 60, 80, 0.15, True, 3)
    want = cosine_similarity(csr.astype(np.float64))
    got = similarity(csr, "cosine", dense=True, include_self=True)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # The self-similarity of a nonzero row is 1, of an empty row 0 (as scikit-learn).
    np.testing.assert_allclose(np.diag(got), np.diag(want), atol=1e-6)


# ---------------------------------------------------------------------------------- top-k
@pytest.mark.parametrize("metric", ALL_METRICS)
@settings(deadline=None, max_examples=12)
@given(k=st.integers(1, 14), positive_only=st.booleans(),
       include_self=st.booleans(), **matrices)
def test_topk_keeps_exactly_the_k_largest(metric, k, positive_only, include_self, seed, n, m,
                                          density, integer, n_empty):
    csr, vals, mask = make_matrix(seed, n, m, density, integer, n_empty)
    base = random_baseline(seed, n, m) if metric == "pearson_baseline" else None
    full = similarity(csr, metric, dense=True, baseline=base, include_self=include_self)
    top = similarity(csr, metric, k=k, baseline=base, positive_only=positive_only,
                     include_self=include_self)
    assert top.shape == (n, n) and top.dtype == np.float32
    for a in range(n):
        lo, hi = top.indptr[a], top.indptr[a + 1]
        want_idx, want_val = reference_topk_row(full[a], k, positive_only)
        # Stored best first, ties by ascending column: exactly the stable-sort order.
        np.testing.assert_array_equal(top.indices[lo:hi], want_idx)
        np.testing.assert_array_equal(top.data[lo:hi], want_val)
    # And the kept values are the reference's, to 1e-5.
    want = reference(vals, mask, metric, None, 1, base)
    rows = np.repeat(np.arange(n), np.diff(top.indptr))
    keep_diag = rows != top.indices
    np.testing.assert_allclose(top.data[keep_diag], want[rows, top.indices][keep_diag],
                               atol=1e-5)


def test_topk_ties_keep_the_smallest_columns():
    # Rows 1..5 are identical, so row 0 is equally similar to all of them.
    row = np.array([[1, 2, 0, 3]], dtype=np.float32)
    x = sp.csr_matrix(np.vstack([row] * 6 + [np.array([[0, 0, 5, 0]], dtype=np.float32)]))
    top = similarity(x, "cosine", k=3)
    np.testing.assert_array_equal(top.indices[: 3], [1, 2, 3])
    np.testing.assert_array_equal(top.indices[top.indptr[5]:top.indptr[6]], [0, 1, 2])
    assert top.indptr[7] - top.indptr[6] == 0  # no co-rated column with anyone


# ---------------------------------------------------------------------------------- options
@pytest.mark.parametrize("metric", ALL_METRICS)
@settings(deadline=None, max_examples=8)
@given(shrinkage=st.floats(0.5, 50),
       min_support=st.integers(2, 4), **matrices)
def test_shrinkage_and_min_support(metric, shrinkage, min_support, seed, n, m, density,
                                   integer, n_empty):
    csr, _, mask = make_matrix(seed, n, m, density, integer, n_empty)
    base = random_baseline(seed, n, m) if metric == "pearson_baseline" else None
    counts = mask.astype(np.int64) @ mask.T.astype(np.int64)
    plain = similarity(csr, metric, dense=True, baseline=base, shrinkage=0.0)
    shrunk = similarity(csr, metric, dense=True, baseline=base, shrinkage=shrinkage)
    o = 1 if metric == "pearson_baseline" else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(counts > o, (counts - o) / (counts - o + shrinkage), 0.0)
    np.testing.assert_allclose(shrunk, plain * factor, atol=1e-6)
    supported = similarity(csr, metric, dense=True, baseline=base, shrinkage=0.0,
                           min_support=min_support)
    np.testing.assert_array_equal(supported, np.where(counts >= min_support, plain, 0.0))


def test_pearson_baseline_default_shrinkage_is_100():
    csr, _, _ = make_matrix(3, 10, 40, 0.8, True, 0)
    base = random_baseline(3, 10, 40)
    np.testing.assert_array_equal(
        similarity(csr, "pearson_baseline", dense=True, baseline=base),
        similarity(csr, "pearson_baseline", dense=True, baseline=base, shrinkage=100.0))
    assert not np.allclose(
        similarity(csr, "pearson_baseline", dense=True, baseline=base),
        similarity(csr, "pearson_baseline", dense=True, baseline=base, shrinkage=0.0))


@pytest.mark.parametrize("metric", ALL_METRICS)
@settings(deadline=None, max_examples=6)
@given(k=st.integers(1, 6), include_self=st.booleans(), positive_only=st.booleans(),
       min_support=st.integers(1, 2), **matrices)
def test_symmetric_topk_equals_row_by_row(metric, k, include_self, positive_only, min_support,
                                          seed, n, m, density, integer, n_empty):
    csr, _, _ = make_matrix(seed, n, m, density, integer, n_empty)
    base = random_baseline(seed, n, m) if metric == "pearson_baseline" else None
    opts = dict(k=k, include_self=include_self, positive_only=positive_only,
                min_support=min_support, baseline=base)
    sym = similarity(csr, metric, symmetric=True, **opts)
    rows = similarity(csr, metric, symmetric=False, **opts)
    for a, b in ((sym.indptr, rows.indptr), (sym.indices, rows.indices),
                 (sym.data, rows.data)):
        np.testing.assert_array_equal(a, b)


def test_csc_input_threads_and_small_blocks_give_the_same_result():
    csr, _, _ = make_matrix(11, 50, 70, 0.2, False, 4)
    want = similarity(csr, "pearson", k=7)
    for got in (similarity(csr.tocsc(), "pearson", k=7),
                similarity(csr, "pearson", k=7, num_threads=1),
                similarity(csr, "pearson", k=7, symmetric=False),
                similarity(csr, "pearson", k=7, num_threads=1, symmetric=True)):
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.data, want.data)
    dense = similarity(csr, "pearson", dense=True)
    blocked = similarity(csr, "pearson", block_bytes=4 * 50 * 3)  # 3 rows per block
    np.testing.assert_array_equal(blocked.toarray(), dense)


@settings(deadline=None, max_examples=20)
@given(k=st.sampled_from([None, 1, 3]), include_self=st.booleans(), positive_only=st.booleans(),
       p_zero=st.sampled_from([0.0, 0.3]), **matrices)
def test_cosine_scan_path_equals_tracking_path(k, include_self, positive_only, p_zero, seed,
                                               n, m, density, integer, n_empty):
    csr, _, _ = make_matrix(seed, n, m, density, integer, n_empty, p_zero)
    opts = dict(k=k, include_self=include_self, positive_only=positive_only)
    scan = similarity(csr, "adjusted_cosine", scan_threshold=0.0, **opts)
    track = similarity(csr, "adjusted_cosine", scan_threshold=np.inf, **opts)
    for a, b in ((scan.indptr, track.indptr), (scan.indices, track.indices),
                 (scan.data, track.data)):
        np.testing.assert_array_equal(a, b)


def test_bad_input_is_named():
    x = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="unknown similarity metric 'cosin'"):
        similarity(x, "cosin")
    with pytest.raises(ValueError, match="needs baseline"):
        similarity(x, "pearson_baseline")
    with pytest.raises(ValueError, match="row_bias must have shape"):
        similarity(x, "pearson_baseline", baseline=(0.0, np.zeros(2), np.zeros(3)))
    with pytest.raises(TypeError, match="scipy sparse"):
        similarity(np.eye(3), "cosine")
    with pytest.raises(ValueError, match="k must be"):
        similarity(x, "cosine", k=0)
    with pytest.raises(ValueError, match="needs k=None"):
        similarity(x, "cosine", k=2, dense=True)
    bad = x.copy()
    bad.data[1] = np.nan
    with pytest.raises(ValueError, match="row 1, column 1"):
        similarity(bad, "cosine")


def test_auto_threads_follow_the_work_and_the_free_cores(monkeypatch):
    """The thread count similarity() picks: 1 below 2 x WORK_PER_THREAD co-occurrence
    updates, else up to Numba's count, capped by the cores free now; never the result."""
    import numba

    import recsys.similarity as simmod

    rng = np.random.default_rng(0)
    x = sp.random(200, 300, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    xt = x.T.tocsr()
    work = float(np.sum(np.diff(xt.indptr).astype(np.float64) ** 2))
    monkeypatch.setattr(simmod, "free_cores", lambda: 4096)
    monkeypatch.setattr(simmod, "WORK_PER_THREAD", work / 1.5)  # one thread's worth
    assert simmod._auto_threads(xt) == 1
    monkeypatch.setattr(simmod, "WORK_PER_THREAD", work / 64)
    assert simmod._auto_threads(xt) == numba.get_num_threads()
    monkeypatch.setattr(simmod, "free_cores", lambda: 1)  # a busy machine
    assert simmod._auto_threads(xt) == 1
    busy = simmod.similarity(x, "cosine", k=5)
    monkeypatch.setattr(simmod, "free_cores", lambda: 4096)
    idle = simmod.similarity(x, "cosine", k=5)
    assert (busy != idle).nnz == 0
