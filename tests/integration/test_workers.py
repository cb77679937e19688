"""Workers on other machines (here: other processes of this machine), through the shared
PostgreSQL store: runs routed by labels, the reason of a run no worker can take, duplicate
deliveries that run nothing, an agent or a worker killed mid-step, a run longer than its lease.

Every process runs with a 3 s lease (``PLAIT_LEASE_SECONDS``). Each step appends a line to a
ledger file when it starts and when it ends, so that "ran once" is checked, not assumed.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from tests.cluster import LEASE, Cluster, alive, wait_for
from tests.pg import PostgresServer

pytestmark = pytest.mark.postgres_only(reason="workers share a PostgreSQL store")

LEDGER_STEP = """
name: {name}
workerSelector: {selector}
{extra}
steps:
  - name: work
    command: >-
      sh -c 'echo "$PLAIT_RUN_ID start $$" >> {{ledger}}; sleep {sleep};
      echo "$PLAIT_RUN_ID end" >> {{ledger}}'
"""


def ledger_flow(name: str, selector: str, sleep: float = 0.2, extra: str = "") -> str:
    return LEDGER_STEP.format(name=name, selector=selector, sleep=sleep, extra=extra)


# ------------------------------------------------------------------------- routing


def test_runs_go_to_the_workers_whose_labels_match_and_others_wait_saying_why(
    cluster: Cluster,
) -> None:
    cluster.worker("gpu-box", "gpu=true,zone=us")
    cluster.worker("eu-box", "zone=eu")
    cluster.scheduler()
    cluster.workflow("train", ledger_flow("train", '{gpu: "true"}'))
    cluster.workflow("serve", ledger_flow("serve", "{zone: eu}"))
    cluster.workflow("both", ledger_flow("both", '{gpu: "true", zone: eu}'))
    train, serve, both = (cluster.enqueue(n) for n in ("train", "serve", "both"))
    assert cluster.final(train)["worker"] == "gpu-box", cluster.logs()
    assert cluster.final(serve)["worker"] == "eu-box", cluster.logs()
    assert cluster.status(both)["status"] == "queued"
    listing = json.loads(cluster.plait("queue", "list", "--json").stdout)
    reasons = {r["runId"]: r["reason"] for q in listing for r in q["runs"]}
    assert reasons[both] == "no worker with gpu=true,zone=eu"
    # plait status says it too, in its tree and its JSON
    assert cluster.status(both)["waitingReason"] == "no worker with gpu=true,zone=eu"
    shown = cluster.plait("status", "--run-id", both).stdout
    assert "waiting: no worker with gpu=true,zone=eu" in shown.splitlines()[1], shown
    workers = {w["id"]: w for w in json.loads(cluster.plait("workers", "--json").stdout)}
    assert workers["gpu-box"]["labels"] == {"gpu": "true", "zone": "us"}
    assert workers["eu-box"]["slots"] == 2 and workers["eu-box"]["busy"] == 0


def test_a_worker_takes_no_more_runs_than_its_slots(cluster: Cluster) -> None:
    cluster.worker("one-slot", "kind=small", slots=1)
    cluster.scheduler()
    cluster.workflow(
        "small", ledger_flow("small", "{kind: small}", sleep=0.5, extra="maxActiveRuns: 10")
    )
    runs = [cluster.enqueue("small") for _ in range(4)]
    for run_id in runs:
        assert cluster.final(run_id)["status"] == "succeeded", cluster.logs()
    events = []
    for line in cluster.ledger_lines():
        run_id, what, *_ = line.split()
        events.append((run_id, what))
    open_now = peak = 0
    for _, what in events:
        open_now += 1 if what == "start" else -1
        peak = max(peak, open_now)
    assert peak == 1  # one slot: one run at a time
    assert sorted(r for r, w in events if w == "start") == sorted(runs)


# ------------------------------------------------------------------------- exactly once


def test_a_run_delivered_twice_runs_once(cluster: Cluster) -> None:
    cluster.worker("w1", "pool=a")
    cluster.scheduler()
    # long enough to be seen running by a `plait status` on a busy machine
    cluster.workflow("once", ledger_flow("once", "{pool: a}", sleep=4.0))
    run_id = cluster.enqueue("once")
    wait_for(lambda: cluster.status(run_id)["status"] == "running", 60, "the run to start")
    record = cluster.status(run_id)
    # the same claim delivered again, while the first delivery runs and after it ended
    again = cluster.plait("agent", "--run-id", run_id, "--epoch", "1", "--worker", "w1")
    assert again.returncode == 0, again.stderr
    final = cluster.final(run_id)
    assert final["status"] == "succeeded"
    later = cluster.plait("agent", "--run-id", run_id, "--epoch", "2", "--worker", "w1")
    assert later.returncode == 0, later.stderr
    assert [line.split()[1] for line in cluster.ledger_lines()] == ["start", "end"]
    assert cluster.status(run_id)["attempt"] == record["attempt"] == 1


def test_a_run_five_times_longer_than_the_lease_runs_once(cluster: Cluster) -> None:
    cluster.worker("w1", "pool=long")
    cluster.scheduler()
    cluster.workflow("long", ledger_flow("long", "{pool: long}", sleep=15))
    run_id = cluster.enqueue("long")
    final = cluster.final(run_id, timeout=120)
    assert final["status"] == "succeeded", (final, cluster.logs())
    assert [line.split()[1] for line in cluster.ledger_lines()] == ["start", "end"]


# ------------------------------------------------------------------------- kill -9


def _step_pid(cluster: Cluster, run_id: str) -> int:
    line = wait_for(
        lambda: next((x for x in cluster.ledger_lines() if x.startswith(f"{run_id} start")), None),
        60,
        "the step to start",
    )
    return int(line.split()[2])


def test_kill_9_of_an_agent_with_its_worker_alive_fails_the_run_and_frees_the_slot(
    cluster: Cluster,
) -> None:
    cluster.worker("w1", "pool=k", slots=1)
    cluster.scheduler()
    cluster.workflow("victim", ledger_flow("victim", "{pool: k}", sleep=30))
    cluster.workflow("next", ledger_flow("next", "{pool: k}", sleep=0.1))
    run_id = cluster.enqueue("victim")
    step = _step_pid(cluster, run_id)
    agent = cluster.status(run_id)
    os.kill(int(agent["pid"]), signal.SIGKILL)  # the agent process that runs it
    final = cluster.final(run_id)
    assert final["status"] == "failed" and final["error"] == "agent process exited", final
    assert agent["worker"] == "w1"
    wait_for(lambda: not alive(step), 30, "the step's process to be killed")
    after = cluster.enqueue("next")  # the slot is free again
    assert cluster.final(after)["status"] == "succeeded", cluster.logs()


def test_kill_9_of_a_worker_mid_step_loses_the_run_and_retry_on_worker_lost_runs_it_again(
    cluster: Cluster,
) -> None:
    doomed = cluster.worker("doomed", "pool=r", slots=1)
    cluster.scheduler()
    cluster.workflow(
        "lost", ledger_flow("lost", "{pool: r}", sleep=30, extra="retryOnWorkerLost: 0")
    )
    cluster.workflow(
        # (its step long enough that the kill comes while it runs, on a busy machine too)
        "again",
        ledger_flow("again", "{pool: r}", sleep=4, extra="retryOnWorkerLost: 1"),
    )
    lost = cluster.enqueue("lost")
    step = _step_pid(cluster, lost)
    doomed.kill()
    final = cluster.final(lost)
    assert final["status"] == "failed" and final["error"] == "worker lost", final
    wait_for(lambda: not alive(step), 30, "the step's process to be killed")
    assert [x.split()[1] for x in cluster.ledger_lines()] == ["start"]

    doomed2 = cluster.worker("doomed2", "pool=r", slots=1)
    again = cluster.enqueue("again")
    _step_pid(cluster, again)
    doomed2.kill()
    try:
        wait_for(
            lambda: (
                cluster.status(again)["status"] == "queued" or cluster.status(again)["attempt"] > 1
            ),
            60,
            "the lost run to be queued again",
        )
    except AssertionError:
        raise AssertionError(f"{cluster.status(again)}\n{cluster.logs()}") from None
    cluster.worker("healthy", "pool=r", slots=1)
    final = cluster.final(again)
    assert final["status"] == "succeeded", (final, cluster.logs())
    assert final["attempt"] == 2 and final["worker"] == "healthy"
    starts = [x for x in cluster.ledger_lines() if x.startswith(f"{again} start")]
    assert len(starts) == 2  # once on the lost worker, once again: retryOnWorkerLost 1
    # the jobs handed to the lost workers are cleaned up: nobody would ever finish them
    wait_for(
        lambda: _jobs_of(cluster, "doomed") == _jobs_of(cluster, "doomed2") == 0,
        60,
        "the lost workers' jobs to be cleaned up",
    )


def _jobs_of(cluster: Cluster, worker: str) -> int:
    import psycopg

    with psycopg.connect(cluster.env["PLAIT_DATABASE_URL"]) as db:
        row = db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s",
            (f"plait.worker.{worker}",),
        ).fetchone()
    return int(row[0]) if row else 0


def _peak(lines: list[str], run_ids: set[str]) -> int:
    """The most of ``run_ids`` running at once, by the ledger's order of starts and ends."""
    running = peak = 0
    for line in lines:
        run_id, event = line.split()[:2]
        if run_id in run_ids:
            running += 1 if event == "start" else -1
            peak = max(peak, running)
    return peak


