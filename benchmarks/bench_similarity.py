"""Item-item cosine similarity: our sparse top-k kernel against scikit-learn, in one run.

For each item matrix (items x users, CSR float32) the script times

- ``recsys.similarity.similarity(X, "cosine", k=K)`` (top-k pruning on, default
  K=50), and for the small catalogues also the all-pairs mode (``k=None``);
- ``sklearn.metrics.pairwise.cosine_similarity(X, dense_output=False)`` on the same input,

each in its own subprocess (so that the peak memory of one measurement is not mixed with
another's), the implementations taking turns round after round (so that a change in the
machine's load hits them alike). Peak memory is the resident set growth over the process's
footprint before the call (Linux ``VmHWM`` after resetting it through
``/proc/self/clear_refs``; ``ru_maxrss`` growth where that is not
possible). Times are medians (wall clock, and process CPU time next to it) over all
rounds, each after a warm-up call; the JIT compile time (cold cache) is measured once,
separately.

Matrices: ML-100K and ml-latest-small from ``$RECSYS_DATA``, and a synthetic matrix shaped
like ML-20M (~138,000 users, ~27,000 items, 20M ratings) from
``recsys.data.synthetic.generate`` with Zipf item popularity (exponent 1) and user activity
(exponent 0.5, which gives an ML-20M-like sum of squared user activities, ~9e9 co-occurrence
updates). scikit-learn's output on it can be near-dense (up to 27,000^2 entries); the script
estimates that from a sample of rows first and, if it would not fit in ``--memory-budget``
(default: 60% of MemAvailable), runs both libraries on a random subset of the items instead,
saying so. ``--synthetic-fraction`` forces such a subset.

    RECSYS_DATA=/work/shared/data .venv/bin/python benchmarks/bench_similarity.py
    .venv/bin/python benchmarks/bench_similarity.py --datasets ml-100k --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------- memory
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _maxrss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ---------------------------------------------------------------------------------- child
def child(args) -> None:
    """Measure one (implementation, matrix) in this process and print a JSON line."""
    import gc

    if args.impl == "compile":
        # Cold compile: a fresh cache dir is set by the parent through NUMBA_CACHE_DIR.
        t0 = time.perf_counter()
        from recsys.similarity import similarity

        tiny = sp.random(6, 5, density=0.5, format="csr", dtype=np.float32, random_state=0)
        similarity(tiny, "cosine", k=2)
        similarity(tiny, "cosine")
        print(json.dumps({"compile_s": time.perf_counter() - t0}))
        return

    x = sp.load_npz(args.matrix).tocsr()
    tiny = x[: min(50, x.shape[0])]
    if args.impl == "sklearn":
        from sklearn.metrics.pairwise import cosine_similarity

        def run():
            return cosine_similarity(x, dense_output=False)

        cosine_similarity(tiny, dense_output=False)
    else:
        from recsys.similarity import similarity

        k = None if args.k == 0 else args.k

        def run():
            return similarity(x, "cosine", k=k)

        similarity(tiny, "cosine", k=k)  # JIT warm-up (cache load)
    gc.collect()
    rss_before = _status_kib("VmRSS")
    maxrss_before = _maxrss_kib()
    exact = _reset_peak()
    times = []
    nnz = 0
    cpu = []
    for _ in range(args.repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        nnz = int(out.nnz)
        del out
        gc.collect()
    if exact and rss_before is not None:
        peak = _status_kib("VmHWM") - rss_before
        how = "VmHWM"
    else:
        peak = max(0, _maxrss_kib() - maxrss_before)
        how = "ru_maxrss"
    print(json.dumps({"times": times, "cpu": cpu, "nnz": nnz,
                      "peak_mib": peak / 1024, "base_mib": (rss_before or 0) / 1024,
                      "how": how}))


def spawn(impl: str, matrix: Path, k: int, repeats: int, threads: int | None,
          env_extra: dict | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", impl, "--matrix",
           str(matrix), "--k", str(k), "--repeats", str(repeats)]
    env = dict(os.environ)
    if threads:
        env["NUMBA_NUM_THREADS"] = str(threads)
    env.update(env_extra or {})
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]
                or [f"exit {done.returncode}"], "returncode": done.returncode}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------- data
def item_matrix_movielens(name: str, data_dir: str) -> sp.csr_matrix:
    from recsys.data import load_dataset

    return load_dataset(name, data_dir).csr_by_item


def item_matrix_synthetic(seed: int) -> sp.csr_matrix:
    from recsys.data.synthetic import generate

    ds = generate(138_000, 27_000, 20_000_000, user_exponent=0.5, item_exponent=1.0,
                  seed=seed, name="synthetic-20m")
    return ds.csr_by_item


def estimate_product_nnz(x: sp.csr_matrix, sample: int = 300, seed: int = 0) -> float:
    """Estimated nnz of X X^T from the exact co-occurrence counts of a sample of rows."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(x.shape[0], size=min(sample, x.shape[0]), replace=False)
    xt = x.T.tocsr()
    binary = x[rows].copy()
    binary.data[:] = 1
    xt.data[:] = 1
    return float((binary @ xt).getnnz(axis=1).mean() * x.shape[0])


