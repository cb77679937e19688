"""The canonical workflow: what a YAML file means once loaded, with no I/O and no YAML left.

Every object is frozen. ``line`` fields point back into the source file so that errors found
later (at run time) can still name the place a person has to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from plait.model._value import Value
from plait.model.telemetry import OtelSettings

__all__ = [
    "DEFAULT_MAX_ACTIVE_RUNS",
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_MAX_OUTPUT_SIZE",
    "UNLIMITED_ACTIVE_RUNS",
    "Condition",
    "ContinueOn",
    "Executor",
    "GraphType",
    "HandlerEvent",
    "ItemsFrom",
    "MailConfig",
    "Parallel",
    "Param",
    "RepeatMode",
    "RepeatPolicy",
    "RetryPolicy",
    "Schedule",
    "Secret",
    "Step",
    "Workflow",
]

DEFAULT_MAX_OUTPUT_SIZE = 1024 * 1024
DEFAULT_MAX_CONCURRENT = 10
DEFAULT_MAX_ACTIVE_RUNS = 1
UNLIMITED_ACTIVE_RUNS = 1_000_000  # `maxActiveRuns: -1`: runs of the workflow never wait


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
    WAIT = "wait"  # the run waits for a person (a `hitl` step)


class RepeatMode(StrEnum):
    WHILE = "while"
    UNTIL = "until"


PARAM_TYPES = ("string", "integer", "number", "boolean")


class Param(Value):
    """One param: ``name`` is None for a positional param (``$1``, ``$2`` ...). A workflow's
    declared param may carry its interface: ``type`` (one of ``PARAM_TYPES``), ``required``,
    ``description`` and ``choices`` (the values allowed); ``value`` is then its default."""

    __slots__ = ("choices", "description", "name", "required", "type", "value")

    def __init__(
        self,
        name: str | None,
        value: str,
        type: str | None = None,
        required: bool = False,
        description: str | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.type = type
        self.required = required
        self.description = description
        self.choices = choices

    @property
    def typed(self) -> bool:
        """Whether it declares more than a default (a type, required, choices)."""
        return self.type is not None or self.required or self.choices is not None


class Secret(Value):
    """``secrets:`` entry: the environment variable ``name`` of every step gets the value
    that ``provider`` (``env`` or ``file``) finds under ``key``; never stored, always masked."""

    __slots__ = ("key", "line", "name", "options", "provider")

    def __init__(
        self,
        name: str,
        provider: str,
        key: str,
        options: Mapping[str, str] | None = None,
        line: int | None = None,
    ) -> None:
        self.name = name
        self.provider = provider
        self.key = key
        self.options = dict() if options is None else options
        self.line = line


class Executor(Value):
    """What runs a step other than its shell: ``type`` (``jq``, ``http``, ``mail``, ``ssh``,
    ``docker``, ``archive``, ``hitl``) and its ``config``, as written (values are expanded when
    the step runs)."""

    __slots__ = ("config", "line", "type")

    def __init__(
        self, type: str, config: Mapping[str, object] | None = None, line: int | None = None
    ) -> None:
        self.type = type
        self.config = dict() if config is None else config
        self.line = line

    def __hash__(self) -> int:
        return hash((self.type, self.line))


class MailConfig(Value):
    """``errorMail``, ``infoMail``, ``waitMail``: who sends to whom, and how."""

    __slots__ = ("attach_logs", "from_", "prefix", "to")

    def __init__(
        self,
        from_: str = "",
        to: tuple[str, ...] = (),
        prefix: str = "",
        attach_logs: bool = False,
    ) -> None:
        self.from_ = from_
        self.to = to
        self.prefix = prefix
        self.attach_logs = attach_logs


class Condition(Value):
    """A precondition or repeat condition: a string whose expansion is compared to ``expected``.

    Without ``expected`` the condition is a command whose exit code decides (0 is met).
    """

    __slots__ = ("condition", "expected", "line")

    def __init__(
        self,
        condition: str,
        expected: str | None = None,
        line: int | None = None,
    ) -> None:
        self.condition = condition
        self.expected = expected
        self.line = line


class ContinueOn(Value):
    __slots__ = ("exit_codes", "failure", "mark_success", "output", "skipped")

    def __init__(
        self,
        failure: bool = False,
        skipped: bool = False,
        exit_codes: tuple[int, ...] = (),
        output: tuple[str, ...] = (),
        mark_success: bool = False,
    ) -> None:
        self.failure = failure
        self.skipped = skipped
        self.exit_codes = exit_codes
        self.output = output
        self.mark_success = mark_success

    @property
    def any(self) -> bool:
        return self.failure or self.skipped or bool(self.exit_codes) or bool(self.output)


class RetryPolicy(Value):
    __slots__ = ("backoff", "exit_codes", "interval_sec", "limit", "max_interval_sec")

    def __init__(
        self,
        limit: int = 0,
        interval_sec: float = 0.0,
        exit_codes: tuple[int, ...] = (),
        backoff: float = 0.0,
        max_interval_sec: float | None = None,
    ) -> None:
        self.limit = limit
        self.interval_sec = interval_sec
        self.exit_codes = exit_codes
        self.backoff = backoff
        self.max_interval_sec = max_interval_sec


class RepeatPolicy(Value):
    __slots__ = (
        "backoff",
        "condition",
        "exit_codes",
        "interval_sec",
        "limit",
        "max_interval_sec",
        "mode",
    )

    def __init__(
        self,
        mode: RepeatMode,
        condition: Condition | None = None,
        exit_codes: tuple[int, ...] = (),
        interval_sec: float = 0.0,
        limit: int | None = None,
        backoff: float = 0.0,
        max_interval_sec: float | None = None,
    ) -> None:
        self.mode = mode
        self.condition = condition
        self.exit_codes = exit_codes
        self.interval_sec = interval_sec
        self.limit = limit
        self.backoff = backoff
        self.max_interval_sec = max_interval_sec


class ItemsFrom(Value):
    """Items read as the fan-out goes: the lines of a file or of a command's stdout (a JSON
    object or array on a line is one item), or a file holding a JSON array."""

    __slots__ = ("command", "file")

    def __init__(self, *, file: str | None = None, command: str | None = None) -> None:
        self.file = file
        self.command = command


class Parallel(Value):
    """Fan-out of a step over items: a literal list, an expression that yields one, or a
    file or command they are read from."""

    __slots__ = ("items", "max_concurrent")

    def __init__(
        self,
        items: tuple[object, ...] | str | ItemsFrom,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    ) -> None:
        self.items = items
        self.max_concurrent = max_concurrent


class Schedule(Value):
    """Cron lines, each optionally prefixed by ``CRON_TZ=``/``TZ=``."""

    __slots__ = ("restart", "start", "stop")

    def __init__(
        self,
        start: tuple[str, ...] = (),
        stop: tuple[str, ...] = (),
        restart: tuple[str, ...] = (),
    ) -> None:
        self.start = start
        self.stop = stop
        self.restart = restart

    @property
    def empty(self) -> bool:
        return not (self.start or self.stop or self.restart)


class Step(Value):
    __slots__ = (
        "command",
        "continue_on",
        "delay_sec",
        "depends",
        "description",
        "env",
        "executor",
        "group",
        "id",
        "line",
        "log_output",
        "mail_on_error",
        "name",
        "output",
        "output_key",
        "output_omit",
        "parallel",
        "params",
        "preconditions",
        "refused",
        "repeat_policy",
        "retry_policy",
        "run",
        "script",
        "shell",
        "signal_on_stop",
        "stderr",
        "stdout",
        "timeout_sec",
        "wait",
        "worker_selector",
        "working_dir",
    )

    def __init__(
        self,
        name: str,
        line: int | None = None,
        id: str | None = None,
        description: str = "",
        command: str | tuple[str, ...] | None = None,
        script: str | None = None,
        shell: str | None = None,
        working_dir: str | None = None,
        depends: tuple[str, ...] | None = None,
        output: str | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        env: tuple[tuple[str, str], ...] = (),
        params: tuple[Param, ...] = (),
        run: str | None = None,
        parallel: Parallel | None = None,
        preconditions: tuple[Condition, ...] = (),
        continue_on: ContinueOn | None = None,
        retry_policy: RetryPolicy | None = None,
        repeat_policy: RepeatPolicy | None = None,
        timeout_sec: float | None = None,
        delay_sec: float = 0.0,
        signal_on_stop: str | None = None,
        mail_on_error: bool = False,
        wait: bool = True,
        worker_selector: Mapping[str, str] | None = None,
        executor: Executor | None = None,
        group: int | None = None,
        output_key: str | None = None,
        output_omit: bool = False,
        log_output: str | None = None,
        refused: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.name = name
        self.line = line
        self.id = id
        self.description = description
        self.command = command
        self.script = script
        self.shell = shell
        self.working_dir = working_dir
        self.depends = depends  # None: not written (chain rule applies)
        self.output = output
        self.stdout = stdout
        self.stderr = stderr
        self.env = env
        self.params = params
        self.run = run
        self.parallel = parallel
        self.preconditions = preconditions
        self.continue_on = ContinueOn() if continue_on is None else continue_on
        self.retry_policy = retry_policy
        self.repeat_policy = repeat_policy
        self.timeout_sec = timeout_sec
        self.delay_sec = delay_sec
        self.signal_on_stop = signal_on_stop
        self.mail_on_error = mail_on_error
        # with `run`: False starts the child run on its own and goes on (its id is the output)
        self.wait = wait
        self.worker_selector = dict() if worker_selector is None else worker_selector
        self.executor = executor  # None: the step's shell runs it
        self.group = group  # the index of the nested list of steps it belongs to
        self.output_key = output_key  # its key in the run's outputs (default: `output`)
        self.output_omit = output_omit  # usable by later steps, left out of the run's outputs
        self.log_output = log_output  # "merged": stderr into the stdout log
        self.refused = refused  # (field, why) plait cannot run here: refused when the run starts

    def __hash__(self) -> int:
        return hash((self.name, self.line))


class Workflow(Value):
    _hidden = ("local",)  # the other documents of the file; one of them may be this one
    __slots__ = (
        "catchup_window",
        "delay_sec",
        "description",
        "dotenv",
        "env",
        "error_mail",
        "group",
        "handlers",
        "hist_retention_days",
        "hist_retention_runs",
        "info_mail",
        "line",
        "local",
        "log_dir",
        "log_output",
        "mail_on",
        "max_active_runs",
        "max_active_steps",
        "max_clean_up_time_sec",
        "max_output_size",
        "name",
        "notes",
        "otel",
        "outputs",
        "overlap_policy",
        "params",
        "preconditions",
        "priority",
        "queue",
        "refused",
        "restart_wait_sec",
        "retry_on_worker_lost",
        "run_config",
        "schedule",
        "secrets",
        "shell",
        "skip_if_successful",
        "smtp",
        "source",
        "ssh",
        "steps",
        "tags",
        "timeout_sec",
        "type",
        "wait_mail",
        "webhook",
        "worker_selector",
        "working_dir",
    )

    def __init__(
        self,
        name: str,
        steps: tuple[Step, ...],
        source: str | None = None,
        line: int | None = None,
        description: str = "",
        group: str | None = None,
        tags: tuple[str, ...] = (),
        params: tuple[Param, ...] = (),
        env: tuple[tuple[str, str], ...] = (),
        dotenv: tuple[str, ...] = (),
        secrets: tuple[Secret, ...] = (),
        schedule: Schedule | None = None,
        skip_if_successful: bool = False,
        catchup_window: str | None = None,
        overlap_policy: str | None = None,
        type: GraphType = GraphType.CHAIN,
        shell: str | None = None,
        working_dir: str | None = None,
        log_dir: str | None = None,
        timeout_sec: float | None = None,
        delay_sec: float = 0.0,
        restart_wait_sec: float = 0.0,
        max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS,
        max_active_steps: int | None = None,
        max_clean_up_time_sec: float = 5.0,
        outputs: tuple[str, ...] | None = None,
        priority: int = 0,
        queue: str | None = None,
        preconditions: tuple[Condition, ...] = (),
        handlers: Mapping[HandlerEvent, Step] | None = None,
        max_output_size: int = DEFAULT_MAX_OUTPUT_SIZE,
        hist_retention_days: int | None = None,
        hist_retention_runs: int | None = None,
        mail_on: Mapping[str, bool] | None = None,
        worker_selector: Mapping[str, str] | None = None,
        retry_on_worker_lost: int = 0,
        local: Mapping[str, Workflow] | None = None,
        smtp: Mapping[str, str] | None = None,
        error_mail: MailConfig | None = None,
        info_mail: MailConfig | None = None,
        wait_mail: MailConfig | None = None,
        run_config: Mapping[str, bool] | None = None,
        webhook: Mapping[str, object] | None = None,
        log_output: str | None = None,
        ssh: Mapping[str, object] | None = None,
        refused: tuple[tuple[str, str], ...] = (),
        notes: tuple[str, ...] = (),
        otel: OtelSettings | None = None,
    ) -> None:
        self.name = name
        self.steps = steps
        self.source = source  # file path, or None for text given directly
        self.line = line
        self.description = description
        self.group = group
        self.tags = tags
        self.params = params
        self.env = env
        self.dotenv = dotenv
        self.secrets = secrets
        self.schedule = Schedule() if schedule is None else schedule
        self.skip_if_successful = skip_if_successful
        self.catchup_window = catchup_window
        self.overlap_policy = overlap_policy
        self.type = type
        self.shell = shell
        self.working_dir = working_dir
        self.log_dir = log_dir
        self.timeout_sec = timeout_sec
        self.delay_sec = delay_sec
        self.restart_wait_sec = restart_wait_sec
        self.max_active_runs = max_active_runs
        self.max_active_steps = max_active_steps
        self.max_clean_up_time_sec = max_clean_up_time_sec
        self.outputs = outputs  # the output keys it declares (checked by validate), or None
        self.priority = priority  # its runs' place in their queue: higher first
        self.queue = queue
        self.preconditions = preconditions
        self.handlers = dict() if handlers is None else handlers
        self.max_output_size = max_output_size
        self.hist_retention_days = hist_retention_days
        self.hist_retention_runs = hist_retention_runs
        self.retry_on_worker_lost = retry_on_worker_lost
        self.mail_on = dict() if mail_on is None else mail_on
        self.worker_selector = dict() if worker_selector is None else worker_selector
        self.local = dict() if local is None else local
        self.smtp = dict() if smtp is None else smtp  # host, port, username, password
        self.error_mail = error_mail
        self.info_mail = info_mail
        self.wait_mail = wait_mail
        self.run_config = dict() if run_config is None else run_config
        # what a webhook call gives the run: {"params": {NAME: JSON path in the payload}}
        self.webhook = dict() if webhook is None else webhook
        self.log_output = log_output
        self.ssh = ssh  # the default ssh settings of its steps
        self.refused = refused  # (field, why): the run is refused when it starts
        self.notes = notes  # fields accepted that change nothing here, said at start
        self.otel = otel  # where traces of its runs go (`otel:`), None: not said here

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def one_step(self, step: Step) -> Workflow:
        """The workflow that runs ``step`` alone as a child run of this one: an item of a
        command fan-out, or a step sent to a worker by its ``workerSelector``. It keeps what
        the step needs of its run (shell, working directory, env, dotenv, secrets); what
        applies to the step as a whole (preconditions, continueOn, retry, repeat, delay, its
        place among the other steps) is handled once by the parent's step. The child's step
        must not tolerate its own failure, or a failed item would count as a success."""
        alone = step.replace(
            parallel=None,
            depends=None,
            preconditions=(),
            continue_on=ContinueOn(),
            retry_policy=None,
            repeat_policy=None,
            delay_sec=0.0,
            mail_on_error=False,
            worker_selector={},
        )
        return Workflow(
            name=f"{self.name}.{step.name}",
            steps=(alone,),
            source=self.source,
            shell=self.shell,
            working_dir=self.working_dir,
            env=self.env,
            dotenv=self.dotenv,
            secrets=self.secrets,
            max_output_size=self.max_output_size,
            log_output=self.log_output,
            ssh=self.ssh,
            smtp=self.smtp,
        )

    def step_child(self, name: str) -> Workflow | None:
        """The one-step workflow called ``name`` made of a step of this workflow or of one
        it holds (see ``one_step``), or None."""
        for holder in (self, *self.local.values()):
            prefix = f"{holder.name}."
            if name.startswith(prefix):
                found = next((s for s in holder.steps if s.name == name[len(prefix) :]), None)
                if found is not None:
                    return holder.one_step(found)
        return None
