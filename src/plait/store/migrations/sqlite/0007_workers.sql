-- Workers on other machines (with the PostgreSQL store): who is there, and which runs go to
-- which of them. The SQLite store has no workers; the columns keep one schema for both.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    labels       TEXT NOT NULL DEFAULT '{}',
    slots        INTEGER NOT NULL,
    version      TEXT NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    stopping     INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE runs ADD COLUMN selector TEXT;
ALTER TABLE runs ADD COLUMN worker TEXT;
ALTER TABLE runs ADD COLUMN lost_retries INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_by_worker ON runs (worker, status)
