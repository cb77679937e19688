"""The store's contract: what every backend (SQLite on one machine, PostgreSQL for several)
guarantees to the layers above it, which type against ``RunStore`` and never import a backend.

Rules that hold for every method:

- **One transaction.** Each method that writes does all of its writes in one transaction: a
  kill of the process at any instant leaves either none or all of them.
- **Epochs.** A run's row carries an ``epoch`` that grows each time an agent takes the run
  over (``mark_started``, ``begin_retry``, ``resume_child``) and each time the run is judged
  dead. Writes an agent makes for a run (``update_step``, ``add_step``, ``record_attempt``,
  ``set_run_status``, ``heartbeat``) carry the epoch it got; with a stale epoch they change
  nothing, silently — so a late agent never overwrites its successor's work.
- **Errors.** A backend's own errors come out as ``StoreError`` (the store cannot be reached,
  the disk is full, the schema is newer than this plait), naming the store and the cause.
  ``NotFoundError`` means the run does not exist; ``RunStateError`` that its state forbids it.
- **Time.** Times are epoch seconds. SQLite takes them from this host's clock; PostgreSQL from
  the database's, so hosts with different clocks agree.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from plait.model import ChildRecord, RunRecord, RunStatus, StepRecord, StepStatus
from plait.store.metrics import StoreMetrics
from plait.store.records import (
    AgentRef,
    Claim,
    QueueEntry,
    QueueState,
    Webhook,
    WorkerInfo,
    WorkerSlots,
)
from plait.store.views import (
    TREE_MAX_NODES,
    TREE_PER_RUN,
    ChildPage,
    HistoryPage,
    Lease,
    RunPage,
    RunSnapshot,
    RunTree,
)

__all__ = ["AgentRef", "Alive", "Claim", "QueueEntry", "QueueState", "RunBrowser", "RunStore"]

# alive(pid, host, lease_expires_at): whether the agent of a running run still lives
Alive = Callable[[int | None, str | None, float | None], bool]


class RunBrowser(Protocol):
    """Read-only views for the API and the UI; nothing here writes."""

    def list_runs(
        self,
        *,
        name: str | None = None,
        statuses: Iterable[RunStatus] = (),
        since: float | None = None,
        until: float | None = None,
        roots_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> RunPage:
        """A page of runs, newest first, without their steps, and how many match in all."""
        ...

    def last_run(self, name: str) -> RunRecord | None:
        """The newest run of a workflow (child runs count), without its steps."""
        ...

    def history(self, name: str, *, limit: int = 50, offset: int = 0) -> HistoryPage:
        """A page of the runs of the workflow ``name`` (its child runs too), newest first, each
        with the status of each of its steps (in step order) and the names of its tolerated
        failures; ``total``: its runs in all. A bounded number of queries, whatever the page's
        size (no query per run)."""
        ...

    def tree(
        self, run_id: str, *, per_run: int = TREE_PER_RUN, max_nodes: int = TREE_MAX_NODES
    ) -> RunTree | None:
        """A run and its child runs at any depth, or None when there is no such run; at most
        ``per_run`` children of each run (the order of ``FAILURES_FIRST``, then by step and
        item) and ``max_nodes`` runs in all, the levels nearest the root first. Every node
        has its ``child_count``; ``truncated`` says that some run's children are not all
        listed."""
        ...

    def descendants(self, run_id: str) -> set[str]:
        """The ids of a run and of every run below it (empty for an unknown run)."""
        ...

    def first_failure(self, run_id: str) -> dict[str, object] | None:
        """Where a failed run failed first, however deep: from the run down, the first failed
        step (by position) and the first of its children that failed (by item), to a run
        whose failed step started no failed child. None when no step of the run failed.
        ``{"runId", "name", "step", "error", "depth"}`` (``depth``: levels below the run)."""
        ...

    def ancestors(self, run_id: str) -> list[dict[str, object]]:
        """The runs above a run, root first, with how each called the next (step, item)."""
        ...

    def children_page(
        self,
        run_id: str,
        *,
        step: str | None = None,
        statuses: Iterable[RunStatus] = (),
        sort: str = "index",
        limit: int = 100,
        offset: int = 0,
        item: str | None = None,
    ) -> ChildPage:
        """A page of the direct child runs of a run, and counts per status (before the
        status filter, after ``item``: only children whose item holds that text, in any
        case). ``sort``: one of ``CHILD_SORTS`` (``failures``: the order of
        ``FAILURES_FIRST``, then by step and item). Each child says how many children it has
        itself (``childCount``)."""
        ...

    def count_by_status(self) -> dict[str, int]:
        """How many runs (child runs included) have each status."""
        ...

    def waiting_by_queue(self) -> dict[str, int]:
        """How many root runs wait in each queue."""
        ...

    def lease(self, name: str) -> Lease | None:
        """A named lease (the scheduler's), whoever holds it, expired or not."""
        ...

    def metrics(self, since: float) -> StoreMetrics:
        """What ``/metrics`` shows, read at once in a few aggregate queries whose answers grow
        with the workflows, steps, queues and workers, not with the runs:

        - ``runs``: how many runs (child runs included) each workflow has of each status;
        - ``queues``: per queue (``queue``, else the workflow's name), the runs waiting
          (``queued``) and running, and the oldest waiting run's ``enqueued_at``;
        - ``step_durations``: per (workflow, step), bucket counts (``DURATION_BUCKETS``) of
          the durations of the steps that ran (succeeded, failed or cancelled) and finished
          since ``since``, read only from the runs that finished since then or are active;
        - ``queue_waits``: per queue, bucket counts of ``started_at - enqueued_at`` of the
          runs that started since ``since`` (of those same runs);
        - ``scheduled``: per workflow, its last scheduled run (a run id the scheduler names
          by its time) queued since ``since``: when it was due and when it was queued;
        - ``workers``: the live workers (heartbeat within ``AGENT_LEASE_SECONDS``, not
          stopping), their slots and how many of their runs are running;
        - ``scheduler_active``: whether a scheduler holds its lease now.
        """
        ...

    def now(self) -> float:
        """The store's time now (see "Time" above); no query."""
        ...

    def change_mark(self) -> int:
        """The "something changed" signal: a number that differs after any commit to the
        store by any process (SQLite: ``data_version``; PostgreSQL: a counter that NOTIFY
        bumps). Cheap: the live streams call it several times a second."""
        ...

    def changes_since(self, moment: float) -> dict[str, RunSnapshot]:
        """Every active run, and every run created or finished since ``moment``."""
        ...

    def snapshot(self, run_id: str) -> RunSnapshot | None:
        """The live-status view of one run, or None."""
        ...

    def close(self) -> None:
        """Release the views' own connections (the store's close does it too)."""
        ...


class RunStore(Protocol):
    """Runs, steps, child runs, queue slots, leases and schedule marks."""

    backend: str  # "sqlite" or "postgresql"
    where: str  # the store, for messages: a file, or a URL without its password
    # How long a call waits for a store that cannot be reached now (``StoreUnavailable``:
    # a database server restarting) before it raises; 0 by default.
    patience: float

    def close(self) -> None:
        """Release the store's connections; the object is not used after."""
        ...

    # ----------------------------------------------------------------- the schema

    def schema_version(self) -> tuple[int, int]:
        """(the number of the store's schema, the newest this plait knows)."""
        ...

    def pending_migrations(self) -> list[str]:
        """The names of the migrations the store lacks, in the order they apply."""
        ...

    def migrate(self) -> list[str]:
        """Apply the missing migrations, each in one transaction, under a lock that keeps any
        other process from migrating at once (a store opens migrated unless told not to);
        the names of those applied.

        Raises:
            StoreError: the store's schema is newer than this plait's.
        """
        ...

    def browse(self) -> RunBrowser:
        """The read-only views (one per store, made on first use)."""
        ...

    def now(self) -> float:
        """The store's time now, in epoch seconds: what every time a caller records (a step's
        start, a heartbeat's freshness, a lease's expiry) is measured against. No query: a
        backend whose clock is the database's keeps its offset from this host's clock."""
        ...

    # ----------------------------------------------------------------- a run's life

    def create_run(self, run: RunRecord, steps: Iterable[StepRecord]) -> None:
        """Record a new run (a root run started in place, or a child run) and its steps, in
        one transaction: its identity, status, params, times of creation and start, agent and
        definition; its outputs, error and end are written by ``set_run_status``.

        Raises:
            RunStateError: a run with that id exists.
        """
        ...

    def create_runs(self, runs: Sequence[tuple[RunRecord, Sequence[StepRecord]]]) -> None:
        """Record many new runs and their steps in one transaction (the items of a fan-out
        that ended before they started, each ``not_started``).

        Raises:
            StoreError: it could not be written (a run with one of those ids exists, a full
                disk); nothing of it is.
        """
        ...

    def forget_not_started(self, run_id: str) -> bool:
        """Delete a run that is ``not_started`` (and its steps): the place of an item that a
        retry starts under another id. False when the run is not (or no longer) that."""
        ...

    def update_step(self, run_id: str, step: StepRecord, epoch: int = 1) -> None:
        """Write the current state of one step; nothing when ``epoch`` is stale."""
        ...

    def add_step(self, run_id: str, step: StepRecord, epoch: int = 1) -> None:
        """Record (or overwrite) a step not known when the run was created (a handler);
        nothing when ``epoch`` is stale."""
        ...

    def record_attempt(self, run_id: str, step: StepRecord, epoch: int = 1) -> None:
        """Keep one finished attempt of a step with its own status, times and logs;
        nothing when ``epoch`` is stale."""
        ...

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
        """Set a run's status (and what is given of its times, outputs, error), and in the
        same transaction the log paths of its steps ``logs`` names: (step, stdout path,
        stderr path); nothing when ``epoch`` is stale. With ``logs``: whether it was written
        (the epoch held); without, True."""
        ...

    def heartbeat(self, runs: Iterable[tuple[str, int]], now: float | None = None) -> set[str]:
        """Mark the agent of each (run id, epoch) alive now: its lease is renewed for
        ``AGENT_LEASE_SECONDS``; a stale epoch renews nothing. Returns the runs whose lease
        was not renewed (another agent holds them now, or they ended)."""
        ...

    def definition(self, run_id: str) -> dict[str, str] | None:
        """The texts of the workflow files the run's root run was started from (its own file
        first, then the child workflows' files it names), stored with the run when it was
        created or enqueued; None for a run stored without them."""
        ...

    def mark_started(
        self,
        run_id: str,
        agent: AgentRef,
        params: list[list[str | None]],
        epoch: int | None = None,
    ) -> int | None:
        """``agent`` takes a claimed run over (with the params it runs with): its lease
        begins, and the new epoch is returned; None when another agent holds the run already,
        or (with ``epoch``, the claim's) when the run is no longer at that epoch. Atomic: of
        two agents, one wins."""
        ...

    def resume_child(self, run_id: str, agent: AgentRef) -> tuple[int, int]:
        """A finished child run starts a new attempt within its parent's retry: (epoch,
        attempt).

        Raises:
            RunStateError: the run is still active.
        """
        ...

    def begin_retry(
        self, run_id: str, agent: AgentRef, *, queue: str, max_active_runs: int
    ) -> tuple[int, int]:
        """Put a finished (or waiting) root run back in its queue for a new attempt, to be
        started by this process: (epoch, attempt).

        Raises:
            RunStateError: the run is queued or running.
        """
        ...

    def requeue_finished(self, run_id: str, *, queue: str, max_active_runs: int) -> int | None:
        """Put a finished run (a remote child run whose parent runs again) back in ``queue``
        for a new attempt that a dispatcher starts: the attempt, or None when the run is
        queued or running."""
        ...

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
        """A person approved or rejected a waiting step: its final state. False (and nothing
        written) when the step does not wait, so of two answers one wins."""
        ...

    # ----------------------------------------------------------------- reads

    def get_run(self, run_id: str, *, children_limit: int | None = None) -> RunRecord:
        """A run with its steps, its direct children and their counts per step and status
        (``child_counts``). ``children_limit``: at most that many children of each step,
        the ones that did not succeed first (a fan-out of 100,000 items is read as counts
        and its failures); 0: neither children nor counts, the run alone.

        Raises:
            NotFoundError: there is no such run.
        """
        ...

    def find_run(self, run_id: str) -> RunRecord | None:
        """``get_run``, or None."""
        ...

    def run_exists(self, run_id: str) -> bool:
        """Whether a run with this id is stored (any status)."""
        ...

    def children(self, run_id: str, limit: int | None = None) -> list[ChildRecord]:
        """The direct child runs of a run, by step and item; with ``limit``, at most that
        many of each step, the ones that did not succeed first."""
        ...

    def child_counts(self, run_id: str) -> dict[str, dict[str, int]]:
        """How many direct children each step of a run has, by status."""
        ...

    def attempts(self, run_id: str, step: str) -> list[StepRecord]:
        """The earlier attempts of a step, first first."""
        ...

    def list_runs(
        self,
        name: str | None = None,
        *,
        statuses: Iterable[RunStatus] = (),
        limit: int = 50,
        roots_only: bool = False,
    ) -> list[RunRecord]:
        """Runs, newest first, without their steps."""
        ...

    def latest_run(self, name: str) -> RunRecord | None:
        """The newest root run of a workflow, with its steps."""
        ...

    def active_count(self, name: str) -> int:
        """How many root runs of a workflow are queued or running."""
        ...

    def succeeded_since(self, name: str, since: float) -> bool:
        """Whether a root run of the workflow succeeded since ``since``."""
        ...

    # ----------------------------------------------------------------- stop

    def request_stop(self, run_id: str) -> int:
        """Ask the agent of a running run to stop it and its children: how many runs."""
        ...

    def stop(self, run_id: str, reason: str = "stopped") -> str:
        """Stop a run however far it got: "dequeued" (a queued run, cancelled at once),
        "cancelled" (a waiting run), "stopping" (its agent was asked), or "not active"."""
        ...

    def cancel_waiting(self, run_id: str, reason: str = "stopped") -> bool:
        """End a waiting run as cancelled; False when it does not wait."""
        ...

    def stop_requests(self) -> set[str]:
        """The running runs whose stop was asked for and not yet acted on."""
        ...

    def clear_stop_request(self, run_id: str) -> None:
        """The agent acted on the run's stop request: a later request asks again."""
        ...

    def wait_for_stop_request(self, timeout: float) -> None:
        """Return after ``timeout`` seconds, or sooner once a stop has been asked for since
        the last call (where the store can tell: PostgreSQL's NOTIFY; else it sleeps)."""
        ...

    # ----------------------------------------------------------------- agents that died

    def recover_dead_runs(self, alive: Alive) -> list[str]:
        """Mark ``failed`` ("agent process exited") every running run whose agent ``alive``
        judges gone (given its pid, host and lease expiry), with its running steps; returns
        their ids. A run taken over since it was judged (a new epoch) is left alone."""
        ...

    def drop_abandoned_waits(self, alive: Alive) -> list[str]:
        """Cancel the queued runs whose own waiting process (a ``plait start``) is gone."""
        ...

    # ----------------------------------------------------------------- started runs

    def link_started(self, run_id: str, by_run_id: str, by_step: str) -> None:
        """Record that step ``by_step`` of run ``by_run_id`` started the root run ``run_id``
        without waiting for it (``wait: false``)."""
        ...

    def started_by(self, run_id: str) -> tuple[str, str] | None:
        """The (run id, step) that started ``run_id`` without waiting for it, or None."""
        ...

    def started_runs(self, run_id: str) -> list[tuple[str, str]]:
        """The (run id, step) of the runs the steps of ``run_id`` started without waiting."""
        ...

    def started_in_tree(self, run_id: str) -> list[str]:
        """The runs that ``run_id`` or any run below it (any depth) started without waiting."""
        ...

    # ----------------------------------------------------------------- pausing

    def set_paused(self, kind: str, name: str, paused: bool) -> bool:
        """Pause (or resume) the schedule of workflow ``name`` (``kind`` "schedule") or the
        queue ``name`` ("queue"): False when it already was so."""
        ...

    def paused(self, kind: str) -> dict[str, float]:
        """What of ``kind`` is paused: name -> when it was paused."""
        ...

    def is_paused(self, kind: str, name: str) -> bool: ...

    def record_skip(self, workflow: str, fire_at: float, reason: str) -> None:
        """Keep that the fire time ``fire_at`` of ``workflow``'s schedule was not run, and
        why (the newest ``SKIPS_KEPT`` a workflow are kept)."""
        ...

    def skips(self, workflow: str, limit: int = 20) -> list[tuple[float, str]]:
        """The newest skipped fire times of ``workflow``: (fire time, reason)."""
        ...

    def all_skips(self, limit: int = 20) -> dict[str, list[tuple[float, str]]]:
        """``skips`` of every workflow that has some, in one read: by workflow name."""
        ...

    # ----------------------------------------------------------------- webhooks

    def set_webhook(self, workflow: str, token_hash: str) -> None:
        """Give ``workflow`` a webhook token (its SHA-256), replacing the one it had."""
        ...

    def webhook(self, workflow: str) -> Webhook | None:
        """The webhook of ``workflow``, or None when it has none."""
        ...

    def webhooks(self) -> list[Webhook]:
        """Every workflow's webhook, by workflow name."""
        ...

    def revoke_webhook(self, workflow: str) -> bool:
        """Delete the webhook of ``workflow``; False when it had none."""
        ...

    def webhook_used(self, workflow: str) -> None:
        """Note that the webhook of ``workflow`` started a run now."""
        ...

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
        """Record a new root run as ``queued`` in ``queue``, with its steps. ``dispatch``:
        "scheduler" (a dispatcher starts it) or "self" (its own process does). ``selector``:
        the labels of the workers it may go to (``workerSelector``); ``lost_retries``: how
        many times it is queued again when its worker is lost (``retryOnWorkerLost``);
        ``priority``: its place in the queue (higher first, ``queue.admission``);
        ``trace_parent``: the W3C trace context its spans join (a child run sent to a worker).

        Raises:
            RunStateError: a run with that id exists.
        """
        ...

    def trace_parent(self, run_id: str) -> str | None:
        """The trace context the run was queued with (``enqueue``), or None."""
        ...

    def claim(self, queue: str, decide: Callable[[QueueState], Claim]) -> Claim:
        """Read ``queue``'s state, let ``decide`` (the admission policy, pure) choose, and
        claim the runs it chose, in one transaction that no other claim of the queue
        interleaves with: a slot is never given twice, across processes and hosts."""
        ...

    def set_claim_agent(self, run_id: str, agent: AgentRef) -> None:
        """The agent launched for a claimed run, before it takes the run over: its death
        is noticed from then on."""
        ...

    def requeue_stale_claims(self, older_than: float) -> int:
        """Claims whose agent never took the run over (the launcher died): queued again."""
        ...

    def claimed_unstarted(self) -> list[str]:
        """Root runs claimed by a dispatcher whose agent has not taken them over yet."""
        ...

    def queues_with_waiting(self) -> list[str]:
        """The queues holding runs a dispatcher should start."""
        ...

    def dequeue(self, run_id: str, reason: str = "dequeued") -> bool:
        """Take a queued run out of its queue (``cancelled``); False when it is not queued."""
        ...

    def queue_entries(self) -> list[QueueEntry]:
        """Every queued or running root run, by queue then position."""
        ...

    # ----------------------------------------------------------------- shipped logs

    # Whether agents copy what steps write to their log files into the store, for readers on
    # other hosts (PostgreSQL). A log file is named by its path on the agent's host.
    SHIPS_LOGS: bool

    def ship_log(self, run_id: str, epoch: int, chunks: list[tuple[str, int, bytes]]) -> bool:
        """Keep pieces ``(path, start, data)`` of the run's log files, if the run is still at
        ``epoch`` (False, and nothing kept, when it is not). A piece kept before is kept once."""
        ...

    def log_size(self, run_id: str, path: str) -> int:
        """How many bytes of the log file ``path`` of the run were shipped (0 for none)."""
        ...

    def read_log(self, run_id: str, path: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` of a shipped log file (fewer when it is shorter)."""
        ...

    # ----------------------------------------------------------------- workers

    def worker_slots(self) -> list[WorkerSlots] | None:
        """The live workers (heartbeat within ``AGENT_LEASE_SECONDS``, not stopping) and their
        free slots; None for a store without workers (SQLite)."""
        ...

    def register_worker(self, worker: WorkerInfo) -> None:
        """Record a worker as there now (again, after a restart of the same id)."""
        ...

    def beat_worker(self, worker_id: str, pid: int) -> bool:
        """The worker is still there; False when its record is gone or belongs to another
        process now (it registers again)."""
        ...

    def stop_worker(self, worker_id: str) -> None:
        """The worker takes no more runs; the runs in its hands go on."""
        ...

    def remove_worker(self, worker_id: str, pid: int) -> None:
        """The worker has ended (its record, if still this process's, is deleted)."""
        ...

    def hold_writes(self, timeout: float) -> None:
        """From now on no other thread of this process writes to the store: the caller is
        about to end the process, and what those threads would still record is not true
        (steps dying of the kill that ends them). Waits up to ``timeout`` seconds for a call
        under way to finish, and goes on without the hold when one hangs."""
        ...

    def workers(self) -> list[WorkerInfo]:
        """Every registered worker, live or not, with the root runs in its hands."""
        ...

    def serve_worker(
        self,
        worker_id: str,
        slots: int,
        handle: Callable[[str, int], None],
        stopping: threading.Event,
    ) -> None:
        """The transport end of a worker: ``handle(run_id, epoch)`` for each run a claim
        placed on ``worker_id`` (in threads, ``slots`` at once), until ``stopping`` is set and
        the runs in hand are done. A run may be handed twice: the agent's ``mark_started``
        at ``epoch`` decides.

        Raises:
            StoreError: the store has no workers (SQLite).
        """
        ...

    # ----------------------------------------------------------------- the scheduler

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float) -> int | None:
        """Take or renew the lease ``name`` for ``ttl`` seconds: its epoch, or None while
        another owner holds it unexpired."""
        ...

    def steal_lease(
        self, name: str, dead_owner: str, owner: str, ttl: float, now: float
    ) -> int | None:
        """Take the lease from an owner known to be dead: its epoch, or None if it moved."""
        ...

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease ``name`` up at once, if ``owner`` holds it (nothing otherwise)."""
        ...

    def lease(self, name: str) -> tuple[str, int, float] | None:
        """(owner, epoch, expiry) of a lease, or None."""
        ...

    def schedule_mark(self, workflow: str) -> float | None:
        """The last fire time the scheduler handled for a workflow."""
        ...

    def set_schedule_mark(self, workflow: str, tick: float) -> None:
        """The last fire time of ``workflow``'s schedule that was handled."""
        ...

    def queued_scheduled(self, name: str) -> list[str]:
        """The queued root runs of a workflow that a dispatcher starts."""
        ...

    # ----------------------------------------------------------------- retention

    def expired_runs(self, name: str, older_than: float, keep: int) -> list[str]:
        """Finished root runs of ``name`` created before ``older_than`` or beyond the newest
        ``keep``; never an active or waiting one."""
        ...

    def delete_run_tree(self, run_id: str) -> list[str]:
        """Delete a run and every run below it, in one transaction: their log folders."""
        ...
