"""myFM (rating prediction): ``MyFMRegressor`` and ``MyFMOrderedProbit``, Bayesian
factorization machines by Gibbs sampling (Ohtsuki's myFM, which follows libFM's MCMC).

The peer of :class:`~recsys.models.bfm.BayesianFM` at matched features, rank and samples: the
adapter builds OUR relational design from the same training fold
(:func:`recsys.models.fm_features.build_design`, the same ``blocks`` and ``time_bin_days``;
strict protocol: the implicit blocks come from the training fold only) and hands myFM its
relations as ``myfm.RelationBlock`` s, with one hyperprior group per block as ours has
(``grouping``). The conversion is :meth:`prepare`, outside the timed fit.

Parameters besides myFM's own (``rank``, ``init_stdev``, ``random_seed``, the priors):
``blocks`` (default ours: ``"user,item,user_implicit,item_implicit"``), ``time_bin_days``
(1), ``n_iter`` (the sweeps, myFM's ``fit(n_iter=)``, default 200) and ``n_kept_samples``
(default ``n_iter``: every sample kept, as myFM's ML-100K examples and our ``burn_in = 0``).
``random_seed = 0`` is set where myFM's default is 42 (the results record it).

``MyFMOrderedProbit`` (myFM's ordered probit, Albert & Chib's data augmentation) treats the
training ratings' distinct values as ordered classes; the prediction is the expected rating
under its class probabilities, as myFM's ML-100K example scores it. Predictions are clipped
to the rating scale as ours are. myFM's progress bar is turned off.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from recsys.bench.adapters._base import PeerAdapter
from recsys.dataset import Dataset

NAMES = ("MyFMRegressor", "MyFMOrderedProbit")
IMPORT_NAME = "myfm"
EXTRA = "fm"
OWN_PARAMS = ("blocks", "time_bin_days", "n_iter", "n_kept_samples")
DEFAULT_BLOCKS = "user,item,user_implicit,item_implicit"


def library_class(name: str):
    return getattr(importlib.import_module("myfm"), name)


def myfm_relations(design):
    """The relation matrices (CSR, one per relation, each with one empty row appended for
    an unknown id) and the grouping of a design, in myFM's terms."""
    import scipy.sparse as sp

    stacked = sp.csr_matrix((design.key_vals, design.key_cols, design.key_indptr),
                            shape=(design.n_keys, design.n_columns))
    out = []
    for b in range(len(design.key_offset) - 1):
        part = stacked[design.key_offset[b]:design.key_offset[b + 1],
                       design.relation_cols[b]:design.relation_cols[b + 1]]
        empty = sp.csr_matrix((1, part.shape[1]))
        out.append(sp.vstack([part, empty], format="csr"))
    return out, [int(g) for g in design.col_group]


class _no_progress_bar:
    """myFM draws a tqdm bar on stderr for every fit (TQDM_DISABLE is read when tqdm is
    first imported, which the library check does): the bar's output is dropped, any other
    text written to stderr meanwhile is passed on."""

    def __enter__(self):
        import contextlib
        import io

        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stderr(self._buffer)
        self._redirect.__enter__()
        return self

    def __exit__(self, *exc):
        import re
        import sys

        self._redirect.__exit__(*exc)
        text = re.sub(r"[^\r\n]*\d+/\d+ \[[^\r\n]*?(it/s|s/it)\]", "",
                      self._buffer.getvalue())
        text = "\n".join(line for line in re.split(r"[\r\n]+", text) if line.strip())
        if text:
            print(text, file=sys.stderr)
        return False


class Adapter(PeerAdapter):
    """A myFM Gibbs-sampling FM behind the Recommender API (rating prediction)."""

    library = "myfm"
    predicts_ratings = True
    uses_timestamps = True

    def _own(self) -> tuple[str, int, int, int]:
        blocks = self.params.get("blocks", DEFAULT_BLOCKS)
        bin_days = int(self.params.get("time_bin_days", 1))
        n_iter = int(self.params.get("n_iter", 200))
        kept = int(self.params.get("n_kept_samples", n_iter))
        if not 1 <= kept <= n_iter:
            raise ValueError(f"myfm adapter: n_kept_samples must be in 1..n_iter ({n_iter}), "
                             f"got {kept}")
        return blocks, bin_days, n_iter, kept

    def effective_params(self) -> dict[str, Any]:
        """What myFM's class receives (the adapter's own parameters left out)."""
        p = {k: v for k, v in self.params.items() if k not in OWN_PARAMS}
        p.setdefault("rank", 10)
        p.setdefault("random_seed", 0)
        return p

    def _convert(self, train: Dataset):
        import myfm

        from recsys.models.fm_features import build_design, parse_blocks

        blocks, bin_days, _, _ = self._own()
        design = build_design(train, parse_blocks(blocks), bin_days)
        relations, grouping = myfm_relations(design)
        rel_train = [myfm.RelationBlock(design.row_keys[b].astype(np.int64), relations[b])
                     for b in range(len(relations))]
        y = np.asarray(train.ratings[design.row_order], dtype=np.float64)
        return design, relations, grouping, rel_train, y

    def _fit(self, train: Dataset, **fit_options) -> None:
        design, relations, grouping, rel_train, y = self._converted(train)
        _, _, n_iter, kept = self._own()
        self.model_ = library_class(self.algorithm)(**self.effective_params())
        if self.algorithm == "MyFMOrderedProbit":
            self.classes_ = np.unique(y)
            y = np.searchsorted(self.classes_, y).astype(np.int64)
        with _no_progress_bar():
            self.model_.fit(None, y, X_rel=rel_train, grouping=grouping, n_iter=n_iter,
                            n_kept_samples=kept, callback=lambda *args: (False, None))
        self.relations_ = relations
        self.time_axis_ = design.time_axis

    def predict(self, users, items, raw: bool = False, times=None) -> np.ndarray:
        """As :meth:`Recommender.predict`; ``times`` (seconds, as ``Dataset.timestamps``)
        place each pair in its time bin when the blocks have "time" (without them: a time
        outside the training period, as BayesianFM scores it)."""
        self._check_fitted()
        u = self._to_internal(users, "user", raw)
        i = self._to_internal(items, "item", raw)
        if u.shape != i.shape:
            raise ValueError(f"users and items must have the same length, got {u.shape} "
                             f"and {i.shape}")
        axis = self.time_axis_
        bins = None
        if axis is not None:
            bins = (np.full(len(u), axis.n_bins, dtype=np.int64) if times is None
                    else axis.bins(np.atleast_1d(np.asarray(times))))
            if bins.shape != u.shape:
                raise ValueError(f"users, items and times must have the same length, got "
                                 f"{u.shape}, {i.shape} and {bins.shape}")
        return np.clip(self._score_at(u, i, bins), *self.rating_scale_)

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        bins = None
        if self.time_axis_ is not None:
            bins = np.full(len(users), self.time_axis_.n_bins, dtype=np.int64)
        return self._score_at(users, items, bins)

    def _score_at(self, users, items, bins) -> np.ndarray:
        import myfm

        keys = [users, items] + ([bins] if bins is not None else [])
        rel = []
        for key, matrix in zip(keys, self.relations_):
            key = np.asarray(key, dtype=np.int64)
            empty = matrix.shape[0] - 1  # the appended empty row: an unknown id
            rel.append(myfm.RelationBlock(np.where(key >= 0, key, empty), matrix))
        if self.algorithm == "MyFMOrderedProbit":
            proba = self.model_.predict_proba(None, rel)
            return np.asarray(proba, dtype=np.float64) @ self.classes_
        return np.asarray(self.model_.predict(None, rel), dtype=np.float64)
