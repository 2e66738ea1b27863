"""Synthetic ratings: a low-rank model with power-law popularity, for tests and scale runs.

The generator gives each user a Zipf-like number of ratings, draws that many distinct items
per user with Zipf-like item popularity (without replacement), and rates each pair with a
biased low-rank model plus Gaussian noise, rounded to the rating step and clipped to the
scale. The item draws run in a small
Numba kernel and the rest is vectorised NumPy: 20 million ratings take a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np

from recsys.dataset import Dataset
from recsys.kernels.splitmix import next_unit
from recsys.validation import as_generator

_CHUNK = 1 << 20
# Timestamps fall between 2000-01-01 and 2020-01-01 (seconds since the epoch).
_T0, _T1 = 946_684_800, 1_577_836_800


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Weights ``1 / rank**exponent`` assigned to the n ids in a random order, summing to 1."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    w = w[rng.permutation(n)]
    return w / w.sum()


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for drawing from ``p`` in O(1) per draw (Vose's construction)."""
    n = len(p)
    scaled = p * (n / p.sum())
    prob = np.ones(n)
    alias = np.arange(n)
    small = list(np.flatnonzero(scaled < 1.0))
    large = list(np.flatnonzero(scaled >= 1.0))
    scaled = scaled.tolist()
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return prob, alias  # leftovers keep probability 1 (round-off)


def _user_counts(n_ratings: int, n_items: int, weights: np.ndarray) -> np.ndarray:
    """Integer ratings per user, proportional to ``weights``, capped at ``n_items``, summing
    exactly to ``n_ratings`` (water-filling: what a capped user cannot take goes to the rest).
    """
    expected = n_ratings * weights
    capped = np.zeros(len(weights), dtype=bool)
    while True:
        over = (expected > n_items) & ~capped
        if not over.any():
            break
        capped |= over
        if capped.all():
            expected = np.full(len(weights), float(n_items))
            break
        excess = n_ratings - n_items * capped.sum()
        free = weights * ~capped
        expected = np.where(capped, float(n_items), excess * free / free.sum())
    counts = np.floor(expected).astype(np.int64)
    short = n_ratings - int(counts.sum())
    if short > 0:
        # Largest remainders first; a capped user has none.
        remainder = np.where(counts < n_items, expected - counts, -1.0)
        counts[np.argsort(-remainder, kind="stable")[:short]] += 1
    return counts


@numba.njit(cache=True)
def _sample_items_kernel(counts, offsets, prob, alias, log_w, seed, out):
    """Draw ``counts[u]`` distinct items for every user ``u`` into ``out[offsets[u]:]``.

    Items are drawn without replacement with weights ``exp(log_w)``. A user who rates at
    most a quarter of the catalogue draws from the alias table ``(prob, alias)``
    (Walker's method, one uniform per draw), skipping items they already have; a user
    who rates more, or is still short after ``3 * count + 64`` draws, finishes with
    Gumbel top-k over the items they lack (Efraimidis-Spirakis), which samples the same
    distribution. Each user's items come out sorted. The uniforms come from a local
    SplitMix64 stream started at the integer ``seed`` (no global random state), so the
    result depends on the arguments only.
    """
    state = np.uint64(seed)
    n_items = prob.shape[0]
    owner = np.full(n_items, -1, dtype=np.int64)   # owner[i] == u: user u already has i
    for u in range(counts.shape[0]):
        c = counts[u]
        start = offsets[u]
        if c == n_items:
            for i in range(n_items):
                out[start + i] = i
            continue
        got = 0
        budget = 3 * c + 64 if 4 * c <= n_items else 0
        while got < c and budget > 0:
            budget -= 1
            state, x = next_unit(state)
            x *= n_items
            i = min(int(x), n_items - 1)
            if x - i >= prob[i]:
                i = alias[i]
            if owner[i] != u:
                owner[i] = u
                out[start + got] = i
                got += 1
        if got < c:
            free = np.empty(n_items - got, dtype=np.int64)
            keys = np.empty(n_items - got, dtype=np.float64)
            m = 0
            for i in range(n_items):
                if owner[i] != u:
                    free[m] = i
                    state, uniform = next_unit(state)
                    keys[m] = np.log(-np.log(uniform + 1e-300)) - log_w[i]
                    m += 1
            order = np.argsort(keys[:m])
            for j in range(c - got):
                out[start + got + j] = free[order[j]]
        out[start:start + c].sort()


