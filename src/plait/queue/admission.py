"""Waiting for a slot: a root run starts only when its queue and its workflow have room.

The rule, for every way a run starts (CLI, scheduler, API, retry): a run waits in its queue
(``queue:``, or a queue of its own named after the workflow) until (a) fewer runs of its queue
are running than the queue's capacity and (b) fewer runs of its workflow are running than its
``maxActiveRuns``. The capacity of a queue declared in ``config.yaml`` is its
``maxConcurrency``; a queue that is not declared holds as many as the largest ``maxActiveRuns``
of the workflows whose runs are in it.

Order: higher ``priority`` first (a workflow's ``priority:``, or ``--priority`` / the API's
``priority`` for one run; default 0), first come first served within a priority. A waiting run
gains one step of priority for each ``AGEING_SECONDS`` it has waited, so a low-priority run is
never starved by a steady stream of higher ones: a run of priority 0 behind a stream of
priority 5 starts after at most about five ageing periods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from plait.errors import PlaitError
from plait.model import Workflow
from plait.store.records import Claim, QueueState, Waiting, WorkerSlots

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

__all__ = [
    "AGEING_SECONDS",
    "QueueFull",
    "admit",
    "capacity_of",
    "effective_priority",
    "in_order",
    "labels_text",
    "place",
    "queue_of",
    "wait_for_slot",
    "why_waiting",
]

POLL_SECONDS = 0.1
AGEING_SECONDS = 60.0  # a waiting run's priority grows by 1 each minute it waits


def effective_priority(entry: Waiting, now: float) -> float:
    """A waiting run's priority now: its own, plus one for each ``AGEING_SECONDS`` waited."""
    if entry.enqueued_at is None:
        return float(entry.priority)
    return entry.priority + max(0.0, now - entry.enqueued_at) // AGEING_SECONDS


def in_order(state: QueueState) -> list[Waiting]:
    """The waiting runs in the order they start: by effective priority, then as they came
    (the store reads them first come, first served; the sort keeps that order for ties)."""
    if all(w.priority == 0 for w in state.waiting) and not state.now:
        return state.waiting
    return sorted(
        state.waiting,
        key=lambda w: (-effective_priority(w, state.now), w.enqueued_at or 0.0),
    )


class QueueFull(PlaitError):
    """``--no-wait`` and the run would have to wait."""

    exit_code = 6


def queue_of(workflow: Workflow) -> str:
    return workflow.queue or workflow.name


def capacity_of(state: QueueState, declared: int | None) -> int:
    """A queue's capacity: declared in config.yaml, else the largest ``maxActiveRuns`` of the
    runs in it (running or waiting)."""
    if declared is not None:
        return declared
    limits = state.running_limits + [w.max_active_runs for w in state.waiting]
    return max(limits, default=1)


def admit(state: QueueState, declared: int | None, only: str | None = None) -> Claim:
    """Which waiting runs of a queue start now, first come first served, and why the first
    one that cannot start waits. Pure: the store runs it inside the transaction that claims.

    A run starts when fewer runs of the queue run than its capacity and fewer runs of its
    workflow than its ``maxActiveRuns``. A run whose own process starts it (``dispatch``
    "self") keeps its place: a dispatcher claims for it only when asked for it (``only``).
    With ``only``, that run alone is claimed, and only when no run ahead of it could start
    first.

    A run with a ``workerSelector`` (where the store has workers) starts only on a live
    worker whose labels include all of it and that has a free slot — the one with the most
    free slots; a run that no worker can take now waits, with the reason, and the runs
    behind it that can start elsewhere go ahead of it (first come first served among the
    runs that can start).
    """
    size = capacity_of(state, declared)
    total = len(state.running_limits)
    per_workflow = dict(state.running_of)
    claim = Claim(queue=state.queue, capacity=size, running=total)
    workers = (
        None
        if state.workers is None
        else [WorkerSlots(w.worker_id, w.labels, w.free) for w in state.workers]
    )
    if state.paused:
        claim.reason = f"queue {state.queue} is paused (plait queue resume {state.queue})"
        return claim
    for entry in in_order(state):
        if total >= size:
            claim.reason = claim.reason or (
                f"maxActiveRuns {entry.max_active_runs} of {entry.name} reached ({total} running)"
                if entry.name == state.queue
                else f"queue {state.queue} is full ({total}/{size} running)"
            )
            break
        active = per_workflow.get(entry.name, 0)
        if active >= entry.max_active_runs:
            if entry.run_id == only:  # what is behind this run does not matter to it
                claim.reason = f"maxActiveRuns {entry.max_active_runs} of {entry.name} reached"
                break
            continue
        if only is not None and entry.run_id != only:
            claim.reason = f"behind run {entry.run_id} in queue {state.queue}"
            break
        worker: WorkerSlots | None = None
        if entry.selector and workers is not None:
            worker, why = place(entry.selector, workers)
            if worker is None:
                claim.reasons[entry.run_id] = why
                claim.reason = claim.reason or why
                if entry.run_id == only:
                    break
                continue
        total += 1
        per_workflow[entry.name] = active + 1
        if only is None and entry.dispatch != "scheduler":
            continue  # a foreground run: its own process starts it; it keeps its place
        claim.claimed.append(entry.run_id)
        if worker is not None:
            worker.free -= 1
            claim.placed[entry.run_id] = worker.worker_id
    return claim


