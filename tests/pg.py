"""A private PostgreSQL for the tests: Debian's postgresql-15, started as the ``postgres`` user
(it refuses to run as root) in a temporary folder, listening on a Unix socket there and on a
free loopback port, stopped when the tests end. ``PLAIT_TEST_DATABASE_URL`` points the tests
at an existing server instead. Each test gets a database of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.servers import free_port

__all__ = ["PostgresServer", "pg_bin"]


def pg_bin(name: str) -> str:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(
            f"{name} is missing: scripts/test.sh installs Debian's postgresql (or set "
            "PLAIT_TEST_DATABASE_URL to a server of your own)"
        )
    return found


class PostgresServer:
    """One server for a test session; ``new_database()`` gives a fresh database's URL."""

    def __init__(self) -> None:
        self.external = os.environ.get("PLAIT_TEST_DATABASE_URL")
        self.root: Path | None = None
        self.port = 0
        self.base_url = self.external or ""

    def start(self) -> None:
        if self.external:
            return
        self.root = Path(tempfile.mkdtemp(prefix="plait-pg-"))
        data = self.root / "data"
        self.port = free_port()
        os.chmod(self.root, 0o777)
        as_postgres = _as_postgres()
        subprocess.run(
            [*as_postgres, pg_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        settings = (
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.root}'\nfsync = off\n"
            "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
        )
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(settings)
        self._pg_ctl("start")
        self.base_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """A new, empty database on the server: its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.base_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.base_url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if self.external or self.root is None:
            return
        subprocess.run(
            [*_as_postgres(), pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
             "-w", "stop"],
            capture_output=True,
            check=False,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server, wait, start it again (for fault tests)."""
        assert self.root is not None, "an external server is not restarted"
        self.kill()
        time.sleep(down_seconds)
        self._pg_ctl("start")

    def kill(self, mode: str = "fast") -> None:
        """Stop the server (for fault tests): "fast" as an operator would (open sessions are
        cut), "immediate" as a crash would — the tests' server commits asynchronously, so a
        crash loses its last commits."""
        assert self.root is not None, "an external server is not stopped"
        subprocess.run(
            [*_as_postgres(), pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m",
             mode, "-w", "stop"],
            capture_output=True,
            check=False,
        )  # fmt: skip

    def _pg_ctl(self, action: str) -> None:
        assert self.root is not None
        subprocess.run(
            [*_as_postgres(), pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-w", "-t",
             "60", "-l", str(self.root / "server.log"), action],
            check=True,
            capture_output=True,
        )  # fmt: skip


def _as_postgres() -> list[str]:
    """Run a PostgreSQL program as the ``postgres`` user when this is root."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]