def mem_available_bytes() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return 8 * 2**30


def header(threads: int | None) -> str:
    import numba
    import scipy
    import sklearn

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=HERE).stdout.strip()
    except OSError:
        commit = "?"
    n_threads = threads or numba.config.NUMBA_NUM_THREADS
    return (f"python {platform.python_version()}, numpy {np.__version__}, scipy "
            f"{scipy.__version__}, scikit-learn {sklearn.__version__}, numba "
            f"{numba.__version__} ({n_threads} threads), {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}, commit {commit}")


# ---------------------------------------------------------------------------------- main
def measure(args, parser) -> list[dict]:
    """Every data set of ``args.datasets``, implementations in turns; one dict per set."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            note = ""
            t0 = time.perf_counter()
            if name == "synthetic":
                x = item_matrix_synthetic(args.seed)
                repeats = args.synthetic_repeats
            else:
                if not args.data:
                    parser.error("set RECSYS_DATA or pass --data for the MovieLens sets")
                x = item_matrix_movielens(name, args.data)
                repeats = args.repeats
            build_s = time.perf_counter() - t0
            if name == "synthetic":
                est = estimate_product_nnz(x, seed=args.seed)
                # float32 values + int32 (int64 past 2^31) indices, plus scipy's row counts.
                per = 8 if est < 2**31 else 12
                need = est * per
                budget = (args.memory_budget * 2**30 if args.memory_budget
                          else 0.6 * mem_available_bytes())
                fraction = args.synthetic_fraction
                if fraction is None and need > budget:
                    fraction = float(np.sqrt(budget / need)) * 0.95
                    note = (f"SCALED DOWN: scikit-learn's output would hold ~{est:.3g} entries "
                            f"(~{need / 2**30:.1f} GiB > budget {budget / 2**30:.1f} GiB); "
                            f"both run on a random {fraction:.0%} of the items")
                elif fraction is not None:
                    note = (f"both run on a random {fraction:.0%} of the items "
                            "(--synthetic-fraction)")
                else:
                    note = (f"scikit-learn's output estimated at ~{est:.3g} entries "
                            f"(~{need / 2**30:.1f} GiB, budget {budget / 2**30:.1f} GiB)")
                if fraction is not None and fraction < 1:
                    rng = np.random.default_rng(args.seed)
                    keep = np.sort(rng.choice(x.shape[0], int(fraction * x.shape[0]),
                                              replace=False))
                    x = x[keep]
            path = Path(tmp) / f"{name}.npz"
            sp.save_npz(path, x, compressed=False)
            shape, nnz = x.shape, x.nnz
            del x
            print(f"== {name}: {shape[0]} items x {shape[1]} users, {nnz} ratings "
                  f"(built in {build_s:.1f} s)" + (f"\n   {note}" if note else ""), flush=True)
            runs = [("ours top-k", "ours", args.k)]
            if name != "synthetic" and getattr(args, "all_pairs", True):
                runs.append(("ours all-pairs", "ours", 0))
            runs.append(("scikit-learn", "sklearn", 0))
            # Rounds of one child per implementation, in turn, so that a change in the
            # machine's load hits all of them alike; each child times `per_child` calls.
            rounds, per_child = (repeats, 1) if name == "synthetic" else (repeats, 2)
            row = {"name": name, "runs": {label: [] for label, _, _ in runs}}
            for r in range(rounds):
                for label, impl, k in runs:
                    res = spawn(impl, path, k, per_child, args.threads)
                    row["runs"][label].append(res)
                    if "error" in res:
                        print(f"   {label:15s} round {r + 1} FAILED: {res['error']}", flush=True)
                    else:
                        wall = ", ".join(f"{t:.3f}" for t in res["times"])
                        cpu = ", ".join(f"{t:.3f}" for t in res["cpu"])
                        print(f"   {label:15s} round {r + 1}: {wall} s wall, {cpu} s CPU; "
                              f"peak +{res['peak_mib']:.0f} MiB", flush=True)
            for label, _, _ in runs:
                ok = [res for res in row["runs"][label] if "error" not in res]
                if ok:
                    row[label] = {
                        "median_s": float(np.median([t for res in ok for t in res["times"]])),
                        "cpu_s": float(np.median([t for res in ok for t in res["cpu"]])),
                        "peak_mib": max(res["peak_mib"] for res in ok),
                        "how": ok[0]["how"], "nnz": ok[0]["nnz"],
                        "n": sum(len(res["times"]) for res in ok),
                    }
                    m = row[label]
                    print(f"   {label:15s} median {m['median_s']:8.3f} s wall ({m['cpu_s']:.3f} s "
                          f"CPU) over {m['n']}; peak +{m['peak_mib']:.0f} MiB ({m['how']}); "
                          f"output nnz {m['nnz']}", flush=True)
            results.append(row)
    return results


def speed_rows(quick: bool = False) -> list[dict]:
    """The issue-15 similarity rows for benchmarks/speed.py: top-50 cosine (ours) against
    scikit-learn's all-pairs cosine on ML-100K, ml-latest-small and (not in ``quick``) the
    ML-20M-shaped synthetic matrix, wall seconds (median), peak MiB, goal per matrix."""
    goals = {"ml-100k": 1.5, "ml-latest-small": 1.5, "synthetic": 5.0}
    names = ["ml-100k", "ml-latest-small"] + ([] if quick else ["synthetic"])
    parser = argparse.ArgumentParser()
    args = argparse.Namespace(datasets=names, data=os.environ.get("RECSYS_DATA"), k=50,
                              repeats=2 if quick else 3, synthetic_repeats=2,
                              synthetic_fraction=None, memory_budget=None, threads=None,
                              seed=0, all_pairs=False)
    load0 = os.getloadavg()[0]
    rows = []
    for row in measure(args, parser):
        o, s = row.get("ours top-k", {}), row.get("scikit-learn", {})
        ok = "median_s" in o and "median_s" in s
        ratio = s["median_s"] / o["median_s"] if ok else None
        goal = goals[row["name"]]
        rows.append({
            "row": f"top-50 cosine similarity vs scikit-learn, {row['name']}",
            "ours_s": o.get("median_s"), "peer_s": s.get("median_s"), "ratio": ratio,
            "goal": f">= {goal:g}x", "met": bool(ok and ratio >= goal),
            "ours_cpu_s": o.get("cpu_s"), "peer_cpu_s": s.get("cpu_s"),
            "ours_peak_mib": o.get("peak_mib"), "peer_peak_mib": s.get("peak_mib"),
            "threads": {"numba": os.environ.get("NUMBA_NUM_THREADS", "default")},
            "load_before": load0, "load_after": os.getloadavg()[0],
        })
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+",
                        default=["ml-100k", "ml-latest-small", "synthetic"],
                        choices=["ml-100k", "ml-latest-small", "synthetic"])
    parser.add_argument("--data", default=os.environ.get("RECSYS_DATA"),
                        help="folder holding ml-100k/ and ml-latest-small/")
    parser.add_argument("--k", type=int, default=50, help="neighbours kept per item")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds on the small sets (two timed calls per child)")
    parser.add_argument("--synthetic-repeats", type=int, default=3,
                        help="rounds on the synthetic set (one timed call per child)")
    parser.add_argument("--synthetic-fraction", type=float, default=None,
                        help="use this random fraction of the synthetic items")
    parser.add_argument("--memory-budget", type=float, default=None,
                        help="GiB scikit-learn's output may take (default 60%% of "
                             "MemAvailable)")
    parser.add_argument("--threads", type=int, default=None, help="Numba threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--matrix", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.impl = args.child
        child(args)
        return 0

    print(header(args.threads), flush=True)
    with tempfile.TemporaryDirectory() as cold:
        res = spawn("compile", Path("-"), 0, 1, args.threads, {"NUMBA_CACHE_DIR": cold})
    print(f"JIT compile, cold cache (import + both kernels): "
          f"{res.get('compile_s', float('nan')):.1f} s\n", flush=True)

    results = measure(args, parser)

    print(f"\nSummary (k={args.k}; speed-up = scikit-learn wall time / our top-k wall time;"
          " peak = resident memory growth during the call)")
    print(f"{'matrix':18s} {'ours s':>9s} {'sklearn s':>10s} {'speed-up':>9s} "
          f"{'ours CPU s':>11s} {'sk CPU s':>9s} {'ours MiB':>9s} {'sklearn MiB':>12s}")
    for row in results:
        o, s = row.get("ours top-k", {}), row.get("scikit-learn", {})
        if "median_s" in o and "median_s" in s:
            print(f"{row['name']:18s} {o['median_s']:9.3f} {s['median_s']:10.3f} "
                  f"{s['median_s'] / o['median_s']:8.2f}x {o['cpu_s']:11.3f} "
                  f"{s['cpu_s']:9.3f} {o['peak_mib']:9.0f} {s['peak_mib']:12.0f}")
        else:
            print(f"{row['name']:18s} (a measurement failed, see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
