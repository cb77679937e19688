-- Paused schedules and queues (kept across restarts), and the fire times a schedule did not
-- run, with the reason (paused, a run still active, missed while no scheduler ran ...).
CREATE TABLE paused (
    kind      TEXT NOT NULL,
    name      TEXT NOT NULL,
    paused_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE schedule_skips (
    workflow    TEXT NOT NULL,
    fire_at     DOUBLE PRECISION NOT NULL,
    reason      TEXT NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workflow, fire_at)
);
