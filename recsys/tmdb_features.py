"""Item features from TMDB metadata: one sparse matrix of weighted, normalised blocks.

:func:`tmdb_item_features` turns a metadata table (one row per item, the columns of
:data:`recsys.data.tmdb_formats.COLUMNS`, e.g. ``TmdbJoin.aligned(ds.item_ids)``) into an
:class:`ItemFeatures`: a CSR matrix of shape ``(n_items, n_features)``, float32, made of
these blocks, side by side:

- ``overview``: TF-IDF of the plot overview (:func:`tokenize`: lower-case words of two or
  more word characters, :data:`ENGLISH_STOP_WORDS` removed; sublinear tf ``1 + ln tf``,
  smooth idf over the items that have an overview, ``min_df``), computed by
  :func:`recsys.features.tfidf_matrix`, so the formula lives in one place;
- ``keywords``: signed feature hashing of the keywords into ``2**keyword_bits`` columns
  (Weinberger et al. 2009, :func:`hash_features`); with ``keyword_idf=True`` each keyword
  counts with its smooth inverse document frequency over the items that have keywords,
  ``ln((1 + n) / (1 + df)) + 1`` (:func:`keyword_idf`, scikit-learn's ``smooth_idf``), so a
  rare keyword ("safe cracking") weighs more in a similarity than a common one ("based on
  novel") instead of all counting 1;
- ``people``: the same hashing of the first ``n_cast`` billed actors (``cast:<name>``) and
  the directors (``director:<name>``) into ``2**people_bits`` columns;
- ``genres``: TMDB genres multi-hot (:func:`recsys.features.genre_matrix`);
- ``year``: the release year, **binned** into ``year_width``-year bins with linear
  interpolation between neighbouring bin starts (1997 is 0.6 "1995" + 0.4 "2000"), so
  near years overlap and far ones do not;
- ``popularity``: ``ln(1 + popularity)``, binned the same way (``popularity_width``).

Each block's rows are scaled to unit L2 norm, then multiplied by the block's weight, so no
block swamps another by its size: an item's row has norm ``sqrt(sum of w_b**2)`` over the
blocks it has data for. An item with no metadata has an all-zero row (never NaN). Hashed
columns cannot be read back, so :class:`ItemFeatures` keeps each item's keywords and genres
to explain a similarity ("shares keywords: heist, bank robbery").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.features import genre_matrix, tfidf_matrix
from recsys.validation import check_number

__all__ = ["BLOCKS", "DEFAULT_WEIGHTS", "ENGLISH_STOP_WORDS", "ItemFeatures", "hash_features",
           "keyword_idf", "murmurhash3_32", "tmdb_item_features", "tokenize"]

#: scikit-learn's English stop-word list (``ENGLISH_STOP_WORDS``, from the Glasgow
#: Information Retrieval Group); the tests check the two are equal.
ENGLISH_STOP_WORDS = frozenset("""
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond bill both bottom but by call
    can cannot cant co con could couldnt cry de describe detail do done down due during each eg
    eight either eleven else elsewhere empty enough etc even ever every everyone everything
    everywhere except few fifteen fifty fill find fire first five for former formerly forty
    found four from front full further get give go had has hasnt have he hence her here
    hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if
    in inc indeed interest into is it its itself keep last latter latterly least less ltd made
    many may me meanwhile might mill mine more moreover most mostly move much must my myself
    name namely neither never nevertheless next nine no nobody none noone nor not nothing now
    nowhere of off often on once one only onto or other others otherwise our ours ourselves out
    over own part per perhaps please put rather re same see seem seemed seeming seems serious
    several she should show side since sincere six sixty so some somehow someone something
    sometime sometimes somewhere still such system take ten than that the their them themselves
    then thence there thereafter thereby therefore therein thereupon these they thick thin
    third this those though three through throughout thru thus to together too top toward
    towards twelve twenty two un under until up upon us very via was we well were what whatever
    when whence whenever where whereafter whereas whereby wherein whereupon wherever whether
    which while whither who whoever whole whom whose why will with within without would yet you
    your yours yourself yourselves
