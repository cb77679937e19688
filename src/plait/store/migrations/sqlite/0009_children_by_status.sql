-- A run's children counted by step and status, and its failed ones found, without reading
-- every child of a fan-out of 100,000 items.
CREATE INDEX runs_by_parent_status ON runs (parent_run_id, parent_step, status, item_index)
