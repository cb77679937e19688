"""Webhooks: a workflow's own token (made by the CLI, kept hashed), an HMAC signature, the
payload as data, idempotent redeliveries, the rate limit and the payload limit, through the
real CLI, the real server (with and without the server's own credentials) and a real store."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
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
