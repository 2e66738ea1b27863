"""The benchmark grid and the hyperparameter search on a 2-worker Dask LocalCluster (issue 13).

One cluster serves the module (starting one costs seconds); its scheduler gives a task up
after one worker death too many (``allowed-failures = 1``) so that a cell that kills every
worker is reported quickly. The data are tiny synthetic sets: what is tested is that the
cluster changes nothing but the timings, and that failures stay in their rows.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import dask  # the test extra has it: a missing one fails loudly, never skips
import distributed  # noqa: F401 (loads its config defaults before dask.config.set below)

from dask_toys import TOYS, numba_pool, numba_threads
from recsys.bench import parse_config, run_benchmark, write_results
from recsys.bench.cell import TIME_KEYS
from recsys.bench.distributed import DaskCells
from recsys.distributed import ClusterError, DaskCluster, DaskSearch
from recsys.models.registry import register, unregister

#: Real models, deterministic (seeded), rating and top-N metrics: the equality check.
REAL = """
[bench]
name = "dask-tiny"
description = "tiny synthetic grid, serial vs Dask"
metrics = ["rmse", "mae", "precision@10", "recall@10", "ndcg@10", "coverage", "novelty"]
reference = "Baseline"
paired = ["rmse", "ndcg@10"]

[[datasets]]
name = "syn-a"
synthetic = { n_users = 90, n_items = 60, n_ratings = 2000, seed = 3 }

[[datasets]]
name = "syn-b"
synthetic = { n_users = 70, n_items = 50, n_ratings = 1500, seed = 4 }

[split]
method = "kfold"
n_folds = 2
seed = 0

[[models]]
name = "Baseline"
params = { method = "als" }

[[models]]
name = "FunkSVD"
params = { n_factors = 6, n_epochs = 4, seed = 0 }

[[models]]
name = "ALS"
params = { n_factors = 6, n_iterations = 3, seed = 0 }

[[models]]
name = "ItemKNN"
params = { k = 10, similarity = "cosine", centering = "none", aggregate = "sum" }
metrics = ["precision@10", "recall@10", "ndcg@10", "coverage", "novelty"]

