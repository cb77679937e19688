"""The SQL behind ``/metrics`` (``RunBrowser.metrics``), the same for every backend: a few
aggregate queries whose answers grow with the number of workflows, steps, queues and
workers, not with the number of runs — the histograms are counted by the database.

Work is bounded by the window: durations and waits are read from the runs that finished
since its start or are still active (found through the indexes on ``finished_at`` and
``status``), never from the whole history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plait.store.metrics import (
    DURATION_BUCKETS,
    Histogram,
    QueueDepth,
    ScheduledFire,
    StoreMetrics,
    WorkerLoad,
    fire_time,
)
from plait.store.records import AGENT_LEASE_SECONDS

__all__ = ["SQLMetrics"]

_SCHEDULER_LEASE = "scheduler"


def _buckets(value: str) -> str:
    """Columns counting the rows whose ``value`` is at most each bucket's bound, then how
    many rows and the sum of ``value``."""
    counts = ", ".join(
        f"SUM(CASE WHEN {value} <= {bound!r} THEN 1 ELSE 0 END)" for bound in DURATION_BUCKETS
    )
    return f"{counts}, count(*), SUM({value})"


# Runs that finished in the window, or are still active: what may hold a step or a start
# of the window. Each half is read off an index (runs_by_finished, runs_by_status).
_RECENT = """
    SELECT id FROM runs WHERE finished_at >= ?
    UNION ALL
    SELECT id FROM runs WHERE status IN ('running', 'waiting')
"""

_RUNS = """
SELECT name, CASE WHEN parent_run_id IS NULL THEN 'root' ELSE 'child' END, status, count(*)
FROM runs GROUP BY 1, 2, 3
"""

_QUEUES = """
SELECT COALESCE(queue, name), status, count(*), MIN(enqueued_at) FROM runs
WHERE status IN ('queued', 'running') AND enqueued_at IS NOT NULL
GROUP BY 1, 2
"""

_STEP_DURATION = "(steps.finished_at - steps.started_at)"
_STEP_DURATIONS = f"""
SELECT runs.name, steps.name, {_buckets(_STEP_DURATION)}
FROM steps JOIN runs ON runs.id = steps.run_id
WHERE steps.run_id IN ({_RECENT})
  AND steps.finished_at >= ? AND steps.started_at IS NOT NULL
  AND steps.status IN ('succeeded', 'failed', 'cancelled')
GROUP BY runs.name, steps.name
"""

_WAIT = "(started_at - enqueued_at)"
_QUEUE_WAITS = f"""
SELECT COALESCE(queue, name), {_buckets(_WAIT)}
FROM runs
WHERE id IN ({_RECENT})
  AND started_at >= ? AND enqueued_at IS NOT NULL AND started_at >= enqueued_at
GROUP BY 1
"""

# Scheduled runs are named by their workflow and time (the scheduler's run ids); of those
# queued in the window, each workflow's last one.
_SCHEDULED = """
SELECT name, id, COALESCE(enqueued_at, created_at) FROM runs
WHERE created_at >= ? AND parent_run_id IS NULL AND dispatch = 'scheduler'
  AND length(id) = length(name) + 17 AND substr(id, 1, length(name) + 1) = name || '.'
"""

_WORKERS = """
SELECT id, host, slots FROM workers WHERE heartbeat_at > ? AND stopping = 0 ORDER BY id
"""

_BUSY_WORKERS = """
SELECT worker, count(*) FROM runs WHERE status = 'running' AND worker IS NOT NULL GROUP BY worker
"""

_SCHEDULER = "SELECT expires_at FROM leases WHERE name = ?"


class SQLMetrics:
    """``RunBrowser.metrics`` over the store's SQL (a base of ``SQLBrowse``)."""

    def _all(self, sql: str, args: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def now(self) -> float:
        raise NotImplementedError

    def metrics(self, since: float) -> StoreMetrics:
        """Everything ``/metrics`` shows; durations and waits of the window from ``since``."""
        now = self.now()
        found = StoreMetrics(now=now, since=since)
        found.runs = {(str(r[0]), str(r[1]), str(r[2])): int(r[3]) for r in self._all(_RUNS)}
        found.queues = self._queues()
        found.step_durations = {
            (str(r[0]), str(r[1])): _histogram(r[2:])
            for r in self._all(_STEP_DURATIONS, (since, since))
        }
        found.queue_waits = {
            str(r[0]): _histogram(r[1:]) for r in self._all(_QUEUE_WAITS, (since, since))
        }
        found.scheduled = self._scheduled(since)
        found.workers = self._workers(now)
        lease = self._all(_SCHEDULER, (_SCHEDULER_LEASE,))
        found.scheduler_active = bool(lease) and float(lease[0][0]) > now
        return found

    def _queues(self) -> dict[str, QueueDepth]:
        queues: dict[str, QueueDepth] = {}
        for queue, status, count, oldest in self._all(_QUEUES):
            depth = queues.get(str(queue), QueueDepth())
            if status == "queued":
                depth = QueueDepth(int(count), depth.running, float(oldest))
            else:
                depth = QueueDepth(depth.waiting, int(count), depth.oldest_enqueued_at)
            queues[str(queue)] = depth
        return queues

    def _scheduled(self, since: float) -> dict[str, ScheduledFire]:
        last: dict[str, ScheduledFire] = {}
        for name, run_id, enqueued_at in self._all(_SCHEDULED, (since,)):
            due = fire_time(str(name), str(run_id))
            if due is None:
                continue
            known = last.get(str(name))
            if known is None or due > known.due_at:
                last[str(name)] = ScheduledFire(str(run_id), due, float(enqueued_at))
        return last

    def _workers(self, now: float) -> list[WorkerLoad]:
        busy = {str(r[0]): int(r[1]) for r in self._all(_BUSY_WORKERS)}
        return [
            WorkerLoad(str(r[0]), str(r[1]), int(r[2]), busy.get(str(r[0]), 0))
            for r in self._all(_WORKERS, (now - AGENT_LEASE_SECONDS,))
        ]


def _histogram(row: tuple[Any, ...]) -> Histogram:
    bounds = len(DURATION_BUCKETS)
    return Histogram(
        cumulative=tuple(int(n or 0) for n in row[:bounds]),
        count=int(row[bounds] or 0),
        total=float(row[bounds + 1] or 0.0),
    )
