"""Compiled workflow files, kept by their text: a file loaded again unchanged is read back
without YAML parsing or checks (``plait start`` of a file run before does not import PyYAML; a
scheduler with thousands of files reads them in a fraction of a second).

An entry is the pickle of a file's text and what it builds (its workflows), named by checksums
of plait's code (the files of ``plait.model`` and ``plait.spec``), the file's path and its
text; it is used only when the text it holds is the file's text, byte for byte, so a changed
file, a moved one or another plait never reads an old entry (checksums load in no time, where a
cryptographic hash cost more than it saved). Pickles run code when read, so entries are only
read from a folder that this user owns and nobody else can write to; entries are written 0600,
atomically. A file with problems is never kept: its errors are found again, with their lines.
"""

from __future__ import annotations

import os
import pickle
import time
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.model import Workflow

__all__ = ["forget_unused", "keep", "lookup", "use_folder"]

_folder: str | None = None
KEEP_UNUSED_SECONDS = 30 * 86400  # an entry not written again for this long is deleted
# How often such entries are looked for: at the first write of a process when the last look
# (the mtime of the file ``<folder>.pruned`` beside the folder) is older than this. (A look
# reads the whole folder: made at a share of all writes, compiling 5,000 new files took
# fifty looks at thousands of entries.)
PRUNE_EVERY_SECONDS = 86400
_pruned = False


def use_folder(path: str | os.PathLike[str] | None) -> None:
    """Keep compiled files in ``path`` (made 0700 if missing); None: keep none. A folder that
    another user owns or can write to is not used."""
    global _folder, _pruned
    _folder = None
    _pruned = False
    if path is None:
        return
    folder = os.fspath(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
    except OSError:
        return  # a read-only home: files are compiled each time
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return
    _folder = folder


_code: str | None = None


def _code_stamp() -> str:
    """What the compiled form depends on: the files of ``plait.model`` and ``plait.spec`` (their
    names, sizes and modification times), so that a changed plait never reads old entries."""
    global _code
    if _code is None:
        here = os.path.dirname(os.path.abspath(__file__))
        parts = []
        for folder in (here, os.path.join(os.path.dirname(here), "model")):
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.endswith(".py"):
                            info = entry.stat()
                            parts.append(f"{entry.name}:{info.st_size}:{info.st_mtime_ns}")
            except OSError:
                parts.append(folder)
        _code = f"{zlib.crc32(chr(0).join(sorted(parts)).encode()):08x}"
    return _code


def _key(source: str) -> str:
    from plait.spec import cron

    # a cron line croniter cannot read passes the form check alone: two entries, one a check
    checks = "full" if cron.FULL_CHECK else "form"
    return f"{_code_stamp()}\0{checks}\0{source}"


def _entry(key: str, text: str) -> str | None:
    if _folder is None:
        return None
    data = text.encode()
    name = f"{zlib.crc32(key.encode()):08x}{zlib.crc32(data):08x}{zlib.adler32(data):08x}"
    return os.path.join(_folder, f"{name}{len(data):x}.pickle")


def lookup(text: str, source: str) -> list[Workflow] | None:
    """The workflows ``text`` (the file at ``source``) was compiled to before, or None."""
    key = _key(source)
    entry = _entry(key, text)
    if entry is None:
        return None
    try:
        with open(entry, "rb") as handle:
            kept = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # a torn or foreign entry: compile again, and write it anew
        return None
    if not (isinstance(kept, tuple) and len(kept) == 3 and kept[:2] == (key, text)):
        return None  # another text with the same checksum
    workflows = kept[2]
    return workflows if isinstance(workflows, list) else None


def keep(text: str, source: str, workflows: list[Workflow]) -> None:
    """Keep what ``text`` compiled to; a cache that cannot be written is no error."""
    key = _key(source)
    entry = _entry(key, text)
    if entry is None:
        return
    temporary = f"{entry}.{os.getpid()}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            pickle.dump((key, text, workflows), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
    except Exception:  # a full disk, a workflow that does not pickle: compile next time
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return
    global _pruned
    if not _pruned:
        _pruned = True
        _prune_if_due()


def _prune_if_due() -> None:
    if _folder is None:
        return
    mark = _folder.rstrip(os.sep) + ".pruned"
    now = time.time()
    try:
        if now - os.stat(mark).st_mtime < PRUNE_EVERY_SECONDS:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        with open(mark, "w"):
            pass
        os.utime(mark, (now, now))
    except OSError:
        return
    forget_unused(now)


def forget_unused(now: float | None = None) -> int:
    """Delete the entries not written for ``KEEP_UNUSED_SECONDS``; returns how many."""
    if _folder is None:
        return 0
    limit = (time.time() if now is None else now) - KEEP_UNUSED_SECONDS
    gone = 0
    try:
        names = os.listdir(_folder)
    except OSError:
        return 0
    for name in names:
        path = os.path.join(_folder, name)
        try:
            if os.stat(path).st_mtime < limit:
                os.unlink(path)
                gone += 1
        except OSError:
            continue
    return gone
