"""ContentKNN on TMDB metadata: conformance, the vectors against their blocks, where the
metadata comes from (item_info columns, a folder), cold items, what two items share, save and
load, and the errors. Synthetic data here; the real files in test_content_tmdb_real."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from model_conformance import ModelConformance
from recsys.data.tmdb_formats import COLUMNS
from recsys.dataset import Dataset
from recsys.errors import DataNotFoundError, UnknownIdError
from recsys.models import ContentKNN, Recommender
from recsys.models.content_features import (
    TMDB_COLUMNS, content_vectors, describe_shared, has_tmdb, movielens_blocks, tmdb_table,
    unit_rows, with_tmdb)
from recsys.tmdb_features import tmdb_item_features

#: theme -> (keywords, TMDB genres, overview, actors)
THEMES = {
    "heist": (["heist", "bank robbery", "thief", "safe cracking"], ("Crime", "Thriller"),
              "A crew of thieves plans one last bank job in the city.", ["Al Vance", "Bo Reed"]),
    "space": (["spaceship", "alien", "astronaut", "space station"], ("Science Fiction",),
              "Astronauts aboard a damaged ship meet an alien.", ["Cy Moon", "Di Star"]),
    "romance": (["love", "wedding", "first kiss"], ("Romance", "Comedy"),
                "Two strangers fall in love the week before a wedding.", ["Ed Rose", "Fay Lark"]),
    "haunting": (["ghost", "haunted house", "exorcism"], ("Horror",),
                 "A family moves into a haunted house and meets a ghost.", ["Gus Crow", "Hal Fog"]),
    "war": (["world war ii", "soldier", "battle"], ("War", "Drama"),
            "Soldiers hold a bridge in a desperate battle.", ["Ike Stone", "Jo Flint"]),
}
MISC = ["based on novel", "new york", "sequel", "revenge", "friendship"]
ML_GENRES = ["Action", "Comedy", "Drama", "Thriller", "Romance"]


def metadata_frame(records: list[dict]) -> pd.DataFrame:
    """A TMDB metadata table (the loaders' columns) from partial records."""
    rows = []
    for record in records:
        row = {c: None for c in COLUMNS}
        row.update({"genres": (), "keywords": (), "cast": (), "directors": (), **record})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype({"tmdb_id": np.int64, "imdb_id": "Int64", "year": "Int64"})
    for name in ("popularity", "vote_average", "vote_count", "budget", "revenue", "runtime"):
        frame[name] = frame[name].astype(np.float64)
    return frame


def tmdb_catalogue(n_items: int, rng: np.random.Generator, first_id: int = 1000):
    """(item_info with MovieLens columns and links, TMDB metadata table, each item's theme).
    Every seventh item has a tmdbId the metadata does not know (no TMDB data)."""
    names = list(THEMES)
    info, records, themes = [], [], []
    for i in range(n_items):
        theme = names[int(rng.integers(len(names)))]
        themes.append(names.index(theme))
        keywords, genres, overview, actors = THEMES[theme]
        year = int(rng.integers(1960, 2015))
        info.append({"item": first_id + i, "title": f"Film {i} ({year})",
                     "genres": "|".join(rng.choice(ML_GENRES, 2, replace=False)),
                     "tags": "cult" if rng.random() < 0.3 else None,
                     "imdb_id": 50_000 + i, "tmdb_id": 70_000 + i})
        if i % 7 == 6:
            continue
        kw = list(rng.choice(keywords, size=int(rng.integers(2, len(keywords) + 1)),
                             replace=False)) + [str(rng.choice(MISC))]
        records.append({"tmdb_id": 70_000 + i, "imdb_id": 50_000 + i, "title": f"Film {i}",
                        "overview": overview if rng.random() < 0.8 else None,
                        "genres": genres, "keywords": tuple(kw), "cast": tuple(actors),
                        "directors": (f"Dir {theme}",), "year": year,
                        "popularity": float(rng.gamma(2.0, 5.0))})
    frame = pd.DataFrame(info).set_index("item")
    frame = frame.astype({"imdb_id": "Int64", "tmdb_id": "Int64"})
    return frame, metadata_frame(records), np.array(themes)


def tmdb_data(seed: int = 0, n_users: int = 40, n_items: int = 35, density: float = 0.35,
              n_cold_items: int = 2, joined: bool = True) -> Dataset:
    """Ratings driven by each user's taste for the items' TMDB themes. Raw ids 100 + u and
    1000 + i; the last ``n_cold_items`` items have no rating (item 34, the last, has TMDB
    data); every other user and item has at least 2. ``joined``: the TMDB columns are in
    item_info (with_tmdb), else only the links are (``data.attrs`` holds the metadata)."""
    rng = np.random.default_rng(seed)
    info, metadata, themes = tmdb_catalogue(n_items, rng)
    taste = rng.normal(size=(n_users, len(THEMES)))
    full = (3.2 + 0.9 * taste[:, themes] + rng.normal(scale=0.5, size=n_items)
            + rng.normal(scale=0.3, size=(n_users, n_items)))
    warm = n_items - n_cold_items
    mask = rng.random((n_users, n_items)) < density
    for u in range(n_users):
        mask[u, rng.choice(warm, 2, replace=False)] = True
    for i in range(warm):
        mask[rng.choice(n_users, 2, replace=False), i] = True
    mask[:, warm:] = False
    users, items = np.nonzero(mask)
    ratings = np.clip(np.round(full[users, items] * 2) / 2, 1.0, 5.0)
    ds = Dataset(users, items, ratings, None, np.arange(n_users) + 100,
                 np.arange(n_items) + 1000, (1.0, 5.0), item_info=info, name="tmdb-synthetic")
    ds.metadata = metadata  # for the tests that join it themselves
    return with_tmdb(ds, metadata) if joined else ds


class TestContentKNNTmdb(ModelConformance):
    varied_params = {"k": 2, "max_neighbors": 3, "centering": "baseline",
                     "scoring": "profile", "features": "both", "overview_weight": 3.0,
                     "keyword_weight": 0.2, "people_weight": 3.0, "tmdb_genre_weight": 3.0,
                     "year_weight": 3.0, "popularity_weight": 3.0, "keyword_idf": True}
    expected_rmse = (0.865, 0.895)  # measured 0.8850 (MovieLens only: 0.8887); TMDB from
    # $RECSYS_DATA/tmdb, joined at fit through the links (real_fold has no tmdb_* columns)

    def make_data(self):
        return tmdb_data()

    def make_model(self, **overrides):
        return ContentKNN(**{"features": "tmdb", "k": 10, **overrides})


class TestContentKNNBothProfile(ModelConformance):
    varied_params = {"centering": "baseline", "genre_weight": 3.0, "tag_weight": 0.0,
                     "keyword_weight": 3.0, "overview_weight": 0.0}
    expected_ndcg = (0.072, 0.102)  # measured 0.0825 (MovieLens only: 0.0535)

    def make_data(self):
        return tmdb_data(seed=1)

    def make_model(self, **overrides):
        return ContentKNN(**{"features": "both", "scoring": "profile", **overrides})


# ---------------------------------------------------------------------- the vectors
def _dense(m) -> np.ndarray:
    return np.asarray(m.toarray(), dtype=np.float64)


TMDB_DEFAULTS = {"overview": 1.0, "keywords": 1.0, "people": 0.5, "genres": 0.5,
                 "year": 0.25, "popularity": 0.25}
ML_DEFAULTS = {"genre_weight": 1.0, "decade_weight": 0.5, "title_weight": 0.5,
               "tag_weight": 1.0}


def test_tmdb_vectors_are_the_normalised_pipeline_rows():
    data = tmdb_data(seed=2)
    model = ContentKNN(features="tmdb").fit(data)
    table = tmdb_table(data)
    expected = tmdb_item_features(table, weights=TMDB_DEFAULTS).matrix
    np.testing.assert_allclose(_dense(model.features_), _dense(unit_rows(expected)), atol=1e-6)
    # The items without TMDB data (every seventh) have zero vectors and no neighbour.
    empty = np.flatnonzero(~has_tmdb(data))
    assert len(empty) and (np.diff(model.feature_indptr_)[empty] == 0).all()
    assert (np.diff(model.similarity_indptr_)[empty] == 0).all()


def test_both_is_the_two_sources_side_by_side():
    data = tmdb_data(seed=3)
    x, names, _ = content_vectors(data, "both", ML_DEFAULTS, TMDB_DEFAULTS)
    ml, ml_names = movielens_blocks(data, **ML_DEFAULTS)
    tm = tmdb_item_features(tmdb_table(data), weights=TMDB_DEFAULTS)
    expected = unit_rows(sp.hstack([ml, tm.matrix]).tocsr())
    np.testing.assert_allclose(_dense(x), _dense(expected), atol=1e-6)
    assert names == ml_names + list(tm.names)
    # A block's share of the cosine is its weight squared: keywords alone shared here.
    assert any(n.startswith("keywords#") for n in names)


def test_a_zero_weight_leaves_its_block_out():
    data = tmdb_data(seed=3)
    names = ContentKNN(features="tmdb", overview_weight=0.0, people_weight=0.0).fit(
        data).feature_names_
    assert not any(n.startswith(("overview:", "people#")) for n in names)
    assert any(n.startswith("keywords#") for n in names)


def test_item_info_columns_and_a_folder_give_the_same_model(tmp_path):
    from test_tmdb import TMDB5000_HEADER, tmdb5000_row, write_csv

    data = tmdb_data(seed=4, joined=False)
    meta = data.metadata
    rows = [tmdb5000_row(r.tmdb_id, r.title, r.overview or "", r.genres, r.keywords,
                         f"{r.year}-06-01", repr(r.popularity)) for r in meta.itertuples()]
    write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB5000_HEADER, rows)
    from_folder = ContentKNN(features="tmdb", people_weight=0.0,
                             tmdb_dir=str(tmp_path)).fit(data)
    from recsys.data.tmdb import load_tmdb

    joined = with_tmdb(data, load_tmdb(tmp_path))
    assert all(f"tmdb_{c}" in joined.item_info.columns for c in TMDB_COLUMNS)
    from_columns = ContentKNN(features="tmdb", people_weight=0.0).fit(joined)
    assert (from_folder.features_ != from_columns.features_).nnz == 0
    np.testing.assert_array_equal(from_folder.term_names_, from_columns.term_names_)
    # The splits keep item_info, so every fold carries the joined columns.
    from recsys.split import holdout

    assert "tmdb_keywords" in holdout(joined, 0.2)[0].train.item_info.columns


