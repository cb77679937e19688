"""The workflows of the DAGs folder: listed, found by name, described as JSON.

The workflow files are the ``*.yaml``/``*.yml`` files of the folder and of its subfolders (at
most ``MAX_DEPTH`` deep and ``MAX_FILES`` files; hidden folders and ``node_modules`` are
skipped). A file's first document is its workflow; later documents are children that only its
workflow runs, found by name but never listed or started. A file (or symlink) that resolves
outside the folder is ignored.

A name is looked up among those files, never joined onto a path. A ``file`` given with a name is
resolved inside the folder, and anything that resolves outside it (``..``, an absolute path
elsewhere, a symlink out) is not found, so no request can reach outside the folder. A file that
does not load is listed with its error, not dropped.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plait.errors import NotFoundError, PlaitError, Problem, SpecError
from plait.model import UNLIMITED_ACTIVE_RUNS, ItemsFrom, Parallel, Step, Workflow, iso_time
from plait.spec.discover import (
    MAX_DEPTH,
    MAX_FILES,
    SKIPPED_FOLDERS,
    SUFFIXES,
    find_workflow,
    workflow_paths,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_FILES",
    "Entry",
    "catalogue",
    "describe",
    "find_entry",
    "new_entry_path",
    "next_run",
    "params_json",
    "relative_file",
    "save_atomically",
]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One workflow: a document of a workflow file, or why the file does not load.

    ``file`` is the file's path relative to the DAGs folder (``ci/build.yaml``), ``document``
    the index of the workflow's document in it (0: the file's own workflow).
    """

    name: str
    path: Path
    workflow: Workflow | None
    error: str | None = None
    problems: tuple[Problem, ...] = ()
    file: str = ""
    document: int = 0

    @property
    def folder(self) -> str:
        """The subfolder of the DAGs folder the file is in ('' at the top)."""
        head, _, _ = self.file.rpartition("/")
        return head


def _documents(path: Path, dags_dir: Path) -> list[Entry]:
    """One entry per document of the file (one with the error if it does not load)."""
    from plait.spec.loader import load_all_cached

    rel = path.relative_to(dags_dir).as_posix()
    try:
        workflows = load_all_cached(str(path))
    except SpecError as error:
        return [Entry(path.stem, path, None, error.message, tuple(error.problems), rel)]
    except (PlaitError, OSError, ValueError) as error:
        return [Entry(path.stem, path, None, str(error), (), rel)]
    return [Entry(w.name, path, w, None, (), rel, i) for i, w in enumerate(workflows)]


# The entries of each file by its path, with the modification time and size they were read at:
# a list of thousands of workflows reads again only the files that changed.
_KNOWN: dict[tuple[str, str], tuple[int, int, list[Entry]]] = {}  # by (folder, file)


def _entries(dags_dir: Path) -> Iterator[Entry]:
    root = str(dags_dir)
    for path in workflow_paths(dags_dir):
        try:
            stat = os.stat(path)
        except OSError:
            continue
        known = _KNOWN.get((root, path))
        if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
            yield from known[2]
            continue
        entries = _documents(Path(path), dags_dir)
        _KNOWN[(root, path)] = (stat.st_mtime_ns, stat.st_size, entries)
        yield from entries


def catalogue(dags_dir: Path) -> list[Entry]:
    """The workflow of every file of the folder tree: the top-level files first, each group
    sorted by name (later documents of a file are its children and are not listed)."""
    entries = [e for e in _entries(dags_dir) if e.document == 0]
    return sorted(entries, key=lambda e: (e.folder != "", e.folder, e.name, e.file))


def find_entry(dags_dir: Path, name: str, file: str | None = None) -> Entry:
    """The workflow called ``name``: in ``file`` (a path inside the folder) when given, else
    the one the name means by the rule of ``plait.spec.discover.find_workflow`` (the file
    ``name``.yaml first, then the workflow with ``name:``), as for the CLI.

    Raises:
        NotFoundError: no such workflow, or ``file`` is not a workflow file inside the folder.
    """
    if file is not None:
        path = _inside(dags_dir, file)
        documents = _documents(path, dags_dir)
        for entry in documents:
            if entry.name == name:
                return entry
        if name in (path.stem, path.name):
            return documents[0]
        raise NotFoundError(f"no workflow named {name!r} in {file}")
    found = find_workflow(dags_dir, name)
    if found is not None:
        path, document = found
        documents = _documents(path, dags_dir)
        if document < len(documents):
            return documents[document]
    raise NotFoundError(f"no workflow named {name!r} in {dags_dir}")


