"""REST API latency with a full store: 10,000 runs of 100 workflows, and a 1 GiB step log.

Measures the server's own time (its ``Server-Timing`` header) of the workflows list, one
workflow's runs, the first page of all runs, the run with 1,000 children (and its reply's
size), its last page of children, its tree (bounded, and its reply's size), a children page
sorted by duration and by failures first, a ``tail=1000`` read of the 1 GiB log, and the
history grid of a workflow with 1,000 runs of 100 steps (its first and its last page of 50
runs, and the reply's size); median of 20 requests each. Targets (issue 6): lists under
200 ms, the tail under 100 ms.

The store is filled only through the store's contract (``plait.store.base.RunStore``, opened
by ``plait.app.open_store`` as every plait process opens it): per run one ``create_run`` (the
run and its three steps, already finished) and one ``set_run_status`` (its end time, which
``create_run`` does not record) — two transactions per run, since the contract has no bulk
write. The fill time is printed. With ``PLAIT_DATABASE_URL`` set the store (and the server)
is that PostgreSQL database, else SQLite in a temporary ``PLAIT_HOME``.

python bench/api_latency.py [--runs 10000] [--workflows 100] [--children 1000]
                            [--log-mb 1024] [--grid-runs 1000] [--grid-steps 100]
                            [--times 20] [--smoke]

``--smoke``: 60 runs, 5 workflows, 20 children, a 1 MiB log, a grid of 60 runs x 10 steps,
3 requests each; exits non-zero when anything fails (the figures' targets are never a
failure).
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

from plait.app import open_store
from plait.model import RunRecord, RunStatus, StepRecord, StepStatus
from plait.store import Home
from plait.store.ids import new_run_id

STEPS = ("fetch", "transform", "load")


def write_workflows(dags: Path, workflows: int) -> list[str]:
    dags.mkdir(parents=True)
    names = [f"wf-{i:03d}" for i in range(workflows)]
    for name in names:
        steps = "".join(f"  - name: {s}\n    command: echo {s}\n" for s in STEPS)
        (dags / f"{name}.yaml").write_text(
            f"name: {name}\ntags: [bench]\nschedule: '*/5 * * * *'\nsteps:\n{steps}"
        )
    return names


def fill_store(home: Home, runs: int, workflows: int, children: int, log: Path) -> tuple[str, str]:
    """Workflow files and ``runs`` finished runs (3 steps each, one in 13 failed), the first
    with ``children`` child runs and ``log`` as its first step's stdout; returns (a workflow
    name, the run with the children)."""
    names = write_workflows(home.dags_dir, workflows)
    store = open_store(home)
    try:
        now = store.now() - runs * 60
        parent = ""
        for i in range(runs):
            run_id, name, created = new_run_id(), names[i % workflows], now + i * 60
            failed = i % 13 == 0
            status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
            steps = [
                StepRecord(
                    name=step,
                    position=position,
                    status=StepStatus.FAILED if failed and position == 2 else StepStatus.SUCCEEDED,
                    started_at=created + 1 + position,
                    finished_at=created + 2 + position,
                    exit_code=1 if failed and position == 2 else 0,
                    attempt=1,
                    stdout_path=str(log) if i == 0 and position == 0 else None,
                )
                for position, step in enumerate(STEPS)
            ]
            record = RunRecord(
                run_id=run_id,
                name=name,
                status=status,
                source=str(home.dags_dir / f"{name}.yaml"),
                created_at=created,
                started_at=created + 1,
            )
            store.create_run(record, steps)
            store.set_run_status(
                run_id,
                status,
                finished_at=created + 9,
                error="step load failed" if failed else None,
            )
            parent = parent or run_id
        for item in range(children):  # a fan-out under the first run
            child, created = new_run_id(), now + item
            record = RunRecord(
                run_id=child,
                name="fan-item",
                status=RunStatus.SUCCEEDED,
                created_at=created,
                started_at=created + 1,
                parent_run_id=parent,
                parent_step="fetch",
                root_run_id=parent,
                item_index=item,
                item=f"item-{item}",
                depth=1,
            )
            store.create_run(record, [])
            # durations differ, so that sort=-duration has something to sort
            store.set_run_status(child, RunStatus.SUCCEEDED, finished_at=created + 2 + item % 7)
        got = store.get_run(parent)
        assert got.step("fetch").stdout_path == str(log), "the log path was not stored"
        assert len(got.children) == children, f"{len(got.children)} children, not {children}"
        backend = store.backend
    finally:
        store.close()
    print(f"store: {backend}")
    return names[0], parent


def fill_grid(home: Home, runs: int, steps: int) -> str:
    """The workflow ``grid`` of ``steps`` steps and ``runs`` finished runs of it (one step
    of one run in 17 failed), through the store's contract; returns its name."""
    names = [f"step-{i:03d}" for i in range(steps)]
    body = "".join(f"  - name: {n}\n    command: 'true'\n" for n in names)
    (home.dags_dir / "grid.yaml").write_text(f"name: grid\nsteps:\n{body}")
    store = open_store(home)
    try:
        began = store.now() - runs * 60
        for i in range(runs):
            run_id, created, failed = new_run_id(), began + i * 60, i % 17 == 0
            records = [
                StepRecord(
                    name=name,
                    position=position,
                    status=StepStatus.FAILED
                    if failed and position == i % steps
                    else StepStatus.SUCCEEDED,
                    started_at=created + position,
                    finished_at=created + position + 1,
                    attempt=1,
                )
                for position, name in enumerate(names)
            ]
            status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
            record = RunRecord(run_id=run_id, name="grid", status=status, created_at=created,
                               started_at=created)  # fmt: skip
            store.create_run(record, records)
            store.set_run_status(run_id, status, finished_at=created + steps + 1)
    finally:
        store.close()
    return "grid"