def test_max_active_runs_and_queue_capacity_hold_across_four_workers_first_come_first_served(
    cluster: Cluster,
) -> None:
    cluster.home.mkdir(parents=True, exist_ok=True)
    (cluster.home / "config.yaml").write_text("queues:\n  - name: shared\n    maxConcurrency: 3\n")
    for n in range(4):
        cluster.worker(f"w{n}", "pool=adm", slots=2)
    cluster.workflow(
        "limited", ledger_flow("limited", "{pool: adm}", sleep=0.4, extra="maxActiveRuns: 2")
    )
    for name in ("qa", "qb"):
        cluster.workflow(
            name,
            ledger_flow(name, "{pool: adm}", sleep=0.4, extra="queue: shared\nmaxActiveRuns: 5"),
        )
    limited = [cluster.enqueue("limited") for _ in range(8)]
    shared = [cluster.enqueue("qa" if i % 2 else "qb") for i in range(10)]
    cluster.scheduler()  # every run is queued before any can start
    finals = [cluster.final(run_id, timeout=180) for run_id in limited + shared]
    assert all(f["status"] == "succeeded" for f in finals), (finals, cluster.logs())
    assert len({f["worker"] for f in finals}) > 1  # spread over the workers
    lines = cluster.ledger_lines()
    assert _peak(lines, set(limited)) == 2
    assert _peak(lines, set(shared)) == 3
    starts = [line.split()[0] for line in lines if line.split()[1] == "start"]
    assert len(starts) == len(limited) + len(shared)  # each ran once
    # first come, first served: runs admitted together (up to the limit at once) write their
    # start lines in any order, so each run starts within the limit of its place in the queue
    for runs, limit in ((limited, 2), (shared, 3)):
        order = [r for r in starts if r in runs]
        assert all(abs(order.index(r) - place) < limit for place, r in enumerate(runs)), order


