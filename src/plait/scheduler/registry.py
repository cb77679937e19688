"""The workflows of the DAGs folder as the scheduler sees them, reloaded when files change."""

from __future__ import annotations

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
        self.entries: dict[Path, Entry] = {}

    def refresh(self) -> list[str]:
        """Reload what changed; returns one line per change, for the scheduler's log."""
        changes: list[str] = []
        seen: set[Path] = set()
        for path in self._files():
            seen.add(path)
            try:
                stat = path.stat()
            except OSError:
                continue
            known = self.entries.get(path)
            if known is not None and (known.mtime_ns, known.size) == (
                stat.st_mtime_ns,
                stat.st_size,
            ):
                continue
            self.entries[path] = self._load(path, stat.st_mtime_ns, stat.st_size)
            changes.append(f"{'changed' if known else 'added'} {path.name}")
        for path in list(self.entries):
            if path not in seen:
                del self.entries[path]
                changes.append(f"removed {path.name}")
        return changes

    def workflows(self) -> list[Workflow]:
        return [e.workflow for e in self.entries.values() if e.workflow is not None]

    def _files(self) -> list[Path]:
        from plait.spec.discover import workflow_files

        return workflow_files(self.dags_dir)

    @staticmethod
    def _load(path: Path, mtime_ns: int, size: int) -> Entry:
        from plait.spec import load_file

        try:
            return Entry(path, mtime_ns, size, load_file(path), None)
        except PlaitError as error:
            return Entry(path, mtime_ns, size, None, error.message)
