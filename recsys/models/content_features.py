"""The item vectors of :class:`~recsys.models.content.ContentKNN`, and the terms that explain
them.

Sources (``ContentKNN(features=...)``)
--------------------------------------
- ``"movielens"`` (:func:`movielens_blocks`): from ``Dataset.item_info``, genres multi-hot,
  release decade one-hot, TF-IDF of the title words and TF-IDF of the tags
  (:mod:`recsys.features`); weights ``genre_weight, decade_weight, title_weight,
  tag_weight``.
- ``"tmdb"`` (:func:`tmdb_blocks`): the blocks of
  :func:`recsys.tmdb_features.tmdb_item_features`: overview TF-IDF, hashed keywords, hashed
  cast/directors, TMDB genres, binned year and log popularity; weights
  ``overview_weight, keyword_weight, people_weight, tmdb_genre_weight, year_weight,
  popularity_weight`` (see :data:`TMDB_WEIGHTS`).
- ``"both"``: the two side by side.

Every block is a unit (or zero) row times its weight; the item vector is the concatenation
scaled to unit length (:func:`content_vectors`), so a block of weight ``w`` has a share
``w**2 / sum w_b**2`` of the cosine of two items that have every block. An item with no
metadata of the chosen source has a zero vector.

Where the TMDB metadata comes from
----------------------------------
No global state: either the Dataset carries it, joined once by :func:`with_tmdb` (the
``tmdb_*`` columns of ``item_info``; splits keep ``item_info``, so every fold has it), or it is
read from a folder (``ContentKNN(tmdb_dir=...)``: :func:`recsys.data.tmdb.load_tmdb` of that
folder, or with ``None`` the usual places, ``$RECSYS_DATA/tmdb`` then the cache) and joined
through the Dataset's links (``item_info``'s ``tmdb_id``/``imdb_id``) at fit.

Terms
-----
Hashed columns cannot be read back, so the model keeps each item's keywords, tags and genres
as :class:`ItemTerms` (plain arrays, saved with the model) to say what two items share:
``"shares keywords: heist, bank robbery; genres: Crime"`` (:func:`describe_shared`). Only
the groups whose block has a positive weight are kept: a shared term always counts in the
similarity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.features import NO_GENRE, genre_matrix, tfidf_matrix, year_matrix
from recsys.tmdb_features import BLOCKS, tmdb_item_features

__all__ = ["FEATURE_SOURCES", "TMDB_COLUMNS", "TMDB_PREFIX", "TMDB_WEIGHTS", "ItemTerms",
           "content_vectors", "describe_shared", "has_tmdb", "item_features",
           "movielens_blocks", "tmdb_blocks", "tmdb_table", "with_catalogue", "with_tmdb"]

#: What ``ContentKNN(features=...)`` accepts.
FEATURE_SOURCES = ("movielens", "tmdb", "both")
#: The TMDB metadata columns the features read; :func:`with_tmdb` stores them in
#: ``item_info`` under :data:`TMDB_PREFIX` + name.
TMDB_COLUMNS = ("overview", "keywords", "cast", "directors", "genres", "year", "popularity")
TMDB_PREFIX = "tmdb_"
#: ContentKNN's hyperparameter for each TMDB block of :mod:`recsys.tmdb_features`.
TMDB_WEIGHTS = {"overview_weight": "overview", "keyword_weight": "keywords",
                "people_weight": "people", "tmdb_genre_weight": "genres",
                "year_weight": "year", "popularity_weight": "popularity"}
#: The groups of :class:`ItemTerms`, in the order an explanation names them.
TERM_GROUPS = ("keywords", "tags", "genres")


def unit_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (zero rows stay zero), float64."""
    m = sp.csr_matrix(m, dtype=np.float64)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ m)


