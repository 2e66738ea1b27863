"""Normal and gamma draws of the kernels' SplitMix64 stream: against a plain-Python
transcription on Python integers (hypothesis draws the seeds; every bit and branch must agree),
and against their laws (fixed seeds: statistical checks, each a fixed reproducible draw)."""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from recsys.kernels import draws
from recsys.kernels.draws import gamma_draw, standard_normal

MASK = 2**64 - 1


def ref_next(state):
    """SplitMix64 in Python integers: (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def ref_unit(state):
    state, z = ref_next(state)
    return state, (z >> 11) / 2.0**53


def ref_normal(state):
    """Marsaglia & Tsang's RNOR/nfix, strip from the low 7 bits, point from the high 32."""
    K, W, F, R = draws._ZIG_K, draws._ZIG_W, draws._ZIG_F, draws._ZIG_R
    state, z = ref_next(state)
    iz, hz = z & 127, float((z >> 32) - 2**31)
    while True:
        if abs(hz) < K[iz]:
            return state, hz * W[iz]
        x = hz * W[iz]
        if iz == 0:
            while True:
                state, u1 = ref_unit(state)
                state, u2 = ref_unit(state)
                x, y = -math.log(1.0 - u1) / R, -math.log(1.0 - u2)
                if y + y >= x * x:
                    return state, (R + x) if hz > 0 else (-R - x)
        state, u = ref_unit(state)
        if F[iz] + u * (F[iz - 1] - F[iz]) < math.exp(-0.5 * x * x):
            return state, x
        state, z = ref_next(state)
        iz, hz = z & 127, float((z >> 32) - 2**31)


def ref_gamma(state, shape, rate):
    """Marsaglia & Tsang (2000), with the boost U^(1/a) below shape 1."""
    boost = 1.0
    if shape < 1.0:
        state, u = ref_unit(state)
        boost, shape = (1.0 - u) ** (1.0 / shape), shape + 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        state, x = ref_normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v ** 3
        state, u = ref_unit(state)
        u = 1.0 - u
        if u < 1.0 - 0.0331 * x ** 4 or math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return state, d * v * boost / rate


@nb.njit
def _normals(n, seed):
    out = np.empty(n)
    state = np.uint64(seed)
    for t in range(n):
        state, out[t] = standard_normal(state)
    return out


@nb.njit
def _gammas(n, seed, shape, rate):
    out = np.empty(n)
    state = np.uint64(seed)
    for t in range(n):
        state, out[t] = gamma_draw(state, shape, rate)
    return out


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**64 - 1))
def test_normals_equal_the_python_transcription(seed):
    got = _normals(500, np.uint64(seed))
    state, want = seed, []
    for _ in range(500):
        state, z = ref_normal(state)
        want.append(z)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**64 - 1), shape=st.floats(0.05, 1e4), rate=st.floats(0.1, 10))
def test_gammas_equal_the_python_transcription(seed, shape, rate):
    got = _gammas(50, np.uint64(seed), shape, rate)
    state, want = seed, []
    for _ in range(50):
        state, g = ref_gamma(state, shape, rate)
        want.append(g)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_ziggurat_normals_follow_the_normal_law(seed):
    x = _normals(400_000, seed)
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1.0) < 0.01
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # The tail beyond the base strip's edge r (the slow path) has the right mass.
    tail = (np.abs(x) > 3.442619855899).mean()
    assert tail == pytest.approx(2 * stats.norm.sf(3.442619855899), rel=0.15)
    np.testing.assert_array_equal(x[:100], _normals(100, seed))
    assert not np.array_equal(x[:100], _normals(100, seed + 1))


@pytest.mark.parametrize("shape", [0.3, 1.0, 2.5, 40_000.5])
def test_gamma_draws_follow_the_gamma_law(shape):
    rate = 2.0
    g = _gammas(200_000, 3, shape, rate)
    assert (g > 0).all()
    assert g.mean() == pytest.approx(shape / rate, rel=0.01)
    assert g.var() == pytest.approx(shape / rate ** 2, rel=0.03)
    assert stats.kstest(g, stats.gamma(shape, scale=1 / rate).cdf).pvalue > 1e-3


def test_a_normal_is_one_step_of_the_stream_on_the_fast_path():
    # The fast path (|hz| < kn[iz]: one 64-bit output, no log or exp) is taken with
    # probability mean(kn) / 2^31, about 97% for 128 strips.
    @nb.njit
    def fast(n, seed):
        state = np.uint64(seed)
        single = 0
        for _ in range(n):
            before = state
            state, _z = standard_normal(state)
            single += state - before == np.uint64(0x9E3779B97F4A7C15)
        return single
    expected = np.minimum(draws._ZIG_K / 2**31, 1.0).mean()
    assert 0.97 < expected < 0.975
    assert fast(200_000, 9) / 200_000 == pytest.approx(expected, abs=0.002)
