"""``GET /metrics``: the store read at scrape time (``RunBrowser.metrics``) as Prometheus text,
through ``prometheus_client``'s exposition (imported on the first scrape, never on the way to
running a step).

Histograms are of a window (the steps that finished and the runs that started in the last
``window`` seconds), recomputed at each scrape: read them with ``histogram_quantile`` as they
are, not through ``rate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from plait.store.base import RunBrowser
from plait.store.metrics import DURATION_BUCKETS, Histogram, StoreMetrics

__all__ = ["CONTENT_TYPE", "DEFAULT_WINDOW_SECONDS", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_WINDOW_SECONDS = 3600.0


def exposition(browse: RunBrowser, window: float = DEFAULT_WINDOW_SECONDS) -> bytes:
    """The metrics of the store now, in the Prometheus text format."""
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import CollectorRegistry

    reading = browse.metrics(browse.now() - window)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Reading(reading, window))
    return bytes(generate_latest(registry))


class _Reading:
    """A collector of one reading of the store."""

    def __init__(self, reading: StoreMetrics, window: float) -> None:
        self.reading = reading
        self.window = window

    def collect(self) -> Iterator[Any]:
        yield from _runs(self.reading)
        yield from _queues(self.reading)
        yield _histograms(
            "plait_step_duration_seconds",
            "Durations of the steps that ran and finished in the window, by workflow and step.",
            ["workflow", "step"],
            self.reading.step_durations.items(),
        )
        yield from _scheduler(self.reading)
        yield from _workers(self.reading)
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily(
            "plait_metrics_window_seconds",
            "The window of the histograms: they count what happened in the last this many seconds.",
            value=self.window,
        )


def _runs(reading: StoreMetrics) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    runs = GaugeMetricFamily(
        "plait_runs_total",
        "Runs in the store, by workflow, level (root or child) and status. Deleting old "
        "history and retrying a run lower it: a gauge of what the store holds.",
        labels=["workflow", "level", "status"],
    )
    running = 0
    for (workflow, level, status), count in sorted(reading.runs.items()):
        runs.add_metric([workflow, level, status], count)
        running += count if status == "running" else 0
    yield runs
    yield GaugeMetricFamily("plait_runs_active", "Runs running now.", value=running)


def _queues(reading: StoreMetrics) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    labels = ["queue"]
    waiting = GaugeMetricFamily("plait_queue_waiting", "Runs waiting in each queue.", labels=labels)
    running = GaugeMetricFamily("plait_queue_running", "Runs of each queue running.", labels=labels)
    oldest = GaugeMetricFamily(
        "plait_queue_oldest_wait_seconds",
        "How long the oldest run waiting in each queue has waited.",
        labels=labels,
    )
    for queue, depth in sorted(reading.queues.items()):
        waiting.add_metric([queue], depth.waiting)
        running.add_metric([queue], depth.running)
        if depth.oldest_enqueued_at is not None:
            oldest.add_metric([queue], max(0.0, reading.now - depth.oldest_enqueued_at))
    yield from (waiting, running, oldest)
    yield _histograms(
        "plait_queue_wait_seconds",
        "How long the runs that started in the window waited in their queue.",
        labels,
        (((queue,), value) for queue, value in reading.queue_waits.items()),
    )


def _scheduler(reading: StoreMetrics) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    yield GaugeMetricFamily(
        "plait_scheduler_up",
        "1 when a scheduler holds its lease now.",
        value=1 if reading.scheduler_active else 0,
    )
    lag = GaugeMetricFamily(
        "plait_scheduler_lag_seconds",
        "How late the scheduler queued each workflow's last scheduled run of the window.",
        labels=["workflow"],
    )
    due = GaugeMetricFamily(
        "plait_scheduler_last_fire_timestamp_seconds",
        "When each workflow's last scheduled run of the window was due (epoch seconds).",
        labels=["workflow"],
    )
    for workflow, fire in sorted(reading.scheduled.items()):
        lag.add_metric([workflow], fire.lag)
        due.add_metric([workflow], fire.due_at)
    yield from (lag, due)


def _workers(reading: StoreMetrics) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    labels = ["worker", "host"]
    slots = GaugeMetricFamily("plait_worker_slots", "Slots of each live worker.", labels=labels)
    busy = GaugeMetricFamily(
        "plait_worker_slots_busy", "Slots of each live worker running a run.", labels=labels
    )
    for worker in reading.workers:
        slots.add_metric([worker.worker_id, worker.host], worker.slots)
        busy.add_metric([worker.worker_id, worker.host], worker.busy)
    yield from (slots, busy)


def _histograms(
    name: str,
    documentation: str,
    labels: list[str],
    values: Iterable[tuple[tuple[str, ...], Histogram]],
) -> Any:
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(name, documentation, labels=labels)
    for key, histogram in sorted(values, key=lambda pair: pair[0]):
        buckets = [
            (_bound(bound), float(count))
            for bound, count in zip(DURATION_BUCKETS, histogram.cumulative, strict=True)
        ]
        buckets.append(("+Inf", float(histogram.count)))
        family.add_metric(list(key), buckets, sum_value=histogram.total)
    return family


def _bound(value: float) -> str:
    return f"{float(value):g}"
