"""Issue 11, data: every bad data input named, none silently accepted (small files written here).

Each test is one case of the issue: a folder given that does not hold the release, a folder of
another release, counts that differ from the registry's, a header-only file, repeated
(user, item) pairs, a UTF-8 u.item, and the integers pandas would read from ``5.0``/``True``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from recsys.cli import main
from recsys.data import (ReleaseMismatchWarning, find_release, load_dataset, load_movielens,
                         read_ml100k_ratings)
from recsys.data.tables import read_table
from recsys.errors import DataFormatError, DataNotFoundError

pytestmark = pytest.mark.filterwarnings("ignore::recsys.data.ReleaseMismatchWarning")

HEADER = "userId,movieId,rating,timestamp"
GENRE_FLAGS = "|".join(["0"] * 18 + ["1"])


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _ml100k(folder: Path, lines=("1\t1\t5\t10", "1\t2\t3\t11", "2\t1\t4\t12")) -> Path:
    _write(folder / "u.data", "\n".join(lines) + "\n")
    return folder


def _csv(folder: Path, rows: str = "1,1,4.0,10\n1,2,3.5,11\n2,1,5.0,12\n") -> Path:
    _write(folder / "ratings.csv", HEADER + "\n" + rows)
    return folder


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A valid copy of every release in RECSYS_DATA and in the cache, which a folder given
    must never fall back to."""
    env, cache = tmp_path / "env", tmp_path / "cache"
    for root in (env, cache):
        _ml100k(root / "ml-100k")
        _csv(root / "ml-latest-small")
    monkeypatch.setenv("RECSYS_DATA", str(env))
    monkeypatch.setenv("RECSYS_CACHE", str(cache))
    return tmp_path


# ---------------------------------------------------------------------- the folder given
@pytest.mark.parametrize("name", ["ml-100k", "ml-latest-small"])
def test_a_typo_in_the_folder_given_is_an_error_not_a_fallback(isolated, name):
    # ml-latest-small also ships with the package: neither it nor RECSYS_DATA nor the cache
    # stands in for the folder asked for.
    typo = isolated / "dta"
    with pytest.raises(DataNotFoundError) as info:
        load_movielens(name, data_dir=typo)
    msg = str(info.value)
    ratings = "u.data" if name == "ml-100k" else "ratings.csv"
    assert str(typo) in msg and "does not exist" in msg
    assert str(typo / ratings) in msg and str(typo / name / ratings) in msg
    assert str(isolated / "env") not in msg.split("(no fall-back")[0]


def test_a_folder_without_the_release_names_the_files_looked_for(isolated):
    empty = isolated / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError, match="ratings.dat") as info:
        find_release("ml-1m", empty)
    assert "does not exist" not in str(info.value)
    assert str(empty / "ml-1m" / "ratings.dat") in str(info.value)


def test_a_path_to_a_file_is_refused(isolated):
    u_data = isolated / "env" / "ml-100k" / "u.data"
    with pytest.raises(DataNotFoundError, match="is a file"):
        load_movielens("ml-100k", data_dir=u_data)
    with pytest.raises(DataNotFoundError, match="is a file"):
        load_movielens("ml-100k", data_dir=u_data, download=True)   # nothing fetched


