-- What steps wrote to their log files, shipped by the agent that ran them, so that a server on
-- another host shows live tails and full logs. One row per piece of a file, by byte offset.
CREATE TABLE log_chunks (
    run_id TEXT NOT NULL,
    path   TEXT NOT NULL,
    start  BIGINT NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (run_id, path, start)
);
