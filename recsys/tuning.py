"""Hyperparameter search with inner cross-validation on the training part only.

:func:`grid_search` tries every combination of a grid, :func:`random_search` draws ``n_iter``
seeded candidates from a search space. Both split the TRAINING data they are given into
``n_folds`` inner folds (:func:`recsys.split.kfold`, seeded; the same inner folds for every
candidate), fit each candidate on each inner train part and score it on the inner test part
with our evaluation code. The outer test part never reaches them: pass ``fold.train``.

The result (:class:`TuningResult`) holds the best parameters and every candidate's scores, and
writes itself as a ``[[models]]`` TOML snippet that a benchmark config accepts
(:meth:`TuningResult.to_toml`) and as a JSON run record (:meth:`TuningResult.to_record`:
data set, split, seed, search space, every trial, best value, commit) that a config reads
with ``params_from = "PATH"`` (:func:`read_run_record`). :mod:`recsys.tuning_optuna` adds a
third search, Optuna's TPE with pruning and a resumable SQLite study.

>>> space = {"learning_rate": LogUniform(0.002, 0.05), "reg": [0.02, 0.05, 0.1]}
>>> res = random_search("FunkSVD", fold.train, space, n_iter=20, n_folds=3, seed=0)
>>> res.best_params
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from recsys.dataset import Dataset
from recsys.errors import RecsysError
from recsys.validation import as_generator

__all__ = ["grid_search", "random_search", "cross_validate", "TuningResult", "TuningError",
           "Uniform", "LogUniform", "IntUniform", "toml_value", "LOWER_IS_BETTER",
           "describe_space", "read_run_record", "RunRecordError", "RECORD_FORMAT"]


class TuningError(RecsysError, RuntimeError):
    """No candidate of a search could be fitted and scored; names the first error."""

#: Metrics where a smaller value is better; every other metric is maximised.
LOWER_IS_BETTER = ("rmse", "mae")


# ---------------------------------------------------------------------- search spaces
@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from [low, high]."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class LogUniform:
    """A float whose logarithm is uniform on [log low, log high] (learning rates, penalties)."""

    low: float
    high: float

    def __post_init__(self):
        if not 0 < self.low <= self.high:
            raise ValueError(f"LogUniform needs 0 < low <= high, got {self.low}, {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass(frozen=True)
class IntUniform:
    """An integer drawn uniformly from low..high inclusive."""

    low: int
    high: int

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))


def _sample(dist, rng: np.random.Generator):
    if hasattr(dist, "sample"):
        return dist.sample(rng)
    if isinstance(dist, (list, tuple)):
        if not dist:
            raise ValueError("an empty list of choices")
        return _plain(dist[int(rng.integers(len(dist)))])
    return dist  # a constant


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------------- result
@dataclass
class TuningResult:
    """What a search found.

    Attributes
    ----------
    model : str
        The model's class name.
    metric : str
        The criterion (``"rmse"``, ``"ndcg@10"``, ...); ``lower_is_better`` says its direction.
    best_params : dict
        The winning candidate's parameters merged over ``base_params``.
    best_score : float
        Its mean over the inner folds.
    scores : list of dict
        Every candidate in the order tried: ``params``, ``mean``, ``std`` (ddof=1, NaN with
        one fold), ``folds`` (per-fold values), ``fit_seconds`` (total), ``error`` (None, or
        the one-line error of a candidate that failed; its mean is NaN).
    """

    model: str
    metric: str
    lower_is_better: bool
    best_params: dict[str, Any]
    best_score: float
    scores: list[dict[str, Any]]
    n_folds: int
    seed: Any
    base_params: dict[str, Any] = field(default_factory=dict)
    method: str = "grid"
    #: The search space as :func:`describe_space` writes it (None: not recorded).
    space: dict[str, Any] | None = None
    #: Method-specific facts for the run record (Optuna: study name, storage, pruner).
    info: dict[str, Any] = field(default_factory=dict)

    def to_toml(self, label: str | None = None, library: str = "recsys",
                comment: str | None = None) -> str:
        """A ``[[models]]`` table for a benchmark config, with every candidate as comments."""
        lines = []
        if comment:
            lines += [f"# {c}" for c in comment.splitlines()]
        lines.append(f"# {self.method} search, {len(self.scores)} candidates, "
                     f"{self.n_folds}-fold inner CV on the training part, seed {self.seed}; "
                     f"best mean {self.metric} = {self.best_score:.4f}")
        lines += ["[[models]]", f"name = {toml_value(self.model)}"]
        if library != "recsys":
            lines.append(f"library = {toml_value(library)}")
        lines.append(f"label = {toml_value(label or self.model + ' (tuned)')}")
        lines.append(f"params = {toml_value(self.best_params)}")
        lines.append("")
        lines.append(f"# candidates (mean {self.metric} ± std over the inner folds):")
        order = sorted(range(len(self.scores)), key=lambda j: self._key(self.scores[j]))
        for j in order:
            s = self.scores[j]
            desc = ", ".join(f"{k}={_short(v)}" for k, v in s["params"].items())
            if s.get("state") == "pruned":
                lines.append(f"#   {desc}: pruned ({s.get('pruned_at', '')})")
            elif s.get("error"):
                lines.append(f"#   {desc}: failed ({s['error']})")
            else:
                std = "" if math.isnan(s["std"]) else f" ± {s['std']:.4f}"
                lines.append(f"#   {desc}: {s['mean']:.4f}{std}")
        return "\n".join(lines) + "\n"

    def _key(self, s: dict) -> float:
        m = s["mean"]
        if m is None or math.isnan(m):
            return math.inf
        return m if self.lower_is_better else -m

    def to_record(self, *, dataset: str | None = None, split: Any = None,
                  fold: str | None = None, commit: str | None = None,
                  **extra: Any) -> dict[str, Any]:
        """The JSON run record of this search: what a config's ``params_from`` reads.

        Keys: ``format``/``version``, ``model``, ``library``, ``params`` (the best, with the
        fixed ones), ``metric``, ``direction``, ``best_value``, ``method``, ``n_folds``,
        ``seed``, ``base_params``, ``search_space``, ``n_trials``, ``trials`` (each
        candidate: ``params``, ``value``, ``std``, ``folds``, ``fit_seconds``, ``state``,
        ``error``), ``dataset``, ``split``, ``fold``, ``commit``, ``recsys_version``,
        ``created`` (UTC), ``info``, and the ``extra`` keys given. Plain JSON
        (:func:`recsys.io.jsonable`: NaN as null).
        """
        import datetime as _dt

        from recsys import __version__
        from recsys.io import jsonable

        trials = []
        for j, s in enumerate(self.scores):
            state = s.get("state") or ("failed" if s.get("error") else "complete")
            trials.append({"number": s.get("number", j), "params": s["params"],
                           "value": s["mean"], "std": s.get("std"), "folds": s.get("folds"),
                           "fit_seconds": s.get("fit_seconds"), "state": state,
                           "error": s.get("error"), "pruned_at": s.get("pruned_at")})
        record = {
            "format": RECORD_FORMAT, "version": RECORD_VERSION, "model": self.model,
            "library": "recsys", "params": self.best_params, "metric": self.metric,
            "direction": "minimize" if self.lower_is_better else "maximize",
            "best_value": self.best_score, "method": self.method, "n_folds": self.n_folds,
            "seed": self.seed, "base_params": self.base_params, "search_space": self.space,
            "n_trials": len(self.scores), "trials": trials, "dataset": dataset,
            "split": split, "fold": fold, "commit": commit, "recsys_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "info": self.info, **extra,
        }
        return jsonable(record)


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else repr(v)


def toml_value(v) -> str:
    """A Python value (bool, int, float, str, list, dict) as a TOML value."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string uses the same escapes
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        items = []
        for k, x in v.items():
            key = k if str(k).replace("_", "").replace("-", "").isalnum() else json.dumps(str(k))
            items.append(f"{key} = {toml_value(x)}")
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} as TOML")


