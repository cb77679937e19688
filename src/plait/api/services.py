"""What every endpoint shares: the home, one store, its read-only views, and the upkeep the
server does on the side (marking dead agents' runs failed, reaping the agents it launched)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request

from plait.queue import Config, load_config
from plait.store import Home

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunBrowser, RunStore

__all__ = ["RECOVER_EVERY_SECONDS", "Services", "services_of"]

RECOVER_EVERY_SECONDS = 3.0


class Services:
    """The server's handle on the home folder: one store, shared by every request thread."""

    def __init__(self, home: Home) -> None:
        from plait.app import open_store

        self.home = home
        self.store: RunStore = open_store(home)
        self.browse: RunBrowser = self.store.browse()
        from plait.queue.webhooks import RateLimit

        rate = int(os.environ.get("PLAIT_WEBHOOK_RATE") or 60)
        self.webhook_calls = RateLimit(rate)  # runs a workflow's webhook starts a minute
        self.webhook_refusals = RateLimit(20)  # refused calls a client may make a minute
        self._lock = threading.Lock()
        self._last_recover = 0.0
        self._launched: set[int] = set()

    def close(self) -> None:
        self.store.close()

    def config(self) -> Config:
        return load_config(self.home.config_file)

    def child_env(self) -> Mapping[str, str]:
        """The environment of the processes the server starts: the same home as the server."""
        return {
            **os.environ,
            "PLAIT_HOME": str(self.home.root),
            "PLAIT_DAGS_DIR": str(self.home.dags_dir),
        }

    def agent_log(self, run_id: str, what: str) -> str:
        """Where a launched process writes what it prints (its own errors, before logging)."""
        folder = self.home.logs_dir / "server"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"{what}-{run_id}.log")

    def launch_agent(self, run_id: str) -> int:
        from plait.proc.launch import launch_agent

        pid = launch_agent(run_id, env=self.child_env(), log_path=self.agent_log(run_id, "agent"))
        with self._lock:
            self._launched.add(pid)
        return pid

    def launch_plait(self, args: list[str], run_id: str) -> int:
        from plait.proc.launch import launch_plait

        pid = launch_plait(args, env=self.child_env(), log_path=self.agent_log(run_id, args[0]))
        with self._lock:
            self._launched.add(pid)
        return pid

    def upkeep(self, *, force: bool = False) -> None:
        """At most every few seconds: mark failed the runs whose agent died, reap exited agents."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_recover < RECOVER_EVERY_SECONDS:
                return
            self._last_recover = now
        self._reap()
        from plait.runtime.recovery import recover

        recover(self.store)

    def _reap(self) -> None:
        with self._lock:
            launched = list(self._launched)
        for pid in launched:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done == pid:
                with self._lock:
                    self._launched.discard(pid)

    @property
    def static_dir(self) -> Path:
        return Path(__file__).with_name("static")


def services_of(request: Request) -> Services:
    """The ``Services`` of the app that serves ``request`` (a FastAPI dependency)."""
    found: Services = request.app.state.services
    return found
