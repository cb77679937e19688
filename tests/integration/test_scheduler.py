"""The scheduler: cron fires, catch-up, overlap policies, skipIfSuccessful, start/stop/restart,
the lease (one active scheduler), the registry and history retention.

Most tests drive ``Scheduler.tick(now=...)`` with a controllable clock over the real SQLite
store, with a fake ``launch`` that records run ids (and, for ``finish``, plays an agent that
succeeds at once). The last ones run the real ``plait scheduler`` process.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plait.app import open_store
from plait.model import RunStatus
from plait.queue import enqueue_run, load_config
from plait.scheduler import Scheduler
from plait.scheduler.listing import schedule_listing
from plait.scheduler.service import LEASE_NAME, LEASE_TTL_SECONDS
from plait.spec import load_file
from plait.store import Home
from plait.store.base import RunStore
from plait.store.records import AgentRef
from tests.peek import Peek

ID_PATTERN = re.compile(r"^[a-z]+\.\d{8}T\d{6}Z$")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def rid(name: str, text: str) -> str:
    """The deterministic run id of a fire time given as ``2024-01-01T00:05:00`` (UTC)."""
    return f"{name}.{datetime.fromisoformat(text):%Y%m%dT%H%M%SZ}"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Launcher:
    """A fake ``launch``: records the ids; with ``finish``, the run succeeds at once."""

    def __init__(self, store: RunStore, finish: bool) -> None:
        self.store = store
        self.finish = finish
        self.ids: list[str] = []

    def __call__(self, run_id: str) -> None:
        self.ids.append(run_id)
        if self.finish:
            run = self.store.get_run(run_id)
            epoch = self.store.mark_started(run_id, AgentRef(os.getpid()), run.params)
            assert epoch is not None
            self.store.set_run_status(
                run_id, RunStatus.SUCCEEDED, epoch=epoch, finished_at=time.time()
            )


@pytest.fixture
def plait_home(home: Path) -> Iterator[Home]:
    h = Home.from_env()
    h.dags_dir.mkdir(parents=True)
    yield h


@pytest.fixture
def store(plait_home: Home) -> Iterator[RunStore]:
    s = open_store(plait_home)
    yield s
    s.close()


@pytest.fixture
def dag(plait_home: Home) -> Callable[[str, str], Path]:
    def _dag(name: str, text: str) -> Path:
        path = plait_home.dags_dir / f"{name}.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _dag


def scheduler(
    home: Home, store: RunStore, *, finish: bool = True, owner: str = "a", now: float = 0.0
) -> tuple[Scheduler, Launcher, Clock]:
    launcher = Launcher(store, finish)
    clock = Clock(now)
    return Scheduler(home, store, clock=clock, launch=launcher, owner=owner), launcher, clock


def status_of(store: RunStore, run_id: str) -> str:
    return str(store.get_run(run_id).status)


def five_minutes(name: str, extra: str = "") -> str:
    return f"""
    name: {name}
    schedule: "*/5 * * * *"
    {extra}
    steps:
      - name: a
        command: "true"
    """


# ----------------------------------------------------------------------- fires


def test_each_fire_time_enqueues_exactly_one_run_with_a_deterministic_id(
    plait_home: Home, store: RunStore, dag
) -> None:
    dag("five", five_minutes("five"))
    sched, launched, clock = scheduler(plait_home, store, now=ts("2024-01-01T00:02:00"))
    first = sched.tick()  # the injected clock
    assert first.active and first.enqueued == []

    at_five = sched.tick(now=ts("2024-01-01T00:05:00"))
    assert at_five.enqueued == [rid("five", "2024-01-01T00:05:00")] == ["five.20240101T000500Z"]
    assert at_five.launched == at_five.enqueued
    assert sched.tick(now=ts("2024-01-01T00:05:00")).enqueued == []  # same instant again
    assert sched.tick(now=ts("2024-01-01T00:07:30")).enqueued == []
    clock.now = ts("2024-01-01T00:10:01")
    assert sched.tick().enqueued == [rid("five", "2024-01-01T00:10:00")]

    # a new scheduler (a restart) at an instant already handled enqueues nothing again
    again, _, _ = scheduler(plait_home, store)
    assert again.tick(now=ts("2024-01-01T00:10:01")).enqueued == []
    runs = store.list_runs("five")
    assert sorted(r.run_id for r in runs) == [
        "five.20240101T000500Z",
        "five.20240101T001000Z",
    ]
    assert all(r.status is RunStatus.SUCCEEDED for r in runs)
    assert launched.ids == ["five.20240101T000500Z", "five.20240101T001000Z"]


def test_first_sight_of_a_workflow_does_not_catch_up_past_times(
    plait_home: Home, store: RunStore, dag
) -> None:
    dag("late", five_minutes("late", "catchupWindow: 1h\n    overlapPolicy: all"))
    sched, _, _ = scheduler(plait_home, store)
    assert sched.tick(now=ts("2024-01-01T00:12:00")).enqueued == []  # 00:00, :05, :10 passed
    assert sched.tick(now=ts("2024-01-01T00:15:00")).enqueued == [
        rid("late", "2024-01-01T00:15:00")
    ]


def test_catchup_window_runs_missed_times_only_that_far_back(
    plait_home: Home, store: RunStore, dag
) -> None:
    dag("caught", five_minutes("caught", "catchupWindow: 1h\n    overlapPolicy: all"))
    dag("plain", five_minutes("plain", "overlapPolicy: all"))
    dag(
        "offset",
        """
        name: offset
        schedule: "1-59/5 * * * *"
        overlapPolicy: all
        steps:
          - name: a
            command: "true"
        """,
    )
    sched, _, _ = scheduler(plait_home, store)
    assert sched.tick(now=ts("2024-01-01T00:00:30")).enqueued == []
    # the scheduler was down for two hours
    back = scheduler(plait_home, store)[0].tick(now=ts("2024-01-01T02:00:10"))
    caught = [r for r in back.enqueued if r.startswith("caught.")]
    expected = [
        rid("caught", f"2024-01-01T{h:02d}:{m:02d}:00")
        for h, m in [(1, m) for m in range(5, 60, 5)] + [(2, 0)]
    ]
    assert caught == expected  # 01:05 .. 02:00, in order; nothing before 01:00:10
    # without a window: only a time within the grace after a restart, nothing older
    assert [r for r in back.enqueued if not r.startswith("caught.")] == [
        rid("plain", "2024-01-01T02:00:00")
    ]
    assert store.list_runs("offset") == []  # 01:56 is older than the grace
    assert sched.tick(now=ts("2024-01-01T02:00:10")).enqueued == []


def test_catchup_with_overlap_skip_enqueues_one_run_not_a_backlog(
    plait_home: Home, store: RunStore, dag
) -> None:
    dag("busy", five_minutes("busy", "catchupWindow: 1h"))
    sched, _, _ = scheduler(plait_home, store, finish=False)
    sched.tick(now=ts("2024-01-01T00:00:30"))
    report = sched.tick(now=ts("2024-01-01T00:30:10"))
    assert report.enqueued == [rid("busy", "2024-01-01T00:05:00")]
    assert len(report.skipped) == 5


def test_every_missed_time_is_run_or_recorded_as_skipped_with_its_reason(
    plait_home: Home, store: RunStore, dag
) -> None:
    dag("busy", five_minutes("busy", "catchupWindow: 20m"))
    dag("plain", five_minutes("plain"))
    sched, _, _ = scheduler(plait_home, store, finish=False)
    sched.tick(now=ts("2024-01-01T00:00:30"))
    report = sched.tick(now=ts("2024-01-01T00:30:10"))
    assert report.enqueued == [
        rid("busy", "2024-01-01T00:15:00"),
        rid("plain", "2024-01-01T00:30:00"),
    ]
    skipped = dict(store.skips("busy", 20))
    # inside the window (from 00:10:10): run (00:15) or skipped while that run is active
    active = "overlapPolicy skip: a run of it was still active"
    assert [skipped[ts(f"2024-01-01T00:{m}:00")] for m in (20, 25, 30)] == [active] * 3
    # older than the window: missed, and said so
    for old in ("00:05", "00:10"):
        assert skipped[ts(f"2024-01-01T{old}:00")].startswith("missed: no scheduler was running")
        assert "catchupWindow 20m" in skipped[ts(f"2024-01-01T{old}:00")]
    assert len(skipped) == 5
    plain = dict(store.skips("plain", 20))
    assert set(plain) == {ts(f"2024-01-01T00:{m:02d}:00") for m in (5, 10, 15, 20, 25)}
    assert all("set catchupWindow" in why for why in plain.values())
    every = store.all_skips(3)  # the newest of each workflow, in one read
    assert every == {"busy": store.skips("busy", 3), "plain": store.skips("plain", 3)}
    listing = schedule_listing(plait_home, load_config(plait_home.config_file), 3, store)
    busy = next(e for e in listing if e["name"] == "busy")
    assert busy["skipped"][0] == {"fireAt": "2024-01-01T00:30:00.000Z", "reason": active}
    assert len(busy["skipped"]) == 5


def test_a_day_of_missed_minutes_is_each_run_or_recorded_and_the_first_one_runs(
    plait_home: Home, store: RunStore, dag, cli
) -> None:
    # 1,440 fire times in the window: the first 1,000 are acted on one by one (the first runs,
    # the rest are skipped while it is active), the 440 after them are one skip that counts
    # them; none vanishes without a word
    dag(
        "minutely",
        'name: minutely\nschedule: "* * * * *"\ncatchupWindow: 1d\n'
        "steps:\n  - name: a\n    command: 'true'\n",
    )
    sched, _, _ = scheduler(plait_home, store, finish=False)
    sched.tick(now=ts("2024-01-01T00:00:00"))
    report = sched.tick(now=ts("2024-01-02T00:00:00"))
    assert report.enqueued == [rid("minutely", "2024-01-01T00:01:00")]
    skips = store.skips("minutely", 2000)
    assert len(skips) == 1000
    times = [at for at, _ in skips]
    assert times == sorted(times, reverse=True)  # newest first
    active = "overlapPolicy skip: a run of it was still active"
    assert [why for at, why in skips if at < ts("2024-01-01T16:41:00")] == [active] * 999
    summary = dict(skips)[ts("2024-01-01T16:41:00")]
    assert summary.startswith("catchupWindow 1d holds more than 1,000 fire times")
    assert "up to 2024-01-02T00:00:00.000Z (440 in all) were not run" in summary
    assert 1 + 999 + 440 == 24 * 60
    # the same, as the CLI and the API show it
    listed = cli("schedule", "skipped", "minutely", "--limit", "2000", "--json")
    assert listed.code == 0, listed.err
    shown = json.loads(listed.out)
    assert len(shown) == 1000 and shown[0] == {
        "fireAt": "2024-01-01T16:41:00.000Z",
        "reason": summary,
    }
    text = cli("schedule", "skipped", "minutely", "--limit", "2").out.splitlines()
    assert text[0].startswith("2024-01-01T16:41:00.000Z  catchupWindow 1d holds")
    assert text[1] == f"2024-01-01T16:40:00.000Z  {active}"
    assert cli("schedule", "skipped", "minutely", "--limit", "0").code == 2
    for count in ("0", "-1", "three"):  # a count is a whole number of 1 or more
        refused = cli("schedule", "list", "--count", count)
        assert refused.code == 2 and "--count: must be" in refused.err, refused.err
    assert cli("history", "--limit", "-5").code == 2
    assert cli("schedule", "skipped", "nowhere").code != 0
    # a later look acts on what is new only
    assert sched.tick(now=ts("2024-01-02T00:01:00")).skipped == [
        rid("minutely", "2024-01-02T00:01:00")
    ]


def test_a_fire_time_that_cannot_be_enqueued_is_recorded_with_the_reason(
    plait_home: Home, store: RunStore, dag, cli, caplog: pytest.LogCaptureFixture
) -> None:
    path = dag(
        "needs",
        """
        name: needs
        schedule: "*/5 * * * *"
        params:
          - name: TARGET
            type: string
            required: true
        steps:
          - name: a
            command: echo ${TARGET}
        """,
    )
    checked = cli("validate", str(path))
    assert checked.code == 0
    assert "schedule: param TARGET is required, and a scheduled run is given no params" in (
        checked.err
    )
    caplog.set_level("INFO", logger="plait.scheduler")
    sched, _, _ = scheduler(plait_home, store)
    sched.tick(now=ts("2024-01-01T00:00:30"))
    report = sched.tick(now=ts("2024-01-01T00:05:05"))
    assert report.enqueued == [] and report.skipped == [rid("needs", "2024-01-01T00:05:00")]
    ((at, why),) = store.skips("needs")
    assert at == ts("2024-01-01T00:05:00")
    assert why.startswith("cannot enqueue: ") and "TARGET" in why and "required" in why
    # and the scheduler's log says it, as it does for every time it does not run
    logged = [r.getMessage() for r in caplog.records if r.name == "plait.scheduler"]
    assert f"workflow needs: 2024-01-01T00:05:00.000Z not run: {why}" in logged


def test_a_paused_schedule_skips_its_times_until_resumed_and_stays_paused(
    plait_home: Home, store: RunStore, dag, cli
) -> None:
    dag("nightly", five_minutes("nightly", "overlapPolicy: all"))
    sched, _, _ = scheduler(plait_home, store)
    sched.tick(now=ts("2024-01-01T00:00:30"))
    paused = cli("schedule", "pause", "nightly")
    assert paused.code == 0 and "paused" in paused.out
    assert cli("schedule", "pause", "nightly").out.strip().endswith("(it was paused already)")
    for verb in ("pause", "resume"):  # a workflow that is not there: an error, as in the API
        missing = cli("schedule", verb, "nowhere")
        assert missing.code == 1 and "nowhere" in missing.err and "not found" in missing.err
    # a restarted scheduler (a new object) still sees it paused: it is in the store
    sched, _, _ = scheduler(plait_home, store)
    report = sched.tick(now=ts("2024-01-01T00:05:05"))
    assert report.enqueued == [] and report.skipped == [rid("nightly", "2024-01-01T00:05:00")]
    assert store.skips("nightly") == [(ts("2024-01-01T00:05:00"), "the schedule is paused")]
    listed = json.loads(cli("schedule", "list", "--json").out)
    assert listed[0]["paused"] is True
    assert cli("schedule", "resume", "nightly").code == 0
    report = sched.tick(now=ts("2024-01-01T00:10:05"))
    assert report.enqueued == [rid("nightly", "2024-01-01T00:10:00")]
    assert store.list_runs("nightly")[0].run_id == rid("nightly", "2024-01-01T00:10:00")


def test_overlap_policies_skip_all_latest(plait_home: Home, store: RunStore, dag) -> None:
    dag("sk", five_minutes("sk"))  # skip is the default
    dag("al", five_minutes("al", "overlapPolicy: all"))
    dag("la", five_minutes("la", "overlapPolicy: latest"))
    sched, launched, _ = scheduler(plait_home, store, finish=False)  # runs stay running
    sched.tick(now=ts("2024-01-01T00:02:00"))
    sched.tick(now=ts("2024-01-01T00:05:00"))
    assert sorted(launched.ids) == sorted(rid(n, "2024-01-01T00:05:00") for n in ("sk", "al", "la"))
    ten = sched.tick(now=ts("2024-01-01T00:10:00"))
    fifteen = sched.tick(now=ts("2024-01-01T00:15:00"))

    assert rid("sk", "2024-01-01T00:10:00") in ten.skipped
    assert rid("sk", "2024-01-01T00:15:00") in fifteen.skipped
    assert [r.run_id for r in store.list_runs("sk")] == [rid("sk", "2024-01-01T00:05:00")]

    assert {r.run_id: str(r.status) for r in store.list_runs("al")} == {
        rid("al", "2024-01-01T00:05:00"): "running",
        rid("al", "2024-01-01T00:10:00"): "queued",
        rid("al", "2024-01-01T00:15:00"): "queued",
    }

    assert {r.run_id: str(r.status) for r in store.list_runs("la")} == {
        rid("la", "2024-01-01T00:05:00"): "running",  # a running one is left alone
        rid("la", "2024-01-01T00:10:00"): "cancelled",  # replaced by the newer one
        rid("la", "2024-01-01T00:15:00"): "queued",
    }
    replaced = store.get_run(rid("la", "2024-01-01T00:10:00"))
    assert rid("la", "2024-01-01T00:15:00") in (replaced.error or "")
    # nothing launched beyond the first runs: maxActiveRuns 1 holds for scheduled runs
    assert len(launched.ids) == 3


def test_skip_if_successful(plait_home: Home, store: RunStore, dag, cli) -> None:
    for name, extra in (("sis", "skipIfSuccessful: true"), ("always", "")):
        dag(
            name,
            f"""
            name: {name}
            schedule: "0 * * * *"
            overlapPolicy: all
            {extra}
            steps:
              - name: a
                command: "true"
            """,
        )
    if 3600 - time.time() % 3600 < 5:  # not right before a full hour
        time.sleep(3600 - time.time() % 3600 + 1)
    for name in ("sis", "always"):
        assert cli("start", "-q", name).code == 0
    started = time.time()
    fire = math.ceil(started / 3600) * 3600  # a success since the previous fire time
    sched, _, _ = scheduler(plait_home, store)
    sched.tick(now=started + 1)
    at_fire = sched.tick(now=fire)
    stamp = datetime.fromtimestamp(fire, UTC).strftime("%Y%m%dT%H%M%SZ")
    assert at_fire.skipped == [f"sis.{stamp}"]
    assert at_fire.enqueued == [f"always.{stamp}"]
    # the next hour: no success since the previous fire time (the manual run was before it)
    next_hour = sched.tick(now=fire + 3600)
    stamp2 = datetime.fromtimestamp(fire + 3600, UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"sis.{stamp2}" in next_hour.enqueued
    assert not store.run_exists(f"sis.{stamp}")


def test_start_stop_restart_map_form(plait_home: Home, store: RunStore, dag) -> None:
    path = dag(
        "svc",
        """
        name: svc
        schedule:
          start: "0 9 * * *"
          restart: "0 12 * * *"
          stop: "0 17 * * *"
        steps:
          - name: serve
            command: sleep 1000
        """,
    )
    sched, launched, _ = scheduler(plait_home, store, finish=False)
    sched.tick(now=ts("2024-01-01T08:00:00"))
    nine = sched.tick(now=ts("2024-01-01T09:00:00"))
    morning = rid("svc", "2024-01-01T09:00:00")
    assert nine.enqueued == [morning] and launched.ids == [morning]
    waiting = enqueue_run(store, load_file(path), run_id="svc-manual")
    assert status_of(store, waiting) == "queued"

    noon = sched.tick(now=ts("2024-01-01T12:00:00"))
    assert sorted(noon.stopped) == sorted([morning, waiting])
    assert morning in store.stop_requests()  # the running one is asked to stop
    assert status_of(store, waiting) == "cancelled"  # the queued one is dequeued
    restarted = rid("svc", "2024-01-01T12:00:00")
    assert noon.enqueued == [restarted]
    assert status_of(store, restarted) == "queued"  # waits for the old one to end

    # the old run's agent stops it: the restarted run starts
    epoch = store.mark_started(morning, AgentRef(os.getpid()), [])
    assert epoch is not None
    store.set_run_status(morning, RunStatus.CANCELLED, epoch=epoch, finished_at=time.time())
    assert sched.tick(now=ts("2024-01-01T12:00:05")).launched == [restarted]

    evening = sched.tick(now=ts("2024-01-01T17:00:00"))
    assert evening.stopped == [restarted]
    assert restarted in store.stop_requests()
    assert evening.enqueued == []


# ----------------------------------------------------------------------- the lease


def test_one_active_scheduler_and_standby_takeover_after_the_lease_expires(
    plait_home: Home, store: RunStore, dag
) -> None:
    dag(
        "sec",
        """
        name: sec
        schedule: "*/1 * * * * *"
        overlapPolicy: all
        maxActiveRuns: 100
        steps:
          - name: a
            command: "true"
        """,
    )
    other_store = open_store(plait_home)
    try:
        a, _, _ = scheduler(plait_home, store, owner="host:1")
        b, _, _ = scheduler(plait_home, other_store, owner="host:2")
        t = ts("2024-01-01T00:00:00")
        assert a.tick(now=t).active
        standby = b.tick(now=t + 0.5)
        assert not standby.active and standby.enqueued == [] and not b.active
        assert a.tick(now=t + 1).enqueued == [rid("sec", "2024-01-01T00:00:01")]
        assert b.tick(now=t + 1.5).enqueued == []
        assert store.lease(LEASE_NAME)[0] == "host:1"
        # a stops ticking (killed): b stays standby until the lease expires
        assert not b.tick(now=t + 1 + LEASE_TTL_SECONDS - 0.5).active
        takeover = b.tick(now=t + 1 + LEASE_TTL_SECONDS + 0.5)
        assert takeover.active
        owner, epoch, _ = store.lease(LEASE_NAME)
        assert owner == "host:2" and epoch == 2
        # the fire times nobody handled while a was gone are run once, by b
        assert takeover.enqueued == [
            rid("sec", f"2024-01-01T00:00:{s:02d}")
            for s in range(2, int(1 + LEASE_TTL_SECONDS) + 1)
        ]
        # a comes back: it is the standby now, and enqueues nothing
        back = a.tick(now=t + 8)
        assert not back.active and not a.active and back.enqueued == []
        ids = [r.run_id for r in store.list_runs("sec", limit=1000)]
        assert len(ids) == len(set(ids)) == int(1 + LEASE_TTL_SECONDS)
        with Peek(plait_home.root) as db:
            assert db.one("SELECT count(*) FROM leases") == 1
    finally:
        other_store.close()


def test_run_releases_the_lease_on_exit_so_the_standby_takes_over_at_once(
    plait_home: Home, store: RunStore
) -> None:
    other_store = open_store(plait_home)
    try:
        t = ts("2024-01-01T00:00:00")
        a, _, _ = scheduler(plait_home, store, owner="host:1", now=t)
        b, _, _ = scheduler(plait_home, other_store, owner="host:2")
        stopping = threading.Event()
        thread = threading.Thread(target=a.run, args=(stopping, 0.01))
        thread.start()
        try:
            deadline = time.monotonic() + 5
            while not a.active and time.monotonic() < deadline:
                time.sleep(0.01)
            assert a.active
            assert not b.tick(now=t + 0.1).active
        finally:
            stopping.set()
            thread.join(timeout=5)
        assert not thread.is_alive()
        assert store.lease(LEASE_NAME) is None
        assert b.tick(now=t + 0.2).active  # long before the TTL
    finally:
        other_store.close()


# ----------------------------------------------------------------------- registry


def test_added_changed_and_removed_workflow_files_are_noticed_between_ticks(
    plait_home: Home, store: RunStore, dag
) -> None:
    sched, _, _ = scheduler(plait_home, store)
    assert sched.tick(now=ts("2024-01-01T00:01:00")).enqueued == []
    path = dag("reg", five_minutes("reg"))  # added
    sched.tick(now=ts("2024-01-01T00:02:00"))
    assert sched.tick(now=ts("2024-01-01T00:05:00")).enqueued == [rid("reg", "2024-01-01T00:05:00")]
    path.write_text(path.read_text().replace('"*/5 * * * *"', '"*/10 * * * *"'))  # changed
    assert sched.tick(now=ts("2024-01-01T00:10:00")).enqueued == [rid("reg", "2024-01-01T00:10:00")]
    assert sched.tick(now=ts("2024-01-01T00:15:00")).enqueued == []
    path.write_text("name: reg\nschedule: [\nsteps: {}\n")  # broken: no longer scheduled
    dag("other", five_minutes("other"))
    report = sched.tick(now=ts("2024-01-01T00:20:00"))
    assert report.enqueued == []  # other: first sight
    assert [e.error for e in sched.registry.entries.values() if e.path == path] != [None]
    path.unlink()  # removed
    report = sched.tick(now=ts("2024-01-01T00:25:00"))
    assert report.enqueued == [rid("other", "2024-01-01T00:25:00")]
    assert path not in sched.registry.entries


# ----------------------------------------------------------------------- retention


def test_retention_deletes_old_finished_runs_with_children_steps_and_logs(
    plait_home: Home, store: RunStore, dag, cli
) -> None:
    dag(
        "old",
        """
        name: old
        histRetentionDays: 1
        maxActiveRuns: 5
        steps:
          - name: call
            run: kid
        """,
    )
    dag("kid", "name: kid\nsteps:\n  - name: a\n    command: echo kid\n")
    dag(
        "keep",
        "name: keep\nhistRetentionRuns: 2\nsteps:\n  - name: a\n    command: echo keep\n",
    )
    for _ in range(2):
        assert cli("start", "-q", "old").code == 0
    for _ in range(4):
        assert cli("start", "-q", "keep").code == 0
    old_runs = [store.get_run(r.run_id) for r in store.list_runs("old")]
    children = [c.run_id for r in old_runs for c in r.children]
    assert len(children) == 2
    child_logs = [store.get_run(c).log_dir for c in children]
    keep_runs = store.list_runs("keep")  # newest first
    logs = [r.log_dir for r in old_runs + keep_runs] + child_logs
    assert all(log and Path(log).is_dir() for log in logs)
    active = enqueue_run(store, load_file(plait_home.dags_dir / "old.yaml"), run_id="old-active")

    sched, _, _ = scheduler(plait_home, store, finish=False)
    report = sched.tick(now=time.time() + 3 * 86400)
    deleted = set(report.deleted)
    assert deleted == {r.run_id for r in old_runs} | {r.run_id for r in keep_runs[2:]}
    for run_id in [*deleted, *children]:
        assert store.find_run(run_id) is None
    with Peek(plait_home.root) as db:
        gone = [*deleted, *children]
        marks = ",".join("?" * len(gone))
        assert db.one(f"SELECT count(*) FROM steps WHERE run_id IN ({marks})", *gone) == 0
    for run in old_runs + keep_runs[2:]:
        assert not Path(run.log_dir).exists()
    for log in child_logs:
        assert not Path(log).exists()
    for run in keep_runs[:2]:
        assert store.find_run(run.run_id) is not None and Path(run.log_dir).is_dir()
    assert store.find_run(active) is not None  # active: never deleted
    assert str(store.get_run(active).status) in ("queued", "running")


# ----------------------------------------------------------------------- the real process


def _scheduler_process(home: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "plait", "scheduler"],
            stdout=out,
            stderr=out,
            env={**os.environ, "PLAIT_HOME": str(home)},
        )


def _lease_rows(home: Path) -> list[tuple[str, int, float]]:
    try:
        with Peek(home) as db:
            return [tuple(row) for row in db.rows("SELECT owner, epoch, expires_at FROM leases")]  # type: ignore[misc]
    except Exception:  # the store is not made yet
        return []


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def _settle(home: Path, timeout: float = 15) -> None:
    """Wait until the agents the scheduler launched have finished their runs."""

    def done() -> bool:
        with Peek(home) as db:
            return db.one("SELECT count(*) FROM runs WHERE status IN ('queued','running')") == 0

    _wait(done, timeout, "the runs to finish")


TICK_EVERY_SECOND = """
name: tick
schedule: "*/1 * * * * *"
steps:
  - name: mark
    command: sh -c 'echo "$PLAIT_RUN_ID" >> {marks}'
