"""A dry run: the order steps would run in and their commands, resolved; nothing executed."""

from __future__ import annotations

import os

from plait.graph.deps import effective_depends
from plait.model import ItemsFrom, Param, Workflow
from plait.runtime.scope import Scope, workflow_dir

__all__ = ["dry_plan"]


def dry_plan(
    workflow: Workflow, params: tuple[Param, ...], base: Workflow | None = None
) -> list[str]:
    """The plan of a run: base, dotenv, env and params resolved as a run would (backticks
    are shown, not run)."""
    scope = Scope(os.environ, str(workflow_dir(workflow)))
    scope.backticks = False
    scope.prepare(workflow, base, params)
    depends = effective_depends(workflow)
    lines = [f"workflow {workflow.name} ({workflow.type}, {len(workflow.steps)} steps)"]
    if scope.params:
        rendered = " ".join(f"{p.name}={p.value}" if p.name else p.value for p in scope.params)
        lines.append(f"params: {rendered}")
    for number, step in enumerate(_order(workflow, depends), start=1):
        after = ", ".join(depends[step]) or "-"
        lines.append(f"{number}. {step}  (after: {after})")
        spec = workflow.step(step)
        if spec.run is not None:
            lines.append(f"     run: {scope.expand(spec.run)}")
            for param in spec.params:
                lines.append(f"     param: {param.name}={scope.expand(param.value)}")
        if spec.parallel is not None:
            items = spec.parallel.items
            shown: object
            if isinstance(items, ItemsFrom):
                shown = f"file {items.file}" if items.file else f"command {items.command}"
            else:
                shown = scope.expand(items) if isinstance(items, str) else list(items)
            lines.append(f"     parallel: {shown} (maxConcurrent {spec.parallel.max_concurrent})")
        if isinstance(spec.command, str):
            lines.append(f"     $ {scope.expand_command(spec.command)}")
        elif isinstance(spec.command, tuple):
            lines.extend(f"     $ {scope.expand_command(part)}" for part in spec.command)
        if spec.script is not None:
            lines.append("     script:")
            lines.extend(f"       {line}" for line in spec.script.splitlines())
    return lines


def _order(workflow: Workflow, depends: dict[str, tuple[str, ...]]) -> list[str]:
    done: set[str] = set()
    order: list[str] = []
    pending = [s.name for s in workflow.steps]
    while pending:
        ready = [name for name in pending if all(dep in done for dep in depends[name])]
        if not ready:  # a cycle; validation rejects these before we get here
            order.extend(pending)
            break
        for name in ready:
            order.append(name)
            done.add(name)
        pending = [name for name in pending if name not in done]
    return order
