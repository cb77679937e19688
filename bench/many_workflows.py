"""Many workflows in one DAGs folder: the scheduler's idle CPU, its stop on SIGTERM, how soon a
due run starts, ``plait schedule list`` and a page of ``GET /api/v1/workflows``.

``--files`` workflow files (5,000 by default), each one step with a daily cron line, in a new
home on SQLite. Figures, not a test:

- **idle CPU**: the real ``plait scheduler`` is started, given 10 s to read the folder, then its
  CPU time (user + system, from /proc) over ``--idle`` seconds, as a share of one core.
- **due run**: one more workflow whose ``@every 5s`` line fires while the others idle: the time
  from its fire time to its step's start (store time), the worst of three fires.
- **stop**: SIGTERM to the scheduler until its process is gone.
- **schedule list**: wall time of ``plait schedule list --json``, the first time (every file
  parsed, what it compiles kept) and again.
- **workflows page**: the server's own time (``Server-Timing``) of a page of 100 of
  ``GET /api/v1/workflows``, median of 10 (the first request reads every file once).

Targets (issue 13): idle CPU <= 2 % of a core, a due run started within 1 s, SIGTERM obeyed
within 1 s, ``schedule list`` < 1 s, a workflows page < 100 ms.

python bench/many_workflows.py [--files 5000] [--idle 20] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOW = """name: wf-{i:05d}
schedule: "{minute} {hour} * * *"
steps:
  - name: s
    command: "true"
"""
TICKER = """name: ticker
schedule: "@every 5s"
steps:
  - name: s
    command: "true"
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plait(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plait", *args], env=env, capture_output=True, text=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the same path")
    args = parser.parse_args()
    if args.smoke:
        args.files, args.idle = 20, 2.0
    with tempfile.TemporaryDirectory(prefix="plait-many-") as tmp:
        dags = Path(tmp) / "dags"
        dags.mkdir()
        for i in range(args.files):
            text = FLOW.format(i=i, minute=i % 60, hour=(i // 60) % 24)
            (dags / f"wf-{i:05d}.yaml").write_text(text)
        env = {**os.environ, "PLAIT_HOME": str(Path(tmp) / "home"), "PLAIT_DAGS_DIR": str(dags)}
        list_seconds = []  # the first reads every file (and keeps what it compiled); then again
        for _ in range(2):
            began = time.perf_counter()
            listed = plait(env, "schedule", "list", "--json")
            list_seconds.append(time.perf_counter() - began)
            if listed.returncode != 0:
                print(listed.stderr)
                return 1
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "plait", "scheduler"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(10 if not args.smoke else 3)
            before = cpu_seconds(scheduler.pid)
            load = os.getloadavg()[0]
            time.sleep(args.idle)
            idle = (cpu_seconds(scheduler.pid) - before) / args.idle
            (dags / "ticker.yaml").write_text(TICKER)
            lags = due_lags(env, 3)
        finally:
            asked = time.perf_counter()
            scheduler.send_signal(signal.SIGTERM)
            try:
                scheduler.wait(timeout=60)
            except subprocess.TimeoutExpired:
                scheduler.kill()
            stop_seconds = time.perf_counter() - asked
        page_ms = workflows_page_ms(env)
    print(f"{args.files} workflow files, each with a daily cron line (load {load:.2f})")
    print(f"scheduler idle CPU: {idle * 100:.1f} % of a core")
    print(f"a due run started after its fire time: worst {max(lags) * 1000:.0f} ms of {len(lags)}")
    print(f"SIGTERM to exit: {stop_seconds * 1000:.0f} ms")
    print(
        f"plait schedule list: {list_seconds[0] * 1000:.0f} ms the first time (every file "
        f"parsed), {list_seconds[1] * 1000:.0f} ms after (compiled files kept)"
    )
    print(f"GET /api/v1/workflows (first page): {page_ms:.1f} ms server time")
    return 0


def due_lags(env: dict[str, str], count: int) -> list[float]:
    """How late the ticker's runs started: step start minus the fire time in the run id."""
    from datetime import UTC, datetime

    os.environ.update({k: v for k, v in env.items() if k.startswith("PLAIT_")})
    from plait.app import open_store
    from plait.store import Home

    store = open_store(Home.from_env())
    try:
        lags: list[float] = []
        deadline = time.monotonic() + 60
        while len(lags) < count and time.monotonic() < deadline:
            time.sleep(1)
            lags = []
            for listed in store.list_runs("ticker"):
                run = store.get_run(listed.run_id, children_limit=0)
                fired = datetime.strptime(run.run_id.split(".")[1], "%Y%m%dT%H%M%SZ")
                started = run.steps[0].started_at if run.steps else None
                if started is not None:
                    lags.append(started - fired.replace(tzinfo=UTC).timestamp())
        return lags or [float("nan")]
    finally:
        store.close()


def workflows_page_ms(env: dict[str, str]) -> float:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "plait", "server", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if client.get("/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        times = []
        for _ in range(10):
            reply = client.get("/api/v1/workflows", params={"limit": 100})
            timing = reply.headers.get("server-timing", "")
            times.append(float(timing.split("dur=")[1].split(",")[0]) if "dur=" in timing else 0)
        return statistics.median(times)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
