"""End to end: ``recsys serve`` as a real uvicorn process on a free loopback port, driven by
headless Chromium (Debian's /usr/bin/chromium through Playwright; no browser download).

Opt-in (marker ``browser``): runs with ``RECSYS_BROWSER_TESTS=1``, which .ci/run sets, and then
fails, never skips, when Chromium is missing: CI installs it (``apt-get install -y chromium``;
``pip install playwright``, without ``playwright install``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from recsys.models import BPR, FunkSVD
from test_serve_api import synthetic_dataset, write_model

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("RECSYS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if path is None:
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (apt-get install -y "
                    "chromium) or point RECSYS_CHROMIUM at a Chromium binary", pytrace=False)
    return path


@contextmanager
def serving(folder: Path, model):
    """``recsys serve`` over ``model`` (fitted on the synthetic data, saved under ``folder``)
    as a subprocess; yields its URL once /health answers."""
    path = write_model(folder, model, synthetic_dataset())
    with serve_command(folder, ["--model", str(path)]) as url:
        yield url


@contextmanager
def serve_command(folder: Path, argv: list[str]):
    """``recsys serve ARGV`` on a free loopback port as a subprocess (its log in
    ``folder``); yields its URL once /health answers."""
    port = free_port()
    log = open(folder / "server.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys", "serve", *argv, "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"recsys serve exited with {proc.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"recsys serve did not answer on {url} in 90 s:\n{log.read()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("e2e"), FunkSVD(n_factors=4, n_epochs=15, seed=0)) as url:
        yield url


@contextmanager
def browser_page(chromium_path: str, profile: Path):
    """``(page, problems)``: a fresh headless Chromium page, and the list that collects the
    errors it reports (page errors, console errors)."""
    with sync_playwright() as pw:
        # A persistent context is how Playwright takes a fresh, empty --user-data-dir.
        browser = pw.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 900})
        try:
            page, problems = browser.new_page(), []
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error" else None)
            yield page, problems
        finally:
            browser.close()


def test_search_rate_and_get_recommendations(server, chromium_path, tmp_path):
    with browser_page(chromium_path, tmp_path / "profile") as (page, problems):
        # Hold back the page's initial (empty) title search until after our own
        # search has rendered: the late, stale answer must not replace the results.
        held = []
        page.route(lambda url: "/items?query=&" in url, lambda route: held.append(route))
        page.goto(server + "/")
        assert "FunkSVD" in page.text_content("[data-testid=model-info]")

        # An existing user: top-rated movies and recommendations side by side.
        page.wait_for_selector("#user-recs .movie")
        n_rated = int(page.text_content("#user-summary").split(":")[1].split()[0])
        assert page.locator("#user-top .movie").count() == min(10, n_rated)
        assert page.locator("#user-recs .movie").count() == 10
        # FunkSVD predicts ratings: the badges are labelled as such.
        assert "badge: predicted rating" in page.text_content("#user-recs-summary")

        # Rate movies yourself: search, rate, recommend.
        page.click("#tab-me")
        page.fill("[data-testid=search-input]", "amelie")
        page.click("[data-testid=search-button]")
        page.wait_for_selector("#search-results .movie")
        assert len(held) == 1
        with page.expect_response(lambda r: "/items?query=&" in r.url):
            held[0].continue_()
        page.unroute_all()
        page.wait_for_timeout(300)  # let the page's handler see the stale answer
        first = page.locator("#search-results .movie").first
        assert page.locator("#search-results .movie").count() == 1
        assert "Amélie" in first.locator(".title").text_content()
        first.locator(".star[data-value='5']").click()
        page.fill("[data-testid=search-input]", "movie 1")
        page.click("[data-testid=search-button]")
        page.wait_for_function(
            "document.querySelector('#search-summary').textContent.includes('movie 1')")
        second = page.locator("#search-results .movie").first
        second_title = second.locator(".title").text_content()
        second.locator(".star[data-value='2']").click()
        assert page.locator("#my-ratings .movie").count() == 2
        assert page.text_content("#my-count") == "2"

        page.click("[data-testid=get-recs]")
        page.wait_for_selector("#my-recs .movie")
        recs = page.locator("#my-recs .movie .title").all_text_contents()
        assert len(recs) == 10 and all(recs)
        assert "Amélie (1980)" not in recs and second_title not in recs  # rated: left out
        assert "no retraining" in page.text_content("#my-recs-summary")
        assert "badge: predicted rating" in page.text_content("#my-recs-summary")

        shot = tmp_path / "recommendations.png"
        page.screenshot(path=str(shot), full_page=True)

        # Similar movies: click a title.
        page.locator("#my-recs .movie .title").first.click()
        page.wait_for_selector("#similar-list .movie")
        assert page.text_content("#similar-title") == recs[0]
        assert page.locator("#similar-list .movie").count() == 10
        page.screenshot(path=str(tmp_path / "similar.png"))
        page.keyboard.press("Escape")
        page.wait_for_selector("#similar-dialog", state="hidden")
    for name in ("recommendations.png", "similar.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    assert problems == []


def test_a_ranking_models_scores_are_labelled_as_scores(chromium_path, tmp_path):
    with serving(tmp_path, BPR(n_factors=4, n_epochs=5, seed=0)) as url, \
            browser_page(chromium_path, tmp_path / "profile") as (page, problems):
        page.goto(url + "/")
        page.wait_for_selector("#user-recs .movie")
        assert "ranking score, not a rating" in page.text_content("#user-recs-summary")
        badges = page.locator("#user-recs .movie .badge").all_text_contents()
        assert len(badges) == 10 and all(b.startswith("score ") for b in badges), badges
        assert problems == []


def test_docs_render_without_network(server, chromium_path, tmp_path):
    outside = []

    def only_local(route):
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:  # a CDN, fonts, the validator badge: there is no network
            outside.append(route.request.url)
            route.abort()

    with browser_page(chromium_path, tmp_path / "profile") as (page, problems):
        page.route("**/*", only_local)
        page.goto(server + "/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        paths = [s.replace("\u200b", "") for s in
                 page.locator(".opblock-summary-path").all_text_contents()]
        assert "/users/{user_id}/recommendations" in paths and len(paths) >= 9
        assert outside == [] and problems == []

        page.goto(server + "/redoc")
        page.wait_for_selector("[data-section-id*='recommendations']", timeout=30_000)
        # ReDoc's own attribution logo is the one image it loads from its CDN (hard-coded;
        # hidden when it fails): nothing that renders the docs.
        assert all(url.startswith("https://cdn.redoc.ly/redoc/logo") for url in outside)
        assert len(problems) <= len(outside)  # the console's note of each blocked load
        assert all("Failed to load resource" in p for p in problems), problems


def test_item_view_shows_tmdb_details(chromium_path, tmp_path):
    """``recsys serve --dataset ... --metadata tmdb --algo contentknn --param features=tmdb``
    on the small release and TMDB folder of tmdb_fixture: the lists and the item view show
    the overview, TMDB genres and keywords, and the similar movies what they share."""
    from tmdb_fixture import write_both

    root = write_both(tmp_path / "data")
    argv = ["--dataset", "ml-latest-small", "--data-dir", str(root), "--metadata", "tmdb",
            "--algo", "contentknn", "--param", "features=tmdb", "--cache-dir",
            str(tmp_path / "cache")]
    with serve_command(tmp_path, argv) as url, \
            browser_page(chromium_path, tmp_path / "profile") as (page, problems):
        page.goto(url + "/")
        assert "ContentKNN" in page.text_content("[data-testid=model-info]")
        page.click("#tab-me")
        page.fill("[data-testid=search-input]", "toy story")
        page.click("[data-testid=search-button]")
        page.wait_for_function(
            "document.querySelector('#search-summary').textContent.includes('toy story')")
        row = page.locator("#search-results .movie").first
        assert row.locator(".keyword").all_text_contents() == ["toy", "friendship", "rivalry"]
        assert "Led by Woody" in row.locator("[data-testid=overview]").text_content()
        assert "TMDB: Animation · Comedy · Family" in row.text_content()

        page.fill("[data-testid=search-input]", "heat")
        page.click("[data-testid=search-button]")
        page.wait_for_function(
            "document.querySelector('#search-summary').textContent.includes('heat')")
        page.locator("#search-results .movie .title").first.click()
        page.wait_for_selector("#similar-list .movie")
        assert page.text_content("#similar-title") == "Heat (1995)"
        details = page.locator("[data-testid=item-details]")
        assert details.locator(".keyword").all_text_contents() == [
            "heist", "bank robbery", "detective", "obsession"]
        assert "Obsessive master thief" in details.locator(".overview").text_content()
        assert "TMDB: Action · Crime" in details.text_content()
        similar = page.locator("#similar-list .movie")
        titles = similar.locator(".title").all_text_contents()
        assert titles[0] == "Casino (1995)"  # the most keywords in common
        assert similar.first.locator(".why").text_content() == (
            "shares keywords: heist, bank robbery")
        page.screenshot(path=str(tmp_path / "item.png"))
        page.keyboard.press("Escape")
        page.wait_for_selector("#similar-dialog", state="hidden")
    assert (tmp_path / "item.png").stat().st_size > 10_000
    assert problems == []
