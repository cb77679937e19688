"""The field tables of the dialect: every field of a workflow and of a step, declared once.

The loader reads mappings with these tables and the JSON Schema is generated from them. A field
is declared by its camelCase name; its snake_case spelling and any aliases are accepted too.
"""

from __future__ import annotations

import re

from plait.model import HandlerEvent, Step
from plait.spec._kinds import (
    INVALID,
    Anything,
    Choice,
    Ctx,
    Duration,
    Entries,
    Field,
    Flag,
    Integer,
    Kind,
    Names,
    Number,
    Schema,
    SignalName,
    Struct,
    Table,
    Text,
    TextMap,
    Unsupported,
    VarName,
    Words,
    snake,
)
from plait.spec._yaml import Path
from plait.spec.cron import ScheduleKind
from plait.spec.params import EnvKind, ParamsKind
from plait.spec.policies import (
    CommandKind,
    ConditionsKind,
    ContinueOnKind,
    ParallelKind,
    RepeatKind,
    RetryKind,
)
from plait.spec.secrets import SecretsKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["HANDLERS", "MAIL_ON", "STEP", "WORKFLOW", "StepKind", "StepsKind"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class Identifier(Kind):
    """A step ``id``: letters, digits and ``_``, not starting with a digit."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str) and _IDENTIFIER.match(value):
            return value
        return ctx.error(path, "must be an identifier like `build_1` (letters, digits, _)")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "string", "pattern": _IDENTIFIER.pattern}


class WorkflowName(Kind):
    """A workflow ``name``: letters, digits, ``_``, ``.`` and ``-``."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        text = Text().read(ctx, path, value)
        if text is INVALID or _WORKFLOW_NAME.match(text):
            return text
        return ctx.error(path, f"`{text}` is not a workflow name (letters, digits, _ . -)")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "string", "pattern": _WORKFLOW_NAME.pattern}


STEP = Table(
    "step",
    (
        Field("name", Text(), "The step's name, unique in the workflow.", required=True),
        Field("id", Identifier(), "A short identifier other steps may use in `depends`."),
        Field("description", Text(), "What the step does."),
        Field("command", CommandKind(), "The command: a string, a block, or a list of arguments."),
        Field("script", Text(), "A script run by the step's shell."),
        Field("shell", Text(), "The shell that runs the command or script."),
        Field("workingDir", Text(), "The folder the step runs in.", ("dir",)),
        Field("depends", Names(), "Steps this step waits for (name or id); [] for none."),
        Field("output", VarName(), "A variable that captures the step's output."),
        Field("stdout", Text(), "A file that receives the standard output."),
        Field("stderr", Text(), "A file that receives the standard error."),
        Field("env", EnvKind(), "Environment variables of the step."),
        Field("params", ParamsKind(), "Params given to the child workflow of `run`."),
        Field("run", Text(), "A child workflow to run: a path, a name, or a document.", ("call",)),
        Field("parallel", ParallelKind(), "Run the step once per item: a list or ${VAR}."),
        Field("preconditions", ConditionsKind(), "Conditions to run the step.", ("precondition",)),
        Field("continueOn", ContinueOnKind(), "When the workflow goes on after this step."),
        Field("retryPolicy", RetryKind, "Retry the step when it fails."),
        Field("repeatPolicy", RepeatKind, "Run the step again while (or until) a test holds."),
        Field("timeoutSec", Number(0), "Stop the step after this many seconds."),
        Field("delaySec", Number(0), "Wait this many seconds before starting the step."),
        Field("signalOnStop", SignalName(), "The signal sent to stop the step (default SIGTERM)."),
        Field("mailOnError", Flag(), "Send a mail when the step fails."),
        Field("workerSelector", TextMap(), "Labels a worker must have to run the step."),
        Field("executor", Unsupported("executor"), "Not supported by plait."),
    ),
)

_RUNNABLE = ("command", "script", "run")


def make_step(ctx: Ctx, entries: Entries, default_name: str | None = None) -> Any:
    """A ``Step`` from its fields, or ``INVALID`` when it cannot be one (after reporting)."""
    name = entries.get("name") or default_name
    if name is None or not name.strip():
        if "name" in entries:
            ctx.error(entries.at("name"), "a step name cannot be empty")
        return INVALID  # otherwise reported by the table: `name` is required
    _check_runnable(ctx, entries, name)
    values = {k: v for k, v in entries.values.items() if k != "name"}
    return Step(name=name, line=ctx.line(entries.path), **values)


def _check_runnable(ctx: Ctx, entries: Entries, name: str) -> None:
    given = [k for k in _RUNNABLE if entries.given(k)]
    if not given:
        ctx.error(
            entries.path, f"step `{name}` has nothing to run: add `command`, `script` or `run`"
        )
    if "run" in given and len(given) > 1:
        other = entries.keys[given[0]]
        ctx.error(entries.at("run"), f"`{entries.keys['run']}` cannot be combined with `{other}`")
    if entries.given("parallel") and not (entries.given("run") or entries.given("command")):
        ctx.error(entries.at("parallel"), "`parallel` needs `run` or `command`")