def labels_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def place(selector: dict[str, str], workers: list[WorkerSlots]) -> tuple[WorkerSlots | None, str]:
    """The worker a run with ``selector`` goes to (the matching one with the most free
    slots), or None and why it waits."""
    matching = [w for w in workers if all(w.labels.get(k) == v for k, v in selector.items())]
    if not matching:
        return None, f"no worker with {labels_text(selector)}"
    best = max(matching, key=lambda w: (w.free, w.worker_id))
    if best.free <= 0:
        slots = "worker" if len(matching) == 1 else f"{len(matching)} workers"
        return None, f"every slot of the {slots} with {labels_text(selector)} is taken"
    return best, ""


def why_waiting(state: QueueState, declared: int | None) -> dict[str, str]:
    """For each waiting run of a queue, why it does not run yet (the same rule as
    ``admit``): for ``plait queue list`` and the API."""
    size = capacity_of(state, declared)
    total = len(state.running_limits)
    per_workflow = dict(state.running_of)
    reasons: dict[str, str] = {}
    ahead: Waiting | None = None
    workers = (
        None
        if state.workers is None
        else [WorkerSlots(w.worker_id, w.labels, w.free) for w in state.workers]
    )
    if state.paused:
        return {e.run_id: f"queue {state.queue} is paused" for e in state.waiting}
    for entry in in_order(state):
        worker, unplaced = (None, "")
        if entry.selector and workers is not None:
            worker, unplaced = place(entry.selector, workers)
            if worker is not None:
                worker.free -= 1
        if per_workflow.get(entry.name, 0) >= entry.max_active_runs:
            holder = "run" if entry.max_active_runs == 1 else "runs"
            reason = f"maxActiveRuns {entry.max_active_runs} of {entry.name}: {holder} active"
        elif total >= size:
            reason = f"queue {state.queue} is full ({total}/{size} running)"
        elif unplaced:
            reason = unplaced
        elif ahead is not None:
            reason = f"behind run {ahead.run_id}"
        elif entry.dispatch == "scheduler":
            reason = "waiting for the scheduler to start it"
        else:
            reason = "starting"
        reasons[entry.run_id] = reason
        ahead = entry
    return reasons


def wait_for_slot(
    store: RunStore,
    run_id: str,
    queue: str,
    capacity: int | None,
    *,
    no_wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    stopping: threading.Event | None = None,
) -> str | None:
    """Block until ``run_id`` holds a slot of ``queue``: "" when this process runs it now,
    or the id of the worker the claim sent it to (a ``workerSelector`` run, where there are
    workers); None if stopped while waiting.

    Raises:
        QueueFull: with ``no_wait``, when the run cannot start at once (it is dequeued).
    """
    told: str | None = None
    turns = 0
    while True:
        turns += 1
        if turns % 20 == 1:  # at once, then every 2 s: dead agents must not hold the queue
            from plait.runtime.recovery import recover

            recover(store)
        claim = store.claim(queue, lambda state: admit(state, capacity, run_id))
        if run_id in claim.claimed:
            return claim.placed.get(run_id, "")
        reason = claim.reason or f"queue {queue} is busy"
        if no_wait:
            store.dequeue(run_id, f"not started: {reason}")
            raise QueueFull(f"run {run_id} not started: {reason}")
        if on_wait is not None and reason != told:
            on_wait(reason)
            told = reason
        if stopping is not None and stopping.wait(POLL_SECONDS):
            store.dequeue(run_id, "stopped while waiting in its queue")
            return None
        if stopping is None:
            time.sleep(POLL_SECONDS)
