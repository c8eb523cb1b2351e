-- Subscriptions and the digest outbox.

-- One row per e-mail address. `status`: pending (waiting for the confirmation click; gets no
-- digest and is deleted after settings.pending_expire_days), active, unsubscribed, bounced
-- (a permanent 5xx from the SMTP server: never mailed again until the owner subscribes anew).
CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
    frequency       TEXT NOT NULL DEFAULT 'daily' CHECK (frequency IN ('daily', 'weekly')),
    size            INTEGER NOT NULL DEFAULT 10,
    categories      TEXT NOT NULL DEFAULT '[]',   -- JSON list of arXiv categories ("cs.CL", "cs")
    authors         TEXT NOT NULL DEFAULT '[]',   -- JSON list of author names
    topics          TEXT NOT NULL DEFAULT '[]',   -- JSON list of saved searches (free text)
    seeds           TEXT NOT NULL DEFAULT '[]',   -- JSON list of arXiv ids: "papers like these"
    -- Random value inside the confirmation link; cleared when used, so a link works once.
    confirm_nonce   TEXT,
    -- Inside every preferences/unsubscribe link; bumping it voids all links sent so far.
    link_epoch      INTEGER NOT NULL DEFAULT 0,
    -- Papers listed after this day (YYYY-MM-DD) are new to this subscriber.
    last_until      TEXT,
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    unsubscribed_at TEXT,
    bounced_at      TEXT,
    bounce_reason   TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX subscribers_status ON subscribers(status, frequency);

-- Every message is written here before it is sent. The unique (subscriber_id, period)
-- key makes building a digest twice a no-op, and the status column makes sending
-- resumable: pending -> sending -> sent | failed | cancelled.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    subscriber_id   INTEGER REFERENCES subscribers(id) ON DELETE CASCADE,
    period          TEXT NOT NULL,      -- 'daily:2026-07-01', 'weekly:2026-W27', 'confirm:<nonce>'
    kind            TEXT NOT NULL DEFAULT 'digest' CHECK (kind IN ('digest', 'confirm', 'notice')),
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT,
    headers         TEXT NOT NULL DEFAULT '{}',  -- JSON: extra headers (List-Unsubscribe, ...)
    message_id      TEXT NOT NULL UNIQUE,        -- fixed at write time: retries reuse it
    n_items         INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (subscriber_id, period)
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at) WHERE status IN ('pending', 'sending');
