"""Paired tests against plain-Python formulas, degenerate cases, and warning hygiene."""

from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings, strategies as st

from recsys.significance import compare_models, paired_tests


def ref_t(a, b):
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    t = statistics.fmean(d) / (statistics.stdev(d) / math.sqrt(n))
    return t, 2 * scipy.stats.t.sf(abs(t), n - 1)


def ref_wilcoxon_stat(a, b):
    """min(W+, W-) over non-zero differences, average ranks for tied |d|."""
    d = [x - y for x, y in zip(a, b) if x != y]
    absd = sorted(abs(v) for v in d)
    rank_of = {}
    pos = 0
    while pos < len(absd):
        end = pos
        while end + 1 < len(absd) and absd[end + 1] == absd[pos]:
            end += 1
        rank_of[absd[pos]] = (pos + end) / 2 + 1
        pos = end + 1
    w_plus = sum(rank_of[abs(v)] for v in d if v > 0)
    w_minus = sum(rank_of[abs(v)] for v in d if v < 0)
    return min(w_plus, w_minus)


@settings(deadline=None, max_examples=80)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 80), shift=st.sampled_from([0.0, 0.3]),
       discrete=st.booleans())
def test_paired_tests_match_reference(seed, n, shift, discrete):
    rng = np.random.default_rng(seed)
    if discrete:  # per-user hit@k style values: many ties and zero differences
        a = rng.integers(0, 2, n).astype(float)
        b = rng.integers(0, 2, n).astype(float)
    else:
        a = rng.normal(size=n) + shift
        b = rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may leak out
        r = paired_tests(a, b)
    assert r["n"] == n
    assert r["mean_a"] == pytest.approx(statistics.fmean(a.tolist()))
    assert r["mean_b"] == pytest.approx(statistics.fmean(b.tolist()))
    assert r["mean_diff"] == pytest.approx(r["mean_a"] - r["mean_b"], abs=1e-12)
    d = (a - b).tolist()
    if len(set(d)) > 1:
        t, p = ref_t(a.tolist(), b.tolist())
        assert r["t_stat"] == pytest.approx(t, rel=1e-9)
        assert r["t_pvalue"] == pytest.approx(p, rel=1e-7, abs=1e-300)
    else:
        assert math.isnan(r["t_stat"]) and math.isnan(r["t_pvalue"])
    if any(v != 0 for v in d):
        assert r["wilcoxon_stat"] == pytest.approx(ref_wilcoxon_stat(a.tolist(), b.tolist()))
        assert 0.0 <= r["wilcoxon_pvalue"] <= 1.0
    else:
        assert math.isnan(r["wilcoxon_stat"]) and math.isnan(r["wilcoxon_pvalue"])


def test_clear_difference_is_significant_and_sign_follows_a():
    rng = np.random.default_rng(0)
    b = rng.normal(size=200)
    a = b + 0.5 + rng.normal(scale=0.1, size=200)
    r = paired_tests(a, b)
    assert r["t_stat"] > 0 and r["t_pvalue"] < 1e-10 and r["wilcoxon_pvalue"] < 1e-10
    assert paired_tests(b, a)["t_stat"] == pytest.approx(-r["t_stat"])


def test_exact_wilcoxon_small_sample():
    # Five positive differences with distinct magnitudes: exact two-sided p = 2 / 2**5.
    r = paired_tests([1.0, 2.0, 3.0, 4.0, 5.5], [0.0, 0.0, 0.0, 0.0, 0.0])
    assert r["wilcoxon_stat"] == 0.0
    assert r["wilcoxon_pvalue"] == pytest.approx(2 / 32)


