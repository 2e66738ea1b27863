"""Property-based fuzz of the serving API from its own OpenAPI schema (schemathesis).

Every operation gets a bounded number of generated requests, valid (positive) and invalid
(negative: wrong types, out-of-range values, missing fields); none may answer 5xx, every
answer must match its documented status codes, content type and schema, and the generic
500 handler must never have been reached.

(Schemathesis' own ``@schema.parametrize`` with a lazy fixture schema does not run under
pytest 9, so each operation's strategy is drawn with plain Hypothesis ``@given``.)
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recsys.models import FunkSVD
from recsys.serve import Catalogue, create_app, sidecar_path
from test_serve_api import synthetic_dataset, write_model

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Bounded so the file runs in well under a minute; raise it for a deeper run, e.g.
# RECSYS_FUZZ_EXAMPLES=200 pytest tests/test_serve_fuzz.py
MAX_EXAMPLES = int(os.environ.get("RECSYS_FUZZ_EXAMPLES", "20"))

# Operations with inputs: fuzzed with valid and with invalid data.
WITH_INPUT = [
    ("GET", "/users"),
    ("GET", "/users/{user_id}"),
    ("GET", "/users/{user_id}/recommendations"),
    ("POST", "/recommendations"),
    ("POST", "/predict"),
    ("GET", "/items"),
    ("GET", "/items/{item_id}"),
    ("GET", "/items/{item_id}/similar"),
]
WITHOUT_INPUT = [("GET", "/health")]


def tmdb_details(item_info) -> pd.DataFrame:
    """TMDB details for the catalogue's items in every combination (some fields, all, none),
    so that the answers' optional fields are checked against the schema too."""
    n = len(item_info)
    return pd.DataFrame({
        "tmdb_id": pd.array([i + 1 if i % 5 else None for i in range(n)], dtype="Int64"),
        "overview": [f"Overview {i}." if i % 2 else float("nan") for i in range(n)],
        "genres": [("Drama", "Crime")[: i % 3] for i in range(n)],
        "keywords": [tuple(f"kw{j}" for j in range(i % 13)) for i in range(n)],
        "year": pd.array([None] * n, dtype="Int64"),
    }, index=item_info.index)


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    data = synthetic_dataset()
    path = write_model(tmp_path_factory.mktemp("fuzz"),
                       FunkSVD(n_factors=3, n_epochs=5, seed=0), data)
    Catalogue.from_frame(data.item_info, data.name, metadata=tmdb_details(data.item_info)
                         ).save(sidecar_path(path))
    return create_app(path)


@pytest.fixture(scope="module")
def api_schema(served_app):
    return schemathesis.openapi.from_asgi("/openapi.json", served_app)


def test_every_operation_is_fuzzed(api_schema):
    ops = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert ops == set(WITH_INPUT + WITHOUT_INPUT)


def fuzz(api_schema, served_app, method: str, path: str, mode: GenerationMode) -> None:
    strategy = api_schema[path][method].as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(checks=CHECKS)

    run()
    assert served_app.state.internal_errors == 0


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
@pytest.mark.parametrize("method, path", WITH_INPUT, ids=[f"{m} {p}" for m, p in WITH_INPUT])
def test_no_server_errors(api_schema, served_app, method, path, mode):
    fuzz(api_schema, served_app, method, path, mode)


@pytest.mark.parametrize("method, path", WITHOUT_INPUT, ids=[f"{m} {p}" for m, p in WITHOUT_INPUT])
def test_no_server_errors_without_input(api_schema, served_app, method, path):
    fuzz(api_schema, served_app, method, path, GenerationMode.POSITIVE)
