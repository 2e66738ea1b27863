"""What a benchmark ran on: library versions, threads, CPU, git commit, date.

Every figure in a results file is only as good as the description of the machine that made
it, so the header records it all (see :func:`collect_environment`).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Distributions whose versions the header records (None when not installed).
LIBRARIES = ("recsys", "numpy", "numba", "scipy", "pandas", "scikit-surprise", "implicit",
             "scikit-learn", "matplotlib", "tqdm")
#: Environment variables that set thread counts.
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS")


def library_versions() -> dict[str, str | None]:
    """Installed version of each library in :data:`LIBRARIES`, None where absent."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def numba_threads() -> int | None:
    try:
        import numba
        return int(numba.get_num_threads())
    except Exception:  # numba missing or its threading layer failed to start
        return None


def git_commit(root: str | Path | None = None) -> str | None:
    """The commit of the working tree holding this package (``+dirty`` if it has changes)."""
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def collect_environment() -> dict[str, Any]:
    """The header of a results file.

    Keys: ``date`` (ISO 8601, UTC), ``git_commit``, ``python``, ``platform``, ``cpu``,
    ``cores`` (usable by this process), ``numba_threads``, ``thread_env`` (the thread-count
    environment variables that are set), ``versions`` (library -> version or None).
    """
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "numba_threads": numba_threads(),
        "thread_env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        "versions": library_versions(),
    }


def machine_line(env: dict[str, Any]) -> str:
    """One line for a report: ``AMD EPYC, 2 cores, numba 0.61 (2 threads), numpy 2.4``."""
    v = env.get("versions", {})
    parts = [f"{env.get('cpu', 'unknown CPU')}, {env.get('cores', '?')} cores"]
    if v.get("numba"):
        parts.append(f"numba {v['numba']} ({env.get('numba_threads')} threads)")
    for lib in ("numpy", "scipy", "scikit-surprise", "implicit"):
        if v.get(lib):
            parts.append(f"{lib} {v[lib]}")
    parts.append(f"Python {env.get('python', '?')}")
    return ", ".join(parts)
