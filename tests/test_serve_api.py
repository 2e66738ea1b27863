"""The serving API (recsys.serve) through FastAPI's TestClient: every endpoint and every
error, on small synthetic models saved to a temporary folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from recsys.dataset import Dataset
from recsys.models import FunkSVD, ItemKNN, UserKNN
from recsys.serve import Catalogue, CatalogueError, create_app, sidecar_path
from recsys.serve.errors import ServeError
from recsys.serve.schemas import (
    HealthOut,
    ItemPageOut,
    NewUserRecommendationsOut,
    PredictOut,
    SimilarOut,
    UserOut,
    UserRecommendationsOut,
)

N_USERS, N_ITEMS, N_UNRATED = 40, 60, 3
GENRES = ["Action", "Comedy", "Drama", "Sci-Fi", "Romance"]


def synthetic_dataset(seed: int = 0, n_users: int = N_USERS, n_items: int = N_ITEMS,
                      string_ids: bool = False) -> Dataset:
    """Ratings 1-5 from a rank-3 model (so neighbours and factors mean something), raw ids
    that are not 0..n-1 (users 101, 103, ...; items 10, 20, ...), and an item_info frame
    with titles, years and genres that also lists N_UNRATED items no one rated."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, size=rng.integers(8, 20), replace=False):
            r = float(np.clip(np.rint(3 + P[u] @ Q[i] + rng.normal(scale=0.3)), 1, 5))
            rows.append((101 + 2 * u, 10 * (i + 1), r))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    if string_ids:
        frame["user"] = "u" + frame["user"].astype(str)
    all_items = [10 * (i + 1) for i in range(n_items + N_UNRATED)]
    info = pd.DataFrame({
        "title": [("Amélie" if i == 0 else f"Movie {i:02d}") + f" ({1980 + i % 30})"
                  for i in range(len(all_items))],
        "year": pd.array([1980 + i % 30 if i != 1 else None for i in range(len(all_items))],
                         dtype="Int64"),
        "genres": ["|".join(GENRES[j] for j in range(5) if (i >> j) & 1) for i in
                   range(len(all_items))],
    }, index=pd.Index(all_items, name="item"))
    return Dataset.from_frame(frame, rating_scale=(1.0, 5.0), item_info=info, name="synthetic")


def write_model(folder: Path, model, ds: Dataset, sidecar: bool = True) -> Path:
    """Fit ``model`` on ``ds`` and save it with its catalogue sidecar under ``folder``."""
    path = folder / f"{type(model).__name__.lower()}.npz"
    model.fit(ds).save(path)
    if sidecar:
        Catalogue.from_frame(ds.item_info, dataset=ds.name).save(sidecar_path(path))
    return path


@pytest.fixture(scope="module")
def data() -> Dataset:
    return synthetic_dataset()


@pytest.fixture(scope="module")
def mf_path(tmp_path_factory, data) -> Path:
    return write_model(tmp_path_factory.mktemp("mf"), FunkSVD(n_factors=4, n_epochs=15, seed=0),
                       data)


@pytest.fixture(scope="module")
def knn_path(tmp_path_factory, data) -> Path:
    return write_model(tmp_path_factory.mktemp("knn"), ItemKNN(k=10, similarity="cosine"), data)


@pytest.fixture(scope="module")
def mf(mf_path):
    return FunkSVD.load(mf_path)


@pytest.fixture(scope="module")
def client(mf_path) -> TestClient:
    return TestClient(create_app(mf_path))


@pytest.fixture(scope="module")
def knn_client(knn_path) -> TestClient:
    return TestClient(create_app(knn_path))


def user_ids(data):
    return [int(u) for u in data.user_ids]


def seen_items(data, raw_user) -> set[int]:
    u = int(data.user_index([raw_user])[0])
    items, _ = data.user_items(u)
    return {int(data.item_ids[i]) for i in items}


def assert_422(resp, field: str):
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert field in body["detail"]
    assert any(e["field"] == field for e in body["errors"]), body


def assert_404(resp, kind: str, raw_id):
    assert resp.status_code == 404, resp.text
    body = resp.json()
    assert body["kind"] == kind and body["id"] == raw_id
    assert str(raw_id) in body["detail"]


