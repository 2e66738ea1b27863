"""Write the tuned settings behind the README's tables as run records (issue 14).

The benchmark scripts chose some settings on training data and committed them in their own
form: ``benchmarks/tmdb_cold_start.toml`` (ContentKNN, a coordinate search per row and
objective on a validation split of the training items) and ``RP3BETA`` / ``SLIM_PARAMS`` / ``EASE_TUNED`` / ``IALS`` in
``benchmarks/topn_beyond_ease.py`` (grids on validation splits of the ML-100K train parts). This script converts them, unchanged, into the run-record format that
``recsys tune --out`` writes (:meth:`recsys.tuning.TuningResult.to_record`), in
``recsys/bench/configs/tuned/``, so that a bench config can say
``params_from = "tuned/<name>.json"`` instead of repeating the numbers. The records say
where the settings came from (``source``, the commit of that file) and the search space the
script searched; the per-candidate trials were not kept by those scripts (``trials`` is
empty and ``n_trials`` null), so a record is the settings and their provenance, not a
replay.

Rerun after a script retunes (``tests/test_tuned_records.py`` fails until the records agree
with their sources):

    .venv/bin/python benchmarks/tuned_records.py
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "recsys" / "bench" / "configs" / "tuned"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _last_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%H", "--", str(path)], cwd=ROOT,
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _record(model: str, params: dict, metric: str, space: dict, **facts) -> dict:
    from recsys import __version__
    from recsys.io import jsonable
    from recsys.tuning import LOWER_IS_BETTER, RECORD_FORMAT, RECORD_VERSION, describe_space

    return jsonable({
        "format": RECORD_FORMAT, "version": RECORD_VERSION, "model": model,
        "library": "recsys", "params": params, "metric": metric,
        "direction": "minimize" if metric in LOWER_IS_BETTER else "maximize",
        "best_value": facts.pop("best_value", None), "method": facts.pop("method"),
        "n_folds": facts.pop("n_folds", None), "seed": facts.pop("seed", None),
        "base_params": facts.pop("base_params", {}),
        "search_space": describe_space({k: list(v) for k, v in space.items()}),
        "n_trials": None, "trials": [], "recsys_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "info": {}, **facts})


def tmdb_cold_start() -> dict[str, dict]:
    """One record per content row and objective of benchmarks/tmdb_cold_start.toml."""
    script = _module("tmdb_cold_start")
    source = ROOT / "benchmarks" / "tmdb_cold_start.toml"
    settings = tomllib.loads(source.read_text(encoding="utf-8"))
    records = {}
    for row, (label, fixed) in script.ROWS.items():
        for objective, metric in (("rating", "rmse"), ("ranking", "ndcg@10")):
            chosen = settings[row][objective]
            records[f"ContentKNN-tmdb-cold-start-{row}-{objective}"] = _record(
                "ContentKNN", {**fixed, **chosen}, metric, script.GRID[row][objective],
                method="coordinate search (benchmarks/tmdb_cold_start.py --tune)", seed=0,
                base_params=fixed, label=f"{label} ({'RMSE' if metric == 'rmse' else 'NDCG'})",
                dataset="ml-latest-small + TMDB metadata",
                split={"method": "item_cold_start", "test_fraction": 0.1, "among": "tmdb",
                       "shuffle_items": 0, "seed": 0},
                fold="validation: every rating of 10% of the training items with TMDB "
                     "metadata (never the test items)",
                source=f"benchmarks/tmdb_cold_start.toml [{row}.{objective}]",
                commit=_last_commit(source))
    return records


def topn_beyond_ease() -> dict[str, dict]:
    """RP3beta, SLIM, EASE and iALS as benchmarks/topn_beyond_ease.py committed them."""
    script = _module("topn_beyond_ease")
    source = ROOT / "benchmarks" / "topn_beyond_ease.py"
    common = dict(method="grid search (benchmarks/topn_beyond_ease.py --tune)",
                  dataset="ml-100k", split={"method": "official",
                                            "folds": ["u1", "u2", "u3", "u4", "u5"]},
                  fold="validation: holdout 20% of each fold's train part (seed 100 + fold), "
                       "one setting by mean validation NDCG@10 over the five",
                  commit=_last_commit(source))
    return {
        "RP3beta-ml100k-topn": _record(
            "RP3beta", dict(script.RP3BETA), "ndcg@10", script.RP3BETA_GRID, **common,
            source="benchmarks/topn_beyond_ease.py RP3BETA", label="RP3beta (tuned)"),
        "SLIM-ml100k-topn": _record(
            "SLIM", dict(script.SLIM_PARAMS), "ndcg@10", script.SLIM_GRID, **common,
            source="benchmarks/topn_beyond_ease.py SLIM_PARAMS", label="SLIM (tuned)"),
        "EASE-ml100k-topn": _record(
            "EASE", dict(script.EASE_TUNED), "ndcg@10", script.EASE_GRID, **common,
            source="benchmarks/topn_beyond_ease.py EASE_TUNED", label="EASE (tuned)"),
        # two grids, one per penalty form (nu = 0 and nu = 0.5): the space is their union
        "ImplicitALS-ml100k-topn": _record(
            "ImplicitALS", dict(script.IALS), "ndcg@10",
            {k: sorted(set(script.IALS_GRID[k]) | set(script.IALS_GRID_NU[k]))
             for k in script.IALS_GRID}, **common,
            source="benchmarks/topn_beyond_ease.py IALS (IALS_GRID and IALS_GRID_NU)",
            label="iALS revisited (tuned)"),
    }


def all_records() -> dict[str, dict]:
    return {**tmdb_cold_start(), **topn_beyond_ease()}


def main(argv=None) -> None:
    from recsys.io import atomic_write_json

    for name, record in all_records().items():
        path = OUT / f"{name}.json"
        atomic_write_json(path, record, indent=1)
        print(f"wrote {path.relative_to(ROOT)}: {record['model']} {record['params']}")


if __name__ == "__main__":
    sys.exit(main())
