"""Thin adapters that run the reference libraries inside our harness.

Each adapter is a :class:`~recsys.models.base.Recommender`: it takes the same
:class:`~recsys.dataset.Dataset` and the same folds as our models, converts the training part
to the library's own structure, fits the library's model with the given hyperparameters, and
answers ``predict`` / ``score_items`` so that OUR metric and evaluation code scores it.

- Surprise (rating prediction): ``BaselineOnly``, ``SVD``, ``SVDpp``, ``KNNBasic``,
  ``KNNWithMeans``, ``KNNBaseline``. Predictions come from Surprise's own ``algo.predict``
  (so its fallback for unknown users/items is kept: its ``default_prediction``, the training
  mean); clipping to the rating scale is ours, identical to Surprise's ``clip=True``.
  Raw ids given to Surprise are our internal indices.
- implicit (top-N): ``AlternatingLeastSquares``, ``BayesianPersonalizedRanking`` (CPU
  classes). The training matrix is binarised (every rating is an interaction with value 1)
  unless ``binarize = false``; scores are ``user_factors @ item_factors.T``.

Defaults we set where the library's default would be unseeded or noisy, and which the results
record: Surprise ``random_state = 0`` (SVD, SVDpp) and ``verbose = False``; implicit
``random_state = 0``. BLAS is limited to one thread while implicit fits, as implicit asks.

The time spent converting our Dataset to the library's structure is measured separately
(``convert_seconds_``) and the harness subtracts it from the fit time: a user of the library
would load the data into its structure directly.
"""

from __future__ import annotations

import importlib
import inspect
import time
from typing import Any, ClassVar

import numpy as np

from recsys.dataset import Dataset
from recsys.models.base import Recommender

#: library -> adapter names it offers.
ADAPTERS: dict[str, tuple[str, ...]] = {
    "surprise": ("BaselineOnly", "SVD", "SVDpp", "KNNBasic", "KNNWithMeans", "KNNBaseline"),
    "implicit": ("AlternatingLeastSquares", "BayesianPersonalizedRanking"),
}
_IMPORT_NAMES = {"surprise": "surprise", "implicit": "implicit"}


def library_error(library: str) -> str | None:
    """None if ``library`` imports, else one line saying why not."""
    try:
        importlib.import_module(_IMPORT_NAMES[library])
    except Exception as exc:  # ImportError, or a binary extension failing to load
        return (f"{library} cannot be imported ({type(exc).__name__}: {exc}); install "
                f"recsys[bench] to run it")
    return None


#: Parameters an adapter takes itself, not passed to the library's class.
_OWN_PARAMS = {"implicit": ("binarize",)}
#: Keywords a Surprise class takes through **kwargs (its AlgoBase reads them).
_SURPRISE_KWARGS = ("bsl_options", "sim_options")


def _library_class(library: str, name: str):
    if library == "surprise":
        return getattr(importlib.import_module("surprise"), name)
    module = "implicit.cpu.als" if name == "AlternatingLeastSquares" else "implicit.cpu.bpr"
    return getattr(importlib.import_module(module), name)


