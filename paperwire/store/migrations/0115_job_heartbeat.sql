-- When a running day's job last said it is still at work (paperwire.store.shared_state.heartbeats).
-- Holding the leader lock does not prove the previous holder stopped (a PostgreSQL leader whose
-- lock connection dropped works on until it notices): a new leader takes a 'running' day over
-- only once this has gone quiet, or the holder's process is gone.
ALTER TABLE job_runs ADD COLUMN heartbeat_at TEXT;
