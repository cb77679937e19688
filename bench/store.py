"""PostgreSQL against SQLite: the same workloads on both store backends, side by side.

plait is run through its CLI as a user runs it (``python -m plait ...``), each backend with
a home of its own (a temporary ``PLAIT_HOME``): SQLite in that home, PostgreSQL with
``PLAIT_DATABASE_URL`` set to a fresh database. Measured, for each backend:

- ``one``: ``plait start`` of a one-step workflow (the shared ``one.yaml``): the fixed cost of
  a plait process on that store (opening it, checking its schema, one run).
- ``chain100``: ``plait start`` of 100 sequential shell steps ``true`` (the shared
  ``chain100.yaml``): about 200 step writes one after the other.
- ``par100``: ``plait start`` of the shared ``par100.yaml``: a ``parallel:`` fan-out of 100
  child runs (``maxConcurrent: 10``), each one step: 100 child runs created and finished.
- ``wide100``: ``plait start`` of 100 independent steps ``true`` with ``maxActiveSteps: 100``.
- ``queue``: ``--queued`` runs of a one-step workflow put in queue ``q`` (``maxConcurrency:
  4`` in config.yaml) one ``plait enqueue`` at a time ("enqueue"), then drained by the real
  ``plait scheduler`` ("drain": from its start until every run is final, polled through the
  store's contract every 0.1 s). Run once per backend, not repeated.

The ``plait start`` workloads run once untimed per backend (the warm-up: the store is made
and migrated there), then ``--repeat`` times, alternating the backends; the median is shown.
Reported per workload: wall time and runs/s for each backend, and the ratio PostgreSQL /
SQLite of the wall times (above 1: PostgreSQL is slower). Target: PostgreSQL within 2x of
SQLite for chain100 and par100. Figures, not a test: the exit is non-zero only when a plait
command fails or a queued run does not succeed.

The PostgreSQL database: ``--url``, else ``PLAIT_DATABASE_URL`` (used as it is, and refused
unless it holds no runs), else a new database on a private server started with
``tests/pg.py`` (which honours ``PLAIT_TEST_DATABASE_URL``). That private server runs with
``fsync = off`` and ``synchronous_commit = off``; SQLite's WAL with ``synchronous=NORMAL``
does not sync each commit either.

python bench/store.py [--repeat 5] [--queued 1000] [--url URL] [--only chain100,queue]
                      [--smoke]

``--smoke``: chains of 3 steps, fan-outs of 3, 5 queued runs, one repetition.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench" / "workloads"
LIMIT = 4  # maxConcurrency of the queue
KINDS = ("one", "chain", "par", "wide", "queue")
TARGETS = ("chain", "par")  # PostgreSQL within 2x of SQLite, at full size


# --------------------------------------------------------------------- workloads


def one_yaml(_: int) -> str:
    return "name: one\nsteps:\n  - name: hello\n    command: echo hello\n"


def chain_yaml(n: int) -> str:
    steps = "".join(
        f"  - name: s{i}\n    command: 'true'\n" + (f"    depends: s{i - 1}\n" if i else "")
        for i in range(n)
    )
    return f"name: chain{n}\nsteps:\n{steps}"


def par_yaml(n: int) -> str:
    items = ", ".join(f'"i{i}"' for i in range(n))
    return (
        f"name: par{n}\nsteps:\n  - name: fan\n    run: par-child\n    parallel:\n"
        f"      items: [{items}]\n      maxConcurrent: 10\n"
        '    params: "X=${ITEM}"\n    output: RESULTS\n'
        "---\nname: par-child\nparams:\n  - X: ''\nsteps:\n"
        "  - name: work\n    command: echo ${X}\n    output: OUT\n"
    )


def wide_yaml(n: int) -> str:
    steps = "".join(f"  - name: s{i}\n    command: 'true'\n" for i in range(n))
    return f"name: wide{n}\nmaxActiveSteps: {n}\nsteps:\n{steps}"


MAKERS: dict[str, Callable[[int], str]] = {
    "one": one_yaml,
    "chain": chain_yaml,
    "par": par_yaml,
    "wide": wide_yaml,
}


def write_workloads(folder: Path, size: int, kinds: set[str]) -> dict[str, tuple[str, Path]]:
    """{label: (kind, workflow file)}: the shared files when they are there (chain100,
    par100, one), else made to the same shape."""
    folder.mkdir(parents=True)
    files: dict[str, tuple[str, Path]] = {}
    for kind, make in MAKERS.items():
        if kind not in kinds:
            continue
        label = kind if kind == "one" else f"{kind}{size}"
        path = folder / f"{label}.yaml"
        shared = SHARED / f"{label}.yaml"
        path.write_text(shared.read_text() if shared.is_file() else make(size))
        files[label] = (kind, path)
    return files


def queue_yaml() -> str:
    return "name: load\nqueue: q\nmaxActiveRuns: 100000\nsteps:\n  - name: s\n    command: 'true'\n"


# --------------------------------------------------------------------- backends


class Backend:
    """One store: its home, the environment of the plait processes that use it."""

    def __init__(self, label: str, root: Path, url: str | None) -> None:
        self.label = label
        self.url = url
        self.root = root
        (root / "dags").mkdir(parents=True)
        (root / "config.yaml").write_text(f"queues:\n  - name: q\n    maxConcurrency: {LIMIT}\n")
        (root / "dags" / "load.yaml").write_text(queue_yaml())
        env = {k: v for k, v in os.environ.items() if k not in ("PLAIT_DATABASE_URL",)}
        env["PLAIT_HOME"] = str(root)
        env.pop("PLAIT_DAGS_DIR", None)
        if url:
            env["PLAIT_DATABASE_URL"] = url
        self.env = env

    def plait(self, *args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
        """One plait command: (wall seconds, its result)."""
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "plait", *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return time.perf_counter() - began, done

    @contextmanager
    def store(self) -> Iterator[RunStore]:
        """The store, opened as plait opens it (``plait.app.open_store``)."""
        from plait.app import open_store
        from plait.store import Home

        saved = os.environ.pop("PLAIT_DATABASE_URL", None)
        if self.url:
            os.environ["PLAIT_DATABASE_URL"] = self.url
        try:
            store = open_store(Home(root=self.root, dags_dir=self.root / "dags"))
        finally:
            os.environ.pop("PLAIT_DATABASE_URL", None)
            if saved is not None:
                os.environ["PLAIT_DATABASE_URL"] = saved
        try:
            yield store
        finally:
            store.close()


class Failures:
    def __init__(self) -> None:
        self.count = 0

    def check(self, what: str, done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode != 0:
            self.count += 1
            print(f"FAILED: {what}: exit {done.returncode}\n{done.stdout[-2000:]}"
                  f"{done.stderr[-2000:]}", file=sys.stderr, flush=True)  # fmt: skip


# --------------------------------------------------------------------- measuring


def time_starts(
    backends: list[Backend], path: Path, repeat: int, cwd: Path, failures: Failures
) -> dict[str, float]:
    """Median wall seconds of ``plait start`` per backend, after one warm-up run each."""
    walls: dict[str, list[float]] = {b.label: [] for b in backends}
    for backend in backends:
        _, done = backend.plait("start", "-q", str(path), cwd=cwd)
        failures.check(f"{backend.label}: warm-up of {path.stem}", done)
    for i in range(repeat):
        for backend in backends if i % 2 == 0 else backends[::-1]:
            wall, done = backend.plait("start", "-q", str(path), cwd=cwd)
            failures.check(f"{backend.label}: {path.stem}", done)
            walls[backend.label].append(wall)
    return {label: statistics.median(values) for label, values in walls.items()}


def queue_drain(
    backend: Backend, queued: int, cwd: Path, failures: Failures
) -> tuple[float, float, float | None]:
    """(enqueue seconds, drain seconds, busy seconds from the first start to the last end in
    the store's times) of ``queued`` runs through ``plait enqueue`` and ``plait scheduler``."""
    load = backend.root / "dags" / "load.yaml"
    began = time.perf_counter()
    for i in range(queued):
        _, done = backend.plait("enqueue", str(load), cwd=cwd)
        failures.check(f"{backend.label}: enqueue {i + 1}", done)
    enqueue = time.perf_counter() - began
    print(f"queue: {backend.label}: {queued} plait enqueue in {enqueue:.1f} s", flush=True)
    with backend.store() as store, open(backend.root / "scheduler.log", "wb") as log:
        browse = store.browse()
        began = time.perf_counter()
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "plait", "scheduler"],
            env=backend.env,
            cwd=cwd,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + max(300.0, queued * 2.0)
        try:
            while True:
                time.sleep(0.1)
                counts = browse.count_by_status()
                if counts.get("queued", 0) + counts.get("running", 0) == 0:
                    break
                if scheduler.poll() is not None:
                    failures.count += 1
                    print(f"FAILED: {backend.label}: plait scheduler exited "
                          f"{scheduler.returncode}", file=sys.stderr)  # fmt: skip
                    break
                if time.monotonic() > deadline:
                    failures.count += 1
                    print(f"FAILED: {backend.label}: runs still open: {counts}", file=sys.stderr)
                    break
            drain = time.perf_counter() - began
        finally:
            scheduler.send_signal(signal.SIGTERM)
            try:
                scheduler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                scheduler.kill()
                scheduler.wait()
        runs = store.list_runs("load", limit=queued + 10, roots_only=True)
    good = [r for r in runs if str(r.status) == "succeeded"]
    if len(good) != queued:
        failures.count += 1
        statuses = sorted({str(r.status) for r in runs})
        print(f"FAILED: {backend.label}: {len(good)} of {queued} queued runs succeeded "
              f"({len(runs)} found, statuses {statuses}); see {backend.root / 'scheduler.log'}",
              file=sys.stderr)  # fmt: skip
    starts = [r.started_at for r in good if r.started_at]
    ends = [r.finished_at for r in good if r.finished_at]
    busy = max(ends) - min(starts) if starts and ends else None
    print(f"queue: {backend.label}: drained by plait scheduler in {drain:.1f} s", flush=True)
    return enqueue, drain, busy