[[models]]
name = "Popularity"
"""


def _toy_config(models: str, n_folds: int = 3) -> str:
    return textwrap.dedent(f"""
        [bench]
        name = "dask-toys"
        metrics = ["rmse", "mae"]
        warmup = false
        [[datasets]]
        name = "toy"
        synthetic = {{ n_users = 40, n_items = 30, n_ratings = 600, seed = 1 }}
        [split]
        method = "kfold"
        n_folds = {n_folds}
        seed = 0
    """) + textwrap.dedent(models)


@pytest.fixture(scope="module")
def cluster():
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        c = DaskCluster(n_workers=2, timeout=120).start()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def toys():
    for cls in TOYS:
        register(cls)
    yield
    for cls in TOYS:
        unregister(cls.__name__)


def _workers(cluster, n: int = 1):
    """Wait for ``n`` workers: a test that killed some leaves their nannies restarting
    them, and what the later tests check holds on one worker as on two."""
    cluster.client.wait_for_workers(n, timeout=120)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_cli_on_the_cluster_gives_the_serial_rows(cluster, tmp_path, capsys):
    """`recsys bench --scheduler ADDRESS` on the 2-worker LocalCluster: every row equal to
    the serial run's but the timings, the comparisons (per-user values) too, the cluster in
    the header."""
    from recsys.cli import main

    _workers(cluster, 2)
    cfg = tmp_path / "real.toml"
    cfg.write_text(REAL)
    serial = run_benchmark(parse_config(REAL, source=str(cfg)), progress=False,
                           log=lambda line: None)
    want_doc = json.loads(Path(write_results(serial, tmp_path / "serial", "")["json"])
                          .read_text())
    status = main(["bench", "--config", str(cfg), "--out", str(tmp_path / "out"),
                   "--no-plots", "--scheduler", cluster.client.scheduler.address])
    err = capsys.readouterr().err
    assert status == 0, err
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    rows = doc["rows"]
    assert len(rows) == len(want_doc["rows"]) == 2 * 2 * 5
    for got, want in zip(rows, want_doc["rows"]):
        assert got["status"] == "ok", got["error"]
        assert got.keys() == want.keys()
        for key in got:
            if key not in TIME_KEYS:
                assert _same(got[key], want[key]), (got["model"], got["fold"], key)
        assert got["fit_seconds"] is not None and got["warmup_seconds"] is not None
    assert _same(doc["comparisons"], want_doc["comparisons"])
    assert doc["comparisons"], "the config's paired tests produced nothing to compare"
    assert serial.header["cluster"] is None
    info = doc["header"]["cluster"]
    assert info["engine"] == "dask" and info["kind"] == "existing"
    assert info["address"] == cluster.client.scheduler.address
    assert info["n_workers"] == 2 and info["threads_per_worker"] == 1
    cores = info["hosts"][0]["cores"]
    assert info["task_threads"] * 2 <= max(cores, 2)
    assert "2 worker(s) x 1 task slot(s)" in err
    assert "no Dask dashboard" in err  # bokeh is not in the test extra
    # progress lines count the cells across the cluster
    assert f"[{len(rows)}/{len(rows)}]" in err


def test_folds_are_sent_once_per_data_set(cluster, monkeypatch):
    _workers(cluster)
    config = parse_config(REAL, source="real.toml")
    sent = []
    share = cluster.share
    monkeypatch.setattr(cluster, "share",
                        lambda objs, name: sent.append(len(objs)) or share(objs, name))
    res = run_benchmark(config, progress=False, log=lambda line: None,
                        executor=DaskCells(cluster))
    assert sent == [2, 2]  # once per data set, both folds at once, for its 10 cells
    assert [r["status"] for r in res.rows] == ["ok"] * 20


def test_a_worker_killed_mid_run_still_gives_every_row(cluster, toys, tmp_path):
    """One worker is killed while its cell sleeps in fit; Dask runs the cell again on
    another worker and results.json is complete."""
    _workers(cluster)
    log_path = tmp_path / "fits.log"
    config = parse_config(_toy_config(f"""
        [[models]]
        name = "DaskToyBias"
        label = "toy A"
        params = {{ delay = 1.0, log_path = "{log_path}" }}
        [[models]]
        name = "DaskToyBias"
        label = "toy B"
        params = {{ reg = 20.0, delay = 1.0, log_path = "{log_path}" }}
    """), source="toys.toml")
    killed = []

    def kill_a_worker_in_a_fit():
        """Once some fit has ended (the run is under way), SIGKILL the process that started
        a fit last and has not ended it (the most time left in its 1 s sleep)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            fits = _fits(log_path)
            open_fits = [pid for pid, what, _ in fits if what == "start"
                         and _count(fits, pid, "start") > _count(fits, pid, "end")]
            if open_fits and any(w == "end" for _, w, _ in fits):
                killed.append(int(open_fits[-1]))
                os.kill(killed[0], signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker_in_a_fit, daemon=True)
    killer.start()
    lines = []
    res = run_benchmark(config, progress=True, log=lines.append, executor=DaskCells(cluster))
    killer.join(timeout=5)
    paths = write_results(res, tmp_path / "out", "")
    doc = json.loads(Path(paths["json"]).read_text())
    assert killed, "the test never killed a worker"
    cells = {(r["fold"], r["model"]) for r in doc["rows"]}
    assert len(doc["rows"]) == 6 and len(cells) == 6
    assert all(r["status"] == "ok" and r["rmse"] is not None for r in doc["rows"])
    fits = _fits(log_path)
    by_killed = [what for pid, what, _ in fits if pid == str(killed[0])]
    assert by_killed.count("start") == by_killed.count("end") + 1  # died in a fit
    assert sum(w == "end" for _, w, _ in fits) >= 6
    assert sum(w == "start" for _, w, _ in fits) >= 7  # the lost fit ran again


