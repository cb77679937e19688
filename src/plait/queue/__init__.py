"""Named queues and maxActiveRuns: when a root run may start, and who starts it."""

from plait.queue.admission import QueueFull, queue_of, wait_for_slot
from plait.queue.config import Config, load_config
from plait.queue.dispatch import dispatch
from plait.queue.enqueue import enqueue_run

__all__ = [
    "Config",
    "QueueFull",
    "dispatch",
    "enqueue_run",
    "load_config",
    "queue_of",
    "wait_for_slot",
]
