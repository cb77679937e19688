"""The store's contract (``plait.store.base``), one suite for both backends: SQLite and
PostgreSQL must keep every promise the same way.

Each test gets a fresh, empty store of the backend it runs on. Concurrency is tested with real
processes, each with a store of its own on the same database.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from plait.errors import NotFoundError, RunStateError, StoreError
from plait.model import RunRecord, RunStatus, StepRecord, StepStatus
from plait.queue.admission import admit
from plait.store.base import RunStore
from plait.store.records import AGENT_LEASE_SECONDS, AgentRef

Opener = Callable[[], RunStore]


def _open(location: str) -> RunStore:
    if location.startswith("postgresql://"):
        from plait.store.postgres import PostgresStore

        return PostgresStore(location)
    from plait.store.sqlite import SQLiteStore

    return SQLiteStore(location)


@pytest.fixture
def location(store_backend: str, tmp_path: Path) -> str:
    """Where the test's store is: a SQLite file, or a new PostgreSQL database."""
    url = os.environ.get("PLAIT_DATABASE_URL", "")
    return url if store_backend == "postgres" else str(tmp_path / "plait.db")


@pytest.fixture
def store(location: str) -> Iterator[RunStore]:
    s = _open(location)
    yield s
    s.close()


def _run(
    run_id: str, name: str = "w", status: RunStatus = RunStatus.RUNNING, **kw: Any
) -> RunRecord:
    return RunRecord(run_id=run_id, name=name, status=status, created_at=time.time(), **kw)


def _steps(*names: str) -> list[StepRecord]:
    return [StepRecord(name=n, position=i) for i, n in enumerate(names)]


def _queued(
    store: RunStore, run_id: str, queue: str = "q", name: str = "w", limit: int = 100
) -> None:
    store.enqueue(
        _run(run_id, name, RunStatus.QUEUED),
        _steps("a"),
        queue=queue,
        max_active_runs=limit,
        dispatch="scheduler",
    )


# ------------------------------------------------------------------------- a run's life


def test_a_run_and_its_steps_read_back_as_written(store: RunStore) -> None:
    run = _run("r1", params=[["K", "v"], [None, "pos"]], definition={"/w.yaml": "steps: []"})
    store.create_run(run, _steps("a", "b"))
    got = store.get_run("r1")
    assert (got.name, got.status, got.params) == (
        "w",
        RunStatus.RUNNING,
        [["K", "v"], [None, "pos"]],
    )
    assert [s.name for s in got.steps] == ["a", "b"]
    assert all(s.status is StepStatus.NOT_STARTED for s in got.steps)
    assert store.definition("r1") == {"/w.yaml": "steps: []"}
    assert store.find_run("nope") is None
    with pytest.raises(NotFoundError):
        store.get_run("nope")
    with pytest.raises(RunStateError):
        store.enqueue(_run("r1"), [], queue="q", max_active_runs=1, dispatch="self")


def test_a_childs_definition_is_its_root_runs(store: RunStore) -> None:
    store.create_run(_run("root", definition={"/p.yaml": "text"}), _steps("call"))
    store.create_run(
        _run("kid", "child", parent_run_id="root", parent_step="call", root_run_id="root"), []
    )
    assert store.definition("kid") == {"/p.yaml": "text"}
    assert [c.run_id for c in store.children("root")] == ["kid"]