# ---------------------------------------------------------------------- cross-validation
def _model_class(model):
    """The class of ``model``: a registered name (:func:`recsys.models.registry.model_class`,
    ValueError naming the registered models when unknown) or the class itself."""
    if isinstance(model, str):
        from recsys.models.registry import model_class

        return model_class(model)
    return model


def _scorer(metric: str, k: int, relevance_threshold: float) -> Callable:
    from recsys.evaluation import evaluate_ratings, evaluate_topn, rating_predictor

    if metric in LOWER_IS_BETTER:
        def score(model, train, test):
            r = evaluate_ratings(rating_predictor(model, test), test)
            return float(r.rmse if metric == "rmse" else r.mae)
        return score

    def score(model, train, test):
        r = evaluate_topn(model.score_items, train, test, k=k,
                          relevance_threshold=relevance_threshold)
        if metric in ("coverage", "novelty"):
            return float(getattr(r, metric))
        if metric not in r.means:
            raise ValueError(f"unknown metric {metric!r}; have rmse, mae, coverage, novelty, "
                             f"{', '.join(sorted(r.means))}")
        return float(r.means[metric])
    return score


def cross_validate(model, train: Dataset, params: Mapping[str, Any], folds: Sequence,
                   metric: str = "rmse", k: int = 10,
                   relevance_threshold: float = 4.0) -> dict[str, Any]:
    """Fit ``model(**params)`` on each fold's train part and score it on its test part.

    Returns ``{"params", "mean", "std", "folds", "fit_seconds", "error"}``.
    """
    cls = _model_class(model)
    score = _scorer(metric, k, relevance_threshold)
    values, fit_seconds = [], 0.0
    try:
        for f in folds:
            m = cls(**params)
            t0 = time.perf_counter()
            m.fit(f.train)
            fit_seconds += time.perf_counter() - t0
            values.append(score(m, f.train, f.test))
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        return {"params": dict(params), "mean": float("nan"), "std": float("nan"),
                "folds": values, "fit_seconds": fit_seconds,
                "error": f"{type(exc).__name__}: {exc}"}
    v = np.asarray(values, dtype=np.float64)
    return {"params": dict(params), "mean": float(v.mean()),
            "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
            "folds": v.tolist(), "fit_seconds": fit_seconds, "error": None}