# ---------------------------------------------------------------------- MovieLens
def movielens_blocks(ds: Dataset, genre_weight: float = 1.0, decade_weight: float = 0.5,
                     title_weight: float = 0.5, tag_weight: float = 1.0,
                     ) -> tuple[sp.csr_matrix, list[str]]:
    """The MovieLens blocks, each a unit (or zero) row times its weight, side by side
    (float64, not normalised as a whole); a block of weight 0 is left out. Column names
    ``"genre:Comedy"``, ``"decade:1990s"``, ``"title:story"``, ``"tag:pixar"``."""
    blocks, names = [], []
    if genre_weight > 0:
        g, gn = genre_matrix(ds)
        blocks.append(genre_weight * unit_rows(g))
        names += [f"genre:{n}" for n in gn]
    if decade_weight > 0:
        d, dn = year_matrix(ds, "decade", return_names=True)
        blocks.append(decade_weight * unit_rows(d))
        names += [f"decade:{n}" for n in dn]
    for weight, field in ((title_weight, "title"), (tag_weight, "tags")):
        if weight > 0:
            t, tn = tfidf_matrix(ds, fields=(field,), dtype=np.float64)
            blocks.append(weight * t)
            names += tn
    if not blocks:
        return sp.csr_matrix((ds.n_items, 0)), names
    return sp.hstack(blocks, format="csr"), names


def item_features(ds: Dataset, genre_weight: float = 1.0, decade_weight: float = 0.5,
                  title_weight: float = 0.5, tag_weight: float = 1.0,
                  ) -> tuple[sp.csr_matrix, list[str]]:
    """The MovieLens item vectors of ContentKNN (``features="movielens"``).

    Parameters
    ----------
    ds : Dataset
        With ``item_info`` (a ValueError otherwise).
    genre_weight, decade_weight, title_weight, tag_weight : float >= 0
        Block weights; a block of weight 0 is left out.

    Returns
    -------
    matrix : csr_matrix of float32, shape (ds.n_items, n_features)
        Unit rows (zero rows for items without metadata), sorted column indices.
    names : list of str
        Column names (:func:`movielens_blocks`).
    """
    _need_info(ds)
    blocks, names = movielens_blocks(ds, genre_weight, decade_weight, title_weight,
                                     tag_weight)
    matrix = unit_rows(blocks)
    matrix.sort_indices()
    return matrix.astype(np.float32), names


def _need_info(ds: Dataset) -> None:
    if ds.item_info is None:
        raise ValueError(
            f"content features need item metadata, but data set {ds.name or '<unnamed>'!r} "
            "has no item_info (a DataFrame indexed by raw item id with title/genres/tags)")
    index = ds.item_info.index
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise ValueError(f"{ds.name or 'dataset'}: item_info lists item id "
                         f"{dup.item() if isinstance(dup, np.generic) else dup!r} twice")


def with_catalogue(ds: Dataset) -> Dataset:
    """The same ratings with every item of ``ds.item_info`` in the item id map.

    Items listed in ``item_info`` but never rated get internal indices after the existing
    ones (in ``item_info`` order), so content models can score them. Call it before
    splitting, so that every part shares the extended map.
    """
    if ds.item_info is None:
        raise ValueError(f"data set {ds.name or '<unnamed>'!r} has no item_info to take "
                         "the catalogue from")
    known = pd.Index(ds.item_ids)
    extra = ds.item_info.index[~ds.item_info.index.isin(known)].unique()
    if not len(extra):
        return ds
    item_ids = np.concatenate([np.asarray(ds.item_ids), np.asarray(extra)])
    return Dataset(ds.users, ds.items, ds.ratings, ds.timestamps, ds.user_ids, item_ids,
                   ds.rating_scale, ds.item_info, ds.user_info, ds.name)


# ---------------------------------------------------------------------- TMDB
def with_tmdb(ds: Dataset, metadata=None, data_dir=None) -> Dataset:
    """The same Dataset with TMDB metadata joined into ``item_info`` (columns
    ``tmdb_overview``, ``tmdb_keywords``, ... of :data:`TMDB_COLUMNS`), for every item of
    ``item_info``, rated or not.

    Parameters
    ----------
    ds : Dataset
        A release with links (``item_info`` has ``tmdb_id`` and ``imdb_id``: ml-latest-small,
        ml-25m, ...).
    metadata : TmdbData or DataFrame, optional
        What :func:`recsys.data.tmdb.load_tmdb` returns; loaded from ``data_dir`` (else the
        usual places) when not given.
    data_dir : path, optional
        The folder holding the TMDB files (:func:`recsys.data.tmdb.find_tmdb`).

    The join is :func:`recsys.data.tmdb_join.join_dataset` (by tmdbId, falling back to
    imdbId); an unmatched movie gets empty tuples, None and NaN.
    """
    from recsys.data.tmdb import load_tmdb
    from recsys.data.tmdb_join import join_dataset

    _need_info(ds)
    joined = join_dataset(load_tmdb(data_dir) if metadata is None else metadata, ds).items
    info = ds.item_info.copy()
    for name in TMDB_COLUMNS:
        info[TMDB_PREFIX + name] = joined[name].to_numpy()
    return Dataset(ds.users, ds.items, ds.ratings, ds.timestamps, ds.user_ids, ds.item_ids,
                   ds.rating_scale, info, ds.user_info, ds.name)


