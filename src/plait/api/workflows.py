"""``/api/v1/workflows``: list, describe, read and save the YAML, validate, start, enqueue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from plait.api.catalogue import (
    Entry,
    catalogue,
    describe,
    find_entry,
    new_entry_path,
    next_run,
    params_json,
    relative_file,
    save_atomically,
)
from plait.api.errors import COMMON_ERRORS, ApiError, errors, problem_json
from plait.api.services import Services, services_of
from plait.errors import NotFoundError, ParamsError, Problem, SpecError
from plait.model import Param, RunRecord, Workflow, iso_time
from plait.spec.priority import PRIORITY_MAX, PRIORITY_MIN

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["workflows"], responses=COMMON_ERRORS)
Svc = Annotated[Services, Depends(services_of)]
ParamValue = str | int | float | bool | None
FileQuery = Annotated[
    str | None,
    Query(
        description="the workflow's file, relative to the DAGs folder (`ci/build.yaml`); "
        "needed only when several files hold a workflow of that name"
    ),
]


class SpecBody(BaseModel):
    yaml: str = Field(description="the whole YAML text of the workflow file")


class ValidateBody(BaseModel):
    yaml: str = Field(description="the YAML text to check")
    name: str | None = Field(
        default=None, description="the workflow it will be saved as (resolves `run:` paths)"
    )


class StartBody(BaseModel):
    params: dict[str, ParamValue] | str | None = Field(
        default=None, description='params as {"K": "V"} or as text "K=V K2=\'a b\'"'
    )
    runId: str | None = Field(
        default=None, description="the id to give the run (default: a new UUIDv7)"
    )
    priority: int | None = Field(
        default=None,
        strict=True,  # a JSON integer: not true, "5" or 2.5
        ge=PRIORITY_MIN,
        le=PRIORITY_MAX,
        description="its place in the queue, higher first (default: the workflow's priority)",
    )


WORKFLOW_SORTS = ("name", "-name", "lastRun", "-lastRun")


@router.get(
    "/workflows",
    summary="A page of the workflows of the DAGs folder and its subfolders",
    responses=errors(400),
)
def list_workflows(
    services: Svc,
    name: Annotated[str | None, Query(description="part of the name, any case")] = None,
    q: Annotated[
        str | None, Query(description="part of the name, description or a tag, any case")
    ] = None,
    tag: Annotated[str | None, Query(description="only workflows with this tag")] = None,
    status: Annotated[str | None, Query(description="only those whose last run has it")] = None,
    sort: Annotated[str, Query(description=f"one of {', '.join(WORKFLOW_SORTS)}")] = "name",
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> dict[str, Any]:
    """A page of the workflows that match, and how many match in all (``total``); ``tags``:
    every tag of every workflow. The last run and the next fire time are read for the page
    alone, unless the status filter or the sort needs them for all."""
    if sort not in WORKFLOW_SORTS:
        raise ApiError(400, f"unknown sort {sort!r} (known: {', '.join(WORKFLOW_SORTS)})")
    services.upkeep()
    timezone = services.config().timezone
    entries = catalogue(services.home.dags_dir)
    tags = sorted({t for e in entries if e.workflow is not None for t in e.workflow.tags})
    wanted = [e for e in entries if _matches(e, name, q, tag)]
    last: dict[str, RunRecord | None] = {}
    if status or sort in ("lastRun", "-lastRun"):
        last = {e.name: services.browse.last_run(e.name) for e in wanted}
        if status:
            wanted = [e for e in wanted if (r := last[e.name]) and str(r.status) == status]
    if sort == "-name":
        wanted.reverse()
    elif sort in ("lastRun", "-lastRun"):
        newest_first = sort == "-lastRun"
        never = float("-inf") if newest_first else float("inf")

        def started(entry: Entry) -> float:
            run = last[entry.name]
            return never if run is None else run.created_at

        wanted.sort(key=started, reverse=newest_first)
    page = wanted[offset : offset + limit]
    listed = [
        _summary(
            e,
            e.workflow,
            last[e.name] if e.name in last else services.browse.last_run(e.name),
            timezone,
        )
        for e in page
    ]
    return {"workflows": listed, "total": len(wanted), "tags": tags}


def _matches(entry: Entry, name: str | None, q: str | None, tag: str | None) -> bool:
    workflow = entry.workflow
    if name and name.lower() not in entry.name.lower():
        return False
    if tag and (workflow is None or tag not in workflow.tags):
        return False
    if q:
        needle = q.strip().lower()
        texts = [entry.name, *(() if workflow is None else (workflow.description, *workflow.tags))]
        return any(needle in text.lower() for text in texts)
    return True


def _summary(
    entry: Entry, workflow: Workflow | None, last: RunRecord | None, timezone: str | None
) -> dict[str, Any]:
    schedule = list(workflow.schedule.start) if workflow else []
    return {
        "name": entry.name,
        "file": str(entry.path),
        "path": entry.file,
        "folder": entry.folder,
        "description": workflow.description if workflow else "",
        "tags": list(workflow.tags) if workflow else [],
        "group": workflow.group if workflow else None,
        "schedule": schedule,
        "nextRun": next_run(tuple(schedule), timezone) if schedule else None,
        "lastRun": None if last is None else _last_run(last),
        "params": params_json(workflow) if workflow else [],
        "runConfig": {
            "disableParamEdit": bool(workflow and workflow.run_config.get("disable_param_edit")),
            "disableRunIdEdit": bool(workflow and workflow.run_config.get("disable_run_id_edit")),
        },
        "error": entry.error,
    }


def _last_run(run: RunRecord) -> dict[str, Any]:
    return {
        "runId": run.run_id,
        "status": str(run.status),
        "startedAt": iso_time(run.started_at),
        "finishedAt": iso_time(run.finished_at),
    }


@router.get(
    "/workflows/{name}", summary="A workflow: fields, params and steps", responses=errors(404)
)
def get_workflow(name: str, services: Svc, file: FileQuery = None) -> dict[str, Any]:
    return describe(_loaded(services, name, file))


@router.get(
    "/workflows/{name}/history",
    summary="A page of a workflow's runs, newest first, with each step's status (runs × steps)",
    responses=errors(404),
)
def get_history(
    name: Annotated[str, Path(description="the workflow's name (as its runs carry it)")],
    services: Svc,
    file: FileQuery = None,
    limit: Annotated[int, Query(ge=1, le=500, description="runs in the page")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62, description="newer runs to skip")] = 0,
) -> dict[str, Any]:
    """The runs of the page with the status of each of their steps, and ``steps``: the step
    names in the workflow's order (the workflow file's steps, then any other step of the
    page's runs, as handlers), so that a grid has a row per step."""
    services.upkeep()
    page = services.browse.history(name, limit=limit, offset=offset)
    try:
        entry = find_entry(services.home.dags_dir, name, file)
    except NotFoundError:
        if file is not None or page.total == 0:
            raise
        entry = None  # runs of a workflow the DAGs folder does not hold (any more)
    declared = [s.name for s in entry.workflow.steps] if entry and entry.workflow else []
    seen = dict.fromkeys(declared)
    for run in page.runs:
        seen.update(dict.fromkeys(run.steps))
    return {
        "name": name,
        "steps": list(seen),
        "runs": [run.to_json() for run in page.runs],
        "total": page.total,
    }


