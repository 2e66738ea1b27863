"""MovieLens parsers: every format, real data figures, and errors that name file and line."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys.data import MovieLensData, load_dataset, load_movielens, read_ml100k_ratings
from recsys.data.movielens import ML1M_OCCUPATIONS
from recsys.data.tables import read_table
from recsys.errors import DataFormatError, DataNotFoundError

FIXTURES = Path(__file__).parent / "fixtures"

# The small copies these tests write are not the published releases: the count warning is
# expected (tests/test_data_errors.py checks it).
pytestmark = pytest.mark.filterwarnings("ignore::recsys.data.ReleaseMismatchWarning")


# ---------------------------------------------------------------------- real data
def test_ml100k_real(ml100k_dir):
    data = load_movielens("ml-100k", data_dir=ml100k_dir)
    assert isinstance(data, MovieLensData)
    r = data.ratings
    assert list(r.columns) == ["user", "item", "rating", "timestamp"]
    assert [str(t) for t in r.dtypes] == ["int64", "int64", "float32", "int64"]
    assert len(r) == 100_000
    assert r["user"].nunique() == 943 and r["item"].nunique() == 1682
    assert data.rating_scale == (1.0, 5.0)
    items = data.items
    assert items.index.name == "item" and len(items) == 1682
    # latin-1 without mojibake
    assert items.loc[1633, "title"] == "Á köldum klaka (Cold Fever) (1994)"
    assert items.loc[1, "title"] == "Toy Story (1995)"
    assert items.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert items.loc[1, "year"] == 1995
    assert str(items["year"].dtype) == "Int64"
    assert items.loc[1, "release_date"] == "01-Jan-1995"
    assert items.loc[1, "imdb_url"].startswith("http://us.imdb.com/")
    # item 267 is "unknown": no year, no genre
    assert pd.isna(items.loc[267, "year"]) and items.loc[267, "genres"] == ""
    users = data.users
    assert users.index.name == "user" and len(users) == 943
    assert users.loc[1].tolist() == [24, "M", "technician", "85711"]


def test_ml100k_dataset_and_folds(ml100k_dir):
    ds = load_dataset("ml-100k", data_dir=ml100k_dir.parent)
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (943, 1682, 100_000)
    assert ds.item_info is not None and ds.user_info is not None
    base = read_ml100k_ratings(ml100k_dir / "u1.base")
    test = read_ml100k_ratings(ml100k_dir / "u1.test")
    assert (len(base), len(test)) == (80_000, 20_000)
    assert [str(t) for t in base.dtypes] == ["int64", "int64", "float32", "int64"]


def test_ml_latest_small_real(real_data_dir):
    data = load_movielens("ml-latest-small", data_dir=real_data_dir)
    r = data.ratings
    assert len(r) == 100_836
    assert r["user"].nunique() == 610 and r["item"].nunique() == 9724
    counts = r["rating"].value_counts().sort_index()
    assert counts.loc[0.5] == 1370 and counts.loc[4.5] == 8551
    assert data.rating_scale == (0.5, 5.0)
    items = data.items
    assert len(items) == 9742
    assert list(items.columns) == ["title", "year", "genres", "tags", "imdb_id", "tmdb_id"]
    assert items.loc[1, "tags"] == "pixar|fun"
    assert items.loc[1, "imdb_id"] == 114709 and items.loc[1, "tmdb_id"] == 862
    assert items.loc[1, "genres"] == "Adventure|Animation|Children|Comedy|Fantasy"
    # quoted commas in titles stay intact
    assert items.loc[11, "title"] == "American President, The (1995)"
    assert "(no genres listed)" not in set(items["genres"])
    assert (items["genres"] == "").sum() == 34
    assert len(data.tags) == 3683 and data.users is None


def test_shipped_copy_equals_shared(real_data_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("RECSYS_DATA", raising=False)
    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path))
    shipped = load_movielens("ml-latest-small")
    assert shipped.path.parent.name == "data"
    shared = load_movielens("ml-latest-small", data_dir=real_data_dir)
    pd.testing.assert_frame_equal(shipped.ratings, shared.ratings)


# ---------------------------------------------------------------------- writers for fixtures
def _write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _csv_lines(header, rows) -> list[str]:
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().rstrip("\n").split("\n")


def make_ml100k(folder: Path, ratings) -> Path:
    _write(folder / "u.data", [f"{u}\t{i}\t{r:g}\t{t}" for u, i, r, t in ratings])
    flags = ["0"] * 19
    f1 = flags.copy(); f1[1] = f1[5] = "1"    # Action, Comedy
    f2 = flags.copy(); f2[0] = "1"            # unknown
    _write(folder / "u.item", [
        "1|Café Society (1995)|01-Jan-1995||http://x/1|" + "|".join(f1),
        "2|unknown|||http://x/2|" + "|".join(f2),
        "3|No Year Here|05-Mar-1997||http://x/3|" + "|".join(flags),
    ], encoding="latin-1")
    _write(folder / "u.user", ["1|24|M|technician|85711", "2|53|F|other|T8H1N"])
    return folder


def make_dat(folder: Path, ratings, encoding: str = "latin-1", tags: bool = False,
             users: bool = True) -> Path:
    """An ML-1M-style folder; ``users=False, tags=True`` for ML-10M (it has no users.dat)."""
    _write(folder / "ratings.dat", [f"{u}::{i}::{r:g}::{t}" for u, i, r, t in ratings])
    _write(folder / "movies.dat", [
        "1::Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)::Comedy|Romance",
        "2::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi",
        "3::Nothing (2003)::(no genres listed)",
    ], encoding=encoding)
    if users:
        _write(folder / "users.dat", ["1::F::1::10::48067", "2::M::56::16::70072"])
    if tags:
        _write(folder / "tags.dat", ["1::1::quirky::1139045764", "2::1::quirky::1139045765",
                                     "2::1::Paris::1139045766", "1::2::space::1139045767"],
               encoding=encoding)
    return folder


def make_csv(folder: Path, ratings) -> Path:
    _write(folder / "ratings.csv",
           _csv_lines(["userId", "movieId", "rating", "timestamp"],
                      [(u, i, f"{r:g}", t) for u, i, r, t in ratings]))
    _write(folder / "movies.csv", _csv_lines(["movieId", "title", "genres"], [
        (1, "American President, The (1995)", "Comedy|Drama|Romance"),
        (2, 'Title with "quotes", and comma (2001)', "(no genres listed)"),
        (3, "Babylon 5", "Sci-Fi"),
    ]))
    _write(folder / "tags.csv", _csv_lines(["userId", "movieId", "tag", "timestamp"], [
        (1, 1, "politics, US", 1), (2, 1, "politics, US", 2), (2, 1, "NA", 3),
    ]))
    _write(folder / "links.csv", _csv_lines(["movieId", "imdbId", "tmdbId"], [
        (1, "0112346", 9087), (2, "0000002", ""),
    ]))
    return folder


RATINGS = [(1, 1, 5, 881250949), (1, 2, 3, 881250950), (2, 1, 1, 881250951),
           (2, 3, 4, 881250952)]
HALF = [(1, 1, 4.5, 1), (1, 2, 0.5, 2), (2, 1, 3.0, 3), (2, 3, 5.0, 4)]


def _expected_frame(rows) -> pd.DataFrame:
    arr = np.array(rows, dtype=np.float64)
    return pd.DataFrame({
        "user": arr[:, 0].astype(np.int64), "item": arr[:, 1].astype(np.int64),
        "rating": arr[:, 2].astype(np.float32), "timestamp": arr[:, 3].astype(np.int64),
    })


# ---------------------------------------------------------------------- small files per format
def test_ml100k_format(tmp_path):
    folder = make_ml100k(tmp_path / "ml-100k", RATINGS)
    data = load_movielens("ml-100k", data_dir=folder)
    pd.testing.assert_frame_equal(data.ratings, _expected_frame(RATINGS))
    items = data.items
    assert items.loc[1, "title"] == "Café Society (1995)"
    assert items.loc[1, "genres"] == "Action|Comedy"
    assert items.loc[2, "genres"] == "" and pd.isna(items.loc[2, "year"])
    assert items.loc[3, "year"] == 1997                    # from the release date
    assert data.users.loc[2, "zip"] == "T8H1N"


def test_ml1m_format(tmp_path):
    folder = make_dat(tmp_path / "ml-1m", RATINGS)
    data = load_movielens("ml-1m", data_dir=tmp_path)      # parent holding ml-1m/
    pd.testing.assert_frame_equal(data.ratings, _expected_frame(RATINGS))
    assert data.path == folder
    items = data.items
    assert items.loc[1, "title"] == "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"
    assert items.loc[2, "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert items.loc[2, "year"] == 1977 and items.loc[3, "genres"] == ""
    assert data.users.loc[1].tolist() == [1, "F", ML1M_OCCUPATIONS[10], "48067"]
    assert data.users.loc[2, "occupation"] == "self-employed"
    assert data.tags is None and "tags" not in items.columns


def test_ml10m_format_with_tags_and_folder_name(tmp_path):
    folder = make_dat(tmp_path / "ml-10M100K", HALF, encoding="utf-8", tags=True, users=False)
    data = load_movielens("ml-10m", data_dir=tmp_path)
    assert data.path == folder
    pd.testing.assert_frame_equal(data.ratings, _expected_frame(HALF))
    assert data.rating_scale == (0.5, 5.0)
    assert data.items.loc[1, "tags"] == "quirky|Paris"
    assert data.items.loc[3, "tags"] == ""
    assert len(data.tags) == 4


def test_ml10m_latin1_titles_auto_detected(tmp_path):
    folder = make_dat(tmp_path / "ml-10m", HALF, encoding="latin-1", users=False)
    data = load_movielens("ml-10m", data_dir=folder)
    assert data.items.loc[1, "title"].startswith("Amélie")


def test_csv_format(tmp_path):
    folder = make_csv(tmp_path / "ml-25m", HALF)
    data = load_movielens("ml-25m", data_dir=folder)
    pd.testing.assert_frame_equal(data.ratings, _expected_frame(HALF))
    items = data.items
    assert items.loc[1, "title"] == "American President, The (1995)"
    assert items.loc[2, "title"] == 'Title with "quotes", and comma (2001)'
    assert items.loc[2, "genres"] == "" and items.loc[2, "year"] == 2001
    assert pd.isna(items.loc[3, "year"])
    assert items.loc[1, "tags"] == "politics, US|NA"
    assert items.loc[1, "imdb_id"] == 112346 and pd.isna(items.loc[2, "tmdb_id"])
    assert pd.isna(items.loc[3, "imdb_id"])
    assert str(items["imdb_id"].dtype) == "Int64"


def test_not_found_names_places(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError) as info:
        load_movielens("ml-1m")
    msg = str(info.value)
    for place in ("data/ml-1m", "cache/ml-1m", "https://files.grouplens.org/"):
        assert place in msg
    # Issue 11: a folder given is searched alone (no fall-back to RECSYS_DATA or the cache),
    # and the message names it and the files looked for there.
    with pytest.raises(DataNotFoundError) as info:
        load_movielens("ml-1m", data_dir=tmp_path / "mine")
    msg = str(info.value)
    for place in ("mine/ratings.dat", "mine/ml-1m/ratings.dat", "does not exist",
                  "https://files.grouplens.org/"):
        assert place in msg
    assert "data/ml-1m" not in msg and "cache/ml-1m" not in msg
    with pytest.raises(DataNotFoundError, match="unknown MovieLens release"):
        load_movielens("ml-3k")


# ---------------------------------------------------------------------- malformed input
@pytest.mark.parametrize("lines, line, field, what", [
    (["1\t1\t5\t881250949", "1\t2\t3", "2\t1\t1\t1"], 2, None, "expected 4 fields"),
    (["1\t1\t5\t881250949", "1\t2\t3\t4\t5"], 2, None, "expected 4 fields"),
    (["1\t1\t5\t881250949\t9", "1\t2\t3\t4"], 1, None, "expected 4 fields"),
    (["1\t1\t5\t1", "2\t1\t1\t1", "x7\t2\t3\t4"], 3, "user", "expected an integer"),
    (["1\t1\t5\t1", "2\t1.5\t1\t1"], 2, "item", "expected an integer"),
    (["1\t1\t5\t1", "2\t1\tgood\t1"], 2, "rating", "expected a number"),
    (["1\t1\t5\t1", "2\t1\t6\t1"], 2, "rating", "outside the scale 1..5"),
    (["1\t1\t0.5\t1", "2\t1\t1\t1"], 1, "rating", "outside the scale"),
    (["1\t1\t5\t1", "2\t1\t4\t99999999999999999999999"], 2, "timestamp", "integer"),
])
def test_ml100k_ratings_errors(tmp_path, lines, line, field, what):
    path = _write(tmp_path / "u.data", lines)
    with pytest.raises(DataFormatError) as info:
        read_ml100k_ratings(path)
    err = info.value
    assert err.path == str(path) and err.line == line and err.field == field
    assert what in str(err)
    assert f"line {line}" in str(err) and "u.data" in str(err)


@pytest.mark.parametrize("bad_at", [1, 37, 199, 200])
def test_error_line_found_across_blocks(tmp_path, monkeypatch, bad_at):
    # Tiny rescan blocks, CRLF line ends and blank lines: the line number stays exact.
    monkeypatch.setattr("recsys.data.tables._BLOCK_BYTES", 50)
    lines = ["userId,movieId,rating,timestamp"]
    for k in range(1, 200):
        lines.append(f"{k},{k + 1},{(k % 10 + 1) / 2},{k}")
        if k % 17 == 0:
            lines.append("")
    number = bad_at if bad_at < len(lines) else len(lines)
    lines.insert(number, "7,8,9.5,10")                      # becomes line number + 1
    path = tmp_path / "ratings.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    with pytest.raises(DataFormatError, match="outside the scale") as info:
        load_movielens("ml-latest", data_dir=tmp_path)
    assert info.value.line == number + 1


def test_chunked_numeric_path_same_frame_and_errors(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    rows = [(int(u), int(i), float(r) / 2, int(t)) for u, i, r, t in zip(
        rng.integers(1, 10**6, 1000), rng.integers(1, 10**5, 1000),
        rng.integers(1, 11, 1000), rng.integers(0, 2**33, 1000))]
    lines = _csv_lines(["userId", "movieId", "rating", "timestamp"],
                       [(u, i, f"{r:g}", t) for u, i, r, t in rows])
    lines.insert(500, "")                                  # a blank line is skipped
    _write(tmp_path / "ratings.csv", lines)
    whole = load_movielens("ml-latest", data_dir=tmp_path).ratings
    monkeypatch.setattr("recsys.data.tables._CHUNKED_BYTES", 0)
    monkeypatch.setattr("recsys.data.tables._CHUNK_ROWS", 64)
    chunked = load_movielens("ml-latest", data_dir=tmp_path).ratings
    pd.testing.assert_frame_equal(whole, chunked)
    pd.testing.assert_frame_equal(chunked, _expected_frame(rows))
    lines[700] = "1,2,3"
    _write(tmp_path / "ratings.csv", lines)
    with pytest.raises(DataFormatError, match="expected 4 fields") as info:
        load_movielens("ml-latest", data_dir=tmp_path)
    assert info.value.line == 701


def test_missing_ratings_file(tmp_path):
    with pytest.raises(DataFormatError, match="missing file"):
        read_ml100k_ratings(tmp_path / "u1.base")


def test_dat_errors(tmp_path):
    folder = make_dat(tmp_path / "ml-1m", RATINGS)
    with open(folder / "ratings.dat", "a") as f:
        f.write("3::1:4::5\n")
    with pytest.raises(DataFormatError) as info:
        load_movielens("ml-1m", data_dir=folder)
    assert info.value.line == 5 and "ratings.dat" in info.value.path


def test_csv_errors(tmp_path):
    folder = make_csv(tmp_path / "ml-20m", HALF)
    path = folder / "ratings.csv"
    text = path.read_text()
    path.write_text(text + "3,abc,4.0,5\n")
    with pytest.raises(DataFormatError) as info:
        load_movielens("ml-20m", data_dir=folder)
    assert (info.value.line, info.value.field) == (6, "movieId")
    path.write_text(text + "3,7,5.5,5\n")
    with pytest.raises(DataFormatError, match="outside the scale 0.5..5") as info:
        load_movielens("ml-20m", data_dir=folder)
    assert info.value.line == 6
    path.write_text("user,item,rating,timestamp\n1,1,4,1\n")
    with pytest.raises(DataFormatError, match="expected the header") as info:
        load_movielens("ml-20m", data_dir=folder)
    assert info.value.line == 1


def test_bad_encoding_named(tmp_path):
    folder = make_csv(tmp_path / "ml-25m", HALF)
    with open(folder / "movies.csv", "ab") as f:
        f.write(b'4,"Caf\xe9 (1999)",Drama\n')          # latin-1 byte in a UTF-8 file
    with pytest.raises(DataFormatError, match="not valid utf-8") as info:
        load_movielens("ml-25m", data_dir=folder)
    assert info.value.line == 5 and info.value.path.endswith("movies.csv")


def test_ml100k_item_wrong_field_count(tmp_path):
    folder = make_ml100k(tmp_path / "ml-100k", RATINGS)
    with open(folder / "u.item", "ab") as f:
        f.write(b"4|Short line|01-Jan-1995||http://x|0|1\n")
    with pytest.raises(DataFormatError, match="expected 24 fields") as info:
        load_movielens("ml-100k", data_dir=folder)
    assert info.value.line == 4


# ---------------------------------------------------------------------- round trips
_rows = st.lists(
    st.tuples(st.integers(1, 10**9), st.integers(1, 10**6),
              st.integers(1, 10).map(lambda h: h / 2), st.integers(0, 2**40)),
    min_size=1, max_size=30, unique_by=lambda r: (r[0], r[1]),  # a repeated pair is an error
)


@settings(deadline=None, max_examples=25,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, fmt=st.sampled_from(["100k", "dat", "csv"]))
def test_round_trip(tmp_path_factory, rows, fmt):
    folder = tmp_path_factory.mktemp(fmt)
    if fmt == "100k":  # whole stars 1..5
        rows = [(u, i, float(max(round(r), 1)), t) for u, i, r, t in rows]
        _write(folder / "u.data", [f"{u}\t{i}\t{r:g}\t{t}" for u, i, r, t in rows])
        name = "ml-100k"
    elif fmt == "dat":
        _write(folder / "ratings.dat", [f"{u}::{i}::{r:g}::{t}" for u, i, r, t in rows])
        name = "ml-10m"
    else:
        _write(folder / "ratings.csv", _csv_lines(
            ["userId", "movieId", "rating", "timestamp"], [(u, i, f"{r:g}", t)
                                                           for u, i, r, t in rows]))
        name = "ml-32m"
    data = load_movielens(name, data_dir=folder)
    pd.testing.assert_frame_equal(data.ratings, _expected_frame(rows))
    assert data.items is None


@settings(deadline=None, max_examples=25)
@given(titles=st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                               min_size=1, max_size=20).filter(lambda s: s.strip() == s),
                       min_size=1, max_size=10))
def test_csv_titles_round_trip(tmp_path_factory, titles):
    folder = tmp_path_factory.mktemp("titles")
    path = _write(folder / "movies.csv", _csv_lines(
        ["movieId", "title", "genres"], [(k + 1, t, "Drama") for k, t in enumerate(titles)]))
    table = read_table(path, (("item", "int"), ("title", "str"), ("genres", "str")), ",",
                       header=("movieId", "title", "genres"), quoted=True)
    assert table["title"].tolist() == titles
