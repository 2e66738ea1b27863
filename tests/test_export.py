"""``recsys data export``: a Dataset written as Parquet reads back as the same ratings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyarrow.parquet as pq  # the spark extra (.ci/run installs it)

from recsys.data.export import DATASET_FILE, export_parquet
from recsys.data.synthetic import generate
from recsys.dataset import Dataset


def _read(folder) -> dict[str, np.ndarray]:
    table = pq.read_table(folder)
    return {name: table.column(name).to_numpy() for name in table.column_names}


@settings(deadline=None, max_examples=25)
@given(n_users=st.integers(1, 30), n_items=st.integers(1, 30), fill=st.floats(0, 1),
       rows_per_file=st.integers(1, 200), seed=st.integers(0, 2**16))
def test_round_trip_any_size_and_file_split(tmp_path_factory, n_users, n_items, fill,
                                            rows_per_file, seed):
    n = int(fill * n_users * n_items)
    ds = generate(n_users, n_items, n, seed=seed)
    out = tmp_path_factory.mktemp("export")
    folder = export_parquet(ds, out, rows_per_file=rows_per_file)
    files = sorted(folder.glob("part-*.parquet"))
    assert len(files) == max(1, -(-n // rows_per_file))
    back = _read(folder)
    # The files, in name order, are the ratings in the Dataset's order, with raw ids.
    assert np.array_equal(back["user"], ds.user_ids[ds.users])
    assert np.array_equal(back["item"], ds.item_ids[ds.items])
    assert np.array_equal(back["rating"], ds.ratings)
    assert np.array_equal(back["timestamp"], ds.timestamps)
    doc = json.loads((out / DATASET_FILE).read_text())
    assert doc["n_ratings"] == n and doc["rating_scale"] == list(ds.rating_scale)


def test_string_ids_and_replacing_an_older_export(tmp_path):
    ds = Dataset(np.array([0, 1, 1]), np.array([1, 0, 1]), np.array([4.0, 2.5, 3.0]), None,
                 np.array(["alice", "bob"], dtype=object), np.array(["m1", "m2"]),
                 (0.5, 5.0), name="toy")
    export_parquet(generate(10, 10, 50, seed=0), tmp_path, rows_per_file=10)
    assert len(list((tmp_path / "ratings").glob("*.parquet"))) == 5
    folder = export_parquet(ds, tmp_path)
    assert [p.name for p in folder.iterdir()] == ["part-00000.parquet"]  # old parts gone
    back = _read(folder)
    assert list(back["user"]) == ["alice", "bob", "bob"]
    assert list(back["item"]) == ["m2", "m1", "m2"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers
    assert json.loads((tmp_path / DATASET_FILE).read_text())["rating_scale"] == [0.5, 5.0]


def test_a_failed_write_leaves_the_older_export(tmp_path, monkeypatch):
    import recsys.data.export as export

    export_parquet(generate(5, 5, 10, seed=0), tmp_path)
    before = _read(tmp_path / "ratings")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        export.export_parquet(generate(5, 5, 20, seed=1), tmp_path)
    after = _read(tmp_path / "ratings")
    assert np.array_equal(after["rating"], before["rating"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_rows_per_file(tmp_path):
    with pytest.raises(ValueError, match="rows_per_file must be >= 1"):
        export_parquet(generate(5, 5, 10, seed=0), tmp_path, rows_per_file=0)


def test_cli_export_release_and_synthetic(tmp_path, capsys, real_data_dir):
    from recsys.cli import main

    assert main(["data", "export", "--dataset", "ml-100k", "--data-dir",
                 str(real_data_dir), "--out", str(tmp_path / "ml")]) == 0
    assert "wrote 100,000 ratings of ml-100k" in capsys.readouterr().out
    back = _read(tmp_path / "ml" / "ratings")
    assert len(back["rating"]) == 100_000 and set(np.unique(back["rating"])) == {1, 2, 3, 4, 5}
    assert main(["data", "export", "--dataset", "synthetic", "--synthetic", "n_users=40",
                 "--synthetic", "n_items=20", "--synthetic", "n_ratings=300",
                 "--synthetic", "seed=4", "--out", str(tmp_path / "syn")]) == 0
    syn = _read(tmp_path / "syn" / "ratings")
    assert np.array_equal(syn["rating"], generate(40, 20, 300, seed=4).ratings)
    assert main(["data", "export", "--dataset", "synthetic", "--synthetic", "n_user=4",
                 "--out", str(tmp_path / "bad")]) == 1
    assert "synthetic option 'n_user'" in capsys.readouterr().err
    assert main(["data", "export", "--dataset", "ml-100k", "--synthetic", "seed=1",
                 "--out", str(tmp_path / "bad")]) == 1
    assert "--synthetic needs --dataset synthetic" in capsys.readouterr().err
