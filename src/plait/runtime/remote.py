"""Remote child runs: a child workflow called by a ``run:`` step runs on a worker whose labels
match its ``workerSelector`` or the step's (with a store that has workers); a step of any other
kind with a ``workerSelector`` runs there as a one-step child run (each item of a command
fan-out as one), given the values its run has made as params (``carried_params``).

The parent's step puts the child in its queue, as a run whose place in the tree (parent run,
step, item) is stored with it, and waits for it to end; the scheduler places it on a worker
like any queued run. The child's id is derived from its place — parent run, step, item — so a
parent that runs again (a retry, a run queued again after its worker was lost) finds the child
it started before: it waits for it while it runs, keeps it when it succeeded, and queues a
failed one again for a new attempt. A child is never run twice at once for one place.
"""

from __future__ import annotations

import time
import uuid

from plait.errors import RunStateError
from plait.model import (
    CHILDREN_SHOWN,
    UNLIMITED_ACTIVE_RUNS,
    RunRecord,
    RunStatus,
    StepRecord,
    Workflow,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.model import Param, Step
    from plait.runtime.run import Parent
    from plait.runtime.step import StepExecution
    from plait.store.base import RunStore

__all__ = [
    "carried_params",
    "children_queue",
    "hitl_refusal",
    "remote_child_id",
    "remote_selector",
    "run_remote_child",
]

_NAMESPACE = uuid.UUID("5f0c3a52-2b1e-4d53-9a57-6c1d7a3e9b10")
POLL_SECONDS = 0.3
STOP_SEEN_SECONDS = 2.0


def remote_selector(step: Step, child: Workflow, store: RunStore) -> dict[str, str] | None:
    """The labels a worker needs to run ``child`` for the step ``step`` — the child
    workflow's ``workerSelector`` with the step's over it — or None when the child runs in
    its parent's agent (no selector, or a store without workers)."""
    selector = {**child.worker_selector, **step.worker_selector}
    if not selector or not getattr(store, "HAS_WORKERS", False):
        return None
    return selector


def carried_params(execution: StepExecution) -> tuple[Param, ...]:
    """What a step sent to a worker sees of its run, as the params of its one-step child
    run: the run's params (positional ones stay $1, $2, ...) and the outputs of the steps
    before it, as data. The workflow's env, dotenv and secrets are applied again on the
    worker (secrets are read there, never stored); a value holding a secret is masked."""
    from plait.model import Param

    own = {key for key, _ in execution.step.env}
    masker = execution.masker
    variables = execution.scope.variables
    positional = sorted((int(k), v) for k, v in variables.items() if k.isdigit())
    return (
        *(Param(None, masker.text(value)) for _, value in positional),
        *(
            Param(name, masker.text(value))
            for name, value in variables.items()
            if not name.isdigit() and name not in own
        ),
    )


def hitl_refusal(child: Workflow) -> str | None:
    """Why ``child`` cannot run on a worker: a person's decision resumes a run where it was
    started (the reference refuses the same)."""
    if any(s.executor is not None and s.executor.type == "hitl" for s in child.steps):
        return f"child workflow {child.name} has `hitl` steps: it cannot run on a worker"
    return None


def remote_child_id(parent_run_id: str, step: str, item_index: int | None, attempt: int = 1) -> str:
    """The id of the remote child run at a place of the tree: the same for every run of the
    parent. ``attempt``: the step's attempt in this run of the parent (a retry, an iteration
    of ``repeatPolicy``); each after the first has a child of its own."""
    where = f"{parent_run_id}/{step}/{'' if item_index is None else item_index}"
    if attempt > 1:
        where += f"/{attempt}"
    return str(uuid.uuid5(_NAMESPACE, where))


def children_queue(root: Workflow) -> str:
    """The queue of the remote child runs of a tree whose root runs in ``root``'s queue.

    A child runs inside its root's slot, as a child in the same agent does: it is not held
    back by its queue's capacity (which its waiting parent may hold: a queue of capacity 1
    named by parent and child would wait on itself), only by a worker's slots."""
    return f"{root.queue or root.name}:children"


def run_remote_child(
    child: Workflow,
    params: tuple[Param, ...],
    parent: Parent,
    selector: dict[str, str],
    attempt: int = 1,
) -> RunRecord:
    """Start (or find again) the child run on a worker whose labels include ``selector`` and
    wait for its end: its record. ``attempt``: the step's attempt (see ``remote_child_id``)."""
    run = parent.run
    store = run.store
    child_id = remote_child_id(run.run_id, parent.step, parent.item_index, attempt)
    queue = children_queue(run.root.workflow)
    earlier = store.find_run(child_id)
    if earlier is None:
        record = RunRecord(
            run_id=child_id,
            name=child.name,
            status=RunStatus.QUEUED,
            params=[[p.name, p.value] for p in params],
            source=child.source,
            created_at=store.now(),
            parent_run_id=run.run_id,
            parent_step=parent.step,
            root_run_id=run.root_id,
            item_index=parent.item_index,
            item=parent.item,
            depth=run.depth + 1,
        )
        try:
            store.enqueue(
                record,
                [StepRecord(name=s.name, position=i) for i, s in enumerate(child.steps)],
                queue=queue,
                max_active_runs=UNLIMITED_ACTIVE_RUNS,
                dispatch="scheduler",
                selector=selector,
                lost_retries=child.retry_on_worker_lost,
                trace_parent=run.agent.tracing.context_of(run, parent.step),
            )
        except RunStateError:  # another delivery of the parent enqueued it first
            pass
    elif earlier.status.is_final and not earlier.succeeded:
        store.requeue_finished(child_id, queue=queue, max_active_runs=UNLIMITED_ACTIVE_RUNS)
    return _wait(parent, child_id)


def _wait(parent: Parent, child_id: str) -> RunRecord:
    """The child's record once it has ended; a stop of the parent stops it (where it is)."""
    run = parent.run
    stopped = False
    while True:
        record = run.store.get_run(child_id, children_limit=0)
        if record.status.is_final:  # (a child waiting for a person keeps its parent waiting)
            record = run.store.get_run(child_id, children_limit=CHILDREN_SHOWN)
            if record.status is RunStatus.CANCELLED and not run.stopping.is_set():
                # a stop of the whole tree reached the child first: this agent sees its own
                # part of it within a poll, and the step ends cancelled rather than failed
                run.stopping.wait(STOP_SEEN_SECONDS)
            return record
        if run.stopping.is_set() and not stopped:
            run.store.stop(child_id, run.stop_reason or "stopped")
            stopped = True
        time.sleep(POLL_SECONDS)
