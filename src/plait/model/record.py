"""What a run was: the records the store keeps and the CLI, API and Python API show."""

from __future__ import annotations

import time

from plait.model.secret import MASK, is_secret_name
from plait.model.status import RunStatus, StepStatus
from plait.model.workflow import Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ChildRecord", "RunRecord", "StepRecord", "iso_time"]


def iso_time(epoch: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC with milliseconds, or None."""
    if epoch is None:
        return None
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{whole}.{int(epoch % 1 * 1000):03d}Z"


# How many children of each step a run's record shows when it is shown (CLI, API, UI): the
# ones that did not succeed first; the rest are in its counts and its page of children.
CHILDREN_SHOWN = 100


class StepRecord:
    __slots__ = (
        "attempt",
        "error",
        "exit_code",
        "finished_at",
        "handler",
        "name",
        "output",
        "output_var",
        "position",
        "started_at",
        "status",
        "stderr_path",
        "stdout_path",
        "tolerated",
    )

    def __init__(
        self,
        name: str,
        position: int,
        status: StepStatus = StepStatus.NOT_STARTED,
        started_at: float | None = None,
        finished_at: float | None = None,
        exit_code: int | None = None,
        output: str | None = None,
        output_var: str | None = None,
        stdout_path: str | None = None,
        stderr_path: str | None = None,
        attempt: int = 0,
        error: str | None = None,
        handler: bool = False,
        tolerated: bool = False,
    ) -> None:
        self.name = name
        self.position = position
        self.status = status
        self.started_at = started_at
        self.finished_at = finished_at
        self.exit_code = exit_code
        self.output = output
        self.output_var = output_var
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.attempt = attempt
        self.error = error
        self.handler = handler
        self.tolerated = tolerated  # failed, but continueOn let the run go on

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "exitCode": self.exit_code,
            "startedAt": iso_time(self.started_at),
            "finishedAt": iso_time(self.finished_at),
            "output": self.output,
            "outputVar": self.output_var,
            "attempt": self.attempt,
            "error": self.error,
            "stdoutFile": self.stdout_path,
            "stderrFile": self.stderr_path,
            **({"handler": True} if self.handler else {}),
            **({"tolerated": True} if self.tolerated else {}),
        }


class ChildRecord:
    """A child run as its parent step sees it."""

    __slots__ = (
        "error",
        "finished_at",
        "item",
        "item_index",
        "name",
        "run_id",
        "started_at",
        "status",
        "step",
    )

    def __init__(
        self,
        run_id: str,
        name: str,
        status: RunStatus,
        step: str,
        item_index: int | None,
        item: str | None,
        started_at: float | None = None,
        finished_at: float | None = None,
        error: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.status = status
        self.step = step
        self.item_index = item_index
        self.item = item
        self.started_at = started_at
        self.finished_at = finished_at
        self.error = error

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "name": self.name,
            "status": str(self.status),
            "step": self.step,
            "itemIndex": self.item_index,
            "item": self.item,
            "startedAt": iso_time(self.started_at),
            "finishedAt": iso_time(self.finished_at),
            "error": self.error,
        }


class RunRecord:
    __slots__ = (
        "attempt",
        "child_counts",
        "children",
        "created_at",
        "definition",
        "depth",
        "error",
        "finished_at",
        "heartbeat_at",
        "host",
        "item",
        "item_index",
        "log_dir",
        "name",
        "outputs",
        "owner",
        "params",
        "parent_run_id",
        "parent_step",
        "pid",
        "root_run_id",
        "run_id",
        "source",
        "started_at",
        "status",
        "steps",
        "worker",
    )

    def __init__(
        self,
        run_id: str,
        name: str,
        status: RunStatus,
        params: list[list[str | None]] | None = None,
        outputs: dict[str, str] | None = None,
        source: str | None = None,
        created_at: float = 0.0,
        started_at: float | None = None,
        finished_at: float | None = None,
        error: str | None = None,
        parent_run_id: str | None = None,
        parent_step: str | None = None,
        root_run_id: str | None = None,
        item_index: int | None = None,
        item: str | None = None,
        attempt: int = 1,
        depth: int = 0,
        pid: int | None = None,
        heartbeat_at: float | None = None,
        log_dir: str | None = None,
        steps: list[StepRecord] | None = None,
        children: list[ChildRecord] | None = None,
        host: str | None = None,
        owner: str | None = None,
        definition: dict[str, str] | None = None,
        worker: str | None = None,
    ) -> None:
        self.worker = worker  # the worker (on another machine) that runs it
        self.run_id = run_id
        self.name = name
        self.status = status
        self.params = list() if params is None else params
        self.outputs = dict() if outputs is None else outputs
        self.source = source
        self.created_at = created_at
        self.started_at = started_at
        self.finished_at = finished_at
        self.error = error
        self.parent_run_id = parent_run_id
        self.parent_step = parent_step
        self.root_run_id = root_run_id
        self.item_index = item_index
        self.item = item
        self.attempt = attempt
        self.depth = depth
        self.pid = pid
        self.heartbeat_at = heartbeat_at
        self.host = host  # the agent's host and owner id (its lease's holder)
        self.owner = owner
        # written with a new run, read with ``RunStore.definition``: its workflow files' texts
        self.definition = definition
        self.log_dir = log_dir
        self.steps = list() if steps is None else steps
        self.children = list() if children is None else children
        # how many direct children each step has, by status (all of them, also when
        # ``children`` holds only some: see ``RunStore.get_run``)
        self.child_counts: dict[str, dict[str, int]] = {}

    @property
    def succeeded(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.PARTIALLY_SUCCEEDED)

    def children_of(self, step: str) -> int:
        """How many direct children the step started (all of them)."""
        return sum(self.child_counts.get(step, {}).values())

    def step(self, name: str) -> StepRecord:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def params_to_replay(self) -> tuple[Param, ...]:
        """The params a retry or restart runs with: these, but a secret the store holds only
        masked is left out, so its default (a backtick, a secret) is evaluated anew."""
        return tuple(
            Param(name, value or "")
            for name, value in self.params
            if not (value == MASK and name is not None and is_secret_name(name))
        )

    def params_json(self) -> dict[str, str]:
        named: dict[str, str] = {}
        position = 0
        for name, value in self.params:
            if name is None:
                position += 1
                named[str(position)] = value or ""
            else:  # a param whose name says it is a secret is never shown
                named[name] = MASK if value and is_secret_name(name) else value or ""
        return named

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "runId": self.run_id,
            "status": str(self.status),
            "params": self.params_json(),
            "outputs": self.outputs,
            "startedAt": iso_time(self.started_at),
            "finishedAt": iso_time(self.finished_at),
            "error": self.error,
            "attempt": self.attempt,
            "source": self.source,
            "host": self.host,
            "pid": self.pid,
            "worker": self.worker,
            "parentRunId": self.parent_run_id,
            "parentStep": self.parent_step,
            "rootRunId": self.root_run_id,
            "itemIndex": self.item_index,
            "item": self.item,
            "steps": [step.to_json() for step in self.steps],
            "children": [child.to_json() for child in self.children],
            "childCounts": self.child_counts,
        }
