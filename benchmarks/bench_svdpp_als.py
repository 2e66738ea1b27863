"""Micro-benchmarks: SVD++ epochs and fits against Surprise, ALS sweeps against NumPy.

All figures come from the same run on the same data (ML-100K u1.base, 80,000 ratings):

1. Compile time of each kernel, separately from every other figure: its first call in a fresh
   interpreter with an empty Numba cache (the real compile cost) and with the cache that
   first run wrote (what users see after the first run, thanks to ``cache=True``). Every other
   figure is taken after warm-up calls.
2. SVD++ fit with Surprise's defaults (20 factors, 20 epochs, lr 0.007, reg 0.02):
   ``surprise.SVDpp`` (with ``cache_ratings=True``, its fastest setting; optionally also its
   default ``cache_ratings=False``) against ``recsys.models.SVDpp`` (single thread,
   deterministic; and Hogwild on all Numba threads). Median of repeats, ratio, rating
   updates per second (n_epochs * n_ratings / fit seconds), peak memory allocated during the
   fit, and the RMSE on u1.test of each (the speed-up must come at equal accuracy).
3. One SVD++ epoch: the Numba kernel against a plain NumPy transcription of the same
   algorithm (``reference_epoch``) and of Surprise's literal per-rating update.
4. One ALS sweep (user half + item half) at several k: the Numba kernel on 1 thread and on
   every Numba thread (parallel speed-up) against a NumPy reference that builds each row's
   normal equations with ``X.T @ X`` and solves them with ``np.linalg.solve``.

Peak memory is what tracemalloc sees allocated through Python and NumPy during the call
(Surprise's arrays included); Numba's small per-call scratch (k-vectors, one (k+1)^2 matrix
per chunk) is not counted.

Usage: RECSYS_DATA=... python benchmarks/bench_svdpp_als.py [--repeats 5]
       [--surprise-repeats 3] [--surprise-uncached] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

# Numba's OpenMP layer (libgomp) lets idle threads spin-wait between parallel regions unless
# told otherwise. On a small shared machine (2 cores, other processes busy) the spinning
# thread takes the CPU the working one needs: an ALS half-sweep or a Hogwild epoch on 2
# threads then costs ~20 ms of extra CPU per parallel region and runs 3-5x SLOWER than on one
# thread. Passive waiting removes that; it must be set before the OpenMP runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from recsys.dataset import Dataset  # noqa: E402
from recsys.kernels import als as als_kernels  # noqa: E402
from recsys.kernels import svdpp as svdpp_kernels  # noqa: E402
from recsys.models.als import ALS, numba_threads  # noqa: E402
from recsys.models.svdpp import SVDpp  # noqa: E402

SURPRISE_DEFAULTS = dict(n_factors=20, n_epochs=20, lr_all=0.007, reg_all=0.02)


# ---------------------------------------------------------------------- helpers
def timed(fn, repeats: int) -> tuple[float, float, object]:
    """(median, min) wall seconds over ``repeats`` calls and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def peak_alloc(fn) -> int:
    """Peak bytes allocated through Python/NumPy while ``fn`` runs (tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def header() -> str:
    try:
        from recsys.bench.environment import collect_environment, machine_line

        env = collect_environment()
        return (f"{env['date']} | commit {env['git_commit']}\n{machine_line(env)}\n"
                f"thread env: {env['thread_env'] or 'none set'}; OMP_WAIT_POLICY="
                f"{os.environ.get('OMP_WAIT_POLICY')}")
    except ImportError:  # the shared benchmark package is optional here
        import platform
        return (f"python {platform.python_version()}, numpy {np.__version__}, numba "
                f"{numba.__version__} ({numba.get_num_threads()} threads), "
                f"{os.cpu_count()} CPUs")


def load_u1() -> tuple[Dataset, Dataset]:
    """ML-100K u1.base / u1.test sharing one id map."""
    try:
        from recsys.data import load_dataset
        from recsys.split import official_folds

        fold = official_folds(load_dataset("ml-100k"), names=("u1",))[0]
        return fold.train, fold.test
    except ImportError:
        import pandas as pd

        root = os.path.join(os.environ["RECSYS_DATA"], "ml-100k")
        cols = ["user", "item", "rating", "timestamp"]
        base = pd.read_csv(os.path.join(root, "u1.base"), sep="\t", names=cols)
        test = pd.read_csv(os.path.join(root, "u1.test"), sep="\t", names=cols)
        full = Dataset.from_frame(pd.concat([base, test]), rating_scale=(1, 5))
        kw = dict(rating_scale=(1, 5), user_ids=full.user_ids, item_ids=full.item_ids)
        return Dataset.from_frame(base, **kw), Dataset.from_frame(test, **kw)


def rmse(pred, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def surprise_sets(train: Dataset, test: Dataset):
    import pandas as pd
    from surprise import Dataset as SDataset
    from surprise import Reader

    frame = pd.DataFrame({"u": train.user_ids[train.users], "i": train.item_ids[train.items],
                          "r": train.ratings.astype(np.float64)})
    trainset = SDataset.load_from_df(frame, Reader(rating_scale=train.rating_scale)
                                     ).build_full_trainset()
    testset = list(zip(test.user_ids[test.users], test.item_ids[test.items],
                       test.ratings.astype(np.float64)))
    return trainset, testset


# ---------------------------------------------------------------------- NumPy references
def reference_epoch(indptr, indices, ratings, user_order, order, mu, P, Q, Y, bu, bi, lr,
                    reg_b, reg_f, reg_y):
    """The kernel's algorithm in NumPy: one vector operation per rating."""
    shrink = 1 - lr * reg_y
    for u in user_order:
        lo, hi = indptr[u], indptr[u + 1]
        if hi == lo:
            continue
        nu = indices[lo:hi]
        norm = 1 / np.sqrt(hi - lo)
        z = Y[nu].sum(axis=0) * norm
        g = np.zeros_like(z)
        decay = 1.0
        for t in range(lo, hi):
            p = order[t]
            i = indices[p]
            err = ratings[p] - (mu + bu[u] + bi[i] + Q[i] @ (P[u] + z))
            bu[u] += lr * (err - reg_b * bu[u])
            bi[i] += lr * (err - reg_b * bi[i])
            pu, qi = P[u].copy(), Q[i].copy()
            P[u] += lr * (err * qi - reg_f * pu)
            Q[i] += lr * (err * (pu + z) - reg_f * qi)
            g = shrink * g + (lr * err * norm) * qi
            z = shrink * z + (lr * err) * qi
            decay *= shrink
        Y[nu] = decay * Y[nu] + g


