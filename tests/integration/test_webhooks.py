"""Webhooks: a workflow's own token (made by the CLI, kept hashed), an HMAC signature, the
payload as data, idempotent redeliveries (also at once, also to two servers of one store), the
rate limits (counted by each server process) and the payload limit, through the real CLI, the
real server (with and without the server's own credentials) and a real store."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import plait_server, server_env

WORKFLOW = """\
name: deploy
webhook:
  params:
    BRANCH: ref
    REPO: repository.full_name
    FIRST: commits.0.id
params:
  - BRANCH: none
  - REPO: none
  - FIRST: none
steps:
  - name: show
    command: printf '%s|%s|%s|%s' "$BRANCH" "$REPO" "$FIRST" "$WEBHOOK_PAYLOAD"
    output: SHOWN
  - name: secrets
    command: sh -c 'echo "[${PLAIT_WEBHOOK_SECRET_DEPLOY:-}${PLAIT_AUTH_TOKEN:-}]"'
    output: LEAK
"""


class Hooked:
    def __init__(self, url: str, root: Path, dags: Path, env: dict[str, str]) -> None:
        self.url = url
        self.root = root
        self.dags = dags
        self.env = env

    def plait(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plait", *args],
            env=server_env(self.root / "home", self.dags, self.env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def wait(self, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = httpx.get(f"{self.url}/api/v1/runs/{run_id}", headers=headers, timeout=10)
            if reply.status_code == 200 and reply.json()["status"] not in ("queued", "running"):
                return dict(reply.json())
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} never ended")


def _serve(tmp_path: Path, env: dict[str, str]) -> Iterator[Hooked]:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "deploy.yaml").write_text(WORKFLOW)
    (dags / "other.yaml").write_text("steps:\n  - command: 'true'\n")
    with plait_server(tmp_path, dags, env=env) as (url, _):
        yield Hooked(url, tmp_path, dags, env)


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[Hooked]:
    yield from _serve(tmp_path, {"PLAIT_WEBHOOK_SECRET_DEPLOY": "hush", "PLAIT_WEBHOOK_RATE": "5"})


@pytest.fixture
def guarded_server(tmp_path: Path) -> Iterator[Hooked]:
    yield from _serve(tmp_path, {"PLAIT_AUTH_TOKEN": "server-secret"})


PAYLOAD = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "acme/app"},
    "commits": [{"id": "$(touch pwned)"}],
    "note": "it's `not` code; $HOME",
}


def test_a_token_made_by_the_cli_starts_a_run_with_the_payload_as_data(
    guarded_server: Hooked,
) -> None:
    server = guarded_server
    made = server.plait("webhook", "create", "deploy")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("plait_wh_")
    # kept only as its hash
    db = sqlite3.connect(server.root / "home" / "plait.db")
    try:
        kept = db.execute("SELECT token_hash FROM webhooks").fetchall()
    finally:
        db.close()
    assert kept == [(hashlib.sha256(token.encode()).hexdigest(),)]
    for path in (server.root / "home").glob("plait.db*"):
        assert token.encode() not in path.read_bytes()
    body = json.dumps(PAYLOAD).encode()
    # no CSRF header and none of the server's credentials: the workflow's token is enough
    reply = httpx.post(
        f"{server.url}/api/v1/webhooks/deploy",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 202, reply.text
    run = server.wait(reply.json()["runId"], {"Authorization": "Bearer server-secret"})
    assert run["status"] == "succeeded", run
    assert not (server.root / "pwned").exists() and not (server.dags / "pwned").exists()
    shown = run["outputs"]["SHOWN"]
    assert shown == f"refs/heads/main|acme/app|$(touch pwned)|{body.decode()}"
    # the token is the workflow's: not another workflow's, not the server's API
    other = httpx.post(
        f"{server.url}/api/v1/webhooks/other",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert other.status_code == 401
    api = httpx.get(
        f"{server.url}/api/v1/runs", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert api.status_code == 401
    listed = server.plait("webhook", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [r["workflow"] for r in rows] == ["deploy"] and rows[0]["lastUsedAt"] is not None
    assert token not in listed.stdout
    # revoked: refused from then on
    assert server.plait("webhook", "revoke", "deploy").returncode == 0
    again = httpx.post(
        f"{server.url}/api/v1/webhooks/deploy",
        json=PAYLOAD,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert again.status_code == 401
    assert "Traceback" not in again.text
    missing = server.plait("webhook", "create", "nowhere")
    assert missing.returncode != 0 and "nowhere" in missing.stderr


def test_signed_calls_idempotency_and_the_limits(open_server: Hooked) -> None:
    server = open_server
    body = json.dumps(PAYLOAD).encode()
    signature = "sha256=" + hmac.new(b"hush", body, hashlib.sha256).hexdigest()
    call = f"{server.url}/api/v1/webhooks/deploy"
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": "delivery-1"}
    first = httpx.post(call, content=body, headers=headers, timeout=30)
    assert first.status_code == 202, first.text
    again = httpx.post(call, content=body, headers=headers, timeout=30)
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["runId"] == first.json()["runId"]
    run = server.wait(first.json()["runId"], {})
    assert run["outputs"]["SHOWN"].startswith("refs/heads/main|acme/app|")
    assert run["outputs"]["LEAK"] == "[]"  # the signing secret is not handed to steps
    runs = httpx.get(f"{server.url}/api/v1/runs?workflow=deploy", timeout=30).json()["runs"]
    assert len(runs) == 1  # the redelivery started nothing
    # a wrong signature, a body changed after signing: refused
    forged = httpx.post(
        call, content=body + b" ", headers={"X-Hub-Signature-256": signature}, timeout=30
    )
    assert forged.status_code == 401
    # not JSON
    bad = b"not json"
    bad_sig = "sha256=" + hmac.new(b"hush", bad, hashlib.sha256).hexdigest()
    broken = httpx.post(call, content=bad, headers={"X-Hub-Signature-256": bad_sig}, timeout=30)
    assert broken.status_code == 400 and "not JSON" in broken.json()["error"]
    # bigger than the request limit (1 MiB): 413 before anything runs
    huge = json.dumps({"blob": "x" * (2 << 20)}).encode()
    huge_sig = "sha256=" + hmac.new(b"hush", huge, hashlib.sha256).hexdigest()
    too_big = httpx.post(call, content=huge, headers={"X-Hub-Signature-256": huge_sig}, timeout=30)
    assert too_big.status_code == 413
    # PLAIT_WEBHOOK_RATE=5 a minute: the 1st call and the 400 counted; then 429 with Retry-After
    codes = []
    for n in range(6):
        key = {"X-Hub-Signature-256": signature, "Idempotency-Key": f"k{n}"}
        codes.append(httpx.post(call, content=body, headers=key, timeout=30))
    statuses = [r.status_code for r in codes]
    assert 429 in statuses, statuses
    limited = codes[statuses.index(429)]
    assert int(limited.headers["Retry-After"]) >= 1
    assert "too many webhook calls" in limited.json()["error"]
    assert set(statuses[: statuses.index(429)]) == {202}


# ------------------------------------------------------------------ payload size, refusals,
# idempotency, and limits counted by each server process

MAX_PARAM_SIZE = 256 * 1024  # server.maxParamSize by default
MAX_REQUEST_SIZE = 1024 * 1024  # server.maxRequestSize by default


@pytest.fixture
def token_server(tmp_path: Path, store_backend: str) -> Iterator[Hooked]:
    """No server credentials, a per-workflow rate the tests do not reach, the test's store."""
    yield from _serve(tmp_path, {"PLAIT_WEBHOOK_RATE": "1000"})


