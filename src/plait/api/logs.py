"""Ranged reads of step logs: a window by byte offset, the first or last N lines.

Nothing reads a whole file: forward reads stop at ``limit`` bytes and a tail reads backwards
in blocks until it has its lines, so a 1 GB log answers as fast as a small one. A stream that
wrote nothing has no file: a missing file reads as an empty log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, BinaryIO

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "LogWindow",
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


def _open(path: str) -> BinaryIO | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def read_range(path: str, offset: int, limit: int) -> LogWindow:
    """Up to ``limit`` bytes from ``offset`` (negative: from the end), cut at a character."""
    opened = _open(path)
    if opened is None:
        return _EMPTY
    with opened as handle:
        size = os.fstat(handle.fileno()).st_size
        start = max(0, size + offset) if offset < 0 else min(offset, size)
        handle.seek(start)
        data = handle.read(limit)
    if start + len(data) < size:
        data = data[: utf8_complete(data)] or data
    end = start + len(data)
    return LogWindow(data, start, end, size, truncated=end < size)


def read_head(path: str, lines: int, offset: int, limit: int) -> LogWindow:
    """The first ``lines`` lines from ``offset`` (at most ``limit`` bytes)."""
    opened = _open(path)
    if opened is None:
        return _EMPTY
    with opened as handle:
        size = os.fstat(handle.fileno()).st_size
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


def read_tail(path: str, lines: int, limit: int) -> LogWindow:
    """The last ``lines`` lines (a final line without newline counts), at most ``limit`` bytes."""
    opened = _open(path)
    if opened is None:
        return _EMPTY
    with opened as handle:
        size = os.fstat(handle.fileno()).st_size
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
