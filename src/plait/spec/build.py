"""Documents → ``Workflow`` objects, and the checks that need a whole workflow.

Per-field checks live in the field tables; here are the ones across steps: unique names and
ids, ``depends`` naming real steps, and no dependency cycle. Every problem of every document of
a file is collected, then raised together as one ``SpecError``.
"""

from __future__ import annotations

from plait.errors import Problem, SpecError
from plait.graph.deps import effective_depends, find_cycle
from plait.model import (
    DEFAULT_MAX_ACTIVE_RUNS,
    UNLIMITED_ACTIVE_RUNS,
    Executor,
    GraphType,
    Step,
    Workflow,
)
from plait.spec._kinds import INVALID, Ctx, Entries
from plait.spec._yaml import Document, Path, parse_documents
from plait.spec.fields import WORKFLOW, name_unnamed_steps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["build_base", "build_workflows"]

_NOT_STORED = frozenset(
    {
        "name",
        "steps",
        "handler_on",
        "type",
        "max_active_runs",
        "container",
        "registry_auths",
        "llm",
    }
)


def build_workflows(text: str, file: str, source: str | None, stem: str | None) -> list[Workflow]:
    """Every document of ``text`` as a Workflow sharing one ``local`` dict.

    Args:
        file: how problems name the file. source: the model's ``source``.
        stem: the name of the first document when it has none (None: a name is required).

    Raises:
        SpecError: with every problem found.
    """
    documents, problems = parse_documents(text, file)
    documents = [doc for i, doc in enumerate(documents) if i == 0 or doc.value is not None]
    if not documents and not problems:
        problems.append(Problem(file, None, "", "the file holds no workflow"))
    local: dict[str, Workflow] = {}
    workflows: list[Workflow] = []
    for index, doc in enumerate(documents):
        ctx = Ctx(file, doc.lines, doc.raw, problems)
        workflow = _build_workflow(ctx, doc, stem if index == 0 else None, source, local)
        if workflow is not None:
            _check_unique_document(ctx, workflow, workflows)
            workflows.append(workflow)
    if problems:
        raise SpecError(problems)
    local.update((w.name, w) for w in workflows)
    return workflows


def build_base(text: str, file: str) -> Workflow:
    """A base config: workflow fields (env, params, shell, handlers ...) without steps.

    Raises:
        SpecError: with every problem found.
    """
    documents, problems = parse_documents(text, file)
    workflow = None
    if len(documents) > 1:
        problems.append(Problem(file, documents[1].line, "", "a base config has one document"))
    if documents and documents[0].value is not None:
        ctx = Ctx(file, documents[0].lines, documents[0].raw, problems)
        workflow = _build_workflow(ctx, documents[0], "base", file, {}, base=True)
    if problems:
        raise SpecError(problems)
    return workflow or Workflow(name="base", steps=(), source=file)


def _build_workflow(
    ctx: Ctx,
    doc: Document,
    default_name: str | None,
    source: str | None,
    local: dict[str, Workflow],
    *,
    base: bool = False,
) -> Workflow | None:
    if not isinstance(doc.value, dict):
        ctx.error((), "a workflow must be a mapping of fields, like `steps:`")
        return None
    entries = WORKFLOW.read(ctx, (), doc.value, frozenset({"steps"}) if base else frozenset())
    if base and entries.given("steps"):
        ctx.error(entries.at("steps"), "a base config cannot have steps")
    name = entries.get("name") or default_name or _missing_name(ctx, entries)
    written = entries.get("steps", [])
    numbered = [step for _, step in written]
    valid = [(i, step) for i, step in written if step is not INVALID]
    steps = name_unnamed_steps([step for _, step in valid], [i for i, _ in valid])
    numbered = _renamed(numbered, steps)
    steps = _on_default_hosts(entries, steps)
    workflow = Workflow(
        name=name,
        steps=tuple(steps),
        source=source,
        line=doc.line,
        type=GraphType(entries.get("type", "chain")),
        handlers=entries.get("handler_on", {}),
        local=local,
        max_active_runs=_active_runs(entries.get("max_active_runs", DEFAULT_MAX_ACTIVE_RUNS)),
        notes=_notes(entries),
        **{k: v for k, v in entries.values.items() if k not in _NOT_STORED},
    )
    _check_steps(ctx, workflow, numbered)
    _check_declared_outputs(ctx, workflow)
    if workflow.worker_selector and any(_is_hitl(step) for step in workflow.steps):
        ctx.error(
            entries.at("worker_selector"),
            "a workflow with `hitl` steps cannot go to workers (`workerSelector`): a person's "
            "decision resumes it where it was started",
        )
    for i, step in enumerate(numbered):
        if step is not INVALID and step.worker_selector and _is_hitl(step):
            ctx.error(
                ("steps", i, "workerSelector"),
                "a `hitl` step cannot go to workers (`workerSelector`): a person's decision "
                "resumes it where it was started",
            )
    return workflow


def _is_hitl(step: Step) -> bool:
    return step.executor is not None and step.executor.type == "hitl"


