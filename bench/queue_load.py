"""Queue load: N runs of a one-step workflow through a queue with maxConcurrency 4.

python bench/queue_load.py [--runs 1000] [--reference-runs N] [--no-reference] [--smoke]

plait: the runs are enqueued (through the Python API: one store, N transactions; the time of
``plait enqueue`` per run is sampled too), then ``plait scheduler`` runs until all are final.
Reported: runs/s from the scheduler's start to the last run's end, the most runs running at
once (from the store's started/finished times and from sampling), whether start order followed
enqueue order (claim times never go backwards along the enqueue order), runs that ran twice,
and the scheduler's peak RSS (VmHWM of /proc/<pid>/status, read before stopping it).

reference: ``dagu enqueue`` N times, then ``dagu scheduler`` with
``queues: {enabled: true, config: [{name: q, maxConcurrency: 4}]}`` in $DAGU_HOME/config.yaml,
timed the same way (the end of the run is when every run's step has written its line).
Skipped, with a message, when the dagu binary ($DAGU_BIN, else the path run.py installs it to)
is missing.

The SQLite store only: the runs are read back from ``plait.db`` with sqlite3 (claim times are
not part of the store's contract), so ``PLAIT_DATABASE_URL`` is ignored; ``bench/store.py``
compares the backends.

``--smoke``: 5 runs, plait only; exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIT = ROOT / ".venv" / "bin" / "plait"
PYTHON = ROOT / ".venv" / "bin" / "python"
DAGU = Path(
    os.environ.get("DAGU_BIN", "/tmp/dagu-ref/node_modules/@dagu-org/dagu-linux-x64/bin/dagu")
)
LIMIT = 4


def workflow(marks: Path) -> str:
    return (
        "name: load\nqueue: q\nmaxActiveRuns: 100000\nsteps:\n  - name: s\n"
        f"    command: sh -c 'echo \"$DAG_RUN_ID $(date +%s.%N)\" >> {marks}'\n"
    )


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = now = 0
    for _, delta in events:
        now += delta
        best = max(best, now)
    return best


def marks_of(path: Path) -> list[str]:
    try:
        return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def bench_plait(runs: int, tmp: Path) -> dict[str, object]:
    home = tmp / "plait-home"
    (home / "dags").mkdir(parents=True)
    (home / "config.yaml").write_text(f"queues:\n  - name: q\n    maxConcurrency: {LIMIT}\n")
    marks = tmp / "plait-marks.txt"
    (home / "dags" / "load.yaml").write_text(workflow(marks))
    os.environ.pop("PLAIT_DATABASE_URL", None)  # the SQLite store of this home
    env = dict(os.environ, PLAIT_HOME=str(home))
    os.environ["PLAIT_HOME"] = str(home)
    sys.path.insert(0, str(ROOT / "src"))
    from plait.queue import enqueue_run
    from plait.spec import load_file
    from plait.store.sqlite import SQLiteStore

    sample = min(20, max(1, runs // 2))  # the rest through the Python API
    began = time.perf_counter()
    for _ in range(sample):
        subprocess.run([str(PLAIT), "enqueue", "load"], env=env, check=True, capture_output=True)
    cli_enqueue = (time.perf_counter() - began) / sample
    wf = load_file(home / "dags" / "load.yaml")
    store = SQLiteStore(home / "plait.db")
    began = time.perf_counter()
    for _ in range(runs - sample):
        enqueue_run(store, wf)
    api_enqueue = (time.perf_counter() - began) / max(1, runs - sample)
    store.close()

    db = sqlite3.connect(home / "plait.db", timeout=30)
    order = [r[0] for r in db.execute("SELECT id FROM runs ORDER BY enqueued_at, id")]
    log = open(tmp / "plait-scheduler.log", "wb")  # noqa: SIM115
    started = time.perf_counter()
    scheduler = subprocess.Popen([str(PLAIT), "scheduler"], env=env, stdout=log, stderr=log)
    peak_running = 0
    rss = 0
    deadline = time.monotonic() + max(120, runs)
    try:
        while True:
            if time.monotonic() > deadline:
                raise SystemExit("plait scheduler: runs still open at the deadline")
            time.sleep(0.1)
            (running,) = db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()
            (open_runs,) = db.execute(
                "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"
            ).fetchone()
            peak_running = max(peak_running, running)
            rss = max(rss, vm_hwm_kib(scheduler.pid))
            if open_runs == 0:
                break
            if scheduler.poll() is not None:
                raise SystemExit(f"plait scheduler exited: {scheduler.returncode}")
        (last_end,) = db.execute("SELECT max(finished_at) FROM runs").fetchone()
        (first_claim,) = db.execute("SELECT min(claimed_at) FROM runs").fetchone()
        elapsed = time.perf_counter() - started
        rss = max(rss, vm_hwm_kib(scheduler.pid))
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=30)
        log.close()
    rows = db.execute(
        "SELECT id, status, claimed_at, started_at, finished_at, attempt FROM runs"
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    claims = [by_id[i][2] for i in order]
    fifo = all(a <= b for a, b in itertools.pairwise(claims))
    lines = marks_of(marks)
    return {
        "engine": "plait",
        "runs": runs,
        "succeeded": sum(r[1] == "succeeded" for r in rows),
        "elapsed_s": elapsed,
        "runs_per_s": runs / elapsed,
        "busy_runs_per_s": runs / (last_end - first_claim) if last_end and first_claim else None,
        "max_concurrent_store": max_overlap([(r[3], r[4]) for r in rows if r[3] and r[4]]),
        "max_running_sampled": peak_running,
        "fifo": fifo,
        "ran_twice": len(lines) - len(set(lines)) + sum(r[5] > 1 for r in rows),
        "ran": len(set(lines)),
        "scheduler_peak_rss_mib": rss / 1024,
        "enqueue_cli_ms": cli_enqueue * 1000,
        "enqueue_api_ms": api_enqueue * 1000,
    }


def bench_dagu(runs: int, tmp: Path) -> dict[str, object]:
    home = tmp / "dagu-home"
    (home / "dags").mkdir(parents=True)
    (home / "config.yaml").write_text(
        f"queues:\n  enabled: true\n  config:\n    - name: q\n      maxConcurrency: {LIMIT}\n"
    )
    marks = tmp / "dagu-marks.txt"
    path = home / "dags" / "load.yaml"
    path.write_text(workflow(marks))
    env = dict(os.environ, DAGU_HOME=str(home))
    began = time.perf_counter()
    for _ in range(runs):
        subprocess.run(
            [str(DAGU), "enqueue", "-q", str(path)], env=env, check=True, capture_output=True
        )
    enqueue = (time.perf_counter() - began) / runs
    log = open(tmp / "dagu-scheduler.log", "wb")  # noqa: SIM115
    started = time.perf_counter()
    scheduler = subprocess.Popen([str(DAGU), "scheduler"], env=env, stdout=log, stderr=log)
    rss = 0
    deadline = time.monotonic() + max(600, runs * 2)
    try:
        while len(marks_of(marks)) < runs and time.monotonic() < deadline:
            time.sleep(0.1)
            rss = max(rss, vm_hwm_kib(scheduler.pid))
            if scheduler.poll() is not None:
                raise SystemExit(f"dagu scheduler exited: {scheduler.returncode}")
        elapsed = time.perf_counter() - started
        rss = max(rss, vm_hwm_kib(scheduler.pid))
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            scheduler.kill()
        log.close()
    lines = marks_of(marks)
    return {
        "engine": "dagu",
        "runs": runs,
        "ran": len(set(lines)),
        "ran_twice": len(lines) - len(set(lines)),
        "elapsed_s": elapsed,
        "runs_per_s": len(set(lines)) / elapsed,
        "scheduler_peak_rss_mib": rss / 1024,
        "enqueue_cli_ms": enqueue * 1000,
    }


def show(result: dict[str, object]) -> None:
    print(f"== {result['engine']}")
    for key, value in result.items():
        if key == "engine":
            continue
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"  {key:24s} {text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument(
        "--reference-runs", type=int, default=None, help="runs for dagu (default: --runs)"
    )
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="5 runs, plait only")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.no_reference = 5, True
    with tempfile.TemporaryDirectory(prefix="plait-queue-load-") as name:
        tmp = Path(name)
        results = [bench_plait(args.runs, tmp)]
        show(results[0])
        if args.no_reference:
            print("reference (dagu): skipped")
        elif not DAGU.exists():
            print(f"reference (dagu): skipped, no binary at {DAGU} (set DAGU_BIN)")
        else:
            results.append(bench_dagu(args.reference_runs or args.runs, tmp))
            show(results[1])
        if len(results) == 2:
            ratio = float(results[0]["runs_per_s"]) / float(results[1]["runs_per_s"])  # type: ignore[arg-type]
            print(f"plait / dagu throughput: {ratio:.2f}x (target: >= 2x)")
        plait = results[0]
        ok = (
            plait["succeeded"] == args.runs
            and plait["max_concurrent_store"] <= LIMIT  # type: ignore[operator]
            and plait["max_running_sampled"] <= LIMIT  # type: ignore[operator]
            and plait["fifo"]
            and plait["ran_twice"] == 0
        )
        print("plait checks:", "ok" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
