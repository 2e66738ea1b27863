"""Spark MLlib ALS: the bench adapter, the export to a recsys model file and its load, parity
with recsys ALS at matched hyperparameters, ``recsys train --engine spark`` on Parquet.

One SparkSession on ``local[2]`` for the module (Spark allows one per process; starting it is
most of this file's time). Needs the spark extra (pyspark, pyarrow) and Java 17+: the fixture
fails, never skips, when they are missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from recsys.data.synthetic import generate
from recsys.dataset import Dataset
from recsys.errors import DataFormatError
from recsys.models.als import ALS
from recsys.models.base import Recommender
from recsys.split import holdout

MASTER = "local[2]"
#: Small Spark jobs: two blocks a side, as many as the cores.
BLOCKS = {"numUserBlocks": 2, "numItemBlocks": 2}
#: |RMSE(Spark ALS) - RMSE(recsys ALS)| at matched rank, reg and iterations on the small
#: synthetic set below. The two differ only in the initial factors and the sweep order;
#: across seeds each one's RMSE here moves by about 0.005, so 0.02 is a real bound (an
#: unmatched reg, e.g. Spark's regParam read as an unscaled lambda, misses it by far).
PARITY_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def spark():
    try:
        from recsys.engines.spark_als import spark_session

        session, _ = spark_session(MASTER)
    except Exception as exc:  # no pyspark, no Java: say what to install
        pytest.fail(f"Spark cannot start on {MASTER} ({type(exc).__name__}: {exc}); install "
                    "recsys[spark] and a Java 17+ runtime (Debian: openjdk-17-jre-headless)",
                    pytrace=False)
    yield session
    session.stop()  # the JVM holds about 1 GB: not for the rest of the suite


@pytest.fixture(scope="module")
def fold():
    ds = generate(300, 120, 6000, rank=4, noise=0.3, seed=3, name="synthetic-small")
    return holdout(ds, 0.2, seed=1)[0]


@pytest.fixture(scope="module")
def explicit(spark, fold):
    """The explicit adapter fitted on the fold, with a test item no one rated in train."""
    from recsys.bench.adapters import make_adapter

    model = make_adapter("spark", "ALS", {"rank": 6, "maxIter": 10, "regParam": 0.1,
                                          "master": MASTER, **BLOCKS})
    return model.fit(fold.train)


def _rmse(pred, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - truth) ** 2)))


# ---------------------------------------------------------------------- the adapter
def test_adapter_matches_recsys_als_at_matched_hyperparameters(explicit, fold):
    test = fold.test
    spark_rmse = _rmse(explicit.predict(test.users, test.items), test.ratings)
    ours = ALS(n_factors=6, n_iterations=10, reg=0.1, biases=False, seed=0).fit(fold.train)
    ours_rmse = _rmse(ours.predict(test.users, test.items), test.ratings)
    mean_rmse = _rmse(np.full(test.n_ratings, fold.train.global_mean), test.ratings)
    assert abs(spark_rmse - ours_rmse) < PARITY_TOLERANCE, (spark_rmse, ours_rmse)
    assert spark_rmse < mean_rmse - 0.1  # it learned something
    # Same model function: the per-rating predictions agree closely too.
    diff = explicit.predict(test.users, test.items) - ours.predict(test.users, test.items)
    assert np.sqrt(np.mean(diff ** 2)) < 0.15


def test_adapter_records_startup_and_params(explicit):
    assert explicit.startup_seconds_ >= 0.0
    p = explicit.effective_params()
    assert p["master"] == MASTER and p["center"] is True and p["seed"] == 0
    assert explicit.predicts_ratings and explicit.library == "spark"


def test_unknown_users_and_items_fall_back_to_the_mean_and_are_counted(explicit, fold):
    train = fold.train
    known_u = np.flatnonzero(train.user_counts > 0)[:3]
    known_i = np.flatnonzero(train.item_counts > 0)[:3]
    # -1 is an id outside the training data (a user or item Spark never saw).
    users = np.array([known_u[0], -1, known_u[1], -1, known_u[2]])
    items = np.array([known_i[0], known_i[1], -1, -1, known_i[2]])
    before = explicit.n_fallback_ or 0
    pred = explicit.predict(users, items)
    assert explicit.n_fallback_ - before == 3
    assert np.allclose(pred[[1, 2, 3]], train.global_mean)
    # A known pair is Spark's own prediction: mu + x_u . y_i, not the mean.
    u, i = known_u[0], known_i[0]
    dot = float(explicit.user_factors_[u] @ explicit.item_factors_[i])
    assert pred[0] == pytest.approx(np.clip(train.global_mean + dot, *train.rating_scale),
                                    abs=1e-5)


def test_top_n_scores_agree_with_spark_predictions(explicit, fold):
    users = np.flatnonzero(fold.train.user_counts > 0)[:4]
    scores = explicit.score_items(users)
    assert scores.shape == (4, fold.train.n_items)
    known = np.flatnonzero(explicit.item_known_)[:20]
    pairs_u, pairs_i = np.repeat(users, len(known)), np.tile(known, len(users))
    raw = explicit._score(pairs_u, pairs_i)  # unclipped Spark transform + mu
    assert np.allclose(scores[:, known].ravel(), raw, atol=1e-4)
    items, _ = explicit.recommend(users, k=5)
    seen = explicit.seen_
    for row, u in zip(items, users):
        assert not set(row.tolist()) & set(seen[u].indices.tolist())


def test_implicit_adapter_ranks(spark, fold):
    from recsys.bench.adapters import make_adapter

    model = make_adapter("spark", "ALS", {"rank": 6, "maxIter": 5, "implicitPrefs": True,
                                          "alpha": 1.0, "master": MASTER, **BLOCKS})
    assert not model.predicts_ratings
    assert model.effective_params()["binarize"] is True
    model.fit(fold.train)
    users = np.flatnonzero(fold.train.user_counts > 0)[:30]
    scores = model.score_items(users)
    # Preferences are 1 on every rated item: rated items score higher than the rest.
    rated = fold.train.csr[users].toarray() > 0
    assert scores[rated].mean() > scores[~rated].mean() + 0.2
    assert model.n_fallback_ is None  # no rating was predicted


def test_refuses_dropping_cold_start_rows():
    from recsys.engines.spark_als import SparkEngineError, als_estimator

    with pytest.raises(SparkEngineError, match="coldStartStrategy='drop'"):
        als_estimator({"coldStartStrategy": "drop"})


def test_a_second_master_in_one_process_is_an_error(spark):
    from recsys.engines.spark_als import SparkEngineError, spark_session

    with pytest.raises(SparkEngineError, match=r"already running.*local\[3\]"):
        spark_session("local[3]")
    again, seconds = spark_session(MASTER)
    assert again is not None and seconds == 0.0


# ---------------------------------------------------------------------- export to a model file
def test_spark_factors_as_a_recsys_model_file_round_trip(explicit, fold, tmp_path):
    from recsys.engines.spark_als import to_recsys_als

    train = fold.train
    model = to_recsys_als(train.users, train.items, train.ratings, train.user_ids,
                          train.item_ids, explicit.user_factors_, explicit.item_factors_,
                          explicit.offset_, {"rank": 6, "maxIter": 10, "regParam": 0.1,
                                             "seed": 0}, train.rating_scale)
    path = model.save(tmp_path / "spark-als.npz")
    loaded = Recommender.load(path)
    assert type(loaded) is ALS and loaded.biases is False and loaded.n_factors == 6
    users = np.flatnonzero(train.user_counts > 0)[:10]
    items = np.flatnonzero(train.item_counts > 0)[:10]
    assert np.allclose(loaded.predict(users, items), explicit.predict(users, items),
                       atol=1e-5)
    assert np.array_equal(loaded.seen_.toarray(), train.csr.toarray())
    got, _ = loaded.recommend(users[0], k=3)
    want, _ = explicit.recommend(users[0], k=3)
    assert np.array_equal(got, want)


# ---------------------------------------------------------------------- recsys train
def test_recsys_train_on_parquet_round_trip(spark, tmp_path, capsys):
    from recsys.cli import main
    from recsys.data.export import export_parquet

    ds = generate(200, 80, 4000, rank=3, noise=0.3, seed=5, name="tiny")
    # Sparse raw ids (the server needs integers): the id maps must survive Spark's sort
    # and the model file.
    ds = Dataset(ds.users, ds.items, ds.ratings, ds.timestamps, ds.user_ids * 7 + 1000,
                 ds.item_ids * 10, ds.rating_scale, name="tiny")
    folder = export_parquet(ds, tmp_path / "export", rows_per_file=1500)
    out = tmp_path / "model.npz"
    status = main(["train", "--engine", "spark", "--master", MASTER, "--ratings",
                   str(folder), "--out", str(out), "--rank", "4", "--iterations", "10",
                   "--reg", "0.1", "--spark-param", "numUserBlocks=2",
                   "--spark-param", "numItemBlocks=2"])
    assert status == 0
    assert "4,000 ratings" in capsys.readouterr().out
    model = Recommender.load(out)
    assert isinstance(model, ALS) and model.biases is False
    known = ds.user_counts > 0
    assert list(model.user_ids_) == list(ds.user_ids[known])
    assert list(model.item_ids_) == list(ds.item_ids[ds.item_counts > 0])
    assert model.rating_scale_ == ds.rating_scale  # from the export's dataset.json
    assert model.global_mean_ == pytest.approx(ds.global_mean, abs=1e-6)
    assert model.seen_.nnz == ds.n_ratings
    # Raw-id predictions equal recsys ALS at the same hyperparameters within the tolerance.
    ours = ALS(n_factors=4, n_iterations=10, reg=0.1, biases=False, seed=0).fit(ds)
    raw_u, raw_i = ds.user_ids[ds.users], ds.item_ids[ds.items]
    spark_fit = _rmse(model.predict(raw_u, raw_i, raw=True), ds.ratings)
    ours_fit = _rmse(ours.predict(ds.users, ds.items), ds.ratings)
    assert abs(spark_fit - ours_fit) < PARITY_TOLERANCE, (spark_fit, ours_fit)
    items, _ = model.recommend(ds.user_ids[0], k=5, raw=True)
    assert not set(items.tolist()) & set(ds.item_ids[ds.items[ds.users == 0]].tolist())
    # recsys serve reads it like any other model file.
    from fastapi.testclient import TestClient

    from recsys.serve.app import create_app

    client = TestClient(create_app(out))
    body = client.get(f"/users/{ds.user_ids[0]}/recommendations", params={"k": 5}).json()
    assert [r["item_id"] for r in body["items"]] == items.tolist()
    first = int(ds.item_ids[0])
    resp = client.post("/recommendations", json={"ratings": [{"item_id": first, "rating": 5}],
                                                 "k": 3})
    assert resp.status_code == 200, resp.text
    assert first not in [r["item_id"] for r in resp.json()["items"]]


def test_train_errors_name_the_file_and_the_problem(spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recsys.engines.spark_als import train_from_parquet

    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"userId": [1, 2], "item": [1, 1], "rating": [4.0, 3.0]}), bad)
    with pytest.raises(DataFormatError, match=r"bad\.parquet.*no user column 'user'.*userId"):
        train_from_parquet(bad, MASTER)
    dup = tmp_path / "dup.parquet"
    pq.write_table(pa.table({"user": [1, 1, 2], "item": [7, 7, 7],
                             "rating": [4.0, 3.0, 1.0]}), dup)
    with pytest.raises(DataFormatError, match=r"dup\.parquet.*user 1 rated item 7 2 times"):
        train_from_parquet(dup, MASTER)
    nan = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"user": [1, 2], "item": [7, 7],
                             "rating": [4.0, float("nan")]}), nan)
    with pytest.raises(DataFormatError, match=r"nan\.parquet.*'rating'.*1 rating"):
        train_from_parquet(nan, MASTER)


# ---------------------------------------------------------------------- the bench
def test_bench_row_has_startup_and_fallback_count(spark, tmp_path):
    from recsys.bench import run_and_write

    config = tmp_path / "spark.toml"
    config.write_text(f"""
