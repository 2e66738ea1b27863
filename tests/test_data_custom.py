"""Data sets by path and format (issue 14, "any data set from a config"):
recsys.data.custom.load_path and the bench config's [[datasets]] path/format entries, on
small files the tests write."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.bench.config import ConfigError, parse_config
from recsys.data import ReleaseMismatchWarning
from recsys.data.custom import TableFormat, load_path, matching_release
from recsys.errors import DataFormatError
from test_movielens import RATINGS, make_dat, make_ml100k


def write_rows(path: Path, header, rows, sep=",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=sep, lineterminator="\n")
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


# ---------------------------------------------------------------------- csv
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(2, 10),
                          st.integers(0, 2**40)), min_size=1, max_size=40,
                unique_by=lambda r: (r[0], r[1])),
       st.sampled_from([",", ";", "\t", "|"]), st.booleans(), st.permutations(range(5)))
def test_a_csv_file_in_any_layout_gives_its_ratings(tmp_path_factory, rows, sep, header,
                                                    order):
    """Columns in any order, with an extra one, any separator, with or without a header:
    the Dataset holds the file's (user, item, rating, timestamp), rating = stars / 2."""
    fields = ["u", "i", "r", "t", "note"]
    table = [[str(u), str(i), f"{s / 2:g}", str(t), "x, y"] for u, i, s, t in rows]
    perm = list(order)
    path = write_rows(tmp_path_factory.mktemp("csv") / "r.txt",
                      [fields[k] for k in perm] if header else None,
                      [[row[k] for k in perm] for row in table], sep)
    where = {f: (fields[k] if header else perm.index(k))
             for f, k in (("user", 0), ("item", 1), ("rating", 2), ("timestamp", 3))}
    ds = load_path(path, "csv", label="mine", table=TableFormat(
        columns=where, sep=sep, header=header, rating_scale=(1, 5), rating_step=0.5))
    got = sorted(zip(ds.user_ids[ds.users].tolist(), ds.item_ids[ds.items].tolist(),
                     ds.ratings.tolist(), ds.timestamps.tolist()))
    assert got == sorted((u, i, s / 2, t) for u, i, s, t in rows)
    assert ds.name == "mine" and ds.rating_scale == (1.0, 5.0)


def test_csv_errors_name_the_file_line_and_field(tmp_path):
    good = [["1", "10", "4"], ["2", "10", "5"]]
    path = write_rows(tmp_path / "r.csv", ["uid", "mid", "stars"], good + [["3", "11", "9"]])
    layout = TableFormat(columns={"user": "uid", "item": "mid", "rating": "stars"},
                         rating_scale=(1, 5))
    with pytest.raises(DataFormatError, match=r"r\.csv, line 4, field 'stars': rating 9 "
                                              r"outside the scale"):
        load_path(path, "csv", table=layout)
    bad_id = write_rows(tmp_path / "id.csv", ["uid", "mid", "stars"], good + [["x", "1", "3"]])
    with pytest.raises(DataFormatError, match=r"id\.csv, line 4, field 'uid'"):
        load_path(bad_id, "csv", table=layout)
    ok = write_rows(tmp_path / "ok.csv", ["uid", "mid", "stars"], good)
    with pytest.raises(DataFormatError, match=r"ok\.csv, line 1: no column 'movie' for the "
                                              r"item \(columns\.item\)"):
        load_path(ok, "csv", table=TableFormat(columns={"user": "uid", "item": "movie",
                                                        "rating": "stars"},
                                               rating_scale=(1, 5)))
    with pytest.raises(ValueError, match="needs rating_scale"):
        load_path(ok, "csv", table=TableFormat(columns=layout.columns))
    with pytest.raises(DataFormatError, match="no rating column"):
        load_path(ok, "csv", table=TableFormat(columns={"user": "uid", "item": "mid"},
                                               rating_scale=(1, 5)))
    with pytest.raises(ValueError, match="unknown data format 'tsv'"):
        load_path(ok, "tsv")
    with pytest.raises(DataFormatError, match="is a folder"):
        load_path(tmp_path, "csv", table=layout)
    with pytest.raises(ValueError, match="header = false"):
        load_path(ok, "csv", table=TableFormat(columns=layout.columns, header=False,
                                               rating_scale=(1, 5)))


def test_string_ids_and_a_repeated_pair(tmp_path):
    path = write_rows(tmp_path / "r.csv", ["user", "item", "rating"],
                      [["ann", "m1", "4"], ["bob", "m1", "2"], ["ann", "m1", "5"]])
    layout = TableFormat(rating_scale=(1, 5), id_type="str")
    with pytest.raises(DataFormatError, match="r.csv"):
        load_path(path, "csv", table=layout)
    ds = load_path(path, "csv", table=layout, duplicates="last")
    assert sorted(ds.user_ids.tolist()) == ["ann", "bob"] and ds.n_ratings == 2
    assert ds.ratings[ds.users == list(ds.user_ids).index("ann")].tolist() == [5.0]


