"""Fixtures shared by every test: a fresh PLAIT_HOME and ways to call the real CLI.

Every integration test that uses a home runs twice: on the embedded SQLite store, and on a
private PostgreSQL (a database of its own per test, see ``tests/pg.py``). A test marked
``sqlite_only`` runs on SQLite alone (``postgres_only``: on PostgreSQL alone); its mark says
why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plait.cli.main import main
from tests.cluster import Cluster
from tests.pg import PostgresServer

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


BACKENDS = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): runs on the SQLite store only, for the reason given"
    )
    config.addinivalue_line(
        "markers", "postgres_only(reason): runs on the PostgreSQL store only, for the reason given"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" not in metafunc.fixturenames:
        return
    integration = "tests/integration/" in str(metafunc.definition.path).replace("\\", "/")
    only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
    only_postgres = metafunc.definition.get_closest_marker("postgres_only") is not None
    backends = BACKENDS if integration and not only_sqlite else ("sqlite",)
    if only_postgres:
        backends = ("postgres",)
    metafunc.parametrize("store_backend", backends, indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL for this test process, started when first needed."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store the test's home uses: with "postgres", a new database of its own."""
    backend = str(getattr(request, "param", "sqlite"))
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        monkeypatch.setenv("PLAIT_DATABASE_URL", server.new_database())
    else:
        monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
    return backend


@pytest.fixture(autouse=True)
def _private_default_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reaches ``~/.plait``: one that does not ask for ``home`` still gets a home of
    its own (another checkout on the machine may have migrated the user's store)."""
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path_factory.mktemp("default-home") / "home"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_backend: str) -> Iterator[Path]:
    """A fresh, empty PLAIT_HOME; the working directory is the test's tmp folder."""
    root = tmp_path / "home"
    monkeypatch.setenv("PLAIT_HOME", str(root))
    monkeypatch.delenv("PLAIT_DAGS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    yield root


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    """write(name, yaml_text) -> Path: a dedented file in the test's tmp folder."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


@pytest.fixture
def cli(home: Path, capfd: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """cli(*args) -> Result: the real CLI, in this process."""

    def _cli(*args: str) -> Result:
        capfd.readouterr()
        code = main([str(a) for a in args])
        out, err = capfd.readouterr()
        return Result(code, out, err)

    return _cli


@pytest.fixture
def plait_bin(home: Path):  # type: ignore[no-untyped-def]
    """plait_bin(*args, timeout=60) -> Result: the installed command, as a subprocess."""

    def _run(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "plait", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return _run


@pytest.fixture
def cluster(home: Path, tmp_path: Path, store_backend: str) -> Iterator[Cluster]:
    """Workers, a scheduler and the CLI of one distributed setup (``tests.cluster``)."""
    made = Cluster(tmp_path)
    try:
        yield made
    finally:
        made.stop()
