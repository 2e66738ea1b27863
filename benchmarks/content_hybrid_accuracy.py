"""ContentKNN and Hybrid accuracy on the official ML-100K folds u1..u5.

For every fold and model (all fitted on the same training ratings in one run) the script
reports

- RMSE over the fold's test ratings (rating models only),
- precision@10 and NDCG@10 by :func:`recsys.evaluation.evaluate_topn` (rank every item the user
  did not rate in train; relevant = test ratings >= 4),
- RMSE on test pairs whose item has no training rating (cold items; few in these folds),
- RMSE on cold-ish users: a seeded sample of ``--cold-share`` of the users who have test
  ratings keeps only ``--cold-keep`` random training ratings each; every rating model is
  refitted on that reduced training set and scored on those users' test ratings (the rest of
  the training data stays as it is). This is where the Hybrid's switching rule
  (``switch_min_ratings=5``: such users go to ContentKNN) acts.

The hybrids pair ContentKNN (``centering="mean"``, the formula of the issue, or
``"baseline"``) with ItemKNN and with FunkSVD (those in ``recsys.models.registry``), weights
fitted on a 10% validation split of each fold's training part (never on the test fold); one
row repeats a hybrid with ``switch_min_ratings=0`` (no switching for cold-ish users). Means over the folds, with fit times (median over folds, seconds), are printed last.

    RECSYS_DATA=/work/shared/data .venv/bin/python benchmarks/content_hybrid_accuracy.py \
        [--folds u1 u2] [--cold-keep 3] [--cold-share 0.1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def model_list():
    """(label, factory, kind) for every model available; kind: "rating" or "ranking"."""
    from recsys.models.registry import registered_models

    MODELS = registered_models()
    content, hybrid = MODELS["ContentKNN"], MODELS["Hybrid"]
    out = [
        ("Baseline (reference)", lambda: MODELS["Baseline"](), "rating"),
        ("ContentKNN k=40 mean", lambda: content(k=40), "rating"),
        ("ContentKNN k=40 baseline", lambda: content(k=40, centering="baseline"), "rating"),
        ("ContentKNN profile", lambda: content(scoring="profile"), "ranking"),
    ]
    if "ItemKNN" in MODELS:
        knn = MODELS["ItemKNN"]
        out += [
            ("ItemKNN k=40 (KNNBaseline)", lambda: knn(k=40), "rating"),
            ("Hybrid CKNN mean + ItemKNN", lambda: hybrid([content(k=40), knn(k=40)]),
             "rating"),
            ("Hybrid CKNN baseline + ItemKNN", lambda: hybrid(
                [content(k=40, centering="baseline"), knn(k=40)]), "rating"),
            ("ItemKNN sum cosine k=50", lambda: knn(k=50, similarity="cosine",
                                                    aggregate="sum"), "ranking"),
            ("Hybrid CKNN profile + ItemKNN sum", lambda: hybrid(
                [content(scoring="profile"), knn(k=50, similarity="cosine",
                                                 aggregate="sum")]), "ranking"),
        ]
    if "FunkSVD" in MODELS:
        svd = MODELS["FunkSVD"]
        out += [
            ("FunkSVD", lambda: svd(seed=0), "rating"),
            ("Hybrid CKNN mean + FunkSVD", lambda: hybrid([content(k=40), svd(seed=0)]),
             "rating"),
            ("Hybrid CKNN baseline + FunkSVD", lambda: hybrid(
                [content(k=40, centering="baseline"), svd(seed=0)]), "rating"),
            ("  same, switch_min_ratings=0", lambda: hybrid(
                [content(k=40, centering="baseline"), svd(seed=0)], switch_min_ratings=0),
             "rating"),
        ]
    out.append(("Popularity (reference)", lambda: MODELS["Popularity"](), "ranking"))
    return out


def rmse(pred, truth) -> float:
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    return float(np.sqrt(np.mean((pred - truth) ** 2))) if len(truth) else float("nan")


def cold_users_split(train, test, share: float, keep: int, seed: int):
    """(reduced train, chosen users): ``share`` of the test users keep ``keep`` train ratings."""
    rng = np.random.default_rng(seed)
    candidates = np.unique(test.users)
    chosen = np.sort(rng.choice(candidates, max(1, int(round(share * len(candidates)))),
                                replace=False))
    mask = np.ones(train.n_ratings, dtype=bool)
    is_chosen = np.zeros(train.n_users, dtype=bool)
    is_chosen[chosen] = True
    for u in chosen:
        rows = np.flatnonzero(train.users == u)
        drop = rng.permutation(rows)[keep:]
        mask[drop] = False
    return train.subset(mask), chosen, is_chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("RECSYS_DATA"),
                        help="folder holding ml-100k/ (default: $RECSYS_DATA)")
    parser.add_argument("--folds", nargs="+", default=["u1", "u2", "u3", "u4", "u5"])
    parser.add_argument("--cold-keep", type=int, default=3,
                        help="training ratings left to each cold-ish user")
    parser.add_argument("--cold-share", type=float, default=0.1,
                        help="share of the test users made cold-ish")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("set RECSYS_DATA or pass --data")

    from recsys.bench.environment import collect_environment, machine_line
    from recsys.data import load_dataset
    from recsys.evaluation import evaluate_topn
    from recsys.split import official_folds

    env = collect_environment()
    print(machine_line(env), f"commit {env['git_commit']}", sep=", ")
    ds = load_dataset("ml-100k", args.data)
    folds = official_folds(ds, args.data, names=tuple(args.folds))
    models = model_list()

    t0 = time.perf_counter()  # JIT warm-up on a slice of the first fold
    small = folds[0].train.subset(np.arange(5000))
    for _, make, _ in models:
        m = make().fit(small)
        m.predict(folds[0].test.users[:10], folds[0].test.items[:10])
        m.score_items(np.arange(3))
    print(f"JIT warm-up (compile or cache load): {time.perf_counter() - t0:.1f} s\n")

    results = {label: {k: [] for k in ("rmse", "p10", "ndcg10", "cold_item", "cold_user",
                                      "fit")} for label, _, _ in models}
    for fold in folds:
        train, test = fold.train, fold.test
        cold_item = train.item_counts[test.items] == 0
        reduced, chosen, is_chosen = cold_users_split(train, test, args.cold_share,
                                                      args.cold_keep, args.seed)
        user_pairs = is_chosen[test.users]
        print(f"{fold.name}: {cold_item.sum()} test pairs with a cold item; "
              f"{len(chosen)} cold-ish users ({args.cold_keep} train ratings each), "
              f"{user_pairs.sum()} of their test pairs", flush=True)
        for label, make, kind in models:
            r = results[label]
            t = time.perf_counter()
            model = make().fit(train)
            r["fit"].append(time.perf_counter() - t)
            top = evaluate_topn(model.score_items, train, test, k=10)
            r["p10"].append(top.means["precision@10"])
            r["ndcg10"].append(top.means["ndcg@10"])
            if kind == "rating":
                pred = model.predict(test.users, test.items)
                r["rmse"].append(rmse(pred, test.ratings))
                r["cold_item"].append(rmse(pred[cold_item], test.ratings[cold_item]))
                cold = make().fit(reduced)
                r["cold_user"].append(rmse(cold.predict(test.users[user_pairs],
                                                        test.items[user_pairs]),
                                           test.ratings[user_pairs]))
            extra = ""
            if hasattr(model, "weights_"):
                extra = f"  weights {np.round(model.weights_, 3).tolist()}"
            line = f"  {label:36s} P@10 {r['p10'][-1]:.4f} NDCG@10 {r['ndcg10'][-1]:.4f}"
            if kind == "rating":
                line += (f"  RMSE {r['rmse'][-1]:.4f}  cold-item {r['cold_item'][-1]:.4f}"
                         f"  cold-user {r['cold_user'][-1]:.4f}")
            print(line + extra, flush=True)

    print(f"\nMeans over folds {', '.join(args.folds)}; cold-user RMSE: {args.cold_share:.0%} "
          f"of the test users keep {args.cold_keep} train ratings; fit: median seconds")
    print(f"{'model':36s} {'RMSE':>7s} {'P@10':>7s} {'NDCG@10':>8s} {'cold-item':>9s} "
          f"{'cold-user':>9s} {'fit s':>7s}")
    for label, _, kind in models:
        r = results[label]
        mean = (lambda k: f"{np.mean(r[k]):.4f}" if r[k] else "   -  ")
        print(f"{label:36s} {mean('rmse'):>7s} {mean('p10'):>7s} {mean('ndcg10'):>8s} "
              f"{mean('cold_item'):>9s} {mean('cold_user'):>9s} "
              f"{np.median(r['fit']):7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
