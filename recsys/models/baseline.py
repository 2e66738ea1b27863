"""Non-personalised and bias baselines: :class:`GlobalMean`, :class:`Popularity`,
:class:`Baseline` (user + item biases fit by ALS or SGD, as Surprise's ``BaselineOnly``)."""

from __future__ import annotations

import numpy as np

from recsys.dataset import Dataset
from recsys.kernels.baseline import als_bias_update
from recsys.kernels.scoring import bias_rmse
from recsys.kernels.sgd import bias_epoch, shuffle
from recsys.models.base import Recommender
from recsys.models.registry import register
from recsys.validation import as_generator, check_choice, check_number, eval_triples

__all__ = ["GlobalMean", "Popularity", "Baseline"]


@register
class GlobalMean(Recommender):
    """Predicts the training set's mean rating for every (user, item) pair.

    No hyperparameters. Every user and item, known or not, gets ``global_mean_``; as a
    recommender it ranks all items equal (ties broken by index).
    """

    capabilities = frozenset({"new_user"})

    def __init__(self):
        pass

    def _fit(self, train: Dataset) -> None:
        pass  # global_mean_ is set by Recommender.fit

    def _score(self, users, items):
        return np.full(len(users), self.global_mean_, dtype=np.float64)

    def _score_users(self, users):
        return np.full((len(users), self.n_items_), self.global_mean_, dtype=np.float64)

    def _score_new_user(self, items, ratings):
        return np.full(self.n_items_, self.global_mean_, dtype=np.float64)


@register
class Popularity(Recommender):
    """Non-personalised top-N: every user gets the same item scores.

    Parameters
    ----------
    by : {"count", "mean"}
        ``"count"``: an item's score is its number of training ratings. ``"mean"``: its damped
        mean rating ``(sum of ratings + damping * mu) / (count + damping)``, which pulls items
        with few ratings towards the global mean ``mu`` so that one 5-star rating does not
        top the list.
    damping : float, default 5.0
        Pseudo-ratings at the global mean added to each item (``by="mean"`` only).

    Notes
    -----
    ``predicts_ratings`` is False: scores are a ranking signal and are not clipped (a count
    is not a rating), although the ``"mean"`` scores lie on the rating scale. An unknown
    item scores 0 (``"count"``) or ``mu`` (``"mean"``); the user is ignored.
    Learned array: ``item_scores_`` (float32, n_items).
    """

    capabilities = frozenset({"new_user"})

    _fitted_arrays = ("item_scores_",)
    _array_shapes = {"item_scores_": ("items",)}
    predicts_ratings = False

    def __init__(self, by: str = "count", damping: float = 5.0):
        self.by = by
        self.damping = damping

    def _fit(self, train: Dataset) -> None:
        check_choice("by", self.by, ("count", "mean"))
        check_number("damping", self.damping, 0.0)
        counts = train.item_counts.astype(np.float64)
        if self.by == "count":
            scores = counts
        else:
            sums = np.bincount(train.items, weights=train.ratings, minlength=train.n_items)
            denom = counts + self.damping
            with np.errstate(invalid="ignore", divide="ignore"):
                scores = (sums + self.damping * self.global_mean_) / denom
            scores[denom == 0] = self.global_mean_
        self.item_scores_ = np.ascontiguousarray(scores, dtype=np.float32)

    def _unknown_item_score(self) -> float:
        return 0.0 if self.by == "count" else float(self.global_mean_)

    def _score(self, users, items):
        known = items >= 0
        out = np.full(len(items), self._unknown_item_score(), dtype=np.float64)
        out[known] = self.item_scores_[items[known]]
        return out

    def _score_users(self, users):
        return np.broadcast_to(self.item_scores_.astype(np.float64),
                               (len(users), self.n_items_)).copy()

    def _score_new_user(self, items, ratings):
        return self.item_scores_.astype(np.float64)