def _check_metric(metric: str, k: int) -> int:
    """Validate the criterion; the cut-off in its name (``ndcg@5``) overrides ``k``."""
    from recsys.evaluation import TOPN_METRICS

    if metric in LOWER_IS_BETTER or metric in ("mrr", "coverage", "novelty"):
        return k
    name, sep, cut = metric.partition("@")
    if sep and name in TOPN_METRICS and name != "mrr" and cut.isdigit() and int(cut) > 0:
        return int(cut)
    raise ValueError(f"unknown metric {metric!r}; use rmse, mae, mrr, coverage, novelty or "
                     f"NAME@K with NAME in {[m for m in TOPN_METRICS if m != 'mrr']}")


def _search(model, train: Dataset, candidates: list[dict], n_folds: int, seed, metric: str,
            base_params: Mapping[str, Any] | None, k: int, relevance_threshold: float,
            method: str, progress: bool, executor=None) -> TuningResult:
    """Cross-validate every candidate on the same inner folds and pick the best.
    ``executor``: None fits here, one after the other; an object with a
    ``cross_validate(cls, base, candidates, folds, metric, k, relevance_threshold,
    progress)`` returning the same list of scores, such as
    :class:`recsys.distributed.DaskSearch` (one Dask task per candidate and inner fold)."""
    from recsys.split import kfold

    if not isinstance(train, Dataset):
        raise TypeError(f"train must be a recsys Dataset, got {type(train).__name__}")
    if not candidates:
        raise ValueError("no candidates to try")
    k = _check_metric(metric, k)
    cls = _model_class(model)
    base = dict(base_params or {})
    _check_names(cls, list(base) + [n for cand in candidates for n in cand])
    folds = kfold(train, n_folds=n_folds, seed=seed)  # the same inner folds for everyone
    scores = []
    it = candidates
    if executor is not None:
        scores, it = executor.cross_validate(cls, base, candidates, folds, metric, k,
                                             relevance_threshold, progress), []
    elif progress:
        from tqdm.auto import tqdm
        it = tqdm(candidates, desc=f"tune {cls.__name__}", unit="candidate")
    for cand in it:
        res = cross_validate(cls, train, {**base, **cand}, folds, metric, k,
                             relevance_threshold)
        res["params"] = dict(cand)
        scores.append(res)
    lower = metric in LOWER_IS_BETTER
    ok = [s for s in scores if s["error"] is None and not math.isnan(s["mean"])]
    if not ok:
        first = scores[0]
        desc = ", ".join(f"{k}={_short(v)}" for k, v in first["params"].items())
        raise TuningError(f"every candidate failed; the first ({desc}): {first['error']}")
    best = min(ok, key=lambda s: s["mean"]) if lower else max(ok, key=lambda s: s["mean"])
    return TuningResult(model=cls.__name__, metric=metric, lower_is_better=lower,
                        best_params={**base, **best["params"]}, best_score=best["mean"],
                        scores=scores, n_folds=n_folds, seed=seed, base_params=base,
                        method=method)


