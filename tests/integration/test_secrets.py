"""Secrets stay secret: ``secrets:`` (env and file providers) reach steps as environment
variables, and every secret — those, and env values or params whose name says so — is
``*******`` in step logs, outputs, the store, the run log, the terminal, the API and SSE."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import plait_server

TOKEN = "tok-3f9a1c77e2b4"  # from the environment, by `secrets:` (env provider)
FILE_SECRET = "file-secret-8d2e0b"  # from a file, by `secrets:` (file provider)
NAMED = "named-db-pass-41f0"  # a workflow env value whose name says it is a secret
GIVEN = "given-api-key-6c1d"  # a param given at start, whose name says it is a secret
SECRETS = (TOKEN, FILE_SECRET, NAMED, GIVEN)

WORKFLOW = """\
name: leaky
secrets:
  - name: API_TOKEN
    provider: env
    key: SOURCE_TOKEN
  - name: FROM_FILE
    provider: file
    key: secret.txt
env:
  - DB_PASSWORD: {named}
params:
  - SERVICE_KEY: unset
steps:
  - name: print
    command: |
      echo "token=$API_TOKEN file=$FROM_FILE db=$DB_PASSWORD key=${{SERVICE_KEY}}"
      echo "on stderr: $API_TOKEN" >&2
  - name: split
    command: |
      half=$(printf '%s' "$API_TOKEN" | cut -c1-7); rest=$(printf '%s' "$API_TOKEN" | cut -c8-)
      printf '%s' "$half"; sleep 0.3; printf '%s\\n' "$rest"
  - name: capture
    command: printf 'value:%s' "$FROM_FILE"
    output: CAPTURED
  - name: fail
    command: echo "failing with $API_TOKEN"; exit 3
    continueOn:
      failure: true
"""


def _home_bytes(root: Path) -> bytes:
    """Every byte of every file under ``root`` (the store, its WAL, every log)."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _assert_masked(text: str | bytes, where: str) -> None:
    data = text if isinstance(text, bytes) else text.encode()
    leaked = [s for s in SECRETS if s.encode() in data]
    assert not leaked, f"{where} shows {leaked}"


@pytest.fixture
def leaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "secret.txt").write_text(FILE_SECRET + "\n")
    monkeypatch.setenv("SOURCE_TOKEN", TOKEN)
    path = tmp_path / "leaky.yaml"
    path.write_text(WORKFLOW.format(named=NAMED))
    return path


def test_secrets_reach_steps_and_are_masked_on_every_local_surface(
    cli, leaky: Path, home: Path
) -> None:
    result = cli("start", leaky, "--", f"SERVICE_KEY={GIVEN}")
    assert result.code == 3, result.out + result.err  # partially succeeded: `fail` tolerated
    _assert_masked(result.out + result.err, "the terminal tree")
    assert "*******" in result.out
    status = cli("status", "leaky", "--json")
    _assert_masked(status.out, "status --json")
    record = json.loads(status.out)
    assert record["params"]["SERVICE_KEY"] == "*******"
    assert record["outputs"]["CAPTURED"] == "value:*******"
    printed = cli("logs", "leaky", "--step", "print").out
    assert printed == "token=******* file=******* db=******* key=*******\n"
    assert cli("logs", "leaky", "--step", "print", "--stderr").out == "on stderr: *******\n"
    assert cli("logs", "leaky", "--step", "split").out == "*******\n"  # split across writes
    _assert_masked(cli("history", "leaky", "--json").out, "history --json")
    _assert_masked(_home_bytes(home), "the files of the home (store, WAL, logs)")