class StepKind(Kind):
    """One step mapping; a handler step gets ``default_name`` when it has none."""

    def __init__(self, default_name: str | None = None) -> None:
        self.default_name = default_name

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if not isinstance(value, dict):
            return ctx.error(path, "a step must be a mapping of step fields")
        if self.default_name and not any(snake(key) == "name" for key in value):
            value = {"name": self.default_name, **value}
        return make_step(ctx, STEP.read(ctx, path, value), self.default_name)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        reference = Struct(STEP).schema(defs)
        if self.default_name is None:
            return reference
        if "handlerStep" not in defs:  # a handler's name is optional
            defs["handlerStep"] = {k: v for k, v in defs[STEP.name].items() if k != "required"}
        return {"$ref": "#/definitions/handlerStep"}


class StepsKind(Kind):
    """``steps``: a list of steps; invalid steps stay in place as ``INVALID`` for indexing."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, dict):
            hint = "write `steps:` as a list: `- name: <step>` then its fields"
            return ctx.error(path, f"steps must be a list, not a mapping; {hint}")
        if not isinstance(value, list):
            return ctx.error(path, "steps must be a list of steps")
        if not value:
            return ctx.error(path, "the workflow has no steps")
        return [StepKind().read(ctx, (*path, i), item) for i, item in enumerate(value)]

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "array", "minItems": 1, "items": StepKind().schema(defs)}


def _make_handlers(ctx: Ctx, entries: Entries) -> dict[HandlerEvent, Step]:
    return {HandlerEvent(event): step for event, step in entries.values.items()}


HANDLERS = Table(
    "handlerOn",
    tuple(
        Field(event, StepKind(f"on{event.title()}"), f"A step run on {event}.", aliases)
        for event, aliases in (
            ("init", ()),
            ("success", ()),
            ("failure", ()),
            ("cancel", ("abort",)),
            ("exit", ()),
        )
    ),
)

MAIL_ON = Table(
    "mailOn",
    (
        Field("failure", Flag(), "Send a mail when a run fails."),
        Field("success", Flag(), "Send a mail when a run succeeds."),
    ),
)

WORKFLOW = Table(
    "workflow",
    (
        Field("name", WorkflowName(), "The workflow's name (default: the file name)."),
        Field("description", Text(), "What the workflow does."),
        Field("group", Text(), "A group shown in the UI."),
        Field("tags", Words(comma=True), "Tags: a list or a comma-separated string."),
        Field("params", ParamsKind(), "Params and their defaults."),
        Field("env", EnvKind(), "Environment variables of every step."),
        Field("dotenv", Words(), "`.env` files to load."),
        Field("secrets", SecretsKind(), "Variables whose values come from env or a file."),
        Field("schedule", ScheduleKind(), "Cron lines, or {start, stop, restart}."),
        Field("skipIfSuccessful", Flag(), "Skip a scheduled run if one already succeeded."),
        Field("catchupWindow", Duration(), "How far back missed schedules are run (`6h`)."),
        Field("overlapPolicy", Choice(("skip", "all", "latest")), "What a busy schedule does."),
        Field("type", Choice(("chain", "graph")), "chain: steps follow each other by default."),
        Field("shell", Text(), "The default shell of the steps."),
        Field("workingDir", Text(), "The default folder of the steps."),
        Field("logDir", Text(), "Where step logs are written."),
        Field("timeoutSec", Number(0), "Stop the run after this many seconds."),
        Field("delaySec", Number(0), "Wait this many seconds before the first step."),
        Field("restartWaitSec", Number(0), "Wait this many seconds before a restart."),
        Field("maxActiveRuns", Integer(1), "Most runs of this workflow at once."),
        Field("maxActiveSteps", Integer(1), "Most steps of one run at once."),
        Field("maxCleanUpTimeSec", Number(0), "Seconds between the stop signal and the kill."),
        Field("queue", Text(), "The queue runs of this workflow wait in."),
        Field("preconditions", ConditionsKind(), "Conditions to run.", ("precondition",)),
        Field("handlerOn", Struct(HANDLERS, _make_handlers), "Steps run on run events."),
        Field("maxOutputSize", Integer(1), "Most bytes captured by a step's `output`."),
        Field("histRetentionDays", Integer(0), "Days of run history kept."),
        Field("histRetentionRuns", Integer(0), "Runs of history kept."),
        Field("mailOn", Struct(MAIL_ON), "When to send mail."),
        Field("errorMail", Anything(), "Accepted for compatibility; not used by plait."),
        Field("infoMail", Anything(), "Accepted for compatibility; not used by plait."),
        Field("smtp", Anything(), "Accepted for compatibility; not used by plait."),
        Field("workerSelector", TextMap(), "Labels a worker must have to run the workflow."),
        Field("steps", StepsKind(), "The steps, in order.", required=True),
    ),
)
