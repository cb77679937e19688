"""The field tables of the dialect: every field of a workflow and of a step, declared once.

The loader reads mappings with these tables and the JSON Schema is generated from them. A field
is declared by its camelCase name; its snake_case spelling and any aliases are accepted too.
"""

from __future__ import annotations

import re

from plait.model import Executor, HandlerEvent, MailConfig, Step
from plait.model.telemetry import OtelSettings
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
    VarName,
    Words,
    parse_duration,
    snake,
)
from plait.spec._yaml import Path
from plait.spec.cron import ScheduleKind
from plait.spec.executors import (
    COMMAND_TYPES,
    KNOWN_TYPES,
    REFUSED_TYPES,
    ExecutorKind,
    Mapping_,
    Port,
    Settings,
    read_config,
)
from plait.spec.params import EnvKind, ParamsKind
from plait.spec.policies import (
    CommandKind,
    ConditionsKind,
    ContinueOnKind,
    ParallelKind,
    RepeatKind,
    RetryKind,
)
from plait.spec.priority import PRIORITY_MAX, PRIORITY_MIN
from plait.spec.secrets import SecretsKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["HANDLERS", "MAIL_ON", "STEP", "WORKFLOW", "StepKind", "StepsKind", "name_unnamed_steps"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_WORKFLOW_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class Identifier(Kind):
    """A step ``id``: letters, digits, ``_`` and ``-``, not starting with a digit or ``-``."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str) and _IDENTIFIER.match(value.strip()):
            return value.strip()
        return ctx.error(path, "must be an identifier like `build-1` (letters, digits, _ -)")

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "string", "pattern": _IDENTIFIER.pattern}


class OutputKind(Kind):
    """``output``: a variable name, or ``{name, key, omit}`` (read as a 3-tuple)."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if not isinstance(value, dict):
            name = VarName().read(ctx, path, value)
            return INVALID if name is INVALID else (name, None, False)
        entries = _OUTPUT.read(ctx, path, value)
        if "name" not in entries:
            return INVALID
        return (entries.get("name"), entries.get("key"), entries.get("omit", False))

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"anyOf": [VarName().schema(defs), Struct(_OUTPUT).schema(defs)]}


_OUTPUT = Table(
    "output",
    (
        Field("name", VarName(), "The variable later steps read.", required=True),
        Field("key", Text(), "Its key in the run's outputs (default: the name)."),
        Field("omit", Flag(), "Usable by later steps, left out of the run's outputs."),
    ),
)


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
        Field(
            "name",
            Text(),
            "The step's name, unique in the workflow (default: by kind and "
            "position, `cmd_1`, `script_2` ...).",
        ),
        Field("id", Identifier(), "A short identifier other steps may use in `depends`."),
        Field("description", Text(), "What the step does."),
        Field("command", CommandKind(), "The command: a string, a block, or a list of arguments."),
        Field("script", Text(), "A script run by the step's shell."),
        Field("shell", Text(), "The shell that runs the command or script."),
        Field("workingDir", Text(), "The folder the step runs in.", ("dir",)),
        Field("depends", Names(), "Steps this step waits for (name or id); [] for none."),
        Field("output", OutputKind(), "A variable that captures the output, or {name, key, omit}."),
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
        Field(
            "wait",
            Flag(),
            "With `run`: false starts the child run on its own (in its queue) and goes on; "
            "the step's output is its run id (plait).",
        ),
        Field(
            "executor",
            ExecutorKind(),
            "What runs the step: jq, http, mail, ssh, docker, archive, hitl (or shell).",
        ),
        Field("type", Text(), "The executor (the other spelling of `executor`)."),
        Field("config", Mapping_(), "The settings of the executor named by `type`."),
        Field("container", Mapping_(), "Run the step in a container (needs a Docker engine)."),
        Field("logOutput", Choice(("separate", "merged")), "merged: stderr into the stdout log."),
        Field("shellPackages", Words(), "Packages for a nix shell (refused: plait has none)."),
        Field("llm", Anything(), "An LLM call (refused: plait calls no LLM provider)."),
        Field("messages", Anything(), "The messages of an LLM call (refused, as `llm`)."),
    ),
)

_RUNNABLE = ("command", "script", "run")
_NOT_STORED_STEP = frozenset(
    {
        "name",
        "output",
        "executor",
        "type",
        "config",
        "container",
        "shell_packages",
        "llm",
        "messages",
    }
)
# Executors that need neither a command nor a script: their settings say what to do.
_SELF_CONTAINED = frozenset({"mail", "hitl", "docker", "container"})


