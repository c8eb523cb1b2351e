-- Reader profiles for recommendations (migrations/0051_profiles.sql).
CREATE TABLE profile_items (
    profile_key TEXT NOT NULL,
    paper_id    TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('like', 'save', 'import', 'dismiss')),
    source      TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (profile_key, paper_id, kind)
);
CREATE INDEX profile_items_paper ON profile_items(paper_id);

CREATE TABLE profile_follows (
    profile_key TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('category', 'author')),
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (profile_key, kind, value)
);

CREATE TABLE profile_feed_tokens (
    profile_key TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
