"""Fit time of our ImplicitALS and BPR against the ``implicit`` library, same run, same data.

On ML-100K (all 100,000 ratings) and on a larger synthetic matrix
(``recsys.data.synthetic.generate``, power-law users and items), each fitted with the same
hyperparameters by both libraries:

- ALS: 64 factors, 15 iterations, 3 CG steps (and our exact Cholesky solver alongside, on
  the synthetic set only with ``--cholesky-synthetic``);
  ``implicit`` gets the confidence matrix ``1 + alpha * X`` with its alpha = 1 (see
  benchmarks/topn_accuracy.py); both with the same thread count (Numba's).
- BPR: 64 factors, ``--bpr-epochs`` epochs of nnz samples; our serial mode against
  ``implicit`` with ``num_threads=1``, and our Hogwild mode against ``implicit`` with the
  same thread count as ours. Ours twice: the default sampling (uniform negatives, redrawn
  when positive) and ``implicit``'s (popularity negatives, sample skipped when positive:
  the like-for-like row). Redrawing costs more on users who have most of the catalogue,
  which the synthetic set (Zipf activity, capped at every item) has.

The JIT is warmed on a tiny problem first; compile time is reported separately (a fresh
compile with the on-disk cache bypassed, and the first call in this process, which loads
from the cache when there is one). Figures are the median (and min) over ``--repeats``
fits, and ratios ours / implicit from the same run.

``speed_rows(quick)`` returns the ImplicitALS row of benchmarks/speed.py: both fitted on
ML-100K's u1.base with the same hyperparameters, thread count and input (confidence
``1 + alpha * r``; BLAS held to one thread for both where threadpoolctl is installed, as
``implicit`` advises), timed as medians of interleaved fits, and scored on u1.test
(NDCG@10, relevant = rating >= 4) so the ratio is read at equal accuracy.

Usage: RECSYS_DATA=/path python benchmarks/bench_ials_bpr.py [--repeats 3] [--quick]
       [--speed-rows]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
import warnings

import numba
import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.kernels import bpr as bpr_kernels
from recsys.kernels import ials as ials_kernels
from recsys.models import BPR, ImplicitALS
from recsys.models._implicit import positives_csr

FACTORS = 64
ALS_ITERS = 15
ALPHA = 2.0


def timed(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def first_calls() -> dict[str, float]:
    """Seconds of the first call of each kernel in this process, on a tiny problem: a
    compile, or a load from Numba's on-disk cache when it has the kernel."""
    rng = np.random.default_rng(0)
    m = sp.random(20, 15, density=0.3, format="csr", random_state=0, dtype=np.float32)
    m.sort_indices()
    indptr, indices = m.indptr.astype(np.int64), m.indices.astype(np.int32)
    conf = np.full(m.nnz, 3.0, dtype=np.float32)
    pair_users = np.repeat(np.arange(20, dtype=np.int32), np.diff(indptr))

    def als_args(exact):
        X = rng.random((20, 8), dtype=np.float32)
        Y = rng.random((15, 8), dtype=np.float32)
        return (indptr, indices, conf, X, Y, ials_kernels.gram_matrix(Y),
                np.ones(20, dtype=np.float32), 3, exact)

    def bpr_args(hogwild):
        P = rng.random((20, 8), dtype=np.float32)
        Q = rng.random((15, 8), dtype=np.float32)
        seed = np.arange(2, dtype=np.uint64) if hogwild else np.uint64(1)
        return (indptr, indices, pair_users, 100, seed, P, Q, np.zeros(15, np.float32),
                0.05, 0.01, True, False, 100)

    out = {}
    for name, kernel, args in (
            ("ials_half_step", ials_kernels.ials_half_step, als_args(False)),
            ("bpr_epoch", bpr_kernels.bpr_epoch, bpr_args(False)),
            ("bpr_epoch_hogwild", bpr_kernels.bpr_epoch_hogwild, bpr_args(True))):
        t = time.perf_counter()
        kernel(*args)
        out[name] = time.perf_counter() - t
    return out


def compile_times() -> None:
    """Fresh compile (a child process with an empty NUMBA_CACHE_DIR, so every helper is
    compiled too) and the first call in this process (usually a cache load)."""
    import json
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        child = subprocess.run([sys.executable, __file__, "--first-calls-only"], env=env,
                               capture_output=True, text=True, check=True)
    fresh = json.loads(child.stdout.strip().splitlines()[-1])
    here = first_calls()
    for name in here:
        print(f"  compile {name:<18} fresh {fresh[name]:6.2f} s   first call here "
              f"(cache load or compile) {here[name]:6.2f} s")