# ------------------------------------------------------------------------- stop, API


DEEP = """
name: deep
workerSelector: {pool: s}
steps:
  - name: one
    run: two
---
name: two
steps:
  - name: call
    run: three
---
name: three
steps:
  - name: call
    run: four
---
name: four
steps:
  - name: work
    command: >-
      sh -c 'echo "$PLAIT_RUN_ID start $$" >> {ledger}; sleep 60;
      echo "$PLAIT_RUN_ID end" >> {ledger}'
"""


def _descendant(cluster: Cluster, run_id: str, depth: int) -> dict[str, Any]:
    record = cluster.status(run_id)
    for _ in range(depth):
        (child,) = record["children"]
        record = cluster.status(child["runId"])
    return record


def test_stop_reaches_a_remote_run_and_a_child_three_levels_down(cluster: Cluster) -> None:
    import httpx

    from tests.servers import plait_server

    cluster.worker("w1", "pool=s", slots=2)
    cluster.scheduler()
    cluster.workflow("deep", DEEP)
    cluster.workflow("flat", ledger_flow("flat", "{pool: s}", sleep=60))
    deep = cluster.enqueue("deep")
    flat = cluster.enqueue("flat")
    _step_pid(cluster, flat)
    deepest_step = _step_pid(
        cluster, wait_for(lambda: _deepest(cluster, deep), 60, "the deepest child")
    )
    deepest = _deepest(cluster, deep)
    assert deepest is not None
    # the deepest child (three levels below the root), on the worker
    assert cluster.plait("stop", "--run-id", deepest, "--no-wait").returncode == 0
    stopped = cluster.final(deepest, timeout=30)
    assert stopped["status"] == "cancelled", stopped
    wait_for(lambda: not alive(deepest_step), 30, "the deepest step's process to end")
    # a remote root run
    assert cluster.plait("stop", "--run-id", flat, "--no-wait").returncode == 0
    assert cluster.final(flat, timeout=30)["status"] == "cancelled"
    assert not any(line.endswith(" end") for line in cluster.ledger_lines())
    env = {"PLAIT_LEASE_SECONDS": LEASE}
    with plait_server(cluster.root, cluster.dags, env=env) as (url, _):
        body = httpx.get(f"{url}/api/v1/workers", timeout=30).json()
    (worker,) = body["workers"]
    assert worker["id"] == "w1" and worker["labels"] == {"pool": "s"} and worker["slots"] == 2


