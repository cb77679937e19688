-- A run started by a step of another run that did not wait for it (`wait: false`): a root
-- run of its own, linked to the run and step that started it.
CREATE TABLE run_links (
    run_id        TEXT PRIMARY KEY,
    by_run_id     TEXT NOT NULL,
    by_step       TEXT NOT NULL
);
CREATE INDEX run_links_by_run ON run_links (by_run_id);
