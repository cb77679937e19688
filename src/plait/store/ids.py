"""Run ids: new ones (time-ordered) and the rule for ones a person gives."""

from __future__ import annotations

import os
import re
import time

from plait.errors import ParamsError

__all__ = ["check_run_id", "new_run_id"]

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}")


def check_run_id(run_id: str) -> str:
    """A run id given by a person: it names files and folders, so it must be a plain name."""
    if not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ParamsError(
            f"run id {run_id!r} is not allowed: use letters, digits and . _ : + - "
            "(at most 128, starting with a letter or digit, no '..')"
        )
    return run_id


def new_run_id() -> str:
    """A time-ordered UUID (version 7 layout) as text."""
    millis = int(time.time() * 1000)
    rand = bytearray(os.urandom(10))
    rand[0] = (rand[0] & 0x0F) | 0x70
    rand[2] = (rand[2] & 0x3F) | 0x80
    raw = f"{millis:012x}{rand.hex()}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"
