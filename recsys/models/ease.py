"""EASE: an item-item linear model with a closed form.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from recsys.dataset import Dataset
from recsys.errors import FitError
from recsys.models._implicit import positives_csr
from recsys.models.base import Recommender
from recsys.models.registry import register
from recsys.validation import check_choice, check_number


@register
class EASE(Recommender):
    """Embarrassingly shallow autoencoder: scores ``x_u @ B`` for the binary row ``x_u``.

    ``B`` minimises ``||X - X B||_F^2 + reg ||B||_F^2`` subject to ``diag(B) = 0`` (Steck
    2019, eq. 1); its closed form (eq. 8) is::

        P = (X^T X + reg I)^-1,     B = I - P diag(1 / diag(P)),   i.e.
        B_ij = -P_ij / P_jj  (i != j),   B_jj = 0

    computed by a Cholesky factorisation (LAPACK potrf + potri, in ``dtype``) and stored as
    float32 ``weights_`` (n_items x n_items: memory grows with the square of the catalogue).

    Parameters
    ----------
    reg : float
        L2 regularisation lambda (Steck uses a few hundred on MovieLens).
    threshold : float or None
        Which ratings are positives: None = every rating, else the ratings ``>= threshold``.
    dtype : {"float32", "float64"}
        Precision of the factorisation and inverse. float32 halves the memory and about
        halves the time; with ``reg`` of a few hundred the Gram matrix is well conditioned
        (eigenvalues from ``reg`` to about the largest item count), so its weights agree
        with float64's to about 1e-5 of the largest weight and the top-10 lists are the same
        but for near ties (tests/test_models_topn.py measures both).

    Notes
    -----
    An unknown user is scored as the mean training row (``mean(X) @ B``); an unknown item
    scores 0. A new user (:meth:`recommend_new_user`) is scored ``x @ B`` from the binary row
    of their positives: EASE needs no fold-in. :meth:`similar_items` of item i is row
    ``B[i]``, the scores of a user whose only positive is i. :meth:`explain` returns the terms
    ``B[j, i]`` of the user's positives j.
    """

    capabilities = frozenset({"new_user", "similar_items", "explain"})

    predicts_ratings = False
    _fitted_arrays = ("weights_",)
    _array_shapes = {"weights_": ("items", "items")}

    def __init__(self, reg: float = 500.0, threshold: float | None = None,
                 dtype: str = "float32"):
        self.reg = reg
        self.threshold = threshold
        self.dtype = dtype

    def _fit(self, train: Dataset) -> None:
        check_number("reg", self.reg, 0.0, strict=True)
        if self.threshold is not None:
            check_number("threshold", self.threshold, -np.inf)
        check_choice("dtype", str(self.dtype), ("float32", "float64"))
        X = positives_csr(train.csr, self.threshold)
        self._positives_cache = X
        self.weights_ = ease_weights(X, float(self.reg), str(self.dtype)).astype(
            np.float32, copy=False)

    def _positives(self):
        cached = getattr(self, "_positives_cache", None)
        if cached is None:
            cached = positives_csr(self.seen_, self.threshold)
            self._positives_cache = cached
        return cached

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        X = self._positives()
        rows = X[np.maximum(users, 0)]
        scores = np.asarray(rows @ self.weights_, dtype=np.float32)
        if (users < 0).any():
            mean_row = np.asarray(X.mean(axis=0), dtype=np.float32).ravel()
            scores[users < 0] = mean_row @ self.weights_
        return scores

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(users, return_inverse=True)
        scores = self._score_users(uniq).astype(np.float64)
        out = scores[inverse, np.maximum(items, 0)]
        out[items < 0] = 0.0
        return out

    def _score_new_user(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        keep = np.ones(len(items), dtype=bool) if self.threshold is None else (
            ratings.astype(np.float32) >= np.float32(self.threshold))
        pos = np.unique(items[keep])
        return np.asarray(self.weights_, dtype=np.float64)[pos].sum(axis=0)

    def _similar_items(self, item: int) -> np.ndarray:
        return np.asarray(self.weights_[item], dtype=np.float64)

    def _explain(self, user: int, item: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        X = self._positives()
        items = X.indices[X.indptr[user]:X.indptr[user + 1]].astype(np.int64)
        contrib = np.asarray(self.weights_[items, item], dtype=np.float64)
        order = np.argsort(-contrib, kind="stable")[:n]
        return items[order], contrib[order]


def ease_weights(X, reg: float, dtype: str = "float64") -> np.ndarray:
    """EASE's ``B`` (n_items x n_items, in ``dtype``) for a users x items matrix ``X``.

    Parameters
    ----------
    X : sparse or dense matrix, shape (n_users, n_items)
        Usually binary.
    reg : float
        Lambda > 0, added to the diagonal of the Gram matrix.
    dtype : {"float64", "float32"}
        Precision of the Cholesky factorisation and inverse. The Gram matrix is formed in
        float64 and rounded, or for float32 with no more users than items by BLAS ssyrk on
        the dense X (binary counts are exact in float32 below 2^24).

    Returns
    -------
    ndarray (n_items, n_items) of ``dtype``, zero diagonal: ``B_ij = -P_ij / P_jj`` with
    ``P = (X^T X + reg I)^-1`` (Steck 2019, eq. 8).
    """
    lapack = {"float64": (scipy.linalg.lapack.dpotrf, scipy.linalg.lapack.dpotri),
              "float32": (scipy.linalg.lapack.spotrf, scipy.linalg.lapack.spotri)}
    potrf, potri = lapack[dtype]
    if dtype == "float32" and X.shape[0] <= X.shape[1]:
        # Fewer users than items: the dense X is no larger than G, and BLAS ssyrk forms the
        # upper triangle of X^T X (all potrf reads) in LAPACK's Fortran layout, 4x faster
        # than a sparse product made dense on ml-latest-small.
        dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
        G = scipy.linalg.blas.ssyrk(1.0, np.asfortranarray(dense, dtype=np.float32), trans=1,
                                    lower=0)
    else:
        X = X.astype(np.float64)
        G = X.T @ X
        G = np.array(G.toarray() if hasattr(G, "toarray") else G, dtype=np.float64)
    G[np.diag_indices_from(G)] += reg
    if not np.isfinite(G).all():  # LAPACK would print to stderr and return garbage
        raise FitError(f"EASE: X^T X + reg I has non-finite entries (reg={reg!r}); the "
                       "interactions must be finite")
    G = np.asfortranarray(G, dtype=dtype)  # LAPACK's layout: no copy inside potrf
    # G is symmetric positive definite: invert through its Cholesky factor (LAPACK potrf +
    # potri), n^3 flops against 2 n^3 for a general inverse (getrf + getri).
    c, info = potrf(G, lower=False, overwrite_a=True, clean=False)
    if info == 0:
        P, info = potri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise FitError(f"EASE: X^T X + reg I is numerically singular (LAPACK info {info}) "
                       f"with reg={reg!r}; use a larger reg")
    B = _symmetric_from_upper(P)  # potri fills only the upper triangle
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        B /= (-np.diag(B))[None, :]
    np.fill_diagonal(B, 0.0)
    if not np.isfinite(B).all():
        raise FitError(f"EASE: the weights overflow with reg={reg!r} (an item with no "
                       "interactions gets weight 1/reg); use a larger reg")
    return B


def _symmetric_from_upper(P: np.ndarray) -> np.ndarray:
    """A C-ordered symmetric copy of the upper triangle of the Fortran-ordered ``P``: the
    transpose of a Fortran array is a C array over the same memory, and its lower triangle
    is ``P``'s upper one."""
    lower = P.T  # C-ordered view; lower[i, j] = P[j, i]
    out = np.tril(lower)
    out += np.tril(lower, -1).T
    return out
