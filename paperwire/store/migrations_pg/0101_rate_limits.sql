-- Rate-limit counters shared by every app host (paperwire.store.shared_state): one row per
-- (bucket, fixed window); a bucket is "<limit name>:<verified user or client address>". A hit
-- is one atomic upsert; the limit is checked over a sliding window estimated from this
-- window's count and the previous one's. Rows are deleted once past expires_at (unix seconds).
-- UNLOGGED: no WAL per hit and nothing sent to replicas; after a crash the table starts empty,
-- which only forgives the current minute's hits.
CREATE UNLOGGED TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,    -- unix seconds, a multiple of the window length
    n            INTEGER NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limits_expiry ON rate_limits(expires_at);