def make_step(ctx: Ctx, entries: Entries, default_name: str | None = None) -> Any:
    """A ``Step`` from its fields, or ``INVALID`` when it cannot be one (after reporting).

    A step without ``name`` gets ``""`` here; the workflow names it by position
    (``name_unnamed_steps``).
    """
    name = entries.get("name") or default_name or ""
    if "name" in entries and not entries.get("name").strip():
        ctx.error(entries.at("name"), "a step name cannot be empty")
        return INVALID
    executor = _executor(ctx, entries)
    if executor is INVALID:
        return INVALID
    _check_runnable(ctx, entries, name, executor)
    values = {k: v for k, v in entries.values.items() if k not in _NOT_STORED_STEP}
    output = entries.get("output")
    if output is not None:
        values["output"], values["output_key"], values["output_omit"] = output
    return Step(
        name=name.strip(),
        line=ctx.line(entries.path),
        executor=executor,
        refused=_refused(entries, executor),
        **values,
    )


def _executor(ctx: Ctx, entries: Entries) -> Any:
    """The step's executor from ``executor``, or ``type`` + ``config``, or ``container``."""
    if entries.given("executor") and entries.given("config"):
        return ctx.error(entries.at("config"), "use `type` + `config`, or `executor`, not both")
    executor: Executor | None = entries.get("executor")
    if executor is None and "executor" in entries.invalid:
        return INVALID
    kind = entries.get("type")
    if kind is not None and kind.strip():
        config = entries.get("config") or (executor.config if executor else {})
        executor = Executor(kind.strip(), config, ctx.line(entries.at("type")))
    elif entries.given("config") and executor is None:
        return ctx.error(entries.at("config"), "`config` needs `type`: the executor it sets up")
    if executor is None and "container" in entries:
        executor = Executor("docker", container_config(entries.get("container")))
    if executor is None or executor.type in COMMAND_TYPES:
        return None if executor is None or not executor.config else _no_settings(ctx, entries)
    if executor.type not in KNOWN_TYPES:
        known = ", ".join(sorted(t for t in KNOWN_TYPES if t))
        where = entries.at("type") if entries.given("type") else entries.at("executor")
        return ctx.error(where, f"unknown executor `{executor.type}` (known: {known})")
    where = entries.at("config") if entries.given("config") else entries.at("executor")
    if entries.given("executor") and not entries.given("type"):
        where = (*entries.at("executor"), "config")
    config = read_config(ctx, where, executor.type, executor.config)
    if config is INVALID:
        return INVALID
    return executor


def _no_settings(ctx: Ctx, entries: Entries) -> Any:
    where = entries.at("config") if entries.given("config") else entries.at("executor")
    return ctx.error(where, "the shell executor takes no settings")


def container_config(container: dict[str, Any]) -> dict[str, Any]:
    """A step's ``container:`` as settings of the docker executor."""
    names = {
        "image": "image",
        "exec": "containerName",
        "name": "containerName",
        "pullPolicy": "pull",
        "volumes": "volumes",
        "workingDir": "workingDir",
        "platform": "platform",
        "keepContainer": "keepContainer",
    }
    config: dict[str, Any] = {names[key]: value for key, value in container.items() if key in names}
    env = container.get("env")
    if isinstance(env, dict):
        config["env"] = [f"{k}={v}" for k, v in env.items()]
    elif isinstance(env, list):
        config["env"] = [
            "=".join(map(str, next(iter(e.items())))) if isinstance(e, dict) else str(e)
            for e in env
        ]
    return config


def _refused(entries: Entries, executor: Executor | None) -> tuple[tuple[str, str], ...]:
    """Fields of the step that need what plait cannot offer here: refused at run start."""
    refused: list[tuple[str, str]] = []
    if entries.get("shell_packages"):
        refused.append(
            ("shellPackages", "installing packages needs nix-shell, which plait does not run")
        )
    for field in ("llm", "messages"):
        if entries.given(field):
            refused.append((field, "plait calls no LLM provider"))
    if executor is not None and executor.type in REFUSED_TYPES:
        refused.append(("type", f"executor `{executor.type}` needs {REFUSED_TYPES[executor.type]}"))
    return tuple(refused)


