"""Optuna search (recsys.tuning_optuna): seeded, resumable from its SQLite file, pruning."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optuna  # the tune extra, installed with the test extras: a missing one fails here

from recsys.dataset import Dataset
from recsys.models.base import Recommender
from recsys.models.registry import register, unregister
from recsys.tuning import IntUniform, LogUniform, TuningError, Uniform
from recsys.tuning_optuna import STEP_STRIDE, optuna_search, storage_url


class OptunaToy(Recommender):
    """mu + damped item bias + shift; counts its fits."""

    fits = 0

    def __init__(self, reg_item: float = 5.0, shift: float = 0.0):
        self.reg_item = reg_item
        self.shift = shift

    def _fit(self, train: Dataset, **kw) -> None:
        OptunaToy.fits += 1
        r = train.ratings - train.global_mean
        bi = np.bincount(train.items, weights=r, minlength=train.n_items)
        self.bi_ = bi / (train.item_counts + self.reg_item)

    def _score(self, users, items):
        bi = np.where(items >= 0, self.bi_[np.maximum(items, 0)], 0.0)
        return self.global_mean_ + bi + self.shift

    def _score_users(self, users):
        return np.broadcast_to(self.global_mean_ + self.shift + self.bi_[None, :],
                               (len(users), len(self.bi_))).copy()


@pytest.fixture
def toy():
    register(OptunaToy)
    OptunaToy.fits = 0
    yield OptunaToy
    unregister("OptunaToy")


@pytest.fixture(scope="module")
def train():
    from recsys.data.synthetic import generate

    return generate(60, 40, 1200, seed=3)


FUNK_SPACE = {"learning_rate": LogUniform(0.001, 0.5), "reg_factors": LogUniform(0.005, 0.5)}
FUNK_BASE = {"n_factors": 4, "n_epochs": 10, "seed": 0}


def _funk(train, **kw):
    args = dict(n_trials=8, n_folds=2, seed=0, base_params=FUNK_BASE, n_startup_trials=4,
                pruner_startup_trials=2, warmup_epochs=2)
    args.update(kw)
    return optuna_search("FunkSVD", train, FUNK_SPACE, **args)


def _trials(res):
    return [(s["state"], s["params"], s["mean"]) for s in res.scores]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        x[0] == y[0] and x[1] == y[1] and (math.isnan(x[2]) and math.isnan(y[2])
                                           or math.isclose(x[2], y[2], rel_tol=1e-9))
        for x, y in zip(a, b))


def test_same_seed_same_trials_and_other_seed_other_trials(train):
    a, b, c = _funk(train), _funk(train), _funk(train, seed=1)
    assert _same(_trials(a), _trials(b))
    assert [s["params"] for s in a.scores] != [s["params"] for s in c.scores]
    assert a.method == "optuna" and len(a.scores) == 8
    ok = [s for s in a.scores if s["state"] == "complete"]
    assert a.best_score == min(s["mean"] for s in ok)
    assert a.best_params == {**FUNK_BASE, **min(ok, key=lambda s: s["mean"])["params"]}
    for s in a.scores:  # the space's bounds hold
        assert 0.001 <= s["params"]["learning_rate"] <= 0.5
    assert a.space == {"learning_rate": {"log_uniform": [0.001, 0.5]},
                       "reg_factors": {"log_uniform": [0.005, 0.5]}}


def test_a_study_stopped_and_resumed_equals_one_run_through(train, tmp_path):
    db = tmp_path / "study.db"
    first = _funk(train, n_trials=5, storage=db)
    assert db.is_file() and len(first.scores) == 5
    resumed = _funk(train, n_trials=8, storage=db)
    assert _same(_trials(resumed)[:5], _trials(first))        # the stored trials are kept
    assert _same(_trials(resumed), _trials(_funk(train)))    # and the rest is what one run gives
    again = _funk(train, n_trials=8, storage=db)              # nothing left to run
    assert _same(_trials(again), _trials(resumed))
    # the file is an ordinary Optuna study, open to inspection
    study = optuna.load_study(study_name="FunkSVD-rmse", storage=storage_url(db))
    assert len(study.trials) == 8 and study.user_attrs["recsys"]["model"] == "FunkSVD"


def test_resuming_with_other_arguments_is_refused(train, tmp_path):
    db = tmp_path / "study.db"
    _funk(train, n_trials=2, storage=db)
    with pytest.raises(TuningError, match="another space"):
        optuna_search("FunkSVD", train, {"learning_rate": LogUniform(0.01, 0.1)}, n_trials=3,
                      n_folds=2, base_params=FUNK_BASE, storage=db)
    with pytest.raises(TuningError, match="another n_folds"):
        _funk(train, n_trials=3, storage=db, n_folds=3)
    with pytest.raises(TuningError, match="another train"):
        _funk(train.subset(np.arange(train.n_ratings) % 2 == 0), n_trials=3, storage=db)


def test_epoch_models_are_pruned_between_epochs(train):
    # learning rates up to 0.5 diverge or crawl: the median rule stops them mid-fit
    res = _funk(train, n_trials=14)
    assert res.info["pruning"] == "epoch"
    pruned = [s for s in res.scores if s["state"] == "pruned"]
    assert pruned and res.info["n_pruned"] == len(pruned)
    for s in pruned:
        assert "epoch" in s["pruned_at"] and math.isnan(s["mean"])
        fold, epoch = (int(w) for w in s["pruned_at"].split(":")[0].split()[1::2])
        assert len(s["folds"]) == fold - 1 and 2 < epoch <= FUNK_BASE["n_epochs"]
    # by default the first half of every fold's epochs is never judged
    for s in _funk(train, n_trials=14, warmup_epochs=None).scores:
        if s["state"] == "pruned":
            assert int(s["pruned_at"].split(":")[0].split()[3]) > FUNK_BASE["n_epochs"] // 2
    # none is pruned once pruning is off, and every trial then scores every fold
    off = _funk(train, n_trials=14, prune=False)
    assert off.info["pruning"] == "none"
    assert not [s for s in off.scores if s["state"] == "pruned"]
    assert all(len(s["folds"]) == 2 for s in off.scores if s["state"] == "complete")
    diverged = [s for s in off.scores if s["state"] == "failed"]  # lr 0.4: NaN predictions
    assert all(s["params"]["learning_rate"] > 0.2 and "nan" in s["error"] for s in diverged)
    assert STEP_STRIDE > FUNK_BASE["n_epochs"]


def test_other_models_and_metrics_are_pruned_after_a_fold(toy, train):
    # a constant shift only hurts: the shifted trials lose to the median after fold one
    space = {"reg_item": LogUniform(0.5, 50.0), "shift": Uniform(0.0, 2.0)}
    res = optuna_search("OptunaToy", train, space, n_trials=12, n_folds=3, seed=0,
                        n_startup_trials=3, pruner_startup_trials=2)
    assert res.info["pruning"] == "fold"
    pruned = [s for s in res.scores if s["state"] == "pruned"]
    assert pruned and all(len(s["folds"]) in (1, 2) and "fold" in s["pruned_at"]
                          for s in pruned)
    assert OptunaToy.fits == sum(len(s["folds"]) for s in res.scores)  # pruned: fewer fits
    best = min((s for s in res.scores if s["state"] == "complete"), key=lambda s: s["mean"])
    assert best["params"]["shift"] < 1.0
    # ranking metrics are maximised and pruned the same way
    top = optuna_search("OptunaToy", train, {"reg_item": [0.5, 5.0, 50.0]}, n_trials=4,
                        n_folds=2, metric="ndcg@5", seed=0)
    assert top.lower_is_better is False and top.info["pruning"] == "fold"
    assert top.best_score == max(s["mean"] for s in top.scores if s["state"] == "complete")
    assert set(top.space["reg_item"]) == {"choice"}


def test_failing_trials_are_recorded_and_all_failing_is_one_error(toy, train):
    res = optuna_search("FunkSVD", train, {"n_factors": IntUniform(-3, 4)}, n_trials=6,
                        n_folds=2, base_params={"n_epochs": 2}, prune=False)
    failed = [s for s in res.scores if s["state"] == "failed"]
    assert failed and all("n_factors must be >= 1" in s["error"] for s in failed)
    assert res.best_params["n_factors"] >= 1
    with pytest.raises(TuningError, match="no trial completed.*n_factors must be >= 1"):
        optuna_search("FunkSVD", train, {"n_factors": IntUniform(-3, 0)}, n_trials=2,
                      n_folds=2)


def test_bad_arguments_name_the_problem(train, tmp_path):
    for kwargs, words in [
        (dict(space={"learning_rat": LogUniform(0.01, 0.1)}), "no hyperparameter 'learning_rat'"),
        (dict(space={"n_epochs": 3}), "nothing to search"),
        (dict(space={"n_epochs": []}), "empty list of choices"),
        (dict(space={"dtype": [np.float32]}), "Optuna's choices are"),
        (dict(n_trials=0), "n_trials must be an integer >= 1"),
        (dict(metric="ndcg@x"), "unknown metric"),
        (dict(storage=tmp_path), "a folder"),
    ]:
        args = {"space": FUNK_SPACE, **kwargs}
        with pytest.raises(ValueError, match=words):
            optuna_search("FunkSVD", train, n_folds=2, **args)
    with pytest.raises(TypeError, match="recsys Dataset"):
        optuna_search("FunkSVD", [1, 2], FUNK_SPACE)


def test_without_optuna_the_search_says_what_to_install(train, monkeypatch):
    import sys

    from recsys.tuning_optuna import OptunaMissingError

    monkeypatch.setitem(sys.modules, "optuna", None)  # as if the tune extra were missing
    with pytest.raises(OptunaMissingError, match=r"pip install 'recsys\[tune\]'"):
        optuna_search("FunkSVD", train, FUNK_SPACE)
