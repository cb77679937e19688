"""The small logs of child runs, kept together: one pack file in the root run's log folder.

A fan-out of 100,000 items would leave a file for every stream of every item that wrote
something, most of them a line or two. While a step runs, its logs are files as always (they
are followed live and the step is told their paths); when a child run ends, each log of its
steps of at most ``PACK_LIMIT`` bytes is appended to ``logs.pack`` of its root run's folder,
its file is removed, and its step's record names the log as ``PACK:OFFSET:LENGTH`` (a *ref*).
Everything that reads a log reads a ref as the file it was. Bigger logs stay files.

Appends are serialised by a lock of the process and ``flock`` on the pack (another process
of the same root appends safely). The order keeps the store consistent when plait is killed
at any instant: the bytes are written, then the records name them, then the files go; a
pack may end with bytes nothing names, never the reverse.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

__all__ = ["PACK_LIMIT", "PACK_NAME", "LogPack", "PackedLog", "parse_ref", "read_start"]

PACK_NAME = "logs.pack"
PACK_LIMIT = 64 * 1024  # a log bigger than this stays a file of its own


def parse_ref(path: str) -> tuple[str, int, int] | None:
    """``(pack, offset, length)`` of a ref; None for the path of a plain file."""
    base, _, rest = path.rpartition(".pack:")
    if not base:
        return None
    offset, _, length = rest.partition(":")
    if not (offset.isdigit() and length.isdigit()):
        return None
    return f"{base}.pack", int(offset), int(length)


class PackedLog:
    """A log in a pack, read as a file of its own: size, seek, read."""

    def __init__(self, pack: str, offset: int, length: int) -> None:
        self._handle = open(pack, "rb")  # noqa: SIM115 (closed by close())
        self._start = offset
        self.size = length
        self._at = 0

    def seek(self, position: int) -> None:
        self._at = max(0, min(position, self.size))

    def read(self, count: int = -1) -> bytes:
        left = self.size - self._at
        count = left if count < 0 else min(count, left)
        if count <= 0:
            return b""
        self._handle.seek(self._start + self._at)
        data = self._handle.read(count)
        self._at += len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def read_start(path: str, limit: int) -> bytes:
    """The first ``limit`` bytes of a log (a file or a ref); OSError when it cannot be read."""
    ref = parse_ref(path)
    if ref is None:
        with open(path, "rb") as handle:
            return handle.read(limit)
    log = PackedLog(*ref)
    try:
        return log.read(limit)
    finally:
        log.close()


class LogPack:
    """The pack of one root run's folder, open for appending while the run goes on."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, PACK_NAME)
        self._lock = threading.Lock()
        self._fd: int | None = None

    def add(self, paths: Iterable[str]) -> dict[str, str]:
        """Append the small files among ``paths`` (once each; a missing file is skipped): the
        ref of each by its path. The files stay until ``remove`` (after the records say)."""
        pieces: list[tuple[str, bytes]] = []
        for path in dict.fromkeys(paths):
            if parse_ref(path) is not None:
                continue
            try:
                with open(path, "rb") as handle:
                    data = handle.read(PACK_LIMIT + 1)
            except OSError:
                continue
            if data and len(data) <= PACK_LIMIT:
                pieces.append((path, data))
        if not pieces:
            return {}
        import fcntl

        blob = b"".join(data for _, data in pieces)
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                except OSError:
                    return {}
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                start = os.fstat(self._fd).st_size
                view = memoryview(blob)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError:  # a full disk: the logs stay files (what was written names nothing)
                return {}
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        refs: dict[str, str] = {}
        for path, data in pieces:
            refs[path] = f"{self.path}:{start}:{len(data)}"
            start += len(data)
        return refs

    @staticmethod
    def remove(paths: Iterable[str]) -> None:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
