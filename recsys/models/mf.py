"""Matrix factorization trained by stochastic gradient descent: :class:`FunkSVD`."""

from __future__ import annotations

import time

import numba
import numpy as np

from recsys.dataset import Dataset
from recsys.kernels.scoring import clipped_rmse
from recsys.kernels.sgd import (mf_epoch, mf_epoch_hogwild, mf_epoch_strata,
                                mf_epoch_strata_serial, shuffle,
                                shuffle_shards, stratify)
from recsys.models.factor import FactorModel
from recsys.models.registry import register
from recsys.threads import FasterKernel, free_cores, numba_threads
from recsys.validation import as_generator, eval_triples

__all__ = ["FunkSVD", "numba_threads", "strata_threads"]

#: Below this many factor updates per epoch (ratings * factors) the "strata" mode runs on one
#: thread unless told otherwise: measured on 2 idle cores, 30,000 ratings x 100 factors gained
#: 1.3x from the second thread, 10,000 x 100 nothing, 30,000 x 20 lost 5%.
_STRATA_MIN_WORK = 1_000_000


def strata_threads(work: int) -> int:
    """Threads for a "strata" fit of ``work`` factor updates per epoch when ``n_threads`` is
    not given: 1 below :data:`_STRATA_MIN_WORK`, else Numba's thread count capped by the
    cores free right now (:func:`recsys.threads.free_cores`).

    The result does not depend on it (strata are bit-identical on any thread count), so the
    choice is free to follow the machine: a parallel epoch ends at a barrier per stratum,
    and when another process holds a core the barrier waits for the descheduled thread
    (ML-100K under two busy processes on 2 cores: ``benchmarks/bench_sgd.py --busy``).
    """
    if work < _STRATA_MIN_WORK:
        return 1
    return max(1, min(numba.get_num_threads(), free_cores()))


