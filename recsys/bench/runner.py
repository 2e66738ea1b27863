"""Run a benchmark grid: data sets x splits x models x metrics, in one process.

For each data set the splits are made once and the same :class:`~recsys.split.Fold` objects
go to every model, so every model sees exactly the same train and test ratings. Each model is
fitted on a fold's train part and scored by OUR evaluation code
(:func:`recsys.evaluation.evaluate_ratings`, :func:`recsys.evaluation.evaluate_topn`),
whichever library it comes from.

What is measured, per (data set, split, fold, model):

- ``fit_seconds``: wall time of ``model.fit(train)``. A peer adapter converts our Dataset
  into its library's structure first (``prepare``), timed and measured on its own
  (``convert_seconds``, ``convert_peak_mb``); our models have no such step and pay for
  everything they build from the Dataset except the fold's CSR matrix, which is built once
  for every model of the fold before any of them (the fit block of :mod:`recsys.bench.cell`).
- ``predict_seconds``: wall time inside ``model.predict`` on the test pairs (rating protocol).
- ``topn_seconds``: wall time inside ``model.score_items`` during the top-N evaluation (the
  top-k selection and the metrics, which are ours and the same for every model, are not in it).
- ``warmup_seconds``: our models are first fitted once on a small slice of the first training
  set (and predict and score once), so the Numba JIT compile (or the load of its cache) is
  kept out of ``fit_seconds`` and ``predict_seconds``.
- ``fit_peak_mb``: peak resident memory during ``fit`` above the resident memory just before
  it (after a garbage collection and glibc's ``malloc_trim``, so memory freed by earlier
  models is not in the baseline), in MiB. Measured by resetting the kernel's high-water mark
  (``/proc/self/clear_refs``) before the fit and reading ``VmHWM`` after it: exact, free,
  and it sees all memory (Numba threads, BLAS, C extensions). tracemalloc misses memory not
  allocated through Python and slows Python loops several-fold; a sampling thread cannot
  run while a Numba kernel holds the GIL. Where ``clear_refs`` is unavailable the fallback is
  the growth of ``ru_maxrss``, which only shows a fit that sets a new process-wide peak (a
  lower bound; ``header.memory_method`` says which was used).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from recsys.bench.config import BenchConfig, ModelSpec
from recsys.bench.data import (candidates, fold_digest, load_with_metadata, locate_datasets,
                               make_folds)
from recsys.bench.environment import collect_environment
from recsys.bench.cell import run_cell
from recsys.bench.memory import memory_method
from recsys.bench.models import resolve_models
from recsys.io import atomic_write_json, atomic_write_text

SCHEMA_VERSION = 1

#: Row keys, in the order results.json writes them (metrics appear when computed).
@dataclass
class BenchResult:
    """What :func:`run_benchmark` produced; ``to_json()`` is the results.json document."""

    header: dict[str, Any]
    rows: list[dict[str, Any]]
    curves: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    #: (dataset, split, fold, model, metric) -> (user indices, per-user values); in memory only.
    per_user: dict[tuple, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"header": self.header, "rows": self.rows, "curves": self.curves,
                "comparisons": self.comparisons}

    def problems(self) -> list[str]:
        """One line per thing that went wrong: a cell that raised, a data set that could not
        be loaded, a split that failed (a reference library that is not installed is a skip,
        not a problem, and so is a model a split's protocol does not apply to: status
        ``"unsupported"``, e.g. no new-user fold-in on a user cold start). ``recsys bench``
        exits non-zero when there is any."""
        out = [f"{r['model']} on {r['dataset']} {r['fold']}: {r['error']}"
               for r in self.rows if r["status"] not in ("ok", "unsupported")]
        out += [s["reason"] for s in self.header.get("skipped", []) if "dataset" in s]
        return out


# ---------------------------------------------------------------------- memory
# ---------------------------------------------------------------------- the run
def run_benchmark(config: BenchConfig, data_dir=None, progress: bool = True,
                  log: Callable[[str], None] | None = None,
                  command: str | None = None, executor=None) -> BenchResult:
    """Run every (data set, split, fold, model) of ``config`` and return the results.

    Before anything is fitted, the models are checked (:func:`resolve_models`: a wrong name
    or hyperparameter raises ConfigError) and every named data set is located (a missing
    one raises DataNotFoundError). Problems that affect one piece later (a data set that
    cannot be parsed, a split that fails, a model that raises) are reported in one line
    through ``log`` and the rest runs; a model that raises gets a row with
    ``status = "error"``, and :meth:`BenchResult.problems` lists them all. A reference
    library that cannot be imported is skipped and reported.

    ``progress``: a tqdm bar when stderr is a terminal, else one line per finished cell
    through ``log`` (the dataset, split, fold, model, status and seconds); nothing if False.

    ``executor``: None runs the cells here, one after the other. A
    :class:`recsys.bench.distributed.DaskCells` runs them as tasks on a Dask cluster: each
    data set and split's folds are sent to the cluster once, the next data set loads while
    they run, progress counts the cells finished anywhere, and the rows come out in the
    serial order; the header's ``cluster`` records the cluster (None for a serial run).
    """
    from tqdm.auto import tqdm

    emit = log or (lambda line: tqdm.write(line, file=sys.stderr))
    t_start = time.perf_counter()
    models, skipped = resolve_models(config)
    locate_datasets(config, data_dir)
    mem_method = memory_method()
    header = {
        "schema_version": SCHEMA_VERSION,
        "config": config.name,
        "config_file": config.source,
        "description": config.description,
        "command": command,
        **collect_environment(),
        "k": config.k,
        "relevance_threshold": config.relevance_threshold,
        "reference": config.reference,
        "memory_method": mem_method,
        "cluster": None if executor is None else executor.describe(),
        "folds": [],
        "metadata": [],
        "skipped": [],
        "total_seconds": None,
    }
    result = BenchResult(header=header, rows=[])
    for s in skipped:
        emit(f"skipped {s['model']}: {s['reason']}")
    header["skipped"].extend(skipped)

    cells = CellProgress(config.name, progress, emit)
    slots: list = []  # a cluster's cells, in the serial order

    def finished(index, cell, seconds):
        for line in cell.messages:
            emit(line)
        slots[index] = cell
        cells.finish(cell.row, seconds)

    try:
        for dspec in config.datasets:
            try:
                ds, joined = load_with_metadata(dspec, data_dir)
            except Exception as exc:
                line = f"data set {dspec.name} cannot be loaded: {type(exc).__name__}: {exc}"
                emit(line)
                header["skipped"].append({"dataset": dspec.name, "reason": line})
                continue
            if joined is not None:
                header["metadata"].append(joined)
            for sspec in config.splits:
                if sspec.datasets is not None and dspec.name not in sspec.datasets:
                    continue
                try:
                    folds = make_folds(ds, sspec, data_dir, dspec)
                except Exception as exc:
                    line = (f"split {sspec.name} of {dspec.name} failed: "
                            f"{type(exc).__name__}: {exc}")
                    emit(line)
                    header["skipped"].append({"dataset": dspec.name, "split": sspec.name,
                                              "reason": line})
                    continue
                header["folds"].append({
                    "dataset": dspec.name, "split": sspec.name, "spec": sspec.spec,
                    "candidates": sspec.candidates, "among": sspec.among,
                    "shuffle_items": dspec.shuffle_items,
                    "n_users": ds.n_users, "n_items": ds.n_items, "n_ratings": ds.n_ratings,
                    "folds": [{"name": f.name, "n_train": f.train.n_ratings,
                               "n_test": f.test.n_ratings, "digest": fold_digest(f),
                               **(getattr(f, "info", None) or {})}
                              for f in folds],
                })
                todo = [(fi, fold, m) for fi, fold in enumerate(folds) for m in models
                        if _applies(m.spec, dspec.name, fold.name)]
                cells.add(len(todo))
                if executor is not None:
                    executor.submit(config, dspec.name, sspec, folds, todo, mem_method,
                                    first_index=len(slots))
                    slots.extend([None] * len(todo))
                    for done in executor.finished(block=False):
                        finished(*done)
                    todo = []
                for fi, fold, m in todo:
                    cells.start(f"{dspec.name} {fold.name} {m.spec.label}")
                    t0 = time.perf_counter()
                    cell = run_cell(config, m, dspec.name, sspec.name, fi, fold, mem_method,
                                    candidates(sspec, fold))
                    for line in cell.messages:
                        emit(line)
                    result.rows.append(cell.row)
                    result.per_user.update(cell.per_user)
                    result.curves.extend(cell.curves)
                    cells.finish(cell.row, time.perf_counter() - t0)
                del folds
            del ds
            gc.collect()
        if executor is not None:
            for done in executor.finished(block=True):
                finished(*done)
            for cell in slots:
                result.rows.append(cell.row)
                result.per_user.update(cell.per_user)
                result.curves.extend(cell.curves)
    finally:
        cells.close()

    from recsys.bench.report import paired_comparisons

    result.comparisons = paired_comparisons(result, config)
    header["total_seconds"] = round(time.perf_counter() - t_start, 3)
    return result


class CellProgress:
    """Progress over the cells (data set, split, fold, model) of a run.

    On a terminal a tqdm bar; otherwise (a CI log, a file) one line per finished cell
    through ``emit``, since a bar is invisible there and the run would look hung; nothing
    at all when ``enabled`` is False.
    """

    def __init__(self, name: str, enabled: bool, emit: Callable[[str], None]):
        from tqdm.auto import tqdm

        tty = enabled and _isatty(sys.stderr)
        self.lines = enabled and not tty
        self.emit = emit
        self.done = 0
        self.bar = tqdm(total=0, desc=name, unit="fit", disable=not tty, file=sys.stderr,
                        dynamic_ncols=True)

    def add(self, n: int) -> None:
        self.bar.total += n
        self.bar.refresh()

    def start(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def finish(self, row: dict[str, Any], seconds: float | None) -> None:
        self.done += 1
        self.bar.update(1)
        if self.lines:
            took = "" if seconds is None else f" in {seconds:.1f} s"
            self.emit(f"[{self.done}/{self.bar.total}] {row['dataset']} {row['split']} "
                      f"{row['fold']} {row['model']}: {row['status']}{took}")

    def close(self) -> None:
        self.bar.close()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a file
        return False


def _applies(spec: ModelSpec, dataset: str, fold: str) -> bool:
    if spec.datasets is not None and dataset not in spec.datasets:
        return False
    return spec.folds is None or fold in spec.folds


# ---------------------------------------------------------------------- writing
def write_results(result: BenchResult, out_dir: str | os.PathLike, markdown: str) -> dict:
    """Write ``per_user.npz`` (every cell's per-user values, :mod:`recsys.bench.per_user`),
    ``results.json`` (strict JSON: NaN as null; ``header.per_user_file`` names the npz) and
    ``results.md`` into ``out_dir``, each atomically, the npz first so results.json never
    points to a file that is not there; return their paths."""
    from recsys.bench.per_user import PER_USER_FILE, write_per_user

    out = Path(out_dir)
    paths = {"json": out / "results.json", "markdown": out / "results.md",
             "per_user": out / PER_USER_FILE}
    write_per_user(paths["per_user"], result.per_user)
    result.header["per_user_file"] = PER_USER_FILE
    atomic_write_json(paths["json"], result.to_json(), indent=1)
    atomic_write_text(paths["markdown"], markdown)
    return paths
