"""EASE fit time against a plain NumPy dense inverse, same run, same data (issue 15).

Data: ml-latest-small (9,724 items), the quick config's seeded 90/10 split (seed 42); both
fit on its train part with reg = 500 and every rating a positive, and both are scored on
its test part (NDCG@10, relevant = rating >= 4) so that the speed is read at equal accuracy.

- ours: ``recsys.models.EASE`` (Gram in float64, then LAPACK potrf + potri in float32 by
  default; ``--dtype float64`` for the float64 Cholesky path);
- peer: the same Gram matrix, ``P = numpy.linalg.inv(G)`` in float64, ``B = -P / diag(P)``
  with a zero diagonal: Steck's eq. 8 as most implementations write it.

Both use the BLAS thread count the process has (recorded); timings are medians of
``--repeats`` interleaved fits (ours, peer, ours, ...), with the load average and CPU model
printed beside them. ``speed_rows(quick)`` returns the row for benchmarks/speed.py.

    RECSYS_DATA=/path .venv/bin/python benchmarks/bench_ease.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from recsys.dataset import Dataset
from recsys.evaluation import evaluate_topn
from recsys.models import EASE
from recsys.models._implicit import positives_csr

REG = 500.0
GOAL = 2.0


def numpy_ease(train: Dataset, reg: float) -> np.ndarray:
    """The peer: EASE's B by a general float64 inverse (Steck 2019, eq. 8)."""
    X = positives_csr(train.csr, None).astype(np.float64)
    G = (X.T @ X).toarray()
    G[np.diag_indices_from(G)] += reg
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))[None, :]
    np.fill_diagonal(B, 0.0)
    return B


def split():
    from recsys.data import load_dataset
    from recsys.split import holdout

    ds = load_dataset("ml-latest-small", os.environ.get("RECSYS_DATA"))
    fold = holdout(ds, 0.1, seed=42)[0]
    return fold.train, fold.test


def ndcg(weights: np.ndarray, train: Dataset, test: Dataset) -> float:
    X = positives_csr(train.csr, None)
    res = evaluate_topn(lambda u: np.asarray(X[u] @ weights), train, test, k=10,
                        relevance_threshold=4.0, metrics=("ndcg",))
    return float(res.means["ndcg@10"])


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info()
                     if i.get("user_api") == "blas") or "none found"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "?"


def measure(repeats: int, dtype: str = "float32") -> dict:
    train, test = split()
    ours_t, peer_t = [], []
    ours_w = peer_w = None
    EASE(reg=REG, dtype=dtype).fit(train.subset(np.arange(train.n_ratings) < 500))  # warm
    for _ in range(repeats):
        t = time.perf_counter()
        ours_w = EASE(reg=REG, dtype=dtype).fit(train).weights_
        ours_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        peer_w = numpy_ease(train, REG)
        peer_t.append(time.perf_counter() - t)
    ours_s, peer_s = statistics.median(ours_t), statistics.median(peer_t)
    ratio = peer_s / ours_s
    ndcg_ours, ndcg_peer = ndcg(ours_w, train, test), ndcg(peer_w, train, test)
    return {"row": f"EASE vs NumPy dense inverse, ml-latest-small ({train.n_items} items, "
                   f"reg {REG:g}, ours {dtype})",
            "ours_s": ours_s, "peer_s": peer_s, "ratio": ratio, "goal": f">= {GOAL:g}x",
            "met": bool(ratio >= GOAL and abs(ndcg_ours - ndcg_peer) < 1e-3),
            "ndcg10_ours": ndcg_ours, "ndcg10_peer": ndcg_peer,
            "max_weight_diff": float(np.abs(ours_w - peer_w).max()),
            "repeats": repeats, "blas_threads": blas_threads(),
            "load_avg": [round(v, 2) for v in os.getloadavg()], "cpu": cpu_model()}


def speed_rows(quick: bool) -> list[dict]:
    """The EASE row of benchmarks/speed.py: one fit each (quick) or the median of three."""
    return [measure(1 if quick else 3)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one fit each")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = ap.parse_args()
    row = measure(1 if args.quick else args.repeats, args.dtype)
    print(f"# bench_ease  python {platform.python_version()}  numpy {np.__version__}  "
          f"cpu {row['cpu']}  BLAS threads {row['blas_threads']}  load {row['load_avg']}")
    print(row["row"])
    print(f"  ours {row['ours_s']:.3f} s   NumPy inverse {row['peer_s']:.3f} s   "
          f"ratio {row['ratio']:.2f}x (goal {row['goal']}: {'met' if row['met'] else 'NOT met'})")
    print(f"  NDCG@10 ours {row['ndcg10_ours']:.4f}  peer {row['ndcg10_peer']:.4f}  "
          f"max |B_ours - B_peer| {row['max_weight_diff']:.2e}")


if __name__ == "__main__":
    main()
