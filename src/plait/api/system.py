"""Health, Prometheus metrics, queues, the scheduler's lease, and the workflow JSON Schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from plait.api.errors import COMMON_ERRORS, errors
from plait.api.services import Services, services_of

__all__ = ["router"]

router = APIRouter(tags=["system"], responses=COMMON_ERRORS)
Svc = Annotated[Services, Depends(services_of)]
SCHEDULER_LEASE = "scheduler"


@router.get("/health", summary="Liveness: the server answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics: runs, queues, step durations, scheduler lag, worker slots",
    responses={
        200: {
            "description": "The Prometheus text exposition format (version 0.0.4)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **errors(422),
    },
)
def metrics(
    services: Svc,
    window: Annotated[
        float,
        Query(ge=60, le=7 * 86400, description="Seconds of history the histograms count"),
    ] = 3600,
) -> Response:
    from plait.api.metrics import CONTENT_TYPE, exposition

    return Response(exposition(services.browse, window), media_type=CONTENT_TYPE)


@router.get("/api/v1/queues", summary="Each queue's running and waiting runs, and why they wait")
def queues(services: Svc) -> dict[str, Any]:
    from plait.queue.listing import queue_listing

    services.upkeep()
    return {"queues": queue_listing(services.store, services.config())}


@router.get("/api/v1/workers", summary="The workers: labels, slots in use, heartbeat, runs")
def workers(services: Svc) -> dict[str, Any]:
    from plait.worker import worker_listing

    return {"workers": worker_listing(services.store)}


@router.get("/api/v1/scheduler", summary="Whether a scheduler holds its lease")
def scheduler(services: Svc) -> dict[str, Any]:
    lease = services.browse.lease(SCHEDULER_LEASE)
    active = lease is not None and lease.expires_at > services.browse.now()
    return {"active": active, "owner": lease.owner if lease and active else None}


@router.get("/api/v1/schema", summary="The JSON Schema of a workflow file (for editors)")
def schema() -> dict[str, object]:
    from plait.spec import json_schema

    return json_schema()
