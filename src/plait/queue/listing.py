"""What ``plait queue list`` and the API show: each queue's running and waiting runs, and why
each waiting run waits."""

from __future__ import annotations

from plait.model import RunStatus, iso_time
from plait.queue.config import Config
from plait.store.sqlite import QueueEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from plait.store.base import RunStore

__all__ = ["queue_listing"]


def queue_listing(store: RunStore, config: Config) -> list[dict[str, Any]]:
    by_queue: dict[str, list[QueueEntry]] = {}
    for entry in store.queue_entries():
        by_queue.setdefault(entry.queue, []).append(entry)
    listing = []
    for name, entries in sorted(by_queue.items()):
        running = [e for e in entries if e.status is RunStatus.RUNNING]
        waiting = [e for e in entries if e.status is RunStatus.QUEUED]
        declared = config.queues.get(name)
        capacity = declared or max((e.max_active_runs for e in entries), default=1)
        runs = [_entry(e, None, None) for e in running]
        per_workflow: dict[str, int] = {}
        for entry in running:
            per_workflow[entry.name] = per_workflow.get(entry.name, 0) + 1
        ahead: QueueEntry | None = None
        for position, entry in enumerate(waiting, start=1):
            runs.append(
                _entry(
                    entry, position, _why(entry, per_workflow, len(running), capacity, name, ahead)
                )
            )
            ahead = entry
        listing.append(
            {
                "name": name,
                "capacity": capacity,
                "declared": declared is not None,
                "running": len(running),
                "waiting": [e.run_id for e in waiting],
                "runs": runs,
            }
        )
    return listing


def _why(
    entry: QueueEntry,
    per_workflow: dict[str, int],
    running: int,
    capacity: int,
    queue: str,
    ahead: QueueEntry | None,
) -> str:
    if per_workflow.get(entry.name, 0) >= entry.max_active_runs:
        holder = "run" if entry.max_active_runs == 1 else "runs"
        return f"maxActiveRuns {entry.max_active_runs} of {entry.name}: {holder} active"
    if running >= capacity:
        return f"queue {queue} is full ({running}/{capacity} running)"
    if ahead is not None:
        return f"behind run {ahead.run_id}"
    if entry.dispatch == "scheduler":
        return "waiting for the scheduler to start it"
    return "starting"


def _entry(entry: QueueEntry, position: int | None, reason: str | None) -> dict[str, Any]:
    return {
        "runId": entry.run_id,
        "name": entry.name,
        "status": str(entry.status),
        "position": position,
        "enqueuedAt": iso_time(entry.enqueued_at),
        "startedAt": iso_time(entry.started_at),
        "reason": reason,
    }
