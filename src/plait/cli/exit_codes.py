"""The exit code of ``plait start`` for each way a run can end (documented in docs/cli.md)."""

from __future__ import annotations

from plait.model import RunStatus

__all__ = ["EXIT_CODES", "exit_code"]

EXIT_CODES = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.FAILED: 1,
    RunStatus.PARTIALLY_SUCCEEDED: 3,
    RunStatus.SKIPPED: 4,
    RunStatus.CANCELLED: 5,
    RunStatus.WAITING: 7,
}


def exit_code(status: RunStatus) -> int:
    return EXIT_CODES.get(status, 1)
