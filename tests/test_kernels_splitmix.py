"""The SplitMix64 stream against a plain-Python transcription of Steele, Lea & Flood (2014)."""

from __future__ import annotations

import numba as nb
import numpy as np
from hypothesis import given, settings, strategies as st

from recsys.kernels.splitmix import (GAMMA, mix64, next_below, next_u64, next_unit,
                                     stream_seed)

MASK = 2**64 - 1


def reference_next(state: int) -> tuple[int, int]:
    """One SplitMix64 step in Python integers: (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


@nb.njit
def _draws(seed, n, bound):
    # The three draws of each step, from three copies of one stream.
    bits = np.empty(n, dtype=np.uint64)
    below = np.empty(n, dtype=np.int64)
    unit = np.empty(n, dtype=np.float64)
    a = b = c = np.uint64(seed)
    for t in range(n):
        a, bits[t] = next_u64(a)
        b, below[t] = next_below(b, bound)
        c, unit[t] = next_unit(c)
    return bits, below, unit


def test_known_first_output_of_seed_zero():
    # The reference C implementation (Vigna, splitmix64.c) gives 0xE220A8397B1DCDAF first.
    assert int(_draws(0, 1, 1)[0][0]) == 0xE220A8397B1DCDAF
    assert int(GAMMA) == 0x9E3779B97F4A7C15


@settings(deadline=None, max_examples=50)
@given(seed=st.integers(0, MASK), n=st.integers(0, 20), bound=st.integers(1, 2**62))
def test_stream_matches_the_python_reference(seed, n, bound):
    bits, below, unit = _draws(np.uint64(seed), n, bound)
    state = seed
    for t in range(n):
        state, z = reference_next(state)
        assert int(bits[t]) == z
        assert int(below[t]) == z % bound
        assert unit[t] == (z >> 11) / 2.0**53
        assert 0.0 <= unit[t] < 1.0
        assert int(mix64(np.uint64(state))) == z


def test_block_seeds_start_unrelated_streams():
    # seed + j * gamma would make stream j + 1 stream j shifted by one step.
    seeds = [int(stream_seed(7, j)) for j in range(4)]
    assert seeds[0] == 7 and len(set(seeds)) == 4
    gamma = 0x9E3779B97F4A7C15
    assert all((b - a) % 2**64 != gamma for a, b in zip(seeds, seeds[1:]))
