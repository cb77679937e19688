"""The canonical workflow: what a YAML file means once loaded, with no I/O and no YAML left.

Every object is frozen. ``line`` fields point back into the source file so that errors found
later (at run time) can still name the place a person has to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_MAX_ACTIVE_RUNS",
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_MAX_OUTPUT_SIZE",
    "Condition",
    "ContinueOn",
    "GraphType",
    "HandlerEvent",
    "Parallel",
    "Param",
    "RepeatMode",
    "RepeatPolicy",
    "RetryPolicy",
    "Schedule",
    "Step",
    "Workflow",
]

DEFAULT_MAX_OUTPUT_SIZE = 1024 * 1024
DEFAULT_MAX_CONCURRENT = 10
DEFAULT_MAX_ACTIVE_RUNS = 1


class GraphType(StrEnum):
    """How steps without ``depends`` are ordered."""

    CHAIN = "chain"  # a step without depends follows the previous step
    GRAPH = "graph"  # a step without depends starts at once


class HandlerEvent(StrEnum):
    """The moments of a run that ``handlerOn`` can react to."""

    INIT = "init"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCEL = "cancel"
    EXIT = "exit"


class RepeatMode(StrEnum):
    WHILE = "while"
    UNTIL = "until"


@dataclass(frozen=True, slots=True)
class Param:
    """One param: ``name`` is None for a positional param (``$1``, ``$2`` ...)."""

    name: str | None
    value: str


@dataclass(frozen=True, slots=True)
class Condition:
    """A precondition or repeat condition: a string whose expansion is compared to ``expected``.

    Without ``expected`` the condition is a command whose exit code decides (0 is met).
    """

    condition: str
    expected: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ContinueOn:
    failure: bool = False
    skipped: bool = False
    exit_codes: tuple[int, ...] = ()
    output: tuple[str, ...] = ()
    mark_success: bool = False

    @property
    def any(self) -> bool:
        return self.failure or self.skipped or bool(self.exit_codes) or bool(self.output)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    limit: int = 0
    interval_sec: float = 0.0
    exit_codes: tuple[int, ...] = ()
    backoff: float = 0.0
    max_interval_sec: float | None = None


@dataclass(frozen=True, slots=True)
class RepeatPolicy:
    mode: RepeatMode
    condition: Condition | None = None
    exit_codes: tuple[int, ...] = ()
    interval_sec: float = 0.0
    limit: int | None = None
    backoff: float = 0.0
    max_interval_sec: float | None = None


@dataclass(frozen=True, slots=True)
class Parallel:
    """Fan-out of a step over items: a literal list, or an expression that yields one."""

    items: tuple[object, ...] | str
    max_concurrent: int = DEFAULT_MAX_CONCURRENT


@dataclass(frozen=True, slots=True)
class Schedule:
    """Cron lines, each optionally prefixed by ``CRON_TZ=``/``TZ=``."""

    start: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.start or self.stop or self.restart)


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    line: int | None = None
    id: str | None = None
    description: str = ""
    command: str | tuple[str, ...] | None = None
    script: str | None = None
    shell: str | None = None
    working_dir: str | None = None
    depends: tuple[str, ...] | None = None  # None: not written (chain rule applies)
    output: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    params: tuple[Param, ...] = ()
    run: str | None = None
    parallel: Parallel | None = None
    preconditions: tuple[Condition, ...] = ()
    continue_on: ContinueOn = field(default_factory=ContinueOn)
    retry_policy: RetryPolicy | None = None
    repeat_policy: RepeatPolicy | None = None
    timeout_sec: float | None = None
    delay_sec: float = 0.0
    signal_on_stop: str | None = None
    mail_on_error: bool = False
    worker_selector: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    steps: tuple[Step, ...]
    source: str | None = None  # file path, or None for text given directly
    line: int | None = None
    description: str = ""
    group: str | None = None
    tags: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    dotenv: tuple[str, ...] = ()
    schedule: Schedule = field(default_factory=Schedule)
    skip_if_successful: bool = False
    catchup_window: str | None = None
    overlap_policy: str | None = None
    type: GraphType = GraphType.CHAIN
    shell: str | None = None
    working_dir: str | None = None
    log_dir: str | None = None
    timeout_sec: float | None = None
    delay_sec: float = 0.0
    restart_wait_sec: float = 0.0
    max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS
    max_active_steps: int | None = None
    max_clean_up_time_sec: float = 5.0
    queue: str | None = None
    preconditions: tuple[Condition, ...] = ()
    handlers: Mapping[HandlerEvent, Step] = field(default_factory=dict)
    max_output_size: int = DEFAULT_MAX_OUTPUT_SIZE
    hist_retention_days: int | None = None
    hist_retention_runs: int | None = None
    mail_on: Mapping[str, bool] = field(default_factory=dict)
    worker_selector: Mapping[str, str] = field(default_factory=dict)
    # Other documents of the same file, by name: the children ``run:`` can name directly.
    local: Mapping[str, Workflow] = field(default_factory=dict, compare=False, repr=False)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)
