"""Step logs of runs on workers, read from elsewhere: the agent ships what each step writes
into PostgreSQL, so another process (a server or a CLI on another host) follows a live tail,
reads the whole log once the step has ended, sees at most ``logs.maxShippedLogSize`` of it,
and loses no more than the last second of it when the agent is killed with SIGKILL.

"Elsewhere" is shown by deleting the worker's log files before reading: what is read then
can only come from the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.cluster import Cluster, wait_for
from tests.servers import plait_server

pytestmark = pytest.mark.postgres_only(reason="logs are shipped into a PostgreSQL store")

CAP = 50 * 1024 * 1024


def flow(name: str, command: str) -> str:
    return f"""
name: {name}
workerSelector: {{pool: logs}}
steps:
  - name: talk
    command: {command}
"""


def shipped(cluster: Cluster, run_id: str, *extra: str) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "plait", "logs", "--run-id", run_id, "--step", "talk", *extra],
        capture_output=True,
        env=cluster.env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def step_files(cluster: Cluster, run_id: str) -> tuple[Path, Path]:
    step = next(s for s in cluster.status(run_id)["steps"] if s["name"] == "talk")
    return Path(step["stdoutFile"]), Path(step["stderrFile"])


def test_a_remote_steps_log_is_followed_live_and_read_whole_without_its_files(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.worker("w1", "pool=logs")
    cluster.scheduler()
    cluster.workflow(
        "talk",
        flow(
            "talk",
            f""">-
      sh -c 'echo "line 1: ünïcode"; while [ ! -e {tmp_path}/go ]; do sleep 0.05; done;
      for i in $(seq 2 30); do echo "line $i: ünïcode"; sleep 0.02; done;
      echo "to stderr" >&2'""",
        ),
    )
    run_id = cluster.enqueue("talk")
    wait_for(lambda: cluster.status(run_id)["status"] == "running", 60, "the run to start")
    follower = subprocess.Popen(
        [sys.executable, "-m", "plait", "logs", "--run-id", run_id, "--step", "talk", "-f"],
        stdout=subprocess.PIPE,
        env=cluster.env,
    )
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(follower.stdout or []), daemon=True)
    reader.start()
    wait_for(lambda: lines, 60, "the first line of the followed log")
    assert lines[0] == "line 1: ünïcode\n".encode()
    # the first line came while the step still wrote: a live tail, not the log of an ended run
    # (the step waits for the test before it writes the rest)
    assert cluster.status(run_id)["status"] == "running"
    (tmp_path / "go").touch()
    follower.wait(timeout=120)
    reader.join(timeout=30)
    record = cluster.final(run_id)
    assert record["status"] == "succeeded", cluster.logs()
    followed = b"".join(lines)
    stdout_file, stderr_file = step_files(cluster, run_id)
    written = stdout_file.read_bytes()
    assert followed == written
    assert written.count(b"\n") == 30
    stdout_file.unlink()
    stderr_file.unlink()
    assert shipped(cluster, run_id) == written
    assert shipped(cluster, run_id, "--stderr") == b"to stderr\n"

    # a server with a home of its own (another host's) reads the same from the store
    other = tmp_path / "elsewhere"
    (other / "dags").mkdir(parents=True)
    with plait_server(other, other / "dags") as (url, _):
        base = f"{url}/api/v1/runs/{run_id}/steps/talk/log"
        with urllib.request.urlopen(f"{base}?tail=2") as response:
            window = json.load(response)
        assert window["content"] == "line 29: ünïcode\nline 30: ünïcode\n"
        assert window["size"] == len(written)
        with urllib.request.urlopen(f"{base}?offset=0&limit=1000000") as response:
            assert json.load(response)["content"].encode() == written


def test_a_shipped_log_stops_at_its_cap_with_a_notice(cluster: Cluster) -> None:
    cluster.worker("w1", "pool=logs")
    cluster.scheduler()
    total = CAP + 10_000_000
    cluster.workflow("big", flow("big", f"head -c {total} /dev/zero | tr '\\0' x"))
    run_id = cluster.enqueue("big")
    assert cluster.final(run_id, timeout=300)["status"] == "succeeded", cluster.logs()
    stdout_file, _ = step_files(cluster, run_id)
    assert stdout_file.stat().st_size == total  # the local file keeps its own, larger cap
    stdout_file.unlink()
    log = shipped(cluster, run_id)
    assert log[:CAP] == b"x" * CAP
    notice = f"[plait: log cut here at {CAP} bytes (the step's log cap); the rest is not kept]"
    assert log[CAP:] == f"\n{notice}\n".encode()


def test_kill_9_of_the_agent_loses_at_most_the_last_second_of_the_log(cluster: Cluster) -> None:
    cluster.worker("w1", "pool=logs")
    cluster.scheduler()
    cluster.workflow(
        "ticks",
        flow(
            "ticks",
            """>-
      sh -c 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.01; done'""",
        ),
    )
    run_id = cluster.enqueue("ticks")
    wait_for(lambda: cluster.status(run_id)["status"] == "running", 60, "the run to start")
    stdout_file = wait_for(
        lambda: (p := step_files(cluster, run_id)[0]).exists() and p, 60, "the step's log file"
    )
    sizes: list[tuple[float, int]] = []  # (when, size of the file then)
    while not sizes or sizes[-1][1] < 20_000:
        sizes.append((time.monotonic(), stdout_file.stat().st_size))
        time.sleep(0.05)
    agent = int(cluster.status(run_id)["pid"])
    os.kill(agent, signal.SIGKILL)
    killed = time.monotonic()
    record = cluster.final(run_id)
    assert record["status"] == "failed", record
    written = stdout_file.read_bytes()
    log = shipped(cluster, run_id)
    assert written.startswith(log)
    a_second_before = max(size for when, size in sizes if when <= killed - 1.0)
    assert len(log) >= a_second_before, (len(log), a_second_before, len(written))
