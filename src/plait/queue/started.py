"""Runs started without waiting for them (``wait: false``): the links both ways as the CLI and
the API show them, and stopping a run together with the runs it started."""

from __future__ import annotations

from typing import Any

from plait.errors import NotFoundError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.model import RunRecord
    from plait.store.base import RunStore

__all__ = ["started_by", "started_runs", "started_runs_to_stop"]


def started_by(store: RunStore, root_id: str) -> dict[str, Any] | None:
    """The run and step that started the tree of ``root_id`` without waiting for it, with
    that run's workflow name (None when that run is gone); None for a tree nobody started."""
    link = store.started_by(root_id)
    if link is None:
        return None
    by = _peek(store, link[0])
    return {"runId": link[0], "step": link[1], "name": None if by is None else by.name}


def started_runs(store: RunStore, run_id: str) -> list[dict[str, Any]]:
    """The runs the steps of ``run_id`` started without waiting for them, with their status."""
    shown = []
    for child_id, step in store.started_runs(run_id):
        child = _peek(store, child_id)
        shown.append(
            {
                "runId": child_id,
                "step": step,
                "name": None if child is None else child.name,
                "status": None if child is None else str(child.status),
            }
        )
    return shown


def _peek(store: RunStore, run_id: str) -> RunRecord | None:
    try:
        return store.get_run(run_id, children_limit=0)
    except NotFoundError:
        return None


def started_runs_to_stop(store: RunStore, run_id: str) -> list[str]:
    """The active runs that ``run_id`` (or a run below it) started with ``wait: false``, and
    those they started in turn, at any depth: what a stop "with the started runs" also stops
    (a finished one is passed over; what it started is still looked at)."""
    found: list[str] = []
    seen = {run_id}
    pending = [run_id]
    while pending:
        for started in store.started_in_tree(pending.pop()):
            if started in seen:
                continue
            seen.add(started)
            pending.append(started)
            if not store.get_run(started, children_limit=0).status.is_final:
                found.append(started)
    return found
