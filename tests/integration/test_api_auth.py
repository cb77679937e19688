"""Auth of ``plait server``: basic auth and bearer tokens from the environment, ``/health``
open, and a loud warning when told to listen beyond loopback without auth."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port as _free_port


def _serve(tmp: Path, *args: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    (tmp / "dags").mkdir(exist_ok=True)
    full = {
        **os.environ,
        "PLAIT_HOME": str(tmp / "home"),
        "PLAIT_DAGS_DIR": str(tmp / "dags"),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "plait", "server", "--port", str(port), *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            httpx.get(f"http://127.0.0.1:{port}/health")
            return process, port
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server never answered")


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=10)
    return err.decode()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[str]:
    env = {"PLAIT_AUTH_BASIC": "ann:s3cret", "PLAIT_AUTH_TOKEN": "tok-123"}
    process, port = _serve(tmp_path, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def test_basic_auth_and_tokens_guard_everything_but_health(guarded: str) -> None:
    assert httpx.get(guarded + "/health").status_code == 200
    refused = httpx.get(guarded + "/api/v1/workflows")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(guarded + "/api/v1/workflows", auth=("ann", "wrong")).status_code == 401
    assert httpx.get(guarded + "/api/v1/workflows", auth=("ann", "s3cret")).status_code == 200
    bearer = {"Authorization": "Bearer tok-123"}
    assert httpx.get(guarded + "/metrics", headers=bearer).status_code == 200
    assert httpx.get(guarded + "/metrics").status_code == 401  # Prometheus sends a token
    assert httpx.get(guarded + "/", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_bearer_token_needs_no_csrf_header_but_basic_auth_does(guarded: str) -> None:
    body = {"yaml": "name: x\nsteps:\n  - name: a\n    command: echo a\n"}
    with_basic = httpx.post(guarded + "/api/v1/validate", json=body, auth=("ann", "s3cret"))
    assert with_basic.status_code == 403
    with_header = httpx.post(
        guarded + "/api/v1/validate",
        json=body,
        auth=("ann", "s3cret"),
        headers={"X-Plait-Request": "1"},
    )
    assert with_header.status_code == 200
    token = httpx.post(
        guarded + "/api/v1/validate", json=body, headers={"Authorization": "Bearer tok-123"}
    )
    assert token.status_code == 200 and token.json()["valid"] is True


def test_listening_beyond_loopback_without_auth_warns_loudly(tmp_path: Path) -> None:
    env = {"PLAIT_AUTH_BASIC": "", "PLAIT_AUTH_TOKEN": ""}
    process, _ = _serve(tmp_path, "--host", "0.0.0.0", "--insecure-no-auth", env=env)
    err = _stop(process)
    assert "WARNING" in err and "WITHOUT authentication" in err


def test_loopback_without_auth_does_not_warn(tmp_path: Path) -> None:
    env = {"PLAIT_AUTH_BASIC": "", "PLAIT_AUTH_TOKEN": ""}
    process, _ = _serve(tmp_path, env=env)
    assert "WARNING" not in _stop(process)


def test_without_auth_only_local_host_names_reach_the_api(tmp_path: Path) -> None:
    """A page whose DNS name rebinds to 127.0.0.1 must not drive the API from a browser."""
    process, port = _serve(tmp_path, env={})
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/v1/workflows").status_code == 200
        assert (
            httpx.get(f"{base}/api/v1/workflows", headers={"Host": "localhost"}).status_code == 200
        )
        rebound = httpx.get(f"{base}/api/v1/workflows", headers={"Host": "evil.example:8080"})
        assert rebound.status_code == 403
        assert "127.0.0.1" in rebound.json()["error"]
    finally:
        _stop(process)


def test_the_servers_credentials_never_reach_a_step(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "leak.yaml").write_text(
        "name: leak\nsteps:\n  - name: s\n    command: sh -c 'env | grep PLAIT_AUTH || true'\n"
        "    output: SEEN\n"
    )
    env = {"PLAIT_AUTH_TOKEN": "tok-secret"}
    process, port = _serve(tmp_path, env=env)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        auth = {"Authorization": "Bearer tok-secret"}
        run_id = httpx.post(f"{base}/workflows/leak/start", headers=auth, json={}).json()["runId"]
        deadline = time.monotonic() + 20
        record: dict[str, object] = {}
        while time.monotonic() < deadline:
            record = httpx.get(f"{base}/runs/{run_id}", headers=auth).json()
            if record["status"] == "succeeded":
                break
            time.sleep(0.1)
        assert record["status"] == "succeeded"
        assert record["outputs"] == {"SEEN": ""}
    finally:
        _stop(process)
