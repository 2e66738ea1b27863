"""Speed of FunkSVD's SGD kernels, against Surprise's SVD in the same run.

1. Compile time: a fresh compile of the kernels (on-disk cache bypassed, in a subprocess),
   and the first call in this process (which loads the cache when there is one).
2. ML-100K u1.base (80,000 ratings), 100 factors, 20 epochs, Surprise's defaults
   (lr 0.005, reg 0.02, init N(0, 0.1)): ``fit`` of ``surprise.SVD`` and of our FunkSVD
   (the default, ``parallel="strata"``, deterministic, on 2 threads; ``parallel=False``:
   one thread, shuffled every epoch, or in Surprise's user-grouped order; Hogwild on 2
   threads; float64), interleaved,
   ``--repeats`` times; median and min wall time, CPU time, and the ratio to Surprise's
   median; then the u1.test RMSE of each setting (one fit each).
3. Kernel rates: the epoch kernel alone (no init, no shuffling) in rating updates per second,
   single thread (shuffled and user-grouped order), stratified and Hogwild on 2 threads,
   and the fraction of the
   machine's float32 peak, counting 6*k flops per update (dot product 2k, two factor updates
   2k each) and a peak of ``cores * GHz * SIMD lanes * 2 (FMA) * 2 (FMA units)``; AVX2 gives
   8 lanes, AVX-512 16. The clock is /proc/cpuinfo's ``cpu MHz``, not the turbo clock.
4. ``--scale``: a synthetic data set of 20M ratings (``recsys.data.synthetic.generate``,
   138,000 users x 27,000 items like ML-20M), FunkSVD with 64 factors, 10 epochs, Hogwild and
   stratified on all threads: seconds per epoch (fit time minus a zero-epoch fit, over 10; a
   2-epoch single-thread fit for reference) and the peak
   resident memory of ``fit`` above the memory before it, next to the size of the rating
   arrays (users, items: int32; ratings: float32).

Usage: RECSYS_DATA=/path python benchmarks/bench_sgd.py [--repeats 7] [--scale]
       [--scale-ratings 20000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

from recsys.bench.memory import PeakMemory, memory_method
from recsys.kernels.sgd import mf_epoch, mf_epoch_hogwild, mf_epoch_strata, shuffle_blocks
from recsys.models.mf import FunkSVD, numba_threads

FACTORS, EPOCHS, LR, REG = 100, 20, 0.005, 0.02


# ---------------------------------------------------------------------- machine
def cpu_info() -> dict:
    info = {"model": platform.processor() or "?", "mhz": None, "flags": set()}
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and info["model"] in ("?", "x86_64", ""):
                    info["model"] = value.strip()
                elif key == "cpu MHz" and info["mhz"] is None:
                    info["mhz"] = float(value)
                elif key == "flags" and not info["flags"]:
                    info["flags"] = set(value.split())
    except OSError:
        pass
    return info


def peak_gflops(info: dict, cores: int) -> tuple[float, str]:
    flags = info["flags"]
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    fma = 2 if "fma" in flags or "avx512f" in flags else 1
    ghz = (info["mhz"] or 2000.0) / 1000
    # Two FMA pipes per core on every recent x86 core (Zen 2-4, Skylake-SP and later).
    peak = cores * ghz * lanes * fma * 2
    return peak, (f"{cores} core(s) x {ghz:.2f} GHz x {lanes} float32 lanes x "
                  f"{'2 (FMA)' if fma == 2 else '1'} x 2 units")


def header(info: dict) -> None:
    import surprise
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(__file__)).stdout.strip()
    simd = [f for f in ("avx512f", "avx2", "fma") if f in info["flags"]]
    print(f"# bench_sgd  commit {commit or '?'}  python {platform.python_version()}  "
          f"numpy {np.__version__}  numba {numba.__version__}  surprise {surprise.__version__}")
    print(f"# cpu {info['model']}  {os.cpu_count()} cores  {info['mhz']} MHz  "
          f"simd {'/'.join(simd)}  numba threads {numba.get_num_threads()} "
          f"({numba.threading_layer() if _launched() else 'not started'})  "
          f"load average {os.getloadavg()[0]:.2f}")


def _launched() -> bool:
    try:
        numba.threading_layer()
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------- compile time
_COMPILE_SNIPPET = """
import time, numpy as np
t = time.perf_counter()
from recsys.dataset import Dataset
from recsys.models.mf import FunkSVD
ds = Dataset(np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([3.0, 4.0, 5.0]), None,
             np.arange(2), np.arange(2), (1.0, 5.0))
