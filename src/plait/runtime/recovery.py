"""Runs whose agent died (kill -9, power loss): found, marked failed, their processes stopped."""

from __future__ import annotations

import os
import time

from plait.proc.leftovers import kill_leftovers
from plait.store.records import AGENT_LEASE_SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import Alive, RunStore

__all__ = ["STALE_AFTER_SECONDS", "agent_alive", "liveness", "recover"]

STALE_AFTER_SECONDS = AGENT_LEASE_SECONDS  # six missed heartbeats
_HOST = os.uname().nodename


def liveness(store: RunStore) -> Alive:
    """``agent_alive`` with leases judged against the store's time now."""
    now = store.now()

    def alive(pid: int | None, host: str | None, lease_expires_at: float | None) -> bool:
        return agent_alive(pid, host, lease_expires_at, now)

    return alive


def agent_alive(
    pid: int | None, host: str | None, lease_expires_at: float | None, now: float | None = None
) -> bool:
    """Whether the agent of a running run still lives: its process on this host, or an
    unexpired lease (against ``now``, the store's time) for an agent of another host."""
    moment = time.time() if now is None else now
    fresh = lease_expires_at is not None and moment < lease_expires_at
    if host == _HOST and pid is not None:
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return fresh
        # On this host the process itself is the truth: a stopped (SIGSTOP) or suspended agent
        # with a stale heartbeat is alive and will go on writing.
        return not _zombie(pid)
    return fresh


def _zombie(pid: int) -> bool:
    """An exited process that nobody has reaped yet still answers to kill(pid, 0)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X")


def recover(store: RunStore) -> list[str]:
    """Mark failed the runs whose agent is gone and kill the step processes they left; cancel
    the queued runs whose waiting ``plait start`` is gone (they would block their queue)."""
    alive = liveness(store)
    dead = store.recover_dead_runs(alive)
    if dead:
        kill_leftovers(dead)
    store.drop_abandoned_waits(alive)
    return dead
