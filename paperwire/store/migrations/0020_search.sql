-- Search indexes. Everything here is derived from `papers` and can be rebuilt
-- from it (paperwire.store.search_index.rebuild_lexical); the store stays the source of truth.

-- A stable integer id per paper. FTS5 and the vector index key rows by integer; the
-- implicit rowid of `papers` (TEXT primary key) may be renumbered by VACUUM, so we keep
-- our own. `title_key` (ASCII-lowercased display title without a trailing period) serves
-- the exact-title pin; `dirty` marks papers whose text changed since they were embedded.
CREATE TABLE search_docs (
    docid     INTEGER PRIMARY KEY,
    paper_id  TEXT NOT NULL UNIQUE,
    title_key TEXT NOT NULL DEFAULT '',
    dirty     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX search_docs_title_key ON search_docs(title_key);
CREATE INDEX search_docs_dirty ON search_docs(dirty) WHERE dirty = 1;

-- What FTS5 reads back for snippets/highlights and for 'rebuild': the display text.
CREATE VIEW search_content AS
    SELECT d.docid AS docid, p.title_display AS title, p.abstract_display AS abstract, p.authors AS authors
    FROM search_docs d JOIN papers p ON p.id = d.paper_id;

-- External-content FTS5: the text lives once, in `papers`. Porter stemming on top of
-- unicode61 (diacritics folded): the reference figures show stemming (+ query stopwords)
-- clearly improves nDCG@10 on CACM. Columns: title, abstract, authors (JSON list; the
-- tokenizer drops the brackets and quotes).
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors,
    content='search_content', content_rowid='docid',
    tokenize='porter unicode61 remove_diacritics 2'
);

INSERT INTO search_docs(paper_id, title_key)
    SELECT id, lower(rtrim(trim(title_display), '.')) FROM papers ORDER BY rowid;
INSERT INTO papers_fts(papers_fts) VALUES ('rebuild');

-- Kept in sync by triggers so that every write path (ingest, web, tests) keeps the index
-- current: a new paper is findable the moment its transaction commits, no rebuild.
CREATE TRIGGER search_papers_ai AFTER INSERT ON papers BEGIN
    INSERT INTO search_docs(paper_id, title_key, dirty)
        VALUES (NEW.id, lower(rtrim(trim(NEW.title_display), '.')), 1)
        ON CONFLICT(paper_id) DO UPDATE SET title_key = excluded.title_key, dirty = 1;
    INSERT INTO papers_fts(rowid, title, abstract, authors)
        SELECT docid, NEW.title_display, NEW.abstract_display, NEW.authors FROM search_docs WHERE paper_id = NEW.id;
END;

CREATE TRIGGER search_papers_au AFTER UPDATE OF title_display, abstract_display, authors ON papers
WHEN OLD.title_display IS NOT NEW.title_display OR OLD.abstract_display IS NOT NEW.abstract_display
     OR OLD.authors IS NOT NEW.authors
BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        SELECT 'delete', docid, OLD.title_display, OLD.abstract_display, OLD.authors FROM search_docs WHERE paper_id = OLD.id;
    UPDATE search_docs SET title_key = lower(rtrim(trim(NEW.title_display), '.')), dirty = 1 WHERE paper_id = NEW.id;
    INSERT INTO papers_fts(rowid, title, abstract, authors)
        SELECT docid, NEW.title_display, NEW.abstract_display, NEW.authors FROM search_docs WHERE paper_id = NEW.id;
END;

CREATE TRIGGER search_papers_ad AFTER DELETE ON papers BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
        SELECT 'delete', docid, OLD.title_display, OLD.abstract_display, OLD.authors FROM search_docs WHERE paper_id = OLD.id;
    DELETE FROM paper_vectors WHERE docid IN (SELECT docid FROM search_docs WHERE paper_id = OLD.id);
    DELETE FROM search_docs WHERE paper_id = OLD.id;
END;

-- Paper embeddings, one per (model, paper). `text_hash` is the hash of the exact text that
-- was embedded: a paper is re-embedded only when that text changes. float16 little-endian
-- (half the disk of float32; cosine error ~1e-4). `seq` grows with every write so a running
-- server can pick up vectors another process (`paperwire index`) added or replaced.
CREATE TABLE paper_vectors (
    model     TEXT NOT NULL,
    docid     INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    vector    BLOB NOT NULL,
    PRIMARY KEY (model, docid)
) WITHOUT ROWID;
CREATE INDEX paper_vectors_seq ON paper_vectors(model, seq);
