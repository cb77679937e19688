"""Waiting for a slot: a root run starts only when its queue and its workflow have room.

The rule, for every way a run starts (CLI, scheduler, API, retry): a run waits in its queue
(``queue:``, or a queue of its own named after the workflow) until (a) fewer runs of its queue
are running than the queue's capacity and (b) fewer runs of its workflow are running than its
``maxActiveRuns``. The capacity of a queue declared in ``config.yaml`` is its
``maxConcurrency``; a queue that is not declared holds as many as the largest ``maxActiveRuns``
of the workflows whose runs are in it. Runs start first come, first served.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from plait.errors import PlaitError
from plait.model import Workflow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

__all__ = ["QueueFull", "queue_of", "wait_for_slot"]

POLL_SECONDS = 0.1


class QueueFull(PlaitError):
    """``--no-wait`` and the run would have to wait."""

    exit_code = 6


def queue_of(workflow: Workflow) -> str:
    return workflow.queue or workflow.name


def wait_for_slot(
    store: RunStore,
    run_id: str,
    queue: str,
    capacity: int | None,
    *,
    no_wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    stopping: threading.Event | None = None,
) -> bool:
    """Block until ``run_id`` holds a slot of ``queue``; False if stopped while waiting.

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
        claim = store.claim(queue, capacity, only=run_id)
        if run_id in claim.claimed:
            return True
        reason = claim.reason or f"queue {queue} is busy"
        if no_wait:
            store.dequeue(run_id, f"not started: {reason}")
            raise QueueFull(f"run {run_id} not started: {reason}")
        if on_wait is not None and reason != told:
            on_wait(reason)
            told = reason
        if stopping is not None and stopping.wait(POLL_SECONDS):
            store.dequeue(run_id, "stopped while waiting in its queue")
            return False
        if stopping is None:
            time.sleep(POLL_SECONDS)