def _deepest(cluster: Cluster, root: str) -> str | None:
    try:
        record = _descendant(cluster, root, 3)
    except (ValueError, KeyError):
        return None
    return str(record["runId"]) if record["status"] == "running" else None


# ------------------------------------------------------------------------- start and retry


TWO_STEPS = """
name: twostep
workerSelector: {pool: f}
steps:
  - name: first
    command: sh -c 'echo "$PLAIT_RUN_ID first" >> {ledger}; hostname'
  - name: second
    command: sh -c 'echo "$PLAIT_RUN_ID second" >> {ledger}; test -f {gate}'
"""


def test_start_and_retry_of_a_workflow_with_a_selector_run_on_a_worker(cluster: Cluster) -> None:
    gate = cluster.root / "gate"
    cluster.worker("w1", "pool=f")
    cluster.workflow("twostep", TWO_STEPS.replace("{gate}", str(gate)))
    started = cluster.plait("start", "-q", "twostep", timeout=120)
    assert started.returncode == 1, started.stdout + started.stderr  # `second` fails
    record = json.loads(cluster.plait("status", "twostep", "--json").stdout)
    assert record["worker"] == "w1" and record["status"] == "failed"
    gate.write_text("")
    retried = cluster.plait("retry", "-q", "--run-id", record["runId"], timeout=120)
    assert retried.returncode == 0, retried.stdout + retried.stderr + cluster.logs()
    final = cluster.status(record["runId"])
    assert final["status"] == "succeeded" and final["attempt"] == 2 and final["worker"] == "w1"
    lines = [x.split()[1] for x in cluster.ledger_lines()]
    assert lines == ["first", "second", "second"]  # `first` kept by the retry