def surprise_literal_epoch(indptr, indices, ratings, user_order, order, mu, P, Q, Y, bu, bi,
                           lr, reg_b, reg_f, reg_y):
    """Surprise's update in NumPy: rebuild z and write every y_j at every rating."""
    for u in user_order:
        lo, hi = indptr[u], indptr[u + 1]
        nu = indices[lo:hi]
        for t in range(lo, hi):
            p = order[t]
            i = indices[p]
            z = Y[nu].sum(axis=0) / np.sqrt(hi - lo)
            err = ratings[p] - (mu + bu[u] + bi[i] + Q[i] @ (P[u] + z))
            bu[u] += lr * (err - reg_b * bu[u])
            bi[i] += lr * (err - reg_b * bi[i])
            pu, qi = P[u].copy(), Q[i].copy()
            P[u] += lr * (err * qi - reg_f * pu)
            Q[i] += lr * (err * (pu + z) - reg_f * qi)
            Y[nu] += lr * (err * qi / np.sqrt(hi - lo) - reg_y * Y[nu])


def reference_half_sweep(indptr, indices, ratings, mu, fixed, fixed_bias, out, out_bias, reg,
                         reg_bias):
    """Per row: X = [Q_u, 1], (X^T X + diag(reg n, ..., reg_bias)) w = X^T y, np.linalg.solve."""
    k = fixed.shape[1]
    for r in range(len(indptr) - 1):
        lo, hi = indptr[r], indptr[r + 1]
        if hi == lo:
            out[r], out_bias[r] = 0, 0
            continue
        cols = indices[lo:hi]
        x = np.empty((hi - lo, k + 1))
        x[:, :k] = fixed[cols]
        x[:, k] = 1
        y = ratings[lo:hi] - mu - fixed_bias[cols]
        a = x.T @ x
        a[np.diag_indices(k)] += reg * (hi - lo)
        a[k, k] += reg_bias
        w = np.linalg.solve(a, x.T @ y)
        out[r], out_bias[r] = w[:k], w[k]


