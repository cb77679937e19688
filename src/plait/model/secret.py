"""Secrets kept secret: every known secret value is replaced by ``*******`` wherever plait
writes or shows text — step logs, outputs, the store, the API, the terminal.

A value is a secret when it comes from ``secrets:``, or when the name of the environment
variable or param holding it says so: it ends in ``_TOKEN``, ``_PASSWORD``, ``_SECRET`` or
``_KEY`` (or is ``TOKEN``, ``PASSWORD`` or ``SECRET``), in any case. A value found by its name
is masked only from 4 characters on: ``USE_KEY=1`` must not mask every ``1`` of a log.

Streams are masked as they are written, and a secret split across two writes is still
masked: the masker holds back the last bytes of a write that could begin a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["MASK", "Masker", "StreamMasker", "is_secret_name", "secrets_by_name"]

MASK = "*******"
_MASK_BYTES = MASK.encode()
_SECRET_SUFFIXES = ("_TOKEN", "_PASSWORD", "_SECRET", "_KEY")
_SECRET_NAMES = frozenset({"TOKEN", "PASSWORD", "SECRET"})
_NAMED_MIN_LENGTH = 4


def is_secret_name(name: str) -> bool:
    """Whether a variable called ``name`` holds a secret by the naming rule."""
    upper = name.upper()
    return upper.endswith(_SECRET_SUFFIXES) or upper in _SECRET_NAMES


def secrets_by_name(variables: Mapping[str, str]) -> list[str]:
    """The values of ``variables`` that the naming rule makes secret."""
    return [
        value
        for name, value in variables.items()
        if len(value) >= _NAMED_MIN_LENGTH and is_secret_name(name)
    ]


class Masker:
    """Replaces known secret values (longest first, so one inside another is masked whole)."""

    __slots__ = ("_bytes", "_pattern", "longest", "values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        known = sorted({v for v in values if v}, key=len, reverse=True)
        self.values: tuple[str, ...] = tuple(known)
        self._pattern = re.compile("|".join(map(re.escape, known))) if known else None
        encoded = [v.encode("utf-8", "surrogateescape") for v in known]
        self._bytes = (
            re.compile(b"|".join(re.escape(v) for v in sorted(encoded, key=len, reverse=True)))
            if encoded
            else None
        )
        self.longest = max((len(v) for v in encoded), default=0)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def with_values(self, values: Iterable[str]) -> Masker:
        """This masker and ``values`` too (itself when nothing is new)."""
        more = [v for v in values if v and v not in self.values]
        return Masker((*self.values, *more)) if more else self

    def text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def data(self, data: bytes) -> bytes:
        if self._bytes is None:
            return data
        return self._bytes.sub(_MASK_BYTES, data)

    def stream(self) -> StreamMasker:
        return StreamMasker(self)


class StreamMasker:
    """Masks a stream written in pieces: ``feed`` returns what can be written now, ``flush``
    the rest at the end."""

    __slots__ = ("_held", "_masker")

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        pattern = self._masker._bytes
        if pattern is None:
            return data
        buffer = self._held + data
        # Bytes from `safe` on could be the start of a secret that the next write completes.
        safe = max(len(buffer) - (self._masker.longest - 1), 0)
        out: list[bytes] = []
        position = 0
        for match in pattern.finditer(buffer):
            if match.start() >= safe:
                break
            out.append(buffer[position : match.start()])
            out.append(_MASK_BYTES)
            position = match.end()
        cut = max(safe, position)
        out.append(buffer[position:cut])
        self._held = buffer[cut:]
        return b"".join(out)

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return self._masker.data(held)