def _rate(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, rank: int,
          noise: float, scale: tuple[float, float], rating_step: float,
          rng: np.random.Generator) -> np.ndarray:
    """float32 ratings of the (user, item) pairs from the biased low-rank model of
    :func:`generate`, rounded to the step and clipped to the scale."""
    lo, hi = scale
    # Factors with entries N(0, rank**-0.5): each p_u . q_i has unit variance.
    std = rank ** -0.25
    P = (rng.standard_normal((n_users, rank)) * std).astype(np.float32)
    Q = (rng.standard_normal((n_items, rank)) * std).astype(np.float32)
    bu = rng.standard_normal(n_users).astype(np.float32)
    bi = rng.standard_normal(n_items).astype(np.float32)
    mid = lo + 0.6 * (hi - lo)
    spread = (hi - lo) / 4
    n_ratings = len(users)
    ratings = np.empty(n_ratings, dtype=np.float32)
    for start in range(0, n_ratings, _CHUNK):
        u = users[start:start + _CHUNK]
        i = items[start:start + _CHUNK]
        dot = np.einsum("ij,ij->i", P[u], Q[i])
        ratings[start:start + _CHUNK] = (
            mid + spread * (0.3 * bu[u] + 0.3 * bi[i] + 0.8 * dot)
            + noise * rng.standard_normal(len(u), dtype=np.float32)
        )
    if rating_step > 0:
        # Round to the grid lo, lo + step, ... and clip to its last point inside the scale.
        top = np.floor((hi - lo) / rating_step + 1e-9)
        np.round((ratings - lo) / rating_step, out=ratings)
        np.clip(ratings, 0, top, out=ratings)
        ratings *= rating_step
        ratings += lo
    else:
        np.clip(ratings, lo, hi, out=ratings)
    return ratings


def generate(
    n_users: int,
    n_items: int,
    n_ratings: int,
    rank: int = 10,
    noise: float = 0.5,
    item_exponent: float = 1.0,
    user_exponent: float = 1.0,
    rating_scale: tuple[float, float] = (1.0, 5.0),
    rating_step: float = 0.5,
    seed: int | np.random.Generator | None = 0,
    name: str = "synthetic",
    timestamps: bool = True,
) -> Dataset:
    """A synthetic ratings Dataset from a biased low-rank model.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the id spaces; raw ids are ``1..n_users`` and ``1..n_items``. Some users
        or items may end up with no rating (their counts are 0).
    n_ratings : int
        Exact number of ratings, at most ``n_users * n_items``; no (user, item) pair repeats.
    rank : int
        Latent dimension of the model ``r = mid + spread * (0.3 b_u + 0.3 b_i + 0.8 p_u . q_i)
        + noise * eps`` with standard normal biases, ``p_u . q_i`` of unit variance, and
        ``spread`` a quarter of the scale's width.
    noise : float
        Standard deviation of the Gaussian noise, in rating units.
    item_exponent, user_exponent : float
        Zipf exponents: the k-th most popular item is drawn with weight ``k**-item_exponent``
        (0 gives uniform), likewise for user activity.
    rating_scale : (float, float)
        Ratings lie in this interval.
    rating_step : float
        Ratings are rounded to ``lo + k * rating_step`` (clipped to the last such value
        inside the scale); 0 keeps them continuous.
    seed : int, Generator or None
        Seed of the only random generator used; same seed, same data set.
    name : str
        The Dataset's name.
    timestamps : bool
        Draw random timestamps (8 bytes a rating). False leaves them 0 (unknown), which at
        scale saves memory: the Dataset's zeros are never written, so the operating system
        gives them no pages. The other arrays are the same either way.

    Returns
    -------
    Dataset
        Ratings sorted by (user, item), float32, with random timestamps in 2000-2019
        (or 0, see ``timestamps``).
    """
    n_users, n_items, n_ratings = int(n_users), int(n_items), int(n_ratings)
    if n_users < 1 or n_items < 1 or n_ratings < 0:
        raise ValueError("n_users and n_items must be >= 1 and n_ratings >= 0")
    if n_ratings > n_users * n_items:
        raise ValueError(f"n_ratings={n_ratings} exceeds n_users * n_items = "
                         f"{n_users * n_items}: pairs cannot repeat")
    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")
    lo, hi = float(rating_scale[0]), float(rating_scale[1])
    if not hi > lo:
        raise ValueError(f"rating_scale must be (low, high) with low < high, got {rating_scale}")
    rng = as_generator(seed)

    pu = _zipf_weights(n_users, user_exponent, rng)
    pi = _zipf_weights(n_items, item_exponent, rng)
    counts = _user_counts(n_ratings, n_items, pu)
    offsets = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    prob, alias = _alias_table(pi)
    items = np.empty(n_ratings, dtype=np.int32)
    _sample_items_kernel(counts, offsets, prob, alias.astype(np.int32), np.log(pi),
                         int(rng.integers(2**31 - 1)), items)
    users = np.repeat(np.arange(n_users, dtype=np.int32), counts)

    ratings = _rate(users, items, n_users, n_items, rank, noise, (lo, hi), rating_step, rng)
    times = rng.integers(_T0, _T1, size=n_ratings, dtype=np.int64) if timestamps else None
    return Dataset(users, items, ratings, times,
                   np.arange(1, n_users + 1, dtype=np.int64),
                   np.arange(1, n_items + 1, dtype=np.int64), (lo, hi), name=name)


