"""TMDB loaders, the finder, the join to MovieLens and the merge, on small files of every
format written here (TMDB's terms do not allow shipping the real ones)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.data.tmdb import (
    find_tmdb, load_movies_dataset, load_tmdb, load_tmdb5000, load_tmdb_api, merge_metadata,
)
from recsys.data.tmdb_formats import COLUMNS, LIST_COLUMNS
from recsys.data.tmdb_join import join_dataset, join_movielens, read_links
from recsys.dataset import Dataset
from recsys.errors import DataFormatError, DataNotFoundError

TMDB5000_HEADER = [
    "budget", "genres", "homepage", "id", "keywords", "original_language", "original_title",
    "overview", "popularity", "production_companies", "production_countries", "release_date",
    "revenue", "runtime", "spoken_languages", "status", "tagline", "title", "vote_average",
    "vote_count"]
METADATA_HEADER = [
    "adult", "belongs_to_collection", "budget", "genres", "homepage", "id", "imdb_id",
    "original_language", "original_title", "overview", "popularity", "poster_path",
    "production_companies", "production_countries", "release_date", "revenue", "runtime",
    "spoken_languages", "status", "tagline", "title", "video", "vote_average", "vote_count"]


def write_csv(path: Path, header, rows, quoting=csv.QUOTE_MINIMAL) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n", quoting=quoting).writerows([header, *rows])
    return path


def as_json(names) -> str:
    return json.dumps([{"id": k, "name": n} for k, n in enumerate(names)])


def as_literal(names) -> str:
    return repr([{"id": k, "name": n} for k, n in enumerate(names)])


def tmdb5000_row(tmdb_id, title, overview="", genres=(), keywords=(), date="2000-01-01",
                 popularity="1.5", budget="0", revenue="0", runtime="90"):
    values = {"budget": budget, "genres": as_json(genres), "homepage": "", "id": str(tmdb_id),
              "keywords": as_json(keywords), "original_language": "en",
              "original_title": title, "overview": overview, "popularity": popularity,
              "production_companies": "[]", "production_countries": "[]",
              "release_date": date, "revenue": revenue, "runtime": runtime,
              "spoken_languages": "[]", "status": "Released", "tagline": "", "title": title,
              "vote_average": "7.0", "vote_count": "10"}
    return [values[c] for c in TMDB5000_HEADER]


def metadata_row(tmdb_id, title, overview="", genres=(), imdb="", date="2000-01-01",
                 budget="0", popularity="2.0"):
    values = {"adult": "False", "belongs_to_collection": "", "budget": budget,
              "genres": as_literal(genres), "homepage": "", "id": str(tmdb_id),
              "imdb_id": imdb, "original_language": "en", "original_title": title,
              "overview": overview, "popularity": popularity, "poster_path": "/p.jpg",
              "production_companies": "[]", "production_countries": "[]",
              "release_date": date, "revenue": "0", "runtime": "100.0",
              "spoken_languages": "[]", "status": "Released", "tagline": "", "title": title,
              "video": "False", "vote_average": "6.0", "vote_count": "5.0"}
    return [values[c] for c in METADATA_HEADER]


def credits_json(cast, directors):
    cast_list = [{"cast_id": k, "character": "x", "name": n, "order": k, "id": k}
                 for k, n in enumerate(cast)]
    crew = [{"job": "Director", "department": "Directing", "name": n} for n in directors]
    crew.append({"job": "Producer", "department": "Production", "name": "Someone Else"})
    return cast_list, crew


@pytest.fixture
def tmdb5000_dir(tmp_path) -> Path:
    write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB5000_HEADER, [
        tmdb5000_row(19995, "Avatar", "A paraplegic Marine,\non Pandora.", ["Action", "Fantasy"],
                     ["alien", "space war"], "2009-12-10", "150.43", "237000000",
                     "2787965087", "162"),
        tmdb5000_row(862, "Toy Story", "Toys come alive.", ["Animation"], ["toy", "toy"],
                     "1995-10-30"),
        tmdb5000_row(5, "Four Rooms", "", [], [], "", "", runtime="0"),
    ])
    cast, crew = credits_json(["Sam Worthington", "Zoe Saldana"], ["James Cameron"])
    # billing order given by "order", not by position in the list
    rows = [["19995", "Avatar", json.dumps(cast[::-1]), json.dumps(crew)],
            ["862", "Toy Story", "[]", "[]"]]
    write_csv(tmp_path / "tmdb_5000_credits.csv", ["movie_id", "title", "cast", "crew"], rows)
    return tmp_path


# ---------------------------------------------------------------------- TMDB 5000
def test_tmdb5000_table_schema_and_values(tmdb5000_dir):
    data = load_tmdb5000(tmdb5000_dir)
    table = data.table
    assert list(table.columns) == list(COLUMNS)
    assert table["tmdb_id"].tolist() == [5, 862, 19995]  # sorted, one row per id
    assert table["tmdb_id"].dtype == np.int64
    assert str(table["imdb_id"].dtype) == "Int64" and table["imdb_id"].isna().all()
    avatar = table.set_index("tmdb_id").loc[19995]
    assert avatar["overview"] == "A paraplegic Marine,\non Pandora."
    assert avatar["genres"] == ("Action", "Fantasy")
    assert avatar["keywords"] == ("alien", "space war")
    assert avatar["cast"] == ("Sam Worthington", "Zoe Saldana")
    assert avatar["directors"] == ("James Cameron",)
    assert avatar["year"] == 2009 and avatar["release_date"] == "2009-12-10"
    assert avatar["budget"] == pytest.approx(237e6) and avatar["runtime"] == 162
    toy = table.set_index("tmdb_id").loc[862]
    assert toy["keywords"] == ("toy",)                    # each keyword once
    assert math.isnan(toy["budget"]) and math.isnan(toy["revenue"])  # 0 means unknown
    rooms = table.set_index("tmdb_id").loc[5]
    assert pd.isna(rooms["overview"]) and rooms["genres"] == () and rooms["cast"] == ()
    assert pd.isna(rooms["year"]) and math.isnan(rooms["popularity"])
    assert math.isnan(rooms["runtime"])
    for column in LIST_COLUMNS:
        assert all(isinstance(v, tuple) for v in table[column])


def test_tmdb5000_report_counts_zeros(tmdb5000_dir):
    report = load_tmdb5000(tmdb5000_dir).report
    assert report.sources == ("tmdb5000",)
    assert report.rows == {"tmdb_5000_movies.csv": 3, "tmdb_5000_credits.csv": 2}
    assert report.zeros_unknown["tmdb_5000_movies.csv"] == {"budget": 2, "revenue": 2,
                                                             "runtime": 1}
    assert report.n_movies == 3
    assert "zero read as unknown: budget 2, revenue 2, runtime 1" in report.describe()


def test_tmdb5000_movies_only(tmp_path):
    write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB5000_HEADER, [tmdb5000_row(1, "A")])
    table = load_tmdb5000(tmp_path).table
    assert table["cast"].tolist() == [()]


def test_missing_folder_files(tmp_path):
    with pytest.raises(DataNotFoundError, match="tmdb_5000_movies.csv"):
        load_tmdb5000(tmp_path)
    with pytest.raises(DataNotFoundError, match="keywords.csv"):
        load_movies_dataset(tmp_path)


@pytest.mark.parametrize("column, value, message", [
    ("genres", '[{"id": 1, "name": "Action"', "not valid JSON"),
    ("genres", '{"id": 1}', "expected a list"),
    ("keywords", '[{"id": 1, "name": 7}]', "text 'name'"),
    ("budget", "lots", "expected a number"),
    ("popularity", "-1", "expected a number >= 0"),
    ("runtime", "nan", "expected a number"),
    ("release_date", "10/30/1995", "expected a date"),
    ("id", "12a", "positive integer id"),
    ("id", "0", "positive integer id"),
])
def test_tmdb5000_malformed_field_names_file_line_field(tmp_path, column, value, message):
    good = tmdb5000_row(1, "Good", "Has a\nline break.")  # a record over two lines
    bad = tmdb5000_row(2, "Bad")
    bad[TMDB5000_HEADER.index(column)] = value
    path = write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB5000_HEADER, [good, bad])
    with pytest.raises(DataFormatError, match=message) as info:
        load_tmdb5000(tmp_path)
    assert info.value.path == str(path)
    assert info.value.line == 4     # header, two lines of "Good", then the bad row
    assert info.value.field == column


def test_wrong_field_count_names_the_line(tmp_path):
    path = tmp_path / "tmdb_5000_movies.csv"
    write_csv(path, TMDB5000_HEADER, [tmdb5000_row(1, "A")])
    with open(path, "a", encoding="utf-8") as f:
        f.write("1,2,3\n")
    with pytest.raises(DataFormatError, match="expected 20 fields") as info:
        load_tmdb5000(tmp_path)
    assert info.value.line == 3


def test_missing_column_bad_quoting_bad_bytes_and_empty_file(tmp_path):
    path = tmp_path / "tmdb_5000_movies.csv"
    write_csv(path, [c for c in TMDB5000_HEADER if c != "overview"], [])
    with pytest.raises(DataFormatError, match="no column 'overview'") as info:
        load_tmdb5000(tmp_path)
    assert info.value.line == 1
    path.write_text(",".join(TMDB5000_HEADER) + '\n1,"[]",x,"y"z\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="bad CSV quoting") as info:
        load_tmdb5000(tmp_path)
    assert info.value.line == 2
    path.write_bytes((",".join(TMDB5000_HEADER) + "\n\n").encode() + b"\xff\n")
    with pytest.raises(DataFormatError, match="not valid UTF-8") as info:
        load_tmdb5000(tmp_path)
    assert info.value.line == 3
    path.write_text(",".join(TMDB5000_HEADER) + "\n1,x\ry\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="carriage return") as info:
        load_tmdb5000(tmp_path)
    assert info.value.line == 2
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError, match="empty"):
        load_tmdb5000(tmp_path)


def test_bom_and_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "tmdb_5000_movies.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(TMDB5000_HEADER)
        writer.writerow(tmdb5000_row(1, "A", "x\ry"))
        f.write("\r\n")
        writer.writerow(tmdb5000_row(2, "B"))
    table = load_tmdb5000(tmp_path).table
    assert table["title"].tolist() == ["A", "B"]
    assert table["overview"].iloc[0] == "x\ry"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
                min_size=1, max_size=5))
def test_overviews_round_trip_and_bad_line_is_found(tmp_path_factory, overviews):
    """Any overview text (quotes, commas, line breaks, \\r) reads back as written (stripped),
    and a malformed row after them is reported at its line (counting \\n only). Every field
    is quoted: Python's minimal quoting leaves a lone \\r bare, which no reader can read."""
    folder = tmp_path_factory.mktemp("h")
    rows = [tmdb5000_row(k + 1, f"T{k}", text) for k, text in enumerate(overviews)]
    path = write_csv(folder / "tmdb_5000_movies.csv", TMDB5000_HEADER, rows, csv.QUOTE_ALL)
    table = load_tmdb5000(folder).table
    got = [None if pd.isna(v) else v for v in table["overview"]]
    assert got == [text.strip() or None for text in overviews]
    before = path.read_bytes().count(b"\n")
    with open(path, "a", encoding="utf-8") as f:
        f.write("x\n")
    with pytest.raises(DataFormatError) as info:
        load_tmdb5000(folder)
    assert info.value.line == before + 1