@router.get(
    "/workflows/{name}/spec",
    summary="The YAML text of a workflow's file",
    responses=errors(404),
)
def get_spec(name: str, services: Svc, file: FileQuery = None) -> dict[str, Any]:
    entry = find_entry(services.home.dags_dir, name, file)
    return {
        "name": entry.name,
        "file": str(entry.path),
        "path": entry.file,
        "yaml": entry.path.read_text("utf-8"),
    }


@router.put(
    "/workflows/{name}/spec",
    summary="Save the YAML of a workflow (or create one), after validating it",
    responses=errors(400, 404, 413),
)
def put_spec(name: str, body: SpecBody, services: Svc, file: FileQuery = None) -> JSONResponse:
    dags = services.home.dags_dir
    try:
        path, created = find_entry(dags, name, file).path, False
    except NotFoundError:
        if file is not None:
            raise
        path, created = new_entry_path(dags, name), True
    problems = _problems(body.yaml, str(path), services)
    if problems:
        raise SpecError(problems)
    save_atomically(path, body.yaml)
    saved = next((e.name for e in catalogue(dags) if e.path == path), path.stem)
    return JSONResponse(
        {"name": saved, "file": str(path), "path": relative_file(dags, str(path)), "saved": True},
        status_code=201 if created else 200,
    )


