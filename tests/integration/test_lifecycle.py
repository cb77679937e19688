"""Stop, retry and restart by run id; runs whose agent died are recovered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from plait.app import open_store
from plait.store.home import Home


def _start_background(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_running(cli, name: str, timeout: float = 10.0) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = cli("status", name, "--json")
        if result.code == 0:
            record = json.loads(result.out)
            if any(step["status"] == "running" for step in record["steps"]):
                return record
        time.sleep(0.05)
    raise AssertionError(f"{name} never started running")


def test_stop_by_run_id_cancels_only_that_run(cli, write) -> None:
    path = write(
        "long.yaml",
        """
        name: long
        maxActiveRuns: 2
        steps:
          - name: wait
            command: sleep 20
        handlerOn:
          cancel:
            command: echo cancel-handler
    """,
    )
    first = _start_background(path)
    first_record = _wait_running(cli, "long")
    second = _start_background(path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = json.loads(cli("history", "long", "--json").out)
        if len(runs) == 2 and all(r["status"] == "running" for r in runs):
            break
        time.sleep(0.05)
    result = cli("stop", "long", "--run-id", first_record["runId"])
    assert result.code == 0
    assert first.wait(timeout=15) == 5
    stopped = json.loads(cli("status", "long", "--run-id", first_record["runId"], "--json").out)
    assert stopped["status"] == "cancelled"
    assert {s["name"]: s["status"] for s in stopped["steps"]}["onCancel"] == "succeeded"
    other = next(
        r
        for r in json.loads(cli("history", "long", "--json").out)
        if r["runId"] != first_record["runId"]
    )
    assert other["status"] == "running"
    assert cli("stop", "long").code == 0
    assert second.wait(timeout=15) == 5


def test_retry_keeps_succeeded_steps_and_reruns_the_rest(cli, write, tmp_path: Path) -> None:
    write(
        "flaky.yaml",
        """
        name: flaky
        steps:
          - name: first
            command: sh -c 'echo run >> first.count; echo first-out'
            output: FIRST
          - name: second
            command: sh -c 'test -f ready && echo second-${FIRST}'
            output: SECOND
          - name: third
            command: echo third-${SECOND}
            output: THIRD
    """,
    )
    assert cli("start", "flaky.yaml").code == 1
    failed = json.loads(cli("status", "flaky", "--json").out)
    (tmp_path / "ready").write_text("")
    result = cli("retry", "flaky", "--run-id", failed["runId"])
    assert result.code == 0, result.out + result.err
    record = json.loads(cli("status", "flaky", "--json").out)
    assert record["runId"] == failed["runId"]
    assert record["attempt"] == 2
    assert record["status"] == "succeeded"
    assert record["outputs"]["THIRD"] == "third-second-first-out"
    assert (tmp_path / "first.count").read_text() == "run\n"  # kept, not run again
    assert {s["name"]: s["attempt"] for s in record["steps"]} == {
        "first": 1,
        "second": 2,
        "third": 1,
    }
    store = open_store(Home.from_env())
    try:
        earlier = store.attempts(record["runId"], "second")
    finally:
        store.close()
    assert [(a.attempt, str(a.status), a.exit_code) for a in earlier] == [(1, "failed", 1)]
    assert earlier[0].finished_at is not None


def test_retry_of_one_step_with_and_without_downstream(cli, write, tmp_path: Path) -> None:
    write(
        "steps.yaml",
        """
        name: steps
        steps:
          - name: a
            command: sh -c 'echo a >> trace'
          - name: b
            command: sh -c 'echo b >> trace'
          - name: c
            command: sh -c 'echo c >> trace'
    """,
    )
    assert cli("start", "steps.yaml").code == 0
    run_id = json.loads(cli("status", "steps", "--json").out)["runId"]
    assert cli("retry", "steps", "--run-id", run_id, "--step", "b").code == 0
    assert (tmp_path / "trace").read_text().split() == ["a", "b", "c", "b"]
    assert cli("retry", "steps", "--run-id", run_id, "--step", "b", "--downstream").code == 0
    assert (tmp_path / "trace").read_text().split() == ["a", "b", "c", "b", "b", "c"]


def test_retry_of_an_active_run_is_refused(cli, write) -> None:
    path = write("busy.yaml", "name: busy\nsteps:\n  - name: s\n    command: sleep 20\n")
    process = _start_background(path)
    record = _wait_running(cli, "busy")
    result = cli("retry", "busy", "--run-id", record["runId"])
    assert result.code == 1
    assert "still active" in result.err
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 5


def test_restart_stops_and_starts_with_the_same_params(cli, write) -> None:
    path = write(
        "rs.yaml",
        """
        name: rs
        params:
          - P: default
        steps:
          - name: s
            command: sleep 20
    """,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", str(path), "--", "P=given"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = _wait_running(cli, "rs")
    write(
        "rs.yaml",
        """
        name: rs
        params:
          - P: default
        steps:
          - name: s
            command: echo ${P}
            output: OUT
    """,
    )
    result = cli("restart", "rs")
    assert result.code == 0, result.err
    assert process.wait(timeout=15) == 5
    runs = json.loads(cli("history", "rs", "--json").out)
    assert runs[0]["runId"] != first["runId"]
    assert runs[0]["outputs"] == {"OUT": "given"}
    assert runs[1]["status"] == "cancelled"


def test_run_of_a_killed_agent_is_marked_failed_and_its_steps_stopped(cli, write) -> None:
    path = write(
        "dies.yaml",
        """
        name: dies
        steps:
          - name: s
            command: sh -c 'echo $$ > step.pid; sleep 30'
    """,
    )
    process = _start_background(path)
    record = _wait_running(cli, "dies")
    deadline = time.monotonic() + 5
    while not (path.parent / "step.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    step_pid = int((path.parent / "step.pid").read_text())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    after = json.loads(cli("status", "dies", "--json").out)
    assert after["runId"] == record["runId"]
    assert after["status"] == "failed"
    assert after["error"] == "agent process exited"
    assert after["steps"][0]["status"] == "failed"
    time.sleep(0.1)
    assert not Path(f"/proc/{step_pid}").exists() or _is_zombie(step_pid)
    write("dies.yaml", "name: dies\nsteps:\n  - name: s\n    command: echo recovered\n")
    assert cli("retry", "dies", "--run-id", record["runId"]).code == 0
    assert json.loads(cli("status", "dies", "--json").out)["status"] == "succeeded"


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def test_retry_reruns_only_failed_children_and_their_failed_steps(
    cli, write, tmp_path: Path
) -> None:
    write(
        "rc.yaml",
        """
        name: rc
        steps:
          - name: fan
            run: item
            parallel: ["a", "b", "c"]
            params: "X=${ITEM}"
        ---
        name: item
        params:
          - X: ""
        steps:
          - name: first
            command: sh -c 'echo "$X" >> first.log'
          - name: check
            command: sh -c 'test "$X" != b || test -f fixed'
    """,
    )
    assert cli("start", "rc.yaml").code == 1
    failed = json.loads(cli("status", "rc", "--json").out)
    children_before = {c["itemIndex"]: c["runId"] for c in failed["children"]}
    (tmp_path / "fixed").write_text("")
    assert cli("retry", "rc", "--run-id", failed["runId"]).code == 0
    record = json.loads(cli("status", "rc", "--json").out)
    assert record["status"] == "succeeded"
    assert {c["itemIndex"]: c["runId"] for c in record["children"]} == children_before
    assert sorted((tmp_path / "first.log").read_text().split()) == ["a", "b", "c"]
    retried = json.loads(cli("status", "--run-id", children_before[1], "--json").out)
    assert retried["attempt"] == 2
    assert {s["name"]: s["attempt"] for s in retried["steps"]} == {"first": 1, "check": 2}


def test_stop_of_a_queued_run_takes_it_out_of_its_queue(cli, write) -> None:
    write("queued.yaml", "name: queued\nsteps:\n  - name: s\n    command: sleep 5\n")
    enqueued = cli("enqueue", "queued.yaml")
    run_id = enqueued.out.strip()
    assert cli("stop", "--run-id", run_id).code == 0
    record = json.loads(cli("status", "--run-id", run_id, "--json").out)
    assert record["status"] == "cancelled"
    assert record["startedAt"] is None


def test_a_second_stop_ends_the_handlers_of_a_stopped_run(cli, write) -> None:
    path = write(
        "h.yaml",
        """
        name: h
        steps:
          - name: long
            command: sleep 30
        handlerOn:
          cancel:
            command: sleep 30
        """,
    )
    process = _start_background(path)
    record = _wait_running(cli, "h")
    assert cli("stop", "h", "--no-wait").code == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        steps = json.loads(cli("status", "h", "--json").out)["steps"]
        if any(s["name"] == "onCancel" and s["status"] == "running" for s in steps):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the cancel handler never started")
    assert cli("stop", "--run-id", record["runId"]).code == 0
    assert process.wait(timeout=60) == 5
    final = json.loads(cli("status", "h", "--json").out)
    assert final["status"] == "cancelled"
    handler = next(s for s in final["steps"] if s["name"] == "onCancel")
    assert handler["status"] == "cancelled"


def test_a_run_is_retried_from_its_stored_definition_when_its_files_are_gone(
    cli, write, tmp_path: Path
) -> None:
    # the parent and its child live in two files; both are gone (or changed) before the retry
    write(
        "kid.yaml",
        """
        name: kid
        steps:
          - name: k
            command: echo kid-ran
            output: KID
        """,
    )
    parent = write(
        "whole.yaml",
        """
        name: whole
        steps:
          - name: call
            run: kid
          - name: gate
            command: test -f ready
            depends: [call]
        """,
    )
    assert cli("start", str(parent)).code == 1
    failed = json.loads(cli("status", "whole", "--json").out)
    parent.write_text("name: whole\nsteps:\n  - name: other\n    command: exit 9\n")
    (tmp_path / "kid.yaml").unlink()
    (tmp_path / "ready").write_text("")
    result = cli("retry", "--run-id", failed["runId"])
    assert result.code == 0, result.out + result.err
    record = json.loads(cli("status", "--run-id", failed["runId"], "--json").out)
    assert record["status"] == "succeeded"
    assert [s["name"] for s in record["steps"]] == ["call", "gate"]  # what was stored


def test_a_queued_run_starts_from_its_stored_definition(
    cli, write, home: Path, tmp_path: Path
) -> None:
    path = write("later.yaml", "name: later\nsteps:\n  - name: s\n    command: echo stored\n")
    run_id = cli("enqueue", str(path)).out.strip()
    path.unlink()
    with open(tmp_path / "scheduler.log", "wb") as log:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "plait", "scheduler"], stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        record: dict[str, object] = {}
        while time.monotonic() < deadline:
            record = json.loads(cli("status", "--run-id", run_id, "--json").out)
            if record["status"] not in ("queued", "running"):
                break
            time.sleep(0.2)
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)
    assert record["status"] == "succeeded", (record, (tmp_path / "scheduler.log").read_text())
