"""Queues and maxActiveRuns: for ``plait start``, enqueued runs, retry; named queues with and
without config; FIFO; enqueue/dequeue/queue list; child runs; malformed config.yaml.

Real CLI, real subprocesses (``plait start`` in the background, ``plait scheduler``), real SQLite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment (an end before a start at the same instant)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = now = 0
    for _, delta in events:
        now += delta
        best = max(best, now)
    return best


def run_intervals(runs: list[dict]) -> list[tuple[float, float]]:  # type: ignore[type-arg]
    return [(_epoch(r["startedAt"]), _epoch(r["finishedAt"])) for r in runs]


def start_background(path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", *args, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def scheduler_process(log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "plait", "scheduler"], stdout=out, stderr=out
        )


def stop_process(process: subprocess.Popen) -> int:  # type: ignore[type-arg]
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=10)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def history(cli, name: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    result = cli("history", name, "--json", "--limit", "200")
    if "no runs yet" in result.err:
        return []
    assert result.code == 0, result.err
    return json.loads(result.out)


def status(cli, run_id: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    result = cli("status", "--run-id", run_id, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def running(cli, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["runId"] for r in history(cli, name) if r["status"] == "running"]


def sleeper(name: str, seconds: float, extra: str = "") -> str:
    return f"name: {name}\n{extra}steps:\n  - name: work\n    command: sleep {seconds}\n"


# ----------------------------------------------------------------------- plait start


def test_start_waits_for_max_active_runs_and_says_why(cli, write) -> None:
    # maxActiveRuns: 1 by default; the first run lasts long enough that the second, a new
    # process on a busy machine, finds it still running
    path = write("solo.yaml", sleeper("solo", 4.0))
    first = start_background(path)
    try:
        wait_for(lambda: running(cli, "solo"), 10, "the first run")
        refused = cli("start", "-q", "--no-wait", path)
        assert refused.code == 6, refused.err
        assert "not started" in refused.err and "maxActiveRuns 1 of solo" in refused.err
        second = start_background(path)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert "plait: waiting to start: maxActiveRuns 1 of solo" in err
        assert first.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    runs = [r for r in history(cli, "solo") if r["status"] == "succeeded"]
    assert len(runs) == 2
    assert max_overlap(run_intervals(runs)) == 1
    # the refused run is not waiting anywhere
    assert all(r["status"] != "queued" for r in history(cli, "solo"))
    listing = cli("queue", "list", "--json")
    assert listing.code == 0 and json.loads(listing.out) == []


def test_retry_waits_for_max_active_runs(cli, write, tmp_path: Path) -> None:
    path = write(
        "flaky.yaml",
        """
        name: flaky
        steps:
          - name: work
            command: sh -c 'if [ -f ok ]; then sleep 1; else touch ok; exit 1; fi'
        """,
    )
    failed = cli("start", "-q", path)
    assert failed.code == 1
    failed_id = history(cli, "flaky")[0]["runId"]
    other = start_background(path)  # succeeds, sleeping 1 s
    try:
        wait_for(lambda: running(cli, "flaky"), 10, "the second run")
        retried = subprocess.run(
            [sys.executable, "-m", "plait", "retry", "-q", "--run-id", failed_id],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert retried.returncode == 0, retried.stderr
        assert other.wait(timeout=10) == 0
    finally:
        if other.poll() is None:
            other.kill()
    runs = history(cli, "flaky")
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    retry = status(cli, failed_id)
    other_run = next(r for r in runs if r["runId"] != failed_id)
    # the retry started only once the other run had finished
    assert _epoch(retry["steps"][0]["startedAt"]) >= _epoch(other_run["finishedAt"]) - 0.05


def test_the_specs_heavy_jobs_queue_allows_two_without_config(cli, write) -> None:
    path = write(
        "heavy.yaml",
        """
        name: queue-managed-workflow
        queue: heavy-jobs       # Assign to specific queue
        maxActiveRuns: 2        # Queue allows 2 concurrent
        steps:
          - name: resource-heavy
            command: sleep 1
          - name: light-task
            command: echo "Quick task"
        """,
    )
    processes = [start_background(path) for _ in range(4)]
    try:
        for process in processes:
            _, err = process.communicate(timeout=30)
            assert process.returncode == 0, err
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    runs = history(cli, "queue-managed-workflow")
    assert len(runs) == 4 and all(r["status"] == "succeeded" for r in runs)
    assert max_overlap(run_intervals(runs)) == 2


def test_workflows_sharing_a_declared_queue_never_overlap(cli, write, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("queues:\n  - name: shared\n    maxConcurrency: 1\n")
    a = write("a.yaml", sleeper("wa", 0.6, "queue: shared\nmaxActiveRuns: 3\n"))
    b = write("b.yaml", sleeper("wb", 0.6, "queue: shared\nmaxActiveRuns: 3\n"))
    processes = [start_background(p) for p in (a, b, a, b)]
    try:
        for process in processes:
            _, err = process.communicate(timeout=30)
            assert process.returncode == 0, err
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    runs = history(cli, "wa") + history(cli, "wb")
    assert len(runs) == 4 and all(r["status"] == "succeeded" for r in runs)
    assert max_overlap(run_intervals(runs)) == 1


def test_a_run_needs_room_in_both_its_queue_and_its_workflow(cli, write, home: Path) -> None:
    """A queue of 3 does not let a workflow with maxActiveRuns 1 run twice at once, and an
    undeclared queue shared with a maxActiveRuns-2 workflow does not either."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("queues:\n  - name: wide\n    maxConcurrency: 3\n")
    one = write("one.yaml", sleeper("one", 0.6, "queue: wide\n"))
    pair = write("pair.yaml", sleeper("pair", 0.6, "queue: undeclared\nmaxActiveRuns: 2\n"))
    single = write("single.yaml", sleeper("single", 0.6, "queue: undeclared\n"))
    processes = [start_background(p) for p in (one, one, one, single, pair, single)]
    try:
        for process in processes:
            _, err = process.communicate(timeout=30)
            assert process.returncode == 0, err
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert max_overlap(run_intervals(history(cli, "one"))) == 1
    assert max_overlap(run_intervals(history(cli, "single"))) == 1
    assert max_overlap(run_intervals(history(cli, "single") + history(cli, "pair"))) <= 2