def write_big_log(path: Path, megabytes: int) -> None:
    line = b"".join(b"log line %07d of a long step, padded to a readable width ....\n" % i
                    for i in range(16384))  # fmt: skip
    block = (line * (1 + (1 << 20) // len(line)))[: 1 << 20]
    with open(path, "wb") as out:
        for _ in range(megabytes):
            out.write(block)


def server_ms(client: httpx.Client, path: str, times: int) -> float:
    took = []
    for _ in range(times):
        response = client.get(path)
        response.raise_for_status()
        took.append(float(response.headers["server-timing"].split("dur=")[1]))
    return statistics.median(took)


def wait_healthy(client: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"plait server exited with {server.returncode}")
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("plait server did not answer /health within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--workflows", type=int, default=100)
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--log-mb", type=int, default=1024)
    parser.add_argument("--grid-runs", type=int, default=1000, help="runs of the history grid")
    parser.add_argument("--grid-steps", type=int, default=100, help="steps of each of them")
    parser.add_argument("--times", type=int, default=20, help="requests per figure")
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the same path")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.workflows, args.children, args.log_mb, args.times = 60, 5, 20, 1, 3
        args.grid_runs, args.grid_steps = 60, 10
    with tempfile.TemporaryDirectory(prefix="plait-bench-api-") as tmp:
        home = Home(root=Path(tmp) / "home", dags_dir=Path(tmp) / "dags")
        home.root.mkdir()
        log = home.root / "big.log"
        began = time.perf_counter()
        write_big_log(log, args.log_mb)
        print(f"log: {log.stat().st_size / 2**30:.3f} GiB ({time.perf_counter() - began:.1f} s)")
        began = time.perf_counter()
        workflow, run_id = fill_store(home, args.runs, args.workflows, args.children, log)
        took = time.perf_counter() - began
        total = args.runs + args.children
        print(
            f"filled through the store contract: {args.runs} runs of {args.workflows} "
            f"workflows + {args.children} child runs in {took:.1f} s "
            f"({total / took:.0f} runs/s, 2 transactions per run)",
            flush=True,
        )
        began = time.perf_counter()
        grid = fill_grid(home, args.grid_runs, args.grid_steps)
        print(
            f"filled the history grid: {args.grid_runs} runs x {args.grid_steps} steps in "
            f"{time.perf_counter() - began:.1f} s",
            flush=True,
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "PLAIT_HOME": str(home.root), "PLAIT_DAGS_DIR": str(home.dags_dir)}
        server = subprocess.Popen(
            [sys.executable, "-m", "plait", "server", "--port", str(port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
            wait_healthy(client, server)
            n = args.times
            kids = f"{args.children:,} children"
            last_page = max(0, args.children - 100)
            last_grid_page = max(0, args.grid_runs - 50)
            cells = f"{args.grid_runs:,} runs x {args.grid_steps} steps"
            figures = {
                "GET /api/v1/workflows": server_ms(client, "/api/v1/workflows", n),
                f"GET /api/v1/runs?workflow={workflow}": server_ms(
                    client, f"/api/v1/runs?workflow={workflow}", n
                ),
                "GET /api/v1/runs (all, first page)": server_ms(client, "/api/v1/runs", n),
                f"GET /api/v1/runs/{{id}} ({kids})": server_ms(client, f"/api/v1/runs/{run_id}", n),
                "GET /api/v1/runs/{id}/children?step=fetch&offset=(the last page)": server_ms(
                    client,
                    f"/api/v1/runs/{run_id}/children?step=fetch&limit=100&offset={last_page}",
                    n,
                ),
                f"GET /api/v1/runs/{{id}}/tree ({kids})": server_ms(
                    client, f"/api/v1/runs/{run_id}/tree", n
                ),
                "GET /api/v1/runs/{id}/children?limit=100&sort=-duration": server_ms(
                    client, f"/api/v1/runs/{run_id}/children?limit=100&sort=-duration", n
                ),
                "GET /api/v1/runs/{id}/children?limit=100&sort=failures": server_ms(
                    client, f"/api/v1/runs/{run_id}/children?limit=100&sort=failures", n
                ),
                f"GET /api/v1/workflows/{grid}/history?limit=50 ({cells})": server_ms(
                    client, f"/api/v1/workflows/{grid}/history?limit=50", n
                ),
                f"GET /api/v1/workflows/{grid}/history?limit=50&offset=(the last page)": (
                    server_ms(
                        client,
                        f"/api/v1/workflows/{grid}/history?limit=50&offset={last_grid_page}",
                        n,
                    )
                ),
                f"GET /api/v1/runs/{{id}}/steps/fetch/log?tail=1000 ({args.log_mb} MiB)": (
                    server_ms(client, f"/api/v1/runs/{run_id}/steps/fetch/log?tail=1000", n)
                ),
            }
            reply = client.get(f"/api/v1/runs/{run_id}")
            print(f"GET /api/v1/runs/{{id}} of the run with {kids}: {len(reply.content):,} bytes")
            tree = client.get(f"/api/v1/runs/{run_id}/tree")
            shape = tree.json()
            print(
                f"GET /api/v1/runs/{{id}}/tree of the run with {kids}: {len(tree.content):,} "
                f"bytes, {shape['nodes']} runs, truncated: {shape['truncated']}"
            )
            history = client.get(f"/api/v1/workflows/{grid}/history?limit=50")
            page = history.json()
            print(f"GET /api/v1/workflows/{grid}/history?limit=50: {len(history.content):,} bytes")
            if page["total"] != args.grid_runs or len(page["steps"]) != args.grid_steps:
                raise SystemExit(f"history: {page['total']} runs, {len(page['steps'])} steps")
            if any(len(r["steps"]) != args.grid_steps for r in page["runs"]):
                raise SystemExit("history: a run of the page lacks steps")
            tail = client.get(f"/api/v1/runs/{run_id}/steps/fetch/log?tail=1000").json()
            lines = len(tail["content"].splitlines())
            if lines != 1000:
                raise SystemExit(f"tail=1000 returned {lines} lines")
            listed = client.get(f"/api/v1/runs?workflow={workflow}").json()
            expected = len(range(0, args.runs, args.workflows))
            if listed["total"] != expected:
                raise SystemExit(f"{listed['total']} runs of {workflow} listed, not {expected}")
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