@register
class FunkSVD(FactorModel):
    """Biased matrix factorization by SGD (Funk 2006; Koren, Bell & Volinsky 2009).

    ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i``, trained by SGD on the squared error with
    L2 regularization; the update rule is written out in :mod:`recsys.kernels.sgd`. The
    defaults are Surprise's ``SVD``.

    Parameters
    ----------
    n_factors : int, default 100
    n_epochs : int, default 20
    learning_rate : float, default 0.005
        Step size for factors and biases.
    reg_factors, reg_bias : float, default 0.02
        L2 regularization of the factors and of the biases (applied at every update, as in
        Surprise, so a user with n ratings is regularised n times per epoch).
    init_mean, init_std : float, default 0, 0.1
        Factors start as independent normal draws with this mean and standard deviation;
        biases start at 0.
    biased : bool, default True
        False learns no biases (they stay 0). Unlike Surprise's ``biased=False`` the global
        mean is still part of the prediction.
    lr_decay : float, default 1.0
        The learning rate of epoch e (from 0) is ``learning_rate * lr_decay**e``.
    early_stopping : bool, default False
        Hold out a seeded ``validation_fraction`` of the training ratings, train on the rest,
        and stop when the validation RMSE has not improved for ``patience`` epochs; the
        parameters of the best epoch are kept (they were trained without the held-out part).
    validation_fraction : float, default 0.1
    patience : int, default 2
    parallel : {"strata", False, "hogwild"} or bool, default "strata"
        ``"strata"`` (default): stratified SGD, deterministic, on all threads. Users and
        items are each cut into ``n_strata`` seeded random groups of about equal rating
        counts; the ``n_strata`` blocks of a stratum share no user and no item, so they run
        in parallel without races (:func:`recsys.kernels.sgd.mf_epoch_strata`). Each epoch
        shuffles the ratings within every block and the order of the strata. The result
        depends on the seed and ``n_strata`` only, never on the thread count: bit-identical
        arrays on 1 or 16 threads, equal to one thread walking the blocks in turn.

        False: one thread, every epoch a fresh uniformly random order of all the ratings
        (the textbook algorithm; with ``shuffle=False``, Surprise's order).

        ``"hogwild"`` (or True): the shuffled order is cut into one shard per thread and
        the shards run at once, lock-free (:func:`recsys.kernels.sgd.mf_epoch_hogwild`);
        after the first epoch each thread reshuffles only its own shard, in parallel
        (:func:`recsys.kernels.sgd.shuffle_shards`). Concurrent updates of the same row race,
        so the result depends on thread timing and is not reproducible bit for bit.

        Why ``"strata"`` is the default: it is reproducible like the single-thread mode and
        faster on several cores (on 2 cores: ~1.2-1.4x on ML-100K, 2.4-3x at 20M ratings,
        where Hogwild gets ~2x; ``benchmarks/bench_sgd.py``), and its blocked visiting order
        fits as well as the uniform one (test RMSE within 0.0005 of it on ML-100K u1..u5,
        0.9397 both in the README's ``ml100k-rating`` results, and on ml-latest-small).
    n_strata : int, default 8
        ``g`` for ``parallel="strata"``: a ``g x g`` grid of blocks, ``g`` strata, at most
        ``g`` threads busy. More strata balance the threads better; each stratum is one
        parallel region (tens of microseconds to start). Changing it changes the result.
    n_threads : int, optional
        Threads for the parallel modes. Default: Numba's current count for ``"hogwild"``;
        for ``"strata"`` (:func:`strata_threads`) one thread when ``n_ratings * n_factors``
        is below 1,000,000 (waking the thread pool costs more than it saves there), else
        Numba's count capped by the cores free when ``fit`` starts (other runnable threads
        on the machine take theirs), so that a busy machine does not leave a parallel epoch
        waiting at its barriers for a descheduled thread; and then, epoch by epoch, the
        faster of that parallel epoch and the serial one by their measured wall times
        (:class:`recsys.threads.FasterKernel`: the first epoch parallel, the second serial,
        the slower one retried every 8 epochs; ``epoch_threads_`` says what ran). On an
        idle 2-core Xeon the serial epoch wins on ML-100K (parallel 1.27x slower), on a
        2-core EPYC the parallel one. The strata result is the same on any count; on one
        thread it runs without a parallel region
        (:func:`recsys.kernels.sgd.mf_epoch_strata_serial`). A given ``n_threads`` is used
        for every epoch. Set only for the duration of ``fit`` and restored afterwards.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the parameters and of the arithmetic in the training loop.
    shuffle : bool, default True
        Visit the ratings in a fresh random order each epoch. False keeps one order every
        epoch: with ``parallel="strata"`` the data set order within each block and the strata
        in turn; with ``parallel=False`` the ratings grouped by user in their data set order
        (Surprise's order). Usually a little less accurate.
    seed : int, numpy Generator or None, default 0
        Made into one numpy Generator at the start of ``fit``
        (:func:`recsys.validation.as_generator`; a Generator is used as it is, None draws
        fresh entropy), which draws the initial factors, the validation split and each
        epoch's order (an integer seed for :func:`recsys.kernels.sgd.shuffle`).

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray (n_users, n_factors), (n_items, n_factors)
    user_bias_, item_bias_ : ndarray (n_users,), (n_items,)
        All C-contiguous, of ``dtype``.
    global_mean_ : float
        Mean of the ratings trained on.
    history_ : dict of lists
        Per epoch: ``"train_rmse"``, the running RMSE of the errors met during the epoch,
        each before its update (no extra pass; it lags the end-of-epoch parameters);
        ``"eval_rmse"``, the RMSE of clipped predictions on ``fit(..., eval_set=)`` after
        the epoch (empty without one); ``"val_rmse"`` likewise on the early-stopping split.
    best_epoch_ : int
        Number of epochs behind the kept parameters (``n_epochs`` without early stopping).
    epoch_threads_ : list of int
        Threads each epoch ran on (``"strata"`` picks per epoch; see ``n_threads``).

    ``fit(train, eval_set=..., epoch_callback=f)`` calls ``f(epoch, history_)`` after each
    epoch (``epoch`` counted from 1, the lists filled so far); an exception it raises ends
    the fit (:mod:`recsys.tuning_optuna` prunes a trial this way).

    Notes
    -----
    Fallbacks: an unknown user scores ``mu + b_i``, an unknown item ``mu + b_u``, both
    ``mu``. A user or item that is in the id maps but has no training rating has its
    factors and bias set to 0 after training, so it scores exactly like an unknown one
    (rather than with its random initial factors). ``predict`` clips to the rating scale.
    Scoring, similar items (cosine of ``q_i``) and the new-user fold-in (:meth:`fold_in`,
    penalties ``n * reg_factors`` and ``n * reg_bias``) come from
    :class:`~recsys.models.factor.FactorModel`.
    """

    capabilities = frozenset({"new_user", "similar_items"})

    _fitted_arrays = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")

    def __init__(self, n_factors: int = 100, n_epochs: int = 20, learning_rate: float = 0.005,
                 reg_factors: float = 0.02, reg_bias: float = 0.02, init_mean: float = 0.0,
                 init_std: float = 0.1, biased: bool = True, lr_decay: float = 1.0,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 patience: int = 2, parallel: bool | str = "strata", n_strata: int = 8,
                 n_threads: int | None = None, dtype: str = "float32", shuffle: bool = True,
                 seed: int | np.random.Generator | None = 0):
        self._keep_params(locals())

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> np.dtype:
        self._check_ranges(n_factors=(1, "int"), n_epochs=(0, "int"), learning_rate=(0.0, ">"),
                           reg_factors=(0.0, ">="), reg_bias=(0.0, ">="),
                           init_mean=(-np.inf, ">="), init_std=(0.0, ">="),
                           lr_decay=(0.0, ">="), validation_fraction=(0.0, ">"))
        if self.validation_fraction >= 1:
            raise ValueError(f"validation_fraction must be < 1, got {self.validation_fraction}")
        self._check_ranges(patience=(1, "int"))
        self._parallel_mode()
        self._check_ranges(n_strata=(1, "int"))
        if self.n_strata > 1024:
            raise ValueError(f"n_strata must be <= 1024 (the grid has n_strata**2 blocks), "
                             f"got {self.n_strata}")
        if self.n_threads is not None:
            self._check_ranges(n_threads=(1, "int"))
            if self.n_threads > numba.config.NUMBA_NUM_THREADS:
                raise ValueError(f"n_threads={self.n_threads} exceeds the "
                                 f"{numba.config.NUMBA_NUM_THREADS} threads Numba started with "
                                 "(NUMBA_NUM_THREADS)")
        return self._check_dtype()

    def _fit(self, train: Dataset, eval_set: Dataset | None = None,
             epoch_callback=None) -> None:
        dt = self._check_params()
        rng = as_generator(self.seed)
        evaluation = eval_triples(train, eval_set)
        fit_part, validation = train, None
        if self.early_stopping:
            fit_part, validation = self._validation_split(train, rng)
        mu = fit_part.global_mean
        self.global_mean_ = mu
        k = int(self.n_factors)
        P = self._init_factors(rng, (train.n_users, k), dt)
        Q = self._init_factors(rng, (train.n_items, k), dt)
        bu = np.zeros(train.n_users, dtype=dt)
        bi = np.zeros(train.n_items, dtype=dt)
        users, items = fit_part.users, fit_part.items
        ratings = fit_part.ratings.astype(dt, copy=False)
        n = len(ratings)
        index_type = np.int32 if n < 2**31 else np.int64
        mode = self._parallel_mode()
        if mode == "strata":
            order, block_offsets = self._strata_layout(fit_part, rng, index_type)
        elif self.shuffle:
            order = np.arange(n, dtype=index_type)
        else:  # grouped by user, data set order within a user: Surprise's order
            order = np.argsort(users, kind="stable").astype(index_type)
        lo, hi = train.rating_scale
        scalar = dt.type
        history = {"train_rmse": [], "eval_rmse": []}
        if validation is not None:
            history["val_rmse"] = []
        best = (np.inf, 0, None)  # (validation RMSE, epoch count, parameter copies)
        epochs_run = 0
        strata = np.arange(int(self.n_strata), dtype=np.int64)
        n_threads = self.n_threads
        if mode == "strata" and n_threads is None:
            n_threads = strata_threads(n * k)
        with numba_threads(n_threads if mode else None) as threads:
            # Given n_threads: that many, always. Else the faster of parallel and serial by
            # measured epoch times (the same result either way).
            kernels = FasterKernel(parallel_ok=threads > 1, adaptive=self.n_threads is None)
            for epoch in range(int(self.n_epochs)):
                epoch_seed = 0
                if self.shuffle:
                    epoch_seed = int(rng.integers(0, 2**63 - 1))
                    if mode == "strata":  # the blocks are shuffled inside the epoch kernel
                        strata = rng.permutation(strata)
                    elif mode == "hogwild" and epoch > 0:
                        shuffle_shards(order, threads, epoch_seed)
                    else:
                        shuffle(order, epoch_seed)
                lr = scalar(self.learning_rate * float(self.lr_decay) ** epoch)
                args = (users, items, ratings, order)
                params = (scalar(mu), P, Q, bu, bi, lr, lr, scalar(self.reg_bias),
                          scalar(self.reg_factors), bool(self.biased))
                if mode == "strata":
                    parallel = kernels.next()
                    t0 = time.perf_counter()
                    loss = (mf_epoch_strata if parallel else mf_epoch_strata_serial)(
                        *args, block_offsets, strata, bool(self.shuffle), epoch_seed, *params)
                    kernels.record(parallel, time.perf_counter() - t0)
                elif mode == "hogwild":
                    loss = mf_epoch_hogwild(*args, threads, *params)
                else:
                    loss = mf_epoch(*args, 0, n, *params)
                epochs_run = epoch + 1
                history["train_rmse"].append(float(np.sqrt(loss / max(n, 1))))
                if evaluation is not None:
                    history["eval_rmse"].append(
                        float(clipped_rmse(*evaluation, mu, P, Q, bu, bi, lo, hi)))
                if epoch_callback is not None:  # may raise to stop (tuning prunes so)
                    epoch_callback(epochs_run, history)
                if validation is not None:
                    score = float(clipped_rmse(*validation, mu, P, Q, bu, bi, lo, hi))
                    history["val_rmse"].append(score)
                    if score < best[0]:
                        best = (score, epochs_run, (P.copy(), Q.copy(), bu.copy(), bi.copy()))
                    elif epochs_run - best[1] >= self.patience:
                        break
        self.best_epoch_ = epochs_run
        if best[2] is not None:
            P, Q, bu, bi = best[2]
            self.best_epoch_ = best[1]
        self.n_epochs_run_ = epochs_run
        self.epoch_threads_ = ([threads if p else 1 for p in kernels.chosen] if mode == "strata"
                               else [threads if mode else 1] * epochs_run)
        # Rows never trained keep their random start; zero them so they score as unknown.
        P[fit_part.user_counts == 0] = 0
        bu[fit_part.user_counts == 0] = 0
        Q[fit_part.item_counts == 0] = 0
        bi[fit_part.item_counts == 0] = 0
        self.user_factors_, self.item_factors_ = P, Q
        self.user_bias_, self.item_bias_ = bu, bi
        self.history_ = history

    def _parallel_mode(self) -> str | None:
        """None (one thread), "strata" or "hogwild"; True means "hogwild"."""
        if isinstance(self.parallel, (bool, np.bool_)):
            return "hogwild" if self.parallel else None
        if isinstance(self.parallel, str) and self.parallel in ("strata", "hogwild"):
            return self.parallel
        raise ValueError(f"parallel must be False, 'strata' or 'hogwild' (or True), got "
                         f"{self.parallel!r}")

    def _strata_layout(self, part: Dataset, rng, index_type):
        """Rating order and block offsets of the ``n_strata x n_strata`` grid."""
        g = int(self.n_strata)
        user_group = _balanced_groups(part.user_counts, g, rng)
        item_group = _balanced_groups(part.item_counts, g, rng)
        order = np.empty(part.n_ratings, dtype=index_type)
        return order, stratify(part.users, part.items, user_group, item_group, g, order)

    def _init_factors(self, rng, shape, dt) -> np.ndarray:
        out = rng.standard_normal(shape, dtype=dt)
        out *= dt.type(self.init_std)
        out += dt.type(self.init_mean)
        return out

    def _validation_split(self, train: Dataset, rng):
        n = train.n_ratings
        n_val = int(round(self.validation_fraction * n))
        if n_val < 1 or n_val >= n:
            raise ValueError(f"early_stopping: validation_fraction={self.validation_fraction} "
                             f"of {n} ratings leaves an empty training or validation part")
        held = np.zeros(n, dtype=bool)
        held[rng.permutation(n)[:n_val]] = True
        fit_part = train.subset(~held)
        return fit_part, (train.users[held], train.items[held], train.ratings[held])

    def _extra_meta(self) -> dict:
        return {"history_": getattr(self, "history_", {}),
                "best_epoch_": getattr(self, "best_epoch_", 0),
                "n_epochs_run_": getattr(self, "n_epochs_run_", 0),
                "epoch_threads_": getattr(self, "epoch_threads_", [])}

    # ------------------------------------------------------------------ new users
    def _fold_in_penalties(self, n: int) -> tuple[float, float | None]:
        # SGD regularises once per rating, so the point it converges to for a user with the
        # items held fixed carries n times each per-rating penalty; no bias when unbiased.
        return n * float(self.reg_factors), (n * float(self.reg_bias) if self.biased else None)


def _balanced_groups(counts: np.ndarray, n_groups: int, rng) -> np.ndarray:
    """Seeded random groups (int64, values ``0..n_groups-1``) of about equal total count.

    The rows are put in a random order and cut where the running count crosses each
    multiple of ``counts.sum() / n_groups``, so every group holds about as many ratings.
    """
    counts = np.asarray(counts, dtype=np.int64)
    perm = rng.permutation(len(counts))
    before = np.cumsum(counts[perm]) - counts[perm]
    groups = np.empty(len(counts), dtype=np.int64)
    groups[perm] = np.minimum(before * n_groups // max(int(counts.sum()), 1), n_groups - 1)
    return groups
