"""Spark MLlib (rating prediction and top-N): ``ALS`` (``pyspark.ml.recommendation.ALS``).

One adapter name, ``ALS``: explicit ratings by default, implicit feedback with
``implicitPrefs = true`` (then the training matrix is binarised unless ``binarize = false``,
as the implicit adapter does, and the model is a top-N model, not a rating one). The session
runs on ``$RECSYS_SPARK_MASTER`` (``recsys bench --spark-master URL`` sets it), else on the
``master`` parameter, else on ``local[*]``; its start-up is timed apart from the fit
(``startup_seconds_``: the seconds this fit waited for a session, 0 once one runs), and so is
the conversion of the fold to a cached Spark DataFrame (``convert_seconds_``).

Explicit ratings are centred by default (``center = true``: Spark fits ``r - mu`` and
predicts ``mu + x_u . y_i``), so that the model is recsys ALS with ``biases=False``; see
:mod:`recsys.engines.spark_als` for how regParam maps to our ``reg`` (they are the same
weighted-lambda penalty). ``center = false`` runs Spark on the raw ratings. Rating
predictions come from Spark's own ``transform``; the pairs it returns as NaN
(``coldStartStrategy = "nan"``: a user or item without training ratings) are scored with the
training mean, as recsys ALS without biases scores them, and counted (``n_fallback_``).
Top-N scores are ``x_u . y_i (+ mu)`` from the factors Spark learned, computed here.
Defaults we set: ``seed = 0``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from recsys.bench.adapters._base import PeerAdapter
from recsys.dataset import Dataset

NAMES = ("ALS",)
IMPORT_NAME = "pyspark"
EXTRA = "spark"
OWN_PARAMS = ("master", "center", "binarize")


def library_class(name: str):
    from recsys.engines.spark_als import import_pyspark

    return import_pyspark()


class Adapter(PeerAdapter):
    """Spark MLlib's ALS behind the Recommender API."""

    library = "spark"

    @property
    def predicts_ratings(self) -> bool:  # explicit ALS predicts ratings, implicit ranks
        return not bool(self.params.get("implicitPrefs", False))

    def effective_params(self) -> dict[str, Any]:
        import os

        from recsys.engines.spark_als import DEFAULT_MASTER, MASTER_ENV, SparkEngineError

        p = dict(self.params)
        p.setdefault("seed", 0)
        # --spark-master (through the environment) overrides the config's master.
        p["master"] = os.environ.get(MASTER_ENV) or p.get("master") or DEFAULT_MASTER
        implicit = bool(p.get("implicitPrefs", False))
        wrong = "center" if implicit else "binarize"
        if wrong in p:  # never silently ignored
            needs = ("explicit ratings (implicitPrefs = false)" if implicit
                     else "implicitPrefs = true")
            raise SparkEngineError(f"spark ALS: {wrong!r} applies to {needs} only")
        p.setdefault("binarize" if implicit else "center", True)
        return p

    def _params(self) -> tuple[dict[str, Any], str, bool, bool]:
        """(Spark ALS's keyword arguments, master, center, binarize)."""
        params = self.effective_params()
        master = params.pop("master")
        return (params, master, bool(params.pop("center", False)),
                bool(params.pop("binarize", False)))

    def _start(self) -> None:
        """Start (or join) the session once; its start-up is not conversion nor fit time."""
        if getattr(self, "session_", None) is None:
            from recsys.engines.spark_als import spark_session

            self.session_, self.startup_seconds_ = spark_session(self._params()[1])

    def prepare(self, train: Dataset) -> "Adapter":
        """Start Spark, then convert ``train`` (timed as conversion) before the timed fit."""
        self._start()
        parent = getattr(super(), "prepare", None)
        if parent is not None:
            return parent(train)
        return self

    def _convert(self, train: Dataset):
        """``train`` as a cached, materialised Spark DataFrame (ratings centred or binarised
        as the parameters say), and the offset added back to predictions."""
        from recsys.engines.spark_als import ratings_frame

        self._start()
        _, _, center, binarize = self._params()
        ratings = train.ratings.astype(np.float64)
        if binarize:
            ratings = np.ones_like(ratings)
        offset = float(train.global_mean) if center else 0.0
        frame = ratings_frame(self.session_, train.users, train.items,
                              ratings - offset).cache()
        frame.count()
        return frame, offset

    def _fit(self, train: Dataset, **fit_options) -> None:
        from recsys.engines import spark_als

        self._start()
        params = self._params()[0]
        self.n_fallback_ = None  # a count once ratings are predicted
        converted = getattr(self, "_converted", None)
        if converted is not None:  # the base class converts (or reuses what prepare made)
            frame, self.offset_ = converted(train)
        else:
            t0 = time.perf_counter()
            frame, self.offset_ = self._convert(train)
            self.convert_seconds_ = time.perf_counter() - t0
        self.model_ = spark_als.als_estimator(params).fit(frame)
        rank = int(self.model_.rank)
        self.user_factors_, self.user_known_ = spark_als.factor_table(
            self.model_.userFactors, train.n_users, rank)
        self.item_factors_, self.item_known_ = spark_als.factor_table(
            self.model_.itemFactors, train.n_items, rank)
        frame.unpersist()

    def __getstate__(self):  # Spark's session and model live in this process's JVM
        state = dict(self.__dict__)
        for key in ("_prepared", "session_", "model_"):
            state.pop(key, None)
        return state

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if not self.predicts_ratings:
            out = np.zeros(len(users), dtype=np.float64)
            ok = (users >= 0) & (items >= 0)
            out[ok] = np.einsum("ij,ij->i", self.user_factors_[users[ok]].astype(np.float64),
                                self.item_factors_[items[ok]])
            return out
        return self._spark_predict(users, items)

    def _spark_predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Spark's ``transform`` of the pairs, in their order; NaN -> the training mean."""
        from recsys.engines.spark_als import ratings_frame

        n = len(users)
        if n == 0:
            return np.empty(0, dtype=np.float64)
        # Out-of-range ids (-1) stay -1: an id Spark never saw, so NaN, as it should be.
        pairs = ratings_frame(self.session_, users, items, None,
                              extra={"row": np.arange(n, dtype=np.int64)})
        table = self.model_.transform(pairs).select("row", "prediction").toArrow()
        rows = table.column("row").to_numpy()
        values = table.column("prediction").to_numpy(zero_copy_only=False)
        out = np.full(n, np.nan)
        out[rows] = values.astype(np.float64) + self.offset_
        missing = np.isnan(out)
        self.n_fallback_ = (self.n_fallback_ or 0) + int(missing.sum())
        out[missing] = self.global_mean_
        return out

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        known = users >= 0
        p = np.zeros((len(users), self.user_factors_.shape[1]), dtype=np.float64)
        p[known] = self.user_factors_[users[known]]
        scores = p @ self.item_factors_.T.astype(np.float64)
        if self.predicts_ratings:
            scores += self.offset_
            # Spark's NaN for an unknown user or item: the training mean, as in _score.
            unknown_user = ~known | ~self.user_known_[np.maximum(users, 0)]
            scores[unknown_user] = self.global_mean_
            scores[:, ~self.item_known_] = self.global_mean_
        return scores