t0 = time.perf_counter()
FunkSVD(n_factors=4, n_epochs=1, parallel=False).fit(ds)
t1 = time.perf_counter()
FunkSVD(n_factors=4, n_epochs=1, parallel="hogwild").fit(ds)
t2 = time.perf_counter()
FunkSVD(n_factors=4, n_epochs=1, parallel="strata").fit(ds)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def compile_times() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
    print(f"compile (fresh, cache bypassed): serial fit path {float(out[0]):.2f} s, "
          f"Hogwild kernels {float(out[1]):.2f} s, strata kernels {float(out[2]):.2f} s")
    from recsys.dataset import Dataset
    ds = Dataset(np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([3.0, 4.0, 5.0]), None,
                 np.arange(2), np.arange(2), (1.0, 5.0))
    t0 = time.perf_counter()
    FunkSVD(n_factors=4, n_epochs=1, parallel=False).fit(ds)
    for mode in ("hogwild", "strata"):
        FunkSVD(n_factors=4, n_epochs=1, parallel=mode, n_threads=min(2, numba.get_num_threads())
                ).fit(ds)
    FunkSVD(n_factors=4, n_epochs=1, parallel=False, dtype="float64").fit(ds)
    print(f"first call in this process (cache load or compile): "
          f"{time.perf_counter() - t0:.2f} s")


# ---------------------------------------------------------------------- ML-100K
def load_u1():
    from recsys.data import load_dataset
    from recsys.split import official_folds
    fold = official_folds(load_dataset("ml-100k"), names=("u1",))[0]
    return fold.train, fold.test


def surprise_trainset(train):
    from surprise import Dataset as SDataset, Reader
    frame = train.to_frame()[["user", "item", "rating"]]
    return SDataset.load_from_df(frame, Reader(rating_scale=train.rating_scale)
                                 ).build_full_trainset()


def ml100k_fit_times(repeats: int) -> dict:
    from surprise import SVD
    train, test = load_u1()
    trainset = surprise_trainset(train)
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    contenders = {
        "surprise.SVD": lambda: SVD(n_factors=FACTORS, n_epochs=EPOCHS, lr_all=LR,
                                    reg_all=REG, random_state=0).fit(trainset),
        "FunkSVD 1 thread (parallel=False)": lambda: FunkSVD(parallel=False).fit(train),
        "FunkSVD 1 thread, Surprise's order": lambda: FunkSVD(parallel=False,
                                                              shuffle=False).fit(train),
        f"FunkSVD default (strata, {threads} thr)": lambda: FunkSVD(n_threads=threads
                                                                   ).fit(train),
        f"FunkSVD Hogwild {threads} threads": lambda: FunkSVD(
            parallel="hogwild", n_threads=threads).fit(train),
        "FunkSVD float64 (1 thread)": lambda: FunkSVD(parallel=False, dtype="float64"
                                                      ).fit(train),
    }
    for fn in contenders.values():  # warm: JIT cache, Dataset.csr, Surprise's imports
        fn()
    wall = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    ref = statistics.median(wall["surprise.SVD"])
    ref_cpu = statistics.median(cpu["surprise.SVD"])
    updates = train.n_ratings * EPOCHS
    print(f"\nML-100K u1.base: {train.n_ratings} ratings, {FACTORS} factors, {EPOCHS} epochs, "
          f"median (min) of {repeats} interleaved fits")
    print(f"{'fit':34s} {'wall s':>16s} {'cpu s':>7s} {'updates/s':>10s} {'x Surprise':>10s} "
          f"{'(cpu)':>6s}")
    for name in contenders:
        med, lo = statistics.median(wall[name]), min(wall[name])
        mc = statistics.median(cpu[name])
        print(f"{name:34s} {med:8.4f} ({lo:.4f}) {mc:7.4f} {updates / med / 1e6:8.1f} M "
              f"{ref / med:9.2f}x {ref_cpu / mc:5.2f}x")
    # Accuracy of the timed settings (one fit each), so the speed is not bought with RMSE.
    frame = test.to_frame()
    scores = []
    for name, fn in contenders.items():
        model = fn()
        if name == "surprise.SVD":
            pred = np.array([model.predict(u, i).est for u, i in zip(frame["user"],
                                                                       frame["item"])])
        else:
            pred = model.predict(test.users, test.items)
        scores.append(f"{name} {np.sqrt(np.mean((pred - test.ratings) ** 2)):.4f}")
    print("u1.test RMSE of these settings (seed 0): " + ", ".join(scores))
    return {"train": train}