def test_writes_with_a_stale_epoch_change_nothing(store: RunStore) -> None:
    _queued(store, "r")
    claim = store.claim("q", partial(admit, declared=None))
    assert claim.claimed == ["r"]
    first = store.mark_started("r", AgentRef(1001, "h1"), [])
    assert first is not None
    store.set_run_status("r", RunStatus.FAILED, epoch=first, finished_at=time.time(), error="x")
    # a retry takes the run over: a new epoch; the first agent's late writes are ignored
    second, attempt = store.begin_retry("r", AgentRef(1002, "h2"), queue="q", max_active_runs=5)
    assert second > first and attempt == 2
    before = store.get_run("r")
    late = StepRecord(name="a", position=0, status=StepStatus.SUCCEEDED, output="late")
    store.update_step("r", late, first)
    store.add_step("r", StepRecord(name="onExit", position=9, handler=True), first)
    store.record_attempt("r", StepRecord(name="a", position=0, attempt=1), first)
    store.set_run_status("r", RunStatus.SUCCEEDED, epoch=first, outputs={"O": "late"})
    moved = [(s.name, "/pack:0:1", "/pack:1:1") for s in before.steps]
    assert store.set_run_status("r", RunStatus.SUCCEEDED, epoch=first, logs=moved) is False
    store.heartbeat([("r", first)], now=(before.heartbeat_at or 0) + 1e6)
    after = store.get_run("r")
    assert after.status == before.status == RunStatus.QUEUED
    assert [(s.name, s.status, s.output) for s in after.steps] == [
        (s.name, s.status, s.output) for s in before.steps
    ]
    assert after.outputs == {} and after.heartbeat_at == before.heartbeat_at
    assert [s.stdout_path for s in after.steps] == [s.stdout_path for s in before.steps]
    # at the run's own epoch, the run's end and its steps' log paths are one write
    assert store.set_run_status("r", RunStatus.SUCCEEDED, epoch=second, logs=moved) is True
    assert {(s.stdout_path, s.stderr_path) for s in store.get_run("r").steps} <= {
        ("/pack:0:1", "/pack:1:1")
    }
    assert store.attempts("r", "a") == []
    # the current epoch writes
    store.update_step("r", late, second)
    assert store.get_run("r").step("a").output == "late"


def test_of_two_agents_taking_a_claimed_run_over_one_wins(store: RunStore) -> None:
    _queued(store, "r")
    store.claim("q", partial(admit, declared=None))
    store.set_claim_agent("r", AgentRef(7, "h"))
    assert store.mark_started("r", AgentRef(8, "h"), []) is None  # not the launched agent
    assert store.mark_started("r", AgentRef(7, "h"), []) is not None
    got = store.get_run("r")
    assert (got.pid, got.host, got.owner) == (7, "h", "h:7")


def test_the_lease_of_an_agent_is_its_heartbeat_and_a_dead_agent_loses_its_runs(
    store: RunStore,
) -> None:
    store.create_run(
        _run("r", pid=4242, host="elsewhere", owner="elsewhere:4242", heartbeat_at=store.now()),
        _steps("a"),
    )
    seen: list[tuple[int | None, str | None, float | None]] = []

    def alive(pid: int | None, host: str | None, expires: float | None) -> bool:
        seen.append((pid, host, expires))
        return expires is not None and expires > store.now()

    assert store.recover_dead_runs(alive) == []
    (pid, host, expires) = seen[-1]
    assert (pid, host) == (4242, "elsewhere")
    assert expires is not None and abs(expires - store.now() - AGENT_LEASE_SECONDS) < 5
    store.heartbeat([("r", 1)], now=store.now() - 10 * AGENT_LEASE_SECONDS)  # long ago
    assert store.recover_dead_runs(alive) == ["r"]
    dead = store.get_run("r")
    assert dead.status == RunStatus.FAILED and dead.error == "agent process exited"


