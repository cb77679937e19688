"""Composition root: the one place that picks the store and wires layers together."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

from plait.errors import NotFoundError, PlaitError, RunStateError
from plait.model import Param, RunRecord, RunStatus, StepRecord, Workflow
from plait.queue import Config, load_config, queue_of, wait_for_slot
from plait.runtime import Agent, Observer, RunExecution
from plait.spec.params import check_params
from plait.store import Home
from plait.store.records import AGENT_LEASE_SECONDS
from plait.store.sqlite import SQLiteStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from plait.store.base import RunStore

__all__ = [
    "enqueue_run",
    "find_workflow_file",
    "load_base",
    "load_workflow",
    "notices",
    "open_store",
    "resolve_name",
    "retry_run",
    "run_claimed",
    "start_run",
]

_SUFFIXES = ("", ".yaml", ".yml")


# An agent mid-run outlasts a database restart this long (less than its lease, so that it is
# not judged dead meanwhile); commands and servers report an unreachable store at once.
AGENT_STORE_PATIENCE_SECONDS = min(25.0, AGENT_LEASE_SECONDS * 0.5)


def store_url(home: Home) -> str | None:
    """The PostgreSQL store configured (``PLAIT_DATABASE_URL``, else ``store.url`` of
    config.yaml), or None for the SQLite store of the home."""
    url = os.environ.get("PLAIT_DATABASE_URL")
    if url:
        return url
    return load_config(home.config_file).store_url if home.config_file.is_file() else None


def open_store(home: Home, *, existing: bool = False, migrate: bool = True) -> RunStore:
    """The store of ``home``, for every process (CLI, agents, scheduler, server): PostgreSQL
    when configured, else SQLite in the home. The PostgreSQL driver is imported only then.
    The store is migrated to this plait's schema unless ``migrate`` is false.

    Raises:
        NotFoundError: with ``existing``, the SQLite store has not been made yet.
        StoreError: the store cannot be opened.
    """
    url = store_url(home)
    if url:
        from plait.store.postgres import PostgresStore

        return PostgresStore(url, migrate=migrate)
    if existing and not home.db_path.exists():
        raise NotFoundError(f"no runs yet (no store at {home.db_path})")
    return SQLiteStore(home.db_path, migrate=migrate)


def find_workflow_file(target: str, home: Home) -> Path:
    """A workflow file: ``target`` as a path (from the working directory, with or without
    extension), else the workflow ``target`` names in the DAGs folder by the one rule of
    ``plait.spec.discover.find_workflow``."""
    from plait.spec.discover import find_workflow

    searched: list[str] = []
    for suffix in _SUFFIXES:
        candidate = (Path.cwd() / (target + suffix)).resolve()
        searched.append(str(candidate))
        if candidate.is_file():
            return candidate
    found = find_workflow(home.dags_dir, target)
    if found is not None:
        path, document = found
        if document == 0:
            return path.resolve()
        raise NotFoundError(
            f"workflow {target!r} is a later document of {path}: a child workflow that only "
            "that file's own workflow runs"
        )
    raise NotFoundError(
        f"workflow {target!r} not found; looked for: {', '.join(searched)}, and the file or "
        f"a workflow named {target!r} in {home.dags_dir}"
    )


def load_workflow(target: str, home: Home, *, check_children: bool = False) -> Workflow:
    """A workflow by file or name; with ``check_children``, its child workflows must load."""
    from plait.spec import load_file

    workflow = load_file(find_workflow_file(target, home))
    if check_children and any(step.run for step in workflow.steps):
        from plait.errors import SpecError
        from plait.spec import validate_children

        problems = validate_children(workflow, str(home.dags_dir))
        if problems:
            raise SpecError(problems)
    return workflow


def notices(workflow: Workflow, home: Home | None = None) -> list[str]:
    """Fields a run accepts but that do nothing here, to be said rather than ignored."""
    said: list[str] = list(workflow.notes)
    workers = home is not None and store_url(home) is not None
    if not workers and (workflow.worker_selector or any(s.worker_selector for s in workflow.steps)):
        said.append(
            "`workerSelector` is accepted, but workers need the PostgreSQL store: "
            "this run runs on this machine"
        )
    return said


def worker_warnings(workflow: Workflow, home: Home) -> list[str]:
    """For ``validate``: each ``workerSelector`` of the workflow (its own, its steps') that no
    registered worker could serve, with the PostgreSQL store (its runs would wait)."""
    given = [("workerSelector", workflow.worker_selector)] + [
        (f"step {s.name}: workerSelector", s.worker_selector) for s in workflow.steps
    ]
    selectors = [(where, dict(sel)) for where, sel in given if sel]
    if not selectors or store_url(home) is None:
        return []
    from plait.queue.admission import labels_text

    try:
        store = open_store(home)
        try:
            registered = [w.labels for w in store.workers()]
        finally:
            store.close()
    except PlaitError as error:
        return [f"cannot check the workers of the store: {error.message}"]
    return [
        f"{where}: no registered worker has {labels_text(sel)}; its runs wait until one does"
        for where, sel in selectors
        if not any(all(labels.get(k) == v for k, v in sel.items()) for labels in registered)
    ]


def load_base(home: Home) -> Workflow | None:
    """``$PLAIT_HOME/base.yaml``: env, params, shell and handlers under every workflow."""
    path = home.base_config
    if not path.is_file():
        return None
    from plait.spec import load_base_file

    return load_base_file(path)


def resolve_name(target: str, home: Home, *, missing_ok: bool = True) -> str:
    """The workflow name a CLI argument means: a file's workflow name, or (``missing_ok``)
    the text itself when there is no such file; else NotFoundError."""
    try:
        path = find_workflow_file(target, home)
    except NotFoundError:
        if not missing_ok:
            raise
        return target
    from plait.spec import load_file

    return load_file(path).name


@contextmanager
def _stop_on_signals(agent: Agent) -> Iterator[None]:
    """SIGINT and SIGTERM stop the runs of this agent (cleanly: handlers still run)."""

    def handle(signum: int, frame: object) -> None:
        # On a thread of its own: the handler runs in the main thread wherever it was
        # interrupted, possibly holding a lock that stopping needs.
        threading.Thread(target=agent.request_stop, name="stop", daemon=True).start()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _agent(
    store: RunStore,
    home: Home,
    config: Config,
    *,
    environ: dict[str, str] | None = None,
    observer: Observer | None = None,
    owner: str | None = None,
    workflow: Workflow | None = None,
) -> Agent:
    """The agent of this process, with the home's base config and settings. Its store waits
    for a database that cannot be reached (restarting) rather than fail the run at once.
    ``owner``: the worker whose agent this is. ``workflow``: the run's, whose ``otel:``
    block (over base.yaml's and config.yaml's) says where traces go."""
    store.patience = AGENT_STORE_PATIENCE_SECONDS
    worker_pid = os.environ.get("PLAIT_WORKER_PID", "") if owner else ""
    agent = Agent(
        store,
        home,
        environ=environ,
        observer=observer,
        base=load_base(home),
        log_cap=config.max_step_log_size,
        ship_cap=config.max_shipped_log_size,
        smtp=config.smtp,
        owner=owner,
        worker_pid=int(worker_pid) if worker_pid.isdigit() else None,
    )
    agent.start_detached = partial(_start_detached, store, home, config)
    trace_runs(agent, config, workflow)
    return agent


def _start_detached(
    store: RunStore,
    home: Home,
    config: Config,
    workflow: Workflow,
    params: tuple[Param, ...],
    run_id: str,
    by_run_id: str,
    by_step: str,
) -> str:
    """A ``wait: false`` step's child: a root run of its own, queued in its queue (started at
    once when the queue has room, else by the scheduler), linked to the step that started it.
    A retried step finds the run it started (same id) rather than start another."""
    from plait.proc.launch import launch_agent
    from plait.queue import dispatch, enqueue_run

    try:
        enqueue_run(store, workflow, params=params, run_id=run_id, dags_dir=str(home.dags_dir))
    except RunStateError:
        pass  # it was started by an attempt before
    store.link_started(run_id, by_run_id, by_step)
    log = str(home.logs_dir / "agents.log")
    dispatch(
        store,
        config,
        lambda queued: launch_agent(queued, log_path=log),
        queues=[queue_of(workflow)],
    )
    return run_id


def trace_runs(
    agent: Agent, config: Config, workflow: Workflow | None, trace_parent: str | None = None
) -> None:
    """Give ``agent`` the tracing its settings ask for: OpenTelemetry when an ``otel:`` block
    (the workflow's over base.yaml's over config.yaml's), the standard ``OTEL_*`` variables
    or the host program say so (``tracing_source``), imported only then; else none. With
    ``trace_parent`` (a child run a worker took), its run joins that trace."""
    from plait.runtime.tracing import tracing_source

    environ = agent.environ
    if trace_parent:
        environ = {**environ, "TRACEPARENT": trace_parent}
        environ.pop("TRACESTATE", None)
    settings = None
    base = agent.base
    for layer in (config.otel, base.otel if base else None, workflow.otel if workflow else None):
        if layer is not None:
            settings = layer.over(settings)
    source = tracing_source(settings, environ)
    if source is None:
        return
    try:
        from plait.runtime.otel import OtelTracing
    except ImportError:
        if source == "settings":
            print(
                "plait: `otel:` is configured but OpenTelemetry is not installed "
                "(pip install 'plait[otel]'): no traces",
                file=sys.stderr,
            )
        return
    if source == "host":
        agent.tracing = OtelTracing.of_host(environ)
    else:
        agent.tracing = OtelTracing.configured(settings, environ)


def start_run(
    workflow: Workflow,
    *,
    home: Home,
    params: tuple[Param, ...] = (),
    run_id: str | None = None,
    observer: Observer | None = None,
    environ: dict[str, str] | None = None,
    handle_signals: bool = True,
    no_wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    store: RunStore | None = None,
    priority: int | None = None,
) -> RunRecord:
    """Run ``workflow`` to its end in this process (this process is the run's agent), once
    its queue and its ``maxActiveRuns`` let it start (``priority``: its place in the queue,
    default the workflow's). A ``store`` given is left open."""
    own_store = store is None
    config = load_config(home.config_file)  # a bad config: no run
    store = open_store(home) if store is None else store
    try:
        agent = _agent(
            store,
            home,
            config,
            environ=dict(os.environ) if environ is None else environ,
            observer=observer,
            workflow=workflow,
        )
        execution = RunExecution(agent, workflow, params=params, run_id=run_id, admitted=True)
        record = execution.record
        record.definition = execution.definition()
        queue = queue_of(workflow)
        capacity = config.queues.get(queue)
        check_params(workflow.name, workflow.params, params)
        store.enqueue(
            record,
            [StepRecord(name=s.name, position=i) for i, s in enumerate(workflow.steps)],
            queue=queue,
            max_active_runs=workflow.max_active_runs,
            dispatch="self",
            selector=dict(workflow.worker_selector) or None,
            lost_retries=workflow.retry_on_worker_lost,
            priority=workflow.priority if priority is None else priority,
        )
        with _stop_on_signals(agent) if handle_signals else nullcontext():
            started = wait_for_slot(
                store,
                record.run_id,
                queue,
                capacity,
                no_wait=no_wait,
                on_wait=on_wait,
                stopping=agent.stopping,
            )
            if started is None:
                return store.get_run(record.run_id)
            if started:
                return _follow(store, record.run_id, started, agent.stopping, on_wait)
            return execution.execute()
    finally:
        if own_store:
            store.close()


def retry_run(
    previous: RunRecord,
    *,
    home: Home,
    step: str | None = None,
    downstream: bool = False,
    observer: Observer | None = None,
    on_wait: Callable[[str], None] | None = None,
    resume: bool = False,
) -> RunRecord:
    """A new attempt of a finished root run, in this process: succeeded steps keep their
    outputs; failed and not-started steps run again (only ``step``, if given). With
    ``resume``, a run that waited for a person goes on: every step that ended is kept."""
    from plait.errors import RunStateError

    if previous.parent_run_id is not None:
        raise RunStateError(
            f"run {previous.run_id} is a child run; retry its root run {previous.root_run_id}"
        )
    if previous.source is None:
        raise RunStateError(f"run {previous.run_id} was not started from a file")
    store = open_store(home)
    try:
        workflow = _stored_workflow(store, previous.run_id, previous.source)
        rerun = _steps_to_rerun(workflow, step, downstream)
        config = load_config(home.config_file)
        agent = _agent(store, home, config, observer=observer, workflow=workflow)
        queue = queue_of(workflow)
        capacity = config.queues.get(queue)
        store.begin_retry(
            previous.run_id, agent.ref, queue=queue, max_active_runs=workflow.max_active_runs
        )
        execution = RunExecution(
            agent,
            workflow,
            params=previous.params_to_replay(),
            previous=previous,
            rerun=rerun,
            admitted=True,
            resuming=resume,
        )
        with _stop_on_signals(agent):
            started = wait_for_slot(
                store, previous.run_id, queue, capacity, on_wait=on_wait, stopping=agent.stopping
            )
            if started is None:
                return store.get_run(previous.run_id)
            if started:
                return _follow(store, previous.run_id, started, agent.stopping, on_wait)
            return execution.execute()
    finally:
        store.close()


def _follow(
    store: RunStore,
    run_id: str,
    worker: str,
    stopping: threading.Event,
    on_wait: Callable[[str], None] | None,
) -> RunRecord:
    """A run that a worker runs (its ``workerSelector``): wait for its end, here; a signal to
    this process stops it there."""
    if on_wait is not None:
        on_wait(f"sent to worker {worker}")
    asked = False
    while True:
        record = store.get_run(run_id)
        if record.status.is_final or record.status is RunStatus.WAITING:
            return record
        if stopping.is_set() and not asked:
            store.request_stop(run_id)
            asked = True
        stopping.wait(_FOLLOW_SECONDS)


_FOLLOW_SECONDS = 0.2


def _steps_to_rerun(workflow: Workflow, step: str | None, downstream: bool) -> set[str] | None:
    """The steps a retry runs again: None for every failed one; ``step`` (and, with
    ``downstream``, every step after it)."""
    if step is None:
        return None
    from plait.graph.deps import effective_depends

    if step not in {s.name for s in workflow.steps}:
        raise NotFoundError(f"workflow {workflow.name} has no step {step!r}")
    rerun = {step}
    if downstream:
        depends = effective_depends(workflow)
        grew = True
        while grew:
            more = {n for n, deps in depends.items() if rerun.intersection(deps)}
            grew = not more <= rerun
            rerun |= more
    return rerun


def decide_step(
    run_id: str,
    step: str,
    *,
    home: Home,
    approve: bool,
    inputs: dict[str, str] | None = None,
    reason: str | None = None,
) -> RunRecord:
    """A person's answer to a waiting ``hitl`` step of any run (a child run's too): approved
    with its inputs (they become the step's outputs), or rejected (the step fails). Returns
    the root run, to resume.

    Raises:
        NotFoundError: no such run or step. RunStateError: the step does not wait.
        ParamsError: a required input is missing, or an input is not one the step asks for.
    """
    import json

    from plait.errors import ParamsError, RunStateError
    from plait.model import StepStatus
    from plait.runtime.executors.hitl import request_of

    store = open_store(home)
    try:
        run = store.get_run(run_id)
        try:
            record = run.step(step)
        except KeyError:
            raise NotFoundError(f"run {run_id} has no step {step!r}") from None
        if record.status is not StepStatus.WAITING:
            raise RunStateError(f"step {step} of run {run_id} is {record.status}, not waiting")
        request = request_of(record.output)
        given = dict(inputs or {})
        if approve:
            declared = _names(request.get("input"))
            required = _names(request.get("required"))
            missing = [name for name in required if not given.get(name)]
            if missing:
                raise ParamsError(f"step {step} needs the input {', '.join(missing)}")
            unknown = [name for name in given if declared and name not in declared]
            if unknown:
                raise ParamsError(
                    f"step {step} asks for {', '.join(declared)}, not {', '.join(unknown)}"
                )
        decided = store.decide_waiting_step(
            run_id,
            step,
            status=StepStatus.SUCCEEDED if approve else StepStatus.FAILED,
            output=json.dumps(given, ensure_ascii=False) if approve else None,
            output_var=None,
            error=None if approve else "rejected" + (f": {reason}" if reason else ""),
        )
        if not decided:
            raise RunStateError(f"step {step} of run {run_id} was decided already")
        return store.get_run(run.root_run_id or run.run_id)
    finally:
        store.close()


def _names(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def enqueue_run(
    workflow: Workflow,
    *,
    home: Home,
    params: tuple[Param, ...] = (),
    run_id: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
) -> str:
    """Put a run of ``workflow`` in its queue; the scheduler starts it when there is room."""
    from plait.queue import enqueue_run as enqueue

    store = open_store(home)
    try:
        return enqueue(
            store,
            workflow,
            params=params,
            run_id=run_id,
            queue=queue,
            dags_dir=str(home.dags_dir),
            priority=priority,
        )
    finally:
        store.close()


def _stored_workflow(
    store: RunStore, run_id: str, source: str, name: str | None = None
) -> Workflow:
    """The workflow a run was stored with (its files' texts, so that it loads on a host
    without them or after they changed); the file itself for a run stored without them.
    ``name``: the workflow of that name in the file (a later document), else the first."""
    from plait.spec import load_file
    from plait.spec.loader import use_stored

    files = store.definition(run_id)
    if files:
        use_stored(files)
    workflow = load_file(source)
    if name is None or name == workflow.name:
        return workflow
    if name in workflow.local:
        return workflow.local[name]
    # a step sent to a worker, or an item of a command fan-out: a one-step workflow
    return workflow.step_child(name) or workflow


def run_claimed(
    run_id: str,
    *,
    home: Home,
    epoch: int | None = None,
    worker: str | None = None,
    store: RunStore | None = None,
) -> RunRecord | None:
    """The agent of a run that the scheduler claimed from its queue: run it to its end. For
    a worker's run (``worker``, the claim's ``epoch``): None, and nothing done, when the run
    is no longer that claim (a job delivered twice, a claim given back). A ``store`` given
    is left open."""

    own_store = store is None
    store = open_store(home) if store is None else store
    try:
        queued = store.get_run(run_id)
        if worker is not None and (queued.owner != worker or queued.status != RunStatus.RUNNING):
            return None
        params = queued.params_to_replay()
        config = load_config(home.config_file)
        agent = _agent(store, home, config, owner=worker)
        try:
            if queued.source is None:
                raise NotFoundError(f"run {run_id} has no workflow file")
            workflow = _stored_workflow(store, run_id, queued.source, queued.name)
            trace_runs(agent, config, workflow, store.trace_parent(run_id))
        except PlaitError as error:
            taken = store.mark_started(run_id, agent.ref, queued.params, epoch)
            if taken is not None:
                store.set_run_status(
                    run_id,
                    RunStatus.FAILED,
                    epoch=taken,
                    finished_at=store.now(),
                    error=error.message,
                )
            return store.get_run(run_id)
        previous = None
        if worker is not None and queued.attempt > 1:
            # a retry, or a run queued again after its worker was lost: what ended well stays
            previous = queued
            previous.attempt -= 1
        execution = RunExecution(
            agent,
            workflow,
            params=params,
            run_id=None if previous is not None else run_id,
            previous=previous,
            admitted=True,
            claim_epoch=epoch,
        )
        if queued.parent_run_id is not None:
            execution.place_in_tree(queued)  # a remote child run: its parent is elsewhere
        with _stop_on_signals(agent):
            try:
                return execution.execute()
            except RunStateError:
                if worker is None:
                    raise
                return None  # another delivery of the same claim took it first
    finally:
        if own_store:
            store.close()


def serve_runs(home: Home, worker: str, requests: TextIO, replies: TextIO) -> None:
    """A worker's agent process (``plait agent --serve``): one run after another, as its
    worker sends them — a line "RUN_ID EPOCH" on ``requests``, answered by "RUN_ID CODE" on
    ``replies`` (STATUS: the run's status at its end, or "-" when it was not this claim's
    any more) — until ``requests`` ends. The store stays open from one run to the next."""
    store = open_store(home)
    try:
        for line in requests:
            run_id, _, epoch = line.strip().partition(" ")
            if not run_id:
                continue
            try:
                record = run_claimed(
                    run_id, home=home, epoch=int(epoch), worker=worker, store=store
                )
                said = "-" if record is None else str(record.status)
            except PlaitError as error:
                print(f"plait agent: run {run_id}: {error.message}", file=sys.stderr, flush=True)
                said = "error"
            replies.write(f"{run_id} {said}\n")
            replies.flush()
    finally:
        store.close()