def _renamed(numbered: list[Any], named: list[Step]) -> list[Any]:
    """``numbered`` (with its invalid entries) holding the named steps."""
    valid = iter(named)
    return [step if step is INVALID else next(valid) for step in numbered]


def _active_runs(value: int) -> int:
    """``maxActiveRuns``: -1 (any negative) means no limit; 0, as in the reference, 1."""
    if value < 0:
        return UNLIMITED_ACTIVE_RUNS
    return value or DEFAULT_MAX_ACTIVE_RUNS


def _on_default_hosts(entries: Entries, steps: list[Step]) -> list[Step]:
    """With a workflow-level ``ssh:`` (or ``container:``), a step that names no executor and
    runs no child runs there, as in the reference."""
    if "ssh" in entries:
        kind, config = "ssh", {}
    elif "container" in entries:
        from plait.spec.fields import container_config

        kind, config = "docker", container_config(entries.get("container"))
    else:
        return steps
    return [
        step.replace(executor=Executor(kind, config))
        if step.executor is None and step.run is None
        else step
        for step in steps
    ]


def _notes(entries: Entries) -> tuple[str, ...]:
    """Fields of the workflow accepted without effect here, to be said at start (none now)."""
    return ()


def _missing_name(ctx: Ctx, entries: Entries) -> str:
    if "name" not in entries.invalid:
        ctx.error(
            (), "a workflow needs a `name` (only the first document of a file takes the file's)"
        )
    return "?"


def _check_unique_document(ctx: Ctx, workflow: Workflow, before: list[Workflow]) -> None:
    for other in before:
        if other.name == workflow.name:
            message = f"two documents are named `{workflow.name}` (first at line {other.line})"
            ctx.problems.append(Problem(ctx.file, workflow.line, "name", message))


def _check_declared_outputs(ctx: Ctx, workflow: Workflow) -> None:
    """Each key of ``outputs:`` is one that a step (or handler) gives the run's outputs."""
    if not workflow.outputs:
        return
    steps = [*workflow.steps, *workflow.handlers.values()]
    given = {s.output_key or s.output for s in steps if s.output and not s.output_omit}
    for i, key in enumerate(workflow.outputs):
        if key not in given:
            shown = ", ".join(sorted(given)) or "none"
            message = f"declares output `{key}`, but no step gives it (the steps give {shown})"
            path: Path = ("outputs", i)
            ctx.error(path if path in ctx.lines else ("outputs",), message)


def _check_steps(ctx: Ctx, workflow: Workflow, numbered: list[Any]) -> None:
    """Names, ids, depends and cycles; ``numbered`` keeps invalid steps for their indexes."""
    indexed = [(i, step) for i, step in enumerate(numbered) if step is not INVALID]
    names_clean = _check_names(ctx, indexed)
    if _check_depends(ctx, indexed) and names_clean:
        _check_cycle(ctx, workflow, indexed)


def _check_names(ctx: Ctx, indexed: list[tuple[int, Step]]) -> bool:
    """Report duplicate names and ids; True when every step is known by one name."""
    before = len(ctx.problems)
    names: dict[str, int | None] = {}
    for i, step in indexed:
        if step.name in names:
            message = f"duplicate step name `{step.name}` (first at line {names[step.name]})"
            ctx.error(("steps", i, "name"), message)
        names.setdefault(step.name, step.line)
    ids: dict[str, int | None] = {}
    for i, step in indexed:
        if step.id is None:
            continue
        if step.id in ids:
            ctx.error(
                ("steps", i, "id"), f"duplicate step id `{step.id}` (first at line {ids[step.id]})"
            )
        elif step.id in names and step.id != step.name:
            ctx.error(("steps", i, "id"), f"id `{step.id}` is the name of another step")
        ids.setdefault(step.id, step.line)
    return len(ctx.problems) == before


def _check_depends(ctx: Ctx, indexed: list[tuple[int, Step]]) -> bool:
    """Report depends on unknown steps; True when every reference is known."""
    known = [step.name for _, step in indexed] + [step.id for _, step in indexed if step.id]
    clean = True
    for i, step in indexed:
        for j, ref in enumerate(step.depends or ()):
            if ref in known:
                continue
            clean = False
            path: Path = ("steps", i, "depends", j)
            if path not in ctx.lines:
                path = path[:-1]
            import difflib

            close = difflib.get_close_matches(ref, known, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            ctx.error(path, f"depends on unknown step `{ref}`{hint}")
    return clean


def _check_cycle(ctx: Ctx, workflow: Workflow, indexed: list[tuple[int, Step]]) -> None:
    cycle = find_cycle(effective_depends(workflow))
    if cycle is None:
        return
    members = set(cycle)
    explicit = [(i, s) for i, s in indexed if s.name in members and s.depends is not None]
    i, _ = explicit[0] if explicit else next((i, s) for i, s in indexed if s.name in members)
    ctx.error(("steps", i, "depends"), f"dependency cycle: {' -> '.join(cycle)}")
