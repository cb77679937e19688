"""Load workflow files and texts: the entry points of the spec layer.

A file's first document is its workflow; later documents (after ``---``) are children that
``run:`` can name. Loaded files are cached by absolute path and modification time, so a fan-out
over a thousand items reads its child file once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from plait.errors import NotFoundError, Problem, SpecError
from plait.model import Workflow
from plait.spec import compiled

__all__ = [
    "is_workflow_file",
    "load_all",
    "load_all_cached",
    "load_base_file",
    "load_file",
    "load_text",
    "source_text",
    "use_stored",
]

_CACHE: dict[str, tuple[int, int, list[Workflow]]] = {}
# Texts read in place of the files at these absolute paths: a run's stored definition.
_STORED: dict[str, str] = {}


def use_stored(files: Mapping[str, str]) -> None:
    """From now on in this process, read these texts (by absolute path) instead of the files:
    an agent continuing or retrying a run loads the workflows the run was started with, even
    on a host without the files or after they changed."""
    for path, text in files.items():
        _STORED[os.path.abspath(path)] = text
        _CACHE.pop(os.path.abspath(path), None)


def is_workflow_file(path: str) -> bool:
    """Whether ``path`` is a file to load (on disk, or stored)."""
    return os.path.abspath(path) in _STORED or os.path.isfile(path)


def source_text(path: str | os.PathLike[str]) -> str:
    """The text a workflow file is loaded from (the stored one, if any)."""
    return _read(os.path.abspath(path))


def load_text(text: str, source: str = "<text>") -> Workflow:
    """The first workflow of ``text``; ``source`` names it in problems (a path or ``<...>``).

    Raises:
        SpecError: with every problem of the text.
    """
    return _load_text_all(text, source)[0]


def load_file(path: str | os.PathLike[str]) -> Workflow:
    """The first workflow of the file at ``path``.

    Raises:
        NotFoundError: no such file.  SpecError: with every problem of the file.
    """
    return load_all(path)[0]


def load_all(path: str | os.PathLike[str]) -> list[Workflow]:
    """Every workflow of the file at ``path``, in document order."""
    source = os.path.abspath(path)
    return _load_text_all(_read(source), source)


def load_base_file(path: str | os.PathLike[str]) -> Workflow:
    """A base config (``$PLAIT_HOME/base.yaml``): workflow fields under every workflow.

    It is read with the workflow table (same spellings, same checks) but has no steps; its
    name is ``base``. An empty file is an empty base.

    Raises:
        NotFoundError: no such file.  SpecError: with every problem of the file.
    """
    from plait.spec.build import build_base

    source = os.path.abspath(path)
    return build_base(_read(source), source)


def load_all_cached(path: str) -> list[Workflow]:
    """Like ``load_all``, but reuse the result while the file's mtime and size are unchanged."""
    source = os.path.abspath(path)
    if source in _STORED:
        stored = _CACHE.get(source)
        if stored is None:
            stored = (-1, -1, load_all(source))
            _CACHE[source] = stored
        return stored[2]
    try:
        stat = os.stat(source)
    except OSError:
        raise NotFoundError(f"workflow file not found: {path}")
    cached = _CACHE.get(source)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    workflows = load_all(source)
    _CACHE[source] = (stat.st_mtime_ns, stat.st_size, workflows)
    return workflows


def _load_text_all(text: str, source: str) -> list[Workflow]:
    is_path = not source.startswith("<")
    if is_path:
        known = compiled.lookup(text, source)
        if known is not None:
            return known
    from plait.spec.build import build_workflows

    stem = os.path.splitext(os.path.basename(source))[0] if is_path else None
    workflows = build_workflows(text, source, source if is_path else None, stem)
    if is_path:
        compiled.keep(text, source, workflows)
    return workflows


def _read(source: str) -> str:
    stored = _STORED.get(source)
    if stored is not None:
        return stored
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFoundError(f"workflow file not found: {source}")
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(source, None, "", f"the file is not UTF-8 text: {exc.reason}")])
    except OSError as exc:
        raise SpecError([Problem(source, None, "", f"cannot read the file: {exc.strerror}")])