def kernel_rates(train, repeats: int, info: dict) -> None:
    k = FACTORS
    rng = np.random.default_rng(0)
    users, items, ratings = train.users, train.items, train.ratings
    n = len(ratings)
    f32 = np.float32
    shuffled = rng.permutation(n).astype(np.int32)
    grouped = np.argsort(users, kind="stable").astype(np.int32)
    blocked, offsets = FunkSVD()._strata_layout(train, rng, np.int32)
    shuffle_blocks(blocked, offsets, 0)
    strata = np.arange(FunkSVD().n_strata, dtype=np.int64)
    threads = min(2, numba.config.NUMBA_NUM_THREADS)

    def run(order, mode):
        P = (rng.standard_normal((train.n_users, k), dtype=f32) * f32(0.1))
        Q = (rng.standard_normal((train.n_items, k), dtype=f32) * f32(0.1))
        bu, bi = np.zeros(train.n_users, f32), np.zeros(train.n_items, f32)
        args = (f32(train.global_mean), P, Q, bu, bi, f32(LR), f32(LR), f32(REG), f32(REG),
                True)
        w, c = time.perf_counter(), time.process_time()
        with numba_threads(threads if mode != "serial" else None):
            for _ in range(EPOCHS):
                if mode == "hogwild":
                    mf_epoch_hogwild(users, items, ratings, order, threads, *args)
                elif mode == "strata":
                    mf_epoch_strata(users, items, ratings, order, offsets, strata, True, 0,
                                    *args)
                else:
                    mf_epoch(users, items, ratings, order, 0, n, *args)
        return time.perf_counter() - w, time.process_time() - c

    print(f"\nEpoch kernel alone ({EPOCHS} epochs over u1.base, {k} factors, float32), "
          f"median of {repeats}; {6 * k} flops per update. Rates from wall time; for one "
          f"thread also from CPU time, which a loaded machine distorts less")
    for name, order, mode, cores in (
            ("1 thread, shuffled order", shuffled, "serial", 1),
            ("1 thread, user-grouped order", grouped, "serial", 1),
            (f"strata ({len(strata)}) {threads} threads", blocked, "strata", threads),
            (f"Hogwild {threads} threads, shuffled", shuffled, "hogwild", threads)):
        run(order, mode)
        times = [run(order, mode) for _ in range(repeats)]
        peak, how = peak_gflops(info, cores)
        for clock, t in (("wall", statistics.median(w for w, _ in times)),
                         ("cpu", statistics.median(c for _, c in times))):
            if clock == "cpu" and mode != "serial":
                continue
            rate = n * EPOCHS / t
            gflops = rate * 6 * k / 1e9
            print(f"  {name:32s} {clock:4s} {rate / 1e6:6.1f} M updates/s  {gflops:6.1f} "
                  f"GFLOP/s  {100 * gflops / peak:5.1f}% of {peak:.0f} GFLOP/s peak ({how})")


