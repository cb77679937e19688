-- The webhook of a workflow: other systems start its runs with a token of its own, kept only
-- as its SHA-256 (the token is shown once, when it is made).
CREATE TABLE webhooks (
    workflow     TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    last_used_at DOUBLE PRECISION
);
