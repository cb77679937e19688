"""Faults of the store, each said plainly and nothing lost: the database going away mid-run
(PostgreSQL stopped, then started again; the SQLite file deleted), a disk that fills during a
run, a home on a read-only disk.

Small disks are tmpfs mounts (the tests run as root, as the test command does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.pg import PostgresServer
from tests.servers import plait_server

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path`` for the block's time."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _plait(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plait", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _status(*args: str) -> dict[str, object]:
    done = _plait("status", "--json", *args)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text and "internal error" not in text, text


# ------------------------------------------------------------------------- a full disk


@ROOT_ONLY
def test_a_disk_that_fills_during_a_run_is_recorded_as_disk_full(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_backend: str
) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        monkeypatch.setenv("PLAIT_HOME", str(disk / "home"))
        flow = tmp_path / "fill.yaml"
        flow.write_text(
            "name: fill\nsteps:\n"
            "  - name: big\n    command: sh -c 'head -c 6000000 /dev/zero | tr \"\\0\" a'\n"
            "  - name: after\n    command: echo after\n"
        )
        done = _plait("start", str(flow))
        _no_traceback(done.stdout, done.stderr)
        assert done.returncode == 1, done.stdout + done.stderr
        record = _status("fill")
        assert record["status"] == "failed"
        assert "disk full" in str(record["error"]), record["error"]
        steps = {s["name"]: s for s in record["steps"]}  # type: ignore[attr-defined]
        assert "disk full" in steps["big"]["error"]
        assert steps["after"]["status"] == "upstream_failed"
        # the store still takes writes once there is room again
        for leftover in (disk / "home" / "logs").rglob("*.out"):
            leftover.unlink()
        small = tmp_path / "small.yaml"
        small.write_text("name: small\nsteps:\n  - name: s\n    command: echo fits\n")
        again = _plait("start", "-q", str(small))
        assert again.returncode == 0, again.stdout + again.stderr


def test_a_full_disk_is_called_disk_full_by_the_store(tmp_path: Path) -> None:
    """SQLite's own full-disk error, and the reserve that lets the write after it land."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small disk needs root")
    from plait.model import RunRecord, RunStatus, StepRecord
    from plait.store.sqlite import SQLiteStore

    with small_disk(tmp_path / "disk", "3m") as disk:
        store = SQLiteStore(disk / "plait.db")
        try:
            assert store.reserve.exists()
            run = RunRecord(run_id="r", name="w", status=RunStatus.RUNNING, created_at=1.0)
            store.create_run(run, [StepRecord(name="a", position=0)])
            filler = disk / "filler"
            with open(filler, "wb") as out:  # the disk full, to the last byte
                try:
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
                except OSError:
                    pass
            big = "x" * 400_000
            store.update_step("r", StepRecord(name="a", position=0, output=big))
            assert not store.reserve.exists()  # given up for this write
            assert store.get_run("r").steps[0].output == big
        finally:
            store.close()


# ------------------------------------------------------------------------- the database goes away

SLOW = """
name: slow
steps:
  - name: first
    command: echo first
  - name: wait
    command: sh -c 'while [ ! -f {gate} ]; do sleep 0.1; done; echo waited'
  - name: last
    command: echo last
"""


