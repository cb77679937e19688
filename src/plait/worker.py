"""``plait worker``: runs sent to this machine by the scheduler, through the shared store.

A worker registers itself (id, host, labels, slots, version) and beats every few seconds; the
dispatcher places a run whose ``workerSelector`` its labels satisfy on it while it has a free
slot, and hands it over as a job in the worker's queue (see ``store.postgres_jobs``). For each
job the worker starts the run's agent (``plait agent --run-id ID --epoch E --worker ID``), one
process per run as the scheduler does locally, and waits for it; the agent takes the run over
only at the claim's epoch, so a job delivered twice runs nothing. Children and ``parallel:``
items run inside the agent.

The worker's agents end with it: an agent whose worker is gone (kill -9, a crash) kills its
steps and exits without a word, and the reaper of any scheduler marks the run "worker lost"
(or queues it again, ``retryOnWorkerLost``). SIGTERM or SIGINT: no new run; the runs in hand
finish; a second signal stops them.
"""

from __future__ import annotations

import logging
import os
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
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ life

    def run(self) -> None:
        """Register, take runs until stopped, then leave."""
        info = self.info
        self._refuse_a_live_twin()
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
        if hard:
            with self._lock:
                agents = list(self.agents.values())
            for agent in agents:
                if agent.poll() is None:
                    agent.send_signal(signal.SIGTERM)

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

    # ------------------------------------------------------------------ one run

    def _handle(self, run_id: str, epoch: int) -> None:
        """Run the agent of ``run_id`` (claimed at ``epoch``) and wait for it."""
        log = self.home.logs_dir / "agents.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PLAIT_WORKER_PID": str(os.getpid())}
        args = ["agent", "--run-id", run_id, "--epoch", str(epoch)]
        with open(log, "ab") as out:
            agent = subprocess.Popen(
                [sys.executable, "-m", "plait", *args, "--worker", self.info.worker_id],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,  # a Ctrl-C of the worker's terminal is the worker's
            )
        with self._lock:
            self.agents[run_id] = agent
        try:
            code = agent.wait()
        finally:
            with self._lock:
                self.agents.pop(run_id, None)
        if code < 0:  # killed: its run is failed now, not when a scheduler next looks
            from plait.runtime.recovery import recover

            try:
                recover(self.store)
            except PlaitError as error:
                _log.warning("worker %s: %s", self.info.worker_id, error.message)
        _log.info("worker %s: run %s ended (agent exit %s)", self.info.worker_id, run_id, code)


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
