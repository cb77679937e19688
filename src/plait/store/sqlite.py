"""The SQLite store: one database file in WAL mode, every state change one transaction.

One connection is shared by the threads of an agent behind a lock; the logic is ``SQLStore``'s.
Migrations are the numbered files of ``migrations/sqlite``, applied in one transaction (the
schema's number is ``PRAGMA user_version``).

Faults, said plainly: a full disk is "disk full" — and ``plait.db-reserve``, 1 MiB set aside
beside the database while there is room, is given up at the first full-disk write, so that
the write, and the failure of the run it belonged to, can still be recorded. A database file
deleted (or replaced) while plait has it open is noticed at the next call, which fails; a
replaced file is opened again for the calls after. A home that cannot be written (a read-only
disk) is still read: status, history and logs work.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from plait.errors import StoreError
from plait.store.sql import SQLStore, run_filter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from plait.store.sqlite_browse import SQLiteBrowse

__all__ = ["SQLiteStore", "migration_files", "run_filter"]

_MIGRATIONS = Path(__file__).with_name("migrations") / "sqlite"
_RESERVE_BYTES = 1024 * 1024


def migration_files() -> list[Path]:
    """The numbered migrations of the SQLite schema, in order."""
    return sorted(_MIGRATIONS.glob("*.sql"))


class SQLiteStore(SQLStore):
    """Runs, steps and child runs in ``plait.db``."""

    backend = "sqlite"

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self.patience = 0.0  # a file is there or it is not: nothing to wait for
        self.reserve = self.path.with_name(self.path.name + "-reserve")
        self._lock = threading.RLock()
        self._browse: SQLiteBrowse | None = None
        self.read_only = False
        self._identity = (0, 0)
        self._db = self._connect(migrate)

    def _connect(self, migrate: bool) -> sqlite3.Connection:
        try:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # a read-only home that has a store: read it
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as error:
                if not _read_only(error):
                    raise
                db.close()
                db = self._connect_read_only()
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            stat = os.stat(self.path)
            self._identity = (stat.st_dev, stat.st_ino)
            if migrate and not self.read_only:
                self._db = db
                self._migrate()
            if not self.read_only:
                self._keep_reserve()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: cannot open the store: {_said(error)}") from None
        except OSError as error:
            raise StoreError(f"{self.path}: cannot open the store: {error.strerror}") from None
        return db

    def _connect_read_only(self) -> sqlite3.Connection:
        """The store of a home that cannot be written: read through SQLite's immutable mode
        (nothing else may write it meanwhile, which a read-only disk ensures)."""
        self.read_only = True
        uri = f"file:{self.path}?mode=ro&immutable=1"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)

    def _keep_reserve(self) -> None:
        """Set 1 MiB aside beside the database while the disk has room (see above)."""
        if self.reserve.exists():
            return
        try:
            fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return
        try:
            os.posix_fallocate(fd, 0, _RESERVE_BYTES)
        except OSError:
            os.close(fd)
            self.reserve.unlink(missing_ok=True)  # no room for it now: another time
            return
        os.close(fd)

    def _check(self) -> None:
        """Fail, clearly, when the database file was deleted or replaced under us."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreError(
                f"{self.path}: the store file was deleted while plait had it open"
            ) from None
        except OSError:
            return
        if (stat.st_dev, stat.st_ino) != self._identity and not self.read_only:
            try:
                self._db.close()
            finally:
                self._db = self._connect(True)  # the calls after use the file there now
            raise StoreError(f"{self.path}: the store file was replaced while plait had it open")

    def _failure(self, error: sqlite3.Error) -> StoreError:
        return StoreError(f"{self.path}: {_said(error)}")

    def _write(self, attempt: Any) -> Any:
        """One write statement; on a full disk the reserve is given up and it is tried again."""
        self._check()
        try:
            return attempt()
        except sqlite3.Error as error:
            if not (_full(error) and self._release_reserve()):
                raise self._failure(error) from None
        try:
            return attempt()
        except sqlite3.Error as error:
            raise self._failure(error) from None

    def _release_reserve(self) -> bool:
        try:
            self.reserve.unlink()
        except OSError:
            return False
        return True

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
            self._check()
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise self._failure(error) from None
            try:
                yield self._db
            except BaseException as error:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # a full disk may have ended the transaction already
                if isinstance(error, sqlite3.Error):
                    if _full(error):
                        self._release_reserve()  # the next write (the run's failure) fits
                    raise self._failure(error) from None
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                if _full(error):
                    self._release_reserve()
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise self._failure(error) from None

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
        values = tuple(params)
        with self._lock:
            self._write(lambda: self._db.execute(sql, values))

    def _exec_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with self._lock:
            self._write(lambda: self._db.executemany(sql, rows))

    def _all(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            self._check()
            try:
                return self._db.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as error:
                raise self._failure(error) from None

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


def _full(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(
        error
    )


def _read_only(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or "readonly" in str(error)


def _said(error: sqlite3.Error) -> str:
    """SQLite's message, with a full disk called what it is."""
    if _full(error):
        return f"disk full ({error})"
    if isinstance(error, sqlite3.OperationalError) and "readonly" in str(error):
        return f"the store cannot be written here: {error}"
    return str(error)