# ---------------------------------------------------------------------- scale
def scale_run(n_ratings: int) -> None:
    from recsys.data.synthetic import generate
    t = time.perf_counter()
    ds = generate(138_000, 27_000, n_ratings, rank=10, seed=0, name="synthetic-20m")
    print(f"\nScale: {ds}  (generated in {time.perf_counter() - t:.1f} s)")
    arrays_mb = (ds.users.nbytes + ds.items.nbytes + ds.ratings.nbytes) / 2**20
    threads = numba.config.NUMBA_NUM_THREADS
    method = memory_method()
    # The first fit on a Dataset also builds its CSR matrix (Recommender.fit keeps the
    # training matrix for exclude_seen); it is cached on the Dataset, so a zero-epoch fit
    # (which pays for it) is measured first and the full fits after it.
    t = time.perf_counter()
    with PeakMemory(method) as first_mem:
        FunkSVD(n_factors=64, n_epochs=0, parallel=False).fit(ds)
    first = time.perf_counter() - t
    print(f"peak memory above the start of fit ({method}), rating arrays {arrays_mb:.0f} MiB; "
          f"first fit on the Dataset (zero epochs, builds the CSR): {first:.1f} s, "
          f"{first_mem.peak_mb:.0f} MiB = {first_mem.peak_mb / arrays_mb:.2f}x")
    per_epoch = {}
    for mode in ("hogwild", "strata"):
        params = dict(n_factors=64, parallel=mode, n_threads=threads, seed=0)
        FunkSVD(**params, n_epochs=1).fit(ds.subset(np.arange(1000)))  # warm the JIT
        t = time.perf_counter()
        FunkSVD(**params, n_epochs=0).fit(ds)
        setup = time.perf_counter() - t
        t = time.perf_counter()
        with PeakMemory(method) as mem:
            model = FunkSVD(**params, n_epochs=10).fit(ds)
        total = time.perf_counter() - t
        per_epoch[mode] = (total - setup) / 10
        print(f"FunkSVD 64 factors, 10 epochs, {mode} {threads} threads: fit {total:.1f} s "
              f"(setup {setup:.1f} s), {per_epoch[mode]:.2f} s per epoch, "
              f"{ds.n_ratings / per_epoch[mode] / 1e6:.1f} M updates/s; train RMSE epoch 1 "
              f"{model.history_['train_rmse'][0]:.3f} -> {model.history_['train_rmse'][-1]:.3f}"
              f"; peak memory {mem.peak_mb:.0f} MiB = {mem.peak_mb / arrays_mb:.2f}x the "
              f"rating arrays (limit 3x)")
    t = time.perf_counter()
    FunkSVD(n_factors=64, n_epochs=0, parallel=False, seed=0).fit(ds)
    setup = time.perf_counter() - t
    t = time.perf_counter()
    FunkSVD(n_factors=64, n_epochs=2, parallel=False, seed=0).fit(ds)
    serial_epoch = (time.perf_counter() - t - setup) / 2
    print(f"single thread for reference: {serial_epoch:.2f} s per epoch (speed-up: "
          + ", ".join(f"{m} {serial_epoch / e:.2f}x" for m, e in per_epoch.items()) + ")")


# ---------------------------------------------------------------------- speed.py rows
def _median(xs):
    return statistics.median(xs) if xs else None


def _interleaved(contenders: dict, repeats: int, seed: int = 0) -> dict:
    """name -> (wall seconds list, cpu seconds list), the contenders taking turns in a seeded
    random order each round: under load a fixed order biases the medians (a fit right after
    a parallel one, or always at the same point of the busy processes' time slices; on a
    loaded 2-core Xeon a fixed order put the serial strata fit at 1.56x the 1-thread one,
    15 shuffled rounds at 1.13x)."""
    for fn in contenders.values():
        fn()
    out = {name: ([], []) for name in contenders}
    rng = np.random.default_rng(seed)
    names = list(contenders)
    for _ in range(repeats):
        for j in rng.permutation(len(names)):
            name, fn = names[j], contenders[names[j]]
            w, c = time.perf_counter(), time.process_time()
            fn()
            out[name][0].append(time.perf_counter() - w)
            out[name][1].append(time.process_time() - c)
    return out


def _rmse(model, test, surprise_model=False) -> float:
    if surprise_model:  # surprise_trainset gave Surprise the raw ids
        frame = test.to_frame()
        pred = np.array([model.predict(u, i).est for u, i in zip(frame["user"],
                                                                  frame["item"])])
    else:
        pred = model.predict(test.users, test.items)
    return float(np.sqrt(np.mean((pred - test.ratings) ** 2)))


