"""Item feature matrices for content-based models: genre multi-hot, TF-IDF, decade one-hot.

Every matrix has one row per *internal* item index of the Dataset (shape ``(ds.n_items, ...)``),
built from ``ds.item_info`` (indexed by raw item id). An item missing from ``item_info``, or
whose field is missing, gets a zero row: never NaN.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.dataset import Dataset

__all__ = ["genre_matrix", "tfidf_matrix", "year_matrix", "item_tokens", "title_words"]

#: What ml-latest's movies.csv writes for an item with no genre; treated as none.
NO_GENRE = "(no genres listed)"

#: The trailing year of a MovieLens title: "Toy Story (1995)", "Fawlty Towers (1975-1979)".
_TITLE_YEAR = re.compile(r"\s*\(\s*\d{4}\s*(?:[-\u2013]\s*(?:\d{4})?\s*)?\)\s*$")
#: Word tokens of two or more word characters, as scikit-learn's default token_pattern.
_WORD = re.compile(r"(?u)\b\w\w+\b")

FIELDS = ("title", "genres", "tags")
_PREFIX = {"title": "title:", "genres": "genre:", "tags": "tag:"}


def _item_column(ds: Dataset, column: str) -> list:
    """``item_info[column]`` for each internal item (None where missing), length n_items."""
    info = ds.item_info
    if info is None or column not in info.columns:
        return [None] * ds.n_items
    col = info[column]
    if col.index.has_duplicates:
        dup = col.index[col.index.duplicated()][0]
        dup = dup.item() if isinstance(dup, np.generic) else dup
        raise ValueError(f"{ds.name or 'dataset'}: item_info lists item id {dup!r} twice")
    values = col.reindex(pd.Index(ds.item_ids)).astype(object).to_numpy()
    return [None if _missing(v) else v for v in values]


def _missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _split_list(value) -> list[str]:
    """The entries of a "|"-joined field, stripped, empty ones and NO_GENRE dropped."""
    if value is None:
        return []
    return [p.strip() for p in str(value).split("|") if p.strip() and p.strip() != NO_GENRE]


def title_words(title) -> list[str]:
    """Lower-case word tokens (2+ word characters) of a title without its trailing year."""
    if title is None:
        return []
    return _WORD.findall(_TITLE_YEAR.sub("", str(title)).lower())


def item_tokens(ds: Dataset, fields: Sequence[str] = FIELDS) -> list[list[str]]:
    """The token list of every internal item, the documents :func:`tfidf_matrix` weighs.

    Tokens carry their field as a prefix so that the title word "war" and the genre "War" are
    different features: ``"title:war"``, ``"genre:war"``, ``"tag:dark comedy"``. Title tokens
    are lower-case words of the title without the "(1995)" year; each genre and each tag is one
    lower-cased token (a tag applied by three users counts three times). A field that
    ``item_info`` lacks contributes nothing (ML-100K has no tags).
    """
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise ValueError(f"unknown text field(s) {unknown}; choose from {list(FIELDS)}")
    docs: list[list[str]] = [[] for _ in range(ds.n_items)]
    for field in fields:
        prefix = _PREFIX[field]
        for doc, value in zip(docs, _item_column(ds, field)):
            if field == "title":
                words = title_words(value)
            else:
                words = [w.lower() for w in _split_list(value)]
            doc.extend(prefix + w for w in words)
    return docs


def _count_matrix(docs: list[list[str]]) -> tuple[sp.csr_matrix, list[str]]:
    """Term counts, shape (len(docs), n_terms), float64, columns in sorted term order."""
    vocab = sorted({t for doc in docs for t in doc})
    column = {t: j for j, t in enumerate(vocab)}
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    rows = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    cols = np.fromiter((column[t] for d in docs for t in d), dtype=np.int64,
                       count=int(lengths.sum()))
    counts = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(docs), len(vocab)))
    counts.sum_duplicates()
    counts.sort_indices()
    return counts, vocab


def genre_matrix(ds: Dataset) -> tuple[sp.csr_matrix, list[str]]:
    """Genre multi-hot matrix.

    Returns
    -------
    matrix : csr_matrix of float32, shape (n_items, n_genres)
        1.0 where the item has the genre; zero rows for items without genres or metadata.
    genres : list of str
        Column names, sorted; the genres as written in ``item_info["genres"]`` (not
        lower-cased), "(no genres listed)" excluded.
    """
    docs = [sorted(set(_split_list(v))) for v in _item_column(ds, "genres")]
    counts, names = _count_matrix(docs)
    return counts.astype(np.float32), names


def tfidf_matrix(
    ds: Dataset,
    fields: Sequence[str] = FIELDS,
    min_df: int | float = 1,
    norm: str | None = "l2",
    sublinear_tf: bool = False,
    dtype=np.float32,
) -> tuple[sp.csr_matrix, list[str]]:
    """TF-IDF of the items' text fields, in SciPy (scikit-learn's smooth-idf formula).

    With ``tf(t, d)`` the count of token ``t`` in item ``d``'s tokens (:func:`item_tokens`),
    ``n = ds.n_items`` and ``df(t)`` the number of items containing ``t``::

        idf(t)   = ln((1 + n) / (1 + df(t))) + 1
        w(t, d)  = tf(t, d) * idf(t)          (1 + ln tf  if sublinear_tf)

    then each row is scaled to unit L2 (or L1) norm. This equals
    ``sklearn.feature_extraction.text.TfidfVectorizer(analyzer=<the same tokens>,
    smooth_idf=True)``; the test checks it does.

    Parameters
    ----------
    ds : Dataset
    fields : sequence of {"title", "genres", "tags"}
    min_df : int or float
        Keep tokens found in at least ``min_df`` items (int), or in at least that fraction of
        the items (float in [0, 1]).
    norm : {"l2", "l1", None}
    sublinear_tf : bool
    dtype : float dtype of the result (float32 by default).

    Returns
    -------
    matrix : csr_matrix, shape (n_items, n_terms)
        Items with no token have a zero row (never NaN). Zero columns if no token survives.
    terms : list of str
        Column names, sorted: prefixed tokens such as ``"title:story"``, ``"genre:comedy"``.
    """
    if norm not in ("l2", "l1", None):
        raise ValueError(f"norm must be 'l2', 'l1' or None, got {norm!r}")
    counts, vocab = _count_matrix(item_tokens(ds, fields))
    n_docs = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    if isinstance(min_df, (float, np.floating)):
        if not 0.0 <= min_df <= 1.0:
            raise ValueError(f"a float min_df must be in [0, 1], got {min_df!r}")
        min_count = min_df * n_docs
    elif isinstance(min_df, (int, np.integer)) and not isinstance(min_df, bool) and min_df >= 0:
        min_count = int(min_df)
    else:
        raise ValueError(f"min_df must be a non-negative int or a float in [0, 1], got {min_df!r}")
    keep = np.flatnonzero(df >= min_count)
    counts = counts[:, keep].tocsr()
    df = df[keep]
    vocab = [vocab[j] for j in keep]

    tf = counts.data
    if sublinear_tf:
        tf = 1.0 + np.log(tf)
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    weights = tf * idf[counts.indices]
    if norm is not None:
        row_of = np.repeat(np.arange(n_docs), np.diff(counts.indptr))
        if norm == "l2":
            row_norm = np.sqrt(np.bincount(row_of, weights=weights**2, minlength=n_docs))
        else:
            row_norm = np.bincount(row_of, weights=np.abs(weights), minlength=n_docs)
        weights = weights / row_norm[row_of]  # a row with an entry has a positive norm
    matrix = sp.csr_matrix((weights.astype(dtype), counts.indices.copy(), counts.indptr.copy()),
                           shape=counts.shape)
    return matrix, vocab


def _years(ds: Dataset) -> np.ndarray:
    """Release year per internal item as float64, NaN where unknown."""
    years = _item_column(ds, "year")
    if ds.item_info is None or "year" not in ds.item_info.columns:
        # No year column: read it off the title, "Toy Story (1995)".
        years = []
        for title in _item_column(ds, "title"):
            m = _TITLE_YEAR.search(str(title)) if title is not None else None
            years.append(int(re.search(r"\d{4}", m.group()).group()) if m else None)
    return np.array([np.nan if y is None else float(y) for y in years], dtype=np.float64)


def year_matrix(ds: Dataset, by: str = "decade", return_names: bool = False):
    """One-hot of the release decade (or year) of each item.

    Parameters
    ----------
    ds : Dataset
    by : {"decade", "year"}
    return_names : bool
        Also return the column names (``"1990s"`` or ``"1995"``), sorted by time.

    Returns
    -------
    matrix : csr_matrix of float32, shape (n_items, n_bins)
        Columns are the decades (years) that occur among the items, in time order; zero rows
        for items with no known year.
    names : list of str
        Only with ``return_names=True``.
    """
    if by not in ("decade", "year"):
        raise ValueError(f"year_matrix: by must be 'decade' or 'year', got {by!r}")
    years = _years(ds)
    known = np.flatnonzero(~np.isnan(years))
    bins = years[known].astype(np.int64)
    if by == "decade":
        bins = (bins // 10) * 10
    labels, cols = np.unique(bins, return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(known), dtype=np.float32), (known, cols.ravel())),
        shape=(ds.n_items, len(labels)),
    )
    if not return_names:
        return matrix
    names = [f"{b}s" if by == "decade" else str(b) for b in labels]
    return matrix, names
