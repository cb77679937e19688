"""What every run inside one agent process shares: store, home, environment, stop, observers."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping

from plait.model import RunRecord, StepRecord
from plait.model.secret import Masker, secrets_by_name
from plait.proc.sink import DEFAULT_LOG_CAP
from plait.runtime.tracing import Tracing
from plait.store.records import AGENT_LEASE_SECONDS, AgentRef

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from plait.model import Param, Workflow
    from plait.runtime.run import RunExecution
    from plait.runtime.shipping import LogShipper
    from plait.store import Home
    from plait.store.base import RunStore

    StartDetached = Callable[[Workflow, tuple[Param, ...], str, str, str], str]

__all__ = ["HEARTBEAT_SECONDS", "MAX_DEPTH", "Agent", "Observer"]

MAX_DEPTH = 32
HEARTBEAT_SECONDS = AGENT_LEASE_SECONDS / 6  # 5 s of the default 30 s lease
STOP_POLL_SECONDS = min(0.5, HEARTBEAT_SECONDS)
# An agent that could not renew its leases this long stops its runs itself, before the lease
# expires and another agent may take them: a worker cut off from the store never runs a step
# at the same time as its successor.
FENCE_SECONDS = AGENT_LEASE_SECONDS * 0.6
FENCE_GRACE_SECONDS = AGENT_LEASE_SECONDS * 0.2


class Observer:
    """Told of what happens in the runs of an agent (live progress on a terminal, ...).
    The base class ignores everything; subclasses override what they show."""

    def run_started(self, run: RunRecord) -> None:
        pass

    def step_started(self, run: RunRecord, step: StepRecord) -> None:
        pass

    def step_finished(self, run: RunRecord, step: StepRecord) -> None:
        pass

    def run_finished(self, run: RunRecord) -> None:
        pass


class Agent:
    """The process that executes a root run and all of its child runs."""

    def __init__(
        self,
        store: RunStore,
        home: Home,
        *,
        environ: Mapping[str, str] | None = None,
        observer: Observer | None = None,
        base: Workflow | None = None,
        log_cap: int = DEFAULT_LOG_CAP,
        ship_cap: int | None = None,
        smtp: Mapping[str, str] | None = None,
        owner: str | None = None,
        worker_pid: int | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.store = store
        self.worker_pid = worker_pid  # the worker process whose agent this is
        self.log_cap = log_cap  # bytes kept of each stream of each step attempt
        # step logs copied into the store for readers on other hosts (PostgreSQL)
        self.shipper: LogShipper | None = None
        if getattr(store, "SHIPS_LOGS", False):
            from plait.runtime.shipping import DEFAULT_SHIP_CAP, LogShipper

            self.shipper = LogShipper(store, DEFAULT_SHIP_CAP if ship_cap is None else ship_cap)
        self.smtp: Mapping[str, str] = smtp or {}  # config.yaml's mail server
        self.home = home
        # The server's credentials (its own, and the webhooks' signing secrets) are never
        # handed to steps (or written into their logs).
        source = os.environ if environ is None else environ
        self.environ = {
            k: v
            for k, v in source.items()
            if not k.startswith(("PLAIT_AUTH_", "PLAIT_WEBHOOK_SECRET")) and k != "PLAIT_WORKER_PID"
        }
        # Values of its environment whose names say they are secrets: masked in every run.
        self.masker = Masker(secrets_by_name(self.environ))
        self.observer: Observer = observer or Observer()
        # spans of its runs, steps and attempts; the base class does nothing (telemetry off)
        self.tracing: Tracing = tracing or Tracing()
        self.base = base
        # Starts a root run of a child workflow that its step does not wait for (`wait:
        # false`): (workflow, params, run id, by run id, by step) -> run id. Given by the
        # composition root (queues are above the runtime); None: such steps fail.
        self.start_detached: StartDetached | None = None
        self.pid = os.getpid()
        # who this agent is, in the store: a worker's agent holds its runs for the worker
        self.ref = AgentRef(self.pid, owner=owner)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._runs: dict[str, RunExecution] = {}
        self._beat: threading.Thread | None = None
        self._renewed = time.monotonic()  # when the leases of this agent's runs were renewed

    def started(self, run: RunExecution) -> None:
        with self._lock:
            self._runs[run.run_id] = run
            if self._beat is None:
                self._renewed = time.monotonic()  # the run was just written: its lease is fresh
                self._beat = threading.Thread(target=self._heartbeat, daemon=True)
                self._beat.start()
                threading.Thread(target=self._fence, args=(self._beat,), daemon=True).start()

    def finished(self, run: RunExecution) -> None:
        with self._lock:
            self._runs.pop(run.run_id, None)

    def request_stop(self) -> None:
        """Stop every run of this agent: no new step starts, running steps are signalled."""
        self.stopping.set()
        with self._lock:
            roots = [run for run in self._runs.values() if run.parent is None]
        for run in roots:
            run.cancel("stopped")

    def _worker_gone(self, run_ids: list[str]) -> None:
        """The worker of this agent died: its runs are lost with it. The agent kills its
        steps and ends at once, writing nothing but that the worker is gone, so that the
        reaper marks the runs "worker lost" (or queues them again)."""
        from plait.proc.leftovers import kill_leftovers

        try:
            self.store.remove_worker(self.ref.owner, self.worker_pid or 0)
        except Exception:
            pass
        # the steps die of the kill below: their threads must not record that as a failure
        # of the step before the process ends, or the run is not "worker lost"
        self.store.hold_writes(timeout=10.0)
        kill_leftovers(run_ids)
        os._exit(70)

    def _fence(self, beat: threading.Thread) -> None:
        """While ``beat`` renews the leases: when they have not been renewed for
        ``FENCE_SECONDS`` (the store is cut off, or a call to it hangs), stop every run
        before its lease can expire and another agent takes it."""
        while beat.is_alive():
            time.sleep(STOP_POLL_SECONDS)
            if time.monotonic() - self._renewed <= FENCE_SECONDS:
                continue
            with self._lock:
                runs = list(self._runs.values())
            for run in runs:
                if not run.stopping.is_set():
                    # what ignores SIGTERM is killed well before the lease expires
                    run.cancel("lease lost: the store cannot be reached", FENCE_GRACE_SECONDS)

    def _heartbeat(self) -> None:
        """Keep the runs' heartbeat fresh and act on stops asked for by other processes, for as
        long as this agent has runs (a stopped run's handlers and cleanup included)."""
        last_beat = 0.0
        while True:
            self.store.wait_for_stop_request(STOP_POLL_SECONDS)
            with self._lock:
                runs = dict(self._runs)
                if not runs:
                    self._beat = None  # the next run starts a new beat
                    return
            if self.worker_pid is not None and os.getppid() != self.worker_pid:
                self._worker_gone(list(runs))
            try:
                asked = self.store.stop_requests() & runs.keys()
                # a parent before its children (a stop asks for the whole tree at once): a
                # child ended by the stop is then seen by its parent's step as stopped, not
                # as a failure of the child
                for run_id in sorted(asked, key=lambda r: runs[r].depth):
                    # acted on once: a second `plait stop` (of the handlers) asks again
                    self.store.clear_stop_request(run_id)
                    runs[run_id].cancel("stopped")
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    lost = self.store.heartbeat([(r.run_id, r.epoch) for r in runs.values()])
                    last_beat = time.monotonic()
                    self._renewed = now  # the beat began then: the leases run from there
                    for run_id in lost & runs.keys():
                        if not runs[run_id].stopping.is_set():
                            runs[run_id].cancel("lease lost: another agent holds the run now")
            except Exception:  # a busy store must not kill the agent; the next turn retries
                pass  # (the fence stops the runs when this goes on too long)
