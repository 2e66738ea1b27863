"""Item cold start with TMDB metadata on ml-latest-small (issue 12).

Protocol
--------
1. ml-latest-small (``--data`` or ``$RECSYS_DATA``, else the shipped copy) with the TMDB
   metadata joined into ``item_info`` (:func:`recsys.models.content_features.with_tmdb`;
   ``--tmdb-dir``, else ``$RECSYS_DATA/tmdb`` or the cache). The items are indexed in a seeded
   random order, so that equal scores (every held-out item, for the floors) are ranked at
   random: in movieId order, which follows the catalogue's age and through it popularity, the
   floors would reach NDCG@10 0.050 by the tie-break alone.
2. Test: every rating of a seeded 10% of the items that have TMDB metadata (an overview, a
   keyword or a genre: :func:`~recsys.models.content_features.has_tmdb`), by
   :func:`recsys.split.item_cold_start`; train: every other rating.
3. On the held-out items only: RMSE over their ratings; NDCG@10 ranking only among the
   held-out items (``candidates`` = their mask), relevant = rating >= 4, over the users with
   a relevant held-out rating.
4. Rows: Popularity and Baseline (floors); ContentKNN on MovieLens genres and tags, on every
   MovieLens block (genres, tags, title words, decade: the default model), on TMDB alone, on
   MovieLens + TMDB; the Hybrid of ItemKNN and the MovieLens + TMDB ContentKNN. A content row
   has two settings: ``rating`` (``scoring="rating"``, for RMSE) and ``ranking`` (for
   NDCG@10, ``scoring`` one of "rating" and "profile"), both chosen on validation. Every
   held-out item is cold, so the switching Hybrid scores them with its ContentKNN alone: its
   figures equal that row's, which checks that the switch reaches the TMDB model.
5. Paired tests over users (:func:`recsys.significance.compare_models`): per-user RMSE and
   per-user NDCG@10 of each TMDB row against each MovieLens row.

Tuning (``--tune``) never sees the held-out items: a validation split holds out every rating
of 10% of the *training* items with TMDB metadata (the same splitter, the same seeded
generator), and a coordinate search over :data:`GRID` picks each row's settings on it (RMSE
for ``rating``, NDCG@10 for ``ranking``; the TMDB rows also choose ``keyword_idf``).
``--refine NAME`` takes one more step of that search from the committed settings (every
value of ``NAME`` tried, the others fixed: how ``keyword_idf`` was chosen after the search
had run). ``--tune --write`` stores them in
``tmdb_cold_start.toml`` beside this script (``--rows`` tunes some rows, keeping the others'
settings); a plain run reads them from there. The search took about 55 minutes on 2 cores;
the run takes under a minute.

    RECSYS_DATA=/work/shared/data .venv/bin/python benchmarks/tmdb_cold_start.py
    RECSYS_DATA=/work/shared/data .venv/bin/python benchmarks/tmdb_cold_start.py --tune --write
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

SETTINGS_FILE = Path(__file__).with_name("tmdb_cold_start.toml")

#: The content rows: label and the fixed part of their ContentKNN settings.
ROWS = {
    "ml": ("ContentKNN, MovieLens genres + tags",
           {"features": "movielens", "decade_weight": 0.0, "title_weight": 0.0}),
    "ml_all": ("ContentKNN, MovieLens genres + tags + title + decade",
               {"features": "movielens"}),
    "tmdb": ("ContentKNN, TMDB", {"features": "tmdb", "people_weight": 0.0}),
    "both": ("ContentKNN, MovieLens (all blocks) + TMDB",
             {"features": "both", "people_weight": 0.0}),
}
_ML = ("tag_weight",)  # genre_weight stays 1: only the ratios of the weights matter
_ML_ALL = ("tag_weight", "title_weight", "decade_weight")
# keyword_weight stays 1 in the TMDB row, as genre_weight in the MovieLens ones.
_TMDB = ("overview_weight", "tmdb_genre_weight", "year_weight", "popularity_weight")
#: What the coordinate search varies, per row and objective (values tried for each).
_WEIGHT_VALUES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
_RATING = {"k": (10, 20, 40, 80, 160), "centering": ("mean", "baseline"),
           "max_neighbors": (100, 300, 1000, 3000)}
_RANKING = {"scoring": ("rating", "profile"), "centering": ("mean", "baseline")}
#: Switches (not weights) of the rows with a TMDB keyword block.
_KEYWORD = {"keyword_idf": (False, True)}
GRID = {
    row: {objective: {**base, **{w: _WEIGHT_VALUES for w in weights},
                      **(_KEYWORD if row in ("tmdb", "both") else {})}
          for objective, base in (("rating", _RATING), ("ranking", _RANKING))}
    for row, weights in (("ml", _ML), ("ml_all", _ML_ALL), ("tmdb", _TMDB),
                         ("both", _ML_ALL + ("keyword_weight",) + _TMDB))
}
#: Where the coordinate search starts.
START = {"rating": {"k": 40, "centering": "mean", "max_neighbors": 1000},
         "ranking": {"scoring": "profile", "centering": "mean", "k": 40, "max_neighbors": 1000}}


# ---------------------------------------------------------------------- the protocol
def prepare(data: str | None, tmdb_dir: str | None, seed: int):
    """(train, test, held-out mask, has-metadata mask, the generator, coverage line)."""
    from recsys.data import load_dataset
    from recsys.data.tmdb import load_tmdb
    from recsys.data.tmdb_join import join_dataset
    from recsys.dataset import Dataset
    from recsys.models.content_features import has_tmdb, with_tmdb
    from recsys.split import item_cold_start

    ds = load_dataset("ml-latest-small", data)
    metadata = load_tmdb(tmdb_dir)
    coverage = join_dataset(metadata, ds).coverage.describe()
    ds = with_tmdb(ds, metadata)
    rng = np.random.default_rng(seed)
    order = rng.permutation(ds.n_items)  # new index k is old item order[k]
    new_index = np.empty_like(order)
    new_index[order] = np.arange(len(order))
    ds = Dataset(ds.users, new_index[ds.items], ds.ratings, ds.timestamps, ds.user_ids,
                 ds.item_ids[order], ds.rating_scale, ds.item_info, ds.user_info, ds.name)
    has = has_tmdb(ds)
    fold = item_cold_start(ds, 0.1, among=has, seed=rng)[0]
    return fold.train, fold.test, _held(fold.test), has, rng, coverage


def _held(test) -> np.ndarray:
    held = np.zeros(test.n_items, dtype=bool)
    held[np.unique(test.items)] = True
    return held


def measure(model, train, test, held, metric: str):
    """The model's RMSE or NDCG@10 on the held-out items: (mean, {user: value})."""
    from recsys.evaluation import evaluate_ratings, evaluate_topn

    if metric == "rmse":
        result = evaluate_ratings(model.predict, test)
        return result.rmse, result.by_user("rmse")
    result = evaluate_topn(model.score_items, train, test, k=10, relevance_threshold=4.0,
                           candidates=held, metrics=("ndcg",))
    return result.means["ndcg@10"], result.by_user("ndcg@10")


