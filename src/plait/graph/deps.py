"""Which steps each step waits for, and the one check every plan needs first: no cycles.

The rule (design §1): in a ``chain`` workflow a step without ``depends`` follows the previous
step — all of a group's steps when the previous item was a group (a nested list), and the
steps of a group all follow what came before the group; a step with ``depends`` waits for
exactly what it names. In a ``graph`` workflow a step
without ``depends`` starts at once. ``depends`` may name a step by its name or by its id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from plait.model import GraphType, Workflow

__all__ = ["effective_depends", "find_cycle"]


def effective_depends(workflow: Workflow) -> dict[str, tuple[str, ...]]:
    """Map each step name to the names of the steps it waits for, in the order written.

    References by id are translated to names; references to unknown steps are kept as written
    (the loader reports them), so callers that need a clean graph must validate first.
    """
    by_id = {step.id: step.name for step in workflow.steps if step.id}
    result: dict[str, tuple[str, ...]] = {}
    chain = workflow.type is GraphType.CHAIN
    before: tuple[str, ...] = ()  # what a step without depends follows: the unit before it
    unit: list[str] = []  # the current unit: one step, or the steps of one group
    group: int | None = None
    for step in workflow.steps:
        if step.group is None or step.group != group:  # a new unit starts
            if unit:
                before = tuple(unit)
            unit = []
            group = step.group
        unit.append(step.name)
        if step.depends is not None:
            names = (by_id.get(ref, ref) for ref in step.depends)
            result[step.name] = tuple(dict.fromkeys(names))
        else:
            result[step.name] = before if chain else ()
    return result


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one dependency cycle as a path ``[a, b, a]`` (a waits for b, b for a), or None.

    Names that are not keys of ``deps`` are ignored. Iterative, so deep chains cannot overflow
    the interpreter stack; the first cycle in key order is returned, so the answer is stable.
    """
    done: set[str] = set()
    for start in deps:
        if start not in done:
            cycle = _cycle_from(start, deps, done)
            if cycle is not None:
                return cycle
    return None


def _cycle_from(start: str, deps: Mapping[str, Sequence[str]], done: set[str]) -> list[str] | None:
    """Depth-first walk from ``start``; ``done`` collects nodes proven to reach no cycle."""
    path: list[str] = [start]
    on_path: set[str] = {start}
    pending: list[list[str]] = [[d for d in deps[start] if d in deps]]
    while path:
        if not pending[-1]:
            node = path.pop()
            on_path.discard(node)
            done.add(node)
            pending.pop()
            continue
        nxt = pending[-1].pop(0)
        if nxt in on_path:
            return [*path[path.index(nxt) :], nxt]
        if nxt not in done:
            path.append(nxt)
            on_path.add(nxt)
            pending.append([d for d in deps[nxt] if d in deps])
    return None
