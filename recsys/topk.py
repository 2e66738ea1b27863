"""Top-k columns of each row of a score matrix, best first (the Python side of
:mod:`recsys.kernels.topk`: checks and converts, then hands the arrays to the kernel)."""

from __future__ import annotations

import numpy as np

from recsys.kernels.topk import topk_rows_kernel

__all__ = ["topk_rows"]


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k column indices and scores of each row, best first.

    Parameters
    ----------
    scores : ndarray, shape (n_rows, n_cols) or (n_cols,)
        Higher is better. NaN and -inf mark excluded entries and are never returned. Any
        dtype other than float32/float64 is converted to float64.
    k : int
        Number of entries to keep per row (k >= 1).

    Returns
    -------
    indices : int64 ndarray, shape (n_rows, k) (or (k,) for 1-D input); -1 pads rows with
        fewer than k candidates.
    values : ndarray, same shape, same dtype as ``scores``; -inf pads.

    Ties are broken by ascending column index (the order of a stable sort).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    a = np.asarray(scores)
    one_d = a.ndim == 1
    if one_d:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"scores must be 1-D or 2-D, got shape {a.shape}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    a = np.ascontiguousarray(a)
    out_idx = np.empty((a.shape[0], k), dtype=np.int64)
    out_val = np.empty((a.shape[0], k), dtype=a.dtype)
    topk_rows_kernel(a, int(k), out_idx, out_val)
    if one_d:
        return out_idx[0], out_val[0]
    return out_idx, out_val
