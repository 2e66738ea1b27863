"""``--metadata tmdb``: recsys.metadata and ``recsys data info``, on the small release and TMDB
folder of tmdb_fixture (every figure checked by hand), and the real figures of the issue on
$RECSYS_DATA (failing, never skipping, when the files are missing)."""

from __future__ import annotations

import warnings

import pytest

from recsys.cli import main
from recsys.data import ReleaseMismatchWarning, load_dataset
from recsys.errors import DataNotFoundError
from recsys.metadata import MetadataError, links_defects, load_metadata
from tmdb_fixture import write_both, write_release, write_tmdb


@pytest.fixture(autouse=True)
def _quiet_release_mismatch():
    # The small release is not the published ml-latest-small: that warning is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReleaseMismatchWarning)
        yield


@pytest.fixture
def root(tmp_path):
    return write_both(tmp_path / "data")


def small(root):
    return load_dataset("ml-latest-small", data_dir=root)


def test_load_metadata_joins_and_counts_each_source(root):
    ds = small(root)
    meta = load_metadata("tmdb", ds, root, by_source=True)
    assert meta.folder == root / "tmdb"
    assert list(meta.by_source) == ["tmdb5000", "movies-dataset"]
    alone = meta.by_source["tmdb5000"]
    assert (alone.n_movies, alone.n_matched, alone.with_field["overview"]) == (8, 4, 4)
    assert meta.by_source["movies-dataset"].with_field["keywords"] == 5
    merged = meta.joined.coverage
    assert (merged.with_field["overview"], merged.with_field["keywords"]) == (4, 5)
    items = meta.joined.items
    assert items.loc[4, "keywords"] == ("casino", "heist", "bank robbery", "mafia")
    assert items.loc[2, "genres"] == ("Action", "Crime")
    assert meta.data.report.duplicate_rows["keywords.csv"] == 1
    plain = load_metadata("tmdb", ds, root)  # the merge without the per-source reads
    assert plain.by_source == {} and plain.joined.coverage == merged


def test_links_defects_of_the_release(root):
    defects = links_defects(small(root))
    assert defects == {"n_movies": 8, "n_without_tmdb": 1, "n_without_imdb": 0,
                       "repeated_tmdb": {8000: [6, 8]}}


def test_data_info_prints_coverage_and_defects(root, capsys):
    assert main(["data", "info", "--dataset", "ml-latest-small", "--data-dir", str(root),
                 "--metadata", "tmdb"]) == 0
    out = capsys.readouterr().out
    assert out.index("- users:") < out.index("## TMDB metadata")  # the summary, then TMDB
    for text in ("keywords.csv: 1 exact duplicate rows dropped",
                 "links.csv: 4 links, 1 without a tmdbId",
                 "1 rows repeating a tmdbId",
                 "ml-latest-small links: 8 movies, 1 without a tmdbId",
                 "1 tmdbId given to more than one movie (8000 for movies 6, 8)",
                 "tmdb5000 alone: 4 of 8 movies get a row (50.0%); with overview 4",
                 "movies-dataset alone: 5 of 8 movies get a row (62.5%); with keywords 5",
                 "with overview 4 (50.0%), keywords 5 (62.5%)"):
        assert text in out, text


def test_data_info_metadata_dir_names_the_tmdb_folder(tmp_path, capsys):
    root = write_release(tmp_path / "ml")
    tmdb = write_tmdb(tmp_path / "elsewhere" / "files")
    release = root / "ml-latest-small"
    assert main(["data", "info", "--data-dir", str(release), "--metadata", "tmdb",
                 "--metadata-dir", str(tmdb)]) == 0
    assert f"## TMDB metadata ({tmdb})" in capsys.readouterr().out
    # --data-dir alone is searched alone: the release folder has no TMDB files
    assert main(["data", "info", "--data-dir", str(release), "--metadata", "tmdb"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no half answer
    assert "TMDB metadata not found" in captured.err and str(release / "tmdb") in captured.err
    assert "--metadata-dir" in captured.err


def test_missing_tmdb_folder_names_the_places(tmp_path, monkeypatch, capsys):
    root = write_release(tmp_path / "data")
    monkeypatch.setenv("RECSYS_DATA", str(root))
    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path / "cache"))
    assert main(["data", "info", "--metadata", "tmdb"]) == 1
    err = capsys.readouterr().err
    assert str(root / "tmdb") in err and str(tmp_path / "cache" / "tmdb") in err
    assert "kaggle.com" in err and "Traceback" not in err
    with pytest.raises(DataNotFoundError):
        load_metadata("tmdb", small(root))


def test_metadata_dir_without_metadata_is_an_error(root, capsys):
    assert main(["data", "info", "--data-dir", str(root), "--metadata-dir", str(root)]) == 1
    assert "--metadata-dir needs --metadata tmdb" in capsys.readouterr().err


def test_a_release_without_links_is_refused_before_reading_tmdb(tmp_path, capsys):
    root = write_both(tmp_path / "data")
    (root / "ml-latest-small" / "links.csv").unlink()
    (root / "tmdb" / "keywords.csv").write_text("not, a, keywords, file\n")  # never read
    assert main(["data", "info", "--data-dir", str(root), "--metadata", "tmdb"]) == 1
    captured = capsys.readouterr()
    assert "has no links" in captured.err and captured.out == ""
    with pytest.raises(MetadataError, match="has no links"):
        load_metadata("tmdb", small(root), root)
    with pytest.raises(MetadataError, match="unknown metadata 'imdb'"):
        load_metadata("imdb", small(root), root)


def test_unknown_metadata_choice_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "info", "--metadata", "imdb"])
    assert exc.value.code == 2
    assert "invalid choice: 'imdb'" in capsys.readouterr().err


@pytest.mark.realdata
def test_real_data_info_figures(real_data_dir, capsys):
    tmdb = real_data_dir / "tmdb"
    if not (tmdb / "tmdb_5000_movies.csv").is_file() or not (tmdb / "keywords.csv").is_file():
        pytest.fail(f"{tmdb} lacks tmdb_5000_movies.csv or keywords.csv (Kaggle: "
                    "tmdb/tmdb-movie-metadata, rounakbanik/the-movies-dataset)", pytrace=False)
    assert main(["data", "info", "--dataset", "ml-latest-small", "--data-dir",
                 str(real_data_dir), "--metadata", "tmdb"]) == 0
    out = capsys.readouterr().out
    for text in ("tmdb5000 alone: 3,537 of 9,742 movies get a row (36.3%); with overview 3,537",
                 "movies-dataset alone: 9,544 of 9,742 movies get a row (98.0%); with "
                 "keywords 8,682",
                 "keywords.csv: 987 exact duplicate rows dropped",
                 "links.csv: 45,843 links, 219 without a tmdbId",
                 "30 rows repeating a tmdbId of an earlier row (29 tmdbIds)",
                 "ml-latest-small links: 9,742 movies, 8 without a tmdbId",
                 "(4912 for movies 6003, 144606)",
                 "with overview 3,537 (36.3%), keywords 8,682 (89.1%)"):
        assert text in out, text
