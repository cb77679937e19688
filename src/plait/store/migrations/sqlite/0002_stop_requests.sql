-- A stop asked for by another process (CLI, API): the run's agent polls it.
ALTER TABLE runs ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
