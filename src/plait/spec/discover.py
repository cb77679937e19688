"""Which files of a DAGs folder are workflows: the one rule the scheduler, the API and the
CLI share. Subfolders count, at most ``MAX_DEPTH`` deep and ``MAX_FILES`` files; hidden
folders and files, ``node_modules`` and ``__pycache__`` do not; a symlink that leads out of
the folder is never followed."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "MAX_DEPTH",
    "MAX_FILES",
    "SKIPPED_FOLDERS",
    "SUFFIXES",
    "find_workflow",
    "workflow_files",
    "workflow_paths",
]

SUFFIXES = (".yaml", ".yml")
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})
MAX_DEPTH = 4
MAX_FILES = 20000


def workflow_files(dags_dir: Path) -> list[Path]:
    """The workflow files of the tree: the top-level ones first, then by relative path."""
    return [Path(path) for path in workflow_paths(dags_dir)]


def workflow_paths(dags_dir: Path) -> list[str]:
    """``workflow_files``, as strings (what a scan of thousands of files every few seconds
    can afford)."""
    root = str(dags_dir)
    try:
        real_root = dags_dir.resolve()
    except (OSError, RuntimeError):
        return []
    # One listing per folder; no symlinked folder is entered, so a plain file found is inside
    # the tree and only a symlink is resolved (a resolve per file cost more than all the rest
    # of a scan of 5,000 files). Breadth first, folders in name order, as the order wants.
    found: list[tuple[int, str, str]] = []  # (depth, relative path, path)
    folders = [(root, 0)]
    while folders and len(found) < MAX_FILES:
        deeper: list[tuple[str, int]] = []
        for folder, depth in folders:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if depth + 1 <= MAX_DEPTH and name not in SKIPPED_FOLDERS:
                            deeper.append((entry.path, depth + 1))
                        continue
                    if not name.endswith(SUFFIXES):
                        continue
                    if entry.is_symlink():
                        path = Path(entry.path)
                        inside = path.is_file() and _resolves_inside(path, real_root)
                    else:
                        inside = entry.is_file()
                except OSError:
                    continue
                if inside:
                    rel = entry.path[len(root) :].lstrip(os.sep).replace(os.sep, "/")
                    found.append((depth, rel, entry.path))
                    if len(found) >= MAX_FILES:
                        break
        folders = deeper
    return [path for _, _, path in sorted(found)]


def _resolves_inside(path: Path, real_root: Path) -> bool:
    """Whether ``path`` (a symlink perhaps) is a file inside the DAGs folder."""
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):
        return False


def find_workflow(dags_dir: Path, target: str) -> tuple[Path, int] | None:
    """The workflow a name means, by the one rule the CLI, the API, the UI and the scheduler
    share (and that ``run:`` follows for children): the file ``<target>.yaml`` (or ``.yml``,
    or ``target`` itself; a relative path inside the folder may name a subfolder's file);
    failing that, the first file of the tree (top-level files first) whose own workflow has
    ``name: <target>``; failing that, a later document of that name. Returns the file and the
    index of the workflow's document in it, or None."""
    from plait.errors import PlaitError
    from plait.spec.loader import load_all_cached

    root = dags_dir.resolve() if dags_dir.is_dir() else None
    if root is None:
        return None
    for suffix in ("", *SUFFIXES):
        candidate = dags_dir / (target + suffix)
        named = suffix or target.endswith(SUFFIXES)
        if named and candidate.is_file() and _resolves_inside(candidate, root):
            return candidate, 0
    later: tuple[Path, int] | None = None
    if "/" in target:
        return None
    for path in workflow_files(dags_dir):
        try:
            workflows = load_all_cached(str(path))
        except (PlaitError, OSError, ValueError):
            continue
        for index, workflow in enumerate(workflows):
            if workflow.name == target:
                if index == 0:
                    return path, 0
                if later is None:
                    later = (path, index)
    return later