# ---------------------------------------------------------------------- meta
def test_health(client, data):
    resp = client.get("/health")
    assert resp.status_code == 200
    body = HealthOut.model_validate(resp.json())
    assert body.model == "FunkSVD"
    assert body.dataset == "synthetic"
    assert (body.n_users, body.n_items) == (data.n_users, data.n_items)
    assert body.n_catalogue_items == N_ITEMS + N_UNRATED
    assert body.rating_scale == (1.0, 5.0)
    assert body.params["n_factors"] == 4
    assert body.capabilities.new_user and body.capabilities.similar_items
    assert not body.capabilities.explain
    from recsys import __version__
    assert body.version == __version__


def test_openapi_and_docs(client):
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/health", "/users", "/users/{user_id}", "/users/{user_id}/recommendations",
            "/items", "/items/{item_id}", "/items/{item_id}/similar", "/predict",
            "/recommendations"} <= paths
    # The new-user rating bounds are the model's scale.
    rating = schema["components"]["schemas"]["RatingIn"]["properties"]["rating"]
    assert (rating["minimum"], rating["maximum"]) == (1.0, 5.0)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_index_page_and_static(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "FunkSVD" in page.text and "synthetic" in page.text
    config = page.text.split('<script id="config" type="application/json">')[1].split("</script>")[0]
    assert json.loads(config)["stars"] == [1, 2, 3, 4, 5]
    for asset in ("/static/app.css", "/static/app.js"):
        assert client.get(asset).status_code == 200


def test_unknown_route_is_json_404(client):
    resp = client.get("/nope")
    assert resp.status_code == 404 and resp.json() == {"detail": "Not Found"}


# ---------------------------------------------------------------------- users
def test_users_are_paginated(client, data):
    first = client.get("/users", params={"page": 1, "page_size": 7}).json()
    second = client.get("/users", params={"page": 2, "page_size": 7}).json()
    assert first["total"] == data.n_users
    ids = [u["user_id"] for u in first["users"] + second["users"]]
    assert ids == user_ids(data)[:14]
    counts = dict(zip(user_ids(data), data.user_counts.tolist()))
    assert all(u["n_ratings"] == counts[u["user_id"]] for u in first["users"])
    assert client.get("/users", params={"page": 1000}).json()["users"] == []
    assert_422(client.get("/users", params={"page_size": 101}), "page_size")
    assert_422(client.get("/users", params={"page": 0}), "page")


def test_user_profile_top_rated(client, data):
    raw = user_ids(data)[3]
    body = UserOut.model_validate(client.get(f"/users/{raw}", params={"top": 5}).json())
    u = int(data.user_index([raw])[0])
    items, ratings = data.user_items(u)
    assert body.n_ratings == len(items)
    assert body.mean_rating == pytest.approx(float(ratings.mean()))
    got = [r.rating for r in body.top_rated]
    assert len(got) == 5 and got == sorted(got, reverse=True)
    assert got[0] == ratings.max()
    assert all(r.item_id in seen_items(data, raw) for r in body.top_rated)
    assert all(r.title.startswith(("Movie", "Amélie")) for r in body.top_rated)
    assert_404(client.get("/users/999999"), "user", 999999)


def test_recommendations_match_the_model(client, mf, data):
    raw = user_ids(data)[0]
    resp = client.get(f"/users/{raw}/recommendations", params={"k": 7})
    assert resp.status_code == 200
    body = UserRecommendationsOut.model_validate(resp.json())
    items, scores = mf.recommend(raw, 7, exclude_seen=True, raw=True)
    assert [r.item_id for r in body.items] == items.tolist()
    assert [r.score for r in body.items] == pytest.approx(scores.tolist())
    assert [r.rank for r in body.items] == list(range(1, 8))
    assert not seen_items(data, raw) & {r.item_id for r in body.items}
    first = body.items[0]
    info = data.item_info.loc[first.item_id]
    assert first.title == info["title"]
    assert first.genres == [g for g in info["genres"].split("|") if g]
    assert first.predicted_rating == pytest.approx(min(max(first.score, 1.0), 5.0))
    # FunkSVD cannot explain: no explanation, and no error either.
    assert first.explanation is None and first.because == []


def test_recommendations_with_seen_items(client, mf, data):
    raw = user_ids(data)[1]
    body = client.get(f"/users/{raw}/recommendations",
                      params={"k": N_ITEMS, "exclude_seen": "false"}).json()
    assert len(body["items"]) == N_ITEMS  # every model item, seen ones included
    assert seen_items(data, raw) <= {r["item_id"] for r in body["items"]}
    # More than there are unseen items: the list is shorter than k, with no padding.
    body = client.get(f"/users/{raw}/recommendations", params={"k": 1000}).json()
    assert len(body["items"]) == N_ITEMS - len(seen_items(data, raw))
    assert all(r["item_id"] > 0 for r in body["items"])


def test_knn_recommendations_are_explained(knn_client, knn_path, data):
    raw = user_ids(data)[2]
    body = UserRecommendationsOut.model_validate(
        knn_client.get(f"/users/{raw}/recommendations", params={"k": 5}).json())
    model = ItemKNN.load(knn_path)
    explained = [r for r in body.items if r.because]
    assert explained, "ItemKNN recommendations carry explanations"
    for rec in explained:
        idx, contrib = model.explain(raw, rec.item_id, 3, raw=True)
        assert [b.item_id for b in rec.because] == idx.tolist()
        assert all(b.item_id in seen_items(data, raw) for b in rec.because)
        assert all(b.rating is not None for b in rec.because)
        if rec.explanation:
            assert rec.because[0].title in rec.explanation


@pytest.mark.parametrize("k", ["0", "1001", "-3", "abc", "2.5"])
def test_bad_k_is_422(client, data, k):
    raw = user_ids(data)[0]
    assert_422(client.get(f"/users/{raw}/recommendations", params={"k": k}), "k")


def test_bad_user_ids(client):
    assert_404(client.get("/users/999999/recommendations"), "user", 999999)
    assert_404(client.get("/users/-5/recommendations"), "user", -5)
    huge = 10**30  # far outside int64: still a clean 404
    assert_404(client.get(f"/users/{huge}/recommendations"), "user", huge)
    assert_422(client.get("/users/abc/recommendations"), "user_id")
    assert_422(client.get("/users/101/recommendations", params={"exclude_seen": "maybe"}),
               "exclude_seen")


# ---------------------------------------------------------------------- items
def test_item_lookup(client, data):
    body = client.get("/items/10").json()
    assert body["title"] == "Amélie (1980)" and body["year"] == 1980
    assert body["in_model"] is True
    assert body["n_ratings"] == int(data.item_counts[data.item_index([10])[0]])
    assert client.get("/items/20").json()["year"] is None  # missing year -> null
    unrated = 10 * (N_ITEMS + 1)
    body = client.get(f"/items/{unrated}").json()
    assert body["in_model"] is False and body["n_ratings"] == 0
    assert_404(client.get("/items/7"), "item", 7)
    assert_422(client.get("/items/x"), "item_id")


def test_search_is_case_and_accent_insensitive_and_paginated(client):
    body = ItemPageOut.model_validate(client.get("/items", params={"query": "AMELIE"}).json())
    assert [i.item_id for i in body.items] == [10]
    body = client.get("/items", params={"query": "  movie  ", "page_size": 25}).json()
    assert body["total"] == N_ITEMS + N_UNRATED - 1
    assert len(body["items"]) == 25
    page3 = client.get("/items", params={"query": "movie", "page": 3, "page_size": 25}).json()
    assert len(page3["items"]) == body["total"] - 50
    everything = client.get("/items", params={"page_size": 100}).json()
    assert everything["total"] == N_ITEMS + N_UNRATED
    counts = [i["n_ratings"] for i in everything["items"]]
    assert counts == sorted(counts, reverse=True)  # most rated first
    assert client.get("/items", params={"query": "zzz"}).json()["items"] == []
    assert_422(client.get("/items", params={"query": "x" * 201}), "query")
    assert_422(client.get("/items", params={"page_size": 0}), "page_size")


def test_search_puts_title_prefix_matches_first(client):
    titles = [i["title"] for i in
              client.get("/items", params={"query": "1", "page_size": 100}).json()["items"]]
    assert all("1" in t for t in titles)
    starts = [t.startswith("1") for t in titles]
    assert starts == sorted(starts, reverse=True)


def test_similar_items(client, mf, knn_client, knn_path):
    body = SimilarOut.model_validate(client.get("/items/30/similar", params={"k": 5}).json())
    items, sims = mf.similar_items(30, 5, raw=True)
    assert body.item.item_id == 30
    assert [i.item_id for i in body.items] == items.tolist()
    assert [i.similarity for i in body.items] == pytest.approx(sims.tolist())
    assert 30 not in [i.item_id for i in body.items]
    knn = knn_client.get("/items/30/similar", params={"k": 3}).json()
    expected, _ = ItemKNN.load(knn_path).similar_items(30, 3, raw=True)
    assert [i["item_id"] for i in knn["items"]] == [i for i in expected.tolist() if i >= 0]
    assert_404(client.get("/items/7/similar"), "item", 7)
    unrated = 10 * (N_ITEMS + 1)
    resp = client.get(f"/items/{unrated}/similar")
    assert_404(resp, "item", unrated)
    assert "not in the model" in resp.json()["detail"]
    assert_422(client.get("/items/30/similar", params={"k": 0}), "k")


# ---------------------------------------------------------------------- predict
def test_predict_matches_the_model_and_flags_unknown_ids(client, mf, data):
    u, i = user_ids(data)[:3], [10, 20, 30]
    pairs = [{"user_id": a, "item_id": b} for a, b in zip(u, i)]
    pairs += [{"user_id": 999999, "item_id": 10}, {"user_id": u[0], "item_id": 7},
              {"user_id": 10**30, "item_id": -1}]
    resp = client.post("/predict", json={"pairs": pairs})
    assert resp.status_code == 200, resp.text
    body = PredictOut.model_validate(resp.json()).predictions
    assert [p.rating for p in body[:3]] == pytest.approx(mf.predict(u, i, raw=True).tolist())
    assert [(p.user_known, p.item_known) for p in body[3:]] == [(False, True), (True, False),
                                                                  (False, False)]
    # The documented fallbacks: mu + b_i, mu + b_u, mu (clipped to the scale).
    assert body[3].rating == pytest.approx(mf.predict([999999], [10], raw=True)[0])
    assert body[5].rating == pytest.approx(np.clip(mf.global_mean_, 1, 5))
    assert body[5].user_id == 10**30


def test_predict_bad_input(client):
    assert_422(client.post("/predict", json={"pairs": []}), "pairs")
    big = [{"user_id": 101, "item_id": 10}] * 1001
    assert_422(client.post("/predict", json={"pairs": big}), "pairs")
    assert_422(client.post("/predict", json={"pairs": [{"user_id": "101", "item_id": 10}]}),
               "pairs[0].user_id")
    assert_422(client.post("/predict", json={"pairs": [{"user_id": 101}]}), "pairs[0].item_id")
    assert_422(client.post("/predict", json=[{"user_id": 101, "item_id": 10}]), "body")
    assert_422(client.post("/predict", content=b'{"pairs": [', headers={
        "content-type": "application/json"}), "body")


# ---------------------------------------------------------------------- new user
def test_new_user_matches_fold_in(client, mf):
    ratings = [{"item_id": 10, "rating": 5}, {"item_id": 20, "rating": 1.5},
               {"item_id": 30, "rating": 4}]
    resp = client.post("/recommendations", json={"ratings": ratings, "k": 6})
    assert resp.status_code == 200, resp.text
    body = NewUserRecommendationsOut.model_validate(resp.json())
    items, scores = mf.recommend_new_user([10, 20, 30], [5, 1.5, 4], 6, raw=True)
    assert [r.item_id for r in body.items] == items.tolist()
    assert [r.score for r in body.items] == pytest.approx(scores.tolist())
    assert body.n_ratings == 3 and body.k == 6
    assert not {10, 20, 30} & {r.item_id for r in body.items}
    assert body.items[0].title.startswith("Movie")


def test_new_user_different_ratings_give_different_lists(client):
    a = client.post("/recommendations", json={"ratings": [{"item_id": 10, "rating": 5},
                                                           {"item_id": 40, "rating": 1}]})
    b = client.post("/recommendations", json={"ratings": [{"item_id": 10, "rating": 1},
                                                           {"item_id": 40, "rating": 5}]})
    assert [r["item_id"] for r in a.json()["items"]] != [r["item_id"] for r in b.json()["items"]]


def test_new_user_can_include_rated_items(client):
    body = client.post("/recommendations", json={
        "ratings": [{"item_id": 10, "rating": 5}], "k": N_ITEMS, "exclude_rated": False}).json()
    assert 10 in [r["item_id"] for r in body["items"]]


def test_new_user_on_knn(knn_client, knn_path):
    body = knn_client.post("/recommendations", json={
        "ratings": [{"item_id": 10, "rating": 5}, {"item_id": 20, "rating": 4}], "k": 4}).json()
    items, _ = ItemKNN.load(knn_path).recommend_new_user([10, 20], [5.0, 4.0], 4, raw=True)
    assert [r["item_id"] for r in body["items"]] == [i for i in items.tolist() if i >= 0]


@pytest.mark.parametrize("body, field", [
    ({"ratings": [{"item_id": 10, "rating": 5.5}]}, "ratings[0].rating"),
    ({"ratings": [{"item_id": 10, "rating": 0}]}, "ratings[0].rating"),
    ({"ratings": [{"item_id": 10, "rating": 4}, {"item_id": 20, "rating": -1}]},
     "ratings[1].rating"),
    ({"ratings": []}, "ratings"),
    ({"ratings": [{"item_id": i, "rating": 3} for i in range(1001)]}, "ratings"),
    ({"ratings": [{"item_id": 10, "rating": 4}, {"item_id": 10, "rating": 2}]}, "ratings"),
    ({"ratings": [{"item_id": "10", "rating": 4}]}, "ratings[0].item_id"),
    ({"ratings": [{"item_id": 10, "rating": "4"}]}, "ratings[0].rating"),
    ({"ratings": [{"item_id": 10.5, "rating": 4}]}, "ratings[0].item_id"),
    ({"ratings": [{"item_id": 10, "rating": True}]}, "ratings[0].rating"),
    ({"ratings": [{"item_id": 10, "rating": 4}], "k": 0}, "k"),
    ({"ratings": [{"item_id": 10, "rating": 4}], "k": 1001}, "k"),
    ({"ratings": [{"item_id": 10, "rating": 4}], "k": "10"}, "k"),
    ({"ratings": [{"item_id": 10, "rating": 4}], "kk": 3}, "kk"),
    ({"ratings": {"item_id": 10, "rating": 4}}, "ratings"),
    ({}, "ratings"),
])
def test_new_user_bad_input_is_422(client, body, field):
    assert_422(client.post("/recommendations", json=body), field)


def test_new_user_duplicate_message_names_the_item(client):
    resp = client.post("/recommendations", json={
        "ratings": [{"item_id": 10, "rating": 4}, {"item_id": 10, "rating": 2}]})
    assert "item 10 is rated more than once" in resp.json()["detail"]


@pytest.mark.parametrize("content", [b"{", b"", b"null", b"not json", b'{"ratings": [1,]}',
                                     b"\xff\xfe", b"\x9e\xd35\xc6O\xfa"])
def test_new_user_malformed_json_is_422(client, content):
    resp = client.post("/recommendations", content=content,
                       headers={"content-type": "application/json"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"]


def test_new_user_nan_rating_is_422(client):
    # Python's json accepts NaN; the bound check must still refuse it.
    resp = client.post("/recommendations", content=b'{"ratings": [{"item_id": 10, "rating": NaN}]}',
                       headers={"content-type": "application/json"})
    assert_422(resp, "ratings[0].rating")


def test_new_user_unknown_item_is_404(client):
    resp = client.post("/recommendations", json={"ratings": [{"item_id": 10, "rating": 4},
                                                             {"item_id": 7, "rating": 3}]})
    assert_404(resp, "item", 7)
    unrated = 10 * (N_ITEMS + 1)
    resp = client.post("/recommendations", json={"ratings": [{"item_id": unrated, "rating": 4}]})
    assert_404(resp, "item", unrated)


# ---------------------------------------------------------------------- capabilities
def assert_no_capabilities(client, model_name: str):
    """/health declares no capability; similar items and fold-in answer 501."""
    caps = client.get("/health").json()["capabilities"]
    assert caps == {"explain": False, "similar_items": False, "new_user": False,
                    "shared_features": False}
    resp = client.get("/items/10/similar")
    assert resp.status_code == 501 and model_name in resp.json()["detail"]
    resp = client.post("/recommendations", json={"ratings": [{"item_id": 10, "rating": 4}]})
    assert resp.status_code == 501


def test_model_without_similarity_or_fold_in_answers_501(tmp_path, data):
    path = write_model(tmp_path, UserKNN(k=5, similarity="cosine"), data)
    client = TestClient(create_app(path))
    assert_no_capabilities(client, "UserKNN")
    # Everything else still works.
    assert client.get(f"/users/{user_ids(data)[0]}/recommendations").status_code == 200
    assert_404(client.get("/items/7/similar"), "item", 7)  # unknown id still a 404


def test_capabilities_come_from_the_declaration_not_the_hooks(tmp_path, data):
    # An ItemKNN subclass keeps every hook (similarity, fold-in, explain) but declares none
    # of them: the server must go by the declaration.
    from recsys.models.registry import register, unregister

    @register
    class PlainItemKNN(ItemKNN):
        capabilities = frozenset()

    try:
        path = write_model(tmp_path, PlainItemKNN(k=10, similarity="cosine"), data)
        app = create_app(path)
        client = TestClient(app)
        assert_no_capabilities(client, "PlainItemKNN")
        body = client.get(f"/users/{user_ids(data)[0]}/recommendations").json()
        assert body["items"] and all(r["explanation"] is None and r["because"] == []
                                     for r in body["items"])
        assert app.state.internal_errors == 0
    finally:
        unregister("PlainItemKNN")


def test_hybrid_serves_what_its_weighted_members_can(tmp_path, data):
    # The only member with similarities and explanations has weight 0: the hybrid declares
    # neither, the app starts (warm-up included) and answers 501, not 500.
    from recsys.models import Hybrid

    hybrid = Hybrid([UserKNN(k=5, similarity="cosine"), ItemKNN(k=5, similarity="cosine")],
                    weights=[1.0, 0.0])
    app = create_app(write_model(tmp_path, hybrid, data))
    client = TestClient(app)
    assert_no_capabilities(client, "Hybrid")
    assert client.get(f"/users/{user_ids(data)[0]}/recommendations").status_code == 200
    assert app.state.internal_errors == 0


def app_whose_model_raises(model_path: Path, method: str, exc: Exception):
    """An app (no warm-up) whose model's ``method`` raises ``exc``, and a client that gets
    the 500 answer instead of the exception."""
    app = create_app(model_path, warmup=False)

    def raises(*args, **kwargs):
        raise exc

    setattr(app.state.service.model, method, raises)
    return app, TestClient(app, raise_server_exceptions=False)


def test_unsupported_error_from_the_model_is_a_501(mf_path, data):
    from recsys.errors import UnsupportedError

    app, client = app_whose_model_raises(mf_path, "similar_items",
                                         UnsupportedError("FunkSVD cannot do that today"))
    resp = client.get("/items/10/similar")
    assert resp.status_code == 501
    assert resp.json() == {"detail": "FunkSVD cannot do that today"}
    assert app.state.internal_errors == 0


# ---------------------------------------------------------------------- robustness
def test_internal_errors_are_generic_500s(mf_path, data):
    app, client = app_whose_model_raises(mf_path, "recommend",
                                         RuntimeError("secret internals /etc/passwd"))
    resp = client.get(f"/users/{user_ids(data)[0]}/recommendations")
    assert resp.status_code == 500
    assert resp.json() == {"detail": "internal server error"}
    assert "secret" not in resp.text and "Traceback" not in resp.text
    assert app.state.internal_errors == 1
    assert client.get("/health").status_code == 200  # still serving


def test_oversized_body_is_413(client):
    resp = client.post("/recommendations", content=b"[" + b"1," * (1 << 20) + b"1]",
                       headers={"content-type": "application/json"})
    assert resp.status_code == 413 and "body" in resp.json()["detail"]


def test_thread_limits_restore_the_previous_counts():
    import numba
    from threadpoolctl import threadpool_info

    from recsys.serve.app import thread_limits

    before = numba.get_num_threads()
    blas_before = [p["num_threads"] for p in threadpool_info()]
    with thread_limits(1):
        assert numba.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert numba.get_num_threads() == before
    assert [p["num_threads"] for p in threadpool_info()] == blas_before
    with thread_limits(None):
        assert numba.get_num_threads() == before


def test_wrong_method_and_content_type(client):
    assert client.get("/predict").status_code == 405
    resp = client.post("/recommendations", content=b"ratings=1",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 422


# ---------------------------------------------------------------------- create_app inputs
def test_without_catalogue_titles_are_placeholders(tmp_path, data):
    path = write_model(tmp_path, FunkSVD(n_factors=2, n_epochs=2), data, sidecar=False)
    client = TestClient(create_app(path))
    assert client.get("/items/10").json()["title"] == "Item 10"
    assert client.get("/health").json()["dataset"] is None
    expected = sum(str(i).startswith("2") for i in data.item_ids.tolist())
    assert client.get("/items", params={"query": "item 2"}).json()["total"] == expected
    # An explicit catalogue wins over the (absent) sidecar.
    cat = tmp_path / "titles.json"
    Catalogue.from_frame(data.item_info, dataset="x").save(cat)
    client = TestClient(create_app(path, catalogue=cat))
    assert client.get("/items/10").json()["title"] == "Amélie (1980)"
    client = TestClient(create_app(path, catalogue=Catalogue([10], ["Only"], [None], [""])))
    assert client.get("/items/10").json()["title"] == "Only"
    assert client.get("/items/20").json()["title"] == "Item 20"  # filled in


def test_non_integer_ids_are_refused(tmp_path):
    ds = synthetic_dataset(string_ids=True)
    path = write_model(tmp_path, FunkSVD(n_factors=2, n_epochs=1), ds)
    with pytest.raises(ServeError, match="integer raw user ids"):
        create_app(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        create_app(tmp_path / "nope.npz")


# ---------------------------------------------------------------------- catalogue
def test_catalogue_round_trip_is_atomic(tmp_path, data):
    cat = Catalogue.from_frame(data.item_info, dataset="synthetic")
    path = cat.save(tmp_path / "c.json")
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temporary left over
    back = Catalogue.load(path)
    assert back.ids == cat.ids and back.titles == cat.titles
    assert back.years == cat.years and back.genres == cat.genres
    assert back.dataset == "synthetic"
    assert back.get(20) == ("Movie 01 (1981)", None, ["Action"])
    assert back.get(7) is None and 7 not in back and 10 in back


def test_catalogue_errors(tmp_path):
    with pytest.raises(CatalogueError, match="no such"):
        Catalogue.load(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CatalogueError, match="cannot read"):
        Catalogue.load(bad)
    bad.write_text(json.dumps({"format": "recsys-catalogue", "format_version": 1,
                               "items": [[1, "A", None, ""], ["x", "B", None, ""]]}))
    with pytest.raises(CatalogueError, match=r"items\[1\]"):
        Catalogue.load(bad)
    bad.write_text(json.dumps({"format": "recsys-catalogue", "format_version": 99, "items": []}))
    with pytest.raises(CatalogueError, match="version 99"):
        Catalogue.load(bad)
    with pytest.raises(CatalogueError, match="item id 3 is listed twice"):
        Catalogue([3, 4, 3], ["a", "b", "c"], [None] * 3, [""] * 3)


def test_catalogue_search_order():
    cat = Catalogue([1, 2, 3, 4], ["The Star", "Star Wars", "Lone star", "Other"],
                    [None] * 4, [""] * 4)
    assert cat.search("STAR") == [2, 1, 3]  # prefix first, then catalogue order
    cat.rank_by({1: 5, 3: 9, 2: 1})
    assert cat.search("star") == [2, 3, 1]  # prefix first, then by weight
    assert cat.search("") == [3, 1, 2, 4]
    assert cat.search("zz") == []


def test_sidecar_path():
    assert sidecar_path("/a/b/model.npz") == Path("/a/b/model.catalogue.json")


# ---------------------------------------------------------------------- CLI
def _fake_release(root: Path, data: Dataset) -> Path:
    folder = root / "ml-latest-small"
    folder.mkdir(parents=True)
    frame = data.to_frame()
    frame["timestamp"] = 0
    frame.rename(columns={"user": "userId", "item": "movieId"}).to_csv(
        folder / "ratings.csv", index=False)
    info = data.item_info.reset_index()
    pd.DataFrame({"movieId": info["item"], "title": info["title"], "genres": info["genres"]}
                 ).to_csv(folder / "movies.csv", index=False)
    return root


def test_cli_train_and_save_caches_the_model(tmp_path, data):
    from recsys.cli.serve import train_and_save

    root = _fake_release(tmp_path / "data", data)
    logs = []
    path = train_and_save("ml-latest-small", "funksvd", {"n_epochs": 2, "n_factors": 3},
                          cache_dir=tmp_path / "cache", data_dir=root, log=logs.append)
    assert path.is_file() and sidecar_path(path).is_file()
    assert path.parent == tmp_path / "cache"
    cat = Catalogue.load(sidecar_path(path))
    assert cat.dataset == "ml-latest-small" and cat.get(10)[0] == "Amélie (1980)"
    model = FunkSVD.load(path)
    assert model.n_factors == 3 and model.n_epochs == 2
    mtime = path.stat().st_mtime_ns
    again = train_and_save("ml-latest-small", "FunkSVD", {"n_epochs": 2, "n_factors": 3},
                           cache_dir=tmp_path / "cache", data_dir=root, log=logs.append)
    assert again == path and path.stat().st_mtime_ns == mtime
    assert "cached" in logs[-1]
    other = train_and_save("ml-latest-small", "funksvd", {"n_epochs": 1, "n_factors": 3},
                           cache_dir=tmp_path / "cache", data_dir=root, log=logs.append)
    assert other != path  # other hyperparameters, other file
    client = TestClient(create_app(path))
    assert client.get("/health").json()["dataset"] == "ml-latest-small"


def test_cli_help_and_argument_errors(capsys, tmp_path):
    from recsys.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--model" in out and "--algo" in out and "127.0.0.1" in out
    for argv, message in [
        (["serve"], "give --model PATH"),
        (["serve", "--algo", "funksvd"], "--algo needs --dataset"),
        (["serve", "--model", str(tmp_path / "x.npz")], "no such file"),
        (["serve", "--dataset", "ml-100k", "--algo", "nosuchmodel"], "is not a model"),
        (["serve", "--model", "a.npz", "--algo", "funksvd", "--dataset", "d"], "not both"),
    ]:
        assert main(argv) == 1
        assert message in capsys.readouterr().err



def test_catalogue_and_served_model_files_are_0644_under_umask_022(tmp_path, data):
    from recsys.cli.serve import train_and_save

    root = _fake_release(tmp_path / "data", data)
    previous = os.umask(0o022)
    try:
        cat = Catalogue.from_frame(data.item_info).save(tmp_path / "cat" / "c.json")
        model = train_and_save("ml-latest-small", "funksvd", {"n_epochs": 1, "n_factors": 2},
                               cache_dir=tmp_path / "cache", data_dir=root, log=lambda m: None)
    finally:
        os.umask(previous)
    for path in (cat, model, sidecar_path(model)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert sorted(p.name for p in model.parent.iterdir()) == sorted(
        [model.name, sidecar_path(model).name])  # no temporary left over


# ---------------------------------------------------------------------- cache
def test_cached_recommendations_are_identical(mf_path, client, data):
    cached = TestClient(create_app(mf_path, cache_mb=1))
    assert cached.get("/health").json()["cache_mb"] == 1
    assert client.get("/health").json()["cache_mb"] == 0
    cache = cached.app.state.cache
    for raw in user_ids(data)[:5]:
        url = f"/users/{raw}/recommendations?k=4"
        first, second = cached.get(url), cached.get(url)
        assert first.content == second.content == client.get(url).content
    assert len(cache) == 5
    assert_404(cached.get("/users/999999/recommendations"), "user", 999999)
    assert len(cache) == 5  # errors are not cached


def test_byte_lru_keeps_its_budget():
    from recsys.serve.service import ByteLRU

    lru = ByteLRU(10)
    lru.put("a", b"1234")
    lru.put("b", b"5678")
    assert lru.get("a") == b"1234"  # now the most recent
    lru.put("c", b"9999")  # 12 bytes > 10: evicts b, the least recently used
    assert lru.get("b") is None and lru.get("a") == b"1234" and lru.get("c") == b"9999"
    assert lru.size == 8
    lru.put("big", b"x" * 11)  # larger than the budget: not stored
    assert lru.get("big") is None and len(lru) == 2
    lru.put("a", b"12")  # replacing updates the size
    assert lru.size == 6