def to_movielens_csv(ds: Dataset, path: str | Path, chunk_rows: int = 1 << 20) -> Path:
    """Write ``ds`` as an ML-25M style ``ratings.csv`` (``userId,movieId,rating,timestamp``).

    ``path`` is the file, or a folder (created if needed) to hold ``ratings.csv``. Raw ids
    are written; ratings as ``4.0``/``3.5`` like GroupLens does
    (seven significant digits if they are not multiples of 0.5). Returns the file written.
    """
    import pandas as pd

    path = Path(path)
    if path.suffix != ".csv":
        path.mkdir(parents=True, exist_ok=True)
        path = path / "ratings.csv"
    halves = bool(np.all(np.round(ds.ratings * 2) == ds.ratings * 2))
    float_format = "%.1f" if halves else "%.7g"
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for start in range(0, ds.n_ratings, chunk_rows):
            stop = start + chunk_rows
            pd.DataFrame({
                "userId": ds.user_ids[ds.users[start:stop]],
                "movieId": ds.item_ids[ds.items[start:stop]],
                "rating": ds.ratings[start:stop].astype(np.float64),
                "timestamp": ds.timestamps[start:stop],
            }).to_csv(f, header=False, index=False, float_format=float_format)
    tmp.replace(path)
    return path


def generate_from_options(options: list[str] | dict) -> Dataset:
    """:func:`generate` from ``KEY=VALUE`` strings (the CLI's ``--synthetic`` options) or a
    dict: each key must be a parameter of :func:`generate`; values are read as int, float,
    a ``LO,HI`` pair (``rating_scale``) or, for ``name``, text. ValueError naming the option
    for anything else. ``n_users``, ``n_items`` and ``n_ratings`` are required."""
    import inspect

    valid = list(inspect.signature(generate).parameters)
    if isinstance(options, dict):
        items = [(str(k), v) for k, v in options.items()]
    else:
        items = []
        for option in options:
            key, sep, value = str(option).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"synthetic option {option!r}: expected KEY=VALUE")
            items.append((key.strip(), value.strip()))
    kwargs: dict = {}
    for key, value in items:
        if key not in valid:
            raise ValueError(f"synthetic option {key!r}: generate has no such parameter "
                             f"(valid: {', '.join(valid)})")
        kwargs[key] = _option_value(key, value)
    missing = [k for k in ("n_users", "n_items", "n_ratings") if k not in kwargs]
    if missing:
        raise ValueError(f"synthetic data needs {', '.join(missing)} (KEY=VALUE)")
    return generate(**kwargs)


def _option_value(key: str, value):
    if not isinstance(value, str):
        return value
    if key == "name":
        return value
    if key == "rating_scale":
        parts = value.split(",")
        if len(parts) != 2:
            raise ValueError(f"synthetic option rating_scale={value!r}: expected LO,HI")
        return tuple(_number(key, p) for p in parts)
    return _number(key, value)


def _number(key: str, text: str) -> int | float:
    text = text.strip().replace("_", "")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    raise ValueError(f"synthetic option {key}={text!r}: not a number")
