-- Queues: a root run waits as `queued` until its queue and its workflow have room.
ALTER TABLE runs ADD COLUMN max_active_runs INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN dispatch TEXT NOT NULL DEFAULT 'self';
ALTER TABLE runs ADD COLUMN enqueued_at REAL;
ALTER TABLE runs ADD COLUMN claimed_at REAL;
CREATE INDEX runs_by_queue ON runs (queue, status, enqueued_at);

-- Leases: one holder at a time (the active scheduler), renewed before it expires.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    expires_at REAL NOT NULL
);

-- The last time the scheduler looked at each workflow's schedule (for catch-up).
CREATE TABLE schedule_marks (
    workflow  TEXT PRIMARY KEY,
    last_tick REAL NOT NULL
);
