"""Shared fixtures. Real-data fixtures fail loudly (never skip) when the data is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _real_data_dir() -> Path:
    """``$RECSYS_DATA`` when set, else the download cache (``recsys data download ml-100k``)."""
    root = os.environ.get("RECSYS_DATA")
    if root:
        path, where = Path(root), f"RECSYS_DATA={root}"
    else:
        from recsys.data.download import cache_dir

        path, where = cache_dir(), f"the download cache {cache_dir()} (RECSYS_DATA is not set)"
    if not (path / "ml-100k" / "u.data").is_file():
        pytest.fail(f"{where} has no ml-100k/u.data: run `recsys data download ml-100k` and "
                    "`recsys data download ml-latest-small` once, or set RECSYS_DATA to a folder "
                    "holding ml-100k/ and ml-latest-small/", pytrace=False)
    return path


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder holding ml-100k/ and ml-latest-small/: RECSYS_DATA, else the cache."""
    return _real_data_dir()


@pytest.fixture(scope="session")
def ml100k_dir(real_data_dir) -> Path:
    return real_data_dir / "ml-100k"


#: Set to 1 to run the tests marked ``browser`` (they need Debian's Chromium); .ci/run does.
BROWSER_SWITCH = "RECSYS_BROWSER_TESTS"


def pytest_collection_modifyitems(config, items):
    """Deselect the browser tests unless RECSYS_BROWSER_TESTS=1 (pytest reports the count as
    deselected, and prints how to run them): they are opt-in, never skipped in CI."""
    if os.environ.get(BROWSER_SWITCH) == "1":
        return
    browser = [item for item in items if item.get_closest_marker("browser")]
    if browser:
        config.hook.pytest_deselected(items=browser)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]
        config._recsys_browser_deselected = len(browser)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = getattr(config, "_recsys_browser_deselected", 0)
    if n:
        terminalreporter.write_line(
            f"{n} browser test(s) deselected: set {BROWSER_SWITCH}=1 to run them (needs "
            "Chromium: apt-get install chromium)")
