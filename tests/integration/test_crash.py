"""Killing ``plait start`` at any moment leaves a store that every command can still read."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def test_kill_9_of_start_at_random_moments_leaves_a_readable_store(home: Path, write, cli) -> None:
    steps = "\n".join(f"  - name: s{i}\n    command: echo {i}\n    output: O{i}" for i in range(40))
    path = write("crash.yaml", f"name: crash\ntype: graph\nmaxActiveSteps: 4\nsteps:\n{steps}\n")
    rng = random.Random(7)
    for _ in range(8):
        process = subprocess.Popen(
            [sys.executable, "-m", "plait", "start", "-q", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        db = sqlite3.connect(home / "plait.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            db.close()
        history = cli("history", "crash", "--json")
        assert history.code == 0, history.err
        status = cli("status", "crash", "--json")
        assert status.code == 0, status.err
