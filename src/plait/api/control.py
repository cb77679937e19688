"""Pausing and resuming: a workflow's schedule (its fire times are skipped, each recorded with
the reason) and a queue (its waiting runs are held); both kept in the store, across restarts.
``/api/v1/schedules`` lists the schedules with their next and skipped fire times."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from plait.api.catalogue import find_entry
from plait.api.errors import COMMON_ERRORS, errors
from plait.api.services import Services, services_of
from plait.model import iso_time

router = APIRouter(prefix="/api/v1", tags=["schedules and queues"], responses=COMMON_ERRORS)
Svc = Annotated[Services, Depends(services_of)]
Verb = Literal["pause", "resume"]


@router.get("/schedules", summary="Scheduled workflows: lines, next times, paused, skipped times")
def list_schedules(services: Svc) -> dict[str, Any]:
    from plait.scheduler.listing import schedule_listing

    listing = schedule_listing(services.home, services.config(), 3, services.store)
    return {"schedules": listing}


@router.get(
    "/workflows/{name}/schedule/skipped",
    summary="The fire times of a workflow's schedule that did not run, newest first, and why",
    responses=errors(404),
)
def skipped_times(
    name: str, services: Svc, limit: Annotated[int, Query(ge=1, le=2000)] = 100
) -> dict[str, Any]:
    entry = find_entry(services.home.dags_dir, name)  # 404 for a workflow that is not there
    skips = services.store.skips(entry.name, limit)
    return {
        "name": entry.name,
        "skipped": [{"fireAt": iso_time(at), "reason": why} for at, why in skips],
    }


@router.post(
    "/workflows/{name}/schedule/{verb}",
    summary="Pause or resume a workflow's schedule (kept across restarts)",
    responses=errors(404),
)
def toggle_schedule(name: str, verb: Verb, services: Svc) -> dict[str, Any]:
    entry = find_entry(services.home.dags_dir, name)  # 404 for a workflow that is not there
    changed = services.store.set_paused("schedule", entry.name, verb == "pause")
    return _state(services, "schedule", entry.name, changed)


@router.post(
    "/queues/{name}/{verb}",
    summary="Pause or resume a queue: a paused queue starts none of its runs (kept on restart)",
)
def toggle_queue(name: str, verb: Verb, services: Svc) -> dict[str, Any]:
    changed = services.store.set_paused("queue", name, verb == "pause")
    if verb == "resume":
        from plait.queue import dispatch

        dispatch(services.store, services.config(), services.launch_agent, queues=[name])
    return _state(services, "queue", name, changed)


def _state(services: Services, kind: str, name: str, changed: bool) -> dict[str, Any]:
    since = services.store.paused(kind).get(name)
    return {
        "name": name,
        "paused": since is not None,
        "pausedAt": iso_time(since),
        "changed": changed,
    }
