"""The benchmark harness end to end on tiny synthetic data, and its pieces."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from recsys.bench import ConfigError, parse_config, run_and_write
from recsys.bench.adapters import make_adapter
from recsys.bench.report import readme_markers, results_table, speed_ratio, update_readme
from recsys.bench.memory import PeakMemory, memory_method
from recsys.dataset import Dataset
from recsys.models.base import Recommender
from recsys.models.registry import register, unregister
from recsys.split import holdout

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- toy models
class BenchToyBias(Recommender):
    """mu + damped item bias: fast, deterministic, every hyperparameter matters."""

    def __init__(self, reg: float = 5.0):
        self.reg = reg

    def _fit(self, train: Dataset, **fit_options) -> None:
        SPY.append((type(self).__name__, self.reg, id(train), train.n_ratings))
        self.item_bias_ = _item_bias(train, self.reg)

    def _score(self, users, items):
        b = np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], 0.0)
        return self.global_mean_ + b

    def _score_users(self, users):
        return np.tile(self.global_mean_ + self.item_bias_, (len(users), 1))


class BenchToyEpochs(BenchToyBias):
    """Like BenchToyBias, fitted in 'epochs' that shrink the penalty; records history_."""

    def __init__(self, reg: float = 20.0, n_epochs: int = 4):
        self.reg = reg
        self.n_epochs = n_epochs

    def _fit(self, train: Dataset, eval_set: Dataset | None = None) -> None:
        self.history_ = {"train_rmse": [], "eval_rmse": []}
        reg = self.reg
        for _ in range(self.n_epochs):
            self.item_bias_ = _item_bias(train, reg)
            if eval_set is not None:
                for name, d in (("train_rmse", train), ("eval_rmse", eval_set)):
                    err = self._score(d.users, d.items) - d.ratings
                    self.history_[name].append(float(np.sqrt(np.mean(err ** 2))))
            reg /= 2


SPY: list[tuple] = []


def _item_bias(train: Dataset, reg: float) -> np.ndarray:
    dev = np.bincount(train.items, weights=train.ratings - train.global_mean,
                      minlength=train.n_items)
    return dev / (train.item_counts + reg)


def _register_toys():
    added = {c.__name__: c for c in (BenchToyBias, BenchToyEpochs)}
    [register(c) for c in added.values()]
    SPY.clear()
    return added


@pytest.fixture
def toy_models():
    """Register the toy models for one test and remove them afterwards."""
    added = _register_toys()
    yield added
    for name in added:
        unregister(name)


CONFIG = """
[bench]
name = "tiny"
description = "tiny synthetic end-to-end run"
metrics = ["rmse", "mae", "precision@10", "recall@10", "ndcg@10", "coverage", "novelty"]
reference = "Surprise SVD"
readme_section = "tiny"
warmup = true
learning_curves = true

[[datasets]]
name = "synthetic-tiny"
synthetic = {{ n_users = 120, n_items = 80, n_ratings = 3000, seed = 3 }}

[split]
method = "kfold"
n_folds = 3
seed = 7

[[models]]
name = "BenchToyBias"
label = "toy A"
params = {{ reg = 2.0 }}

[[models]]
name = "BenchToyBias"
label = "toy B"
params = {{ reg = 50.0 }}
folds = ["fold1", "fold2"]

[[models]]
name = "BenchToyEpochs"
counterpart = "toy A"

[[models]]
name = "SVD"
library = "surprise"
label = "Surprise SVD"
params = {{ n_factors = 5, n_epochs = 5 }}

[[models]]
name = "AlternatingLeastSquares"
library = "implicit"
label = "implicit ALS"
params = {{ factors = 4, iterations = 3 }}