def test_validate_warns_when_no_registered_worker_could_take_a_workflow(
    cluster: Cluster,
) -> None:
    cluster.workflow("train", ledger_flow("train", '{gpu: "true"}'))
    path = str(cluster.dags / "train.yaml")
    done = cluster.plait("validate", path)
    assert done.returncode == 0, done.stderr
    assert "warning: workerSelector: no registered worker has gpu=true" in done.stderr
    cluster.worker("gpu-box", "gpu=true,zone=us")
    done = cluster.plait("validate", path)
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr


# ------------------------------------------------------------------------- PostgreSQL restarts

THREE_STEPS = """
name: steady
workerSelector: {pool: pg}
steps:
  - name: a
    command: >-
      sh -c 'echo "$PLAIT_RUN_ID start a" >> {ledger}; sleep 4;
      echo "$PLAIT_RUN_ID end a" >> {ledger}'
  - name: b
    command: >-
      sh -c 'echo "$PLAIT_RUN_ID start b" >> {ledger};
      echo "$PLAIT_RUN_ID end b" >> {ledger}'
    depends: [a]
"""


def test_postgresql_restarted_mid_run_the_workers_go_on_and_nothing_runs_twice(
    cluster: Cluster, postgres: PostgresServer
) -> None:
    if postgres.external:
        pytest.skip("PLAIT_TEST_DATABASE_URL: an outside server is not restarted by the tests")
    # a lease long enough to ride out a restart: agents wait for the store up to half of it
    cluster.env["PLAIT_LEASE_SECONDS"] = "20"
    cluster.worker("p1", "pool=pg", slots=2)
    cluster.worker("p2", "pool=pg", slots=2)
    cluster.scheduler()
    cluster.workflow("steady", THREE_STEPS)
    runs = [cluster.enqueue("steady") for _ in range(3)]
    wait_for(
        lambda: sum(x.endswith("start a") for x in cluster.ledger_lines()) >= 3,
        90,
        "every run to be in its first step",
    )
    postgres.restart(down_seconds=2)
    finals = [cluster.final(run_id, timeout=180) for run_id in runs]
    assert all(f["status"] == "succeeded" for f in finals), (finals, cluster.logs())
    lines = cluster.ledger_lines()
    for run_id in runs:
        assert [x.split(" ", 1)[1] for x in lines if x.startswith(run_id)] == [
            "start a", "end a", "start b", "end b"
        ]  # fmt: skip
    after = cluster.enqueue("steady")  # workers and scheduler are connected again
    assert cluster.final(after, timeout=120)["status"] == "succeeded", cluster.logs()
    # both workers beat again (a beat that fell in the restart is retried, not at once)
    try:
        wait_for(lambda: all(cluster.live(w) for w in ("p1", "p2")), 60, "both workers live")
    except AssertionError:
        raise AssertionError(cluster.plait("workers", "--json").stdout + cluster.logs()) from None


# ------------------------------------------------------------------------- remote child runs

REMOTE = """
name: parent
workerSelector: {pool: home}
retryOnWorkerLost: 1
steps:
  - name: prepare
    command: echo ready
  - name: far
    run: child
    params: "N=7"
    output: FAR
  - name: after
    command: echo "got ${FAR.outputs.OUT}"
    output: GOT
---
name: child
workerSelector: {pool: away}
params:
  - N: "0"
steps:
  - name: work
    command: >-
      sh -c 'echo "$PLAIT_RUN_ID start child" >> {ledger}; sleep SLEEP;
      echo "$PLAIT_RUN_ID end child" >> {ledger}; echo "n=$N"'
    output: OUT
"""


def test_a_child_workflow_with_its_own_selector_runs_on_its_worker_and_hands_back_outputs(
    cluster: Cluster,
) -> None:
    cluster.worker("home", "pool=home", slots=1)
    cluster.worker("away", "pool=away", slots=1)
    cluster.scheduler()
    cluster.workflow("parent", REMOTE.replace("SLEEP", "0.2"))
    run_id = cluster.enqueue("parent")
    final = cluster.final(run_id)
    assert final["status"] == "succeeded", (final, cluster.logs())
    assert final["worker"] == "home"
    assert final["outputs"]["GOT"] == "got n=7"
    (child,) = final["children"]
    record = cluster.status(child["runId"])
    assert record["worker"] == "away" and record["parentRunId"] == run_id
    assert record["rootRunId"] == run_id and record["parentStep"] == "far"


