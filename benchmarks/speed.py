"""Every row of issue 15's speed table in one run: ours, the peer, the ratio, the goal, met.

    RECSYS_DATA=/path python benchmarks/speed.py --out DIR [--quick] [--only sgd svdpp ...]
    python benchmarks/speed.py --render DIR/speed.json --readme README.md

Each group of rows comes from the ``speed_rows(quick) -> list[dict]`` function of the
benchmark script that owns it, so the figures here are those scripts' own measurements:

- ``sgd``: benchmarks/bench_sgd.py (FunkSVD vs surprise.SVD at Surprise's defaults on
  u1.base, with the u1.test RMSE of both; the SGD epoch kernel on one thread at k=100; the
  default FunkSVD under two busy processes the benchmark starts and stops, against its own
  one-thread mode);
- ``ials`` and ``ease``: benchmarks/bench_ials_bpr.py and benchmarks/bench_ease.py when
  they define ``speed_rows``; otherwise measured here with what exists (ImplicitALS vs
  implicit's ALS given our confidence, same hyperparameters and thread count, with NDCG@10 on
  u1.test; EASE vs a plain NumPy dense inverse on ml-latest-small);
- ``similarity``: benchmarks/bench_similarity.py (top-50 cosine vs scikit-learn);
- ``svdpp``: benchmarks/bench_svdpp_als.py (SVD++ vs surprise.SVDpp);
- ``serve``: benchmarks/bench_serve.py (2 workers, 64 and 8 connections; needs wrk for
  figures comparable with the issue's, ``apt-get install -y wrk``).

A row is a dict with at least ``row``, ``ours_s``, ``peer_s``, ``ratio`` (peer seconds /
ours, above 1: ours faster; None without a peer), ``goal`` and ``met``; rows without a peer
carry ``value`` and ``unit`` (M updates/s, req/s). Every row also records the machine: CPU
model, SIMD width (from /proc/cpuinfo's flags), the thread settings (Numba, BLAS through
threadpoolctl, the *_NUM_THREADS variables) and the load average before and after it. A
group that fails gives one row with ``error`` and the run goes on. ``DIR/speed.json`` holds
``{"machine": ..., "rows": [...]}``, written atomically.

``--readme README.md`` replaces the text between ``<!-- results:speed:start -->`` and
``<!-- results:speed:end -->`` with the table rendered from the JSON
(recsys.bench.report.update_readme); with ``--out`` it renders the run just made.
Timings on a machine shared with other work are noisy: read the load averages beside them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

GROUPS = ("sgd", "ials", "ease", "similarity", "svdpp", "serve")
README_SECTION = "speed"


# ---------------------------------------------------------------------- machine
def simd_width(flags: set[str]) -> tuple[str, int]:
    """(name, float32 lanes) of the widest vector extension in ``flags``."""
    if "avx512f" in flags:
        return "AVX-512", 16
    if "avx2" in flags:
        return "AVX2", 8
    if "avx" in flags:
        return "AVX", 8
    if "sse2" in flags or "asimd" in flags or "neon" in flags:
        return "SSE2" if "sse2" in flags else "NEON", 4
    return "scalar", 1


def cpu_flags_and_model() -> tuple[str, set[str], float | None]:
    model, flags, mhz = platform.processor() or "?", set(), None
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("?", "", "x86_64"):
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
                elif key == "cpu MHz" and mhz is None:
                    mhz = float(value)
    except OSError:
        pass
    return model, flags, mhz


def thread_settings() -> dict:
    import numba

    out = {"numba_threads": numba.get_num_threads(),
           "NUMBA_NUM_THREADS": numba.config.NUMBA_NUM_THREADS}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if var in os.environ:
            out[var] = os.environ[var]
    try:
        from threadpoolctl import threadpool_info
        out["blas"] = [{"api": p.get("internal_api"), "threads": p.get("num_threads")}
                       for p in threadpool_info()]
    except ImportError:
        out["blas"] = "threadpoolctl not installed"
    return out


def machine() -> dict:
    model, flags, mhz = cpu_flags_and_model()
    simd, lanes = simd_width(flags)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit or "?", "cpu": model, "cpu_mhz": mhz, "cores": os.cpu_count(),
            "simd": simd, "float32_lanes": lanes, "python": platform.python_version(),
            "threads": thread_settings(), "load_average": os.getloadavg()}


# ---------------------------------------------------------------------- fallbacks
def _fallback_ials(quick: bool) -> list[dict]:
    """ImplicitALS vs implicit's ALS on ML-100K u1.base, same objective (our confidence),
    same hyperparameters (64 factors, 15 iterations, 3 CG steps), same thread count."""
    import numba
    import numpy as np
    from implicit.cpu.als import AlternatingLeastSquares

    from recsys.bench.adapters._base import blas_one_thread
    from recsys.bench.adapters.implicit import implicit_input
    from recsys.data import load_dataset
    from recsys.evaluation import evaluate_topn
    from recsys.models import ImplicitALS
    from recsys.split import official_folds

    fold = official_folds(load_dataset("ml-100k"), names=("u1",))[0]
    train, test = fold.train, fold.test
    train.csr  # noqa: B018
    hp = dict(n_factors=64, reg=30.0, alpha=2.0, n_iterations=15)
    threads = numba.get_num_threads()
    m = implicit_input(train, "AlternatingLeastSquares", alpha=hp["alpha"])

    def theirs():
        with blas_one_thread():
            model = AlternatingLeastSquares(
                factors=hp["n_factors"], regularization=hp["reg"], alpha=1.0,
                iterations=hp["n_iterations"], num_threads=threads, random_state=0)
            model.fit(m, show_progress=False)
        return model

    def ours():
        return ImplicitALS(**hp, seed=0).fit(train)

    ours(), theirs()
    repeats = 2 if quick else 5
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        a = ours()
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = theirs()
        t_theirs.append(time.perf_counter() - t)

    def ndcg(score):
        means = evaluate_topn(score, train, test, k=10, relevance_threshold=4.0,
                              metrics=("ndcg",)).means
        return float(next(v for key, v in means.items() if key.startswith("ndcg")))

    nd_ours = ndcg(a.score_items)
    nd_theirs = ndcg(lambda users: b.user_factors[users] @ b.item_factors.T)
    o, p = float(np.median(t_ours)), float(np.median(t_theirs))
    return [{"row": "ImplicitALS vs implicit ALS, ML-100K u1.base, same objective and "
                    "hyperparameters", "ours_s": o, "peer_s": p, "ratio": p / o,
             "goal": ">= 1.5x at equal NDCG@10",
             "met": bool(p / o >= 1.5 and nd_ours >= nd_theirs - 0.005),
             "ndcg10_ours": nd_ours, "ndcg10_peer": nd_theirs,
             "threads": {"numba": threads, "implicit_num_threads": threads,
                         "implicit_blas": 1},
             "source": "benchmarks/speed.py fallback (bench_ials_bpr.speed_rows missing)"}]


def _fallback_ease(quick: bool) -> list[dict]:
    """EASE (reg 500) vs a plain NumPy dense inverse of X^T X + reg I, ml-latest-small (one
    fit each: the 9,724-item inverse takes minutes on 2 cores); ``quick``: ML-100K's 1,682
    items instead."""
    import numpy as np

    from recsys.data import load_dataset
    from recsys.models import EASE

    name = "ml-100k" if quick else "ml-latest-small"
    ds = load_dataset(name)
    ds.csr  # noqa: B018
    reg = 500.0

    def dense():
        X = (ds.csr > 0).astype(np.float64).toarray()
        P = np.linalg.inv(X.T @ X + reg * np.eye(X.shape[1]))
        B = P / (-np.diag(P))
        np.fill_diagonal(B, 0.0)
        return B

    def ours():
        return EASE(reg=reg).fit(ds)

    if quick:
        ours()  # warm (the full catalogue's fit is long enough to make the JIT load noise)
    repeats = 1
    t_ours, t_dense = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        ours()
        t_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        dense()
        t_dense.append(time.perf_counter() - t)
    o, p = float(np.median(t_ours)), float(np.median(t_dense))
    return [{"row": f"EASE vs a NumPy dense inverse, {name}" + (" (quick)" if quick else ""), "ours_s": o,
             "peer_s": p, "ratio": p / o, "goal": ">= 2x", "met": bool(p / o >= 2),
             "source": "benchmarks/speed.py fallback (bench_ease.speed_rows missing)"}]


def _from_module(module: str, fallback: Callable | None = None) -> Callable[[bool], list]:
    def rows(quick: bool) -> list[dict]:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            mod = None
        fn = getattr(mod, "speed_rows", None)
        if fn is None:
            if fallback is None:
                raise RuntimeError(f"benchmarks/{module}.py has no speed_rows(quick)")
            return fallback(quick)
        return fn(quick)
    return rows


SOURCES: dict[str, Callable[[bool], list]] = {
    "sgd": _from_module("bench_sgd"),
    "ials": _from_module("bench_ials_bpr", _fallback_ials),
    "ease": _from_module("bench_ease", _fallback_ease),
    "similarity": _from_module("bench_similarity"),
    "svdpp": _from_module("bench_svdpp_als"),
    "serve": _from_module("bench_serve"),
}


# ---------------------------------------------------------------------- run
def run(groups, quick: bool, log=print) -> dict:
    info = machine()
    rows = []
    for group in groups:
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            got = SOURCES[group](quick)
        except Exception as exc:  # one failed group must not cost the others
            where = traceback.extract_tb(exc.__traceback__)[-1]
            got = [{"row": f"{group}: failed", "ours_s": None, "peer_s": None, "ratio": None,
                    "goal": None, "met": False,
                    "error": f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:"
                             f"{where.lineno})"}]
        seconds = time.perf_counter() - t0
        for row in got:
            row.setdefault("load_before", load0)
            row.setdefault("load_after", os.getloadavg()[0])
            row["group"] = group
            row["group_seconds"] = seconds
            row["cpu"] = info["cpu"]
            row["simd"] = info["simd"]
            row.setdefault("threads", {})
            row["thread_settings"] = thread_settings()
            rows.append(row)
            log(format_row(row))
    return {"machine": info, "quick": quick, "rows": rows}


def _fmt_s(x) -> str:
    if x is None:
        return "–"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def _fmt_ours(row) -> str:
    if row.get("value") is not None:
        return f"{row['value']:,.1f} {row.get('unit', '')}".strip()
    return _fmt_s(row.get("ours_s"))


def format_row(row: dict) -> str:
    ratio = "–" if row.get("ratio") is None else f"{row['ratio']:.2f}x"
    met = "ERROR" if row.get("error") else ("met" if row.get("met") else "not met")
    line = (f"{row['row'][:72]:72s} ours {_fmt_ours(row):>16s}  peer "
            f"{_fmt_s(row.get('peer_s')):>9s}  {ratio:>8s}  goal {row.get('goal') or '–'}"
            f"  {met}  (load {row.get('load_before', 0):.1f} -> "
            f"{row.get('load_after', 0):.1f})")
    if row.get("error"):
        line += f"\n    {row['error']}"
    return line


def markdown(doc: dict) -> str:
    """The README speed section: one table row per measured row, then the machine."""
    m = doc["machine"]
    lines = ["| row | recsys | peer | ratio | goal | met | load |",
             "|---|---:|---:|---:|---|:---:|---:|"]
    for row in doc["rows"]:
        ratio = "–" if row.get("ratio") is None else f"{row['ratio']:.2f}×"
        extra = []
        for key, label in (("rmse_ours", "RMSE"), ("ndcg10_ours", "NDCG@10")):
            if row.get(key) is not None:
                peer = row.get(key.replace("_ours", "_peer"))
                extra.append(f"{label} {row[key]:.4f}"
                             + (f" vs {peer:.4f}" if peer is not None else ""))
        if row.get("p99_ms") is not None:
            extra.append(f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms")
        name = row["row"] + (f" ({'; '.join(extra)})" if extra else "")
        met = "error" if row.get("error") else ("yes" if row.get("met") else "no")
        lines.append(f"| {name} | {_fmt_ours(row)} | {_fmt_s(row.get('peer_s'))} | {ratio} "
                     f"| {row.get('goal') or '–'} | {met} | "
                     f"{row.get('load_before', 0):.1f} |")
    lines.append("")
    lines.append(f"Measured {m['date']}, commit {m['commit']}, {m['cpu']} ({m['cores']} "
                 f"cores, {m['simd']}, {m['float32_lanes']} float32 lanes), Numba threads "
                 f"{m['threads']['numba_threads']}{' (quick mode)' if doc.get('quick') else ''}"
                 f". Ratio = peer seconds / ours (above 1: ours faster); load = the 1-minute "
                 "load average when the row started. Generated by "
                 "`python benchmarks/speed.py --out DIR --readme README.md`.")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="folder for speed.json")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, shorter loads (< 5 min)")
    ap.add_argument("--only", nargs="+", choices=GROUPS, help="measure these groups only")
    ap.add_argument("--render", help="a speed.json to render instead of measuring")
    ap.add_argument("--readme", help="README to update between the results:speed markers")
    args = ap.parse_args(argv)
    if not args.out and not args.render:
        ap.error("give --out DIR (measure) or --render speed.json")
    from recsys.io import atomic_write_json

    if args.render:
        doc = json.loads(Path(args.render).read_text(encoding="utf-8"))
    else:
        t0 = time.perf_counter()
        m = machine()
        print(f"# speed.py  commit {m['commit']}  {m['cpu']}  {m['cores']} cores  "
              f"{m['simd']} ({m['float32_lanes']} float32 lanes)  numba threads "
              f"{m['threads']['numba_threads']}  load {m['load_average'][0]:.2f}", flush=True)
        doc = run(args.only or GROUPS, args.quick, log=lambda s: print(s, flush=True))
        doc["seconds"] = time.perf_counter() - t0
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "speed.json", doc, indent=1)
        print(f"# wrote {out / 'speed.json'} ({doc['seconds']:.0f} s)")
    print()
    print(markdown(doc))
    if args.readme:
        from recsys.bench.report import update_readme
        changed = update_readme(args.readme, README_SECTION, markdown(doc))
        print(f"# {args.readme}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
