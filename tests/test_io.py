"""The one I/O layer: atomic writes with the umask's mode, and the one JSON conversion."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recsys.io import atomic_write, atomic_write_json, atomic_write_text, file_mode, jsonable


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_written_file_has_the_umask_mode(tmp_path, umask_022):
    path = atomic_write_text(tmp_path / "sub" / "a.txt", "hello")
    assert path.read_text() == "hello"
    assert (path.stat().st_mode & 0o777) == 0o644
    assert file_mode() == 0o644


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "old")

    def boom(fh):
        fh.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(path, boom)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_crashed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "model.npz"
    # A writer process that dies in the middle of a write leaves its temporary behind.
    code = ("import os, sys; from recsys.io import atomic_write; "
            "atomic_write(sys.argv[1], lambda fh: (fh.write(b'half'), os._exit(3)))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], check=False)
    assert done.returncode == 3
    orphans = list(tmp_path.glob(".model.npz.*.tmp"))
    assert len(orphans) == 1 and not path.exists()
    atomic_write_text(path, "whole")
    assert path.read_text() == "whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    path = tmp_path / "r.json"
    mine = tmp_path / f".r.json.{os.getpid()}.abc.tmp"
    mine.write_text("in progress")
    atomic_write_text(path, "{}")
    assert mine.exists()


def test_jsonable_converts_numpy_tuples_paths_and_non_finite_floats():
    value = {1: (np.int32(3), np.float32(0.5)), "a": np.arange(3), "nan": float("nan"),
             "inf": np.float64(np.inf), "flag": np.bool_(True), "path": Path("x/y"),
             "cls": int, "set": {"b", "a"}, "nested": [{"k": np.array(2.5)}]}
    out = jsonable(value)
    assert out == {"1": [3, 0.5], "a": [0, 1, 2], "nan": None, "inf": None, "flag": True,
                   "path": "x/y", "cls": "int", "set": ["a", "b"], "nested": [{"k": 2.5}]}
    assert type(out["1"][0]) is int and type(out["flag"]) is bool
    json.dumps(out, allow_nan=False)


def test_jsonable_writes_a_model_as_its_spec():
    from recsys.models import FunkSVD

    out = jsonable({"m": FunkSVD(n_factors=3)})
    assert out["m"]["class"] == "FunkSVD" and out["m"]["params"]["n_factors"] == 3


def test_jsonable_refuses_what_it_cannot_write():
    with pytest.raises(TypeError, match="cannot write a object"):
        jsonable({"x": object()})


def test_atomic_write_json_is_strict_json(tmp_path):
    path = atomic_write_json(tmp_path / "r.json", {"x": math.nan, "y": np.float32(1.5)})
    assert json.loads(path.read_text()) == {"x": None, "y": 1.5}


def test_a_saved_model_is_0644_under_umask_022(tmp_path, umask_022):
    from model_conformance import small_ratings
    from recsys.models import Baseline

    path = Baseline().fit(small_ratings()).save(tmp_path / "m.npz")
    assert (path.stat().st_mode & 0o777) == 0o644
