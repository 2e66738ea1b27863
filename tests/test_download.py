"""Downloader and local-first lookup, against file:// URLs and a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest

from recsys.cli import main
from recsys.data import cache_dir, download, find_release, load_movielens
from recsys.errors import ChecksumError, DataFormatError, DataNotFoundError

U_DATA = "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t1\t4\t881250951\n"

# The archives these tests build hold a few ratings, not the published counts.
pytestmark = pytest.mark.filterwarnings("ignore::recsys.data.ReleaseMismatchWarning")


def _make_zip(path: Path, folder: str = "ml-100k", files: dict | None = None) -> str:
    files = files if files is not None else {"u.data": U_DATA, "README": "test"}
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(f"{folder}/{name}" if folder else name, text)
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No RECSYS_DATA, the cache in tmp_path."""
    monkeypatch.delenv("RECSYS_DATA", raising=False)
    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_CACHE", str(tmp_path / "env"))
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert cache_dir() == tmp_path / "env"
    monkeypatch.delenv("RECSYS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "recsys"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "recsys"


def test_download_over_http(isolated, http_server):
    root, base = http_server
    md5 = _make_zip(root / "ml-100k.zip")
    cache = isolated / "c"
    folder = download("ml-100k", cache=cache, url=f"{base}/ml-100k.zip", md5=md5,
                      progress=False)
    assert folder == cache / "ml-100k" and (folder / "u.data").read_text() == U_DATA
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k"]   # no temp leftovers
    data = load_movielens("ml-100k", data_dir=cache)
    assert len(data.ratings) == 3
    # second call: found in the cache, the server is not asked again
    (root / "ml-100k.zip").unlink()
    assert download("ml-100k", cache=cache, url=f"{base}/ml-100k.zip", md5=md5,
                    progress=False) == folder


def test_download_file_url_with_progress_and_renamed_folder(isolated, capsys):
    # ML-10M unzips to ml-10M100K/; the cache folder is named after the release.
    archive = isolated / "ml-10m.zip"
    sha = None
    _make_zip(archive, folder="ml-10M100K", files={"ratings.dat": "1::2::4.5::7\n"})
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    folder = download("ml-10m", url=archive.as_uri(), sha256=sha)
    assert folder == isolated / "cache" / "ml-10m"
    assert load_movielens("ml-10m").ratings["rating"].tolist() == [4.5]


def test_published_checksum_mismatch(isolated):
    archive = isolated / "ml-100k.zip"
    _make_zip(archive)                      # not GroupLens' archive: md5 differs
    with pytest.raises(ChecksumError, match="0e33842e24a9c977be4e0107933c0723"):
        download("ml-100k", url=archive.as_uri(), progress=False)
    cache = isolated / "cache"
    assert not (cache / "ml-100k").exists() and list(cache.iterdir()) == []


def test_explicit_checksum_mismatch_sha256(isolated):
    archive = isolated / "a.zip"
    _make_zip(archive)
    with pytest.raises(ChecksumError, match="sha256"):
        download("ml-100k", url=archive.as_uri(), sha256="0" * 64, progress=False)


def test_not_a_zip_and_no_ratings(isolated):
    bad = isolated / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    md5 = hashlib.md5(bad.read_bytes()).hexdigest()
    with pytest.raises(DataFormatError, match="not a valid zip"):
        download("ml-100k", url=bad.as_uri(), md5=md5, progress=False)
    empty = isolated / "empty.zip"
    md5 = _make_zip(empty, files={"README": "x"})
    with pytest.raises(DataFormatError, match="no u.data"):
        download("ml-100k", url=empty.as_uri(), md5=md5, progress=False)
    assert list((isolated / "cache").iterdir()) == []


def test_unsafe_member_rejected(isolated):
    evil = isolated / "evil.zip"
    md5 = _make_zip(evil, folder="", files={"../escape.txt": "x", "u.data": U_DATA})
    with pytest.raises(DataFormatError, match="escapes"):
        download("ml-100k", url=evil.as_uri(), md5=md5, progress=False)
    assert not (isolated / "escape.txt").exists()


def test_no_checksum_release_warns(isolated):
    archive = isolated / "latest.zip"
    _make_zip(archive, folder="ml-latest",
              files={"ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,5\n"})
    with pytest.warns(UserWarning, match="no published checksum"):
        folder = download("ml-latest", url=archive.as_uri(), progress=False)
    assert (folder / "ratings.csv").is_file()


def test_no_network_no_local_copy(isolated, http_server):
    _, base = http_server                      # serves nothing: 404
    with pytest.raises(DataNotFoundError) as info:
        download("ml-1m", url=f"{base}/ml-1m.zip", progress=False)
    msg = str(info.value)
    assert "downloading" in msg and "404" in msg
    assert str(isolated / "cache" / "ml-1m") in msg and "ml-1m.zip" in msg
    # unreachable host: load_movielens(download=True) fails the same way
    with pytest.raises(DataNotFoundError, match="recsys data download ml-1m"):
        download("ml-1m", url="http://127.0.0.1:9/ml-1m.zip", progress=False)
    assert list((isolated / "cache").iterdir()) == []


def test_find_release_order(isolated, monkeypatch):
    def make(folder):
        folder.mkdir(parents=True)
        (folder / "u.data").write_text(U_DATA)
        return folder

    cache = make(isolated / "cache" / "ml-100k")
    assert find_release("ml-100k") == cache
    env = make(isolated / "env" / "ml-100k")
    monkeypatch.setenv("RECSYS_DATA", str(isolated / "env"))
    assert find_release("ml-100k") == env
    mine = make(isolated / "mine")
    assert find_release("ml-100k", data_dir=mine) == mine               # the folder itself
    parent = make(isolated / "parent" / "ml-100k")
    assert find_release("ml-100k", data_dir=isolated / "parent") == parent


def test_load_movielens_download_flag(isolated, monkeypatch):
    archive = isolated / "ml-100k.zip"
    md5 = _make_zip(archive)
    from recsys.data import releases

    fake = releases.Release("ml-100k", archive.as_uri(), "100k", (1.0, 5.0), "ml-100k",
                            md5=md5)
    monkeypatch.setitem(releases.RELEASES, "ml-100k", fake)
    with pytest.raises(DataNotFoundError):
        load_movielens("ml-100k")
    data = load_movielens("ml-100k", download=True)
    assert data.path == isolated / "cache" / "ml-100k" and len(data.ratings) == 3


def test_cli_download_and_list(isolated, capsys):
    archive = isolated / "z.zip"
    _make_zip(archive, folder="ml-latest-small",
              files={"ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,5\n"})
    with pytest.warns(UserWarning):
        assert main(["data", "download", "ml-latest-small", "--cache", str(isolated / "c"),
                     "--url", archive.as_uri(), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(isolated / "c" / "ml-latest-small")
    assert main(["data", "list", "--data-dir", str(isolated / "c")]) == 0
    out = capsys.readouterr().out
    assert str(isolated / "c" / "ml-latest-small") in out
    assert "not found (recsys data download ml-1m)" in out
    assert main(["data", "download", "ml-1m", "--url",
                 (isolated / "missing.zip").as_uri(), "--no-progress"]) == 1
    assert "not found" in capsys.readouterr().err
