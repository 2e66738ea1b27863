"""implicit (top-N): ``AlternatingLeastSquares``, ``BayesianPersonalizedRanking`` (CPU classes).

Each peer gets the input that makes it optimise the objective of our counterpart:

- ALS. Ours (:class:`~recsys.models.ials.ImplicitALS`) weighs a positive by the confidence
  ``1 + alpha * r`` with ``r = 1`` (Hu, Koren & Volinsky 2008, eq. 3: ``c = 1 + alpha``) and
  every other pair by 1; ``implicit`` weighs a stored entry by ``alpha * value`` and every
  other pair by 1. With ``confidence = "1+alpha*r"`` (the default) the adapter reads the
  ``alpha`` it is given as ours, hands implicit the matrix ``1 + alpha * r`` and implicit's
  own ``alpha = 1``: the two then minimise the same loss (same regularisation ``lambda I``,
  unscaled; same init uniform on ``[0, 0.01)`` from ``numpy.random.default_rng(seed)``, as
  ours draws it). ``confidence = "alpha*r"`` is implicit's convention, unchanged (positive
  confidence ``alpha``): a labelled variant, not our objective.
- BPR. implicit's BPR samples a stored (user, item) pair uniformly, then the negative item
  in proportion to its count of positives (another stored pair's item), and skips a sample
  whose negative is a positive of the user (``verify_negative_samples``); the like-for-like
  counterpart is our BPR with ``negative_sampling = "popularity"``,
  ``redraw_negatives = False``, ``use_item_bias = True`` on one thread, against this adapter
  with ``num_threads = 1``. The matrix is binary (every positive 1).

Positives are every rating unless ``threshold`` is set (ratings ``>= threshold``, as our
models' ``threshold``). The conversion to implicit's CSR is :meth:`prepare`, outside the
timed fit. ``random_state = 0`` is set where implicit's default is unseeded, and
``num_threads`` to Numba's thread count (what our models use) where not given; BLAS is
limited to one thread while implicit fits, as implicit asks. Scores are
``user_factors @ item_factors.T``.
"""

from __future__ import annotations

import importlib
from typing import Any

import numba
import numpy as np

from recsys.bench.adapters._base import PeerAdapter, blas_one_thread
from recsys.dataset import Dataset

NAMES = ("AlternatingLeastSquares", "BayesianPersonalizedRanking")
IMPORT_NAME = "implicit"
OWN_PARAMS = ("confidence", "threshold")
#: ALS confidence conventions: ours (the default), or implicit's own.
CONFIDENCES = ("1+alpha*r", "alpha*r")


def library_class(name: str):
    module = "implicit.cpu.als" if name == "AlternatingLeastSquares" else "implicit.cpu.bpr"
    return getattr(importlib.import_module(module), name)


def implicit_input(train: Dataset, algorithm: str, alpha: float = 1.0,
                   confidence: str = "1+alpha*r", threshold: float | None = None):
    """The float32 CSR matrix (users x items) implicit's ``algorithm`` is given for ``train``.

    ALS with ``confidence = "1+alpha*r"``: ``1 + alpha`` on every positive (our confidence;
    implicit's alpha must then be 1); with ``"alpha*r"``: 1 on every positive (implicit
    multiplies by its alpha). BPR: 1 on every positive.
    """
    from recsys.models._implicit import positives_csr

    if confidence not in CONFIDENCES:
        raise ValueError(f"implicit adapter: confidence must be one of {list(CONFIDENCES)}, "
                         f"got {confidence!r}")
    m = positives_csr(train.csr, threshold)
    if algorithm == "AlternatingLeastSquares" and confidence == "1+alpha*r":
        m.data = (np.float32(1.0) + np.float32(alpha) * m.data).astype(np.float32)
    return m


class Adapter(PeerAdapter):
    """An ``implicit`` CPU model behind the Recommender API (top-N scores, not ratings)."""

    library = "implicit"
    predicts_ratings = False

    def _own(self) -> tuple[str, float | None]:
        confidence = self.params.get("confidence", "1+alpha*r")
        if confidence not in CONFIDENCES:
            raise ValueError(f"implicit adapter: confidence must be one of "
                             f"{list(CONFIDENCES)}, got {confidence!r}")
        return confidence, self.params.get("threshold")

    def effective_params(self) -> dict[str, Any]:
        """What implicit's class receives: with our confidence convention its alpha is 1
        (the ``alpha`` given is ours, folded into the matrix)."""
        p = {k: v for k, v in self.params.items() if k not in OWN_PARAMS}
        p.setdefault("random_state", 0)
        # The thread count our models run on (Numba's), recorded with the parameters;
        # implicit's own default (0) means every core.
        p.setdefault("num_threads", numba.get_num_threads())
        if self.algorithm == "AlternatingLeastSquares" and self._own()[0] == "1+alpha*r":
            p["alpha"] = 1.0
        return p

    def _alpha(self) -> float:
        return float(self.params.get("alpha", 1.0))

    def _convert(self, train: Dataset):
        confidence, threshold = self._own()
        return implicit_input(train, self.algorithm, self._alpha(), confidence, threshold)

    def _fit(self, train: Dataset, **fit_options) -> None:
        m = self._converted(train)
        cls = library_class(self.algorithm)
        with blas_one_thread():
            self.model_ = cls(**self.effective_params())
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
