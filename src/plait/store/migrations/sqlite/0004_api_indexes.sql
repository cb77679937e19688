-- Indexes for the API: the newest runs first, and the runs that finished since a moment
-- (the live-status stream asks every 0.3 s).
CREATE INDEX runs_by_created ON runs (created_at DESC);
CREATE INDEX runs_by_finished ON runs (finished_at)