# ----------------------------------------------------------------------- enqueue + scheduler


def test_enqueue_queue_list_dequeue_and_fifo_dispatch_by_the_scheduler(
    cli, write, tmp_path: Path, home: Path
) -> None:
    marks = tmp_path / "order.txt"
    path = write(
        "fifo.yaml",
        f"""
        name: fifo
        steps:
          - name: work
            command: sh -c 'echo "$PLAIT_RUN_ID" >> {marks}; sleep 0.3'
        """,
    )
    # before any run there is no store: no queue runs or waits, which is no error
    empty = cli("queue", "list", "--json")
    assert (empty.code, json.loads(empty.out)) == (0, []), empty.err
    assert cli("queue", "list").out.strip() == "no runs are running or waiting"
    ids = []
    for _ in range(3):
        result = cli("enqueue", path)
        assert result.code == 0, result.err
        ids.append(result.out.strip())
    assert len(set(ids)) == 3 and all(ids)
    named = cli("enqueue", "--run-id", "fifo-named", path)
    assert named.code == 0 and named.out.strip() == "fifo-named"
    ids.append("fifo-named")
    assert cli("enqueue", "--run-id", "fifo-named", path).code != 0  # ids are unique

    listing = cli("queue", "list", "--json")
    assert listing.code == 0, listing.err
    (queue,) = json.loads(listing.out)
    assert queue["name"] == "fifo" and queue["capacity"] == 1 and queue["running"] == 0
    assert queue["waiting"] == ids
    assert [r["position"] for r in queue["runs"]] == [1, 2, 3, 4]
    assert queue["runs"][0]["reason"] == "waiting for the scheduler to start it"
    assert queue["runs"][1]["reason"] == f"behind run {ids[0]}"
    text = cli("queue", "list")
    assert "fifo  0/1 running, 4 waiting" in text.out

    dropped = ids.pop(2)
    result = cli("dequeue", "--run-id", dropped)
    assert result.code == 0 and "dequeued" in result.out
    assert status(cli, dropped)["status"] == "cancelled"
    assert cli("dequeue", "--run-id", dropped).code == 1  # not queued any more

    scheduler = scheduler_process(tmp_path / "scheduler.log")
    try:
        wait_for(lambda: running(cli, "fifo"), 15, "the scheduler to start a run")
        busy = running(cli, "fifo")[0]
        refused = cli("dequeue", "--run-id", busy)
        assert refused.code == 1 and "running" in refused.err
        wait_for(
            lambda: all(status(cli, i)["status"] == "succeeded" for i in ids),
            30,
            "every enqueued run",
        )
    finally:
        stop_process(scheduler)
    assert marks.read_text().split() == ids  # FIFO, each once, the dequeued one never
    runs = [r for r in history(cli, "fifo") if r["runId"] in ids]
    assert max_overlap(run_intervals(runs)) == 1  # maxActiveRuns 1 for scheduled runs too


