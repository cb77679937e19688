"""Every benchmark of ``bench/`` still runs: each script's ``--smoke`` mode (a tiny run of its
own code path, seconds long) must exit 0. A new script in ``bench/`` is covered by being there.

The scripts get a clean environment (no ``PLAIT_HOME``, ``PLAIT_DAGS_DIR`` or
``PLAIT_DATABASE_URL`` of the caller); those that compare the store backends
(``NEEDS_POSTGRES``) get a fresh database of the session's private PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py"))
NEEDS_POSTGRES = {"store.py", "workers.py"}
TIMEOUT = 300.0
CALLERS = ("PLAIT_HOME", "PLAIT_DAGS_DIR", "PLAIT_DATABASE_URL")


def test_there_are_benchmarks() -> None:
    assert SCRIPTS, f"no scripts in {BENCH}"


@pytest.mark.timeout(TIMEOUT + 60)
@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_smoke(script: str, request: pytest.FixtureRequest) -> None:
    env = {k: v for k, v in os.environ.items() if k not in CALLERS}
    if script in NEEDS_POSTGRES:
        server: PostgresServer = request.getfixturevalue("postgres")
        env["PLAIT_DATABASE_URL"] = server.new_database()
    process = subprocess.Popen(
        [sys.executable, str(BENCH / script), "--smoke"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its servers and schedulers are stopped with it
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"bench/{script} --smoke ran over {TIMEOUT:.0f} s\n{out}\n{err}")
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything it left behind
        except ProcessLookupError:
            pass
    assert process.returncode == 0, (
        f"bench/{script} --smoke exited {process.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"
    )
