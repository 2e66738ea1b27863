"""Serving with TMDB details (``recsys serve --metadata tmdb``): the catalogue's version-2
rows, the optional item fields of the API and its schema, what similar items share, and the
CLI's training and cache key, on small data the tests write."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from recsys.data import ReleaseMismatchWarning
from recsys.models import FunkSVD, ItemKNN
from recsys.serve import Catalogue, CatalogueError, create_app, sidecar_path
from recsys.serve.schemas import ItemOut, SimilarOut, UserOut, UserRecommendationsOut
from recsys.serve.service import KEYWORDS_SHOWN
from test_serve_api import synthetic_dataset, write_model

TMDB_FIELDS = ("tmdb_id", "overview", "tmdb_genres", "keywords")
MANY = [f"keyword {k:02d}" for k in range(14)]


def tmdb_items() -> pd.DataFrame:
    """TMDB details of three items of synthetic_dataset (indexed by its raw item ids): 10
    (Amélie) and 20 share 'heist'; 20 has no MovieLens year (TMDB's fills it) and 16
    keywords; 610 is a catalogue item no one rated."""
    return pd.DataFrame({
        "tmdb_id": pd.array([194, 949, 77], dtype="Int64"),
        "overview": ["A shy waitress decides to change the lives of those around her.",
                     float("nan"), "An unrated movie with an overview."],
        "genres": [("Comedy", "Romance"), ("Crime",), ()],
        "keywords": [("paris", "heist", "waitress"), ("heist", "bank robbery", *MANY), ()],
        "year": pd.array([2001, 1995, None], dtype="Int64"),
    }, index=pd.Index([10, 20, 610], name="item"))


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset()


@pytest.fixture(scope="module")
def catalogue(data):
    return Catalogue.from_frame(data.item_info, dataset="synthetic", metadata=tmdb_items())


@pytest.fixture(scope="module")
def mf_path(tmp_path_factory, data, catalogue):
    path = write_model(tmp_path_factory.mktemp("mf"), FunkSVD(n_factors=4, n_epochs=15, seed=0),
                       data)
    catalogue.save(sidecar_path(path))
    return path


@pytest.fixture(scope="module")
def client(mf_path):
    return TestClient(create_app(mf_path))


# ---------------------------------------------------------------------- the catalogue
def test_catalogue_details_from_a_join(catalogue):
    assert catalogue.has_details
    assert catalogue.detail(10) == {
        "tmdb_id": 194, "overview": "A shy waitress decides to change the lives of those "
        "around her.", "tmdb_genres": ["Comedy", "Romance"],
        "keywords": ["paris", "heist", "waitress"]}
    assert catalogue.detail(20) == {"tmdb_id": 949, "tmdb_genres": ["Crime"],
                                    "keywords": ["heist", "bank robbery", *MANY]}
    assert catalogue.detail(30) == {} and catalogue.detail(99999) == {}
    assert catalogue.get(20) == ("Movie 01 (1981)", 1995, ["Action"])  # TMDB's year fills in
    assert catalogue.get(10)[1] == 1980  # MovieLens' year is kept where it has one


def test_catalogue_version_2_round_trip(tmp_path, catalogue):
    path = catalogue.save(tmp_path / "c.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format_version"] == 2
    rows = {row[0]: row for row in doc["items"]}
    assert len(rows[10]) == 5 and len(rows[30]) == 4  # details only where there are some
    back = Catalogue.load(path)
    assert back.details == catalogue.details and back.years == catalogue.years


def test_catalogue_without_details_is_still_version_1(tmp_path, data):
    path = Catalogue.from_frame(data.item_info).save(tmp_path / "c.json")
    assert json.loads(path.read_text())["format_version"] == 1
    assert not Catalogue.load(path).has_details


def test_catalogue_version_1_file_loads(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format": "recsys-catalogue", "format_version": 1,
                                "dataset": "old", "items": [[1, "A (1999)", 1999, "Drama"]]}))
    old = Catalogue.load(path)
    assert old.get(1) == ("A (1999)", 1999, ["Drama"]) and old.detail(1) == {}


@pytest.mark.parametrize("version, row, message", [
    (1, [1, "A", None, "", {"overview": "x"}], r"items\[0\] is not \[item_id, title, year, "
                                                r"genres\]"),
    (2, [1, "A", None, "", ["x"]], r"items\[0\]\[4\]: expected an object"),
    (2, [1, "A", None, "", {"plot": "x"}], r"unknown field 'plot'"),
    (2, [1, "A", None, "", {"keywords": "heist"}], r"keywords: expected a list of text"),
    (2, [1, "A", None, "", {"keywords": ["heist", 3]}], r"keywords: expected a list of text"),
    (2, [1, "A", None, "", {"tmdb_id": "949"}], r"tmdb_id: expected an integer"),
    (2, [1, "A", None, "", {"tmdb_id": True}], r"tmdb_id: expected an integer"),
    (3, [1, "A", None, ""], r"version 3 is not supported \(this recsys reads versions 1, 2\)"),
])
def test_catalogue_detail_errors_name_the_row_and_field(tmp_path, version, row, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "recsys-catalogue", "format_version": version,
                                "items": [row]}))
    with pytest.raises(CatalogueError, match=message):
        Catalogue.load(path)


def test_catalogue_constructor_checks_details():
    with pytest.raises(CatalogueError, match="unknown item detail 'plot'"):
        Catalogue([1], ["A"], [None], [""], details=[{"plot": "x"}])
    with pytest.raises(CatalogueError, match="differ in length"):
        Catalogue([1, 2], ["A", "B"], [None] * 2, [""] * 2, details=[{}])


# ---------------------------------------------------------------------- the API
def test_item_view_has_the_tmdb_fields_where_known(client):
    amelie = client.get("/items/10").json()
    assert amelie["overview"].startswith("A shy waitress")
    assert amelie["keywords"] == ["paris", "heist", "waitress"]
    assert amelie["tmdb_genres"] == ["Comedy", "Romance"] and amelie["tmdb_id"] == 194
    ItemOut.model_validate(amelie)
    twenty = client.get("/items/20").json()
    assert "overview" not in twenty and twenty["year"] == 1995
    assert twenty["keywords"] == ["heist", "bank robbery", *MANY][:KEYWORDS_SHOWN]
    plain = client.get("/items/30").json()
    assert not set(TMDB_FIELDS) & set(plain)  # absent, never null
    unrated = client.get("/items/610").json()
    assert unrated["in_model"] is False and unrated["overview"].startswith("An unrated")


def test_lists_carry_the_tmdb_fields(client, data):
    found = client.get("/items", params={"query": "amélie"}).json()["items"]
    assert found[0]["keywords"] == ["paris", "heist", "waitress"]
    recs, seen = [], []
    for user in data.user_ids[:40]:
        body = client.get(f"/users/{int(user)}/recommendations", params={"k": 60}).json()
        UserRecommendationsOut.model_validate(body)
        recs += body["items"]
        profile = client.get(f"/users/{int(user)}", params={"top": 100}).json()
        UserOut.model_validate(profile)
        seen += profile["top_rated"]
    for items in (recs, seen):
        with_details = [it for it in items if it["item_id"] in (10, 20)]
        assert with_details and all("keywords" in it for it in with_details)
        for it in with_details:  # overview, year, TMDB genres and keywords, as the item view
            if it["item_id"] == 10:
                # MovieLens' year (1980) stands; TMDB's fills only a missing one (item 20)
                assert it["overview"].startswith("A shy waitress") and it["year"] == 1980
                assert it["tmdb_genres"] == ["Comedy", "Romance"]
            else:
                assert it["year"] == 1995 and it["tmdb_genres"] == ["Crime"]
                assert "overview" not in it
        assert all(not set(TMDB_FIELDS) & set(it) for it in items
                   if it["item_id"] not in (10, 20))
    new = client.post("/recommendations", json={"ratings": [{"item_id": 30, "rating": 5}],
                                                "k": 60}).json()
    assert any(it.get("overview", "").startswith("A shy") for it in new["items"])


def test_similar_items_say_what_they_share(tmp_path, data, catalogue):
    path = write_model(tmp_path, ItemKNN(k=10, similarity="cosine", min_support=1), data,
                       sidecar=False)
    catalogue.save(sidecar_path(path))
    client = TestClient(create_app(path))
    items = client.get("/items/10/similar", params={"k": 100}).json()
    SimilarOut.model_validate(items)
    by_id = {it["item_id"]: it for it in items["items"]}
    # the catalogue's TMDB keywords, for a model that keeps no terms of its own
    assert by_id[20]["shared"] == "shares keywords: heist"
    assert all("shared" not in it for i, it in by_id.items() if i != 20)
    from recsys.serve.service import Service

    svc = Service.load(path)
    assert svc._shared(svc.item_row[10], svc.item_row[20]) == "shares keywords: heist"


def test_openapi_documents_the_optional_fields(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    item = schemas["ItemOut"]
    for name in TMDB_FIELDS:
        assert name in item["properties"] and name not in item["required"]
        assert item["properties"][name]["description"]
    assert "shared" in schemas["SimilarItemOut"]["properties"]
    assert "shared" not in schemas["SimilarItemOut"]["required"]


# ---------------------------------------------------------------------- the CLI
@pytest.fixture
def root(tmp_path):
    from tmdb_fixture import write_both

    return write_both(tmp_path / "data")


def _quiet():
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", ReleaseMismatchWarning)
    return ctx


def test_catalogue_from_dataset_with_tmdb(root):
    ctx = _quiet()
    try:
        cat = Catalogue.from_dataset("ml-latest-small", root, "tmdb")
    finally:
        ctx.__exit__(None, None, None)
    assert cat.detail(2)["keywords"] == ["heist", "bank robbery", "detective", "obsession"]
    assert cat.detail(4) == {"tmdb_id": 524, "keywords": ["casino", "heist", "bank robbery",
                                                          "mafia"]}
    assert cat.detail(5) == {} and cat.detail(6) == {}
    assert cat.detail(7)["overview"].startswith("A crew plans")


def test_train_and_save_with_metadata(tmp_path, root):
    from recsys.cli.serve import train_and_save

    logs: list[str] = []
    ctx = _quiet()
    try:
        plain = train_and_save("ml-latest-small", "funksvd", {"n_epochs": 2}, tmp_path / "c",
                               root, log=logs.append)
        with_tmdb = train_and_save("ml-latest-small", "funksvd", {"n_epochs": 2},
                                   tmp_path / "c", root, log=logs.append, metadata="tmdb")
        n_logs = len(logs)
        again = train_and_save("ml-latest-small", "funksvd", {"n_epochs": 2}, tmp_path / "c",
                               root, log=logs.append, metadata="tmdb")
        reuse = logs[n_logs:]
        (root / "tmdb" / "keywords.csv").write_text("id,keywords\n862,[]\n")
        changed = train_and_save("ml-latest-small", "funksvd", {"n_epochs": 2},
                                 tmp_path / "c", root, log=logs.append, metadata="tmdb")
    finally:
        ctx.__exit__(None, None, None)
    assert with_tmdb != plain and with_tmdb.name.startswith("ml-latest-small+tmdb-funksvd-")
    assert again == with_tmdb and len(reuse) == 1 and "cached" in reuse[0]
    assert changed != with_tmdb and not with_tmdb.exists()  # the TMDB files are in the key
    assert not Catalogue.load(sidecar_path(plain)).has_details
    cat = Catalogue.load(sidecar_path(changed))
    assert cat.detail(7)["overview"].startswith("A crew plans")
    assert cat.detail(4) == {}  # its keywords came from the keywords.csv replaced
    assert any("tmdb metadata from" in line for line in logs)


def test_serve_metadata_argument_errors(tmp_path, capsys):
    from recsys.cli import main

    model = tmp_path / "m.npz"
    model.write_bytes(b"")
    for argv, message in [
        (["serve", "--model", str(model), "--metadata", "tmdb"], "--metadata needs --dataset"),
        (["serve", "--model", str(model), "--metadata-dir", str(tmp_path)],
         "--metadata-dir needs --metadata tmdb"),
    ]:
        assert main(argv) == 1
        assert message in capsys.readouterr().err


def test_a_content_model_says_what_its_similar_items_share(tmp_path, root):
    """A model that declares the "shared_features" capability (ContentKNN) names the terms
    its own similarity counts: with features="tmdb", the TMDB keywords and genres."""
    from recsys.cli.serve import train_and_save

    ctx = _quiet()
    try:
        path = train_and_save("ml-latest-small", "contentknn", {"features": "tmdb", "k": 5},
                              tmp_path / "c", root, log=lambda _: None, metadata="tmdb")
    finally:
        ctx.__exit__(None, None, None)
    client = TestClient(create_app(path))
    caps = client.get("/health").json()["capabilities"]
    assert caps["similar_items"] and caps["shared_features"]
    body = client.get("/items/2/similar", params={"k": 5}).json()
    SimilarOut.model_validate(body)
    assert body["item"]["keywords"] == ["heist", "bank robbery", "detective", "obsession"]
    first = body["items"][0]
    assert first["title"] == "Casino (1995)"
    assert first["shared"] == "shares keywords: heist, bank robbery"
