-- Rate-limit counters shared by every worker process and host (paperwire.store.shared_state):
-- one row per (bucket, fixed window); a bucket is "<limit name>:<verified user or client
-- address>". A hit is one atomic upsert; the limit is checked over a sliding window estimated
-- from this window's count and the previous one's. Rows are deleted once past expires_at
-- (unix seconds).
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,   -- unix seconds, a multiple of the window length
    n            INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;
CREATE INDEX rate_limits_expiry ON rate_limits(expires_at);