def ml100k() -> Dataset:
    from recsys.data import load_dataset

    return load_dataset("ml-100k", os.environ.get("RECSYS_DATA"))


def synthetic(n_users: int, n_items: int, n_ratings: int) -> Dataset:
    try:
        from recsys.data.synthetic import generate
    except ImportError:  # before the synthetic generator lands: uniform random pairs
        rng = np.random.default_rng(0)
        keys = np.unique(rng.integers(0, n_users * n_items, size=n_ratings))
        return Dataset(keys // n_items, keys % n_items, np.ones(len(keys)), None,
                       np.arange(n_users), np.arange(n_items), (1.0, 5.0), name="synthetic")
    return generate(n_users, n_items, n_ratings, seed=0)


def bench(name: str, ds: Dataset, repeats: int, bpr_epochs: int, cholesky: bool) -> None:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    threads = numba.get_num_threads()
    X = positives_csr(ds.csr, None)
    C = X.copy()
    C.data = (1.0 + ALPHA * C.data).astype(np.float32)
    print(f"\n## {name}: {ds.n_users} users x {ds.n_items} items, {X.nnz} positives; "
          f"{threads} threads; median (min) of {repeats}")

    def ours_als(solver):
        return lambda: ImplicitALS(n_factors=FACTORS, alpha=ALPHA, reg=30.0,
                                   n_iterations=ALS_ITERS, solver=solver, seed=0).fit(ds)

    def theirs_als():
        AlternatingLeastSquares(factors=FACTORS, regularization=30.0, alpha=1.0,
                                iterations=ALS_ITERS, use_gpu=False, num_threads=threads,
                                random_state=0).fit(C, show_progress=False)

    def ours_bpr(parallel, like_implicit=False):
        sampling = dict(negative_sampling="popularity", redraw_negatives=False) \
            if like_implicit else {}
        return lambda: BPR(n_factors=FACTORS, learning_rate=0.05, reg=0.003,
                           n_epochs=bpr_epochs, parallel=parallel, seed=0,
                           **sampling).fit(ds)

    def theirs_bpr(n_threads):
        return lambda: BayesianPersonalizedRanking(
            factors=FACTORS, learning_rate=0.05, regularization=0.003,
            iterations=bpr_epochs, use_gpu=False, num_threads=n_threads,
            random_state=0).fit(X, show_progress=False)

    groups = [
        (f"ALS {ALS_ITERS} it, CG 3 steps", [
            ("ours ImplicitALS cg", ours_als("cg"))]
         + ([("ours ImplicitALS cholesky", ours_als("cholesky"))] if cholesky else [])
         + [("implicit ALS cg", theirs_als)]),
        (f"BPR {bpr_epochs} epochs, 1 thread", [
            ("ours BPR serial, default", ours_bpr(False)),
            ("ours BPR serial, implicit's", ours_bpr(False, True)),
            ("implicit BPR num_threads=1", theirs_bpr(1))]),
        (f"BPR {bpr_epochs} epochs, {threads} threads", [
            ("ours BPR hogwild, default", ours_bpr(True)),
            ("ours BPR hogwild, implicit's", ours_bpr(True, True)),
            (f"implicit BPR num_threads={threads}", theirs_bpr(threads))]),
    ]
    for title, runs in groups:
        print(f"  {title}")
        results = {label: timed(fn, repeats) for label, fn in runs}
        ref = results[runs[-1][0]][0]
        for label, (med, low) in results.items():
            print(f"    {label:<30} {med:8.3f} s ({low:.3f})   x{med / ref:5.2f} of implicit")


ALS_GOAL = 1.5