# ---------------------------------------------------------------------- implicit
def test_implicit_counts_and_merged_repeats(tmp_path):
    counts = write_rows(tmp_path / "plays.csv", ["user", "artist", "plays"],
                        [["1", "7", "12"], ["1", "8", "1"], ["2", "7", "3"]])
    ds = load_path(counts, "implicit", table=TableFormat(columns={
        "user": "user", "item": "artist", "count": "plays"}))
    assert sorted(ds.ratings.tolist()) == [1.0, 3.0, 12.0] and ds.rating_scale == (1.0, 12.0)
    events = write_rows(tmp_path / "clicks.tsv", None,
                        [["a", "x", "5"], ["a", "x", "9"], ["b", "y", "2"]], sep="\t")
    ds = load_path(events, "implicit", table=TableFormat(
        columns={"user": 0, "item": 1, "timestamp": 2}, sep="\t", header=False,
        id_type="str"))
    pairs = {(ds.user_ids[u], ds.item_ids[i]): (r, t) for u, i, r, t in
             zip(ds.users, ds.items, ds.ratings, ds.timestamps)}
    assert pairs == {("a", "x"): (2.0, 9), ("b", "y"): (1.0, 2)}
    zero = write_rows(tmp_path / "z.csv", ["user", "item", "count"],
                      [["1", "2", "3"], ["1", "3", "0"]])
    with pytest.raises(DataFormatError, match=r"z\.csv, line 3, field 'count': a count must "
                                              r"be > 0"):
        load_path(zero, "implicit")


def test_an_implicit_data_set_trains_a_top_n_model(tmp_path):
    from recsys.models import ImplicitALS, ItemKNN

    rng = np.random.default_rng(0)
    rows = {(int(u), int(i)): int(c) for u, i, c in zip(rng.integers(0, 25, 300),
                                                        rng.integers(0, 30, 300),
                                                        rng.integers(1, 20, 300))}
    path = write_rows(tmp_path / "p.csv", ["user", "item", "count"],
                      [[str(u), str(i), str(c)] for (u, i), c in rows.items()])
    ds = load_path(path, "implicit")
    for model in (ImplicitALS(n_factors=4, n_iterations=3, seed=0),
                  ItemKNN(k=10, similarity="cosine", aggregate="sum")):
        items, scores = model.fit(ds).recommend(np.arange(ds.n_users), k=5)
        assert items.shape == (ds.n_users, 5) and np.isfinite(scores[items >= 0]).all()


# ---------------------------------------------------------------------- release folders
def test_a_copy_of_a_registered_release_is_checked_against_its_counts(tmp_path):
    folder = make_ml100k(tmp_path / "ml-100k", RATINGS)
    assert matching_release(folder, "ml-100k").name == "ml-100k"
    with pytest.warns(ReleaseMismatchWarning, match="published ml-100k has 100,000 ratings"):
        ds = load_path(folder, "ml-100k", label="a small 100k")
    assert ds.name == "a small 100k" and ds.n_ratings == len(RATINGS)
    other = make_ml100k(tmp_path / "my-copy", RATINGS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReleaseMismatchWarning)
        assert load_path(other, "ml-100k").name == "my-copy"  # no release to check against
    with pytest.warns(ReleaseMismatchWarning):
        load_path(other, "ml-100k", release="ml-100k")
    dat = make_dat(tmp_path / "ml-1m", RATINGS)
    with pytest.warns(ReleaseMismatchWarning, match="ml-1m"):
        assert load_path(dat, "ml-1m").n_ratings == len(RATINGS)
    with pytest.raises(ValueError, match="laid out as"):
        matching_release(dat, "ml-1m", release="ml-25m")
    with pytest.raises(DataFormatError, match="no such folder"):
        load_path(tmp_path / "nope", "ml-latest")


# ---------------------------------------------------------------------- bench configs
BENCH = """
[bench]
metrics = ["rmse", "ndcg@3"]
warmup = false
learning_curves = false
{bench}

[[datasets]]
{dataset}

[split]
method = "holdout"
test_fraction = 0.25
seed = 0

[[models]]
name = "Baseline"
"""


def config(dataset: str, bench: str = "", source="c.toml"):
    return parse_config(BENCH.format(dataset=dataset, bench=bench), source=source)


