"""``archive``: ``command: create | extract | list`` on tar, tar.gz (tgz) and zip files.

Settings: ``source``, ``destination``, ``format`` (else from the file name), ``include`` /
``exclude`` (glob patterns, ``**`` for any depth, matched against paths inside the archive),
``overwrite``, ``preservePaths`` (true), ``stripComponents``, ``compressionLevel``, ``dryRun``,
``verbose``, ``followSymlinks``, ``verifyIntegrity``, ``continueOnError``. The result is one
JSON document on stdout (as the reference writes it). Extraction never writes outside the
destination. Exit codes as the reference: 2 settings, 3 source missing, 4 destination, 5 format,
6 extract, 7 create, 12 corrupted.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

from plait.runtime.executors import ExecutorFailure, StepIO

__all__ = ["run"]


def run(io: StepIO) -> int:
    operation = io.command().strip().lower()
    config = io.config()
    if operation not in ("create", "extract", "list"):
        raise ExecutorFailure(
            f"archive: the command must be create, extract or list, not {operation!r}", 2
        )
    if config.get("password"):
        raise ExecutorFailure("archive: encrypted archives (password) are not supported", 2)
    began = time.monotonic()
    source = _path(io, config.get("source"))
    if operation == "create":
        result = _create(io, config, source)
    elif operation == "extract":
        result = _extract(io, config, source)
    else:
        result = _list(config, source)
    if operation != "list":
        result["duration"] = f"{time.monotonic() - began:.3f}s"
    io.out(json.dumps(result, indent=2) + "\n")
    return 1 if result.get("errors") and not config.get("continueOnError") else 0


def _path(io: StepIO, value: object) -> Path:
    if not value:
        raise ExecutorFailure("archive: `source` is required", 2)
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else Path(io.cwd) / path


def _format(config: dict[str, Any], path: Path) -> str:
    given = str(config.get("format") or "").lower()
    if given:
        return "tar.gz" if given == "tgz" else given
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if name.endswith(".tar"):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    raise ExecutorFailure(f"archive: cannot tell the format of {path.name}; set `format`", 5)


def _matches(name: str, config: dict[str, Any]) -> bool:
    include = [str(p) for p in config.get("include") or []]
    exclude = [str(p) for p in config.get("exclude") or []]
    if include and not any(_glob(p, name) for p in include):
        return False
    return not any(_glob(p, name) for p in exclude)


def _glob(pattern: str, name: str) -> bool:
    """``**`` matches any number of folders; other wildcards stay within one."""
    if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(os.path.basename(name), pattern):
        return True
    if "**/" in pattern:
        return fnmatch.fnmatchcase(name, pattern.replace("**/", "")) or fnmatch.fnmatchcase(
            name, pattern.replace("**/", "*/")
        )
    return False


def _create(io: StepIO, config: dict[str, Any], source: Path) -> dict[str, Any]:
    if not source.exists():
        raise ExecutorFailure(f"archive: the source {source} does not exist", 3)
    if not config.get("destination") and not config.get("dryRun"):
        raise ExecutorFailure("archive: `destination` is required to create an archive", 2)
    destination = _path(io, config.get("destination") or f"{source}.tar.gz")
    kind = _format(config, destination)
    follow = bool(config.get("followSymlinks"))
    root = source if source.is_dir() else source.parent
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    chosen = [(p, p.relative_to(root).as_posix()) for p in files]
    chosen = [(p, name) for p, name in chosen if _matches(name, config)]
    if not config.get("preservePaths", True):
        chosen = [(p, os.path.basename(name)) for p, name in chosen]
    total = sum(p.stat().st_size for p, _ in chosen)
    if not config.get("dryRun"):
        if destination.exists() and not config.get("overwrite"):
            raise ExecutorFailure(f"archive: {destination} exists (set `overwrite: true`)", 4)
        destination.parent.mkdir(parents=True, exist_ok=True)
        level = int(config.get("compressionLevel", -1))
        try:
            _write(kind, destination, chosen, level, follow)
        except OSError as error:
            raise ExecutorFailure(f"archive: cannot write {destination}: {error}", 7) from None
        if config.get("verbose"):
            for _, name in chosen:
                io.err(f"added {name}\n")
        if config.get("verifyIntegrity"):
            _verify(kind, destination)
    return {
        "operation": "create",
        "source": str(source),
        "destination": str(destination),
        "filesAdded": len(chosen),
        "bytesArchived": total,
        "verifyPerformed": bool(config.get("verifyIntegrity")),
    }


def _write(
    kind: str, destination: Path, chosen: list[tuple[Path, str]], level: int, follow: bool
) -> None:
    if kind == "zip":
        compress = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(
            destination, "w", compress, compresslevel=None if level < 0 else level
        ) as out:
            for path, name in chosen:
                out.write(path, name)
        return
    mode = "w:gz" if kind == "tar.gz" else "w"
    options: dict[str, Any] = {"dereference": follow}
    if kind == "tar.gz" and level >= 0:
        options["compresslevel"] = level
    with tarfile.open(destination, mode, **options) as tar:  # type: ignore[call-overload]
        for path, name in chosen:
            tar.add(path, arcname=name, recursive=False)


def _verify(kind: str, path: Path) -> None:
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                if archive.testzip() is not None:
                    raise ExecutorFailure(f"archive: {path} is corrupted", 12)
        else:
            with tarfile.open(path) as tar:
                for member in tar:
                    if member.isfile():
                        handle = tar.extractfile(member)
                        if handle is not None:
                            while handle.read(1 << 20):
                                pass
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:
        raise ExecutorFailure(f"archive: {path} is corrupted: {error}", 12) from None


def _members(kind: str, path: Path) -> list[tuple[str, int, bool, float, int]]:
    """(name, size, is folder, mtime, mode) of each entry."""
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            return [
                (
                    i.filename,
                    i.file_size,
                    i.is_dir(),
                    time.mktime((*i.date_time, 0, 0, -1)),
                    (i.external_attr >> 16) & 0o7777,
                )
                for i in archive.infolist()
            ]
    with tarfile.open(path) as tar:
        return [(m.name, m.size, m.isdir(), float(m.mtime), m.mode) for m in tar.getmembers()]


def _list(config: dict[str, Any], source: Path) -> dict[str, Any]:
    if not source.is_file():
        raise ExecutorFailure(f"archive: the source {source} does not exist", 3)
    kind = _format(config, source)
    try:
        members = [m for m in _members(kind, source) if _matches(m[0], config)]
    except (tarfile.TarError, zipfile.BadZipFile) as error:
        raise ExecutorFailure(f"archive: {source} is corrupted: {error}", 12) from None
    entries = [
        {
            "path": name,
            "size": size,
            "mode": oct(mode),
            "modTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime)),
            "isDir": is_dir,
        }
        for name, size, is_dir, mtime, mode in members
    ]
    return {
        "operation": "list",
        "source": str(source),
        "totalFiles": sum(1 for e in entries if not e["isDir"]),
        "totalSize": sum(size for _, size, is_dir, _, _ in members if not is_dir),
        "files": entries,
    }


def _extract(io: StepIO, config: dict[str, Any], source: Path) -> dict[str, Any]:
    if not source.is_file():
        raise ExecutorFailure(f"archive: the source {source} does not exist", 3)
    kind = _format(config, source)
    destination = _path(io, config.get("destination") or ".")
    strip = int(config.get("stripComponents") or 0)
    preserve = bool(config.get("preservePaths", True))
    counts = {"extracted": 0, "skipped": 0, "bytes": 0}
    errors: list[str] = []
    if not config.get("dryRun"):
        destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    try:
        with _Reader(kind, source) as reader:
            for name, size, is_dir in reader.entries():
                if is_dir or not _matches(name, config):
                    continue
                target = _target(root, destination, name, strip, preserve)
                if target is None:
                    errors.append(f"{name}: outside the destination, skipped")
                    continue
                if target == root:
                    continue
                if target.exists() and not config.get("overwrite"):
                    counts["skipped"] += 1
                    continue
                if not config.get("dryRun"):
                    reader.copy(name, target)
                if config.get("verbose"):
                    io.err(f"extracted {name}\n")
                counts["extracted"] += 1
                counts["bytes"] += size
    except (tarfile.TarError, zipfile.BadZipFile) as error:
        raise ExecutorFailure(f"archive: {source} is corrupted: {error}", 12) from None
    except OSError as error:
        raise ExecutorFailure(f"archive: cannot extract into {destination}: {error}", 6) from None
    result: dict[str, Any] = {
        "operation": "extract",
        "source": str(source),
        "destination": str(destination),
        "filesExtracted": counts["extracted"],
        "bytesExtracted": counts["bytes"],
        "filesSkipped": counts["skipped"],
        "verifyPerformed": False,
    }
    if errors:
        result["errors"] = errors
    return result


def _target(root: Path, destination: Path, name: str, strip: int, preserve: bool) -> Path | None:
    """Where ``name`` goes, or None when it would land outside the destination."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")][strip:]
    if not parts:
        return root
    relative = "/".join(parts) if preserve else parts[-1]
    target = (destination / relative).resolve()
    return target if target == root or root in target.parents else None


class _Reader:
    """One pass over a tar or zip archive: its entries, and the copy of one of them."""

    def __init__(self, kind: str, source: Path) -> None:
        self.kind = kind
        self.source = source
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None

    def __enter__(self) -> _Reader:
        if self.kind == "zip":
            self._zip = zipfile.ZipFile(self.source)
        else:
            self._tar = tarfile.open(self.source)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def entries(self) -> list[tuple[str, int, bool]]:
        if self._zip is not None:
            return [(i.filename, i.file_size, i.is_dir()) for i in self._zip.infolist()]
        assert self._tar is not None
        return [(m.name, m.size, m.isdir()) for m in self._tar.getmembers()]

    def copy(self, name: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if self._zip is not None:
            with self._zip.open(name) as inner, open(target, "wb") as out:
                while chunk := inner.read(1 << 20):
                    out.write(chunk)
            return
        assert self._tar is not None
        member = self._tar.getmember(name)
        handle = self._tar.extractfile(member)
        if handle is None:  # a link or a device: not extracted
            return
        with handle, open(target, "wb") as out:
            while chunk := handle.read(1 << 20):
                out.write(chunk)
        os.chmod(target, member.mode & 0o777)
