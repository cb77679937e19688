"""Starting the real ``plait server`` (or ``start-all``) for a test: a free loopback port, a
home of its own, and a stop that always happens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["free_port", "plait_server", "server_env"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(home: Path, dags: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server: this process's, without auth unless ``extra`` sets it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_AUTH_")}
    return {**env, "PLAIT_HOME": str(home), "PLAIT_DAGS_DIR": str(dags), **(extra or {})}


@contextmanager
def plait_server(
    root: Path,
    dags: Path,
    *,
    command: str = "server",
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``plait COMMAND --port P`` with its home in ``root/home``; yields (base URL, process)
    once ``/health`` answers; its output goes to ``root/server.log``."""
    port = free_port()
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "plait", command, "--port", str(port)],
            env=server_env(root / "home", dags, env),
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process, timeout, log_path)
            yield url, process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_healthy(
    url: str, process: subprocess.Popen[bytes], timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"plait server exited:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"plait server never answered:\n{log_path.read_text()}")
