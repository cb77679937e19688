"""A campaign of kills: 50 rounds of kill -9 of a random worker, agent or scheduler, or a stop
of PostgreSQL, while runs come and go on three workers. At the end every run has ended (none
lost, none left ``queued`` or ``running``), no step of a run ever ran while another execution
of it still ran, every run that succeeded ran its step to the end, and a run that did not says
why. The seed is printed; ``PLAIT_CAMPAIGN_SEED`` replays a campaign.

Each step holds an exclusive ``flock`` on a file named after its run while it runs: a second
execution of the same run that found the lock held (the first one still running) writes
"OVERLAP" in the ledger. A killed step's lock goes with its processes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from tests.cluster import Cluster
from tests.pg import PostgresServer

pytestmark = pytest.mark.postgres_only(reason="workers share a PostgreSQL store")

ROUNDS = 50

JOB_HEADER = """
workerSelector: {pool: k}
retryOnWorkerLost: 3
maxActiveRuns: 6
"""


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.timeout(900)
def test_fifty_rounds_of_random_kills_lose_nothing_and_run_nothing_twice_at_once(
    cluster: Cluster, postgres: PostgresServer
) -> None:
    seed = int(os.environ.get("PLAIT_CAMPAIGN_SEED", random.randrange(1 << 30)))
    print(f"campaign seed: {seed} (PLAIT_CAMPAIGN_SEED={seed} replays it)")
    rng = random.Random(seed)
    cluster.exclusive_workflow("job", JOB_HEADER, sleep=0.8)
    workers = {f"k{n}": cluster.worker(f"k{n}", "pool=k", slots=2) for n in range(3)}
    scheduler = cluster.scheduler()
    runs: list[str] = []
    targets = ["worker", "agent", "scheduler"] + ([] if postgres.external else ["postgres"])
    done: list[str] = []
    for round_ in range(ROUNDS):
        for _ in range(rng.randint(1, 2)):
            try:
                runs.append(cluster.enqueue("job"))
            except AssertionError:  # the store is down this instant: the client says so
                pass
        time.sleep(rng.uniform(0.1, 0.8))
        target = rng.choice(targets)
        done.append(target)
        if target == "worker":
            name = rng.choice(sorted(workers))
            workers[name].kill()
            workers[name].wait()
            del workers[name]
            fresh = f"k{len(done) + 3}-{round_}"
            workers[fresh] = cluster.spawn(
                "worker", "--id", fresh, "--labels", "pool=k", "--slots", "2",
                log=f"{fresh}.log",
            )  # fmt: skip
        elif target == "agent":
            active = [r for r in runs[-6:] if _status(cluster, r).get("status") == "running"]
            if active:
                pid = _status(cluster, rng.choice(active)).get("pid")
                if pid:
                    _kill(int(pid))
        elif target == "scheduler":
            scheduler.kill()
            scheduler.wait()
            scheduler = cluster.scheduler()
        else:
            postgres.restart(down_seconds=rng.uniform(0, 1))
    print("kills:", {t: done.count(t) for t in set(done)}, "runs:", len(runs))

    finals = {run_id: cluster.final(run_id, timeout=300) for run_id in runs}
    left = {r: f["status"] for r, f in finals.items() if f["status"] in ("queued", "running")}
    assert not left, left
    lines = cluster.ledger_lines()
    assert not [x for x in lines if "OVERLAP" in x], (seed, cluster.logs())
    for run_id, final in finals.items():
        mine = [x.split()[1] for x in lines if x.startswith(run_id)]
        if final["status"] == "succeeded":
            assert mine and mine[-2:] == ["start", "end"], (seed, run_id, mine)
            assert final["steps"][0]["status"] == "succeeded"
        else:
            assert final["error"], (seed, final)
        steps = [(s["name"], s["status"], s["error"]) for s in final["steps"]]
        assert all(s[1] != "running" for s in steps), (seed, final["error"], steps)
    succeeded = sum(f["status"] == "succeeded" for f in finals.values())
    print(f"{succeeded} of {len(runs)} runs succeeded; the others say why")
    assert succeeded > 0


def _status(cluster: Cluster, run_id: str) -> dict[str, object]:
    done = cluster.plait("status", "--run-id", run_id, "--json")
    return dict(json.loads(done.stdout)) if done.returncode == 0 else {}
