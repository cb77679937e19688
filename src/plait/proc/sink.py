"""Where a step's stdout or stderr goes: its log file, masked and capped.

The file is created at the first byte, so a stream that writes nothing leaves no file. Past
the cap (per attempt and stream) the file ends with a line saying where it was cut; the step
goes on and what it writes after is counted, not kept.
"""

from __future__ import annotations

import errno
import os

from plait.model.secret import Masker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object

__all__ = ["DEFAULT_LOG_CAP", "LogSink", "Shipping", "cut_notice"]

DEFAULT_LOG_CAP = 100 * 1024 * 1024


def cut_notice(cap: int) -> bytes:
    notice = f"[plait: log cut here at {cap} bytes (the step's log cap); the rest is not kept]"
    return f"\n{notice}\n".encode()


class Shipping(Protocol):
    """Where a sink also sends what it writes to its file (the store, for other hosts)."""

    def ship(self, path: str, start: int, data: bytes) -> None: ...

    def done(self, path: str) -> None: ...


class LogSink:
    """One stream of one step attempt, written as it arrives."""

    __slots__ = ("_fd", "_masker", "_ship", "cap", "cut", "error", "path", "written")

    def __init__(
        self,
        path: str,
        masker: Masker | None = None,
        cap: int = DEFAULT_LOG_CAP,
        ship: Shipping | None = None,
    ) -> None:
        self.path = path
        self.cap = cap
        self._ship = ship  # told each write, with the offset it landed at in the file
        self._masker = masker.stream() if masker else None
        self._fd: int | None = None
        self.written = 0  # bytes kept in the file
        self.cut = False
        self.error: str | None = None  # the file could not be written (disk full ...)

    def write(self, data: bytes) -> None:
        if self._masker is not None:
            data = self._masker.feed(data)
        self._keep(data)

    def close(self) -> None:
        if self._masker is not None:
            self._keep(self._masker.flush())
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._ship is not None:
            self._ship.done(self.path)

    def abandon(self) -> None:
        """Close the file without writing what the masker holds (another process goes on)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._ship is not None:
            self._ship.done(self.path)

    def _keep(self, data: bytes) -> None:
        if not data or self.cut or self.error is not None:
            return
        room = self.cap - self.written
        if len(data) > room:
            self._append(data[:room] + cut_notice(self.cap))
            self.written = self.cap
            self.cut = True
            return
        self._append(data)
        self.written += len(data)

    def _append(self, data: bytes) -> None:
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                if self._ship is not None:  # O_APPEND: the write ended where the offset is
                    end = os.lseek(self._fd, 0, os.SEEK_CUR)
                    self._ship.ship(self.path, end - written, bytes(view[:written]))
                view = view[written:]
        except OSError as error:  # the stream is still drained, so the step is not blocked
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                self.error = f"disk full: cannot write the log {self.path}"
            else:
                self.error = f"cannot write the log {self.path}: {error.strerror}"
