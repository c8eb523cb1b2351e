-- Accounts and the community layer of the site: users, upvotes, submissions,
-- comments, API tokens. Owned by paperwire/store/users.py.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,              -- argon2id
    is_admin      INTEGER NOT NULL DEFAULT 0,
    session_epoch INTEGER NOT NULL DEFAULT 0, -- bumped to void every signed session cookie
    created_at    TEXT NOT NULL
);

-- one row per (user, paper): the primary key is what makes "once per user" hold under races
CREATE TABLE upvotes (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, paper_id)
) WITHOUT ROWID;
CREATE INDEX upvotes_paper ON upvotes(paper_id);

-- denormalised counters so listing pages sort by votes without counting rows;
-- kept exact by the triggers below (same transaction as the vote itself)
CREATE TABLE paper_counts (
    paper_id TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
    upvotes  INTEGER NOT NULL DEFAULT 0,
    comments INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TRIGGER upvotes_ins AFTER INSERT ON upvotes BEGIN
    INSERT INTO paper_counts(paper_id, upvotes) VALUES (NEW.paper_id, 1)
        ON CONFLICT(paper_id) DO UPDATE SET upvotes = upvotes + 1;
END;
CREATE TRIGGER upvotes_del AFTER DELETE ON upvotes BEGIN
    UPDATE paper_counts SET upvotes = upvotes - 1 WHERE paper_id = OLD.paper_id;
END;

-- a paper put on a day's list by a user ("submitted to daily papers")
CREATE TABLE submissions (
    paper_id   TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day        TEXT NOT NULL,                 -- YYYY-MM-DD (UTC) of the list it joined
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX submissions_day ON submissions(day);
CREATE INDEX submissions_user ON submissions(user_id, created_at);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body       TEXT NOT NULL,                 -- as typed; rendered escaped (markdown-lite)
    hidden     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_paper ON comments(paper_id, id);
CREATE INDEX comments_user ON comments(user_id);

CREATE TRIGGER comments_ins AFTER INSERT ON comments WHEN NEW.hidden = 0 BEGIN
    INSERT INTO paper_counts(paper_id, comments) VALUES (NEW.paper_id, 1)
        ON CONFLICT(paper_id) DO UPDATE SET comments = comments + 1;
END;
CREATE TRIGGER comments_hide AFTER UPDATE OF hidden ON comments WHEN NEW.hidden != OLD.hidden BEGIN
    INSERT INTO paper_counts(paper_id, comments) VALUES (NEW.paper_id, 0)
        ON CONFLICT(paper_id) DO NOTHING;
    UPDATE paper_counts SET comments = comments + (CASE WHEN NEW.hidden THEN -1 ELSE 1 END)
        WHERE paper_id = NEW.paper_id;
END;

-- API tokens: only a SHA-256 of the token is kept
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    last_used  TEXT
);

-- addresses left in the front-page form while the digest subscriptions are not installed
CREATE TABLE pending_subscribers (
    email      TEXT PRIMARY KEY COLLATE NOCASE,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