def content(row: str, settings: dict):
    from recsys.models import ContentKNN

    return ContentKNN(**{**ROWS[row][1], **settings})


# ---------------------------------------------------------------------- tuning
def coordinate_search(row: str, objective: str, train, test, held, log) -> dict:
    """Each hyperparameter of ``GRID[row][objective]`` in turn set to its best value on
    (train, test), the others fixed; passes until nothing changes (at most three)."""
    metric, sign = ("rmse", 1.0) if objective == "rating" else ("ndcg", -1.0)
    grid = GRID[row][objective]
    best = {**START[objective], **{w: 1.0 for w in grid if w.endswith("_weight")},
            **{w: grid[w][0] for w in _KEYWORD if w in grid}}
    if objective == "rating":
        best["scoring"] = "rating"
    seen: dict[tuple, float] = {}

    def loss(settings):
        key = tuple(sorted(settings.items()))
        if key not in seen:
            try:
                seen[key] = sign * measure(content(row, settings).fit(train), train, test,
                                           held, metric)[0]
            except ValueError as exc:  # every used weight zero
                seen[key] = np.inf
                log(f"    {settings}: {exc}")
        return seen[key]

    current = loss(best)
    for _ in range(3):
        changed = False
        for name, values in grid.items():
            for value in values:
                trial = {**best, name: value}
                if trial != best and loss(trial) < current - 1e-6:
                    best, current, changed = trial, loss(trial), True
            log(f"  {row}/{objective}: {name} = {best[name]!r}  "
                f"({metric} {sign * current:.4f}, {len(seen)} fits)")
        if not changed:
            break
    return best