def test_a_parent_run_again_after_its_worker_was_lost_re_attaches_to_its_remote_child(
    cluster: Cluster,
) -> None:
    home = cluster.worker("home", "pool=home", slots=1)
    cluster.worker("away", "pool=away", slots=1)
    cluster.scheduler()
    cluster.workflow("parent", REMOTE.replace("SLEEP", "8"))
    run_id = cluster.enqueue("parent")
    wait_for(
        lambda: any("start child" in x for x in cluster.ledger_lines()), 60, "the child to start"
    )
    home.kill()  # the parent's worker is gone; the child goes on on its own worker
    wait_for(lambda: cluster.status(run_id)["attempt"] > 1, 60, "the parent to be queued again")
    cluster.worker("home-2", "pool=home", slots=1)
    final = cluster.final(run_id, timeout=120)
    assert final["status"] == "succeeded", (final, cluster.logs())
    assert final["attempt"] == 2 and final["worker"] == "home-2"
    assert final["outputs"]["GOT"] == "got n=7"
    lines = cluster.ledger_lines()
    assert [x.split(" ", 1)[1] for x in lines] == ["start child", "end child"], lines
    (child,) = final["children"]
    assert cluster.status(child["runId"])["attempt"] == 1  # the same run, run once


def test_stopping_a_parent_stops_its_remote_child_on_the_other_worker(cluster: Cluster) -> None:
    cluster.worker("home", "pool=home", slots=1)
    cluster.worker("away", "pool=away", slots=1)
    cluster.scheduler()
    cluster.workflow("parent", REMOTE.replace("SLEEP", "60"))
    run_id = cluster.enqueue("parent")
    wait_for(
        lambda: any("start child" in x for x in cluster.ledger_lines()), 60, "the child to start"
    )
    done = cluster.plait("stop", "--run-id", run_id)
    assert done.returncode == 0, done.stderr
    final = cluster.final(run_id)
    assert final["status"] == "cancelled", final
    (child,) = final["children"]
    assert cluster.final(child["runId"])["status"] == "cancelled"
    assert not any("end child" in x for x in cluster.ledger_lines())


STEP_SELECTOR = """
name: caller
steps:
  - name: far
    run: plain
    workerSelector: {pool: away}
    output: FAR
  - name: gated
    run: asks
    workerSelector: {pool: away}
    depends: [far]
---
name: plain
steps:
  - name: work
    command: echo "on $(hostname)"
    output: OUT
---
name: asks
steps:
  - {name: ask, type: hitl}
"""


def test_a_run_steps_own_selector_sends_its_child_to_a_worker_and_hitl_children_stay_home(
    cluster: Cluster,
) -> None:
    cluster.worker("away", "pool=away", slots=1)
    cluster.scheduler()
    cluster.workflow("caller", STEP_SELECTOR)
    run_id = cluster.enqueue("caller")  # the caller runs on the scheduler's machine
    final = cluster.final(run_id)
    assert final["worker"] is None
    far = next(c for c in final["children"] if c["step"] == "far")
    assert far["status"] == "succeeded" and cluster.status(far["runId"])["worker"] == "away"
    gated = next(s for s in final["steps"] if s["name"] == "gated")
    assert gated["status"] == "failed", gated
    assert "child workflow asks has `hitl` steps: it cannot run on a worker" in gated["error"]


