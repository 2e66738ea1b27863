"""implicit (top-N): ``AlternatingLeastSquares``, ``BayesianPersonalizedRanking`` (CPU classes).

The training matrix is binarised (every rating is an interaction with value 1) unless
``binarize = false``; scores are ``user_factors @ item_factors.T``. ``random_state = 0`` is
set where implicit's default is unseeded; BLAS is limited to one thread while implicit fits,
as implicit asks.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

import numpy as np

from recsys.bench.adapters._base import PeerAdapter, blas_one_thread
from recsys.dataset import Dataset

NAMES = ("AlternatingLeastSquares", "BayesianPersonalizedRanking")
IMPORT_NAME = "implicit"
OWN_PARAMS = ("binarize",)


def library_class(name: str):
    module = "implicit.cpu.als" if name == "AlternatingLeastSquares" else "implicit.cpu.bpr"
    return getattr(importlib.import_module(module), name)


class Adapter(PeerAdapter):
    """An ``implicit`` CPU model behind the Recommender API (top-N scores, not ratings)."""

    library = "implicit"
    predicts_ratings = False

    def effective_params(self) -> dict[str, Any]:
        p = dict(self.params)
        p.setdefault("random_state", 0)
        return p

    def _fit(self, train: Dataset, **fit_options) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        cls = {"AlternatingLeastSquares": AlternatingLeastSquares,
               "BayesianPersonalizedRanking": BayesianPersonalizedRanking}[self.algorithm]
        params = self.effective_params()
        binarize = params.pop("binarize", True)
        t0 = time.perf_counter()
        m = train.csr.astype(np.float32)
        if binarize:
            m.data[:] = 1.0
        self.convert_seconds_ = time.perf_counter() - t0
        with blas_one_thread():
            self.model_ = cls(**params)
            self.model_.fit(m, show_progress=False)
        self.user_factors_ = np.asarray(self.model_.user_factors)
        self.item_factors_ = np.asarray(self.model_.item_factors)

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.zeros(len(users), dtype=np.float64)
        ok = (users >= 0) & (items >= 0)
        out[ok] = np.einsum("ij,ij->i", self.user_factors_[users[ok]],
                            self.item_factors_[items[ok]])
        return out

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        scores = np.zeros((len(users), self.n_items_), dtype=np.float64)
        ok = users >= 0
        scores[ok] = self.user_factors_[users[ok]] @ self.item_factors_.T
        return scores


