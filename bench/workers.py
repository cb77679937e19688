"""Workers on PostgreSQL: throughput and dispatch latency of one-step runs.

Two phases, each with the real ``plait scheduler`` and ``--workers`` real ``plait worker``
processes (``--slots`` each) on one PostgreSQL database, every run a one-step workflow with a
``workerSelector`` the workers match:

- **throughput**: ``--runs`` runs are put in the queue at once (through the store's contract,
  as ``plait enqueue`` does, so that enqueueing is not what is timed), then the scheduler
  starts; measured from then until every run has ended: runs/s end to end.
- **latency**: ``--probes`` runs enqueued one at a time (every 0.1 s) into the idle cluster;
  the dispatch latency of each is its step's start (recorded by the agent, store time) minus
  the run's creation: p50 and p99.
- **stop**: ``--stops`` runs of a step that sleeps, each stopped (as ``plait stop`` does) once
  its step runs on a worker: the time from the stop to the run's end (store time), p50 / max.

Targets (issue 12): at least 20 runs/s with 4 workers x 4 slots on a 2-core machine, and a p99
dispatch latency of at most 1 s. Figures, not a test: the exit is non-zero only when a run does
not succeed or the cluster does not drain.

The database: ``--url``, else ``PLAIT_DATABASE_URL``, else a new database on a private server
started with ``tests/pg.py`` (``fsync = off``).

python bench/workers.py [--runs 2000] [--workers 4] [--slots 4] [--probes 200] [--url URL]
                        [--smoke]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOW = """name: tiny
queue: q
maxActiveRuns: 100000
workerSelector: {bench: "yes"}
steps:
  - name: s
    command: "true"
"""
SLEEPY = """name: sleepy
queue: q
maxActiveRuns: 100000
workerSelector: {bench: "yes"}
steps:
  - name: s
    command: sleep 60
"""


@contextmanager
def database(given: str | None) -> Iterator[str]:
    url = given or os.environ.get("PLAIT_DATABASE_URL")
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT))
    from tests.pg import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.new_database()
    finally:
        server.stop()


class Cluster:
    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        (root / "dags").mkdir(parents=True)
        (root / "dags" / "tiny.yaml").write_text(FLOW)
        (root / "dags" / "sleepy.yaml").write_text(SLEEPY)
        (root / "home").mkdir()
        (root / "home" / "config.yaml").write_text(
            "queues:\n  - name: q\n    maxConcurrency: 1000\n"
        )
        self.env = {
            **os.environ,
            "PLAIT_HOME": str(root / "home"),
            "PLAIT_DAGS_DIR": str(root / "dags"),
            "PLAIT_DATABASE_URL": url,
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        with open(self.root / log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "plait", *args], stdout=out, stderr=out, env=self.env
            )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _store(cluster: Cluster):  # type: ignore[no-untyped-def]
    os.environ.update({k: v for k, v in cluster.env.items() if k.startswith("PLAIT_")})
    from plait.app import open_store
    from plait.store import Home

    return open_store(Home.from_env())


def enqueue(store, n: int, name: str = "tiny") -> list[str]:  # type: ignore[no-untyped-def]
    from plait.queue import enqueue_run
    from plait.spec import load_file

    workflow = load_file(Path(os.environ["PLAIT_DAGS_DIR"]) / f"{name}.yaml")
    return [enqueue_run(store, workflow) for _ in range(n)]


def wait_final(store, ids: list[str], timeout: float) -> dict[str, str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    pending = set(ids)
    statuses: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        for run_id in list(pending):
            run = store.find_run(run_id)
            if run is not None and run.status.is_final:
                statuses[run_id] = str(run.status)
                pending.discard(run_id)
        if pending:
            time.sleep(0.2)
    for run_id in pending:
        statuses[run_id] = "unfinished"
    return statuses


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--stops", type=int, default=20)
    parser.add_argument("--url", default=None)
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the same path")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.workers, args.slots, args.probes, args.stops = 6, 2, 2, 3, 2
    failures = 0
    with database(args.url) as url, tempfile.TemporaryDirectory(prefix="plait-workers-") as tmp:
        cluster = Cluster(Path(tmp), url)
        store = _store(cluster)
        try:
            subprocess.run(
                [sys.executable, "-m", "plait", "db", "migrate"], env=cluster.env, check=True,
                capture_output=True,
            )  # fmt: skip
            for i in range(args.workers):
                cluster.spawn(
                    "worker", "--id", f"w{i}", "--labels", "bench=yes", "--slots", str(args.slots),
                    log=f"w{i}.log",
                )  # fmt: skip
            deadline = time.monotonic() + 120
            while len([w for w in store.workers()]) < args.workers:
                if time.monotonic() > deadline:
                    raise SystemExit("the workers did not register")
                time.sleep(0.2)
            ids = enqueue(store, args.runs)
            load_before = os.getloadavg()[0]
            began = time.monotonic()
            cluster.spawn("scheduler", log="scheduler.log")
            statuses = wait_final(store, ids, timeout=max(600.0, args.runs * 0.5))
            elapsed = time.monotonic() - began
            bad = {r: s for r, s in statuses.items() if s != "succeeded"}
            failures += len(bad)
            print(
                f"throughput: {args.runs} runs, {args.workers} workers x {args.slots} slots: "
                f"{elapsed:.1f} s, {args.runs / elapsed:.1f} runs/s"
                f" (load {load_before:.2f} -> {os.getloadavg()[0]:.2f})"
            )
            if bad:
                print(f"  not succeeded: {len(bad)} (e.g. {next(iter(bad.items()))})")
            probes: list[str] = []
            for _ in range(args.probes):
                probes += enqueue(store, 1)
                time.sleep(0.1)
            wait_final(store, probes, timeout=300)
            latencies = []
            for run_id in probes:
                run = store.get_run(run_id)
                step = run.steps[0]
                if str(run.status) != "succeeded" or step.started_at is None:
                    failures += 1
                    continue
                latencies.append(step.started_at - run.created_at)
            if latencies:
                print(
                    f"latency (enqueue -> step start), {len(latencies)} runs: "
                    f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
                    f"p99 {percentile(latencies, 99) * 1000:.0f} ms, "
                    f"max {max(latencies) * 1000:.0f} ms"
                )
            stops: list[float] = []
            for _ in range(args.stops):
                (run_id,) = enqueue(store, 1, "sleepy")
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    run = store.get_run(run_id)
                    if run.steps[0].started_at is not None:
                        break
                    time.sleep(0.05)
                time.sleep(0.2)  # the step's process is there
                asked = store.now()
                store.stop(run_id)
                (status,) = wait_final(store, [run_id], timeout=60).values()
                run = store.get_run(run_id)
                if status != "cancelled" or run.finished_at is None:
                    failures += 1
                    continue
                stops.append(run.finished_at - asked)
            if stops:
                print(
                    f"stop (asked -> run ended), {len(stops)} runs: "
                    f"p50 {statistics.median(stops) * 1000:.0f} ms, "
                    f"max {max(stops) * 1000:.0f} ms"
                )
        finally:
            cluster.stop()
            store.close()
        if failures:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