def test_a_run_read_with_a_children_limit_has_its_counts_and_its_failures_first(
    store: RunStore,
) -> None:
    store.create_run(_run("p"), _steps("fan", "one"))
    failing = {7, 40, 199}
    for i in range(250):
        status = RunStatus.FAILED if i in failing else RunStatus.SUCCEEDED
        child = _run(f"c{i}", status=status, parent_run_id="p", parent_step="fan",
                     root_run_id="p", item_index=i)  # fmt: skip
        store.create_run(child, [])
    store.create_run(_run("solo", parent_run_id="p", parent_step="one", root_run_id="p"), [])
    whole = store.get_run("p")
    assert len(whole.children) == 251
    some = store.get_run("p", children_limit=100)
    assert (
        some.child_counts
        == whole.child_counts
        == {
            "fan": {"succeeded": 247, "failed": 3},
            "one": {"running": 1},
        }
    )
    fan = [c for c in some.children if c.step == "fan"]
    assert len(fan) == 100 and [c.run_id for c in some.children if c.step == "one"] == ["solo"]
    assert {c.item_index for c in fan if c.status is RunStatus.FAILED} == failing
    indexes = [c.item_index for c in fan]
    assert indexes == sorted(indexes)  # shown in item order
    assert some.children_of("fan") == 250


def test_a_tree_lists_failures_first_within_its_bounds_and_says_when_it_is_cut(
    store: RunStore,
) -> None:
    store.create_run(_run("p"), _steps("fan"))
    failing = {7, 40, 199}
    for i in range(250):
        status = RunStatus.FAILED if i in failing else RunStatus.SUCCEEDED
        child = _run(f"c{i:03d}", status=status, parent_run_id="p", parent_step="fan",
                     root_run_id="p", item_index=i)  # fmt: skip
        store.create_run(child, _steps("call"))
    store.create_run(_run("g", parent_run_id="c040", parent_step="call", root_run_id="p"), [])
    browse = store.browse()
    tree = browse.tree("p", per_run=100, max_nodes=2000)
    assert tree is not None and tree.truncated
    assert (tree.nodes, tree.root.child_count, len(tree.root.children)) == (102, 250, 100)
    listed = [(c.item_index, c.status) for c in tree.root.children]
    assert listed[:3] == [(7, "failed"), (40, "failed"), (199, "failed")]
    assert [i for i, _ in listed[3:]] == [i for i in range(250) if i not in failing][:97]
    (grandchild,) = tree.root.children[1].children
    assert (grandchild.run_id, grandchild.step, grandchild.child_count) == ("g", "call", 0)
    small = browse.tree("c040")
    assert small is not None and not small.truncated and small.nodes == 2
    cut = browse.tree("p", per_run=100, max_nodes=3)
    assert (
        cut is not None
        and cut.nodes == 3
        and [c.run_id for c in cut.root.children]
        == [
            "c007",
            "c040",
        ]
    )
    assert cut.root.children[1].children == [] and cut.root.children[1].child_count == 1
    assert browse.tree("nope") is None

    page = browse.children_page("p", sort="failures", limit=5)
    assert [c["itemIndex"] for c in page.children] == [7, 40, 199, 0, 1]
    assert page.counts == {"failed": 3, "succeeded": 247} and page.total == 250
    assert [c["childCount"] for c in page.children] == [0, 1, 0, 0, 0]
    deep = browse.children_page("p", sort="failures", limit=5, offset=245)
    assert [c["itemIndex"] for c in deep.children] == [245, 246, 247, 248, 249]
    only = browse.children_page("p", sort="failures", statuses=[RunStatus.SUCCEEDED], limit=2)
    assert [c["itemIndex"] for c in only.children] == [0, 1] and only.total == 247


def test_a_page_of_children_is_filtered_by_the_text_of_their_items(store: RunStore) -> None:
    store.create_run(_run("p"), _steps("fan"))
    items = ["alpha", "Alphabet", "beta", "50%_off", "50 percent", "back\\slash", "gamma"]
    for i, item in enumerate(items):
        status = RunStatus.FAILED if item == "beta" else RunStatus.SUCCEEDED
        child = _run(f"c{i}", status=status, parent_run_id="p", parent_step="fan",
                     root_run_id="p", item_index=i, item=item)  # fmt: skip
        store.create_run(child, [])
    browse = store.browse()

    def found(text: str, **kw: object) -> list[int]:
        page = browse.children_page("p", item=text, **kw)  # type: ignore[arg-type]
        assert page.total == len(page.children)
        return [c["itemIndex"] for c in page.children]

    assert found("alpha") == [0, 1]  # any case
    assert found("%_") == [3]  # wildcards are text
    assert found("_") == [3]
    assert found("\\") == [5]
    assert found("nothing") == []
    assert found("a", statuses=[RunStatus.FAILED]) == [2]
    page = browse.children_page("p", item="a", sort="failures")
    assert page.counts == {"failed": 1, "succeeded": 4}  # counts follow the item filter
    assert [c["itemIndex"] for c in page.children] == [2, 0, 1, 5, 6]


