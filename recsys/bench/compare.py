"""Read a results folder back, and compare two of them row by row (``recsys report``).

:func:`read_results` rebuilds a :class:`~recsys.bench.runner.BenchResult` from a folder that
``recsys bench --out DIR`` wrote (``results.json``, and ``per_user.npz`` where the run saved
one) together with the config facts its tables need (:class:`RecordedConfig`, from the
run's own header: the config file may have changed since), so the tables and plots can be
rendered again without rerunning anything.

:func:`compare_results` lines up two runs (e.g. two commits): per (data set, split, model,
metric) present in both, the two means over folds, the difference ``B - A``, and paired
tests where the runs used the same folds (equal fold digests, :func:`recsys.bench.data.
fold_digest`): over the folds (one value per fold, t and Wilcoxon) and, where both folders
have per-user results, over the (fold, user) pairs both evaluated. Runs with no such row in
common are not comparable: :class:`NotComparableError` says why.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsys.errors import RecsysError

__all__ = ["NotComparableError", "RecordedConfig", "ResultsFolderError", "compare_results",
           "comparison_table", "read_results", "metric_names"]

RESULTS_FILE = "results.json"
#: Row keys that are not metrics (identity, status, timings, sizes).
_NOT_METRICS = {"dataset", "split", "fold", "model", "name", "library", "status", "error",
                "n_train", "n_test", "n_topn_users", "params"}


class ResultsFolderError(RecsysError, ValueError):
    """A results folder is missing or its files are malformed (the message names them)."""


class NotComparableError(RecsysError, ValueError):
    """Two results folders have no (data set, split, model, metric) in common."""


@dataclass(frozen=True)
class RecordedConfig:
    """What :func:`recsys.bench.report.render_markdown` needs of a config, as the run
    recorded it in its header."""

    name: str
    description: str = ""
    k: int = 10
    reference: str | None = None
    counterparts: dict[str, str] = field(default_factory=dict)
    readme_section: str | None = None


def _results_path(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    path = folder / RESULTS_FILE if folder.is_dir() else folder
    if not path.is_file():
        raise ResultsFolderError(f"{folder}: no {RESULTS_FILE} (give a folder that "
                                 f"`recsys bench --out DIR` wrote)")
    return path


def read_results(folder: str | os.PathLike):
    """``(BenchResult, RecordedConfig)`` of a results folder (or its results.json).

    The per-user values come from the file ``header.per_user_file`` names, when there is
    one (paired tests over users and the intervals over users need them).

    Raises
    ------
    ResultsFolderError
        No results.json, not JSON, not a results document, or an unreadable per-user file.
    """
    from recsys.bench.per_user import PerUserFileError, read_per_user
    from recsys.bench.runner import BenchResult

    path = _results_path(folder)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFolderError(f"{path}: not a results file ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("header"), dict) \
            or not isinstance(doc.get("rows"), list):
        raise ResultsFolderError(f"{path}: not a results file (no header and rows)")
    header = doc["header"]
    for j, row in enumerate(doc["rows"]):
        missing = [k for k in ("dataset", "split", "fold", "model") if
                   not isinstance(row, dict) or k not in row]
        if missing:
            raise ResultsFolderError(f"{path}: rows[{j}] has no {missing[0]!r}")
    per_user = {}
    if header.get("per_user_file"):
        try:
            per_user = read_per_user(path.parent / header["per_user_file"])
        except PerUserFileError as exc:
            raise ResultsFolderError(str(exc)) from None
    result = BenchResult(header=header, rows=doc["rows"], curves=doc.get("curves") or [],
                         comparisons=doc.get("comparisons") or [], per_user=per_user)
    config = RecordedConfig(name=str(header.get("config") or path.parent.name),
                            description=str(header.get("description") or ""),
                            k=int(header.get("k") or 10), reference=header.get("reference"),
                            counterparts=_counterparts(header, result.rows))
    return result, config


def _counterparts(header: dict, rows: list[dict]) -> dict[str, str]:
    """The ``counterpart`` pairs of the run's config, for its speed-up column: the header
    does not record them, so they come from the config file where it still parses and
    names the same models (else none: the column is left out)."""
    source = header.get("config_file")
    if not source or not Path(source).is_file():
        return {}
    from recsys.bench.config import ConfigError, load_config

    try:
        config = load_config(source)
    except (ConfigError, OSError):
        return {}
    labels = {r["model"] for r in rows}
    return {a: b for a, b in config.counterparts.items() if a in labels and b in labels}


def metric_names(rows: list[dict]) -> list[str]:
    """The metric keys the rows hold a number for, in first-seen order (timings last)."""
    seen: dict[str, None] = {}
    for r in rows:
        for key, value in r.items():
            if key not in _NOT_METRICS and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                seen.setdefault(key)
    names = list(seen)
    timing = [n for n in names if n.endswith("_seconds") or n.endswith("_mb")]
    return [n for n in names if n not in timing] + timing


def _fold_digests(header: dict) -> dict[tuple[str, str], dict[str, str]]:
    return {(f["dataset"], f["split"]): {x["name"]: x.get("digest") for x in f["folds"]}
            for f in header.get("folds", [])}


def _values(rows, metric) -> dict[tuple, dict[str, float]]:
    """(dataset, split, model) -> fold -> value, rows that ran and hold the metric."""
    out: dict[tuple, dict[str, float]] = {}
    for r in rows:
        v = r.get(metric)
        if r.get("status") != "ok" or v is None or isinstance(v, bool) \
                or not isinstance(v, (int, float)) or math.isnan(v):
            continue
        out.setdefault((r["dataset"], r["split"], r["model"]), {})[r["fold"]] = float(v)
    return out


def compare_results(a: str | os.PathLike, b: str | os.PathLike) -> list[dict[str, Any]]:
    """Row-by-row comparison of results folders ``a`` and ``b`` (module notes).

    One dict per (dataset, split, model, metric) that both hold: ``mean_a``, ``mean_b``
    (over each run's folds), ``diff`` (``mean_b - mean_a``), ``same_folds`` (the split's
    folds have equal digests in both runs), and with same folds ``folds`` (common fold
    names), ``folds_t_pvalue``, ``folds_wilcoxon_pvalue`` and, where both saved per-user
    values, ``n_users``, ``users_t_pvalue``, ``users_wilcoxon_pvalue`` (None where a test
    cannot run: one fold, or every difference zero); ``lower_is_better`` for the errors and
    timings.

    Raises
    ------
    ResultsFolderError
        Either folder cannot be read.
    NotComparableError
        No (dataset, split, model, metric) in common; the message lists what each has.
    """
    from recsys.bench.config import is_rating_metric
    from recsys.bench.report import _safe_tests
    from recsys.significance import paired_tests

    ra, _ = read_results(a)
    rb, _ = read_results(b)
    da, db = _fold_digests(ra.header), _fold_digests(rb.header)
    out = []
    metrics = [m for m in metric_names(ra.rows) if m in set(metric_names(rb.rows))]
    for metric in metrics:
        va, vb = _values(ra.rows, metric), _values(rb.rows, metric)
        for key in [k for k in va if k in vb]:
            dataset, split, model = key
            fa, fb = va[key], vb[key]
            xa, xb = np.array(list(fa.values())), np.array(list(fb.values()))
            entry = {"dataset": dataset, "split": split, "model": model, "metric": metric,
                     "mean_a": float(xa.mean()), "mean_b": float(xb.mean()),
                     "diff": float(xb.mean() - xa.mean()),
                     "lower_is_better": is_rating_metric(metric) or metric.endswith(
                         ("_seconds", "_mb")),
                     "folds_a": len(fa), "folds_b": len(fb)}
            digests_a, digests_b = da.get((dataset, split)), db.get((dataset, split))
            common = [f for f in fa if f in fb and digests_a and digests_b
                      and digests_a.get(f) is not None
                      and digests_a.get(f) == digests_b.get(f)]
            entry["same_folds"] = bool(digests_a) and digests_a == digests_b
            entry["folds"] = common
            t = _safe_tests(paired_tests, np.array([fa[f] for f in common]),
                            np.array([fb[f] for f in common])) if common else {}
            entry["folds_t_pvalue"] = t.get("t_pvalue")
            entry["folds_wilcoxon_pvalue"] = t.get("wilcoxon_pvalue")
            entry.update(_user_tests(ra.per_user, rb.per_user, dataset, split, model, metric,
                                     common, paired_tests, _safe_tests))
            out.append(entry)
    if not out:
        raise NotComparableError(_why_not(a, b, ra, rb))
    return out


def _user_tests(pa, pb, dataset, split, model, metric, folds, paired_tests, safe):
    ua, ub = [], []
    for f in folds:
        x = pa.get((dataset, split, f, model, metric))
        y = pb.get((dataset, split, f, model, metric))
        if x is None or y is None:
            continue
        _, ia, ib = np.intersect1d(x[0], y[0], assume_unique=True, return_indices=True)
        ua.append(np.asarray(x[1])[ia])
        ub.append(np.asarray(y[1])[ib])
    if not ua:
        return {"n_users": 0, "users_t_pvalue": None, "users_wilcoxon_pvalue": None}
    xa, xb = np.concatenate(ua), np.concatenate(ub)
    t = safe(paired_tests, xa, xb)
    return {"n_users": int(len(xa)), "users_t_pvalue": t.get("t_pvalue"),
            "users_wilcoxon_pvalue": t.get("wilcoxon_pvalue")}


def _why_not(a, b, ra, rb) -> str:
    def cells(result):
        return sorted({(r["dataset"], r["split"], r["model"]) for r in result.rows
                       if r.get("status") == "ok"})

    ca, cb = cells(ra), cells(rb)

    def show(c):
        return "; ".join(" · ".join(x) for x in c[:4]) + (f" (+{len(c) - 4} more)"
                                                           if len(c) > 4 else "") or "nothing"

    return (f"{a} and {b} are not comparable: no (data set, split, model) ran in both with "
            f"a metric in common. {a} has {show(ca)}; {b} has {show(cb)}")


def _p(value) -> str:
    if value is None:
        return "–"
    return f"{value:.1e}" if value < 1e-4 else f"{value:.4f}"


def _num(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4f}"


def comparison_table(rows: list[dict[str, Any]], a_name: str, b_name: str) -> str:
    """The comparison as Markdown: one table per (data set, split), a line per (model,
    metric)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["split"]), []).append(r)
    parts = [f"## Comparison: A = `{a_name}`, B = `{b_name}`", ""]
    for (dataset, split), items in groups.items():
        same = items[0]["same_folds"]
        parts += [f"### {dataset} · {split}" + ("" if same else
                                               " (the runs used different folds)"), "",
                  "| Model | Metric | A | B | B − A | Folds | t p | Wilcoxon p | Users × folds "
                  "| t p | Wilcoxon p |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in sorted(items, key=lambda r: (r["model"], r["metric"])):
            parts.append("| " + " | ".join([
                r["model"], r["metric"], _num(r["mean_a"]), _num(r["mean_b"]),
                f"{r['diff']:+.4f}", str(len(r["folds"])), _p(r["folds_t_pvalue"]),
                _p(r["folds_wilcoxon_pvalue"]), str(r.get("n_users", 0)),
                _p(r.get("users_t_pvalue")), _p(r.get("users_wilcoxon_pvalue"))]) + " |")
        parts.append("")
    parts.append("A and B: means over each run's folds; B − A their difference (for RMSE, "
                 "MAE and the timings lower is better). The paired tests (two-sided t and "
                 "Wilcoxon) run only on folds with the same digest in both runs (the same "
                 "test pairs), over the folds and over the (fold, user) pairs both runs "
                 "saved; – where a test cannot run (one fold, or no difference).")
    return "\n".join(parts) + "\n"
