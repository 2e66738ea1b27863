"""One machine first, at real scale (issue 13): synthetic rating sets the size of a large
MovieLens release scaled up, generated, saved, loaded memory-mapped and trained.

Sizes (``--sizes``, comma-separated):

- ``100m``: 100,000,000 ratings, 1,000,000 users x 100,000 items;
- ``ml32m``: ML-32M's size, 32,000,204 ratings, 200,948 users x 87,585 items;
- ``1m``: 1,000,000 ratings, 20,000 users x 5,000 items (a smoke test of the script).

Each set comes from :func:`recsys.data.synthetic.generate` (biased low-rank model, Zipf item
popularity and user activity, seed 0, ``timestamps=False``: training needs none and they
would add 8 bytes a rating). Every phase runs in its own child process, so that its peak
resident memory (the child's ``ru_maxrss``) is its own:

1. ``generate``: generate, then save ``users.npy`` (int32), ``items.npy`` (int32),
   ``ratings.npy`` (float32) under ``--dir`` (atomically);
2. ``funksvd``: load the three arrays memory-mapped (``np.load(mmap_mode="r")``: the
   Dataset's arrays are the file's pages, no copy), then fit FunkSVD with 64 factors
   (stratified SGD on all threads, the default) for ``--epochs`` epochs;
3. ``als``: the same load, then ALS with 64 factors for ``--epochs`` iterations.

A child first fits its model once on a small set (JIT compile and cache load), outside the
timings. Reported per phase: seconds (load, the CSR build ``fit`` needs, fit), seconds per
epoch, peak RSS in MiB, the part of it above the child's resident memory before the data
(the interpreter, NumPy, Numba: about 300 MiB) and that part's ratio to the rating arrays
(12 bytes a rating: the issue's bound is 3x, on a 24 GiB machine), the training RMSE after
the last epoch. Before each phase the script reads MemAvailable and does not start a phase
whose estimated peak does not fit; it reports that instead.

Measured (2-core AMD EPYC, 24 GiB, shared with other jobs at load average 3.6-6.8, one
epoch, commit f395ed7; ``--csr file`` / ``--csr build``):

======  ========  ==================  ===================  ===========================
size    phase     s/epoch file/build  peak above base MiB  / rating arrays file/build
======  ========  ==================  ===================  ===========================
100m    generate  63.9 s / 37.5 s     2,007                1.75
100m    FunkSVD   54.4 / 46.8         2,222 / 2,989        1.94 / 2.61
100m    ALS       183.8 / 235.4       2,733 / 3,486        2.39 / 3.05
ml32m   generate  17.8 / 23.7         652                  1.78
ml32m   FunkSVD   6.9 / 8.2           695 / 933            1.90 / 2.55
ml32m   ALS       60.5 / 73.8         885 / 1,127          2.42 / 3.08
======  ========  ==================  ===================  ===========================

With the CSR the Dataset builds, ALS holds the COO arrays, the CSR by user and the CSR by
item (28 bytes a rating) plus the factors. The 3.05x above had one more transient, found
later: ``np.bincount`` casting the int32 index arrays to int64 for the user and item counts
(8 bytes a rating); the Dataset now counts in chunks (``recsys.dataset._chunked_bincount``).
Measured after that change (2-core Intel Xeon, AVX-512, 24 GiB, quiet, load 0.7-1.5, one
epoch, commit f4f413a+; ``--csr build``):

======  ========  =========  ===================  ===============
size    phase     s/epoch    peak above base MiB  / rating arrays
======  ========  =========  ===================  ===============
100m    generate  27.7 s     2,006                1.75
100m    FunkSVD   9.9        2,607                2.28
100m    ALS       52.5       2,976                2.60
ml32m   generate  8.6 s      652                  1.78
ml32m   FunkSVD   6.0        827                  2.26
ml32m   ALS       18.1       940                  2.57
======  ========  =========  ===================  ===============

Usage: python benchmarks/scale.py [--sizes ml32m,100m] [--epochs 1] [--dir /tmp/recsys-scale]
       [--keep] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = {
    "100m": (1_000_000, 100_000, 100_000_000),
    "ml32m": (200_948, 87_585, 32_000_204),
    "1m": (20_000, 5_000, 1_000_000),
    "warmup": (2_000, 500, 50_000),
}
FACTORS = 64
ARRAYS = ("users", "items", "ratings")
#: Estimated peak bytes per rating of each phase (COO 12 + CSR 8 + ... ; see the notes).
ESTIMATE = {"generate": 16, "funksvd": 26, "als": 34}


# ---------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def meminfo_mib(key: str) -> float | None:
    """A /proc/meminfo figure (``MemAvailable``, ``MemTotal``) in MiB; None off Linux."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mib() -> float:
    """This process's resident memory now (VmRSS), MiB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parent, timeout=10)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# ---------------------------------------------------------------------- the phases (children)
def phase_generate(size: str, folder: Path) -> dict:
    from recsys.data.synthetic import generate
    from recsys.io import atomic_write

    n_users, n_items, n_ratings = SIZES[size]
    generate(100, 50, 1000, seed=1, timestamps=False)  # JIT compile / cache load
    base = rss_mib()
    t0 = time.perf_counter()
    ds = generate(n_users, n_items, n_ratings, seed=0, timestamps=False, name=f"synthetic-{size}")
    gen = time.perf_counter() - t0
    folder.mkdir(parents=True, exist_ok=True)
    t1 = time.perf_counter()
    for name in ARRAYS:
        array = getattr(ds, name)
        atomic_write(folder / f"{name}.npy", lambda fh, a=array: np.save(fh, a))
    save = time.perf_counter() - t1
    (folder / "shape.json").write_text(json.dumps(
        {"n_users": n_users, "n_items": n_items, "n_ratings": n_ratings,
         "rating_scale": list(ds.rating_scale)}))
    return {"generate_seconds": gen, "save_seconds": save,
            "file_mib": sum((folder / f"{n}.npy").stat().st_size for n in ARRAYS) / 2**20,
            "users_rated": int(np.count_nonzero(ds.user_counts)),
            "items_rated": int(np.count_nonzero(ds.item_counts)),
            "max_user_count": int(ds.user_counts.max()),
            "max_item_count": int(ds.item_counts.max()),
            "mean": float(ds.global_mean), "base_mib": base}


def _load(folder: Path, csr_from_file: bool = False):
    """The saved set as a Dataset over the memory-mapped arrays. ``csr_from_file``: the
    arrays are sorted by (user, item) (checked), so the CSR by user is the files themselves
    (indices = items, data = ratings, indptr from the user counts) and costs no copy; else
    the Dataset builds it from the COO arrays, as it does for any data."""
    import scipy.sparse as sp

    from recsys.dataset import Dataset

    shape = json.loads((folder / "shape.json").read_text())
    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in ARRAYS}
    ds = Dataset(arrays["users"], arrays["items"], arrays["ratings"], None,
                 np.arange(1, shape["n_users"] + 1, dtype=np.int64),
                 np.arange(1, shape["n_items"] + 1, dtype=np.int64),
                 tuple(shape["rating_scale"]), name=folder.name)
    if csr_from_file:
        users, items = ds.users, ds.items
        step = 1 << 23
        for lo in range(0, len(users), step):  # sorted by (user, item), no pair twice
            hi = min(lo + step + 1, len(users))
            key = users[lo:hi].astype(np.int64) * ds.n_items + items[lo:hi]
            if len(key) > 1 and not (np.diff(key) > 0).all():
                raise ValueError(f"{folder}: ratings are not sorted by (user, item)")
        indptr = np.zeros(ds.n_users + 1, dtype=np.int64)
        np.cumsum(ds.user_counts, out=indptr[1:])
        m = sp.csr_matrix((ds.ratings, items, indptr), shape=(ds.n_users, ds.n_items),
                          copy=False)
        m.has_sorted_indices = True
        m.has_canonical_format = True
        ds.__dict__["csr"] = m  # Dataset.csr is a cached property: this is its value
    return ds


def _model(kind: str, epochs: int, seed: int = 0):
    from recsys.models.als import ALS
    from recsys.models.mf import FunkSVD

    if kind == "funksvd":
        return FunkSVD(n_factors=FACTORS, n_epochs=epochs, seed=seed)
    return ALS(n_factors=FACTORS, n_iterations=epochs, seed=seed)


def phase_fit(kind: str, folder: Path, epochs: int, csr_from_file: bool = False) -> dict:
    # JIT compile / cache load on a small set saved and loaded the same way (read-only
    # memory-mapped arrays are their own Numba type), outside the timings.
    small = folder.parent / f".warmup-{kind}"
    phase_generate("warmup", small)
    _model(kind, 1).fit(_load(small, csr_from_file))
    shutil.rmtree(small, ignore_errors=True)
    import gc

    gc.collect()
    base = rss_mib()
    t0 = time.perf_counter()
    ds = _load(folder, csr_from_file)
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    ds.csr  # noqa: B018  (built once: every model's fit needs it)
    if kind == "als":
        ds.csr_by_item  # noqa: B018
    csr = time.perf_counter() - t1
    model = _model(kind, epochs)
    t2 = time.perf_counter()
    model.fit(ds)
    fit = time.perf_counter() - t2
    rmse = model.history_["train_rmse"][-1] if model.history_.get("train_rmse") else None
    return {"load_seconds": load, "csr_seconds": csr, "fit_seconds": fit,
            "seconds_per_epoch": fit / epochs, "train_rmse": rmse,
            "base_mib": base}


def child(args) -> int:
    folder = Path(args.dir) / args.size
    if args.phase == "generate":
        out = phase_generate(args.size, folder)
    else:
        out = phase_fit(args.phase, folder, args.epochs, args.csr == "file")
    out["peak_mib"] = peak_mib()
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# ---------------------------------------------------------------------- the driver
def run_phase(size: str, phase: str, args) -> dict:
    n_ratings = SIZES[size][2]
    arrays_mib = 12 * n_ratings / 2**20
    need = ESTIMATE[phase] * n_ratings / 2**20 + 300
    available = meminfo_mib("MemAvailable")
    row = {"size": size, "phase": phase, "arrays_mib": arrays_mib,
           "available_mib_before": available}
    if available is not None and need > available:
        row["status"] = (f"not run: needs about {need:,.0f} MiB, {available:,.0f} MiB "
                         "available")
        return row
    cmd = [sys.executable, __file__, "--child", "--phase", phase, "--size", size,
           "--dir", args.dir, "--epochs", str(args.epochs), "--csr", args.csr]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        row["status"] = f"timed out after {args.timeout} s"
        return row
    row["wall_seconds"] = time.perf_counter() - t0
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not result:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        row["status"] = (f"failed (exit {proc.returncode}"
                         + (", killed: out of memory?" if proc.returncode in (-9, 137) else "")
                         + f"): {' | '.join(tail)}")
        return row
    row.update(json.loads(result[-1][len("RESULT "):]))
    row["status"] = "ok"
    # The interpreter, NumPy and Numba hold base_mib before the data: the phase's own peak
    # is what it adds above that (the warm-up's own peak, if higher, is left out of it).
    row["data_peak_mib"] = row["peak_mib"] - row["base_mib"]
    row["peak_ratio"] = row["data_peak_mib"] / arrays_mib
    return row


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="ml32m,100m")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dir", default="/tmp/recsys-scale")
    parser.add_argument("--keep", action="store_true", help="keep the saved arrays")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per phase")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--csr", choices=("build", "file"), default="build",
                        help="build: the Dataset builds its CSR from the COO arrays (what "
                             "any data set gets); file: the saved arrays, sorted by user, are "
                             "the CSR by user (no copy)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--size", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; have {sorted(SIZES)}")
    import numba

    total = meminfo_mib("MemTotal")
    print(f"# scale: {platform.node()} · {cpu_model()} · {os.cpu_count()} cores · numba "
          f"{numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads) · numpy "
          f"{np.__version__} · commit {git_commit()}")
    available = meminfo_mib("MemAvailable")
    print(f"# memory: {_fmt(total, ',.0f')} MiB total, {_fmt(available, ',.0f')} MiB available;"
          f" load average {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; epochs {args.epochs}; CSR "
          f"{args.csr}")
    rows = []
    for size in sizes:
        n_users, n_items, n_ratings = SIZES[size]
        print(f"\n## {size}: {n_ratings:,} ratings, {n_users:,} users x {n_items:,} items; "
              f"rating arrays {12 * n_ratings / 2**20:,.0f} MiB", flush=True)
        for phase in ("generate", "funksvd", "als"):
            row = run_phase(size, phase, args)
            row["load_average"] = os.getloadavg()[0]
            rows.append(row)
            if row["status"] != "ok":
                print(f"- {phase}: {row['status']}", flush=True)
                if phase == "generate":
                    break
                continue
            if phase == "generate":
                print(f"- generate: {row['generate_seconds']:.1f} s, save "
                      f"{row['save_seconds']:.1f} s ({row['file_mib']:,.0f} MiB of .npy); "
                      f"{row['users_rated']:,} users and {row['items_rated']:,} items rated, "
                      f"busiest user {row['max_user_count']:,}, item "
                      f"{row['max_item_count']:,}; peak {row['peak_mib']:,.0f} MiB, "
                      f"{row['data_peak_mib']:,.0f} MiB above the interpreter's "
                      f"{row['base_mib']:,.0f} ({row['peak_ratio']:.2f}x the arrays)",
                      flush=True)
            else:
                print(f"- {phase} (64 factors): load {row['load_seconds']:.2f} s (mmap), "
                      f"CSR {row['csr_seconds']:.1f} s, fit {row['fit_seconds']:.1f} s = "
                      f"{row['seconds_per_epoch']:.1f} s/epoch, train RMSE "
                      f"{_fmt(row['train_rmse'], '.4f')}; peak {row['peak_mib']:,.0f} MiB, "
                      f"{row['data_peak_mib']:,.0f} above the interpreter's "
                      f"{row['base_mib']:,.0f} ({row['peak_ratio']:.2f}x the arrays; bound "
                      "3x); load average "
                      f"{row['load_average']:.2f}", flush=True)
        if not args.keep:
            shutil.rmtree(Path(args.dir) / size, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    print("\n| size | phase | seconds | s/epoch | peak MiB | above base MiB | / arrays | "
          "load avg | status |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        secs = r.get("fit_seconds", r.get("generate_seconds"))
        print(f"| {r['size']} | {r['phase']} | {_fmt(secs, '.1f')} | "
              f"{_fmt(r.get('seconds_per_epoch'), '.1f')} | {_fmt(r.get('peak_mib'), ',.0f')} | "
              f"{_fmt(r.get('data_peak_mib'), ',.0f')} | {_fmt(r.get('peak_ratio'), '.2f')} | "
              f"{r['load_average']:.1f} | {r['status']} |")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