def test_a_workflows_history_pages_its_runs_with_every_steps_status(store: RunStore) -> None:
    base = time.time()
    for i in range(5):
        run = RunRecord(run_id=f"h{i}", name="w", status=RunStatus.SUCCEEDED, created_at=base + i)
        steps = [
            StepRecord(name="z-first", position=0, status=StepStatus.SUCCEEDED),
            StepRecord(name="a-second", position=1, status=StepStatus.SUCCEEDED),
        ]
        if i == 2:
            steps[1] = StepRecord(name="a-second", position=1, status=StepStatus.FAILED)
        if i == 3:
            steps[1] = StepRecord(
                name="a-second", position=1, status=StepStatus.FAILED, tolerated=True
            )
        store.create_run(run, steps)
    store.create_run(_run("other", name="x"), _steps("a"))
    child = RunRecord(run_id="hc", name="w", status=RunStatus.RUNNING, created_at=base + 9,
                      parent_run_id="other", parent_step="a", root_run_id="other")  # fmt: skip
    store.create_run(child, [])
    browse = store.browse()
    page = browse.history("w", limit=3)
    assert page.total == 6 and [r.run_id for r in page.runs] == ["hc", "h4", "h3"]
    assert page.runs[0].steps == {} and page.runs[0].parent_run_id == "other"
    assert list(page.runs[1].steps.items()) == [("z-first", "succeeded"), ("a-second", "succeeded")]
    assert page.runs[2].steps["a-second"] == "failed" and page.runs[2].tolerated == ["a-second"]
    rest = browse.history("w", limit=3, offset=3)
    assert [r.run_id for r in rest.runs] == ["h2", "h1", "h0"]
    assert rest.runs[0].steps == {"z-first": "succeeded", "a-second": "failed"}
    assert rest.runs[0].tolerated == [] and rest.runs[0].created_at == base + 2
    assert browse.history("nobody").total == 0 and browse.history("nobody").runs == []


def test_stop_requests_reach_the_whole_tree(store: RunStore) -> None:
    store.create_run(_run("p"), _steps("call"))
    store.create_run(_run("c", parent_run_id="p", parent_step="call", root_run_id="p"), [])
    assert store.request_stop("p") == 2
    assert store.stop_requests() == {"p", "c"}
    store.clear_stop_request("c")
    assert store.stop_requests() == {"p"}


@pytest.mark.postgres_only(reason="NOTIFY wakes the agents waiting for a stop request")
def test_an_agent_waiting_for_stop_requests_wakes_when_another_process_asks(
    store: RunStore, location: str
) -> None:
    store.create_run(_run("p"), _steps("work"))
    waiter = _open(location)
    woke = threading.Event()

    def wait() -> None:
        waiter.wait_for_stop_request(0.01)  # listening from now on
        waiter.wait_for_stop_request(120)
        woke.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        assert not woke.is_set()
        assert store.request_stop("p") == 1
        assert woke.wait(60), "the waiting agent slept through the stop request"
        assert waiter.stop_requests() == {"p"}
    finally:
        thread.join(130)
        waiter.close()


# ------------------------------------------------------------------------- claims


