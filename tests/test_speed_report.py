"""benchmarks/speed.py's pieces that do not measure: SIMD detection, the table, a failing
group, the README section it writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("speed_bench", ROOT / "benchmarks" /
                                                  "speed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_simd_width(speed):
    assert speed.simd_width({"avx2", "avx512f", "fma"}) == ("AVX-512", 16)
    assert speed.simd_width({"avx", "avx2"}) == ("AVX2", 8)
    assert speed.simd_width({"sse2"}) == ("SSE2", 4)
    assert speed.simd_width(set()) == ("scalar", 1)


def test_a_failing_group_is_one_error_row_and_the_others_run(speed, monkeypatch):
    def broken(quick):
        raise ValueError("no data")

    monkeypatch.setitem(speed.SOURCES, "sgd", broken)
    monkeypatch.setitem(speed.SOURCES, "svdpp", lambda quick: [{
        "row": "x", "ours_s": 0.5, "peer_s": 2.0, "ratio": 4.0, "goal": ">= 3x",
        "met": True}])
    doc = speed.run(["sgd", "svdpp"], quick=True, log=lambda s: None)
    err, ok = doc["rows"]
    assert err["met"] is False and "ValueError: no data" in err["error"]
    assert ok["group"] == "svdpp" and ok["met"] is True
    for row in doc["rows"]:  # the machine is recorded at every row
        assert {"cpu", "simd", "thread_settings", "load_before", "load_after"} <= set(row)
    text = speed.markdown(doc)
    assert "| x | 500.0 ms | 2.00 s | 4.00× | >= 3x | yes |" in text
    assert "| sgd: failed |" in text and "| error |" in text


def test_readme_section_is_replaced(speed, tmp_path):
    import json

    doc = {"machine": speed.machine(), "quick": False, "rows": [
        {"row": "kernel", "ours_s": 0.04, "peer_s": None, "ratio": None, "value": 41.5,
         "unit": "M updates/s", "goal": ">= 40 M updates/s", "met": True,
         "load_before": 0.3}]}
    src = tmp_path / "speed.json"
    src.write_text(json.dumps(doc))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:speed:start -->\nold\n<!-- results:speed:end -->\n"
                      "after\n")
    assert speed.main(["--render", str(src), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro") and text.endswith("after\n")
    assert "| kernel | 41.5 M updates/s | – | – | >= 40 M updates/s | yes | 0.3 |" in text
