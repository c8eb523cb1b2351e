-- Sessions kept on the server: the cookie holds a random id and only its SHA-256 is stored
-- here, so signing out deletes the row and a copied cookie stops working at once (a signed
-- cookie alone stays valid until it expires).
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- API tokens may carry an expiry (NULL: until revoked)
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
CREATE INDEX api_tokens_user ON api_tokens(user_id);
