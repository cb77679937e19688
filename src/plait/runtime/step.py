"""One step of a run: preconditions, attempts (retry), iterations (repeat), continueOn.

Steps that run child workflows or fan out over items hand their work to ``children``; this
module owns everything around it (timing, records, tolerance of failure).
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

from plait.expr import UnsafeValueError, plain_argv
from plait.model import Condition, RepeatMode, RunStatus, Step, StepRecord, StepStatus
from plait.model.secret import secrets_by_name
from plait.proc import (
    StepProcess,
    capture,
    command_argv,
    is_posix_shell,
    is_shell_word,
    script_is_posix,
    shell_for,
)
from plait.proc.sink import LogSink
from plait.proc.values import Delivery, deliver

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.runtime.run import RunExecution
    from plait.runtime.scope import Scope

__all__ = ["Attempt", "StepExecution", "condition_met", "retry_interval", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(name: str) -> str:
    return _UNSAFE.sub("_", name)[:80] or "step"


class Attempt:
    """The result of running a step's work once."""

    __slots__ = ("broken", "cancelled", "error", "exit_code", "output", "timed_out", "waiting")

    def __init__(
        self,
        exit_code: int | None,
        output: str | None = None,
        error: str | None = None,
        cancelled: bool = False,
        timed_out: bool = False,
    ) -> None:
        self.exit_code = exit_code
        self.output = output
        self.error = error
        self.cancelled = cancelled
        self.timed_out = timed_out
        self.broken = False  # the process succeeded but plait could not do its part
        self.waiting = False  # it waits for a person (a `hitl` step, or a child run waiting)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.cancelled and not self.timed_out and not self.broken


def condition_met(condition: Condition, scope: Scope, env: dict[str, str], cwd: str) -> bool:
    """A precondition: a command whose exit code decides, or a value matched to ``expected``."""
    if condition.expected is None:
        try:
            command = scope.shell(condition.condition)
        except UnsafeValueError:
            return False
        code, _ = capture(command, env=env, cwd=cwd)
        return code == 0
    text = scope.evaluate(condition.condition)
    expected = scope.evaluate(condition.expected)
    if expected.startswith("re:"):
        return re.search(expected[3:], text) is not None
    return text == expected


def _signal_number(name: str | None) -> int | None:
    if not name:
        return None
    if name.isdigit():
        return int(name)
    upper = name.upper()
    return int(getattr(signal, upper if upper.startswith("SIG") else f"SIG{upper}"))


