-- A failed step whose failure continueOn tolerated (the run went on past it).
ALTER TABLE steps ADD COLUMN tolerated INTEGER NOT NULL DEFAULT 0;
