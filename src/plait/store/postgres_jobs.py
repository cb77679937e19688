"""Handing runs to workers on other machines: procrastinate jobs in the store's own database.

A claimed run that admission placed on a worker becomes a job in that worker's queue
(``plait.worker.<id>``), deferred on the claim's own connection inside the claim's transaction:
the claim and the job commit together, or neither does. The job names the run and the epoch
the claim gave it; the worker's agent takes the run over only at that epoch (a conditional
update), so a job delivered twice, or one whose claim was given back meanwhile, changes
nothing. The run's lease, not the job, is the truth about who runs it.

procrastinate is imported only here, and only by processes that place runs on workers or
are workers; its schema is created beside plait's the first time it is needed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager

from plait.store.records import AGENT_LEASE_SECONDS

__all__ = ["TASK", "clean", "defer_run", "ensure_schema", "queue_of_worker", "serve"]

TASK = "plait.run"
# A worker process's heartbeat in procrastinate's tables, and when it counts as dead (its
# jobs are then cleaned up, once its plait registration is not live either).
HEARTBEAT_SECONDS = max(1.0, AGENT_LEASE_SECONDS / 3)
STALLED_SECONDS = 2 * AGENT_LEASE_SECONDS
_SCHEMA_LOCK = 727_002  # pg_advisory_xact_lock key while the job schema is made
_apps: dict[str, procrastinate.App] = {}
_made: set[str] = set()


def queue_of_worker(worker_id: str) -> str:
    return f"plait.worker.{worker_id}"


def ensure_schema(connection: psycopg.Connection[Any], url: str) -> None:
    """procrastinate's tables and functions, made once per database (under a lock)."""
    if url in _made:
        return
    found = connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    if not (found and found[0]):
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            again = connection.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
            ).fetchone()
            if not (again and again[0]):
                connection.execute(SchemaManager.get_schema())
    _made.add(url)


def clean(connection: psycopg.Connection[Any], live_after: float, dead_seconds: float) -> int:
    """Delete the jobs that nobody will finish: those waiting in the queue of a worker that is
    not live (its runs went back to their queues), and those taken by a worker process whose
    procrastinate heartbeat stopped ``dead_seconds`` ago (their runs were reaped). Returns
    how many jobs went. (procrastinate prunes the records of dead worker processes itself.)"""
    found = connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    if not (found and found[0]):
        return 0
    gone = connection.execute(
        """
        DELETE FROM procrastinate_jobs j
        WHERE j.queue_name LIKE 'plait.worker.%%' AND j.status IN ('todo', 'doing')
          AND NOT EXISTS (SELECT 1 FROM workers w
                          WHERE j.queue_name = 'plait.worker.' || w.id AND w.heartbeat_at > %s)
          AND (j.status = 'todo' OR j.worker_id IS NULL OR EXISTS (
                 SELECT 1 FROM procrastinate_workers p
                 WHERE p.id = j.worker_id
                   AND p.last_heartbeat < now() - make_interval(secs => %s)))
        """,
        (live_after, dead_seconds),
    ).rowcount
    return int(gone)


def _deferring_app(url: str) -> procrastinate.App:
    app = _apps.get(url)
    if app is None:
        app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))
        _apps[url] = app
    return app


def defer_run(
    connection: psycopg.Connection[Any], url: str, worker_id: str, run_id: str, epoch: int
) -> None:
    """The job that sends ``run_id`` (claimed at ``epoch``) to ``worker_id``, inserted on
    ``connection`` in its open transaction."""
    deferrer = _deferring_app(url).configure_task(
        TASK, queue=queue_of_worker(worker_id), connection=connection
    )
    deferrer.defer(run_id=run_id, epoch=epoch)


def serve(
    url: str,
    worker_id: str,
    slots: int,
    handle: Callable[[str, int], None],
    stopping: threading.Event,
) -> None:
    """Take the jobs of ``worker_id``'s queue, ``slots`` at a time, each in a thread of its
    own calling ``handle(run_id, epoch)``, until ``stopping`` is set; then let the runs in
    hand finish. Jobs are deleted once handled (the run's record is what stays)."""
    from plait.store.postgres import CONNECT_OPTIONS

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=url, kwargs=dict(CONNECT_OPTIONS))
    )

    @app.task(name=TASK)
    def run(run_id: str, epoch: int) -> None:
        handle(run_id, epoch)

    async def work() -> None:
        async with app.open_async():
            task = asyncio.create_task(
                app.run_worker_async(
                    queues=[queue_of_worker(worker_id)],
                    concurrency=slots,
                    name=worker_id,
                    delete_jobs="always",
                    install_signal_handlers=False,
                    fetch_job_polling_interval=1.0,
                    abort_job_polling_interval=5.0,
                    update_heartbeat_interval=HEARTBEAT_SECONDS,
                    stalled_worker_timeout=STALLED_SECONDS,
                )
            )
            while not stopping.is_set() and not task.done():
                await asyncio.sleep(0.2)
            if not task.done():
                task.cancel()  # graceful: no new job; the jobs in hand end first
            try:
                await task
            except asyncio.CancelledError:
                pass

    asyncio.run(work())
