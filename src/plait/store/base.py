"""The store as the layers above it see it: what any store (SQLite now, PostgreSQL for
several machines later) must offer. Layers type against ``RunStore``; only ``app`` and the
commands that open a home pick the implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from plait.model import ChildRecord, RunRecord, RunStatus, StepRecord, StepStatus

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.sqlite import Claim, QueueEntry

__all__ = ["RunStore"]


class RunStore(Protocol):
    """Runs, steps, child runs, queue slots, leases and schedule marks."""

    def close(self) -> None: ...

    def create_run(self, run: RunRecord, steps: Iterable[StepRecord]) -> None: ...

    def update_step(self, run_id: str, step: StepRecord, epoch: int = 1) -> None: ...

    def add_step(self, run_id: str, step: StepRecord) -> None: ...

    def record_attempt(self, run_id: str, step: StepRecord) -> None: ...

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        epoch: int = 1,
        started_at: float | None = None,
        finished_at: float | None = None,
        outputs: dict[str, str] | None = None,
        error: str | None = None,
    ) -> None: ...

    def heartbeat(self, run_ids: Iterable[str], now: float | None = None) -> None: ...

    def get_run(self, run_id: str) -> RunRecord: ...

    def find_run(self, run_id: str) -> RunRecord | None: ...

    def children(self, run_id: str) -> list[ChildRecord]: ...

    def attempts(self, run_id: str, step: str) -> list[StepRecord]: ...

    def list_runs(
        self,
        name: str | None = None,
        *,
        statuses: Iterable[RunStatus] = (),
        limit: int = 50,
        roots_only: bool = False,
    ) -> list[RunRecord]: ...

    def request_stop(self, run_id: str) -> int: ...

    def stop(self, run_id: str, reason: str = "stopped") -> str: ...

    def clear_stop_request(self, run_id: str) -> None: ...

    def decide_waiting_step(
        self,
        run_id: str,
        step: str,
        *,
        status: StepStatus,
        output: str | None,
        output_var: str | None,
        error: str | None,
    ) -> bool: ...

    def cancel_waiting(self, run_id: str, reason: str = "stopped") -> bool: ...

    def stop_requests(self) -> set[str]: ...

    def recover_dead_runs(
        self, alive: Callable[[int | None, str | None, float | None], bool]
    ) -> list[str]: ...

    def resume_child(self, run_id: str, pid: int) -> tuple[int, int]: ...

    def begin_retry(
        self, run_id: str, pid: int, *, queue: str, max_active_runs: int
    ) -> tuple[int, int]: ...

    def enqueue(
        self,
        run: RunRecord,
        steps: Iterable[StepRecord],
        *,
        queue: str,
        max_active_runs: int,
        dispatch: str,
    ) -> None: ...

    def claim(self, queue: str, capacity: int | None, only: str | None = None) -> Claim: ...

    def mark_started(self, run_id: str, pid: int, params: list[list[str | None]]) -> int | None: ...

    def set_claim_pid(self, run_id: str, pid: int) -> None: ...

    def requeue_stale_claims(self, older_than: float) -> int: ...

    def claimed_unstarted(self) -> list[str]: ...

    def queues_with_waiting(self) -> list[str]: ...

    def dequeue(self, run_id: str, reason: str = "dequeued") -> bool: ...

    def drop_abandoned_waits(
        self, alive: Callable[[int | None, str | None, float | None], bool]
    ) -> list[str]: ...

    def queue_entries(self) -> list[QueueEntry]: ...

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> int | None: ...

    def steal_lease(
        self, name: str, dead_owner: str, owner: str, ttl: float, now: float
    ) -> int | None: ...

    def release_lease(self, name: str, owner: str) -> None: ...

    def lease(self, name: str) -> tuple[str, int, float] | None: ...

    def schedule_mark(self, workflow: str) -> float | None: ...

    def set_schedule_mark(self, workflow: str, tick: float) -> None: ...

    def run_exists(self, run_id: str) -> bool: ...

    def active_count(self, name: str) -> int: ...

    def succeeded_since(self, name: str, since: float) -> bool: ...

    def queued_scheduled(self, name: str) -> list[str]: ...

    def expired_runs(self, name: str, older_than: float, keep: int) -> list[str]: ...

    def delete_run_tree(self, run_id: str) -> list[str]: ...

    def latest_run(self, name: str) -> RunRecord | None: ...
