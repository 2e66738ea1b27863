"""The harness with TMDB metadata: ``[[datasets]] metadata = "tmdb"``, the item cold-start
split among the items that have it (``among``), and top-N lists ranked among the test items
only (``candidates = "test_items"``), on the small release and TMDB folder of tmdb_fixture."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from recsys.bench.config import ConfigError, parse_config
from recsys.bench.data import candidates
from recsys.bench.report import render_markdown
from recsys.bench.runner import run_benchmark
from recsys.data import ReleaseMismatchWarning
from recsys.errors import DataNotFoundError
from tmdb_fixture import write_both, write_release

CONFIG = """
[bench]
name = "cold"
metrics = ["rmse", "ndcg@3"]
reference = "Baseline"
warmup = false

[[datasets]]
name = "ml-latest-small"
metadata = "tmdb"

[split]
method = "item_cold_start"
test_fraction = 0.5
seed = 0
among = "tmdb"
candidates = "test_items"

[[models]]
name = "Baseline"

[[models]]
name = "ContentKNN"
label = "ContentKNN tmdb"
params = { features = "tmdb", k = 5 }

[[models]]
name = "ContentKNN"
label = "ContentKNN movielens"
params = { features = "movielens", k = 5 }
"""


@pytest.fixture(autouse=True)
def _quiet_release_mismatch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReleaseMismatchWarning)
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = write_both(tmp_path_factory.mktemp("cold") / "data")
    config = parse_config(CONFIG, source="cold.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReleaseMismatchWarning)
        result = run_benchmark(config, data_dir=root, progress=False, log=lambda _: None)
    return config, result


def test_config_reads_the_metadata_keys():
    config = parse_config(CONFIG, source="cold.toml")
    assert config.datasets[0].metadata == "tmdb"
    split = config.splits[0]
    assert (split.candidates, split.among) == ("test_items", "tmdb")
    assert split.spec == {"method": "item_cold_start", "test_fraction": 0.5, "seed": 0}
    plain = parse_config(CONFIG.replace('metadata = "tmdb"\n', "").replace(
        'among = "tmdb"\n', "").replace('candidates = "test_items"\n', ""))
    assert plain.datasets[0].metadata is None
    assert (plain.splits[0].candidates, plain.splits[0].among) == ("unrated", None)


@pytest.mark.parametrize("old, new, key, words", [
    ('metadata = "tmdb"', 'metadata = "imdb"', "datasets[0].metadata", "unknown metadata"),
    ('name = "ml-latest-small"\nmetadata', 'name = "ml-100k"\nmetadata',
     "datasets[0].metadata", "ml-100k has no links.csv"),
    ('name = "ml-latest-small"\nmetadata',
     'name = "s"\nsynthetic = { n_users = 5, n_items = 5, n_ratings = 9 }\nmetadata',
     "datasets[0].metadata", "synthetic data set has no links"),
    ('candidates = "test_items"', 'candidates = "all"', "split.candidates",
     "unknown candidates 'all'"),
    ('method = "item_cold_start"\ntest_fraction = 0.5',
     'method = "holdout"\ntest_fraction = 0.5', "split.among", "only the item_cold_start"),
    ('metadata = "tmdb"\n', '', "split.among",
     "data set 'ml-latest-small' has no metadata = 'tmdb'"),
    ('among = "tmdb"', 'among = "tmdb"\nitems = 3', "split.items",
     "valid: ['seed', 'test_fraction', 'name', 'datasets', 'candidates'] and among"),
    ('metadata = "tmdb"', 'metadata = "tmdb"\nshuffle_items = -1',
     "datasets[0].shuffle_items", "expected a seed (an integer >= 0), got int -1"),
    ('metadata = "tmdb"', 'metadata = "tmdb"\nshuffle_items = true',
     "datasets[0].shuffle_items", "got bool True"),
])
def test_metadata_config_errors_name_file_and_key(old, new, key, words):
    assert old in CONFIG
    with pytest.raises(ConfigError) as err:
        parse_config(CONFIG.replace(old, new), source="my.toml")
    assert str(err.value).startswith(f"my.toml: {key}: "), str(err.value)
    assert words in str(err.value)


def test_the_run_joins_tmdb_and_holds_out_items_that_have_it(run):
    config, result = run
    assert result.problems() == []
    (meta,) = result.header["metadata"]
    assert meta["dataset"] == "ml-latest-small" and meta["metadata"] == "tmdb"
    assert (meta["n_movies"], meta["n_matched"]) == (8, 5)
    assert meta["with_field"]["overview"] == 4 and meta["with_field"]["keywords"] == 5
    (split,) = result.header["folds"]
    assert split["candidates"] == "test_items" and split["among"] == "tmdb"
    rows = {r["model"]: r for r in result.rows}
    assert set(rows) == {"Baseline", "ContentKNN tmdb", "ContentKNN movielens"}
    assert all(r["status"] == "ok" for r in rows.values())
    assert all(np.isfinite(r["rmse"]) for r in rows.values())
    # the test items: 2 of the 4 rated movies with TMDB data (1, 2, 3, 4), every rating
    assert split["folds"][0]["n_test"] + split["folds"][0]["n_train"] == 120


def test_item_cold_start_folds_and_candidates(tmp_path):
    from recsys.bench.data import load_with_metadata, make_folds

    root = write_both(tmp_path / "data")
    config = parse_config(CONFIG, source="cold.toml")
    ds, _ = load_with_metadata(config.datasets[0], root)
    (fold,) = make_folds(ds, config.splits[0], root)
    held = {int(ds.item_ids[i]) for i in np.unique(fold.test.items)}
    assert len(held) == 2 and held <= {1, 2, 3, 4}
    assert not set(np.unique(fold.train.items)) & set(np.unique(fold.test.items))
    mask = candidates(config.splits[0], fold)
    assert mask.dtype == bool and {int(ds.item_ids[i]) for i in np.flatnonzero(mask)} == held
    assert candidates(parse_config(CONFIG.replace('candidates = "test_items"\n', "")
                                   ).splits[0], fold) == "unrated"


def test_the_report_says_where_the_metadata_came_from(run):
    config, result = run
    text = render_markdown(result, config)
    assert "- ml-latest-small: tmdb metadata (tmdb5000, movies-dataset) from `" in text
    assert "5 of 8 movies matched; with overview 4, keywords 5, genres 4" in text
    assert ("- ml-latest-small · item_cold_start: test items drawn among those with tmdb "
            "metadata; top-N lists rank only the fold's test items") in text


def test_missing_tmdb_files_stop_the_run_before_any_fit(tmp_path):
    root = write_release(tmp_path / "data")  # no tmdb/ folder
    config = parse_config(CONFIG, source="cold.toml")
    with pytest.raises(DataNotFoundError, match="TMDB metadata not found"):
        run_benchmark(config, data_dir=root, progress=False, log=lambda _: None)


def test_shuffle_items_permutes_the_indices_not_the_data(tmp_path):
    from recsys.bench.data import load_with_metadata

    root = write_both(tmp_path / "data")
    plain = parse_config(CONFIG, source="cold.toml").datasets[0]
    shuffled = parse_config(CONFIG.replace('metadata = "tmdb"',
                                           'metadata = "tmdb"\nshuffle_items = 3')).datasets[0]
    assert shuffled.shuffle_items == 3 and plain.shuffle_items is None
    a, _ = load_with_metadata(plain, root)
    b, _ = load_with_metadata(shuffled, root)
    again, _ = load_with_metadata(shuffled, root)
    assert list(b.item_ids) != list(a.item_ids) and sorted(b.item_ids) == sorted(a.item_ids)
    assert list(again.item_ids) == list(b.item_ids)  # seeded
    frame = lambda ds: ds.to_frame().sort_values(["user", "item"]).reset_index(drop=True)
    assert frame(a).equals(frame(b))  # the same ratings by raw id
    assert b.item_info is a.item_info or b.item_info.equals(a.item_info)


def test_the_report_names_the_shuffle(tmp_path):
    root = write_both(tmp_path / "data")
    config = parse_config(CONFIG.replace('metadata = "tmdb"', 'metadata = "tmdb"\n'
                                         'shuffle_items = 3'), source="cold.toml")
    result = run_benchmark(config, data_dir=root, progress=False, log=lambda _: None)
    assert result.header["folds"][0]["shuffle_items"] == 3
    assert "item indices permuted (seed 3), so equal scores rank in a random order" in (
        render_markdown(result, config))
