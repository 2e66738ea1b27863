"""Shared fixtures. Real-data fixtures fail loudly (never skip) when the data is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _real_data_dir() -> Path:
    root = os.environ.get("RECSYS_DATA")
    if not root:
        pytest.fail("RECSYS_DATA is not set: point it at the folder holding ml-100k/ and "
                    "ml-latest-small/ (CI sets it to ../shared/data)", pytrace=False)
    path = Path(root)
    if not (path / "ml-100k" / "u.data").is_file():
        pytest.fail(f"RECSYS_DATA={root} has no ml-100k/u.data", pytrace=False)
    return path


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder named by RECSYS_DATA, holding ml-100k/ and ml-latest-small/."""
    return _real_data_dir()


@pytest.fixture(scope="session")
def ml100k_dir(real_data_dir) -> Path:
    return real_data_dir / "ml-100k"
