"""What the read-only views of the store return: pages of runs, trees of runs, live-status
snapshots, leases. Backend-neutral: every store's ``browse()`` gives these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plait.model import RunRecord, iso_time

__all__ = [
    "CHILD_SORTS",
    "FAILURES_FIRST",
    "TREE_MAX_NODES",
    "TREE_PER_RUN",
    "ChildPage",
    "HistoryPage",
    "HistoryRun",
    "Lease",
    "RunNode",
    "RunPage",
    "RunSnapshot",
    "RunTree",
]

# How a page of child runs may be sorted (a leading `-`: descending; `failures`: the runs that
# failed first, then cancelled, active, ..., succeeded last, each by step and item).
CHILD_SORTS = (
    "index",
    "-index",
    "name",
    "status",
    "started",
    "-started",
    "duration",
    "-duration",
    "failures",
)
# The order of statuses of the `failures` sort (and of the children a bounded tree lists).
FAILURES_FIRST = (
    "failed",
    "cancelled",
    "running",
    "waiting",
    "queued",
    "partially_succeeded",
    "skipped",
    "succeeded",
)
# A tree of runs lists at most this many children of each run, and this many runs in all:
# about 300 bytes a run, so a reply stays under 1 MB however big the fan-outs below it.
TREE_PER_RUN = 100
TREE_MAX_NODES = 2000


@dataclass(slots=True)
class RunPage:
    runs: list[RunRecord]
    total: int
    counts: dict[str, int] = field(default_factory=dict)  # by status, before the status filter


@dataclass(slots=True)
class HistoryRun:
    """One run of a workflow's history: its times and the status of each of its steps."""

    run_id: str
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempt: int
    parent_run_id: str | None
    steps: dict[str, str] = field(default_factory=dict)  # name → status, in step order
    tolerated: list[str] = field(default_factory=list)  # failed steps continueOn let pass

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "status": self.status,
            "createdAt": iso_time(self.created_at),
            "startedAt": iso_time(self.started_at),
            "finishedAt": iso_time(self.finished_at),
            "attempt": self.attempt,
            "parentRunId": self.parent_run_id,
            "steps": self.steps,
            "tolerated": self.tolerated,
        }


@dataclass(slots=True)
class HistoryPage:
    runs: list[HistoryRun]  # newest first
    total: int  # the workflow's runs in all


@dataclass(slots=True)
class ChildPage:
    children: list[dict[str, Any]]
    total: int
    counts: dict[str, int]


@dataclass(slots=True)
class RunNode:
    """One run of a tree of runs, with its children at any depth."""

    run_id: str
    name: str
    status: str
    parent_run_id: str | None
    step: str | None
    item_index: int | None
    item: str | None
    started_at: float | None
    finished_at: float | None
    error: str | None
    children: list[RunNode] = field(default_factory=list)
    child_count: int = 0  # its direct children in the store, listed in ``children`` or not

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "name": self.name,
            "status": self.status,
            "step": self.step,
            "itemIndex": self.item_index,
            "item": self.item,
            "startedAt": iso_time(self.started_at),
            "finishedAt": iso_time(self.finished_at),
            "error": self.error,
            "childCount": self.child_count,
            "children": [child.to_json() for child in self.children],
        }


@dataclass(slots=True)
class RunTree:
    """A run and the runs below it, as far as the tree's bounds go."""

    root: RunNode
    nodes: int  # the runs in the tree, the root included
    truncated: bool  # some run has children that are not listed (see each ``child_count``)

    def to_json(self) -> dict[str, Any]:
        return {**self.root.to_json(), "nodes": self.nodes, "truncated": self.truncated}


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    owner: str
    epoch: int
    expires_at: float


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What the live-status stream tells about a run: compared to see whether it changed."""

    run_id: str
    name: str
    status: str
    parent_run_id: str | None
    root_run_id: str
    parent_step: str | None
    item_index: int | None
    started_at: float | None
    finished_at: float | None
    error: str | None
    attempt: int
    steps: tuple[tuple[str, str, float | None, float | None], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "name": self.name,
            "status": self.status,
            "parentRunId": self.parent_run_id,
            "rootRunId": self.root_run_id,
            "parentStep": self.parent_step,
            "itemIndex": self.item_index,
            "startedAt": iso_time(self.started_at),
            "finishedAt": iso_time(self.finished_at),
            "error": self.error,
            "attempt": self.attempt,
            "steps": [
                {
                    "name": name,
                    "status": status,
                    "startedAt": iso_time(started),
                    "finishedAt": iso_time(finished),
                }
                for name, status, started, finished in self.steps
            ],
        }
