"""SplitMix64: the one random stream of the kernels.

Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014. The
state is a single uint64 advanced by the golden-ratio increment :data:`GAMMA`; each output
is the state passed through the mixer :func:`mix64`. A kernel keeps its state in a local
variable, so no kernel touches NumPy's or Numba's global random state, and a stream is fully
determined by its integer seed.

Every function here is ``inline="always"`` and works on ``numpy.uint64`` scalars (a state
is threaded through the calls: ``state, bits = next_u64(state)``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: SplitMix64's increment (2**64 / golden ratio).
GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_POW_M53 = 1.0 / 9007199254740992.0


@nb.njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64's output function: 64 well-mixed bits (uint64) from a state (uint64)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@nb.njit(cache=True, inline="always")
def next_u64(state):
    """One step: ``(new state, 64 random bits)``, both uint64."""
    state = state + GAMMA
    return state, mix64(state)


@nb.njit(cache=True, inline="always")
def next_below(state, n):
    """``(new state, an int64 uniform in [0, n))`` for ``n >= 1``; the modulo bias is
    below ``n / 2**64``."""
    state, z = next_u64(state)
    return state, np.int64(z % np.uint64(n))


@nb.njit(cache=True, inline="always")
def next_unit(state):
    """``(new state, a float64 uniform in [0, 1))`` from the top 53 bits."""
    state, z = next_u64(state)
    return state, np.float64(z >> _S11) * _TWO_POW_M53


@nb.njit(cache=True, inline="always")
def stream_seed(seed, j):
    """Seed (uint64) of the ``j``-th of several independent streams derived from ``seed``.

    Stream 0 keeps ``seed`` (so a single stream is the plain one); stream ``j > 0`` starts
    at SplitMix64's output for state ``seed + j * GAMMA``, an unrelated point of the cycle
    (seeding it ``seed + j * GAMMA`` itself would make each stream its neighbour's shifted
    by one step).
    """
    if j == 0:
        return np.uint64(seed)
    return mix64(np.uint64(seed) + np.uint64(j) * GAMMA)
