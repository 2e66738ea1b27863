"""Surprise (rating prediction): ``BaselineOnly``, ``SVD``, ``SVDpp``, ``KNNBasic``,
``KNNWithMeans``, ``KNNBaseline``.

Predictions come from Surprise's own ``algo.predict`` (so its fallback for unknown users/items
is kept: its ``default_prediction``, the training mean); clipping to the rating scale is ours,
identical to Surprise's ``clip=True``. Raw ids given to Surprise are our internal indices.
Defaults we set where Surprise's would be unseeded or noisy, and which the results record:
``random_state = 0`` (SVD, SVDpp) and ``verbose = False``. Building Surprise's trainset is
:meth:`prepare`, outside the timed fit.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from recsys.bench.adapters._base import PeerAdapter, inner_map
from recsys.dataset import Dataset

NAMES = ("BaselineOnly", "SVD", "SVDpp", "KNNBasic", "KNNWithMeans", "KNNBaseline")
IMPORT_NAME = "surprise"
OWN_PARAMS: tuple[str, ...] = ()
#: Keywords a Surprise class takes through **kwargs (its AlgoBase reads them).
KWARGS = ("bsl_options", "sim_options")


def library_class(name: str):
    return getattr(importlib.import_module("surprise"), name)


class Adapter(PeerAdapter):
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

    def _convert(self, train: Dataset):
        import pandas as pd
        import surprise

        frame = pd.DataFrame({"user": train.users.astype(np.int64),
                              "item": train.items.astype(np.int64),
                              "rating": train.ratings.astype(np.float64)})
        reader = surprise.Reader(rating_scale=train.rating_scale)
        return surprise.Dataset.load_from_df(frame, reader).build_full_trainset()

    def _fit(self, train: Dataset, **fit_options) -> None:
        import surprise

        trainset = self._converted(train)
        self.user_inner_ = inner_map(trainset._raw2inner_id_users, train.n_users)
        self.item_inner_ = inner_map(trainset._raw2inner_id_items, train.n_items)
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