def _token(server: Hooked, workflow: str = "deploy") -> str:
    made = server.plait("webhook", "create", workflow)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def _call(
    url: str,
    token: str | None,
    body: bytes = b"{}",
    key: str | None = None,
    workflow: str = "deploy",
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(
        f"{url}/api/v1/webhooks/{workflow}", content=body, headers=headers, timeout=60
    )


def _run_ids(server: Hooked, workflow: str = "deploy") -> tuple[list[str], list[str]]:
    """The runs of ``workflow``: as the API lists them, and as ``plait history`` reads the store."""
    listed = httpx.get(
        f"{server.url}/api/v1/runs", params={"workflow": workflow, "limit": 1000}, timeout=30
    )
    assert listed.status_code == 200, listed.text
    history = server.plait("history", "--json", "--limit", "1000", workflow)
    assert history.returncode == 0, history.stderr
    return (
        sorted(r["runId"] for r in listed.json()["runs"]),
        sorted(r["runId"] for r in json.loads(history.stdout)),
    )


def test_a_payload_over_max_param_size_gets_the_webhooks_own_413_and_starts_nothing(
    token_server: Hooked,
) -> None:
    server = token_server
    token = _token(server)
    body = json.dumps({"ref": "refs/heads/main", "blob": "x" * (300 * 1024)}).encode()
    assert MAX_PARAM_SIZE < len(body) < MAX_REQUEST_SIZE  # past the middleware, to the handler
    reply = _call(server.url, token, body)
    assert reply.status_code == 413, reply.text
    error = reply.json()["error"]
    assert "server.maxParamSize" in error and "maxRequestSize" not in error, error
    assert f"{len(body)} bytes" in error and str(MAX_PARAM_SIZE) in error, error
    assert _run_ids(server) == ([], [])
    listed = json.loads(server.plait("webhook", "list", "--json").stdout)
    assert [(r["workflow"], r["lastUsedAt"]) for r in listed] == [("deploy", None)]
    # exactly the limit is allowed: the run starts
    exact = json.dumps({"blob": ""}).encode()
    exact = json.dumps({"blob": "y" * (MAX_PARAM_SIZE - len(exact))}).encode()
    assert len(exact) == MAX_PARAM_SIZE
    accepted = _call(server.url, token, exact)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["runId"]
    assert _run_ids(server) == ([run_id], [run_id])


REFUSALS_PER_MINUTE = 20  # refused webhook calls a client may make a minute


def test_refused_calls_are_limited_per_client_and_accepted_calls_are_not(
    token_server: Hooked,
) -> None:
    server = token_server
    token = _token(server)
    started = time.monotonic()
    half = REFUSALS_PER_MINUTE // 2
    first = [_call(server.url, "plait_wh_wrong").status_code for _ in range(half)]
    assert first == [401] * half
    # a good call before the limit is reached works, and is not counted as refused
    good = _call(server.url, token)
    assert good.status_code == 202, good.text
    rest = [_call(server.url, "plait_wh_wrong").status_code for _ in range(half)]
    assert rest == [401] * half
    refused = [
        _call(server.url, "plait_wh_wrong"),  # a wrong token
        _call(server.url, None),  # no credentials at all
        _call(server.url, token, workflow="other"),  # another workflow: the count is the client's
    ]
    if time.monotonic() - started > 50:
        pytest.skip("the calls took most of the one-minute window; the count may have moved on")
    for reply in refused:
        assert reply.status_code == 429, reply.text
        assert 1 <= int(reply.headers["Retry-After"]) <= 60, reply.headers
        assert "too many webhook calls" in reply.json()["error"]
    # the limit is on refused calls: the client's right token still starts a run
    after = _call(server.url, token)
    assert after.status_code == 202, after.text
    ids = sorted([good.json()["runId"], after.json()["runId"]])
    assert _run_ids(server) == (ids, ids)
    assert _run_ids(server, "other") == ([], [])


def test_an_idempotency_key_starts_one_run_however_often_and_however_fast_it_comes(
    token_server: Hooked,
) -> None:
    server = token_server
    token = _token(server)
    body = json.dumps(PAYLOAD).encode()
    first = _call(server.url, token, body, key="build-1")
    assert first.status_code == 202, first.text
    run_id = first.json()["runId"]
    assert run_id.startswith("wh-") and "duplicate" not in first.json()
    again = _call(server.url, token, body, key="build-1")
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True and again.json()["runId"] == run_id
    other_key = _call(server.url, token, body, key="build-2")
    assert other_key.status_code == 202, other_key.text
    second_id = other_key.json()["runId"]
    assert second_id != run_id
    # the same key to another workflow is that workflow's own delivery
    elsewhere = _call(server.url, _token(server, "other"), key="build-1", workflow="other")
    assert elsewhere.status_code == 202, elsewhere.text
    assert elsewhere.json()["runId"] not in (run_id, second_id)
    # the same delivery several times at once: one run
    replies = _at_once(lambda _: _call(server.url, token, body, key="build-3"), 8)
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] * 7 + [202], [r.text for r in replies]
    third_ids = {r.json()["runId"] for r in replies}
    assert len(third_ids) == 1
    assert [r.json().get("duplicate") for r in replies].count(True) == 7
    expected = sorted([run_id, second_id, *third_ids])
    assert _run_ids(server) == (expected, expected)


