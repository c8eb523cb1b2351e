-- The paper store: one row per paper, keyed by canonical arXiv id (no version).
CREATE TABLE papers (
    id               TEXT PRIMARY KEY,
    title            TEXT NOT NULL,          -- as the source gave it
    title_display    TEXT NOT NULL,          -- folded, entities and TeX accents decoded
    abstract         TEXT NOT NULL DEFAULT '',
    abstract_display TEXT NOT NULL DEFAULT '',
    authors          TEXT NOT NULL DEFAULT '[]',   -- JSON list of display names, in order
    categories       TEXT NOT NULL DEFAULT '[]',   -- JSON list, primary first
    primary_category TEXT,
    comments         TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    license          TEXT,
    submitter        TEXT,
    published        TEXT,                   -- first version (UTC, ISO 8601)
    updated          TEXT,                   -- latest version (UTC, ISO 8601)
    listed           TEXT,                   -- first listing day, YYYY-MM-DD
    latest_version   INTEGER,
    hidden           INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,          -- when paperwire first stored it
    changed_at       TEXT NOT NULL           -- when its content last changed
);
CREATE INDEX papers_published ON papers(published);
CREATE INDEX papers_listed ON papers(listed);
CREATE INDEX papers_doi ON papers(doi) WHERE doi IS NOT NULL;
CREATE INDEX papers_primary ON papers(primary_category);

CREATE TABLE paper_authors (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    PRIMARY KEY (paper_id, position)
) WITHOUT ROWID;
CREATE INDEX paper_authors_name ON paper_authors(name COLLATE NOCASE);

CREATE TABLE paper_categories (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (paper_id, category)
) WITHOUT ROWID;
CREATE INDEX paper_categories_category ON paper_categories(category, paper_id);

CREATE TABLE versions (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    version  INTEGER NOT NULL,
    created  TEXT,
    size     TEXT,
    PRIMARY KEY (paper_id, version)
) WITHOUT ROWID;

-- where each record came from: one row per (paper, source kind)
CREATE TABLE paper_sources (
    paper_id   TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    source     TEXT NOT NULL,         -- snapshot | listing | oai | arxiv_api | hf | smart ...
    source_ref TEXT,                  -- file name or URL it was read from
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (paper_id, source)
) WITHOUT ROWID;

CREATE TABLE links (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    url      TEXT NOT NULL,
    kind     TEXT NOT NULL,           -- github | gitlab | hf_model | hf_dataset | hf_space | project
    origin   TEXT NOT NULL DEFAULT 'text',  -- text (extracted) | hf (reported by Hugging Face)
    PRIMARY KEY (paper_id, url)
) WITHOUT ROWID;
CREATE INDEX links_url ON links(url);

-- Hugging Face daily papers: the day a paper was featured and its upvotes there
CREATE TABLE hf_daily (
    paper_id     TEXT PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
    featured_on  TEXT,
    upvotes      INTEGER,
    submitted_by TEXT,
    github_repo  TEXT,
    github_stars INTEGER,
    project_page TEXT,
    seen_at      TEXT NOT NULL
);
CREATE INDEX hf_daily_featured ON hf_daily(featured_on);

-- checkpoints of resumable jobs (file imports, OAI-PMH harvests)
CREATE TABLE checkpoints (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