def validation_fold(train, has, rng):
    """(fold, held-out mask): every rating of 10% of the *training* items with TMDB
    metadata held out, drawn from ``rng`` after the test draw (never a test item)."""
    from recsys.split import item_cold_start

    vfold = item_cold_start(train, 0.1, among=has, seed=rng)[0]
    vheld = _held(vfold.test)
    print(f"validation: {vheld.sum()} of the training items held out "
          f"({vfold.test.n_ratings} ratings); never the test items", flush=True)
    return vfold, vheld


def refine(name: str, rows, settings: dict, train, has, rng) -> dict:
    """One more step of the coordinate search from the committed ``settings``: for each
    row and objective whose grid has ``name``, every value of it tried on the validation
    split with the other settings fixed, the best kept (ties keep the committed value)."""
    vfold, vheld = validation_fold(train, has, rng)
    chosen = {row: {obj: dict(s) for obj, s in settings[row].items()} for row in settings}
    for row in rows:
        for objective in ("rating", "ranking"):
            values = GRID[row][objective].get(name)
            if values is None:
                continue
            metric, sign = ("rmse", 1.0) if objective == "rating" else ("ndcg", -1.0)
            current = chosen[row][objective]
            scores = {}
            for value in values:
                trial = {**current, name: value}
                scores[value] = measure(content(row, trial).fit(vfold.train), vfold.train,
                                        vfold.test, vheld, metric)[0]
                print(f"  {row}/{objective}: {name} = {value!r}: validation {metric} "
                      f"{scores[value]:.4f}", flush=True)
            best = min(values, key=lambda v: (sign * scores[v],
                                              v != current.get(name, values[0])))
            if best != current.get(name, values[0]):
                current[name] = best
            print(f"{row}/{objective}: {name} = {best!r}", flush=True)
    return chosen


