"""Optuna (TPE + pruning) against random search with the same budget (issue 14).

Protocol: ML-100K, the training part of the official fold u1 (u1.base, 80,000 ratings) only;
3 inner folds of it (``recsys.split.kfold``, seed = the search seed), the same for both
searches and every candidate. Each search gets ``--trials`` candidates (30) from the same
space; a candidate's value is its mean inner-CV RMSE. Random search is
:func:`recsys.tuning.random_search`; Optuna is :func:`recsys.tuning_optuna.optuna_search`
(TPE, 10 random start-up trials, median pruning on the per-epoch RMSE of the inner test
part, never in the first half of a fold's epochs). Three comparisons with random search:

* ``optuna``: the same number of trials, pruning on (a pruned trial counts as a trial, so
  fewer trials complete, and fewer fits are used);
* ``optuna, no pruning``: the same number of trials, each run to the end (TPE against
  random draws alone);
* ``optuna, same fits``: the pruned study resumed (from its SQLite file, which gives what
  one uninterrupted run gives) until it has used as many inner-fold fits as random search's
  ``trials x folds``; a pruned fit counts as a whole one.

Search spaces (written before the runs, around Surprise's defaults and the ranges of
benchmarks/rating_accuracy.py and svdpp_als_accuracy.py). To fit a shared 2-core machine the
epochs are fixed for the search: 20 for FunkSVD (Surprise's default), 15 for SVDpp (Surprise
uses 20), and the factor ranges are capped (FunkSVD 20-150, SVDpp 5-50).

Seconds are wall time on a shared machine, not a target: the pruned study keeps its
trials in SQLite (each pruning check reads them back, tens of seconds over 30 trials), the
"same fits" seconds are those of the resumed trials only, and the load average is printed.

The u1 test part is used once at the end, to report the test RMSE of each search's choice
refitted on the whole u1.base; it never steers a search.

Output: a table of the best inner-CV RMSE each search reached (with the trial that reached
it, fits, pruned trials, seconds), Optuna minus random, the test RMSEs, the load average,
CPU model, versions and commit; a PNG of the best value so far against the trial number for
both searches and both models (``--plot``, written atomically); with ``--out DIR``, each
search's run record (``recsys tune --out``'s format, readable by ``params_from``).

    RECSYS_DATA=/work/shared/data .venv/bin/python benchmarks/optuna_vs_random.py
    RECSYS_DATA=/work/shared/data .venv/bin/python benchmarks/optuna_vs_random.py \\
        --trials 30 --seeds 0 1 --plot docs/optuna_vs_random.png --out recsys/bench/configs/tuned
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from recsys.data import load_dataset
from recsys.evaluation import evaluate_ratings, rating_predictor
from recsys.split import official_folds
from recsys.tuning import IntUniform, LogUniform, random_search

SPACES = {
    "FunkSVD": {"n_factors": IntUniform(20, 150), "learning_rate": LogUniform(0.002, 0.05),
                "reg_factors": LogUniform(0.01, 0.3), "reg_bias": LogUniform(0.005, 0.3)},
    "SVDpp": {"n_factors": IntUniform(5, 50), "learning_rate": LogUniform(0.002, 0.03),
              "reg_factors": LogUniform(0.005, 0.1), "reg_bias": LogUniform(0.001, 0.05),
              "reg_implicit": LogUniform(0.001, 0.1)},
}
FIXED = {"FunkSVD": {"n_epochs": 20, "seed": 0}, "SVDpp": {"n_epochs": 15, "seed": 0}}


def best_so_far(scores: list[dict]) -> list[float]:
    """Best completed mean RMSE after each trial (NaN before the first completed one)."""
    out, best = [], math.inf
    for s in scores:
        m = s["mean"]
        if s.get("state", "complete") == "complete" and m is not None and not math.isnan(m):
            best = min(best, m)
        out.append(best if math.isfinite(best) else float("nan"))
    return out


def fits(res) -> int:
    return sum(len(s.get("folds") or []) + (s.get("state") == "pruned") for s in res.scores)


def extend_to_fits(model, train, budget: int, storage: Path, **kw):
    """Resume the stored study, a few trials at a time, while a whole trial still fits in
    ``budget`` fits (so it never uses more than random search)."""
    from recsys.tuning_optuna import optuna_search

    res = optuna_search(model, train, SPACES[model], storage=storage, **kw)
    while budget - fits(res) >= kw["n_folds"]:
        more = max(1, (budget - fits(res)) // kw["n_folds"])
        res = optuna_search(model, train, SPACES[model], storage=storage,
                            **{**kw, "n_trials": len(res.scores) + more})
    return res


def u1_test_rmse(model: str, params: dict, train, test) -> float:
    from recsys.models.registry import model_class

    m = model_class(model)(**params).fit(train)
    return float(evaluate_ratings(rating_predictor(m, test), test).rmse)


METHODS = ("random", "optuna", "optuna, no pruning", "optuna, same fits")
COLORS = {"random": "tab:gray", "optuna": "tab:blue", "optuna, no pruning": "tab:green",
          "optuna, same fits": "tab:orange"}


def fit_curve(res) -> tuple[list[int], list[float]]:
    """(fits used, best completed value) after each trial."""
    xs, used = [], 0
    for s in res.scores:
        used += len(s.get("folds") or []) + (s.get("state") == "pruned")
        xs.append(used)
    return xs, best_so_far(res.scores)


def plot(results: dict, path: Path, trials: int, budget: int) -> Path:
    """Best value so far against the trial (top) and against the fits used (bottom): one
    thin line per seed, the thick line their mean."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from recsys.io import atomic_write

    models = list(dict.fromkeys(m for m, _, _ in results))
    seeds = sorted({s for _, _, s in results})
    fig, axes = plt.subplots(2, len(models), figsize=(5.6 * len(models), 7.4), squeeze=False)
    for col, model in enumerate(models):
        finite = [y for (m, _, _), r in results.items() if m == model
                  for y in best_so_far(r.scores) if math.isfinite(y)]
        lo = min(finite) if finite else 0.9
        for row, x_name in enumerate(("trial", "inner-fold fits used")):
            ax = axes[row][col]
            shown = METHODS[:3] if row == 0 else ("random", "optuna, same fits")
            for method in shown:
                grid = np.arange(1, (trials if row == 0 else budget) + 1)
                lines = []
                for seed in seeds:
                    res = results.get((model, method, seed))
                    if res is None:
                        continue
                    xs, ys = fit_curve(res)
                    if row == 0:
                        xs = list(range(1, len(ys) + 1))
                    ax.plot(xs, ys, color=COLORS[method], drawstyle="steps-post",
                            linewidth=0.8, alpha=0.35)
                    # the best value after each x (trial or fit count) of the grid
                    at = np.searchsorted(np.asarray(xs), grid, side="right") - 1
                    ys = np.asarray(ys)
                    lines.append(np.where(at >= 0, ys[np.maximum(at, 0)], np.nan))
                if lines:
                    with np.errstate(invalid="ignore"):
                        mean = np.mean(lines, axis=0)
                    ax.plot(grid, mean, color=COLORS[method], drawstyle="steps-post",
                            linewidth=2.2, label=f"{method} (mean of {len(lines)} seeds)")
            ax.set_xlim(1, trials if row == 0 else budget)
            ax.set_ylim(lo - 0.002, lo + 0.03)
            ax.set_xlabel(x_name)
            ax.set_ylabel("best inner-CV RMSE so far")
            ax.set_title(f"{model}, ML-100K u1.base: " + (f"{trials} trials each" if row == 0
                         else f"{budget} fits each"), fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    finally:
        plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--folds", type=int, default=3, help="inner folds")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=list(SPACES), choices=list(SPACES))
    ap.add_argument("--plot", default="results/optuna_vs_random.png")
    ap.add_argument("--out", default=None, metavar="DIR",
                    help="write each search's run record here")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)

    import tempfile

    from recsys import __version__
    from recsys.bench.environment import cpu_model, git_commit, library_versions
    from recsys.io import atomic_write_json
    from recsys.models.registry import model_class
    from recsys.tuning_optuna import optuna_search

    ds = load_dataset("ml-100k", args.data_dir)
    fold = official_folds(ds, args.data_dir, names=("u1",))[0]
    train = fold.train
    versions = library_versions()
    budget = args.trials * args.folds
    print(f"# ML-100K u1.base ({train.n_ratings} ratings), {args.folds} inner folds, "
          f"{args.trials} trials ({budget} fits) per search, seeds {args.seeds}")
    print(f"# {cpu_model()}, {os.cpu_count()} cpus, load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; python "
          f"{platform.python_version()}, numba {versions.get('numba')}, optuna "
          f"{versions.get('optuna') or _optuna_version()}, recsys {__version__}, commit "
          f"{git_commit()}")
    for model in args.models:  # warm the JIT so the first search does not pay the compile
        model_class(model)(**{**FIXED[model], "n_epochs": 1}).fit(train)

    results, seconds = {}, {}
    # the studies live in SQLite files; in memory-backed /dev/shm where there is one, so
    # that the per-epoch writes of the pruning reports do not wait on the disk
    shm = Path("/dev/shm")
    tmp = Path(tempfile.mkdtemp(prefix="optuna_vs_random.", dir=shm if shm.is_dir() else None))
    for model in args.models:
        for seed in args.seeds:
            common = dict(n_folds=args.folds, seed=seed, metric="rmse",
                          base_params=FIXED[model])
            storage = tmp / f"{model}-{seed}.db"
            for method in METHODS:  # interleaved: the same load for every search
                t0 = time.perf_counter()
                if method == "random":
                    res = random_search(model, train, SPACES[model], n_iter=args.trials,
                                        **common)
                elif method == "optuna":
                    res = optuna_search(model, train, SPACES[model], n_trials=args.trials,
                                        storage=storage, **common)
                elif method == "optuna, no pruning":
                    res = optuna_search(model, train, SPACES[model], n_trials=args.trials,
                                        prune=False, **common)
                else:  # resume the pruned study until it has used the same fits
                    res = extend_to_fits(model, train, budget, storage,
                                         n_trials=args.trials, **common)
                seconds[(model, method, seed)] = time.perf_counter() - t0
                results[(model, method, seed)] = res
                curve = best_so_far(res.scores)
                print(f"  {model:<8} {method:<19} seed {seed}: best {res.best_score:.4f} "
                      f"(trial {curve.index(curve[-1]) + 1} of {len(res.scores)}), "
                      f"{fits(res)} fits, {seconds[(model, method, seed)]:.0f} s", flush=True)

    print("\n| model | seed | search | trials (pruned) | fits | best inner-CV RMSE | "
          "reached at trial | minus random | seconds | u1 test RMSE of its choice |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    verdicts = []
    for (model, method, seed), res in results.items():
        base = results[(model, "random", seed)]
        curve = best_so_far(res.scores)
        pruned = sum(s.get("state") == "pruned" for s in res.scores)
        test = u1_test_rmse(model, res.best_params, train, fold.test)
        print(f"| {model} | {seed} | {method} | {len(res.scores)} ({pruned}) | {fits(res)} | "
              f"{res.best_score:.4f} | {curve.index(curve[-1]) + 1} | "
              f"{res.best_score - base.best_score:+.4f} | "
              f"{seconds[(model, method, seed)]:.0f} | {test:.4f} |")
        if method != "random":
            verdicts.append((model, method, seed, res.best_score <= base.best_score))
    for model in args.models:
        for method in METHODS[1:]:
            gaps = [results[(model, method, s)].best_score
                    - results[(model, "random", s)].best_score for s in args.seeds]
            print(f"{model} {method}: mean over seeds minus random {np.mean(gaps):+.4f}")
    for model, method, seed, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}: {model} seed {seed}: {method} reaches an inner-CV "
              f"RMSE at least as good as random search's {args.trials} trials")
    for (model, method, seed), res in results.items():
        print(f"{model} {method} seed {seed} best params: {res.best_params}")
    print(f"wrote {plot(results, Path(args.plot), args.trials, budget)}")
    if args.out:
        for (model, method, seed), res in results.items():
            stem = f"{model}-ml-100k-u1-{method.replace(', ', '-').replace(' ', '-')}-seed{seed}"
            path = Path(args.out) / f"{stem}.json"
            atomic_write_json(path, res.to_record(
                dataset="ml-100k", split={"method": "official", "folds": ["u1"]}, fold="u1",
                commit=git_commit(), train_ratings=int(train.n_ratings),
                source="benchmarks/optuna_vs_random.py"), indent=1)
            print(f"wrote {path}")
    print(f"# load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _optuna_version() -> str:
    import optuna

    return optuna.__version__


if __name__ == "__main__":
    main()