def _check_names(cls, names) -> None:
    """ValueError for a name that is not a hyperparameter of ``cls`` (before any fit: a typo
    would otherwise fail every candidate, one fit at a time)."""
    valid = list(cls._param_names())
    for name in dict.fromkeys(names):
        if name not in valid:
            raise ValueError(f"{cls.__name__} has no hyperparameter {name!r}; valid: "
                             f"{', '.join(valid)}")


def grid_search(model, train: Dataset, grid: Mapping[str, Sequence[Any]], n_folds: int = 3,
                seed=0, metric: str = "rmse", base_params: Mapping[str, Any] | None = None,
                k: int = 10, relevance_threshold: float = 4.0,
                progress: bool = False, executor=None) -> TuningResult:
    """Try every combination of ``grid`` with ``n_folds``-fold CV on ``train``.

    Parameters
    ----------
    model : str or Recommender subclass
        A class name registered in :mod:`recsys.models.registry`, or the class.
    train : Dataset
        The training part only (e.g. ``fold.train``); it is split into inner folds.
    grid : mapping name -> list of values
    n_folds : int
        Inner folds (>= 2).
    seed : int
        Seed of the inner split (and nothing else: give the model's own ``seed`` in
        ``base_params`` or the grid).
    metric : str
        ``"rmse"``/``"mae"`` (minimised) or a top-N metric such as ``"ndcg@10"`` (maximised).
    base_params : mapping, optional
        Fixed hyperparameters every candidate gets.
    executor : optional
        Where the fits run: None here; :class:`recsys.distributed.DaskSearch` on a Dask
        cluster, one task per (candidate, inner fold), with the same scores.

    Returns
    -------
    TuningResult; candidates in the grid's order (the last name varies fastest).
    """
    names = list(grid)
    for n in names:
        if isinstance(grid[n], (str, bytes)) or not isinstance(grid[n], Sequence) or not grid[n]:
            raise ValueError(f"grid[{n!r}] must be a non-empty list of values, got {grid[n]!r}")
    candidates = [dict(zip(names, (_plain(x) for x in combo)))
                  for combo in itertools.product(*(grid[n] for n in names))]
    res = _search(model, train, candidates, n_folds, seed, metric, base_params, k,
                  relevance_threshold, "grid", progress,
                  executor=executor)
    res.space = describe_space(grid)
    return res


