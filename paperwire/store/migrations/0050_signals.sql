-- Time-stamped observations per paper that feed trending (see docs/ranking.md).
-- kind: 'github_stars' (value = stargazers of repo `ref` at observed_at), 'view' (value = count),
-- 'hf_upvotes' (value = HF daily upvote total at observed_at). Local upvotes live in the
-- accounts' `upvotes` table and are read from there, not copied, so they cannot disagree.
CREATE TABLE signals (
    id          INTEGER PRIMARY KEY,
    paper_id    TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL DEFAULT '',   -- e.g. 'owner/name' of a GitHub repository
    value       REAL NOT NULL,
    observed_at TEXT NOT NULL               -- UTC, ISO 8601 'YYYY-MM-DDTHH:MM:SSZ'
);
CREATE INDEX signals_kind_time ON signals(kind, observed_at);
CREATE INDEX signals_paper ON signals(paper_id, kind, ref, observed_at);

-- One row per GitHub repository we poll: conditional-request state and outcome of the last poll.
CREATE TABLE github_repos (
    repo         TEXT PRIMARY KEY,          -- 'owner/name', lower case
    full_name    TEXT,                      -- as GitHub spells it (after renames/redirects)
    etag         TEXT,                      -- for If-None-Match; a 304 costs no rate limit
    stars        INTEGER,
    status       TEXT NOT NULL DEFAULT 'new',  -- new | ok | missing | error
    http_status  INTEGER,
    checked_at   TEXT,
    changed_at   TEXT
);
CREATE INDEX github_repos_checked ON github_repos(checked_at);
