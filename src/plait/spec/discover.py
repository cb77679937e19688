"""Which files of a DAGs folder are workflows: the one rule the scheduler, the API and the
CLI share. Subfolders count, at most ``MAX_DEPTH`` deep and ``MAX_FILES`` files; hidden
folders and files, ``node_modules`` and ``__pycache__`` do not; a symlink that leads out of
the folder is never followed."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MAX_DEPTH", "MAX_FILES", "SKIPPED_FOLDERS", "SUFFIXES", "workflow_files"]

SUFFIXES = (".yaml", ".yml")
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})
MAX_DEPTH = 4
MAX_FILES = 5000


def workflow_files(dags_dir: Path) -> list[Path]:
    """The workflow files of the tree: the top-level ones first, then by relative path."""
    found: list[Path] = []
    root = str(dags_dir)
    try:
        real_root = dags_dir.resolve()
    except (OSError, RuntimeError):
        return []
    for folder, subfolders, names in os.walk(root):
        depth = 0 if folder == root else os.path.relpath(folder, root).count(os.sep) + 1
        subfolders[:] = sorted(
            d
            for d in subfolders
            if not d.startswith(".") and d not in SKIPPED_FOLDERS and depth < MAX_DEPTH
        )
        for name in sorted(names):
            if name.endswith(SUFFIXES) and not name.startswith("."):
                path = Path(folder, name)
                if path.is_file() and _resolves_inside(path, real_root):
                    found.append(path)
                    if len(found) >= MAX_FILES:
                        return sorted(found, key=lambda p: _order(p, dags_dir))
    return sorted(found, key=lambda p: _order(p, dags_dir))


def _resolves_inside(path: Path, real_root: Path) -> bool:
    """Whether ``path`` (a symlink perhaps) is a file inside the DAGs folder."""
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):
        return False


def _order(path: Path, dags_dir: Path) -> tuple[int, str]:
    rel = path.relative_to(dags_dir).as_posix()
    return (rel.count("/"), rel)
