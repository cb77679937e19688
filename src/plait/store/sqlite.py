"""The SQLite store: one database file in WAL mode, every state change one transaction.

One connection is shared by the threads of an agent behind a lock; each statement that changes
a run is guarded by the run's ``epoch`` so that a stale agent's late writes change nothing.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from plait.errors import NotFoundError, ParamsError, RunStateError, StoreError
from plait.model import ChildRecord, RunRecord, RunStatus, StepRecord, StepStatus
from plait.store import queries as q

__all__ = ["Claim", "QueueEntry", "SQLiteStore", "check_run_id", "new_run_id"]

_MIGRATIONS = Path(__file__).with_name("migrations")


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}")


def check_run_id(run_id: str) -> str:
    """A run id given by a person: it names files and folders, so it must be a plain name."""
    if not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ParamsError(
            f"run id {run_id!r} is not allowed: use letters, digits and . _ : + - "
            "(at most 128, starting with a letter or digit, no '..')"
        )
    return run_id


def new_run_id() -> str:
    """A time-ordered UUID (version 7 layout) as text."""
    millis = int(time.time() * 1000)
    rand = bytearray(os.urandom(10))
    rand[0] = (rand[0] & 0x0F) | 0x70
    rand[2] = (rand[2] & 0x3F) | 0x80
    raw = f"{millis:012x}{rand.hex()}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


class Claim:
    """What one attempt to start runs of a queue did, and why the rest still wait."""

    __slots__ = ("capacity", "claimed", "queue", "reason", "running")

    def __init__(
        self,
        queue: str,
        capacity: int,
        running: int,
        claimed: list[str] | None = None,
        reason: str | None = None,
    ) -> None:
        self.queue = queue
        self.capacity = capacity
        self.running = running
        self.claimed = list() if claimed is None else claimed
        self.reason = reason


class QueueEntry:
    __slots__ = (
        "dispatch",
        "enqueued_at",
        "max_active_runs",
        "name",
        "queue",
        "run_id",
        "started_at",
        "status",
    )

    def __init__(
        self,
        run_id: str,
        name: str,
        status: RunStatus,
        queue: str,
        enqueued_at: float | None,
        started_at: float | None,
        max_active_runs: int,
        dispatch: str,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.status = status
        self.queue = queue
        self.enqueued_at = enqueued_at
        self.started_at = started_at
        self.max_active_runs = max_active_runs
        self.dispatch = dispatch


class SQLiteStore:
    """Runs, steps and child runs in ``plait.db``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: cannot open the store: {error}") from None

    # ----------------------------------------------------------------- plumbing

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction; SQLite's own errors (locked too long, disk full) come out as a
        StoreError that names the store."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {error}") from None
            try:
                yield self._db
            except BaseException as error:
                self._db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise StoreError(f"{self.path}: {error}") from None
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: {error}") from None

    def _migrate(self) -> None:
        files = sorted(_MIGRATIONS.glob("*.sql"))
        latest = len(files)
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == latest:
            return
        if version > latest:
            raise StoreError(
                f"{self.path}: the store was written by a newer plait (schema {version}, "
                f"this plait knows {latest})"
            )
        with self._transaction() as db:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            for number, file in enumerate(files, start=1):
                if number > version:
                    for statement in file.read_text().split(";\n"):
                        if statement.strip():
                            db.execute(statement)
            db.execute(f"PRAGMA user_version = {latest}")

    # ----------------------------------------------------------------- writes

    def create_run(self, run: RunRecord, steps: Iterable[StepRecord]) -> None:
        """Record a new run and its steps (all ``not_started``) in one transaction."""
        with self._transaction() as db:
            db.execute(
                q.INSERT_RUN,
                _run_row(run, str(run.status)),
            )
            db.executemany(q.INSERT_STEP, [_step_row(run.run_id, step) for step in steps])

    def update_step(self, run_id: str, step: StepRecord, epoch: int = 1) -> None:
        """Write the current state of one step (guarded by the run's epoch)."""
        with self._lock:
            self._db.execute(
                q.UPDATE_STEP,
                (*_step_values(step), int(step.tolerated), run_id, step.name, run_id, epoch),
            )

    def add_step(self, run_id: str, step: StepRecord) -> None:
        """Record a step that was not known when the run was created (a handler)."""
        with self._lock:
            self._db.execute(q.UPSERT_STEP, _step_row(run_id, step))

    def record_attempt(self, run_id: str, step: StepRecord) -> None:
        """Keep one finished attempt of a step with its own status, timing and logs."""
        with self._lock:
            self._db.execute(
                q.INSERT_ATTEMPT,
                (
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
                ),
            )

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
    ) -> None:
        with self._lock:
            self._db.execute(
                q.UPDATE_RUN_STATUS,
                (
                    str(status),
                    started_at,
                    finished_at,
                    None if outputs is None else json.dumps(outputs, ensure_ascii=False),
                    error,
                    time.time(),
                    run_id,
                    epoch,
                ),
            )

    def heartbeat(self, run_ids: Iterable[str], now: float | None = None) -> None:
        beat = time.time() if now is None else now
        with self._lock:
            self._db.executemany(q.HEARTBEAT, [(beat, run_id) for run_id in run_ids])

    # ----------------------------------------------------------------- reads

    def get_run(self, run_id: str) -> RunRecord:
        """A run with its steps and direct children; NotFoundError if there is none."""
        with self._lock:
            row = self._db.execute(q.SELECT_RUN + " WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no run with id {run_id}")
            run = _run_from_row(row)
            run.steps = [_step_from_row(r) for r in self._db.execute(q.SELECT_STEPS, (run_id,))]
            run.children = self.children(run_id)
        return run

    def find_run(self, run_id: str) -> RunRecord | None:
        try:
            return self.get_run(run_id)
        except NotFoundError:
            return None

    def children(self, run_id: str) -> list[ChildRecord]:
        with self._lock:
            rows = self._db.execute(q.SELECT_CHILDREN, (run_id,)).fetchall()
        return [
            ChildRecord(
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
            for r in rows
        ]

    def attempts(self, run_id: str, step: str) -> list[StepRecord]:
        with self._lock:
            rows = self._db.execute(q.SELECT_ATTEMPTS, (run_id, step)).fetchall()
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
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_run_from_row(r) for r in rows]

    def request_stop(self, run_id: str) -> int:
        """Ask the agent of a run to stop it and its children; returns how many runs."""
        with self._transaction() as db:
            return db.execute(q.REQUEST_STOP, (run_id,)).rowcount

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
                (str(status), output, output_var, error, time.time(), run_id, step),
            ).rowcount
        return changed == 1

    def cancel_waiting(self, run_id: str, reason: str = "stopped") -> bool:
        """Stop a run that waits for a person (no agent runs it): ``cancelled`` at once."""
        with self._transaction() as db:
            return db.execute(q.CANCEL_WAITING_RUN, (time.time(), reason, run_id)).rowcount == 1

    def clear_stop_request(self, run_id: str) -> None:
        with self._transaction() as db:
            db.execute(q.CLEAR_STOP_REQUEST, (run_id,))

    def stop_requests(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute(q.SELECT_STOP_REQUESTS)}

    def recover_dead_runs(
        self, alive: Callable[[int | None, str | None, float | None], bool]
    ) -> list[str]:
        """Mark ``failed`` every running run whose agent is gone; returns their ids.

        ``alive(pid, host, heartbeat_at)`` decides whether a run's agent still lives.
        """
        with self._lock:
            rows = self._db.execute(q.SELECT_ACTIVE).fetchall()
        # A claim whose agent never registered (pid NULL) goes back to its queue instead.
        dead = [row for row in rows if row[1] is not None and not alive(row[1], row[2], row[3])]
        if not dead:
            return []
        now = time.time()
        reason = "agent process exited"
        marked: list[str] = []
        with self._transaction() as db:
            for run_id, pid, _, _, _, epoch in dead:
                # only if nobody took the run over since it was judged
                if db.execute(q.MARK_DEAD_RUN, (now, reason, run_id, pid, epoch)).rowcount:
                    db.execute(q.MARK_DEAD_STEPS, (now, reason, run_id))
                    marked.append(run_id)
        return marked

    def resume_child(self, run_id: str, pid: int) -> tuple[int, int]:
        """A finished child run starts a new attempt within its parent's retry."""
        with self._transaction() as db:
            row = db.execute(q.RESUME_CHILD, (pid, time.time(), run_id)).fetchone()
        if row is None:
            raise RunStateError(f"run {run_id} is still active")
        return int(row[0]), int(row[1])

    def begin_retry(
        self, run_id: str, pid: int, *, queue: str, max_active_runs: int
    ) -> tuple[int, int]:
        """Put a finished run back in its queue for a new attempt: returns (epoch, attempt)."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute(
                q.BEGIN_RETRY, (pid, now, now, queue, max_active_runs, run_id)
            ).fetchone()
        if row is None:
            raise RunStateError(f"run {run_id} is still active; stop it before retrying")
        return int(row[0]), int(row[1])

    # ----------------------------------------------------------------- queues

    def enqueue(
        self,
        run: RunRecord,
        steps: Iterable[StepRecord],
        *,
        queue: str,
        max_active_runs: int,
        dispatch: str,
    ) -> None:
        """Record a new root run as ``queued`` (with its steps, all ``not_started``)."""
        now = time.time()
        with self._transaction() as db:
            if db.execute(q.SELECT_RUN_EXISTS, (run.run_id,)).fetchone() is not None:
                raise RunStateError(f"a run with id {run.run_id} already exists")
            db.execute(
                q.INSERT_RUN,
                _run_row(run, "queued"),
            )
            db.executemany(q.INSERT_STEP, [_step_row(run.run_id, step) for step in steps])
            db.execute(q.ENQUEUE_RUN, (queue, max_active_runs, dispatch, now, run.pid, run.run_id))

    def claim(self, queue: str, capacity: int | None, only: str | None = None) -> Claim:
        """Start the runs of ``queue`` that its capacity and their workflows' ``maxActiveRuns``
        allow, first come first served, in one transaction.

        ``capacity`` None: the largest ``maxActiveRuns`` of the runs in the queue. With
        ``only``, claim that run alone, and only when no run ahead of it could start first.
        """
        now = time.time()
        with self._transaction() as db:
            running = db.execute(q.SELECT_QUEUE_RUNNING, (queue,)).fetchall()
            waiting = db.execute(q.SELECT_QUEUE_WAITING, (queue,)).fetchall()
            limits = [int(r[1]) for r in running] + [int(r[2]) for r in waiting]
            size = capacity if capacity is not None else max(limits, default=1)
            total = len(running)
            per_workflow: dict[str, int] = {}
            claim = Claim(queue=queue, capacity=size, running=total)
            for run_id, name, limit, dispatch in waiting:
                if total >= size:
                    full = (
                        f"maxActiveRuns {limit} of {name} reached ({total} running)"
                        if name == queue
                        else f"queue {queue} is full ({total}/{size} running)"
                    )
                    claim.reason = claim.reason or full
                    break
                if name not in per_workflow:
                    per_workflow[name] = db.execute(q.COUNT_WORKFLOW_RUNNING, (name,)).fetchone()[0]
                if per_workflow[name] >= limit:
                    if run_id == only:  # what is behind this run does not matter to it
                        claim.reason = f"maxActiveRuns {limit} of {name} reached"
                        break
                    continue
                if only is not None and run_id != only:
                    claim.reason = f"behind run {run_id} in queue {queue}"
                    break
                if only is None and dispatch != "scheduler":
                    # a foreground run: its own process starts it; keep its place
                    total += 1
                    per_workflow[name] += 1
                    continue
                db.execute(q.CLAIM_RUN, (now, now, run_id))
                claim.claimed.append(run_id)
                total += 1
                per_workflow[name] += 1
        return claim

    def mark_started(self, run_id: str, pid: int, params: list[list[str | None]]) -> int | None:
        """The agent of a claimed run takes it over: returns the run's epoch, or None when
        another agent already has it."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute(
                q.MARK_STARTED,
                (pid, os.uname().nodename, now, now, json.dumps(params), run_id, pid),
            ).fetchone()
        return None if row is None else int(row[0])

    def set_claim_pid(self, run_id: str, pid: int) -> None:
        """The pid of the agent launched for a claimed run, so that its death is noticed even
        before the agent has taken the run over."""
        with self._transaction() as db:
            db.execute(q.SET_CLAIM_PID, (pid, os.uname().nodename, run_id))

    def requeue_stale_claims(self, older_than: float) -> int:
        """Claimed runs whose agent never started (the launcher died): back in the queue."""
        with self._transaction() as db:
            return db.execute(q.REQUEUE_STALE_CLAIMS, (older_than,)).rowcount

    def claimed_unstarted(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute(q.SELECT_CLAIMED_UNSTARTED)]

    def queues_with_waiting(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute(q.SELECT_QUEUES_WITH_WAITING)]

    def dequeue(self, run_id: str, reason: str = "dequeued") -> bool:
        with self._transaction() as db:
            return db.execute(q.DEQUEUE_RUN, (time.time(), reason, run_id)).rowcount == 1

    def drop_abandoned_waits(
        self, alive: Callable[[int | None, str | None, float | None], bool]
    ) -> list[str]:
        """Foreground runs still waiting in a queue whose process is gone: cancelled."""
        with self._lock:
            rows = self._db.execute(q.SELECT_WAITING_SELF).fetchall()
        gone = [r[0] for r in rows if r[1] is not None and not alive(r[1], r[2], None)]
        for run_id in gone:
            self.dequeue(run_id, "the process waiting for this run exited")
        return gone

    def queue_entries(self) -> list[QueueEntry]:
        with self._lock:
            rows = self._db.execute(q.SELECT_QUEUES).fetchall()
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
            )
            for r in rows
        ]

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
        with self._lock:
            row = self._db.execute(q.SELECT_LEASE, (name,)).fetchone()
        return None if row is None else (str(row[0]), int(row[1]), float(row[2]))

    def schedule_mark(self, workflow: str) -> float | None:
        with self._lock:
            row = self._db.execute(q.SELECT_MARK, (workflow,)).fetchone()
        return None if row is None else float(row[0])

    def set_schedule_mark(self, workflow: str, tick: float) -> None:
        with self._transaction() as db:
            db.execute(q.UPSERT_MARK, (workflow, tick))

    def run_exists(self, run_id: str) -> bool:
        with self._lock:
            return self._db.execute(q.SELECT_RUN_EXISTS, (run_id,)).fetchone() is not None

    def active_count(self, name: str) -> int:
        with self._lock:
            return int(self._db.execute(q.COUNT_ACTIVE_OF, (name,)).fetchone()[0])

    def succeeded_since(self, name: str, since: float) -> bool:
        with self._lock:
            return self._db.execute(q.SELECT_SUCCEEDED_SINCE, (name, since)).fetchone() is not None

    def queued_scheduled(self, name: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(q.SELECT_QUEUED_SCHEDULED_OF, (name,))]

    def expired_runs(self, name: str, older_than: float, keep: int) -> list[str]:
        """Finished root runs of ``name`` created before ``older_than`` or beyond the newest
        ``keep``; never an active one."""
        with self._lock:
            rows = self._db.execute(
                q.SELECT_EXPIRED_ROOTS, (name, older_than, name, keep)
            ).fetchall()
        return [r[0] for r in rows]

    def delete_run_tree(self, run_id: str) -> list[str]:
        """Delete a run and all its descendants in one transaction; returns their log dirs."""
        with self._transaction() as db:
            rows = db.execute(q.SELECT_TREE, (run_id,)).fetchall()
            for tree_id, _ in rows:
                db.execute(q.DELETE_ATTEMPTS, (tree_id,))
                db.execute(q.DELETE_STEPS, (tree_id,))
                db.execute(q.DELETE_RUN, (tree_id,))
        return [str(r[1]) for r in rows if r[1]]

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
        os.uname().nodename if run.pid else None,
        run.heartbeat_at,
        run.log_dir,
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
    )