def test_exact_and_conflicting_repeats(tmp_path):
    row = tmdb5000_row(7, "Seven")
    other = tmdb5000_row(7, "Seven (recut)")
    write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB5000_HEADER, [row, row, other])
    data = load_tmdb5000(tmp_path)
    assert data.table["title"].tolist() == ["Seven"]      # the first row is kept
    assert data.report.duplicate_rows["tmdb_5000_movies.csv"] == 1
    assert data.report.conflicting_ids["tmdb_5000_movies.csv"] == (7,)
    assert "1 exact duplicate rows dropped" in data.report.describe()
    assert "the first row kept (7)" in data.report.describe()


# ---------------------------------------------------------------------- The Movies Dataset
@pytest.fixture
def movies_dataset_dir(tmp_path) -> Path:
    good = metadata_row(862, "Toy Story", "Toys.", ["Animation", "Comedy"], "tt0114709",
                        "1995-10-30", "30000000", "21.9")
    broken = metadata_row(8844, "Jumanji", "A board game - Written by Someone", ["Adventure"],
                          "tt0113497", "1995-12-15")
    head = broken[:10]
    head[9] = "A board game"
    tail = [" - Written by Someone"] + broken[10:]
    orphan_tail = [" - tail of a lost record"] + metadata_row(1, "Lost", date="2014-01-01")[10:]
    no_imdb = metadata_row(15602, "Grumpier Old Men", "Old men.", ["Romance"], "")
    write_csv(tmp_path / "movies_metadata.csv", METADATA_HEADER,
              [good, head, tail, no_imdb, orphan_tail])
    kw = [["862", as_literal(["toy", "friendship"])], ["862", as_literal(["toy", "friendship"])],
          ["8844", as_literal(["board game", "based on children's book"])],
          ["15602", "[]"], ["99", as_literal(["only keywords"])],
          ["99", as_literal(["only keywords"])]]
    write_csv(tmp_path / "keywords.csv", ["id", "keywords"], kw)
    cast, crew = credits_json(["Tom Hanks", "Tim Allen"], ["John Lasseter"])
    write_csv(tmp_path / "credits.csv", ["cast", "crew", "id"],
              [[repr(cast), repr(crew), "862"]])
    write_csv(tmp_path / "links.csv", ["movieId", "imdbId", "tmdbId"],
              [["1", "0114709", "862"], ["2", "0113497", "8844"], ["3", "0113228", "15602"],
               ["4", "0000004", ""], ["5", "0000005", "862"], ["6", "0000006", "862"]])
    return tmp_path


