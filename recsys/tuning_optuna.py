"""Optuna search: TPE sampling, pruning on per-epoch validation scores, a resumable study.

:func:`optuna_search` is the third search next to :func:`recsys.tuning.grid_search` and
:func:`recsys.tuning.random_search`, with the same contract: it splits the TRAINING data it
is given into ``n_folds`` seeded inner folds (the same for every trial), and a trial's value
is the mean of its scores on the inner test parts. It needs the optional extra
``recsys[tune]`` (optuna); optuna is imported only when the search runs.

Sampling
    Optuna's TPE sampler (Bergstra et al. 2011, "Algorithms for Hyper-Parameter
    Optimization"), the first ``n_startup_trials`` trials drawn at random. Trial ``t`` gets a
    sampler seeded from ``(seed, t)``, so the same seed gives the same trials, and a study
    that was stopped and resumed gives the trials an uninterrupted run gives.

Pruning (``prune=True``)
    Two ways, chosen by the model and the metric:

    * per epoch: a model whose fit takes ``eval_set`` and ``epoch_callback`` (FunkSVD, SVDpp),
      tuned for RMSE, is fitted on each inner train part with the inner test part as
      ``eval_set``; after every epoch its ``history_["eval_rmse"]`` value is reported at step
      ``fold * STEP_STRIDE + epoch``, and the trial stops when Optuna's median rule
      (:class:`optuna.pruners.MedianPruner`) says that value is worse than the median of the
      finished trials at the same fold and epoch. The first ``warmup_epochs`` epochs of
      every fold are never judged (default: half the trial's ``n_epochs``): a small
      learning rate looks bad early and may still end best, and the median rule would
      otherwise stop it at its first judged epoch.
    * per fold: any other model or metric (NDCG@10, ...) reports the running mean of its fold
      scores after each inner fold but the last, and is judged by the same rule there.

    A pruned trial keeps the scores it had (``state = "pruned"``) and counts towards the
    budget; the best parameters come from the completed trials only.

Storage
    ``storage`` (a file path, or an SQLAlchemy URL) keeps the study in Optuna's RDB storage
    (SQLite for a path), so it can be inspected (``optuna.load_study``, optuna-dashboard)
    and resumed: ``n_trials`` is the total the study should hold, and a second call with
    the same arguments runs only the missing trials. The study remembers the model, metric,
    space, folds, seed and a fingerprint of the training data, and refuses to resume with
    others (:class:`~recsys.tuning.TuningError` naming what changed).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from recsys.dataset import Dataset
from recsys.errors import RecsysError
from recsys.tuning import (LOWER_IS_BETTER, IntUniform, LogUniform, TuningError, TuningResult,
                           Uniform, _check_metric, _check_names, _model_class, _plain, _scorer,
                           _short, describe_space)

__all__ = ["optuna_search", "OptunaMissingError", "STEP_STRIDE", "storage_url"]

#: Steps per inner fold in the per-epoch pruning mode: epoch ``e`` of fold ``f`` is step
#: ``f * STEP_STRIDE + e``, so every (fold, epoch) is compared with the same one of the
#: other trials. Models with more epochs than this are pruned per fold instead.
STEP_STRIDE = 100_000


class OptunaMissingError(RecsysError, ImportError):
    """The Optuna search needs the optional dependency optuna (``recsys[tune]``)."""


def _optuna():
    try:
        import optuna
    except ImportError as exc:
        raise OptunaMissingError(f"the optuna search needs optuna: pip install "
                                 f"'recsys[tune]' ({exc})") from None
    return optuna


def storage_url(storage: str | Path | None) -> str | None:
    """An Optuna storage URL: None (in memory), a URL as given, a file path as SQLite."""
    if storage is None:
        return None
    text = str(storage)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        raise ValueError(f"--storage {text}: a folder; give the SQLite file's path")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _fingerprint(train: Dataset) -> str:
    h = hashlib.sha256()
    for a in (train.users, train.items, train.ratings):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(f"{train.n_users},{train.n_items}".encode())
    return h.hexdigest()[:16]


def _suggest(trial, name: str, dist):
    if isinstance(dist, LogUniform):
        return trial.suggest_float(name, float(dist.low), float(dist.high), log=True)
    if isinstance(dist, Uniform):
        return trial.suggest_float(name, float(dist.low), float(dist.high))
    if isinstance(dist, IntUniform):
        return trial.suggest_int(name, int(dist.low), int(dist.high))
    return _plain(trial.suggest_categorical(name, [_plain(v) for v in dist]))


def _check_space(space: Mapping[str, Any]) -> tuple[dict, dict]:
    """(searched, fixed) parts of ``space``; ValueError for what Optuna cannot search."""
    searched, fixed = {}, {}
    for name, dist in space.items():
        if isinstance(dist, (Uniform, LogUniform, IntUniform)):
            if dist.low > dist.high:
                raise ValueError(f"space[{name!r}]: low {dist.low} > high {dist.high}")
            searched[name] = dist
        elif isinstance(dist, (list, tuple)):
            if not dist:
                raise ValueError(f"space[{name!r}]: an empty list of choices")
            for v in dist:
                if v is not None and not isinstance(_plain(v), (bool, int, float, str)):
                    raise ValueError(f"space[{name!r}]: choice {v!r} is a "
                                     f"{type(v).__name__}; Optuna's choices are None, bool, "
                                     f"int, float or str (fix it with base_params)")
            searched[name] = list(dist)
        else:
            fixed[name] = _plain(dist)
    if not searched:
        raise ValueError("nothing to search: every entry of the space is a constant")
    return searched, fixed


def _trial_seed(seed, index: int) -> int:
    base = seed if isinstance(seed, (int, np.integer)) else 0
    return int(np.random.SeedSequence([int(base) & (2**63 - 1), index]).generate_state(1)[0])


class _Pruned(Exception):
    """Raised inside the fit loop to stop a trial; carries where."""

    def __init__(self, where: str):
        self.where = where
        super().__init__(where)


def optuna_search(model, train: Dataset, space: Mapping[str, Any], n_trials: int = 30,
                  n_folds: int = 3, seed=0, metric: str = "rmse",
                  base_params: Mapping[str, Any] | None = None, k: int = 10,
                  relevance_threshold: float = 4.0, storage: str | Path | None = None,
                  study_name: str | None = None, prune: bool = True,
                  n_startup_trials: int = 10, pruner_startup_trials: int = 5,
                  warmup_epochs: int | None = None, progress: bool = False) -> TuningResult:
    """Search ``space`` with Optuna's TPE, ``n_folds``-fold CV on ``train``, and pruning.

    Parameters
    ----------
    model, train, n_folds, seed, metric, base_params, k, relevance_threshold
        As for :func:`recsys.tuning.random_search` (the inner folds come from ``seed``).
    space : mapping
        Name -> :class:`~recsys.tuning.Uniform`, :class:`~recsys.tuning.LogUniform`,
        :class:`~recsys.tuning.IntUniform`, a list of choices, or a constant.
    n_trials : int
        Trials the study holds when the call returns (finished ones of an earlier call on
        the same ``storage`` and ``study_name`` count).
    storage : path or URL, optional
        Where the study lives (a path: an SQLite file); None keeps it in memory.
    study_name : str, optional
        Default ``"<Model>-<metric>"``.
    prune : bool
        Stop unpromising trials early (see the module docstring).
    n_startup_trials : int
        Random trials before TPE models the results.
    pruner_startup_trials : int
        Completed trials before anything is pruned.
    warmup_epochs : int, optional
        Epochs of each inner fold never judged by the pruner (per-epoch mode); default
        half the trial's ``n_epochs``.

    Returns
    -------
    TuningResult
        ``method = "optuna"``; ``scores`` lists every finished trial of the study in order,
        each with ``state`` ("complete", "pruned" or "failed"), ``number`` and, when pruned,
        ``pruned_at``; ``info`` holds the study name, storage, pruning mode and pruned count.
    """
    optuna = _optuna()
    from recsys.split import kfold

    if not isinstance(train, Dataset):
        raise TypeError(f"train must be a recsys Dataset, got {type(train).__name__}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    for name, v in (("n_startup_trials", n_startup_trials),
                    ("pruner_startup_trials", pruner_startup_trials),
                    ("warmup_epochs", 0 if warmup_epochs is None else warmup_epochs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    k = _check_metric(metric, k)
    cls = _model_class(model)
    base = dict(base_params or {})
    searched, fixed = _check_space(space)
    _check_names(cls, list(base) + list(space))
    lower = metric in LOWER_IS_BETTER
    folds = kfold(train, n_folds=n_folds, seed=seed)
    score = _scorer(metric, k, relevance_threshold)
    fit_args = inspect.signature(cls._fit).parameters
    per_epoch = (prune and metric == "rmse" and "eval_set" in fit_args
                 and "epoch_callback" in fit_args)
    mode = "epoch" if per_epoch else ("fold" if prune and n_folds > 1 else "none")

    name = study_name or f"{cls.__name__}-{metric}"
    url = storage_url(storage)
    signature = {"model": cls.__name__, "metric": metric, "n_folds": int(n_folds),
                 "seed": _plain(seed) if isinstance(seed, (int, np.integer)) else repr(seed),
                 "space": describe_space(space), "base_params": _json_safe(base),
                 "train": _fingerprint(train), "prune": mode}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=pruner_startup_trials)
                  if mode != "none" else optuna.pruners.NopPruner())
        try:
            study = optuna.create_study(storage=url, study_name=name, load_if_exists=True,
                                        direction="minimize" if lower else "maximize",
                                        pruner=pruner)
        except ValueError as exc:  # e.g. the stored study has the other direction
            raise TuningError(f"study {name!r} in {storage}: {exc}") from None
        _check_signature(study, signature, name, storage)
        finished = _finished(study, optuna)
        todo = max(int(n_trials) - len(finished), 0)
        bar = None
        if progress and todo:
            from tqdm.auto import tqdm
            bar = tqdm(total=todo, desc=f"optuna {cls.__name__}", unit="trial")
        for _ in range(todo):
            index = len(_finished(study, optuna))
            study.sampler = optuna.samplers.TPESampler(
                seed=_trial_seed(seed, index), n_startup_trials=n_startup_trials,
                multivariate=True, constant_liar=False)
            trial = study.ask()
            try:
                _run_trial(study, trial, cls, base, searched, fixed, folds, score, mode,
                           warmup_epochs, optuna)
            except BaseException:  # an interrupt: the study keeps no trial left running
                study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
                raise
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        trials = _finished(study, optuna)
    finally:
        optuna.logging.set_verbosity(verbosity)

    scores = [_score_entry(t, fixed, optuna) for t in trials]
    ok = [s for s in scores if s["state"] == "complete"]
    if not ok:
        first = scores[0]
        desc = ", ".join(f"{a}={_short(v)}" for a, v in first["params"].items())
        raise TuningError(f"no trial completed; the first ({desc}): "
                          f"{first['error'] or 'pruned at ' + str(first.get('pruned_at'))}")
    best = (min if lower else max)(ok, key=lambda s: s["mean"])
    info = {"study_name": name, "storage": str(storage) if storage is not None else None,
            "sampler": "TPESampler(multivariate=True, seed per trial from (seed, trial))",
            "n_startup_trials": n_startup_trials, "pruning": mode,
            "pruner": (f"MedianPruner(n_startup_trials={pruner_startup_trials})"
                       if mode != "none" else None),
            "warmup_epochs": (("half of n_epochs" if warmup_epochs is None else warmup_epochs)
                              if mode == "epoch" else None),
            "n_pruned": sum(s["state"] == "pruned" for s in scores),
            "n_failed": sum(s["state"] == "failed" for s in scores)}
    return TuningResult(model=cls.__name__, metric=metric, lower_is_better=lower,
                        best_params={**base, **best["params"]}, best_score=best["mean"],
                        scores=scores, n_folds=n_folds, seed=seed, base_params=base,
                        method="optuna", space=describe_space(space), info=info)


def _json_safe(value):
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def _check_signature(study, signature: dict, name: str, storage) -> None:
    stored = study.user_attrs.get("recsys")
    if stored is None:
        if study.trials:
            raise TuningError(f"study {name!r} in {storage} was not made by recsys tune "
                              f"(no recsys attributes); give another --study-name")
        study.set_user_attr("recsys", signature)
        return
    for key, value in signature.items():
        if stored.get(key) != value:
            raise TuningError(f"study {name!r} in {storage} was run with another {key} "
                              f"({stored.get(key)!r}, now {value!r}); resume it with the same "
                              f"arguments, or give another --study-name")


def _finished(study, optuna) -> list:
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.FAIL)
    return [t for t in study.get_trials(deepcopy=False) if t.state in done]


def _run_trial(study, trial, cls, base, searched, fixed, folds, score, mode, warmup,
               optuna) -> None:
    params = {name: _suggest(trial, name, dist) for name, dist in searched.items()}
    params.update(fixed)
    values, fit_seconds = [], 0.0

    def report(value: float, step: int, where: str) -> None:
        trial.report(float(value), step)  # NaN (a diverged fit) is pruned at once
        with warnings.catch_warnings():  # numpy's all-NaN warning on such a trial
            warnings.simplefilter("ignore", RuntimeWarning)
            prune = trial.should_prune()
        if prune:
            raise _Pruned(where)

    try:
        for f, fold in enumerate(folds):
            m = cls(**{**base, **params})
            t0 = time.perf_counter()
            if mode == "epoch":
                skip = (int(getattr(m, "n_epochs", 0)) // 2 if warmup is None else warmup)

                def callback(epoch, history, f=f, skip=skip):
                    if skip < epoch < STEP_STRIDE and history.get("eval_rmse"):
                        v = history["eval_rmse"][-1]
                        report(v, f * STEP_STRIDE + epoch,
                               f"fold {f + 1} epoch {epoch}: eval RMSE {v:.4f}")
                try:
                    m.fit(fold.train, eval_set=fold.test, epoch_callback=callback)
                finally:
                    fit_seconds += time.perf_counter() - t0
            else:
                m.fit(fold.train)
                fit_seconds += time.perf_counter() - t0
            values.append(float(score(m, fold.train, fold.test)))
            if mode == "fold" and f < len(folds) - 1:
                mean = float(np.mean(values))
                report(mean, f, f"fold {f + 1}: mean {mean:.4f}")
    except _Pruned as p:
        trial.set_user_attr("folds", values)
        trial.set_user_attr("fit_seconds", fit_seconds)
        trial.set_user_attr("pruned_at", p.where)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        trial.set_user_attr("folds", values)
        trial.set_user_attr("fit_seconds", fit_seconds)
        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    v = np.asarray(values, dtype=np.float64)
    trial.set_user_attr("folds", v.tolist())
    trial.set_user_attr("fit_seconds", fit_seconds)
    trial.set_user_attr("std", float(v.std(ddof=1)) if len(v) > 1 else None)
    if not np.isfinite(v).all():
        trial.set_user_attr("error", f"a non-finite score {v.tolist()}")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    study.tell(trial, float(v.mean()))


def _score_entry(t, fixed: dict, optuna) -> dict[str, Any]:
    """A finished trial as a :class:`TuningResult` candidate entry."""
    state = {optuna.trial.TrialState.COMPLETE: "complete",
             optuna.trial.TrialState.PRUNED: "pruned"}.get(t.state, "failed")
    attrs = t.user_attrs
    std = attrs.get("std")
    return {"number": t.number, "params": {**{k: _plain(v) for k, v in t.params.items()},
                                           **fixed},
            "mean": float(t.value) if state == "complete" else float("nan"),
            "std": float("nan") if std is None else float(std),
            "folds": list(attrs.get("folds", [])),
            "fit_seconds": float(attrs.get("fit_seconds", 0.0)), "state": state,
            "error": attrs.get("error") if state == "failed" else None,
            "pruned_at": attrs.get("pruned_at")}
