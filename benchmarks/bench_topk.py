"""Micro-benchmark: per-row top-k selection.

Compares, on the same matrices in the same run:

- ``topk_rows`` (recsys.topk over the kernel of recsys.kernels.topk: a bounded heap per
  row, Numba, parallel over rows), with Numba's default thread count and with one thread;
- ``argpartition``: ``np.argpartition`` to the k largest per row, then a sort of those k;
- ``argsort``: a full ``np.argsort`` of every row, keeping the last k.

Prints the compile time of the kernel separately (a fresh compile of the outer kernel with
the on-disk cache bypassed, and the first call in this process, which loads from the cache
when there is one), then the median (and min) of repeated warm runs, ratios against ``topk_rows``,
and the peak memory each method allocates through NumPy (tracemalloc; the kernel's
per-row heaps of k entries are Numba allocations and not counted). Finally it times
``evaluate_topn`` on ML-100K (the u1 fold when RECSYS_DATA is set, random data of the
same shape otherwise) with a dense score function.

Usage: python benchmarks/bench_topk.py [--repeats 5] [--k 10] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import subprocess
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np
import scipy

from recsys.kernels import topk as topk_module
from recsys.topk import topk_rows

SIZES = {
    "ML-100K (943 x 1682)": (943, 1682),
    "ml-latest-small (610 x 9724)": (610, 9724),
    "ML-1M (6040 x 3706)": (6040, 3706),
    "large (10000 x 27000)": (10000, 27000),
}


def by_argpartition(scores: np.ndarray, k: int) -> np.ndarray:
    n = scores.shape[1]
    kk = min(k, n)
    part = np.argpartition(scores, n - kk, axis=1)[:, n - kk:]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def by_argsort(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(scores, axis=1)[:, ::-1][:, :k]


def by_topk(scores: np.ndarray, k: int) -> np.ndarray:
    return topk_rows(scores, k)[0]


def by_topk_1thread(scores: np.ndarray, k: int) -> np.ndarray:
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return topk_rows(scores, k)[0]
    finally:
        numba.set_num_threads(before)


METHODS = {
    "topk_rows": by_topk,
    "topk_rows (1 thread)": by_topk_1thread,
    "argpartition+sort": by_argpartition,
    "full argsort": by_argsort,
}


def run_times(fn, repeats: int) -> tuple[float, float]:
    """(median, min) wall seconds; the min shows the cost without interference from other
    processes on a shared machine, the median what a caller can expect."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def peak_numpy_bytes(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def header() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = "?"
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"date {_dt.datetime.now().isoformat(timespec='seconds')} | commit {commit} | "
            f"python {platform.python_version()} | numpy {np.__version__} | "
            f"numba {numba.__version__} | scipy {scipy.__version__}\n"
            f"cpu {cpu} | os.cpu_count {os.cpu_count()} | numba threads "
            f"{numba.get_num_threads()} (threading layer chosen at first parallel call)")


def compile_times(k: int) -> None:
    small = np.random.default_rng(0).random((4, 50), dtype=np.float32)
    out_idx = np.empty((4, k), np.int64)
    out_val = np.empty((4, k), np.float32)
    t0 = time.perf_counter()
    topk_rows(small, k)
    first = time.perf_counter() - t0
    stats = topk_module.topk_rows_kernel.stats
    # A fresh dispatcher of the same Python function, without the disk cache: the real
    # compile cost of the parallel outer kernel (the inlined helpers come along with it).
    fresh = numba.njit(parallel=True)(topk_module.topk_rows_kernel.py_func)
    t0 = time.perf_counter()
    fresh(small, k, out_idx, out_val)
    compile_s = time.perf_counter() - t0
    print(f"first call in this process (float32): {first * 1e3:.1f} ms "
          f"(cache hits {dict(stats.cache_hits)}, misses {dict(stats.cache_misses)})")
    print(f"fresh compile, cache bypassed (float32): {compile_s:.2f} s")