def _claimer(location: str, queue: str, capacity: int, rounds: int, out: Any) -> None:
    """A process that claims from ``queue`` until it is empty, runs each claim briefly."""
    store = _open(location)
    agent = AgentRef(os.getpid())
    mine: list[str] = []
    try:
        for _ in range(rounds):
            claim = store.claim(queue, partial(admit, declared=capacity))
            for run_id in claim.claimed:
                mine.append(run_id)
                epoch = store.mark_started(run_id, agent, [])
                assert epoch is not None
                time.sleep(0.005)
                store.set_run_status(
                    run_id, RunStatus.SUCCEEDED, epoch=epoch, finished_at=store.now()
                )
            if not claim.claimed and not store.queues_with_waiting():
                break
            time.sleep(0.001)
    finally:
        store.close()
        out.put(mine)


def test_many_processes_claiming_at_once_get_each_run_once_within_capacity(
    store: RunStore, location: str
) -> None:
    runs, capacity, workers = 60, 3, 6
    for i in range(runs):
        _queued(store, f"r{i:03d}")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=_claimer, args=(location, "q", capacity, 5000, results))
        for _ in range(workers)
    ]
    peak = 0
    for p in processes:
        p.start()
    try:
        deadline = time.monotonic() + 120
        while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
            running = [e for e in store.queue_entries() if e.status == RunStatus.RUNNING]
            peak = max(peak, len(running))
            time.sleep(0.002)
        claimed = [run_id for _ in processes for run_id in results.get(timeout=60)]
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert sorted(claimed) == [f"r{i:03d}" for i in range(runs)]  # each exactly once
    assert peak <= capacity
    assert {store.get_run(r).status for r in claimed} == {RunStatus.SUCCEEDED}


def test_stale_claims_go_back_to_their_queue(store: RunStore) -> None:
    _queued(store, "r")
    assert store.claim("q", partial(admit, declared=1)).claimed == ["r"]
    assert store.claimed_unstarted() == ["r"]
    assert store.requeue_stale_claims(store.now() - 60) == 0  # claimed just now
    assert store.requeue_stale_claims(store.now() + 1) == 1
    assert store.get_run("r").status == RunStatus.QUEUED


# ------------------------------------------------------------------------- leases and marks


def test_one_owner_holds_a_named_lease_until_it_expires(store: RunStore) -> None:
    now = store.now()
    assert store.acquire_lease("scheduler", "a", 10, now) == 1
    assert store.acquire_lease("scheduler", "b", 10, now + 1) is None
    assert store.acquire_lease("scheduler", "a", 10, now + 2) == 1  # renewed
    assert store.acquire_lease("scheduler", "b", 10, now + 13) == 2  # expired: taken
    assert store.steal_lease("scheduler", "a", "c", 10, now + 14) is None  # a holds it no more
    assert store.steal_lease("scheduler", "b", "c", 10, now + 14) == 3
    store.release_lease("scheduler", "c")
    assert store.lease("scheduler") is None
    store.set_schedule_mark("w", 123.0)
    assert store.schedule_mark("w") == 123.0


# ------------------------------------------------------------------------- reads for the API


def test_the_change_mark_moves_after_a_commit_by_another_process(
    store: RunStore, location: str
) -> None:
    browse = store.browse()
    first = browse.change_mark()
    assert browse.change_mark() == first  # nothing happened
    other = _open(location)
    try:
        other.create_run(_run("from-elsewhere"), _steps("a"))
    finally:
        other.close()
    deadline = time.monotonic() + 10
    while browse.change_mark() == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert browse.change_mark() != first
    assert browse.list_runs().total == 1


# ------------------------------------------------------------------------- retention


