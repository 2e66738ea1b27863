"""Bayesian personalised ranking with matrix factorisation (BPR-MF).

Rendle, Freudenthaler, Gantner & Schmidt-Thieme, "BPR: Bayesian Personalized Ranking from
Implicit Feedback", UAI 2009. The kernels are in :mod:`recsys.kernels.bpr`.
"""

from __future__ import annotations

import numba
import numpy as np

from recsys.dataset import Dataset
from recsys.kernels.bpr import bpr_epoch, bpr_epoch_hogwild
from recsys.models._implicit import csr_arrays, positive_items, positives_csr
from recsys.models.factor import ImplicitFactorModel
from recsys.models.registry import register
from recsys.validation import as_generator, check_choice

_NEGATIVE_SAMPLING = ("uniform", "popularity")
_MAX_TRIES = 100


@register
class BPR(ImplicitFactorModel):
    """BPR-MF trained by LearnBPR: SGD over sampled (user, positive, negative) triples.

    Scores are ``b_i + p_u . q_i``, higher is better; they are not ratings.

    Parameters
    ----------
    n_factors : int
        Latent dimension k.
    learning_rate : float
        SGD step size.
    reg : float
        L2 regularisation of user factors, item factors and item biases (one lambda, as the
        ``implicit`` library).
    n_epochs : int
        Passes of ``n_samples`` triples each.
    n_samples : int or None
        Triples per epoch; None = the number of positive pairs (LearnBPR's usual epoch).
    use_item_bias : bool
        Learn an item bias ``b_i`` (a popularity term) next to the factors.
    negative_sampling : {"uniform", "popularity"}
        How the negative item j is drawn: uniformly over all items (the paper), or in
        proportion to its number of positives (as ``implicit``'s BPR). Either way a j the user
        has as a positive is rejected (see ``redraw_negatives``).
    redraw_negatives : bool
        What happens to a drawn negative that is one of the user's positives. True: draw
        again (up to 100 times), so j follows the sampling distribution restricted to the
        user's non-positives (LearnBPR's ``j in I \\ I_u+``). False: skip the sample, as
        ``implicit``'s ``verify_negative_samples`` does; heavy users then get fewer updates,
        most of all with popularity sampling.
    threshold : float or None
        Which ratings are positives: None = every rating, else the ratings ``>= threshold``.
    parallel : bool
        False (default): one thread, reproducible bit for bit for a given seed. True: Hogwild
        over Numba's thread count (``numba.set_num_threads``), one random stream per thread
        seeded from ``seed``; faster, but not reproducible bit for bit.
    seed : int, numpy Generator or None
        Made into the Generator that draws the initial factors and seeds the sampling
        streams, at the start of ``fit`` (:func:`recsys.validation.as_generator`: a
        Generator is used as it is, None draws fresh entropy).

    Notes
    -----
    The default ``reg`` is the value chosen on validation splits of ML-100K with the other
    defaults (benchmarks/topn_accuracy.py).

    Initial factors are uniform on ``[-0.5, 0.5) / n_factors`` (the ``implicit`` library's
    choice); users and items with no positive start (and stay) at 0, so an empty user is
    ranked by item bias alone. ``history_`` lists, per epoch, the share of sampled triples
    already ranked right before their update (a running estimate of the training AUC) and
    the number of samples skipped because no negative was found (or, with
    ``redraw_negatives=False``, because the first one drawn was a positive).

    New users (:meth:`recommend_new_user`) are folded in as the mean of the factors of their
    positive items: BPR's user-factor gradient pushes ``p_u`` towards the factors of the
    user's positives and away from random items, so the mean positive item factor is the
    direction that ranks those items (and items like them) high. With no positive the user
    is ranked by item bias.

    Scoring and similar items (cosine of the item factors) come from
    :class:`~recsys.models.factor.ImplicitFactorModel`: an unknown user is scored with the
    mean user factor, an unknown item with the mean item factor and mean item bias.
    """

    capabilities = frozenset({"new_user", "similar_items"})

    _fitted_arrays = ("user_factors_", "item_factors_", "item_bias_")

    def __init__(self, n_factors: int = 64, learning_rate: float = 0.05, reg: float = 0.01,
                 n_epochs: int = 50, n_samples: int | None = None, use_item_bias: bool = True,
                 negative_sampling: str = "uniform", redraw_negatives: bool = True,
                 threshold: float | None = None, parallel: bool = False,
                 seed: int | np.random.Generator | None = None):
        self._keep_params(locals())

    def _check_params(self) -> None:
        self._check_ranges(n_factors=(1, "int"), learning_rate=(0.0, ">"), reg=(0.0, ">="),
                           n_epochs=(0, "int"))
        if self.n_samples is not None:
            self._check_ranges(n_samples=(1, "int"))
        check_choice("negative_sampling", self.negative_sampling, _NEGATIVE_SAMPLING)

    def _fit(self, train: Dataset) -> None:
        self._check_params()
        rng = as_generator(self.seed)
        X = positives_csr(train.csr, self.threshold)
        n_users, n_items = X.shape
        k = int(self.n_factors)
        indptr, indices = csr_arrays(X)
        user_counts = np.diff(indptr)
        item_counts = np.bincount(indices, minlength=n_items)
        P = ((rng.random((n_users, k), dtype=np.float32) - 0.5) / k).astype(np.float32)
        Q = ((rng.random((n_items, k), dtype=np.float32) - 0.5) / k).astype(np.float32)
        P[user_counts == 0] = 0.0
        Q[item_counts == 0] = 0.0
        bias = np.zeros(n_items, dtype=np.float32)
        pair_users = np.repeat(np.arange(n_users, dtype=np.int32), user_counts)
        nnz = len(indices)
        n_samples = nnz if self.n_samples is None else int(self.n_samples)
        popularity = self.negative_sampling == "popularity"
        tries = _MAX_TRIES if self.redraw_negatives else 1
        self.history_ = []
        for epoch in range(int(self.n_epochs) if nnz else 0):
            if self.parallel:
                seeds = rng.integers(0, 2**64, size=numba.get_num_threads(), dtype=np.uint64)
                correct, skipped = bpr_epoch_hogwild(
                    indptr, indices, pair_users, n_samples, seeds, P, Q, bias,
                    float(self.learning_rate), float(self.reg), bool(self.use_item_bias),
                    popularity, tries)
            else:
                seed = rng.integers(0, 2**64, dtype=np.uint64)
                correct, skipped = bpr_epoch(
                    indptr, indices, pair_users, n_samples, seed, P, Q, bias,
                    float(self.learning_rate), float(self.reg), bool(self.use_item_bias),
                    popularity, tries)
            done = n_samples - skipped
            self.history_.append({"epoch": epoch + 1,
                                  "train_auc": correct / done if done else float("nan"),
                                  "skipped": int(skipped)})
        if not np.isfinite(P).all() or not np.isfinite(Q).all():
            raise FloatingPointError("BPR diverged (non-finite factors); lower learning_rate")
        self.user_factors_ = P
        self.item_factors_ = Q
        self.item_bias_ = bias

    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """``(0.0, p)``: a new user's factor p (float64, (k,)), the mean factor of their
        positive items (0 without any; see the class notes)."""
        pos = positive_items(items, ratings, self.threshold)
        Q = np.asarray(self.item_factors_, dtype=np.float64)
        return 0.0, (Q[pos].mean(axis=0) if len(pos) else np.zeros(Q.shape[1]))