def test_a_secret_is_the_real_value_inside_the_step(cli, write, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_TOKEN", TOKEN)
    out = tmp_path / "seen.txt"
    write(
        "real.yaml",
        f"""
        name: real
        secrets:
          - name: API_TOKEN
            provider: env
            key: SOURCE_TOKEN
        steps:
          - name: use
            command: printf '%s' "$API_TOKEN" > {out}
        """,
    )
    assert cli("start", "real.yaml").code == 0
    assert out.read_text() == TOKEN


def test_missing_secret_fails_the_run_naming_it_not_its_value(cli, write, monkeypatch) -> None:
    monkeypatch.delenv("NOT_THERE", raising=False)
    write(
        "missing.yaml",
        """
        name: missing
        secrets:
          - name: API_TOKEN
            provider: env
            key: NOT_THERE
          - name: OTHER
            provider: file
            key: /nonexistent/secret
        steps:
          - name: never
            command: echo never
        """,
    )
    result = cli("start", "missing.yaml")
    assert result.code == 1
    record = json.loads(cli("status", "missing", "--json").out)
    assert record["error"] == "secret API_TOKEN: the environment variable NOT_THERE is not set"
    assert record["steps"][0]["status"] == "not_started"


def test_bad_secrets_field_is_a_load_error_with_file_line_and_field(cli, write) -> None:
    write(
        "bad.yaml",
        """
        name: bad
        secrets:
          - name: A
            provider: vault
            key: x
          - name: B
            provider: env
        steps:
          - name: s
            command: "true"
        """,
    )
    result = cli("validate", "bad.yaml")
    assert result.code == 1
    assert "bad.yaml:4: secrets[0].provider: must be one of env, file" in result.err
    assert "bad.yaml:6: secrets[1]: `key` is required" in result.err
    assert "Traceback" not in result.err


def test_child_runs_mask_their_parents_secrets(cli, write, home, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_TOKEN", TOKEN)
    write(
        "parent.yaml",
        """
        name: parent
        secrets:
          - name: API_TOKEN
            provider: env
            key: SOURCE_TOKEN
        steps:
          - name: child
            run: child
            params: "GIVEN=${API_TOKEN}"
          - name: each
            parallel: '["a", "b"]'
            command: echo "$ITEM $API_TOKEN"
        ---
        name: child
        params:
          - GIVEN: ""
        steps:
          - name: show
            command: echo "child got $GIVEN"
            output: OUT
        """,
    )
    assert cli("start", "parent.yaml").code == 0
    _assert_masked(cli("status", "parent", "--json").out, "the parent's status")
    _assert_masked(_home_bytes(home), "the files of the home")


# --------------------------------------------------------------------------- the server


def _wait_final(client: httpx.Client, run_id: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = client.get(f"/api/v1/runs/{run_id}").json()
        if record["status"] not in ("queued", "running"):
            return record  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("the run did not finish")


def test_api_and_sse_show_only_masked_secrets(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "secret.txt").write_text(FILE_SECRET)
    (dags / "leaky.yaml").write_text(WORKFLOW.format(named=NAMED))
    with plait_server(tmp_path, dags, env={"SOURCE_TOKEN": TOKEN}) as (url, _):
        client = httpx.Client(base_url=url, headers={"X-Plait-Request": "1"}, timeout=30)
        with client:
            started = client.post(
                "/api/v1/workflows/leaky/start", json={"params": {"SERVICE_KEY": GIVEN}}
            )
            assert started.status_code < 300, started.text
            run_id = started.json()["runId"]
            with client.stream("GET", "/api/v1/events", params={"runId": run_id}) as events:
                seen = []
                for line in events.iter_lines():
                    seen.append(line)
                    if '"partially_succeeded"' in line or '"failed"' in line:
                        break
            _assert_masked("\n".join(seen), "the run events")
            record = _wait_final(client, run_id)
            assert record["status"] == "partially_succeeded", record
            bodies = [
                client.get(f"/api/v1/runs/{run_id}").text,
                client.get(f"/api/v1/runs/{run_id}/tree").text,
                client.get("/api/v1/runs").text,
                client.get("/api/v1/runs", params={"workflow": "leaky"}).text,
                client.get("/api/v1/workflows").text,
            ]
            for step in ("print", "split", "capture", "fail"):
                for stream in ("stdout", "stderr"):
                    log = client.get(f"/api/v1/runs/{run_id}/steps/{step}/log?stream={stream}")
                    bodies.append(log.text)
            path = f"/api/v1/runs/{run_id}/steps/print/log/stream"
            with client.stream("GET", path) as live:
                text = []
                for line in live.iter_lines():
                    text.append(line)
                    if line.startswith("event: end"):
                        break
            bodies.append("\n".join(text))
            assert "token=*******" in "\n".join(bodies)
            for body in bodies:
                _assert_masked(body, "an API reply")
    _assert_masked(_home_bytes(tmp_path / "home"), "the files of the server's home")