def test_a_foreground_start_and_scheduled_runs_share_max_active_runs(
    cli, write, tmp_path: Path
) -> None:
    path = write("mixed.yaml", sleeper("mixed", 0.8, "maxActiveRuns: 2\n"))
    for _ in range(3):
        assert cli("enqueue", path).code == 0
    scheduler = scheduler_process(tmp_path / "scheduler.log")
    foreground = start_background(path)
    try:
        _, err = foreground.communicate(timeout=30)
        assert foreground.returncode == 0, err
        wait_for(
            lambda: len([r for r in history(cli, "mixed") if r["status"] == "succeeded"]) == 4,
            30,
            "all four runs",
        )
    finally:
        stop_process(scheduler)
        if foreground.poll() is None:
            foreground.kill()
    assert max_overlap(run_intervals(history(cli, "mixed"))) == 2


# ----------------------------------------------------------------------- children


def test_child_runs_do_not_count_against_max_active_runs(cli, write, tmp_path: Path) -> None:
    path = write(
        "fan.yaml",
        """
        name: fan
        maxActiveRuns: 1
        steps:
          - name: fan
            run: leaf
            parallel:
              items: [1, 2, 3]
              maxConcurrent: 3
        ---
        name: leaf
        maxActiveRuns: 1
        steps:
          - name: work
            command: sleep 1.5
        """,
    )
    leaf = write("leaf.yaml", "name: leaf\nsteps:\n  - name: work\n    command: 'true'\n")
    parent = start_background(path)
    try:

        def children_running() -> bool:
            runs = history(cli, "fan")
            if not runs:
                return False
            record = status(cli, runs[0]["runId"])
            return sum(c["status"] == "running" for c in record["children"]) == 3

        wait_for(children_running, 15, "three children running at once")
        # a root run of the same workflow is not held back by the children either
        direct = cli("start", "-q", "--no-wait", leaf)
        assert direct.code == 0, direct.err
        _, err = parent.communicate(timeout=30)
        assert parent.returncode == 0, err
    finally:
        if parent.poll() is None:
            parent.kill()
    record = status(cli, history(cli, "fan")[0]["runId"])
    children = record["children"]
    assert len(children) == 3 and all(c["status"] == "succeeded" for c in children)
    assert max_overlap(run_intervals(children)) == 3


# ----------------------------------------------------------------------- bad config


BAD_CONFIG = """\
queues:
  - name: ok
    maxConcurrency: 2
  - name: negative
    maxConcurrency: -1
  - name: typo
    maxConcurency: 2
timezone: Mars/Olympus
colour: blue
"""


def test_malformed_config_is_reported_with_file_and_line(cli, write, home: Path, tmp_path: Path):
    path = write("w.yaml", "name: w\nsteps:\n  - name: a\n    command: 'true'\n")
    assert cli("start", "-q", path).code == 0  # a store exists
    config = home / "config.yaml"
    config.write_text(BAD_CONFIG)
    expected = [
        f"{config}:5: queues[1].maxConcurrency: must be a whole number >= 1",
        f"{config}:7: queues[2].maxConcurency: unknown key `maxConcurency`",
        f"{config}:8: timezone: unknown timezone `Mars/Olympus`",
        f"{config}:9: colour: unknown key `colour`",
    ]
    listing = cli("queue", "list")
    assert listing.code == 1
    for line in expected:
        assert line in listing.err
    assert "Traceback" not in listing.err

    log = tmp_path / "scheduler.log"
    scheduler = scheduler_process(log)
    try:
        wait_for(lambda: "config.yaml" in log.read_text(), 10, "the scheduler to complain")
        time.sleep(0.3)
    finally:
        stop_process(scheduler)
    text = log.read_text()
    for line in expected:
        assert line in text
    assert "Traceback" not in text


