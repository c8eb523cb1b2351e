-- Reader profiles for recommendations. A profile is keyed by a string so it does not
-- depend on the accounts' or the subscriptions' schemas: 'user:<users.id>' for accounts, 'sub:<subscriber id>'
-- for digest subscribers. Positives: like (thumbs up), save, import (library file);
-- negatives: dismiss ("not interested"). A user's upvotes are read from `upvotes` directly.
CREATE TABLE profile_items (
    profile_key TEXT NOT NULL,
    paper_id    TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('like', 'save', 'import', 'dismiss')),
    source      TEXT,                  -- e.g. the imported file's name, 'digest', 'web'
    created_at  TEXT NOT NULL,
    PRIMARY KEY (profile_key, paper_id, kind)
) WITHOUT ROWID;
CREATE INDEX profile_items_paper ON profile_items(paper_id);

-- Explicit interests: categories and authors a reader follows ("you follow cs.CL").
CREATE TABLE profile_follows (
    profile_key TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('category', 'author')),
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (profile_key, kind, value)
) WITHOUT ROWID;

-- Private feed URLs: only a SHA-256 of the token is kept; a new token replaces the old one.
CREATE TABLE profile_feed_tokens (
    profile_key TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;
