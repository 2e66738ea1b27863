"""The issue-14 protocols and metrics through the harness, on tiny synthetic data: global
temporal split with its counted drops, sampled ranking beside full ranking, user cold start
(fold-in; a model without it is unsupported, not an error), the beyond-accuracy columns,
intervals over users, and the per-user file with its round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.bench import ConfigError, parse_config, run_and_write
from recsys.bench.per_user import (PerUserFileError, per_user_frame, read_per_user,
                                   write_per_user)
from recsys.bench.report import paired_comparisons
from recsys.models.base import Recommender
from recsys.models.registry import register, unregister

CONFIG = """
[bench]
name = "protocols"
metrics = ["rmse", "ndcg@5", "recall@5", "arp", "aplt", "gini", "serendipity", "ild_genres"]
warmup = false
learning_curves = false
paired = ["ndcg@5"]

[[datasets]]
name = "synth"
synthetic = { n_users = 60, n_items = 40, n_ratings = 1500, seed = 2 }

[[splits]]
name = "global"
method = "global_temporal"
validation_quantile = 0.7
test_quantile = 0.85
sampled = { n_negatives = 10, seed = 3 }

[[splits]]
name = "cold users"
method = "user_cold_start"
test_fraction = 0.2
n_given = 3
seed = 1

[[splits]]
name = "loo"
method = "leave_one_out"
by = "random"

[[models]]
name = "Baseline"

[[models]]
name = "ItemKNN"
params = { k = 10 }

[[models]]
name = "ProtoToyNoFoldIn"

[[compare]]
a = "ItemKNN"
b = "Baseline"
metric = "ndcg@5"

