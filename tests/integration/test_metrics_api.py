"""``GET /metrics`` of a real ``plait server`` on a free loopback port, scraped over HTTP after
real runs (one failing, some waiting in a queue, a fan-out of child runs) and read with
Prometheus's own text parser."""

from __future__ import annotations

import calendar
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import plait_server

WORKFLOWS = {
    "fine.yaml": """
        name: fine
        steps:
          - name: quick
            command: echo quick
          - name: nap
            command: sleep 0.3
    """,
    "broken.yaml": """
        name: broken
        steps:
          - name: boom
            command: exit 3
    """,
    "fan.yaml": """
        name: fan
        steps:
          - name: each
            run: leaf
            parallel: {items: [a, b]}
            params: "X=${ITEM}"
        ---
        name: leaf
        params: [X=a]
        steps:
          - name: say
            command: echo ${X}
    """,
    "held.yaml": """
        name: held
        queue: slow-lane
        steps:
          - name: wait
            command: echo held
    """,
    "nightly.yaml": """
        name: nightly
        steps:
          - name: work
            command: echo night
    """,
}


@pytest.fixture
def server(tmp_path: Path, store_backend: str) -> Iterator[httpx.Client]:
    dags = tmp_path / "dags"
    dags.mkdir()
    for name, text in WORKFLOWS.items():
        (dags / name).write_text(textwrap.dedent(text).lstrip("\n"))
    with (
        plait_server(tmp_path, dags) as (url, _),
        httpx.Client(base_url=url, headers={"X-Plait-Request": "1"}, timeout=30) as client,
    ):
        yield client


def _post(client: httpx.Client, path: str, body: dict[str, Any] | None = None) -> str:
    response = client.post(path, json=body or {})
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


def _wait_final(client: httpx.Client, run_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = str(client.get(f"/api/v1/runs/{run_id}").json()["status"])
        if status not in ("queued", "running"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never finished")


def _scrape(client: httpx.Client, **params: Any) -> dict[tuple[str, frozenset[Any]], float]:
    response = client.get("/metrics", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_metrics_count_runs_queues_steps_and_scheduled_fires(server: httpx.Client) -> None:
    # one after the other: a workflow runs once at a time (maxActiveRuns 1)
    ended = [
        _wait_final(server, _post(server, f"/api/v1/workflows/{name}/start"))
        for name in ("fine", "fine", "fan", "broken")
    ]
    assert ended == ["succeeded", "succeeded", "succeeded", "failed"]
    # nothing starts enqueued runs (no scheduler): they wait
    for _ in range(2):
        _post(server, "/api/v1/workflows/held/enqueue")
    scheduled = "nightly.20260101T050000Z"  # as the scheduler names the run of a time
    _post(server, "/api/v1/workflows/nightly/enqueue", {"runId": scheduled})

    samples = _scrape(server)

    runs_total = "plait_runs_total"
    assert _value(samples, runs_total, workflow="fine", level="root", status="succeeded") == 2
    assert _value(samples, runs_total, workflow="broken", level="root", status="failed") == 1
    assert _value(samples, runs_total, workflow="leaf", level="child", status="succeeded") == 2
    assert _value(samples, runs_total, workflow="held", level="root", status="queued") == 2
    assert _value(samples, "plait_runs_active") == 0
    assert _value(samples, "plait_queue_waiting", queue="slow-lane") == 2
    assert _value(samples, "plait_queue_waiting", queue="nightly") == 1
    assert _value(samples, "plait_queue_oldest_wait_seconds", queue="slow-lane") >= 0
    # the two runs of `fine` waited in its queue (the workflow's name) before they started
    assert _value(samples, "plait_queue_wait_seconds_count", queue="fine") == 2
    # step durations: two of each step of `fine`, and the nap took at least 0.3 s each time
    nap = {"workflow": "fine", "step": "nap"}
    assert _value(samples, "plait_step_duration_seconds_count", **nap) == 2
    assert _value(samples, "plait_step_duration_seconds_bucket", **nap, le="0.25") == 0
    assert _value(samples, "plait_step_duration_seconds_bucket", **nap, le="+Inf") == 2
    assert _value(samples, "plait_step_duration_seconds_sum", **nap) >= 0.6
    assert _value(samples, "plait_step_duration_seconds_count", workflow="leaf", step="say") == 2
    assert _value(samples, "plait_step_duration_seconds_count", workflow="broken", step="boom") == 1
    # the scheduled-looking run: due 2026-01-01 05:00 UTC, queued now
    due = calendar.timegm((2026, 1, 1, 5, 0, 0, 0, 0, 0))
    assert _value(samples, "plait_scheduler_last_fire_timestamp_seconds", workflow="nightly") == due
    assert _value(samples, "plait_scheduler_lag_seconds", workflow="nightly") > 0
    assert _value(samples, "plait_scheduler_up") == 0
    assert _value(samples, "plait_metrics_window_seconds") == 3600
    assert not any(name == "plait_worker_slots" for name, _ in samples)  # no worker


def test_the_window_of_the_histograms_is_a_query_parameter(server: httpx.Client) -> None:
    assert _wait_final(server, _post(server, "/api/v1/workflows/fine/start")) == "succeeded"
    assert _value(_scrape(server, window=120), "plait_metrics_window_seconds") == 120
    assert server.get("/metrics", params={"window": 5}).status_code == 422
