"""ALS: matrix factorization of explicit ratings by alternating least squares.

Weighted-lambda regularisation after Zhou et al. (2008); the kernel and the normal equations
it solves are in :mod:`recsys.kernels.als`.
"""

from __future__ import annotations

import math

import numpy as np

from recsys.dataset import Dataset
from recsys.kernels.als import als_half_sweep, balanced_chunks
from recsys.kernels.scoring import clipped_sse
from recsys.models.factor import FactorModel
from recsys.models.registry import register
from recsys.threads import numba_threads, threads_for
from recsys.validation import as_generator, eval_triples

__all__ = ["ALS"]


@register
class ALS(FactorModel):
    """Explicit-feedback ALS with weighted-lambda regularisation (Zhou et al. 2008).

    ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i`` (``mu + p_u . q_i`` with ``biases=False``).
    Each iteration solves every user's regularised least-squares problem with the item
    parameters fixed, then every item's with the user parameters fixed.

    Parameters
    ----------
    n_factors : int, default 20
        Dimension k of p_u and q_i.
    n_iterations : int, default 15
        Full iterations (a user half-sweep then an item half-sweep each).
    reg : float, default 0.15
        Weighted-lambda penalty: ``reg * n_u * |p_u|^2`` per user and ``reg * n_i * |q_i|^2``
        per item, where n is the row's number of ratings. Must be > 0.
    reg_bias : float, default 2.0
        Penalty ``reg_bias * b^2`` on each bias, not scaled by n: it damps the biases of users
        and items with few ratings towards 0, like Koren's baseline estimates.
    biases : bool, default True
        Learn b_u and b_i along with the factors (a (k+1)-dimensional solve per row).
    init_std : float, default 0.1
        Item factors start as N(0, init_std^2); the first half-sweep solves the users.
    seed : int, numpy Generator or None, default None
        Made into the Generator that draws the initial item factors at the start of ``fit``
        (:func:`recsys.validation.as_generator`: a Generator is used as it is, None draws
        fresh entropy).
    parallel : bool, default True
        Solve rows on all Numba threads (problems with fewer than about 2 million Gram
        updates, ratings * (k+1)^2, run on one thread anyway:
        :data:`recsys.threads.PARALLEL_MIN_WORK`). Rows are independent, so the
        result is the same, bit for bit, with one thread or many; False runs on one thread
        (for timing, or to leave the cores to something else).
    dtype : {"float32", "float64"}, default "float32"
        Dtype of the stored parameters (the solves are in float64).

    Attributes
    ----------
    user_factors_ : (n_users, k); item_factors_ : (n_items, k)
    user_bias_ : (n_users,); item_bias_ : (n_items,)   (zeros with ``biases=False``)
    history_ : dict
        ``"train_rmse"`` and ``"eval_rmse"`` (with ``fit(train, eval_set=...)``) after each
        iteration, predictions clipped to the rating scale.

    Notes
    -----
    Users and items without training ratings get zero factors and zero bias, so an unknown
    user scores ``mu + b_i``, an unknown item ``mu + b_u``, both unknown ``mu``. Scoring,
    similar items (cosine of ``q_i``) and the new-user fold-in come from
    :class:`~recsys.models.factor.FactorModel`; a new user is one user half-step against
    the fixed item parameters (penalties ``reg * n`` on p_u and ``reg_bias`` on b_u, as in
    training).
    """

    capabilities = frozenset({"new_user", "similar_items"})

    _fitted_arrays = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")

    def __init__(self, n_factors: int = 20, n_iterations: int = 15, reg: float = 0.15,
                 reg_bias: float = 2.0, biases: bool = True, init_std: float = 0.1,
                 seed: int | np.random.Generator | None = None, parallel: bool = True,
                 dtype: str = "float32"):
        self._keep_params(locals())

    def _check_params(self) -> np.dtype:
        self._check_ranges(n_factors=(1, "int"), n_iterations=(0, "int"), reg=(0.0, ">"),
                           reg_bias=(0.0, ">="), init_std=(0.0, ">="))
        return self._check_dtype()

    # ------------------------------------------------------------------ training
    def _fit(self, train: Dataset, eval_set: Dataset | None = None) -> None:
        dtype = self._check_params()
        k = int(self.n_factors)
        rng = as_generator(self.seed)
        by_user, by_item = train.csr, train.csr_by_item
        u_indptr = by_user.indptr.astype(np.int64, copy=False)
        u_indices = by_user.indices.astype(np.int32, copy=False)
        u_ratings = by_user.data.astype(dtype, copy=False)
        i_indptr = by_item.indptr.astype(np.int64, copy=False)
        i_indices = by_item.indices.astype(np.int32, copy=False)
        i_ratings = by_item.data.astype(dtype, copy=False)
        self.user_factors_ = np.zeros((train.n_users, k), dtype=dtype)
        self.item_factors_ = (rng.standard_normal((train.n_items, k))
                              * self.init_std).astype(dtype)
        self.item_factors_[train.item_counts == 0] = 0
        self.user_bias_ = np.zeros(train.n_users, dtype=dtype)
        self.item_bias_ = np.zeros(train.n_items, dtype=dtype)
        mu, use_bias = float(train.global_mean), bool(self.biases)
        reg, reg_bias = float(self.reg), float(self.reg_bias)
        n_threads = threads_for(train.n_ratings * (k + 1) ** 2, bool(self.parallel))
        # A few chunks per thread keep the threads busy when row costs are uneven.
        u_bounds = balanced_chunks(u_indptr, k, 4 * n_threads)
        i_bounds = balanced_chunks(i_indptr, k, 4 * n_threads)
        if eval_set is not None:
            eval_arrays = eval_triples(train, eval_set)
        train_arrays = (train.users, train.items, train.ratings)
        self.history_ = {"train_rmse": [], "eval_rmse": []}
        with numba_threads(n_threads):
            for _ in range(int(self.n_iterations)):
                bad = als_half_sweep(u_indptr, u_indices, u_ratings, mu, self.item_factors_,
                                     self.item_bias_, self.user_factors_, self.user_bias_,
                                     reg, reg_bias, use_bias, u_bounds)
                bad += als_half_sweep(i_indptr, i_indices, i_ratings, mu, self.user_factors_,
                                      self.user_bias_, self.item_factors_, self.item_bias_,
                                      reg, reg_bias, use_bias, i_bounds)
                if bad:  # cannot happen with reg > 0 unless the data hold inf/NaN
                    raise FloatingPointError(f"ALS: {bad} normal-equation systems were not "
                                             "positive definite; check the ratings are finite")
                self.history_["train_rmse"].append(self._rmse(*train_arrays))
                if eval_set is not None:
                    self.history_["eval_rmse"].append(self._rmse(*eval_arrays))

    def _rmse(self, users, items, ratings) -> float:
        sse = clipped_sse(users, items, ratings, float(self.global_mean_), self.user_factors_,
                          self.item_factors_, self.user_bias_, self.item_bias_,
                          *self.rating_scale_)
        return math.sqrt(sse / max(len(users), 1))

    # ------------------------------------------------------------------ new users
    def _fold_in_penalties(self, n: int) -> tuple[float, float | None]:
        # The penalties of a training user step: weighted-lambda on p_u, reg_bias on b_u.
        return float(self.reg) * n, (float(self.reg_bias) if self.biases else None)
