"""Paired significance tests for comparing two models on the same folds or the same users.

Two models evaluated on the same units (folds of one split, or users of one test set) give
aligned samples; :func:`paired_tests` runs the paired t-test and the Wilcoxon signed-rank
test on them (both from :mod:`scipy.stats`), :func:`compare_models` first aligns two
``{unit: value}`` dicts by key.
"""

from __future__ import annotations

import warnings
from typing import Hashable, Mapping

import numpy as np
import scipy.stats

__all__ = ["paired_tests", "compare_models"]

_NAN = float("nan")


def paired_tests(a, b) -> dict:
    """Paired t-test and Wilcoxon signed-rank test of ``a`` against ``b``.

    Parameters
    ----------
    a, b : array-like of float, shape (n,)
        Aligned samples: ``a[j]`` and ``b[j]`` are the two models' values on unit ``j``
        (a fold, or a user).

    Returns
    -------
    dict
        ``n`` (int), ``mean_a``, ``mean_b``, ``mean_diff`` (mean of ``a - b``), ``t_stat``
        (positive when ``a`` is larger), ``t_pvalue`` (two-sided), ``wilcoxon_stat``,
        ``wilcoxon_pvalue`` (two-sided); all floats.

    Notes
    -----
    Degenerate cases return NaN instead of raising or warning, so a results table can
    show them:

    - ``n < 2``: both tests NaN (no spread to test against); ``n == 0`` makes the means
      NaN too.
    - All differences zero (identical results): both tests NaN; there is no evidence
      either way, and scipy's ``p = 1.0`` for the Wilcoxon test would read as a measured
      result.
    - Differences all equal but not zero: the t-test is undefined (zero variance), so
      ``t_stat`` and ``t_pvalue`` are NaN; the Wilcoxon test is still computed.
    - The Wilcoxon test drops zero differences (``zero_method="wilcox"``); scipy picks the
      p-value method (``method="auto"``): the exact distribution for up to 50 distinct
      non-zero differences, an exhaustive permutation test for up to 13 differences with
      ties or zeros (which can take most of a second), the normal approximation otherwise.

    scipy's warnings (precision loss, ties with the exact distribution) are caught here
    and never reach the caller.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` differ in length, are not 1-D, or hold NaN or infinite values.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"a and b must be 1-D, got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"a and b must be aligned, got lengths {x.size} and {y.size}")
    for name, v in (("a", x), ("b", y)):
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ValueError(f"{name} has a non-finite value {v[bad[0]]} at position {bad[0]}")
    n = int(x.size)
    out = {
        "n": n,
        "mean_a": float(x.mean()) if n else _NAN,
        "mean_b": float(y.mean()) if n else _NAN,
        "mean_diff": float((x - y).mean()) if n else _NAN,
        "t_stat": _NAN, "t_pvalue": _NAN, "wilcoxon_stat": _NAN, "wilcoxon_pvalue": _NAN,
    }
    if n < 2:
        return out
    d = x - y
    if not np.any(d != 0):
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if np.ptp(d) > 0:
            t = scipy.stats.ttest_rel(x, y)
            out["t_stat"], out["t_pvalue"] = float(t.statistic), float(t.pvalue)
        w = scipy.stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
        out["wilcoxon_stat"], out["wilcoxon_pvalue"] = float(w.statistic), float(w.pvalue)
    return out


def compare_models(per_unit_a: Mapping[Hashable, float],
                   per_unit_b: Mapping[Hashable, float]) -> dict:
    """Align two ``{unit: value}`` dicts by key, then :func:`paired_tests`.

    Parameters
    ----------
    per_unit_a, per_unit_b : mapping
        Keys are fold names or user indices (e.g. ``TopNResult.by_user("ndcg@10")``);
        values are one metric of model A and model B.

    Returns
    -------
    dict
        The :func:`paired_tests` fields over the keys both have (in the order of
        ``per_unit_a``), plus ``n_only_a`` and ``n_only_b``: how many keys only one side
        has. Those units are left out of the tests, so a non-zero count is worth a look
        (the two models were not evaluated on the same units).
    """
    common = [key for key in per_unit_a if key in per_unit_b]
    result = paired_tests([per_unit_a[key] for key in common],
                          [per_unit_b[key] for key in common])
    result["n_only_a"] = len(per_unit_a) - len(common)
    result["n_only_b"] = len(per_unit_b) - len(common)
    return result
