"""Small records of the store's contract: who an agent is, a claim's outcome, a queue's
entries.

Plain classes (no dataclasses, no typing): they are on the path of every ``plait start``.
"""

from __future__ import annotations

import os

from plait.model import RunStatus

__all__ = [
    "AGENT_LEASE_SECONDS",
    "AgentRef",
    "Claim",
    "QueueEntry",
    "QueueState",
    "Waiting",
    "Webhook",
    "WorkerInfo",
    "WorkerSlots",
]

# An agent holds its runs' lease this long after its last heartbeat (it beats six times in
# that time), and a worker is there while its last heartbeat is this recent.
# ``PLAIT_LEASE_SECONDS`` shortens it (the tests use 3 s); every process must agree.
AGENT_LEASE_SECONDS = float(os.environ.get("PLAIT_LEASE_SECONDS") or 30.0)


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
    """What one attempt to start runs of a queue did, and why the rest still wait.
    ``placed``: the claimed runs that go to a worker, and to which."""

    __slots__ = ("capacity", "claimed", "placed", "queue", "reason", "reasons", "running")

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
        self.reason = reason  # why the first run that could not start waits
        self.reasons: dict[str, str] = {}  # why each run that could not start waits
        self.placed: dict[str, str] = {}


class WorkerSlots:
    """A live worker as admission sees it: its labels and how many more runs it takes."""

    __slots__ = ("free", "labels", "worker_id")

    def __init__(self, worker_id: str, labels: dict[str, str], free: int) -> None:
        self.worker_id = worker_id
        self.labels = labels
        self.free = free


class WorkerInfo:
    """A registered worker: who, where, what it offers, and what it holds now."""

    __slots__ = (
        "heartbeat_at",
        "host",
        "labels",
        "pid",
        "runs",
        "slots",
        "started_at",
        "stopping",
        "version",
        "worker_id",
    )

    def __init__(
        self,
        worker_id: str,
        host: str,
        pid: int,
        labels: dict[str, str],
        slots: int,
        version: str,
        started_at: float = 0.0,
        heartbeat_at: float = 0.0,
        stopping: bool = False,
        runs: list[str] | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.host = host
        self.pid = pid
        self.labels = labels
        self.slots = slots
        self.version = version
        self.started_at = started_at
        self.heartbeat_at = heartbeat_at
        self.stopping = stopping
        self.runs = list() if runs is None else runs  # root runs in hand


class QueueEntry:
    __slots__ = (
        "dispatch",
        "enqueued_at",
        "max_active_runs",
        "name",
        "priority",
        "queue",
        "run_id",
        "selector",
        "started_at",
        "status",
        "worker",
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
        selector: dict[str, str] | None = None,
        worker: str | None = None,
        priority: int = 0,
    ) -> None:
        self.priority = priority
        self.selector = selector
        self.worker = worker
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

    __slots__ = (
        "dispatch",
        "enqueued_at",
        "max_active_runs",
        "name",
        "priority",
        "run_id",
        "selector",
    )

    def __init__(
        self,
        run_id: str,
        name: str,
        max_active_runs: int,
        dispatch: str,
        selector: dict[str, str] | None = None,
        priority: int = 0,
        enqueued_at: float | None = None,
    ) -> None:
        self.priority = priority  # higher first (see queue.admission: ageing)
        self.enqueued_at = enqueued_at
        self.run_id = run_id
        self.name = name
        self.max_active_runs = max_active_runs
        self.dispatch = dispatch  # "scheduler": started by a dispatcher; "self": by its own start
        self.selector = selector  # the labels a worker must have to take it (workerSelector)


class QueueState:
    """One queue at one moment, read in the transaction that claims from it: the limits of
    its running runs, its waiting runs in order, how many runs of each waiting run's workflow
    are running (in any queue), whether it is paused; ``workers``: the live workers and their
    free slots (None where the store has no workers: SQLite)."""

    __slots__ = ("now", "paused", "queue", "running_limits", "running_of", "waiting", "workers")

    def __init__(
        self,
        queue: str,
        running_limits: list[int],
        waiting: list[Waiting],
        running_of: dict[str, int],
        workers: list[WorkerSlots] | None = None,
        paused: bool = False,
        now: float = 0.0,
    ) -> None:
        self.paused = paused  # a person paused the queue: nothing of it starts
        self.now = now  # the store's time of the reading (a waiting run's age)
        self.queue = queue
        self.running_limits = running_limits
        self.waiting = waiting
        self.running_of = running_of
        self.workers = workers


class Webhook:
    """A workflow's webhook: the SHA-256 of its token (hex), when it was made, last used."""

    __slots__ = ("created_at", "last_used_at", "token_hash", "workflow")

    def __init__(
        self, workflow: str, token_hash: str, created_at: float, last_used_at: float | None
    ) -> None:
        self.workflow = workflow
        self.token_hash = token_hash
        self.created_at = created_at
        self.last_used_at = last_used_at