def tmdb_table(ds: Dataset, data_dir=None) -> pd.DataFrame:
    """The TMDB metadata of each internal item: a table of :data:`TMDB_COLUMNS`, row ``i``
    for item ``i`` (indexed by ``ds.item_ids``).

    From the ``tmdb_*`` columns of ``item_info`` (:func:`with_tmdb`) when they are there and
    no ``data_dir`` is given; otherwise loaded (``load_tmdb(data_dir)``) and joined through
    the links. An item that ``item_info`` lacks or TMDB does not know has empty fields.
    """
    _need_info(ds)
    info = ds.item_info
    present = [TMDB_PREFIX + c in info.columns for c in TMDB_COLUMNS]
    if data_dir is None and any(present):
        if not all(present):
            lacking = TMDB_PREFIX + TMDB_COLUMNS[present.index(False)]
            raise ValueError(f"item_info of {ds.name or 'the data set'} has some TMDB columns "
                             f"but not {lacking!r}: join them with with_tmdb(ds)")
        table = info[[TMDB_PREFIX + c for c in TMDB_COLUMNS]].reindex(pd.Index(ds.item_ids))
        table.columns = list(TMDB_COLUMNS)
        return table
    from recsys.data.tmdb import load_tmdb
    from recsys.data.tmdb_join import join_dataset

    return join_dataset(load_tmdb(data_dir), ds).aligned(ds.item_ids)[list(TMDB_COLUMNS)]


def tmdb_blocks(table: pd.DataFrame, weights: Mapping[str, float], keyword_idf: bool = False):
    """The TMDB blocks of ``table`` (one row per item) with ``weights`` keyed by block
    (:data:`TMDB_WEIGHTS`' values) and the keywords IDF-weighted or not
    (:func:`~recsys.tmdb_features.tmdb_item_features`); an
    :class:`~recsys.tmdb_features.ItemFeatures`."""
    chosen = [b for b in BLOCKS if weights.get(b, 0) > 0]
    return tmdb_item_features(table, blocks=chosen, weights=dict(weights),
                              keyword_idf=keyword_idf)


def has_tmdb(ds: Dataset, data_dir=None) -> np.ndarray:
    """bool (n_items,): whether each internal item has a TMDB overview, keyword or genre."""
    table = tmdb_table(ds, data_dir)
    text = table["overview"].map(lambda v: isinstance(v, str) and bool(v.strip()))
    lists = [table[c].map(lambda v: isinstance(v, (tuple, list)) and len(v) > 0)
             for c in ("keywords", "genres")]
    return (text | lists[0] | lists[1]).to_numpy(dtype=bool)


# ---------------------------------------------------------------------- the vectors
class ItemTerms(NamedTuple):
    """Each item's named terms, CSR-like: item ``i`` has ``names[indices[indptr[i]:
    indptr[i + 1]]]``, each ``"<group>:<term>"`` (group one of :data:`TERM_GROUPS`)."""

    indptr: np.ndarray   # int64 (n_items + 1,)
    indices: np.ndarray  # int32 (n_terms_total,)
    names: np.ndarray    # str (n_vocabulary,)


