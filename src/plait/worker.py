"""``plait worker``: runs sent to this machine by the scheduler, through the shared store.

A worker registers itself (id, host, labels, slots, version) and beats every few seconds; the
dispatcher places a run whose ``workerSelector`` its labels satisfy on it while it has a free
slot, and hands it over as a job in the worker's queue (see ``store.postgres_jobs``). For each
job the worker hands the run to one of its agent processes (``plait agent --serve``, one per
slot, started once and reused: a run costs no process start) and waits for its end; the agent
takes the run over only at the claim's epoch, so a job delivered twice runs nothing. Children
and ``parallel:`` items run inside the agent.

The worker's agents end with it: an agent whose worker is gone (kill -9, a crash) kills its
steps and exits without a word, and the reaper of any scheduler marks the run "worker lost"
(or queues it again, ``retryOnWorkerLost``). SIGTERM or SIGINT: no new run; the runs in hand
finish; a second signal stops them.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from plait.errors import PlaitError, UsageError
from plait.store import Home
from plait.store.records import AGENT_LEASE_SECONDS, WorkerInfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from plait.store.base import RunStore

__all__ = ["Worker", "parse_labels", "serve_until_signalled", "worker_listing"]

_log = logging.getLogger("plait.worker")
BEAT_SECONDS = AGENT_LEASE_SECONDS / 6


def parse_labels(text: str | None) -> dict[str, str]:
    """``gpu=true,zone=eu`` as a mapping.

    Raises:
        UsageError: an item that is not ``key=value``.
    """
    labels: dict[str, str] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"worker: label {item!r} is not key=value")
        labels[key.strip()] = value.strip()
    return labels


class Worker:
    def __init__(
        self,
        home: Home,
        store: RunStore,
        *,
        worker_id: str,
        labels: dict[str, str],
        slots: int,
        version: str = "",
    ) -> None:
        if slots < 1:
            raise UsageError("worker: --slots must be 1 or more")
        self.home = home
        self.store = store
        self.info = WorkerInfo(
            worker_id=worker_id,
            host=os.uname().nodename,
            pid=os.getpid(),
            labels=labels,
            slots=slots,
            version=version,
        )
        self.stopping = threading.Event()
        self.pool: AgentPool | None = None

    # ------------------------------------------------------------------ life

    def run(self) -> None:
        """Register, take runs until stopped, then leave."""
        info = self.info
        self._refuse_a_live_twin()
        log = self.home.logs_dir / "agents.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.pool = AgentPool(info.worker_id, info.slots, str(log))
        self.store.register_worker(info)
        _log.info(
            "worker %s on %s: labels %s, %d slots",
            info.worker_id,
            info.host,
            ",".join(f"{k}={v}" for k, v in sorted(info.labels.items())) or "(none)",
            info.slots,
        )
        beat = threading.Thread(target=self._beat, name="worker-beat", daemon=True)
        beat.start()
        try:
            self.store.serve_worker(info.worker_id, info.slots, self._handle, self.stopping)
        finally:
            self.stopping.set()
            self.pool.close()
            try:
                self.store.remove_worker(info.worker_id, info.pid)
            except PlaitError as error:
                _log.warning("worker %s: %s", info.worker_id, error.message)

    def stop(self, hard: bool = False) -> None:
        """Take no more runs (the runs in hand finish); ``hard``: stop those too."""
        if not self.stopping.is_set():
            self.stopping.set()
            try:
                self.store.stop_worker(self.info.worker_id)
            except PlaitError:
                pass
        if hard and self.pool is not None:
            self.pool.signal(signal.SIGTERM)

    def _refuse_a_live_twin(self) -> None:
        now = self.store.now()
        for other in self.store.workers():
            if (
                other.worker_id == self.info.worker_id
                and now - other.heartbeat_at < AGENT_LEASE_SECONDS
                and not (other.host == self.info.host and not _alive(other.pid))
            ):
                raise UsageError(
                    f"worker: a worker called {other.worker_id!r} is running on {other.host} "
                    f"(pid {other.pid}); give this one another --id"
                )

    def _beat(self) -> None:
        while not self.stopping.wait(BEAT_SECONDS):
            try:
                if not self.store.beat_worker(self.info.worker_id, self.info.pid):
                    self.store.register_worker(self.info)  # its record was removed: again
            except PlaitError as error:
                _log.warning("worker %s: heartbeat failed: %s", self.info.worker_id, error.message)
            except Exception as error:  # whatever a lost connection raises: beat on, never end
                _log.warning("worker %s: heartbeat failed: %r", self.info.worker_id, error)

    # ------------------------------------------------------------------ one run

    def _handle(self, run_id: str, epoch: int) -> None:
        """Run ``run_id`` (claimed at ``epoch``) in one of the worker's agent processes."""
        assert self.pool is not None
        said = self.pool.run(run_id, epoch)
        if said is None:  # the agent was killed: its run is failed now, not at a later look
            from plait.runtime.recovery import recover

            try:
                recover(self.store)
            except PlaitError as error:
                _log.warning("worker %s: %s", self.info.worker_id, error.message)
        _log.info("worker %s: run %s: %s", self.info.worker_id, run_id, said or "agent lost")


