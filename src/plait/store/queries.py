"""Every SQL statement of the SQLite store, by name."""

from __future__ import annotations

INSERT_RUN = """
INSERT INTO runs (id, name, source, status, params, created_at, started_at, parent_run_id,
                  parent_step, root_run_id, item_index, item, attempt, depth, pid, host,
                  heartbeat_at, log_dir)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

INSERT_STEP = """
INSERT INTO steps (run_id, name, position, status, started_at, finished_at, exit_code, output,
                   output_var, stdout_path, stderr_path, attempt, error, handler)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

UPSERT_STEP = INSERT_STEP.replace("INSERT INTO", "INSERT OR REPLACE INTO")

UPDATE_STEP = """
UPDATE steps SET status = ?, started_at = ?, finished_at = ?, exit_code = ?, output = ?,
                 output_var = ?, stdout_path = ?, stderr_path = ?, attempt = ?, error = ?
WHERE run_id = ? AND name = ?
  AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND epoch = ?)
"""

INSERT_ATTEMPT = """
INSERT OR REPLACE INTO step_attempts (run_id, step, attempt, status, started_at, finished_at,
                                      exit_code, stdout_path, stderr_path, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

UPDATE_RUN_STATUS = """
UPDATE runs SET status = ?,
                started_at = COALESCE(?, started_at),
                finished_at = ?,
                outputs = COALESCE(?, outputs),
                error = COALESCE(?, error),
                heartbeat_at = ?
WHERE id = ? AND epoch = ?
"""

HEARTBEAT = "UPDATE runs SET heartbeat_at = ? WHERE id = ?"

SELECT_RUN = """
SELECT id, name, source, status, params, outputs, error, created_at, started_at, finished_at,
       parent_run_id, parent_step, root_run_id, item_index, item, attempt, depth, pid,
       heartbeat_at, log_dir
FROM runs"""

SELECT_STEPS = """
SELECT name, position, status, started_at, finished_at, exit_code, output, output_var,
       stdout_path, stderr_path, attempt, error, handler
FROM steps WHERE run_id = ? ORDER BY position
"""

SELECT_CHILDREN = """
SELECT id, name, status, parent_step, item_index, item, started_at, finished_at, error
FROM runs WHERE parent_run_id = ? ORDER BY created_at, item_index
"""

SELECT_ATTEMPTS = """
SELECT attempt, status, started_at, finished_at, exit_code, stdout_path, stderr_path, error
FROM step_attempts WHERE run_id = ? AND step = ? ORDER BY attempt
"""

REQUEST_STOP = """
WITH RECURSIVE tree(id) AS (
    SELECT id FROM runs WHERE id = ?
    UNION ALL
    SELECT runs.id FROM runs JOIN tree ON runs.parent_run_id = tree.id
)
UPDATE runs SET stop_requested = 1
WHERE id IN (SELECT id FROM tree) AND status IN ('queued', 'running')
"""

SELECT_STOP_REQUESTS = "SELECT id FROM runs WHERE stop_requested = 1 AND status = 'running'"

SELECT_ACTIVE = """
SELECT id, pid, host, heartbeat_at, root_run_id FROM runs WHERE status IN ('running')
"""

MARK_DEAD_RUN = """
UPDATE runs SET status = 'failed', finished_at = ?, error = ?, epoch = epoch + 1
WHERE id = ? AND status = 'running'
"""

MARK_DEAD_STEPS = """
UPDATE steps SET status = 'failed', finished_at = ?, error = ?
WHERE run_id = ? AND status = 'running'
"""

BEGIN_RETRY = """
UPDATE runs SET status = 'queued', attempt = attempt + 1, epoch = epoch + 1, finished_at = NULL,
                error = NULL, stop_requested = 0, pid = ?, heartbeat_at = ?, claimed_at = NULL,
                dispatch = 'self', enqueued_at = ?, queue = ?, max_active_runs = ?
WHERE id = ? AND status NOT IN ('running', 'queued')
RETURNING epoch, attempt
"""

ENQUEUE_RUN = """
UPDATE runs SET status = 'queued', queue = ?, max_active_runs = ?, dispatch = ?, enqueued_at = ?,
                pid = ?
WHERE id = ?
"""

SELECT_QUEUE_RUNNING = """
SELECT name, max_active_runs FROM runs
WHERE queue = ? AND status = 'running' AND parent_run_id IS NULL
"""

SELECT_QUEUE_WAITING = """
SELECT id, name, max_active_runs, dispatch FROM runs
WHERE queue = ? AND status = 'queued' AND parent_run_id IS NULL
ORDER BY enqueued_at, id
"""

COUNT_WORKFLOW_RUNNING = """
SELECT count(*) FROM runs WHERE name = ? AND status = 'running' AND parent_run_id IS NULL
"""

CLAIM_RUN = """
UPDATE runs SET status = 'running', claimed_at = ?, heartbeat_at = ?
WHERE id = ? AND status = 'queued'
"""

MARK_STARTED = """
UPDATE runs SET pid = ?, host = ?, started_at = ?, heartbeat_at = ?, params = ?, epoch = epoch + 1
WHERE id = ? AND status = 'running' AND (pid IS NULL OR pid = ?)
RETURNING epoch
"""

REQUEUE_STALE_CLAIMS = """
UPDATE runs SET status = 'queued', claimed_at = NULL
WHERE status = 'running' AND pid IS NULL AND dispatch = 'scheduler' AND claimed_at < ?
"""

SELECT_WAITING_SELF = """
SELECT id, pid, host FROM runs WHERE status = 'queued' AND dispatch = 'self'
"""

DEQUEUE_RUN = """
UPDATE runs SET status = 'cancelled', finished_at = ?, error = ?
WHERE id = ? AND status = 'queued'
"""

SELECT_QUEUES = """
SELECT id, name, status, queue, enqueued_at, started_at, max_active_runs, dispatch, pid
FROM runs
WHERE status IN ('queued', 'running') AND parent_run_id IS NULL
ORDER BY queue, status DESC, enqueued_at, id
"""

SELECT_QUEUES_WITH_WAITING = """
SELECT DISTINCT queue FROM runs WHERE status = 'queued' AND dispatch = 'scheduler'
"""

SELECT_CLAIMED_UNSTARTED = """
SELECT id FROM runs
WHERE status = 'running' AND pid IS NULL AND dispatch = 'scheduler' AND parent_run_id IS NULL
"""