def test_retention_deletes_a_finished_tree_and_never_an_active_run(store: RunStore) -> None:
    old = store.now() - 10 * 86400
    for run_id, status in (("done", RunStatus.SUCCEEDED), ("live", RunStatus.RUNNING)):
        store.create_run(_run(run_id, status=status, log_dir=f"/logs/{run_id}"), _steps("a"))
        store.set_run_status(run_id, status, finished_at=old)
    store.create_run(
        _run("done-kid", status=RunStatus.SUCCEEDED, parent_run_id="done", parent_step="a",
             root_run_id="done", log_dir="/logs/kid"),
        _steps("x"),
    )  # fmt: skip
    store.create_runs(
        [
            (
                _run(f"grandkid-{n}", status=RunStatus.SUCCEEDED, parent_run_id="done-kid",
                     parent_step="x", root_run_id="done", log_dir="/logs/kid", item_index=n),
                _steps("y"),
            )
            for n in range(50)
        ]
    )  # fmt: skip
    store.record_attempt("done", StepRecord(name="a", position=0, attempt=1))
    expired = store.expired_runs("w", store.now() - 86400, keep=0)
    assert expired == ["done"]
    logs = store.delete_run_tree("done")
    assert set(logs) == {"/logs/done", "/logs/kid"}
    assert store.find_run("done") is None and store.find_run("done-kid") is None
    assert store.find_run("grandkid-7") is None
    assert store.attempts("done", "a") == []
    assert store.find_run("live") is not None


def test_runs_written_together_and_a_not_started_place_given_up(store: RunStore) -> None:
    store.create_run(_run("p"), _steps("fan"))
    places = [
        (
            _run(f"item-{n}", status=RunStatus.NOT_STARTED, parent_run_id="p", parent_step="fan",
                 root_run_id="p", item_index=n, attempt=0),
            _steps("one"),
        )
        for n in range(3)
    ]  # fmt: skip
    store.create_runs(places)
    record = store.get_run("p")
    assert record.child_counts == {"fan": {"not_started": 3}}
    assert store.get_run("item-1").steps[0].status is StepStatus.NOT_STARTED
    with pytest.raises(StoreError):  # one id taken: nothing of the batch is written
        store.create_runs([(_run("fresh"), _steps("a")), (_run("item-0"), _steps("a"))])
    assert store.find_run("fresh") is None
    assert store.forget_not_started("item-1")
    assert store.find_run("item-1") is None
    assert not store.forget_not_started("item-1")
    assert not store.forget_not_started("p")  # a run that is not a place is kept
    assert store.find_run("p") is not None


def test_runs_started_without_waiting_are_linked_both_ways(store: RunStore) -> None:
    store.create_run(_run("parent"), _steps("kick"))
    store.create_run(_run("kid", status=RunStatus.SUCCEEDED), _steps("a"))
    assert store.started_by("kid") is None and store.started_runs("parent") == []
    store.link_started("kid", "parent", "kick")
    store.link_started("kid", "parent", "kick")  # a retried step: kept once
    assert store.started_by("kid") == ("parent", "kick")
    assert store.started_runs("parent") == [("kid", "kick")]
    store.set_run_status("kid", RunStatus.SUCCEEDED, finished_at=store.now() - 10 * 86400)
    store.delete_run_tree("kid")  # retention of the started run takes its link
    assert store.started_runs("parent") == []


def test_webhook_tokens_made_replaced_used_and_revoked(store: RunStore) -> None:
    assert store.webhook("deploy") is None and store.webhooks() == []
    store.set_webhook("deploy", "a" * 64)
    store.set_webhook("build", "b" * 64)
    hook = store.webhook("deploy")
    assert hook is not None and hook.token_hash == "a" * 64 and hook.last_used_at is None
    store.webhook_used("deploy")
    used = store.webhook("deploy")
    assert used is not None and used.last_used_at is not None
    store.set_webhook("deploy", "c" * 64)  # replaced: the old token is gone, never used
    again = store.webhook("deploy")
    assert again is not None and again.token_hash == "c" * 64 and again.last_used_at is None
    assert [h.workflow for h in store.webhooks()] == ["build", "deploy"]
    assert store.revoke_webhook("deploy") and not store.revoke_webhook("deploy")
    assert [h.workflow for h in store.webhooks()] == ["build"]


