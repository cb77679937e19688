"""Every SQL statement of the stores, by name: standard SQL that SQLite and PostgreSQL both
read (``?`` placeholders; the PostgreSQL store turns them into its own). A statement one of
them writes differently is overridden in that store's module.

``/*+lock*/`` marks the check of a run's epoch that guards a write of its steps: PostgreSQL
locks the run's row there (``FOR SHARE``), so that a write racing the reaper (which moves the
epoch) is judged on the epoch the reaper committed, not on the one the statement began with;
SQLite, one writer at a time, reads a comment."""

from __future__ import annotations

INSERT_RUN = """
INSERT INTO runs (id, name, source, status, params, created_at, started_at, parent_run_id,
                  parent_step, root_run_id, item_index, item, attempt, depth, pid, host,
                  owner, heartbeat_at, lease_expires_at, log_dir, definition)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

INSERT_RUN_ONCE = INSERT_RUN.rstrip() + " ON CONFLICT (id) DO NOTHING\n"

INSERT_STEP = """
INSERT INTO steps (run_id, name, position, status, started_at, finished_at, exit_code, output,
                   output_var, stdout_path, stderr_path, attempt, error, handler, tolerated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# A step not known when the run was created (a handler), written only under the run's epoch.
UPSERT_STEP = """
INSERT INTO steps (run_id, name, position, status, started_at, finished_at, exit_code, output,
                   output_var, stdout_path, stderr_path, attempt, error, handler, tolerated)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND epoch = ? /*+lock*/)
ON CONFLICT (run_id, name) DO UPDATE SET
    position = excluded.position, status = excluded.status, started_at = excluded.started_at,
    finished_at = excluded.finished_at, exit_code = excluded.exit_code,
    output = excluded.output, output_var = excluded.output_var,
    stdout_path = excluded.stdout_path, stderr_path = excluded.stderr_path,
    attempt = excluded.attempt, error = excluded.error, handler = excluded.handler,
    tolerated = excluded.tolerated
"""

UPDATE_STEP = """
UPDATE steps SET status = ?, started_at = ?, finished_at = ?, exit_code = ?, output = ?,
                 output_var = ?, stdout_path = ?, stderr_path = ?, attempt = ?, error = ?,
                 tolerated = ?
WHERE run_id = ? AND name = ?
  AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND epoch = ? /*+lock*/)
"""

INSERT_ATTEMPT = """
INSERT INTO step_attempts (run_id, step, attempt, status, started_at, finished_at,
                           exit_code, stdout_path, stderr_path, error)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE EXISTS (SELECT 1 FROM runs WHERE id = ? AND epoch = ? /*+lock*/)
ON CONFLICT (run_id, step, attempt) DO UPDATE SET
    status = excluded.status, started_at = excluded.started_at,
    finished_at = excluded.finished_at, exit_code = excluded.exit_code,
    stdout_path = excluded.stdout_path, stderr_path = excluded.stderr_path,
    error = excluded.error
"""

UPDATE_STEP_LOGS = "UPDATE steps SET stdout_path = ?, stderr_path = ? WHERE run_id = ? AND name = ?"

UPDATE_RUN_STATUS = """
UPDATE runs SET status = ?,
                started_at = COALESCE(?, started_at),
                finished_at = ?,
                outputs = COALESCE(?, outputs),
                error = COALESCE(?, error),
                heartbeat_at = ?, lease_expires_at = ?
WHERE id = ? AND epoch = ?
"""

HEARTBEAT = "UPDATE runs SET heartbeat_at = ?, lease_expires_at = ? WHERE id = ? AND epoch = ?"

SELECT_DEFINITION = "SELECT definition FROM runs WHERE id = ?"

SELECT_RUN = """
SELECT id, name, source, status, params, outputs, error, created_at, started_at, finished_at,
       parent_run_id, parent_step, root_run_id, item_index, item, attempt, depth, pid,
       heartbeat_at, log_dir, host, owner, worker
FROM runs"""

SELECT_STEPS = """
SELECT name, position, status, started_at, finished_at, exit_code, output, output_var,
       stdout_path, stderr_path, attempt, error, handler, tolerated
FROM steps WHERE run_id = ? ORDER BY position
"""

SELECT_CHILDREN = """
SELECT id, name, status, parent_step, item_index, item, started_at, finished_at, error
FROM runs WHERE parent_run_id = ? ORDER BY parent_step, COALESCE(item_index, -1), created_at
"""

CHILD_COLUMNS = """
SELECT id, name, status, parent_step, item_index, item, started_at, finished_at, error
FROM runs WHERE parent_run_id = ?"""

COUNT_CHILDREN = """
SELECT parent_step, status, count(*) FROM runs WHERE parent_run_id = ? GROUP BY 1, 2
"""

SELECT_ATTEMPTS = """
SELECT attempt, status, started_at, finished_at, exit_code, stdout_path, stderr_path, error
FROM step_attempts WHERE run_id = ? AND step = ? ORDER BY attempt
"""

# An UPDATE first (the tree in a subquery): a statement that begins with WITH has no row count
# in Python's sqlite3.
REQUEST_STOP = """
UPDATE runs SET stop_requested = 1
WHERE status IN ('queued', 'running') AND id IN (
    WITH RECURSIVE tree(id) AS (
        SELECT id FROM runs WHERE id = ?
        UNION ALL
        SELECT runs.id FROM runs JOIN tree ON runs.parent_run_id = tree.id
    )
    SELECT id FROM tree
)
"""

CLEAR_STOP_REQUEST = "UPDATE runs SET stop_requested = 0 WHERE id = ?"

DECIDE_WAITING_STEP = """
UPDATE steps SET status = ?, output = ?, output_var = ?, error = ?, finished_at = ?
WHERE run_id = ? AND name = ? AND status = 'waiting'
"""

CANCEL_WAITING_RUN = """
UPDATE runs SET status = 'cancelled', finished_at = ?, error = ?, epoch = epoch + 1
WHERE id = ? AND status = 'waiting'
"""

SELECT_STOP_REQUESTS = "SELECT id FROM runs WHERE stop_requested = 1 AND status = 'running'"

SELECT_ACTIVE = """
SELECT id, pid, host, lease_expires_at, root_run_id, epoch, worker, lost_retries, parent_run_id
FROM runs WHERE status IN ('running')
"""

MARK_DEAD_RUN = """
UPDATE runs SET status = 'failed', finished_at = ?, error = ?, epoch = epoch + 1
WHERE id = ? AND status = 'running' AND pid IS NOT DISTINCT FROM ? AND epoch = ?
"""

MARK_DEAD_STEPS = """
UPDATE steps SET status = 'failed', finished_at = ?, error = ?
WHERE run_id = ? AND status = 'running'
"""

RESUME_CHILD = """
UPDATE runs SET status = 'running', attempt = attempt + 1, epoch = epoch + 1, finished_at = NULL,
                error = NULL, stop_requested = 0, pid = ?, host = ?, owner = ?, heartbeat_at = ?,
                lease_expires_at = ?, started_at = ?
WHERE id = ? AND status NOT IN ('running', 'queued')
RETURNING epoch, attempt
"""

BEGIN_RETRY = """
UPDATE runs SET status = 'queued', attempt = attempt + 1, epoch = epoch + 1, finished_at = NULL,
                error = NULL, stop_requested = 0, pid = ?, host = ?, owner = ?, heartbeat_at = ?,
                lease_expires_at = ?, claimed_at = NULL,
                dispatch = 'self', enqueued_at = ?, queue = ?, max_active_runs = ?
WHERE id = ? AND status NOT IN ('running', 'queued')
RETURNING epoch, attempt
"""

ENQUEUE_RUN = """
UPDATE runs SET status = 'queued', queue = ?, max_active_runs = ?, dispatch = ?, enqueued_at = ?,
                selector = ?, lost_retries = ?, priority = ?, trace_parent = ?
WHERE id = ?
"""

SELECT_QUEUE_RUNNING = """
SELECT name, max_active_runs FROM runs
WHERE queue = ? AND status = 'running'
"""

SELECT_QUEUE_WAITING = """
SELECT id, name, max_active_runs, dispatch, selector, priority, enqueued_at FROM runs
WHERE queue = ? AND status = 'queued'
ORDER BY enqueued_at, id
"""

COUNT_WORKFLOW_RUNNING = """
SELECT count(*) FROM runs WHERE name = ? AND status = 'running' AND parent_run_id IS NULL
"""

CLAIM_RUN = """
UPDATE runs SET status = 'running', claimed_at = ?, heartbeat_at = ?, lease_expires_at = ?
WHERE id = ? AND status = 'queued'
"""

MARK_STARTED = """
UPDATE runs SET pid = ?, host = ?, owner = ?, started_at = ?, heartbeat_at = ?,
                lease_expires_at = ?, params = ?, epoch = epoch + 1
WHERE id = ? AND status = 'running' AND (owner IS NULL OR owner = ?)
RETURNING epoch
"""

# A worker's agent takes the run it was sent, if it is still the claim it was sent for.
MARK_STARTED_AT_EPOCH = """
UPDATE runs SET pid = ?, host = ?, owner = ?, started_at = ?, heartbeat_at = ?,
                lease_expires_at = ?, params = ?, epoch = epoch + 1
WHERE id = ? AND status = 'running' AND owner = ? AND epoch = ?
RETURNING epoch
"""

SET_CLAIM_PID = """
UPDATE runs SET pid = ?, host = ?, owner = ? WHERE id = ? AND status = 'running' AND pid IS NULL
"""

STEAL_LEASE = """
UPDATE leases SET owner = ?, epoch = epoch + 1, expires_at = ?
WHERE name = ? AND owner = ?
RETURNING epoch
"""

REQUEUE_STALE_CLAIMS = """
UPDATE runs SET status = 'queued', claimed_at = NULL, owner = NULL, worker = NULL,
                epoch = epoch + 1
WHERE status = 'running' AND pid IS NULL AND dispatch = 'scheduler' AND claimed_at < ?
"""

# A run placed on a worker that is gone before it took the run: back in its queue at once.
REQUEUE_ORPHAN_PLACEMENTS = """
UPDATE runs SET status = 'queued', claimed_at = NULL, owner = NULL, worker = NULL,
                epoch = epoch + 1
WHERE status = 'running' AND pid IS NULL AND worker IS NOT NULL
  AND worker NOT IN (SELECT id FROM workers WHERE heartbeat_at > ? AND stopping = 0)
"""

PLACE_RUN = "UPDATE runs SET worker = ?, owner = ? WHERE id = ? RETURNING epoch"

# A run whose worker was lost, queued again (``retryOnWorkerLost``): a new attempt. Only a
# run that went through a queue (a root run, or a remote child run) goes back to one.
REQUEUE_LOST_RUN = """
UPDATE runs SET status = 'queued', attempt = attempt + 1, epoch = epoch + 1,
                lost_retries = lost_retries - 1, pid = NULL, host = NULL, owner = NULL,
                worker = NULL, claimed_at = NULL, enqueued_at = ?, error = ?
WHERE id = ? AND status = 'running' AND epoch = ? AND queue IS NOT NULL
  AND lost_retries > 0
"""

# A finished remote child run, queued again for its parent's new attempt: a new attempt of
# its own, for the scheduler to place.
REQUEUE_FINISHED = """
UPDATE runs SET status = 'queued', attempt = attempt + 1, epoch = epoch + 1, finished_at = NULL,
                error = NULL, stop_requested = 0, pid = NULL, host = NULL, owner = NULL,
                worker = NULL, heartbeat_at = NULL, lease_expires_at = NULL, claimed_at = NULL,
                dispatch = 'scheduler', enqueued_at = ?, queue = ?, max_active_runs = ?
WHERE id = ? AND status NOT IN ('running', 'queued')
RETURNING attempt
"""

SELECT_LIVE_WORKERS = """
SELECT id, labels, slots FROM workers WHERE heartbeat_at > ? AND stopping = 0 ORDER BY id
"""

COUNT_WORKER_RUNS = """
SELECT worker, count(*) FROM runs
WHERE status = 'running' AND worker IS NOT NULL
GROUP BY worker
"""

UPSERT_WORKER = """
INSERT INTO workers (id, host, pid, labels, slots, version, started_at, heartbeat_at, stopping)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, labels = excluded.labels, slots = excluded.slots,
    version = excluded.version, started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, stopping = 0
"""

BEAT_WORKER = "UPDATE workers SET heartbeat_at = ? WHERE id = ? AND pid = ?"

STOP_WORKER = "UPDATE workers SET stopping = 1 WHERE id = ?"

DELETE_WORKER = "DELETE FROM workers WHERE id = ? AND pid = ?"

SELECT_WORKERS = """
SELECT id, host, pid, labels, slots, version, started_at, heartbeat_at, stopping FROM workers
ORDER BY id
"""

SELECT_WORKER_RUNS = """
SELECT worker, id FROM runs
WHERE status = 'running' AND worker IS NOT NULL
ORDER BY enqueued_at
"""

SELECT_WAITING_SELF = """
SELECT id, pid, host FROM runs WHERE status = 'queued' AND dispatch = 'self'
"""

DEQUEUE_RUN = """
UPDATE runs SET status = 'cancelled', finished_at = ?, error = ?
WHERE id = ? AND status = 'queued'
"""

SELECT_QUEUES = """
SELECT id, name, status, queue, enqueued_at, started_at, max_active_runs, dispatch, pid,
       selector, worker, priority
FROM runs
WHERE status IN ('queued', 'running') AND (parent_run_id IS NULL OR queue IS NOT NULL)
ORDER BY queue, status DESC, enqueued_at, id
"""

SELECT_QUEUES_WITH_WAITING = """
SELECT DISTINCT queue FROM runs WHERE status = 'queued' AND dispatch = 'scheduler'
"""

SELECT_CLAIMED_UNSTARTED = """
SELECT id FROM runs
WHERE status = 'running' AND pid IS NULL AND dispatch = 'scheduler'
  AND (parent_run_id IS NULL OR queue IS NOT NULL)
"""

ACQUIRE_LEASE = """
INSERT INTO leases (name, owner, epoch, expires_at) VALUES (?, ?, 1, ?)
ON CONFLICT (name) DO UPDATE SET
    owner = excluded.owner,
    epoch = CASE WHEN leases.owner = excluded.owner THEN leases.epoch ELSE leases.epoch + 1 END,
    expires_at = excluded.expires_at
WHERE leases.owner = excluded.owner OR leases.expires_at < ?
RETURNING epoch
"""

RELEASE_LEASE = "DELETE FROM leases WHERE name = ? AND owner = ?"

SELECT_LEASE = "SELECT owner, epoch, expires_at FROM leases WHERE name = ?"

SELECT_MARK = "SELECT last_tick FROM schedule_marks WHERE workflow = ?"

UPSERT_MARK = """
INSERT INTO schedule_marks (workflow, last_tick) VALUES (?, ?)
ON CONFLICT (workflow) DO UPDATE SET last_tick = excluded.last_tick
"""

SELECT_RUN_EXISTS = "SELECT 1 FROM runs WHERE id = ?"

COUNT_ACTIVE_OF = """
SELECT count(*) FROM runs
WHERE name = ? AND status IN ('queued', 'running') AND parent_run_id IS NULL
"""

SELECT_SUCCEEDED_SINCE = """
SELECT 1 FROM runs WHERE name = ? AND status = 'succeeded' AND parent_run_id IS NULL
  AND started_at >= ? LIMIT 1
"""

SELECT_QUEUED_SCHEDULED_OF = """
SELECT id FROM runs WHERE name = ? AND status = 'queued' AND dispatch = 'scheduler'
  AND parent_run_id IS NULL
"""

SELECT_EXPIRED_ROOTS = """
SELECT id, log_dir FROM runs
WHERE name = ? AND parent_run_id IS NULL
  AND status NOT IN ('queued', 'running')
  AND (created_at < ? OR id NOT IN (
        SELECT id FROM runs WHERE name = ? AND parent_run_id IS NULL
        ORDER BY created_at DESC LIMIT ?))
"""

_TREE_IDS = """WITH RECURSIVE tree(id) AS (
    SELECT ?
    UNION ALL
    SELECT runs.id FROM runs JOIN tree ON runs.parent_run_id = tree.id
) SELECT id FROM tree"""
SELECT_TREE_LOG_DIRS = f"SELECT DISTINCT log_dir FROM runs WHERE id IN ({_TREE_IDS})"
# the runs that a run or any run below it started without waiting for them (wait: false)
SELECT_STARTED_IN_TREE = (
    f"SELECT run_id FROM run_links WHERE by_run_id IN ({_TREE_IDS}) ORDER BY run_id"
)
# a whole tree in a statement a table (a fan-out of 100,000 items is 100,000 runs)
DELETE_TREE = tuple(
    f"DELETE FROM {table} WHERE {column} IN ({_TREE_IDS})"
    for table, column in (
        ("step_attempts", "run_id"),
        ("log_chunks", "run_id"),
        ("run_links", "run_id"),
        ("steps", "run_id"),
        ("runs", "id"),
    )
)
DELETE_NOT_STARTED = "DELETE FROM runs WHERE id = ? AND status = 'not_started' RETURNING id"
DELETE_STEPS = "DELETE FROM steps WHERE run_id = ?"

# ----------------------------------------------------------------- shipped logs

RUN_AT_EPOCH = "SELECT 1 FROM runs WHERE id = ? AND epoch = ? /*+lock*/"
INSERT_LOG_CHUNK = """
INSERT INTO log_chunks (run_id, path, start, data) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id, path, start) DO NOTHING"""
SELECT_LOG_SIZE = "SELECT MAX(start + length(data)) FROM log_chunks WHERE run_id = ? AND path = ?"
SELECT_LOG_CHUNKS = """
SELECT start, data FROM log_chunks
WHERE run_id = ? AND path = ? AND start < ? AND start + length(data) > ?
ORDER BY start"""

UPSERT_WEBHOOK = """
INSERT INTO webhooks (workflow, token_hash, created_at) VALUES (?, ?, ?)
ON CONFLICT (workflow) DO UPDATE SET token_hash = excluded.token_hash,
                                     created_at = excluded.created_at, last_used_at = NULL
"""
SELECT_WEBHOOKS = "SELECT workflow, token_hash, created_at, last_used_at FROM webhooks"
DELETE_WEBHOOK = "DELETE FROM webhooks WHERE workflow = ? RETURNING workflow"
WEBHOOK_USED = "UPDATE webhooks SET last_used_at = ? WHERE workflow = ?"
INSERT_RUN_LINK = (
    "INSERT INTO run_links (run_id, by_run_id, by_step) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)

INSERT_PAUSED = """
INSERT INTO paused (kind, name, paused_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING name
"""
DELETE_PAUSED = "DELETE FROM paused WHERE kind = ? AND name = ? RETURNING name"
QUEUE_PAUSED = "SELECT 1 FROM paused WHERE kind = 'queue' AND name = ?"
INSERT_SKIP = """
INSERT INTO schedule_skips (workflow, fire_at, reason, recorded_at) VALUES (?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""
PRUNE_SKIPS = """
DELETE FROM schedule_skips WHERE workflow = ? AND fire_at < (
    SELECT MIN(fire_at) FROM (
        SELECT fire_at FROM schedule_skips WHERE workflow = ? ORDER BY fire_at DESC LIMIT ?
    ) AS newest
)
"""
SELECT_ALL_SKIPS = """
SELECT workflow, fire_at, reason FROM (
    SELECT workflow, fire_at, reason,
           row_number() OVER (PARTITION BY workflow ORDER BY fire_at DESC) AS newest
    FROM schedule_skips
) AS ranked WHERE newest <= ? ORDER BY workflow, fire_at DESC
"""
SELECT_SKIPS = (
    "SELECT fire_at, reason FROM schedule_skips WHERE workflow = ? ORDER BY fire_at DESC LIMIT ?"
)
