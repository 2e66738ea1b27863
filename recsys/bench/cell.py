"""One cell of a benchmark grid: fit one model on one fold and score it with our metric code.

What is measured is described in :mod:`recsys.bench.runner`. :func:`run_cell` has no side
effects on the run: its rows, per-user values, learning curves and log lines come back in a
:class:`Cell`, so the runner can execute cells in this process or on a cluster alike.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from recsys.bench.config import (BenchConfig, is_beyond_accuracy_metric, is_rating_metric,
                                 is_topn_metric)
from recsys.bench.memory import PeakMemory
from recsys.bench.models import Resolved
from recsys.bench.scoring import (beyond_accuracy_values, fold_in_scorer, sampled_values,
                                  split_spec, unsupported_reason)
from recsys.io import jsonable

#: Row keys, in the order results.json writes them (metrics appear when computed).
ROW_KEYS = ("dataset", "split", "fold", "model", "name", "library", "status", "error",
            "n_train", "n_test", "rmse", "mae", "n_topn_users")
TIME_KEYS = ("fit_seconds", "predict_seconds", "topn_seconds", "sampled_seconds",
             "convert_seconds", "warmup_seconds", "fit_peak_mb", "convert_peak_mb")
#: Attributes (less the trailing ``_``) a peer adapter may set, copied into its row.
ADAPTER_KEYS = ("startup_seconds", "n_fallback")


@dataclass
class Cell:
    """What one cell produced: its row, per-user values keyed
    ``(dataset, split, fold, model, metric) -> (users, values)``, learning curves, log lines."""

    row: dict[str, Any]
    per_user: dict[tuple, tuple] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


class _Timed:
    """Wraps a function and adds up the wall time spent inside it."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.seconds = 0.0

    def __call__(self, *args):
        t0 = time.perf_counter()
        try:
            return self.fn(*args)
        finally:
            self.seconds += time.perf_counter() - t0


# ---------------------------------------------------------------------- the fit block
def _measured_fit(model, train, mem_method: str):
    """``((fit seconds, fit peak MiB), convert seconds, convert peak MiB)`` of one fit.

    Every model is measured the same way: the fold's CSR matrix (shared by every model of
    the fold, cached on the Dataset) is built first, outside every measured block; a peer
    adapter's conversion of our Dataset into its library's structure (``prepare``) runs
    next, timed and measured on its own (None for our models, which have no conversion);
    then ``fit`` alone is timed and its peak measured above the memory at its start (which
    holds the converted structure for a peer, our Dataset for ours).
    """
    train.csr  # noqa: B018 (cached property: built here so no model's fit pays for it)
    convert_seconds = convert_peak = None
    prepare = getattr(model, "prepare", None)
    if prepare is not None:
        with PeakMemory(mem_method) as cmem:
            t0 = time.perf_counter()
            prepare(train)
            convert_seconds = time.perf_counter() - t0
        convert_peak = cmem.peak_mb
    with PeakMemory(mem_method) as mem:
        t0 = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - t0
    return (fit_seconds, mem.peak_mb), convert_seconds, convert_peak


# ---------------------------------------------------------------------- warm-up
def _warm_up(model, fold, metrics) -> float:
    """Fit, predict and score once on a slice of the fold (JIT compile); seconds taken."""
    t0 = time.perf_counter()
    small = _warmup_data(fold.train)
    model.fit(small)
    users = np.flatnonzero(small.user_counts > 0)[:8].astype(np.int64)
    if model.predicts_ratings and any(is_rating_metric(x) for x in metrics):
        model.predict(small.users[:100].astype(np.int64), small.items[:100].astype(np.int64))
    if any(is_topn_metric(x) for x in metrics):
        model.score_items(users)
    return time.perf_counter() - t0


def _warmup_data(train):
    """A small slice of ``train`` (about 60 users with ratings), same id maps and metadata."""
    users = np.flatnonzero(train.user_counts > 0)[:60]
    mask = np.isin(train.users, users)
    return train.subset(mask)