[bench]
name = "spark-test"
metrics = ["rmse"]
warmup = false

[[datasets]]
name = "tiny"
synthetic = {{ n_users = 150, n_items = 60, n_ratings = 2500, seed = 2 }}

[split]
method = "holdout"
test_fraction = 0.3
seed = 0

[[models]]
name = "ALS"
library = "spark"
params = {{ rank = 4, maxIter = 5, master = "{MASTER}", numUserBlocks = 2, numItemBlocks = 2 }}
""")
    result, markdown, paths = run_and_write(config, tmp_path / "out", progress=False,
                                            plots=False)
    (row,) = result.rows
    assert row["status"] == "ok", row["error"]
    assert row["startup_seconds"] == 0.0  # the module's session was already running
    assert row["n_fallback"] >= 0 and row["rmse"] < 1.2
    assert row["params"]["master"] == MASTER
    assert "fell back to the training mean" in markdown
    saved = json.loads(paths["json"].read_text())
    assert saved["rows"][0]["n_fallback"] == row["n_fallback"]


def test_spark_master_option_sets_and_restores_the_environment():
    from recsys.cli.bench import _spark_master
    from recsys.engines.spark_als import MASTER_ENV, resolve_master

    before = os.environ.get(MASTER_ENV)
    with _spark_master("spark://example:7077"):
        assert resolve_master() == "spark://example:7077"
        from recsys.bench.adapters import make_adapter

        adapter = make_adapter("spark", "ALS", {"master": "local[1]"})
        assert adapter.effective_params()["master"] == "spark://example:7077"
    assert os.environ.get(MASTER_ENV) == before


def test_shipped_parity_config_resolves():
    from recsys.bench import CONFIG_DIR, load_config
    from recsys.bench.models import resolve_models

    config = load_config(CONFIG_DIR / "spark-als.toml")
    runnable, skipped = resolve_models(config)
    assert not skipped
    by_label = {m.spec.label: m for m in runnable}
    ours, spark = by_label["ALS (no biases)"], by_label["Spark ALS"]
    # The same rank, penalty and iterations on both sides of the parity claim.
    assert (ours.params["n_factors"], ours.params["reg"], ours.params["n_iterations"]) == \
        (spark.params["rank"], spark.params["regParam"], spark.params["maxIter"])
    assert ours.params["biases"] is False and spark.params["center"] is True
    assert config.reference == "Spark ALS"


def test_an_option_of_the_other_mode_is_refused():
    from recsys.bench.adapters import make_adapter
    from recsys.engines.spark_als import SparkEngineError

    with pytest.raises(SparkEngineError, match=r"'center' applies to explicit ratings"):
        make_adapter("spark", "ALS", {"implicitPrefs": True, "center": False}
                     ).effective_params()
    with pytest.raises(SparkEngineError, match=r"'binarize' applies to implicitPrefs"):
        make_adapter("spark", "ALS", {"binarize": False}).effective_params()


def test_no_java_is_one_clear_error(tmp_path):
    import subprocess
    import sys

    script = ("from recsys.engines.spark_als import spark_session, SparkEngineError\n"
              "try:\n    spark_session('local[1]')\n"
              "except SparkEngineError as exc:\n    print('ERROR', exc)\n")
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120)
    assert "ERROR cannot start Spark on 'local[1]'" in out.stdout, out.stderr[-2000:]
    assert "Java 17+" in out.stdout


def test_train_options_are_checked_before_spark_starts(tmp_path, capsys):
    from recsys.cli import main

    for argv, message in (
            (["--ratings", str(tmp_path / "none"), "--out", "m.npz"], "no such file or folder"),
            (["--ratings", str(tmp_path), "--out", "m.txt"], "ends in .npz"),
            (["--ratings", str(tmp_path), "--out", "m.npz", "--rank", "0"], "--rank must be"),
            (["--ratings", str(tmp_path), "--out", "m.npz", "--reg", "0"], "--reg must be"),
            (["--ratings", str(tmp_path), "--out", "m.npz", "--rating-scale", "5,1"],
             "LO must be below HI")):
        assert main(["train", *argv]) == 1
        assert message in capsys.readouterr().err