def _at_once(call: Callable[[int], httpx.Response], count: int) -> list[httpx.Response]:
    """``call(0)`` … ``call(count - 1)``, each from its own thread, all released together."""
    barrier = threading.Barrier(count)

    def go(n: int) -> httpx.Response:
        barrier.wait(timeout=60)
        return call(n)

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(go, n) for n in range(count)]
        return [f.result(timeout=120) for f in futures]


@contextmanager
def _two_servers(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[Hooked, Hooked]]:
    """Two ``plait server`` processes on one home (one store), as behind a load balancer."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "deploy.yaml").write_text(WORKFLOW)
    (dags / "other.yaml").write_text("steps:\n  - command: 'true'\n")
    shared = {**env, "PLAIT_HOME": str(tmp_path / "home")}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        plait_server(tmp_path / "a", dags, env=shared) as (first, _),
        plait_server(tmp_path / "b", dags, env=shared) as (second, _),
    ):
        yield Hooked(first, tmp_path, dags, shared), Hooked(second, tmp_path, dags, shared)


def test_the_webhook_rate_limits_are_counted_by_each_server_process(tmp_path: Path) -> None:
    with _two_servers(tmp_path, {"PLAIT_WEBHOOK_RATE": "2"}) as (one, two):
        token = _token(one)
        started = time.monotonic()
        accepted = [_call(one.url, token), _call(one.url, token)]
        assert [r.status_code for r in accepted] == [202, 202], [r.text for r in accepted]
        limited = _call(one.url, token)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        # the other process has counted nothing yet: its own two a minute
        elsewhere = [_call(two.url, token) for _ in range(3)]
        if time.monotonic() - started > 50:
            pytest.skip("the calls took most of the one-minute window; the count may have moved on")
        assert [r.status_code for r in elsewhere] == [202, 202, 429], [r.text for r in elsewhere]
        ids = sorted(r.json()["runId"] for r in [*accepted, *elsewhere[:2]])
        assert _run_ids(one) == (ids, ids)
    # a restarted server starts counting again
    with plait_server(tmp_path / "a", one.dags, env=one.env) as (url, _):
        again = _call(url, token)
        assert again.status_code == 202, again.text


def test_one_delivery_sent_to_two_servers_at_once_starts_one_run(
    tmp_path: Path, store_backend: str
) -> None:
    with _two_servers(tmp_path, {"PLAIT_WEBHOOK_RATE": "1000"}) as (one, two):
        token = _token(one)
        body = json.dumps(PAYLOAD).encode()
        expected: list[str] = []
        for key in (f"redelivered-{n}" for n in range(5)):

            def deliver(n: int, key: str = key) -> httpx.Response:
                return _call((one, two)[n % 2].url, token, body, key=key)

            replies = _at_once(deliver, 6)
            codes = sorted(r.status_code for r in replies)
            assert codes == [200] * 5 + [202], [(r.status_code, r.text) for r in replies]
            ids = {r.json()["runId"] for r in replies}
            assert len(ids) == 1
            expected.extend(ids)
        assert _run_ids(one) == (sorted(expected), sorted(expected))
