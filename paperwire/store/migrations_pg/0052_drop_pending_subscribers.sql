-- pending_subscribers' addresses become unconfirmed subscribers (migrations/0052).
INSERT INTO subscribers(email, status, created_at, updated_at)
SELECT email, 'pending', created_at, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM pending_subscribers
ON CONFLICT DO NOTHING;
DROP TABLE pending_subscribers;
