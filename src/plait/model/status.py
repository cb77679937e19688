"""Statuses of runs and steps: closed sets of lower-case words, shared by store, CLI and API."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE_RUN_STATUSES", "FINAL_RUN_STATUSES", "RunStatus", "StepStatus"]


class RunStatus(StrEnum):
    """Where a run is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    WAITING = "waiting"  # a step waits for a person; no process runs it meanwhile
    # an item of a fan-out that ended (failed fast, or stopped) before the item started: a
    # record of its own, which a retry of the run starts
    NOT_STARTED = "not_started"

    @property
    def is_final(self) -> bool:
        return self in FINAL_RUN_STATUSES


class StepStatus(StrEnum):
    """Where a step of a run is in its life."""

    NOT_STARTED = "not_started"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    UPSTREAM_FAILED = "upstream_failed"
    WAITING = "waiting"  # a `hitl` step waiting to be approved or rejected

    @property
    def is_final(self) -> bool:
        return self not in (StepStatus.NOT_STARTED, StepStatus.RUNNING, StepStatus.WAITING)


FINAL_RUN_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.PARTIALLY_SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.SKIPPED,
        RunStatus.NOT_STARTED,
    }
)
ACTIVE_RUN_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
