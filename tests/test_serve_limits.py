"""Serving's edges (issue 11): chunked bodies over the limit, the offline API docs, the
page's score label, the data identity of ``recsys serve --algo``'s model cache, the warning
for a non-loopback ``--host`` and one-line errors for bad ``--param`` values."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from recsys.cli.serve import exposed, train_and_save
from recsys.models import BPR, FunkSVD
from recsys.serve import create_app, sidecar_path
from recsys.serve.errors import MAX_BODY
# The synthetic data, a FunkSVD saved with its catalogue, and a TestClient over it:
from test_serve_api import _fake_release, client, data, mf_path, write_model  # noqa: F401


def chunks(n_bytes: int, prefix: bytes = b"", size: int = 1 << 16):
    """A request body of ``n_bytes`` in chunks, for httpx to send chunked (no length)."""
    yield prefix
    left = n_bytes - len(prefix)
    while left > 0:
        yield b" " * min(size, left)
        left -= size


# ---------------------------------------------------------------------- chunked bodies
@pytest.mark.parametrize("n_bytes", [MAX_BODY + 1, 5 * 10**6])
def test_chunked_body_over_the_limit_is_413(client, n_bytes):
    resp = client.post("/recommendations", content=chunks(n_bytes, b'{"ratings": ['),
                       headers={"content-type": "application/json"})
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in resp.request.headers
    assert resp.status_code == 413, resp.text
    assert resp.json() == {"detail": f"request body over {MAX_BODY} bytes"}
    assert client.app.state.internal_errors == 0
    assert client.get("/health").status_code == 200


def test_chunked_body_under_the_limit_is_answered_as_usual(client, data):
    body = json.dumps({"ratings": [{"item_id": 10, "rating": 5}], "k": 5}).encode()
    plain = client.post("/recommendations", content=body,
                        headers={"content-type": "application/json"})
    chunked = client.post("/recommendations", content=iter([body[:7], body[7:]]),
                          headers={"content-type": "application/json"})
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert plain.status_code == chunked.status_code == 200
    assert plain.json() == chunked.json()
    malformed = client.post("/recommendations", content=iter([b"{", b"nope"]),
                            headers={"content-type": "application/json"})
    assert malformed.status_code == 422  # under the limit: the usual answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(mf_path):
    """The app under a real uvicorn on a loopback port, in a thread of this process."""
    server = uvicorn.Server(uvicorn.Config(create_app(mf_path), host="127.0.0.1",
                                           port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}", server
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("n_bytes", [5 * 10**6, 50 * 10**6])
def test_chunked_body_over_the_limit_is_413_from_uvicorn(live_server, n_bytes):
    # uvicorn discards what the client still sends after the answer, then reuses the
    # connection; the app has stopped reading at the limit (next test).
    url, _ = live_server
    with httpx.Client(timeout=60) as http:
        resp = http.post(url + "/recommendations", content=chunks(n_bytes, b'{"ratings": ['),
                         headers={"content-type": "application/json"})
        assert resp.status_code == 413 and resp.json()["detail"] == \
            f"request body over {MAX_BODY} bytes"
        assert http.get(url + "/health").status_code == 200  # still serving


def test_the_app_stops_reading_a_chunked_body_at_the_limit(client):
    """Straight through ASGI: a 50 MB body in 64 KiB messages; the app pulls no more than
    the limit and one message, and the answer is the 413."""
    size, pulled, sent = 1 << 16, [], []

    async def receive():
        pulled.append(size)
        return {"type": "http.request", "body": b" " * size, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/recommendations",
             "raw_path": b"/recommendations", "root_path": "", "query_string": b"",
             "headers": [(b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
             "state": {}}
    asyncio.run(client.app(scope, receive, send))
    assert sum(pulled) <= MAX_BODY + size
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:])) == {
        "detail": f"request body over {MAX_BODY} bytes"}


# ---------------------------------------------------------------------- offline docs
def local_urls(html: str) -> list[str]:
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    urls += re.findall(r"url: '([^']*)'", html) + re.findall(r'spec-url="([^"]*)"', html)
    return urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_reference_only_local_assets(client, page):
    resp = client.get(page)
    assert resp.status_code == 200 and "text/html" in resp.headers["content-type"]
    assert "http://" not in resp.text and "https://" not in resp.text  # no CDN, no fonts
    urls = local_urls(resp.text)
    assert "/openapi.json" in urls
    kinds = {}
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        got = client.get(url)
        assert got.status_code == 200, url
        kinds[url.rsplit(".", 1)[-1]] = got.headers["content-type"]
    assert "javascript" in kinds["js"]
    if page == "/docs":
        assert "text/css" in kinds["css"]
        assert client.get("/docs/oauth2-redirect").status_code == 200


def test_the_page_links_the_docs(client):
    assert 'href="http://testserver/docs"' in client.get("/").text  # url_for, by name


# ---------------------------------------------------------------------- the page's label
def page_config(client) -> dict:
    page = client.get("/").text
    return json.loads(page.split('<script id="config" type="application/json">')[1]
                      .split("</script>")[0])


def test_page_says_whether_scores_are_ratings(client, tmp_path, data):
    assert page_config(client)["predicts_ratings"] is True
    bpr = write_model(tmp_path, BPR(n_factors=4, n_epochs=2, seed=0), data)
    ranking = TestClient(create_app(bpr, warmup=False))
    assert page_config(ranking)["predicts_ratings"] is False
    assert ranking.get("/health").json()["predicts_ratings"] is False
    script = client.get("/static/app.js").text
    assert "ranking score, not a rating" in script and "predicted rating" in script


# ---------------------------------------------------------------------- the model cache
def _train(root: Path, cache: Path, logs: list, **kw) -> Path:
    return train_and_save("ml-latest-small", "funksvd", {"n_epochs": 1, "n_factors": 2},
                          cache_dir=cache, data_dir=root, log=logs.append, **kw)


def test_cache_is_not_reused_when_the_data_changes(tmp_path, data):
    root = _fake_release(tmp_path / "data", data)
    ratings = root / "ml-latest-small" / "ratings.csv"
    logs: list[str] = []
    first = _train(root, tmp_path / "cache", logs)
    n_users = len(FunkSVD.load(first).user_ids_)
    assert _train(root, tmp_path / "cache", logs) == first and "cached" in logs[-1]

    # One more user, as in the issue (611 users served by a model of 610).
    with open(ratings, "a") as fh:
        fh.write("9999,10,4.0,0\n")
    second = _train(root, tmp_path / "cache", logs)
    assert second != first
    assert any("changed" in line and "training again" in line for line in logs)
    assert len(FunkSVD.load(second).user_ids_) == n_users + 1
    # The model of the old contents is gone with its sidecar; the new one is reused.
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        [second.name, sidecar_path(second).name])
    assert _train(root, tmp_path / "cache", logs) == second and "cached" in logs[-1]


def test_cache_is_keyed_by_the_folder_and_by_every_file_read(tmp_path, data):
    root = _fake_release(tmp_path / "a", data)
    logs: list[str] = []
    first = _train(root, tmp_path / "cache", logs)
    copy = tmp_path / "b"
    shutil.copytree(root, copy)
    other_folder = _train(copy, tmp_path / "cache", logs)
    assert other_folder != first and first.is_file()  # both folders keep their model
    movies = copy / "ml-latest-small" / "movies.csv"
    movies.write_text(movies.read_text().replace("Amélie", "Amelie"))
    retitled = _train(copy, tmp_path / "cache", logs)
    assert retitled != other_folder  # the catalogue sidecar would be stale
    assert _train(copy, tmp_path / "cache", logs, retrain=True) == retitled
    assert "training" in logs[-2]


# ---------------------------------------------------------------------- the CLI
def test_bad_param_value_is_one_line_error(tmp_path, data, capsys):
    from recsys.cli import main

    root = _fake_release(tmp_path / "data", data)
    base = ["serve", "--dataset", "ml-latest-small", "--data-dir", str(root), "--algo",
            "funksvd", "--cache-dir", str(tmp_path / "cache")]
    for param, message in [("n_factors=ten", "n_factors must be an integer"),
                           ("nope=1", "no hyperparameter 'nope'")]:
        assert main(base + ["--param", param]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) <= 2, err  # the training line and the error


@pytest.mark.parametrize("host, warns", [
    ("127.0.0.1", False), ("127.0.0.2", False), ("::1", False), ("[::1]", False),
    ("localhost", False), ("0.0.0.0", True), ("::", True), ("192.168.1.5", True),
    ("myhost.example", True)])
def test_exposed_hosts(host, warns):
    assert exposed(host) is warns


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_non_loopback_host_warns_of_no_authentication(mf_path, host, capsys, monkeypatch):
    from recsys.cli import main

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    assert main(["serve", "--model", str(mf_path), "--host", host, "--port", "0"]) == 0
    assert calls and calls[0]["host"] == host
    err = capsys.readouterr().err
    if host == "0.0.0.0":
        assert "warning" in err and "no authentication" in err
    else:
        assert "warning" not in err
