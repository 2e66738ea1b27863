"""SVD++: biased matrix factorization with an implicit-feedback term, trained by SGD.

Koren (2008), "Factorization meets the neighborhood", eq. 15::

    r_hat(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 * sum_{j in N(u)} y_j)

``N(u)`` is the set of items user ``u`` rated in the training data. The SGD kernel and how it
relates to Surprise's ``SVDpp`` are described in :mod:`recsys.kernels.svdpp`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from recsys.dataset import Dataset
from recsys.kernels.scoring import clipped_sse
from recsys.kernels.svdpp import (implicit_sums, shuffle_within_rows, svdpp_epoch,
                                  svdpp_epoch_hogwild)
from recsys.models.factor import FactorModel
from recsys.models.registry import register
from recsys.threads import numba_threads, threads_for
from recsys.validation import as_generator, eval_triples

__all__ = ["SVDpp"]


@register
class SVDpp(FactorModel):
    """SVD++ by stochastic gradient descent (Koren 2008), with Surprise's defaults.

    Parameters
    ----------
    n_factors : int, default 20
        Dimension k of p_u, q_i and y_j.
    n_epochs : int, default 20
        Passes over the training ratings.
    learning_rate : float, default 0.007
        SGD step size, for every parameter (Surprise's ``lr_all``).
    reg_factors : float, default 0.02
        L2 penalty on p_u and q_i, per update (Surprise's ``reg_pu``/``reg_qi``).
    reg_bias : float, default 0.02
        L2 penalty on b_u and b_i, per update (Surprise's ``reg_bu``/``reg_bi``).
    reg_implicit : float, default 0.02
        L2 penalty on y_j, per update (Surprise's ``reg_yj``).
    init_std : float, default 0.1
        p_u, q_i and y_j start as N(0, init_std^2); biases start at 0.
    lr_decay : float, default 1.0
        The learning rate is multiplied by this after every epoch (1.0: constant rate, as in
        Surprise).
    seed : int, numpy Generator or None, default None
        Made into the one Generator (:func:`recsys.validation.as_generator`, at the start of
        ``fit``) that draws the initial factors and every epoch's visiting order. A
        Generator is used as it is; None draws fresh entropy (not reproducible).
    parallel : bool, default False
        False: one thread, and the same seed gives bit-identical parameters. True: Hogwild
        (Niu et al. 2011), lock-free SGD with the shuffled users split into one shard per
        Numba thread; faster on several cores, not reproducible. The default is the
        deterministic mode because reproducibility matters more for research than the
        speed-up, which is modest on two cores.
    dtype : {"float32", "float64"}, default "float32"
        Dtype of the parameters and of the SGD arithmetic.

    Attributes
    ----------
    user_factors_ : (n_users, k)             p_u
    item_factors_ : (n_items, k)             q_i
    item_implicit_factors_ : (n_items, k)    y_j
    user_bias_ : (n_users,), item_bias_ : (n_items,)
    user_implicit_sum_ : (n_users, k)        |N(u)|^-1/2 sum_{j in N(u)} y_j, cached after fit
    history_ : dict
        ``"train_rmse"``: per epoch, the RMSE of the errors the SGD saw during the epoch (each
        rating's error just before its update: free to compute, and slightly above the RMSE
        of the parameters at the end of the epoch). ``"eval_rmse"``: per epoch, RMSE on
        ``eval_set`` at the end of the epoch (predictions clipped to the rating scale, as
        ``predict`` gives them), empty without one.

    ``fit(train, eval_set=..., epoch_callback=f)`` calls ``f(epoch, history_)`` after each
    epoch (``epoch`` counted from 1); an exception it raises ends the fit
    (:mod:`recsys.tuning_optuna` prunes a trial this way).

    Notes
    -----
    Unknown users or items (and users or items with no training rating, whose factors are set
    to zero after training) fall back to ``mu + b_i`` for an unknown user, ``mu + b_u`` for an
    unknown item, and ``mu`` when both are unknown, as Surprise does. Scoring, similar
    items (cosine of ``q_i``) and the new-user fold-in come from
    :class:`~recsys.models.factor.FactorModel`, with the user vector
    ``p_u + |N(u)|^-1/2 sum y_j``. A new user's implicit term is ``|N|^-1/2 sum y_j`` over
    the given items; ``p_u`` and ``b_u`` then solve the regularised least squares of the
    residuals ``r - mu - b_i - q_i . z`` against the fixed ``q_i``, with penalties
    ``n * reg_factors`` on p_u and ``n * reg_bias`` on b_u (the total of the per-rating
    penalties the SGD applies over n ratings).
    """

    capabilities = frozenset({"new_user", "similar_items"})

    _fitted_arrays = ("user_factors_", "item_factors_", "item_implicit_factors_", "user_bias_",
                      "item_bias_", "user_implicit_sum_")

    def __init__(self, n_factors: int = 20, n_epochs: int = 20, learning_rate: float = 0.007,
                 reg_factors: float = 0.02, reg_bias: float = 0.02, reg_implicit: float = 0.02,
                 init_std: float = 0.1, lr_decay: float = 1.0,
                 seed: int | np.random.Generator | None = None, parallel: bool = False,
                 dtype: str = "float32"):
        self._keep_params(locals())

    # ------------------------------------------------------------------ training
    def _check_params(self) -> np.dtype:
        self._check_ranges(n_factors=(1, "int"), n_epochs=(0, "int"), learning_rate=(0.0, ">="),
                           reg_factors=(0.0, ">="), reg_bias=(0.0, ">="),
                           reg_implicit=(0.0, ">="), init_std=(0.0, ">="), lr_decay=(0.0, ">="))
        return self._check_dtype()

    def _fit(self, train: Dataset, eval_set: Dataset | None = None,
             epoch_callback=None) -> None:
        dtype = self._check_params()
        scalar = dtype.type
        k = int(self.n_factors)
        rng = as_generator(self.seed)
        m = train.csr
        indptr = m.indptr.astype(np.int64, copy=False)
        indices = m.indices.astype(np.int32, copy=False)
        ratings = m.data.astype(dtype, copy=False)
        n_users, n_items = train.n_users, train.n_items
        # Same draw order as Surprise: p, q, y.
        self.user_factors_ = (rng.standard_normal((n_users, k)) * self.init_std).astype(dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * self.init_std).astype(dtype)
        self.item_implicit_factors_ = (
            rng.standard_normal((n_items, k)) * self.init_std).astype(dtype)
        self.user_bias_ = np.zeros(n_users, dtype=dtype)
        self.item_bias_ = np.zeros(n_items, dtype=dtype)
        # Factors no training rating will touch would stay initialisation noise: zero them,
        # so such users and items get the documented bias-only fallback.
        self.user_factors_[train.user_counts == 0] = 0
        self.item_factors_[train.item_counts == 0] = 0
        self.item_implicit_factors_[train.item_counts == 0] = 0
        csr = (indptr, indices, ratings)
        evals = eval_triples(train, eval_set)
        # The helper kernels (implicit sums, evaluation) are parallel; on small problems a
        # parallel region costs more than it saves, so they run on one thread there.
        n_threads = numba.get_num_threads() if self.parallel else threads_for(train.n_ratings * k)
        with numba_threads(n_threads):
            self._epochs(csr, scalar(train.global_mean), rng, evals, train.rating_scale,
                         epoch_callback)
            self.user_implicit_sum_ = implicit_sums(indptr, indices,
                                                    self.item_implicit_factors_)

    def _epochs(self, csr, mu, rng, evals, rating_scale, epoch_callback=None) -> None:
        # The SGD epochs, each with a fresh visiting order from the model's Generator.
        indptr, indices, ratings = csr
        scalar = type(mu)
        regs = (scalar(self.reg_bias), scalar(self.reg_factors), scalar(self.reg_implicit))
        n_shards = numba.get_num_threads()
        self.history_ = {"train_rmse": [], "eval_rmse": []}
        lr = float(self.learning_rate)
        for _ in range(int(self.n_epochs)):
            user_order = rng.permutation(len(indptr) - 1).astype(np.int32)
            order = shuffle_within_rows(indptr, rng.random(len(indices)))
            args = (indptr, indices, ratings, user_order, order, mu, self.user_factors_,
                    self.item_factors_, self.item_implicit_factors_, self.user_bias_,
                    self.item_bias_, scalar(lr), *regs)
            if self.parallel:
                sse = svdpp_epoch_hogwild(*args, n_shards)
            else:
                sse = svdpp_epoch(*args)
            self.history_["train_rmse"].append(math.sqrt(sse / max(len(indices), 1)))
            if evals is not None:
                z = implicit_sums(indptr, indices, self.item_implicit_factors_)
                users, items, truth = evals
                esse = clipped_sse(users, items, truth, float(mu), self.user_factors_ + z,
                                   self.item_factors_, self.user_bias_, self.item_bias_,
                                   *rating_scale)
                self.history_["eval_rmse"].append(math.sqrt(esse / max(len(users), 1)))
            if epoch_callback is not None:  # may raise to stop (tuning prunes so)
                epoch_callback(len(self.history_["train_rmse"]), self.history_)
            lr *= float(self.lr_decay)

    # ------------------------------------------------------------------ scoring
    def _user_vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        # v_u = p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j (eq. 15), the sum cached by fit.
        if rows is None:
            return self.user_factors_ + self.user_implicit_sum_
        return self.user_factors_[rows] + self.user_implicit_sum_[rows]

    def _fold_in_fixed(self, items: np.ndarray) -> np.ndarray:
        # A new user's implicit term |N|^-1/2 sum y_j over the items they rated.
        y = self.item_implicit_factors_[items].astype(np.float64)
        return y.sum(axis=0) / math.sqrt(len(items))

    def _fold_in_penalties(self, n: int) -> tuple[float, float | None]:
        return n * float(self.reg_factors), n * float(self.reg_bias)
