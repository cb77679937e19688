"""``/api/v1/runs``: list and filter, one run with its attempts and ancestors, the tree of
child runs, a page of children, stop, retry, dequeue, and ranged reads of step logs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path as PathType
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from plait.api.catalogue import relative_file
from plait.api.errors import COMMON_ERRORS, ApiError, errors
from plait.api.logs import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    LogSource,
    ShippedLog,
    read_all,
    read_head,
    read_range,
    read_tail,
)
from plait.api.services import Services, services_of
from plait.errors import NotFoundError, RunStateError
from plait.model import CHILDREN_SHOWN, RunRecord, RunStatus, StepRecord, StepStatus
from plait.queue.started import started_by, started_runs, started_runs_to_stop
from plait.store.views import CHILD_SORTS, TREE_MAX_NODES, TREE_PER_RUN

__all__ = ["RunId", "parse_statuses", "router", "step_log_path"]

TREE_MAX_NODES_ALLOWED = 10_000  # about 3 MB of runs

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=COMMON_ERRORS)
Svc = Annotated[Services, Depends(services_of)]
RunId = Annotated[str, Path(alias="runId", description="the run's id")]


class ApproveBody(BaseModel):
    inputs: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="the inputs the step asks for: they become its outputs"
    )


class RejectBody(BaseModel):
    reason: str | None = Field(default=None, description="why (kept in the step's error)")


class RetryBody(BaseModel):
    step: str | None = Field(default=None, description="run only this step again")
    downstream: bool = Field(default=False, description="with step: and the steps after it")


def parse_statuses(text: str | None) -> list[RunStatus]:
    """``failed,running`` → statuses; ApiError 400 on an unknown one."""
    if not text:
        return []
    statuses = []
    for word in text.split(","):
        try:
            statuses.append(RunStatus(word.strip()))
        except ValueError:
            known = ", ".join(s.value for s in RunStatus)
            raise ApiError(400, f"unknown status {word.strip()!r} (known: {known})") from None
    return statuses


def _moment(text: str | None, what: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"{what}: {text!r} is neither an ISO 8601 time nor epoch seconds")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@router.get(
    "", summary="Runs, newest first (child runs too, unless roots=true)", responses=errors(400)
)
def list_runs(
    services: Svc,
    workflow: Annotated[str | None, Query(description="the workflow's name")] = None,
    status: Annotated[str | None, Query(description="statuses, comma-separated")] = None,
    since: Annotated[
        str | None, Query(alias="from", description="created at or after (ISO 8601 or epoch)")
    ] = None,
    until: Annotated[
        str | None, Query(alias="to", description="created before (ISO 8601 or epoch)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    roots: Annotated[bool, Query(description="only root runs")] = False,
) -> dict[str, Any]:
    services.upkeep()
    page = services.browse.list_runs(
        name=workflow,
        statuses=parse_statuses(status),
        since=_moment(since, "from"),
        until=_moment(until, "to"),
        roots_only=roots,
        limit=limit,
        offset=offset,
    )
    dags = services.home.dags_dir
    return {
        "runs": [_run_row(run, dags) for run in page.runs],
        "total": page.total,
        "counts": page.counts,
    }


BRIEF_VALUE_CHARS = 1024


# A run's page shows this much of each step output and run output; the rest is read from
# /runs/{id}/steps/{step}/output and /runs/{id}/outputs/{name} (a fan-out of 100,000 items
# has an output of some 15 MB: no reply carries it whole by the way).
SHOWN_VALUE_CHARS = 16 * 1024


def brief(values: dict[str, str], where: str, limit: int = BRIEF_VALUE_CHARS) -> dict[str, str]:
    """Values as a list shows them: a long one cut, saying where the whole of it is (``where``,
    with ``{name}`` for the value's name)."""
    return {
        name: value
        if len(value) <= limit
        else f"{value[:limit]}… [cut: {len(value)} characters in all; "
        f"{where.format(name=name)} has the whole value]"
        for name, value in values.items()
    }


_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the value, as text",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def _cut_outputs(body: dict[str, Any], run_id: str) -> None:
    """A run's reply, with each step output longer than ``SHOWN_VALUE_CHARS`` cut (the step
    says ``outputCut`` and ``outputSize`` in bytes) and each long run output cut in place."""
    steps = list(body["steps"])
    for attempts in body.get("attempts", {}).values():
        steps.extend(attempts)
    for step in steps:
        output = step.get("output")
        if isinstance(output, str) and len(output) > SHOWN_VALUE_CHARS:
            step["output"] = output[:SHOWN_VALUE_CHARS]
            step["outputCut"] = True
            step["outputSize"] = len(output.encode("utf-8", "surrogatepass"))
    body["outputs"] = brief(
        body["outputs"], f"GET /api/v1/runs/{run_id}/outputs/{{name}}", SHOWN_VALUE_CHARS
    )


def _run_row(run: RunRecord, dags: PathType) -> dict[str, Any]:
    row = run.to_json()
    del row["steps"], row["children"]
    row["params"] = brief(row["params"], f"GET /api/v1/runs/{run.run_id}")
    row["outputs"] = brief(row["outputs"], f"GET /api/v1/runs/{run.run_id}/outputs/{{name}}")
    row["createdAt"] = _iso(run.created_at)
    row["workflowFile"] = relative_file(dags, run.source)
    return row


def _iso(epoch: float | None) -> str | None:
    from plait.model import iso_time

    return iso_time(epoch)


@router.get(
    "/{runId}",
    summary="A run: steps, direct children (counts, and up to 100 a step), attempts, ancestors",
    responses=errors(404),
)
def get_run(run_id: RunId, services: Svc) -> dict[str, Any]:
    services.upkeep()
    # a fan-out of 100,000 items: its counts and the items that did not succeed first; the
    # rest page by page from /children
    run = services.store.get_run(run_id, children_limit=CHILDREN_SHOWN)
    body = run.to_json()
    body["createdAt"] = _iso(run.created_at)
    body["workflowFile"] = relative_file(services.home.dags_dir, run.source)
    body["attempts"] = {
        step.name: [a.to_json() for a in services.store.attempts(run_id, step.name)]
        for step in run.steps
        if step.attempt > 1
    }
    body["ancestors"] = services.browse.ancestors(run_id)
    body["startedBy"] = started_by(services.store, run.root_run_id or run_id)
    body["started"] = started_runs(services.store, run_id)
    if run.status.is_final and run.status is not RunStatus.SUCCEEDED:
        body["firstFailure"] = services.browse.first_failure(run_id)
    if run.status is RunStatus.QUEUED:
        from plait.queue.listing import waiting_reason

        body["waitingReason"] = waiting_reason(services.store, services.config(), run_id)
    for step, shown in zip(run.steps, body["steps"], strict=True):
        if step.status is StepStatus.WAITING:
            from plait.runtime.executors.hitl import request_of

            shown["waiting"] = request_of(step.output)
            shown["output"] = None
    _cut_outputs(body, run_id)
    return body


@router.get(
    "/{runId}/steps/{step}/output",
    summary="The whole output of a step (its latest attempt, or the given one)",
    responses={**_TEXT, **errors(404)},
)
def get_step_output(
    run_id: RunId,
    step: str,
    services: Svc,
    attempt: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> PlainTextResponse:
    _, record = step_attempt(services, run_id, step, attempt)
    if record.output is None or record.status is StepStatus.WAITING:
        raise NotFoundError(f"step {step} of run {run_id} has no output ({record.status})")
    return PlainTextResponse(record.output)


@router.get(
    "/{runId}/outputs/{name}",
    summary="The whole value of one of a run's outputs",
    responses={**_TEXT, **errors(404)},
)
def get_run_output(run_id: RunId, name: str, services: Svc) -> PlainTextResponse:
    run = services.store.get_run(run_id, children_limit=0)
    if name not in run.outputs:
        raise NotFoundError(f"run {run_id} has no output {name!r}")
    return PlainTextResponse(run.outputs[name])


@router.get(
    "/{runId}/tree",
    summary="A run and its child runs at any depth, bounded (truncated says when it was cut)",
    responses=errors(404),
)
def get_tree(
    run_id: RunId,
    services: Svc,
    limit: Annotated[
        int,
        Query(ge=1, le=1000, description="children listed of each run, failures first"),
    ] = TREE_PER_RUN,
    max_nodes: Annotated[
        int,
        Query(
            alias="maxNodes",
            ge=1,
            le=TREE_MAX_NODES_ALLOWED,
            description="runs in the reply at most, the root included, nearest levels first",
        ),
    ] = TREE_MAX_NODES,
) -> dict[str, Any]:
    tree = services.browse.tree(run_id, per_run=limit, max_nodes=max_nodes)
    if tree is None:
        raise NotFoundError(f"no run with id {run_id}")
    return tree.to_json()


@router.get(
    "/{runId}/children",
    summary="A page of a run's direct child runs",
    responses=errors(400, 404),
)
def get_children(
    run_id: RunId,
    services: Svc,
    step: Annotated[str | None, Query(description="only the children of this step")] = None,
    status: Annotated[str | None, Query(description="statuses, comma-separated")] = None,
    sort: Annotated[str, Query(description=f"one of {', '.join(CHILD_SORTS)}")] = "index",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    item: Annotated[
        str | None,
        Query(max_length=1000, description="only children whose item holds this text (any case)"),
    ] = None,
) -> dict[str, Any]:
    if sort not in CHILD_SORTS:
        raise ApiError(400, f"unknown sort {sort!r} (known: {', '.join(CHILD_SORTS)})")
    run = services.store.get_run(run_id, children_limit=0)
    if step is not None and step not in {s.name for s in run.steps}:
        raise NotFoundError(f"run {run_id} has no step {step!r}")
    page = services.browse.children_page(
        run_id,
        step=step,
        statuses=parse_statuses(status),
        sort=sort,
        limit=limit,
        offset=offset,
        item=item,
    )
    return {"children": page.children, "total": page.total, "counts": page.counts}


@router.post(
    "/{runId}/stop",
    status_code=202,
    summary="Stop a running or queued run",
    responses=errors(400, 404, 409, 413),
)
def stop(
    run_id: RunId,
    services: Svc,
    started: Annotated[
        bool,
        Query(description="also stop the runs it started without waiting (wait: false)"),
    ] = False,
) -> dict[str, Any]:
    store = services.store
    run = store.get_run(run_id, children_limit=0)
    also: list[str] = []
    if started:
        also = started_runs_to_stop(store, run_id)
    if run.status.is_final and not also:
        raise RunStateError(f"run {run_id} is {run.status}; only an active run can be stopped")
    for other in also:
        store.stop(other)
    if not run.status.is_final:
        store.stop(run_id)
    return {
        "runId": run_id,
        "status": str(run.status),
        "stopRequested": not run.status.is_final,
        "startedStopped": also,
    }


@router.post(
    "/{runId}/retry",
    status_code=202,
    summary="Run a finished root run again",
    responses=errors(400, 404, 409, 413),
)
def retry(run_id: RunId, services: Svc, body: RetryBody | None = None) -> dict[str, Any]:
    wanted = body or RetryBody()
    run = services.store.get_run(run_id, children_limit=0)
    if not run.status.is_final:
        raise RunStateError(f"run {run_id} is {run.status}; stop it before retrying")
    if run.parent_run_id is not None:
        raise RunStateError(f"run {run_id} is a child run; retry its root run {run.root_run_id}")
    if wanted.step is not None and wanted.step not in {s.name for s in run.steps}:
        raise NotFoundError(f"run {run_id} has no step {wanted.step!r}")
    if wanted.downstream and wanted.step is None:
        raise ApiError(400, "downstream needs a step")
    args = ["retry", "--run-id", run_id, "-q"]
    if wanted.step is not None:
        args += ["--step", wanted.step] + (["--downstream"] if wanted.downstream else [])
    services.launch_plait(args, run_id)
    status = _wait_for_new_attempt(services, run)
    return {"runId": run_id, "status": status}


@router.post(
    "/{runId}/steps/{step}/approve",
    status_code=202,
    summary="Approve a step that waits for a person; the run goes on",
    responses=errors(400, 404, 409, 413),
)
def approve(
    run_id: RunId, step: str, services: Svc, body: ApproveBody | None = None
) -> dict[str, Any]:
    inputs = {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in (body.inputs if body else {}).items()
    }
    return _decide(services, run_id, step, approve=True, inputs=inputs)


@router.post(
    "/{runId}/steps/{step}/reject",
    status_code=202,
    summary="Reject a step that waits for a person: it fails, and the run goes on to its end",
    responses=errors(400, 404, 409, 413),
)
def reject(
    run_id: RunId, step: str, services: Svc, body: RejectBody | None = None
) -> dict[str, Any]:
    return _decide(services, run_id, step, approve=False, reason=body.reason if body else None)


def _decide(
    services: Services,
    run_id: str,
    step: str,
    *,
    approve: bool,
    inputs: dict[str, str] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    from plait.app import decide_step

    root = decide_step(
        run_id, step, home=services.home, approve=approve, inputs=inputs, reason=reason
    )
    services.launch_plait(["resume", root.run_id, "-q"], root.run_id)
    status = _wait_for_new_attempt(services, root)
    return {
        "runId": run_id,
        "step": step,
        "decision": "approved" if approve else "rejected",
        "rootRunId": root.run_id,
        "status": status,
    }


def _wait_for_new_attempt(services: Services, before: RunRecord, timeout: float = 5.0) -> str:
    """So that the caller's next look shows the new attempt, not the old result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = services.store.get_run(before.run_id, children_limit=0)
        if now.attempt > before.attempt:
            return str(now.status)
        time.sleep(0.05)
    return str(before.status)


@router.post(
    "/{runId}/dequeue",
    summary="Take a waiting run out of its queue",
    responses=errors(400, 404, 409, 413),
)
def dequeue(run_id: RunId, services: Svc) -> dict[str, Any]:
    run = services.store.get_run(run_id, children_limit=0)
    if not services.store.dequeue(run_id):
        raise RunStateError(f"run {run_id} is {run.status}, not queued")
    return {"runId": run_id, "status": str(RunStatus.CANCELLED)}


def step_attempt(
    services: Services, run_id: str, step: str, attempt: int | None
) -> tuple[RunRecord, StepRecord]:
    """The run and its step (the given attempt of it, else the latest); 404 when either is
    not there."""
    run = services.store.get_run(run_id, children_limit=0)
    try:
        record = run.step(step)
    except KeyError:
        raise NotFoundError(f"run {run_id} has no step {step!r}") from None
    if attempt is not None and attempt != record.attempt:
        earlier = [a for a in services.store.attempts(run_id, step) if a.attempt == attempt]
        if not earlier:
            raise NotFoundError(f"step {step} of run {run_id} has no attempt {attempt}")
        record = earlier[0]
    return run, record


def step_log_path(
    services: Services, run_id: str, step: str, stream: str, attempt: int | None
) -> tuple[RunRecord, StepRecord, LogSource | None]:
    """The run, the step (or the given attempt of it) and its log for ``stream``: the file,
    or with a store that ships logs (PostgreSQL), what the agent wherever it ran shipped."""
    run, record = step_attempt(services, run_id, step, attempt)
    path = record.stderr_path if stream == "stderr" else record.stdout_path
    if path and services.store.SHIPS_LOGS:
        return run, record, ShippedLog(services.store, run_id, path)
    return run, record, path


@router.get(
    "/{runId}/steps/{step}/log/raw",
    summary="The whole of a step's log, as a file to download",
    responses=errors(404),
    response_class=StreamingResponse,
)
def get_raw_log(
    run_id: RunId,
    step: str,
    services: Svc,
    stream: Literal["stdout", "stderr"] = "stdout",
    attempt: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> StreamingResponse:
    _, record, path = step_log_path(services, run_id, step, stream, attempt)
    if not path:
        raise NotFoundError(f"step {step} of run {run_id} has no log yet ({record.status})")
    name = f"{run_id}-{step}-{record.attempt}.{'err' if stream == 'stderr' else 'out'}.log"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return StreamingResponse(
        read_all(path),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


@router.get(
    "/{runId}/steps/{step}/log",
    summary="A window of a step's log",
    responses=errors(400, 404),
)
def get_log(
    run_id: RunId,
    step: str,
    services: Svc,
    stream: Literal["stdout", "stderr"] = "stdout",
    attempt: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    offset: Annotated[
        int, Query(ge=-(2**62), le=2**62, description="byte offset; negative: from the end")
    ] = 0,
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LIMIT, description="bytes at most (64 KiB; 16 MiB with tail/head)"),
    ] = None,
    tail: Annotated[int | None, Query(ge=0, le=1_000_000, description="last N lines")] = None,
    head: Annotated[int | None, Query(ge=0, le=1_000_000, description="first N lines")] = None,
) -> dict[str, Any]:
    if tail is not None and head is not None:
        raise ApiError(400, "give tail or head, not both")
    _, record, path = step_log_path(services, run_id, step, stream, attempt)
    if not path:
        raise NotFoundError(f"step {step} of run {run_id} has no log yet ({record.status})")
    if tail is not None:
        window = read_tail(path, tail, limit or MAX_LIMIT)
    elif head is not None:
        window = read_head(path, head, offset, limit or MAX_LIMIT)
    else:
        window = read_range(path, offset, limit or DEFAULT_LIMIT)
    config = services.config()
    cap = config.max_step_log_size
    if isinstance(path, ShippedLog):
        cap = min(cap, config.max_shipped_log_size)
    return {
        **window.to_json(),
        "stream": stream,
        "attempt": record.attempt,
        "cap": cap,
        "cut": window.size > cap,
    }
