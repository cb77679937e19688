"""Read-only SQL peeks at a home's store, on whichever backend the test runs (the tables and
columns are the same on both): for tests that watch the store from outside while plait runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["Peek"]


class Peek:
    """``Peek(home).rows(sql, *args)``: ``?`` placeholders, on SQLite or PostgreSQL."""

    def __init__(self, home: Path) -> None:
        self.url = os.environ.get("PLAIT_DATABASE_URL", "")
        self.path = home / "plait.db"
        self._conn: Any = None

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        if self._conn is None:
            if self.url:
                import psycopg

                self._conn = psycopg.connect(self.url, autocommit=True)
            else:
                self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        if self.url:
            return list(self._conn.execute(sql.replace("?", "%s"), args).fetchall())
        return list(self._conn.execute(sql, args).fetchall())

    def one(self, sql: str, *args: object) -> Any:
        (value,) = self.rows(sql, *args)[0]
        return value

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Peek:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