def test_a_config_names_a_file_by_path_format_and_label(tmp_path):
    rows = [[str(u), str(i), str(1 + (u * i) % 5)] for u in range(12) for i in range(8)
            if (u + i) % 3]
    write_rows(tmp_path / "stars.csv", ["who", "what", "stars"], rows, sep=";")
    toml = tmp_path / "mine.toml"
    toml.write_text(BENCH.format(bench="", dataset='''path = "stars.csv"
format = "csv"
label = "my stars"
columns = { user = "who", item = "what", rating = "stars" }
sep = ";"
rating_scale = [1, 5]'''))
    from recsys.bench import load_config
    from recsys.bench.report import render_markdown
    from recsys.bench.runner import run_benchmark

    cfg = load_config(toml)
    (spec,) = cfg.datasets
    assert spec.name == "my stars" and spec.format == "csv"
    assert spec.path == str(tmp_path / "stars.csv")  # relative to the config file
    assert spec.table["rating_scale"] == (1.0, 5.0) and spec.table["sep"] == ";"
    result = run_benchmark(cfg, progress=False, log=lambda _: None)
    assert not result.problems()
    assert {r["dataset"] for r in result.rows} == {"my stars"}
    assert 0 < result.rows[0]["rmse"] < 4
    assert "### my stars · holdout" in render_markdown(result, cfg)


@pytest.mark.parametrize("dataset, key, message", [
    ('path = "x.csv"', "datasets[0].format", "missing"),
    ('format = "csv"\nrating_scale = [1, 5]', "datasets[0].path", "missing"),
    ('path = "x.csv"\nformat = "parquet"', "datasets[0].format", "unknown format"),
    ('path = "x.csv"\nformat = "csv"', "datasets[0].rating_scale", "required"),
    ('path = "x.csv"\nformat = "csv"\nrating_scale = [5, 1]', "datasets[0].rating_scale",
     "lowest < highest"),
    ('path = "x.csv"\nformat = "csv"\nrating_scale = [1, 5]\ncolumns = { usr = "u" }',
     "datasets[0].columns.usr", "unknown key"),
    ('path = "x.csv"\nformat = "csv"\nrating_scale = [1, 5]\nheader = false\n'
     'columns = { user = "u" }', "datasets[0].columns.user", "position"),
    ('path = "x.csv"\nformat = "csv"\nrating_scale = [1, 5]\nsep = ";;"', "datasets[0].sep",
     "one character"),
    ('path = "d"\nformat = "ml-1m"\nsep = ";"', "datasets[0].sep", "is a release folder"),
    ('path = "d"\nformat = "ml-1m"\nrelease = "ml-25m"', "datasets[0].release",
     "not a registered release of format 'ml-1m'"),
    ('path = "d"\nformat = "ml-1m"\nmetadata = "tmdb"', "datasets[0].metadata",
     "no links.csv"),
    ('path = "x.csv"\nformat = "csv"\nname = "x"\nrating_scale = [1, 5]', "datasets[0].name",
     "named by label"),
    ('path = "x.csv"\nformat = "implicit"\nrating_scale = [1, 5]',
     "datasets[0].rating_scale", "no rating scale"),
    ('path = "x.csv"\nformat = "implicit"', "datasets[0].format", "relevance_threshold = 1"),
])
def test_path_config_errors_name_file_and_key(dataset, key, message):
    with pytest.raises(ConfigError, match=message) as info:
        config(dataset)
    assert str(info.value).startswith(f"c.toml: {key}: ")


def test_an_implicit_config_runs_top_n_metrics(tmp_path):
    rng = np.random.default_rng(1)
    rows = {(int(u), int(i)) for u, i in zip(rng.integers(0, 20, 200),
                                             rng.integers(0, 25, 200))}
    write_rows(tmp_path / "clicks.csv", ["user", "item"], [[u, i] for u, i in sorted(rows)])
    cfg = config(f'path = "{tmp_path / "clicks.csv"}"\nformat = "implicit"\nlabel = "clicks"',
                 bench="relevance_threshold = 1")
    from recsys.bench.runner import run_benchmark

    result = run_benchmark(cfg, progress=False, log=lambda _: None)
    assert not result.problems()
    assert result.rows[0]["dataset"] == "clicks" and result.rows[0]["ndcg@3"] >= 0


def test_a_missing_path_stops_the_run_before_anything_is_fitted(tmp_path):
    from recsys.bench.runner import run_benchmark
    from recsys.errors import DataNotFoundError

    cfg = config(f'path = "{tmp_path / "none.csv"}"\nformat = "csv"\nrating_scale = [1, 5]')
    with pytest.raises(DataNotFoundError, match="none.csv"):
        run_benchmark(cfg, progress=False, log=lambda _: None)