def test_degenerate_cases_give_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = paired_tests([], [])
        assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in
                                       ("mean_a", "mean_diff", "t_pvalue", "wilcoxon_pvalue"))
        one = paired_tests([0.5], [0.25])
        assert one["mean_diff"] == 0.25 and math.isnan(one["t_pvalue"])
        assert math.isnan(one["wilcoxon_pvalue"])
        same = paired_tests([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
        assert same["mean_diff"] == 0.0
        assert all(math.isnan(same[k]) for k in
                   ("t_stat", "t_pvalue", "wilcoxon_stat", "wilcoxon_pvalue"))
        const = paired_tests([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
        assert math.isnan(const["t_stat"]) and math.isnan(const["t_pvalue"])
        assert 0.0 <= const["wilcoxon_pvalue"] <= 1.0
        # Mostly zero differences (per-user hit rates) still work.
        mostly = paired_tests([1, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0])
        assert 0.0 < mostly["wilcoxon_pvalue"] <= 1.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="aligned"):
        paired_tests([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="b has a non-finite value nan at position 1"):
        paired_tests([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="1-D"):
        paired_tests([[1.0]], [[1.0]])


def test_compare_models_aligns_by_key():
    a = {"u1.test": 0.91, "u2.test": 0.93, "u3.test": 0.92, "u4.test": 0.95}
    b = {"u3.test": 0.90, "u1.test": 0.90, "u2.test": 0.94, "extra": 0.5}
    r = compare_models(a, b)
    ref = paired_tests([0.91, 0.93, 0.92], [0.90, 0.94, 0.90])
    assert r["n"] == 3 and r["n_only_a"] == 1 and r["n_only_b"] == 1
    for key, value in ref.items():
        assert (math.isnan(value) and math.isnan(r[key])) or r[key] == pytest.approx(value)
    # numpy integer user keys match plain int keys
    r2 = compare_models({np.int64(3): 1.0, np.int64(5): 0.0}, {3: 0.0, 5: 0.0})
    assert r2["n"] == 2 and r2["n_only_a"] == 0


# ---------------------------------------------------------------------- bootstrap over users
from recsys.significance import bootstrap_ci, user_bootstrap_ci  # noqa: E402


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n_folds=st.integers(1, 3), n_users=st.integers(2, 12),
       boot_seed=st.integers(0, 100))
def test_user_bootstrap_matches_a_plain_loop(seed, n_folds, n_users, boot_seed):
    rng = np.random.default_rng(seed)
    per_fold = []
    for _ in range(n_folds):
        users = np.sort(rng.choice(n_users, rng.integers(1, n_users + 1), replace=False))
        per_fold.append((users, rng.random(users.size)))
    mean, lo, hi = user_bootstrap_ci(per_fold, n_boot=50, seed=boot_seed)
    assert mean == pytest.approx(np.mean([v.mean() for _, v in per_fold]))
    every = sorted(set(np.concatenate([u for u, _ in per_fold]).tolist()))
    n = len(every)
    if n < 2:
        assert np.isnan(lo) and np.isnan(hi)
        return
    counts = np.random.default_rng(boot_seed).multinomial(n, [1.0 / n] * n, size=50)
    stats = []
    for row in counts:
        c = dict(zip(every, row.tolist()))
        fold_means = []
        for users, values in per_fold:
            w = [c[int(x)] for x in users]
            if sum(w):
                fold_means.append(sum(a * b for a, b in zip(w, values)) / sum(w))
        stats.append(sum(fold_means) / len(fold_means))
    assert lo == pytest.approx(float(np.quantile(stats, 0.025)))
    assert hi == pytest.approx(float(np.quantile(stats, 0.975)))
    assert lo <= hi
    again = user_bootstrap_ci(per_fold, n_boot=50, seed=boot_seed)
    assert again == (mean, lo, hi)


def test_bootstrap_ci_is_close_to_the_t_interval_and_degenerate_cases():
    values = np.random.default_rng(0).normal(size=2000)
    mean, lo, hi = bootstrap_ci(values, n_boot=2000, seed=1)
    half_t = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert (hi - lo) / 2 == pytest.approx(half_t, rel=0.1)
    assert lo < mean < hi
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0, 3.0)
    m, lo, hi = bootstrap_ci([1.0])
    assert m == 1.0 and np.isnan(lo) and np.isnan(hi)
    assert all(np.isnan(x) for x in bootstrap_ci([]))
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_ci([1.0, np.nan])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci([1.0, 2.0], n_boot=1)
    with pytest.raises(ValueError, match="more than once"):
        user_bootstrap_ci([(np.array([0, 0]), np.array([1.0, 2.0]))])
