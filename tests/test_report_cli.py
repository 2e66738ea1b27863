"""``recsys report`` (issue 14, "Reporting"): a results folder's tables and plots rendered
again without rerunning, and two results folders compared row by row
(recsys.bench.compare), on tiny synthetic runs the tests make."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.bench import parse_config, run_and_write
from recsys.bench.compare import (NotComparableError, ResultsFolderError, compare_results,
                                  read_results)
from recsys.cli import main

CONFIG = """
[bench]
name = "tiny"
description = "two models on a synthetic set"
metrics = ["rmse", "ndcg@5"]
warmup = false
learning_curves = false
reference = "Baseline"

[[datasets]]
name = "synthetic-tiny"
synthetic = {{ n_users = 60, n_items = 40, n_ratings = 900, seed = 0 }}

[split]
method = "kfold"
n_folds = 3
seed = {seed}

[[models]]
name = "Baseline"
params = {{ reg_user = {reg} }}

[[models]]
name = "Popularity"
"""


def run(tmp_path, name, seed=0, reg=15.0, plots=False):
    path = tmp_path / f"{name}.toml"
    path.write_text(CONFIG.format(seed=seed, reg=reg))
    out = tmp_path / name
    run_and_write(path, out, progress=False, log=lambda _: None, plots=plots)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    return {"a": run(tmp, "a", plots=True), "b": run(tmp, "b", reg=1.0),
            "other": run(tmp, "other", seed=7)}


def test_one_folder_is_rendered_again_without_rerunning(runs, tmp_path, capsys):
    from recsys.bench.runner import run_benchmark

    original = (runs["a"] / "results.md").read_text()
    out = tmp_path / "again"
    assert main(["report", str(runs["a"]), "--out", str(out)]) == 0
    assert (out / "results.md").read_text() == original
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        p.name for p in runs["a"].glob("*.png"))
    assert "## Benchmark `tiny`" in capsys.readouterr().out
    # A row edited in results.json shows in the re-rendered table: it is read, not rerun.
    doc = json.loads((runs["a"] / "results.json").read_text())
    next(r for r in doc["rows"] if r["model"] == "Baseline")["rmse"] = 9.8765
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "results.json").write_text(json.dumps(doc))
    for name in ("per_user.npz",):
        (edited / name).write_bytes((runs["a"] / name).read_bytes())
    assert main(["report", str(edited), "--no-plots"]) == 0
    assert _mean_changed(original, (edited / "results.md").read_text())
    assert not list(edited.glob("*.png"))
    result, config = read_results(runs["a"])
    assert config.name == "tiny" and config.k == 5 and config.reference == "Baseline"
    assert result.per_user and all(len(u) == len(v) for u, v in result.per_user.values())


def _mean_changed(before: str, after: str) -> bool:
    line = next(l for l in before.splitlines() if l.startswith("| Baseline |"))
    return line not in after


def test_a_folder_against_itself_differs_by_nothing(runs):
    rows = compare_results(runs["a"], runs["a"])
    metrics = {(r["model"], r["metric"]) for r in rows}
    assert {("Baseline", "rmse"), ("Baseline", "ndcg@5"), ("Popularity", "ndcg@5")} <= metrics
    assert all(r["diff"] == 0 and r["same_folds"] and len(r["folds"]) == 3 for r in rows)
    assert all(r["folds_t_pvalue"] is None for r in rows)  # no difference: no test


def test_two_runs_on_the_same_folds_get_paired_tests(runs, capsys):
    rows = {(r["model"], r["metric"]): r for r in compare_results(runs["a"], runs["b"])}
    rmse = rows[("Baseline", "rmse")]
    ra, _ = read_results(runs["a"])
    rb, _ = read_results(runs["b"])
    fa = [r["rmse"] for r in ra.rows if r["model"] == "Baseline"]
    fb = [r["rmse"] for r in rb.rows if r["model"] == "Baseline"]
    assert np.isclose(rmse["mean_a"], np.mean(fa)) and np.isclose(rmse["mean_b"], np.mean(fb))
    assert np.isclose(rmse["diff"], np.mean(fb) - np.mean(fa)) and rmse["diff"] != 0
    assert rmse["same_folds"] and len(rmse["folds"]) == 3
    assert rmse["folds_t_pvalue"] is not None and 0 <= rmse["folds_t_pvalue"] <= 1
    assert rmse["n_users"] > 60 and rmse["users_t_pvalue"] is not None
    # Popularity did not change: its values are equal, B - A is zero.
    assert rows[("Popularity", "ndcg@5")]["diff"] == 0
    assert main(["report", str(runs["a"]), str(runs["b"])]) == 0
    text = capsys.readouterr().out
    assert "| Baseline | rmse |" in text and "synthetic-tiny · kfold" in text


def test_other_folds_give_means_but_no_paired_test(runs, tmp_path):
    rows = compare_results(runs["a"], runs["other"])
    assert rows and all(not r["same_folds"] and r["folds"] == [] for r in rows)
    assert all(r["folds_t_pvalue"] is None and r["n_users"] == 0 for r in rows)
    out = tmp_path / "cmp.md"
    assert main(["report", str(runs["a"]), str(runs["other"]), "--out", str(out)]) == 0
    assert "(the runs used different folds)" in out.read_text()


def test_folders_that_cannot_be_compared_or_read(runs, tmp_path, capsys):
    doc = json.loads((runs["a"] / "results.json").read_text())
    for row in doc["rows"]:
        row["dataset"] = "elsewhere"
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "results.json").write_text(json.dumps({**doc, "header": {
        **doc["header"], "per_user_file": None}}))
    with pytest.raises(NotComparableError, match="not comparable: no .* in common"):
        compare_results(runs["a"], moved)
    with pytest.raises(ResultsFolderError, match="no results.json"):
        read_results(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("{not json")
    with pytest.raises(ResultsFolderError, match="not a results file"):
        read_results(tmp_path / "bad")
    assert main(["report", str(runs["a"]), str(moved)]) == 1
    assert "recsys report: error:" in capsys.readouterr().err
    assert main(["report", "x", "y", "z"]) == 1
    assert "give one results folder, or two" in capsys.readouterr().err