def test_start_with_a_malformed_config_leaves_nothing_waiting(cli, write, home: Path) -> None:
    path = write("w.yaml", "name: w\nsteps:\n  - name: a\n    command: 'true'\n")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.yaml"
    config.write_text("queues:\n  - name: w\n    maxConcurrency: -1\n")
    refused = cli("start", "-q", path)
    assert refused.code == 1
    assert f"{config}:3: queues[0].maxConcurrency" in refused.err
    config.unlink()
    # the refused start must not hold a place in the queue of w
    done = subprocess.run(
        [sys.executable, "-m", "plait", "start", "-q", "--no-wait", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("value", ["-3", "two", "1.5"])
def test_max_active_runs_must_be_a_positive_whole_number(cli, write, value: str) -> None:
    path = write(
        "neg.yaml", f"name: neg\nmaxActiveRuns: {value}\nsteps:\n  - name: a\n    command: 'true'\n"
    )
    result = cli("validate", path)
    assert result.code == 1
    assert f"{path}:2: maxActiveRuns" in result.err


def test_a_killed_waiting_start_does_not_block_a_no_wait_start(cli, write) -> None:
    path = write("hold.yaml", sleeper("hold", 1.0))
    first = start_background(path)
    try:
        wait_for(lambda: running(cli, "hold"), 10, "the first run")
        waiter = start_background(path)
        wait_for(
            lambda: any(r["status"] == "queued" for r in history(cli, "hold")),
            10,
            "the second start to wait",
        )
        os.kill(waiter.pid, signal.SIGKILL)
        waiter.wait(timeout=5)
        assert first.wait(timeout=10) == 0
        third = subprocess.run(
            [sys.executable, "-m", "plait", "start", "-q", "--no-wait", str(path)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert third.returncode == 0, third.stderr
    finally:
        if first.poll() is None:
            first.kill()


def test_a_paused_queue_holds_its_runs_across_restarts_until_resumed(cli, write, home) -> None:
    from plait.app import open_store
    from plait.queue import dispatch, load_config
    from plait.store import Home

    source = write("held.yaml", "name: held\nqueue: batch\nsteps:\n  - command: 'true'\n")
    assert cli("queue", "pause", "batch").code == 0
    refused = cli("start", source, "--no-wait")
    assert refused.code == 6 and "queue batch is paused" in refused.err, refused.err
    queued = cli("enqueue", source)
    assert queued.code == 0, queued.err
    run_id = queued.out.split()[-1]
    plait_home = Home.from_env()
    store = open_store(plait_home)  # a new process's view: the pause is in the store
    try:
        launched: list[str] = []
        config = load_config(plait_home.config_file)
        assert dispatch(store, config, launched.append, queues=["batch"]) == []
        listing = json.loads(cli("queue", "list", "--json").out)
        batch = next(q for q in listing if q["name"] == "batch")
        assert batch["paused"] is True and batch["pausedAt"]
        assert batch["runs"][0]["reason"] == "queue batch is paused"
        assert "PAUSED" in cli("queue", "list").out
        assert cli("queue", "resume", "batch").code == 0
        assert dispatch(store, config, launched.append, queues=["batch"]) == [run_id]
    finally:
        store.close()


def test_priorities_order_a_queue_and_the_workflow_gives_the_default(cli, write, home) -> None:
    from plait.app import open_store
    from plait.model import RunStatus
    from plait.queue import dispatch, load_config
    from plait.store import Home

    plain = write("plain.yaml", "name: plain\nqueue: shared\nsteps:\n  - command: 'true'\n")
    urgent = write(
        "urgent.yaml", "name: urgent\nqueue: shared\npriority: 7\nsteps:\n  - command: 'true'\n"
    )
    assert cli("queue", "pause", "shared").code == 0  # hold them while they are queued
    ids = {}
    for key, source, extra in (
        ("first", plain, ()),
        ("second", plain, ("--priority", "3")),
        ("urgent", urgent, ()),
        ("last", plain, ()),
    ):
        done = cli("enqueue", source, *extra)
        assert done.code == 0, done.err
        ids[key] = done.out.split()[-1]
    listing = json.loads(cli("queue", "list", "--json").out)
    shared = next(q for q in listing if q["name"] == "shared")
    order = [r["runId"] for r in shared["runs"]]
    assert order == [ids["urgent"], ids["second"], ids["first"], ids["last"]]
    assert [r["priority"] for r in shared["runs"]] == [7, 3, 0, 0]
    text = cli("queue", "list").out
    assert f"#1       urgent  run {ids['urgent']}  priority 7" in text, text
    assert f"run {ids['first']}  (" in text  # priority 0 goes unsaid
    assert cli("queue", "resume", "shared").code == 0
    plait_home = Home.from_env()
    store = open_store(plait_home)
    try:
        started: list[str] = []
        config = load_config(plait_home.config_file)
        while len(started) < 4:  # one slot (maxActiveRuns 1): one run a dispatch
            launched = dispatch(store, config, lambda run_id: None, queues=["shared"])
            assert len(launched) == 1, launched
            started.extend(launched)
            # it ends at once: its slot frees for the next
            store.set_run_status(launched[0], RunStatus.SUCCEEDED, finished_at=store.now())
        assert started == [ids["urgent"], ids["second"], ids["first"], ids["last"]]
    finally:
        store.close()


# ----------------------------------------------------------------------- priorities


def _marker(name: str, marks: Path, extra: str = "") -> str:
    """A workflow whose one step writes its run's id to ``marks``: the order runs started."""
    return (
        f"name: {name}\n{extra}steps:\n  - name: mark\n"
        f"    command: sh -c 'echo \"$PLAIT_RUN_ID\" >> {marks}'\n"
    )


def _queue_of(listing: list[dict], name: str) -> dict | None:  # type: ignore[type-arg]
    return next((q for q in listing if q["name"] == name), None)


def test_the_api_orders_a_queue_by_priority_and_starts_the_runs_in_that_order(
    home: Path, tmp_path: Path
) -> None:
    """A real ``plait start-all`` (the server and its scheduler): runs put in a paused queue
    of one slot through ``/enqueue`` and ``/start`` with ``{"priority": N}`` are listed by
    ``GET /api/v1/queues`` highest first (first come first served within a priority), each
    with its priority, and start in that order once the queue is resumed. A priority out of
    range is a 422 naming priority, in the body or in the workflow file, and leaves nothing
    waiting."""
    import httpx

    from plait.spec.priority import PRIORITY_MAX, PRIORITY_MIN
    from tests.servers import plait_server

    dags, marks = tmp_path / "dags", tmp_path / "api-order.txt"
    dags.mkdir()
    (dags / "api-plain.yaml").write_text(_marker("api-plain", marks, "queue: api-prio\n"))
    (dags / "api-urgent.yaml").write_text(
        _marker("api-urgent", marks, "queue: api-prio\npriority: 7\n")
    )
    (dags / "api-too-high.yaml").write_text(
        _marker("api-too-high", marks, f"queue: api-prio\npriority: {PRIORITY_MAX + 1}\n")
    )
    with plait_server(tmp_path, dags, command="start-all", timeout=60) as (url, _):
        client = httpx.Client(base_url=url, headers={"X-Plait-Request": "1"}, timeout=30)
        try:
            paused = client.post("/api/v1/queues/api-prio/pause")
            assert paused.status_code == 200 and paused.json()["paused"] is True, paused.text

            def put(name: str, verb: str, body: dict) -> str:  # type: ignore[type-arg]
                done = client.post(f"/api/v1/workflows/{name}/{verb}", json=body)
                assert done.status_code == 202, done.text
                assert done.json()["status"] == "queued"
                return str(done.json()["runId"])

            first = put("api-plain", "enqueue", {})  # the workflow's priority: 0
            second = put("api-plain", "enqueue", {"priority": 3})
            urgent = put("api-urgent", "start", {})  # the workflow's priority: 7
            third = put("api-plain", "start", {"priority": 3})  # after second: same priority
            floor = put("api-plain", "enqueue", {"priority": PRIORITY_MIN})
            top = put("api-plain", "enqueue", {"priority": PRIORITY_MAX})
            expected = [top, urgent, second, third, first, floor]

            for verb in ("enqueue", "start"):
                for value in (PRIORITY_MAX + 1, PRIORITY_MIN - 1, 10**30, True, "5", 2.5):
                    refused = client.post(
                        f"/api/v1/workflows/api-plain/{verb}", json={"priority": value}
                    )
                    assert refused.status_code == 422, refused.text
                    assert "priority" in refused.json()["error"], refused.text
                    assert [d["where"] for d in refused.json()["details"]] == ["body.priority"]
                from_file = client.post(f"/api/v1/workflows/api-too-high/{verb}", json={})
                assert from_file.status_code == 422, from_file.text
                (problem,) = from_file.json()["problems"]
                assert problem["field"] == "priority" and problem["line"] == 3
                assert problem["file"].endswith("api-too-high.yaml")
                assert f"between {PRIORITY_MIN} and {PRIORITY_MAX}" in problem["message"]

            # the API's bounds are the one rule's (plait.spec.priority)
            spec = client.get("/api/openapi.json").json()
            field = spec["components"]["schemas"]["StartBody"]["properties"]["priority"]
            number = next(s for s in field["anyOf"] if s.get("type") == "integer")
            assert (number["minimum"], number["maximum"]) == (PRIORITY_MIN, PRIORITY_MAX)

            held = _queue_of(client.get("/api/v1/queues").json()["queues"], "api-prio")
            assert held is not None and held["paused"] is True and held["capacity"] == 1
            assert held["waiting"] == expected  # the refused requests left nothing
            assert [r["runId"] for r in held["runs"]] == expected
            assert [r["priority"] for r in held["runs"]] == [PRIORITY_MAX, 7, 3, 3, 0, PRIORITY_MIN]
            assert [r["position"] for r in held["runs"]] == [1, 2, 3, 4, 5, 6]
            assert all(r["reason"] == "queue api-prio is paused" for r in held["runs"])

            resumed = client.post("/api/v1/queues/api-prio/resume")
            assert resumed.status_code == 200 and resumed.json()["paused"] is False

            def all_done() -> bool:
                runs = [client.get(f"/api/v1/runs/{r}").json() for r in expected]
                assert all(r["status"] in ("queued", "running", "succeeded") for r in runs), runs
                return all(r["status"] == "succeeded" for r in runs)

            wait_for(all_done, 120, "every run to start and succeed")
        finally:
            client.close()
    assert marks.read_text().split() == expected


def test_start_with_priority_goes_ahead_of_an_older_waiting_start(
    cli, write, tmp_path: Path
) -> None:
    """``plait start --priority 9`` waiting behind a paused queue is listed, and started,
    before a ``plait start`` of the default priority that has waited longer."""
    marks = tmp_path / "cli-order.txt"
    path = write("cli-prio.yaml", _marker("cli-prio", marks))
    assert cli("queue", "pause", "cli-prio").code == 0

    def waiting(count: int) -> dict | None:  # type: ignore[type-arg]
        queue = _queue_of(json.loads(cli("queue", "list", "--json").out), "cli-prio")
        return queue if queue is not None and len(queue["waiting"]) == count else None

    older = start_background(path)
    newer = None
    try:
        wait_for(lambda: waiting(1), 30, "the first start to wait in its queue")
        newer = start_background(path, "--priority", "9")
        held = wait_for(lambda: waiting(2), 30, "the second start to wait in its queue")
        assert isinstance(held, dict)
        assert [r["priority"] for r in held["runs"]] == [9, 0]
        high, low = held["waiting"]
        assert cli("queue", "resume", "cli-prio").code == 0
        for process in (newer, older):
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
    finally:
        for process in (older, newer):
            if process is not None and process.poll() is None:
                process.kill()
    assert marks.read_text().split() == [high, low]
    assert status(cli, high)["status"] == status(cli, low)["status"] == "succeeded"


def test_an_old_low_priority_run_ages_past_a_steady_stream_through_the_store(
    write, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real store and the real enqueue, dispatch and listing code, on a controlled clock
    (the store's own): a run of priority 0 waits in a queue of one slot while a run of
    priority 3 arrives every 10 s and each takes the slot as it frees. The old run goes next
    once it has waited 3 ageing periods, and not before; the stream then goes on."""
    from plait.app import open_store
    from plait.model import RunStatus
    from plait.queue import dispatch, enqueue_run, load_config
    from plait.queue.admission import AGEING_SECONDS
    from plait.queue.listing import queue_listing
    from plait.spec import load_file
    from plait.store import Home

    gap, every = 3, 10.0
    low = load_file(write("low.yaml", "name: low\nqueue: stream\nsteps:\n  - command: 'true'\n"))
    high = load_file(
        write(
            "high.yaml",
            f"name: high\nqueue: stream\npriority: {gap}\nsteps:\n  - command: 'true'\n",
        )
    )
    plait_home = Home.from_env()
    store = open_store(plait_home)
    try:
        config = load_config(plait_home.config_file)
        start = store.now()
        clock = [start]
        monkeypatch.setattr(store, "_now", lambda: clock[0])  # enqueue and claim read it
        low_id = enqueue_run(store, low)
        stream: list[str] = []
        started: list[tuple[str, float]] = []  # (run, seconds after the old run came)
        for turn in range(int(gap * AGEING_SECONDS / every) + 5):
            clock[0] = start + turn * every
            stream.append(enqueue_run(store, high))
            (queue,) = queue_listing(store, config)
            head = queue["runs"][0]["runId"]
            launched = dispatch(store, config, lambda run_id: None, queues=["stream"])
            assert launched == [head]  # the listing's order is the order runs start in
            started.append((head, clock[0] - start))
            # it ends at once: the slot frees for the next turn
            store.set_run_status(head, RunStatus.SUCCEEDED, finished_at=store.now())
            if head == low_id:
                break
        assert started[-1][0] == low_id, "the low-priority run never started"
        waited = started[-1][1]
        assert gap * AGEING_SECONDS <= waited <= gap * AGEING_SECONDS + every
        # until then, the stream went first, first come first served
        assert [run for run, _ in started[:-1]] == stream[: len(started) - 1]
        # and after it, the stream goes on: the one waiting, then the next to come
        clock[0] += every
        stream.append(enqueue_run(store, high))
        assert dispatch(store, config, lambda run_id: None, queues=["stream"]) == [
            stream[len(started) - 1]
        ]
        assert store.get_run(low_id).status is RunStatus.SUCCEEDED
    finally:
        store.close()


@pytest.mark.parametrize("value", ["1000001", "-1001", "99999999999999999999999"])
def test_a_priority_out_of_range_is_refused_in_yaml_and_by_enqueue(cli, write, value: str) -> None:
    """One rule (plait.spec.priority) for ``priority:`` and ``--priority``: a load error with
    file and line, and an enqueue refused naming priority, with nothing left waiting (a
    number too big for the store was an internal error before)."""
    expected = f"must be between -1000 and 1000000, not {int(value)}"
    bad = write(
        "bad-prio.yaml", f"name: bad-prio\npriority: {value}\nsteps:\n  - command: 'true'\n"
    )
    for command in (("validate",), ("start", "-q"), ("enqueue",)):
        refused = cli(*command, bad)
        assert refused.code == 1, refused.err
        assert f"{bad}:2: priority: {expected}" in refused.err
    good = write("good-prio.yaml", "name: good-prio\nsteps:\n  - command: 'true'\n")
    refused = cli("enqueue", "--priority", value, good)
    assert refused.code == 2  # a usage error, as for plait start
    assert f"argument --priority: {expected}" in refused.err
    assert "internal error" not in refused.err
    assert history(cli, "good-prio") == []
    for edge in ("1000000", "-1000"):
        assert cli("enqueue", "--priority", edge, good).code == 0


def test_start_refuses_a_priority_out_of_range(cli, write) -> None:
    path = write("start-prio.yaml", "name: start-prio\nsteps:\n  - command: 'true'\n")
    refused = cli("start", "-q", "--priority", "1000001", path)
    assert refused.code == 2
    assert "argument --priority: must be between -1000 and 1000000, not 1000001" in refused.err
    assert history(cli, "start-prio") == []
