"""Implicit alternating least squares (iALS, weighted matrix factorisation).

Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008.
The per-row solvers are in :mod:`recsys.kernels.ials`.
"""

from __future__ import annotations

import numpy as np

from recsys.dataset import Dataset
from recsys.errors import FitError
from recsys.kernels.ials import gram_matrix, ials_half_step
from recsys.models._implicit import csr_arrays, positive_items, positives_csr
from recsys.models.factor import ImplicitFactorModel, solve_normal_equations
from recsys.models.registry import register
from recsys.threads import numba_threads, threads_for
from recsys.validation import as_generator, check_choice

_SOLVERS = ("cg", "cholesky")


@register
class ImplicitALS(ImplicitFactorModel):
    """Weighted matrix factorisation of the binary preference matrix, fitted by ALS.

    Minimises (Hu et al. 2008, eq. 3)::

        sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2
            + sum_u lambda_u ||x_u||^2 + sum_i lambda_i ||y_i||^2

    with ``p_ui = 1`` for a positive and 0 otherwise, and confidence ``c_ui = 1 + alpha * r_ui``
    where ``r_ui = 1`` for a positive (so ``c = 1 + alpha``) and 0 otherwise (``c = 1``).
    Scores are ``x_u . y_i``, higher is better; they are not ratings.

    The penalties are frequency-scaled as in Rendle, Krichene, Zhang & Koren, "Revisiting the
    Performance of iALS on Item Recommendation Benchmarks" (RecSys 2022)::

        lambda_u = reg * (alpha * n_u + n_items) ** reg_exponent
        lambda_i = reg * (alpha * n_i + n_users) ** reg_exponent

    with ``n_u``, ``n_i`` the positives of the user / item: ``alpha * n_u + n_items`` is the
    row's total confidence ``sum_i c_ui``. ``reg_exponent = 0`` is Hu et al.'s constant
    penalty. The paper writes the loss as ``sum_S (1 - x.y)^2 + alpha_0 sum_all (x.y)^2``
    with penalty ``lambda (|I_u| + alpha_0 |I|)^nu``; divided by ``alpha_0`` that is this
    loss with ``alpha = 1 / alpha_0``, ``reg_exponent = nu`` and a positive target of
    ``s = alpha / (1 + alpha)`` instead of 1. Scaling the target by ``s`` scales both factor
    sides by ``sqrt(s)`` (the same rankings) when the penalty is divided by ``s``, so the
    paper's model is this one with ``reg = lambda * alpha_0 ** (nu - 1) * (1 + alpha_0)``
    (``(|I_u| + alpha_0 |I|)^nu = alpha_0^nu (alpha n_u + n_items)^nu``).

    Parameters
    ----------
    n_factors : int
        Latent dimension k.
    reg : float
        L2 regularisation lambda (scaled per row by ``reg_exponent``, see above).
    alpha : float
        Confidence slope.
    reg_exponent : float
        The exponent nu of the frequency-scaled penalty (0: Hu et al.'s constant ``reg``;
        1: a penalty proportional to the row's total confidence).
    n_iterations : int
        ALS sweeps (users, then items).
    solver : {"cg", "cholesky"}
        "cg": ``cg_steps`` conjugate-gradient steps per row, warm-started from the previous
        sweep (Takacs et al. 2011; ``implicit``'s default). "cholesky": the exact solve.
    cg_steps : int
        Conjugate-gradient steps per row and half-sweep (``implicit`` uses 3).
    threshold : float or None
        Which ratings are positives: None = every rating, else the ratings ``>= threshold``.
    seed : int, numpy Generator or None
        Made into the Generator that draws the initial factors, at the start of ``fit``
        (:func:`recsys.validation.as_generator`: a Generator is used as it is, None draws
        fresh entropy).

    Notes
    -----
    The defaults of ``reg`` and ``alpha`` are the values chosen on validation splits of
    ML-100K (benchmarks/topn_accuracy.py); other data sets need their own.

    Initial factors are uniform on ``[0, 0.01)`` (the ``implicit`` library's choice). Rows are
    solved in parallel (Numba ``prange``; one thread below
    :data:`recsys.threads.PARALLEL_MIN_WORK` multiply-adds per sweep); the result does not
    depend on the thread count.

    ``implicit``'s ``AlternatingLeastSquares`` uses the confidence ``alpha * value`` of the
    matrix it is given; it reproduces this model when given ``1 + alpha * r`` with its own
    alpha set to 1.

    A new user (:meth:`recommend_new_user`) gets the exact solution of their weighted least
    squares against the fixed item factors (Hu et al., eq. 4), from their positives.
    Scoring and similar items (cosine of the item factors) come from
    :class:`~recsys.models.factor.ImplicitFactorModel`: an unknown user is scored with the
    mean user factor, an unknown item with the mean item factor.
    """

    capabilities = frozenset({"new_user", "similar_items", "explain"})

    _fitted_arrays = ("user_factors_", "item_factors_")

    def __init__(self, n_factors: int = 64, reg: float = 30.0, alpha: float = 2.0,
                 reg_exponent: float = 0.0,
                 n_iterations: int = 15, solver: str = "cg", cg_steps: int = 3,
                 threshold: float | None = None,
                 seed: int | np.random.Generator | None = None):
        self._keep_params(locals())

    def _check_params(self) -> None:
        self._check_ranges(n_factors=(1, "int"), reg=(0.0, ">"), alpha=(0.0, ">="),
                           reg_exponent=(0.0, ">="), n_iterations=(0, "int"),
                           cg_steps=(1, "int"))
        check_choice("solver", self.solver, _SOLVERS)

    def _fit(self, train: Dataset) -> None:
        self._check_params()
        rng = as_generator(self.seed)
        Cui = positives_csr(train.csr, self.threshold)
        Cui.data = np.full(Cui.nnz, 1.0 + float(self.alpha), dtype=np.float32)
        Ciu = Cui.T.tocsr()
        Ciu.sort_indices()
        n_users, n_items = Cui.shape
        k = int(self.n_factors)
        X = rng.random((n_users, k), dtype=np.float32) * np.float32(0.01)
        Y = rng.random((n_items, k), dtype=np.float32) * np.float32(0.01)
        by_user = (*csr_arrays(Cui), np.ascontiguousarray(Cui.data, dtype=np.float32))
        by_item = (*csr_arrays(Ciu), np.ascontiguousarray(Ciu.data, dtype=np.float32))
        user_reg = self._row_penalties(np.diff(Cui.indptr), n_items)
        item_reg = self._row_penalties(np.diff(Ciu.indptr), n_users)
        exact = self.solver == "cholesky"
        steps = int(self.cg_steps)
        with numba_threads(threads_for(self._work(Cui.nnz, n_users + n_items, k))):
            for _ in range(int(self.n_iterations)):
                bad = ials_half_step(*by_user, X, Y, gram_matrix(Y), user_reg, steps, exact)
                bad += ials_half_step(*by_item, Y, X, gram_matrix(X), item_reg, steps, exact)
                if bad:  # cannot happen with reg > 0 unless the data hold inf/NaN
                    raise FitError(f"ImplicitALS: {bad} normal-equation systems were not "
                                   "positive definite; check the ratings are finite")
        self.user_factors_ = X
        self.item_factors_ = Y

    def _work(self, nnz: int, rows: int, k: int) -> float:
        """Multiply-adds of one sweep (both half-steps), for :func:`recsys.threads.threads_for`:
        the pairs' rank-one updates and the rows' k x k products, per CG pass or solve."""
        if self.solver == "cholesky":
            return 2.0 * nnz * k * k + rows * k ** 3 / 3.0
        return 2.0 * (nnz * k + rows * k * k) * (int(self.cg_steps) + 1)

    def _row_penalties(self, counts: np.ndarray, n_other: int) -> np.ndarray:
        """lambda of each row with ``counts`` positives against ``n_other`` columns: float32
        ``reg * (alpha * count + n_other) ** reg_exponent`` (class notes)."""
        weight = float(self.alpha) * np.asarray(counts, dtype=np.float64) + float(n_other)
        return (float(self.reg) * weight ** float(self.reg_exponent)).astype(np.float32)

    def _user_system(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # (A, b) of eq. 4 for a user whose positives are `items` (unique internal indices).
        Y = np.asarray(self.item_factors_, dtype=np.float64)
        Yp = Y[items]
        A = Y.T @ Y + float(self.alpha) * (Yp.T @ Yp)
        A[np.diag_indices_from(A)] += float(self._row_penalties([len(items)], len(Y))[0])
        b = (1.0 + float(self.alpha)) * Yp.sum(axis=0)
        return A, b

    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """``(0.0, x)``: the exact user factor x (float64, (k,)) of a user not in the
        training data, solving eq. 4 against the fixed item factors from their positives."""
        A, b = self._user_system(positive_items(items, ratings, self.threshold))
        return 0.0, solve_normal_equations(A, b)

    def _explain(self, user: int, item: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Hu et al. 2008, section 5: with ``W_u = (Y^T C_u Y + reg I)^-1`` the exact score is
        ``sum over positives j of (y_i^T W_u y_j) c_uj``; return the n largest terms.

        The terms add up to the score of the exact solve; with the CG solver the stored user
        factor is close to it, not equal.
        """
        items = np.empty(0, dtype=np.int64)  # an unknown user: nothing to explain with
        if user >= 0:
            items = positive_items(*self.user_history(user), self.threshold)
        if len(items) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        A, _ = self._user_system(items)
        Y = np.asarray(self.item_factors_, dtype=np.float64)
        w = solve_normal_equations(A, Y[item])
        contrib = (1.0 + float(self.alpha)) * (Y[items] @ w)
        order = np.argsort(-contrib, kind="stable")[:n]
        return items[order], contrib[order]

