-- Jobs that must run once however many hosts run them (paperwire.store.shared_state).
--
-- job_leases: who holds a job's leader lock on SQLite (PostgreSQL uses an advisory lock held
-- by the running process's connection instead). holder is "host:pid:process start:run"; a
-- lease is taken over when it ran out or its holder process is gone.
CREATE TABLE job_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) WITHOUT ROWID;

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
) WITHOUT ROWID;