def test_movies_dataset_union_and_fields(movies_dataset_dir):
    data = load_movies_dataset(movies_dataset_dir)
    table = data.table.set_index("tmdb_id")
    assert table.index.tolist() == [99, 862, 8844, 15602]
    toy = table.loc[862]
    assert toy["imdb_id"] == 114709 and toy["genres"] == ("Animation", "Comedy")
    assert toy["keywords"] == ("toy", "friendship")
    assert toy["cast"] == ("Tom Hanks", "Tim Allen") and toy["directors"] == ("John Lasseter",)
    assert toy["budget"] == 30e6 and toy["popularity"] == pytest.approx(21.9)
    assert table.loc[8844, "keywords"] == ("board game", "based on children's book")
    assert table.loc[15602, "imdb_id"] == 113228         # filled in from links.csv
    assert table.loc[99, "keywords"] == ("only keywords",) and pd.isna(table.loc[99, "title"])


def test_movies_dataset_date_id_rows_rejoined_or_skipped(movies_dataset_dir):
    data = load_movies_dataset(movies_dataset_dir)
    report = data.report
    assert report.skipped_lines["movies_metadata.csv"] == (4, 6)
    assert report.rejoined_lines["movies_metadata.csv"] == ((3, 4),)
    jumanji = data.table.set_index("tmdb_id").loc[8844]
    assert jumanji["overview"] == "A board game  - Written by Someone"
    assert jumanji["year"] == 1995 and jumanji["popularity"] == 2.0
    assert "2 rows whose id holds a date (lines 4, 6): 1 rejoined" in report.describe()


