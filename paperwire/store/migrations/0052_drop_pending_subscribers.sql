-- The front-page form once kept addresses in pending_subscribers while the digest
-- subscriptions were not installed. They are installed, so that table goes; any address left in
-- it becomes an unconfirmed subscriber. Nobody ever confirmed those addresses, so they get no
-- mail: whoever subscribes again gets a confirmation as usual, and expire_unconfirmed removes
-- the rest after settings.pending_expire_days, counted from this migration.
INSERT OR IGNORE INTO subscribers(email, status, created_at, updated_at)
SELECT email, 'pending', created_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM pending_subscribers;
DROP TABLE pending_subscribers;
