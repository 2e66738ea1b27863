"""Accuracy and fit time of TimeBaseline, SVDpp and TimeSVDpp on ML-100K u1..u5.

Protocol. For each official fold, the hyperparameters are chosen on a validation split
carved from that fold's TRAINING part only (``recsys.split.holdout(train, 0.1, seed=0)``):
every candidate is fitted on the other 90% and scored by RMSE on the 10%, at the validation
ratings' own times for the time-aware models. The winner is refitted on the whole training
part and scored once on the test part. The test parts never reach the search, and the
spaces below were written down before looking at these data (ranges around Surprise's,
Koren 2008's and the BellKor 2009 defaults).

Fairness. SVDpp and TimeSVDpp share ``FIXED`` (factors, epochs, seed) and the same budget of
fits. Stage 1 draws ``N_STAGE1`` factor settings from ``FACTOR_SPACE``; both models try the
same draws (TimeSVDpp with its bias steps/penalties set to SVDpp's single learning rate and
bias penalty, its time terms at the BellKor defaults). Stage 2: SVDpp draws ``N_STAGE2`` more
factor settings; TimeSVDpp keeps its stage-1 winner and draws ``N_STAGE2`` time-term settings
from ``TIME_SPACE``. TimeBaseline draws ``N_STAGE1 + N_STAGE2`` from ``BASELINE_SPACE``.

The settings chosen by the last ``--search`` run are committed below (``CHOSEN``); without
``--search`` the script refits them and prints the table (fit seconds: the median of
``--repeats`` interleaved fits, with the load average and CPU). TimeSVDpp is also scored
without times (each user at their last training day), as a harness that does not pass the
test timestamps (today's ``recsys bench``) would score it.

Usage: RECSYS_DATA=/work/shared/data python benchmarks/timesvdpp_accuracy.py [--search]
       [--folds u1 u2 u3 u4 u5] [--repeats 3] [--toml u1]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from recsys.data import load_dataset
from recsys.models.svdpp import SVDpp
from recsys.models.timesvdpp import TimeBaseline, TimeSVDpp
from recsys.split import holdout, official_folds
from recsys.tuning import LogUniform
from recsys.validation import as_generator

FIXED = {"n_factors": 50, "n_epochs": 40, "seed": 0}
N_STAGE1, N_STAGE2 = 24, 16
#: SVDpp's parameters (stage 1: both models; stage 2: SVDpp).
FACTOR_SPACE = {
    "learning_rate": LogUniform(0.002, 0.02),
    "reg_factors": LogUniform(0.005, 0.1),
    "reg_bias": LogUniform(0.001, 0.05),
    "reg_implicit": LogUniform(0.001, 0.05),
    "init_std": [0.01, 0.05, 0.1],
    "lr_decay": [0.9, 0.95, 1.0],
}
#: The time terms (stage 2 of TimeSVDpp). dev_u(t) reaches 215^0.4 ~ 8.6 on ML-100K, so
#: drift steps stay below 1e-3 (a step times dev^2 above ~1 diverges).
TIME_SPACE = {
    "n_bins": [10, 30],
    "lr_user_drift": LogUniform(1e-6, 1e-3),
    "reg_user_drift": LogUniform(0.1, 100.0),
    "lr_item_bin": LogUniform(1e-6, 1e-2),
    "reg_item_bin": LogUniform(0.01, 1.0),
    "lr_user_day": LogUniform(5e-4, 2e-2),
    "reg_user_day": LogUniform(1e-3, 0.1),
    "lr_factor_drift": [0.0, 1e-5, 1e-4],
}
BASELINE_SPACE = {
    **{k: v for k, v in TIME_SPACE.items() if k != "lr_factor_drift"},
    "lr_user_bias": LogUniform(1e-3, 2e-2), "lr_item_bias": LogUniform(1e-3, 2e-2),
    "reg_user_bias": LogUniform(0.003, 0.1), "reg_item_bias": LogUniform(0.003, 0.1),
    "lr_decay": [0.9, 0.95, 1.0],
}
#: Chosen by ``--search`` (its output pasted here; the keys beyond FIXED only): the run of
#: 2026-12-02 at commit 0a72f2c (validation RMSE per fold printed by that run: TimeBaseline
#: 0.9314/0.9486/0.9374/0.9526/0.9477, SVDpp 0.9085/0.9208/0.9049/0.9199/0.9169, TimeSVDpp
#: 0.9030/0.9164/0.9006/0.9169/0.9124 on u1..u5). Every fold draws the same candidates.
CHOSEN: dict[str, dict[str, dict]] = {
    "u1": {
        "TimeBaseline": {"n_bins": 30, "lr_user_drift": 7.62e-06, "reg_user_drift": 0.67820763,
            "lr_item_bin": 2.779e-05, "reg_item_bin": 0.14250014, "lr_user_day": 0.00350404,
            "reg_user_day": 0.00513687, "lr_user_bias": 0.00675, "lr_item_bias": 0.00757171,
            "reg_user_bias": 0.02124772, "reg_item_bias": 0.01166607, "lr_decay": 0.95},
        "SVDpp": {"learning_rate": 0.01144877, "reg_factors": 0.0221887, "reg_bias": 0.00793022,
            "reg_implicit": 0.0216285, "init_std": 0.01, "lr_decay": 0.95},
        "TimeSVDpp": {"lr_factors": 0.01144877, "lr_user_bias": 0.01144877,
            "lr_item_bias": 0.01144877, "reg_user_bias": 0.00793022, "reg_item_bias": 0.00793022,
            "reg_factors": 0.0221887, "reg_implicit": 0.0216285, "init_std": 0.01,
            "lr_decay": 0.95, "n_bins": 30, "lr_user_drift": 1.222e-05,
            "reg_user_drift": 1.78790458, "lr_item_bin": 0.00014643, "reg_item_bin": 0.01679683,
            "lr_user_day": 0.00224349, "reg_user_day": 0.00100139, "lr_factor_drift": 0.0},
    },
    "u2": {
        "TimeBaseline": {"n_bins": 30, "lr_user_drift": 7.62e-06, "reg_user_drift": 0.67820763,
            "lr_item_bin": 2.779e-05, "reg_item_bin": 0.14250014, "lr_user_day": 0.00350404,
            "reg_user_day": 0.00513687, "lr_user_bias": 0.00675, "lr_item_bias": 0.00757171,
            "reg_user_bias": 0.02124772, "reg_item_bias": 0.01166607, "lr_decay": 0.95},
        "SVDpp": {"learning_rate": 0.00441902, "reg_factors": 0.09848891, "reg_bias": 0.00344174,
            "reg_implicit": 0.00204373, "init_std": 0.01, "lr_decay": 1.0},
        "TimeSVDpp": {"lr_factors": 0.01144877, "lr_user_bias": 0.01144877,
            "lr_item_bias": 0.01144877, "reg_user_bias": 0.00793022, "reg_item_bias": 0.00793022,
            "reg_factors": 0.0221887, "reg_implicit": 0.0216285, "init_std": 0.01,
            "lr_decay": 0.95, "n_bins": 30, "lr_user_drift": 1.222e-05,
            "reg_user_drift": 1.78790458, "lr_item_bin": 0.00014643, "reg_item_bin": 0.01679683,
            "lr_user_day": 0.00224349, "reg_user_day": 0.00100139, "lr_factor_drift": 0.0},
    },
    "u3": {
        "TimeBaseline": {"n_bins": 30, "lr_user_drift": 6.195e-05, "reg_user_drift": 37.61233382,
            "lr_item_bin": 7.356e-05, "reg_item_bin": 0.4568594, "lr_user_day": 0.00345369,
            "reg_user_day": 0.08178418, "lr_user_bias": 0.00855713, "lr_item_bias": 0.01537009,
            "reg_user_bias": 0.0817, "reg_item_bias": 0.0499856, "lr_decay": 0.95},
        "SVDpp": {"learning_rate": 0.01144877, "reg_factors": 0.0221887, "reg_bias": 0.00793022,
            "reg_implicit": 0.0216285, "init_std": 0.01, "lr_decay": 0.95},
        "TimeSVDpp": {"lr_factors": 0.01144877, "lr_user_bias": 0.01144877,
            "lr_item_bias": 0.01144877, "reg_user_bias": 0.00793022, "reg_item_bias": 0.00793022,
            "reg_factors": 0.0221887, "reg_implicit": 0.0216285, "init_std": 0.01,
            "lr_decay": 0.95, "n_bins": 30, "lr_user_drift": 1.222e-05,
            "reg_user_drift": 1.78790458, "lr_item_bin": 0.00014643, "reg_item_bin": 0.01679683,
            "lr_user_day": 0.00224349, "reg_user_day": 0.00100139, "lr_factor_drift": 0.0},
    },
    "u4": {
        "TimeBaseline": {"n_bins": 30, "lr_user_drift": 1.19e-06, "reg_user_drift": 0.35848587,
            "lr_item_bin": 9.28e-06, "reg_item_bin": 0.29117908, "lr_user_day": 0.00348275,
            "reg_user_day": 0.00848693, "lr_user_bias": 0.0019477, "lr_item_bias": 0.00964243,
            "reg_user_bias": 0.00452335, "reg_item_bias": 0.00714154, "lr_decay": 1.0},
        "SVDpp": {"learning_rate": 0.00312723, "reg_factors": 0.02417357, "reg_bias": 0.00774997,
            "reg_implicit": 0.00141612, "init_std": 0.05, "lr_decay": 1.0},
        "TimeSVDpp": {"lr_factors": 0.01144877, "lr_user_bias": 0.01144877,
            "lr_item_bias": 0.01144877, "reg_user_bias": 0.00793022, "reg_item_bias": 0.00793022,
            "reg_factors": 0.0221887, "reg_implicit": 0.0216285, "init_std": 0.01,
            "lr_decay": 0.95, "n_bins": 10, "lr_user_drift": 0.00029604,
            "reg_user_drift": 49.02343031, "lr_item_bin": 0.00021542, "reg_item_bin": 0.01203473,
            "lr_user_day": 0.00689945, "reg_user_day": 0.01374206, "lr_factor_drift": 0.0001},
    },
    "u5": {
        "TimeBaseline": {"n_bins": 10, "lr_user_drift": 1.785e-05, "reg_user_drift": 1.43745687,
            "lr_item_bin": 0.00027842, "reg_item_bin": 0.21295298, "lr_user_day": 0.0057118,
            "reg_user_day": 0.00147747, "lr_user_bias": 0.00571574, "lr_item_bias": 0.0090669,
            "reg_user_bias": 0.04882873, "reg_item_bias": 0.02362586, "lr_decay": 1.0},
        "SVDpp": {"learning_rate": 0.00312723, "reg_factors": 0.02417357, "reg_bias": 0.00774997,
            "reg_implicit": 0.00141612, "init_std": 0.05, "lr_decay": 1.0},
        "TimeSVDpp": {"lr_factors": 0.01144877, "lr_user_bias": 0.01144877,
            "lr_item_bias": 0.01144877, "reg_user_bias": 0.00793022, "reg_item_bias": 0.00793022,
            "reg_factors": 0.0221887, "reg_implicit": 0.0216285, "init_std": 0.01,
            "lr_decay": 0.95, "n_bins": 10, "lr_user_drift": 0.00029604,
            "reg_user_drift": 49.02343031, "lr_item_bin": 0.00021542, "reg_item_bin": 0.01203473,
            "lr_user_day": 0.00689945, "reg_user_day": 0.01374206, "lr_factor_drift": 0.0001},
    },
}

MODELS = {"TimeBaseline": TimeBaseline, "SVDpp": SVDpp, "TimeSVDpp": TimeSVDpp}


def draw(space: dict, rng: np.random.Generator) -> dict:
    out = {}
    for name, dist in space.items():
        if hasattr(dist, "sample"):
            out[name] = round(dist.sample(rng), 8)
        else:
            out[name] = dist[int(rng.integers(len(dist)))]
    return out


def as_time_svdpp(factor: dict) -> dict:
    """An SVDpp setting in TimeSVDpp's names: one step for factors and biases, one bias
    penalty for both sides, as SVDpp has them."""
    lr, reg_bias = factor["learning_rate"], factor["reg_bias"]
    return {"lr_factors": lr, "lr_user_bias": lr, "lr_item_bias": lr,
            "reg_user_bias": reg_bias, "reg_item_bias": reg_bias,
            **{k: factor[k] for k in ("reg_factors", "reg_implicit", "init_std", "lr_decay")}}


def rmse(model, data, times: bool = True) -> float:
    if times and getattr(model, "uses_timestamps", False):
        pred = model.predict(data.users, data.items, times=data.timestamps)
    else:
        pred = model.predict(data.users, data.items)
    return float(np.sqrt(np.mean((pred - data.ratings) ** 2)))


def fixed_for(name: str) -> dict:
    return {"n_epochs": FIXED["n_epochs"], "seed": FIXED["seed"]} if name == "TimeBaseline" \
        else dict(FIXED)


def best(name: str, candidates: list[dict], inner) -> tuple[dict, float]:
    scored = [(rmse(MODELS[name](**fixed_for(name), **c).fit(inner.train), inner.test), j)
              for j, c in enumerate(candidates)]
    score, j = min(scored)
    return candidates[j], score


def search(train, seed: int = 0) -> dict[str, dict]:
    """The chosen setting of each model on a validation split of ``train``."""
    inner = holdout(train, 0.1, seed=0)[0]
    rng = as_generator(seed)
    stage1 = [draw(FACTOR_SPACE, rng) for _ in range(N_STAGE1)]
    more = [draw(FACTOR_SPACE, rng) for _ in range(N_STAGE2)]
    times = [draw(TIME_SPACE, rng) for _ in range(N_STAGE2)]
    base = [draw(BASELINE_SPACE, rng) for _ in range(N_STAGE1 + N_STAGE2)]
    chosen, scores = {}, {}
    chosen["TimeBaseline"], scores["TimeBaseline"] = best("TimeBaseline", base, inner)
    chosen["SVDpp"], scores["SVDpp"] = best("SVDpp", stage1 + more, inner)
    factor, _ = best("TimeSVDpp", [as_time_svdpp(c) for c in stage1], inner)
    chosen["TimeSVDpp"], scores["TimeSVDpp"] = best(
        "TimeSVDpp", [{**factor, **t} for t in times] + [factor], inner)
    print(f"#   validation RMSE {json.dumps({k: round(v, 4) for k, v in scores.items()})}",
          flush=True)
    return chosen


def measure(fold, chosen: dict[str, dict], repeats: int) -> dict:
    """Test RMSE of each chosen model and the median of ``repeats`` interleaved fits."""
    seconds: dict[str, list[float]] = {name: [] for name in MODELS}
    row: dict = {"fold": fold.name}
    for rep in range(repeats):
        for name, cls in MODELS.items():
            model = cls(**fixed_for(name), **chosen[name])
            t0 = time.perf_counter()
            model.fit(fold.train)
            seconds[name].append(time.perf_counter() - t0)
            if rep == 0:
                row[name] = rmse(model, fold.test)
                if name == "TimeSVDpp":
                    row["TimeSVDpp (no times)"] = rmse(model, fold.test, times=False)
    for name, s in seconds.items():
        row[f"{name} fit s"] = float(np.median(s))
    return row


def print_table(rows: list[dict]) -> None:
    cols = ["TimeBaseline", "SVDpp", "TimeSVDpp", "TimeSVDpp (no times)",
            "TimeBaseline fit s", "SVDpp fit s", "TimeSVDpp fit s"]
    print("| fold | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for r in rows + ([{"fold": "mean", **{c: np.mean([x[c] for x in rows]) for c in cols}}]
                     if len(rows) > 1 else []):
        print(f"| {r['fold']} | " + " | ".join(
            f"{r[c]:.2f}" if c.endswith("fit s") else f"{r[c]:.4f}" for c in cols) + " |")
    mean = {c: np.mean([x[c] for x in rows]) for c in cols}
    print(f"\nTimeSVDpp - SVDpp RMSE (mean): {mean['TimeSVDpp'] - mean['SVDpp']:+.4f}; "
          f"fit time ratio TimeSVDpp / SVDpp: {mean['TimeSVDpp fit s'] / mean['SVDpp fit s']:.2f}")


def toml_blocks(fold: str) -> str:
    """``[[models]]`` tables of the three models with the settings chosen on ``fold``."""
    from recsys.tuning import toml_value

    labels = {"TimeBaseline": "TimeBaseline (tuned)", "SVDpp": "SVDpp (tuned, 50 factors)",
              "TimeSVDpp": "TimeSVDpp (tuned, 50 factors)"}
    out = []
    for name, label in labels.items():
        out += [f"# chosen on a validation split of {fold}.base "
                f"(benchmarks/timesvdpp_accuracy.py)", "[[models]]",
                f"name = {toml_value(name)}", f"label = {toml_value(label)}"]
        if name == "TimeSVDpp":
            out.append(f"counterpart = {toml_value(labels['SVDpp'])}")
        out += [f"params = {toml_value({**fixed_for(name), **CHOSEN[fold][name]})}", ""]
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--search", action="store_true", help="rerun the validation search")
    ap.add_argument("--folds", nargs="+", default=["u1", "u2", "u3", "u4", "u5"])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved fits per model")
    ap.add_argument("--toml", metavar="FOLD",
                    help="only print the [[models]] tables of the settings chosen on FOLD")
    args = ap.parse_args(argv)
    if args.toml:
        print(toml_blocks(args.toml))
        return
    from recsys.bench.environment import collect_environment, machine_line
    env = collect_environment()
    print(f"# {env['date']} | commit {env['git_commit']} | {machine_line(env)} | "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"# fixed {FIXED}; {N_STAGE1} + {N_STAGE2} candidates per model on a 10% "
          f"validation split of each training part")
    ds = load_dataset("ml-100k")
    rows, chosen_all = [], {}
    for fold in official_folds(ds, names=tuple(args.folds)):
        TimeSVDpp(n_factors=2, n_epochs=1).fit(fold.train.subset(np.arange(200)))  # JIT
        if args.search or fold.name not in CHOSEN:
            t0 = time.perf_counter()
            chosen_all[fold.name] = search(fold.train)
            print(f"# {fold.name}: search {time.perf_counter() - t0:.0f} s", flush=True)
        else:
            chosen_all[fold.name] = CHOSEN[fold.name]
        rows.append(measure(fold, chosen_all[fold.name], args.repeats))
        print(json.dumps(rows[-1], default=float), flush=True)
    print()
    print_table(rows)
    print(f"\n# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\nCHOSEN = " + json.dumps(chosen_all, indent=4))


if __name__ == "__main__":
    main()