def test_movies_dataset_report(movies_dataset_dir):
    report = load_movies_dataset(movies_dataset_dir).report
    assert report.duplicate_rows["keywords.csv"] == 2
    assert report.rows["keywords.csv"] == 6
    assert report.links.n_rows == 6 and report.links.n_without_tmdb == 1
    assert report.links.n_repeated_tmdb_rows == 2
    assert report.links.repeated_tmdb_ids == (862,)
    assert report.zeros_unknown["movies_metadata.csv"]["budget"] == 2


def test_movies_dataset_keywords_only(tmp_path):
    write_csv(tmp_path / "keywords.csv", ["id", "keywords"], [["5", as_literal(["heist"])]])
    data = load_movies_dataset(tmp_path)
    assert data.table["keywords"].tolist() == [("heist",)]
    assert data.report.links is None and data.report.sources == ("movies-dataset",)


@pytest.mark.parametrize("text", ["__import__('os').system('touch pwned')",
                                  "[{'id': 1, 'name': 'x'}", "open('/etc/passwd')"])
def test_literal_lists_never_run_code(tmp_path, text, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "keywords.csv", ["id", "keywords"],
              [["1", "[]"], ["2", text]])
    with pytest.raises(DataFormatError, match="not a Python literal") as info:
        load_movies_dataset(tmp_path)
    assert (info.value.line, info.value.field) == (3, "keywords")
    assert not (tmp_path / "pwned").exists()


