"""Issue 11, CLI: a wrong name or value is one line and a non-zero exit, never a skip or a
traceback; long runs show progress in logs; a closed pipe ends quietly."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recsys.cli import main

ROOT = Path(__file__).resolve().parents[1]

# Two folds of a small synthetic set, Popularity, and the {extra} models of each test.
CONFIG = """
bench = {{ metrics = ["rmse"], warmup = false, learning_curves = false }}
split = {{ method = "kfold", n_folds = 2, seed = 0 }}
datasets = [{{ name = "s", synthetic = {{ n_users = 40, n_items = 25, n_ratings = 400 }} }}]
[[models]]
name = "Popularity"
{extra}
"""


def _bench(tmp_path, extra: str = "", *args: str) -> tuple[int, Path]:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(extra=textwrap.dedent(extra)))
    out = tmp_path / "out"
    return main(["bench", "--config", str(cfg), "--out", str(out), "--no-plots", *args]), out


def _one_error_line(err: str, prog: str = "recsys bench") -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    return lines[0]


# ---------------------------------------------------------------------- bench: names
@pytest.mark.parametrize("extra, key, words", [
    ('[[models]]\nname = "FunkSDV"\n', "models[1].name",
     "'FunkSDV' is not a registered model (did you mean 'FunkSVD'?)"),
    ('[[models]]\nname = "FunkSVD"\nparams = { n_factor = 5 }\n', "models[1].params.n_factor",
     "FunkSVD has no hyperparameter 'n_factor' (did you mean 'n_factors'?)"),
    ('[[models]]\nname = "SVDD"\nlibrary = "surprise"\n', "models[1].name",
     "surprise has no adapter 'SVDD' (did you mean 'SVD'?)"),
    ('[[models]]\nname = "KNNBasic"\nlibrary = "surprise"\nparams = { k_neighbours = 5 }\n',
     "models[1].params.k_neighbours", "surprise's KNNBasic takes no parameter 'k_neighbours'"),
    ('[[models]]\nname = "AlternatingLeastSquares"\nlibrary = "implicit"\n'
     'params = { factor = 5 }\n', "models[1].params.factor", "did you mean 'factors'?"),
])
def test_a_wrong_model_name_or_parameter_stops_the_bench_before_it_runs(tmp_path, capsys, extra,
                                                                       key, words):
    rc, out = _bench(tmp_path, extra, "--no-progress")
    assert rc == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"c.toml: {key}: " in line and words in line
    assert not out.exists()  # nothing was fitted, nothing written


def test_a_library_that_is_not_installed_is_still_a_reported_skip(tmp_path, capsys, monkeypatch):
    import recsys.bench.adapters as adapters

    monkeypatch.setattr(adapters, "library_error",
                        lambda lib: f"{lib} cannot be imported (ModuleNotFoundError: test)")
    rc, out = _bench(tmp_path, '[[models]]\nname = "SVD"\nlibrary = "surprise"\n',
                     "--no-progress")
    assert rc == 0
    assert "skipped surprise:SVD: surprise cannot be imported" in capsys.readouterr().err
    doc = json.loads((out / "results.json").read_text())
    assert [s["model"] for s in doc["header"]["skipped"]] == ["surprise:SVD"]


def test_a_parameter_value_a_model_refuses_exits_non_zero(tmp_path, capsys):
    rc, out = _bench(tmp_path, '[[models]]\nname = "FunkSVD"\nparams = { n_factors = -5 }\n',
                     "--no-progress")
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("FunkSVD failed on s") == 2  # each fold, in the log
    last = err.strip().splitlines()[-1]
    assert last.startswith("recsys bench: error: FunkSVD on s fold1: ValueError: n_factors "
                           "must be >= 1") and "(and 1 more, above)" in last
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "error"]


def test_a_data_dir_without_the_data_set_stops_the_bench(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(extra="").replace(
        '{ name = "s", synthetic = { n_users = 40, n_items = 25, n_ratings = 400 } }',
        '{ name = "ml-latest-small" }'))
    rc = main(["bench", "--config", str(cfg), "--out", str(tmp_path / "o"), "--data-dir",
               str(tmp_path / "typo"), "--no-progress"])
    assert rc == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "ml-latest-small not found in the data folder given" in line
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------- bench: progress
def test_progress_in_logs_is_one_line_per_cell(tmp_path, capsys):
    rc, _ = _bench(tmp_path, '[[models]]\nname = "Baseline"\n')    # stderr is not a terminal
    assert rc == 0
    err = capsys.readouterr().err
    cells = [ln for ln in err.splitlines() if ln.startswith("[")]
    assert len(cells) == 4 and cells[0].startswith("[1/4] s kfold fold1 Popularity: ok in ")
    assert cells[-1].startswith("[4/4] s kfold fold2 Baseline: ok in ")
    assert cells[-1].endswith(" s") and "\r" not in err  # no bar


def test_progress_on_a_terminal_is_the_bar_and_no_progress_silences_both(tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.setattr("recsys.bench.runner._isatty", lambda stream: True)
    assert _bench(tmp_path)[0] == 0
    err = capsys.readouterr().err
    assert "fit/s" in err or "2/2" in err            # tqdm's bar
    assert not [ln for ln in err.splitlines() if ln.startswith("[1/")]
    assert _bench(tmp_path, "", "--no-progress")[0] == 0
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------- tune
def test_tune_bad_values_are_one_line(capsys):
    for args, words in [
        (["--grid", "learning_rate=abc"], "FunkSVD's learning_rate takes a number (default "
                                          "0.005), got 'abc'"),
        (["--grid", "reg=0.02,0.05"], "FunkSVD has no hyperparameter 'reg'; valid: n_factors"),
        (["--grid", "n_factors=2", "--param", "biased=3"], "biased takes true or false"),
        (["--grid", "n_factors=2", "--metric", "ndcg@x"], "unknown metric 'ndcg@x'"),
        (["--grid", "n_factors=2", "--split", "method=nope"], "unknown split method 'nope'"),
    ]:
        assert main(["tune", "--model", "FunkSVD", "--no-progress", *args]) == 1, args
        assert words in _one_error_line(capsys.readouterr().err, "recsys tune"), args
    assert main(["tune", "--model", "FunkSDV", "--grid", "n_factors=2"]) == 1
    assert "unknown model 'FunkSDV'" in _one_error_line(capsys.readouterr().err, "recsys tune")


def test_every_candidate_failing_is_one_line():
    from recsys.data.synthetic import generate
    from recsys.tuning import TuningError, grid_search

    with pytest.raises(TuningError, match=r"every candidate failed; the first \(n_factors=-1\)"
                                          r": ValueError: n_factors must be >= 1"):
        grid_search("FunkSVD", generate(30, 20, 300, seed=0), {"n_factors": [-1, -2]})


def test_the_example_in_tune_help_runs(real_data_dir, tmp_path, capsys, monkeypatch):
    from recsys.cli.tune import EPILOG

    argv = shlex.split(EPILOG.removeprefix("example: recsys "))
    argv[argv.index("--out") + 1] = str(tmp_path / "funksvd.toml")
    monkeypatch.setenv("RECSYS_DATA", str(real_data_dir))
    assert main(argv + ["--no-progress"]) == 0
    assert "best rmse" in capsys.readouterr().out
    assert "reg_factors" in (tmp_path / "funksvd.toml").read_text()


# ---------------------------------------------------------------------- pipes
@pytest.mark.parametrize("args", [["data", "list"], ["bench", "--list"], ["--help"]])
def test_a_closed_pipe_ends_quietly(args):
    proc = subprocess.Popen([sys.executable, "-m", "recsys", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line: `recsys ... | head -0`
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode in (0, 141)
