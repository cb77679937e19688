-- Each run's agent is named (owner) and holds the run under a lease that heartbeats renew;
-- a root run keeps its workflow files' texts (definition, JSON {path: text}).
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at REAL;
ALTER TABLE runs ADD COLUMN definition TEXT;
UPDATE runs SET lease_expires_at = heartbeat_at + 30 WHERE heartbeat_at IS NOT NULL;
UPDATE runs SET owner = host || ':' || pid WHERE pid IS NOT NULL AND host IS NOT NULL
