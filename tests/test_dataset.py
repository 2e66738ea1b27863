"""Dataset's per-user and per-item statistics against plain NumPy, and their memory."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import recsys.dataset as dataset_module
from recsys.bench.memory import PeakMemory, memory_method
from recsys.data.synthetic import generate
from recsys.dataset import _chunked_bincount


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 50), m=st.integers(0, 400),
       chunk=st.integers(1, 64))
def test_chunked_bincount_equals_bincount(seed, n, m, chunk):
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, m).astype(np.int32)
    weights = rng.random(m).astype(np.float32)
    old = dataset_module._BINCOUNT_CHUNK
    dataset_module._BINCOUNT_CHUNK = chunk  # many chunks, and a partial last one
    try:
        counts = _chunked_bincount(index, n)
        sums = _chunked_bincount(index, n, weights)
    finally:
        dataset_module._BINCOUNT_CHUNK = old
    assert counts.dtype == np.int64 and counts.shape == (n,)
    np.testing.assert_array_equal(counts, np.bincount(index, minlength=n))
    np.testing.assert_allclose(sums, np.bincount(index, weights, minlength=n), rtol=1e-12)


def test_counts_and_means_match_the_plain_definitions():
    ds = generate(70, 40, 1500, seed=2)
    for idx, n, counts, means in ((ds.users, ds.n_users, ds.user_counts, ds.user_means),
                                  (ds.items, ds.n_items, ds.item_counts, ds.item_means)):
        for j in range(n):
            mine = ds.ratings[idx == j]
            assert counts[j] == len(mine)
            expect = mine.astype(np.float64).mean() if len(mine) else ds.global_mean
            assert np.isclose(means[j], expect)


def test_counting_holds_no_int64_copy_of_the_index():
    """np.bincount on int32 indices copies them as int64 (8 bytes a rating); the Dataset's
    counts must not (benchmarks/scale.py: ALS's peak at 100M ratings)."""
    ds = generate(4_000, 2_000, 4_000_000, seed=0, timestamps=False)
    index_mib = ds.users.nbytes / 2**20  # 15 MiB of int32
    with PeakMemory(memory_method()) as m:
        ds.user_counts  # noqa: B018
    if memory_method() == "vmhwm":  # exact; ru_maxrss only shows new process-wide peaks
        assert m.peak_mb < index_mib, (m.peak_mb, index_mib)
