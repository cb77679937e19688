"""The SQLite store's read-only views: the shared SQL, and SQLite's ``data_version`` as the
mark that something changed (read on a connection of its own: the mark of the store's own
connection ignores its own commits)."""

from __future__ import annotations

import sqlite3
import threading

from plait.store.sql_browse import SQLBrowse
from plait.store.sqlite import SQLiteStore

__all__ = ["SQLiteBrowse"]


class SQLiteBrowse(SQLBrowse):
    NOW_SQL = "((julianday('now') - 2440587.5) * 86400)"
    TIEBREAK = "rowid"  # the last column of every index: the index of children orders it

    def __init__(self, store: SQLiteStore) -> None:
        super().__init__(store)
        self._path = store.path
        self._version_lock = threading.Lock()
        self._version_db: sqlite3.Connection | None = None

    def change_mark(self) -> int:
        with self._version_lock:
            if self._version_db is None:
                self._version_db = sqlite3.connect(self._path, check_same_thread=False, timeout=30)
            (version,) = self._version_db.execute("PRAGMA data_version").fetchone()
        return int(version)

    def close(self) -> None:
        with self._version_lock:
            if self._version_db is not None:
                self._version_db.close()
                self._version_db = None
