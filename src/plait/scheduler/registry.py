"""The workflows of the DAGs folder as the scheduler sees them, reloaded when files change."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from plait.errors import PlaitError
from plait.model import Workflow

__all__ = ["Entry", "Registry"]


@dataclass(slots=True)
class Entry:
    """One workflow file: its workflow, or why it does not load."""

    path: Path
    mtime_ns: int
    size: int
    workflow: Workflow | None
    error: str | None


class Registry:
    """Files of the DAGs folder; ``refresh`` notices added, changed and removed ones."""

    def __init__(self, dags_dir: Path) -> None:
        self.dags_dir = dags_dir
        self.entries: dict[str, Entry] = {}  # by path

    def refresh(self) -> list[str]:
        """Reload what changed; returns one line per change, for the scheduler's log."""
        from plait.spec.discover import workflow_paths

        changes: list[str] = []
        seen: set[str] = set()
        for path in workflow_paths(self.dags_dir):
            seen.add(path)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            known = self.entries.get(path)
            if (
                known is not None
                and known.mtime_ns == stat.st_mtime_ns
                and known.size == (stat.st_size)
            ):
                continue
            self.entries[path] = self._load(Path(path), stat.st_mtime_ns, stat.st_size)
            changes.append(f"{'changed' if known else 'added'} {os.path.basename(path)}")
        if len(seen) != len(self.entries):
            for path in [p for p in self.entries if p not in seen]:
                del self.entries[path]
                changes.append(f"removed {os.path.basename(path)}")
        return changes

    def workflows(self) -> list[Workflow]:
        return [e.workflow for e in self.entries.values() if e.workflow is not None]

    @staticmethod
    def _load(path: Path, mtime_ns: int, size: int) -> Entry:
        from plait.spec import load_file

        try:
            return Entry(path, mtime_ns, size, load_file(path), None)
        except PlaitError as error:
            return Entry(path, mtime_ns, size, None, error.message)