def tune(rows, train, has, rng) -> dict:
    vfold, vheld = validation_fold(train, has, rng)
    chosen = {}
    for row in rows:
        chosen[row] = {}
        for objective in ("rating", "ranking"):
            t0 = time.perf_counter()
            chosen[row][objective] = coordinate_search(
                row, objective, vfold.train, vfold.test, vheld,
                lambda line: print(line, flush=True))
            print(f"{row}/{objective}: {chosen[row][objective]} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return chosen


def to_toml(chosen: dict, seed: int) -> str:
    lines = ["# ContentKNN settings of benchmarks/tmdb_cold_start.py, chosen by its --tune",
             f"# (seed {seed}) on a validation split of the training items only.", ""]
    for row, objectives in chosen.items():
        for objective, settings in objectives.items():
            lines.append(f"[{row}.{objective}]")
            for name, value in sorted(settings.items()):
                lines.append(f"{name} = {_toml_value(value)}")
            lines.append("")
    return "\n".join(lines)


def _toml_value(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


# ---------------------------------------------------------------------- the run
def hybrid(settings: dict, objective: str):
    """ItemKNN with the MovieLens + TMDB ContentKNN, weights fitted on a carved split."""
    from recsys.models import Hybrid, ItemKNN

    collaborative = ItemKNN(k=40) if objective == "rating" else ItemKNN(
        k=50, similarity="cosine", aggregate="sum")
    return Hybrid([collaborative, content("both", settings[objective])], seed=0)


def run_rows(settings: dict, train, test, held):
    """{label: {"rmse": (mean, per user) or None, "ndcg": ..., "fit": seconds}}."""
    from recsys.models import Baseline, Popularity

    makers = {"Popularity (floor)": (None, lambda: Popularity()),
              "Baseline (floor)": (lambda: Baseline(), lambda: Baseline())}
    for row, (label, _) in ROWS.items():
        makers[label] = (lambda r=row: content(r, settings[r]["rating"]),
                         lambda r=row: content(r, settings[r]["ranking"]))
    makers["Hybrid: ItemKNN + ContentKNN (MovieLens + TMDB)"] = (
        lambda: hybrid(settings["both"], "rating"), lambda: hybrid(settings["both"], "ranking"))
    results = {}
    for label, (for_rmse, for_ndcg) in makers.items():
        out, fit = {"rmse": None, "ndcg": None}, 0.0
        for metric, make in (("rmse", for_rmse), ("ndcg", for_ndcg)):
            if make is None:
                continue
            t0 = time.perf_counter()
            model = make().fit(train)
            fit += time.perf_counter() - t0
            out[metric] = measure(model, train, test, held, metric)
        out["fit"] = fit
        results[label] = out
        shown = {m: f"{out[m][0]:.4f}" for m in ("rmse", "ndcg") if out[m]}
        print(f"  {label}: {shown} ({fit:.1f} s)", file=sys.stderr, flush=True)
    return results


def comparisons(results: dict) -> list[dict]:
    from recsys.significance import compare_models

    out = []
    for a in ("tmdb", "both"):
        for b in ("ml", "ml_all"):
            la, lb = ROWS[a][0], ROWS[b][0]
            for metric in ("rmse", "ndcg"):
                test = compare_models(results[la][metric][1], results[lb][metric][1])
                out.append({"a": la, "b": lb, "metric": metric, **test})
    return out


def markdown(results: dict, tests: list[dict]) -> str:
    lines = ["| model | RMSE | NDCG@10 | fit (s) |", "|---|---:|---:|---:|"]
    for label, r in results.items():
        cells = [f"{r[m][0]:.4f}" if r[m] else "n/a" for m in ("rmse", "ndcg")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {r['fit']:.1f} |")
    lines += ["", "Paired tests over users (A against B; RMSE: lower is better):", "",
              "| A | B | metric | users | mean A | mean B | A - B | t-test p | Wilcoxon p |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for t in tests:
        metric = "RMSE" if t["metric"] == "rmse" else "NDCG@10"
        lines.append(f"| {t['a']} | {t['b']} | {metric} | {t['n']} | {t['mean_a']:.4f} | "
                     f"{t['mean_b']:.4f} | {t['mean_diff']:+.4f} | {t['t_pvalue']:.2g} | "
                     f"{t['wilcoxon_pvalue']:.2g} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("RECSYS_DATA"),
                        help="folder holding ml-latest-small/ (default: $RECSYS_DATA, else "
                             "the shipped copy)")
    parser.add_argument("--tmdb-dir", default=None,
                        help="folder holding the TMDB files (default: $RECSYS_DATA/tmdb, "
                             "then the cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tune", action="store_true",
                        help="choose the settings on a validation split of the training items")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS),
                        help="with --tune: the content rows to tune (default: all)")
    parser.add_argument("--refine", metavar="NAME",
                        help="like --tune, but only one step of the search: every value of "
                             "the setting NAME (e.g. keyword_idf) tried from the committed "
                             "settings on the validation split")
    parser.add_argument("--write", action="store_true",
                        help=f"with --tune or --refine: write them to {SETTINGS_FILE.name}")
    args = parser.parse_args(argv)

    from recsys.bench.environment import collect_environment, machine_line

    env = collect_environment()
    print(machine_line(env), f"commit {env['git_commit']}", sep=", ")
    train, test, held, has, rng, coverage = prepare(args.data, args.tmdb_dir, args.seed)
    print(coverage)
    print(f"held out: {held.sum()} of the {has.sum()} items with TMDB metadata (seed "
          f"{args.seed}), {test.n_ratings} ratings of {len(np.unique(test.users))} users; "
          f"train: {train.n_ratings} ratings", flush=True)
    if args.tune or args.refine:
        if args.refine:
            chosen = refine(args.refine, args.rows, tomllib.loads(SETTINGS_FILE.read_text()),
                            train, has, rng)
        else:
            chosen = tune(args.rows, train, has, rng)
        if SETTINGS_FILE.is_file():  # the rows not tuned now keep their settings
            chosen = {**tomllib.loads(SETTINGS_FILE.read_text()), **chosen}
        text = to_toml({row: chosen[row] for row in ROWS if row in chosen}, args.seed)
        print(text)
        if args.write:
            SETTINGS_FILE.write_text(text + "\n")
            print(f"wrote {SETTINGS_FILE}")
        return 0
    settings = tomllib.loads(SETTINGS_FILE.read_text())
    t0 = time.perf_counter()
    results = run_rows(settings, train, test, held)
    print(f"\n{markdown(results, comparisons(results))}\n\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