class busy_processes:
    """Start ``n`` busy Python processes (each spins on one core) for the ``with`` block, and
    stop them (by their pid) at its end, also on error."""

    def __init__(self, n: int = 2):
        self.n = n
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(1.0)  # let the scheduler see them
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        return False


def speed_rows(quick: bool = False) -> list[dict]:
    """The issue-15 SGD rows, measured now: FunkSVD vs surprise.SVD on u1.base at Surprise's
    defaults, the SGD epoch kernel on one thread at k=100, the default FunkSVD under two
    busy processes against its own one-thread mode. One dict per row (benchmarks/speed.py)."""
    from surprise import SVD

    info = cpu_info()
    repeats = 3 if quick else 7
    train, test = load_u1()
    train.csr  # noqa: B018 (built once, outside every timed fit)
    trainset = surprise_trainset(train)
    rows = []

    # 1. fit vs Surprise at its defaults
    load0 = os.getloadavg()[0]
    contenders = {
        "surprise.SVD": lambda: SVD(random_state=0).fit(trainset),
        "FunkSVD default": lambda: FunkSVD().fit(train),
        "FunkSVD 1 thread": lambda: FunkSVD(parallel=False).fit(train),
    }
    t = _interleaved(contenders, repeats)
    med = {k: _median(v[0]) for k, v in t.items()}
    cpu = {k: _median(v[1]) for k, v in t.items()}
    rmse_peer = _rmse(SVD(random_state=0).fit(trainset), test, surprise_model=True)
    rmse_ours = _rmse(FunkSVD().fit(train), test)
    rmse_one = _rmse(FunkSVD(parallel=False).fit(train), test)
    ratio = med["surprise.SVD"] / med["FunkSVD default"]
    rows.append({
        "row": "FunkSVD fit vs surprise.SVD, u1.base, Surprise's defaults",
        "ours_s": med["FunkSVD default"], "peer_s": med["surprise.SVD"], "ratio": ratio,
        "goal": ">= 10x at equal RMSE", "met": bool(ratio >= 10 and rmse_ours <= rmse_peer + 0.005),
        "ours_cpu_s": cpu["FunkSVD default"], "peer_cpu_s": cpu["surprise.SVD"],
        "ratio_cpu": cpu["surprise.SVD"] / cpu["FunkSVD default"],
        "ours_1thread_s": med["FunkSVD 1 thread"],
        "ratio_1thread": med["surprise.SVD"] / med["FunkSVD 1 thread"],
        "rmse_ours": rmse_ours, "rmse_ours_1thread": rmse_one, "rmse_peer": rmse_peer,
        "repeats": repeats, "threads": {"numba": numba.get_num_threads(),
                                        "default_fit": _default_threads(train)},
        "load_before": load0, "load_after": os.getloadavg()[0],
    })

    # 2. the epoch kernel on one thread, k = 100
    load0 = os.getloadavg()[0]
    rates, cpu_rates = _kernel_rates_1thread(train, repeats)
    mhz = info["mhz"] or 2000.0
    best = max(rates.values())
    rows.append({
        "row": "SGD epoch kernel, 1 thread, k=100 (M updates/s)",
        "ours_s": train.n_ratings * EPOCHS / (best * 1e6), "peer_s": None, "ratio": None,
        "value": best, "unit": "M updates/s", "goal": ">= 40 M updates/s",
        "met": bool(best >= 40), "rates": rates, "rates_from_cpu_time": cpu_rates,
        "cycles_per_update": {k: mhz / v for k, v in cpu_rates.items()}, "cpu_mhz": mhz,
        "threads": {"numba": 1}, "load_before": load0, "load_after": os.getloadavg()[0],
    })

    # 3. the default on a busy machine
    with busy_processes(2) as busy:
        load0 = os.getloadavg()[0]
        contenders = {
            "FunkSVD default": lambda: FunkSVD().fit(train),
            "FunkSVD 1 thread": lambda: FunkSVD(parallel=False).fit(train),
            "FunkSVD strata forced 2 threads": lambda: FunkSVD(n_threads=min(
                2, numba.config.NUMBA_NUM_THREADS)).fit(train),
            "surprise.SVD": lambda: SVD(random_state=0).fit(trainset),
        }
        t = _interleaved(contenders, 7 if quick else max(15, repeats))
        chosen = _default_threads(train)
        load1 = os.getloadavg()[0]
        n_busy = len(busy.procs)
    med = {k: _median(v[0]) for k, v in t.items()}
    slow = med["FunkSVD default"] / med["FunkSVD 1 thread"]
    rows.append({
        "row": "default FunkSVD under 2 busy processes vs its 1-thread mode",
        "ours_s": med["FunkSVD default"], "peer_s": med["FunkSVD 1 thread"],
        "ratio": med["FunkSVD 1 thread"] / med["FunkSVD default"],
        "goal": "default <= 1.2x its 1-thread time", "met": bool(slow <= 1.2),
        "slowdown": slow, "forced_2_threads_s": med["FunkSVD strata forced 2 threads"],
        "surprise_s": med["surprise.SVD"], "busy_processes": n_busy,
        "threads": {"numba": numba.get_num_threads(), "default_fit_under_load": chosen},
        "load_before": load0, "load_after": load1,
    })
    return rows


