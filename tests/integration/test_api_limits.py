"""Bounded inputs and safe answers: body and param limits, short lists, security headers,
and no unauthenticated server on a non-loopback address unless asked for."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plait.api.security import Auth
from plait.api.server import check_exposure
from plait.errors import UsageError
from tests.servers import plait_server

HEADERS = {"X-Plait-Request": "1"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("limits")
    dags = root / "dags"
    dags.mkdir()
    (dags / "echo.yaml").write_text(
        "name: echo\nparams:\n  - V: x\nsteps:\n  - name: s\n    command: 'true'\n"
    )
    with (
        plait_server(root, dags) as (url, _),
        httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client,
    ):
        yield client


def test_a_body_over_the_limit_is_a_413_with_a_json_error(api: httpx.Client) -> None:
    big = {"params": {"V": "x" * (2 * 1024 * 1024)}}
    response = api.post("/api/v1/workflows/echo/start", json=big)
    assert response.status_code == 413
    assert "larger than 1048576 bytes" in response.json()["error"]


def test_a_streamed_body_over_the_limit_is_a_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"params": {"V": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}}'

    response = api.post(
        "/api/v1/workflows/echo/start",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


def test_a_param_over_its_limit_is_a_422_naming_it(api: httpx.Client) -> None:
    response = api.post("/api/v1/workflows/echo/start", json={"params": {"V": "z" * 300_000}})
    assert response.status_code == 422
    assert response.json()["error"].startswith("param V is 300000 bytes, more than 262144")


def test_lists_cut_long_values_and_the_run_has_them_whole(api: httpx.Client) -> None:
    value = "w" * 100_000
    started = api.post("/api/v1/workflows/echo/start", json={"params": {"V": value}})
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    deadline = time.monotonic() + 60
    while api.get(f"/api/v1/runs/{run_id}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    listed = api.get("/api/v1/runs", params={"workflow": "echo"})
    assert len(listed.content) < 10_000
    row = next(r for r in listed.json()["runs"] if r["runId"] == run_id)
    assert row["params"]["V"].startswith("w" * 1024 + "… [cut: 100000 characters in all")
    assert api.get(f"/api/v1/runs/{run_id}").json()["params"]["V"] == value


@pytest.mark.parametrize("path", ["/", "/api/v1/workflows", "/api/v1/runs/nope", "/health"])
def test_every_answer_has_the_security_headers(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy


def test_refused_answers_have_them_too(api: httpx.Client) -> None:
    response = httpx.post(str(api.base_url) + "/api/v1/workflows/echo/start", json={})
    assert response.status_code == 403
    assert response.headers["x-frame-options"] == "DENY"


def test_a_non_loopback_address_without_auth_is_refused(plait_bin, tmp_path: Path) -> None:
    result = plait_bin("server", "--host", "0.0.0.0", "--port", "1")
    assert result.code == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in result.err
    assert "--insecure-no-auth" in result.err and "Traceback" not in result.err
    result = plait_bin("start-all", "--host", "0.0.0.0", "--port", "1")
    assert result.code == 2 and "refusing to listen" in result.err


def test_insecure_no_auth_is_a_loud_choice(capsys: pytest.CaptureFixture[str]) -> None:
    check_exposure("0.0.0.0", Auth(), insecure_no_auth=True)
    assert "WITHOUT authentication" in capsys.readouterr().err
    check_exposure("0.0.0.0", Auth(tokens=("t",)), insecure_no_auth=False)  # auth: fine
    check_exposure("127.0.0.1", Auth(), insecure_no_auth=False)  # loopback: fine
    with pytest.raises(UsageError):
        check_exposure("192.0.2.1", Auth(), insecure_no_auth=False)


def test_run_config_fixes_params_and_run_ids(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "fixed.yaml").write_text(
        "name: fixed\nrunConfig: {disableParamEdit: true, disableRunIdEdit: true}\n"
        "params:\n  - P: a\nsteps:\n  - name: s\n    command: 'true'\n"
    )
    with (
        plait_server(tmp_path, dags) as (url, _),
        httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client,
    ):
        shown = client.get("/api/v1/workflows/fixed").json()["runConfig"]
        assert shown == {"disableParamEdit": True, "disableRunIdEdit": True}
        params = client.post("/api/v1/workflows/fixed/start", json={"params": {"P": "b"}})
        assert params.status_code == 422 and "disableParamEdit" in params.json()["error"]
        named = client.post("/api/v1/workflows/fixed/start", json={"runId": "mine-1"})
        assert named.status_code == 422 and "disableRunIdEdit" in named.json()["error"]
        assert client.post("/api/v1/workflows/fixed/start", json={}).status_code == 202