class _AgentProcess:
    """One agent process of a worker (``plait agent --serve``): runs one run at a time, sent
    as a line on its stdin, answered on its stdout."""

    def __init__(self, worker_id: str, env: dict[str, str], log_path: str) -> None:
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "plait", "agent", "--serve", "--worker", worker_id],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
                bufsize=1,
                start_new_session=True,  # a Ctrl-C of the worker's terminal is the worker's
            )

    def run(self, run_id: str, epoch: int) -> str | None:
        """The run's end status ("-": not this claim's any more); None if the agent died."""
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(f"{run_id} {epoch}\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except OSError:
            line = ""
        if not line:
            process.wait()
            return None
        return line.split()[-1]

    def close(self) -> None:
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass


class AgentPool:
    """The agent processes of a worker, one per slot, started once and reused from run to
    run (the cost of starting a plait process is paid once, not per run). A killed agent
    costs its run only; another is started in its place."""

    def __init__(self, worker_id: str, size: int, log_path: str) -> None:
        self.worker_id = worker_id
        self.log_path = log_path
        self.env = {**os.environ, "PLAIT_WORKER_PID": str(os.getpid())}
        self._idle: queue.Queue[_AgentProcess] = queue.Queue()
        self._lock = threading.Lock()
        self.busy: dict[str, _AgentProcess] = {}
        for _ in range(size):
            self._idle.put(self._start())

    def _start(self) -> _AgentProcess:
        return _AgentProcess(self.worker_id, self.env, self.log_path)

    def run(self, run_id: str, epoch: int) -> str | None:
        agent = self._idle.get()
        if agent.process.poll() is not None:
            agent = self._start()
        with self._lock:
            self.busy[run_id] = agent
        try:
            said = agent.run(run_id, epoch)
        finally:
            with self._lock:
                self.busy.pop(run_id, None)
            if agent.process.poll() is None:
                self._idle.put(agent)
            else:
                self._idle.put(self._start())
        return said

    def signal(self, sig: int) -> None:
        with self._lock:
            agents = list(self.busy.values())
        for agent in agents:
            if agent.process.poll() is None:
                agent.process.send_signal(sig)

    def close(self) -> None:
        """End the idle agents (the busy ones end with their run: the worker waits for it)."""
        while True:
            try:
                agent = self._idle.get_nowait()
            except queue.Empty:
                return
            agent.close()
            try:
                agent.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.process.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve_until_signalled(worker: Worker) -> None:
    """Run ``worker`` in the foreground: the first SIGTERM/SIGINT stops taking runs, the
    second stops the runs in hand."""
    signals = {"count": 0}

    def on_signal(signum: int, frame: object) -> None:
        signals["count"] += 1
        worker.stop(hard=signals["count"] > 1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    started = time.monotonic()
    worker.run()
    _log.info("worker %s stopped after %.0fs", worker.info.worker_id, time.monotonic() - started)


def worker_listing(store: RunStore) -> list[dict[str, Any]]:
    """Every registered worker as ``plait workers`` and the API show it: labels, slots in
    use, heartbeat, runs in hand, and its state ("live", "stopping", or "lost": no heartbeat
    for a lease's time)."""
    from plait.model import iso_time

    now = store.now()
    return [
        {
            "id": w.worker_id,
            "host": w.host,
            "pid": w.pid,
            "labels": w.labels,
            "slots": w.slots,
            "busy": len(w.runs),
            "runs": w.runs,
            "version": w.version,
            "startedAt": iso_time(w.started_at),
            "heartbeatAt": iso_time(w.heartbeat_at),
            "state": (
                "stopping"
                if w.stopping
                else "live"
                if now - w.heartbeat_at < AGENT_LEASE_SECONDS
                else "lost"
            ),
        }
        for w in store.workers()
    ]