""".split())

#: Word tokens of two or more word characters: scikit-learn's default ``token_pattern``.
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")

#: The blocks of :func:`tmdb_item_features`, in column order.
BLOCKS = ("overview", "keywords", "people", "genres", "year", "popularity")
#: Block weights when none are given: text first, the coarse signals lighter.
DEFAULT_WEIGHTS = {"overview": 1.0, "keywords": 1.0, "people": 0.5, "genres": 0.5,
                   "year": 0.25, "popularity": 0.25}
_READS = {"overview": ("overview",), "keywords": ("keywords",), "people": ("cast", "directors"),
          "genres": ("genres",), "year": ("year",), "popularity": ("popularity",)}


def tokenize(text, stop_words: Iterable[str] = ENGLISH_STOP_WORDS) -> list[str]:
    """Lower-case word tokens of ``text`` (2+ word characters), stop words removed.

    The same tokens as scikit-learn's ``TfidfVectorizer(stop_words="english")`` analyzer.
    Missing text (None, NaN, NA) gives no token.
    """
    if _missing(text):
        return []
    stop = stop_words if isinstance(stop_words, (set, frozenset)) else set(stop_words)
    return [t for t in TOKEN_PATTERN.findall(str(text).lower()) if t not in stop]


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------- feature hashing
_M32 = 0xFFFFFFFF


def murmurhash3_32(key: str | bytes, seed: int = 0) -> int:
    """MurmurHash3 (x86, 32-bit) of ``key`` (str is UTF-8 encoded), as a signed int32.

    Stable across processes and platforms (unlike Python's salted ``hash``), and the hash
    scikit-learn's ``FeatureHasher`` uses (``sklearn.utils.murmurhash3_32``), so the columns
    and signs of :func:`hash_features` are the same as its.
    """
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    h = seed & _M32
    n_blocks = len(data) // 4
    for k in np.frombuffer(data, dtype="<u4", count=n_blocks).tolist():
        k = (k * 0xCC9E2D51) & _M32
        k = ((k << 15) | (k >> 17)) & _M32
        h ^= (k * 0x1B873593) & _M32
        h = ((h << 13) | (h >> 19)) & _M32
        h = (h * 5 + 0xE6546B64) & _M32
    tail = data[4 * n_blocks:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * 0xCC9E2D51) & _M32
        k = ((k << 15) | (k >> 17)) & _M32
        h ^= (k * 0x1B873593) & _M32
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def hash_features(docs: Sequence[Iterable[str]], n_bits: int, *, alternate_sign: bool = True,
                  dtype=np.float32, token_weights: Mapping[str, float] | None = None,
                  ) -> sp.csr_matrix:
    """Signed feature hashing (Weinberger et al. 2009, "Feature hashing for large scale
    multitask learning", eq. 1-2).

    Each occurrence of token ``t`` in row ``i`` adds ``xi(t)`` to column ``|h(t)| mod
    2**n_bits``, where ``h`` is :func:`murmurhash3_32` and ``xi(t) = +1`` if ``h(t) >= 0``
    else ``-1`` (all ``+1`` without ``alternate_sign``): the signs make colliding tokens
    cancel in expectation, so inner products are unbiased. This equals
    ``sklearn.feature_extraction.FeatureHasher(n_features=2**n_bits, input_type="string")``.
    With ``token_weights`` an occurrence adds ``xi(t) * token_weights[t]`` instead (1 for a
    token the mapping lacks): FeatureHasher with ``input_type="dict"``.

    Returns
    -------
    csr_matrix, shape (len(docs), 2**n_bits)
        Sorted indices, explicit zeros (cancelled collisions) removed.
    """
    check_number("n_bits", n_bits, 1, integer=True, high=31)
    n_features = 1 << n_bits
    memo: dict[str, tuple[int, float]] = {}
    indptr, indices, values = [0], [], []
    for doc in docs:
        for token in doc:
            hit = memo.get(token)
            if hit is None:
                h = murmurhash3_32(token)
                w = 1.0 if token_weights is None else float(token_weights.get(token, 1.0))
                hit = memo[token] = (abs(h) % n_features,
                                     -w if alternate_sign and h < 0 else w)
            indices.append(hit[0])
            values.append(hit[1])
        indptr.append(len(indices))
    matrix = sp.csr_matrix((np.array(values, dtype=dtype), np.array(indices, dtype=np.int32),
                            np.array(indptr, dtype=np.int64)),
                           shape=(len(indptr) - 1, n_features))
    matrix.sum_duplicates()  # also sorts the indices
    matrix.eliminate_zeros()
    return matrix


def keyword_idf(docs: Sequence[Iterable[str]]) -> dict[str, float]:
    """Smooth inverse document frequency of each token over the documents that have one:
    ``ln((1 + n) / (1 + df(t))) + 1``, with ``n`` the number of non-empty documents and
    ``df(t)`` the number of documents holding ``t`` (a token repeated in one document counts
    once). The formula of scikit-learn's ``TfidfTransformer(smooth_idf=True)`` and of
    :func:`recsys.features.tfidf_matrix`; a token in every document weighs 1."""
    df: dict[str, int] = {}
    n = 0
    for doc in docs:
        tokens = set(doc)
        if tokens:
            n += 1
        for t in tokens:
            df[t] = df.get(t, 0) + 1
    return {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}


# ---------------------------------------------------------------------- the blocks
def _catalogue(columns: Mapping[str, list[str]]) -> Dataset:
    """A rating-free Dataset whose ``item_info`` holds ``"|"``-joined token lists, so the
    MovieLens feature functions of :mod:`recsys.features` build the TMDB blocks too."""
    n = len(next(iter(columns.values())))
    empty = np.zeros(0, dtype=np.int64)
    info = pd.DataFrame(dict(columns), index=np.arange(n))
    return Dataset(empty, empty, np.zeros(0), None, empty, np.arange(n), item_info=info)


def _overview_block(texts: list, min_df: int | float) -> tuple[sp.csr_matrix, list[str]]:
    """TF-IDF over the items that have an overview (others: zero rows)."""
    docs = [tokenize(t) for t in texts]
    rows = np.flatnonzero([bool(d) for d in docs])
    sub = _catalogue({"tags": ["|".join(docs[i]) for i in rows]})
    if len(rows):
        matrix, terms = tfidf_matrix(sub, fields=("tags",), min_df=min_df, norm="l2",
                                     sublinear_tf=True)
    else:
        matrix, terms = sp.csr_matrix((0, 0), dtype=np.float32), []
    return _scatter_rows(matrix, rows, len(texts)), [
        "overview:" + t.removeprefix("tag:") for t in terms]


def _scatter_rows(matrix: sp.csr_matrix, rows: np.ndarray, n_rows: int) -> sp.csr_matrix:
    """``matrix``'s row ``k`` placed at row ``rows[k]`` of an (n_rows, ...) matrix."""
    select = sp.csr_matrix((np.ones(len(rows), dtype=matrix.dtype), (rows, np.arange(len(rows)))),
                           shape=(n_rows, matrix.shape[0]))
    return (select @ matrix).tocsr()


def _genre_block(genres: list[tuple[str, ...]]) -> tuple[sp.csr_matrix, list[str]]:
    matrix, names = genre_matrix(_catalogue({"genres": ["|".join(g) for g in genres]}))
    return matrix, ["genre:" + g for g in names]


def _soft_bins(values: np.ndarray, width: float, label: str) -> tuple[sp.csr_matrix, list[str]]:
    """Linear interpolation between bins ``[k * width, (k + 1) * width)``: a value ``v``
    puts ``1 - f`` on bin ``floor(v / width)`` and ``f`` on the next, ``f`` the fraction
    past the bin start. NaN (or inf) gives a zero row. Column names
    ``"<label>=<bin start>"``."""
    known = np.flatnonzero(np.isfinite(values))
    position = values[known] / width
    low = np.floor(position).astype(np.int64)
    frac = position - low
    first = int(low.min()) if len(low) else 0
    n_bins = int(low.max()) - first + 2 if len(low) else 0
    rows = np.concatenate([known, known])
    cols = np.concatenate([low - first, low - first + 1])
    matrix = sp.csr_matrix((np.concatenate([1.0 - frac, frac]).astype(np.float32),
                            (rows, cols)), shape=(len(values), n_bins))
    matrix.eliminate_zeros()
    return matrix, [f"{label}={(first + k) * width:g}" for k in range(n_bins)]


def _l2_rows(matrix: sp.csr_matrix, weight: float) -> sp.csr_matrix:
    """Rows scaled to L2 norm ``weight``; zero rows stay zero."""
    matrix = matrix.tocsr().astype(np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(weight, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix, dtype=np.float32)


def _token_column(table: pd.DataFrame, column: str) -> list[tuple[str, ...]]:
    """The tuples of a list column; a missing value (None, NaN, NA) is empty."""
    out = []
    for row, value in enumerate(table[column].tolist()):
        if isinstance(value, (tuple, list, np.ndarray)):
            out.append(tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip())))
        elif _missing(value):
            out.append(())
        else:
            raise TypeError(f"column {column!r}, row {row}: expected a list of str, found "
                            f"{type(value).__name__} {value!r}")
    return out


def _numbers(table: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(table[column], errors="raise").to_numpy(dtype=np.float64,
                                                                 na_value=np.nan)


# ---------------------------------------------------------------------- the pipeline
@dataclass(frozen=True)
class ItemFeatures:
    """The item-feature matrix of :func:`tmdb_item_features` and what explains it.

    Attributes
    ----------
    matrix : csr_matrix of float32, shape (n_items, n_features)
        The blocks side by side; row ``i`` is the table's row ``i``.
    names : tuple of str
        Column names: ``"overview:heist"``, ``"keywords#1234"`` (a hash bucket),
        ``"people#77"``, ``"genre:Crime"``, ``"year=1995"``, ``"popularity=2.5"``.
    blocks : dict of str to slice
        Each block's columns, in :data:`BLOCKS` order.
    weights : dict of str to float
        Each block's weight (the L2 norm of its rows where the item has data).
    keywords, genres : tuple of tuple of str
        Each item's keywords and genres, as in the table (each once, in order).
    index : Index
        The table's row labels (movieIds for ``TmdbJoin.aligned``).
    """

    matrix: sp.csr_matrix
    names: tuple[str, ...]
    blocks: dict[str, slice]
    weights: dict[str, float]
    keywords: tuple[tuple[str, ...], ...]
    genres: tuple[tuple[str, ...], ...]
    index: pd.Index

    @property
    def n_items(self) -> int:
        return self.matrix.shape[0]

    @property
    def has_metadata(self) -> np.ndarray:
        """bool, shape (n_items,): whether the item's row is not all zero."""
        return np.diff(self.matrix.indptr) > 0

    def block(self, name: str) -> sp.csr_matrix:
        """The columns of one block (KeyError naming the blocks built)."""
        if name not in self.blocks:
            raise KeyError(f"no block {name!r}; built: {', '.join(self.blocks)}")
        return self.matrix[:, self.blocks[name]].tocsr()

    def shared(self, i: int, j: int) -> dict[str, tuple[str, ...]]:
        """The keywords and genres items ``i`` and ``j`` (row positions) have in common, in
        item ``i``'s order."""
        return {"keywords": tuple(k for k in self.keywords[i] if k in set(self.keywords[j])),
                "genres": tuple(g for g in self.genres[i] if g in set(self.genres[j]))}

    def explain(self, i: int, j: int, limit: int = 5) -> str:
        """``"shares keywords: heist, bank robbery; genres: Crime"`` (at most ``limit`` of
        each), or ``""`` when the two share neither."""
        parts = []
        for label, values in self.shared(i, j).items():
            if values:
                more = f" (+{len(values) - limit} more)" if len(values) > limit else ""
                parts.append(f"{label}: {', '.join(values[:limit])}{more}")
        return "shares " + "; ".join(parts) if parts else ""


def tmdb_item_features(
    table: pd.DataFrame,
    *,
    blocks: Sequence[str] = BLOCKS,
    weights: Mapping[str, float] | None = None,
    min_df: int | float = 2,
    keyword_bits: int = 14,
    keyword_idf: bool = False,
    people_bits: int = 14,
    n_cast: int = 5,
    year_width: float = 5.0,
    popularity_width: float = 0.5,
) -> ItemFeatures:
    """The TMDB item-feature matrix (see the module docstring for each block).

    Parameters
    ----------
    table : DataFrame
        One row per item, in the order wanted for the matrix rows (e.g.
        ``TmdbJoin.aligned(ds.item_ids)``); the columns the chosen blocks read:
        ``overview``, ``keywords``, ``cast``, ``directors``, ``genres``, ``year``,
        ``popularity``. List columns hold tuples (or lists) of str; missing values are
        empty.
    blocks : sequence of str
        Which of :data:`BLOCKS` to build (kept in :data:`BLOCKS` order).
    weights : mapping of str to float, optional
        Block weights (>= 0), overriding :data:`DEFAULT_WEIGHTS`; a block of weight 0 is
        left out.
    min_df : int or float
        Overview words kept: in at least ``min_df`` overviews (int), or that fraction of them.
    keyword_bits, people_bits : int
        The keyword and people blocks have ``2**bits`` hashed columns.
    keyword_idf : bool
        Weight each keyword by its smooth IDF over the table's items with keywords
        (:func:`keyword_idf`) before hashing; False: every keyword counts 1. The IDF comes
        from the table alone (metadata, no ratings), so a cold item's keywords count in it.
    n_cast : int
        Actors taken from the top of each cast list.
    year_width, popularity_width : float
        Bin widths: years, and ``ln(1 + popularity)`` units.

    Returns
    -------
    ItemFeatures
    """
    chosen = _check_options(table, blocks, weights, n_cast, keyword_bits, people_bits,
                            year_width, popularity_width)
    if not isinstance(keyword_idf, (bool, np.bool_)):
        raise TypeError(f"keyword_idf must be True or False, got {keyword_idf!r}")
    builders = {
        "overview": lambda: _overview_block(table["overview"].tolist(), min_df),
        "keywords": lambda: _hashed(_token_column(table, "keywords"), keyword_bits,
                                    "keywords", idf=keyword_idf),
        "people": lambda: _hashed(_people(table, n_cast), people_bits, "people"),
        "genres": lambda: _genre_block(_token_column(table, "genres")),
        "year": lambda: _soft_bins(_numbers(table, "year"), year_width, "year"),
        "popularity": lambda: _soft_bins(np.log1p(_numbers(table, "popularity")),
                                         popularity_width, "popularity"),
    }
    parts, names, spans, start = [], [], {}, 0
    for name, weight in chosen.items():
        matrix, columns = builders[name]()
        parts.append(_l2_rows(matrix, weight))
        names += columns
        spans[name] = slice(start, start + len(columns))
        start += len(columns)
    matrix = (sp.hstack(parts, format="csr", dtype=np.float32) if parts
              else sp.csr_matrix((len(table), 0), dtype=np.float32))
    matrix.sort_indices()
    return ItemFeatures(matrix, tuple(names), spans, chosen,
                        tuple(_token_column(table, "keywords")) if "keywords" in table else (),
                        tuple(_token_column(table, "genres")) if "genres" in table else (),
                        table.index)


def _check_options(table, blocks, weights, n_cast, keyword_bits, people_bits, year_width,
                   popularity_width) -> dict[str, float]:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a DataFrame, got {type(table).__name__}")
    unknown = [b for b in list(blocks) + list(weights or {}) if b not in BLOCKS]
    if unknown:
        raise ValueError(f"unknown feature block {unknown[0]!r}; choose from "
                         f"{', '.join(BLOCKS)}")
    merged = {**DEFAULT_WEIGHTS, **(weights or {})}
    for name, weight in merged.items():
        check_number(f"weights[{name!r}]", weight, 0)
    check_number("n_cast", n_cast, 0, integer=True)
    check_number("keyword_bits", keyword_bits, 1, integer=True, high=31)
    check_number("people_bits", people_bits, 1, integer=True, high=31)
    check_number("year_width", year_width, 0, strict=True)
    check_number("popularity_width", popularity_width, 0, strict=True)
    chosen = {b: float(merged[b]) for b in BLOCKS if b in blocks and merged[b] > 0}
    for name in chosen:
        absent = [c for c in _READS[name] if c not in table.columns]
        if absent:
            raise ValueError(f"the {name} block reads column {absent[0]!r}, which the table "
                             "lacks (give blocks= without it, or a TMDB metadata table)")
    return chosen


def _hashed(docs: list[tuple[str, ...]], n_bits: int, label: str, idf: bool = False):
    weights = keyword_idf(docs) if idf else None
    return (hash_features(docs, n_bits, token_weights=weights),
            [f"{label}#{k}" for k in range(1 << n_bits)])


def _people(table: pd.DataFrame, n_cast: int) -> list[list[str]]:
    cast, directors = _token_column(table, "cast"), _token_column(table, "directors")
    return [[f"cast:{name}" for name in c[:n_cast]] + [f"director:{name}" for name in d]
            for c, d in zip(cast, directors)]
