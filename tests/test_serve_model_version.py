"""The serve model cache and model-file versions: the cache key holds the recsys version,
the format version and the arrays the class saves, so a model cached by another recsys is
trained again, not refused; an outdated model file is a clear error naming the file and the
version it needs."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest

import recsys
from recsys.cli import serve as serve_cli
from recsys.data import ReleaseMismatchWarning
from recsys.errors import ModelFileError
from recsys.models import ContentKNN, Recommender
from recsys.models.persistence import FORMAT_VERSION
from test_content_tmdb import tmdb_data

IDENTITY = {"folder": "/data/ml-latest-small", "files": {"ratings.csv": "ab12"}}


def test_the_cache_key_holds_the_recsys_and_format_versions(monkeypatch, tmp_path):
    path = serve_cli.cached_model_path("ml-latest-small", "ContentKNN", {"k": 5}, IDENTITY,
                                       tmp_path)
    version = serve_cli.model_file_version("ContentKNN")
    assert version["recsys"] == recsys.__version__
    assert version["format_version"] == FORMAT_VERSION
    assert "term_indptr_" in version["arrays"]
    monkeypatch.setattr(recsys, "__version__", "99.0.0")
    newer = serve_cli.cached_model_path("ml-latest-small", "ContentKNN", {"k": 5}, IDENTITY,
                                        tmp_path)
    assert newer != path
    # Same folder, algo and params: only the last part differs, so the old file is an
    # "older version" that train_and_save replaces.
    assert newer.stem.rsplit("-", 1)[0] == path.stem.rsplit("-", 1)[0]
    path.write_bytes(b"")
    assert serve_cli._older_versions(newer) == [path]
    # A class that saves other arrays (a new recsys's ContentKNN) gets another key too.
    monkeypatch.setattr(recsys, "__version__", version["recsys"])
    monkeypatch.setattr(ContentKNN, "_fitted_arrays", ContentKNN._fitted_arrays[:-3])
    assert serve_cli.cached_model_path("ml-latest-small", "ContentKNN", {"k": 5}, IDENTITY,
                                       tmp_path) != path


def test_a_model_cached_by_another_version_is_trained_again(monkeypatch, tmp_path):
    from tmdb_fixture import write_both

    root = write_both(tmp_path / "data")
    logs: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReleaseMismatchWarning)
        first = serve_cli.train_and_save("ml-latest-small", "contentknn", {"k": 5},
                                         tmp_path / "c", root, log=logs.append)
        monkeypatch.setattr(recsys, "__version__", "99.0.0")
        second = serve_cli.train_and_save("ml-latest-small", "contentknn", {"k": 5},
                                          tmp_path / "c", root, log=logs.append)
    assert second != first and second.is_file() and not first.exists()
    assert any("recsys version changed" in line for line in logs)
    assert isinstance(Recommender.load(second), ContentKNN)


def _without(path, names, out):
    """A copy of the model file ``path`` without the arrays ``names`` (an older file)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k not in names}
    np.savez(out, **arrays)
    return out


def test_an_outdated_content_model_file_is_a_clear_error(tmp_path):
    model = ContentKNN(features="tmdb", k=5).fit(tmdb_data())
    path = model.save(tmp_path / "content.npz")
    old = _without(path, ("term_indptr_", "term_indices_", "term_names_"),
                   tmp_path / "old.npz")
    for load in (Recommender.load, ContentKNN.load):
        with pytest.raises(ModelFileError) as info:
            load(old)
        message = str(info.value)
        assert message.startswith(f"{old}: an outdated ContentKNN model file")
        assert "term_indptr_" in message and f"recsys {recsys.__version__}" in message
        assert "fit the model again" in message
    # A file that lacks what every model saves is not "outdated" but broken.
    broken = _without(path, ("seen_indptr_",), tmp_path / "broken.npz")
    with pytest.raises(ModelFileError, match=r"missing arrays \['seen_indptr_'\]"):
        Recommender.load(broken)


def test_serving_an_outdated_model_file_names_it(tmp_path, capsys):
    model = ContentKNN(k=5).fit(tmdb_data())
    path = model.save(tmp_path / "content.npz")
    old = _without(path, ("term_indptr_", "term_indices_", "term_names_"),
                   tmp_path / "old.npz")
    from recsys.serve import create_app

    with pytest.raises(ModelFileError, match="outdated ContentKNN model file"):
        create_app(old)