def test_movies_metadata_bad_imdb_and_short_row(tmp_path):
    write_csv(tmp_path / "movies_metadata.csv", METADATA_HEADER,
              [metadata_row(1, "A", imdb="nm123")])
    with pytest.raises(DataFormatError, match="IMDb id") as info:
        load_movies_dataset(tmp_path)
    assert (info.value.line, info.value.field) == (2, "imdb_id")
    # a short row that is not the head of a broken record is refused
    write_csv(tmp_path / "movies_metadata.csv", METADATA_HEADER,
              [metadata_row(1, "A")[:10], metadata_row(2, "B")])
    with pytest.raises(DataFormatError, match="expected 24 fields") as info:
        load_movies_dataset(tmp_path)
    assert info.value.line == 2


# ---------------------------------------------------------------------- TMDB API JSON
def api_movie(tmdb_id, title, **extra):
    cast, crew = credits_json(["Brad Pitt", "Edward Norton"], ["David Fincher"])
    movie = {"id": tmdb_id, "imdb_id": "tt0137523", "title": title, "overview": "Soap.",
             "genres": [{"id": 18, "name": "Drama"}], "release_date": "1999-10-15",
             "popularity": 61.4, "budget": 63000000, "revenue": 0, "runtime": 139,
             "vote_average": 8.4, "vote_count": 26280,
             "keywords": {"keywords": [{"id": 1, "name": "dual identity"}]},
             "credits": {"cast": cast, "crew": crew}}
    movie.update(extra)
    return movie


def test_api_folder_of_json_files(tmp_path):
    folder = tmp_path / "api"
    folder.mkdir()
    (folder / "550.json").write_text(json.dumps(api_movie(550, "Fight Club")))
    (folder / "551.json").write_text(json.dumps(
        {"id": 551, "title": "Bare", "imdb_id": None, "release_date": ""}))
    data = load_tmdb_api(folder)
    table = data.table.set_index("tmdb_id")
    club = table.loc[550]
    assert club["imdb_id"] == 137523 and club["keywords"] == ("dual identity",)
    assert club["cast"] == ("Brad Pitt", "Edward Norton")
    assert club["directors"] == ("David Fincher",) and club["year"] == 1999
    assert math.isnan(club["revenue"])
    bare = table.loc[551]
    assert bare["keywords"] == () and pd.isna(bare["imdb_id"]) and pd.isna(bare["year"])
    assert data.report.zeros_unknown["api"] == {"revenue": 1}


def test_api_json_lines_repeats_and_plain_keyword_list(tmp_path):
    path = tmp_path / "api.jsonl"
    movie = api_movie(550, "Fight Club", keywords=[{"id": 1, "name": "soap"}])
    lines = [json.dumps(movie), "", json.dumps(movie),
             json.dumps(api_movie(550, "Fight Club", popularity=70.0))]
    path.write_text("\n".join(lines) + "\n")
    data = load_tmdb_api(path)
    assert data.table["keywords"].tolist() == [("soap",)]
    assert data.table["popularity"].tolist() == [61.4]      # the first kept
    assert data.report.duplicate_rows["api.jsonl"] == 1
    assert data.report.conflicting_ids["api.jsonl"] == (550,)


