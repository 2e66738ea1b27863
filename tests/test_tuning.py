"""Hyperparameter search: inner CV on the train part only, seeded, TOML the bench accepts."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest

from recsys.bench import parse_config
from recsys.dataset import Dataset
from recsys.models.base import Recommender
from recsys.models.registry import register, unregister
from recsys.split import holdout
from recsys.tuning import (IntUniform, LogUniform, Uniform, grid_search, random_search,
                           toml_value)

FITTED: list[set] = []


class TuneToy(Recommender):
    """mu + damped item bias + damped user bias; records the (user, item) pairs it saw."""

    def __init__(self, reg_item: float = 5.0, reg_user: float = 5.0, shift: float = 0.0):
        self.reg_item = reg_item
        self.reg_user = reg_user
        self.shift = shift

    def _fit(self, train: Dataset, **kw) -> None:
        FITTED.append(set(zip(train.users.tolist(), train.items.tolist())))
        r = train.ratings - train.global_mean
        bi = np.bincount(train.items, weights=r, minlength=train.n_items)
        self.bi_ = bi / (train.item_counts + self.reg_item)
        r = r - self.bi_[train.items]
        bu = np.bincount(train.users, weights=r, minlength=train.n_users)
        self.bu_ = bu / (train.user_counts + self.reg_user)

    def _score(self, users, items):
        bu = np.where(users >= 0, self.bu_[np.maximum(users, 0)], 0.0)
        bi = np.where(items >= 0, self.bi_[np.maximum(items, 0)], 0.0)
        return self.global_mean_ + bu + bi + self.shift

    def _score_users(self, users):
        return self.global_mean_ + self.shift + self.bu_[users][:, None] + self.bi_[None, :]


@pytest.fixture
def toy():
    register(TuneToy)
    FITTED.clear()
    yield TuneToy
    unregister("TuneToy")


@pytest.fixture(scope="module")
def fold():
    from recsys.data.synthetic import generate

    ds = generate(120, 70, 2500, seed=4)
    return holdout(ds, test_fraction=0.2, seed=1)[0]


def test_grid_search_scores_every_candidate_on_train_only(toy, fold):
    grid = {"reg_item": [0.5, 5.0, 50.0], "shift": [0.0, 0.4]}
    res = grid_search("TuneToy", fold.train, grid, n_folds=3, seed=0)
    assert [s["params"] for s in res.scores] == [
        {"reg_item": a, "shift": b} for a in (0.5, 5.0, 50.0) for b in (0.0, 0.4)]
    assert all(len(s["folds"]) == 3 and s["error"] is None for s in res.scores)
    best = min(res.scores, key=lambda s: s["mean"])
    assert res.best_params == best["params"] and res.best_score == best["mean"]
    assert res.best_params["shift"] == 0.0  # a constant offset can only hurt RMSE
    # every fit saw only ratings of the outer train part, never an outer test rating
    train = set(zip(fold.train.users.tolist(), fold.train.items.tolist()))
    test = set(zip(fold.test.users.tolist(), fold.test.items.tolist()))
    assert len(FITTED) == 6 * 3
    for seen in FITTED:
        assert seen <= train and not seen & test
        assert 0.6 * len(train) < len(seen) < 0.7 * len(train)  # 2 of 3 inner folds


def test_same_seed_same_result_and_maximised_topn_metric(toy, fold):
    a = grid_search(TuneToy, fold.train, {"reg_user": [1.0, 30.0]}, n_folds=2, seed=5,
                    metric="ndcg@5", base_params={"reg_item": 3.0})
    b = grid_search(TuneToy, fold.train, {"reg_user": [1.0, 30.0]}, n_folds=2, seed=5,
                    metric="ndcg@5", base_params={"reg_item": 3.0})
    assert [s["folds"] for s in a.scores] == [s["folds"] for s in b.scores]
    assert not a.lower_is_better
    assert a.best_score == max(s["mean"] for s in a.scores)
    assert a.best_params["reg_item"] == 3.0  # base params are part of the answer
    c = grid_search(TuneToy, fold.train, {"reg_user": [1.0, 30.0]}, n_folds=2, seed=6,
                    metric="ndcg@5", base_params={"reg_item": 3.0})
    assert [s["folds"] for s in c.scores] != [s["folds"] for s in a.scores]


def test_random_search_draws_in_range_reproducibly(toy, fold):
    space = {"reg_item": LogUniform(0.1, 100.0), "reg_user": Uniform(1.0, 2.0),
             "shift": [0.0, 0.1]}
    a = random_search("TuneToy", fold.train, space, n_iter=6, n_folds=2, seed=3)
    b = random_search("TuneToy", fold.train, space, n_iter=6, n_folds=2, seed=3)
    assert [s["params"] for s in a.scores] == [s["params"] for s in b.scores]
    assert len(a.scores) == 6 and a.method == "random"
    for s in a.scores:
        p = s["params"]
        assert 0.1 <= p["reg_item"] <= 100.0 and 1.0 <= p["reg_user"] <= 2.0
        assert p["shift"] in (0.0, 0.1)
    rng = np.random.default_rng(0)
    assert {IntUniform(2, 4).sample(rng) for _ in range(200)} == {2, 3, 4}
    with pytest.raises(ValueError):
        LogUniform(0.0, 1.0)


def test_failing_candidate_is_recorded_not_fatal(toy, fold):
    res = grid_search("TuneToy", fold.train, {"reg_item": [1.0, "oops"]}, n_folds=2)
    bad = res.scores[1]
    assert "TypeError" in bad["error"] and math.isnan(bad["mean"])
    assert res.best_params == {"reg_item": 1.0}
    with pytest.raises(ValueError, match="unknown model 'Nope'"):
        grid_search("Nope", fold.train, {"a": [1]})
    with pytest.raises(ValueError, match=r"grid\['a'\] must be a non-empty list"):
        grid_search("TuneToy", fold.train, {"a": []})


def test_toml_snippet_is_accepted_by_the_bench_config(toy, fold):
    res = grid_search("TuneToy", fold.train, {"reg_item": [0.5, 8.0], "reg_user": [2, 9]},
                      n_folds=2, seed=0)
    snippet = res.to_toml(label="toy tuned", comment="made by a test")
    doc = tomllib.loads(snippet)
    assert doc["models"][0] == {"name": "TuneToy", "label": "toy tuned",
                                "params": res.best_params}
    assert snippet.count("\n#   ") == 4  # every candidate, as a comment
    config_text = ('[[datasets]]\nname = "ml-100k"\n[split]\nmethod = "official"\n'
                   + snippet)
    cfg = parse_config(config_text, source="tuned.toml")
    assert cfg.models[0].params == res.best_params


def test_toml_value():
    assert toml_value({"a": 1, "b": [0.5, True], "c": "x\"y"}) == \
        '{ a = 1, b = [0.5, true], c = "x\\"y" }'
    assert tomllib.loads("v = " + toml_value(1e-7))["v"] == 1e-7
    assert tomllib.loads("v = " + toml_value(np.float32(0.25)))["v"] == 0.25
    with pytest.raises(TypeError):
        toml_value(object())


def test_cli_tune_end_to_end(toy, tmp_path, capsys):
    from recsys.cli import main

    out = tmp_path / "tuned.toml"
    rc = main(["tune", "--dataset", "ml-latest-small", "--model", "TuneToy",
               "--split", "method=holdout,test_fraction=0.1,seed=42",
               "--grid", "reg_item=1,25", "--param", "reg_user=10", "--folds", "2",
               "--no-progress", "--out", str(out)])
    assert rc == 0
    doc = tomllib.loads(out.read_text())
    params = doc["models"][0]["params"]
    assert params["reg_user"] == 10 and params["reg_item"] in (1, 25)
    assert "best rmse" in capsys.readouterr().out
    # argument errors are one line, exit status 1
    assert main(["tune", "--model", "TuneToy", "--grid", "reg_item"]) == 1
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_cli_parsers():
    from recsys.cli.tune import parse_grid, parse_ranges, parse_split, parse_value

    assert parse_value("3") == 3 and parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("als") == "als"
    assert parse_grid(["lr=0.005,0.01", "method=als,sgd"]) == {
        "lr": [0.005, 0.01], "method": ["als", "sgd"]}
    r = parse_ranges(["lr=log:0.001:0.1", "k=int:10:50"])
    assert r["lr"] == LogUniform(0.001, 0.1) and r["k"] == IntUniform(10, 50)
    assert parse_split("method=official,folds=u1;u2") == {"method": "official",
                                                          "folds": ["u1", "u2"]}
    assert parse_split("method=official,folds=u1") == {"method": "official", "folds": ["u1"]}


def test_tuning_does_not_import_the_bench():
    # Arrows point down: the bench may use tuning, tuning never reaches up into the bench,
    # not even inside a function.
    import ast
    import inspect

    import recsys.tuning

    tree = ast.parse(inspect.getsource(recsys.tuning))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [m for m in imported if m == "recsys.bench" or m.startswith("recsys.bench.")]


def _write_csv_config(tmp_path, n_datasets=1):
    rng = np.random.default_rng(3)
    pairs = {(f"u{u}", f"i{i}") for u, i in zip(rng.integers(0, 40, 900), rng.integers(0, 30, 900))}
    lines = ["who;what;stars"] + [f"{u};{i};{rng.integers(1, 6)}" for u, i in sorted(pairs)]
    (tmp_path / "mine.csv").write_text("\n".join(lines) + "\n")
    entries = "".join(f"""
