"""Item features: genre multi-hot, TF-IDF (checked against scikit-learn), decade one-hot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from recsys.dataset import Dataset
from recsys.features import genre_matrix, item_tokens, tfidf_matrix, title_words, year_matrix


def dataset_with_info(info: pd.DataFrame, item_ids) -> Dataset:
    """One rating per item, so every item id has an internal index."""
    n = len(item_ids)
    return Dataset(np.zeros(n), np.arange(n), np.full(n, 3.0), None, np.array([1]),
                   np.asarray(item_ids), (1.0, 5.0), item_info=info, name="hand")


@pytest.fixture
def small():
    info = pd.DataFrame({
        "title": ["Toy Story (1995)", "Heat (1995)", None, "Fawlty Towers (1975-1979)"],
        "year": pd.array([1995, 1995, pd.NA, 1975], dtype="Int64"),
        "genres": ["Animation|Children's|Comedy", "Action|Crime|Thriller", "", "Comedy"],
        "tags": ["pixar|fun", "", "", "british|fun|british"],
    }, index=[1, 6, 9, 20])
    # Item 42 is rated but missing from item_info: it must get zero rows.
    return dataset_with_info(info, [1, 6, 9, 20, 42])


# ---------------------------------------------------------------------- tokens
@pytest.mark.parametrize("title, words", [
    ("Toy Story (1995)", ["toy", "story"]),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
     ["city", "of", "lost", "children", "the", "cité", "des", "enfants", "perdus", "la"]),
    ("Fawlty Towers (1975-1979)", ["fawlty", "towers"]),
    ("2001: A Space Odyssey (1968)", ["2001", "space", "odyssey"]),  # 1-letter words dropped
    ("Babylon 5", ["babylon"]),
    (None, []),
])
def test_title_words(title, words):
    assert title_words(title) == words


def test_item_tokens_prefix_fields(small):
    docs = item_tokens(small)
    assert docs[0] == ["title:toy", "title:story", "genre:animation", "genre:children's",
                       "genre:comedy", "tag:pixar", "tag:fun"]
    assert docs[2] == []  # no title, no genre, no tag
    assert docs[3].count("tag:british") == 2
    assert docs[4] == []  # not in item_info
    assert item_tokens(small, ("genres",))[1] == ["genre:action", "genre:crime",
                                                   "genre:thriller"]
    with pytest.raises(ValueError, match="plot"):
        item_tokens(small, ("title", "plot"))


# ---------------------------------------------------------------------- genres
def test_genre_matrix(small):
    m, names = genre_matrix(small)
    assert names == ["Action", "Animation", "Children's", "Comedy", "Crime", "Thriller"]
    assert isinstance(m, sp.csr_matrix) and m.dtype == np.float32 and m.shape == (5, 6)
    dense = m.toarray()
    assert dense[0].tolist() == [0, 1, 1, 1, 0, 0]
    assert dense[1].tolist() == [1, 0, 0, 0, 1, 1]
    assert dense[2].sum() == 0 and dense[4].sum() == 0
    assert dense[3].tolist() == [0, 0, 0, 1, 0, 0]


def test_genre_matrix_without_metadata():
    ds = Dataset([0, 0], [0, 1], [1.0, 2.0], None, [1], [1, 2])
    m, names = genre_matrix(ds)
    assert m.shape == (2, 0) and names == []


def test_genre_matrix_drops_no_genre_label_and_rejects_duplicate_ids():
    info = pd.DataFrame({"genres": ["(no genres listed)", "Drama|Drama"]}, index=[1, 2])
    m, names = genre_matrix(dataset_with_info(info, [1, 2]))
    assert names == ["Drama"] and m.toarray().tolist() == [[0.0], [1.0]]
    dup = pd.DataFrame({"genres": ["Drama", "Comedy"]}, index=[1, 1])
    with pytest.raises(ValueError, match="item id 1 twice"):
        genre_matrix(dataset_with_info(dup, [1]))


# ---------------------------------------------------------------------- TF-IDF vs sklearn
WORDS = ["love", "war", "story", "night", "the", "of", "city", "dark", "man", "woman", "x"]
GENRES = ["Action", "Comedy", "Drama", "War", "Sci-Fi", "Film-Noir"]
TAGS = ["funny", "dark comedy", "war", "classic", "twist ending"]


def random_info_dataset(seed: int, n_items: int, missing: float) -> Dataset:
    rng = np.random.default_rng(seed)

    def pick(pool, most):
        k = int(rng.integers(0, most + 1))
        return list(rng.choice(pool, size=k, replace=True))

    titles = [" ".join(pick(WORDS, 5)) + f" ({rng.integers(1920, 2020)})" for _ in range(n_items)]
    genres = ["|".join(dict.fromkeys(pick(GENRES, 3))) for _ in range(n_items)]
    tags = ["|".join(pick(TAGS, 4)) for _ in range(n_items)]
    info = pd.DataFrame({"title": titles, "genres": genres, "tags": tags},
                        index=np.arange(n_items) + 1)
    # Some items lose their metadata altogether, some a single field.
    info = info[rng.random(n_items) >= missing]
    info.loc[info.index[rng.random(len(info)) < missing], "title"] = None
    return dataset_with_info(info, np.arange(n_items) + 1)


def sklearn_tfidf(docs, **params):
    vec = TfidfVectorizer(analyzer=lambda doc: doc, lowercase=False, smooth_idf=True, **params)
    try:
        matrix = vec.fit_transform(docs)
    except ValueError:  # sklearn refuses an empty vocabulary
        return None, []
    return matrix, list(vec.get_feature_names_out())


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), n_items=st.integers(1, 30),
       missing=st.sampled_from([0.0, 0.2, 0.6]),
       fields=st.sampled_from([("title", "genres", "tags"), ("title",), ("genres", "tags")]),
       min_df=st.sampled_from([1, 2, 3, 0.0, 0.1, 0.5]),
       norm=st.sampled_from(["l2", "l1", None]), sublinear_tf=st.booleans())
def test_tfidf_equals_sklearn(seed, n_items, missing, fields, min_df, norm, sublinear_tf):
    ds = random_info_dataset(seed, n_items, missing)
    ours, names = tfidf_matrix(ds, fields, min_df=min_df, norm=norm, sublinear_tf=sublinear_tf)
    theirs, their_names = sklearn_tfidf(item_tokens(ds, fields), min_df=min_df, norm=norm,
                                        sublinear_tf=sublinear_tf)
    assert isinstance(ours, sp.csr_matrix) and ours.shape[0] == ds.n_items
    assert ours.dtype == np.float32
    assert np.isfinite(ours.data).all()
    if theirs is None:
        assert ours.shape[1] == 0 and names == []
        return
    assert names == their_names
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-6, atol=1e-6)


def test_tfidf_zero_rows_and_norms(small):
    m, names = tfidf_matrix(small)
    assert np.isfinite(m.data).all()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [1, 1, 0, 1, 0], atol=1e-6)
    assert "genre:comedy" in names and "title:toy" in names and "tag:british" in names
    with pytest.raises(ValueError, match="norm"):
        tfidf_matrix(small, norm="max")
    with pytest.raises(ValueError, match="min_df"):
        tfidf_matrix(small, min_df=1.5)


def test_tfidf_on_ml_latest_small_equals_sklearn(real_data_dir):
    from recsys.data import load_dataset

    ds = load_dataset("ml-latest-small", real_data_dir)
    ours, names = tfidf_matrix(ds, min_df=2, sublinear_tf=True)
    theirs, their_names = sklearn_tfidf(item_tokens(ds), min_df=2, sublinear_tf=True)
    assert ours.shape == (9724, len(names)) and names == their_names
    assert any(n.startswith("tag:") for n in names)
    diff = abs(ours.astype(np.float64) - theirs)
    assert diff.nnz == 0 or diff.max() < 1e-6
    assert (ours.getnnz(axis=1) > 0).mean() > 0.99


# ---------------------------------------------------------------------- years
def test_year_matrix(small):
    m = year_matrix(small)
    assert isinstance(m, sp.csr_matrix) and m.dtype == np.float32 and m.shape == (5, 2)
    m, names = year_matrix(small, return_names=True)
    assert names == ["1970s", "1990s"]
    assert m.toarray().tolist() == [[0, 1], [0, 1], [0, 0], [1, 0], [0, 0]]
    m, names = year_matrix(small, by="year", return_names=True)
    assert names == ["1975", "1995"] and m.shape == (5, 2)
    with pytest.raises(ValueError, match="decade"):
        year_matrix(small, by="century")


def test_year_matrix_reads_titles_without_year_column():
    info = pd.DataFrame({"title": ["Metropolis (1927)", "No year", "Up (2009)"]},
                        index=[1, 2, 3])
    m, names = year_matrix(dataset_with_info(info, [1, 2, 3]), return_names=True)
    assert names == ["1920s", "2000s"]
    assert m.toarray().tolist() == [[1, 0], [0, 0], [0, 1]]
