-- The trace context (W3C traceparent) of the step attempt that queued a child run for a
-- worker: the run's spans join its parent's trace on the worker.
ALTER TABLE runs ADD COLUMN trace_parent TEXT
