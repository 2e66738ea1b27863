"""The one place recsys writes files and turns values into JSON.

Every output (model ``.npz``, catalogue, benchmark results, plots, EDA figures) goes through
:func:`atomic_write`: a temporary file in the destination folder, fsync, rename. Readers never
see a half-written file, and the file gets the mode ``open()`` would give it (0666 minus the
umask, so 0644 under umask 022), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "jsonable", "file_mode"]

_TMP_SUFFIX = ".tmp"


def file_mode() -> int:
    """0666 minus the process umask: the mode ``open()`` gives a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then rename it there.

    The temporary file is ``.<name>.<pid>.<random>.tmp`` in the same folder (so the rename is
    atomic). It is removed when ``write`` raises; one left by a process that died mid-write is
    removed by the next write to the same path. Parent folders are created. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=_TMP_SUFFIX,
                               dir=path.parent)
    try:
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_json(path: str | os.PathLike, value: Any, **dumps_options) -> Path:
    """Write ``jsonable(value)`` as strict JSON (no NaN) to ``path`` atomically."""
    text = json.dumps(jsonable(value), allow_nan=False, **dumps_options)
    return atomic_write_text(path, text + "\n")


def _remove_orphans(path: Path) -> None:
    # Temporary files of this path whose writer process no longer exists.
    for tmp in path.parent.glob(f".{path.name}.*{_TMP_SUFFIX}"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: dict keys as strings, tuples and arrays as lists, NumPy
    scalars as Python numbers, non-finite floats as None (JSON has no NaN), paths as strings,
    classes by name, a model by its spec ``{"class": ..., "params": ...}``.

    Raises TypeError for anything else, naming its type: a value is never written as its repr.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()] if value.ndim else jsonable(value.item())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, type):
        return value.__name__
    if hasattr(value, "get_params") and callable(value.get_params):
        return {"class": type(value).__name__, "params": jsonable(value.get_params())}
    raise TypeError(f"cannot write a {type(value).__name__} as JSON: {value!r:.80}")