[[datasets]]
path = "mine.csv"
format = "csv"
label = "mine {n}"
columns = {{ user = "who", item = "what", rating = "stars" }}
sep = ";"
rating_scale = [1, 5]
id_type = "str"
""" for n in range(n_datasets))
    cfg = tmp_path / "mine.toml"
    cfg.write_text(f"""[bench]
name = "mine"
metrics = ["rmse"]
{entries}
[split]
method = "holdout"
test_fraction = 0.1
seed = 0

[[models]]
name = "Baseline"
""")
    return cfg, len(pairs)


def test_cli_tune_on_a_config_data_set(toy, tmp_path, capsys):
    """--config: the data set of a bench config's [[datasets]] entry (here a CSV file), as
    the bench reads it; the run record names its label."""
    import json

    from recsys.cli import main

    cfg, n = _write_csv_config(tmp_path)
    rc = main(["tune", "--config", str(cfg), "--model", "TuneToy", "--grid", "reg_item=1,25",
               "--split", "method=holdout,test_fraction=0.2,seed=1", "--folds", "2",
               "--no-progress", "--out", str(tmp_path / "out")])
    assert rc == 0, capsys.readouterr().err
    record = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    assert record["dataset"] == "mine 0"
    # every candidate was fitted on inner folds of the file's outer train part (80%) only
    assert len(FITTED) == 2 * 2 and all(0 < len(seen) <= 0.8 * n for seen in FITTED)


def test_cli_tune_config_data_set_errors_name_the_choice(toy, tmp_path, capsys):
    from recsys.cli import main

    cfg, _ = _write_csv_config(tmp_path, n_datasets=2)
    args = ["tune", "--config", str(cfg), "--model", "TuneToy", "--grid", "reg_item=1,25",
            "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "2 data sets (mine 0, mine 1)" in err and "--dataset LABEL" in err
    assert main(args + ["--dataset", "yours"]) == 1
    assert "'yours'" in capsys.readouterr().err
    assert main(["tune", "--config", str(tmp_path / "none.toml"), "--model", "TuneToy",
                 "--grid", "reg_item=1,25", "--no-progress"]) == 1
    assert "none.toml" in capsys.readouterr().err
