"""Human in the loop: a ``hitl`` step waits (the run too, with no process and no queue slot),
``plait approve`` gives its inputs (they become outputs) and the run goes on, ``plait reject``
fails the step; the same through the API; a waiting child run; ``wait`` handler and mail."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.peers import smtp_peer
from tests.servers import plait_server

GATE = """
name: gate
maxActiveRuns: 1
handlerOn:
  wait:
    command: |
      echo "waiting: $DAG_RUN_STATUS" > {out}/wait-handler.txt
steps:
  - name: build
    command: echo built
  - name: approval
    type: hitl
    config:
      prompt: "Deploy to prod?"
      input: [TICKET, NOTE]
      required: [TICKET]
  - name: deploy
    command: printf '%s|%s' "${{TICKET}}" "${{NOTE}}" > {out}/deployed.txt
"""


def _status(cli, target: str, *extra: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("status", target, "--json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def _steps(record: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {s["name"]: s for s in record["steps"]}


def test_a_waiting_step_is_approved_with_inputs_and_the_run_goes_on(
    cli, write, tmp_path: Path
) -> None:
    write("gate.yaml", GATE.format(out=tmp_path))
    started = cli("start", "gate.yaml")
    assert started.code == 7, started.out + started.err  # waiting
    assert "‖ approval  waiting" in started.out
    record = _status(cli, "gate")
    assert record["status"] == "waiting"
    assert _steps(record)["approval"]["status"] == "waiting"
    assert _steps(record)["deploy"]["status"] == "not_started"
    assert (tmp_path / "wait-handler.txt").read_text() == "waiting: waiting\n"
    run_id = record["runId"]

    refused = cli("approve", run_id, "approval", "-i", "NOTE=x")
    assert refused.code == 1 and "needs the input TICKET" in refused.err
    unknown = cli("approve", run_id, "approval", "-i", "TICKET=1", "-i", "OTHER=2")
    assert unknown.code == 1 and "asks for TICKET, NOTE, not OTHER" in unknown.err

    done = cli("approve", run_id, "approval", "-i", "TICKET=T-42", "-i", "NOTE=$(id) 'q'")
    assert done.code == 0, done.out + done.err
    assert (tmp_path / "deployed.txt").read_text() == "T-42|$(id) 'q'"
    record = _status(cli, "gate")
    assert record["status"] == "succeeded" and record["runId"] == run_id
    assert record["outputs"]["TICKET"] == "T-42"
    again = cli("approve", run_id, "approval", "-i", "TICKET=1")
    assert again.code == 1 and "not waiting" in again.err


def test_a_rejected_step_fails_and_its_dependents_do_not_run(cli, write, tmp_path: Path) -> None:
    write("gate.yaml", GATE.format(out=tmp_path))
    assert cli("start", "gate.yaml").code == 7
    run_id = _status(cli, "gate")["runId"]
    result = cli("reject", run_id, "approval", "--reason", "not today")
    assert result.code == 1
    record = _status(cli, "gate")
    assert record["status"] == "failed"
    steps = _steps(record)
    assert steps["approval"]["status"] == "failed"
    assert steps["approval"]["error"] == "rejected: not today"
    assert steps["deploy"]["status"] == "upstream_failed"
    assert not (tmp_path / "deployed.txt").exists()


def test_a_waiting_run_holds_no_process_and_no_queue_slot(cli, write, tmp_path: Path) -> None:
    write("gate.yaml", GATE.format(out=tmp_path))
    assert cli("start", "gate.yaml").code == 7
    first = _status(cli, "gate")["runId"]
    # maxActiveRuns is 1, yet a second run starts at once: the waiting one holds no slot.
    assert cli("start", "gate.yaml", "--no-wait").code == 7
    runs = json.loads(cli("history", "gate", "--json").out)
    assert [r["status"] for r in runs] == ["waiting", "waiting"]
    assert all(r["runId"] for r in runs) and first in {r["runId"] for r in runs}


def test_a_waiting_run_can_be_stopped(cli, write, tmp_path: Path) -> None:
    write("gate.yaml", GATE.format(out=tmp_path))
    assert cli("start", "gate.yaml").code == 7
    run_id = _status(cli, "gate")["runId"]
    assert cli("stop", "--run-id", run_id).code == 0
    assert _status(cli, "gate")["status"] == "cancelled"


def test_a_step_in_a_child_run_waits_and_the_root_goes_on_after_approval(
    cli, write, tmp_path: Path
) -> None:
    write(
        "parent.yaml",
        f"""
        name: parent
        steps:
          - name: child
            run: gated-child
            output: RESULT
          - name: after
            command: echo "${{RESULT.outputs.ANSWER}}" > {tmp_path}/after.txt
        ---
        name: gated-child
        steps:
          - name: ask
            type: hitl
            config: {{input: [ANSWER]}}
        """,
    )
    assert cli("start", "parent.yaml").code == 7
    root = _status(cli, "parent")
    child_id = root["children"][0]["runId"]
    assert root["status"] == "waiting"
    assert _status(cli, "parent", "--run-id", child_id)["status"] == "waiting"
    assert cli("approve", child_id, "ask", "-i", "ANSWER=yes").code == 0
    assert _status(cli, "parent")["status"] == "succeeded"
    assert (tmp_path / "after.txt").read_text() == "yes\n"


def test_wait_mail_is_sent_when_a_run_waits(cli, write, tmp_path: Path) -> None:
    with smtp_peer() as smtp:
        write(
            "mailed.yaml",
            f"""
            name: mailed
            smtp: {{host: 127.0.0.1, port: {smtp.port}}}
            mailOn: {{wait: true}}
            waitMail: {{from: plait@test, to: approver@test, prefix: "[APPROVE]"}}
            steps:
              - name: ask
                type: hitl
                config: {{prompt: "ok?"}}
            """,
        )
        assert cli("start", "mailed.yaml").code == 7
        (message,) = smtp.wait_for(1)
    assert message["Subject"] == "[APPROVE] mailed (waiting)"
    assert message["To"] == "approver@test"


def test_the_api_approves_and_the_server_resumes_the_run(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "gate.yaml").write_text(GATE.format(out=tmp_path))
    with plait_server(tmp_path, dags) as (url, _):
        client = httpx.Client(base_url=url, headers={"X-Plait-Request": "1"}, timeout=30)
        with client:
            run_id = client.post("/api/v1/workflows/gate/start", json={}).json()["runId"]
            record = _wait_for(client, run_id, "waiting")
            step = next(s for s in record["steps"] if s["name"] == "approval")
            assert step["waiting"] == {
                "prompt": "Deploy to prod?",
                "input": ["TICKET", "NOTE"],
                "required": ["TICKET"],
            }
            missing = client.post(f"/api/v1/runs/{run_id}/steps/approval/approve", json={})
            assert missing.status_code == 400 and "TICKET" in missing.json()["error"]
            path = f"/api/v1/runs/{run_id}/steps/approval/approve"
            approved = client.post(path, json={"inputs": {"TICKET": "T-7"}})
            assert approved.status_code == 202, approved.text
            assert _wait_for(client, run_id, "succeeded")["outputs"]["TICKET"] == "T-7"
            conflict = client.post(path, json={"inputs": {"TICKET": "T-8"}})
            assert conflict.status_code == 409
    assert (tmp_path / "deployed.txt").read_text() == "T-7|"


def _wait_for(client: httpx.Client, run_id: str, status: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = client.get(f"/api/v1/runs/{run_id}").json()
        if record["status"] == status:
            return record  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never reached {status}: {record['status']}")