def bench_matrix(label: str, shape, k: int, repeats: int, check: bool) -> None:
    rng = np.random.default_rng(42)
    scores = rng.random(shape, dtype=np.float32)
    mb = scores.nbytes / 2**20
    print(f"\n## {label}, float32 ({mb:.0f} MiB), k={k}, median of {repeats}")
    ref_vals = np.take_along_axis(scores, topk_rows(scores, k)[0], axis=1)
    results = {}
    for name, fn in METHODS.items():
        fn(scores, k)  # warm (caches, page faults, thread pool)
        if check:
            got = np.take_along_axis(scores, fn(scores, k), axis=1)
            if not np.array_equal(got, ref_vals):
                raise AssertionError(f"{name} disagrees with topk_rows on {label}")
        med, best = run_times(lambda: fn(scores, k), repeats)
        peak = peak_numpy_bytes(lambda: fn(scores, k))
        results[name] = (med, best, peak)
    base_med, base_best, _ = results["topk_rows"]
    print(f"{'method':24s} {'median':>10s} {'ratio':>7s} {'min':>10s} {'ratio':>7s} "
          f"{'peak alloc':>12s}")
    for name, (med, best, peak) in results.items():
        print(f"{name:24s} {med * 1e3:7.1f} ms {med / base_med:6.1f}x {best * 1e3:7.1f} ms "
              f"{best / base_best:6.1f}x {peak / 2**20:8.1f} MiB")


def bench_evaluate(repeats: int) -> None:
    import pandas as pd

    from recsys.dataset import Dataset
    from recsys.evaluation import evaluate_topn

    root = os.environ.get("RECSYS_DATA")
    u1 = Path(root) / "ml-100k" / "u1.base" if root else None
    if u1 is not None and u1.is_file():
        cols = ["user", "item", "rating", "timestamp"]
        base = pd.read_csv(u1, sep="\t", names=cols)
        test = pd.read_csv(u1.with_name("u1.test"), sep="\t", names=cols)
        full = Dataset.from_frame(pd.concat([base, test]))
        train = Dataset.from_frame(base, user_ids=full.user_ids, item_ids=full.item_ids)
        test = Dataset.from_frame(test, user_ids=full.user_ids, item_ids=full.item_ids)
        source = "ML-100K u1.base / u1.test"
    else:
        rng = np.random.default_rng(0)
        pairs = rng.choice(943 * 1682, size=100_000, replace=False)
        u, i = pairs // 1682, pairs % 1682
        r = rng.integers(1, 6, size=u.size)
        is_test = rng.random(u.size) < 0.2
        ids_u, ids_i = np.arange(943), np.arange(1682)
        train = Dataset(u[~is_test], i[~is_test], r[~is_test], None, ids_u, ids_i)
        test = Dataset(u[is_test], i[is_test], r[is_test], None, ids_u, ids_i)
        source = "random data of ML-100K shape (RECSYS_DATA not set)"
    rng = np.random.default_rng(1)
    p = rng.standard_normal((train.n_users, 32)).astype(np.float32)
    q = rng.standard_normal((train.n_items, 32)).astype(np.float32)
    dense = p @ q.T

    def fn_precomputed(users):
        return dense[users]

    def fn_factors(users):
        return p[users] @ q.T

    print(f"\n## evaluate_topn on {source}, k=10, median of {repeats}")
    for name, fn in (("precomputed dense scores", fn_precomputed),
                     ("factor product per batch (rank 32)", fn_factors)):
        evaluate_topn(fn, train, test, k=10)
        med, best = run_times(lambda: evaluate_topn(fn, train, test, k=10), repeats)
        res = evaluate_topn(fn, train, test, k=10)
        print(f"{name:36s} median {med * 1e3:6.1f} ms, min {best * 1e3:6.1f} ms "
              f"({res.users.size} users evaluated)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="skip the 10000 x 27000 matrix")
    parser.add_argument("--no-check", action="store_true",
                        help="skip comparing every method's top-k values with topk_rows")
    args = parser.parse_args()
    print(header())
    print()
    compile_times(args.k)
    for label, shape in SIZES.items():
        if args.quick and shape[0] * shape[1] > 50_000_000:
            continue
        big = shape[0] * shape[1] > 50_000_000
        bench_matrix(label, shape, args.k, max(3, args.repeats // 2) if big else args.repeats,
                     check=not args.no_check)
    bench_evaluate(args.repeats)


if __name__ == "__main__":
    main()