def _fits(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [ln.split() for ln in path.read_text().splitlines() if len(ln.split()) == 3]


def _count(fits, pid, what) -> int:
    return sum(1 for p, w, _ in fits if p == pid and w == what)


def test_failing_cells_carry_their_error_and_the_run_goes_on(cluster, toys):
    _workers(cluster)
    config = parse_config(_toy_config("""
        [[models]]
        name = "DaskToyBias"
        [[models]]
        name = "DaskToyRaises"
        [[models]]
        name = "DaskToyExits"
        folds = ["fold1"]
    """, n_folds=2), source="toys.toml")
    lines = []
    res = run_benchmark(config, progress=False, log=lines.append,
                        executor=DaskCells(cluster))
    by = {(r["model"], r["fold"]): r for r in res.rows}

    assert [(r["model"], r["fold"]) for r in res.rows] == [
        ("DaskToyBias", "fold1"), ("DaskToyRaises", "fold1"), ("DaskToyExits", "fold1"),
        ("DaskToyBias", "fold2"), ("DaskToyRaises", "fold2")]
    for fold in ("fold1", "fold2"):
        assert by[("DaskToyBias", fold)]["status"] == "ok", by[("DaskToyBias", fold)]["error"]
    for fold in ("fold1", "fold2"):
        row = by[("DaskToyRaises", fold)]
        assert row["status"] == "error"
        assert row["error"] == "ValueError: toy failure on purpose"
    dead = by[("DaskToyExits", "fold1")]
    assert dead["status"] == "error" and dead["error"].startswith("KilledWorker: ")
    assert "died on each of 2 tries" in dead["error"]
    assert dead.keys() == by[("DaskToyRaises", "fold1")].keys()
    assert len(res.problems()) == 3
    assert any("DaskToyExits failed on toy fold1: KilledWorker" in ln for ln in lines)


def test_tuning_on_the_cluster_equals_the_serial_search(cluster):
    from recsys.data.synthetic import generate
    from recsys.tuning import grid_search, random_search

    _workers(cluster)
    train = generate(n_users=60, n_items=40, n_ratings=1200, seed=5)
    grid = {"reg_item": [0.5, 5.0, 50.0], "method": ["als", "sgd"]}
    serial = grid_search("Baseline", train, grid, n_folds=3, seed=1)
    spread = grid_search("Baseline", train, grid, n_folds=3, seed=1,
                         executor=DaskSearch(cluster))
    assert spread.best_params == serial.best_params
    assert spread.best_score == serial.best_score
    for a, b in zip(spread.scores, serial.scores):
        assert a["params"] == b["params"] and a["folds"] == b["folds"]
        assert a["mean"] == b["mean"] and a["error"] is None
    space = {"reg_user": [0.1, 1.0, 10.0]}
    r1 = random_search("Baseline", train, space, n_iter=3, n_folds=2, seed=2,
                       executor=DaskSearch(cluster))
    r0 = random_search("Baseline", train, space, n_iter=3, n_folds=2, seed=2)
    assert [s["mean"] for s in r1.scores] == [s["mean"] for s in r0.scores]


def test_a_failing_candidate_is_reported_as_serially(cluster):
    from recsys.data.synthetic import generate
    from recsys.tuning import grid_search

    _workers(cluster)
    train = generate(n_users=50, n_items=30, n_ratings=800, seed=6)
    grid = {"n_factors": [4], "learning_rate": [0.01, float("inf")]}
    base = {"n_epochs": 2, "seed": 0}
    serial = grid_search("FunkSVD", train, grid, n_folds=2, seed=0, base_params=base)
    spread = grid_search("FunkSVD", train, grid, n_folds=2, seed=0, base_params=base,
                         executor=DaskSearch(cluster))
    assert serial.scores[0]["error"] is None and serial.scores[1]["error"]
    assert [s["error"] for s in spread.scores] == [s["error"] for s in serial.scores]
    assert spread.scores[0]["mean"] == serial.scores[0]["mean"]
    assert spread.best_params == serial.best_params


def test_cluster_errors_name_the_problem(capsys):
    from recsys.cli import main

    with pytest.raises(ClusterError, match="not both"):
        DaskCluster(n_workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ClusterError, match="integer >= 1, got 0"):
        DaskCluster(n_workers=0)
    with pytest.raises(ClusterError, match="threads per task must be an integer >= 1"):
        DaskCluster(n_workers=1, task_threads=0)
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler at "
                                           r"'tcp://127.0.0.1:9' within 1 s"):
        DaskCluster(scheduler="tcp://127.0.0.1:9", timeout=1).start()
    assert time.perf_counter() - t0 < 30
    assert main(["bench", "--config", "quick", "--task-threads", "2"]) == 1
    assert "--task-threads is for a Dask run" in capsys.readouterr().err


