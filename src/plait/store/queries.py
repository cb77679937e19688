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
UPDATE runs SET status = 'running', attempt = attempt + 1, epoch = epoch + 1, finished_at = NULL,
                error = NULL, stop_requested = 0, pid = ?, heartbeat_at = ?
WHERE id = ? AND status NOT IN ('running', 'queued')
RETURNING epoch, attempt
"""
