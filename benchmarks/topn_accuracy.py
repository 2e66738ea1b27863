"""Top-N accuracy on ML-100K u1..u5: Popularity, EASE, ImplicitALS, BPR, and ``implicit``.

Protocol (recsys.evaluation.evaluate_topn): for every user with a relevant test item, rank
all items the user did not rate in the fold's train part; relevant = test items rated >= 4;
report precision@10, recall@10 and NDCG@10, averaged over users, then over the five folds.
Every model treats every training rating as a positive (threshold=None).

Regularisation is tuned per fold on a validation split carved from that fold's train part
(a random 20% of its ratings, ``recsys.split.holdout``), by NDCG@10 on it; the test part
is never looked at. The chosen value is refitted on the whole train part.

Convention matching with the ``implicit`` library (0.7.x), measured in the same run with
the same hyperparameters:

- ALS: ``implicit`` weighs a stored entry by ``alpha * value``; ours by ``1 + alpha * r``
  with r = 1. We give ``implicit`` the matrix ``1 + alpha * X`` with its alpha = 1, so both
  minimise the same loss. Both use 3 CG steps warm-started from the previous sweep, factors
  initialised uniform on [0, 0.01) from the same seed, float32 factors, regularisation
  lambda * I not scaled by counts.
- BPR: ``implicit`` draws the negative item from a uniformly chosen stored pair (popularity
  sampling) and skips a sample whose negative the user has; ours draws uniformly over items
  (the paper) by default and redraws. The comparison pair is therefore our BPR with
  ``negative_sampling="popularity", redraw_negatives=False`` against ``implicit``'s; our
  default (uniform, redraw) is reported too. BPR results vary with the seed more than
  the others, so each BPR row is the mean over ``--bpr-seeds`` seeds per fold. ``implicit``'s BPR has an item bias (the extra factor column); ours has
  ``use_item_bias=True``. Both run on one thread (``num_threads=1``, our serial mode).

EASE is also checked against a direct dense NumPy solve of Steck's closed form on every
fold (max absolute difference of B).

Usage: RECSYS_DATA=/path python benchmarks/topn_accuracy.py [--folds u1 u2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
import warnings

import numba
import numpy as np

from recsys.data import load_dataset
from recsys.evaluation import evaluate_topn
from recsys.models import BPR, EASE, ImplicitALS
from recsys.models._implicit import positives_csr
from recsys.split import holdout, official_folds

METRICS = ("precision@10", "recall@10", "ndcg@10")

# Fixed hyperparameters (chosen once by hand on the u1 validation split); `reg` is tuned.
EASE_GRID = [100.0, 200.0, 500.0, 1000.0]
IALS_FIXED = dict(n_factors=64, alpha=2.0, n_iterations=15, cg_steps=3)
IALS_GRID = [5.0, 15.0, 30.0, 60.0, 120.0]
BPR_FIXED = dict(n_factors=64, learning_rate=0.05, n_epochs=50, use_item_bias=True)
BPR_GRID = [0.001, 0.003, 0.01, 0.03, 0.1]
# implicit's BPR: negatives drawn by popularity, a sample with a positive negative skipped.
IMPLICIT_SAMPLING = dict(negative_sampling="popularity", redraw_negatives=False)


def evaluate(score_fn, train, test) -> dict[str, float]:
    res = evaluate_topn(score_fn, train, test, k=10, relevance_threshold=4.0,
                        metrics=("precision", "recall", "ndcg"))
    return {m: float(res.means[m]) for m in METRICS}


def popularity_scores(train):
    try:
        from recsys.models.baseline import Popularity
    except ImportError:  # before the baselines land: the same count-based score
        counts = train.item_counts.astype(np.float64)
        return lambda users: np.broadcast_to(counts, (len(users), len(counts))).copy()
    return Popularity(by="count").fit(train).score_items


def dense_ease(X: np.ndarray, reg: float) -> np.ndarray:
    P = np.linalg.inv(X.T @ X + reg * np.eye(X.shape[1]))
    B = np.eye(X.shape[1]) - P @ np.diag(1.0 / np.diag(P))
    np.fill_diagonal(B, 0.0)
    return B


def tune(name, make, grid, train, seed) -> tuple[float, dict]:
    """Best reg by validation NDCG@10 on a holdout carved from `train`."""
    part = holdout(train, test_fraction=0.2, seed=seed)[0]
    fit_part, val_part = part.train, part.test
    scores = {}
    for reg in grid:
        model = make(reg).fit(fit_part)
        scores[reg] = evaluate(model.score_items, fit_part, val_part)["ndcg@10"]
    best = max(grid, key=lambda r: scores[r])
    print(f"    tune {name:<22} val NDCG@10 " +
          "  ".join(f"{r:g}:{s:.4f}" for r, s in scores.items()) + f"  -> reg={best:g}",
          flush=True)
    return best, scores


def implicit_als(train, reg, seed):
    from implicit.als import AlternatingLeastSquares

    X = positives_csr(train.csr, None)
    C = X.copy()
    C.data = (1.0 + IALS_FIXED["alpha"] * C.data).astype(np.float32)  # 1 + alpha * r
    model = AlternatingLeastSquares(
        factors=IALS_FIXED["n_factors"], regularization=reg, alpha=1.0,
        iterations=IALS_FIXED["n_iterations"], use_gpu=False, use_cg=True,
        num_threads=1, random_state=seed, dtype=np.float32)
    model.cg_steps = IALS_FIXED["cg_steps"]
    model.fit(C, show_progress=False)
    return lambda users: model.user_factors[users] @ model.item_factors.T


def implicit_bpr(train, reg, seed):
    from implicit.bpr import BayesianPersonalizedRanking

    X = positives_csr(train.csr, None)
    model = BayesianPersonalizedRanking(
        factors=BPR_FIXED["n_factors"], learning_rate=BPR_FIXED["learning_rate"],
        regularization=reg, iterations=BPR_FIXED["n_epochs"], use_gpu=False,
        num_threads=1, random_state=seed, verify_negative_samples=True)
    model.fit(X, show_progress=False)
    # The last item column is the bias; the matching user column is fixed at 1.
    return lambda users: model.user_factors[users] @ model.item_factors.T


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", nargs="+", default=["u1", "u2", "u3", "u4", "u5"])
    ap.add_argument("--quick", action="store_true",
                    help="fold u1 only, no tuning (the middle of each grid)")
    ap.add_argument("--bpr-seeds", type=int, default=2,
                    help="BPR fits (seeds) per fold and variant, averaged")
    args = ap.parse_args()
    folds_wanted = ["u1"] if args.quick else args.folds
    warnings.filterwarnings("ignore", module="implicit")  # its BLAS-threads advice

    import implicit

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"# topn_accuracy  commit {commit}  python {platform.python_version()}  numpy "
          f"{np.__version__}  numba {numba.__version__} ({numba.get_num_threads()} threads)  "
          f"implicit {implicit.__version__}")
    data_dir = os.environ.get("RECSYS_DATA")
    ds = load_dataset("ml-100k", data_dir)
    folds = official_folds(ds, data_dir, names=tuple(folds_wanted))

    rows: dict[str, list[dict]] = {}
    chosen: dict[str, list[float]] = {}
    ease_err = []
    t_start = time.time()
    for f_idx, fold in enumerate(folds):
        train, test = fold.train, fold.test
        seed = f_idx
        print(f"## fold {fold.name}: {train.n_ratings} train / {test.n_ratings} test ratings",
              flush=True)

        def pick(name, make, grid):
            if args.quick:
                reg = grid[len(grid) // 2]
            else:
                reg, _ = tune(name, make, grid, train, seed=100 + f_idx)
            chosen.setdefault(name, []).append(reg)
            return reg

        ease_reg = pick("EASE", lambda r: EASE(reg=r), EASE_GRID)
        ials_reg = pick("ImplicitALS", lambda r: ImplicitALS(reg=r, seed=seed, **IALS_FIXED),
                        IALS_GRID)
        bpr_reg = pick("BPR (uniform)", lambda r: BPR(reg=r, seed=seed, **BPR_FIXED),
                       BPR_GRID)
        bprp_reg = pick("BPR (implicit sampling)",
                        lambda r: BPR(reg=r, seed=seed, **IMPLICIT_SAMPLING, **BPR_FIXED),
                        BPR_GRID)

        ease = EASE(reg=ease_reg).fit(train)
        X = positives_csr(train.csr, None).toarray().astype(np.float64)
        ease_err.append(float(np.abs(ease.weights_ - dense_ease(X, ease_reg)).max()))
        seeds = [seed + 1000 * s for s in range(args.bpr_seeds)]
        fitted = {
            "Popularity (count)": [popularity_scores(train)],
            "EASE": [ease.score_items],
            "ImplicitALS": [ImplicitALS(reg=ials_reg, seed=seed, **IALS_FIXED)
                            .fit(train).score_items],
            "implicit ALS (same hp)": [implicit_als(train, ials_reg, seed)],
            "BPR (uniform neg.)": [BPR(reg=bpr_reg, seed=s, **BPR_FIXED).fit(train).score_items
                                   for s in seeds],
            "BPR (implicit sampling)": [BPR(reg=bprp_reg, seed=s, **IMPLICIT_SAMPLING,
                                            **BPR_FIXED).fit(train).score_items
                                        for s in seeds],
            "implicit BPR (same hp)": [implicit_bpr(train, bprp_reg, s) for s in seeds],
        }
        for name, fns in fitted.items():
            runs = [evaluate(fn, train, test) for fn in fns]
            m = {k: float(np.mean([r[k] for r in runs])) for k in METRICS}
            rows.setdefault(name, []).append(m)
            print(f"    {name:<24} " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()) +
                  (f"  (mean of {len(runs)} seeds)" if len(runs) > 1 else ""), flush=True)

    print(f"\n## mean over folds {', '.join(folds_wanted)}  ({time.time() - t_start:.0f} s)")
    print(f"{'model':<26}" + "".join(f"{m:>14}" for m in METRICS))
    means = {}
    for name, ms in rows.items():
        means[name] = {m: float(np.mean([r[m] for r in ms])) for m in METRICS}
        print(f"{name:<26}" + "".join(f"{means[name][m]:>14.4f}" for m in METRICS))
    print("\nregularisation chosen per fold (validation NDCG@10):")
    for name, regs in chosen.items():
        print(f"  {name:<24} " + ", ".join(f"{r:g}" for r in regs))
    print(f"\nEASE vs dense NumPy solve: max |B - B_numpy| = {max(ease_err):.2e} "
          f"(bound 1e-6: {'ok' if max(ease_err) <= 1e-6 else 'FAIL'})")

    pop = means["Popularity (count)"]
    for name in ("EASE", "ImplicitALS"):
        gain = means[name]["ndcg@10"] / pop["ndcg@10"] - 1
        print(f"{name} NDCG@10 vs Popularity: {gain:+.1%} "
              f"({'beats' if gain > 0.1 else 'does NOT clearly beat'} Popularity)")
    for ours, theirs in (("ImplicitALS", "implicit ALS (same hp)"),
                         ("BPR (implicit sampling)", "implicit BPR (same hp)")):
        rel = {m: means[ours][m] / means[theirs][m] - 1 for m in METRICS}
        worst = max(abs(v) for v in rel.values())
        print(f"{ours} vs {theirs}: " + "  ".join(f"{m} {v:+.2%}" for m, v in rel.items()) +
              f"  (within 5%: {'yes' if worst <= 0.05 else 'NO'})")


if __name__ == "__main__":
    main()
