"""The shipped ``tmdb-cold-start`` config (issue 12): it parses, names the rows, split and
paired tests the issue asks for, carries the tuned settings of
benchmarks/tmdb_cold_start.toml, and its split draws as the script does
(``seed = "shuffle_items"``)."""

from __future__ import annotations

import importlib.util
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

from recsys.bench.config import ConfigError, load_config, parse_config
from recsys.bench.configs import shipped_config
from recsys.bench.data import (SHUFFLE_SEED, check_split_seeds, load_with_metadata, make_folds,
                               shuffle_generator)
from recsys.data import ReleaseMismatchWarning
from tmdb_fixture import write_both

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "tmdb_cold_start", ROOT / "benchmarks" / "tmdb_cold_start.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def config():
    return load_config(shipped_config("tmdb-cold-start"))


def test_the_config_names_the_data_split_and_rows(config):
    assert config.name == "tmdb-cold-start"
    (ds,) = config.datasets
    assert (ds.name, ds.metadata, ds.shuffle_items) == ("ml-latest-small", "tmdb", 0)
    (split,) = config.splits
    assert split.spec == {"method": "item_cold_start", "test_fraction": 0.1,
                          "seed": SHUFFLE_SEED}
    assert (split.among, split.candidates) == ("tmdb", "test_items")
    assert set(config.metrics) == {"rmse", "ndcg@10"}
    models = {m.label: m for m in config.models}
    assert [m.name for m in config.models].count("ContentKNN") == 8
    assert models["Popularity (floor)"].metrics == ("ndcg@10",)
    assert models["Baseline (floor)"].name == "Baseline"
    for label in ("ContentKNN genres+tags", "ContentKNN TMDB", "ContentKNN MovieLens+TMDB",
                  "Hybrid ItemKNN + ContentKNN MovieLens+TMDB"):
        assert models[f"{label} (RMSE)"].metrics == ("rmse",)
        assert models[f"{label} (NDCG)"].metrics == ("ndcg@10",)
    hybrid = models["Hybrid ItemKNN + ContentKNN MovieLens+TMDB (RMSE)"].params
    assert [m["class"] for m in hybrid["models"]] == ["ItemKNN", "ContentKNN"]
    assert hybrid["models"][1]["params"]["features"] == "both"


def test_every_tmdb_row_is_compared_with_the_movielens_only_row(config):
    pairs = {(c.a, c.b, c.metric) for c in config.compare}
    for a in ("ContentKNN TMDB", "ContentKNN MovieLens+TMDB",
              "Hybrid ItemKNN + ContentKNN MovieLens+TMDB"):
        assert (f"{a} (RMSE)", "ContentKNN genres+tags (RMSE)", "rmse") in pairs
        assert (f"{a} (NDCG)", "ContentKNN genres+tags (NDCG)", "ndcg@10") in pairs


def test_the_settings_are_the_scripts_committed_tuned_ones(config):
    script = _script()
    tuned = tomllib.loads(script.SETTINGS_FILE.read_text())
    models = {m.label: m for m in config.models}
    names = {"ml": "ContentKNN genres+tags", "ml_all": "ContentKNN all MovieLens blocks",
             "tmdb": "ContentKNN TMDB", "both": "ContentKNN MovieLens+TMDB"}
    for row, (_, base) in script.ROWS.items():
        for objective, suffix in (("rating", "RMSE"), ("ranking", "NDCG")):
            expected = {**base, **tuned[row][objective]}
            assert models[f"{names[row]} ({suffix})"].params == expected, (row, objective)
            if row == "both":
                hybrid = models[f"Hybrid ItemKNN + ContentKNN MovieLens+TMDB ({suffix})"]
                assert hybrid.params["models"][1]["params"] == expected


def test_the_models_resolve(config):
    from recsys.bench.models import resolve_models

    runnable, skipped = resolve_models(config)
    assert len(runnable) == len(config.models) and not skipped


# ---------------------------------------------------------------------- seed = "shuffle_items"
CONFIG = """
[[datasets]]
name = "ml-latest-small"
metadata = "tmdb"
shuffle_items = 3

[[splits]]
method = "item_cold_start"
test_fraction = 0.4
seed = "shuffle_items"
among = "tmdb"

[[models]]
name = "Baseline"
"""


def test_a_shuffle_seeded_split_draws_after_the_permutation(tmp_path):
    from recsys.models.content_features import has_tmdb
    from recsys.split import item_cold_start

    root = write_both(tmp_path / "data")
    config = parse_config(CONFIG, source="c.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReleaseMismatchWarning)
        ds, _ = load_with_metadata(config.datasets[0], root)
    (fold,) = make_folds(ds, config.splits[0], root, config.datasets[0])
    # The script's protocol: one generator, the permutation first, then the draw.
    rng = np.random.default_rng(3)
    order = rng.permutation(ds.n_items)
    np.testing.assert_array_equal(ds.item_ids, load_with_metadata(
        parse_config(CONFIG.replace("shuffle_items = 3", ""), source="p.toml").datasets[0],
        root)[0].item_ids[order])
    (expected,) = item_cold_start(ds, 0.4, among=has_tmdb(ds), seed=rng)
    np.testing.assert_array_equal(np.unique(fold.test.items), np.unique(expected.test.items))
    assert fold.test.n_ratings == expected.test.n_ratings
    assert shuffle_generator(3, ds.n_items).integers(1 << 30) == _after_permutation(
        3, ds.n_items)


def _after_permutation(seed, n):
    rng = np.random.default_rng(seed)
    rng.permutation(n)
    return rng.integers(1 << 30)


def test_a_shuffle_seed_without_shuffle_items_is_a_config_error(tmp_path):
    config = parse_config(CONFIG.replace("shuffle_items = 3\n", ""), source="c.toml")
    with pytest.raises(ConfigError, match=r"c\.toml: splits\[0\]\.seed: .*shuffle_items"):
        check_split_seeds(config)
    with pytest.raises(ValueError, match="needs the data set's shuffle_items"):
        make_folds(None, config.splits[0], None, config.datasets[0])


@pytest.mark.realdata
def test_the_harness_holds_out_the_scripts_items_on_the_real_files(config, real_data_dir):
    """On ml-latest-small and $RECSYS_DATA/tmdb the shipped config's fold is the script's:
    the same items, in the same order, and the same test ratings."""
    from recsys.bench.data import fold_digest

    if not (real_data_dir / "tmdb").is_dir():
        pytest.fail(f"{real_data_dir / 'tmdb'} is missing: the TMDB files go there",
                    pytrace=False)
    script = _script()
    train, test, held, has, _, _ = script.prepare(str(real_data_dir),
                                                  str(real_data_dir / "tmdb"), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReleaseMismatchWarning)
        ds, _ = load_with_metadata(config.datasets[0], real_data_dir)
    (fold,) = make_folds(ds, config.splits[0], real_data_dir, config.datasets[0])
    assert int(held.sum()) == 878 and test.n_ratings == 11_185
    np.testing.assert_array_equal(fold.train.item_ids, train.item_ids)
    assert fold_digest(fold) == fold_digest(type(fold)("x", train, test))
