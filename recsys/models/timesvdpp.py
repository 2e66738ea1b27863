"""timeSVD++ and the time-aware baseline (Koren, "Collaborative Filtering with Temporal
Dynamics", KDD 2009), trained by SGD.

The prediction for user ``u``, item ``i`` at time ``t`` (in days)::

    r_hat(u, i, t) = mu + b_i + b_{i,Bin(t)} + b_u + alpha_u dev_u(t) + b_{u,t}
                     + q_i . (p_u + a_u dev_u(t) + |N(u)|^-1/2 sum_{j in N(u)} y_j)

:class:`TimeBaseline` is the same without the factor term (Koren 2009's time-changing
baseline predictor).
:mod:`recsys.kernels.timesvdpp` states the terms, the SGD step and the kernel layout.

Time. Dataset timestamps are seconds since the Unix epoch; a rating's day is
``floor(timestamp / 86400)`` (UTC) counted from the first training day. ``t_u`` is the mean
day of ``u``'s training ratings; ``Bin`` cuts the training period into ``n_bins`` equal
slices; ``b_{u,t}`` exists for the (user, day) pairs of the training data only. Data
without timestamps (all 0) has one day: the time terms then only duplicate ``b_u``, ``b_i``.

``predict(users, items, times=...)`` scores each pair at its own time (seconds, like
``Dataset.timestamps``). Without ``times``, and in ``score_items`` / ``recommend``, a user is
scored at their own last training day, the latest state the model knows (that day's
``b_{u,t}`` included); an unknown user, and a new user folded in, at the last day of the
training period. Scoring a user at the end of the period instead would extrapolate the drift
``alpha_u dev_u(t)`` far beyond the days the user rated on (years, on ml-latest-small).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from recsys.dataset import Dataset
from recsys.errors import ModelFileError
from recsys.kernels.sgd import shuffle, shuffle_blocks
from recsys.kernels.svdpp import implicit_sums
from recsys.kernels.timesvdpp import (day_biases, day_bins, deviations, timesvdpp_epoch,
                                      timesvdpp_predict, user_day_table)
from recsys.models.base import Recommender
from recsys.models.factor import FactorModel, ridge_fold_in
from recsys.models.registry import register
from recsys.threads import numba_threads
from recsys.validation import as_generator, eval_triples

__all__ = ["TimeBaseline", "TimeSVDpp", "SECONDS_PER_DAY"]

SECONDS_PER_DAY = 86400

_BIAS_DOC = """\
    n_bins : int, default 30
        Time bins of the item bias ``b_{i,Bin(t)}`` over the training period (Koren's 30).
    beta : float, default 0.4
        Exponent of ``dev_u(t) = sign(t - t_u) |t - t_u|^beta`` (Koren's 0.4).
    lr_user_bias, reg_user_bias : float, default 0.003, 0.03
        Step and penalty of ``b_u``.
    lr_item_bias, reg_item_bias : float, default 0.002, 0.03
        Step and penalty of ``b_i``.
    lr_user_drift, reg_user_drift : float, default 1e-5, 50
        Step and penalty of ``alpha_u`` (a large penalty: ``dev_u`` reaches |t - t_u|^0.4).
    lr_item_bin, reg_item_bin : float, default 5e-6, 0.1
        Step and penalty of ``b_{i,Bin(t)}``.
    lr_user_day, reg_user_day : float, default 0.0025, 0.005
        Step and penalty of the day-specific ``b_{u,t}``.
    lr_decay : float, default 1.0
        Every learning rate is multiplied by this after each epoch.
    seed : int, numpy Generator or None, default None
        The one Generator (:func:`recsys.validation.as_generator`) that draws the initial
        factors and each epoch's visiting order (users shuffled, then each user's ratings).
    dtype : {"float32", "float64"}, default "float32"
        Dtype of the parameters and of the SGD arithmetic.

    The bias defaults are the learning rates and penalties of the BellKor Grand Prize report
    (Koren 2009, "The BellKor Solution to the Netflix Grand Prize", its eq. (10) baseline, as
    MyMediaLite's ``TimeAwareBaseline`` ports them; MyMediaLite doubles each step), in the step
    convention ``x += lr * (e * d r_hat/d x - reg * x)``. They were set for Netflix's 100M
    ratings over six years: small data sets want a search (benchmarks/timesvdpp_accuracy.py).
"""


class _TimeEffects:
    """The time-aware biases, training loop, time-aware prediction and persistence shared by
    :class:`TimeBaseline` and :class:`TimeSVDpp` (which differ in their factors only)."""

    #: ``predict`` takes ``times=`` (seconds): an evaluation should pass the test ratings'
    #: timestamps (``predict(test.users, test.items, times=test.timestamps)``).
    uses_timestamps: ClassVar[bool] = True

    _time_arrays = ("user_bias_", "item_bias_", "user_drift_", "item_bin_bias_",
                    "user_day_bias_", "user_day_indptr_", "user_days_", "user_mean_day_")
    _time_shapes = {"user_bias_": ("users",), "item_bias_": ("items",),
                    "user_drift_": ("users",), "item_bin_bias_": ("items", "bins"),
                    "user_day_bias_": ("slots",), "user_day_indptr_": ("users+1",),
                    "user_days_": ("slots",), "user_mean_day_": ("users",)}
    _bias_terms = ("user_bias", "item_bias", "user_drift", "item_bin", "user_day")
    _bias_limits = dict(n_epochs=(0, "int"), n_bins=(1, "int"), beta=(0.0, ">="),
                        lr_decay=(0.0, ">="), **{f"{kind}_{term}": (0.0, ">=")
                                                 for term in _bias_terms
                                                 for kind in ("lr", "reg")})

    # ------------------------------------------------------------------ time axis
    def _days(self, times) -> np.ndarray:
        """Days (int64) since the first training day of timestamps in seconds."""
        times = np.asarray(times)
        if times.dtype.kind in "iu":
            return times.astype(np.int64) // SECONDS_PER_DAY - self.day0_
        times = times.astype(np.float64)
        if not np.isfinite(times).all():
            raise ValueError("times must be finite timestamps in seconds")
        return np.floor(times / SECONDS_PER_DAY).astype(np.int64) - self.day0_

    def _init_time(self, train: Dataset, dtype: np.dtype) -> tuple:
        """Fix the time axis and the (user, day) table from ``train``; zero every bias.
        Returns the kernel's ``csr`` tuple (the training ratings by user with their bins,
        table slots and ``dev_u(t)``)."""
        m = train.csr
        indptr = m.indptr.astype(np.int64, copy=False)
        # Dataset.csr holds each user's ratings by item: the same (user, item) sort.
        order = np.lexsort((train.items, train.users))
        day = train.timestamps[order] // SECONDS_PER_DAY
        self.day0_ = int(day.min())
        days = day - self.day0_
        self.n_days_ = int(days.max()) + 1
        counts = np.diff(indptr)
        rows = np.repeat(np.arange(train.n_users), counts)
        sums = np.bincount(rows, weights=days, minlength=train.n_users)
        # A user without training ratings has no drift term; its t_u only has to be finite.
        self.user_mean_day_ = np.where(counts > 0, sums / np.maximum(counts, 1),
                                       float(days.mean()))
        self.user_day_indptr_, self.user_days_, slots = user_day_table(indptr, days)
        devs = deviations(days, self.user_mean_day_[rows], float(self.beta)).astype(dtype)
        bins = day_bins(days, int(self.n_bins), self.n_days_)
        self.user_bias_ = np.zeros(train.n_users, dtype=dtype)
        self.item_bias_ = np.zeros(train.n_items, dtype=dtype)
        self.user_drift_ = np.zeros(train.n_users, dtype=dtype)
        self.item_bin_bias_ = np.zeros((train.n_items, int(self.n_bins)), dtype=dtype)
        self.user_day_bias_ = np.zeros(len(self.user_days_), dtype=dtype)
        return (indptr, m.indices.astype(np.int32, copy=False), m.data.astype(dtype),
                bins, slots, devs)

    def _biases(self) -> tuple:
        return (self.user_bias_, self.item_bias_, self.user_drift_, self.item_bin_bias_,
                self.user_day_bias_)

    def _bias_rates(self) -> tuple[list[float], list[float]]:
        # The five bias terms, in the order of recsys.kernels.timesvdpp.TERMS.
        return ([float(getattr(self, f"lr_{n}")) for n in self._bias_terms],
                [float(getattr(self, f"reg_{n}")) for n in self._bias_terms])

    # ------------------------------------------------------------------ training
    def _epochs(self, train: Dataset, csr: tuple, rng: np.random.Generator, factors: tuple,
                rates: list[float], regs: list[float], eval_set: Dataset | None) -> None:
        """``n_epochs`` SGD epochs, each over a fresh visiting order drawn from ``rng``."""
        indptr = csr[0]
        mu = csr[2].dtype.type(train.global_mean)
        scalar = type(mu)
        evals = None
        if eval_set is not None:
            users, items, truth = eval_triples(train, eval_set)
            evals = (users.astype(np.int64), items.astype(np.int64), truth,
                     self._days(eval_set.timestamps))
        user_order = np.arange(len(indptr) - 1, dtype=np.int32)
        order = np.arange(indptr[-1], dtype=np.int64)
        regs = tuple(scalar(r) for r in regs)
        self.history_ = {"train_rmse": [], "eval_rmse": []}
        for _ in range(int(self.n_epochs)):
            shuffle(user_order, int(rng.integers(0, 2**63 - 1)))
            shuffle_blocks(order, indptr, int(rng.integers(0, 2**63 - 1)))
            sse = timesvdpp_epoch(csr, user_order, order, mu, self._biases(), factors,
                                  tuple(scalar(r) for r in rates), regs)
            self.history_["train_rmse"].append(math.sqrt(sse / max(len(order), 1)))
            if evals is not None:
                self._refresh(csr)
                pred = np.clip(self._score_at(*evals[:2], evals[3]), *self.rating_scale_)
                err = pred - evals[2]
                self.history_["eval_rmse"].append(math.sqrt(float(err @ err) / len(err)))
            rates = [r * float(self.lr_decay) for r in rates]
        self._refresh(csr)

    def _refresh(self, csr: tuple) -> None:
        """Recompute what scoring caches from the trained parameters (nothing here)."""

    # ------------------------------------------------------------------ prediction
    def predict(self, users, items, raw: bool = False, times=None) -> np.ndarray:
        """Predicted ratings (float64, shape (n,)), clipped to the rating scale.

        As :meth:`Recommender.predict`, plus ``times``: the time of each pair in seconds
        since the Unix epoch (as ``Dataset.timestamps``), shape (n,); None scores each pair
        at the user's last training day (the last day of the period for an unknown user). A
        day before or after the training period takes the first or last item-bias bin, and
        ``b_{u,t}`` is 0 on a day the user has no training rating.
        """
        if times is None:
            return super().predict(users, items, raw=raw)
        self._check_fitted()
        u = self._to_internal(users, "user", raw)
        i = self._to_internal(items, "item", raw)
        days = self._days(np.atleast_1d(times))
        if not u.shape == i.shape == days.shape:
            raise ValueError(f"users, items and times must have the same length, got "
                             f"{u.shape}, {i.shape} and {days.shape}")
        return np.clip(self._score_at(u, i, days), *self.rating_scale_)

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._score_at(users, items, None)

    def _score_at(self, users, items, days) -> np.ndarray:
        users = np.ascontiguousarray(users, dtype=np.int64)
        items = np.ascontiguousarray(items, dtype=np.int64)
        if days is None:
            days = self._default_days(users)
        out = np.empty(len(users), dtype=np.float64)
        timesvdpp_predict(users, items, np.ascontiguousarray(days, dtype=np.int64),
                          float(self.global_mean_), self._biases(), self._factors_for_scoring(),
                          (self.user_day_indptr_, self.user_days_),
                          (self.user_mean_day_, float(self.beta), int(self.n_bins),
                           int(self.n_days_)), out)
        return out

    def _default_days(self, users: np.ndarray) -> np.ndarray:
        """The day a pair without a time is scored at (int64, one per user index): the
        user's last training day; the last day of the period for an unknown (-1) or
        unrated user."""
        ptr, end = self.user_day_indptr_, self.n_days_ - 1
        rated = ptr[1:] > ptr[:-1]
        last = np.full(len(rated), end, dtype=np.int64)
        last[rated] = self.user_days_[ptr[1:][rated] - 1]
        users = np.asarray(users, dtype=np.int64)
        return np.where(users >= 0, last[np.maximum(users, 0)], end)

    def _time_terms(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The time terms of ``users`` (int64, -1 unknown) at their :meth:`_default_days`,
        float64: ``dev_u`` (len(users),), ``alpha_u dev_u + b_{u,t}`` (len(users),), both 0
        for an unknown user, and ``b_{i,Bin(t)}`` of every item (len(users), n_items)."""
        days = self._default_days(users)
        known = users >= 0
        u = np.maximum(users, 0)
        dev = np.where(known, deviations(days, self.user_mean_day_[u], float(self.beta)), 0.0)
        day_bias = day_biases(self.user_day_indptr_, self.user_days_, self.user_day_bias_,
                              np.where(known, users, -1).astype(np.int64), days)
        user_time = np.where(known, self.user_drift_[u] * dev, 0.0) + day_bias
        bins = day_bins(days, int(self.n_bins), int(self.n_days_))
        return dev, user_time, self.item_bin_bias_[:, bins].T.astype(np.float64)

    def _item_now(self) -> np.ndarray:
        """``b_i + b_{i,Bin(t)}`` of every item at the last training day (float64)."""
        return self.item_bias_.astype(np.float64) + self._time_terms(np.array([-1]))[2][0]

    # ------------------------------------------------------------------ new users
    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """Bias ``b`` and factor vector ``v`` (float64 (k,); k = 0 for the baseline) of a
        user not in the training data, scored ``mu + b + b_i(now) + v . q_i`` with the item
        biases at the last training day. A new user has no day-specific biases and no drift.
        ``v = p + |N|^-1/2 sum y_j``; ``(b, p)`` solve the ridge problem of the residuals
        ``r - mu - b_i(now) - q_i . z`` with penalties ``n * reg_user_bias`` on ``b`` and
        ``n * reg_factors`` on ``p`` (the per-rating penalties of n SGD steps)."""
        items = np.asarray(items, dtype=np.int64)
        q = self._item_factor_matrix()
        if len(items) == 0:
            return 0.0, np.zeros(q.shape[1])
        fixed = self._fold_in_fixed(items)
        qn = q[items].astype(np.float64)
        resid = (np.asarray(ratings, dtype=np.float64) - float(self.global_mean_)
                 - self._item_now()[items] - qn @ fixed)
        n = len(items)
        p, b = ridge_fold_in(qn, resid, n * self._reg_factors(), n * float(self.reg_user_bias))
        return b, p + fixed

    def _score_new_user(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        b, v = self.fold_in(items, ratings)
        return (float(self.global_mean_) + b + self._item_now()
                + self._item_factor_matrix().astype(np.float64) @ v)

    # ------------------------------------------------------------------ persistence
    def _extra_meta(self) -> dict:
        return {"day0_": int(self.day0_), "n_days_": int(self.n_days_),
                "history_": getattr(self, "history_", {"train_rmse": [], "eval_rmse": []})}

    def _load_extra_meta(self, extra: dict) -> None:
        day0, n_days = extra.get("day0_"), extra.get("n_days_")
        if not (isinstance(day0, int) and isinstance(n_days, int) and n_days >= 1):
            raise ModelFileError(f"fields 'extra.day0_' and 'extra.n_days_' must be integers "
                                 f"(n_days_ >= 1), got {day0!r} and {n_days!r}")
        if self.item_bin_bias_.shape[1] != int(self.n_bins):
            raise ModelFileError(f"array 'item_bin_bias_' has {self.item_bin_bias_.shape[1]} "
                                 f"bins, the hyperparameter n_bins says {self.n_bins}")
        ptr = self.user_day_indptr_
        if ptr[0] != 0 or np.any(np.diff(ptr) < 0) or ptr[-1] != len(self.user_days_):
            raise ModelFileError("array 'user_day_indptr_' must rise from 0 to the length of "
                                 "'user_days_'")
        super()._load_extra_meta(extra)


def _zero_width(n_users: int, n_items: int, dtype) -> tuple:
    # Factor arrays with no columns: the kernels then train and score the biases alone.
    return (np.zeros((n_users, 0), dtype), np.zeros((n_items, 0), dtype),
            np.zeros((n_items, 0), dtype), np.zeros((n_users, 0), dtype))


@register
class TimeBaseline(_TimeEffects, Recommender):
    __doc__ = """Time-aware baseline predictor (Koren 2009's time-changing baseline), by SGD::

        r_hat(u, i, t) = mu + b_i + b_{i,Bin(t)} + b_u + alpha_u dev_u(t) + b_{u,t}

    Parameters
    ----------
    n_epochs : int, default 20
""" + _BIAS_DOC + """
    Attributes
    ----------
    user_bias_, item_bias_, user_drift_ : b_u (n_users,), b_i (n_items,), alpha_u (n_users,)
    item_bin_bias_ : (n_items, n_bins)         b_{i,Bin}
    user_day_indptr_, user_days_, user_day_bias_ : the sparse (user, day) table of b_{u,t}:
        user u's training days (counted from ``day0_``) and their biases are
        ``user_days_[user_day_indptr_[u]:user_day_indptr_[u+1]]`` and the same slice of
        ``user_day_bias_``.
    user_mean_day_ : float64 (n_users,)        t_u
    day0_ : int                                first training day (days since 1970-01-01)
    n_days_ : int                              length of the training period in days
    history_ : dict
        ``"train_rmse"`` (errors seen during each epoch) and ``"eval_rmse"`` (on
        ``eval_set`` at its own timestamps, clipped) per epoch, as for SVDpp.

    Notes
    -----
    Fallbacks: an unknown user (or one without training ratings) scores
    ``mu + b_i + b_{i,Bin(t)}``; an unknown item ``mu + b_u + alpha_u dev_u(t) + b_{u,t}``;
    both ``mu``. A new user (``recommend_new_user``) gets the bias of :meth:`fold_in`.
    """

    capabilities = frozenset({"new_user"})
    _fitted_arrays = _TimeEffects._time_arrays
    _array_shapes = _TimeEffects._time_shapes
    _keep_params = FactorModel._keep_params
    _check_ranges = FactorModel._check_ranges
    _check_dtype = FactorModel._check_dtype

    def __init__(self, n_epochs: int = 20, n_bins: int = 30, beta: float = 0.4,
                 lr_user_bias: float = 0.003, lr_item_bias: float = 0.002,
                 lr_user_drift: float = 1e-5, lr_item_bin: float = 5e-6,
                 lr_user_day: float = 0.0025, reg_user_bias: float = 0.03,
                 reg_item_bias: float = 0.03, reg_user_drift: float = 50.0,
                 reg_item_bin: float = 0.1, reg_user_day: float = 0.005, lr_decay: float = 1.0,
                 seed: int | np.random.Generator | None = None, dtype: str = "float32"):
        self._keep_params(locals())

    def _fit(self, train: Dataset, eval_set: Dataset | None = None) -> None:
        self._check_ranges(**self._bias_limits)
        dtype = self._check_dtype()
        rng = as_generator(self.seed)
        csr = self._init_time(train, dtype)
        rates, regs = self._bias_rates()
        zero = _zero_width(train.n_users, train.n_items, dtype)
        with numba_threads(1):  # the SGD is serial; see TimeSVDpp._fit
            self._epochs(train, csr, rng, zero, rates + [0.0] * 3, regs + [0.0] * 3, eval_set)

    def _factors_for_scoring(self) -> tuple:
        p, q, _, drift = _zero_width(len(self.user_bias_), len(self.item_bias_), np.float32)
        return p, q, drift

    def _item_factor_matrix(self) -> np.ndarray:
        return np.zeros((len(self.item_bias_), 0))

    def _fold_in_fixed(self, items: np.ndarray) -> np.ndarray:
        return np.zeros(0)

    def _reg_factors(self) -> float:
        return 0.0

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        _, user_time, item_bin = self._time_terms(users)
        user_part = np.where(users >= 0, self.user_bias_[np.maximum(users, 0)], 0.0)
        return (float(self.global_mean_) + user_part + user_time)[:, None] + (
            self.item_bias_[None, :] + item_bin)


@register
class TimeSVDpp(_TimeEffects, FactorModel):
    __doc__ = """timeSVD++ (Koren 2009): SVD++ with the time-aware biases and,
    optionally, a linear drift of the user factors, by SGD::

        r_hat(u, i, t) = mu + b_i + b_{i,Bin(t)} + b_u + alpha_u dev_u(t) + b_{u,t}
                         + q_i . (p_u + a_u dev_u(t) + |N(u)|^-1/2 sum_{j in N(u)} y_j)

    Parameters
    ----------
    n_factors : int, default 20
        Dimension k of p_u, q_i, y_j and a_u.
    n_epochs : int, default 20
    lr_factors : float, default 0.007
        Step of p_u, q_i and y_j (Koren 2008's gamma_2 for SVD++).
    reg_factors, reg_implicit : float, default 0.015, 0.015
        Penalties of p_u and q_i, and of y_j (Koren 2008's lambda_7).
    lr_factor_drift, reg_factor_drift : float, default 0.0, 0.015
        Step and penalty of the user-factor drift ``a_u`` (Koren's ``alpha_uk``).
        The default step 0 leaves the drift out (a_u stays 0): Koren gives no setting for
        it, and on short data sets it rarely helps.
    init_std : float, default 0.1
        p_u, q_i and y_j start as N(0, init_std^2); a_u and every bias at 0.
""" + _BIAS_DOC + """
    Attributes
    ----------
    user_factors_, item_factors_, item_implicit_factors_ : p_u, q_i, y_j
    user_factor_drift_ : (n_users, k)          a_u
    user_implicit_sum_ : (n_users, k)          |N(u)|^-1/2 sum_{j in N(u)} y_j, cached
    and the attributes of :class:`TimeBaseline`.

    Notes
    -----
    Fallbacks: an unknown user (or one without training ratings: its factors are zeroed)
    scores ``mu + b_i + b_{i,Bin(t)}``; an unknown item (or one without ratings) ``mu + b_u
    + alpha_u dev_u(t) + b_{u,t}``; both ``mu``. Recommendations and ``score_items`` score
    each user at their last training day, with the user vector ``p_u + a_u dev_u(t) + z_u``;
    similar items are the cosine of ``q_i``; a new user is folded in by :meth:`fold_in`.
    Single-threaded SGD: the same seed gives bit-identical parameters on any thread count.
    """

    capabilities = frozenset({"new_user", "similar_items"})
    _fitted_arrays = _TimeEffects._time_arrays + (
        "user_factors_", "item_factors_", "item_implicit_factors_", "user_factor_drift_",
        "user_implicit_sum_")
    _array_shapes = {**FactorModel._array_shapes, **_TimeEffects._time_shapes,
                     "user_factor_drift_": ("users", "k"), "user_implicit_sum_": ("users", "k")}

    def __init__(self, n_factors: int = 20, n_epochs: int = 20, n_bins: int = 30,
                 beta: float = 0.4, lr_factors: float = 0.007, reg_factors: float = 0.015,
                 reg_implicit: float = 0.015, lr_factor_drift: float = 0.0,
                 reg_factor_drift: float = 0.015, init_std: float = 0.1,
                 lr_user_bias: float = 0.003, lr_item_bias: float = 0.002,
                 lr_user_drift: float = 1e-5, lr_item_bin: float = 5e-6,
                 lr_user_day: float = 0.0025, reg_user_bias: float = 0.03,
                 reg_item_bias: float = 0.03, reg_user_drift: float = 50.0,
                 reg_item_bin: float = 0.1, reg_user_day: float = 0.005, lr_decay: float = 1.0,
                 seed: int | np.random.Generator | None = None, dtype: str = "float32"):
        self._keep_params(locals())

    def _fit(self, train: Dataset, eval_set: Dataset | None = None) -> None:
        self._check_ranges(n_factors=(1, "int"), lr_factors=(0.0, ">="),
                           reg_factors=(0.0, ">="), reg_implicit=(0.0, ">="),
                           lr_factor_drift=(0.0, ">="), reg_factor_drift=(0.0, ">="),
                           init_std=(0.0, ">="), **self._bias_limits)
        dtype = self._check_dtype()
        rng = as_generator(self.seed)
        k, n_users, n_items = int(self.n_factors), train.n_users, train.n_items
        # Same draw order as SVDpp (p, q, y), so the two start from the same factors.
        self.user_factors_ = (rng.standard_normal((n_users, k)) * self.init_std).astype(dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * self.init_std).astype(dtype)
        self.item_implicit_factors_ = (
            rng.standard_normal((n_items, k)) * self.init_std).astype(dtype)
        self.user_factor_drift_ = np.zeros((n_users, k), dtype=dtype)
        # Factors no rating touches would stay noise: zero them (the bias-only fallback).
        self.user_factors_[train.user_counts == 0] = 0
        self.item_factors_[train.item_counts == 0] = 0
        self.item_implicit_factors_[train.item_counts == 0] = 0
        csr = self._init_time(train, dtype)
        rates, regs = self._bias_rates()
        lr_f = float(self.lr_factors)
        factors = (self.user_factors_, self.item_factors_, self.item_implicit_factors_,
                   self.user_factor_drift_)
        # One thread: the epochs are serial, and the parallel helpers (the in-user shuffle,
        # the implicit sums) cost more to start than they save (16 ms against 0.4 ms per
        # epoch for the shuffle on ML-100K on a busy 2-core machine).
        with numba_threads(1):
            self._epochs(train, csr, rng, factors,
                         rates + [lr_f, lr_f, float(self.lr_factor_drift)],
                         regs + [float(self.reg_factors), float(self.reg_implicit),
                                 float(self.reg_factor_drift)], eval_set)

    def _refresh(self, csr: tuple) -> None:
        self.user_implicit_sum_ = implicit_sums(csr[0], csr[1], self.item_implicit_factors_)

    # ------------------------------------------------------------------ scoring
    def _factors_for_scoring(self) -> tuple:
        return (self.user_factors_ + self.user_implicit_sum_, self.item_factors_,
                self.user_factor_drift_)

    def _user_vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        # v_u = p_u + a_u dev_u(t) + z_u at the user's default day (FactorModel's scoring).
        if rows is None:
            rows = np.arange(len(self.user_factors_))
        dev = self._time_terms(rows)[0].astype(self.user_factors_.dtype)
        return (self.user_factors_[rows] + self.user_implicit_sum_[rows]
                + dev[:, None] * self.user_factor_drift_[rows])

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        scores = super()._score_users(users)  # mu + b_u + b_i + v_u(t) . q_i
        _, user_time, item_bin = self._time_terms(users)
        scores += user_time[:, None]
        scores += item_bin
        return scores

    # ------------------------------------------------------------------ new users
    def _item_factor_matrix(self) -> np.ndarray:
        return self.item_factors_

    def _fold_in_fixed(self, items: np.ndarray) -> np.ndarray:
        # A new user's implicit term |N|^-1/2 sum y_j over the items they rated.
        y = self.item_implicit_factors_[items].astype(np.float64)
        return y.sum(axis=0) / math.sqrt(len(items))

    def _reg_factors(self) -> float:
        return float(self.reg_factors)
