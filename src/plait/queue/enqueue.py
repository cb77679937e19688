"""Putting a run of a workflow file in its queue (from the CLI, the scheduler or the API)."""

from __future__ import annotations

from plait.errors import NotFoundError
from plait.model import Param, RunRecord, RunStatus, StepRecord, Workflow
from plait.queue.admission import queue_of
from plait.spec.children import definition_files
from plait.spec.params import check_params
from plait.spec.priority import check_priority
from plait.store.ids import check_run_id, new_run_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

__all__ = ["enqueue_run"]


def enqueue_run(
    store: RunStore,
    workflow: Workflow,
    *,
    params: tuple[Param, ...] = (),
    run_id: str | None = None,
    queue: str | None = None,
    dags_dir: str | None = None,
    priority: int | None = None,
) -> str:
    """A new ``queued`` run of ``workflow`` that a dispatcher will start; returns its id. The
    run is stored with its workflow files' texts (children looked up in ``dags_dir`` too);
    ``priority``: its place in the queue (default: the workflow's ``priority``), within
    ``plait.spec.priority``'s range, the one rule of ``priority:``, ``--priority`` and the API.

    Raises:
        RunStateError: a run with ``run_id`` exists already.
        InvalidParamsError: params that do not fit the workflow, or a priority out of range.
    """
    if workflow.source is None:
        raise NotFoundError("only a workflow file can be enqueued")
    chosen = check_priority(workflow.priority if priority is None else priority)
    check_params(workflow.name, workflow.params, params)
    record = RunRecord(
        run_id=check_run_id(run_id) if run_id else new_run_id(),
        name=workflow.name,
        status=RunStatus.QUEUED,
        params=[[p.name, p.value] for p in params],
        source=workflow.source,
        created_at=store.now(),
        definition=definition_files(workflow, dags_dir) or None,
    )
    store.enqueue(
        record,
        [StepRecord(name=s.name, position=i) for i, s in enumerate(workflow.steps)],
        queue=queue or queue_of(workflow),
        max_active_runs=workflow.max_active_runs,
        dispatch="scheduler",
        selector=dict(workflow.worker_selector) or None,
        lost_retries=workflow.retry_on_worker_lost,
        priority=chosen,
    )
    return record.run_id
