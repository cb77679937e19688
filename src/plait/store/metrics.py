"""What the store tells ``/metrics``: counts of runs, queues, recent step durations and waits
as bucket counts, scheduled fires and workers' slots. Backend-neutral values; every store's
``browse().metrics(since)`` gives one (see ``RunBrowser.metrics``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "DURATION_BUCKETS",
    "Histogram",
    "QueueDepth",
    "ScheduledFire",
    "StoreMetrics",
    "WorkerLoad",
    "fire_time",
]

# Upper bounds (seconds) of the buckets of step durations and queue waits: from a `true` to
# a day-long step. The last bucket (+Inf) is implied.
DURATION_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 10800, 86400,
)  # fmt: skip

_FIRE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


@dataclass(frozen=True, slots=True)
class Histogram:
    """Observations counted per bucket: ``cumulative[i]`` of them are at most
    ``DURATION_BUCKETS[i]``; ``count`` in all (the +Inf bucket), summing to ``total``."""

    cumulative: tuple[int, ...]
    count: int
    total: float


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """A queue now: runs waiting in it, runs of it running, and since when the oldest waits."""

    waiting: int = 0
    running: int = 0
    oldest_enqueued_at: float | None = None


@dataclass(frozen=True, slots=True)
class ScheduledFire:
    """The last scheduled time of a workflow that the scheduler acted on (within the window):
    the time it was due, and when its run was put in its queue."""

    run_id: str
    due_at: float
    enqueued_at: float

    @property
    def lag(self) -> float:
        """How late the scheduler was to it, in seconds (never below 0)."""
        return max(0.0, self.enqueued_at - self.due_at)


@dataclass(frozen=True, slots=True)
class WorkerLoad:
    """A live worker (heartbeat within the lease, not stopping): its slots and those in use."""

    worker_id: str
    host: str
    slots: int
    busy: int


@dataclass(slots=True)
class StoreMetrics:
    """One reading of the store for ``/metrics`` (``since``: the start of its window)."""

    now: float
    since: float
    # (workflow, "root" or "child", status) → runs stored
    runs: dict[tuple[str, str, str], int] = field(default_factory=dict)
    queues: dict[str, QueueDepth] = field(default_factory=dict)
    # (workflow, step) → durations of the steps that ran and finished since ``since``
    step_durations: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    # queue → how long the runs that started since ``since`` waited in it
    queue_waits: dict[str, Histogram] = field(default_factory=dict)
    scheduled: dict[str, ScheduledFire] = field(default_factory=dict)
    workers: list[WorkerLoad] = field(default_factory=list)
    scheduler_active: bool = False


def fire_time(workflow: str, run_id: str) -> float | None:
    """The scheduled time a run id names (``scheduler.scheduled_run_id``: the workflow's name,
    a dot, the UTC time), or None for a run id of another kind."""
    prefix = f"{workflow}."
    if not run_id.startswith(prefix):
        return None
    found = _FIRE.fullmatch(run_id, len(prefix))
    if found is None:
        return None
    import calendar

    year, month, day, hour, minute, second = (int(part) for part in found.groups())
    try:
        return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
    except ValueError:
        return None