# ---------------------------------------------------------------------- sections
def svdpp_problem(train: Dataset, k: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    m = train.csr
    indptr, indices = m.indptr.astype(np.int64), m.indices.astype(np.int32)
    ratings = m.data.astype(dtype)
    params = [(rng.standard_normal((n, k)) * 0.1).astype(dtype)
              for n in (train.n_users, train.n_items, train.n_items)]
    params += [np.zeros(train.n_users, dtype), np.zeros(train.n_items, dtype)]
    user_order = rng.permutation(train.n_users).astype(np.int32)
    order = svdpp_kernels.shuffle_within_rows(indptr, rng.random(len(indices)))
    s = np.dtype(dtype).type
    return (indptr, indices, ratings, user_order, order, s(train.global_mean), *params,
            s(0.007), s(0.02), s(0.02), s(0.02))


COLD_COMPILE = """
import time, numpy as np
t0 = time.perf_counter()
from recsys.kernels import svdpp as S, als as A, scoring as C
print("import", time.perf_counter() - t0)
ip = np.array([0, 2, 3], np.int64); ix = np.array([0, 1, 1], np.int32)
f = np.float32
def svd_args():
    return (ip, ix, np.ones(3, f), np.array([1, 0], np.int32), np.arange(3), f(3),
            np.ones((2, 4), f), np.ones((2, 4), f), np.ones((2, 4), f), np.zeros(2, f),
            np.zeros(2, f), f(0.01), f(0.02), f(0.02), f(0.02))
for name, call in [
        ("shuffle_within_rows", lambda: S.shuffle_within_rows(ip, np.zeros(3))),
        ("svdpp_epoch", lambda: S.svdpp_epoch(*svd_args())),
        ("svdpp_epoch_hogwild", lambda: S.svdpp_epoch_hogwild(*svd_args(), 2)),
        ("implicit_sums", lambda: S.implicit_sums(ip, ix, np.ones((2, 4), f))),
        ("als_half_sweep", lambda: A.als_half_sweep(ip, ix, np.ones(3, f), 3.0,
            np.ones((2, 4), f), np.zeros(2, f), np.ones((2, 4), f), np.zeros(2, f), 0.1, 1.0,
            True, np.array([0, 2], np.int64))),
        ("clipped_sse", lambda: C.clipped_sse(ix, ix, np.ones(3), 3.0, np.ones((2, 4), f),
            np.ones((2, 4), f), np.zeros(2, f), np.zeros(2, f), 1.0, 5.0))]:
    t0 = time.perf_counter(); call(); print(name, time.perf_counter() - t0)
"""


def section_compile() -> None:
    """First-call cost of each kernel (float32 signature) with an empty and a warm on-disk
    cache, each in a fresh interpreter; NUMBA_CACHE_DIR points at a new temporary folder."""
    import subprocess
    import sys
    import tempfile

    print("\n## 1. JIT compile time: first call per kernel in a fresh process (float32)")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = []
        for _ in range(2):  # first: cold cache (compile and write); second: load from cache
            out = subprocess.run([sys.executable, "-c", COLD_COMPILE], env=env, check=True,
                                 capture_output=True, text=True).stdout
            runs.append(dict((ln.split()[0], float(ln.split()[1]))
                             for ln in out.splitlines()))
    print(f"{'kernel':22s} {'no cache':>10s} {'from cache':>11s}")
    for name in runs[0]:
        print(f"{name:22s} {runs[0][name]:9.2f}s {runs[1][name] * 1e3:9.1f}ms")
    print(f"{'total':22s} {sum(runs[0].values()):9.2f}s {sum(runs[1].values()) * 1e3:9.1f}ms")


def section_svdpp_fit(train: Dataset, test: Dataset, repeats: int, s_repeats: int,
                      uncached: bool) -> None:
    print("\n## 2. SVD++ fit on u1.base, Surprise's defaults "
          "(20 factors, 20 epochs, lr 0.007, reg 0.02)")
    updates = 20 * train.n_ratings
    rows = []
    try:
        from surprise import SVDpp as SurpriseSVDpp

        trainset, testset = surprise_sets(train, test)
        variants = [("surprise.SVDpp cache_ratings=True", True)]
        if uncached:
            variants.append(("surprise.SVDpp (default, uncached)", False))
        for label, cache in variants:
            fit = lambda: SurpriseSVDpp(**SURPRISE_DEFAULTS, cache_ratings=cache,
                                        random_state=0).fit(trainset)
            med, best, algo = timed(fit, s_repeats)
            preds = [algo.predict(u, i, r).est for (u, i, r) in testset]
            # Memory does not grow with epochs: measure it on a one-epoch fit.
            peak = peak_alloc(lambda: SurpriseSVDpp(**{**SURPRISE_DEFAULTS, "n_epochs": 1},
                                                    cache_ratings=cache).fit(trainset))
            rows.append((label, med, best, peak, rmse(preds, test.ratings)))
    except ImportError:
        print("(scikit-surprise not installed: no Surprise row)")
    threads = numba.get_num_threads()
    for label, kw in [("recsys SVDpp (1 thread)", {}),
                      (f"recsys SVDpp Hogwild ({threads} thr)", {"parallel": True})]:
        fit = lambda: SVDpp(seed=0, **kw).fit(train)
        fit()  # warm: JIT cache load, thread pool
        med, best, model = timed(fit, repeats)
        rows.append((label, med, best, peak_alloc(fit),
                     rmse(model.predict(test.users, test.items), test.ratings)))
    base = rows[0][1]
    print(f"{'implementation':32s} {'median':>9s} {'min':>9s} {'speed-up':>9s} "
          f"{'updates/s':>11s} {'peak alloc':>11s} {'RMSE u1':>8s}")
    for label, med, best, peak, err in rows:
        print(f"{label:32s} {med:8.3f}s {best:8.3f}s {base / med:8.1f}x "
              f"{updates / med / 1e6:8.2f} M {peak / 2**20:8.1f} MiB {err:8.4f}")


def section_svdpp_epoch(train: Dataset, repeats: int, quick: bool) -> None:
    print("\n## 3. One SVD++ epoch on u1.base (k = 20, same order of ratings)")
    for dtype in (np.float32, np.float64):
        args = svdpp_problem(train, 20, dtype)
        svdpp_kernels.svdpp_epoch(*args)
        med, best, _ = timed(lambda: svdpp_kernels.svdpp_epoch(*args), repeats)
        print(f"numba kernel {np.dtype(dtype).name:8s}     median {med * 1e3:8.2f} ms  "
              f"min {best * 1e3:8.2f} ms   {train.n_ratings / med / 1e6:7.2f} M updates/s")
    kernel_med = med
    args = svdpp_problem(train, 20, np.float64)
    users = args[3] if not quick else args[3][: len(args[3]) // 10]
    share = (args[0][users + 1] - args[0][users]).sum() / train.n_ratings
    for name, fn in [("NumPy, same algorithm", reference_epoch),
                     ("NumPy, Surprise's update", surprise_literal_epoch)]:
        a = list(svdpp_problem(train, 20, np.float64))
        a[3] = users
        t0 = time.perf_counter()
        fn(*a)
        secs = (time.perf_counter() - t0) / share
        note = "" if share == 1 else f" (timed on {share:.0%} of the ratings, scaled)"
        print(f"{name:28s} {secs * 1e3:10.0f} ms per epoch {secs / kernel_med:8.0f}x the "
              f"float64 kernel{note}")


def section_als(train: Dataset, repeats: int, quick: bool) -> None:
    print("\n## 4. One ALS sweep on u1.base (user half + item half, biases on)")
    m_u, m_i = train.csr, train.csr_by_item
    ui = (m_u.indptr.astype(np.int64), m_u.indices.astype(np.int32), m_u.data)
    ii = (m_i.indptr.astype(np.int64), m_i.indices.astype(np.int32), m_i.data)
    mu = float(train.global_mean)
    threads = numba.get_num_threads()
    print(f"{'k':>4s} {'1 thread':>10s} {f'{threads} threads':>11s} {'speed-up':>9s} "
          f"{'NumPy ref':>10s} {'ratio':>7s} {'peak alloc (fit)':>17s}")
    for k in ((20, 50) if quick else (20, 50, 100)):
        rng = np.random.default_rng(0)
        q = (rng.standard_normal((train.n_items, k)) * 0.1).astype(np.float32)
        p = np.zeros((train.n_users, k), np.float32)
        bu, bi = np.zeros(train.n_users, np.float32), np.zeros(train.n_items, np.float32)

        def sweep(n_threads):
            b_u = als_kernels.balanced_chunks(ui[0], k, 4 * n_threads)
            b_i = als_kernels.balanced_chunks(ii[0], k, 4 * n_threads)
            with numba_threads(n_threads):
                als_kernels.als_half_sweep(*ui, mu, q, bi, p, bu, 0.1, 5.0, True, b_u)
                als_kernels.als_half_sweep(*ii, mu, p, bu, q, bi, 0.1, 5.0, True, b_i)

        sweep(threads)
        one, _, _ = timed(lambda: sweep(1), repeats)
        many, _, _ = timed(lambda: sweep(threads), repeats)
        q64, p64 = q.astype(np.float64), p.astype(np.float64)
        bu64, bi64 = bu.astype(np.float64), bi.astype(np.float64)
        r_u, r_i = ui[2].astype(np.float64), ii[2].astype(np.float64)
        t0 = time.perf_counter()
        reference_half_sweep(ui[0], ui[1], r_u, mu, q64, bi64, p64, bu64, 0.1, 5.0)
        reference_half_sweep(ii[0], ii[1], r_i, mu, p64, bu64, q64, bi64, 0.1, 5.0)
        ref = time.perf_counter() - t0
        peak = peak_alloc(lambda: ALS(n_factors=k, n_iterations=1, seed=0).fit(train))
        print(f"{k:4d} {one * 1e3:7.1f} ms {many * 1e3:8.1f} ms {one / many:8.2f}x "
              f"{ref * 1e3:7.0f} ms {ref / many:6.0f}x {peak / 2**20:13.1f} MiB")


def speed_rows(quick: bool = False) -> list[dict]:
    """The issue-15 SVD++ row for benchmarks/speed.py: ``recsys.models.SVDpp`` (one thread)
    against ``surprise.SVDpp(cache_ratings=True)`` at Surprise's defaults on u1.base, fit
    seconds (median; Surprise's one fit in ``quick`` mode, where both run 4 epochs instead
    of 20: each fit is linear in the epochs) and the u1.test RMSE of each."""
    import os

    from surprise import SVDpp as SurpriseSVDpp

    train, test = load_u1()
    train.csr  # noqa: B018 (built outside the timed fits)
    trainset, testset = surprise_sets(train, test)
    hp = dict(SURPRISE_DEFAULTS)
    if quick:
        hp["n_epochs"] = 4
    load0 = os.getloadavg()[0]
    ours_fit = lambda: SVDpp(seed=0, n_epochs=hp["n_epochs"]).fit(train)
    ours_fit()  # warm: the JIT cache
    ours_s, _, model = timed(ours_fit, 1 if quick else 3)
    peer_s, _, algo = timed(lambda: SurpriseSVDpp(**hp, cache_ratings=True,
                                                  random_state=0).fit(trainset),
                            1 if quick else 2)
    rmse_peer = rmse([algo.predict(u, i, r).est for (u, i, r) in testset], test.ratings)
    rmse_ours = rmse(model.predict(test.users, test.items), test.ratings)
    ratio = peer_s / ours_s
    return [{
        "row": f"SVD++ fit vs surprise.SVDpp, u1.base, {hp['n_epochs']} epochs",
        "ours_s": ours_s, "peer_s": peer_s, "ratio": ratio, "goal": ">= 100x",
        "met": bool(ratio >= 100 and rmse_ours <= rmse_peer + 0.005),
        "rmse_ours": rmse_ours, "rmse_peer": rmse_peer,
        "threads": {"numba": 1, "surprise": 1}, "load_before": load0,
        "load_after": os.getloadavg()[0],
    }]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--surprise-repeats", type=int, default=3)
    ap.add_argument("--surprise-uncached", action="store_true",
                    help="also time surprise.SVDpp with its default cache_ratings=False "
                         "(several times slower than cache_ratings=True)")
    ap.add_argument("--quick", action="store_true", help="fewer sizes and references")
    args = ap.parse_args(argv)
    print("# SVD++ and ALS micro-benchmarks")
    print(header())
    train, test = load_u1()
    print(f"data: ML-100K u1.base {train.n_ratings} ratings, u1.test {test.n_ratings}")
    section_compile()
    section_svdpp_fit(train, test, args.repeats, args.surprise_repeats,
                      args.surprise_uncached)
    section_svdpp_epoch(train, args.repeats, args.quick)
    section_als(train, args.repeats, args.quick)


if __name__ == "__main__":
    main()
