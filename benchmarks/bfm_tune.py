"""Choose BayesianFM's rank and time bins on training data only (issue 16).

For each ML-100K fold named, a validation split is carved from its TRAIN part (a seeded 10%
holdout, seed 100 + fold number; recsys.split.holdout); every candidate setting is fitted on
the rest and scored on that validation part, at each rating's own time. The test parts are
never read. Prints one line per (fold, setting) and the mean validation RMSE per setting.
``--small``: ml-latest-small instead, the quick config's split (90/10, seed 42), its training
part carved the same way (seed 100).

Usage: RECSYS_DATA=... python benchmarks/bfm_tune.py [--folds u1] [--ranks 10 20]
       [--samples 256] [--bins 1 7] [--small] [--blocks ...]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

from recsys.data import load_dataset
from recsys.evaluation import rating_predictor
from recsys.models.bfm import BayesianFM
from recsys.split import holdout, official_folds

ALL = "user,item,user_implicit,item_implicit,user_side,item_side,time"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", nargs="+", default=["u1"])
    ap.add_argument("--ranks", nargs="+", type=int, default=[10, 20])
    ap.add_argument("--bins", nargs="+", type=int, default=[1])
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--blocks", nargs="+", default=[ALL])
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args(argv)
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: dict = {}
    if args.small:
        folds = [holdout(load_dataset("ml-latest-small"), test_fraction=0.1, seed=42)[0]]
        seeds = [100]
    else:
        folds = official_folds(load_dataset("ml-100k"), names=tuple(args.folds))
        seeds = [100 + int(f.name[1:]) for f in folds]
    for fold, seed in zip(folds, seeds):
        inner = holdout(fold.train, test_fraction=0.1, seed=seed)[0]
        for blocks, rank, bins in itertools.product(args.blocks, args.ranks, args.bins):
            if "time" not in blocks and bins != args.bins[0]:
                continue
            model = BayesianFM(rank=rank, n_samples=args.samples, blocks=blocks,
                               time_bin_days=bins, seed=0)
            t0 = time.perf_counter()
            model.fit(inner.train)
            secs = time.perf_counter() - t0
            pred = rating_predictor(model, inner.test)(inner.test.users, inner.test.items)
            rmse = float(np.sqrt(np.mean((pred - inner.test.ratings) ** 2)))
            results.setdefault((blocks, rank, bins), []).append(rmse)
            print(f"{fold.name} [{blocks}] rank {rank} bins {bins} d x {args.samples}: "
                  f"validation RMSE {rmse:.4f} ({secs:.1f} s)", flush=True)
    for (blocks, rank, bins), values in results.items():
        print(f"mean validation RMSE [{blocks}] rank {rank} bins {bins} d: "
              f"{np.mean(values):.4f}")
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