# ---------------------------------------------------------------------- cold items
def test_a_cold_item_gets_neighbours_and_personal_recommendations():
    data = tmdb_data(seed=5, n_users=60, n_items=50, n_cold_items=3)
    cold = data.n_items - 1
    assert data.item_counts[cold] == 0 and has_tmdb(data)[cold]
    model = ContentKNN(features="tmdb", k=10).fit(data)
    neighbours, sims = model.similar_items(cold, k=5)
    themes = tmdb_table(data)["keywords"]
    shared = [set(themes.iloc[cold]) & set(themes.iloc[j]) for j in neighbours]
    assert all(shared) and (sims > 0).all()
    # The users who rated the cold item's neighbours highest score it highest.
    scores = model.predict(np.arange(data.n_users), np.full(data.n_users, cold))
    assert np.ptp(scores) > 0.5
    fans = np.argsort(-scores)[:5]
    ranked, _ = model.recommend(fans, k=data.n_items)
    assert all(cold in row[: data.n_items // 2] for row in ranked)


def test_cold_item_score_follows_the_taste_for_its_keywords():
    data = tmdb_data(seed=6, n_users=80, n_items=60, n_cold_items=4)
    table = tmdb_table(data)
    cold = data.n_items - 1
    model = ContentKNN(features="tmdb", k=20).fit(data)
    mates = [j for j in range(data.n_items - 4) if set(table["keywords"].iloc[j][:1])
             & set(table["keywords"].iloc[cold]) and data.item_counts[j]]
    assert mates
    # A user's mean rating of the cold item's keyword mates, centred, against the estimate.
    dense = data.csr.toarray()
    rated = dense[:, mates] > 0
    ok = rated.sum(axis=1) >= 2
    taste = (np.where(rated, dense[:, mates], 0).sum(axis=1)[ok] / rated.sum(axis=1)[ok]
             - data.user_means[ok])
    estimate = model.predict(np.flatnonzero(ok), np.full(ok.sum(), cold)) - data.user_means[ok]
    assert np.corrcoef(taste, estimate)[0, 1] > 0.5


# ---------------------------------------------------------------------- what items share
def _heist_pair():
    info = pd.DataFrame({"title": ["Heat (1995)", "Thief (1981)", "Alien (1979)"],
                         "genres": ["Action|Crime", "Crime|Drama", "Horror|Sci-Fi"],
                         "tags": ["bank robbery|Pacino", "", "space"],
                         "imdb_id": pd.array([1, 2, 3], dtype="Int64"),
                         "tmdb_id": pd.array([11, 12, 13], dtype="Int64")},
                        index=pd.Index([1, 2, 3], name="item"))
    meta = metadata_frame([
        {"tmdb_id": 11, "imdb_id": 1, "keywords": ("heist", "bank robbery", "los angeles"),
         "genres": ("Crime", "Drama", "Thriller"), "overview": "A thief and a cop."},
        {"tmdb_id": 12, "imdb_id": 2, "keywords": ("safecracker", "bank robbery", "heist"),
         "genres": ("Crime", "Thriller"), "overview": "A thief takes one last job."},
        {"tmdb_id": 13, "imdb_id": 3, "keywords": ("alien", "spaceship"),
         "genres": ("Horror", "Science Fiction"), "overview": "A crew meets an alien."}])
    data = Dataset([0, 0, 1], [0, 2, 1], [5.0, 2.0, 4.0], None, [7, 8], [1, 2, 3], (1.0, 5.0),
                   item_info=info)
    return with_tmdb(data, meta)


def test_shared_features_name_the_common_keywords_and_genres():
    data = _heist_pair()
    model = ContentKNN(features="tmdb").fit(data)
    shared = model.shared_features(0, 1)
    assert shared == {"keywords": ["heist", "bank robbery"], "genres": ["Crime", "Thriller"]}
    assert model.describe_shared(0, 1) == ("shares keywords: heist, bank robbery; genres: "
                                           "Crime, Thriller")
    assert model.describe_shared(1, 3, raw=True) == ""
    assert model.describe_shared(0, 1, limit=1) == ("shares keywords: heist (+1 more); "
                                                    "genres: Crime (+1 more)")
    with pytest.raises(UnknownIdError):
        model.shared_features(99, 1, raw=True)
    # A group whose block has weight 0 does not count, and is not named.
    no_genres = ContentKNN(features="tmdb", tmdb_genre_weight=0.0).fit(data)
    assert no_genres.shared_features(0, 1) == {"keywords": ["heist", "bank robbery"]}


def test_movielens_and_both_share_tags_and_genres():
    data = _heist_pair()
    ml = ContentKNN().fit(data)
    assert ml.shared_features(0, 1) == {"tags": [], "genres": ["Crime"]}
    both = ContentKNN(features="both").fit(data)
    # Genres from both sources: item 1's MovieLens "Drama" meets item 0's TMDB one.
    assert both.shared_features(0, 1) == {"keywords": ["heist", "bank robbery"], "tags": [],
                                          "genres": ["Crime", "Drama", "Thriller"]}
    assert describe_shared({"keywords": [], "genres": []}) == ""


def test_explanations_survive_save_and_load(tmp_path):
    data = _heist_pair()
    model = ContentKNN(features="both").fit(data)
    loaded = Recommender.load(model.save(tmp_path / "m.npz"))
    assert loaded.shared_features(0, 1) == model.shared_features(0, 1)
    assert (loaded.features_ != model.features_).nnz == 0
    assert loaded.get_params()["features"] == "both"


# ---------------------------------------------------------------------- errors
def test_a_dataset_without_links_or_columns_is_a_clear_error(tmp_path):
    data = tmdb_data(seed=7, joined=False)
    bare = Dataset(data.users, data.items, data.ratings, None, data.user_ids, data.item_ids,
                   data.rating_scale, item_info=data.item_info.drop(
                       columns=["tmdb_id", "imdb_id"]), name="nolinks")
    from test_tmdb import TMDB5000_HEADER, tmdb5000_row, write_csv

    write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB5000_HEADER, [tmdb5000_row(1, "One")])
    with pytest.raises(ValueError, match="nolinks has no links"):
        ContentKNN(features="tmdb", tmdb_dir=str(tmp_path)).fit(bare)
    with pytest.raises(DataNotFoundError, match="TMDB metadata not found"):
        ContentKNN(features="tmdb", tmdb_dir=str(tmp_path / "absent")).fit(data)
    partial = tmdb_data(seed=7)
    partial.item_info = partial.item_info.drop(columns=["tmdb_year"])
    with pytest.raises(ValueError, match="not 'tmdb_year'"):
        ContentKNN(features="tmdb").fit(partial)


@pytest.mark.parametrize("params, message", [
    ({"features": "imdb"}, "features must be one of"),
    ({"features": "tmdb", "overview_weight": 0, "keyword_weight": 0, "people_weight": 0,
      "tmdb_genre_weight": 0, "year_weight": 0, "popularity_weight": 0},
     "features='tmdb': at least one of overview_weight"),
    ({"keyword_weight": -1.0}, "keyword_weight"),
    ({"features": "tmdb", "tmdb_dir": 3}, "tmdb_dir must be a folder name"),
])
def test_bad_tmdb_hyperparameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        ContentKNN(**params).fit(tmdb_data())


def test_movielens_weights_alone_do_not_make_tmdb_features():
    # features="tmdb" ignores the MovieLens weights: they cannot rescue all-zero TMDB ones.
    zero = {n: 0.0 for n in ("overview_weight", "keyword_weight", "people_weight",
                             "tmdb_genre_weight", "year_weight", "popularity_weight")}
    with pytest.raises(ValueError, match="at least one of"):
        ContentKNN(features="tmdb", genre_weight=5.0, **zero).fit(tmdb_data())
    assert ContentKNN(features="both", **zero).fit(tmdb_data()).features_.nnz > 0


def test_item_info_listing_an_id_twice_is_named():
    data = tmdb_data(seed=8)
    info = data.item_info
    data.item_info = pd.concat([info, info.iloc[[3]]])
    with pytest.raises(ValueError, match="item_info lists item id 1003 twice"):
        ContentKNN(features="tmdb").fit(data)


def test_shared_features_is_a_declared_capability():
    from recsys.errors import UnsupportedError
    from recsys.models import ItemKNN
    from recsys.models.base import CAPABILITIES

    assert "shared_features" in CAPABILITIES
    data = _heist_pair()
    content = ContentKNN(features="tmdb").fit(data)
    assert "shared_features" in content.capabilities and content.supports_shared_features
    knn = ItemKNN(k=2).fit(data)
    assert not knn.supports_shared_features
    with pytest.raises(UnsupportedError, match="ItemKNN cannot say what two items share"):
        knn.shared_features(0, 1)
