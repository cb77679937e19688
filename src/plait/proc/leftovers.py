"""Finding processes that a dead agent left behind, by the run id in their environment."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

__all__ = ["kill_leftovers"]


def kill_leftovers(run_ids: Iterable[str]) -> int:
    """SIGKILL every process (and its group) whose environment names one of ``run_ids``."""
    markers = {f"PLAIT_RUN_ID={run_id}".encode() for run_id in run_ids}
    if not markers:
        return 0
    killed = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                variables = handle.read().split(b"\0")
        except OSError:
            continue
        if markers.intersection(variables):
            pid = int(entry)
            try:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    continue
            killed += 1
    return killed
