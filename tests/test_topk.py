"""topk_rows against a slow, obviously correct reference built on a stable sort."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from recsys.topk import topk_rows


def reference_topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: drop NaN and -inf, stable-sort the rest by descending score, keep k, pad."""
    n_rows = scores.shape[0]
    idx = np.full((n_rows, k), -1, dtype=np.int64)
    val = np.full((n_rows, k), -np.inf, dtype=scores.dtype)
    for r in range(n_rows):
        row = scores[r]
        cand = [j for j in range(row.shape[0]) if not np.isnan(row[j]) and row[j] != -np.inf]
        # sorted() is stable: equal scores keep ascending column order.
        cand = sorted(cand, key=lambda j: -float(row[j]))[:k]
        for pos, j in enumerate(cand):
            idx[r, pos] = j
            val[r, pos] = row[j]
    return idx, val


def make_scores(seed: int, n_rows: int, n_cols: int, dtype, n_levels: int,
                p_nan: float, p_ninf: float, p_pinf: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Few distinct levels make ties frequent; n_levels == 0 means continuous values.
    if n_levels:
        a = rng.integers(0, n_levels, size=(n_rows, n_cols)).astype(dtype)
    else:
        a = rng.standard_normal((n_rows, n_cols)).astype(dtype)
    u = rng.random((n_rows, n_cols))
    a[u < p_nan] = np.nan
    a[(u >= p_nan) & (u < p_nan + p_ninf)] = -np.inf
    a[(u >= p_nan + p_ninf) & (u < p_nan + p_ninf + p_pinf)] = np.inf
    return a


@settings(deadline=None, max_examples=150)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(0, 6),
    n_cols=st.integers(0, 40),
    k=st.integers(1, 50),
    dtype=st.sampled_from([np.float32, np.float64]),
    n_levels=st.sampled_from([0, 1, 2, 3, 10]),
    p_nan=st.sampled_from([0.0, 0.2, 1.0]),
    p_ninf=st.sampled_from([0.0, 0.2]),
    p_pinf=st.sampled_from([0.0, 0.1]),
)
def test_topk_rows_matches_stable_sort(seed, n_rows, n_cols, k, dtype, n_levels, p_nan,
                                       p_ninf, p_pinf):
    scores = make_scores(seed, n_rows, n_cols, dtype, n_levels, p_nan, p_ninf, p_pinf)
    idx, val = topk_rows(scores, k)
    ref_idx, ref_val = reference_topk(scores, k)
    assert idx.shape == (n_rows, k) and idx.dtype == np.int64
    assert val.shape == (n_rows, k) and val.dtype == dtype
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(val, ref_val)


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n_cols=st.integers(1, 30))
def test_k_equal_n_is_a_full_stable_sort(seed, n_cols):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(3, n_cols)).astype(np.float64)
    idx, val = topk_rows(scores, n_cols)
    for r in range(3):
        np.testing.assert_array_equal(idx[r], np.argsort(-scores[r], kind="stable"))
        np.testing.assert_array_equal(val[r], scores[r, idx[r]])


def test_ties_keep_lowest_indices():
    idx, val = topk_rows(np.array([[1.0, 2.0, 2.0, 2.0, 1.0]]), 2)
    np.testing.assert_array_equal(idx, [[1, 2]])
    np.testing.assert_array_equal(val, [[2.0, 2.0]])
    idx, _ = topk_rows(np.zeros((1, 6)), 6)
    np.testing.assert_array_equal(idx, [np.arange(6)])


def test_nan_and_minus_inf_are_excluded_and_padded():
    row = np.array([np.nan, -np.inf, 0.5, np.inf, -1e30, np.nan])
    idx, val = topk_rows(row, 5)
    np.testing.assert_array_equal(idx, [3, 2, 4, -1, -1])
    np.testing.assert_array_equal(val, [np.inf, 0.5, -1e30, -np.inf, -np.inf])


def test_k_larger_than_row_pads():
    idx, val = topk_rows(np.array([[3.0, 1.0, 2.0]], dtype=np.float32), 5)
    np.testing.assert_array_equal(idx, [[0, 2, 1, -1, -1]])
    assert val.dtype == np.float32
    np.testing.assert_array_equal(val, [[3.0, 2.0, 1.0, -np.inf, -np.inf]])


def test_empty_rows_and_empty_matrix():
    idx, val = topk_rows(np.empty((2, 0)), 3)
    np.testing.assert_array_equal(idx, np.full((2, 3), -1))
    assert np.all(val == -np.inf)
    idx, val = topk_rows(np.empty((0, 7)), 3)
    assert idx.shape == (0, 3) and val.shape == (0, 3)
    idx, _ = topk_rows(np.full((1, 4), np.nan), 2)
    np.testing.assert_array_equal(idx, [[-1, -1]])


def test_one_d_input_and_other_dtypes():
    idx, val = topk_rows(np.array([1, 5, 3], dtype=np.int32), 2)
    np.testing.assert_array_equal(idx, [1, 2])
    assert val.dtype == np.float64
    # A non-contiguous view gives the same answer as its contiguous copy.
    a = np.random.default_rng(0).standard_normal((6, 10))
    np.testing.assert_array_equal(topk_rows(a[::2, ::3], 2)[0],
                                  topk_rows(np.ascontiguousarray(a[::2, ::3]), 2)[0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must be >= 1"):
        topk_rows(np.zeros((1, 3)), 0)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        topk_rows(np.zeros((1, 2, 3)), 1)
