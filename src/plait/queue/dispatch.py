"""Starting queued runs: claim what the queues allow, launch one agent process per run (or,
for a run placed on a worker, let the claim hand it to the worker).

The scheduler calls this every tick; the server calls it right after it enqueues a run. A run
is claimed in one transaction and its agent takes it over with a conditional update, so two
dispatchers can never start the same run; a claim whose agent never came is put back in the
queue after ``STALE_CLAIM_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from plait.queue.admission import admit
from plait.queue.config import Config
from plait.store.records import AgentRef

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

__all__ = ["STALE_CLAIM_SECONDS", "dispatch"]

STALE_CLAIM_SECONDS = 30.0


def dispatch(
    store: RunStore,
    config: Config,
    launch: Callable[[str], object],
    queues: list[str] | None = None,
) -> list[str]:
    """Claim and launch every run that may start now; returns the run ids launched."""
    store.requeue_stale_claims(store.now() - STALE_CLAIM_SECONDS)
    launched: list[str] = []
    for queue in queues if queues is not None else store.queues_with_waiting():
        claim = store.claim(queue, partial(admit, declared=config.queues.get(queue)))
        for run_id in claim.claimed:
            if run_id in claim.placed:  # sent to its worker with the claim
                launched.append(run_id)
                continue
            pid = launch(run_id)
            if isinstance(pid, int):
                store.set_claim_agent(run_id, AgentRef(pid))
            launched.append(run_id)
    return launched
