"""Plait processes of a distributed setup started by a test on this machine: workers, a
scheduler and the CLI, sharing one home and the test's PostgreSQL store, with a short lease.
Each is stopped when the test ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LEASE = "3"


class Cluster:
    """A home, a DAGs folder, and the plait processes a test starts (all stopped at its end)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.dags = root / "dags"
        self.dags.mkdir(parents=True, exist_ok=True)
        self.ledger = root / "ledger.txt"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "PLAIT_HOME": str(self.home),
            "PLAIT_DAGS_DIR": str(self.dags),
            "PLAIT_LEASE_SECONDS": LEASE,
        }

    def plait(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plait", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=self.root,
        )

    def spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        with open(self.root / log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "plait", *args],
                stdout=out,
                stderr=out,
                env=self.env,
                cwd=self.root,
            )
        self.processes.append(process)
        return process

    def worker(self, worker_id: str, labels: str = "", slots: int = 2) -> subprocess.Popen[bytes]:
        process = self.spawn(
            "worker", "--id", worker_id, "--labels", labels, "--slots", str(slots),
            log=f"{worker_id}.log",
        )  # fmt: skip
        wait_for(lambda: self.live(worker_id), 60, f"worker {worker_id} to register")
        return process

    def scheduler(self) -> subprocess.Popen[bytes]:
        return self.spawn("scheduler", log="scheduler.log")

    def live(self, worker_id: str) -> bool:
        done = self.plait("workers", "--json")
        return done.returncode == 0 and any(
            w["id"] == worker_id and w["state"] == "live" for w in json.loads(done.stdout)
        )

    def workflow(self, name: str, text: str) -> None:
        (self.dags / f"{name}.yaml").write_text(text.replace("{ledger}", str(self.ledger)))

    def enqueue(self, name: str) -> str:
        done = self.plait("enqueue", name)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def status(self, run_id: str) -> dict[str, Any]:
        done = self.plait("status", "--run-id", run_id, "--json")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def final(self, run_id: str, timeout: float = 90) -> dict[str, Any]:
        found = wait_for(
            lambda: (r := self.status(run_id))["status"] not in ("queued", "running") and r,
            timeout,
            f"run {run_id} to end",
        )
        return dict(found)

    def exclusive_workflow(self, name: str, header: str, sleep: float) -> None:
        """A workflow of one step that, while it runs, holds an exclusive ``flock`` on a file
        named after its run and writes "RUN start PID" and "RUN end" in the ledger; a second
        execution of the same run that finds the lock held writes "RUN OVERLAP". A killed
        step's lock goes with its processes. ``header``: the workflow's other fields."""
        locks = self.root / "locks"
        locks.mkdir(exist_ok=True)
        command = (
            f"flock -n {locks}/$PLAIT_RUN_ID.lock "
            f'sh -c \'echo "$PLAIT_RUN_ID start $$" >> {{ledger}}; sleep {sleep}; '
            f'echo "$PLAIT_RUN_ID end" >> {{ledger}}\' '
            f'|| echo "$PLAIT_RUN_ID OVERLAP" >> {{ledger}}'
        )
        steps = f"steps:\n  - name: work\n    command: >-\n      {command}\n"
        self.workflow(name, f"name: {name}\n{header.strip()}\n{steps}")

    def ledger_lines(self) -> list[str]:
        return self.ledger.read_text().splitlines() if self.ledger.exists() else []

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.root.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an exited one not yet reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
