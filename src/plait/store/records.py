"""Small records the store hands out about queues: a claim's outcome, a queue's entries.

Plain classes (no dataclasses, no typing): they are on the path of every ``plait start``.
"""

from __future__ import annotations

from plait.model import RunStatus

__all__ = ["Claim", "QueueEntry", "QueueState", "Waiting"]


class Claim:
    """What one attempt to start runs of a queue did, and why the rest still wait."""

    __slots__ = ("capacity", "claimed", "queue", "reason", "running")

    def __init__(
        self,
        queue: str,
        capacity: int,
        running: int,
        claimed: list[str] | None = None,
        reason: str | None = None,
    ) -> None:
        self.queue = queue
        self.capacity = capacity
        self.running = running
        self.claimed = list() if claimed is None else claimed
        self.reason = reason


class QueueEntry:
    __slots__ = (
        "dispatch",
        "enqueued_at",
        "max_active_runs",
        "name",
        "queue",
        "run_id",
        "started_at",
        "status",
    )

    def __init__(
        self,
        run_id: str,
        name: str,
        status: RunStatus,
        queue: str,
        enqueued_at: float | None,
        started_at: float | None,
        max_active_runs: int,
        dispatch: str,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.status = status
        self.queue = queue
        self.enqueued_at = enqueued_at
        self.started_at = started_at
        self.max_active_runs = max_active_runs
        self.dispatch = dispatch


class Waiting:
    """A root run waiting in a queue, as admission sees it."""

    __slots__ = ("dispatch", "max_active_runs", "name", "run_id")

    def __init__(self, run_id: str, name: str, max_active_runs: int, dispatch: str) -> None:
        self.run_id = run_id
        self.name = name
        self.max_active_runs = max_active_runs
        self.dispatch = dispatch  # "scheduler": started by a dispatcher; "self": by its own start


class QueueState:
    """One queue at one moment, read in the transaction that claims from it: the limits of
    its running runs, its waiting runs in order, and how many runs of each waiting run's
    workflow are running (in any queue)."""

    __slots__ = ("queue", "running_limits", "running_of", "waiting")

    def __init__(
        self,
        queue: str,
        running_limits: list[int],
        waiting: list[Waiting],
        running_of: dict[str, int],
    ) -> None:
        self.queue = queue
        self.running_limits = running_limits
        self.waiting = waiting
        self.running_of = running_of