@register
class Baseline(Recommender):
    """User and item biases: ``r_hat(u, i) = mu + b_u + b_i`` (Koren 2010, eq. 2).

    Minimises ``sum (r - mu - b_u - b_i)^2 + reg_user * sum b_u^2 + reg_item * sum b_i^2``
    like Surprise's ``BaselineOnly``, by one of

    - ``method="als"``: alternating closed-form updates, items then users, per epoch
      (:func:`recsys.kernels.baseline.als_bias_update`). Defaults as Surprise:
      ``reg_user=15``, ``reg_item=10``, ``n_epochs=10``.
    - ``method="sgd"``: stochastic gradient descent over the ratings in a fresh seeded
      random order each epoch (:func:`recsys.kernels.sgd.bias_epoch`; Surprise walks them
      in file order). Defaults as Surprise: ``reg_user=reg_item=0.02``,
      ``learning_rate=0.005``, ``n_epochs=20``.

    Parameters
    ----------
    method : {"als", "sgd"}
    reg_user, reg_item : float, optional
        L2 regularization of the user and item biases; None takes the method's default.
    n_epochs : int, optional
        None takes the method's default.
    learning_rate : float, optional
        SGD step size (``method="sgd"`` only); None takes 0.005.
    seed : int, numpy Generator or None, default 0
        Seeds the SGD visiting order (unused by ALS, which is deterministic).

    Attributes
    ----------
    user_bias_, item_bias_ : float32 ndarray (n_users,), (n_items,)
        Computed in float64, stored as float32.
    global_mean_ : float
    history_ : dict
        ``{"train_rmse": [...], "eval_rmse": [...]}`` per epoch. For ALS the train RMSE is
        recomputed after each epoch; for SGD it is the running RMSE of the errors seen
        during the epoch, before each update. ``eval_rmse`` is filled when ``fit`` gets
        ``eval_set=``. Both use predictions clipped to the rating scale, except SGD's
        running train RMSE.

    Notes
    -----
    Fallbacks: an unknown user (or one without training ratings) scores ``mu + b_i``, an
    unknown item ``mu + b_u``, both unknown ``mu``. Clipped to the rating scale by
    ``predict``.
    """

    capabilities = frozenset({"new_user"})

    _fitted_arrays = ("user_bias_", "item_bias_")
    _array_shapes = {"user_bias_": ("users",), "item_bias_": ("items",)}

    _DEFAULTS = {
        "als": {"reg_user": 15.0, "reg_item": 10.0, "n_epochs": 10, "learning_rate": None},
        "sgd": {"reg_user": 0.02, "reg_item": 0.02, "n_epochs": 20, "learning_rate": 0.005},
    }

    def __init__(self, method: str = "als", reg_user: float | None = None,
                 reg_item: float | None = None, n_epochs: int | None = None,
                 learning_rate: float | None = None, seed: int | np.random.Generator | None = 0):
        self.method = method
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.seed = seed

    def resolved_params(self) -> dict:
        """The hyperparameters with the method's defaults filled in where None was given."""
        check_choice("method", self.method, tuple(self._DEFAULTS))
        params = dict(self._DEFAULTS[self.method])
        for name in params:
            if getattr(self, name) is not None:
                params[name] = getattr(self, name)
        check_number("reg_user", params["reg_user"], 0.0)
        check_number("reg_item", params["reg_item"], 0.0)
        check_number("n_epochs", params["n_epochs"], 0, integer=True)
        if self.method == "sgd":
            check_number("learning_rate", params["learning_rate"], 0.0, strict=True)
        return params

    def _fit(self, train: Dataset, eval_set: Dataset | None = None) -> None:
        p = self.resolved_params()
        rng = as_generator(self.seed)
        evaluation = eval_triples(train, eval_set)
        mu = float(self.global_mean_)
        lo, hi = train.rating_scale
        bu = np.zeros(train.n_users, dtype=np.float64)
        bi = np.zeros(train.n_items, dtype=np.float64)
        history = {"train_rmse": [], "eval_rmse": []}
        if self.method == "als":
            by_user, by_item = train.csr, train.csr_by_item
            u_ptr, i_ptr = by_user.indptr.astype(np.int64), by_item.indptr.astype(np.int64)
            for _ in range(p["n_epochs"]):
                als_bias_update(i_ptr, by_item.indices, by_item.data, mu, bu,
                                float(p["reg_item"]), bi)
                als_bias_update(u_ptr, by_user.indices, by_user.data, mu, bi,
                                float(p["reg_user"]), bu)
                history["train_rmse"].append(float(bias_rmse(
                    train.users, train.items, train.ratings, mu, bu, bi, lo, hi)))
                self._record_eval(history, evaluation, mu, bu, bi, lo, hi)
        else:
            ratings = train.ratings.astype(np.float64)
            order = np.arange(train.n_ratings, dtype=np.int64)
            for _ in range(p["n_epochs"]):
                shuffle(order, int(rng.integers(0, 2**63 - 1)))
                loss = bias_epoch(train.users, train.items, ratings, order, mu, bu, bi,
                                  float(p["learning_rate"]), float(p["reg_user"]),
                                  float(p["reg_item"]))
                history["train_rmse"].append(float(np.sqrt(loss / max(train.n_ratings, 1))))
                self._record_eval(history, evaluation, mu, bu, bi, lo, hi)
        self.user_bias_ = bu.astype(np.float32)
        self.item_bias_ = bi.astype(np.float32)
        self.history_ = history

    @staticmethod
    def _record_eval(history, evaluation, mu, bu, bi, lo, hi) -> None:
        if evaluation is not None:
            history["eval_rmse"].append(float(bias_rmse(*evaluation, mu, bu, bi, lo, hi)))

    def _extra_meta(self) -> dict:
        return {"history_": getattr(self, "history_", {"train_rmse": [], "eval_rmse": []})}

    def _score(self, users, items):
        out = np.full(len(users), self.global_mean_, dtype=np.float64)
        ku, ki = users >= 0, items >= 0
        out[ku] += self.user_bias_[users[ku]]
        out[ki] += self.item_bias_[items[ki]]
        return out

    def _score_users(self, users):
        bu = np.where(users >= 0, self.user_bias_[np.maximum(users, 0)], 0.0)
        return (self.global_mean_ + bu[:, None]) + self.item_bias_[None, :].astype(np.float64)

    def _score_new_user(self, items, ratings):
        """Fold in a new user: the closed-form ALS bias ``sum(r - mu - b_i) / (reg_user + n)``
        against the fixed item biases (for SGD the same formula with its ``reg_user``)."""
        reg = float(self.resolved_params()["reg_user"])
        resid = np.asarray(ratings, np.float64) - self.global_mean_ - self.item_bias_[items]
        b = resid.sum() / (reg + len(items)) if len(items) else 0.0
        return self.global_mean_ + b + self.item_bias_.astype(np.float64)
