"""Toy models for tests/test_bench_dask.py, in a module of their own so that a Dask worker
process can import them (a worker unpickles a model class by importing its module; this one
needs nothing but recsys and NumPy)."""

from __future__ import annotations

import os
import time

import numpy as np

from recsys.dataset import Dataset
from recsys.models.base import Recommender


class DaskToyBias(Recommender):
    """mu + damped item bias. ``delay`` seconds of sleep in each fit; with ``log_path``,
    each fit appends ``"<pid> start <n_ratings>"`` before the sleep and ``"<pid> end ..."``
    after it, so a test sees which process ran which fit and which never finished."""

    def __init__(self, reg: float = 5.0, delay: float = 0.0, log_path: str = ""):
        self.reg = reg
        self.delay = delay
        self.log_path = log_path

    def _note(self, what: str, train: Dataset) -> None:
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()} {what} {train.n_ratings}\n")

    def _fit(self, train: Dataset, **fit_options) -> None:
        self._note("start", train)
        time.sleep(self.delay)
        dev = np.bincount(train.items, weights=train.ratings - train.global_mean,
                          minlength=train.n_items)
        self.item_bias_ = dev / (train.item_counts + self.reg)
        self._note("end", train)

    def _score(self, users, items):
        b = np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], 0.0)
        return self.global_mean_ + b

    def _score_users(self, users):
        return np.tile(self.global_mean_ + self.item_bias_, (len(users), 1))


class DaskToyRaises(DaskToyBias):
    """Its fit raises: the cell's row must carry the error."""

    def _fit(self, train: Dataset, **fit_options) -> None:
        raise ValueError("toy failure on purpose")


class DaskToyExits(DaskToyBias):
    """Its fit ends the process that runs it: every worker given the cell dies."""

    def _fit(self, train: Dataset, **fit_options) -> None:
        os._exit(3)


TOYS = (DaskToyBias, DaskToyRaises, DaskToyExits)


def numba_threads() -> int:
    """The Numba threads a task may use (run inside a task: the cap recsys set)."""
    import numba

    return numba.get_num_threads()


def numba_pool() -> int:
    """The size of a process's Numba pool (``NUMBA_NUM_THREADS``)."""
    import numba

    return numba.config.NUMBA_NUM_THREADS