def content_vectors(ds: Dataset, features: str, movielens: Mapping[str, float],
                    tmdb: Mapping[str, float], data_dir=None, keyword_idf: bool = False,
                    ) -> tuple[sp.csr_matrix, list[str], ItemTerms]:
    """The item vectors of ContentKNN and their terms.

    Parameters
    ----------
    ds : Dataset
    features : {"movielens", "tmdb", "both"}
    movielens : mapping
        ``genre_weight, decade_weight, title_weight, tag_weight``.
    tmdb : mapping
        The TMDB block weights keyed by block (``"overview"``, ``"keywords"``, ...).
    data_dir : path, optional
        Where to read TMDB from (:func:`tmdb_table`).
    keyword_idf : bool
        Weight the TMDB keywords by their IDF (:func:`recsys.tmdb_features.keyword_idf`).

    Returns
    -------
    matrix : csr_matrix float32 (n_items, n_features), unit or zero rows, sorted indices
    names : list of str, the column names
    terms : ItemTerms
    """
    _need_info(ds)
    parts, names, groups = [], [], {}
    if features in ("movielens", "both"):
        block, ml_names = movielens_blocks(ds, **movielens)
        parts.append(block)
        names += ml_names
        if movielens["tag_weight"] > 0:
            groups["tags"] = _split_column(ds, "tags")
        if movielens["genre_weight"] > 0:
            groups["genres"] = _split_column(ds, "genres")
    if features in ("tmdb", "both"):
        feats = tmdb_blocks(tmdb_table(ds, data_dir), tmdb, keyword_idf)
        parts.append(feats.matrix.astype(np.float64))
        names += list(feats.names)
        if "keywords" in feats.blocks:
            groups["keywords"] = list(feats.keywords)
        if "genres" in feats.blocks:
            ml = groups.get("genres", [()] * ds.n_items)
            groups["genres"] = [tuple(dict.fromkeys(t + m)) for t, m in zip(feats.genres, ml)]
    matrix = unit_rows(sp.hstack(parts, format="csr")) if parts else sp.csr_matrix(
        (ds.n_items, 0))
    matrix.sort_indices()
    return matrix.astype(np.float32), names, _item_terms(groups, ds.n_items)


def _split_column(ds: Dataset, column: str) -> list[tuple[str, ...]]:
    """The ``"|"``-joined entries of an ``item_info`` column per internal item (each once,
    in order; empty ones and "(no genres listed)" dropped)."""
    info = ds.item_info
    if column not in info.columns:
        return [()] * ds.n_items
    values = info[column].reindex(pd.Index(ds.item_ids)).astype(object).to_numpy()
    out = []
    for value in values:
        parts = str(value).split("|") if isinstance(value, str) else []
        out.append(tuple(dict.fromkeys(
            p.strip() for p in parts if p.strip() and p.strip() != NO_GENRE)))
    return out


def _item_terms(groups: Mapping[str, Sequence[tuple[str, ...]]], n_items: int) -> ItemTerms:
    per_item = [[f"{g}:{t}" for g in TERM_GROUPS if g in groups for t in groups[g][i]]
                for i in range(n_items)]
    vocab = sorted({t for terms in per_item for t in terms})
    code = {t: k for k, t in enumerate(vocab)}
    lengths = np.fromiter((len(t) for t in per_item), dtype=np.int64, count=n_items)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.fromiter((code[t] for terms in per_item for t in terms), dtype=np.int32,
                          count=int(indptr[-1]))
    return ItemTerms(indptr, indices, np.array(vocab, dtype=str))


def shared_terms(terms: ItemTerms, i: int, j: int) -> dict[str, list[str]]:
    """The terms items ``i`` and ``j`` have in common, per group of :data:`TERM_GROUPS` that
    the terms hold (in item ``i``'s order)."""
    names = np.asarray(terms.names)
    groups = {str(n).split(":", 1)[0] for n in names}
    out: dict[str, list[str]] = {g: [] for g in TERM_GROUPS if g in groups}
    theirs = set(terms.indices[terms.indptr[j]:terms.indptr[j + 1]].tolist())
    for code in terms.indices[terms.indptr[i]:terms.indptr[i + 1]].tolist():
        if code in theirs:
            group, term = str(names[code]).split(":", 1)
            out[group].append(term)
    return out


def describe_shared(shared: Mapping[str, Sequence[str]], limit: int = 5) -> str:
    """``"shares keywords: heist, bank robbery; genres: Crime"`` (at most ``limit`` terms a
    group, then ``"(+n more)"``), or ``""`` when nothing is shared."""
    said = []
    for group, terms in shared.items():
        if terms:
            rest = len(terms) - limit
            said.append(f"{group}: {', '.join(terms[:limit])}" + (f" (+{rest} more)"
                                                                   if rest > 0 else ""))
    return "shares " + "; ".join(said) if said else ""
