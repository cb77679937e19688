"""Child workflows named by ``run:``: where they are found, and checks across the run graph.

A reference is looked up as (1) a document of the parent's file, (2) a path relative to the
parent's folder, (3) a path or name in the DAGs folder; each tried as given, then with
``.yaml``, then ``.yml``. References holding ``${`` are only known at run time and are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from plait.errors import NotFoundError, Problem, SpecError
from plait.model import Step, Workflow
from plait.spec.loader import load_all_cached

__all__ = ["resolve_child", "validate_children"]

_SUFFIXES = ("", ".yaml", ".yml")


def resolve_child(parent: Workflow, ref: str, dags_dir: str | None) -> Workflow:
    """The workflow that ``run: <ref>`` of a step of ``parent`` names.

    Raises:
        NotFoundError: naming the ref and every place searched.
        SpecError: the child file was found but has problems.
    """
    local = parent.local.get(ref)
    if local is not None:
        return local
    searched = [f"the documents of {parent.source or '<text>'}"]
    for folder in _folders(parent, dags_dir):
        for suffix in _SUFFIXES:
            candidate = os.path.normpath(os.path.join(folder, ref + suffix))
            if os.path.isfile(candidate):
                return load_all_cached(candidate)[0]
            searched.append(candidate)
    raise NotFoundError(f"child workflow `{ref}` not found; searched {', '.join(searched)}")


def _folders(parent: Workflow, dags_dir: str | None) -> list[str]:
    folders = [os.path.dirname(parent.source) if parent.source else os.getcwd()]
    if dags_dir is not None:
        folders.append(os.path.abspath(dags_dir))
    return list(dict.fromkeys(folders))


def validate_children(workflow: Workflow, dags_dir: str | None) -> list[Problem]:
    """Problems of the ``run:`` references of every document of ``workflow``'s file.

    Children are loaded recursively (their problems keep the child's file and line), and a
    static cycle in the run graph (``a`` runs ``b`` runs ``a``) is reported at the step.
    """
    walker = _RunGraph(dags_dir)
    for root in [workflow, *workflow.local.values()]:
        walker.visit(root)
    return list(dict.fromkeys(walker.problems))


def _runs(workflow: Workflow) -> Iterator[tuple[str, Step]]:
    """Every step with a static ``run:``, with the field path problems name it by."""
    for i, step in enumerate(workflow.steps):
        if step.run and "${" not in step.run:
            yield f"steps[{i}].run", step
    for event, step in workflow.handlers.items():
        if step.run and "${" not in step.run:
            yield f"handlerOn.{event.value}.run", step


class _RunGraph:
    """Depth-first walk over workflows and their static children."""

    def __init__(self, dags_dir: str | None) -> None:
        self.dags_dir = dags_dir
        self.problems: list[Problem] = []
        self._stack: list[Workflow] = []
        self._done: set[tuple[str | None, str]] = set()

    def visit(self, workflow: Workflow) -> None:
        key = _key(workflow)
        if key in self._done:
            return
        self._stack.append(workflow)
        for field, step in _runs(workflow):
            self._follow(workflow, field, step)
        self._stack.pop()
        self._done.add(key)

    def _follow(self, workflow: Workflow, field: str, step: Step) -> None:
        assert step.run is not None
        file = workflow.source or "<text>"
        try:
            child = resolve_child(workflow, step.run, self.dags_dir)
        except NotFoundError as exc:
            self.problems.append(Problem(file, step.line, field, f"step `{step.name}`: {exc}"))
            return
        except SpecError as exc:
            self.problems.extend(exc.problems)
            return
        keys = [_key(w) for w in self._stack]
        if _key(child) in keys:
            chain = [w.name for w in self._stack[keys.index(_key(child)) :]] + [child.name]
            message = f"workflow `{child.name}` runs itself: {' -> '.join(chain)}"
            self.problems.append(Problem(file, step.line, field, message))
            return
        self.visit(child)


def _key(workflow: Workflow) -> tuple[str | None, str]:
    return (workflow.source, workflow.name)
