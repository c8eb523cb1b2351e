-- Jobs that must run once however many hosts run them (paperwire.store.shared_state).
--
-- job_leases: the SQLite leader lock's table; on PostgreSQL the leader lock is an advisory
-- lock held by the running process's connection (freed when that process dies), so this table
-- stays empty here and exists so both engines have the same schema.
CREATE TABLE job_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- job_runs: one row per job and day: 'done' means the day's run finished and no host runs it
-- again; 'running' and 'failed' are taken over by the next run that holds the leader lock.
CREATE TABLE job_runs (
    name        TEXT NOT NULL,
    day         TEXT NOT NULL,        -- YYYY-MM-DD (UTC)
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    holder      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    result      TEXT,                 -- JSON: what each stage did
    PRIMARY KEY (name, day)
);