[[compare]]
a = "ItemKNN"
b = "Baseline"
metric = "corrected_ndcg@5"
"""


class ProtoToyNoFoldIn(Recommender):
    """Item means; declares no capability, so it cannot score a new user."""

    def __init__(self, prior: float = 3.0):
        self.prior = prior

    def _fit(self, train, **options):
        self.mean_ = np.bincount(train.items, weights=train.ratings, minlength=train.n_items) / \
            np.maximum(train.item_counts, 1)

    def _score(self, users, items):
        return np.where(items >= 0, self.mean_[np.maximum(items, 0)], self.prior)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    register(ProtoToyNoFoldIn)
    try:
        tmp = tmp_path_factory.mktemp("protocols")
        cfg = tmp / "protocols.toml"
        cfg.write_text(CONFIG)
        lines = []
        result, markdown, paths = run_and_write(cfg, tmp / "out", progress=False, plots=False,
                                                log=lines.append)
        yield result, markdown, paths, lines
    finally:
        unregister("ProtoToyNoFoldIn")


def rows_of(result, split):
    return {r["model"]: r for r in result.rows if r["split"] == split}


def test_global_temporal_fold_counts_its_drops(run):
    result, markdown, paths, _ = run
    (entry,) = [f for f in result.header["folds"] if f["split"] == "global"]
    (fold,) = entry["folds"]
    assert {"t1", "t2", "unseen_users", "unseen_items", "dropped_ratings"} <= set(fold)
    assert fold["n_train"] + fold["n_test"] + fold["dropped_ratings"] == 1500
    assert "ratings dropped" in markdown and "unseen in train" in markdown


def test_sampled_and_full_ranking_in_rows_and_table(run):
    result, markdown, _, _ = run
    for r in rows_of(result, "global").values():
        assert r["status"] == "ok", r["error"]
        for v in ("full", "sampled", "corrected"):
            for m in ("hit@5", "ndcg@5"):
                assert r[f"{v}_{m}"] is not None
        # 10 negatives instead of ~35 candidates: the raw sampled HR can only be higher.
        assert r["sampled_hit@5"] >= r["full_hit@5"]
    assert "sampled vs full ranking" in markdown
    # a paired test on the corrected metric, over users, on the sampled split only
    (c,) = [c for c in result.comparisons if c["metric"] == "corrected_ndcg@5"]
    assert c["split"] == "global" and c["n_users"] > 0 and not c["lower_is_better"]
    # the other splits have no sampled columns
    assert all(r.get("sampled_hit@5") is None for r in rows_of(result, "loo").values())


def test_user_cold_start_folds_in_and_reports_unsupported(run):
    result, markdown, _, _ = run
    rows = rows_of(result, "cold users")
    assert rows["ProtoToyNoFoldIn"]["status"] == "unsupported"
    assert "new_user" in rows["ProtoToyNoFoldIn"]["error"]
    assert rows["ProtoToyNoFoldIn"]["fit_seconds"] is None  # not fitted at all
    for label in ("Baseline", "ItemKNN"):
        r = rows[label]
        assert r["status"] == "ok", r["error"]
        assert 0.3 < r["rmse"] < 2.5 and r["n_topn_users"] > 0
    assert result.problems() == []  # unsupported is not a failure
    assert "unsupported on this split" in markdown
    assert "users held out of train" in markdown


def test_beyond_accuracy_columns(run):
    result, markdown, _, lines = run
    r = rows_of(result, "loo")["ItemKNN"]
    assert r["arp"] > 0 and 0 <= r["aplt"] <= 1 and 0 <= r["gini"] <= 1
    assert 0 <= r["serendipity"] <= 1
    assert r["ild_genres"] is None  # synthetic data has no genres: said, not crashed
    assert any("ild_genres" in line and "genres" in line for line in lines)
    for head in ("ARP", "APLT", "Gini", "Serendipity"):
        assert head in markdown
    assert "95% intervals over users" in markdown


def test_per_user_file_round_trip_and_recomputed_tests(run, tmp_path):
    result, _, paths, _ = run
    doc = json.loads(paths["json"].read_text())
    assert doc["header"]["per_user_file"] == "per_user.npz"
    loaded = read_per_user(paths["json"].parent)
    assert set(loaded) == set(result.per_user)
    for key, (users, values) in result.per_user.items():
        np.testing.assert_array_equal(loaded[key][0], users)
        np.testing.assert_array_equal(loaded[key][1], values)
    assert ("synth", "loo", "leave_one_out", "ItemKNN", "ndcg@5") in loaded
    # The paired tests recomputed from the file equal the run's.
    class Again:
        rows, per_user = result.rows, loaded
    config = parse_config(CONFIG, "protocols.toml")
    assert paired_comparisons(Again, config) == result.comparisons
    frame = per_user_frame(loaded)
    assert len(frame) == sum(len(u) for u, _ in loaded.values())
    assert list(frame.columns) == ["dataset", "split", "fold", "model", "metric", "user",
                                   "value"]


def test_per_user_file_errors(tmp_path):
    with pytest.raises(PerUserFileError, match="no per-user results file"):
        read_per_user(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(PerUserFileError, match="not a per-user results file"):
        read_per_user(tmp_path / "bad.npz")
    path = write_per_user(tmp_path / "x.npz", {("d", "s", "f", "m", "rmse"):
                                                (np.array([1, 2]), np.array([0.5, 0.7]))})
    assert read_per_user(path)[("d", "s", "f", "m", "rmse")][1].tolist() == [0.5, 0.7]
    np.savez(tmp_path / "old.npz", dataset=np.array(["d"]), split=np.array(["s"]),
             fold=np.array(["f"]), model=np.array(["m"]), metric=np.array(["x"]),
             offsets=np.array([0, 1]), users=np.array([0]), values=np.array([1.0]),
             format_version=np.int64(99))
    with pytest.raises(PerUserFileError, match="format version 99"):
        read_per_user(tmp_path / "old.npz")
    with pytest.raises(ValueError, match="users for"):
        write_per_user(tmp_path / "y.npz", {("d", "s", "f", "m", "x"): (np.arange(2),
                                                                        np.arange(3.0))})


@pytest.mark.parametrize("sampled, key", [
    ("{ n_negatives = 0 }", "splits[0].sampled.n_negatives"),
    ('{ sampling = "pop" }', "splits[0].sampled.sampling"),
    ("{ gamma = 2 }", "splits[0].sampled.gamma"),
    ("{ negatives = 5 }", "splits[0].sampled.negatives"),
    ("{ seed = -1 }", "splits[0].sampled.seed"),
])
def test_sampled_config_errors_name_the_key(sampled, key):
    text = f"""
[[datasets]]
name = "s"
synthetic = {{ n_users = 5, n_items = 5, n_ratings = 10 }}
[[splits]]
method = "holdout"
sampled = {sampled}
[[models]]
name = "Baseline"
"""
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_config(text, "t.toml")


def test_new_metric_and_split_names_are_accepted_and_typos_refused():
    base = """
[bench]
metrics = [{metrics}]
[[datasets]]
name = "s"
synthetic = {{ n_users = 5, n_items = 5, n_ratings = 10 }}
[[splits]]
method = "{method}"
[[models]]
name = "Baseline"
"""
    cfg = parse_config(base.format(metrics='"calibration", "ild_content"', method="leave_one_out"),
                       "t.toml")
    assert cfg.metrics == ("calibration", "ild_content")
    with pytest.raises(ConfigError, match="unknown metric 'diversity'"):
        parse_config(base.format(metrics='"diversity"', method="holdout"), "t.toml")
    with pytest.raises(ConfigError, match="unknown split method 'loo'"):
        parse_config(base.format(metrics='"rmse"', method="loo"), "t.toml")
    sampled = parse_config(base.format(metrics='"ndcg@10"', method="holdout")
                           .replace('method = "holdout"', 'method = "holdout"\nsampled = true'),
                           "t.toml")
    assert sampled.splits[0].sampled["n_negatives"] == 100