@contextmanager
def _slow_run_and_server(
    tmp_path: Path,
) -> Iterator[tuple[httpx.Client, subprocess.Popen[str], Path, Path]]:
    """A server, and a ``plait start`` whose step waits until the file ``gate`` exists."""
    gate = tmp_path / "gate"
    flow = tmp_path / "slow.yaml"
    flow.write_text(SLOW.format(gate=gate))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "slow.yaml").write_text(SLOW.format(gate=gate))
    with plait_server(tmp_path, dags) as (url, _):
        client = httpx.Client(base_url=url, timeout=30, headers={"X-Plait-Request": "1"})
        agent = subprocess.Popen(
            [sys.executable, "-m", "plait", "start", str(flow)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield client, agent, flow, gate
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            client.close()


@pytest.mark.sqlite_only(reason="the PostgreSQL side is the test below")
def test_the_sqlite_file_deleted_mid_run_is_said_plainly(
    home: Path, tmp_path: Path, store_backend: str
) -> None:
    with _slow_run_and_server(tmp_path) as (client, agent, _flow, gate):
        _wait_for(lambda: client.get("/api/v1/runs").json()["runs"], 60, "the run to be listed")
        for name in ("plait.db", "plait.db-wal", "plait.db-shm"):
            (home / name).unlink(missing_ok=True)
        gate.write_text("")
        out, err = agent.communicate(timeout=60)
        _no_traceback(out, err)
        assert agent.returncode != 0
        assert "the store file was deleted" in out + err, out + err
        listed = client.get("/api/v1/runs")
        assert listed.status_code == 503, listed.text
        assert "deleted" in listed.json()["error"]
        started = client.post("/api/v1/workflows/slow/start", json={})
        assert started.status_code == 503  # no new start on a store that is gone


@pytest.mark.postgres_only(reason="it stops and starts the tests' own PostgreSQL server")
def test_postgresql_stopped_mid_run_is_said_plainly_and_the_run_goes_on_when_it_is_back(
    home: Path, tmp_path: Path, postgres: PostgresServer, store_backend: str
) -> None:
    if postgres.external:
        pytest.skip("PLAIT_TEST_DATABASE_URL: an outside server is not stopped by the tests")
    with _slow_run_and_server(tmp_path) as (client, agent, flow, gate):
        _wait_for(
            lambda: any(
                s["status"] == "running"
                for r in client.get("/api/v1/runs").json()["runs"]
                for s in client.get(f"/api/v1/runs/{r['runId']}").json()["steps"]
            ),
            60,
            "the step that waits to run",
        )
        postgres.kill()
        try:
            # a new start is refused, plainly; the server answers 503 and says why
            refused = _plait("start", str(flow))
            _no_traceback(refused.stdout, refused.stderr)
            assert refused.returncode != 0
            assert "cannot reach the store" in refused.stderr, refused.stderr
            down = client.get("/api/v1/runs")
            assert down.status_code == 503, down.text
            assert "store" in down.json()["error"]
            gate.write_text("")  # the step ends while the database is down
            time.sleep(1.0)
        finally:
            postgres.restart()
        out, err = agent.communicate(timeout=90)
        _no_traceback(out, err)
        assert agent.returncode == 0, out + err
        up = _wait_for(
            lambda: (r := client.get("/api/v1/runs")).status_code == 200 and r, 30, "the server"
        )
        (run,) = up.json()["runs"]
        assert run["status"] == "succeeded"


# ------------------------------------------------------------------------- a read-only disk


@ROOT_ONLY
@pytest.mark.sqlite_only(reason="a read-only home holds the SQLite store")
def test_a_read_only_home_still_serves_status_history_and_logs(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_backend: str
) -> None:
    with small_disk(tmp_path / "disk", "16m") as disk:
        monkeypatch.setenv("PLAIT_HOME", str(disk / "home"))
        flow = tmp_path / "hello.yaml"
        flow.write_text("name: hello\nsteps:\n  - name: greet\n    command: echo hello-there\n")
        assert _plait("start", "-q", str(flow)).returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        status = _plait("status", "hello")
        _no_traceback(status.stdout, status.stderr)
        assert status.returncode == 0 and "succeeded" in status.stdout, status.stderr
        history = _plait("history", "hello", "--json")
        assert history.returncode == 0, history.stderr
        assert len(json.loads(history.stdout)) == 1
        logs = _plait("logs", "hello", "--step", "greet")
        assert logs.returncode == 0 and "hello-there" in logs.stdout, logs.stderr
        refused = _plait("start", str(flow))
        _no_traceback(refused.stdout, refused.stderr)
        assert refused.returncode != 0