def random_search(model, train: Dataset, space: Mapping[str, Any], n_iter: int = 20,
                  n_folds: int = 3, seed=0, metric: str = "rmse",
                  base_params: Mapping[str, Any] | None = None, k: int = 10,
                  relevance_threshold: float = 4.0, progress: bool = False,
                  executor=None) -> TuningResult:
    """Try ``n_iter`` candidates drawn from ``space`` with ``n_folds``-fold CV on ``train``.

    ``space`` maps a name to a list (uniform choice), a :class:`Uniform`, :class:`LogUniform`
    or :class:`IntUniform`, or a constant. The draws come from ``recsys.validation.as_generator(seed)``
    (the inner split too), so the same seed gives the same candidates and folds. Duplicate
    draws are tried once. ``executor``: as for :func:`grid_search`.
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    rng = as_generator(seed)
    candidates, seen = [], set()
    for _ in range(n_iter):
        cand = {name: _sample(dist, rng) for name, dist in space.items()}
        key = json.dumps(cand, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            candidates.append(cand)
    res = _search(model, train, candidates, n_folds, seed, metric, base_params, k,
                  relevance_threshold, "random", progress,
                  executor=executor)
    res.space = describe_space(space)
    return res


# ---------------------------------------------------------------------- run records
#: The ``format`` of a run record (:meth:`TuningResult.to_record`); ``version`` is its version.
RECORD_FORMAT = "recsys-tuning-run"
RECORD_VERSION = 1


def describe_space(space: Mapping[str, Any]) -> dict[str, Any]:
    """A search space as JSON: ``{"uniform": [low, high]}``, ``{"log_uniform": ...}``,
    ``{"int_uniform": ...}``, ``{"choice": [values]}`` or ``{"fixed": value}`` per name."""
    out = {}
    for name, dist in space.items():
        if isinstance(dist, Uniform):
            out[name] = {"uniform": [dist.low, dist.high]}
        elif isinstance(dist, LogUniform):
            out[name] = {"log_uniform": [dist.low, dist.high]}
        elif isinstance(dist, IntUniform):
            out[name] = {"int_uniform": [dist.low, dist.high]}
        elif isinstance(dist, (list, tuple)):
            out[name] = {"choice": [_plain(v) for v in dist]}
        else:
            out[name] = {"fixed": _plain(dist)}
    return out


class RunRecordError(RecsysError, ValueError):
    """A tuned-parameters file (run record or ``[[models]]`` TOML) is missing or malformed;
    ``path`` and ``key`` name the file and the field."""

    def __init__(self, path: str, key: str, message: str):
        self.path = str(path)
        self.key = key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


def read_run_record(path, model: str | None = None) -> dict[str, Any]:
    """The best parameters a tuning run saved, as ``{"model", "params", ...}``.

    ``path`` is a JSON run record (:meth:`TuningResult.to_record`, as ``recsys tune --out``
    writes it) or a TOML file holding one ``[[models]]`` table of ``model`` (the snippet
    :meth:`TuningResult.to_toml` writes). With ``model``, the record must be for that class.

    Raises
    ------
    RunRecordError
        Naming the file and the field: no such file, not JSON/TOML, not a run record (wrong
        ``format``, a newer ``version``), ``model`` or ``params`` missing or of the wrong
        type, a record for another model class, no or several matching ``[[models]]``.
    """
    import tomllib
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunRecordError(str(p), "", "no such tuned-parameters file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunRecordError(str(p), "", f"cannot read ({exc})") from None
    if p.suffix.lower() == ".toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RunRecordError(str(p), "", f"not valid TOML ({exc})") from None
        tables = doc.get("models")
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise RunRecordError(str(p), "models", "no [[models]] table")
        if model is not None:
            tables = [t for t in tables if t.get("name") == model]
        if len(tables) != 1:
            names = [t.get("name") for t in doc["models"]]
            raise RunRecordError(str(p), "models", f"expected one [[models]] table"
                                 f"{' of ' + repr(model) if model else ''}, found "
                                 f"{len(tables)} (names: {names})")
        t = tables[0]
        if t.get("library", "recsys") != "recsys":
            raise RunRecordError(str(p), "models.library", f"{t['library']!r}: only recsys "
                                 f"models' settings can be read")
        record = {"model": t.get("name"), "params": t.get("params", {}), "library": "recsys"}
    else:
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RunRecordError(str(p), "", f"not valid JSON (line {exc.lineno}: "
                                 f"{exc.msg})") from None
        if not isinstance(record, dict):
            raise RunRecordError(str(p), "", "expected a JSON object (a run record)")
        if record.get("format") != RECORD_FORMAT:
            raise RunRecordError(str(p), "format", f"expected {RECORD_FORMAT!r}, got "
                                 f"{record.get('format')!r}: not a recsys tune run record")
        version = record.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise RunRecordError(str(p), "version", f"expected a positive integer, got "
                                 f"{version!r}")
        if version > RECORD_VERSION:
            raise RunRecordError(str(p), "version", f"version {version} is newer than this "
                                 f"recsys reads ({RECORD_VERSION}); upgrade recsys")
        if record.get("library", "recsys") != "recsys":
            raise RunRecordError(str(p), "library", f"{record['library']!r}: only recsys "
                                 f"models' settings can be read")
    name = record.get("model")
    if not isinstance(name, str) or not name:
        raise RunRecordError(str(p), "model" if p.suffix.lower() != ".toml" else "models.name",
                             f"expected a model class name, got {name!r}")
    params = record.get("params")
    if not isinstance(params, dict):
        raise RunRecordError(str(p), "params", f"expected a table of hyperparameters, got "
                             f"{type(params).__name__}")
    for k in params:
        if not isinstance(k, str) or not k.isidentifier():
            raise RunRecordError(str(p), f"params.{k}", "not a valid parameter name")
    if model is not None and name != model:
        raise RunRecordError(str(p), "model", f"the settings are for {name!r}, not {model!r}")
    return record