def param_error(library: str, name: str, params: dict[str, Any]
                ) -> tuple[str, list[str]] | None:
    """``(bad name, valid names)`` for the first parameter the library's class does not take,
    or None. The library must import. Checked against the class's signature, since Surprise's
    KNN classes swallow unknown keywords (``KNNBasic(k_neighbours=5)`` runs with k=40)."""
    try:
        signature = inspect.signature(_library_class(library, name))
    except (TypeError, ValueError):
        return None  # no signature to check against: the library's own call decides
    valid = [p.name for p in signature.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        valid += [k for k in _SURPRISE_KWARGS if library == "surprise" and k not in valid]
    valid += list(_OWN_PARAMS.get(library, ()))
    for key in params:
        if key not in valid:
            return key, valid
    return None


def make_adapter(library: str, name: str, params: dict[str, Any] | None = None) -> Recommender:
    """The adapter for ``library``'s ``name`` with ``params``. ValueError for an unknown name."""
    if library not in ADAPTERS:
        raise ValueError(f"no adapters for library {library!r}; have {sorted(ADAPTERS)}")
    if name not in ADAPTERS[library]:
        raise ValueError(f"{library} has no adapter {name!r}; available: "
                         f"{list(ADAPTERS[library])}")
    cls = SurpriseAdapter if library == "surprise" else ImplicitAdapter
    return cls(name, dict(params or {}))


class _Adapter(Recommender):
    library: ClassVar[str] = ""

    def __init__(self, algorithm: str, params: dict[str, Any] | None = None):
        self.algorithm = algorithm
        self.params = dict(params or {})

    def effective_params(self) -> dict[str, Any]:
        """The keyword arguments the library's class receives (ours + the defaults we set)."""
        return dict(self.params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.effective_params().items())
        return f"{self.library}.{self.algorithm}({args})"


class SurpriseAdapter(_Adapter):
    """A Surprise prediction algorithm behind the Recommender API (rating prediction)."""

    library = "surprise"
    predicts_ratings = True

    def effective_params(self) -> dict[str, Any]:
        p = dict(self.params)
        if self.algorithm in ("SVD", "SVDpp"):
            p.setdefault("random_state", 0)
        if self.algorithm in ("BaselineOnly", "KNNBasic", "KNNWithMeans", "KNNBaseline",
                              "SVD", "SVDpp"):
            p.setdefault("verbose", False)
        return p

    def _fit(self, train: Dataset, **fit_options) -> None:
        import pandas as pd
        import surprise

        t0 = time.perf_counter()
        frame = pd.DataFrame({"user": train.users.astype(np.int64),
                              "item": train.items.astype(np.int64),
                              "rating": train.ratings.astype(np.float64)})
        reader = surprise.Reader(rating_scale=train.rating_scale)
        trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
        self.user_inner_ = _inner_map(trainset._raw2inner_id_users, train.n_users)
        self.item_inner_ = _inner_map(trainset._raw2inner_id_items, train.n_items)
        self.convert_seconds_ = time.perf_counter() - t0
        self.algo_ = getattr(surprise, self.algorithm)(**self.effective_params())
        self.algo_.fit(trainset)

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        predict = self.algo_.predict
        out = np.empty(len(users), dtype=np.float64)
        # Surprise's own predict: raw ids are our indices; -1 is unknown to it, as it should be.
        for j, (u, i) in enumerate(zip(users.tolist(), items.tolist())):
            out[j] = predict(u, i, clip=False).est
        return out

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        a = self.algo_
        if self.algorithm not in ("SVD", "BaselineOnly"):
            return super()._score_users(users)  # one Surprise predict per pair: slow
        # Vectorised copy of Surprise's estimate(): the same terms, the same fallbacks.
        ui = np.where(users >= 0, self.user_inner_[np.maximum(users, 0)], -1)
        ku, ki = ui >= 0, self.item_inner_ >= 0
        mu = a.trainset.global_mean
        if self.algorithm == "BaselineOnly":
            bu, bi = a.bu, a.bi
        elif a.biased:
            bu, bi = a.bu, a.bi
        else:
            bu = bi = None
        scores = np.full((len(users), self.n_items_), mu if bu is not None else np.nan)
        if bu is not None:
            scores[ku] += bu[ui[ku]][:, None]
            scores[:, ki] += bi[self.item_inner_[ki]][None, :]
        if self.algorithm == "SVD":
            both = np.ix_(ku, ki)
            dot = a.pu[ui[ku]] @ a.qi[self.item_inner_[ki]].T
            scores[both] = dot if bu is None else scores[both] + dot
            if bu is None:  # unbiased SVD: PredictionImpossible -> the default prediction
                scores[np.isnan(scores)] = mu
        return scores


class ImplicitAdapter(_Adapter):
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
        with _blas_one_thread():
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


def _inner_map(raw2inner: dict, n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    if raw2inner:
        raw = np.fromiter(raw2inner.keys(), dtype=np.int64, count=len(raw2inner))
        inner = np.fromiter(raw2inner.values(), dtype=np.int64, count=len(raw2inner))
        out[raw] = inner
    return out


class _blas_one_thread:
    """Limit BLAS to one thread inside the block (implicit's advice), if threadpoolctl exists."""

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
            self._ctx = threadpool_limits(1, "blas")
        except ImportError:
            self._ctx = None
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.restore_original_limits()
        return False