def test_shipped_log_pieces_read_back_by_range_and_a_stale_epoch_ships_nothing(
    store: RunStore,
) -> None:
    store.create_run(_run("r"), _steps("a"))
    data = "ünï\n".encode() * 1000
    pieces = [("/l/a.out", start, data[start : start + 700]) for start in range(0, len(data), 700)]
    assert store.ship_log("r", 1, pieces[:3])
    assert store.ship_log("r", 1, pieces[2:])  # a piece shipped twice is kept once
    assert store.log_size("r", "/l/a.out") == len(data)
    assert store.read_log("r", "/l/a.out", 0, len(data)) == data
    assert store.read_log("r", "/l/a.out", 650, 1450) == data[650:1450]
    assert store.read_log("r", "/l/a.out", len(data) - 5, len(data) + 100) == data[-5:]
    assert store.read_log("r", "/l/a.out", 10, 10) == b""
    assert store.log_size("r", "/l/other") == 0 and store.read_log("r", "/l/other", 0, 9) == b""
    # a run taken over by another agent: the first one's late pieces are refused
    assert not store.ship_log("r", 0, [("/l/a.err", 0, b"late")])
    assert store.log_size("r", "/l/a.err") == 0
    store.set_run_status("r", RunStatus.SUCCEEDED, finished_at=store.now() - 10 * 86400)
    store.delete_run_tree("r")
    assert store.log_size("r", "/l/a.out") == 0


# ------------------------------------------------------------------------- migrations


def test_a_store_opened_twice_at_once_by_many_processes_migrates_once(location: str) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        versions = pool.map(_schema_of, [location] * 4)
    assert len(set(versions)) == 1 and versions[0][0] == versions[0][1]


def _schema_of(location: str) -> tuple[int, int]:
    store = _open(location)
    try:
        return store.schema_version()
    finally:
        store.close()


def test_db_status_and_migrate_report_the_schema(store: RunStore) -> None:
    version, latest = store.schema_version()
    assert version == latest and store.pending_migrations() == []
    assert store.migrate() == []


@pytest.mark.sqlite_only(reason="earlier schema versions exist only for SQLite")
def test_every_earlier_sqlite_schema_migrates_to_the_newest_keeping_its_runs(
    tmp_path: Path, store_backend: str
) -> None:
    from plait.store.sqlite import SQLiteStore, migration_files

    files = migration_files()
    for version in range(len(files)):
        path = tmp_path / f"v{version}.db"
        db = sqlite3.connect(path)
        for file in files[:version]:
            db.executescript(file.read_text())
        if version >= 1:  # a run as the first schema knew it
            db.execute(
                "INSERT INTO runs (id, name, status, created_at, root_run_id, pid, host, "
                "heartbeat_at) VALUES ('old', 'w', 'succeeded', 1.0, 'old', 12, 'h', 5.0)"
            )
        db.execute(f"PRAGMA user_version = {version}")
        db.commit()
        db.close()
        store = SQLiteStore(path, migrate=False)
        try:
            assert store.pending_migrations() == [f.name for f in files[version:]]
            assert store.migrate() == [f.name for f in files[version:]]
            assert store.schema_version() == (len(files), len(files))
            if version >= 1:
                old = store.get_run("old")
                # 0006 names the agent of rows written before it (owner: host:pid)
                owner = "h:12" if version < 6 else None
                assert (old.status, old.owner) == (RunStatus.SUCCEEDED, owner)
            store.create_run(_run("new"), _steps("a"))
            assert store.get_run("new").steps[0].name == "a"
        finally:
            store.close()


def test_a_store_newer_than_this_plait_is_refused_by_name(location: str, store: RunStore) -> None:
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as db:
            db.execute("UPDATE plait_schema SET version = 999")
    else:
        db = sqlite3.connect(location)
        db.execute("PRAGMA user_version = 999")
        db.close()
    with pytest.raises(StoreError, match="newer plait"):
        _open(location)
