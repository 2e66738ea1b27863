"""Per-user results of a benchmark run, saved beside results.json so paired tests, intervals
over users and later analyses can be recomputed without rerunning.

One ``.npz`` file per run (``per_user.npz``; results.json's ``header.per_user_file`` names
it), written atomically and read with ``allow_pickle=False``. Its arrays:

- ``format_version``: int64 scalar (1);
- ``dataset``, ``split``, ``fold``, ``model``, ``metric``: str arrays (n_entries,), the key of
  each entry (as in ``BenchResult.per_user``);
- ``offsets``: int64 (n_entries + 1,): entry ``e`` owns ``users[offsets[e]:offsets[e + 1]]``;
- ``users``: int64, the internal user indices of the data set as the run loaded it;
- ``values``: float64, the metric's value for each of those users.

:func:`read_per_user` gives back the dict
``{(dataset, split, fold, model, metric): (users, values)}``, equal to the run's
``BenchResult.per_user``; :func:`per_user_frame` a long pandas table of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from recsys.errors import RecsysError
from recsys.io import atomic_write

__all__ = ["PER_USER_FILE", "FORMAT_VERSION", "write_per_user", "read_per_user",
           "per_user_frame", "PerUserFileError"]

PER_USER_FILE = "per_user.npz"
FORMAT_VERSION = 1
_KEYS = ("dataset", "split", "fold", "model", "metric")


class PerUserFileError(RecsysError, ValueError):
    """A per-user results file is missing, unreadable or malformed (the message names it)."""


def write_per_user(path: str | os.PathLike, per_user: dict) -> Path:
    """Write ``{(dataset, split, fold, model, metric): (users, values)}`` to ``path``
    atomically (format in the module docstring); returns the path."""
    entries = list(per_user.items())
    for key, (users, values) in entries:
        if len(key) != len(_KEYS):
            raise ValueError(f"per-user key {key!r} is not (dataset, split, fold, model, "
                             "metric)")
        if np.shape(users) != np.shape(values):
            raise ValueError(f"per-user entry {key!r}: {np.size(users)} users for "
                             f"{np.size(values)} values")
    sizes = [int(np.size(users)) for _, (users, _) in entries]
    arrays = {name: np.array([str(k[j]) for k, _ in entries], dtype=str)
              for j, name in enumerate(_KEYS)}
    arrays["offsets"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    arrays["users"] = (np.concatenate([np.asarray(u, dtype=np.int64).ravel()
                                       for _, (u, _) in entries])
                       if entries else np.zeros(0, np.int64))
    arrays["values"] = (np.concatenate([np.asarray(v, dtype=np.float64).ravel()
                                        for _, (_, v) in entries])
                        if entries else np.zeros(0, np.float64))
    arrays["format_version"] = np.int64(FORMAT_VERSION)
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))


def read_per_user(path: str | os.PathLike) -> dict:
    """Read a file :func:`write_per_user` wrote (or the ``per_user.npz`` of a results
    folder, when ``path`` is a folder) back into the per-user dict.

    Raises
    ------
    PerUserFileError
        The file is missing, not an npz, lacks an array, has another format version, or its
        offsets do not fit its arrays (the message names the file and the problem).
    """
    path = Path(path)
    if path.is_dir():
        path = path / PER_USER_FILE
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise PerUserFileError(f"{path}: no per-user results file (a run writes "
                               f"{PER_USER_FILE} beside results.json)") from None
    except (OSError, ValueError) as exc:
        raise PerUserFileError(f"{path}: not a per-user results file ({exc})") from None
    with npz:
        missing = [k for k in (*_KEYS, "offsets", "users", "values", "format_version")
                   if k not in npz.files]
        if missing:
            raise PerUserFileError(f"{path}: no array {missing[0]!r}")
        version = int(npz["format_version"])
        if version != FORMAT_VERSION:
            raise PerUserFileError(f"{path}: format version {version}, this recsys reads "
                                   f"{FORMAT_VERSION}")
        keys = [npz[k] for k in _KEYS]
        offsets, users, values = npz["offsets"], npz["users"], npz["values"]
    n = keys[0].size
    if (any(k.shape != (n,) for k in keys) or offsets.shape != (n + 1,)
            or users.shape != values.shape or (n and (offsets[0] != 0
                                                       or offsets[-1] != users.size
                                                       or np.any(np.diff(offsets) < 0)))):
        raise PerUserFileError(f"{path}: the key arrays, offsets, users and values do not "
                               "fit together")
    out = {}
    for e in range(n):
        key = tuple(str(k[e]) for k in keys)
        lo, hi = int(offsets[e]), int(offsets[e + 1])
        out[key] = (users[lo:hi].copy(), values[lo:hi].copy())
    return out


def per_user_frame(per_user: dict):
    """The per-user dict as a long pandas DataFrame: dataset, split, fold, model, metric,
    user, value (one row per user and entry)."""
    import pandas as pd

    parts = []
    for key, (users, values) in per_user.items():
        frame = pd.DataFrame({"user": np.asarray(users, dtype=np.int64),
                              "value": np.asarray(values, dtype=np.float64)})
        for name, v in zip(_KEYS, key):
            frame.insert(len(frame.columns) - 2, name, v)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=[*_KEYS, "user", "value"])
    return pd.concat(parts, ignore_index=True)