def _one_blas_thread():
    """threadpoolctl's limit of BLAS to one thread, or a no-op context without it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext(), False
    return threadpool_limits(limits=1, user_api="blas"), True


def als_speed_row(repeats: int) -> dict:
    """ImplicitALS vs implicit's ALS on u1.base: seconds, ratio and NDCG@10 on u1.test."""
    import warnings

    from implicit.als import AlternatingLeastSquares

    from recsys.data import load_dataset
    from recsys.evaluation import evaluate_topn
    from recsys.split import official_folds

    warnings.filterwarnings("ignore", module="implicit")
    data_dir = os.environ.get("RECSYS_DATA")
    fold = official_folds(load_dataset("ml-100k", data_dir), data_dir, names=("u1",))[0]
    train, test = fold.train, fold.test
    threads = numba.get_num_threads()
    C = positives_csr(train.csr, None)
    C.data = (1.0 + ALPHA * C.data).astype(np.float32)
    params = dict(n_factors=FACTORS, alpha=ALPHA, reg=30.0, n_iterations=ALS_ITERS, seed=0)

    def theirs():
        model = AlternatingLeastSquares(factors=FACTORS, regularization=30.0, alpha=1.0,
                                        iterations=ALS_ITERS, use_gpu=False,
                                        num_threads=threads, random_state=0)
        model.fit(C, show_progress=False)
        return model

    limit, capped = _one_blas_thread()
    ours_t, theirs_t = [], []
    with limit:
        ImplicitALS(**{**params, "n_iterations": 1}).fit(train)  # JIT warm-up
        theirs()
        for _ in range(repeats):
            t = time.perf_counter()
            ours = ImplicitALS(**params).fit(train)
            ours_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            peer = theirs()
            theirs_t.append(time.perf_counter() - t)
    U, V = np.asarray(peer.user_factors), np.asarray(peer.item_factors)

    def ndcg(score):
        return float(evaluate_topn(score, train, test, k=10, relevance_threshold=4.0,
                                   metrics=("ndcg",)).means["ndcg@10"])

    ndcg_ours, ndcg_peer = ndcg(ours.score_items), ndcg(lambda u: U[u] @ V.T)
    ours_s, peer_s = statistics.median(ours_t), statistics.median(theirs_t)
    ratio = peer_s / ours_s
    return {"row": f"ImplicitALS vs implicit ALS, ML-100K u1.base, {FACTORS} factors, "
                   f"{ALS_ITERS} it, CG 3 steps",
            "ours_s": ours_s, "peer_s": peer_s, "ratio": ratio, "goal": f">= {ALS_GOAL:g}x "
            "at equal NDCG@10",
            "met": bool(ratio >= ALS_GOAL and abs(ndcg_ours - ndcg_peer) < 0.005),
            "ndcg10_ours": ndcg_ours, "ndcg10_peer": ndcg_peer, "threads": threads,
            "blas_one_thread": capped, "repeats": repeats,
            "load_avg": [round(v, 2) for v in os.getloadavg()]}


def speed_rows(quick: bool) -> list[dict]:
    """The ImplicitALS row of benchmarks/speed.py (3 interleaved fits each, 5 without quick)."""
    return [als_speed_row(3 if quick else 5)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bpr-epochs", type=int, default=20)
    ap.add_argument("--synthetic", type=int, nargs=3, default=[20_000, 10_000, 1_000_000],
                    metavar=("USERS", "ITEMS", "RATINGS"))
    ap.add_argument("--cholesky-synthetic", action="store_true",
                    help="also time the exact solver on the synthetic set (slow)")
    ap.add_argument("--quick", action="store_true", help="one repeat, smaller synthetic set")
    ap.add_argument("--first-calls-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--speed-rows", action="store_true",
                    help="print only speed_rows(--quick), the rows of benchmarks/speed.py")
    args = ap.parse_args()
    if args.speed_rows:
        for row in speed_rows(args.quick):
            print(row)
        return
    if args.first_calls_only:  # the child process of compile_times
        import json

        print(json.dumps(first_calls()))
        return
    if args.quick:
        args.repeats = 1
        args.synthetic = [20_000, 10_000, 500_000]
    warnings.filterwarnings("ignore", module="implicit")  # its BLAS-threads advice

    import implicit

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"# bench_ials_bpr  commit {commit}  python {platform.python_version()}  numpy "
          f"{np.__version__}  numba {numba.__version__}  implicit {implicit.__version__}  "
          f"cpus {os.cpu_count()}  numba threads {numba.get_num_threads()}")
    compile_times()
    # Warm-up: every model path once on a tiny problem, so no fit below includes JIT work.
    tiny = synthetic(50, 40, 400)
    for model in (ImplicitALS(n_iterations=1, seed=0), ImplicitALS(n_iterations=1,
                  solver="cholesky", seed=0), BPR(n_epochs=1, seed=0),
                  BPR(n_epochs=1, parallel=True, seed=0)):
        model.fit(tiny)
    bench("ML-100K", ml100k(), args.repeats, args.bpr_epochs, cholesky=True)
    n_users, n_items, n_ratings = args.synthetic
    bench("synthetic", synthetic(n_users, n_items, n_ratings), args.repeats, args.bpr_epochs,
          cholesky=args.cholesky_synthetic)


if __name__ == "__main__":
    main()
