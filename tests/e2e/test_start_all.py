"""``plait start-all``: the server and the scheduler in one process tree, ending together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_start_all_serves_schedules_and_ends_with_its_scheduler(home: Path, sig: int) -> None:
    port = free_port()
    env = {**os.environ, "PLAIT_DAGS_DIR": str(ROOT / "examples")}
    process = subprocess.Popen(
        [sys.executable, "-m", "plait", "start-all", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        scheduler = None
        while time.monotonic() < deadline:
            try:
                if _get(f"http://127.0.0.1:{port}/api/v1/scheduler")["active"]:
                    scheduler = _children(process.pid)
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert scheduler, "the scheduler never became active"
        names = {w["name"] for w in _get(f"http://127.0.0.1:{port}/api/v1/workflows")["workflows"]}
        assert "multi-env-deployment" in names
        process.send_signal(sig)
        process.wait(timeout=15)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in scheduler):
            time.sleep(0.2)
        alive = [p for p in scheduler if Path(f"/proc/{p}").exists() and not _zombie(p)]
        assert not alive, f"scheduler outlived start-all: {alive}"
    finally:
        if process.poll() is None:
            process.kill()


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"