def test_core_and_cli_import_without_loading_dask():
    code = ("import sys, recsys.distributed, recsys.bench.distributed, recsys.cli, "
            "recsys.cli.bench, recsys.cli.cluster_options, recsys.tuning; "
            "sys.exit(int(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_cli_tune_on_the_cluster_writes_the_serial_record(cluster, tmp_path, capsys):
    from recsys.cli import main

    _workers(cluster)
    args = ["tune", "--model", "Baseline", "--grid", "reg_item=2,20", "--param",
            "method=als", "--folds", "2", "--no-progress", "--name", "b"]
    assert main(args + ["--out", str(tmp_path / "serial")]) == 0
    assert main(args + ["--out", str(tmp_path / "dask"), "--scheduler",
                        cluster.client.scheduler.address]) == 0
    capsys.readouterr()
    serial, spread = (json.loads((tmp_path / d / "b.json").read_text())
                      for d in ("serial", "dask"))
    assert spread["params"] == serial["params"]
    assert [t["folds"] for t in spread["trials"]] == [t["folds"] for t in serial["trials"]]
    assert spread["best_value"] == serial["best_value"]
    assert spread["info"]["cluster"]["n_workers"] >= 1
    assert spread["info"]["cluster"]["address"] == cluster.client.scheduler.address
    assert "cluster" not in serial["info"]
    assert main(args + ["--search", "optuna", "--trials", "2", "--dask-workers", "2"]) == 1
    assert "grid and random searches" in capsys.readouterr().err


def test_more_task_threads_than_cores_is_allowed_and_reported(cluster):
    _workers(cluster)
    cores = len(os.sched_getaffinity(0))
    notes = []
    with DaskCluster(scheduler=cluster.client.scheduler.address, task_threads=cores + 1,
                     log=notes.append) as other:
        info = other.describe()
        assert info["task_threads"] == cores + 1 and info["kind"] == "existing"
        value, _ = other.submit("threads", numba_threads).result()
    assert any("exceed its" in n and "compete" in n for n in notes), notes
    pools = set(cluster.client.run(numba_pool).values())  # NUMBA_NUM_THREADS of a worker
    assert value == min(cores + 1, *pools)  # the request, capped by the worker's pool
    with DaskCluster(scheduler=cluster.client.scheduler.address) as fair:
        fair_info = fair.describe()
        value, _ = fair.submit("threads", numba_threads).result()
    slots = fair_info["hosts"][0]["threads"]
    assert fair_info["task_threads"] * slots <= max(slots, cores)
    assert value == fair_info["task_threads"]
    assert cluster.client.status == "running"  # closing a client of it left the cluster up


def test_a_scheduler_without_workers_is_an_error():
    from distributed import LocalCluster

    empty = LocalCluster(n_workers=0, processes=False, dashboard_address=None)
    try:
        with pytest.raises(ClusterError, match=r"has no worker after 1 s; start some with: "
                                               r"dask worker \S+://"):
            DaskCluster(scheduler=empty.scheduler_address, timeout=1).start()
    finally:
        empty.close()
