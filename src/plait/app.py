"""Composition root: the one place that picks the store and wires layers together."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plait.errors import NotFoundError
from plait.model import Param, RunRecord, Workflow
from plait.runtime import Agent, Observer, RunExecution
from plait.store import Home, SQLiteStore

__all__ = [
    "find_workflow_file",
    "load_base",
    "load_workflow",
    "open_store",
    "resolve_name",
    "retry_run",
    "start_run",
]

_SUFFIXES = ("", ".yaml", ".yml")


def open_store(home: Home) -> SQLiteStore:
    return SQLiteStore(home.db_path)


def find_workflow_file(target: str, home: Home) -> Path:
    """A workflow file by path, or by name in the DAGs folder (with or without extension)."""
    searched: list[str] = []
    for base in (Path.cwd(), home.dags_dir):
        for suffix in _SUFFIXES:
            candidate = (base / (target + suffix)).resolve()
            searched.append(str(candidate))
            if candidate.is_file():
                return candidate
    raise NotFoundError(
        f"workflow {target!r} not found; looked for: {', '.join(dict.fromkeys(searched))}"
    )


def load_workflow(target: str, home: Home) -> Workflow:
    from plait.spec import load_file

    return load_file(find_workflow_file(target, home))


def load_base(home: Home) -> Workflow | None:
    """``$PLAIT_HOME/base.yaml``: env, params, shell and handlers under every workflow."""
    path = home.base_config
    if not path.is_file():
        return None
    from plait.spec import load_base_file

    return load_base_file(path)


def resolve_name(target: str, home: Home) -> str:
    """The workflow name a CLI argument means: a file's workflow name, or the text itself."""
    try:
        path = find_workflow_file(target, home)
    except NotFoundError:
        return target
    from plait.spec import load_file

    return load_file(path).name


@contextmanager
def _stop_on_signals(agent: Agent) -> Iterator[None]:
    """SIGINT and SIGTERM stop the runs of this agent (cleanly: handlers still run)."""

    def handle(signum: int, frame: object) -> None:
        agent.request_stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start_run(
    workflow: Workflow,
    *,
    home: Home,
    params: tuple[Param, ...] = (),
    run_id: str | None = None,
    observer: Observer | None = None,
    environ: dict[str, str] | None = None,
    handle_signals: bool = True,
) -> RunRecord:
    """Run ``workflow`` to its end in this process (this process is the run's agent)."""
    store = open_store(home)
    try:
        agent = Agent(
            store,
            home,
            environ=dict(os.environ) if environ is None else environ,
            observer=observer,
            base=load_base(home),
        )
        execution = RunExecution(agent, workflow, params=params, run_id=run_id)
        if handle_signals:
            with _stop_on_signals(agent):
                return execution.execute()
        return execution.execute()
    finally:
        store.close()


def retry_run(
    previous: RunRecord,
    *,
    home: Home,
    step: str | None = None,
    downstream: bool = False,
    observer: Observer | None = None,
) -> RunRecord:
    """A new attempt of a finished root run, in this process: succeeded steps keep their
    outputs; failed and not-started steps run again (only ``step``, if given)."""
    from plait.errors import RunStateError
    from plait.graph.deps import effective_depends
    from plait.spec import load_file

    if previous.parent_run_id is not None:
        raise RunStateError(
            f"run {previous.run_id} is a child run; retry its root run {previous.root_run_id}"
        )
    if previous.source is None:
        raise RunStateError(f"run {previous.run_id} was not started from a file")
    workflow = load_file(previous.source)
    rerun: set[str] | None = None
    if step is not None:
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
    params = tuple(Param(name, value or "") for name, value in previous.params)
    store = open_store(home)
    try:
        agent = Agent(store, home, observer=observer, base=load_base(home))
        execution = RunExecution(agent, workflow, params=params, previous=previous, rerun=rerun)
        with _stop_on_signals(agent):
            return execution.execute()
    finally:
        store.close()
