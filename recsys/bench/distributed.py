"""The benchmark grid on a Dask cluster: every (data set, split, fold, model) cell is a task.

:func:`recsys.bench.runner.run_benchmark` hands each data set and split's folds to
:meth:`DaskCells.submit`, which sends the folds to the cluster once and submits one task
per cell running :func:`recsys.bench.cell.run_cell` there (with the task's Numba and BLAS
threads capped, :class:`recsys.distributed.DaskCluster`). The runner keeps loading the next
data set while the cells run, counts cells as they finish anywhere on the cluster
(:meth:`DaskCells.finished`), and writes the rows in the serial run's order, so that
results.json differs from a serial run's only in timings and the header's ``cluster``.

What a cell returns does not depend on where it ran: the same folds, the same seeds, the
same scoring code. Two things are per worker process rather than per run:

- the JIT warm-up: the first cell of each model on each worker warms it up (compiling its
  Numba kernels or loading their cache there), so compile time stays out of the fit times
  on every worker; ``warmup_seconds`` is that worker's warm-up;
- ``fit_peak_mb``: measured in the worker process (exact when each worker runs one task at
  a time, as a LocalCluster's do).

A cell that raises gets its error row from ``run_cell`` itself; a cell whose worker died
is moved to another worker by Dask, and one that kills every worker it is given
(``KilledWorker``) gets an error row here. Either way the run goes on.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterator

from recsys.bench.cell import ROW_KEYS, TIME_KEYS, Cell

__all__ = ["DaskCells"]

#: In each worker process: model key -> its warm-up seconds, once it has been warmed up
#: there. Process state on purpose: the JIT's compiled code is process state too.
_WARMED: dict[str, float | None] = {}


def _warm_key(m) -> str:
    from recsys.io import jsonable

    return json.dumps([m.spec.library, m.spec.name, jsonable(m.params)], sort_keys=True,
                      default=str)


def _cell_task(config, m, dataset: str, sspec, fold_index: int, fold, mem_method: str) -> Cell:
    """One cell on a worker: :func:`~recsys.bench.cell.run_cell`, warmed up once per model
    and worker process."""
    from recsys.bench.cell import run_cell
    from recsys.bench.data import candidates

    key = _warm_key(m)
    m = dataclasses.replace(m, warmed=key in _WARMED, warmup_seconds=_WARMED.get(key))
    cell = run_cell(config, m, dataset, sspec.name, fold_index, fold, mem_method,
                    candidates(sspec, fold))
    if m.warmed:
        _WARMED.setdefault(key, m.warmup_seconds)
    return cell


class DaskCells:
    """The runner's executor for a Dask cluster (a :class:`recsys.distributed.DaskCluster`,
    started when the run's header asks for its description)."""

    def __init__(self, cluster):
        from recsys.distributed import TaskQueue

        self.cluster = cluster
        self._queue = TaskQueue(cluster)

    def describe(self) -> dict[str, Any]:
        """The header's ``cluster`` record (:meth:`recsys.distributed.DaskCluster.describe`)."""
        return self.cluster.describe()

    def submit(self, config, dataset: str, sspec, folds: list, todo: list, mem_method: str,
               first_index: int) -> None:
        """Send ``folds`` to the cluster once and queue one task per ``(fold index, fold,
        model)`` of ``todo``; the cells are numbered from ``first_index`` in ``todo``'s
        order."""
        shared = self.cluster.share(folds, f"folds-{dataset}-{sspec.name}")
        for j, (fi, fold, m) in enumerate(todo):
            meta = {"dataset": dataset, "split": sspec.name, "fold": fold.name,
                    "n_train": fold.train.n_ratings, "n_test": fold.test.n_ratings,
                    "model": m.spec.label, "name": m.spec.name, "library": m.spec.library,
                    "params": m.params}
            self._queue.put((first_index + j, meta), f"cell-{m.spec.label}-{fold.name}",
                            _cell_task, config, m, dataset, sspec, fi, shared[fi], mem_method)

    def finished(self, block: bool = True) -> Iterator[tuple[int, Cell, float | None]]:
        """``(cell number, Cell, seconds)`` of the cells that finished (all that remain when
        ``block``, else those ready now), in the order they finished anywhere."""
        for (index, meta), cell, seconds, error in self._queue.done(block):
            yield index, (cell if error is None else _lost_cell(meta, error)), seconds


def _lost_cell(meta: dict[str, Any], exc: BaseException) -> Cell:
    """The error row of a cell whose task did not return (its workers died, or the cluster
    went away), shaped as :func:`~recsys.bench.cell.run_cell`'s error rows."""
    from recsys.io import jsonable

    try:
        from distributed import KilledWorker
    except ImportError:  # pragma: no cover - dask is there if a task ran
        KilledWorker = ()
    if isinstance(exc, KilledWorker):
        error = (f"KilledWorker: the worker running this cell died on each of "
                 f"{exc.allowed_failures + 1} tries (the last was "
                 f"{exc.last_worker.address}); Dask gave up on it")
    else:
        text = " ".join(str(exc).split())
        error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    row = {k: None for k in ROW_KEYS}
    row.update({k: meta[k] for k in ("dataset", "split", "fold", "model", "name", "library",
                                     "n_train", "n_test")})
    row.update(status="error", error=error)
    row.update({k: None for k in TIME_KEYS})
    row["params"] = jsonable(meta["params"])
    message = f"{meta['model']} failed on {meta['dataset']} {meta['fold']}: {error}"
    return Cell(row=row, messages=[message])
