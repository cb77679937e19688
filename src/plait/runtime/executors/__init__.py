"""Executors: steps run by plait itself rather than by their shell — ``jq``, ``http``,
``mail``, ``ssh``, ``docker``, ``archive`` (``hitl`` waits for a person; see ``runtime.hitl``).

Each module has ``run(io: StepIO) -> int``: it does the step's work, writes what it has to say
to ``io.stdout``/``io.stderr`` (the step's logs: masked, capped, captured by ``output:``) and
returns an exit code; it raises ``ExecutorFailure`` for a failure it can name, and
``TimeoutError`` when ``io.timeout`` passed. A module is imported only by a step that uses it,
so its library (httpx, paramiko, docker, jq) never weighs on a plain ``plait start``.

Values are data here too: a run-time value is inserted as text of the field it is written in
(a URL, a header, a body, a mail text), never read by a shell.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from typing import Any

from plait.proc.sink import LogSink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.runtime.step import StepExecution

__all__ = ["ExecutorFailure", "StepIO", "run_executor"]

_MODULES = {
    "jq": "jq",
    "http": "http",
    "mail": "mail",
    "ssh": "ssh",
    "docker": "docker",
    "container": "docker",
    "archive": "archive",
    "hitl": "hitl",
}


class ExecutorFailure(Exception):
    """A step that failed for a reason its executor can name (exit code 1 by default)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class StepIO:
    """What an executor works with: its step, its settings with values expanded, its logs,
    its time limit, and whether the run is stopping."""

    def __init__(
        self,
        execution: StepExecution,
        env: dict[str, str],
        cwd: str,
        stdout: LogSink,
        stderr: LogSink,
        timeout: float | None,
    ) -> None:
        self.execution = execution
        self.step = execution.step
        self.env = env
        self.cwd = cwd
        self.stdout = stdout
        self.stderr = stderr
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        assert self.step.executor is not None
        self.type = self.step.executor.type

    @property
    def stopping(self) -> bool:
        return self.execution.run.stopping.is_set()

    def remaining(self) -> float | None:
        """Seconds left before the step's timeout (None: no limit)."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def remaining_or_zero(self) -> float:
        """Seconds left before the step's timeout, 0 when it passed (inf without one)."""
        if self.deadline is None:
            return float("inf")
        return max(self.deadline - time.monotonic(), 0.0)

    def expand(self, text: str) -> str:
        """``text`` with its references replaced by their values (as text of the field)."""
        return self.execution.scope.expand(text, self.env_only())

    def env_only(self) -> Mapping[str, str]:
        return {k: v for k, v in self.env.items() if k.startswith(("DAG_", "PLAIT_"))}

    def config(self) -> dict[str, Any]:
        """The executor's settings (the workflow's defaults under the step's own), every
        string in them expanded."""
        assert self.step.executor is not None
        base: Mapping[str, Any] = {}
        workflow = self.execution.run.workflow
        if self.type == "ssh" and workflow.ssh:
            base = workflow.ssh
        merged = {**base, **self.step.executor.config}
        return {key: self._expanded(value) for key, value in merged.items()}

    def _expanded(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.expand(value)
        if isinstance(value, list):
            return [self._expanded(v) for v in value]
        if isinstance(value, dict):
            return {k: self._expanded(v) for k, v in value.items()}
        return value

    def command(self) -> str:
        """The step's command text (a list: its commands, one per line), unexpanded."""
        command = self.step.command
        if command is None:
            return ""
        return command if isinstance(command, str) else "\n".join(command)

    def out(self, text: str) -> None:
        self.stdout.write(text.encode("utf-8", "surrogateescape"))

    def err(self, text: str) -> None:
        self.stderr.write(text.encode("utf-8", "surrogateescape"))

    def close(self) -> None:
        self.stdout.close()
        self.stderr.close()


def run_executor(io: StepIO) -> int:
    """Run the step with its executor; its exit code."""
    name = _MODULES.get(io.type)
    if name is None:
        raise ExecutorFailure(f"executor `{io.type}` cannot run here")
    module = importlib.import_module(f"plait.runtime.executors.{name}")
    code: int = module.run(io)
    return code
