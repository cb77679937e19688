"""Property-based tests of the REST API from its own OpenAPI document (schemathesis): whatever
a client sends, the server never answers 5xx, and every answer conforms to the document — a
status code it lists, the content type and the body schema it declares.

The server is a real ``plait server`` on a free loopback port with a few workflows and runs.
The live streams (SSE) are left out: they do not end by design.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import plait_server

WORKFLOWS = {
    "hello.yaml": "name: hello\ntags: [demo]\nschedule: '@daily'\nparams:\n  - WHO: world\n"
    "steps:\n  - name: greet\n    command: echo hello ${WHO}\n",
    "nested.yaml": "name: nested\nsteps:\n  - name: call\n    run: hello\n",
    "broken.yaml": "name: broken\nsteps:\n  - name: a\n    depends: [b]\n    command: x\n",
}
HEADERS = {"X-Plait-Request": "1"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    dags = root / "dags"
    dags.mkdir()
    for name, text in WORKFLOWS.items():
        (dags / name).write_text(text)
    with plait_server(root, dags) as (url, _):
        _make_runs(url)
        yield url


def _make_runs(url: str) -> None:
    """A finished run with a child, so that run endpoints have something real to find."""
    started = httpx.post(url + "/api/v1/workflows/nested/start", headers=HEADERS, json={})
    run_id = started.json()["runId"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/api/v1/runs/{run_id}").json()["status"] not in ("queued", "running"):
            return
        time.sleep(0.1)


@pytest.fixture(scope="module")
def api_schema(live_server: str) -> Any:
    return schemathesis.openapi.from_url(live_server + "/api/openapi.json")


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation: Any, base_url: str) -> None:
    """Up to 20 valid and 20 invalid requests to one operation; none may get a 5xx, and
    every answer must be one the document describes."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS, headers=HEADERS, timeout=10)

    check()


def test_read_endpoints_answer_as_documented(api_schema: Any, live_server: str) -> None:
    reads = api_schema.include(method="GET").exclude(path_regex=r"(/events$|/log/stream$)")
    operations = _operations(reads)
    assert len(operations) >= 10
    for operation in operations:
        _fuzz(operation, live_server)


def test_state_changing_endpoints_answer_as_documented(api_schema: Any, live_server: str) -> None:
    changes = api_schema.exclude(method="GET")
    operations = _operations(changes)
    assert len(operations) >= 6
    for operation in operations:
        _fuzz(operation, live_server)


def test_the_schema_lists_the_versioned_api(live_server: str) -> None:
    paths = httpx.get(live_server + "/api/openapi.json").json()["paths"]
    assert all(p.startswith("/api/v1/") or p in ("/health", "/metrics") for p in paths)
