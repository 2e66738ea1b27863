"""Load time and peak memory of the MovieLens CSV loader on a synthetic ML-25M-style file.

Writes a synthetic ``ratings.csv`` (``userId,movieId,rating,timestamp``) of ``--n-ratings``
rows once into a temporary cache folder, then times, each in a fresh subprocess so that
peak memory is the process's own:

- ``recsys``: our loader (:func:`recsys.data.movielens.load_csv`: explicit dtypes, C parser,
  header and rating-scale checks), then building the :class:`~recsys.dataset.Dataset`;
- ``naive``: ``pd.read_csv(path)`` with no dtypes (int64/float64 columns, no checks).

Peak memory is the peak resident set size (VmHWM) minus the resident size after
imports, so it counts what loading added. Also times loading ML-100K plus building the
Dataset, in process, when ``$RECSYS_DATA`` (or the cache) holds it.

    python benchmarks/load_benchmark.py --n-ratings 2000000
    python benchmarks/load_benchmark.py                      # 20M ratings
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc; falls back to the peak)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_mib()


def _peak_mib() -> float:
    """Peak resident set size in MiB of this process image.

    Linux's VmHWM restarts at exec; ``ru_maxrss`` would carry over the parent's peak from
    before the fork (the parent here holds the generated data set), so it is the fallback.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def worker(mode: str, folder: Path) -> dict:
    """Run one measurement in this (fresh) process and return its figures."""
    import numpy as np
    import pandas as pd

    from recsys.data.movielens import load_csv
    from recsys.dataset import Dataset

    base = _rss_mib()
    t0 = time.perf_counter()
    if mode == "recsys":
        data = load_csv(folder, "ml-25m")
        t1 = time.perf_counter()
        load_peak = _peak_mib() - base
        frame_mib = data.ratings.memory_usage(deep=True).sum() / 2**20
        ds = Dataset.from_movielens(data)
        t2 = time.perf_counter()
        n = ds.n_ratings
        extra = {"dataset_s": t2 - t1, "n_users": ds.n_users, "n_items": ds.n_items,
                 "with_dataset_peak_mib": _peak_mib() - base}
    elif mode == "naive":
        frame = pd.read_csv(folder / "ratings.csv")
        t1 = time.perf_counter()
        frame_mib = frame.memory_usage(deep=True).sum() / 2**20
        load_peak = _peak_mib() - base
        n = len(frame)
        extra = {"dtypes": [str(t) for t in frame.dtypes]}
        del np
    else:
        raise ValueError(mode)
    return {"mode": mode, "load_s": t1 - t0, "n_ratings": n, "frame_mib": frame_mib,
            "peak_rss_mib": load_peak, **extra}


def _run_worker(mode: str, folder: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(folder)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ensure_csv(n_ratings: int, n_users: int, n_items: int, seed: int, cache: Path) -> Path:
    from recsys.data.synthetic import generate, to_movielens_csv

    folder = cache / f"ml-25m-synthetic-n{n_ratings}-u{n_users}-i{n_items}-s{seed}"
    path = folder / "ratings.csv"
    if path.is_file():
        print(f"using cached {path} ({path.stat().st_size / 2**20:.0f} MiB)")
        return folder
    t0 = time.perf_counter()
    ds = generate(n_users, n_items, n_ratings, seed=seed, name="synthetic")
    t1 = time.perf_counter()
    to_movielens_csv(ds, folder)
    t2 = time.perf_counter()
    print(f"generated {n_ratings:,} ratings in {t1 - t0:.1f} s, wrote {path} "
          f"({path.stat().st_size / 2**20:.0f} MiB) in {t2 - t1:.1f} s")
    return folder


def _ml100k_timing(repeats: int) -> str:
    from recsys.data import find_release, load_dataset
    from recsys.errors import DataNotFoundError

    try:
        folder = find_release("ml-100k")
    except DataNotFoundError:
        return "ML-100K: not found locally (set RECSYS_DATA); skipped"
    load_dataset("ml-100k", data_dir=folder)      # warm: imports, page cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ds = load_dataset("ml-100k", data_dir=folder)
        _ = ds.csr                                 # the CSR most models need first
        times.append(time.perf_counter() - t0)
    return (f"ML-100K load_dataset + CSR ({folder}): median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s over {repeats} runs")


def _version_line() -> str:
    import numba
    import numpy
    import pandas

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return (f"python {platform.python_version()}, numpy {numpy.__version__}, "
            f"pandas {pandas.__version__}, numba {numba.__version__}, commit {commit}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-ratings", type=int, default=20_000_000)
    parser.add_argument("--n-users", type=int, default=None,
                        help="default: ML-25M's users per rating (162,541 per 25M)")
    parser.add_argument("--n-items", type=int, default=None,
                        help="default: ML-25M's movies per rating (59,047 per 25M)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1,
                        help="subprocess runs per loader (the median is reported)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "recsys-load-benchmark",
                        help="where the synthetic CSV is kept between runs")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "FOLDER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return 0

    n = args.n_ratings
    n_users = args.n_users or max(10, round(n * 162_541 / 25_000_095))
    n_items = args.n_items or max(10, round(n * 59_047 / 25_000_095))
    print(_version_line())
    print(_ml100k_timing(repeats=5))
    folder = _ensure_csv(n, n_users, n_items, args.seed, args.cache)

    results = {}
    for mode in ("recsys", "naive"):
        runs = [_run_worker(mode, folder) for _ in range(args.repeats)]
        results[mode] = {key: statistics.median(r[key] for r in runs)
                         for key in ("load_s", "peak_rss_mib", "frame_mib")}
        results[mode]["first"] = runs[0]
    ours, naive = results["recsys"], results["naive"]
    print(f"\n{n:,} ratings, {n_users:,} users, {n_items:,} items "
          f"(median of {args.repeats} subprocess run(s))")
    print(f"{'loader':<26}{'load s':>9}{'peak MiB':>10}{'frame MiB':>11}")
    print(f"{'recsys load_csv':<26}{ours['load_s']:>9.2f}{ours['peak_rss_mib']:>10.0f}"
          f"{ours['frame_mib']:>11.0f}")
    print(f"{'pd.read_csv, no dtypes':<26}{naive['load_s']:>9.2f}{naive['peak_rss_mib']:>10.0f}"
          f"{naive['frame_mib']:>11.0f}")
    print(f"ratio recsys / naive: time {ours['load_s'] / naive['load_s']:.2f}, "
          f"peak memory {ours['peak_rss_mib'] / naive['peak_rss_mib']:.2f}")
    first = ours["first"]
    print(f"Dataset.from_movielens after loading: {first['dataset_s']:.2f} s "
          f"({first['n_users']:,} users, {first['n_items']:,} items); peak with the "
          f"Dataset {first['with_dataset_peak_mib']:.0f} MiB")
    print(f"naive dtypes: {', '.join(naive['first']['dtypes'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
