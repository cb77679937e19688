"""The PostgreSQL store: the same logic as SQLite's (``SQLStore``) on a shared database, for
several schedulers, servers and agents on several hosts.

- psycopg 3, imported only when this store is opened (``PLAIT_DATABASE_URL`` or ``store.url``).
- One connection per store, guarded by a lock like SQLite's; lost, it is opened again at the
  next call, so a restarted database is picked up without restarting plait. Its errors come
  out as ``StoreError`` naming the database (never its password).
- Time comes from the database: its clock's offset from this host's is measured when the
  connection opens (and every minute), so every host writes the database's time.
- A claim takes a transaction-level advisory lock on its queue, so claims of one queue from
  any number of processes and hosts never interleave: a slot is never given twice.
- Migrations (``migrations/postgres``) run under a session advisory lock: two processes that
  start at once never migrate at once.
- The change mark counts the notifications of channel ``plait_changes`` (a trigger sends one
  at each commit that changes runs or steps).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from plait.errors import StoreError, StoreUnavailable
from plait.store.records import AGENT_LEASE_SECONDS
from plait.store.sql import SQLStore
from plait.store.sql_browse import SQLBrowse

__all__ = ["PostgresStore", "migration_files", "redacted"]

_MIGRATIONS = Path(__file__).with_name("migrations") / "postgres"
# How a connection finds out that the database is cut off (a network split, a host gone):
# TCP keepalives, and unacknowledged writes failing after a third of the lease (10 s at most),
# so that a call fails in time for the agent to stop its runs before its lease expires.
CONNECT_OPTIONS: dict[str, Any] = {
    "connect_timeout": max(2, min(10, int(AGENT_LEASE_SECONDS / 3))),
    "keepalives": 1,
    "keepalives_idle": max(1, min(10, int(AGENT_LEASE_SECONDS / 6))),
    "keepalives_interval": max(1, min(5, int(AGENT_LEASE_SECONDS / 10))),
    "keepalives_count": 3,
    "tcp_user_timeout": int(min(10.0, AGENT_LEASE_SECONDS / 3) * 1000),
}
_MIGRATION_LOCK = 727_001  # pg_advisory_lock key of plait's migrations
_OFFSET_EVERY_SECONDS = 60.0
_READERS = 4  # connections the read-only views of one process read through at most
_READER_WAIT_SECONDS = 3.0  # a read that gets no connection in this time: unreachable
_T = TypeVar("_T")
_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


def migration_files() -> list[Path]:
    """The numbered migrations of the PostgreSQL schema, in order."""
    return sorted(_MIGRATIONS.glob("*.sql"))


def redacted(url: str) -> str:
    """A database URL without its password, to name it in messages."""
    return _PASSWORD.sub(r"\1***@", url)


def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s").replace("/*+lock*/", "FOR SHARE")


class _Transaction:
    """What ``SQLStore`` writes through inside a transaction: sqlite3's connection API."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._connection

    def execute(self, sql: str, params: Iterable[object] = ()) -> psycopg.Cursor[Any]:
        return self._connection.execute(_placeholders(sql), tuple(params))

    def executemany(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with self._connection.cursor() as cursor:
            cursor.executemany(_placeholders(sql), rows)


class PostgresStore(SQLStore):
    """Runs, steps and child runs in a PostgreSQL database."""

    backend = "postgresql"

    def __init__(self, url: str, *, migrate: bool = True, patience: float = 0.0) -> None:
        self.url = url
        # how long a call waits for a database that cannot be reached (restarting) before it
        # fails; an agent mid-run waits, a command or a server says so at once
        self.patience = patience
        self.where = redacted(url)
        self._lock = threading.RLock()
        self._connection: psycopg.Connection[Any] | None = None
        self._offset = 0.0
        self._offset_at = 0.0
        self._browse: PostgresBrowse | None = None
        self._stop_listener: psycopg.Connection[Any] | None = None  # (the heartbeat thread's)
        with self._lock:
            self._live()
            if migrate:
                self._migrate()

    # ----------------------------------------------------------------- the connection

    def _live(self) -> psycopg.Connection[Any]:
        """The open connection, opened (again) when there is none or it broke."""
        connection = self._connection
        if connection is not None and not connection.closed and not connection.broken:
            if time.monotonic() - self._offset_at > _OFFSET_EVERY_SECONDS:
                self._measure_offset(connection)
            return connection
        try:
            connection = psycopg.connect(self.url, autocommit=True, **CONNECT_OPTIONS)
        except psycopg.Error as error:
            raise StoreUnavailable(
                f"{self.where}: cannot reach the store: {_short(error)}"
            ) from None
        self._connection = connection
        self._measure_offset(connection)
        return connection

    def _measure_offset(self, connection: psycopg.Connection[Any]) -> None:
        before = time.time()
        row = connection.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
        after = time.time()
        assert row is not None
        self._offset = float(row[0]) - (before + after) / 2
        self._offset_at = time.monotonic()

    def _failed(self, error: psycopg.Error) -> StoreError:
        connection = self._connection
        lost = isinstance(error, psycopg.OperationalError) and (
            connection is None or connection.closed or connection.broken
        )
        if isinstance(error, psycopg.OperationalError) and connection is not None:
            try:
                connection.close()
            except psycopg.Error:
                pass
            self._connection = None  # the next call opens a new one
        if lost:
            return StoreUnavailable(f"{self.where}: lost the store: {_short(error)}")
        return StoreError(f"{self.where}: {_short(error)}")

    def _patiently(self, attempt: Callable[[], _T]) -> _T:
        """``attempt()``, again while the database cannot be reached, for ``patience``
        seconds (a statement that failed because the connection broke did not commit)."""
        deadline = time.monotonic() + self.patience
        delay = 0.1
        while True:
            try:
                return attempt()
            except StoreUnavailable:
                if time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def close(self) -> None:
        with self._lock:
            if self._stop_listener is not None:
                self._stop_listener.close()
                self._stop_listener = None
            if self._browse is not None:
                self._browse.close()
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def browse(self) -> PostgresBrowse:
        with self._lock:
            if self._browse is None:
                self._browse = PostgresBrowse(self)
            return self._browse

    # ----------------------------------------------------------------- what SQLStore needs

    @contextmanager
    def _transaction(self) -> Iterator[_Transaction]:
        with self._lock:
            connection = self._patiently(self._live)
            try:
                with connection.transaction():
                    yield _Transaction(connection)
            except psycopg.Error as error:
                raise self._failed(error) from None

    def _exec(self, sql: str, params: Iterable[object] = ()) -> None:
        values = tuple(params)

        def attempt() -> None:
            try:
                self._live().execute(_placeholders(sql), values)
            except psycopg.Error as error:
                raise self._failed(error) from None

        with self._lock:
            self._patiently(attempt)

    def _exec_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        def attempt() -> None:
            try:
                with self._live().cursor() as cursor:
                    cursor.executemany(_placeholders(sql), rows)
            except psycopg.Error as error:
                raise self._failed(error) from None

        with self._lock:
            self._patiently(attempt)

    def _all(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        values = tuple(params)

        def attempt() -> list[tuple[Any, ...]]:
            try:
                cursor = self._live().execute(_placeholders(sql), values)
                return cursor.fetchall() if cursor.description is not None else []
            except psycopg.Error as error:
                raise self._failed(error) from None

        with self._lock:
            return self._patiently(attempt)

    def _now(self) -> float:
        return time.time() + self._offset

    def _claim_lock(self, db: Any, queue: str) -> None:
        # one claim at a time, whatever the queue: a worker's slots and a workflow's
        # maxActiveRuns are shared by every queue
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", ("plait-claims",))

    # ----------------------------------------------------------------- workers

    HAS_WORKERS = True
    SHIPS_LOGS = True
    STOP_NOTIFY = "SELECT pg_notify('plait_stop', '')"

    def wait_for_stop_request(self, timeout: float) -> None:
        """Wait on a connection of its own that listens to ``plait_stop`` (what a stop sends
        when it commits); a database out of reach makes it sleep instead."""
        deadline = time.monotonic() + timeout
        try:
            listener = self._stop_listener
            if listener is None or listener.closed or listener.broken:
                listener = psycopg.connect(self.url, autocommit=True, **CONNECT_OPTIONS)
                listener.execute("LISTEN plait_stop")
                self._stop_listener = listener
            for _ in listener.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in listener.notifies(timeout=0):  # the others of the same moment
                pass
        except psycopg.Error:
            self._stop_listener = None
            time.sleep(max(0.0, deadline - time.monotonic()))

    def _clean_transport(self, db: Any, live_after: float) -> None:
        if (
            "plait.store.postgres_jobs" not in sys.modules
            and not db.execute("SELECT 1 FROM workers LIMIT 1").fetchone()
        ):
            return  # no worker was ever here: nothing was handed over (procrastinate unneeded)
        from plait.store import postgres_jobs

        postgres_jobs.clean(db.connection, live_after, postgres_jobs.STALLED_SECONDS)

    def _send_to_worker(self, db: Any, worker: str, run_id: str, epoch: int) -> None:
        from plait.store import postgres_jobs

        postgres_jobs.ensure_schema(db.connection, self.url)
        postgres_jobs.defer_run(db.connection, self.url, worker, run_id, epoch)

    def serve_worker(
        self,
        worker_id: str,
        slots: int,
        handle: Callable[[str, int], None],
        stopping: threading.Event,
    ) -> None:
        from plait.store import postgres_jobs

        with self._lock:
            postgres_jobs.ensure_schema(self._live(), self.url)
        try:
            postgres_jobs.serve(self.url, worker_id, slots, handle, stopping)
        except psycopg.Error as error:
            raise self._failed(error) from None

    # ----------------------------------------------------------------- migrations

    def _migrate(self) -> None:
        files = migration_files()
        connection = self._live()
        try:
            connection.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS plait_schema (version INTEGER NOT NULL)"
                )
                version = self._version(connection)
                if version > len(files):
                    raise StoreError(
                        f"{self.where}: the store was written by a newer plait (schema "
                        f"{version}, this plait knows {len(files)})"
                    )
                for number, file in enumerate(files, start=1):
                    if number <= version:
                        continue
                    with connection.transaction():
                        connection.execute(file.read_text())
                        connection.execute("DELETE FROM plait_schema")
                        connection.execute("INSERT INTO plait_schema VALUES (%s)", (number,))
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
        except psycopg.Error as error:
            raise self._failed(error) from None

    @staticmethod
    def _version(connection: psycopg.Connection[Any]) -> int:
        made = connection.execute("SELECT to_regclass('plait_schema') IS NOT NULL").fetchone()
        if made is None or not made[0]:
            return 0
        row = connection.execute("SELECT max(version) FROM plait_schema").fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    def schema_version(self) -> tuple[int, int]:
        """(the store's schema, the newest this plait knows)."""
        with self._lock:
            try:
                return self._version(self._live()), len(migration_files())
            except psycopg.Error as error:
                raise self._failed(error) from None

    def migrate(self) -> list[str]:
        """Apply the migrations the store lacks; the names of those applied."""
        before, _ = self.schema_version()
        with self._lock:
            self._migrate()
        return [f.name for f in migration_files()[before:]]

    def pending_migrations(self) -> list[str]:
        version, _ = self.schema_version()
        return [f.name for f in migration_files()[version:]]


class PostgresBrowse(SQLBrowse):
    """The read-only views, read through a pool of connections (psycopg-pool: the server's
    requests read at once, and none waits behind a write); the change mark counts
    notifications of ``plait_changes``."""

    NOW_SQL = "extract(epoch FROM now())"
    LIKE = "ILIKE"

    def __init__(self, store: PostgresStore) -> None:
        super().__init__(store)
        self._url = store.url
        self._where = store.where
        self._listen_lock = threading.Lock()
        self._listener: psycopg.Connection[Any] | None = None
        self._count = 0
        self._pool: Any = None

    def _readers(self) -> Any:
        with self._listen_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self._url,
                    min_size=1,
                    max_size=_READERS,
                    kwargs={"autocommit": True, **CONNECT_OPTIONS},
                    check=ConnectionPool.check_connection,  # a restarted database: reconnect
                    timeout=_READER_WAIT_SECONDS,
                    open=False,
                )
                self._pool.open(wait=False)
            return self._pool

    def _all(self, sql: str, args: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        from psycopg_pool import PoolTimeout

        try:
            with self._readers().connection() as connection:
                cursor = connection.execute(_placeholders(sql), tuple(args))
                return cursor.fetchall() if cursor.description is not None else []
        except PoolTimeout:
            raise StoreUnavailable(f"{self._where}: cannot reach the store") from None
        except psycopg.OperationalError as error:
            raise StoreUnavailable(f"{self._where}: lost the store: {_short(error)}") from None
        except psycopg.Error as error:
            raise StoreError(f"{self._where}: {_short(error)}") from None

    def change_mark(self) -> int:
        with self._listen_lock:
            try:
                listener = self._listener
                if listener is None or listener.closed or listener.broken:
                    listener = psycopg.connect(self._url, autocommit=True, **CONNECT_OPTIONS)
                    listener.execute("LISTEN plait_changes")
                    self._listener = listener
                    self._count += 1  # what happened while nobody listened is unknown
                for _ in listener.notifies(timeout=0, stop_after=1000):
                    self._count += 1
            except psycopg.Error as error:
                self._listener = None
                raise StoreError(f"{self._where}: {_short(error)}") from None
            return self._count

    def close(self) -> None:
        with self._listen_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _short(error: psycopg.Error) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
