"""Run records: `recsys tune --out` writes a [[models]] block and a JSON record, a bench
config reads either back with params_from, and bad records are ConfigErrors naming the file."""

from __future__ import annotations

import json
import tomllib

import pytest

from recsys.bench import load_config, parse_config
from recsys.bench.config import ConfigError
from recsys.io import atomic_write_json, atomic_write_text
from recsys.tuning import (RECORD_FORMAT, LogUniform, RunRecordError, random_search,
                           read_run_record)

HEAD = """
[[datasets]]
name = "ml-100k"
[split]
method = "official"
folds = ["u1"]
"""


@pytest.fixture(scope="module")
def result():
    from recsys.data.synthetic import generate

    ds = generate(50, 30, 900, seed=2)
    return random_search("Baseline", ds, {"reg_item": LogUniform(1.0, 30.0),
                                          "reg_user": [2.0, 8.0]}, n_iter=4, n_folds=2,
                         seed=5, base_params={"method": "als"})


def _config(tmp_path, models: str, name="c.toml"):
    path = tmp_path / "cfg" / name
    atomic_write_text(path, HEAD + models)
    return path


def test_a_record_has_the_run_and_reads_back(result, tmp_path):
    rec = result.to_record(dataset="synthetic", split={"method": "kfold"}, fold="f1",
                           commit="abc123")
    for key, value in [("format", RECORD_FORMAT), ("model", "Baseline"), ("method", "random"),
                       ("metric", "rmse"), ("direction", "minimize"), ("seed", 5),
                       ("n_folds", 2), ("n_trials", 4), ("dataset", "synthetic"),
                       ("fold", "f1"), ("commit", "abc123"), ("params", result.best_params),
                       ("best_value", result.best_score)]:
        assert rec[key] == value, key
    assert rec["search_space"] == {"reg_item": {"log_uniform": [1.0, 30.0]},
                                   "reg_user": {"choice": [2.0, 8.0]}}
    assert [t["params"] for t in rec["trials"]] == [s["params"] for s in result.scores]
    assert rec["recsys_version"] and rec["created"].endswith("+00:00")
    path = atomic_write_json(tmp_path / "r.json", rec)
    assert read_run_record(path, model="Baseline")["params"] == result.best_params
    # and the TOML block reads back to the same parameters
    toml = atomic_write_text(tmp_path / "r.toml", result.to_toml())
    assert read_run_record(toml, model="Baseline")["params"] == result.best_params


def test_params_from_is_relative_to_the_config_and_params_override(result, tmp_path):
    rec = result.to_record(dataset="ml-100k")
    atomic_write_json(tmp_path / "cfg" / "tuned" / "b.json", rec)
    atomic_write_text(tmp_path / "cfg" / "tuned" / "b.toml", result.to_toml())
    cfg = load_config(_config(tmp_path, """
[[models]]
name = "Baseline"
params_from = "tuned/b.json"
[[models]]
name = "Baseline"
label = "from toml, reg_user overridden"
params_from = "tuned/b.toml"
params = { reg_user = 99.0 }
"""))
    a, b = cfg.models
    assert a.params == result.best_params
    assert a.params_from == str(tmp_path / "cfg" / "tuned" / "b.json")
    assert b.params == {**result.best_params, "reg_user": 99.0}
    from recsys.bench.models import resolve_models

    runnable, _ = resolve_models(cfg)
    assert runnable[1].make().reg_user == 99.0
    assert runnable[0].make().get_params()["reg_item"] == result.best_params["reg_item"]