def _check_runnable(ctx: Ctx, entries: Entries, name: str, executor: Executor | None) -> None:
    given = [k for k in _RUNNABLE if entries.given(k)]
    called = f"step `{name}`" if name else "a step"
    self_contained = executor is not None and executor.type in _SELF_CONTAINED
    llm = entries.given("llm") or entries.given("messages")
    if not given and not self_contained and not llm:
        ctx.error(entries.path, f"{called} has nothing to run: add `command`, `script` or `run`")
    if "run" in given and len(given) > 1:
        other = entries.keys[given[0]]
        ctx.error(entries.at("run"), f"`{entries.keys['run']}` cannot be combined with `{other}`")
    if entries.given("parallel") and not (entries.given("run") or entries.given("command")):
        ctx.error(entries.at("parallel"), "`parallel` needs `run` or `command`")
    if entries.given("wait") and entries.get("wait") is False:
        if not entries.given("run"):
            ctx.error(entries.at("wait"), "`wait: false` needs `run` (a child workflow)")
        elif entries.given("parallel"):
            ctx.error(entries.at("wait"), "`wait: false` cannot be combined with `parallel`")


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
    """``steps``: a list of steps; invalid steps stay in place as ``INVALID`` for indexing.

    An item may be a step mapping, a string (a step of that ``command``), or a list of them:
    a group whose steps run side by side after what comes before, and which what comes after
    waits for. ``steps`` may also be a mapping of names to steps, as the reference allows.
    Returns ``(index, step)`` pairs: the item index each step was written at.
    """

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, dict):
            return self._mapping(ctx, path, value)
        if not isinstance(value, list):
            return ctx.error(path, "steps must be a list of steps")
        if not value:
            return ctx.error(path, "the workflow has no steps")
        steps: list[Any] = []
        for i, item in enumerate(value):
            if isinstance(item, list):
                if not item:
                    ctx.error((*path, i), "an empty group of steps")
                for j, member in enumerate(item):
                    step = _one_step(ctx, (*path, i, j), member)
                    steps.append((i, step if step is INVALID else step.replace(group=i)))
            else:
                steps.append((i, _one_step(ctx, (*path, i), item)))
        return steps

    def _mapping(self, ctx: Ctx, path: Path, value: dict[str, object]) -> Any:
        if not value:
            return ctx.error(path, "the workflow has no steps")
        steps: list[Any] = []
        for i, (name, item) in enumerate(value.items()):
            if not isinstance(item, dict):
                steps.append((i, ctx.error((*path, name), "a step must be a mapping of fields")))
                continue
            if any(snake(key) == "name" for key in item):
                ctx.error((*path, name), "a step of a `steps:` mapping takes its key as name")
            steps.append((i, StepKind().read(ctx, (*path, name), {"name": name, **item})))
        return steps

    def schema(self, defs: dict[str, Schema]) -> Schema:
        one: Schema = {"anyOf": [StepKind().schema(defs), {"type": "string"}]}
        item: Schema = {"anyOf": [one, {"type": "array", "minItems": 1, "items": one}]}
        return {
            "anyOf": [
                {"type": "array", "minItems": 1, "items": item},
                {"type": "object", "minProperties": 1, "additionalProperties": {"type": "object"}},
            ]
        }


def _one_step(ctx: Ctx, path: Path, item: object) -> Any:
    if isinstance(item, str | int | float) and not isinstance(item, bool):
        text = ctx.text(path, item)
        if not text.strip():
            return ctx.error(path, "a step given as a string needs a command")
        return StepKind().read(ctx, path, {"command": text})
    return StepKind().read(ctx, path, item)


def name_unnamed_steps(steps: list[Step], indexes: list[int]) -> list[Step]:
    """Name the steps written without ``name`` as the reference does: their kind and the
    position they were written at (``cmd_1``, ``script_3``, ``http_2``, ``dag_4``), skipping
    names already taken."""
    taken = {step.name for step in steps if step.name}
    named: list[Step] = []
    for step, index in zip(steps, indexes, strict=True):
        if step.name:
            named.append(step)
            continue
        prefix = _kind_of(step)
        counter = index + 1
        while f"{prefix}_{counter}" in taken:
            counter += 1
        taken.add(f"{prefix}_{counter}")
        named.append(step.replace(name=f"{prefix}_{counter}"))
    return named


def _kind_of(step: Step) -> str:
    if step.executor is not None:
        return step.executor.type
    if step.parallel is not None:
        return "parallel"
    if step.run is not None:
        return "dag"
    if step.script is not None:
        return "script"
    return "cmd" if step.command is not None else "step"


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
            ("wait", ()),
        )
    ),
)

MAIL_ON = Table(
    "mailOn",
    (
        Field("failure", Flag(), "Send a mail when a run fails."),
        Field("success", Flag(), "Send a mail when a run succeeds."),
        Field("wait", Flag(), "Send a mail when a run waits for a person (hitl)."),
    ),
)

SMTP = Table(
    "smtp",
    (
        Field("host", Text(), "The SMTP server."),
        Field("port", Port(), "Its port (587 with STARTTLS, 465 with TLS, 25 plain)."),
        Field("username", Text(), "The login, if the server asks for one."),
        Field("password", Text(), "The password (masked everywhere)."),
    ),
)


def _make_mail(ctx: Ctx, entries: Entries) -> Any:
    return MailConfig(
        from_=entries.get("from", ""),
        to=entries.get("to", ()),
        prefix=entries.get("prefix", ""),
        attach_logs=entries.get("attach_logs", False),
    )


