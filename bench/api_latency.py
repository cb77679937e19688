"""REST API latency with a full store: 10,000 runs of 100 workflows, and a 1 GB step log.

Measures the server's own time (its ``Server-Timing`` header) of the workflows list, one
workflow's history, a run's children page and a ``tail=1000`` read of the 1 GB log; median of
20 requests each. Targets (issue 6): lists under 200 ms, the tail under 100 ms.

python bench/api_latency.py [--runs 10000] [--workflows 100] [--log-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from plait.store import queries as q
from plait.store.ids import new_run_id
from plait.store.sqlite import SQLiteStore

STEPS = ("fetch", "transform", "load")


def fill_store(home: Path, dags: Path, runs: int, workflows: int) -> tuple[str, str]:
    """Workflow files and ``runs`` finished runs (3 steps each), inserted in one transaction;
    returns (a workflow name, the run with 1,000 children, whose first step gets the log)."""
    dags.mkdir(parents=True)
    names = [f"wf-{i:03d}" for i in range(workflows)]
    for name in names:
        steps = "".join(f"  - name: {s}\n    command: echo {s}\n" for s in STEPS)
        (dags / f"{name}.yaml").write_text(
            f"name: {name}\ntags: [bench]\nschedule: '*/5 * * * *'\nsteps:\n{steps}"
        )
    store = SQLiteStore(home / "plait.db")
    now = time.time() - runs * 60
    run_rows, step_rows = [], []
    for i in range(runs):
        run_id, name, created = new_run_id(), names[i % workflows], now + i * 60
        status = "failed" if i % 13 == 0 else "succeeded"
        run_rows.append(
            (run_id, name, str(dags / f"{name}.yaml"), status, "[]", created, created + 1,
             None, None, run_id, None, None, 1, 0, None, None, created + 9, None)
        )  # fmt: skip
        for position, step in enumerate(STEPS):
            step_rows.append(
                (run_id, step, position, status if position == 2 else "succeeded",
                 created + 1 + position, created + 2 + position, 0, None, None,
                 None, None, 1, None, 0)
            )  # fmt: skip
    parent = run_rows[0][0]  # a fan-out of 1,000 child runs under the first run
    for item in range(1000):
        child, created = new_run_id(), now + item
        run_rows.append(
            (child, "fan-item", None, "succeeded", "[]", created, created + 1, parent, "fetch",
             parent, item, f"item-{item}", 1, 1, None, None, created + 2, None)
        )  # fmt: skip
    with store._transaction() as db:
        db.executemany(q.INSERT_RUN, run_rows)
        db.executemany(q.INSERT_STEP, step_rows)
        db.execute("UPDATE runs SET finished_at = started_at + 9")
    store.close()
    return names[0], str(parent)


def write_big_log(path: Path, megabytes: int) -> None:
    line = b"".join(b"log line %07d of a long step, padded to a readable width ....\n" % i
                    for i in range(16384))  # fmt: skip
    block = (line * (1 + (1 << 20) // len(line)))[: 1 << 20]
    with open(path, "wb") as out:
        for _ in range(megabytes):
            out.write(block)


def server_ms(client: httpx.Client, path: str, times: int = 20) -> float:
    took = []
    for _ in range(times):
        response = client.get(path)
        response.raise_for_status()
        took.append(float(response.headers["server-timing"].split("dur=")[1]))
    return statistics.median(took)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--workflows", type=int, default=100)
    parser.add_argument("--log-mb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plait-bench-api-") as tmp:
        home, dags = Path(tmp) / "home", Path(tmp) / "dags"
        home.mkdir()
        began = time.perf_counter()
        workflow, run_id = fill_store(home, dags, args.runs, args.workflows)
        print(f"store: {args.runs} runs, {args.workflows} workflows "
              f"({time.perf_counter() - began:.1f} s to fill)")  # fmt: skip
        log = home / "big.log"
        began = time.perf_counter()
        write_big_log(log, args.log_mb)
        print(f"log: {log.stat().st_size / 2**30:.2f} GiB ({time.perf_counter() - began:.1f} s)")
        store = SQLiteStore(home / "plait.db")
        with store._transaction() as db:
            db.execute(
                "UPDATE steps SET stdout_path = ? WHERE run_id = ? AND name = 'fetch'",
                (str(log), run_id),
            )
        store.close()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "PLAIT_HOME": str(home), "PLAIT_DAGS_DIR": str(dags)}
        server = subprocess.Popen(
            [sys.executable, "-m", "plait", "server", "--port", str(port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
            for _ in range(300):
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            figures = {
                "GET /api/v1/workflows": server_ms(client, "/api/v1/workflows"),
                f"GET /api/v1/runs?workflow={workflow}": server_ms(
                    client, f"/api/v1/runs?workflow={workflow}"
                ),
                "GET /api/v1/runs (all, first page)": server_ms(client, "/api/v1/runs"),
                "GET /api/v1/runs/{id}/tree (1,000 children)": server_ms(
                    client, f"/api/v1/runs/{run_id}/tree"
                ),
                "GET /api/v1/runs/{id}/children?limit=100&sort=-duration": server_ms(
                    client, f"/api/v1/runs/{run_id}/children?limit=100&sort=-duration"
                ),
                "GET /api/v1/runs/{id}/steps/fetch/log?tail=1000 (1 GiB)": server_ms(
                    client, f"/api/v1/runs/{run_id}/steps/fetch/log?tail=1000"
                ),
            }
            tail = client.get(f"/api/v1/runs/{run_id}/steps/fetch/log?tail=1000").json()
            assert len(tail["content"].splitlines()) == 1000, "tail did not return 1000 lines"
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.unlink(missing_ok=True)
    rounded = {k: round(v, 1) for k, v in figures.items()}
    print(json.dumps({"median_server_ms": rounded}, indent=2))
    slow = [k for k, v in figures.items() if v > (100.0 if "tail" in k else 200.0)]
    print("all within targets" if not slow else f"over target: {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