@pytest.mark.parametrize("line, field, message", [
    ('{"id": 5, "title": 3}', "title", "expected text"),
    ('{"id": "x"}', "id", "positive integer id"),
    ('{"id": 5, "genres": "Drama"}', "genres", "expected a list"),
    ('{"id": 5, "credits": []}', "credits", "'cast' and 'crew'"),
    ('{"id": 5, "budget": "big"}', "budget", "expected a number"),
    ('{"id": 5, "imdb_id": "tt12x"}', "imdb_id", "IMDb id"),
])
def test_api_wrong_types_name_line_and_field(tmp_path, line, field, message):
    path = tmp_path / "api.jsonl"
    path.write_text(json.dumps(api_movie(1, "ok")) + "\n" + line + "\n")
    with pytest.raises(DataFormatError, match=message) as info:
        load_tmdb_api(path)
    assert (info.value.line, info.value.field) == (2, field)


def test_api_invalid_json_and_non_objects(tmp_path):
    path = tmp_path / "api.jsonl"
    path.write_text('{"id": 1}\n{"id": 2,\n')
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        load_tmdb_api(path)
    assert info.value.line == 2
    path.write_text('[1, 2]\n')
    with pytest.raises(DataFormatError, match="expected a JSON object"):
        load_tmdb_api(path)
    folder = tmp_path / "api"
    folder.mkdir()
    with pytest.raises(DataNotFoundError, match="no .json file"):
        load_tmdb_api(folder)
    (folder / "1.json").write_text('{"id": 1,\n "title": }')
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        load_tmdb_api(folder)
    assert info.value.path.endswith("1.json") and info.value.line == 2
    with pytest.raises(DataNotFoundError):
        load_tmdb_api(tmp_path / "absent.jsonl")


# ---------------------------------------------------------------------- finder and load_tmdb
def test_find_tmdb_local_first(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "tmdb").mkdir(parents=True)
    write_csv(data / "tmdb" / "keywords.csv", ["id", "keywords"], [])
    cache = tmp_path / "cache"
    monkeypatch.setenv("RECSYS_CACHE", str(cache))
    monkeypatch.setenv("RECSYS_DATA", str(data))
    assert find_tmdb() == data / "tmdb"
    assert find_tmdb(data) == data / "tmdb"              # a parent of tmdb/
    assert find_tmdb(data / "tmdb") == data / "tmdb"     # the folder itself
    monkeypatch.delenv("RECSYS_DATA")
    (cache / "tmdb").mkdir(parents=True)
    write_csv(cache / "tmdb" / "tmdb_5000_movies.csv", TMDB5000_HEADER, [])
    assert find_tmdb() == cache / "tmdb"


def test_find_tmdb_given_folder_is_used_alone(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "tmdb").mkdir(parents=True)
    write_csv(data / "tmdb" / "keywords.csv", ["id", "keywords"], [])
    monkeypatch.setenv("RECSYS_DATA", str(data))
    empty = tmp_path / "empty"
    empty.mkdir()
    write_csv(empty / "links.csv", ["movieId", "imdbId", "tmdbId"], [])  # not metadata
    with pytest.raises(DataNotFoundError) as info:
        find_tmdb(empty)
    message = str(info.value)
    assert str(empty) in message and str(data) not in message
    assert "kaggle.com/datasets/tmdb/tmdb-movie-metadata" in message
    assert "do not allow" in message
    with pytest.raises(DataNotFoundError, match="is a file"):
        find_tmdb(empty / "links.csv")


def test_find_tmdb_not_found_lists_places(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA", str(tmp_path / "nodata"))
    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path / "nocache"))
    with pytest.raises(DataNotFoundError) as info:
        find_tmdb()
    message = str(info.value)
    assert str(tmp_path / "nodata" / "tmdb") in message
    assert str(tmp_path / "nocache" / "tmdb") in message
    assert "tmdb_5000_movies.csv" in message and "movies_metadata.csv" in message


