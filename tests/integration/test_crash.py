"""Killing ``plait start`` at any moment leaves a store that every command can still read,
no step recorded as running forever, and a run that retry completes."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def test_kill_9_of_start_at_random_moments_then_recovery_and_retry(
    home: Path, write, cli, store_backend: str
) -> None:
    steps = "\n".join(
        f"  - name: s{i}\n    command: sh -c 'sleep 0.01; echo {i}'\n    output: O{i}"
        for i in range(40)
    )
    path = write("crash.yaml", f"name: crash\ntype: graph\nmaxActiveSteps: 4\nsteps:\n{steps}\n")
    rng = random.Random(7)
    for _ in range(6):
        process = subprocess.Popen(
            [sys.executable, "-m", "plait", "start", "-q", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.5))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if store_backend == "sqlite" and (home / "plait.db").exists():  # killed before it?
            db = sqlite3.connect(home / "plait.db")
            try:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            finally:
                db.close()
        history = cli("history", "crash", "--json")
        if not (home / "plait.db").exists() and store_backend == "sqlite":
            assert history.code == 1 and "no runs yet" in history.err, history.err
            continue  # killed before it made the store (a busy machine starts slowly)
        assert history.code == 0, history.err
        status = cli("status", "crash", "--json")
        if status.code != 0:  # killed before the run was recorded
            assert "no run" in status.err, status.err
            continue
        record = json.loads(status.out)
        assert record["status"] in ("failed", "succeeded", "cancelled"), record["status"]
        assert all(step["status"] != "running" for step in record["steps"])
        if record["status"] == "failed":
            assert record["error"] == "agent process exited"
            retried = cli("retry", "crash", "--run-id", record["runId"])
            assert retried.code == 0, retried.out + retried.err
            after = json.loads(cli("status", "crash", "--run-id", record["runId"], "--json").out)
            assert after["status"] == "succeeded"
            assert len(after["outputs"]) == 40


def test_kill_9_mid_fan_out_then_retry_runs_only_what_had_not_succeeded(
    home: Path, write, cli, store_backend: str, tmp_path: Path
) -> None:
    """A retry after a kill -9 in the middle of a fan-out finishes the items that had not
    succeeded and runs none of those that had, whatever the moment of the kill."""
    ledger = tmp_path / "ledger"
    path = write(
        "fan.yaml",
        f"""
        name: fan
        steps:
          - name: items
            command: sh -c 'echo "$ITEM" >> {ledger}; sleep 0.05'
            parallel:
              items: {json.dumps([f"i{n}" for n in range(60)])}
              maxConcurrent: 3
        """,
    )
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    process = subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # kill it once some items have run, at a random moment while the others still run
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ledger.exists() and len(ledger.read_text().split()) >= 6:
            break
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.4))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = json.loads(cli("status", "fan", "--json").out)
    assert before["status"] == "failed", before["status"]
    succeeded = {c["item"] for c in before["children"] if c["status"] == "succeeded"}
    assert 0 < len(succeeded) < 60, len(succeeded)
    seen = len(ledger.read_text().split())
    retried = cli("retry", "fan", "--run-id", before["runId"])
    assert retried.code == 0, retried.out + retried.err
    after = json.loads(cli("status", "fan", "--run-id", before["runId"], "--json").out)
    assert after["status"] == "succeeded", after
    rerun = ledger.read_text().split()[seen:]
    assert not succeeded & set(rerun), sorted(succeeded & set(rerun))
    # every item ran; one whose step had ended but not its run (the kill fell between the
    # two writes) is finished by the retry without running again
    assert set(ledger.read_text().split()) == {f"i{n}" for n in range(60)}
    result = json.loads(after["steps"][0]["output"])
    assert result["summary"] == {"total": 60, "succeeded": 60, "failed": 0}
    assert [r["params"]["ITEM"] for r in result["results"]] == [f"i{n}" for n in range(60)]
