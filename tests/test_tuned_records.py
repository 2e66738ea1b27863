"""The shipped run records (recsys/bench/configs/tuned/) read back, fit their model class,
agree with the benchmark files they were converted from, and feed a config's params_from."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from recsys.bench import parse_config
from recsys.bench.configs import CONFIG_DIR
from recsys.models.registry import model_class
from recsys.tuning import RECORD_FORMAT, read_run_record

ROOT = Path(__file__).resolve().parents[1]
TUNED = CONFIG_DIR / "tuned"
RECORDS = sorted(TUNED.glob("*.json"))


def _converter():
    spec = importlib.util.spec_from_file_location("tuned_records",
                                                  ROOT / "benchmarks" / "tuned_records.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tuned_folder_ships_records():
    assert len(RECORDS) >= 10, RECORDS  # the tmdb cold-start rows, RP3beta, SLIM at least


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_each_record_reads_and_makes_its_model(path):
    import json

    raw = json.loads(path.read_text())
    assert raw["format"] == RECORD_FORMAT and raw["metric"] and raw["method"] and raw["dataset"]
    rec = read_run_record(path)
    model = model_class(rec["model"])(**rec["params"])  # every key is a hyperparameter
    assert model.get_params().items() >= rec["params"].items()


def test_the_records_agree_with_the_files_they_came_from():
    expected = _converter().all_records()
    assert {p.stem for p in RECORDS} >= set(expected)
    for name, rec in expected.items():
        shipped = read_run_record(TUNED / f"{name}.json")
        assert (shipped["model"], shipped["params"]) == (rec["model"], rec["params"]), (
            f"{name}.json is stale: rerun benchmarks/tuned_records.py")


def test_a_config_reads_a_shipped_record():
    path = TUNED / "RP3beta-ml100k-topn.json"
    cfg = parse_config(f"""
[[datasets]]
name = "ml-100k"
[split]
method = "official"
folds = ["u1"]
[[models]]
name = "RP3beta"
params_from = "{path}"
params = {{ k = 100 }}
""")
    rec = read_run_record(path)
    assert cfg.models[0].params == {**rec["params"], "k": 100}
    assert cfg.models[0].params_from == str(path)