def test_load_tmdb_merges_sources_in_priority(tmp_path):
    write_csv(tmp_path / "tmdb_5000_movies.csv", TMDB5000_HEADER,
              [tmdb5000_row(862, "Toy Story", "From TMDB 5000.", ["Animation"], [])])
    write_csv(tmp_path / "keywords.csv", ["id", "keywords"],
              [["862", as_literal(["toy"])], ["5", as_literal(["hotel"])]])
    (tmp_path / "api.jsonl").write_text(json.dumps(
        {"id": 862, "title": "Toy Story (API)", "overview": ""}) + "\n")
    data = load_tmdb(tmp_path)
    assert data.report.sources == ("api", "tmdb5000", "movies-dataset")
    assert data.report.n_movies == 2
    toy = data.table.set_index("tmdb_id").loc[862]
    assert toy["title"] == "Toy Story (API)"             # API first
    assert toy["overview"] == "From TMDB 5000."          # the API has none
    assert toy["keywords"] == ("toy",) and toy["genres"] == ("Animation",)
    only = load_tmdb(tmp_path, sources=["movies-dataset"])
    assert only.report.sources == ("movies-dataset",) and len(only.table) == 2
    with pytest.raises(ValueError, match="unknown TMDB source 'imdb'"):
        load_tmdb(tmp_path, sources=["imdb"])
    (tmp_path / "api.jsonl").unlink()
    with pytest.raises(DataNotFoundError, match="no api files"):
        load_tmdb(tmp_path, sources=["api"])


def test_merge_metadata_first_known_value_wins(tmdb5000_dir, movies_dataset_dir):
    a = load_tmdb5000(tmdb5000_dir).table
    b = load_movies_dataset(movies_dataset_dir).table
    merged = merge_metadata(a, b)
    assert list(merged.columns) == list(COLUMNS)
    assert merged["tmdb_id"].tolist() == sorted(set(a["tmdb_id"]) | set(b["tmdb_id"]))
    assert merged["tmdb_id"].dtype == np.int64
    assert str(merged["imdb_id"].dtype) == "Int64" and str(merged["year"].dtype) == "Int64"
    toy = merged.set_index("tmdb_id").loc[862]
    assert toy["title"] == "Toy Story" and toy["overview"] == "Toys come alive."  # a first
    assert toy["imdb_id"] == 114709                                 # only b has it
    assert toy["cast"] == ("Tom Hanks", "Tim Allen")                 # a's is empty
    assert toy["keywords"] == ("toy",)                               # a's is not empty
    assert merged.set_index("tmdb_id").loc[99, "cast"] == ()
    with pytest.raises(ValueError, match="at least one"):
        merge_metadata()
    with pytest.raises(ValueError, match="tmdb_id 5 twice"):
        merge_metadata(pd.concat([a, a]))


# ---------------------------------------------------------------------- links and the join
def write_links(path: Path, rows) -> Path:
    return write_csv(path, ["movieId", "imdbId", "tmdbId"], rows)


def test_read_links_report_and_errors(tmp_path):
    path = write_links(tmp_path / "links.csv", [["1", "0114709", "862"], ["2", "", "862"],
                                                 ["3", "0000003", ""], ["4", "0000004", "862"]])
    links, report = read_links(path)
    assert links.index.name == "item" and links.index.tolist() == [1, 2, 3, 4]
    assert str(links["tmdb_id"].dtype) == "Int64"
    assert (report.n_rows, report.n_without_tmdb, report.n_without_imdb) == (4, 1, 1)
    assert report.n_repeated_tmdb_rows == 2 and report.repeated_tmdb_ids == (862,)
    write_links(path, [["1", "1", "862"], ["2", "2", "3"], ["1", "3", "4"]])
    with pytest.raises(DataFormatError, match="movieId 1 is listed twice .lines 2 and 4") as info:
        read_links(path)
    assert (info.value.line, info.value.field) == (4, "movieId")
    write_links(path, [["1", "1", "862"], ["2", "tt2", "3"]])
    with pytest.raises(DataFormatError) as info:
        read_links(path)
    assert info.value.line == 3


@pytest.fixture
def small_metadata(tmp_path) -> pd.DataFrame:
    records = [
        {"id": 10, "imdb_id": "tt0000010", "title": "Ten", "overview": "A heist.",
         "keywords": {"keywords": [{"id": 1, "name": "heist"}]}},
        {"id": 20, "imdb_id": "tt0000020", "title": "Twenty", "overview": "",
         "keywords": [{"id": 2, "name": "bank"}]},
        {"id": 30, "imdb_id": "tt0000099", "title": "Thirty A"},
        {"id": 31, "imdb_id": "tt0000099", "title": "Thirty B"},   # imdbId shared: ambiguous
    ]
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    return load_tmdb_api(path).table


