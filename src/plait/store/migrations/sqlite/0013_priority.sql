-- A run's priority in its queue: higher first, first come first served within a priority,
-- raised the longer it waits (see queue.admission).
ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