PLAIN_STEP_SELECTOR = """
name: mixed
params: [GREETING=hello]
env:
  - PLACE: from-env
steps:
  - name: prep
    command: printf '%s' '$(touch {ledger}.pwned) "q" ;'
    output: TRICKY
  - name: far
    depends: [prep]
    workerSelector: {pool: away}
    command: printf '%s|%s|%s' "${GREETING}" "${TRICKY}" "$PLACE"
    output: FAR
  - name: flaky
    depends: [far]
    workerSelector: {pool: away}
    retryPolicy: {limit: 1, intervalSec: 0}
    command: >-
      sh -c 'test -e {ledger}.flag || { touch {ledger}.flag; echo first >&2; exit 3; };
      echo second'
  - name: each
    depends: [flaky]
    workerSelector: {pool: away}
    parallel: {items: [a, b, c], maxConcurrent: 2}
    command: echo "item $ITEM of $GREETING"
    output: EACH
  - name: back
    depends: [each]
    command: echo "got ${FAR}"
    output: BACK
"""


def test_a_plain_steps_selector_runs_it_on_a_worker_as_a_one_step_child(
    cluster: Cluster,
) -> None:
    cluster.worker("away", "pool=away", slots=2)
    cluster.scheduler()
    cluster.workflow("mixed", PLAIN_STEP_SELECTOR)
    run_id = cluster.enqueue("mixed")  # the run itself has no selector: it stays home
    final = cluster.final(run_id)
    assert final["status"] == "succeeded", (final, cluster.logs())
    assert final["worker"] is None
    expected = f'hello|$(touch {cluster.ledger}.pwned) "q" ;|from-env'
    assert final["outputs"]["FAR"] == expected  # values reach the worker as data
    assert final["outputs"]["BACK"] == f"got {expected}"
    assert not os.path.exists(f"{cluster.ledger}.pwned")
    children = [cluster.status(c["runId"]) for c in final["children"]]
    by_step: dict[str, list[dict[str, Any]]] = {}
    for child in children:
        by_step.setdefault(child["parentStep"], []).append(child)
        assert child["worker"] == "away", child
    assert [c["name"] for c in by_step["far"]] == ["mixed.far"]
    # a retry of the step is a child run of its own; the step's log is the worker's log
    flaky = next(s for s in final["steps"] if s["name"] == "flaky")
    assert flaky["status"] == "succeeded" and flaky["attempt"] == 2, flaky
    assert sorted(c["status"] for c in by_step["flaky"]) == ["failed", "succeeded"]
    log = cluster.plait("logs", "--run-id", run_id, "--step", "far")
    assert log.returncode == 0 and log.stdout.strip() == expected, log
    first = cluster.plait(
        "logs", "--run-id", run_id, "--step", "flaky", "--attempt", "1", "--stderr"
    )
    assert first.stdout.strip() == "first", first
    # each item of a command fan-out with a selector is a one-step child on the worker
    assert sorted(c["item"] for c in by_step["each"]) == ["a", "b", "c"]
    each = json.loads(final["outputs"]["EACH"])
    assert [o["EACH"] for o in each["outputs"]] == [f"item {x} of hello" for x in "abc"]


def test_a_remote_child_in_its_parents_full_queue_runs_in_the_parents_slot(
    cluster: Cluster,
) -> None:
    cluster.home.mkdir(parents=True, exist_ok=True)
    (cluster.home / "config.yaml").write_text("queues:\n  - name: solo\n    maxConcurrency: 1\n")
    cluster.worker("home", "pool=home", slots=1)
    cluster.worker("away", "pool=away", slots=1)
    cluster.scheduler()
    text = REMOTE.replace("SLEEP", "0.1")
    text = text.replace("name: parent\n", "name: parent\nqueue: solo\n")
    text = text.replace("name: child\n", "name: child\nqueue: solo\n")
    cluster.workflow("parent", text)
    run_id = cluster.enqueue("parent")
    final = cluster.final(run_id)
    assert final["status"] == "succeeded", (final, cluster.logs())
    (child,) = final["children"]
    assert cluster.status(child["runId"])["worker"] == "away"