# --------------------------------------------------------------------- the database


@contextmanager
def postgres_url(given: str | None) -> Iterator[tuple[str, str]]:
    """(a URL of a database to use, where it comes from)."""
    if given:
        yield given, "given"
        return
    sys.path.insert(0, str(ROOT))
    from tests.pg import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.new_database(), ("PLAIT_TEST_DATABASE_URL" if server.external else
                                      "private server (tests/pg.py, fsync off)")  # fmt: skip
    finally:
        server.stop()


def redacted(url: str) -> str:
    from plait.store.postgres import redacted as hide

    return hide(url)


# --------------------------------------------------------------------- the report


Row = tuple[str, str, int, float, float, float, float]  # label, kind, runs, s, s, /s, /s


def table(rows: list[Row]) -> str:
    head = ("workload", "runs", "SQLite s", "PostgreSQL s", "SQLite runs/s", "PG runs/s",
            "PG/SQLite")  # fmt: skip
    lines = [
        f"{head[0]:<26} {head[1]:>5} {head[2]:>9} {head[3]:>12} {head[4]:>13} {head[5]:>10} "
        f"{head[6]:>9}"
    ]
    for name, _, runs, sqlite_s, pg_s, sqlite_rate, pg_rate in rows:
        lines.append(
            f"{name:<26} {runs:>5} {sqlite_s:>9.3f} {pg_s:>12.3f} {sqlite_rate:>13.2f} "
            f"{pg_rate:>10.2f} {pg_s / sqlite_s:>8.2f}x"
        )
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each start")
    parser.add_argument("--queued", type=int, default=1000, help="runs through the queue")
    parser.add_argument("--url", help="the PostgreSQL database (default: PLAIT_DATABASE_URL)")
    parser.add_argument("--only", default="", help=f"some of {','.join(KINDS)}")
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the same path")
    args = parser.parse_args()
    size = 3 if args.smoke else 100
    if args.smoke:
        args.repeat, args.queued = 1, 5
    wanted = set(args.only.split(",")) if args.only else set(KINDS)
    if wanted - set(KINDS):
        parser.error(f"--only: not a workload: {','.join(sorted(wanted - set(KINDS)))}")
    given = args.url or os.environ.get("PLAIT_DATABASE_URL")
    failures = Failures()
    rows: list[Row] = []
    print(f"load average at start: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="plait-bench-store-") as name:
        tmp = Path(name)
        files = write_workloads(tmp / "workloads", size, wanted)
        with postgres_url(given) as (url, origin):
            sqlite = Backend("sqlite", tmp / "sqlite-home", None)
            pg = Backend("postgresql", tmp / "pg-home", url)
            with pg.store() as store:
                held = sum(store.browse().count_by_status().values())
            if held:
                print(f"{redacted(url)} holds {held} runs: give an empty database",
                      file=sys.stderr)  # fmt: skip
                return 2
            print(f"PostgreSQL: {redacted(url)} ({origin}); SQLite: {sqlite.root / 'plait.db'}")
            backends = [sqlite, pg]
            for label, (kind, path) in files.items():
                walls = time_starts(backends, path, args.repeat, tmp, failures)
                rows.append(
                    (label, kind, args.repeat, walls["sqlite"], walls["postgresql"],
                     1 / walls["sqlite"], 1 / walls["postgresql"])
                )  # fmt: skip
                print(f"{label}: sqlite {walls['sqlite']:.3f} s, postgresql "
                      f"{walls['postgresql']:.3f} s", flush=True)  # fmt: skip
            if "queue" in wanted:
                n = args.queued
                queue = {b.label: queue_drain(b, n, tmp, failures) for b in backends}
                (se, sd, sb), (pe, pd, pb) = queue["sqlite"], queue["postgresql"]
                rows.append((f"queue: enqueue {n}", "queue", n, se, pe, n / se, n / pe))
                rows.append((f"queue: drain {n}", "queue", n, sd, pd, n / sd, n / pd))
                if sb and pb:
                    rows.append((f"queue: drain {n} (busy)", "queue", n, sb, pb, n / sb, n / pb))
    print()
    print(table(rows))
    print(f"load average at end: {load_average()} ({os.cpu_count()} CPUs)")
    for name, kind, _, sqlite_s, pg_s, _, _ in rows:
        if kind in TARGETS and not args.smoke:
            verdict = "within" if pg_s <= 2 * sqlite_s else "OVER"
            print(f"target PostgreSQL <= 2x SQLite, {name}: {pg_s / sqlite_s:.2f}x, {verdict}")
    if failures.count:
        print(f"{failures.count} failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
