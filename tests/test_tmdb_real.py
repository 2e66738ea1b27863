"""The real TMDB files ($RECSYS_DATA/tmdb) joined to ml-latest-small: the figures of the
data manifest's "tmdb" section. Fails, never skips, when the files are missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys.data import load_dataset
from recsys.data.tmdb import load_movies_dataset, load_tmdb, load_tmdb5000
from recsys.data.tmdb_join import join_dataset, join_movielens, read_links
from recsys.tmdb_features import tmdb_item_features

pytestmark = pytest.mark.realdata

TMDB_FILES = ("tmdb_5000_movies.csv", "keywords.csv", "links.csv")


@pytest.fixture(scope="module")
def tmdb_dir(real_data_dir) -> Path:
    folder = real_data_dir / "tmdb"
    missing = [name for name in TMDB_FILES if not (folder / name).is_file()]
    if missing:
        pytest.fail(f"{folder} lacks {', '.join(missing)}: put TMDB 5000's "
                    "tmdb_5000_movies.csv and The Movies Dataset's keywords.csv and links.csv "
                    "there (Kaggle: tmdb/tmdb-movie-metadata, rounakbanik/the-movies-dataset)",
                    pytrace=False)
    return folder


@pytest.fixture(scope="module")
def small_dir(real_data_dir) -> Path:
    folder = real_data_dir / "ml-latest-small"
    if not (folder / "links.csv").is_file():
        pytest.fail(f"{folder} has no links.csv: put ml-latest-small there "
                    "(`recsys data download ml-latest-small`)", pytrace=False)
    return folder


@pytest.fixture(scope="module")
def ml_links(small_dir):
    return read_links(small_dir / "links.csv")


@pytest.fixture(scope="module")
def tmdb5000(tmdb_dir):
    return load_tmdb5000(tmdb_dir)


@pytest.fixture(scope="module")
def movies_dataset(tmdb_dir):
    return load_movies_dataset(tmdb_dir)


def test_tmdb5000_file(tmdb5000):
    table, report = tmdb5000.table, tmdb5000.report
    assert len(table) == 4803 and table["tmdb_id"].is_unique
    assert report.duplicate_rows["tmdb_5000_movies.csv"] == 0
    assert report.zeros_unknown["tmdb_5000_movies.csv"] == {"budget": 1037, "revenue": 1427,
                                                             "runtime": 35}
    by_id = table.set_index("tmdb_id")
    # the three the manifest lists as missing, and 43630 ("The Helix... Loaded"), whose
    # overview is a single space
    assert sorted(by_id.index[by_id["overview"].isna()]) == [43630, 292539, 370980, 459488]
    assert by_id.index[by_id["year"].isna()].tolist() == [380097]
    assert (table["keywords"].map(len) == 0).sum() == 412
    assert (table["genres"].map(len) == 0).sum() == 28
    assert table["year"].min() == 1916 and table["year"].max() == 2017


def test_movies_dataset_files(movies_dataset):
    report = movies_dataset.report
    assert report.rows["keywords.csv"] == 46419
    assert report.duplicate_rows["keywords.csv"] == 987
    assert report.conflicting_ids["keywords.csv"] == ()
    assert report.n_movies == len(movies_dataset.table) == 45432
    links = report.links
    assert (links.n_rows, links.n_without_tmdb, links.n_repeated_tmdb_rows) == (45843, 219, 30)
    assert len(links.repeated_tmdb_ids) == 29
    assert "987 exact duplicate rows dropped" in report.describe()


def test_ml_latest_small_links(ml_links):
    links, report = ml_links
    assert (report.n_rows, report.n_without_tmdb) == (9742, 8)
    assert report.repeated_tmdb_ids == (4912,)                # movieIds 6003 and 144606
    assert links.index[links["tmdb_id"] == 4912].tolist() == [6003, 144606]


def test_tmdb5000_coverage_of_ml_latest_small(tmdb5000, ml_links):
    coverage = join_movielens(tmdb5000, ml_links[0]).coverage
    assert (coverage.n_movies, coverage.n_with_tmdb_id) == (9742, 9734)
    assert coverage.n_matched == coverage.n_by_tmdb == 3537
    assert coverage.with_field["overview"] == 3537
    assert coverage.with_field["genres"] == coverage.with_field["year"] == 3537
    assert coverage.with_field["popularity"] == 3537
    assert coverage.with_field["keywords"] == 3421
    assert "3,537 (36.3%)" in coverage.describe()


def test_keywords_coverage_of_ml_latest_small(movies_dataset, ml_links):
    coverage = join_movielens(movies_dataset, ml_links[0]).coverage
    assert coverage.n_matched == 9544
    assert coverage.with_field["keywords"] == 8682


def test_release_years_agree_with_movielens_titles(tmdb5000, small_dir):
    ds = load_dataset("ml-latest-small", data_dir=small_dir)
    items = join_dataset(tmdb5000, ds).items
    matched = items[items["matched_by"] == "tmdb"]
    ml_year = ds.item_info["year"].reindex(matched.index)
    gap = (matched["year"] - ml_year).abs().dropna()
    assert len(matched) == 3537
    assert (gap == 0).sum() == 3471 and (gap <= 1).sum() == 3535


def test_merged_sources_and_features_on_ml_latest_small(tmdb_dir, small_dir):
    data = load_tmdb(tmdb_dir)
    assert data.report.sources == ("tmdb5000", "movies-dataset")
    ds = load_dataset("ml-latest-small", data_dir=small_dir)
    joined = join_dataset(data, ds)
    assert joined.coverage.with_field["overview"] == 3537
    assert joined.coverage.with_field["keywords"] == 8682
    assert joined.coverage.with_field["overview+keywords"] == 3424
    features = tmdb_item_features(joined.aligned(ds.item_ids))
    m = features.matrix
    assert m.shape[0] == ds.n_items and m.dtype == np.float32
    assert np.all(np.isfinite(m.data))
    has_data = features.has_metadata
    assert 8000 < has_data.sum() < ds.n_items
    seven_samurai = int(np.flatnonzero(ds.item_ids == 2019)[0])
    assert "samurai" in features.keywords[seven_samurai]
    scores = (m @ m[seven_samurai].T).toarray().ravel()
    scores[seven_samurai] = -np.inf
    best = int(scores.argmax())
    assert "samurai" in features.shared(seven_samurai, best)["keywords"]
