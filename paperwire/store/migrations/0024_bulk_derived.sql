-- Bulk imports, second step. Besides its FTS5 entry (0023), a new paper costs the
-- writer its search document (search_docs, with three indexes) and its author and category
-- rows (a NOCASE index on names): about two thirds of storing it. All of them are derived
-- from the papers row itself (title_display; the authors and categories JSON lists), so a
-- bulk import stores the papers rows (with versions, links and sources) and writes the
-- derived rows afterwards, set-based (json_each), one papers rowid range per transaction:
-- paperwire.store.bulk.catch_up(). While the row below exists, papers with
-- rowid >= from_rowid may lack their derived rows, and the insert trigger leaves their
-- search document to the catch-up (which also puts it in the FTS5 deferral of 0023).
-- Without the row the triggers behave exactly as in 0023.
CREATE TABLE papers_derived_deferred (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    from_rowid INTEGER NOT NULL
);

DROP TRIGGER search_papers_ai;
CREATE TRIGGER search_papers_ai AFTER INSERT ON papers
WHEN NOT EXISTS (SELECT 1 FROM papers_derived_deferred WHERE NEW.rowid >= from_rowid)
BEGIN
    INSERT INTO search_docs(paper_id, title_key, dirty)
        VALUES (NEW.id, lower(rtrim(trim(NEW.title_display), '.')), 1)
        ON CONFLICT(paper_id) DO UPDATE SET title_key = excluded.title_key, dirty = 1;
    INSERT INTO papers_fts(rowid, title, abstract, authors)
        SELECT docid, NEW.title_display, NEW.abstract_display, NEW.authors FROM search_docs d
        WHERE d.paper_id = NEW.id AND NOT EXISTS (SELECT 1 FROM search_fts_deferred f WHERE d.docid >= f.from_docid);
END;
