"""IDF weighting of the TMDB keyword block (``keyword_idf``): the weights against
scikit-learn's smooth IDF, the weighted hashing against FeatureHasher, the block, and the
ContentKNN hyperparameter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import TfidfVectorizer

from recsys.data.tmdb_formats import build_table, empty_record
from recsys.models import ContentKNN
from recsys.tmdb_features import hash_features, keyword_idf, tmdb_item_features
from test_content_tmdb import tmdb_data

TOKENS = st.sampled_from(["heist", "bank robbery", "sequel", "é", "x" * 9, "space war",
                          "based on novel"])
DOCS = st.lists(st.lists(TOKENS, max_size=5), min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@given(DOCS)
def test_keyword_idf_is_sklearns_smooth_idf_over_the_documents_with_keywords(docs):
    weights = keyword_idf(docs)
    nonempty = [d for d in docs if d]
    assert set(weights) == {t for d in docs for t in d}
    if not nonempty:
        return
    vec = TfidfVectorizer(analyzer=lambda d: d, smooth_idf=True).fit(nonempty)
    for token, column in vec.vocabulary_.items():
        assert math.isclose(weights[token], vec.idf_[column], rel_tol=1e-12)
    for token, w in weights.items():  # the plain definition, documents counted once
        df = sum(token in d for d in nonempty)
        assert math.isclose(w, math.log((1 + len(nonempty)) / (1 + df)) + 1)


@settings(max_examples=100, deadline=None)
@given(DOCS, st.integers(1, 10), st.booleans())
def test_weighted_hashing_matches_feature_hasher_with_dicts(docs, n_bits, alternate_sign):
    weights = keyword_idf(docs)
    ours = hash_features(docs, n_bits, alternate_sign=alternate_sign, token_weights=weights)
    dicts = [{} for _ in docs]
    for row, doc in zip(dicts, docs):
        for t in doc:  # repeated tokens add up, as in the unweighted hashing
            row[t] = row.get(t, 0.0) + weights[t]
    theirs = FeatureHasher(n_features=2**n_bits, input_type="dict",
                           alternate_sign=alternate_sign).transform(dicts)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert np.allclose(ours.toarray(), theirs.toarray(), rtol=1e-6, atol=1e-6)


def _table(keywords):
    records = []
    for k, kw in enumerate(keywords, 1):
        record = empty_record(k)
        record["keywords"] = tuple(kw)
        records.append(record)
    return build_table(records)


def test_rare_keywords_weigh_more_in_the_block():
    table = _table([("heist", "sequel"), ("heist", "sequel"), ("sequel",), ("sequel",), ()])
    plain = tmdb_item_features(table, blocks=["keywords"], keyword_bits=10)
    idf = tmdb_item_features(table, blocks=["keywords"], keyword_bits=10, keyword_idf=True)
    expected = hash_features(list(table["keywords"]), 10,
                             token_weights=keyword_idf(list(table["keywords"]))).toarray()
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    expected = np.divide(expected, norms, out=np.zeros_like(expected), where=norms > 0)
    assert np.allclose(idf.block("keywords").toarray(), expected, atol=1e-6)
    # "heist" is in 2 of 4, "sequel" in all 4: item 0's heist column outweighs its sequel one.
    heist = abs(murmur_column("heist", 10))
    sequel = abs(murmur_column("sequel", 10))
    row = np.abs(idf.block("keywords").toarray()[0])
    assert row[heist] > row[sequel]
    assert np.isclose(np.abs(plain.block("keywords").toarray()[0])[heist],
                      np.abs(plain.block("keywords").toarray()[0])[sequel])
    # cosine(item 0, item 2) falls: they share only the common keyword
    a, b = (m.block("keywords").toarray() for m in (plain, idf))
    assert b[0] @ b[2] < a[0] @ a[2] - 0.05
    assert not idf.block("keywords").toarray()[4].any()


def murmur_column(token: str, n_bits: int) -> int:
    from recsys.tmdb_features import murmurhash3_32

    return abs(murmurhash3_32(token)) % (1 << n_bits)


def test_keyword_idf_must_be_a_bool():
    with pytest.raises(TypeError, match="keyword_idf"):
        tmdb_item_features(_table([("a",)]), blocks=["keywords"], keyword_idf="yes")
    with pytest.raises(ValueError, match="keyword_idf"):
        ContentKNN(features="tmdb", keyword_idf=1).fit(tmdb_data())


def test_contentknn_keyword_idf_changes_the_vectors_and_round_trips(tmp_path):
    data = tmdb_data()
    plain = ContentKNN(features="tmdb", overview_weight=0.0, k=10).fit(data)
    idf = ContentKNN(features="tmdb", overview_weight=0.0, k=10, keyword_idf=True).fit(data)
    assert abs(plain.features_ - idf.features_).max() > 1e-3
    assert idf.get_params()["keyword_idf"] is True
    loaded = ContentKNN.load(idf.save(tmp_path / "idf.npz"))
    assert loaded.keyword_idf is True
    np.testing.assert_array_equal(loaded.score_items(np.arange(5)), idf.score_items(
        np.arange(5)))
    # the MovieLens source has no keyword block: the option changes nothing there
    ml = ContentKNN(features="movielens").fit(data).features_
    ml_idf = ContentKNN(features="movielens", keyword_idf=True).fit(data).features_
    assert abs(ml - ml_idf).max() == 0
