"""ALS: matrix factorization of explicit ratings by alternating least squares.

Weighted-lambda regularisation after Zhou et al. (2008); the kernel and the normal equations
it solves are in :mod:`recsys.kernels.als`.
"""

from __future__ import annotations

import math

import numpy as np

from recsys.dataset import Dataset
from recsys.kernels.als import als_half_sweep, balanced_chunks, mf_sse
from recsys.models.base import Recommender
from recsys.models.registry import register
from recsys.validation import check_number, eval_triples
from recsys.threads import numba_threads

__all__ = ["ALS", "fold_in_user", "cosine_similarities"]

#: Below this many Gram-matrix updates per half-sweep (ratings * (k+1)^2) ALS runs on one
#: thread: a parallel region costs tens of microseconds to start, and far more when the
#: cores are busy, which dominates tiny problems.
_PARALLEL_MIN_WORK = 2_000_000


@register
class ALS(Recommender):
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
    seed : int or None, default None
        Seeds the Generator that draws the initial item factors (None: fresh entropy).
    parallel : bool, default True
        Solve rows on all Numba threads (problems with fewer than about 2 million Gram
        updates, ratings * (k+1)^2, run on one thread anyway). Rows are independent, so the
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
    user scores ``mu + b_i``, an unknown item ``mu + b_u``, both unknown ``mu``.
    """

    capabilities = frozenset({"new_user", "similar_items"})

    _fitted_arrays = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")

    def __init__(self, n_factors: int = 20, n_iterations: int = 15, reg: float = 0.15,
                 reg_bias: float = 2.0, biases: bool = True, init_std: float = 0.1,
                 seed: int | None = None, parallel: bool = True, dtype: str = "float32"):
        self.n_factors = n_factors
        self.n_iterations = n_iterations
        self.reg = reg
        self.reg_bias = reg_bias
        self.biases = biases
        self.init_std = init_std
        self.seed = seed
        self.parallel = parallel
        self.dtype = dtype

    def _check_params(self) -> np.dtype:
        check_number("n_factors", self.n_factors, 1, integer=True)
        check_number("n_iterations", self.n_iterations, 0, integer=True)
        check_number("reg", self.reg, 0.0, strict=True)
        for name in ("reg_bias", "init_std"):
            check_number(name, getattr(self, name), 0.0)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return np.dtype(self.dtype)

    # ------------------------------------------------------------------ training
    def _fit(self, train: Dataset, eval_set: Dataset | None = None) -> None:
        import numba

        dtype = self._check_params()
        k = int(self.n_factors)
        rng = np.random.default_rng(self.seed)
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
        n_threads = numba.get_num_threads() if self.parallel else 1
        if train.n_ratings * (k + 1) ** 2 < _PARALLEL_MIN_WORK:
            n_threads = 1  # waking the thread pool costs more than it saves; same result
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
        sse = mf_sse(users, items, ratings, float(self.global_mean_), self.user_factors_,
                     self.item_factors_, self.user_bias_, self.item_bias_,
                     *self.rating_scale_)
        return math.sqrt(sse / max(len(users), 1))

    # ------------------------------------------------------------------ scoring
    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        ku, ki = users >= 0, items >= 0
        u, i = np.where(ku, users, 0), np.where(ki, items, 0)
        dot = np.einsum("nk,nk->n", self.user_factors_[u].astype(np.float64),
                        self.item_factors_[i].astype(np.float64))
        return (self.global_mean_ + np.where(ku, self.user_bias_[u], 0.0)
                + np.where(ki, self.item_bias_[i], 0.0) + np.where(ku & ki, dot, 0.0))

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        known = users >= 0
        u = np.where(known, users, 0)
        p = self.user_factors_[u].astype(np.float64)
        p[~known] = 0
        scores = p @ self.item_factors_.T.astype(np.float64)
        scores += np.where(known, self.user_bias_[u], 0.0)[:, None]
        scores += self.item_bias_[None, :].astype(np.float64) + self.global_mean_
        return scores

    def _score_new_user(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Scores for a user outside the training data: one user half-step, no retraining.

        Solves the same regularised least squares as a training user step (penalties
        ``reg * n`` on p_u and ``reg_bias`` on b_u) against the fixed item parameters.
        """
        items = np.asarray(items, dtype=np.int64)
        q = self.item_factors_.astype(np.float64)
        base = self.global_mean_ + self.item_bias_.astype(np.float64)
        if len(items) == 0:
            return base.copy()
        residual = np.asarray(ratings, dtype=np.float64) - base[items]
        p, b = fold_in_user(q[items], residual, float(self.reg) * len(items),
                            float(self.reg_bias), bias=bool(self.biases))
        return base + b + q @ p

    def _similar_items(self, item: int) -> np.ndarray:
        """Cosine similarity of the item factors q_i (0 for an item with zero factors)."""
        return cosine_similarities(self.item_factors_, item)


# ---------------------------------------------------------------------- shared helpers
def fold_in_user(item_factors: np.ndarray, residual: np.ndarray, reg_factors: float,
                 reg_bias: float, bias: bool = True) -> tuple[np.ndarray, float]:
    """Ridge solution ``(p, b)`` of ``residual ~ item_factors @ p + b``.

    Minimises ``|residual - X p - b|^2 + reg_factors |p|^2 + reg_bias b^2`` for
    ``X = item_factors`` (n, k), float64. With ``bias=False``, ``b`` is 0 and not fitted.
    Falls back to the minimum-norm least-squares solution if the system is singular.
    """
    x = np.asarray(item_factors, dtype=np.float64)
    n, k = x.shape
    if bias:
        x = np.hstack([x, np.ones((n, 1))])
    penalty = np.full(x.shape[1], float(reg_factors))
    if bias:
        penalty[k] = float(reg_bias)
    gram = x.T @ x + np.diag(penalty)
    rhs = x.T @ np.asarray(residual, dtype=np.float64)
    try:
        w = np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        w = np.linalg.lstsq(gram, rhs, rcond=None)[0]
    return w[:k], (float(w[k]) if bias else 0.0)


def cosine_similarities(factors: np.ndarray, item: int) -> np.ndarray:
    """Cosine similarity (float64, shape (n_items,)) of every row of ``factors`` to row
    ``item``; 0 where either vector is zero."""
    f = np.asarray(factors, dtype=np.float64)
    norms = np.linalg.norm(f, axis=1)
    dots = f @ f[item]
    denom = norms * norms[item]
    out = np.zeros(len(f))
    nz = denom > 0
    out[nz] = dots[nz] / denom[nz]
    return out
