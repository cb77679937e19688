"""Ranged reads of step logs: a window by byte offset, the first or last N lines.

Nothing reads a whole file: forward reads stop at ``limit`` bytes and a tail reads backwards
in blocks until it has its lines, so a 1 GB log answers as fast as a small one. A stream that
wrote nothing has no file: a missing file reads as an empty log. A log is a file on this
machine (its path, or a child run's small log in its root run's pack: a ref of
``plait.proc.logpack``) or a ``ShippedLog``: what the agent on another host copied into the
store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, BinaryIO

from plait.proc.logpack import PackedLog, parse_ref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "LogSource",
    "LogWindow",
    "ShippedLog",
    "read_head",
    "read_range",
    "read_tail",
    "utf8_complete",
]

DEFAULT_LIMIT = 64 * 1024
MAX_LIMIT = 16 * 1024 * 1024
_BLOCK = 64 * 1024


@dataclass(frozen=True, slots=True)
class LogWindow:
    """Bytes ``offset`` to ``next_offset`` of a file of ``size`` bytes."""

    content: bytes
    offset: int
    next_offset: int
    size: int
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "content": self.content.decode("utf-8", errors="replace"),
            "offset": self.offset,
            "nextOffset": self.next_offset,
            "size": self.size,
            "truncated": self.truncated,
        }


def utf8_complete(data: bytes) -> int:
    """The length of the longest prefix of ``data`` that does not end inside a character."""
    end = len(data)
    for back in range(1, min(4, end) + 1):
        byte = data[end - back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        if byte & 0x80 == 0:
            return end
        needed = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
        return end if back >= needed else end - back
    return end


_EMPTY = LogWindow(b"", 0, 0, 0, truncated=False)


@dataclass(frozen=True, slots=True)
class ShippedLog:
    """A log file of the run as its agent shipped it into the store (``path`` on its host);
    the file itself, when it is on this machine and nothing of it was shipped."""

    store: RunStore
    run_id: str
    path: str


LogSource = str | ShippedLog  # a file here, or a shipped one


class _File:
    """An open log file: its size when opened, seek and read."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.size = os.fstat(handle.fileno()).st_size

    def seek(self, position: int) -> None:
        self._handle.seek(position)

    def read(self, count: int) -> bytes:
        return self._handle.read(count)

    def close(self) -> None:
        self._handle.close()


class _Shipped(_File):
    """A shipped log read from the store by byte ranges."""

    def __init__(self, log: ShippedLog, size: int) -> None:
        self._log = log
        self.size = size
        self._at = 0

    def seek(self, position: int) -> None:
        self._at = position

    def read(self, count: int) -> bytes:
        end = min(self._at + count, self.size)
        data = self._log.store.read_log(self._log.run_id, self._log.path, self._at, end)
        self._at += len(data)
        return data

    def close(self) -> None:
        pass


class _Packed(_File):
    """A small log kept in its root run's pack (``plait.proc.logpack``)."""

    def __init__(self, log: PackedLog) -> None:
        self._handle = log  # type: ignore[assignment]
        self.size = log.size


def _open(source: LogSource) -> _File | None:
    if isinstance(source, ShippedLog):
        size = source.store.log_size(source.run_id, source.path)
        if size:
            return _Shipped(source, size)
        source = source.path
    try:
        ref = parse_ref(source)
        if ref is not None:
            return _Packed(PackedLog(*ref))
        return _File(open(source, "rb"))
    except FileNotFoundError:
        return None


def read_all(path: LogSource, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The whole log, a piece at a time (nothing when it has no file yet)."""
    opened = _open(path)
    if opened is None:
        return
    try:
        while data := opened.read(chunk):
            yield data
    finally:
        opened.close()


def read_range(path: LogSource, offset: int, limit: int) -> LogWindow:
    """Up to ``limit`` bytes from ``offset`` (negative: from the end), cut at a character."""
    opened = _open(path)
    if opened is None:
        return _EMPTY
    with closing(opened) as handle:
        size = handle.size
        start = max(0, size + offset) if offset < 0 else min(offset, size)
        handle.seek(start)
        data = handle.read(limit)
    if start + len(data) < size:
        data = data[: utf8_complete(data)] or data
    end = start + len(data)
    return LogWindow(data, start, end, size, truncated=end < size)


def read_head(path: LogSource, lines: int, offset: int, limit: int) -> LogWindow:
    """The first ``lines`` lines from ``offset`` (at most ``limit`` bytes)."""
    opened = _open(path)
    if opened is None:
        return _EMPTY
    with closing(opened) as handle:
        size = handle.size
        start = min(max(offset, 0), size)
        handle.seek(start)
        chunks: list[bytes] = []
        seen = taken = 0
        while seen < lines and taken < limit:
            block = handle.read(min(_BLOCK, limit - taken))
            if not block:
                break
            cut = _after_nth_newline(block, lines - seen)
            if cut is not None:
                chunks.append(block[:cut])
                taken += cut
                break
            seen += block.count(b"\n")
            chunks.append(block)
            taken += len(block)
    data = b"".join(chunks)
    if start + len(data) < size:
        data = data[: utf8_complete(data)] or data
    end = start + len(data)
    return LogWindow(data, start, end, size, truncated=end < size)


def read_tail(path: LogSource, lines: int, limit: int) -> LogWindow:
    """The last ``lines`` lines (a final line without newline counts), at most ``limit`` bytes."""
    opened = _open(path)
    if opened is None:
        return _EMPTY
    with closing(opened) as handle:
        size = handle.size
        if size == 0 or lines <= 0:
            return LogWindow(b"", size, size, size, truncated=size > 0)
        handle.seek(size - 1)
        # the newline before the first wanted line bounds it; a final newline starts no line
        wanted = lines + (handle.read(1) == b"\n")
        position, taken, newlines = size, 0, 0
        chunks: list[bytes] = []
        while position > 0 and taken < limit:
            step = min(_BLOCK, position, limit - taken)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            count = block.count(b"\n")
            if newlines + count >= wanted:
                cut = _after_nth_newline_from_end(block, wanted - newlines)
                chunks.append(block[cut:])
                position += cut
                break
            newlines += count
            chunks.append(block)
            taken += step
    chunks.reverse()
    data = b"".join(chunks)
    lead = len(data) - len(data.lstrip(bytes(range(0x80, 0xC0))))  # cut inside a character
    return LogWindow(data[lead:], position + lead, size, size, truncated=position + lead > 0)


def _after_nth_newline(block: bytes, n: int) -> int | None:
    at = -1
    for _ in range(n):
        at = block.find(b"\n", at + 1)
        if at < 0:
            return None
    return at + 1


def _after_nth_newline_from_end(block: bytes, n: int) -> int:
    at = len(block)
    for _ in range(n):
        at = block.rfind(b"\n", 0, at)
    return at + 1
