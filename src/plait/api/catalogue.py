"""The workflows of the DAGs folder: listed, found by name, described as JSON.

Only the ``*.yaml``/``*.yml`` files directly in the folder are workflows here, and a name is
looked up among them, never joined onto a path, so no name can reach outside the folder.
A file that does not load is listed with its error, not dropped.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plait.errors import NotFoundError, PlaitError, Problem, SpecError
from plait.model import Parallel, Step, Workflow, iso_time

__all__ = [
    "Entry",
    "catalogue",
    "describe",
    "find_entry",
    "new_entry_path",
    "next_run",
    "params_json",
    "save_atomically",
]

_SUFFIXES = (".yaml", ".yml")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One workflow file: its workflow, or why it does not load."""

    name: str
    path: Path
    workflow: Workflow | None
    error: str | None = None
    problems: tuple[Problem, ...] = ()


def catalogue(dags_dir: Path) -> list[Entry]:
    """Every workflow file of the folder, sorted by name."""
    from plait.spec.loader import load_all_cached

    entries: list[Entry] = []
    try:
        files = sorted(p for p in dags_dir.iterdir() if p.suffix in _SUFFIXES and p.is_file())
    except FileNotFoundError:
        return []
    for path in files:
        try:
            workflow = load_all_cached(str(path))[0]
        except SpecError as error:
            entries.append(Entry(path.stem, path, None, error.message, tuple(error.problems)))
        except (PlaitError, OSError, ValueError) as error:
            entries.append(Entry(path.stem, path, None, str(error)))
        else:
            entries.append(Entry(workflow.name, path, workflow))
    return sorted(entries, key=lambda e: e.name)


def find_entry(dags_dir: Path, name: str) -> Entry:
    """The workflow called ``name`` (or whose file is ``name``.yaml).

    Raises:
        NotFoundError: no workflow of that name in the folder.
    """
    entries = catalogue(dags_dir)
    for entry in entries:
        if entry.name == name:
            return entry
    for entry in entries:
        if entry.path.stem == name or entry.path.name == name:
            return entry
    raise NotFoundError(f"no workflow named {name!r} in {dags_dir}")


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
    return dags_dir / (name if name.endswith(_SUFFIXES) else f"{name}.yaml")


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
    return [{"name": p.name, "default": p.value} for p in workflow.params]


def next_run(lines: tuple[str, ...], timezone: str | None, now: float | None = None) -> str | None:
    """The next time any of the cron ``lines`` fires, ISO 8601 UTC; None for ``@every`` only
    schedules (their phase is the scheduler's) or when no line can be read."""
    from plait.spec.cron import parse_cron_line

    moment = time.time() if now is None else now
    times: list[float] = []
    for line in lines:
        try:
            cron = parse_cron_line(line)
            if not cron.expression:
                continue
            times.append(_next_fire(cron.expression, cron.timezone or timezone, moment))
        except (ValueError, KeyError, OSError):
            continue
    return iso_time(min(times)) if times else None


def _next_fire(expression: str, timezone: str | None, moment: float) -> float:
    from zoneinfo import ZoneInfo

    from croniter import croniter

    zone = ZoneInfo(timezone) if timezone else datetime.now().astimezone().tzinfo
    start = datetime.fromtimestamp(moment, tz=zone or UTC)
    fire: datetime = croniter(expression, start).get_next(datetime)
    return fire.timestamp()


def describe(workflow: Workflow, path: Path) -> dict[str, Any]:
    """A workflow as the API shows it: fields, params and steps with their effective depends."""
    from plait.graph import effective_depends

    depends = effective_depends(workflow)
    return {
        "name": workflow.name,
        "file": str(path),
        "description": workflow.description,
        "tags": list(workflow.tags),
        "group": workflow.group,
        "type": str(workflow.type),
        "params": params_json(workflow),
        "schedule": list(workflow.schedule.start),
        "queue": workflow.queue,
        "maxActiveRuns": workflow.max_active_runs,
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
    items = parallel.items if isinstance(parallel.items, str) else list(parallel.items)
    return {"items": items, "maxConcurrent": parallel.max_concurrent}
