"""Time and stop: step and workflow timeoutSec, delaySec, stop by signal, signalOnStop.

Each step that could outlive its run writes the pids of its processes to files, so the tests
can check that the whole process group is gone afterwards (a zombie counts as gone: only its
parent, not plait, can reap it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def status_json(cli, target: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("status", target, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def steps_by_name(record: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {step["name"]: step for step in record["steps"]}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def gone_soon(check, timeout: float = 2.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_for(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)
    return path.read_text().strip()


@contextlib.contextmanager
def reaping(*pid_files: Path) -> Iterator[None]:
    """Kill (by pid) what a test's step left behind, whether or not the test passed."""
    try:
        yield
    finally:
        for pid_file in pid_files:
            if pid_file.exists() and pid_file.read_text().strip():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)


def start_in_background(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------------- step timeoutSec


def test_step_timeout_fails_the_step_with_the_reason(cli, write) -> None:
    write(
        "st.yaml",
        """
        name: st
        steps:
          - name: slow
            command: sleep 60
            timeoutSec: 1
          - name: after
            command: "true"
    """,
    )
    began = time.monotonic()
    result = cli("start", "st.yaml")
    elapsed = time.monotonic() - began
    assert result.code == 1
    assert elapsed < 40, elapsed  # cut at its timeout, long before the sleep ends
    record = status_json(cli, "st")
    assert record["status"] == "failed"
    steps = steps_by_name(record)
    assert steps["slow"]["status"] == "failed"
    assert "timed out" in steps["slow"]["error"]
    assert steps["after"]["status"] == "upstream_failed"
    assert "timed out" in record["error"]


@pytest.mark.parametrize(
    "child",
    ["sleep 30", "(trap '' TERM; exec sleep 30)"],
    ids=["plain-child", "child-ignoring-sigterm"],
)
def test_step_timeout_kills_the_whole_process_group(cli, write, tmp_path, child: str) -> None:
    write(
        "pg.yaml",
        f"""
        name: pg
        maxCleanUpTimeSec: 0.3
        steps:
          - name: parent
            shell: bash
            command: echo $$ > leader.pid; {child} & echo $! > child.pid; wait
            timeoutSec: 0.5
    """,
    )
    with reaping(tmp_path / "child.pid"):
        assert cli("start", "pg.yaml").code == 1
        child_pid = int((tmp_path / "child.pid").read_text())
        leader = int((tmp_path / "leader.pid").read_text())
        assert gone_soon(lambda: alive(child_pid)), "the step's background child survived"
        assert gone_soon(lambda: group_alive(leader))
    step = steps_by_name(status_json(cli, "pg"))["parent"]
    assert step["status"] == "failed"
    assert "timed out" in step["error"]


def test_timed_out_step_can_be_tolerated(cli, write) -> None:
    write(
        "tt.yaml",
        """
        name: tt
        steps:
          - name: slow
            command: sleep 5
            timeoutSec: 0.3
            continueOn:
              failure: true
          - name: after
            command: "true"
    """,
    )
    assert cli("start", "tt.yaml").code == 3
    steps = steps_by_name(status_json(cli, "tt"))
    assert steps["slow"]["status"] == "failed"
    assert steps["after"]["status"] == "succeeded"


# ---------------------------------------------------------------------- workflow timeoutSec


def test_workflow_timeout_fails_the_run_with_the_reason(cli, write, tmp_path: Path) -> None:
    write(
        "wt.yaml",
        """
        name: wt
        timeoutSec: 1
        steps:
          - name: quick
            command: "true"
          - name: slow
            shell: bash
            command: sleep 30 & echo $! > child.pid; wait
          - name: never
            command: touch ran-never
    """,
    )
    with reaping(tmp_path / "child.pid"):
        began = time.monotonic()
        result = cli("start", "wt.yaml")
        elapsed = time.monotonic() - began
        assert result.code == 1
        assert elapsed < 25, elapsed  # long before the 30 s sleep ends
        assert gone_soon(lambda: alive(int((tmp_path / "child.pid").read_text())))
    record = status_json(cli, "wt")
    assert record["status"] == "failed"
    assert "timed out" in record["error"]
    steps = steps_by_name(record)
    assert steps["quick"]["status"] == "succeeded"
    assert steps["never"]["status"] in ("not_started", "cancelled", "upstream_failed")
    assert not (tmp_path / "ran-never").exists()


def test_handlers_run_after_a_workflow_timeout(cli, write, tmp_path: Path) -> None:
    write(
        "wth.yaml",
        """
        name: wth
        timeoutSec: 0.5
        steps:
          - name: slow
            command: sleep 5
        handlerOn:
          failure:
            command: echo "$DAG_RUN_STATUS" > seen-failure
          exit:
            command: echo "$DAG_RUN_STATUS" > seen-exit
    """,
    )
    assert cli("start", "wth.yaml").code == 1
    record = status_json(cli, "wth")
    assert record["status"] == "failed"
    assert "timed out" in record["error"]
    handlers = {s["name"]: s for s in record["steps"] if s.get("handler")}
    assert {name: h["status"] for name, h in handlers.items()} == {
        "onFailure": "succeeded",
        "onExit": "succeeded",
    }
    assert (tmp_path / "seen-failure").read_text().strip() == "failed"
    assert (tmp_path / "seen-exit").read_text().strip() == "failed"


def test_workflow_timeout_records_the_running_step_failed_with_the_reason(cli, write) -> None:
    write(
        "wts.yaml",
        """
        name: wts
        timeoutSec: 0.5
        steps:
          - name: slow
            command: sleep 5
    """,
    )
    assert cli("start", "wts.yaml").code == 1
    step = steps_by_name(status_json(cli, "wts"))["slow"]
    assert step["status"] == "failed"
    assert step["error"] == "timed out after 0.5s"


# ---------------------------------------------------------------------- delaySec


def test_delay_sec_delays_the_start_of_the_step(cli, write, tmp_path: Path) -> None:
    write(
        "dl.yaml",
        """
        name: dl
        steps:
          - name: a
            command: date +%s.%N >> stamps
          - name: b
            command: date +%s.%N >> stamps
            delaySec: 0.4
    """,
    )
    assert cli("start", "dl.yaml").code == 0
    first, second = (float(x) for x in (tmp_path / "stamps").read_text().split())
    assert second - first >= 0.4


# ---------------------------------------------------------------------- stop by signal


@pytest.mark.parametrize(
    ("sig", "key"),
    [(signal.SIGTERM, "cancel"), (signal.SIGINT, "abort")],
    ids=["sigterm-onCancel", "sigint-abort-alias"],
)
def test_signal_to_start_cancels_the_run(write, cli, tmp_path: Path, sig, key: str) -> None:
    path = write(
        "stopme.yaml",
        f"""
        name: stopme
        steps:
          - name: long
            shell: bash
            command: echo $$ > leader.pid; sleep 30 & echo $! > child.pid; wait
          - name: after
            command: touch ran-after
        handlerOn:
          {key}:
            command: echo "$DAG_RUN_STATUS" > seen-cancel
          exit:
            command: echo "$DAG_RUN_STATUS" > seen-exit
          success:
            command: touch ran-success
    """,
    )
    process = start_in_background(path)
    try:
        with reaping(tmp_path / "child.pid"):
            child = int(wait_for(tmp_path / "child.pid"))
            leader = int(wait_for(tmp_path / "leader.pid"))
            process.send_signal(sig)
            assert process.wait(timeout=25) == 5  # long before the 30 s sleep ends
            assert gone_soon(lambda: alive(child))
            assert gone_soon(lambda: group_alive(leader))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    record = status_json(cli, "stopme")
    assert record["status"] == "cancelled"
    steps = steps_by_name(record)
    assert steps["long"]["status"] == "cancelled"
    assert steps["after"]["status"] in ("not_started", "cancelled")
    assert not (tmp_path / "ran-after").exists()
    assert not (tmp_path / "ran-success").exists()
    assert (tmp_path / "seen-cancel").read_text().strip() == "cancelled"
    assert (tmp_path / "seen-exit").read_text().strip() == "cancelled"
    handlers = {s["name"]: s for s in record["steps"] if s.get("handler")}
    assert set(handlers) == {"onCancel", "onExit"}
    assert all(h["status"] == "succeeded" for h in handlers.values())


def test_stop_kills_what_survives_the_signal_after_the_cleanup_time(write, tmp_path: Path) -> None:
    path = write(
        "stubborn.yaml",
        """
        name: stubborn
        maxCleanUpTimeSec: 0.3
        steps:
          - name: long
            shell: bash
            command: (trap '' TERM; exec sleep 30) & echo $! > child.pid; wait
    """,
    )
    process = start_in_background(path)
    try:
        with reaping(tmp_path / "child.pid"):
            child = int(wait_for(tmp_path / "child.pid"))
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 5
            assert gone_soon(lambda: alive(child), timeout=1.5), "a step process survived stop"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _stop_a_step_that_traps_sigint(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write(
        "sos.yaml",
        """
        name: sos
        steps:
          - name: trapper
            shell: bash
            signalOnStop: SIGINT
            script: |
              trap 'echo got-int > marker; exit 0' INT
              trap 'echo got-term > marker-term; exit 0' TERM
              echo $$ > leader.pid
              while :; do sleep 0.05; done
          - name: next
            command: touch ran-next
    """,
    )
    process = start_in_background(path)
    try:
        leader = int(wait_for(tmp_path / "leader.pid"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 5
        assert gone_soon(lambda: group_alive(leader))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_signal_on_stop_sends_that_signal_to_the_step(write, cli, tmp_path: Path) -> None:
    _stop_a_step_that_traps_sigint(write, tmp_path)
    assert (tmp_path / "marker").read_text().strip() == "got-int"
    assert not (tmp_path / "marker-term").exists()
    assert not (tmp_path / "ran-next").exists()
    record = status_json(cli, "sos")
    assert record["status"] == "cancelled"


def test_step_that_exits_0_on_the_stop_signal_is_recorded_cancelled(
    write, cli, tmp_path: Path
) -> None:
    _stop_a_step_that_traps_sigint(write, tmp_path)
    assert steps_by_name(status_json(cli, "sos"))["trapper"]["status"] == "cancelled"
