"""``RunBrowser.metrics`` (what ``/metrics`` shows), one suite for both backends: the same
numbers from SQLite and from PostgreSQL for the same rows."""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from plait.model import RunRecord, RunStatus, StepRecord, StepStatus
from plait.queue.admission import admit
from plait.store.base import RunStore
from plait.store.metrics import DURATION_BUCKETS, fire_time
from plait.store.records import AgentRef, WorkerInfo
from tests.integration.test_store_contract import _open


@pytest.fixture
def store(store_backend: str, tmp_path: Path) -> Iterator[RunStore]:
    import os

    url = os.environ.get("PLAIT_DATABASE_URL", "")
    opened = _open(url if store_backend == "postgres" else str(tmp_path / "plait.db"))
    yield opened
    opened.close()


def _run(run_id: str, name: str, **kw: Any) -> RunRecord:
    return RunRecord(
        run_id=run_id, name=name, status=RunStatus.RUNNING, created_at=time.time(), **kw
    )


def _step(
    name: str, status: StepStatus, started: float | None, finished: float | None
) -> StepRecord:
    return StepRecord(
        name=name, position=0, status=status, started_at=started, finished_at=finished
    )


def _enqueue(
    store: RunStore, run_id: str, name: str, queue: str, selector: dict[str, str] | None = None
) -> None:
    store.enqueue(
        RunRecord(run_id=run_id, name=name, status=RunStatus.QUEUED, created_at=time.time()),
        [],
        queue=queue,
        max_active_runs=10,
        dispatch="scheduler",
        selector=selector,
    )


def _bucket(histogram_cumulative: tuple[int, ...], bound: float) -> int:
    return histogram_cumulative[DURATION_BUCKETS.index(bound)]


def test_runs_are_counted_by_workflow_level_and_status(store: RunStore) -> None:
    now = store.now()
    for run_id, status in (("a1", RunStatus.SUCCEEDED), ("a2", RunStatus.FAILED), ("a3", None)):
        store.create_run(_run(run_id, "alpha"), [])
        if status is not None:
            store.set_run_status(run_id, status, finished_at=now)
    store.create_run(_run("k1", "kid", parent_run_id="a1", parent_step="s", root_run_id="a1"), [])
    store.create_run(_run("k2", "kid", parent_run_id="a1", parent_step="s", root_run_id="a1"), [])
    store.set_run_status("k2", RunStatus.FAILED, finished_at=now)

    reading = store.browse().metrics(now - 3600)

    assert reading.runs == {
        ("alpha", "root", "succeeded"): 1,
        ("alpha", "root", "failed"): 1,
        ("alpha", "root", "running"): 1,
        ("kid", "child", "running"): 1,
        ("kid", "child", "failed"): 1,
    }


def test_step_durations_count_the_steps_that_ran_in_the_window(store: RunStore) -> None:
    now = store.now()
    store.create_run(
        _run("recent", "wf"),
        [StepRecord(name=n, position=i) for i, n in enumerate(("fast", "slow", "skipped"))],
    )
    store.update_step("recent", _step("fast", StepStatus.SUCCEEDED, now - 1.0, now - 0.8))
    store.update_step("recent", _step("slow", StepStatus.FAILED, now - 9.0, now - 1.0))
    store.update_step("recent", _step("skipped", StepStatus.SKIPPED, now - 1.0, now - 1.0))
    store.set_run_status("recent", RunStatus.FAILED, finished_at=now)
    # a run that is still running counts its finished steps; one that ended before the
    # window does not count at all
    store.create_run(_run("active", "wf"), [StepRecord(name="fast", position=0)])
    store.update_step("active", _step("fast", StepStatus.SUCCEEDED, now - 0.5, now - 0.45))
    store.create_run(_run("old", "wf"), [StepRecord(name="fast", position=0)])
    store.update_step("old", _step("fast", StepStatus.SUCCEEDED, now - 7300, now - 7200))
    store.set_run_status("old", RunStatus.SUCCEEDED, finished_at=now - 7200)

    durations = store.browse().metrics(now - 3600).step_durations

    assert set(durations) == {("wf", "fast"), ("wf", "slow")}
    fast, slow = durations[("wf", "fast")], durations[("wf", "slow")]
    assert (fast.count, _bucket(fast.cumulative, 0.05), _bucket(fast.cumulative, 0.25)) == (2, 1, 2)
    assert fast.total == pytest.approx(0.25)
    assert (slow.count, _bucket(slow.cumulative, 5), _bucket(slow.cumulative, 10)) == (1, 0, 1)
    assert slow.total == pytest.approx(8.0)
    # the window decides: a longer one takes the old run's step in too
    assert store.browse().metrics(now - 8000).step_durations[("wf", "fast")].count == 3