def _inside(dags_dir: Path, file: str) -> Path:
    """``file`` (relative to the folder, or absolute) if it is a workflow file inside it."""
    missing = NotFoundError(f"no workflow file {file!r} in {dags_dir}")
    if not file or "\0" in file or not file.endswith(SUFFIXES):
        raise missing
    try:
        root = dags_dir.resolve()
        path = (root / file).resolve()
    except (OSError, RuntimeError, ValueError):
        raise missing from None
    if not path.is_relative_to(root) or not path.is_file():
        raise missing
    rel = path.relative_to(root)
    if any(part.startswith(".") or part in SKIPPED_FOLDERS for part in rel.parts):
        raise missing
    return dags_dir / rel


def relative_file(dags_dir: Path, source: str | None) -> str | None:
    """A run's ``source`` relative to the DAGs folder (``ci/build.yaml``), None outside it."""
    if not source:
        return None
    rel = os.path.relpath(os.path.abspath(source), os.path.abspath(dags_dir))
    if rel == os.curdir or rel.startswith(os.pardir) or os.path.isabs(rel):
        return None
    return Path(rel).as_posix()


def new_entry_path(dags_dir: Path, name: str) -> Path:
    """Where a new workflow called ``name`` is saved.

    Raises:
        NotFoundError: the name cannot be a file name (it could reach outside the folder).
    """
    if not _SAFE_NAME.match(name) or ".." in name:
        raise NotFoundError(
            f"no workflow named {name!r}; a new workflow's name may use letters, digits, "
            "'_', '-' and '.'"
        )
    return dags_dir / (name if name.endswith(SUFFIXES) else f"{name}.yaml")


def save_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def params_json(workflow: Workflow) -> list[dict[str, Any]]:
    shown = []
    for p in workflow.params:
        entry: dict[str, Any] = {"name": p.name, "default": p.value}
        if p.typed or p.description:
            entry.update(
                type=p.type,
                required=p.required,
                description=p.description,
                enum=None if p.choices is None else list(p.choices),
            )
        shown.append(entry)
    return shown


def next_run(lines: tuple[str, ...], timezone: str | None, now: float | None = None) -> str | None:
    """The next time any of the schedule ``lines`` fires (cron, ``@every``, ``CRON_TZ=``),
    ISO 8601 UTC, as the scheduler computes it; None when no line can be read."""
    from plait.scheduler.cron import next_fires

    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    times: list[datetime] = []
    for line in lines:
        try:
            times.extend(next_fires(line, moment, 1, timezone))
        except (PlaitError, ValueError, KeyError, OSError):
            continue
    return iso_time(min(times).timestamp()) if times else None


def describe(entry: Entry) -> dict[str, Any]:
    """A workflow as the API shows it: fields, params and steps with their effective depends;
    ``path`` is its file relative to the DAGs folder, ``document`` its document in the file."""
    from plait.graph import effective_depends

    workflow, path = entry.workflow, entry.path
    assert workflow is not None

    depends = effective_depends(workflow)
    return {
        "name": workflow.name,
        "file": str(path),
        "path": entry.file,
        "document": entry.document,
        "description": workflow.description,
        "tags": list(workflow.tags),
        "group": workflow.group,
        "type": str(workflow.type),
        "params": params_json(workflow),
        "schedule": list(workflow.schedule.start),
        "queue": workflow.queue,
        "maxActiveRuns": (
            -1 if workflow.max_active_runs >= UNLIMITED_ACTIVE_RUNS else workflow.max_active_runs
        ),
        "runConfig": {
            "disableParamEdit": bool(workflow.run_config.get("disable_param_edit")),
            "disableRunIdEdit": bool(workflow.run_config.get("disable_run_id_edit")),
        },
        "steps": [_step_json(step, depends.get(step.name, ())) for step in workflow.steps],
        "handlers": [str(event) for event in workflow.handlers],
    }


def _step_json(step: Step, depends: tuple[str, ...]) -> dict[str, Any]:
    command = list(step.command) if isinstance(step.command, tuple) else step.command
    return {
        "name": step.name,
        "id": step.id,
        "description": step.description,
        "depends": list(depends),
        "command": command,
        "script": step.script,
        "run": step.run,
        "parallel": _parallel_json(step.parallel),
        "output": step.output,
    }


def _parallel_json(parallel: Parallel | None) -> dict[str, Any] | None:
    if parallel is None:
        return None
    items: Any
    if isinstance(parallel.items, ItemsFrom):
        source = parallel.items
        items = {"file": source.file} if source.file else {"command": source.command}
    else:
        items = parallel.items if isinstance(parallel.items, str) else list(parallel.items)
    return {"items": items, "maxConcurrent": parallel.max_concurrent}
