"""Paired significance tests for comparing two models on the same folds or the same users.

Two models evaluated on the same units (folds of one split, or users of one test set) give
aligned samples; :func:`paired_tests` runs the paired t-test and the Wilcoxon signed-rank
test on them (both from :mod:`scipy.stats`), :func:`compare_models` first aligns two
``{unit: value}`` dicts by key.

:func:`bootstrap_ci` is a seeded percentile bootstrap of a mean over users;
:func:`user_bootstrap_ci` does it for the mean over folds of per-user values, resampling
users (one draw shared by every fold, so a user counted in several folds is resampled as
one unit).
"""

from __future__ import annotations

import warnings
from typing import Hashable, Mapping

import numpy as np
import scipy.stats

__all__ = ["paired_tests", "compare_models", "bootstrap_ci", "user_bootstrap_ci"]

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


def _check_confidence(confidence: float, n_boot: int) -> None:
    if isinstance(confidence, bool) or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")


def bootstrap_ci(values, n_boot: int = 1000, confidence: float = 0.95,
                 seed=0) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap confidence interval of the mean of ``values``.

    ``n_boot`` resamples of ``len(values)`` values drawn with replacement (one seeded
    Generator: the same seed gives the same interval); the interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of their means (Efron &
    Tibshirani 1993, the percentile method). Returns ``(mean, lower, upper)``; fewer than
    two values give NaN bounds. NaN or infinite values raise ValueError.
    """
    return user_bootstrap_ci([(np.arange(np.size(values)), values)], n_boot, confidence,
                             seed)


def user_bootstrap_ci(per_fold, n_boot: int = 1000, confidence: float = 0.95,
                      seed=0) -> tuple[float, float, float]:
    """Bootstrap interval over users of the mean over folds of per-user values.

    Parameters
    ----------
    per_fold : sequence of (users, values)
        One pair per fold: user indices (unique within the fold) and their values (e.g.
        ``BenchResult.per_user[(dataset, split, fold, model, metric)]``).
    n_boot, confidence, seed
        As in :func:`bootstrap_ci`.

    Returns
    -------
    (mean, lower, upper)
        ``mean`` is the statistic itself: the mean over folds of each fold's mean over its
        users (what the results table shows). Each resample draws ``n`` users with
        replacement from the ``n`` users of all folds (a multinomial count ``c_u`` per user,
        shared by every fold), each fold's mean becomes ``sum_u c_u v_fu / sum_u c_u`` over
        its users, and the resample's statistic the mean over folds of those (a fold none of
        whose users was drawn is left out of that resample). The bounds are percentiles.
        NaN bounds with fewer than two users.
    """
    from recsys.validation import as_generator

    _check_confidence(confidence, n_boot)
    folds = []
    for j, (users, values) in enumerate(per_fold):
        u = np.asarray(users).ravel()
        v = np.asarray(values, dtype=np.float64).ravel()
        if u.shape != v.shape:
            raise ValueError(f"fold {j}: {u.size} users for {v.size} values")
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ValueError(f"fold {j}: non-finite value {v[bad[0]]} at position {bad[0]}")
        if np.unique(u).size != u.size:
            raise ValueError(f"fold {j}: a user appears more than once")
        if u.size:
            folds.append((u, v))
    if not folds:
        return _NAN, _NAN, _NAN
    mean = float(np.mean([v.mean() for _, v in folds]))
    every = np.unique(np.concatenate([u for u, _ in folds]))
    n = every.size
    if n < 2:
        return mean, _NAN, _NAN
    counts = as_generator(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot)
    sums = np.zeros(n_boot)
    used = np.zeros(n_boot)
    for u, v in folds:
        col = np.searchsorted(every, u)
        weight = counts[:, col].astype(np.float64)      # (n_boot, fold users)
        total = weight.sum(axis=1)
        ok = total > 0
        sums[ok] += (weight[ok] @ v) / total[ok]
        used += ok
    stats = sums / used
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(stats, [tail, 1.0 - tail])
    return mean, float(lower), float(upper)