def _default_threads(train) -> int:
    from recsys.models.mf import strata_threads
    return strata_threads(train.n_ratings * FACTORS)


def _kernel_rates_1thread(train, repeats: int) -> dict:
    """M updates/s of the one-thread epoch kernels (wall time, median of ``repeats`` runs of
    ``EPOCHS`` epochs): the default's (strata blocks, no parallel region) and the uniform
    shuffled order's."""
    from recsys.kernels.sgd import mf_epoch_strata_serial
    k = FACTORS
    rng = np.random.default_rng(0)
    users, items, ratings = train.users, train.items, train.ratings.astype(np.float32)
    n = len(ratings)
    f32 = np.float32
    shuffled = rng.permutation(n).astype(np.int32)
    blocked, offsets = FunkSVD()._strata_layout(train, rng, np.int32)
    strata = np.arange(FunkSVD().n_strata, dtype=np.int64)

    def run(kind):
        P = rng.standard_normal((train.n_users, k), dtype=f32) * f32(0.1)
        Q = rng.standard_normal((train.n_items, k), dtype=f32) * f32(0.1)
        bu, bi = np.zeros(train.n_users, f32), np.zeros(train.n_items, f32)
        args = (f32(train.global_mean), P, Q, bu, bi, f32(LR), f32(LR), f32(REG), f32(REG),
                True)
        w, c = time.perf_counter(), time.process_time()
        for e in range(EPOCHS):
            if kind == "strata blocks (the default's)":
                mf_epoch_strata_serial(users, items, ratings, blocked, offsets, strata, True,
                                       e, *args)
            else:
                mf_epoch(users, items, ratings, shuffled, 0, n, *args)
        return time.perf_counter() - w, time.process_time() - c

    kinds = ("strata blocks (the default's)", "uniform shuffled order")
    times = {kind: [] for kind in kinds}
    for kind in kinds:
        run(kind)
    for _ in range(repeats):
        for kind in kinds:
            times[kind].append(run(kind))
    wall = {kind: n * EPOCHS / statistics.median(w for w, _ in times[kind]) / 1e6
            for kind in kinds}
    cpu = {kind: n * EPOCHS / statistics.median(c for _, c in times[kind]) / 1e6
           for kind in kinds}
    return wall, cpu


def busy_report(repeats: int) -> None:
    for row in speed_rows(quick=repeats < 5):
        print(json.dumps(row, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scale", action="store_true", help="also run the 20M-rating run")
    parser.add_argument("--scale-only", action="store_true")
    parser.add_argument("--scale-ratings", type=int, default=20_000_000)
    parser.add_argument("--busy", action="store_true",
                        help="only the issue-15 rows (speed_rows), as JSON lines: Surprise "
                             "defaults, 1-thread kernel, under two busy processes")
    args = parser.parse_args()
    if args.busy:
        busy_report(args.repeats)
        return
    info = cpu_info()
    header(info)
    if not args.scale_only:
        compile_times()
        out = ml100k_fit_times(args.repeats)
        kernel_rates(out["train"], args.repeats, info)
    if args.scale or args.scale_only:
        scale_run(args.scale_ratings)


if __name__ == "__main__":
    main()
