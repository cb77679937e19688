-- Runs, their steps and the attempts of each step.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    source        TEXT,
    status        TEXT NOT NULL,
    params        TEXT NOT NULL DEFAULT '[]',
    outputs       TEXT NOT NULL DEFAULT '{}',
    error         TEXT,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    parent_run_id TEXT,
    parent_step   TEXT,
    root_run_id   TEXT NOT NULL,
    item_index    INTEGER,
    item          TEXT,
    attempt       INTEGER NOT NULL DEFAULT 1,
    depth         INTEGER NOT NULL DEFAULT 0,
    queue         TEXT,
    pid           INTEGER,
    host          TEXT,
    heartbeat_at  REAL,
    epoch         INTEGER NOT NULL DEFAULT 1,
    log_dir       TEXT
);
CREATE INDEX runs_by_name ON runs (name, created_at DESC);
CREATE INDEX runs_by_parent ON runs (parent_run_id, parent_step, item_index);
CREATE INDEX runs_by_root ON runs (root_run_id);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE steps (
    run_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    status       TEXT NOT NULL,
    started_at   REAL,
    finished_at  REAL,
    exit_code    INTEGER,
    output       TEXT,
    output_var   TEXT,
    stdout_path  TEXT,
    stderr_path  TEXT,
    attempt      INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    handler      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE step_attempts (
    run_id       TEXT NOT NULL,
    step         TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status       TEXT NOT NULL,
    started_at   REAL,
    finished_at  REAL,
    exit_code    INTEGER,
    stdout_path  TEXT,
    stderr_path  TEXT,
    error        TEXT,
    PRIMARY KEY (run_id, step, attempt)
) WITHOUT ROWID;