def run_cell(config: BenchConfig, m: Resolved, dataset: str, split: str, fold_index: int,
             fold, mem_method: str, candidates="unrated") -> Cell:
    """Fit and score one model on one fold. Pure: nothing outside the returned Cell changes
    (except ``m``'s warm-up record), so a cell can run in another process."""
    from recsys.evaluation import evaluate_ratings, evaluate_topn, rating_predictor

    spec = m.spec
    cell = Cell(row={})
    metrics = config.model_metrics(spec)
    row: dict[str, Any] = {
        "dataset": dataset, "split": split, "fold": fold.name, "model": spec.label,
        "name": spec.name, "library": spec.library, "status": "ok", "error": None,
        "n_train": fold.train.n_ratings, "n_test": fold.test.n_ratings,
    }
    unsupported = unsupported_reason(m.make, fold, spec.label)
    if unsupported:  # the split's protocol does not apply to this model: say so, fit nothing
        row.update(status="unsupported", error=unsupported, params=jsonable(m.params))
        cell.row = _ordered(row)
        return cell
    try:
        if not m.warmed and config.warmup and spec.library == "recsys":
            m.warmed = True
            m.warmup_seconds = _warm_up(m.make(), fold, metrics)
        model = m.make()
        (fit_seconds, fit_peak), convert_seconds, convert_peak = _measured_fit(
            model, fold.train, mem_method)
        row["fit_seconds"] = fit_seconds
        row["convert_seconds"] = convert_seconds
        row["convert_peak_mb"] = convert_peak
        row["warmup_seconds"] = m.warmup_seconds
        row["fit_peak_mb"] = fit_peak

        key = (dataset, split, fold.name, spec.label)
        score_fn, predict_fn = model.score_items, None
        if getattr(fold, "given", None) is not None:  # user cold start: fold the users in
            score_fn, predict_fn = fold_in_scorer(model, fold)
        if model.predicts_ratings and any(is_rating_metric(x) for x in metrics):
            predict = _Timed(predict_fn or rating_predictor(model, fold.test))
            rr = evaluate_ratings(predict, fold.test)
            row["rmse"], row["mae"] = float(rr.rmse), float(rr.mae)
            row["predict_seconds"] = predict.seconds
            cell.per_user[key + ("rmse",)] = (rr.users, rr.per_user_rmse)
            cell.per_user[key + ("mae",)] = (rr.users, rr.per_user_mae)
        if any(is_topn_metric(x) for x in metrics):
            score = _Timed(score_fn)
            beyond = [x for x in metrics if is_beyond_accuracy_metric(x)]
            wanted = {"precision", "recall", "ndcg"} | {
                x.split("@")[0] for x in metrics if is_topn_metric(x)} - {
                "coverage", "novelty", *beyond}
            tr = evaluate_topn(score, fold.train, fold.test, k=config.k,
                               relevance_threshold=config.relevance_threshold,
                               metrics=sorted(wanted), candidates=candidates)
            for name, value in tr.means.items():
                row[name] = _num(value)
                cell.per_user[key + (name,)] = (tr.users, tr.per_user[name])
            row["coverage"], row["novelty"] = _num(tr.coverage), _num(tr.novelty)
            row["n_topn_users"] = int(len(tr.users))
            row["topn_seconds"] = score.seconds
            values, notes = beyond_accuracy_values(beyond, tr, fold, candidates, config.k,
                                                   config.relevance_threshold)
            for name, (mean, users, per) in values.items():
                row[name] = mean
                if users is not None:
                    cell.per_user[key + (name,)] = (users, per)
            cell.messages += [f"{spec.label} on {dataset} {fold.name}: {n}" for n in notes]
            sspec = split_spec(config, split)
            if sspec is not None and sspec.sampled:
                sampled = _Timed(score_fn)
                sr = sampled_values(sampled, fold, config, candidates, sspec.sampled)
                for name, value in sr.means.items():
                    row[name] = _num(value)
                    if not np.isnan(sr.per_user[name]).any():
                        cell.per_user[key + (name,)] = (sr.users, sr.per_user[name])
                row["sampled_seconds"] = sampled.seconds
        # What a peer adapter reports of its own (Spark: its session's start-up, apart from
        # the fit; the predictions it returned as NaN, scored with the fallback instead).
        for name in ADAPTER_KEYS:
            if getattr(model, name + "_", None) is not None:
                row[name] = jsonable(getattr(model, name + "_"))

        if (config.learning_curves and fold_index == 0 and m.accepts_eval_set):
            curve_model = m.make()
            curve_model.fit(fold.train, eval_set=fold.test)
            hist = getattr(curve_model, "history_", None) or {}
            if hist.get("train_rmse") or hist.get("eval_rmse"):
                cell.curves.append({
                    "dataset": dataset, "split": split, "fold": fold.name, "model": spec.label,
                    "train_rmse": [float(x) for x in hist.get("train_rmse", [])],
                    "eval_rmse": [float(x) for x in hist.get("eval_rmse", [])],
                })
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        row["status"] = "error"
        row["error"] = f"{type(exc).__name__}: {exc}"
        where = traceback.extract_tb(exc.__traceback__)[-1]
        cell.messages.append(f"{spec.label} failed on {dataset} {fold.name}: {row['error']} "
             f"({Path(where.filename).name}:{where.lineno})")
    row["params"] = jsonable(m.params)
    cell.row = _ordered(row)
    return cell


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in ROW_KEYS}
    for k, v in row.items():  # the top-N metrics, in the order evaluate_topn gave them
        if k not in out and k not in TIME_KEYS and k != "params":
            out[k] = v
    for k in TIME_KEYS:
        out[k] = row.get(k)
    out["params"] = row.get("params", {})
    return out


def _num(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value
