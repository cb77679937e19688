"""What ``plait queue list`` and the API show: each queue's running and waiting runs, and why
each waiting run waits."""

from __future__ import annotations

from plait.model import RunStatus, iso_time
from plait.queue.admission import capacity_of, in_order, why_waiting
from plait.queue.config import Config
from plait.store.records import QueueEntry, QueueState, Waiting

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from plait.store.base import RunStore

__all__ = ["queue_listing", "waiting_reason"]


def queue_listing(store: RunStore, config: Config) -> list[dict[str, Any]]:
    by_queue: dict[str, list[QueueEntry]] = {}
    for entry in store.queue_entries():
        by_queue.setdefault(entry.queue, []).append(entry)
    listing = []
    paused = store.paused("queue")
    for name in paused:
        by_queue.setdefault(name, [])  # a paused queue is shown, even with nothing in it
    workers = store.worker_slots() if by_queue else None
    now = store.now()
    for name, entries in sorted(by_queue.items()):
        running = [e for e in entries if e.status is RunStatus.RUNNING]
        waiting = [e for e in entries if e.status is RunStatus.QUEUED]
        running_of: dict[str, int] = {}
        for entry in running:
            running_of[entry.name] = running_of.get(entry.name, 0) + 1
        state = QueueState(
            name,
            [e.max_active_runs for e in running],
            [
                Waiting(
                    e.run_id,
                    e.name,
                    e.max_active_runs,
                    e.dispatch,
                    e.selector,
                    e.priority,
                    e.enqueued_at,
                )
                for e in waiting
            ],
            running_of,
            workers,
            name in paused,
            now,
        )
        # the waiting runs in the order they start (priority, ageing, then as they came)
        entry_of = {e.run_id: e for e in waiting}
        waiting = [entry_of[w.run_id] for w in in_order(state)]
        declared = config.queues.get(name)
        reasons = why_waiting(state, declared)
        runs = [_entry(e, None, None) for e in running]
        for run, entry in zip(runs, running, strict=True):
            run["worker"] = entry.worker
        runs.extend(
            _entry(e, position, reasons[e.run_id]) for position, e in enumerate(waiting, start=1)
        )
        listing.append(
            {
                "name": name,
                "capacity": capacity_of(state, declared),
                "declared": declared is not None,
                "running": len(running),
                "waiting": [e.run_id for e in waiting],
                "runs": runs,
                "paused": name in paused,
                "pausedAt": iso_time(paused[name]) if name in paused else None,
            }
        )
    return listing


def _entry(entry: QueueEntry, position: int | None, reason: str | None) -> dict[str, Any]:
    return {
        "runId": entry.run_id,
        "name": entry.name,
        "status": str(entry.status),
        "position": position,
        "enqueuedAt": iso_time(entry.enqueued_at),
        "startedAt": iso_time(entry.started_at),
        "priority": entry.priority,
        "reason": reason,
    }


def waiting_reason(store: RunStore, config: Config, run_id: str) -> str | None:
    """Why the queued run ``run_id`` does not run yet (as ``plait queue list`` says it), or
    None when it is not waiting in a queue."""
    for queue in queue_listing(store, config):
        if run_id in queue["waiting"]:
            return next((r["reason"] for r in queue["runs"] if r["runId"] == run_id), None)
    return None
