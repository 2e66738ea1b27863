"""Bayesian factorization machine, fitted by Gibbs sampling (libFM's MCMC).

Rendle, "Factorization Machines with libFM", ACM TIST 2012 (its MCMC inference);
Freudenthaler, Schmidt-Thieme & Rendle, "Bayesian Factorization Machines", 2011. A
second-order FM over the feature blocks of :mod:`recsys.models.fm_features` (user and item
one-hot, and the SVD++-style implicit blocks of both sides), with a Gaussian likelihood and
Normal-Gamma hyperpriors per block; the sampler and the relational-block caching are in
:mod:`recsys.kernels.bfm`. The prediction is the mean of the FM over the samples drawn after
``burn_in``.

Because every feature of a rating belongs either to the user's or to the item's relation, one
sample's prediction splits as ``w0 + beta(u) + gamma(i) + a(u) . b(i)``, with ``a(u)`` (``b(i)``)
the user's (item's) summed factor vector and ``beta``/``gamma`` their linear and intra-relation
pairwise terms. The posterior mean over S samples is therefore exactly a biased factor model of
dimension ``S * rank``: ``user_factors_`` holds every sample's ``a(u)`` side by side, scaled by
``S^-1/2`` (so do ``item_factors_``), ``user_bias_``/``item_bias_`` the mean ``beta``/``gamma``,
and ``intercept_`` the mean ``w0``; scoring, recommendation and similar items (the cosine of
the stacked item vectors) come from :class:`~recsys.models.factor.FactorModel`. New users are
folded in by :func:`fold_in_scores`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.kernels.bfm import DEFAULT_PRIORS, fm_rows, gibbs_sweep, relation_caches
from recsys.models.factor import FactorModel
from recsys.models.fm_features import FMDesign, TimeAxis, build_design, parse_blocks
from recsys.models.registry import register
from recsys.validation import as_generator, eval_triples

__all__ = ["BayesianFM", "fold_in_scores"]

#: The default blocks (see :mod:`recsys.models.fm_features`); "user_side", "item_side" and
#: "time" are the others.
ALL_BLOCKS = "user,item,user_implicit,item_implicit"


@register
class BayesianFM(FactorModel):
    """Second-order factorization machine by Gibbs sampling (libFM's MCMC).

    Parameters
    ----------
    rank : int, default 10
        Dimension k of the factors ``v_j``.
    n_samples : int, default 200
        Gibbs sweeps in all (libFM's and myFM's ``n_iter``).
    burn_in : int, default 0
        The first sweeps, left out of the prediction (myFM keeps every sample by default;
        ``n_samples - burn_in`` samples are averaged).
    init_std : float, default 0.1
        The factors start as N(0, init_std^2); w0 and w start at 0.
    blocks : str, default "user,item,user_implicit,item_implicit"
        The feature blocks, comma-separated (:mod:`recsys.models.fm_features`): "user" and
        "item" (one-hot, always present), "user_implicit" (the normalised set of items the
        user rated in training), "item_implicit" (the users who rated the item),
        "user_side" (``user_info``: age band, gender, occupation, zip region), "item_side"
        (genres, release year) and "time" (the rating's time bin, a third relation; the
        model then scores a rating at its own time: ``predict(..., times=)``).
        "user,item" is Bayesian matrix factorization.
    time_bin_days : int, default 1
        Width of the "time" block's bins in days (1: the day of rating, 7: its week).
    seed : int, numpy Generator or None, default None
        Made into the one Generator that draws the initial factors and the integer seed of
        the sampler's SplitMix64 stream. The sampler is single-threaded, so a seed gives the
        same model on any machine and thread count.

    Attributes
    ----------
    user_factors_ : float32 (n_users, S * rank)
        Each kept sample's user vector ``a(u)`` (the sum of the user relation's factors),
        side by side, times ``S^-1/2``.
    item_factors_ : float32 (n_items, S * rank)
        The same for the items' ``b(i)``.
    user_bias_, item_bias_ : float64 (n_users,), (n_items,)
        Posterior means of each side's linear and within-side pairwise terms.
    intercept_ : float
        Posterior mean of ``w0`` (with "time": plus the time terms at the default time).
    time_factors_ : float32 (n_bins + 1, S * rank); time_bias_ : float64 (n_bins + 1,)
        With "time": each bin's stacked factors ``c(t)`` and mean terms; the last row is
        the key for any time outside the training period, the default time ``t0`` at which
        ``score_items``, ``recommend``, ``predict`` without times and the fold-in score (the
        user and item biases above are those at ``t0``). Empty without the block.
    unseen_user_factors_, unseen_item_factors_ : float32 (S * rank,)
        Each sample's prior mean ``mu_v`` of the user (item) one-hot group, stacked like the
        factors; ``unseen_user_bias_``, ``unseen_item_bias_`` (float): the mean ``mu_w``.
    history_ : dict
        Per sweep: ``"train_rmse"``, the RMSE of that sample's FM on the training ratings
        (unclipped); ``"alpha"``, the noise precision drawn; ``"eval_rmse"`` with
        ``fit(train, eval_set=...)``: the RMSE on ``eval_set`` of the prediction so far (the
        mean over the kept samples up to that sweep, during burn-in the current sample),
        clipped to the rating scale as ``predict`` clips; empty without one.

    Notes
    -----
    Memory and model files grow as ``(n_users + n_items) * S * rank`` float32, and by
    ``n_items * S * rank`` more with "user_implicit" (the fold-in's arrays): ML-100K with all
    blocks, 512 samples of rank 10, holds about 90 MB. A user or item without training ratings
    touches no training row, so its one-hot column is left out of the sampler; it is scored
    with the prior means of its one-hot group (each sample's ``mu_w``, ``mu_v``), which is the
    posterior mean of the FM over that column's parameters: given the hyperparameters they
    are independent of everything else. (myFM draws such columns from the prior instead: the
    same in expectation.) Unknown ids are scored the same way. A new user is folded in from
    their ratings by :func:`fold_in_scores` (per sample, the posterior of their one-hot
    column given everything else), from each sample's item terms, user-group priors, noise
    and implicit parameters, kept as ``sample_*_`` arrays: ``(n_items + 2) * S`` numbers,
    ``n_items * S * (rank + 1)`` more with "user_implicit".
    """

    capabilities = frozenset({"new_user", "similar_items"})
    #: With the "time" block a rating is scored at its own time (``predict(..., times=)``);
    #: without one, times are ignored.
    uses_timestamps = True

    _fitted_arrays = ("user_factors_", "item_factors_", "user_bias_", "item_bias_",
                      "unseen_user_factors_", "unseen_item_factors_", "sample_item_terms_",
                      "sample_scalars_", "sample_implicit_factors_",
                      "sample_implicit_weights_", "time_factors_", "time_bias_")
    _array_shapes = {"user_factors_": ("users", "sk"), "item_factors_": ("items", "sk"),
                     "user_bias_": ("users",), "item_bias_": ("items",),
                     "unseen_user_factors_": ("sk",), "unseen_item_factors_": ("sk",),
                     "sample_item_terms_": ("items", "samples"),
                     "sample_scalars_": ("samples", "priors"),
                     "sample_implicit_factors_": ("items", "implicit_sk"),
                     "sample_implicit_weights_": ("items", "implicit_samples"),
                     "time_factors_": ("times", "sk"), "time_bias_": ("times",)}
    # Unknown ids are scored with the stand-ins below (_unknown_user/_unknown_item).
    _unknown_as = "mean"

    def __init__(self, rank: int = 10, n_samples: int = 200, burn_in: int = 0,
                 init_std: float = 0.1, blocks: str = ALL_BLOCKS, time_bin_days: int = 1,
                 seed: int | np.random.Generator | None = None):
        self._keep_params(locals())

    # ------------------------------------------------------------------ training
    def _check_params(self) -> tuple[str, ...]:
        self._check_ranges(rank=(1, "int"), n_samples=(1, "int"), burn_in=(0, "int"),
                           init_std=(0.0, ">="), time_bin_days=(1, "int"))
        if self.burn_in >= self.n_samples:
            raise ValueError(f"burn_in must be below n_samples ({self.n_samples}) so that a "
                             f"sample is kept, got {self.burn_in!r}")
        return parse_blocks(self.blocks)

    def _fit(self, train: Dataset, eval_set: Dataset | None = None) -> None:
        blocks = self._check_params()
        rng = as_generator(self.seed)
        evals = eval_triples(train, eval_set)
        design = build_design(train, blocks, int(self.time_bin_days))
        axis = design.time_axis
        self.time_day0_ = None if axis is None else axis.day0
        self.time_n_bins_ = None if axis is None else axis.n_bins
        chain = _Chain(design, train.ratings[design.row_order], int(self.rank),
                       float(self.init_std), rng)
        samples = _Samples(design, int(self.rank), int(self.n_samples) - int(self.burn_in))
        self.history_ = {"train_rmse": [], "alpha": [], "eval_rmse": []}
        tracker = None
        if evals is not None:
            keys = list(evals[:2])
            if axis is not None:
                keys.append(axis.bins(eval_set.timestamps))
            tracker = _EvalTracker(keys, evals[2], train.rating_scale)
        for sweep in range(int(self.n_samples)):
            chain.sweep()
            self.history_["train_rmse"].append(math.sqrt(float(np.mean(chain.e ** 2))))
            self.history_["alpha"].append(float(chain.scalars[1]))
            keep = sweep >= self.burn_in
            if keep:
                samples.add(chain)
            if tracker is not None:
                self.history_["eval_rmse"].append(tracker.update(chain, keep))
        samples.finish(self)

    # ------------------------------------------------------------------ scoring
    def _time_axis(self) -> TimeAxis | None:
        if self.time_n_bins_ is None:
            return None
        return TimeAxis(int(self.time_day0_), int(self.time_bin_days), int(self.time_n_bins_))

    def predict(self, users, items, raw: bool = False, times=None) -> np.ndarray:
        """Predicted ratings (float64 (n,)), clipped to the rating scale.

        As :meth:`Recommender.predict`, plus ``times`` (seconds since the Unix epoch, as
        ``Dataset.timestamps``, shape (n,)) for a model with the "time" block: each pair is
        scored at its time's bin. Without ``times`` (and in ``score_items``, ``recommend``,
        the fold-in) pairs are scored at a time outside the training period (the time
        group's prior means: the model's "now"), as a time bin without training ratings
        is. A model without the time block ignores ``times``.
        """
        axis = self._time_axis() if times is not None else None
        if axis is None:
            return super().predict(users, items, raw=raw)
        self._check_fitted()
        u = self._to_internal(users, "user", raw)
        i = self._to_internal(items, "item", raw)
        bins = axis.bins(np.atleast_1d(np.asarray(times)))
        if not u.shape == i.shape == bins.shape:
            raise ValueError(f"users, items and times must have the same length, got "
                             f"{u.shape}, {i.shape} and {bins.shape}")
        return np.clip(self._score_at(u, i, bins), *self.rating_scale_)

    def _score_at(self, users: np.ndarray, items: np.ndarray, bins: np.ndarray) -> np.ndarray:
        # The score at the default time, plus what moving to each pair's bin changes:
        # tau(t) - tau(t0) + (a(u) + b(i)) . (c(t) - c(t0)), stacked over the samples.
        out = self._score(users, items)
        now = self.time_n_bins_
        out += self.time_bias_[bins] - self.time_bias_[now]
        # Chunks of pairs: the factors are S * rank wide (5,120 for 512 x 10).
        c0 = self.time_factors_[now].astype(np.float64)
        for lo in range(0, len(users), 1024):
            part = slice(lo, lo + 1024)
            u, i = users[part], items[part]
            side = self.user_factors_[np.maximum(u, 0)].astype(np.float64)
            side[u < 0] = self.unseen_user_factors_
            side += self.item_factors_[np.maximum(i, 0)]
            side[i < 0] += self.unseen_item_factors_ - self.item_factors_[0]
            dc = self.time_factors_[bins[part]].astype(np.float64)
            dc -= c0
            out[part] += np.einsum("nk,nk->n", side, dc)
        return out

    def _offset(self) -> float:
        return float(self.intercept_)

    def _unknown_user(self) -> tuple[np.ndarray, float]:
        return self.unseen_user_factors_.astype(np.float64), float(self.unseen_user_bias_)

    def _unknown_item(self) -> tuple[np.ndarray, float]:
        return self.unseen_item_factors_.astype(np.float64), float(self.unseen_item_bias_)

    def _score_new_user(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        return fold_in_scores(self, items, ratings)

    def _extra_meta(self) -> dict:
        return {"intercept_": float(self.intercept_),
                "unseen_user_bias_": float(self.unseen_user_bias_),
                "unseen_item_bias_": float(self.unseen_item_bias_),
                "time_day0_": self.time_day0_, "time_n_bins_": self.time_n_bins_}


def fold_in_scores(model: BayesianFM, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """Scores (float64 (n_items,)) of a new user from their ratings, without refitting.

    The new user is a fresh one-hot column (and, with "user_implicit", the normalised set of
    the items given). Given one sample's parameters the ratings are linear in the column's
    ``theta = (w, v)``: ``r_i = c_i + theta . (1, b(i) + z)`` with ``z`` the implicit sum and
    ``c_i`` the rest of the FM, so its posterior given the sample is the Bayesian ridge
    regression with that sample's noise ``alpha`` and user-group prior ``N(mu, 1/lambda)``.
    The scores are the mean over the samples of the FM at that posterior's mean (the exact
    posterior mean of the prediction, which is linear in ``theta``).
    """
    scalars = np.asarray(model.sample_scalars_, dtype=np.float64)
    n_samples, k = scalars.shape[0], int(model.rank)
    w0, alpha = scalars[:, 0], scalars[:, 1]
    mean = scalars[:, [2] + list(range(4, 4 + k))]
    precision = scalars[:, [3] + list(range(4 + k, 4 + 2 * k))]
    root = math.sqrt(n_samples)
    # With the time block, the new user's ratings and scores are at the default time t0:
    # b(i) + c(t0) is the item's side of the interaction (sample_item_terms_ and the
    # intercepts in sample_scalars_ already hold the rest of the time terms).
    shift = (np.asarray(model.time_factors_[model.time_n_bins_], dtype=np.float64)
             if model.time_n_bins_ is not None else np.zeros(model.item_factors_.shape[1]))
    rated = np.asarray(model.item_factors_[items], dtype=np.float64) + shift
    rated = rated.reshape(-1, n_samples, k) * root
    n = len(items)
    z, beta = np.zeros((n_samples, k)), np.zeros(n_samples)
    if model.sample_implicit_factors_.shape[1] and n:
        y = np.asarray(model.sample_implicit_factors_[items], dtype=np.float64)
        y = y.reshape(n, n_samples, k)
        z = y.sum(axis=0) / math.sqrt(n)
        beta = (np.asarray(model.sample_implicit_weights_[items], dtype=np.float64).sum(axis=0)
                / math.sqrt(n) + 0.5 * ((z ** 2).sum(axis=1) - (y ** 2).sum(axis=(0, 2)) / n))
    # Per sample: features (1, b(i) + z) of the rated items, targets r_i - c_i.
    phi = np.concatenate([np.ones((n, n_samples, 1)), rated + z[None]], axis=2)
    rest = (w0 + beta)[None] + model.sample_item_terms_[items] + np.einsum("nsk,sk->ns",
                                                                           rated, z)
    target = np.asarray(ratings, dtype=np.float64)[:, None] - rest
    gram = alpha[:, None, None] * np.einsum("nsa,nsb->sab", phi, phi)
    gram[:, np.arange(k + 1), np.arange(k + 1)] += precision
    rhs = alpha[:, None] * np.einsum("nsa,ns->sa", phi, target) + precision * mean
    theta = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    # Every item: mean over s of w0 + beta + theta_w + v.z + g(i) + b(i).(z + v).
    v = theta[:, 1:]
    constant = float(np.mean(w0 + beta + theta[:, 0] + (v * z).sum(axis=1)))
    stacked = (z + v).ravel() / root  # item_factors_ holds b(i) / sqrt(S)
    return (constant + np.asarray(model.item_bias_, dtype=np.float64)
            + (np.asarray(model.item_factors_, dtype=np.float64) + shift) @ stacked)


class _Chain:
    """The sampler's state on one design: parameters, hyperparameters, caches, stream."""

    def __init__(self, design: FMDesign, ratings: np.ndarray, rank: int, init_std: float,
                 rng: np.random.Generator):
        self.design = design
        self.y = np.ascontiguousarray(ratings, dtype=np.float64)
        n_cols, n_groups = design.n_columns, len(design.groups)
        self.V = rng.standard_normal((rank, n_cols)) * init_std
        self.V[:, ~design.col_active] = 0.0
        self.w = np.zeros(n_cols)
        self.scalars = np.array([0.0, 1.0])  # w0, alpha
        self.mu_w, self.lam_w = np.zeros(n_groups), np.ones(n_groups)
        self.mu_v, self.lam_v = np.zeros((rank, n_groups)), np.ones((rank, n_groups))
        self.priors = DEFAULT_PRIORS.copy()
        self.state = np.uint64(rng.integers(0, 2**63, dtype=np.int64))
        self.L = np.empty(design.n_keys)
        self.Q = np.empty((rank, design.n_keys))
        self.T = np.empty((rank, design.n_keys))
        self.e = np.empty(len(self.y))
        self.idle_keys = np.flatnonzero(design.key_count == 0)
        # The design rows of the keys without training rows (their features: a one-hot
        # column no row touches, side features others share).
        stacked = sp.csr_matrix((design.key_vals, design.key_cols, design.key_indptr),
                                shape=(design.n_keys, n_cols))
        self.idle_rows = stacked[self.idle_keys]
        self.idle_rows_sq = self.idle_rows.multiply(self.idle_rows).tocsr()
        self.one_hot_groups = [design.groups.index(name)
                               for name in ("user", "item", "time") if name in design.groups]
        self.resync()

    def resync(self) -> None:
        """Caches and residuals recomputed from the parameters."""
        d = self.design
        relation_caches(d.key_indptr, d.key_cols, d.key_vals, self.w, self.V, self.L, self.Q,
                        self.T)
        fm_rows(d.row_keys, d.key_offset, float(self.scalars[0]), self.L, self.Q, self.T,
                self.e)
        np.subtract(self.y, self.e, out=self.e)

    def sweep(self) -> None:
        # Numba returns the uint64 state as a Python int: made uint64 again, since the
        # stream's arithmetic on an int64 state would silently turn to float.
        self.state = np.uint64(gibbs_sweep(
            *self.design.sweep_args(), self.priors, self.scalars, self.w, self.V,
            self.mu_w, self.lam_w, self.mu_v, self.lam_v, self.e, self.L, self.Q, self.T,
            self.state, 1.0))

    def unseen_one_hot(self) -> tuple[np.ndarray, np.ndarray]:
        """(w (R,), V (R, k)): the prior means of each relation's one-hot group (user, item,
        time), the expected parameters of a one-hot column no training row touches."""
        groups = self.one_hot_groups
        return self.mu_w[groups], self.mu_v[:, groups].T

    def expected_columns(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(w (n,), V (k, n)) of the columns ``cols``, an inactive one at its group's prior
        means (what it is expected to be: no row informs it)."""
        w, V = self.w[cols].copy(), self.V[:, cols].copy()
        idle = ~self.design.col_active[cols]
        groups = self.design.col_group[cols[idle]]
        w[idle] = self.mu_w[groups]
        V[:, idle] = self.mu_v[:, groups]
        return w, V

    def caches_with_unseen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(L, Q, T) with every key that has no training row (a user, item or time bin
        without ratings) computed at the expected parameters: its unused one-hot column at
        its group's prior means, its side features as drawn. That is the posterior mean of
        the FM over such a column's parameters, which are independent of everything else
        given the hyperparameters (and the FM is linear in each column's parameters)."""
        idle = self.idle_keys
        if not len(idle):
            return self.L, self.Q, self.T
        L, Q, T = self.L.copy(), self.Q.copy(), self.T.copy()
        w, V = self.expected_columns(np.arange(self.design.n_columns))
        L[idle] = self.idle_rows @ w
        Q[:, idle] = (self.idle_rows @ V.T).T
        T[:, idle] = (self.idle_rows_sq @ (V ** 2).T).T
        return L, Q, T

    def predict_pairs(self, keys: np.ndarray) -> np.ndarray:
        out = np.empty(keys.shape[1])
        L, Q, T = self.caches_with_unseen()
        fm_rows(keys, self.design.key_offset, float(self.scalars[0]), L, Q, T, out)
        return out


class _Samples:
    """What the kept samples leave: the stacked factor model, and for the fold-in each
    sample's item terms, user-group priors, noise and (with "user_implicit") implicit
    parameters. With the "time" block the user, item and intercept terms are those at the
    default time t0 (the time key outside the training period), and each time bin's factors
    and terms are kept for scoring at other times."""

    def __init__(self, design: FMDesign, rank: int, kept: int):
        self.design, self.k, self.kept, self.t = design, rank, kept, 0
        off = design.key_offset
        n_users, n_items = int(off[1]), int(off[2] - off[1])
        n_times = int(off[3] - off[2]) if len(off) > 3 else 0
        width = kept * rank
        self.users = np.empty((n_users, width), dtype=np.float32)
        self.items = np.empty((n_items, width), dtype=np.float32)
        self.times = np.empty((n_times, width), dtype=np.float32)
        self.unseen = np.zeros((2, width), dtype=np.float32)
        self.bias = np.zeros(design.n_keys)
        self.unseen_bias = np.zeros(2)
        self.item_terms = np.empty((n_items, kept), dtype=np.float32)
        self.scalars = np.empty((kept, 4 + 2 * rank), dtype=np.float64)
        implicit = "user_implicit" in design.groups
        # The user relation's implicit columns: after its one-hot, one per item.
        self.implicit_cols = (np.arange(n_items) + n_users) if implicit else None
        self.implicit_v = np.empty((n_items, width if implicit else 0), dtype=np.float32)
        self.implicit_w = np.empty((n_items, kept if implicit else 0), dtype=np.float32)

    def add(self, chain: "_Chain") -> None:
        k, t, n_users, n_items = self.k, self.t, self.users.shape[0], self.items.shape[0]
        cols = slice(t * k, (t + 1) * k)
        L, Q, T = chain.caches_with_unseen()
        user_q, item_q = Q[:, :n_users], Q[:, n_users:n_users + n_items]
        self.users[:, cols] = user_q.T
        self.items[:, cols] = item_q.T
        terms = L + 0.5 * (Q ** 2 - T).sum(axis=0)
        w, V = chain.unseen_one_hot()
        w0 = float(chain.scalars[0])
        user_terms, item_terms = terms[:n_users].copy(), terms[n_users:n_users + n_items].copy()
        unseen_terms = w[:2].copy()
        if len(self.times):
            # At t0, the last time key: its terms join the intercept, its factors c(t0)
            # the users' and items' linear terms.
            now = chain.design.n_keys - 1
            c0 = Q[:, now]
            w0 += terms[now]
            user_terms += user_q.T @ c0
            item_terms += item_q.T @ c0
            unseen_terms += V[:2] @ c0
            self.times[:, cols] = Q[:, n_users + n_items:].T
            self.bias[n_users + n_items:] += terms[n_users + n_items:]
        self.bias[:n_users] += user_terms
        self.bias[n_users:n_users + n_items] += item_terms
        self.item_terms[:, t] = item_terms
        self.unseen[:, cols] = V[:2]
        self.unseen_bias += unseen_terms
        g = self.design.groups.index("user")
        self.scalars[t] = np.concatenate([[w0, chain.scalars[1], chain.mu_w[g],
                                           chain.lam_w[g]], chain.mu_v[:, g], chain.lam_v[:, g]])
        if self.implicit_cols is not None:
            w, V = chain.expected_columns(self.implicit_cols)
            self.implicit_v[:, cols] = V.T
            self.implicit_w[:, t] = w
        self.t += 1

    def finish(self, model: "BayesianFM") -> None:
        kept, n_users, n_items = self.kept, self.users.shape[0], self.items.shape[0]
        scale = np.float32(1.0 / math.sqrt(kept))
        for stacked in (self.users, self.items, self.unseen, self.times):
            stacked *= scale
        model.user_factors_, model.item_factors_ = self.users, self.items
        model.user_bias_ = self.bias[:n_users] / kept
        model.item_bias_ = self.bias[n_users:n_users + n_items] / kept
        model.time_factors_ = self.times
        model.time_bias_ = self.bias[n_users + n_items:] / kept
        model.unseen_user_factors_, model.unseen_item_factors_ = self.unseen
        model.unseen_user_bias_, model.unseen_item_bias_ = (
            float(b) for b in self.unseen_bias / kept)
        model.intercept_ = float(self.scalars[:, 0].mean())
        model.sample_item_terms_ = self.item_terms
        model.sample_scalars_ = self.scalars
        model.sample_implicit_factors_ = self.implicit_v
        model.sample_implicit_weights_ = self.implicit_w


class _EvalTracker:
    """RMSE on an evaluation set of the running posterior mean (clipped), sweep by sweep."""

    def __init__(self, keys, truth, rating_scale):
        self.keys = np.ascontiguousarray(np.vstack(keys), dtype=np.int32)
        self.truth = np.asarray(truth, dtype=np.float64)
        self.scale = rating_scale
        self.total = np.zeros(len(self.truth))
        self.kept = 0

    def update(self, chain: _Chain, keep: bool) -> float:
        current = chain.predict_pairs(self.keys)
        if keep:
            self.total += current
            self.kept += 1
            current = self.total / self.kept
        err = self.truth - np.clip(current, *self.scale)
        return math.sqrt(float(np.mean(err ** 2))) if len(err) else float("nan")
