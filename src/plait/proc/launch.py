"""Starting a run's agent as a process of its own, outliving whoever launched it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

__all__ = ["launch_agent", "launch_plait"]


def launch_plait(
    args: list[str], *, env: Mapping[str, str] | None = None, log_path: str | None = None
) -> int:
    """Start ``plait ARGS...`` detached (own session); returns its pid."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "plait", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=dict(os.environ if env is None else env),
            start_new_session=True,
            close_fds=True,
        )
    finally:
        if log_path and not isinstance(out, int):
            out.close()
    return process.pid


def launch_agent(
    run_id: str, *, env: Mapping[str, str] | None = None, log_path: str | None = None
) -> int:
    """Start the agent of a claimed run (``plait agent --run-id ID``)."""
    return launch_plait(["agent", "--run-id", run_id], env=env, log_path=log_path)
