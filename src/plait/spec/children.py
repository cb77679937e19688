"""Child workflows named by ``run:``: where they are found, and checks across the run graph.

A reference is looked up as (1) a document of the parent's file, (2) a path relative to the
parent's folder, (3) a path or name in the DAGs folder; each tried as given, then with
``.yaml``, then ``.yml``; (4) failing those, the workflow of the DAGs folder with that
``name:`` (the rule of ``plait.spec.discover.find_workflow``). References holding ``${`` are
only known at run time and are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from plait.errors import NotFoundError, Problem, SpecError
from plait.model import Param, Step, Workflow
from plait.model.secret import secrets_by_name
from plait.spec.loader import is_workflow_file, load_all_cached, source_text
from plait.spec.params import params_problems

__all__ = ["definition_files", "resolve_child", "validate_children"]

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
            if is_workflow_file(candidate):
                return load_all_cached(candidate)[0]
            searched.append(candidate)
    if dags_dir is not None and "${" not in ref:
        from pathlib import Path

        from plait.spec.discover import find_workflow

        found = find_workflow(Path(dags_dir), ref)
        if found is not None:
            return load_all_cached(str(found[0]))[found[1]]
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
        self._check_interface(workflow, field, step, child)
        keys = [_key(w) for w in self._stack]
        if _key(child) in keys:
            chain = [w.name for w in self._stack[keys.index(_key(child)) :]] + [child.name]
            message = f"workflow `{child.name}` runs itself: {' -> '.join(chain)}"
            self.problems.append(Problem(file, step.line, field, message))
            return
        self.visit(child)

    def _check_interface(self, workflow: Workflow, field: str, step: Step, child: Workflow) -> None:
        """The params a ``run:`` step passes, against what its child declares: every required
        param given, literal values of the declared type (a value known only at run time,
        and the params a fan-out's items give, are judged when the step runs)."""
        file = workflow.source or "<text>"
        given = step.params
        if step.parallel is not None:
            if not given:
                return  # each item gives the child its params
            given = (*given, *(Param(p.name, "${ITEM}") for p in child.params if p.name))
        where = field.rsplit(".", 1)[0] + ".params" if step.params else field
        for problem in params_problems(child.params, given, literal_only=True):
            message = f"step `{step.name}`: child `{child.name}`: {problem}"
            self.problems.append(Problem(file, step.line, where, message))
        declared = set(child.outputs) if child.outputs is not None else None
        if not step.output or (declared is None and step.wait):
            return
        readers = [(f"steps[{n}]", later) for n, later in enumerate(workflow.steps)]
        readers += [(f"handlerOn.{e.value}", h) for e, h in workflow.handlers.items()]
        for where, later in readers:
            for key in _output_keys(later, step.output):
                if not step.wait:
                    message = (
                        f"step `{later.name}` reads `{key}` of {step.output}.outputs, but "
                        f"step `{step.name}` does not wait for `{child.name}` (wait: false): "
                        f"{step.output} is the id of the run it started, not its outputs"
                    )
                elif declared is not None and key not in declared:
                    message = (
                        f"step `{later.name}` reads `{key}` of {step.output}.outputs, but "
                        f"`{child.name}` declares only {', '.join(sorted(declared)) or 'none'}"
                    )
                else:
                    continue
                self.problems.append(Problem(file, later.line, where, message))


def _output_keys(step: Step, variable: str) -> list[str]:
    """The keys of ``${VARIABLE.outputs.KEY}`` that a step's text reads."""
    import re

    pattern = re.compile(r"\$\{" + re.escape(variable) + r"\.outputs\.([A-Za-z_][A-Za-z0-9_]*)")
    texts = [step.script or "", step.run or "", *(p.value for p in step.params)]
    command = step.command
    if isinstance(command, str):
        texts.append(command)
    elif isinstance(command, tuple):
        texts.extend(str(part) for part in command)
    texts.extend(value for _, value in step.env)
    return [m.group(1) for text in texts for m in pattern.finditer(text)]


def _key(workflow: Workflow) -> tuple[str | None, str]:
    return (workflow.source, workflow.name)


def definition_files(workflow: Workflow, dags_dir: str | None) -> dict[str, str]:
    """The texts a run of ``workflow`` is stored with, by absolute path: its own file first,
    then the file of every child workflow its static ``run:`` steps name, at any depth (a
    child named by a ``${...}`` value is found when the step runs). A child that does not
    load is left out: the run reports it where it is run.

    The store never holds a secret: when one of these workflows writes a secret's value in
    its file (an ``env`` or param whose name says it is a secret), nothing is stored, and
    continuing or retrying the run reads the files again."""
    if workflow.source is None:
        return {}
    files = {workflow.source: source_text(workflow.source)}
    pending = [workflow, *workflow.local.values()]
    seen: set[tuple[str | None, str]] = set()
    while pending:
        current = pending.pop()
        if _key(current) in seen:
            continue
        seen.add(_key(current))
        if _holds_literal_secret(current):
            return {}
        for _, step in _runs(current):
            assert step.run is not None
            try:
                child = resolve_child(current, step.run, dags_dir)
            except (NotFoundError, SpecError):
                continue
            if child.source is not None and child.source not in files:
                files[child.source] = source_text(child.source)
                pending.extend(load_all_cached(child.source)[1:])
            pending.append(child)
    return files


def _holds_literal_secret(workflow: Workflow) -> bool:
    variables: list[tuple[str | None, str]] = [*workflow.env]
    variables += [(p.name, p.value) for p in workflow.params]
    for step in [*workflow.steps, *workflow.handlers.values()]:
        variables += list(step.env)
    return bool(secrets_by_name({n: v for n, v in variables if n is not None}))