@router.post(
    "/validate",
    summary="Check a YAML text; problems come with their line",
    responses=errors(400, 413),
)
def validate(body: ValidateBody, services: Svc) -> dict[str, Any]:
    source = "<editor>"
    if body.name:
        try:
            source = str(find_entry(services.home.dags_dir, body.name).path)
        except NotFoundError:
            pass
    problems = _problems(body.yaml, source, services)
    return {"valid": not problems, "problems": [problem_json(p) for p in problems]}


def _problems(text: str, source: str, services: Services) -> list[Problem]:
    from plait.spec import load_text, validate_children

    try:
        workflow = load_text(text, source=source)
    except SpecError as error:
        return list(error.problems)
    return validate_children(workflow, str(services.home.dags_dir))


@router.post(
    "/workflows/{name}/start",
    status_code=202,
    summary="Start a run now (if its queue has room; else it waits in its queue)",
    responses=errors(400, 404, 409, 413),
)
def start(
    name: str, services: Svc, body: StartBody | None = None, file: FileQuery = None
) -> dict[str, Any]:
    return _enqueue(name, file, services, body, dispatch_now=True)


@router.post(
    "/workflows/{name}/enqueue",
    status_code=202,
    summary="Put a run in its queue; the scheduler starts it",
    responses=errors(400, 404, 409, 413),
)
def enqueue(
    name: str, services: Svc, body: StartBody | None = None, file: FileQuery = None
) -> dict[str, Any]:
    return _enqueue(name, file, services, body, dispatch_now=False)


def _enqueue(
    name: str, file: str | None, services: Services, body: StartBody | None, *, dispatch_now: bool
) -> dict[str, Any]:
    from plait.queue import dispatch, enqueue_run, queue_of

    entry = _loaded(services, name, file)
    workflow = entry.workflow
    assert workflow is not None
    if entry.document > 0:
        raise ApiError(
            422,
            f"{name!r} is a later document of {entry.file}: a child workflow that only the "
            "file's own (first) workflow runs; start that one",
        )
    params = _params(body.params if body else None, services.config().max_param_size)
    fixed = workflow.run_config
    if params and fixed.get("disable_param_edit"):
        raise ApiError(422, f"the params of {name} cannot be changed (runConfig.disableParamEdit)")
    wanted_id = body.runId if body else None
    if wanted_id and fixed.get("disable_run_id_edit"):
        raise ApiError(422, f"runs of {name} get their own id (runConfig.disableRunIdEdit)")
    run_id = enqueue_run(
        services.store,
        workflow,
        params=params,
        run_id=wanted_id,
        dags_dir=str(services.home.dags_dir),
        priority=body.priority if body else None,
    )
    if dispatch_now:
        queue = queue_of(workflow)
        dispatch(services.store, services.config(), services.launch_agent, queues=[queue])
    run = services.store.get_run(run_id, children_limit=0)
    return {"runId": run_id, "status": str(run.status)}


def _loaded(services: Services, name: str, file: str | None = None) -> Entry:
    entry = find_entry(services.home.dags_dir, name, file)
    if entry.workflow is None:
        raise (
            SpecError(list(entry.problems))
            if entry.problems
            else ApiError(422, entry.error or "the workflow does not load")
        )
    return entry


def _params(given: dict[str, ParamValue] | str | None, limit: int) -> tuple[Param, ...]:
    """The params of a start request; each value at most ``limit`` bytes (else a 422)."""
    params = _parsed_params(given)
    for position, param in enumerate(params, start=1):
        size = len(param.value.encode("utf-8", "surrogateescape"))
        if size > limit:
            name = param.name or f"${position}"
            raise ApiError(
                422,
                f"param {name} is {size} bytes, more than {limit} (server.maxParamSize in "
                "config.yaml); pass big values through a file or a step's output",
            )
    return params


def _parsed_params(given: dict[str, ParamValue] | str | None) -> tuple[Param, ...]:
    from plait.spec import parse_params

    if given is None:
        return ()
    if isinstance(given, str):
        try:
            return parse_params(given, file="params")
        except SpecError as error:
            raise ParamsError(f"malformed params: {error.message}") from None
    params = []
    for key, value in given.items():
        if not key or "=" in key or any(c.isspace() for c in key):
            raise ParamsError(f"malformed params: bad param name {key!r}")
        text = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
        params.append(Param(key, text))
    return tuple(params)
