"""The factor-model base: scoring, similar items and new-user fold-in, written once for every
latent-factor model (FunkSVD, SVDpp, ALS, ImplicitALS, BPR), after ``implicit``'s
``implicit/cpu/matrix_factorization_base.py``.

Every such model scores ``offset + b_u + b_i + v_u . q_i``, where ``v_u`` is the user's vector
(``p_u``, or for SVD++ ``p_u`` plus the implicit sum), ``offset`` is the global mean for rating
models and 0 for the implicit ones, and a bias a model does not learn is left out.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from recsys.kernels.scoring import mf_score_pairs
from recsys.models.base import Recommender
from recsys.validation import check_number

__all__ = ["FactorModel", "ImplicitFactorModel", "ridge_fold_in", "solve_normal_equations",
           "cosine_similarities"]

class FactorModel(Recommender):
    """Base of the latent-factor models: ``_score``, ``_score_users``, ``_similar_items`` and
    ``_score_new_user`` from ``user_factors_``, ``item_factors_`` and, where the model has
    them, ``user_bias_`` and ``item_bias_``. All scores are float64.

    A subclass says how it differs in class attributes and small hooks:

    - ``_with_global_mean`` (default True): add ``global_mean_`` to every score; False for
      the implicit-feedback models, whose scores are not ratings.
    - ``_unknown_as`` (default ``"zero"``): what stands in for an unknown user or item
      (index -1). ``"zero"``: its factors and bias are left out, so an unknown user scores
      ``mu + b_i``, an unknown item ``mu + b_u``, both ``mu``. ``"mean"``: the mean user
      vector, the mean item factor and mean bias, so every score is finite and ranks as an
      average user would.
    - ``_user_vectors(rows)``: the vectors ``v_u`` (float64) of known users; default
      ``user_factors_[rows]``.
    - ``_fold_in_penalties(n)``: the ridge penalties of a new user with n ratings (see
      :meth:`fold_in`); ``_fold_in_fixed(items)``: a part of the new user's vector that is
      given rather than solved for (SVD++'s implicit sum). Models whose new users are not a
      ridge problem override :meth:`fold_in` itself.
    """

    _array_shapes = {"user_factors_": ("users", "k"), "item_factors_": ("items", "k"),
                     "item_implicit_factors_": ("items", "k"), "user_bias_": ("users",),
                     "item_bias_": ("items",)}

    _with_global_mean: ClassVar[bool] = True
    _unknown_as: ClassVar[str] = "zero"

    def _keep_params(self, params: dict) -> None:
        """Store the arguments of ``__init__`` (``params``: its ``locals()``) under their own
        names: ``__init__`` stores hyperparameters only, and ``get_params`` reads them back
        by the signature's names."""
        for name in self._param_names():
            setattr(self, name, params[name])

    def _check_ranges(self, **limits: tuple[float, str]) -> None:
        """Check numeric hyperparameters with :func:`recsys.validation.check_number`:
        ``name=(low, kind)``, kind ``"int"`` (an integer >= low), ``">="`` or ``">"`` (a
        number >= or > low). ValueError naming the first that is out of range."""
        for name, (low, kind) in limits.items():
            check_number(name, getattr(self, name), low, integer=kind == "int",
                         strict=kind == ">")

    def _check_dtype(self) -> np.dtype:
        """The ``dtype`` hyperparameter as a numpy dtype; ValueError unless float32/64."""
        if str(self.dtype) not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return np.dtype(str(self.dtype))

    # ------------------------------------------------------------------ scoring terms
    def _user_vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        """``v_u`` of the user rows ``rows`` (int64, all >= 0; None: every user), shape
        (len(rows), k), in the factors' dtype."""
        return self.user_factors_ if rows is None else self.user_factors_[rows]

    def _offset(self) -> float:
        return float(self.global_mean_) if self._with_global_mean else 0.0

    def _unknown_user(self) -> tuple[np.ndarray | float, float]:
        """(vector, bias) an unknown user is scored with (see ``_unknown_as``)."""
        if self._unknown_as == "zero":
            return 0.0, 0.0
        return (self._user_vectors().mean(axis=0, dtype=np.float64),
                _mean(getattr(self, "user_bias_", None)))

    def _unknown_item(self) -> tuple[np.ndarray | float, float]:
        """(factor, bias) an unknown item is scored with (see ``_unknown_as``)."""
        if self._unknown_as == "zero":
            return 0.0, 0.0
        return (self.item_factors_.mean(axis=0, dtype=np.float64),
                _mean(getattr(self, "item_bias_", None)))

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users = np.ascontiguousarray(users, dtype=np.int64)
        items = np.ascontiguousarray(items, dtype=np.int64)
        v, q = self._user_vectors(), self.item_factors_
        out = np.empty(len(users), dtype=np.float64)
        # The kernel leaves an unknown side's terms out: the "zero" fallback.
        mf_score_pairs(users, items, self._offset(), v, q, _bias_or_zeros(self, "user", v),
                       _bias_or_zeros(self, "item", q), out)
        if self._unknown_as == "mean":
            odd = np.flatnonzero((users < 0) | (items < 0))
            if len(odd):
                out[odd] = self._score_stand_ins(users[odd], items[odd])
        return out

    def _score_stand_ins(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        # Pairs with an unknown side under the "mean" fallback, in float64 (they are few).
        known_u, known_i = users >= 0, items >= 0
        u, i = np.where(known_u, users, 0), np.where(known_i, items, 0)
        p = self._user_vectors(u).astype(np.float64)
        q = self.item_factors_[i].astype(np.float64)
        p[~known_u], unknown_user_bias = self._unknown_user()
        q[~known_i], unknown_item_bias = self._unknown_item()
        return (self._offset()
                + _bias_term(getattr(self, "user_bias_", None), u, known_u, unknown_user_bias)
                + _bias_term(getattr(self, "item_bias_", None), i, known_i, unknown_item_bias)
                + np.einsum("nk,nk->n", p, q))

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        known = users >= 0
        u = np.where(known, users, 0)
        p = self._user_vectors(u).astype(np.float64)
        unknown_bias = 0.0
        if not known.all():
            p[~known], unknown_bias = self._unknown_user()
        scores = p @ self.item_factors_.T.astype(np.float64)
        scores += self._offset()
        user_bias = getattr(self, "user_bias_", None)
        if user_bias is not None:
            scores += _bias_term(user_bias, u, known, unknown_bias)[:, None]
        item_bias = getattr(self, "item_bias_", None)
        if item_bias is not None:
            scores += np.asarray(item_bias, dtype=np.float64)[None, :]
        return scores

    def _similar_items(self, item: int) -> np.ndarray:
        """Cosine similarity of the item factors ``q_i`` (biases left out: they are
        popularity, not taste); 0 for an item whose factors are all zero."""
        return cosine_similarities(self.item_factors_, item)

    # ------------------------------------------------------------------ new users
    def _fold_in_penalties(self, n: int) -> tuple[float, float | None]:
        """(penalty on ``|p|^2``, penalty on ``b^2`` or None for no bias) of a new user with
        ``n`` ratings."""
        raise NotImplementedError(f"{type(self).__name__} has no ridge fold-in")

    def _fold_in_fixed(self, items: np.ndarray) -> np.ndarray | None:
        """The part of a new user's vector that is given, not solved for (None: nothing)."""
        return None

    def fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[float, np.ndarray]:
        """Bias ``b`` and vector ``v`` (float64, shape (k,)) of a user who is not in the
        training data, from their ratings; scored like a training user:
        ``offset + b + b_i + v . q_i``.

        The rating models solve the user's regularised least squares against the fixed item
        factors and biases, ``v = z + p`` with ``z`` the given part (:meth:`_fold_in_fixed`,
        0 for most models)::

            min_{b, p}  sum_j (r_j - offset - b_j - q_j . z - b - p . q_j)^2
                        + reg_p |p|^2 + reg_b b^2

        with ``(reg_p, reg_b)`` from :meth:`_fold_in_penalties` (no ``b`` where ``reg_b`` is
        None). No ratings give ``b = 0, v = 0``.
        """
        items = np.asarray(items, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float64)
        k = self.item_factors_.shape[1]
        n = len(items)
        if n == 0:
            return 0.0, np.zeros(k)
        q = self.item_factors_[items].astype(np.float64)
        residual = ratings - self._offset()
        item_bias = getattr(self, "item_bias_", None)
        if item_bias is not None:
            residual = residual - np.asarray(item_bias, dtype=np.float64)[items]
        fixed = self._fold_in_fixed(items)
        if fixed is not None:
            residual = residual - q @ fixed
        reg_factors, reg_bias = self._fold_in_penalties(n)
        p, b = ridge_fold_in(q, residual, reg_factors, reg_bias)
        return b, (p if fixed is None else p + fixed)

    def _score_new_user(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        b, v = self.fold_in(items, ratings)
        scores = self._offset() + b + self.item_factors_.astype(np.float64) @ v
        item_bias = getattr(self, "item_bias_", None)
        if item_bias is not None:
            scores += np.asarray(item_bias, dtype=np.float64)
        return scores


class ImplicitFactorModel(FactorModel):
    """Base of the implicit-feedback factor models (ImplicitALS, BPR): their scores rank
    items and are not ratings, so there is no global mean and no clipping, and an unknown
    user or item is scored with the mean user vector, item factor and item bias."""

    predicts_ratings = False
    _with_global_mean = False
    _unknown_as = "mean"


def _mean(bias: np.ndarray | None) -> float:
    return 0.0 if bias is None else float(np.asarray(bias, dtype=np.float64).mean())


def _bias_or_zeros(model: FactorModel, side: str, factors: np.ndarray) -> np.ndarray:
    # The model's user_bias_/item_bias_, or zeros (the factors' dtype) where it has none.
    bias = getattr(model, f"{side}_bias_", None)
    return np.zeros(len(factors), dtype=factors.dtype) if bias is None else bias


def _bias_term(bias: np.ndarray | None, rows: np.ndarray, known: np.ndarray,
               unknown: float) -> np.ndarray | float:
    # b[rows] where known, ``unknown`` elsewhere, float64; 0 for a model without this bias.
    if bias is None:
        return 0.0
    return np.where(known, np.asarray(bias, dtype=np.float64)[rows], unknown)


# ---------------------------------------------------------------------- solvers
def solve_normal_equations(gram: np.ndarray, rhs: np.ndarray, definite: bool = True
                           ) -> np.ndarray:
    """``w`` (float64) with ``gram @ w = rhs``: the one solve policy of every fold-in.

    ``definite``: ``gram`` is known positive definite (a penalty > 0 on every coefficient),
    so ``np.linalg.solve``, falling back to the minimum-norm least-squares solution if it
    still reports a singular matrix. Otherwise least squares from the start: with a zero
    penalty ``gram`` can be singular, and ``solve`` on a nearly singular matrix returns
    noise rather than raising.
    """
    gram = np.asarray(gram, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    if definite:
        try:
            return np.linalg.solve(gram, rhs)
        except np.linalg.LinAlgError:
            pass
    return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def ridge_fold_in(factors: np.ndarray, residual: np.ndarray, reg_factors: float,
                  reg_bias: float | None = None) -> tuple[np.ndarray, float]:
    """Ridge solution ``(p, b)`` of ``residual ~ factors @ p + b``.

    Minimises ``|residual - X p - b|^2 + reg_factors |p|^2 + reg_bias b^2`` for
    ``X = factors`` (n, k), in float64. With ``reg_bias=None`` there is no ``b`` (0.0 is
    returned). The models scale the penalties themselves (ALS: ``reg * n`` on ``p``;
    FunkSVD and SVD++: ``n`` times each per-rating penalty).
    """
    x = np.asarray(factors, dtype=np.float64)
    n, k = x.shape
    penalty = np.full(k, float(reg_factors))
    if reg_bias is not None:
        x = np.hstack([x, np.ones((n, 1))])
        penalty = np.r_[penalty, float(reg_bias)]
    gram = x.T @ x + np.diag(penalty)
    w = solve_normal_equations(gram, x.T @ np.asarray(residual, dtype=np.float64),
                               definite=bool(penalty.min() > 0))
    return w[:k], (float(w[k]) if reg_bias is not None else 0.0)


def cosine_similarities(factors: np.ndarray, item: int) -> np.ndarray:
    """Cosine similarity (float64, shape (n_rows,)) of every row of ``factors`` to row
    ``item``; 0 where either vector is zero."""
    f = np.asarray(factors, dtype=np.float64)
    norms = np.linalg.norm(f, axis=1)
    dots = f @ f[item]
    denom = norms * norms[item]
    out = np.zeros(len(f))
    nz = denom > 0
    out[nz] = dots[nz] / denom[nz]
    return out