def test_cli_data_info_with_a_typo_is_one_line_exit_1(isolated, capsys):
    assert main(["data", "info", "--dataset", "ml-100k", "--data-dir",
                 str(isolated / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recsys data: error: MovieLens release ml-100k not found in the "
                          "data folder given") and err.count("\n") == 1
    assert main(["data", "list", "--data-dir", str(isolated / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err


# ---------------------------------------------------------------------- another release
def _ml1m(folder: Path) -> Path:
    _write(folder / "ratings.dat", "1::1::5::10\n1::2::3::11\n2::1::4::12\n")
    _write(folder / "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def test_an_ml1m_folder_is_not_ml10m(tmp_path):
    folder = _ml1m(tmp_path / "ml-1m")
    with pytest.raises(DataFormatError, match="named 'ml-1m', another MovieLens release"):
        load_movielens("ml-10m", data_dir=folder)
    renamed = folder.rename(tmp_path / "mine")        # the folder's name is no clue now
    with pytest.raises(DataFormatError, match="holds users.dat, which ml-10m does not have"):
        load_movielens("ml-10m", data_dir=renamed)
    assert len(load_movielens("ml-1m", data_dir=renamed).ratings) == 3


def test_an_ml10m_folder_is_not_ml1m(tmp_path):
    folder = tmp_path / "mine"
    _write(folder / "ratings.dat", "1::1::4.5::10\n1::2::3::11\n")
    _write(folder / "tags.dat", "1::1::quirky::10\n")
    with pytest.raises(DataFormatError, match="holds tags.dat"):
        load_movielens("ml-1m", data_dir=folder)
    (folder / "tags.dat").unlink()
    # ML-1M's ratings are whole stars: a half star says this is not ML-1M
    with pytest.raises(DataFormatError, match="not a whole number of stars") as info:
        load_movielens("ml-1m", data_dir=folder)
    assert (info.value.line, info.value.field) == (1, "rating")


def test_a_rating_off_the_half_star_grid_is_refused(tmp_path):
    folder = _csv(tmp_path / "x", "1,1,4.0,10\n1,2,3.7,11\n")
    with pytest.raises(DataFormatError, match=r"3.7 is not a multiple of 0.5") as info:
        load_movielens("ml-25m", data_dir=folder)
    assert info.value.line == 3


def test_counts_that_differ_from_the_registry_warn_with_both(tmp_path):
    folder = _ml1m(tmp_path / "ml-1m")
    with pytest.warns(ReleaseMismatchWarning) as record:
        load_movielens("ml-1m", data_dir=folder)
    msg = str(record[0].message)
    assert "this copy has 3 ratings, 2 users, 2 items" in msg
    assert "the published ml-1m has 1,000,209 ratings, 6,040 users, 3,706 items" in msg
    assert str(folder) in msg
    # a release with no fixed figures (regenerated by GroupLens) gets no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReleaseMismatchWarning)
        load_movielens("ml-latest-small", data_dir=_csv(tmp_path / "small"))


def test_the_real_ml100k_matches_the_registry(ml100k_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReleaseMismatchWarning)
        data = load_movielens("ml-100k", data_dir=ml100k_dir)
    assert data.duplicates is None and len(data.ratings) == 100_000


# ---------------------------------------------------------------------- no ratings
def test_a_header_only_ratings_file_is_an_error(tmp_path):
    folder = _csv(tmp_path / "x", "")
    with pytest.raises(DataFormatError, match="no ratings: the file holds its header only"):
        load_movielens("ml-latest-small", data_dir=folder)
    _write(folder / "ratings.csv", HEADER + "\n\n  \n")      # blank lines are not ratings
    with pytest.raises(DataFormatError, match="no ratings"):
        load_dataset("ml-latest-small", data_dir=folder)
    with pytest.raises(DataFormatError, match="no ratings: the file is empty"):
        read_ml100k_ratings(_write(tmp_path / "u1.base", ""))


# ---------------------------------------------------------------------- duplicates
DUPLICATED = "1,1,4.0,10\n1,2,3.5,11\n\n2,1,5.0,12\n1,2,1.5,13\n1,1,3.0,14\n"


def test_duplicates_are_an_error_by_default_naming_both_lines(tmp_path):
    folder = _csv(tmp_path / "x", DUPLICATED)
    with pytest.raises(DataFormatError) as info:
        load_movielens("ml-latest-small", data_dir=folder)
    err = info.value
    assert err.line == 6 and err.path.endswith("ratings.csv")     # the blank line counts
    assert "user 1 rated item 2 again (first on line 3)" in str(err)
    assert "2 rating(s) repeat" in str(err) and "duplicates='last'" in str(err)


def test_duplicates_last_and_mean(tmp_path):
    folder = _csv(tmp_path / "x", DUPLICATED)
    last = load_movielens("ml-latest-small", data_dir=folder, duplicates="last")
    r = last.ratings
    assert list(zip(r["user"], r["item"], r["rating"], r["timestamp"])) == [
        (2, 1, 5.0, 12), (1, 2, 1.5, 13), (1, 1, 3.0, 14)]
    rep = last.duplicates
    assert (rep.n_repeats, rep.n_pairs, rep.line, rep.first_line) == (2, 2, 6, 3)
    mean = load_movielens("ml-latest-small", data_dir=folder, duplicates="mean").ratings
    assert list(zip(mean["user"], mean["item"], mean["rating"], mean["timestamp"])) == [
        (1, 1, 3.5, 14), (1, 2, 2.5, 13), (2, 1, 5.0, 12)]
    assert str(mean["rating"].dtype) == "float32"
    ds = load_dataset("ml-latest-small", data_dir=folder, duplicates="mean")
    assert ds.n_ratings == 3 and ds.csr.nnz == 3
    with pytest.raises(ValueError, match="duplicates must be"):
        load_movielens("ml-latest-small", data_dir=folder, duplicates="first")


def test_data_info_reports_the_first_duplicate(tmp_path, capsys):
    folder = _csv(tmp_path / "x", DUPLICATED)
    assert main(["data", "info", "--dataset", "ml-latest-small", "--data-dir",
                 str(folder)]) == 0
    out = capsys.readouterr().out
    assert ("- duplicates: 2 rating(s) repeat an earlier (user, item) pair (2 pair(s)); the "
            "first: ratings.csv line 6, user 1 item 2, first rated on line 3; merged with "
            "duplicates='last'") in out
    assert "- ratings: 3" in out
    assert main(["data", "info", "--dataset", "ml-latest-small", "--data-dir", str(folder),
                 "--duplicates", "error"]) == 1
    assert "line 6" in capsys.readouterr().err


def test_shipped_data_has_no_duplicates(real_data_dir, capsys):
    for name in ("ml-100k", "ml-latest-small"):
        assert main(["data", "info", "--dataset", name, "--data-dir",
                     str(real_data_dir)]) == 0
        assert "- duplicates: none" in capsys.readouterr().out


# ---------------------------------------------------------------------- encodings
def test_a_utf8_u_item_decodes_as_utf8_and_latin1_still_works(tmp_path):
    for encoding in ("utf-8", "latin-1"):
        folder = _ml100k(tmp_path / encoding / "ml-100k")
        _write(folder / "u.item", f"1|Café Society (1995)|01-Jan-1995||http://x|{GENRE_FLAGS}\n"
               f"2|Á köldum klaka (1994)|01-Jan-1994||http://y|{GENRE_FLAGS}\n", encoding)
        _write(folder / "u.user", "1|24|M|técnico|85711\n2|53|F|other|T8H1N\n", encoding)
        data = load_movielens("ml-100k", data_dir=folder)
        assert data.items.loc[1, "title"] == "Café Society (1995)", encoding
        assert data.items.loc[2, "title"] == "Á köldum klaka (1994)", encoding
        assert data.users.loc[1, "occupation"] == "técnico", encoding


# ---------------------------------------------------------------------- pandas' leniency
@pytest.mark.parametrize("bad, field", [
    ("1,1.0,4.0,10", "movieId"),      # pandas reads 1.0 as the integer 1
    ("1,True,4.0,10", "movieId"),     # ... True as 1
    ("1e3,2,4.0,10", "userId"),       # ... 1e3 as 1000
    ("1,2,4.0,1.5e9", "timestamp"),
    ("1,٣,4.0,10", "movieId"),        # Python's int() takes Arabic digits; no MovieLens file does
])
def test_integers_pandas_would_accept_are_refused(tmp_path, bad, field):
    folder = _csv(tmp_path / "x", f"1,1,4.0,10\n{bad}\n")
    with pytest.raises(DataFormatError, match="expected an integer") as info:
        load_movielens("ml-latest-small", data_dir=folder)
    assert (info.value.line, info.value.field) == (3, field)


def test_text_tables_take_strict_integers_too(tmp_path):
    folder = _ml100k(tmp_path / "ml-100k")
    _write(folder / "u.user", "1|24|M|technician|85711\n2|53.0|F|other|T8H1N\n")
    with pytest.raises(DataFormatError, match="expected an integer") as info:
        load_movielens("ml-100k", data_dir=folder)
    assert (info.value.line, info.value.field) == (2, "age")
    # a short line of a text table is refused, not filled with a missing value
    path = _write(tmp_path / "movies.csv", "movieId,title,genres\n1,Heat (1995),Drama\n2,X\n")
    with pytest.raises(DataFormatError, match="expected 3 fields") as info:
        read_table(path, (("item", "int"), ("title", "str"), ("genres", "str")), ",",
                   header=("movieId", "title", "genres"), quoted=True)
    assert info.value.line == 3


def test_a_lone_carriage_return_is_not_a_line_end(tmp_path):
    path = _write(tmp_path / "u.data", "1\t1\t5\t10\n1\t2\t3\t11\r2\t1\t4\t12\n")
    with pytest.raises(DataFormatError, match="carriage return") as info:
        read_ml100k_ratings(path)
    assert info.value.line == 2
    crlf = _write(tmp_path / "crlf.data", "1\t1\t5\t10\r\n1\t2\t3\t11\r\n")
    assert read_ml100k_ratings(crlf)["rating"].tolist() == [5.0, 3.0]


def test_the_byte_checks_hold_on_big_files(tmp_path, monkeypatch):
    # The whole-file checks run block by block: a bad token deep in a file that the chunked
    # reader parses is found at its line.
    monkeypatch.setattr("recsys.data.tables._CHUNKED_BYTES", 0)
    monkeypatch.setattr("recsys.data.tables._BLOCK_BYTES", 64)
    rows = [f"{u},{u % 7 + 1},{(u % 10 + 1) / 2},{u}" for u in range(1, 400)]
    rows[250] = "251,3.0,2.5,251"
    folder = _csv(tmp_path / "x", "\n".join(rows) + "\n")
    with pytest.raises(DataFormatError, match="expected an integer") as info:
        load_movielens("ml-latest", data_dir=folder)
    assert (info.value.line, info.value.field) == (252, "movieId")
    rows[250] = f"251,{251 % 7 + 1},{(251 % 10 + 1) / 2},251"
    _write(folder / "ratings.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    got = load_movielens("ml-latest", data_dir=folder).ratings
    assert np.array_equal(got["item"].to_numpy(), [u % 7 + 1 for u in range(1, 400)])


def test_a_line_the_python_checks_miss_is_still_named(tmp_path, monkeypatch):
    # The safety net: should the line-by-line checks ever miss what the parser refuses, the
    # failing block is halved down to the line, so the error still names it.
    monkeypatch.setattr("recsys.data.tables._check_lines", lambda *args: None)
    folder = _csv(tmp_path / "x", "1,1,4.0,10\n1,2,3.5,11\n2,x,5.0,12\n3,1,5.0,13\n")
    with pytest.raises(DataFormatError, match="cannot parse this line") as info:
        load_movielens("ml-latest-small", data_dir=folder)
    assert info.value.line == 4 and "'2,x,5.0,12'" in str(info.value)


def test_download_with_a_folder_given_fetches_into_it(tmp_path, monkeypatch):
    import hashlib
    import zipfile

    from recsys.data import releases

    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ml-100k/u.data", "1\t1\t5\t10\n2\t1\t4\t11\n")
    fake = releases.Release("ml-100k", archive.as_uri(), "100k", (1.0, 5.0), "ml-100k",
                            md5=hashlib.md5(archive.read_bytes()).hexdigest(), rating_step=1.0)
    monkeypatch.setitem(releases.RELEASES, "ml-100k", fake)
    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path / "cache"))
    mine = tmp_path / "mine"
    data = load_movielens("ml-100k", data_dir=mine, download=True)
    assert data.path == mine / "ml-100k" and len(data.ratings) == 2
    assert not (tmp_path / "cache").exists()
