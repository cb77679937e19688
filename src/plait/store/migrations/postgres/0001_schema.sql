-- The whole schema of the SQLite store's migrations 0001-0006, in PostgreSQL's types.
CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    source         TEXT,
    status         TEXT NOT NULL,
    params         TEXT NOT NULL DEFAULT '[]',
    outputs        TEXT NOT NULL DEFAULT '{}',
    error          TEXT,
    created_at     DOUBLE PRECISION NOT NULL,
    started_at     DOUBLE PRECISION,
    finished_at    DOUBLE PRECISION,
    parent_run_id  TEXT,
    parent_step    TEXT,
    root_run_id    TEXT NOT NULL,
    item_index     INTEGER,
    item           TEXT,
    attempt        INTEGER NOT NULL DEFAULT 1,
    depth          INTEGER NOT NULL DEFAULT 0,
    queue          TEXT,
    pid            INTEGER,
    host           TEXT,
    owner          TEXT,
    heartbeat_at   DOUBLE PRECISION,
    lease_expires_at DOUBLE PRECISION,
    epoch          INTEGER NOT NULL DEFAULT 1,
    log_dir        TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    max_active_runs INTEGER NOT NULL DEFAULT 1,
    dispatch       TEXT NOT NULL DEFAULT 'self',
    enqueued_at    DOUBLE PRECISION,
    claimed_at     DOUBLE PRECISION,
    definition     TEXT
);
CREATE INDEX runs_by_name ON runs (name, created_at DESC);
CREATE INDEX runs_by_parent ON runs (parent_run_id, parent_step, item_index);
CREATE INDEX runs_by_root ON runs (root_run_id);
CREATE INDEX runs_by_status ON runs (status);
CREATE INDEX runs_by_queue ON runs (queue, status, enqueued_at);
CREATE INDEX runs_by_created ON runs (created_at DESC);
CREATE INDEX runs_by_finished ON runs (finished_at);

CREATE TABLE steps (
    run_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    status       TEXT NOT NULL,
    started_at   DOUBLE PRECISION,
    finished_at  DOUBLE PRECISION,
    exit_code    INTEGER,
    output       TEXT,
    output_var   TEXT,
    stdout_path  TEXT,
    stderr_path  TEXT,
    attempt      INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    handler      INTEGER NOT NULL DEFAULT 0,
    tolerated    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE step_attempts (
    run_id       TEXT NOT NULL,
    step         TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status       TEXT NOT NULL,
    started_at   DOUBLE PRECISION,
    finished_at  DOUBLE PRECISION,
    exit_code    INTEGER,
    stdout_path  TEXT,
    stderr_path  TEXT,
    error        TEXT,
    PRIMARY KEY (run_id, step, attempt)
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE schedule_marks (
    workflow  TEXT PRIMARY KEY,
    last_tick DOUBLE PRECISION NOT NULL
);

-- "Something changed": every committed change of runs or steps notifies the channel
-- `plait_changes` (the live-status streams listen to it).
CREATE FUNCTION plait_notify_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('plait_changes', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER runs_changed AFTER INSERT OR UPDATE OR DELETE ON runs
    FOR EACH STATEMENT EXECUTE FUNCTION plait_notify_change();
CREATE TRIGGER steps_changed AFTER INSERT OR UPDATE OR DELETE ON steps
    FOR EACH STATEMENT EXECUTE FUNCTION plait_notify_change();