[[compare]]
a = "toy A"
b = "toy B"
metric = "mae"
"""

ROW_FIELDS = {"dataset", "split", "fold", "model", "name", "library", "status", "error",
              "n_train", "n_test", "rmse", "mae", "precision@10", "recall@10", "ndcg@10",
              "coverage", "novelty", "fit_seconds", "predict_seconds", "topn_seconds",
              "fit_peak_mb", "warmup_seconds", "params"}


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """One end-to-end run shared by the tests that inspect it (it takes a few seconds)."""
    added = _register_toys()
    try:
        yield _bench_run(tmp_path_factory.mktemp("bench")) + (list(SPY),)
    finally:
        for name in added:
            unregister(name)


def _bench_run(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(CONFIG.format())
    readme = tmp_path / "README.md"
    start, end = readme_markers("tiny")
    readme.write_text(f"# title\n\nbefore\n{start}\nold table\n{end}\nafter\n")
    lines = []
    result, markdown, paths = run_and_write(cfg, tmp_path / "out", progress=False,
                                            readme=readme, command="pytest", log=lines.append)
    return result, markdown, paths, lines, readme


def test_end_to_end_results_json(bench_run):
    result, markdown, paths, lines, _, _ = bench_run
    doc = json.loads(Path(paths["json"]).read_text())
    assert set(doc) == {"header", "rows", "curves", "comparisons"}
    h = doc["header"]
    for key in ("schema_version", "date", "git_commit", "cpu", "cores", "numba_threads",
                "versions", "memory_method", "folds", "skipped", "command"):
        assert key in h, key
    assert h["versions"]["numpy"] == np.__version__
    assert h["command"] == "pytest"
    # issue 11: an unregistered model is a config error before the run (see
    # tests/test_cli_errors.py), no longer a skip; every library imports here: nothing skipped
    assert h["skipped"] == [] and result.problems() == []

    rows = doc["rows"]
    # 3 folds x (toy A, toy epochs, Surprise SVD, implicit ALS) + 2 folds of toy B
    assert len(rows) == 3 * 4 + 2
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    for r in rows:
        assert ROW_FIELDS <= set(r), ROW_FIELDS - set(r)
        assert all(not isinstance(v, (dict, list)) for k, v in r.items() if k != "params")
        assert r["dataset"] == "synthetic-tiny" and r["split"] == "kfold"
        assert r["n_train"] + r["n_test"] == 3000
        assert r["fit_seconds"] >= 0 and r["topn_seconds"] >= 0
        assert 0 <= r["precision@10"] <= 1 and 0 <= r["ndcg@10"] <= 1
        assert 0 < r["coverage"] <= 1
    keys = {(r["fold"], r["model"], r["library"]) for r in rows}
    assert len(keys) == len(rows)
    by = {(r["fold"], r["model"]): r for r in rows}
    assert sorted(f for f, m in by if m == "toy B") == ["fold1", "fold2"]
    # rating models get rmse/mae; implicit's ALS does not predict ratings
    assert 0.3 < by[("fold1", "toy A")]["rmse"] < 2.0
    assert by[("fold1", "Surprise SVD")]["rmse"] > 0
    assert by[("fold1", "implicit ALS")]["rmse"] is None
    assert by[("fold1", "toy A")]["params"] == {"reg": 2.0}
    assert by[("fold1", "Surprise SVD")]["params"]["random_state"] == 0
    assert by[("fold1", "Surprise SVD")]["convert_seconds"] > 0
    assert by[("fold1", "toy A")]["warmup_seconds"] > 0
    # a stronger penalty gives a different (here worse) fit: the params reach the model
    assert by[("fold1", "toy A")]["rmse"] != by[("fold1", "toy B")]["rmse"]

    curves = doc["curves"]
    assert [c["model"] for c in curves] == ["BenchToyEpochs"]
    assert len(curves[0]["train_rmse"]) == len(curves[0]["eval_rmse"]) == 4

    comps = {(c["a"], c["b"], c["metric"]) for c in doc["comparisons"]}
    assert ("toy A", "Surprise SVD", "rmse") in comps
    assert ("toy A", "toy B", "mae") in comps
    assert ("BenchToyEpochs", "toy A", "rmse") in comps  # the counterpart pair
    c = next(c for c in doc["comparisons"] if (c["a"], c["metric"]) == ("toy A", "rmse"))
    assert c["folds"] == ["fold1", "fold2", "fold3"]
    assert c["n_users"] > 100
    assert 0 <= c["users_t_pvalue"] <= 1 and 0 <= c["users_wilcoxon_pvalue"] <= 1


def test_end_to_end_report_plots_readme(bench_run):
    result, markdown, paths, _, readme, _ = bench_run
    assert Path(paths["markdown"]).read_text() == markdown
    for label in ("toy A", "toy B", "BenchToyEpochs", "Surprise SVD", "implicit ALS"):
        assert f"| {label} |" in markdown
    assert "Fit speed-up vs Surprise SVD" in markdown
    assert "Fit speed-up vs counterpart" in markdown and "× vs toy A |" in markdown
    assert "| toy B | recsys | 2 (fold1, fold2 only) |" in markdown
    assert "### Paired comparisons" in markdown

    names = sorted(p.name for p in paths["plots"])
    assert names == ["accuracy_vs_time_synthetic-tiny_kfold.png",
                     "learning_curves_synthetic-tiny_kfold.png",
                     "topn_synthetic-tiny_kfold.png"]
    import matplotlib.image as mpimg

    for p in paths["plots"]:
        assert p.read_bytes()[:8] == PNG_MAGIC
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100

    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n<!-- results:tiny:start -->\n")
    assert text.endswith("<!-- results:tiny:end -->\nafter\n")
    assert "old table" not in text and "| toy A |" in text and "Command: `pytest`" in text


def test_folds_identical_for_all_models(bench_run):
    result, spy = bench_run[0], bench_run[-1]
    # SPY holds (class, reg, id(train), n_train) of every fit: the warm-up, the timed fits
    # and the learning-curve fit. The timed fits of toy A and toy B must get the SAME fold
    # objects, and the header's fold digests must match what every row reports.
    fits = [s for s in spy if s[0] == "BenchToyBias"]
    a = [s[2:] for s in fits if s[1] == 2.0]
    b = [s[2:] for s in fits if s[1] == 50.0]
    assert len(a) == 1 + 3 and len(b) == 1 + 2  # a warm-up each, then their folds
    assert a[1:3] == b[1:]  # the same Fold.train objects on fold1 and fold2
    assert a[0][1] < a[1][1]  # the warm-up used a slice
    folds = result.header["folds"][0]["folds"]
    assert len({f["digest"] for f in folds}) == 3
    n_train = {f["name"]: f["n_train"] for f in folds}
    for r in result.rows:
        assert r["n_train"] == n_train[r["fold"]]


def test_our_rmse_equals_surprise_accuracy_rmse():
    from surprise import accuracy

    from recsys.data.synthetic import generate
    from recsys.evaluation import evaluate_ratings
    from recsys.metrics import rmse

    ds = generate(150, 90, 4000, seed=11)
    fold = holdout(ds, test_fraction=0.2, seed=5)[0]
    model = make_adapter("surprise", "SVD", {"n_factors": 8, "n_epochs": 10}).fit(fold.train)
    testset = list(zip(fold.test.users.tolist(), fold.test.items.tolist(),
                       fold.test.ratings.astype(float).tolist()))
    theirs = model.algo_.test(testset)
    ours = evaluate_ratings(model.predict, fold.test)
    assert ours.rmse == pytest.approx(accuracy.rmse(theirs, verbose=False), rel=1e-12)
    assert ours.mae == pytest.approx(accuracy.mae(theirs, verbose=False), rel=1e-12)
    # and the metric function alone on Surprise's own predictions
    est = np.array([p.est for p in theirs])
    truth = np.array([p.r_ui for p in theirs])
    assert rmse(truth, est) == pytest.approx(accuracy.rmse(theirs, verbose=False), rel=1e-12)
    np.testing.assert_allclose(ours.predictions, est, rtol=0, atol=1e-12)


def test_surprise_vectorised_scores_match_its_predict():
    from recsys.data.synthetic import generate

    ds = generate(60, 40, 900, seed=2)
    train = holdout(ds, test_fraction=0.3, seed=0)[0].train
    for name in ("SVD", "BaselineOnly"):
        m = make_adapter("surprise", name, {}).fit(train)
        users = np.arange(ds.n_users)
        scores = np.clip(m.score_items(users), *ds.rating_scale)
        u = np.repeat(users, ds.n_items)
        i = np.tile(np.arange(ds.n_items), ds.n_users)
        np.testing.assert_allclose(scores.ravel(), m.predict(u, i), atol=1e-9)


# ---------------------------------------------------------------------- config errors
BASE = """
[[datasets]]
name = "ml-latest-small"
[split]
method = "holdout"
test_fraction = 0.1
[[models]]
name = "Baseline"
"""


@pytest.mark.parametrize("extra, key, words", [
    ("[[models]]\nname = \"X\"\nparamz = {}\n", "models[1].paramz", "unknown key"),
    ("[[models]]\nname = \"X\"\nlibrary = \"lenskit\"\n", "models[1].library", "lenskit"),
    ("[[models]]\nname = \"X\"\nparams = 3\n", "models[1].params", "expected a table"),
    ("[[models]]\nname = \"Baseline\"\n", "models[1].label", "duplicate"),
    ("[[models]]\nlabel = \"x\"\n", "models[1].name", "missing"),
    ("[bench]\nmetrics = [\"rmse\", \"auc\"]\n", "bench.metrics[1]", "unknown metric"),
    ("[bench]\nmetrics = [\"ndcg@10\", \"recall@20\"]\n", "bench.metrics", "one cut-off"),
    ("[bench]\nreference = \"Nope\"\n", "bench.reference", "not the label"),
    ("[bench]\nwarmup = \"yes\"\n", "bench.warmup", "true or false"),
    ("[[compare]]\na = \"Baseline\"\nb = \"Ghost\"\n", "compare[0].b", "Ghost"),
    ("[[models]]\nname = \"X\"\ndatasets = [\"ml-1m\"]\n", "models[1].datasets[0]", "ml-1m"),
    ("[extra]\nx = 1\n", "extra", "unknown key"),
    ("[[models]]\nname = \"X\"\ncounterpart = \"Y\"\n", "models[1].counterpart", "'Y'"),
])
def test_config_errors_name_file_and_key(extra, key, words):
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + extra, source="my.toml")
    msg = str(err.value)
    assert msg.startswith(f"my.toml: {key}: "), msg
    assert words in msg
    assert err.value.key == key


def test_config_errors_in_sections():
    with pytest.raises(ConfigError, match=r"^c.toml: datasets: missing"):
        parse_config("[split]\nmethod='holdout'\n[[models]]\nname='A'\n", source="c.toml")
    with pytest.raises(ConfigError, match=r"^c.toml: split.method: unknown split method"):
        parse_config(BASE.replace('"holdout"', '"random"'), source="c.toml")
    with pytest.raises(ConfigError, match=r"^c.toml: split.test_fractoin: unknown key"):
        parse_config(BASE.replace("test_fraction", "test_fractoin"), source="c.toml")
    bad_syn = BASE.replace('name = "ml-latest-small"',
                           'name = "s"\nsynthetic = { n_users = 5, n_items = 5 }')
    with pytest.raises(ConfigError, match=r"datasets\[0\].synthetic.n_ratings: expected a pos"):
        parse_config(bad_syn, source="c.toml")
    with pytest.raises(ConfigError, match=r"^c.toml: not valid TOML"):
        parse_config("[[models]\n", source="c.toml")


def test_config_defaults_and_shipped_configs():
    cfg = parse_config(BASE, source="x.toml", default_name="x")
    assert cfg.name == "x" and cfg.k == 10 and cfg.reference is None
    assert cfg.models[0].label == "Baseline" and cfg.models[0].library == "recsys"
    assert cfg.splits[0].name == "holdout"
    assert cfg.splits[0].spec == {"method": "holdout", "test_fraction": 0.1}
    from recsys.bench import CONFIG_DIR, load_config

    names = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
    assert {"ml100k-rating", "ml100k-topn", "quick", "scale", "tmdb-cold-start"} <= set(names)
    rating = load_config(CONFIG_DIR / "ml100k-rating.toml")
    labels = {m.label: m for m in rating.models}
    assert rating.reference == "Surprise SVD" and "FunkSVD" in labels
    assert labels["Surprise SVD"].library == "surprise"
    assert rating.readme_section == "ml100k-rating"
    quick = load_config(CONFIG_DIR / "quick.toml")
    assert quick.datasets[0].name == "ml-latest-small"
    assert quick.splits[0].spec == {"method": "holdout", "test_fraction": 0.1, "seed": 42}


def test_missing_config_file(tmp_path):
    from recsys.bench import load_config

    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_unavailable_library_is_one_line_and_the_rest_runs(tmp_path, toy_models, monkeypatch):
    import recsys.bench.adapters as adapters

    monkeypatch.setattr(adapters, "library_error",
                        lambda lib: f"{lib} cannot be imported (ModuleNotFoundError: test)")
    cfg = parse_config(textwrap.dedent("""
        [bench]
        metrics = ["rmse"]
        [[datasets]]
        name = "s"
        synthetic = { n_users = 30, n_items = 20, n_ratings = 300, seed = 0 }
        [split]
        method = "holdout"
        test_fraction = 0.2
        seed = 0
        [[models]]
        name = "BenchToyBias"
        [[models]]
        name = "SVD"
        library = "surprise"
    """), source="t.toml")
    from recsys.bench.runner import run_benchmark

    lines = []
    res = run_benchmark(cfg, progress=False, log=lines.append)
    assert lines == ["skipped surprise:SVD: surprise cannot be imported "
                     "(ModuleNotFoundError: test)"]
    assert [r["model"] for r in res.rows] == ["BenchToyBias"]
    assert res.rows[0]["status"] == "ok"


def test_a_failing_model_gets_an_error_row(toy_models):
    class BenchToyBroken(BenchToyBias):
        def _fit(self, train, **kw):
            raise ValueError("deliberately broken")

    register(BenchToyBroken)
    try:
        cfg = parse_config(textwrap.dedent("""
            [bench]
            metrics = ["rmse"]
            warmup = false
            [[datasets]]
            name = "s"
            synthetic = { n_users = 30, n_items = 20, n_ratings = 300, seed = 0 }
            [split]
            method = "holdout"
            test_fraction = 0.2
            [[models]]
            name = "BenchToyBroken"
            [[models]]
            name = "BenchToyBias"
        """), source="t.toml")
        from recsys.bench.runner import run_benchmark

        lines = []
        res = run_benchmark(cfg, progress=False, log=lines.append)
    finally:
        unregister("BenchToyBroken")
    assert [r["status"] for r in res.rows] == ["error", "ok"]
    assert res.rows[0]["error"] == "ValueError: deliberately broken"
    assert len(lines) == 1 and "BenchToyBroken failed" in lines[0]


def test_cli_and_benchmarks_script(tmp_path, toy_models, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(textwrap.dedent("""
        [bench]
        metrics = ["rmse", "ndcg@5"]
        [[datasets]]
        name = "s"
        synthetic = { n_users = 40, n_items = 25, n_ratings = 500, seed = 1 }
        [split]
        method = "holdout"
        test_fraction = 0.2
        [[models]]
        name = "BenchToyBias"
    """))
    from recsys.cli import main

    assert main(["bench", "--config", str(cfg), "--out", str(tmp_path / "o"), "--no-progress",
                 "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "| BenchToyBias | recsys | 1 |" in out and "NDCG@5" in out
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert doc["rows"][0]["ndcg@5"] is not None and "ndcg@10" not in doc["rows"][0]

    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_run_script", Path(__file__).resolve().parents[1] / "benchmarks" / "run.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--config", str(cfg), "--out", str(tmp_path / "o2"),
                        "--no-progress", "--no-plots"]) == 0
    assert (tmp_path / "o2" / "results.json").is_file()
    # a config error is one line on stderr and exit status 1, not a traceback
    cfg.write_text(cfg.read_text().replace("[split]", "[split]\nbogus = 1"))
    assert main(["bench", "--config", str(cfg), "--out", str(tmp_path / "o3"),
                 "--no-progress"]) == 1
    assert "split.bogus: unknown key" in capsys.readouterr().err


# ---------------------------------------------------------------------- report pieces
def _row(model, fold, fit, rmse=None, library="recsys"):
    return {"dataset": "d", "split": "s", "fold": fold, "model": model, "library": library,
            "status": "ok", "fit_seconds": fit, "rmse": rmse}


def test_speed_ratio_uses_common_folds():
    ref = [_row("R", "u1", 4.0), _row("R", "u2", 6.0)]
    mine = [_row("M", "u1", 1.0), _row("M", "u3", 100.0)]
    assert speed_ratio(ref, mine) == pytest.approx(4.0)
    assert speed_ratio(ref, [_row("M", "u9", 1.0)]) is None


def test_results_table_ci_and_partial_folds():
    rows = [_row("R", f, 2.0, 0.95 + 0.01 * j) for j, f in enumerate(["u1", "u2", "u3"])]
    rows += [_row("M", "u1", 0.5, 0.90)]
    table = results_table(rows, reference="R", folds_by_split={("d", "s"): ["u1", "u2", "u3"]})
    r_line = next(ln for ln in table.splitlines() if ln.startswith("| R |"))
    m_line = next(ln for ln in table.splitlines() if ln.startswith("| M |"))
    # mean 0.96, t(0.975, 2) * 0.01 / sqrt(3) = 0.0248
    assert "0.9600 ± 0.0248" in r_line and "1.00×" in r_line
    assert "| 1 (u1 only) | 0.9000 |" in m_line and "4.00×" in m_line
    assert "M ran on u1 only" in table
    twin = results_table(rows, reference="R", counterparts={"M": "R"})
    assert "Fit speed-up vs counterpart" in twin
    assert next(ln for ln in twin.splitlines() if ln.startswith("| M |")).endswith(
        "| 4.00× | 4.00× vs R |")


def test_update_readme_errors_and_idempotence(tmp_path):
    p = tmp_path / "README.md"
    start, end = readme_markers("x")
    p.write_text(f"a\n{start}\n{end}\nb\n")
    assert update_readme(p, "x", "| t |") is True
    assert p.read_text() == f"a\n{start}\n| t |\n{end}\nb\n"
    assert update_readme(p, "x", "| t |") is False
    p.write_text(f"a\n{start}\nb\n")
    with pytest.raises(ValueError, match=r"README.md: marker '<!-- results:x:end -->'"):
        update_readme(p, "x", "t")
    # --update-readme checks the markers before the run, and says so in one line
    cfg = tmp_path / "c.toml"
    cfg.write_text('[bench]\nreadme_section = "x"\n[[datasets]]\nname = "nowhere"\n'
                   '[split]\nmethod = "holdout"\n[[models]]\nname = "GlobalMean"\n')
    from recsys.cli import main

    assert main(["bench", "--config", str(cfg), "--out", str(tmp_path / "o"),
                 "--update-readme", str(p)]) == 1
    assert not (tmp_path / "o").exists()


def test_peak_memory_sees_a_large_allocation():
    method = memory_method()
    with PeakMemory(method) as mem:
        block = np.ones(40 * 2**20 // 8)  # 40 MiB, touched
        block.sum()
        del block
    assert mem.peak_mb is not None and mem.peak_mb >= 0
    if method == "vmhwm":  # exact on Linux; ru_maxrss only sees new process-wide peaks
        assert 35 <= mem.peak_mb < 200


# ---------------------------------------------------------------------- shipped configs
def test_shipped_configs_are_package_data_found_by_bare_name(tmp_path, monkeypatch):
    import recsys.bench
    from recsys.bench import CONFIG_DIR, shipped_config

    assert CONFIG_DIR == Path(recsys.bench.__file__).resolve().parent / "configs"
    monkeypatch.chdir(tmp_path)  # outside the repository
    assert shipped_config("quick") == CONFIG_DIR / "quick.toml"
    assert shipped_config("quick.toml") == CONFIG_DIR / "quick.toml"
    own = tmp_path / "quick.toml"  # a file given by path wins over the shipped name
    own.write_text("[[models]]\nname = 'x'\n")
    assert shipped_config("quick.toml") == Path("quick.toml")
    assert shipped_config(own) == own
    with pytest.raises(ConfigError, match=r"no shipped config of that name \(shipped: .*"
                                          r"ml100k-rating, ml100k-topn, quick, scale"):
        shipped_config("nope")
    # a path is never swapped for a shipped config of the same file name
    with pytest.raises(ConfigError, match="sub/scale.toml: no such config file$"):
        shipped_config("sub/scale.toml")


def test_cli_bench_list_prints_every_config_with_its_description(capsys):
    from recsys.bench import load_config, shipped_configs
    from recsys.cli import main

    assert main(["bench", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    configs = shipped_configs()
    assert [ln.split()[0] for ln in lines] == [c.name for c in configs]
    for line, c in zip(lines, configs):
        description = load_config(c.path).description
        assert description and line.endswith("  " + description)


def test_cli_bench_by_bare_name_from_another_folder(tmp_path, toy_models, monkeypatch, capsys):
    import recsys.bench.configs as configs

    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "mini.toml").write_text(textwrap.dedent("""
        # a mini config
        [bench]
        metrics = ["rmse"]
        [[datasets]]
        name = "s"
        synthetic = { n_users = 30, n_items = 20, n_ratings = 300, seed = 0 }
        [split]
        method = "holdout"
        test_fraction = 0.2
        [[models]]
        name = "BenchToyBias"
    """))
    monkeypatch.setattr(configs, "CONFIG_DIR", folder)
    monkeypatch.chdir(tmp_path)
    from recsys.cli import main

    assert main(["bench", "--config", "mini", "--out", "o", "--no-progress", "--no-plots"]) == 0
    assert (tmp_path / "o" / "results.json").is_file()
    assert [c.description for c in configs.shipped_configs()] == ["a mini config"]


def test_results_and_plots_get_the_umask_mode(bench_run):
    import stat

    from recsys.io import file_mode

    paths = bench_run[2]
    for p in [paths["json"], paths["markdown"], *paths["plots"]]:
        assert stat.S_IMODE(Path(p).stat().st_mode) == file_mode(), p


# ---------------------------------------------------------------------- layering
BENCH_MODULES = ("recsys.bench", "recsys.bench.adapters", "recsys.bench.config",
                 "recsys.bench.configs", "recsys.bench.environment", "recsys.bench.plots",
                 "recsys.bench.report", "recsys.bench.runner", "recsys.bench.models",
                 "recsys.bench.data", "recsys.tuning", "recsys.split", "recsys.metadata",
                 "recsys.eda", "recsys.eda_metadata", "recsys.eda_style", "recsys.cli.bench",
                 "recsys.cli.tune")


@pytest.mark.parametrize("module", BENCH_MODULES)
def test_each_module_imports_alone(module):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, timeout=120)


def _import_graph() -> dict[str, set[str]]:
    """recsys module -> the recsys modules it imports anywhere (function-level imports too;
    ``from pkg import sub`` counts as importing ``pkg.sub``, not ``pkg``)."""
    import ast

    import recsys

    root = Path(recsys.__file__).resolve().parent
    files = {}
    for p in root.rglob("*.py"):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = {m: set() for m in files}
    for m, p in files.items():
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.Import):
                targets = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
                subs = [f"{n.module}.{a.name}" for a in n.names
                        if f"{n.module}.{a.name}" in files]
                targets = subs + ([n.module] if len(subs) < len(n.names) else [])
            else:
                continue
            graph[m] |= {t for t in targets if t in files and t != m}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module."""
    index, low, stack, out = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_through_the_harness_data_or_splits():
    graph = _import_graph()
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]  # the finder works
    mine = ("recsys.bench", "recsys.tuning", "recsys.split", "recsys.data", "recsys.eda",
            "recsys.eda_metadata", "recsys.eda_style", "recsys.metadata", "recsys.summary",
            "recsys.cli")
    bad = [c for c in _cycles(graph) if any(m == p or m.startswith(p + ".")
                                            for m in c for p in mine)]
    assert not bad, bad
    # and the arrows point down: tuning below the bench, the data layer below the splits
    assert not {m for m in graph["recsys.tuning"] if m.startswith("recsys.bench")}
    assert not {m for m in graph["recsys.split"] if m.startswith("recsys.data.")} - {
        "recsys.data.ml100k_folds"}
