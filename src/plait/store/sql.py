"""The logic of the store, once for every backend: each method of the contract as SQL over
a connection that the backend (``SQLiteStore``, ``PostgresStore``) opens and guards.

A backend gives: ``_transaction()`` (one transaction, its errors as ``StoreError``), ``_exec``
/ ``_exec_many`` (one statement on its own), ``_all`` / ``_one`` / ``_scalar`` (reads), and
``_now()`` (the time writes record).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager

from plait.errors import NotFoundError, RunStateError, StoreError
from plait.model import ChildRecord, RunRecord, RunStatus, StepRecord, StepStatus
from plait.store import queries as q
from plait.store.records import (
    AGENT_LEASE_SECONDS,
    AgentRef,
    Claim,
    QueueEntry,
    QueueState,
    Waiting,
    Webhook,
    WorkerInfo,
    WorkerSlots,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SQLStore", "run_filter"]


class SQLStore:
    """Runs, steps and child runs in a SQL database (see the contract, ``store.base``)."""

    _lock: threading.RLock
    backend: str
    where: str
    patience: float

    # ----------------------------------------------------------------- what a backend gives

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _exec(self, sql: str, params: Iterable[object] = ()) -> None:
        raise NotImplementedError

    def _exec_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        raise NotImplementedError

    def _all(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _one(self, sql: str, params: Iterable[object] = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, params: Iterable[object] = ()) -> Any:
        row = self._one(sql, params)
        return None if row is None else row[0]

    def _now(self) -> float:
        raise NotImplementedError

    def now(self) -> float:
        """The store's time now, in epoch seconds (see "Time" in ``plait.store.base``)."""
        return self._now()

    def _claim_lock(self, db: Any, queue: str) -> None:
        """Keep other claims of ``queue`` out until this transaction ends (SQLite: every
        write transaction does already)."""

    # ----------------------------------------------------------------- writes

    def create_run(self, run: RunRecord, steps: Iterable[StepRecord]) -> None:
        """Record a new run and its steps (all ``not_started``) in one transaction."""
        with self._transaction() as db:
            db.execute(
                q.INSERT_RUN,
                _run_row(run, str(run.status)),
            )
            db.executemany(q.INSERT_STEP, [_step_row(run.run_id, step) for step in steps])

    def create_runs(self, runs: Sequence[tuple[RunRecord, Sequence[StepRecord]]]) -> None:
        if not runs:
            return
        with self._transaction() as db:
            db.executemany(q.INSERT_RUN, [_run_row(run, str(run.status)) for run, _ in runs])
            db.executemany(
                q.INSERT_STEP,
                [_step_row(run.run_id, step) for run, steps in runs for step in steps],
            )

    def forget_not_started(self, run_id: str) -> bool:
        with self._transaction() as db:
            gone = db.execute(q.DELETE_NOT_STARTED, (run_id,)).fetchone()
            if gone is not None:
                db.execute(q.DELETE_STEPS, (run_id,))
        return gone is not None

    def update_step(self, run_id: str, step: StepRecord, epoch: int = 1) -> None:
        """Write the current state of one step (guarded by the run's epoch)."""
        self._exec(
            q.UPDATE_STEP,
            (*_step_values(step), int(step.tolerated), run_id, step.name, run_id, epoch),
        )

    def add_step(self, run_id: str, step: StepRecord, epoch: int = 1) -> None:
        """Record a step that was not known when the run was created (a handler)."""
        self._exec(q.UPSERT_STEP, (*_step_row(run_id, step), run_id, epoch))

    def record_attempt(self, run_id: str, step: StepRecord, epoch: int = 1) -> None:
        """Keep one finished attempt of a step with its own status, timing and logs."""
        self._exec(q.INSERT_ATTEMPT, (*_attempt_row(run_id, step), run_id, epoch))

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
        logs: Sequence[tuple[str, str | None, str | None]] = (),
    ) -> bool:
        row = (
            str(status),
            started_at,
            finished_at,
            None if outputs is None else json.dumps(outputs, ensure_ascii=False),
            error,
            (now := self._now()),
            now + AGENT_LEASE_SECONDS,
            run_id,
            epoch,
        )
        if not logs:
            self._exec(q.UPDATE_RUN_STATUS, row)
            return True
        with self._transaction() as db:
            if not db.execute(q.UPDATE_RUN_STATUS, row).rowcount:
                return False
            db.executemany(
                q.UPDATE_STEP_LOGS, [(out, err, run_id, name) for name, out, err in logs]
            )
        return True

    def heartbeat(self, runs: Iterable[tuple[str, int]], now: float | None = None) -> set[str]:
        beat = self._now() if now is None else now
        expires = beat + AGENT_LEASE_SECONDS
        lost: set[str] = set()
        with self._transaction() as db:
            for run_id, epoch in runs:
                if not db.execute(q.HEARTBEAT, (beat, expires, run_id, epoch)).rowcount:
                    lost.add(run_id)
        return lost

    # ----------------------------------------------------------------- shipped logs

    SHIPS_LOGS = False  # whether agents copy step logs into the store (PostgreSQL)

    def ship_log(self, run_id: str, epoch: int, chunks: list[tuple[str, int, bytes]]) -> bool:
        with self._transaction() as db:
            if db.execute(q.RUN_AT_EPOCH, (run_id, epoch)).fetchone() is None:
                return False
            db.executemany(
                q.INSERT_LOG_CHUNK, [(run_id, path, start, data) for path, start, data in chunks]
            )
        return True

    def log_size(self, run_id: str, path: str) -> int:
        return int(self._scalar(q.SELECT_LOG_SIZE, (run_id, path)) or 0)

    def read_log(self, run_id: str, path: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        pieces: list[bytes] = []
        at = start
        for chunk_start, data in self._all(q.SELECT_LOG_CHUNKS, (run_id, path, end, start)):
            data = bytes(data)
            if chunk_start > at:  # a piece never shipped (cut by a kill): the reader sees a gap
                break
            pieces.append(data[at - chunk_start : end - chunk_start])
            at = chunk_start + len(data)
            if at >= end:
                break
        return b"".join(pieces)

    def definition(self, run_id: str) -> dict[str, str] | None:
        """The workflow files' texts stored with the run's root run, or None."""
        row = self._one(
            q.SELECT_DEFINITION,
            (self._scalar("SELECT root_run_id FROM runs WHERE id = ?", (run_id,)) or run_id,),
        )
        if row is None or not row[0]:
            return None
        files = json.loads(row[0])
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else None

    # ----------------------------------------------------------------- reads

    def get_run(self, run_id: str, *, children_limit: int | None = None) -> RunRecord:
        """A run with its steps and direct children; NotFoundError if there is none."""
        with self._lock:
            row = self._one(q.SELECT_RUN + " WHERE id = ?", (run_id,))
            if row is None:
                raise NotFoundError(f"no run with id {run_id}")
            run = _run_from_row(row)
            run.steps = [_step_from_row(r) for r in self._all(q.SELECT_STEPS, (run_id,))]
            if children_limit == 0:
                pass  # the run alone (its children are neither read nor counted)
            elif children_limit is None:
                run.children = self.children(run_id)
                for child in run.children:
                    per_step = run.child_counts.setdefault(child.step or "", {})
                    per_step[str(child.status)] = per_step.get(str(child.status), 0) + 1
            else:
                run.child_counts = self.child_counts(run_id)
                run.children = self._some_children(run_id, run.child_counts, children_limit)
        return run

    def child_counts(self, run_id: str) -> dict[str, dict[str, int]]:
        """How many direct children each step of a run has, by status (one index read)."""
        counts: dict[str, dict[str, int]] = {}
        for step, status, count in self._all(q.COUNT_CHILDREN, (run_id,)):
            counts.setdefault(str(step or ""), {})[str(status)] = int(count)
        return counts

    def _some_children(
        self, run_id: str, counts: dict[str, dict[str, int]], limit: int
    ) -> list[ChildRecord]:
        """Up to ``limit`` children of each step: those that did not succeed first, then the
        first that did, by item; each an index range read (``runs_by_parent_status``)."""
        rows: list[tuple[Any, ...]] = []
        for step, by_status in counts.items():
            others = [status for status in by_status if status != "succeeded"]
            mine: list[tuple[Any, ...]] = []
            if others:
                marks = ",".join("?" * len(others))
                mine = self._all(
                    f"{q.CHILD_COLUMNS} AND parent_step = ? AND status IN ({marks}) "
                    "ORDER BY COALESCE(item_index, -1), created_at LIMIT ?",
                    (run_id, step, *others, limit),
                )
            if len(mine) < limit and "succeeded" in by_status:
                mine += self._all(
                    f"{q.CHILD_COLUMNS} AND parent_step = ? AND status = 'succeeded' "
                    "ORDER BY COALESCE(item_index, -1), created_at LIMIT ?",
                    (run_id, step, limit - len(mine)),
                )
            rows += sorted(mine, key=lambda r: -1 if r[4] is None else r[4])
        return [_child_from_row(r) for r in rows]

    def find_run(self, run_id: str) -> RunRecord | None:
        try:
            return self.get_run(run_id)
        except NotFoundError:
            return None

    def children(self, run_id: str, limit: int | None = None) -> list[ChildRecord]:
        """The direct children of a run; with ``limit``, at most that many of each step, the
        ones that did not succeed first."""
        if limit is not None:
            return self._some_children(run_id, self.child_counts(run_id), limit)
        return [_child_from_row(r) for r in self._all(q.SELECT_CHILDREN, (run_id,))]

    def attempts(self, run_id: str, step: str) -> list[StepRecord]:
        rows = self._all(q.SELECT_ATTEMPTS, (run_id, step))
        return [
            StepRecord(
                name=step,
                position=0,
                attempt=r[0],
                status=StepStatus(r[1]),
                started_at=r[2],
                finished_at=r[3],
                exit_code=r[4],
                stdout_path=r[5],
                stderr_path=r[6],
                error=r[7],
            )
            for r in rows
        ]

    def list_runs(
        self,
        name: str | None = None,
        *,
        statuses: Iterable[RunStatus] = (),
        limit: int = 50,
        roots_only: bool = False,
    ) -> list[RunRecord]:
        """Runs, newest first, without their steps."""
        where, args = run_filter(name=name, statuses=statuses, roots_only=roots_only)
        sql = f"{q.SELECT_RUN}{where} ORDER BY created_at DESC, id DESC LIMIT ?"
        rows = self._all(sql, (*args, limit))
        return [_run_from_row(r) for r in rows]

    def request_stop(self, run_id: str) -> int:
        """Ask the agent of a run to stop it and its children; returns how many runs."""
        with self._transaction() as db:
            count = int(db.execute(q.REQUEST_STOP, (run_id,)).rowcount)
            if count and self.STOP_NOTIFY is not None:
                db.execute(self.STOP_NOTIFY)  # sent when the flags are committed
            return count

    STOP_NOTIFY: str | None = None  # what wakes the agents waiting for a stop request

    def wait_for_stop_request(self, timeout: float) -> None:
        time.sleep(timeout)

    def stop(self, run_id: str, reason: str = "stopped") -> str:
        """Stop a run however far it got: a queued run leaves its queue and a waiting one
        ends (``cancelled`` at once); a running one is asked to stop, with its children.
        Returns what was done."""
        if self.dequeue(run_id, reason):
            return "dequeued"
        if self.cancel_waiting(run_id, reason):
            return "cancelled"
        return "stopping" if self.request_stop(run_id) else "not active"

    def decide_waiting_step(
        self,
        run_id: str,
        step: str,
        *,
        status: StepStatus,
        output: str | None,
        output_var: str | None,
        error: str | None,
    ) -> bool:
        """A person approved (or rejected) a waiting step: its final status, in one
        transaction; False when the step does not wait (any more)."""
        with self._transaction() as db:
            changed = db.execute(
                q.DECIDE_WAITING_STEP,
                (str(status), output, output_var, error, self._now(), run_id, step),
            ).rowcount
        return bool(changed == 1)

    def cancel_waiting(self, run_id: str, reason: str = "stopped") -> bool:
        """Stop a run that waits for a person (no agent runs it): ``cancelled`` at once."""
        with self._transaction() as db:
            return bool(
                db.execute(q.CANCEL_WAITING_RUN, (self._now(), reason, run_id)).rowcount == 1
            )

    def clear_stop_request(self, run_id: str) -> None:
        with self._transaction() as db:
            db.execute(q.CLEAR_STOP_REQUEST, (run_id,))

    def stop_requests(self) -> set[str]:
        return {row[0] for row in self._all(q.SELECT_STOP_REQUESTS)}

    def recover_dead_runs(
        self, alive: Callable[[int | None, str | None, float | None], bool]
    ) -> list[str]:
        """Mark ``failed`` every running run whose agent is gone; returns their ids.

        ``alive(pid, host, lease_expires_at)`` decides whether a run's agent still lives.
        """
        rows = self._all(q.SELECT_ACTIVE)
        now = self._now()
        this_host = os.uname().nodename
        live_workers = (
            {str(r[0]) for r in self._all(q.SELECT_LIVE_WORKERS, (now - AGENT_LEASE_SECONDS,))}
            if any(r[6] is not None for r in rows)
            else set()
        )

        def gone(
            pid: int | None, host: str | None, expires: float | None, worker: str | None
        ) -> bool:
            if pid is None:  # a claim whose agent never registered goes back to its queue
                return False
            if worker is not None and expires is not None and expires < now:
                # A worker's run whose lease expired: the lease is the truth, wherever its
                # agent is. Its worker gone too: lost. Its worker still there: the agent is
                # gone (or hung) once the process is, or a lease later; until then the
                # worker may be going silent too (a network split), and is lost then.
                if worker not in live_workers or expires < now - AGENT_LEASE_SECONDS:
                    return True
                if host != this_host:
                    return False
            return not alive(pid, host, expires)

        dead = [row for row in rows if gone(row[1], row[2], row[3], row[6])]
        if not dead:
            return []
        marked: list[str] = []
        with self._transaction() as db:
            for run_id, pid, _, _, _, epoch, worker, retries, _parent in dead:
                lost = worker is not None and worker not in live_workers
                reason = "worker lost" if lost else "agent process exited"
                if lost and retries:  # a run that came from a queue goes back to it
                    again = f"worker lost; queued again ({int(retries) - 1} more times)"
                    if db.execute(q.REQUEUE_LOST_RUN, (now, again, run_id, epoch)).rowcount:
                        db.execute(q.MARK_DEAD_STEPS, (now, "worker lost", run_id))
                        marked.append(run_id)
                        continue
                # only if nobody took the run over since it was judged
                if db.execute(q.MARK_DEAD_RUN, (now, reason, run_id, pid, epoch)).rowcount:
                    db.execute(q.MARK_DEAD_STEPS, (now, reason, run_id))
                    marked.append(run_id)
        return marked

    def resume_child(self, run_id: str, agent: AgentRef) -> tuple[int, int]:
        """A finished child run starts a new attempt within its parent's retry (or its item's
        retry): its start is the new attempt's, so its duration is that attempt's."""
        now = self._now()
        with self._transaction() as db:
            row = db.execute(
                q.RESUME_CHILD, (*_holder(agent), now, now + AGENT_LEASE_SECONDS, now, run_id)
            ).fetchone()
        if row is None:
            raise RunStateError(f"run {run_id} is still active")
        return int(row[0]), int(row[1])

    def begin_retry(
        self, run_id: str, agent: AgentRef, *, queue: str, max_active_runs: int
    ) -> tuple[int, int]:
        """Put a finished run back in its queue for a new attempt: returns (epoch, attempt)."""
        now = self._now()
        with self._transaction() as db:
            row = db.execute(
                q.BEGIN_RETRY,
                (
                    *_holder(agent),
                    now,
                    now + AGENT_LEASE_SECONDS,
                    now,
                    queue,
                    max_active_runs,
                    run_id,
                ),
            ).fetchone()
        if row is None:
            raise RunStateError(f"run {run_id} is still active; stop it before retrying")
        return int(row[0]), int(row[1])

    def requeue_finished(self, run_id: str, *, queue: str, max_active_runs: int) -> int | None:
        """Put a finished run back in ``queue`` for a new attempt that a dispatcher starts:
        the attempt, or None when the run is queued or running."""
        with self._transaction() as db:
            row = db.execute(
                q.REQUEUE_FINISHED, (self._now(), queue, max_active_runs, run_id)
            ).fetchone()
        return None if row is None else int(row[0])

    # ----------------------------------------------------------------- started runs

    def link_started(self, run_id: str, by_run_id: str, by_step: str) -> None:
        self._exec(q.INSERT_RUN_LINK, (run_id, by_run_id, by_step))

    def started_by(self, run_id: str) -> tuple[str, str] | None:
        row = self._one("SELECT by_run_id, by_step FROM run_links WHERE run_id = ?", (run_id,))
        return None if row is None else (str(row[0]), str(row[1]))

    def started_runs(self, run_id: str) -> list[tuple[str, str]]:
        rows = self._all(
            "SELECT run_id, by_step FROM run_links WHERE by_run_id = ? ORDER BY run_id", (run_id,)
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def started_in_tree(self, run_id: str) -> list[str]:
        return [str(r[0]) for r in self._all(q.SELECT_STARTED_IN_TREE, (run_id,))]

    # ----------------------------------------------------------------- pausing

    SKIPS_KEPT = 2000

    def set_paused(self, kind: str, name: str, paused: bool) -> bool:
        with self._transaction() as db:
            if paused:
                row = db.execute(q.INSERT_PAUSED, (kind, name, self._now())).fetchone()
            else:
                row = db.execute(q.DELETE_PAUSED, (kind, name)).fetchone()
        return row is not None

    def paused(self, kind: str) -> dict[str, float]:
        rows = self._all("SELECT name, paused_at FROM paused WHERE kind = ?", (kind,))
        return {str(r[0]): float(r[1]) for r in rows}

    def is_paused(self, kind: str, name: str) -> bool:
        return (
            self._one("SELECT 1 FROM paused WHERE kind = ? AND name = ?", (kind, name)) is not None
        )

    def record_skip(self, workflow: str, fire_at: float, reason: str) -> None:
        with self._transaction() as db:
            db.execute(q.INSERT_SKIP, (workflow, fire_at, reason, self._now()))
            db.execute(q.PRUNE_SKIPS, (workflow, workflow, self.SKIPS_KEPT))

    def skips(self, workflow: str, limit: int = 20) -> list[tuple[float, str]]:
        rows = self._all(q.SELECT_SKIPS, (workflow, limit))
        return [(float(r[0]), str(r[1])) for r in rows]

    def all_skips(self, limit: int = 20) -> dict[str, list[tuple[float, str]]]:
        found: dict[str, list[tuple[float, str]]] = {}
        for workflow, fire_at, reason in self._all(q.SELECT_ALL_SKIPS, (limit,)):
            found.setdefault(str(workflow), []).append((float(fire_at), str(reason)))
        return found

    # ----------------------------------------------------------------- webhooks

    def set_webhook(self, workflow: str, token_hash: str) -> None:
        self._exec(q.UPSERT_WEBHOOK, (workflow, token_hash, self._now()))

    def webhook(self, workflow: str) -> Webhook | None:
        row = self._one(q.SELECT_WEBHOOKS + " WHERE workflow = ?", (workflow,))
        return None if row is None else Webhook(*row)

    def webhooks(self) -> list[Webhook]:
        return [Webhook(*row) for row in self._all(q.SELECT_WEBHOOKS + " ORDER BY workflow")]

    def revoke_webhook(self, workflow: str) -> bool:
        with self._transaction() as db:
            return db.execute(q.DELETE_WEBHOOK, (workflow,)).fetchone() is not None

    def webhook_used(self, workflow: str) -> None:
        self._exec(q.WEBHOOK_USED, (self._now(), workflow))

    # ----------------------------------------------------------------- queues

    def enqueue(
        self,
        run: RunRecord,
        steps: Iterable[StepRecord],
        *,
        queue: str,
        max_active_runs: int,
        dispatch: str,
        selector: dict[str, str] | None = None,
        lost_retries: int = 0,
        priority: int = 0,
        trace_parent: str | None = None,
    ) -> None:
        """Record a new root run as ``queued`` (with its steps, all ``not_started``)."""
        now = self._now()
        with self._transaction() as db:
            # (an insert that does nothing when another process made the run a moment before:
            # the same id enqueued twice at once, from two servers, is one run either way)
            if not db.execute(q.INSERT_RUN_ONCE, _run_row(run, "queued")).rowcount:
                raise RunStateError(f"a run with id {run.run_id} already exists")
            db.executemany(q.INSERT_STEP, [_step_row(run.run_id, step) for step in steps])
            db.execute(
                q.ENQUEUE_RUN,
                (
                    queue,
                    max_active_runs,
                    dispatch,
                    now,
                    json.dumps(selector, sort_keys=True) if selector else None,
                    lost_retries,
                    priority,
                    trace_parent,
                    run.run_id,
                ),
            )

    def trace_parent(self, run_id: str) -> str | None:
        value = self._scalar("SELECT trace_parent FROM runs WHERE id = ?", (run_id,))
        return None if value is None else str(value)

    def claim(self, queue: str, decide: Callable[[QueueState], Claim]) -> Claim:
        """Read ``queue``'s state, let ``decide`` (the admission policy) choose, and claim the
        runs it chose (``queued`` → ``running``), all in one transaction."""
        now = self._now()
        with self._transaction() as db:
            self._claim_lock(db, queue)
            running = [int(r[1]) for r in db.execute(q.SELECT_QUEUE_RUNNING, (queue,))]
            waiting = [
                Waiting(
                    str(r[0]),
                    str(r[1]),
                    int(r[2]),
                    str(r[3]),
                    _labels(r[4]),
                    int(r[5]),
                    r[6] or 0.0,
                )
                for r in db.execute(q.SELECT_QUEUE_WAITING, (queue,))
            ]
            running_of = {
                name: int(db.execute(q.COUNT_WORKFLOW_RUNNING, (name,)).fetchone()[0])
                for name in {w.name for w in waiting}
            }
            workers = self._worker_slots(db, now) if self.HAS_WORKERS else None
            paused = db.execute(q.QUEUE_PAUSED, (queue,)).fetchone() is not None
            state = QueueState(queue, running, waiting, running_of, workers, paused, now)
            claim = decide(state)
            claim.claimed = [
                run_id
                for run_id in claim.claimed
                if db.execute(q.CLAIM_RUN, (now, now, now + AGENT_LEASE_SECONDS, run_id)).rowcount
                == 1
            ]
            claim.placed = {r: w for r, w in claim.placed.items() if r in claim.claimed}
            for run_id, worker in claim.placed.items():
                (epoch,) = db.execute(q.PLACE_RUN, (worker, worker, run_id)).fetchone()
                self._send_to_worker(db, worker, run_id, int(epoch))
        return claim

    # ----------------------------------------------------------------- workers

    HAS_WORKERS = False  # whether runs can go to workers on other machines (PostgreSQL)

    def _clean_transport(self, db: Any, live_after: float) -> None:
        """Drop the hand-overs to workers that nobody will take or finish (see PostgreSQL)."""

    def _worker_slots(self, db: Any, now: float) -> list[WorkerSlots]:
        busy = dict(db.execute(q.COUNT_WORKER_RUNS).fetchall())
        return [
            WorkerSlots(str(r[0]), _labels(r[1]) or {}, int(r[2]) - int(busy.get(r[0], 0)))
            for r in db.execute(q.SELECT_LIVE_WORKERS, (now - AGENT_LEASE_SECONDS,)).fetchall()
        ]

    def _send_to_worker(self, db: Any, worker: str, run_id: str, epoch: int) -> None:
        """Hand a placed run to its worker, in the claim's transaction (PostgreSQL)."""
        raise NotImplementedError

    def serve_worker(
        self,
        worker_id: str,
        slots: int,
        handle: Callable[[str, int], None],
        stopping: threading.Event,
    ) -> None:
        """Be the transport end of worker ``worker_id``: call ``handle(run_id, epoch)`` (in a
        thread of its own, ``slots`` at once) for each run sent to it, until ``stopping``."""
        raise StoreError(f"{self.where}: workers need the PostgreSQL store (PLAIT_DATABASE_URL)")

    def register_worker(self, worker: WorkerInfo) -> None:
        """Record a worker (again, after a restart): there now, with its labels and slots."""
        now = self._now()
        self._exec(
            q.UPSERT_WORKER,
            (
                worker.worker_id,
                worker.host,
                worker.pid,
                json.dumps(worker.labels, sort_keys=True),
                worker.slots,
                worker.version,
                now,
                now,
            ),
        )

    def beat_worker(self, worker_id: str, pid: int) -> bool:
        """A worker is still there; False when its record is gone or another process of the
        same id took it over."""
        with self._transaction() as db:
            return bool(db.execute(q.BEAT_WORKER, (self._now(), worker_id, pid)).rowcount)

    def stop_worker(self, worker_id: str) -> None:
        """A worker takes no more runs (it is stopping); those in hand go on."""
        self._exec(q.STOP_WORKER, (worker_id,))

    def remove_worker(self, worker_id: str, pid: int) -> None:
        self._exec(q.DELETE_WORKER, (worker_id, pid))

    def hold_writes(self, timeout: float) -> None:
        # every call goes through the lock: whoever holds it for good is the last to write
        self._lock.acquire(timeout=timeout)

    def workers(self) -> list[WorkerInfo]:
        """Every registered worker with the root runs in its hands, live or not."""
        held: dict[str, list[str]] = {}
        for worker, run_id in self._all(q.SELECT_WORKER_RUNS):
            held.setdefault(str(worker), []).append(str(run_id))
        return [
            WorkerInfo(
                worker_id=str(r[0]),
                host=str(r[1]),
                pid=int(r[2]),
                labels=_labels(r[3]) or {},
                slots=int(r[4]),
                version=str(r[5]),
                started_at=float(r[6]),
                heartbeat_at=float(r[7]),
                stopping=bool(r[8]),
                runs=held.get(str(r[0]), []),
            )
            for r in self._all(q.SELECT_WORKERS)
        ]

    def mark_started(
        self,
        run_id: str,
        agent: AgentRef,
        params: list[list[str | None]],
        epoch: int | None = None,
    ) -> int | None:
        """The agent of a claimed run takes it over: returns the run's epoch, or None when
        another agent already has it (or, with ``epoch``, when the claim has moved on)."""
        now = self._now()
        values = (*_holder(agent), now, now, now + AGENT_LEASE_SECONDS, json.dumps(params))
        with self._transaction() as db:
            if epoch is None:
                row = db.execute(q.MARK_STARTED, (*values, run_id, agent.owner)).fetchone()
            else:
                row = db.execute(
                    q.MARK_STARTED_AT_EPOCH, (*values, run_id, agent.owner, epoch)
                ).fetchone()
        return None if row is None else int(row[0])

    def set_claim_agent(self, run_id: str, agent: AgentRef) -> None:
        """The agent launched for a claimed run, so that its death is noticed even before
        the agent has taken the run over."""
        with self._transaction() as db:
            db.execute(q.SET_CLAIM_PID, (*_holder(agent), run_id))

    def requeue_stale_claims(self, older_than: float) -> int:
        """Claimed runs whose agent never started (the launcher died): back in the queue."""
        with self._transaction() as db:
            stale = int(db.execute(q.REQUEUE_STALE_CLAIMS, (older_than,)).rowcount)
            if self.HAS_WORKERS:
                live_after = self._now() - AGENT_LEASE_SECONDS
                stale += int(db.execute(q.REQUEUE_ORPHAN_PLACEMENTS, (live_after,)).rowcount)
                self._clean_transport(db, live_after)
            return stale

    def claimed_unstarted(self) -> list[str]:
        return [row[0] for row in self._all(q.SELECT_CLAIMED_UNSTARTED)]

    def queues_with_waiting(self) -> list[str]:
        return [row[0] for row in self._all(q.SELECT_QUEUES_WITH_WAITING)]

    def dequeue(self, run_id: str, reason: str = "dequeued") -> bool:
        with self._transaction() as db:
            return bool(db.execute(q.DEQUEUE_RUN, (self._now(), reason, run_id)).rowcount == 1)

    def drop_abandoned_waits(
        self, alive: Callable[[int | None, str | None, float | None], bool]
    ) -> list[str]:
        """Foreground runs still waiting in a queue whose process is gone: cancelled."""
        rows = self._all(q.SELECT_WAITING_SELF)
        gone = [r[0] for r in rows if r[1] is not None and not alive(r[1], r[2], None)]
        for run_id in gone:
            self.dequeue(run_id, "the process waiting for this run exited")
        return gone

    def queue_entries(self) -> list[QueueEntry]:
        rows = self._all(q.SELECT_QUEUES)
        return [
            QueueEntry(
                run_id=r[0],
                name=r[1],
                status=RunStatus(str(r[2])),
                queue=r[3] or r[1],
                enqueued_at=r[4],
                started_at=r[5],
                max_active_runs=int(r[6]),
                dispatch=str(r[7]),
                selector=_labels(r[9]),
                worker=r[10],
                priority=int(r[11]),
            )
            for r in rows
        ]

    def worker_slots(self) -> list[WorkerSlots] | None:
        """The live workers and their free slots now; None where there are no workers."""
        if not self.HAS_WORKERS:
            return None
        with self._transaction() as db:
            return self._worker_slots(db, self._now())

    # ----------------------------------------------------------------- scheduler

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> int | None:
        """Take or renew the lease ``name``; its epoch, or None while another owner holds it."""
        with self._transaction() as db:
            row = db.execute(q.ACQUIRE_LEASE, (name, owner, now + ttl, now)).fetchone()
        return None if row is None else int(row[0])

    def steal_lease(
        self, name: str, dead_owner: str, owner: str, ttl: float, now: float
    ) -> int | None:
        """Take the lease from an owner known to be dead (its epoch, or None if it moved)."""
        with self._transaction() as db:
            row = db.execute(q.STEAL_LEASE, (owner, now + ttl, name, dead_owner)).fetchone()
        return None if row is None else int(row[0])

    def release_lease(self, name: str, owner: str) -> None:
        with self._transaction() as db:
            db.execute(q.RELEASE_LEASE, (name, owner))

    def lease(self, name: str) -> tuple[str, int, float] | None:
        row = self._one(q.SELECT_LEASE, (name,))
        return None if row is None else (str(row[0]), int(row[1]), float(row[2]))

    def schedule_mark(self, workflow: str) -> float | None:
        row = self._one(q.SELECT_MARK, (workflow,))
        return None if row is None else float(row[0])

    def set_schedule_mark(self, workflow: str, tick: float) -> None:
        with self._transaction() as db:
            db.execute(q.UPSERT_MARK, (workflow, tick))

    def run_exists(self, run_id: str) -> bool:
        return self._one(q.SELECT_RUN_EXISTS, (run_id,)) is not None

    def active_count(self, name: str) -> int:
        return int(self._scalar(q.COUNT_ACTIVE_OF, (name,)))

    def succeeded_since(self, name: str, since: float) -> bool:
        return self._one(q.SELECT_SUCCEEDED_SINCE, (name, since)) is not None

    def queued_scheduled(self, name: str) -> list[str]:
        return [r[0] for r in self._all(q.SELECT_QUEUED_SCHEDULED_OF, (name,))]

    def expired_runs(self, name: str, older_than: float, keep: int) -> list[str]:
        """Finished root runs of ``name`` created before ``older_than`` or beyond the newest
        ``keep``; never an active one."""
        rows = self._all(q.SELECT_EXPIRED_ROOTS, (name, older_than, name, keep))
        return [r[0] for r in rows]

    def delete_run_tree(self, run_id: str) -> list[str]:
        """Delete a run and all its descendants in one transaction; returns their log dirs."""
        with self._transaction() as db:
            dirs = [str(r[0]) for r in db.execute(q.SELECT_TREE_LOG_DIRS, (run_id,)) if r[0]]
            for statement in q.DELETE_TREE:
                db.execute(statement, (run_id,))
        return dirs

    def latest_run(self, name: str) -> RunRecord | None:
        runs = self.list_runs(name, limit=1, roots_only=True)
        return self.get_run(runs[0].run_id) if runs else None


# --------------------------------------------------------------------- rows


def run_filter(
    *,
    name: str | None = None,
    statuses: Iterable[RunStatus] = (),
    since: float | None = None,
    until: float | None = None,
    roots_only: bool = False,
) -> tuple[str, list[object]]:
    """The WHERE clause (with its leading space, or empty) and its arguments for a run list."""
    clauses: list[str] = []
    args: list[object] = []
    if name is not None:
        clauses.append("name = ?")
        args.append(name)
    wanted = [str(s) for s in statuses]
    if wanted:
        clauses.append(f"status IN ({','.join('?' * len(wanted))})")
        args.extend(wanted)
    if since is not None:
        clauses.append("created_at >= ?")
        args.append(since)
    if until is not None:
        clauses.append("created_at < ?")
        args.append(until)
    if roots_only:
        clauses.append("parent_run_id IS NULL")
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), args


def _run_row(run: RunRecord, status: str) -> tuple[object, ...]:
    """The values of ``INSERT_RUN`` for a new run."""
    return (
        run.run_id,
        run.name,
        run.source,
        status,
        json.dumps(run.params),
        run.created_at or time.time(),
        run.started_at,
        run.parent_run_id,
        run.parent_step,
        run.root_run_id or run.run_id,
        run.item_index,
        run.item,
        run.attempt,
        run.depth,
        run.pid,
        run.host if run.pid else None,
        run.owner if run.pid else None,
        run.heartbeat_at,
        None if run.heartbeat_at is None else run.heartbeat_at + AGENT_LEASE_SECONDS,
        run.log_dir,
        None if run.definition is None else json.dumps(run.definition, ensure_ascii=False),
    )


def _holder(agent: AgentRef) -> tuple[object, object, object]:
    """The (pid, host, owner) columns of a run's agent."""
    return agent.pid, agent.host, agent.owner


def _attempt_row(run_id: str, step: StepRecord) -> tuple[object, ...]:
    return (
        run_id,
        step.name,
        step.attempt,
        str(step.status),
        step.started_at,
        step.finished_at,
        step.exit_code,
        step.stdout_path,
        step.stderr_path,
        step.error,
    )


def _step_values(step: StepRecord) -> tuple[object, ...]:
    return (
        str(step.status),
        step.started_at,
        step.finished_at,
        step.exit_code,
        step.output,
        step.output_var,
        step.stdout_path,
        step.stderr_path,
        step.attempt,
        step.error,
    )


def _step_row(run_id: str, step: StepRecord) -> tuple[object, ...]:
    return (
        run_id,
        step.name,
        step.position,
        *_step_values(step),
        int(step.handler),
        int(step.tolerated),
    )


def _step_from_row(r: tuple[object, ...]) -> StepRecord:
    return StepRecord(
        name=str(r[0]),
        position=int(r[1]),  # type: ignore[call-overload]
        status=StepStatus(str(r[2])),
        started_at=r[3],  # type: ignore[arg-type]
        finished_at=r[4],  # type: ignore[arg-type]
        exit_code=r[5],  # type: ignore[arg-type]
        output=r[6],  # type: ignore[arg-type]
        output_var=r[7],  # type: ignore[arg-type]
        stdout_path=r[8],  # type: ignore[arg-type]
        stderr_path=r[9],  # type: ignore[arg-type]
        attempt=int(r[10]),  # type: ignore[call-overload]
        error=r[11],  # type: ignore[arg-type]
        handler=bool(r[12]),
        tolerated=bool(r[13]),
    )


def _child_from_row(r: tuple[Any, ...]) -> ChildRecord:
    return ChildRecord(
        run_id=r[0],
        name=r[1],
        status=RunStatus(r[2]),
        step=r[3],
        item_index=r[4],
        item=r[5],
        started_at=r[6],
        finished_at=r[7],
        error=r[8],
    )


def _run_from_row(r: tuple[object, ...]) -> RunRecord:
    return RunRecord(
        run_id=str(r[0]),
        name=str(r[1]),
        source=r[2],  # type: ignore[arg-type]
        status=RunStatus(str(r[3])),
        params=json.loads(str(r[4])),
        outputs=json.loads(str(r[5])),
        error=r[6],  # type: ignore[arg-type]
        created_at=float(r[7]),  # type: ignore[arg-type]
        started_at=r[8],  # type: ignore[arg-type]
        finished_at=r[9],  # type: ignore[arg-type]
        parent_run_id=r[10],  # type: ignore[arg-type]
        parent_step=r[11],  # type: ignore[arg-type]
        root_run_id=r[12],  # type: ignore[arg-type]
        item_index=r[13],  # type: ignore[arg-type]
        item=r[14],  # type: ignore[arg-type]
        attempt=int(r[15]),  # type: ignore[call-overload]
        depth=int(r[16]),  # type: ignore[call-overload]
        pid=r[17],  # type: ignore[arg-type]
        heartbeat_at=r[18],  # type: ignore[arg-type]
        log_dir=r[19],  # type: ignore[arg-type]
        host=r[20],  # type: ignore[arg-type]
        owner=r[21],  # type: ignore[arg-type]
        worker=r[22],  # type: ignore[arg-type]
    )


def _labels(text: object) -> dict[str, str] | None:
    """A run's selector or a worker's labels, as stored (JSON), or None."""
    if not text:
        return None
    value = json.loads(str(text))
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None