MAIL = Table(
    "mail",
    (
        Field("from", Text(), "The sender's address."),
        Field("to", Words(comma=True), "The recipients: an address or a list."),
        Field("prefix", Text(), "Put before the subject (`[ALERT] `)."),
        Field("attachLogs", Flag(), "Attach the steps' logs."),
    ),
)
_MAIL = Struct(MAIL, _make_mail)


def make_otel(ctx: Ctx, entries: Entries) -> Any:
    timeout = entries.get("timeout")
    return OtelSettings(
        enabled=entries.get("enabled"),
        endpoint=entries.get("endpoint") or None,
        headers=entries.get("headers", {}),
        service_name=entries.get("service_name") or None,
        resource=entries.get("resource", {}),
        insecure=entries.get("insecure"),
        timeout_sec=None if timeout is None else parse_duration(timeout),
    )


OTEL = Table(
    "otel",
    (
        Field("enabled", Flag(), "Export traces (default true once the block is given)."),
        Field(
            "endpoint",
            Text(),
            "The OTLP/HTTP collector: a base URL (`http://127.0.0.1:4318`) or its traces URL.",
        ),
        Field("headers", TextMap(), "HTTP headers of every export (`Authorization`)."),
        Field("serviceName", Text(), "The traces' `service.name` (default `plait`)."),
        Field("resource", TextMap(), "More resource attributes (`deployment.environment`)."),
        Field("insecure", Flag(), "An endpoint without a scheme is http:// (else https://)."),
        Field("timeout", Duration(), "How long one export may take (default `10s`)."),
    ),
)


RUN_CONFIG = Table(
    "runConfig",
    (
        Field("disableParamEdit", Flag(), "The UI and API start runs with the declared params."),
        Field("disableRunIdEdit", Flag(), "The UI and API choose the run id; none is given."),
    ),
)

WEBHOOK = Table(
    "webhook",
    (
        Field(
            "params",
            TextMap(),
            "Params taken from the JSON payload of a webhook call: NAME: path "
            "(`ref`, `repository.full_name`, `commits.0.id`).",
        ),
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
        Field(
            "outputs",
            Names(),
            "The output keys its runs give a parent (checked by validate against the "
            "parents' `${VAR.outputs.KEY}`; plait).",
        ),
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
        Field("maxActiveRuns", Integer(-1), "Most runs of this workflow at once (-1: no limit)."),
        Field("maxActiveSteps", Integer(1), "Most steps of one run at once."),
        Field("maxCleanUpTimeSec", Number(0), "Seconds between the stop signal and the kill."),
        Field("queue", Text(), "The queue runs of this workflow wait in."),
        Field(
            "priority",
            Integer(PRIORITY_MIN, PRIORITY_MAX),
            f"Its runs' place in their queue: higher first, {PRIORITY_MIN} to {PRIORITY_MAX} "
            "(plait; default 0).",
        ),
        Field("preconditions", ConditionsKind(), "Conditions to run.", ("precondition",)),
        Field("handlerOn", Struct(HANDLERS, _make_handlers), "Steps run on run events."),
        Field("maxOutputSize", Integer(1), "Most bytes captured by a step's `output`."),
        Field("histRetentionDays", Integer(0), "Days of run history kept."),
        Field("histRetentionRuns", Integer(0), "Runs of history kept."),
        Field("mailOn", Struct(MAIL_ON), "When to send mail."),
        Field("errorMail", _MAIL, "The mail sent when a run fails (and on mailOnError)."),
        Field("infoMail", _MAIL, "The mail sent when a run succeeds."),
        Field("waitMail", _MAIL, "The mail sent when a run waits for a person."),
        Field("smtp", Struct(SMTP), "The SMTP server mail goes through."),
        Field("runConfig", Struct(RUN_CONFIG), "What the UI and API let a person change."),
        Field("webhook", Struct(WEBHOOK), "What a webhook call gives a run (plait)."),
        Field("logOutput", Choice(("separate", "merged")), "merged: stderr into the stdout log."),
        Field("ssh", Settings("ssh"), "Default ssh settings: steps run on that host."),
        Field("container", Mapping_(), "A container every step runs in (needs Docker)."),
        Field("registryAuths", Anything(), "Registry credentials for docker steps."),
        Field("otel", Struct(OTEL, make_otel), "Where traces of the runs go (OpenTelemetry)."),
        Field("llm", Anything(), "Default LLM settings (LLM steps are refused)."),
        Field("workerSelector", TextMap(), "Labels a worker must have to run the workflow."),
        Field(
            "retryOnWorkerLost",
            Integer(0),
            "Times a run is queued again when its worker is lost (plait; default 0).",
        ),
        Field("steps", StepsKind(), "The steps, in order.", required=True),
    ),
)