class StepExecution:
    """Runs one step of a run to its final status, writing every change to the store."""

    def __init__(self, run: RunExecution, step: Step, record: StepRecord) -> None:
        self.run = run
        self.step = step
        self.record: StepRecord = record
        self.scope: Scope = run.scope.fork()  # a consistent view while other steps publish outputs
        self.tolerated = False
        self.attempts_made = 0
        self.masker = run.masker  # and the secrets of the step's own env

    # ------------------------------------------------------------------ lifecycle

    def execute(self) -> StepRecord:
        record = self.record
        tracing = self.run.agent.tracing
        tracing.step_started(self)
        try:
            self._execute()
        except Exception as error:  # a bug or an unexpected OS error: fail the step, not plait
            record.status = StepStatus.FAILED
            record.error = f"internal error: {type(error).__name__}: {error}"
        if record.finished_at is None and record.status is not StepStatus.WAITING:
            record.finished_at = self.run.store.now()
        self.run.save_step(record, self.masker)
        if self.step.mail_on_error and record.status is StepStatus.FAILED:
            from plait.runtime.notify import notify_step_failed

            notify_step_failed(self.run, record)
        self.run.log(
            f"step {record.name} {record.status}"
            + (f" (exit {record.exit_code})" if record.exit_code else "")
            + (f": {record.error}" if record.error and record.status != "succeeded" else "")
        )
        self.run.agent.observer.step_finished(self.run.record, record)
        tracing.step_finished(self)
        return record

    def _execute(self) -> None:
        record, step = self.record, self.step
        record.started_at = self.run.store.now()
        record.status = StepStatus.RUNNING
        env = self.step_env()
        cwd = self.working_dir()
        if not self._preconditions_met(env, cwd):
            record.status = StepStatus.SKIPPED
            record.error = "precondition not met"
            record.finished_at = self.run.store.now()
            self.tolerated = step.continue_on.skipped
            return
        if step.delay_sec and self.run.sleep(step.delay_sec):
            record.status = StepStatus.CANCELLED
            return
        attempt = self._attempts(env, cwd)
        self._finish(attempt)

    def _preconditions_met(self, env: dict[str, str], cwd: str) -> bool:
        return all(condition_met(c, self.scope, env, cwd) for c in self.step.preconditions)

    def _attempts(self, env: dict[str, str], cwd: str) -> Attempt:
        """Run the step, again on retryable failures and while its repeat policy says so."""
        policy = self.step.retry_policy
        retries = 0
        iterations = 0
        while True:
            attempt = self._one_attempt(env, cwd)
            self.run.agent.tracing.attempt_finished(self, attempt)
            if attempt.cancelled or attempt.waiting or self.run.stopping.is_set():
                return attempt
            self._close_attempt(attempt)
            # a fan-out's retryPolicy retries each failed item on its own (`children`)
            per_item = self.step.parallel is not None
            if (
                not attempt.ok
                and policy
                and not per_item
                and retries < policy.limit
                and self._retryable(attempt)
            ):
                retries += 1
                if self.run.sleep(
                    retry_interval(
                        policy.interval_sec, policy.backoff, policy.max_interval_sec, retries
                    )
                ):
                    attempt.cancelled = True
                    return attempt
                continue
            iterations += 1
            if not self._repeat(attempt, iterations, env, cwd):
                return attempt
            retries = 0

    def _close_attempt(self, attempt: Attempt) -> None:
        """Write what one attempt did onto the record, so that it is kept with its own
        outcome if another attempt follows, and the next iteration's conditions see it."""
        record = self.record
        record.finished_at = self.run.store.now()
        record.exit_code = attempt.exit_code
        record.error = attempt.error
        record.status = StepStatus.SUCCEEDED if attempt.ok else StepStatus.FAILED
        if attempt.output is not None and self.step.output:
            record.output = attempt.output
            record.output_var = self.step.output
            self.scope.add_output(self.step.output, attempt.output)

    def _retryable(self, attempt: Attempt) -> bool:
        policy = self.step.retry_policy
        assert policy is not None
        return not policy.exit_codes or attempt.exit_code in policy.exit_codes

    def _repeat(self, attempt: Attempt, iterations: int, env: dict[str, str], cwd: str) -> bool:
        policy = self.step.repeat_policy
        if policy is None or (policy.limit is not None and iterations >= policy.limit):
            return False
        if policy.condition is not None:
            matched = condition_met(policy.condition, self.scope, env, cwd)
        elif policy.exit_codes:
            matched = attempt.exit_code in policy.exit_codes
        else:
            matched = attempt.ok  # `repeat: true`: again until it fails or the limit
        again = matched if policy.mode is RepeatMode.WHILE else not matched
        if not again:
            return False
        return not self.run.sleep(
            retry_interval(policy.interval_sec, policy.backoff, policy.max_interval_sec, iterations)
        )

    def _one_attempt(self, env: dict[str, str], cwd: str) -> Attempt:
        record = self.record
        if self.attempts_made:
            self.run.save_attempt(record, self.masker)
        self.attempts_made += 1
        record.attempt += 1
        record.status = StepStatus.RUNNING
        record.exit_code = None
        record.error = None
        record.finished_at = None
        if record.attempt > 1:
            record.started_at = self.run.store.now()
        self._log_paths()
        self.run.save_step(record, self.masker)
        self.run.log(f"step {record.name} started (attempt {record.attempt})")
        self.run.agent.observer.step_started(self.run.record, record)
        tracing = self.run.agent.tracing
        tracing.attempt_started(self)
        env = tracing.step_env(self, env)
        if self.step.run is not None or self.step.parallel is not None:
            from plait.runtime.children import run_children

            return run_children(self, env)
        if self.step.worker_selector and getattr(self.run.store, "HAS_WORKERS", False):
            return self._run_remote()
        executor = self.step.executor
        if executor is not None and executor.type not in ("", "shell", "command"):
            return self._run_executor(env, cwd)
        return self._run_process(env, cwd)

    # ------------------------------------------------------------------ a process

    def _log_paths(self) -> None:
        record = self.record
        base = self.run.log_path(f"{safe_name(self.step.name)}.{record.attempt}")
        record.stdout_path = f"{base}.out"
        record.stderr_path = f"{base}.err"

    def _run_process(self, env: dict[str, str], cwd: str) -> Attempt:
        record, step = self.record, self.step
        assert record.stdout_path is not None and record.stderr_path is not None
        stdout, stderr = record.stdout_path, record.stderr_path
        env = {
            **env,
            "DAG_RUN_STEP_STDOUT_FILE": stdout,
            "DAG_RUN_STEP_STDERR_FILE": stderr,
        }
        try:
            argv, env, delivery = self._argv(env)
        except UnsafeValueError as error:
            return Attempt(exit_code=1, error=str(error))
        sinks = self._sinks()
        try:
            process = StepProcess(argv, env=env, cwd=cwd, stdout=sinks[0], stderr=sinks[1])
        except BaseException:
            delivery.close()
            raise
        run = self.run
        run.track(process, _signal_number(step.signal_on_stop))
        try:
            timeout, by_run = self._timeout()
            code = process.wait(timeout)
            timed_out = code is None
            if timed_out:
                code = process.stop(signal.SIGTERM, run.cleanup_time)
            elif run.stopping.is_set():
                process.drain(run.cleanup_time)  # what survived the stop signal in its group
        finally:
            run.untrack(process)
            delivery.close()
        return self._outcome(code, None, timed_out, by_run, timeout, sinks)

    def _run_remote(self) -> Attempt:
        """A step with a ``workerSelector``: it runs as a one-step child run on a worker whose
        labels match; its exit, output and logs come back as this step's own."""
        from plait.runtime.remote import carried_params, remote_selector, run_remote_child
        from plait.runtime.run import Parent

        run, step = self.run, self.step
        child = run.workflow.one_step(step)
        selector = remote_selector(step, child, run.store)
        assert selector is not None
        record = run_remote_child(
            child, carried_params(self), Parent(run, step.name), selector, self.attempts_made
        )
        done = record.steps[0] if record.steps else None
        sinks = self._sinks()
        if done is not None:
            self._fetch_log(record.run_id, done.stdout_path, sinks[0])
            if done.stderr_path != done.stdout_path:
                self._fetch_log(record.run_id, done.stderr_path, sinks[1])
        for sink in sinks:
            sink.close()
        where = f" on worker {record.worker}" if record.worker else ""
        if record.succeeded and done is not None:
            return Attempt(exit_code=done.exit_code or 0, output=done.output)
        error = (done.error if done is not None else None) or record.error or str(record.status)
        return Attempt(
            exit_code=(done.exit_code if done is not None else None) or 1,
            output=None if done is None else done.output,
            error=f"{error}{where} (run {record.run_id})",
            cancelled=record.status is RunStatus.CANCELLED and run.stopping.is_set(),
        )

    def _fetch_log(self, run_id: str, path: str | None, sink: LogSink) -> None:
        """The log a worker shipped of a remote step, into this step's own log file."""
        if not path:
            return
        store = self.run.store
        size, start = store.log_size(run_id, path), 0
        while start < size:
            data = store.read_log(run_id, path, start, min(size, start + (1 << 20)))
            if not data:
                break
            sink.write(data)
            start += len(data)

    def _sinks(self) -> tuple[LogSink, LogSink]:
        """The log sinks of this attempt: stdout, and stderr (its own file, or with
        ``logOutput: merged`` the stdout file)."""
        record = self.record
        assert record.stdout_path is not None and record.stderr_path is not None
        cap = self.run.agent.log_cap
        merged = (self.step.log_output or self.run.workflow.log_output) == "merged"
        stderr = record.stdout_path if merged else record.stderr_path
        shipper = self.run.agent.shipper
        ship = shipper.for_run(self.run) if shipper is not None else None
        return (
            LogSink(record.stdout_path, self.masker, cap, ship),
            LogSink(stderr, self.masker, cap, ship),
        )

    def _timeout(self) -> tuple[float | None, bool]:
        if self.record.handler:
            return self.step.timeout_sec or None, False
        return self.run.step_timeout(self.step)

    def _outcome(
        self,
        code: int | None,
        error: str | None,
        timed_out: bool,
        by_run: bool,
        timeout: float | None,
        sinks: tuple[LogSink, LogSink],
    ) -> Attempt:
        """The attempt of a process or an executor that ended with ``code`` (and ``error``)."""
        run, step, record = self.run, self.step, self.record
        if timed_out and by_run and not run.timed_out:
            run.time_out()  # the run's deadline passed first here: stop the rest as well
        run_timed_out = run.timed_out and not record.handler
        attempt = Attempt(exit_code=code, timed_out=timed_out or run_timed_out)
        if run_timed_out:
            attempt.error = run.timeout_reason
        elif timed_out:
            attempt.error = f"timed out after {_seconds(timeout)}"
        elif run.stopping.is_set():  # stopped under it, even if it exited cleanly
            attempt.cancelled = True
        elif error is not None:
            attempt.error = error
        elif code is not None and code < 0:
            attempt.error = f"killed by signal {-code}"
        elif code:
            attempt.error = f"exit code {code}"
        assert record.stdout_path is not None and record.stderr_path is not None
        problem = (
            next((sink.error for sink in sinks if sink.error), None)
            or self._copy_to(step.stdout, record.stdout_path)
            or self._copy_to(step.stderr, record.stderr_path)
        )
        if problem is not None:
            attempt.error = problem
            attempt.broken = True
        if step.output:
            attempt.output = self._read_output(record.stdout_path, attempt)
        return attempt

    def _run_executor(self, env: dict[str, str], cwd: str) -> Attempt:
        """A step run by an executor of plait's own (jq, http, mail, ssh, ...)."""
        from plait.runtime.executors import ExecutorFailure, StepIO, run_executor

        sinks = self._sinks()
        timeout, by_run = self._timeout()
        io = StepIO(self, env, cwd, sinks[0], sinks[1], timeout)
        from plait.runtime.executors.hitl import StepWaits

        code: int | None = None
        error: str | None = None
        timed_out = False
        try:
            code = run_executor(io)
        except StepWaits as wait:
            io.close()
            attempt = Attempt(exit_code=None, output=json.dumps({"waiting": wait.request}))
            attempt.waiting = True
            return attempt
        except ExecutorFailure as failure:
            code, error = failure.exit_code, self.masker.text(failure.message)
            io.stderr.write(f"{error}\n".encode())
        except TimeoutError:
            timed_out = True
        finally:
            io.close()
        return self._outcome(code, error, timed_out, by_run, timeout, sinks)

    def _argv(self, env: dict[str, str]) -> tuple[list[str], dict[str, str], Delivery]:
        """The step's argv and environment. Run-time values reach a POSIX shell as shell
        variables (small ones in ``env``, big ones read from files); another interpreter
        gets them pasted into its text, as the reference engine does."""
        step, scope = self.step, self.scope
        shell = shell_for(
            step.shell and scope.expand(step.shell),
            self.run.shell and scope.expand(self.run.shell),
            scope.env,
        )
        folder = str(self.run.log_dir)
        command = step.command
        if step.script is not None:
            if isinstance(command, str):
                command = scope.expand(command)  # the program: split into words, no shell
            if script_is_posix(step.script, command, shell):
                delivery = deliver(scope.shell(step.script), env, folder, header=True)
            else:
                delivery = Delivery(scope.expand_command(step.script), env, [])
            script_path = str(self.run.log_path(f"{safe_name(step.name)}.{self.record.attempt}.sh"))
            Path(script_path).write_text(delivery.text)
            os.chmod(script_path, 0o700)
            return command_argv(command, script_path, shell), delivery.env, delivery
        if command is None:
            raise ValueError("a step needs a command or a script")
        text = command if isinstance(command, str) else "\n".join(command)
        if not shell.explicit and isinstance(command, str) and "$" in text:
            # Plain words and references need no shell: the argv it would make, one process
            # less (a reference quoted is one word; unquoted, it splits at blanks).
            argv = plain_argv(text, scope.resolver())
            if argv is not None and not is_shell_word(argv[0]):
                return argv, env, Delivery(text, env, [])
        if is_posix_shell(shell.argv[0]):
            delivery = deliver(scope.shell(text), env, folder)
        else:
            delivery = Delivery(scope.expand_command(text), env, [])
        return command_argv(delivery.text, None, shell), delivery.env, delivery

    def _copy_to(self, target: str | None, log: str) -> str | None:
        """``stdout:``/``stderr:``: the stream also goes to a file of the user's choosing
        (relative to the workflow's working directory), appended. Returns what went wrong."""
        if not target:
            return None
        path = Path(os.path.expanduser(self.scope.expand(target)))
        if not path.is_absolute():
            path = Path(self.run.working_dir) / path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as sink:
                if os.path.exists(log):  # a stream that wrote nothing has no log file
                    with open(log, "rb") as source:
                        while chunk := source.read(1 << 20):
                            sink.write(chunk)
        except OSError as error:
            return f"cannot write {path}: {error.strerror}"
        return None

    def _read_output(self, path: str, attempt: Attempt) -> str:
        limit = self.run.workflow.max_output_size
        try:
            with open(path, "rb") as handle:
                # Read what is there, not `limit` at once: a buffer of maxOutputSize per step
                # (1 MiB by default) left the agent's memory fragmented across threads.
                size = os.fstat(handle.fileno()).st_size
                data = handle.read(min(size, limit) + 1)
        except OSError:
            return ""
        if len(data) > limit:
            data = data[:limit]
            if attempt.exit_code == 0:
                attempt.exit_code = 1
            attempt.error = f"output is larger than maxOutputSize ({limit} bytes)"
        return data.decode(errors="replace").strip()

    # ------------------------------------------------------------------ environment

    def step_env(self) -> dict[str, str]:
        run, step = self.run, self.step
        env = dict(self.scope.env)
        env["DAG_RUN_STEP_NAME"] = step.name
        if step.env:
            # Step env sees the run's variables but stays private to this step; like params,
            # its names are replaced in the step's command text.
            local = self.scope.fork()
            local.apply_env(step.env)
            values = {key: local.env[key] for key, _ in step.env}
            env.update(values)
            self.scope = local
            for key, value in values.items():
                local.variables[key] = value
            self.masker = self.masker.with_values(secrets_by_name(values))
        env.update(run.special_env)
        env["DAG_RUN_STEP_NAME"] = step.name
        return env

    def working_dir(self) -> str:
        configured = self.step.working_dir
        if not configured:
            return self.run.working_dir
        path = Path(os.path.expanduser(self.scope.expand(configured)))
        if not path.is_absolute():
            path = Path(self.run.working_dir) / path
        return str(path)

    # ------------------------------------------------------------------ outcome

    def _finish(self, attempt: Attempt) -> None:
        record, step = self.record, self.step
        record.finished_at = self.run.store.now()
        record.exit_code = attempt.exit_code
        record.error = attempt.error
        if attempt.output is not None:
            record.output = attempt.output
            record.output_var = step.output
        if attempt.waiting:
            record.status = StepStatus.WAITING
            record.finished_at = None
            return
        if attempt.cancelled:
            record.status = StepStatus.CANCELLED
            record.error = record.error or "stopped"
        elif attempt.ok:
            record.status = StepStatus.SUCCEEDED
        else:
            record.status = StepStatus.FAILED
            if self._tolerated(attempt):
                self.tolerated = True
                if step.continue_on.mark_success:
                    record.status = StepStatus.SUCCEEDED
                else:
                    record.tolerated = True
        self.run.publish(step, record)

    def _tolerated(self, attempt: Attempt) -> bool:
        rule = self.step.continue_on
        if attempt.timed_out:
            return rule.failure
        if rule.failure:
            return True
        if rule.exit_codes and attempt.exit_code in rule.exit_codes:
            return True
        if rule.output:
            text = self._stdout_text()
            for pattern in rule.output:
                if pattern.startswith("re:"):
                    if re.search(pattern[3:], text, re.MULTILINE):
                        return True
                elif pattern in text:
                    return True
        return False

    def _stdout_text(self) -> str:
        path = self.record.stdout_path
        if not path:
            return ""
        try:
            with open(path, "rb") as handle:
                return handle.read(self.run.workflow.max_output_size).decode(errors="replace")
        except OSError:
            return ""


def retry_interval(base: float, backoff: float, cap: float | None, count: int) -> float:
    """The wait before retry (or repeat) number ``count``: ``base``, grown by ``backoff``
    each time after the first, at most ``cap``."""
    delay = base * (backoff ** (count - 1)) if backoff and backoff > 1 else base
    return min(delay, cap) if cap is not None else delay


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}s"
