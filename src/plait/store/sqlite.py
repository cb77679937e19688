"""The SQLite store: one database file in WAL mode, every state change one transaction.

One connection is shared by the threads of an agent behind a lock; the logic is ``SQLStore``'s.
Migrations are the numbered files of ``migrations/sqlite``, applied in one transaction (the
schema's number is ``PRAGMA user_version``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from plait.errors import StoreError
from plait.store.sql import SQLStore, run_filter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.sqlite_browse import SQLiteBrowse

__all__ = ["SQLiteStore", "migration_files", "run_filter"]

_MIGRATIONS = Path(__file__).with_name("migrations") / "sqlite"


def migration_files() -> list[Path]:
    """The numbered migrations of the SQLite schema, in order."""
    return sorted(_MIGRATIONS.glob("*.sql"))


class SQLiteStore(SQLStore):
    """Runs, steps and child runs in ``plait.db``."""

    backend = "sqlite"

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._lock = threading.RLock()
        self._browse: SQLiteBrowse | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if migrate:
                self._migrate()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: cannot open the store: {error}") from None

    # ----------------------------------------------------------------- plumbing

    def close(self) -> None:
        with self._lock:
            if self._browse is not None:
                self._browse.close()
            self._db.close()

    def browse(self) -> SQLiteBrowse:
        """The read-only views, sharing this store's connection."""
        with self._lock:
            if self._browse is None:
                from plait.store.sqlite_browse import SQLiteBrowse

                self._browse = SQLiteBrowse(self)
            return self._browse

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction; SQLite's own errors (locked too long, disk full) come out as a
        StoreError that names the store."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {error}") from None
            try:
                yield self._db
            except BaseException as error:
                self._db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise StoreError(f"{self.path}: {error}") from None
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {error}") from None

    def _migrate(self) -> None:
        files = migration_files()
        latest = len(files)
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == latest:
            return
        if version > latest:
            raise StoreError(
                f"{self.path}: the store was written by a newer plait (schema {version}, "
                f"this plait knows {latest})"
            )
        with self._transaction() as db:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            for number, file in enumerate(files, start=1):
                if number > version:
                    for statement in file.read_text().split(";\n"):
                        if statement.strip():
                            db.execute(statement)
            db.execute(f"PRAGMA user_version = {latest}")

    def _exec(self, sql: str, params: Iterable[object] = ()) -> None:
        with self._lock:
            try:
                self._db.execute(sql, tuple(params))
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {error}") from None

    def _exec_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with self._lock:
            try:
                self._db.executemany(sql, rows)
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {error}") from None

    def _all(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {error}") from None

    def _now(self) -> float:
        return time.time()

    def schema_version(self) -> tuple[int, int]:
        """(the store's schema, the newest this plait knows)."""
        with self._lock:
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
        return int(version), len(migration_files())

    def migrate(self) -> list[str]:
        """Apply the migrations the store lacks; the names of those applied."""
        before, _ = self.schema_version()
        self._migrate()
        return [f.name for f in migration_files()[before:]]

    def pending_migrations(self) -> list[str]:
        version, _ = self.schema_version()
        return [f.name for f in migration_files()[version:]]