def test_join_by_tmdb_then_imdb(small_metadata):
    links = pd.DataFrame({"imdb_id": pd.array([10, 20, 99, None, 7, 10], dtype="Int64"),
                          "tmdb_id": pd.array([10, None, None, 555, 777, 10], dtype="Int64")},
                         index=pd.Index([1, 2, 3, 4, 5, 6], name="item"))
    joined = join_movielens(small_metadata, links)
    items = joined.items
    assert items.index.tolist() == [1, 2, 3, 4, 5, 6]
    assert items["matched_by"].tolist() == ["tmdb", "imdb", "", "", "", "tmdb"]
    assert items["title"].tolist()[:2] == ["Ten", "Twenty"]
    assert pd.isna(items.loc[3, "tmdb_id"]) and items.loc[3, "keywords"] == ()
    assert pd.isna(items.loc[4, "title"]) and math.isnan(items.loc[4, "popularity"])
    cov = joined.coverage
    assert (cov.n_movies, cov.n_with_tmdb_id, cov.n_with_imdb_id) == (6, 4, 5)
    assert (cov.n_matched, cov.n_by_tmdb, cov.n_by_imdb) == (3, 2, 1)
    assert cov.n_shared == 2 and cov.n_metadata == 4 and cov.n_used == 2
    assert cov.with_field["overview"] == 2 and cov.with_field["keywords"] == 3
    assert cov.with_field["overview+keywords"] == 2
    text = cov.describe()
    assert "TMDB coverage of 6 movies" in text and "2 by tmdbId, 1 by imdbId" in text


def test_join_imdb_fallback_when_tmdb_id_unknown(small_metadata):
    links = pd.DataFrame({"imdb_id": pd.array([20], dtype="Int64"),
                          "tmdb_id": pd.array([123456], dtype="Int64")},
                         index=pd.Index([1], name="item"))
    joined = join_movielens(small_metadata, links)
    assert joined.items["matched_by"].tolist() == ["imdb"]
    assert joined.items["tmdb_id"].tolist() == [20]


def test_aligned_to_item_ids_and_join_dataset(small_metadata):
    info = pd.DataFrame({"title": ["x", "y", "z"],
                         "imdb_id": pd.array([10, 20, None], dtype="Int64"),
                         "tmdb_id": pd.array([10, None, 30], dtype="Int64")},
                        index=pd.Index([100, 200, 300], name="item"))
    ds = Dataset(np.array([0, 0]), np.array([0, 1]), np.array([4.0, 3.0]), None,
                 np.array([1]), np.array([300, 100, 999]), item_info=info, name="tiny")
    joined = join_dataset(small_metadata, ds)
    assert joined.coverage.n_movies == 3 and joined.coverage.n_matched == 3
    rows = joined.aligned(ds.item_ids)
    assert rows.index.tolist() == [300, 100, 999]
    assert rows["title"].tolist()[:2] == ["Thirty A", "Ten"]
    assert rows.loc[999, "keywords"] == () and rows.loc[999, "matched_by"] == ""
    bare = Dataset(np.array([0]), np.array([0]), np.array([4.0]), None, np.array([1]),
                   np.array([1]), item_info=pd.DataFrame({"title": ["a"]}, index=[1]),
                   name="ml-100k")
    with pytest.raises(ValueError, match="ml-100k has no links"):
        join_dataset(small_metadata, bare)


def test_join_refuses_bad_inputs(small_metadata):
    links = pd.DataFrame({"tmdb_id": pd.array([10], dtype="Int64")}, index=[1])
    with pytest.raises(ValueError, match="no 'imdb_id' column"):
        join_movielens(small_metadata, links)
    with pytest.raises(ValueError, match="no column 'overview'"):
        join_movielens(small_metadata.drop(columns="overview"), links)
    with pytest.raises(TypeError, match="metadata table"):
        join_movielens([1, 2], links)
