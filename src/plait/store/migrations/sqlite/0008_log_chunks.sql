-- What steps wrote to their log files, as the PostgreSQL store ships them for readers on other
-- hosts. The SQLite store's readers share the machine and read the files; the table keeps one
-- schema for both.
CREATE TABLE log_chunks (
    run_id TEXT NOT NULL,
    path   TEXT NOT NULL,
    start  INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (run_id, path, start)
)
