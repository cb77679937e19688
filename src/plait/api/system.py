"""Health, Prometheus metrics, queues, the scheduler's lease, and the workflow JSON Schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from plait.api.errors import COMMON_ERRORS
from plait.api.services import Services, services_of
from plait.model import RunStatus

__all__ = ["router"]

router = APIRouter(tags=["system"], responses=COMMON_ERRORS)
Svc = Annotated[Services, Depends(services_of)]
SCHEDULER_LEASE = "scheduler"


@router.get("/health", summary="Liveness: the server answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(services: Svc) -> PlainTextResponse:
    counts = services.browse.count_by_status()
    waiting = services.browse.waiting_by_queue()
    lines = [
        "# HELP plait_runs_total Runs in the store, by status.",
        "# TYPE plait_runs_total gauge",
        *(
            f'plait_runs_total{{status="{status.value}"}} {counts.get(status.value, 0)}'
            for status in RunStatus
        ),
        "# HELP plait_runs_active Runs running now.",
        "# TYPE plait_runs_active gauge",
        f"plait_runs_active {counts.get(RunStatus.RUNNING.value, 0)}",
        "# HELP plait_queue_waiting Root runs waiting in each queue.",
        "# TYPE plait_queue_waiting gauge",
        *(f'plait_queue_waiting{{queue="{_label(q)}"}} {n}' for q, n in sorted(waiting.items())),
    ]
    return PlainTextResponse(
        "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
    )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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