def test_bad_records_are_config_errors_naming_the_file(result, tmp_path):
    good = result.to_record()
    d = tmp_path / "cfg"
    cases = {
        "missing.json": (None, "no such tuned-parameters file"),
        "bad.json": ("{not json", "not valid JSON (line 1"),
        "list.json": ("[1, 2]", "expected a JSON object"),
        "other.json": (json.dumps({**good, "format": "something"}), "not a recsys tune run"),
        "newer.json": (json.dumps({**good, "version": 99}), "newer than this recsys reads"),
        "noparams.json": (json.dumps({**good, "params": [1]}), "params: expected a table"),
        "badname.json": (json.dumps({**good, "params": {"reg item": 1}}),
                         "not a valid parameter name"),
        "svdpp.json": (json.dumps({**good, "model": "SVDpp"}),
                       "the settings are for 'SVDpp', not 'Baseline'"),
        "empty.toml": ("x = 1\n", "no [[models]] table"),
        "two.toml": ("[[models]]\nname='Baseline'\n[[models]]\nname='Baseline'\n",
                     "expected one [[models]] table of 'Baseline', found 2"),
        "bad.toml": ("[[models]\n", "not valid TOML"),
    }
    for name, (text, words) in cases.items():
        if text is not None:
            atomic_write_text(d / name, text)
        path = _config(tmp_path, f'[[models]]\nname = "Baseline"\nparams_from = "{name}"\n')
        with pytest.raises(ConfigError) as exc:
            load_config(path)
        msg = str(exc.value)
        assert msg.startswith(f"{path}: models[0].params_from: {d / name}"), msg
        assert words in msg, (name, msg)
    with pytest.raises(ConfigError, match=r"models\[0\].params_from: only recsys models"):
        parse_config(HEAD + '[[models]]\nname = "SVD"\nlibrary = "surprise"\n'
                     'params_from = "x.json"\n')
    with pytest.raises(ConfigError, match=r"models\[0\].params_from: expected a non-empty"):
        parse_config(HEAD + '[[models]]\nname = "Baseline"\nparams_from = 3\n')
    with pytest.raises(RunRecordError, match="no such tuned-parameters file"):
        read_run_record(tmp_path / "nowhere.json")


# ---------------------------------------------------------------------- the CLI
def _tune(args, capsys):
    from recsys.cli import main

    rc = main(["tune", "--dataset", "ml-100k", "--split", "method=official,folds=u1",
               "--model", "Baseline", "--param", "method=als", "--no-progress", *args])
    return rc, capsys.readouterr()


def test_tune_optuna_out_writes_both_files_resumes_and_bench_reads_them(
        real_data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA", str(real_data_dir))
    db, out = tmp_path / "study.db", tmp_path / "tuned"
    args = ["--range", "reg_item=log:1:40", "--range", "reg_user=log:1:40", "--folds", "2",
            "--search", "optuna", "--storage", str(db), "--out", str(out)]
    rc, cap = _tune([*args, "--trials", "3"], capsys)
    assert rc == 0, cap.err
    assert "optuna: 3 trials in study 'Baseline-ml-100k-u1-rmse'" in cap.out
    rc, cap = _tune([*args, "--trials", "5"], capsys)  # the same study, two more trials
    assert rc == 0 and "optuna: 5 trials" in cap.out, cap.err
    rec = json.loads((out / "Baseline-ml-100k-u1-rmse.json").read_text())
    assert rec["method"] == "optuna" and rec["n_trials"] == 5 and rec["fold"] == "u1"
    assert rec["dataset"] == "ml-100k" and rec["split"] == {"method": "official",
                                                            "folds": ["u1"]}
    assert rec["train_ratings"] == 80000 and rec["info"]["storage"] == str(db)
    block = tomllib.loads((out / "Baseline-ml-100k-u1-rmse.toml").read_text())
    assert block["models"][0]["params"] == rec["params"]
    assert set(rec["params"]) == {"method", "reg_item", "reg_user"}
    assert 1.0 <= rec["params"]["reg_item"] <= 40.0
    cfg = parse_config(HEAD + f'[[models]]\nname = "Baseline"\n'
                       f'params_from = "{out / "Baseline-ml-100k-u1-rmse.json"}"\n')
    assert cfg.models[0].params == rec["params"]
    # a .toml --out is the block's path, the record goes beside it; grid search still works
    rc, cap = _tune(["--grid", "reg_item=5,10", "--out", str(tmp_path / "b.toml")], capsys)
    assert rc == 0, cap.err
    assert json.loads((tmp_path / "b.json").read_text())["method"] == "grid"


def test_tune_search_arguments_are_checked_in_one_line(capsys):
    from recsys.cli import main

    for args, words in [
        (["--grid", "reg_item=1,2", "--storage", "s.db"], "--storage is for --search optuna"),
        (["--grid", "reg_item=1,2", "--trials", "4"], "--trials is for --search random or"),
        (["--range", "reg_item=log:1:2"], "--range needs --search random or optuna"),
        (["--grid", "reg_item=1,2", "--random", "3", "--search", "optuna"],
         "it cannot go with --search optuna"),
        (["--grid", "reg_item=1,2", "--search", "random"], "--search random needs --trials"),
        (["--grid", "reg_item=1,2", "--search", "optuna", "--trials", "0"],
         "--trials must be >= 1"),
    ]:
        assert main(["tune", "--model", "Baseline", "--no-progress", *args]) == 1, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], (args, err)
