"""Small records of the store's contract: who an agent is, a claim's outcome, a queue's
entries.

Plain classes (no dataclasses, no typing): they are on the path of every ``plait start``.
"""

from __future__ import annotations

import os

from plait.model import RunStatus

__all__ = ["AGENT_LEASE_SECONDS", "AgentRef", "Claim", "QueueEntry", "QueueState", "Waiting"]

# An agent holds its runs' lease this long after its last heartbeat (it beats every 5 s).
AGENT_LEASE_SECONDS = 30.0


class AgentRef:
    """Who an agent is, as the store records it with each run it holds: a unique owner id
    (``host:pid`` unless given), its host and its process id. The store never guesses these:
    every write that takes a run over is given one."""

    __slots__ = ("host", "owner", "pid")

    def __init__(self, pid: int, host: str | None = None, owner: str | None = None) -> None:
        self.pid = pid
        self.host = host or os.uname().nodename
        self.owner = owner or f"{self.host}:{pid}"

    def __repr__(self) -> str:
        return f"AgentRef({self.owner!r})"


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
