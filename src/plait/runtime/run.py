"""One run of a workflow: the dependency loop, handlers, final status, and its record.

A run executes in the thread that calls ``execute``; each step runs in a thread of its own
so that independent steps overlap, bounded by ``maxActiveSteps``. Child runs execute the same
way inside the step thread that started them: no new process per child.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path

from plait.errors import PlaitError, RunStateError, StoreError
from plait.expr import StepRef
from plait.graph.deps import effective_depends
from plait.model import (
    CHILDREN_SHOWN,
    HandlerEvent,
    Param,
    RunRecord,
    RunStatus,
    Step,
    StepRecord,
    StepStatus,
    Workflow,
)
from plait.model.secret import MASK, Masker, is_secret_name
from plait.proc.logpack import LogPack
from plait.runtime.scope import Scope, workflow_dir
from plait.runtime.step import StepExecution, condition_met, safe_name
from plait.spec.params import params_problems
from plait.store.ids import check_run_id, new_run_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from plait.proc import StepProcess
    from plait.runtime.agent import Agent

__all__ = ["Parent", "RunExecution"]

_HANDLER_NAMES = {
    HandlerEvent.INIT: "onInit",
    HandlerEvent.SUCCESS: "onSuccess",
    HandlerEvent.FAILURE: "onFailure",
    HandlerEvent.CANCEL: "onCancel",
    HandlerEvent.EXIT: "onExit",
}


class Parent:
    """Where a child run hangs in the tree."""

    __slots__ = ("item", "item_index", "run", "step")

    def __init__(
        self,
        run: RunExecution,
        step: str,
        item_index: int | None = None,
        item: str | None = None,
    ) -> None:
        self.run = run
        self.step = step
        self.item_index = item_index
        self.item = item


class RunExecution:
    """Executes one run of ``workflow`` and keeps its record current in the store."""

    def __init__(
        self,
        agent: Agent,
        workflow: Workflow,
        *,
        params: tuple[Param, ...] = (),
        run_id: str | None = None,
        parent: Parent | None = None,
        scope: Scope | None = None,
        previous: RunRecord | None = None,
        rerun: set[str] | None = None,
        admitted: bool = False,
        resuming: bool = False,
        claim_epoch: int | None = None,
    ) -> None:
        self.agent = agent
        self.claim_epoch = claim_epoch  # a worker's run: taken over only at its claim's epoch
        self.store = agent.store
        self.workflow = workflow
        self.parent = parent
        self.previous = previous
        self.rerun = rerun
        self.admitted = admitted  # the run's row exists and holds a slot of its queue
        # A run that goes on after a person decided a waiting step: it keeps every step that
        # ended (failed ones too) and runs what had not started. Its child runs do the same.
        self.resuming: bool = resuming or (parent is not None and parent.run.resuming)
        if previous is not None:
            self.run_id = previous.run_id
        else:
            self.run_id = check_run_id(run_id) if run_id else new_run_id()
        self.stopping = threading.Event()
        self.stop_reason: str | None = None
        self.epoch = 1
        self.depth: int = 0 if parent is None else parent.run.depth + 1
        self.root_id: str = self.run_id if parent is None else parent.run.root_id
        # A root run has a log folder; its child runs, at any depth, write into the same
        # folder with their run id as prefix (a folder per child costs a mkdir per item).
        if parent is None:
            self.log_dir: Path = self._logs_root() / safe_name(workflow.name) / self.run_id
            self.log_prefix = ""
        else:
            self.log_dir = parent.run.log_dir
            self.log_prefix = f"{self.run_id}."
        self._log_file: TextIO | None = None
        self._pack: LogPack | None = None  # a root run's pack of small child logs
        self.root: RunExecution = self if parent is None else parent.run.root
        self.working_dir: str = self._working_dir()
        self.cleanup_time: float = workflow.max_clean_up_time_sec
        self._deadline: float | None = None
        self._timed_out = False
        self.store_failure: StoreError | None = None  # the store failed under a step
        self._lock = threading.Lock()
        self._processes: dict[StepProcess, int | None] = {}
        self._children: set[RunExecution] = set()
        self._cancelled = False
        self._kept: set[str] = set()  # steps a retry keeps from the attempt before
        self._events: queue.SimpleQueue[StepExecution] = queue.SimpleQueue()
        self.outputs: dict[str, str] = {}
        self._tolerated_steps: set[str] = set()
        self.inherits_scope = scope is not None
        self.scope: Scope
        if scope is not None:
            self.scope = scope.fork()
        else:
            self.scope = Scope(agent.environ, self.working_dir)
        self.given_params = params
        self.record: RunRecord = RunRecord(
            run_id=self.run_id,
            name=workflow.name,
            status=RunStatus.RUNNING,
            source=workflow.source,
            created_at=self.store.now(),
            parent_run_id=None if parent is None else parent.run.run_id,
            parent_step=None if parent is None else parent.step,
            root_run_id=self.root_id,
            item_index=None if parent is None else parent.item_index,
            item=None if parent is None else parent.item,
            depth=self.depth,
            pid=agent.pid,
            host=agent.ref.host,
            owner=agent.ref.owner,
            log_dir=str(self.log_dir),
        )
        self.special_env: dict[str, str] = {}
        # What is masked in everything this run writes: its parent's secrets and its own.
        self.masker: Masker = agent.masker if parent is None else parent.run.masker
        base = agent.base
        self.shell = workflow.shell or (base.shell if base is not None else None)

    # ------------------------------------------------------------------ set-up

    def _logs_root(self) -> Path:
        configured = self.workflow.log_dir
        if not configured:
            return self.agent.home.logs_dir
        path = Path(os.path.expanduser(configured))
        return path if path.is_absolute() else workflow_dir(self.workflow) / path

    def log_path(self, name: str) -> Path:
        """A file of this run in its log folder."""
        return self.log_dir / f"{self.log_prefix}{name}"

    def log(self, message: str) -> None:
        """One line in the run log (``DAG_RUN_LOG_FILE``): the root run's file, where child
        runs at any depth write too, each line naming its run."""
        if self.masker:
            message = self.masker.text(message)
        if self.parent is not None:
            self.root.log(f"[{self.workflow.name} {self.run_id}] {message}")
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        with self._lock:
            try:
                if self._log_file is None:
                    self._log_file = open(  # noqa: SIM115 (closed when the run ends)
                        self.log_path("run.log"), "a", encoding="utf-8", buffering=1
                    )
                self._log_file.write(f"{stamp} {message}\n")
            except OSError:
                pass

    def _close_log(self) -> None:
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self._pack is not None:
                self._pack.close()
                self._pack = None

    def _working_dir(self) -> str:
        configured = self.workflow.working_dir
        base = workflow_dir(self.workflow)
        if not configured:
            # the workflow file's folder; on a machine without it (a worker, a retry after the
            # folder went), the agent's own working directory
            return str(base) if base.is_dir() else os.getcwd()
        path = Path(os.path.expanduser(os.path.expandvars(configured)))
        return str(path if path.is_absolute() else base / path)

    def _prepare_scope(self) -> None:
        workflow, scope = self.workflow, self.scope
        try:
            scope.prepare(
                workflow, None if self.inherits_scope else self.agent.base, self.given_params
            )
        finally:
            self.masker = scope.masker(self.masker)
            self.record.params = [[p.name, self._shown_param(p)] for p in scope.params]
        self.special_env = {
            "DAG_NAME": workflow.name,
            "DAG_RUN_ID": self.run_id,
            "DAG_RUN_LOG_FILE": str(self.root.log_dir / "run.log"),
            "PLAIT_HOME": str(self.agent.home.root),
            "PLAIT_RUN_ID": self.run_id,
            "PLAIT_ROOT_RUN_ID": self.root_id,
        }
        for key, value in self.special_env.items():
            scope.set(key, value, variable=False)

    def _refusal(self) -> str | None:
        """Why this run cannot start here: a field that needs what this machine lacks (an
        LLM provider, a Docker engine, nix-shell), named with its step. None: it can."""
        workflow = self.workflow
        steps = [*workflow.steps, *workflow.handlers.values()]
        problems = [
            f"step {step.name}: `{field}`: {why}" for step in steps for field, why in step.refused
        ]
        problems.extend(f"`{field}`: {why}" for field, why in workflow.refused)
        if self.previous is None:  # (a retry runs with the params it was given)
            problems.extend(params_problems(workflow.params, self.given_params))
        if any(
            s.executor is not None and s.executor.type in ("docker", "container") for s in steps
        ):
            from plait.runtime.executors.docker import engine_problem

            problem = engine_problem()
            if problem is not None:
                users = [
                    s.name
                    for s in steps
                    if s.executor is not None and s.executor.type in ("docker", "container")
                ]
                problems.append(f"step {', '.join(users)}: docker: {problem}")
        if not problems:
            return None
        return "refused before any step ran: " + "; ".join(problems)

    def _shown_param(self, param: Param) -> str:
        """A param as the store keeps it: a secret's value never."""
        if param.name is not None and param.value and is_secret_name(param.name):
            return MASK
        return self.masker.text(param.value)

    def _resume(self, records: list[StepRecord]) -> None:
        """A new attempt of a finished run: keep what succeeded, run the rest again."""
        previous = self.previous
        assert previous is not None
        if self.parent is not None:  # a child retried with its parent: no queue to wait in
            self.epoch, self.record.attempt = self.store.resume_child(self.run_id, self.agent.ref)
        else:
            self.record.attempt = previous.attempt + 1
        self.record.created_at = previous.created_at
        before = {step.name: step for step in previous.steps if not step.handler}
        rerun = self.rerun
        for index, record in enumerate(records):
            old = before.get(record.name)
            if old is None:
                self.store.add_step(self.run_id, record, self.epoch)
                continue
            if rerun is not None:
                keep = record.name not in rerun
            elif self.resuming:
                keep = old.status.is_final
            else:
                keep = old.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)
            if keep:
                old.position = index
                records[index] = old
                self._kept.add(old.name)
                if old.tolerated:
                    self._tolerated_steps.add(old.name)
                step = self.workflow.steps[index]
                self.publish(step, old)
            else:
                if old.attempt:  # the attempt before keeps its own record
                    self.save_attempt(old)
                record.attempt = old.attempt
                self.save_step(record)

    def definition(self) -> dict[str, str] | None:
        """The workflow files' texts stored with a new root run (see ``RunStore.definition``)."""
        from plait.spec.children import definition_files

        try:
            return definition_files(self.workflow, str(self.agent.home.dags_dir)) or None
        except PlaitError:
            return None

    def place_in_tree(self, stored: RunRecord) -> None:
        """A child run whose parent runs in another agent (a remote child run): its place
        in the tree is the stored one, and its own children hang below it there."""
        self.root_id = stored.root_run_id or self.run_id
        self.depth = stored.depth
        record = self.record
        record.parent_run_id, record.parent_step = stored.parent_run_id, stored.parent_step
        record.root_run_id, record.depth = self.root_id, stored.depth
        record.item_index, record.item = stored.item_index, stored.item

    def _take_over(self) -> None:
        """This agent becomes the owner of a run that was waiting in its queue."""
        epoch = self.store.mark_started(
            self.run_id, self.agent.ref, self.record.params, self.claim_epoch
        )
        if epoch is None:
            raise RunStateError(f"run {self.run_id} was taken over by another agent")
        self.epoch = epoch

    # ------------------------------------------------------------------ the run

    def execute(self) -> RunRecord:
        """Run to the end and return the final record."""
        workflow = self.workflow
        records = [StepRecord(name=s.name, position=i) for i, s in enumerate(workflow.steps)]
        self.record.steps = records
        if self.parent is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self.record.started_at = self.store.now()
        if self.parent is not None:
            self.parent.run.adopt(self)
        try:
            try:
                self._prepare_scope()
                self.record.error = self._refusal()
            except PlaitError as error:
                self.record.error = error.message
            if self.admitted:
                self._take_over()
            if self.previous is not None:
                self._resume(records)
            elif not self.admitted:
                if self.parent is None:
                    self.record.definition = self.definition()
                self.store.create_run(self.record, records)
            # the agent's heartbeat covers the run once the store holds it at this epoch
            self.agent.started(self)
            self.log(
                f"run {self.run_id} of {workflow.name} started (attempt {self.record.attempt})"
            )
            self.agent.observer.run_started(self.record)
            self.agent.tracing.run_started(self)
            if self.record.error is not None:
                self._end(RunStatus.FAILED)
            else:
                self._run_body(records)
        finally:
            self.agent.tracing.run_finished(self)
            self._close_log()
            self.agent.finished(self)
            if self.parent is not None:
                self.parent.run.disown(self)
        return self.record

    def _run_body(self, records: list[StepRecord]) -> None:
        workflow = self.workflow
        if workflow.timeout_sec:
            self._deadline = time.monotonic() + workflow.timeout_sec
            timer = threading.Timer(workflow.timeout_sec, self.time_out)
            timer.daemon = True
            timer.start()
        else:
            timer = None
        try:
            if workflow.delay_sec and self.sleep(workflow.delay_sec):
                self._end(RunStatus.CANCELLED)
                return
            env = dict(self.scope.env)
            if not all(
                condition_met(c, self.scope, env, self.working_dir) for c in workflow.preconditions
            ):
                self.record.error = "precondition not met"
                for record in records:
                    record.status = StepStatus.SKIPPED
                    self.save_step(record)
                self._handler(HandlerEvent.EXIT, RunStatus.SKIPPED)
                self._end(RunStatus.SKIPPED)
                return
            init = self._handler(HandlerEvent.INIT, RunStatus.RUNNING)
            # an init handler skipped by its precondition lets the run go on
            if init is not None and init.status not in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
                self.record.error = "onInit handler failed"
                self._end(self._after(RunStatus.FAILED))
                return
            tolerated = self._loop(records)
            if timer is not None:
                timer.cancel()  # the steps are done: the deadline no longer applies
            status = self._status(records, tolerated)
            self._end(self._after(status))
        finally:
            if timer is not None:
                timer.cancel()

    def _loop(self, records: list[StepRecord]) -> bool:
        """Start steps as their dependencies finish; returns whether a failure was tolerated."""
        workflow = self.workflow
        by_name = {r.name: r for r in records}
        depends = effective_depends(workflow)
        waiting = {name: len(deps) for name, deps in depends.items()}
        dependents: dict[str, list[str]] = {name: [] for name in depends}
        for name, deps in depends.items():
            for dep in deps:
                dependents[dep].append(name)
        for name in self._kept:
            kept = by_name[name]
            passed = kept.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED) or kept.tolerated
            for child in dependents[name]:
                if passed:
                    waiting[child] -= 1
                else:
                    self._block(child, kept, by_name, dependents)
        ready = [
            s.name
            for s in workflow.steps
            if waiting[s.name] <= 0
            and s.name not in self._kept
            and by_name[s.name].status is StepStatus.NOT_STARTED
        ]
        limit = workflow.max_active_steps or len(records) or 1
        running = 0
        tolerated = False
        steps = {s.name: s for s in workflow.steps}
        while True:
            while ready and running < limit and not self.stopping.is_set():
                name = ready.pop(0)
                self._start_step(steps[name], by_name[name])
                running += 1
            if running == 0:
                break
            done = self._events.get()
            running -= 1
            record = done.record
            passed = record.status is StepStatus.SUCCEEDED or done.tolerated
            if done.tolerated:
                self._tolerated_steps.add(record.name)
                tolerated = tolerated or record.status is StepStatus.FAILED
            if record.status is StepStatus.WAITING:
                continue  # what depends on it waits with it
            for child in dependents[record.name]:
                if passed:
                    waiting[child] -= 1
                    if (
                        waiting[child] == 0
                        and child not in self._kept
                        and by_name[child].status is StepStatus.NOT_STARTED
                    ):
                        ready.append(child)
                else:
                    self._block(child, record, by_name, dependents)
        return tolerated

    def _block(
        self,
        name: str,
        cause: StepRecord,
        by_name: dict[str, StepRecord],
        dependents: dict[str, list[str]],
    ) -> None:
        """A step that will not run because ``cause`` did not succeed, and all after it."""
        pending = [name]
        skipped = cause.status is StepStatus.SKIPPED
        while pending:
            current = by_name[pending.pop()]
            if current.status is not StepStatus.NOT_STARTED:
                continue
            if skipped:
                current.status = StepStatus.SKIPPED
                current.error = f"upstream step {cause.name} was skipped"
            elif cause.status is StepStatus.CANCELLED:
                current.status = StepStatus.CANCELLED
                current.error = f"upstream step {cause.name} was cancelled"
            else:
                current.status = StepStatus.UPSTREAM_FAILED
                current.error = f"upstream step {cause.name} failed"
            self.save_step(current)
            pending.extend(dependents[current.name])

    def _start_step(self, step: Step, record: StepRecord) -> None:
        execution = StepExecution(self, step, record)

        def work() -> None:
            try:
                execution.execute()
            except StoreError as error:  # the store is gone or full: the run cannot go on
                self._store_failed(execution, error)
            finally:
                self._events.put(execution)

        if len(self.workflow.steps) == 1:
            work()  # a run of one step (each item of a command fan-out): no thread of its own
            return
        threading.Thread(target=work, name=f"step:{step.name}", daemon=True).start()

    def _store_failed(self, execution: StepExecution, error: StoreError) -> None:
        """A step's state could not be written: the run stops and fails with the store's
        error (written if the store takes it; else the agent ends with it)."""
        with self._lock:
            first = self.store_failure is None
            if first:
                self.store_failure = error
        record = execution.record
        if not record.status.is_final:
            record.status = StepStatus.FAILED
        record.error = record.error or error.message
        try:
            self.save_step(record)
        except StoreError:
            pass
        if first:
            self.log(f"store failed: {error.message}")
            self.cancel(f"the store failed: {error.message}")

    def _status(self, records: list[StepRecord], tolerated: bool) -> RunStatus:
        if self.store_failure is not None:
            self.record.error = f"the store failed: {self.store_failure.message}"
            return RunStatus.FAILED
        if self._timed_out:
            self.record.error = f"timed out after {self.workflow.timeout_sec:g}s"
            return RunStatus.FAILED
        if self.stopping.is_set():
            self.record.error = self.record.error or self.stop_reason or "stopped"
            return RunStatus.CANCELLED
        if any(r.status is StepStatus.WAITING for r in records):
            waiting = [r.name for r in records if r.status is StepStatus.WAITING]
            self.record.error = f"waiting for approval of {', '.join(waiting)}"
            return RunStatus.WAITING
        if any(r.tolerated for r in records if r.name in self._kept):
            tolerated = True
        failed = [r for r in records if r.status is StepStatus.FAILED]
        untolerated = [r for r in failed if not self._was_tolerated(r)]
        if untolerated or any(r.status is StepStatus.UPSTREAM_FAILED for r in records):
            first = untolerated[0] if untolerated else None
            if first is not None and self.record.error is None:
                self.record.error = f"step {first.name} failed" + (
                    f": {first.error}" if first.error else ""
                )
            return RunStatus.FAILED
        if any(r.status is StepStatus.CANCELLED for r in records):
            return RunStatus.CANCELLED
        if tolerated:
            return RunStatus.PARTIALLY_SUCCEEDED
        return RunStatus.SUCCEEDED

    def _was_tolerated(self, record: StepRecord) -> bool:
        return record.name in self._tolerated_steps

    def _after(self, status: RunStatus) -> RunStatus:
        """Run the handlers for ``status``; a failing handler fails the run. A waiting run
        runs its ``wait`` handler alone (the others run when it ends)."""
        if status is RunStatus.WAITING:
            self._handler(HandlerEvent.WAIT, status)
            return status
        event = {
            RunStatus.SUCCEEDED: HandlerEvent.SUCCESS,
            RunStatus.PARTIALLY_SUCCEEDED: HandlerEvent.SUCCESS,
            RunStatus.FAILED: HandlerEvent.FAILURE,
            RunStatus.CANCELLED: HandlerEvent.CANCEL,
        }.get(status)
        for current in (event, HandlerEvent.EXIT):
            if current is None:
                continue
            result = self._handler(current, status)
            if result is not None and result.status is StepStatus.FAILED:
                self.record.error = self.record.error or f"handler {result.name} failed"
                status = RunStatus.FAILED
        return status

    def _handler(self, event: HandlerEvent, status: RunStatus | None) -> StepRecord | None:
        base = self.agent.base
        step = self.workflow.handlers.get(event)
        if step is None and base is not None and not self.inherits_scope:
            step = base.handlers.get(event)
        if step is None:
            return None
        record = StepRecord(
            name=step.name or _HANDLER_NAMES[event],
            position=len(self.record.steps),
            handler=True,
        )
        self.record.steps.append(record)
        self.store.add_step(self.run_id, record, self.epoch)
        if status is not None:
            self.scope.set("DAG_RUN_STATUS", str(status))
        with self._lock:
            was_stopping = self.stopping.is_set()
            if was_stopping:
                # Handlers after a stop still run, with a fresh stop flag: a second stop
                # (or the SIGKILL timer's successor) can still end them.
                self.stopping = threading.Event()
                self._cancelled = False
        try:
            return StepExecution(self, step, record).execute()
        finally:
            if was_stopping:
                with self._lock:
                    self.stopping.set()
                    self._cancelled = True

    def _end(self, status: RunStatus) -> None:
        record = self.record
        record.status = status
        record.finished_at = self.store.now()
        masker = self.masker
        record.outputs = {name: masker.text(value) for name, value in self.outputs.items()}
        record.error = masker.optional(record.error)
        packed, files = self._pack_logs()
        written = self.store.set_run_status(
            self.run_id,
            status,
            epoch=self.epoch,
            finished_at=record.finished_at,
            outputs=record.outputs,
            error=record.error,
            logs=[(s.name, s.stdout_path, s.stderr_path) for s in packed],
        )
        if written:  # (else the store still names the files: they stay)
            LogPack.remove(files)
        if any(step.run or step.parallel for step in self.workflow.steps):
            # what is shown of it: counts, and the children that did not succeed first (not
            # the run again: its steps' outputs may be big)
            record.child_counts = self.store.child_counts(self.run_id)
            record.children = self.store.children(self.run_id, CHILDREN_SHOWN)
        self.log(f"run {status}" + (f": {record.error}" if record.error else ""))
        if any(self.workflow.mail_on.values()):
            from plait.runtime.notify import notify_run

            notify_run(self, status)
        self.agent.observer.run_finished(record)

    def _pack_logs(self) -> tuple[list[StepRecord], list[str]]:
        """A child run's small step logs, moved into its root run's pack (``logpack``): the
        steps that name them there now, and the files they leave (to go once the store says
        so). A store that ships logs to other hosts keeps each log under its own path."""
        if self.parent is None or getattr(self.store, "SHIPS_LOGS", False):
            return [], []
        files = [
            path
            for step in self.record.steps
            for path in (step.stdout_path, step.stderr_path)
            if path and os.path.dirname(path) == str(self.root.log_dir)
        ]
        refs = self.root.log_pack().add(files) if files else {}
        if not refs:
            return [], []
        changed: list[StepRecord] = []
        for step in self.record.steps:
            out = refs.get(step.stdout_path or "", step.stdout_path)
            err = refs.get(step.stderr_path or "", step.stderr_path)
            if (out, err) != (step.stdout_path, step.stderr_path):
                step.stdout_path, step.stderr_path = out, err
                changed.append(step)
        return changed, list(refs)

    def log_pack(self) -> LogPack:
        """The pack of this root run's log folder (opened at the first small log)."""
        with self._lock:
            if self._pack is None:
                self._pack = LogPack(str(self.log_dir))
            return self._pack

    # ------------------------------------------------------------------ for steps

    def save_step(self, record: StepRecord, masker: Masker | None = None) -> None:
        """Write a step's state; what it holds is masked first (``masker``: the step's)."""
        masker = masker or self.masker
        if masker:
            record.error = masker.optional(record.error)
            record.output = masker.optional(record.output)
        self.store.update_step(self.run_id, record, self.epoch)

    def save_attempt(self, record: StepRecord, masker: Masker | None = None) -> None:
        """Keep a finished attempt of a step with its own record (masked)."""
        record.error = (masker or self.masker).optional(record.error)
        self.store.record_attempt(self.run_id, record, self.epoch)

    def publish(self, step: Step, record: StepRecord) -> None:
        """Make a finished step's output and references visible to the steps after it."""
        with self._lock:
            if step.output and record.output is not None:
                if not step.output_omit:  # `omit`: for later steps, not the run's outputs
                    self.outputs[step.output_key or step.output] = record.output
                self.scope.add_output(step.output, record.output)
            if _approved(step, record):
                for name, value in json.loads(record.output or "{}").items():
                    self.outputs[name] = str(value)  # a person's inputs: outputs of the step
                    self.scope.add_output(name, str(value))
            names = (step.name,) if step.id is None else (step.name, step.id)
            self.scope.add_step(names, _ref(record))

    def smtp(self) -> dict[str, str]:
        """The mail server of this run: its workflow's, base.yaml's, config.yaml's."""
        from plait.runtime.mail import smtp_settings

        base = self.agent.base
        return smtp_settings(
            self.workflow.smtp,
            self.root.workflow.smtp if self.parent is not None else None,
            base.smtp if base is not None else None,
            self.agent.smtp,
        )

    def step_timeout(self, step: Step) -> tuple[float | None, bool]:
        """How long ``step`` may run, and whether that limit is the run's deadline."""
        timeout = step.timeout_sec or None
        if self._deadline is not None:
            left = max(self._deadline - time.monotonic(), 0.001)
            if timeout is None or left < timeout:
                return left, True
        return timeout, False

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True if the run was stopped meanwhile."""
        return self.stopping.wait(seconds)

    def track(self, process: StepProcess, stop_signal: int | None) -> None:
        with self._lock:
            self._processes[process] = stop_signal
        if self.stopping.is_set():
            process.signal(stop_signal or 15)

    def untrack(self, process: StepProcess) -> None:
        with self._lock:
            self._processes.pop(process, None)

    def adopt(self, child: RunExecution) -> None:
        with self._lock:
            self._children.add(child)
        if self.stopping.is_set():
            child.cancel(self.stop_reason or "stopped")

    def disown(self, child: RunExecution) -> None:
        with self._lock:
            self._children.discard(child)

    def cancel(self, reason: str, grace: float | None = None) -> None:
        """Stop this run and its children: signal every step's process group, then SIGKILL
        what is still there after ``maxCleanUpTimeSec`` (or ``grace``, when shorter: a run
        whose lease is running out)."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            self.stop_reason = self.stop_reason or reason
            self.stopping.set()  # before the copies: what starts from now on sees the flag
            processes = list(self._processes.items())
            children = list(self._children)
        for process, sig in processes:
            process.signal(sig or 15)
        for child in children:
            child.cancel(reason, grace)
        wait = self.cleanup_time if grace is None else min(grace, self.cleanup_time)
        timer = threading.Timer(wait, self._kill_remaining)
        timer.daemon = True
        timer.start()

    def _kill_remaining(self) -> None:
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            process.signal(9)

    @property
    def timed_out(self) -> bool:
        return self._timed_out

    @property
    def timeout_reason(self) -> str:
        return f"timed out after {self.workflow.timeout_sec:g}s"

    def time_out(self) -> None:
        """The run's ``timeoutSec`` has passed: stop it; it ends ``failed``."""
        if self._timed_out:
            return
        self._timed_out = True
        self.cancel(self.timeout_reason)


def _approved(step: Step, record: StepRecord) -> bool:
    """An approved ``hitl`` step, whose record holds the inputs a person gave."""
    return (
        step.executor is not None
        and step.executor.type == "hitl"
        and record.status is StepStatus.SUCCEEDED
        and (record.output or "").startswith("{")
    )


def _ref(record: StepRecord) -> StepRef:
    return StepRef(
        output=record.output,
        stdout=record.stdout_path or "",
        stderr=record.stderr_path or "",
        exit_code=record.exit_code,
    )