"""


def test_real_scheduler_standby_takes_over_after_kill_9(
    plait_home: Home, tmp_path: Path, cli
) -> None:
    """An every-second schedule run by the real process: each time once; a second scheduler
    stays standby (one lease row) until the active one is killed -9; then it takes over."""
    marks = tmp_path / "marks.txt"
    (plait_home.dags_dir / "tick.yaml").write_text(TICK_EVERY_SECOND.format(marks=marks))
    listing = cli("schedule", "list", "--json")
    assert listing.code == 0, listing.err
    (entry,) = json.loads(listing.out)
    assert entry["name"] == "tick" and entry["schedule"] == ["*/1 * * * * *"]
    nexts = [_epoch(n) for n in entry["next"]]
    assert [b - a for a, b in itertools.pairwise(nexts)] == [1.0, 1.0]
    assert nexts[0] > time.time() - 1
    first = _scheduler_process(plait_home.root, tmp_path / "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        _wait(lambda: _lease_rows(plait_home.root), 10, "the first scheduler's lease")
        assert _lease_rows(plait_home.root)[0][0].endswith(f":{first.pid}")
        second = _scheduler_process(plait_home.root, tmp_path / "second.log")
        time.sleep(1.5)
        rows = _lease_rows(plait_home.root)
        assert len(rows) == 1 and rows[0][0].endswith(f":{first.pid}")  # second: standby
        assert second.poll() is None

        first.kill()  # kill -9
        first.wait(timeout=5)
        killed = time.time()
        _wait(
            lambda: (
                _lease_rows(plait_home.root)[0][0].endswith(f":{second.pid}")
                if _lease_rows(plait_home.root)
                else False
            ),
            LEASE_TTL_SECONDS + 4,
            "the standby to take over",
        )
        took_over = time.time()

        def ran_after_takeover() -> bool:
            runs = json.loads(cli("history", "tick", "--json", "--limit", "100").out)
            return any(
                r["status"] == "succeeded"
                and datetime.strptime(r["runId"].split(".")[1], "%Y%m%dT%H%M%SZ")
                .replace(tzinfo=UTC)
                .timestamp()
                > took_over
                for r in runs
            )

        _wait(ran_after_takeover, 6, "a run started by the new active scheduler")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
        assert _lease_rows(plait_home.root) == []  # released on exit
        assert took_over - killed <= LEASE_TTL_SECONDS + 3
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
    _settle(plait_home.root)
    runs = json.loads(cli("history", "tick", "--json", "--limit", "100").out)
    lines = marks.read_text().split()
    assert len(runs) >= 2 and all(ID_PATTERN.match(r["runId"]) for r in runs)
    seconds = sorted(
        datetime.strptime(r["runId"].split(".")[1], "%Y%m%dT%H%M%SZ").timestamp() for r in runs
    )
    assert all(b - a == 1 for a, b in itertools.pairwise(seconds)), seconds  # none skipped
    assert len(lines) == len(set(lines))  # no time ran twice
    assert sorted(lines) == sorted(r["runId"] for r in runs if r["status"] == "succeeded")
    assert {r["status"] for r in runs} <= {"succeeded", "cancelled", "failed"}