def test_queues_show_waiting_running_and_waits(store: RunStore) -> None:
    before = store.now()
    for run_id in ("q1", "q2", "q3"):
        _enqueue(store, run_id, "wf", "heavy")
    claim = store.claim("heavy", _first)
    assert claim.claimed == ["q1"]
    assert store.mark_started("q1", AgentRef(4242, "h"), []) is not None

    reading = store.browse().metrics(before - 60)

    depth = reading.queues["heavy"]
    assert (depth.waiting, depth.running) == (2, 1)
    assert depth.oldest_enqueued_at is not None
    assert before - 1 <= depth.oldest_enqueued_at <= reading.now
    waits = reading.queue_waits["heavy"]
    assert waits.count == 1 and waits.total >= 0


def _first(state: Any) -> Any:
    claim = admit(state, declared=None)
    claim.claimed = claim.claimed[:1]
    return claim


def test_the_last_scheduled_fire_of_each_workflow_and_its_lag(store: RunStore) -> None:
    for run_id in ("nightly.20260101T050000Z", "nightly.20260102T050000Z", "nightly.by-hand"):
        _enqueue(store, run_id, "nightly", "n")
    # started by hand with a name that looks scheduled, but not queued by a scheduler
    store.create_run(_run("other.20260103T050000Z", "other"), [])
    now = store.now()

    scheduled = store.browse().metrics(now - 3600).scheduled

    assert set(scheduled) == {"nightly"}
    fire = scheduled["nightly"]
    assert fire.run_id == "nightly.20260102T050000Z"
    assert fire.due_at == calendar.timegm((2026, 1, 2, 5, 0, 0, 0, 0, 0))
    assert fire.lag == pytest.approx(fire.enqueued_at - fire.due_at)
    assert fire_time("nightly", "nightly.by-hand") is None
    assert fire_time("nightly", "nightly.20261399T050000Z") is None


def test_live_workers_show_their_slots_in_use(store: RunStore) -> None:
    for worker_id, slots in (("w1", 4), ("w2", 2)):
        store.register_worker(
            WorkerInfo(worker_id=worker_id, host=f"host-{worker_id}", pid=1, labels={"gpu": "true"},
                       slots=slots, version="test", started_at=0.0, heartbeat_at=0.0)
        )  # fmt: skip
    store.stop_worker("w2")  # a worker that takes no more runs is not counted
    _enqueue(store, "r", "wf", "q", selector={"gpu": "true"})
    if store.HAS_WORKERS:  # type: ignore[attr-defined]
        claimed = store.claim("q", partial(admit, declared=None))
        assert claimed.placed == {"r": "w1"}

    workers = store.browse().metrics(store.now() - 60).workers

    assert [(w.worker_id, w.host, w.slots) for w in workers] == [("w1", "host-w1", 4)]
    assert workers[0].busy == (1 if store.HAS_WORKERS else 0)  # type: ignore[attr-defined]


def test_the_scheduler_is_up_while_it_holds_its_lease(store: RunStore) -> None:
    now = store.now()
    assert store.browse().metrics(now - 60).scheduler_active is False
    store.acquire_lease("scheduler", "host:1", 30, now)
    assert store.browse().metrics(now - 60).scheduler_active is True
    store.release_lease("scheduler", "host:1")
    assert store.browse().metrics(now - 60).scheduler_active is False
